//go:build amd64 && !purego

package gemm

import (
	"fmt"
	"unsafe"

	"golang.org/x/sys/cpu"
)

//go:generate sh -c "cd _gen && go run . -out .."

func fastKernels() []*kernel {
	var ks []*kernel
	// x/sys/cpu reports AVX-512 and AVX only when the OS saves their state.
	if cpu.X86.HasAVX512F {
		ks = append(ks, &kernel{name: "avx512", mr: mr512, micro: micro512, fast: true})
	}
	if cpu.X86.HasAVX2 && cpu.X86.HasFMA {
		ks = append(ks, &kernel{name: "avx2", mr: mrAVX2, micro: microAVX2, fast: true})
	}
	return ks
}

// checkTile panics unless every element a tile kernel may touch lies inside
// the slices: the assembly has no bounds checks of its own.
func checkTile(maxRows, mr, n int, a []float32, aoff, rs, ks int, b []float32, boff, kc int, c []float32, coff, ldc int, bias []float32) {
	ok := mr >= 1 && mr <= maxRows && n >= 1 && n <= nr && kc >= 0 &&
		aoff >= 0 && rs >= 0 && ks >= 0 && boff >= 0 && coff >= 0 && ldc >= n &&
		coff+(mr-1)*ldc+n <= len(c) && (bias == nil || len(bias) >= n)
	if ok && kc > 0 {
		ok = aoff+(mr-1)*rs+(kc-1)*ks < len(a) && boff+kc*nr <= len(b)
	}
	if !ok {
		panic(fmt.Sprintf("gemm: bad tile mr=%d n=%d kc=%d aoff=%d rs=%d ks=%d len(a)=%d boff=%d len(b)=%d coff=%d ldc=%d len(c)=%d len(bias)=%d",
			mr, n, kc, aoff, rs, ks, len(a), boff, len(b), coff, ldc, len(c), len(bias)))
	}
}

func tileFlags(loadC bool, bias []float32) (flags int, bp unsafe.Pointer) {
	if loadC {
		flags |= 1
	}
	if bias != nil {
		flags |= 2
		bp = unsafe.Pointer(unsafe.SliceData(bias))
	}
	return flags, bp
}

// micro512 is the AVX-512 tile kernel: up to 14 rows × 32 columns in 28 zmm
// accumulators, columns past n masked with k1/k2.
func micro512(mr, n int, a []float32, aoff, rs, ks int, b []float32, boff, kc int, c []float32, coff, ldc int, alpha, beta float32, loadC bool, bias []float32, pf int) {
	checkTile(mr512, mr, n, a, aoff, rs, ks, b, boff, kc, c, coff, ldc, bias)
	var ap, bp unsafe.Pointer
	if kc > 0 {
		ap, bp = unsafe.Pointer(&a[aoff]), unsafe.Pointer(&b[boff])
	}
	flags, biasp := tileFlags(loadC, bias)
	h := 1
	if n <= 16 {
		h = 0
	}
	kernels512[packedIdx(mr, rs, ks)][h][mr](ap, rs*4, ks*4, bp, kc, unsafe.Pointer(&c[coff]), ldc*4, alpha, beta, flags, biasp, 1<<n-1, pfAddr(b, boff, pf))
}

// pfAddr is the address the kernel prefetches from: b[pf], or b[boff] (in
// cache already) when pf is negative. Prefetches never fault; the address
// is passed as an integer, not a pointer the garbage collector would track.
func pfAddr(b []float32, boff, pf int) uintptr {
	if pf < 0 || pf >= len(b) {
		pf = boff
	}
	if pf >= len(b) {
		return 0
	}
	return uintptr(unsafe.Pointer(&b[pf]))
}

// packedIdx is 1 when A is laid out as packA writes a tile (element (i, p)
// at i + p·mr), which the displacement-addressed kernels read.
func packedIdx(mr, rs, ks int) int {
	if rs == 1 && ks == mr {
		return 1
	}
	return 0
}

// avx2Masks[n] holds lane masks for the first n of 16 columns.
var avx2Masks = func() (t [17][16]int32) {
	for n := range t {
		for j := 0; j < n; j++ {
			t[n][j] = -1
		}
	}
	return t
}()

// microAVX2 is the AVX2+FMA tile kernel: up to 6 rows × 16 columns in 12
// ymm accumulators, run once per 16-column half of the panel.
func microAVX2(mr, n int, a []float32, aoff, rs, ks int, b []float32, boff, kc int, c []float32, coff, ldc int, alpha, beta float32, loadC bool, bias []float32, pf int) {
	checkTile(mrAVX2, mr, n, a, aoff, rs, ks, b, boff, kc, c, coff, ldc, bias)
	var ap, bp unsafe.Pointer
	if kc > 0 {
		ap, bp = unsafe.Pointer(&a[aoff]), unsafe.Pointer(&b[boff])
	}
	flags, biasp := tileFlags(loadC, bias)
	f := kernelsAVX2[packedIdx(mr, rs, ks)][mr]
	n0 := min(n, 16)
	f(ap, rs*4, ks*4, bp, kc, unsafe.Pointer(&c[coff]), ldc*4, alpha, beta, flags, biasp, unsafe.Pointer(&avx2Masks[n0]), pfAddr(b, boff, pf))
	if n > 16 {
		if kc > 0 {
			bp = unsafe.Pointer(&b[boff+16])
		}
		if biasp != nil {
			biasp = unsafe.Pointer(&bias[16])
		}
		f(ap, rs*4, ks*4, bp, kc, unsafe.Pointer(&c[coff+16]), ldc*4, alpha, beta, flags, biasp, unsafe.Pointer(&avx2Masks[n-16]), pfAddr(b, boff, pf))
	}
}

var hasAVX512 = cpu.X86.HasAVX512F

// packRows interleaves mt rows of kc floats (row i at a[off + i·rs]) into
// d, element (i, p) at d[p·mt + i]; 14-row tiles use the AVX-512 routine.
func packRows(d, a []float32, off, rs, mt, kc int) {
	if mt != 14 || !hasAVX512 || kc == 0 {
		packRowsGo(d, a, off, rs, mt, kc)
		return
	}
	if off < 0 || rs < kc || off+13*rs+kc > len(a) || len(d) < 14*kc {
		panic(fmt.Sprintf("gemm: bad packRows off=%d rs=%d kc=%d len(a)=%d len(d)=%d", off, rs, kc, len(a), len(d)))
	}
	packA14(unsafe.Pointer(&d[0]), unsafe.Pointer(&a[off]), rs*4, kc)
}

// packPanelT writes the full B panel of rows b[off + c·ldb : +k], c < nr,
// transposed into pan (element (p, c) at pan[p·nr + c]); false when there is
// no fast routine.
func packPanelT(pan, b []float32, off, ldb, k int) bool {
	if !hasAVX512 || k == 0 {
		return false
	}
	if off < 0 || ldb < k || off+(nr-1)*ldb+k > len(b) || len(pan) < k*nr {
		panic(fmt.Sprintf("gemm: bad packPanelT off=%d ldb=%d k=%d len(b)=%d len(pan)=%d", off, ldb, k, len(b), len(pan)))
	}
	packBT16(unsafe.Pointer(&pan[0]), unsafe.Pointer(&b[off]), ldb*4, k)
	packBT16(unsafe.Pointer(&pan[16]), unsafe.Pointer(&b[off+16*ldb]), ldb*4, k)
	return true
}
