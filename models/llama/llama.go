// Package llama is the LLaMA decoder MAIRA-2's language model (Vicuna-7B)
// is, as transformers' LlamaForCausalLM computes it:
//
//	x = embed(tokens)                       (or any embeddings: image features spliced in)
//	x = x + o(attn(rope(q(n)), rope(k(n)), v(n)))   n = rmsnorm(x)
//	x = x + down(silu(gate(n)) ⊙ up(n))             n = rmsnorm(x)
//	logits = output(rmsnorm(x))
//
// The model file stores q/k rows permuted as llama.cpp's converter does, so
// RoPE rotates adjacent pairs (2i, 2i+1); that is Hugging Face's rotation of
// the half-split pairs (i, i+d/2) on the unpermuted rows. Keys and values
// live in a per-session cache.
package llama

import (
	"fmt"
	"math"
	"slices"

	"maira/quant/dtype"
	"maira/quant/gguf"
	"maira/quant/modelfile"
	"maira/runtime"
)

// Model is the decoder's weights.
type Model struct {
	Config     modelfile.Text
	TokenEmbd  runtime.Weight // [vocab, D]
	Layers     []Layer
	OutputNorm runtime.Weight
	Output     runtime.Weight // [vocab, D]

	b    runtime.Backend
	rope runtime.Rope
}

// Layer is one decoder block.
type Layer struct {
	AttnNorm       runtime.Weight
	Q, K, V, O     runtime.Weight
	FFNNorm        runtime.Weight
	Gate, Up, Down runtime.Weight
}

// New loads the language model described by cfg from f onto b.
func New(f *gguf.File, cfg *modelfile.Text, b runtime.Backend) (*Model, error) {
	d, ff, vocab := cfg.EmbeddingLength, cfg.FeedForwardLength, cfg.VocabSize
	kv := cfg.HeadDim() * cfg.HeadCountKV
	var err error
	matrix := func(name string, rows, cols int) runtime.Weight {
		if err != nil {
			return nil
		}
		var w runtime.Weight
		w, err = runtime.LoadMatrix(b, f, name, rows, cols)
		return w
	}
	vector := func(name string) runtime.Weight {
		if err != nil {
			return nil
		}
		var w runtime.Weight
		w, err = runtime.LoadVector(b, f, name, d)
		return w
	}
	factor := float64(cfg.RopeScalingFactor)
	if cfg.RopeScalingType == "" || factor == 0 {
		factor = 1
	}
	m := &Model{Config: *cfg, b: b, rope: runtime.Rope{Theta: float64(cfg.RopeFreqBase), Factor: factor}}
	m.TokenEmbd = matrix(modelfile.TokenEmbd, vocab, d)
	for i := 0; i < cfg.BlockCount; i++ {
		blk := func(part string) string { return modelfile.Block(i, part) }
		m.Layers = append(m.Layers, Layer{
			AttnNorm: vector(blk("attn_norm")),
			Q:        matrix(blk("attn_q"), d, d),
			K:        matrix(blk("attn_k"), kv, d),
			V:        matrix(blk("attn_v"), kv, d),
			O:        matrix(blk("attn_output"), d, d),
			FFNNorm:  vector(blk("ffn_norm")),
			Gate:     matrix(blk("ffn_gate"), ff, d),
			Up:       matrix(blk("ffn_up"), ff, d),
			Down:     matrix(blk("ffn_down"), d, ff),
		})
	}
	m.OutputNorm = vector(modelfile.OutputNorm)
	m.Output = matrix(modelfile.Output, vocab, d)
	if err != nil {
		return nil, err
	}
	return m, nil
}

// Backend returns the backend the model computes on.
func (m *Model) Backend() runtime.Backend { return m.b }

// PrefillChunk is how many rows a prefill pushes through the layers at once:
// it bounds the activation memory of a long prompt (3 images are over 4000
// rows) while each weight row is still decoded once per 512 rows.
const PrefillChunk = 512

// prefillChunk is PrefillChunk, lowered by tests to exercise chunking on
// short prompts.
var prefillChunk = PrefillChunk

