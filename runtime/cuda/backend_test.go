package cuda_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"

	"maira/kernels"
	kc "maira/kernels/cuda"
	"maira/models/maira"
	"maira/quant/convert"
	"maira/quant/dtype"
	"maira/quant/testmodel"
	"maira/runtime"
	"maira/runtime/cuda"
)

// backends returns the exact CPU backend and the CUDA one, or skips: the
// GPU tests run where there is a device (scripts/gpu-check.sh).
func backends(t *testing.T) (*runtime.CPU, *cuda.Backend) {
	t.Helper()
	g, err := cuda.NewBackend(0)
	if err != nil {
		t.Skipf("no CUDA device: %v", err)
	}
	c, err := runtime.NewCPU(0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Close(); c.Close() })
	return c, g
}

func randn(r *rand.Rand, n int, scale float32) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(r.NormFloat64()) * scale
	}
	return v
}

func tensor(t *testing.T, b runtime.Backend, rows, cols int, v []float32) runtime.Tensor {
	t.Helper()
	x, err := b.Alloc(rows, cols)
	if err != nil {
		t.Fatal(err)
	}
	if v != nil {
		if err := b.Write(x, v); err != nil {
			t.Fatal(err)
		}
	}
	return x
}

func read(t *testing.T, b runtime.Backend, x runtime.Tensor) []float32 {
	t.Helper()
	v := make([]float32, x.Rows()*x.Cols())
	if err := b.Read(x, v); err != nil {
		t.Fatalf("%s: %v", b.Name(), err)
	}
	return v
}

// encode stores v (rows x cols) in type ty.
func encode(t *testing.T, ty dtype.Type, v []float32, rows, cols int) []byte {
	t.Helper()
	rb, err := ty.RowBytes(int64(cols))
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, rb*int64(rows))
	if err := ty.Encode(b, v); err != nil {
		t.Fatal(err)
	}
	return b
}

func weight(t *testing.T, b runtime.Backend, name string, ty dtype.Type, rows, cols int, data []byte) runtime.Weight {
	t.Helper()
	w, err := b.Weight(name, ty, rows, cols, data)
	if err != nil {
		t.Fatalf("%s: %v", b.Name(), err)
	}
	return w
}

// near holds got to want: max |difference| within tol·(1 + max |want|),
// and cosine similarity at least 1-1e-5.
func near(t *testing.T, what string, got, want []float32, tol float64) {
	t.Helper()
	var maxd, maxw, dot, gg, ww float64
	for i := range want {
		g, w := float64(got[i]), float64(want[i])
		if math.IsNaN(g) || math.IsInf(g, 0) {
			t.Fatalf("%s: value %d is %v", what, i, g)
		}
		maxd, maxw = max(maxd, math.Abs(g-w)), max(maxw, math.Abs(w))
		dot, gg, ww = dot+g*w, gg+g*g, ww+w*w
	}
	cos := dot / math.Sqrt(gg*ww+1e-300)
	if maxd > tol*(1+maxw) || (ww > 0 && cos < 1-1e-5) {
		t.Errorf("%s: max difference %.3g (max value %.3g), cosine %.8f", what, maxd, maxw, cos)
	}
}

// op runs f on both backends with the same host inputs and compares the
// tensor it returns.
func op(t *testing.T, c *runtime.CPU, g *cuda.Backend, what string, tol float64, f func(b runtime.Backend) runtime.Tensor) {
	t.Helper()
	want := read(t, c, f(c))
	got := read(t, g, f(g))
	near(t, what, got, want, tol)
}

