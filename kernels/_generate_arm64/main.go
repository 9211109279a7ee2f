// Command _generate_arm64 writes kernels/qdot_arm64.s, the arm64 column
// tiles of the quantized MatMul, for two instruction sets:
//
//	neon:    ARMv8.0 Advanced SIMD: SMULL/SMLAL (s8·s8 to int16), SADDLP
//	         to int32, ADDP to gather four rows' sums into one vector
//	dotprod: + SDOT by element (FEAT_DotProd, ARMv8.2: Cortex-A76, A78,
//	         Neoverse N1; the Jetson Orin's A78AE)
//
// Every kernel has the asmTile argument list (kernels/tiles.go) and gives
// the same float32 bits as its Go twin in kernels/quant.go: the integer
// sums are exact, and the float work runs in the twin's order, one rounding
// per operation (FMUL then FADD, never FMLA, where the twin writes
// float32(x*y)+z).
//
// A tile is 8 weight rows, computed as two halves of 4 rows: one int32 or
// float32 lane per weight row, so the per-block scaling costs 4 vector
// operations for 4 outputs, and each half streams 4 rows while prefetching
// the next 4. Per block the 4 rows' bytes are loaded either transposed
// (dotprod: LD4 to one lane puts dword k of row c in lane c of register k,
// and SDOT by element meets 4 rows with a broadcast group of 4 activation
// bytes) or row by row (neon: one register per row and 16 values, products
// summed in int16 and int32 lanes, then three ADDP give the 4 rows' sums in
// lanes 0..3). Byte-wise unpacking (nibbles, Q6_K's high bits) is the same
// in both layouts.
//
// Run from kernels/: go run ./_generate_arm64 > qdot_arm64.s
package main

import (
	"fmt"
	"os"
	"strings"
)

var out strings.Builder

func p(format string, args ...any) { fmt.Fprintf(&out, "\t"+format+"\n", args...) }
func label(l string)               { fmt.Fprintf(&out, "%s:\n", l) }

// prefetchAhead: each half prefetches the 4 weight rows that follow its
// own (the contiguous bytes after them), so the next half or tile arrives
// while this one is computed, as the amd64 tiles do for Zen 4. Not yet
// measured on the Jetson (see kernels/qdot_arm64.go).
const prefetchAhead = true

// q8KStride is the bytes of one ActQ8K block (kernels.q8KStride).
const q8KStride = 368

// Go's arm64 assembler writes three-operand vector instructions as
// OP Vm, Vn, Vd; these helpers take Arm's order (d, n, m).
func vand(d, n, m int)  { p("VAND V%d.B16, V%d.B16, V%d.B16", m, n, d) }
func vorr(d, n, m int)  { p("VORR V%d.B16, V%d.B16, V%d.B16", m, n, d) }
func vzero(d int)       { p("VEOR V%d.B16, V%d.B16, V%d.B16", d, d, d) }
func vaddS(d, n, m int) { p("VADD V%d.S4, V%d.S4, V%d.S4", m, n, d) }

// vaddp: ADDP Vd.4S, Vn.4S, Vm.4S = (n0+n1, n2+n3, m0+m1, m2+m3).
func vaddp(d, n, m int) { p("VADDP V%d.S4, V%d.S4, V%d.S4", m, n, d) }

// vbit: BIT Vd, Vn, Vmask: the bits of n where mask is set, into d.
func vbit(d, n, mask int)    { p("VBIT V%d.B16, V%d.B16, V%d.B16", mask, n, d) }
func vushrB(d, n, sh int)    { p("VUSHR $%d, V%d.B16, V%d.B16", sh, n, d) }
func vshlB(d, n, sh int)     { p("VSHL $%d, V%d.B16, V%d.B16", sh, n, d) }
func vushrS(d, n, sh int)    { p("VUSHR $%d, V%d.S4, V%d.S4", sh, n, d) }
func vshlS(d, n, sh int)     { p("VSHL $%d, V%d.S4, V%d.S4", sh, n, d) }
func vmovi(d int, b byte)    { p("VMOVI $0x%02x, V%d.B16", b, d) }
func addi(d, n int, imm int) { p("ADD $%d, R%d, R%d", imm, n, d) }
func vld1(d, n int)          { p("VLD1 (R%d), [V%d.B16]", n, d) }
func vld1x2(d, n int)        { p("VLD1 (R%d), [V%d.B16, V%d.B16]", n, d, d+1) }
func vld1r(d, n int)         { p("VLD1R (R%d), [V%d.S4]", n, d) }
func fcvtlIn(d, n int)       { fcvtl(d, n, false) }
func header(name string, fr int) {
	fmt.Fprintf(&out, "\n// func %s(dst *float32, ldDst int, w *byte, rb, nb int, q *byte, qstride int, d *float32, dstride, nr int)\n", name)
	fmt.Fprintf(&out, "TEXT ·%s(SB), NOSPLIT, $%d-80\n", name, fr)
}

