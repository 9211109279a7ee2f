package vocab

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func TestMergesLlama(t *testing.T) {
	m := llama(t).merges()
	// transformers' LlamaConverter gives LLaMA's tokenizer.json 61249 merges.
	if len(m) != 61249 {
		t.Errorf("%d merges, want 61249", len(m))
	}
	want := [][2]string{{"▁", "t"}, {"e", "r"}, {"i", "n"}, {"▁", "a"}, {"e", "n"}, {"o", "n"}, {"▁t", "h"}, {"▁", "th"}, {"e", "s"}, {"▁", "s"}}
	if !reflect.DeepEqual(m[:len(want)], want) {
		t.Errorf("first merges %q, want %q", m[:len(want)], want)
	}
	// The whitespace-run pieces (score -1e9) come last, longest left half
	// first: the 16-space piece from 15 + 1.
	if last := m[len(m)-1]; last != [2]string{"▁", "▁"} {
		t.Errorf("last merge %q", last)
	}
	ws := strings.Repeat("▁", 16)
	i := slices.Index(m, [2]string{strings.Repeat("▁", 15), "▁"})
	if i < 0 || m[i][0]+m[i][1] != ws {
		t.Fatalf("no 15+1 whitespace merge")
	}
	for _, x := range m[i:] {
		if strings.Trim(x[0]+x[1], "▁") != "" {
			t.Fatalf("merge %q after the first whitespace-run merge", x)
		}
	}
}

func TestMergesTieBreak(t *testing.T) {
	v := &Vocab{
		Tokens: []string{"<unk>", "a", "b", "c", "ab", "bc", "abc", "ca", "é", "éa", "<s>", "ac"},
		Scores: []float32{0, -1, -1, -1, -5, -5, -5, -2, -1, -5, 0, -5},
		Types:  []TokenType{Unknown, Normal, Normal, Normal, Normal, Normal, Normal, Normal, Normal, Normal, Control, Normal},
		BOS:    10, EOS: -1, UNK: 0, PAD: -1,
	}
	got := v.merges()
	// "ca" (-2) first; then the -5 pieces by the code-point lengths of their
	// halves, longest left first, then longest right ("ab"+"c", "a"+"bc"),
	// else in id order of the merged piece ("é" counts as one code point).
	want := [][2]string{{"c", "a"}, {"ab", "c"}, {"a", "bc"}, {"a", "b"}, {"b", "c"}, {"é", "a"}, {"a", "c"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("merges %q, want %q", got, want)
	}
}

// TestTokenizerJSONRoundTrip writes LLaMA's vocabulary as tokenizer.json,
// parses it back and checks that everything but the scores survives and that
// the derived scores order every merged piece as tokenizer.model does.
func TestTokenizerJSONRoundTrip(t *testing.T) {
	for _, legacy := range []bool{false, true} {
		v := llama(t)
		v.Legacy = legacy
		data, err := v.TokenizerJSON()
		if err != nil {
			t.Fatal(err)
		}
		if !json.Valid(data) {
			t.Fatal("invalid JSON")
		}
		got, err := ParseTokenizerJSON(data, "tokenizer.json")
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got.Tokens, v.Tokens) || !reflect.DeepEqual(got.Types, v.Types) {
			t.Fatal("tokens or types differ")
		}
		g, w := *got, *v
		g.Tokens, g.Scores, g.Types, w.Tokens, w.Scores, w.Types = nil, nil, nil, nil, nil, nil
		if !reflect.DeepEqual(g, w) {
			t.Errorf("legacy %v: fields differ:\n got %+v\nwant %+v", legacy, g, w)
		}
		checkScoreOrder(t, v, got)
	}
}

