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

// FMAPeakGFLOPS runs the AVX-512 FMA loop on threads goroutines for about
// d and returns the fp32 GFLOP/s of all together (0 without AVX-512).
func FMAPeakGFLOPS(threads int, d time.Duration) float64 {
	if !hasPeakFMA() {
		return 0
	}
	// 16 lanes × 2 flops per FMA
	return peakRun(threads, d, fmaPeak, 32*peakAccs)
}

// BF16PeakGFLOPS runs the VDPBF16PS loop the same way: 16 lanes × 2
// products, each a multiply and an add, per instruction. ok is false where
// the CPU has no bf16 dot product.
func BF16PeakGFLOPS(threads int, d time.Duration) (gflops float64, ok bool) {
	if bf16Native == nil {
		return 0, false
	}
	return peakRun(threads, d, bf16Peak, 64*peakAccs), true
}

// peakRun runs loop(n) on threads locked OS threads until d has passed and
// returns flopsPerIter × iterations ÷ wall time.
func peakRun(threads int, d time.Duration, loop func(n int), flopsPerIter int) float64 {
	threads = max(threads, 1)
	const chunk = 20000 // iterations per call: tens of µs
	loop(chunk)         // warm up (clock ramp, vector unit power-up)
	var wg sync.WaitGroup
	iters := make([]int, threads)
	start := time.Now()
	deadline := start.Add(d)
	for t := range threads {
		wg.Add(1)
		go func() {
			defer wg.Done()
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			for time.Now().Before(deadline) {
				loop(chunk)
				iters[t] += chunk
			}
		}()
	}
	wg.Wait()
	el := time.Since(start).Seconds()
	total := 0
	for _, n := range iters {
		total += n
	}
	return float64(total) * float64(flopsPerIter) / el / 1e9
}
