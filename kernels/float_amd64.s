//go:build !noasm

#include "textflag.h"

// func dotAsm(a, b *float32, n int) float32
TEXT ·dotAsm(SB), NOSPLIT, $0-28
	MOVQ a+0(FP), SI
	MOVQ b+8(FP), DI
	MOVQ n+16(FP), CX
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	CMPQ CX, $32
	JLT tail8
loop32:
	VMOVUPS (SI), Y4
	VMOVUPS 32(SI), Y5
	VMOVUPS 64(SI), Y6
	VMOVUPS 96(SI), Y7
	VFMADD231PS (DI), Y4, Y0
	VFMADD231PS 32(DI), Y5, Y1
	VFMADD231PS 64(DI), Y6, Y2
	VFMADD231PS 96(DI), Y7, Y3
	ADDQ $128, SI
	ADDQ $128, DI
	SUBQ $32, CX
	CMPQ CX, $32
	JGE loop32
tail8:
	CMPQ CX, $8
	JLT reduce
	VMOVUPS (SI), Y4
	VFMADD231PS (DI), Y4, Y0
	ADDQ $32, SI
	ADDQ $32, DI
	SUBQ $8, CX
	JMP tail8
reduce:
	VADDPS Y1, Y0, Y0
	VADDPS Y3, Y2, Y2
	VADDPS Y2, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPS X1, X0, X0
	VMOVHLPS X0, X0, X1
	VADDPS X1, X0, X0
	VMOVSHDUP X0, X1
	VADDSS X1, X0, X0
	TESTQ CX, CX
	JEQ done
tail1:
	VMOVSS (SI), X1
	VFMADD231SS (DI), X1, X0
	ADDQ $4, SI
	ADDQ $4, DI
	DECQ CX
	JNZ tail1
done:
	VZEROUPPER
	MOVSS X0, ret+24(FP)
	RET

// func axpyAsm(y *float32, a float32, x *float32, n int)
TEXT ·axpyAsm(SB), NOSPLIT, $0-32
	MOVQ y+0(FP), DI
	VBROADCASTSS a+8(FP), Y0
	MOVQ x+16(FP), SI
	MOVQ n+24(FP), CX
	CMPQ CX, $16
	JLT tail8
loop16:
	VMOVUPS (DI), Y1
	VMOVUPS 32(DI), Y2
	VFMADD231PS (SI), Y0, Y1
	VFMADD231PS 32(SI), Y0, Y2
	VMOVUPS Y1, (DI)
	VMOVUPS Y2, 32(DI)
	ADDQ $64, SI
	ADDQ $64, DI
	SUBQ $16, CX
	CMPQ CX, $16
	JGE loop16
tail8:
	CMPQ CX, $8
	JLT tail1
	VMOVUPS (DI), Y1
	VFMADD231PS (SI), Y0, Y1
	VMOVUPS Y1, (DI)
	ADDQ $32, SI
	ADDQ $32, DI
	SUBQ $8, CX
tail1:
	TESTQ CX, CX
	JEQ done
	VMOVSS (DI), X1
	VFMADD231SS (SI), X0, X1
	VMOVSS X1, (DI)
	ADDQ $4, SI
	ADDQ $4, DI
	DECQ CX
	JMP tail1
done:
	VZEROUPPER
	RET

// func dotsAsm(out *float32, q *float32, k *float32, ldk, n, hd int, scale float32)
// out[j] = scale·(q · k[j·ldk : j·ldk+hd]) for j < n; hd is a multiple of 8.
TEXT ·dotsAsm(SB), NOSPLIT, $0-52
	MOVQ out+0(FP), AX
	MOVQ q+8(FP), SI
	MOVQ k+16(FP), DI
	MOVQ ldk+24(FP), R8
	SHLQ $2, R8
	MOVQ n+32(FP), CX
	MOVQ hd+40(FP), R9
	VMOVSS scale+48(FP), X6
	TESTQ CX, CX
	JEQ dotsdone
dotskey:
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	XORQ R10, R10
	MOVQ R9, R11
dots16:
	CMPQ R11, $16
	JLT dots8
	VMOVUPS (SI)(R10*4), Y2
	VMOVUPS 32(SI)(R10*4), Y3
	VFMADD231PS (DI)(R10*4), Y2, Y0
	VFMADD231PS 32(DI)(R10*4), Y3, Y1
	ADDQ $16, R10
	SUBQ $16, R11
	JMP dots16
dots8:
	TESTQ R11, R11
	JEQ dotsreduce
	VMOVUPS (SI)(R10*4), Y2
	VFMADD231PS (DI)(R10*4), Y2, Y0
dotsreduce:
	VADDPS Y1, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPS X1, X0, X0
	VMOVHLPS X0, X0, X1
	VADDPS X1, X0, X0
	VMOVSHDUP X0, X1
	VADDSS X1, X0, X0
	VMULSS X6, X0, X0
	VMOVSS X0, (AX)
	ADDQ $4, AX
	ADDQ R8, DI
	DECQ CX
	JNZ dotskey
dotsdone:
	VZEROUPPER
	RET

// func axpysAsm(acc *float32, p *float32, v *float32, ldv, n, hd int)
// acc[i] += Σ_j p[j]·v[j·ldv+i] for i < hd (a multiple of 8), j < n; the
// accumulator stays in registers, 64 values at a time, while the keys pass.
TEXT ·axpysAsm(SB), NOSPLIT, $0-48
	MOVQ acc+0(FP), DI
	MOVQ p+8(FP), DX
	MOVQ v+16(FP), SI
	MOVQ ldv+24(FP), R8
	SHLQ $2, R8
	MOVQ n+32(FP), R9
	MOVQ hd+40(FP), R10
	TESTQ R9, R9
	JEQ axdone
ax64:
	CMPQ R10, $64
	JLT ax8
	VMOVUPS (DI), Y0
	VMOVUPS 32(DI), Y1
	VMOVUPS 64(DI), Y2
	VMOVUPS 96(DI), Y3
	VMOVUPS 128(DI), Y4
	VMOVUPS 160(DI), Y5
	VMOVUPS 192(DI), Y6
	VMOVUPS 224(DI), Y7
	MOVQ SI, R11
	XORQ CX, CX
