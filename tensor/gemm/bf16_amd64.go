//go:build amd64 && !purego

package gemm

import (
	"unsafe"

	"golang.org/x/sys/cpu"
)

// nativeBF16Kernel is the VDPBF16PS tile kernel on CPUs with AVX512-BF16.
func nativeBF16Kernel() *kernel {
	if !cpu.X86.HasAVX512F || !cpu.X86.HasAVX512BF16 {
		return nil
	}
	return &kernel{name: "avx512bf16", mr: mr512, micro: microBF16, fast: true}
}

// microBF16 is micro512 with VDPBF16PS steps: a, b hold bf16 pairs and kc
// counts pairs.
func microBF16(mr, n int, a []float32, aoff, rs, ks int, b []float32, boff, kc int, c []float32, coff, ldc int, alpha, beta float32, loadC bool, bias []float32, pf int) {
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
	kernelsBF16[packedIdx(mr, rs, ks)][h][mr](ap, rs*4, ks*4, bp, kc, unsafe.Pointer(&c[coff]), ldc*4, alpha, beta, flags, biasp, 1<<n-1, pfAddr(b, boff, pf))
}

// cvtRow rounds the longest multiple of 16 floats of src to bf16 in dst
// with VCVTNEPS2BF16 where the CPU has it, and returns how many it did.
func cvtRow(dst []uint16, src []float32) int {
	n := len(src) &^ 15
	if bf16Native == nil || n == 0 {
		return 0
	}
	if len(dst) < n {
		panic("gemm: cvtRow destination too short")
	}
	cvtBF16(unsafe.Pointer(&dst[0]), unsafe.Pointer(&src[0]), n)
	return n
}

func hasPeakFMA() bool { return cpu.X86.HasAVX512F }

func fmaPeak(n int)  { fmaPeakLoop(n) }
func bf16Peak(n int) { bf16PeakLoop(n) }

// expandFast is expandPairs with AVX-512F, for whole pair rows; false when
// it cannot run.
func expandFast(dst []float32, src []uint32) bool {
	rows := len(dst) / (2 * nr)
	if !hasAVX512 || rows == 0 || len(dst) != rows*2*nr {
		return false
	}
	if len(src) < rows*nr {
		panic("gemm: expandFast source too short")
	}
	expandBF16(unsafe.Pointer(&dst[0]), unsafe.Pointer(&src[0]), rows)
	return true
}

// roundRow rounds the longest multiple of 16 floats of src to bf16 values
// into dst with AVX-512F and returns how many it did.
func roundRow(dst, src []float32) int {
	n := len(src) &^ 15
	if !hasAVX512 || n == 0 {
		return 0
	}
	if len(dst) < n {
		panic("gemm: roundRow destination too short")
	}
	roundBF16(unsafe.Pointer(&dst[0]), unsafe.Pointer(&src[0]), n)
	return n
}
