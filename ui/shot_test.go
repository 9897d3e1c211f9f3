package ui

import (
	"testing"
	"time"
)

func TestShot(t *testing.T) {
	for _, sz := range [][2]int{{80, 24}, {120, 40}} {
		h := start(t, demoSource(t), sz[0], sz[1])
		h.wait(settle, "Nodes [6]")
		time.Sleep(300 * time.Millisecond)
		t.Log("\n" + h.text())
		h.typeText("2")
		time.Sleep(300 * time.Millisecond)
		t.Log("\n" + h.text())
	}
}
