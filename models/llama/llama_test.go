package llama

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"maira/quant/convert"
	"maira/quant/dtype"
	"maira/quant/gguf"
	"maira/quant/modelfile"
	"maira/quant/testmodel"
	"maira/runtime"
)

// tinyPath is a tiny F32 model file written once for the package's tests.
var tinyPath string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "maira-llama-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	tinyPath = filepath.Join(dir, "tiny.gguf")
	code := func() int {
		defer os.RemoveAll(dir)
		if err := writeModel(tinyPath, "tiny", dtype.F32); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		return m.Run()
	}()
	os.Exit(code)
}

func writeModel(path, preset string, t dtype.Type) error {
	p, err := testmodel.Lookup(preset)
	if err != nil {
		return err
	}
	return testmodel.WriteGGUF(path, p, convert.Recipe{Vision: t, LLM: t, Embeddings: t}, testmodel.Options{Seed: 1, DType: testmodel.F32})
}

// open loads the language model of the file at path on a CPU backend of
// threads workers.
func open(t testing.TB, path string, threads int) (*Model, *gguf.File) {
	t.Helper()
	f, err := gguf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	h, err := modelfile.Read(f)
	if err != nil {
		t.Fatal(err)
	}
	b, err := runtime.NewCPU(threads)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	m, err := New(f, h.Text, b)
	if err != nil {
		t.Fatal(err)
	}
	return m, f
}

// ---- The float64 reference: transformers' LlamaForCausalLM in plain loops,
// on weights decoded with quant/dtype, with Hugging Face's RoPE (rotate_half
// on split halves) applied to q/k rows UN-permuted back to the Hugging Face
// order. Nothing here uses the engine's code.

type refModel struct {
	cfg    modelfile.Text
	embd   [][]float64
	layers []refLayer
	norm   []float64
	output [][]float64
}

type refLayer struct {
	attnNorm, ffnNorm []float64
	q, k, v, o        [][]float64
	gate, up, down    [][]float64
}

func decode64(t testing.TB, f *gguf.File, name string) ([]float64, []uint64) {
	t.Helper()
	ti := f.Tensor(name)
	if ti == nil {
		t.Fatalf("tensor %s missing", name)
	}
	v := make([]float32, ti.NumElements())
	if err := ti.Type.Decode(v, f.Data(ti)); err != nil {
		t.Fatal(err)
	}
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = float64(x)
	}
	return out, ti.Dims
}

func matrix64(t testing.TB, f *gguf.File, name string) [][]float64 {
	v, dims := decode64(t, f, name)
	cols := int(dims[0])
	var m [][]float64
	for o := 0; o+cols <= len(v); o += cols {
		m = append(m, v[o:o+cols])
	}
	return m
}

// unpermute undoes llama.cpp's q/k row permutation: within each head of hd
// rows, stored row 2i+j is Hugging Face row j·hd/2+i.
func unpermute(m [][]float64, heads int) [][]float64 {
	hd := len(m) / heads
	out := make([][]float64, len(m))
	for h := 0; h < heads; h++ {
		for i := 0; i < hd/2; i++ {
			for j := 0; j < 2; j++ {
				out[h*hd+j*hd/2+i] = m[h*hd+2*i+j]
			}
		}
	}
	return out
}

func loadRef(t testing.TB, f *gguf.File, cfg *modelfile.Text) *refModel {
	r := &refModel{cfg: *cfg, embd: matrix64(t, f, modelfile.TokenEmbd), output: matrix64(t, f, modelfile.Output)}
	r.norm, _ = decode64(t, f, modelfile.OutputNorm)
	for i := 0; i < cfg.BlockCount; i++ {
		b := func(p string) string { return modelfile.Block(i, p) }
		l := refLayer{
			q: unpermute(matrix64(t, f, b("attn_q")), cfg.HeadCount), k: unpermute(matrix64(t, f, b("attn_k")), cfg.HeadCountKV),
			v: matrix64(t, f, b("attn_v")), o: matrix64(t, f, b("attn_output")),
			gate: matrix64(t, f, b("ffn_gate")), up: matrix64(t, f, b("ffn_up")), down: matrix64(t, f, b("ffn_down")),
		}
		l.attnNorm, _ = decode64(t, f, b("attn_norm"))
		l.ffnNorm, _ = decode64(t, f, b("ffn_norm"))
		r.layers = append(r.layers, l)
	}
	return r
}

