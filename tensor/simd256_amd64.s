//go:build amd64 && !purego

#include "textflag.h"

// AVX2+FMA element-wise kernels, 8 lanes. The Go wrappers in ops.go check
// all lengths; n, rows and d are at least 1 here. Tails shorter than 8 use
// VMASKMOVPS, which neither reads nor writes the masked-out elements.
//
// Register conventions for the exp (see generic.go for the method):
//	Y15 upper clamp  Y14 lower clamp  Y13 1.0  Y12 int32 127
// the other constants are memory operands from ec<>.

//   0: log2e
DATA ec<>+0(SB)/4, $0x3fb8aa3b
DATA ec<>+4(SB)/4, $0x3fb8aa3b
DATA ec<>+8(SB)/4, $0x3fb8aa3b
DATA ec<>+12(SB)/4, $0x3fb8aa3b
DATA ec<>+16(SB)/4, $0x3fb8aa3b
DATA ec<>+20(SB)/4, $0x3fb8aa3b
DATA ec<>+24(SB)/4, $0x3fb8aa3b
DATA ec<>+28(SB)/4, $0x3fb8aa3b
//  32: ln2hi
DATA ec<>+32(SB)/4, $0x3f318000
DATA ec<>+36(SB)/4, $0x3f318000
DATA ec<>+40(SB)/4, $0x3f318000
DATA ec<>+44(SB)/4, $0x3f318000
DATA ec<>+48(SB)/4, $0x3f318000
DATA ec<>+52(SB)/4, $0x3f318000
DATA ec<>+56(SB)/4, $0x3f318000
DATA ec<>+60(SB)/4, $0x3f318000
//  64: ln2lo
DATA ec<>+64(SB)/4, $0xb95e8083
DATA ec<>+68(SB)/4, $0xb95e8083
DATA ec<>+72(SB)/4, $0xb95e8083
DATA ec<>+76(SB)/4, $0xb95e8083
DATA ec<>+80(SB)/4, $0xb95e8083
DATA ec<>+84(SB)/4, $0xb95e8083
DATA ec<>+88(SB)/4, $0xb95e8083
DATA ec<>+92(SB)/4, $0xb95e8083
//  96: hi
DATA ec<>+96(SB)/4, $0x42b18000
DATA ec<>+100(SB)/4, $0x42b18000
DATA ec<>+104(SB)/4, $0x42b18000
DATA ec<>+108(SB)/4, $0x42b18000
DATA ec<>+112(SB)/4, $0x42b18000
DATA ec<>+116(SB)/4, $0x42b18000
DATA ec<>+120(SB)/4, $0x42b18000
DATA ec<>+124(SB)/4, $0x42b18000
// 128: lo
DATA ec<>+128(SB)/4, $0xc2d00000
DATA ec<>+132(SB)/4, $0xc2d00000
DATA ec<>+136(SB)/4, $0xc2d00000
DATA ec<>+140(SB)/4, $0xc2d00000
DATA ec<>+144(SB)/4, $0xc2d00000
DATA ec<>+148(SB)/4, $0xc2d00000
DATA ec<>+152(SB)/4, $0xc2d00000
DATA ec<>+156(SB)/4, $0xc2d00000
// 160: one
DATA ec<>+160(SB)/4, $0x3f800000
DATA ec<>+164(SB)/4, $0x3f800000
DATA ec<>+168(SB)/4, $0x3f800000
DATA ec<>+172(SB)/4, $0x3f800000
DATA ec<>+176(SB)/4, $0x3f800000
DATA ec<>+180(SB)/4, $0x3f800000
DATA ec<>+184(SB)/4, $0x3f800000
DATA ec<>+188(SB)/4, $0x3f800000
// 192: q4
DATA ec<>+192(SB)/4, $0x3ab51220
DATA ec<>+196(SB)/4, $0x3ab51220
DATA ec<>+200(SB)/4, $0x3ab51220
DATA ec<>+204(SB)/4, $0x3ab51220
DATA ec<>+208(SB)/4, $0x3ab51220
DATA ec<>+212(SB)/4, $0x3ab51220
DATA ec<>+216(SB)/4, $0x3ab51220
DATA ec<>+220(SB)/4, $0x3ab51220
// 224: q3
DATA ec<>+224(SB)/4, $0x3c091ceb
DATA ec<>+228(SB)/4, $0x3c091ceb
DATA ec<>+232(SB)/4, $0x3c091ceb
DATA ec<>+236(SB)/4, $0x3c091ceb
DATA ec<>+240(SB)/4, $0x3c091ceb
DATA ec<>+244(SB)/4, $0x3c091ceb
DATA ec<>+248(SB)/4, $0x3c091ceb
DATA ec<>+252(SB)/4, $0x3c091ceb
// 256: q2
DATA ec<>+256(SB)/4, $0x3d2aac79
DATA ec<>+260(SB)/4, $0x3d2aac79
DATA ec<>+264(SB)/4, $0x3d2aac79
DATA ec<>+268(SB)/4, $0x3d2aac79
DATA ec<>+272(SB)/4, $0x3d2aac79
DATA ec<>+276(SB)/4, $0x3d2aac79
DATA ec<>+280(SB)/4, $0x3d2aac79
DATA ec<>+284(SB)/4, $0x3d2aac79
// 288: q1
DATA ec<>+288(SB)/4, $0x3e2aaa49
DATA ec<>+292(SB)/4, $0x3e2aaa49
DATA ec<>+296(SB)/4, $0x3e2aaa49
DATA ec<>+300(SB)/4, $0x3e2aaa49
DATA ec<>+304(SB)/4, $0x3e2aaa49
DATA ec<>+308(SB)/4, $0x3e2aaa49
DATA ec<>+312(SB)/4, $0x3e2aaa49
DATA ec<>+316(SB)/4, $0x3e2aaa49
// 320: q0
DATA ec<>+320(SB)/4, $0x3efffffe
DATA ec<>+324(SB)/4, $0x3efffffe
DATA ec<>+328(SB)/4, $0x3efffffe
DATA ec<>+332(SB)/4, $0x3efffffe
DATA ec<>+336(SB)/4, $0x3efffffe
DATA ec<>+340(SB)/4, $0x3efffffe
DATA ec<>+344(SB)/4, $0x3efffffe
DATA ec<>+348(SB)/4, $0x3efffffe
// 352: round
DATA ec<>+352(SB)/4, $0x4b400000
DATA ec<>+356(SB)/4, $0x4b400000
DATA ec<>+360(SB)/4, $0x4b400000
DATA ec<>+364(SB)/4, $0x4b400000
DATA ec<>+368(SB)/4, $0x4b400000
DATA ec<>+372(SB)/4, $0x4b400000
DATA ec<>+376(SB)/4, $0x4b400000
DATA ec<>+380(SB)/4, $0x4b400000
// 384: ngelu
DATA ec<>+384(SB)/4, $0xbfd9db23
DATA ec<>+388(SB)/4, $0xbfd9db23
DATA ec<>+392(SB)/4, $0xbfd9db23
DATA ec<>+396(SB)/4, $0xbfd9db23
DATA ec<>+400(SB)/4, $0xbfd9db23
DATA ec<>+404(SB)/4, $0xbfd9db23
DATA ec<>+408(SB)/4, $0xbfd9db23
DATA ec<>+412(SB)/4, $0xbfd9db23
// 416: ninf
DATA ec<>+416(SB)/4, $0xff800000
DATA ec<>+420(SB)/4, $0xff800000
DATA ec<>+424(SB)/4, $0xff800000
DATA ec<>+428(SB)/4, $0xff800000
DATA ec<>+432(SB)/4, $0xff800000
DATA ec<>+436(SB)/4, $0xff800000
DATA ec<>+440(SB)/4, $0xff800000
DATA ec<>+444(SB)/4, $0xff800000
// 448: i127
DATA ec<>+448(SB)/4, $0x0000007f
DATA ec<>+452(SB)/4, $0x0000007f
DATA ec<>+456(SB)/4, $0x0000007f
DATA ec<>+460(SB)/4, $0x0000007f
DATA ec<>+464(SB)/4, $0x0000007f
DATA ec<>+468(SB)/4, $0x0000007f
DATA ec<>+472(SB)/4, $0x0000007f
DATA ec<>+476(SB)/4, $0x0000007f
GLOBL ec<>(SB), RODATA|NOPTR, $480

