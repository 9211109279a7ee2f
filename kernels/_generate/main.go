// Command _generate writes kernels/qdot_amd64.s, the amd64 integer dot
// products of the quantized MatMul, for two instruction sets:
//
//	avx2:   VPMADDUBSW + VPMADDWD (u8·s8 pairs to int16, then to int32)
//	avx512: VPDPBUSD / VPDPWSSD on ymm registers (AVX-512 VNNI + VL)
//
// Both give the same exact int32 lanes, and both do the float work of the
// Go twins in kernels/quant.go in the same order without fused
// multiply-adds, so every kernel equals its twin bit for bit. ymm, not zmm:
// Zen 4 runs 512-bit operations as two 256-bit halves, and one lane layout
// keeps one twin per weight type.
//
// Each kernel takes one weight row and nr (1 to 4) activation rows and has
// one loop per nr, so a weight block is unpacked once for up to 4 rows.
//
// Run from kernels/: go run ./_generate > qdot_amd64.s
package main

import (
	"fmt"
	"os"
	"strings"
)

var out strings.Builder

// prefetch is how far ahead of the weight block being read the kernels ask
// for the weight bytes: the hardware prefetcher alone leaves decode, which
// streams each weight once, well short of the memory bandwidth.
const prefetch = 1024

func p(format string, args ...any) { fmt.Fprintf(&out, "\t"+format+"\n", args...) }
func label(l string)               { fmt.Fprintf(&out, "%s:\n", l) }

// q and d address activation row r's quants and scale: rows are R8 (R9 =
// 3·R8) bytes apart in DI, R10 (R11 = 3·R10) bytes apart in DX.
func q(r, off int) string {
	return [...]string{"%d(DI)", "%d(DI)(R8*1)", "%d(DI)(R8*2)", "%d(DI)(R9*1)"}[r]
}
func qa(r, off int) string { return fmt.Sprintf(q(r, off), off) }
func da(r int) string {
	return [...]string{"(DX)", "(DX)(R10*1)", "(DX)(R10*2)", "(DX)(R11*1)"}[r]
}

type kernel struct {
	name   string // Go function name
	frame  int    // local bytes
	wbytes int    // weight block bytes
	abytes int    // activation block bytes
	body   func(isa string, nr int)
	init   func(isa string, nr int)
	final  func(nr int)
}

func header(k kernel, isa string) {
	fmt.Fprintf(&out, "\n// func %s%s(out *[4]float32, w *byte, nb int, q *byte, d *float32, ldq, ldd, nr int)\n", k.name, strings.ToUpper(isa[:1])+isa[1:])
	fmt.Fprintf(&out, "TEXT ·%s%s(SB), NOSPLIT, $%d-64\n", k.name, strings.ToUpper(isa[:1])+isa[1:], k.frame)
	p("MOVQ w+8(FP), SI")
	p("MOVQ nb+16(FP), CX")
	p("MOVQ q+24(FP), DI")
	p("MOVQ d+32(FP), DX")
	p("MOVQ ldq+40(FP), R8")
	p("MOVQ ldd+48(FP), R10")
	p("MOVQ nr+56(FP), BX")
	p("LEAQ (R8)(R8*2), R9")
	p("LEAQ (R10)(R10*2), R11")
	p("MOVL $0x0f0f0f0f, R12")
	p("VMOVD R12, X15")
	p("VPBROADCASTD X15, Y15")
	p("MOVL $0x00010001, R12")
	p("VMOVD R12, X14")
	p("VPBROADCASTD X14, Y14")
	for nr := 1; nr < 4; nr++ {
		p("CMPQ BX, $%d", nr)
		p("JEQ rows%d", nr)
	}
	p("JMP rows4")
}

func gen(k kernel, isa string) {
	header(k, isa)
	for nr := 1; nr <= 4; nr++ {
		label(fmt.Sprintf("rows%d", nr))
		k.init(isa, nr)
		label(fmt.Sprintf("loop%d", nr))
		k.body(isa, nr)
		p("ADDQ $%d, SI", k.wbytes)
		p("ADDQ $%d, DI", k.abytes)
		p("ADDQ $4, DX")
		p("DECQ CX")
		p("JNZ loop%d", nr)
		p("MOVQ out+0(FP), AX")
		k.final(nr)
		p("VZEROUPPER")
		p("RET")
	}
}

