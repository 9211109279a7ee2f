package gguf

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"

	"maira/quant/dtype"
	"maira/quant/mmap"
)

// File is a parsed GGUF file. Its tensor data stays in the mapped (or given)
// bytes; Data hands out views of it without copying.
type File struct {
	Path       string
	Version    uint32
	KVs        []KV         // in file order
	Tensors    []TensorInfo // in file order
	Alignment  int
	DataOffset int64 // absolute file offset of the data section

	data    []byte
	region  *mmap.Region // nil for a File from Parse
	keys    map[string]int
	tensors map[string]int
}

// Open maps the file at path read-only and parses it. The tensor data is not
// read until it is used; Close unmaps it.
func Open(path string) (*File, error) {
	r, err := mmap.Open(path)
	if err != nil {
		return nil, err
	}
	f, err := Parse(r.Data, path)
	if err != nil {
		r.Close()
		return nil, err
	}
	f.region = r
	return f, nil
}

// Parse parses and validates a whole GGUF file held in data. path is used
// only in error messages. The File keeps data: Data returns slices of it.
// Metadata values are copied, so they stay valid after Close.
func Parse(data []byte, path string) (*File, error) {
	p := parser{data: data, path: path}
	f, err := p.file()
	if err != nil {
		return nil, err
	}
	f.data = data
	return f, nil
}

// Close releases the mapping of a File from Open. Slices from Data and Bytes
// must not be used afterwards; metadata values stay valid.
func (f *File) Close() error {
	f.data = nil
	if f.region == nil {
		return nil
	}
	err := f.region.Close()
	f.region = nil
	return err
}

// Get returns the value of key and whether the file has it.
func (f *File) Get(key string) (any, bool) {
	i, ok := f.keys[key]
	if !ok {
		return nil, false
	}
	return f.KVs[i].Value, true
}

// Tensor returns the tensor called name, or nil if the file has none.
func (f *File) Tensor(name string) *TensorInfo {
	i, ok := f.tensors[name]
	if !ok {
		return nil
	}
	return &f.Tensors[i]
}

// Data returns the bytes of t, a tensor of f, without copying. It returns nil
// after Close.
func (f *File) Data(t *TensorInfo) []byte {
	if f.data == nil {
		return nil
	}
	start := uint64(f.DataOffset) + t.Offset
	return f.data[start : start+t.Size : start+t.Size]
}

// Bytes returns the whole file as mapped, for hashing. It returns nil after
// Close.
func (f *File) Bytes() []byte { return f.data }

// lookup returns the value of key or an error naming the file and key.
func (f *File) lookup(key string) (any, error) {
	v, ok := f.Get(key)
	if !ok {
		return nil, fmt.Errorf("%s: key %s: missing", f.Path, quote(key))
	}
	return v, nil
}

func (f *File) wrongType(key, want string, v any) error {
	return fmt.Errorf("%s: key %s: want %s, found %s", f.Path, quote(key), want, valueTypeName(v))
}

// String returns the string value of key.
func (f *File) String(key string) (string, error) {
	v, err := f.lookup(key)
	if err != nil {
		return "", err
	}
	s, ok := v.(string)
	if !ok {
		return "", f.wrongType(key, "string", v)
	}
	return s, nil
}

// Uint32 returns the value of key, which may be of any integer type whose
// value fits in a uint32: llama.cpp's writers store counts as uint32, int32
// or uint64 depending on the converter.
func (f *File) Uint32(key string) (uint32, error) {
	v, err := f.lookup(key)
	if err != nil {
		return 0, err
	}
	n, ok := asUint(v)
	if !ok || n > math.MaxUint32 {
		return 0, f.wrongType(key, "uint32", v)
	}
	return uint32(n), nil
}

// Uint64 returns the value of key, which may be of any integer type whose
// value is not negative.
func (f *File) Uint64(key string) (uint64, error) {
	v, err := f.lookup(key)
	if err != nil {
		return 0, err
	}
	n, ok := asUint(v)
	if !ok {
		return 0, f.wrongType(key, "uint64", v)
	}
	return n, nil
}

// asUint converts an integer value that is not negative to a uint64.
func asUint(v any) (uint64, bool) {
	switch x := v.(type) {
	case uint8:
		return uint64(x), true
	case uint16:
		return uint64(x), true
	case uint32:
		return uint64(x), true
	case uint64:
		return x, true
	case int8:
		return uint64(x), x >= 0
	case int16:
		return uint64(x), x >= 0
	case int32:
		return uint64(x), x >= 0
	case int64:
		return uint64(x), x >= 0
	}
	return 0, false
}

