package bench

import (
	"runtime"
	"time"

	"github.com/freeseg/freeseg/tensor/gemm"
)

// peaksAndGEMM measures the machine's peaks with all threads (the FMA and
// VDPBF16PS register-only loops), the GEMM rate at the linear layers of
// ViT-B/16 (M = 785 and 197 tokens; K×N = 768×2304, 768×768, 768×3072,
// 3072×768) in bf16 when bf16 is set, else fp32, and the efficiency:
// gemm.MeasureEfficiency alternates short slices of the peak loop of the
// instruction the precision uses (FMA for fp32 and emulated bf16,
// VDPBF16PS or AMX for native bf16) with slices of the products, and
// gemm_efficiency(_m197) is the median of the ratios of each product
// slice to the peak slices right next to it. A peak taken once before the
// products, as the peaks reported here are, can be from a faster or a
// slower moment of a core shared with other machines (docs/speed.md).
func peaksAndGEMM(r *Report, logf func(string, ...any), repeat int, bf16 bool) {
	threads := runtime.GOMAXPROCS(0)
	fmaP := gemm.FMAPeak(threads, 300*time.Millisecond)
	r.FMAPeakGFLOPS = round1(fmaP.GFLOPS)
	logf("peak fp32 FMA, %d threads: %.0f GFLOP/s (%.0f per CPU-second)\n", threads, fmaP.GFLOPS, fmaP.PerCPU)
	bfP, ok := gemm.BF16Peak(threads, 300*time.Millisecond)
	if amx, amxOK := gemm.AMXPeak(threads, 300*time.Millisecond); amxOK {
		bfP, ok = amx, true // FREESEG_BF16=amx: the bf16 products run on the tiles
		logf("(bf16 peak of AMX TDPBF16PS)\n")
	}
	if ok {
		r.BF16PeakGFLOPS = ptr(round1(bfP.GFLOPS))
		logf("peak bf16 VDPBF16PS, %d threads: %.0f GFLOP/s (%.0f per CPU-second)\n", threads, bfP.GFLOPS, bfP.PerCPU)
	}

	// One shape alone, as the report has always had it.
	a := make([]float32, 785*768)
	b := make([]float32, 768*3072)
	for i := range a {
		a[i] = float32(i%17) / 17
	}
	for i := range b {
		b[i] = float32(i%13) / 13
	}
	pb := gemm.PackB(false, 768, 3072, b, 3072)
	if bf16 {
		pb = pb.BF16()
	}
	c := make([]float32, 785*3072)
	gemm.SgemmPacked(785, 1, a, 768, pb, 0, c, 3072, nil) // warm the buffers
	calls := max(4, 4*repeat)
	start := time.Now()
	for range calls {
		gemm.SgemmPacked(785, 1, a, 768, pb, 0, c, 3072, nil)
	}
	g := 2 * 785 * 768 * 3072 * float64(calls) / time.Since(start).Seconds() / 1e9
	r.GEMMGFLOPS = round1(g)
	logf("GEMM 785x768x3072: %.1f GFLOP/s\n", g)

	e, ok := gemm.MeasureEfficiency(threads, time.Duration(max(repeat, 2))*time.Second, bf16)
	if !ok {
		logf("no peak loop on this CPU or kernel: the GEMM's efficiency is not measured\n")
		return
	}
	for _, s := range e.Sets {
		rate, eff, effCPU := &r.GEMMGFLOPSM785, &r.GEMMEfficiency, &r.GEMMEfficiencyCPU
		if s.M == 197 {
			rate, eff, effCPU = &r.GEMMGFLOPSM197, &r.GEMMEfficiencyM197, &r.GEMMEfficiencyM197CPU
		}
		*rate = round1(s.GEMMGFLOPS)
		*eff = ptr(round3(s.Median))
		// The same ratio in CPU time (flops per CPU-second of the process
		// over the peak loop's per CPU-second): it does not count threads
		// waiting for work.
		if s.CPU > 0 {
			*effCPU = ptr(round3(s.CPU))
		}
		logf("GEMM at the ViT-B/16 layers, M=%d: %.1f GFLOP/s; %.0f%% of the %s peak measured next to it (median of %d slices, %.0f%%-%.0f%%; %.0f%% in CPU time)\n",
			s.M, s.GEMMGFLOPS, 100*s.Median, e.Peak, s.Pairs, 100*s.Min, 100*s.Max, 100*s.CPU)
	}
}
