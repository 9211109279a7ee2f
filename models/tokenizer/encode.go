package tokenizer

import (
	"math"
	"sync"
	"unicode/utf8"

	"maira/quant/vocab"
)

// Encode returns the ids of text, without BOS.
//
// Added tokens (types Control, UserDefined and Unknown: <s>, </s>, <unk>,
// <image>, <obj>, <x12>, ...) that appear literally in text are matched
// first, the leftmost match first and the longest at that position, and
// become their ids; the text between them is encoded with BPE after " " is
// replaced by "▁".
//
// When the vocabulary says AddSpacePrefix, a "▁" (the SentencePiece dummy
// prefix) goes in front as follows:
//
//   - Legacy false (transformers' LlamaTokenizer with legacy=False: Vicuna
//     v1.5 and MAIRA-2): once, at the very start of the whole text, never
//     after an added token. "<image> Provide" encodes <image> then " Provide"
//     as "▁Prov"..., and text right after an added token with no space gets
//     no "▁" at all. A text that starts with an added token gets a lone "▁"
//     (id 29871) before it unless that token is special (Control or Unknown),
//     as LlamaTokenizer.tokenize drops the lone "▁" only before a special
//     token. (The fast tokenizer, tokenizer.json with a Metaspace
//     pre-tokenizer of prepend_scheme "first", differs from the Python one
//     at the start of the text only: no "▁" before a leading added token,
//     and none added to a text that starts with a space. MAIRA-2's prompts
//     start with neither.)
//   - Legacy true (llama.cpp's llama_tokenize_impl, and transformers'
//     legacy=True, which hands every fragment to SentencePiece with its
//     dummy prefix): in front of every non-empty text fragment, at the start
//     and after every added token, so "<image> Provide" gives "▁▁Prov"...
//
// A trailing space is the lone piece "▁": "ASSISTANT: " ends in 29871.
// Bytes of text that are not valid UTF-8 are kept, each as its own byte
// piece. Characters without a piece are spelled with byte pieces <0xXX>; in
// a vocabulary without them, each such run of merged characters is one UNK
// (or nothing, without an UNK).
func (t *Tokenizer) Encode(text string) []int32 {
	return t.appendEncode(make([]int32, 0, len(text)/3+2), text)
}

// EncodePrompt is Encode with BOS prepended when the vocabulary says AddBOS
// (and EOS appended when it says AddEOS, as transformers'
// build_inputs_with_special_tokens does; LLaMA and MAIRA-2 do not).
func (t *Tokenizer) EncodePrompt(text string) []int32 {
	dst := make([]int32, 0, len(text)/3+3)
	if t.addBOS {
		dst = append(dst, t.bos)
	}
	dst = t.appendEncode(dst, text)
	if t.addEOS {
		dst = append(dst, t.eos)
	}
	return dst
}

// special reports whether transformers counts added token id among
// all_special_tokens; the converter marks exactly the tokens listed special
// in tokenizer_config.json as Control (Unknown in a bare SentencePiece
// vocabulary).
func (t *Tokenizer) special(id int32) bool {
	typ := t.types[id]
	return typ == vocab.Control || typ == vocab.Unknown
}

func (t *Tokenizer) appendEncode(dst []int32, text string) []int32 {
	if text == "" {
		return dst // transformers and llama.cpp: no prefix for no text
	}
	s := sessions.Get().(*session)
	defer sessions.Put(s)
	for pos, first := 0, true; ; first = false {
		at, n, id := t.nextAdded(text, pos)
		frag := text[pos:at]
		switch {
		case t.legacy:
			if frag != "" {
				dst = s.bpe(t, dst, frag, t.addSpacePrefix)
			}
		case first && t.addSpacePrefix && (frag != "" || !t.special(id)):
			// LlamaTokenizer.tokenize puts "▁" in front of the whole text;
			// before a leading added token that leaves a lone "▁", which it
			// then drops only if the token is special.
			dst = s.bpe(t, dst, frag, true)
		case frag != "":
			dst = s.bpe(t, dst, frag, false)
		}
		if n == 0 {
			return dst
		}
		dst = append(dst, id)
		pos = at + n
		if pos == len(text) {
			return dst
		}
	}
}

// nextAdded finds the first added token in text at or after byte from: its
// offset, length and id, the longest one starting there. Without one it
// returns len(text), 0, -1.
func (t *Tokenizer) nextAdded(text string, from int) (at, n int, id int32) {
	for i := from; i < len(text); i++ {
		if !t.addedFirst[text[i]] {
			continue
		}
		for l := min(t.addedMax, len(text)-i); l > 0; l-- {
			if id, ok := t.added[text[i:i+l]]; ok {
				return i, l, id
			}
		}
	}
	return len(text), 0, -1
}

// session is the scratch space of one BPE run, pooled so that steady-state
// encoding does not allocate beyond its output.
type session struct {
	buf     []byte   // the normalized fragment
	symbols []symbol // its symbols, linked in text order
	queue   []bigram // a binary max-heap of candidate merges
	// rev records, for merges into Unused pieces only, the two symbols a
	// piece was merged from (SentencePiece's rev_merge), keyed by its text.
	rev map[string][3]int32
}

var sessions = sync.Pool{New: func() any { return new(session) }}

// symbol is a span buf[start:start+n] of the normalized text; n is 0 once the
// symbol was merged into its left neighbour.
type symbol struct {
	start, n   int32
	prev, next int32 // -1 at the ends
}

