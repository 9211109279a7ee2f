// Package hf reads Hugging Face checkpoint directories: config.json,
// preprocessor_config.json and the safetensors weights, for the model
// families maira converts (maira2, llava-style with a Dinov2 tower, plain
// llama and plain dinov2).
package hf

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
)

// Llama holds a LlamaConfig's fields with transformers' defaults applied.
type Llama struct {
	VocabSize             int
	HiddenSize            int
	IntermediateSize      int
	NumHiddenLayers       int
	NumAttentionHeads     int
	NumKeyValueHeads      int
	HeadDim               int
	HiddenAct             string
	MaxPositionEmbeddings int
	RMSNormEps            float64
	RopeTheta             float64
	RopeScalingType       string  // "" (none) or "linear"
	RopeScalingFactor     float64 // 1 when there is no scaling
	TieWordEmbeddings     bool
	AttentionBias         bool
	MLPBias               bool
	BOS, EOS, PAD         int // -1 when absent
}

// Dinov2 holds a Dinov2Config's fields with transformers' defaults applied.
type Dinov2 struct {
	HiddenSize        int
	NumHiddenLayers   int
	NumAttentionHeads int
	MLPRatio          float64
	IntermediateSize  int // HiddenSize * MLPRatio
	HiddenAct         string
	LayerNormEps      float64
	ImageSize         int
	PatchSize         int
	NumChannels       int
	QKVBias           bool
	LayerscaleValue   float64
	UseSwiGLUFFN      bool
	ApplyLayernorm    bool
	NumRegisterTokens int
}

// Projector describes the MLP between the image encoder and the language
// model: Layers linear layers with Act between them.
type Projector struct {
	Layers int
	Act    string
	Bias   bool
}

// Config is a checkpoint's config.json, reduced to what maira needs. Parts a
// directory does not have are nil: a plain llama directory has only Text.
type Config struct {
	Path      string
	ModelType string // "maira2", "llava", "llama" or "dinov2"
	Text      *Llama
	Vision    *Dinov2
	Projector *Projector

	ImageTokenIndex int
	// VisionFeatureLayer selects the encoder output the projector reads: -1 is
	// the last layer. MAIRA-2 takes its Dinov2 backbone's feature map, which
	// has the final LayerNorm applied (FeatureLayerNorm); LLaVA takes a raw
	// hidden state.
	VisionFeatureLayer    int
	VisionFeatureSelect   string // "default" (drop CLS) or "full"
	FeatureLayerNorm      bool
	TransformersVersion   string
	ArchitecturesDeclared []string
}

// ErrUnsupported marks a checkpoint maira cannot convert (wrong family or an
// option the runtime does not implement).
type ErrUnsupported struct {
	Path   string
	Reason string
}

func (e *ErrUnsupported) Error() string { return e.Path + ": unsupported: " + e.Reason }

// object is a JSON object kept raw so that defaults can be told from values.
type object map[string]json.RawMessage

func (o object) has(k string) bool {
	v, ok := o[k]
	return ok && !bytes.Equal(bytes.TrimSpace(v), []byte("null"))
}

// reader pulls typed fields out of an object and remembers the first error.
type reader struct {
	path, prefix string
	obj          object
	err          error
}

func (r *reader) fail(key, want string) {
	if r.err == nil {
		r.err = fmt.Errorf("%s: %s%s: want %s, found %s", r.path, r.prefix, key, want, bytes.TrimSpace(r.obj[key]))
	}
}

func (r *reader) int(key string, def int) int {
	if !r.obj.has(key) {
		return def
	}
	var f float64
	if err := json.Unmarshal(r.obj[key], &f); err != nil || f != math.Trunc(f) || math.Abs(f) > 1<<40 {
		r.fail(key, "an integer")
		return def
	}
	return int(f)
}

func (r *reader) float(key string, def float64) float64 {
	if !r.obj.has(key) {
		return def
	}
	var f float64
	if err := json.Unmarshal(r.obj[key], &f); err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		r.fail(key, "a number")
		return def
	}
	return f
}

func (r *reader) str(key, def string) string {
	if !r.obj.has(key) {
		return def
	}
	var s string
	if err := json.Unmarshal(r.obj[key], &s); err != nil {
		r.fail(key, "a string")
		return def
	}
	return s
}

