package attn

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// BenchmarkHead runs the 12 heads (hd = 64) of one ViT-B/16 layer on one
// thread, reading q, k, v from a [N, 3·768] matrix as the model does, at
// 224 px (N=197) and 448 px (N=785) input, with both implementations and
// with and without a bias (NACLIP). GFLOP/s counts the two products,
// 4·N²·hd per head.
func BenchmarkHead(b *testing.B) {
	const D, heads, hd = 768, 12, 64
	r := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{197, 785} {
		qkv := randSlice(r, n*3*D, 1)
		out := make([]float32, n*D)
		bias := randSlice(r, n*n, 1)
		for l := maxLevel; l >= levelUnfused; l-- {
			for _, withBias := range []bool{false, true} {
				var bs []float32
				name := fmt.Sprintf("N=%d,hd=64,heads=12,%s", n, levelNames[l])
				if withBias {
					bs, name = bias, name+",bias"
				}
				b.Run(name, func(b *testing.B) {
					defer setLevel(setLevel(l))
					for b.Loop() {
						for h := 0; h < heads; h++ {
							Head(out[h*hd:], D, qkv[h*hd:], 3*D, qkv[D+h*hd:], 3*D, qkv[2*D+h*hd:], 3*D, n, hd, 0.125, bs, false, false)
						}
					}
					ns := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
					b.ReportMetric(ns/1e6, "ms/layer")
					b.ReportMetric(4*float64(n*n)*hd*heads/ns, "GFLOP/s")
				})
			}
		}
	}
}
