package tensor

import "math"

// Constants of the float32 exp shared by the Go and assembly kernels.
//
// e^x = 2^k · e^r with k = round(x·log2(e)) and r = x − k·ln2, where k·ln2 is
// subtracted in two parts (Cody–Waite: ln2Hi has few significant bits so
// k·ln2Hi is exact for the k that occur). e^r on [−ln2/2, ln2/2] is
// 1 + r + r²·Q(r) with Q a degree-4 polynomial fitted here for minimal
// relative error (about 0.05 ulp before float32 rounding). Inputs are first
// clamped to [expLo, expHi]: below expLo the result underflows to 0 (−Inf
// included), above expHi it overflows to +Inf; NaN passes through.
const (
	expLog2e = 1.44269504088896341
	expLn2Hi = 0.693359375
	expLn2Lo = -2.12194440e-4
	expHi    = 88.75
	expLo    = -104
	expQ0    = 4.999999404e-01 // float32 bits 0x3efffffe
	expQ1    = 1.666652113e-01 // 0x3e2aaa49
	expQ2    = 4.166838899e-02 // 0x3d2aac79
	expQ3    = 8.368710987e-03 // 0x3c091ceb
	expQ4    = 1.381460577e-03 // 0x3ab51220

	// expRound is 1.5·2²³: adding it to a float32 of magnitude below 2²²
	// rounds it to an integer held in the low mantissa bits.
	expRound     = 12582912
	expRoundBits = 0x4b400000

	geluAlpha = 1.702
)

// exp32 is the portable version of the vector exp: the same reduction and
// polynomial, so it agrees with the assembly to about an ulp.
func exp32(x float32) float32 {
	if x > expHi {
		x = expHi
	}
	if x < expLo {
		x = expLo
	}
	// NaN fails both comparisons and propagates through the arithmetic.
	t := x*expLog2e + expRound
	k := t - expRound
	r := x - k*expLn2Hi
	r -= k * expLn2Lo
	p := float32(expQ4)
	p = p*r + expQ3
	p = p*r + expQ2
	p = p*r + expQ1
	p = p*r + expQ0
	p = p*r + 1
	p = p*r + 1
	// 2^k in two factors so that k in [-150, 128] needs no special case:
	// the first product is exact, the second rounds once (to a subnormal,
	// or to +Inf, where the result is one).
	ki := int32(math.Float32bits(t) - expRoundBits)
	k1 := ki >> 1
	k2 := ki - k1
	s1 := math.Float32frombits(uint32(k1+127) << 23)
	s2 := math.Float32frombits(uint32(k2+127) << 23)
	return p * s1 * s2
}

func expGo(dst, x []float32) {
	dst = dst[:len(x)]
	for i, v := range x {
		dst[i] = exp32(v)
	}
}

func softmaxGo(x []float32, ld int, bias []float32, ldb, rows, n int) {
	for r := 0; r < rows; r++ {
		xr := x[r*ld : r*ld+n]
		if bias != nil {
			br := bias[r*ldb : r*ldb+n]
			for i := range xr {
				xr[i] += br[i]
			}
		}
		m := float32(math.Inf(-1))
		for _, v := range xr {
			if v > m {
				m = v
			}
		}
		var s float64
		for i, v := range xr {
			e := exp32(v - m)
			xr[i] = e
			s += float64(e)
		}
		inv := float32(1 / s)
		for i := range xr {
			xr[i] *= inv
		}
	}
}

func quickGELUGo(x []float32) {
	for i, v := range x {
		x[i] = v / (1 + exp32(-geluAlpha*v))
	}
}

// layerNormGo accumulates mean and variance in float64.
func layerNormGo(out, x []float32, rows, d int, w, b []float32, eps float64) {
	w, b = w[:d], b[:d]
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

func addGo(dst, src []float32) {
	dst = dst[:len(src)]
	for i, v := range src {
		dst[i] += v
	}
}

func scaleGo(x []float32, s float32) {
	for i := range x {
		x[i] *= s
	}
}
