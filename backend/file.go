package backend

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strings"
	"time"
)

// File is a file://path discovery: one engine per line, # comments,
// blank lines skipped, [from:to] ranges and name=addr as in nodes://. The
// file is read again when it changes.
type File struct {
	Path  string
	Every time.Duration // how often it is checked (default 1s)
}

// parseFile reads a discovery file's contents.
func parseFile(data []byte) ([]Entry, error) {
	var items []string
	for _, line := range strings.Split(string(data), "\n") {
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		if line = strings.TrimSpace(line); line != "" {
			items = append(items, line)
		}
	}
	if len(items) == 0 {
		return []Entry{}, nil
	}
	return ParseNodes(strings.Join(items, ","))
}

// List reads the file once.
func (f *File) List(context.Context) ([]Entry, error) {
	data, err := os.ReadFile(f.Path)
	if err != nil {
		return nil, fmt.Errorf("discovery file: %w", err)
	}
	entries, err := parseFile(data)
	if err != nil {
		return nil, fmt.Errorf("discovery file %s: %w", f.Path, err)
	}
	return entries, nil
}

// Watch implements Discovery. A file that cannot be read or parsed is an
// error (once per spell) and the manager keeps its view.
func (f *File) Watch(ctx context.Context) (<-chan []Entry, <-chan error) {
	out, errs := make(chan []Entry, 1), make(chan error, 1)
	every := f.Every
	if every <= 0 {
		every = time.Second
	}
	go func() {
		var last []byte
		failing := false
		for first := true; ctx.Err() == nil; first = false {
			if !first && !sleep(ctx, every) {
				return
			}
			data, err := os.ReadFile(f.Path)
			var entries []Entry
			if err == nil {
				entries, err = parseFile(data)
			}
			if err != nil {
				if !failing {
					failing = true
					replace(errs, fmt.Errorf("discovery file %s: %v: keeping the current view", f.Path, err))
				}
				continue
			}
			if failing || first || !bytes.Equal(data, last) {
				failing, last = false, data
				replace(out, entries)
			}
		}
	}()
	return out, errs
}
