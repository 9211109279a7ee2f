package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"reflect"
	"sort"
	"strings"

	"maira/dicom"
	"maira/quant/gguf"
	"maira/quant/hf"
	"maira/quant/modelfile"
	"maira/quant/safetensors"
)

func init() {
	commands["inspect"] = command{
		summary: "show the metadata and tensors of a GGUF file or a Hugging Face checkpoint folder",
		run:     runInspect,
	}
}

// arrayPreview is how many elements of a long array inspect shows.
const arrayPreview = 8

func runInspect(args []string, stdout, stderr io.Writer) error {
	c := newCLI("inspect", "PATH [--json] [--full]\n\nPATH is a GGUF file, a Hugging Face checkpoint folder, a .safetensors file, or a DICOM\nimage (its decoded summary; patient identifiers are masked).", stdout)
	asJSON := c.Bool("json", false, "print JSON")
	full := c.Bool("full", false, "print long arrays (the vocabulary) whole")
	pos, err := c.parse(args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("want one PATH, got %d arguments", len(pos))
	}
	st, err := os.Stat(pos[0])
	if err != nil {
		return err
	}
	if !st.IsDir() {
		if isDICOM, err := dicom.IsDICOMFile(pos[0]); err != nil {
			return err
		} else if isDICOM {
			return inspectDICOM(pos[0], *asJSON, stdout)
		}
	}
	var rep *inspection
	switch {
	case st.IsDir():
		rep, err = inspectHF(pos[0])
	case strings.HasSuffix(pos[0], ".safetensors"):
		rep, err = inspectSafetensors(pos[0])
	default:
		rep, err = inspectGGUF(pos[0], *full)
	}
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	rep.print(stdout)
	return nil
}

// inspection is what inspect shows, for text and JSON alike.
type inspection struct {
	Path      string         `json:"path"`
	Format    string         `json:"format"`
	Version   uint32         `json:"version,omitempty"`
	Size      int64          `json:"size_bytes"`
	Model     string         `json:"model,omitempty"`
	Metadata  []kvReport     `json:"metadata"`
	Tensors   []tensorReport `json:"tensors"`
	DataBytes int64          `json:"tensor_bytes"`
}

type kvReport struct {
	Key   string `json:"key"`
	Type  string `json:"type"`
	Value any    `json:"value"`
	Len   int    `json:"length,omitempty"` // arrays: the full length when Value is a preview
}

type tensorReport struct {
	Name  string  `json:"name"`
	Type  string  `json:"type"`
	Shape []int64 `json:"shape"` // GGUF: ggml dims (row length first); Hugging Face: torch shape
	Bytes int64   `json:"bytes"`
	File  string  `json:"file,omitempty"`
}

func inspectGGUF(path string, full bool) (*inspection, error) {
	f, err := gguf.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	rep := &inspection{Path: path, Format: "gguf", Version: f.Version, Size: int64(len(f.Bytes()))}
	if h, err := modelfile.Read(f); err == nil {
		if err := modelfile.Check(f, h); err != nil {
			return nil, err
		}
		rep.Model = describeHeader(h)
	}
	for _, kv := range f.KVs {
		r := kvReport{Key: kv.Key, Type: reflect.TypeOf(kv.Value).String(), Value: kv.Value}
		if v := reflect.ValueOf(kv.Value); v.Kind() == reflect.Slice && !full && v.Len() > arrayPreview {
			r.Len = v.Len()
			r.Value = v.Slice(0, arrayPreview).Interface()
		}
		rep.Metadata = append(rep.Metadata, r)
	}
	for i := range f.Tensors {
		t := &f.Tensors[i]
		shape := make([]int64, len(t.Dims))
		for k, d := range t.Dims {
			shape[k] = int64(d)
		}
		rep.Tensors = append(rep.Tensors, tensorReport{Name: t.Name, Type: t.Type.String(), Shape: shape, Bytes: int64(t.Size)})
		rep.DataBytes += int64(t.Size)
	}
	return rep, nil
}

func describeHeader(h *modelfile.Header) string {
	s := fmt.Sprintf("%s: language model %d layers x %d, %d heads, FFN %d, vocabulary %d, context %d",
		h.Arch, h.Text.BlockCount, h.Text.EmbeddingLength, h.Text.HeadCount, h.Text.FeedForwardLength, h.Text.VocabSize, h.Text.ContextLength)
	if h.Text.RopeScalingType != "" {
		s += fmt.Sprintf(", RoPE %s x%g", h.Text.RopeScalingType, h.Text.RopeScalingFactor)
	}
	if h.Vision != nil {
		s += fmt.Sprintf("; vision %d layers x %d at %d px (%d patches); projector %d layers",
			h.Vision.BlockCount, h.Vision.EmbeddingLength, h.Vision.ImageSize, h.Vision.Patches(), h.Projector.BlockCount)
	}
	return s
}

