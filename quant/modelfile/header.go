package modelfile

import (
	"fmt"

	"maira/quant/gguf"
)

// Header is everything a maira file says about its model besides the
// tensors: the parts present (a file made from a plain llama checkpoint has
// only Text), the tokenizer and the prompt.
type Header struct {
	Arch      string // Arch, or "llama" for a language model alone
	Name      string
	FileType  uint32 // llama.cpp's LLAMA_FTYPE of the language model's main type
	Text      *Text
	Vision    *Vision
	Projector *Projector
	Image     *Image
	Prompt    *Prompt
	Tokenizer *Tokenizer
	// Source records where the weights came from (for inspect): the input
	// format and its dtypes.
	SourceFormat string
	SourceDTypes []string
}

// Tokenizer is the SentencePiece BPE vocabulary as llama.cpp stores it.
type Tokenizer struct {
	Tokens         []string
	Scores         []float32
	Types          []int32
	BOS, EOS, UNK  int32
	PAD            int32 // -1: none
	AddBOS, AddEOS bool
	AddSpacePrefix bool
	Legacy         bool
	ChatTemplate   string
}

// Multimodal reports whether the header describes the whole MAIRA model.
func (h *Header) Multimodal() bool { return h.Vision != nil && h.Projector != nil && h.Text != nil }

// Tensors lists every tensor the header implies, in file order: vision,
// projector, language model.
func (h *Header) Tensors() []TensorSpec {
	var s []TensorSpec
	if h.Vision != nil {
		s = append(s, VisionTensors(h.Vision)...)
	}
	if h.Projector != nil && h.Vision != nil && h.Text != nil {
		s = append(s, ProjectorTensors(h.Projector, h.Vision.EmbeddingLength, h.Text.EmbeddingLength)...)
	}
	if h.Text != nil {
		s = append(s, TextTensors(h.Text)...)
	}
	return s
}

// KVs returns the metadata to write, general keys first.
func (h *Header) KVs() []gguf.KV {
	var kv []gguf.KV
	add := func(k string, v any) { kv = append(kv, gguf.KV{Key: k, Value: v}) }
	add(KeyArchitecture, h.Arch)
	if h.Name != "" {
		add(KeyName, h.Name)
	}
	add(KeyFileType, h.FileType)
	add(KeyQuantizationVersion, uint32(2))
	if t := h.Text; t != nil {
		add(KeyContextLength, uint32(t.ContextLength))
		add(KeyEmbeddingLength, uint32(t.EmbeddingLength))
		add(KeyBlockCount, uint32(t.BlockCount))
		add(KeyFeedForwardLength, uint32(t.FeedForwardLength))
		add(KeyRopeDimCount, uint32(t.HeadDim()))
		add(KeyHeadCount, uint32(t.HeadCount))
		add(KeyHeadCountKV, uint32(t.HeadCountKV))
		add(KeyRMSEps, t.RMSEps)
		add(KeyRopeFreqBase, t.RopeFreqBase)
		if t.RopeScalingType != "" {
			add(KeyRopeScalingType, t.RopeScalingType)
			add(KeyRopeScalingFactor, t.RopeScalingFactor)
		}
		add(KeyVocabSize, uint32(t.VocabSize))
	}
	if tk := h.Tokenizer; tk != nil {
		add(KeyTokModel, "llama")
		add(KeyTokTokens, tk.Tokens)
		add(KeyTokScores, tk.Scores)
		add(KeyTokTypes, tk.Types)
		add(KeyTokBOS, uint32(tk.BOS))
		add(KeyTokEOS, uint32(tk.EOS))
		add(KeyTokUNK, uint32(tk.UNK))
		if tk.PAD >= 0 {
			add(KeyTokPAD, uint32(tk.PAD))
		}
		add(KeyTokAddBOS, tk.AddBOS)
		add(KeyTokAddEOS, tk.AddEOS)
		add(KeyTokAddSpacePrefix, tk.AddSpacePrefix)
		if h.Arch == Arch {
			add(KeyTokLegacy, tk.Legacy)
		}
		if tk.ChatTemplate != "" {
			add(KeyTokChatTemplate, tk.ChatTemplate)
		}
	}
	if v := h.Vision; v != nil {
		add(KeyVisionImageSize, uint32(v.ImageSize))
		add(KeyVisionPatchSize, uint32(v.PatchSize))
		add(KeyVisionChannels, uint32(v.Channels))
		add(KeyVisionEmbeddingLength, uint32(v.EmbeddingLength))
		add(KeyVisionBlockCount, uint32(v.BlockCount))
		add(KeyVisionHeadCount, uint32(v.HeadCount))
		add(KeyVisionFeedForward, uint32(v.FeedForwardLength))
		add(KeyVisionLayerNormEps, v.LayerNormEps)
		add(KeyVisionFeatureLayer, int32(v.FeatureLayer))
		add(KeyVisionFeatureLayerNorm, v.FeatureLayerNorm)
		add(KeyVisionFeatureSelect, v.FeatureSelect)
	}
	if p := h.Projector; p != nil {
		add(KeyProjectorBlockCount, uint32(p.BlockCount))
		add(KeyProjectorActivation, p.Activation)
	}
	if im := h.Image; im != nil {
		add(KeyImageNormalize, im.Normalize)
		add(KeyImageShortestEdge, uint32(im.ShortestEdge))
		add(KeyImageCropHeight, uint32(im.CropHeight))
		add(KeyImageCropWidth, uint32(im.CropWidth))
		add(KeyImageRescale, im.RescaleFactor)
		add(KeyImageMean, im.Mean)
		add(KeyImageStd, im.Std)
		add(KeyImageResample, im.Resample)
	}
	if p := h.Prompt; p != nil {
		add(KeyImageTokenID, uint32(p.ImageTokenID))
		add(KeyPromptSystem, p.System)
		add(KeyPromptFindings, p.FindingsInstruction)
		add(KeyPromptGrounded, p.GroundedInstruction)
		add(KeyPromptMaxNewTokens, uint32(p.MaxNewTokens))
		add(KeyPromptGroundedLimit, uint32(p.GroundedMaxNewTokens))
	}
	if h.SourceFormat != "" {
		add(KeySourceFormat, h.SourceFormat)
		add(KeySourceDTypes, h.SourceDTypes)
	}
	return kv
}

