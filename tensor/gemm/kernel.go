package gemm

import (
	"fmt"
	"os"
	"sync/atomic"
)

// nr is the column width of a packed B panel, shared by every kernel so that
// a PackedB works whichever kernel runs.
const nr = 32

// microFn computes one tile C[coff + i·ldc + j] for i < mr, j < n (n ≤ nr):
//
//	C = alpha·acc + beta·C (+ bias[j]),  acc = Σ_{p<kc} A[aoff + i·rs + p·ks]·B[boff + p·nr + j]
//
// reading C only when loadC, summing over p in order. bias is nil or holds at
// least n values. pf, when not negative, is the index in b of kc·nr/4 floats
// for the kernel to prefetch into L2 (part of the B panel used next).
type microFn func(mr, n int, a []float32, aoff, rs, ks int, b []float32, boff, kc int, c []float32, coff, ldc int, alpha, beta float32, loadC bool, bias []float32, pf int)

// kernel is one implementation of the product.
type kernel struct {
	name  string
	mr    int     // rows per micro-tile
	micro microFn // tile kernel over packed B panels
	fast  bool    // false: Sgemm uses the unpacked portable loop
	// noPack: the kernel reads A row-major in place (rs, ks = 1), never
	// packed tiles (the AMX kernel loads rows of A as tiles)
	noPack bool
}

var genericKernel = &kernel{name: "generic", mr: 4, micro: microGeneric}

// kernels lists the implementations this CPU can run, best first; the
// generic one is always last.
var kernels = append(fastKernels(), genericKernel)

var active atomic.Pointer[kernel]

func init() {
	k := kernels[0]
	if env := os.Getenv("FREESEG_GEMM"); env != "" {
		if f := findKernel(env); f != nil {
			k = f
		} else {
			fmt.Fprintf(os.Stderr, "gemm: FREESEG_GEMM=%q is not available here (have %v); using %s\n", env, kernelNames(), k.name)
		}
	}
	active.Store(k)
}

func findKernel(name string) *kernel {
	for _, k := range kernels {
		if k.name == name {
			return k
		}
	}
	return nil
}

func kernelNames() []string {
	var s []string
	for _, k := range kernels {
		s = append(s, k.name)
	}
	return s
}

// Kernel reports the kernel in use: "avx512", "avx2" or "generic". The
// environment variable FREESEG_GEMM (same names) overrides the choice made
// from the CPU's features, when the CPU supports the named kernel.
func Kernel() string { return active.Load().name }

// useKernel switches the kernel (tests and benchmarks) and returns a
// function restoring the previous one. It panics on an unknown name.
func useKernel(name string) (restore func()) {
	k := findKernel(name)
	if k == nil {
		panic("gemm: kernel " + name + " not available")
	}
	old := active.Swap(k)
	return func() { active.Store(old) }
}