// tailmask<> + 4·(8-t) holds a mask of the first t of 8 lanes.
DATA tailmask<>+0(SB)/4, $0xffffffff
DATA tailmask<>+4(SB)/4, $0xffffffff
DATA tailmask<>+8(SB)/4, $0xffffffff
DATA tailmask<>+12(SB)/4, $0xffffffff
DATA tailmask<>+16(SB)/4, $0xffffffff
DATA tailmask<>+20(SB)/4, $0xffffffff
DATA tailmask<>+24(SB)/4, $0xffffffff
DATA tailmask<>+28(SB)/4, $0xffffffff
DATA tailmask<>+32(SB)/4, $0
DATA tailmask<>+36(SB)/4, $0
DATA tailmask<>+40(SB)/4, $0
DATA tailmask<>+44(SB)/4, $0
DATA tailmask<>+48(SB)/4, $0
DATA tailmask<>+52(SB)/4, $0
DATA tailmask<>+56(SB)/4, $0
DATA tailmask<>+60(SB)/4, $0
GLOBL tailmask<>(SB), RODATA|NOPTR, $64

// rot<> holds the int32s 0..15 (lane rotations for VPERMPS).
DATA rot<>+0(SB)/4, $0
DATA rot<>+4(SB)/4, $1
DATA rot<>+8(SB)/4, $2
DATA rot<>+12(SB)/4, $3
DATA rot<>+16(SB)/4, $4
DATA rot<>+20(SB)/4, $5
DATA rot<>+24(SB)/4, $6
DATA rot<>+28(SB)/4, $7
DATA rot<>+32(SB)/4, $8
DATA rot<>+36(SB)/4, $9
DATA rot<>+40(SB)/4, $10
DATA rot<>+44(SB)/4, $11
DATA rot<>+48(SB)/4, $12
DATA rot<>+52(SB)/4, $13
DATA rot<>+56(SB)/4, $14
DATA rot<>+60(SB)/4, $15
GLOBL rot<>(SB), RODATA|NOPTR, $64

