package api

import (
	"container/list"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"time"
)

// Limits of the endpoint under many or hostile clients.
const (
	// MaxConns is how many connections the endpoint keeps open at once.
	// Past it, the connection idle the longest (a keep-alive, one that
	// has sent nothing yet, or one the server waits on for the rest of a
	// request body) is closed to make room; with none idle, the new
	// connection is closed at once.
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
// Every request body, whatever the route (proxied ones too), must arrive
// within bodyTimeout.
func NewHTTPServer(h http.Handler, limit *ConnLimit) *http.Server {
	return &http.Server{Handler: limit.bodies(h), ReadHeaderTimeout: ReadHeaderTimeout, IdleTimeout: IdleTimeout,
		MaxHeaderBytes: MaxHeaderBytes, ConnState: limit.connState,
		ConnContext: func(ctx context.Context, c net.Conn) context.Context { return context.WithValue(ctx, connKey{}, c) }}
}

// connKey keys a request's net.Conn in its context.
type connKey struct{}

// bodies bounds the time a client takes to send a request body: the
// connection's read deadline is bodyTimeout from the handler's start
// and is lifted once the body is read to its end. Until then the
// connection waits on its client, and the cap may close it like an idle
// one. A body that times out leaves the deadline in the past, so the
// server does not wait for the rest of it either: it answers and closes.
func (g *ConnLimit) bodies(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _ := r.Context().Value(connKey{}).(net.Conn)
		if c == nil || r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0 {
			h.ServeHTTP(w, r)
			return
		}
		rc := http.NewResponseController(w)
		if err := rc.SetReadDeadline(time.Now().Add(bodyTimeout)); err != nil {
			h.ServeHTTP(w, r)
			return
		}
		b := &deadlineBody{ReadCloser: r.Body, g: g, c: c, rc: rc}
		g.waiting(c, true)
		r.Body = b
		defer b.end(false)
		h.ServeHTTP(w, r)
	})
}

// deadlineBody is a request body read under the body deadline.
type deadlineBody struct {
	io.ReadCloser
	g    *ConnLimit
	c    net.Conn
	rc   *http.ResponseController
	once sync.Once
}

func (b *deadlineBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil {
		b.end(errors.Is(err, io.EOF))
	}
	return n, err
}

// end says the body is read (eof: to its end, and the deadline is
// lifted) or given up on (the deadline stays).
func (b *deadlineBody) end(eof bool) {
	b.once.Do(func() {
		b.g.waiting(b.c, false)
		if eof {
			_ = b.rc.SetReadDeadline(time.Time{})
		}
	})
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

// waiting marks c as waiting on its client for a request body (true):
// the cap may close it to make room, the longest waiting first; false
// when the body is read or given up on.
func (g *ConnLimit) waiting(c net.Conn, on bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	e, ok := g.where[c]
	switch {
	case !ok: // closed, or closed to make room
	case on && e == nil:
		g.where[c] = g.idle.PushBack(c)
	case !on && e != nil:
		g.idle.Remove(e)
		g.where[c] = nil
	}
}

// forget drops c from the books; g.mu is held.
func (g *ConnLimit) forget(c net.Conn) {
	if e := g.where[c]; e != nil {
		g.idle.Remove(e)
	}
	delete(g.where, c)
}
