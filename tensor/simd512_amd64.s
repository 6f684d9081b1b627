//go:build amd64 && !purego

#include "textflag.h"

// AVX-512 element-wise kernels. The Go wrappers in ops.go check all lengths;
// n, rows and d are at least 1 here. Tails shorter than 16 use k-masked
// loads and stores, which neither read nor write the masked-out elements.
//
// Register conventions for the exp (see generic.go for the method):
//	Z31 log2(e)  Z30 ln2 high  Z29 ln2 low  Z28 upper clamp  Z27 lower clamp
//	Z26 1.0      Z25..Z21 polynomial Q4..Q0  Z20 1.5·2²³

// Constants, each repeated 8 times (32 bytes) so the AVX2 kernels can use
// them as memory operands; byte offsets below.
//   0: log2e
DATA expc<>+0(SB)/4, $0x3fb8aa3b
DATA expc<>+4(SB)/4, $0x3fb8aa3b
DATA expc<>+8(SB)/4, $0x3fb8aa3b
DATA expc<>+12(SB)/4, $0x3fb8aa3b
DATA expc<>+16(SB)/4, $0x3fb8aa3b
DATA expc<>+20(SB)/4, $0x3fb8aa3b
DATA expc<>+24(SB)/4, $0x3fb8aa3b
DATA expc<>+28(SB)/4, $0x3fb8aa3b
//  32: ln2hi
DATA expc<>+32(SB)/4, $0x3f318000
DATA expc<>+36(SB)/4, $0x3f318000
DATA expc<>+40(SB)/4, $0x3f318000
DATA expc<>+44(SB)/4, $0x3f318000
DATA expc<>+48(SB)/4, $0x3f318000
DATA expc<>+52(SB)/4, $0x3f318000
DATA expc<>+56(SB)/4, $0x3f318000
DATA expc<>+60(SB)/4, $0x3f318000
//  64: ln2lo
DATA expc<>+64(SB)/4, $0xb95e8083
DATA expc<>+68(SB)/4, $0xb95e8083
DATA expc<>+72(SB)/4, $0xb95e8083
DATA expc<>+76(SB)/4, $0xb95e8083
DATA expc<>+80(SB)/4, $0xb95e8083
DATA expc<>+84(SB)/4, $0xb95e8083
DATA expc<>+88(SB)/4, $0xb95e8083
DATA expc<>+92(SB)/4, $0xb95e8083
//  96: hi
DATA expc<>+96(SB)/4, $0x42b18000
DATA expc<>+100(SB)/4, $0x42b18000
DATA expc<>+104(SB)/4, $0x42b18000
DATA expc<>+108(SB)/4, $0x42b18000
DATA expc<>+112(SB)/4, $0x42b18000
DATA expc<>+116(SB)/4, $0x42b18000
DATA expc<>+120(SB)/4, $0x42b18000
DATA expc<>+124(SB)/4, $0x42b18000
// 128: lo
DATA expc<>+128(SB)/4, $0xc2d00000
DATA expc<>+132(SB)/4, $0xc2d00000
DATA expc<>+136(SB)/4, $0xc2d00000
DATA expc<>+140(SB)/4, $0xc2d00000
DATA expc<>+144(SB)/4, $0xc2d00000
DATA expc<>+148(SB)/4, $0xc2d00000
DATA expc<>+152(SB)/4, $0xc2d00000
DATA expc<>+156(SB)/4, $0xc2d00000
// 160: one
DATA expc<>+160(SB)/4, $0x3f800000
DATA expc<>+164(SB)/4, $0x3f800000
DATA expc<>+168(SB)/4, $0x3f800000
DATA expc<>+172(SB)/4, $0x3f800000
DATA expc<>+176(SB)/4, $0x3f800000
DATA expc<>+180(SB)/4, $0x3f800000
DATA expc<>+184(SB)/4, $0x3f800000
DATA expc<>+188(SB)/4, $0x3f800000
// 192: q4
DATA expc<>+192(SB)/4, $0x3ab51220
DATA expc<>+196(SB)/4, $0x3ab51220
DATA expc<>+200(SB)/4, $0x3ab51220
DATA expc<>+204(SB)/4, $0x3ab51220
DATA expc<>+208(SB)/4, $0x3ab51220
DATA expc<>+212(SB)/4, $0x3ab51220
DATA expc<>+216(SB)/4, $0x3ab51220
DATA expc<>+220(SB)/4, $0x3ab51220
// 224: q3
DATA expc<>+224(SB)/4, $0x3c091ceb
DATA expc<>+228(SB)/4, $0x3c091ceb
DATA expc<>+232(SB)/4, $0x3c091ceb
DATA expc<>+236(SB)/4, $0x3c091ceb
DATA expc<>+240(SB)/4, $0x3c091ceb
DATA expc<>+244(SB)/4, $0x3c091ceb
DATA expc<>+248(SB)/4, $0x3c091ceb
DATA expc<>+252(SB)/4, $0x3c091ceb
// 256: q2
DATA expc<>+256(SB)/4, $0x3d2aac79
DATA expc<>+260(SB)/4, $0x3d2aac79
DATA expc<>+264(SB)/4, $0x3d2aac79
DATA expc<>+268(SB)/4, $0x3d2aac79
DATA expc<>+272(SB)/4, $0x3d2aac79
DATA expc<>+276(SB)/4, $0x3d2aac79
DATA expc<>+280(SB)/4, $0x3d2aac79
DATA expc<>+284(SB)/4, $0x3d2aac79
// 288: q1
DATA expc<>+288(SB)/4, $0x3e2aaa49
DATA expc<>+292(SB)/4, $0x3e2aaa49
DATA expc<>+296(SB)/4, $0x3e2aaa49
DATA expc<>+300(SB)/4, $0x3e2aaa49
DATA expc<>+304(SB)/4, $0x3e2aaa49
DATA expc<>+308(SB)/4, $0x3e2aaa49
DATA expc<>+312(SB)/4, $0x3e2aaa49
DATA expc<>+316(SB)/4, $0x3e2aaa49
// 320: q0
DATA expc<>+320(SB)/4, $0x3efffffe
DATA expc<>+324(SB)/4, $0x3efffffe
DATA expc<>+328(SB)/4, $0x3efffffe
DATA expc<>+332(SB)/4, $0x3efffffe
DATA expc<>+336(SB)/4, $0x3efffffe
DATA expc<>+340(SB)/4, $0x3efffffe
DATA expc<>+344(SB)/4, $0x3efffffe
DATA expc<>+348(SB)/4, $0x3efffffe
// 352: round
DATA expc<>+352(SB)/4, $0x4b400000
DATA expc<>+356(SB)/4, $0x4b400000
DATA expc<>+360(SB)/4, $0x4b400000
DATA expc<>+364(SB)/4, $0x4b400000
DATA expc<>+368(SB)/4, $0x4b400000
DATA expc<>+372(SB)/4, $0x4b400000
DATA expc<>+376(SB)/4, $0x4b400000
DATA expc<>+380(SB)/4, $0x4b400000
// 384: ngelu
DATA expc<>+384(SB)/4, $0xbfd9db23
DATA expc<>+388(SB)/4, $0xbfd9db23
DATA expc<>+392(SB)/4, $0xbfd9db23
DATA expc<>+396(SB)/4, $0xbfd9db23
DATA expc<>+400(SB)/4, $0xbfd9db23
DATA expc<>+404(SB)/4, $0xbfd9db23
DATA expc<>+408(SB)/4, $0xbfd9db23
DATA expc<>+412(SB)/4, $0xbfd9db23
// 416: ninf
DATA expc<>+416(SB)/4, $0xff800000
DATA expc<>+420(SB)/4, $0xff800000
DATA expc<>+424(SB)/4, $0xff800000
DATA expc<>+428(SB)/4, $0xff800000
DATA expc<>+432(SB)/4, $0xff800000
DATA expc<>+436(SB)/4, $0xff800000
DATA expc<>+440(SB)/4, $0xff800000
DATA expc<>+444(SB)/4, $0xff800000
// 448: i127
DATA expc<>+448(SB)/4, $0x0000007f
DATA expc<>+452(SB)/4, $0x0000007f
DATA expc<>+456(SB)/4, $0x0000007f
DATA expc<>+460(SB)/4, $0x0000007f
DATA expc<>+464(SB)/4, $0x0000007f
DATA expc<>+468(SB)/4, $0x0000007f
DATA expc<>+472(SB)/4, $0x0000007f
DATA expc<>+476(SB)/4, $0x0000007f
GLOBL expc<>(SB), RODATA|NOPTR, $480

