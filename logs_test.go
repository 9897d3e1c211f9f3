package main

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// A text log line stays one line a person can read: Swarm's multi-line
// refusal is printed with a space where its line break was, not a
// literal \n; JSON keeps the text whole.
func TestTextLogsKeepMultiLineMessagesOnOneLine(t *testing.T) {
	refusal := errors.New("Unable to find a node that satisfies the following conditions \n[port 8080 (Bridge mode)]")
	for _, tc := range []struct {
		format string
		want   string
	}{
		{"text", `err="Unable to find a node that satisfies the following conditions [port 8080 (Bridge mode)]"`},
		{"text", `msg="placement refused on two lines"`},
		{"text", `container=web`},
		{"json", `"err":"Unable to find a node that satisfies the following conditions \n[port 8080 (Bridge mode)]"`},
	} {
		lo, err := newLogOptions("info", tc.format)
		if err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		lo.logger(&out).Warn("placement refused\non two lines", "container", "web", "err", refusal)
		if !strings.Contains(out.String(), tc.want) || strings.Count(out.String(), "\n") != 1 {
			t.Errorf("%s log: %q lacks %q or is not one line", tc.format, out.String(), tc.want)
		}
	}
}
