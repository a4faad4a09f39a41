// Package progress shows the per-layer progress of pull and load as
// Docker does. On a terminal each layer has one line that is rewritten in
// place ("<id>: Downloading [=====>      ] 1.2MB/5.3MB", then "<id>: Pull
// complete"), by moving the cursor up to it and back; elsewhere (a file,
// a pipe) each step of a layer is one plain line and byte counts are not
// shown.
package progress

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// barWidth is the width of the bar between its brackets, as Docker's.
const barWidth = 50

// interval is the least time between two redraws of a layer's bytes.
const interval = 100 * time.Millisecond

// Display writes the progress of a pull or a load to one writer.
type Display struct {
	mu    sync.Mutex
	w     io.Writer
	tty   bool
	width int                  // the terminal's columns (0: unknown)
	order []string             // layer ids, in the order their lines were printed
	text  map[string]string    // each layer's current line
	last  map[string]time.Time // when each layer's bytes were last drawn
	now   func() time.Time
}

// New makes a Display (a nil Display shows nothing); tty selects the in-place display, width is the
// terminal's width in columns (0 when unknown).
func New(w io.Writer, tty bool, width int) *Display {
	return &Display{w: w, tty: tty, width: width, text: map[string]string{}, last: map[string]time.Time{}, now: time.Now}
}

// Line prints a line of its own, below the layers' lines.
func (d *Display) Line(s string) {
	if d == nil {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	fmt.Fprintln(d.w, d.fit(s))
	// A line below the layers' lines: they can no longer be reached by
	// counting from the bottom, so later layers start a new block.
	d.order = nil
	d.text = map[string]string{}
}

// Status sets a layer's line to a step ("Pulling fs layer", "Pull
// complete"). Steps are always shown, on a terminal and off it.
func (d *Display) Status(id, status string) {
	if d == nil {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.set(id, id+": "+status, true)
}

// Bytes shows a layer's transfer, action being "Downloading" or "Loading
// layer": on a terminal only, and at most every 100ms unless it is done.
func (d *Display) Bytes(id, action string, current, total int64) {
	if d == nil || !d.tty {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	done := total > 0 && current >= total
	t := d.now()
	if !done && t.Sub(d.last[id]) < interval {
		return
	}
	d.last[id] = t
	d.set(id, id+": "+action+" "+Bar(current, total), false)
}

// set draws id's line: a new line at the bottom the first time, then in
// place on a terminal; off a terminal only steps are printed.
func (d *Display) set(id, text string, step bool) {
	if !d.tty {
		if step && d.text[id] != text {
			d.text[id] = text
			fmt.Fprintln(d.w, text)
		}
		return
	}
	if _, ok := d.text[id]; !ok {
		d.order = append(d.order, id)
		d.text[id] = text
		fmt.Fprintln(d.w, d.fit(text))
		return
	}
	if d.text[id] == text {
		return
	}
	d.text[id] = text
	up := 0
	for i, o := range d.order {
		if o == id {
			up = len(d.order) - i
		}
	}
	// Up to the layer's line, clear it, write it, and back down.
	fmt.Fprintf(d.w, "\x1b[%dA\r\x1b[2K%s\r\x1b[%dB", up, d.fit(text), up)
}

// fit cuts a line to the terminal's width, so that it never wraps (a
// wrapped line would break the count of lines to move up).
func (d *Display) fit(s string) string {
	if d.tty && d.width > 1 && len(s) >= d.width {
		return s[:d.width-1]
	}
	return s
}

// Bar is Docker's progress bar: "[=====>     ] 1.2MB/5.3MB", or the bytes
// alone when the total is unknown.
func Bar(current, total int64) string {
	if total <= 0 {
		return HumanSize(current)
	}
	if current > total {
		current = total
	}
	n := int(float64(barWidth) * float64(current) / float64(total))
	bar := strings.Repeat("=", n)
	if n < barWidth {
		bar += ">" + strings.Repeat(" ", barWidth-n-1)
	}
	return fmt.Sprintf("[%s] %8s/%s", bar, HumanSize(current), HumanSize(total))
}

// HumanSize is a size with four significant digits and decimal units, as
// Docker prints them (1.234MB).
func HumanSize(n int64) string {
	units := []string{"B", "kB", "MB", "GB", "TB"}
	f := float64(n)
	i := 0
	for f >= 1000 && i < len(units)-1 {
		f /= 1000
		i++
	}
	return fmt.Sprintf("%.4g%s", f, units[i])
}

// Reader counts the bytes read through it and reports them to Bytes.
type Reader struct {
	R      io.Reader
	D      *Display
	ID     string
	Action string
	Total  int64
	n      int64
}

func (r *Reader) Read(p []byte) (int, error) {
	n, err := r.R.Read(p)
	r.n += int64(n)
	if r.D != nil && (n > 0 || r.n == 0) {
		r.D.Bytes(r.ID, r.Action, r.n, r.Total)
	}
	return n, err
}

// Count is the number of bytes read so far.
func (r *Reader) Count() int64 { return r.n }