#define LOADC256 \
	VMOVUPS ec<>+96(SB), Y15; \
	VMOVUPS ec<>+128(SB), Y14; \
	VMOVUPS ec<>+160(SB), Y13; \
	VMOVUPS ec<>+448(SB), Y12

// TAILMASK256 loads into M the mask of the first (R & 7) lanes and leaves
// that count in CX; clobbers AX.
#define TAILMASK256(R, M) \
	MOVQ R, CX; \
	ANDQ $7, CX; \
	MOVQ $8, AX; \
	SUBQ CX, AX; \
	LEAQ tailmask<>(SB), DX; \
	VMOVDQU (DX)(AX*4), M

// EXP256 sets X = e^X (8 lanes), using K, P and T as scratch. The clamps
// keep NaN (X is the second source of VMINPS/VMAXPS). k = round(X·log2e)
// comes from adding 1.5·2²³ in the FMA, which also leaves k in the low bits;
// 2^k is applied as two factors 2^(k>>1)·2^(k-(k>>1)) so that subnormal
// results and overflow come out with one rounding.
#define EXP256(X, K, P, T) \
	VMINPS X, Y15, X; \
	VMAXPS X, Y14, X; \
	VMOVUPS ec<>+352(SB), T; \
	VFMADD231PS ec<>+0(SB), X, T; \
	VSUBPS ec<>+352(SB), T, K; \
	VFNMADD231PS ec<>+32(SB), K, X; \
	VFNMADD231PS ec<>+64(SB), K, X; \
	VMOVUPS ec<>+192(SB), P; \
	VFMADD213PS ec<>+224(SB), X, P; \
	VFMADD213PS ec<>+256(SB), X, P; \
	VFMADD213PS ec<>+288(SB), X, P; \
	VFMADD213PS ec<>+320(SB), X, P; \
	VFMADD213PS Y13, X, P; \
	VFMADD213PS Y13, X, P; \
	VPSUBD ec<>+352(SB), T, K; \
	VPSRAD $1, K, T; \
	VPSUBD T, K, K; \
	VPADDD Y12, T, T; \
	VPADDD Y12, K, K; \
	VPSLLD $23, T, T; \
	VPSLLD $23, K, K; \
	VMULPS T, P, P; \
	VMULPS K, P, X

#define HSUM256(Y, X, TX) \
	VEXTRACTF128 $1, Y, TX; \
	VADDPS TX, X, X; \
	VPERMILPS $0x4e, X, TX; \
	VADDPS TX, X, X; \
	VPERMILPS $0xb1, X, TX; \
	VADDPS TX, X, X

#define HMAX256(Y, X, TX) \
	VEXTRACTF128 $1, Y, TX; \
	VMAXPS TX, X, X; \
	VPERMILPS $0x4e, X, TX; \
	VMAXPS TX, X, X; \
	VPERMILPS $0xb1, X, TX; \
	VMAXPS TX, X, X

