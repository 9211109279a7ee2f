package dtype

import (
	"bytes"
	"flag"
	"math"
	"os"
	"path/filepath"
	"testing"
)

// The test inputs in testdata/ are made by the generator below, so anyone can
// see what the rows hold and regenerate them bit for bit:
//
//	go test -run TestInputs -update ./quant/dtype/
//
// The expected outputs next to them come from ggml's C reference (see
// testdata/README.md); -update rewrites only the inputs.

var update = flag.Bool("update", false, "rewrite testdata inputs from the generator")

// splitmix64 is Steele, Lea and Flood's SplitMix64 (the seeding generator of
// java.util.SplittableRandom and xoshiro): a 64-bit counter stepped by the
// golden gamma and passed through a fixed mixer.
type splitmix64 uint64

func (s *splitmix64) next() uint64 {
	*s += 0x9e3779b97f4a7c15
	z := uint64(*s)
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}

// unif is uniform in [0, 1) with 53 random bits.
func (s *splitmix64) unif() float64 { return float64(s.next()>>11) * 0x1p-53 }

// gauss is approximately standard normal: the Irwin-Hall sum of 12 uniforms
// minus 6. Only exact float64 additions, so it is the same on every machine.
func (s *splitmix64) gauss() float64 {
	var t float64
	for range 12 {
		t += s.unif()
	}
	return t - 6
}

// sign is +1 or -1 with equal odds.
func (s *splitmix64) sign() float64 {
	if s.next()>>63 != 0 {
		return -1
	}
	return 1
}

// f32 rounds a float64 product to float32; the float64 conversion of the
// product keeps Go from fusing it with anything (generated bits must match
// on arm64, too).
func f32(a, b float64) float32 { return float32(float64(a * b)) }

// inputCase is one row of test input: a name for failure messages and a
// generator for its values. Every row's length is a multiple of 256, so
// rows concatenated keep block boundaries for every type.
type inputCase struct {
	name string
	n    int
	gen  func(r *splitmix64, x []float32)
}

var inputCases = []inputCase{
	{"gauss", 2048, func(r *splitmix64, x []float32) {
		// One sigma per 256 values, from typical weights to extremes.
		sigmas := []float64{1, 0.02, 1e-3, 30, 0.5, 5e-5, 200, 0.1}
		for i := range x {
			x[i] = f32(sigmas[i/256], r.gauss())
		}
	}},
	{"outliers", 1024, func(r *splitmix64, x []float32) {
		// Small gaussian weights with one outlier in every 64, at a random
		// place and sign, 10 to 100 sigma out.
		for i := range x {
			x[i] = f32(0.05, r.gauss())
		}
		for b := 0; b < len(x); b += 64 {
			k := b + int(r.next()%64)
			x[k] = f32(0.05*r.sign(), 10+90*r.unif())
		}
	}},
	{"zeros", 512, func(r *splitmix64, x []float32) {
		for i := range x {
			x[i] = 0
			if i%7 == 3 {
				x[i] = float32(math.Copysign(0, -1))
			}
		}
	}},
	{"const", 1024, func(r *splitmix64, x []float32) {
		for i := range x {
			switch b := i / 256; b {
			case 0:
				x[i] = 0.7
			case 1:
				x[i] = -1.3
			case 2: // a different constant per 32, some zero
				vals := []float32{0.25, 0, -0.5, 3, 0, 1e-3, -2e4, 0.1}
				x[i] = vals[i%256/32]
			case 3: // constant 3 with one odd value per 16
				x[i] = 3
				if i%16 == 5 {
					x[i] = 2.5
				}
			}
		}
	}},
	{"tiny", 1024, func(r *splitmix64, x []float32) {
		for i := range x {
			switch i / 256 {
			case 0: // float32 subnormals: random mantissa, exponent 0
				x[i] = math.Float32frombits(uint32(r.next())&0x807fffff | 1)
			case 1: // around the smallest normals
				x[i] = f32(1e-37, r.gauss())
			case 2: // far below fp16's range
				x[i] = f32(1e-10, r.gauss())
			default: // scales land among fp16 subnormals
				x[i] = f32(1e-6, r.gauss())
			}
		}
	}},
	{"large", 1024, func(r *splitmix64, x []float32) {
		for i := range x {
			switch i / 256 {
			case 0: // 1e4 to 6e4, random sign
				x[i] = f32(r.sign(), 1e4+5e4*r.unif())
			case 1:
				x[i] = f32(2e4, r.gauss())
			case 2: // scales still finite in fp16 for q8_0
				x[i] = f32(1e6, r.gauss())
			default: // scales overflow fp16
				x[i] = f32(1e9, r.gauss())
			}
		}
	}},
	{"signs", 1024, func(r *splitmix64, x []float32) {
		for i := range x {
			g := r.gauss()
			switch i / 256 {
			case 0: // all negative
				x[i] = -float32(math.Abs(g)) - 0.01
			case 1: // all positive
				x[i] = float32(math.Abs(g)) + 0.01
			case 2: // positive mean, a few negatives
				x[i] = float32(3 + g)
			default: // largest magnitude present with both signs (first wins)
				x[i] = float32(0.3 * g)
				if i%32 == 7 {
					x[i] = 2
				}
				if i%32 == 20 {
					x[i] = -2
				}
			}
		}
	}},
	{"grid", 1024, func(r *splitmix64, x []float32) {
		for i := range x {
			k := float32(int(r.next()%16) - 8)
			switch i / 256 {
			case 0: // q4_0's own grid: exact ties after scaling
				x[i] = 0.25 * k
			case 1: // q8_0's grid: k/127 steps of the largest value
				x[i] = float32(int(r.next()%255)-127) / 127
			case 2: // halves: ties for roundf and nearest_int
				x[i] = 0.5 * float32(int(r.next()%64)-32)
			default: // a ramp
				x[i] = float32(i%256)*0.5 - 64
			}
		}
	}},
	{"wide", 1024, func(r *splitmix64, x []float32) {
		// Log-uniform magnitudes from 2^-30 to 2^20 with random signs.
		for i := range x {
			e := int(r.next()%51) - 30
			x[i] = f32(r.sign()*math.Ldexp(1+r.unif(), e), 1)
		}
	}},
}

