package gemm

import (
	"math"
	"testing"
	"time"
)

// TestPeaks checks the peak loops run and give plausible rates: the FMA
// loop is the most a core can do, so a measured product on one thread
// cannot be (much) faster, and VDPBF16PS does twice the flops of an FMA.
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
	// One thread gets at most the wall time in CPU time: its rate per
	// CPU-second is at least the wall rate.
	if p := FMAPeak(1, 50*time.Millisecond); p.PerCPU != 0 && p.PerCPU < 0.95*p.GFLOPS {
		t.Fatalf("FMA peak per CPU-second %g below the wall rate %g", p.PerCPU, p.GFLOPS)
	}
	bf, ok := BF16PeakGFLOPS(1, 50*time.Millisecond)
	t.Logf("one thread: FMA %.0f GFLOP/s, bf16 %.0f GFLOP/s (available %v)", fma, bf, ok)
	if ok != (bf16Native != nil) || (ok && (!(bf > 0) || math.IsInf(bf, 0))) {
		t.Fatalf("bf16 peak %g, ok %v, native kernel %v", bf, ok, bf16Native != nil)
	}
}
