package main

import "fmt"

// AMX (Intel Advanced Matrix Extensions, Sapphire Rapids and later): tile
// instructions the Go assembler does not know, written as their encodings.
// The registers are fixed, so each instruction is one byte string, taken
// from GNU as 2.44 (objdump -d; amx_test.go checks the few encoder-free
// facts). UNTESTED on hardware: the machines this was written on have no
// AMX; the package enables it only on request (FREESEG_BF16=amx).
var amxBytes = map[string][]byte{
	"LDTILECFG (AX)":                {0xc4, 0xe2, 0x78, 0x49, 0x00},
	"TILERELEASE":                   {0xc4, 0xe2, 0x78, 0x49, 0xc0},
	"TILEZERO TMM0":                 {0xc4, 0xe2, 0x7b, 0x49, 0xc0},
	"TILEZERO TMM1":                 {0xc4, 0xe2, 0x7b, 0x49, 0xc8},
	"TILEZERO TMM2":                 {0xc4, 0xe2, 0x7b, 0x49, 0xd0},
	"TILEZERO TMM3":                 {0xc4, 0xe2, 0x7b, 0x49, 0xd8},
	"TILEZERO TMM4":                 {0xc4, 0xe2, 0x7b, 0x49, 0xe0},
	"TILEZERO TMM5":                 {0xc4, 0xe2, 0x7b, 0x49, 0xe8},
	"TILEZERO TMM6":                 {0xc4, 0xe2, 0x7b, 0x49, 0xf0},
	"TILEZERO TMM7":                 {0xc4, 0xe2, 0x7b, 0x49, 0xf8},
	"TILELOADD (SI)(BX*1), TMM4":    {0xc4, 0xe2, 0x7b, 0x4b, 0x24, 0x1e},
	"TILELOADD (R8)(BX*1), TMM5":    {0xc4, 0xc2, 0x7b, 0x4b, 0x2c, 0x18},
	"TILELOADD (DX)(R9*1), TMM6":    {0xc4, 0xa2, 0x7b, 0x4b, 0x34, 0x0a},
	"TILELOADD (R10)(R9*1), TMM7":   {0xc4, 0x82, 0x7b, 0x4b, 0x3c, 0x0a},
	"TDPBF16PS TMM4, TMM6, TMM0":    {0xc4, 0xe2, 0x4a, 0x5c, 0xc4}, // tmm0 += tmm4 (A) · tmm6 (B)
	"TDPBF16PS TMM4, TMM7, TMM1":    {0xc4, 0xe2, 0x42, 0x5c, 0xcc},
	"TDPBF16PS TMM5, TMM6, TMM2":    {0xc4, 0xe2, 0x4a, 0x5c, 0xd5},
	"TDPBF16PS TMM5, TMM7, TMM3":    {0xc4, 0xe2, 0x42, 0x5c, 0xdd},
	"TILESTORED TMM0, (DI)(R11*1)":  {0xc4, 0xa2, 0x7a, 0x4b, 0x04, 0x1f},
	"TILESTORED TMM1, (R12)(R11*1)": {0xc4, 0x82, 0x7a, 0x4b, 0x0c, 0x1c},
	"TILESTORED TMM2, (AX)(R11*1)":  {0xc4, 0xa2, 0x7a, 0x4b, 0x14, 0x18},
	"TILESTORED TMM3, (CX)(R11*1)":  {0xc4, 0xa2, 0x7a, 0x4b, 0x1c, 0x19},
}

func amx(w *asm, ins string) {
	b, ok := amxBytes[ins]
	if !ok {
		panic("no encoding for " + ins)
	}
	w.f("%s", bytesAsm(b, ins))
}

// amxRoutine writes
//
//	func amxTile(a unsafe.Pointer, lda int, b unsafe.Pointer, ksteps int, s, cfg unsafe.Pointer)
//
// computing the 32×32 float32 block s (row stride 128 bytes) = A·B over
// ksteps steps of 16 k pairs: A is 32 rows of bf16 pairs (row stride lda
// bytes), B a bf16 pair panel (32 columns, 128 bytes per pair row). Four
// accumulator tiles (tmm0-3: rows 0-15/16-31 × columns 0-15/16-31), two A
// tiles (tmm4-5), two B tiles (tmm6-7), all 16 rows × 64 bytes as cfg
// (the 64-byte tile configuration) says. The configuration is loaded and
// released within the call, so no tile state outlives it.
func amxRoutine(w *asm) {
	fmt.Fprintf(w, "\n// func amxTile(a unsafe.Pointer, lda int, b unsafe.Pointer, ksteps int, s, cfg unsafe.Pointer)\n")
	fmt.Fprintf(w, "TEXT ·amxTile(SB), NOSPLIT, $0-48\n")
	w.f("MOVQ cfg+40(FP), AX")
	amx(w, "LDTILECFG (AX)")
	w.f("MOVQ a+0(FP), SI")
	w.f("MOVQ lda+8(FP), BX")
	w.f("LEAQ (SI)(BX*8), R8")
	w.f("LEAQ (R8)(BX*8), R8") // A rows 16-31
	w.f("MOVQ b+16(FP), DX")
	w.f("LEAQ 64(DX), R10") // B columns 16-31
	w.f("MOVQ $128, R9")
	w.f("MOVQ ksteps+24(FP), CX")
	for t := 0; t < 4; t++ {
		amx(w, fmt.Sprintf("TILEZERO TMM%d", t))
	}
	w.label("loop")
	amx(w, "TILELOADD (SI)(BX*1), TMM4")
	amx(w, "TILELOADD (R8)(BX*1), TMM5")
	amx(w, "TILELOADD (DX)(R9*1), TMM6")
	amx(w, "TILELOADD (R10)(R9*1), TMM7")
	amx(w, "TDPBF16PS TMM4, TMM6, TMM0")
	amx(w, "TDPBF16PS TMM4, TMM7, TMM1")
	amx(w, "TDPBF16PS TMM5, TMM6, TMM2")
	amx(w, "TDPBF16PS TMM5, TMM7, TMM3")
	w.f("ADDQ $64, SI")
	w.f("ADDQ $64, R8")
	w.f("ADDQ $2048, DX")
	w.f("ADDQ $2048, R10")
	w.f("DECQ CX")
	w.f("JNE loop")
	w.f("MOVQ s+32(FP), DI")
	w.f("MOVQ $128, R11")
	w.f("LEAQ 64(DI), R12")
	w.f("LEAQ 2048(DI), AX")
	w.f("LEAQ 2112(DI), CX")
	amx(w, "TILESTORED TMM0, (DI)(R11*1)")
	amx(w, "TILESTORED TMM1, (R12)(R11*1)")
	amx(w, "TILESTORED TMM2, (AX)(R11*1)")
	amx(w, "TILESTORED TMM3, (CX)(R11*1)")
	amx(w, "TILERELEASE")
	w.f("RET")
}

