package gemm

import (
	"fmt"
	"math"
	"os"
	"runtime"
	"sync/atomic"
	"unsafe"
)

// bf16 products (see docs/speed.md): the weights are stored once as
// bfloat16 (the top 16 bits of a float32), the activations are rounded to
// bf16 on entry, and every sum is accumulated in float32. Two kernels:
//
//   - "avx512bf16": VDPBF16PS, which multiplies 16 lanes of bf16 pairs and
//     adds both products to float32 accumulators (twice the FMA rate of
//     fp32 on cores that have it, AMD Zen 4/5, Intel Cooper Lake and later);
//   - "emulated": on every other CPU, the fp32 kernels run on the
//     bf16-rounded values (the bf16 weights are expanded to float32 one
//     k block of one panel at a time): the same memory saving and about the
//     same numbers, no speed-up.
//
// A bf16 PackedB holds pairs: panel jp, pair row q, column c is the 32-bit
// word (bf16 of B(2q, c)) | (bf16 of B(2q+1, c)) << 16, B(k, c) = 0 when k
// is odd. The native kernel reads these words exactly as the fp32 kernels
// read floats (a k step is a pair of k values), so the packed-panel driver
// runs them unchanged with k replaced by the pair count.

// ToBF16 rounds f to the nearest bfloat16, ties to even, as VCVTNEPS2BF16
// does: denormals become zero of the same sign, NaNs stay (quiet) NaNs,
// values beyond the largest bf16 round to infinity.
func ToBF16(f float32) uint16 {
	b := math.Float32bits(f)
	switch {
	case b&0x7f800000 == 0: // zero or denormal
		return uint16(b>>16) & 0x8000
	case b&0x7fffffff > 0x7f800000: // NaN
		return uint16(b>>16) | 0x40
	}
	b += 0x7fff + (b>>16)&1
	return uint16(b >> 16)
}

// FromBF16 is the float32 value of a bf16 (exact).
func FromBF16(h uint16) float32 { return math.Float32frombits(uint32(h) << 16) }

// RoundBF16 rounds every element of x to the nearest bf16 value in place.
func RoundBF16(x []float32) {
	for i, v := range x {
		x[i] = FromBF16(ToBF16(v))
	}
}

// bf16Native is the VDPBF16PS kernel when the CPU has one (nil otherwise);
// bf16Use says whether bf16 products use it (FREESEG_BF16=emulated and
// tests switch it off).
var (
	bf16Native = nativeBF16Kernel()
	bf16Use    atomic.Bool
	// bf16AMX is the AMX kernel when FREESEG_BF16=amx asked for it and the
	// CPU and OS offer it (untested on hardware: see amx_amd64.go).
	bf16AMX *kernel
)

func init() {
	bf16Use.Store(bf16Native != nil)
	switch env := os.Getenv("FREESEG_BF16"); env {
	case "", "avx512bf16":
		if env != "" && bf16Native == nil {
			fmt.Fprintf(os.Stderr, "gemm: FREESEG_BF16=%s is not available here; using the emulated bf16 path\n", env)
		}
	case "amx":
		if bf16AMX = amxKernel(); bf16AMX == nil {
			fmt.Fprintf(os.Stderr, "gemm: FREESEG_BF16=amx: this CPU or OS offers no AMX-BF16; using %s\n", BF16Kernel())
		}
	case "emulated":
		bf16Use.Store(false)
	default:
		fmt.Fprintf(os.Stderr, "gemm: FREESEG_BF16=%q: want avx512bf16, amx or emulated\n", env)
	}
}

// BF16Kernel names how bf16 products run here: "avx512bf16" (native, about
// twice the fp32 rate), "amxbf16" (AMX tiles, only with FREESEG_BF16=amx)
// or "emulated" (fp32 kernels on bf16-rounded values: the same memory
// saving, no speed-up).
func BF16Kernel() string {
	if bf16Use.Load() {
		return bf16Kernel().name
	}
	return "emulated"
}

// bf16Kernel is the native kernel bf16 products use (when bf16Use).
func bf16Kernel() *kernel {
	if bf16AMX != nil {
		return bf16AMX
	}
	return bf16Native
}

// useBF16Native switches the native bf16 kernel on or off (tests); it
// returns a function restoring the previous setting.
func useBF16Native(on bool) (restore func()) {
	old := bf16Use.Swap(on && bf16Native != nil)
	return func() { bf16Use.Store(old) }
}

// IsBF16 says whether p holds bf16 weights.
func (p *PackedB) IsBF16() bool { return p.pairs != nil }

// Bytes is the memory held by the packed weights.
func (p *PackedB) Bytes() int { return 4 * (len(p.data) + len(p.pairs)) }

