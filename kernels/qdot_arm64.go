//go:build !noasm

package kernels

import (
	"golang.org/x/sys/cpu"

	"maira/quant/dtype"
)

// The arm64 variants (qdot_arm64.s, written by _generate_arm64, and
// float_arm64.s): column tiles of the quantized MatMul, bit-identical to
// the Go twins in quant.go, plus Dot and Axpy on Advanced SIMD.
//
//	neon:    ARMv8.0 Advanced SIMD (every arm64 Linux machine: Cortex-A53,
//	         A72); byte products by SMULL/SMLAL
//	dotprod: + SDOT (FEAT_DotProd, ARMv8.2: Cortex-A76, A78 and the Jetson
//	         Orin's A78AE, Neoverse N1); weight rows transposed by LD4
//
// Every weight type runs a column tile of 8 weight rows (two halves of 4,
// one vector lane per row) against up to 8 (dotprod Q4_0/Q8_0), 4 or 2
// input rows at once. ActQ8 activations are quantized in assembly too
// (ActQ8K in Go). The rest (float GEMM, attention, GELU) is generic's, on
// these Dot and Axpy.

//go:noescape
func q4_0TileNeon(dst *float32, ldDst int, w *byte, rb, nb int, q *byte, qstride int, d *float32, dstride, nr int)

//go:noescape
func q8_0TileNeon(dst *float32, ldDst int, w *byte, rb, nb int, q *byte, qstride int, d *float32, dstride, nr int)

//go:noescape
func q4_KTileNeon(dst *float32, ldDst int, w *byte, rb, nb int, q *byte, qstride int, d *float32, dstride, nr int)

//go:noescape
func q6_KTileNeon(dst *float32, ldDst int, w *byte, rb, nb int, q *byte, qstride int, d *float32, dstride, nr int)

//go:noescape
func q4_0TileDot(dst *float32, ldDst int, w *byte, rb, nb int, q *byte, qstride int, d *float32, dstride, nr int)

//go:noescape
func q8_0TileDot(dst *float32, ldDst int, w *byte, rb, nb int, q *byte, qstride int, d *float32, dstride, nr int)

//go:noescape
func q4_KTileDot(dst *float32, ldDst int, w *byte, rb, nb int, q *byte, qstride int, d *float32, dstride, nr int)

//go:noescape
func q6_KTileDot(dst *float32, ldDst int, w *byte, rb, nb int, q *byte, qstride int, d *float32, dstride, nr int)

//go:noescape
func quantQ8Neon(q *byte, qstride int, d *float32, dstride int, x *float32, nb int)

// quantizeRowsNEON is quantizeRows with the ActQ8 blocks in assembly
// (bit-identical); ActQ8K takes the Go code.
func quantizeRowsNEON(a *Activations, x []float32, ldX, r0, r1 int) {
	if a.Type != ActQ8 || a.Blocks == 0 {
		quantizeRows(a, x, ldX, r0, r1)
		return
	}
	for r := r0; r < r1; r++ {
		_ = x[r*ldX+a.Cols-1]
		quantQ8Neon(&a.Q[r*q8Stride], a.Rows*q8Stride, &a.D[r], 4*a.Rows, &x[r*ldX], a.Blocks)
	}
}

//go:noescape
func halfToFloatNeon(dst *float32, src *uint16, n int)

//go:noescape
func q8ToFloatNeon(dst *float32, src *byte, n int)

// halfToFloatNEON is HalfToFloat by FCVTL, 8 values a step.
func halfToFloatNEON(dst []float32, src []uint16) {
	n := min(len(dst), len(src))
	if n8 := n &^ 7; n8 > 0 {
		halfToFloatNeon(&dst[0], &src[0], n8)
	}
	halfToFloat(dst[n&^7:n], src[n&^7:n])
}

// q8ToFloatNEON is Q8ToFloat in assembly.
func q8ToFloatNEON(dst []float32, src []byte) {
	if len(dst) == 0 {
		return
	}
	src = src[:Q8Row(len(dst))]
	q8ToFloatNeon(&dst[0], &src[0], len(dst))
}

func hasNEON() bool    { return cpu.ARM64.HasASIMD }
func hasDotprod() bool { return cpu.ARM64.HasASIMD && cpu.ARM64.HasASIMDDP }

func init() {
	Register(&Variant{Name: "neon", Priority: 10, Available: hasNEON,
		Dot: dotNEON, Axpy: axpyNEON, Quantize: quantizeRowsNEON,
		HalfToFloat: halfToFloatNEON, Q8ToFloat: q8ToFloatNEON,
		tileRows: 4,
		qdots: qdotTable{
			dtype.Q4_0: wrapTile(q4_0TileNeon, 4),
			dtype.Q8_0: wrapTile(q8_0TileNeon, 4),
			dtype.Q4_K: wrapTile(q4_KTileNeon, 2),
			dtype.Q6_K: wrapTile(q6_KTileNeon, 2),
		}})
	Register(&Variant{Name: "dotprod", Priority: 20, Available: hasDotprod,
		Dot: dotNEON, Axpy: axpyNEON, Quantize: quantizeRowsNEON,
		HalfToFloat: halfToFloatNEON, Q8ToFloat: q8ToFloatNEON,
		tileRows: 8,
		qdots: qdotTable{
			dtype.Q4_0: wrapTile(q4_0TileDot, 8),
			dtype.Q8_0: wrapTile(q8_0TileDot, 8),
			dtype.Q4_K: wrapTile(q4_KTileDot, 4),
			dtype.Q6_K: wrapTile(q6_KTileDot, 4),
		}})
}
