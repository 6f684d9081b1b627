package freeseg

import "math"

// Zero-shot classification with CLIP's global embeddings (freeseg embed
// and classify): cosine similarities, and class probabilities where a
// class scores as its best synonym.

// Cosines is the cosine similarity of each of the na rows of a with each
// of the nb rows of b (rows of E values), rounded to 6 decimals as the
// commands print them.
func Cosines(a []float32, na int, b []float32, nb, E int) [][]float64 {
	out := make([][]float64, na)
	for i := range out {
		out[i] = make([]float64, nb)
		x := a[i*E : (i+1)*E]
		for j := range out[i] {
			y := b[j*E : (j+1)*E]
			var d, nx, ny float64
			for c := range x {
				d += float64(x[c]) * float64(y[c])
				nx += float64(x[c]) * float64(x[c])
				ny += float64(y[c]) * float64(y[c])
			}
			out[i][j] = round6(d / math.Sqrt(nx*ny))
		}
	}
	return out
}

// ClassProbs turns one image's cosines to the queries into the
// probabilities of classes classes: a class scores as its best synonym
// (classOf[q] is query q's class, as prompts.Vocabulary.Queries gives it),
// then a softmax at scale (the model's logit scale).
func ClassProbs(cos []float64, classOf []int, classes int, scale float64) []float64 {
	best := make([]float64, classes)
	for c := range best {
		best[c] = math.Inf(-1)
	}
	for q, c := range classOf {
		best[c] = math.Max(best[c], cos[q])
	}
	return softmaxScaled(best, scale)
}

func softmaxScaled(x []float64, scale float64) []float64 {
	m := math.Inf(-1)
	for _, v := range x {
		m = math.Max(m, v*scale)
	}
	out := make([]float64, len(x))
	var s float64
	for i, v := range x {
		out[i] = math.Exp(v*scale - m)
		s += out[i]
	}
	for i := range out {
		out[i] /= s
	}
	return out
}
