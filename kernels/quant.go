package kernels

import (
	"encoding/binary"
	"math"

	"maira/quant/dtype"
)

// The quantized path: instead of decoding each weight block to float32,
// the input rows of a MatMul are quantized once per call to 8-bit blocks
// (ActQ8 for the 32-value weight types, ActQ8K for the 256-value
// k-quants, as ggml pairs Q4_0/Q8_0 with Q8_0 and the k-quants with Q8_K
// through type_traits_cpu's vec_dot_type), and each weight block meets
// its activation block in an exact integer dot product scaled by
// d_w·d_x. That is what llama.cpp computes; it differs from the exact
// float path by the activation rounding (about 0.4% per dot product).
//
// Layouts are ours, chosen for the SIMD kernels (see the Activations
// fields). Every SIMD kernel keeps the integer sums exact and the float
// operations of its Go twin in the same order, without fused
// multiply-adds, so assembly and twin agree bit for bit.

// ActType is the format input rows are quantized to.
type ActType uint8

const (
	// ActNone: the variant computes this weight type on float32 inputs.
	ActNone ActType = iota
	// ActQ8 is blocks of 32 int8 with a float32 scale (ggml's Q8_0
	// values) plus -8·Σq: the offset of Q4_0's unsigned nibbles,
	// precomputed so that an unsigned×signed byte dot product (VPDPBUSD)
	// of the raw nibbles starts from it and needs no correction (Q8_0's
	// kernels use it times 16).
	ActQ8
	// ActQ8K is ggml's Q8_K: blocks of 256 int8 with a float32 scale and
	// the sums of each 16 values (bsums).
	ActQ8K
)

// Block sizes and the bytes of one activation block in Activations.Q.
const (
	q8Block   = 32
	q8Stride  = 36 // 32 quants, then the int32 -8·Σq
	q8KBlock  = 256
	q8KStride = 368 // 256 quants, 16 int16 sums of 16, 8 int16 sums of 32, 16 int32 -32·sums of 16
)

// Activations is n input rows quantized for one weight type's integer dot
// product.
//
// Both are block-major, so that the kernels find the rows of a tile at
// fixed offsets: block b of row r takes Stride bytes at
// Q[(b·Rows+r)·Stride] and has scale D[b·Rows+r]. An ActQ8 block is 36
// bytes: 32 int8 quants, then the little-endian int32 -8·Σq. An ActQ8K
// block is 368 bytes: 256 int8 quants, the 16 little-endian int16 sums of
// each 16 (ggml's bsums), the 8 int16 sums of each 32 (Q4_K's
// sub-blocks), then -32 times the sums of 16 as int32 (Q6_K's offset of
// 32, where its kernel starts each group's sum).
type Activations struct {
	Type     ActType
	Rows     int
	Cols     int
	Blocks   int // per row
	RowBytes int // Blocks·Stride
	Stride   int // bytes per block
	Q        []byte
	D        []float32
}

// Reset sizes a for n rows of cols values of type t, reusing its buffers.
func (a *Activations) Reset(t ActType, n, cols int) {
	bs, stride := q8Block, q8Stride
	if t == ActQ8K {
		bs, stride = q8KBlock, q8KStride
	}
	a.Type, a.Rows, a.Cols, a.Stride = t, n, cols, stride
	a.Blocks = cols / bs
	a.RowBytes = a.Blocks * stride
	if need := n * a.RowBytes; cap(a.Q) < need {
		a.Q = make([]byte, need+need/4)
	}
	a.Q = a.Q[:n*a.RowBytes]
	if need := n * a.Blocks; cap(a.D) < need {
		a.D = make([]float32, need+need/4)
	}
	a.D = a.D[:n*a.Blocks]
}

// actFor is the activation type each quantized weight type pairs with.
func actFor(t dtype.Type) ActType {
	switch t {
	case dtype.Q4_0, dtype.Q8_0:
		return ActQ8
	case dtype.Q4_K, dtype.Q6_K:
		return ActQ8K
	}
	return ActNone
}

// quantizeRows quantizes rows [r0, r1) of x (rows ldX apart) into a,
// which Reset has sized.
func quantizeRows(a *Activations, x []float32, ldX, r0, r1 int) {
	for r := r0; r < r1; r++ {
		src := x[r*ldX : r*ldX+a.Cols]
		for b := 0; b < a.Blocks; b++ {
			i := b*a.Rows + r
			if a.Type == ActQ8K {
				a.D[i] = quantizeQ8K((*[q8KStride]byte)(a.Q[i*q8KStride:]), (*[q8KBlock]float32)(src[b*q8KBlock:]))
			} else {
				a.D[i] = quantizeQ8((*[q8Stride]byte)(a.Q[i*q8Stride:]), (*[q8Block]float32)(src[b*q8Block:]))
			}
		}
	}
}

