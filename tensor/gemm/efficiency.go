package gemm

import (
	"math"
	"slices"
	"time"
)

// Same-moment efficiency (docs/speed.md, "Know the limit"). On a machine
// whose cores are shared with other virtual machines the speed of a core
// swings by up to 2× over seconds, invisibly to CPU-time accounting, so a
// peak measured before the products and a GEMM rate measured after them
// can give any ratio (even above 1). MeasureEfficiency therefore
// alternates short slices of the peak loop and of the products, P G P G …
// P, and rates each GEMM slice against the mean of the two peak slices
// around it.

// ViTB16Shapes are the K×N of the four linear layers of a ViT-B/16 block
// (qkv, attention output, MLP up, MLP down).
var ViTB16Shapes = [][2]int{{768, 2304}, {768, 768}, {768, 3072}, {3072, 768}}

// EfficiencySet is the efficiency of the products at one M over the four
// ViT-B/16 layer shapes.
type EfficiencySet struct {
	M     int
	Pairs int // GEMM slices, each rated against its neighbouring peak slices
	// Median of the per-slice ratios: GEMM rate ÷ peak rate right next to it.
	Median float64
	// Min and Max of those ratios.
	Min, Max float64
	// Mean is GEMMGFLOPS ÷ PeakGFLOPS: the plain means over all slices.
	Mean float64
	// GEMMGFLOPS is the total flops over the total time of all GEMM calls
	// (a mean over repeated calls, not the best call); PeakGFLOPS the same
	// for the peak slices.
	GEMMGFLOPS, PeakGFLOPS float64
	// CPU is the ratio in CPU time: the GEMM's flops per CPU-second of the
	// process over the peak loop's flops per CPU-second of its threads (0
	// where the OS does not report CPU time).
	CPU float64
}

// Efficiency is the result of MeasureEfficiency.
type Efficiency struct {
	Threads int
	Kernel  string // the kernel the products ran on
	Peak    string // the peak loop they are rated against: "fma", "vdpbf16ps" or "amx"
	Sets    []EfficiencySet
}

// efficiencySlice is the target length of one slice: long enough for a
// whole round of the four products at M = 785 (about 11 GFLOP), short
// enough that the core's speed changes little within a pair.
const efficiencySlice = 60 * time.Millisecond

// MeasureEfficiency rates the products at the ViT-B/16 layer shapes (M =
// 785 and 197) against the peak loop of the instruction they run on (the
// FMA loop for fp32 and emulated bf16, VDPBF16PS or AMX for native bf16),
// on threads goroutines for about d in all (at least one pair per M). ok
// is false where there is no peak loop (no AVX-512, or the portable
// kernel is in use). It sets the package's thread count (SetThreads) for
// its duration, so run it while no other products run; it allocates
// about 70 MB of operands (fp32, M = 785: A, C and the packed weights)
// and releases the packed weights on return.
func MeasureEfficiency(threads int, d time.Duration, bf16 bool) (e Efficiency, ok bool) {
	threads = max(threads, 1)
	kern := active.Load()
	if !hasPeakFMA() || !kern.fast {
		return Efficiency{}, false
	}
	loop, flopsPerIter, peakName, kname := fmaPeak, 32*peakAccs, "fma", kern.name
	if bf16 {
		kname = BF16Kernel()
		switch {
		case kname == "emulated":
		case bf16AMX != nil:
			loop, flopsPerIter, peakName = amxPeak, 4*16384, "amx"
		default:
			loop, flopsPerIter, peakName = bf16Peak, 64*peakAccs, "vdpbf16ps"
		}
	}
	defer SetThreads(SetThreads(threads))
	e = Efficiency{Threads: threads, Kernel: kname, Peak: peakName}
	ms := []int{785, 197}
	for _, m := range ms {
		e.Sets = append(e.Sets, measureSet(m, threads, d/time.Duration(len(ms)), bf16, loop, flopsPerIter))
	}
	return e, true
}

// measureSet measures one M for about d.
func measureSet(m, threads int, d time.Duration, bf16 bool, loop func(int), flopsPerIter int) EfficiencySet {
	type operands struct {
		a, c, bias []float32
		pb         *PackedB
		k, n       int
	}
	ops := make([]operands, len(ViTB16Shapes))
	var roundFlops float64
	for i, kn := range ViTB16Shapes {
		k, n := kn[0], kn[1]
		o := operands{a: make([]float32, m*k), c: make([]float32, m*n), bias: make([]float32, n), k: k, n: n}
		for j := range o.a {
			o.a[j] = float32(j%17)/17 - 0.5
		}
		w := make([]float32, k*n)
		for j := range w {
			w[j] = float32(j%13)/13 - 0.5
		}
		o.pb = PackB(false, k, n, w, n)
		if bf16 {
			q := o.pb.BF16()
			o.pb.Release()
			o.pb = q
		}
		ops[i] = o
		roundFlops += 2 * float64(m) * float64(k) * float64(n)
	}
	defer func() {
		for _, o := range ops {
			o.pb.Release()
		}
	}()
	round := func() {
		for _, o := range ops {
			SgemmPacked(m, 1, o.a, o.k, o.pb, 0, o.c, o.n, o.bias)
		}
	}
	round() // warm the buffers, the helpers and the caches

	// One slice of products: whole rounds until the slice has passed.
	gemmSlice := func(s time.Duration) (rate, flops, secs, cpu float64) {
		c0 := processCPU()
		t0 := time.Now()
		rounds := 0
		for rounds == 0 || time.Since(t0) < s {
			round()
			rounds++
		}
		secs = time.Since(t0).Seconds()
		cpu = (processCPU() - c0).Seconds()
		flops = roundFlops * float64(rounds)
		return flops / secs / 1e9, flops, secs, cpu
	}
	slice := min(efficiencySlice, max(d/8, time.Millisecond))
	set := EfficiencySet{M: m}
	var peaks, ratios []float64
	var peakPerCPU, gFlops, gSecs, gCPU float64
	p := peakRun(threads, slice, loop, flopsPerIter)
	peaks = append(peaks, p.GFLOPS)
	peakPerCPU += p.PerCPU
	start := time.Now()
	var gemmRates []float64
	for len(gemmRates) == 0 || time.Since(start) < d {
		g, f, s, c := gemmSlice(slice)
		gemmRates = append(gemmRates, g)
		gFlops, gSecs, gCPU = gFlops+f, gSecs+s, gCPU+c
		p := peakRun(threads, slice, loop, flopsPerIter)
		peaks = append(peaks, p.GFLOPS)
		peakPerCPU += p.PerCPU
		ratios = append(ratios, g/((peaks[len(peaks)-2]+p.GFLOPS)/2))
	}
	set.Pairs = len(ratios)
	set.Median = median(ratios)
	set.Min, set.Max = slices.Min(ratios), slices.Max(ratios)
	set.GEMMGFLOPS = gFlops / gSecs / 1e9
	set.PeakGFLOPS = mean(peaks)
	set.Mean = set.GEMMGFLOPS / set.PeakGFLOPS
	if pc := peakPerCPU / float64(len(peaks)); pc > 0 && gCPU > 0 {
		set.CPU = gFlops / gCPU / 1e9 / pc
	}
	return set
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

func mean(xs []float64) float64 {
	var s float64
	for _, x := range xs {
		s += x
	}
	return s / float64(len(xs))
}
