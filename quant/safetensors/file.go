// Package safetensors reads and writes Hugging Face safetensors files and
// sharded checkpoints (model.safetensors.index.json), the form MAIRA-2's
// weights are published in.
//
// A file is an 8-byte little-endian header length N, N bytes of JSON
// ({"name": {"dtype", "shape", "data_offsets"}, "__metadata__": {...}}), then
// the data section, to which data_offsets are relative. Files are read
// through a read-only memory map: Tensor.Data is a view into it, not a copy,
// so a 30 GB float32 checkpoint costs no heap, and Set.Release drops a
// tensor's pages once it has been streamed.
//
// The reader validates everything a damaged or hostile file could get wrong
// (lengths, JSON shape, duplicate names, offsets, overlaps, overflow) and
// returns one-line errors "PATH: tensor NAME: reason"; it never panics on bad
// input. It accepts what Hugging Face's own library writes and is a little
// more lenient in two places: gaps between tensors and trailing bytes after
// the last one are allowed, and dtypes it does not know are kept (only
// Float32 refuses them).
//
// Writer streams a file in the layout Hugging Face's Rust library produces
// (compact header padded with spaces to a multiple of 8 bytes), so a
// converter never holds a whole tensor in memory.
package safetensors

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/bits"
	"sort"
	"strconv"
	"unicode/utf8"

	"maira/quant/mmap"
)

// maxHeaderSize is the largest header accepted, as in Hugging Face's reader:
// a real header is kilobytes, so anything past this is a damaged length.
const maxHeaderSize = 100_000_000

// metadataKey is the header key that holds free-form string metadata rather
// than a tensor.
const metadataKey = "__metadata__"

// File is one safetensors file.
type File struct {
	Path     string
	Metadata map[string]string // the header's __metadata__; empty if absent
	Tensors  []*Tensor         // in data-offset order

	region *mmap.Region // nil for a File made by Parse
}

