package main

import (
	"fmt"
	"io"
	"log/slog"
	"strings"
)

// logOptions are the global --debug, --log-level and --log-format.
type logOptions struct {
	level slog.Level
	json  bool
	file  string // --log-file before the command: the console's log
}

// newLogOptions checks --log-level and --log-format. Swarm's logrus
// levels fatal and panic mean error here.
func newLogOptions(level, format string) (logOptions, error) {
	var lo logOptions
	switch strings.ToLower(level) {
	case "debug":
		lo.level = slog.LevelDebug
	case "info":
		lo.level = slog.LevelInfo
	case "warn", "warning":
		lo.level = slog.LevelWarn
	case "error", "fatal", "panic":
		lo.level = slog.LevelError
	default:
		return lo, fmt.Errorf("invalid --log-level %q: want debug, info, warn or error", level)
	}
	switch strings.ToLower(format) {
	case "text":
	case "json":
		lo.json = true
	default:
		return lo, fmt.Errorf("invalid --log-format %q: want text or json", format)
	}
	return lo, nil
}

// logger writes structured records to w at the chosen level and format.
func (lo logOptions) logger(w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: lo.level}
	if lo.json {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	opts.ReplaceAttr = oneLine
	return slog.New(slog.NewTextHandler(w, opts))
}

// oneLine keeps a text record on one line without escapes: Swarm's
// refusals span lines ("…the following conditions \n[port 8080…]"),
// which the text format would print as a literal \n. Line breaks and the
// spaces around them become one space. JSON keeps the text as it is.
func oneLine(_ []string, a slog.Attr) slog.Attr {
	var s string
	switch v := a.Value.Any().(type) {
	case string:
		s = v
	case error:
		s = v.Error()
	default:
		return a
	}
	if !strings.ContainsAny(s, "\r\n") {
		return a
	}
	return slog.String(a.Key, strings.Join(strings.Fields(strings.ReplaceAll(s, "\r", "\n")), " "))
}
