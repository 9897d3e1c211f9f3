package api

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestBadRequestsGetTheRightStatus: an over-size body, a bad until= or
// since=, and malformed filters are refused with a status and words a
// user can act on, and create nothing.
func TestBadRequestsGetTheRightStatus(t *testing.T) {
	srv, c := simServer(t)
	_, _, n := reserved(c)
	huge := `{"Image":"busybox","Labels":{"x":"` + strings.Repeat("a", 20<<20) + `"}}`
	for _, tt := range []struct {
		name, method, path, body string
		code                     int
		message                  string
	}{
		{"a 20 MiB create body is a 413", "POST", "/containers/create", huge, 413, "request body too large: swarmdeck reads at most 16 MiB"},
		{"a 20 MiB update body is a 413", "POST", "/containers/db/update", huge, 413, "request body too large"},
		{"a 20 MiB network create is a 413", "POST", "/networks/create", huge, 413, "request body too large"},
		{"until=abc is a 400", "GET", "/events?until=abc", "", 400, `invalid until \"abc\"`},
		{"since=abc is a 400", "GET", "/events?since=abc", "", 400, `invalid since \"abc\"`},
		{"events filters that are no JSON are a 400", "GET", "/events?filters=%7Bx", "", 400, "invalid filter"},
		{"ps filters that are no JSON are a 400", "GET", "/containers/json?filters=%7Bx", "", 400, "invalid filter"},
		{"ps filters in the old map form still work", "GET", "/containers/json?filters=%7B%22name%22%3A%7B%22db%22%3Atrue%7D%7D", "", 200, `"Names":["/eu-1/db"]`},
		{"an unknown ps filter is a 400", "GET", "/containers/json?filters=%7B%22nosuch%22%3A%5B%22x%22%5D%7D", "", 400, "Invalid filter 'nosuch'"},
		{"a bad ps status is a 400", "GET", "/containers/json?filters=%7B%22status%22%3A%5B%22bogus%22%5D%7D", "", 400, "Invalid filter 'status=bogus'"},
		{"a dockerd ps status is taken", "GET", "/containers/json?all=1&filters=%7B%22status%22%3A%5B%22dead%22%5D%7D", "", 200, "[]"},
		{"ps filters in the list form work", "GET", "/containers/json?filters=%7B%22name%22%3A%5B%22db%22%5D%7D", "", 200, `"Names":["/eu-1/db"]`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, body, _ := call(t, srv, tt.method, tt.path, tt.body)
			if code != tt.code || !strings.Contains(body, tt.message) {
				t.Fatalf("%s %s = %d %.300s\nwant %d with %q", tt.method, tt.path, code, body, tt.code, tt.message)
			}
			if _, _, n2 := reserved(c); n2 != n {
				t.Fatalf("%d containers; %d before", n2, n)
			}
		})
	}
}

// TestEventFollowersAreCappedAndANonReaderIsDropped: past the cap a
// follower gets a 503; a follower that stops reading is disconnected
// once its buffer fills or its connection takes nothing for the write
// timeout, while creates keep answering and a reading follower stays.
func TestEventFollowersAreCappedAndANonReaderIsDropped(t *testing.T) {
	sim, c := simServer(t)
	s := sim.Config.Handler.(*Server)
	s.follow = followLimits{max: 2, buffer: 1024, writeTimeout: time.Second}
	// Small socket buffers, so a client that does not read blocks the
	// server's writes after a few KiB rather than a few MiB.
	srv := httptest.NewUnstartedServer(s)
	srv.Listener = smallBuffers{srv.Listener}
	srv.Start()
	defer srv.Close()

	resp, err := http.Get(srv.URL + "/events")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	go io.Copy(io.Discard, resp.Body)
	stalled, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer stalled.Close()
	stalled.(*net.TCPConn).SetReadBuffer(4096)
	fmt.Fprintf(stalled, "GET /events HTTP/1.1\r\nHost: x\r\n\r\n")
	waitUntil(t, "two followers", func() bool { return s.followers.Load() == 2 })

	code, body, _ := call(t, srv, "GET", "/events", "")
	if code != 503 || !strings.Contains(body, "too many /events followers: swarmdeck serves at most 2 at once") {
		t.Fatalf("a third follower: %d %s", code, body)
	}
	// Creates and removes with long names make events; every create
	// answers while the stalled follower's buffers fill.
	deadline := time.Now().Add(30 * time.Second)
	for i := 0; s.followers.Load() == 2; i++ {
		if time.Now().After(deadline) {
			t.Fatalf("after %d creates the follower that does not read is still connected", i)
		}
		name := fmt.Sprintf("ev-%d-%s", i, strings.Repeat("x", 200))
		if code, body, _ := call(t, srv, "POST", "/containers/create?name="+name, `{"Image":"busybox"}`); code != 201 {
			t.Fatalf("create while a follower stalls: %d %s", code, body)
		}
		if err := c.Remove(t.Context(), name, true); err != nil {
			t.Fatal(err)
		}
	}
	if got := s.followers.Load(); got != 1 {
		t.Fatalf("%d followers after the stalled one was dropped; want the reading one", got)
	}
}

