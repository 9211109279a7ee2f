package runtime

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"maira/kernels"
	"maira/quant/dtype"
)

func TestOpen(t *testing.T) {
	for _, name := range []string{"auto", "cpu"} {
		b, err := Open(name, 2)
		if err != nil {
			t.Fatalf("Open(%q): %v", name, err)
		}
		if b.Name() != "cpu" || !strings.Contains(b.Describe(), "2 threads") {
			t.Errorf("Open(%q): %s", name, b.Describe())
		}
		b.Close()
	}
	if _, err := Open("cuda", 0); err == nil || err.Error() != "cuda backend not available in this build; use --backend cpu" {
		t.Errorf("Open(cuda): %v", err)
	}
	if _, err := Open("tpu", 0); err == nil || !strings.Contains(err.Error(), "auto, cpu, cuda") {
		t.Errorf("Open(tpu): %v", err)
	}
	if _, err := Open("cpu", -1); err == nil {
		t.Error("Open(cpu, -1): no error")
	}
	t.Setenv(kernels.EnvVariant, "nope")
	if _, err := Open("cpu", 1); err == nil || !strings.Contains(err.Error(), "generic") || strings.Contains(err.Error(), "\n") {
		t.Errorf("Open with %s=nope: %v", kernels.EnvVariant, err)
	}
}

// backends returns a CPU backend per kernel variant, with 3 workers so the
// pool splits every op.
func backends(t *testing.T) []*CPU {
	var bs []*CPU
	for _, v := range kernels.Variants() {
		if v.Available != nil && !v.Available() {
			continue
		}
		b, err := NewCPUWithKernels(3, v)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { b.Close() })
		bs = append(bs, b)
	}
	return bs
}

func tensor(t *testing.T, b Backend, rows, cols int, vals []float32) Tensor {
	t.Helper()
	x, err := b.Alloc(rows, cols)
	if err != nil {
		t.Fatal(err)
	}
	if vals != nil {
		if err := b.Write(x, vals); err != nil {
			t.Fatal(err)
		}
	}
	return x
}

func read(t *testing.T, b Backend, x Tensor) []float32 {
	t.Helper()
	v := make([]float32, x.Rows()*x.Cols())
	if err := b.Read(x, v); err != nil {
		t.Fatal(err)
	}
	return v
}

func randv(r *rand.Rand, n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = r.Float32()*2 - 1
	}
	return v
}

