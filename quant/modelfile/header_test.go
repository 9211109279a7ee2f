package modelfile

import (
	"path/filepath"
	"strings"
	"testing"

	"maira/quant/dtype"
	"maira/quant/gguf"
)

func testHeader() *Header {
	return &Header{
		Arch: Arch, Name: "t", FileType: 15,
		Text: &Text{ContextLength: 4096, EmbeddingLength: 64, BlockCount: 2, FeedForwardLength: 128,
			HeadCount: 4, HeadCountKV: 4, VocabSize: 5, RMSEps: 1e-5, RopeFreqBase: 10000,
			RopeScalingType: "linear", RopeScalingFactor: 1.5},
		Vision: &Vision{ImageSize: 56, PatchSize: 14, Channels: 3, EmbeddingLength: 32, BlockCount: 2, HeadCount: 2,
			FeedForwardLength: 128, LayerNormEps: 1e-6, FeatureLayer: -1, FeatureLayerNorm: true, FeatureSelect: "default"},
		Projector: &Projector{BlockCount: 4, Activation: "gelu"},
		Image: &Image{Normalize: "minmax-gray", ShortestEdge: 56, CropHeight: 56, CropWidth: 56, RescaleFactor: 1.0 / 255,
			Mean: []float32{0.5, 0.5, 0.5}, Std: []float32{0.25, 0.25, 0.25}, Resample: "bicubic"},
		Prompt: &Prompt{System: Maira2System, FindingsInstruction: Maira2FindingsInstruction, GroundedInstruction: Maira2GroundedInstruction,
			MaxNewTokens: 300, GroundedMaxNewTokens: 450, ImageTokenID: 4},
		Tokenizer: &Tokenizer{Tokens: []string{"<unk>", "<s>", "</s>", "a", "<image>"}, Scores: []float32{0, 0, 0, -1, -1000},
			Types: []int32{2, 3, 3, 1, 3}, BOS: 1, EOS: 2, UNK: 0, PAD: -1, AddBOS: true, AddSpacePrefix: true},
		SourceFormat: "safetensors", SourceDTypes: []string{"bf16"},
	}
}

// write writes a file with h's metadata and the tensors it implies (zeros),
// letting edit change the tensor list first.
func write(t *testing.T, h *Header, edit func([]TensorSpec) []TensorSpec) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "m.gguf")
	w, err := gguf.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, kv := range h.KVs() {
		if err := w.AddKV(kv.Key, kv.Value); err != nil {
			t.Fatal(err)
		}
	}
	specs := h.Tensors()
	if edit != nil {
		specs = edit(specs)
	}
	var total int64
	for _, s := range specs {
		if err := w.AddTensor(s.Name, dtype.F32, s.Dims); err != nil {
			t.Fatal(err)
		}
		n := int64(4)
		for _, d := range s.Dims {
			n *= int64(d)
		}
		total += n
	}
	for _, s := range specs {
		n := 4
		for _, d := range s.Dims {
			n *= int(d)
		}
		if _, err := w.Write(make([]byte, n)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

func open(t *testing.T, path string) *gguf.File {
	t.Helper()
	f, err := gguf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func TestRoundTrip(t *testing.T) {
	want := testHeader()
	f := open(t, write(t, want, nil))
	got, err := Read(f)
	if err != nil {
		t.Fatal(err)
	}
	if err := Check(f, got); err != nil {
		t.Fatal(err)
	}
	if *got.Text != *want.Text || *got.Vision != *want.Vision || *got.Projector != *want.Projector {
		t.Errorf("got %+v %+v %+v", got.Text, got.Vision, got.Projector)
	}
	if got.Prompt.ImageTokenID != 4 || got.Prompt.System != Maira2System || got.Image.RescaleFactor != 1.0/255 ||
		got.Image.Std[2] != 0.25 || got.Tokenizer.Legacy || got.FileType != 15 || got.SourceDTypes[0] != "bf16" {
		t.Errorf("got %+v %+v %+v", got.Prompt, got.Image, got.Tokenizer)
	}
	// 4 + 18 per vision block + 2 + 8 projector + 1 + 9 per text block + 2.
	if n := len(got.Tensors()); n != 4+18*2+2+8+1+9*2+2 {
		t.Errorf("%d tensors", n)
	}
}

func TestReadRefuses(t *testing.T) {
	tests := []struct {
		name string
		edit func(h *Header)
		want string
	}{
		{"architecture", func(h *Header) { h.Arch = "gpt2" }, `architecture "gpt2"`},
		{"heads", func(h *Header) { h.Text.HeadCount = 3 }, "head counts"},
		{"rope", func(h *Header) { h.Text.RopeScalingType = "yarn" }, "rope scaling"},
		{"vocab", func(h *Header) { h.Text.VocabSize = 6 }, "5 tokens for a vocabulary of 6"},
		{"bos", func(h *Header) { h.Tokenizer.BOS = 9 }, "special token id 9"},
		{"scores", func(h *Header) { h.Tokenizer.Scores = h.Tokenizer.Scores[:4] }, "tokenizer arrays disagree"},
		{"patch", func(h *Header) { h.Vision.PatchSize = 15 }, "patch size 15"},
		{"feature layer", func(h *Header) { h.Vision.FeatureLayer = 0 }, "feature layer 0"},
		{"projector", func(h *Header) { h.Projector.Activation = "relu" }, "projector"},
		{"image token", func(h *Header) { h.Prompt.ImageTokenID = 5 }, "image token id 5"},
		{"mean", func(h *Header) { h.Image.Mean = h.Image.Mean[:1] }, "mean/std"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := testHeader()
			tt.edit(h)
			path := write(t, h, func([]TensorSpec) []TensorSpec { return nil })
			_, err := Read(open(t, path))
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), path) {
				t.Errorf("error %v, want %q with the path", err, tt.want)
			}
		})
	}
	// A missing key is named.
	h := testHeader()
	kvs := h.KVs()
	path := filepath.Join(t.TempDir(), "m.gguf")
	w, _ := gguf.Create(path)
	for _, kv := range kvs {
		if kv.Key != KeyVisionPatchSize {
			w.AddKV(kv.Key, kv.Value)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := Read(open(t, path)); err == nil || !strings.Contains(err.Error(), KeyVisionPatchSize) {
		t.Errorf("missing key: %v", err)
	}
}

func TestCheckTensors(t *testing.T) {
	tests := []struct {
		name string
		edit func([]TensorSpec) []TensorSpec
		want string
	}{
		{"missing", func(s []TensorSpec) []TensorSpec { return s[1:] }, "tensor v.patch_embd.weight is missing"},
		{"extra", func(s []TensorSpec) []TensorSpec {
			return append(s, TensorSpec{"blk.9.attn_q.weight", []uint64{64, 64}})
		},
			"blk.9.attn_q.weight is not part"},
		{"dims", func(s []TensorSpec) []TensorSpec {
			for i := range s {
				if s[i].Name == Output {
					s[i].Dims = []uint64{64, 4}
				}
			}
			return s
		}, "output.weight has dims [64 4], the metadata implies [64 5]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := testHeader()
			f := open(t, write(t, h, tt.edit))
			got, err := Read(f)
			if err != nil {
				t.Fatal(err)
			}
			if err := Check(f, got); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want %q", err, tt.want)
			}
		})
	}
}
