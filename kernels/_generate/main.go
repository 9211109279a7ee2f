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

// prefetchTiles is log2 of how many rows ahead the column tiles prefetch:
// 8, the next tile (16 measured no better at decode).
const prefetchTiles = 3

func p(format string, args ...any) { fmt.Fprintf(&out, "\t"+format+"\n", args...) }
func label(l string)               { fmt.Fprintf(&out, "%s:\n", l) }

// qa and da address activation row r's quants (at off) and scale in the
// current block: activations are block-major (kernels.Activations), rows
// q8KStride bytes apart from DI, scales 4 bytes apart from DX; R8 and R10
// hold the strides to the next block.
const q8KStride = 368

func qa(r, off int) string { return fmt.Sprintf("%d(DI)", off+r*q8KStride) }
func da(r int) string      { return fmt.Sprintf("%d(DX)", 4*r) }

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
		p("ADDQ R8, DI")
		p("ADDQ R10, DX")
		p("DECQ CX")
		p("JNZ loop%d", nr)
		p("MOVQ out+0(FP), AX")
		k.final(nr)
		p("VZEROUPPER")
		p("RET")
	}
}

// Q4_K, a row at a time (avx2): per row, the int32 lanes of Σ sc·(q·x) in
// Y0..Y3 (reset per block) and the float sum in X8..X11. Locals:
// 8(SP) the 8 min bytes, 16(SP) the scales as int16.
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
	// The 8 scale bytes as one quadword, kept in a register: a vector
	// load of two 4-byte stores waits for them (no store forwarding).
	p("SHLQ $32, AX")
	p("ORQ R12, AX")
	p("VMOVQ AX, X12")
	p("MOVL 8(SI), R12")
	p("MOVL R12, AX")
	p("SHRL $6, AX")
	p("ANDL $0x03030303, AX")
	p("SHLL $4, AX")
	p("SHRL $4, BX")
	p("ANDL $0x0f0f0f0f, BX")
	p("ORL BX, AX")
	p("ANDL $0x3f3f3f3f, R12")
	p("SHLQ $32, AX")
	p("ORQ R12, AX")
	p("MOVQ AX, 8(SP)")
	p("VPMOVZXBW X12, X12")
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
		p("VMOVSHDUP X4, X5")
		p("VSUBSS X5, X4, X4")
		p("VADDSS X4, X%d, X%d", 8+r, 8+r)
		if isa == "avx512" {
			p("VPXOR Y%d, Y%d, Y%d", r, r, r)
		}
	}
}

// Q6_K, a row at a time (avx2): per half of a block, the 32 qh bytes (Y6)
// and 64 ql bytes (Y4, Y5) give the 6-bit quants of 4 runs of 32 values
// (Y7); each run meets the activation in VPMADDUBSW (pairs of u6·s8, at
// most 16002) and, by VPMADDWD, the int16 scales of its two groups of 16
// (Y12: a VPSHUFB of the 16 scale bytes, sign-extended), summed into the
// row's int32 lanes (Y0..Y3). Then A = Σ lanes - 32·Σ sc·bsum16 exactly,
// and the float sum (X8..X11) takes (d_x·d)·A, as dotQ6_KGo.
func bodyQ6_K(isa string, nr int) {
	for off := 0; off < 256; off += 64 {
		p("PREFETCHT0 %d(SI)", prefetch+off)
	}
	for h := 0; h < 2; h++ {
		p("VMOVDQU %d(SI), Y4", 64*h)
		p("VMOVDQU %d(SI), Y5", 64*h+32)
		p("VMOVDQU %d(SI), Y6", 128+32*h)
		for j := 0; j < 4; j++ { // u1..u4: values 128h + 32j + l
			switch j {
			case 0: // ql[l] & 15 | (qh & 3) << 4
				p("VPAND Y15, Y4, Y7")
				p("VPAND k03<>(SB), Y6, Y14")
				p("VPSLLW $4, Y14, Y14")
			case 1: // ql[l+32] & 15 | (qh & 12) << 2
				p("VPAND Y15, Y5, Y7")
				p("VPAND k0c<>(SB), Y6, Y14")
				p("VPSLLW $2, Y14, Y14")
			case 2: // ql[l] >> 4 | qh & 48
				p("VPSRLW $4, Y4, Y7")
				p("VPAND Y15, Y7, Y7")
				p("VPAND k30<>(SB), Y6, Y14")
			case 3: // ql[l+32] >> 4 | (qh & 192) >> 2
				p("VPSRLW $4, Y5, Y7")
				p("VPAND Y15, Y7, Y7")
				p("VPAND kc0<>(SB), Y6, Y14")
				p("VPSRLW $2, Y14, Y14")
			}
			p("VPOR Y14, Y7, Y7")
			// Scales of groups 8h+2j and 8h+2j+1, eight int16 each.
			p("VMOVDQU 192(SI), X12")
			p("VPSHUFB scpair%d<>(SB), X12, X12", 4*h+j)
			p("VPMOVSXBW X12, Y12")
			for r := 0; r < nr; r++ {
				p("VPMADDUBSW %s, Y7, Y13", qa(r, 128*h+32*j))
				if h == 0 && j == 0 {
					p("VPMADDWD Y12, Y13, Y%d", r)
				} else {
					p("VPMADDWD Y12, Y13, Y13")
					p("VPADDD Y13, Y%d, Y%d", r, r)
				}
			}
		}
	}
	// d, then per row: A = Σ lanes - 32·Σ_j sc_j·bsum_j, sum += (d_x·d)·A.
	p("MOVWLZX 208(SI), R12")
	p("VMOVD R12, X14")
	p("VCVTPH2PS X14, X14")
	p("VPMOVSXBW 192(SI), Y7")
	for r := 0; r < nr; r++ {
		p("VPMADDWD %s, Y7, Y13", qa(r, 256))
		p("VPSLLD $5, Y13, Y13")
		p("VPSUBD Y13, Y%d, Y%d", r, r)
		p("VEXTRACTI128 $1, Y%d, X13", r)
		p("VPADDD X13, X%d, X13", r)
		p("VPSHUFD $0x4e, X13, X12")
		p("VPADDD X12, X13, X13")
		p("VPSHUFD $0xb1, X13, X12")
		p("VPADDD X12, X13, X13")
		p("VCVTDQ2PS X13, X13")
		p("VMOVSS %s, X12", da(r))
		p("VMULSS X14, X12, X12")
		p("VMULSS X12, X13, X13")
		p("VADDSS X13, X%d, X%d", 8+r, 8+r)
	}
}

func finalQ4_K(nr int) {
	for r := 0; r < nr; r++ {
		p("VMOVSS X%d, %d(AX)", 8+r, 4*r)
	}
}

func main() {
	fmt.Fprintln(&out, "// Code generated by go run ./_generate; DO NOT EDIT.")
	fmt.Fprintln(&out, "\n//go:build !noasm\n\n#include \"textflag.h\"")
	ks := []kernel{
		{name: "q4_KDot", frame: 32, wbytes: 144, abytes: 288, init: initQ4_K, body: bodyQ4_K, final: finalQ4_K},
		{name: "q6_KDot", frame: 0, wbytes: 210, abytes: 368, init: initQ4_K, body: bodyQ6_K, final: finalQ4_K},
	}
	for _, k := range ks {
		gen(k, "avx2")
	}
	for _, isa := range []string{"avx2", "avx512"} {
		genTile("q4_0", isa)
		genTile("q8_0", isa)
	}
	genTileQ4_K()
	genTileQ6_K()
	genPack("q4_0")
	genPackedTile("q4_0")
	genPack("q8_0")
	genPackedTile("q8_0")
	genPackQ4_K()
	genPackedTileQ4_K()
	genPackQ4_KAvx2()
	genPackedTileQ4_KAvx2()
	genGemm("gemmF32Avx2", 3, 3, false, false)
	genGemm("gemmF16Avx2", 3, 3, true, false)
	genGemm("gemmF32Avx512", 4, 4, false, true)
	genGemm("gemmF16Avx512", 4, 4, true, true)
	genGemm("gemvF32x3Avx2", 1, 3, false, false)
	genGemm("gemvF16x3Avx2", 1, 3, true, false)
	genGemm("gemvF32x4Avx2", 1, 4, false, false)
	genGemm("gemvF16x4Avx2", 1, 4, true, false)
	constants()
	os.Stdout.WriteString(out.String())
}

