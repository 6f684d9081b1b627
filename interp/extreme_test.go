package interp

import (
	"math"
	"strings"
	"testing"
)

// Sizes PyTorch refuses never panic: an empty input (a positional table of
// one row leaves a 0×0 grid) gives nil and CheckSizes says why; an output
// side of 0 becomes one pixel.
func TestResizesNeverPanic(t *testing.T) {
	for _, tc := range []struct{ c, h, w, n int }{{768, 0, 0, 0}, {3, 2, 0, 0}, {3, -1, 4, 0}, {3, 2, 2, 5}} {
		if out := ResizeBilinearTorch(make([]float32, tc.n), tc.c, tc.h, tc.w, 14, 14, false); out != nil {
			t.Fatalf("bilinear of [%d,%d,%d] with %d values: %d outputs, want nil", tc.c, tc.h, tc.w, tc.n, len(out))
		}
		if out := ResizeBilinearTorchChannelsLast(make([]float32, tc.n), tc.c, tc.h, tc.w, 14, 14, false); out != nil {
			t.Fatalf("channels-last bilinear of [%d,%d,%d]: %d outputs, want nil", tc.c, tc.h, tc.w, len(out))
		}
		if out := ResizeBicubicTorch(make([]float32, tc.n), tc.c, tc.h, tc.w, 14, 14, 0, 0); out != nil {
			t.Fatalf("bicubic of [%d,%d,%d]: %d outputs, want nil", tc.c, tc.h, tc.w, len(out))
		}
	}
	if err := CheckSizes(768, 0, 0, 14, 14); err == nil || !strings.Contains(err.Error(), "[768,0,0]") {
		t.Fatalf("CheckSizes of an empty grid: %v", err)
	}
	if err := CheckSizes(768, 14, 14, 20, 30); err != nil {
		t.Fatal(err)
	}
	// 2×2 → 0×0 becomes 1×1: src = (0+0.5)·2 − 0.5 = 0.5 in both axes, the
	// mean of the four values (hand-computed).
	src := []float32{1, 2, 3, 4, 10, 20, 30, 40}
	out := ResizeBilinearTorch(src, 2, 2, 2, 0, 0, false)
	if len(out) != 2 || out[0] != 2.5 || out[1] != 25 {
		t.Fatalf("2x2 to 0x0: %v, want [2.5 25]", out)
	}
	// A 1×1 input broadcast: every output equals it (the cubic weights sum
	// to 1 up to float32 rounding).
	out = ResizeBicubicTorch([]float32{7}, 1, 1, 1, 3, 2, 0, 0)
	for _, v := range out {
		if math.Abs(float64(v)-7) > 1e-5 || len(out) != 6 {
			t.Fatalf("1x1 to 3x2 bicubic: %v", out)
		}
	}
}
