// Command gemmgen writes the amd64 assembly of package gemm (sgemm_amd64.s)
// and its Go declarations (kernels_amd64.go).
//
// It has no dependencies (its own module, so the main module does not
// depend on anything it uses); run it from this folder:
//
//	go run . -out ..
//
// or `go generate` in the package folder. The output is deterministic.
//
// Every tile kernel computes one tile C[0:mr, 0:cols] of
//
//	C = alpha·acc + beta·C (+ bias),  acc[i][j] = Σ_p A(i, p)·B[p·32 + j]
//
// with B one 32-column panel of the packed layout and the summation over p
// in order, one FMA per step, so every kernel variant (row count, width,
// A layout) gives bitwise the same element values. Columns past the tile's
// width are masked on every access to C and bias. Two A layouts:
//
//   - strided ("s" kernels): A(i, p) at a + i·rs + p·ks (byte strides), so
//     row-major and transposed A are read in place;
//   - packed ("p" kernels): A(i, p) at a + 4·(p·mr + i), the layout packA
//     writes, read with displacements only.
//
// Variants: AVX-512 14×32 (28 zmm accumulators) with 1..14 rows and 16 or
// 32 columns; AVX2+FMA 6×16 (12 ymm accumulators) with 1..6 rows. The
// kernels prefetch their C tile at entry and, at two lines per four k
// steps, a quarter of the B micro-panel the caller runs next (pf). Two
// AVX-512 16×16 transposes pack A tiles (packA14) and transposed B panels
// (packBT16).
package main

import (
	"bytes"
	"flag"
	"fmt"
	"go/format"
	"log"
	"os"
	"path/filepath"
	"strings"
)

const (
	mr512   = 14 // rows of the AVX-512 tile
	mrAVX2  = 6  // rows of the AVX2 tile
	nrPanel = 32 // columns of a packed B panel (floats)
	unroll  = 4  // k steps per loop iteration
)

type asm struct{ bytes.Buffer }

func (w *asm) f(format string, args ...any) { fmt.Fprintf(&w.Buffer, "\t"+format+"\n", args...) }
func (w *asm) label(l string)               { fmt.Fprintf(&w.Buffer, "%s:\n", l) }

// rowAddr is the address of row r relative to base registers: rows 0-8 from
// lo, rows 8-13 from hi (= lo + 8·stride); s1, s3, s5, s7 hold 1, 3, 5 and 7
// times the row stride.
func rowAddr(r int, disp int, lo, hi, s1, s3, s5, s7 string) string {
	d := ""
	if disp != 0 {
		d = fmt.Sprint(disp)
	}
	base := lo
	if r > 8 {
		base, r = hi, r-8
	}
	switch r {
	case 0:
		return fmt.Sprintf("%s(%s)", d, base)
	case 1:
		return fmt.Sprintf("%s(%s)(%s*1)", d, base, s1)
	case 2:
		return fmt.Sprintf("%s(%s)(%s*2)", d, base, s1)
	case 3:
		return fmt.Sprintf("%s(%s)(%s*1)", d, base, s3)
	case 4:
		return fmt.Sprintf("%s(%s)(%s*4)", d, base, s1)
	case 5:
		return fmt.Sprintf("%s(%s)(%s*1)", d, base, s5)
	case 6:
		return fmt.Sprintf("%s(%s)(%s*2)", d, base, s3)
	case 7:
		return fmt.Sprintf("%s(%s)(%s*1)", d, base, s7)
	case 8:
		if base == hi {
			return fmt.Sprintf("%s(%s)", d, hi)
		}
		return fmt.Sprintf("%s(%s)(%s*8)", d, base, s1)
	}
	panic("row")
}

// setupRows loads base/stride registers for mr rows: base in lo, stride in
// s1, derived s3, s5, s7, hi as needed.
func setupRows(w *asm, mr int, lo, hi, s1, s3, s5, s7 string) {
	if mr > 3 {
		w.f("LEAQ (%s)(%s*2), %s", s1, s1, s3)
	}
	if mr > 5 {
		w.f("LEAQ (%s)(%s*4), %s", s1, s1, s5)
	}
	if mr > 7 {
		w.f("LEAQ (%s)(%s*4), %s", s3, s1, s7)
	}
	if mr > 8 {
		w.f("LEAQ (%s)(%s*8), %s", lo, s1, hi)
	}
}

