package runtime

import (
	"fmt"
	"time"
)

// Decoder is a language model session: Prefill appends the rows of x (input
// embeddings) to its cache and returns the logits of the last row; Step
// appends one token and returns its logits. models/llama's Session is one.
type Decoder interface {
	Prefill(x Tensor) ([]float32, error)
	Step(id int32) ([]float32, error)
}

// GenerateOptions control Generate.
type GenerateOptions struct {
	// MaxTokens caps the tokens generated (0: DefaultMaxTokens). The
	// decoder must have room for the prompt and MaxTokens-1 more tokens
	// (the last token is never fed back).
	MaxTokens int
	// EOS ends generation when produced (not included in the result); a
	// negative EOS never matches.
	EOS int32
	// RepeatGuard is how many back-to-back copies of the tail stop
	// generation as a loop (0: DefaultRepeatGuard; negative: never). See
	// Repeating for the rule.
	RepeatGuard int
}

// Defaults of GenerateOptions. MAIRA-2 decodes greedily up to 300 new
// tokens (450 for grounded reports).
const (
	DefaultMaxTokens   = 300
	DefaultRepeatGuard = 4
)

// Stop reasons of a Result.
const (
	StopEOS        = "eos"
	StopMaxTokens  = "max_tokens"
	StopRepetition = "repetition"
)

// Stage names Generate reports; callers add their own ("decode image",
// "encode") with RunStage.
const (
	StagePrefill  = "prefill"
	StageGenerate = "generate"
)

// EventKind says what an Event reports.
type EventKind int

// Event kinds.
const (
	StageStarted EventKind = iota
	StageDone
	TokenProduced
)

func (k EventKind) String() string {
	switch k {
	case StageStarted:
		return "stage started"
	case StageDone:
		return "stage done"
	case TokenProduced:
		return "token produced"
	}
	return fmt.Sprintf("EventKind(%d)", int(k))
}

// Event is one step of progress. For stage events, Stage names the stage,
// Total is its size when known (prompt rows for "prefill", MaxTokens for
// "generate"), Elapsed (on StageDone) its duration, and Index (on the
// StageDone of "generate") the number of tokens generated. For TokenProduced,
// Token is the token, Index its 0-based position among the generated
// tokens, Total MaxTokens, Elapsed the time since generation started, and
// Margin the gap between the two best logits (how sure greedy was).
type Event struct {
	Kind    EventKind
	Stage   string
	Token   int32
	Index   int
	Total   int
	Elapsed time.Duration
	Margin  float32
}

// Result is what Generate produced.
type Result struct {
	Tokens     []int32   // generated tokens, EOS excluded
	Margins    []float32 // top-two logit gap of each step (one per Tokens, plus the EOS step when it ended so)
	StopReason string    // StopEOS, StopMaxTokens or StopRepetition

	PromptTokens    int
	PrefillDuration time.Duration
	DecodeDuration  time.Duration // from the first token to the last
	// Throughputs: prompt rows per second of prefill, and steps per
	// second of decoding (Tokens-1 steps fed back; 0 when none).
	PrefillTokensPerSecond float64
	DecodeTokensPerSecond  float64
}

