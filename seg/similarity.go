// Package seg turns dense features and a text classifier into similarity
// maps and label maps: cosine similarity (the ITSM), CLIP Surgery's feature
// surgery, sliding-window accumulation, PAMR, the FreeSeg partial-label
// stage and SCLIP-style post-processing (docs/method.md#similarity-maps).
package seg

import (
	"github.com/freeseg/freeseg/interp"
	"math"

	"github.com/freeseg/freeseg/tensor"
	"github.com/freeseg/freeseg/tensor/gemm"
)

// Cosine returns S[t,k] = cos(feat_t, class_k) for T token features [T,E]
// (normalised here, per token over channels, as CLIP Surgery's fixed demo
// does) and a classifier [K,E] with unit rows. The result is [T,K].
func Cosine(feats []float32, T, E int, classifier []float32, K int) []float32 {
	f := append([]float32(nil), feats[:T*E]...)
	tensor.L2NormalizeRows(f, T, E)
	s := make([]float32, T*K)
	gemm.Sgemm(false, true, T, K, E, 1, f, E, classifier, E, 0, s, K)
	return s
}

// FeatureSurgeryMulti is CLIP Surgery's clip_feature_surgery without a
// redundant feature (docs/method.md#feature-surgery), in its closed form: with
// p = softmax_k(2·cos(CLS, G_k)) and w = p / mean(p),
// S'[i,k] = w_k·cos(F_i, G_k) and S[i,k] = S'[i,k] − mean_k' S'[i,k'].
// cos is [N,K] including the CLS row 0; the result is [N,K].
func FeatureSurgeryMulti(cos []float32, N, K int) []float32 {
	p := make([]float64, K)
	m := math.Inf(-1)
	for k := 0; k < K; k++ {
		p[k] = 2 * float64(cos[k])
		m = math.Max(m, p[k])
	}
	var sum float64
	for k := range p {
		p[k] = math.Exp(p[k] - m)
		sum += p[k]
	}
	// w = p / mean(p) = K·p / Σp
	w := make([]float64, K)
	for k := range p {
		w[k] = float64(K) * p[k] / sum
	}
	out := make([]float32, N*K)
	for i := 0; i < N; i++ {
		var mean float64
		for k := 0; k < K; k++ {
			mean += w[k] * float64(cos[i*K+k])
		}
		mean /= float64(K)
		for k := 0; k < K; k++ {
			out[i*K+k] = float32(w[k]*float64(cos[i*K+k]) - mean)
		}
	}
	return out
}

// FeatureSurgeryRedundant is feature surgery with a redundant feature r
// (the prompt ensemble of the empty name; docs/method.md#feature-surgery):
// S = F·(G − r)ᵀ with G − r not renormalised. feats are [N,E] (normalised
// here), classifier [K,E], r [E]. Returns [N,K].
func FeatureSurgeryRedundant(feats []float32, N, E int, classifier []float32, K int, r []float32) []float32 {
	g := make([]float32, K*E)
	for k := 0; k < K; k++ {
		for c := 0; c < E; c++ {
			g[k*E+c] = classifier[k*E+c] - r[c]
		}
	}
	return Cosine(feats, N, E, g, K)
}

// MinMaxPerClass rescales each class column of s [T,K] to [0,1] over the
// tokens, in place (get_similarity_map step 1). A constant column (where
// the reference divides by zero) becomes all zeros.
func MinMaxPerClass(s []float32, T, K int) {
	for k := 0; k < K; k++ {
		lo, hi := float32(math.Inf(1)), float32(math.Inf(-1))
		for t := 0; t < T; t++ {
			v := s[t*K+k]
			lo = min(lo, v)
			hi = max(hi, v)
		}
		d := hi - lo
		for t := 0; t < T; t++ {
			if d > 0 {
				s[t*K+k] = (s[t*K+k] - lo) / d
			} else {
				s[t*K+k] = 0
			}
		}
	}
}

// Transpose turns [R,C] into [C,R].
func Transpose(s []float32, R, C int) []float32 {
	out := make([]float32, R*C)
	for r := 0; r < R; r++ {
		for c := 0; c < C; c++ {
			out[c*R+r] = s[r*C+c]
		}
	}
	return out
}

// SimilarityMap is CLIP Surgery's get_similarity_map for one image: the
// patch similarities s [T,K] (T = gh·gw, CLS excluded) are min-max
// normalised per class, reshaped to the grid and upsampled bilinearly
// (align_corners False) to H×W. Returns [K,H,W] with values in [0,1].
// Unlike the reference it accepts rectangular grids.
func SimilarityMap(s []float32, gh, gw, K, H, W int) []float32 {
	T := gh * gw
	m := append([]float32(nil), s[:T*K]...)
	MinMaxPerClass(m, T, K)
	return interp.ResizeBilinearTorchChannelsLast(Transpose(m, T, K), K, gh, gw, H, W, false)
}
