package kernels

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"maira/quant/dtype"
)

// forEachVariant runs f on every registered variant this machine can run,
// generic included (a variant is held to generic by comparing f's results
// with generic's; generic itself is held to float64 loops below).
func forEachVariant(t *testing.T, f func(t *testing.T, v *Variant)) {
	t.Helper()
	for _, v := range Variants() {
		if v.Available != nil && !v.Available() {
			t.Logf("variant %s: not available on this machine, skipped", v.Name)
			continue
		}
		t.Run(v.Name, func(t *testing.T) { f(t, v) })
	}
}

func randSlice(r *rand.Rand, n int, scale float32) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = (r.Float32()*2 - 1) * scale
	}
	return s
}

// closeTo reports whether got is within tol·max(1, max|want|) of want
// everywhere, and the worst relative difference.
func closeTo(got, want []float32, tol float64) (bool, float64) {
	var big, worst float64 = 1, 0
	for _, w := range want {
		big = max(big, math.Abs(float64(w)))
	}
	for i := range want {
		worst = max(worst, math.Abs(float64(got[i])-float64(want[i]))/big)
	}
	return worst <= tol, worst
}

// Odd sizes: not multiples of the unrolling, the tiles or the key blocks.
var sizes = []int{1, 3, 7, 17, 64, 133}

func TestVariantsMatchGeneric(t *testing.T) {
	g := Generic()
	r := rand.New(rand.NewPCG(1, 2))
	forEachVariant(t, func(t *testing.T, v *Variant) {
		for _, n := range sizes {
			a, b := randSlice(r, n, 1), randSlice(r, n, 1)
			if got, want := v.Dot(a, b), g.Dot(a, b); math.Abs(float64(got-want)) > 1e-5*float64(n) {
				t.Errorf("Dot n=%d: %g, generic %g", n, got, want)
			}
			y1, y2 := randSlice(r, n, 1), []float32(nil)
			y2 = append(y2, y1...)
			v.Axpy(y1, 0.3, a)
			g.Axpy(y2, 0.3, a)
			if ok, d := closeTo(y1, y2, 1e-6); !ok {
				t.Errorf("Axpy n=%d: off by %g", n, d)
			}
			w, bias := randSlice(r, n, 1), randSlice(r, n, 1)
			o1, o2 := make([]float32, n), make([]float32, n)
			v.LayerNorm(o1, a, w, bias, 1e-6)
			g.LayerNorm(o2, a, w, bias, 1e-6)
			if ok, d := closeTo(o1, o2, 1e-5); !ok {
				t.Errorf("LayerNorm n=%d: off by %g", n, d)
			}
			v.RMSNorm(o1, a, w, 1e-5)
			g.RMSNorm(o2, a, w, 1e-5)
			if ok, d := closeTo(o1, o2, 1e-5); !ok {
				t.Errorf("RMSNorm n=%d: off by %g", n, d)
			}
			x := randSlice(r, n, 6)
			v.GELU(o1, x)
			g.GELU(o2, x)
			if ok, d := closeTo(o1, o2, 1e-5); !ok {
				t.Errorf("GELU n=%d: off by %g", n, d)
			}
			v.SiLUMul(o1, x, b)
			g.SiLUMul(o2, x, b)
			if ok, d := closeTo(o1, o2, 1e-5); !ok {
				t.Errorf("SiLUMul n=%d: off by %g", n, d)
			}
		}
		for _, hd := range []int{2, 16, 64} {
			x1 := randSlice(r, 3*hd, 1)
			x2 := append([]float32(nil), x1...)
			v.RoPE(x1, 3, hd, 1234.0/1.5, 10000)
			g.RoPE(x2, 3, hd, 1234.0/1.5, 10000)
			if ok, d := closeTo(x1, x2, 1e-5); !ok {
				t.Errorf("RoPE hd=%d: off by %g", hd, d)
			}
		}
		for _, typ := range dtype.All() {
			for _, n := range []int{1, 5, 19} {
				w := randMatrix(t, r, typ, 37, 2*typ.BlockSize()+max(0, 32-typ.BlockSize()))
				x := randSlice(r, n*w.Cols, 1)
				d1, d2 := make([]float32, n*w.Rows), make([]float32, n*w.Rows)
				var s1, s2 Scratch
				v.MatMul(d1, w.Rows, x, w.Cols, n, w, 0, w.Rows, &s1)
				g.MatMul(d2, w.Rows, x, w.Cols, n, w, 0, w.Rows, &s2)
				if ok, d := closeTo(d1, d2, 1e-5); !ok {
					t.Errorf("MatMul %s n=%d: off by %g", typ, n, d)
				}
			}
		}
		for _, c := range attnCases {
			a1, _ := c.make(r)
			a2 := *a1
			a2.Out = make([]float32, len(a1.Out))
			var s1, s2 Scratch
			v.Attention(a1, &s1)
			g.Attention(&a2, &s2)
			if ok, d := closeTo(a1.Out, a2.Out, 1e-5); !ok {
				t.Errorf("Attention %s: off by %g", c.name, d)
			}
		}
	})
}

