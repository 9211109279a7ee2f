package vocab

import (
	"math"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"

	"maira/quant/gguf"
)

const fixture = "testdata/llama-spm-vocab.gguf"

var (
	llamaOnce sync.Once
	llamaV    *Vocab
	llamaErr  error
)

// llama returns a fresh copy of the real 32000-piece LLaMA vocabulary.
func llama(t testing.TB) *Vocab {
	t.Helper()
	llamaOnce.Do(func() {
		f, err := gguf.Open(fixture)
		if err != nil {
			llamaErr = err
			return
		}
		defer f.Close()
		tokens, err := f.Strings("tokenizer.ggml.tokens")
		if err != nil {
			llamaErr = err
			return
		}
		scores, err := f.Float32s("tokenizer.ggml.scores")
		if err != nil {
			llamaErr = err
			return
		}
		types, err := f.Int32s("tokenizer.ggml.token_type")
		if err != nil {
			llamaErr = err
			return
		}
		llamaV, llamaErr = FromGGUFArrays(tokens, scores, types)
	})
	if llamaErr != nil {
		t.Fatal(llamaErr)
	}
	return llamaV.clone()
}

// tiny returns a small SentencePiece-style vocabulary with all 256 byte
// pieces, a few merges and whitespace pieces.
func tiny() *Vocab {
	v := &Vocab{
		Tokens: []string{"<unk>", "<s>", "</s>"},
		Scores: []float32{0, 0, 0},
		Types:  []TokenType{Unknown, Control, Control},
		BOS:    1, EOS: 2, UNK: 0, PAD: -1,
		AddBOS: true, AddSpacePrefix: true, Legacy: true,
	}
	for b := 0; b < 256; b++ {
		v.Tokens = append(v.Tokens, "<0x"+strings.ToUpper(hex2(b))+">")
		v.Scores = append(v.Scores, 0)
		v.Types = append(v.Types, Byte)
	}
	for i, p := range []string{"▁t", "he", "▁the", "▁▁", "▁th", "▁", "t", "h", "e", "a", "é"} {
		v.Tokens = append(v.Tokens, p)
		v.Scores = append(v.Scores, -float32(i+1))
		v.Types = append(v.Types, Normal)
	}
	v.Scores[v.find("▁▁")] = -1e9
	return v
}

func hex2(b int) string {
	const digits = "0123456789abcdef"
	return string([]byte{digits[b>>4], digits[b&15]})
}

func TestFromGGUFArrays(t *testing.T) {
	v := llama(t)
	if v.Len() != 32000 {
		t.Fatalf("Len = %d, want 32000", v.Len())
	}
	counts := map[TokenType]int{}
	for _, ty := range v.Types {
		counts[ty]++
	}
	want := map[TokenType]int{Normal: 31741, Byte: 256, Control: 2, Unknown: 1}
	if !reflect.DeepEqual(counts, want) {
		t.Errorf("type counts = %v, want %v", counts, want)
	}
	if v.BOS != 1 || v.EOS != 2 || v.UNK != 0 || v.PAD != -1 || !v.AddBOS || v.AddEOS || !v.AddSpacePrefix || !v.Legacy {
		t.Errorf("defaults = BOS %d EOS %d UNK %d PAD %d AddBOS %v AddEOS %v AddSpacePrefix %v Legacy %v",
			v.BOS, v.EOS, v.UNK, v.PAD, v.AddBOS, v.AddEOS, v.AddSpacePrefix, v.Legacy)
	}
	for id, tok := range map[int]string{0: "<unk>", 1: "<s>", 2: "</s>", 3: "<0x00>", 13: "<0x0A>", 29871: "▁", 29889: "."} {
		if v.Tokens[id] != tok {
			t.Errorf("token %d = %q, want %q", id, v.Tokens[id], tok)
		}
	}

	if _, err := FromGGUFArrays([]string{"a", "b"}, []float32{0}, []int32{1, 1}); err == nil {
		t.Error("mismatched lengths: no error")
	}
	if _, err := FromGGUFArrays([]string{"a"}, []float32{0}, []int32{1}); err == nil {
		t.Error("BOS 1 out of range of a 1-token vocabulary: no error")
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name   string
		break_ func(v *Vocab)
		want   string
	}{
		{"ok", func(v *Vocab) {}, ""},
		{"short scores", func(v *Vocab) { v.Scores = v.Scores[1:] }, "scores"},
		{"short types", func(v *Vocab) { v.Types = v.Types[1:] }, "types"},
		{"empty", func(v *Vocab) { v.Tokens, v.Scores, v.Types = nil, nil, nil }, "no tokens"},
		{"bad type", func(v *Vocab) { v.Types[5] = 7 }, "not a token type"},
		{"zero type", func(v *Vocab) { v.Types[5] = 0 }, "not a token type"},
		{"empty token", func(v *Vocab) { v.Tokens[260] = "" }, "empty"},
		{"bad utf8", func(v *Vocab) { v.Tokens[260] = "\xff" }, "UTF-8"},
		{"nan", func(v *Vocab) { v.Scores[260] = float32(math.NaN()) }, "NaN"},
		{"duplicate", func(v *Vocab) { v.Tokens[260] = v.Tokens[261] }, "both"},
		{"duplicate unused ok", func(v *Vocab) {
			v.Tokens[260], v.Types[260] = v.Tokens[261], Unused
		}, ""},
		{"bos high", func(v *Vocab) { v.BOS = int32(v.Len()) }, "BOS"},
		{"eos low", func(v *Vocab) { v.EOS = -2 }, "EOS"},
		{"unk", func(v *Vocab) { v.UNK = 1 << 30 }, "UNK"},
		{"pad", func(v *Vocab) { v.PAD = int32(v.Len()) }, "PAD"},
		{"absent ok", func(v *Vocab) { v.BOS, v.EOS, v.UNK, v.PAD = -1, -1, -1, -1 }, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := tiny()
			tc.break_(v)
			err := v.Validate()
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one mentioning %q", err, tc.want)
			}
		})
	}
}

func TestPadTo(t *testing.T) {
	v := llama(t)
	if err := v.PadTo(32064); err != nil {
		t.Fatal(err)
	}
	if v.Len() != 32064 || len(v.Scores) != 32064 || len(v.Types) != 32064 {
		t.Fatalf("lengths %d %d %d", v.Len(), len(v.Scores), len(v.Types))
	}
	for _, id := range []int{32000, 32063} {
		want := "[PAD" + strconv.Itoa(id) + "]"
		if v.Tokens[id] != want || v.Scores[id] != -10000 || v.Types[id] != Unused {
			t.Errorf("entry %d = %q %v %v, want %q -10000 UNUSED", id, v.Tokens[id], v.Scores[id], v.Types[id], want)
		}
	}
	if v.Tokens[31999] != "给" {
		t.Errorf("token 31999 changed to %q", v.Tokens[31999])
	}
	if err := v.Validate(); err != nil {
		t.Error(err)
	}
	if err := v.PadTo(32064); err != nil {
		t.Errorf("PadTo(Len) = %v", err)
	}
	if err := v.PadTo(100); err == nil {
		t.Error("PadTo smaller: no error")
	}
	if err := v.PadTo(maxTokens + 1); err == nil {
		t.Error("PadTo huge: no error")
	}
}

func TestTokenTypeString(t *testing.T) {
	if Byte.String() != "BYTE" || UserDefined.String() != "USER_DEFINED" || TokenType(9).String() != "TokenType(9)" {
		t.Error(Byte.String(), UserDefined.String(), TokenType(9).String())
	}
}
