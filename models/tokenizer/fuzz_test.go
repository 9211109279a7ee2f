package tokenizer

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzEncode encodes arbitrary strings with the MAIRA-2 vocabulary under both
// dummy-prefix rules. Encoding never panics and gives ids in range; Legacy
// false gives the plain SentencePiece encoding for text without added
// tokens; decoding (whole or streamed, in whole characters) gives the text
// back when it is valid UTF-8 without a literal "▁", a special token (<s>,
// <image>, ...) or, with Legacy true, any added token.
func FuzzEncode(f *testing.F) {
	for _, c := range loadExpected(f, spmExpected) {
		f.Add(c.Text)
	}
	for _, s := range loadTexts(f) {
		f.Add(s)
	}
	f.Add("a\xffb\xe8\x82")
	f.Add("<obj>\x00\r\n\t<x99></obj>")
	tks := []*Tokenizer{mairaTokenizer(f, false), mairaTokenizer(f, true)}
	f.Fuzz(func(t *testing.T, text string) {
		for _, tk := range tks {
			ids := tk.Encode(text)
			for _, id := range ids {
				if id < 0 || int(id) >= tk.Len() {
					t.Fatalf("legacy=%v %q: id %d out of range", tk.legacy, text, id)
				}
			}
			if text != "" && len(ids) == 0 {
				t.Fatalf("legacy=%v %q: no ids", tk.legacy, text)
			}
			if !tk.legacy && !hasAdded(tk, text) {
				if plain := tk.encodePlain(text); !sameIDs(ids, plain) {
					t.Fatalf("%q: Encode %v, plain BPE %v", text, ids, plain)
				}
			}
			got := tk.Decode(ids)
			if roundTrips(tk, text) && got != text {
				t.Fatalf("legacy=%v: Decode(Encode(%q)) = %q (ids %v)", tk.legacy, text, got, ids)
			}
			s := tk.NewStream()
			var b strings.Builder
			for _, id := range ids {
				chunk := s.Add(id)
				if !utf8.ValidString(chunk) {
					t.Fatalf("legacy=%v %q: chunk %q splits a character", tk.legacy, text, chunk)
				}
				b.WriteString(chunk)
			}
			if b.WriteString(s.Flush()); b.String() != got {
				t.Fatalf("legacy=%v %q: streamed %q, decoded %q", tk.legacy, text, b.String(), got)
			}
		}
	})
}
