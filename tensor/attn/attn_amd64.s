//go:build amd64 && !purego

#include "textflag.h"

// AVX-512 kernels of the fused attention (see attn.go for the method and
// attn_amd64.go for the contracts). Query blocks are 32 lanes: two zmm.

// Constants: the exp of package tensor (tensor/generic.go documents the
// method; same reduction, same polynomial), -Inf and the int32 1.
DATA attnc<>+0(SB)/4, $0x3fb8aa3b  // log2(e)
DATA attnc<>+4(SB)/4, $0x3f318000  // ln2 high part
DATA attnc<>+8(SB)/4, $0xb95e8083  // ln2 low part
DATA attnc<>+12(SB)/4, $0xc2d00000 // lower clamp -104
DATA attnc<>+16(SB)/4, $0x3f800000 // 1
DATA attnc<>+20(SB)/4, $0x3ab51220 // Q4
DATA attnc<>+24(SB)/4, $0x3c091ceb // Q3
DATA attnc<>+28(SB)/4, $0x3d2aac79 // Q2
DATA attnc<>+32(SB)/4, $0x3e2aaa49 // Q1
DATA attnc<>+36(SB)/4, $0x3efffffe // Q0
DATA attnc<>+40(SB)/4, $0x4b400000 // 1.5·2²³
DATA attnc<>+44(SB)/4, $0xff800000 // -Inf
DATA attnc<>+48(SB)/4, $0x00000001 // int32 1
GLOBL attnc<>(SB), RODATA|NOPTR, $52

// iota32<> holds the int32s 0..31.
DATA iota32<>+0(SB)/8, $0x0000000100000000
DATA iota32<>+8(SB)/8, $0x0000000300000002
DATA iota32<>+16(SB)/8, $0x0000000500000004
DATA iota32<>+24(SB)/8, $0x0000000700000006
DATA iota32<>+32(SB)/8, $0x0000000900000008
DATA iota32<>+40(SB)/8, $0x0000000b0000000a
DATA iota32<>+48(SB)/8, $0x0000000d0000000c
DATA iota32<>+56(SB)/8, $0x0000000f0000000e
DATA iota32<>+64(SB)/8, $0x0000001100000010
DATA iota32<>+72(SB)/8, $0x0000001300000012
DATA iota32<>+80(SB)/8, $0x0000001500000014
DATA iota32<>+88(SB)/8, $0x0000001700000016
DATA iota32<>+96(SB)/8, $0x0000001900000018
DATA iota32<>+104(SB)/8, $0x0000001b0000001a
DATA iota32<>+112(SB)/8, $0x0000001d0000001c
DATA iota32<>+120(SB)/8, $0x0000001f0000001e
GLOBL iota32<>(SB), RODATA|NOPTR, $128

// Exp registers: Z31 log2e, Z30 ln2 high, Z29 ln2 low, Z27 lower clamp,
// Z26 1, Z25..Z21 Q4..Q0, Z20 1.5·2²³.
#define LOADEXP \
	VBROADCASTSS attnc<>+0(SB), Z31; \
	VBROADCASTSS attnc<>+4(SB), Z30; \
	VBROADCASTSS attnc<>+8(SB), Z29; \
	VBROADCASTSS attnc<>+12(SB), Z27; \
	VBROADCASTSS attnc<>+16(SB), Z26; \
	VBROADCASTSS attnc<>+20(SB), Z25; \
	VBROADCASTSS attnc<>+24(SB), Z24; \
	VBROADCASTSS attnc<>+28(SB), Z23; \
	VBROADCASTSS attnc<>+32(SB), Z22; \
	VBROADCASTSS attnc<>+36(SB), Z21; \
	VBROADCASTSS attnc<>+40(SB), Z20

// EXPLO sets X = e^X for X ≤ 88.72, -Inf or NaN (the arguments here are
// differences from a running maximum, at most 0), using K and P as
// scratch: the EXP512LO of package tensor. The clamp keeps NaN (the second
// source of VMAXPS); -Inf and anything below -104 give 0.
#define EXPLO(X, K, P) \
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

