// Package ui is swarmdeck's terminal console, on tview and tcell: a header
// that tells the cluster at a glance, live views of nodes, containers,
// networks and events, a launch form that previews placements as you
// type, and failure drills on simulated clusters.
//
// Pipeline: a background goroutine reads the backend (never the UI
// goroutine) at most ten times a second when something changed, formats
// every row into a new immutable state, and hands it to the UI goroutine
// with QueueUpdateDraw, which only swaps pointers. Tables are virtual
// (tview.TableContent): drawing touches only the visible rows.
//
// Concurrency: primitives are touched only on the UI goroutine. Input
// handlers never call the network: actions run in goroutines that report
// back with QueueUpdateDraw. The console's own goroutines stop before the
// application does.
package ui
