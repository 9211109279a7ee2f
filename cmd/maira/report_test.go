package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"maira/dicom"
	"maira/models/imageproc"
	"maira/models/report"
	"maira/quant/safetensors"
)

var (
	modelOnce sync.Once
	modelDir  string
	modelErr  error
)

// testFiles returns a tiny f32 model file, its language model exported
// alone, and a synthetic radiograph, made once for the package's tests.
func testFiles(t *testing.T) (model, llm, image string) {
	t.Helper()
	modelOnce.Do(func() {
		modelDir, modelErr = os.MkdirTemp("", "maira-report-test-")
		if modelErr != nil {
			return
		}
		for _, args := range [][]string{
			{"testmodel", "--preset", "tiny", "--gguf", "f32", "-o", filepath.Join(modelDir, "m.gguf")},
			{"export", "--llm-only", filepath.Join(modelDir, "m.gguf"), "-o", filepath.Join(modelDir, "llm.gguf")},
			{"testmodel", "--image", filepath.Join(modelDir, "cxr.png"), "--size", "300x260"},
		} {
			if code, _, stderr := mairaCLI(args...); code != 0 {
				modelErr = &os.PathError{Op: strings.Join(args, " "), Err: os.ErrInvalid, Path: stderr}
				return
			}
		}
	})
	if modelErr != nil {
		t.Fatal(modelErr)
	}
	return filepath.Join(modelDir, "m.gguf"), filepath.Join(modelDir, "llm.gguf"), filepath.Join(modelDir, "cxr.png")
}

func TestReport(t *testing.T) {
	model, _, image := testFiles(t)
	code, stdout, stderr := mairaCLI("report", "--model", model, "--image", image, "--indication", "Cough.", "--max-tokens", "12", "--threads", "2")
	if code != 0 {
		t.Fatalf("report: %s", stderr)
	}
	if !strings.HasPrefix(stdout, report.Notice+"\nFINDINGS: ") {
		t.Errorf("the draft notice must come first:\n%s", stdout)
	}

	dump := filepath.Join(t.TempDir(), "d.safetensors")
	code, stdout, stderr = mairaCLI("report", "--model", model, "--image", image, "--lateral", image, "--json", "--max-tokens", "12", "--dump", dump)
	if code != 0 {
		t.Fatalf("report --json: %s", stderr)
	}
	var doc report.Document
	if err := json.Unmarshal([]byte(stdout), &doc); err != nil {
		t.Fatalf("%v\n%s", err, stdout)
	}
	if doc.Schema != report.Schema || !doc.DraftForReview || doc.StudyID != "cxr" || len(doc.Inputs) != 2 ||
		doc.Inputs[1].View != "lateral" || len(doc.Inputs[0].SHA256) != 64 || len(doc.Model.SHA256) != 64 ||
		doc.Timings.GeneratedTokens != len(doc.TokenIDs) || doc.Model.Quantization != "vision f32, language model f32, embeddings f32" ||
		doc.Model.KVCache != "f16" { // auto, on heads of 16
		t.Errorf("document: %+v", doc)
	}
	// Text tokens plus 2 images of 16 patches each.
	if doc.Timings.PromptTokens < 2*16+50 {
		t.Errorf("%d prompt tokens", doc.Timings.PromptTokens)
	}
	set, err := safetensors.Open(dump)
	if err != nil {
		t.Fatal(err)
	}
	defer set.Close()
	want := map[string][]int64{
		"pixel_values": {2, 3, 56, 56}, "image_features": {2, 16, 32}, "image_embeddings": {2, 16, 64},
		"prompt_ids": {int64(doc.Timings.PromptTokens)}, "first_logits": {32207},
	}
	for name, shape := range want {
		ts := set.Tensor(name)
		if ts == nil || len(ts.Shape) != len(shape) {
			t.Fatalf("%s: %v", name, ts)
		}
		for i := range shape {
			if ts.Shape[i] != shape[i] {
				t.Errorf("%s shape %v, want %v", name, ts.Shape, shape)
			}
		}
	}
	if set.Tensor("prompt_ids").DType != "I32" {
		t.Error("prompt_ids is not int32")
	}
	if code, stdout, _ := mairaCLI("inspect", dump); code != 0 || !strings.Contains(stdout, "first_logits") {
		t.Errorf("inspect of the dump: %d\n%s", code, stdout)
	}
}

