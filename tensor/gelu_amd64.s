//go:build amd64 && !purego

#include "textflag.h"

// geluAVX512: x·Φ(x) with Φ from erfc by the rational-exponential form of
// Numerical Recipes' erfcc (Press et al., "Numerical Recipes in C", 2nd ed.,
// section 6.2; fractional error below 1.2e-7): for z = |x|/√2,
// t = 1/(1 + z/2), erfc(z) = t·exp(−z² + P(t)), P of degree 9 (z² = x²/2
// taken as the float32 square plus its FMA residual, so the exponent is
// rounded once); then
// Φ(x) = 1 − erfc/2 for x ≥ 0 and erfc/2 for x < 0. x is clamped below at
// −20 (where the result is 0 in float32), which also makes −Inf give −0
// rather than −Inf·0. The exp is tensor's (simd512_amd64.s: the same
// constants and polynomial, copied because assembler macros and static
// data are per file).
//
// Registers: Z31..Z20 the exp's constants (as in simd512_amd64.s), Z19 the
// clamp −20, Z18 the |·| mask, Z17 1/√2, Z16 0.5, Z15..Z6 P's coefficients
// c9..c0; Z0..Z5 work.

DATA geluc<>+0(SB)/4, $0x3fb8aa3b // log2e
DATA geluc<>+4(SB)/4, $0x3f318000 // ln2hi
DATA geluc<>+8(SB)/4, $0xb95e8083 // ln2lo
DATA geluc<>+12(SB)/4, $0x42b18000 // hiclamp
DATA geluc<>+16(SB)/4, $0xc2d00000 // loclamp
DATA geluc<>+20(SB)/4, $0x3f800000 // one
DATA geluc<>+24(SB)/4, $0x3ab51220 // q4
DATA geluc<>+28(SB)/4, $0x3c091ceb // q3
DATA geluc<>+32(SB)/4, $0x3d2aac79 // q2
DATA geluc<>+36(SB)/4, $0x3e2aaa49 // q1
DATA geluc<>+40(SB)/4, $0x3efffffe // q0
DATA geluc<>+44(SB)/4, $0x4b400000 // round
DATA geluc<>+48(SB)/4, $0xbfa1fc4e // c0 = -1.26551223
DATA geluc<>+52(SB)/4, $0x3f8000c7 // c1 = 1.00002368
DATA geluc<>+56(SB)/4, $0x3ebf88fb // c2 = 0.37409196
DATA geluc<>+60(SB)/4, $0x3dc636c9 // c3 = 0.09678418
DATA geluc<>+64(SB)/4, $0xbe3ec24c // c4 = -0.18628806
DATA geluc<>+68(SB)/4, $0x3e8ec7cc // c5 = 0.27886807
DATA geluc<>+72(SB)/4, $0xbf914e5d // c6 = -1.13520398
DATA geluc<>+76(SB)/4, $0x3fbe87b0 // c7 = 1.48851587
DATA geluc<>+80(SB)/4, $0xbf527892 // c8 = -0.82215223
DATA geluc<>+84(SB)/4, $0x3e2ef945 // c9 = 0.17087277
DATA geluc<>+88(SB)/4, $0xc1a00000 // clamp
DATA geluc<>+92(SB)/4, $0x3f3504f3 // rsqrt2
DATA geluc<>+96(SB)/4, $0x3f000000 // half
DATA geluc<>+100(SB)/4, $0x7fffffff // absmask
DATA geluc<>+104(SB)/4, $0x41a00000 // 20, the upper clamp of |x| for Φ
GLOBL geluc<>(SB), RODATA|NOPTR, $108

#define GELU_EXP(X, K, P) \
	VMINPS X, Z28, X; \
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

