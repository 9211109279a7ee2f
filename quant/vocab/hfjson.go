package vocab

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"unicode/utf8"

	"maira/internal/jsonstr"
)

// The tokenizer.json layout is Hugging Face tokenizers' serialization as
// transformers' LlamaConverter (convert_slow_tokenizer.py) produces it from a
// tokenizer.model.

type hfFile struct {
	AddedTokens   []hfAdded       `json:"added_tokens"`
	Normalizer    json.RawMessage `json:"normalizer"`
	PreTokenizer  json.RawMessage `json:"pre_tokenizer"`
	PostProcessor json.RawMessage `json:"post_processor"`
	Model         json.RawMessage `json:"model"`
}

type hfAdded struct {
	ID      *int64  `json:"id"`
	Content *string `json:"content"`
	Special bool    `json:"special"`
}

type hfModel struct {
	Type                    string            `json:"type"`
	Vocab                   map[string]int64  `json:"vocab"`
	Merges                  []json.RawMessage `json:"merges"`
	UnkToken                *string           `json:"unk_token"`
	ByteFallback            bool              `json:"byte_fallback"`
	ContinuingSubwordPrefix *string           `json:"continuing_subword_prefix"`
	EndOfWordSuffix         *string           `json:"end_of_word_suffix"`
	IgnoreMerges            bool              `json:"ignore_merges"`
}

// typed is any tokenizers component: its "type" plus the rest.
type typed struct {
	Type string `json:"type"`
	// Sequence
	Normalizers []json.RawMessage `json:"normalizers"`
	Processors  []json.RawMessage `json:"processors"`
	// Prepend, Replace
	Prepend *string `json:"prepend"`
	Pattern *struct {
		String *string `json:"String"`
	} `json:"pattern"`
	Content *string `json:"content"`
	// Metaspace
	Replacement    *string `json:"replacement"`
	PrependScheme  *string `json:"prepend_scheme"`
	AddPrefixSpace *bool   `json:"add_prefix_space"`
	// TemplateProcessing
	Single        []templatePiece         `json:"single"`
	SpecialTokens map[string]templateSpec `json:"special_tokens"`
}

type templatePiece struct {
	SpecialToken *struct {
		ID string `json:"id"`
	} `json:"SpecialToken"`
	Sequence *struct {
		ID string `json:"id"`
	} `json:"Sequence"`
}

type templateSpec struct {
	IDs []int64 `json:"ids"`
}

const metaspace = "▁"

