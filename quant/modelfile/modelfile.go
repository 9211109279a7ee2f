// Package modelfile defines the layout of a maira model file: one GGUF that
// holds RAD-DINO, the projector, the LLaMA language model, the tokenizer, the
// image preprocessing constants and the prompt text, so the box needs nothing
// else. The converter writes it and the runtime reads it through this package,
// so the two cannot disagree on a key or a tensor name.
//
// The language model is described in llama.cpp's own words (llama.* keys,
// tokenizer.ggml.* keys, llama.cpp tensor names, q/k rows permuted the way
// llama.cpp's converter permutes them), so that the language-model part of a
// maira file is, byte for byte, a llama.cpp llama model; `maira export
// --llm-only` only filters. The vision encoder (v.*) and projector (mm.*) use
// the names of llama.cpp's multimodal (mtmd/clip) loader where one exists.
package modelfile

import (
	"fmt"
)

// Arch is general.architecture of a maira file.
const Arch = "maira"

// General and language-model keys (llama.cpp's names).
const (
	KeyArchitecture        = "general.architecture"
	KeyName                = "general.name"
	KeyFileType            = "general.file_type"
	KeyQuantizationVersion = "general.quantization_version"
	KeyAlignment           = "general.alignment"

	KeyContextLength     = "llama.context_length"
	KeyEmbeddingLength   = "llama.embedding_length"
	KeyBlockCount        = "llama.block_count"
	KeyFeedForwardLength = "llama.feed_forward_length"
	KeyRopeDimCount      = "llama.rope.dimension_count"
	KeyHeadCount         = "llama.attention.head_count"
	KeyHeadCountKV       = "llama.attention.head_count_kv"
	KeyRMSEps            = "llama.attention.layer_norm_rms_epsilon"
	KeyRopeFreqBase      = "llama.rope.freq_base"
	KeyRopeScalingType   = "llama.rope.scaling.type"
	KeyRopeScalingFactor = "llama.rope.scaling.factor"
	KeyVocabSize         = "llama.vocab_size"

	KeyTokModel          = "tokenizer.ggml.model"
	KeyTokTokens         = "tokenizer.ggml.tokens"
	KeyTokScores         = "tokenizer.ggml.scores"
	KeyTokTypes          = "tokenizer.ggml.token_type"
	KeyTokBOS            = "tokenizer.ggml.bos_token_id"
	KeyTokEOS            = "tokenizer.ggml.eos_token_id"
	KeyTokUNK            = "tokenizer.ggml.unknown_token_id"
	KeyTokPAD            = "tokenizer.ggml.padding_token_id"
	KeyTokAddBOS         = "tokenizer.ggml.add_bos_token"
	KeyTokAddEOS         = "tokenizer.ggml.add_eos_token"
	KeyTokAddSpacePrefix = "tokenizer.ggml.add_space_prefix"
	KeyTokChatTemplate   = "tokenizer.chat_template"
	// KeyTokLegacy is transformers' LlamaTokenizer "legacy" flag, which
	// llama.cpp has no key for: false (Vicuna v1.5, MAIRA-2) adds the
	// dummy-prefix space only at the start of the text, never after an
	// added token.
	KeyTokLegacy = "maira.tokenizer.legacy"
)

// Vision encoder, projector, image and prompt keys (maira's own).
const (
	KeyVisionImageSize        = "maira.vision.image_size"
	KeyVisionPatchSize        = "maira.vision.patch_size"
	KeyVisionChannels         = "maira.vision.num_channels"
	KeyVisionEmbeddingLength  = "maira.vision.embedding_length"
	KeyVisionBlockCount       = "maira.vision.block_count"
	KeyVisionHeadCount        = "maira.vision.attention.head_count"
	KeyVisionFeedForward      = "maira.vision.feed_forward_length"
	KeyVisionLayerNormEps     = "maira.vision.attention.layer_norm_epsilon"
	KeyVisionFeatureLayer     = "maira.vision.feature_layer"
	KeyVisionFeatureLayerNorm = "maira.vision.feature_layernorm"
	KeyVisionFeatureSelect    = "maira.vision.feature_select"

	KeyProjectorBlockCount = "maira.projector.block_count"
	KeyProjectorActivation = "maira.projector.activation"

	KeyImageNormalize    = "maira.image.normalize"
	KeyImageShortestEdge = "maira.image.shortest_edge"
	KeyImageCropHeight   = "maira.image.crop_height"
	KeyImageCropWidth    = "maira.image.crop_width"
	KeyImageRescale      = "maira.image.rescale_factor"
	KeyImageMean         = "maira.image.mean"
	KeyImageStd          = "maira.image.std"
	KeyImageResample     = "maira.image.resample"

	KeyImageTokenID        = "maira.image_token_id"
	KeyPromptSystem        = "maira.prompt.system"
	KeyPromptFindings      = "maira.prompt.findings_instruction"
	KeyPromptGrounded      = "maira.prompt.grounded_instruction"
	KeyPromptMaxNewTokens  = "maira.prompt.max_new_tokens"
	KeyPromptGroundedLimit = "maira.prompt.grounded_max_new_tokens"
	KeySourceFormat        = "maira.source.format"
	KeySourceDTypes        = "maira.source.dtypes"
)