func weight(t *testing.T, b Backend, typ dtype.Type, rows, cols int, vals []float32) Weight {
	t.Helper()
	rb, err := typ.RowBytes(int64(cols))
	if err != nil {
		t.Fatal(err)
	}
	data := make([]byte, int(rb)*rows)
	if err := typ.Encode(data, vals); err != nil {
		t.Fatal(err)
	}
	w, err := b.Weight("w", typ, rows, cols, data)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func near(t *testing.T, what string, got, want []float32, tol float64) {
	t.Helper()
	for i := range want {
		if math.Abs(float64(got[i]-want[i])) > tol*max(1, math.Abs(float64(want[i]))) {
			t.Fatalf("%s [%d]: %g, want %g", what, i, got[i], want[i])
		}
	}
}

// TestOps checks each op of the CPU backend, on every kernel variant,
// against plain loops, with sizes that split unevenly across 3 workers.
func TestOps(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	for _, b := range backends(t) {
		t.Run(b.Describe(), func(t *testing.T) {
			const n, in, out = 37, 64, 45
			xv := randv(r, n*in)
			x := tensor(t, b, n, in, xv)

			// MatMul for every type, against the decoded weights.
			for _, typ := range dtype.All() {
				cols := max(in, typ.BlockSize())
				xx := tensor(t, b, n, cols, randv(r, n*cols))
				wv := randv(r, out*cols)
				w := weight(t, b, typ, out, cols, wv)
				dec := make([]float32, out*cols)
				rb, _ := typ.RowBytes(int64(cols))
				enc := make([]byte, int(rb)*out)
				typ.Encode(enc, wv)
				typ.Decode(dec, enc)
				d := tensor(t, b, n, out, nil)
				b.MatMul(d, xx, w)
				xh := read(t, b, xx)
				want := make([]float32, n*out)
				for i := 0; i < n; i++ {
					for o := 0; o < out; o++ {
						var s float64
						for k := 0; k < cols; k++ {
							s += float64(xh[i*cols+k]) * float64(dec[o*cols+k])
						}
						want[i*out+o] = float32(s)
					}
				}
				near(t, "MatMul "+typ.String(), read(t, b, d), want, 1e-4)

				// Gather decodes the same rows.
				g := tensor(t, b, 3, cols, nil)
				b.Gather(g, w, []int32{4, 0, int32(out - 1)})
				gv := read(t, b, g)
				for k, id := range []int{4, 0, out - 1} {
					if !slices.Equal(gv[k*cols:(k+1)*cols], dec[id*cols:(id+1)*cols]) {
						t.Fatalf("Gather %s row %d differs from the decoded row", typ, id)
					}
				}
			}

			// Views, CopyRows, Add, Mul, AddBias, ScaleCols.
			y := tensor(t, b, n, in, randv(r, n*in))
			yv := read(t, b, y)
			v := b.View(y, 5, 10)
			b.CopyRows(v, b.View(x, 0, 10))
			got := read(t, b, y)
			if !slices.Equal(got[5*in:15*in], xv[:10*in]) || !slices.Equal(got[:5*in], yv[:5*in]) || !slices.Equal(got[15*in:], yv[15*in:]) {
				t.Fatal("CopyRows into a view wrote the wrong rows")
			}
			s := tensor(t, b, n, in, nil)
			b.Add(s, x, y)
			b.Mul(y, y, x)
			for i := range xv {
				if read(t, b, s)[i] != xv[i]+got[i] {
					t.Fatalf("Add [%d]", i)
				}
			}
			near(t, "Mul", read(t, b, y), mul(got, xv), 0)
			bias, scale := randv(r, in), randv(r, in)
			bw, sw := weight(t, b, dtype.F32, 1, in, bias), weight(t, b, dtype.F32, 1, in, scale)
			b.AddBias(x, bw)
			b.ScaleCols(x, sw)
			want := make([]float32, n*in)
			for i := range want {
				want[i] = (xv[i] + bias[i%in]) * scale[i%in]
			}
			near(t, "AddBias+ScaleCols", read(t, b, x), want, 1e-6)

			// Norms, GELU, SiLUMul in place.
			xv = read(t, b, x)
			b.LayerNorm(x, x, bw, sw, 1e-6)
			ln := read(t, b, x)
			for i := 0; i < n; i++ {
				row := xv[i*in : (i+1)*in]
				var m, q float64
				for _, a := range row {
					m += float64(a)
				}
				m /= in
				for _, a := range row {
					q += (float64(a) - m) * (float64(a) - m)
				}
				for k, a := range row {
					w := (float64(a)-m)/math.Sqrt(q/in+1e-6)*float64(bias[k]) + float64(scale[k])
					if math.Abs(float64(ln[i*in+k])-w) > 1e-5 {
						t.Fatalf("LayerNorm [%d,%d]: %g, want %g", i, k, ln[i*in+k], w)
					}
				}
			}
			b.RMSNorm(s, x, bw, 1e-5)
			rms := read(t, b, s)
			for i := 0; i < n; i++ {
				var q float64
				for _, a := range ln[i*in : (i+1)*in] {
					q += float64(a) * float64(a)
				}
				for k := 0; k < in; k++ {
					w := float64(ln[i*in+k]) / math.Sqrt(q/in+1e-5) * float64(bias[k])
					if math.Abs(float64(rms[i*in+k])-w) > 1e-5 {
						t.Fatalf("RMSNorm [%d,%d]: %g, want %g", i, k, rms[i*in+k], w)
					}
				}
			}
			b.GELU(s, s)
			gl := read(t, b, s)
			for i, a := range rms {
				w := 0.5 * float64(a) * (1 + math.Erf(float64(a)/math.Sqrt2))
				if math.Abs(float64(gl[i])-w) > 1e-6 {
					t.Fatalf("GELU(%g) = %g, want %g", a, gl[i], w)
				}
			}
			b.SiLUMul(s, x, s)
			sl := read(t, b, s)
			for i, a := range ln {
				w := float64(a) / (1 + math.Exp(-float64(a))) * float64(gl[i])
				if math.Abs(float64(sl[i])-w) > 1e-6 {
					t.Fatalf("SiLUMul [%d] = %g, want %g", i, sl[i], w)
				}
			}
		})
	}
}

func mul(a, b []float32) []float32 {
	c := make([]float32, len(a))
	for i := range a {
		c[i] = a[i] * b[i]
	}
	return c
}

// TestRoPE checks positions per row, the linear factor and the pairing.
func TestRoPE(t *testing.T) {
	r := rand.New(rand.NewPCG(2, 2))
	for _, b := range backends(t) {
		const rows, heads, hd = 5, 3, 8
		xv := randv(r, rows*heads*hd)
		x := tensor(t, b, rows, heads*hd, xv)
		b.RoPE(x, heads, 100, Rope{Theta: 10000, Factor: 1.5})
		got := read(t, b, x)
		for i := 0; i < rows; i++ {
			pos := float64(100+i) / 1.5
			for h := 0; h < heads; h++ {
				for p := 0; p < hd/2; p++ {
					ang := pos * math.Pow(10000, -float64(2*p)/hd)
					o := i*heads*hd + h*hd + 2*p
					a, c := float64(xv[o]), float64(xv[o+1])
					w0, w1 := a*math.Cos(ang)-c*math.Sin(ang), a*math.Sin(ang)+c*math.Cos(ang)
					if math.Abs(float64(got[o])-w0) > 1e-6 || math.Abs(float64(got[o+1])-w1) > 1e-6 {
						t.Fatalf("%s: row %d head %d pair %d: (%g, %g), want (%g, %g)", b.Describe(), i, h, p, got[o], got[o+1], w0, w1)
					}
				}
			}
		}
	}
}

// TestAttention checks causal (with a KV prefix, grouped heads) and
// non-causal attention against a float64 softmax.
func TestAttention(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 3))
	for _, b := range backends(t) {
		for _, c := range []struct {
			rows, keys, heads, kvHeads, hd, pos0 int
			causal                               bool
		}{
			{rows: 70, keys: 70, heads: 3, kvHeads: 3, hd: 16},
			{rows: 1, keys: 1, heads: 2, kvHeads: 2, hd: 8},
			{rows: 45, keys: 45, heads: 4, kvHeads: 2, hd: 8, causal: true},
			{rows: 7, keys: 107, heads: 4, kvHeads: 1, hd: 16, pos0: 100, causal: true},
			{rows: 1, keys: 300, heads: 4, kvHeads: 4, hd: 16, pos0: 299, causal: true},
		} {
			name := fmt.Sprintf("%s: %d rows over %d keys, %d/%d heads, causal %v", b.Describe(), c.rows, c.keys, c.heads, c.kvHeads, c.causal)
			qv, kv, vv := randv(r, c.rows*c.heads*c.hd), randv(r, c.keys*c.kvHeads*c.hd), randv(r, c.keys*c.kvHeads*c.hd)
			for i := range qv {
				qv[i] *= 3
			}
			q, k, v := tensor(t, b, c.rows, c.heads*c.hd, qv), tensor(t, b, c.keys, c.kvHeads*c.hd, kv), tensor(t, b, c.keys, c.kvHeads*c.hd, vv)
			d := tensor(t, b, c.rows, c.heads*c.hd, nil)
			b.Attention(d, q, k, v, Attn{Heads: c.heads, KVHeads: c.kvHeads, Causal: c.causal, Pos0: c.pos0})
			got := read(t, b, d)
			kw := c.kvHeads * c.hd
			for i := 0; i < c.rows; i++ {
				n := c.keys
				if c.causal {
					n = c.pos0 + i + 1
				}
				for h := 0; h < c.heads; h++ {
					kh := h / (c.heads / c.kvHeads)
					s := make([]float64, n)
					m := math.Inf(-1)
					for j := range s {
						for e := 0; e < c.hd; e++ {
							s[j] += float64(qv[i*c.heads*c.hd+h*c.hd+e]) * float64(kv[j*kw+kh*c.hd+e])
						}
						s[j] /= math.Sqrt(float64(c.hd))
						m = max(m, s[j])
					}
					var z float64
					for j := range s {
						s[j] = math.Exp(s[j] - m)
						z += s[j]
					}
					for e := 0; e < c.hd; e++ {
						var w float64
						for j := range s {
							w += s[j] / z * float64(vv[j*kw+kh*c.hd+e])
						}
						if g := got[i*c.heads*c.hd+h*c.hd+e]; math.Abs(float64(g)-w) > 1e-5 {
							t.Fatalf("%s: row %d head %d [%d]: %g, want %g", name, i, h, e, g, w)
						}
					}
				}
			}
		}
	}
}

