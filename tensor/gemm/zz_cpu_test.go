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

func zzFmaLoop(n int)

func TestZZPeak(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	best := time.Hour
	for it := 0; it < 200; it++ {
		t0 := threadNow()
		zzFmaLoop(100000)
		best = min(best, threadNow()-t0)
	}
	fmt.Printf("peak %.1f GFLOP/s (%.2f GHz at 2 FMA/cycle)\n", 12*32*100000/float64(best.Nanoseconds()), 12*100000/2/float64(best.Nanoseconds()))
}

func TestZZHot(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	for _, kc := range []int{64, 128, 192, 256, 384} {
		for _, rs := range []int{1, 768, 3072} {
			a := make([]float32, 14*rs+kc*14)
			for i := range a {
				a[i] = 1e-3
			}
			bb := make([]float32, kc*32)
			c := make([]float32, 14*32)
			ks := 1
			if rs == 1 {
				ks = 14
			}
			best := time.Hour
			for it := 0; it < 200; it++ {
				t0 := threadNow()
				for range 100 {
					micro512(14, 32, a, 0, rs, ks, bb, 0, kc, c, 0, 32, 1, 1, true, nil)
				}
				best = min(best, threadNow()-t0)
			}
			fmt.Printf("hot kc=%d rs=%d: %.1f GFLOP/s\n", kc, rs, 100*2*14*32*float64(kc)/float64(best.Nanoseconds()))
		}
	}
}

func TestZZPack(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	for _, lda := range []int{768, 3072} {
		a := make([]float32, 197*lda)
		dst := make([]float32, 392*256)
		best := time.Hour
		for it := 0; it < 200; it++ {
			t0 := threadNow()
			packA(dst, a, 0, lda, 1, 197, 256, 14)
			best = min(best, threadNow()-t0)
		}
		fmt.Printf("packA lda=%d: %v for %d elements = %.2f ns/elt\n", lda, best, 197*256, float64(best.Nanoseconds())/(197*256))
	}
}
