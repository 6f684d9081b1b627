package seg

import (
	"math"
	"slices"
	"testing"

	"github.com/freeseg/freeseg/internal/numtest"
)

// Zero steps is PAMR switched off: the mask comes back untouched and the
// dilations, unused, are not checked.
func TestPAMRZeroStepsIsOff(t *testing.T) {
	const H, W = 3, 4
	img := make([]float32, 3*H*W)
	for i := range img {
		img[i] = float32(i % 5)
	}
	mask := make([]float32, 2*H*W)
	for i := range mask {
		mask[i] = float32(i%7) / 7
	}
	want := slices.Clone(mask)
	for _, dil := range [][]int{{1}, {0}, {-3, 2}} {
		if err := PAMR(img, mask, 2, H, W, 0, dil); err != nil {
			t.Fatalf("0 steps, dilations %v: %v", dil, err)
		}
		if !slices.Equal(mask, want) {
			t.Fatalf("0 steps, dilations %v changed the mask", dil)
		}
	}
}

// Dilation 1 (the plain 3×3 neighbourhood) is the smallest valid one;
// with it a 1×1 or 1-wide image has neighbours as far as its width, all
// replicated border pixels.
func TestPAMRDilationOne(t *testing.T) {
	for _, c := range []struct{ H, W, d int }{{4, 5, 1}, {3, 1, 1}, {2, 2, 2}} {
		H, W, K := c.H, c.W, 2
		img := make([]float32, 3*H*W)
		for i := range img {
			img[i] = float32((i*7)%11) / 4
		}
		mask := make([]float32, K*H*W)
		for i := range mask {
			mask[i] = float32((i*5)%9) / 9
		}
		want := refPAMR(img, mask, K, H, W, 2, []int{c.d})
		if err := PAMR(img, mask, K, H, W, 2, []int{c.d}); err != nil {
			t.Fatalf("%+v: %v", c, err)
		}
		got := make([]float64, len(mask))
		for i, v := range mask {
			got[i] = float64(v)
		}
		if _, p := numtest.Problem(got, want, 1e-5); p != "" {
			t.Fatalf("%+v against the definition: %s", c, p)
		}
	}
	// A single pixel is its own 8 neighbours: the mask cannot change.
	mask := []float32{0.25, 0.75}
	if err := PAMR([]float32{1, 2, 3}, mask, 2, 1, 1, 3, []int{1}); err != nil || mask[0] != 0.25 || mask[1] != 0.75 {
		t.Fatalf("1x1 image: mask %v, %v; want it unchanged", mask, err)
	}
}

// The affinities depend on colour differences and their spread only, so
// adding a constant to the image changes nothing — also for a large
// constant, where the one-pass variance Σv² − n·mean² cancels
// catastrophically. The values are integers, exact in float32 both ways.
func TestPAMRShiftInvariant(t *testing.T) {
	const H, W, K = 5, 6, 2
	img := make([]float32, 3*H*W)
	for i := range img {
		img[i] = float32((i * 7) % 4)
	}
	shifted := slices.Clone(img)
	for i := range shifted {
		shifted[i] += 1 << 23
	}
	mask := make([]float32, K*H*W)
	for i := range mask {
		mask[i] = float32((i * 5) % 2)
	}
	a, b := slices.Clone(mask), slices.Clone(mask)
	if err := PAMR(img, a, K, H, W, 1, []int{1}); err != nil {
		t.Fatal(err)
	}
	if err := PAMR(shifted, b, K, H, W, 1, []int{1}); err != nil {
		t.Fatal(err)
	}
	for i := range a {
		if math.Abs(float64(a[i]-b[i])) > 1e-7 {
			t.Fatalf("value %d: %g for the image, %g for the image + 2^23", i, a[i], b[i])
		}
	}
}
