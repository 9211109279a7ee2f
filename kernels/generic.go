package kernels

import (
	"encoding/binary"
	"math"

	"maira/quant/dtype"
)

// The generic variant: portable Go, the reference every other variant is
// tested against. Its composite kernels (MatMul, Attention) are methods on
// the variant so that they run on the variant's own Dot and Axpy.

// generic is built at package initialisation, before any file's init
// registers a variant that inherits from it.
var generic = func() *Variant {
	g := &Variant{Name: "generic", Dot: dot, Axpy: axpy, Gather: gather,
		LayerNorm: layerNorm, RMSNorm: rmsNorm, GELU: gelu, SiLUMul: siluMul, RoPE: rope,
		HalfToFloat: halfToFloat, FloatToHalf: floatToHalf, Q8ToFloat: q8ToFloat, FloatToQ8: floatToQ8}
	g.MatMul = g.matMul
	g.Attention = g.attention
	return g
}()

func init() { Register(generic) }

// dot sums in four interleaved accumulators: the additions of one
// accumulator do not wait on the others, and the result is independent of
// the machine (gc fuses x*y+z into FMA only on arm64 and GOAMD64=v3; both
// stay within float32 rounding of each other).
func dot(a, b []float32) float32 {
	b = b[:len(a)]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(a); i += 4 {
		s0 += a[i] * b[i]
		s1 += a[i+1] * b[i+1]
		s2 += a[i+2] * b[i+2]
		s3 += a[i+3] * b[i+3]
	}
	for ; i < len(a); i++ {
		s0 += a[i] * b[i]
	}
	return (s0 + s1) + (s2 + s3)
}

func axpy(y []float32, a float32, x []float32) {
	x = x[:len(y)]
	for i := range y {
		y[i] += a * x[i]
	}
}

// matTile is how many weight rows MatMul decodes at once: each input row is
// then read once per tile (from L1) rather than once per weight row, and
// the tile's decoded rows (16·cols floats) stay in L2 while every input row
// passes by.
const matTile = 16

func (v *Variant) matMul(dst []float32, ldDst int, x []float32, ldX, n int, w *Matrix, o0, o1 int, s *Scratch) {
	cols := w.Cols
	var buf []float32
	if w.F32 == nil {
		buf = s.Floats(matTile * cols)
	}
	var rows [matTile][]float32
	for o := o0; o < o1; o += matTile {
		t := min(matTile, o1-o)
		for j := 0; j < t; j++ {
			if w.F32 != nil {
				rows[j] = w.F32[(o+j)*cols : (o+j+1)*cols]
			} else {
				rows[j] = w.Row(buf[j*cols:(j+1)*cols], o+j)
			}
		}
		for r := 0; r < n; r++ {
			xr := x[r*ldX : r*ldX+cols]
			d := dst[r*ldDst+o : r*ldDst+o+t]
			for j := range d {
				d[j] = v.Dot(xr, rows[j])
			}
		}
	}
}

func gather(dst []float32, ldDst int, w *Matrix, ids []int32) {
	for r, id := range ids {
		d := dst[r*ldDst : r*ldDst+w.Cols]
		if w.F32 != nil {
			copy(d, w.F32[int(id)*w.Cols:])
		} else {
			w.decode(d, w.Data[int(id)*w.RowBytes:(int(id)+1)*w.RowBytes])
		}
	}
}

// layerNorm computes the row's moments in float64 (two passes), so the
// result is the correctly rounded fp32 LayerNorm HF computes up to the
// final float32 products.
func layerNorm(dst, x, w, b []float32, eps float32) {
	n := len(x)
	var sum float64
	for _, v := range x {
		sum += float64(v)
	}
	mean := sum / float64(n)
	var ss float64
	for _, v := range x {
		d := float64(v) - mean
		ss += d * d
	}
	inv := 1 / math.Sqrt(ss/float64(n)+float64(eps))
	w, b, dst = w[:n], b[:n], dst[:n]
	for i, v := range x {
		dst[i] = float32((float64(v)-mean)*inv)*w[i] + b[i]
	}
}

// rmsNorm follows LlamaRMSNorm: x·rsqrt(mean(x²)+eps) in fp32, then the
// weight times that.
func rmsNorm(dst, x, w []float32, eps float32) {
	n := len(x)
	var ss float64
	for _, v := range x {
		ss += float64(v) * float64(v)
	}
	inv := 1 / math.Sqrt(ss/float64(n)+float64(eps))
	w, dst = w[:n], dst[:n]
	for i, v := range x {
		dst[i] = w[i] * float32(float64(v)*inv)
	}
}

// gelu is nn.GELU's default (approximate="none"): 0.5·x·(1 + erf(x/√2)).
func gelu(dst, x []float32) {
	dst = dst[:len(x)]
	for i, v := range x {
		f := float64(v)
		dst[i] = float32(0.5 * f * (1 + math.Erf(f/math.Sqrt2)))
	}
}

// siluMul is LlamaMLP's act_fn(gate)·up with act_fn = SiLU = x·sigmoid(x).
func siluMul(dst, gate, up []float32) {
	up, dst = up[:len(gate)], dst[:len(gate)]
	for i, g := range gate {
		f := float64(g)
		dst[i] = float32(f/(1+math.Exp(-f))) * up[i]
	}
}

// rope computes the angles in float64 (the frequencies by repeated
// multiplication, exact to ~1e-14), so large positions keep full float32
// accuracy in the rotated values.
func rope(x []float32, heads, headDim int, pos, theta float64) {
	step := math.Pow(theta, -2/float64(headDim))
	freq := 1.0
	for i := 0; i < headDim/2; i++ {
		sin, cos := math.Sincos(pos * freq)
		c, s := float32(cos), float32(sin)
		for h := 0; h < heads; h++ {
			p := x[h*headDim+2*i : h*headDim+2*i+2]
			a, b := p[0], p[1]
			p[0] = a*c - b*s
			p[1] = a*s + b*c
		}
		freq *= step
	}
}

