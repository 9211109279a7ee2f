// Package tokenizer is the LLaMA SentencePiece BPE tokenizer as MAIRA-2 uses
// it: the 32000-piece LLaMA vocabulary with byte fallback, plus MAIRA-2's
// added tokens (<obj>, <x12>, <box>, <image>, ...), built from the vocabulary
// a model file carries (modelfile.Tokenizer).
//
// Encoding follows three references, which agree wherever the tests compare
// them (see testdata/README.md):
//
//   - the BPE itself is SentencePiece's (google/sentencepiece,
//     src/bpe_model.cc, Model::SampleEncode without dropout), which
//     llama.cpp's llm_tokenizer_spm_session (src/llama-vocab.cpp) also
//     implements: the text's UTF-8 characters are the initial symbols, and
//     the adjacent pair whose concatenation is a piece with the highest score
//     is merged until none is left, ties going to the leftmost pair. Merge
//     results are the pieces SentencePiece keeps in its merge table: Normal,
//     UserDefined and Unused ones; an Unused piece is split back into the two
//     symbols it was merged from (SentencePiece's "resegment"). A final
//     symbol that is not a piece becomes its UTF-8 bytes, each the byte piece
//     <0xXX> (byte fallback).
//   - added tokens (types Control, UserDefined and Unknown: <s>, </s>, <unk>
//     and MAIRA-2's 207 tokens) found literally in the text are split out
//     first, leftmost match first and the longest at that position, as
//     transformers' PreTrainedTokenizer.tokenize does with its tokens_trie
//     (it matches every added token, special or not, so "<s>" or "<image>"
//     typed in a prompt is that token there too, and here), and llama.cpp
//     does with parse_special. Text from outside (an INDICATION read from a
//     DICOM file) that must stay text has to be cleaned of added tokens
//     before it goes into a prompt.
//   - the dummy-prefix space: see Encode for the two rules, Legacy false
//     (transformers' LlamaTokenizer with legacy=False, Vicuna v1.5 and
//     MAIRA-2) and Legacy true (llama.cpp, and transformers' legacy=True).
//
// Decoding follows transformers' decode(ids, skip_special_tokens=True) with
// LLaMA's decoder; see Decode.
package tokenizer

import (
	"errors"
	"fmt"

	"maira/quant/modelfile"
	"maira/quant/vocab"
)

// metaspace is SentencePiece's whitespace symbol "▁" (U+2581), which stands
// for " " inside pieces (normalizer_spec.escape_whitespaces).
const metaspace = "\u2581"

// Tokenizer encodes text to token ids and back. It is immutable after New
// and safe for concurrent use.
type Tokenizer struct {
	pieces []string
	scores []float32
	types  []vocab.TokenType

	// ids maps a piece's text to its id (the non-Unused piece where an
	// Unused one shares its text).
	ids map[string]int32
	// byteID[b] is the id of the byte piece <0xXX> for b, or -1.
	byteID [256]int32
	// hasUnused: some piece is Unused, so merges must record how to split it
	// back (SentencePiece's rev_merge); LLaMA and MAIRA-2 have none.
	hasUnused bool

	// Added tokens matched literally in text, by text; addedFirst marks the
	// bytes they start with and addedMax is the longest one in bytes.
	added      map[string]int32
	addedFirst [256]bool
	addedMax   int

	bos, eos, unk  int32
	addBOS, addEOS bool
	addSpacePrefix bool
	legacy         bool
}

