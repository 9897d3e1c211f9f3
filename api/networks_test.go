package api

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestNetworksAreMatchedAsDockerMatchesThem: one DELETE removes at most
// the one network it names; ambiguous, predefined, empty and missing
// references remove nothing, with the right status and words.
func TestNetworksAreMatchedAsDockerMatchesThem(t *testing.T) {
	srv, c := simServer(t)
	if code, body, _ := call(t, srv, "POST", "/networks/create", `{"Name":"sdnet-a"}`); code != 201 {
		t.Fatalf("create sdnet-a: %d %s", code, body)
	}
	if code, body, _ := call(t, srv, "POST", "/networks/create", `{"Name":"eu-1/sdnet-b"}`); code != 201 {
		t.Fatalf("create eu-1/sdnet-b: %d %s", code, body)
	}
	idOf := func(name string) string {
		_, body, _ := call(t, srv, "GET", "/networks", "")
		var nets []networkJSON
		json.Unmarshal([]byte(body), &nets)
		for _, nw := range nets {
			if nw.Name == name {
				return nw.ID
			}
		}
		t.Fatalf("no network %s in %s", name, body)
		return ""
	}
	count := func() int { return len(c.Networks()) }
	total := count()
	for _, tt := range []struct {
		name, method, path, body string
		code                     int
		message                  string
		removed                  int
	}{
		{"a name five nodes have is ambiguous", "DELETE", "/networks/sdnet-a", "", 400, "network sdnet-a is ambiguous (5 matches found based on name)", 0},
		{"bridge is never removed", "DELETE", "/networks/bridge", "", 403, "bridge is a pre-defined network and cannot be removed", 0},
		{"nor a node's bridge", "DELETE", "/networks/eu-1/bridge", "", 403, "bridge is a pre-defined network and cannot be removed", 0},
		{"nor a predefined network by its ID", "DELETE", "/networks/" + c.Networks()[0].ID, "", 0, "", 0},
		{"an empty name is a 404", "DELETE", "/networks/eu-1/", "", 404, "No such network: eu-1/", 0},
		{"a missing network names the kind", "DELETE", "/networks/nope", "", 404, `"No such network: nope"`, 0},
		{"inspect of a missing network names the kind", "GET", "/networks/nope", "", 404, `"No such network: nope"`, 0},
		{"a duplicate create is a 409", "POST", "/networks/create", `{"Name":"sdnet-a"}`, 409, "network with name sdnet-a already exists", 0},
		{"a duplicate pinned create is a 409", "POST", "/networks/create", `{"Name":"eu-1/sdnet-b"}`, 409, "network with name sdnet-b already exists", 0},
		{"a create of bridge is a 409", "POST", "/networks/create", `{"Name":"bridge"}`, 409, "network with name bridge already exists", 0},
		{"a create on no node is a 404", "POST", "/networks/create", `{"Name":"mars-1/x"}`, 404, "No such node: mars-1", 0},
		{"node/name removes that node's one", "DELETE", "/networks/eu-1/sdnet-a", "", 204, "", 1},
		{"a full ID removes that one", "DELETE", "/networks/" + idOf("eu-2/sdnet-a"), "", 204, "", 1},
		{"a unique ID prefix removes that one", "DELETE", "/networks/" + idOf("eu-3/sdnet-a")[:10], "", 204, "", 1},
		{"a unique name removes that one", "DELETE", "/networks/sdnet-b", "", 204, "", 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if tt.code == 0 { // the first network, whatever it is: predefined ones are refused
				nw := c.Networks()[0]
				code, body, _ := call(t, srv, tt.method, tt.path, "")
				if code != 403 || !strings.Contains(body, nw.Name+" is a pre-defined network") {
					t.Fatalf("DELETE %s (%s) = %d %s", tt.path, nw.Name, code, body)
				}
				return
			}
			before := count()
			code, body, _ := call(t, srv, tt.method, tt.path, tt.body)
			if code != tt.code || !strings.Contains(body, tt.message) {
				t.Fatalf("%s %s = %d %s\nwant %d with %q", tt.method, tt.path, code, body, tt.code, tt.message)
			}
			if got := before - count(); got != tt.removed {
				t.Fatalf("%d networks removed; want %d", got, tt.removed)
			}
		})
	}
	if got := count(); got != total-4 {
		t.Fatalf("%d networks at the end; want %d", got, total-4)
	}
}