// QKROW adds key ADDR's value at the current d times the two query vectors
// Z28, Z29 to the accumulators A0, A1.
#define QKROW(ADDR, A0, A1) \
	VBROADCASTSS ADDR, Z30; \
	VFMADD231PS Z28, Z30, A0; \
	VFMADD231PS Z29, Z30, A1

// func qk512(s, xt, y *float32, ldy, hd, nsub int)
//
// One tile: 14 keys × 32 queries in Z0..Z27 (key k in Z2k, Z2k+1), summed
// over d = 0..hd-1 with the query vectors loaded from xt and the keys'
// values broadcast from their rows in y. The 14 rows are addressed from two
// bases (AX row 0, BX row 5) and the strides R10 = R, R11 = 3R, R12 = 5R.
TEXT ·qk512(SB), NOSPLIT, $0-48
	MOVQ s+0(FP), DI
	MOVQ xt+8(FP), R9
	MOVQ y+16(FP), R8
	MOVQ ldy+24(FP), R10
	SHLQ $2, R10
	LEAQ (R10)(R10*2), R11
	LEAQ (R10)(R10*4), R12
	MOVQ hd+32(FP), R13
	MOVQ nsub+40(FP), DX

qktile:
	VPXORD Z0, Z0, Z0
	VPXORD Z1, Z1, Z1
	VPXORD Z2, Z2, Z2
	VPXORD Z3, Z3, Z3
	VPXORD Z4, Z4, Z4
	VPXORD Z5, Z5, Z5
	VPXORD Z6, Z6, Z6
	VPXORD Z7, Z7, Z7
	VPXORD Z8, Z8, Z8
	VPXORD Z9, Z9, Z9
	VPXORD Z10, Z10, Z10
	VPXORD Z11, Z11, Z11
	VPXORD Z12, Z12, Z12
	VPXORD Z13, Z13, Z13
	VPXORD Z14, Z14, Z14
	VPXORD Z15, Z15, Z15
	VPXORD Z16, Z16, Z16
	VPXORD Z17, Z17, Z17
	VPXORD Z18, Z18, Z18
	VPXORD Z19, Z19, Z19
	VPXORD Z20, Z20, Z20
	VPXORD Z21, Z21, Z21
	VPXORD Z22, Z22, Z22
	VPXORD Z23, Z23, Z23
	VPXORD Z24, Z24, Z24
	VPXORD Z25, Z25, Z25
	VPXORD Z26, Z26, Z26
	VPXORD Z27, Z27, Z27
	MOVQ R9, SI
	MOVQ R8, AX
	LEAQ (R8)(R12*1), BX
	MOVQ R13, CX

	// R14 walks the next tile's 14 rows, 56 bytes per d: with rows of hd
	// contiguous floats that covers them (prefetches do not fault, so
	// the last tile's ones past the end are harmless).
	LEAQ (R8)(R10*8), R14
	ADDQ R12, R14
	ADDQ R10, R14