// Float32 returns the value of key, a float32 or a float64 within float32's
// range.
func (f *File) Float32(key string) (float32, error) {
	v, err := f.lookup(key)
	if err != nil {
		return 0, err
	}
	switch x := v.(type) {
	case float32:
		return x, nil
	case float64:
		if math.Abs(x) > math.MaxFloat32 && !math.IsInf(x, 0) {
			return 0, fmt.Errorf("%s: key %s: float64 %g does not fit in a float32", f.Path, quote(key), x)
		}
		return float32(x), nil
	}
	return 0, f.wrongType(key, "float32", v)
}

// Bool returns the bool value of key.
func (f *File) Bool(key string) (bool, error) {
	v, err := f.lookup(key)
	if err != nil {
		return false, err
	}
	b, ok := v.(bool)
	if !ok {
		return false, f.wrongType(key, "bool", v)
	}
	return b, nil
}

// Strings returns the array of strings of key. The slice is the File's own:
// do not modify it.
func (f *File) Strings(key string) ([]string, error) {
	v, err := f.lookup(key)
	if err != nil {
		return nil, err
	}
	s, ok := v.([]string)
	if !ok {
		return nil, f.wrongType(key, "array of string", v)
	}
	return s, nil
}

// Float32s returns the array of float32 of key (an array of float64 is
// converted). A float32 array is the File's own slice: do not modify it.
func (f *File) Float32s(key string) ([]float32, error) {
	v, err := f.lookup(key)
	if err != nil {
		return nil, err
	}
	switch x := v.(type) {
	case []float32:
		return x, nil
	case []float64:
		out := make([]float32, len(x))
		for i, e := range x {
			out[i] = float32(e)
		}
		return out, nil
	}
	return nil, f.wrongType(key, "array of float32", v)
}

// Int32s returns the array of int32 of key. Arrays of other integer types are
// converted when every element fits; an int32 array is the File's own slice:
// do not modify it.
func (f *File) Int32s(key string) ([]int32, error) {
	v, err := f.lookup(key)
	if err != nil {
		return nil, err
	}
	if x, ok := v.([]int32); ok {
		return x, nil
	}
	out, ok := int32sOf(v)
	if !ok {
		return nil, f.wrongType(key, "array of int32", v)
	}
	return out, nil
}

func int32sOf(v any) ([]int32, bool) {
	switch x := v.(type) {
	case []int8:
		return convert(x, func(e int8) bool { return true })
	case []uint8:
		return convert(x, func(e uint8) bool { return true })
	case []int16:
		return convert(x, func(e int16) bool { return true })
	case []uint16:
		return convert(x, func(e uint16) bool { return true })
	case []uint32:
		return convert(x, func(e uint32) bool { return e <= math.MaxInt32 })
	case []int64:
		return convert(x, func(e int64) bool { return e >= math.MinInt32 && e <= math.MaxInt32 })
	case []uint64:
		return convert(x, func(e uint64) bool { return e <= math.MaxInt32 })
	}
	return nil, false
}

func convert[T int8 | uint8 | int16 | uint16 | uint32 | int64 | uint64](xs []T, fits func(T) bool) ([]int32, bool) {
	out := make([]int32, len(xs))
	for i, e := range xs {
		if !fits(e) {
			return nil, false
		}
		out[i] = int32(e)
	}
	return out, true
}

// parser walks the bytes of a file. Every read checks the bytes left first,
// and every count is checked against the bytes left before anything is
// allocated from it: a hostile file may claim 2^63 entries.
type parser struct {
	data []byte
	off  uint64 // next byte to read; always <= len(data)
	path string
}

// errTruncated is what the readers return when the file ends early; the
// callers add what was being read.
var errTruncated = errors.New("truncated")

func (p *parser) left() uint64 { return uint64(len(p.data)) - p.off }

func (p *parser) bytes(n uint64) ([]byte, error) {
	if n > p.left() {
		return nil, errTruncated
	}
	b := p.data[p.off : p.off+n]
	p.off += n
	return b, nil
}

func (p *parser) u32() (uint32, error) {
	b, err := p.bytes(4)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint32(b), nil
}

func (p *parser) u64() (uint64, error) {
	b, err := p.bytes(8)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint64(b), nil
}

// rawString returns the bytes of a GGUF string (u64 length, then the bytes)
// without copying.
func (p *parser) rawString() ([]byte, error) {
	n, err := p.u64()
	if err != nil {
		return nil, err
	}
	if n > p.left() {
		return nil, fmt.Errorf("string of %d bytes runs past the end of the file (%d bytes left)", n, p.left())
	}
	return p.bytes(n)
}

