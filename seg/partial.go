package seg

import (
	"fmt"
	"math"
	"slices"
	"strings"
)

// Pool is how a class's similarity map is reduced to one image-level score
// (FreeSeg's partial-label and smoothed-pooling strategies as freeseg
// defines them, docs/method.md#freeseg-strategies).
type Pool int

const (
	PoolSmoothMin Pool = iota // −τ·log(mean(exp(−x/τ))) over the top-q fraction of the map
	PoolMax                   // the largest value
	PoolMean                  // the mean over all pixels
	PoolLSE                   // τ·log(mean(exp(x/τ))): a smooth maximum
	PoolCLS                   // the CLS token's similarity (the global image embedding)
)

var poolNames = map[string]Pool{"smoothmin": PoolSmoothMin, "max": PoolMax, "mean": PoolMean, "lse": PoolLSE, "cls": PoolCLS}

func (p Pool) String() string {
	for n, v := range poolNames {
		if v == p {
			return n
		}
	}
	return fmt.Sprintf("Pool(%d)", int(p))
}

// PoolNames lists the pooling names ParsePool accepts, in a fixed order.
func PoolNames() []string { return []string{"smoothmin", "max", "mean", "lse", "cls"} }

// ParsePool reads a pooling name.
func ParsePool(s string) (Pool, error) {
	if p, ok := poolNames[strings.ToLower(strings.TrimSpace(s))]; ok {
		return p, nil
	}
	return 0, fmt.Errorf("unknown pooling %q (want smoothmin, max, mean, lse or cls)", s)
}

// PartialOptions configure the partial-label stage: which classes are
// present in the image, decided before the pixel argmax.
type PartialOptions struct {
	Enabled bool
	Pool    Pool
	// Tau is the temperature of the smooth pools, in units of the scaled
	// logits (LogitScale·cos). τ→0 gives the hard min (max for LSE) over the
	// region, large τ the mean.
	Tau float64
	// TopQ is the fraction (0,1] of each class's most similar pixels that
	// smooth-min pooling covers: the region that must support the class.
	TopQ float64
	// Thd removes classes whose softmax-normalised image score is below it.
	Thd float64
	// TopK keeps at most this many foreground classes (0 = no limit).
	TopK int
}

// DefaultPartial are freeseg's defaults for the partial-label stage.
var DefaultPartial = PartialOptions{Enabled: true, Pool: PoolSmoothMin, Tau: 1, TopQ: 0.1, Thd: 0.01}

// Validate checks the option ranges.
func (o PartialOptions) Validate() error {
	switch {
	case !o.Enabled:
		return nil
	case o.Tau <= 0 && (o.Pool == PoolSmoothMin || o.Pool == PoolLSE):
		return fmt.Errorf("partial labels: tau %g must be positive", o.Tau)
	case o.Pool == PoolSmoothMin && (o.TopQ <= 0 || o.TopQ > 1):
		return fmt.Errorf("partial labels: top-q %g must be in (0,1]", o.TopQ)
	case o.Thd < 0 || o.Thd >= 1:
		return fmt.Errorf("partial labels: threshold %g must be in [0,1)", o.Thd)
	case o.TopK < 0:
		return fmt.Errorf("partial labels: top-k %d must not be negative", o.TopK)
	}
	return nil
}

// PartialResult is the image-level decision.
type PartialResult struct {
	Scores []float64 // per class, softmax over classes of the pooled scaled logits
	Keep   []bool    // per class
}

// PartialLabels scores every class at image level and decides which are
// present. lg holds the query logits at pixel resolution; classOf maps
// queries to classes (C classes); scale is the logit scale of the pixels.
// When background is set, class 0 is background and is never removed; the
// best-scoring class is always kept.
func PartialLabels(lg *Logits, classOf []int, C int, scale float64, background bool, o PartialOptions) PartialResult {
	HW := lg.H * lg.W
	pooled := make([]float64, C)
	for c := range pooled {
		pooled[c] = math.Inf(-1)
	}
	buf := make([]float64, HW)
	for q, c := range classOf {
		var s float64
		if o.Pool == PoolCLS {
			s = scale * float64(lg.CLS[q])
		} else {
			m := lg.Data[q*HW : (q+1)*HW]
			for i, v := range m {
				buf[i] = scale * float64(v)
			}
			s = poolValues(buf, o)
		}
		pooled[c] = math.Max(pooled[c], s) // synonyms: the best name counts
	}
	// softmax over classes
	mx := slices.Max(pooled)
	scores := make([]float64, C)
	var sum float64
	for c, v := range pooled {
		scores[c] = math.Exp(v - mx)
		sum += scores[c]
	}
	for c := range scores {
		scores[c] /= sum
	}
	keep := make([]bool, C)
	order := make([]int, C)
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		switch {
		case scores[a] > scores[b]:
			return -1
		case scores[a] < scores[b]:
			return 1
		}
		return 0
	})
	fg := 0
	for rank, c := range order {
		if background && c == 0 {
			keep[c] = true
			continue
		}
		ok := scores[c] >= o.Thd || rank == 0
		if o.TopK > 0 && fg >= o.TopK {
			ok = false
		}
		if ok {
			keep[c] = true
			fg++
		}
	}
	return PartialResult{Scores: scores, Keep: keep}
}

// poolValues reduces one class's scaled logits (buf is reordered).
func poolValues(x []float64, o PartialOptions) float64 {
	n := float64(len(x))
	switch o.Pool {
	case PoolMax:
		return slices.Max(x)
	case PoolMean:
		var s float64
		for _, v := range x {
			s += v
		}
		return s / n
	case PoolLSE:
		m := slices.Max(x)
		var s float64
		for _, v := range x {
			s += math.Exp((v - m) / o.Tau)
		}
		return m + o.Tau*math.Log(s/n)
	}
	// Smooth minimum over the top-q fraction: the class's best region.
	k := max(1, int(math.Ceil(o.TopQ*n)))
	top := topK(x, k)
	m := slices.Min(top)
	var s float64
	for _, v := range top {
		s += math.Exp(-(v - m) / o.Tau)
	}
	return m - o.Tau*math.Log(s/float64(len(top)))
}

// topK returns the k largest values of x (x is reordered), by quickselect.
func topK(x []float64, k int) []float64 {
	if k >= len(x) {
		return x
	}
	lo, hi := 0, len(x)-1
	target := len(x) - k // x[target:] will hold the k largest
	for lo < hi {
		p := x[(lo+hi)/2]
		i, j := lo, hi
		for i <= j {
			for x[i] < p {
				i++
			}
			for x[j] > p {
				j--
			}
			if i <= j {
				x[i], x[j] = x[j], x[i]
				i++
				j--
			}
		}
		if target <= j {
			hi = j
		} else if target >= i {
			lo = i
		} else {
			break
		}
	}
	return x[target:]
}
