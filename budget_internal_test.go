package freeseg

import (
	"math"
	"testing"
)

// sat saturates at MaxInt64/2 from 2⁶² (the first float64 that is not
// below it) up, for values int64 cannot hold and for NaN, and rounds up.
func TestSat(t *testing.T) {
	const top = math.MaxInt64 / 2
	for _, c := range []struct {
		x    float64
		want int64
	}{{0, 0}, {0.5, 1}, {3, 3}, {math.Ldexp(1, 62), top}, {math.Ldexp(1, 61), 1 << 61}, {1e19, top}, {math.Inf(1), top}, {math.NaN(), top}} {
		if got := sat(c.x); got != c.want {
			t.Errorf("sat(%g) = %d, want %d", c.x, got, c.want)
		}
	}
}
