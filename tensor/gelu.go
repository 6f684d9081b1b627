package tensor

import "math"

// GELU applies the exact (erf) GELU, x·Φ(x) = x/2·(1 + erf(x/√2)), in place:
// torch.nn.GELU() with its default approximate='none' (Hendrycks and Gimpel,
// 2016), the activation of DINO and of the LAION-trained open_clip models.
// CLIP's OpenAI models use QuickGELU instead.
//
// Each value is computed in float64 with math.Erf and rounded once, so the
// result is the correctly rounded float32 GELU up to one ulp, whatever the
// CPU. For x < 0 the form x/2·erfc(−x/√2) keeps the relative accuracy where
// 1 + erf cancels. NaN stays NaN, +Inf gives +Inf, and −Inf and values
// below −40 (where x·Φ(x) underflows) give −0.
func GELU(x []float32) {
	for i, v := range x {
		x[i] = gelu1(v)
	}
}

func gelu1(v float32) float32 {
	z := float64(v)
	switch {
	case z >= 0:
		return float32(0.5 * z * (1 + math.Erf(z*math.Sqrt2/2)))
	case z < -40:
		// x·Φ(x) is far below the smallest float32 here (and −Inf·0
		// would be NaN).
		return float32(math.Copysign(0, -1))
	}
	return float32(0.5 * z * math.Erfc(-z*math.Sqrt2/2))
}
