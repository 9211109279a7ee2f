package kernels

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"maira/quant/dtype"
)

var quantTypes = []dtype.Type{dtype.Q4_0, dtype.Q8_0, dtype.Q4_K, dtype.Q6_K}

// quantize returns n rows of x quantized for weights of type t.
func quantize(v *Variant, t dtype.Type, x []float32, n, cols int) *Activations {
	a := &Activations{}
	a.Reset(v.Act(t), n, cols)
	v.Quantize(a, x, cols, 0, n)
	return a
}

// dequantAct decodes activation row r to float64.
func dequantAct(a *Activations, r int) []float64 {
	out := make([]float64, a.Cols)
	bs, stride := q8Block, q8Stride
	if a.Type == ActQ8K {
		bs, stride = q8KBlock, q8KStride
	}
	for b := 0; b < a.Blocks; b++ {
		d := float64(a.D[b*a.Rows+r])
		blk := a.Q[(b*a.Rows+r)*stride:]
		for i := 0; i < bs; i++ {
			out[b*bs+i] = d * float64(int8(blk[i]))
		}
	}
	return out
}

// TestQuantizeActivations checks the stored corrections and block sums and
// the rounding error of the activation formats.
func TestQuantizeActivations(t *testing.T) {
	q8 := mustLookup(t, "q8")
	r := rand.New(rand.NewPCG(11, 12))
	for _, typ := range []dtype.Type{dtype.Q4_0, dtype.Q4_K} {
		cols := 3 * max(typ.BlockSize(), 32)
		x := randSlice(r, 2*cols, 3)
		clear(x[cols : cols+typ.BlockSize()]) // an all-zero block
		a := quantize(q8, typ, x, 2, cols)
		for row := 0; row < 2; row++ {
			deq := dequantAct(a, row)
			for i, v := range deq {
				// Half a step of the block's scale.
				b := i / (len(deq) / a.Blocks)
				d := math.Abs(float64(a.D[b*a.Rows+row]))
				if math.Abs(v-float64(x[row*cols+i])) > 0.5*d*(1+1e-6) {
					t.Fatalf("%v row %d [%d]: %g from %g (scale %g)", a.Type, row, i, v, x[row*cols+i], d)
				}
			}
			for b := 0; b < a.Blocks; b++ {
				blk := a.Q[(b*a.Rows+row)*a.Stride:]
				if a.Type == ActQ8 {
					var s int32
					for k := 0; k < 32; k++ {
						s += int32(int8(blk[k]))
					}
					if c := int32(binary.LittleEndian.Uint32(blk[32:])); c != -8*s {
						t.Fatalf("block %d: correction %d, want %d", b, c, -8*s)
					}
				} else {
					for s := 0; s < 8; s++ {
						var sum int32
						for k := 32 * s; k < 32*s+32; k++ {
							sum += int32(int8(blk[k]))
						}
						if c := int32(int16(binary.LittleEndian.Uint16(blk[288+2*s:]))); c != sum {
							t.Fatalf("block %d sum of 32 %d: %d, want %d", b, s, c, sum)
						}
					}
					for g := 0; g < 16; g++ {
						var s int32
						for k := 16 * g; k < 16*g+16; k++ {
							s += int32(int8(blk[k]))
						}
						if c := int32(int16(binary.LittleEndian.Uint16(blk[256+2*g:]))); c != s {
							t.Fatalf("block %d bsum %d: %d, want %d", b, g, c, s)
						}
					}
				}
			}
		}
	}
}

func mustLookup(t testing.TB, name string) *Variant {
	t.Helper()
	v, err := Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestQ8TwinAgainstFloat64 holds the Go twins' integer formulas to float64
// dot products of the decoded weights and the decoded activations.
func TestQ8TwinAgainstFloat64(t *testing.T) {
	q8 := mustLookup(t, "q8")
	r := rand.New(rand.NewPCG(13, 14))
	for _, typ := range quantTypes {
		for _, blocks := range []int{1, 2, 3} {
			cols := blocks * typ.BlockSize()
			const rows, n = 5, 6
			w := randMatrix(t, r, typ, rows, cols)
			dec := make([]float32, rows*cols)
			if err := typ.Decode(dec, w.Data); err != nil {
				t.Fatal(err)
			}
			a := quantize(q8, typ, randSlice(r, n*cols, 2), n, cols)
			dst := make([]float32, n*rows)
			q8.MatMulQ(dst, rows, a, w, 0, rows, &Scratch{})
			for i := 0; i < n; i++ {
				x := dequantAct(a, i)
				for o := 0; o < rows; o++ {
					var want, mag float64
					for k := range x {
						p := x[k] * float64(dec[o*cols+k])
						want += p
						mag += math.Abs(p)
					}
					if got := float64(dst[i*rows+o]); math.Abs(got-want) > 1e-5*mag {
						t.Fatalf("%s cols %d row %d col %d: %g, want %g", typ, cols, i, o, got, want)
					}
				}
			}
		}
	}
}

// TestQuantizedVariantsMatchTwin holds every variant with integer dot
// products to the q8 twin bit for bit, on odd shapes: rows of 1, 2 and 3
// blocks, 1, 3, 17, 45 and 64 input rows (the last two by packed tiles
// where the variant has them), 37 weight rows (not a multiple of
// the tiles), output columns split unevenly (0-21, 21-37: a full tile of
// 8 and a tail of 5, then tails of 8 and 0).
func TestQuantizedVariantsMatchTwin(t *testing.T) {
	q8 := mustLookup(t, "q8")
	r := rand.New(rand.NewPCG(15, 16))
	forEachVariant(t, func(t *testing.T, v *Variant) {
		for _, typ := range quantTypes {
			if v.Act(typ) == ActNone {
				if v.Name != "generic" {
					t.Logf("%s: no integer dot product for %s", v.Name, typ)
				}
				continue
			}
			for _, blocks := range []int{1, 2, 3} {
				cols := blocks * typ.BlockSize()
				const rows = 37
				w := randMatrix(t, r, typ, rows, cols)
				for _, n := range []int{1, 3, 17, 45, 64} {
					x := randSlice(r, n*cols, 1)
					for i := range x[:cols] { // one row with a large spread
						x[i] *= float32(1 + i%7*30)
					}
					clear(x[len(x)-typ.BlockSize():]) // and a block of zeros
					a := quantize(v, typ, x, n, cols)
					b := quantize(q8, typ, x, n, cols)
					if !bytesEqual(a.Q, b.Q) || !floatsEqual(a.D, b.D) {
						t.Fatalf("%s cols %d n %d: quantized input differs from the twin's", typ, cols, n)
					}
					got, want := make([]float32, n*rows), make([]float32, n*rows)
					v.MatMulQ(got, rows, a, w, 0, 21, &Scratch{})
					v.MatMulQ(got, rows, a, w, 21, rows, &Scratch{})
					q8.MatMulQ(want, rows, b, w, 0, rows, &Scratch{})
					for i := range want {
						if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
							t.Fatalf("%s cols %d n %d: [%d] = %g, twin %g", typ, cols, n, i, got[i], want[i])
						}
					}
				}
			}
		}
	})
}

