package gguf

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// vocabFile writes a file shaped like a LLaMA tokenizer's metadata: 32000
// token strings, their scores and token types.
func vocabFile(b *testing.B) string {
	b.Helper()
	tokens := make([]string, 32000)
	scores := make([]float32, len(tokens))
	types := make([]int32, len(tokens))
	for i := range tokens {
		tokens[i] = fmt.Sprintf("▁tok%d", i)
		scores[i] = -float32(i)
		types[i] = 1
	}
	path := filepath.Join(b.TempDir(), "vocab.gguf")
	w, err := Create(path)
	if err != nil {
		b.Fatal(err)
	}
	defer w.Abort()
	for _, kv := range []KV{
		{"general.architecture", "llama"},
		{"tokenizer.ggml.model", "llama"},
		{"tokenizer.ggml.tokens", tokens},
		{"tokenizer.ggml.scores", scores},
		{"tokenizer.ggml.token_type", types},
		{"tokenizer.ggml.bos_token_id", uint32(1)},
		{"tokenizer.ggml.eos_token_id", uint32(2)},
	} {
		if err := w.AddKV(kv.Key, kv.Value); err != nil {
			b.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
	return path
}

// BenchmarkOpenVocab opens, parses and closes a tokenizer-sized file; the
// runtime does this at every start, so it must stay well under 10 ms.
func BenchmarkOpenVocab(b *testing.B) {
	path := vocabFile(b)
	st, _ := os.Stat(path)
	b.SetBytes(st.Size())
	b.ReportAllocs()
	for b.Loop() {
		f, err := Open(path)
		if err != nil {
			b.Fatal(err)
		}
		if toks, err := f.Strings("tokenizer.ggml.tokens"); err != nil || len(toks) != 32000 {
			b.Fatal(len(toks), err)
		}
		f.Close()
	}
}

// BenchmarkParseVocab is BenchmarkOpenVocab without the mapping.
func BenchmarkParseVocab(b *testing.B) {
	data, err := os.ReadFile(vocabFile(b))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(data, "vocab.gguf"); err != nil {
			b.Fatal(err)
		}
	}
}
