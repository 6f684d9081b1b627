package gemm

import (
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
	if !(fma > 10 && fma < 1e4) {
		t.Fatalf("FMA peak %g GFLOP/s per core is implausible", fma)
	}
	bf, ok := BF16PeakGFLOPS(1, 50*time.Millisecond)
	t.Logf("one thread: FMA %.0f GFLOP/s, bf16 %.0f GFLOP/s (available %v)", fma, bf, ok)
	if ok != (bf16Native != nil) || (ok && !(bf > 10 && bf < 2e4)) {
		t.Fatalf("bf16 peak %g, ok %v, native kernel %v", bf, ok, bf16Native != nil)
	}
}
