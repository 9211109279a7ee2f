// Package draft turns a study into a draft report: decode and preprocess
// the images, encode them, build and tokenize MAIRA-2's prompt, splice the
// image embeddings into it, generate greedily, and fill the report document.
// It is the one path from files to a report that the command line, and
// later the drop folder, share.
package draft

import (
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"maira/dicom"
	"maira/internal/filehash"
	"maira/models/imageproc"
	"maira/models/llama"
	"maira/models/maira"
	"maira/models/prompt"
	"maira/models/report"
	"maira/models/tokenizer"
	"maira/quant/dtype"
	"maira/quant/modelfile"
	"maira/runtime"
)

// Engine is a loaded model ready to write drafts.
type Engine struct {
	Model     *maira.Model
	Tokenizer *tokenizer.Tokenizer
	SHA256    string
	Generator string // "maira VERSION", recorded in every document
	// Cache is the key/value cache type of every report (llama.CacheTypes;
	// Open sets llama.DefaultCache).
	Cache dtype.Type
}

// Open loads the model file at path onto b. The file's SHA-256 comes from
// hashes (computed once per file version; nil computes it afresh).
func Open(path string, b runtime.Backend, hashes *filehash.Cache, generator string) (*Engine, error) {
	m, err := maira.Load(path, b)
	if err != nil {
		return nil, err
	}
	tok, err := tokenizer.New(m.Header.Tokenizer)
	if err != nil {
		m.Close()
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	if hashes == nil {
		hashes = &filehash.Cache{}
	}
	sum, err := hashes.Sum(path)
	if err != nil {
		m.Close()
		return nil, err
	}
	return &Engine{Model: m, Tokenizer: tok, SHA256: sum, Generator: generator, Cache: llama.DefaultCache(m.Header.Text)}, nil
}

// Close unloads the model.
func (e *Engine) Close() error { return e.Model.Close() }

// Image is one image of a study: a file (PNG, JPEG or DICOM, told apart by
// their contents), or an image already decoded with the file it came from.
type Image struct {
	Path    string
	Decoded *imageproc.Image // nil: decode Path
	// DICOM is the DICOM reading of Path, where the caller has read it
	// already (the drop folder, to group studies); nil: Report reads it.
	DICOM *dicom.Image
}

// Request is one study to report on.
type Request struct {
	StudyID  string
	Frontal  Image
	Lateral  *Image
	Prior    *Image
	Sections report.Sections
	Grounded bool
	// MaxTokens caps the generated tokens; 0 takes the model file's limit
	// (300, or 450 for grounded reports).
	MaxTokens int
	// Dump, when set, receives the intermediate tensors.
	Dump *Dump
	// ForceTokens generates exactly MaxTokens tokens, with EOS and the
	// repetition guard off: for benchmarks, whose timings must not depend
	// on what a random-weight model happens to write.
	ForceTokens bool
}

// Dump holds what a run computed on the way, for comparisons with the
// reference implementation (`maira report --dump`).
type Dump struct {
	PixelValues     []float32 // [images, 3, H, W]
	Images, H, W    int
	ImageFeatures   []float32 // [images, N, C], after the encoder's final LayerNorm, CLS dropped
	ImageEmbeddings []float32 // [images, N, D], after the projector
	N, C, D         int
	PromptIDs       []int32   // the prompt with image tokens expanded
	FirstLogits     []float32 // at the last prompt position
}

// view is an image with its role in the prompt.
type view struct {
	img  Image
	name string // report.Input.View
}

// Report runs the study through the model. emit receives progress events
// (it may be nil).
func (e *Engine) Report(req Request, emit func(runtime.Event)) (*report.Document, error) {
	if emit == nil {
		emit = func(runtime.Event) {}
	}
	start := time.Now()
	h := e.Model.Header
	if h.Vision == nil {
		return nil, fmt.Errorf("%s: a language model only: it cannot read images (use maira generate)", e.Model.Path)
	}
	views := []view{{req.Frontal, "frontal"}}
	if req.Lateral != nil {
		views = append(views, view{*req.Lateral, "lateral"})
	}
	if req.Prior != nil {
		views = append(views, view{*req.Prior, "prior_frontal"})
	}
	doc := report.New(req.StudyID, e.Generator)
	doc.Grounded = req.Grounded
	doc.Sections = req.Sections
	doc.Model = e.modelInfo()

	// Files -> images -> pixel tensors.
	var pix []*imageproc.Pixels
	var t0 = time.Now()
	err := runtime.RunStage(emit, "decode image", func() error {
		for _, v := range views {
			img, dcm, err := v.img.decode()
			if err != nil {
				return err
			}
			p, err := imageproc.Preprocess(img, h.Image)
			if err != nil {
				return err
			}
			pix = append(pix, p)
			in := report.Input{File: v.img.Path, View: v.name, Width: img.Width, Height: img.Height}
			if v.img.Path != "" {
				if in.SHA256, err = filehash.File(v.img.Path); err != nil {
					return err
				}
			}
			if dcm != nil {
				if err := dicomInput(doc, &in, dcm, v, len(views) == 1); err != nil {
					return err
				}
			}
			doc.Inputs = append(doc.Inputs, in)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	doc.Timings.PreprocessMS = ms(time.Since(t0))

	// Pixel tensors -> image embeddings.
	b := e.Model.Backend
	var embeds []runtime.Tensor
	defer func() {
		for _, t := range embeds {
			b.Free(t)
		}
	}()
	t0 = time.Now()
	err = runtime.RunStage(emit, "encode", func() error {
		for _, p := range pix {
			feats, emb, err := e.Model.EncodeImage(p.Data, p.Height, p.Width)
			if err != nil {
				return err
			}
			if req.Dump != nil {
				if err := req.Dump.addImage(b, p, feats, emb); err != nil {
					b.Free(feats)
					b.Free(emb)
					return err
				}
			}
			b.Free(feats)
			embeds = append(embeds, emb)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	doc.Timings.EncodeMS = ms(time.Since(t0))

	// Prompt -> tokens, with each <image> expanded to its patches.
	sec := doc.Sections
	study := prompt.Study{Lateral: req.Lateral != nil, Prior: req.Prior != nil, PriorReport: sec.PriorReport,
		Indication: sec.Indication, Technique: sec.Technique, Comparison: sec.Comparison, Grounded: req.Grounded}
	text := prompt.Text(h.Prompt, study)
	perImage := embeds[0].Rows()
	layout, err := prompt.Expand(e.Tokenizer.EncodePrompt(text), int32(h.Prompt.ImageTokenID), perImage, len(embeds))
	if err != nil {
		return nil, fmt.Errorf("%s: %v", e.Model.Path, err)
	}
	for _, emb := range embeds {
		if emb.Rows() != perImage {
			return nil, fmt.Errorf("images of different sizes give %d and %d image tokens", perImage, emb.Rows())
		}
	}
	if req.Dump != nil {
		req.Dump.PromptIDs = layout.IDs
	}

	maxTokens := req.MaxTokens
	if maxTokens <= 0 {
		maxTokens = h.Prompt.MaxNewTokens
		if req.Grounded {
			maxTokens = h.Prompt.GroundedMaxNewTokens
		}
	}
	if n := len(layout.IDs) + maxTokens - 1; n > h.Text.MaxPositions() {
		return nil, fmt.Errorf("%s: the prompt (%d tokens) and %d new tokens exceed the model's context of %d positions",
			e.Model.Path, len(layout.IDs), maxTokens, h.Text.MaxPositions())
	}
	s, err := e.Model.LLM.NewSession(len(layout.IDs)+maxTokens-1, e.Cache)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	x, err := s.Embed(layout.IDs)
	if err != nil {
		return nil, err
	}
	defer b.Free(x)
	for i, start := range layout.Images {
		b.CopyRows(b.View(x, start, perImage), embeds[i])
	}

	// Tokens -> draft.
	var dec runtime.Decoder = s
	if req.Dump != nil {
		dec = &firstLogits{Decoder: s, dump: req.Dump}
	}
	opt := runtime.GenerateOptions{MaxTokens: maxTokens, EOS: e.Tokenizer.EOS()}
	if req.ForceTokens {
		opt.EOS, opt.RepeatGuard = -1, -1
	}
	res, err := runtime.Generate(dec, x, opt, emit)
	if err != nil {
		return nil, err
	}
	doc.TokenIDs = res.Tokens
	doc.StopReason = res.StopReason
	answer := e.Tokenizer.Decode(res.Tokens)
	if req.Grounded {
		g := pix[0].Geometry
		var warnings []string
		doc.Sentences, warnings = report.ParseGrounded(answer, g.ToOriginal)
		doc.Findings = report.Findings(doc.Sentences)
		doc.Warnings = append(doc.Warnings, warnings...)
	} else {
		doc.Findings = strings.TrimSpace(answer)
		doc.Sentences = report.Sentences(doc.Findings)
	}
	switch res.StopReason {
	case runtime.StopRepetition:
		doc.Warnings = append(doc.Warnings, "generation stopped because the model repeated itself: the draft is incomplete")
	case runtime.StopMaxTokens:
		doc.Warnings = append(doc.Warnings, fmt.Sprintf("generation stopped at the limit of %d tokens: the draft may be cut off", maxTokens))
	}
	doc.Timings.PromptTokens = res.PromptTokens
	doc.Timings.GeneratedTokens = len(res.Tokens)
	doc.Timings.PrefillMS = ms(res.PrefillDuration)
	doc.Timings.DecodeMS = ms(res.DecodeDuration)
	doc.Timings.PrefillTokensPerS = res.PrefillTokensPerSecond
	doc.Timings.DecodeTokensPerS = res.DecodeTokensPerSecond
	doc.Timings.TotalMS = ms(time.Since(start))
	return doc, nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// modelInfo names the model in documents.
func (e *Engine) modelInfo() report.Model {
	return report.Model{
		Name:         e.Model.Header.Name,
		File:         filepath.Base(e.Model.Path),
		SHA256:       e.SHA256,
		Quantization: Quantization(e.Model),
		Backend:      e.Model.Backend.Describe(),
		KVCache:      e.Cache.String(),
	}
}

// Quantization describes the storage types of a model's weight matrices.
func Quantization(m *maira.Model) string {
	typ := func(name string) string {
		if t := m.File.Tensor(name); t != nil {
			return t.Type.String()
		}
		return "-"
	}
	s := fmt.Sprintf("language model %s, embeddings %s", typ(modelfile.Block(0, "attn_q")), typ(modelfile.TokenEmbd))
	if m.Vision != nil {
		s = fmt.Sprintf("vision %s, %s", typ(modelfile.VBlock(0, "attn_q", "weight")), s)
	}
	return s
}

// firstLogits keeps the logits of the prompt's last position for a dump.
type firstLogits struct {
	runtime.Decoder
	dump *Dump
}

func (f *firstLogits) Prefill(x runtime.Tensor) ([]float32, error) {
	l, err := f.Decoder.Prefill(x)
	if err == nil && f.dump.FirstLogits == nil {
		f.dump.FirstLogits = append([]float32(nil), l...)
	}
	return l, err
}

// decode reads the image: as given, or from its file by its contents.
func (im Image) decode() (*imageproc.Image, *dicom.Image, error) {
	if im.DICOM != nil {
		return im.DICOM.Gray, im.DICOM, nil
	}
	if im.Decoded != nil {
		return im.Decoded, nil, nil
	}
	isDICOM, err := dicom.IsDICOMFile(im.Path)
	if err != nil {
		return nil, nil, err
	}
	if isDICOM {
		d, err := dicom.ReadFile(im.Path)
		if err != nil {
			return nil, nil, err
		}
		return d.Gray, d, nil
	}
	img, err := imageproc.DecodeFile(im.Path)
	return img, nil, err
}

// dicomInput records a DICOM image in the document: its identity and
// display, its warnings, the study of the frontal image, and the
// indication when none was given. A file whose View Position contradicts
// the role it was given is refused; one without a usable View Position
// takes the role, with a warning.
func dicomInput(doc *report.Document, in *report.Input, d *dicom.Image, v view, lone bool) error {
	s := d.Study
	in.DICOM = &report.DICOMInput{
		SOPInstanceUID: s.SOPInstanceUID, SeriesInstanceUID: s.SeriesInstanceUID, Modality: s.Modality,
		ViewPosition: s.ViewPosition, TransferSyntax: d.Syntax.Name, Photometric: d.Pixels.Photometric,
		BitsStored: d.Pixels.BitsStored, Display: d.Display.String(),
	}
	want := dicom.Frontal
	if v.name == "lateral" {
		want = dicom.Lateral
	}
	name := filepath.Base(in.File)
	switch {
	case s.View == dicom.UnknownView && lone:
		doc.Warnings = append(doc.Warnings, fmt.Sprintf("%s: View Position %s: the lone image was taken as frontal", name, viewPositionText(s.ViewPosition)))
	case s.View == dicom.UnknownView:
		doc.Warnings = append(doc.Warnings, fmt.Sprintf("%s: View Position %s: taken as %s, as given", name, viewPositionText(s.ViewPosition), v.name))
	case s.View != want:
		return fmt.Errorf("%s: View Position %s is a %s view, but the image was given as the %s image", in.File, s.ViewPosition, s.View, strings.ReplaceAll(v.name, "_", " "))
	}
	for _, w := range d.Warnings {
		doc.Warnings = append(doc.Warnings, name+": "+w)
	}
	if v.name == "frontal" {
		if s.StudyInstanceUID != "" {
			doc.StudyID = s.StudyInstanceUID
		}
		doc.Study = &report.Study{StudyInstanceUID: s.StudyInstanceUID, AccessionNumber: s.AccessionNumber,
			PatientID: s.PatientID, StudyDate: s.StudyDate}
		if doc.Sections.Indication == "" && s.Indication != "" {
			doc.Sections.Indication = s.Indication
		}
	}
	return nil
}

func viewPositionText(vp string) string {
	if vp == "" {
		return "absent"
	}
	return fmt.Sprintf("%q not PA, AP, LL, RL or LATERAL", vp)
}