// checkScoreOrder checks, for every piece some merge produces, that a higher
// score in orig is a higher score in derived.
func checkScoreOrder(t *testing.T, orig, derived *Vocab) {
	t.Helper()
	ids := map[string]int{}
	for i, s := range orig.Tokens {
		ids[s] = i
	}
	var merged []int
	seen := map[int]bool{}
	for _, m := range orig.merges() {
		id := ids[m[0]+m[1]]
		if !seen[id] {
			seen[id] = true
			merged = append(merged, id)
		}
	}
	slices.SortStableFunc(merged, func(a, b int) int {
		switch {
		case orig.Scores[a] > orig.Scores[b]:
			return -1
		case orig.Scores[a] < orig.Scores[b]:
			return 1
		}
		return 0
	})
	// Walk the groups of equal original score: every derived score of a
	// group must be below every derived score of the groups before it.
	prevMin := float32(1)
	for i := 0; i < len(merged); {
		j := i
		gmin, gmax := derived.Scores[merged[i]], derived.Scores[merged[i]]
		for ; j < len(merged) && orig.Scores[merged[j]] == orig.Scores[merged[i]]; j++ {
			gmin = min(gmin, derived.Scores[merged[j]])
			gmax = max(gmax, derived.Scores[merged[j]])
		}
		if gmax >= prevMin {
			t.Fatalf("piece %q (score %v) derives %v, not below %v of a higher-scored piece",
				orig.Tokens[merged[i]], orig.Scores[merged[i]], gmax, prevMin)
		}
		prevMin = gmin
		i = j
	}
	// Pieces no merge produces rank below all merged ones.
	for i, ty := range derived.Types {
		if ty == Normal && !seen[i] && derived.Scores[i] >= prevMin {
			t.Fatalf("unmerged piece %q derives %v, not below the merged pieces", derived.Tokens[i], derived.Scores[i])
		}
	}
	if len(merged) < 29000 {
		t.Errorf("only %d merged pieces", len(merged))
	}
}

func TestTokenizerJSONLayout(t *testing.T) {
	v := tiny()
	v.Legacy = false
	data, err := v.TokenizerJSON()
	if err != nil {
		t.Fatal(err)
	}
	var f map[string]any
	if err := json.Unmarshal(data, &f); err != nil {
		t.Fatal(err)
	}
	pre := compact(f["pre_tokenizer"])
	if pre != `{"prepend_scheme":"first","replacement":"▁","split":false,"type":"Metaspace"}` {
		t.Errorf("pre_tokenizer %s", pre)
	}
	if f["normalizer"] != nil {
		t.Errorf("normalizer %v", f["normalizer"])
	}
	model := f["model"].(map[string]any)
	if model["type"] != "BPE" || model["byte_fallback"] != true || model["fuse_unk"] != true || model["unk_token"] != "<unk>" {
		t.Errorf("model %v", model)
	}
	post := compact(f["post_processor"].(map[string]any)["single"])
	if post != `[{"SpecialToken":{"id":"<s>","type_id":0}},{"Sequence":{"id":"A","type_id":0}}]` {
		t.Errorf("post_processor single %s", post)
	}
	added := compact(f["added_tokens"])
	if !strings.Contains(added, `{"content":"<unk>","id":0,"lstrip":false,"normalized":false,"rstrip":false,"single_word":false,"special":true}`) {
		t.Errorf("added_tokens %s", added)
	}

	v.Legacy, v.AddEOS = true, true
	data, err = v.TokenizerJSON()
	if err != nil {
		t.Fatal(err)
	}
	f = nil
	if err := json.Unmarshal(data, &f); err != nil {
		t.Fatal(err)
	}
	norm := compact(f["normalizer"])
	if norm != `{"normalizers":[{"prepend":"▁","type":"Prepend"},{"content":"▁","pattern":{"String":" "},"type":"Replace"}],"type":"Sequence"}` {
		t.Errorf("legacy normalizer %s", norm)
	}
	if f["pre_tokenizer"] != nil {
		t.Errorf("legacy pre_tokenizer %v", f["pre_tokenizer"])
	}
	post = compact(f["post_processor"].(map[string]any)["single"])
	if !strings.HasSuffix(post, `{"SpecialToken":{"id":"</s>","type_id":0}}]`) {
		t.Errorf("post_processor with EOS %s", post)
	}

	for _, tc := range []struct {
		name   string
		break_ func(v *Vocab)
	}{
		{"duplicate unused", func(v *Vocab) { v.Tokens[260], v.Types[260] = v.Tokens[261], Unused }},
		{"no unk", func(v *Vocab) { v.UNK = -1 }},
		{"add bos without bos", func(v *Vocab) { v.BOS = -1 }},
		{"add eos without eos", func(v *Vocab) { v.AddEOS, v.EOS = true, -1 }},
		{"invalid", func(v *Vocab) { v.Scores = nil }},
	} {
		v := tiny()
		tc.break_(v)
		if _, err := v.TokenizerJSON(); err == nil {
			t.Errorf("%s: no error", tc.name)
		}
	}
}

