package model

import (
	"slices"
	"testing"
)

func TestFormatBytesAsDockerInfo(t *testing.T) {
	for _, tt := range []struct {
		n    int64
		want string
	}{
		{0, "0 B"}, {20 << 20, "20 MiB"}, {42 << 20, "42 MiB"}, {1536, "1.5 KiB"},
		{1127428915, "1.05 GiB"}, {2254857830, "2.1 GiB"}, {8 << 30, "8 GiB"},
	} {
		if got := FormatBytes(tt.n); got != tt.want {
			t.Errorf("FormatBytes(%d) = %q; want %q", tt.n, got, tt.want)
		}
	}
}

func TestParseBytesAsDockerRun(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want int64
		err  bool
	}{
		{"512m", 512 << 20, false}, {"2g", 2 << 30, false}, {"2GiB", 2 << 30, false}, {"2GB", 2 << 30, false},
		{"1073741824", 1 << 30, false}, {"20M", 20 << 20, false}, {"lots", 0, true}, {"", 0, true}, {"-1g", 0, true},
	} {
		got, err := ParseBytes(tt.in)
		if (err != nil) != tt.err || got != tt.want {
			t.Errorf("ParseBytes(%q) = %d, %v; want %d (error %v)", tt.in, got, err, tt.want, tt.err)
		}
	}
}

func TestCPUs(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want MilliCPU
		text string
	}{
		{"2", 2000, "2"}, {"0.5", 500, "0.5"}, {"1.25", 1250, "1.25"}, {"0.333", 333, "0.33"}, {"0", 0, "0"},
	} {
		got, err := ParseCPUs(tt.in, 0)
		if err != nil || got != tt.want || got.String() != tt.text {
			t.Errorf("ParseCPUs(%q) = %v (%q), %v; want %d (%q)", tt.in, int64(got), got.String(), err, tt.want, tt.text)
		}
	}
	for _, bad := range []string{"-1", "x", "NaN", "Inf"} {
		if _, err := ParseCPUs(bad, 0); err == nil {
			t.Errorf("ParseCPUs(%q) accepted", bad)
		}
	}
}

func TestOvercommitAsSwarm(t *testing.T) {
	for _, tt := range []struct {
		in   float64
		want Overcommit
	}{{0.05, 5}, {0.29, 28}, {0, 0}, {-0.5, -50}, {1, 100}} {
		got, err := NewOvercommit(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("NewOvercommit(%v) = %d, %v; want %d", tt.in, got, err, tt.want)
		}
	}
	if _, err := NewOvercommit(-2); err == nil || err.Error() != "swarm.overcommit should be larger than -1, -2.000000 is invalid" {
		t.Errorf("NewOvercommit(-2) = %v", err)
	}
}

func TestNodeFiguresAsDockerInfo(t *testing.T) {
	n := &Node{CPUs: 8, Memory: 2 << 30, Containers: []*Container{
		{Config: Config{CPUs: CPUs(1), Memory: 20 << 20}, State: Running},
		{Config: Config{CPUs: 500, Memory: 22 << 20}, State: Exited},
		{State: Paused},
	}}
	if got := n.ReservedCPUsText(DefaultOvercommit); got != "1.5 / 8" {
		t.Errorf("Reserved CPUs: %s; want 1.5 / 8", got)
	}
	if got := n.ReservedMemoryText(DefaultOvercommit); got != "42 MiB / 2.1 GiB" {
		t.Errorf("Reserved Memory: %s; want 42 MiB / 2.1 GiB", got)
	}
	if got := (&Node{CPUs: 20}).TotalCPUs(DefaultOvercommit); got != CPUs(21) {
		t.Errorf("20 CPUs with 5%%: %v; want 21", got)
	}
	if got := CountContainers(n.Containers); got != (Counts{Total: 3, Running: 1, Paused: 1, Stopped: 1}) {
		t.Errorf("counts %+v", got)
	}
}