func (r *reader) bool(key string, def bool) bool {
	if !r.obj.has(key) {
		return def
	}
	var b bool
	if err := json.Unmarshal(r.obj[key], &b); err != nil {
		r.fail(key, "true or false")
		return def
	}
	return b
}

func (r *reader) sub(key string) (object, bool) {
	if !r.obj.has(key) {
		return nil, false
	}
	var o object
	if err := json.Unmarshal(r.obj[key], &o); err != nil {
		r.fail(key, "an object")
		return nil, false
	}
	return o, true
}

// positive checks that every named value is > 0.
func (r *reader) positive(vals map[string]int) {
	for k, v := range vals {
		if v <= 0 && r.err == nil {
			r.err = fmt.Errorf("%s: %s%s: must be positive, found %d", r.path, r.prefix, k, v)
		}
	}
}

// ReadConfig reads and checks config.json at path.
func ReadConfig(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParseConfig(data, path)
}

// ParseConfig parses the contents of a config.json; path names it in errors.
func ParseConfig(data []byte, path string) (*Config, error) {
	var top object
	if err := json.Unmarshal(data, &top); err != nil {
		return nil, fmt.Errorf("%s: not a JSON object: %v", path, err)
	}
	r := &reader{path: path, obj: top}
	c := &Config{Path: path, ModelType: r.str("model_type", "")}
	c.TransformersVersion = r.str("transformers_version", "")
	if top.has("architectures") {
		if err := json.Unmarshal(top["architectures"], &c.ArchitecturesDeclared); err != nil {
			r.fail("architectures", "a list of strings")
		}
	}
	switch c.ModelType {
	case "llama":
		c.Text = parseLlama(r)
	case "dinov2":
		c.Vision = parseDinov2(r)
		c.VisionFeatureLayer = -1
		c.FeatureLayerNorm = c.Vision.ApplyLayernorm
	case "maira2", "llava":
		parseMultimodal(r, c)
	case "":
		return nil, fmt.Errorf("%s: no model_type", path)
	default:
		return nil, &ErrUnsupported{Path: path, Reason: fmt.Sprintf("model_type %q (maira converts maira2, llava with a dinov2 vision tower, llama and dinov2)", c.ModelType)}
	}
	if r.err != nil {
		return nil, r.err
	}
	if err := c.check(); err != nil {
		return nil, err
	}
	return c, nil
}

func parseMultimodal(r *reader, c *Config) {
	tobj, ok := r.sub("text_config")
	if !ok {
		r.fail("text_config", "an object")
		return
	}
	vobj, ok := r.sub("vision_config")
	if !ok {
		r.fail("vision_config", "an object")
		return
	}
	tr := &reader{path: r.path, prefix: "text_config.", obj: tobj}
	if mt := tr.str("model_type", "llama"); mt != "llama" {
		r.err = &ErrUnsupported{Path: r.path, Reason: fmt.Sprintf("text_config.model_type %q (only llama)", mt)}
		return
	}
	c.Text = parseLlama(tr)
	vr := &reader{path: r.path, prefix: "vision_config.", obj: vobj}
	if mt := vr.str("model_type", ""); mt != "dinov2" {
		r.err = &ErrUnsupported{Path: r.path, Reason: fmt.Sprintf("vision_config.model_type %q (only dinov2)", mt)}
		return
	}
	c.Vision = parseDinov2(vr)
	for _, sub := range []*reader{tr, vr} {
		if sub.err != nil && r.err == nil {
			r.err = sub.err
		}
	}
	c.ImageTokenIndex = r.int("image_token_index", 32000)
	c.VisionFeatureSelect = r.str("vision_feature_select_strategy", "default")
	c.Projector = &Projector{Act: r.str("projector_hidden_act", "gelu"), Bias: r.bool("multimodal_projector_bias", true)}
	if c.ModelType == "maira2" {
		// Maira2ForConditionalGeneration reads the Dinov2 backbone's feature
		// maps, which pass through the backbone's final LayerNorm.
		c.Projector.Layers = r.int("projector_n_layers", 4)
		c.VisionFeatureLayer = r.int("vision_feature_layer", -1)
		c.FeatureLayerNorm = c.Vision.ApplyLayernorm
		// feature_maps holds the stages named in out_features; maira runs
		// the whole tower, so only the last stage is supported.
		if vobj.has("out_features") {
			var stages []string
			last := fmt.Sprintf("stage%d", c.Vision.NumHiddenLayers)
			if err := json.Unmarshal(vobj["out_features"], &stages); err != nil {
				vr.fail("out_features", "a list of strings")
			} else if len(stages) != 1 || stages[0] != last {
				r.err = &ErrUnsupported{Path: r.path, Reason: fmt.Sprintf("vision_config.out_features %v (only [%q], the last layer)", stages, last)}
			}
			if vr.err != nil && r.err == nil {
				r.err = vr.err
			}
		}
	} else {
		// LlavaForConditionalGeneration takes hidden_states[layer] as they
		// are, without the encoder's final LayerNorm, through linear_1 and
		// linear_2.
		c.Projector.Layers = 2
		c.VisionFeatureLayer = r.int("vision_feature_layer", -2)
		c.FeatureLayerNorm = false
	}
}

