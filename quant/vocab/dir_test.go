package vocab

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// mairaAdded is MAIRA-2's 207 added tokens. Which of them a real checkpoint
// marks special does not matter here; a mix exercises both paths.
func mairaAdded() []Added {
	var a []Added
	add := func(s string, special bool) { a = append(a, Added{int32(32000 + len(a)), s, special}) }
	add("<obj>", false)
	add("</obj>", false)
	for i := 0; i < 100; i++ {
		add(fmt.Sprintf("<x%d>", i), false)
	}
	for i := 0; i < 100; i++ {
		add(fmt.Sprintf("<y%d>", i), false)
	}
	add("<box>", false)
	add("</box>", false)
	add("<image>", true)
	add("<prev_im>", true)
	add("<lat_image>", true)
	return a
}

const vicunaTemplate = "{% for message in messages %}{{ message['content'] }}{% endfor %}"

func TestWriteReadDirMAIRA(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ckpt")
	base := llama(t)
	added := append([]Added{{0, "<unk>", true}, {1, "<s>", true}, {2, "</s>", true}}, mairaAdded()...)
	cfg := TokenizerConfig{ChatTemplate: vicunaTemplate, Legacy: false, ModelMaxLength: 4096, PadToken: "<unk>"}
	if err := WriteHFDir(dir, base, added, cfg); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if want := []string{"added_tokens.json", "special_tokens_map.json", "tokenizer.json", "tokenizer.model", "tokenizer_config.json"}; !reflect.DeepEqual(names, want) {
		t.Fatalf("files %q, want %q", names, want)
	}

	// tokenizer.model holds the base vocabulary only, exactly.
	data, err := os.ReadFile(filepath.Join(dir, "tokenizer.model"))
	if err != nil {
		t.Fatal(err)
	}
	spm, err := ParseSentencePiece(data, "tokenizer.model")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(spm, base) {
		t.Error("tokenizer.model differs from the base vocabulary")
	}

	// The converter's view of the directory.
	v, err := ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	checkMAIRA(t, v, base, true)

	// The same from tokenizer.json alone (scores then derive from merges).
	if err := os.Remove(filepath.Join(dir, "tokenizer.model")); err != nil {
		t.Fatal(err)
	}
	v2, err := ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	checkMAIRA(t, v2, base, false)

	// tokenizer.json parsed alone already has the added tokens.
	data, err = os.ReadFile(filepath.Join(dir, "tokenizer.json"))
	if err != nil {
		t.Fatal(err)
	}
	j, err := ParseTokenizerJSON(data, "tokenizer.json")
	if err != nil {
		t.Fatal(err)
	}
	if j.Len() != 32207 || j.Tokens[32204] != "<image>" || j.Types[32204] != Control || j.Types[32000] != UserDefined || j.Legacy || !j.AddSpacePrefix {
		t.Errorf("tokenizer.json: len %d, %q %v %v, legacy %v", j.Len(), j.Tokens[32204], j.Types[32204], j.Types[32000], j.Legacy)
	}

	// tokenizer_config.json and the others in transformers' shape.
	var tc map[string]any
	readJSON(t, filepath.Join(dir, "tokenizer_config.json"), &tc)
	dec := tc["added_tokens_decoder"].(map[string]any)
	if len(dec) != 210 || dec["32204"].(map[string]any)["content"] != "<image>" || dec["0"].(map[string]any)["special"] != true {
		t.Errorf("added_tokens_decoder has %d entries: %v", len(dec), dec["32204"])
	}
	if tc["model_max_length"] != 4096.0 || tc["chat_template"] != vicunaTemplate || tc["legacy"] != false || tc["pad_token"] != "<unk>" || tc["tokenizer_class"] != "LlamaTokenizer" {
		t.Errorf("tokenizer_config.json: %v", tc)
	}
	var at map[string]int
	readJSON(t, filepath.Join(dir, "added_tokens.json"), &at)
	if len(at) != 207 || at["<obj>"] != 32000 || at["<lat_image>"] != 32206 || at["<y99>"] != 32201 {
		t.Errorf("added_tokens.json: %d entries", len(at))
	}
	var sm map[string]map[string]any
	readJSON(t, filepath.Join(dir, "special_tokens_map.json"), &sm)
	if sm["bos_token"]["content"] != "<s>" || sm["pad_token"]["content"] != "<unk>" || len(sm) != 4 {
		t.Errorf("special_tokens_map.json: %v", sm)
	}
}

