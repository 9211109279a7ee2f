package convert_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"maira/quant/convert"
	"maira/quant/dtype"
	"maira/quant/hf"
	"maira/quant/modelfile"
	"maira/quant/safetensors"
	"maira/quant/testmodel"
)

// relayout writes a new checkpoint folder from a MAIRA-2 test checkpoint:
// tensors renamed by rename (dropped when it returns ""), all in one
// model.safetensors, with the given config.json and the tokenizer files
// copied when withTokenizer.
func relayout(t *testing.T, src string, config map[string]any, withTokenizer bool, rename func(string) string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "relayout")
	if err := os.Mkdir(dst, 0o755); err != nil {
		t.Fatal(err)
	}
	set, err := safetensors.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer set.Close()
	var specs []safetensors.Spec
	var keep []*safetensors.Tensor
	for _, ts := range set.Tensors {
		if n := rename(ts.Name); n != "" {
			specs = append(specs, safetensors.Spec{Name: n, DType: ts.DType, Shape: ts.Shape})
			keep = append(keep, ts)
		}
	}
	w, err := safetensors.Create(filepath.Join(dst, "model.safetensors"), specs, map[string]string{"format": "pt"})
	if err != nil {
		t.Fatal(err)
	}
	for _, ts := range keep {
		if _, err := w.Write(ts.Data); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	cfg, _ := json.Marshal(config)
	os.WriteFile(filepath.Join(dst, "config.json"), cfg, 0o644)
	if withTokenizer {
		for _, f := range []string{"tokenizer.model", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "added_tokens.json"} {
			data, err := os.ReadFile(filepath.Join(src, f))
			if err != nil {
				t.Fatal(err)
			}
			os.WriteFile(filepath.Join(dst, f), data, 0o644)
		}
	}
	return dst
}

func mairaConfig(t *testing.T) map[string]any {
	p, _ := testmodel.Lookup("tiny")
	var cfg map[string]any
	if err := json.Unmarshal(p.ConfigJSON("bfloat16"), &cfg); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// TestPlainLlama converts the language model alone, from a plain llama
// folder with a single safetensors file, into a llama GGUF.
func TestPlainLlama(t *testing.T) {
	src := checkpoint(t, "tiny", testmodel.BF16)
	text := mairaConfig(t)["text_config"].(map[string]any)
	dir := relayout(t, src, text, true, func(n string) string {
		switch {
		case strings.HasPrefix(n, "language_model.model."):
			return "model." + strings.TrimPrefix(n, "language_model.model.")
		case n == "language_model.lm_head.weight":
			return "lm_head.weight"
		}
		return ""
	})
	out, _ := convertDir(t, dir, all(dtype.Q8_0))
	f, h := openModel(t, out)
	if h.Arch != "llama" || h.Vision != nil || len(f.Tensors) != 2*9+3 {
		t.Errorf("arch %s, %d tensors", h.Arch, len(f.Tensors))
	}
	// The same bytes as the language model of the MAIRA-2 conversion.
	full, _ := convertDir(t, src, all(dtype.Q8_0))
	g, _ := openModel(t, full)
	for i := range f.Tensors {
		a := &f.Tensors[i]
		if b := g.Tensor(a.Name); b == nil || string(f.Data(a)) != string(g.Data(b)) {
			t.Errorf("%s differs from the maira file's", a.Name)
		}
	}
}

// TestLlavaNestedLayout converts a llava-style folder saved by
// transformers >= 4.52 (parts under "model.", lm_head at the top) with a
// two-linear projector named linear_1 and linear_2.
func TestLlavaNestedLayout(t *testing.T) {
	src := checkpoint(t, "tiny", testmodel.BF16)
	cfg := mairaConfig(t)
	cfg["model_type"] = "llava"
	delete(cfg, "projector_n_layers")
	delete(cfg["vision_config"].(map[string]any), "out_features")
	cfg["vision_feature_layer"] = -2
	dir := relayout(t, src, cfg, true, func(n string) string {
		switch {
		case strings.HasPrefix(n, "vision_tower."):
			return "model." + n
		case n == "multi_modal_projector.layers.0.weight", n == "multi_modal_projector.layers.0.bias":
			return "model.multi_modal_projector.linear_1." + n[len("multi_modal_projector.layers.0."):]
		case n == "multi_modal_projector.layers.2.weight", n == "multi_modal_projector.layers.2.bias":
			return "model.multi_modal_projector.linear_2." + n[len("multi_modal_projector.layers.2."):]
		case strings.HasPrefix(n, "language_model.model."):
			return "model.language_model." + strings.TrimPrefix(n, "language_model.model.")
		case n == "language_model.lm_head.weight":
			return "lm_head.weight"
		}
		return "" // layers.4 and layers.6: a LLaVA projector has two linears
	})
	out, _ := convertDir(t, dir, convert.DefaultRecipe())
	f, h := openModel(t, out)
	if h.Arch != modelfile.Arch || h.Projector.BlockCount != 2 || h.Vision.FeatureLayer != -2 || h.Vision.FeatureLayerNorm {
		t.Errorf("header %+v %+v", h.Projector, h.Vision)
	}
	if f.Tensor("mm.2.weight") == nil || f.Tensor("mm.4.weight") != nil {
		t.Error("projector tensors wrong")
	}
}

func TestRefusedLayouts(t *testing.T) {
	src := checkpoint(t, "tiny", testmodel.BF16)
	keepAll := func(n string) string { return n }
	tests := []struct {
		name   string
		config func(map[string]any) map[string]any
		rename func(string) string
		want   string
	}{
		{"dinov2 alone", func(c map[string]any) map[string]any { return c["vision_config"].(map[string]any) },
			func(n string) string {
				if strings.HasPrefix(n, "vision_tower.") {
					return strings.TrimPrefix(n, "vision_tower.")
				}
				return ""
			}, "image encoder alone"},
		{"extra tensor", func(c map[string]any) map[string]any { return c }, func(n string) string {
			if n == "vision_tower.embeddings.mask_token" { // ignored; an unknown name is not
				return "vision_tower.embeddings.register_tokens"
			}
			return n
		}, "vision_tower.embeddings.register_tokens is not part"},
		{"fewer layers in config", func(c map[string]any) map[string]any {
			c["text_config"].(map[string]any)["num_hidden_layers"] = 1
			return c
		}, keepAll, "language_model.model.layers.1."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := relayout(t, src, tt.config(mairaConfig(t)), true, tt.rename)
			ck, err := hf.Open(dir)
			if err == nil {
				defer ck.Close()
				_, err = convert.NewPlan(convert.FromCheckpoint(ck), convert.DefaultRecipe())
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want %q", err, tt.want)
			}
		})
	}
}