func parseLlama(r *reader) *Llama {
	l := &Llama{
		VocabSize:             r.int("vocab_size", 32000),
		HiddenSize:            r.int("hidden_size", 4096),
		IntermediateSize:      r.int("intermediate_size", 11008),
		NumHiddenLayers:       r.int("num_hidden_layers", 32),
		NumAttentionHeads:     r.int("num_attention_heads", 32),
		HiddenAct:             r.str("hidden_act", "silu"),
		MaxPositionEmbeddings: r.int("max_position_embeddings", 2048),
		RMSNormEps:            r.float("rms_norm_eps", 1e-6),
		RopeTheta:             r.float("rope_theta", 10000),
		RopeScalingFactor:     1,
		TieWordEmbeddings:     r.bool("tie_word_embeddings", false),
		AttentionBias:         r.bool("attention_bias", false),
		MLPBias:               r.bool("mlp_bias", false),
		BOS:                   r.int("bos_token_id", 1),
		EOS:                   r.int("eos_token_id", 2),
		PAD:                   r.int("pad_token_id", -1),
	}
	l.NumKeyValueHeads = r.int("num_key_value_heads", l.NumAttentionHeads)
	if l.NumAttentionHeads > 0 {
		l.HeadDim = r.int("head_dim", l.HiddenSize/l.NumAttentionHeads)
	}
	if rs, ok := r.sub("rope_scaling"); ok {
		sr := &reader{path: r.path, prefix: r.prefix + "rope_scaling.", obj: rs}
		typ := sr.str("rope_type", sr.str("type", ""))
		switch typ {
		case "linear":
			l.RopeScalingType = "linear"
			l.RopeScalingFactor = sr.float("factor", 1)
			if l.RopeScalingFactor <= 0 && sr.err == nil {
				sr.fail("factor", "a positive number")
			}
		case "default", "":
		default:
			if r.err == nil {
				r.err = &ErrUnsupported{Path: r.path, Reason: fmt.Sprintf("%srope_scaling type %q (only linear)", r.prefix, typ)}
			}
		}
		if sr.err != nil && r.err == nil {
			r.err = sr.err
		}
	}
	r.positive(map[string]int{"vocab_size": l.VocabSize, "hidden_size": l.HiddenSize, "intermediate_size": l.IntermediateSize,
		"num_hidden_layers": l.NumHiddenLayers, "num_attention_heads": l.NumAttentionHeads,
		"num_key_value_heads": l.NumKeyValueHeads, "max_position_embeddings": l.MaxPositionEmbeddings})
	return l
}