// GELU16 replaces Z0 by GELU(Z0), 16 lanes; clobbers Z1..Z5 and K2. Z1 is
// x clamped below at −20 (the factor of the product, NaN kept); Φ is
// computed from a = min(|Z1|, 20), Φ being 1 or 0 in float32 beyond, so
// that +Inf and huge x give x, not Inf·NaN.
#define GELU16 \
	VMAXPS Z0, Z19, Z1; \
	VANDPS Z18, Z1, Z2; \
	VMINPS.BCST geluc<>+104(SB), Z2, Z2; \
	VMULPS Z17, Z2, Z3; \
	VFMADD213PS Z26, Z16, Z3; \
	VDIVPS Z3, Z26, Z3; \
	VMOVAPS Z15, Z4; \
	VFMADD213PS Z14, Z3, Z4; \
	VFMADD213PS Z13, Z3, Z4; \
	VFMADD213PS Z12, Z3, Z4; \
	VFMADD213PS Z11, Z3, Z4; \
	VFMADD213PS Z10, Z3, Z4; \
	VFMADD213PS Z9, Z3, Z4; \
	VFMADD213PS Z8, Z3, Z4; \
	VFMADD213PS Z7, Z3, Z4; \
	VFMADD213PS Z6, Z3, Z4; \
	VMULPS Z2, Z2, Z5; \
	VMOVAPS Z5, Z0; \
	VFMSUB231PS Z2, Z2, Z0; \
	VFNMADD231PS Z16, Z5, Z4; \
	VFNMADD231PS Z16, Z0, Z4; \
	GELU_EXP(Z4, Z2, Z5); \
	VMULPS Z3, Z4, Z4; \
	VMULPS Z16, Z4, Z4; \
	VSUBPS Z4, Z26, Z5; \
	VPMOVD2M Z1, K2; \
	VMOVAPS Z4, K2, Z5; \
	VMULPS Z5, Z1, Z0

// func geluAVX512(x *float32, n int)
TEXT ·geluAVX512(SB), NOSPLIT, $0-16
	MOVQ x+0(FP), DI
	MOVQ n+8(FP), DX
	VBROADCASTSS geluc<>+0(SB), Z31
	VBROADCASTSS geluc<>+4(SB), Z30
	VBROADCASTSS geluc<>+8(SB), Z29
	VBROADCASTSS geluc<>+12(SB), Z28
	VBROADCASTSS geluc<>+16(SB), Z27
	VBROADCASTSS geluc<>+20(SB), Z26
	VBROADCASTSS geluc<>+24(SB), Z25
	VBROADCASTSS geluc<>+28(SB), Z24
	VBROADCASTSS geluc<>+32(SB), Z23
	VBROADCASTSS geluc<>+36(SB), Z22
	VBROADCASTSS geluc<>+40(SB), Z21
	VBROADCASTSS geluc<>+44(SB), Z20
	VBROADCASTSS geluc<>+88(SB), Z19
	VBROADCASTSS geluc<>+100(SB), Z18
	VBROADCASTSS geluc<>+92(SB), Z17
	VBROADCASTSS geluc<>+96(SB), Z16
	VBROADCASTSS geluc<>+48(SB), Z6
	VBROADCASTSS geluc<>+52(SB), Z7
	VBROADCASTSS geluc<>+56(SB), Z8
	VBROADCASTSS geluc<>+60(SB), Z9
	VBROADCASTSS geluc<>+64(SB), Z10
	VBROADCASTSS geluc<>+68(SB), Z11
	VBROADCASTSS geluc<>+72(SB), Z12
	VBROADCASTSS geluc<>+76(SB), Z13
	VBROADCASTSS geluc<>+80(SB), Z14
	VBROADCASTSS geluc<>+84(SB), Z15
	MOVQ DX, CX
	ANDQ $15, CX
	MOVL $1, AX
	SHLL CX, AX
	DECL AX
	KMOVW AX, K1
	SHRQ $4, DX

gloop:
	TESTQ DX, DX
	JEQ   gtail
	VMOVUPS (DI), Z0
	GELU16
	VMOVUPS Z0, (DI)
	ADDQ $64, DI
	DECQ DX
	JMP  gloop

gtail:
	KTESTW K1, K1
	JEQ    gdone
	VMOVUPS.Z (DI), K1, Z0
	GELU16
	VMOVUPS Z0, K1, (DI)

gdone:
	VZEROUPPER
	RET