// bigram is a candidate merge of two adjacent symbols into a piece of the
// given byte size. key orders the queue as SentencePiece's
// SymbolPairComparator and llama.cpp's llm_bigram_spm::comparator do: the
// higher score first, on a tie the leftmost pair; see order.
type bigram struct {
	key         uint64
	left, right int32
	size        int32
}

// order packs a merge's score and left symbol into one key that sorts
// higher for the merge to make first: the score's bits mapped to an unsigned
// integer of the same order (negative scores have their bits flipped,
// positive ones their sign bit set; -0 counts as +0, as the float
// comparison has them equal), then the left index, inverted so that the
// leftmost pair wins a tie.
func order(score float32, left int32) uint64 {
	bits := math.Float32bits(score)
	switch {
	case score == 0:
		bits = 1 << 31
	case bits>>31 != 0:
		bits = ^bits
	default:
		bits |= 1 << 31
	}
	return uint64(bits)<<32 | uint64(^uint32(left))
}

func (s *session) push(b bigram) {
	q := append(s.queue, b)
	i := len(q) - 1
	for i > 0 {
		p := (i - 1) / 2
		if q[i].key <= q[p].key {
			break
		}
		q[i], q[p] = q[p], q[i]
		i = p
	}
	s.queue = q
}

func (s *session) pop() bigram {
	q := s.queue
	top := q[0]
	last := len(q) - 1
	q[0] = q[last]
	q = q[:last]
	for i := 0; ; {
		l, best := 2*i+1, i
		if l < len(q) && q[l].key > q[best].key {
			best = l
		}
		if r := l + 1; r < len(q) && q[r].key > q[best].key {
			best = r
		}
		if best == i {
			break
		}
		q[i], q[best] = q[best], q[i]
		i = best
	}
	s.queue = q
	return top
}

// bpe appends the ids of one text fragment: " " becomes "▁", a "▁" goes in
// front when prefix is set, and the characters are merged as SentencePiece's
// bpe::Model does.
func (s *session) bpe(t *Tokenizer, dst []int32, frag string, prefix bool) []int32 {
	buf := s.buf[:0]
	if prefix {
		buf = append(buf, metaspace...)
	}
	for i := 0; i < len(frag); i++ {
		if c := frag[i]; c == ' ' {
			buf = append(buf, metaspace...)
		} else {
			buf = append(buf, c)
		}
	}
	s.buf = buf

	// One symbol per UTF-8 character; a byte that does not start a valid
	// character is a symbol of its own (it can only end as a byte piece).
	syms := s.symbols[:0]
	for off := 0; off < len(buf); {
		_, size := utf8.DecodeRune(buf[off:])
		i := int32(len(syms))
		syms = append(syms, symbol{start: int32(off), n: int32(size), prev: i - 1, next: i + 1})
		off += size
	}
	if len(syms) == 0 {
		return dst
	}
	syms[len(syms)-1].next = -1
	s.symbols = syms
	s.queue = s.queue[:0]
	if t.hasUnused {
		clear(s.rev)
	}

	for i := int32(1); i < int32(len(syms)); i++ {
		s.tryMerge(t, i-1, i)
	}
	for len(s.queue) > 0 {
		b := s.pop()
		l, r := &s.symbols[b.left], &s.symbols[b.right]
		if l.n == 0 || r.n == 0 || l.n+r.n != b.size {
			continue // stale: one side was merged since
		}
		l.n += r.n
		r.n = 0
		l.next = r.next
		if r.next >= 0 {
			s.symbols[r.next].prev = b.left
		}
		s.tryMerge(t, l.prev, b.left)
		s.tryMerge(t, b.left, l.next)
	}

	for i := int32(0); i != -1; i = s.symbols[i].next {
		sym := s.symbols[i]
		dst = s.emit(t, dst, sym.start, sym.start+sym.n)
	}
	return dst
}

// tryMerge queues the merge of symbols left and right if their text is a
// piece merges may produce (SentencePiece's MaybeAddNewSymbolPair).
func (s *session) tryMerge(t *Tokenizer, left, right int32) {
	if left < 0 || right < 0 {
		return
	}
	a := s.symbols[left].start
	m := a + s.symbols[left].n
	b := m + s.symbols[right].n
	id, ok := t.ids[string(s.buf[a:b])]
	if !ok || !mergeable(t.types[id]) {
		return
	}
	s.push(bigram{key: order(t.scores[id], left), left: left, right: right, size: b - a})
	if t.types[id] == vocab.Unused {
		if s.rev == nil {
			s.rev = make(map[string][3]int32)
		}
		s.rev[string(s.buf[a:b])] = [3]int32{a, m, b}
	}
}

// emit appends the ids of the final symbol buf[a:b]: its piece, an Unused
// piece split back into the symbols it was merged from (SentencePiece's
// resegment), or its bytes as byte pieces.
func (s *session) emit(t *Tokenizer, dst []int32, a, b int32) []int32 {
	text := s.buf[a:b]
	if id, ok := t.ids[string(text)]; ok && mergeable(t.types[id]) {
		if t.types[id] == vocab.Unused {
			if r, ok := s.rev[string(text)]; ok {
				dst = s.emit(t, dst, r[0], r[1])
				return s.emit(t, dst, r[1], r[2])
			}
		}
		return append(dst, id)
	}
	for _, c := range text {
		if t.byteID[c] < 0 {
			// No byte fallback: SentencePiece gives the whole piece UNK.
			if t.unk >= 0 {
				dst = append(dst, t.unk)
			}
			return dst
		}
	}
	for _, c := range text {
		dst = append(dst, t.byteID[c])
	}
	return dst
}
