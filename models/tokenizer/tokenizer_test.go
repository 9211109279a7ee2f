package tokenizer

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"maira/quant/convert"
	"maira/quant/dtype"
	"maira/quant/gguf"
	"maira/quant/modelfile"
	"maira/quant/testmodel"
	"maira/quant/vocab"
)

// Ids of the LLaMA and MAIRA-2 vocabularies the tests name.
const (
	idUnk      = 0
	idBOS      = 1
	idEOS      = 2
	idSpace    = 29871 // "▁"
	idObj      = 32000
	idObjEnd   = 32001
	idX0       = 32002 // <x0>..<x99>, then <y0>..<y99>
	idY0       = 32102
	idBox      = 32202
	idBoxEnd   = 32203
	idImage    = 32204
	idPrevIm   = 32205
	idLatImage = 32206
)

// llamaVocab returns the real 32000-piece LLaMA vocabulary as a model file
// would carry it, without added tokens.
func llamaVocab(t testing.TB) *modelfile.Tokenizer {
	t.Helper()
	v, err := vocab.LLaMA()
	if err != nil {
		t.Fatal(err)
	}
	types := make([]int32, len(v.Types))
	for i, ty := range v.Types {
		types[i] = int32(ty)
	}
	return &modelfile.Tokenizer{
		Tokens: v.Tokens, Scores: v.Scores, Types: types,
		BOS: v.BOS, EOS: v.EOS, UNK: v.UNK, PAD: v.PAD,
		AddBOS: v.AddBOS, AddEOS: v.AddEOS, AddSpacePrefix: v.AddSpacePrefix, Legacy: v.Legacy,
	}
}

func newTokenizer(t testing.TB, v *modelfile.Tokenizer) *Tokenizer {
	t.Helper()
	tk, err := New(v)
	if err != nil {
		t.Fatal(err)
	}
	return tk
}

var maira struct {
	once sync.Once
	tk   *modelfile.Tokenizer
	err  error
}

// mairaVocab returns the tokenizer of a tiny MAIRA-2 model file written by
// testmodel.WriteGGUF and read back with modelfile.Read: the real LLaMA
// vocabulary and MAIRA-2's 207 added tokens exactly as the converter stores
// them (Legacy false). Callers must not modify it.
func mairaVocab(t testing.TB) *modelfile.Tokenizer {
	t.Helper()
	maira.once.Do(func() {
		dir, err := os.MkdirTemp("", "maira-tokenizer-test-")
		if err != nil {
			maira.err = err
			return
		}
		defer os.RemoveAll(dir)
		p, err := testmodel.Lookup("tiny")
		if err != nil {
			maira.err = err
			return
		}
		path := filepath.Join(dir, "tiny.gguf")
		r := convert.Recipe{Vision: dtype.F32, LLM: dtype.F32, Embeddings: dtype.F32}
		if maira.err = testmodel.WriteGGUF(path, p, r, testmodel.Options{Seed: 1}); maira.err != nil {
			return
		}
		f, err := gguf.Open(path)
		if err != nil {
			maira.err = err
			return
		}
		defer f.Close()
		h, err := modelfile.Read(f)
		if err != nil {
			maira.err = err
			return
		}
		maira.tk = h.Tokenizer
	})
	if maira.err != nil {
		t.Fatal(maira.err)
	}
	return maira.tk
}

// mairaTokenizer returns the MAIRA-2 tokenizer with the given Legacy rule.
func mairaTokenizer(t testing.TB, legacy bool) *Tokenizer {
	t.Helper()
	v := *mairaVocab(t)
	v.Legacy = legacy
	return newTokenizer(t, &v)
}

type expected struct {
	Text string  `json:"text"`
	IDs  []int32 `json:"ids"`
}

func loadExpected(t testing.TB, path string) []expected {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var cases []expected
	if err := json.Unmarshal(data, &cases); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return cases
}

