// Package gguf reads and writes GGUF files, the single-file model format of
// ggml and llama.cpp (docs/gguf.md in the ggml repository).
//
// A file is a header (magic "GGUF", version, tensor count, key-value count),
// the key-value metadata, one info record per tensor (name, dims, type,
// offset), then, at the next multiple of the alignment, the data section that
// holds every tensor's bytes, each tensor starting on an aligned offset. All
// numbers are little-endian.
//
// The reader maps the file and validates every count, length, type, shape and
// offset against the bytes actually present before it allocates anything, so
// a hostile or truncated file gives a one-line error naming the file (and the
// key or tensor), never a panic or a huge allocation. The writer streams: the
// header is written from declarations, then tensor data is written in order,
// so a converter never holds a whole model in memory.
package gguf

import (
	"fmt"
	"math/bits"
	"strconv"
	"unicode"
	"unicode/utf8"

	"maira/quant/dtype"
)

// Magic is the four bytes every GGUF file starts with.
const Magic = "GGUF"

// Version is the GGUF version the Writer produces. The reader also accepts
// version 2, whose layout is the same (version 1 used 32-bit counts and is
// refused, as llama.cpp does).
const Version = 3

// DefaultAlignment is the alignment of the data section and of every tensor
// when a file has no general.alignment key.
const DefaultAlignment = 32

// alignmentKey is the metadata key that overrides DefaultAlignment; llama.cpp
// requires it to be a uint32 power of two.
const alignmentKey = "general.alignment"

// maxDims is ggml's GGML_MAX_DIMS: a tensor has one to four dimensions.
const maxDims = 4

// maxNameBytes is one less than ggml's GGML_MAX_NAME (64, counting the NUL):
// llama.cpp refuses files with longer tensor names, so the Writer does too.
const maxNameBytes = 63

// maxArrayDepth bounds nested arrays (an array whose elements are arrays).
// The format allows them, llama.cpp refuses them, and unbounded recursion
// on hostile input would exhaust the stack.
const maxArrayDepth = 8

// KV is one metadata entry. Value is a plain Go value: uint8, int8, uint16,
// int16, uint32, int32, uint64, int64, float32, float64, bool or string for
// scalars, and []uint8, []int8, []uint16, []int16, []uint32, []int32,
// []uint64, []int64, []float32, []float64, []bool or []string for arrays.
// An array of arrays (which llama.cpp never writes) reads as []any whose
// elements are themselves such slices.
type KV struct {
	Key   string
	Value any
}

// TensorInfo describes one tensor of a file.
type TensorInfo struct {
	Name   string
	Type   dtype.Type
	Dims   []uint64 // ggml order: Dims[0] is the row length (fastest varying)
	Offset uint64   // from the start of the data section
	Size   uint64   // bytes of data
}

// NumElements returns the product of the dims.
func (t *TensorInfo) NumElements() uint64 {
	n := uint64(1)
	for _, d := range t.Dims {
		n *= d
	}
	return n
}

// Rows returns the product of Dims[1:], the number of rows of Dims[0]
// elements (1 for a vector).
func (t *TensorInfo) Rows() uint64 {
	n := uint64(1)
	for i := 1; i < len(t.Dims); i++ {
		n *= t.Dims[i]
	}
	return n
}

// The GGUF value type numbers (enum gguf_type in gguf.h).
const (
	typeUint8   = 0
	typeInt8    = 1
	typeUint16  = 2
	typeInt16   = 3
	typeUint32  = 4
	typeInt32   = 5
	typeFloat32 = 6
	typeBool    = 7
	typeString  = 8
	typeArray   = 9
	typeUint64  = 10
	typeInt64   = 11
	typeFloat64 = 12
	numTypes    = 13
)

var typeNames = [numTypes]string{
	"uint8", "int8", "uint16", "int16", "uint32", "int32", "float32",
	"bool", "string", "array", "uint64", "int64", "float64",
}