// ---- Column tiles (Q4_0, Q8_0): 8 weight rows at once, transposed so that
// ymm lane c holds weight row c. For each group k of 4 values of a block,
// V_k (Y8..Y15) holds the 4 bytes of every row; an activation row's 4 bytes
// of group k, broadcast, meet all 8 rows in one VPDPBUSD, and after the 8
// groups lane c holds row c's exact block sum. Scaling by d_x and d_w then
// costs 4 vector operations per block for 8 outputs, against 4 per output
// for a row-at-a-time kernel. Weight rows are rb bytes apart (R8 = rb,
// R9 = 3rb, R10 = 5rb, R11 = 7rb from SI); activation blocks are
// block-major (ActQ8): row r of block b at DI + r·36, the next block R12
// bytes on, its scale at DX + 4r, the next block's R13 bytes on.

func wcol(c, off int) string {
	return fmt.Sprintf([...]string{"%d(SI)", "%d(SI)(R8*1)", "%d(SI)(R8*2)", "%d(SI)(R9*1)",
		"%d(SI)(R8*4)", "%d(SI)(R10*1)", "%d(SI)(R9*2)", "%d(SI)(R11*1)"}[c], off)
}

// transpose4 loads the 16 bytes at off of the 8 rows and leaves dword j of
// every row (lane c = row c) in register res[j]; out are 4 registers to
// fill, t 3 temporaries.
func transpose4(off int, out [4]int, t [3]int) (res [4]int) {
	for i := 0; i < 4; i++ { // out[i] = row i | row i+4
		p("VMOVDQU %s, X%d", wcol(i, off), out[i])
		p("VINSERTI128 $1, %s, Y%d, Y%d", wcol(i+4, off), out[i], out[i])
	}
	p("VPUNPCKLDQ Y%d, Y%d, Y%d", out[1], out[0], t[0]) // A0 B0 A1 B1
	p("VPUNPCKHDQ Y%d, Y%d, Y%d", out[1], out[0], t[1]) // A2 B2 A3 B3
	p("VPUNPCKLDQ Y%d, Y%d, Y%d", out[3], out[2], t[2]) // C0 D0 C1 D1
	p("VPUNPCKHDQ Y%d, Y%d, Y%d", out[3], out[2], out[0])
	p("VPUNPCKLQDQ Y%d, Y%d, Y%d", t[2], t[0], out[1])   // A0 B0 C0 D0
	p("VPUNPCKHQDQ Y%d, Y%d, Y%d", t[2], t[0], out[2])   // A1 B1 C1 D1
	p("VPUNPCKLQDQ Y%d, Y%d, Y%d", out[0], t[1], out[3]) // A2 ...
	p("VPUNPCKHQDQ Y%d, Y%d, Y%d", out[0], t[1], out[0]) // A3 ...
	return [4]int{out[1], out[2], out[3], out[0]}
}

func genTile(typ, isa string) {
	name := typ + "Tile" + strings.ToUpper(isa[:1]) + isa[1:]
	maxRows, wbytes := 4, 18
	if isa == "avx512" {
		maxRows = 8
	}
	if typ == "q8_0" {
		wbytes = 34
	}
	fmt.Fprintf(&out, "\n// func %s(dst *float32, ldDst int, w *byte, rb, nb int, q *byte, qstride int, d *float32, dstride, nr int)\n", name)
	fmt.Fprintf(&out, "TEXT ·%s(SB), NOSPLIT, $0-80\n", name)
	p("MOVQ w+16(FP), SI")
	p("MOVQ rb+24(FP), R8")
	p("LEAQ (R8)(R8*2), R9")
	p("LEAQ (R8)(R8*4), R10")
	p("LEAQ (R9)(R8*4), R11")
	p("MOVQ nb+32(FP), CX")
	p("MOVQ q+40(FP), DI")
	p("MOVQ qstride+48(FP), R12")
	p("MOVQ d+56(FP), DX")
	p("MOVQ dstride+64(FP), R13")
	p("MOVQ nr+72(FP), AX")
	// BX walks the next tile's weights (the 8 rows that follow, the
	// contiguous bytes after these 8) 8 blocks' worth per block, so the
	// next tile arrives while this one is computed: 8 interleaved row
	// streams are more than the hardware prefetchers follow well.
	p("MOVQ R8, BX")
	p("SHLQ $%d, BX", prefetchTiles)
	p("ADDQ SI, BX")
	if isa == "avx512" {
		// Y0 = the 8 rows' byte offsets (0, rb, ..., 7rb) for VPGATHERDD.
		p("VMOVD R8, X0")
		p("VPBROADCASTD X0, Y0")
		p("VPMULLD rowidx<>(SB), Y0, Y0")
	}
	for nr := 1; nr < maxRows; nr++ {
		p("CMPQ AX, $%d", nr)
		p("JEQ rows%d", nr)
	}
	p("JMP rows%d", maxRows)
	for nr := 1; nr <= maxRows; nr++ {
		facc := func(r int) int {
			if isa == "avx512" {
				return 16 + r
			}
			return r
		}
		label(fmt.Sprintf("rows%d", nr))
		for r := 0; r < nr; r++ {
			p("VXORPS Y%d, Y%d, Y%d", facc(r), facc(r), facc(r))
		}
		label(fmt.Sprintf("loop%d", nr))
		for off := 0; off < 8*wbytes; off += 64 {
			p("PREFETCHT0 %d(BX)", off)
		}
		p("ADDQ $%d, BX", 8*wbytes)
		// The 8 rows' fp16 scales: one gather of the dwords at the
		// blocks' starts (avx512, which has Y0 free), or 8 word inserts.
		if isa == "avx512" {
			p("VPCMPEQD Y1, Y1, Y1")
			p("VPGATHERDD Y1, (SI)(Y0*1), Y2")
			p("VPMOVDW Y2, X7")
		} else {
			for c := 0; c < 8; c++ {
				p("VPINSRW $%d, %s, X7, X7", c, wcol(c, 0))
			}
		}
		p("VCVTPH2PS X7, Y7")
		var V [8]int
		if typ == "q4_0" {
			P := transpose4(2, [4]int{8, 9, 10, 11}, [3]int{4, 5, 6})
			for j := 0; j < 4; j++ {
				p("VPSRLW $4, Y%d, Y%d", P[j], 12+j)
				p("VPAND nibbles<>(SB), Y%d, Y%d", 12+j, 12+j)
				p("VPAND nibbles<>(SB), Y%d, Y%d", P[j], P[j])
				V[j], V[j+4] = P[j], 12+j
			}
		} else {
			P := transpose4(2, [4]int{8, 9, 10, 11}, [3]int{4, 5, 6})
			Q := transpose4(18, [4]int{12, 13, 14, 15}, [3]int{4, 5, 6})
			copy(V[:4], P[:])
			copy(V[4:], Q[:])
			if isa == "avx512" {
				// w+128 as unsigned bytes; the activation's -8·Σq
				// times 16 takes the 128·Σq back out.
				for _, v := range V {
					p("VPXOR signs<>(SB), Y%d, Y%d", v, v)
				}
			}
		}
		if isa == "avx512" {
			for r := 0; r < nr; r++ {
				if typ == "q4_0" {
					p("VPBROADCASTD %d(DI), Y%d", 36*r+32, 24+r)
				} else {
					p("VPBROADCASTD %d(DI), Y%d", 36*r+32, 24+r)
					p("VPSLLD $4, Y%d, Y%d", 24+r, 24+r)
				}
			}
			for k := 0; k < 8; k++ {
				for r := 0; r < nr; r++ {
					p("VPDPBUSD.BCST %d(DI), Y%d, Y%d", 36*r+4*k, V[k], 24+r)
				}
			}
			for r := 0; r < nr; r++ {
				p("VCVTDQ2PS Y%d, Y%d", 24+r, 24+r)
				p("VMULPS.BCST %d(DX), Y%d, Y%d", 4*r, 24+r, 24+r)
				p("VMULPS Y7, Y%d, Y%d", 24+r, 24+r)
				p("VADDPS Y%d, Y%d, Y%d", 24+r, facc(r), facc(r))
			}
		} else {
			for r := 0; r < nr; r++ {
				first := true
				for k := 0; k < 8; k++ {
					p("VPBROADCASTD %d(DI), Y5", 36*r+4*k)
					if typ == "q4_0" {
						p("VPMADDUBSW Y5, Y%d, Y6", V[k])
					} else {
						p("VPSIGNB Y%d, Y5, Y5", V[k])
						p("VPABSB Y%d, Y6", V[k])
						p("VPMADDUBSW Y5, Y6, Y6")
					}
					p("VPMADDWD ones<>(SB), Y6, Y6")
					if typ == "q8_0" && first {
						p("VMOVDQA Y6, Y4")
					} else if first {
						p("VPBROADCASTD %d(DI), Y4", 36*r+32)
						p("VPADDD Y6, Y4, Y4")
					} else {
						p("VPADDD Y6, Y4, Y4")
					}
					first = false
				}
				p("VCVTDQ2PS Y4, Y4")
				p("VBROADCASTSS %d(DX), Y5", 4*r)
				p("VMULPS Y5, Y4, Y4")
				p("VMULPS Y7, Y4, Y4")
				p("VADDPS Y4, Y%d, Y%d", facc(r), facc(r))
			}
		}
		p("ADDQ $%d, SI", wbytes)
		p("ADDQ R12, DI")
		p("ADDQ R13, DX")
		p("DECQ CX")
		p("JNZ loop%d", nr)
		p("MOVQ dst+0(FP), AX")
		p("MOVQ ldDst+8(FP), BX")
		p("SHLQ $2, BX")
		for r := 0; r < nr; r++ {
			p("VMOVUPS Y%d, (AX)", facc(r))
			if r < nr-1 {
				p("ADDQ BX, AX")
			}
		}
		p("VZEROUPPER")
		p("RET")
	}
}

