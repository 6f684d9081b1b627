package gemm

import (
	"math"
	"testing"
	"time"
)

// TestPeaks checks the peak loops run where the CPU has them and report
// positive finite rates (their size is for freeseg bench to measure).
func TestPeaks(t *testing.T) {
	fma := FMAPeakGFLOPS(1, 50*time.Millisecond)
	if !hasPeakFMA() {
		if fma != 0 {
			t.Fatalf("no AVX-512 but FMA peak %g", fma)
		}
		t.Skip("no AVX-512")
	}
	// Only the shape of the answer is checked: its size depends on the
	// machine and its load (measurements belong to freeseg bench).
	if !(fma > 0) || math.IsInf(fma, 0) {
		t.Fatalf("FMA peak %g GFLOP/s is not a positive finite rate", fma)
	}
	// The rate per CPU-second is 0 (not measured) or positive and finite.
	if p := FMAPeak(1, 50*time.Millisecond); p.PerCPU < 0 || math.IsInf(p.PerCPU, 0) || math.IsNaN(p.PerCPU) {
		t.Fatalf("FMA peak per CPU-second %g", p.PerCPU)
	}
	bf, ok := BF16PeakGFLOPS(1, 50*time.Millisecond)
	t.Logf("one thread: FMA %.0f GFLOP/s, bf16 %.0f GFLOP/s (available %v)", fma, bf, ok)
	if ok != (bf16Native != nil) || (ok && (!(bf > 0) || math.IsInf(bf, 0))) {
		t.Fatalf("bf16 peak %g, ok %v, native kernel %v", bf, ok, bf16Native != nil)
	}
}