// randMatrix makes a rows x cols matrix of type typ from random values.
func randMatrix(t testing.TB, r *rand.Rand, typ dtype.Type, rows, cols int) *Matrix {
	t.Helper()
	rb, err := typ.RowBytes(int64(cols))
	if err != nil {
		t.Fatal(err)
	}
	data := make([]byte, int(rb)*rows)
	if err := typ.Encode(data, randSlice(r, rows*cols, 1)); err != nil {
		t.Fatal(err)
	}
	m, err := NewMatrix(typ, rows, cols, data)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestGenericMatMulAgainstFloat64(t *testing.T) {
	g := Generic()
	r := rand.New(rand.NewPCG(3, 4))
	for _, typ := range dtype.All() {
		bs := typ.BlockSize()
		cols := 2 * max(bs, 32)
		for _, rows := range []int{1, 15, 16, 17, 45} {
			w := randMatrix(t, r, typ, rows, cols)
			dec := make([]float32, rows*cols)
			if err := typ.Decode(dec, w.Data); err != nil {
				t.Fatal(err)
			}
			n := 3
			x := randSlice(r, n*(cols+5), 1) // rows of x 5 apart from cols: ldX > cols
			ld := rows + 2
			dst := make([]float32, n*ld)
			var s Scratch
			// Two halves, as two workers would do them.
			g.MatMul(dst, ld, x, cols+5, n, w, 0, rows/2, &s)
			g.MatMul(dst, ld, x, cols+5, n, w, rows/2, rows, &s)
			for i := 0; i < n; i++ {
				for o := 0; o < rows; o++ {
					var want float64
					for k := 0; k < cols; k++ {
						want += float64(x[i*(cols+5)+k]) * float64(dec[o*cols+k])
					}
					if d := math.Abs(float64(dst[i*ld+o]) - want); d > 1e-5*float64(cols) {
						t.Fatalf("%s %dx%d: row %d col %d: %g, want %g", typ, rows, cols, i, o, dst[i*ld+o], want)
					}
				}
			}
			// Gather decodes the same rows.
			ids := []int32{int32(rows - 1), 0}
			out := make([]float32, 2*cols)
			g.Gather(out, cols, w, ids)
			for k, id := range ids {
				for c := 0; c < cols; c++ {
					if out[k*cols+c] != dec[int(id)*cols+c] {
						t.Fatalf("%s Gather row %d col %d: %g, want %g", typ, id, c, out[k*cols+c], dec[int(id)*cols+c])
					}
				}
			}
		}
	}
}

func TestGenericElementwiseAgainstFloat64(t *testing.T) {
	g := Generic()
	r := rand.New(rand.NewPCG(5, 6))
	for _, n := range sizes {
		x, w, b := randSlice(r, n, 3), randSlice(r, n, 1), randSlice(r, n, 1)
		got := make([]float32, n)
		// LayerNorm
		var mean, vr float64
		for _, v := range x {
			mean += float64(v)
		}
		mean /= float64(n)
		for _, v := range x {
			vr += (float64(v) - mean) * (float64(v) - mean)
		}
		vr /= float64(n)
		g.LayerNorm(got, x, w, b, 1e-6)
		for i := range x {
			want := (float64(x[i])-mean)/math.Sqrt(vr+1e-6)*float64(w[i]) + float64(b[i])
			if math.Abs(float64(got[i])-want) > 1e-5*max(1, math.Abs(want)) {
				t.Fatalf("LayerNorm n=%d [%d]: %g, want %g", n, i, got[i], want)
			}
		}
		// RMSNorm
		var ss float64
		for _, v := range x {
			ss += float64(v) * float64(v)
		}
		g.RMSNorm(got, x, w, 1e-5)
		for i := range x {
			want := float64(x[i]) / math.Sqrt(ss/float64(n)+1e-5) * float64(w[i])
			if math.Abs(float64(got[i])-want) > 1e-5*max(1, math.Abs(want)) {
				t.Fatalf("RMSNorm n=%d [%d]: %g, want %g", n, i, got[i], want)
			}
		}
		// GELU, SiLU-gated product, in place
		copy(got, x)
		g.GELU(got, got)
		for i, v := range x {
			want := 0.5 * float64(v) * (1 + math.Erf(float64(v)/math.Sqrt2))
			if math.Abs(float64(got[i])-want) > 1e-6*max(1, math.Abs(want)) {
				t.Fatalf("GELU(%g) = %g, want %g", v, got[i], want)
			}
		}
		g.SiLUMul(got, x, w)
		for i, v := range x {
			want := float64(v) / (1 + math.Exp(-float64(v))) * float64(w[i])
			if math.Abs(float64(got[i])-want) > 1e-6*max(1, math.Abs(want)) {
				t.Fatalf("SiLUMul(%g, %g) = %g, want %g", v, w[i], got[i], want)
			}
		}
	}
}

func TestGenericRoPEPairsAdjacent(t *testing.T) {
	g := Generic()
	r := rand.New(rand.NewPCG(7, 8))
	const heads, hd = 2, 8
	x := randSlice(r, heads*hd, 1)
	got := append([]float32(nil), x...)
	pos := 3000 / 1.5
	g.RoPE(got, heads, hd, pos, 10000)
	for h := 0; h < heads; h++ {
		for i := 0; i < hd/2; i++ {
			ang := pos / math.Pow(10000, float64(2*i)/hd)
			a, b := float64(x[h*hd+2*i]), float64(x[h*hd+2*i+1])
			w0 := a*math.Cos(ang) - b*math.Sin(ang)
			w1 := a*math.Sin(ang) + b*math.Cos(ang)
			if math.Abs(float64(got[h*hd+2*i])-w0) > 1e-6 || math.Abs(float64(got[h*hd+2*i+1])-w1) > 1e-6 {
				t.Fatalf("head %d pair %d: (%g, %g), want (%g, %g)", h, i, got[h*hd+2*i], got[h*hd+2*i+1], w0, w1)
			}
		}
	}
}

// attnCase builds an attention problem and its float64 answer.
type attnCase struct {
	name               string
	rows, keys, hd, ld int
	causal             bool
	pos0               int
}

var attnCases = []attnCase{
	{name: "encoder 1 row", rows: 1, keys: 1, hd: 16, ld: 40},
	{name: "encoder 37x37", rows: 37, keys: 37, hd: 16, ld: 40},
	{name: "encoder 150x150", rows: 150, keys: 150, hd: 32, ld: 70},
	{name: "prefill 70", rows: 70, keys: 70, hd: 16, ld: 16, causal: true},
	{name: "prefill 9 after 130", rows: 9, keys: 139, hd: 16, ld: 33, causal: true, pos0: 130},
	{name: "decode at 200", rows: 1, keys: 201, hd: 64, ld: 64, causal: true, pos0: 200},
	{name: "prefill 21 after 300, hd 128", rows: 21, keys: 321, hd: 128, ld: 136, causal: true, pos0: 300},
	{name: "encoder 70x70, hd 72", rows: 70, keys: 70, hd: 72, ld: 72},
}

func (c attnCase) make(r *rand.Rand) (*Attn, []float32) {
	a := &Attn{
		Q: randSlice(r, c.rows*c.ld, 2), LdQ: c.ld,
		K: randSlice(r, c.keys*c.ld, 2), V: randSlice(r, c.keys*c.ld, 1), LdKV: c.ld,
		Out: make([]float32, c.rows*c.ld), LdOut: c.ld,
		Rows: c.rows, HeadDim: c.hd, Scale: float32(1 / math.Sqrt(float64(c.hd))),
		Keys: c.keys, Causal: c.causal, Pos0: c.pos0,
	}
	want := make([]float32, c.rows*c.ld)
	for i := 0; i < c.rows; i++ {
		n := c.keys
		if c.causal {
			n = c.pos0 + i + 1
		}
		s := make([]float64, n)
		m := math.Inf(-1)
		for j := range s {
			for k := 0; k < c.hd; k++ {
				s[j] += float64(a.Q[i*c.ld+k]) * float64(a.K[j*c.ld+k])
			}
			s[j] *= float64(a.Scale)
			m = max(m, s[j])
		}
		var z float64
		for j := range s {
			s[j] = math.Exp(s[j] - m)
			z += s[j]
		}
		for k := 0; k < c.hd; k++ {
			var o float64
			for j := range s {
				o += s[j] / z * float64(a.V[j*c.ld+k])
			}
			want[i*c.ld+k] = float32(o)
		}
	}
	return a, want
}

func TestGenericAttentionAgainstFloat64(t *testing.T) {
	g := Generic()
	r := rand.New(rand.NewPCG(9, 10))
	for _, c := range attnCases {
		a, want := c.make(r)
		var s Scratch
		g.Attention(a, &s)
		if ok, d := closeTo(a.Out, want, 1e-5); !ok {
			t.Errorf("%s: off by %g", c.name, d)
		}
	}
}

func TestSelect(t *testing.T) {
	t.Setenv(EnvVariant, "")
	v, err := Select()
	if err != nil || v == nil {
		t.Fatalf("Select: %v, %v", v, err)
	}
	t.Setenv(EnvVariant, "generic")
	if v, err := Select(); err != nil || v.Name != "generic" {
		t.Fatalf("Select with %s=generic: %v, %v", EnvVariant, v, err)
	}
	t.Setenv(EnvVariant, "sse9")
	_, err = Select()
	if err == nil || !strings.Contains(err.Error(), `"sse9"`) || !strings.Contains(err.Error(), "generic") || strings.Contains(err.Error(), "\n") {
		t.Fatalf("Select with an unknown variant: %v", err)
	}
}

func TestNewMatrixRefusesBadSizes(t *testing.T) {
	if _, err := NewMatrix(dtype.Q4_K, 2, 100, make([]byte, 1000)); err == nil {
		t.Error("q4_k rows of 100: no error")
	}
	if _, err := NewMatrix(dtype.F32, 2, 4, make([]byte, 31)); err == nil {
		t.Error("31 bytes for 8 floats: no error")
	}
	if _, err := NewMatrix(dtype.Type(99), 1, 1, make([]byte, 4)); err == nil {
		t.Error("unknown type: no error")
	}
	// Unaligned F32 data is copied, not mis-read.
	b := make([]byte, 17)
	b[1], b[2], b[3], b[4] = 0, 0, 0x80, 0x3f // 1.0 at offset 1
	m, err := NewMatrix(dtype.F32, 1, 4, b[1:])
	if err != nil || m.F32[0] != 1 {
		t.Fatalf("unaligned F32: %v, %v", m, err)
	}
}