// Register use (both ISAs): SI A rows 0-8 / C rows, DI A/C rows 8-13,
// BX row stride, R8 3·stride, R9 5·stride, R10 7·stride, DX k stride,
// AX B pointer, CX k count, R13 B prefetch pointer; in the epilogue R11
// flags, R12 bias, R13 mask. Before the loop R11-R13 address the C rows for
// prefetching.
const (
	lo, hi, s1, s3, s5, s7 = "SI", "DI", "BX", "R8", "R9", "R10"
)

func name512(mr, halves int, packed bool) string {
	return fmt.Sprintf("sgemm512%sx%dx%d", mode(packed), mr, 16*halves)
}

func nameAVX2(mr int, packed bool) string { return fmt.Sprintf("sgemmAVX2%sx%dx16", mode(packed), mr) }

func mode(packed bool) string {
	if packed {
		return "p"
	}
	return "s"
}

// isa describes one vector extension.
type isa struct {
	vec      string // register prefix: "Z" or "Y"
	width    int    // bytes per vector
	maskArg  string // Go type of the mask argument
	zero     string // instruction zeroing a register
	bReg     int    // first of the B registers
	bcastReg int    // first of the two broadcast registers
}

var (
	avx512 = isa{vec: "Z", width: 64, maskArg: "int", zero: "VPXORD", bReg: 28, bcastReg: 30}
	avx2   = isa{vec: "Y", width: 32, maskArg: "unsafe.Pointer", zero: "VXORPS", bReg: 12, bcastReg: 14}
)

// kernel writes one tile kernel of mr rows and halves vectors per row (the
// AVX2 kernels always use two ymm: 16 columns).
//
// Strided kernels (packed=false) read A element (i, p) at a + i·rs + p·ks
// through scaled-index addressing. Packed kernels read an A tile packed by
// packA: element (i, p) at a + 4·(p·mr + i), with displacements only (rs
// and ks are then ignored).
func kernel(w *asm, is isa, name string, mr, halves int, packed bool) {
	kernelOp(w, is, name, mr, halves, packed, func(b, a, acc string) string {
		return fmt.Sprintf("VFMADD231PS %s, %s, %s", b, a, acc)
	})
}

