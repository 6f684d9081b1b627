// Package gemm computes single-precision matrix products on row-major matrices:
//
//	C = alpha·op(A)·op(B) + beta·C
//
// where op(X) is X or Xᵀ. It is the one hot loop of the CLIP encoders (every
// linear layer and both attention products), so it is kept separate from the
// model code: callers state shapes and strides, the package picks a kernel.
//
// Results are deterministic: each element of C is computed by exactly one
// goroutine with a fixed summation order over k, whatever the thread count.
package gemm

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
)

var threads atomic.Int32

func init() { threads.Store(int32(runtime.GOMAXPROCS(0))) }

// SetThreads sets how many goroutines Sgemm and SgemmPacked may use
// (values below 1 mean 1). It returns the previous setting.
func SetThreads(n int) int {
	if n < 1 {
		n = 1
	}
	return int(threads.Swap(int32(n)))
}

// Threads reports the current parallelism of Sgemm and SgemmPacked.
func Threads() int { return int(threads.Load()) }

// checkArgs panics with a precise message when the slices cannot hold the
// matrices the shapes and strides describe: a programming error in the
// caller, never a data error.
func checkArgs(transA, transB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int) {
	checkAC(transA, m, n, k, a, lda, c, ldc)
	br, bc := k, n
	if transB {
		br, bc = n, k
	}
	checkMat("B", br, bc, ldb, len(b))
}

// checkAC checks the dimensions, A and C.
func checkAC(transA bool, m, n, k int, a []float32, lda int, c []float32, ldc int) {
	if m < 0 || n < 0 || k < 0 {
		panic(fmt.Sprintf("gemm: negative dimension m=%d n=%d k=%d", m, n, k))
	}
	ar, ac := m, k
	if transA {
		ar, ac = k, m
	}
	checkMat("A", ar, ac, lda, len(a))
	checkMat("C", m, n, ldc, len(c))
}

func checkMat(name string, rows, cols, ld, have int) {
	if rows == 0 || cols == 0 {
		return
	}
	if ld < cols {
		panic(fmt.Sprintf("gemm: %s leading dimension %d < %d columns", name, ld, cols))
	}
	if have < (rows-1)*ld+cols {
		panic(fmt.Sprintf("gemm: %s has %d elements, needs %d", name, have, (rows-1)*ld+cols))
	}
}

// Sgemm computes C = alpha·op(A)·op(B) + beta·C for row-major matrices.
// op(A) is m×k: A is stored m×k with stride lda, or k×m when transA.
// op(B) is k×n: B is stored k×n with stride ldb, or n×k when transB.
// When beta is 0, C is overwritten and its old contents (even NaN) ignored.
func Sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	sgemm(Threads(), transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// SgemmSerial is Sgemm on the calling goroutine only, for callers that
// already run one product per goroutine (attention heads, say).
func SgemmSerial(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	sgemm(1, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

func sgemm(t int, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	checkArgs(transA, transB, m, n, k, a, lda, b, ldb, c, ldc)
	if m == 0 || n == 0 {
		return
	}
	kern := active.Load()
	if !kern.fast {
		parallelRows(t, m, n, k, func(i0, i1 int) {
			sgemmGeneric(transA, transB, i0, i1, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		})
		return
	}
	buf := getB((n + nr - 1) / nr * nr * k)
	packPanels(transB, k, n, b, ldb, *buf)
	rs, ks := lda, 1
	if transA {
		rs, ks = 1, lda
	}
	runPacked(kern, t, m, n, k, a, rs, ks, *buf, c, ldc, alpha, beta, nil)
	put(freeB, buf)
}

// parallelRows splits rows [0,m) into contiguous blocks, one per goroutine,
// when the product is large enough to pay for the goroutines.
func parallelRows(t, m, n, k int, f func(i0, i1 int)) {
	if t > m {
		t = m
	}
	if t <= 1 || m*n*k < 1<<15 {
		f(0, m)
		return
	}
	var wg sync.WaitGroup
	for w := 0; w < t; w++ {
		i0, i1 := m*w/t, m*(w+1)/t
		if i0 == i1 {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			f(i0, i1)
		}()
	}
	wg.Wait()
}

// PackedB is a right-hand operand (a weight matrix) laid out once for the
// kernels, so that repeated products with it skip the packing work.
type PackedB struct {
	k, n int
	// ⌈n/32⌉ panels of k×32 floats (row-major inside a panel, zero past
	// column n), the layout every kernel reads.
	data []float32
}

// K is the inner dimension of the packed operand.
func (p *PackedB) K() int { return p.k }

// N is the number of output columns of the packed operand.
func (p *PackedB) N() int { return p.n }

// PackB copies op(B) (k×n; B stored n×k when transB, as a PyTorch Linear
// weight is) into a PackedB.
func PackB(transB bool, k, n int, b []float32, ldb int) *PackedB {
	checkArgs(false, transB, 0, n, k, nil, 1, b, ldb, nil, 1)
	p := &PackedB{k: k, n: n, data: make([]float32, (n+nr-1)/nr*nr*k)}
	packPanels(transB, k, n, b, ldb, p.data)
	return p
}

// SgemmPacked computes C = alpha·A·B + beta·C + bias, where A is m×k
// (stride lda), B was packed by PackB, and bias (length n, or nil) is added
// to every row.
func SgemmPacked(m int, alpha float32, a []float32, lda int, pb *PackedB, beta float32, c []float32, ldc int, bias []float32) {
	checkAC(false, m, pb.n, pb.k, a, lda, c, ldc)
	if bias != nil && len(bias) != pb.n {
		panic(fmt.Sprintf("gemm: bias has %d elements, want %d", len(bias), pb.n))
	}
	if m == 0 || pb.n == 0 {
		return
	}
	runPacked(active.Load(), Threads(), m, pb.n, pb.k, a, lda, 1, pb.data, c, ldc, alpha, beta, bias)
}
