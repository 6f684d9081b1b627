package gemm

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func threadNow() time.Duration {
	var ts unix.Timespec
	unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts)
	return time.Duration(ts.Nano())
}

// TestZZCPU: best-of-N single-thread timings (thread CPU time and wall).
func TestZZCPU(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	defer SetThreads(SetThreads(1))
	r := rand.New(rand.NewPCG(1, 1))
	for _, m := range []int{785, 197} {
		for _, kn := range [][2]int{{768, 2304}, {768, 768}, {768, 3072}, {3072, 768}} {
			k, n := kn[0], kn[1]
			a, w, bias := randSlice(r, m*k), randSlice(r, n*k), randSlice(r, n)
			c := make([]float32, m*n)
			pb := PackB(true, k, n, w, k)
			bestC, bestW := time.Hour, time.Hour
			for it := 0; it < 15; it++ {
				t0, w0 := threadNow(), time.Now()
				SgemmPacked(m, 1, a, k, pb, 0, c, n, bias)
				bestC = min(bestC, threadNow()-t0)
				bestW = min(bestW, time.Since(w0))
			}
			fl := 2 * float64(m*n*k)
			fmt.Printf("%s M=%d,K=%d,N=%d  cpu %6.1f  wall %6.1f GFLOP/s\n", Kernel(), m, k, n, fl/float64(bestC.Nanoseconds()), fl/float64(bestW.Nanoseconds()))
		}
	}
}
