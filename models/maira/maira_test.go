package maira

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"maira/quant/convert"
	"maira/quant/dtype"
	"maira/quant/gguf"
	"maira/quant/modelfile"
	"maira/quant/testmodel"
	"maira/runtime"
)

var tinyPath string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "maira-models-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	tinyPath = filepath.Join(dir, "tiny.gguf")
	code := func() int {
		defer os.RemoveAll(dir)
		if err := write(tinyPath, "tiny", dtype.F32); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		return m.Run()
	}()
	os.Exit(code)
}

func write(path, preset string, t dtype.Type) error {
	return writeRecipe(path, preset, convert.Recipe{Vision: t, LLM: t, Embeddings: t})
}

func writeRecipe(path, preset string, r convert.Recipe) error {
	p, err := testmodel.Lookup(preset)
	if err != nil {
		return err
	}
	return testmodel.WriteGGUF(path, p, r, testmodel.Options{Seed: 1, DType: testmodel.F32})
}

func cpu(t testing.TB) *runtime.CPU {
	t.Helper()
	b, err := runtime.NewCPU(0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

func mustLoad(t testing.TB, path string, b runtime.Backend) *Model {
	t.Helper()
	m, err := Load(path, b)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// image returns a deterministic normalised CHW image.
func image(h, w int) []float32 {
	pix := make([]float32, 3*h*w)
	for i := range pix {
		pix[i] = float32(1.4 * math.Sin(float64(i%w)*0.19+float64(i/w)*0.07))
	}
	return pix
}

func read(t testing.TB, b runtime.Backend, x runtime.Tensor) []float32 {
	t.Helper()
	v := make([]float32, x.Rows()*x.Cols())
	if err := b.Read(x, v); err != nil {
		t.Fatal(err)
	}
	return v
}

// TestReportPath runs the whole pipeline as the CLI will: encode an image,
// splice its embeddings into the prompt in place of the image tokens,
// generate.
func TestReportPath(t *testing.T) {
	b := cpu(t)
	m := mustLoad(t, tinyPath, b)
	if m.Vision == nil || m.Projector == nil || m.LLM == nil {
		t.Fatal("a maira file loaded without all three parts")
	}
	side := m.Header.Vision.ImageSize
	feat, emb, err := m.EncodeImage(image(side, side), side, side)
	if err != nil {
		t.Fatal(err)
	}
	n := m.Header.Vision.Patches()
	if feat.Rows() != n || feat.Cols() != m.Header.Vision.EmbeddingLength || emb.Rows() != n || emb.Cols() != m.Header.Text.EmbeddingLength {
		t.Fatalf("features %dx%d, embeddings %dx%d", feat.Rows(), feat.Cols(), emb.Rows(), emb.Cols())
	}
	// EncodeImage is exactly the projector applied to the encoder's output.
	again, err := m.Projector.Project(feat)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(read(t, b, again), read(t, b, emb)) {
		t.Fatal("EncodeImage's embeddings differ from Project(features)")
	}

	img := int32(m.Header.Prompt.ImageTokenID)
	ids := []int32{1, 450, 4996}
	start := len(ids)
	for range n {
		ids = append(ids, img)
	}
	ids = append(ids, 17354, 29871)
	s, err := m.LLM.NewSession(len(ids)+10, dtype.F32)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	x, err := s.Embed(ids)
	if err != nil {
		t.Fatal(err)
	}
	b.CopyRows(b.View(x, start, n), emb)
	var events []runtime.Event
	res, err := runtime.Generate(s, x, runtime.GenerateOptions{MaxTokens: 10, EOS: m.Header.Tokenizer.EOS}, func(e runtime.Event) { events = append(events, e) })
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Tokens) == 0 || res.PromptTokens != len(ids) || len(events) < 4 {
		t.Fatalf("result %+v, %d events", res, len(events))
	}
	t.Logf("tiny: %d tokens (%s), prefill %.0f tokens/s, decode %.0f tokens/s", len(res.Tokens), res.StopReason, res.PrefillTokensPerSecond, res.DecodeTokensPerSecond)

	// A language model without an image encoder has none to run.
	m.Vision = nil
	if _, _, err := m.EncodeImage(image(side, side), side, side); err == nil {
		t.Error("EncodeImage without an encoder: no error")
	}
}

// tensorEdit is one tensor of a file being rewritten.
type tensorEdit struct {
	name string
	typ  dtype.Type
	dims []uint64
	data []byte
	drop bool
}

// rewrite copies the GGUF at src to dst, passing every key through kv
// (return false to drop it) and every tensor through tensor.
func rewrite(t *testing.T, src, dst string, kv func(key string, v any) (any, bool), tensor func(*tensorEdit)) {
	t.Helper()
	f, err := gguf.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w, err := gguf.Create(dst)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Abort()
	for _, e := range f.KVs {
		v, keep := e.Value, e.Key != modelfile.KeyAlignment
		if kv != nil && keep {
			v, keep = kv(e.Key, v)
		}
		if keep {
			if err := w.AddKV(e.Key, v); err != nil {
				t.Fatal(err)
			}
		}
	}
	var edits []*tensorEdit
	for i := range f.Tensors {
		ti := &f.Tensors[i]
		e := &tensorEdit{name: ti.Name, typ: ti.Type, dims: ti.Dims, data: f.Data(ti)}
		if tensor != nil {
			tensor(e)
		}
		if e.drop {
			continue
		}
		if err := w.AddTensor(e.name, e.typ, e.dims); err != nil {
			t.Fatal(err)
		}
		edits = append(edits, e)
	}
	for _, e := range edits {
		if _, err := w.Write(e.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestLanguageModelOnly loads a plain "llama" file (what `maira export
// --llm-only` writes, as llama.cpp reads it): no encoder, same logits.
func TestLanguageModelOnly(t *testing.T) {
	path := filepath.Join(t.TempDir(), "llama.gguf")
	rewrite(t, tinyPath, path, func(k string, v any) (any, bool) {
		switch {
		case k == modelfile.KeyArchitecture:
			return "llama", true
		case strings.HasPrefix(k, "general."), strings.HasPrefix(k, "llama."), strings.HasPrefix(k, "tokenizer."):
			return v, true
		}
		return nil, false
	}, func(e *tensorEdit) { e.drop = strings.HasPrefix(e.name, "v.") || strings.HasPrefix(e.name, "mm.") })
	b := cpu(t)
	m := mustLoad(t, path, b)
	if m.Vision != nil || m.Projector != nil || m.Header.Arch != "llama" {
		t.Fatalf("a llama file loaded with vision %v, projector %v, arch %s", m.Vision, m.Projector, m.Header.Arch)
	}
	if _, _, err := m.EncodeImage(image(56, 56), 56, 56); err == nil {
		t.Error("EncodeImage on a language model: no error")
	}
	full := mustLoad(t, tinyPath, b)
	prompt := []int32{1, 450, 4996, 17354}
	var logits [2][]float32
	for i, mm := range []*Model{m, full} {
		s, err := mm.LLM.NewSession(8, dtype.F32)
		if err != nil {
			t.Fatal(err)
		}
		x, err := s.Embed(prompt)
		if err != nil {
			t.Fatal(err)
		}
		if logits[i], err = s.Prefill(x); err != nil {
			t.Fatal(err)
		}
		s.Close()
	}
	if !slices.Equal(logits[0], logits[1]) {
		t.Error("the exported language model's logits differ from the maira file's")
	}
}

// restricted is a CPU backend that refuses one type, as a GPU backend
// without a kernel for it would.
type restricted struct {
	*runtime.CPU
	refuse dtype.Type
}

func (r restricted) Supports(t dtype.Type) bool { return t != r.refuse && r.CPU.Supports(t) }

func TestLoadRefusesBadFiles(t *testing.T) {
	dir := t.TempDir()
	q8 := filepath.Join(dir, "q8.gguf")
	if err := write(q8, "tiny", dtype.Q8_0); err != nil {
		t.Fatal(err)
	}
	toF16 := func(e *tensorEdit) {
		v := make([]float32, len(e.data)/4)
		dtype.F32.Decode(v, e.data)
		e.typ, e.data = dtype.F16, make([]byte, 2*len(v))
		dtype.F16.Encode(e.data, v)
	}
	for _, c := range []struct {
		name    string
		src     string
		kv      func(string, any) (any, bool)
		tensor  func(*tensorEdit)
		backend func(*runtime.CPU) runtime.Backend
		want    []string // substrings of the one-line error
	}{
		{name: "missing tensor", tensor: func(e *tensorEdit) { e.drop = e.name == "v.blk.1.ls2.weight" },
			want: []string{"v.blk.1.ls2.weight", "missing"}},
		{name: "wrong dims", tensor: func(e *tensorEdit) {
			if e.name == "blk.1.attn_k.weight" {
				e.dims = []uint64{e.dims[0], e.dims[1] / 2}
				e.data = e.data[:len(e.data)/2]
			}
		}, want: []string{"blk.1.attn_k.weight", "dims"}},
		{name: "other architecture", kv: func(k string, v any) (any, bool) {
			if k == modelfile.KeyArchitecture {
				return "gemma", true
			}
			return v, true
		}, want: []string{`"gemma"`}},
		{name: "vector not f32", tensor: func(e *tensorEdit) {
			if e.name == "blk.0.ffn_norm.weight" {
				toF16(e)
			}
		}, want: []string{"blk.0.ffn_norm.weight", "f32", "f16"}},
		{name: "type the backend lacks", src: q8, backend: func(c *runtime.CPU) runtime.Backend { return restricted{c, dtype.Q8_0} },
			want: []string{"q8_0", "not supported", "cpu backend"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			src := c.src
			if src == "" {
				src = tinyPath
			}
			path := filepath.Join(dir, strings.ReplaceAll(c.name, " ", "-")+".gguf")
			rewrite(t, src, path, c.kv, c.tensor)
			var b runtime.Backend = cpu(t)
			if c.backend != nil {
				b = c.backend(b.(*runtime.CPU))
			}
			m, err := Load(path, b)
			if err == nil {
				m.Close()
				t.Fatal("loaded")
			}
			msg := err.Error()
			if strings.Contains(msg, "\n") || !strings.Contains(msg, path) {
				t.Errorf("error %q: want one line naming the file", msg)
			}
			for _, w := range c.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q: want it to mention %q", msg, w)
				}
			}
			t.Log(msg)
		})
	}
	if _, err := Load(filepath.Join(dir, "absent.gguf"), cpu(t)); err == nil {
		t.Error("loading a missing file: no error")
	}
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

// TestQuantizedCloseToF32 holds Q8_0 and Q4_K files of the small preset
// (rows of 256, so every type applies to every matrix but the patch kernel)
// to the F32 file: image features, embeddings and the logits of a prompt
// with the image spliced in. The image is 112x112 (an 8x8 grid, positions
// interpolated) to keep the test fast.
//
// Q4_K's bound is 0.98, not 0.99: on these uniformly random weights a Q4_K
// matrix carries 5.4% relative RMS error (Q8_0: 0.4%), and the 28 matrices
// of the 4-layer model compound it to a logits cosine of about 0.986
// (language-model matrices alone: 0.987; embeddings and head alone: 0.998).
// That is the quantization itself: models/llama's
// TestQuantizedLogitsMatchReference shows the engine computes Q4_K files
// within 4e-7 of a float64 reference on the same decoded weights.
func TestQuantizedCloseToF32(t *testing.T) {
	dir := t.TempDir()
	b := cpu(t)
	const side = 112
	type outputs struct{ feat, emb, logits []float32 }
	run := func(r convert.Recipe) outputs {
		path := filepath.Join(dir, "small.gguf")
		if err := writeRecipe(path, "small", r); err != nil {
			t.Fatal(err)
		}
		m := mustLoad(t, path, b)
		feat, emb, err := m.EncodeImage(image(side, side), side, side)
		if err != nil {
			t.Fatal(err)
		}
		ids := []int32{1, 450, 4996}
		for range emb.Rows() {
			ids = append(ids, int32(m.Header.Prompt.ImageTokenID))
		}
		ids = append(ids, 17354, 1701, 29916, 432, 29871)
		s, err := m.LLM.NewSession(len(ids), dtype.F32)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		x, err := s.Embed(ids)
		if err != nil {
			t.Fatal(err)
		}
		b.CopyRows(b.View(x, 3, emb.Rows()), emb)
		logits, err := s.Prefill(x)
		if err != nil {
			t.Fatal(err)
		}
		return outputs{read(t, b, feat), read(t, b, emb), logits}
	}
	all := func(t dtype.Type) convert.Recipe { return convert.Recipe{Vision: t, LLM: t, Embeddings: t} }
	ref := run(all(dtype.F32))
	for _, c := range []struct {
		r   convert.Recipe
		min float64
	}{
		{all(dtype.Q8_0), 0.999},
		{all(dtype.Q4_K), 0.98},
		{convert.DefaultRecipe(), 0.98},
	} {
		got := run(c.r)
		cf, ce, cl := cosine(got.feat, ref.feat), cosine(got.emb, ref.emb), cosine(got.logits, ref.logits)
		t.Logf("small %s vs f32: cosine features %.6f, embeddings %.6f, logits %.6f", c.r, cf, ce, cl)
		if cl < c.min {
			t.Errorf("%s logits: cosine %.6f below %g", c.r, cl, c.min)
		}
	}
}
