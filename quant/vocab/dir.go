package vocab

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"maira/internal/atomicfile"
)

// File names of a Hugging Face checkpoint's tokenizer.
const (
	fileSPM           = "tokenizer.model"
	fileTokenizerJSON = "tokenizer.json"
	fileAddedTokens   = "added_tokens.json"
	fileConfig        = "tokenizer_config.json"
	fileSpecialMap    = "special_tokens_map.json"
	fileChatTemplate  = "chat_template.jinja"
)

// ReadDir reads the tokenizer of a checkpoint directory into the vocabulary
// llama.cpp's convert_hf_to_gguf.py would write into GGUF
// (TextModel._create_vocab_sentencepiece):
//
//  1. tokenizer.model if present (ParseSentencePiece), else tokenizer.json
//     (ParseTokenizerJSON).
//  2. added_tokens.json ({"<obj>": 32000, ...}), in file order: each token
//     takes its id with score -1000 and type UserDefined.
//  3. tokenizer_config.json's added_tokens_decoder, in file order: each
//     token takes its id with score -1000, type Control when "special" is
//     true or the text looks special to the converter (<pad>, <mask>,
//     <|...|>, <unused...>, ...), else UserDefined with "▁" replaced by " ".
//     As in the converter, this overrides an id of the base vocabulary too:
//     LLaMA's tokenizer_config lists <unk>, <s> and </s> as special, so they
//     come out Control with score -1000 (<unk> included).
//
// Ids past the base vocabulary must follow it without gaps (the converter
// would fill gaps up to config.json's vocab_size, which is not read here: use
// PadTo). BOS, EOS, UNK and PAD come from tokenizer_config.json's bos_token,
// eos_token, unk_token and pad_token (a string, an AddedToken object, or
// null for none), else from special_tokens_map.json, else from the model
// file; a named token must be in the vocabulary. AddBOS, AddEOS, Legacy and
// AddSpacePrefix come from add_bos_token, add_eos_token, legacy and
// add_prefix_space when present; Legacy is otherwise true for a
// tokenizer.model and follows the layout of a tokenizer.json. ChatTemplate
// is chat_template (a string, or the "default" entry of a list of named
// templates), else the contents of chat_template.jinja.
//
// Errors are one line naming the file and the reason.
func ReadDir(dir string) (*Vocab, error) {
	v, fromSPM, err := readBase(dir)
	if err != nil {
		return nil, err
	}
	baseLen := v.Len()

	addedPath := filepath.Join(dir, fileAddedTokens)
	var added []keyValue
	if data, ok, err := readOptional(addedPath); err != nil {
		return nil, err
	} else if ok {
		if added, err = orderedObject(data); err != nil {
			return nil, fmt.Errorf("%s: %v", addedPath, err)
		}
	}
	type addition struct {
		id      int64
		content string
		special bool
		decoder bool // from added_tokens_decoder rather than added_tokens.json
	}
	var adds []addition
	for _, kv := range added {
		var id int64
		if err := json.Unmarshal(kv.value, &id); err != nil || id < 0 {
			return nil, fmt.Errorf("%s: %q: id %s is not a non-negative integer", addedPath, kv.key, truncate(string(kv.value)))
		}
		adds = append(adds, addition{id: id, content: kv.key})
	}

	cfgPath := filepath.Join(dir, fileConfig)
	cfg := map[string]json.RawMessage{}
	if data, ok, err := readOptional(cfgPath); err != nil {
		return nil, err
	} else if ok {
		if err := json.Unmarshal(data, &cfg); err != nil {
			return nil, fmt.Errorf("%s: %v", cfgPath, err)
		}
		if cfg == nil { // the file was "null"
			cfg = map[string]json.RawMessage{}
		}
	}
	if raw, ok := cfg["added_tokens_decoder"]; ok && !isNull(raw) {
		entries, err := orderedObject(raw)
		if err != nil {
			return nil, fmt.Errorf("%s: added_tokens_decoder: %v", cfgPath, err)
		}
		for _, kv := range entries {
			id, err := strconv.ParseInt(kv.key, 10, 64)
			if err != nil || id < 0 {
				return nil, fmt.Errorf("%s: added_tokens_decoder: key %q is not a token id", cfgPath, kv.key)
			}
			var tok struct {
				Content *string `json:"content"`
				Special bool    `json:"special"`
			}
			if err := json.Unmarshal(kv.value, &tok); err != nil || tok.Content == nil {
				return nil, fmt.Errorf("%s: added_tokens_decoder[%q]: want an object with a string content", cfgPath, kv.key)
			}
			adds = append(adds, addition{id: id, content: *tok.Content, special: tok.Special, decoder: true})
		}
	}

	// Grow the vocabulary over the added ids, which must leave no gap.
	maxID := int64(baseLen - 1)
	past := map[int64]bool{} // added ids past the base vocabulary
	for _, a := range adds {
		if a.id >= int64(baseLen) {
			past[a.id] = true
		}
		maxID = max(maxID, a.id)
	}
	if maxID-int64(baseLen)+1 != int64(len(past)) && len(past) > 0 {
		id := int64(baseLen)
		for past[id] { // ends within len(past) steps
			id++
		}
		return nil, fmt.Errorf("%s: added tokens reach id %d but none has id %d (the base vocabulary has %d tokens)", dir, maxID, id, baseLen)
	}
	if maxID >= maxTokens {
		return nil, fmt.Errorf("%s: added token id %d is beyond the %d tokens supported", dir, maxID, maxTokens)
	}
	for int64(v.Len()) <= maxID {
		v.appendPad()
	}
	for _, a := range adds {
		content, typ := a.content, UserDefined
		if a.decoder {
			if a.special || looksSpecial(content) {
				typ = Control
			} else {
				// The converter pre-normalizes user-defined spaces.
				content = strings.ReplaceAll(content, metaspace, " ")
			}
		}
		v.Tokens[a.id], v.Scores[a.id], v.Types[a.id] = content, addedScore, typ
	}

	// Special tokens.
	mapPath := filepath.Join(dir, fileSpecialMap)
	smap := map[string]json.RawMessage{}
	if data, ok, err := readOptional(mapPath); err != nil {
		return nil, err
	} else if ok {
		if err := json.Unmarshal(data, &smap); err != nil {
			return nil, fmt.Errorf("%s: %v", mapPath, err)
		}
	}
	for _, s := range []struct {
		key string
		id  *int32
	}{{"bos_token", &v.BOS}, {"eos_token", &v.EOS}, {"unk_token", &v.UNK}, {"pad_token", &v.PAD}} {
		path, raw, ok := cfgPath, cfg[s.key], false
		if _, ok = cfg[s.key]; !ok {
			path, raw = mapPath, smap[s.key]
			_, ok = smap[s.key]
		}
		if !ok {
			continue
		}
		content, isSet, err := tokenContent(raw)
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %v", path, s.key, err)
		}
		if !isSet {
			*s.id = -1
			continue
		}
		if *s.id = v.find(content); *s.id < 0 {
			return nil, fmt.Errorf("%s: %s %q is not in the vocabulary", path, s.key, content)
		}
	}

	// Flags.
	for _, f := range []struct {
		key string
		dst *bool
	}{{"add_bos_token", &v.AddBOS}, {"add_eos_token", &v.AddEOS}, {"add_prefix_space", &v.AddSpacePrefix}, {"legacy", &v.Legacy}} {
		raw, ok := cfg[f.key]
		if !ok || isNull(raw) {
			if f.key == "legacy" && fromSPM {
				v.Legacy = true
			}
			continue
		}
		if err := json.Unmarshal(raw, f.dst); err != nil {
			return nil, fmt.Errorf("%s: %s: want true or false, got %s", cfgPath, f.key, truncate(string(raw)))
		}
	}

	// Chat template.
	if raw, ok := cfg["chat_template"]; ok && !isNull(raw) {
		if v.ChatTemplate, err = chatTemplate(raw); err != nil {
			return nil, fmt.Errorf("%s: chat_template: %v", cfgPath, err)
		}
	} else {
		data, ok, err := readOptional(filepath.Join(dir, fileChatTemplate))
		if err != nil {
			return nil, err
		}
		if ok {
			v.ChatTemplate = string(data)
		}
	}

	if err := v.Validate(); err != nil {
		return nil, fmt.Errorf("%s: the tokenizer files disagree: %v", dir, err)
	}
	return v, nil
}

