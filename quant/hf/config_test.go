package hf

import (
	"errors"
	"strings"
	"testing"
)

const maira2Config = `{
  "model_type": "maira2",
  "architectures": ["Maira2ForConditionalGeneration"],
  "image_token_index": 32204,
  "projector_hidden_act": "gelu",
  "projector_n_layers": 4,
  "multimodal_projector_bias": true,
  "vision_feature_layer": -1,
  "vision_feature_select_strategy": "default",
  "text_config": {"model_type": "llama", "hidden_size": 4096, "intermediate_size": 11008,
    "num_hidden_layers": 32, "num_attention_heads": 32, "num_key_value_heads": 32,
    "max_position_embeddings": 4096, "rms_norm_eps": 1e-05, "vocab_size": 32207,
    "rope_scaling": {"type": "linear", "factor": 1.5}, "torch_dtype": "float32"},
  "vision_config": {"model_type": "dinov2", "hidden_size": 768, "num_hidden_layers": 12,
    "num_attention_heads": 12, "mlp_ratio": 4, "image_size": 518, "patch_size": 14,
    "layerscale_value": 1.0, "out_features": ["stage12"], "apply_layernorm": true}
}`

func TestParseConfig(t *testing.T) {
	c, err := ParseConfig([]byte(maira2Config), "m/config.json")
	if err != nil {
		t.Fatal(err)
	}
	tx, v, p := c.Text, c.Vision, c.Projector
	checks := []struct {
		name      string
		got, want any
	}{
		{"model type", c.ModelType, "maira2"},
		{"text layers", tx.NumHiddenLayers, 32},
		{"head dim", tx.HeadDim, 128},
		{"kv heads", tx.NumKeyValueHeads, 32},
		{"rms eps", tx.RMSNormEps, 1e-5},
		{"rope theta default", tx.RopeTheta, 10000.0},
		{"rope scaling", tx.RopeScalingType, "linear"},
		{"rope factor", tx.RopeScalingFactor, 1.5},
		{"vocab", tx.VocabSize, 32207},
		{"vision mlp", v.IntermediateSize, 3072},
		{"vision eps default", v.LayerNormEps, 1e-6},
		{"projector layers", p.Layers, 4},
		{"feature layernorm", c.FeatureLayerNorm, true},
		{"image token", c.ImageTokenIndex, 32204},
	}
	for _, ch := range checks {
		if ch.got != ch.want {
			t.Errorf("%s = %v, want %v", ch.name, ch.got, ch.want)
		}
	}
}

func TestParseConfigFamilies(t *testing.T) {
	tests := []struct {
		name, json string
		check      func(*Config) bool
	}{
		{"llama defaults", `{"model_type": "llama"}`, func(c *Config) bool {
			return c.Text.HiddenSize == 4096 && c.Text.RMSNormEps == 1e-6 && c.Vision == nil && c.Text.NumKeyValueHeads == 32
		}},
		{"llama gqa", `{"model_type": "llama", "num_key_value_heads": 8}`, func(c *Config) bool { return c.Text.NumKeyValueHeads == 8 }},
		{"dinov2 defaults", `{"model_type": "dinov2"}`, func(c *Config) bool {
			return c.Vision.ImageSize == 224 && c.Vision.IntermediateSize == 3072 && c.Text == nil && c.FeatureLayerNorm
		}},
		{"llava", `{"model_type": "llava", "text_config": {"model_type": "llama", "vocab_size": 32064}, "vision_config": {"model_type": "dinov2"}}`,
			func(c *Config) bool {
				return c.Projector.Layers == 2 && c.VisionFeatureLayer == -2 && !c.FeatureLayerNorm && c.ImageTokenIndex == 32000
			}},
		{"rope default type", `{"model_type": "llama", "rope_scaling": {"rope_type": "default"}}`, func(c *Config) bool {
			return c.Text.RopeScalingType == "" && c.Text.RopeScalingFactor == 1
		}},
		{"null rope scaling", `{"model_type": "llama", "rope_scaling": null}`, func(c *Config) bool { return c.Text.RopeScalingType == "" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := ParseConfig([]byte(tt.json), "x/config.json")
			if err != nil {
				t.Fatal(err)
			}
			if !tt.check(c) {
				t.Errorf("unexpected config: %+v", c)
			}
		})
	}
}