func loadTexts(t testing.TB) []string {
	t.Helper()
	data, err := os.ReadFile("testdata/texts.json")
	if err != nil {
		t.Fatal(err)
	}
	var texts []string
	if err := json.Unmarshal(data, &texts); err != nil {
		t.Fatal(err)
	}
	return texts
}

const spmExpected = "../../quant/vocab/testdata/spm_expected.json"

// encodePlain is SentencePiece's own encoding of the whole text: the dummy
// prefix and BPE, no added tokens matched (the library matches none of
// LLaMA's in text).
func (t *Tokenizer) encodePlain(text string) []int32 {
	if text == "" {
		return nil
	}
	return new(session).bpe(t, nil, text, t.addSpacePrefix)
}

// hasAdded reports whether text holds an added token of tk.
func hasAdded(tk *Tokenizer, text string) bool {
	_, n, _ := tk.nextAdded(text, 0)
	return n > 0
}

func sameIDs(a, b []int32) bool { return len(a) == len(b) && (len(a) == 0 || reflect.DeepEqual(a, b)) }

// TestSentencePiece holds the BPE to the sentencepiece library's ids for 36
// strings on the real LLaMA vocabulary, and to llama.cpp's for the same
// strings on the MAIRA-2 vocabulary (parse_special off). Encode agrees
// wherever the text holds no added token; the one that does ("<s> literal
// ...") is tested against transformers in TestTransformers.
func TestSentencePiece(t *testing.T) {
	cases := loadExpected(t, spmExpected)
	if len(cases) < 36 {
		t.Fatalf("only %d cases in %s", len(cases), spmExpected)
	}
	llamacpp := loadExpected(t, "testdata/llamacpp_plain.json")
	if len(llamacpp) != len(cases) {
		t.Fatalf("%d llama.cpp cases for %d sentencepiece ones", len(llamacpp), len(cases))
	}
	for _, tc := range []struct {
		name string
		tk   *Tokenizer
		want []expected
	}{
		{"sentencepiece/llama", newTokenizer(t, llamaVocab(t)), cases},
		{"llama.cpp/maira", mairaTokenizer(t, true), llamacpp},
		{"llama.cpp/maira-nonlegacy", mairaTokenizer(t, false), llamacpp},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for i, c := range tc.want {
				if c.Text != cases[i].Text {
					t.Fatalf("case %d is %q, want %q", i, c.Text, cases[i].Text)
				}
				if got := tc.tk.encodePlain(c.Text); !sameIDs(got, c.IDs) {
					t.Errorf("BPE %q:\n got %v\nwant %v", c.Text, got, c.IDs)
				}
				if hasAdded(tc.tk, c.Text) {
					continue
				}
				if got := tc.tk.Encode(c.Text); !sameIDs(got, c.IDs) {
					t.Errorf("Encode %q:\n got %v\nwant %v", c.Text, got, c.IDs)
				}
			}
		})
	}
}

// TestTransformers holds Encode with Legacy false to transformers'
// LlamaTokenizer(legacy=False) as emulated with the sentencepiece library,
// and with Legacy true to llama.cpp, on the MAIRA-2 vocabulary
// (testdata/README.md says how the ids were made).
func TestTransformers(t *testing.T) {
	texts := loadTexts(t)
	for _, tc := range []struct {
		file   string
		legacy bool
	}{
		{"testdata/hf_legacy_false.json", false},
		{"testdata/llamacpp_maira.json", true},
	} {
		t.Run(filepath.Base(tc.file), func(t *testing.T) {
			tk := mairaTokenizer(t, tc.legacy)
			cases := loadExpected(t, tc.file)
			if len(cases) != len(texts) {
				t.Fatalf("%d cases for %d texts", len(cases), len(texts))
			}
			for i, c := range cases {
				if c.Text != texts[i] {
					t.Fatalf("case %d is %q, want %q", i, c.Text, texts[i])
				}
				if got := tk.Encode(c.Text); !sameIDs(got, c.IDs) {
					t.Errorf("%q:\n got %v\nwant %v", c.Text, got, c.IDs)
				}
			}
		})
	}
	// The base vocabulary alone: "<s>" typed in text is BOS, as transformers
	// matches its special tokens in text.
	base := llamaVocab(t)
	base.Legacy = false
	tk := newTokenizer(t, base)
	got := tk.Encode("<s> literal special token text </s>")
	want := []int32{idBOS, 16333, 4266, 5993, 1426, idSpace, idEOS}
	if !sameIDs(got, want) {
		t.Errorf("<s> ... </s>: got %v, want %v", got, want)
	}
}