// tileEnd closes a tile kernel's loop over blocks (the activations'
// pointers DI and DX advance by R12 and R13) and stores the nr rows' sums,
// acc(r), to dst, rows ldDst apart.
func tileEnd(loop string, nr int, acc func(r int) string) {
	p("ADDQ R12, DI")
	p("ADDQ R13, DX")
	p("DECQ CX")
	p("JNZ %s", loop)
	p("MOVQ dst+0(FP), AX")
	p("MOVQ ldDst+8(FP), BX")
	p("SHLQ $2, BX")
	for r := 0; r < nr; r++ {
		p("VMOVUPS %s, (AX)", acc(r))
		if r < nr-1 {
			p("ADDQ BX, AX")
		}
	}
	p("VZEROUPPER")
	p("RET")
}

func constants() {
	type c struct {
		name   string
		lo, hi uint64 // the two qwords of each 128-bit lane
	}
	rep := func(n string, v uint64) c { return c{n, v, v} }
	// shuf makes a VPSHUFB control from the 4 bytes (0x80: zero) each dword i
	// of a 128-bit lane takes, given as offsets within that dword.
	shuf := func(n string, b [4]int) c {
		var q [2]uint64
		for i := 0; i < 4; i++ {
			for j, o := range b {
				v := uint64(0x80)
				if o >= 0 {
					v = uint64(4*i + o)
				}
				q[i/2] |= v << (8 * (4*(i%2) + j))
			}
		}
		return c{n, q[0], q[1]}
	}
	for i := 0; i < 16; i++ {
		fmt.Fprintf(&out, "DATA rowidx<>+%d(SB)/4, $%d\n", 4*i, i)
	}
	fmt.Fprintf(&out, "GLOBL rowidx<>(SB), RODATA|NOPTR, $64\n")
	// scpairN: a VPSHUFB control giving 8 copies of byte 2N, then 8 of
	// byte 2N+1 (Q6_K's scales of two groups of 16).
	for n := 0; n < 8; n++ {
		lo, hi := uint64(0x0101010101010101)*uint64(2*n), uint64(0x0101010101010101)*uint64(2*n+1)
		fmt.Fprintf(&out, "DATA scpair%d<>+0(SB)/8, $0x%016x\nDATA scpair%d<>+8(SB)/8, $0x%016x\nGLOBL scpair%d<>(SB), RODATA|NOPTR, $16\n", n, lo, n, hi, n)
	}
	for _, c := range []struct {
		name string
		v    uint32
	}{{"nib4", 0x0f0f0f0f}, {"k3f4", 0x3f3f3f3f}, {"k034", 0x03030303}, {"signs4", 0x80808080}} {
		fmt.Fprintf(&out, "DATA %s<>+0(SB)/4, $0x%08x\nGLOBL %s<>(SB), RODATA|NOPTR, $4\n", c.name, c.v, c.name)
	}
	for _, c := range []c{
		rep("nibbles", 0x0f0f0f0f0f0f0f0f), rep("signs", 0x8080808080808080), rep("ones", 0x0001000100010001),
		rep("k3f", 0x3f3f3f3f3f3f3f3f), rep("k03", 0x0303030303030303),
		rep("k0c", 0x0c0c0c0c0c0c0c0c), rep("k30", 0x3030303030303030), rep("kc0", 0xc0c0c0c0c0c0c0c0),
		// byte s of each dword, zero-extended
		shuf("byte0", [4]int{0, -1, -1, -1}), shuf("byte1", [4]int{1, -1, -1, -1}),
		shuf("byte2", [4]int{2, -1, -1, -1}), shuf("byte3", [4]int{3, -1, -1, -1}),
		// bytes 0 and 1 (2 and 3) of each dword as two int16
		shuf("pair01", [4]int{0, -1, 1, -1}), shuf("pair23", [4]int{2, -1, 3, -1}),
		// the low (high) words of a lane's 4 dwords, in its low 8 bytes
		{"lowords", 0x0d0c090805040100, 0x8080808080808080}, {"hiwords", 0x0f0e0b0a07060302, 0x8080808080808080},
	} {
		// 64 bytes: the ymm kernels read the first 32, the zmm ones all.
		for i, v := range []uint64{c.lo, c.hi, c.lo, c.hi, c.lo, c.hi, c.lo, c.hi} {
			fmt.Fprintf(&out, "DATA %s<>+%d(SB)/8, $0x%016x\n", c.name, 8*i, v)
		}
		fmt.Fprintf(&out, "GLOBL %s<>(SB), RODATA|NOPTR, $64\n", c.name)
	}
}

