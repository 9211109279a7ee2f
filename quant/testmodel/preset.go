// Package testmodel makes deterministic random-weight MAIRA-2 checkpoints in
// exactly the layout of microsoft/maira-2 (config.json, sharded safetensors
// with an index, tokenizer files with the real LLaMA vocabulary and MAIRA-2's
// added tokens, preprocessor settings), so that the converter, the runtime
// and the benchmarks run the real code on real layouts without the real
// weights. It writes its tensors independently of the converter's name map,
// so a mistake there shows up as a failed conversion.
package testmodel

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Preset is the shape of a test model.
type Preset struct {
	Name        string
	Description string

	VisionHidden, VisionLayers, VisionHeads, VisionMLP int
	ImageSize, PatchSize                               int
	ProjectorLayers                                    int
	TextHidden, TextLayers, TextHeads, TextKVHeads     int
	TextFFN, MaxPositions                              int
	RopeScaling                                        float64 // linear factor; 0: none
}

// VocabSize is MAIRA-2's: LLaMA's 32000 pieces and 207 added tokens.
const VocabSize = 32207

// ImageTokenID is MAIRA-2's <image>.
const ImageTokenID = 32204

var presets = []Preset{
	{
		Name:         "tiny",
		Description:  "a few MB: 56x56 images (16 patches), widths 32/64; rows of 14, 32, 64 and 128 exercise every fallback",
		VisionHidden: 32, VisionLayers: 2, VisionHeads: 2, VisionMLP: 128, ImageSize: 56, PatchSize: 14,
		ProjectorLayers: 4,
		TextHidden:      64, TextLayers: 2, TextHeads: 4, TextKVHeads: 4, TextFFN: 128, MaxPositions: 4096,
		RopeScaling: 1.5,
	},
	{
		Name:         "small",
		Description:  "about 40 MB in bf16: 518x518 images (1369 patches), widths 256; every row length but the patch kernel's a multiple of 256, so every type applies",
		VisionHidden: 256, VisionLayers: 2, VisionHeads: 4, VisionMLP: 1024, ImageSize: 518, PatchSize: 14,
		ProjectorLayers: 4,
		TextHidden:      256, TextLayers: 4, TextHeads: 4, TextKVHeads: 4, TextFFN: 768, MaxPositions: 4096,
		RopeScaling: 1.5,
	},
	{
		Name:         "vicuna7b-shape",
		Description:  "the real dimensions, about 14 GB in bf16: RAD-DINO ViT-B/14 at 518, 4-layer projector, Vicuna-7B (32 x 4096, FFN 11008)",
		VisionHidden: 768, VisionLayers: 12, VisionHeads: 12, VisionMLP: 3072, ImageSize: 518, PatchSize: 14,
		ProjectorLayers: 4,
		TextHidden:      4096, TextLayers: 32, TextHeads: 32, TextKVHeads: 32, TextFFN: 11008, MaxPositions: 4096,
		RopeScaling: 1.5,
	},
}

// Presets returns the presets in order of size.
func Presets() []Preset { return presets }

// Lookup returns the named preset.
func Lookup(name string) (Preset, error) {
	var names []string
	for _, p := range presets {
		if p.Name == name {
			return p, nil
		}
		names = append(names, p.Name)
	}
	return Preset{}, fmt.Errorf("unknown preset %q (known: %s)", name, strings.Join(names, ", "))
}

