package main

import (
	"fmt"
	"strings"
)

// The Go assembler has no mnemonics for the AVX512-BF16 instructions, so
// they are written as their EVEX encodings (Intel SDM vol. 2, 2.7 "EVEX
// encoding"; the instructions under VDPBF16PS and VCVTNEPS2BF16). Only the
// register-direct 512-bit forms, without masking, are needed.

// evex512 encodes "op reg, vvvv, rm" of map 0F38 with prefix F3, W0, as a
// 512-bit register-direct EVEX instruction: the six bytes 62 P0 P1 P2 op
// ModRM. reg, vvvv and rm are vector register numbers 0-31 (vvvv 0 when the
// instruction has no second source).
func evex512(op byte, reg, vvvv, rm int) []byte {
	inv := func(x, bit int) byte { return byte(^(x >> bit) & 1) }
	p0 := inv(reg, 3)<<7 | inv(rm, 4)<<6 | inv(rm, 3)<<5 | inv(reg, 4)<<4 | 0b010 // map 0F38
	p1 := byte(^vvvv&15)<<3 | 1<<2 | 0b10                                         // W0, vvvv, pp = F3
	p2 := byte(0b10)<<5 | inv(vvvv, 4)<<3                                         // L'L = 512, V'
	modrm := 0xc0 | byte(reg&7)<<3 | byte(rm&7)
	return []byte{0x62, p0, p1, p2, op, modrm}
}

// vdpbf16ps encodes VDPBF16PS zmm[acc], zmm[x], zmm[y]: for each of the 16
// lanes, acc += x.lo·y.lo + x.hi·y.hi over the two bf16 halves of the lane.
func vdpbf16ps(acc, x, y int) []byte { return evex512(0x52, acc, x, y) }

// vcvtneps2bf16 encodes VCVTNEPS2BF16 ymm[dst], zmm[src]: 16 floats rounded
// to nearest even bf16 (denormals flushed to zero).
func vcvtneps2bf16(dst, src int) []byte { return evex512(0x72, dst, 0, src) }

// bytesAsm writes an encoding as Go assembler BYTE directives on one line.
func bytesAsm(b []byte, comment string) string {
	var s []string
	for _, x := range b {
		s = append(s, fmt.Sprintf("BYTE $0x%02x", x))
	}
	return strings.Join(s, "; ") + " // " + comment
}

// regNum parses "Z12" into 12.
func regNum(r string) int {
	var n int
	if _, err := fmt.Sscanf(r[1:], "%d", &n); err != nil {
		panic(r)
	}
	return n
}

// bf16Op is the k step of the bf16 tile kernels: B holds 16 lanes of two
// bf16 (k = 2p, 2p+1 of one column), the broadcast A register the pair of
// A(i, 2p), A(i, 2p+1).
func bf16Op(b, a, acc string) string {
	return bytesAsm(vdpbf16ps(regNum(acc), regNum(b), regNum(a)), fmt.Sprintf("VDPBF16PS %s, %s, %s", b, a, acc))
}

func nameBF16(mr, halves int, packed bool) string {
	return fmt.Sprintf("bf16512%sx%dx%d", mode(packed), mr, 16*halves)
}

// cvtRoutine writes
//
//	func cvtBF16(dst, src unsafe.Pointer, n int)
//
// rounding n floats (n a multiple of 16) at src to bf16 at dst with
// VCVTNEPS2BF16, 64 floats per iteration.
func cvtRoutine(w *asm) {
	fmt.Fprintf(w, "\n// func cvtBF16(dst, src unsafe.Pointer, n int)\n")
	fmt.Fprintf(w, "TEXT ·cvtBF16(SB), NOSPLIT, $0-24\n")
	w.f("MOVQ dst+0(FP), DI")
	w.f("MOVQ src+8(FP), SI")
	w.f("MOVQ n+16(FP), CX")
	w.f("CMPQ CX, $64")
	w.f("JLT one")
	w.label("loop4")
	for u := 0; u < 4; u++ {
		w.f("VMOVUPS %d(SI), Z%d", 64*u, u)
	}
	for u := 0; u < 4; u++ {
		w.f("%s", bytesAsm(vcvtneps2bf16(4+u, u), fmt.Sprintf("VCVTNEPS2BF16 Z%d, Y%d", u, 4+u)))
	}
	for u := 0; u < 4; u++ {
		w.f("VMOVDQU Y%d, %d(DI)", 4+u, 32*u)
	}
	w.f("ADDQ $256, SI")
	w.f("ADDQ $128, DI")
	w.f("SUBQ $64, CX")
	w.f("CMPQ CX, $64")
	w.f("JGE loop4")
	w.label("one")
	w.f("CMPQ CX, $16")
	w.f("JLT end")
	w.f("VMOVUPS (SI), Z0")
	w.f("%s", bytesAsm(vcvtneps2bf16(4, 0), "VCVTNEPS2BF16 Z0, Y4"))
	w.f("VMOVDQU Y4, (DI)")
	w.f("ADDQ $64, SI")
	w.f("ADDQ $32, DI")
	w.f("SUBQ $16, CX")
	w.f("JMP one")
	w.label("end")
	w.f("VZEROUPPER")
	w.f("RET")
}

// peakAccs is the number of independent accumulators of the peak loops:
// more than latency × issue width of any current core (FMA: 4 cycles × 2
// pipes; VDPBF16PS: at most 6 × 2), so the loops run at the issue rate.
const peakAccs = 24

