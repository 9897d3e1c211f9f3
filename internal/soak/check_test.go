package soak

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func readFixture(t *testing.T, name string) []Record {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := ReadHistory(f)
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

// The fixtures are one good history (a dead engine, a moved container, a
// lost one, operations of unknown outcome) and copies of it that each
// break one promise.
func TestCheck(t *testing.T) {
	for _, tc := range []struct {
		file  string
		rules []string // the rules broken, in time order
		key   string   // the container of the first violation, if any
	}{
		{"good.jsonl", nil, ""},
		{"duplicate.jsonl", []string{RuleOnce}, "k1"},
		{"not_running.jsonl", []string{RuleOnce}, "k1"},
		{"removed_exists.jsonl", []string{RuleExists}, "k4"},
		{"missing.jsonl", []string{RuleExists}, "k2"},
		{"unknown_twice.jsonl", []string{RuleExists}, "k3"},
		{"unknown_key.jsonl", []string{RuleExists}, "k9"},
		{"invisible.jsonl", []string{RuleVisible}, ""},
		{"overcommit.jsonl", []string{RuleCapacity}, ""},
		{"overcommit_memory.jsonl", []string{RuleCapacity}, ""},
		{"unhealthy.jsonl", []string{RuleHealthy}, ""},
		{"unlisted.jsonl", []string{RuleHealthy}, ""},
		{"unlisted_after_restart.jsonl", []string{RuleHealthy, RuleHealthy}, ""}, // both engines
		{"unlisted_store_down.jsonl", nil, ""},                                   // restarted while Consul was away: it knows no node yet
		{"crashed.jsonl", []string{RuleCrash}, ""},
		{"truncated.jsonl", []string{RuleHistory}, ""},
		{"race.jsonl", []string{RuleRace}, ""},
		{"not_healed.jsonl", []string{RuleHealed}, ""},
	} {
		t.Run(tc.file, func(t *testing.T) {
			recs := readFixture(t, tc.file)
			rep := Check(recs)
			var rules []string
			for _, v := range rep.Violations {
				rules = append(rules, v.Rule)
			}
			if !slices.Equal(rules, tc.rules) {
				var out bytes.Buffer
				rep.Print(&out, recs)
				t.Fatalf("rules broken: %q, want %q\n%s", rules, tc.rules, out.String())
			}
			if tc.key != "" && rep.Violations[0].Key != tc.key {
				t.Errorf("violation about %q, want %q: %s", rep.Violations[0].Key, tc.key, rep.Violations[0])
			}
		})
	}
}

func TestCheckSummary(t *testing.T) {
	rep := Check(readFixture(t, "good.jsonl"))
	s := rep.Summary
	if s.OpCount() != 11 || s.Ops[OpCreate][OutcomeOK] != 5 || s.Ops[OpCreate][OutcomeUnknown] != 1 || s.Ops[OpStop][OutcomeRefused] != 1 {
		t.Errorf("operations: %d, %v", s.OpCount(), s.Ops)
	}
	if s.Faults[FaultKillEngine] != 1 || s.FaultCount() != 1 {
		t.Errorf("faults: %v", s.Faults)
	}
	if s.Keys != 6 || s.KeysPolicy != 2 || s.FinalCopies != 4 {
		t.Errorf("containers: %d (%d with the policy), %d at the end", s.Keys, s.KeysPolicy, s.FinalCopies)
	}
	if len(s.Moves) != 1 || s.Moves[0].Milliseconds() != 1200 {
		t.Errorf("moves: %v", s.Moves)
	}
}

// A violation is printed with the history that explains it: for a
// container, its operations and the faults of its lifetime.
func TestPrintShowsHistoryAroundAViolation(t *testing.T) {
	recs := readFixture(t, "duplicate.jsonl")
	var out bytes.Buffer
	Check(recs).Print(&out, recs)
	for _, want := range []string{
		"fault injected, 1 violation\n",
		"[exactly-once] k1 has 2 copies",
		"op create k1 via 127.0.0.1:3376: ok",
		"fault kill_engine 127.0.0.1:23752",
		"moved k1 from 127.0.0.1:23752 to 127.0.0.1:23751",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
	out.Reset()
	recs = readFixture(t, "unhealthy.jsonl")
	Check(recs).Print(&out, recs)
	if !strings.Contains(out.String(), "probe 127.0.0.1:23751 ok=true") || strings.Contains(out.String(), "probe 127.0.0.1:23752") {
		t.Errorf("a health violation shows the probes of its engine only:\n%s", out.String())
	}
}

func TestReadHistoryNamesABadLine(t *testing.T) {
	_, err := ReadHistory(strings.NewReader(`{"kind":"phase","phase":"start"}` + "\n" + `{"kind":` + "\n"))
	if err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Fatalf("got %v, want an error naming line 2", err)
	}
}

// A real manager's /info: 1.5 CPUs and 12 GiB reserved on node-1, all 2
// CPUs on node-2.
func TestParseSystemStatus(t *testing.T) {
	b, err := os.ReadFile("testdata/info.json")
	if err != nil {
		t.Fatal(err)
	}
	var info struct{ SystemStatus [][2]string }
	if err := json.Unmarshal(b, &info); err != nil {
		t.Fatal(err)
	}
	role, nodes, err := parseSystemStatus(info.SystemStatus)
	if err != nil {
		t.Fatal(err)
	}
	if role != "primary" || len(nodes) != 4 {
		t.Fatalf("role %q, %d nodes", role, len(nodes))
	}
	n1, n2 := nodes[0], nodes[1]
	if n1.Name != "node-1" || n1.Addr != "127.0.0.1:23911" || n1.Status != "Healthy" || n1.CPUs != 1500 || n1.CPUsTotal != 2000 || n1.Memory != 12<<30 {
		t.Errorf("node-1: %+v", n1)
	}
	if n2.CPUs != 2000 || n2.MemoryTotal < 24<<30 || n2.MemoryTotal > 25<<30 {
		t.Errorf("node-2: %+v", n2)
	}
	if _, _, err := parseSystemStatus([][2]string{{" node-1", "a:1"}, {"  └ Reserved CPUs", "lots"}}); err == nil {
		t.Error("an unreadable reservation parses")
	}
}

func TestOutcome(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{nil, OutcomeOK},
		{&APIError{Status: 404, Msg: "No such container"}, OutcomeRefused},
		{&APIError{Status: 409, Msg: "Conflict"}, OutcomeRefused},
		{&APIError{Status: 500, Msg: "creating x on node-1: EOF"}, OutcomeUnknown},
		{os.ErrDeadlineExceeded, OutcomeUnknown},
	} {
		if got := outcome(tc.err); got != tc.want {
			t.Errorf("outcome(%v) = %s, want %s", tc.err, got, tc.want)
		}
	}
}

