// Package tensor holds the element-wise and row-wise float32 kernels of the
// transformer (layer norm, QuickGELU, softmax, residual adds) and a small
// parallel-for. Matrix products live in tensor/gemm.
//
// All functions work on row-major float32 slices with explicit shapes, do not
// allocate, and may run in place where documented.
package tensor

import (
	"math"
	"runtime"
	"sync"
)

// LayerNorm normalises each of the rows of x (each d long) and applies the
// affine weight w and bias b, writing to out (which may alias x). Mean and
// biased variance are accumulated in float64, eps is added to the variance
// (torch.nn.LayerNorm, SPEC 3.3).
func LayerNorm(out, x []float32, rows, d int, w, b []float32, eps float64) {
	_ = out[rows*d-1]
	_ = x[rows*d-1]
	for r := 0; r < rows; r++ {
		xr := x[r*d : (r+1)*d]
		or := out[r*d : (r+1)*d]
		var s float64
		for _, v := range xr {
			s += float64(v)
		}
		mean := s / float64(d)
		var ss float64
		for _, v := range xr {
			dv := float64(v) - mean
			ss += dv * dv
		}
		inv := 1 / math.Sqrt(ss/float64(d)+eps)
		m32, i32 := float32(mean), float32(inv)
		for i, v := range xr {
			or[i] = (v-m32)*i32*w[i] + b[i]
		}
	}
}

// QuickGELU applies x·sigmoid(1.702·x) in place (CLIP's activation, not the
// erf GELU; SPEC 3.3).
func QuickGELU(x []float32) {
	for i, v := range x {
		x[i] = v / (1 + float32(math.Exp(float64(-1.702*v))))
	}
}

// SoftmaxRows replaces each of the rows of x (each n long, stride ld) by its
// softmax, subtracting the row maximum first. Entries equal to -Inf get
// probability 0 (additive masks).
func SoftmaxRows(x []float32, rows, n, ld int) {
	for r := 0; r < rows; r++ {
		xr := x[r*ld : r*ld+n]
		m := float32(math.Inf(-1))
		for _, v := range xr {
			if v > m {
				m = v
			}
		}
		var s float64
		for i, v := range xr {
			e := float32(math.Exp(float64(v - m)))
			xr[i] = e
			s += float64(e)
		}
		inv := float32(1 / s)
		for i := range xr {
			xr[i] *= inv
		}
	}
}

// Add sets dst[i] += src[i].
func Add(dst, src []float32) {
	_ = dst[len(src)-1]
	for i, v := range src {
		dst[i] += v
	}
}

// Scale multiplies x by s in place.
func Scale(x []float32, s float32) {
	for i := range x {
		x[i] *= s
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
		inv := float32(1 / math.Sqrt(s))
		for i := range xr {
			xr[i] *= inv
		}
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