func TestOpsElementwise(t *testing.T) {
	c, g := backends(t)
	r := rand.New(rand.NewPCG(1, 2))
	const rows, cols = 7, 1000
	a, b := randn(r, rows*cols, 2), randn(r, rows*cols, 2)
	vec := randn(r, cols, 1)
	vb := encode(t, dtype.F32, vec, 1, cols)
	for _, c2 := range []struct {
		name string
		f    func(b runtime.Backend, x, y runtime.Tensor, w runtime.Weight) runtime.Tensor
	}{
		{"add", func(be runtime.Backend, x, y runtime.Tensor, _ runtime.Weight) runtime.Tensor {
			be.Add(x, x, y)
			return x
		}},
		{"mul", func(be runtime.Backend, x, y runtime.Tensor, _ runtime.Weight) runtime.Tensor {
			be.Mul(y, x, y)
			return y
		}},
		{"gelu", func(be runtime.Backend, x, _ runtime.Tensor, _ runtime.Weight) runtime.Tensor {
			be.GELU(x, x)
			return x
		}},
		{"silumul", func(be runtime.Backend, x, y runtime.Tensor, _ runtime.Weight) runtime.Tensor {
			be.SiLUMul(x, x, y)
			return x
		}},
		{"addbias", func(be runtime.Backend, x, _ runtime.Tensor, w runtime.Weight) runtime.Tensor {
			be.AddBias(x, w)
			return x
		}},
		{"scalecols", func(be runtime.Backend, x, _ runtime.Tensor, w runtime.Weight) runtime.Tensor {
			be.ScaleCols(x, w)
			return x
		}},
		{"copyrows", func(be runtime.Backend, x, y runtime.Tensor, _ runtime.Weight) runtime.Tensor {
			be.CopyRows(y, x)
			return y
		}},
		{"view", func(be runtime.Backend, x, y runtime.Tensor, _ runtime.Weight) runtime.Tensor {
			be.Add(be.View(x, 2, 3), be.View(x, 2, 3), be.View(y, 4, 3))
			return x
		}},
		{"rmsnorm", func(be runtime.Backend, x, _ runtime.Tensor, w runtime.Weight) runtime.Tensor {
			be.RMSNorm(x, x, w, 1e-5)
			return x
		}},
		{"layernorm", func(be runtime.Backend, x, _ runtime.Tensor, w runtime.Weight) runtime.Tensor {
			be.LayerNorm(x, x, w, w, 1e-6)
			return x
		}},
		{"rope", func(be runtime.Backend, x, _ runtime.Tensor, _ runtime.Weight) runtime.Tensor {
			be.RoPE(x, 10, 4090, runtime.Rope{Theta: 10000, Factor: 1.5})
			return x
		}},
	} {
		op(t, c, g, c2.name, 2e-6, func(be runtime.Backend) runtime.Tensor {
			return c2.f(be, tensor(t, be, rows, cols, a), tensor(t, be, rows, cols, b), weight(t, be, "v", dtype.F32, 1, cols, vb))
		})
	}
}

var types = []dtype.Type{dtype.F32, dtype.F16, dtype.BF16, dtype.Q8_0, dtype.Q4_0, dtype.Q4_K, dtype.Q6_K}

// TestOpsMatMulAndGather holds the float32-activation kernels (k_mm,
// k_gemm, k_gather) to the exact CPU; TestOpsMatMulQ the decode GEMVs on
// 8-bit activations.
func TestOpsMatMulAndGather(t *testing.T) {
	c, g := backends(t)
	g.SetExactMatMul(true)
	defer g.SetExactMatMul(false)
	r := rand.New(rand.NewPCG(3, 4))
	for _, ty := range types {
		for _, s := range []struct{ n, k, m int }{{1, 512, 300}, {3, 256, 64}, {17, 1024, 129}} {
			data := encode(t, ty, randn(r, s.m*s.k, 0.5), s.m, s.k)
			x := randn(r, s.n*s.k, 1)
			name := fmt.Sprintf("matmul %s %dx%dx%d", ty, s.n, s.k, s.m)
			op(t, c, g, name, 1e-5, func(be runtime.Backend) runtime.Tensor {
				w := weight(t, be, "w", ty, s.m, s.k, data)
				d := tensor(t, be, s.n, s.m, nil)
				be.MatMul(d, tensor(t, be, s.n, s.k, x), w)
				return d
			})
			ids := []int32{0, int32(s.m - 1), 5, 5, 2}
			op(t, c, g, "gather "+ty.String(), 0, func(be runtime.Backend) runtime.Tensor {
				d := tensor(t, be, len(ids), s.k, nil)
				be.Gather(d, weight(t, be, "e", ty, s.m, s.k, data), ids)
				return d
			})
		}
	}
	// A float weight whose rows do not split into 32s (the patch embedding).
	data := encode(t, dtype.F16, randn(r, 40*588, 0.1), 40, 588)
	x := randn(r, 9*588, 1)
	op(t, c, g, "matmul f16 588", 1e-5, func(be runtime.Backend) runtime.Tensor {
		d := tensor(t, be, 9, 40, nil)
		be.MatMul(d, tensor(t, be, 9, 588, x), weight(t, be, "patch", dtype.F16, 40, 588, data))
		return d
	})
}

