package hub

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// Redraw intervals of the progress bar: on a terminal the line is redrawn
// in place, elsewhere (a log file, CI) a new line is written now and then.
var (
	barRedrawTTY = 150 * time.Millisecond
	barLineEvery = 5 * time.Second
)

// bar shows a file's download: bytes, percentage, rate and ETA. It is an
// io.Writer that counts what is written through it.
type bar struct {
	w     io.Writer // nil: silent
	tty   bool
	name  string
	total int64 // -1 when unknown
	done  int64
	base  int64 // bytes already there when the transfer began (resume)
	start time.Time
	last  time.Time
	drawn bool
	now   func() time.Time
}

func newBar(w io.Writer, name string, total, done int64) *bar {
	b := &bar{w: w, tty: isTerminal(w), name: name, total: total, done: done, base: done, now: time.Now}
	b.start = b.now()
	b.last = b.start
	return b
}

func (b *bar) Write(p []byte) (int, error) {
	b.done += int64(len(p))
	if b.w == nil {
		return len(p), nil
	}
	now := b.now()
	every := barLineEvery
	if b.tty {
		every = barRedrawTTY
	}
	if now.Sub(b.last) >= every {
		b.last = now
		b.draw(now)
	}
	return len(p), nil
}

func (b *bar) draw(now time.Time) {
	if b.tty {
		fmt.Fprintf(b.w, "\r%s\x1b[K", b.line(now))
		b.drawn = true
		return
	}
	fmt.Fprintln(b.w, b.line(now))
}

// line is "NAME [=====>    ]  12.3 MB / 45.6 MB  27%  3.4 MB/s  ETA 10s".
func (b *bar) line(now time.Time) string {
	var s strings.Builder
	s.WriteString(b.name)
	el := now.Sub(b.start).Seconds()
	rate := 0.0
	if el > 0 {
		rate = float64(b.done-b.base) / el
	}
	if b.total > 0 {
		frac := min(float64(b.done)/float64(b.total), 1)
		if b.tty {
			const width = 24
			n := int(frac * width)
			s.WriteString("  [" + strings.Repeat("=", n))
			if n < width {
				s.WriteString(">" + strings.Repeat(" ", width-n-1))
			}
			s.WriteString("]")
		}
		fmt.Fprintf(&s, "  %s / %s  %3.0f%%", formatBytes(b.done), formatBytes(b.total), 100*frac)
	} else {
		fmt.Fprintf(&s, "  %s", formatBytes(b.done))
	}
	if rate > 0 {
		fmt.Fprintf(&s, "  %s/s", formatBytes(int64(rate)))
		if b.total > 0 && b.done < b.total {
			eta := time.Duration(float64(b.total-b.done) / rate * float64(time.Second))
			fmt.Fprintf(&s, "  ETA %s", formatDuration(eta))
		}
	}
	return s.String()
}

// finish writes the file's summary line.
func (b *bar) finish() {
	if b.w == nil {
		return
	}
	now := b.now()
	el := now.Sub(b.start)
	msg := fmt.Sprintf("%s  %s", b.name, formatBytes(b.done))
	if got := b.done - b.base; got > 0 && el > 0 {
		msg += fmt.Sprintf(" in %s (%s/s)", formatDuration(el), formatBytes(int64(float64(got)/el.Seconds())))
	}
	if b.base > 0 {
		msg += fmt.Sprintf(", resumed at %s", formatBytes(b.base))
	}
	if b.tty {
		fmt.Fprintf(b.w, "\r%s\x1b[K\n", msg)
		return
	}
	fmt.Fprintln(b.w, msg)
}

// abort ends a redrawn line so that the next message starts on its own.
func (b *bar) abort() {
	if b.w != nil && b.tty && b.drawn {
		fmt.Fprintln(b.w)
	}
}

func formatBytes(n int64) string {
	switch {
	case n < 1000:
		return fmt.Sprintf("%d B", n)
	case n < 1000*1000:
		return fmt.Sprintf("%.1f kB", float64(n)/1e3)
	case n < 1000*1000*1000:
		return fmt.Sprintf("%.1f MB", float64(n)/1e6)
	}
	return fmt.Sprintf("%.2f GB", float64(n)/1e9)
}

func formatDuration(d time.Duration) string {
	s := int64(d.Round(time.Second) / time.Second)
	switch {
	case s < 60:
		return fmt.Sprintf("%ds", s)
	case s < 3600:
		return fmt.Sprintf("%dm%02ds", s/60, s%60)
	}
	return fmt.Sprintf("%dh%02dm", s/3600, s/60%60)
}

// isTerminal reports whether w is a character device.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
