package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image/png"
	"io"
	goruntime "runtime"
	"strings"
	"time"

	"maira/models/draft"
	"maira/models/imageproc"
	"maira/models/maira"
	"maira/models/tokenizer"
	"maira/quant/dtype"
	"maira/quant/gguf"
	"maira/quant/modelfile"
	"maira/quant/testmodel"
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
	KVCache        string  `json:"kv_cache"`
	// ReadGBs is the measured read bandwidth of the machine with these
	// threads; RooflineTPS = ReadGBs / the language model's weight bytes,
	// the decode ceiling at short context.
	ReadGBs     float64 `json:"read_bandwidth_gb_s"`
	WeightBytes int64   `json:"llm_weight_bytes"`
	RooflineTPS float64 `json:"decode_roofline_tokens_per_s"`
	// MappedReadGBs is the same measurement over the model file's own
	// mapping (its page-cache pages, as decode reads them), and
	// MappedRooflineTPS the ceiling it gives.
	MappedReadGBs     float64 `json:"mapped_read_bandwidth_gb_s"`
	MappedRooflineTPS float64 `json:"mapped_decode_roofline_tokens_per_s"`
	// ReportMS is the time to a full report (one frontal image decoded from
	// PNG, ReportTokens generated), when asked for.
	ReportMS     float64 `json:"report_ms,omitempty"`
	ReportTokens int     `json:"report_tokens,omitempty"`
	// GraphSteps is how many decode steps ran as CUDA graphs (a GPU
	// backend that records its steps).
	GraphSteps int `json:"decode_graph_steps,omitempty"`
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
	reportTokens := c.Int("report", 0, "also time a full report of one frontal image with this many generated tokens (e.g. 150)")
	bwMB := c.Int("bandwidth-mb", 512, "buffer size for the read-bandwidth measurement (0: skip it)")
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
	threads := *ef.threads
	if threads <= 0 {
		threads = goruntime.GOMAXPROCS(0)
	}
	cache, _ := ef.cache(m.Header.Text) // checked by open
	res := benchResult{Model: *ef.model, Backend: b.Describe(), Threads: threads, PromptTokens: *promptTokens,
		GenTokens: *genTokens, LoadMS: ms(time.Since(t0)), KVCache: cache.String()}
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
	s, err := m.LLM.NewSession(*promptTokens+*genTokens-1, cache)
	if err != nil {
		return fmt.Errorf("%s: %v", *ef.model, err)
	}
	x, err := s.Embed(ids)
	if err != nil {
		s.Close()
		return err
	}
	r, err := runtime.Generate(s, x, runtime.GenerateOptions{MaxTokens: *genTokens, EOS: -1, RepeatGuard: -1}, nil)
	if err != nil {
		return err
	}
	res.PrefillTPS, res.DecodeTPS = r.PrefillTokensPerSecond, r.DecodeTokensPerSecond
	if g, ok := b.(interface{ GraphSteps() int }); ok {
		res.GraphSteps = g.GraphSteps()
	}
	s.Close()
	b.Free(x)

	if *reportTokens > 0 {
		if m.Vision == nil {
			return usagef("--report needs a maira model file (this one has no image encoder)")
		}
		if res.ReportMS, err = timeReport(m, b, cache, *reportTokens); err != nil {
			return err
		}
		res.ReportTokens = *reportTokens
	}
	res.PeakRSSBytes = peakRSS()
	for i := range m.File.Tensors {
		t := &m.File.Tensors[i]
		if !strings.HasPrefix(t.Name, "v.") && !strings.HasPrefix(t.Name, "mm.") && t.Name != modelfile.TokenEmbd {
			res.WeightBytes += int64(t.Size) // token_embd is gathered, one row per token, not streamed
		}
	}
	if *bwMB > 0 {
		res.ReadGBs = runtime.ReadBandwidth(res.Threads, *bwMB<<20) / 1e9
		res.RooflineTPS = res.ReadGBs * 1e9 / float64(res.WeightBytes)
		res.MappedReadGBs = runtime.ReadBandwidthOf(res.Threads, m.File.Bytes()) / 1e9
		res.MappedRooflineTPS = res.MappedReadGBs * 1e9 / float64(res.WeightBytes)
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(res)
	}
	fmt.Fprintf(stdout, "model: %s (%s)\nbackend: %s\nload: %.0f ms\n", res.Model, res.Quantization, res.Backend, res.LoadMS)
	if res.ImageEncodeRun {
		fmt.Fprintf(stdout, "image encode: %.1f ms (%dx%d)\n", res.EncodeMS, m.Header.Vision.ImageSize, m.Header.Vision.ImageSize)
	}
	fmt.Fprintf(stdout, "prefill: %d tokens, %.1f tokens/s\ndecode: %d tokens after the prompt, %.2f tokens/s (%s key/value cache)\n",
		res.PromptTokens, res.PrefillTPS, res.GenTokens, res.DecodeTPS, res.KVCache)
	if res.GraphSteps > 0 {
		fmt.Fprintf(stdout, "decode steps as CUDA graphs: %d\n", res.GraphSteps)
	}
	if res.ReadGBs > 0 {
		fmt.Fprintf(stdout, "read bandwidth: %.1f GB/s; language model weights %s; decode roofline %.2f tokens/s (decode at %.0f%% of it)\n",
			res.ReadGBs, humanBytes(res.WeightBytes), res.RooflineTPS, 100*res.DecodeTPS/res.RooflineTPS)
		fmt.Fprintf(stdout, "read bandwidth of the mapped model file: %.1f GB/s; decode roofline %.2f tokens/s (decode at %.0f%% of it)\n",
			res.MappedReadGBs, res.MappedRooflineTPS, 100*res.DecodeTPS/res.MappedRooflineTPS)
	}
	if res.ReportTokens > 0 {
		fmt.Fprintf(stdout, "full report (one frontal image, %d tokens): %.2f s\n", res.ReportTokens, res.ReportMS/1000)
	}
	fmt.Fprintf(stdout, "peak RSS: %s\n", humanBytes(res.PeakRSSBytes))
	return nil
}

// timeReport times draft.Report on a synthetic 2048x2500 16-bit radiograph
// decoded from PNG, generating exactly tokens tokens.
func timeReport(m *maira.Model, b runtime.Backend, cache dtype.Type, tokens int) (float64, error) {
	img, err := testmodel.Radiograph(2048, 2500, 16, 1)
	if err != nil {
		return 0, err
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return 0, err
	}
	tok, err := tokenizer.New(m.Header.Tokenizer)
	if err != nil {
		return 0, err
	}
	e := &draft.Engine{Model: m, Tokenizer: tok, Generator: "maira bench", Cache: cache}
	start := time.Now()
	decoded, err := imageproc.Decode(bytes.NewReader(buf.Bytes()), "synthetic.png")
	if err != nil {
		return 0, err
	}
	_, err = e.Report(draft.Request{StudyID: "bench", Frontal: draft.Image{Decoded: decoded}, MaxTokens: tokens, ForceTokens: true}, nil)
	return ms(time.Since(start)), err
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
