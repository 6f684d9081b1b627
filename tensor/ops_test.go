package tensor

import (
	"fmt"
	"math"
	"math/rand"
	"testing"
)

// testLengths are the lengths the kernels are checked at: every length up
// to 200 (all tail sizes and loop unrollings) and a few model widths.
var testLengths = func() []int {
	var ls []int
	for n := 1; n <= 200; n++ {
		ls = append(ls, n)
	}
	return append(ls, 255, 256, 257, 785, 3072)
}()

var (
	inf  = float32(math.Inf(1))
	ninf = float32(math.Inf(-1))
	nan  = float32(math.NaN())
)

func randSlice(n int, scale float32, seed int64) []float32 {
	r := rand.New(rand.NewSource(seed))
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(r.NormFloat64()) * scale
	}
	return s
}

// closeTo reports whether got is within rel·|want| + abs of want, NaN
// matching NaN and infinities matching exactly.
func closeTo(got, want float32, rel, abs float64) bool {
	if want != want || got != got {
		return want != want && got != got
	}
	if math.IsInf(float64(want), 0) || math.IsInf(float64(got), 0) {
		return got == want
	}
	return math.Abs(float64(got)-float64(want)) <= rel*math.Abs(float64(want))+abs
}

func TestExpLengths(t *testing.T) {
	forEachLevel(t, func(t testing.TB, name string) {
		for _, n := range testLengths {
			src := guarded(t, n)
			copy(src, randSlice(n, 30, int64(n)))
			dst := guarded(t, n)
			Exp(dst, src)
			for i, x := range src {
				if d := ulpDiff(dst[i], refExp(x)); d < 0 || d > 2 {
					t.Fatalf("%s n=%d: Exp(%g) = %g, want %g", name, n, x, dst[i], refExp(x))
				}
			}
			Exp(src, src) // in place
			for i := range src {
				if src[i] != dst[i] {
					t.Fatalf("%s n=%d: in-place Exp differs at %d", name, n, i)
				}
			}
		}
	})
}

func TestQuickGELU(t *testing.T) {
	forEachLevel(t, func(t testing.TB, name string) {
		var worst float64
		for _, n := range testLengths {
			x := guarded(t, n)
			copy(x, randSlice(n, 4, int64(n)))
			if n > 20 {
				copy(x, []float32{inf, ninf, nan, 1e30, -1e30, 100, -100, 60, -60, 52, -52, 0, float32(math.Copysign(0, -1)), 1e-30, -1e-30, 1e-40})
			}
			want := append([]float32(nil), x...)
			refQuickGELU(want)
			QuickGELU(x)
			for i := range x {
				if !closeTo(x[i], want[i], 5e-7, 1e-37) {
					t.Fatalf("%s n=%d: QuickGELU[%d] = %g, want %g", name, n, i, x[i], want[i])
				}
				if want[i] != 0 && !math.IsInf(float64(want[i]), 0) && want[i] == want[i] {
					worst = max(worst, math.Abs(float64(x[i]-want[i])/float64(want[i])))
				}
			}
		}
		t.(*testing.T).Logf("%s: max relative error %.3g", name, worst)
	})
}

func TestAddScale(t *testing.T) {
	forEachLevel(t, func(t testing.TB, name string) {
		for _, n := range testLengths {
			dst, src := guarded(t, n), guarded(t, n)
			a, b := randSlice(n, 1, int64(n)), randSlice(n, 1, int64(n)+1)
			copy(dst, a)
			copy(src, b)
			Add(dst, src)
			for i := range dst {
				if dst[i] != a[i]+b[i] {
					t.Fatalf("%s n=%d: Add[%d] = %g, want %g", name, n, i, dst[i], a[i]+b[i])
				}
			}
			Scale(dst, 0.37)
			for i := range dst {
				if want := (a[i] + b[i]) * 0.37; dst[i] != want {
					t.Fatalf("%s n=%d: Scale[%d] = %g, want %g", name, n, i, dst[i], want)
				}
			}
		}
		// Add reads only len(src) values and leaves the rest of dst.
		dst := []float32{1, 2, 3, 4, 5}
		Add(dst, []float32{1, 1, 1})
		if fmt.Sprint(dst) != "[2 3 4 4 5]" {
			t.Errorf("%s: Add with short src = %v", name, dst)
		}
		Add(nil, nil)
		Scale(nil, 2)
	})
}

