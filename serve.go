package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"swarmdeck/api"
	"swarmdeck/backend"
)

// listenAddr reads -H: tcp://host:port or unix:///path. An empty unix
// path, or one starting with @, would be a hidden abstract socket: both
// are refused.
func listenAddr(h string) (network, addr string, err error) {
	switch {
	case strings.HasPrefix(h, "unix://"):
		path := strings.TrimPrefix(h, "unix://")
		if path == "" || strings.HasPrefix(path, "@") {
			return "", "", fmt.Errorf("invalid -H %q: want tcp://host:port or unix:///path", h)
		}
		return "unix", path, nil
	case strings.HasPrefix(h, "tcp://"), !strings.Contains(h, "://"):
		a := strings.TrimPrefix(h, "tcp://")
		if _, _, err := net.SplitHostPort(a); err != nil {
			return "", "", fmt.Errorf("invalid -H %q: want tcp://host:port or unix:///path", h)
		}
		return "tcp", a, nil
	}
	return "", "", fmt.Errorf("invalid -H %q: want tcp://host:port or unix:///path", h)
}

// serverTLS checks the TLS flags with Swarm's messages and loads them.
func serverTLS(f manageFlags) (*tls.Config, error) {
	if !f.tls && !f.tlsVerify {
		if f.tlsCert != "" || f.tlsKey != "" || f.tlsCA != "" {
			return nil, errors.New("--tlscert, --tlskey and --tlscacert require the use of either --tls or --tlsverify")
		}
		return nil, nil
	}
	if f.tlsCert == "" || f.tlsKey == "" {
		return nil, errors.New("--tlscert and --tlskey must be provided when using --tls")
	}
	if f.tlsVerify && f.tlsCA == "" {
		return nil, errors.New("--tlscacert must be provided when using --tlsverify")
	}
	cert, err := tls.LoadX509KeyPair(f.tlsCert, f.tlsKey)
	if err != nil {
		return nil, fmt.Errorf("--tlscert and --tlskey: %w", err)
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if f.tlsCA != "" {
		pem, err := os.ReadFile(f.tlsCA)
		if err != nil {
			return nil, fmt.Errorf("--tlscacert: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--tlscacert %s holds no certificate", f.tlsCA)
		}
		// RootCAs is unused by a server: it is what a replica checks the
		// primary's certificate against when it forwards a request.
		cfg.RootCAs = pool
		if f.tlsVerify {
			cfg.ClientCAs, cfg.ClientAuth = pool, tls.RequireAndVerifyClientCert
		}
	}
	return cfg, nil
}

// serveAPI listens on every -H address and serves the cluster's Docker
// API until the returned function is called. An address it cannot listen
// on is an error before anything is served.
func serveAPI(ctx context.Context, c *backend.Cluster, cfg *manageConfig, stderr io.Writer) (func(), error) {
	var listeners []net.Listener
	closeAll := func() {
		for _, l := range listeners {
			l.Close()
		}
	}
	limit := api.NewConnLimit(api.MaxConns)
	for _, h := range cfg.hosts {
		network, addr, _ := listenAddr(h)
		if network == "unix" {
			if err := removeStaleSocket(addr); err != nil {
				closeAll()
				return nil, fmt.Errorf("cannot serve the Docker API on %s: %w", h, err)
			}
		}
		l, err := net.Listen(network, addr)
		if err != nil {
			closeAll()
			return nil, fmt.Errorf("cannot serve the Docker API on %s: %w", h, err)
		}
		if network == "tcp" {
			warnIfOpen(cfg, stderr, h, addr)
		}
		if cfg.tls != nil {
			l = tls.NewListener(l, cfg.tls)
		}
		listeners = append(listeners, limit.Listener(l))
	}
	handler := api.New(c)
	go handler.Warm(ctx) // docker ps's encodings, made as containers appear, not by the first call
	if cfg.tls != nil {
		handler.ForwardOverTLS(forwardTLS(cfg.tls))
	}
	var h http.Handler = handler
	if cfg.metrics != nil {
		h = cfg.metrics.Instrument(handler)
	}
	srv := api.NewHTTPServer(h, limit)
	srv.ErrorLog = serverLog(cfg)
	srv.BaseContext = func(net.Listener) context.Context { return ctx }
	for _, l := range listeners {
		go srv.Serve(l)
	}
	return func() {
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
		srv.Close()
	}, nil
}

// serveMetrics serves the manager's Prometheus metrics on addr until the
// returned function is called; no address, no metrics. Anywhere but
// loopback it says loudly that anyone who reaches it sees the pool.
func serveMetrics(ctx context.Context, c *backend.Cluster, cfg *manageConfig, stderr io.Writer) (func(), error) {
	m, addr := cfg.metrics, cfg.metricsAddr
	if m == nil {
		return func() {}, nil
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("cannot serve metrics on %s: %w", addr, err)
	}
	// The real address: with port 0 the kernel chose it.
	served := l.Addr().String()
	cfg.metricsURL = "http://" + served + "/metrics"
	if host, _, _ := net.SplitHostPort(addr); !loopback(host) {
		loudWarning(cfg, stderr, fmt.Sprintf("metrics are served on %s, not on loopback: anyone who reaches it sees the\n"+
			"names, addresses and load of every node of the pool. Use 127.0.0.1:PORT, or a firewall.", served), "addr", served)
	}
	if cfg.opts.Logger != nil {
		cfg.opts.Logger.Info("serving Prometheus metrics", "kind", "metrics", "url", cfg.metricsURL)
	}
	m.Watch(c)
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", m.Handler())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ErrorLog: serverLog(cfg),
		BaseContext: func(net.Listener) context.Context { return ctx }}
	go srv.Serve(l)
	return func() { srv.Close() }, nil
}

