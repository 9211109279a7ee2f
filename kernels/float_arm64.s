//go:build !noasm

#include "textflag.h"

// Dot and Axpy on Advanced SIMD (ARMv8.0). Go's assembler has VFMLA but
// no vector FADD/FADDP: those are WORDs, each followed by the instruction
// it encodes (checked by kernels/_generate_arm64's test against llvm-mc).

// func dotNeonAsm(a, b *float32, n int) float32
TEXT ·dotNeonAsm(SB), NOSPLIT, $0-28
	MOVD a+0(FP), R0
	MOVD b+8(FP), R1
	MOVD n+16(FP), R2
	VEOR V16.B16, V16.B16, V16.B16
	VEOR V17.B16, V17.B16, V17.B16
	VEOR V18.B16, V18.B16, V18.B16
	VEOR V19.B16, V19.B16, V19.B16

dotloop:
	VLD1.P 64(R0), [V0.S4, V1.S4, V2.S4, V3.S4]
	VLD1.P 64(R1), [V4.S4, V5.S4, V6.S4, V7.S4]
	VFMLA V4.S4, V0.S4, V16.S4
	VFMLA V5.S4, V1.S4, V17.S4
	VFMLA V6.S4, V2.S4, V18.S4
	VFMLA V7.S4, V3.S4, V19.S4
	SUBS $16, R2, R2
	BNE  dotloop
	WORD $0x4e31d610 // fadd v16.4s, v16.4s, v17.4s
	WORD $0x4e33d652 // fadd v18.4s, v18.4s, v19.4s
	WORD $0x4e32d610 // fadd v16.4s, v16.4s, v18.4s
	WORD $0x6e30d610 // faddp v16.4s, v16.4s, v16.4s
	WORD $0x6e30d610 // faddp v16.4s, v16.4s, v16.4s
	FMOVS F16, ret+24(FP)
	RET

// func axpyNeonAsm(y *float32, a float32, x *float32, n int)
TEXT ·axpyNeonAsm(SB), NOSPLIT, $0-32
	MOVD  y+0(FP), R0
	FMOVS a+8(FP), F16
	MOVD  x+16(FP), R1
	MOVD  n+24(FP), R2
	VDUP  V16.S[0], V16.S4

axpyloop:
	VLD1   (R0), [V0.S4, V1.S4, V2.S4, V3.S4]
	VLD1.P 64(R1), [V4.S4, V5.S4, V6.S4, V7.S4]
	VFMLA  V4.S4, V16.S4, V0.S4
	VFMLA  V5.S4, V16.S4, V1.S4
	VFMLA  V6.S4, V16.S4, V2.S4
	VFMLA  V7.S4, V16.S4, V3.S4
	VST1.P [V0.S4, V1.S4, V2.S4, V3.S4], 64(R0)
	SUBS   $16, R2, R2
	BNE    axpyloop
	RET
