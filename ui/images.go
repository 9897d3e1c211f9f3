package ui

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/pkg/jsonmessage"
	units "github.com/docker/go-units"
	"github.com/rivo/tview"

	"swarmdeck/backend"
	"swarmdeck/model"
)

// puller is a Backend that pulls images onto nodes (the manager of real
// or simulated engines).
type puller interface {
	Pull(ctx context.Context, ref string, opts image.PullOptions, addrs []string,
		progress func(node string, m jsonmessage.JSONMessage)) (map[string]error, error)
}

// askPull asks for the image to pull (P on the nodes view): onto the
// marked nodes, or every healthy node when none is marked.
func (a *App) askPull() {
	if _, ok := a.b.(puller); !ok {
		a.say("this cluster cannot pull images", true)
		return
	}
	c := a.contents[viewNodes]
	var addrs, names []string
	for _, i := range c.view {
		if k := c.rows.at(i).key; c.marked[k] {
			if n := a.st.byAddr[k]; n != nil {
				addrs, names = append(addrs, k), append(names, cutName(n.Name))
			}
		}
	}
	a.askPullOnto(addrs, strings.Join(names, ", "))
}

// askPullOnto asks for the image to pull onto the nodes at addrs (named
// where), or every healthy node when addrs is empty.
func (a *App) askPullOnto(addrs []string, where string) {
	if len(addrs) == 0 {
		where = "every healthy node"
	}
	a.ask("pull onto "+where+": ", "", func(ref string) {
		ref = strings.TrimSpace(ref)
		if ref == "" {
			return
		}
		if _, err := backend.ParseRef(ref); err != nil {
			a.say(err.Error(), true)
			return
		}
		a.pull(ref, addrs, where)
	})
}

// pull runs a pull in the background and shows its progress, node by
// node, in a page that follows it until it is closed (closing it does not
// stop the pull). The page is redrawn at most every refreshEvery from a
// snapshot made off the UI goroutine.
func (a *App) pull(ref string, addrs []string, where string) {
	tv := a.page("pull", "Pull "+ref+" onto "+where+" (Esc back)", "starting…")
	ctx, stop := context.WithCancel(a.ctx)
	pp := newPullProgress()
	a.onClose["pull"] = stop // the page stops following; the pull goes on
	p := a.b.(puller)
	th := a.th
	a.goRun(func(base context.Context) {
		results := make(chan map[string]error, 1)
		errc := make(chan error, 1)
		go func() {
			res, err := p.Pull(base, ref, image.PullOptions{}, addrs, pp.add)
			results <- res
			errc <- err
		}()
		tick := time.NewTicker(refreshEvery)
		defer tick.Stop()
		for {
			select {
			case res := <-results:
				err := <-errc
				text, summary, bad := pp.render(th, res, err)
				a.update(func() {
					if ctx.Err() == nil {
						tv.SetText(text)
					}
					a.say("pull "+ref+": "+summary, bad)
				})
				return
			case <-tick.C:
				if ctx.Err() != nil {
					continue // the page is closed: only the end is said
				}
				text, _, _ := pp.render(th, nil, nil)
				a.update(func() {
					if ctx.Err() == nil {
						tv.SetText(text)
					}
				})
			}
		}
	})
}

// pullProgress is what each node's engine said of a pull so far.
type pullProgress struct {
	mu    sync.Mutex
	began time.Time
	nodes map[string]*nodePull
}

type nodePull struct {
	layers []string          // layer IDs in the order they came
	status map[string]string // layer ID → its latest step
	last   string            // the latest line, with its progress
}

func newPullProgress() *pullProgress {
	return &pullProgress{began: time.Now(), nodes: map[string]*nodePull{}}
}

// add records one message of a node's engine (called from the pull's
// goroutines).
func (p *pullProgress) add(node string, m jsonmessage.JSONMessage) {
	p.mu.Lock()
	defer p.mu.Unlock()
	np := p.nodes[node]
	if np == nil {
		np = &nodePull{status: map[string]string{}}
		p.nodes[node] = np
	}
	line := m.Status
	if m.Progress != nil && m.Progress.Total > 0 {
		line += fmt.Sprintf(" %s/%s", units.HumanSize(float64(m.Progress.Current)), units.HumanSize(float64(m.Progress.Total)))
	}
	if m.ID != "" && isLayerStep(m.Status) {
		if _, seen := np.status[m.ID]; !seen {
			np.layers = append(np.layers, m.ID)
		}
		np.status[m.ID] = m.Status
		line = m.ID + ": " + line
	}
	np.last = line
}

// isLayerStep reports a message about one layer (its ID is the layer's),
// as opposed to "Pulling from …", whose ID is the tag.
func isLayerStep(status string) bool {
	return !strings.HasPrefix(status, "Pulling from ")
}

// render is the page's text: one line per node with its layers done and
// its latest step, or its result once the pull is over (res, err set).
// It also gives a one-line summary for the status line.
func (p *pullProgress) render(th theme, res map[string]error, err error) (text, summary string, bad bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var sb strings.Builder
	ok, badTag, dim, rs := th.tag(th.ok), th.tag(th.bad), th.tag(th.dim), th.reset()
	if err != nil {
		return badTag + "✗ " + tview.Escape(err.Error()) + rs + "\n", err.Error(), true
	}
	names := make([]string, 0, len(p.nodes)+len(res))
	for n := range p.nodes {
		names = append(names, n)
	}
	for n := range res {
		if p.nodes[n] == nil {
			names = append(names, n)
		}
	}
	slices.SortFunc(names, func(a, b string) int {
		if model.NaturalLess(a, b) {
			return -1
		}
		if model.NaturalLess(b, a) {
			return 1
		}
		return 0
	})
	failed := 0
	for _, name := range names {
		np := p.nodes[name]
		if np == nil {
			np = &nodePull{status: map[string]string{}}
		}
		done := 0
		for _, l := range np.layers {
			if s := np.status[l]; s == "Pull complete" || s == "Already exists" {
				done++
			}
		}
		layers := fmt.Sprintf("%d/%d layers", done, len(np.layers))
		e, over := res[name]
		switch {
		case over && e != nil:
			failed++
			fmt.Fprintf(&sb, "%s✗ %-14s%s %s\n", badTag, name, rs, tview.Escape(e.Error()))
		case over:
			fmt.Fprintf(&sb, "%s✓ %-14s%s pulled · %s · %s\n", ok, name, rs, layers, tview.Escape(np.last))
		default:
			fmt.Fprintf(&sb, "%s… %-14s%s %s · %s%s%s\n", th.tag(th.accent), name, rs, layers, dim, tview.Escape(np.last), rs)
		}
	}
	took := time.Since(p.began).Round(100 * time.Millisecond)
	switch {
	case res == nil:
		fmt.Fprintf(&sb, "\n%spulling for %s%s\n", dim, took, rs)
	case failed > 0:
		summary, bad = fmt.Sprintf("failed on %d of %s", failed, nodesText(len(res))), true
	default:
		summary = fmt.Sprintf("pulled onto %s in %s", nodesText(len(res)), took)
	}
	if summary != "" {
		fmt.Fprintf(&sb, "\n%s\n", tview.Escape(summary))
	}
	return sb.String(), summary, bad
}

// hasImage reports whether a node has the image a container names.
func hasImage(n *model.Node, ref string) bool {
	return slices.ContainsFunc(n.Images, func(im model.Image) bool { return backend.ImageMatches(im, ref, false) })
}

// nodesText is "1 node", "3 nodes".
func nodesText(n int) string {
	if n == 1 {
		return "1 node"
	}
	return fmt.Sprintf("%d nodes", n)
}
