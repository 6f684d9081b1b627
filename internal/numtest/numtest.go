// Package numtest is the one comparison of numeric results used by the
// tests (docs/testing.md). It fails on NaN or ±Inf on either side: a
// maximum-error loop built on math.Max or max lets NaN through, because
// max(x, NaN) is NaN and NaN > tol is false.
package numtest

import (
	"fmt"
	"math"
	"testing"
)

// Float is what the helpers compare.
type Float interface{ ~float32 | ~float64 }

// Diff summarises how far got is from want.
type Diff struct {
	N      int     // values compared
	MaxAbs float64 // largest |got-want| (+Inf when a value is not finite)
	Worst  int     // index of MaxAbs
	MaxRel float64 // largest |got-want| / max(|want|, 1e-3·peak)
	Peak   float64 // largest |want|
	Differ int     // how many values differ at all
	// NonFinite is the index of the first NaN or ±Inf in got or want, -1
	// when there is none.
	NonFinite int
}

// Compare measures got against want; it does not fail anything. Lengths
// must match (the shorter is compared).
func Compare[T Float](got, want []T) Diff {
	n := min(len(got), len(want))
	d := Diff{N: n, NonFinite: -1}
	for i := 0; i < n; i++ {
		g, w := float64(got[i]), float64(want[i])
		if !finite(g) || !finite(w) {
			if d.NonFinite < 0 {
				d.NonFinite = i
			}
			continue
		}
		if a := math.Abs(w); a > d.Peak {
			d.Peak = a
		}
	}
	floor := d.Peak * 1e-3
	for i := 0; i < n; i++ {
		g, w := float64(got[i]), float64(want[i])
		a := math.Abs(g - w)
		if !finite(g) || !finite(w) {
			a = math.Inf(1)
		}
		if a != 0 {
			d.Differ++
		}
		if a > d.MaxAbs {
			d.MaxAbs, d.Worst = a, i
		}
		if den := math.Max(math.Abs(w), floor); den > 0 {
			if r := a / den; r > d.MaxRel {
				d.MaxRel = r
			}
		} else if a > 0 && d.MaxRel < math.Inf(1) {
			d.MaxRel = math.Inf(1)
		}
	}
	return d
}

func finite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }

// Problem returns why got is not within absTol of want ("" when it is):
// a length mismatch, a NaN or Inf on either side, a tolerance that is
// negative or NaN, or the largest difference over the tolerance, with the
// index and both values.
func Problem[T Float](got, want []T, absTol float64) (Diff, string) {
	d := Compare(got, want)
	switch {
	case len(got) != len(want):
		return d, fmt.Sprintf("%d values, want %d", len(got), len(want))
	case !(absTol >= 0):
		return d, fmt.Sprintf("tolerance %g is not a non-negative number", absTol)
	case d.NonFinite >= 0:
		i := d.NonFinite
		return d, fmt.Sprintf("value %d is not finite: got %g, want %g", i, float64(got[i]), float64(want[i]))
	case d.MaxAbs > absTol:
		i := d.Worst
		return d, fmt.Sprintf("max |got-want| = %.4g at index %d (got %.8g, want %.8g) exceeds the tolerance %.3g; %d of %d values differ",
			d.MaxAbs, i, float64(got[i]), float64(want[i]), absTol, d.Differ, d.N)
	}
	return d, ""
}

// AssertClose fails the test (without stopping it) when got differs from
// want by more than absTol anywhere, or either holds a NaN or Inf. It logs
// the measured error either way, prefixed "parity" so the numbers can be
// gathered with grep.
func AssertClose[T Float](t testing.TB, what string, got, want []T, absTol float64) Diff {
	t.Helper()
	d, p := Problem(got, want, absTol)
	t.Logf("parity %-40s max|Δ|=%.3g maxrel=%.3g (tol %.1g)", what, d.MaxAbs, d.MaxRel, absTol)
	if p != "" {
		t.Errorf("%s: %s", what, p)
	}
	return d
}

// AssertCloseRel is AssertClose with the tolerance rel·max|want|.
func AssertCloseRel[T Float](t testing.TB, what string, got, want []T, rel float64) Diff {
	t.Helper()
	return AssertClose(t, what, got, want, rel*Peak(want))
}

// Peak is max |x|, or NaN when x holds a NaN or Inf (so that a tolerance
// derived from it makes AssertClose fail).
func Peak[T Float](x []T) float64 {
	var p float64
	for _, v := range x {
		f := float64(v)
		if !finite(f) {
			return math.NaN()
		}
		p = math.Max(p, math.Abs(f))
	}
	return p
}

// Near reports whether got is within tol of want, both finite (a scalar
// check that fails on NaN, unlike math.Abs(got-want) > tol).
func Near(got, want, tol float64) bool {
	return finite(got) && finite(want) && math.Abs(got-want) <= tol
}