// isa is one instruction set: its name in the Go function names and the
// layout of the weight registers.
type isa struct {
	name string // "Neon" or "Dot"
	dot  bool   // SDOT by element on transposed weights
}

// Registers of the tiles (general purpose):
//
//	R0 dst of this half, R1 ldDst·4, R2 the half's first weight row,
//	R3 rb, R4 nb, R5 q, R6 qstride, R7 d, R8 dstride, R9 nr,
//	R10..R13 the 4 rows' pointers, R14 blocks left, R15 and R16 this
//	block's activations and scales, R17 and R20 addresses, R22 halves
//	left, R23 the prefetch pointer, R24 dst of this tile.
func prologue() {
	p("MOVD dst+0(FP), R24")
	p("MOVD ldDst+8(FP), R1")
	p("LSL $2, R1, R1")
	p("MOVD w+16(FP), R2")
	p("MOVD rb+24(FP), R3")
	p("MOVD nb+32(FP), R4")
	p("MOVD q+40(FP), R5")
	p("MOVD qstride+48(FP), R6")
	p("MOVD d+56(FP), R7")
	p("MOVD dstride+64(FP), R8")
	p("MOVD nr+72(FP), R9")
}

// dispatch jumps to the loops for nr input rows.
func dispatch(maxRows int) {
	for nr := 1; nr < maxRows; nr++ {
		p("CMP $%d, R9", nr)
		p("BEQ rows%d", nr)
	}
	p("B rows%d", maxRows)
}

// tile writes the loops around a kernel's block body: for each half of 4
// weight rows, zero the nr output vectors, run body once per block, store
// the outputs (4 floats per row) at dst + 16·half.
func tile(nr, wbytes int, outs []int, body func(nr int)) {
	label(fmt.Sprintf("rows%d", nr))
	p("MOVD R24, R0")
	p("MOVD $2, R22")
	label(fmt.Sprintf("half%d", nr))
	p("MOVD R2, R10")
	p("ADD R3, R10, R11")
	p("ADD R3, R11, R12")
	p("ADD R3, R12, R13")
	p("ADD R3<<2, R2, R23")
	p("MOVD R5, R15")
	p("MOVD R7, R16")
	p("MOVD R4, R14")
	for r := 0; r < nr; r++ {
		vzero(outs[r])
	}
	label(fmt.Sprintf("loop%d", nr))
	if prefetchAhead {
		for off := 0; off < 4*wbytes; off += 64 {
			p("PRFM %d(R23), PLDL1KEEP", off)
		}
		addi(23, 23, 4*wbytes)
	}
	body(nr)
	p("ADD R6, R15, R15")
	p("ADD R8, R16, R16")
	p("SUBS $1, R14, R14")
	p("BNE loop%d", nr)
	p("MOVD R0, R20")
	for r := 0; r < nr; r++ {
		p("VST1 [V%d.S4], (R20)", outs[r])
		if r < nr-1 {
			p("ADD R1, R20, R20")
		}
	}
	p("ADD $16, R0, R0")
	p("ADD R3<<2, R2, R2")
	p("SUBS $1, R22, R22")
	p("BNE half%d", nr)
	p("RET")
}

// rowReg is the pointer register of weight row c of the half.
func rowReg(c int) int { return 10 + c }