ax64key:
	VBROADCASTSS (DX)(CX*4), Y8
	VFMADD231PS (R11), Y8, Y0
	VFMADD231PS 32(R11), Y8, Y1
	VFMADD231PS 64(R11), Y8, Y2
	VFMADD231PS 96(R11), Y8, Y3
	VFMADD231PS 128(R11), Y8, Y4
	VFMADD231PS 160(R11), Y8, Y5
	VFMADD231PS 192(R11), Y8, Y6
	VFMADD231PS 224(R11), Y8, Y7
	ADDQ R8, R11
	INCQ CX
	CMPQ CX, R9
	JLT ax64key
	VMOVUPS Y0, (DI)
	VMOVUPS Y1, 32(DI)
	VMOVUPS Y2, 64(DI)
	VMOVUPS Y3, 96(DI)
	VMOVUPS Y4, 128(DI)
	VMOVUPS Y5, 160(DI)
	VMOVUPS Y6, 192(DI)
	VMOVUPS Y7, 224(DI)
	ADDQ $256, DI
	ADDQ $256, SI
	SUBQ $64, R10
	JMP ax64
ax8:
	TESTQ R10, R10
	JEQ axdone
	VMOVUPS (DI), Y0
	MOVQ SI, R11
	XORQ CX, CX
ax8key:
	VBROADCASTSS (DX)(CX*4), Y8
	VFMADD231PS (R11), Y8, Y0
	ADDQ R8, R11
	INCQ CX
	CMPQ CX, R9
	JLT ax8key
	VMOVUPS Y0, (DI)
	ADDQ $32, DI
	ADDQ $32, SI
	SUBQ $8, R10
	JMP ax8
axdone:
	VZEROUPPER
	RET

// func expsAsm(x *float32, n int, m float32) float32
// x[i] = exp(x[i] - m) for i < n (a multiple of 8), returning Σ x[i]:
// Cephes' expf (range reduction by ln 2 in two parts, degree-6
// polynomial), within 2 ulp of the correctly rounded exp for the
// arguments softmax gives it (x - m <= 0).
TEXT ·expsAsm(SB), NOSPLIT, $0-28
	MOVQ x+0(FP), SI
	MOVQ n+8(FP), CX
	VBROADCASTSS m+16(FP), Y15
	VBROADCASTSS expc<>+0(SB), Y14  // log2(e)
	VBROADCASTSS expc<>+4(SB), Y13  // ln2 hi
	VBROADCASTSS expc<>+8(SB), Y12  // ln2 lo
	VBROADCASTSS expc<>+12(SB), Y11 // lower clamp
	VXORPS Y10, Y10, Y10            // sum
	TESTQ CX, CX
	JEQ expdone
exploop:
	VMOVUPS (SI), Y0
	VSUBPS Y15, Y0, Y0
	VMAXPS Y11, Y0, Y0
	VMULPS Y14, Y0, Y1
	VROUNDPS $0, Y1, Y1             // n = round(x·log2e)
	VFNMADD231PS Y13, Y1, Y0        // r = x - n·ln2hi
	VFNMADD231PS Y12, Y1, Y0        // r -= n·ln2lo
	VBROADCASTSS expc<>+16(SB), Y2
	VBROADCASTSS expc<>+20(SB), Y3
	VFMADD213PS Y3, Y0, Y2
	VBROADCASTSS expc<>+24(SB), Y3
	VFMADD213PS Y3, Y0, Y2
	VBROADCASTSS expc<>+28(SB), Y3
	VFMADD213PS Y3, Y0, Y2
	VBROADCASTSS expc<>+32(SB), Y3
	VFMADD213PS Y3, Y0, Y2
	VBROADCASTSS expc<>+36(SB), Y3
	VFMADD213PS Y3, Y0, Y2          // p
	VMULPS Y0, Y0, Y3               // r²
	VFMADD213PS Y0, Y3, Y2          // p·r² + r
	VBROADCASTSS expc<>+40(SB), Y3
	VADDPS Y3, Y2, Y2               // + 1
	VCVTPS2DQ Y1, Y1
	VPSLLD $23, Y1, Y1
	VPADDD Y1, Y2, Y2               // · 2^n
	VMOVUPS Y2, (SI)
	VADDPS Y2, Y10, Y10
	ADDQ $32, SI
	SUBQ $8, CX
	JNZ exploop
expdone:
	VEXTRACTF128 $1, Y10, X1
	VADDPS X1, X10, X10
	VMOVHLPS X10, X10, X1
	VADDPS X1, X10, X10
	VMOVSHDUP X10, X1
	VADDSS X1, X10, X10
	VZEROUPPER
	MOVSS X10, ret+24(FP)
	RET

DATA expc<>+0(SB)/4, $1.44269504088896341
DATA expc<>+4(SB)/4, $0.693359375
DATA expc<>+8(SB)/4, $-2.12194440e-4
DATA expc<>+12(SB)/4, $-87.3
DATA expc<>+16(SB)/4, $1.9875691500e-4
DATA expc<>+20(SB)/4, $1.3981999507e-3
DATA expc<>+24(SB)/4, $8.3334519073e-3
DATA expc<>+28(SB)/4, $4.1665795894e-2
DATA expc<>+32(SB)/4, $1.6666665459e-1
DATA expc<>+36(SB)/4, $5.0000001201e-1
DATA expc<>+40(SB)/4, $1.0
GLOBL expc<>(SB), RODATA|NOPTR, $44

// EXP computes Y0 = exp(Y0) for Y0 in [-87.3, 88.3] (clamped), Cephes'
// expf as in expsAsm; clobbers Y1..Y3.
#define EXP \
	VMAXPS expk<>+0(SB), Y0, Y0 \
	VMINPS expk<>+32(SB), Y0, Y0 \
	VMULPS expk<>+64(SB), Y0, Y1 \
	VROUNDPS $0, Y1, Y1 \
	VFNMADD231PS expk<>+96(SB), Y1, Y0 \
	VFNMADD231PS expk<>+128(SB), Y1, Y0 \
	VMOVUPS expk<>+160(SB), Y2 \
	VFMADD213PS expk<>+192(SB), Y0, Y2 \
	VFMADD213PS expk<>+224(SB), Y0, Y2 \
	VFMADD213PS expk<>+256(SB), Y0, Y2 \
	VFMADD213PS expk<>+288(SB), Y0, Y2 \
	VFMADD213PS expk<>+320(SB), Y0, Y2 \
	VMULPS Y0, Y0, Y3 \
	VFMADD213PS Y0, Y3, Y2 \
	VADDPS expk<>+352(SB), Y2, Y2 \
	VCVTPS2DQ Y1, Y1 \
	VPSLLD $23, Y1, Y1 \
	VPADDD Y1, Y2, Y0

