// Package attn computes the softmax attention of one head in a single pass
// over the keys (flash-attention style):
//
//	out[i,:] (+)= Σ_j softmax_j(scale·x_i·y_jᵀ + bias[i,j]) · v_j
//
// without forming the [nq, nk] matrix of logits. Keys are taken in blocks;
// for each block of 32 queries the kernel keeps a running maximum m and sum
// l of the exponentials per query and rescales what it has accumulated by
// e^(m_old−m_new) when the maximum grows, so the softmax is exact (the
// same value as subtracting the row maximum first), not an approximation.
//
// The package sits between tensor (element-wise kernels; the fused kernels
// use its exp: same reduction, same polynomial, same constants) and
// tensor/gemm (general products): it is neither, and both the products and
// the softmax are fused into its kernels.
//
// # Layout and kernels
//
// Queries are vector lanes: a block of 32 queries is transposed (and
// multiplied by scale) into xt [hd][32], so that for each key the 32
// logits are two 16-lane vectors and the running maxima and sums are plain
// vertical operations, never reductions across lanes. Per block of 32
// queries and kBlock keys:
//
//  1. logits: S[j][q] = Σ_d xt[d][q]·y[j,d], 14 keys × 32 queries at a time
//     in 28 accumulators;
//  2. softmax: S += bias (gathered), causal mask, new maximum, α =
//     e^(m_old−m_new), P = e^(S−m_new), l = α·l + Σ_j P;
//  3. values: O[q,:] = α[q]·O[q,:] + Σ_j P[j][q]·v[j,:], 4 queries × 64
//     columns at a time in 16 accumulators.
//
// S, P and O live in a per-goroutine workspace that stays in the L1/L2
// caches, as do copies of the keys and values in contiguous rows; at the
// end out[i,:] (+)= O[i,:]/l[i].
//
// The fused kernels are AVX-512 assembly (any hd). Without AVX-512 (or
// with the purego build tag, or FREESEG_SIMD=generic|avx2) the package
// runs the same attention unfused: the logits matrix with tensor/gemm, its
// masked row softmax with tensor, and the product with tensor/gemm, which
// have AVX2 and portable kernels of their own.
//
// Calls are single-threaded and do not allocate in the steady state;
// callers run heads and sequences in parallel.
package attn

import (
	"fmt"
	"math"
	"sync"
	"unsafe"

	"github.com/freeseg/freeseg/tensor"
)

const (
	qBlock = 32 // queries per block: two 16-lane vectors
	kSub   = 14 // keys per logits tile
	oCols  = 64 // output columns per value chunk
)

// kBlock is the number of keys per block (a multiple of kSub). Tests and
// benchmarks may change it; the result does not depend on it beyond
// rounding.
var kBlock = 112

// Options are the optional parts of an attention.
type Options struct {
	// Bias, when not nil, is added to the logits: bias[i*LDB+j] for query
	// i and key j (NACLIP's window). -Inf entries mask keys out.
	Bias []float32
	LDB  int
	// Causal restricts query i to keys j ≤ i+Offset. Offset (≥ 0, only
	// with Causal) makes the queries the last nq of Offset+nq positions,
	// as when new tokens follow Offset cached ones.
	Causal bool
	Offset int
	// Accumulate adds the result to out instead of overwriting it.
	Accumulate bool
}

// Head computes the attention of n queries over n keys:
//
//	out[i,:] (+)= Σ_j softmax_j(scale·x_i·y_j + bias[i·n+j]) · v_j
//
// for i < n, where x_i is x[i*ldx : i*ldx+hd] and likewise y_j, v_j and
// out[i,:] (with strides ldy, ldv, ldo). bias may be nil; with causal set
// query i sees keys j ≤ i only; with accumulate the result is added to out.
// out must not overlap x, y, v or bias. A row whose logits are all -Inf
// (fully masked) gives NaN, as a softmax of it does.
func Head(out []float32, ldo int, x []float32, ldx int, y []float32, ldy int, v []float32, ldv int, n, hd int, scale float32, bias []float32, causal, accumulate bool) {
	Attend(out, ldo, x, ldx, y, ldy, v, ldv, n, n, hd, scale, Options{Bias: bias, LDB: n, Causal: causal, Accumulate: accumulate})
}

