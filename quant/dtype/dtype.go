// Package dtype is the one registry of tensor element encodings: plain floats
// and llama.cpp's block quantizations. A type is defined here in exactly one
// table row (block size, bytes per block, decoder, encoder), as ggml's
// type_traits[] does; GGUF readers and writers, the converter and the compute
// kernels all look types up here. It imports nothing of ours, so every other
// package may import it.
//
// The encoders and decoders reproduce ggml's reference C code bit for bit
// (quantize_row_*_ref, dequantize_row_*, the fp16/bf16 conversions), on
// amd64 and arm64 alike: see ggml.go for the floating-point rules that takes,
// and testdata/README.md for how the expected bytes were made with ggml.
package dtype

import (
	"fmt"
	"strings"
)

// Type is a tensor element encoding. The numbers are ggml's (enum ggml_type in
// ggml.h), so the type field of a GGUF tensor is a Type as it stands.
type Type uint32

// The types maira reads and writes.
const (
	F32  Type = 0
	F16  Type = 1
	Q4_0 Type = 2
	Q8_0 Type = 8
	Q4_K Type = 12
	Q6_K Type = 14
	BF16 Type = 30
)

// Traits describes one type: how many elements a block holds, how many bytes
// it takes, and how to decode and encode whole blocks.
type Traits struct {
	Name       string // lower-case name as users type it ("q4_k")
	BlockSize  int    // elements per block (1 for plain floats)
	BlockBytes int    // bytes per block
	Quantized  bool   // a block format with scales, not a plain float

	// ToFloat decodes len(dst)/BlockSize blocks from src into dst, as
	// ggml's dequantize_row_* (or GGML_FP16_TO_FP32 / GGML_BF16_TO_FP32)
	// does, bit for bit. len(dst) must be a multiple of BlockSize and src
	// must hold the blocks; Type.Decode checks both.
	ToFloat func(dst []float32, src []byte)
	// FromFloat encodes len(src)/BlockSize blocks of src into dst,
	// bit-identical to llama.cpp's quantize_row_*_ref for that type (and
	// to GGML_FP32_TO_FP16 / GGML_FP32_TO_BF16 for the half types) on every
	// architecture, for all finite inputs. NaN and Inf inputs do not panic
	// or hang but encode to unspecified bytes. dst must hold the blocks.
	FromFloat func(dst []byte, src []float32)
}

// traits is filled by the files of this package, one per type, from init
// functions, so each type's numbers and code stand together.
var traits = map[Type]*Traits{}

func register(t Type, tr *Traits) {
	if _, dup := traits[t]; dup {
		panic("dtype: type registered twice: " + tr.Name)
	}
	traits[t] = tr
}

// Traits returns the row of t, or nil for a type maira does not support.
func (t Type) Traits() *Traits { return traits[t] }

// Known reports whether maira supports t.
func (t Type) Known() bool { return traits[t] != nil }

// String returns the lower-case name ("q4_k"), or "type(N)" for unknown types.
func (t Type) String() string {
	if tr := traits[t]; tr != nil {
		return tr.Name
	}
	return fmt.Sprintf("type(%d)", uint32(t))
}

// BlockSize returns the number of elements per block (0 for unknown types).
func (t Type) BlockSize() int {
	if tr := traits[t]; tr != nil {
		return tr.BlockSize
	}
	return 0
}

// RowBytes returns the bytes taken by n elements of type t. n must be a
// multiple of the block size.
func (t Type) RowBytes(n int64) (int64, error) {
	tr := traits[t]
	if tr == nil {
		return 0, fmt.Errorf("unsupported tensor type %s", t)
	}
	if n < 0 || n%int64(tr.BlockSize) != 0 {
		return 0, fmt.Errorf("%d elements is not a whole number of %s blocks of %d", n, tr.Name, tr.BlockSize)
	}
	return n / int64(tr.BlockSize) * int64(tr.BlockBytes), nil
}

// Encode quantizes src into dst with t's FromFloat. len(src) must be a whole
// number of blocks and dst exactly the bytes they take. NaN and Inf inputs
// neither panic nor hang, but what they encode to is unspecified (the caller
// checks its sources); finite inputs give ggml's bytes.
func (t Type) Encode(dst []byte, src []float32) error {
	tr := traits[t]
	if tr == nil {
		return fmt.Errorf("encode: unsupported tensor type %s", t)
	}
	if len(src)%tr.BlockSize != 0 {
		return fmt.Errorf("encode %s: %d values is not a whole number of blocks of %d", tr.Name, len(src), tr.BlockSize)
	}
	if want := len(src) / tr.BlockSize * tr.BlockBytes; len(dst) != want {
		return fmt.Errorf("encode %s: %d values need %d bytes, destination has %d", tr.Name, len(src), want, len(dst))
	}
	tr.FromFloat(dst, src)
	return nil
}

// Decode dequantizes src into dst with t's ToFloat. len(dst) must be a whole
// number of blocks and src exactly the bytes they take. Any bytes decode
// without error (a scale may decode to Inf or NaN).
func (t Type) Decode(dst []float32, src []byte) error {
	tr := traits[t]
	if tr == nil {
		return fmt.Errorf("decode: unsupported tensor type %s", t)
	}
	if len(dst)%tr.BlockSize != 0 {
		return fmt.Errorf("decode %s: %d values is not a whole number of blocks of %d", tr.Name, len(dst), tr.BlockSize)
	}
	if want := len(dst) / tr.BlockSize * tr.BlockBytes; len(src) != want {
		return fmt.Errorf("decode %s: %d values need %d bytes, source has %d", tr.Name, len(dst), want, len(src))
	}
	tr.ToFloat(dst, src)
	return nil
}

// Parse returns the type named s ("q4_k", "Q4_K", "bf16"), case-insensitively.
func Parse(s string) (Type, error) {
	l := strings.ToLower(s)
	for t, tr := range traits {
		if tr.Name == l {
			return t, nil
		}
	}
	return 0, fmt.Errorf("unknown tensor type %q (known: %s)", s, strings.Join(Names(), ", "))
}

// All returns the supported types in ggml's numeric order.
func All() []Type {
	var ts []Type
	for t := Type(0); t < 64; t++ {
		if traits[t] != nil {
			ts = append(ts, t)
		}
	}
	return ts
}

// Names returns the supported type names in ggml's numeric order.
func Names() []string {
	var ns []string
	for _, t := range All() {
		ns = append(ns, traits[t].Name)
	}
	return ns
}
