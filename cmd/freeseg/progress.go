package main

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/freeseg/freeseg/prompts"

	"github.com/freeseg/freeseg"
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

// classifierProgressAfter is how long a classifier build runs before its
// progress is shown (a variable for the tests).
var classifierProgressAfter = time.Second

// buildClassifier computes the text classifier of names before the first
// image (Engine.BuildClassifier), showing the progress of a build that
// takes over classifierProgressAfter on w. Nothing is printed when every
// name comes from the cache.
func buildClassifier(w io.Writer, eng *freeseg.Engine, names []string, templates prompts.TemplateSet, quiet bool) error {
	return eng.BuildClassifier(names, templates, classifierProgress(w, len(names), templates, quiet))
}

// classifierProgress is buildClassifier's report of j of n names encoded
// after el.
func classifierProgress(w io.Writer, n int, templates prompts.TemplateSet, quiet bool) func(j int, el time.Duration) {
	return func(j int, el time.Duration) {
		switch {
		case quiet || el < classifierProgressAfter:
		case j < n:
			eta := time.Duration(float64(el) / float64(j) * float64(n-j))
			fmt.Fprintf(w, "text classifier: %d/%d names, %s, ETA %s\n", j, n, el.Round(100*time.Millisecond), eta.Round(time.Second))
		default:
			fmt.Fprintf(w, "text classifier: %d names (%s templates) in %s\n", n, templates, el.Round(100*time.Millisecond))
		}
	}
}