// func expAVX2(dst, src *float32, n int)
TEXT ·expAVX2(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), BX
	LOADC256
	TAILMASK256(BX, Y11)
	MOVQ CX, R8               // tail count
	SHRQ $3, BX

exp2:
	CMPQ BX, $2
	JLT  exp1
	VMOVUPS (SI), Y0
	VMOVUPS 32(SI), Y4
	EXP256(Y0, Y1, Y2, Y3)
	EXP256(Y4, Y5, Y6, Y7)
	VMOVUPS Y0, (DI)
	VMOVUPS Y4, 32(DI)
	ADDQ $64, SI
	ADDQ $64, DI
	SUBQ $2, BX
	JMP  exp2

exp1:
	TESTQ BX, BX
	JEQ   exptail
	VMOVUPS (SI), Y0
	EXP256(Y0, Y1, Y2, Y3)
	VMOVUPS Y0, (DI)
	ADDQ $32, SI
	ADDQ $32, DI

exptail:
	TESTQ R8, R8
	JEQ   expdone
	VMASKMOVPS (SI), Y11, Y0
	EXP256(Y0, Y1, Y2, Y3)
	VMASKMOVPS Y0, Y11, (DI)

expdone:
	VZEROUPPER
	RET

// func softmaxAVX2(x *float32, ld int, bias *float32, ldb, rows, n int)
//
// As softmaxAVX512 with 8 lanes: rows of n ≥ 8 cover their last n mod 8
// elements with one full vector ending at the row end, shorter rows use
// VMASKMOVPS. The exp of that last vector is kept at 0(SP) during the loop.
//
// Registers: Y10 -max (-Inf in pass 1), Y11 the mask of the first t = n mod 8
// lanes, R13 the byte offset of the last vector, R11 the address of its lane
// rotation, R14 the tail mode (0 none, 1 overlapping vector, 2 masked).
TEXT ·softmaxAVX2(SB), NOSPLIT, $32-48
	MOVQ x+0(FP), DI
	MOVQ ld+8(FP), R8
	SHLQ $2, R8
	MOVQ bias+16(FP), SI
	MOVQ ldb+24(FP), R9
	SHLQ $2, R9
	MOVQ rows+32(FP), R10
	MOVQ n+40(FP), R12
	TAILMASK256(R12, Y11)
	XORQ  R14, R14
	TESTQ CX, CX
	JEQ   smsetup
	MOVQ  $2, R14
	CMPQ  R12, $8
	JLT   smsetup
	MOVQ  $1, R14
	MOVQ  R12, R13
	SHLQ  $2, R13
	SUBQ  $32, R13
	MOVQ  $8, AX
	SUBQ  CX, AX
	LEAQ  rot<>(SB), R11
	LEAQ  (R11)(AX*4), R11    // lanes (i+8-t) mod 8

smsetup:
	SHRQ $3, R12              // full vectors per row
	LOADC256

smrow:
	// Pass 1: (x += bias,) row maximum.
	VMOVUPS ec<>+416(SB), Y10 // -Inf
	VMOVAPS Y10, Y0
	VMOVAPS Y10, Y1
	VMOVAPS Y10, Y2
	VMOVAPS Y10, Y3
	MOVQ DI, AX
	MOVQ R12, CX
	TESTQ SI, SI
	JNE   smbias

smmax4:
	CMPQ CX, $4
	JLT  smmax1
	VMAXPS (AX), Y0, Y0
	VMAXPS 32(AX), Y1, Y1
	VMAXPS 64(AX), Y2, Y2
	VMAXPS 96(AX), Y3, Y3
	ADDQ $128, AX
	SUBQ $4, CX
	JMP  smmax4

smmax1:
	TESTQ CX, CX
	JEQ   smmaxt
	VMAXPS (AX), Y0, Y0
	ADDQ $32, AX
	DECQ CX
	JMP  smmax1

smmaxt:
	CMPQ R14, $1
	JLT  smmaxdone
	JGT  smmaxm
	VMAXPS (DI)(R13*1), Y0, Y0
	JMP  smmaxdone

smmaxm:
	VMASKMOVPS (AX), Y11, Y4
	VBLENDVPS Y11, Y4, Y10, Y4
	VMAXPS Y4, Y0, Y0
	JMP    smmaxdone