// OpenFile maps the file at path and parses it. Close it to unmap.
func OpenFile(path string) (*File, error) {
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

// Close unmaps the file. The Data of its tensors is set to nil, so a tensor
// used after Close gives an error instead of a fault.
func (f *File) Close() error {
	for _, t := range f.Tensors {
		t.Data = nil
	}
	if f.region == nil {
		return nil
	}
	err := f.region.Close()
	f.region = nil
	if err != nil {
		return fmt.Errorf("%s: %w", f.Path, err)
	}
	return nil
}

// Parse validates the safetensors file held in data and returns its tensors
// as views into data. path is used only in error messages.
func Parse(data []byte, path string) (*File, error) {
	if len(data) < 8 {
		return nil, fmt.Errorf("%s: file of %d bytes is shorter than the 8-byte header length", path, len(data))
	}
	n := binary.LittleEndian.Uint64(data)
	if n > maxHeaderSize {
		return nil, fmt.Errorf("%s: header length %d is absurd (limit %d); not a safetensors file?", path, n, maxHeaderSize)
	}
	if n > uint64(len(data)-8) {
		return nil, fmt.Errorf("%s: header length %d is beyond the file of %d bytes (truncated)", path, n, len(data))
	}
	header := data[8 : 8+n]
	body := data[8+n:]
	if !utf8.Valid(header) {
		return nil, fmt.Errorf("%s: header is not valid UTF-8", path)
	}

	f := &File{Path: path, Metadata: map[string]string{}}
	type entry struct {
		t          *Tensor
		begin, end int64
	}
	var entries []entry
	dec := newDecoder(header)
	err := walkObject(dec, "header", func(key string) error {
		if key == metadataKey {
			if err := readMetadata(dec, f.Metadata); err != nil {
				return fmt.Errorf("%s: %v", metadataKey, err)
			}
			return nil
		}
		t := &Tensor{Name: key, File: path, file: f}
		begin, end, err := readEntry(dec, t)
		if err != nil {
			return fmt.Errorf("tensor %s: %v", printName(key), err)
		}
		entries = append(entries, entry{t, begin, end})
		return nil
	})
	if err == nil {
		err = expectEOF(dec)
	}
	var dup duplicateKeyError
	if errors.As(err, &dup) {
		if string(dup) == metadataKey {
			return nil, fmt.Errorf("%s: %s appears twice in the header", path, metadataKey)
		}
		return nil, fmt.Errorf("%s: tensor %s: duplicate name in the header", path, printName(string(dup)))
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}

	bodyLen := int64(len(body))
	for _, e := range entries {
		t := e.t
		if e.end > bodyLen {
			return nil, fmt.Errorf("%s: tensor %s: data ends at byte %d of a data section of %d bytes (truncated)", path, printName(t.Name), e.end, bodyLen)
		}
		if size := t.DType.Size(); size > 0 {
			elems, err := numElements(t.Shape)
			if err != nil {
				return nil, fmt.Errorf("%s: tensor %s: %v", path, printName(t.Name), err)
			}
			hi, lo := bits.Mul64(uint64(elems), uint64(size))
			if hi != 0 || lo != uint64(e.end-e.begin) {
				return nil, fmt.Errorf("%s: tensor %s: data_offsets [%d, %d) hold %d bytes, but %d %s elements of shape %v take %d×%d",
					path, printName(t.Name), e.begin, e.end, e.end-e.begin, elems, printName(string(t.DType)), t.Shape, elems, size)
			}
		}
		t.off = 8 + int64(n) + e.begin
		t.Data = body[e.begin:e.end:e.end]
	}

	sort.Slice(entries, func(i, j int) bool {
		a, b := entries[i], entries[j]
		if a.begin != b.begin {
			return a.begin < b.begin
		}
		if a.end != b.end {
			return a.end < b.end
		}
		return a.t.Name < b.t.Name
	})
	// Empty tensors occupy no bytes and so overlap nothing, wherever their
	// offsets point.
	var prev *entry
	for i := range entries {
		e := &entries[i]
		if e.begin == e.end {
			continue
		}
		if prev != nil && e.begin < prev.end {
			return nil, fmt.Errorf("%s: tensor %s: data [%d, %d) overlaps tensor %s at [%d, %d)",
				path, printName(e.t.Name), e.begin, e.end, printName(prev.t.Name), prev.begin, prev.end)
		}
		prev = e
	}
	f.Tensors = make([]*Tensor, len(entries))
	for i, e := range entries {
		f.Tensors[i] = e.t
	}
	return f, nil
}

// printName returns a name read from a file as it stands when it prints
// cleanly, or quoted when it is empty or holds characters (a newline, a
// control byte) that would break a one-line error message.
func printName(s string) string {
	if s == "" {
		return `""`
	}
	for _, r := range s {
		if r == utf8.RuneError || !strconv.IsPrint(r) {
			return strconv.Quote(s)
		}
	}
	return s
}

// numElements multiplies out a shape, failing on overflow of int64.
func numElements(shape []int64) (int64, error) {
	n := uint64(1)
	for _, d := range shape {
		hi, lo := bits.Mul64(n, uint64(d))
		if hi != 0 || lo > math.MaxInt64 {
			return 0, fmt.Errorf("element count of shape %v overflows", shape)
		}
		n = lo
	}
	return int64(n), nil
}

// readEntry reads one tensor's {"dtype", "shape", "data_offsets"} object into
// t and returns its offsets. Keys other than those three are skipped, as
// serde does for Hugging Face's reader.
func readEntry(dec *json.Decoder, t *Tensor) (begin, end int64, err error) {
	var haveDType, haveShape, haveOffsets bool
	err = walkObject(dec, "entry", func(key string) error {
		switch key {
		case "dtype":
			tok, err := dec.Token()
			if err != nil {
				return jsonError(err)
			}
			s, ok := tok.(string)
			if !ok {
				return fmt.Errorf("dtype is %s, not a string", describe(tok))
			}
			t.DType = DType(s)
			haveDType = true
		case "shape":
			shape, err := readInts(dec, "shape", -1)
			if err != nil {
				return err
			}
			for _, d := range shape {
				if d < 0 {
					return fmt.Errorf("shape %v has a negative dimension", shape)
				}
			}
			t.Shape = shape
			haveShape = true
		case "data_offsets":
			offs, err := readInts(dec, "data_offsets", 2)
			if err != nil {
				return err
			}
			begin, end = offs[0], offs[1]
			if begin < 0 || end < begin {
				return fmt.Errorf("data_offsets [%d, %d] are not 0 <= begin <= end", begin, end)
			}
			haveOffsets = true
		default:
			return skipValue(dec)
		}
		return nil
	})
	if err != nil {
		return 0, 0, err
	}
	switch {
	case !haveDType:
		return 0, 0, errors.New("missing dtype")
	case !haveShape:
		return 0, 0, errors.New("missing shape")
	case !haveOffsets:
		return 0, 0, errors.New("missing data_offsets")
	}
	if _, err := numElements(t.Shape); err != nil {
		return 0, 0, err
	}
	if t.Shape == nil {
		t.Shape = []int64{}
	}
	return begin, end, nil
}

// readMetadata reads the __metadata__ object, whose values must be strings
// (Hugging Face's reader refuses anything else). null counts as absent.
func readMetadata(dec *json.Decoder, m map[string]string) error {
	tok, err := dec.Token()
	if err != nil {
		return jsonError(err)
	}
	if tok == nil {
		return nil
	}
	return walkObjectBody(dec, tok, "value", func(key string) error {
		tok, err := dec.Token()
		if err != nil {
			return jsonError(err)
		}
		s, ok := tok.(string)
		if !ok {
			return fmt.Errorf("key %q: value is %s, not a string", key, describe(tok))
		}
		m[key] = s
		return nil
	})
}

// newDecoder returns a JSON decoder over b that keeps numbers as text, so
// offsets above 2^53 are neither rounded nor mistaken for valid.
func newDecoder(b []byte) *json.Decoder {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	return dec
}

// walkObject reads one JSON object from dec, calling fn with each key while
// dec sits before that key's value; fn must consume the value. It is a token
// walk rather than json.Unmarshal because a duplicate key is an error here
// (two tensors of one name), and encoding/json silently keeps the last.
func walkObject(dec *json.Decoder, what string, fn func(key string) error) error {
	tok, err := dec.Token()
	if err != nil {
		return jsonError(err)
	}
	return walkObjectBody(dec, tok, what, fn)
}

// walkObjectBody is walkObject after its first token, tok, has been read.
func walkObjectBody(dec *json.Decoder, tok json.Token, what string, fn func(key string) error) error {
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return fmt.Errorf("%s is %s, not an object", what, describe(tok))
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return jsonError(err)
		}
		key, ok := tok.(string)
		if !ok {
			return fmt.Errorf("object key is %s", describe(tok))
		}
		if seen[key] {
			return duplicateKeyError(key)
		}
		seen[key] = true
		if err := fn(key); err != nil {
			return err
		}
	}
	if _, err := dec.Token(); err != nil {
		return jsonError(err)
	}
	return nil
}