// readBase reads tokenizer.model, or tokenizer.json when there is none.
func readBase(dir string) (v *Vocab, fromSPM bool, err error) {
	spmPath := filepath.Join(dir, fileSPM)
	data, ok, err := readOptional(spmPath)
	if err != nil {
		return nil, false, err
	}
	if ok {
		v, err := ParseSentencePiece(data, spmPath)
		return v, true, err
	}
	jsonPath := filepath.Join(dir, fileTokenizerJSON)
	data, ok, err = readOptional(jsonPath)
	if err != nil {
		return nil, false, err
	}
	if !ok {
		return nil, false, fmt.Errorf("%s: no tokenizer: looked for %s and %s", dir, fileSPM, fileTokenizerJSON)
	}
	v, err = ParseTokenizerJSON(data, jsonPath)
	return v, false, err
}

// readOptional reads a file, reporting ok=false when it does not exist.
func readOptional(path string) (data []byte, ok bool, err error) {
	data, err = os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err // *PathError names the file
	}
	return data, true, nil
}

type keyValue struct {
	key   string
	value json.RawMessage
}

// orderedObject decodes a JSON object keeping its members in file order:
// Python reads these files into ordered dicts, and the converter applies the
// entries in that order.
func orderedObject(data []byte) ([]keyValue, error) {
	d := json.NewDecoder(bytes.NewReader(data))
	t, err := d.Token()
	if err != nil {
		return nil, err
	}
	if t != json.Delim('{') {
		return nil, fmt.Errorf("want a JSON object")
	}
	var out []keyValue
	for d.More() {
		t, err := d.Token()
		if err != nil {
			return nil, err
		}
		key, ok := t.(string)
		if !ok {
			return nil, fmt.Errorf("want a key")
		}
		var raw json.RawMessage
		if err := d.Decode(&raw); err != nil {
			return nil, err
		}
		out = append(out, keyValue{key, raw})
	}
	if _, err := d.Token(); err != nil { // the closing brace
		return nil, err
	}
	if _, err := d.Token(); err == nil {
		return nil, fmt.Errorf("data after the object")
	}
	return out, nil
}