// ConfigJSON returns config.json as microsoft/maira-2 writes it (a
// Maira2Config: a LlavaConfig with a Dinov2 backbone and projector_n_layers).
func (p Preset) ConfigJSON(torchDtype string) []byte {
	grid := p.ImageSize / p.PatchSize
	stages := []string{"stem"}
	for i := 1; i <= p.VisionLayers; i++ {
		stages = append(stages, fmt.Sprintf("stage%d", i))
	}
	last := fmt.Sprintf("stage%d", p.VisionLayers)
	text := map[string]any{
		"model_type":              "llama",
		"architectures":           []string{"LlamaForCausalLM"},
		"hidden_size":             p.TextHidden,
		"intermediate_size":       p.TextFFN,
		"num_hidden_layers":       p.TextLayers,
		"num_attention_heads":     p.TextHeads,
		"num_key_value_heads":     p.TextKVHeads,
		"hidden_act":              "silu",
		"max_position_embeddings": p.MaxPositions,
		"rms_norm_eps":            1e-5,
		"rope_theta":              10000.0,
		"vocab_size":              VocabSize,
		"tie_word_embeddings":     false,
		"attention_bias":          false,
		"mlp_bias":                false,
		"bos_token_id":            1,
		"eos_token_id":            2,
		"pad_token_id":            0,
		"torch_dtype":             torchDtype,
	}
	if p.RopeScaling != 0 {
		text["rope_scaling"] = map[string]any{"type": "linear", "factor": p.RopeScaling}
	}
	vision := map[string]any{
		"model_type":            "dinov2",
		"architectures":         []string{"Dinov2Backbone"},
		"hidden_size":           p.VisionHidden,
		"num_hidden_layers":     p.VisionLayers,
		"num_attention_heads":   p.VisionHeads,
		"mlp_ratio":             p.VisionMLP / p.VisionHidden,
		"hidden_act":            "gelu",
		"layer_norm_eps":        1e-6,
		"image_size":            p.ImageSize,
		"patch_size":            p.PatchSize,
		"num_channels":          3,
		"qkv_bias":              true,
		"layerscale_value":      1.0,
		"use_swiglu_ffn":        false,
		"drop_path_rate":        0.0,
		"apply_layernorm":       true,
		"reshape_hidden_states": false,
		"out_features":          []string{last},
		"out_indices":           []int{p.VisionLayers},
		"stage_names":           stages,
		"torch_dtype":           torchDtype,
	}
	cfg := map[string]any{
		"model_type":                     "maira2",
		"architectures":                  []string{"Maira2ForConditionalGeneration"},
		"auto_map":                       map[string]string{"AutoConfig": "configuration_maira2.Maira2Config", "AutoModelForCausalLM": "modeling_maira2.Maira2ForConditionalGeneration"},
		"ignore_index":                   -100,
		"image_seq_length":               grid * grid,
		"image_token_index":              ImageTokenID,
		"multimodal_projector_bias":      true,
		"pad_token_id":                   0,
		"projector_hidden_act":           "gelu",
		"projector_n_layers":             p.ProjectorLayers,
		"text_config":                    text,
		"vision_config":                  vision,
		"vision_feature_layer":           -1,
		"vision_feature_select_strategy": "default",
		"torch_dtype":                    torchDtype,
		"transformers_version":           "4.46.0.dev0",
	}
	return mustJSON(cfg)
}

// PreprocessorJSON returns preprocessor_config.json (MAIRA-2's
// BitImageProcessor settings at this preset's image size).
func (p Preset) PreprocessorJSON() []byte {
	return mustJSON(map[string]any{
		"crop_size":            map[string]int{"height": p.ImageSize, "width": p.ImageSize},
		"do_center_crop":       true,
		"do_convert_rgb":       true,
		"do_normalize":         true,
		"do_rescale":           true,
		"do_resize":            true,
		"image_mean":           []float64{0.5307, 0.5307, 0.5307},
		"image_std":            []float64{0.2583, 0.2583, 0.2583},
		"image_processor_type": "BitImageProcessor",
		"processor_class":      "Maira2Processor",
		"resample":             3,
		"rescale_factor":       0.00392156862745098,
		"size":                 map[string]int{"shortest_edge": p.ImageSize},
	})
}

// GenerationConfigJSON returns generation_config.json.
func (p Preset) GenerationConfigJSON() []byte {
	return mustJSON(map[string]any{"bos_token_id": 1, "eos_token_id": 2, "pad_token_id": 0, "transformers_version": "4.46.0.dev0"})
}

func mustJSON(v any) []byte {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		panic(err) // only our own maps of plain values reach here
	}
	return append(b, '\n')
}

// Tensor is one tensor of the checkpoint, in Hugging Face's naming and shape.
type Tensor struct {
	Name  string
	Shape []int64
	kind  kind
}

// Elements returns the number of elements.
func (t Tensor) Elements() int64 {
	n := int64(1)
	for _, d := range t.Shape {
		n *= d
	}
	return n
}

// kind decides the distribution of a tensor's random values.
type kind int

const (
	kindWeight kind = iota // matrices and embeddings: std 0.02, as LLaMA and Dinov2 initialise
	kindNorm               // norm scales: around 1
	kindBias               // biases: small
	kindScale              // LayerScale: around 0.1, as trained Dinov2 scales run
)