// ---- Q4_K column tile (avx512): 8 weight rows, up to 4 activation rows.
// Per block: the 16-byte heads of the 8 rows (d, dmin, 12 scale bytes)
// transposed give, lane c = row c, ggml's unpacked 6-bit scales and mins
// (stored at 0..127(SP)) and d|dmin (128(SP)). Each 32-byte chunk of
// nibbles, transposed, gives sub-blocks 2c (low nibbles) and 2c+1 (high);
// for each, 8 VPDPBUSD with the broadcast activation groups give the exact
// Σ q·x per row, times the sub-block scale (VPMULLD) into A (Y20..Y23).
// The mins meet the activation's sums of 32 in 4 VPDPWSSD into B
// (Y24..Y27); then the row's float sum (Y28..Y31) gets
// (d_x·d)·A - (d_x·dmin)·B.
func genTileQ4_K() {
	const name = "q4_KTileAvx512"
	const wbytes = 144
	const maxRows = 4
	fmt.Fprintf(&out, "\n// func %s(dst *float32, ldDst int, w *byte, rb, nb int, q *byte, qstride int, d *float32, dstride, nr int)\n", name)
	fmt.Fprintf(&out, "TEXT ·%s(SB), NOSPLIT, $160-80\n", name)
	p("MOVQ w+16(FP), SI")
	p("MOVQ rb+24(FP), R8")
	p("LEAQ (R8)(R8*2), R9")
	p("LEAQ (R8)(R8*4), R10")
	p("LEAQ (R9)(R8*4), R11")
	p("MOVQ nb+32(FP), CX")
	p("MOVQ q+40(FP), DI")
	p("MOVQ qstride+48(FP), R12")
	p("MOVQ d+56(FP), DX")
	p("MOVQ dstride+64(FP), R13")
	p("MOVQ nr+72(FP), AX")
	p("LEAQ (SI)(R8*8), BX")
	for nr := 1; nr < maxRows; nr++ {
		p("CMPQ AX, $%d", nr)
		p("JEQ rows%d", nr)
	}
	p("JMP rows%d", maxRows)
	act := func(r, off int) string { return fmt.Sprintf("%d(DI)", off+r*q8KStride) }
	for nr := 1; nr <= maxRows; nr++ {
		label(fmt.Sprintf("rows%d", nr))
		for r := 0; r < nr; r++ {
			p("VXORPS Y%d, Y%d, Y%d", 28+r, 28+r, 28+r)
		}
		label(fmt.Sprintf("loop%d", nr))
		for off := 0; off < 8*wbytes; off += 64 {
			p("PREFETCHT0 %d(BX)", off)
		}
		p("ADDQ $%d, BX", 8*wbytes)
		// Scales and mins (ggml's utmp/kmask unpacking, on 8 rows).
		P := transpose4(0, [4]int{8, 9, 10, 11}, [3]int{0, 1, 2})
		hd, u0, u1, u2 := P[0], P[1], P[2], P[3]
		p("VPAND k3f<>(SB), Y%d, Y12", u0) // sc 0..3
		p("VMOVDQU Y12, 0(SP)")
		p("VPSRLD $6, Y%d, Y13", u0)
		p("VPAND k03<>(SB), Y13, Y13")
		p("VPSLLD $4, Y13, Y13")
		p("VPAND nibbles<>(SB), Y%d, Y14", u2)
		p("VPOR Y14, Y13, Y13") // sc 4..7
		p("VMOVDQU Y13, 32(SP)")
		p("VPAND k3f<>(SB), Y%d, Y12", u1) // m 0..3
		p("VMOVDQU Y12, 64(SP)")
		p("VPSRLD $6, Y%d, Y13", u1)
		p("VPAND k03<>(SB), Y13, Y13")
		p("VPSLLD $4, Y13, Y13")
		p("VPSRLD $4, Y%d, Y14", u2)
		p("VPAND nibbles<>(SB), Y14, Y14")
		p("VPOR Y14, Y13, Y13") // m 4..7
		p("VMOVDQU Y13, 96(SP)")
		p("VMOVDQU Y%d, 128(SP)", hd)
		for r := 0; r < nr; r++ {
			p("VPXORD Y%d, Y%d, Y%d", 20+r, 20+r, 20+r)
		}
		for c := 0; c < 4; c++ {
			lo := transpose4(16+32*c, [4]int{8, 9, 10, 11}, [3]int{0, 1, 2})
			hi := transpose4(32+32*c, [4]int{12, 13, 14, 15}, [3]int{3, 4, 5})
			PK := append(lo[:], hi[:]...)
			for h := 0; h < 2; h++ {
				s := 2*c + h
				var NB [8]int
				for k := 0; k < 8; k++ {
					if h == 0 {
						NB[k] = k
						p("VPAND nibbles<>(SB), Y%d, Y%d", PK[k], k)
					} else {
						NB[k] = PK[k]
						p("VPSRLW $4, Y%d, Y%d", PK[k], PK[k])
						p("VPAND nibbles<>(SB), Y%d, Y%d", PK[k], PK[k])
					}
				}
				p("VMOVDQU32 %d(SP), Y17", 32*(s/4))
				p("VPSHUFB byte%d<>(SB), Y17, Y16", s%4)
				for r := 0; r < nr; r++ {
					p("VPXORD Y%d, Y%d, Y%d", 24+r, 24+r, 24+r)
				}
				for k := 0; k < 8; k++ {
					for r := 0; r < nr; r++ {
						p("VPDPBUSD.BCST %s, Y%d, Y%d", act(r, 32*s+4*k), NB[k], 24+r)
					}
				}
				for r := 0; r < nr; r++ {
					p("VPMULLD Y16, Y%d, Y%d", 24+r, 24+r)
					p("VPADDD Y%d, Y%d, Y%d", 24+r, 20+r, 20+r)
				}
			}
		}
		// Mins as int16 pairs (m_2k, m_2k+1) against the sums of 32.
		p("VMOVDQU32 64(SP), Y17")
		p("VMOVDQU32 96(SP), Y18")
		p("VPSHUFB pair01<>(SB), Y17, Y0")
		p("VPSHUFB pair23<>(SB), Y17, Y1")
		p("VPSHUFB pair01<>(SB), Y18, Y2")
		p("VPSHUFB pair23<>(SB), Y18, Y3")
		for r := 0; r < nr; r++ {
			p("VPXORD Y%d, Y%d, Y%d", 24+r, 24+r, 24+r)
			for k := 0; k < 4; k++ {
				p("VPDPWSSD.BCST %s, Y%d, Y%d", act(r, 288+4*k), k, 24+r)
			}
		}
		p("VMOVDQU32 128(SP), Y17")
		p("VPMOVDW Y17, X18")
		p("VCVTPH2PS X18, Y18") // d
		p("VPSRLD $16, Y17, Y17")
		p("VPMOVDW Y17, X17")
		p("VCVTPH2PS X17, Y17") // dmin
		for r := 0; r < nr; r++ {
			p("VMULPS.BCST %d(DX), Y18, Y4", 4*r)
			p("VMULPS.BCST %d(DX), Y17, Y5", 4*r)
			p("VCVTDQ2PS Y%d, Y6", 20+r)
			p("VMULPS Y4, Y6, Y6")
			p("VCVTDQ2PS Y%d, Y7", 24+r)
			p("VMULPS Y5, Y7, Y7")
			p("VSUBPS Y7, Y6, Y6")
			p("VADDPS Y6, Y%d, Y%d", 28+r, 28+r)
		}
		p("ADDQ $%d, SI", wbytes)
		tileEnd(fmt.Sprintf("loop%d", nr), nr, func(r int) string { return fmt.Sprintf("Y%d", 28+r) })
	}
}