func TestShapeMisusePanics(t *testing.T) {
	b, _ := NewCPU(1)
	defer b.Close()
	x := tensor(t, b, 2, 3, nil)
	y := tensor(t, b, 3, 2, nil)
	for name, f := range map[string]func(){
		"Add":  func() { b.Add(x, x, y) },
		"View": func() { b.View(x, 1, 2) },
		"RoPE": func() { b.RoPE(x, 2, 0, Rope{Theta: 10000}) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s with wrong shapes did not panic", name)
				}
			}()
			f()
		}()
	}
	if err := b.Write(x, make([]float32, 5)); err == nil {
		t.Error("Write of the wrong length: no error")
	}
	if _, err := b.Alloc(0, 3); err == nil {
		t.Error("Alloc(0, 3): no error")
	}
}

// script is a Decoder whose logits follow a fixed script: step i's logits
// peak at want[i] with the given margin.
type script struct {
	want     []int32
	margin   float32
	steps    []int32
	prefills int
}

func (s *script) logits(i int) []float32 {
	l := make([]float32, 10)
	if i < len(s.want) {
		l[s.want[i]] = s.margin
	}
	return l
}

func (s *script) Prefill(x Tensor) ([]float32, error) {
	s.prefills++
	return s.logits(0), nil
}

func (s *script) Step(id int32) ([]float32, error) {
	s.steps = append(s.steps, id)
	return s.logits(len(s.steps)), nil
}

