package gemm

import (
	"runtime"
	"sync"
	"time"
)

// Peaks: register-only loops of independent vector multiply-adds, the
// rate no product can exceed on this machine (docs/speed.md). They measure
// the machine as it is now, with whatever else runs on it, so ratios to
// them taken in the same run are what to compare across machines.

// Peak is the rate of a peak loop.
type Peak struct {
	// GFLOPS is the rate of all threads together over the wall time.
	GFLOPS float64
	// PerCPU is the rate per CPU-second the threads got (0 where the OS
	// does not report thread CPU time): on a shared machine, where threads
	// wait for a core, the wall rate drops but this one does not, so it is
	// the figure to compare with other CPU-time measurements of the same run.
	PerCPU float64
}

// FMAPeak runs the AVX-512 FMA loop on threads goroutines for about d
// (zero Peak without AVX-512).
func FMAPeak(threads int, d time.Duration) Peak {
	if !hasPeakFMA() {
		return Peak{}
	}
	// 16 lanes × 2 flops per FMA
	return peakRun(threads, d, fmaPeak, 32*peakAccs)
}

// BF16Peak runs the VDPBF16PS loop the same way: 16 lanes × 2 products,
// each a multiply and an add, per instruction. ok is false where the CPU
// has no bf16 dot product.
func BF16Peak(threads int, d time.Duration) (p Peak, ok bool) {
	if bf16Native == nil {
		return Peak{}, false
	}
	return peakRun(threads, d, bf16Peak, 64*peakAccs), true
}

// AMXPeak runs a loop of TDPBF16PS on zeroed tiles (4 per iteration,
// 16384 flops each) the same way; ok is false unless the AMX kernel is in
// use (FREESEG_BF16=amx on a CPU that has it; untested on hardware).
func AMXPeak(threads int, d time.Duration) (p Peak, ok bool) {
	if bf16AMX == nil {
		return Peak{}, false
	}
	return peakRun(threads, d, amxPeak, 4*16384), true
}

// FMAPeakGFLOPS is FMAPeak(threads, d).GFLOPS.
func FMAPeakGFLOPS(threads int, d time.Duration) float64 { return FMAPeak(threads, d).GFLOPS }

// BF16PeakGFLOPS is BF16Peak(threads, d).GFLOPS.
func BF16PeakGFLOPS(threads int, d time.Duration) (float64, bool) {
	p, ok := BF16Peak(threads, d)
	return p.GFLOPS, ok
}

// peakRun runs loop(n) on threads locked OS threads until d has passed.
func peakRun(threads int, d time.Duration, loop func(n int), flopsPerIter int) Peak {
	threads = max(threads, 1)
	const chunk = 20000 // iterations per call: tens of µs
	loop(chunk)         // warm up (clock ramp, vector unit power-up)
	var wg sync.WaitGroup
	iters := make([]int, threads)
	cpu := make([]time.Duration, threads)
	start := time.Now()
	deadline := start.Add(d)
	for t := range threads {
		wg.Add(1)
		go func() {
			defer wg.Done()
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			c0 := threadCPU()
			for time.Now().Before(deadline) {
				loop(chunk)
				iters[t] += chunk
			}
			cpu[t] = threadCPU() - c0
		}()
	}
	wg.Wait()
	el := time.Since(start).Seconds()
	total := 0
	var cpuSum time.Duration
	for t, n := range iters {
		total += n
		cpuSum += cpu[t]
	}
	flops := float64(total) * float64(flopsPerIter)
	p := Peak{GFLOPS: flops / el / 1e9}
	if cpuSum > 0 {
		p.PerCPU = flops / cpuSum.Seconds() / 1e9
	}
	return p
}