// ---- Q6_K column tile (avx512): 8 weight rows, up to 2 activation rows
// (Q6_K holds the output head and token embeddings, whose MatMul has one
// row). Per half of a block, the 32 qh bytes of the 8 rows are transposed
// (Y8..Y15); per pair of quarters the 32 ql bytes (Y0..Y7); each quarter's
// 6-bit quants (Y16..Y23) are (ql nibble) | ((qh >> 2j) & 3) << 4. Each
// group of 16 values starts from the activation's -32·Σx, takes 4
// VPDPBUSD, and is scaled by the rows' int8 scales (VPMULLD) into A
// (Y27, Y28); the row's float sum (Y30, Y31) gets (d_x·d)·A per block.
func genTileQ6_K() {
	const name = "q6_KTileAvx512"
	const wbytes = 210
	const maxRows = 2
	fmt.Fprintf(&out, "\n// func %s(dst *float32, ldDst int, w *byte, rb, nb int, q *byte, qstride int, d *float32, dstride, nr int)\n", name)
	fmt.Fprintf(&out, "TEXT ·%s(SB), NOSPLIT, $128-80\n", name)
	p("MOVQ w+16(FP), SI")
	p("MOVQ rb+24(FP), R8")
	p("LEAQ (R8)(R8*2), R9")
	p("LEAQ (R8)(R8*4), R10")
	p("LEAQ (R9)(R8*4), R11")
	p("MOVQ nb+32(FP), CX")
	p("MOVQ q+40(FP), DI")
	p("MOVQ qstride+48(FP), R12")
	p("MOVQ d+56(FP), DX")
	p("MOVQ dstride+64(FP), R13")
	p("MOVQ nr+72(FP), AX")
	p("LEAQ (SI)(R8*8), BX")
	p("CMPQ AX, $1")
	p("JEQ rows1")
	p("JMP rows2")
	act := func(r, off int) string { return fmt.Sprintf("%d(DI)", off+r*q8KStride) }
	for nr := 1; nr <= maxRows; nr++ {
		label(fmt.Sprintf("rows%d", nr))
		for r := 0; r < nr; r++ {
			p("VXORPS Y%d, Y%d, Y%d", 30+r, 30+r, 30+r)
		}
		label(fmt.Sprintf("loop%d", nr))
		for off := 0; off < 8*wbytes; off += 64 {
			p("PREFETCHT0 %d(BX)", off)
		}
		p("ADDQ $%d, BX", 8*wbytes)
		// The 16 int8 scales of each row, transposed: 4 dwords at 0..127(SP).
		sc := transpose4(192, [4]int{0, 1, 2, 3}, [3]int{4, 5, 6})
		for i, r := range sc {
			p("VMOVDQU Y%d, %d(SP)", r, 32*i)
		}
		for r := 0; r < nr; r++ {
			p("VPXORD Y%d, Y%d, Y%d", 27+r, 27+r, 27+r)
		}
		for h := 0; h < 2; h++ {
			qhLo := transpose4(128+32*h, [4]int{8, 9, 10, 11}, [3]int{0, 1, 2})
			qhHi := transpose4(128+32*h+16, [4]int{12, 13, 14, 15}, [3]int{3, 4, 5})
			QH := append(qhLo[:], qhHi[:]...)
			for pp := 0; pp < 2; pp++ {
				lo := transpose4(64*h+32*pp, [4]int{0, 1, 2, 3}, [3]int{16, 17, 18})
				hi := transpose4(64*h+32*pp+16, [4]int{4, 5, 6, 7}, [3]int{19, 20, 21})
				QL := append(lo[:], hi[:]...)
				for _, j := range []int{pp, pp + 2} {
					var NB [8]int
					for k := 0; k < 8; k++ {
						if j < 2 {
							NB[k] = 16 + k
						} else {
							NB[k] = QL[k]
						}
						// The two high bits, then the low four.
						p("VPSRLW $%d, Y%d, Y29", 2*j, QH[k])
						p("VPANDD k03<>(SB), Y29, Y29")
						p("VPSLLW $4, Y29, Y29")
						if j < 2 {
							p("VPANDD nibbles<>(SB), Y%d, Y%d", QL[k], NB[k])
						} else {
							p("VPSRLW $4, Y%d, Y%d", QL[k], NB[k])
							p("VPANDD nibbles<>(SB), Y%d, Y%d", NB[k], NB[k])
						}
						p("VPORD Y29, Y%d, Y%d", NB[k], NB[k])
					}
					e0 := 128*h + 32*j
					for gi := 0; gi < 2; gi++ {
						g := e0/16 + gi
						p("VMOVDQU32 %d(SP), Y24", 32*(g/4))
						p("VPSLLD $%d, Y24, Y24", 24-8*(g%4))
						p("VPSRAD $24, Y24, Y24")
						for r := 0; r < nr; r++ {
							p("VPBROADCASTD %s, Y%d", act(r, 304+4*g), 25+r)
						}
						for k := 4 * gi; k < 4*gi+4; k++ {
							for r := 0; r < nr; r++ {
								p("VPDPBUSD.BCST %s, Y%d, Y%d", act(r, e0+4*k), NB[k], 25+r)
							}
						}
						for r := 0; r < nr; r++ {
							p("VPMULLD Y24, Y%d, Y%d", 25+r, 25+r)
							p("VPADDD Y%d, Y%d, Y%d", 25+r, 27+r, 27+r)
						}
					}
				}
			}
		}
		for c := 0; c < 8; c++ {
			p("VPINSRW $%d, %s, X0, X0", c, wcol(c, 208))
		}
		p("VCVTPH2PS X0, Y0")
		for r := 0; r < nr; r++ {
			p("VMULPS.BCST %d(DX), Y0, Y1", 4*r)
			p("VCVTDQ2PS Y%d, Y2", 27+r)
			p("VMULPS Y1, Y2, Y2")
			p("VADDPS Y2, Y%d, Y%d", 30+r, 30+r)
		}
		p("ADDQ $%d, SI", wbytes)
		tileEnd(fmt.Sprintf("loop%d", nr), nr, func(r int) string { return fmt.Sprintf("Y%d", 30+r) })
	}
}

// ---- Float GEMM micro-kernels (the encoder's F32/F16 weights): an mr x nr
// tile of dst[i][j] = Σ_k x_i[k]·w_j[k] over k < 8·(k8/8), the x rows (SI,
// R8 = their stride in bytes, R9 = 3·R8) and the weight rows (DI, R10,
// R11 = 3·R10) both contiguous in k, one ymm accumulator per output: each
// loaded weight vector meets mr input rows, each input vector nr weight
// rows. avx2 takes 3 x 3 (9 accumulators of 16 registers), avx512 4 x 4
// (accumulators in Y16..Y31).
func genGemm(name string, mr, nr int, f16, avx512 bool) {
	fmt.Fprintf(&out, "\n// func %s(dst *float32, ldDst int, x *float32, ldX int, w *byte, ldW, k8 int)\n", name)
	fmt.Fprintf(&out, "TEXT ·%s(SB), NOSPLIT, $0-56\n", name)
	p("MOVQ x+16(FP), SI")
	p("MOVQ ldX+24(FP), R8")
	p("SHLQ $2, R8")
	p("LEAQ (R8)(R8*2), R9")
	p("MOVQ w+32(FP), DI")
	p("MOVQ ldW+40(FP), R10")
	p("LEAQ (R10)(R10*2), R11")
	p("MOVQ k8+48(FP), CX")
	p("SHRQ $3, CX")
	acc := func(i, j int) int {
		if avx512 {
			return 16 + i*nr + j
		}
		return i*nr + j
	}
	xr := func(i int) int {
		if avx512 {
			return i
		}
		return 9 + i
	}
	wr := func(j int) int {
		if avx512 {
			return 4 + j
		}
		return 12 + j
	}
	xa := func(i int) string { return [...]string{"(SI)", "(SI)(R8*1)", "(SI)(R8*2)", "(SI)(R9*1)"}[i] }
	wa := func(j int) string { return [...]string{"(DI)", "(DI)(R10*1)", "(DI)(R10*2)", "(DI)(R11*1)"}[j] }
	for i := 0; i < mr; i++ {
		for j := 0; j < nr; j++ {
			if avx512 {
				p("VPXORD Y%d, Y%d, Y%d", acc(i, j), acc(i, j), acc(i, j))
			} else {
				p("VXORPS Y%d, Y%d, Y%d", acc(i, j), acc(i, j), acc(i, j))
			}
		}
	}
	p("TESTQ CX, CX")
	p("JEQ reduce")
	label("loop")
	for i := 0; i < mr; i++ {
		p("VMOVUPS %s, Y%d", xa(i), xr(i))
	}
	for j := 0; j < nr; j++ {
		if f16 {
			p("VCVTPH2PS %s, Y%d", wa(j), wr(j))
		} else {
			p("VMOVUPS %s, Y%d", wa(j), wr(j))
		}
		for i := 0; i < mr; i++ {
			p("VFMADD231PS Y%d, Y%d, Y%d", wr(j), xr(i), acc(i, j))
		}
	}
	p("ADDQ $32, SI")
	if f16 {
		p("ADDQ $16, DI")
	} else {
		p("ADDQ $32, DI")
	}
	p("DECQ CX")
	p("JNZ loop")
	label("reduce")
	p("MOVQ dst+0(FP), AX")
	p("MOVQ ldDst+8(FP), BX")
	p("SHLQ $2, BX")
	for i := 0; i < mr; i++ {
		if nr == 4 {
			// The 4 sums of a row at once: three VHADDPS (VEX only, so
			// avx512's accumulators move to Y0..Y3 first), then the halves.
			a := [4]int{acc(i, 0), acc(i, 1), acc(i, 2), acc(i, 3)}
			if avx512 {
				for j := range a {
					p("VMOVAPS Y%d, Y%d", a[j], j)
					a[j] = j
				}
			}
			p("VHADDPS Y%d, Y%d, Y13", a[1], a[0])
			p("VHADDPS Y%d, Y%d, Y14", a[3], a[2])
			p("VHADDPS Y14, Y13, Y13")
			p("VEXTRACTF128 $1, Y13, X14")
			p("VADDPS X14, X13, X13")
			p("VMOVUPS X13, (AX)")
		} else {
			for j := 0; j < nr; j++ {
				a := acc(i, j)
				if avx512 {
					p("VMOVAPS Y%d, Y0", a)
					a = 0
				}
				p("VEXTRACTF128 $1, Y%d, X15", a)
				p("VADDPS X15, X%d, X15", a)
				p("VMOVHLPS X15, X15, X14")
				p("VADDPS X14, X15, X15")
				p("VMOVSHDUP X15, X14")
				p("VADDSS X14, X15, X15")
				p("VMOVSS X15, %d(AX)", 4*j)
			}
		}
		if i < mr-1 {
			p("ADDQ BX, AX")
		}
	}
	p("VZEROUPPER")
	p("RET")
}