// Session is one generation: a KV cache of MaxTokens positions and the
// activations of one prefill chunk. It implements runtime.Decoder. It is
// not safe for concurrent use.
type Session struct {
	m        *Model
	max, pos int
	k, v     []runtime.Tensor // per layer: caches of [max, kvDim]

	x, h, q, att runtime.Tensor // [chunk, D]
	kn, vn       runtime.Tensor // [chunk, kvDim]: the chunk's keys and values before the cache rounds them
	gate, up     runtime.Tensor // [chunk, FFN]
	logits       runtime.Tensor // [1, vocab]
	picked       bool           // a token was picked on the backend (PrefillPick)
	closed       bool
	owned        []runtime.Tensor
}

var _ runtime.Decoder = (*Session)(nil)

// CacheTypes are the key/value cache types a session takes. F16 halves
// the cache's memory and the bytes a decode step reads from it (0.73 GB a
// token for Vicuna-7B after a 1400-token prompt, against 1.47 GB in F32)
// and rounds keys and values to 11 bits; Q8_0 (8-bit blocks of 32 with a
// float32 scale) reads 0.41 GB and rounds them to 8 bits; F32 keeps the
// reference tests' tolerances.
var CacheTypes = []dtype.Type{dtype.F16, dtype.Q8_0, dtype.F32}

// DefaultCache is the cache type the commands use: Q8_0, whose rounding
// moves the logits less than the 8-bit activations of the quantized
// MatMul do (cosine 0.99997 against F32 on the small preset), where the
// heads split into its blocks of 32; F16 otherwise.
func DefaultCache(c *modelfile.Text) dtype.Type {
	if c.HeadDim()%32 == 0 {
		return dtype.Q8_0
	}
	return dtype.F16
}

// NewSession starts a session with room for maxTokens positions (prompt
// and generated tokens), which may not exceed the model's positions
// (modelfile.Text.MaxPositions), keeping keys and values in cache (one of
// CacheTypes).
func (m *Model) NewSession(maxTokens int, cache dtype.Type) (*Session, error) {
	c := &m.Config
	if maxTokens <= 0 || maxTokens > c.MaxPositions() {
		return nil, fmt.Errorf("llama: a session of %d tokens does not fit the context of %d positions", maxTokens, c.MaxPositions())
	}
	if !slices.Contains(CacheTypes, cache) {
		return nil, fmt.Errorf("llama: key/value cache of type %s: want f16, q8_0 or f32", cache)
	}
	kv := c.HeadDim() * c.HeadCountKV
	chunk := min(maxTokens, prefillChunk)
	s := &Session{m: m, max: maxTokens}
	var err error
	keep := func(t runtime.Tensor, e error) runtime.Tensor {
		if err == nil {
			if err = e; err == nil {
				s.owned = append(s.owned, t)
			}
		}
		return t
	}
	alloc := func(rows, cols int) runtime.Tensor {
		if err != nil {
			return nil
		}
		return keep(m.b.Alloc(rows, cols))
	}
	for range m.Layers {
		if err != nil {
			break
		}
		s.k = append(s.k, keep(m.b.AllocCache(cache, maxTokens, c.HeadCountKV, c.HeadDim())))
		s.v = append(s.v, keep(m.b.AllocCache(cache, maxTokens, c.HeadCountKV, c.HeadDim())))
	}
	s.x, s.h, s.q, s.att = alloc(chunk, c.EmbeddingLength), alloc(chunk, c.EmbeddingLength), alloc(chunk, c.EmbeddingLength), alloc(chunk, c.EmbeddingLength)
	s.kn, s.vn = alloc(chunk, kv), alloc(chunk, kv)
	s.gate, s.up = alloc(chunk, c.FeedForwardLength), alloc(chunk, c.FeedForwardLength)
	s.logits = alloc(1, c.VocabSize)
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("llama: session of %d tokens: %v", maxTokens, err)
	}
	return s, nil
}

// Pos returns the number of positions filled so far.
func (s *Session) Pos() int { return s.pos }

// Max returns the session's capacity in positions.
func (s *Session) Max() int { return s.max }

// Close frees the cache and activations.
func (s *Session) Close() {
	if s.closed {
		return
	}
	s.closed = true
	for _, t := range s.owned {
		s.m.b.Free(t)
	}
	s.owned = nil
}