// duplicateKeyError is a key seen twice in one JSON object.
type duplicateKeyError string

func (e duplicateKeyError) Error() string { return fmt.Sprintf("duplicate key %q", string(e)) }

// readInts reads a JSON array of non-fractional integers that fit int64;
// want >= 0 demands exactly that many.
func readInts(dec *json.Decoder, what string, want int) ([]int64, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, jsonError(err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '[' {
		return nil, fmt.Errorf("%s is %s, not an array", what, describe(tok))
	}
	var out []int64
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, jsonError(err)
		}
		num, ok := tok.(json.Number)
		if !ok {
			return nil, fmt.Errorf("%s holds %s, not an integer", what, describe(tok))
		}
		v, err := strconv.ParseInt(string(num), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%s holds %s, not an integer that fits 64 bits", what, num)
		}
		out = append(out, v)
	}
	if _, err := dec.Token(); err != nil {
		return nil, jsonError(err)
	}
	if want >= 0 && len(out) != want {
		return nil, fmt.Errorf("%s has %d values, want %d", what, len(out), want)
	}
	if out == nil {
		out = []int64{}
	}
	return out, nil
}

// skipValue consumes one JSON value of any kind.
func skipValue(dec *json.Decoder) error {
	depth := 0
	for {
		tok, err := dec.Token()
		if err != nil {
			return jsonError(err)
		}
		if d, ok := tok.(json.Delim); ok {
			switch d {
			case '{', '[':
				depth++
			default:
				depth--
			}
		}
		if depth == 0 {
			return nil
		}
	}
}

// expectEOF checks that nothing but whitespace follows the top-level object
// (Hugging Face pads the header with spaces).
func expectEOF(dec *json.Decoder) error {
	tok, err := dec.Token()
	if err == io.EOF {
		return nil
	}
	if err != nil {
		return jsonError(err)
	}
	return fmt.Errorf("extra data after the top-level object (%s)", describe(tok))
}

// jsonError words a decoder error for a one-line message.
func jsonError(err error) error {
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return errors.New("invalid JSON: unexpected end")
	}
	return fmt.Errorf("invalid JSON: %v", err)
}

// describe names a JSON token's kind for error messages.
func describe(tok json.Token) string {
	switch v := tok.(type) {
	case json.Delim:
		switch v {
		case '{':
			return "an object"
		case '[':
			return "an array"
		}
		return fmt.Sprintf("%q", string(v))
	case string:
		return "a string"
	case json.Number:
		return "a number"
	case bool:
		return "a boolean"
	case nil:
		return "null"
	}
	return fmt.Sprintf("%T", tok)
}