// Text is the language model's shape (LLaMA).
type Text struct {
	ContextLength     int
	EmbeddingLength   int
	BlockCount        int
	FeedForwardLength int
	HeadCount         int
	HeadCountKV       int
	VocabSize         int
	RMSEps            float32
	RopeFreqBase      float32
	RopeScalingType   string  // "" or "linear"
	RopeScalingFactor float32 // 1 when unscaled
}

// HeadDim is the width of one attention head.
func (t *Text) HeadDim() int { return t.EmbeddingLength / t.HeadCount }

// MaxPositions is how many positions a session may hold. Linear RoPE
// scaling divides positions by the factor, stretching the trained context
// by it: MAIRA-2 scales Vicuna's 4096 by 1.5, and a study with three images
// (3 x 1369 image tokens) and a report needs the room. transformers itself
// sets no hard limit; this one keeps positions within what the scaling was
// made for.
func (t *Text) MaxPositions() int {
	if t.RopeScalingType == "linear" && t.RopeScalingFactor > 1 {
		return int(float64(t.ContextLength) * float64(t.RopeScalingFactor))
	}
	return t.ContextLength
}

// Vision is the image encoder's shape (Dinov2 / RAD-DINO).
type Vision struct {
	ImageSize         int
	PatchSize         int
	Channels          int
	EmbeddingLength   int
	BlockCount        int
	HeadCount         int
	FeedForwardLength int
	LayerNormEps      float32
	// FeatureLayer is a negative index into the encoder's layer outputs
	// (-1: the last); FeatureLayerNorm says whether the final LayerNorm is
	// applied to it (MAIRA-2: yes; LLaVA: no). FeatureSelect is "default"
	// (CLS dropped) or "full".
	FeatureLayer     int
	FeatureLayerNorm bool
	FeatureSelect    string
}

// Patches is the number of patch tokens at the encoder's native size.
func (v *Vision) Patches() int { g := v.ImageSize / v.PatchSize; return g * g }

// Projector is the MLP between encoder and language model: BlockCount
// linear layers with Activation between them.
type Projector struct {
	BlockCount int
	Activation string
}

// LinearIndex returns the index of linear layer i (0-based) in the
// projector's Sequential: activations sit between the linears, so linear i
// is module 2*i (MAIRA-2: layers.0, .2, .4, .6).
func (p *Projector) LinearIndex(i int) int { return 2 * i }

// Image holds the preprocessing constants: MAIRA-2's grayscale min-max
// ("minmax-gray"), then a PIL-bicubic resize of the short edge, a centre
// crop, rescale and normalize.
type Image struct {
	Normalize     string
	ShortestEdge  int
	CropHeight    int
	CropWidth     int
	RescaleFactor float64
	Mean, Std     []float32
	Resample      string
}

// Prompt holds the prompt text and generation limits.
type Prompt struct {
	System               string
	FindingsInstruction  string
	GroundedInstruction  string
	MaxNewTokens         int
	GroundedMaxNewTokens int
	ImageTokenID         int
	ChatTemplate         string // from tokenizer_config.json; "" when the source has none
}

// MAIRA-2's prompt text (../shared/docs/MAIRA.md, "Prompt").
const (
	Maira2System              = "You are an expert radiology assistant tasked with interpreting a chest X-ray study."
	Maira2FindingsInstruction = "Provide a structured description of the findings in the radiology study in comparison to the prior frontal image."
	Maira2GroundedInstruction = "Provide a structured description of the findings in the radiology study in comparison to the prior frontal image. " +
		"Each finding should be described as a self-contained plain-text sentence. If the finding is groundable, locate the finding " +
		"in the current frontal chest X-ray image, with bounding boxes indicating all locations where it can be seen in the current " +
		"frontal image. Otherwise, generate just the ungrounded finding without bounding boxes."
)

// TensorSpec names a tensor of the file with its GGUF dims (Dims[0] is the
// row length).
type TensorSpec struct {
	Name string
	Dims []uint64
}

