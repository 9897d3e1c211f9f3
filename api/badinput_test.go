package api

import (
	"encoding/json"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"swarmdeck/backend"
	"swarmdeck/model"
)

// badCreate is a create request a careless or hostile client sends.
type badCreate struct {
	name      string
	container string // ?name=
	body      string
	code      int
	message   string
}

// badCreates are the observed inputs and their neighbours. They
// also seed FuzzCreateBody.
var badCreates = []badCreate{
	{"negative memory that fitted three 4 GiB containers on a 4 GiB node", "", `{"Image":"busybox","HostConfig":{"Memory":-8589934592}}`,
		400, "Minimum memory limit allowed is 6MB"},
	{"memory below Docker's minimum", "", `{"Image":"busybox","HostConfig":{"Memory":1024}}`, 400, "Minimum memory limit allowed is 6MB"},
	{"memory past 1 EiB", "", `{"Image":"busybox","HostConfig":{"Memory":9223372036854775807}}`, 400, "value must be at most"},
	{"CpuShares that overflowed to -1 CPU", "", `{"Image":"busybox","HostConfig":{"CpuShares":9223372036854775807}}`,
		400, "invalid CPU shares (9223372036854775807): value must be at most 262144"},
	{"negative CpuShares", "", `{"Image":"busybox","HostConfig":{"CpuShares":-2}}`, 400, "invalid CPU shares (-2): value must be a positive integer"},
	{"negative NanoCpus", "", `{"Image":"busybox","HostConfig":{"NanoCpus":-1000000000}}`, 400,
		"Range of CPUs is from 0.01 to 16.00, as there are only 16 CPUs available"},
	{"NanoCpus of a billionth", "", `{"Image":"busybox","HostConfig":{"NanoCpus":1}}`, 400, "Range of CPUs is from 0.01 to 16.00"},
	{"NanoCpus past the largest node", "", `{"Image":"busybox","HostConfig":{"NanoCpus":9223372036854775807}}`, 400, "Range of CPUs is from 0.01 to 16.00"},
	{"negative MemoryReservation", "", `{"Image":"busybox","HostConfig":{"MemoryReservation":-1}}`, 400, "Minimum memory reservation allowed is 6MB"},
	{"a reservation above the limit", "", `{"Image":"busybox","HostConfig":{"Memory":67108864,"MemoryReservation":134217728}}`,
		400, "Minimum memory limit can not be less than memory reservation limit, see usage"},
	{"MemorySwap below the memory", "", `{"Image":"busybox","HostConfig":{"Memory":67108864,"MemorySwap":8388608}}`,
		400, "Minimum memoryswap limit should be larger than memory limit, see usage"},
	{"MemorySwap without memory", "", `{"Image":"busybox","HostConfig":{"MemorySwap":67108864}}`,
		400, "You should always set the Memory limit when using Memoryswap limit, see usage"},
	{"MemorySwap below -1", "", `{"Image":"busybox","HostConfig":{"Memory":67108864,"MemorySwap":-5}}`, 400, "invalid memory swap limit (-5)"},
	{"a name with a slash that hid t3's x", "t3/x", `{"Image":"busybox"}`, 400,
		"Invalid container name (t3/x), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"},
	{"a name with ..", "..", `{"Image":"busybox"}`, 400, "Invalid container name (..)"},
	{"a name with a newline", "web\n12:00:00.000 engine forged", `{"Image":"busybox"}`, 400,
		`Invalid container name (web\\n12:00:00.000 engine forged)`},
	{"a name with an escape", "web\x1b[2J", `{"Image":"busybox"}`, 400, `Invalid container name (web\\x1b[2J)`},
	{"a one-letter name, as Docker refuses it", "x", `{"Image":"busybox"}`, 400, "Invalid container name (x)"},
	{"an empty body", "", ``, 400, "not JSON"},
}

// reserved sums every node's reservations and containers.
func reserved(c *backend.Cluster) (cpus model.MilliCPU, mem int64, containers int) {
	for _, n := range c.Nodes() {
		cp, m := n.Reserved()
		cpus, mem, containers = cpus+cp, mem+m, containers+len(n.Containers)
	}
	return
}