// QuantizeQ8KBlocks quantizes blocks [b0, b1) of row r of x (rows ldX
// apart) into a, of type ActQ8K, as Quantize does for whole rows: a decode
// step's one input row split across workers by blocks (ggml's Q8_K has no
// assembly here; a row of 11008 takes about 30 µs).
func QuantizeQ8KBlocks(a *Activations, x []float32, ldX, r, b0, b1 int) {
	src := x[r*ldX : r*ldX+a.Cols]
	for b := b0; b < b1; b++ {
		i := b*a.Rows + r
		a.D[i] = quantizeQ8K((*[q8KStride]byte)(a.Q[i*q8KStride:]), (*[q8KBlock]float32)(src[b*q8KBlock:]))
	}
}

// round rounds to the nearest integer, ties to even (|f| <= 127 here), by
// adding and removing 1.5·2²³ as ggml's nearest_int does.
func round(f float32) int32 {
	v := float32(f) + 12582912
	return int32(math.Float32bits(v)&0x007fffff) - 0x00400000
}

// quantizeQ8 writes one ActQ8 block and returns its scale:
// d = max|x|/127, q = round(x/d).
func quantizeQ8(blk *[q8Stride]byte, xs *[q8Block]float32) float32 {
	var amax float32
	for _, v := range xs {
		amax = max(amax, float32(math.Abs(float64(v))))
	}
	d := amax / 127
	var inv float32
	if d != 0 {
		inv = 1 / d
	}
	var sum int32
	for k, v := range xs {
		q := round(float32(v * inv))
		blk[k] = byte(int8(q))
		sum += q
	}
	binary.LittleEndian.PutUint32(blk[32:], uint32(-8*sum))
	return d
}

// quantizeQ8K writes one ActQ8K block as ggml's quantize_row_q8_K_ref
// and returns its scale: the value of largest magnitude maps to ∓127,
// q = round(x·(-127/max)), d = 1/iscale; then the sums of every 16 and
// every 32 quants.
func quantizeQ8K(blk *[q8KStride]byte, xs *[q8KBlock]float32) float32 {
	var amax, mx float32
	for _, v := range xs {
		if a := float32(math.Abs(float64(v))); a > amax {
			amax, mx = a, v
		}
	}
	if amax == 0 {
		clear(blk[:])
		return 0
	}
	iscale := -127 / mx
	for g := 0; g < 16; g++ {
		var sum int32
		for k := 16 * g; k < 16*g+16; k++ {
			q := min(127, round(float32(iscale*xs[k])))
			blk[k] = byte(int8(q))
			sum += q
		}
		binary.LittleEndian.PutUint16(blk[256+2*g:], uint16(int16(sum)))
	}
	for s := 0; s < 8; s++ {
		binary.LittleEndian.PutUint16(blk[288+2*s:], uint16(int16(bsum(blk, 2*s)+bsum(blk, 2*s+1))))
	}
	for g := 0; g < 16; g++ {
		binary.LittleEndian.PutUint32(blk[304+4*g:], uint32(-32*bsum(blk, g)))
	}
	return 1 / iscale
}

// qtile computes a tile of the quantized MatMul: the dot products of nc
// <= tileCols weight rows (w holds them, rb bytes apart) with activation
// rows [r0, r0+nr), nr <= tileRows, into dst[(r0+i)·ldDst + c].
type qtile func(dst []float32, ldDst int, w []byte, rb, nc int, a *Activations, r0, nr int, s *Scratch)

// tileCols is the weight rows of a tile: one ymm lane each in the column
// kernels.
const tileCols = 8

// qdot computes the dot products of one weight row (its stored bytes) with
// nr <= 4 consecutive activation rows starting at r0, into out[:nr]: the
// row-at-a-time kernels of the k-quants.
type qdot func(out *[4]float32, w []byte, a *Activations, r0, nr int)

// rowTiles makes a qtile of a qdot.
func rowTiles(f qdot) qtile {
	return func(dst []float32, ldDst int, w []byte, rb, nc int, a *Activations, r0, nr int, _ *Scratch) {
		var out [4]float32
		for c := 0; c < nc; c++ {
			for r := r0; r < r0+nr; r += 4 {
				n := min(4, r0+nr-r)
				f(&out, w[c*rb:(c+1)*rb], a, r, n)
				for i := 0; i < n; i++ {
					dst[(r+i)*ldDst+c] = out[i]
				}
			}
		}
	}
}

