package tensor

import (
	"math"
	"os"
	"testing"
)

// forEachLevel runs f once per SIMD level this machine supports, with that
// level forced.
func forEachLevel(t testing.TB, f func(t testing.TB, name string)) {
	for l := levelGeneric; l <= maxLevel; l++ {
		func() {
			old := setLevel(l)
			defer setLevel(old)
			f(t, levelNames[l])
		}()
	}
}

// ulpDiff is the distance in ulps between two non-negative float32s (for
// exp results), or -1 when exactly one of them is NaN.
func ulpDiff(got, want float32) int64 {
	gn, wn := got != got, want != want
	if gn || wn {
		if gn && wn {
			return 0
		}
		return -1
	}
	d := int64(math.Float32bits(got)) - int64(math.Float32bits(want))
	if math.Signbit(float64(got)) != math.Signbit(float64(want)) {
		if got == 0 && want == 0 {
			return 0
		}
		return math.MaxInt32
	}
	if d < 0 {
		d = -d
	}
	return d
}

var expSpecials = []float32{
	0, float32(math.Copysign(0, -1)), 1, -1, float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN()),
	88.72283, 88.72284, 88.7229, 88.75, 89, 100, 1e10, math.MaxFloat32,
	-87.33654, -87.3366, -100, -103.27893, -103.97, -103.9721, -103.973, -104, -105, -1e10, -math.MaxFloat32,
	math.SmallestNonzeroFloat32, -math.SmallestNonzeroFloat32, 1e-30, -1e-30, 0.34657359, -0.34657359, 0.3465736, -0.3465736,
}

// checkExpRange compares Exp with the correctly rounded exp on every step-th
// float32 bit pattern from lo to hi (same sign) and returns the largest
// error in ulps.
func checkExpRange(t testing.TB, lo, hi, step uint32) (worst int64, worstX float32) {
	const batch = 1 << 14
	src := make([]float32, 0, batch)
	dst := make([]float32, batch)
	flush := func() {
		Exp(dst, src)
		for i, x := range src {
			d := ulpDiff(dst[i], refExp(x))
			if d < 0 {
				t.Fatalf("Exp(%g) = %g, want %g", x, dst[i], refExp(x))
			}
			if d > worst {
				worst, worstX = d, x
			}
		}
		src = src[:0]
	}
	for b := uint64(lo); b <= uint64(hi); b += uint64(step) {
		src = append(src, math.Float32frombits(uint32(b)))
		if len(src) == batch {
			flush()
		}
	}
	flush()
	return worst, worstX
}

// TestExpAccuracy sweeps every 1000th float32 in [-104, 89] (every one with
// FREESEG_EXP_EXHAUSTIVE=1) plus special values at every SIMD level.
func TestExpAccuracy(t *testing.T) {
	step := uint32(1000)
	if os.Getenv("FREESEG_EXP_EXHAUSTIVE") != "" {
		step = 1
	} else if testing.Short() {
		step = 20011
	}
	forEachLevel(t, func(tb testing.TB, name string) {
		t := tb.(*testing.T)
		pw, px := checkExpRange(t, 0, math.Float32bits(89), step)
		nw, nx := checkExpRange(t, math.Float32bits(float32(math.Copysign(0, -1))), math.Float32bits(-104), step)
		t.Logf("%s: max error %d ulp at x=%g (x>=0), %d ulp at x=%g (x<0)", name, pw, px, nw, nx)
		if pw > 2 || nw > 2 {
			t.Errorf("%s: exp error above 2 ulp", name)
		}
		got := make([]float32, len(expSpecials))
		Exp(got, expSpecials)
		for i, x := range expSpecials {
			want := refExp(x)
			if d := ulpDiff(got[i], want); d < 0 || d > 2 {
				t.Errorf("%s: Exp(%g) = %g, want %g", name, x, got[i], want)
			}
		}
		// Exact special results.
		Exp(got[:4], []float32{float32(math.Inf(-1)), -1000, float32(math.Inf(1)), 1000})
		if got[0] != 0 || got[1] != 0 || !math.IsInf(float64(got[2]), 1) || !math.IsInf(float64(got[3]), 1) {
			t.Errorf("%s: Exp(-Inf, -1000, Inf, 1000) = %v", name, got[:4])
		}
	})
}

// TestExpLevelsAgree checks the SIMD kernels against the portable exp32.
func TestExpLevelsAgree(t *testing.T) {
	src := make([]float32, 0, 1<<16)
	for b := uint64(0); b < 1<<32; b += 65537 {
		src = append(src, math.Float32frombits(uint32(b)))
	}
	src = append(src, expSpecials...)
	want := make([]float32, len(src))
	old := setLevel(levelGeneric)
	Exp(want, src)
	setLevel(old)
	got := make([]float32, len(src))
	forEachLevel(t, func(tb testing.TB, name string) {
		Exp(got, src)
		var worst int64
		for i := range src {
			d := ulpDiff(got[i], want[i])
			if d < 0 || d > 1 {
				tb.Errorf("%s: Exp(%g) = %g, portable %g", name, src[i], got[i], want[i])
			}
			worst = max(worst, d)
		}
		tb.(*testing.T).Logf("%s vs generic: max %d ulp", name, worst)
	})
}

func FuzzExp(f *testing.F) {
	for _, x := range expSpecials {
		f.Add(x)
	}
	f.Fuzz(func(t *testing.T, x float32) {
		want := refExp(x)
		src := []float32{x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x}
		got := make([]float32, len(src))
		forEachLevel(t, func(tb testing.TB, name string) {
			// Full vector and masked tail.
			Exp(got, src)
			for i := range got {
				if d := ulpDiff(got[i], want); d < 0 || d > 2 {
					tb.Fatalf("%s: Exp(%g) = %g (lane %d), want %g", name, x, got[i], i, want)
				}
			}
		})
	})
}
