package tokenizer

import (
	"strings"
	"unicode/utf8"

	"maira/quant/vocab"
)

// Decode turns ids into text as transformers' decode(ids,
// skip_special_tokens=True) does for LLaMA (tokenizers' decoder chain
// Replace("▁", " "), ByteFallback, Fuse, Strip(" ", 1, 0)):
//
//   - Normal pieces with "▁" turned into " ";
//   - runs of byte pieces <0xXX> reassembled into UTF-8; a byte that does not
//     belong to a valid character becomes U+FFFD, one per byte, as
//     SentencePiece's decoder does (tokenizers' ByteFallback replaces the
//     whole run when any byte in it is invalid; the two agree on valid text);
//   - UserDefined added tokens (<obj>, <box>, <x12>) kept as their text;
//   - Control and Unknown tokens (BOS, EOS, <image>, <unk>), Unused entries
//     and ids out of range skipped, as if absent, so a byte run continues
//     across them;
//   - when the vocabulary says AddSpacePrefix, one leading space of the
//     result removed: the dummy prefix of the first piece.
//
// Decode(ids) equals the concatenation of a Stream's outputs for ids and its
// Flush.
func (t *Tokenizer) Decode(ids []int32) string {
	s := Stream{t: t}
	var dst []byte
	for _, id := range ids {
		dst = s.add(dst, id)
	}
	return string(s.flush(dst))
}

// Piece returns token id's text for output on its own, as llama.cpp's
// llama_token_to_piece does without special tokens: a Normal piece with "▁"
// turned into " ", a UserDefined token as its text, a byte piece as its one
// raw byte (perhaps part of a UTF-8 character), "" for Control, Unknown and
// Unused tokens and ids out of range. It never strips the leading space; a
// Stream assembles pieces into the text Decode gives.
func (t *Tokenizer) Piece(id int32) string {
	if !t.valid(id) {
		return ""
	}
	switch p := t.pieces[id]; t.types[id] {
	case vocab.Normal:
		return strings.ReplaceAll(p, metaspace, " ")
	case vocab.UserDefined:
		return p
	case vocab.Byte:
		b, _ := vocab.BytePiece(p) // checked by New
		return string([]byte{b})
	}
	return ""
}

// Stream decodes ids one at a time for streaming output: the concatenation
// of what Add returns, followed by Flush, is Decode of all the ids. A UTF-8
// character spelled with byte pieces is returned once its last byte arrives.
// A Stream is not safe for concurrent use.
type Stream struct {
	t       *Tokenizer
	pending []byte // bytes of an incomplete UTF-8 character (at most 3)
	started bool   // some text has been produced (the leading space is settled)
}

// NewStream returns a streaming decoder.
func (t *Tokenizer) NewStream() *Stream { return &Stream{t: t} }

// Add decodes one more id and returns the text it completes, perhaps "".
func (s *Stream) Add(id int32) string { return string(s.add(nil, id)) }

// Flush returns what is left at the end of the ids: U+FFFD for each byte of
// an incomplete character. The Stream can go on afterwards.
func (s *Stream) Flush() string { return string(s.flush(nil)) }

func (s *Stream) add(dst []byte, id int32) []byte {
	t := s.t
	if !t.valid(id) {
		return dst
	}
	switch p := t.pieces[id]; t.types[id] {
	case vocab.Byte:
		b, _ := vocab.BytePiece(p)
		s.pending = append(s.pending, b)
		// Hand out every character that is complete, and U+FFFD for each
		// byte that can no longer start or continue one.
		for len(s.pending) > 0 && utf8.FullRune(s.pending) {
			r, size := utf8.DecodeRune(s.pending)
			if r == utf8.RuneError && size == 1 {
				dst = s.put(dst, "\uFFFD", false)
			} else {
				dst = s.put(dst, string(s.pending[:size]), false)
			}
			s.pending = s.pending[:copy(s.pending, s.pending[size:])]
		}
	case vocab.Normal:
		dst = s.put(s.flush(dst), p, true)
	case vocab.UserDefined:
		dst = s.put(s.flush(dst), p, false)
	}
	return dst
}

// flush ends a byte run: each byte of an incomplete character is U+FFFD.
func (s *Stream) flush(dst []byte) []byte {
	for range s.pending {
		dst = s.put(dst, "\uFFFD", false)
	}
	s.pending = s.pending[:0]
	return dst
}

// put appends text, with "▁" as " " when meta is set, dropping the dummy
// prefix: one space at the very start of the output.
func (s *Stream) put(dst []byte, text string, meta bool) []byte {
	if text == "" {
		return dst
	}
	if !s.started {
		s.started = true
		if s.t.addSpacePrefix {
			if meta && strings.HasPrefix(text, metaspace) {
				text = text[len(metaspace):]
			} else if !meta && text[0] == ' ' {
				text = text[1:]
			}
		}
	}
	if !meta {
		return append(dst, text...)
	}
	for {
		i := strings.Index(text, metaspace)
		if i < 0 {
			return append(dst, text...)
		}
		dst = append(append(dst, text[:i]...), ' ')
		text = text[i+len(metaspace):]
	}
}