// fixedSize is the encoded size of the fixed-width value types (0 for string
// and array, whose size depends on their contents).
var fixedSize = [numTypes]uint64{1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8}

func typeName(t uint32) string {
	if t < numTypes {
		return typeNames[t]
	}
	return "type(" + strconv.FormatUint(uint64(t), 10) + ")"
}

// valueTypeName names the GGUF type of a Go value as the getters' errors show
// it ("uint32", "array of string").
func valueTypeName(v any) string {
	switch v.(type) {
	case uint8:
		return "uint8"
	case int8:
		return "int8"
	case uint16:
		return "uint16"
	case int16:
		return "int16"
	case uint32:
		return "uint32"
	case int32:
		return "int32"
	case uint64:
		return "uint64"
	case int64:
		return "int64"
	case float32:
		return "float32"
	case float64:
		return "float64"
	case bool:
		return "bool"
	case string:
		return "string"
	case []uint8:
		return "array of uint8"
	case []int8:
		return "array of int8"
	case []uint16:
		return "array of uint16"
	case []int16:
		return "array of int16"
	case []uint32:
		return "array of uint32"
	case []int32:
		return "array of int32"
	case []uint64:
		return "array of uint64"
	case []int64:
		return "array of int64"
	case []float32:
		return "array of float32"
	case []float64:
		return "array of float64"
	case []bool:
		return "array of bool"
	case []string:
		return "array of string"
	case []any:
		return "array of array"
	}
	return fmt.Sprintf("Go type %T", v)
}

// quote returns s as it can stand in a one-line error: bare when it is plain
// printable text without spaces or colons (the usual "blk.0.attn_q.weight"),
// Go-quoted otherwise so that a hostile name cannot break the line or pose as
// another field.
func quote(s string) string {
	if s == "" || !utf8.ValidString(s) {
		return strconv.Quote(s)
	}
	for _, r := range s {
		if !unicode.IsPrint(r) || unicode.IsSpace(r) || r == ':' || r == '"' {
			return strconv.Quote(s)
		}
	}
	return s
}

// alignUp rounds n up to a multiple of the power of two a. ok is false when
// the result does not fit in a uint64.
func alignUp(n, a uint64) (uint64, bool) {
	s, carry := bits.Add64(n, a-1, 0)
	if carry != 0 {
		return 0, false
	}
	return s &^ (a - 1), true
}

// tensorSize returns the bytes of a tensor of type typ and shape dims, or an
// error (without file or tensor name) for an unknown type, a zero or
// overflowing dim, or a row length that is not a whole number of blocks.
// The element count and byte size must fit in an int64, as in ggml.
func tensorSize(typ dtype.Type, dims []uint64) (uint64, error) {
	tr := typ.Traits()
	if tr == nil {
		return 0, fmt.Errorf("unknown tensor type %d", uint32(typ))
	}
	if len(dims) == 0 || len(dims) > maxDims {
		return 0, fmt.Errorf("%d dimensions (want 1 to %d)", len(dims), maxDims)
	}
	n := uint64(1)
	for i, d := range dims {
		if d == 0 {
			return 0, fmt.Errorf("dimension %d is zero", i)
		}
		hi, lo := bits.Mul64(n, d)
		if hi != 0 || lo > 1<<63-1 {
			return 0, fmt.Errorf("dims %v overflow: more than 2^63 elements", dims)
		}
		n = lo
	}
	bs := uint64(tr.BlockSize)
	if dims[0]%bs != 0 {
		return 0, fmt.Errorf("row length %d is not a multiple of the %s block size %d", dims[0], tr.Name, bs)
	}
	hi, size := bits.Mul64(n/bs, uint64(tr.BlockBytes))
	if hi != 0 || size > 1<<63-1 {
		return 0, fmt.Errorf("dims %v of %s overflow: more than 2^63 bytes", dims, tr.Name)
	}
	return size, nil
}