func inspectHF(dir string) (*inspection, error) {
	ck, err := hf.Open(dir)
	if err != nil {
		return nil, err
	}
	defer ck.Close()
	rep := &inspection{Path: dir, Format: "huggingface"}
	cfg := ck.Config
	add := func(k string, v any) {
		rep.Metadata = append(rep.Metadata, kvReport{Key: k, Type: reflect.TypeOf(v).String(), Value: v})
	}
	add("model_type", cfg.ModelType)
	model := cfg.ModelType
	if t := cfg.Text; t != nil {
		add("text.layers", t.NumHiddenLayers)
		add("text.hidden_size", t.HiddenSize)
		add("text.heads", t.NumAttentionHeads)
		add("text.kv_heads", t.NumKeyValueHeads)
		add("text.intermediate_size", t.IntermediateSize)
		add("text.vocab_size", t.VocabSize)
		add("text.max_position_embeddings", t.MaxPositionEmbeddings)
		add("text.rms_norm_eps", t.RMSNormEps)
		add("text.rope_theta", t.RopeTheta)
		if t.RopeScalingType != "" {
			add("text.rope_scaling", fmt.Sprintf("%s x%g", t.RopeScalingType, t.RopeScalingFactor))
		}
		model += fmt.Sprintf(": language model %d layers x %d", t.NumHiddenLayers, t.HiddenSize)
	}
	if v := cfg.Vision; v != nil {
		add("vision.layers", v.NumHiddenLayers)
		add("vision.hidden_size", v.HiddenSize)
		add("vision.heads", v.NumAttentionHeads)
		add("vision.image_size", v.ImageSize)
		add("vision.patch_size", v.PatchSize)
		model += fmt.Sprintf("; vision %d layers x %d at %d px", v.NumHiddenLayers, v.HiddenSize, v.ImageSize)
	}
	if p := cfg.Projector; p != nil {
		add("projector.layers", p.Layers)
		add("image_token_index", cfg.ImageTokenIndex)
		add("vision_feature_layer", cfg.VisionFeatureLayer)
	}
	if ck.Vocab != nil {
		add("tokenizer.tokens", ck.Vocab.Len())
	}
	if pp := ck.Preprocessor; pp != nil {
		add("image.shortest_edge", pp.ShortestEdge)
		add("image.crop", fmt.Sprintf("%dx%d", pp.CropWidth, pp.CropHeight))
		add("image.mean", pp.Mean[:])
		add("image.std", pp.Std[:])
	}
	rep.Model = model
	files := map[string]bool{}
	for _, t := range ck.Weights.Tensors {
		rep.Tensors = append(rep.Tensors, tensorReport{Name: t.Name, Type: string(t.DType), Shape: t.Shape, Bytes: int64(len(t.Data)), File: t.File})
		rep.DataBytes += int64(len(t.Data))
		files[t.File] = true
	}
	for f := range files {
		if st, err := os.Stat(f); err == nil {
			rep.Size += st.Size()
		}
	}
	sort.Slice(rep.Tensors, func(i, j int) bool { return rep.Tensors[i].Name < rep.Tensors[j].Name })
	return rep, nil
}

// inspectSafetensors lists one safetensors file (a shard, or a --dump).
func inspectSafetensors(path string) (*inspection, error) {
	f, err := safetensors.OpenFile(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	rep := &inspection{Path: path, Format: "safetensors"}
	if st, err := os.Stat(path); err == nil {
		rep.Size = st.Size()
	}
	keys := make([]string, 0, len(f.Metadata))
	for k := range f.Metadata {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		rep.Metadata = append(rep.Metadata, kvReport{Key: k, Type: "string", Value: f.Metadata[k]})
	}
	for _, t := range f.Tensors {
		rep.Tensors = append(rep.Tensors, tensorReport{Name: t.Name, Type: string(t.DType), Shape: t.Shape, Bytes: int64(len(t.Data))})
		rep.DataBytes += int64(len(t.Data))
	}
	return rep, nil
}

func (r *inspection) print(w io.Writer) {
	fmt.Fprintf(w, "%s: %s", r.Path, r.Format)
	if r.Version != 0 {
		fmt.Fprintf(w, " v%d", r.Version)
	}
	fmt.Fprintf(w, ", %s\n", humanBytes(r.Size))
	if r.Model != "" {
		fmt.Fprintf(w, "model: %s\n", r.Model)
	}
	fmt.Fprintf(w, "\nmetadata (%d keys):\n", len(r.Metadata))
	for _, kv := range r.Metadata {
		v := fmt.Sprintf("%v", kv.Value)
		if s, ok := kv.Value.(string); ok {
			v = fmt.Sprintf("%q", s)
			if len(v) > 100 {
				v = v[:97] + "..."
			}
		}
		if kv.Len > 0 {
			v = fmt.Sprintf("[%d x %s] %v ...", kv.Len, kv.Type[2:], kv.Value)
			if len(v) > 120 {
				v = v[:117] + "..."
			}
		}
		fmt.Fprintf(w, "  %-42s %s\n", kv.Key, v)
	}
	fmt.Fprintf(w, "\ntensors (%d, %s):\n", len(r.Tensors), humanBytes(r.DataBytes))
	fmt.Fprintf(w, "  %-58s %-5s %-22s %10s\n", "name", "type", "shape", "bytes")
	for _, t := range r.Tensors {
		shape := make([]uint64, len(t.Shape))
		for i, d := range t.Shape {
			shape[i] = uint64(d)
		}
		fmt.Fprintf(w, "  %-58s %-5s %-22s %10d\n", t.Name, t.Type, dimString(shape), t.Bytes)
	}
}