// kernelOp writes a tile kernel whose k step is op(B register, broadcast A
// register, accumulator): one FMA for the fp32 kernels, one VDPBF16PS for
// the bf16 ones (a k step then covers a pair of k values, see bf16.go).
func kernelOp(w *asm, is isa, name string, mr, halves int, packed bool, op func(b, a, acc string) string) {
	v := func(n int) string { return fmt.Sprintf("%s%d", is.vec, n) }
	acc := func(r, h int) string { return v(r*halves + h) }
	fmt.Fprintf(w, "\n// func %s(a unsafe.Pointer, rs, ks int, b unsafe.Pointer, kc int, c unsafe.Pointer, ldc int, alpha, beta float32, flags int, bias unsafe.Pointer, mask %s, pf uintptr)\n", name, is.maskArg)
	fmt.Fprintf(w, "TEXT ·%s(SB), NOSPLIT, $0-96\n", name)
	// Prefetch the C tile, which the epilogue reads or writes, so that its
	// misses overlap the k loop (registers are reused for A below).
	w.f("MOVQ c+40(FP), R12")
	w.f("MOVQ ldc+48(FP), R11")
	setupRows(w, mr, "R12", "R13", "R11", s3, s5, s7)
	for r := 0; r < mr; r++ {
		for h := 0; h < halves*is.width/64 || h == 0; h++ {
			w.f("PREFETCHT0 %s", rowAddr(r, 64*h, "R12", "R13", "R11", s3, s5, s7))
		}
	}
	w.f("MOVQ a+0(FP), %s", lo)
	w.f("MOVQ b+24(FP), AX")
	w.f("MOVQ kc+32(FP), CX")
	w.f("MOVQ pf+88(FP), R13")
	if !packed {
		w.f("MOVQ rs+8(FP), %s", s1)
		w.f("MOVQ ks+16(FP), DX")
		setupRows(w, mr, lo, hi, s1, s3, s5, s7)
	}
	for r := 0; r < mr; r++ {
		for h := 0; h < halves; h++ {
			w.f("%s %s, %s, %s", is.zero, acc(r, h), acc(r, h), acc(r, h))
		}
	}
	step := func(u int, loop bool) {
		for h := 0; h < halves; h++ {
			w.f("VMOVUPS %d(AX), %s", u*nrPanel*4+is.width*h, v(is.bReg+h))
		}
		// Prefetch two lines per iteration into L2 from pf: the caller
		// points it at a quarter of the B micro-panel it runs next, so the
		// first four tiles of a panel bring in the next one at a rate the
		// memory system sustains (or at the current B, a no-op).
		if loop && u%2 == 0 && unroll >= 2 {
			w.f("PREFETCHT1 %d(R13)", 32*u)
		}
		for r := 0; r < mr; r++ {
			bc := v(is.bcastReg + r%2)
			if packed {
				w.f("VBROADCASTSS %d(%s), %s", 4*(u*mr+r), lo, bc)
			} else {
				w.f("VBROADCASTSS %s, %s", rowAddr(r, 0, lo, hi, s1, s3, s5, s7), bc)
			}
			for h := 0; h < halves; h++ {
				w.f("%s", op(v(is.bReg+h), bc, acc(r, h)))
			}
		}
		if !packed {
			w.f("ADDQ DX, %s", lo)
			if mr > 8 {
				w.f("ADDQ DX, %s", hi)
			}
		}
	}
	w.f("CMPQ CX, $%d", unroll)
	w.f("JLT tail")
	w.label("loop")
	for u := 0; u < unroll; u++ {
		step(u, true)
	}
	w.f("ADDQ $%d, AX", unroll*nrPanel*4)
	w.f("ADDQ $%d, R13", unroll*32)
	if packed {
		w.f("ADDQ $%d, %s", unroll*mr*4, lo)
	}
	w.f("SUBQ $%d, CX", unroll)
	w.f("CMPQ CX, $%d", unroll)
	w.f("JGE loop")
	w.label("tail")
	w.f("TESTQ CX, CX")
	w.f("JEQ done")
	w.label("loop1")
	step(0, false)
	w.f("ADDQ $%d, AX", nrPanel*4)
	if packed {
		w.f("ADDQ $%d, %s", mr*4, lo)
	}
	w.f("DECQ CX")
	w.f("JNE loop1")
	w.label("done")

	// epilogue: C = alpha·acc (+ beta·C) (+ bias), masked to the valid columns
	tmp := func(i int) string { return v(is.bcastReg + i%2) }
	w.f("MOVQ mask+80(FP), R13")
	load := func(addr string, h int, dst string) string { // masked load
		if is.vec == "Z" {
			return fmt.Sprintf("VMOVUPS.Z %s, K%d, %s", addr, h+1, dst)
		}
		return fmt.Sprintf("VMASKMOVPS %s, %s, %s", addr, v(is.bReg+h), dst)
	}
	store := func(src string, h int, addr string) string {
		if is.vec == "Z" {
			return fmt.Sprintf("VMOVUPS %s, K%d, %s", src, h+1, addr)
		}
		return fmt.Sprintf("VMASKMOVPS %s, %s, %s", src, v(is.bReg+h), addr)
	}
	if is.vec == "Z" {
		w.f("KMOVW R13, K1")
		if halves == 2 {
			w.f("SHRQ $16, R13")
			w.f("KMOVW R13, K2")
		}
	} else {
		w.f("VMOVDQU (R13), %s", v(is.bReg))
		w.f("VMOVDQU 32(R13), %s", v(is.bReg+1))
	}
	w.f("MOVQ flags+64(FP), R11")
	w.f("MOVQ c+40(FP), %s", lo)
	w.f("MOVQ ldc+48(FP), %s", s1)
	setupRows(w, mr, lo, hi, s1, s3, s5, s7)
	scal := v(is.bcastReg)
	if is.vec == "Z" {
		scal = "Z29" // Z28, Z29 are free after the loop (B regs)
	}
	w.f("VBROADCASTSS alpha+56(FP), %s", scal)
	for r := 0; r < mr; r++ {
		for h := 0; h < halves; h++ {
			w.f("VMULPS %s, %s, %s", scal, acc(r, h), acc(r, h))
		}
	}
	w.f("TESTQ $1, R11")
	w.f("JEQ nobeta")
	w.f("VBROADCASTSS beta+60(FP), %s", scal)
	t := 0
	for r := 0; r < mr; r++ {
		for h := 0; h < halves; h++ {
			tr := tmp(t)
			if is.vec == "Y" {
				tr = v(is.bcastReg + 1)
			}
			t++
			w.f("%s", load(rowAddr(r, is.width*h, lo, hi, s1, s3, s5, s7), h, tr))
			w.f("VFMADD231PS %s, %s, %s", scal, tr, acc(r, h))
		}
	}
	w.label("nobeta")
	w.f("TESTQ $2, R11")
	w.f("JEQ nobias")
	w.f("MOVQ bias+72(FP), R12")
	bias := func(h int) string {
		if is.vec == "Z" {
			return v(is.bcastReg + h)
		}
		return v(is.bcastReg + h) // Y14, Y15
	}
	for h := 0; h < halves; h++ {
		w.f("%s", load(fmt.Sprintf("%d(R12)", is.width*h), h, bias(h)))
	}
	for r := 0; r < mr; r++ {
		for h := 0; h < halves; h++ {
			w.f("VADDPS %s, %s, %s", bias(h), acc(r, h), acc(r, h))
		}
	}
	w.label("nobias")
	for r := 0; r < mr; r++ {
		for h := 0; h < halves; h++ {
			w.f("%s", store(acc(r, h), h, rowAddr(r, is.width*h, lo, hi, s1, s3, s5, s7)))
		}
	}
	w.f("VZEROUPPER")
	w.f("RET")
}

