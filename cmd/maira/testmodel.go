package main

import (
	"fmt"
	"io"
	"strings"
	"time"

	"maira/quant/convert"
	"maira/quant/testmodel"
	"maira/watcher"
)

func init() {
	commands["testmodel"] = command{
		summary: "write a deterministic random-weight MAIRA-2 checkpoint (for tests, demo, benchmarks)",
		run:     runTestmodel,
	}
}

func runTestmodel(args []string, stdout, stderr io.Writer) error {
	var presets []string
	for _, p := range testmodel.Presets() {
		presets = append(presets, fmt.Sprintf("  %-15s %s", p.Name, p.Description))
	}
	c := newCLI("testmodel", "--preset NAME -o DIR [--dtype f32|bf16] [--seed N]\n"+
		"       maira testmodel --preset NAME --gguf TYPE -o FILE.gguf\n"+
		"       maira testmodel --image FILE.png [--size 640x560] [--depth 16]\n"+
		"       maira testmodel --studies DIR [--count 3] [--size 640x560]\n\n"+
		"Writes a checkpoint in exactly the microsoft/maira-2 layout (config.json, sharded safetensors\n"+
		"and index, tokenizer files with the real LLaMA vocabulary and MAIRA-2's added tokens,\n"+
		"preprocessor settings), or, with --gguf, the same model straight into a GGUF file\n"+
		"(TYPE is a type name or \"mixed\" for the default recipe).\n\nPresets:\n"+strings.Join(presets, "\n"), stdout)
	preset := c.String("preset", "tiny", "model shape")
	out := c.String("o", "", "output folder (or file with --gguf)")
	dt := c.String("dtype", "bf16", "storage type of the checkpoint: f32 or bf16")
	seed := c.Uint64("seed", 1, "random seed")
	ggufType := c.String("gguf", "", "write a GGUF of this type instead of a checkpoint folder")
	workers := c.Int("j", 0, "threads (default: one per CPU)")
	imagePath := c.String("image", "", "write a synthetic chest radiograph PNG to this file instead")
	size := c.String("size", "640x560", "radiograph size WIDTHxHEIGHT (with --image)")
	depth := c.Int("depth", 16, "radiograph bits per sample, 8 or 16 (with --image)")
	studies := c.String("studies", "", "write synthetic studies into this folder instead (DICOM frontal+lateral, DICOM frontal, PNG+sidecar)")
	count := c.Int("count", 3, "number of studies (with --studies)")
	pos, err := c.parse(args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return usagef("unexpected argument %q", pos[0])
	}
	if *studies != "" {
		var w, h int
		if _, err := fmt.Sscanf(*size, "%dx%d", &w, &h); err != nil {
			return usagef("--size %q: want WIDTHxHEIGHT", *size)
		}
		if *count < 1 {
			return usagef("--count %d: want at least 1", *count)
		}
		st, err := watcher.WriteDemoStudies(*studies, *count, w, h, *seed)
		if err != nil {
			return err
		}
		n := 0
		for _, f := range st {
			n += len(f)
		}
		fmt.Fprintf(stdout, "wrote %d synthetic studies (%d files) into %s\n", len(st), n, *studies)
		return nil
	}
	if *imagePath != "" {
		var w, h int
		if _, err := fmt.Sscanf(*size, "%dx%d", &w, &h); err != nil {
			return usagef("--size %q: want WIDTHxHEIGHT", *size)
		}
		if err := testmodel.WriteRadiograph(*imagePath, w, h, *depth, *seed); err != nil {
			return fmt.Errorf("%s: %v", *imagePath, err)
		}
		fmt.Fprintf(stdout, "wrote %s (%dx%d, %d-bit synthetic radiograph)\n", *imagePath, w, h, *depth)
		return nil
	}
	if *out == "" {
		return usagef("-o is required")
	}
	p, err := testmodel.Lookup(*preset)
	if err != nil {
		return usageError{err.Error()}
	}
	d, err := testmodel.ParseDType(*dt)
	if err != nil {
		return usageError{err.Error()}
	}
	bar := newProgress(stderr, "generating")
	start := time.Now()
	opt := testmodel.Options{Seed: *seed, DType: d, Workers: *workers, Progress: func(done, total int64) {
		bar.update(done, total, time.Since(start), "")
	}}
	if *ggufType != "" {
		var r convert.Recipe
		if *ggufType == "mixed" {
			r = convert.DefaultRecipe()
		} else if r, err = convert.ParseRecipe(*ggufType, "", ""); err != nil {
			return usageError{err.Error()}
		}
		err = testmodel.WriteGGUF(*out, p, r, opt)
	} else {
		err = testmodel.WriteHF(*out, p, opt)
	}
	bar.finish()
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s (%s, seed %d) in %s\n", *out, p.Name, *seed, time.Since(start).Round(time.Millisecond))
	return nil
}
