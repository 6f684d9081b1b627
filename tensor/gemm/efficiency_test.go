package gemm

import (
	"math"
	"testing"
	"time"
)

// TestMeasureEfficiency checks the shape of the answer on a short run:
// both M, at least one pair each, finite positive rates, ratios that agree
// with the rates they come from (the sizes belong to freeseg bench and
// BenchmarkEfficiency, which measure).
func TestMeasureEfficiency(t *testing.T) {
	before := SetThreads(3) // not the 2 measured with
	defer SetThreads(before)
	for _, bf16 := range []bool{false, true} {
		e, ok := MeasureEfficiency(2, 40*time.Millisecond, bf16)
		if !ok {
			if hasPeakFMA() && active.Load().fast {
				t.Fatal("no efficiency measured although the CPU has a peak loop")
			}
			t.Skip("no peak loop here")
		}
		if e.Threads != 2 || len(e.Sets) != 2 || e.Sets[0].M != 785 || e.Sets[1].M != 197 {
			t.Fatalf("bf16 %v: %+v", bf16, e)
		}
		wantPeak := "fma"
		if bf16 && BF16Kernel() == "avx512bf16" {
			wantPeak = "vdpbf16ps"
		}
		if bf16 && BF16Kernel() == "amxbf16" {
			wantPeak = "amx"
		}
		if e.Peak != wantPeak {
			t.Errorf("bf16 %v: rated against %q, want %q", bf16, e.Peak, wantPeak)
		}
		for _, s := range e.Sets {
			pos := func(x float64) bool { return x > 0 && !math.IsInf(x, 0) }
			if s.Pairs < 1 || !pos(s.Median) || !pos(s.Mean) || !pos(s.GEMMGFLOPS) || !pos(s.PeakGFLOPS) ||
				!(s.Min <= s.Median && s.Median <= s.Max) || s.CPU < 0 || math.IsNaN(s.CPU) || math.IsInf(s.CPU, 0) {
				t.Fatalf("bf16 %v: %+v", bf16, s)
			}
			if r := s.GEMMGFLOPS / s.PeakGFLOPS; math.Abs(r-s.Mean) > 1e-9*r {
				t.Errorf("bf16 %v, M=%d: mean ratio %g, rates give %g", bf16, s.M, s.Mean, r)
			}
			t.Logf("bf16 %v, M=%d: %d pairs, median %.2f (%.2f-%.2f), mean %.2f, CPU %.2f; GEMM %.0f, peak %.0f GFLOP/s",
				bf16, s.M, s.Pairs, s.Median, s.Min, s.Max, s.Mean, s.CPU, s.GEMMGFLOPS, s.PeakGFLOPS)
		}
	}
	// The thread setting is restored.
	if Threads() != 3 {
		t.Errorf("threads left at %d", Threads())
	}
}
