package api

import (
	"container/list"
	"net"
	"net/http"
	"sync"
	"time"
)

// Limits of the endpoint under many or hostile clients.
const (
	// MaxConns is how many connections the endpoint keeps open at once.
	// Past it, the connection idle the longest (a keep-alive or one that
	// has sent nothing yet) is closed to make room; with none idle, the
	// new connection is closed at once.
	MaxConns = 4096
	// IdleTimeout closes a keep-alive connection that sends nothing.
	IdleTimeout = 30 * time.Second
	// ReadHeaderTimeout closes a connection that does not finish its
	// request line and headers in time (slowloris).
	ReadHeaderTimeout = 10 * time.Second
	// MaxHeaderBytes caps a request's line and headers.
	MaxHeaderBytes = 1 << 20
)

// NewHTTPServer is the endpoint's http.Server: every timeout and limit
// above, with connections capped by a ConnLimit whose listeners the
// caller serves on.
func NewHTTPServer(h http.Handler, limit *ConnLimit) *http.Server {
	return &http.Server{Handler: h, ReadHeaderTimeout: ReadHeaderTimeout, IdleTimeout: IdleTimeout,
		MaxHeaderBytes: MaxHeaderBytes, ConnState: limit.connState}
}

// ConnLimit caps a server's open connections, closing the longest-idle
// one when a new one comes and the cap is reached: idle keep-alives cost
// a bounded number of descriptors, and /_ping is still answered while
// thousands of clients hold connections open.
type ConnLimit struct {
	max int

	mu    sync.Mutex
	open  int
	idle  *list.List // of net.Conn, longest idle first
	where map[net.Conn]*list.Element
}

// NewConnLimit allows max connections open at once.
func NewConnLimit(max int) *ConnLimit {
	return &ConnLimit{max: max, idle: list.New(), where: map[net.Conn]*list.Element{}}
}

// Open is the number of connections the server holds.
func (g *ConnLimit) Open() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.open
}

// Listener wraps l so that accepting past the cap makes room first.
func (g *ConnLimit) Listener(l net.Listener) net.Listener { return &limitedListener{Listener: l, g: g} }

type limitedListener struct {
	net.Listener
	g *ConnLimit
}

func (l *limitedListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if l.g.admit() {
			return c, nil
		}
		c.Close() // every connection is busy: refuse this one, not a busy one
	}
}

// admit makes room for one more connection; false when none can go.
func (g *ConnLimit) admit() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.open < g.max {
		return true
	}
	e := g.idle.Front()
	if e == nil {
		return false
	}
	victim := e.Value.(net.Conn)
	g.forget(victim)
	g.open-- // counted out now: its StateClosed will find it forgotten
	go victim.Close()
	return true
}

// connState follows the server's connections: new and idle ones may be
// closed to make room; active ones never; hijacked ones leave the count
// (the server no longer owns them).
func (g *ConnLimit) connState(c net.Conn, s http.ConnState) {
	g.mu.Lock()
	defer g.mu.Unlock()
	switch s {
	case http.StateNew:
		g.open++
		g.where[c] = g.idle.PushBack(c)
	case http.StateIdle:
		if e, ok := g.where[c]; ok && e == nil {
			g.where[c] = g.idle.PushBack(c)
		}
	case http.StateActive:
		if e, ok := g.where[c]; ok {
			g.idle.Remove(e)
			g.where[c] = nil
		}
	case http.StateHijacked, http.StateClosed:
		if _, ok := g.where[c]; ok {
			g.forget(c)
			g.open--
		}
	}
}

// forget drops c from the books; g.mu is held.
func (g *ConnLimit) forget(c net.Conn) {
	if e := g.where[c]; e != nil {
		g.idle.Remove(e)
	}
	delete(g.where, c)
}
