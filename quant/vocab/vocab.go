// Package vocab reads and writes the tokenizer files of a Hugging Face LLaMA
// checkpoint (tokenizer.model, tokenizer.json, added_tokens.json,
// tokenizer_config.json, special_tokens_map.json) as one vocabulary: pieces,
// scores, piece types, special ids and the flags that steer encoding.
//
// The package delivers vocabulary data only; the BPE encoder lives elsewhere.
// Its conventions are llama.cpp's (token type numbers, how added tokens
// override the base vocabulary, how a vocabulary is padded), so that a Vocab
// can be written into GGUF as convert_hf_to_gguf.py would write it.
package vocab

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"unicode/utf8"
)

// TokenType numbers are llama.cpp's (llama_token_type / gguf
// tokenizer.ggml.token_type); SentencePiece's ModelProto piece types use the
// same numbers.
type TokenType int32

// Token types.
const (
	Normal      TokenType = 1 // an ordinary piece, reachable by BPE merges
	Unknown     TokenType = 2 // the <unk> piece
	Control     TokenType = 3 // <s>, </s> and special added tokens
	UserDefined TokenType = 4 // non-special added tokens, matched verbatim
	Unused      TokenType = 5 // padding entries such as "[PAD32000]"
	Byte        TokenType = 6 // byte-fallback pieces "<0x00>".."<0xFF>"
)

// String returns the SentencePiece name of the type.
func (t TokenType) String() string {
	switch t {
	case Normal:
		return "NORMAL"
	case Unknown:
		return "UNKNOWN"
	case Control:
		return "CONTROL"
	case UserDefined:
		return "USER_DEFINED"
	case Unused:
		return "UNUSED"
	case Byte:
		return "BYTE"
	}
	return "TokenType(" + strconv.Itoa(int(t)) + ")"
}

// Vocab is a tokenizer vocabulary. Token i has text Tokens[i], score
// Scores[i] (SentencePiece's: a larger score merges first) and type Types[i].
type Vocab struct {
	Tokens []string
	Scores []float32
	Types  []TokenType

	// Special token ids; -1 when absent.
	BOS, EOS, UNK, PAD int32

	// AddBOS and AddEOS come from tokenizer_config.json (LLaMA's defaults:
	// true, false).
	AddBOS, AddEOS bool
	// AddSpacePrefix is SentencePiece's normalizer_spec.add_dummy_prefix: a
	// "▁" is put in front of the text before encoding.
	AddSpacePrefix bool
	// Legacy is tokenizer_config.json's "legacy" (Vicuna v1.5 and MAIRA-2:
	// false). When it is absent transformers takes true, and so do we.
	Legacy bool
	// ChatTemplate is tokenizer_config.json's chat_template, "" if none.
	ChatTemplate string
}

// Scores of entries that llama.cpp's converter invents (convert_hf_to_gguf.py,
// TextModel._create_vocab_sentencepiece): padding entries "[PAD{id}]" get
// padScore, added tokens get addedScore.
const (
	padScore   = -10000
	addedScore = -1000
)

// maxTokens bounds a vocabulary's size. Scores derived from ranks (see
// ParseTokenizerJSON) must stay exact in float32, and no real tokenizer
// comes near it.
const maxTokens = 1 << 22

// Len returns the number of tokens.
func (v *Vocab) Len() int { return len(v.Tokens) }

// Validate checks that the vocabulary is consistent: the three slices have
// the same length, every type is a known one, every token is non-empty
// UTF-8, no two tokens other than Unused ones share a text, no score is NaN,
// and the special ids are -1 or in range.
func (v *Vocab) Validate() error {
	n := len(v.Tokens)
	if len(v.Scores) != n || len(v.Types) != n {
		return fmt.Errorf("vocab: %d tokens but %d scores and %d types", n, len(v.Scores), len(v.Types))
	}
	if n == 0 {
		return errors.New("vocab: no tokens")
	}
	if n > maxTokens {
		return fmt.Errorf("vocab: %d tokens, more than the %d supported", n, maxTokens)
	}
	seen := make(map[string]int, n)
	for i, tok := range v.Tokens {
		if t := v.Types[i]; t < Normal || t > Byte {
			return fmt.Errorf("vocab: token %d %q: type %d is not a token type", i, tok, int32(t))
		}
		if tok == "" {
			return fmt.Errorf("vocab: token %d is empty", i)
		}
		if !utf8.ValidString(tok) {
			return fmt.Errorf("vocab: token %d %q is not valid UTF-8", i, tok)
		}
		if math.IsNaN(float64(v.Scores[i])) {
			return fmt.Errorf("vocab: token %d %q: score is NaN", i, tok)
		}
		if v.Types[i] == Unused {
			continue
		}
		if j, dup := seen[tok]; dup {
			return fmt.Errorf("vocab: tokens %d and %d are both %q", j, i, tok)
		}
		seen[tok] = i
	}
	for _, s := range []struct {
		name string
		id   int32
	}{{"BOS", v.BOS}, {"EOS", v.EOS}, {"UNK", v.UNK}, {"PAD", v.PAD}} {
		if s.id < -1 || int(s.id) >= n {
			return fmt.Errorf("vocab: %s id %d is out of range [0, %d)", s.name, s.id, n)
		}
	}
	return nil
}