// ParseTokenizerJSON parses a Hugging Face tokenizers tokenizer.json of a
// SentencePiece-style BPE model (model.type "BPE" with byte_fallback, no
// subword prefix or suffix, no ignore_merges) in one of the two layouts
// transformers writes for LLaMA: the legacy one (normalizer Prepend "▁" and
// Replace " " -> "▁", no pre_tokenizer) or the legacy=false one (no
// normalizer, pre_tokenizer Metaspace). Other normalizers and pre_tokenizers
// are refused. path is used only in error messages.
//
// Ids must run from 0 without gaps over model.vocab and added_tokens
// together. Types: an added token is Control when special and UserDefined
// otherwise, except that model.unk_token is Unknown; "<0xXX>" pieces are
// Byte; the rest Normal.
//
// tokenizer.json has no scores, only merges ordered by priority; scores are
// derived so that the BPE merge priorities are those of the tokenizer.model
// the file was made from. Rank the merged pieces by the first merge that
// produces them (k = 0 for the piece of the first merge, 1 for the next new
// piece, ...); a Normal piece that some merge produces gets score -(k+1).
// (For LLaMA that keeps tokenizer.model's order of scores; only the 15
// whitespace-run pieces, which all score -1e9 there, come apart, after all
// other merged pieces, in the order of their first merge.) Byte, Control and
// Unknown pieces get 0, as in tokenizer.model. Every other piece (single
// characters and user-defined tokens, which no merge produces) gets
// -(K+1+id), K being the number of merged pieces: below every merged piece,
// in id order. Strictly higher tokenizer.model scores thus stay strictly
// higher; equal ones may come apart, in the order tokenizers itself would
// apply their merges.
//
// BOS and EOS are the special tokens before and after $A in a
// TemplateProcessing post_processor (which also sets AddBOS and AddEOS), else
// the tokens "<s>" and "</s>"; UNK is model.unk_token; PAD is -1.
// AddSpacePrefix and Legacy follow the layout: Prepend or prepend_scheme
// "always" is legacy, prepend_scheme "first" is not, and a file that adds no
// prefix says nothing about Legacy (true, transformers' default).
func ParseTokenizerJSON(data []byte, path string) (*Vocab, error) {
	v, err := parseTokenizerJSON(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	return v, nil
}

func parseTokenizerJSON(data []byte) (*Vocab, error) {
	var f hfFile
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, err
	}
	if isNull(f.Model) {
		return nil, fmt.Errorf("no model")
	}
	// The type first: other models' fields do not fit hfModel.
	var kind typed
	if err := json.Unmarshal(f.Model, &kind); err != nil {
		return nil, fmt.Errorf("model: %v", err)
	}
	if kind.Type != "BPE" {
		return nil, fmt.Errorf("model.type is %q; only BPE is supported", kind.Type)
	}
	m := new(hfModel)
	if err := json.Unmarshal(f.Model, m); err != nil {
		return nil, fmt.Errorf("model: %v", err)
	}
	if !m.ByteFallback {
		return nil, fmt.Errorf("model.byte_fallback is false; only SentencePiece-style BPE with byte fallback is supported")
	}
	if m.ContinuingSubwordPrefix != nil && *m.ContinuingSubwordPrefix != "" {
		return nil, fmt.Errorf("model.continuing_subword_prefix %q is not supported", *m.ContinuingSubwordPrefix)
	}
	if m.EndOfWordSuffix != nil && *m.EndOfWordSuffix != "" {
		return nil, fmt.Errorf("model.end_of_word_suffix %q is not supported", *m.EndOfWordSuffix)
	}
	if m.IgnoreMerges {
		return nil, fmt.Errorf("model.ignore_merges is true; only false is supported")
	}

	// Collect ids from model.vocab and added_tokens; they must cover
	// 0..n-1 exactly.
	total := len(m.Vocab) + len(f.AddedTokens)
	if total == 0 {
		return nil, fmt.Errorf("model.vocab is empty")
	}
	if total > 2*maxTokens {
		return nil, fmt.Errorf("%d tokens, more than the %d supported", total, maxTokens)
	}
	text := make(map[int64]string, total)
	for tok, id := range m.Vocab {
		if id < 0 || id >= int64(total) {
			return nil, fmt.Errorf("model.vocab: %q has id %d, outside [0, %d)", tok, id, total)
		}
		if prev, dup := text[id]; dup {
			a, b := prev, tok
			if b < a {
				a, b = b, a
			}
			return nil, fmt.Errorf("model.vocab: %q and %q both have id %d", a, b, id)
		}
		text[id] = tok
	}
	special := make(map[int64]bool, len(f.AddedTokens))
	for i, a := range f.AddedTokens {
		if a.ID == nil || a.Content == nil {
			return nil, fmt.Errorf("added_tokens[%d]: no id or content", i)
		}
		id, s := *a.ID, *a.Content
		if id < 0 || id >= int64(total) {
			return nil, fmt.Errorf("added_tokens[%d]: %q has id %d, outside [0, %d)", i, s, id, total)
		}
		if _, dup := special[id]; dup {
			return nil, fmt.Errorf("added_tokens[%d]: id %d is listed twice", i, id)
		}
		if prev, ok := text[id]; ok && prev != s {
			return nil, fmt.Errorf("added_tokens[%d]: id %d is %q but model.vocab has %q", i, id, s, prev)
		}
		text[id] = s
		special[id] = a.Special
	}
	n := len(text)
	for id := range text {
		if id >= int64(n) {
			return nil, fmt.Errorf("ids are not contiguous: id %d is used but only %d ids are", id, n)
		}
	}
	if n > maxTokens {
		return nil, fmt.Errorf("%d tokens, more than the %d supported", n, maxTokens)
	}

	v := &Vocab{
		Tokens: make([]string, n), Scores: make([]float32, n), Types: make([]TokenType, n),
		BOS: -1, EOS: -1, UNK: -1, PAD: -1, Legacy: true,
	}
	for id, s := range text {
		v.Tokens[id] = s
	}
	if m.UnkToken != nil {
		if v.UNK = v.find(*m.UnkToken); v.UNK < 0 {
			return nil, fmt.Errorf("model.unk_token %q is not in the vocabulary", *m.UnkToken)
		}
	}
	for i, s := range v.Tokens {
		sp, added := special[int64(i)]
		_, isByte := BytePiece(s)
		switch {
		case int32(i) == v.UNK:
			v.Types[i] = Unknown
		case added && sp:
			v.Types[i] = Control
		case added:
			v.Types[i] = UserDefined
		case isByte:
			v.Types[i] = Byte
		default:
			v.Types[i] = Normal
		}
	}

	if err := v.deriveScores(m.Merges); err != nil {
		return nil, err
	}
	if err := v.readLayout(f.Normalizer, f.PreTokenizer); err != nil {
		return nil, err
	}
	if err := v.readPostProcessor(f.PostProcessor); err != nil {
		return nil, err
	}
	if err := v.Validate(); err != nil {
		return nil, err
	}
	return v, nil
}

