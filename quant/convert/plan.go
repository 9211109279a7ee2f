// Package convert turns a Hugging Face checkpoint into one maira GGUF file:
// it maps tensor names to llama.cpp's, permutes the language model's q/k rows
// for llama.cpp's RoPE layout, picks each tensor's type from a recipe, and
// streams the weights through the quantizers into the file, tensor by tensor
// and chunk by chunk, so a 30 GB float32 source never sits in memory.
package convert

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"maira/quant/dtype"
	"maira/quant/modelfile"
)

// Tensor is one output tensor of a plan.
type Tensor struct {
	Name    string // in the output file
	Source  *SourceTensor
	Dims    []uint64 // ggml order: Dims[0] is the row length
	Type    dtype.Type
	Wanted  dtype.Type // what the recipe asked for
	Part    string     // "vision", "projector" or "language"
	Permute int        // RoPE row permutation with this many heads (0: none)
	Bytes   int64      // stored size
	Stats   Stats      // filled while writing
}

// Elements returns the number of elements.
func (t *Tensor) Elements() int64 {
	n := int64(1)
	for _, d := range t.Dims {
		n *= int64(d)
	}
	return n
}

// Fallback reports whether the tensor is stored in another type than the
// recipe asked for, because its rows do not fit the wanted type's blocks.
func (t *Tensor) Fallback() bool { return t.Type != t.Wanted }

// Plan is a conversion decided but not yet run.
type Plan struct {
	Source  *Source
	Header  *modelfile.Header
	Recipe  Recipe
	Tensors []*Tensor
}

// NewPlan maps every tensor the model needs to its source, checks shapes
// against config.json, and picks types.
func NewPlan(ck *Source, r Recipe) (*Plan, error) {
	h, err := header(ck)
	if err != nil {
		return nil, err
	}
	bs := bindings(ck.Config, h)
	specs := map[string]modelfile.TensorSpec{}
	for _, s := range h.Tensors() {
		specs[s.Name] = s
	}
	p := &Plan{Source: ck, Header: h, Recipe: r}
	used := map[string]bool{}
	dtypes := map[string]bool{}
	for _, b := range bs {
		var src *SourceTensor
		for _, n := range b.hf {
			if src = ck.Tensor(n); src != nil {
				break
			}
		}
		if src == nil {
			return nil, fmt.Errorf("%s: tensor %s is missing (the config describes it; looked for %s)", ck.Dir, b.hf[0], quoteList(b.hf))
		}
		used[src.Name] = true
		dtypes[src.DType] = true
		switch src.DType {
		case "F32", "F16", "BF16":
		default:
			return nil, fmt.Errorf("%s: tensor %s: unsupported dtype %s (maira reads F32, F16 and BF16)", src.File, src.Name, src.DType)
		}
		spec, ok := specs[b.gguf]
		if !ok {
			return nil, fmt.Errorf("internal error: no spec for %s", b.gguf)
		}
		if !sameShape(src.Shape, spec.Dims) {
			return nil, fmt.Errorf("%s: tensor %s has shape %v, config.json implies %v", src.File, src.Name, src.Shape, reversed(spec.Dims))
		}
		want := r.typeFor(b.part, b.role)
		t := &Tensor{
			Name: b.gguf, Source: src, Dims: spec.Dims, Wanted: want,
			Type: fit(want, spec.Dims[0]), Part: b.part.String(), Permute: b.permute,
		}
		if b.permute > 0 && spec.Dims[1]%uint64(2*b.permute) != 0 {
			return nil, fmt.Errorf("%s: tensor %s: %d rows cannot be split into %d heads of pairs", src.File, src.Name, spec.Dims[1], b.permute)
		}
		rows := t.Elements() / int64(t.Dims[0])
		rowBytes, err := t.Type.RowBytes(int64(t.Dims[0]))
		if err != nil {
			return nil, fmt.Errorf("%s: %v", t.Name, err)
		}
		t.Bytes = rows * rowBytes
		p.Tensors = append(p.Tensors, t)
	}
	var extra []string
	for _, t := range ck.Tensors {
		if !used[t.Name] && !ignored(t.Name) {
			extra = append(extra, t.Name)
		}
	}
	if len(extra) > 0 {
		sort.Strings(extra)
		more := ""
		if len(extra) > 3 {
			more = fmt.Sprintf(" and %d more", len(extra)-3)
			extra = extra[:3]
		}
		return nil, fmt.Errorf("%s: tensor %s is not part of the %s model config.json describes%s", ck.Dir, quoteList(extra), ck.Config.ModelType, more)
	}
	h.SourceDTypes = dtypeNames(dtypes)
	h.FileType = fileType(r.LLM)
	return p, nil
}

// sameShape compares a Hugging Face shape with ggml dims (reversed order).
func sameShape(shape []int64, dims []uint64) bool {
	if len(shape) != len(dims) {
		return false
	}
	for i, d := range dims {
		if shape[len(shape)-1-i] != int64(d) {
			return false
		}
	}
	return true
}

func reversed(dims []uint64) []uint64 {
	r := slices.Clone(dims)
	slices.Reverse(r)
	return r
}

func quoteList(s []string) string { return strings.Join(s, ", ") }

// InputBytes is the bytes of source weights the plan reads.
func (p *Plan) InputBytes() int64 {
	var n int64
	for _, t := range p.Tensors {
		n += t.Source.Bytes
	}
	return n
}

// OutputTensorBytes is the bytes of tensor data the plan writes, before
// alignment padding and the header.
func (p *Plan) OutputTensorBytes() int64 {
	var n int64
	for _, t := range p.Tensors {
		n += t.Bytes
	}
	return n
}
