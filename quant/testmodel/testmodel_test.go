package testmodel

import (
	"bytes"
	"image"
	"os"
	"path/filepath"
	"testing"

	"maira/quant/hf"
	"maira/quant/safetensors"
)

func TestPresetsParse(t *testing.T) {
	for _, p := range Presets() {
		t.Run(p.Name, func(t *testing.T) {
			cfg, err := hf.ParseConfig(p.ConfigJSON("bfloat16"), p.Name)
			if err != nil {
				t.Fatal(err)
			}
			if cfg.ModelType != "maira2" || cfg.Text.HiddenSize != p.TextHidden || cfg.Vision.IntermediateSize != p.VisionMLP ||
				cfg.Projector.Layers != p.ProjectorLayers || cfg.ImageTokenIndex != ImageTokenID {
				t.Errorf("config disagrees with the preset: %+v", cfg)
			}
			if _, err := hf.ParsePreprocessor(p.PreprocessorJSON(), p.Name, p.ImageSize); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestVicunaShape checks the full-size preset has MAIRA-2's real size
// without generating it: RAD-DINO ~86M, projector ~53M, Vicuna-7B ~6.74B
// parameters with the 207 added tokens.
func TestVicunaShape(t *testing.T) {
	p, err := Lookup("vicuna7b-shape")
	if err != nil {
		t.Fatal(err)
	}
	var vision, proj, text int64
	for _, ts := range p.Tensors() {
		switch n := ts.Name; {
		case len(n) > 13 && n[:13] == "vision_tower.":
			vision += ts.Elements()
		case len(n) > 22 && n[:22] == "multi_modal_projector.":
			proj += ts.Elements()
		default:
			text += ts.Elements()
		}
	}
	check := func(name string, got, lo, hi int64) {
		if got < lo || got > hi {
			t.Errorf("%s: %d parameters, want %d..%d", name, got, lo, hi)
		}
	}
	check("vision", vision, 86_000_000, 87_000_000)
	check("projector", proj, 53_000_000, 54_000_000)
	check("language model", text, 6_740_000_000, 6_745_000_000)
}

func TestDeterministic(t *testing.T) {
	p, _ := Lookup("tiny")
	a, b, c := filepath.Join(t.TempDir(), "a"), filepath.Join(t.TempDir(), "b"), filepath.Join(t.TempDir(), "c")
	for _, w := range []struct {
		dir  string
		seed uint64
	}{{a, 3}, {b, 3}, {c, 4}} {
		if err := WriteHF(w.dir, p, Options{Seed: w.seed, DType: BF16, Workers: 3}); err != nil {
			t.Fatal(err)
		}
	}
	ents, err := os.ReadDir(a)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		da, _ := os.ReadFile(filepath.Join(a, e.Name()))
		db, _ := os.ReadFile(filepath.Join(b, e.Name()))
		if !bytes.Equal(da, db) {
			t.Errorf("%s differs between two runs with the same seed", e.Name())
		}
	}
	sa, err := safetensors.Open(a)
	if err != nil {
		t.Fatal(err)
	}
	defer sa.Close()
	sc, err := safetensors.Open(c)
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	if len(sa.Files) < 2 {
		t.Errorf("%d shards, want at least 2", len(sa.Files))
	}
	for _, ta := range sa.Tensors {
		if bytes.Equal(ta.Data, sc.Tensor(ta.Name).Data) {
			t.Errorf("%s is the same under another seed", ta.Name)
		}
	}
}

func TestRefusesNonEmptyFolder(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "x"), nil, 0o644)
	p, _ := Lookup("tiny")
	if err := WriteHF(dir, p, Options{DType: BF16}); err == nil {
		t.Error("wrote into a non-empty folder")
	}
}

// TestValueScales checks the random weights look like weights: norms near
// 1, matrices with std about 0.02.
func TestValueScales(t *testing.T) {
	p, _ := Lookup("tiny")
	for _, ts := range p.Tensors() {
		g := newGenerator(1, ts, F32)
		v := make([]float32, min(ts.Elements(), 4096))
		g.fill(v, 0)
		var sum, sq float64
		for _, x := range v {
			sum += float64(x)
			sq += float64(x) * float64(x)
		}
		mean := sum / float64(len(v))
		std := sq/float64(len(v)) - mean*mean
		switch ts.kind {
		case kindNorm:
			if mean < 0.9 || mean > 1.1 {
				t.Errorf("%s: mean %v", ts.Name, mean)
			}
		case kindWeight:
			if len(v) >= 1024 && (std < 0.0003 || std > 0.0005) { // variance of std 0.02
				t.Errorf("%s: variance %v", ts.Name, std)
			}
		}
	}
}

func TestRadiograph(t *testing.T) {
	a, err := Radiograph(64, 48, 16, 1)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Radiograph(64, 48, 16, 1)
	if !bytes.Equal(a.(*image.Gray16).Pix, b.(*image.Gray16).Pix) {
		t.Error("not deterministic")
	}
	for _, bad := range [][3]int{{0, 5, 8}, {5, 5, 12}, {100000, 100000, 8}} {
		if _, err := Radiograph(bad[0], bad[1], bad[2], 1); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}