// Attention tiles: attnQueries query rows share each block of attnKeys keys
// while it is in L1, and a running max, sum and accumulator per row replace
// the full score matrix (flash attention's online softmax).
const (
	attnQueries = 8
	attnKeys    = 64
)

func halfToFloat(dst []float32, src []uint16) {
	n := min(len(dst), len(src))
	for i, h := range src[:n] {
		dst[i] = dtype.FP16ToFP32(h)
	}
}

func floatToHalf(dst []uint16, src []float32) {
	dst = dst[:len(src)]
	for i, f := range src {
		dst[i] = dtype.FP32ToFP16(f)
	}
}

// Q8Row returns the bytes of a Q8 row of n values (Q8ToFloat).
func Q8Row(n int) int { return n + n/8 }

func q8ToFloat(dst []float32, src []byte) {
	n := len(dst)
	src = src[:Q8Row(n)]
	for b := 0; b < n/32; b++ {
		d := math.Float32frombits(binary.LittleEndian.Uint32(src[n+4*b:]))
		for i, q := range src[32*b : 32*b+32] {
			dst[32*b+i] = d * float32(int8(q))
		}
	}
}

func floatToQ8(dst []byte, src []float32) {
	n := len(src)
	dst = dst[:Q8Row(n)]
	for b := 0; b < n/32; b++ {
		xs := src[32*b : 32*b+32]
		var amax float32
		for _, v := range xs {
			amax = max(amax, float32(math.Abs(float64(v))))
		}
		d := amax / 127
		var inv float32
		if d != 0 {
			inv = 1 / d
		}
		for i, v := range xs {
			dst[32*b+i] = byte(int8(round(v * inv)))
		}
		binary.LittleEndian.PutUint32(dst[n+4*b:], math.Float32bits(d))
	}
}

// kvBlock returns keys and values [k0, k1) of a as float32 rows ld apart,
// key j at (j-k0)·ld: a.K and a.V themselves, or the F16 or Q8 ones
// decoded into kb and vb (attnKeys·HeadDim values each).
func (v *Variant) kvBlock(a *Attn, k0, k1 int, kb, vb []float32) (K, V []float32, ld int) {
	hd := a.HeadDim
	if a.K8 != nil {
		for j := k0; j < k1; j++ {
			v.Q8ToFloat(kb[(j-k0)*hd:(j-k0+1)*hd], a.K8[j*a.LdKV:])
			v.Q8ToFloat(vb[(j-k0)*hd:(j-k0+1)*hd], a.V8[j*a.LdKV:])
		}
		return kb, vb, hd
	}
	if a.K16 == nil {
		return a.K[k0*a.LdKV:], a.V[k0*a.LdKV:], a.LdKV
	}
	if a.LdKV == hd { // one head's keys stored together: one run
		n := (k1 - k0) * hd
		v.HalfToFloat(kb[:n], a.K16[k0*hd:])
		v.HalfToFloat(vb[:n], a.V16[k0*hd:])
		return kb, vb, hd
	}
	for j := k0; j < k1; j++ {
		v.HalfToFloat(kb[(j-k0)*hd:(j-k0+1)*hd], a.K16[j*a.LdKV:])
		v.HalfToFloat(vb[(j-k0)*hd:(j-k0+1)*hd], a.V16[j*a.LdKV:])
	}
	return kb, vb, hd
}

// kvScratch is the room kvBlock needs for a decoded block of keys and
// values (none for float32 ones).
func kvScratch(a *Attn) int {
	if a.K16 == nil && a.K8 == nil {
		return 0
	}
	return 2 * attnKeys * a.HeadDim
}

func (v *Variant) attention(a *Attn, s *Scratch) {
	hd := a.HeadDim
	buf := s.Floats(attnQueries*(hd+2) + attnKeys + kvScratch(a))
	acc := buf[:attnQueries*hd]
	mx := buf[attnQueries*hd : attnQueries*hd+attnQueries]
	sum := buf[attnQueries*hd+attnQueries : attnQueries*(hd+2)]
	sc := buf[attnQueries*(hd+2) : attnQueries*(hd+2)+attnKeys]
	kb := buf[attnQueries*(hd+2)+attnKeys:]
	kb, vb := kb[:len(kb)/2], kb[len(kb)/2:]
	for r0 := 0; r0 < a.Rows; r0 += attnQueries {
		r1 := min(r0+attnQueries, a.Rows)
		for i := range acc {
			acc[i] = 0
		}
		for i := range mx {
			mx[i] = float32(math.Inf(-1))
			sum[i] = 0
		}
		keys := a.Keys
		if a.Causal {
			keys = a.Pos0 + r1 // what the tile's last row sees
		}
		for k0 := 0; k0 < keys; k0 += attnKeys {
			k1 := min(k0+attnKeys, keys)
			K, V, ld := v.kvBlock(a, k0, k1, kb, vb)
			for r := r0; r < r1; r++ {
				end := k1
				if a.Causal {
					end = min(k1, a.Pos0+r+1)
				}
				if end <= k0 {
					continue
				}
				q := a.Q[r*a.LdQ : r*a.LdQ+hd]
				t := r - r0
				m := mx[t]
				for j := k0; j < end; j++ {
					x := a.Scale * v.Dot(q, K[(j-k0)*ld:])
					sc[j-k0] = x
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
				for j := k0; j < end; j++ {
					p := float32(math.Exp(float64(sc[j-k0] - m)))
					sum[t] += p
					v.Axpy(ar, p, V[(j-k0)*ld:])
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
