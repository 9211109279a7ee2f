package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"maira/models/maira"
	"maira/models/tokenizer"
	"maira/runtime"
)

func init() {
	commands["generate"] = command{
		summary: "run the language model alone on a text prompt (any maira or llama GGUF)",
		run:     runGenerate,
	}
	commands["tokenize"] = command{
		summary: "print the token ids of a text (no BOS), space-separated",
		run:     runTokenize,
	}
}

// generation is generate's --json output.
type generation struct {
	PromptIDs  []int32   `json:"prompt_ids"`
	Tokens     []int32   `json:"tokens"`
	Text       string    `json:"text"`
	Margins    []float32 `json:"margins"` // top-two logit gap at each step
	StopReason string    `json:"stop_reason"`
	PrefillTPS float64   `json:"prefill_tokens_per_s"`
	DecodeTPS  float64   `json:"decode_tokens_per_s"`
}

func runGenerate(args []string, stdout, stderr io.Writer) error {
	c := newCLI("generate", "--model M.gguf --prompt TEXT [--max-tokens N] [--json]\n\n"+
		"Greedy continuation of TEXT (BOS added as the vocabulary says) by the language model\n"+
		"alone; the same file runs in llama.cpp after maira export --llm-only.", stdout)
	ef := addEngineFlags(c)
	text := c.String("prompt", "", "the prompt text")
	maxTokens := c.Int("max-tokens", 64, "tokens to generate at most")
	guard := c.Int("repeat-guard", runtime.DefaultRepeatGuard, "stop when the tail repeats this many times (0: never)")
	asJSON := c.Bool("json", false, "print ids, text, margins and speeds as JSON")
	pos, err := c.parse(args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return usagef("unexpected argument %q (the prompt goes with --prompt)", pos[0])
	}
	if *maxTokens < 1 {
		return usagef("--max-tokens must be at least 1")
	}
	b, err := ef.open()
	if err != nil {
		return err
	}
	defer b.Close()
	m, err := maira.Load(*ef.model, b)
	if err != nil {
		return err
	}
	defer m.Close()
	tok, err := tokenizer.New(m.Header.Tokenizer)
	if err != nil {
		return fmt.Errorf("%s: %v", *ef.model, err)
	}
	ids := tok.EncodePrompt(*text)
	if len(ids) == 0 {
		return usagef("the prompt is empty")
	}
	cache, _ := ef.cache(m.Header.Text) // checked by open
	s, err := m.LLM.NewSession(len(ids)+*maxTokens-1, cache)
	if err != nil {
		return fmt.Errorf("%s: %v", *ef.model, err)
	}
	defer s.Close()
	x, err := s.Embed(ids)
	if err != nil {
		return err
	}
	defer b.Free(x)
	g := *guard
	if g == 0 {
		g = -1
	}
	stream := tok.NewStream()
	res, err := runtime.Generate(s, x, runtime.GenerateOptions{MaxTokens: *maxTokens, EOS: tok.EOS(), RepeatGuard: g},
		func(ev runtime.Event) {
			if ev.Kind == runtime.TokenProduced && !*asJSON {
				fmt.Fprint(stdout, stream.Add(ev.Token))
			}
		})
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(generation{PromptIDs: ids, Tokens: nonNil(res.Tokens), Text: tok.Decode(res.Tokens), Margins: res.Margins,
			StopReason: res.StopReason, PrefillTPS: res.PrefillTokensPerSecond, DecodeTPS: res.DecodeTokensPerSecond})
	}
	fmt.Fprintln(stdout, stream.Flush())
	fmt.Fprintf(stderr, "%d prompt tokens, %d generated (%s); prefill %.1f tokens/s, decode %.1f tokens/s\n",
		len(ids), len(res.Tokens), res.StopReason, res.PrefillTokensPerSecond, res.DecodeTokensPerSecond)
	return nil
}

func nonNil(ids []int32) []int32 {
	if ids == nil {
		return []int32{}
	}
	return ids
}

func runTokenize(args []string, stdout, stderr io.Writer) error {
	c := newCLI("tokenize", "--model M.gguf TEXT\n\nPrints the ids of TEXT without BOS, as the model's tokenizer encodes it.", stdout)
	model := c.String("model", "", "model file")
	pos, err := c.parse(args)
	if err != nil {
		return err
	}
	if *model == "" {
		return usagef("--model M.gguf is required")
	}
	if len(pos) != 1 {
		return usagef("want one TEXT argument, got %d", len(pos))
	}
	tok, err := loadTokenizer(*model)
	if err != nil {
		return err
	}
	ids := tok.Encode(pos[0])
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = fmt.Sprint(id)
	}
	fmt.Fprintln(stdout, strings.Join(s, " "))
	return nil
}