smbias:
	MOVQ SI, BX
	CMPQ R14, $1
	JNE  smbias1
	VMOVUPS (DI)(R13*1), Y5
	VADDPS  (SI)(R13*1), Y5, Y5

smbias1:
	TESTQ CX, CX
	JEQ   smbiast
	VMOVUPS (AX), Y4
	VADDPS  (BX), Y4, Y4
	VMOVUPS Y4, (AX)
	VMAXPS  Y4, Y0, Y0
	ADDQ $32, AX
	ADDQ $32, BX
	DECQ CX
	JMP  smbias1

smbiast:
	CMPQ R14, $1
	JLT  smmaxdone
	JGT  smbiasm
	VMOVUPS Y5, (DI)(R13*1)
	VMAXPS  Y5, Y0, Y0
	JMP     smmaxdone

smbiasm:
	VMASKMOVPS (AX), Y11, Y4
	VMASKMOVPS (BX), Y11, Y5
	VADDPS Y5, Y4, Y4
	VMASKMOVPS Y4, Y11, (AX)
	VBLENDVPS Y11, Y4, Y10, Y4
	VMAXPS Y4, Y0, Y0

smmaxdone:
	VMAXPS Y1, Y0, Y0
	VMAXPS Y3, Y2, Y2
	VMAXPS Y2, Y0, Y0
	HMAX256(Y0, X0, X1)
	VBROADCASTSS X0, Y0
	VXORPS Y10, Y10, Y10
	VSUBPS Y0, Y10, Y10       // Y10 = -max

	// Pass 2: x = e^(x - max), summed. The last vector first, into 0(SP).
	VXORPS Y8, Y8, Y8
	VXORPS Y9, Y9, Y9
	MOVQ DI, AX
	MOVQ R12, CX
	CMPQ R14, $1
	JNE  smexp2
	VADDPS (DI)(R13*1), Y10, Y0
	EXP256(Y0, Y1, Y2, Y3)
	VMOVUPS Y0, 0(SP)

smexp2:
	CMPQ CX, $2
	JLT  smexp1
	VADDPS (AX), Y10, Y0
	VADDPS 32(AX), Y10, Y4
	EXP256(Y0, Y1, Y2, Y3)
	EXP256(Y4, Y5, Y6, Y7)
	VMOVUPS Y0, (AX)
	VMOVUPS Y4, 32(AX)
	VADDPS Y0, Y8, Y8
	VADDPS Y4, Y9, Y9
	ADDQ $64, AX
	SUBQ $2, CX
	JMP  smexp2

smexp1:
	// A single vector goes to Y8, which then swaps with Y9.
	TESTQ CX, CX
	JEQ   smexpt
	VADDPS (AX), Y10, Y0
	EXP256(Y0, Y1, Y2, Y3)
	VMOVUPS Y0, (AX)
	VADDPS Y0, Y8, Y0
	VMOVAPS Y9, Y8
	VMOVAPS Y0, Y9
	ADDQ $32, AX

smexpt:
	CMPQ R14, $1
	JLT  smsum
	JGT  smexpm
	VMOVUPS 0(SP), Y0
	VMOVUPS Y0, (DI)(R13*1)
	VMOVDQU (R11), Y1
	VPERMPS Y0, Y1, Y0        // the last t elements to lanes 0..t-1
	VANDPS Y11, Y0, Y0
	VADDPS Y0, Y8, Y8
	JMP    smsum

smexpm:
	VMASKMOVPS (AX), Y11, Y0
	VADDPS Y10, Y0, Y0
	EXP256(Y0, Y1, Y2, Y3)
	VANDPS Y11, Y0, Y0
	VMASKMOVPS Y0, Y11, (AX)
	VADDPS Y0, Y8, Y8

smsum:
	VADDPS Y9, Y8, Y0
	HSUM256(Y0, X0, X1)
	VBROADCASTSS X0, Y0
	VDIVPS Y0, Y13, Y0        // 1/sum

	// Pass 3: scale.
	MOVQ DI, AX
	MOVQ R12, CX
	CMPQ R14, $1
	JNE  smmul4
	VMULPS (DI)(R13*1), Y0, Y5