// compact marshals v without escaping <, > and &.
func compact(v any) string {
	var b strings.Builder
	e := json.NewEncoder(&b)
	e.SetEscapeHTML(false)
	e.Encode(v)
	return strings.TrimSpace(b.String())
}

// hfDoc is a small tokenizer.json to vary for parser cases.
func hfDoc(repl map[string]string) []byte {
	parts := map[string]string{
		"added_tokens":   `[{"id": 0, "content": "<unk>", "special": true}, {"id": 1, "content": "<s>", "special": true}, {"id": 2, "content": "</s>", "special": true}]`,
		"normalizer":     `null`,
		"pre_tokenizer":  `{"type": "Metaspace", "replacement": "▁", "prepend_scheme": "first", "split": false}`,
		"post_processor": `{"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}], "special_tokens": {"<s>": {"id": "<s>", "ids": [1], "tokens": ["<s>"]}}}`,
		"model":          `{"type": "BPE", "unk_token": "<unk>", "byte_fallback": true, "fuse_unk": true, "vocab": {"<unk>": 0, "<s>": 1, "</s>": 2, "<0x41>": 3, "▁": 4, "a": 5, "▁a": 6}, "merges": [["▁", "a"]]}`,
	}
	for k, v := range repl {
		parts[k] = v
	}
	var b strings.Builder
	b.WriteString("{")
	first := true
	for _, k := range []string{"added_tokens", "normalizer", "pre_tokenizer", "post_processor", "model"} {
		if parts[k] == "" {
			continue
		}
		if !first {
			b.WriteString(", ")
		}
		first = false
		b.WriteString(`"` + k + `": ` + parts[k])
	}
	b.WriteString("}")
	return []byte(b.String())
}

