package gguf

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"math"

	"maira/internal/atomicfile"
	"maira/quant/dtype"
)

// bufferSize is the Writer's buffer: large writes keep a converter streaming
// tens of gigabytes from being bound by system calls.
const bufferSize = 4 << 20

// maxAlignment bounds SetAlignment: general.alignment is a uint32 and no
// reader needs more than a huge page.
const maxAlignment = 1 << 30

// Writer streams a GGUF v3 file: declare every KV and tensor first, then
// write tensor data in declared order; a 30 GB source never has to be in
// memory. It writes to a temporary file in the destination's directory (name
// starting with "." and ending ".tmp" so watchers ignore it) and renames it
// into place only in Close, after checking every tensor was written in full,
// fsyncing the file, and fsyncing the directory. On any error the temp file
// is removed; Abort removes it explicitly.
//
// Every error is one line naming the destination path. After the first error
// the Writer is dead: later calls return that error again.
type Writer struct {
	path string // destination
	f    *atomicfile.File
	bw   *bufio.Writer

	alignment int
	kvs       []encodedKV
	keys      map[string]bool
	tensors   []declaredTensor
	names     map[string]bool

	started bool
	done    bool  // closed, aborted or failed: the temp file is gone
	err     error // the first error, returned by every later call

	// Streaming state, after Start.
	cur     int    // tensor being written
	curDone uint64 // bytes of it written
}

type encodedKV struct {
	key string
	enc []byte // key, type and value as they go in the file; nil for general.alignment
}

type declaredTensor struct {
	name string
	typ  dtype.Type
	dims []uint64
	size uint64
}

// Create starts a GGUF file that will appear at path when Close succeeds.
// The temporary file is created now, so a directory that cannot be written
// fails here rather than after the header is planned.
func Create(path string) (*Writer, error) {
	f, err := atomicfile.Create(path)
	if err != nil {
		return nil, err
	}
	return &Writer{
		path:      path,
		f:         f,
		bw:        bufio.NewWriterSize(f, bufferSize),
		alignment: DefaultAlignment,
		keys:      map[string]bool{},
		names:     map[string]bool{},
	}, nil
}

// errf returns an error naming the destination, without killing the Writer:
// a refused declaration leaves the others intact.
func (w *Writer) errf(format string, args ...any) error {
	return fmt.Errorf("%s: %s", w.path, fmt.Sprintf(format, args...))
}

// fail records err as the Writer's error, removes the temporary file and
// returns err.
func (w *Writer) fail(err error) error {
	if w.err == nil {
		w.err = err
	}
	w.discard()
	return w.err
}

// ioFail is fail for an I/O error: "PATH: op: errno".
func (w *Writer) ioFail(op string, err error) error {
	return w.fail(fmt.Errorf("%s: %s: %w", w.path, op, err))
}

func (w *Writer) discard() {
	if w.done {
		return
	}
	w.done = true
	w.f.Abort()
}

// usable returns the error that stops a declaration: a dead Writer, or one
// whose header is already written.
func (w *Writer) usable(what string) error {
	if w.err != nil {
		return w.err
	}
	if w.done {
		return w.errf("%s after Close or Abort", what)
	}
	if w.started {
		return w.errf("%s after the header was written", what)
	}
	return nil
}

// SetAlignment sets the alignment of the data section and of every tensor.
// It must be a power of two and be set before Start; a value other than 32
// is recorded as general.alignment.
func (w *Writer) SetAlignment(n int) error {
	if err := w.usable("SetAlignment"); err != nil {
		return err
	}
	if n <= 0 || n&(n-1) != 0 || n > maxAlignment {
		return w.errf("alignment %d is not a power of two from 1 to %d", n, maxAlignment)
	}
	w.alignment = n
	return nil
}

