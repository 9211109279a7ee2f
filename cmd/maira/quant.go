package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"maira/eval"
	"maira/quant/convert"
	"maira/quant/dtype"
	"maira/quant/hf"
)

func init() {
	commands["quant"] = command{
		summary: "convert a Hugging Face checkpoint into one quantized GGUF",
		run:     runQuant,
	}
}

func runQuant(args []string, stdout, stderr io.Writer) error {
	c := newCLI("quant", "SRC -o OUT.gguf [--type T | --vision-type T --llm-type T] [--dry-run]\n"+
		"       [--check IMAGES [--baseline F.gguf] [--check-tokens N]]\n\n"+
		"SRC is a Hugging Face checkpoint folder (microsoft/maira-2, a llava-style model with a Dinov2\n"+
		"tower, or a plain llama model). Types: "+strings.Join(dtype.Names(), ", ")+".\n"+
		"Default recipe: "+convert.RecipeHelp+".\n"+
		"A tensor whose rows do not fit the type's blocks falls back to the nearest type that fits\n"+
		"(q4_k -> q8_0 -> f16), and the summary says so.", stdout)
	out := c.String("o", "", "output GGUF file (written only when complete)")
	all := c.String("type", "", "one type for every weight matrix (overrides the recipe)")
	vision := c.String("vision-type", "", "type for the vision encoder and projector matrices")
	llm := c.String("llm-type", "", "type for the language model's matrices and embeddings")
	dry := c.Bool("dry-run", false, "print the plan and the output size; write nothing")
	workers := c.Int("j", 0, "quantizing threads (default: one per CPU)")
	top := c.Int("top", 12, "how many of the largest tensors the summary lists with their error")
	check := c.String("check", "", "after converting, draft the images in this folder with the new file and with a baseline, and report how far they stray (maira eval --model --baseline)")
	baseline := c.String("baseline", "", "the baseline GGUF for --check (default: the source written as bf16 next to OUT, removed afterwards; about 2 bytes a weight)")
	checkTokens := c.Int("check-tokens", 0, "cap on generated tokens per draft for --check (default: the model's)")
	pos, err := c.parse(args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("want one SRC checkpoint folder, got %d arguments", len(pos))
	}
	if *out == "" {
		return usagef("-o OUT.gguf is required")
	}
	recipe, err := convert.ParseRecipe(*all, *vision, *llm)
	if err != nil {
		return usageError{err.Error()}
	}
	ck, err := hf.Open(pos[0])
	if err != nil {
		return err
	}
	defer ck.Close()
	plan, err := convert.NewPlan(convert.FromCheckpoint(ck), recipe)
	if err != nil {
		return err
	}
	size, err := plan.OutputSize(*out)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s -> %s\nmodel: %s; recipe: %s\ninput: %s (%s)\n", pos[0], *out,
		describe(plan), plan.Recipe, humanBytes(plan.InputBytes()), strings.Join(plan.Header.SourceDTypes, ", "))
	if *dry {
		printTypes(stdout, plan)
		printFallbacks(stdout, plan)
		fmt.Fprintf(stdout, "would write %s (%d bytes, %d tensors)\n", humanBytes(size), size, len(plan.Tensors))
		return nil
	}
	bar := newProgress(stderr, "quantizing")
	start := time.Now()
	err = plan.Write(*out, convert.Options{Workers: *workers, Progress: func(p convert.Progress) {
		bar.update(p.DoneBytes, p.TotalBytes, p.Elapsed, p.Tensor)
	}})
	bar.finish()
	if err != nil {
		return err
	}
	el := time.Since(start)
	printTypes(stdout, plan)
	printFallbacks(stdout, plan)
	printLargest(stdout, plan, *top)
	fmt.Fprintf(stdout, "wrote %s: %s in %s, %s/s of input\n", *out, humanBytes(size), el.Round(time.Millisecond),
		humanBytes(int64(float64(plan.InputBytes())/el.Seconds())))
	if *check == "" {
		return nil
	}
	return quantCheck(ck, *out, *baseline, *check, *checkTokens, *workers, stdout, stderr)
}