// Embed returns the token embeddings of ids, [len(ids), D], for a prompt
// into which image embeddings are then copied (Backend.CopyRows into a
// View). The caller owns the tensor.
func (s *Session) Embed(ids []int32) (runtime.Tensor, error) {
	if len(ids) == 0 {
		return nil, fmt.Errorf("llama: embed of no tokens")
	}
	if err := s.checkIDs(ids); err != nil {
		return nil, err
	}
	b := s.m.b
	x, err := b.Alloc(len(ids), s.m.Config.EmbeddingLength)
	if err != nil {
		return nil, err
	}
	b.Gather(x, s.m.TokenEmbd, ids)
	return x, nil
}

func (s *Session) checkIDs(ids []int32) error {
	for _, id := range ids {
		if id < 0 || int(id) >= s.m.Config.VocabSize {
			return fmt.Errorf("llama: token id %d outside the vocabulary of %d", id, s.m.Config.VocabSize)
		}
	}
	return nil
}

func (s *Session) room(n int) error {
	if s.closed {
		return fmt.Errorf("llama: session is closed")
	}
	if s.pos+n > s.max {
		return fmt.Errorf("llama: %d more tokens at position %d exceed the session's %d (the model's context is %d positions)", n, s.pos, s.max, s.m.Config.MaxPositions())
	}
	return nil
}

// Prefill appends the rows of x (embeddings, [n, D]) to the cache and
// returns the logits of the last row. x is not modified.
func (s *Session) Prefill(x runtime.Tensor) ([]float32, error) {
	if err := s.checkPrefill(x); err != nil {
		return nil, err
	}
	s.picked = false
	n := s.prefill(x)
	return s.logitsOf(n - 1)
}

func (s *Session) checkPrefill(x runtime.Tensor) error {
	if d := s.m.Config.EmbeddingLength; x.Cols() != d || x.Rows() == 0 {
		return fmt.Errorf("llama: prefill of %d x %d embeddings, want rows of %d", x.Rows(), x.Cols(), d)
	}
	return s.room(x.Rows())
}

// prefill runs x through the layers in chunks and returns the rows of the
// last chunk (the last row's hidden state is row n-1 of s.x).
func (s *Session) prefill(x runtime.Tensor) int {
	b, chunk := s.m.b, s.x.Rows()
	var n int
	for off := 0; off < x.Rows(); off += n {
		n = min(chunk, x.Rows()-off)
		b.CopyRows(b.View(s.x, 0, n), b.View(x, off, n))
		s.forward(n, s.pos)
		s.pos += n
	}
	return n
}

// Step appends token id and returns its logits.
func (s *Session) Step(id int32) ([]float32, error) {
	if err := s.checkIDs([]int32{id}); err != nil {
		return nil, err
	}
	if err := s.room(1); err != nil {
		return nil, err
	}
	s.picked = false
	s.m.b.Gather(s.m.b.View(s.x, 0, 1), s.m.TokenEmbd, []int32{id})
	s.forward(1, s.pos)
	s.pos++
	return s.logitsOf(0)
}

// Greedy reports whether the session picks its own tokens (its backend is
// a runtime.Picker): it is then a runtime.GreedyDecoder, and Generate
// reads a token and its margin a step, never the logits.
func (s *Session) Greedy() bool {
	_, ok := s.m.b.(runtime.Picker)
	return ok
}

var _ runtime.GreedyDecoder = (*Session)(nil)

// PrefillPick is Prefill returning the greedy token of the last row.
func (s *Session) PrefillPick(x runtime.Tensor) (int32, float32, error) {
	p, ok := s.m.b.(runtime.Picker)
	if !ok {
		return 0, 0, fmt.Errorf("llama: the %s backend does not pick tokens", s.m.b.Name())
	}
	if err := s.checkPrefill(x); err != nil {
		return 0, 0, err
	}
	n := s.prefill(x)
	s.head(n - 1)
	p.Pick(s.logits)
	s.picked = true
	return s.picked1(p)
}