// softmaxInput fills rows of n logits (stride ld, padding set to 7) with
// attention-like values and some special entries.
func softmaxInput(rows, n, ld int, seed int64) []float32 {
	r := rand.New(rand.NewSource(seed))
	x := make([]float32, (rows-1)*ld+n)
	for i := range x {
		x[i] = 7
	}
	for i := 0; i < rows; i++ {
		row := x[i*ld : i*ld+n]
		scale := float32(r.Intn(30) + 1)
		for j := range row {
			row[j] = float32(r.NormFloat64()) * scale
		}
		switch i % 7 {
		case 1: // masked entries
			for j := range row {
				if r.Intn(3) == 0 {
					row[j] = ninf
				}
			}
		case 2: // huge spread: subnormal and zero probabilities
			row[r.Intn(n)] = 150
		case 3: // all masked but one
			for j := range row {
				row[j] = ninf
			}
			row[r.Intn(n)] = -5
		}
	}
	return x
}

func checkSoftmax(t testing.TB, what string, got, want []float32) float64 {
	var worst float64
	for i := range want {
		if !closeTo(got[i], want[i], 2e-6, 1e-37) {
			t.Fatalf("%s: [%d] = %g, want %g", what, i, got[i], want[i])
		}
		if want[i] > 1e-30 {
			worst = max(worst, math.Abs(float64(got[i]-want[i])/float64(want[i])))
		}
	}
	return worst
}

func TestSoftmaxRows(t *testing.T) {
	forEachLevel(t, func(t testing.TB, name string) {
		var worst float64
		for _, n := range testLengths {
			rows := 3
			if n == 197 || n == 785 {
				rows = 20
			}
			for _, ld := range []int{n, n + 5} {
				in := softmaxInput(rows, n, ld, int64(n*ld))
				x := guarded(t, len(in))
				copy(x, in)
				want := append([]float32(nil), in...)
				refSoftmaxRows(want, rows, n, ld)
				SoftmaxRows(x, rows, n, ld)
				worst = max(worst, checkSoftmax(t, fmt.Sprintf("%s %dx%d ld=%d", name, rows, n, ld), x, want))
			}
		}
		t.(*testing.T).Logf("%s: max relative error %.3g", name, worst)
	})
}

func TestSoftmaxSpecials(t *testing.T) {
	rows := [][]float32{
		{ninf, ninf, ninf},      // all masked: NaN
		{1, inf, 2},             // +Inf: NaN
		{1, nan, 2},             // NaN: NaN
		{ninf, 0, ninf},         // one left: 1
		{-1e30, 1e30, 0},        // huge
		{math.MaxFloat32, 0, 1}, // max float
		{3, 3, 3},
	}
	forEachLevel(t, func(t testing.TB, name string) {
		for _, row := range rows {
			for _, n := range []int{3, 17, 40} {
				in := make([]float32, n)
				for i := range in {
					in[i] = row[i%len(row)]
					if i >= len(row) && in[i] != in[i] {
						in[i] = -1
					}
				}
				x := append([]float32(nil), in...)
				want := append([]float32(nil), in...)
				refSoftmaxRows(want, 1, n, n)
				SoftmaxRows(x, 1, n, n)
				checkSoftmax(t, fmt.Sprintf("%s %v n=%d", name, row, n), x, want)
			}
		}
	})
}

