package vocab

import (
	"os"
	"reflect"
	"testing"
)

// FuzzParseSentencePiece feeds arbitrary bytes to ParseSentencePiece. What
// parses must validate and survive a write and a second parse unchanged.
func FuzzParseSentencePiece(f *testing.F) {
	f.Add(base().w.b)
	f.Add(base().raw(0x4b, 0x08, 0x01, 0x53, 0x54, 0x4c).w.b)
	f.Add(base().trainer(41, -1, 43, 3).normalizer(3, 0).w.b)
	f.Add(base().piece("<0x00>", 0, 6).trainer(35, 1).w.b)
	f.Add((&model{}).piece("<unk>", 0, 2).trainer(3, 1).w.b)
	if data, err := tiny().SentencePiece(); err == nil {
		f.Add(data)
	}
	if data, err := os.ReadFile(tinyModel); err == nil {
		f.Add(data) // written by the sentencepiece library itself
	}
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := ParseSentencePiece(data, "fuzz.model")
		if err != nil {
			return
		}
		if err := v.Validate(); err != nil {
			t.Fatalf("parsed but invalid: %v", err)
		}
		out, err := v.SentencePiece()
		if err != nil {
			t.Fatalf("parsed but cannot be written: %v", err)
		}
		w, err := ParseSentencePiece(out, "rewritten.model")
		if err != nil {
			t.Fatalf("written model does not parse: %v", err)
		}
		if !reflect.DeepEqual(v, w) {
			t.Fatalf("round trip differs: %s vs %s", summary(v), summary(w))
		}
	})
}

// FuzzParseTokenizerJSON feeds arbitrary bytes to ParseTokenizerJSON. What
// parses must validate, and what can be written back must parse to the same
// tokens, types, special ids and flags.
func FuzzParseTokenizerJSON(f *testing.F) {
	f.Add(hfDoc(nil))
	f.Add(hfDoc(map[string]string{"pre_tokenizer": "null", "normalizer": `{"type": "Sequence", "normalizers": [{"type": "Prepend", "prepend": "▁"}, {"type": "Replace", "pattern": {"String": " "}, "content": "▁"}]}`}))
	f.Add(hfDoc(map[string]string{"model": `{"type": "BPE", "unk_token": "<unk>", "byte_fallback": true, "vocab": {"<unk>": 0, "<s>": 1, "</s>": 2, "▁": 3, "a": 4, "▁a": 5}, "merges": ["▁ a"]}`}))
	f.Add(hfDoc(map[string]string{"added_tokens": `[{"id": 0, "content": "<unk>", "special": true}, {"id": 7, "content": "<image>", "special": true}, {"id": 8, "content": "<x0>"}]`}))
	for _, legacy := range []bool{false, true} {
		v := tiny()
		v.Legacy = legacy
		if data, err := v.TokenizerJSON(); err == nil {
			f.Add(data)
		}
	}
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := ParseTokenizerJSON(data, "fuzz.json")
		if err != nil {
			return
		}
		if err := v.Validate(); err != nil {
			t.Fatalf("parsed but invalid: %v", err)
		}
		out, err := v.TokenizerJSON()
		if err != nil {
			return // e.g. no unk_token: parseable, but not writable
		}
		w, err := ParseTokenizerJSON(out, "rewritten.json")
		if err != nil {
			t.Fatalf("written tokenizer.json does not parse: %v\n%s", err, out)
		}
		a, b := *v, *w
		a.Scores, b.Scores = nil, nil
		if !reflect.DeepEqual(a, b) {
			t.Fatalf("round trip differs: %s vs %s", summary(v), summary(w))
		}
	})
}