// PadTo grows the vocabulary to n entries as llama.cpp's converter does when
// config.json's vocab_size exceeds the tokenizer's: entry i becomes
// "[PAD{i}]" with score -10000 and type Unused (convert_hf_to_gguf.py,
// TextModel._create_vocab_sentencepiece, which fills every id first and then
// overwrites the ones the tokenizer defines). n smaller than Len is an error.
func (v *Vocab) PadTo(n int) error {
	if n < v.Len() {
		return fmt.Errorf("vocab: cannot pad %d tokens down to %d", v.Len(), n)
	}
	if n > maxTokens {
		return fmt.Errorf("vocab: cannot pad to %d tokens, more than the %d supported", n, maxTokens)
	}
	for i := v.Len(); i < n; i++ {
		v.appendPad()
	}
	return nil
}

// appendPad appends the converter's filler entry for the next id.
func (v *Vocab) appendPad() {
	v.Tokens = append(v.Tokens, "[PAD"+strconv.Itoa(len(v.Tokens))+"]")
	v.Scores = append(v.Scores, padScore)
	v.Types = append(v.Types, Unused)
}

// FromGGUFArrays builds a Vocab from the GGUF arrays tokenizer.ggml.tokens,
// tokenizer.ggml.scores and tokenizer.ggml.token_type, with LLaMA's defaults
// for the rest: BOS 1, EOS 2, UNK 0, PAD -1, AddBOS true, AddEOS false,
// AddSpacePrefix true, Legacy true. The slices are copied.
func FromGGUFArrays(tokens []string, scores []float32, types []int32) (*Vocab, error) {
	if len(scores) != len(tokens) || len(types) != len(tokens) {
		return nil, fmt.Errorf("vocab: GGUF arrays disagree: %d tokens, %d scores, %d token types", len(tokens), len(scores), len(types))
	}
	v := &Vocab{
		Tokens: append([]string(nil), tokens...),
		Scores: append([]float32(nil), scores...),
		Types:  make([]TokenType, len(types)),
		BOS:    1, EOS: 2, UNK: 0, PAD: -1,
		AddBOS: true, AddSpacePrefix: true, Legacy: true,
	}
	for i, t := range types {
		v.Types[i] = TokenType(t)
	}
	if err := v.Validate(); err != nil {
		return nil, err
	}
	return v, nil
}

// clone returns a deep copy of v.
func (v *Vocab) clone() *Vocab {
	c := *v
	c.Tokens = append([]string(nil), v.Tokens...)
	c.Scores = append([]float32(nil), v.Scores...)
	c.Types = append([]TokenType(nil), v.Types...)
	return &c
}

// find returns the id of the first token other than an Unused one whose text
// is s, or -1.
func (v *Vocab) find(s string) int32 {
	for i, t := range v.Tokens {
		if t == s && v.Types[i] != Unused {
			return int32(i)
		}
	}
	return -1
}

// BytePiece returns the byte that a byte-fallback piece "<0xXX>" stands
// for, with the hex digits in upper case as SentencePiece writes them
// (ByteToPiece) and llama.cpp looks them up (byte_to_token).
func BytePiece(s string) (byte, bool) {
	if len(s) != 6 || s[:3] != "<0x" || s[5] != '>' {
		return 0, false
	}
	hi, ok1 := upperHex(s[3])
	lo, ok2 := upperHex(s[4])
	return hi<<4 | lo, ok1 && ok2
}

func upperHex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}