#define LOADC512 \
	VBROADCASTSS expc<>+0(SB), Z31; \
	VBROADCASTSS expc<>+32(SB), Z30; \
	VBROADCASTSS expc<>+64(SB), Z29; \
	VBROADCASTSS expc<>+96(SB), Z28; \
	VBROADCASTSS expc<>+128(SB), Z27; \
	VBROADCASTSS expc<>+160(SB), Z26; \
	VBROADCASTSS expc<>+192(SB), Z25; \
	VBROADCASTSS expc<>+224(SB), Z24; \
	VBROADCASTSS expc<>+256(SB), Z23; \
	VBROADCASTSS expc<>+288(SB), Z22; \
	VBROADCASTSS expc<>+320(SB), Z21; \
	VBROADCASTSS expc<>+352(SB), Z20

// EXP512LO sets X = e^X (16 lanes) for X ≤ 88.72 or NaN, using K and P as
// scratch. The lower clamp keeps NaN (it is the second source of VMAXPS).
// k = round(X·log2e) comes from adding 1.5·2²³ in the FMA; VSCALEFPS scales
// by 2^k with a single rounding, so subnormal results come out right.
#define EXP512LO(X, K, P) \
	VMAXPS X, Z27, X; \
	VMOVAPS X, K; \
	VFMADD213PS Z20, Z31, K; \
	VSUBPS Z20, K, K; \
	VFNMADD231PS Z30, K, X; \
	VFNMADD231PS Z29, K, X; \
	VMOVAPS Z25, P; \
	VFMADD213PS Z24, X, P; \
	VFMADD213PS Z23, X, P; \
	VFMADD213PS Z22, X, P; \
	VFMADD213PS Z21, X, P; \
	VFMADD213PS Z26, X, P; \
	VFMADD213PS Z26, X, P; \
	VSCALEFPS K, P, X