// Attend is Head with nq queries over nk ≥ 1 keys and the options o: bias
// [i*o.LDB+j] (o.LDB ≥ nk), the causal limit j ≤ i+o.Offset. Shapes and
// lengths that do not fit panic.
func Attend(out []float32, ldo int, x []float32, ldx int, y []float32, ldy int, v []float32, ldv int, nq, nk, hd int, scale float32, o Options) {
	check(out, ldo, x, ldx, y, ldy, v, ldv, nq, nk, hd, o)
	if nq == 0 {
		return
	}
	if level != levelAVX512 || (o.Bias != nil && o.LDB > math.MaxInt32/qBlock) {
		// (The fused kernel gathers the bias with int32 offsets.)
		unfused(out, ldo, x, ldx, y, ldy, v, ldv, nq, nk, hd, scale, o)
		return
	}
	w := getWork(nk, hd)
	defer works.Put(w)
	attend(w, out, ldo, x, ldx, y, ldy, v, ldv, nq, nk, hd, scale, o)
}

// check panics unless every element the kernels may touch lies inside the
// slices: the assembly has no bounds checks of its own.
func check(out []float32, ldo int, x []float32, ldx int, y []float32, ldy int, v []float32, ldv int, nq, nk, hd int, o Options) {
	if nq < 0 || nk < 0 || hd < 1 || (nq > 0 && nk < 1) || o.Offset < 0 || (o.Offset > 0 && !o.Causal) {
		panic(fmt.Sprintf("attn: bad shape nq=%d nk=%d hd=%d offset=%d causal=%v", nq, nk, hd, o.Offset, o.Causal))
	}
	mat := func(name string, rows, ld, have int) {
		if ld < hd || (rows > 0 && (rows-1)*ld+hd > have) {
			panic(fmt.Sprintf("attn: %s has %d values, want %d rows of %d with stride %d", name, have, rows, hd, ld))
		}
	}
	if nq == 0 {
		return
	}
	mat("out", nq, ldo, len(out))
	mat("x", nq, ldx, len(x))
	mat("y", nk, ldy, len(y))
	mat("v", nk, ldv, len(v))
	if o.Bias != nil && (o.LDB < nk || (nq-1)*o.LDB+nk > len(o.Bias)) {
		panic(fmt.Sprintf("attn: bias has %d values, want %d rows of %d with stride %d", len(o.Bias), nq, nk, o.LDB))
	}
}

// work is the scratch of one call: about 30 KB for hd = 64, plus the
// packed keys and values (nk·hd each).
type work struct {
	buf  []float32
	xt   []float32 // [hd][32]: the query block, transposed and scaled
	s    []float32 // [kBlock][32]: logits, then probabilities
	o    []float32 // [ceil(hd/64)][32][64]: unnormalised outputs
	st   []float32 // [3][32]: running maximum m, sum l, last rescale α
	kv   []float32 // keys [roundup(nk, 14)][hd] (zero rows past nk), values [nk][hd]
	bidx [qBlock]int32
}

var works sync.Pool

// getWork returns a workspace for nk keys of size hd, its buffers 64-byte
// aligned.
func getWork(nk, hd int) *work {
	w, _ := works.Get().(*work)
	if w == nil {
		w = new(work)
	}
	nch := (hd + oCols - 1) / oCols
	nkp := (nk + kSub - 1) / kSub * kSub
	sizes := [...]int{hd * qBlock, kBlock * qBlock, nch * qBlock * oCols, 3 * qBlock, (nkp + nk) * hd}
	total := 16
	for _, n := range sizes {
		total += (n + 15) &^ 15
	}
	if cap(w.buf) < total {
		w.buf = make([]float32, total)
	}
	off := int(uintptr(unsafe.Pointer(&w.buf[0]))&63) / 4
	if off != 0 {
		off = 16 - off
	}
	parts := [...]*[]float32{&w.xt, &w.s, &w.o, &w.st, &w.kv}
	for i, n := range sizes {
		*parts[i] = w.buf[off : off+n : off+n]
		off += (n + 15) &^ 15
	}
	return w
}

// minInit is the running maximum before any key: the most negative finite
// float32, so that e^(m_old−m_new) is 1 while a row has seen only -Inf
// logits and 0 once it sees a finite one, never e^(-Inf+Inf).
const minInit = -math.MaxFloat32

