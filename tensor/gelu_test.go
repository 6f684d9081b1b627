package tensor

import (
	"math"
	"testing"
)

// Reference values of x·Φ(x) from the standard normal distribution function
// (Φ(1) = 0.8413447460685429, Φ(−1) = 0.15865525393145707, Φ(2) =
// 0.9772498680518208, Φ(−3) = 0.0013498980316301035, Φ(0.5) =
// 0.6914624612740131), written out by hand, not computed by the code under
// test; and the QuickGELU value at 1 (σ(1.702) · 1 = 0.84579...) to show the
// two activations differ where it matters.
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
	for _, c := range cases {
		x := []float32{float32(c.x)}
		GELU(x)
		want := float32(c.want)
		if d := math.Abs(float64(x[0] - want)); d > 1.5*ulp(want) {
			t.Errorf("GELU(%g) = %.9g, want %.9g (off by %g)", c.x, x[0], want, d)
		}
	}
	q := []float32{1}
	QuickGELU(q)
	g := []float32{1}
	GELU(g)
	if math.Abs(float64(q[0]-g[0])) < 1e-3 {
		t.Fatalf("GELU(1) = %g and QuickGELU(1) = %g should differ by about 4e-3", g[0], q[0])
	}
}

// GELU against the float64 formula with math.Erf over a dense sweep,
// including the tails, NaN and the infinities.
func TestGELUSweep(t *testing.T) {
	var xs []float32
	for v := -12.0; v <= 12; v += 0.001953125 {
		xs = append(xs, float32(v))
	}
	// Points between the table's nodes and at its ends.
	for i := 0; i < 20000; i++ {
		xs = append(xs, float32(math.Sin(float64(i)*12.9898))*10.5)
	}
	xs = append(xs, 1e-30, -1e-30, 3e38, -3e38, 10, -10, math.Nextafter32(10, 0), math.Nextafter32(-10, 0), 9.999999, -9.999999)
	got := append([]float32(nil), xs...)
	GELU(got)
	for i, x := range xs {
		z := float64(x)
		want := float32(z * 0.5 * (1 + math.Erf(z/math.Sqrt2)))
		tol := 1.5*ulp(want) + 1e-37
		if z < -5 {
			// 1 + erf cancels in the formula of the check; compare against
			// the tail bound |x·Φ(x)| < |x|·φ(x)/|x| instead.
			bound := math.Exp(-z*z/2) / math.Sqrt(2*math.Pi)
			if got[i] > 0 || float64(-got[i]) > bound*1.0001 {
				t.Fatalf("GELU(%g) = %g, want in [-%g, 0]", x, got[i], bound)
			}
			continue
		}
		if d := math.Abs(float64(got[i] - want)); d > tol {
			t.Fatalf("GELU(%g) = %.9g, want %.9g", x, got[i], want)
		}
	}
	special := []float32{float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1))}
	GELU(special)
	if !math.IsNaN(float64(special[0])) || !math.IsInf(float64(special[1]), 1) || special[2] != 0 {
		t.Fatalf("GELU(NaN, +Inf, -Inf) = %v, want NaN, +Inf, 0", special)
	}
}

func ulp(f float32) float64 {
	a := math.Abs(float64(f))
	if a == 0 {
		return 0
	}
	return float64(math.Nextafter32(float32(a), float32(math.Inf(1)))) - a
}

func BenchmarkGELU(b *testing.B) {
	x := make([]float32, 4096)
	for i := range x {
		x[i] = float32(i%200)/25 - 4
	}
	b.SetBytes(int64(4 * len(x)))
	for b.Loop() {
		GELU(x)
	}
}