// EXP512 is EXP512LO for any X: above the upper clamp the result
// overflows to +Inf.
#define EXP512(X, K, P) \
	VMINPS X, Z28, X; \
	EXP512LO(X, K, P)

// HSUM512 leaves the sum of the 16 lanes of Z in lane 0 of X (the xmm view
// of Z); T is scratch.
#define HSUM512(Z, Y, X, TZ, TY, TX) \
	VEXTRACTF64X4 $1, Z, TY; \
	VADDPS TY, Y, Y; \
	VEXTRACTF128 $1, Y, TX; \
	VADDPS TX, X, X; \
	VPERMILPS $0x4e, X, TX; \
	VADDPS TX, X, X; \
	VPERMILPS $0xb1, X, TX; \
	VADDPS TX, X, X

#define HMAX512(Z, Y, X, TZ, TY, TX) \
	VEXTRACTF64X4 $1, Z, TY; \
	VMAXPS TY, Y, Y; \
	VEXTRACTF128 $1, Y, TX; \
	VMAXPS TX, X, X; \
	VPERMILPS $0x4e, X, TX; \
	VMAXPS TX, X, X; \
	VPERMILPS $0xb1, X, TX; \
	VMAXPS TX, X, X

// TAILMASK sets K1 to the low (R & 15) bits; clobbers CX and AX.
#define TAILMASK(R) \
	MOVQ R, CX; \
	ANDQ $15, CX; \
	MOVL $1, AX; \
	SHLL CX, AX; \
	DECL AX; \
	KMOVW AX, K1

// func expAVX512(dst, src *float32, n int)
TEXT ·expAVX512(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), DX
	LOADC512
	TAILMASK(DX)
	SHRQ $4, DX

exp4:
	CMPQ DX, $4
	JLT  exp1
	VMOVUPS (SI), Z0
	VMOVUPS 64(SI), Z3
	VMOVUPS 128(SI), Z6
	VMOVUPS 192(SI), Z9
	EXP512(Z0, Z1, Z2)
	EXP512(Z3, Z4, Z5)
	EXP512(Z6, Z7, Z8)
	EXP512(Z9, Z10, Z11)
	VMOVUPS Z0, (DI)
	VMOVUPS Z3, 64(DI)
	VMOVUPS Z6, 128(DI)
	VMOVUPS Z9, 192(DI)
	ADDQ $256, SI
	ADDQ $256, DI
	SUBQ $4, DX
	JMP  exp4

exp1:
	TESTQ DX, DX
	JEQ   exptail
	VMOVUPS (SI), Z0
	EXP512(Z0, Z1, Z2)
	VMOVUPS Z0, (DI)
	ADDQ $64, SI
	ADDQ $64, DI
	DECQ DX
	JMP  exp1

exptail:
	KTESTW K1, K1
	JEQ    expdone
	VMOVUPS.Z (SI), K1, Z0
	EXP512(Z0, Z1, Z2)
	VMOVUPS Z0, K1, (DI)

expdone:
	VZEROUPPER
	RET

// iota<> holds the int32s 0..15.
DATA iota<>+0(SB)/4, $0
DATA iota<>+4(SB)/4, $1
DATA iota<>+8(SB)/4, $2
DATA iota<>+12(SB)/4, $3
DATA iota<>+16(SB)/4, $4
DATA iota<>+20(SB)/4, $5
DATA iota<>+24(SB)/4, $6
DATA iota<>+28(SB)/4, $7
DATA iota<>+32(SB)/4, $8
DATA iota<>+36(SB)/4, $9
DATA iota<>+40(SB)/4, $10
DATA iota<>+44(SB)/4, $11
DATA iota<>+48(SB)/4, $12
DATA iota<>+52(SB)/4, $13
DATA iota<>+56(SB)/4, $14
DATA iota<>+60(SB)/4, $15
GLOBL iota<>(SB), RODATA|NOPTR, $64