func linear64(w [][]float64, x []float64) []float64 {
	y := make([]float64, len(w))
	for o, row := range w {
		for i, v := range row {
			y[o] += v * x[i]
		}
	}
	return y
}

func rmsnorm64(x, w []float64, eps float64) []float64 {
	var ss float64
	for _, v := range x {
		ss += v * v
	}
	inv := 1 / math.Sqrt(ss/float64(len(x))+eps)
	y := make([]float64, len(x))
	for i := range x {
		y[i] = w[i] * x[i] * inv
	}
	return y
}

// ropeHF is transformers' apply_rotary_pos_emb: x·cos + rotate_half(x)·sin,
// rotate_half pairing i with i+d/2, inv_freq = theta^(-2i/d), and linear
// scaling dividing the position by the factor.
func ropeHF(x []float64, heads int, pos float64, theta, factor float64) {
	hd := len(x) / heads
	for h := 0; h < heads; h++ {
		v := x[h*hd : (h+1)*hd]
		for i := 0; i < hd/2; i++ {
			ang := pos / factor * math.Pow(theta, -float64(2*i)/float64(hd))
			c, s := math.Cos(ang), math.Sin(ang)
			a, b := v[i], v[i+hd/2]
			v[i], v[i+hd/2] = a*c-b*s, b*c+a*s
		}
	}
}

// lastLogits runs the embeddings x (one row per position from 0) through
// the model with causal attention and returns the logits of the last row.
func (r *refModel) lastLogits(x [][]float64) []float64 {
	c := &r.cfg
	eps := float64(c.RMSEps)
	hd := c.HeadDim()
	group := c.HeadCount / c.HeadCountKV
	factor := float64(c.RopeScalingFactor)
	if c.RopeScalingType == "" {
		factor = 1
	}
	h := make([][]float64, len(x))
	for i := range x {
		h[i] = append([]float64(nil), x[i]...)
	}
	for _, l := range r.layers {
		qs, ks, vs := make([][]float64, len(h)), make([][]float64, len(h)), make([][]float64, len(h))
		for p := range h {
			n := rmsnorm64(h[p], l.attnNorm, eps)
			qs[p], ks[p], vs[p] = linear64(l.q, n), linear64(l.k, n), linear64(l.v, n)
			ropeHF(qs[p], c.HeadCount, float64(p), float64(c.RopeFreqBase), factor)
			ropeHF(ks[p], c.HeadCountKV, float64(p), float64(c.RopeFreqBase), factor)
		}
		for p := range h {
			att := make([]float64, c.EmbeddingLength)
			for hh := 0; hh < c.HeadCount; hh++ {
				kh := hh / group
				q := qs[p][hh*hd : (hh+1)*hd]
				sc := make([]float64, p+1)
				m := math.Inf(-1)
				for j := 0; j <= p; j++ {
					for i := 0; i < hd; i++ {
						sc[j] += q[i] * ks[j][kh*hd+i]
					}
					sc[j] /= math.Sqrt(float64(hd))
					m = max(m, sc[j])
				}
				var z float64
				for j := range sc {
					sc[j] = math.Exp(sc[j] - m)
					z += sc[j]
				}
				for j := range sc {
					for i := 0; i < hd; i++ {
						att[hh*hd+i] += sc[j] / z * vs[j][kh*hd+i]
					}
				}
			}
			o := linear64(l.o, att)
			for i := range o {
				h[p][i] += o[i]
			}
			n := rmsnorm64(h[p], l.ffnNorm, eps)
			g, u := linear64(l.gate, n), linear64(l.up, n)
			for i := range g {
				g[i] = g[i] / (1 + math.Exp(-g[i])) * u[i]
			}
			d := linear64(l.down, g)
			for i := range d {
				h[p][i] += d[i]
			}
		}
	}
	return linear64(r.output, rmsnorm64(h[len(h)-1], r.norm, eps))
}

