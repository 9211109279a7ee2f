package kernels

import (
	"math"
	"math/rand/v2"
	"testing"

	"maira/quant/dtype"
)

// TestHalfToFloatAll decodes every binary16 value with every variant, at
// lengths that leave tails after the 8- and 32-value steps, and holds it
// to dtype.FP16ToFP32 bit for bit (NaNs: NaN of the same sign).
func TestHalfToFloatAll(t *testing.T) {
	src := make([]uint16, 1<<16+5)
	for i := range src {
		src[i] = uint16(i)
	}
	forEachVariant(t, func(t *testing.T, v *Variant) {
		for _, n := range []int{0, 1, 7, 8, 9, 31, 33, len(src)} {
			dst := make([]float32, n+1)
			dst[n] = 42
			v.HalfToFloat(dst[:n], src)
			if dst[n] != 42 {
				t.Fatalf("n=%d: wrote past the end", n)
			}
			for i, f := range dst[:n] {
				want := dtype.FP16ToFP32(src[i])
				if math.Float32bits(f) != math.Float32bits(want) && !(isNaN(f) && isNaN(want) && math.Signbit(float64(f)) == math.Signbit(float64(want))) {
					t.Fatalf("n=%d: half %#04x decoded to %#08x, want %#08x", n, src[i], math.Float32bits(f), math.Float32bits(want))
				}
			}
		}
	})
}

// TestFloatToHalf encodes random values of every magnitude half covers,
// subnormals, exact ties, overflow and infinities with every variant and
// holds them to dtype.FP32ToFP16 bit for bit (NaN: a NaN).
func TestFloatToHalf(t *testing.T) {
	r := rand.New(rand.NewPCG(51, 52))
	var src []float32
	for i := 0; i < 20000; i++ {
		src = append(src, math.Float32frombits(r.Uint32()&0x7fffffff|uint32(i&1)<<31))
		src = append(src, (r.Float32()*2-1)*float32(math.Ldexp(1, r.IntN(44)-28)))
	}
	for h := 0; h < 1<<15; h += 7 { // ties: halfway between adjacent halves
		a, b := dtype.FP16ToFP32(uint16(h)), dtype.FP16ToFP32(uint16(h+1))
		if !isNaN(b) && !math.IsInf(float64(b), 0) {
			src = append(src, (a+b)/2, -(a+b)/2)
		}
	}
	src = append(src, 65504, 65519.99, 65520, 1e9, float32(math.Inf(1)), float32(math.Inf(-1)), 0x1p-25, 0x1p-24, 0x1.8p-24, 5.9604645e-08, float32(math.NaN()))
	forEachVariant(t, func(t *testing.T, v *Variant) {
		for _, n := range []int{0, 1, 7, 8, 9, len(src)} {
			dst := make([]uint16, n+1)
			dst[n] = 0xbeef
			v.FloatToHalf(dst[:n], src[:n])
			if dst[n] != 0xbeef {
				t.Fatalf("n=%d: wrote past the end", n)
			}
			for i, h := range dst[:n] {
				want := dtype.FP32ToFP16(src[i])
				if isNaN(src[i]) {
					if h&0x7c00 != 0x7c00 || h&0x3ff == 0 {
						t.Fatalf("NaN encoded to %#04x", h)
					}
					continue
				}
				if h != want {
					t.Fatalf("n=%d: %g (%#08x) encoded to %#04x, want %#04x", n, src[i], math.Float32bits(src[i]), h, want)
				}
			}
		}
	})
}

func isNaN(f float32) bool { return f != f }

// TestAttentionHalfMatchesFloat runs every variant's attention on binary16
// keys and values, rows interleaving heads (ld > hd) and one head's rows
// together (ld = hd), and holds it bit for bit to the same variant on the
// float32 values those halves decode to.
func TestAttentionHalfMatchesFloat(t *testing.T) {
	forEachVariant(t, func(t *testing.T, v *Variant) {
		r := rand.New(rand.NewPCG(53, 54))
		for _, c := range attnCases {
			for _, ld := range []int{c.ld, c.hd} {
				c := c
				c.ld = ld
				a, _ := c.make(r)
				k16, v16 := make([]uint16, len(a.K)), make([]uint16, len(a.V))
				dtypeEncode(k16, a.K)
				dtypeEncode(v16, a.V)
				dtypeDecode(a.K, k16)
				dtypeDecode(a.V, v16)
				var s Scratch
				v.Attention(a, &s)
				want := append([]float32(nil), a.Out...)
				h := *a
				h.K, h.V, h.K16, h.V16 = nil, nil, k16, v16
				h.Out = make([]float32, len(a.Out))
				v.Attention(&h, &s)
				if !floatsEqual(h.Out, want) {
					t.Errorf("%s, rows %d apart: f16 keys and values give other results than their float32 values", c.name, ld)
				}
			}
		}
	})
}