// load16 loads 16 bytes at off from each of the 4 rows' pointers (post-
// incremented when off < 0) into regs: transposed (dot: regs must be 4
// consecutive registers; register k holds dword k of every row) or one
// register per row (neon).
func (s isa) load16(regs [4]int, off int) {
	for c := 0; c < 4; c++ {
		ptr := rowReg(c)
		if off >= 0 {
			addi(17, rowReg(c), off)
			ptr = 17
		}
		if s.dot {
			ld4Lane(regs[0], c, ptr, off < 0)
		} else if off < 0 {
			p("VLD1.P 16(R%d), [V%d.B16]", ptr, regs[c])
		} else {
			vld1(regs[c], ptr)
		}
	}
}

// load32 loads 32 bytes from each row's pointer (post-incremented) into 8
// registers first..first+7, in the layout dot32 expects: dot: register k
// holds dword k (values 4k..4k+3) of every row; neon: registers 2c, 2c+1
// hold row c's 32 bytes.
func (s isa) load32(first int) {
	for c := 0; c < 4; c++ {
		if s.dot {
			ld4Lane(first, c, rowReg(c), true)
			ld4Lane(first+4, c, rowReg(c), true)
		} else {
			p("VLD1.P 32(R%d), [V%d.B16, V%d.B16]", rowReg(c), first+2*c, first+2*c+1)
		}
	}
}

// dot32 adds to int32 vector acc the 4 rows' dot products of 32 weight
// bytes W (layout of load32) with activation bytes x0 (values 0..15) and
// x1 (16..31). neon: acc is overwritten unless add (then res is a
// temporary), T are 5 temporaries; small says every weight byte is in
// 0..15, so 4 products fit an int16 lane (4·15·127), else 2 (2·128·127).
func (s isa) dot32(W [8]int, x0, x1, acc int, add, small bool, T [5]int) {
	if s.dot {
		for k := 0; k < 8; k++ {
			x := x0
			if k >= 4 {
				x = x1
			}
			sdotElem(acc, W[k], x, k%4)
		}
		return
	}
	for c := 0; c < 4; c++ {
		t := T[c]
		smull(t, W[2*c], x0, false)
		smlal(t, W[2*c], x0, true)
		if small {
			smlal(t, W[2*c+1], x1, false)
			smlal(t, W[2*c+1], x1, true)
			saddlp(t, t)
		} else {
			saddlp(t, t)
			smull(T[4], W[2*c+1], x1, false)
			smlal(T[4], W[2*c+1], x1, true)
			sadalp(t, T[4])
		}
	}
	s.gather(acc, add, T)
}

// gather sums each of T[0..3] (row c's partial sums) across its lanes
// into lane c of acc (or adds them to acc).
func (s isa) gather(acc int, add bool, T [5]int) {
	vaddp(T[0], T[0], T[1])
	vaddp(T[2], T[2], T[3])
	if add {
		vaddp(T[0], T[0], T[2])
		vaddS(acc, acc, T[0])
	} else {
		vaddp(acc, T[0], T[2])
	}
}

// dot16 adds to acc the 4 rows' dot products of 16 weight bytes W (dot:
// register k = dword k of every row; neon: register c = row c) with the
// activation bytes in x; every product pair fits an int16 lane.
func (s isa) dot16(W [4]int, x, acc int, T [5]int) {
	if s.dot {
		for k := 0; k < 4; k++ {
			sdotElem(acc, W[k], x, k)
		}
		return
	}
	for c := 0; c < 4; c++ {
		smull(T[c], W[c], x, false)
		smlal(T[c], W[c], x, true)
		saddlp(T[c], T[c])
	}
	s.gather(acc, true, T)
}

func seq(first, n int) []int {
	r := make([]int, n)
	for i := range r {
		r[i] = first + i
	}
	return r
}

