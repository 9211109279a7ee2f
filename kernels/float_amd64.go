//go:build !noasm

package kernels

import (
	"math"
	"unsafe"
)

// dotAVX2 is Dot with 4 ymm FMA accumulators (32 values a step).
func dotAVX2(a, b []float32) float32 {
	if len(a) == 0 {
		return 0
	}
	b = b[:len(a)]
	return dotAsm(&a[0], &b[0], len(a))
}

// axpyAVX2 is Axpy with ymm FMAs.
func axpyAVX2(y []float32, a float32, x []float32) {
	if len(y) == 0 {
		return
	}
	x = x[:len(y)]
	axpyAsm(&y[0], a, &x[0], len(y))
}

//go:noescape
func dotAsm(a, b *float32, n int) float32

//go:noescape
func axpyAsm(y *float32, a float32, x *float32, n int)

//go:noescape
func dotsAsm(out *float32, q *float32, k *float32, ldk, n, hd int, scale float32)

//go:noescape
func axpysAsm(acc *float32, p *float32, v *float32, ldv, n, hd int)

//go:noescape
func expsAsm(x *float32, n int, m float32) float32

//go:noescape
func scaleMaxAsm(x *float32, n int, scale float32) float32

// attention is generic's blocked attention with its inner loops in
// assembly: the scores of a tile of query rows against a block of keys by
// the float GEMM micro-kernel (g), exp(score - max) with its sum by a
// polynomial exp (within 2 ulp), and the weighted sum of the value rows
// with the accumulator held in registers. Heads whose size is not a
// multiple of 8 take generic's loops.
func (g gemm) attention(v *Variant) func(a *Attn, s *Scratch) {
	return func(a *Attn, s *Scratch) {
		hd := a.HeadDim
		if hd%8 != 0 {
			v.attention(a, s)
			return
		}
		q8dots, q8axpys := g.q8dots, g.q8axpys
		if q8dots == nil {
			q8dots, q8axpys = dotsQ8Asm, axpysQ8Asm
		}
		buf := s.Floats(attnQueries*(hd+2) + attnQueries*attnKeys + kvScratch(a))
		acc := buf[:attnQueries*hd]
		mx := buf[attnQueries*hd : attnQueries*hd+attnQueries]
		sum := buf[attnQueries*hd+attnQueries : attnQueries*(hd+2)]
		S := buf[attnQueries*(hd+2) : attnQueries*(hd+2)+attnQueries*attnKeys]
		kb := buf[attnQueries*(hd+2)+attnQueries*attnKeys:]
		kb, vb := kb[:len(kb)/2], kb[len(kb)/2:]
		for r0 := 0; r0 < a.Rows; r0 += attnQueries {
			r1 := min(r0+attnQueries, a.Rows)
			clear(acc)
			for i := range mx {
				mx[i] = float32(math.Inf(-1))
				sum[i] = 0
			}
			keys := a.Keys
			if a.Causal {
				keys = a.Pos0 + r1
			}
			rowsT := r0 + (r1-r0)/g.mr*g.mr
			for k0 := 0; k0 < keys; k0 += attnKeys {
				k1 := min(k0+attnKeys, keys)
				keysT := k0 + (k1-k0)/g.nr*g.nr
				// Keys j at K[(j-k0)·ld], values alike. F16 ones are
				// decoded into kb and vb once for a whole tile of rows;
				// fewer rows than the micro-kernel's (decode) read them
				// in place (fused).
				fused := (a.K16 != nil || a.K8 != nil) && rowsT == r0
				var K, V []float32
				var ld int
				if !fused {
					K, V, ld = v.kvBlock(a, k0, k1, kb, vb)
				}
				// Raw scores of the tile: S[t·attnKeys + j-k0].
				for r := r0; r < rowsT; r += g.mr {
					for j := k0; j < keysT; j += g.nr {
						g.f32(&S[(r-r0)*attnKeys+j-k0], attnKeys, &a.Q[r*a.LdQ], a.LdQ,
							(*byte)(unsafe.Pointer(&K[(j-k0)*ld])), 4*ld, hd)
					}
					if keysT < k1 {
						for i := r; i < r+g.mr; i++ {
							dotsAsm(&S[(i-r0)*attnKeys+keysT-k0], &a.Q[i*a.LdQ], &K[(keysT-k0)*ld], ld, k1-keysT, hd, 1)
						}
					}
				}
				for r := rowsT; r < r1; r++ {
					if fused && a.K8 != nil {
						q8dots(&S[(r-r0)*attnKeys], &a.Q[r*a.LdQ], &a.K8[k0*a.LdKV], a.LdKV, k1-k0, hd, 1)
					} else if fused {
						dotsF16Asm(&S[(r-r0)*attnKeys], &a.Q[r*a.LdQ], &a.K16[k0*a.LdKV], a.LdKV, k1-k0, hd, 1)
					} else {
						dotsAsm(&S[(r-r0)*attnKeys], &a.Q[r*a.LdQ], &K[0], ld, k1-k0, hd, 1)
					}
				}
				for r := r0; r < r1; r++ {
					end := k1
					if a.Causal {
						end = min(k1, a.Pos0+r+1)
					}
					if end <= k0 {
						continue
					}
					n := end - k0
					t := r - r0
					sc := S[t*attnKeys : t*attnKeys+n]
					m := mx[t]
					n8 := n &^ 7
					if n8 > 0 {
						m = max(m, scaleMaxAsm(&sc[0], n8, a.Scale))
					}
					for j := n8; j < n; j++ {
						sc[j] *= a.Scale
						if sc[j] > m {
							m = sc[j]
						}
					}
					ar := acc[t*hd : (t+1)*hd]
					if m > mx[t] {
						corr := float32(math.Exp(float64(mx[t] - m)))
						sum[t] *= corr
						for i := range ar {
							ar[i] *= corr
						}
						mx[t] = m
					}
					if n8 > 0 {
						sum[t] += expsAsm(&sc[0], n8, m)
					}
					for j := n8; j < n; j++ {
						sc[j] = float32(math.Exp(float64(sc[j] - m)))
						sum[t] += sc[j]
					}
					if fused && a.K8 != nil {
						q8axpys(&ar[0], &sc[0], &a.V8[k0*a.LdKV], a.LdKV, n, hd)
					} else if fused {
						axpysF16Asm(&ar[0], &sc[0], &a.V16[k0*a.LdKV], a.LdKV, n, hd)
					} else {
						axpysAsm(&ar[0], &sc[0], &V[0], ld, n, hd)
					}
				}
			}
			for r := r0; r < r1; r++ {
				t := r - r0
				inv := 1 / sum[t]
				out := a.Out[r*a.LdOut : r*a.LdOut+hd]
				for i, x := range acc[t*hd : (t+1)*hd] {
					out[i] = x * inv
				}
			}
		}
	}
}