func argmax64(v []float64) (int32, float64) {
	best, second := 0, -1
	for i := 1; i < len(v); i++ {
		switch {
		case v[i] > v[best]:
			best, second = i, best
		case second < 0 || v[i] > v[second]:
			second = i
		}
	}
	return int32(best), v[best] - v[second]
}

// compare checks got against the reference: max |got-want| <= 1e-4 of the
// reference's largest magnitude.
func compare(t *testing.T, what string, got []float32, want []float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	var big, worst float64
	for i := range want {
		big = max(big, math.Abs(want[i]))
		worst = max(worst, math.Abs(float64(got[i])-want[i]))
	}
	t.Logf("%s: max |error| %.3g, %.3g of the largest reference magnitude %.3g", what, worst, worst/big, big)
	if worst > 1e-4*big {
		t.Errorf("%s: max |error| %g exceeds 1e-4 x %g", what, worst, big)
	}
}

// prompt is a short text-like prompt: BOS, then a few ids.
var prompt = []int32{1, 450, 4996, 17354, 1701, 29916, 432, 17204, 975, 278, 17366, 11203, 29889, 29871}

func TestLogitsMatchReference(t *testing.T) {
	m, f := open(t, tinyPath, 3)
	ref := loadRef(t, f, &m.Config)
	b := m.Backend()

	// A prompt with "image" rows spliced in (written through a view), in
	// two prefills, then steps: every path the CLI uses.
	s, err := m.NewSession(64, dtype.F32)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	x, err := s.Embed(prompt)
	if err != nil {
		t.Fatal(err)
	}
	d := m.Config.EmbeddingLength
	splice := make([]float32, 3*d)
	for i := range splice {
		splice[i] = float32(math.Sin(float64(i)*0.37)) * 0.05
	}
	if err := b.Write(b.View(x, 4, 3), splice); err != nil {
		t.Fatal(err)
	}
	host := make([]float32, len(prompt)*d)
	if err := b.Read(x, host); err != nil {
		t.Fatal(err)
	}
	var rows [][]float64
	for p := range prompt {
		row := make([]float64, d)
		for i := range row {
			row[i] = float64(host[p*d+i])
		}
		rows = append(rows, row)
	}
	// The spliced rows are what we wrote; the others the decoded token_embd rows.
	if rows[4][5] != float64(splice[5]) || rows[0][3] != ref.embd[1][3] {
		t.Fatalf("embeddings: spliced %g (want %g), BOS %g (want %g)", rows[4][5], splice[5], rows[0][3], ref.embd[1][3])
	}

	if _, err := s.Prefill(b.View(x, 0, 6)); err != nil {
		t.Fatal(err)
	}
	logits, err := s.Prefill(b.View(x, 6, len(prompt)-6))
	if err != nil {
		t.Fatal(err)
	}
	compare(t, "prefill logits", logits, ref.lastLogits(rows))
	if s.Pos() != len(prompt) {
		t.Fatalf("Pos %d after a prompt of %d", s.Pos(), len(prompt))
	}
	for _, id := range []int32{29896, 3} {
		logits, err = s.Step(id)
		if err != nil {
			t.Fatal(err)
		}
		rows = append(rows, ref.embd[id])
		compare(t, fmt.Sprintf("step %d logits", len(rows)), logits, ref.lastLogits(rows))
	}
}

