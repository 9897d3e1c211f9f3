package version

import (
	"os"
	"runtime/debug"
	"strings"
	"testing"
)

func TestInfoFromBuildInfo(t *testing.T) {
	tests := []struct {
		fixture string
		line    string
		server  string
	}{
		{"tagged.txt", "swarmdeck version v1.3.0, commit 8ac04bf0c3a1, built 2026-11-29T14:02:11Z, go1.26.7, Docker API 1.41", "swarmdeck/1.3.0"},
		{"dirty-pseudo.txt", "swarmdeck version v0.0.0-20261129140211-8ac04bf0c3a1+dirty, commit 8ac04bf0c3a1-dirty, built 2026-11-29T14:02:11Z, go1.26.8, Docker API 1.41",
			"swarmdeck/0.0.0-20261129140211-8ac04bf0c3a1+dirty"},
		{"no-vcs.txt", "swarmdeck version dev, commit unknown, built unknown, go1.26.8, Docker API 1.41", "swarmdeck/dev"},
	}
	for _, tt := range tests {
		t.Run(tt.fixture, func(t *testing.T) {
			b, err := os.ReadFile("testdata/" + tt.fixture)
			if err != nil {
				t.Fatal(err)
			}
			bi, err := debug.ParseBuildInfo(string(b))
			if err != nil {
				t.Fatal(err)
			}
			// ParseBuildInfo leaves GoVersion unset: it is the "go" line.
			first, _, _ := strings.Cut(string(b), "\n")
			bi.GoVersion = strings.TrimPrefix(first, "go\t")
			i := fromBuildInfo(bi)
			if got := i.Line(); got != tt.line {
				t.Errorf("Line:\n got %s\nwant %s", got, tt.line)
			}
			if got := i.Server(); got != tt.server {
				t.Errorf("Server: got %s, want %s", got, tt.server)
			}
			long := i.Long()
			for _, want := range []string{"Version:     " + i.Version, "Commit:      " + i.Commit, "Built:       " + i.Time, "Go version:  " + i.Go, "API version: 1.41"} {
				if !strings.Contains(long, want) {
					t.Errorf("Long lacks %q:\n%s", want, long)
				}
			}
		})
	}
}
