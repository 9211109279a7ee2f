package main

import "fmt"

// The Advanced SIMD instructions Go's arm64 assembler does not know
// (go1.26: SDOT, SMULL, SMLAL, SADDLP, SADALP, SSHLL, SSHR, integer MUL and
// MLA, FMUL, FADD, FSUB, FADDP, SCVTF and FCVTL on vectors, and LD4 to one
// lane), encoded by hand from the Arm ARM (DDI 0487, C7.2). Each is written
// as a WORD followed by the instruction in Arm syntax, which enc_test.go
// assembles with llvm-mc and compares.

func word(w uint32, format string, args ...any) {
	fmt.Fprintf(&out, "\tWORD $0x%08x // %s\n", w, fmt.Sprintf(format, args...))
}

// rdnm places the register fields Rd (0..4), Rn (5..9) and Rm (16..20).
func rdnm(d, n, m int) uint32 { return uint32(d) | uint32(n)<<5 | uint32(m)<<16 }

// elem places a by-element operand: register m (M:Rm, any of V0..V31 for
// 32-bit elements) and index i as H:L.
func elem(m, i int) uint32 { return uint32(m)<<16 | uint32(i&1)<<21 | uint32(i>>1)<<11 }

func two(b bool) (uint32, string) {
	if b {
		return 1 << 30, "2"
	}
	return 0, ""
}

// sdotElem: SDOT Vd.4S, Vn.16B, Vm.4B[i] (FEAT_DotProd): each int32 lane
// of d adds the dot product of its 4 signed bytes of n with bytes
// 4i..4i+3 of m.
func sdotElem(d, n, m, i int) {
	word(0x4f80e000|rdnm(d, n, 0)|elem(m, i), "sdot v%d.4s, v%d.16b, v%d.4b[%d]", d, n, m, i)
}

// smull: SMULL(2) Vd.8H, Vn.8B(16B), Vm.8B(16B), signed bytes to int16
// products (the upper 8 bytes for SMULL2).
func smull(d, n, m int, hi bool) {
	q, s := two(hi)
	b := "8b"
	if hi {
		b = "16b"
	}
	word(0x0e20c000|q|rdnm(d, n, m), "smull%s v%d.8h, v%d.%s, v%d.%s", s, d, n, b, m, b)
}

// smlal: SMLAL(2) Vd.8H, Vn.8B(16B), Vm.8B(16B), as smull, accumulating.
func smlal(d, n, m int, hi bool) {
	q, s := two(hi)
	b := "8b"
	if hi {
		b = "16b"
	}
	word(0x0e208000|q|rdnm(d, n, m), "smlal%s v%d.8h, v%d.%s, v%d.%s", s, d, n, b, m, b)
}

// saddlp: SADDLP Vd.4S, Vn.8H (pairs of int16 summed to int32).
func saddlp(d, n int) { word(0x4e602800|rdnm(d, n, 0), "saddlp v%d.4s, v%d.8h", d, n) }

// sadalp: SADALP Vd.4S, Vn.8H (as saddlp, accumulating).
func sadalp(d, n int) { word(0x4e606800|rdnm(d, n, 0), "sadalp v%d.4s, v%d.8h", d, n) }

// sxtl: SSHLL(2) Vd.4S, Vn.4H(8H), #0 (int16 to int32).
func sxtl(d, n int, hi bool) {
	q, s := two(hi)
	h := "4h"
	if hi {
		h = "8h"
	}
	word(0x0f10a400|q|rdnm(d, n, 0), "sshll%s v%d.4s, v%d.%s, #0", s, d, n, h)
}

// sshr: SSHR Vd.4S, Vn.4S, #sh (1 <= sh <= 32).
func sshr(d, n, sh int) {
	word(0x4f000400|rdnm(d, n, 0)|uint32(64-sh)<<16, "sshr v%d.4s, v%d.4s, #%d", d, n, sh)
}

// mla: MLA Vd.4S, Vn.4S, Vm.4S (int32, modulo 2³²).
func mla(d, n, m int) { word(0x4ea09400|rdnm(d, n, m), "mla v%d.4s, v%d.4s, v%d.4s", d, n, m) }

