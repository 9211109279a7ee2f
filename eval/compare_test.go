package eval

import (
	"math"
	"os"
	"path/filepath"
	"testing"

	"maira/models/draft"
	"maira/quant/convert"
	"maira/quant/testmodel"
	"maira/runtime"
)

func TestCompare(t *testing.T) {
	base := []Generation{
		{ID: "a", Findings: "Small left pleural effusion.", TokenIDs: []int32{1, 2, 3, 4}, GeneratedTokens: 4, TotalMS: 100, DecodeTokensPerS: 40},
		{ID: "b", Findings: "No pneumothorax.", TokenIDs: []int32{5, 6}, GeneratedTokens: 2, TotalMS: 100, DecodeTokensPerS: 20},
	}
	model := []Generation{
		{ID: "a", Findings: "Small left pleural effusion.", TokenIDs: []int32{1, 2, 3, 4}, GeneratedTokens: 4, TotalMS: 50, DecodeTokensPerS: 80},
		{ID: "b", Findings: "Small pneumothorax.", TokenIDs: []int32{7, 6, 8}, GeneratedTokens: 3, TotalMS: 50, DecodeTokensPerS: 60},
	}
	c := Compare(base, model)
	// Tokens: a identical (4 of 4); b: positions 7/5 differ, 6/6 equal, 8 extra -> 1 of 3.
	if c.Tokens.Identical != 0.5 || math.Abs(c.Tokens.Positional-5.0/7) > 1e-12 || math.Abs(c.Tokens.MeanPrefix-0.5) > 1e-12 {
		t.Errorf("tokens: %+v", c.Tokens)
	}
	ag := map[string]float64{}
	for _, s := range c.LabelAgreement {
		ag[s.Name] = s.Value
	}
	// Pneumothorax 0 vs 1 in b; No Finding 1 vs blank in b.
	if ag["Pneumothorax"] != 0.5 || ag["No Finding"] != 0.5 || ag["Pleural Effusion"] != 1 {
		t.Errorf("label agreement: %v", ag)
	}
	if s := c.Speed["model"]; s.MeanDecodeTokensPS != 70 || s.GeneratedTokens != 7 || s.OverallTokensPerS != 70 {
		t.Errorf("speed: %+v", s)
	}
}

// TestDraftTinyModels drafts two synthetic radiographs with a tiny f32
// model and its q8_0 conversion (maira testmodel's "tiny" preset) and
// compares them end to end.
func TestDraftTinyModels(t *testing.T) {
	dir := t.TempDir()
	p, err := testmodel.Lookup("tiny")
	if err != nil {
		t.Fatal(err)
	}
	paths := map[string]string{}
	for _, ty := range []string{"f32", "q8_0"} {
		r, err := convert.ParseRecipe(ty, "", "")
		if err != nil {
			t.Fatal(err)
		}
		paths[ty] = filepath.Join(dir, ty+".gguf")
		if err := testmodel.WriteGGUF(paths[ty], p, r, testmodel.Options{Seed: 1, DType: testmodel.F32, Workers: 1}); err != nil {
			t.Fatal(err)
		}
	}
	imgDir := filepath.Join(dir, "images")
	if err := os.Mkdir(imgDir, 0o755); err != nil {
		t.Fatal(err)
	}
	for i, name := range []string{"s1.png", "s2.png"} {
		if err := testmodel.WriteRadiograph(filepath.Join(imgDir, name), 96, 80, 8, uint64(i+1)); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(filepath.Join(imgDir, "notes.txt"), []byte("not an image"), 0o644)
	imgs, err := ListImages(imgDir)
	if err != nil || len(imgs) != 2 {
		t.Fatalf("%v %v", imgs, err)
	}
	b, err := runtime.Open("cpu", 1)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	drafts := map[string][]Generation{}
	for ty, path := range paths {
		e, err := draft.Open(path, b, nil, "maira test")
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		drafts[ty], err = DraftAll(e, imgs, 24, func(int, Generation) { n++ })
		e.Close()
		if err != nil {
			t.Fatal(err)
		}
		if n != 2 || drafts[ty][0].ID != "s1" || len(drafts[ty][0].TokenIDs) == 0 || drafts[ty][0].GeneratedTokens == 0 {
			t.Fatalf("%s drafts: %+v", ty, drafts[ty])
		}
	}
	// The f32 model against itself agrees fully.
	self := Compare(drafts["f32"], drafts["f32"])
	if self.Tokens.Identical != 1 || self.Tokens.Positional != 1 {
		t.Errorf("self comparison: %+v", self.Tokens)
	}
	for _, s := range self.LabelAgreement {
		if s.Value != 1 {
			t.Errorf("self label agreement %s = %g", s.Name, s.Value)
		}
	}
	c := Compare(drafts["f32"], drafts["q8_0"])
	if c.Tokens.Positional < 0 || c.Tokens.Positional > 1 || c.Speed["model"].Studies != 2 || c.Speed["baseline"].MeanDecodeTokensPS <= 0 {
		t.Errorf("comparison: %+v", c)
	}
	res := Evaluate(CompareStudies(drafts["f32"], drafts["q8_0"]), Options{Resamples: 50})
	if res.Studies != 2 || len(res.Metrics) != 11 {
		t.Errorf("evaluation: %+v", res)
	}
	t.Logf("tiny f32 vs q8_0: token agreement %+v", c.Tokens)
}
