package tensor

import (
	"math"
	"testing"
)

// geluTol is the relative error allowed at each level: about one ulp for
// the portable table, and for the AVX-512 kernel (float32 erfc) 1.5e-6 where
// x ≥ −5 and 1e-5 below, where the values are under 2e-6·|x| (see GELU).
func geluTol(level string, x float32, want float64) float64 {
	if level != "avx512" {
		return 1.5 * ulp(float32(want))
	}
	if x >= -5 {
		return 1.5e-6 * math.Abs(want)
	}
	return 1e-5 * math.Abs(want)
}

// Reference values of x·Φ(x) from the standard normal distribution function
// (Φ(1) = 0.8413447460685429, Φ(−1) = 0.15865525393145707, Φ(2) =
// 0.9772498680518208, Φ(−3) = 0.0013498980316301035, Φ(0.5) =
// 0.6914624612740131, Φ(−10) = 7.619853024160527e-24), written out by hand,
// not computed by the code under test; and QuickGELU(1) to show the two
// activations differ where it matters.
func TestGELUValues(t *testing.T) {
	cases := []struct{ x, want float64 }{
		{0, 0},
		{1, 0.8413447460685429},
		{-1, -0.15865525393145707},
		{2, 2 * 0.9772498680518208},
		{-3, -3 * 0.0013498980316301035},
		{0.5, 0.5 * 0.6914624612740131},
		{10, 10},
		{-10, -10 * 7.619853024160527e-24},
	}
	forEachLevel(t, func(t testing.TB, name string) {
		for _, c := range cases {
			x := []float32{float32(c.x)}
			GELU(x)
			if d := math.Abs(float64(x[0]) - c.want); !(d <= geluTol(name, float32(c.x), c.want)+1e-45) {
				t.Errorf("%s: GELU(%g) = %.9g, want %.9g (off by %g)", name, c.x, x[0], c.want, d)
			}
		}
		q := []float32{1}
		QuickGELU(q)
		g := []float32{1}
		GELU(g)
		if math.Abs(float64(q[0]-g[0])) < 1e-3 {
			t.Fatalf("%s: GELU(1) = %g and QuickGELU(1) = %g should differ by about 4e-3", name, g[0], q[0])
		}
	})
}

// GELU against the float64 formula with math.Erf/Erfc over a dense sweep,
// points between the portable table's nodes, slices of every length (the
// AVX-512 tails), the tails of the distribution, NaN and the infinities.
// (Below 1e-38, in the subnormals, the kernel may flush to zero.)
func TestGELUSweep(t *testing.T) {
	var xs []float32
	for v := -25.0; v <= 25; v += 0.001953125 {
		xs = append(xs, float32(v))
	}
	for i := 0; i < 20000; i++ {
		xs = append(xs, float32(math.Sin(float64(i)*12.9898))*10.5)
	}
	xs = append(xs, 1e-30, -1e-30, 3e38, -3e38, 10, -10, math.Nextafter32(10, 0), math.Nextafter32(-10, 0), 9.999999, -9.999999)
	forEachLevel(t, func(t testing.TB, name string) {
		for _, n := range []int{1, 7, 15, 16, 17, 33, len(xs)} {
			got := append([]float32(nil), xs[:n]...)
			GELU(got)
			for i, x := range xs[:n] {
				z := float64(x)
				want := 0.5 * z * math.Erfc(-z/math.Sqrt2)
				if z >= 0 {
					want = 0.5 * z * (1 + math.Erf(z/math.Sqrt2))
				}
				if math.IsInf(want, 0) || math.IsNaN(want) {
					want = z // ±3e38·Φ: the product overflowed in the check
				}
				if d := math.Abs(float64(got[i]) - want); !(d <= geluTol(name, x, want)+1e-38) {
					t.Fatalf("%s n=%d: GELU(%g) = %.9g, want %.9g", name, n, x, got[i], want)
				}
			}
		}
		special := []float32{float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1))}
		GELU(special)
		if !math.IsNaN(float64(special[0])) || !math.IsInf(float64(special[1]), 1) || special[2] != 0 {
			t.Fatalf("%s: GELU(NaN, +Inf, -Inf) = %v, want NaN, +Inf, 0", name, special)
		}
	})
}

func ulp(f float32) float64 {
	a := math.Abs(float64(f))
	if a == 0 {
		return 0
	}
	return float64(math.Nextafter32(float32(a), float32(math.Inf(1)))) - a
}

func BenchmarkGELU(b *testing.B) {
	src := make([]float32, 785*3072)
	for i := range src {
		src[i] = float32(math.Sin(float64(i)*0.37)) * 4
	}
	x := make([]float32, len(src))
	forEachLevel(b, func(tb testing.TB, name string) {
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(4 * len(x)))
			for b.Loop() {
				copy(x, src)
				GELU(x)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(x)), "ns/elem")
		})
	})
}