// parseMerge reads one merge in either serialization: "left right" (before
// tokenizers 0.20) or ["left", "right"].
func parseMerge(raw json.RawMessage) (l, r string, err error) {
	if raw = bytes.TrimSpace(raw); len(raw) > 0 && raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", "", err
		}
		l, r, ok := strings.Cut(s, " ")
		if !ok || strings.Contains(r, " ") {
			return "", "", fmt.Errorf("%q is not two pieces separated by a space", s)
		}
		return l, r, nil
	}
	var pair []string
	if err := json.Unmarshal(raw, &pair); err != nil || len(pair) != 2 {
		return "", "", fmt.Errorf("%s is neither \"left right\" nor [left, right]", truncate(string(raw)))
	}
	return pair[0], pair[1], nil
}

func truncate(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}

// deriveScores sets Scores from the merge ranks, as ParseTokenizerJSON
// documents.
func (v *Vocab) deriveScores(merges []json.RawMessage) error {
	ids := make(map[string]int, v.Len())
	for i, s := range v.Tokens {
		ids[s] = i
	}
	rank := make([]int, v.Len())
	for i := range rank {
		rank[i] = -1
	}
	k := 0
	for i, raw := range merges {
		l, r, err := parseMerge(raw)
		if err != nil {
			return fmt.Errorf("model.merges[%d]: %v", i, err)
		}
		if _, ok := ids[l]; !ok {
			return fmt.Errorf("model.merges[%d]: %q is not in the vocabulary", i, l)
		}
		if _, ok := ids[r]; !ok {
			return fmt.Errorf("model.merges[%d]: %q is not in the vocabulary", i, r)
		}
		id, ok := ids[l+r]
		if !ok {
			return fmt.Errorf("model.merges[%d]: the merge of %q and %q is not in the vocabulary", i, l, r)
		}
		if rank[id] < 0 {
			rank[id] = k
			k++
		}
	}
	for i, t := range v.Types {
		switch {
		case t == Normal && rank[i] >= 0:
			v.Scores[i] = -float32(rank[i] + 1)
		case t == Byte || t == Control || t == Unknown:
			v.Scores[i] = 0
		default:
			v.Scores[i] = -float32(k + 1 + i)
		}
	}
	return nil
}

// readLayout sets AddSpacePrefix and Legacy from the normalizer and
// pre_tokenizer, refusing any other than LLaMA's.
func (v *Vocab) readLayout(normRaw, preRaw json.RawMessage) error {
	normPrefix, hasNorm := false, false
	if !isNull(normRaw) {
		var n typed
		if err := json.Unmarshal(normRaw, &n); err != nil {
			return fmt.Errorf("normalizer: %v", err)
		}
		list := []json.RawMessage{normRaw}
		if n.Type == "Sequence" {
			list = n.Normalizers
		}
		for _, raw := range list {
			var c typed
			if err := json.Unmarshal(raw, &c); err != nil {
				return fmt.Errorf("normalizer: %v", err)
			}
			switch {
			case c.Type == "Prepend" && c.Prepend != nil && *c.Prepend == metaspace:
				normPrefix = true
			case c.Type == "Replace" && c.Pattern != nil && c.Pattern.String != nil &&
				*c.Pattern.String == " " && c.Content != nil && *c.Content == metaspace:
				hasNorm = true
			default:
				return fmt.Errorf("normalizer %s is not supported; only LLaMA's Prepend(\"▁\") and Replace(\" \", \"▁\")", truncate(string(raw)))
			}
		}
		if !hasNorm {
			return fmt.Errorf("normalizer has no Replace(\" \", \"▁\")")
		}
	}
	preScheme := ""
	if !isNull(preRaw) {
		var p typed
		if err := json.Unmarshal(preRaw, &p); err != nil {
			return fmt.Errorf("pre_tokenizer: %v", err)
		}
		if p.Type != "Metaspace" || p.Replacement == nil || *p.Replacement != metaspace {
			return fmt.Errorf("pre_tokenizer %s is not supported; only Metaspace with replacement \"▁\"", truncate(string(preRaw)))
		}
		switch {
		case p.PrependScheme != nil:
			preScheme = *p.PrependScheme
		case p.AddPrefixSpace != nil && !*p.AddPrefixSpace:
			preScheme = "never"
		default: // tokenizers before 0.15: add_prefix_space, always
			preScheme = "always"
		}
		if hasNorm {
			return fmt.Errorf("both a normalizer and a Metaspace pre_tokenizer; LLaMA's layouts have one")
		}
	}
	switch preScheme {
	case "":
		v.AddSpacePrefix = normPrefix
		v.Legacy = true
	case "first":
		v.AddSpacePrefix, v.Legacy = true, false
	case "always":
		v.AddSpacePrefix, v.Legacy = true, true
	case "never":
		v.AddSpacePrefix, v.Legacy = false, true
	default:
		return fmt.Errorf("pre_tokenizer Metaspace prepend_scheme %q is not one of first, always, never", preScheme)
	}
	return nil
}

