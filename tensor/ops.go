// Package tensor holds the element-wise and row-wise float32 kernels of the
// transformer (layer norm, QuickGELU, softmax, residual adds) and a small
// parallel-for. Matrix products live in tensor/gemm.
//
// All functions work on row-major float32 slices with explicit shapes, do not
// allocate, and may run in place where documented. On amd64 they use AVX-512
// or AVX2+FMA assembly when the CPU has it (see SIMD); elsewhere, and with the
// purego build tag, portable Go with the same exp polynomial.
package tensor

import (
	"fmt"
	"math"
	"runtime"
	"sync"
	"unsafe"
)

// Exp sets dst[i] = e^x[i] for every i < len(x). The result is within 2 ulp
// of the correctly rounded value; inputs below about −103.97 (−Inf included)
// give 0, above about 88.72 give +Inf, NaN gives NaN. dst may be x itself but
// must not otherwise overlap it.
func Exp(dst, x []float32) {
	n := len(x)
	if len(dst) < n {
		panic(fmt.Sprintf("tensor: Exp dst has %d values, want %d", len(dst), n))
	}
	if n == 0 {
		return
	}
	switch simdLevel {
	case levelAVX512:
		expAVX512(&dst[0], &x[0], n)
	case levelAVX2:
		expAVX2(&dst[0], &x[0], n)
	default:
		expGo(dst, x)
	}
}

// LayerNorm normalises each of the rows of x (each d long) and applies the
// affine weight w and bias b, writing to out (which may alias x, but not
// partially overlap it). eps is added to the biased variance
// (torch.nn.LayerNorm, docs/model.md#vision-transformer). The portable version accumulates in
// float64; the SIMD versions accumulate in float32 over 64 lanes and
// correct the mean with the sum of the deviations from the second pass.
// Their outputs differ from the float64 ones by at most about 1e-6 of
// max(|output|, 1) (the 1/std factor is off by an ulp in some rows).
func LayerNorm(out, x []float32, rows, d int, w, b []float32, eps float64) {
	if rows < 0 || d < 0 || len(x) < rows*d || len(out) < rows*d || len(w) < d || len(b) < d {
		panic(fmt.Sprintf("tensor: LayerNorm rows=%d d=%d len(out)=%d len(x)=%d len(w)=%d len(b)=%d",
			rows, d, len(out), len(x), len(w), len(b)))
	}
	if rows == 0 || d == 0 {
		return
	}
	switch simdLevel {
	case levelAVX512:
		layerNormAVX512(&out[0], &x[0], rows, d, &w[0], &b[0], eps)
	case levelAVX2:
		layerNormAVX2(&out[0], &x[0], rows, d, &w[0], &b[0], eps)
	default:
		layerNormGo(out, x, rows, d, w, b, eps)
	}
}

// QuickGELU applies x·sigmoid(1.702·x) = x / (1 + e^(−1.702·x)) in place
// (CLIP's activation, not the erf GELU; docs/model.md#vision-transformer).
func QuickGELU(x []float32) {
	if len(x) == 0 {
		return
	}
	switch simdLevel {
	case levelAVX512:
		quickGELUAVX512(&x[0], len(x))
	case levelAVX2:
		quickGELUAVX2(&x[0], len(x))
	default:
		quickGELUGo(x)
	}
}

// SoftmaxRows replaces each of the rows of x (each n long, stride ld) by its
// softmax, subtracting the row maximum first. Entries equal to -Inf get
// probability 0 (additive masks).
func SoftmaxRows(x []float32, rows, n, ld int) {
	MaskedSoftmaxRows(x, rows, n, ld, nil, 0, false)
}

// MaskedSoftmaxRows is SoftmaxRows of x + bias with an optional causal mask,
// in one sweep: row r becomes softmax(x[r,:] + bias[r,:]) (bias row stride
// ldb; nil bias adds nothing), and with causal set only columns j ≤ r take
// part, the others being set to 0. x holds the result. It gives the same
// values as Add(bias), setting the masked columns to -Inf, then SoftmaxRows.
func MaskedSoftmaxRows(x []float32, rows, n, ld int, bias []float32, ldb int, causal bool) {
	if rows < 0 || n < 0 || ld < 0 || (rows > 0 && n > 0 && (rows-1)*ld+n > len(x)) {
		panic(fmt.Sprintf("tensor: SoftmaxRows rows=%d n=%d ld=%d len(x)=%d", rows, n, ld, len(x)))
	}
	if bias != nil && (ldb < 0 || (rows > 0 && n > 0 && (rows-1)*ldb+n > len(bias))) {
		panic(fmt.Sprintf("tensor: SoftmaxRows bias rows=%d n=%d ldb=%d len(bias)=%d", rows, n, ldb, len(bias)))
	}
	if rows == 0 || n == 0 {
		return
	}
	if !causal {
		softmaxRows(x, ld, bias, ldb, rows, n)
		return
	}
	for r := 0; r < rows; r++ {
		nr := min(n, r+1)
		var br []float32
		if bias != nil {
			br = bias[r*ldb:]
		}
		softmaxRows(x[r*ld:], 0, br, 0, 1, nr)
		// The masked columns get e^-Inf / sum = 0, or NaN where the row
		// is NaN (its sum is NaN, and then so is its first entry).
		fill := float32(0)
		if v := x[r*ld]; v != v {
			fill = v
		}
		for j := r*ld + nr; j < r*ld+n; j++ {
			x[j] = fill
		}
	}
}