func TestParseTokenizerJSON(t *testing.T) {
	v, err := ParseTokenizerJSON(hfDoc(nil), "t.json")
	if err != nil {
		t.Fatal(err)
	}
	wantTypes := []TokenType{Unknown, Control, Control, Byte, Normal, Normal, Normal}
	// One merged piece (k=1): "▁a" -1; "▁" and "a" at -(1+1+id).
	wantScores := []float32{0, 0, 0, 0, -6, -7, -1}
	if !reflect.DeepEqual(v.Types, wantTypes) || !reflect.DeepEqual(v.Scores, wantScores) {
		t.Errorf("types %v scores %v", v.Types, v.Scores)
	}
	if v.BOS != 1 || v.EOS != 2 || v.UNK != 0 || v.PAD != -1 || !v.AddBOS || v.AddEOS || !v.AddSpacePrefix || v.Legacy {
		t.Errorf("fields %s", summary(v))
	}

	for _, tc := range []struct {
		name                      string
		repl                      map[string]string
		prefix, legacy, bos, eos_ bool
	}{
		{"string merges", map[string]string{"model": `{"type": "BPE", "unk_token": "<unk>", "byte_fallback": true, "vocab": {"<unk>": 0, "<s>": 1, "</s>": 2, "▁": 3, "a": 4, "▁a": 5}, "merges": ["▁ a"]}`}, true, false, true, false},
		{"legacy layout", map[string]string{"pre_tokenizer": "null", "normalizer": `{"type": "Sequence", "normalizers": [{"type": "Prepend", "prepend": "▁"}, {"type": "Replace", "pattern": {"String": " "}, "content": "▁"}]}`}, true, true, true, false},
		{"replace only", map[string]string{"pre_tokenizer": "null", "normalizer": `{"type": "Replace", "pattern": {"String": " "}, "content": "▁"}`}, false, true, true, false},
		{"always", map[string]string{"pre_tokenizer": `{"type": "Metaspace", "replacement": "▁", "prepend_scheme": "always", "split": true}`}, true, true, true, false},
		{"never", map[string]string{"pre_tokenizer": `{"type": "Metaspace", "replacement": "▁", "prepend_scheme": "never"}`}, false, true, true, false},
		{"old metaspace", map[string]string{"pre_tokenizer": `{"type": "Metaspace", "replacement": "▁", "add_prefix_space": true}`}, true, true, true, false},
		{"old metaspace off", map[string]string{"pre_tokenizer": `{"type": "Metaspace", "replacement": "▁", "add_prefix_space": false}`}, false, true, true, false},
		{"no layout", map[string]string{"pre_tokenizer": "null"}, false, true, true, false},
		{"no post processor", map[string]string{"post_processor": "null"}, true, false, false, false},
		{"bos and eos", map[string]string{"post_processor": `{"type": "Sequence", "processors": [{"type": "ByteLevel"}, {"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}, {"SpecialToken": {"id": "</s>", "type_id": 0}}], "special_tokens": {}}]}`}, true, false, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, err := ParseTokenizerJSON(hfDoc(tc.repl), "t.json")
			if err != nil {
				t.Fatal(err)
			}
			if v.AddSpacePrefix != tc.prefix || v.Legacy != tc.legacy || v.AddBOS != tc.bos || v.AddEOS != tc.eos_ || v.BOS != 1 || v.EOS != 2 {
				t.Errorf("got %s", summary(v))
			}
		})
	}

	// Added tokens past model.vocab, special or not.
	v, err = ParseTokenizerJSON(hfDoc(map[string]string{"added_tokens": `[{"id": 0, "content": "<unk>", "special": true}, {"id": 1, "content": "<s>", "special": true}, {"id": 2, "content": "</s>", "special": true}, {"id": 7, "content": "<image>", "special": true}, {"id": 8, "content": "<x0>", "special": false}]`}), "t.json")
	if err != nil {
		t.Fatal(err)
	}
	if v.Len() != 9 || v.Types[7] != Control || v.Types[8] != UserDefined || v.Tokens[8] != "<x0>" {
		t.Errorf("added: %q %v", v.Tokens, v.Types)
	}
}