func TestBadResourcesAndNamesAreRefusedBeforeAnythingIsReserved(t *testing.T) {
	srv, c := simServer(t)
	cpus, mem, n := reserved(c)
	for _, tt := range badCreates {
		t.Run(tt.name, func(t *testing.T) {
			code, body, _ := call(t, srv, "POST", "/v1.41/containers/create?name="+url.QueryEscape(tt.container), tt.body)
			var msg struct{ Message string }
			_ = json.Unmarshal([]byte(body), &msg)
			if code != tt.code || !strings.Contains(body, tt.message) || msg.Message == "" {
				t.Fatalf("create = %d %s\nwant %d with %q", code, body, tt.code, tt.message)
			}
			if c2, m2, n2 := reserved(c); c2 != cpus || m2 != mem || n2 != n {
				t.Fatalf("reserved %s CPUs, %d bytes, %d containers after a refused create; was %s, %d, %d", c2, m2, n2, cpus, mem, n)
			}
		})
	}
	// A good request still passes, and a rename to a bad name is refused.
	code, body, _ := call(t, srv, "POST", "/containers/create?name=ok-1", `{"Image":"busybox","HostConfig":{"Memory":67108864,"NanoCpus":500000000}}`)
	if code != 201 {
		t.Fatalf("a good create: %d %s", code, body)
	}
	code, body, _ = call(t, srv, "POST", "/containers/ok-1/rename?name="+url.QueryEscape("a/b"), "")
	if code != 400 || !strings.Contains(body, "Invalid container name (a/b)") {
		t.Fatalf("rename to a/b: %d %s", code, body)
	}
}

func TestBadUpdatesAreRefusedBeforeTheEngine(t *testing.T) {
	srv, c := simServer(t)
	cpus, mem, _ := reserved(c)
	for _, tt := range []struct{ name, body, message string }{
		{"negative memory", `{"Memory":-1}`, "Minimum memory limit allowed is 6MB"},
		{"overflowing CpuShares", `{"CpuShares":9223372036854775807}`, "invalid CPU shares"},
		{"negative NanoCpus", `{"NanoCpus":-5}`, "Range of CPUs is from 0.01 to 16.00"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, body, _ := call(t, srv, "POST", "/containers/db/update", tt.body)
			if code != 400 || !strings.Contains(body, tt.message) {
				t.Fatalf("update %s = %d %s", tt.body, code, body)
			}
			if c2, m2, _ := reserved(c); c2 != cpus || m2 != mem {
				t.Fatalf("reservations changed: %s %d", c2, m2)
			}
		})
	}
}

// FuzzCreateBody sends create bodies with arbitrary resource values: the
// endpoint never panics, never answers 5xx for a value it should have
// refused, and a refused create reserves nothing.
func FuzzCreateBody(f *testing.F) {
	for _, tt := range badCreates {
		f.Add(tt.container, tt.body)
	}
	f.Add("web", `{"Image":"busybox","HostConfig":{"Memory":-9223372036854775808,"CpuShares":-9223372036854775808}}`)
	f.Add("web", `{"Image":"busybox","HostConfig":{"NanoCpus":9223372036854775807,"MemorySwap":-9223372036854775808}}`)
	f.Add("web", `{"Image":"busybox","HostConfig":{"Memory":1e30}}`)
	srv, c := simServer(f)
	f.Fuzz(func(t *testing.T, name, body string) {
		cpus, mem, n := reserved(c)
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("POST", "/containers/create?name="+url.QueryEscape(name), strings.NewReader(body))
		srv.Config.Handler.ServeHTTP(rec, req)
		switch {
		case rec.Code == 201:
			var out struct{ Id string }
			if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
				t.Fatal(err)
			}
			// Clean up so the cluster never fills.
			if err := c.Remove(t.Context(), out.Id, true); err != nil {
				t.Fatal(err)
			}
			for _, n := range c.Nodes() {
				cp, m := n.Reserved()
				if cp < 0 || m < 0 {
					t.Fatalf("%s reserves %s CPUs, %d bytes", n.Name, cp, m)
				}
			}
		case rec.Code >= 400 && rec.Code < 500, rec.Code == 500 && strings.Contains(rec.Body.String(), "no resources available"),
			rec.Code == 500 && strings.Contains(rec.Body.String(), "Unable to find a node"):
			if c2, m2, n2 := reserved(c); c2 != cpus || m2 != mem || n2 != n {
				t.Fatalf("a refused create (%d %s) reserved something", rec.Code, rec.Body)
			}
		default:
			t.Fatalf("create %q %q = %d %s", name, body, rec.Code, rec.Body)
		}
	})
}