// StepPicked appends the token picked last and picks the next: the token
// never leaves the device between steps. On a backend that records steps
// (runtime.StepRecorder: CUDA graphs) the step is one recorded unit.
func (s *Session) StepPicked() (int32, float32, error) {
	p, ok := s.m.b.(runtime.Picker)
	if !ok || !s.picked {
		return 0, 0, fmt.Errorf("llama: StepPicked before PrefillPick")
	}
	if err := s.room(1); err != nil {
		return 0, 0, err
	}
	b := s.m.b
	step := func(pos int) {
		p.GatherPicked(b.View(s.x, 0, 1), s.m.TokenEmbd)
		s.forward(1, pos)
		s.head(0)
		p.Pick(s.logits)
	}
	if r, ok := b.(runtime.StepRecorder); ok {
		// the step after this one may be recorded ahead when there is
		// room for it
		if err := r.RunStep(s, s.pos, s.pos+2 <= s.max, step); err != nil {
			return 0, 0, err
		}
	} else {
		step(s.pos)
	}
	s.pos++
	return s.picked1(p)
}

// picked1 waits for the pick and checks the logits were finite.
func (s *Session) picked1(p runtime.Picker) (int32, float32, error) {
	id, margin, finite, err := p.Picked()
	if err != nil {
		return 0, 0, err
	}
	if !finite {
		return 0, 0, fmt.Errorf("llama: non-finite logits at position %d", s.pos-1)
	}
	return id, margin, nil
}

// forward runs the first n rows of s.x through the layers at positions
// [pos, pos+n) and appends their keys and values to the cache; the caller
// then advances s.pos (a step recorded ahead runs at s.pos+1).
func (s *Session) forward(n, pos int) {
	m, b, c := s.m, s.m.b, &s.m.Config
	x, h, q, att := b.View(s.x, 0, n), b.View(s.h, 0, n), b.View(s.q, 0, n), b.View(s.att, 0, n)
	gate, up := b.View(s.gate, 0, n), b.View(s.up, 0, n)
	attn := runtime.Attn{Heads: c.HeadCount, KVHeads: c.HeadCountKV, Causal: true, Pos0: pos}
	k, v := b.View(s.kn, 0, n), b.View(s.vn, 0, n)
	for i := range m.Layers {
		l := &m.Layers[i]

		// x = x + o(attention(rope(q), rope(k), v)) of rmsnorm(x), the
		// chunk's keys and values appended to the cache first
		b.RMSNorm(h, x, l.AttnNorm, c.RMSEps)
		b.MatMul(q, h, l.Q)
		b.MatMul(k, h, l.K)
		b.MatMul(v, h, l.V)
		b.RoPE(q, c.HeadCount, pos, m.rope)
		b.RoPE(k, c.HeadCountKV, pos, m.rope)
		b.CopyRows(b.View(s.k[i], pos, n), k)
		b.CopyRows(b.View(s.v[i], pos, n), v)
		b.Attention(att, q, b.View(s.k[i], 0, pos+n), b.View(s.v[i], 0, pos+n), attn)
		b.MatMul(h, att, l.O)
		b.Add(x, x, h)

		// x = x + down(silu(gate) ⊙ up) of rmsnorm(x)
		b.RMSNorm(h, x, l.FFNNorm, c.RMSEps)
		b.MatMul(gate, h, l.Gate)
		b.MatMul(up, h, l.Up)
		b.SiLUMul(gate, gate, up)
		b.MatMul(h, gate, l.Down)
		b.Add(x, x, h)
	}
}

// head computes the logits of row r of s.x (after forward) into s.logits.
func (s *Session) head(r int) {
	m, b := s.m, s.m.b
	h := b.View(s.h, 0, 1)
	b.RMSNorm(h, b.View(s.x, r, 1), m.OutputNorm, m.Config.RMSEps)
	b.MatMul(s.logits, h, m.Output)
}

// logitsOf returns the logits of row r of s.x (after forward).
func (s *Session) logitsOf(r int) ([]float32, error) {
	m, b := s.m, s.m.b
	s.head(r)
	out := make([]float32, m.Config.VocabSize)
	if err := b.Read(s.logits, out); err != nil {
		return nil, err
	}
	for _, v := range out {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return nil, fmt.Errorf("llama: non-finite logits at position %d", s.pos-1)
		}
	}
	return out, nil
}