func TestLongPromptChunked(t *testing.T) {
	m, f := open(t, tinyPath, 2)
	ref := loadRef(t, f, &m.Config)
	defer func(c int) { prefillChunk = c }(prefillChunk)
	prefillChunk = 16
	n := 3*prefillChunk + 5
	ids := make([]int32, n)
	var rows [][]float64
	for i := range ids {
		ids[i] = int32((i*7919 + 13) % 32000)
		rows = append(rows, ref.embd[ids[i]])
	}
	s, err := m.NewSession(n, dtype.F32)
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
	compare(t, fmt.Sprintf("logits after %d rows", n), logits, ref.lastLogits(rows))
	// The session is full now.
	if _, err := s.Step(5); err == nil || strings.Contains(err.Error(), "\n") {
		t.Fatalf("step into a full session: %v", err)
	}
}

func TestGreedyMatchesReference(t *testing.T) {
	m, f := open(t, tinyPath, 2)
	ref := loadRef(t, f, &m.Config)
	const steps = 20
	s, err := m.NewSession(len(prompt)+steps, dtype.F32)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	x, err := s.Embed(prompt)
	if err != nil {
		t.Fatal(err)
	}
	res, err := runtime.Generate(s, x, runtime.GenerateOptions{MaxTokens: steps, EOS: -1, RepeatGuard: -1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Tokens) != steps || res.StopReason != runtime.StopMaxTokens {
		t.Fatalf("%d tokens, stop %q", len(res.Tokens), res.StopReason)
	}
	var rows [][]float64
	for _, id := range prompt {
		rows = append(rows, ref.embd[id])
	}
	for i := 0; i < steps; i++ {
		want, margin := argmax64(ref.lastLogits(rows))
		if res.Tokens[i] != want {
			if margin < 1e-3 {
				t.Logf("step %d: %d vs reference %d at a reference margin of %.2g: a tie, stopping the comparison", i, res.Tokens[i], want, margin)
				return
			}
			t.Fatalf("step %d: token %d, reference %d (reference margin %.3g)", i, res.Tokens[i], want, margin)
		}
		rows = append(rows, ref.embd[want])
	}
	t.Logf("%d greedy tokens identical to the reference: %v", steps, res.Tokens)
}

func TestSessionLimits(t *testing.T) {
	m, _ := open(t, tinyPath, 1)
	ctx := m.Config.MaxPositions() // 4096 x the linear RoPE factor 1.5
	if ctx != 6144 {
		t.Errorf("tiny positions %d, want 6144", ctx)
	}
	if _, err := m.NewSession(ctx+1, dtype.F32); err == nil || !strings.Contains(err.Error(), "context of 6144") || strings.Contains(err.Error(), "\n") {
		t.Fatalf("session beyond the context: %v", err)
	}
	s, err := m.NewSession(8, dtype.F32)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Embed([]int32{1, int32(m.Config.VocabSize)}); err == nil {
		t.Error("embedding an id outside the vocabulary: no error")
	}
	if _, err := s.Step(-1); err == nil {
		t.Error("step with id -1: no error")
	}
	x, err := s.Embed(make([]int32, 9))
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Prefill(x)
	if err == nil || !strings.Contains(err.Error(), "exceed") || strings.Contains(err.Error(), "\n") {
		t.Fatalf("prompt longer than the session: %v", err)
	}
	wrong, _ := m.Backend().Alloc(2, m.Config.EmbeddingLength+1)
	if _, err := s.Prefill(wrong); err == nil {
		t.Error("prefill of the wrong width: no error")
	}
	if s.Pos() != 0 {
		t.Errorf("refused prefills moved the position to %d", s.Pos())
	}
}

// TestQuantizedLogitsMatchReference holds the engine on quantized weights
// to the float64 reference on the same weights decoded: the dequantizing
// matmul adds nothing to the quantization error itself. The small preset's
// rows of 256 take the k-quants; tiny's rows of 64 the 32-blocks.
func TestQuantizedLogitsMatchReference(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		preset    string
		llm, embd dtype.Type
	}{{"tiny", dtype.Q4_0, dtype.Q8_0}, {"small", dtype.Q4_K, dtype.Q6_K}} {
		t.Run(c.preset+" "+c.llm.String()+" "+c.embd.String(), func(t *testing.T) {
			path := filepath.Join(dir, c.preset+".gguf")
			p, _ := testmodel.Lookup(c.preset)
			r := convert.Recipe{Vision: dtype.F16, LLM: c.llm, Embeddings: c.embd}
			if err := testmodel.WriteGGUF(path, p, r, testmodel.Options{Seed: 1, DType: testmodel.F32}); err != nil {
				t.Fatal(err)
			}
			m, f := open(t, path, 2)
			if typ := f.Tensor(modelfile.Block(0, "ffn_up")).Type; typ != c.llm {
				t.Fatalf("ffn_up stored as %s, want %s", typ, c.llm)
			}
			if typ := f.Tensor(modelfile.Output).Type; typ != c.embd {
				t.Fatalf("output stored as %s, want %s", typ, c.embd)
			}
			ref := loadRef(t, f, &m.Config)
			s, err := m.NewSession(len(prompt), dtype.F32)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			x, err := s.Embed(prompt)
			if err != nil {
				t.Fatal(err)
			}
			logits, err := s.Prefill(x)
			if err != nil {
				t.Fatal(err)
			}
			var rows [][]float64
			for _, id := range prompt {
				rows = append(rows, ref.embd[id])
			}
			compare(t, "logits", logits, ref.lastLogits(rows))
		})
	}
}