func TestGenerate(t *testing.T) {
	b, _ := NewCPU(1)
	defer b.Close()
	prompt := tensor(t, b, 4, 2, nil)
	cases := []struct {
		name   string
		want   []int32
		opt    GenerateOptions
		tokens []int32
		stop   string
	}{
		{name: "eos", want: []int32{3, 4, 2, 5}, opt: GenerateOptions{EOS: 2}, tokens: []int32{3, 4}, stop: StopEOS},
		{name: "max tokens", want: []int32{3, 4, 5, 6, 7}, opt: GenerateOptions{MaxTokens: 3, EOS: 2}, tokens: []int32{3, 4, 5}, stop: StopMaxTokens},
		{name: "repetition of a 4-token tail", want: []int32{1, 3, 4, 5, 6, 3, 4, 5, 6, 3, 4, 5, 6, 3, 4, 5, 6, 9}, opt: GenerateOptions{EOS: 2},
			tokens: []int32{1, 3, 4, 5, 6, 3, 4, 5, 6, 3, 4, 5, 6, 3, 4, 5, 6}, stop: StopRepetition},
		{name: "guard off", want: []int32{7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7}, opt: GenerateOptions{MaxTokens: 18, EOS: 2, RepeatGuard: -1},
			tokens: []int32{7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7}, stop: StopMaxTokens},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := &script{want: c.want, margin: 0.5}
			var events []Event
			res, err := Generate(d, prompt, c.opt, func(e Event) { events = append(events, e) })
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(res.Tokens, c.tokens) || res.StopReason != c.stop {
				t.Fatalf("tokens %v stop %q, want %v %q", res.Tokens, res.StopReason, c.tokens, c.stop)
			}
			// The last token is never fed back.
			if want := c.tokens[:len(c.tokens)-1]; c.stop != StopEOS && !slices.Equal(d.steps, want) {
				t.Errorf("stepped %v, want %v", d.steps, want)
			}
			if d.prefills != 1 || res.PromptTokens != 4 {
				t.Errorf("%d prefills of %d rows", d.prefills, res.PromptTokens)
			}
			var kinds []string
			var produced []int32
			for _, e := range events {
				if e.Kind == TokenProduced {
					produced = append(produced, e.Token)
					if e.Margin != 0.5 || e.Index != len(produced)-1 {
						t.Errorf("token event %+v", e)
					}
					continue
				}
				kinds = append(kinds, e.Kind.String()+" "+e.Stage)
			}
			wantKinds := []string{"stage started prefill", "stage done prefill", "stage started generate", "stage done generate"}
			if !slices.Equal(kinds, wantKinds) || !slices.Equal(produced, res.Tokens) {
				t.Errorf("events %v tokens %v", kinds, produced)
			}
		})
	}
}

