package main

import (
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"

	"maira/eval"
	"maira/eval/chexpert"
	"maira/eval/metrics"
	"maira/models/draft"
)

func init() {
	commands["eval"] = command{
		summary: "score drafts against references: BLEU, METEOR, ROUGE-L, CIDEr-D, CheXpert F1",
		run:     runEval,
	}
}

func runEval(args []string, stdout, stderr io.Writer) error {
	c := newCLI("eval", "--refs REFS --hyps HYPS [--json] [--per-study] [--resamples N] [--seed S] [--wordnet DIR]\n"+
		"       maira eval --model Q.gguf --baseline F.gguf --images DIR [--max-tokens N] [--json] [--per-study]\n\n"+
		"REFS and HYPS are JSONL files, one {\"id\": ..., \"text\": ...} per line, or maira watch output\n"+
		"folders (OUT/reports/*/*/report.json: id = study_id, text = findings). A reference id may repeat\n"+
		"(several references for one study). Prints BLEU-1..4, METEOR, ROUGE-L and CIDEr-D as\n"+
		"pycocoevalcap computes them, and CheXpert F1 from maira's labeler, each with a 95% bootstrap\n"+
		"confidence interval (resamples of the studies, fixed seed).\n\n"+
		"With --model, --baseline and --images, drafts every image in DIR (PNG, JPEG or DICOM; each one\n"+
		"frontal image, the study id its file name) with both models and reports how far the model's\n"+
		"drafts stray from the baseline's: the metrics above (baseline drafts as references), CheXpert\n"+
		"label agreement per observation, token agreement and the speed of each. docs/eval.md describes\n"+
		"the metrics.", stdout)
	ef := addEngineFlags(c)
	baseline := c.String("baseline", "", "the reference model (e.g. the f32 or bf16 GGUF the model was quantized from)")
	images := c.String("images", "", "folder of frontal images to draft with --model and --baseline")
	maxTokens := c.Int("max-tokens", 0, "cap on generated tokens per draft (default: the model's)")
	refs := c.String("refs", "", "reference reports (JSONL or watch output folder)")
	hyps := c.String("hyps", "", "hypothesis reports (JSONL or watch output folder)")
	asJSON := c.Bool("json", false, "print the results as JSON")
	perStudy := c.Bool("per-study", false, "also print each study's scores and labels")
	resamples := c.Int("resamples", eval.DefaultResamples, "bootstrap resamples")
	seed := c.Uint64("seed", eval.DefaultSeed, "bootstrap seed")
	wordnet := c.String("wordnet", metrics.DefaultWordNetDir, "WordNet dict folder for METEOR's synonym module (\"none\": off; used only when its files are there)")
	pos, err := c.parse(args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return usagef("unexpected argument %q (files go with --refs and --hyps)", pos[0])
	}
	modelMode := *ef.model != "" || *baseline != "" || *images != ""
	if modelMode && (*refs != "" || *hyps != "") {
		return usagef("--refs/--hyps and --model/--baseline/--images are two different uses; give one")
	}
	if modelMode && (*ef.model == "" || *baseline == "" || *images == "") {
		return usagef("--model Q.gguf, --baseline F.gguf and --images DIR are all required to compare models")
	}
	if !modelMode && (*refs == "" || *hyps == "") {
		return usagef("--refs REFS and --hyps HYPS are both required")
	}
	if *maxTokens < 0 {
		return usagef("--max-tokens %d: want 0 (the model's) or more", *maxTokens)
	}
	if *resamples < 1 {
		return usagef("--resamples %d: want at least 1", *resamples)
	}
	if *seed == 0 {
		return usagef("--seed 0: want a nonzero seed")
	}
	opt := eval.Options{Resamples: *resamples, Seed: *seed}
	if *wordnet != "none" && *wordnet != "" {
		if wn, err := metrics.LoadWordNet(*wordnet); err == nil {
			opt.WordNet = wn
		} else if *wordnet != metrics.DefaultWordNetDir {
			return fmt.Errorf("--wordnet %s: %v", *wordnet, err)
		}
	}
	if modelMode {
		return compareModels(ef, *baseline, *images, *maxTokens, opt, *asJSON, *perStudy, stdout, stderr)
	}
	rt, err := eval.Load(*refs)
	if err != nil {
		return err
	}
	ht, err := eval.Load(*hyps)
	if err != nil {
		return err
	}
	studies, err := eval.Match(rt, ht, *refs, *hyps)
	if err != nil {
		return err
	}
	res := eval.Evaluate(studies, opt)
	if !*perStudy {
		res.PerStudy = nil
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(res)
	}
	printEval(stdout, res)
	return nil
}

