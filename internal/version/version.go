// Package version reads what swarmdeck's binary knows about its own build:
// the module version, the commit and its date as the Go toolchain stamped
// them (go build -buildvcs), and the Go version.
package version

import (
	"cmp"
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"
)

// APIVersion is the Docker Engine API version the manager serves; engines
// from Docker 20.10 on speak it too, so requests pass through unchanged.
const APIVersion = "1.41"

// Info is one build's identity.
type Info struct {
	Version  string // the module version: a tag, or a pseudo-version; "dev" when unknown
	Commit   string // the full commit hash; "unknown" when built without VCS information
	Modified bool   // built from a checkout with uncommitted changes
	Time     string // the commit's time (RFC 3339); "unknown" when not stamped
	Go       string // the Go toolchain that built it
}

// Get reads the running binary's build information.
func Get() Info {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return fromBuildInfo(nil)
	}
	return fromBuildInfo(bi)
}

// fromBuildInfo reads an Info out of Go's build information.
func fromBuildInfo(bi *debug.BuildInfo) Info {
	i := Info{Version: "dev", Commit: "unknown", Time: "unknown", Go: runtime.Version()}
	if bi == nil {
		return i
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		i.Version = v
	}
	i.Go = cmp.Or(bi.GoVersion, i.Go)
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			i.Commit = s.Value
		case "vcs.time":
			i.Time = s.Value
		case "vcs.modified":
			i.Modified = s.Value == "true"
		}
	}
	return i
}

// ShortCommit is the commit's first 12 hex digits, with "-dirty" when the
// checkout had changes.
func (i Info) ShortCommit() string {
	c := i.Commit
	if len(c) > 12 && c != "unknown" {
		c = c[:12]
	}
	if i.Modified {
		c += "-dirty"
	}
	return c
}

// Server is the version as Docker's ServerVersion shows it: swarmdeck/VERSION.
func (i Info) Server() string { return "swarmdeck/" + strings.TrimPrefix(i.Version, "v") }

// Line is the version on one line, as `swarmdeck --version` prints it.
func (i Info) Line() string {
	return fmt.Sprintf("swarmdeck version %s, commit %s, built %s, %s, Docker API %s",
		i.Version, i.ShortCommit(), i.Time, i.Go, APIVersion)
}

// Long is the version as `swarmdeck version` prints it: one field a line.
func (i Info) Long() string {
	commit := i.Commit
	if i.Modified {
		commit += " (modified)"
	}
	return fmt.Sprintf("swarmdeck:\n Version:     %s\n Commit:      %s\n Built:       %s\n Go version:  %s\n OS/Arch:     %s/%s\n API version: %s (the Docker Engine API it serves)\n",
		i.Version, commit, i.Time, i.Go, runtime.GOOS, runtime.GOARCH, APIVersion)
}