// smallBuffers gives every accepted connection a 4 KiB send buffer.
type smallBuffers struct{ net.Listener }

func (l smallBuffers) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetWriteBuffer(4096)
	}
	return c, err
}

// TestIdleConnectionsMakeRoomForNewOnes: with the cap reached by idle
// keep-alive and silent connections, a new client is still answered and
// the server holds no more than the cap.
func TestIdleConnectionsMakeRoomForNewOnes(t *testing.T) {
	limit := NewConnLimit(5)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "OK") })
	srv := httptest.NewUnstartedServer(h)
	srv.Config = NewHTTPServer(h, limit)
	srv.Listener = limit.Listener(srv.Listener)
	srv.Start()
	defer srv.Close()
	addr := srv.Listener.Addr().String()
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for i := range 20 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		if i%2 == 0 { // a keep-alive that asked once; the others say nothing
			fmt.Fprintf(c, "GET /_ping HTTP/1.1\r\nHost: x\r\n\r\n")
			r, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				t.Fatalf("connection %d: %v", i, err)
			}
			r.Body.Close()
		}
	}
	pingsWithTheCapReached(t, srv.URL, limit, "")
}

// pingsWithTheCapReached requires the cap of 5 connections to hold and
// /_ping to answer three new connections while it is reached (how, says
// by).
func pingsWithTheCapReached(t *testing.T, url string, limit interface{ Open() int }, by string) {
	t.Helper()
	waitUntil(t, "the cap holds", func() bool { return limit.Open() <= 5 })
	client := &http.Client{Timeout: 5 * time.Second}
	for range 3 {
		resp, err := client.Get(url + "/_ping")
		if err != nil {
			t.Fatalf("/_ping with the cap reached%s: %v", by, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) != "OK" {
			t.Fatalf("/_ping: %q", b)
		}
		client.CloseIdleConnections()
	}
	if got := limit.Open(); got > 5 {
		t.Fatalf("%d connections open; the cap is 5", got)
	}
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited 10s for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestAStalledBodyIsCutOff: a client that sends a request's headers and
// part of its body, then nothing, gets a 400 once the body deadline
// passes and the connection is closed, with nothing created, whether the
// body has a Content-Length or is chunked, on every route that reads one.
func TestAStalledBodyIsCutOff(t *testing.T) {
	sim, c := simServer(t)
	s := sim.Config.Handler.(*Server)
	old := bodyTimeout
	bodyTimeout = 300 * time.Millisecond
	t.Cleanup(func() { bodyTimeout = old })
	srv := httptest.NewUnstartedServer(s)
	srv.Config = NewHTTPServer(s, NewConnLimit(64))
	srv.Start()
	defer srv.Close()
	_, _, n := reserved(c)
	for _, tt := range []struct{ name, request string }{
		{"create with a Content-Length", "POST /containers/create?name=stalled HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"},
		{"create with a chunked body", "POST /containers/create?name=stalled HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n1\r\n{\r\n"},
		{"update with a Content-Length", "POST /containers/db/update HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"},
		{"network create with a Content-Length", "POST /networks/create HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			conn, err := net.Dial("tcp", srv.Listener.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			io.WriteString(conn, tt.request)
			conn.SetReadDeadline(time.Now().Add(10 * time.Second))
			br := bufio.NewReader(conn)
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatalf("no answer to a stalled body: %v", err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 400 || !strings.Contains(string(b), "the request body did not arrive within 300ms") {
				t.Fatalf("a stalled body: %d %s", resp.StatusCode, b)
			}
			if _, err := br.ReadByte(); err == nil {
				t.Fatal("the connection stays open after a stalled body")
			}
			if _, _, n2 := reserved(c); n2 != n {
				t.Fatalf("%d containers; %d before", n2, n)
			}
		})
	}
}

// TestStalledBodiesMakeRoomForNewOnes: with the cap reached by clients
// stuck in the middle of a request body, a new client is still answered
// (the one waited on the longest is closed) and the cap holds.
func TestStalledBodiesMakeRoomForNewOnes(t *testing.T) {
	limit := NewConnLimit(5)
	var entered atomic.Int32
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/_ping" {
			io.WriteString(w, "OK")
			return
		}
		entered.Add(1)
		io.ReadAll(r.Body)
	})
	srv := httptest.NewUnstartedServer(h)
	srv.Config = NewHTTPServer(h, limit)
	srv.Listener = limit.Listener(srv.Listener)
	srv.Start()
	defer srv.Close()
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for i := range 20 {
		c, err := net.Dial("tcp", srv.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		fmt.Fprintf(c, "POST /containers/create HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{")
		waitUntil(t, fmt.Sprintf("stalled body %d to reach the handler", i+1), func() bool { return entered.Load() == int32(i+1) })
	}
	pingsWithTheCapReached(t, srv.URL, limit, " by stalled bodies")
}
