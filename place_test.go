package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func runPlace(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(append([]string{"place"}, args...), &out, &errb)
	return out.String(), errb.String(), code
}

const demo = "examples/demo.yaml"

func TestPlaceOnTheDemoCluster(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		wantOut    string
		wantErr    string
		wantStatus int
	}{
		{name: "one container, its node's name and nothing else",
			args: []string{"--cluster", demo, "nginx"}, wantOut: "eu-2\n"},
		// us-2 is empty but had a failure: health 67 weighs 200-670 against
		// us-1's 200-1000.
		{name: "a constraint steers it, and health outweighs emptiness",
			args: []string{"--cluster", demo, "-e", "constraint:zone==us", "nginx"}, wantOut: "us-1\n"},
		{name: "a node constraint",
			args: []string{"--cluster", demo, "-e", "constraint:node==eu-3", "nginx"}, wantOut: "eu-3\n"},
		{name: "a taken port moves it",
			args: []string{"--cluster", demo, "-e", "constraint:zone==eu", "-p", "80:80", "nginx"}, wantOut: "eu-3\n"},
		// Memory scores with 5% overcommit (16 GiB → 16.8, 32 → 33.6):
		// eu-1 (5+8)/16.8=77, eu-2 (0.5+8)/16.8=50, us-1 (2.5+8)/33.6=31 → us-1;
		// then us-1 18.5/33.6=55 vs eu-2 50 → eu-2; then eu-2 98 → us-1.
		{name: "count places one after the other, each seeing the last",
			args:    []string{"--cluster", demo, "--count", "3", "-e", "constraint:disk==ssd", "-m", "8g", "--name", "api", "nginx"},
			wantOut: "us-1\neu-2\nus-1\n"},
		// CPU scores with one more CPU: eu-1 4/8=50, eu-3 1/4=25, eu-2 1.5/8=18,
		// us-1 2.5/16=15; binpack takes the fullest.
		{name: "binpack from the command line",
			args: []string{"--cluster", demo, "--strategy", "binpack", "-c", "1", "nginx"}, wantOut: "eu-1\n"},
		{name: "the embedded demo when no file is given",
			args: []string{"nginx"}, wantOut: "eu-2\n"},
		{name: "a soft constraint that cannot hold is dropped",
			args: []string{"--cluster", demo, "-e", "constraint:zone==~mars", "nginx"}, wantOut: "eu-2\n"},
		{name: "no node satisfies: Swarm's message, exit 1",
			args: []string{"--cluster", demo, "-e", "constraint:zone==mars", "nginx"}, wantStatus: 1,
			wantErr: "Unable to find a node that satisfies the following conditions \n[available container slots]\n[zone==mars]\n"},
		{name: "no room: Swarm's message, exit 1",
			args: []string{"--cluster", demo, "-m", "64g", "nginx"}, wantStatus: 1,
			wantErr: "no resources available to schedule container\n"},
		{name: "a taken name: Swarm's conflict, exit 1",
			args: []string{"--cluster", demo, "--name", "db", "nginx"}, wantStatus: 1,
			wantErr: "Conflict: The name db is already assigned. You have to delete (or rename) that container to be able to assign db to a container again.\n"},
		{name: "a malformed constraint names itself, exit 2",
			args: []string{"--cluster", demo, "-e", "constraint:a==b", "nginx"}, wantStatus: 2,
			wantErr: "swarmdeck place: invalid constraint \"a==b\": Key 'a' is invalid\n"},
		{name: "a malformed affinity label, exit 2",
			args: []string{"--cluster", demo, "-l", `com.docker.swarm.affinities=["image==~~x"]`, "nginx"}, wantStatus: 2,
			wantErr: "swarmdeck place: invalid affinity \"image==~~x\": Value '~~x' is invalid\n"},
		{name: "a bad reschedule policy, exit 2",
			args: []string{"--cluster", demo, "-e", "reschedule:always", "nginx"}, wantStatus: 2,
			wantErr: "swarmdeck place: invalid reschedule policy: always\n"},
		{name: "no image, exit 2",
			args: []string{"--cluster", demo}, wantStatus: 2,
			wantErr: "swarmdeck place: an image is required: swarmdeck place [flags] IMAGE [COMMAND...]\n"},
		{name: "an unknown flag, exit 2",
			args: []string{"--cluster", demo, "--colour", "nginx"}, wantStatus: 2,
			wantErr: "swarmdeck place: unknown flag: --colour (see 'swarmdeck place --help')\n"},
		{name: "a bad size, exit 2",
			args: []string{"--cluster", demo, "-m", "lots", "nginx"}, wantStatus: 2,
			wantErr: "swarmdeck place: invalid argument \"lots\" for \"-m, --memory\" flag: invalid size: 'lots' (want bytes or a size such as 512m, 2g or 2GiB) (see 'swarmdeck place --help')\n"},
		{name: "a bad strategy, exit 2",
			args: []string{"--cluster", demo, "--strategy", "fair", "nginx"}, wantStatus: 2,
			wantErr: "swarmdeck place: strategy not supported: \"fair\" (use spread, binpack or random)\n"},
		{name: "a bad cluster file, exit 2",
			args: []string{"--cluster", "clusterfile/testdata/bad/bad-memory.yaml", "nginx"}, wantStatus: 2,
			wantErr: "swarmdeck place: clusterfile/testdata/bad/bad-memory.yaml:4: node a: memory: invalid size: 'lots' (want bytes or a size such as 512m, 2g or 2GiB)\n"},
		{name: "a missing cluster file, exit 2",
			args: []string{"--cluster", "nope.yaml", "nginx"}, wantStatus: 2,
			wantErr: "swarmdeck place: nope.yaml: cannot read the cluster file: no such file or directory\n"},
		{name: "a bad count, exit 2",
			args: []string{"--count", "0", "nginx"}, wantStatus: 2, wantErr: "swarmdeck place: --count 0: want 1 to 1000000 containers\n"},
		{name: "a custom filter list replaces the default",
			args: []string{"--cluster", demo, "--filter", "constraint", "-e", "constraint:zone==ap", "nginx"}, wantOut: "ap-1\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, errOut, code := runPlace(t, tt.args...)
			if code != tt.wantStatus || out != tt.wantOut || errOut != tt.wantErr {
				t.Fatalf("exit %d, stdout %q, stderr %q\nwant exit %d, stdout %q, stderr %q", code, out, errOut, tt.wantStatus, tt.wantOut, tt.wantErr)
			}
		})
	}
}