// keyReader reads typed keys and remembers the first error.
type keyReader struct {
	f   *gguf.File
	err error
}

func (r *keyReader) u(key string) int {
	v, err := r.f.Uint32(key)
	if err != nil && r.err == nil {
		r.err = err
	}
	return int(v)
}

func (r *keyReader) i(key string) int {
	raw, ok := r.f.Get(key)
	if !ok {
		if r.err == nil {
			r.err = fmt.Errorf("%s: missing key %s", r.f.Path, key)
		}
		return 0
	}
	if v, ok := raw.(int32); ok {
		return int(v)
	}
	if r.err == nil {
		r.err = fmt.Errorf("%s: key %s: want int32, found %T", r.f.Path, key, raw)
	}
	return 0
}

func (r *keyReader) f32(key string) float32 {
	v, err := r.f.Float32(key)
	if err != nil && r.err == nil {
		r.err = err
	}
	return v
}

func (r *keyReader) s(key string) string {
	v, err := r.f.String(key)
	if err != nil && r.err == nil {
		r.err = err
	}
	return v
}

func (r *keyReader) b(key string) bool {
	v, err := r.f.Bool(key)
	if err != nil && r.err == nil {
		r.err = err
	}
	return v
}

func (r *keyReader) f32s(key string) []float32 {
	v, err := r.f.Float32s(key)
	if err != nil && r.err == nil {
		r.err = err
	}
	return v
}

// optional returns whether key is present.
func (r *keyReader) optional(key string) bool { _, ok := r.f.Get(key); return ok }

