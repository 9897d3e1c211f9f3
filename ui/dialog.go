package ui

import (
	"fmt"
	"strings"

	"github.com/gdamore/tcell/v2"
	"github.com/rivo/tview"
)

// dialogMaxWidth is the widest a dialog grows on a wide screen: lines
// longer than that wrap, as they would in a book.
const dialogMaxWidth = 110

// dialog is a question and its buttons over the view: a bordered box as
// wide and tall as its text needs, at most the screen less a margin of one
// cell. Its text scrolls (↑↓ j k, PgUp PgDn, Home End) while the buttons
// keep the keyboard, and the title says which lines show when the text
// does not fit. The first button is the safe one and has the focus.
type dialog struct {
	*tview.Flex
	title   string
	text    *tview.TextView
	buttons *tview.Form
	raw     string // the text, for sizing
	minW    int    // what the buttons need
	widest  int    // the text's longest line
	// render, when set, writes the text for a width: the dialog takes
	// the screen's width (up to dialogMaxWidth) and renders on a change.
	render func(width int) string
	// lines is the text's wrapped line count at width linesAt.
	lines, linesAt int
}

// newDialog builds a dialog; done gets the button chosen, "" for Esc.
// y chooses the second button (the action), n the first.
func newDialog(title, text string, labels []string, done func(label string)) *dialog {
	d := &dialog{Flex: tview.NewFlex().SetDirection(tview.FlexRow), title: title, raw: text}
	for _, l := range strings.Split(text, "\n") {
		d.widest = max(d.widest, tview.TaggedStringWidth(l))
	}
	d.text = tview.NewTextView().SetDynamicColors(true).SetScrollable(true).SetWrap(true).SetWordWrap(true).SetText(text)
	d.buttons = tview.NewForm().SetButtonsAlign(tview.AlignCenter)
	d.buttons.SetBorderPadding(0, 0, 1, 1)
	for _, l := range labels {
		d.buttons.AddButton(l, func() { done(l) })
		d.minW += tview.TaggedStringWidth(l) + 6
	}
	d.buttons.SetCancelFunc(func() { done("") })
	d.Flex.AddItem(d.text, 0, 1, false).AddItem(tview.NewBox(), 1, 0, false).AddItem(d.buttons, 1, 0, true)
	d.Flex.SetBorder(true).SetBorderPadding(0, 0, 1, 1).SetTitle(" " + title + " ")
	d.Flex.SetInputCapture(func(ev *tcell.EventKey) *tcell.EventKey {
		switch ev.Key() {
		case tcell.KeyUp, tcell.KeyDown, tcell.KeyPgUp, tcell.KeyPgDn, tcell.KeyHome, tcell.KeyEnd:
			d.text.InputHandler()(ev, func(tview.Primitive) {})
			return nil
		case tcell.KeyLeft:
			return tcell.NewEventKey(tcell.KeyBacktab, 0, tcell.ModNone)
		case tcell.KeyRight:
			return tcell.NewEventKey(tcell.KeyTab, 0, tcell.ModNone)
		case tcell.KeyRune:
		default:
			return ev
		}
		switch ev.Rune() {
		case 'j', 'k':
			d.text.InputHandler()(ev, func(tview.Primitive) {})
		case 'y', 'Y':
			if len(labels) > 1 {
				done(labels[1])
			}
		case 'n', 'N':
			done(labels[0])
		default:
			return ev
		}
		return nil
	})
	return d
}

// Draw sizes and centres the box on the screen, then draws it.
func (d *dialog) Draw(screen tcell.Screen) {
	sw, sh := screen.Size()
	w := min(max(d.widest, d.minW, 30)+4, dialogMaxWidth, sw-2) // border and padding: 4
	if d.render != nil {
		w = min(dialogMaxWidth, sw-2)
		if d.linesAt != w-4 {
			d.raw = d.render(w - 4)
			d.text.SetText(d.raw)
		}
	}
	if d.linesAt != w-4 {
		d.lines, d.linesAt = 0, w-4
		for _, l := range strings.Split(d.raw, "\n") {
			d.lines += max(1, len(tview.WordWrap(l, w-4)))
		}
	}
	h := min(d.lines+4, sh-2) // border 2, a blank line and the buttons
	x, y := (sw-w)/2, (sh-h)/2
	d.Flex.SetRect(x, y, w, h)
	// A Flex does not clear its cells: the view behind would show
	// through the padding.
	bg := tcell.StyleDefault.Background(d.Flex.GetBackgroundColor())
	for row := y; row < y+h; row++ {
		for col := x; col < x+w; col++ {
			screen.SetContent(col, row, ' ', nil, bg)
		}
	}
	d.Flex.Draw(screen)
	// Say which lines show. (TextView.GetWrappedLineCount would parse the
	// text without wrapping, its field width being 0, and leave it so.)
	total, shown := d.lines, h-4
	title := " " + d.title + " "
	if total > shown && shown > 0 {
		row, _ := d.text.GetScrollOffset()
		first := min(row, total-shown)
		title = fmt.Sprintf(" %s: lines %d–%d of %d, ↑↓ scroll ", d.title, first+1, first+shown, total)
	}
	if title != d.Flex.GetTitle() {
		d.Flex.SetTitle(title)
		d.Flex.Draw(screen)
	}
}

// showDialog shows a dialog on the page name, gives it the keyboard and
// names its keys in the hint line; choosing a button closes the page
// first.
func (a *App) showDialog(name, title, text string, labels []string, done func(label string)) {
	a.openDialog(name, newDialog(title, text, labels, a.closing(name, done)), labels)
}

// showDialogOf is showDialog with the text written for the dialog's
// width by render: the dialog takes the screen's width (up to
// dialogMaxWidth).
func (a *App) showDialogOf(name, title string, render func(width int) string, labels []string, done func(label string)) {
	d := newDialog(title, "", labels, a.closing(name, done))
	d.render = render
	a.openDialog(name, d, labels)
}

// closing is done after the page name closes.
func (a *App) closing(name string, done func(label string)) func(label string) {
	return func(label string) {
		a.closePage(name)
		done(label)
	}
}

func (a *App) openDialog(name string, d *dialog, labels []string) {
	a.pages.AddPage(name, d, true, true)
	a.app.SetFocus(d)
	hints := []hint{{"n", " " + labels[0], 0}}
	if len(labels) > 1 {
		hints = []hint{{"y", " " + labels[1], 0}, {"n", " " + labels[0], 0}}
	}
	hints = append(hints, hint{"Tab ←→", " choose", 1}, hint{"↑↓ PgUp PgDn", " scroll", 2}, hint{"Esc", " cancel", 0})
	a.hints.SetText(hintLine(hints, nil, a.width, a.th))
}
