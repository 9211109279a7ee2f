package convert_test

import (
	"bytes"
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"maira/quant/convert"
	"maira/quant/dtype"
	"maira/quant/gguf"
	"maira/quant/hf"
	"maira/quant/modelfile"
	"maira/quant/safetensors"
	"maira/quant/testmodel"
)

// checkpoint writes a test checkpoint of the preset into a fresh folder.
func checkpoint(t *testing.T, preset string, d testmodel.DType) string {
	t.Helper()
	p, err := testmodel.Lookup(preset)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "maira-2-"+preset)
	if err := testmodel.WriteHF(dir, p, testmodel.Options{Seed: 7, DType: d}); err != nil {
		t.Fatal(err)
	}
	return dir
}

// convertDir converts dir with recipe r into a file in a fresh folder.
func convertDir(t *testing.T, dir string, r convert.Recipe) (string, *convert.Plan) {
	t.Helper()
	ck, err := hf.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ck.Close() })
	plan, err := convert.NewPlan(convert.FromCheckpoint(ck), r)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "out.gguf")
	if err := plan.Write(out, convert.Options{Workers: 3}); err != nil {
		t.Fatal(err)
	}
	return out, plan
}

func openModel(t *testing.T, path string) (*gguf.File, *modelfile.Header) {
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
	if err := modelfile.Check(f, h); err != nil {
		t.Fatal(err)
	}
	return f, h
}

func all(ty dtype.Type) convert.Recipe { return convert.Recipe{Vision: ty, LLM: ty, Embeddings: ty} }

// hfName is the independent map of the test: output name -> checkpoint name.
func hfName(name string) string {
	r := strings.NewReplacer(
		"token_embd.weight", "language_model.model.embed_tokens.weight",
		"output_norm.weight", "language_model.model.norm.weight",
		"output.weight", "language_model.lm_head.weight",
	)
	switch {
	case strings.HasPrefix(name, "blk."):
		parts := strings.SplitN(name, ".", 4) // blk N part weight
		m := map[string]string{"attn_norm": "input_layernorm", "ffn_norm": "post_attention_layernorm",
			"attn_q": "self_attn.q_proj", "attn_k": "self_attn.k_proj", "attn_v": "self_attn.v_proj",
			"attn_output": "self_attn.o_proj", "ffn_gate": "mlp.gate_proj", "ffn_up": "mlp.up_proj", "ffn_down": "mlp.down_proj"}
		return "language_model.model.layers." + parts[1] + "." + m[parts[2]] + ".weight"
	case strings.HasPrefix(name, "v.blk."):
		parts := strings.SplitN(name, ".", 5) // v blk N part kind
		m := map[string]string{"attn_q": "attention.attention.query", "attn_k": "attention.attention.key",
			"attn_v": "attention.attention.value", "attn_out": "attention.output.dense", "ln1": "norm1", "ln2": "norm2",
			"ffn_up": "mlp.fc1", "ffn_down": "mlp.fc2", "ls1": "layer_scale1", "ls2": "layer_scale2"}
		kind := parts[4]
		if strings.HasPrefix(parts[3], "ls") {
			kind = "lambda1"
		}
		return "vision_tower.encoder.layer." + parts[2] + "." + m[parts[3]] + "." + kind
	case strings.HasPrefix(name, "mm."):
		return "multi_modal_projector.layers." + strings.TrimPrefix(name, "mm.")
	case strings.HasPrefix(name, "v."):
		m := map[string]string{"v.patch_embd.weight": "embeddings.patch_embeddings.projection.weight",
			"v.patch_embd.bias": "embeddings.patch_embeddings.projection.bias", "v.class_embd": "embeddings.cls_token",
			"v.position_embd.weight": "embeddings.position_embeddings", "v.post_ln.weight": "layernorm.weight", "v.post_ln.bias": "layernorm.bias"}
		return "vision_tower." + m[name]
	}
	return r.Replace(name)
}