// halfToFloatF16C is HalfToFloat by VCVTPH2PS, 8 values a step.
func halfToFloatF16C(dst []float32, src []uint16) {
	n := min(len(dst), len(src))
	if n8 := n &^ 7; n8 > 0 {
		halfToFloatAsm(&dst[0], &src[0], n8)
	}
	halfToFloat(dst[n&^7:n], src[n&^7:n])
}

// floatToHalfF16C is FloatToHalf by VCVTPS2PH (round to nearest even).
func floatToHalfF16C(dst []uint16, src []float32) {
	n := len(src)
	dst = dst[:n]
	if n8 := n &^ 7; n8 > 0 {
		floatToHalfAsm(&dst[0], &src[0], n8)
	}
	floatToHalf(dst[n&^7:], src[n&^7:])
}

//go:noescape
func dotsF16Asm(out *float32, q *float32, k *uint16, ldk, n, hd int, scale float32)

//go:noescape
func axpysF16Asm(acc *float32, p *float32, v *uint16, ldv, n, hd int)

// q8ToFloatAVX2 is Q8ToFloat in assembly.
func q8ToFloatAVX2(dst []float32, src []byte) {
	if len(dst) == 0 {
		return
	}
	src = src[:Q8Row(len(dst))]
	q8ToFloatAsm(&dst[0], &src[0], len(dst))
}

//go:noescape
func q8ToFloatAsm(dst *float32, src *byte, n int)

//go:noescape
func dotsQ8Asm(out *float32, q *float32, k *byte, ldk, n, hd int, scale float32)

//go:noescape
func axpysQ8Asm(acc *float32, p *float32, v *byte, ldv, n, hd int)

//go:noescape
func dotsQ8Avx512(out *float32, q *float32, k *byte, ldk, n, hd int, scale float32)

//go:noescape
func axpysQ8Avx512(acc *float32, p *float32, v *byte, ldv, n, hd int)

//go:noescape
func halfToFloatAsm(dst *float32, src *uint16, n int)

//go:noescape
func floatToHalfAsm(dst *uint16, src *float32, n int)

//go:noescape
func gemmF32Avx2(dst *float32, ldDst int, x *float32, ldX int, w *byte, ldW, k8 int)

//go:noescape
func gemmF16Avx2(dst *float32, ldDst int, x *float32, ldX int, w *byte, ldW, k8 int)

//go:noescape
func gemvF32x3Avx2(dst *float32, ldDst int, x *float32, ldX int, w *byte, ldW, k8 int)

//go:noescape
func gemvF16x3Avx2(dst *float32, ldDst int, x *float32, ldX int, w *byte, ldW, k8 int)

//go:noescape
func gemvF32x4Avx2(dst *float32, ldDst int, x *float32, ldX int, w *byte, ldW, k8 int)

//go:noescape
func gemvF16x4Avx2(dst *float32, ldDst int, x *float32, ldX int, w *byte, ldW, k8 int)

//go:noescape
func gemmF32Avx512(dst *float32, ldDst int, x *float32, ldX int, w *byte, ldW, k8 int)

//go:noescape
func gemmF16Avx512(dst *float32, ldDst int, x *float32, ldX int, w *byte, ldW, k8 int)

//go:noescape
func geluAsm(dst, x *float32, n int)

// geluAVX2 is GELU with a polynomial erf (within 1.5e-7) and exp, 8 values
// at a time; the last len%8 take generic's.
func geluAVX2(dst, x []float32) {
	n8 := len(x) &^ 7
	dst = dst[:len(x)]
	if n8 > 0 {
		geluAsm(&dst[0], &x[0], n8)
	}
	gelu(dst[n8:], x[n8:])
}

//go:noescape
func quantQ8Asm(q *byte, qstride int, d *float32, dstride int, x *float32, nb int)

// quantizeRowsAVX2 is quantizeRows with the ActQ8 blocks in assembly
// (bit-identical); ActQ8K takes the Go code.
func quantizeRowsAVX2(a *Activations, x []float32, ldX, r0, r1 int) {
	if a.Type != ActQ8 || a.Blocks == 0 {
		quantizeRows(a, x, ldX, r0, r1)
		return
	}
	for r := r0; r < r1; r++ {
		_ = x[r*ldX+a.Cols-1]
		quantQ8Asm(&a.Q[r*q8Stride], a.Rows*q8Stride, &a.D[r], 4*a.Rows, &x[r*ldX], a.Blocks)
	}
}