// TestSmallCachesNearF32 runs the prompt and 20 steps of the small preset
// with an F16 and a Q8_0 cache, feeding the tokens the F32 cache's session picks, and holds
// every step's logits to the F32 session's: cosine similarity at least
// 0.9999 (F16) or 0.999 (Q8_0, the engine's bound for Q8_0 weights), and
// the same greedy token wherever the F32 top-two margin exceeds twice the
// largest logit difference.
func TestSmallCachesNearF32(t *testing.T) {
	// The small preset: Q8_0 rows need heads of a multiple of 32 (tiny's
	// are 16).
	path := filepath.Join(t.TempDir(), "small.gguf")
	if err := writeModel(path, "small", dtype.F32); err != nil {
		t.Fatal(err)
	}
	m, _ := open(t, path, 2)
	const steps = 20
	run := func(cache dtype.Type, feed []int32) (tokens []int32, logits [][]float32) {
		s, err := m.NewSession(len(prompt)+steps, cache)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		x, err := s.Embed(prompt)
		if err != nil {
			t.Fatal(err)
		}
		l, err := s.Prefill(x)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; ; i++ {
			logits = append(logits, l)
			id, _ := argmax32(l)
			tokens = append(tokens, id)
			if i == steps {
				return tokens, logits
			}
			if feed != nil {
				id = feed[i]
			}
			if l, err = s.Step(id); err != nil {
				t.Fatal(err)
			}
		}
	}
	want, wantLogits := run(dtype.F32, nil)
	for _, c := range []struct {
		cache  dtype.Type
		minCos float64
	}{{dtype.F16, 0.9999}, {dtype.Q8_0, 0.999}} {
		got, gotLogits := run(c.cache, want)
		worstCos, worstDiff := 1.0, 0.0
		for i := range wantLogits {
			cos, diff := cosine(gotLogits[i], wantLogits[i]), maxAbsDiff(gotLogits[i], wantLogits[i])
			worstCos, worstDiff = min(worstCos, cos), max(worstDiff, diff)
			if cos < c.minCos {
				t.Errorf("%s cache, step %d: logits cosine %.6f with the F32 cache", c.cache, i, cos)
			}
			if _, margin := argmax32(wantLogits[i]); got[i] != want[i] && float64(margin) > 2*diff {
				t.Errorf("%s cache, step %d: token %d, F32 cache %d at a margin of %.3g (logits differ by %.3g)", c.cache, i, got[i], want[i], margin, diff)
			}
		}
		if worstDiff == 0 {
			t.Errorf("the %s cache gave exactly the F32 cache's logits: keys and values were not rounded", c.cache)
		}
		t.Logf("%s cache against F32 over %d steps: worst cosine %.7f, worst logit difference %.3g", c.cache, len(wantLogits), worstCos, worstDiff)
	}
}