const header = "// Code generated by gemmgen (tensor/gemm/_gen); DO NOT EDIT.\n\n"

func main() {
	out := flag.String("out", "..", "package folder to write into")
	flag.Parse()

	var s asm
	s.WriteString(header)
	s.WriteString("//go:build amd64 && !purego\n\n#include \"textflag.h\"\n")
	var g strings.Builder
	g.WriteString(header)
	g.WriteString("//go:build amd64 && !purego\n\npackage gemm\n\nimport \"unsafe\"\n\n")
	fmt.Fprintf(&g, "const (\n\tmr512 = %d\n\tmrAVX2 = %d\n)\n\n", mr512, mrAVX2)
	const sig = "(a unsafe.Pointer, rs, ks int, b unsafe.Pointer, kc int, c unsafe.Pointer, ldc int, alpha, beta float32, flags int, bias unsafe.Pointer, mask %s, pf uintptr)"
	var t512, tAVX2 strings.Builder
	for _, packed := range []bool{false, true} {
		t512.WriteString("\t{\n")
		for h := 1; h <= 2; h++ {
			t512.WriteString("\t\t{nil")
			for mr := 1; mr <= mr512; mr++ {
				nm := name512(mr, h, packed)
				kernel(&s, avx512, nm, mr, h, packed)
				fmt.Fprintf(&g, "//go:noescape\nfunc %s"+sig+"\n\n", nm, "int")
				t512.WriteString(", " + nm)
			}
			t512.WriteString("},\n")
		}
		t512.WriteString("\t},\n")
		tAVX2.WriteString("\t{nil")
		for mr := 1; mr <= mrAVX2; mr++ {
			nm := nameAVX2(mr, packed)
			kernel(&s, avx2, nm, mr, 2, packed)
			fmt.Fprintf(&g, "//go:noescape\nfunc %s"+sig+"\n\n", nm, "unsafe.Pointer")
			tAVX2.WriteString(", " + nm)
		}
		tAVX2.WriteString("},\n")
	}
	var tBF16 strings.Builder
	for _, packed := range []bool{false, true} {
		tBF16.WriteString("\t{\n")
		for h := 1; h <= 2; h++ {
			tBF16.WriteString("\t\t{nil")
			for mr := 1; mr <= mr512; mr++ {
				nm := nameBF16(mr, h, packed)
				kernelOp(&s, avx512, nm, mr, h, packed, bf16Op)
				fmt.Fprintf(&g, "//go:noescape\nfunc %s"+sig+"\n\n", nm, "int")
				tBF16.WriteString(", " + nm)
			}
			tBF16.WriteString("},\n")
		}
		tBF16.WriteString("\t},\n")
	}
	cvtRoutine(&s)
	expandRoutine(&s)
	amxRoutine(&s)
	amxEpilogueRoutine(&s)
	amxPeakRoutine(&s)
	g.WriteString("//go:noescape\nfunc amxPeakLoop(n int, cfg unsafe.Pointer)\n\n")
	g.WriteString("//go:noescape\nfunc amxTile(a unsafe.Pointer, lda int, b unsafe.Pointer, ksteps int, s, cfg unsafe.Pointer)\n\n")
	g.WriteString("//go:noescape\nfunc amxEpilogue(c unsafe.Pointer, ldc int, s unsafe.Pointer, alpha, beta float32, flags int, bias unsafe.Pointer)\n\n")
	roundRoutine(&s)
	g.WriteString("//go:noescape\nfunc expandBF16(dst, src unsafe.Pointer, rows int)\n\n")
	g.WriteString("//go:noescape\nfunc roundBF16(dst, src unsafe.Pointer, n int)\n\n")
	peakLoop(&s, "fmaPeakLoop", func(x, y, acc string) string { return fmt.Sprintf("VFMADD231PS %s, %s, %s", x, y, acc) })
	peakLoop(&s, "bf16PeakLoop", bf16Op)
	g.WriteString("//go:noescape\nfunc cvtBF16(dst, src unsafe.Pointer, n int)\n\n")
	g.WriteString("//go:noescape\nfunc fmaPeakLoop(n int)\n\n")
	g.WriteString("//go:noescape\nfunc bf16PeakLoop(n int)\n\n")
	fmt.Fprintf(&g, "// kernelsBF16[packed][h][mr] is kernels512 with VDPBF16PS steps: A and B\n// hold pairs of bf16 in each 32-bit element.\nvar kernelsBF16 = [2][2][mr512 + 1]func"+sig+"{\n%s}\n\n", "int", tBF16.String())
	fmt.Fprintf(&g, "const peakAccs = %d\n\n", peakAccs)
	transpose(&s, "packA14", 14, 14*4)
	transpose(&s, "packBT16", 16, nrPanel*4)
	g.WriteString("//go:noescape\nfunc packA14(dst, src unsafe.Pointer, lds, kc int)\n\n")
	g.WriteString("//go:noescape\nfunc packBT16(dst, src unsafe.Pointer, lds, kc int)\n\n")
	fmt.Fprintf(&g, "// kernels512[packed][h][mr] computes an mr×16(h+1) tile; packed kernels read A\n// as laid out by packA.\nvar kernels512 = [2][2][mr512 + 1]func"+sig+"{\n%s}\n\n", "int", t512.String())
	fmt.Fprintf(&g, "// kernelsAVX2[packed][mr] computes an mr×16 tile.\nvar kernelsAVX2 = [2][mrAVX2 + 1]func"+sig+"{\n%s}\n", "unsafe.Pointer", tAVX2.String())
	src, err := format.Source([]byte(g.String()))
	if err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(*out, "sgemm_amd64.s"), s.Bytes(), 0o644); err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(*out, "kernels_amd64.go"), src, 0o644); err != nil {
		log.Fatal(err)
	}
}
