//go:build !noasm

package kernels

import (
	"golang.org/x/sys/cpu"

	"maira/quant/dtype"
)

// The amd64 variants (qdot_amd64.s, written by _generate): the integer dot
// products of the quantized MatMul, bit-identical to the Go twins in
// quant.go, plus the float kernels of float_amd64.s.
//
//	avx2:   AVX2 + FMA + F16C (Haswell, Zen 1 and later)
//	avx512: AVX-512 F/BW/VL + VNNI on ymm registers (Ice Lake, Zen 4)
//
// Q4_0 and Q8_0 run column tiles in both; Q4_K and Q6_K column tiles in
// avx512 and row-at-a-time kernels in avx2; Q4_0 and Q4_K packed zmm
// tiles for prefill in avx512.

//go:noescape
func q4_KDotAvx2(out *[4]float32, w *byte, nb int, q *byte, d *float32, ldq, ldd, nr int)

//go:noescape
func q6_KDotAvx2(out *[4]float32, w *byte, nb int, q *byte, d *float32, ldq, ldd, nr int)

//go:noescape
func q6_KTileAvx512(dst *float32, ldDst int, w *byte, rb, nb int, q *byte, qstride int, d *float32, dstride, nr int)

//go:noescape
func q4_KTileAvx512(dst *float32, ldDst int, w *byte, rb, nb int, q *byte, qstride int, d *float32, dstride, nr int)

//go:noescape
func q4_0TileAvx2(dst *float32, ldDst int, w *byte, rb, nb int, q *byte, qstride int, d *float32, dstride, nr int)

//go:noescape
func q8_0TileAvx2(dst *float32, ldDst int, w *byte, rb, nb int, q *byte, qstride int, d *float32, dstride, nr int)

//go:noescape
func q4_0TileAvx512(dst *float32, ldDst int, w *byte, rb, nb int, q *byte, qstride int, d *float32, dstride, nr int)

//go:noescape
func q8_0TileAvx512(dst *float32, ldDst int, w *byte, rb, nb int, q *byte, qstride int, d *float32, dstride, nr int)

//go:noescape
func q4_0PackAvx512(p *byte, w *byte, rb, nb int)

//go:noescape
func q4_0PackedTileAvx512(dst *float32, ldDst int, p *byte, nb int, q *byte, qstride int, d *float32, dstride, nr int)

//go:noescape
func q8_0PackAvx512(p *byte, w *byte, rb, nb int)

//go:noescape
func q8_0PackedTileAvx512(dst *float32, ldDst int, p *byte, nb int, q *byte, qstride int, d *float32, dstride, nr int)

//go:noescape
func q4_KPackAvx512(p *byte, w *byte, rb, nb int)

//go:noescape
func q4_KPackedTileAvx512(dst *float32, ldDst int, p *byte, nb int, q *byte, qstride int, d *float32, dstride, nr int)

//go:noescape
func q4_KPackAvx2(p *byte, w *byte, rb, nb int)

//go:noescape
func q4_KPackedTileAvx2(dst *float32, ldDst int, p *byte, nb int, q *byte, qstride int, d *float32, dstride, nr int)

func hasAVX2() bool { return cpu.X86.HasAVX2 && cpu.X86.HasFMA && cpu.X86.HasF16C }

func hasAVX512VNNI() bool {
	return hasAVX2() && cpu.X86.HasAVX512F && cpu.X86.HasAVX512BW && cpu.X86.HasAVX512VL && cpu.X86.HasAVX512VNNI
}

func init() {
	avx2 := &Variant{Name: "avx2", Priority: 10, Available: hasAVX2,
		Dot: dotAVX2, Axpy: axpyAVX2, GELU: geluAVX2, Quantize: quantizeRowsAVX2,
		HalfToFloat: halfToFloatF16C, FloatToHalf: floatToHalfF16C, Q8ToFloat: q8ToFloatAVX2,
		qdots: qdotTable{
			dtype.Q4_0: wrapTile(q4_0TileAvx2, 4),
			dtype.Q8_0: wrapTile(q8_0TileAvx2, 4),
			dtype.Q4_K: wrap(q4_KDotAvx2),
			dtype.Q6_K: wrap(q6_KDotAvx2),
		}}
	avx2.packed = map[dtype.Type]*packedKernel{
		dtype.Q4_K: {cols: 8, blockBytes: 2496, rows: 2, pack: q4_KPackAvx2, tile: q4_KPackedTileAvx2},
	}
	g2 := gemm{3, 3, gemmF32Avx2, gemmF16Avx2, gemvF32x3Avx2, gemvF16x3Avx2, nil, nil}
	avx2.MatMul, avx2.Attention = g2.matMul(avx2), g2.attention(avx2)
	Register(avx2)
	avx512 := &Variant{Name: "avx512", Priority: 20, Available: hasAVX512VNNI,
		Dot: dotAVX2, Axpy: axpyAVX2, GELU: geluAVX2, Quantize: quantizeRowsAVX2,
		HalfToFloat: halfToFloatF16C, FloatToHalf: floatToHalfF16C, Q8ToFloat: q8ToFloatAVX2,
		tileRows: 8,
		qdots: qdotTable{
			dtype.Q4_0: wrapTile(q4_0TileAvx512, 8),
			dtype.Q8_0: wrapTile(q8_0TileAvx512, 8),
			dtype.Q4_K: wrapTile(q4_KTileAvx512, 4),
			dtype.Q6_K: wrapTile(q6_KTileAvx512, 2),
		}}
	avx512.packed = map[dtype.Type]*packedKernel{
		dtype.Q4_0: {cols: 16, blockBytes: 8*64 + 64, rows: 8, pack: q4_0PackAvx512, tile: q4_0PackedTileAvx512},
		dtype.Q8_0: {cols: 16, blockBytes: 8*64 + 64, rows: 8, pack: q8_0PackAvx512, tile: q8_0PackedTileAvx512},
		dtype.Q4_K: {cols: 16, blockBytes: 4992, rows: 6, pack: q4_KPackAvx512, tile: q4_KPackedTileAvx512},
	}
	g5 := gemm{4, 4, gemmF32Avx512, gemmF16Avx512, gemvF32x4Avx2, gemvF16x4Avx2, dotsQ8Avx512, axpysQ8Avx512}
	avx512.MatMul, avx512.Attention = g5.matMul(avx512), g5.attention(avx512)
	Register(avx512)
}

// asmDot is a row-at-a-time kernel: one weight row against nr activation
// rows (block-major; ldq and ldd are the strides to the next block).
type asmDot func(out *[4]float32, w *byte, nb int, q *byte, d *float32, ldq, ldd, nr int)

// wrap adapts a row-at-a-time assembly kernel (ActQ8K): ldq and ldd are
// the activation's block strides.
func wrap(f asmDot) qtile {
	return rowTiles(func(out *[4]float32, w []byte, a *Activations, r0, nr int) {
		f(out, &w[0], a.Blocks, &a.Q[r0*a.Stride], &a.D[r0], a.Rows*a.Stride, 4*a.Rows, nr)
	})
}