func (p *parser) errf(format string, args ...any) error {
	return fmt.Errorf("%s: %s", p.path, fmt.Sprintf(format, args...))
}

// Lower bounds on the encoded size of a key-value pair (key length, one key
// byte, type, one value byte) and of a tensor info (name length, one name
// byte, n_dims, one dim, type, offset), used to refuse impossible counts.
const (
	minKVBytes     = 8 + 1 + 4 + 1
	minTensorBytes = 8 + 1 + 4 + 8 + 4 + 8
)

// preallocCap bounds what is allocated up front from a count that passed the
// bytes-left check: a corrupt count in a multi-gigabyte model file would
// otherwise still ask for gigabytes. Real files have a few dozen keys and at
// most a few thousand tensors; beyond that the slices grow as entries parse.
const preallocCap = 4096

func (p *parser) file() (*File, error) {
	magic, err := p.bytes(4)
	if err != nil {
		return nil, p.errf("not a GGUF file: only %d bytes", len(p.data))
	}
	if string(magic) != Magic {
		return nil, p.errf("not a GGUF file: magic %q, want %q", magic, Magic)
	}
	version, err := p.u32()
	if err != nil {
		return nil, p.errf("truncated header")
	}
	switch {
	case version == 2 || version == 3:
	case version == 1:
		return nil, p.errf("GGUF version 1 is no longer supported (it used 32-bit counts); convert the model again")
	case version&0xFFFF == 0:
		// ggml's own heuristic: version 3 written big-endian reads as 0x03000000.
		return nil, p.errf("GGUF version %#x looks byte-swapped: big-endian files are not supported", version)
	default:
		return nil, p.errf("unsupported GGUF version %d (want 2 or 3)", version)
	}
	nTensors, err := p.u64()
	if err != nil {
		return nil, p.errf("truncated header")
	}
	nKV, err := p.u64()
	if err != nil {
		return nil, p.errf("truncated header")
	}
	if nKV > p.left()/minKVBytes {
		return nil, p.errf("header claims %d key-value pairs but only %d bytes follow", nKV, p.left())
	}
	if nTensors > (p.left()-nKV*minKVBytes)/minTensorBytes {
		return nil, p.errf("header claims %d tensors and %d key-value pairs but only %d bytes follow", nTensors, nKV, p.left())
	}

	f := &File{
		Path:      p.path,
		Version:   version,
		Alignment: DefaultAlignment,
		KVs:       make([]KV, 0, min(nKV, preallocCap)),
		Tensors:   make([]TensorInfo, 0, min(nTensors, preallocCap)),
		keys:      make(map[string]int, min(nKV, preallocCap)),
		tensors:   make(map[string]int, min(nTensors, preallocCap)),
	}
	for i := uint64(0); i < nKV; i++ {
		if err := p.kv(f, i); err != nil {
			return nil, err
		}
	}
	if err := p.alignment(f); err != nil {
		return nil, err
	}
	for i := uint64(0); i < nTensors; i++ {
		if err := p.tensorInfo(f, i); err != nil {
			return nil, err
		}
	}
	if err := p.layout(f); err != nil {
		return nil, err
	}
	return f, nil
}

func (p *parser) kv(f *File, i uint64) error {
	raw, err := p.rawString()
	if err != nil {
		return p.errf("key-value pair %d: reading key: %v", i, err)
	}
	key := string(raw)
	if key == "" {
		return p.errf("key-value pair %d: empty key", i)
	}
	if _, dup := f.keys[key]; dup {
		return p.errf("key %s: duplicate key", quote(key))
	}
	typ, err := p.u32()
	if err != nil {
		return p.errf("key %s: reading value type: %v", quote(key), err)
	}
	v, err := p.value(typ)
	if err != nil {
		return p.errf("key %s: %v", quote(key), err)
	}
	f.keys[key] = len(f.KVs)
	f.KVs = append(f.KVs, KV{Key: key, Value: v})
	return nil
}