// AddKV declares a metadata entry. value must be one of the types listed on
// KV other than []any: llama.cpp cannot read nested arrays, so they are not
// written. Duplicate and empty keys are refused. general.alignment may be
// given here as a uint32 power of two; it then acts as SetAlignment.
func (w *Writer) AddKV(key string, value any) error {
	if err := w.usable("AddKV"); err != nil {
		return err
	}
	if key == "" {
		return w.errf("empty key")
	}
	if w.keys[key] {
		return w.errf("key %s: duplicate key", quote(key))
	}
	if key == alignmentKey {
		a, ok := value.(uint32)
		if !ok {
			return w.errf("key %s: want uint32, got %s", alignmentKey, valueTypeName(value))
		}
		if err := w.SetAlignment(int(a)); err != nil {
			return err
		}
		w.keys[key] = true
		w.kvs = append(w.kvs, encodedKV{key: key})
		return nil
	}
	enc := appendString(nil, key)
	enc, err := appendValue(enc, value)
	if err != nil {
		return w.errf("key %s: %v", quote(key), err)
	}
	w.keys[key] = true
	w.kvs = append(w.kvs, encodedKV{key: key, enc: enc})
	return nil
}

// AddTensor declares a tensor of type typ and shape dims (ggml order:
// dims[0] is the row length, which must be a whole number of typ's blocks).
// Its data is written later, in declaration order.
func (w *Writer) AddTensor(name string, typ dtype.Type, dims []uint64) error {
	if err := w.usable("AddTensor"); err != nil {
		return err
	}
	if name == "" {
		return w.errf("empty tensor name")
	}
	if len(name) > maxNameBytes {
		return w.errf("tensor %s: name of %d bytes is longer than llama.cpp's limit of %d", quote(name), len(name), maxNameBytes)
	}
	if w.names[name] {
		return w.errf("tensor %s: duplicate tensor name", quote(name))
	}
	size, err := tensorSize(typ, dims)
	if err != nil {
		return w.errf("tensor %s: %v", quote(name), err)
	}
	w.names[name] = true
	w.tensors = append(w.tensors, declaredTensor{name: name, typ: typ, dims: append([]uint64(nil), dims...), size: size})
	return nil
}

// plan returns the header length before padding, the padded offset of every
// tensor in the data section, and the data section's padded length.
func (w *Writer) plan() (header uint64, offsets []uint64, data uint64, err error) {
	const alignKVBytes = 8 + uint64(len(alignmentKey)) + 4 + 4
	header = 4 + 4 + 8 + 8
	for _, kv := range w.kvs {
		if kv.enc == nil {
			header += alignKVBytes
		}
		header += uint64(len(kv.enc))
	}
	if w.writesAlignmentKV() {
		header += alignKVBytes
	}
	a := uint64(w.alignment)
	offsets = make([]uint64, len(w.tensors))
	for i, t := range w.tensors {
		header += 8 + uint64(len(t.name)) + 4 + 8*uint64(len(t.dims)) + 4 + 8
		offsets[i] = data
		padded, ok := alignUp(t.size, a)
		if !ok || padded > math.MaxInt64-data {
			return 0, nil, 0, w.errf("tensor data is larger than 2^63 bytes")
		}
		data += padded
	}
	return header, offsets, data, nil
}

// writesAlignmentKV reports whether general.alignment goes in the file as an
// entry of its own (not given with AddKV, and not the default).
func (w *Writer) writesAlignmentKV() bool {
	return !w.keys[alignmentKey] && w.alignment != DefaultAlignment
}

// HeaderSize returns the bytes before the data section (header, metadata,
// tensor infos and padding) as declared so far, for size estimates.
func (w *Writer) HeaderSize() (int64, error) {
	if w.err != nil {
		return 0, w.err
	}
	h, _, data, err := w.plan()
	if err != nil {
		return 0, err
	}
	padded, _ := alignUp(h, uint64(w.alignment))
	if padded > math.MaxInt64-data {
		return 0, w.errf("file would be larger than 2^63 bytes")
	}
	return int64(padded), nil
}

// TotalSize returns the size the file will have, as declared so far.
func (w *Writer) TotalSize() (int64, error) {
	h, err := w.HeaderSize()
	if err != nil {
		return 0, err
	}
	_, _, data, _ := w.plan()
	return h + int64(data), nil
}