qkloop:
	VMOVUPS (SI), Z28
	VMOVUPS 64(SI), Z29
	PREFETCHT0 (R14)
	QKROW((AX), Z0, Z1)
	QKROW((AX)(R10*1), Z2, Z3)
	QKROW((AX)(R10*2), Z4, Z5)
	QKROW((AX)(R11*1), Z6, Z7)
	QKROW((AX)(R10*4), Z8, Z9)
	QKROW((BX), Z10, Z11)
	QKROW((AX)(R11*2), Z12, Z13)
	QKROW((BX)(R10*2), Z14, Z15)
	QKROW((AX)(R10*8), Z16, Z17)
	QKROW((BX)(R10*4), Z18, Z19)
	QKROW((BX)(R12*1), Z20, Z21)
	QKROW((BX)(R11*2), Z22, Z23)
	QKROW((AX)(R11*4), Z24, Z25)
	QKROW((BX)(R10*8), Z26, Z27)
	ADDQ $128, SI
	ADDQ $4, AX
	ADDQ $4, BX
	ADDQ $56, R14
	DECQ CX
	JNZ  qkloop

	VMOVUPS Z0, 0(DI)
	VMOVUPS Z1, 64(DI)
	VMOVUPS Z2, 128(DI)
	VMOVUPS Z3, 192(DI)
	VMOVUPS Z4, 256(DI)
	VMOVUPS Z5, 320(DI)
	VMOVUPS Z6, 384(DI)
	VMOVUPS Z7, 448(DI)
	VMOVUPS Z8, 512(DI)
	VMOVUPS Z9, 576(DI)
	VMOVUPS Z10, 640(DI)
	VMOVUPS Z11, 704(DI)
	VMOVUPS Z12, 768(DI)
	VMOVUPS Z13, 832(DI)
	VMOVUPS Z14, 896(DI)
	VMOVUPS Z15, 960(DI)
	VMOVUPS Z16, 1024(DI)
	VMOVUPS Z17, 1088(DI)
	VMOVUPS Z18, 1152(DI)
	VMOVUPS Z19, 1216(DI)
	VMOVUPS Z20, 1280(DI)
	VMOVUPS Z21, 1344(DI)
	VMOVUPS Z22, 1408(DI)
	VMOVUPS Z23, 1472(DI)
	VMOVUPS Z24, 1536(DI)
	VMOVUPS Z25, 1600(DI)
	VMOVUPS Z26, 1664(DI)
	VMOVUPS Z27, 1728(DI)
	ADDQ $1792, DI

	// Next 14 rows: R8 += 14·R.
	LEAQ (R8)(R10*8), R8
	ADDQ R12, R8
	ADDQ R10, R8
	DECQ DX
	JNZ  qktile
	VZEROUPPER
	RET

// QKROW1 is QKROW for the first query vector only.
#define QKROW1(ADDR, A0) \
	VFMADD231PS.BCST ADDR, Z28, A0

// func qk512h(s, xt, y *float32, ldy, hd, nsub int)
//
// qk512 for query blocks of at most 16: the first query vector only, 14
// keys in Z0..Z13; the second half of each row of s is set to zero.
TEXT ·qk512h(SB), NOSPLIT, $0-48
	MOVQ s+0(FP), DI
	MOVQ xt+8(FP), R9
	MOVQ y+16(FP), R8
	MOVQ ldy+24(FP), R10
	SHLQ $2, R10
	LEAQ (R10)(R10*2), R11
	LEAQ (R10)(R10*4), R12
	MOVQ hd+32(FP), R13
	MOVQ nsub+40(FP), DX
	VPXORD Z31, Z31, Z31

qkhtile:
	VPXORD Z0, Z0, Z0
	VPXORD Z1, Z1, Z1
	VPXORD Z2, Z2, Z2
	VPXORD Z3, Z3, Z3
	VPXORD Z4, Z4, Z4
	VPXORD Z5, Z5, Z5
	VPXORD Z6, Z6, Z6
	VPXORD Z7, Z7, Z7
	VPXORD Z8, Z8, Z8
	VPXORD Z9, Z9, Z9
	VPXORD Z10, Z10, Z10
	VPXORD Z11, Z11, Z11
	VPXORD Z12, Z12, Z12
	VPXORD Z13, Z13, Z13
	MOVQ R9, SI
	MOVQ R8, AX
	LEAQ (R8)(R12*1), BX
	MOVQ R13, CX