// readPostProcessor sets BOS, EOS, AddBOS and AddEOS from a
// TemplateProcessing (alone or inside a Sequence), falling back to "<s>" and
// "</s>" for the ids.
func (v *Vocab) readPostProcessor(raw json.RawMessage) error {
	index := map[string]int32{}
	for i := len(v.Tokens) - 1; i >= 0; i-- { // the first of equal texts wins, as in find
		index[v.Tokens[i]] = int32(i)
	}
	if !isNull(raw) {
		var p typed
		if err := json.Unmarshal(raw, &p); err != nil {
			return fmt.Errorf("post_processor: %v", err)
		}
		list := []json.RawMessage{raw}
		if p.Type == "Sequence" {
			list = p.Processors
		}
		for _, r := range list {
			var t typed
			if err := json.Unmarshal(r, &t); err != nil {
				return fmt.Errorf("post_processor: %v", err)
			}
			if t.Type != "TemplateProcessing" {
				continue
			}
			seenA := false
			for _, piece := range t.Single {
				if piece.Sequence != nil {
					seenA = true
					continue
				}
				if piece.SpecialToken == nil {
					continue
				}
				id, err := v.templateID(piece.SpecialToken.ID, t.SpecialTokens, index)
				if err != nil {
					return err
				}
				if !seenA {
					v.BOS, v.AddBOS = id, true
				} else {
					v.EOS, v.AddEOS = id, true
				}
			}
		}
	}
	if v.BOS < 0 {
		v.BOS = v.find("<s>")
	}
	if v.EOS < 0 {
		v.EOS = v.find("</s>")
	}
	return nil
}

func (v *Vocab) templateID(name string, specials map[string]templateSpec, index map[string]int32) (int32, error) {
	if s, ok := specials[name]; ok && len(s.IDs) > 0 {
		id := s.IDs[0]
		if id < 0 || id >= int64(v.Len()) {
			return -1, fmt.Errorf("post_processor: special token %q has id %d, out of range", name, id)
		}
		return int32(id), nil
	}
	id, ok := index[name]
	if !ok {
		return -1, fmt.Errorf("post_processor: special token %q is not in the vocabulary", name)
	}
	return id, nil
}

func isNull(raw json.RawMessage) bool {
	return len(raw) == 0 || string(bytes.TrimSpace(raw)) == "null"
}