// Tensors lists the checkpoint's tensors in the order
// Maira2ForConditionalGeneration's state_dict holds them.
func (p Preset) Tensors() []Tensor {
	var ts []Tensor
	add := func(name string, k kind, shape ...int) {
		s := make([]int64, len(shape))
		for i, v := range shape {
			s[i] = int64(v)
		}
		ts = append(ts, Tensor{Name: name, Shape: s, kind: k})
	}
	vh, grid := p.VisionHidden, p.ImageSize/p.PatchSize
	add("vision_tower.embeddings.cls_token", kindWeight, 1, 1, vh)
	add("vision_tower.embeddings.mask_token", kindWeight, 1, vh)
	add("vision_tower.embeddings.position_embeddings", kindWeight, 1, grid*grid+1, vh)
	add("vision_tower.embeddings.patch_embeddings.projection.weight", kindWeight, vh, 3, p.PatchSize, p.PatchSize)
	add("vision_tower.embeddings.patch_embeddings.projection.bias", kindBias, vh)
	for i := 0; i < p.VisionLayers; i++ {
		l := fmt.Sprintf("vision_tower.encoder.layer.%d.", i)
		add(l+"norm1.weight", kindNorm, vh)
		add(l+"norm1.bias", kindBias, vh)
		for _, m := range []string{"attention.attention.query", "attention.attention.key", "attention.attention.value", "attention.output.dense"} {
			add(l+m+".weight", kindWeight, vh, vh)
			add(l+m+".bias", kindBias, vh)
		}
		add(l+"layer_scale1.lambda1", kindScale, vh)
		add(l+"norm2.weight", kindNorm, vh)
		add(l+"norm2.bias", kindBias, vh)
		add(l+"mlp.fc1.weight", kindWeight, p.VisionMLP, vh)
		add(l+"mlp.fc1.bias", kindBias, p.VisionMLP)
		add(l+"mlp.fc2.weight", kindWeight, vh, p.VisionMLP)
		add(l+"mlp.fc2.bias", kindBias, vh)
		add(l+"layer_scale2.lambda1", kindScale, vh)
	}
	add("vision_tower.layernorm.weight", kindNorm, vh)
	add("vision_tower.layernorm.bias", kindBias, vh)
	in := vh
	for i := 0; i < p.ProjectorLayers; i++ {
		add(fmt.Sprintf("multi_modal_projector.layers.%d.weight", 2*i), kindWeight, p.TextHidden, in)
		add(fmt.Sprintf("multi_modal_projector.layers.%d.bias", 2*i), kindBias, p.TextHidden)
		in = p.TextHidden
	}
	th, kv := p.TextHidden, p.TextHidden/p.TextHeads*p.TextKVHeads
	add("language_model.model.embed_tokens.weight", kindWeight, VocabSize, th)
	for i := 0; i < p.TextLayers; i++ {
		l := fmt.Sprintf("language_model.model.layers.%d.", i)
		add(l+"self_attn.q_proj.weight", kindWeight, th, th)
		add(l+"self_attn.k_proj.weight", kindWeight, kv, th)
		add(l+"self_attn.v_proj.weight", kindWeight, kv, th)
		add(l+"self_attn.o_proj.weight", kindWeight, th, th)
		add(l+"mlp.gate_proj.weight", kindWeight, p.TextFFN, th)
		add(l+"mlp.up_proj.weight", kindWeight, p.TextFFN, th)
		add(l+"mlp.down_proj.weight", kindWeight, th, p.TextFFN)
		add(l+"input_layernorm.weight", kindNorm, th)
		add(l+"post_attention_layernorm.weight", kindNorm, th)
	}
	add("language_model.model.norm.weight", kindNorm, th)
	add("language_model.lm_head.weight", kindWeight, VocabSize, th)
	return ts
}

// ChatTemplate is the tokenizer_config.json chat template of the test
// checkpoints. It renders MAIRA-2's prompt shape ("SYSTEM USER: content
// ASSISTANT:"); it is our transcription of that shape, not Microsoft's file.
const ChatTemplate = "{% for message in messages %}{% if message['role'] == 'system' %}{{ message['content'] }}" +
	"{% elif message['role'] == 'user' %}{{ ' USER: ' + message['content'] }}" +
	"{% elif message['role'] == 'assistant' %}{{ ' ASSISTANT: ' + message['content'] + eos_token }}{% endif %}{% endfor %}" +
	"{% if add_generation_prompt %}{{ ' ASSISTANT: ' }}{% endif %}"