// softmaxRows dispatches a bounds-checked softmax.
func softmaxRows(x []float32, ld int, bias []float32, ldb, rows, n int) {
	var bp *float32
	if bias != nil {
		bp = unsafe.SliceData(bias)
	}
	if ld < n && rows > 1 && simdLevel == levelAVX512 {
		// Overlapping rows: the AVX-512 kernel starts on a row before
		// finishing the previous one, so run them one at a time.
		for r := 0; r < rows; r++ {
			var br []float32
			if bias != nil {
				br = bias[r*ldb:]
			}
			softmaxRows(x[r*ld:], 0, br, 0, 1, n)
		}
		return
	}
	switch simdLevel {
	case levelAVX512:
		softmaxAVX512(&x[0], ld, bp, ldb, rows, n)
	case levelAVX2:
		softmaxAVX2(&x[0], ld, bp, ldb, rows, n)
	default:
		softmaxGo(x, ld, bias, ldb, rows, n)
	}
}

// Add sets dst[i] += src[i] for every i < len(src).
func Add(dst, src []float32) {
	n := len(src)
	if len(dst) < n {
		panic(fmt.Sprintf("tensor: Add dst has %d values, src %d", len(dst), n))
	}
	if n == 0 {
		return
	}
	switch simdLevel {
	case levelAVX512:
		addAVX512(&dst[0], &src[0], n)
	case levelAVX2:
		addAVX2(&dst[0], &src[0], n)
	default:
		addGo(dst, src)
	}
}

// Scale multiplies x by s in place.
func Scale(x []float32, s float32) {
	if len(x) == 0 {
		return
	}
	switch simdLevel {
	case levelAVX512:
		scaleAVX512(&x[0], len(x), s)
	case levelAVX2:
		scaleAVX2(&x[0], len(x), s)
	default:
		scaleGo(x, s)
	}
}

// L2NormalizeRows divides each of the rows of x (each d long) by its
// Euclidean norm (norm accumulated in float64). A zero row stays zero.
func L2NormalizeRows(x []float32, rows, d int) {
	for r := 0; r < rows; r++ {
		xr := x[r*d : (r+1)*d]
		var s float64
		for _, v := range xr {
			s += float64(v) * float64(v)
		}
		if s == 0 {
			continue
		}
		Scale(xr, float32(1/math.Sqrt(s)))
	}
}

// ParallelFor runs f over [0,n) split into contiguous chunks, one per
// worker, using at most GOMAXPROCS goroutines. Each index is handled by
// exactly one call, so results do not depend on the worker count.
func ParallelFor(n int, f func(lo, hi int)) {
	w := runtime.GOMAXPROCS(0)
	if w > n {
		w = n
	}
	if w <= 1 {
		if n > 0 {
			f(0, n)
		}
		return
	}
	var wg sync.WaitGroup
	for i := 0; i < w; i++ {
		lo, hi := n*i/w, n*(i+1)/w
		wg.Add(1)
		go func() {
			defer wg.Done()
			f(lo, hi)
		}()
	}
	wg.Wait()
}

// MulAdd sets dst[i] += a[i]·b[i] for every i < len(a) (a fused
// multiply-add at the AVX-512 level, so the last bit can differ from the
// portable version).
func MulAdd(dst, a, b []float32) {
	n := len(a)
	if len(b) < n || len(dst) < n {
		panic(fmt.Sprintf("tensor: MulAdd dst %d, a %d, b %d values", len(dst), n, len(b)))
	}
	if n == 0 {
		return
	}
	if simdLevel == levelAVX512 {
		mulAddAVX512(&dst[0], &a[0], &b[0], n)
		return
	}
	b = b[:n]
	dst = dst[:n]
	for i, v := range a {
		dst[i] += v * b[i]
	}
}