// New builds a tokenizer from a model file's vocabulary. It fails, with one
// line naming the reason, on a vocabulary that cannot be encoded faithfully:
// mismatched array lengths, an unknown token type, an empty piece, a NaN
// score, two pieces (other than Unused ones) with the same text, a byte
// piece not of the form <0xXX>, or a special id out of range (or missing
// where AddBOS/AddEOS need it). The vocabulary's slices are kept, not
// copied: do not modify them afterwards.
func New(t *modelfile.Tokenizer) (*Tokenizer, error) {
	if t == nil {
		return nil, errors.New("tokenizer: no vocabulary")
	}
	n := len(t.Tokens)
	if n == 0 {
		return nil, errors.New("tokenizer: the vocabulary has no tokens")
	}
	if len(t.Scores) != n || len(t.Types) != n {
		return nil, fmt.Errorf("tokenizer: %d tokens but %d scores and %d token types", n, len(t.Scores), len(t.Types))
	}
	if int64(n) > 1<<31-1 {
		return nil, fmt.Errorf("tokenizer: %d tokens do not fit int32 ids", n)
	}
	tk := &Tokenizer{
		pieces: t.Tokens,
		scores: t.Scores,
		types:  make([]vocab.TokenType, n),
		ids:    make(map[string]int32, n),
		added:  make(map[string]int32),
		bos:    t.BOS, eos: t.EOS, unk: t.UNK,
		addBOS: t.AddBOS, addEOS: t.AddEOS,
		addSpacePrefix: t.AddSpacePrefix,
		legacy:         t.Legacy,
	}
	for i := range tk.byteID {
		tk.byteID[i] = -1
	}
	for i, p := range t.Tokens {
		typ := vocab.TokenType(t.Types[i])
		if typ < vocab.Normal || typ > vocab.Byte {
			return nil, fmt.Errorf("tokenizer: token %d %q has type %d, not a token type", i, p, t.Types[i])
		}
		if p == "" {
			return nil, fmt.Errorf("tokenizer: token %d is empty", i)
		}
		if s := t.Scores[i]; s != s {
			return nil, fmt.Errorf("tokenizer: token %d %q has a NaN score", i, p)
		}
		tk.types[i] = typ
		id := int32(i)
		if j, dup := tk.ids[p]; dup {
			switch {
			case typ == vocab.Unused:
				// The earlier, used piece keeps the text.
			case tk.types[j] == vocab.Unused:
				tk.ids[p] = id
			default:
				return nil, fmt.Errorf("tokenizer: tokens %d and %d are both %q", j, i, p)
			}
		} else {
			tk.ids[p] = id
		}
		switch typ {
		case vocab.Unused:
			tk.hasUnused = true
		case vocab.Byte:
			b, ok := vocab.BytePiece(p)
			if !ok {
				return nil, fmt.Errorf("tokenizer: token %d %q is of type BYTE but not of the form <0xXX>", i, p)
			}
			if tk.byteID[b] < 0 {
				tk.byteID[b] = id
			}
		case vocab.Control, vocab.UserDefined, vocab.Unknown:
			if _, dup := tk.added[p]; !dup {
				tk.added[p] = id
				tk.addedFirst[p[0]] = true
				tk.addedMax = max(tk.addedMax, len(p))
			}
		}
	}
	for _, s := range []struct {
		name string
		id   int32
		need bool
	}{{"BOS", t.BOS, t.AddBOS}, {"EOS", t.EOS, t.AddEOS}, {"UNK", t.UNK, false}} {
		if s.id < -1 || int64(s.id) >= int64(n) {
			return nil, fmt.Errorf("tokenizer: %s id %d is out of range [0, %d)", s.name, s.id, n)
		}
		if s.need && s.id < 0 {
			return nil, fmt.Errorf("tokenizer: the vocabulary asks for %s but has none", s.name)
		}
	}
	return tk, nil
}

// BOS returns the beginning-of-sequence id (-1: none).
func (t *Tokenizer) BOS() int32 { return t.bos }

// EOS returns the end-of-sequence id (-1: none); generation stops at it.
func (t *Tokenizer) EOS() int32 { return t.eos }

// Len returns the number of tokens in the vocabulary.
func (t *Tokenizer) Len() int { return len(t.pieces) }

// ID returns the id of the token whose vocabulary text is piece, exactly as
// stored ("▁The", "<0x0A>", "<image>"); ok is false if there is none.
func (t *Tokenizer) ID(piece string) (int32, bool) {
	id, ok := t.ids[piece]
	return id, ok
}

// Text returns token id's vocabulary text as stored ("▁The", "<0x0A>",
// "<s>"), or "" for an id out of range. For output text use Piece, Decode or
// a Stream.
func (t *Tokenizer) Text(id int32) string {
	if !t.valid(id) {
		return ""
	}
	return t.pieces[id]
}

// Type returns token id's type (Normal, Control, Byte, ...), or 0 for an id
// out of range.
func (t *Tokenizer) Type(id int32) vocab.TokenType {
	if !t.valid(id) {
		return 0
	}
	return t.types[id]
}

func (t *Tokenizer) valid(id int32) bool { return id >= 0 && int(id) < len(t.pieces) }

// mergeable reports whether SentencePiece's BPE may produce a piece of type
// typ by merging: its merge table (ModelInterface::pieces_) holds Normal,
// UserDefined and Unused pieces; Control, Unknown and Byte pieces live in a
// separate table that merges never consult.
func mergeable(typ vocab.TokenType) bool {
	return typ == vocab.Normal || typ == vocab.UserDefined || typ == vocab.Unused
}