func parseDinov2(r *reader) *Dinov2 {
	d := &Dinov2{
		HiddenSize:        r.int("hidden_size", 768),
		NumHiddenLayers:   r.int("num_hidden_layers", 12),
		NumAttentionHeads: r.int("num_attention_heads", 12),
		MLPRatio:          r.float("mlp_ratio", 4),
		HiddenAct:         r.str("hidden_act", "gelu"),
		LayerNormEps:      r.float("layer_norm_eps", 1e-6),
		ImageSize:         r.int("image_size", 224),
		PatchSize:         r.int("patch_size", 14),
		NumChannels:       r.int("num_channels", 3),
		QKVBias:           r.bool("qkv_bias", true),
		LayerscaleValue:   r.float("layerscale_value", 1),
		UseSwiGLUFFN:      r.bool("use_swiglu_ffn", false),
		ApplyLayernorm:    r.bool("apply_layernorm", true),
		NumRegisterTokens: r.int("num_register_tokens", 0),
	}
	d.IntermediateSize = int(float64(d.HiddenSize) * d.MLPRatio)
	r.positive(map[string]int{"hidden_size": d.HiddenSize, "num_hidden_layers": d.NumHiddenLayers,
		"num_attention_heads": d.NumAttentionHeads, "image_size": d.ImageSize, "patch_size": d.PatchSize,
		"num_channels": d.NumChannels, "intermediate_size": d.IntermediateSize})
	return d
}

// check refuses what the runtime cannot run, so that conversion fails early
// with a reason instead of producing a file the box cannot load.
func (c *Config) check() error {
	bad := func(format string, a ...any) error {
		return &ErrUnsupported{Path: c.Path, Reason: fmt.Sprintf(format, a...)}
	}
	if t := c.Text; t != nil {
		switch {
		case t.HiddenAct != "silu":
			return bad("text hidden_act %q (only silu)", t.HiddenAct)
		case t.AttentionBias || t.MLPBias:
			return bad("llama with attention or MLP biases")
		case t.HeadDim*t.NumAttentionHeads != t.HiddenSize:
			return bad("head_dim %d x %d heads != hidden_size %d", t.HeadDim, t.NumAttentionHeads, t.HiddenSize)
		case t.HeadDim%2 != 0:
			return bad("odd head_dim %d (RoPE needs pairs)", t.HeadDim)
		case t.NumAttentionHeads%t.NumKeyValueHeads != 0:
			return bad("%d attention heads not a multiple of %d key/value heads", t.NumAttentionHeads, t.NumKeyValueHeads)
		}
	}
	if v := c.Vision; v != nil {
		switch {
		case v.HiddenAct != "gelu":
			return bad("vision hidden_act %q (only exact gelu)", v.HiddenAct)
		case v.UseSwiGLUFFN:
			return bad("Dinov2 with a SwiGLU FFN (RAD-DINO uses an MLP)")
		case v.NumRegisterTokens != 0:
			return bad("Dinov2 with %d register tokens", v.NumRegisterTokens)
		case !v.QKVBias:
			return bad("Dinov2 without q/k/v biases")
		case v.HiddenSize%v.NumAttentionHeads != 0:
			return bad("vision hidden_size %d not divisible by %d heads", v.HiddenSize, v.NumAttentionHeads)
		case v.ImageSize%v.PatchSize != 0:
			return bad("image_size %d not a multiple of patch_size %d", v.ImageSize, v.PatchSize)
		case float64(v.IntermediateSize) != float64(v.HiddenSize)*v.MLPRatio:
			return bad("mlp_ratio %g gives a fractional MLP width", v.MLPRatio)
		}
	}
	if p := c.Projector; p != nil {
		switch {
		case p.Layers < 1:
			return bad("projector_n_layers %d", p.Layers)
		case p.Act != "gelu":
			return bad("projector_hidden_act %q (only exact gelu)", p.Act)
		case !p.Bias:
			return bad("projector without biases")
		}
		if c.VisionFeatureSelect != "default" && c.VisionFeatureSelect != "full" {
			return bad("vision_feature_select_strategy %q", c.VisionFeatureSelect)
		}
		if c.VisionFeatureLayer >= 0 || -c.VisionFeatureLayer > c.Vision.NumHiddenLayers {
			return bad("vision_feature_layer %d (a negative index of one of the %d layers)", c.VisionFeatureLayer, c.Vision.NumHiddenLayers)
		}
		if c.ImageTokenIndex < 0 || c.ImageTokenIndex >= c.Text.VocabSize {
			return fmt.Errorf("%s: image_token_index %d outside the vocabulary of %d", c.Path, c.ImageTokenIndex, c.Text.VocabSize)
		}
	}
	return nil
}