// TestReportDICOM runs a study from a DICOM file made by dcmtk: its study
// identity and indication reach the document, its role is checked.
func TestReportDICOM(t *testing.T) {
	model, _, png := testFiles(t)
	dcm := filepath.Join("..", "..", "dicom", "testdata", "u16-jpegll-sv1.dcm")
	code, stdout, stderr := mairaCLI("report", "--model", model, "--image", dcm, "--lateral", png, "--json", "--max-tokens", "4")
	if code != 0 {
		t.Fatalf("report: %s", stderr)
	}
	var doc report.Document
	if err := json.Unmarshal([]byte(stdout), &doc); err != nil {
		t.Fatalf("%v\n%s", err, stdout)
	}
	in := doc.Inputs[0].DICOM
	if doc.StudyID != "1.2.826.0.1.3680043.10.1407.1" || doc.Study == nil || doc.Study.PatientID != "PID-778899" ||
		doc.Study.AccessionNumber != "ACC0042" || doc.Sections.Indication != "Cough and fever, r/o pneumonia" ||
		in == nil || in.ViewPosition != "PA" || !strings.HasPrefix(in.TransferSyntax, "JPEG Lossless") ||
		doc.Inputs[0].Width != 59 || doc.Inputs[1].DICOM != nil {
		t.Errorf("document: %s", stdout)
	}
	for _, w := range doc.Warnings {
		if strings.Contains(w, "u16-jpegll-sv1.dcm") {
			t.Errorf("warning %q for a complete file", w)
		}
	}
	// The patient's identity stays out of the progress output.
	if strings.Contains(stderr, "778899") || strings.Contains(stderr, "Doe") {
		t.Errorf("stderr shows patient identifiers: %s", stderr)
	}

	// A given indication wins over the file's.
	code, stdout, stderr = mairaCLI("report", "--model", model, "--image", dcm, "--indication", "Dyspnea.", "--json", "--max-tokens", "2")
	if code != 0 || !strings.Contains(stdout, `"indication": "Dyspnea."`) {
		t.Errorf("report --indication: %d %s %s", code, stdout, stderr)
	}

	dir := t.TempDir()
	data, err := os.ReadFile(dcm)
	if err != nil {
		t.Fatal(err)
	}
	ct := filepath.Join(dir, "ct.dcm")
	os.WriteFile(ct, bytes.Replace(data, []byte("DX"), []byte("CT"), 1), 0o644)
	noView := filepath.Join(dir, "noview.dcm")
	os.WriteFile(noView, bytes.Replace(data, []byte("CS\x02\x00PA"), []byte("CS\x02\x00  "), 1), 0o644)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--image", png, "--lateral", dcm}, "View Position PA is a frontal view, but the image was given as the lateral image"},
		{[]string{"--image", ct}, "ct.dcm: modality CT: only chest radiographs (CR, DX) are read"},
		{[]string{"--image", filepath.Join(dir, "missing.dcm")}, "missing.dcm: no such file"},
	} {
		code, stdout, stderr := mairaCLI(append([]string{"report", "--model", model}, tc.args...)...)
		if code != 1 || stdout != "" || strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want %q", tc.args, code, stdout, stderr, tc.want)
		}
	}
	code, stdout, stderr = mairaCLI("report", "--model", model, "--image", noView, "--max-tokens", "2")
	if code != 0 || !strings.Contains(stdout, "warning: noview.dcm: View Position absent: the lone image was taken as frontal") {
		t.Errorf("no view position: %d\n%s%s", code, stdout, stderr)
	}
}

func TestDICOMCommands(t *testing.T) {
	dcm := filepath.Join("..", "..", "dicom", "testdata", "u12-jpegll-sv1.dcm")
	code, stdout, stderr := mairaCLI("inspect", dcm)
	if code != 0 || !strings.Contains(stdout, "JPEG Lossless") || !strings.Contains(stdout, "***899") ||
		strings.Contains(stdout, "778899") || strings.Contains(stdout, "Doe") || !strings.Contains(stdout, "MONOCHROME1 inverted") {
		t.Errorf("inspect: %d\n%s%s", code, stdout, stderr)
	}
	out := filepath.Join(t.TempDir(), "x.png")
	if code, stdout, stderr := mairaCLI("dicom2png", dcm, "-o", out); code != 0 || !strings.Contains(stdout, "67x53") {
		t.Fatalf("dicom2png: %d %s %s", code, stdout, stderr)
	}
	img, err := imageproc.DecodeFile(out)
	if err != nil {
		t.Fatal(err)
	}
	want, err := dicom.ReadFile(dcm)
	if err != nil {
		t.Fatal(err)
	}
	want8, _ := imageproc.MinMax8(want.Gray)
	for i, v := range want8 {
		if img.Pix[i] != uint16(v) {
			t.Fatalf("pixel %d: %d, want %d", i, img.Pix[i], v)
		}
	}
	if code, _, stderr := mairaCLI("dicom2png", "report_test.go", "-o", out); code != 1 || !strings.Contains(stderr, "report_test.go: not a DICOM file") {
		t.Errorf("dicom2png of a Go file: %d %q", code, stderr)
	}
}