func TestMaskedSoftmaxRows(t *testing.T) {
	forEachLevel(t, func(t testing.TB, name string) {
		for _, n := range []int{1, 7, 16, 17, 77, 197} {
			for _, causal := range []bool{false, true} {
				for _, withBias := range []bool{false, true} {
					rows, ld, ldb := n, n+3, n+1
					in := softmaxInput(rows, n, ld, int64(n))
					var bias []float32
					if withBias {
						bias = randSlice((rows-1)*ldb+n, 2, int64(n)+9)
					}
					// Reference: add the bias, mask, softmax.
					want := append([]float32(nil), in...)
					for r := 0; r < rows; r++ {
						for j := 0; j < n; j++ {
							if bias != nil {
								want[r*ld+j] += bias[r*ldb+j]
							}
							if causal && j > r {
								want[r*ld+j] = ninf
							}
						}
					}
					refSoftmaxRows(want, rows, n, ld)
					x := append([]float32(nil), in...)
					MaskedSoftmaxRows(x, rows, n, ld, bias, ldb, causal)
					checkSoftmax(t, fmt.Sprintf("%s n=%d causal=%v bias=%v", name, n, causal, withBias), x, want)
					// Same as the unfused sequence at this level.
					y := append([]float32(nil), in...)
					for r := 0; r < rows; r++ {
						if bias != nil {
							Add(y[r*ld:r*ld+n], bias[r*ldb:r*ldb+n])
						}
						if causal {
							for j := r + 1; j < n; j++ {
								y[r*ld+j] = ninf
							}
						}
					}
					SoftmaxRows(y, rows, n, ld)
					for i := range x {
						if x[i] != y[i] && !(x[i] != x[i] && y[i] != y[i]) {
							t.Fatalf("%s n=%d causal=%v bias=%v: fused [%d] = %g, unfused %g", name, n, causal, withBias, i, x[i], y[i])
						}
					}
				}
			}
		}
	})
}

// lnInput makes transformer-like activations: per-row mean offsets, a few
// large outlier channels (about ±50) and noise.
func lnInput(rows, d int, seed int64) []float32 {
	r := rand.New(rand.NewSource(seed))
	x := make([]float32, rows*d)
	outliers := []int{r.Intn(d), r.Intn(d), r.Intn(d)}
	for i := 0; i < rows; i++ {
		off := float32(r.NormFloat64() * 5)
		sd := float32(0.05 + r.Float64()*3)
		row := x[i*d : (i+1)*d]
		for j := range row {
			row[j] = off + float32(r.NormFloat64())*sd
		}
		for _, o := range outliers {
			row[o] = float32(r.NormFloat64()*10 + 50*float64(1-2*(o&1)))
		}
		if i%5 == 4 { // constant row: variance 0
			for j := range row {
				row[j] = off
			}
		}
	}
	return x
}

func TestLayerNorm(t *testing.T) {
	forEachLevel(t, func(t testing.TB, name string) {
		var worstRel, worstAbs float64
		for _, d := range append(testLengths, 768) {
			rows := 3
			if d == 768 {
				rows = 400
			}
			in := lnInput(rows, d, int64(d))
			w, b := randSlice(d, 1, int64(d)+1), randSlice(d, 0.5, int64(d)+2)
			x := guarded(t, len(in))
			copy(x, in)
			want := make([]float32, len(in))
			refLayerNorm(want, in, rows, d, w, b, 1e-5)
			out := guarded(t, len(in))
			LayerNorm(out, x, rows, d, w, b, 1e-5)
			for i := range want {
				diff := math.Abs(float64(out[i] - want[i]))
				// Error relative to the output's magnitude; outputs that
				// cancel to near zero are judged against 1.
				rel := diff / max(math.Abs(float64(want[i])), 1)
				if rel > 1e-5 || out[i] != out[i] {
					t.Fatalf("%s d=%d: LayerNorm[%d] = %g, want %g", name, d, i, out[i], want[i])
				}
				worstAbs = max(worstAbs, diff)
				if math.Abs(float64(want[i])) > 1e-2 {
					worstRel = max(worstRel, diff/math.Abs(float64(want[i])))
				}
			}
			LayerNorm(x, x, rows, d, w, b, 1e-5) // in place
			for i := range x {
				if x[i] != out[i] {
					t.Fatalf("%s d=%d: in-place LayerNorm differs at %d", name, d, i)
				}
			}
		}
		t.(*testing.T).Logf("%s: max abs error %.3g, max relative error (|out|>0.01) %.3g", name, worstAbs, worstRel)
	})
}