// ---- Q4_0 and Q8_0 (ActQ8). Per block and half: the 4 rows' fp16 scales
// (V9, as float), their 32 weights (V0..V7; Q4_0's raw nibbles 0..15, whose
// offset of 8 the activation's stored -8·Σq takes out), then per input row
// the exact block sums (V12), as float, times d_x (lane r of V10, V11),
// times d_w, added to the row's output (V20..): the twin's
// acc += float32(float32(s)·d_x)·d_w.
//
//	V8 0x0f, V13 V14 the activation bytes, V15..V19 neon temporaries.
func genQ8(s isa, typ string, maxRows int) {
	name := typ + "Tile" + s.name
	wbytes := 18
	if typ == "q8_0" {
		wbytes = 34
	}
	header(name, 0)
	prologue()
	vmovi(8, 0x0f)
	dispatch(maxRows)
	outs := seq(20, maxRows)
	T := [5]int{15, 16, 17, 18, 19}
	for nr := 1; nr <= maxRows; nr++ {
		tile(nr, wbytes, outs, func(nr int) {
			for c := 0; c < 4; c++ {
				p("VLD1.P 2(R%d), V9.H[%d]", rowReg(c), c)
			}
			fcvtlIn(9, 9)
			var W [8]int
			if typ == "q4_0" {
				// Low nibbles are values 0..15, high nibbles 16..31.
				s.load16([4]int{0, 1, 2, 3}, -1)
				for k := 0; k < 4; k++ {
					vushrB(4+k, k, 4)
					vand(k, k, 8)
				}
				if s.dot {
					W = [8]int{0, 1, 2, 3, 4, 5, 6, 7}
				} else {
					W = [8]int{0, 4, 1, 5, 2, 6, 3, 7}
				}
			} else {
				s.load32(0)
				W = [8]int{0, 1, 2, 3, 4, 5, 6, 7}
			}
			p("MOVD R16, R17")
			for r := 0; r < nr; r++ {
				p("VLD1.P 4(R17), V%d.S[%d]", 10+r/4, r%4)
			}
			p("MOVD R15, R20")
			for r := 0; r < nr; r++ {
				p("VLD1.P 32(R20), [V13.B16, V14.B16]")
				if typ == "q4_0" {
					p("VLD1R.P 4(R20), [V12.S4]") // -8·Σq
				} else {
					p("ADD $4, R20, R20")
					if s.dot {
						vzero(12)
					}
				}
				s.dot32(W, 13, 14, 12, typ == "q4_0", typ == "q4_0", T)
				scvtf(12, 12)
				fmulElem(12, 12, 10+r/4, r%4)
				fmul(12, 12, 9)
				fadd(outs[r], outs[r], 12)
			}
		})
	}
}

