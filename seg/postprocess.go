package seg

import (
	"fmt"
	"math"

	"github.com/freeseg/freeseg/tensor"
)

// PostOptions are the label rules of SCLIP/NACLIP/ClearCLIP
// postprocess_result (docs/method.md#post-processing).
type PostOptions struct {
	LogitScale float64 // multiplies the cosine logits before the softmax (40 by default)
	ProbThd    float64 // pixels whose best class probability is below this become class 0
	AreaThd    float64 // > 0: drop foreground classes whose argmax area ≤ AreaThd × all foreground area
}

// Probabilities computes the per-class probabilities [C,H·W] from query
// logits [Q,H·W]: softmax over queries of LogitScale·logits, then the max
// over each class's queries (synonyms). classOf[q] is the class of query q;
// classes are 0..C-1 and each must have at least one query. When keep is
// not nil, the queries of classes with keep[c] false take no part in the
// softmax and those classes get probability 0 (the partial-label stage),
// without copying the logits.
func Probabilities(logits []float32, Q, HW int, classOf []int, scale float64, keep []bool) ([]float32, int, error) {
	if len(classOf) != Q {
		return nil, 0, fmt.Errorf("postprocess: %d query classes for %d queries", len(classOf), Q)
	}
	C := 0
	for _, c := range classOf {
		if c < 0 {
			return nil, 0, fmt.Errorf("postprocess: negative class index %d", c)
		}
		C = max(C, c+1)
	}
	seen := make([]bool, C)
	for _, c := range classOf {
		seen[c] = true
	}
	for c, ok := range seen {
		if !ok {
			return nil, 0, fmt.Errorf("postprocess: class %d has no query", c)
		}
	}
	if keep != nil && len(keep) != C {
		return nil, 0, fmt.Errorf("postprocess: %d keep flags for %d classes", len(keep), C)
	}
	active := make([]bool, Q)
	anyActive := false
	for q, c := range classOf {
		active[q] = keep == nil || keep[c]
		anyActive = anyActive || active[q]
	}
	if !anyActive {
		return nil, 0, fmt.Errorf("postprocess: every class removed")
	}
	probs := make([]float32, C*HW)
	s32 := float32(scale)
	// Pixels are processed in chunks, query-major, so that the exponentials
	// run through the vectorised tensor.Exp on contiguous memory.
	const chunk = 1024
	nChunks := (HW + chunk - 1) / chunk
	tensor.ParallelFor(nChunks, func(lo, hi int) {
		m := make([]float32, chunk)
		sum := make([]float32, chunk)
		e := make([]float32, Q*chunk)
		for ci := lo; ci < hi; ci++ {
			i0 := ci * chunk
			n := min(chunk, HW-i0)
			mm, ss := m[:n], sum[:n]
			for i := range mm {
				mm[i] = float32(math.Inf(-1))
				ss[i] = 0
			}
			for q := 0; q < Q; q++ {
				if !active[q] {
					continue
				}
				for i, v := range logits[q*HW+i0 : q*HW+i0+n] {
					mm[i] = max(mm[i], v*s32)
				}
			}
			for q := 0; q < Q; q++ {
				eq := e[q*chunk : q*chunk+n]
				if !active[q] {
					clear(eq)
					continue
				}
				for i, v := range logits[q*HW+i0 : q*HW+i0+n] {
					eq[i] = v*s32 - mm[i]
				}
				tensor.Exp(eq, eq)
				for i, v := range eq {
					ss[i] += v
				}
			}
			for c := 0; c < C; c++ {
				clear(probs[c*HW+i0 : c*HW+i0+n])
			}
			for q, c := range classOf {
				pc := probs[c*HW+i0 : c*HW+i0+n]
				for i, v := range e[q*chunk : q*chunk+n] {
					if p := v / ss[i]; p > pc[i] {
						pc[i] = p
					}
				}
			}
		}
	})
	return probs, C, nil
}

// AreaFilter zeroes the probabilities of foreground classes (c ≥ 1) whose
// argmax area is not above thd × the total argmax area of all foreground
// classes (SCLIP's area_thd). It returns which classes were kept.
func AreaFilter(probs []float32, C, HW int, thd float64) []bool {
	area := make([]int, C)
	for i := 0; i < HW; i++ {
		area[argmaxCol(probs, C, HW, i)]++
	}
	total := 0
	for c := 1; c < C; c++ {
		total += area[c]
	}
	keep := make([]bool, C)
	keep[0] = true
	for c := 1; c < C; c++ {
		keep[c] = float64(area[c]) > thd*float64(total)
		if !keep[c] {
			clear(probs[c*HW : (c+1)*HW])
		}
	}
	return keep
}

// argmaxCol is torch.argmax over classes at pixel i: the first maximum.
func argmaxCol(probs []float32, C, HW, i int) int {
	best, bv := 0, probs[i]
	for c := 1; c < C; c++ {
		if v := probs[c*HW+i]; v > bv {
			best, bv = c, v
		}
	}
	return best
}

// Labels takes the argmax class per pixel, and class 0 where the best
// probability is below probThd.
func Labels(probs []float32, C, HW int, probThd float64) []int32 {
	out := make([]int32, HW)
	thd := float32(probThd)
	for i := 0; i < HW; i++ {
		c := argmaxCol(probs, C, HW, i)
		if probs[c*HW+i] < thd {
			c = 0
		}
		out[i] = int32(c)
	}
	return out
}