// value reads one value of type typ.
func (p *parser) value(typ uint32) (any, error) {
	if typ == typeArray {
		return p.array(1)
	}
	if typ >= numTypes {
		return nil, fmt.Errorf("unknown value type %d", typ)
	}
	if typ == typeString {
		raw, err := p.rawString()
		if err != nil {
			return nil, err
		}
		return string(raw), nil
	}
	b, err := p.bytes(fixedSize[typ])
	if err != nil {
		return nil, fmt.Errorf("truncated %s value", typeName(typ))
	}
	le := binary.LittleEndian
	switch typ {
	case typeUint8:
		return b[0], nil
	case typeInt8:
		return int8(b[0]), nil
	case typeUint16:
		return le.Uint16(b), nil
	case typeInt16:
		return int16(le.Uint16(b)), nil
	case typeUint32:
		return le.Uint32(b), nil
	case typeInt32:
		return int32(le.Uint32(b)), nil
	case typeFloat32:
		return math.Float32frombits(le.Uint32(b)), nil
	case typeBool:
		return boolOf(b[0])
	case typeUint64:
		return le.Uint64(b), nil
	case typeInt64:
		return int64(le.Uint64(b)), nil
	default: // typeFloat64
		return math.Float64frombits(le.Uint64(b)), nil
	}
}

// boolOf decodes a bool byte. The spec calls anything but 0 and 1 invalid.
func boolOf(b byte) (bool, error) {
	switch b {
	case 0:
		return false, nil
	case 1:
		return true, nil
	}
	return false, fmt.Errorf("bool byte %#02x is neither 0 nor 1", b)
}

// array reads an array header (element type, count) and its elements.
// depth counts the arrays enclosing this one, itself included.
func (p *parser) array(depth int) (any, error) {
	if depth > maxArrayDepth {
		return nil, fmt.Errorf("arrays nested more than %d deep", maxArrayDepth)
	}
	elem, err := p.u32()
	if err != nil {
		return nil, fmt.Errorf("truncated array header")
	}
	n, err := p.u64()
	if err != nil {
		return nil, fmt.Errorf("truncated array header")
	}
	if elem >= numTypes {
		return nil, fmt.Errorf("array of unknown value type %d", elem)
	}
	// The least an element can take: its fixed size, a string's length, or
	// a nested array's type and count.
	least := fixedSize[elem]
	switch elem {
	case typeString:
		least = 8
	case typeArray:
		least = 4 + 8
	}
	if n > p.left()/least {
		return nil, fmt.Errorf("array of %d %s elements does not fit in the %d bytes left", n, typeName(elem), p.left())
	}
	switch elem {
	case typeString:
		return p.strings(n)
	case typeArray:
		// Grown as elements parse: each may be empty, so the count is
		// bounded only loosely by the bytes left.
		out := make([]any, 0, min(n, preallocCap))
		for i := uint64(0); i < n; i++ {
			v, err := p.array(depth + 1)
			if err != nil {
				return nil, fmt.Errorf("array element %d: %v", i, err)
			}
			out = append(out, v)
		}
		return out, nil
	}
	b, _ := p.bytes(n * least) // checked above
	le := binary.LittleEndian
	switch elem {
	case typeUint8:
		return slices.Clone(b), nil
	case typeInt8:
		return decode(b, 1, func(b []byte) int8 { return int8(b[0]) }), nil
	case typeUint16:
		return decode(b, 2, le.Uint16), nil
	case typeInt16:
		return decode(b, 2, func(b []byte) int16 { return int16(le.Uint16(b)) }), nil
	case typeUint32:
		return decode(b, 4, le.Uint32), nil
	case typeInt32:
		return decode(b, 4, func(b []byte) int32 { return int32(le.Uint32(b)) }), nil
	case typeFloat32:
		return decode(b, 4, func(b []byte) float32 { return math.Float32frombits(le.Uint32(b)) }), nil
	case typeUint64:
		return decode(b, 8, le.Uint64), nil
	case typeInt64:
		return decode(b, 8, func(b []byte) int64 { return int64(le.Uint64(b)) }), nil
	case typeFloat64:
		return decode(b, 8, func(b []byte) float64 { return math.Float64frombits(le.Uint64(b)) }), nil
	default: // typeBool
		out := make([]bool, n)
		for i, c := range b {
			v, err := boolOf(c)
			if err != nil {
				return nil, fmt.Errorf("array element %d: %v", i, err)
			}
			out[i] = v
		}
		return out, nil
	}
}

func decode[T any](b []byte, size int, get func([]byte) T) []T {
	out := make([]T, len(b)/size)
	for i := range out {
		out[i] = get(b[i*size : i*size+size])
	}
	return out
}

