//go:build amd64 && !noasm

// The float GEMM driver is portable Go; only amd64 has micro-kernels for it
// today (an arm64 NEON F32/F16 kernel would register through it the same way).

package kernels

import "maira/quant/dtype"

type gemmKernel func(dst *float32, ldDst int, x *float32, ldX int, w *byte, ldW, k8 int)

// gemm is a float MatMul for F32 and F16 weights from an mr x nr
// micro-kernel: input rows in blocks that stay in L2 (64 rounded down to a
// multiple of mr), each weight tile of nr rows meeting every tile of mr
// rows in the block; the rows left over, and inputs of fewer than mr rows
// (decode), take the 1 x nr kernel. Values past the last multiple of 8 take
// a Go loop, the weight rows left over (fewer than nr) generic's matMul, as
// do other weight types.
type gemm struct {
	mr, nr   int
	f32, f16 gemmKernel
	// gemv32 and gemv16 are 1 x nr kernels for the rows the tiles of mr
	// leave over, and for inputs of fewer than mr rows (decode).
	gemv32, gemv16 gemmKernel
	// q8dots and q8axpys are attention's fused Q8 loops (float_amd64.go;
	// nil: the ymm ones). The F16 ones stay ymm: zmm measured no faster,
	// the loop being bound by memory.
	q8dots  func(out *float32, q *float32, k *byte, ldk, n, hd int, scale float32)
	q8axpys func(acc *float32, p *float32, v *byte, ldv, n, hd int)
}

func (g gemm) matMul(v *Variant) func(dst []float32, ldDst int, x []float32, ldX, n int, w *Matrix, o0, o1 int, s *Scratch) {
	var f func(dst []float32, ldDst int, x []float32, ldX, n int, w *Matrix, o0, o1 int, s *Scratch)
	f = func(dst []float32, ldDst int, x []float32, ldX, n int, w *Matrix, o0, o1 int, s *Scratch) {
		k, kv := g.f32, g.gemv32
		if w.Type == dtype.F16 {
			k, kv = g.f16, g.gemv16
		} else if w.Type != dtype.F32 {
			k = nil
		}
		if k == nil || o1-o0 < g.nr || w.Cols < 8 {
			v.matMul(dst, ldDst, x, ldX, n, w, o0, o1, s)
			return
		}
		cols := w.Cols
		k8 := cols &^ 7
		rowsT := n / g.mr * g.mr
		if n < g.mr {
			k, rowsT = kv, n // one row at a time
		}
		oT := o0 + (o1-o0)/g.nr*g.nr
		mr := g.mr
		if n < g.mr {
			mr = 1
		}
		block := 64 / mr * mr
		var tail []float32
		if k8 < cols {
			tail = s.Floats(g.nr * (cols - k8))
		}
		for rb := 0; rb < rowsT; rb += block {
			re := min(rb+block, rowsT)
			for o := o0; o < oT; o += g.nr {
				wp := &w.Data[o*w.RowBytes]
				for r := rb; r < re; r += mr {
					k(&dst[r*ldDst+o], ldDst, &x[r*ldX], ldX, wp, w.RowBytes, k8)
				}
				if tail == nil {
					continue
				}
				// The last cols-k8 values of the nr weight rows.
				t := cols - k8
				for j := 0; j < g.nr; j++ {
					row := w.Data[(o+j)*w.RowBytes : (o+j+1)*w.RowBytes]
					if w.Type == dtype.F16 {
						dtype.F16.Traits().ToFloat(tail[j*t:(j+1)*t], row[2*k8:])
					} else {
						dtype.F32.Traits().ToFloat(tail[j*t:(j+1)*t], row[4*k8:])
					}
				}
				for r := rb; r < re; r++ {
					xr := x[r*ldX+k8 : r*ldX+cols]
					for j := 0; j < g.nr; j++ {
						var sum float32
						for i, xv := range xr {
							sum += xv * tail[j*t+i]
						}
						dst[r*ldDst+o+j] += sum
					}
				}
			}
		}
		if oT < o1 {
			v.matMul(dst, ldDst, x, ldX, rowsT, w, oT, o1, s)
		}
		if rowsT < n {
			f(dst[rowsT*ldDst:], ldDst, x[rowsT*ldX:], ldX, n-rowsT, w, o0, o1, s)
		}
	}
	return f
}