// TestOpsMatMulQ holds the products on Q8_1 activations, the decode
// GEMVs (one row: dp4a) and the prefill GEMM (more rows: int8 mma), to
// the exact CPU backend: per type, ‖gpu - exact‖/‖exact‖ within 1.25
// times (plus 1e-3) the error of the CPU's own 8-bit path ("q8" variant)
// on the same data, the bound kernels/cuda's TestMatMulQOnHost holds the
// GEMVs to on the host.
func TestOpsMatMulQ(t *testing.T) {
	c, g := backends(t)
	q8, err := kernels.Lookup("q8")
	if err != nil {
		t.Fatal(err)
	}
	cq, err := runtime.NewCPUWith(runtime.CPUOptions{Kernels: q8})
	if err != nil {
		t.Fatal(err)
	}
	defer cq.Close()
	r := rand.New(rand.NewPCG(7, 8))
	for _, ty := range []dtype.Type{dtype.Q8_0, dtype.Q4_0, dtype.Q4_K, dtype.Q6_K} {
		var gd, cd, ww float64
		for _, s := range []struct{ n, k, m int }{{1, 512, 300}, {1, 4096, 129}, {1, 256, 7}, {2, 256, 64}, {100, 1024, 130}, {513, 512, 64}} {
			data := encode(t, ty, randn(r, s.m*s.k, 0.5), s.m, s.k)
			x := randn(r, s.n*s.k, 1)
			f := func(be runtime.Backend) runtime.Tensor {
				d := tensor(t, be, s.n, s.m, nil)
				be.MatMul(d, tensor(t, be, s.n, s.k, x), weight(t, be, "w", ty, s.m, s.k, data))
				return d
			}
			want, got, cpuQ := read(t, c, f(c)), read(t, g, f(g)), read(t, cq, f(cq))
			for i := range want {
				w := float64(want[i])
				if math.IsNaN(float64(got[i])) {
					t.Fatalf("%s %+v: value %d is NaN", ty, s, i)
				}
				gd += (float64(got[i]) - w) * (float64(got[i]) - w)
				cd += (float64(cpuQ[i]) - w) * (float64(cpuQ[i]) - w)
				ww += w * w
			}
		}
		ge, ce := math.Sqrt(gd/ww), math.Sqrt(cd/ww)
		t.Logf("%s: relative error against the exact CPU: gpu %.2e, the CPU's 8-bit path %.2e", ty, ge, ce)
		if ge > 1.25*ce+1e-3 {
			t.Errorf("%s: relative error %.3g against the exact CPU; the CPU's 8-bit path has %.3g", ty, ge, ce)
		}
	}
}

// attnCase is an attention call: q [rows, heads·hd] over keys and values
// of kv heads, held as cache (0: activations).
type attnCase struct {
	heads, kv, hd, rows, keys, pos0 int
	causal                          bool
	cache                           dtype.Type
}

// TestOpsAttention holds Attention to the CPU's: decode (k_attn), prefill
// and the encoder (k_fattn in float32, and k_tattn on the tensor cores
// where the heads are 64 or 128), over activations and F32, F16 and Q8
// caches.
func TestOpsAttention(t *testing.T) {
	c, g := backends(t)
	defer g.SetTensorAttention(true)
	r := rand.New(rand.NewPCG(5, 6))
	for _, s := range []attnCase{
		{12, 12, 64, 50, 50, 0, false, 0},          // the encoder
		{4, 4, 128, 9, 9, 0, true, 0},              // prefill on activations
		{8, 2, 128, 1, 300, 299, true, dtype.F32},  // decode, grouped heads
		{4, 4, 128, 1, 700, 699, true, dtype.F16},  //
		{4, 4, 128, 33, 100, 67, true, dtype.F16},  // prefill after a prefix
		{4, 4, 128, 3, 64, 61, true, dtype.Q8_0},   // the CPU's Q8 layout and rounding
		{8, 2, 128, 1, 300, 299, true, dtype.Q8_0}, // decode over Q8
		{4, 4, 128, 40, 40, 0, true, dtype.Q8_0},   // prefill over Q8
		{12, 12, 64, 1370, 1370, 0, false, 0},      // RAD-DINO's 1370 rows
	} {
		q := randn(r, s.rows*s.heads*s.hd, 1)
		k, v := randn(r, s.keys*s.kv*s.hd, 1), randn(r, s.keys*s.kv*s.hd, 1)
		for _, tensorCores := range []bool{false, true} {
			if _, ok := kc.TensorAttention(s.rows, s.heads, s.hd); tensorCores && !ok {
				continue
			}
			g.SetTensorAttention(tensorCores)
			tol := 1e-5
			if s.cache == dtype.F16 || s.cache == dtype.Q8_0 {
				tol = 1e-4 // both round alike; ex2.approx and a quant on a tie may differ
			}
			if tensorCores {
				tol = 2e-3 // f16 q, k, v and probabilities (the host harness's bound)
			}
			op(t, c, g, fmt.Sprintf("attention %+v, tensor cores %v", s, tensorCores), tol, func(be runtime.Backend) runtime.Tensor {
				return attention(t, be, s, q, k, v)
			})
		}
	}
}

