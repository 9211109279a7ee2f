package convert

import (
	"fmt"
	"path/filepath"
	"strings"

	"maira/quant/hf"
	"maira/quant/modelfile"
	"maira/quant/vocab"
)

// header builds the output file's metadata from a checkpoint.
func header(ck *Source) (*modelfile.Header, error) {
	cfg := ck.Config
	h := &modelfile.Header{Name: filepath.Base(filepath.Clean(ck.Dir)), SourceFormat: ck.Format}
	switch cfg.ModelType {
	case "maira2", "llava":
		h.Arch = modelfile.Arch
	case "llama":
		h.Arch = "llama"
	case "dinov2":
		return nil, fmt.Errorf("%s: a dinov2 checkpoint is an image encoder alone; maira needs a whole MAIRA model (maira2 or llava-style directory) or a llama language model", ck.Dir)
	default:
		return nil, &hf.ErrUnsupported{Path: cfg.Path, Reason: "model_type " + cfg.ModelType}
	}
	t := cfg.Text
	h.Text = &modelfile.Text{
		ContextLength:     t.MaxPositionEmbeddings,
		EmbeddingLength:   t.HiddenSize,
		BlockCount:        t.NumHiddenLayers,
		FeedForwardLength: t.IntermediateSize,
		HeadCount:         t.NumAttentionHeads,
		HeadCountKV:       t.NumKeyValueHeads,
		VocabSize:         t.VocabSize,
		RMSEps:            float32(t.RMSNormEps),
		RopeFreqBase:      float32(t.RopeTheta),
		RopeScalingType:   t.RopeScalingType,
		RopeScalingFactor: float32(t.RopeScalingFactor),
	}
	tk, err := tokenizer(ck.Vocab, t.VocabSize, ck.Dir)
	if err != nil {
		return nil, err
	}
	h.Tokenizer = tk
	if h.Arch == modelfile.Arch {
		v := cfg.Vision
		h.Vision = &modelfile.Vision{
			ImageSize:         v.ImageSize,
			PatchSize:         v.PatchSize,
			Channels:          v.NumChannels,
			EmbeddingLength:   v.HiddenSize,
			BlockCount:        v.NumHiddenLayers,
			HeadCount:         v.NumAttentionHeads,
			FeedForwardLength: v.IntermediateSize,
			LayerNormEps:      float32(v.LayerNormEps),
			FeatureLayer:      cfg.VisionFeatureLayer,
			FeatureLayerNorm:  cfg.FeatureLayerNorm,
			FeatureSelect:     cfg.VisionFeatureSelect,
		}
		h.Projector = &modelfile.Projector{BlockCount: cfg.Projector.Layers, Activation: cfg.Projector.Act}
		pp := ck.Preprocessor
		h.Image = &modelfile.Image{
			Normalize:     "minmax-gray",
			ShortestEdge:  pp.ShortestEdge,
			CropHeight:    pp.CropHeight,
			CropWidth:     pp.CropWidth,
			RescaleFactor: pp.RescaleFactor,
			Mean:          pp.Mean[:v.NumChannels],
			Std:           pp.Std[:v.NumChannels],
			Resample:      "bicubic",
		}
		if v.NumChannels > 3 {
			return nil, &hf.ErrUnsupported{Path: cfg.Path, Reason: fmt.Sprintf("%d image channels", v.NumChannels)}
		}
		if tk.Types[cfg.ImageTokenIndex] == int32(vocab.Unused) {
			return nil, fmt.Errorf("%s: image_token_index %d is not a token of the tokenizer", cfg.Path, cfg.ImageTokenIndex)
		}
		h.Prompt = &modelfile.Prompt{
			System:               modelfile.Maira2System,
			FindingsInstruction:  modelfile.Maira2FindingsInstruction,
			GroundedInstruction:  modelfile.Maira2GroundedInstruction,
			MaxNewTokens:         300,
			GroundedMaxNewTokens: 450,
			ImageTokenID:         cfg.ImageTokenIndex,
		}
	}
	return h, nil
}

// tokenizer turns the checkpoint's vocabulary into llama.cpp's arrays,
// padded to the model's vocabulary size as llama.cpp's converter pads.
func tokenizer(v *vocab.Vocab, vocabSize int, dir string) (*modelfile.Tokenizer, error) {
	if v == nil {
		return nil, fmt.Errorf("%s: no tokenizer (tokenizer.model or tokenizer.json)", dir)
	}
	if v.Len() > vocabSize {
		return nil, fmt.Errorf("%s: the tokenizer has %d tokens, more than the model's vocab_size %d", dir, v.Len(), vocabSize)
	}
	if v.Len() < vocabSize {
		if err := v.PadTo(vocabSize); err != nil {
			return nil, fmt.Errorf("%s: %v", dir, err)
		}
	}
	if err := v.Validate(); err != nil {
		return nil, fmt.Errorf("%s: tokenizer: %v", dir, err)
	}
	types := make([]int32, len(v.Types))
	for i, t := range v.Types {
		types[i] = int32(t)
	}
	return &modelfile.Tokenizer{
		Tokens: v.Tokens, Scores: v.Scores, Types: types,
		BOS: v.BOS, EOS: v.EOS, UNK: v.UNK, PAD: v.PAD,
		AddBOS: v.AddBOS, AddEOS: v.AddEOS, AddSpacePrefix: v.AddSpacePrefix, Legacy: v.Legacy,
		ChatTemplate: v.ChatTemplate,
	}, nil
}

// dtypeNames lists the distinct source dtypes, for the file's provenance.
func dtypeNames(seen map[string]bool) []string {
	var out []string
	for _, d := range []string{"F32", "BF16", "F16"} {
		if seen[d] {
			out = append(out, strings.ToLower(d))
		}
	}
	return out
}
