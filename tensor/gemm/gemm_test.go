package gemm

import (
	"math"
	"math/rand/v2"
	"testing"
)

// refSgemm is the textbook definition in float64, the independent reference.
func refSgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) []float32 {
	out := make([]float32, len(c))
	copy(out, c)
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var s float64
			for p := 0; p < k; p++ {
				var av, bv float32
				if transA {
					av = a[p*lda+i]
				} else {
					av = a[i*lda+p]
				}
				if transB {
					bv = b[j*ldb+p]
				} else {
					bv = b[p*ldb+j]
				}
				s += float64(av) * float64(bv)
			}
			old := float64(0)
			if beta != 0 {
				old = float64(beta) * float64(c[i*ldc+j])
			}
			out[i*ldc+j] = float32(float64(alpha)*s + old)
		}
	}
	return out
}

func randSlice(r *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = r.Float32()*2 - 1
	}
	return s
}

func closeEnough(t *testing.T, what string, got, want []float32, k int) {
	t.Helper()
	tol := 1e-5 * float64(k+1)
	for i := range want {
		if d := math.Abs(float64(got[i] - want[i])); d > tol || math.IsNaN(float64(got[i])) {
			t.Fatalf("%s: element %d = %g, want %g (|d|=%g > %g)", what, i, got[i], want[i], d, tol)
		}
	}
}

func TestSgemmAgainstReference(t *testing.T) { forEachKernel(t, testSgemmAgainstReference) }

func testSgemmAgainstReference(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	shapes := [][3]int{{1, 1, 1}, {3, 5, 7}, {17, 33, 65}, {197, 64, 64}, {31, 129, 250}, {64, 48, 1}, {5, 1, 300}}
	for _, s := range shapes {
		m, n, k := s[0], s[1], s[2]
		for _, tA := range []bool{false, true} {
			for _, tB := range []bool{false, true} {
				for _, ab := range [][2]float32{{1, 0}, {0.5, 1}, {-2, 0.25}} {
					lda, ldb, ldc := k+3, n+1, n+2
					if tA {
						lda = m + 3
					}
					if tB {
						ldb = k + 1
					}
					ar, br := m, k
					if tA {
						ar = k
					}
					if tB {
						br = n
					}
					a := randSlice(r, ar*lda)
					b := randSlice(r, br*ldb)
					c := randSlice(r, m*ldc)
					want := refSgemm(tA, tB, m, n, k, ab[0], a, lda, b, ldb, ab[1], c, ldc)
					for _, serial := range []bool{false, true} {
						got := append([]float32(nil), c...)
						if serial {
							SgemmSerial(tA, tB, m, n, k, ab[0], a, lda, b, ldb, ab[1], got, ldc)
						} else {
							Sgemm(tA, tB, m, n, k, ab[0], a, lda, b, ldb, ab[1], got, ldc)
						}
						closeEnough(t, "Sgemm", got, want, k)
					}
				}
			}
		}
	}
}

func TestSgemmBetaZeroIgnoresNaN(t *testing.T) { forEachKernel(t, testSgemmBetaZeroIgnoresNaN) }

func testSgemmBetaZeroIgnoresNaN(t *testing.T) {
	a := []float32{1, 2}
	b := []float32{3, 4}
	c := []float32{float32(math.NaN())}
	Sgemm(false, false, 1, 1, 2, 1, a, 2, b, 1, 0, c, 1)
	if c[0] != 11 {
		t.Fatalf("got %g, want 11", c[0])
	}
}

func TestSgemmPackedAgainstReference(t *testing.T) { forEachKernel(t, testSgemmPackedAgainstReference) }

func testSgemmPackedAgainstReference(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, s := range [][3]int{{1, 1, 1}, {197, 96, 128}, {13, 37, 19}, {50, 200, 33}} {
		m, n, k := s[0], s[1], s[2]
		for _, tB := range []bool{false, true} {
			ldb := n
			br := k
			if tB {
				ldb, br = k, n
			}
			a := randSlice(r, m*k)
			b := randSlice(r, br*ldb)
			bias := randSlice(r, n)
			c := randSlice(r, m*n)
			want := refSgemm(false, tB, m, n, k, 1.5, a, k, b, ldb, 0.5, c, n)
			for i := 0; i < m; i++ {
				for j := 0; j < n; j++ {
					want[i*n+j] += bias[j]
				}
			}
			pb := PackB(tB, k, n, b, ldb)
			got := append([]float32(nil), c...)
			SgemmPacked(m, 1.5, a, k, pb, 0.5, got, n, bias)
			closeEnough(t, "SgemmPacked", got, want, k)
		}
	}
}

func TestSgemmDeterministicAcrossThreads(t *testing.T) {
	forEachKernel(t, testSgemmDeterministicAcrossThreads)
}

func testSgemmDeterministicAcrossThreads(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	m, n, k := 197, 130, 300
	a, b := randSlice(r, m*k), randSlice(r, k*n)
	run := func(th int) []float32 {
		old := SetThreads(th)
		defer SetThreads(old)
		c := make([]float32, m*n)
		Sgemm(false, false, m, n, k, 1, a, k, b, n, 0, c, n)
		return c
	}
	one, many := run(1), run(7)
	for i := range one {
		if one[i] != many[i] {
			t.Fatalf("element %d differs between 1 and 7 threads: %g vs %g", i, one[i], many[i])
		}
	}
}

func TestSgemmBadArgsPanic(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("short A did not panic")
		}
	}()
	Sgemm(false, false, 2, 2, 2, 1, make([]float32, 3), 2, make([]float32, 4), 2, 0, make([]float32, 4), 2)
}
