package vocab

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// A minimal protocol buffers wire-format reader and writer: just what a
// SentencePiece ModelProto needs. Every length is bounded by the bytes left,
// so bad input gives an error, never a panic or a huge allocation.

// Wire types (https://protobuf.dev/programming-guides/encoding/).
const (
	wireVarint  = 0
	wireFixed64 = 1
	wireBytes   = 2
	wireStart   = 3 // start group (deprecated, skipped)
	wireEnd     = 4 // end group
	wireFixed32 = 5
)

// maxGroupDepth bounds the nesting of deprecated groups that skip follows.
const maxGroupDepth = 64

var errTruncated = errors.New("truncated")

type protoReader struct {
	b   []byte
	off int
}

func (r *protoReader) done() bool { return r.off >= len(r.b) }

func (r *protoReader) varint() (uint64, error) {
	var v uint64
	for i := 0; i < 10; i++ {
		if r.off >= len(r.b) {
			return 0, errTruncated
		}
		c := r.b[r.off]
		r.off++
		if i == 9 && c > 1 {
			return 0, errors.New("varint overflows 64 bits")
		}
		v |= uint64(c&0x7f) << (7 * i)
		if c < 0x80 {
			return v, nil
		}
	}
	return 0, errors.New("varint longer than 10 bytes")
}

// tag reads a field tag.
func (r *protoReader) tag() (field uint64, wire int, err error) {
	t, err := r.varint()
	if err != nil {
		return 0, 0, err
	}
	field, wire = t>>3, int(t&7)
	if field == 0 || field > 1<<29-1 {
		return 0, 0, fmt.Errorf("invalid field number %d", field)
	}
	return field, wire, nil
}

// bytes reads a length-delimited payload; the result aliases the input.
func (r *protoReader) bytes() ([]byte, error) {
	n, err := r.varint()
	if err != nil {
		return nil, err
	}
	if n > uint64(len(r.b)-r.off) {
		return nil, fmt.Errorf("length %d exceeds the %d bytes left", n, len(r.b)-r.off)
	}
	p := r.b[r.off : r.off+int(n)]
	r.off += int(n)
	return p, nil
}

func (r *protoReader) fixed32() (uint32, error) {
	if len(r.b)-r.off < 4 {
		return 0, errTruncated
	}
	v := binary.LittleEndian.Uint32(r.b[r.off:])
	r.off += 4
	return v, nil
}

// skip passes over the value of a field this reader does not use.
func (r *protoReader) skip(field uint64, wire int) error {
	return r.skipDepth(field, wire, 0)
}

func (r *protoReader) skipDepth(field uint64, wire, depth int) error {
	switch wire {
	case wireVarint:
		_, err := r.varint()
		return err
	case wireFixed64:
		if len(r.b)-r.off < 8 {
			return errTruncated
		}
		r.off += 8
		return nil
	case wireBytes:
		_, err := r.bytes()
		return err
	case wireFixed32:
		_, err := r.fixed32()
		return err
	case wireStart:
		if depth >= maxGroupDepth {
			return errors.New("groups nested too deeply")
		}
		for {
			f, w, err := r.tag()
			if err != nil {
				return err
			}
			if w == wireEnd {
				if f != field {
					return fmt.Errorf("group %d closed by end of group %d", field, f)
				}
				return nil
			}
			if err := r.skipDepth(f, w, depth+1); err != nil {
				return err
			}
		}
	case wireEnd:
		return fmt.Errorf("end of group %d without a start", field)
	}
	return fmt.Errorf("field %d has invalid wire type %d", field, wire)
}

// expect checks that a known field arrived with the wire type its
// declaration gives.
func expect(field uint64, got, want int) error {
	if got != want {
		return fmt.Errorf("field %d has wire type %d, want %d", field, got, want)
	}
	return nil
}

// int32Value converts a varint to an int32 field's value: negative int32s are
// sign-extended to 64 bits on the wire and truncated back, as protobuf does.
func int32Value(v uint64) int32 { return int32(v) }

type protoWriter struct{ b []byte }

func (w *protoWriter) varint(v uint64) { w.b = binary.AppendUvarint(w.b, v) }

func (w *protoWriter) tag(field, wire int) { w.varint(uint64(field)<<3 | uint64(wire)) }

func (w *protoWriter) int32Field(field int, v int32) {
	w.tag(field, wireVarint)
	w.varint(uint64(int64(v))) // sign-extended, as protobuf encodes int32
}

func (w *protoWriter) boolField(field int, v bool) {
	w.tag(field, wireVarint)
	if v {
		w.varint(1)
	} else {
		w.varint(0)
	}
}

func (w *protoWriter) bytesField(field int, p []byte) {
	w.tag(field, wireBytes)
	w.varint(uint64(len(p)))
	w.b = append(w.b, p...)
}

func (w *protoWriter) stringField(field int, s string) {
	w.tag(field, wireBytes)
	w.varint(uint64(len(s)))
	w.b = append(w.b, s...)
}

func (w *protoWriter) floatField(field int, f float32) {
	w.tag(field, wireFixed32)
	w.b = binary.LittleEndian.AppendUint32(w.b, math.Float32bits(f))
}