smmul4:
	CMPQ CX, $4
	JLT  smmul1
	VMULPS (AX), Y0, Y1
	VMULPS 32(AX), Y0, Y2
	VMULPS 64(AX), Y0, Y3
	VMULPS 96(AX), Y0, Y4
	VMOVUPS Y1, (AX)
	VMOVUPS Y2, 32(AX)
	VMOVUPS Y3, 64(AX)
	VMOVUPS Y4, 96(AX)
	ADDQ $128, AX
	SUBQ $4, CX
	JMP  smmul4

smmul1:
	TESTQ CX, CX
	JEQ   smmult
	VMULPS (AX), Y0, Y1
	VMOVUPS Y1, (AX)
	ADDQ $32, AX
	DECQ CX
	JMP  smmul1

smmult:
	CMPQ R14, $1
	JLT  smrowdone
	JGT  smmulm
	VMOVUPS Y5, (DI)(R13*1)
	JMP     smrowdone

smmulm:
	VMASKMOVPS (AX), Y11, Y1
	VMULPS Y0, Y1, Y1
	VMASKMOVPS Y1, Y11, (AX)

smrowdone:
	ADDQ  R8, DI
	TESTQ SI, SI
	JEQ   smnext
	ADDQ  R9, SI

smnext:
	DECQ R10
	JNE  smrow
	VZEROUPPER
	RET

// func quickGELUAVX2(x *float32, n int)
TEXT ·quickGELUAVX2(SB), NOSPLIT, $0-16
	MOVQ x+0(FP), DI
	MOVQ n+8(FP), BX
	LOADC256
	VMOVUPS ec<>+384(SB), Y9  // -1.702
	TAILMASK256(BX, Y11)
	MOVQ CX, R8
	SHRQ $3, BX

gelu2:
	CMPQ BX, $2
	JLT  gelu1
	VMOVUPS (DI), Y0
	VMOVUPS 32(DI), Y5
	VMULPS Y9, Y0, Y1
	VMULPS Y9, Y5, Y6
	EXP256(Y1, Y2, Y3, Y4)
	EXP256(Y6, Y7, Y8, Y10)
	VADDPS Y13, Y1, Y1
	VADDPS Y13, Y6, Y6
	VDIVPS Y1, Y0, Y0
	VDIVPS Y6, Y5, Y5
	VMOVUPS Y0, (DI)
	VMOVUPS Y5, 32(DI)
	ADDQ $64, DI
	SUBQ $2, BX
	JMP  gelu2

gelu1:
	TESTQ BX, BX
	JEQ   gelut
	VMOVUPS (DI), Y0
	VMULPS Y9, Y0, Y1
	EXP256(Y1, Y2, Y3, Y4)
	VADDPS Y13, Y1, Y1
	VDIVPS Y1, Y0, Y0
	VMOVUPS Y0, (DI)
	ADDQ $32, DI

gelut:
	TESTQ R8, R8
	JEQ   geludone
	VMASKMOVPS (DI), Y11, Y0
	VMULPS Y9, Y0, Y1
	EXP256(Y1, Y2, Y3, Y4)
	VADDPS Y13, Y1, Y1
	VDIVPS Y1, Y0, Y0
	VMASKMOVPS Y0, Y11, (DI)

geludone:
	VZEROUPPER
	RET

// func layerNormAVX2(out, x *float32, rows, d int, w, b *float32, eps float64)
//
// As layerNormAVX512, with 32 float32 lanes per sum.
TEXT ·layerNormAVX2(SB), NOSPLIT, $0-56
	MOVQ out+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ rows+16(FP), R10
	MOVQ d+24(FP), R11
	MOVQ w+32(FP), R8
	MOVQ b+40(FP), R9
	VMOVSD eps+48(FP), X14
	MOVQ $0x3ff0000000000000, AX
	VMOVQ AX, X12             // 1.0 (float64)
	VCVTSI2SDQ R11, X15, X15
	VDIVSD X15, X12, X15      // 1/d (float64)
	VCVTSD2SS X15, X13, X13   // 1/d (float32)
	TAILMASK256(R11, Y11)
	MOVQ CX, R14              // tail count
	MOVQ R11, R12
	SHRQ $3, R12              // full vectors per row
	SHLQ $2, R11              // row bytes

lnrow:
	// Pass 1: sum.
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	MOVQ SI, AX
	MOVQ R12, CX

lnsum4:
	CMPQ CX, $4
	JLT  lnsum1
	VADDPS (AX), Y0, Y0
	VADDPS 32(AX), Y1, Y1
	VADDPS 64(AX), Y2, Y2
	VADDPS 96(AX), Y3, Y3
	ADDQ $128, AX
	SUBQ $4, CX
	JMP  lnsum4

