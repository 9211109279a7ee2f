//go:build (amd64 || arm64) && !noasm

package kernels

// Adapters from assembly kernels to the qtile signature, shared by every
// architecture's variants (amd64 today; arm64's NEON kernels slot in the
// same way: a qdot_arm64.s with the same argument lists, registered from a
// qdot_arm64.go through these).

// asmTile is a column kernel: 8 weight rows (rb bytes apart) against nr
// activation rows, written to dst (rows ldDst apart).
type asmTile func(dst *float32, ldDst int, w *byte, rb, nb int, q *byte, qstride int, d *float32, dstride, nr int)

// wrapTile adapts a column kernel, which always computes 8 weight rows
// against up to maxRows activation rows: a tail of fewer weight rows is
// copied into scratch padded with zero rows (scale 0) and its outputs
// taken from a scratch tile.
func wrapTile(f asmTile, maxRows int) qtile {
	var tile qtile
	tile = func(dst []float32, ldDst int, w []byte, rb, nc int, a *Activations, r0, nr int, s *Scratch) {
		for nr > maxRows {
			tile(dst, ldDst, w, rb, nc, a, r0, maxRows, s)
			r0, nr = r0+maxRows, nr-maxRows
		}
		q, d := &a.Q[r0*a.Stride], &a.D[r0]
		if nc == tileCols {
			_ = dst[(r0+nr-1)*ldDst+tileCols-1]
			f(&dst[r0*ldDst], ldDst, &w[0], rb, a.Blocks, q, a.Rows*a.Stride, d, 4*a.Rows, nr)
			return
		}
		buf := s.Bytes(tileCols * rb)
		copy(buf, w[:nc*rb])
		clear(buf[nc*rb:])
		out := s.Floats(tileCols * nr)
		f(&out[0], tileCols, &buf[0], rb, a.Blocks, q, a.Rows*a.Stride, d, 4*a.Rows, nr)
		for i := 0; i < nr; i++ {
			copy(dst[(r0+i)*ldDst:(r0+i)*ldDst+nc], out[i*tileCols:])
		}
	}
	return tile
}
