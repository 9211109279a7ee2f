// Package maira loads a maira model file (quant/modelfile) onto a backend:
// RAD-DINO, the projector and the LLaMA decoder for a "maira" file, the
// decoder alone for a plain "llama" file.
package maira

import (
	"fmt"

	"maira/models/llama"
	"maira/models/projector"
	"maira/models/raddino"
	"maira/quant/dtype"
	"maira/quant/gguf"
	"maira/quant/modelfile"
	"maira/runtime"
)

// Model is a loaded model file. Vision and Projector are nil for a file
// that holds a language model only.
type Model struct {
	Path      string
	File      *gguf.File
	Header    *modelfile.Header
	Backend   runtime.Backend
	Vision    *raddino.Encoder
	Projector *projector.Projector
	LLM       *llama.Model
}

// Load maps the file at path and makes its weights on b, after checking
// that the header describes a runnable model, that every tensor is present
// with the right dims, and that every tensor's type is one b supports
// (vectors, which ops add or multiply element-wise, must be f32). The
// weights reference the mapping: Close the model when done.
func Load(path string, b runtime.Backend) (*Model, error) {
	f, err := gguf.Open(path)
	if err != nil {
		return nil, err
	}
	m, err := load(f, b)
	if err != nil {
		f.Close()
		return nil, err
	}
	return m, nil
}

func load(f *gguf.File, b runtime.Backend) (*Model, error) {
	h, err := modelfile.Read(f)
	if err != nil {
		return nil, err
	}
	if err := modelfile.Check(f, h); err != nil {
		return nil, err
	}
	for i := range f.Tensors {
		t := &f.Tensors[i]
		if !b.Supports(t.Type) {
			return nil, fmt.Errorf("%s: tensor %s: type %s is not supported by the %s backend", f.Path, t.Name, t.Type, b.Name())
		}
		if t.Rows() == 1 && t.Type != dtype.F32 {
			return nil, fmt.Errorf("%s: tensor %s: vectors must be f32, found %s", f.Path, t.Name, t.Type)
		}
	}
	m := &Model{Path: f.Path, File: f, Header: h, Backend: b}
	if m.LLM, err = llama.New(f, h.Text, b); err != nil {
		return nil, err
	}
	if h.Vision != nil {
		if m.Vision, err = raddino.New(f, h.Vision, b); err != nil {
			return nil, err
		}
		if m.Projector, err = projector.New(f, h.Projector, h.Vision.EmbeddingLength, h.Text.EmbeddingLength, b); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// EncodeImage runs one preprocessed image (CHW float32, h x w) through the
// encoder and the projector: features [N, vision width] and the embeddings
// [N, text width] that replace the prompt's N image tokens. The caller owns
// both tensors.
func (m *Model) EncodeImage(pix []float32, h, w int) (features, embeddings runtime.Tensor, err error) {
	if m.Vision == nil {
		return nil, nil, fmt.Errorf("%s: a language model only, without an image encoder", m.Path)
	}
	features, err = m.Vision.Encode(pix, h, w)
	if err != nil {
		return nil, nil, err
	}
	embeddings, err = m.Projector.Project(features)
	if err != nil {
		m.Backend.Free(features)
		return nil, nil, err
	}
	return features, embeddings, nil
}

// Close releases the encoder's activations and unmaps the file. The
// backend is the caller's to close (after the model).
func (m *Model) Close() error {
	if m.Vision != nil {
		m.Vision.Close()
	}
	return m.File.Close()
}
