package vocab

import "testing"

func BenchmarkParseSentencePiece(b *testing.B) {
	data, err := llama(b).SentencePiece()
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := ParseSentencePiece(data, "tokenizer.model"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkTokenizerJSON(b *testing.B) {
	v := llama(b)
	for b.Loop() {
		if _, err := v.TokenizerJSON(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseTokenizerJSON(b *testing.B) {
	data, err := llama(b).TokenizerJSON()
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := ParseTokenizerJSON(data, "tokenizer.json"); err != nil {
			b.Fatal(err)
		}
	}
}