func bytesEqual(a, b []byte) bool { return string(a) == string(b) }

func floatsEqual(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return false
		}
	}
	return true
}

// TestQuantizedCloseToExact bounds what quantizing the activations costs:
// the relative RMS difference from generic's exact MatMul.
func TestQuantizedCloseToExact(t *testing.T) {
	q8 := mustLookup(t, "q8")
	g := Generic()
	r := rand.New(rand.NewPCG(17, 18))
	for _, typ := range quantTypes {
		cols, rows, n := 4*typ.BlockSize(), 16, 8
		if typ.BlockSize() == 32 {
			cols = 1024
		}
		w := randMatrix(t, r, typ, rows, cols)
		x := randSlice(r, n*cols, 1)
		a := quantize(q8, typ, x, n, cols)
		got, want := make([]float32, n*rows), make([]float32, n*rows)
		q8.MatMulQ(got, rows, a, w, 0, rows, &Scratch{})
		var s Scratch
		g.MatMul(want, rows, x, cols, n, w, 0, rows, &s)
		var se, sw float64
		for i := range want {
			se += (float64(got[i]) - float64(want[i])) * (float64(got[i]) - float64(want[i]))
			sw += float64(want[i]) * float64(want[i])
		}
		rel := math.Sqrt(se / sw)
		t.Logf("%s: relative RMS difference from the exact path %.2g", typ, rel)
		if rel > 0.01 {
			t.Errorf("%s: relative RMS difference %.3g from the exact path", typ, rel)
		}
	}
}

// BenchmarkMatMulQ measures the quantized MatMul on one thread for every
// variant: decode-shaped (1 row of 4096 against 4096 x 4096 weights: GB/s
// of weight bytes) and prefill-shaped (64 rows: GOPS, 2 ops per
// multiply-add).
func BenchmarkMatMulQ(b *testing.B) {
	r := rand.New(rand.NewPCG(19, 20))
	const cols, rows = 4096, 4096
	for _, typ := range quantTypes {
		w := randMatrix(b, r, typ, rows, cols)
		for _, n := range []int{1, 64} {
			x := randSlice(r, n*cols, 1)
			dst := make([]float32, n*rows)
			for _, v := range Variants() {
				if v.Available != nil && !v.Available() || v.Act(typ) == ActNone {
					continue
				}
				b.Run(fmt.Sprintf("%s/n=%d/%s", typ, n, v.Name), func(b *testing.B) {
					a := quantize(v, typ, x, n, cols)
					var s Scratch
					for b.Loop() {
						v.MatMulQ(dst, rows, a, w, 0, rows, &s)
					}
					sec := b.Elapsed().Seconds() / float64(b.N)
					if n == 1 {
						b.ReportMetric(float64(len(w.Data))/sec/1e9, "GB/s")
					} else {
						b.ReportMetric(2*float64(n)*rows*cols/sec/1e9, "GOPS")
					}
				})
			}
		}
	}
}

// BenchmarkMatMulFloat measures the exact MatMul on float weights in the
// encoder's shape (1369 patch rows of 768 against 768 x 768 weights) on one
// thread, per variant: GFLOPS.
func BenchmarkMatMulFloat(b *testing.B) {
	r := rand.New(rand.NewPCG(23, 24))
	const n, cols, rows = 1369, 768, 768
	x := randSlice(r, n*cols, 1)
	dst := make([]float32, n*rows)
	for _, typ := range []dtype.Type{dtype.F32, dtype.F16} {
		w := randMatrix(b, r, typ, rows, cols)
		for _, v := range Variants() {
			if v.Available != nil && !v.Available() || v.Name == "q8" {
				continue
			}
			b.Run(fmt.Sprintf("%s/%s", typ, v.Name), func(b *testing.B) {
				var s Scratch
				for b.Loop() {
					v.MatMul(dst, rows, x, cols, n, w, 0, rows, &s)
				}
				b.ReportMetric(2*float64(n)*rows*cols/(b.Elapsed().Seconds()/float64(b.N))/1e9, "GFLOPS")
			})
		}
	}
}