// func softmaxAVX512(x *float32, ld int, bias *float32, ldb, rows, n int)
//
// Three passes per row: (x += bias and) maximum; x = e^(x-max) with the sum;
// x *= 1/sum. Rows of n ≥ 16 cover their last n mod 16 elements with one
// full vector ending at the row end, loaded before the loop that rewrites
// part of it, so both stores to the overlap write the same value. Masked
// stores are kept to rows shorter than 16: a load of the same 64 bytes (the
// next row) cannot take its data from a masked store and waits for it to
// retire, which serialises the rows. Vector i of a row is summed into Z16
// when i is even, Z17 when odd, and the last elements into lanes 0..t-1 as
// if loaded from position 16·(n/16), so the sum does not depend on n beyond
// the last nonzero entry.
//
// The passes are software-pipelined across rows: pass 1 of the next row
// runs between passes 2 and 3 of the current one, so that the reductions'
// latencies overlap independent work instead of filling the scheduler with
// waiting instructions. Rows must therefore not overlap (ld ≥ n).
//
// Registers: DI/SI the row (and bias row) of passes 2 and 3, R11/DX those of
// pass 1; Z18 -max, Z13 1/sum, Z19 -Inf, Z15 lane rotation for the last
// vector, Z12 the last vector, K1 the low n mod 16 lanes, R13 the byte offset
// of the last vector, R14 the tail mode (0 none, 1 overlapping vector, 2
// masked).
TEXT ·softmaxAVX512(SB), NOSPLIT, $0-48
	MOVQ x+0(FP), DI
	MOVQ ld+8(FP), R8
	SHLQ $2, R8
	MOVQ bias+16(FP), SI
	MOVQ ldb+24(FP), R9
	SHLQ $2, R9
	MOVQ rows+32(FP), R10
	MOVQ n+40(FP), R12
	TAILMASK(R12)
	XORQ  R14, R14
	TESTQ CX, CX
	JEQ   smsetup
	MOVQ  $2, R14
	CMPQ  R12, $16
	JLT   smsetup
	MOVQ  $1, R14
	MOVQ  R12, R13
	SHLQ  $2, R13
	SUBQ  $64, R13
	MOVQ  $16, AX
	SUBQ  CX, AX
	VPBROADCASTD AX, Z15
	VPADDD iota<>(SB), Z15, Z15 // lane i takes lane i+16-t (mod 16)

smsetup:
	SHRQ $4, R12              // full vectors per row
	LOADC512
	VBROADCASTSS expc<>+416(SB), Z19 // -Inf
	MOVQ DI, R11
	MOVQ SI, DX

smpass1:
	// Pass 1 (row R11): (x += bias,) row maximum.
	VMOVAPS Z19, Z0
	VMOVAPS Z19, Z1
	VMOVAPS Z19, Z2
	VMOVAPS Z19, Z3
	MOVQ R11, AX
	MOVQ R12, CX
	TESTQ DX, DX
	JNE   smbias

smmax4:
	CMPQ CX, $4
	JLT  smmax1
	VMAXPS (AX), Z0, Z0
	VMAXPS 64(AX), Z1, Z1
	VMAXPS 128(AX), Z2, Z2
	VMAXPS 192(AX), Z3, Z3
	ADDQ $256, AX
	SUBQ $4, CX
	JMP  smmax4

smmax1:
	TESTQ CX, CX
	JEQ   smmaxt
	VMAXPS (AX), Z0, Z0
	ADDQ $64, AX
	DECQ CX
	JMP  smmax1

smmaxt:
	CMPQ R14, $1
	JLT  smmaxdone
	JGT  smmaxm
	VMAXPS (R11)(R13*1), Z0, Z0
	JMP  smmaxdone

smmaxm:
	VMAXPS (AX), Z0, K1, Z0
	JMP    smmaxdone

smbias:
	MOVQ DX, BX
	CMPQ R14, $1
	JNE  smbias2
	VMOVUPS (R11)(R13*1), Z12
	VADDPS  (DX)(R13*1), Z12, Z12

smbias2:
	CMPQ CX, $2
	JLT  smbias1
	VMOVUPS (AX), Z4
	VMOVUPS 64(AX), Z5
	VADDPS  (BX), Z4, Z4
	VADDPS  64(BX), Z5, Z5
	VMOVUPS Z4, (AX)
	VMOVUPS Z5, 64(AX)
	VMAXPS  Z4, Z0, Z0
	VMAXPS  Z5, Z1, Z1
	ADDQ $128, AX
	ADDQ $128, BX
	SUBQ $2, CX
	JMP  smbias2

smbias1:
	TESTQ CX, CX
	JEQ   smbiast
	VMOVUPS (AX), Z4
	VADDPS  (BX), Z4, Z4
	VMOVUPS Z4, (AX)
	VMAXPS  Z4, Z0, Z0
	ADDQ $64, AX
	ADDQ $64, BX

smbiast:
	CMPQ R14, $1
	JLT  smmaxdone
	JGT  smbiasm
	VMOVUPS Z12, (R11)(R13*1)
	VMAXPS  Z12, Z0, Z0
	JMP     smmaxdone

