//go:build !noasm

package kernels

import "math"

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

// attentionAVX2 is generic's blocked attention with its three inner loops
// in assembly: the scores of a block of keys, exp(score - max) with their
// sum (a polynomial exp, within 2 ulp), and the weighted sum of the value
// rows with the accumulator held in registers. Heads whose size is not a
// multiple of 8 take generic's loops.
func (v *Variant) attentionAVX2(a *Attn, s *Scratch) {
	hd := a.HeadDim
	if hd%8 != 0 {
		v.attention(a, s)
		return
	}
	buf := s.Floats(attnQueries*(hd+2) + attnKeys)
	acc := buf[:attnQueries*hd]
	mx := buf[attnQueries*hd : attnQueries*hd+attnQueries]
	sum := buf[attnQueries*hd+attnQueries : attnQueries*(hd+2)]
	sc := buf[attnQueries*(hd+2):]
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
		for k0 := 0; k0 < keys; k0 += attnKeys {
			k1 := min(k0+attnKeys, keys)
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
				dotsAsm(&sc[0], &a.Q[r*a.LdQ], &a.K[k0*a.LdKV], a.LdKV, n, hd, a.Scale)
				m := mx[t]
				for _, x := range sc[:n] {
					m = max(m, x)
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
				n8 := n &^ 7
				if n8 > 0 {
					sum[t] += expsAsm(&sc[0], n8, m)
				}
				for j := n8; j < n; j++ {
					sc[j] = float32(math.Exp(float64(sc[j] - m)))
					sum[t] += sc[j]
				}
				axpysAsm(&ar[0], &sc[0], &a.V[k0*a.LdKV], a.LdKV, n, hd)
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
