package tensor

import "math"

// GELU applies the exact (erf) GELU, x·Φ(x) = x/2·(1 + erf(x/√2)), in place:
// torch.nn.GELU() with its default approximate='none' (Hendrycks and Gimpel,
// 2016), the activation of DINO and of the LAION-trained open_clip models.
// CLIP's OpenAI models use QuickGELU instead.
//
// With AVX-512 (gelu_amd64.s, about 15 times faster) Φ comes from
// Numerical Recipes' erfc in float32, 16 values at a time: within 1.5e-6
// relative of the exact value for x ≥ −5 (measured 1.2e-6), 1e-5 below
// (measured 7.5e-6; the values there are under 2e-6·|x|, and a float32
// exponent near −z² carries that much), and subnormal results may flush
// to zero. Otherwise the result is within about one ulp of the correctly
// rounded float32 value for every input (tested against math.Erf): for
// |x| < 10, Φ comes from a
// table of Φ, φ and φ' = −x·φ at steps of 1/32, joined by quintic Hermite
// interpolation in float64 (error below 1e-9 of Φ, and of φ/|x| in the
// lower tail, where 1 + erf would cancel); beyond, math.Erfc is evaluated
// directly. NaN stays NaN, +Inf gives +Inf, −Inf gives −0.
func GELU(x []float32) {
	if len(x) == 0 {
		return
	}
	if simdLevel == levelAVX512 {
		geluAVX512(&x[0], len(x))
		return
	}
	for i, v := range x {
		x[i] = gelu1(v)
	}
}

const (
	geluLim   = 10 // table range [−geluLim, geluLim]
	geluSteps = 32 // nodes per unit
	geluN     = 2*geluLim*geluSteps + 1
)

// geluTab holds, per node x_k = −geluLim + k/geluSteps: Φ(x_k), h·φ(x_k)
// and h²·φ'(x_k), h = 1/geluSteps.
var geluTab = func() (t [geluN][3]float64) {
	h := 1.0 / geluSteps
	for k := range t {
		x := -geluLim + float64(k)*h
		phi := math.Exp(-x*x/2) / math.Sqrt(2*math.Pi)
		t[k] = [3]float64{math.Erfc(-x/math.Sqrt2) / 2, h * phi, -h * h * x * phi}
	}
	return t
}()

func gelu1(v float32) float32 {
	z := float64(v)
	if !(z > -geluLim && z < geluLim) { // also NaN
		switch {
		case z >= geluLim:
			return float32(0.5 * z * (1 + math.Erf(z*math.Sqrt2/2)))
		case z < -40 || math.IsInf(z, -1):
			// x·Φ(x) is far below the smallest float32 (and −Inf·0 would
			// be NaN).
			return float32(math.Copysign(0, -1))
		case z <= -geluLim:
			return float32(0.5 * z * math.Erfc(-z*math.Sqrt2/2))
		}
		return v // NaN
	}
	u := (z + geluLim) * geluSteps
	k := int(u)
	if k >= geluN-1 {
		k = geluN - 2
	}
	t := u - float64(k)
	a, b := &geluTab[k], &geluTab[k+1]
	t2 := t * t
	t3 := t2 * t
	t4 := t3 * t
	t5 := t4 * t
	h0 := 1 - 10*t3 + 15*t4 - 6*t5
	h1 := t - 6*t3 + 8*t4 - 3*t5
	h2 := 0.5 * (t2 - 3*t3 + 3*t4 - t5)
	h3 := 0.5 * (t3 - 2*t4 + t5)
	h4 := -4*t3 + 7*t4 - 3*t5
	h5 := 10*t3 - 15*t4 + 6*t5
	p := a[0]*h0 + a[1]*h1 + a[2]*h2 + b[2]*h3 + b[1]*h4 + b[0]*h5
	return float32(z * p)
}