// ---- Packed tiles (avx512, prefill): 16 weight rows in the 16 int32
// lanes of a zmm register. zmm, where the column tiles use ymm: Zen 5 runs
// a 512-bit VPDPBUSD at the rate of a 256-bit one (8.5 G/s on this
// machine either way), so each instruction does twice the work, and Zen 4
// runs it as two halves, no slower than two ymm ones.
//
// A tile's weights are first packed (transposed, nibbles split, scales
// decoded) into scratch, once per block of input rows; the tile kernel then
// meets every group of 8 input rows with the packed blocks, where the
// column tiles redo the transposition per group. Per block the packed tile
// holds V_0..V_7 (64 bytes each: lane c = weight row c's 4 values that
// activation group k meets) and the 16 rows' float32 scales.

// packQ4_0Bytes is the packed size of one block of 16 Q4_0 or Q8_0 rows.
const packQ4_0Bytes = 8*64 + 64

// wrow addresses Q4_0 row c (0..15) of the current block: rows 0..7 from
// SI, 8..15 from BX = SI + 8·rb; R8 = rb, R9 = 3rb, R10 = 5rb, R11 = 7rb.
func wrow(c, off int) string {
	base := "SI"
	if c >= 8 {
		base, c = "BX", c-8
	}
	return fmt.Sprintf([...]string{"%d(%s)", "%d(%s)(R8*1)", "%d(%s)(R8*2)", "%d(%s)(R9*1)",
		"%d(%s)(R8*4)", "%d(%s)(R10*1)", "%d(%s)(R9*2)", "%d(%s)(R11*1)"}[c], off, base)
}

// transpose16 loads the 16 bytes at off of the 16 rows (wrow) and leaves
// dword k of row c in lane c of register out[k]; t are 4 temporaries.
func transpose16(off int, out, t [4]int) {
	// out[j] = rows j, j+4, j+8, j+12, one per 128-bit lane.
	for j := 0; j < 4; j++ {
		p("VMOVDQU %s, X%d", wrow(j, off), out[j])
		for l := 1; l < 4; l++ {
			p("VINSERTI32X4 $%d, %s, Z%d, Z%d", l, wrow(j+4*l, off), out[j], out[j])
		}
	}
	// 4 x 4 dword transposes in each 128-bit lane: lane 4g+j of out[k]
	// is row j+4g's dword k.
	p("VPUNPCKLDQ Z%d, Z%d, Z%d", out[1], out[0], t[0]) // A0 B0 A1 B1
	p("VPUNPCKHDQ Z%d, Z%d, Z%d", out[1], out[0], t[1]) // A2 B2 A3 B3
	p("VPUNPCKLDQ Z%d, Z%d, Z%d", out[3], out[2], t[2]) // C0 D0 C1 D1
	p("VPUNPCKHDQ Z%d, Z%d, Z%d", out[3], out[2], t[3]) // C2 D2 C3 D3
	p("VPUNPCKLQDQ Z%d, Z%d, Z%d", t[2], t[0], out[0])  // A0 B0 C0 D0
	p("VPUNPCKHQDQ Z%d, Z%d, Z%d", t[2], t[0], out[1])
	p("VPUNPCKLQDQ Z%d, Z%d, Z%d", t[3], t[1], out[2])
	p("VPUNPCKHQDQ Z%d, Z%d, Z%d", t[3], t[1], out[3])
}

// genPack writes TYPEPackAvx512(p *byte, w *byte, rb, nb int): nb blocks
// of the 16 rows at w (rb bytes apart) into p. Q4_0: V_k, V_k+4 are the
// low and high nibbles of quant dword k; Q8_0: V_k is quant dword k, plus
// 128 (unsigned for VPDPBUSD, as the column tile feeds it).
func genPack(typ string) {
	name := typ + "PackAvx512"
	wbytes := 18
	if typ == "q8_0" {
		wbytes = 34
	}
	fmt.Fprintf(&out, "\n// func %s(p *byte, w *byte, rb, nb int)\n", name)
	fmt.Fprintf(&out, "TEXT ·%s(SB), NOSPLIT, $0-32\n", name)
	p("MOVQ p+0(FP), DI")
	p("MOVQ w+8(FP), SI")
	p("MOVQ rb+16(FP), R8")
	p("MOVQ nb+24(FP), CX")
	p("LEAQ (R8)(R8*2), R9")
	p("LEAQ (R8)(R8*4), R10")
	p("LEAQ (R9)(R8*4), R11")
	p("LEAQ (SI)(R8*8), BX")
	// Z0 = the 16 rows' byte offsets for VPGATHERDD.
	p("VPBROADCASTD R8, Z0")
	p("VPMULLD rowidx<>(SB), Z0, Z0")
	label("packloop")
	// Scales: the dwords at the 16 blocks' starts, low words to float.
	p("KXNORW K1, K1, K1")
	p("VPGATHERDD (SI)(Z0*1), K1, Z1")
	p("VPMOVDW Z1, Y1")
	p("VCVTPH2PS Y1, Z1")
	p("VMOVUPS Z1, %d(DI)", 8*64)
	if typ == "q4_0" {
		transpose16(2, [4]int{2, 3, 4, 5}, [4]int{6, 7, 8, 9})
		for k := 0; k < 4; k++ {
			p("VPSRLW $4, Z%d, Z%d", 2+k, 10+k)
			p("VPANDD.BCST nib4<>(SB), Z%d, Z%d", 2+k, 2+k)
			p("VPANDD.BCST nib4<>(SB), Z%d, Z%d", 10+k, 10+k)
			p("VMOVDQU32 Z%d, %d(DI)", 2+k, 64*k)
			p("VMOVDQU32 Z%d, %d(DI)", 10+k, 64*(k+4))
		}
	} else {
		for h := 0; h < 2; h++ {
			transpose16(2+16*h, [4]int{2, 3, 4, 5}, [4]int{6, 7, 8, 9})
			for k := 0; k < 4; k++ {
				p("VPXORD.BCST signs4<>(SB), Z%d, Z%d", 2+k, 2+k)
				p("VMOVDQU32 Z%d, %d(DI)", 2+k, 64*(4*h+k))
			}
		}
	}
	p("ADDQ $%d, SI", wbytes)
	p("ADDQ $%d, BX", wbytes)
	p("ADDQ $%d, DI", packQ4_0Bytes)
	p("DECQ CX")
	p("JNZ packloop")
	p("VZEROUPPER")
	p("RET")
}

// packedTileHeader opens the packed tile kernel name: its arguments (the
// column tiles' less w and rb) in SI, CX, DI, R12, DX, R13, and a jump to
// label N for nr = N, 1 <= N <= maxRows.
func packedTileHeader(name string, maxRows int, label string) {
	fmt.Fprintf(&out, "\n// func %s(dst *float32, ldDst int, p *byte, nb int, q *byte, qstride int, d *float32, dstride, nr int)\n", name)
	fmt.Fprintf(&out, "TEXT ·%s(SB), NOSPLIT, $0-72\n", name)
	p("MOVQ p+16(FP), SI")
	p("MOVQ nb+24(FP), CX")
	p("MOVQ q+32(FP), DI")
	p("MOVQ qstride+40(FP), R12")
	p("MOVQ d+48(FP), DX")
	p("MOVQ dstride+56(FP), R13")
	p("MOVQ nr+64(FP), AX")
	for nr := 1; nr < maxRows; nr++ {
		p("CMPQ AX, $%d", nr)
		p("JEQ %s%d", label, nr)
	}
	p("JMP %s%d", label, maxRows)
}

