package ui

import (
	"fmt"
	"slices"
	"testing"
)

// nodeLike is n rows as the nodes view has them (each its own formatted
// cells): name, CPUs and an age column.
func nodeLike(n int, cpus func(i int) int) []row {
	rows := make([]row, n)
	for i := range rows {
		rows[i] = newRow(fmt.Sprintf("addr-%d", i), []cell{{text: fmt.Sprintf("node-%d", i+1)}, {text: fmt.Sprint(cpus(i))}, {text: "-"}})
	}
	return rows
}

// A rebuild whose rows sort the same gives the last order back, without
// sorting again; any change that moves a row, or a new filter or order,
// arranges as a first arrangement does. After an o on the nodes view of
// 10,000 nodes every engine refresh made new rows, and every rebuild
// (one a second when idle) sorted them all again.
func TestARebuildThatSortsTheSameKeepsItsOrder(t *testing.T) {
	columns := []string{"NAME", "CPUS", "UPDATED"}
	byName := arrangement{sortCol: 0}
	base := nodeLike(2000, func(i int) int { return i % 7 })
	refreshed := slices.Clone(base)
	for i := 0; i < len(refreshed); i += 50 { // 40 nodes refreshed: new rows, the same texts
		refreshed[i] = newRow(base[i].key, slices.Clone(base[i].fixed.cells))
	}
	renamed := slices.Clone(refreshed)
	renamed[10] = newRow(base[10].key, []cell{{text: "node-99999"}, {text: "6"}, {text: "-"}}) // node-11 was 3 CPUs
	for _, tt := range []struct {
		name      string
		rows      []row
		ar        arrangement
		keepOrder bool
	}{
		{"the same rows", base, byName, true},
		{"nodes refreshed", refreshed, byName, true},
		{"a node renamed", renamed, byName, false},
		{"reversed", renamed, arrangement{sortCol: 0, desc: true}, false},
		{"by CPUs", renamed, arrangement{sortCol: 1}, false},
		{"by CPUs, filtered", renamed, arrangement{sortCol: 1, filter: "node-1"}, false},
		{"by CPUs, filtered, refreshed", slices.Clone(renamed), arrangement{sortCol: 1, filter: "node-1"}, true},
	} {
		c := newContent(columns, newTheme()) // arranged by the refresher, as the view was last arranged
		c.published.Store(&tt.ar)
		prev := base
		if tt.name == "by CPUs, filtered, refreshed" {
			prev = renamed
		}
		first := c.prepare(rowsOf(prev)).view
		got := c.prepare(rowsOf(tt.rows)).view
		if want := arrange(rowsOf(tt.rows), columns, tt.ar); !slices.Equal(got, want) {
			t.Errorf("%s: the order differs from a first arrangement's", tt.name)
		}
		if kept := len(got) > 0 && len(first) > 0 && &got[0] == &first[0]; kept != tt.keepOrder {
			t.Errorf("%s: the last order given back: %v, want %v", tt.name, kept, tt.keepOrder)
		}
	}
}
