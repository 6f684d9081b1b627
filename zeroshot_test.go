package freeseg

import (
	"math"
	"testing"
)

func TestCosines(t *testing.T) {
	a := []float32{1, 0, 0, 2} // rows (1,0) and (0,2)
	b := []float32{3, 3}       // one row (3,3)
	got := Cosines(a, 2, b, 1, 2)
	// cos 45° = 0.70710678..., rounded to 6 decimals.
	if len(got) != 2 || got[0][0] != 0.707107 || got[1][0] != 0.707107 {
		t.Fatalf("%v", got)
	}
	if self := Cosines(a, 2, a, 2, 2); self[0][0] != 1 || self[0][1] != 0 {
		t.Fatalf("self %v", self)
	}
}

// A class scores as its best synonym: the queries' 0.1 and 0.3 for class
// 0 give 0.3; at scale 10 the probabilities are softmax(3, 2).
func TestClassProbs(t *testing.T) {
	p := ClassProbs([]float64{0.1, 0.3, 0.2}, []int{0, 0, 1}, 2, 10)
	want0 := math.E / (math.E + 1)
	if len(p) != 2 || math.Abs(p[0]-want0) > 1e-12 || math.Abs(p[1]-(1-want0)) > 1e-12 {
		t.Fatalf("%v, want [%g %g]", p, want0, 1-want0)
	}
}