// genPackedTile writes TYPEPackedTileAvx512(dst *float32, ldDst int, p
// *byte, nb int, q *byte, qstride int, d *float32, dstride, nr int): the 16
// packed weight rows against nr (1 to 8) activation rows, as the column
// tile computes them (the same integer sums, the same float steps).
func genPackedTile(typ string) {
	name := typ + "PackedTileAvx512"
	packedTileHeader(name, 8, "prows")
	for nr := 1; nr <= 8; nr++ {
		label(fmt.Sprintf("prows%d", nr))
		for r := 0; r < nr; r++ {
			p("VPXORD Z%d, Z%d, Z%d", 24+r, 24+r, 24+r)
		}
		label(fmt.Sprintf("ploop%d", nr))
		for k := 0; k < 8; k++ {
			p("VMOVDQU32 %d(SI), Z%d", 64*k, 8+k)
		}
		for r := 0; r < nr; r++ {
			p("VPBROADCASTD %d(DI), Z%d", 36*r+32, 16+r)
			if typ == "q8_0" { // -8·Σq times 16: the 128 added to the weights
				p("VPSLLD $4, Z%d, Z%d", 16+r, 16+r)
			}
		}
		for k := 0; k < 8; k++ {
			for r := 0; r < nr; r++ {
				p("VPDPBUSD.BCST %d(DI), Z%d, Z%d", 36*r+4*k, 8+k, 16+r)
			}
		}
		for r := 0; r < nr; r++ {
			p("VCVTDQ2PS Z%d, Z%d", 16+r, 16+r)
			p("VMULPS.BCST %d(DX), Z%d, Z%d", 4*r, 16+r, 16+r)
			p("VMULPS %d(SI), Z%d, Z%d", 8*64, 16+r, 16+r)
			p("VADDPS Z%d, Z%d, Z%d", 16+r, 24+r, 24+r)
		}
		p("ADDQ $%d, SI", packQ4_0Bytes)
		tileEnd(fmt.Sprintf("ploop%d", nr), nr, func(r int) string { return fmt.Sprintf("Z%d", 24+r) })
	}
}

// Packed Q4_K: per block of 256 values and 16 rows, the 8 sub-blocks' V_k
// (64·(8s+k)), the rows' 6-bit scales as int32 (4096 + 64s), their mins as
// int16 pairs (m_2k, m_2k+1) (4608 + 64k), d and dmin as float32 (4864,
// 4928).
const (
	packQ4_KBytes = 4992
	packQ4_KRows  = 6
)

// genPackQ4_K writes q4_KPackAvx512(p *byte, w *byte, rb, nb int).
func genPackQ4_K() {
	fmt.Fprintf(&out, "\n// func q4_KPackAvx512(p *byte, w *byte, rb, nb int)\n")
	fmt.Fprintf(&out, "TEXT ·q4_KPackAvx512(SB), NOSPLIT, $0-32\n")
	p("MOVQ p+0(FP), DI")
	p("MOVQ w+8(FP), SI")
	p("MOVQ rb+16(FP), R8")
	p("MOVQ nb+24(FP), CX")
	p("LEAQ (R8)(R8*2), R9")
	p("LEAQ (R8)(R8*4), R10")
	p("LEAQ (R9)(R8*4), R11")
	p("LEAQ (SI)(R8*8), BX")
	label("pack4kloop")
	// The 16-byte heads: d|dmin, then the 12 scale bytes in 3 dwords
	// (ggml's get_scale_min_k4 on all 4 bytes of a dword at once).
	transpose16(0, [4]int{0, 1, 2, 3}, [4]int{4, 5, 6, 7})
	// Z0 = d|dmin, Z1 = u0, Z2 = u1, Z3 = u2.
	p("VPMOVDW Z0, Y4")
	p("VCVTPH2PS Y4, Z4")
	p("VMOVUPS Z4, 4864(DI)")
	p("VPSRLD $16, Z0, Z4")
	p("VPMOVDW Z4, Y4")
	p("VCVTPH2PS Y4, Z4")
	p("VMOVUPS Z4, 4928(DI)")
	p("VPANDD.BCST k3f4<>(SB), Z1, Z8") // sc 0..3
	p("VPSRLD $6, Z1, Z9")
	p("VPANDD.BCST k034<>(SB), Z9, Z9")
	p("VPSLLD $4, Z9, Z9")
	p("VPANDD.BCST nib4<>(SB), Z3, Z10")
	p("VPORD Z10, Z9, Z9")               // sc 4..7
	p("VPANDD.BCST k3f4<>(SB), Z2, Z10") // m 0..3
	p("VPSRLD $6, Z2, Z11")
	p("VPANDD.BCST k034<>(SB), Z11, Z11")
	p("VPSLLD $4, Z11, Z11")
	p("VPSRLD $4, Z3, Z12")
	p("VPANDD.BCST nib4<>(SB), Z12, Z12")
	p("VPORD Z12, Z11, Z11") // m 4..7
	for s := 0; s < 8; s++ {
		src := 8 + s/4
		p("VPSHUFB byte%d<>(SB), Z%d, Z13", s%4, src)
		p("VMOVDQU32 Z13, %d(DI)", 4096+64*s)
	}
	for k := 0; k < 4; k++ {
		src := 10 + k/2
		p("VPSHUFB pair%d%d<>(SB), Z%d, Z13", 2*(k%2), 2*(k%2)+1, src)
		p("VMOVDQU32 Z13, %d(DI)", 4608+64*k)
	}
	for c := 0; c < 4; c++ {
		transpose16(16+32*c, [4]int{0, 1, 2, 3}, [4]int{4, 5, 6, 7})
		transpose16(32+32*c, [4]int{8, 9, 10, 11}, [4]int{4, 5, 6, 7})
		PK := []int{0, 1, 2, 3, 8, 9, 10, 11}
		for k, r := range PK {
			p("VPSRLW $4, Z%d, Z12", r)
			p("VPANDD.BCST nib4<>(SB), Z%d, Z%d", r, r)
			p("VPANDD.BCST nib4<>(SB), Z12, Z12")
			p("VMOVDQU32 Z%d, %d(DI)", r, 64*(8*(2*c)+k))
			p("VMOVDQU32 Z12, %d(DI)", 64*(8*(2*c+1)+k))
		}
	}
	p("ADDQ $144, SI")
	p("ADDQ $144, BX")
	p("ADDQ $%d, DI", packQ4_KBytes)
	p("DECQ CX")
	p("JNZ pack4kloop")
	p("VZEROUPPER")
	p("RET")
}

// genPackedTileQ4_K writes q4_KPackedTileAvx512, the column tile's Q4_K
// formula on packed blocks for up to packQ4_KRows activation rows:
// registers Z0..Z5 the rows' float sums, Z8..Z15 V_k (then the mins, d
// and dmin), Z16..Z21 the rows' sub-block sums (then B), Z22..Z27 A.
func genPackedTileQ4_K() {
	const name = "q4_KPackedTileAvx512"
	packedTileHeader(name, packQ4_KRows, "krows")
	act := func(r, off int) string { return fmt.Sprintf("%d(DI)", off+r*q8KStride) }
	for nr := 1; nr <= packQ4_KRows; nr++ {
		label(fmt.Sprintf("krows%d", nr))
		for r := 0; r < nr; r++ {
			p("VPXORD Z%d, Z%d, Z%d", r, r, r)
		}
		label(fmt.Sprintf("kloop%d", nr))
		for r := 0; r < nr; r++ {
			p("VPXORD Z%d, Z%d, Z%d", 22+r, 22+r, 22+r)
		}
		for s := 0; s < 8; s++ {
			for k := 0; k < 8; k++ {
				p("VMOVDQU32 %d(SI), Z%d", 64*(8*s+k), 8+k)
			}
			p("VMOVDQU32 %d(SI), Z7", 4096+64*s)
			for r := 0; r < nr; r++ {
				p("VPXORD Z%d, Z%d, Z%d", 16+r, 16+r, 16+r)
			}
			for k := 0; k < 8; k++ {
				for r := 0; r < nr; r++ {
					p("VPDPBUSD.BCST %s, Z%d, Z%d", act(r, 32*s+4*k), 8+k, 16+r)
				}
			}
			for r := 0; r < nr; r++ {
				p("VPMULLD Z7, Z%d, Z%d", 16+r, 16+r)
				p("VPADDD Z%d, Z%d, Z%d", 16+r, 22+r, 22+r)
			}
		}
		for k := 0; k < 4; k++ {
			p("VMOVDQU32 %d(SI), Z%d", 4608+64*k, 8+k)
		}
		for r := 0; r < nr; r++ {
			p("VPXORD Z%d, Z%d, Z%d", 16+r, 16+r, 16+r)
			for k := 0; k < 4; k++ {
				p("VPDPWSSD.BCST %s, Z%d, Z%d", act(r, 288+4*k), 8+k, 16+r)
			}
		}
		p("VMOVUPS 4864(SI), Z12")
		p("VMOVUPS 4928(SI), Z13")
		for r := 0; r < nr; r++ {
			p("VMULPS.BCST %d(DX), Z12, Z28", 4*r)
			p("VMULPS.BCST %d(DX), Z13, Z29", 4*r)
			p("VCVTDQ2PS Z%d, Z30", 22+r)
			p("VMULPS Z28, Z30, Z30")
			p("VCVTDQ2PS Z%d, Z31", 16+r)
			p("VMULPS Z29, Z31, Z31")
			p("VSUBPS Z31, Z30, Z30")
			p("VADDPS Z30, Z%d, Z%d", r, r)
		}
		p("ADDQ $%d, SI", packQ4_KBytes)
		tileEnd(fmt.Sprintf("kloop%d", nr), nr, func(r int) string { return fmt.Sprintf("Z%d", r) })
	}
}