func spec(name string, dims ...int) TensorSpec {
	d := make([]uint64, len(dims))
	for i, v := range dims {
		d[i] = uint64(v)
	}
	return TensorSpec{Name: name, Dims: d}
}

// Language-model tensor names (llama.cpp's).
const (
	TokenEmbd  = "token_embd.weight"
	OutputNorm = "output_norm.weight"
	Output     = "output.weight"
)

// Block returns the name of a language-model block tensor, e.g.
// Block(3, "attn_q") = "blk.3.attn_q.weight".
func Block(i int, part string) string { return fmt.Sprintf("blk.%d.%s.weight", i, part) }

// VBlock returns the name of a vision block tensor, e.g.
// VBlock(0, "attn_q", "bias") = "v.blk.0.attn_q.bias".
func VBlock(i int, part, kind string) string { return fmt.Sprintf("v.blk.%d.%s.%s", i, part, kind) }

// MM returns the name of projector linear i's weight or bias, e.g.
// MM(1, "weight") = "mm.2.weight" (llama.cpp's clip names use the Sequential
// index).
func MM(p *Projector, i int, kind string) string {
	return fmt.Sprintf("mm.%d.%s", p.LinearIndex(i), kind)
}

// Vision tensor names outside the blocks.
const (
	VPatchEmbd     = "v.patch_embd.weight"
	VPatchEmbdBias = "v.patch_embd.bias"
	VClassEmbd     = "v.class_embd"
	VPositionEmbd  = "v.position_embd.weight"
	VPostLNWeight  = "v.post_ln.weight"
	VPostLNBias    = "v.post_ln.bias"
)

// TextTensors lists the language model's tensors and their dims.
func TextTensors(t *Text) []TensorSpec {
	h, kv := t.EmbeddingLength, t.HeadDim()*t.HeadCountKV
	s := []TensorSpec{spec(TokenEmbd, h, t.VocabSize)}
	for i := 0; i < t.BlockCount; i++ {
		s = append(s,
			spec(Block(i, "attn_norm"), h),
			spec(Block(i, "attn_q"), h, h),
			spec(Block(i, "attn_k"), h, kv),
			spec(Block(i, "attn_v"), h, kv),
			spec(Block(i, "attn_output"), h, h),
			spec(Block(i, "ffn_norm"), h),
			spec(Block(i, "ffn_gate"), h, t.FeedForwardLength),
			spec(Block(i, "ffn_up"), h, t.FeedForwardLength),
			spec(Block(i, "ffn_down"), t.FeedForwardLength, h),
		)
	}
	return append(s, spec(OutputNorm, h), spec(Output, h, t.VocabSize))
}

// VisionTensors lists the encoder's tensors and their dims. Dims are the
// Hugging Face shapes reversed (the conv weight stays 4-D).
func VisionTensors(v *Vision) []TensorSpec {
	h, p := v.EmbeddingLength, v.PatchSize
	s := []TensorSpec{
		spec(VPatchEmbd, p, p, v.Channels, h),
		spec(VPatchEmbdBias, h),
		spec(VClassEmbd, h, 1, 1),
		spec(VPositionEmbd, h, v.Patches()+1, 1),
	}
	for i := 0; i < v.BlockCount; i++ {
		for _, part := range []string{"attn_q", "attn_k", "attn_v", "attn_out"} {
			s = append(s, spec(VBlock(i, part, "weight"), h, h), spec(VBlock(i, part, "bias"), h))
		}
		s = append(s,
			spec(VBlock(i, "ln1", "weight"), h), spec(VBlock(i, "ln1", "bias"), h),
			spec(VBlock(i, "ls1", "weight"), h),
			spec(VBlock(i, "ln2", "weight"), h), spec(VBlock(i, "ln2", "bias"), h),
			spec(VBlock(i, "ffn_up", "weight"), h, v.FeedForwardLength), spec(VBlock(i, "ffn_up", "bias"), v.FeedForwardLength),
			spec(VBlock(i, "ffn_down", "weight"), v.FeedForwardLength, h), spec(VBlock(i, "ffn_down", "bias"), h),
			spec(VBlock(i, "ls2", "weight"), h),
		)
	}
	return append(s, spec(VPostLNWeight, h), spec(VPostLNBias, h))
}

// ProjectorTensors lists the projector's tensors: the first linear maps the
// encoder width to the language model's, the rest keep it.
func ProjectorTensors(p *Projector, visionWidth, textWidth int) []TensorSpec {
	var s []TensorSpec
	in := visionWidth
	for i := 0; i < p.BlockCount; i++ {
		s = append(s, spec(MM(p, i, "weight"), in, textWidth), spec(MM(p, i, "bias"), textWidth))
		in = textWidth
	}
	return s
}