qkhloop:
	VMOVUPS (SI), Z28
	QKROW1((AX), Z0)
	QKROW1((AX)(R10*1), Z1)
	QKROW1((AX)(R10*2), Z2)
	QKROW1((AX)(R11*1), Z3)
	QKROW1((AX)(R10*4), Z4)
	QKROW1((BX), Z5)
	QKROW1((AX)(R11*2), Z6)
	QKROW1((BX)(R10*2), Z7)
	QKROW1((AX)(R10*8), Z8)
	QKROW1((BX)(R10*4), Z9)
	QKROW1((BX)(R12*1), Z10)
	QKROW1((BX)(R11*2), Z11)
	QKROW1((AX)(R11*4), Z12)
	QKROW1((BX)(R10*8), Z13)
	ADDQ $128, SI
	ADDQ $4, AX
	ADDQ $4, BX
	DECQ CX
	JNZ  qkhloop

	VMOVUPS Z0, 0(DI)
	VMOVUPS Z31, 64(DI)
	VMOVUPS Z1, 128(DI)
	VMOVUPS Z31, 192(DI)
	VMOVUPS Z2, 256(DI)
	VMOVUPS Z31, 320(DI)
	VMOVUPS Z3, 384(DI)
	VMOVUPS Z31, 448(DI)
	VMOVUPS Z4, 512(DI)
	VMOVUPS Z31, 576(DI)
	VMOVUPS Z5, 640(DI)
	VMOVUPS Z31, 704(DI)
	VMOVUPS Z6, 768(DI)
	VMOVUPS Z31, 832(DI)
	VMOVUPS Z7, 896(DI)
	VMOVUPS Z31, 960(DI)
	VMOVUPS Z8, 1024(DI)
	VMOVUPS Z31, 1088(DI)
	VMOVUPS Z9, 1152(DI)
	VMOVUPS Z31, 1216(DI)
	VMOVUPS Z10, 1280(DI)
	VMOVUPS Z31, 1344(DI)
	VMOVUPS Z11, 1408(DI)
	VMOVUPS Z31, 1472(DI)
	VMOVUPS Z12, 1536(DI)
	VMOVUPS Z31, 1600(DI)
	VMOVUPS Z13, 1664(DI)
	VMOVUPS Z31, 1728(DI)
	ADDQ $1792, DI
	LEAQ (R8)(R10*8), R8
	ADDQ R12, R8
	ADDQ R10, R8
	DECQ DX
	JNZ  qkhtile
	VZEROUPPER
	RET

// SMMASK applies the causal mask to the logits Z0, Z1 of key Z15 (int32
// broadcast; Z16, Z17 the per-lane limits), folds them into the running
// maxima Z2, Z3, stores them back and moves to the next key.
#define SMMASK \
	VPCMPGTD Z16, Z15, K3; \
	VPCMPGTD Z17, Z15, K4; \
	VMOVAPS  Z19, K3, Z0; \
	VMOVAPS  Z19, K4, Z1; \
	VPADDD   Z18, Z15, Z15; \
	VMAXPS   Z0, Z2, Z2; \
	VMAXPS   Z1, Z3, Z3; \
	VMOVUPS  Z0, (DI); \
	VMOVUPS  Z1, 64(DI); \
	ADDQ     $128, DI

// func softmax512(s *float32, kb int, st *float32, bias *float32, bidx *int32, lim, vmask int)
//
// Pass 1: bias, mask, maximum. Pass 2: exponentials and their sum. st is
// m [32], l [32], α [32].
TEXT ·softmax512(SB), NOSPLIT, $0-56
	MOVQ s+0(FP), DI
	MOVQ kb+8(FP), DX
	MOVQ st+16(FP), SI
	MOVQ bias+24(FP), R8
	MOVQ bidx+32(FP), R9
	MOVQ lim+40(FP), AX
	MOVQ vmask+48(FP), BX
	LOADEXP
	VBROADCASTSS attnc<>+44(SB), Z19
	VPBROADCASTD attnc<>+48(SB), Z18
	VPBROADCASTD AX, Z16
	VPADDD       iota32<>+64(SB), Z16, Z17
	VPADDD       iota32<>+0(SB), Z16, Z16
	VPXORD       Z15, Z15, Z15
	VMOVUPS      (SI), Z2
	VMOVUPS      64(SI), Z3
	MOVQ         DX, CX
	TESTQ        R8, R8
	JNZ          smbias
	CMPQ         AX, $0x40000000
	JLT          smmax

	// No bias, no mask: only the maximum.
smplain:
	VMAXPS (DI), Z2, Z2
	VMAXPS 64(DI), Z3, Z3
	ADDQ   $128, DI
	DECQ   CX
	JNZ    smplain
	JMP    smexp

smmax:
	VMOVUPS (DI), Z0
	VMOVUPS 64(DI), Z1
	SMMASK
	DECQ    CX
	JNZ     smmax
	JMP     smexp

smbias:
	VMOVDQU32 (R9), Z12
	VMOVDQU32 64(R9), Z13
	KMOVW     BX, K6
	SHRQ      $16, BX
	KMOVW     BX, K7