// serverLog sends an HTTP server's own errors (a failed TLS handshake…)
// to the manager's log, as warnings, rather than unstructured to stderr.
func serverLog(cfg *manageConfig) *log.Logger {
	if cfg.opts.Logger == nil {
		return nil
	}
	return slog.NewLogLogger(cfg.opts.Logger.Handler(), slog.LevelWarn)
}

// forwardTLS is how a replica reaches the primary: over TLS, with this
// manager's certificate, checking the primary's against --tlscacert (or
// the system's roots), never without checking.
func forwardTLS(server *tls.Config) *tls.Config {
	return &tls.Config{Certificates: server.Certificates, RootCAs: server.RootCAs, MinVersion: tls.VersionTLS12}
}

// warnIfOpen says loudly when anyone who reaches addr controls the
// cluster: plain HTTP, or TLS without client certificates (--tls without
// --tlsverify), off the loopback.
func warnIfOpen(cfg *manageConfig, stderr io.Writer, h, addr string) {
	if host, _, _ := net.SplitHostPort(addr); loopback(host) {
		return
	}
	switch t := cfg.tls; {
	case t == nil:
		loudWarning(cfg, stderr, fmt.Sprintf("the Docker API of the whole cluster is served on %s WITHOUT TLS:\n"+
			"anyone who can reach it controls every engine of the pool. Use --tlsverify, or listen on 127.0.0.1.", h), "addr", h)
	case t.ClientAuth != tls.RequireAndVerifyClientCert:
		loudWarning(cfg, stderr, fmt.Sprintf("the Docker API of the whole cluster is served on %s with --tls but WITHOUT --tlsverify:\n"+
			"the traffic is encrypted, but anyone who can reach it controls every engine of the pool.\n"+
			"Use --tlsverify with --tlscacert, or listen on 127.0.0.1.", h), "addr", h)
	}
}

// loudWarning is a warning an operator must not miss. With --log-format
// json it is one warn record of the manager's log, so that standard error
// stays JSON lines; otherwise a WARNING paragraph on standard error, seen
// before the console takes the screen.
func loudWarning(cfg *manageConfig, stderr io.Writer, text string, attrs ...any) {
	if cfg.log.json && cfg.opts.Logger != nil {
		cfg.opts.Logger.Warn(strings.ReplaceAll(text, "\n", " "), attrs...)
		return
	}
	fmt.Fprintf(stderr, "WARNING: %s\n", text)
}

// removeStaleSocket clears the way for a unix socket at path: a socket
// nothing listens on is removed; a live one, or anything that is not a
// socket (a regular file, a directory, a symlink), is left alone and is
// an error.
func removeStaleSocket(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if fi.Mode().Type() != fs.ModeSocket {
		return fmt.Errorf("%s is %s, not a socket: refusing to remove it", path, fileKind(fi.Mode()))
	}
	if conn, err := net.DialTimeout("unix", path, time.Second); err == nil {
		conn.Close()
		return fmt.Errorf("%s is in use: another server listens on it", path)
	}
	return os.Remove(path)
}

func fileKind(m fs.FileMode) string {
	switch {
	case m.IsRegular():
		return "a regular file"
	case m.IsDir():
		return "a directory"
	case m&fs.ModeSymlink != 0:
		return "a symbolic link"
	}
	return "a special file"
}

func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