func TestArgmax(t *testing.T) {
	nan := float32(math.NaN())
	for _, c := range []struct {
		l      []float32
		id     int32
		margin float32
	}{
		{[]float32{1, 3, 2}, 1, 1},
		{[]float32{5, 3, 5}, 0, 0}, // ties go to the lowest id
		{[]float32{-1, -1, -2, -0.5}, 3, 0.5},
		{[]float32{nan, 2, 1}, 1, 1},
		{[]float32{4}, 0, 0},
	} {
		id, m := Argmax(c.l)
		if id != c.id || m != c.margin {
			t.Errorf("Argmax(%v) = %d, %g; want %d, %g", c.l, id, m, c.id, c.margin)
		}
	}
}

func TestRepeating(t *testing.T) {
	rep := func(tail []int32, n int) []int32 {
		var s []int32
		for range n {
			s = append(s, tail...)
		}
		return s
	}
	for _, c := range []struct {
		name   string
		tokens []int32
		want   bool
	}{
		{"15 equal tokens", rep([]int32{7}, 15), false},
		{"16 equal tokens", rep([]int32{7}, 16), true},
		{"a pair 7 times", rep([]int32{7, 8}, 7), false},
		{"a pair 8 times", append([]int32{1}, rep([]int32{7, 8}, 8)...), true},
		{"5 tokens 3 times", rep([]int32{1, 2, 3, 4, 5}, 3), false},
		{"5 tokens 4 times", rep([]int32{1, 2, 3, 4, 5}, 4), true},
		{"32 tokens 4 times", rep(seq(32), 4), true},
		{"33 tokens 4 times", rep(seq(33), 4), false},
		{"a broken loop", append(rep([]int32{1, 2, 3, 4}, 4), 9), false},
	} {
		if got := Repeating(c.tokens, DefaultRepeatGuard); got != c.want {
			t.Errorf("%s: Repeating = %v, want %v", c.name, got, c.want)
		}
	}
}

func seq(n int) []int32 {
	s := make([]int32, n)
	for i := range s {
		s[i] = int32(100 + i)
	}
	return s
}