func dtypeEncode(dst []uint16, src []float32) {
	for i, f := range src {
		dst[i] = dtype.FP32ToFP16(f)
	}
}

func dtypeDecode(dst []float32, src []uint16) {
	for i, h := range src {
		dst[i] = dtype.FP16ToFP32(h)
	}
}

// TestQ8Rows holds FloatToQ8 to its definition (scale max|x|/127, each
// value within half a step, an all-zero block) and every variant's
// Q8ToFloat to the generic decoding bit for bit.
func TestQ8Rows(t *testing.T) {
	r := rand.New(rand.NewPCG(55, 56))
	g := Generic()
	for _, n := range []int{32, 64, 128, 96} {
		x := randSlice(r, n, 3)
		if n == 96 {
			clear(x[32:64])
		}
		row := make([]byte, Q8Row(n)+1)
		row[Q8Row(n)] = 0x5a
		g.FloatToQ8(row[:Q8Row(n)], x)
		if row[Q8Row(n)] != 0x5a {
			t.Fatalf("n=%d: wrote past the row", n)
		}
		want := make([]float32, n)
		g.Q8ToFloat(want, row)
		for b := 0; b < n/32; b++ {
			var amax float64
			for _, v := range x[32*b : 32*b+32] {
				amax = max(amax, math.Abs(float64(v)))
			}
			d := float32(amax) / 127
			for i := 32 * b; i < 32*b+32; i++ {
				if math.Abs(float64(want[i]-x[i])) > float64(d)/2*1.0001 {
					t.Fatalf("n=%d [%d]: %g decodes to %g, step %g", n, i, x[i], want[i], d)
				}
			}
		}
		forEachVariant(t, func(t *testing.T, v *Variant) {
			got := make([]float32, n)
			v.Q8ToFloat(got, row)
			if !floatsEqual(got, want) {
				t.Fatalf("n=%d: Q8ToFloat differs from generic's", n)
			}
		})
	}
}

// TestAttentionQ8MatchesFloat runs every variant's attention on Q8 keys
// and values (heads of 32, 64 and 128; rows packed, and padded apart) and
// holds it bit for bit to the same variant on their decoded values.
func TestAttentionQ8MatchesFloat(t *testing.T) {
	forEachVariant(t, func(t *testing.T, v *Variant) {
		r := rand.New(rand.NewPCG(57, 58))
		for _, c := range attnCases {
			if c.hd%32 != 0 {
				continue
			}
			for _, pad := range []int{0, 12} {
				c := c
				c.ld = c.hd
				a, _ := c.make(r)
				rb := Q8Row(c.hd) + pad
				k8, v8 := make([]byte, c.keys*rb), make([]byte, c.keys*rb)
				for j := 0; j < c.keys; j++ {
					v.FloatToQ8(k8[j*rb:], a.K[j*c.hd:(j+1)*c.hd])
					v.FloatToQ8(v8[j*rb:], a.V[j*c.hd:(j+1)*c.hd])
					Generic().Q8ToFloat(a.K[j*c.hd:(j+1)*c.hd], k8[j*rb:])
					Generic().Q8ToFloat(a.V[j*c.hd:(j+1)*c.hd], v8[j*rb:])
				}
				var s Scratch
				v.Attention(a, &s)
				want := append([]float32(nil), a.Out...)
				h := *a
				h.K, h.V, h.K8, h.V8, h.LdKV = nil, nil, k8, v8, rb
				h.Out = make([]float32, len(a.Out))
				v.Attention(&h, &s)
				if !floatsEqual(h.Out, want) {
					t.Errorf("%s, rows %d bytes apart: q8 keys and values give other results than their float32 values", c.name, rb)
				}
			}
		}
	})
}
