package main

import (
	"encoding/json"
	"fmt"
	"io"
	"time"

	"maira/models/draft"
	"maira/models/maira"
	"maira/models/tokenizer"
	"maira/quant/gguf"
	"maira/quant/modelfile"
	"maira/runtime"
)

func init() {
	commands["bench"] = command{
		summary: "measure image encoding, prefill and decode speed of a model file",
		run:     runBench,
	}
}

// benchResult is bench's --json output.
type benchResult struct {
	Model          string  `json:"model"`
	Backend        string  `json:"backend"`
	Threads        int     `json:"threads"`
	EncodeMS       float64 `json:"image_encode_ms,omitempty"`
	PromptTokens   int     `json:"prompt_tokens"`
	PrefillTPS     float64 `json:"prefill_tokens_per_s"`
	GenTokens      int     `json:"gen_tokens"`
	DecodeTPS      float64 `json:"decode_tokens_per_s"`
	PeakRSSBytes   int64   `json:"peak_rss_bytes"`
	LoadMS         float64 `json:"load_ms"`
	Quantization   string  `json:"quantization"`
	ImageEncodeRun bool    `json:"image_encode_run"`
}

func runBench(args []string, stdout, stderr io.Writer) error {
	c := newCLI("bench", "--model M.gguf [--prompt-tokens N] [--gen-tokens N] [--threads N] [--json]\n\n"+
		"Times one image encode at the encoder's native size (maira files), a prefill of N prompt\n"+
		"tokens and N greedy decode steps (EOS and the repetition guard off), and reports the\n"+
		"peak resident memory.", stdout)
	ef := addEngineFlags(c)
	promptTokens := c.Int("prompt-tokens", 128, "prompt tokens to prefill")
	genTokens := c.Int("gen-tokens", 32, "tokens to decode")
	noImage := c.Bool("no-image", false, "skip the image encode")
	asJSON := c.Bool("json", false, "print JSON")
	pos, err := c.parse(args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return usagef("unexpected argument %q", pos[0])
	}
	if *promptTokens < 1 || *genTokens < 1 {
		return usagef("--prompt-tokens and --gen-tokens must be at least 1")
	}
	b, err := ef.open()
	if err != nil {
		return err
	}
	defer b.Close()
	t0 := time.Now()
	m, err := maira.Load(*ef.model, b)
	if err != nil {
		return err
	}
	defer m.Close()
	res := benchResult{Model: *ef.model, Backend: b.Describe(), Threads: *ef.threads, PromptTokens: *promptTokens,
		GenTokens: *genTokens, LoadMS: ms(time.Since(t0))}
	res.Quantization = draft.Quantization(m)

	if m.Vision != nil && !*noImage {
		v := m.Header.Vision
		pix := make([]float32, v.Channels*v.ImageSize*v.ImageSize)
		for i := range pix {
			pix[i] = float32(i%251)/125 - 1 // any values: the work does not depend on them
		}
		t := time.Now()
		feats, emb, err := m.EncodeImage(pix, v.ImageSize, v.ImageSize)
		if err != nil {
			return err
		}
		if err := b.Sync(); err != nil {
			return err
		}
		res.EncodeMS = ms(time.Since(t))
		res.ImageEncodeRun = true
		b.Free(feats)
		b.Free(emb)
	}

	// A prompt of ordinary tokens (not control or byte pieces), so the
	// work is what a real prompt costs.
	ids := make([]int32, *promptTokens)
	for i := range ids {
		ids[i] = int32(1000 + (i*7919)%20000)
	}
	s, err := m.LLM.NewSession(*promptTokens + *genTokens - 1)
	if err != nil {
		return fmt.Errorf("%s: %v", *ef.model, err)
	}
	defer s.Close()
	x, err := s.Embed(ids)
	if err != nil {
		return err
	}
	defer b.Free(x)
	r, err := runtime.Generate(s, x, runtime.GenerateOptions{MaxTokens: *genTokens, EOS: -1, RepeatGuard: -1}, nil)
	if err != nil {
		return err
	}
	res.PrefillTPS, res.DecodeTPS = r.PrefillTokensPerSecond, r.DecodeTokensPerSecond
	res.PeakRSSBytes = peakRSS()
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(res)
	}
	fmt.Fprintf(stdout, "model: %s (%s)\nbackend: %s\nload: %.0f ms\n", res.Model, res.Quantization, res.Backend, res.LoadMS)
	if res.ImageEncodeRun {
		fmt.Fprintf(stdout, "image encode: %.1f ms (%dx%d)\n", res.EncodeMS, m.Header.Vision.ImageSize, m.Header.Vision.ImageSize)
	}
	fmt.Fprintf(stdout, "prefill: %d tokens, %.1f tokens/s\ndecode: %d tokens, %.2f tokens/s\npeak RSS: %s\n",
		res.PromptTokens, res.PrefillTPS, res.GenTokens, res.DecodeTPS, humanBytes(res.PeakRSSBytes))
	return nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// loadTokenizer reads only a model file's tokenizer, without its weights.
func loadTokenizer(path string) (*tokenizer.Tokenizer, error) {
	f, err := gguf.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	h, err := modelfile.Read(f)
	if err != nil {
		return nil, err
	}
	tok, err := tokenizer.New(h.Tokenizer)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	return tok, nil
}