lnsum1:
	TESTQ CX, CX
	JEQ   lnsumt
	VADDPS (AX), Y0, Y0
	ADDQ $32, AX
	DECQ CX
	JMP  lnsum1

lnsumt:
	TESTQ R14, R14
	JEQ   lnsumr
	VMASKMOVPS (AX), Y11, Y4
	VADDPS Y4, Y0, Y0

lnsumr:
	VADDPS Y1, Y0, Y0
	VADDPS Y3, Y2, Y2
	VADDPS Y2, Y0, Y0
	HSUM256(Y0, X0, X1)
	VMULSS X13, X0, X4        // m = sum/d (float32)
	VBROADCASTSS X4, Y5
	VXORPS Y6, Y6, Y6
	VSUBPS Y5, Y6, Y5         // -m

	// Pass 2: deviations (x + -m = x - m).
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y7, Y7, Y7
	VXORPS Y8, Y8, Y8
	VXORPS Y9, Y9, Y9
	VXORPS Y10, Y10, Y10
	MOVQ SI, AX
	MOVQ R12, CX

lndev4:
	CMPQ CX, $4
	JLT  lndev1
	VADDPS (AX), Y5, Y6
	VADDPS Y6, Y0, Y0
	VFMADD231PS Y6, Y6, Y7
	VADDPS 32(AX), Y5, Y6
	VADDPS Y6, Y1, Y1
	VFMADD231PS Y6, Y6, Y8
	VADDPS 64(AX), Y5, Y6
	VADDPS Y6, Y2, Y2
	VFMADD231PS Y6, Y6, Y9
	VADDPS 96(AX), Y5, Y6
	VADDPS Y6, Y3, Y3
	VFMADD231PS Y6, Y6, Y10
	ADDQ $128, AX
	SUBQ $4, CX
	JMP  lndev4

lndev1:
	TESTQ CX, CX
	JEQ   lndevt
	VADDPS (AX), Y5, Y6
	VADDPS Y6, Y0, Y0
	VFMADD231PS Y6, Y6, Y7
	ADDQ $32, AX
	DECQ CX
	JMP  lndev1

lndevt:
	TESTQ R14, R14
	JEQ   lndevr
	VMASKMOVPS (AX), Y11, Y6
	VADDPS Y5, Y6, Y6
	VANDPS Y11, Y6, Y6
	VADDPS Y6, Y0, Y0
	VFMADD231PS Y6, Y6, Y7

lndevr:
	VADDPS Y1, Y0, Y0
	VADDPS Y3, Y2, Y2
	VADDPS Y2, Y0, Y0
	VADDPS Y8, Y7, Y7
	VADDPS Y10, Y9, Y9
	VADDPS Y9, Y7, Y2
	HSUM256(Y0, X0, X1)
	HSUM256(Y2, X2, X3)
	VCVTSS2SD X0, X0, X0      // sum(x-m)
	VCVTSS2SD X2, X2, X2      // sum((x-m)²)
	VCVTSS2SD X4, X4, X5      // m
	VMULSD X15, X0, X0        // mean correction
	VADDSD X0, X5, X5         // mean
	VMULSD X15, X2, X2
	VMULSD X0, X0, X0
	VSUBSD X0, X2, X2         // variance
	VXORPD X6, X6, X6
	VMAXSD X6, X2, X2         // not below 0 from rounding
	VADDSD X14, X2, X2
	VSQRTSD X2, X2, X2
	VDIVSD X2, X12, X6        // 1/sqrt(var+eps)
	VCVTSD2SS X5, X5, X5
	VCVTSD2SS X6, X6, X6
	VBROADCASTSS X5, Y5
	VBROADCASTSS X6, Y6

	// Pass 3: out = ((x-mean)·inv)·w + b.
	MOVQ SI, AX
	MOVQ DI, DX
	MOVQ R8, BX
	MOVQ R9, R13
	MOVQ R12, CX

lnout2:
	CMPQ CX, $2
	JLT  lnout1
	VMOVUPS (AX), Y0
	VMOVUPS 32(AX), Y1
	VSUBPS Y5, Y0, Y0
	VSUBPS Y5, Y1, Y1
	VMULPS Y6, Y0, Y0
	VMULPS Y6, Y1, Y1
	VMULPS (BX), Y0, Y0
	VMULPS 32(BX), Y1, Y1
	VADDPS (R13), Y0, Y0
	VADDPS 32(R13), Y1, Y1
	VMOVUPS Y0, (DX)
	VMOVUPS Y1, 32(DX)
	ADDQ $64, AX
	ADDQ $64, DX
	ADDQ $64, BX
	ADDQ $64, R13
	SUBQ $2, CX
	JMP  lnout2

