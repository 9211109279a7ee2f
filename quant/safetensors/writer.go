package safetensors

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"maira/internal/atomicfile"
	"maira/internal/jsonstr"
)

// Spec declares one tensor of a file to be written.
type Spec struct {
	Name  string
	DType DType // must have a byte size (DType.Size() > 0)
	Shape []int64
}

// Writer streams a safetensors file: the header (with all offsets) first,
// then each tensor's bytes in the declared order, so no tensor has to be in
// memory whole. It writes to a temporary file in the destination's directory
// and renames it into place only in Close, after checking that every
// declared byte was written and syncing it, so a crash or an error never
// leaves a plausible-looking partial file under the final name.
type Writer struct {
	path    string
	f       *atomicfile.File
	bw      *bufio.Writer
	specs   []Spec
	ends    []int64 // ends[i]: end offset of specs[i] in the data section
	total   int64   // bytes of data declared
	written int64   // bytes of data written so far
	err     error   // first failure; sticky, fails Close
	closed  bool
}

// writeBuffer batches small Writes; large ones go straight to the file.
const writeBuffer = 1 << 20

// Create starts the file at path with the given tensors and __metadata__
// (nil or empty for none). The header is written at once; the tensors' data
// must follow through Write, in spec order, back to back.
func Create(path string, specs []Spec, metadata map[string]string) (*Writer, error) {
	header, ends, err := encodeHeader(path, specs, metadata)
	if err != nil {
		return nil, err
	}
	w := &Writer{path: path, specs: append([]Spec(nil), specs...), ends: ends}
	if len(ends) > 0 {
		w.total = ends[len(ends)-1]
	}
	f, err := atomicfile.Create(path)
	if err != nil {
		return nil, err
	}
	w.f = f
	w.bw = bufio.NewWriterSize(f, writeBuffer)
	var n [8]byte
	binary.LittleEndian.PutUint64(n[:], uint64(len(header)))
	w.bw.Write(n[:]) // a failure here recurs, and is caught, on the next Write
	if _, err := w.bw.Write(header); err != nil {
		w.Abort()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return w, nil
}

// encodeHeader validates the specs and returns the header JSON and the end
// offset of each tensor's data. The header is as Hugging Face's Rust library
// writes it: compact, the __metadata__ first, then the tensors in data
// order, each as {"dtype","shape","data_offsets"}, padded with spaces to a
// multiple of 8 bytes so that the data section starts 8-byte aligned.
func encodeHeader(path string, specs []Spec, metadata map[string]string) (header []byte, ends []int64, err error) {
	var b strings.Builder
	b.WriteByte('{')
	if len(metadata) > 0 {
		keys := make([]string, 0, len(metadata))
		for k, v := range metadata {
			if !utf8.ValidString(k) || !utf8.ValidString(v) {
				return nil, nil, fmt.Errorf("%s: %s key %q: not valid UTF-8", path, metadataKey, k)
			}
			keys = append(keys, k)
		}
		sort.Strings(keys)
		b.WriteString(`"` + metadataKey + `":{`)
		for i, k := range keys {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(jsonstr.Quote(k))
			b.WriteByte(':')
			b.WriteString(jsonstr.Quote(metadata[k]))
		}
		b.WriteByte('}')
		if len(specs) > 0 {
			b.WriteByte(',')
		}
	}
	seen := map[string]bool{}
	var off int64
	ends = make([]int64, len(specs))
	for i, s := range specs {
		fail := func(format string, args ...any) error {
			return fmt.Errorf("%s: tensor %s: %s", path, printName(s.Name), fmt.Sprintf(format, args...))
		}
		switch {
		case s.Name == metadataKey:
			return nil, nil, fail("name is reserved for the header's metadata")
		case !utf8.ValidString(s.Name):
			return nil, nil, fail("name is not valid UTF-8")
		case seen[s.Name]:
			return nil, nil, fail("declared twice")
		}
		seen[s.Name] = true
		size := s.DType.Size()
		if size == 0 {
			return nil, nil, fail("dtype %q has no known byte size", s.DType)
		}
		for _, d := range s.Shape {
			if d < 0 {
				return nil, nil, fail("shape %v has a negative dimension", s.Shape)
			}
		}
		elems, err := numElements(s.Shape)
		if err != nil {
			return nil, nil, fail("%v", err)
		}
		hi, n := bits.Mul64(uint64(elems), uint64(size))
		if hi != 0 || n > uint64(math.MaxInt64-off) {
			return nil, nil, fail("%d elements of %s overflow the file's size", elems, s.DType)
		}
		begin := off
		off += int64(n)
		ends[i] = off

		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(jsonstr.Quote(s.Name))
		b.WriteString(`:{"dtype":`)
		b.WriteString(jsonstr.Quote(string(s.DType)))
		b.WriteString(`,"shape":[`)
		for j, d := range s.Shape {
			if j > 0 {
				b.WriteByte(',')
			}
			b.WriteString(strconv.FormatInt(d, 10))
		}
		b.WriteString(`],"data_offsets":[`)
		b.WriteString(strconv.FormatInt(begin, 10))
		b.WriteByte(',')
		b.WriteString(strconv.FormatInt(off, 10))
		b.WriteString("]}")
	}
	b.WriteByte('}')
	for b.Len()%8 != 0 {
		b.WriteByte(' ')
	}
	if b.Len() > maxHeaderSize {
		return nil, nil, fmt.Errorf("%s: header of %d bytes exceeds the %d readers accept", path, b.Len(), maxHeaderSize)
	}
	return []byte(b.String()), ends, nil
}

// Write appends p to the data section. Tensors' bytes go back to back in
// spec order; p may span tensors or hold part of one. Writing more than was
// declared is an error that also fails Close, since it means the caller's
// idea of the layout differs from the header already written.
func (w *Writer) Write(p []byte) (int, error) {
	if w.closed {
		return 0, fmt.Errorf("%s: write after Close or Abort", w.path)
	}
	if w.err != nil {
		return 0, w.err
	}
	if int64(len(p)) > w.total-w.written {
		w.err = fmt.Errorf("%s: write of %d bytes at data offset %d goes past the %d bytes declared", w.path, len(p), w.written, w.total)
		return 0, w.err
	}
	n, err := w.bw.Write(p)
	w.written += int64(n)
	if err != nil {
		w.err = fmt.Errorf("%s: %w", w.path, err)
		return n, w.err
	}
	return n, nil
}

// Close checks that every declared byte was written, syncs the file and
// renames it into place. On any failure it removes the temporary file and
// returns the error; the destination is then untouched.
func (w *Writer) Close() error {
	if w.closed {
		return fmt.Errorf("%s: Close called twice", w.path)
	}
	w.closed = true
	err := w.err
	if err == nil && w.written != w.total {
		i := sort.Search(len(w.ends), func(i int) bool { return w.ends[i] > w.written })
		err = fmt.Errorf("%s: tensor %s: short data: %d of %d declared bytes written", w.path, printName(w.specs[i].Name), w.written, w.total)
	}
	if err == nil {
		if err = w.bw.Flush(); err != nil {
			err = fmt.Errorf("%s: %w", w.path, err)
		}
	}
	if err != nil {
		w.f.Abort()
		return err
	}
	return w.f.Commit()
}

// Abort abandons the file: the temporary file is removed and the
// destination is untouched. It is safe after Close (it then does nothing), so
// callers may defer it.
func (w *Writer) Abort() {
	if w.closed {
		return
	}
	w.closed = true
	w.f.Abort()
}

// WriteIndex writes model.safetensors.index.json in dir, as transformers'
// save_pretrained does (json.dumps(index, indent=2, sort_keys=True) plus a
// newline): {"metadata": {"total_size": N}, "weight_map": {tensor: shard}}.
// It writes a temporary file and renames it into place.
func WriteIndex(dir string, weightMap map[string]string, totalSize int64) error {
	path := filepath.Join(dir, indexName)
	data, err := formatIndex(weightMap, totalSize)
	if err != nil {
		return fmt.Errorf("%s: %v", path, err)
	}
	return atomicfile.WriteFile(path, data)
}

// formatIndex returns the bytes of an index file; see WriteIndex.
func formatIndex(weightMap map[string]string, totalSize int64) ([]byte, error) {
	if len(weightMap) == 0 {
		return nil, errors.New("empty weight map")
	}
	if totalSize < 0 {
		return nil, fmt.Errorf("negative total size %d", totalSize)
	}
	names := make([]string, 0, len(weightMap))
	for name, shard := range weightMap {
		if !utf8.ValidString(name) {
			return nil, fmt.Errorf("tensor %q: name is not valid UTF-8", name)
		}
		if err := checkShardName(shard); err != nil {
			return nil, fmt.Errorf("tensor %s: %v", printName(name), err)
		}
		if !utf8.ValidString(shard) {
			return nil, fmt.Errorf("tensor %s: shard name %q is not valid UTF-8", printName(name), shard)
		}
		names = append(names, name)
	}
	sort.Strings(names)
	var b strings.Builder
	b.WriteString("{\n  \"metadata\": {\n    \"total_size\": ")
	b.WriteString(strconv.FormatInt(totalSize, 10))
	b.WriteString("\n  },\n  \"weight_map\": {\n")
	for i, name := range names {
		b.WriteString("    ")
		writePythonString(&b, name)
		b.WriteString(": ")
		writePythonString(&b, weightMap[name])
		if i < len(names)-1 {
			b.WriteByte(',')
		}
		b.WriteByte('\n')
	}
	b.WriteString("  }\n}\n")
	return []byte(b.String()), nil
}

// writePythonString writes s as Python's json.dumps does by default
// (ensure_ascii): anything outside printable ASCII becomes \uXXXX, with
// surrogate pairs above the BMP.
func writePythonString(b *strings.Builder, s string) {
	const hex = "0123456789abcdef"
	u := func(r rune) {
		b.WriteString(`\u`)
		b.WriteByte(hex[r>>12&15])
		b.WriteByte(hex[r>>8&15])
		b.WriteByte(hex[r>>4&15])
		b.WriteByte(hex[r&15])
	}
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"':
			b.WriteString(`\"`)
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\b':
			b.WriteString(`\b`)
		case r == '\f':
			b.WriteString(`\f`)
		case r >= 0x20 && r < 0x7f:
			b.WriteRune(r)
		case r > 0xffff:
			r -= 0x10000
			u(0xd800 + r>>10)
			u(0xdc00 + r&0x3ff)
		default:
			u(r)
		}
	}
	b.WriteByte('"')
}