// mulElem: MUL Vd.4S, Vn.4S, Vm.S[i].
func mulElem(d, n, m, i int) {
	word(0x4f808000|rdnm(d, n, 0)|elem(m, i), "mul v%d.4s, v%d.4s, v%d.s[%d]", d, n, m, i)
}

// mlaElem: MLA Vd.4S, Vn.4S, Vm.S[i].
func mlaElem(d, n, m, i int) {
	word(0x6f800000|rdnm(d, n, 0)|elem(m, i), "mla v%d.4s, v%d.4s, v%d.s[%d]", d, n, m, i)
}

// scvtf: SCVTF Vd.4S, Vn.4S (int32 to float32, rounding to nearest as
// Go's float32(int32) does).
func scvtf(d, n int) { word(0x4e21d800|rdnm(d, n, 0), "scvtf v%d.4s, v%d.4s", d, n) }

// fcvtl: FCVTL(2) Vd.4S, Vn.4H(8H): fp16 to float32 (exact).
func fcvtl(d, n int, hi bool) {
	q, s := two(hi)
	h := "4h"
	if hi {
		h = "8h"
	}
	word(0x0e217800|q|rdnm(d, n, 0), "fcvtl%s v%d.4s, v%d.%s", s, d, n, h)
}

// fmul, fadd, fsub: the float32 vector operations (Vd = Vn op Vm),
// each rounded on its own: never fused.
func fmul(d, n, m int) { word(0x6e20dc00|rdnm(d, n, m), "fmul v%d.4s, v%d.4s, v%d.4s", d, n, m) }
func fadd(d, n, m int) { word(0x4e20d400|rdnm(d, n, m), "fadd v%d.4s, v%d.4s, v%d.4s", d, n, m) }
func fsub(d, n, m int) { word(0x4ea0d400|rdnm(d, n, m), "fsub v%d.4s, v%d.4s, v%d.4s", d, n, m) }

// fmulElem: FMUL Vd.4S, Vn.4S, Vm.S[i].
func fmulElem(d, n, m, i int) {
	word(0x4f809000|rdnm(d, n, 0)|elem(m, i), "fmul v%d.4s, v%d.4s, v%d.s[%d]", d, n, m, i)
}

// ld4Lane: LD4 {Vt.S, Vt+1.S, Vt+2.S, Vt+3.S}[i], [Xn] (post-incremented
// by 16 when post): the 4 dwords at Xn go to lane i of 4 consecutive
// registers, so 4 rows loaded into lanes 0..3 arrive transposed.
func ld4Lane(t, i, n int, post bool) {
	base, suffix := uint32(0x0d60a000), ""
	if post {
		base, suffix = 0x0dffa000, ", #16"
	}
	word(base|uint32(i>>1)<<30|uint32(i&1)<<12|rdnm(t, n, 0), "ld4 {v%d.s, v%d.s, v%d.s, v%d.s}[%d], [x%d]%s",
		t, (t+1)%32, (t+2)%32, (t+3)%32, i, n, suffix)
}

// fabs, fmax, fmaxv, fcvtns: ActQ8 quantization's absolute values,
// maximum, and conversion to int32 rounding to nearest with ties to even
// (ggml's nearest_int on |x| < 2²²).
func fabs(d, n int)    { word(0x4ea0f800|rdnm(d, n, 0), "fabs v%d.4s, v%d.4s", d, n) }
func fmax(d, n, m int) { word(0x4e20f400|rdnm(d, n, m), "fmax v%d.4s, v%d.4s, v%d.4s", d, n, m) }
func fmaxv(d, n int)   { word(0x6e30f800|rdnm(d, n, 0), "fmaxv s%d, v%d.4s", d, n) }
func fcvtns(d, n int)  { word(0x4e21a800|rdnm(d, n, 0), "fcvtns v%d.4s, v%d.4s", d, n) }

// sxtlB: SSHLL(2) Vd.8H, Vn.8B(16B), #0 (int8 to int16).
func sxtlB(d, n int, hi bool) {
	q, s := two(hi)
	b := "8b"
	if hi {
		b = "16b"
	}
	word(0x0f08a400|q|rdnm(d, n, 0), "sshll%s v%d.8h, v%d.%s, #0", s, d, n, b)
}