smbiasloop:
	VMOVUPS    (DI), Z0
	VMOVUPS    64(DI), Z1
	KMOVW      K6, K1
	VPXORD     Z4, Z4, Z4
	VGATHERDPS (R8)(Z12*4), K1, Z4
	KMOVW      K7, K2
	VPXORD     Z5, Z5, Z5
	VGATHERDPS (R8)(Z13*4), K2, Z5
	VADDPS     Z4, Z0, Z0
	VADDPS     Z5, Z1, Z1
	ADDQ       $4, R8
	SMMASK
	DECQ       CX
	JNZ        smbiasloop

smexp:
	// α = e^(m − m'), m = m'.
	VMOVUPS (SI), Z8
	VMOVUPS 64(SI), Z9
	VSUBPS  Z2, Z8, Z8
	VSUBPS  Z3, Z9, Z9
	EXPLO(Z8, Z10, Z11)
	EXPLO(Z9, Z12, Z13)
	VMOVUPS Z2, (SI)
	VMOVUPS Z3, 64(SI)
	VMOVUPS Z8, 256(SI)
	VMOVUPS Z9, 320(SI)

	// s = e^(s − m'), summed into Z6, Z7.
	VPXORD Z6, Z6, Z6
	VPXORD Z7, Z7, Z7
	MOVQ   s+0(FP), DI
	MOVQ   DX, CX

smexploop:
	VMOVUPS (DI), Z0
	VMOVUPS 64(DI), Z1
	VSUBPS  Z2, Z0, Z0
	VSUBPS  Z3, Z1, Z1
	EXPLO(Z0, Z10, Z11)
	EXPLO(Z1, Z12, Z13)
	VADDPS  Z0, Z6, Z6
	VADDPS  Z1, Z7, Z7
	VMOVUPS Z0, (DI)
	VMOVUPS Z1, 64(DI)
	ADDQ    $128, DI
	DECQ    CX
	JNZ     smexploop

	// l = α·l + Σ.
	VFMADD231PS 128(SI), Z8, Z6
	VFMADD231PS 192(SI), Z9, Z7
	VMOVUPS     Z6, 128(SI)
	VMOVUPS     Z7, 192(SI)
	VZEROUPPER
	RET

// PVQ adds p (broadcast from ADDR into B) times the value row Z16..Z19 to
// the four accumulators of one query.
#define PVQ(ADDR, B, A0, A1, A2, A3) \
	VBROADCASTSS ADDR, B; \
	VFMADD231PS  Z16, B, A0; \
	VFMADD231PS  Z17, B, A1; \
	VFMADD231PS  Z18, B, A2; \
	VFMADD231PS  Z19, B, A3

#define PVKEY \
	PVQ(0(AX), Z20, Z0, Z1, Z2, Z3); \
	PVQ(4(AX), Z21, Z4, Z5, Z6, Z7); \
	PVQ(8(AX), Z22, Z8, Z9, Z10, Z11); \
	PVQ(12(AX), Z23, Z12, Z13, Z14, Z15); \
	ADDQ $128, AX; \
	ADDQ R10, DX

// PVOQ sets accumulator A of query QQ's columns at OFF to O·α + A and
// stores it (R9: the group's outputs, Z24: α of the query).
#define PVOQ(QQ, A0, A1, A2, A3) \
	VBROADCASTSS (QQ*4)(R13)(BX*1), Z24; \
	VFMADD231PS  (QQ*256+0)(R9), Z24, A0; \
	VFMADD231PS  (QQ*256+64)(R9), Z24, A1; \
	VFMADD231PS  (QQ*256+128)(R9), Z24, A2; \
	VFMADD231PS  (QQ*256+192)(R9), Z24, A3; \
	VMOVUPS      A0, (QQ*256+0)(R9); \
	VMOVUPS      A1, (QQ*256+64)(R9); \
	VMOVUPS      A2, (QQ*256+128)(R9); \
	VMOVUPS      A3, (QQ*256+192)(R9)