func attention(t *testing.T, be runtime.Backend, s attnCase, q, k, v []float32) runtime.Tensor {
	var kt, vt runtime.Tensor
	if s.cache == 0 {
		kt, vt = tensor(t, be, s.keys, s.kv*s.hd, k), tensor(t, be, s.keys, s.kv*s.hd, v)
	} else {
		kcache, err := be.AllocCache(s.cache, s.keys+5, s.kv, s.hd)
		if err != nil {
			t.Fatal(err)
		}
		vcache, _ := be.AllocCache(s.cache, s.keys+5, s.kv, s.hd)
		be.CopyRows(be.View(kcache, 0, s.keys), tensor(t, be, s.keys, s.kv*s.hd, k))
		be.Write(be.View(vcache, 0, s.keys), v)
		kt, vt = be.View(kcache, 0, s.keys), be.View(vcache, 0, s.keys)
	}
	d := tensor(t, be, s.rows, s.heads*s.hd, nil)
	be.Attention(d, tensor(t, be, s.rows, s.heads*s.hd, q), kt, vt, runtime.Attn{Heads: s.heads, KVHeads: s.kv, Causal: s.causal, Pos0: s.pos0})
	return d
}

// TestGraph captures a launch as a CUDA graph and replays it.
func TestGraph(t *testing.T) {
	_, g := backends(t)
	c := g.Context()
	if !c.HasGraphs() {
		t.Skip("this driver has no CUDA graphs")
	}
	a, b := []float32{1, 2, 3, 4}, []float32{10, 20, 30, 40}
	x, y := tensor(t, g, 1, 4, a), tensor(t, g, 1, 4, b)
	if err := g.Sync(); err != nil {
		t.Fatal(err)
	}
	graph, err := c.Capture(func() error { g.Add(x, x, y); return nil })
	if err != nil {
		t.Fatal(err)
	}
	defer graph.Destroy()
	for range 3 {
		if err := graph.Launch(); err != nil {
			t.Fatal(err)
		}
	}
	got := read(t, g, x)
	for i := range a {
		if got[i] != a[i]+3*b[i] {
			t.Fatalf("after 3 replays: %v, want a+3b", got)
		}
	}
}

// TestPick holds k_pick to runtime.Argmax (token and margin, ties, NaN)
// and GatherPicked to Gather of the picked row.
func TestPick(t *testing.T) {
	_, g := backends(t)
	r := rand.New(rand.NewPCG(7, 8))
	for _, n := range []int{1, 1000, 32207} {
		v := randn(r, n, 1)
		if n > 10 {
			v[3], v[n-1] = 9, 9 // a tie: the first wins, margin 0
			v[5] = float32(math.NaN())
		}
		wantID, wantMargin := runtime.Argmax(v)
		g.Pick(tensor(t, g, 1, n, v))
		id, margin, finite, err := g.Picked()
		if err != nil || id != wantID || margin != wantMargin || finite != (n <= 10) {
			t.Errorf("pick of %d: %d, %g, finite %v, %v; want %d, %g", n, id, margin, finite, err, wantID, wantMargin)
		}
	}
	data := encode(t, dtype.Q8_0, randn(r, 50*64, 1), 50, 64)
	v := make([]float32, 50)
	v[37] = 1
	g.Pick(tensor(t, g, 1, 50, v))
	w := weight(t, g, "e", dtype.Q8_0, 50, 64, data)
	got, want := tensor(t, g, 1, 64, nil), tensor(t, g, 1, 64, nil)
	g.GatherPicked(got, w)
	g.Gather(want, w, []int32{37})
	if a, b := read(t, g, got), read(t, g, want); fmt.Sprint(a) != fmt.Sprint(b) {
		t.Errorf("GatherPicked of row 37: %v, Gather: %v", a, b)
	}
}