// quantCheck drafts the check images with the converted file and a
// baseline and prints how far the new file's drafts stray (the numbers of
// maira eval --model --baseline). Without --baseline, the source itself is
// written as bf16 (exact for bf16 checkpoints) beside the output, used, and
// removed. It reports; it does not judge: what loss is acceptable is the
// developer's call, made on these numbers.
func quantCheck(ck *hf.Checkpoint, out, baseline, images string, maxTokens, workers int, stdout, stderr io.Writer) error {
	if baseline == "" {
		recipe, err := convert.ParseRecipe("bf16", "", "")
		if err != nil {
			return err
		}
		plan, err := convert.NewPlan(convert.FromCheckpoint(ck), recipe)
		if err != nil {
			return err
		}
		baseline = strings.TrimSuffix(out, ".gguf") + ".check-baseline.gguf"
		size, err := plan.OutputSize(baseline)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "check: writing the bf16 baseline %s (%s, removed afterwards)\n", baseline, humanBytes(size))
		if err := plan.Write(baseline, convert.Options{Workers: workers}); err != nil {
			return err
		}
		defer os.Remove(baseline)
	}
	model, backend, kv := out, "auto", "auto"
	threads := 0
	ef := engineFlags{model: &model, backend: &backend, threads: &threads, kvCache: &kv}
	fmt.Fprintf(stdout, "check: drafting %s with %s and with %s\n", images, filepath.Base(out), filepath.Base(baseline))
	return compareModels(ef, baseline, images, maxTokens, eval.Options{Resamples: eval.DefaultResamples, Seed: eval.DefaultSeed}, false, false, stdout, stderr)
}

func describe(p *convert.Plan) string {
	h := p.Header
	s := fmt.Sprintf("%s, language model %d x %d (vocabulary %d)", h.Arch, h.Text.BlockCount, h.Text.EmbeddingLength, h.Text.VocabSize)
	if h.Vision != nil {
		s += fmt.Sprintf(", vision %d x %d at %d px, projector of %d layers", h.Vision.BlockCount, h.Vision.EmbeddingLength, h.Vision.ImageSize, h.Projector.BlockCount)
	}
	return s
}

func printTypes(w io.Writer, p *convert.Plan) {
	count := map[dtype.Type]int{}
	bytes := map[dtype.Type]int64{}
	for _, t := range p.Tensors {
		count[t.Type]++
		bytes[t.Type] += t.Bytes
	}
	fmt.Fprintln(w, "types:")
	for _, t := range dtype.All() {
		if count[t] > 0 {
			fmt.Fprintf(w, "  %-5s %4d tensors %10s\n", t, count[t], humanBytes(bytes[t]))
		}
	}
}

// printFallbacks lists the tensors stored in another type than the recipe
// asked for, one line per reason.
func printFallbacks(w io.Writer, p *convert.Plan) {
	type reason struct {
		rowLen        uint64
		wanted, type_ dtype.Type
	}
	var order []reason
	names := map[reason][]string{}
	for _, t := range p.Tensors {
		if !t.Fallback() {
			continue
		}
		r := reason{t.Dims[0], t.Wanted, t.Type}
		if names[r] == nil {
			order = append(order, r)
		}
		names[r] = append(names[r], t.Name)
	}
	for _, r := range order {
		n := names[r]
		list := strings.Join(n, ", ")
		if len(n) > 3 {
			list = fmt.Sprintf("%s and %d more", strings.Join(n[:3], ", "), len(n)-3)
		}
		fmt.Fprintf(w, "fallback: rows of %d do not fit %s blocks of %d, stored as %s: %s\n",
			r.rowLen, r.wanted, r.wanted.BlockSize(), r.type_, list)
	}
}

func printLargest(w io.Writer, p *convert.Plan, n int) {
	ts := slices.Clone(p.Tensors)
	slices.SortStableFunc(ts, func(a, b *convert.Tensor) int { return int(b.Elements() - a.Elements()) })
	if n > len(ts) {
		n = len(ts)
	}
	fmt.Fprintf(w, "largest tensors (quantization error: RMS, and relative to the weights' RMS):\n")
	for _, t := range ts[:n] {
		fmt.Fprintf(w, "  %-28s %-5s %-16s %10s  rms %.3g  rel %.3f%%\n", t.Name, t.Type, dimString(t.Dims),
			humanBytes(t.Bytes), t.Stats.RMSError(), 100*t.Stats.RelError())
	}
}

func dimString(d []uint64) string {
	s := make([]string, len(d))
	for i, v := range d {
		s[i] = fmt.Sprint(v)
	}
	return "[" + strings.Join(s, " ") + "]"
}