// peakLoop writes func name(n int), n iterations of peakAccs independent
// register-only operations (op(x, y, acc)), no memory access in the loop.
func peakLoop(w *asm, name string, op func(x, y, acc string) string) {
	fmt.Fprintf(w, "\n// func %s(n int)\n", name)
	fmt.Fprintf(w, "TEXT ·%s(SB), NOSPLIT, $0-8\n", name)
	w.f("MOVQ n+0(FP), CX")
	for r := 0; r < 32; r++ {
		w.f("VPXORD Z%d, Z%d, Z%d", r, r, r)
	}
	w.f("TESTQ CX, CX")
	w.f("JEQ end")
	w.label("loop")
	for r := 0; r < peakAccs; r++ {
		w.f("%s", op(fmt.Sprintf("Z%d", 24+r%4), fmt.Sprintf("Z%d", 28+r%4), fmt.Sprintf("Z%d", r)))
	}
	w.f("DECQ CX")
	w.f("JNE loop")
	w.label("end")
	w.f("VZEROUPPER")
	w.f("RET")
}

// expandRoutine writes
//
//	func expandBF16(dst, src unsafe.Pointer, rows int)
//
// (AVX-512F) which expands rows pair rows of a bf16 panel (32 words each)
// into 2·rows float32 rows of 32: the low halves (shifted up) to row 2r,
// the high halves (low 16 bits cleared) to row 2r+1. The emulated bf16
// path runs the fp32 kernels on these.
func expandRoutine(w *asm) {
	fmt.Fprintf(w, "\n// func expandBF16(dst, src unsafe.Pointer, rows int)\n")
	fmt.Fprintf(w, "TEXT ·expandBF16(SB), NOSPLIT, $0-24\n")
	w.f("MOVQ dst+0(FP), DI")
	w.f("MOVQ src+8(FP), SI")
	w.f("MOVQ rows+16(FP), CX")
	w.f("MOVL $0xffff0000, AX")
	w.f("VPBROADCASTD AX, Z31")
	w.f("TESTQ CX, CX")
	w.f("JEQ end")
	w.label("loop")
	w.f("VMOVDQU32 (SI), Z0")
	w.f("VMOVDQU32 64(SI), Z1")
	w.f("VPSLLD $16, Z0, Z2")
	w.f("VPSLLD $16, Z1, Z3")
	w.f("VPANDD Z31, Z0, Z0")
	w.f("VPANDD Z31, Z1, Z1")
	w.f("VMOVDQU32 Z2, (DI)")
	w.f("VMOVDQU32 Z3, 64(DI)")
	w.f("VMOVDQU32 Z0, 128(DI)")
	w.f("VMOVDQU32 Z1, 192(DI)")
	w.f("ADDQ $128, SI")
	w.f("ADDQ $256, DI")
	w.f("DECQ CX")
	w.f("JNE loop")
	w.label("end")
	w.f("VZEROUPPER")
	w.f("RET")
}

// roundRoutine writes
//
//	func roundBF16(dst, src unsafe.Pointer, n int)
//
// (AVX-512F) which rounds n floats (a multiple of 16) to the nearest bf16
// value, ties to even, kept as float32 (low 16 bits zero): the same
// results as VCVTNEPS2BF16 followed by a shift back (denormals become
// zero of the same sign, NaNs stay quiet NaNs), for CPUs without it.
func roundRoutine(w *asm) {
	fmt.Fprintf(w, "\n// func roundBF16(dst, src unsafe.Pointer, n int)\n")
	fmt.Fprintf(w, "TEXT ·roundBF16(SB), NOSPLIT, $0-24\n")
	w.f("MOVQ dst+0(FP), DI")
	w.f("MOVQ src+8(FP), SI")
	w.f("MOVQ n+16(FP), CX")
	for _, c := range []struct {
		v   uint32
		reg string
	}{{0xffff0000, "Z31"}, {0x7fff, "Z30"}, {1, "Z29"}, {0x7f800000, "Z28"}, {0x7fffffff, "Z27"}, {0x80000000, "Z26"}, {0x00400000, "Z25"}} {
		w.f("MOVL $%#x, AX", c.v)
		w.f("VPBROADCASTD AX, %s", c.reg)
	}
	w.f("SHRQ $4, CX")
	w.f("JEQ end")
	w.label("loop")
	w.f("VMOVDQU32 (SI), Z0")
	w.f("VPSRLD $16, Z0, Z1")      // bit 16 to the bottom
	w.f("VPANDD Z29, Z1, Z1")      // lsb of the result
	w.f("VPADDD Z30, Z1, Z1")      // 0x7fff + lsb
	w.f("VPADDD Z0, Z1, Z1")       // rounded (carries into the exponent)
	w.f("VPANDD Z31, Z1, Z1")      // truncate
	w.f("VPANDD Z28, Z0, Z2")      // exponent bits
	w.f("VPTESTNMD Z2, Z2, K1")    // zero or denormal
	w.f("VPANDD Z26, Z0, K1, Z1")  // → signed zero
	w.f("VPANDD Z27, Z0, Z2")      // |x|
	w.f("VPCMPUD $6, Z28, Z2, K2") // |x| > Inf: NaN
	w.f("VPORD Z25, Z0, Z3")       // quiet
	w.f("VPANDD Z31, Z3, K2, Z1")  // NaN, truncated
	w.f("VMOVDQU32 Z1, (DI)")
	w.f("ADDQ $64, SI")
	w.f("ADDQ $64, DI")
	w.f("DECQ CX")
	w.f("JNE loop")
	w.label("end")
	w.f("VZEROUPPER")
	w.f("RET")
}