func TestNaturalLess(t *testing.T) {
	got := []string{"node-10", "node-2", "node-1", "node-02", "a", "node", "node-2a", "b1", "b01"}
	slices.SortFunc(got, func(a, b string) int {
		switch {
		case NaturalLess(a, b):
			return -1
		case NaturalLess(b, a):
			return 1
		}
		return 0
	})
	want := []string{"a", "b1", "b01", "node", "node-1", "node-2", "node-2a", "node-02", "node-10"}
	if !slices.Equal(got, want) {
		t.Fatalf("natural order %q; want %q", got, want)
	}
}

func TestFindContainer(t *testing.T) {
	n1 := &Node{Name: "node-1", ID: "ID1"}
	n2 := &Node{Name: "node-2", ID: "ID2"}
	web := &Container{Config: Config{Name: "/web"}, ID: "abcdef0123456789aaaa", SwarmID: "5555aaaa0000bbbb1111", Node: "1"}
	con := &Container{Config: Config{Name: "con"}, ID: "0123abcd", Node: "1"}
	dup1 := &Container{Config: Config{Name: "dup"}, ID: "dd11", Node: "1"}
	dup2 := &Container{Config: Config{Name: "dup"}, ID: "dd22", Node: "2"}
	other := &Container{Config: Config{Name: "x"}, ID: "con999", Node: "2"}
	cs := []*Container{web, con, dup1, dup2, other}
	nodeOf := func(c *Container) *Node {
		if c.Node == "1" {
			return n1
		}
		return n2
	}
	for _, tt := range []struct {
		q    string
		want *Container
	}{
		{"abcdef0123456789aaaa", web}, {"abcdef012345", web}, {"5555aaaa0000bbbb1111", web}, {"5555aaaa0000", web},
		{"web", web}, {"/web", web}, {"node-1/web", web}, {"ID1/web", web}, {"abcd", web}, {"5555", web},
		{"con", con}, // a name wins over an ID prefix
		{"dup", nil}, // ambiguous names find nothing
		{"node-2/dup", dup2}, {"dd", nil}, {"", nil}, {"nothing", nil},
	} {
		if got := FindContainer(cs, tt.q, nodeOf); got != tt.want {
			t.Errorf("FindContainer(%q) = %v; want %v", tt.q, got, tt.want)
		}
	}
}

func TestNameConflictIsSwarmsText(t *testing.T) {
	err := NameConflict("/c1")
	const want = "Conflict: The name /c1 is already assigned. You have to delete (or rename) that container to be able to assign /c1 to a container again."
	if err.Error() != want || !IsConflict(err) {
		t.Fatalf("%v", err)
	}
}

func TestCPUSharesAsSwarm(t *testing.T) {
	for _, tt := range []struct {
		cpus     MilliCPU
		nodeCPUs int
		shares   int64
		back     MilliCPU
	}{
		{CPUs(1), 4, 256, CPUs(1)},
		{CPUs(4), 4, 1024, CPUs(4)},
		{CPUs(1), 3, 342, CPUs(1)}, // ceil(1024/3)
		{CPUs(2), 8, 256, CPUs(2)},
		{0, 4, 0, 0},
	} {
		if got := SharesForCPUs(tt.cpus, tt.nodeCPUs); got != tt.shares {
			t.Errorf("SharesForCPUs(%v, %d) = %d; want %d", tt.cpus, tt.nodeCPUs, got, tt.shares)
		}
		if got := CPUsForShares(tt.shares, tt.nodeCPUs); got != tt.back {
			t.Errorf("CPUsForShares(%d, %d) = %v; want %v", tt.shares, tt.nodeCPUs, got, tt.back)
		}
	}
	// A container made straight on an engine with the default 1024 shares
	// counts as every CPU of the node; 512 shares on a 1-CPU node count 0.
	if got := CPUsForShares(1024, 16); got != CPUs(16) {
		t.Errorf("1024 shares on 16 CPUs: %v", got)
	}
	if got := CPUsForShares(512, 1); got != 0 {
		t.Errorf("512 shares on 1 CPU: %v", got)
	}
}
