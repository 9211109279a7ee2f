// Package report defines the report document: the one JSON shape in which
// maira hands a draft to the world (`maira report --json`, the drop folder's
// report.json, export plugins, `maira eval`). docs/report.md documents it;
// Schema versions it.
package report

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Schema names this version of the document. A change that a reader of the
// old version would misread gets a new version.
const Schema = "maira.report/v1"

// Notice is the sentence every report carries, in every format.
const Notice = "DRAFT: machine-generated findings for review by a radiologist; not a diagnosis."

// Document is one study's draft report.
type Document struct {
	Schema         string     `json:"schema"`
	DraftForReview bool       `json:"draft_for_review"` // always true
	Notice         string     `json:"notice"`
	StudyID        string     `json:"study_id"`
	CreatedAt      time.Time  `json:"created_at"`
	Findings       string     `json:"findings"`
	Grounded       bool       `json:"grounded"`
	Sentences      []Sentence `json:"sentences"`
	TokenIDs       []int32    `json:"token_ids"`
	StopReason     string     `json:"stop_reason"` // "eos", "max_tokens" or "repetition"
	Model          Model      `json:"model"`
	Timings        Timings    `json:"timings"`
	Inputs         []Input    `json:"inputs"`
	Sections       Sections   `json:"sections"`
	// Study is the DICOM study the images came from; nil for PNG/JPEG.
	Study     *Study   `json:"study,omitempty"`
	Warnings  []string `json:"warnings"`
	Generator string   `json:"generator"` // "maira VERSION"
}

// Sentence is one finding; Boxes are [x0, y0, x1, y1] in the original
// image's pixels (grounded reports only; empty otherwise).
type Sentence struct {
	Text  string       `json:"text"`
	Boxes [][4]float64 `json:"boxes"`
}

// Model identifies the model file that wrote the draft.
type Model struct {
	Name         string `json:"name"`
	File         string `json:"file"`
	SHA256       string `json:"sha256"`
	Quantization string `json:"quantization"` // e.g. "vision q8_0, language model q4_k, embeddings q6_k"
	Backend      string `json:"backend"`
	KVCache      string `json:"kv_cache"` // the key/value cache type: "q8_0", "f16" or "f32"
}

// Timings are what the run took.
type Timings struct {
	EncodeMS          float64 `json:"encode_ms"`
	PrefillTokensPerS float64 `json:"prefill_tokens_per_s"`
	DecodeTokensPerS  float64 `json:"decode_tokens_per_s"`
	TotalMS           float64 `json:"total_ms"`
	PromptTokens      int     `json:"prompt_tokens"`
	GeneratedTokens   int     `json:"generated_tokens"`
	PreprocessMS      float64 `json:"preprocess_ms"`
	PrefillMS         float64 `json:"prefill_ms"`
	DecodeMS          float64 `json:"decode_ms"`
}

// Input is one image of the study.
type Input struct {
	File   string `json:"file"`
	SHA256 string `json:"sha256"`
	View   string `json:"view"` // "frontal", "lateral" or "prior_frontal"
	Width  int    `json:"width"`
	Height int    `json:"height"`
	// DICOM describes a DICOM input; nil for PNG/JPEG.
	DICOM *DICOMInput `json:"dicom,omitempty"`
}

// Study identifies the DICOM study a report belongs to. PatientID and
// AccessionNumber are here so that the draft can be filed with its study;
// they never go into logs.
type Study struct {
	StudyInstanceUID string `json:"study_instance_uid"`
	AccessionNumber  string `json:"accession_number"`
	PatientID        string `json:"patient_id"`
	StudyDate        string `json:"study_date"`
}

// DICOMInput is what a DICOM image was and how its pixels were shown to
// the model.
type DICOMInput struct {
	SOPInstanceUID    string `json:"sop_instance_uid"`
	SeriesInstanceUID string `json:"series_instance_uid"`
	Modality          string `json:"modality"`
	ViewPosition      string `json:"view_position"`
	TransferSyntax    string `json:"transfer_syntax"`
	Photometric       string `json:"photometric"`
	BitsStored        int    `json:"bits_stored"`
	// Display is the grayscale pipeline applied, e.g. "rescale slope 1
	// intercept 0, window center 2047 width 3000 (LINEAR), MONOCHROME1
	// inverted".
	Display string `json:"display"`
}

// Sections are the request's text sections as given ("" when absent; the
// prompt said "N/A").
type Sections struct {
	Indication  string `json:"indication"`
	Technique   string `json:"technique"`
	Comparison  string `json:"comparison"`
	PriorReport string `json:"prior_report"`
}

// Decode reads a document from its JSON and refuses another schema, so a
// reader never misreads a future version (the export plugins, eval).
func Decode(b []byte) (*Document, error) {
	var d Document
	if err := json.Unmarshal(b, &d); err != nil {
		return nil, fmt.Errorf("report is not valid JSON: %v", err)
	}
	if d.Schema != Schema {
		return nil, fmt.Errorf("report schema %q, want %q", d.Schema, Schema)
	}
	return &d, nil
}

// New returns a document with the fixed fields filled.
func New(studyID, generator string) *Document {
	return &Document{
		Schema: Schema, DraftForReview: true, Notice: Notice, StudyID: studyID,
		CreatedAt: time.Now().UTC().Truncate(time.Second), Generator: generator,
		Sentences: []Sentence{}, Inputs: []Input{}, Warnings: []string{}, TokenIDs: []int32{},
	}
}