// Packed Q4_K for avx2: 8 weight rows (the int32 lanes of a ymm), the
// layout of the zmm one at half the width: V_k of sub-block s at
// 32·(8s+k), int32 scales at 2048 + 32s, int16 min pairs at 2304 + 32k,
// d at 2432, dmin at 2464.
const (
	packQ4_KAvx2Bytes = 2496
	packQ4_KAvx2Rows  = 2
)

// genPackQ4_KAvx2 writes q4_KPackAvx2(p *byte, w *byte, rb, nb int).
func genPackQ4_KAvx2() {
	fmt.Fprintf(&out, "\n// func q4_KPackAvx2(p *byte, w *byte, rb, nb int)\n")
	fmt.Fprintf(&out, "TEXT ·q4_KPackAvx2(SB), NOSPLIT, $0-32\n")
	p("MOVQ p+0(FP), DI")
	p("MOVQ w+8(FP), SI")
	p("MOVQ rb+16(FP), R8")
	p("MOVQ nb+24(FP), CX")
	p("LEAQ (R8)(R8*2), R9")
	p("LEAQ (R8)(R8*4), R10")
	p("LEAQ (R9)(R8*4), R11")
	label("pack4k2loop")
	P := transpose4(0, [4]int{0, 1, 2, 3}, [3]int{4, 5, 6})
	hd, u0, u1, u2 := P[0], P[1], P[2], P[3]
	for i, ctl := range []string{"lowords", "hiwords"} { // d, dmin
		p("VPSHUFB %s<>(SB), Y%d, Y7", ctl, hd)
		p("VPERMQ $0x08, Y7, Y7")
		p("VCVTPH2PS X7, Y7")
		p("VMOVUPS Y7, %d(DI)", 2432+32*i)
	}
	p("VPAND k3f<>(SB), Y%d, Y8", u0) // sc 0..3
	p("VPSRLD $6, Y%d, Y9", u0)
	p("VPAND k03<>(SB), Y9, Y9")
	p("VPSLLD $4, Y9, Y9")
	p("VPAND nibbles<>(SB), Y%d, Y12", u2)
	p("VPOR Y12, Y9, Y9")              // sc 4..7
	p("VPAND k3f<>(SB), Y%d, Y10", u1) // m 0..3
	p("VPSRLD $6, Y%d, Y11", u1)
	p("VPAND k03<>(SB), Y11, Y11")
	p("VPSLLD $4, Y11, Y11")
	p("VPSRLD $4, Y%d, Y12", u2)
	p("VPAND nibbles<>(SB), Y12, Y12")
	p("VPOR Y12, Y11, Y11") // m 4..7
	for s := 0; s < 8; s++ {
		p("VPSHUFB byte%d<>(SB), Y%d, Y12", s%4, 8+s/4)
		p("VMOVDQU Y12, %d(DI)", 2048+32*s)
	}
	for k := 0; k < 4; k++ {
		p("VPSHUFB pair%d%d<>(SB), Y%d, Y12", 2*(k%2), 2*(k%2)+1, 10+k/2)
		p("VMOVDQU Y12, %d(DI)", 2304+32*k)
	}
	for c := 0; c < 4; c++ {
		lo := transpose4(16+32*c, [4]int{0, 1, 2, 3}, [3]int{4, 5, 6})
		hi := transpose4(32+32*c, [4]int{8, 9, 10, 11}, [3]int{12, 13, 14})
		for k, r := range append(lo[:], hi[:]...) {
			p("VPSRLW $4, Y%d, Y15", r)
			p("VPAND nibbles<>(SB), Y%d, Y%d", r, r)
			p("VPAND nibbles<>(SB), Y15, Y15")
			p("VMOVDQU Y%d, %d(DI)", r, 32*(8*(2*c)+k))
			p("VMOVDQU Y15, %d(DI)", 32*(8*(2*c+1)+k))
		}
	}
	p("ADDQ $144, SI")
	p("ADDQ $%d, DI", packQ4_KAvx2Bytes)
	p("DECQ CX")
	p("JNZ pack4k2loop")
	p("VZEROUPPER")
	p("RET")
}

// genPackedTileQ4_KAvx2 writes q4_KPackedTileAvx2: the Q4_K formula on
// packed blocks for up to 2 activation rows with VPMADDUBSW and VPMADDWD
// (u8·s8 pairs, at most 2·15·127, then to int32): Y0..Y7 V_k (then the
// min pairs and temporaries), Y8, Y9 the rows' sub-block sums (then B),
// Y10, Y11 A, Y12, Y13 the float sums.
func genPackedTileQ4_KAvx2() {
	const name = "q4_KPackedTileAvx2"
	packedTileHeader(name, packQ4_KAvx2Rows, "k2rows")
	act := func(r, off int) string { return fmt.Sprintf("%d(DI)", off+r*q8KStride) }
	for nr := 1; nr <= packQ4_KAvx2Rows; nr++ {
		label(fmt.Sprintf("k2rows%d", nr))
		for r := 0; r < nr; r++ {
			p("VXORPS Y%d, Y%d, Y%d", 12+r, 12+r, 12+r)
		}
		label(fmt.Sprintf("k2loop%d", nr))
		for r := 0; r < nr; r++ {
			p("VPXOR Y%d, Y%d, Y%d", 10+r, 10+r, 10+r)
		}
		for s := 0; s < 8; s++ {
			for k := 0; k < 8; k++ {
				p("VMOVDQU %d(SI), Y%d", 32*(8*s+k), k)
			}
			for r := 0; r < nr; r++ {
				for k := 0; k < 8; k++ {
					p("VPBROADCASTD %s, Y14", act(r, 32*s+4*k))
					p("VPMADDUBSW Y14, Y%d, Y15", k)
					if k == 0 {
						p("VPMADDWD ones<>(SB), Y15, Y%d", 8+r)
					} else {
						p("VPMADDWD ones<>(SB), Y15, Y15")
						p("VPADDD Y15, Y%d, Y%d", 8+r, 8+r)
					}
				}
				p("VPMULLD %d(SI), Y%d, Y%d", 2048+32*s, 8+r, 8+r)
				p("VPADDD Y%d, Y%d, Y%d", 8+r, 10+r, 10+r)
			}
		}
		for k := 0; k < 4; k++ {
			p("VMOVDQU %d(SI), Y%d", 2304+32*k, k)
		}
		for r := 0; r < nr; r++ {
			for k := 0; k < 4; k++ {
				p("VPBROADCASTD %s, Y14", act(r, 288+4*k))
				if k == 0 {
					p("VPMADDWD Y14, Y%d, Y%d", k, 8+r)
				} else {
					p("VPMADDWD Y14, Y%d, Y15", k)
					p("VPADDD Y15, Y%d, Y%d", 8+r, 8+r)
				}
			}
		}
		for r := 0; r < nr; r++ {
			p("VBROADCASTSS %d(DX), Y14", 4*r)
			p("VMULPS 2432(SI), Y14, Y15")
			p("VCVTDQ2PS Y%d, Y4", 10+r)
			p("VMULPS Y15, Y4, Y4")
			p("VMULPS 2464(SI), Y14, Y15")
			p("VCVTDQ2PS Y%d, Y5", 8+r)
			p("VMULPS Y15, Y5, Y5")
			p("VSUBPS Y5, Y4, Y4")
			p("VADDPS Y4, Y%d, Y%d", 12+r, 12+r)
		}
		p("ADDQ $%d, SI", packQ4_KAvx2Bytes)
		tileEnd(fmt.Sprintf("k2loop%d", nr), nr, func(r int) string { return fmt.Sprintf("Y%d", 12+r) })
	}
}