// specialInputs are for the fp16 and bf16 encoders only: rounding ties,
// overflow and underflow edges, signed zeros, Inf and NaN.
func specialInputs() []float32 {
	var x []float32
	add := func(b uint32) { x = append(x, math.Float32frombits(b), math.Float32frombits(b|0x80000000)) }
	for _, b := range []uint32{0, 1, 0x7f800000, 0x7fc00000, 0x7f800001, 0x7fbfffff, 0x7fffffff, 0x7f7fffff, 0x00800000, 0x007fffff} {
		add(b)
	}
	for _, f := range []float32{65504, 65519.99, 65520, 65536, 1e5, 0x1p-14, 0x1p-24, 0x1p-25, 0x1.8p-25, 0x1p-26, 6e-8, 3e-8, 1, 2, 1.5} {
		add(math.Float32bits(f))
	}
	// For several exponents, the values around every kind of tie: fp16 keeps
	// 10 mantissa bits and bf16 7, so vary the bits just below each cut.
	for _, e := range []uint32{103, 110, 112, 113, 120, 127, 130, 141, 142, 143, 200, 254} {
		for _, m := range []uint32{0x1000, 0x0fff, 0x1001, 0x3000, 0x2fff, 0x3001, 0x8000, 0x7fff, 0x8001, 0x18000, 0x17fff, 0x18001, 0x7fffff, 0x7fe000, 0x7ff000} {
			add(e<<23 | m)
		}
	}
	for len(x)%256 != 0 {
		x = append(x, 0)
	}
	return x
}

// genRows returns all input cases concatenated and each case's offset.
func genRows() ([]float32, []int) {
	var rows []float32
	var offs []int
	for i, c := range inputCases {
		r := splitmix64(0x6d61697261 + uint64(i)) // "maira" + case number
		x := make([]float32, c.n)
		c.gen(&r, x)
		offs = append(offs, len(rows))
		rows = append(rows, x...)
	}
	return rows, offs
}

func floatsToBytes(x []float32) []byte {
	b := make([]byte, 4*len(x))
	encodeF32(b, x)
	return b
}

func TestInputs(t *testing.T) {
	rows, _ := genRows()
	for _, f := range []struct {
		name string
		x    []float32
	}{{"rows.f32", rows}, {"special.f32", specialInputs()}} {
		want := floatsToBytes(f.x)
		path := filepath.Join("testdata", f.name)
		if *update {
			if err := os.WriteFile(path, want, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from the generator; regenerate inputs and expected outputs together", path)
		}
	}
}
