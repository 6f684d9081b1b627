//go:build amd64 && !purego

package gemm

import (
	"syscall"
	"unsafe"

	"golang.org/x/sys/cpu"
)

// AMX bf16 kernel (Intel Sapphire Rapids and later: TDPBF16PS on 16×16
// tiles). UNTESTED on hardware: written on machines without AMX, it is
// used only when asked for with FREESEG_BF16=amx (see docs/speed.md), on
// CPUs reporting AMX-TILE and AMX-BF16 once Linux grants the process the
// tile state. The A conversion, the B layout and the driver are the ones
// of the avx512bf16 kernel (tested); the tile kernel computes full 32×32
// blocks, and edge blocks run on the avx512bf16 kernel.

// amxConfig is the tile configuration (palette 1): tiles 0-7 of 16 rows ×
// 64 bytes (C: 16 floats; A: 16 bf16 pairs; B: 16 columns of a pair).
var amxConfig = func() (c [64]byte) {
	c[0] = 1 // palette
	for t := 0; t < 8; t++ {
		c[16+2*t] = 64 // colsb, little-endian uint16
		c[48+t] = 16   // rows
	}
	return c
}()

// amxPermitted asks Linux for the AMX tile state (arch_prctl
// ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA): without it the first tile
// instruction faults.
func amxPermitted() bool {
	const archReqXcompPerm, xfeatureXtiledata = 0x1023, 18
	_, _, errno := syscall.RawSyscall(syscall.SYS_ARCH_PRCTL, archReqXcompPerm, xfeatureXtiledata, 0)
	return errno == 0
}

// amxKernel returns the AMX kernel, or nil where the CPU or the OS does not
// offer AMX-BF16.
func amxKernel() *kernel {
	if bf16Native == nil || !cpu.X86.HasAMXTile || !cpu.X86.HasAMXBF16 || !amxPermitted() {
		return nil
	}
	return &kernel{name: "amxbf16", mr: 32, micro: microAMX, fast: true, noPack: true}
}

// microAMX computes a tile as microBF16 does (A and B bf16 pairs, kc pair
// rows), full 32×32 tiles with AMX, others with the avx512bf16 kernel.
func microAMX(mr, n int, a []float32, aoff, rs, ks int, b []float32, boff, kc int, c []float32, coff, ldc int, alpha, beta float32, loadC bool, bias []float32, pf int) {
	if mr != 32 || n != nr || ks != 1 || kc == 0 || kc%16 != 0 {
		for i := 0; i < mr; i += mr512 {
			microBF16(min(mr512, mr-i), n, a, aoff+i*rs, rs, ks, b, boff, kc, c, coff+i*ldc, ldc, alpha, beta, loadC, bias, pf)
		}
		return
	}
	checkTile(32, mr, n, a, aoff, rs, ks, b, boff, kc, c, coff, ldc, bias)
	var s [32 * nr]float32
	amxTile(unsafe.Pointer(&a[aoff]), rs*4, unsafe.Pointer(&b[boff]), kc/16, unsafe.Pointer(&s[0]), unsafe.Pointer(&amxConfig[0]))
	flags, biasp := tileFlags(loadC, bias)
	amxEpilogue(unsafe.Pointer(&c[coff]), ldc*4, unsafe.Pointer(&s[0]), alpha, beta, flags, biasp)
}

func amxPeak(n int) { amxPeakLoop(n, unsafe.Pointer(&amxConfig[0])) }
