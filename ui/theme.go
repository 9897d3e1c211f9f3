package ui

import (
	"os"

	"github.com/gdamore/tcell/v2"
)

// theme holds the console's colours; with NO_COLOR set every colour is
// the terminal's default and emphasis is done with bold and reverse.
type theme struct {
	noColor                          bool
	fg, bg, border, title, header    tcell.Color
	ok, warn, bad, info, dim, accent tcell.Color
}

func newTheme() theme {
	if os.Getenv("NO_COLOR") != "" {
		d := tcell.ColorDefault
		return theme{noColor: true, fg: d, bg: d, border: d, title: d, header: d, ok: d, warn: d, bad: d, info: d, dim: d, accent: d}
	}
	return theme{
		fg: tcell.ColorWhite, bg: tcell.ColorDefault, border: tcell.ColorSteelBlue, title: tcell.ColorAqua,
		header: tcell.ColorYellow, ok: tcell.ColorGreen, warn: tcell.ColorOrange, bad: tcell.ColorRed,
		info: tcell.ColorAqua, dim: tcell.ColorGray, accent: tcell.ColorFuchsia,
	}
}

// tag is a tview colour tag for c, or nothing without colours.
func (t theme) tag(c tcell.Color) string {
	if t.noColor {
		return ""
	}
	return "[" + c.String() + "]"
}

// reset ends a colour tag.
func (t theme) reset() string {
	if t.noColor {
		return ""
	}
	return "[-]"
}
