package ui

import (
	"maps"
	"os"
	"slices"
	"sync"

	"github.com/gdamore/tcell/v2"
	"github.com/rivo/tview"
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
	if name, ok := colorNames()[c]; ok {
		return "[" + name + "]"
	}
	return "[" + c.String() + "]"
}

// colorNames names each named colour by the first of its names in
// alphabetical order. tcell's Color.String picks one of a colour's
// aliases at random (gray or grey), so a header formatted twice read
// differently and the whole screen was redrawn for it.
var colorNames = sync.OnceValue(func() map[tcell.Color]string {
	names := slices.Sorted(maps.Keys(tcell.ColorNames))
	m := make(map[tcell.Color]string, len(names))
	for _, name := range names {
		if c := tcell.ColorNames[name]; m[c] == "" {
			m[c] = name
		}
	}
	return m
})

// reset ends a colour tag.
func (t theme) reset() string {
	if t.noColor {
		return ""
	}
	return "[-]"
}

// tviewDefaults are tview's own styles, kept before any console sets them.
var tviewDefaults = tview.Styles

// styles are tview's styles for the theme; without colours, all of them
// are the terminal's own.
func (t theme) styles() tview.Theme {
	if t.noColor {
		d := tcell.ColorDefault
		return tview.Theme{PrimitiveBackgroundColor: d, ContrastBackgroundColor: d, MoreContrastBackgroundColor: d,
			BorderColor: d, TitleColor: d, GraphicsColor: d, PrimaryTextColor: d, SecondaryTextColor: d,
			TertiaryTextColor: d, InverseTextColor: d, ContrastSecondaryTextColor: d}
	}
	s := tviewDefaults
	s.PrimitiveBackgroundColor, s.ContrastBackgroundColor = t.bg, tcell.ColorDarkSlateGray
	s.BorderColor, s.TitleColor, s.PrimaryTextColor = t.border, t.title, t.fg
	return s
}