// checkMAIRA checks ReadDir's result against what convert_hf_to_gguf.py
// makes of the directory.
func checkMAIRA(t *testing.T, v, base *Vocab, fromSPM bool) {
	t.Helper()
	if v.Len() != 32207 {
		t.Fatalf("Len = %d", v.Len())
	}
	if !reflect.DeepEqual(v.Tokens[:32000], base.Tokens) {
		t.Error("base tokens differ")
	}
	for id := 3; id < 32000; id++ {
		if v.Types[id] != base.Types[id] || fromSPM && v.Scores[id] != base.Scores[id] {
			t.Fatalf("base token %d %q: %v %v, want %v %v", id, v.Tokens[id], v.Types[id], v.Scores[id], base.Types[id], base.Scores[id])
		}
	}
	// tokenizer_config lists <unk>, <s>, </s> as special: the converter
	// makes all three Control with score -1000.
	for id := 0; id < 3; id++ {
		if v.Types[id] != Control || v.Scores[id] != -1000 {
			t.Errorf("token %d %q: %v %v, want CONTROL -1000", id, v.Tokens[id], v.Types[id], v.Scores[id])
		}
	}
	for _, a := range mairaAdded() {
		want := UserDefined
		if a.Special {
			want = Control
		}
		if v.Tokens[a.ID] != a.Content || v.Types[a.ID] != want || v.Scores[a.ID] != -1000 {
			t.Fatalf("added %d: %q %v %v, want %q %v -1000", a.ID, v.Tokens[a.ID], v.Types[a.ID], v.Scores[a.ID], a.Content, want)
		}
	}
	if v.BOS != 1 || v.EOS != 2 || v.UNK != 0 || v.PAD != 0 || !v.AddBOS || v.AddEOS || !v.AddSpacePrefix || v.Legacy || v.ChatTemplate != vicunaTemplate {
		t.Errorf("fields: %s", summary(v))
	}
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// writeDir writes a base tokenizer.model (tiny) plus the given files.
func writeDir(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	data, err := tiny().SentencePiece()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "tokenizer.model"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	for name, s := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestReadDirConverterRules(t *testing.T) {
	n := tiny().Len() // 270
	dir := writeDir(t, map[string]string{
		// File order matters: "<b>" and "<a>" both claim n+1; the last wins.
		"added_tokens.json": fmt.Sprintf(`{"<pad>": %d, "<b>": %d, "<a>": %d}`, n, n+1, n+1),
		"tokenizer_config.json": fmt.Sprintf(`{
			"added_tokens_decoder": {
				"%d": {"content": "<pad>", "special": false},
				"%d": {"content": "▁two▁words", "special": false},
				"%d": {"content": "<|im_start|>", "special": false},
				"%d": {"content": "<custom>", "special": true}
			},
			"add_bos_token": false, "add_eos_token": true, "add_prefix_space": false,
			"bos_token": {"__type": "AddedToken", "content": "<s>", "lstrip": false},
			"pad_token": null,
			"chat_template": [{"name": "tool_use", "template": "T"}, {"name": "default", "template": "D"}]
		}`, n, n+2, n+3, 259),
		"special_tokens_map.json": `{"eos_token": "</s>", "pad_token": "<pad>", "unk_token": {"content": "<unk>"}}`,
	})
	v, err := ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		id    int
		tok   string
		typ   TokenType
		score float32
	}{
		{n, "<pad>", Control, -1000},              // not special, but looks special to the converter
		{n + 1, "<a>", UserDefined, -1000},        // added_tokens.json order
		{n + 2, " two words", UserDefined, -1000}, // user-defined spaces pre-normalized
		{n + 3, "<|im_start|>", Control, -1000},
		{259, "<custom>", Control, -1000}, // overrides the base piece "▁t"
		{260, "he", Normal, -2},
	}
	for _, w := range want {
		if v.Tokens[w.id] != w.tok || v.Types[w.id] != w.typ || v.Scores[w.id] != w.score {
			t.Errorf("token %d: %q %v %v, want %q %v %v", w.id, v.Tokens[w.id], v.Types[w.id], v.Scores[w.id], w.tok, w.typ, w.score)
		}
	}
	// pad_token null in tokenizer_config wins over special_tokens_map.
	if v.Len() != n+4 || v.BOS != 1 || v.EOS != 2 || v.UNK != 0 || v.PAD != -1 || v.AddBOS || !v.AddEOS || v.AddSpacePrefix || !v.Legacy || v.ChatTemplate != "D" {
		t.Errorf("fields: %s", summary(v))
	}

	// chat_template.jinja when tokenizer_config has none; legacy from config.
	dir = writeDir(t, map[string]string{
		"tokenizer_config.json":   `{"legacy": false, "chat_template": null}`,
		"chat_template.jinja":     vicunaTemplate,
		"special_tokens_map.json": `{"pad_token": "<unk>"}`,
	})
	v, err = ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if v.ChatTemplate != vicunaTemplate || v.Legacy || v.PAD != 0 || !v.AddBOS {
		t.Errorf("fields: %s", summary(v))
	}

	// Only tokenizer.json: Legacy follows its layout unless configured.
	base := tiny()
	base.Legacy = false
	data, err := base.TokenizerJSON()
	if err != nil {
		t.Fatal(err)
	}
	dir = t.TempDir()
	os.WriteFile(filepath.Join(dir, "tokenizer.json"), data, 0o644)
	if v, err = ReadDir(dir); err != nil || v.Legacy {
		t.Errorf("tokenizer.json only: %v %v", err, v)
	}
	os.WriteFile(filepath.Join(dir, "tokenizer_config.json"), []byte(`{"legacy": true}`), 0o644)
	if v, err = ReadDir(dir); err != nil || !v.Legacy {
		t.Errorf("tokenizer.json with legacy true: %v %v", err, v)
	}
}

func TestReadDirErrors(t *testing.T) {
	n := tiny().Len()
	for _, tc := range []struct {
		name  string
		files map[string]string
		want  string
	}{
		{"added not object", map[string]string{"added_tokens.json": `[1]`}, "added_tokens.json: want a JSON object"},
		{"added bad json", map[string]string{"added_tokens.json": `{"a": }`}, "added_tokens.json: invalid character"},
		{"added trailing", map[string]string{"added_tokens.json": `{} {}`}, "added_tokens.json: data after"},
		{"added negative", map[string]string{"added_tokens.json": `{"<a>": -1}`}, "added_tokens.json: \"<a>\": id -1"},
		{"added string id", map[string]string{"added_tokens.json": `{"<a>": "1"}`}, "added_tokens.json: \"<a>\""},
		{"added gap", map[string]string{"added_tokens.json": fmt.Sprintf(`{"<a>": %d, "<b>": %d}`, n, n+2)}, fmt.Sprintf("none has id %d", n+1)},
		{"added too far", map[string]string{"added_tokens.json": `{"<a>": 99999999999}`}, "none has id 270"},
		{"added duplicate text", map[string]string{"added_tokens.json": fmt.Sprintf(`{"<s>": %d}`, n)}, "disagree"},
		{"config bad json", map[string]string{"tokenizer_config.json": `{`}, "tokenizer_config.json: unexpected end"},
		{"decoder key", map[string]string{"tokenizer_config.json": `{"added_tokens_decoder": {"x": {"content": "a"}}}`}, `key "x"`},
		{"decoder content", map[string]string{"tokenizer_config.json": fmt.Sprintf(`{"added_tokens_decoder": {"%d": {"special": true}}}`, n)}, "string content"},
		{"decoder not object", map[string]string{"tokenizer_config.json": `{"added_tokens_decoder": [1]}`}, "added_tokens_decoder: want a JSON object"},
		{"flag", map[string]string{"tokenizer_config.json": `{"add_bos_token": "yes"}`}, "add_bos_token: want true or false"},
		{"bos unknown", map[string]string{"tokenizer_config.json": `{"bos_token": "<bos>"}`}, `tokenizer_config.json: bos_token "<bos>" is not in the vocabulary`},
		{"bos number", map[string]string{"tokenizer_config.json": `{"bos_token": 1}`}, "bos_token: want a string"},
		{"map eos unknown", map[string]string{"special_tokens_map.json": `{"eos_token": {"content": "<eos>"}}`}, `special_tokens_map.json: eos_token "<eos>"`},
		{"map bad", map[string]string{"special_tokens_map.json": `[]`}, "special_tokens_map.json: json"},
		{"template type", map[string]string{"tokenizer_config.json": `{"chat_template": 5}`}, "chat_template: want a string"},
		{"template no default", map[string]string{"tokenizer_config.json": `{"chat_template": [{"name": "x", "template": "y"}]}`}, `no template named "default"`},
		{"bad model", map[string]string{"tokenizer.model": "\x08\x01"}, "tokenizer.model: "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := writeDir(t, tc.files)
			_, err := ReadDir(dir)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one mentioning %q", err, tc.want)
			}
			if !strings.HasPrefix(err.Error(), dir) {
				t.Errorf("error does not name the directory's file: %v", err)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error has several lines: %q", err)
			}
		})
	}

	dir := t.TempDir()
	_, err := ReadDir(dir)
	if err == nil || !strings.Contains(err.Error(), "looked for tokenizer.model and tokenizer.json") {
		t.Errorf("empty dir: %v", err)
	}
	os.WriteFile(filepath.Join(dir, "tokenizer.json"), []byte(`{"model": {"type": "WordPiece"}}`), 0o644)
	if _, err = ReadDir(dir); err == nil || !strings.Contains(err.Error(), "tokenizer.json: model.type is \"WordPiece\"") {
		t.Errorf("WordPiece: %v", err)
	}
	os.Mkdir(filepath.Join(dir, "tokenizer.model"), 0o755)
	if _, err = ReadDir(dir); err == nil || !strings.Contains(err.Error(), "tokenizer.model") {
		t.Errorf("tokenizer.model a directory: %v", err)
	}
}