func TestLayerNormSpecials(t *testing.T) {
	forEachLevel(t, func(t testing.TB, name string) {
		for _, d := range []int{5, 16, 40} {
			w, b := randSlice(d, 1, 1), randSlice(d, 1, 2)
			for _, v := range []float32{nan, inf, ninf} {
				x := randSlice(d, 1, 3)
				x[d/2] = v
				out := make([]float32, d)
				LayerNorm(out, x, 1, d, w, b, 1e-5)
				for i := range out {
					if out[i] == out[i] {
						t.Fatalf("%s d=%d: LayerNorm with %g gave %g at %d, want NaN", name, d, v, out[i], i)
					}
				}
			}
			// Zero variance with eps 0: reference gives ±Inf·0 = NaN or Inf.
			x := make([]float32, d)
			out := make([]float32, d)
			want := make([]float32, d)
			LayerNorm(out, x, 1, d, w, b, 0)
			refLayerNorm(want, x, 1, d, w, b, 0)
			for i := range out {
				if !closeTo(out[i], want[i], 0, 0) {
					t.Fatalf("%s d=%d eps=0: [%d] = %g, want %g", name, d, i, out[i], want[i])
				}
			}
		}
	})
}

func TestSIMDOverride(t *testing.T) {
	t.Logf("SIMD level %s (best %s)", SIMD(), levelNames[maxLevel])
	old := setLevel(levelAVX512 + 5)
	if simdLevel != maxLevel {
		t.Errorf("setLevel above the CPU gave %d, want %d", simdLevel, maxLevel)
	}
	setLevel(old)
	t.Setenv("FREESEG_SIMD", "generic")
	if l := initialLevel(); l != levelGeneric {
		t.Errorf("FREESEG_SIMD=generic gave level %d", l)
	}
	t.Setenv("FREESEG_SIMD", "avx512")
	if l := initialLevel(); l != min(levelAVX512, maxLevel) {
		t.Errorf("FREESEG_SIMD=avx512 gave level %d", l)
	}
}

// TestSoftmaxOverlappingRows checks rows that share elements (ld < n) are
// processed one after the other, as the scalar code does.
func TestSoftmaxOverlappingRows(t *testing.T) {
	forEachLevel(t, func(t testing.TB, name string) {
		for _, sh := range [][3]int{{4, 40, 20}, {3, 33, 0}, {5, 17, 16}, {6, 7, 3}} {
			rows, n, ld := sh[0], sh[1], sh[2]
			in := randSlice((rows-1)*ld+n, 3, int64(n))
			x := append([]float32(nil), in...)
			want := append([]float32(nil), in...)
			SoftmaxRows(x, rows, n, ld)
			refSoftmaxRows(want, rows, n, ld)
			checkSoftmax(t, fmt.Sprintf("%s rows=%d n=%d ld=%d", name, rows, n, ld), x, want)
		}
	})
}

func TestMulAdd(t *testing.T) {
	forEachLevel(t, func(t testing.TB, name string) {
		{
			for _, n := range []int{1, 7, 15, 16, 17, 63, 64, 65, 197, 1000} {
				a, b, d := make([]float32, n), make([]float32, n), make([]float32, n+1)
				for i := range a {
					a[i], b[i], d[i] = float32(i%7)-3, float32(i%5)*0.5, float32(i)
				}
				d[n] = 42
				want := append([]float32(nil), d...)
				for i := 0; i < n; i++ {
					want[i] += a[i] * b[i]
				}
				MulAdd(d, a, b)
				for i := range want {
					if !(math.Abs(float64(d[i]-want[i])) <= 1e-6*math.Max(1, math.Abs(float64(want[i])))) { // NaN fails too
						t.Fatalf("level %s n=%d: d[%d] = %g, want %g", name, n, i, d[i], want[i])
					}
				}
			}
		}
	})
}
