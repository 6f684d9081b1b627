package numtest

import (
	"math"
	"strings"
	"testing"
)

// recorder is a testing.TB that records failures instead of failing.
type recorder struct {
	testing.TB
	errs []string
}

func (r *recorder) Helper()                   {}
func (r *recorder) Logf(string, ...any)       {}
func (r *recorder) Errorf(f string, a ...any) { r.errs = append(r.errs, f) }

func TestProblemCatchesWhatMaxLoopsMiss(t *testing.T) {
	nan, inf := float32(math.NaN()), float32(math.Inf(1))
	for _, c := range []struct {
		name      string
		got, want []float32
		tol       float64
		want1     string // substring of the problem, "" = none
	}{
		{"equal", []float32{1, 2}, []float32{1, 2}, 0, ""},
		{"within", []float32{1, 2.001}, []float32{1, 2}, 1e-2, ""},
		{"over", []float32{1, 2.1}, []float32{1, 2}, 1e-2, "index 1"},
		{"NaN got", []float32{1, nan}, []float32{1, 2}, 1, "value 1 is not finite"},
		{"NaN want", []float32{1, 2}, []float32{nan, 2}, 1, "value 0 is not finite"},
		{"Inf both", []float32{inf}, []float32{inf}, 1, "not finite"},
		{"-Inf", []float32{-inf}, []float32{0}, 1, "not finite"},
		{"NaN tol", []float32{1}, []float32{1}, math.NaN(), "tolerance"},
		{"length", []float32{1}, []float32{1, 2}, 1, "1 values, want 2"},
	} {
		_, p := Problem(c.got, c.want, c.tol)
		if (p == "") != (c.want1 == "") || !strings.Contains(p, c.want1) {
			t.Errorf("%s: problem %q, want one containing %q", c.name, p, c.want1)
		}
	}
	// The loop this replaces: max with NaN is NaN, and NaN > tol is false.
	worst := math.Max(0, math.NaN())
	if worst > 1e-5 {
		t.Fatal("the unsafe loop would have caught NaN; this test's premise is wrong")
	}
}

func TestAssertCloseFailsOnNaN(t *testing.T) {
	r := &recorder{TB: t}
	AssertClose(r, "x", []float64{math.NaN()}, []float64{0}, 1e9)
	AssertCloseRel(r, "y", []float32{1}, []float32{float32(math.Inf(-1))}, 1)
	if len(r.errs) != 2 {
		t.Fatalf("%d failures, want 2", len(r.errs))
	}
	r.errs = nil
	d := AssertClose(r, "z", []float32{1, 2, 3}, []float32{1, 2.5, 3}, 1)
	if len(r.errs) != 0 || d.MaxAbs != 0.5 || d.Worst != 1 || d.Differ != 1 || d.Peak != 3 {
		t.Fatalf("errs %v, diff %+v", r.errs, d)
	}
}

func TestNearAndPeak(t *testing.T) {
	if !Near(1, 1.05, 0.1) || Near(1, 1.2, 0.1) || Near(math.NaN(), 1, 10) || Near(1, math.Inf(1), 10) {
		t.Fatal("Near")
	}
	if Peak([]float32{-3, 2}) != 3 || !math.IsNaN(Peak([]float64{1, math.NaN()})) {
		t.Fatal("Peak")
	}
}