// permuted applies llama.cpp's convert_hf_to_gguf permute() to the rows of
// a [rows, cols] matrix: reshape(heads, 2, rows/heads/2, cols), swap axes
// 1 and 2, reshape back. Written from the reshape, not from the converter's
// index formula, so the two are checked against each other.
func permuted(w []float32, rows, cols, heads int) []float32 {
	half := rows / heads / 2
	out := make([]float32, 0, len(w))
	for h := 0; h < heads; h++ {
		for j := 0; j < half; j++ { // axis that was 2, now 1
			for a := 0; a < 2; a++ { // axis that was 1, now 2
				src := (h*2+a)*half + j
				out = append(out, w[src*cols:(src+1)*cols]...)
			}
		}
	}
	return out
}

func readAll(t *testing.T, st *safetensors.Tensor) []float32 {
	t.Helper()
	v := make([]float32, st.NumElements())
	if err := st.Float32(v, 0); err != nil {
		t.Fatal(err)
	}
	return v
}

// TestF32IsExact converts an f32 checkpoint to f32 and checks every tensor
// against its source: names, dims reversed, values, and the q/k permutation.
func TestF32IsExact(t *testing.T) {
	dir := checkpoint(t, "tiny", testmodel.F32)
	out, _ := convertDir(t, dir, all(dtype.F32))
	f, h := openModel(t, out)
	set, err := safetensors.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer set.Close()
	if len(f.Tensors) != len(set.Tensors)-1 { // all but the mask token
		t.Errorf("%d tensors, checkpoint has %d", len(f.Tensors), len(set.Tensors))
	}
	for i := range f.Tensors {
		ti := &f.Tensors[i]
		st := set.Tensor(hfName(ti.Name))
		if st == nil {
			t.Fatalf("%s: no source %s", ti.Name, hfName(ti.Name))
		}
		if ti.Type != dtype.F32 {
			t.Errorf("%s: type %s", ti.Name, ti.Type)
		}
		for k := range st.Shape {
			if uint64(st.Shape[len(st.Shape)-1-k]) != ti.Dims[k] {
				t.Fatalf("%s: dims %v for shape %v", ti.Name, ti.Dims, st.Shape)
			}
		}
		want := readAll(t, st)
		switch {
		case strings.HasSuffix(ti.Name, "attn_q.weight") && !strings.HasPrefix(ti.Name, "v."):
			want = permuted(want, int(ti.Dims[1]), int(ti.Dims[0]), h.Text.HeadCount)
		case strings.HasSuffix(ti.Name, "attn_k.weight") && !strings.HasPrefix(ti.Name, "v."):
			want = permuted(want, int(ti.Dims[1]), int(ti.Dims[0]), h.Text.HeadCountKV)
		}
		got := make([]float32, len(want))
		if err := dtype.F32.Decode(got, f.Data(ti)); err != nil {
			t.Fatal(err)
		}
		for k := range want {
			if got[k] != want[k] {
				t.Fatalf("%s: element %d = %v, want %v", ti.Name, k, got[k], want[k])
			}
		}
	}
	// The permutation is not the identity: the q rows really moved.
	q := f.Tensor("blk.0.attn_q.weight")
	src := readAll(t, set.Tensor(hfName(q.Name)))
	if bytes.Equal(f32bytes(src), f.Data(q)) {
		t.Error("attn_q was not permuted")
	}
}

func f32bytes(v []float32) []byte {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	return b
}

// TestQuantizedMatchesEncoder checks that the chunked, multi-worker pipeline
// writes exactly what the type's encoder makes of the source rows.
func TestQuantizedMatchesEncoder(t *testing.T) {
	dir := checkpoint(t, "small", testmodel.BF16)
	for _, ty := range []dtype.Type{dtype.Q4_K, dtype.Q8_0} {
		t.Run(ty.String(), func(t *testing.T) {
			out, plan := convertDir(t, dir, all(ty))
			f, _ := openModel(t, out)
			for _, pt := range plan.Tensors {
				ti := f.Tensor(pt.Name)
				if ti.Type != pt.Type {
					t.Fatalf("%s: file type %s, plan %s", pt.Name, ti.Type, pt.Type)
				}
				if pt.Permute != 0 || pt.Elements() > 1<<20 {
					continue // permuted rows are covered by TestF32IsExact
				}
				src := make([]float32, pt.Elements())
				if err := pt.Source.Read(src, 0); err != nil {
					t.Fatal(err)
				}
				rb, _ := ti.Type.RowBytes(pt.Elements())
				want := make([]byte, rb)
				if err := ti.Type.Encode(want, src); err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(want, f.Data(ti)) {
					t.Fatalf("%s: bytes differ from the %s encoder", pt.Name, ti.Type)
				}
			}
		})
	}
}