// Start writes the header from the declarations; no KV or tensor can be
// added afterwards. The first Write calls it when it was not called.
func (w *Writer) Start() error {
	if err := w.usable("Start"); err != nil {
		return err
	}
	if _, err := w.HeaderSize(); err != nil {
		return w.fail(err)
	}
	h, offsets, _, _ := w.plan()
	le := binary.LittleEndian
	b := make([]byte, 0, 64<<10)
	b = append(b, Magic...)
	b = le.AppendUint32(b, Version)
	b = le.AppendUint64(b, uint64(len(w.tensors)))
	nKV := len(w.kvs)
	if w.writesAlignmentKV() {
		nKV++
	}
	b = le.AppendUint64(b, uint64(nKV))
	w.started = true
	flush := func() error {
		_, err := w.bw.Write(b)
		b = b[:0]
		return err
	}
	alignKV := func() {
		b = appendString(b, alignmentKey)
		b = le.AppendUint32(b, typeUint32)
		b = le.AppendUint32(b, uint32(w.alignment))
	}
	for _, kv := range w.kvs {
		if kv.enc == nil {
			alignKV()
		} else if len(kv.enc) > cap(b)-len(b) {
			// A tokenizer's vocabulary is megabytes: write it as it stands.
			if err := flush(); err != nil {
				return w.ioFail("writing header", err)
			}
			if _, err := w.bw.Write(kv.enc); err != nil {
				return w.ioFail("writing header", err)
			}
		} else {
			b = append(b, kv.enc...)
		}
	}
	if w.writesAlignmentKV() {
		alignKV()
	}
	for i, t := range w.tensors {
		b = appendString(b, t.name)
		b = le.AppendUint32(b, uint32(len(t.dims)))
		for _, d := range t.dims {
			b = le.AppendUint64(b, d)
		}
		b = le.AppendUint32(b, uint32(t.typ))
		b = le.AppendUint64(b, offsets[i])
	}
	if err := flush(); err != nil {
		return w.ioFail("writing header", err)
	}
	if err := w.pad(h); err != nil {
		return w.ioFail("writing header", err)
	}
	return nil
}

var zeros [4096]byte

// pad writes the zeros that take n written bytes to the next multiple of the
// alignment.
func (w *Writer) pad(n uint64) error {
	padded, _ := alignUp(n, uint64(w.alignment))
	for left := padded - n; left > 0; {
		k := min(left, uint64(len(zeros)))
		if _, err := w.bw.Write(zeros[:k]); err != nil {
			return err
		}
		left -= k
	}
	return nil
}

// Write appends tensor data: the bytes of the declared tensors back to back,
// in declared order, in pieces of any size. The padding between tensors is
// inserted automatically. Writing more than the declared total is an error
// that kills the Writer.
func (w *Writer) Write(p []byte) (int, error) {
	if !w.started {
		if err := w.Start(); err != nil {
			return 0, err
		}
	}
	if w.err != nil {
		return 0, w.err
	}
	if w.done {
		return 0, w.errf("Write after Close or Abort")
	}
	left := uint64(0)
	for i := w.cur; i < len(w.tensors); i++ {
		left += w.tensors[i].size
	}
	left -= w.curDone
	if uint64(len(p)) > left {
		return 0, w.fail(w.errf("write of %d bytes goes past the declared tensor data (%d bytes left)", len(p), left))
	}
	n := 0
	for len(p) > 0 {
		t := &w.tensors[w.cur]
		k := min(uint64(len(p)), t.size-w.curDone)
		m, err := w.bw.Write(p[:k])
		n += m
		if err != nil {
			return n, w.ioFail("writing tensor "+quote(t.name), err)
		}
		p = p[k:]
		w.curDone += k
		if w.curDone == t.size {
			if err := w.pad(t.size); err != nil {
				return n, w.ioFail("writing tensor "+quote(t.name), err)
			}
			w.cur++
			w.curDone = 0
		}
	}
	return n, nil
}

// Close finishes the file: it checks that every declared tensor was written
// in full, flushes, fsyncs the file, renames it into place and fsyncs the
// directory, so that after a crash the destination holds either the old file
// or the whole new one. On error nothing is left at the destination or in
// the temporary file.
func (w *Writer) Close() error {
	if !w.started && !w.done {
		if err := w.Start(); err != nil {
			return err
		}
	}
	if w.err != nil {
		return w.err
	}
	if w.done {
		return w.errf("Close after Close or Abort")
	}
	if w.cur < len(w.tensors) {
		t := w.tensors[w.cur]
		msg := fmt.Sprintf("tensor %s: only %d of %d bytes written", quote(t.name), w.curDone, t.size)
		if more := len(w.tensors) - w.cur - 1; more > 0 {
			msg += fmt.Sprintf(" (and %d more tensors not written)", more)
		}
		return w.fail(w.errf("%s", msg))
	}
	if err := w.bw.Flush(); err != nil {
		return w.ioFail("writing", err)
	}
	w.done = true // Commit cleans up after itself on failure
	if err := w.f.Commit(); err != nil {
		w.err = err
		return err
	}
	return nil
}