// Read reads the header of a maira (or plain llama) GGUF file and checks it
// for consistency; tensors are checked by Check.
func Read(f *gguf.File) (*Header, error) {
	r := &keyReader{f: f}
	h := &Header{Arch: r.s(KeyArchitecture)}
	if r.err != nil {
		return nil, r.err
	}
	if h.Arch != Arch && h.Arch != "llama" {
		return nil, fmt.Errorf("%s: general.architecture %q is not a maira model", f.Path, h.Arch)
	}
	if r.optional(KeyName) {
		h.Name = r.s(KeyName)
	}
	if r.optional(KeyFileType) {
		h.FileType = uint32(r.u(KeyFileType))
	}
	t := &Text{
		ContextLength:     r.u(KeyContextLength),
		EmbeddingLength:   r.u(KeyEmbeddingLength),
		BlockCount:        r.u(KeyBlockCount),
		FeedForwardLength: r.u(KeyFeedForwardLength),
		HeadCount:         r.u(KeyHeadCount),
		HeadCountKV:       r.u(KeyHeadCountKV),
		RMSEps:            r.f32(KeyRMSEps),
		RopeFreqBase:      10000,
		RopeScalingFactor: 1,
	}
	if r.optional(KeyRopeFreqBase) {
		t.RopeFreqBase = r.f32(KeyRopeFreqBase)
	}
	if r.optional(KeyRopeScalingType) {
		t.RopeScalingType = r.s(KeyRopeScalingType)
		if t.RopeScalingType == "none" {
			t.RopeScalingType = ""
		} else {
			t.RopeScalingFactor = r.f32(KeyRopeScalingFactor)
		}
	}
	h.Text = t
	tk := &Tokenizer{PAD: -1, AddBOS: true, AddSpacePrefix: true, Legacy: true}
	if model := r.s(KeyTokModel); r.err == nil && model != "llama" {
		return nil, fmt.Errorf("%s: tokenizer.ggml.model %q (only llama's SentencePiece BPE)", f.Path, model)
	}
	var err error
	if tk.Tokens, err = f.Strings(KeyTokTokens); err != nil {
		return nil, err
	}
	if tk.Scores, err = f.Float32s(KeyTokScores); err != nil {
		return nil, err
	}
	if tk.Types, err = f.Int32s(KeyTokTypes); err != nil {
		return nil, err
	}
	tk.BOS, tk.EOS, tk.UNK = int32(r.u(KeyTokBOS)), int32(r.u(KeyTokEOS)), int32(r.u(KeyTokUNK))
	if r.optional(KeyTokPAD) {
		tk.PAD = int32(r.u(KeyTokPAD))
	}
	if r.optional(KeyTokAddBOS) {
		tk.AddBOS = r.b(KeyTokAddBOS)
	}
	if r.optional(KeyTokAddEOS) {
		tk.AddEOS = r.b(KeyTokAddEOS)
	}
	if r.optional(KeyTokAddSpacePrefix) {
		tk.AddSpacePrefix = r.b(KeyTokAddSpacePrefix)
	}
	if r.optional(KeyTokLegacy) {
		tk.Legacy = r.b(KeyTokLegacy)
	}
	if r.optional(KeyTokChatTemplate) {
		tk.ChatTemplate = r.s(KeyTokChatTemplate)
	}
	h.Tokenizer = tk
	t.VocabSize = len(tk.Tokens)
	if r.optional(KeyVocabSize) {
		t.VocabSize = r.u(KeyVocabSize)
	}
	if h.Arch == Arch {
		h.Vision = &Vision{
			ImageSize:         r.u(KeyVisionImageSize),
			PatchSize:         r.u(KeyVisionPatchSize),
			Channels:          r.u(KeyVisionChannels),
			EmbeddingLength:   r.u(KeyVisionEmbeddingLength),
			BlockCount:        r.u(KeyVisionBlockCount),
			HeadCount:         r.u(KeyVisionHeadCount),
			FeedForwardLength: r.u(KeyVisionFeedForward),
			LayerNormEps:      r.f32(KeyVisionLayerNormEps),
			FeatureLayer:      r.i(KeyVisionFeatureLayer),
			FeatureLayerNorm:  r.b(KeyVisionFeatureLayerNorm),
			FeatureSelect:     r.s(KeyVisionFeatureSelect),
		}
		h.Projector = &Projector{BlockCount: r.u(KeyProjectorBlockCount), Activation: r.s(KeyProjectorActivation)}
		h.Image = &Image{
			Normalize:    r.s(KeyImageNormalize),
			ShortestEdge: r.u(KeyImageShortestEdge),
			CropHeight:   r.u(KeyImageCropHeight),
			CropWidth:    r.u(KeyImageCropWidth),
			Mean:         r.f32s(KeyImageMean),
			Std:          r.f32s(KeyImageStd),
			Resample:     r.s(KeyImageResample),
		}
		if raw, ok := f.Get(KeyImageRescale); ok {
			switch v := raw.(type) {
			case float64:
				h.Image.RescaleFactor = v
			case float32:
				h.Image.RescaleFactor = float64(v)
			}
		}
		h.Prompt = &Prompt{
			ImageTokenID:         r.u(KeyImageTokenID),
			System:               r.s(KeyPromptSystem),
			FindingsInstruction:  r.s(KeyPromptFindings),
			GroundedInstruction:  r.s(KeyPromptGrounded),
			MaxNewTokens:         r.u(KeyPromptMaxNewTokens),
			GroundedMaxNewTokens: r.u(KeyPromptGroundedLimit),
		}
	}
	if r.optional(KeySourceFormat) {
		h.SourceFormat = r.s(KeySourceFormat)
		if v, err := f.Strings(KeySourceDTypes); err == nil {
			h.SourceDTypes = v
		}
	}
	if r.err != nil {
		return nil, r.err
	}
	if err := h.check(); err != nil {
		return nil, fmt.Errorf("%s: %w", f.Path, err)
	}
	return h, nil
}