lnout1:
	TESTQ CX, CX
	JEQ   lnoutt
	VMOVUPS (AX), Y0
	VSUBPS Y5, Y0, Y0
	VMULPS Y6, Y0, Y0
	VMULPS (BX), Y0, Y0
	VADDPS (R13), Y0, Y0
	VMOVUPS Y0, (DX)
	ADDQ $32, AX
	ADDQ $32, DX
	ADDQ $32, BX
	ADDQ $32, R13

lnoutt:
	TESTQ R14, R14
	JEQ   lnnext
	VMASKMOVPS (AX), Y11, Y0
	VMASKMOVPS (BX), Y11, Y3
	VMASKMOVPS (R13), Y11, Y2
	VSUBPS Y5, Y0, Y0
	VMULPS Y6, Y0, Y0
	VMULPS Y3, Y0, Y0
	VADDPS Y2, Y0, Y0
	VMASKMOVPS Y0, Y11, (DX)

lnnext:
	ADDQ R11, SI
	ADDQ R11, DI
	DECQ R10
	JNE  lnrow
	VZEROUPPER
	RET

// func addAVX2(dst, src *float32, n int)
TEXT ·addAVX2(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), BX
	TAILMASK256(BX, Y11)
	MOVQ CX, R8
	SHRQ $3, BX

add4:
	CMPQ BX, $4
	JLT  add1
	VMOVUPS (DI), Y0
	VMOVUPS 32(DI), Y1
	VMOVUPS 64(DI), Y2
	VMOVUPS 96(DI), Y3
	VADDPS (SI), Y0, Y0
	VADDPS 32(SI), Y1, Y1
	VADDPS 64(SI), Y2, Y2
	VADDPS 96(SI), Y3, Y3
	VMOVUPS Y0, (DI)
	VMOVUPS Y1, 32(DI)
	VMOVUPS Y2, 64(DI)
	VMOVUPS Y3, 96(DI)
	ADDQ $128, SI
	ADDQ $128, DI
	SUBQ $4, BX
	JMP  add4

add1:
	TESTQ BX, BX
	JEQ   addt
	VMOVUPS (DI), Y0
	VADDPS (SI), Y0, Y0
	VMOVUPS Y0, (DI)
	ADDQ $32, SI
	ADDQ $32, DI
	DECQ BX
	JMP  add1

addt:
	TESTQ R8, R8
	JEQ   adddone
	VMASKMOVPS (DI), Y11, Y0
	VMASKMOVPS (SI), Y11, Y1
	VADDPS Y1, Y0, Y0
	VMASKMOVPS Y0, Y11, (DI)

adddone:
	VZEROUPPER
	RET

// func scaleAVX2(x *float32, n int, s float32)
TEXT ·scaleAVX2(SB), NOSPLIT, $0-20
	MOVQ x+0(FP), DI
	MOVQ n+8(FP), BX
	VBROADCASTSS s+16(FP), Y4
	TAILMASK256(BX, Y11)
	MOVQ CX, R8
	SHRQ $3, BX

scale4:
	CMPQ BX, $4
	JLT  scale1
	VMULPS (DI), Y4, Y0
	VMULPS 32(DI), Y4, Y1
	VMULPS 64(DI), Y4, Y2
	VMULPS 96(DI), Y4, Y3
	VMOVUPS Y0, (DI)
	VMOVUPS Y1, 32(DI)
	VMOVUPS Y2, 64(DI)
	VMOVUPS Y3, 96(DI)
	ADDQ $128, DI
	SUBQ $4, BX
	JMP  scale4

scale1:
	TESTQ BX, BX
	JEQ   scalet
	VMULPS (DI), Y4, Y0
	VMOVUPS Y0, (DI)
	ADDQ $32, DI
	DECQ BX
	JMP  scale1

scalet:
	TESTQ R8, R8
	JEQ   scaledone
	VMASKMOVPS (DI), Y11, Y0
	VMULPS Y4, Y0, Y0
	VMASKMOVPS Y0, Y11, (DI)

scaledone:
	VZEROUPPER
	RET