smbiasm:
	VMOVUPS.Z (AX), K1, Z4
	VADDPS.Z  (BX), Z4, K1, Z4
	VMOVUPS   Z4, K1, (AX)
	VMAXPS    Z4, Z0, K1, Z0

smmaxdone:
	VMAXPS Z1, Z0, Z0
	VMAXPS Z3, Z2, Z2
	VMAXPS Z2, Z0, Z0
	HMAX512(Z0, Y0, X0, Z1, Y1, X1)
	VBROADCASTSS X0, Z0
	VPXORD Z18, Z18, Z18
	VSUBPS Z0, Z18, Z18       // Z18 = -max
	CMPQ   R11, DI
	JNE    smpass3            // ran ahead for the next row: finish this one

smpass2:
	// Pass 2 (row DI): x = e^(x - max), summed. x - max is at most 0 (or
	// NaN).
	VPXORD Z16, Z16, Z16
	VPXORD Z17, Z17, Z17
	MOVQ DI, AX
	MOVQ R12, CX
	CMPQ R14, $1
	JNE  smexp4
	VADDPS (DI)(R13*1), Z18, Z12

smexp4:
	CMPQ CX, $4
	JLT  smexp1
	VADDPS (AX), Z18, Z0
	VADDPS 64(AX), Z18, Z3
	VADDPS 128(AX), Z18, Z6
	VADDPS 192(AX), Z18, Z9
	EXP512LO(Z0, Z1, Z2)
	EXP512LO(Z3, Z4, Z5)
	EXP512LO(Z6, Z7, Z8)
	EXP512LO(Z9, Z10, Z11)
	VMOVUPS Z0, (AX)
	VMOVUPS Z3, 64(AX)
	VMOVUPS Z6, 128(AX)
	VMOVUPS Z9, 192(AX)
	VADDPS Z0, Z16, Z16
	VADDPS Z3, Z17, Z17
	VADDPS Z6, Z16, Z16
	VADDPS Z9, Z17, Z17
	ADDQ $256, AX
	SUBQ $4, CX
	JMP  smexp4

smexp1:
	// Single vectors go to Z16, which then swaps with Z17.
	TESTQ CX, CX
	JEQ   smexpt
	VADDPS (AX), Z18, Z0
	EXP512LO(Z0, Z1, Z2)
	VMOVUPS Z0, (AX)
	VADDPS Z0, Z16, Z0
	VMOVAPS Z17, Z16
	VMOVAPS Z0, Z17
	ADDQ $64, AX
	DECQ CX
	JMP  smexp1

smexpt:
	CMPQ R14, $1
	JLT  smsum
	JGT  smexpm
	EXP512LO(Z12, Z13, Z14)
	VMOVUPS Z12, (DI)(R13*1)
	VPERMPS Z12, Z15, Z12     // the last t elements to lanes 0..t-1
	VADDPS  Z12, Z16, K1, Z16
	JMP     smsum

smexpm:
	VADDPS.Z (AX), Z18, K1, Z0
	EXP512LO(Z0, Z1, Z2)
	VMOVUPS Z0, K1, (AX)
	VADDPS  Z0, Z16, K1, Z16

smsum:
	VADDPS Z17, Z16, Z0
	HSUM512(Z0, Y0, X0, Z1, Y1, X1)
	VBROADCASTSS X0, Z0
	VDIVPS Z0, Z26, Z13       // 1/sum

	// Pass 1 of the next row, if any, while the division completes.
	CMPQ R10, $1
	JEQ  smpass3
	LEAQ (DI)(R8*1), R11
	MOVQ SI, DX
	TESTQ DX, DX
	JEQ   smpass1
	ADDQ  R9, DX
	JMP   smpass1

smpass3:
	// Pass 3 (row DI): scale by Z13.
	MOVQ DI, AX
	MOVQ R12, CX
	CMPQ R14, $1
	JNE  smmul4
	VMULPS (DI)(R13*1), Z13, Z12

smmul4:
	CMPQ CX, $4
	JLT  smmul1
	VMULPS (AX), Z13, Z1
	VMULPS 64(AX), Z13, Z2
	VMULPS 128(AX), Z13, Z3
	VMULPS 192(AX), Z13, Z4
	VMOVUPS Z1, (AX)
	VMOVUPS Z2, 64(AX)
	VMOVUPS Z3, 128(AX)
	VMOVUPS Z4, 192(AX)
	ADDQ $256, AX
	SUBQ $4, CX
	JMP  smmul4

smmul1:
	TESTQ CX, CX
	JEQ   smmult
	VMULPS (AX), Z13, Z1
	VMOVUPS Z1, (AX)
	ADDQ $64, AX
	DECQ CX
	JMP  smmul1