// TestTinyModel holds the tiny model's logits and greedy tokens on the GPU
// to the CPU's: cosine >= 0.9999 at F16 and F32, the same tokens.
func TestTinyModel(t *testing.T) {
	c, g := backends(t)
	for _, ty := range []string{"f32", "f16", "q8_0", "q4_0"} {
		t.Run(ty, func(t *testing.T) {
			p, _ := testmodel.Lookup("tiny")
			rec, err := convert.ParseRecipe(ty, "", "")
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(t.TempDir(), "tiny.gguf")
			if err := testmodel.WriteGGUF(path, p, rec, testmodel.Options{Seed: 1}); err != nil {
				t.Fatal(err)
			}
			wantImg, gotImg := encodeImage(t, path, c), encodeImage(t, path, g)
			if ci := cuda.Cosine(gotImg, wantImg); ci < 0.9999 && (ty == "f32" || ty == "f16") {
				t.Errorf("%s: image embedding cosine %.7f < 0.9999", ty, ci)
			} else {
				t.Logf("%s: image embedding cosine %.7f", ty, ci)
			}
			want, wantTok := decode(t, path, c)
			got, gotTok := decode(t, path, g)
			cos := cuda.Cosine(got, want)
			t.Logf("%s: logits cosine %.7f, tokens %v (cpu %v)", ty, cos, gotTok, wantTok)
			if (ty == "f32" || ty == "f16") && cos < 0.9999 {
				t.Errorf("%s: logits cosine %.7f < 0.9999", ty, cos)
			}
			if ty == "f32" || ty == "f16" {
				for i := range wantTok {
					if gotTok[i] != wantTok[i] {
						t.Fatalf("%s: greedy tokens %v, cpu %v", ty, gotTok, wantTok)
					}
				}
			}
		})
	}
}

// encodeImage runs the image encoder and projector of the model at path
// on b over a fixed image and returns the projected embedding.
func encodeImage(t *testing.T, path string, b runtime.Backend) []float32 {
	m, err := maira.Load(path, b)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	return cuda.EncodeFixedImage(t, m)
}

// decode prefills a prompt and greedily decodes 16 tokens on b, returning
// the prefill's logits and the tokens.
func decode(t *testing.T, path string, b runtime.Backend) ([]float32, []int32) {
	m, err := maira.Load(path, b)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	ids := []int32{1, 450, 2143, 310, 278, 3889, 338, 29871}
	s, err := m.LLM.NewSession(len(ids)+16, dtype.F32)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	x, err := s.Embed(ids)
	if err != nil {
		t.Fatal(err)
	}
	logits, err := s.Prefill(x)
	if err != nil {
		t.Fatal(err)
	}
	first := append([]float32(nil), logits...)
	var toks []int32
	for range 16 {
		best := 0
		for i := range logits {
			if logits[i] > logits[best] {
				best = i
			}
		}
		toks = append(toks, int32(best))
		if logits, err = s.Step(int32(best)); err != nil {
			t.Fatal(err)
		}
	}

	// Generate picks the tokens on the backend (on the GPU: k_pick, each
	// step after the first a CUDA graph): the same tokens.
	s2, err := m.LLM.NewSession(len(ids)+16, dtype.F32)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	x2, err := s2.Embed(ids)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Free(x2)
	graphs := 0
	gb, gpu := b.(*cuda.Backend)
	if gpu {
		graphs = gb.GraphSteps()
	}
	res, err := runtime.Generate(s2, x2, runtime.GenerateOptions{MaxTokens: 16, EOS: -1, RepeatGuard: -1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(res.Tokens) != fmt.Sprint(toks) {
		t.Errorf("%s: tokens picked on the backend %v, from its logits %v", b.Name(), res.Tokens, toks)
	}
	if gpu {
		// (the backend's first step ever runs directly)
		if n := gb.GraphSteps() - graphs; gb.Context().HasGraphs() && (n < 14 || strings.Contains(gb.Describe(), "without CUDA graphs")) {
			t.Errorf("%d of 15 decode steps ran as CUDA graphs; %s", n, gb.Describe())
		}
	}
	return first, toks
}
