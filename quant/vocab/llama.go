package vocab

import (
	_ "embed"

	"maira/quant/gguf"
)

// llamaGGUF is the real 32000-piece LLaMA vocabulary (tokens, scores, token
// types), the one Vicuna and MAIRA-2 build on, in GGUF form. `maira
// testmodel` writes it into its checkpoints so tests run on the real
// vocabulary.
//
//go:embed testdata/llama-spm-vocab.gguf
var llamaGGUF []byte

// LLaMA returns a fresh copy of the LLaMA vocabulary with LLaMA's defaults
// (BOS 1, EOS 2, UNK 0, no padding, BOS added, a dummy-prefix space).
func LLaMA() (*Vocab, error) {
	f, err := gguf.Parse(llamaGGUF, "embedded llama-spm-vocab.gguf")
	if err != nil {
		return nil, err
	}
	tokens, err := f.Strings("tokenizer.ggml.tokens")
	if err != nil {
		return nil, err
	}
	scores, err := f.Float32s("tokenizer.ggml.scores")
	if err != nil {
		return nil, err
	}
	types, err := f.Int32s("tokenizer.ggml.token_type")
	if err != nil {
		return nil, err
	}
	return FromGGUFArrays(tokens, scores, types) // copies the arrays
}
