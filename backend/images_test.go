package backend

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	cerrdefs "github.com/containerd/errdefs"

	"swarmdeck/model"
)

func TestImageMatchesAsDockerNamesImages(t *testing.T) {
	im := model.Image{ID: "sha256:0508575b0a7c1f2e", RepoTags: []string{"busybox:latest", "127.0.0.1:5000/team/app:v1"}}
	for _, tt := range []struct {
		ref    string
		anyTag bool
		want   bool
	}{
		{"busybox", false, true},                          // :latest implied
		{"busybox:latest", false, true},                   //
		{"docker.io/library/busybox:latest", false, true}, // normalized
		{"busybox:1.36", false, false},                    // another tag
		{"127.0.0.1:5000/team/app:v1", false, true},       // a registry with a port
		{"127.0.0.1:5000/team/app", false, false},         // :latest, which it lacks
		{"127.0.0.1:5000/team/app", true, true},           // any tag (save, push -a)
		{"127.0.0.1:5000/team/app:v2", true, false},       // a tag given is that tag
		{"0508575b0a7c", false, true},                     // an ID prefix
		{"sha256:0508575b0a7c1f2e", false, true},          // the whole ID
		{"050", false, true},                              // three hex digits are enough
		{"05", false, false},                              // two are not
		{"Busybox", false, false},                         // not a reference
		{"", false, false},
	} {
		if got := ImageMatches(im, tt.ref, tt.anyTag); got != tt.want {
			t.Errorf("ImageMatches(%q, anyTag %v) = %v, want %v", tt.ref, tt.anyTag, got, tt.want)
		}
	}
}

func TestNodeErrorsNameEveryNodeAndKeepOneClass(t *testing.T) {
	notFound := &EngineError{Code: http.StatusNotFound, Message: "manifest unknown"}
	refused := &EngineError{Code: http.StatusInternalServerError, Message: "connection refused"}
	for _, tt := range []struct {
		name     string
		errs     NodeErrors
		text     string
		notFound bool
	}{
		{"all the same", NodeErrors{{"node-1", notFound}, {"node-2", notFound}}, "node-1, node-2: manifest unknown", true},
		{"mixed", NodeErrors{{"node-1", notFound}, {"node-2", refused}, {"node-3", notFound}},
			"node-1, node-3: manifest unknown; node-2: connection refused", false},
		{"one", NodeErrors{{"node-3", refused}}, "node-3: connection refused", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if tt.errs.Error() != tt.text {
				t.Errorf("text %q, want %q", tt.errs.Error(), tt.text)
			}
			if cerrdefs.IsNotFound(tt.errs) != tt.notFound {
				t.Errorf("not found: %v, want %v", cerrdefs.IsNotFound(tt.errs), tt.notFound)
			}
		})
	}
	if !errors.Is(&noImage{notFound}, ErrNoImage) || (&noImage{notFound}).Error() != "manifest unknown" {
		t.Error("a create refused for want of the image is ErrNoImage, in the engine's words")
	}
}

func TestParseRefNamesABadReference(t *testing.T) {
	for _, ref := range []string{"Bad/Name", "busybox:no spaces", "", "a@sha256:short",
		"sha256:" + strings.Repeat("ab", 32), strings.Repeat("ab", 32)} { // IDs are not pulled
		_, err := ParseRef(ref)
		var inv *model.InvalidError
		if !errors.As(err, &inv) {
			t.Errorf("ParseRef(%q) = %v, want an InvalidError", ref, err)
		}
	}
	if _, err := ParseRef("127.0.0.1:5000/team/app:v1"); err != nil {
		t.Error(err)
	}
}