#define PVZERO \
	VPXORD Z0, Z0, Z0; \
	VPXORD Z1, Z1, Z1; \
	VPXORD Z2, Z2, Z2; \
	VPXORD Z3, Z3, Z3; \
	VPXORD Z4, Z4, Z4; \
	VPXORD Z5, Z5, Z5; \
	VPXORD Z6, Z6, Z6; \
	VPXORD Z7, Z7, Z7; \
	VPXORD Z8, Z8, Z8; \
	VPXORD Z9, Z9, Z9; \
	VPXORD Z10, Z10, Z10; \
	VPXORD Z11, Z11, Z11; \
	VPXORD Z12, Z12, Z12; \
	VPXORD Z13, Z13, Z13; \
	VPXORD Z14, Z14, Z14; \
	VPXORD Z15, Z15, Z15

#define PVSTORE \
	MOVQ BX, R9; \
	SHLQ $6, R9; \
	ADDQ DI, R9; \
	PVOQ(0, Z0, Z1, Z2, Z3); \
	PVOQ(1, Z4, Z5, Z6, Z7); \
	PVOQ(2, Z8, Z9, Z10, Z11); \
	PVOQ(3, Z12, Z13, Z14, Z15)

// func pv512(o, p, v *float32, ldv, kb, hd int, alpha *float32, mask, ng int)
//
// For each chunk of 64 columns and each of the first ng groups of 4 queries
// (BX = 16·group, R14 = 16·ng),
// 16 accumulators sum p·v over the kb keys; then O = O·α + sum. A last
// chunk of fewer than 64 columns loads the values under the masks K1..K4
// (mask's four 16-bit parts).
TEXT ·pv512(SB), NOSPLIT, $0-72
	MOVQ ng+64(FP), R14
	SHLQ $4, R14
	MOVQ o+0(FP), DI
	MOVQ p+8(FP), SI
	MOVQ v+16(FP), R8
	MOVQ ldv+24(FP), R10
	SHLQ $2, R10
	MOVQ kb+32(FP), R11
	MOVQ hd+40(FP), R12
	MOVQ alpha+48(FP), R13
	MOVQ mask+56(FP), AX
	KMOVW AX, K1
	SHRQ $16, AX
	KMOVW AX, K2
	SHRQ $16, AX
	KMOVW AX, K3
	SHRQ $16, AX
	KMOVW AX, K4

pvchunk:
	CMPQ R12, $64
	JLT  pvpart
	XORQ BX, BX

pvgroup:
	PVZERO
	LEAQ (SI)(BX*1), AX
	MOVQ R8, DX
	MOVQ R11, CX

pvkey:
	VMOVUPS (DX), Z16
	VMOVUPS 64(DX), Z17
	VMOVUPS 128(DX), Z18
	VMOVUPS 192(DX), Z19
	PVKEY
	DECQ    CX
	JNZ     pvkey
	PVSTORE
	ADDQ    $16, BX
	CMPQ    BX, R14
	JLT     pvgroup

	ADDQ $8192, DI
	ADDQ $256, R8
	SUBQ $64, R12
	JNZ  pvchunk
	VZEROUPPER
	RET

pvpart:
	XORQ BX, BX

pvpgroup:
	PVZERO
	LEAQ (SI)(BX*1), AX
	MOVQ R8, DX
	MOVQ R11, CX

pvpkey:
	VMOVUPS.Z (DX), K1, Z16
	VMOVUPS.Z 64(DX), K2, Z17
	VMOVUPS.Z 128(DX), K3, Z18
	VMOVUPS.Z 192(DX), K4, Z19
	PVKEY
	DECQ      CX
	JNZ       pvpkey
	PVSTORE
	ADDQ      $16, BX
	CMPQ      BX, R14
	JLT       pvpgroup
	VZEROUPPER
	RET

// func prefetchRows(p uintptr, ld, rows, n int)
//
// Prefetches into L2 the cache lines of rows rows of n bytes from p, ld
// bytes apart. Prefetches do not fault; p is an address, not a pointer.
TEXT ·prefetchRows(SB), NOSPLIT, $0-32
	MOVQ p+0(FP), SI
	MOVQ ld+8(FP), DX
	MOVQ rows+16(FP), CX
	MOVQ n+24(FP), BX
	TESTQ CX, CX
	JLE  pfdone
	TESTQ BX, BX
	JLE  pfdone