smmult:
	CMPQ R14, $1
	JLT  smrowdone
	JGT  smmulm
	VMOVUPS Z12, (DI)(R13*1)
	JMP     smrowdone

smmulm:
	VMULPS.Z (AX), Z13, K1, Z1
	VMOVUPS  Z1, K1, (AX)

smrowdone:
	ADDQ  R8, DI
	TESTQ SI, SI
	JEQ   smnext
	ADDQ  R9, SI

smnext:
	DECQ R10
	JNE  smpass2              // its pass 1 is done
	VZEROUPPER
	RET

// func quickGELUAVX512(x *float32, n int)
TEXT ·quickGELUAVX512(SB), NOSPLIT, $0-16
	MOVQ x+0(FP), DI
	MOVQ n+8(FP), DX
	LOADC512
	VBROADCASTSS expc<>+384(SB), Z19 // -1.702
	TAILMASK(DX)
	SHRQ $4, DX

gelu4:
	CMPQ DX, $4
	JLT  gelu1
	VMOVUPS (DI), Z0
	VMOVUPS 64(DI), Z4
	VMOVUPS 128(DI), Z8
	VMOVUPS 192(DI), Z12
	VMULPS Z19, Z0, Z1
	VMULPS Z19, Z4, Z5
	VMULPS Z19, Z8, Z9
	VMULPS Z19, Z12, Z13
	EXP512(Z1, Z2, Z3)
	EXP512(Z5, Z6, Z7)
	EXP512(Z9, Z10, Z11)
	EXP512(Z13, Z14, Z15)
	VADDPS Z26, Z1, Z1
	VADDPS Z26, Z5, Z5
	VADDPS Z26, Z9, Z9
	VADDPS Z26, Z13, Z13
	VDIVPS Z1, Z0, Z0
	VDIVPS Z5, Z4, Z4
	VDIVPS Z9, Z8, Z8
	VDIVPS Z13, Z12, Z12
	VMOVUPS Z0, (DI)
	VMOVUPS Z4, 64(DI)
	VMOVUPS Z8, 128(DI)
	VMOVUPS Z12, 192(DI)
	ADDQ $256, DI
	SUBQ $4, DX
	JMP  gelu4

gelu1:
	TESTQ DX, DX
	JEQ   gelut
	VMOVUPS (DI), Z0
	VMULPS Z19, Z0, Z1
	EXP512(Z1, Z2, Z3)
	VADDPS Z26, Z1, Z1
	VDIVPS Z1, Z0, Z0
	VMOVUPS Z0, (DI)
	ADDQ $64, DI
	DECQ DX
	JMP  gelu1

gelut:
	KTESTW K1, K1
	JEQ    geludone
	VMOVUPS.Z (DI), K1, Z0
	VMULPS Z19, Z0, Z1
	EXP512(Z1, Z2, Z3)
	VADDPS Z26, Z1, Z1
	VDIVPS Z1, Z0, Z0
	VMOVUPS Z0, K1, (DI)

geludone:
	VZEROUPPER
	RET

// func layerNormAVX512(out, x *float32, rows, d int, w, b *float32, eps float64)
//
// Pass 1 sums the row in 64 float32 lanes; m = sum/d. Pass 2 sums the
// deviations x-m and their squares (64 lanes each); in float64, the mean is
// corrected by sum(x-m)/d and the variance is sum((x-m)²)/d - (sum(x-m)/d)².
// Pass 3 writes ((x - mean)·inv)·w + b, rounding as the scalar code does.
TEXT ·layerNormAVX512(SB), NOSPLIT, $0-56
	MOVQ out+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ rows+16(FP), R10
	MOVQ d+24(FP), R11
	MOVQ w+32(FP), R8
	MOVQ b+40(FP), R9
	// X12 1.0, X13 1/d (float32), X14 eps, X15 1/d (float64).
	VMOVSD eps+48(FP), X14
	MOVQ $0x3ff0000000000000, AX
	VMOVQ AX, X12
	VCVTSI2SDQ R11, X15, X15
	VDIVSD X15, X12, X15      // 1/d (float64)
	VCVTSD2SS X15, X13, X13   // 1/d (float32)
	TAILMASK(R11)
	MOVQ R11, R12
	SHRQ $4, R12              // full vectors per row
	SHLQ $2, R11              // row bytes

lnrow:
	// Pass 1: sum.
	VPXORD Z0, Z0, Z0
	VPXORD Z1, Z1, Z1
	VPXORD Z2, Z2, Z2
	VPXORD Z3, Z3, Z3
	MOVQ SI, AX
	MOVQ R12, CX

lnsum4:
	CMPQ CX, $4
	JLT  lnsum1
	VADDPS (AX), Z0, Z0
	VADDPS 64(AX), Z1, Z1
	VADDPS 128(AX), Z2, Z2
	VADDPS 192(AX), Z3, Z3
	ADDQ $256, AX
	SUBQ $4, CX
	JMP  lnsum4

