package seg

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/freeseg/freeseg/internal/numtest"
)

func TestTopKMatchesSort(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	for _, n := range []int{1, 2, 7, 100, 1001} {
		for _, k := range []int{1, 2, n / 2, n} {
			if k < 1 || k > n {
				continue
			}
			x := make([]float64, n)
			for i := range x {
				x[i] = float64(r.IntN(20)) // many ties
			}
			want := append([]float64(nil), x...)
			slices.Sort(want)
			want = want[n-k:]
			got := append([]float64(nil), topK(x, k)...)
			slices.Sort(got)
			if !slices.Equal(got, want) {
				t.Fatalf("n=%d k=%d: top-k %v, want %v", n, k, got, want)
			}
		}
	}
}

func TestSmoothMinLimits(t *testing.T) {
	x := []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	pool := func(tau, q float64) float64 {
		return poolValues(append([]float64(nil), x...), PartialOptions{Pool: PoolSmoothMin, Tau: tau, TopQ: q})
	}
	// τ → 0: the hard minimum of the top-q region (the 3 best: 8, 9, 10).
	if v := pool(1e-3, 0.3); !numtest.Near(v, 8, 1e-2) {
		t.Fatalf("small tau gave %g, want about 8", v)
	}
	// τ → ∞: the mean of the region.
	if v := pool(1e6, 0.3); !numtest.Near(v, 9, 1e-3) {
		t.Fatalf("large tau gave %g, want about 9", v)
	}
	// Between the two.
	if v := pool(1, 0.3); v <= 8 || v >= 9 {
		t.Fatalf("tau 1 gave %g, want in (8,9)", v)
	}
	// LSE: τ → 0 is the max, large τ the mean.
	lse := func(tau float64) float64 {
		return poolValues(append([]float64(nil), x...), PartialOptions{Pool: PoolLSE, Tau: tau})
	}
	if v := lse(1e-3); !numtest.Near(v, 10, 1e-2) {
		t.Fatalf("lse small tau %g", v)
	}
	if v := lse(1e6); !numtest.Near(v, 5.5, 1e-3) {
		t.Fatalf("lse large tau %g", v)
	}
}

func TestPartialLabelsRules(t *testing.T) {
	// Three queries over a 1x4 image: class 0 (background), 1, 2 where
	// class 2 has two synonyms.
	lg := &Logits{Q: 4, H: 1, W: 4, CLS: []float32{0.1, 0.2, 0.3, 0.25},
		Data: []float32{
			0.20, 0.20, 0.20, 0.20, // background
			0.30, 0.10, 0.10, 0.10, // class 1: one strong pixel
			0.22, 0.22, 0.22, 0.22, // class 2, synonym a
			0.10, 0.10, 0.10, 0.28, // class 2, synonym b
		}}
	classOf := []int{0, 1, 2, 2}
	// Max pooling: class 1 scores 0.30 (one pixel), class 2 0.28.
	r := PartialLabels(lg, classOf, 3, 40, true, PartialOptions{Enabled: true, Pool: PoolMax, TopK: 1})
	if !r.Keep[0] || !r.Keep[1] || r.Keep[2] {
		t.Fatalf("max, top-1: keep %v, want [true true false]", r.Keep)
	}
	// Mean pooling prefers the class supported everywhere.
	r = PartialLabels(lg, classOf, 3, 40, true, PartialOptions{Enabled: true, Pool: PoolMean, TopK: 1})
	if !r.Keep[2] || r.Keep[1] {
		t.Fatalf("mean, top-1: keep %v, want class 2", r.Keep)
	}
	var s float64
	for _, v := range r.Scores {
		s += v
	}
	if !numtest.Near(s, 1, 1e-12) {
		t.Fatalf("scores sum to %g", s)
	}
	// A threshold above every score keeps the best class and background.
	r = PartialLabels(lg, classOf, 3, 40, true, PartialOptions{Enabled: true, Pool: PoolCLS, Thd: 0.99})
	if !r.Keep[0] || r.Keep[1] || !r.Keep[2] {
		t.Fatalf("cls, thd 0.99: keep %v, want background and the best class (2)", r.Keep)
	}
	// Without background, class 0 is an ordinary class.
	r = PartialLabels(lg, classOf, 3, 40, false, PartialOptions{Enabled: true, Pool: PoolMax, TopK: 1})
	if r.Keep[0] {
		t.Fatalf("no background: class 0 kept with top-1: %v", r.Keep)
	}
	// Removed classes take no part in the softmax and get probability 0;
	// the kept ones renormalise among themselves.
	probs, C, err := Probabilities(lg.Data, 4, 4, classOf, 40, []bool{true, false, true})
	if err != nil || C != 3 {
		t.Fatal(err)
	}
	for i := 0; i < 4; i++ {
		if probs[4+i] != 0 {
			t.Fatalf("removed class 1 has probability %g at pixel %d", probs[4+i], i)
		}
		// Without synonyms in class 0, p0 + p(best synonym of 2) ≤ 1 and
		// p0 + both synonyms = 1.
		q2a := math.Exp(40 * float64(lg.Data[8+i]))
		q2b := math.Exp(40 * float64(lg.Data[12+i]))
		q0 := math.Exp(40 * float64(lg.Data[i]))
		want0 := q0 / (q0 + q2a + q2b)
		if !numtest.Near(float64(probs[i]), want0, 1e-5) {
			t.Fatalf("pixel %d: background %g, want %g", i, probs[i], want0)
		}
	}
	if _, _, err := Probabilities(lg.Data, 4, 4, classOf, 40, []bool{false, false, false}); err == nil {
		t.Fatal("removing every class was accepted")
	}
}

func TestPartialOptionsValidate(t *testing.T) {
	bad := []PartialOptions{
		{Enabled: true, Pool: PoolSmoothMin, Tau: 0, TopQ: 0.1},
		{Enabled: true, Pool: PoolSmoothMin, Tau: 1, TopQ: 0},
		{Enabled: true, Pool: PoolSmoothMin, Tau: 1, TopQ: 1.5},
		{Enabled: true, Pool: PoolMax, Thd: 1},
		{Enabled: true, Pool: PoolMax, TopK: -1},
	}
	for i, o := range bad {
		if o.Validate() == nil {
			t.Fatalf("case %d accepted: %+v", i, o)
		}
	}
	if DefaultPartial.Validate() != nil {
		t.Fatal("defaults invalid")
	}
	if _, err := ParsePool("nope"); err == nil {
		t.Fatal("unknown pool accepted")
	}
	for _, n := range []string{"smoothmin", "max", "mean", "lse", "cls"} {
		p, err := ParsePool(n)
		if err != nil || p.String() != n {
			t.Fatalf("ParsePool(%q) = %v, %v", n, p, err)
		}
	}
}