// amxEpilogueRoutine writes
//
//	func amxEpilogue(c unsafe.Pointer, ldc int, s unsafe.Pointer, alpha, beta float32, flags int, bias unsafe.Pointer)
//
// (AVX-512F) C = alpha·S (+ beta·C when flags&1) (+ bias when flags&2) for
// a full 32×32 block, S with row stride 128 bytes, C with ldc bytes: the
// same operations in the same order as the tile kernels' epilogue.
func amxEpilogueRoutine(w *asm) {
	fmt.Fprintf(w, "\n// func amxEpilogue(c unsafe.Pointer, ldc int, s unsafe.Pointer, alpha, beta float32, flags int, bias unsafe.Pointer)\n")
	fmt.Fprintf(w, "TEXT ·amxEpilogue(SB), NOSPLIT, $0-48\n")
	w.f("MOVQ c+0(FP), DI")
	w.f("MOVQ ldc+8(FP), BX")
	w.f("MOVQ s+16(FP), SI")
	w.f("VBROADCASTSS alpha+24(FP), Z30")
	w.f("VBROADCASTSS beta+28(FP), Z31")
	w.f("MOVQ flags+32(FP), R11")
	w.f("MOVQ bias+40(FP), R12")
	w.f("VPXORD Z28, Z28, Z28")
	w.f("VPXORD Z29, Z29, Z29")
	w.f("TESTQ $2, R11")
	w.f("JEQ nobias")
	w.f("VMOVUPS (R12), Z28")
	w.f("VMOVUPS 64(R12), Z29")
	w.label("nobias")
	w.f("MOVQ $32, CX")
	w.label("loop")
	w.f("VMULPS (SI), Z30, Z0")
	w.f("VMULPS 64(SI), Z30, Z1")
	w.f("TESTQ $1, R11")
	w.f("JEQ nobeta")
	w.f("VFMADD231PS (DI), Z31, Z0")
	w.f("VFMADD231PS 64(DI), Z31, Z1")
	w.label("nobeta")
	w.f("TESTQ $2, R11")
	w.f("JEQ store")
	w.f("VADDPS Z28, Z0, Z0")
	w.f("VADDPS Z29, Z1, Z1")
	w.label("store")
	w.f("VMOVUPS Z0, (DI)")
	w.f("VMOVUPS Z1, 64(DI)")
	w.f("ADDQ $128, SI")
	w.f("ADDQ BX, DI")
	w.f("DECQ CX")
	w.f("JNE loop")
	w.f("VZEROUPPER")
	w.f("RET")
}

// amxPeakRoutine writes func amxPeakLoop(n int, cfg unsafe.Pointer): n
// iterations of four independent TDPBF16PS on zeroed tiles (16×16 results,
// 16 pairs: 16384 flops each), the AMX counterpart of the peak loops.
func amxPeakRoutine(w *asm) {
	fmt.Fprintf(w, "\n// func amxPeakLoop(n int, cfg unsafe.Pointer)\n")
	fmt.Fprintf(w, "TEXT ·amxPeakLoop(SB), NOSPLIT, $0-16\n")
	w.f("MOVQ cfg+8(FP), AX")
	amx(w, "LDTILECFG (AX)")
	w.f("MOVQ n+0(FP), CX")
	for t := 0; t < 8; t++ {
		amx(w, fmt.Sprintf("TILEZERO TMM%d", t))
	}
	w.f("TESTQ CX, CX")
	w.f("JEQ end")
	w.label("loop")
	amx(w, "TDPBF16PS TMM4, TMM6, TMM0")
	amx(w, "TDPBF16PS TMM4, TMM7, TMM1")
	amx(w, "TDPBF16PS TMM5, TMM6, TMM2")
	amx(w, "TDPBF16PS TMM5, TMM7, TMM3")
	w.f("DECQ CX")
	w.f("JNE loop")
	w.label("end")
	amx(w, "TILERELEASE")
	w.f("RET")
}