lnsum1:
	TESTQ CX, CX
	JEQ   lnsumt
	VADDPS (AX), Z0, Z0
	ADDQ $64, AX
	DECQ CX
	JMP  lnsum1

lnsumt:
	KTESTW K1, K1
	JEQ    lnsumr
	VADDPS (AX), Z0, K1, Z0

lnsumr:
	VADDPS Z1, Z0, Z0
	VADDPS Z3, Z2, Z2
	VADDPS Z2, Z0, Z0
	HSUM512(Z0, Y0, X0, Z1, Y1, X1)
	VMULSS X13, X0, X4        // m = sum/d (float32)
	VBROADCASTSS X4, Z5
	VPXORD Z6, Z6, Z6
	VSUBPS Z5, Z6, Z5         // -m

	// Pass 2: deviations (x + -m = x - m).
	VPXORD Z0, Z0, Z0
	VPXORD Z1, Z1, Z1
	VPXORD Z2, Z2, Z2
	VPXORD Z3, Z3, Z3
	VPXORD Z8, Z8, Z8
	VPXORD Z9, Z9, Z9
	VPXORD Z10, Z10, Z10
	VPXORD Z11, Z11, Z11
	MOVQ SI, AX
	MOVQ R12, CX

lndev4:
	CMPQ CX, $4
	JLT  lndev1
	VADDPS (AX), Z5, Z6
	VADDPS 64(AX), Z5, Z7
	VADDPS 128(AX), Z5, Z16
	VADDPS 192(AX), Z5, Z17
	VADDPS Z6, Z0, Z0
	VADDPS Z7, Z1, Z1
	VADDPS Z16, Z2, Z2
	VADDPS Z17, Z3, Z3
	VFMADD231PS Z6, Z6, Z8
	VFMADD231PS Z7, Z7, Z9
	VFMADD231PS Z16, Z16, Z10
	VFMADD231PS Z17, Z17, Z11
	ADDQ $256, AX
	SUBQ $4, CX
	JMP  lndev4

lndev1:
	TESTQ CX, CX
	JEQ   lndevt
	VADDPS (AX), Z5, Z6
	VADDPS Z6, Z0, Z0
	VFMADD231PS Z6, Z6, Z8
	ADDQ $64, AX
	DECQ CX
	JMP  lndev1

lndevt:
	KTESTW K1, K1
	JEQ    lndevr
	VADDPS.Z (AX), Z5, K1, Z6
	VADDPS Z6, Z0, Z0
	VFMADD231PS Z6, Z6, Z8

lndevr:
	VADDPS Z1, Z0, Z0
	VADDPS Z3, Z2, Z2
	VADDPS Z2, Z0, Z0
	VADDPS Z9, Z8, Z8
	VADDPS Z11, Z10, Z10
	VADDPS Z10, Z8, Z2
	HSUM512(Z0, Y0, X0, Z1, Y1, X1)
	HSUM512(Z2, Y2, X2, Z3, Y3, X3)
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
	VBROADCASTSS X5, Z5
	VBROADCASTSS X6, Z6

	// Pass 3: out = ((x-mean)·inv)·w + b.
	MOVQ SI, AX
	MOVQ DI, DX
	MOVQ R8, BX
	MOVQ R9, R13
	MOVQ R12, CX

lnout2:
	CMPQ CX, $2
	JLT  lnout1
	VMOVUPS (AX), Z0
	VMOVUPS 64(AX), Z1
	VSUBPS Z5, Z0, Z0
	VSUBPS Z5, Z1, Z1
	VMULPS Z6, Z0, Z0
	VMULPS Z6, Z1, Z1
	VMULPS (BX), Z0, Z0
	VMULPS 64(BX), Z1, Z1
	VADDPS (R13), Z0, Z0
	VADDPS 64(R13), Z1, Z1
	VMOVUPS Z0, (DX)
	VMOVUPS Z1, 64(DX)
	ADDQ $128, AX
	ADDQ $128, DX
	ADDQ $128, BX
	ADDQ $128, R13
	SUBQ $2, CX
	JMP  lnout2

lnout1:
	TESTQ CX, CX
	JEQ   lnoutt
	VMOVUPS (AX), Z0
	VSUBPS Z5, Z0, Z0
	VMULPS Z6, Z0, Z0
	VMULPS (BX), Z0, Z0
	VADDPS (R13), Z0, Z0
	VMOVUPS Z0, (DX)
	ADDQ $64, AX
	ADDQ $64, DX
	ADDQ $64, BX
	ADDQ $64, R13

lnoutt:
	KTESTW K1, K1
	JEQ    lnnext
	VMOVUPS.Z (AX), K1, Z0
	VSUBPS Z5, Z0, Z0
	VMULPS Z6, Z0, Z0
	VMULPS.Z (BX), Z0, K1, Z0
	VADDPS.Z (R13), Z0, K1, Z0
	VMOVUPS Z0, K1, (DX)