// BF16 returns a copy of p with its values rounded to bf16 and stored in
// half the memory; products with it round A to bf16 too and accumulate in
// float32. p itself is unchanged (and a bf16 p is returned as is).
func (p *PackedB) BF16() *PackedB {
	if p.pairs != nil {
		return p
	}
	kp := (p.k + 1) / 2
	panels := (p.n + nr - 1) / nr
	q := &PackedB{k: p.k, n: p.n, kp: kp}
	var data []float32
	data, q.free = allocPacked(panels * kp * nr)
	if q.free != nil {
		runtime.SetFinalizer(q, (*PackedB).Release)
	}
	q.pairs = unsafe.Slice((*uint32)(unsafe.Pointer(unsafe.SliceData(data))), len(data))
	for jp := 0; jp < panels; jp++ {
		src := p.data[jp*p.k*nr : (jp+1)*p.k*nr]
		dst := q.pairs[jp*kp*nr : (jp+1)*kp*nr]
		for r := 0; r < kp; r++ {
			lo := src[2*r*nr : 2*r*nr+nr]
			var hi []float32
			if 2*r+1 < p.k {
				hi = src[(2*r+1)*nr : (2*r+1)*nr+nr]
			}
			d := dst[r*nr : r*nr+nr]
			for c := range d {
				w := uint32(ToBF16(lo[c]))
				if hi != nil {
					w |= uint32(ToBF16(hi[c])) << 16
				}
				d[c] = w
			}
		}
	}
	runtime.KeepAlive(p)
	return q
}

// pairsAsFloats views bf16 pair words as the float32 slice the driver
// passes around (the bits are only moved, never computed with, in Go).
func pairsAsFloats(w []uint32) []float32 {
	return unsafe.Slice((*float32)(unsafe.Pointer(unsafe.SliceData(w))), len(w))
}

// sgemmBF16 is SgemmPacked for a bf16 operand.
func sgemmBF16(t, m int, alpha float32, a []float32, lda int, pb *PackedB, beta float32, c []float32, ldc int, bias []float32) {
	k, kp := pb.k, pb.kp
	if bf16Use.Load() {
		// A as bf16 pairs: row i is the bf16 row-major copy of A's row,
		// padded to an even length, read as kp 32-bit words.
		buf := getBuf(freeConv, m*kp)
		conv := *buf
		parallelRows(t, m, kp, 64, func(i0, i1 int) {
			for i := i0; i < i1; i++ {
				rowToBF16(conv[i*kp:(i+1)*kp], a[i*lda:i*lda+k])
			}
		})
		runPacked(bf16Kernel(), t, m, pb.n, kp, conv, kp, 1, pairsAsFloats(pb.pairs), c, ldc, alpha, beta, bias)
		put(freeConv, buf)
		return
	}
	// Emulated: A rounded to bf16 values (float32), one zero column when k
	// is odd; the driver expands B panel by panel (job.pairs).
	k2 := 2 * kp
	buf := getBuf(freeConv, m*k2)
	ar := *buf
	parallelRows(t, m, k2, 64, func(i0, i1 int) {
		for i := i0; i < i1; i++ {
			row := ar[i*k2 : (i+1)*k2]
			src := a[i*lda : i*lda+k]
			for p := roundRow(row, src); p < k; p++ {
				row[p] = FromBF16(ToBF16(src[p]))
			}
			if k2 > k {
				row[k] = 0
			}
		}
	})
	runPackedPairs(active.Load(), t, m, pb.n, k2, ar, pb.pairs, c, ldc, alpha, beta, bias)
	put(freeConv, buf)
}

// freeConv recycles the bf16 copies of A.
var freeConv = make(chan *[]float32, 64)

// rowToBF16 writes the bf16 values of src into the words of dst, two per
// word (low half first), the last high half zero when len(src) is odd.
func rowToBF16(dst []float32, src []float32) {
	h := unsafe.Slice((*uint16)(unsafe.Pointer(unsafe.SliceData(dst))), 2*len(dst))
	n := cvtRow(h, src)
	for i := n; i < len(src); i++ {
		h[i] = ToBF16(src[i])
	}
	if len(src)%2 == 1 {
		h[len(src)] = 0
	}
}

// expandPairs writes rows 2r and 2r+1 of a float32 panel (nr columns) from
// pair row r of a bf16 panel, for the rows·nr floats of dst.
func expandPairs(dst []float32, src []uint32) {
	if expandFast(dst, src) {
		return
	}
	for r := 0; 2*r*nr < len(dst); r++ {
		s := (*[nr]uint32)(src[r*nr:])
		lo := (*[nr]float32)(dst[2*r*nr:])
		for c, w := range s {
			lo[c] = math.Float32frombits(w << 16)
		}
		if (2*r+1)*nr < len(dst) {
			hi := (*[nr]float32)(dst[(2*r+1)*nr:])
			for c, w := range s {
				hi[c] = math.Float32frombits(w &^ 0xffff)
			}
		}
	}
}