// Bins is the number of coordinate bins MAIRA-2's box tokens <x0>..<x99>
// use along each side of the cropped square.
const Bins = 100

// BoxMapper maps a box given as fractions of the model's square input back
// to original-image pixels.
type BoxMapper func(x0, y0, x1, y1 float64) (float64, float64, float64, float64)

var boxRE = regexp.MustCompile(`^<x(\d+)><y(\d+)><x(\d+)><y(\d+)>$`)

// ParseGrounded splits a grounded answer, "<obj>text<box><xA><yB><xC><yD>
// </box>...</obj><obj>...</obj>", into sentences with boxes, as
// Maira2Processor.convert_output_to_plaintext_or_grounded_sequence reads it
// (bin centres: (bin + 0.5) / 100). Text without any grounding markup is
// one plain answer, split into sentences. Where the model's markup is
// malformed, ParseGrounded keeps the text, drops the broken box and returns
// a warning, instead of failing: a draft with a lost box beats no draft.
func ParseGrounded(text string, toPixels BoxMapper) (sentences []Sentence, warnings []string) {
	text = strings.TrimSpace(text)
	if !strings.Contains(text, "<obj>") && !strings.Contains(text, "</obj>") &&
		!strings.Contains(text, "<box>") && !strings.Contains(text, "</box>") {
		return Sentences(text), nil
	}
	for text != "" {
		if !strings.HasPrefix(text, "<obj>") {
			end := strings.Index(text, "<obj>")
			if end < 0 {
				end = len(text)
			}
			stray := strings.TrimSpace(text[:end])
			if stray != "" {
				sentences = append(sentences, Sentence{Text: stray, Boxes: [][4]float64{}})
				warnings = append(warnings, fmt.Sprintf("text outside <obj>...</obj>: %q", stray))
			}
			text = text[end:]
			continue
		}
		body := text[len("<obj>"):]
		end := strings.Index(body, "</obj>")
		if end < 0 {
			warnings = append(warnings, "an <obj> phrase has no </obj> (the answer was cut off?)")
			end = len(body)
			text = ""
		} else {
			text = strings.TrimSpace(body[end+len("</obj>"):])
		}
		body = body[:end]
		s := Sentence{Boxes: [][4]float64{}}
		i := strings.Index(body, "<box>")
		if i < 0 {
			s.Text = strings.TrimSpace(body)
		} else {
			s.Text = strings.TrimSpace(body[:i])
			for _, box := range strings.Split(body[i:], "</box>") {
				box = strings.TrimSpace(box)
				if box == "" {
					continue
				}
				m := boxRE.FindStringSubmatch(strings.TrimPrefix(box, "<box>"))
				if !strings.HasPrefix(box, "<box>") || m == nil {
					warnings = append(warnings, fmt.Sprintf("unreadable box %q for %q", box, s.Text))
					continue
				}
				var f [4]float64
				ok := true
				for k := range f {
					bin, _ := strconv.Atoi(m[k+1])
					if bin >= Bins {
						ok = false
					}
					f[k] = (float64(bin) + 0.5) / Bins
				}
				if !ok || f[0] > f[2] || f[1] > f[3] {
					warnings = append(warnings, fmt.Sprintf("box %q out of range or inverted for %q", box, s.Text))
					continue
				}
				x0, y0, x1, y1 := f[0], f[1], f[2], f[3]
				if toPixels != nil {
					x0, y0, x1, y1 = toPixels(x0, y0, x1, y1)
				}
				s.Boxes = append(s.Boxes, [4]float64{x0, y0, x1, y1})
			}
		}
		if s.Text != "" || len(s.Boxes) > 0 {
			sentences = append(sentences, s)
		}
	}
	return sentences, warnings
}

// Findings joins grounded sentences into the report's text.
func Findings(sentences []Sentence) string {
	parts := make([]string, 0, len(sentences))
	for _, s := range sentences {
		if s.Text != "" {
			parts = append(parts, s.Text)
		}
	}
	return strings.Join(parts, " ")
}

// Sentences splits plain findings into sentences: after '.', '!' or '?'
// followed by a space, except after common radiology abbreviations and
// decimal numbers.
func Sentences(text string) []Sentence {
	out := []Sentence{}
	start := 0
	for i := 0; i < len(text); i++ {
		c := text[i]
		if (c == '.' || c == '!' || c == '?') && (i+1 == len(text) || text[i+1] == ' ') {
			word := lastWord(text[start : i+1])
			if c == '.' && abbreviation[strings.ToLower(word)] {
				continue
			}
			if s := strings.TrimSpace(text[start : i+1]); s != "" {
				out = append(out, Sentence{Text: s, Boxes: [][4]float64{}})
			}
			start = i + 1
		}
	}
	if s := strings.TrimSpace(text[start:]); s != "" {
		out = append(out, Sentence{Text: s, Boxes: [][4]float64{}})
	}
	return out
}

var abbreviation = map[string]bool{"dr.": true, "vs.": true, "e.g.": true, "i.e.": true, "approx.": true}

func lastWord(s string) string {
	if i := strings.LastIndexByte(s, ' '); i >= 0 {
		return s[i+1:]
	}
	return s
}