// ---- Q4_K (ActQ8K). Per block and half: from the 4 rows' 16-byte heads
// (d|dmin and ggml's 12 packed scale bytes, transposed: V0..V3), the
// scales of sub-blocks 0..3 and 4..7 as bytes (V17, V18; ggml's
// get_scale_min_k4 on 4 bytes at once); per 32 bytes of nibbles (V0..V7),
// the low nibbles (V8..V15) are sub-block 2c and the high ones sub-block
// 2c+1; each sub-block's exact sums (V20) times its scale (V19, zero-
// extended per lane) go into A (V23..). Then the mins (V4..V11) meet the
// activation's sums of 32 (as int32, V18 V19) in B (V20), and the output
// gets (d_x·d)·A - (d_x·dmin)·B.
//
//	V16 0x0f, V31 0x3f, V21 V22 the activation bytes; neon: A V23 V24,
//	outputs V25 V26, temporaries V27..V30; dotprod: A V23..V26, outputs
//	V27..V30.
func genQ4K(s isa, maxRows int) {
	const wbytes = 144
	name := "q4_KTile" + s.name
	header(name, 0)
	prologue()
	vmovi(16, 0x0f)
	vmovi(31, 0x3f)
	dispatch(maxRows)
	A := seq(23, maxRows)
	outs := seq(23+maxRows, maxRows)
	T := [5]int{27, 28, 29, 30, 0}
	for nr := 1; nr <= maxRows; nr++ {
		tile(nr, wbytes, outs, func(nr int) {
			for c := 0; c < 4; c++ {
				ld4Lane(0, c, rowReg(c), false)
			}
			for c := 0; c < 4; c++ {
				addi(rowReg(c), rowReg(c), 16)
			}
			vand(17, 1, 31) // sc 0..3
			vushrB(18, 1, 6)
			vshlB(18, 18, 4)
			vand(19, 3, 16)
			vorr(18, 18, 19) // sc 4..7
			for r := 0; r < nr; r++ {
				vzero(A[r])
			}
			for ch := 0; ch < 4; ch++ {
				s.load32(0)
				for k := 0; k < 8; k++ {
					vand(8+k, k, 16)
				}
				for h := 0; h < 2; h++ {
					sb := 2*ch + h
					W := [8]int{8, 9, 10, 11, 12, 13, 14, 15}
					if h == 1 {
						for k := 0; k < 8; k++ {
							vushrB(k, k, 4)
						}
						W = [8]int{0, 1, 2, 3, 4, 5, 6, 7}
					}
					src := 17
					if sb >= 4 {
						src = 18
					}
					byteOf(19, src, sb%4, false)
					for r := 0; r < nr; r++ {
						addi(20, 15, r*q8KStride+32*sb)
						vld1x2(21, 20)
						if s.dot {
							vzero(20)
						}
						s.dot32(W, 21, 22, 20, false, true, T)
						mla(A[r], 20, 19)
					}
				}
			}
			// The heads again (the row pointers are past this block).
			for c := 0; c < 4; c++ {
				addi(17, rowReg(c), -wbytes)
				ld4Lane(0, c, 17, false)
			}
			vand(12, 2, 31) // m 0..3
			vushrB(13, 2, 6)
			vshlB(13, 13, 4)
			vushrB(14, 3, 4)
			vorr(13, 13, 14) // m 4..7
			for sb := 0; sb < 8; sb++ {
				byteOf(4+sb, 12+sb/4, sb%4, false)
			}
			p("VUZP1 V0.H8, V0.H8, V14.H8")
			fcvtlIn(14, 14) // d
			p("VUZP2 V0.H8, V0.H8, V15.H8")
			fcvtlIn(15, 15) // dmin
			for r := 0; r < nr; r++ {
				addi(20, 15, r*q8KStride+288)
				vld1(17, 20)
				sxtl(18, 17, false)
				sxtl(19, 17, true)
				mulElem(20, 4, 18, 0)
				for sb := 1; sb < 8; sb++ {
					mlaElem(20, 4+sb, 18+sb/4, sb%4)
				}
				addi(17, 16, 4*r)
				vld1r(21, 17)
				fmul(22, 21, 14) // d_x·d
				scvtf(0, A[r])
				fmul(0, 22, 0)
				fmul(22, 21, 15) // d_x·dmin
				scvtf(1, 20)
				fmul(1, 22, 1)
				fsub(0, 0, 1)
				fadd(outs[r], outs[r], 0)
			}
		})
	}
}

// byteOf sets the int32 lanes of d to byte j of src's lanes, zero- or
// (signed) sign-extended.
func byteOf(d, src, j int, signed bool) {
	if j < 3 {
		vshlS(d, src, 24-8*j)
		src = d
	}
	if signed {
		sshr(d, src, 24)
	} else {
		vushrS(d, src, 24)
	}
}