// check refuses headers whose numbers cannot describe a runnable model.
func (h *Header) check() error {
	t := h.Text
	switch {
	case t.EmbeddingLength <= 0 || t.BlockCount <= 0 || t.FeedForwardLength <= 0 || t.ContextLength <= 0:
		return fmt.Errorf("language model sizes must be positive")
	case t.HeadCount <= 0 || t.HeadCountKV <= 0 || t.EmbeddingLength%t.HeadCount != 0 || t.HeadCount%t.HeadCountKV != 0:
		return fmt.Errorf("head counts %d/%d do not divide width %d", t.HeadCount, t.HeadCountKV, t.EmbeddingLength)
	case t.HeadDim()%2 != 0:
		return fmt.Errorf("odd head width %d", t.HeadDim())
	case t.RopeScalingType != "" && t.RopeScalingType != "linear":
		return fmt.Errorf("rope scaling %q (only linear)", t.RopeScalingType)
	case t.RopeScalingType == "linear" && !(t.RopeScalingFactor > 0):
		return fmt.Errorf("rope scaling factor %g", t.RopeScalingFactor)
	}
	tk := h.Tokenizer
	n := len(tk.Tokens)
	switch {
	case len(tk.Scores) != n || len(tk.Types) != n:
		return fmt.Errorf("tokenizer arrays disagree: %d tokens, %d scores, %d types", n, len(tk.Scores), len(tk.Types))
	case n != t.VocabSize:
		return fmt.Errorf("%d tokens for a vocabulary of %d", n, t.VocabSize)
	}
	for _, id := range []int32{tk.BOS, tk.EOS, tk.UNK} {
		if id < 0 || int(id) >= n {
			return fmt.Errorf("special token id %d outside the vocabulary of %d", id, n)
		}
	}
	if tk.PAD >= int32(n) {
		return fmt.Errorf("padding token id %d outside the vocabulary of %d", tk.PAD, n)
	}
	if v := h.Vision; v != nil {
		switch {
		case v.ImageSize <= 0 || v.PatchSize <= 0 || v.ImageSize%v.PatchSize != 0:
			return fmt.Errorf("vision image size %d and patch size %d", v.ImageSize, v.PatchSize)
		case v.Channels <= 0 || v.EmbeddingLength <= 0 || v.BlockCount <= 0 || v.FeedForwardLength <= 0:
			return fmt.Errorf("vision sizes must be positive")
		case v.HeadCount <= 0 || v.EmbeddingLength%v.HeadCount != 0:
			return fmt.Errorf("vision head count %d does not divide width %d", v.HeadCount, v.EmbeddingLength)
		case v.FeatureLayer >= 0 || -v.FeatureLayer > v.BlockCount:
			return fmt.Errorf("vision feature layer %d", v.FeatureLayer)
		case v.FeatureSelect != "default" && v.FeatureSelect != "full":
			return fmt.Errorf("vision feature select %q", v.FeatureSelect)
		}
		if p := h.Projector; p.BlockCount <= 0 || p.Activation != "gelu" {
			return fmt.Errorf("projector of %d layers with %q", p.BlockCount, p.Activation)
		}
		im := h.Image
		if len(im.Mean) != v.Channels || len(im.Std) != v.Channels {
			return fmt.Errorf("image mean/std of %d/%d values for %d channels", len(im.Mean), len(im.Std), v.Channels)
		}
		if im.ShortestEdge <= 0 || im.CropHeight <= 0 || im.CropWidth <= 0 || !(im.RescaleFactor > 0) {
			return fmt.Errorf("image preprocessing sizes must be positive")
		}
		if p := h.Prompt; p.ImageTokenID < 0 || p.ImageTokenID >= n {
			return fmt.Errorf("image token id %d outside the vocabulary of %d", p.ImageTokenID, n)
		}
	}
	return nil
}

// Check verifies that f holds exactly the tensors the header implies, with
// the right dims, and names the first that is missing, extra or misshapen.
func Check(f *gguf.File, h *Header) error {
	want := h.Tensors()
	seen := make(map[string]bool, len(want))
	for _, s := range want {
		t := f.Tensor(s.Name)
		if t == nil {
			return fmt.Errorf("%s: tensor %s is missing", f.Path, s.Name)
		}
		if !sameDims(t.Dims, s.Dims) {
			return fmt.Errorf("%s: tensor %s has dims %v, the metadata implies %v", f.Path, s.Name, t.Dims, s.Dims)
		}
		seen[s.Name] = true
	}
	for i := range f.Tensors {
		if !seen[f.Tensors[i].Name] {
			return fmt.Errorf("%s: tensor %s is not part of the model the metadata describes", f.Path, f.Tensors[i].Name)
		}
	}
	return nil
}

func sameDims(a, b []uint64) bool {
	// Trailing 1s are not significant in ggml's dims.
	for len(a) > 1 && a[len(a)-1] == 1 {
		a = a[:len(a)-1]
	}
	for len(b) > 1 && b[len(b)-1] == 1 {
		b = b[:len(b)-1]
	}
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
