package freeseg

import (
	"testing"
	"time"
)

// Classes present, largest first, with one decimal; absent ones left out.
func TestSummary(t *testing.T) {
	r := &Result{Width: 4, Height: 2, Classes: []string{"sky", "cat", "dog"}, Fractions: []float64{0.25, 0.75, 0}}
	want := "4x2 in 1.50s: cat 75.0%, sky 25.0%"
	if got := Summary(r, 1500*time.Millisecond); got != want {
		t.Fatalf("%q, want %q", got, want)
	}
}
