package bench

import (
	"runtime"
	"time"

	"github.com/freeseg/freeseg/tensor/gemm"
)

// peaksAndGEMM measures the machine's peaks with all threads (the FMA and
// VDPBF16PS register-only loops) and the GEMM at the linear layers of
// ViT-B/16 (M = 785 and 197 tokens; K×N = 768×2304, 768×768, 768×3072,
// 3072×768) in bf16 when bf16 is set, else fp32, as mean rates over
// repeated calls. gemm_efficiency is the M = 785 rate over the peak of the
// instruction the precision uses (FMA for fp32, VDPBF16PS for native bf16,
// FMA for emulated bf16).
func peaksAndGEMM(r *Report, logf func(string, ...any), repeat int, bf16 bool) {
	threads := runtime.GOMAXPROCS(0)
	fmaP := gemm.FMAPeak(threads, 300*time.Millisecond)
	fma := fmaP.GFLOPS
	r.FMAPeakGFLOPS = round1(fma)
	logf("peak fp32 FMA, %d threads: %.0f GFLOP/s (%.0f per CPU-second)\n", threads, fma, fmaP.PerCPU)
	peak, peakCPU := fma, fmaP.PerCPU
	bfP, ok := gemm.BF16Peak(threads, 300*time.Millisecond)
	if amx, amxOK := gemm.AMXPeak(threads, 300*time.Millisecond); amxOK {
		bfP, ok = amx, true // FREESEG_BF16=amx: the bf16 products run on the tiles
		logf("(bf16 peak of AMX TDPBF16PS)\n")
	}
	if ok {
		r.BF16PeakGFLOPS = ptr(round1(bfP.GFLOPS))
		logf("peak bf16 VDPBF16PS, %d threads: %.0f GFLOP/s (%.0f per CPU-second)\n", threads, bfP.GFLOPS, bfP.PerCPU)
	}
	if bf16 && gemm.BF16Kernel() != "emulated" {
		peak, peakCPU = bfP.GFLOPS, bfP.PerCPU
	}
	var cpuSecs float64 // of the last rate call
	rate := func(M, K, N int) float64 {
		a := make([]float32, M*K)
		b := make([]float32, K*N)
		for i := range a {
			a[i] = float32(i%17) / 17
		}
		for i := range b {
			b[i] = float32(i%13) / 13
		}
		pb := gemm.PackB(false, K, N, b, N)
		if bf16 {
			pb = pb.BF16()
		}
		c := make([]float32, M*N)
		bias := make([]float32, N)
		gemm.SgemmPacked(M, 1, a, K, pb, 0, c, N, bias) // warm the buffers
		calls := max(4, 4*repeat)
		c0 := processCPU()
		start := time.Now()
		for range calls {
			gemm.SgemmPacked(M, 1, a, K, pb, 0, c, N, bias)
		}
		cpuSecs = (processCPU() - c0).Seconds() / float64(calls)
		return 2 * float64(M*K*N) * float64(calls) / time.Since(start).Seconds() / 1e9
	}
	g := rate(785, 768, 3072)
	r.GEMMGFLOPS = round1(g)
	logf("GEMM 785x768x3072: %.1f GFLOP/s\n", g)
	for _, layer := range []struct {
		M           int
		rate        *float64
		eff, effCPU **float64
	}{{785, &r.GEMMGFLOPSM785, &r.GEMMEfficiency, &r.GEMMEfficiencyCPU}, {197, &r.GEMMGFLOPSM197, &r.GEMMEfficiencyM197, &r.GEMMEfficiencyM197CPU}} {
		M := layer.M
		var flops, secs, cpu float64
		for _, kn := range [][2]int{{768, 2304}, {768, 768}, {768, 3072}, {3072, 768}} {
			r := rate(M, kn[0], kn[1])
			f := 2 * float64(M*kn[0]*kn[1])
			flops += f
			secs += f / r
			cpu += cpuSecs
		}
		g := flops / secs
		*layer.rate = round1(g)
		if peak > 0 {
			*layer.eff = ptr(round3(g / peak))
		}
		// The same ratio in CPU time (flops per CPU-second of the process
		// over the peak loop's per CPU-second): unlike the wall-time ratio
		// it survives other programs sharing the cores, but it does not
		// count threads waiting for work.
		if peakCPU > 0 && cpu > 0 {
			*layer.effCPU = ptr(round3(flops / cpu / 1e9 / peakCPU))
		}
		logf("GEMM at the ViT-B/16 layers, M=%d: %.1f GFLOP/s, %.0f%% of the peak (%.0f%% in CPU time)\n", M, g, 100*g/peak, 100*flops/cpu/1e9/peakCPU)
	}
}