func TestParseTokenizerJSONErrors(t *testing.T) {
	model := func(fields string) map[string]string {
		return map[string]string{"model": `{"type": "BPE", "unk_token": "<unk>", "byte_fallback": true, "vocab": {"<unk>": 0, "<s>": 1, "</s>": 2, "▁": 3, "a": 4, "▁a": 5}` + fields + `}`}
	}
	for _, tc := range []struct {
		name string
		data []byte
		want string
	}{
		{"not json", []byte("{"), "unexpected end"},
		{"no model", []byte(`{}`), "no model"},
		{"unigram", hfDoc(map[string]string{"model": `{"type": "Unigram", "vocab": []}`}), `"Unigram"; only BPE`},
		{"no byte fallback", hfDoc(map[string]string{"model": `{"type": "BPE", "vocab": {"a": 0}}`}), "byte_fallback"},
		{"prefix", hfDoc(model(`, "continuing_subword_prefix": "##"`)), "continuing_subword_prefix"},
		{"suffix", hfDoc(model(`, "end_of_word_suffix": "</w>"`)), "end_of_word_suffix"},
		{"ignore merges", hfDoc(model(`, "ignore_merges": true`)), "ignore_merges"},
		{"empty", hfDoc(map[string]string{"added_tokens": "[]", "model": `{"type": "BPE", "byte_fallback": true, "vocab": {}}`}), "empty"},
		{"negative id", hfDoc(map[string]string{"model": `{"type": "BPE", "byte_fallback": true, "vocab": {"a": -1}}`}), "outside"},
		{"huge id", hfDoc(map[string]string{"model": `{"type": "BPE", "byte_fallback": true, "vocab": {"a": 99999999999}}`}), "outside"},
		{"fractional id", hfDoc(map[string]string{"model": `{"type": "BPE", "byte_fallback": true, "vocab": {"a": 1.5}}`}), "int64"},
		{"shared id", hfDoc(map[string]string{"model": `{"type": "BPE", "byte_fallback": true, "vocab": {"<unk>": 0, "<s>": 1, "</s>": 1}}`}), "both have id 1"},
		{"gap", hfDoc(map[string]string{"model": `{"type": "BPE", "byte_fallback": true, "vocab": {"<unk>": 0, "<s>": 1, "</s>": 2, "a": 5}}`}), "not contiguous"},
		{"added without id", hfDoc(map[string]string{"added_tokens": `[{"content": "x"}]`}), "no id"},
		{"added twice", hfDoc(map[string]string{"added_tokens": `[{"id": 0, "content": "<unk>"}, {"id": 0, "content": "<unk>"}]`}), "listed twice"},
		{"added disagrees", hfDoc(map[string]string{"added_tokens": `[{"id": 0, "content": "<pad>"}]`}), "model.vocab has"},
		{"added duplicates text", hfDoc(map[string]string{"added_tokens": `[{"id": 7, "content": "a"}]`}), `both "a"`},
		{"unk missing", hfDoc(map[string]string{"model": `{"type": "BPE", "unk_token": "<u>", "byte_fallback": true, "vocab": {"<unk>": 0, "<s>": 1, "</s>": 2}}`}), "unk_token"},
		{"merge not string", hfDoc(model(`, "merges": [7]`)), "merges[0]"},
		{"merge three", hfDoc(model(`, "merges": ["a b c"]`)), "two pieces"},
		{"merge triple array", hfDoc(model(`, "merges": [["a", "b", "c"]]`)), "merges[0]"},
		{"merge unknown left", hfDoc(model(`, "merges": [["x", "a"]]`)), `"x" is not`},
		{"merge unknown right", hfDoc(model(`, "merges": [["▁", "x"]]`)), `"x" is not`},
		{"merge result unknown", hfDoc(model(`, "merges": [["a", "a"]]`)), "merge of"},
		{"nfkc", hfDoc(map[string]string{"normalizer": `{"type": "NFKC"}`, "pre_tokenizer": "null"}), "NFKC"},
		{"prepend only", hfDoc(map[string]string{"normalizer": `{"type": "Prepend", "prepend": "▁"}`, "pre_tokenizer": "null"}), "no Replace"},
		{"regex replace", hfDoc(map[string]string{"normalizer": `{"type": "Replace", "pattern": {"Regex": " "}, "content": "▁"}`, "pre_tokenizer": "null"}), "not supported"},
		{"both layouts", hfDoc(map[string]string{"normalizer": `{"type": "Replace", "pattern": {"String": " "}, "content": "▁"}`}), "both"},
		{"bytelevel", hfDoc(map[string]string{"pre_tokenizer": `{"type": "ByteLevel"}`}), "ByteLevel"},
		{"bad scheme", hfDoc(map[string]string{"pre_tokenizer": `{"type": "Metaspace", "replacement": "▁", "prepend_scheme": "sometimes"}`}), "sometimes"},
		{"template id", hfDoc(map[string]string{"post_processor": `{"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}], "special_tokens": {"<s>": {"ids": [99]}}}`}), "out of range"},
		{"template name", hfDoc(map[string]string{"post_processor": `{"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "<bos>", "type_id": 0}}]}`}), "<bos>"},
		{"bad post processor", hfDoc(map[string]string{"post_processor": `[1]`}), "post_processor"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseTokenizerJSON(tc.data, "bad.json")
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "bad.json: ") {
				t.Fatalf("err = %v, want one starting with the path and mentioning %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error has several lines: %q", err)
			}
		})
	}
}
