package kernels

import "unsafe"

// Packed prefill tiles: for many input rows, a tile of 16 (zmm) or 8 (ymm)
// weight rows is first repacked (transposed, unpacked, scales decoded)
// into scratch, once per block of input rows, and then met by every group
// of input rows (8 for Q4_0 and Q8_0, 6 for Q4_K, 2 on ymm); the column
// tiles (tiles.go) redo that unpacking for each group. The packed form and
// its kernels belong to a variant (avx512; avx2 for Q4_K); they give the
// twins' results bit for bit.

// packMinRows is the fewest input rows that take the packed path: packing
// a tile costs about what one group of rows does with it.
const packMinRows = 32

// packedKernel is one weight type's packed path.
type packedKernel struct {
	cols       int // weight rows of a packed tile: the int32 lanes of a zmm (16) or ymm (8)
	blockBytes int // packed bytes of a block of cols rows
	rows       int // input rows per tile call
	// pack writes nb blocks of the cols weight rows at w (rb bytes
	// apart) to p.
	pack func(p *byte, w *byte, rb, nb int)
	// tile computes the packed rows against nr <= rows input rows
	// (the column tiles' arguments).
	tile func(dst *float32, ldDst int, p *byte, nb int, q *byte, qstride int, d *float32, dstride, nr int)
}

// matMulPacked is matMulQ by packed tiles.
func matMulPacked(k *packedKernel, dst []float32, ldDst int, a *Activations, w *Matrix, o0, o1 int, s *Scratch) {
	rb, nb := w.RowBytes, a.Blocks
	// Input rows in blocks that stay in L2 beside the packed tile, at
	// least 8 groups of rows per packing.
	block := max(8*k.rows, qRowBlockBytes/max(1, a.RowBytes)/k.rows*k.rows)
	packed, packCols := nb*k.blockBytes, k.cols // weight rows per tile
	buf := s.Bytes(packed + packCols*rb + 64)
	off := int(-uintptr(unsafe.Pointer(&buf[0])) & 63) // cache-line aligned
	p, pad := buf[off:off+packed], buf[off+packed:off+packed+packCols*rb]
	for r0 := 0; r0 < a.Rows; r0 += block {
		r1 := min(r0+block, a.Rows)
		for o := o0; o < o1; o += packCols {
			nc := min(packCols, o1-o)
			wt := w.Data[o*rb : (o+nc)*rb]
			if nc < packCols { // zero rows (scale 0) after the last
				copy(pad, wt)
				clear(pad[nc*rb:])
				wt = pad
			}
			k.pack(&p[0], &wt[0], rb, nb)
			for r := r0; r < r1; r += k.rows {
				nr := min(k.rows, r1-r)
				q, d := &a.Q[r*a.Stride], &a.D[r]
				if nc == packCols {
					_ = dst[(r+nr-1)*ldDst+o+packCols-1]
					k.tile(&dst[r*ldDst+o], ldDst, &p[0], nb, q, a.Rows*a.Stride, d, 4*a.Rows, nr)
					continue
				}
				tmp := s.Floats(packCols * nr)
				k.tile(&tmp[0], packCols, &p[0], nb, q, a.Rows*a.Stride, d, 4*a.Rows, nr)
				for i := 0; i < nr; i++ {
					copy(dst[(r+i)*ldDst+o:(r+i)*ldDst+o+nc], tmp[i*packCols:])
				}
			}
		}
	}
}