// ---- Q6_K (ActQ8K). Per block and half: the 16 int8 scales of the 4 rows
// (transposed: V12..V15). Per 128 values (h), per 16-byte column group
// (gi), the group's qh bytes (V0..V3), per ql pair (pp) its ql bytes
// (V4..V7); quarter j = pp takes the low nibbles (into V8..V11), j = pp+2
// the high ones (in place), each with bits 2j, 2j+1 of qh as bits 4, 5
// (BIT under 0x30). Group g = 8h + 2j + gi starts from the activation's
// -32·Σx (V19), adds Σ u·x and is scaled by sc_g (V21) into A (V22..);
// the output gets (d_x·d)·A per block.
//
//	V16 0x0f, V17 0x30, V18 qh shifted, V20 the activation bytes; neon:
//	A V22 V23, outputs V24 V25, temporaries V26..V29; dotprod: A
//	V22..V25, outputs V26..V29.
func genQ6K(s isa, maxRows int) {
	const wbytes = 210
	name := "q6_KTile" + s.name
	header(name, 0)
	prologue()
	vmovi(16, 0x0f)
	vmovi(17, 0x30)
	dispatch(maxRows)
	A := seq(22, maxRows)
	outs := seq(22+maxRows, maxRows)
	T := [5]int{26, 27, 28, 29, 30}
	for nr := 1; nr <= maxRows; nr++ {
		tile(nr, wbytes, outs, func(nr int) {
			for c := 0; c < 4; c++ {
				addi(17, rowReg(c), 192)
				ld4Lane(12, c, 17, false)
			}
			for r := 0; r < nr; r++ {
				vzero(A[r])
			}
			for h := 0; h < 2; h++ {
				for gi := 0; gi < 2; gi++ {
					s.load16([4]int{0, 1, 2, 3}, 128+32*h+16*gi)
					for pp := 0; pp < 2; pp++ {
						s.load16([4]int{4, 5, 6, 7}, 64*h+32*pp+16*gi)
						for _, j := range []int{pp, pp + 2} {
							W := [4]int{8, 9, 10, 11}
							if j >= 2 {
								W = [4]int{4, 5, 6, 7}
							}
							for k := 0; k < 4; k++ {
								if j < 2 {
									vand(W[k], 4+k, 16)
								} else {
									vushrB(W[k], 4+k, 4)
								}
								qh := 18
								switch j {
								case 0:
									vshlB(18, k, 4)
								case 1:
									vshlB(18, k, 2)
								case 2:
									qh = k
								case 3:
									vushrB(18, k, 2)
								}
								vbit(W[k], qh, 17)
							}
							g := 8*h + 2*j + gi
							byteOf(21, 12+g/4, g%4, true)
							for r := 0; r < nr; r++ {
								addi(20, 15, r*q8KStride+304+4*g)
								vld1r(19, 20)
								addi(20, 15, r*q8KStride+128*h+32*j+16*gi)
								vld1(20, 20)
								s.dot16(W, 20, 19, T)
								mla(A[r], 19, 21)
							}
						}
					}
				}
			}
			for c := 0; c < 4; c++ {
				addi(17, rowReg(c), 208)
				p("VLD1 (R17), V0.H[%d]", c)
			}
			fcvtlIn(0, 0)
			for r := 0; r < nr; r++ {
				addi(20, 16, 4*r)
				vld1r(1, 20)
				fmul(2, 1, 0) // d_x·d
				scvtf(3, A[r])
				fmul(3, 2, 3)
				fadd(outs[r], outs[r], 3)
			}
			for c := 0; c < 4; c++ {
				addi(rowReg(c), rowReg(c), wbytes)
			}
		})
	}
}

// ---- ActQ8 quantization of one input row, as quantizeQ8 in quant.go:
// d = max|x|/127 (FDIV), inv = 1/d (0 for an all-zero block),
// q = round(x·inv) to even, the int32 -8·Σq after the 32 quants.
func genQuantQ8() {
	const name = "quantQ8Neon"
	fmt.Fprintf(&out, "\n// func %s(q *byte, qstride int, d *float32, dstride int, x *float32, nb int)\n", name)
	fmt.Fprintf(&out, "TEXT ·%s(SB), NOSPLIT, $0-48\n", name)
	p("MOVD q+0(FP), R0")
	p("MOVD qstride+8(FP), R1")
	p("MOVD d+16(FP), R2")
	p("MOVD dstride+24(FP), R3")
	p("MOVD x+32(FP), R4")
	p("MOVD nb+40(FP), R5")
	p("FMOVS $(127.0), F30")
	p("FMOVS $(1.0), F29")
	label("loop")
	p("VLD1.P 64(R4), [V0.S4, V1.S4, V2.S4, V3.S4]")
	p("VLD1.P 64(R4), [V4.S4, V5.S4, V6.S4, V7.S4]")
	for i := 0; i < 8; i++ {
		fabs(8+i, i)
	}
	for _, s := range [][2]int{{8, 9}, {10, 11}, {12, 13}, {14, 15}, {8, 10}, {12, 14}, {8, 12}} {
		fmax(s[0], s[0], s[1])
	}
	fmaxv(8, 8)
	p("FDIVS F30, F8, F9") // d = amax/127
	p("FMOVS F9, (R2)")
	p("ADD R3, R2, R2")
	vzero(10)
	p("FCMPS $(0.0), F9")
	p("BEQ scale")
	p("FDIVS F9, F29, F10") // inv = 1/d
	label("scale")
	for i := 0; i < 8; i++ {
		fmulElem(i, i, 10, 0)
		fcvtns(i, i)
	}
	vaddS(8, 0, 1)
	vaddS(9, 2, 3)
	vaddS(10, 4, 5)
	vaddS(11, 6, 7)
	vaddS(8, 8, 9)
	vaddS(10, 10, 11)
	vaddS(8, 8, 10)
	p("VADDV V8.S4, V8")
	// int32 to int8 (|q| <= 127): the low halfwords, then the low bytes.
	for i := 0; i < 4; i++ {
		p("VUZP1 V%d.H8, V%d.H8, V%d.H8", 2*i+1, 2*i, 16+i)
	}
	p("VUZP1 V17.B16, V16.B16, V20.B16")
	p("VUZP1 V19.B16, V18.B16, V21.B16")
	p("VST1 [V20.B16, V21.B16], (R0)")
	p("FMOVS F8, R6")
	p("NEG R6, R6")
	p("LSL $3, R6, R6")
	p("MOVW R6, 32(R0)")
	p("ADD R1, R0, R0")
	p("SUBS $1, R5, R5")
	p("BNE loop")
	p("RET")
}