func printEval(w io.Writer, r eval.Result) {
	fmt.Fprintf(w, "%d studies; 95%% bootstrap intervals: %d resamples of the studies, seed %d\n\n",
		r.Studies, r.Bootstrap.Resamples, r.Bootstrap.Seed)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "metric\tvalue\t95% CI")
	for _, m := range r.Metrics {
		fmt.Fprintf(tw, "%s\t%.4f\t[%.4f, %.4f]\n", m.Name, m.Value, m.Lo, m.Hi)
	}
	tw.Flush()
	fmt.Fprintln(w, "\nCheXpert F1 per observation (uncertain counted as positive):")
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, m := range r.F1PerObs {
		fmt.Fprintf(tw, "  %s\t%.4f\t[%.4f, %.4f]\n", m.Name, m.Value, m.Lo, m.Hi)
	}
	tw.Flush()
	fmt.Fprintln(w, "\nNotes:")
	for _, n := range r.Notes {
		fmt.Fprintf(w, "  - %s\n", n)
	}
	if len(r.PerStudy) == 0 {
		return
	}
	fmt.Fprintln(w, "\nPer study (labels: observation ref/hyp where they differ; 1 positive, 0 negative, -1 uncertain, blank absent):")
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "id\t"+strings.Join(metrics.Names, "\t")+"\tlabels differing")
	for _, s := range r.PerStudy {
		fmt.Fprintf(tw, "%s", s.ID)
		for _, n := range metrics.Names {
			fmt.Fprintf(tw, "\t%.4f", s.Scores[n])
		}
		var diff []string
		for _, obs := range chexpert.Observations {
			if s.RefLabels[obs] != s.HypLabels[obs] {
				diff = append(diff, fmt.Sprintf("%s %s/%s", obs, s.RefLabels[obs], s.HypLabels[obs]))
			}
		}
		sort.Strings(diff)
		fmt.Fprintf(tw, "\t%s\n", strings.Join(diff, "; "))
	}
	tw.Flush()
}

// compareModels drafts every image with the baseline, then with the
// model (one engine open at a time), and compares the drafts.
func compareModels(ef engineFlags, baseline, dir string, maxTokens int, opt eval.Options, asJSON, perStudy bool, stdout, stderr io.Writer) error {
	imgs, err := eval.ListImages(dir)
	if err != nil {
		return err
	}
	model := *ef.model
	run := func(path string) ([]eval.Generation, string, error) {
		f := ef
		f.model = &path
		e, b, err := f.engine()
		if err != nil {
			return nil, "", err
		}
		defer b.Close()
		defer e.Close()
		gens, err := eval.DraftAll(e, imgs, maxTokens, func(i int, g eval.Generation) {
			fmt.Fprintf(stderr, "%s: %d/%d %s (%d tokens, %.1f tokens/s)\n", filepath.Base(path), i+1, len(imgs), g.ID, g.GeneratedTokens, g.DecodeTokensPerS)
		})
		if err != nil {
			return nil, "", err
		}
		return gens, draft.Quantization(e.Model), nil
	}
	base, baseQuant, err := run(baseline)
	if err != nil {
		return err
	}
	quant, modelQuant, err := run(model)
	if err != nil {
		return err
	}
	res := eval.Evaluate(eval.CompareStudies(base, quant), opt)
	res.Notes = append(res.Notes, "references: the baseline's drafts; hypotheses: the model's drafts (empty drafts are scored as they are)")
	if !perStudy {
		res.PerStudy = nil
	}
	cmp := eval.Compare(base, quant)
	if asJSON {
		type side struct {
			File         string `json:"file"`
			Quantization string `json:"quantization"`
		}
		var drafts []map[string]string
		if perStudy {
			for i := range imgs {
				drafts = append(drafts, map[string]string{"id": base[i].ID, "baseline": base[i].Findings, "model": quant[i].Findings})
			}
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(struct {
			Model      side                `json:"model"`
			Baseline   side                `json:"baseline"`
			Evaluation eval.Result         `json:"evaluation"`
			Comparison eval.Comparison     `json:"comparison"`
			Drafts     []map[string]string `json:"drafts,omitempty"`
		}{side{model, modelQuant}, side{baseline, baseQuant}, res, cmp, drafts})
	}
	fmt.Fprintf(stdout, "model:    %s (%s)\nbaseline: %s (%s)\nthe model's drafts scored against the baseline's, %d images\n\n",
		model, modelQuant, baseline, baseQuant, len(imgs))
	printEval(stdout, res)
	fmt.Fprintln(stdout, "\nCheXpert label agreement per observation (same label, blank included):")
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	for _, s := range cmp.LabelAgreement {
		fmt.Fprintf(tw, "  %s\t%.4f\n", s.Name, s.Value)
	}
	tw.Flush()
	fmt.Fprintf(stdout, "\nToken agreement: identical drafts %.4f, same token at the same position %.4f, common prefix %.4f (mean share)\n",
		cmp.Tokens.Identical, cmp.Tokens.Positional, cmp.Tokens.MeanPrefix)
	fmt.Fprintln(stdout, "\nSpeed (means over the images):")
	tw = tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  \tencode ms\tprefill tokens/s\tdecode tokens/s\ttotal ms\tgenerated tokens")
	for _, k := range []string{"baseline", "model"} {
		s := cmp.Speed[k]
		fmt.Fprintf(tw, "  %s\t%.1f\t%.1f\t%.1f\t%.1f\t%d\n", k, s.MeanEncodeMS, s.MeanPrefillTokensPS, s.MeanDecodeTokensPS, s.MeanTotalMS, s.GeneratedTokens)
	}
	tw.Flush()
	if perStudy {
		fmt.Fprintln(stdout, "\nDrafts:")
		for i := range imgs {
			fmt.Fprintf(stdout, "  %s\n    baseline: %s\n    model:    %s\n", base[i].ID, base[i].Findings, quant[i].Findings)
		}
	}
	return nil
}
