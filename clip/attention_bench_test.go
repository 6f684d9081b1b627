package clip

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// attnImpls are the two implementations of the attention: the fused
// kernel (production) and the three-step reference it replaced.
var attnImpls = []struct {
	name string
	f    func(ctx, qkv []float32, B, N, D, heads int, kind AttnKind, opt AttnOptions)
}{{"fused", Attention}, {"reference", attentionReference}}

// attnFlops counts the two products of one layer's attention: 4·N²·hd per
// head (twice that for qq+kk).
func attnFlops(N, D int, kind AttnKind) float64 {
	f := 4 * float64(N) * float64(N) * float64(D)
	if kind == AttnQQPlusKK {
		f *= 2
	}
	return f
}

// BenchmarkAttention runs the attention of one ViT-B/16 layer (12 heads of
// 64, one sequence) at 224 px (N=197) and 448 px (N=785) input, for the
// plain and SCLIP attentions, with both implementations. ms/layer is the
// mean time of one layer's attention (all heads, GOMAXPROCS threads).
func BenchmarkAttention(b *testing.B) {
	const D, heads = 768, 12
	r := rand.New(rand.NewPCG(1, 2))
	for _, N := range []int{197, 785} {
		qkv := make([]float32, N*3*D)
		for i := range qkv {
			qkv[i] = float32(r.NormFloat64())
		}
		ctx := make([]float32, N*D)
		for _, kind := range []AttnKind{AttnQK, AttnQQPlusKK} {
			for _, impl := range attnImpls {
				b.Run(fmt.Sprintf("N=%d,hd=64,heads=12,%v,%s", N, kind, impl.name), func(b *testing.B) {
					for b.Loop() {
						impl.f(ctx, qkv, 1, N, D, heads, kind, AttnOptions{})
					}
					ns := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
					b.ReportMetric(ns/1e6, "ms/layer")
					b.ReportMetric(attnFlops(N, D, kind)/ns, "GFLOP/s")
				})
			}
		}
	}
}

// BenchmarkAttentionAB alternates the two implementations call by call,
// so that both see the same machine load (shared machines vary by tens of
// percent over seconds), and reports the median and the best time of
// each. One b.N iteration is one call of each.
func BenchmarkAttentionAB(b *testing.B) {
	const D, heads = 768, 12
	r := rand.New(rand.NewPCG(1, 2))
	for _, N := range []int{197, 785} {
		qkv := make([]float32, N*3*D)
		for i := range qkv {
			qkv[i] = float32(r.NormFloat64())
		}
		ctx := make([]float32, N*D)
		for _, kind := range []AttnKind{AttnQK, AttnKK, AttnQQPlusKK} {
			opt := AttnOptions{}
			if kind == AttnKK { // NACLIP's window bias
				opt.Bias = make([]float32, N*N)
				for i := range opt.Bias {
					opt.Bias[i] = float32(r.NormFloat64())
				}
			}
			b.Run(fmt.Sprintf("N=%d,hd=64,heads=12,%v", N, kind), func(b *testing.B) {
				times := make([][]time.Duration, len(attnImpls))
				cpu := make([]time.Duration, len(attnImpls))
				for b.Loop() {
					for i, impl := range attnImpls {
						c0 := processCPU()
						t0 := time.Now()
						impl.f(ctx, qkv, 1, N, D, heads, kind, opt)
						times[i] = append(times[i], time.Since(t0))
						cpu[i] += processCPU() - c0
					}
				}
				for i, impl := range attnImpls {
					slices.Sort(times[i])
					med := times[i][len(times[i])/2]
					b.ReportMetric(float64(med.Nanoseconds())/1e6, impl.name+"-median-ms/layer")
					b.ReportMetric(float64(times[i][0].Nanoseconds())/1e6, impl.name+"-best-ms/layer")
					b.ReportMetric(attnFlops(N, D, kind)/float64(med.Nanoseconds()), impl.name+"-median-GFLOP/s")
					// CPU time of all threads per call: what the call costs
					// whatever else the machine runs (0 where unmeasured).
					b.ReportMetric(float64(cpu[i].Nanoseconds())/1e6/float64(len(times[i])), impl.name+"-cpu-ms/layer")
				}
			})
		}
	}
}
