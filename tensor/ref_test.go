package tensor

import "math"

// Reference kernels: the original scalar code (float64 exp and
// accumulation) that the fast kernels are checked against.

func refExp(x float32) float32 { return float32(math.Exp(float64(x))) }

func refLayerNorm(out, x []float32, rows, d int, w, b []float32, eps float64) {
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

func refQuickGELU(x []float32) {
	for i, v := range x {
		x[i] = v / (1 + float32(math.Exp(float64(-1.702*v))))
	}
}

func refSoftmaxRows(x []float32, rows, n, ld int) {
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
