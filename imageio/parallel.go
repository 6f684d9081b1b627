package imageio

import (
	"runtime"
	"sync"
)

// parallelRows runs fn over [0, n) split into contiguous chunks, one per
// CPU, when the estimated work (multiply-adds) is large enough to pay for
// the goroutines; otherwise it runs fn(0, n) on the caller's goroutine.
// Results do not depend on the split.
func parallelRows(n, work int, fn func(lo, hi int)) {
	p := runtime.GOMAXPROCS(0)
	if p > n {
		p = n
	}
	if p <= 1 || work < 1<<18 {
		fn(0, n)
		return
	}
	var wg sync.WaitGroup
	step := (n + p - 1) / p
	for lo := 0; lo < n; lo += step {
		hi := min(lo+step, n)
		wg.Add(1)
		go func() {
			defer wg.Done()
			fn(lo, hi)
		}()
	}
	wg.Wait()
}
