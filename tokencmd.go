package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/spf13/pflag"

	"swarmdeck/backend"
	"swarmdeck/tokenserver"
)

// create prints a new cluster token, as `swarm create` did: made here, or
// by the token server named with --discovery-host.
func create(args []string, stdout, stderr io.Writer) int {
	fs := pflag.NewFlagSet("create", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	host := fs.String("discovery-host", "", "ask this token server (http://HOST:PORT) for the token")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: swarmdeck create [--discovery-host http://HOST:PORT]\n\n"+
			"Print a new cluster token for token://TOKEN (or token://HOST:PORT/TOKEN with a token server).\n\nFlags:\n%s", fs.FlagUsages())
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return exitOK
		}
		fmt.Fprintf(stderr, "swarmdeck create: %v\n", err)
		return exitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "swarmdeck create: takes no arguments, got %q\n", fs.Args())
		return exitUsage
	}
	if *host == "" {
		fmt.Fprintln(stdout, backend.NewTokenString())
		return exitOK
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	token, err := backend.CreateToken(ctx, *host)
	if err != nil {
		fmt.Fprintf(stderr, "swarmdeck create: %v\n", err)
		return exitRefused
	}
	fmt.Fprintln(stdout, token)
	return exitOK
}

// tokenServer serves the hosted discovery's protocol until SIGINT or SIGTERM.
func tokenServer(args []string, stdout, stderr io.Writer) int {
	fs := pflag.NewFlagSet("token-server", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.StringP("host", "H", "127.0.0.1:7200", "listen here, host:port")
	state := fs.String("state", filepath.Join(os.TempDir(), "swarmdeck-tokens.json"), "the file that keeps the clusters across restarts")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: swarmdeck token-server [-H host:port] [--state FILE]\n\n"+
			"Serve token:// discovery (the protocol of Docker Hub's hosted service, shut down in 2019).\n"+
			"Clusters then use token://HOST:PORT/TOKEN.\n\nFlags:\n%s", fs.FlagUsages())
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return exitOK
		}
		fmt.Fprintf(stderr, "swarmdeck token-server: %v\n", err)
		return exitUsage
	}
	srv, err := tokenserver.Open(*state)
	if err != nil {
		fmt.Fprintf(stderr, "swarmdeck token-server: %v\n", err)
		return exitUsage
	}
	l, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintf(stderr, "swarmdeck token-server: %v\n", err)
		return exitUsage
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		hs.Shutdown(shut)
	}()
	fmt.Fprintf(stdout, "token server on http://%s (state in %s)\n", l.Addr(), *state)
	if err := hs.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
		fmt.Fprintf(stderr, "swarmdeck token-server: %v\n", err)
		return exitRefused
	}
	return exitOK
}
