package main

import "fmt"

// transpose writes an AVX-512 routine
//
//	func name(dst, src unsafe.Pointer, lds, kc int)
//
// which transposes rows rows of kc floats (row i at src + i·lds bytes) into
// dst, element (i, p) at dst + p·dstStride + 4·i bytes: 16 columns at a
// time it loads the rows (masked at the end of the rows), transposes 16×16
// in registers (missing rows zero) and stores the first rows lanes of each
// column. It packs full 14-row A tiles (packA14: dstStride 56) and halves of
// transposed 32-column B panels (packBT16: dstStride 128).
func transpose(w *asm, name string, rows, dstStride int) {
	z := func(n int) string { return fmt.Sprintf("Z%d", n) }
	fmt.Fprintf(w, "\n// func %s(dst, src unsafe.Pointer, lds, kc int)\n", name)
	fmt.Fprintf(w, "TEXT ·%s(SB), NOSPLIT, $0-32\n", name)
	w.f("MOVQ dst+0(FP), DX")
	w.f("MOVQ src+8(FP), %s", lo)
	w.f("MOVQ lds+16(FP), %s", s1)
	w.f("MOVQ kc+24(FP), CX")
	setupRows(w, rows, lo, hi, s1, s3, s5, s7)
	w.f("MOVQ $%#x, R11", 1<<rows-1)
	w.f("KMOVW R11, K2")
	w.f("MOVQ $0xffff, R11")
	w.f("KMOVW R11, K1")
	body := func(tail bool) {
		for r := 0; r < 16; r++ {
			if r < rows {
				w.f("VMOVUPS.Z %s, K1, %s", rowAddr(r, 0, lo, hi, s1, s3, s5, s7), z(r))
			} else {
				w.f("VPXORD %s, %s, %s", z(r), z(r), z(r))
			}
		}
		t := func(j int) string { return z(16 + j) }
		for i := 0; i < 8; i++ {
			w.f("VUNPCKLPS %s, %s, %s", z(2*i+1), z(2*i), t(2*i))
			w.f("VUNPCKHPS %s, %s, %s", z(2*i+1), z(2*i), t(2*i+1))
		}
		for g := 0; g < 4; g++ {
			b := 4 * g
			w.f("VUNPCKLPD %s, %s, %s", t(b+2), t(b), z(b))
			w.f("VUNPCKHPD %s, %s, %s", t(b+2), t(b), z(b+1))
			w.f("VUNPCKLPD %s, %s, %s", t(b+3), t(b+1), z(b+2))
			w.f("VUNPCKHPD %s, %s, %s", t(b+3), t(b+1), z(b+3))
		}
		for c := 0; c < 4; c++ {
			w.f("VSHUFF32X4 $0x88, %s, %s, %s", z(4+c), z(c), t(c))
			w.f("VSHUFF32X4 $0xdd, %s, %s, %s", z(4+c), z(c), t(4+c))
			w.f("VSHUFF32X4 $0x88, %s, %s, %s", z(12+c), z(8+c), t(8+c))
			w.f("VSHUFF32X4 $0xdd, %s, %s, %s", z(12+c), z(8+c), t(12+c))
		}
		for c := 0; c < 4; c++ {
			w.f("VSHUFF32X4 $0x88, %s, %s, %s", t(8+c), t(c), z(c))
			w.f("VSHUFF32X4 $0xdd, %s, %s, %s", t(8+c), t(c), z(c+8))
			w.f("VSHUFF32X4 $0x88, %s, %s, %s", t(12+c), t(4+c), z(c+4))
			w.f("VSHUFF32X4 $0xdd, %s, %s, %s", t(12+c), t(4+c), z(c+12))
		}
		for q := 0; q < 16; q++ {
			if tail {
				w.f("CMPQ CX, $%d", q)
				w.f("JLE end")
			}
			w.f("VMOVUPS %s, K2, %d(DX)", z(q), dstStride*q)
		}
	}
	w.f("CMPQ CX, $16")
	w.f("JLT tail")
	w.label("loop")
	body(false)
	w.f("ADDQ $64, %s", lo)
	if rows > 8 {
		w.f("ADDQ $64, %s", hi)
	}
	w.f("ADDQ $%d, DX", 16*dstStride)
	w.f("SUBQ $16, CX")
	w.f("CMPQ CX, $16")
	w.f("JGE loop")
	w.label("tail")
	w.f("TESTQ CX, CX")
	w.f("JEQ end")
	w.f("MOVQ $1, R11")
	w.f("SHLQ CX, R11")
	w.f("DECQ R11")
	w.f("KMOVW R11, K1")
	body(true)
	w.label("end")
	w.f("VZEROUPPER")
	w.f("RET")
}