func main() {
	fmt.Fprintln(&out, "// Code generated by go run ./_generate_arm64; DO NOT EDIT.")
	fmt.Fprintln(&out, "\n//go:build !noasm\n\n#include \"textflag.h\"")
	neon, dot := isa{name: "Neon"}, isa{name: "Dot", dot: true}
	genQ8(neon, "q4_0", 4)
	genQ8(neon, "q8_0", 4)
	genQ4K(neon, 2)
	genQ6K(neon, 2)
	genQ8(dot, "q4_0", 8)
	genQ8(dot, "q8_0", 8)
	genQ4K(dot, 4)
	genQ6K(dot, 4)
	genQuantQ8()
	genHalfToFloat()
	genQ8ToFloat()
	os.Stdout.WriteString(out.String())
}

// genHalfToFloat writes halfToFloatNeon(dst *float32, src *uint16, n int):
// n (a positive multiple of 8) binary16 values to float32 by FCVTL, which
// is exact (the F16 key/value cache's decoding).
func genHalfToFloat() {
	fmt.Fprintf(&out, "\n// func halfToFloatNeon(dst *float32, src *uint16, n int)\n")
	fmt.Fprintf(&out, "TEXT ·halfToFloatNeon(SB), NOSPLIT, $0-24\n")
	p("MOVD dst+0(FP), R0")
	p("MOVD src+8(FP), R1")
	p("MOVD n+16(FP), R2")
	label("h2floop")
	p("VLD1.P 16(R1), [V0.H8]")
	fcvtl(1, 0, false)
	fcvtl(2, 0, true)
	p("VST1.P [V1.S4, V2.S4], 32(R0)")
	p("SUBS $8, R2, R2")
	p("BNE h2floop")
	p("RET")
}

// genQ8ToFloat writes q8ToFloatNeon(dst *float32, src *byte, n int): a Q8
// row of n values (a positive multiple of 32: n int8 quants, then a
// float32 scale per 32), each value scale·quant: SSHLL twice, SCVTF (exact
// for |q| <= 127) and one FMUL by the scale, as the Go decoder's product.
func genQ8ToFloat() {
	fmt.Fprintf(&out, "\n// func q8ToFloatNeon(dst *float32, src *byte, n int)\n")
	fmt.Fprintf(&out, "TEXT ·q8ToFloatNeon(SB), NOSPLIT, $0-24\n")
	p("MOVD dst+0(FP), R0")
	p("MOVD src+8(FP), R1")
	p("MOVD n+16(FP), R2")
	p("ADD R1, R2, R3") // the scales
	label("q8floop")
	p("FMOVS.P 4(R3), F16")
	p("VLD1.P 32(R1), [V0.B16, V1.B16]")
	sxtlB(2, 0, false)
	sxtlB(3, 0, true)
	sxtlB(4, 1, false)
	sxtlB(5, 1, true)
	for i, h := range []int{2, 3, 4, 5} {
		sxtl(8+2*i, h, false)
		sxtl(9+2*i, h, true)
	}
	for r := 8; r < 16; r++ {
		scvtf(r, r)
		fmulElem(r, r, 16, 0)
	}
	p("VST1.P [V8.S4, V9.S4, V10.S4, V11.S4], 64(R0)")
	p("VST1.P [V12.S4, V13.S4, V14.S4, V15.S4], 64(R0)")
	p("SUBS $32, R2, R2")
	p("BNE q8floop")
	p("RET")
}