func TestReportBadInput(t *testing.T) {
	model, llm, image := testFiles(t)
	dir := t.TempDir()
	gif := filepath.Join(dir, "x.gif")
	os.WriteFile(gif, []byte("GIF89a\x01\x00\x01\x00\x00\x00\x00;"), 0o644)
	trunc := filepath.Join(dir, "t.png")
	data, _ := os.ReadFile(image)
	os.WriteFile(trunc, data[:len(data)/2], 0o644)
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"missing image", []string{"--model", model, "--image", filepath.Join(dir, "none.png")}, 1, "none.png"},
		{"unsupported image", []string{"--model", model, "--image", gif}, 1, "x.gif"},
		{"truncated image", []string{"--model", model, "--image", trunc}, 1, "t.png"},
		{"language model only", []string{"--model", llm, "--image", image}, 1, "cannot read images"},
		{"prompt beyond the context", []string{"--model", model, "--image", image, "--max-tokens", "7000"}, 1, "context of 6144 positions"},
		{"not a model", []string{"--model", image, "--image", image}, 1, "not a GGUF file"},
		{"no image", []string{"--model", model}, 2, "--image"},
		{"prior report alone", []string{"--model", model, "--image", image, "--prior-report", "x"}, 2, "--prior"},
		{"cuda", []string{"--model", model, "--image", image, "--backend", "cuda"}, 1, "cuda backend not available"},
		{"unknown cache type", []string{"--model", model, "--image", image, "--kv-cache", "q4_0"}, 2, "--kv-cache"},
		{"q8_0 cache for heads of 16", []string{"--model", model, "--image", image, "--kv-cache", "q8_0"}, 1, "multiple of 32"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := mairaCLI(append([]string{"report"}, tt.args...)...)
			if stdout != "" {
				t.Errorf("a failed study printed %q", stdout)
			}
			if code != tt.code || strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, tt.want) {
				t.Errorf("exit %d (want %d), stderr %q (want %q)", code, tt.code, stderr, tt.want)
			}
		})
	}
}

func TestGenerateTokenizeBench(t *testing.T) {
	model, llm, _ := testFiles(t)
	code, stdout, stderr := mairaCLI("tokenize", "--model", model, "Given the current<image> Provide")
	if code != 0 || stdout != "11221 278 1857 32204 9133 680\n" {
		t.Errorf("tokenize: %q %s", stdout, stderr)
	}
	for _, m := range []string{model, llm} {
		code, stdout, stderr = mairaCLI("generate", "--model", m, "--prompt", "The lungs are", "--max-tokens", "6", "--json", "--repeat-guard", "0")
		if code != 0 {
			t.Fatalf("generate: %s", stderr)
		}
		var g generation
		if err := json.Unmarshal([]byte(stdout), &g); err != nil {
			t.Fatal(err)
		}
		if g.PromptIDs[0] != 1 || len(g.Margins) != len(g.Tokens) || (len(g.Tokens) != 6 && g.StopReason != "eos") {
			t.Errorf("generate %s: %+v", m, g)
		}
	}
	code, stdout, stderr = mairaCLI("bench", "--model", model, "--prompt-tokens", "8", "--gen-tokens", "4", "--json",
		"--report", "5", "--bandwidth-mb", "16")
	if code != 0 {
		t.Fatalf("bench: %s", stderr)
	}
	var b benchResult
	if err := json.Unmarshal([]byte(stdout), &b); err != nil {
		t.Fatal(err)
	}
	if !b.ImageEncodeRun || b.PrefillTPS <= 0 || b.DecodeTPS <= 0 || b.PeakRSSBytes <= 0 || b.ReadGBs <= 0 ||
		b.RooflineTPS <= 0 || b.MappedReadGBs <= 0 || b.MappedRooflineTPS <= 0 || b.ReportMS <= 0 || b.ReportTokens != 5 || b.KVCache != "f16" { // auto: heads of 16
		t.Errorf("bench: %+v", b)
	}
}
