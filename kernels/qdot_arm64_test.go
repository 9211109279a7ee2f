//go:build !noasm

package kernels

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"testing"

	"golang.org/x/sys/cpu"
	"maira/quant/dtype"
)

// TestArm64TilesMatchTwin drives every arm64 column tile directly, for
// every input row count it takes (1..maxRows), odd block counts, weight
// tails of 1..7 rows (wrapTile's padded copy) and an output stride wider
// than the tile, against the q8 twin bit for bit.
func TestArm64TilesMatchTwin(t *testing.T) {
	q8 := mustLookup(t, "q8")
	r := rand.New(rand.NewPCG(31, 32))
	for _, name := range []string{"neon", "dotprod"} {
		v := registry[name]
		if v == nil || !v.Available() {
			t.Logf("%s: not available here, skipped", name)
			continue
		}
		for _, typ := range quantTypes {
			tile := v.qdots[typ]
			for _, blocks := range []int{1, 2, 5} {
				cols := blocks * typ.BlockSize()
				const rows = 13 // a full tile and a tail of 5
				w := randMatrix(t, r, typ, rows, cols)
				for n := 1; n <= 9; n++ {
					x := randSlice(r, n*cols, 2)
					a := quantize(q8, typ, x, n, cols)
					ld := rows + 3
					got, want := make([]float32, n*ld), make([]float32, n*ld)
					var s Scratch
					for o := 0; o < rows; o += tileCols {
						nc := min(tileCols, rows-o)
						wt := w.Data[o*w.RowBytes : (o+nc)*w.RowBytes]
						tile(got[o:], ld, wt, w.RowBytes, nc, a, 0, n, &s)
						goQdots[typ](want[o:], ld, wt, w.RowBytes, nc, a, 0, n, &s)
					}
					for i := range want {
						if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
							t.Fatalf("%s %s blocks %d n %d: [%d][%d] = %g, twin %g", name, typ, blocks, n, i/ld, i%ld, got[i], want[i])
						}
					}
				}
			}
		}
	}
}

// TestArm64TilesExtremes holds the tiles to the twin on raw random weight
// bytes (Q8_0's -128, every 6-bit Q4_K scale and min, Q6_K's int8 scales
// of either sign, fp16 scales down to subnormals) against activations
// that are mostly ±127: the largest int16 partial sums the neon kernels
// form (2·128·127 for Q8_0).
func TestArm64TilesExtremes(t *testing.T) {
	q8 := mustLookup(t, "q8")
	r := rand.New(rand.NewPCG(35, 36))
	fp16At := map[dtype.Type][]int{dtype.Q4_0: {0}, dtype.Q8_0: {0}, dtype.Q4_K: {0, 2}, dtype.Q6_K: {208}}
	for _, name := range []string{"neon", "dotprod"} {
		v := registry[name]
		if v == nil || !v.Available() {
			t.Logf("%s: not available here, skipped", name)
			continue
		}
		for _, typ := range quantTypes {
			const rows, blocks = 8, 3
			cols := blocks * typ.BlockSize()
			rb, _ := typ.RowBytes(int64(cols))
			bb := int(rb) / blocks
			data := make([]byte, rows*int(rb))
			for i := range data {
				data[i] = byte(r.Uint32())
			}
			for b := 0; b < rows*blocks; b++ {
				for _, off := range fp16At[typ] {
					h := uint16(r.Uint32()) &^ (0x1f << 10) // sign and mantissa
					h |= uint16(r.IntN(15)) << 10           // exponent 0 (subnormal) .. 14
					binary.LittleEndian.PutUint16(data[b*bb+off:], h)
				}
			}
			w, err := NewMatrix(typ, rows, cols, data)
			if err != nil {
				t.Fatal(err)
			}
			for n := 1; n <= 8; n++ {
				x := randSlice(r, n*cols, 1)
				for i := range x {
					if r.IntN(4) != 0 {
						x[i] = float32(1 - 2*r.IntN(2))
					}
				}
				a := quantize(q8, typ, x, n, cols)
				got, want := make([]float32, n*rows), make([]float32, n*rows)
				v.MatMulQ(got, rows, a, w, 0, rows, &Scratch{})
				q8.MatMulQ(want, rows, a, w, 0, rows, &Scratch{})
				for i := range want {
					if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
						t.Fatalf("%s %s n %d: [%d] = %g, twin %g", name, typ, n, i, got[i], want[i])
					}
				}
			}
		}
	}
}

// TestArm64QuantizeMatchesTwin holds the ActQ8 quantization to the Go
// twin: rows ldX apart, a sub-range of rows, an all-zero block, and a
// block whose scaled values are exact halves (ties to even).
func TestArm64QuantizeMatchesTwin(t *testing.T) {
	r := rand.New(rand.NewPCG(37, 38))
	for _, name := range []string{"neon", "dotprod"} {
		v := registry[name]
		if v == nil || !v.Available() {
			continue
		}
		for _, blocks := range []int{1, 2, 5} {
			const n, ld = 7, 5*32 + 3
			cols := blocks * 32
			x := randSlice(r, n*ld, 4)
			clear(x[ld : ld+32])
			for i := 0; i < 32; i++ { // d = 1: values k + 1/2
				x[2*ld+i] = float32(i%8) - 3.5
			}
			x[2*ld+31] = 127
			var a, b Activations
			a.Reset(ActQ8, n, cols)
			b.Reset(ActQ8, n, cols)
			for i := range a.Q {
				a.Q[i], b.Q[i] = 0xa5, 0xa5
			}
			v.Quantize(&a, x, ld, 1, n)
			quantizeRows(&b, x, ld, 1, n)
			if !bytesEqual(a.Q, b.Q) || !floatsEqual(a.D, b.D) {
				t.Fatalf("%s blocks %d: quantized rows differ from the twin's", name, blocks)
			}
		}
	}
}

// TestArm64DotAxpyTails checks Dot and Axpy around the 16-value steps.
func TestArm64DotAxpyTails(t *testing.T) {
	g := Generic()
	r := rand.New(rand.NewPCG(33, 34))
	for _, name := range []string{"neon", "dotprod"} {
		v := registry[name]
		if v == nil || !v.Available() {
			continue
		}
		for n := 0; n <= 70; n++ {
			a, b := randSlice(r, n, 1), randSlice(r, n+3, 1)
			if got, want := v.Dot(a, b), g.Dot(a, b); math.Abs(float64(got-want)) > 1e-6*float64(n+1) {
				t.Errorf("%s Dot n=%d: %g, generic %g", name, n, got, want)
			}
			y1 := randSlice(r, n, 1)
			y2 := append([]float32(nil), y1...)
			v.Axpy(y1, -0.7, b)
			g.Axpy(y2, -0.7, b)
			if !floatsEqual(y1, y2) {
				t.Errorf("%s Axpy n=%d: differs from generic", name, n)
			}
		}
	}
}

// TestArm64Select: dotprod wins where the CPU has it, neon otherwise.
func TestArm64Select(t *testing.T) {
	t.Setenv(EnvVariant, "")
	v, err := Select()
	if err != nil {
		t.Fatal(err)
	}
	want := "neon"
	if cpu.ARM64.HasASIMDDP {
		want = "dotprod"
	}
	t.Logf("ASIMD %v, ASIMDDP %v: %s", cpu.ARM64.HasASIMD, cpu.ARM64.HasASIMDDP, v.Name)
	if v.Name != want {
		t.Errorf("Select = %s, want %s", v.Name, want)
	}
}