// tokenContent reads a special token entry: "<s>", {"content": "<s>", ...}
// or null (isSet false).
func tokenContent(raw json.RawMessage) (content string, isSet bool, err error) {
	if isNull(raw) {
		return "", false, nil
	}
	if json.Unmarshal(raw, &content) == nil {
		return content, true, nil
	}
	var obj struct {
		Content *string `json:"content"`
	}
	if json.Unmarshal(raw, &obj) != nil || obj.Content == nil {
		return "", false, fmt.Errorf("want a string, an object with a string content, or null")
	}
	return *obj.Content, true, nil
}

// chatTemplate reads chat_template: a string, or (transformers' named
// templates) a list of {"name", "template"} of which "default" is used.
func chatTemplate(raw json.RawMessage) (string, error) {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s, nil
	}
	var named []struct {
		Name     string `json:"name"`
		Template string `json:"template"`
	}
	if err := json.Unmarshal(raw, &named); err != nil {
		return "", fmt.Errorf("want a string or a list of named templates")
	}
	for _, t := range named {
		if t.Name == "default" {
			return t.Template, nil
		}
	}
	return "", fmt.Errorf("no template named \"default\" among %d", len(named))
}

// looksSpecial is convert_hf_to_gguf.py's does_token_look_special: added
// tokens some models fail to mark special.
func looksSpecial(s string) bool {
	switch s {
	case "<pad>", "<mask>", "<2mass>", "[@BOS@]":
		return true
	}
	return strings.HasPrefix(s, "<|") && strings.HasSuffix(s, "|>") ||
		strings.HasPrefix(s, "<｜") && strings.HasSuffix(s, "｜>") ||
		strings.HasPrefix(s, "<unused") && strings.HasSuffix(s, ">")
}