// Abort stops writing and removes the temporary file. It does nothing after
// a successful Close, so it is safe to defer.
func (w *Writer) Abort() {
	if w.done {
		return
	}
	if w.err == nil {
		w.err = w.errf("aborted")
	}
	w.discard()
}

// appendString appends a GGUF string: u64 length, then the bytes.
func appendString(b []byte, s string) []byte {
	b = binary.LittleEndian.AppendUint64(b, uint64(len(s)))
	return append(b, s...)
}

// appendValue appends the type and encoding of v.
func appendValue(b []byte, v any) ([]byte, error) {
	le := binary.LittleEndian
	u32 := func(t uint32) { b = le.AppendUint32(b, t) }
	arr := func(elem uint32, n int) {
		u32(typeArray)
		u32(elem)
		b = le.AppendUint64(b, uint64(n))
	}
	switch x := v.(type) {
	case uint8:
		u32(typeUint8)
		b = append(b, x)
	case int8:
		u32(typeInt8)
		b = append(b, byte(x))
	case uint16:
		u32(typeUint16)
		b = le.AppendUint16(b, x)
	case int16:
		u32(typeInt16)
		b = le.AppendUint16(b, uint16(x))
	case uint32:
		u32(typeUint32)
		b = le.AppendUint32(b, x)
	case int32:
		u32(typeInt32)
		b = le.AppendUint32(b, uint32(x))
	case uint64:
		u32(typeUint64)
		b = le.AppendUint64(b, x)
	case int64:
		u32(typeInt64)
		b = le.AppendUint64(b, uint64(x))
	case float32:
		u32(typeFloat32)
		b = le.AppendUint32(b, math.Float32bits(x))
	case float64:
		u32(typeFloat64)
		b = le.AppendUint64(b, math.Float64bits(x))
	case bool:
		u32(typeBool)
		b = append(b, boolByte(x))
	case string:
		u32(typeString)
		b = appendString(b, x)
	case []uint8:
		arr(typeUint8, len(x))
		b = append(b, x...)
	case []int8:
		arr(typeInt8, len(x))
		for _, e := range x {
			b = append(b, byte(e))
		}
	case []uint16:
		arr(typeUint16, len(x))
		for _, e := range x {
			b = le.AppendUint16(b, e)
		}
	case []int16:
		arr(typeInt16, len(x))
		for _, e := range x {
			b = le.AppendUint16(b, uint16(e))
		}
	case []uint32:
		arr(typeUint32, len(x))
		for _, e := range x {
			b = le.AppendUint32(b, e)
		}
	case []int32:
		arr(typeInt32, len(x))
		for _, e := range x {
			b = le.AppendUint32(b, uint32(e))
		}
	case []uint64:
		arr(typeUint64, len(x))
		for _, e := range x {
			b = le.AppendUint64(b, e)
		}
	case []int64:
		arr(typeInt64, len(x))
		for _, e := range x {
			b = le.AppendUint64(b, uint64(e))
		}
	case []float32:
		arr(typeFloat32, len(x))
		for _, e := range x {
			b = le.AppendUint32(b, math.Float32bits(e))
		}
	case []float64:
		arr(typeFloat64, len(x))
		for _, e := range x {
			b = le.AppendUint64(b, math.Float64bits(e))
		}
	case []bool:
		arr(typeBool, len(x))
		for _, e := range x {
			b = append(b, boolByte(e))
		}
	case []string:
		arr(typeString, len(x))
		for _, e := range x {
			b = appendString(b, e)
		}
	case []any:
		return nil, fmt.Errorf("nested arrays ([]any) are not written: llama.cpp cannot read them")
	default:
		return nil, fmt.Errorf("values of Go type %T have no GGUF type", v)
	}
	return b, nil
}

func boolByte(v bool) byte {
	if v {
		return 1
	}
	return 0
}