// TestRecipeTypes checks the default recipe on a model where every type fits.
func TestRecipeTypes(t *testing.T) {
	dir := checkpoint(t, "small", testmodel.BF16)
	out, plan := convertDir(t, dir, convert.DefaultRecipe())
	f, h := openModel(t, out)
	if h.FileType != 15 {
		t.Errorf("file type %d, want 15 (MOSTLY_Q4_K_M)", h.FileType)
	}
	for _, pt := range plan.Tensors {
		want := dtype.F32
		n := pt.Name
		switch {
		case n == "v.patch_embd.weight":
			want = dtype.F16 // rows of 14 fit no block
		case len(pt.Dims) == 1 || n == "v.class_embd" || n == "v.position_embd.weight":
		case n == "token_embd.weight" || n == "output.weight":
			want = dtype.Q6_K
		case strings.HasPrefix(n, "v.") || strings.HasPrefix(n, "mm."):
			want = dtype.Q8_0
		default:
			want = dtype.Q4_K
		}
		if got := f.Tensor(n).Type; got != want {
			t.Errorf("%s: %s, want %s", n, got, want)
		}
		if pt.Fallback() != (n == "v.patch_embd.weight") {
			t.Errorf("%s: fallback %v", n, pt.Fallback())
		}
		if pt.Type != dtype.F32 && pt.Stats.N != pt.Elements() {
			t.Errorf("%s: error measured over %d of %d elements", n, pt.Stats.N, pt.Elements())
		}
	}
	if e := plan.Tensors[len(plan.Tensors)-1].Stats.RelError(); !(e > 0.001 && e < 0.05) {
		t.Errorf("output.weight q6_k relative error %v, want between 0.1%% and 5%%", e)
	}
}

// TestDirectGGUFMatches checks that testmodel's direct GGUF path writes the
// same tensors as converting its checkpoint folder.
func TestDirectGGUFMatches(t *testing.T) {
	p, _ := testmodel.Lookup("tiny")
	opt := testmodel.Options{Seed: 7, DType: testmodel.BF16}
	direct := filepath.Join(t.TempDir(), "direct.gguf")
	if err := testmodel.WriteGGUF(direct, p, convert.DefaultRecipe(), opt); err != nil {
		t.Fatal(err)
	}
	viaHF, _ := convertDir(t, checkpoint(t, "tiny", testmodel.BF16), convert.DefaultRecipe())
	a, _ := openModel(t, direct)
	b, _ := openModel(t, viaHF)
	if len(a.Tensors) != len(b.Tensors) {
		t.Fatalf("%d vs %d tensors", len(a.Tensors), len(b.Tensors))
	}
	for i := range a.Tensors {
		ta, tb := &a.Tensors[i], &b.Tensors[i]
		if ta.Name != tb.Name || ta.Type != tb.Type || !bytes.Equal(a.Data(ta), b.Data(tb)) {
			t.Errorf("tensor %d: %s %s differs from %s %s", i, ta.Name, ta.Type, tb.Name, tb.Type)
		}
	}
	for _, key := range []string{modelfile.KeyTokTokens, modelfile.KeyTokScores, modelfile.KeyTokTypes} {
		va, _ := a.Get(key)
		vb, _ := b.Get(key)
		if !equalAny(va, vb) {
			t.Errorf("%s differs", key)
		}
	}
}

func equalAny(a, b any) bool {
	switch x := a.(type) {
	case []string:
		y, ok := b.([]string)
		return ok && strings.Join(x, "\x00") == strings.Join(y, "\x00")
	case []float32:
		y, ok := b.([]float32)
		return ok && bytes.Equal(f32bytes(x), f32bytes(y))
	case []int32:
		y, ok := b.([]int32)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if x[i] != y[i] {
				return false
			}
		}
		return true
	}
	return false
}