// func geluAsm(dst, x *float32, n int)
// dst[i] = 0.5·x·(1 + erf(x/√2)) for i < n (a multiple of 8), erf by
// Abramowitz and Stegun 7.1.26 (|error| < 1.5e-7).
TEXT ·geluAsm(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ n+16(FP), CX
	TESTQ CX, CX
	JEQ geludone
geluloop:
	VMOVUPS (SI), Y4                   // x
	VANDPS erfk<>+0(SB), Y4, Y5        // |x|
	VMULPS erfk<>+32(SB), Y5, Y5       // z = |x|/√2
	VMULPS Y5, Y5, Y0
	VXORPS erfk<>+64(SB), Y0, Y0       // -z²
	EXP                                // e = exp(-z²)
	VMOVUPS erfk<>+96(SB), Y6          // 1
	VMOVUPS erfk<>+128(SB), Y8
	VFMADD213PS Y6, Y8, Y5             // 1 + p·z
	VDIVPS Y5, Y6, Y5                  // t
	VMOVUPS erfk<>+160(SB), Y7         // a5
	VFMADD213PS erfk<>+192(SB), Y5, Y7
	VFMADD213PS erfk<>+224(SB), Y5, Y7
	VFMADD213PS erfk<>+256(SB), Y5, Y7
	VFMADD213PS erfk<>+288(SB), Y5, Y7
	VMULPS Y5, Y7, Y7                  // poly
	VFNMADD213PS Y6, Y0, Y7            // erf(z) = 1 - poly·e
	VANDPS erfk<>+64(SB), Y4, Y5       // sign of x
	VXORPS Y5, Y7, Y7                  // erf(x/√2)
	VADDPS Y6, Y7, Y7
	VMULPS Y4, Y7, Y7
	VMULPS erfk<>+320(SB), Y7, Y7      // 0.5·x·(1+erf)
	VMOVUPS Y7, (DI)
	ADDQ $32, SI
	ADDQ $32, DI
	SUBQ $8, CX
	JNZ geluloop
geludone:
	VZEROUPPER
	RET


// Constants of EXP and geluAsm, each broadcast to 8 lanes.
DATA expk<>+0(SB)/4, $0xc2ae999a
DATA expk<>+4(SB)/4, $0xc2ae999a
DATA expk<>+8(SB)/4, $0xc2ae999a
DATA expk<>+12(SB)/4, $0xc2ae999a
DATA expk<>+16(SB)/4, $0xc2ae999a
DATA expk<>+20(SB)/4, $0xc2ae999a
DATA expk<>+24(SB)/4, $0xc2ae999a
DATA expk<>+28(SB)/4, $0xc2ae999a
DATA expk<>+32(SB)/4, $0x42b0999a
DATA expk<>+36(SB)/4, $0x42b0999a
DATA expk<>+40(SB)/4, $0x42b0999a
DATA expk<>+44(SB)/4, $0x42b0999a
DATA expk<>+48(SB)/4, $0x42b0999a
DATA expk<>+52(SB)/4, $0x42b0999a
DATA expk<>+56(SB)/4, $0x42b0999a
DATA expk<>+60(SB)/4, $0x42b0999a
DATA expk<>+64(SB)/4, $0x3fb8aa3b
DATA expk<>+68(SB)/4, $0x3fb8aa3b
DATA expk<>+72(SB)/4, $0x3fb8aa3b
DATA expk<>+76(SB)/4, $0x3fb8aa3b
DATA expk<>+80(SB)/4, $0x3fb8aa3b
DATA expk<>+84(SB)/4, $0x3fb8aa3b
DATA expk<>+88(SB)/4, $0x3fb8aa3b
DATA expk<>+92(SB)/4, $0x3fb8aa3b
DATA expk<>+96(SB)/4, $0x3f318000
DATA expk<>+100(SB)/4, $0x3f318000
DATA expk<>+104(SB)/4, $0x3f318000
DATA expk<>+108(SB)/4, $0x3f318000
DATA expk<>+112(SB)/4, $0x3f318000
DATA expk<>+116(SB)/4, $0x3f318000
DATA expk<>+120(SB)/4, $0x3f318000
DATA expk<>+124(SB)/4, $0x3f318000
DATA expk<>+128(SB)/4, $0xb95e8083
DATA expk<>+132(SB)/4, $0xb95e8083
DATA expk<>+136(SB)/4, $0xb95e8083
DATA expk<>+140(SB)/4, $0xb95e8083
DATA expk<>+144(SB)/4, $0xb95e8083
DATA expk<>+148(SB)/4, $0xb95e8083
DATA expk<>+152(SB)/4, $0xb95e8083
DATA expk<>+156(SB)/4, $0xb95e8083
DATA expk<>+160(SB)/4, $0x39506967
DATA expk<>+164(SB)/4, $0x39506967
DATA expk<>+168(SB)/4, $0x39506967
DATA expk<>+172(SB)/4, $0x39506967
DATA expk<>+176(SB)/4, $0x39506967
DATA expk<>+180(SB)/4, $0x39506967
DATA expk<>+184(SB)/4, $0x39506967
DATA expk<>+188(SB)/4, $0x39506967
DATA expk<>+192(SB)/4, $0x3ab743ce
DATA expk<>+196(SB)/4, $0x3ab743ce
DATA expk<>+200(SB)/4, $0x3ab743ce
DATA expk<>+204(SB)/4, $0x3ab743ce
DATA expk<>+208(SB)/4, $0x3ab743ce
DATA expk<>+212(SB)/4, $0x3ab743ce
DATA expk<>+216(SB)/4, $0x3ab743ce
DATA expk<>+220(SB)/4, $0x3ab743ce
DATA expk<>+224(SB)/4, $0x3c088908
DATA expk<>+228(SB)/4, $0x3c088908
DATA expk<>+232(SB)/4, $0x3c088908
DATA expk<>+236(SB)/4, $0x3c088908
DATA expk<>+240(SB)/4, $0x3c088908
DATA expk<>+244(SB)/4, $0x3c088908
DATA expk<>+248(SB)/4, $0x3c088908
DATA expk<>+252(SB)/4, $0x3c088908
DATA expk<>+256(SB)/4, $0x3d2aa9c1
DATA expk<>+260(SB)/4, $0x3d2aa9c1
DATA expk<>+264(SB)/4, $0x3d2aa9c1
DATA expk<>+268(SB)/4, $0x3d2aa9c1
DATA expk<>+272(SB)/4, $0x3d2aa9c1
DATA expk<>+276(SB)/4, $0x3d2aa9c1
DATA expk<>+280(SB)/4, $0x3d2aa9c1
DATA expk<>+284(SB)/4, $0x3d2aa9c1
DATA expk<>+288(SB)/4, $0x3e2aaaaa
DATA expk<>+292(SB)/4, $0x3e2aaaaa
DATA expk<>+296(SB)/4, $0x3e2aaaaa
DATA expk<>+300(SB)/4, $0x3e2aaaaa
DATA expk<>+304(SB)/4, $0x3e2aaaaa
DATA expk<>+308(SB)/4, $0x3e2aaaaa
DATA expk<>+312(SB)/4, $0x3e2aaaaa
DATA expk<>+316(SB)/4, $0x3e2aaaaa
DATA expk<>+320(SB)/4, $0x3f000000
DATA expk<>+324(SB)/4, $0x3f000000
DATA expk<>+328(SB)/4, $0x3f000000
DATA expk<>+332(SB)/4, $0x3f000000
DATA expk<>+336(SB)/4, $0x3f000000
DATA expk<>+340(SB)/4, $0x3f000000
DATA expk<>+344(SB)/4, $0x3f000000
DATA expk<>+348(SB)/4, $0x3f000000
DATA expk<>+352(SB)/4, $0x3f800000
DATA expk<>+356(SB)/4, $0x3f800000
DATA expk<>+360(SB)/4, $0x3f800000
DATA expk<>+364(SB)/4, $0x3f800000
DATA expk<>+368(SB)/4, $0x3f800000
DATA expk<>+372(SB)/4, $0x3f800000
DATA expk<>+376(SB)/4, $0x3f800000
DATA expk<>+380(SB)/4, $0x3f800000
GLOBL expk<>(SB), RODATA|NOPTR, $384
DATA erfk<>+0(SB)/4, $0x7fffffff
DATA erfk<>+4(SB)/4, $0x7fffffff
DATA erfk<>+8(SB)/4, $0x7fffffff
DATA erfk<>+12(SB)/4, $0x7fffffff
DATA erfk<>+16(SB)/4, $0x7fffffff
DATA erfk<>+20(SB)/4, $0x7fffffff
DATA erfk<>+24(SB)/4, $0x7fffffff
DATA erfk<>+28(SB)/4, $0x7fffffff
DATA erfk<>+32(SB)/4, $0x3f3504f3
DATA erfk<>+36(SB)/4, $0x3f3504f3
DATA erfk<>+40(SB)/4, $0x3f3504f3
DATA erfk<>+44(SB)/4, $0x3f3504f3
DATA erfk<>+48(SB)/4, $0x3f3504f3
DATA erfk<>+52(SB)/4, $0x3f3504f3
DATA erfk<>+56(SB)/4, $0x3f3504f3
DATA erfk<>+60(SB)/4, $0x3f3504f3
DATA erfk<>+64(SB)/4, $0x80000000
DATA erfk<>+68(SB)/4, $0x80000000
DATA erfk<>+72(SB)/4, $0x80000000
DATA erfk<>+76(SB)/4, $0x80000000
DATA erfk<>+80(SB)/4, $0x80000000
DATA erfk<>+84(SB)/4, $0x80000000
DATA erfk<>+88(SB)/4, $0x80000000
DATA erfk<>+92(SB)/4, $0x80000000
DATA erfk<>+96(SB)/4, $0x3f800000
DATA erfk<>+100(SB)/4, $0x3f800000
DATA erfk<>+104(SB)/4, $0x3f800000
DATA erfk<>+108(SB)/4, $0x3f800000
DATA erfk<>+112(SB)/4, $0x3f800000
DATA erfk<>+116(SB)/4, $0x3f800000
DATA erfk<>+120(SB)/4, $0x3f800000
DATA erfk<>+124(SB)/4, $0x3f800000
DATA erfk<>+128(SB)/4, $0x3ea7ba05
DATA erfk<>+132(SB)/4, $0x3ea7ba05
DATA erfk<>+136(SB)/4, $0x3ea7ba05
DATA erfk<>+140(SB)/4, $0x3ea7ba05
DATA erfk<>+144(SB)/4, $0x3ea7ba05
DATA erfk<>+148(SB)/4, $0x3ea7ba05
DATA erfk<>+152(SB)/4, $0x3ea7ba05
DATA erfk<>+156(SB)/4, $0x3ea7ba05
DATA erfk<>+160(SB)/4, $0x3f87dc22
DATA erfk<>+164(SB)/4, $0x3f87dc22
DATA erfk<>+168(SB)/4, $0x3f87dc22
DATA erfk<>+172(SB)/4, $0x3f87dc22
DATA erfk<>+176(SB)/4, $0x3f87dc22
DATA erfk<>+180(SB)/4, $0x3f87dc22
DATA erfk<>+184(SB)/4, $0x3f87dc22
DATA erfk<>+188(SB)/4, $0x3f87dc22
DATA erfk<>+192(SB)/4, $0xbfba00e3
DATA erfk<>+196(SB)/4, $0xbfba00e3
DATA erfk<>+200(SB)/4, $0xbfba00e3
DATA erfk<>+204(SB)/4, $0xbfba00e3
DATA erfk<>+208(SB)/4, $0xbfba00e3
DATA erfk<>+212(SB)/4, $0xbfba00e3
DATA erfk<>+216(SB)/4, $0xbfba00e3
DATA erfk<>+220(SB)/4, $0xbfba00e3
DATA erfk<>+224(SB)/4, $0x3fb5f0e3
DATA erfk<>+228(SB)/4, $0x3fb5f0e3
DATA erfk<>+232(SB)/4, $0x3fb5f0e3
DATA erfk<>+236(SB)/4, $0x3fb5f0e3
DATA erfk<>+240(SB)/4, $0x3fb5f0e3
DATA erfk<>+244(SB)/4, $0x3fb5f0e3
DATA erfk<>+248(SB)/4, $0x3fb5f0e3
DATA erfk<>+252(SB)/4, $0x3fb5f0e3
DATA erfk<>+256(SB)/4, $0xbe91a98e
DATA erfk<>+260(SB)/4, $0xbe91a98e
DATA erfk<>+264(SB)/4, $0xbe91a98e
DATA erfk<>+268(SB)/4, $0xbe91a98e
DATA erfk<>+272(SB)/4, $0xbe91a98e
DATA erfk<>+276(SB)/4, $0xbe91a98e
DATA erfk<>+280(SB)/4, $0xbe91a98e
DATA erfk<>+284(SB)/4, $0xbe91a98e
DATA erfk<>+288(SB)/4, $0x3e827906
DATA erfk<>+292(SB)/4, $0x3e827906
DATA erfk<>+296(SB)/4, $0x3e827906
DATA erfk<>+300(SB)/4, $0x3e827906
DATA erfk<>+304(SB)/4, $0x3e827906
DATA erfk<>+308(SB)/4, $0x3e827906
DATA erfk<>+312(SB)/4, $0x3e827906
DATA erfk<>+316(SB)/4, $0x3e827906
DATA erfk<>+320(SB)/4, $0x3f000000
DATA erfk<>+324(SB)/4, $0x3f000000
DATA erfk<>+328(SB)/4, $0x3f000000
DATA erfk<>+332(SB)/4, $0x3f000000
DATA erfk<>+336(SB)/4, $0x3f000000
DATA erfk<>+340(SB)/4, $0x3f000000
DATA erfk<>+344(SB)/4, $0x3f000000
DATA erfk<>+348(SB)/4, $0x3f000000
GLOBL erfk<>(SB), RODATA|NOPTR, $352

// func quantQ8Asm(q *byte, qstride int, d *float32, dstride int, x *float32, nb int)
// The ActQ8 blocks of one row (kernels.quantizeQ8, bit for bit): per 32
// values d = max|x|/127, q = round-to-even(x·(1/d)) (0 when d is 0), and
// -8·Σq; block b goes to q + b·qstride and d + b·dstride.
TEXT ·quantQ8Asm(SB), NOSPLIT, $0-48
	MOVQ q+0(FP), DI
	MOVQ qstride+8(FP), R8
	MOVQ d+16(FP), DX
	MOVQ dstride+24(FP), R9
	MOVQ x+32(FP), SI
	MOVQ nb+40(FP), CX
	VMOVUPS q8perm<>(SB), Y15
	TESTQ CX, CX
	JEQ qdone
qloop:
	VMOVUPS (SI), Y0
	VMOVUPS 32(SI), Y1
	VMOVUPS 64(SI), Y2
	VMOVUPS 96(SI), Y3
	VANDPS erfk<>+0(SB), Y0, Y4
	VANDPS erfk<>+0(SB), Y1, Y5
	VANDPS erfk<>+0(SB), Y2, Y6
	VANDPS erfk<>+0(SB), Y3, Y7
	VMAXPS Y5, Y4, Y4
	VMAXPS Y7, Y6, Y6
	VMAXPS Y6, Y4, Y4
	VEXTRACTF128 $1, Y4, X5
	VMAXPS X5, X4, X4
	VMOVHLPS X4, X4, X5
	VMAXPS X5, X4, X4
	VMOVSHDUP X4, X5
	VMAXSS X5, X4, X4               // amax
	VDIVSS q8k<>+0(SB), X4, X4      // d = amax/127
	VMOVSS X4, (DX)
	VMOVSS q8k<>+4(SB), X5
	VDIVSS X4, X5, X5               // 1/d
	VXORPS X6, X6, X6
	VCMPSS $4, X6, X4, X6           // d != 0
	VANDPS X6, X5, X5
	VBROADCASTSS X5, Y5
	VMULPS Y5, Y0, Y0
	VMULPS Y5, Y1, Y1
	VMULPS Y5, Y2, Y2
	VMULPS Y5, Y3, Y3
	VCVTPS2DQ Y0, Y0
	VCVTPS2DQ Y1, Y1
	VCVTPS2DQ Y2, Y2
	VCVTPS2DQ Y3, Y3
	VPADDD Y1, Y0, Y4
	VPADDD Y3, Y2, Y5
	VPADDD Y5, Y4, Y4
	VEXTRACTI128 $1, Y4, X5
	VPADDD X5, X4, X4
	VPSHUFD $0x4e, X4, X5
	VPADDD X5, X4, X4
	VPSHUFD $0xb1, X4, X5
	VPADDD X5, X4, X4
	VPSLLD $3, X4, X4
	VPXOR X5, X5, X5
	VPSUBD X4, X5, X4               // -8·Σq
	VPACKSSDW Y1, Y0, Y0
	VPACKSSDW Y3, Y2, Y2
	VPACKSSWB Y2, Y0, Y0
	VPERMD Y0, Y15, Y0
	VMOVDQU Y0, (DI)
	VMOVD X4, 32(DI)
	ADDQ $128, SI
	ADDQ R8, DI
	ADDQ R9, DX
	DECQ CX
	JNZ qloop
qdone:
	VZEROUPPER
	RET

DATA q8k<>+0(SB)/4, $127.0
DATA q8k<>+4(SB)/4, $1.0
GLOBL q8k<>(SB), RODATA|NOPTR, $8
DATA q8perm<>+0(SB)/4, $0
DATA q8perm<>+4(SB)/4, $4
DATA q8perm<>+8(SB)/4, $1
DATA q8perm<>+12(SB)/4, $5
DATA q8perm<>+16(SB)/4, $2
DATA q8perm<>+20(SB)/4, $6
DATA q8perm<>+24(SB)/4, $3
DATA q8perm<>+28(SB)/4, $7
GLOBL q8perm<>(SB), RODATA|NOPTR, $32

// func scaleMaxAsm(x *float32, n int, scale float32) float32
// x[i] *= scale for i < n (a multiple of 8), returning the largest.
TEXT ·scaleMaxAsm(SB), NOSPLIT, $0-28
	MOVQ x+0(FP), SI
	MOVQ n+8(FP), CX
	VBROADCASTSS scale+16(FP), Y1
	VBROADCASTSS smk<>+0(SB), Y0 // -Inf
smloop:
	VMULPS (SI), Y1, Y2
	VMOVUPS Y2, (SI)
	VMAXPS Y2, Y0, Y0
	ADDQ $32, SI
	SUBQ $8, CX
	JNZ smloop
	VEXTRACTF128 $1, Y0, X1
	VMAXPS X1, X0, X0
	VMOVHLPS X0, X0, X1
	VMAXPS X1, X0, X0
	VMOVSHDUP X0, X1
	VMAXSS X1, X0, X0
	VZEROUPPER
	MOVSS X0, ret+24(FP)
	RET

DATA smk<>+0(SB)/4, $0xff800000
GLOBL smk<>(SB), RODATA|NOPTR, $4

// func halfToFloatAsm(dst *float32, src *uint16, n int)
// n (a multiple of 8) binary16 values to float32: VCVTPH2PS is exact.
TEXT ·halfToFloatAsm(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	CMPQ CX, $32
	JB   h2f8
h2f32:
	VCVTPH2PS (SI), Y0
	VCVTPH2PS 16(SI), Y1
	VCVTPH2PS 32(SI), Y2
	VCVTPH2PS 48(SI), Y3
	VMOVUPS Y0, (DI)
	VMOVUPS Y1, 32(DI)
	VMOVUPS Y2, 64(DI)
	VMOVUPS Y3, 96(DI)
	ADDQ $64, SI
	ADDQ $128, DI
	SUBQ $32, CX
	CMPQ CX, $32
	JAE  h2f32
	TESTQ CX, CX
	JZ   h2fdone
h2f8:
	VCVTPH2PS (SI), Y0
	VMOVUPS Y0, (DI)
	ADDQ $16, SI
	ADDQ $32, DI
	SUBQ $8, CX
	JNZ  h2f8
h2fdone:
	VZEROUPPER
	RET

// func floatToHalfAsm(dst *uint16, src *float32, n int)
// n (a multiple of 8) float32 values to binary16, rounding to nearest
// even (immediate 0), as dtype.FP32ToFP16 on every non-NaN value.
TEXT ·floatToHalfAsm(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
f2h8:
	VMOVUPS (SI), Y0
	VCVTPS2PH $0, Y0, (DI)
	ADDQ $32, SI
	ADDQ $16, DI
	SUBQ $8, CX
	JNZ  f2h8
	VZEROUPPER
	RET

// func dotsF16Asm(out *float32, q *float32, k *uint16, ldk, n, hd int, scale float32)
// dotsAsm on binary16 keys (ldk in values), each decoded by VCVTPH2PS
// as it is loaded: the same sums as dotsAsm on the decoded keys.
TEXT ·dotsF16Asm(SB), NOSPLIT, $0-52
	MOVQ out+0(FP), AX
	MOVQ q+8(FP), SI
	MOVQ k+16(FP), DI
	MOVQ ldk+24(FP), R8
	SHLQ $1, R8
	MOVQ n+32(FP), CX
	MOVQ hd+40(FP), R9
	VMOVSS scale+48(FP), X6
	TESTQ CX, CX
	JEQ hdotsdone
hdotskey:
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	XORQ R10, R10
	MOVQ R9, R11
hdots16:
	CMPQ R11, $16
	JLT hdots8
	VCVTPH2PS (DI)(R10*2), Y4
	VCVTPH2PS 16(DI)(R10*2), Y5
	VMOVUPS (SI)(R10*4), Y2
	VMOVUPS 32(SI)(R10*4), Y3
	VFMADD231PS Y4, Y2, Y0
	VFMADD231PS Y5, Y3, Y1
	ADDQ $16, R10
	SUBQ $16, R11
	JMP hdots16
hdots8:
	TESTQ R11, R11
	JEQ hdotsreduce
	VCVTPH2PS (DI)(R10*2), Y4
	VMOVUPS (SI)(R10*4), Y2
	VFMADD231PS Y4, Y2, Y0
hdotsreduce:
	VADDPS Y1, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPS X1, X0, X0
	VMOVHLPS X0, X0, X1
	VADDPS X1, X0, X0
	VMOVSHDUP X0, X1
	VADDSS X1, X0, X0
	VMULSS X6, X0, X0
	VMOVSS X0, (AX)
	ADDQ $4, AX
	ADDQ R8, DI
	DECQ CX
	JNZ hdotskey
hdotsdone:
	VZEROUPPER
	RET

// func axpysF16Asm(acc *float32, p *float32, v *uint16, ldv, n, hd int)
// axpysAsm on binary16 values (ldv in values), decoded as they are loaded.
TEXT ·axpysF16Asm(SB), NOSPLIT, $0-48
	MOVQ acc+0(FP), DI
	MOVQ p+8(FP), DX
	MOVQ v+16(FP), SI
	MOVQ ldv+24(FP), R8
	SHLQ $1, R8
	MOVQ n+32(FP), R9
	MOVQ hd+40(FP), R10
	TESTQ R9, R9
	JEQ haxdone
hax64:
	CMPQ R10, $64
	JLT hax8
	VMOVUPS (DI), Y0
	VMOVUPS 32(DI), Y1
	VMOVUPS 64(DI), Y2
	VMOVUPS 96(DI), Y3
	VMOVUPS 128(DI), Y4
	VMOVUPS 160(DI), Y5
	VMOVUPS 192(DI), Y6
	VMOVUPS 224(DI), Y7
	MOVQ SI, R11
	XORQ CX, CX
hax64key:
	VBROADCASTSS (DX)(CX*4), Y8
	VCVTPH2PS (R11), Y9
	VCVTPH2PS 16(R11), Y10
	VCVTPH2PS 32(R11), Y11
	VCVTPH2PS 48(R11), Y12
	VFMADD231PS Y9, Y8, Y0
	VFMADD231PS Y10, Y8, Y1
	VFMADD231PS Y11, Y8, Y2
	VFMADD231PS Y12, Y8, Y3
	VCVTPH2PS 64(R11), Y13
	VCVTPH2PS 80(R11), Y14
	VCVTPH2PS 96(R11), Y15
	VCVTPH2PS 112(R11), Y9
	VFMADD231PS Y13, Y8, Y4
	VFMADD231PS Y14, Y8, Y5
	VFMADD231PS Y15, Y8, Y6
	VFMADD231PS Y9, Y8, Y7
	ADDQ R8, R11
	INCQ CX
	CMPQ CX, R9
	JLT hax64key
	VMOVUPS Y0, (DI)
	VMOVUPS Y1, 32(DI)
	VMOVUPS Y2, 64(DI)
	VMOVUPS Y3, 96(DI)
	VMOVUPS Y4, 128(DI)
	VMOVUPS Y5, 160(DI)
	VMOVUPS Y6, 192(DI)
	VMOVUPS Y7, 224(DI)
	ADDQ $256, DI
	ADDQ $128, SI
	SUBQ $64, R10
	JMP hax64
hax8:
	TESTQ R10, R10
	JEQ haxdone
	VMOVUPS (DI), Y0
	MOVQ SI, R11
	XORQ CX, CX
hax8key:
	VBROADCASTSS (DX)(CX*4), Y8
	VCVTPH2PS (R11), Y9
	VFMADD231PS Y9, Y8, Y0
	ADDQ R8, R11
	INCQ CX
	CMPQ CX, R9
	JLT hax8key
	VMOVUPS Y0, (DI)
	ADDQ $32, DI
	ADDQ $16, SI
	SUBQ $8, R10
	JMP hax8
haxdone:
	VZEROUPPER
	RET

// func q8ToFloatAsm(dst *float32, src *byte, n int)
// A Q8 row of n values (a multiple of 32): n int8 quants, then n/32
// float32 scales; dst[i] = scale·quant, as q8ToFloat.
TEXT ·q8ToFloatAsm(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	LEAQ (SI)(CX*1), DX
q8f:
	VBROADCASTSS (DX), Y4
	VPMOVSXBD (SI), Y0
	VPMOVSXBD 8(SI), Y1
	VPMOVSXBD 16(SI), Y2
	VPMOVSXBD 24(SI), Y3
	VCVTDQ2PS Y0, Y0
	VCVTDQ2PS Y1, Y1
	VCVTDQ2PS Y2, Y2
	VCVTDQ2PS Y3, Y3
	VMULPS Y4, Y0, Y0
	VMULPS Y4, Y1, Y1
	VMULPS Y4, Y2, Y2
	VMULPS Y4, Y3, Y3
	VMOVUPS Y0, (DI)
	VMOVUPS Y1, 32(DI)
	VMOVUPS Y2, 64(DI)
	VMOVUPS Y3, 96(DI)
	ADDQ $32, SI
	ADDQ $128, DI
	ADDQ $4, DX
	SUBQ $32, CX
	JNZ q8f
	VZEROUPPER
	RET

// func dotsQ8Asm(out *float32, q *float32, k *byte, ldk, n, hd int, scale float32)
// dotsAsm on Q8 key rows (ldk bytes apart, hd a multiple of 32), each
// value decoded as q8ToFloatAsm does just before its FMA: the same sums
// as dotsAsm on the decoded keys.
TEXT ·dotsQ8Asm(SB), NOSPLIT, $0-52
	MOVQ out+0(FP), AX
	MOVQ q+8(FP), SI
	MOVQ k+16(FP), DI
	MOVQ ldk+24(FP), R8
	MOVQ n+32(FP), CX
	MOVQ hd+40(FP), R9
	VMOVSS scale+48(FP), X6
	TESTQ CX, CX
	JEQ qdotsdone
qdotskey:
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	XORQ R10, R10
	LEAQ (DI)(R9*1), DX // the row's scales
qdots32:
	VBROADCASTSS (DX), Y7
	VPMOVSXBD (DI)(R10*1), Y4
	VPMOVSXBD 8(DI)(R10*1), Y5
	VCVTDQ2PS Y4, Y4
	VCVTDQ2PS Y5, Y5
	VMULPS Y7, Y4, Y4
	VMULPS Y7, Y5, Y5
	VMOVUPS (SI)(R10*4), Y2
	VMOVUPS 32(SI)(R10*4), Y3
	VFMADD231PS Y4, Y2, Y0
	VFMADD231PS Y5, Y3, Y1
	VPMOVSXBD 16(DI)(R10*1), Y4
	VPMOVSXBD 24(DI)(R10*1), Y5
	VCVTDQ2PS Y4, Y4
	VCVTDQ2PS Y5, Y5
	VMULPS Y7, Y4, Y4
	VMULPS Y7, Y5, Y5
	VMOVUPS 64(SI)(R10*4), Y2
	VMOVUPS 96(SI)(R10*4), Y3
	VFMADD231PS Y4, Y2, Y0
	VFMADD231PS Y5, Y3, Y1
	ADDQ $4, DX
	ADDQ $32, R10
	CMPQ R10, R9
	JLT qdots32
	VADDPS Y1, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPS X1, X0, X0
	VMOVHLPS X0, X0, X1
	VADDPS X1, X0, X0
	VMOVSHDUP X0, X1
	VADDSS X1, X0, X0
	VMULSS X6, X0, X0
	VMOVSS X0, (AX)
	ADDQ $4, AX
	ADDQ R8, DI
	DECQ CX
	JNZ qdotskey
qdotsdone:
	VZEROUPPER
	RET

// func axpysQ8Asm(acc *float32, p *float32, v *byte, ldv, n, hd int)
// axpysAsm on Q8 value rows (ldv bytes apart, hd a multiple of 32), each
// value decoded as q8ToFloatAsm does just before its FMA.
TEXT ·axpysQ8Asm(SB), NOSPLIT, $0-48
	MOVQ acc+0(FP), DI
	MOVQ p+8(FP), DX
	MOVQ v+16(FP), SI
	MOVQ ldv+24(FP), R8
	MOVQ n+32(FP), R9
	MOVQ hd+40(FP), R10
	LEAQ (SI)(R10*1), BX // the first row's scales
	TESTQ R9, R9
	JEQ qaxdone
qax32:
	CMPQ R10, $32
	JLT qaxdone
	VMOVUPS (DI), Y0
	VMOVUPS 32(DI), Y1
	VMOVUPS 64(DI), Y2
	VMOVUPS 96(DI), Y3
	MOVQ SI, R11
	MOVQ BX, R12
	XORQ CX, CX
qax32key:
	VBROADCASTSS (DX)(CX*4), Y8
	VBROADCASTSS (R12), Y13
	VPMOVSXBD (R11), Y9
	VPMOVSXBD 8(R11), Y10
	VPMOVSXBD 16(R11), Y11
	VPMOVSXBD 24(R11), Y12
	VCVTDQ2PS Y9, Y9
	VCVTDQ2PS Y10, Y10
	VCVTDQ2PS Y11, Y11
	VCVTDQ2PS Y12, Y12
	VMULPS Y13, Y9, Y9
	VMULPS Y13, Y10, Y10
	VMULPS Y13, Y11, Y11
	VMULPS Y13, Y12, Y12
	VFMADD231PS Y9, Y8, Y0
	VFMADD231PS Y10, Y8, Y1
	VFMADD231PS Y11, Y8, Y2
	VFMADD231PS Y12, Y8, Y3
	ADDQ R8, R11
	ADDQ R8, R12
	INCQ CX
	CMPQ CX, R9
	JLT qax32key
	VMOVUPS Y0, (DI)
	VMOVUPS Y1, 32(DI)
	VMOVUPS Y2, 64(DI)
	VMOVUPS Y3, 96(DI)
	ADDQ $128, DI
	ADDQ $32, SI
	ADDQ $4, BX
	SUBQ $32, R10
	JMP qax32
qaxdone:
	VZEROUPPER
	RET

// func dotsQ8Avx512(out *float32, q *float32, k *byte, ldk, n, hd int, scale float32)
// dotsQ8Asm on zmm registers: Z0's lane l accumulates the values i with
// i mod 16 = l, as Y0 (l < 8) and Y1 (l >= 8) do there, in the same order,
// and the two halves are added as Y0 + Y1: the same float32 result.
TEXT ·dotsQ8Avx512(SB), NOSPLIT, $0-52
	MOVQ out+0(FP), AX
	MOVQ q+8(FP), SI
	MOVQ k+16(FP), DI
	MOVQ ldk+24(FP), R8
	MOVQ n+32(FP), CX
	MOVQ hd+40(FP), R9
	VMOVSS scale+48(FP), X6
	TESTQ CX, CX
	JEQ zdotsdone
zdotskey:
	VPXORD Z0, Z0, Z0
	XORQ R10, R10
	LEAQ (DI)(R9*1), DX
zdots32:
	VBROADCASTSS (DX), Z7
	VPMOVSXBD (DI)(R10*1), Z4
	VPMOVSXBD 16(DI)(R10*1), Z5
	VCVTDQ2PS Z4, Z4
	VCVTDQ2PS Z5, Z5
	VMULPS Z7, Z4, Z4
	VMULPS Z7, Z5, Z5
	VFMADD231PS (SI)(R10*4), Z4, Z0
	VFMADD231PS 64(SI)(R10*4), Z5, Z0
	ADDQ $4, DX
	ADDQ $32, R10
	CMPQ R10, R9
	JLT zdots32
	VEXTRACTF64X4 $1, Z0, Y1
	VADDPS Y1, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPS X1, X0, X0
	VMOVHLPS X0, X0, X1
	VADDPS X1, X0, X0
	VMOVSHDUP X0, X1
	VADDSS X1, X0, X0
	VMULSS X6, X0, X0
	VMOVSS X0, (AX)
	ADDQ $4, AX
	ADDQ R8, DI
	DECQ CX
	JNZ zdotskey
zdotsdone:
	VZEROUPPER
	RET

// func axpysQ8Avx512(acc *float32, p *float32, v *byte, ldv, n, hd int)
// axpysQ8Asm on zmm registers, 64 values at a time (per lane the same
// FMAs in the same order).
TEXT ·axpysQ8Avx512(SB), NOSPLIT, $0-48
	MOVQ acc+0(FP), DI
	MOVQ p+8(FP), DX
	MOVQ v+16(FP), SI
	MOVQ ldv+24(FP), R8
	MOVQ n+32(FP), R9
	MOVQ hd+40(FP), R10
	LEAQ (SI)(R10*1), BX
	TESTQ R9, R9
	JEQ zaxdone
zax64:
	CMPQ R10, $64
	JLT zax32
	VMOVUPS (DI), Z0
	VMOVUPS 64(DI), Z1
	VMOVUPS 128(DI), Z2
	VMOVUPS 192(DI), Z3
	MOVQ SI, R11
	MOVQ BX, R12
	XORQ CX, CX
zax64key:
	VBROADCASTSS (DX)(CX*4), Z8
	VBROADCASTSS (R12), Z13
	VBROADCASTSS 4(R12), Z14
	VPMOVSXBD (R11), Z9
	VPMOVSXBD 16(R11), Z10
	VPMOVSXBD 32(R11), Z11
	VPMOVSXBD 48(R11), Z12
	VCVTDQ2PS Z9, Z9
	VCVTDQ2PS Z10, Z10
	VCVTDQ2PS Z11, Z11
	VCVTDQ2PS Z12, Z12
	VMULPS Z13, Z9, Z9
	VMULPS Z13, Z10, Z10
	VMULPS Z14, Z11, Z11
	VMULPS Z14, Z12, Z12
	VFMADD231PS Z9, Z8, Z0
	VFMADD231PS Z10, Z8, Z1
	VFMADD231PS Z11, Z8, Z2
	VFMADD231PS Z12, Z8, Z3
	ADDQ R8, R11
	ADDQ R8, R12
	INCQ CX
	CMPQ CX, R9
	JLT zax64key
	VMOVUPS Z0, (DI)
	VMOVUPS Z1, 64(DI)
	VMOVUPS Z2, 128(DI)
	VMOVUPS Z3, 192(DI)
	ADDQ $256, DI
	ADDQ $64, SI
	ADDQ $8, BX
	SUBQ $64, R10
	JMP zax64
zax32:
	TESTQ R10, R10
	JEQ zaxdone
	VMOVUPS (DI), Z0
	VMOVUPS 64(DI), Z1
	MOVQ SI, R11
	MOVQ BX, R12
	XORQ CX, CX
zax32key:
	VBROADCASTSS (DX)(CX*4), Z8
	VBROADCASTSS (R12), Z13
	VPMOVSXBD (R11), Z9
	VPMOVSXBD 16(R11), Z10
	VCVTDQ2PS Z9, Z9
	VCVTDQ2PS Z10, Z10
	VMULPS Z13, Z9, Z9
	VMULPS Z13, Z10, Z10
	VFMADD231PS Z9, Z8, Z0
	VFMADD231PS Z10, Z8, Z1
	ADDQ R8, R11
	ADDQ R8, R12
	INCQ CX
	CMPQ CX, R9
	JLT zax32key
	VMOVUPS Z0, (DI)
	VMOVUPS Z1, 64(DI)
zaxdone:
	VZEROUPPER
	RET
