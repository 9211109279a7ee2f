package main

import (
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"maira/models/draft"
	"maira/models/report"
	"maira/runtime"
)

func init() {
	commands["report"] = command{
		summary: "write the draft FINDINGS for one study (images and request sections)",
		run:     runReport,
	}
}

func runReport(args []string, stdout, stderr io.Writer) error {
	c := newCLI("report", "--model M.gguf --image FRONTAL [--lateral F] [--prior F --prior-report TEXT]\n"+
		"       [--indication T] [--technique T] [--comparison T] [--max-tokens N] [--grounded] [--json]\n"+
		"       [--dump FILE.safetensors]\n\n"+
		"Images: PNG (8/16-bit), JPEG, or DICOM (CR/DX chest radiographs; the README lists the\n"+
		"transfer syntaxes). A DICOM frontal image supplies the study identity and, when --indication\n"+
		"is not given, its indication. The findings stream to stdout as they are written; every\n"+
		"report is a machine draft for review by a radiologist.", stdout)
	ef := addEngineFlags(c)
	frontal := c.String("image", "", "current frontal image")
	lateral := c.String("lateral", "", "current lateral image")
	prior := c.String("prior", "", "prior frontal image")
	var sec report.Sections
	c.StringVar(&sec.PriorReport, "prior-report", "", "the prior study's report")
	c.StringVar(&sec.Indication, "indication", "", "INDICATION section")
	c.StringVar(&sec.Technique, "technique", "", "TECHNIQUE section")
	c.StringVar(&sec.Comparison, "comparison", "", "COMPARISON section")
	maxTokens := c.Int("max-tokens", 0, "cap on generated tokens (default: the model's, 300; 450 grounded)")
	grounded := c.Bool("grounded", false, "ask for findings with boxes (in original-image pixels)")
	asJSON := c.Bool("json", false, "print the report document (docs/report.md) instead of text")
	dump := c.String("dump", "", "write the intermediate tensors to this safetensors file")
	pos, err := c.parse(args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return usagef("unexpected argument %q (images go with --image, --lateral, --prior)", pos[0])
	}
	if *frontal == "" {
		return usagef("--image FRONTAL is required")
	}
	if sec.PriorReport != "" && *prior == "" {
		return usagef("--prior-report needs --prior (the prior frontal image)")
	}
	e, b, err := ef.engine()
	if err != nil {
		return err
	}
	defer b.Close()
	defer e.Close()

	req := draft.Request{
		StudyID:  strings.TrimSuffix(filepath.Base(*frontal), filepath.Ext(*frontal)),
		Frontal:  draft.Image{Path: *frontal},
		Sections: sec, Grounded: *grounded, MaxTokens: *maxTokens,
	}
	if *lateral != "" {
		req.Lateral = &draft.Image{Path: *lateral}
	}
	if *prior != "" {
		req.Prior = &draft.Image{Path: *prior}
	}
	if *dump != "" {
		req.Dump = &draft.Dump{}
	}
	stream := e.Tokenizer.NewStream()
	tty := isTerminal(stderr)
	// The notice comes first, but only once there is a draft to mark: a
	// study that fails before generation prints only its error.
	header := false
	printHeader := func() {
		if !header && !*asJSON {
			fmt.Fprintln(stdout, report.Notice)
			fmt.Fprint(stdout, "FINDINGS: ")
			header = true
		}
	}
	started := false
	doc, err := e.Report(req, func(ev runtime.Event) {
		switch ev.Kind {
		case runtime.StageStarted:
			if tty {
				fmt.Fprintf(stderr, "[%s]\n", ev.Stage)
			}
		case runtime.TokenProduced:
			if !*asJSON {
				printHeader()
				text := stream.Add(ev.Token)
				if !started {
					text = strings.TrimLeft(text, " ")
					started = text != ""
				}
				fmt.Fprint(stdout, text)
			}
		}
	})
	if err != nil {
		if header {
			fmt.Fprintln(stdout)
		}
		return err
	}
	if *dump != "" {
		if err := req.Dump.Write(*dump); err != nil {
			return err
		}
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(doc)
	}
	printHeader()
	fmt.Fprintln(stdout, stream.Flush())
	if doc.Grounded {
		for _, s := range doc.Sentences {
			fmt.Fprintf(stdout, "  - %s", s.Text)
			for _, bx := range s.Boxes {
				fmt.Fprintf(stdout, " [%.0f %.0f %.0f %.0f]", bx[0], bx[1], bx[2], bx[3])
			}
			fmt.Fprintln(stdout)
		}
	}
	for _, w := range doc.Warnings {
		fmt.Fprintf(stdout, "warning: %s\n", w)
	}
	t := doc.Timings
	fmt.Fprintf(stderr, "%d prompt tokens, %d generated (%s); encode %.0f ms, prefill %.1f tokens/s, decode %.1f tokens/s, total %.1f s\n",
		t.PromptTokens, t.GeneratedTokens, doc.StopReason, t.EncodeMS, t.PrefillTokensPerS, t.DecodeTokensPerS, t.TotalMS/1000)
	return nil
}