// The 32-value blocks: 8 float lanes per row in Y0..Y3, reduced as
// kernels.reduce8 does.
func init32(isa string, nr int) {
	for r := 0; r < nr; r++ {
		p("VXORPS Y%d, Y%d, Y%d", r, r, r)
	}
}

func final32(nr int) {
	for r := 0; r < nr; r++ {
		p("VEXTRACTF128 $1, Y%d, X5", r)
		p("VADDPS X5, X%d, X%d", r, r)
		p("VMOVHLPS X%d, X%d, X5", r, r)
		p("VADDPS X5, X%d, X%d", r, r)
		p("VMOVSHDUP X%d, X5", r)
		p("VADDSS X5, X%d, X%d", r, r)
		p("VMOVSS X%d, %d(AX)", r, 4*r)
	}
}

// scale32 turns row r's int32 lanes in Y<t> into floats, scales them by
// d_x then d_w (Y7) and adds them to the row's lanes.
func scale32(r, t, tmp int) {
	p("VCVTDQ2PS Y%d, Y%d", t, t)
	p("VBROADCASTSS %s, Y%d", da(r), tmp)
	p("VMULPS Y%d, Y%d, Y%d", tmp, t, t)
	p("VMULPS Y7, Y%d, Y%d", t, t)
	p("VADDPS Y%d, Y%d, Y%d", t, r, r)
}

// Q4_0: 2-byte fp16 d, 16 bytes of nibbles (value j low, j+16 high).
func bodyQ4_0(isa string, nr int) {
	p("PREFETCHT0 %d(SI)", prefetch)
	p("VPBROADCASTW (SI), X7")
	p("VCVTPH2PS X7, Y7")
	p("VMOVDQU 2(SI), X4")
	p("VPSRLW $4, X4, X5")
	p("VINSERTI128 $1, X5, Y4, Y4")
	p("VPAND Y15, Y4, Y4")
	for r := 0; r < nr; r++ {
		if isa == "avx512" {
			// Start from the stored -8·Σq of each group of 4: the
			// nibbles' offset of 8.
			p("VMOVDQU %s, Y5", qa(r, 32))
			p("VPDPBUSD %s, Y4, Y5", qa(r, 0))
		} else {
			p("VPMADDUBSW %s, Y4, Y5", qa(r, 0))
			p("VPMADDWD Y14, Y5, Y5")
			p("VPADDD %s, Y5, Y5", qa(r, 32))
		}
		scale32(r, 5, 6)
	}
}

// Q8_0: 2-byte fp16 d, 32 signed bytes: |w| times x with w's sign.
func bodyQ8_0(isa string, nr int) {
	p("PREFETCHT0 %d(SI)", prefetch)
	p("VPBROADCASTW (SI), X7")
	p("VCVTPH2PS X7, Y7")
	p("VMOVDQU 2(SI), Y8")
	p("VPABSB Y8, Y4")
	for r := 0; r < nr; r++ {
		p("VMOVDQU %s, Y5", qa(r, 0))
		p("VPSIGNB Y8, Y5, Y5")
		if isa == "avx512" {
			p("VPXOR Y6, Y6, Y6")
			p("VPDPBUSD Y5, Y4, Y6")
		} else {
			p("VPMADDUBSW Y5, Y4, Y6")
			p("VPMADDWD Y14, Y6, Y6")
		}
		scale32(r, 6, 5)
	}
}

// Q4_K: per row, the int32 lanes of Σ sc·(q·x) in Y0..Y3 (reset per
// block) and the float pair (Σ d_x·d·A, Σ d_x·dmin·B) in X8..X11. Locals:
// 0(SP) the 8 scale bytes, 8(SP) the 8 min bytes, 16(SP) the scales as
// int16.
func initQ4_K(isa string, nr int) {
	for r := 0; r < nr; r++ {
		p("VXORPS Y%d, Y%d, Y%d", 8+r, 8+r, 8+r)
		if isa == "avx512" {
			p("VPXOR Y%d, Y%d, Y%d", r, r, r)
		}
	}
}