// Added is a token that a checkpoint adds to its SentencePiece vocabulary
// (added_tokens.json, tokenizer_config.json's added_tokens_decoder).
type Added struct {
	ID      int32
	Content string
	Special bool
}

// TokenizerConfig holds the tokenizer_config.json settings that WriteHFDir
// cannot take from the base vocabulary.
type TokenizerConfig struct {
	ChatTemplate   string // "" writes none
	Legacy         bool
	ModelMaxLength int    // 0 writes none
	PadToken       string // "" takes base's PAD, if any
}

// WriteHFDir writes a checkpoint's tokenizer files into dir (made if
// missing), in the layout transformers saves a LlamaTokenizer in:
// tokenizer.model (base only, base.SentencePiece), tokenizer.json (base as
// the model, see TokenizerJSON, with the added tokens in added_tokens only,
// in the layout extra.Legacy selects), tokenizer_config.json (add_bos_token,
// add_eos_token from base, added_tokens_decoder with base's Control, Unknown
// and UserDefined tokens and the added ones, bos/eos/unk/pad_token,
// chat_template, legacy, model_max_length), special_tokens_map.json and
// added_tokens.json (the added tokens past base). Each file is written to a
// temporary file in dir and renamed into place.
//
// An added token either names a base token (same id and text, to mark it
// special or not) or extends base: those ids must run on from base.Len()
// without gaps, with texts that base does not have.
func WriteHFDir(dir string, base *Vocab, added []Added, extra TokenizerConfig) error {
	if err := base.Validate(); err != nil {
		return err
	}
	if err := checkAdded(base, added); err != nil {
		return err
	}
	model, err := base.SentencePiece()
	if err != nil {
		return err
	}
	tokJSON, err := base.tokenizerJSON(added, extra.Legacy)
	if err != nil {
		return err
	}

	// added_tokens_decoder: base's special and user-defined tokens, then the
	// added ones (which may re-mark a base token).
	special := map[int32]bool{}
	content := map[int32]string{}
	for i, t := range base.Types {
		if t == Control || t == Unknown || t == UserDefined {
			special[int32(i)] = t != UserDefined
			content[int32(i)] = base.Tokens[i]
		}
	}
	addedJSON := map[string]int32{}
	for _, a := range added {
		special[a.ID], content[a.ID] = a.Special, a.Content
		if int(a.ID) >= base.Len() {
			addedJSON[a.Content] = a.ID
		}
	}
	type addedToken struct {
		Content    string `json:"content"`
		Lstrip     bool   `json:"lstrip"`
		Normalized bool   `json:"normalized"`
		Rstrip     bool   `json:"rstrip"`
		SingleWord bool   `json:"single_word"`
		Special    bool   `json:"special"`
	}
	decoder := map[string]addedToken{}
	for id, c := range content {
		decoder[strconv.Itoa(int(id))] = addedToken{Content: c, Special: special[id]}
	}

	name := func(id int32) any {
		if id < 0 {
			return nil
		}
		return base.Tokens[id]
	}
	var pad any = name(base.PAD)
	if extra.PadToken != "" {
		found := base.find(extra.PadToken) >= 0
		for _, a := range added {
			found = found || a.Content == extra.PadToken
		}
		if !found {
			return fmt.Errorf("vocab: pad token %q is neither in the base vocabulary nor added", extra.PadToken)
		}
		pad = extra.PadToken
	}
	cfg := map[string]any{
		"add_bos_token":                 base.AddBOS,
		"add_eos_token":                 base.AddEOS,
		"added_tokens_decoder":          decoder,
		"bos_token":                     name(base.BOS),
		"eos_token":                     name(base.EOS),
		"unk_token":                     name(base.UNK),
		"pad_token":                     pad,
		"clean_up_tokenization_spaces":  false,
		"legacy":                        extra.Legacy,
		"sp_model_kwargs":               map[string]any{},
		"spaces_between_special_tokens": false,
		"tokenizer_class":               "LlamaTokenizer",
		"use_default_system_prompt":     false,
	}
	if !base.AddSpacePrefix {
		cfg["add_prefix_space"] = false
	}
	if extra.ChatTemplate != "" {
		cfg["chat_template"] = extra.ChatTemplate
	}
	if extra.ModelMaxLength > 0 {
		cfg["model_max_length"] = extra.ModelMaxLength
	}

	smap := map[string]any{}
	for key, tok := range map[string]any{"bos_token": name(base.BOS), "eos_token": name(base.EOS), "unk_token": name(base.UNK), "pad_token": pad} {
		if tok != nil {
			smap[key] = map[string]any{"content": tok, "lstrip": false, "normalized": false, "rstrip": false, "single_word": false}
		}
	}

	files := []struct {
		name string
		data []byte
	}{{fileSPM, model}, {fileTokenizerJSON, tokJSON}}
	for _, f := range []struct {
		name string
		v    any
	}{{fileConfig, cfg}, {fileSpecialMap, smap}, {fileAddedTokens, addedJSON}} {
		data, err := marshal(f.v)
		if err != nil {
			return fmt.Errorf("%s: %v", filepath.Join(dir, f.name), err)
		}
		files = append(files, struct {
			name string
			data []byte
		}{f.name, data})
	}

	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, f := range files {
		if err := atomicfile.WriteFile(filepath.Join(dir, f.name), f.data); err != nil {
			return err
		}
	}
	return nil
}