lnnext:
	ADDQ R11, SI
	ADDQ R11, DI
	DECQ R10
	JNE  lnrow
	VZEROUPPER
	RET

// func addAVX512(dst, src *float32, n int)
TEXT ·addAVX512(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), DX
	TAILMASK(DX)
	SHRQ $4, DX

add4:
	CMPQ DX, $4
	JLT  add1
	VMOVUPS (DI), Z0
	VMOVUPS 64(DI), Z1
	VMOVUPS 128(DI), Z2
	VMOVUPS 192(DI), Z3
	VADDPS (SI), Z0, Z0
	VADDPS 64(SI), Z1, Z1
	VADDPS 128(SI), Z2, Z2
	VADDPS 192(SI), Z3, Z3
	VMOVUPS Z0, (DI)
	VMOVUPS Z1, 64(DI)
	VMOVUPS Z2, 128(DI)
	VMOVUPS Z3, 192(DI)
	ADDQ $256, SI
	ADDQ $256, DI
	SUBQ $4, DX
	JMP  add4

add1:
	TESTQ DX, DX
	JEQ   addt
	VMOVUPS (DI), Z0
	VADDPS (SI), Z0, Z0
	VMOVUPS Z0, (DI)
	ADDQ $64, SI
	ADDQ $64, DI
	DECQ DX
	JMP  add1

addt:
	VMOVUPS.Z (DI), K1, Z0
	VADDPS.Z (SI), Z0, K1, Z0
	VMOVUPS Z0, K1, (DI)
	VZEROUPPER
	RET

// func scaleAVX512(x *float32, n int, s float32)
TEXT ·scaleAVX512(SB), NOSPLIT, $0-20
	MOVQ x+0(FP), DI
	MOVQ n+8(FP), DX
	VBROADCASTSS s+16(FP), Z4
	TAILMASK(DX)
	SHRQ $4, DX

scale4:
	CMPQ DX, $4
	JLT  scale1
	VMULPS (DI), Z4, Z0
	VMULPS 64(DI), Z4, Z1
	VMULPS 128(DI), Z4, Z2
	VMULPS 192(DI), Z4, Z3
	VMOVUPS Z0, (DI)
	VMOVUPS Z1, 64(DI)
	VMOVUPS Z2, 128(DI)
	VMOVUPS Z3, 192(DI)
	ADDQ $256, DI
	SUBQ $4, DX
	JMP  scale4

scale1:
	TESTQ DX, DX
	JEQ   scalet
	VMULPS (DI), Z4, Z0
	VMOVUPS Z0, (DI)
	ADDQ $64, DI
	DECQ DX
	JMP  scale1

scalet:
	VMULPS.Z (DI), Z4, K1, Z0
	VMOVUPS Z0, K1, (DI)
	VZEROUPPER
	RET

// func mulAddAVX512(dst, a, b *float32, n int)
// dst[i] += a[i]*b[i] (fused multiply-add) for i < n.
TEXT ·mulAddAVX512(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ a+8(FP), SI
	MOVQ b+16(FP), BX
	MOVQ n+24(FP), DX
	TAILMASK(DX)
	SHRQ $4, DX

ma4:
	CMPQ DX, $4
	JLT  ma1
	VMOVUPS (DI), Z0
	VMOVUPS 64(DI), Z1
	VMOVUPS 128(DI), Z2
	VMOVUPS 192(DI), Z3
	VMOVUPS (SI), Z4
	VMOVUPS 64(SI), Z5
	VMOVUPS 128(SI), Z6
	VMOVUPS 192(SI), Z7
	VFMADD231PS (BX), Z4, Z0
	VFMADD231PS 64(BX), Z5, Z1
	VFMADD231PS 128(BX), Z6, Z2
	VFMADD231PS 192(BX), Z7, Z3
	VMOVUPS Z0, (DI)
	VMOVUPS Z1, 64(DI)
	VMOVUPS Z2, 128(DI)
	VMOVUPS Z3, 192(DI)
	ADDQ $256, SI
	ADDQ $256, BX
	ADDQ $256, DI
	SUBQ $4, DX
	JMP  ma4

ma1:
	TESTQ DX, DX
	JEQ   mat
	VMOVUPS (DI), Z0
	VMOVUPS (SI), Z4
	VFMADD231PS (BX), Z4, Z0
	VMOVUPS Z0, (DI)
	ADDQ $64, SI
	ADDQ $64, BX
	ADDQ $64, DI
	DECQ DX
	JMP  ma1

mat:
	VMOVUPS.Z (DI), K1, Z0
	VMOVUPS.Z (SI), K1, Z4
	VMOVUPS.Z (BX), K1, Z5
	VFMADD231PS Z5, Z4, Z0
	VMOVUPS Z0, K1, (DI)
	VZEROUPPER
	RET