// qdotTable holds a variant's integer MatMul tiles by weight type.
type qdotTable map[dtype.Type]qtile

// goQdots are the Go twins every SIMD kernel is held to bit for bit.
var goQdots = qdotTable{
	dtype.Q4_0: tileQ4_0Go,
	dtype.Q8_0: tileQ8_0Go,
	dtype.Q4_K: rowTiles(dotQ4_KGo),
	dtype.Q6_K: rowTiles(dotQ6_KGo),
}

func fp16(b []byte) float32 { return dtype.FP16ToFP32(binary.LittleEndian.Uint16(b)) }

// tileQ4_0Go: each output sums, block by block, the exact Σ (n-8)·q of
// the block, as float, times d_x, times d_w.
func tileQ4_0Go(dst []float32, ldDst int, w []byte, rb, nc int, a *Activations, r0, nr int, _ *Scratch) {
	const wb = 18
	for c := 0; c < nc; c++ {
		row := w[c*rb:]
		for i := 0; i < nr; i++ {
			var acc float32
			for b := 0; b < a.Blocks; b++ {
				blk := (*[wb]byte)(row[b*wb:])
				k := b*a.Rows + r0 + i
				xs := (*[q8Stride]byte)(a.Q[k*q8Stride:])
				var s int32
				for j := 0; j < 16; j++ {
					s += (int32(blk[2+j]&15) - 8) * int32(int8(xs[j]))
					s += (int32(blk[2+j]>>4) - 8) * int32(int8(xs[j+16]))
				}
				p := float32(float32(s) * a.D[k])
				acc += float32(p * fp16(blk[:]))
			}
			dst[(r0+i)*ldDst+c] = acc
		}
	}
}

// tileQ8_0Go: as tileQ4_0Go with signed weight bytes.
func tileQ8_0Go(dst []float32, ldDst int, w []byte, rb, nc int, a *Activations, r0, nr int, _ *Scratch) {
	const wb = 34
	for c := 0; c < nc; c++ {
		row := w[c*rb:]
		for i := 0; i < nr; i++ {
			var acc float32
			for b := 0; b < a.Blocks; b++ {
				blk := (*[wb]byte)(row[b*wb:])
				k := b*a.Rows + r0 + i
				xs := (*[q8Stride]byte)(a.Q[k*q8Stride:])
				var s int32
				for j := 0; j < 32; j++ {
					s += int32(int8(blk[2+j])) * int32(int8(xs[j]))
				}
				p := float32(float32(s) * a.D[k])
				acc += float32(p * fp16(blk[:]))
			}
			dst[(r0+i)*ldDst+c] = acc
		}
	}
}

// scaleMinK4 is ggml's get_scale_min_k4: sub-block j's 6-bit scale and
// min from the 12 packed bytes of a Q4_K block.
func scaleMinK4(j int, q []byte) (sc, m int32) {
	if j < 4 {
		return int32(q[j] & 63), int32(q[j+4] & 63)
	}
	return int32(q[j+4]&0xf | (q[j-4]>>6)<<4), int32(q[j+4]>>4 | (q[j]>>6)<<4)
}

// dotQ4_KGo: per block, the exact integers A = Σ_s sc_s·Σ q·x and
// B = Σ_s m_s·Σ x over the 8 sub-blocks s give
// (d_x·d)·A - (d_x·dmin)·B, added block by block.
func dotQ4_KGo(out *[4]float32, w []byte, a *Activations, r0, nr int) {
	const wb = 144
	for i := 0; i < nr; i++ {
		var acc float32
		for b := 0; b < a.Blocks; b++ {
			blk := (*[wb]byte)(w[b*wb:])
			k := b*a.Rows + r0 + i
			xb := (*[q8KStride]byte)(a.Q[k*q8KStride:])
			var A, B int32
			for c := 0; c < 4; c++ {
				s1, m1 := scaleMinK4(2*c, blk[4:16])
				s2, m2 := scaleMinK4(2*c+1, blk[4:16])
				var lo, hi int32
				for l := 0; l < 32; l++ {
					n := blk[16+32*c+l]
					lo += int32(n&15) * int32(int8(xb[64*c+l]))
					hi += int32(n>>4) * int32(int8(xb[64*c+32+l]))
				}
				A += s1*lo + s2*hi
				B += m1*(bsum(xb, 4*c)+bsum(xb, 4*c+1)) + m2*(bsum(xb, 4*c+2)+bsum(xb, 4*c+3))
			}
			t1 := float32(float32(a.D[k]*fp16(blk[0:])) * float32(A))
			t2 := float32(float32(a.D[k]*fp16(blk[2:])) * float32(B))
			acc += t1 - t2
		}
		out[i] = acc
	}
}

