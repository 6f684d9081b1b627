package main

import (
	"fmt"
	"io"
	"os"
	"time"
)

// progress prints one summary line per item with a count and, for more
// than one item, the elapsed time and an ETA.
type progress struct {
	w     io.Writer
	total int
	quiet bool
	start time.Time
}

func newProgress(w io.Writer, total int, quiet bool) *progress {
	return &progress{w: w, total: total, quiet: quiet, start: time.Now()}
}

func (p *progress) done(i int, name, summary string) {
	if p.quiet {
		return
	}
	if p.total == 1 {
		fmt.Fprintf(p.w, "%s: %s\n", name, summary)
		return
	}
	el := time.Since(p.start)
	eta := time.Duration(float64(el) / float64(i+1) * float64(p.total-i-1))
	fmt.Fprintf(p.w, "[%d/%d %s, ETA %s] %s: %s\n", i+1, p.total, el.Round(time.Second), eta.Round(time.Second), name, summary)
}

// isTerminal reports whether w is a character device (for bars that redraw).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