func argmax32(l []float32) (int32, float32) {
	best, second := 0, -1
	for i := 1; i < len(l); i++ {
		if l[i] > l[best] {
			best, second = i, best
		} else if second < 0 || l[i] > l[second] {
			second = i
		}
	}
	return int32(best), l[best] - l[second]
}

func cosine(a, b []float32) float64 {
	var ab, aa, bb float64
	for i := range a {
		ab += float64(a[i]) * float64(b[i])
		aa += float64(a[i]) * float64(a[i])
		bb += float64(b[i]) * float64(b[i])
	}
	return ab / math.Sqrt(aa*bb)
}

func maxAbsDiff(a, b []float32) float64 {
	var d float64
	for i := range a {
		d = max(d, math.Abs(float64(a[i])-float64(b[i])))
	}
	return d
}

// recorder is the CPU backend as a runtime.StepRecorder that counts the
// steps it is given (the CUDA backend records them as graphs).
type recorder struct {
	*runtime.CPU
	steps int
}

func (r *recorder) RunStep(key any, pos int, next bool, step func(int)) error {
	r.steps++
	s := key.(*Session)
	if pos != s.Pos() || next != (pos+2 <= s.Max()) {
		return fmt.Errorf("RunStep at %d (next %v) of a session at %d of %d", pos, next, s.Pos(), s.Max())
	}
	step(pos)
	return nil
}

// logitsOnly hides the session's GreedyDecoder methods: Generate then
// takes Argmax of the logits it reads.
type logitsOnly struct{ runtime.Decoder }

// TestPickedTokensMatchLogits runs generation both ways, with the tokens
// picked on the backend (Session as a GreedyDecoder, each step through
// StepRecorder) and with Argmax of the logits on the host, and wants the
// same tokens and margins.
func TestPickedTokensMatchLogits(t *testing.T) {
	m0, f := open(t, tinyPath, 2)
	cpu, err := runtime.NewCPU(2)
	if err != nil {
		t.Fatal(err)
	}
	defer cpu.Close()
	rec := &recorder{CPU: cpu}
	m, err := New(f, &m0.Config, rec)
	if err != nil {
		t.Fatal(err)
	}
	const steps = 12
	run := func(greedy bool) runtime.Result {
		s, err := m.NewSession(len(prompt)+steps, dtype.F16)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if !s.Greedy() {
			t.Fatal("a session on a Picker backend is not Greedy")
		}
		x, err := s.Embed(prompt)
		if err != nil {
			t.Fatal(err)
		}
		var d runtime.Decoder = s
		if !greedy {
			d = logitsOnly{s}
		}
		res, err := runtime.Generate(d, x, runtime.GenerateOptions{MaxTokens: steps, EOS: -1, RepeatGuard: -1}, nil)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	want := run(false)
	if rec.steps != 0 {
		t.Fatalf("the logits path recorded %d steps", rec.steps)
	}
	got := run(true)
	if rec.steps != steps-1 {
		t.Errorf("%d steps recorded, want %d", rec.steps, steps-1)
	}
	if fmt.Sprint(got.Tokens, got.Margins) != fmt.Sprint(want.Tokens, want.Margins) {
		t.Fatalf("picked on the backend: %v %v; from the logits: %v %v", got.Tokens, got.Margins, want.Tokens, want.Margins)
	}

	// A picked step before any pick is refused.
	s, err := m.NewSession(4, dtype.F16)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, _, err := s.StepPicked(); err == nil {
		t.Error("StepPicked before PrefillPick: no error")
	}
}