// merges derives BPE merges from the vocabulary as transformers'
// SentencePieceExtractor does when given the piece scores (transformers 4.x,
// convert_slow_tokenizer.generate_merges with vocab_scores, which is what
// LlamaConverter passes): for every piece, every split into two pieces of the
// vocabulary, ordered by the ids of the halves; then all of them stably
// sorted by the merged piece's score, then the code-point lengths of the left
// and right halves, all descending. Only Normal pieces take part, as only
// they are merge results in SentencePiece's BPE (control, byte and unknown
// pieces sit in its reserved map; unused ones are resegmented); on LLaMA's
// vocabulary the result is the same 61249 merges as without that filter.
func (v *Vocab) merges() [][2]string {
	ids := make(map[string]int, v.Len())
	lens := map[int]bool{} // byte lengths of Normal pieces: skips hopeless splits
	for i, s := range v.Tokens {
		if v.Types[i] == Normal {
			ids[s] = i
			lens[len(s)] = true
		}
	}
	type merge struct {
		l, r       string
		li, ri     int
		score      float32
		llen, rlen int
	}
	var all []merge
	for i, s := range v.Tokens {
		if v.Types[i] != Normal {
			continue
		}
		start := len(all)
		for k := 1; k < len(s); k++ {
			if !utf8.RuneStart(s[k]) || !lens[k] || !lens[len(s)-k] {
				continue
			}
			l, r := s[:k], s[k:]
			li, ok1 := ids[l]
			ri, ok2 := ids[r]
			if ok1 && ok2 {
				all = append(all, merge{l, r, li, ri, v.Scores[i], utf8.RuneCountInString(l), utf8.RuneCountInString(r)})
			}
		}
		local := all[start:]
		sort.Slice(local, func(a, b int) bool {
			if local[a].li != local[b].li {
				return local[a].li < local[b].li
			}
			return local[a].ri < local[b].ri
		})
	}
	sort.SliceStable(all, func(a, b int) bool {
		x, y := all[a], all[b]
		if x.score != y.score {
			return x.score > y.score
		}
		if x.llen != y.llen {
			return x.llen > y.llen
		}
		return x.rlen > y.rlen
	})
	out := make([][2]string, len(all))
	for i, m := range all {
		out[i] = [2]string{m.l, m.r}
	}
	return out
}

// TokenizerJSON encodes the vocabulary as a tokenizer.json that Hugging Face
// tokenizers loads, in the layout transformers' LlamaConverter writes
// (transformers 4.4x, tokenizers 0.20+): model BPE with byte_fallback and
// fuse_unk, unk_token, merges derived as transformers'
// SentencePieceExtractor derives them (see merges), in the [left, right]
// form. With Legacy false: no normalizer and a Metaspace pre_tokenizer
// (replacement "▁", prepend_scheme "first", or "never" without
// AddSpacePrefix, split false); with Legacy true: normalizer Prepend("▁")
// (when AddSpacePrefix) and Replace(" ", "▁"), no pre_tokenizer. The
// decoder is Replace("▁", " "), ByteFallback, Fuse and, with AddSpacePrefix,
// Strip one leading space. The post_processor is a TemplateProcessing that
// adds BOS and EOS as AddBOS and AddEOS say. Control and Unknown tokens are
// listed in added_tokens as special, UserDefined ones as not special.
//
// All tokens, whatever their type, go into model.vocab, so two tokens may
// not share a text, not even Unused ones. WriteHFDir writes the real
// checkpoint layout, where added tokens past the SentencePiece vocabulary
// sit in added_tokens only.
func (v *Vocab) TokenizerJSON() ([]byte, error) {
	return v.tokenizerJSON(nil, v.Legacy)
}