// strings reads n strings. A tokenizer vocabulary is tens of thousands of
// short strings laid out back to back, so they are copied out of the file in
// one allocation (length prefixes included) and sliced from it, instead of
// one allocation per token.
func (p *parser) strings(n uint64) ([]string, error) {
	start := p.off
	for i := uint64(0); i < n; i++ {
		if _, err := p.rawString(); err != nil {
			return nil, fmt.Errorf("array element %d: %v", i, err)
		}
	}
	raw := p.data[start:p.off]
	blob := string(raw)
	out := make([]string, n)
	at := uint64(0)
	for i := range out {
		l := binary.LittleEndian.Uint64(raw[at:])
		out[i] = blob[at+8 : at+8+l]
		at += 8 + l
	}
	return out, nil
}

// alignment applies general.alignment, which llama.cpp requires to be a
// uint32 power of two.
func (p *parser) alignment(f *File) error {
	v, ok := f.Get(alignmentKey)
	if !ok {
		return nil
	}
	a, ok := v.(uint32)
	if !ok {
		return p.errf("key %s: want uint32, found %s", alignmentKey, valueTypeName(v))
	}
	if a == 0 || a&(a-1) != 0 {
		return p.errf("key %s: %d is not a power of two", alignmentKey, a)
	}
	f.Alignment = int(a)
	return nil
}

func (p *parser) tensorInfo(f *File, i uint64) error {
	raw, err := p.rawString()
	if err != nil {
		return p.errf("tensor info %d: reading name: %v", i, err)
	}
	name := string(raw)
	if name == "" {
		return p.errf("tensor info %d: empty name", i)
	}
	if _, dup := f.tensors[name]; dup {
		return p.errf("tensor %s: duplicate tensor name", quote(name))
	}
	terr := func(format string, args ...any) error {
		return p.errf("tensor %s: %s", quote(name), fmt.Sprintf(format, args...))
	}
	nDims, err := p.u32()
	if err != nil {
		return terr("truncated tensor info")
	}
	if nDims == 0 || nDims > maxDims {
		return terr("%d dimensions (want 1 to %d)", nDims, maxDims)
	}
	dims := make([]uint64, nDims)
	for j := range dims {
		if dims[j], err = p.u64(); err != nil {
			return terr("truncated tensor info")
		}
	}
	typ, err := p.u32()
	if err != nil {
		return terr("truncated tensor info")
	}
	offset, err := p.u64()
	if err != nil {
		return terr("truncated tensor info")
	}
	size, err := tensorSize(dtype.Type(typ), dims)
	if err != nil {
		return terr("%v", err)
	}
	f.tensors[name] = len(f.Tensors)
	f.Tensors = append(f.Tensors, TensorInfo{Name: name, Type: dtype.Type(typ), Dims: dims, Offset: offset, Size: size})
	return nil
}

// layout places the data section after the header and checks that every
// tensor is aligned, inside the file and apart from the others. llama.cpp
// writes tensors back to back in info order, but the format only requires
// alignment, so gaps and other orders are accepted.
func (p *parser) layout(f *File) error {
	a := uint64(f.Alignment)
	start, _ := alignUp(p.off, a) // p.off <= len(data) and a <= 2^31: no overflow
	f.DataOffset = int64(start)
	if len(f.Tensors) == 0 {
		// Nothing is read from the data section; a file that ends before
		// the header's padding (some writers omit it) is still usable.
		return nil
	}
	if start > uint64(len(p.data)) {
		return p.errf("truncated: the data section starts at byte %d, past the end of the file (%d bytes)", start, len(p.data))
	}
	room := uint64(len(p.data)) - start
	for i := range f.Tensors {
		t := &f.Tensors[i]
		if t.Offset%a != 0 {
			return p.errf("tensor %s: offset %d is not a multiple of the alignment %d", quote(t.Name), t.Offset, a)
		}
		if t.Offset > room || t.Size > room-t.Offset {
			return p.errf("tensor %s: truncated: its %d bytes at data offset %d run past the end of the file (data section holds %d bytes)",
				quote(t.Name), t.Size, t.Offset, room)
		}
	}
	order := make([]int, len(f.Tensors))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(x, y int) int {
		ox, oy := f.Tensors[x].Offset, f.Tensors[y].Offset
		switch {
		case ox < oy:
			return -1
		case ox > oy:
			return 1
		}
		return x - y
	})
	for k := 1; k < len(order); k++ {
		prev, cur := &f.Tensors[order[k-1]], &f.Tensors[order[k]]
		if prev.Offset+prev.Size > cur.Offset {
			return p.errf("tensor %s: data at offset %d overlaps tensor %s at offset %d (%d bytes)",
				quote(cur.Name), cur.Offset, quote(prev.Name), prev.Offset, prev.Size)
		}
	}
	return nil
}