// checkAdded enforces WriteHFDir's rules for added tokens.
func checkAdded(base *Vocab, added []Added) error {
	var past []int32
	texts := map[string]bool{}
	for i, s := range base.Tokens {
		if base.Types[i] != Unused {
			texts[s] = true
		}
	}
	ids := map[int32]bool{}
	for _, a := range added {
		if ids[a.ID] {
			return fmt.Errorf("vocab: added token id %d is given twice", a.ID)
		}
		ids[a.ID] = true
		if a.ID < 0 {
			return fmt.Errorf("vocab: added token %q has negative id %d", a.Content, a.ID)
		}
		if int(a.ID) < base.Len() {
			if base.Tokens[a.ID] != a.Content {
				return fmt.Errorf("vocab: added token %d is %q but the base vocabulary has %q there", a.ID, a.Content, base.Tokens[a.ID])
			}
			continue
		}
		if a.Content == "" || !utf8.ValidString(a.Content) {
			return fmt.Errorf("vocab: added token %d %q is empty or not UTF-8", a.ID, a.Content)
		}
		if texts[a.Content] {
			return fmt.Errorf("vocab: added token %d %q is already in the vocabulary", a.ID, a.Content)
		}
		texts[a.Content] = true
		past = append(past, a.ID)
	}
	slices.Sort(past)
	for i, id := range past {
		if want := int32(base.Len() + i); id != want {
			return fmt.Errorf("vocab: added token ids must follow the base vocabulary without gaps: want id %d, have %d", want, id)
		}
	}
	return nil
}

// marshal writes JSON as transformers does: keys sorted, two-space indent,
// non-ASCII and <, > unescaped.
func marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	e := json.NewEncoder(&b)
	e.SetEscapeHTML(false)
	e.SetIndent("", "  ")
	if err := e.Encode(v); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