func TestParseRecipe(t *testing.T) {
	tests := []struct {
		all, vision, llm string
		want             convert.Recipe
		err              string
	}{
		{want: convert.DefaultRecipe()},
		{all: "q8_0", want: all(dtype.Q8_0)},
		{all: "Q4_0", vision: "f16", want: convert.Recipe{Vision: dtype.F16, LLM: dtype.Q4_0, Embeddings: dtype.Q4_0}},
		{llm: "q8_0", want: convert.Recipe{Vision: dtype.Q8_0, LLM: dtype.Q8_0, Embeddings: dtype.Q8_0}},
		{vision: "q4_0", llm: "q4_k", want: convert.Recipe{Vision: dtype.Q4_0, LLM: dtype.Q4_K, Embeddings: dtype.Q4_K}},
		{all: "q5_k", err: "--type"},
		{llm: "int4", err: "--llm-type"},
	}
	for _, tt := range tests {
		r, err := convert.ParseRecipe(tt.all, tt.vision, tt.llm)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%+v: error %v, want %q", tt, err, tt.err)
			}
			continue
		}
		if err != nil || r != tt.want {
			t.Errorf("%+v: got %v, %v", tt, r, err)
		}
	}
}

func TestFallbackChain(t *testing.T) {
	dir := checkpoint(t, "tiny", testmodel.BF16)
	ck, err := hf.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer ck.Close()
	src := convert.FromCheckpoint(ck)
	tests := []struct {
		ty     dtype.Type
		tensor string
		want   dtype.Type
	}{
		{dtype.Q4_K, "blk.0.attn_q.weight", dtype.Q8_0}, // rows of 64
		{dtype.Q6_K, "token_embd.weight", dtype.Q8_0},
		{dtype.Q4_K, "v.patch_embd.weight", dtype.F16}, // rows of 14
		{dtype.Q4_0, "v.patch_embd.weight", dtype.F16},
		{dtype.Q4_0, "blk.0.ffn_down.weight", dtype.Q4_0}, // rows of 128
		{dtype.BF16, "v.patch_embd.weight", dtype.BF16},
		{dtype.Q8_0, "blk.0.attn_norm.weight", dtype.F32},
	}
	for _, tt := range tests {
		plan, err := convert.NewPlan(src, all(tt.ty))
		if err != nil {
			t.Fatal(err)
		}
		for _, pt := range plan.Tensors {
			if pt.Name == tt.tensor && pt.Type != tt.want {
				t.Errorf("%s at %s: %s, want %s", tt.tensor, tt.ty, pt.Type, tt.want)
			}
		}
	}
}

// TestNothingLeftOnError: a failing conversion leaves no file at all in the
// output folder.
func TestNothingLeftOnError(t *testing.T) {
	p, _ := testmodel.Lookup("tiny")
	src, err := testmodel.Source(p, testmodel.Options{Seed: 1, DType: testmodel.F32})
	if err != nil {
		t.Fatal(err)
	}
	bad := src.Tensor("language_model.model.layers.1.mlp.up_proj.weight")
	read := bad.Read
	bad.Read = func(dst []float32, off int64) error {
		if err := read(dst, off); err != nil {
			return err
		}
		for i := range dst {
			if off+int64(i) == 77 {
				dst[i] = float32(math.Inf(-1))
			}
		}
		return nil
	}
	plan, err := convert.NewPlan(src, convert.DefaultRecipe())
	if err != nil {
		t.Fatal(err)
	}
	outDir := t.TempDir()
	before := runtime.NumGoroutine()
	err = plan.Write(filepath.Join(outDir, "m.gguf"), convert.Options{Workers: 2})
	for i := 0; i < 100 && runtime.NumGoroutine() > before; i++ {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Errorf("%d goroutines left running after the failed conversion", n-before)
	}
	if err == nil || !strings.Contains(err.Error(), "language_model.model.layers.1.mlp.up_proj.weight") ||
		!strings.Contains(err.Error(), "-Inf at row 1, column 13") {
		t.Fatalf("error %v", err)
	}
	if ents, _ := os.ReadDir(outDir); len(ents) != 0 {
		t.Errorf("left behind: %v", ents)
	}
}
