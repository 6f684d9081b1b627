package gemm

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

// Run with FREESEG_GEMM=avx512|avx2|generic to pick the kernel, and -cpu=1,2
// to set the thread count (benchmarks use GOMAXPROCS threads).

// Other people run tests on the benchmark machines; besides the mean rate,
// GFLOP/s, the benchmarks report best-GFLOP/s, the rate of the fastest
// single call, which is what the code does when it has the cores to itself.

// loop runs f b.N times and reports both rates for an m×n×k product.
func loop(b *testing.B, m, n, k int, f func()) {
	best := time.Duration(math.MaxInt64)
	for b.Loop() {
		t0 := time.Now()
		f()
		best = min(best, time.Since(t0))
	}
	flops := 2 * float64(m) * float64(n) * float64(k)
	b.ReportMetric(flops*float64(b.N)/float64(b.Elapsed().Nanoseconds()), "GFLOP/s")
	b.ReportMetric(flops/float64(best.Nanoseconds()), "best-GFLOP/s")
}

// BenchmarkSgemmPacked covers the linear layers of ViT-B/16 at 224 px
// (M=197) and 448 px (M=785): qkv, attention output, MLP up and down.
func BenchmarkSgemmPacked(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 1))
	for _, m := range []int{785, 197} {
		for _, kn := range [][2]int{{768, 2304}, {768, 768}, {768, 3072}, {3072, 768}} {
			k, n := kn[0], kn[1]
			b.Run(fmt.Sprintf("M=%d,K=%d,N=%d", m, k, n), func(b *testing.B) {
				defer SetThreads(SetThreads(gomaxprocs()))
				a, w, bias := randSlice(r, m*k), randSlice(r, n*k), randSlice(r, n)
				c := make([]float32, m*n)
				pb := PackB(true, k, n, w, k)
				loop(b, m, n, k, func() { SgemmPacked(m, 1, a, k, pb, 0, c, n, bias) })
			})
		}
	}
}

// BenchmarkSgemmAttention covers the per-head attention products, reading
// q, k, v in place from the fused qkv activations (stride 3·768):
// scores = q·kᵀ (transB) and out = P·v.
func BenchmarkSgemmAttention(b *testing.B) {
	const ld = 3 * 768
	r := rand.New(rand.NewPCG(2, 2))
	for _, t := range []int{197, 785} {
		qkv := randSlice(r, t*ld)
		p := randSlice(r, t*t)
		for _, serial := range []bool{false, true} {
			name := "Sgemm"
			if serial {
				name = "SgemmSerial"
			}
			gemm := Sgemm
			if serial {
				gemm = SgemmSerial
			}
			b.Run(fmt.Sprintf("%s/qkT,M=%d,N=%d,K=64", name, t, t), func(b *testing.B) {
				defer SetThreads(SetThreads(gomaxprocs()))
				c := make([]float32, t*t)
				loop(b, t, t, 64, func() { gemm(false, true, t, t, 64, 0.125, qkv, ld, qkv[768:], ld, 0, c, t) })
			})
			b.Run(fmt.Sprintf("%s/AV,M=%d,N=64,K=%d", name, t, t), func(b *testing.B) {
				defer SetThreads(SetThreads(gomaxprocs()))
				c := make([]float32, t*768)
				loop(b, t, 64, t, func() { gemm(false, false, t, 64, t, 1, p, t, qkv[2*768:], ld, 0, c, 768) })
			})
		}
	}
}

// BenchmarkSgemmPackedBF16 is BenchmarkSgemmPacked with bf16 weights
// (FREESEG_BF16=emulated for the fallback).
func BenchmarkSgemmPackedBF16(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 1))
	for _, m := range []int{785, 197} {
		for _, kn := range [][2]int{{768, 2304}, {768, 768}, {768, 3072}, {3072, 768}} {
			k, n := kn[0], kn[1]
			b.Run(fmt.Sprintf("M=%d,K=%d,N=%d", m, k, n), func(b *testing.B) {
				defer SetThreads(SetThreads(gomaxprocs()))
				a, w, bias := randSlice(r, m*k), randSlice(r, n*k), randSlice(r, n)
				c := make([]float32, m*n)
				pb := PackB(true, k, n, w, k).BF16()
				loop(b, m, n, k, func() { SgemmPacked(m, 1, a, k, pb, 0, c, n, bias) })
			})
		}
	}
}

// BenchmarkPeak reports the register-only FMA and VDPBF16PS rates of one
// goroutine per -cpu thread.
func BenchmarkPeak(b *testing.B) {
	for b.Loop() {
		f := FMAPeakGFLOPS(gomaxprocs(), 200*time.Millisecond)
		bf, _ := BF16PeakGFLOPS(gomaxprocs(), 200*time.Millisecond)
		b.ReportMetric(f, "fma-GFLOP/s")
		b.ReportMetric(bf, "bf16-GFLOP/s")
	}
}

// BenchmarkEfficiency reports the same-moment efficiency of the products
// at the ViT-B/16 shapes (MeasureEfficiency, about 4 s per call, -cpu
// threads): medians of the per-slice ratios and the plain mean ratios, at
// M = 785 and 197, fp32 and bf16.
func BenchmarkEfficiency(b *testing.B) {
	for _, prec := range []string{"fp32", "bf16"} {
		b.Run(prec, func(b *testing.B) {
			for b.Loop() {
				e, ok := MeasureEfficiency(gomaxprocs(), 4*time.Second, prec == "bf16")
				if !ok {
					b.Skip("no peak loop here")
				}
				for _, s := range e.Sets {
					b.ReportMetric(s.Median, fmt.Sprintf("median-m%d", s.M))
					b.ReportMetric(s.Mean, fmt.Sprintf("mean-m%d", s.M))
					b.ReportMetric(s.GEMMGFLOPS, fmt.Sprintf("GFLOP/s-m%d", s.M))
				}
				b.ReportMetric(e.Sets[0].PeakGFLOPS, "peak-GFLOP/s")
			}
		})
	}
}