// tokenizerJSON writes v as the model vocabulary plus the extra added tokens
// (ids from v.Len() on, or ids of v's own tokens to mark them special).
func (v *Vocab) tokenizerJSON(extra []Added, legacy bool) ([]byte, error) {
	if err := v.Validate(); err != nil {
		return nil, err
	}
	seen := make(map[string]int, v.Len())
	for i, s := range v.Tokens {
		if j, dup := seen[s]; dup {
			return nil, fmt.Errorf("vocab: tokens %d and %d are both %q; tokenizer.json needs distinct texts", j, i, s)
		}
		seen[s] = i
	}
	if v.UNK < 0 {
		// tokenizers' BPE with byte_fallback still needs an unk token for
		// what no byte piece covers; LLaMA always has one.
		return nil, fmt.Errorf("vocab: tokenizer.json needs an UNK token")
	}
	if v.AddBOS && v.BOS < 0 {
		return nil, fmt.Errorf("vocab: AddBOS is set but there is no BOS token")
	}
	if v.AddEOS && v.EOS < 0 {
		return nil, fmt.Errorf("vocab: AddEOS is set but there is no EOS token")
	}

	type addedTok struct {
		id      int
		content string
		special bool
	}
	var added []addedTok
	index := map[int]int{}
	for i, t := range v.Types {
		if t == Control || t == Unknown || t == UserDefined {
			index[i] = len(added)
			added = append(added, addedTok{i, v.Tokens[i], t != UserDefined})
		}
	}
	for _, a := range extra {
		if j, ok := index[int(a.ID)]; ok {
			added[j].special = a.Special
			continue
		}
		index[int(a.ID)] = len(added)
		added = append(added, addedTok{int(a.ID), a.Content, a.Special})
	}
	slices.SortFunc(added, func(a, b addedTok) int { return a.id - b.id })

	var b bytes.Buffer
	b.WriteString("{\n  \"version\": \"1.0\",\n  \"truncation\": null,\n  \"padding\": null,\n  \"added_tokens\": [")
	for i, a := range added {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "\n    {\"id\": %d, \"content\": %s, \"single_word\": false, \"lstrip\": false, \"rstrip\": false, \"normalized\": false, \"special\": %t}",
			a.id, jsonstr.Quote(a.content), a.special)
	}
	b.WriteString("\n  ],\n")

	if legacy {
		b.WriteString("  \"normalizer\": {\"type\": \"Sequence\", \"normalizers\": [")
		if v.AddSpacePrefix {
			b.WriteString("{\"type\": \"Prepend\", \"prepend\": \"▁\"}, ")
		}
		b.WriteString("{\"type\": \"Replace\", \"pattern\": {\"String\": \" \"}, \"content\": \"▁\"}]},\n")
		b.WriteString("  \"pre_tokenizer\": null,\n")
	} else {
		scheme := "never"
		if v.AddSpacePrefix {
			scheme = "first"
		}
		b.WriteString("  \"normalizer\": null,\n")
		fmt.Fprintf(&b, "  \"pre_tokenizer\": {\"type\": \"Metaspace\", \"replacement\": \"▁\", \"prepend_scheme\": %q, \"split\": false},\n", scheme)
	}

	b.WriteString(postProcessor(v))

	b.WriteString("  \"decoder\": {\"type\": \"Sequence\", \"decoders\": [{\"type\": \"Replace\", \"pattern\": {\"String\": \"▁\"}, \"content\": \" \"}, {\"type\": \"ByteFallback\"}, {\"type\": \"Fuse\"}")
	if v.AddSpacePrefix {
		b.WriteString(", {\"type\": \"Strip\", \"content\": \" \", \"start\": 1, \"stop\": 0}")
	}
	b.WriteString("]},\n")

	fmt.Fprintf(&b, "  \"model\": {\n    \"type\": \"BPE\",\n    \"dropout\": null,\n    \"unk_token\": %s,\n", jsonstr.Quote(v.Tokens[v.UNK]))
	b.WriteString("    \"continuing_subword_prefix\": null,\n    \"end_of_word_suffix\": null,\n    \"fuse_unk\": true,\n    \"byte_fallback\": true,\n    \"ignore_merges\": false,\n    \"vocab\": {")
	for i, s := range v.Tokens {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "\n      %s: %d", jsonstr.Quote(s), i)
	}
	b.WriteString("\n    },\n    \"merges\": [")
	for i, m := range v.merges() {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "\n      [%s, %s]", jsonstr.Quote(m[0]), jsonstr.Quote(m[1]))
	}
	b.WriteString("\n    ]\n  }\n}\n")
	return b.Bytes(), nil
}

// postProcessor writes the TemplateProcessing that LlamaTokenizerFast's
// update_post_processor builds: BOS before each sequence and EOS after it,
// each as AddBOS and AddEOS say.
func postProcessor(v *Vocab) string {
	var single, pair []string
	specials := map[int32]bool{}
	piece := func(kind, id string, typeID int) string {
		return fmt.Sprintf("{%q: {\"id\": %s, \"type_id\": %d}}", kind, jsonstr.Quote(id), typeID)
	}
	for _, seq := range []struct {
		name   string
		typeID int
	}{{"A", 0}, {"B", 1}} {
		var p []string
		if v.AddBOS {
			p = append(p, piece("SpecialToken", v.Tokens[v.BOS], seq.typeID))
			specials[v.BOS] = true
		}
		p = append(p, piece("Sequence", seq.name, seq.typeID))
		if v.AddEOS {
			p = append(p, piece("SpecialToken", v.Tokens[v.EOS], seq.typeID))
			specials[v.EOS] = true
		}
		if seq.name == "A" {
			single = p
		}
		pair = append(pair, p...)
	}
	ids := make([]int32, 0, len(specials))
	for id := range specials {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	var sp []string
	for _, id := range ids {
		t := jsonstr.Quote(v.Tokens[id])
		sp = append(sp, fmt.Sprintf("%s: {\"id\": %s, \"ids\": [%d], \"tokens\": [%s]}", t, t, id, t))
	}
	return fmt.Sprintf("  \"post_processor\": {\"type\": \"TemplateProcessing\", \"single\": [%s], \"pair\": [%s], \"special_tokens\": {%s}},\n",
		strings.Join(single, ", "), strings.Join(pair, ", "), strings.Join(sp, ", "))
}