// ids returns the ids of a text piece by piece, for readable tables.
func ids(t testing.TB, tk *Tokenizer, pieces ...string) []int32 {
	t.Helper()
	var out []int32
	for _, p := range pieces {
		id, ok := tk.ID(p)
		if !ok {
			t.Fatalf("no piece %q", p)
		}
		out = append(out, id)
	}
	return out
}

// TestMAIRA spells out the rules of Encode on MAIRA-2 prompts.
func TestMAIRA(t *testing.T) {
	nonLegacy, legacy := mairaTokenizer(t, false), mairaTokenizer(t, true)
	p := func(pieces ...string) []int32 { return ids(t, nonLegacy, pieces...) }
	cat := func(parts ...[]int32) []int32 {
		var out []int32
		for _, x := range parts {
			out = append(out, x...)
		}
		return out
	}
	one := func(id int32) []int32 { return []int32{id} }
	for _, tc := range []struct {
		text           string
		want, wantLegc []int32
	}{
		// " Provide" after <image>: "▁Prov" with legacy=False; llama.cpp adds
		// a second "▁".
		{"<image> Provide", cat(one(idImage), p("▁Prov", "ide")), cat(one(idImage), p("▁", "▁Prov", "ide"))},
		// Glued text: no "▁" at all with legacy=False.
		{"<image>Provide", cat(one(idImage), p("Pro", "v", "ide")), cat(one(idImage), p("▁Prov", "ide"))},
		{"only<image> Provide", cat(p("▁only"), one(idImage), p("▁Prov", "ide")), cat(p("▁only"), one(idImage), p("▁", "▁Prov", "ide"))},
		{"<image><image>", []int32{idImage, idImage}, []int32{idImage, idImage}},
		{"<image> <image>", cat(one(idImage), p("▁"), one(idImage)), cat(one(idImage), p("▁▁"), one(idImage))},
		{"<prev_im><lat_image>", []int32{idPrevIm, idLatImage}, []int32{idPrevIm, idLatImage}},
		// The chat ends with "ASSISTANT: ": the trailing space is the lone "▁".
		{"ASSISTANT: ", p("▁A", "SS", "IST", "ANT", ":", "▁"), p("▁A", "SS", "IST", "ANT", ":", "▁")},
		{"ASSISTANT:", p("▁A", "SS", "IST", "ANT", ":"), p("▁A", "SS", "IST", "ANT", ":")},
		// Grounding tokens.
		{"<x10><y20>", cat(p("▁"), []int32{idX0 + 10, idY0 + 20}), []int32{idX0 + 10, idY0 + 20}},
		{"a<x10><y20>", cat(p("▁a"), []int32{idX0 + 10, idY0 + 20}), cat(p("▁a"), []int32{idX0 + 10, idY0 + 20})},
		{"<obj>Mild<box><x3><y97></box></obj>",
			cat(p("▁"), one(idObj), p("M", "ild"), []int32{idBox, idX0 + 3, idY0 + 97, idBoxEnd, idObjEnd}),
			cat(one(idObj), p("▁M", "ild"), []int32{idBox, idX0 + 3, idY0 + 97, idBoxEnd, idObjEnd})},
		// A text that starts with a special token gets no "▁" before it; one
		// that starts with a non-special added token does (legacy=False).
		{"<s>hi", cat(one(idBOS), p("hi")), cat(one(idBOS), p("▁hi"))},
		{"<obj>", cat(p("▁"), one(idObj)), one(idObj)},
		// Near misses are text; the longest match wins.
		{"<x1<x10>", cat(p("▁<", "x", "1"), one(idX0+10)), cat(p("▁<", "x", "1"), one(idX0+10))},
		{"<x100>", p("▁<", "x", "1", "0", "0", ">"), p("▁<", "x", "1", "0", "0", ">")},
		// Whitespace and emptiness.
		{"", nil, nil},
		{" ", p("▁▁"), p("▁▁")},
		{"a  b", p("▁a", "▁", "▁b"), p("▁a", "▁", "▁b")},
		// Byte fallback: 🫁 is F0 9F AB 81.
		{"🫁", p("▁", "<0xF0>", "<0x9F>", "<0xAB>", "<0x81>"), p("▁", "<0xF0>", "<0x9F>", "<0xAB>", "<0x81>")},
		{"<image>🫁", cat(one(idImage), p("<0xF0>", "<0x9F>", "<0xAB>", "<0x81>")), cat(one(idImage), p("▁", "<0xF0>", "<0x9F>", "<0xAB>", "<0x81>"))},
		{"肺", p("▁", "<0xE8>", "<0x82>", "<0xBA>"), p("▁", "<0xE8>", "<0x82>", "<0xBA>")},
		// Invalid UTF-8 keeps its bytes.
		{"a\xffb", p("▁a", "<0xFF>", "b"), p("▁a", "<0xFF>", "b")},
	} {
		if got := nonLegacy.Encode(tc.text); !sameIDs(got, tc.want) {
			t.Errorf("legacy=false %q:\n got %v\nwant %v", tc.text, got, tc.want)
		}
		if got := legacy.Encode(tc.text); !sameIDs(got, tc.wantLegc) {
			t.Errorf("legacy=true %q:\n got %v\nwant %v", tc.text, got, tc.wantLegc)
		}
	}

	// EncodePrompt adds BOS; a whole rendered prompt ends in "▁".
	prompt := loadTexts(t)[0]
	got := nonLegacy.EncodePrompt(prompt)
	if got[0] != idBOS || got[len(got)-1] != idSpace || !sameIDs(got[1:], nonLegacy.Encode(prompt)) {
		t.Errorf("EncodePrompt(%q) = %v", prompt, got)
	}
	n := 0
	for _, id := range got {
		if id == idImage {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d <image> tokens in the one-image prompt", n)
	}
	if nonLegacy.BOS() != idBOS || nonLegacy.EOS() != idEOS || nonLegacy.Len() != testmodel.VocabSize {
		t.Errorf("BOS %d EOS %d Len %d", nonLegacy.BOS(), nonLegacy.EOS(), nonLegacy.Len())
	}
}

// TestDecode spells out the rules of Decode.
func TestDecode(t *testing.T) {
	tk := mairaTokenizer(t, false)
	p := func(pieces ...string) []int32 { return ids(t, tk, pieces...) }
	with := func(head []int32, tail ...int32) []int32 { return append(append([]int32(nil), head...), tail...) }
	for _, tc := range []struct {
		name string
		ids  []int32
		want string
	}{
		{"empty", nil, ""},
		{"dummy prefix", p("▁The", "▁heart"), "The heart"},
		{"BOS and EOS skipped", with(with([]int32{idBOS}, p("▁The")...), idEOS), "The"},
		{"image skipped", with(p("▁a"), idImage, idImage), "a"},
		{"only the first space", p("▁", "▁The"), " The"},
		{"two spaces", p("▁▁", "x"), " x"},
		{"grounding kept", with(with([]int32{idObj}, p("▁E", "ff", "usion")...), idBox, idX0+3, idY0+97, idBoxEnd, idObjEnd), "<obj> Effusion<box><x3><y97></box></obj>"},
		{"bytes", p("▁", "<0xF0>", "<0x9F>", "<0xAB>", "<0x81>"), "🫁"},
		{"bytes across skipped", with(with(p("<0xE8>", "<0x82>"), idEOS), p("<0xBA>")...), "肺"},
		{"newline byte", p("▁a", "<0x0A>", "b"), "a\nb"},
		{"invalid byte", p("▁a", "<0xFF>", "b"), "a\uFFFDb"},
		{"truncated character", p("<0xE8>", "<0x82>", "▁a"), "\uFFFD\uFFFD a"},
		{"truncated at end", p("▁a", "<0xF0>", "<0x9F>"), "a\uFFFD\uFFFD"},
		{"bad continuation", p("<0xE8>", "<0x41>"), "\uFFFDA"},
		{"surrogate", p("<0xED>", "<0xA0>", "<0x80>"), "\uFFFD\uFFFD\uFFFD"},
		{"unknown and out of range", []int32{idUnk, -1, 1 << 30, p("▁x")[0]}, "x"},
	} {
		if got := tk.Decode(tc.ids); got != tc.want {
			t.Errorf("%s: Decode(%v) = %q, want %q", tc.name, tc.ids, got, tc.want)
		}
		if got := streamed(tk, tc.ids); got != tc.want {
			t.Errorf("%s: streamed %q, want %q", tc.name, got, tc.want)
		}
	}
}

// streamed decodes ids through a Stream, checking that no chunk splits a
// character.
func streamed(tk *Tokenizer, ids []int32) string {
	s := tk.NewStream()
	var b strings.Builder
	for _, id := range ids {
		b.WriteString(s.Add(id))
	}
	b.WriteString(s.Flush())
	return b.String()
}

// TestRoundTrip decodes the encoding of every test text: the text comes back
// unless it holds what decoding cannot give back (a special token, skipped;
// a literal "▁", which decodes as " "; with Legacy true, the extra "▁" after
// an added token). A stream gives the same text, in chunks that are whole
// characters.
func TestRoundTrip(t *testing.T) {
	var texts []string
	for _, c := range loadExpected(t, spmExpected) {
		texts = append(texts, c.Text)
	}
	texts = append(texts, loadTexts(t)...)
	for _, legacy := range []bool{false, true} {
		tk := mairaTokenizer(t, legacy)
		for _, text := range texts {
			ids := tk.Encode(text)
			got := tk.Decode(ids)
			if roundTrips(tk, text) && got != text {
				t.Errorf("legacy=%v: Decode(Encode(%q)) = %q", legacy, text, got)
			}
			s := tk.NewStream()
			var b strings.Builder
			for _, id := range ids {
				chunk := s.Add(id)
				if !utf8.ValidString(chunk) {
					t.Errorf("legacy=%v %q: chunk %q is not whole characters", legacy, text, chunk)
				}
				b.WriteString(chunk)
			}
			b.WriteString(s.Flush())
			if b.String() != got {
				t.Errorf("legacy=%v %q: streamed %q, decoded %q", legacy, text, b.String(), got)
			}
		}
	}
}

// roundTrips reports whether Decode(Encode(text)) must be text.
func roundTrips(tk *Tokenizer, text string) bool {
	if !utf8.ValidString(text) || strings.Contains(text, metaspace) {
		return false
	}
	for pos := 0; ; {
		at, n, id := tk.nextAdded(text, pos)
		if n == 0 {
			return true
		}
		if tk.legacy || tk.special(id) {
			return false
		}
		pos = at + n
	}
}

func TestPieceAndID(t *testing.T) {
	tk := mairaTokenizer(t, false)
	for _, tc := range []struct {
		piece, text string
	}{
		{"▁The", " The"},
		{"▁", " "},
		{"<0x0A>", "\n"},
		{"<0xF0>", "\xf0"},
		{"<obj>", "<obj>"},
		{"<x12>", "<x12>"},
		{"<image>", ""},
		{"<s>", ""},
		{"<unk>", ""},
	} {
		id, ok := tk.ID(tc.piece)
		if !ok {
			t.Fatalf("ID(%q) not found", tc.piece)
		}
		if got := tk.Piece(id); got != tc.text {
			t.Errorf("Piece(ID(%q) = %d) = %q, want %q", tc.piece, id, got, tc.text)
		}
		if got := tk.Text(id); got != tc.piece {
			t.Errorf("Text(%d) = %q, want %q", id, got, tc.piece)
		}
	}
	if id, _ := tk.ID("<image>"); id != idImage || tk.Type(id) != vocab.Control {
		t.Errorf("<image> is %d of type %v", id, tk.Type(id))
	}
	if id, _ := tk.ID("<x12>"); id != idX0+12 || tk.Type(id) != vocab.UserDefined {
		t.Errorf("<x12> is %d of type %v", id, tk.Type(id))
	}
	if _, ok := tk.ID("no such piece"); ok {
		t.Error("ID found a piece that does not exist")
	}
	for _, id := range []int32{-1, int32(tk.Len()), 1 << 30} {
		if tk.Piece(id) != "" || tk.Text(id) != "" || tk.Type(id) != 0 {
			t.Errorf("id %d out of range is not empty", id)
		}
	}
}

// small returns a hand-made vocabulary for the rules the real one does not
// exercise.
func small() *modelfile.Tokenizer {
	v := &modelfile.Tokenizer{BOS: 1, EOS: 2, UNK: 0, PAD: -1, AddBOS: true, AddSpacePrefix: true}
	add := func(p string, score float32, typ vocab.TokenType) {
		v.Tokens = append(v.Tokens, p)
		v.Scores = append(v.Scores, score)
		v.Types = append(v.Types, int32(typ))
	}
	add("<unk>", 0, vocab.Unknown)
	add("<s>", 0, vocab.Control)
	add("</s>", 0, vocab.Control)
	add("▁", -1, vocab.Normal)
	for _, c := range "abcd" {
		add(string(c), -2, vocab.Normal)
	}
	return v
}

func TestSmallVocabularies(t *testing.T) {
	add := func(v *modelfile.Tokenizer, p string, score float32, typ vocab.TokenType) int32 {
		v.Tokens = append(v.Tokens, p)
		v.Scores = append(v.Scores, score)
		v.Types = append(v.Types, int32(typ))
		return int32(len(v.Tokens) - 1)
	}
	// Ties go to the leftmost pair: "abc" with "ab" and "bc" of equal score.
	v := small()
	ab := add(v, "ab", 1, vocab.Normal)
	add(v, "bc", 1, vocab.Normal)
	tk := newTokenizer(t, v)
	if got, want := tk.Encode("abc"), []int32{3, ab, 6}; !sameIDs(got, want) {
		t.Errorf("tie: got %v, want %v", got, want)
	}
	// A higher score wins wherever it is.
	v = small()
	add(v, "ab", 1, vocab.Normal)
	bc := add(v, "bc", 2, vocab.Normal)
	tk = newTokenizer(t, v)
	if got, want := tk.Encode("abc"), []int32{3, 4, bc}; !sameIDs(got, want) {
		t.Errorf("score: got %v, want %v", got, want)
	}
	// An Unused piece may be merged through but is split back
	// (SentencePiece's resegment); Control and Byte pieces are never merge
	// results.
	v = small()
	add(v, "ab", 3, vocab.Unused)
	abc := add(v, "abc", 2, vocab.Normal)
	add(v, "cd", 1, vocab.Control)
	tk = newTokenizer(t, v)
	if got, want := tk.Encode("ab"), []int32{3, 4, 5}; !sameIDs(got, want) {
		t.Errorf("unused: got %v, want %v", got, want)
	}
	if got, want := tk.Encode("abc"), []int32{3, abc}; !sameIDs(got, want) {
		t.Errorf("through unused: got %v, want %v", got, want)
	}
	if got, want := tk.encodePlain("cd"), []int32{3, 6, 7}; !sameIDs(got, want) {
		t.Errorf("control merge: got %v, want %v", got, want)
	}
	// Without byte pieces, a character with no piece is UNK.
	tk = newTokenizer(t, small())
	if got, want := tk.Encode("aé"), []int32{3, 4, 0}; !sameIDs(got, want) {
		t.Errorf("no byte fallback: got %v, want %v", got, want)
	}
	// Without AddSpacePrefix there is no dummy prefix, and nothing is
	// stripped when decoding.
	v = small()
	v.AddSpacePrefix = false
	tk = newTokenizer(t, v)
	if got, want := tk.Encode("a b"), []int32{4, 3, 5}; !sameIDs(got, want) {
		t.Errorf("no prefix: got %v, want %v", got, want)
	}
	if got := tk.Decode([]int32{3, 4}); got != " a" {
		t.Errorf("no prefix: Decode = %q", got)
	}
	// AddEOS appends EOS.
	v = small()
	v.AddEOS = true
	tk = newTokenizer(t, v)
	if got, want := tk.EncodePrompt("a"), []int32{1, 3, 4, 2}; !sameIDs(got, want) {
		t.Errorf("AddEOS: got %v, want %v", got, want)
	}
}

func TestNewRefuses(t *testing.T) {
	for _, tc := range []struct {
		name   string
		break_ func(v *modelfile.Tokenizer)
		want   string
	}{
		{"no tokens", func(v *modelfile.Tokenizer) { v.Tokens, v.Scores, v.Types = nil, nil, nil }, "no tokens"},
		{"short scores", func(v *modelfile.Tokenizer) { v.Scores = v.Scores[1:] }, "scores"},
		{"bad type", func(v *modelfile.Tokenizer) { v.Types[4] = 9 }, "type 9"},
		{"empty piece", func(v *modelfile.Tokenizer) { v.Tokens[4] = "" }, "empty"},
		{"NaN score", func(v *modelfile.Tokenizer) { v.Scores[4] = float32(math.NaN()) }, "NaN"},
		{"duplicate", func(v *modelfile.Tokenizer) { v.Tokens[5] = "a" }, "both"},
		{"bad byte piece", func(v *modelfile.Tokenizer) { v.Types[4] = int32(vocab.Byte) }, "<0xXX>"},
		{"BOS out of range", func(v *modelfile.Tokenizer) { v.BOS = 99 }, "BOS"},
		{"no BOS to add", func(v *modelfile.Tokenizer) { v.BOS = -1 }, "BOS"},
		{"UNK negative", func(v *modelfile.Tokenizer) { v.UNK = -2 }, "UNK"},
	} {
		v := small()
		tc.break_(v)
		if _, err := New(v); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want one mentioning %q", tc.name, err, tc.want)
		}
	}
	if _, err := New(nil); err == nil {
		t.Error("New(nil) succeeded")
	}
	// An Unused entry may share a used piece's text (llama.cpp's padding).
	v := small()
	v.Tokens = append(v.Tokens, "a")
	v.Scores = append(v.Scores, 0)
	v.Types = append(v.Types, int32(vocab.Unused))
	tk, err := New(v)
	if err != nil {
		t.Fatal(err)
	}
	if id, _ := tk.ID("a"); id != 4 {
		t.Errorf("ID(a) = %d, want the used piece 4", id)
	}
}

// TestOrder checks that the packed queue key orders merges as SentencePiece's
// comparator: the higher score first, then the smaller left index.
func TestOrder(t *testing.T) {
	inf := float32(math.Inf(1))
	scores := []float32{-inf, -1e9, -1000, -1, -1e-30, -1e-45, float32(math.Copysign(0, -1)), 0, 1e-45, 1e-30, 1, 1e9, inf}
	lefts := []int32{0, 1, 2, 1000, 1<<31 - 1}
	for _, sa := range scores {
		for _, la := range lefts {
			for _, sb := range scores {
				for _, lb := range lefts {
					want := sa > sb || (sa == sb && la < lb)
					if got := order(sa, la) > order(sb, lb); got != want {
						t.Errorf("(%g, %d) before (%g, %d): %v, want %v", sa, la, sb, lb, got, want)
					}
				}
			}
		}
	}
}