// bsum is ActQ8K block sum g (of values 16g..16g+15).
func bsum(xb *[q8KStride]byte, g int) int32 {
	return int32(int16(binary.LittleEndian.Uint16(xb[256+2*g:])))
}

// dotQ6_KGo: per block, the exact integer
// A = Σ_g sc_g·(Σ u·x - 32·Σ x) over the 16 groups g of 16 values, u the
// unsigned 6-bit quant, gives d_x·d·A.
func dotQ6_KGo(out *[4]float32, w []byte, a *Activations, r0, nr int) {
	const wb = 210
	for i := 0; i < nr; i++ {
		var sum float32
		for b := 0; b < a.Blocks; b++ {
			blk := (*[wb]byte)(w[b*wb:])
			k := b*a.Rows + r0 + i
			xb := (*[q8KStride]byte)(a.Q[k*q8KStride:])
			var g [16]int32
			for h := 0; h < 2; h++ {
				ql, qh := blk[64*h:], blk[128+32*h:]
				x := xb[128*h:]
				for l := 0; l < 32; l++ {
					u1 := int32(ql[l]&0xf | (qh[l]&3)<<4)
					u2 := int32(ql[l+32]&0xf | (qh[l]>>2&3)<<4)
					u3 := int32(ql[l]>>4 | (qh[l]>>4&3)<<4)
					u4 := int32(ql[l+32]>>4 | (qh[l]>>6&3)<<4)
					g[8*h+l/16] += u1 * int32(int8(x[l]))
					g[8*h+2+l/16] += u2 * int32(int8(x[l+32]))
					g[8*h+4+l/16] += u3 * int32(int8(x[l+64]))
					g[8*h+6+l/16] += u4 * int32(int8(x[l+96]))
				}
			}
			var A int32
			for j := range g {
				A += int32(int8(blk[192+j])) * (g[j] - 32*bsum(xb, j))
			}
			sum += float32(float32(a.D[k]*fp16(blk[208:])) * float32(A))
		}
		out[i] = sum
	}
}

// qRowBlockBytes is how many bytes of quantized input rows one pass over a
// worker's weight rows keeps in L2 (Zen 4 and most current cores have 1 MB
// or more per core; half of it leaves room for the weight tiles).
const qRowBlockBytes = 512 << 10

// matMulQ is MatMul on quantized input: output columns [o0, o1) of dst
// for every row of a, in tiles of 8 weight rows by v.tileRows input rows.
// A tile's weight rows (8 x 2.3 KB for a Q4_0 row of 4096) stay in L1
// while every group of input rows passes by, so at prefill each weight
// block is unpacked once per group, and at decode (one row) each weight
// row is streamed once. The input rows are taken in blocks of about
// qRowBlockBytes, so that they come from L2, not L3, for every tile after
// the first; the weights are then read once per block of rows (a 512-row
// prefill chunk of 4096-wide rows reads them 5 times, each time from
// memory: about 5% of the arithmetic's time at 40 GB/s).
func (v *Variant) matMulQ(dst []float32, ldDst int, a *Activations, w *Matrix, o0, o1 int, s *Scratch) {
	if k := v.packed[w.Type]; k != nil && a.Rows >= packMinRows {
		matMulPacked(k, dst, ldDst, a, w, o0, o1, s)
		return
	}
	tile := v.qdots[w.Type]
	rows := max(1, v.tileRows)
	block := max(rows, qRowBlockBytes/max(1, a.RowBytes)/rows*rows)
	rb := w.RowBytes
	for r0 := 0; r0 < a.Rows; r0 += block {
		r1 := min(r0+block, a.Rows)
		for o := o0; o < o1; o += tileCols {
			nc := min(tileCols, o1-o)
			wt := w.Data[o*rb : (o+nc)*rb]
			for r := r0; r < r1; r += rows {
				tile(dst[o:], ldDst, wt, rb, nc, a, r, min(rows, r1-r), s)
			}
		}
	}
}

// The "q8" variant runs the quantized path in portable Go: the twin the
// assembly variants are tested against, and the quantized path on any
// architecture without one. It is not picked by Select (priority -1):
// where no SIMD variant exists, generic's exact float path is as fast.
func init() {
	Register(&Variant{Name: "q8", Priority: -1, qdots: qdotTable{}})
}