// attend is the fused attention (AVX-512).
func attend(w *work, out []float32, ldo int, x []float32, ldx int, y []float32, ldy int, v []float32, ldv int, nq, nk, hd int, scale float32, o Options) {
	// Keys and values are read once per query block: copy them into
	// contiguous rows (the hardware prefetchers follow those far better
	// than rows strided by the qkv width), the keys padded with zero rows
	// to whole tiles.
	nkp := (nk + kSub - 1) / kSub * kSub
	ky, vv := w.kv[:nkp*hd], w.kv[nkp*hd:]
	// Rows of a head are ld apart, usually in a matrix larger than the
	// caches: prefetch them ahead of use.
	const pfRows = 16
	prefetch(x, ldx, 0, min(nq, qBlock), hd)
	prefetch(y, ldy, 0, min(nk, pfRows), hd)
	prefetch(v, ldv, 0, min(nk, pfRows), hd)
	for j0 := 0; j0 < nk; j0 += pfRows {
		j1 := min(nk, j0+pfRows)
		prefetch(y, ldy, j1, min(nk, j1+pfRows), hd)
		prefetch(v, ldv, j1, min(nk, j1+pfRows), hd)
		for j := j0; j < j1; j++ {
			copy(ky[j*hd:(j+1)*hd], y[j*ldy:j*ldy+hd])
			copy(vv[j*hd:(j+1)*hd], v[j*ldv:j*ldv+hd])
		}
	}
	clear(ky[nk*hd:])
	for i0 := 0; i0 < nq; i0 += qBlock {
		qb := min(qBlock, nq-i0)
		prefetch(x, ldx, i0+qBlock, min(nq, i0+2*qBlock), hd)
		prefetch(out, ldo, i0, i0+qb, hd)
		// Transpose and scale the query block; lanes past qb are zero.
		xt := w.xt
		if ldx <= math.MaxInt32/qBlock {
			_ = x[(i0+qb-1)*ldx+hd-1]
			xpack512(&xt[0], &x[i0*ldx], ldx, qb, hd, scale)
		} else {
			if qb < qBlock {
				clear(xt)
			}
			for q := 0; q < qb; q++ {
				row := x[(i0+q)*ldx : (i0+q)*ldx+hd]
				for d, val := range row {
					xt[d*qBlock+q] = val * scale
				}
			}
		}
		m, l := w.st[:qBlock], w.st[qBlock:2*qBlock]
		for q := range m {
			m[q], l[q] = minInit, 0
		}
		clear(w.o)
		kend := nk
		if o.Causal {
			kend = min(nk, i0+qb+o.Offset)
		}
		if o.Bias != nil {
			for q := range w.bidx {
				w.bidx[q] = 0
				if q < qb {
					w.bidx[q] = int32(q * o.LDB)
				}
			}
		}
		for j0 := 0; j0 < kend; j0 += kBlock {
			kb := min(kBlock, kend-j0)
			lim := 1 << 30
			if o.Causal {
				lim = min(i0+o.Offset-j0, lim)
			}
			var bias []float32
			if o.Bias != nil {
				bias = o.Bias[i0*o.LDB+j0:]
			}
			blockAVX512(w, ky, vv, j0, kb, hd, bias, lim, qb)
		}
		// out = O / l.
		_ = out[(i0+qb-1)*ldo+hd-1]
		acc := 0
		if o.Accumulate {
			acc = 1
		}
		finish512(&out[i0*ldo], ldo, &w.o[0], &w.st[qBlock], qb, hd, acc)
	}
}

// prefetch prefetches rows r0..r1-1 of n floats (stride ld) of a.
func prefetch(a []float32, ld, r0, r1, n int) {
	if r0 < r1 {
		prefetchRows(uintptr(unsafe.Pointer(&a[r0*ld])), 4*ld, r1-r0, 4*n)
	}
}

// Kernel names the implementation in use: "avx512" (fused) or "unfused".
func Kernel() string { return levelNames[level] }

// The fused kernels run when the CPU has AVX-512 and package tensor runs
// at that level too (FREESEG_SIMD=generic|avx2 lowers both).
const (
	levelUnfused = iota
	levelAVX512
)

var levelNames = [...]string{levelUnfused: "unfused", levelAVX512: "avx512"}

var (
	maxLevel = detectLevel()
	level    = initialLevel()
)

func initialLevel() int {
	if tensor.SIMD() == "avx512" {
		return maxLevel
	}
	return levelUnfused
}

// setLevel switches to level l (clamped to what the CPU supports) and
// returns the previous one; for tests and benchmarks, not concurrently
// with calls.
func setLevel(l int) int {
	old := level
	level = max(levelUnfused, min(l, maxLevel))
	return old
}
