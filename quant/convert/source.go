package convert

import (
	"maira/quant/hf"
	"maira/quant/safetensors"
	"maira/quant/vocab"
)

// Source is a model to convert: its configuration, tokenizer, preprocessor
// settings, and tensors that can be read as float32 in any range. A Hugging
// Face checkpoint is one (FromCheckpoint); `maira testmodel --gguf` makes
// another from a random generator, so both go through the same converter.
type Source struct {
	Dir          string // for messages
	Format       string // what the weights were read from, recorded in the file ("safetensors")
	Config       *hf.Config
	Vocab        *vocab.Vocab
	Preprocessor *hf.Preprocessor
	Tensors      []*SourceTensor
	byName       map[string]*SourceTensor
	// Release, when set, is called once a tensor has been converted.
	Release func(*SourceTensor)
}

// SourceTensor is one tensor of a source.
type SourceTensor struct {
	Name  string
	File  string // for messages
	DType string // "F32", "F16", "BF16"
	Shape []int64
	// Read decodes elements [off, off+len(dst)) into dst.
	Read func(dst []float32, off int64) error
	// Bytes is the tensor's size in the source, for progress and throughput.
	Bytes int64
	st    *safetensors.Tensor
}

// Tensor returns the named tensor, or nil.
func (s *Source) Tensor(name string) *SourceTensor {
	if s.byName == nil {
		s.byName = make(map[string]*SourceTensor, len(s.Tensors))
		for _, t := range s.Tensors {
			s.byName[t.Name] = t
		}
	}
	return s.byName[name]
}

// FromCheckpoint makes a source of an opened Hugging Face checkpoint.
func FromCheckpoint(ck *hf.Checkpoint) *Source {
	s := &Source{Dir: ck.Dir, Format: "safetensors", Config: ck.Config, Vocab: ck.Vocab, Preprocessor: ck.Preprocessor}
	for _, t := range ck.Weights.Tensors {
		s.Tensors = append(s.Tensors, &SourceTensor{
			Name: t.Name, File: t.File, DType: string(t.DType), Shape: t.Shape,
			Read: t.Float32, Bytes: int64(len(t.Data)), st: t,
		})
	}
	s.Release = func(t *SourceTensor) { ck.Weights.Release(t.st) }
	return s
}