func TestPlaceJSON(t *testing.T) {
	out, errOut, code := runPlace(t, "--cluster", demo, "--format", "json", "--count", "2", "--name", "api", "-e", "constraint:zone==eu", "nginx")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var got []struct {
		Name   string   `json:"name"`
		Node   string   `json:"node"`
		Ranked []string `json:"ranked"`
		Nodes  []any    `json:"nodes"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("%v in %s", err, out)
	}
	if len(got) != 2 || got[0].Name != "api-1" || got[1].Name != "api-2" {
		t.Fatalf("got %+v; want api-1 and api-2", got)
	}
	for _, g := range got {
		if !strings.HasPrefix(g.Node, "eu-") || g.Ranked != nil || g.Nodes != nil {
			t.Fatalf("%+v: a node in zone eu, and with --count neither a ranking nor an explanation without --explain", g)
		}
	}
	if got[0].Node == got[1].Node {
		t.Fatalf("both on %s: the second did not see the first", got[0].Node)
	}
	// One placement: "ranked" lists every node that passed, the chosen first.
	single, singleErr, singleCode := runPlace(t, "--cluster", demo, "--format", "json", "-e", "constraint:zone==eu", "nginx")
	var one []struct {
		Node   string   `json:"node"`
		Ranked []string `json:"ranked"`
	}
	if err := json.Unmarshal([]byte(single), &one); singleCode != 0 || err != nil || len(one) != 1 || len(one[0].Ranked) != 3 || one[0].Ranked[0] != one[0].Node {
		t.Fatalf("one placement in JSON: exit %d, %v, %s%s; want its node ranked first of the three eu nodes", singleCode, err, single, singleErr)
	}
	// Streamed one placement at a time, the array reads exactly as the
	// whole slice marshalled at once.
	var whole []map[string]any
	if err := json.Unmarshal([]byte(out), &whole); err != nil {
		t.Fatal(err)
	}
	if b, _ := json.MarshalIndent(whole, "", "  "); string(b)+"\n" != out {
		t.Fatalf("streamed JSON\n%s\ndiffers from the marshalled array\n%s", out, b)
	}
}

func TestPlaceJSONRefusedFirst(t *testing.T) {
	out, errOut, code := runPlace(t, "--cluster", demo, "--format", "json", "-e", "constraint:zone==mars", "nginx")
	if code != 1 || out != "[]\n" || !strings.HasPrefix(errOut, "Unable to find a node") {
		t.Fatalf("exit %d, stdout %q, stderr %q; want exit 1, an empty array and Swarm's message", code, out, errOut)
	}
}

// TestPlaceCountTextIsTheRankedChoice checks the streaming path (best node
// only) against the ranking path (json with --explain) over many
// placements: the same nodes, in the same order.
func TestPlaceCountTextIsTheRankedChoice(t *testing.T) {
	for _, strategy := range []string{"spread", "binpack", "random"} {
		t.Run(strategy, func(t *testing.T) {
			args := []string{"--cluster", demo, "--strategy", strategy, "--count", "40", "-m", "256m", "--cpus", "0.1", "nginx"}
			text, errOut, code := runPlace(t, args...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			js, errOut, code := runPlace(t, append([]string{"--format", "json", "--explain"}, args...)...) // the ranking path
			if code != 0 {
				t.Fatalf("json: exit %d: %s", code, errOut)
			}
			var got []struct{ Node string }
			if err := json.Unmarshal([]byte(js), &got); err != nil {
				t.Fatal(err)
			}
			var want strings.Builder
			for _, g := range got {
				want.WriteString(g.Node + "\n")
			}
			if text != want.String() {
				t.Fatalf("text placed\n%s\nranking placed\n%s", text, want.String())
			}
		})
	}
}

func TestPlaceExplain(t *testing.T) {
	out, _, code := runPlace(t, "--cluster", demo, "--explain", "-e", "constraint:zone==eu", "-p", "80:80", "-m", "1g", "nginx")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	for _, want := range []string{
		"eu-3\n",
		"container (unnamed) → eu-3 (soft expressions honoured)",
		"#1  eu-3",
		"eu-2  port 80 (Bridge mode): host port 80 is taken by web-1",
		"us-1  port 80 (Bridge mode): host port 80 is taken by web-2; constraint zone==eu: node has zone=us",
		"ap-1  health: node is Unhealthy (3 failures in a row)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("--explain output lacks %q:\n%s", want, out)
		}
	}
	_, errOut, code := runPlace(t, "--cluster", demo, "--explain", "-e", "constraint:zone==mars", "nginx")
	if code != 1 || !strings.Contains(errOut, "0/6 nodes are available: 6 constraint zone==mars; 1 unhealthy") ||
		!strings.HasPrefix(errOut, "Unable to find a node that satisfies the following conditions \n") {
		t.Fatalf("explained refusal: exit %d\n%s", code, errOut)
	}
	out, _, _ = runPlace(t, "--cluster", demo, "--explain", "--format", "json", "nginx")
	var got []struct {
		Nodes []struct {
			Node    string `json:"node"`
			Kept    bool   `json:"kept"`
			Reasons []struct {
				Filter string `json:"filter"`
				Class  string `json:"class"`
				Detail string `json:"detail"`
			} `json:"reasons"`
		} `json:"nodes"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil || len(got) != 1 || len(got[0].Nodes) != 6 {
		t.Fatalf("json explain: %v\n%s", err, out)
	}
	ap := got[0].Nodes[0]
	if ap.Node != "ap-1" || ap.Kept || len(ap.Reasons) != 1 || ap.Reasons[0].Filter != "health" || ap.Reasons[0].Class != "exhausted" {
		t.Fatalf("ap-1 explained as %+v", ap)
	}
}

// TestPlaceBinary builds swarmdeck and runs it as a user would.
func TestPlaceBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := filepath.Join(t.TempDir(), "swarmdeck")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, "place", "--cluster", demo, "--count", "2", "-e", "constraint:zone==eu", "nginx")
	out, err := cmd.Output()
	if err != nil || string(out) != "eu-2\neu-3\n" {
		t.Fatalf("place: %v, %q", err, out)
	}
	cmd = exec.Command(bin, "place", "--cluster", demo, "-e", "constraint:zone==mars", "nginx")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err = cmd.Run()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 || !strings.HasPrefix(stderr.String(), "Unable to find a node") {
		t.Fatalf("refusal: %v, %q", err, stderr.String())
	}
	cmd = exec.Command(bin, "place", "-e", "constraint:zone=eu", "nginx")
	cmd.Stderr = &stderr
	if ee, ok := cmd.Run().(*exec.ExitError); !ok || ee.ExitCode() != 2 {
		t.Fatalf("malformed: want exit 2, got %v", ee)
	}
	if _, err := os.Stat(bin); err != nil {
		t.Fatal(err)
	}
}