func TestParseConfigErrors(t *testing.T) {
	tests := []struct {
		name, json, want string
		unsupported      bool
	}{
		{"not json", `{`, "not a JSON object", false},
		{"no model type", `{}`, "no model_type", false},
		{"other family", `{"model_type": "qwen2"}`, `model_type "qwen2"`, true},
		{"clip tower", `{"model_type": "llava", "text_config": {}, "vision_config": {"model_type": "clip_vision_model"}}`, "only dinov2", true},
		{"no text config", `{"model_type": "maira2", "vision_config": {"model_type": "dinov2"}}`, "text_config", false},
		{"string for int", `{"model_type": "llama", "hidden_size": "4096"}`, "hidden_size: want an integer", false},
		{"fraction", `{"model_type": "llama", "hidden_size": 40.5}`, "hidden_size: want an integer", false},
		{"negative", `{"model_type": "llama", "num_hidden_layers": -1}`, "num_hidden_layers: must be positive", false},
		{"dynamic rope", `{"model_type": "llama", "rope_scaling": {"type": "dynamic", "factor": 2}}`, `rope_scaling type "dynamic"`, true},
		{"bad head split", `{"model_type": "llama", "hidden_size": 100, "num_attention_heads": 3}`, "head_dim", true},
		{"gqa mismatch", `{"model_type": "llama", "num_key_value_heads": 5}`, "key/value heads", true},
		{"swiglu", `{"model_type": "dinov2", "use_swiglu_ffn": true}`, "SwiGLU", true},
		{"registers", `{"model_type": "dinov2", "num_register_tokens": 4}`, "register tokens", true},
		{"middle stage", strings.Replace(maira2Config, `["stage12"]`, `["stage6"]`, 1), "out_features", true},
		{"image token outside", strings.Replace(maira2Config, `32204`, `40000`, 1), "image_token_index 40000", false},
		{"feature layer", strings.Replace(maira2Config, `"vision_feature_layer": -1`, `"vision_feature_layer": 3`, 1), "vision_feature_layer", true},
		{"projector act", strings.Replace(maira2Config, `"projector_hidden_act": "gelu"`, `"projector_hidden_act": "relu"`, 1), "relu", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseConfig([]byte(tt.json), "ck/config.json")
			if err == nil {
				t.Fatal("no error")
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "ck/config.json") || !strings.Contains(msg, tt.want) || strings.Contains(msg, "\n") {
				t.Errorf("error %q: want the path, %q, one line", msg, tt.want)
			}
			var u *ErrUnsupported
			if errors.As(err, &u) != tt.unsupported {
				t.Errorf("unsupported = %v, want %v (%v)", !tt.unsupported, tt.unsupported, err)
			}
		})
	}
}

func TestParsePreprocessor(t *testing.T) {
	const maira = `{"crop_size": {"height": 518, "width": 518}, "do_center_crop": true, "do_normalize": true,
	  "do_rescale": true, "do_resize": true, "image_mean": [0.5307, 0.5307, 0.5307], "image_std": [0.2583, 0.2583, 0.2583],
	  "resample": 3, "rescale_factor": 0.00392156862745098, "size": {"shortest_edge": 518}}`
	p, err := ParsePreprocessor([]byte(maira), "p.json", 518)
	if err != nil {
		t.Fatal(err)
	}
	if p.ShortestEdge != 518 || p.CropWidth != 518 || p.Mean[2] != 0.5307 || p.Std[0] != 0.2583 || p.RescaleFactor != 1.0/255 {
		t.Errorf("unexpected %+v", p)
	}
	bad := []struct{ json, want string }{
		{`{"resample": 2}`, "resample 2"},
		{`{"size": {"height": 10, "width": 10}}`, "shortest_edge"},
		{`{"image_std": [0, 1, 1]}`, "image_std must be positive"},
		{`{"image_mean": [1, 2]}`, "image_mean"},
		{`{"do_normalize": false}`, "skips"},
		{`{"crop_size": {"height": 600, "width": 600}}`, "larger than"},
		{`[]`, "not a JSON object"},
	}
	for _, b := range bad {
		if _, err := ParsePreprocessor([]byte(b.json), "p.json", 518); err == nil || !strings.Contains(err.Error(), b.want) || !strings.HasPrefix(err.Error(), "p.json") {
			t.Errorf("%s: error %v, want %q", b.json, err, b.want)
		}
	}
	d := DefaultPreprocessor(56)
	if d.ShortestEdge != 56 || d.CropHeight != 56 || d.Path != "" {
		t.Errorf("default: %+v", d)
	}
}