func bodyQ4_K(isa string, nr int) {
	p("PREFETCHT0 %d(SI)", prefetch)
	p("PREFETCHT0 %d(SI)", prefetch+64)
	p("PREFETCHT0 %d(SI)", prefetch+128)
	// ggml's scale unpacking (utmp, kmask1..3) on the 12 bytes at 4(SI).
	p("MOVL 12(SI), BX")
	p("MOVL BX, R13")
	p("ANDL $0x0f0f0f0f, R13")
	p("MOVL 4(SI), R12")
	p("MOVL R12, AX")
	p("SHRL $6, AX")
	p("ANDL $0x03030303, AX")
	p("SHLL $4, AX")
	p("ORL R13, AX")
	p("ANDL $0x3f3f3f3f, R12")
	p("MOVL R12, 0(SP)")
	p("MOVL AX, 4(SP)")
	p("MOVL 8(SI), R12")
	p("MOVL R12, AX")
	p("SHRL $6, AX")
	p("ANDL $0x03030303, AX")
	p("SHLL $4, AX")
	p("SHRL $4, BX")
	p("ANDL $0x0f0f0f0f, BX")
	p("ORL BX, AX")
	p("ANDL $0x3f3f3f3f, R12")
	p("MOVL R12, 8(SP)")
	p("MOVL AX, 12(SP)")
	p("VPMOVZXBW 0(SP), X12")
	p("VMOVDQU X12, 16(SP)")
	for c := 0; c < 4; c++ {
		p("VMOVDQU %d(SI), Y4", 16+32*c)
		p("VPSRLW $4, Y4, Y5")
		p("VPAND Y15, Y4, Y4")
		p("VPAND Y15, Y5, Y5")
		p("VPBROADCASTW %d(SP), Y6", 16+4*c)
		p("VPBROADCASTW %d(SP), Y7", 18+4*c)
		for r := 0; r < nr; r++ {
			for h, nib := range []int{4, 5} {
				sc := 6 + h
				p("VPMADDUBSW %s, Y%d, Y13", qa(r, 64*c+32*h), nib)
				if isa == "avx512" {
					p("VPDPWSSD Y%d, Y13, Y%d", sc, r)
				} else if c == 0 && h == 0 {
					p("VPMADDWD Y%d, Y13, Y%d", sc, r)
				} else {
					p("VPMADDWD Y%d, Y13, Y13", sc)
					p("VPADDD Y13, Y%d, Y%d", r, r)
				}
			}
		}
	}
	// Mins, duplicated per pair of bsums: VPMADDWD gives m_s·(two bsums).
	p("VPMOVZXBW 8(SP), X13")
	p("VPUNPCKLWD X13, X13, X5")
	p("VPUNPCKHWD X13, X13, X6")
	p("VINSERTI128 $1, X6, Y5, Y13")
	p("MOVL (SI), R12")
	p("VMOVD R12, X7")
	p("VCVTPH2PS X7, X7")
	for r := 0; r < nr; r++ {
		p("VPMADDWD %s, Y13, Y4", qa(r, 256))
		p("VPHADDD Y4, Y%d, Y4", r)
		p("VEXTRACTI128 $1, Y4, X5")
		p("VPADDD X5, X4, X4")
		p("VPHADDD X4, X4, X4")
		p("VCVTDQ2PS X4, X4")
		p("VBROADCASTSS %s, X5", da(r))
		p("VMULPS X7, X5, X5")
		p("VMULPS X5, X4, X4")
		p("VADDPS X4, X%d, X%d", 8+r, 8+r)
		if isa == "avx512" {
			p("VPXOR Y%d, Y%d, Y%d", r, r, r)
		}
	}
}

func finalQ4_K(nr int) {
	for r := 0; r < nr; r++ {
		p("VMOVSHDUP X%d, X5", 8+r)
		p("VSUBSS X5, X%d, X%d", 8+r, 8+r)
		p("VMOVSS X%d, %d(AX)", 8+r, 4*r)
	}
}

func main() {
	fmt.Fprintln(&out, "// Code generated by go run ./_generate; DO NOT EDIT.")
	fmt.Fprintln(&out, "\n//go:build !noasm\n\n#include \"textflag.h\"")
	ks := []kernel{
		{name: "q4_0Dot", wbytes: 18, abytes: 64, init: init32, body: bodyQ4_0, final: final32},
		{name: "q8_0Dot", wbytes: 34, abytes: 64, init: init32, body: bodyQ8_0, final: final32},
		{name: "q4_KDot", frame: 32, wbytes: 144, abytes: 288, init: initQ4_K, body: bodyQ4_K, final: finalQ4_K},
	}
	for _, isa := range []string{"avx2", "avx512"} {
		for _, k := range ks {
			gen(k, isa)
		}
	}
	os.Stdout.WriteString(out.String())
}
