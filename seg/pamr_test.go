package seg

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/freeseg/freeseg/internal/numtest"
)

// refPAMR is the direct definition of docs/method.md#pamr (gather of the 8 dilated
// neighbours with replicate padding, affinities softmaxed over them), the
// reference for the optimised PAMR, in float64.
func refPAMR(img, mask []float32, K, H, W, iters int, dil []int) []float64 {
	type off struct{ dy, dx int }
	var offs []off
	for _, d := range dil {
		for _, o := range []off{{-1, -1}, {-1, 0}, {-1, 1}, {0, -1}, {0, 1}, {1, -1}, {1, 0}, {1, 1}} {
			offs = append(offs, off{o.dy * d, o.dx * d})
		}
	}
	cl := func(v, n int) int { return max(0, min(v, n-1)) }
	at := func(p []float32, y, x int) float64 { return float64(p[cl(y, H)*W+cl(x, W)]) }
	aff := make([][]float64, H*W)
	for y := 0; y < H; y++ {
		for x := 0; x < W; x++ {
			a := make([]float64, len(offs))
			for c := 0; c < 3; c++ {
				ch := img[c*H*W : (c+1)*H*W]
				var vals []float64
				for i, d := range dil {
					_ = i
					vals = append(vals, at(ch, y, x))
					for _, o := range offs[8*i : 8*i+8] {
						_ = d
						vals = append(vals, at(ch, y+o.dy, x+o.dx))
					}
				}
				var mean, ss float64
				for _, v := range vals {
					mean += v
				}
				mean /= float64(len(vals))
				for _, v := range vals {
					ss += (v - mean) * (v - mean)
				}
				std := math.Sqrt(ss / float64(len(vals)-1))
				for p, o := range offs {
					a[p] += -math.Abs(at(ch, y, x)-at(ch, y+o.dy, x+o.dx)) / (1e-8 + 0.1*std) / 3
				}
			}
			m := math.Inf(-1)
			for _, v := range a {
				m = math.Max(m, v)
			}
			var s float64
			for p := range a {
				a[p] = math.Exp(a[p] - m)
				s += a[p]
			}
			for p := range a {
				a[p] /= s
			}
			aff[y*W+x] = a
		}
	}
	cur := make([]float64, len(mask))
	for i, v := range mask {
		cur[i] = float64(v)
	}
	for it := 0; it < iters; it++ {
		next := make([]float64, len(cur))
		for k := 0; k < K; k++ {
			for y := 0; y < H; y++ {
				for x := 0; x < W; x++ {
					var s float64
					for p, o := range offs {
						s += cur[k*H*W+cl(y+o.dy, H)*W+cl(x+o.dx, W)] * aff[y*W+x][p]
					}
					next[k*H*W+y*W+x] = s
				}
			}
		}
		cur = next
	}
	return cur
}

func TestPAMRMatchesDefinition(t *testing.T) {
	r := rand.New(rand.NewPCG(4, 2))
	for _, sz := range [][2]int{{5, 3}, {12, 20}, {33, 17}, {40, 41}} {
		H, W, K := sz[0], sz[1], 3
		img := make([]float32, 3*H*W)
		for i := range img {
			img[i] = float32(r.NormFloat64())
		}
		mask := make([]float32, K*H*W)
		for i := range mask {
			mask[i] = r.Float32()
		}
		want := refPAMR(img, mask, K, H, W, 3, []int{2, 4})
		got := append([]float32(nil), mask...)
		if err := PAMR(img, got, K, H, W, 3, []int{2, 4}); err != nil {
			t.Fatal(err)
		}
		got64 := make([]float64, len(got))
		for i, v := range got {
			got64[i] = float64(v)
		}
		if _, p := numtest.Problem(got64, want, 1e-5); p != "" {
			t.Fatalf("%dx%d: against the definition: %s", H, W, p)
		}
	}
	if err := PAMR(make([]float32, 3), make([]float32, 1), 1, 1, 1, 1, []int{0}); err == nil {
		t.Fatal("dilation 0 accepted")
	}
}