// Generate runs greedy decoding: prefill the prompt, then repeatedly take
// the argmax of the logits (ties to the lowest id) until EOS, MaxTokens or
// a repetition loop. A GreedyDecoder whose Greedy is true picks the
// tokens on its backend; any other Decoder's logits come to Argmax here.
// emit (may be nil) receives the events synchronously; it must return
// quickly (hand the event to a channel or a logger), since the loop waits
// for it.
func Generate(d Decoder, prompt Tensor, opt GenerateOptions, emit func(Event)) (Result, error) {
	if emit == nil {
		emit = func(Event) {}
	}
	maxTokens := opt.MaxTokens
	if maxTokens == 0 {
		maxTokens = DefaultMaxTokens
	}
	if maxTokens < 0 {
		return Result{}, fmt.Errorf("max tokens %d", maxTokens)
	}
	guard := opt.RepeatGuard
	if guard == 0 {
		guard = DefaultRepeatGuard
	}
	res := Result{PromptTokens: prompt.Rows()}

	// The decoder picks tokens itself where it can (on a GPU the logits
	// then never leave the device); else greedy is Argmax of the logits.
	var first, next func() (int32, float32, error)
	if g, ok := d.(GreedyDecoder); ok && g.Greedy() {
		first = func() (int32, float32, error) { return g.PrefillPick(prompt) }
		next = g.StepPicked
	} else {
		var id int32
		pick := func(logits []float32, err error) (int32, float32, error) {
			if err != nil {
				return 0, 0, err
			}
			var margin float32
			id, margin = Argmax(logits)
			return id, margin, nil
		}
		first = func() (int32, float32, error) { return pick(d.Prefill(prompt)) }
		next = func() (int32, float32, error) { return pick(d.Step(id)) }
	}

	emit(Event{Kind: StageStarted, Stage: StagePrefill, Total: prompt.Rows()})
	start := time.Now()
	id, margin, err := first()
	if err != nil {
		return res, err
	}
	res.PrefillDuration = time.Since(start)
	res.PrefillTokensPerSecond = perSecond(prompt.Rows(), res.PrefillDuration)
	emit(Event{Kind: StageDone, Stage: StagePrefill, Total: prompt.Rows(), Elapsed: res.PrefillDuration})

	emit(Event{Kind: StageStarted, Stage: StageGenerate, Total: maxTokens})
	start = time.Now()
	res.StopReason = StopMaxTokens
	for len(res.Tokens) < maxTokens {
		res.Margins = append(res.Margins, margin)
		if id == opt.EOS {
			res.StopReason = StopEOS
			break
		}
		res.Tokens = append(res.Tokens, id)
		emit(Event{Kind: TokenProduced, Token: id, Index: len(res.Tokens) - 1, Total: maxTokens, Elapsed: time.Since(start), Margin: margin})
		if guard > 0 && Repeating(res.Tokens, guard) {
			res.StopReason = StopRepetition
			break
		}
		if len(res.Tokens) == maxTokens {
			break
		}
		if id, margin, err = next(); err != nil {
			return res, err
		}
	}
	res.DecodeDuration = time.Since(start)
	if n := len(res.Tokens) - 1; n > 0 {
		res.DecodeTokensPerSecond = perSecond(n, res.DecodeDuration)
	}
	emit(Event{Kind: StageDone, Stage: StageGenerate, Index: len(res.Tokens), Total: maxTokens, Elapsed: res.DecodeDuration})
	return res, nil
}

func perSecond(n int, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

// RunStage brackets fn with StageStarted and StageDone events (the latter
// only when fn succeeds), for the stages a caller runs around Generate.
func RunStage(emit func(Event), stage string, fn func() error) error {
	if emit == nil {
		emit = func(Event) {}
	}
	emit(Event{Kind: StageStarted, Stage: stage})
	start := time.Now()
	if err := fn(); err != nil {
		return err
	}
	emit(Event{Kind: StageDone, Stage: stage, Elapsed: time.Since(start)})
	return nil
}

// Argmax returns the index of the largest logit (the lowest such index on
// ties) and its margin over the second largest value (0 on a tie). NaNs
// never win.
func Argmax(logits []float32) (id int32, margin float32) {
	best, second := -1, -1
	for i, v := range logits {
		if v != v { // NaN
			continue
		}
		switch {
		case best < 0 || v > logits[best]:
			best, second = i, best
		case second < 0 || v > logits[second]:
			second = i
		}
	}
	if best < 0 {
		return 0, 0
	}
	if second < 0 {
		return int32(best), 0
	}
	return int32(best), logits[best] - logits[second]
}

// MaxRepeatPeriod is the longest tail Repeating looks for, and
// MinRepeatSpan the fewest tokens a loop must cover, so a short legitimate
// run ("...", four equal digits) is not taken for one.
const (
	MaxRepeatPeriod = 32
	MinRepeatSpan   = 16
)

// Repeating reports whether tokens end in a loop: for some period k in
// 1..MaxRepeatPeriod, the last k tokens occur at least max(copies,
// ceil(MinRepeatSpan/k)) times back to back. With copies = 4: a token 16
// times in a row, a pair 8 times, a tail of 4..32 tokens 4 times.
func Repeating(tokens []int32, copies int) bool {
	n := len(tokens)
	for k := 1; k <= MaxRepeatPeriod; k++ {
		c := max(copies, (MinRepeatSpan+k-1)/k)
		span := k * c
		if span > n {
			continue
		}
		tail := tokens[n-span:]
		loop := true
		for i := k; i < span; i++ {
			if tail[i] != tail[i-k] {
				loop = false
				break
			}
		}
		if loop {
			return true
		}
	}
	return false
}