pfrow:
	MOVQ SI, AX
	ANDQ $-64, AX
	LEAQ -1(SI)(BX*1), DI

pfline:
	PREFETCHT1 (AX)
	ADDQ $64, AX
	CMPQ AX, DI
	JLE  pfline
	ADDQ DX, SI
	DECQ CX
	JNZ  pfrow

pfdone:
	RET

// func xpack512(xt, x *float32, ldx, qb, hd int, scale float32)
//
// xt[d·32+q] = scale·x[q·ldx+d] for q < qb, 0 for qb ≤ q < 32, d < hd:
// per d, two gathers of 16 queries (lanes q ≥ qb masked off).
TEXT ·xpack512(SB), NOSPLIT, $0-44
	MOVQ xt+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ ldx+16(FP), AX
	MOVQ qb+24(FP), CX
	MOVQ hd+32(FP), DX
	VBROADCASTSS scale+40(FP), Z2
	// Index vectors q·ldx and the lane masks.
	VPBROADCASTD AX, Z3
	VPMULLD      iota32<>+0(SB), Z3, Z0
	VPMULLD      iota32<>+64(SB), Z3, Z1
	MOVQ         $1, BX
	SHLQ         CX, BX
	DECQ         BX
	KMOVW        BX, K6
	SHRQ         $16, BX
	KMOVW        BX, K7

xploop:
	KMOVW      K6, K1
	VPXORD     Z4, Z4, Z4
	VGATHERDPS (SI)(Z0*4), K1, Z4
	KMOVW      K7, K2
	VPXORD     Z5, Z5, Z5
	VGATHERDPS (SI)(Z1*4), K2, Z5
	VMULPS     Z2, Z4, Z4
	VMULPS     Z2, Z5, Z5
	VMOVUPS    Z4, (DI)
	VMOVUPS    Z5, 64(DI)
	ADDQ       $4, SI
	ADDQ       $128, DI
	DECQ       DX
	JNZ        xploop
	VZEROUPPER
	RET

// func finish512(out *float32, ldo int, o, l *float32, qb, hd, accumulate int)
//
// out[q·ldo+c] (+)= o[(c/64)·2048 + q·64 + c%64] / l[q] for q < qb, c < hd.
TEXT ·finish512(SB), NOSPLIT, $0-56
	MOVQ out+0(FP), DI
	MOVQ ldo+8(FP), R8
	SHLQ $2, R8
	MOVQ o+16(FP), SI
	MOVQ l+24(FP), R9
	MOVQ qb+32(FP), R10
	MOVQ hd+40(FP), R11
	MOVQ accumulate+48(FP), R12
	VBROADCASTSS attnc<>+16(SB), Z7

fnrow:
	VBROADCASTSS (R9), Z6
	VDIVPS       Z6, Z7, Z6
	MOVQ         DI, AX
	MOVQ         SI, DX
	MOVQ         R11, CX

fnchunk:
	// Up to 64 columns, the lanes past hd masked off.
	XORQ BX, BX

fnvec:
	MOVQ         CX, R13
	SUBQ         BX, R13
	JLE          fnnext
	VPBROADCASTD R13, Z5
	VPCMPGTD     iota32<>+0(SB), Z5, K1
	VMULPS (DX)(BX*4), Z6, Z0
	TESTQ  R12, R12
	JEQ    fnstore
	VADDPS.Z (AX)(BX*4), Z0, K1, Z0

fnstore:
	VMOVUPS Z0, K1, (AX)(BX*4)
	ADDQ    $16, BX
	CMPQ    BX, $64
	JLT     fnvec

fnnext:
	// Next chunk of 64 columns: o moves by 32 rows of 64.
	ADDQ $256, AX
	ADDQ $8192, DX
	SUBQ $64, CX
	JG   fnchunk
	ADDQ R8, DI
	ADDQ $256, SI
	ADDQ $4, R9
	DECQ R10
	JNZ  fnrow
	VZEROUPPER
	RET