func TestWriteHFDirErrors(t *testing.T) {
	n := int32(tiny().Len())
	for _, tc := range []struct {
		name   string
		added  []Added
		cfg    TokenizerConfig
		break_ func(v *Vocab)
		want   string
	}{
		{"gap", []Added{{n, "<a>", true}, {n + 2, "<b>", true}}, TokenizerConfig{}, nil, "without gaps"},
		{"not from base len", []Added{{n + 1, "<a>", true}}, TokenizerConfig{}, nil, "without gaps"},
		{"base mismatch", []Added{{1, "<bos>", true}}, TokenizerConfig{}, nil, "base vocabulary has \"<s>\""},
		{"twice", []Added{{n, "<a>", true}, {n, "<a>", true}}, TokenizerConfig{}, nil, "given twice"},
		{"negative", []Added{{-1, "<a>", true}}, TokenizerConfig{}, nil, "negative"},
		{"empty", []Added{{n, "", true}}, TokenizerConfig{}, nil, "empty"},
		{"not utf8", []Added{{n, "\xff", true}}, TokenizerConfig{}, nil, "UTF-8"},
		{"in base", []Added{{n, "he", true}}, TokenizerConfig{}, nil, "already"},
		{"same text", []Added{{n, "<a>", true}, {n + 1, "<a>", false}}, TokenizerConfig{}, nil, "already"},
		{"pad", nil, TokenizerConfig{PadToken: "<pad>"}, nil, "pad token"},
		{"no unk", nil, TokenizerConfig{}, func(v *Vocab) { v.Types[0] = Control }, "UNK"},
		{"invalid", nil, TokenizerConfig{}, func(v *Vocab) { v.BOS = 9999 }, "BOS"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := tiny()
			if tc.break_ != nil {
				tc.break_(v)
			}
			dir := t.TempDir()
			err := WriteHFDir(dir, v, tc.added, tc.cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one mentioning %q", err, tc.want)
			}
			if entries, _ := os.ReadDir(dir); len(entries) != 0 {
				t.Errorf("files left behind after an error: %v", entries)
			}
		})
	}
}

// TestWriteHFDirReplaces checks that writing over an existing directory
// replaces each file whole and leaves no temporary files.
func TestWriteHFDirReplaces(t *testing.T) {
	dir := t.TempDir()
	v := tiny()
	if err := WriteHFDir(dir, v, []Added{{int32(v.Len()), "<a>", true}}, TokenizerConfig{}); err != nil {
		t.Fatal(err)
	}
	v.AddSpacePrefix = false
	if err := WriteHFDir(dir, v, nil, TokenizerConfig{Legacy: true}); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(dir)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if slices.ContainsFunc(names, func(s string) bool { return strings.HasPrefix(s, ".") }) || len(names) != 5 {
		t.Errorf("files %q", names)
	}
	got, err := ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got.Len() != v.Len() || got.AddSpacePrefix || !got.Legacy {
		t.Errorf("after rewrite: %s", summary(got))
	}
}
