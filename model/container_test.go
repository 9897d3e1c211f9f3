package model

import (
	"bytes"
	"encoding/json"
	"os"
	"testing"
	"time"
	"unsafe"
)

// TestAContainerEncodesAsBeforeItsFieldsWereKeptApart: the rules and the
// run are kept behind pointers, but a container's JSON (an inspect of a
// container whose node is down is made from it) is byte for byte what
// encoding/json wrote when they were fields of their own.
// testdata/container.json was written by the model before the change,
// from the same four containers: every field set, a bare one, empty
// (not nil) lists, an exited one.
func TestAContainerEncodesAsBeforeItsFieldsWereKeptApart(t *testing.T) {
	at := time.Date(2026, 11, 29, 23, 59, 58, 123456789, time.UTC)
	cs := []*Container{
		{Config: Config{Name: "web", Image: "nginx:1.25", Cmd: []string{"nginx", "-g", "daemon off;"}, Env: []string{"A=1"}, Labels: map[string]string{"app": "web", LabelSwarmID: "s1"},
			CPUs: 1500, Memory: 64 << 20, Ports: []PortBinding{{HostIP: "127.0.0.1", HostPort: "8080", ContainerPort: "80", Proto: "tcp"}}, Expose: []string{"80/tcp"},
			NetworkMode: "front", VolumesFrom: []string{"data"}, Links: []string{"db:db"}, Raw: []byte(`{"Image":"nginx"}`)},
			ID: "0123456789ab0123456789ab0123456789ab0123456789ab0123456789abcdef", SwarmID: "s1", Node: "10.0.0.1:2375", State: Running,
			Created: at.Add(-time.Hour)},
		{Config: Config{Name: "bare"}, ID: "b", State: Created, Created: at},
		{Config: Config{Name: "empty-lists"}, ID: "e"},
		{Config: Config{Name: "exited"}, ID: "x", State: Exited},
	}
	cs[0].SetRules(Rules{Constraints: []string{"zone==eu"}, Affinities: []string{"image==~nginx"}, Whitelists: []string{"node==a|b"}, Reschedule: []string{"on-node-failure"}})
	cs[0].SetRun(Run{Started: at.Add(-time.Minute), Finished: at.Add(-2 * time.Minute), ExitCode: 137,
		Endpoints: []Endpoint{{Network: "front", NetworkID: "n1", IPv4: "172.18.0.2", AskedIPv4: "172.18.0.2", Aliases: []string{"web", "www"}}}})
	cs[2].SetRules(Rules{Constraints: []string{}})
	cs[2].SetRun(Run{Endpoints: []Endpoint{}})
	cs[3].SetRun(Run{Finished: at, ExitCode: 1})
	got, err := json.MarshalIndent(cs, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile("testdata/container.json")
	if err != nil {
		t.Fatal(err)
	}
	if got = append(got, '\n'); !bytes.Equal(got, want) {
		t.Fatalf("containers encode as\n%s\nwant\n%s", got, want)
	}
	if cs[1].Rules != nil || cs[1].Run != nil {
		t.Errorf("a container without rules and never run holds %v and %v; want nil (that is the memory saved)", cs[1].Rules, cs[1].Run)
	}
}

// TestAContainerRecordFitsIn352Bytes: a million containers are a million
// records; 352 bytes is a size class of Go's allocator (the record was
// 496 bytes, in the 512-byte class). A field added to Container itself
// rather than to Rules or Run shows here.
func TestAContainerRecordFitsIn352Bytes(t *testing.T) {
	if size := unsafe.Sizeof(Container{}); size > 352 {
		t.Errorf("a Container takes %d bytes; want at most 352", size)
	}
}

// TestSetRunMakesANewRunAndLeavesTheOldRecordAlone: records are shared
// (the engine's, the manager's, a view's), so a change is a copy with a
// Run of its own, never a write through the old record's pointer.
func TestSetRunMakesANewRunAndLeavesTheOldRecordAlone(t *testing.T) {
	old := &Container{ID: "a"}
	old.SetRun(Run{Started: time.Unix(100, 0)})
	cp := *old
	run := cp.RunInfo()
	run.Finished, run.ExitCode = time.Unix(200, 0), 3
	cp.SetRun(run)
	if !old.Finished().IsZero() || old.ExitCode() != 0 || !old.Started().Equal(time.Unix(100, 0)) {
		t.Errorf("the old record changed: started %v, finished %v, exit %d", old.Started(), old.Finished(), old.ExitCode())
	}
	if !cp.Finished().Equal(time.Unix(200, 0)) || cp.ExitCode() != 3 || !cp.Started().Equal(time.Unix(100, 0)) {
		t.Errorf("the copy: started %v, finished %v, exit %d", cp.Started(), cp.Finished(), cp.ExitCode())
	}
	cp.SetRun(Run{})
	if cp.Run != nil || cp.ExitCode() != 0 {
		t.Errorf("nothing to say should be a nil Run, got %+v", cp.Run)
	}
}
