package seg

import (
	"slices"
	"testing"
)

// Every array of up to 7 values over {0,1,2} (ties everywhere) and every k:
// topK must return exactly the k largest values (as a multiset). Random
// arrays miss the partitions where the pivot's slot and the target meet.
func TestTopKExhaustiveSmall(t *testing.T) {
	for n := 1; n <= 7; n++ {
		total := 1
		for i := 0; i < n; i++ {
			total *= 3
		}
		for code := 0; code < total; code++ {
			orig := make([]float64, n)
			for i, c := 0, code; i < n; i, c = i+1, c/3 {
				orig[i] = float64(c % 3)
			}
			want := slices.Clone(orig)
			slices.Sort(want)
			for k := 1; k <= n; k++ {
				got := slices.Clone(topK(slices.Clone(orig), k))
				slices.Sort(got)
				if !slices.Equal(got, want[n-k:]) {
					t.Fatalf("topK(%v, %d) = %v, want %v", orig, k, got, want[n-k:])
				}
			}
		}
	}
}