// The summary says how long no manager was primary: a killed primary
// stops counting at its kill, a failed /info sample counts as not
// primary, and a stretch still open at the end runs to the end.
func TestSummaryMeasuresTimeWithoutAPrimary(t *testing.T) {
	t0 := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	info := func(s float64, m, role string) Record {
		return Record{T: at(s), Kind: KindInfo, Manager: m, Role: role}
	}
	for _, tc := range []struct {
		name           string
		recs           []Record
		total, longest time.Duration
	}{
		{"always a primary", []Record{info(0, "a", "primary"), info(0, "b", "replica"), info(10, "a", "primary")}, 0, 0},
		{"primary killed, the replica takes over", []Record{
			info(0, "a", "primary"), info(0.5, "b", "replica"),
			{T: at(2), Kind: KindFault, Fault: FaultKillPrimary, Target: "a"},
			info(3, "b", "replica"), info(5, "b", "primary"), info(9, "b", "primary"),
		}, 3 * time.Second, 3 * time.Second},
		{"failed samples, and no primary at the end", []Record{
			info(0, "a", "primary"),
			{T: at(1), Kind: KindNote, Manager: "a", Message: "/info failed"},
			info(2, "a", "primary"),
			info(4, "a", "replica"), info(7, "a", "replica"),
		}, 4 * time.Second, 3 * time.Second},
		{"engine notes change nothing", []Record{
			info(0, "a", "primary"),
			{T: at(1), Kind: KindNote, Engine: "127.0.0.1:1", Message: "kill failed"},
			info(2, "a", "primary"),
		}, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := Check(tc.recs).Summary
			if s.NoPrimary != tc.total || s.NoPrimaryLongest != tc.longest {
				t.Errorf("no primary for %s (longest %s), want %s (%s)", s.NoPrimary, s.NoPrimaryLongest, tc.total, tc.longest)
			}
		})
	}
}
