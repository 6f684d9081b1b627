package dense

import (
	"math"
	"testing"
)

// naiveProxy is the reference's proxy attention with the whole n×n matrix,
// in float64: S = F·Fᵀ, Z = (S − β·mean(S))·γ, Z < 0 masked, row softmax
// (unmasked when a row has nothing left), times V.
func naiveProxy(F, V []float32, n, C, D int, beta, gamma float64) []float64 {
	S := make([]float64, n*n)
	var mean float64
	for i := 0; i < n; i++ {
		for j := 0; j < n; j++ {
			var s float64
			for c := 0; c < C; c++ {
				s += float64(F[i*C+c]) * float64(F[j*C+c])
			}
			S[i*n+j] = s
			mean += s
		}
	}
	mean /= float64(n * n)
	out := make([]float64, n*D)
	for i := 0; i < n; i++ {
		z := make([]float64, n)
		kept := false
		for j := range z {
			z[j] = (S[i*n+j] - beta*mean) * gamma
			if z[j] >= 0 {
				kept = true
			}
		}
		mx := math.Inf(-1)
		for j := range z {
			if kept && z[j] < 0 {
				z[j] = math.Inf(-1)
			}
			mx = math.Max(mx, z[j])
		}
		var sum float64
		for j := range z {
			z[j] = math.Exp(z[j] - mx)
			sum += z[j]
		}
		for j := range z {
			for d := 0; d < D; d++ {
				out[i*D+d] += z[j] / sum * float64(V[j*D+d])
			}
		}
	}
	return out
}

func checkProxy(t *testing.T, F, V []float32, n, C, D int, beta, gamma float64) {
	t.Helper()
	got := make([]float32, n*D)
	proxyAttention(got, F, V, n, C, D, beta, gamma)
	want := naiveProxy(F, V, n, C, D, beta, gamma)
	for i := range want {
		if d := math.Abs(float64(got[i]) - want[i]); d > 2e-5 || math.IsNaN(float64(got[i])) {
			t.Fatalf("beta %g gamma %g: value %d = %g, want %g", beta, gamma, i, got[i], want[i])
		}
	}
}

// The blocked proxy attention (64 rows at a time, mean in closed form)
// equals the whole-matrix computation, over more than one row block.
func TestProxyAttentionBlocked(t *testing.T) {
	const n, C, D = 150, 24, 40
	F := make([]float32, n*C)
	V := make([]float32, n*D)
	for i := range F {
		F[i] = float32(math.Sin(float64(i)*0.71) + 0.3*math.Cos(float64(i/C)*0.2))
	}
	for i := range V {
		V[i] = float32(math.Cos(float64(i) * 1.3))
	}
	normalizeRows(F, n, C)
	for _, bg := range [][2]float64{{1.2, 3}, {0, 1}, {0.5, 10}} {
		checkProxy(t, F, V, n, C, D, bg[0], bg[1])
	}
}

// Near-constant features put β·mean(S) above every similarity: the
// reference's rows would be all −Inf (NaN); freeseg falls back to the
// unmasked softmax, finite and equal to the naive fallback.
func TestProxyAttentionFullyMasked(t *testing.T) {
	const n, C, D = 70, 8, 16
	F := make([]float32, n*C)
	V := make([]float32, n*D)
	for i := range F {
		F[i] = 1 + 1e-3*float32(math.Sin(float64(i)))
	}
	for i := range V {
		V[i] = float32(i % 7)
	}
	normalizeRows(F, n, C)
	checkProxy(t, F, V, n, C, D, 1.2, 3)
}
