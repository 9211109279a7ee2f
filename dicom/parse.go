package dicom

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// Element is one data element. Value aliases the parsed bytes (the file's
// mapping, or the inflated data set).
type Element struct {
	Tag   Tag
	VR    string // "" where the syntax is implicit and the tag is not in implicitVR
	Value []byte
	// Items holds a sequence's items.
	Items []*DataSet
	// Fragments holds encapsulated Pixel Data: the Basic Offset Table
	// first, then the fragments, each as its item's value.
	Fragments [][]byte
	// FragmentOffsets are each fragment item's offset from the first
	// fragment item (after the offset table), as the Basic Offset Table
	// counts them.
	FragmentOffsets []uint32
	Encapsulated    bool
}

// DataSet is a parsed data set: the file's, or a sequence item's.
type DataSet struct {
	Elements  map[Tag]*Element
	BigEndian bool
}

// File is a parsed DICOM file: its meta information and its data set,
// parsed up to and including Pixel Data (nothing after it matters here).
type File struct {
	Syntax Syntax
	// Preamble tells whether the file had the 128-byte preamble and "DICM".
	Preamble bool
	// Meta is the file meta information (group 0002); nil for a bare data
	// set without it.
	Meta *DataSet
	*DataSet
}

// FormatError is a file that is not DICOM, or is malformed.
type FormatError string

func (e FormatError) Error() string { return string(e) }

// UnsupportedError is a well-formed file that maira does not read.
type UnsupportedError string

func (e UnsupportedError) Error() string { return string(e) }

func formatErr(format string, args ...any) error {
	return FormatError(fmt.Sprintf(format, args...))
}

// Parsing limits: how deep sequences nest and how large a deflated data set
// may inflate. Real files nest two or three levels; a deflated radiograph is
// tens of megabytes.
const (
	maxDepth    = 16
	MaxInflated = 1 << 30
)

// Parse parses a DICOM Part 10 file held in data: with the 128-byte
// preamble and "DICM" or without, with or without file meta information (a
// bare data set is read as implicit VR little endian, the default transfer
// syntax). It never panics and allocates no more than the element
// structures, except for a deflated data set (at most MaxInflated bytes).
func Parse(data []byte) (*File, error) {
	return parse(data, MaxInflated)
}

func parse(data []byte, maxInflated int) (*File, error) {
	f := &File{}
	body := data
	switch {
	case len(data) >= 132 && string(data[128:132]) == "DICM":
		f.Preamble = true
		body = data[132:]
	case len(data) >= 4 && string(data[:4]) == "DICM":
		// A few writers drop the preamble but keep the marker.
		body = data[4:]
	}
	if len(body) >= 6 && binary.LittleEndian.Uint16(body) == 0x0002 && isVR(body[4], body[5]) {
		meta, n, err := parseMeta(body)
		if err != nil {
			return nil, err
		}
		f.Meta = meta
		body = body[n:]
		uid := meta.String(TransferSyntaxUID)
		if uid == "" {
			return nil, formatErr("no Transfer Syntax UID in the file meta information")
		}
		s, ok := LookupSyntax(uid)
		if !ok {
			return nil, UnsupportedError(fmt.Sprintf("unknown transfer syntax %s", uid))
		}
		f.Syntax = s
	} else {
		if !f.Preamble {
			if what := notDICOM(data); what != "" {
				return nil, formatErr("not a DICOM file (%s)", what)
			}
		}
		s, err := guessSyntax(body)
		if err != nil {
			return nil, err
		}
		f.Syntax = s
	}
	if f.Syntax.Deflated {
		inflated, err := inflate(body, maxInflated)
		if err != nil {
			return nil, err
		}
		body = inflated
	}
	r := &reader{data: body, implicit: f.Syntax.Implicit, big: f.Syntax.BigEndian, top: true}
	ds, err := r.dataSet(0)
	if err != nil {
		return nil, err
	}
	if len(ds.Elements) == 0 {
		return nil, formatErr("empty data set")
	}
	f.DataSet = ds
	return f, nil
}

// parseMeta reads group 0002, always explicit VR little endian, and returns
// it with its length in bytes.
func parseMeta(b []byte) (*DataSet, int, error) {
	r := &reader{data: b}
	ds := &DataSet{Elements: map[Tag]*Element{}}
	for r.pos+4 <= len(b) && binary.LittleEndian.Uint16(b[r.pos:]) == 0x0002 {
		e, err := r.element(0)
		if err != nil {
			return nil, 0, fmt.Errorf("file meta information: %w", err)
		}
		ds.Elements[e.Tag] = e
	}
	return ds, r.pos, nil
}

// guessSyntax picks the encoding of a data set without meta information:
// explicit VR where the first element spells a VR, else implicit.
func guessSyntax(b []byte) (Syntax, error) {
	if len(b) < 8 {
		return Syntax{}, formatErr("not a DICOM file (too short)")
	}
	uid := "1.2.840.10008.1.2"
	if isVR(b[4], b[5]) {
		uid = "1.2.840.10008.1.2.1"
	}
	s, _ := LookupSyntax(uid)
	return s, nil
}

// notDICOM names what a file without the "DICM" marker is when it cannot
// be a bare data set, which always starts with a low group (0008 in every
// real file).
func notDICOM(b []byte) string {
	switch {
	case len(b) < 8:
		return "too short"
	case bytes.HasPrefix(b, []byte("\x89PNG")):
		return "a PNG image"
	case bytes.HasPrefix(b, []byte{0xFF, 0xD8, 0xFF}):
		return "a JPEG image"
	case bytes.HasPrefix(b, []byte("%PDF")):
		return "a PDF document"
	}
	if g := binary.LittleEndian.Uint16(b); g < 0x0002 || g > 0x0008 || g%2 == 1 {
		return "no DICM marker and no data set at its start"
	}
	return ""
}

func inflate(b []byte, limit int) ([]byte, error) {
	zr := flate.NewReader(bytes.NewReader(b))
	defer zr.Close()
	var out bytes.Buffer
	n, err := io.Copy(&out, io.LimitReader(zr, int64(limit)+1))
	if err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, formatErr("deflated data set is truncated")
		}
		return nil, formatErr("deflated data set: %v", err)
	}
	if n > int64(limit) {
		return nil, formatErr("deflated data set inflates past %d bytes", limit)
	}
	return out.Bytes(), nil
}

// isVR tells whether two bytes can be a value representation (two capital
// letters).
func isVR(a, b byte) bool { return a >= 'A' && a <= 'Z' && b >= 'A' && b <= 'Z' }

// longVR are the explicit VRs with a 2-byte reserved field and a 4-byte
// length (PS3.5 7.1.2).
func longVR(vr string) bool {
	switch vr {
	case "OB", "OD", "OF", "OL", "OV", "OW", "SQ", "SV", "UC", "UN", "UR", "UT", "UV":
		return true
	}
	return false
}

const undefined = 0xFFFFFFFF

// reader walks one data set encoding.
type reader struct {
	data     []byte
	pos      int
	implicit bool
	big      bool
	top      bool // the file's data set: stop after Pixel Data
}

func (r *reader) u16(b []byte) uint16 {
	if r.big {
		return binary.BigEndian.Uint16(b)
	}
	return binary.LittleEndian.Uint16(b)
}

func (r *reader) u32(b []byte) uint32 {
	if r.big {
		return binary.BigEndian.Uint32(b)
	}
	return binary.LittleEndian.Uint32(b)
}

func (r *reader) tag() (Tag, error) {
	if r.pos+4 > len(r.data) {
		return 0, formatErr("truncated file: an element's tag is cut off at byte %d", r.pos)
	}
	t := T(r.u16(r.data[r.pos:]), r.u16(r.data[r.pos+2:]))
	r.pos += 4
	return t, nil
}

// dataSet reads elements until the data ends, or until an item
// delimitation when delimited is set.
func (r *reader) dataSet(depth int) (*DataSet, error) {
	return r.items(depth, false)
}

func (r *reader) items(depth int, delimited bool) (*DataSet, error) {
	if depth > maxDepth {
		return nil, formatErr("sequences nested deeper than %d", maxDepth)
	}
	ds := &DataSet{Elements: map[Tag]*Element{}, BigEndian: r.big}
	for r.pos < len(r.data) {
		if delimited && r.pos+4 <= len(r.data) {
			t := T(r.u16(r.data[r.pos:]), r.u16(r.data[r.pos+2:]))
			if t == itemDelimitationTag {
				r.pos += 8
				if r.pos > len(r.data) {
					return nil, formatErr("truncated file: item delimiter cut off")
				}
				return ds, nil
			}
		}
		if r.top && len(r.data)-r.pos < 8 && isPadding(r.data[r.pos:]) {
			// Trailing zero bytes after the last element: tolerated.
			break
		}
		e, err := r.element(depth)
		if err != nil {
			return nil, err
		}
		if e.Tag.Group() == 0xFFFE {
			return nil, formatErr("unexpected %s delimiter at byte %d", e.Tag, r.pos)
		}
		if _, dup := ds.Elements[e.Tag]; !dup {
			ds.Elements[e.Tag] = e
		}
		if r.top && depth == 0 && e.Tag == PixelData {
			break
		}
	}
	if delimited {
		return nil, formatErr("truncated file: a sequence item has no end")
	}
	return ds, nil
}

func isPadding(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// element reads one element at r.pos.
func (r *reader) element(depth int) (*Element, error) {
	t, err := r.tag()
	if err != nil {
		return nil, err
	}
	e := &Element{Tag: t}
	var length uint32
	// Item and delimiter tags never carry a VR, even in explicit syntaxes;
	// group 0002 is explicit little endian whatever the syntax.
	if r.implicit || t.Group() == 0xFFFE {
		if r.pos+4 > len(r.data) {
			return nil, formatErr("truncated file: element %s cut off", t)
		}
		length = r.u32(r.data[r.pos:])
		r.pos += 4
		e.VR = implicitVR[t]
	} else {
		if r.pos+4 > len(r.data) {
			return nil, formatErr("truncated file: element %s cut off", t)
		}
		a, b := r.data[r.pos], r.data[r.pos+1]
		if !isVR(a, b) {
			return nil, formatErr("element %s at byte %d has no valid VR (bytes %02X %02X)", t, r.pos-4, a, b)
		}
		e.VR = string([]byte{a, b})
		if longVR(e.VR) {
			if r.pos+8 > len(r.data) {
				return nil, formatErr("truncated file: element %s cut off", t)
			}
			length = r.u32(r.data[r.pos+4:])
			r.pos += 8
		} else {
			length = uint32(r.u16(r.data[r.pos+2:]))
			r.pos += 4
		}
	}
	if length == undefined {
		switch {
		case t == PixelData:
			return e, r.fragments(e)
		case e.VR == "SQ" || e.VR == "UN" || e.VR == "":
			// An undefined-length UN is a sequence encoded implicit
			// little endian (PS3.5 6.2.2).
			sub := r
			if e.VR == "UN" {
				sub = &reader{data: r.data, pos: r.pos, implicit: true}
			}
			items, err := sub.sequence(depth, -1)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", t, err)
			}
			r.pos = sub.pos
			e.Items = items
			return e, nil
		default:
			return nil, formatErr("element %s (%s) has an undefined length", t, e.VR)
		}
	}
	if uint64(r.pos)+uint64(length) > uint64(len(r.data)) {
		return nil, formatErr("element %s claims %d bytes but only %d remain (truncated or corrupt file)", t, length, len(r.data)-r.pos)
	}
	end := r.pos + int(length)
	if e.VR == "SQ" {
		sub := &reader{data: r.data[:end], pos: r.pos, implicit: r.implicit, big: r.big}
		items, err := sub.sequence(depth, end)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", t, err)
		}
		e.Items = items
	} else {
		e.Value = r.data[r.pos:end]
	}
	r.pos = end
	return e, nil
}

// sequence reads items up to end, or to a sequence delimiter when end < 0.
func (r *reader) sequence(depth, end int) ([]*DataSet, error) {
	var items []*DataSet
	for {
		if end >= 0 && r.pos >= end {
			return items, nil
		}
		t, err := r.tag()
		if err != nil {
			return nil, err
		}
		if r.pos+4 > len(r.data) {
			return nil, formatErr("truncated file: item header cut off")
		}
		length := r.u32(r.data[r.pos:])
		r.pos += 4
		switch t {
		case sequenceDelimitationTag:
			if end >= 0 {
				return nil, formatErr("sequence delimiter inside a defined-length sequence")
			}
			return items, nil
		case itemTag:
		default:
			return nil, formatErr("expected an item, found %s", t)
		}
		var ds *DataSet
		if length == undefined {
			ds, err = r.items(depth+1, true)
		} else {
			if uint64(r.pos)+uint64(length) > uint64(len(r.data)) {
				return nil, formatErr("item claims %d bytes but only %d remain", length, len(r.data)-r.pos)
			}
			sub := &reader{data: r.data[:r.pos+int(length)], pos: r.pos, implicit: r.implicit, big: r.big}
			ds, err = sub.dataSet(depth + 1)
			r.pos = sub.pos
		}
		if err != nil {
			return nil, err
		}
		items = append(items, ds)
	}
}

// fragments reads encapsulated Pixel Data (PS3.5 A.4): items holding the
// Basic Offset Table, then the fragments, up to a sequence delimiter.
func (r *reader) fragments(e *Element) error {
	e.Encapsulated = true
	first := -1
	for {
		start := r.pos
		t, err := r.tag()
		if err != nil {
			return formatErr("truncated file: pixel data fragments cut off")
		}
		if r.pos+4 > len(r.data) {
			return formatErr("truncated file: pixel data fragments cut off")
		}
		length := r.u32(r.data[r.pos:])
		r.pos += 4
		switch t {
		case sequenceDelimitationTag:
			if len(e.Fragments) == 0 {
				return formatErr("encapsulated pixel data without a Basic Offset Table item")
			}
			return nil
		case itemTag:
		default:
			return formatErr("pixel data: expected a fragment item, found %s", t)
		}
		if length == undefined || uint64(r.pos)+uint64(length) > uint64(len(r.data)) {
			return formatErr("pixel data fragment claims %d bytes but only %d remain (truncated or corrupt file)", length, len(r.data)-r.pos)
		}
		if len(e.Fragments) == 1 {
			first = start
		}
		if len(e.Fragments) >= 1 {
			e.FragmentOffsets = append(e.FragmentOffsets, uint32(start-first))
		}
		e.Fragments = append(e.Fragments, r.data[r.pos:r.pos+int(length)])
		r.pos += int(length)
	}
}

// Lookup returns the element with tag t, or nil.
func (ds *DataSet) Lookup(t Tag) *Element {
	if ds == nil {
		return nil
	}
	return ds.Elements[t]
}

// String returns the first value of a text element, without padding; ""
// when absent.
func (ds *DataSet) String(t Tag) string {
	v := ds.Strings(t)
	if len(v) == 0 {
		return ""
	}
	return v[0]
}

// Strings returns the values of a text element (split at backslashes),
// without padding.
func (ds *DataSet) Strings(t Tag) []string {
	e := ds.Lookup(t)
	if e == nil || len(e.Value) == 0 {
		return nil
	}
	s := string(e.Value)
	parts := strings.Split(s, `\`)
	for i, p := range parts {
		parts[i] = strings.Trim(p, " \x00")
	}
	return parts
}

// Uint16 returns the first value of a US element. ok is false where the
// element is absent or too short.
func (ds *DataSet) Uint16(t Tag) (v uint16, ok bool) {
	e := ds.Lookup(t)
	if e == nil || len(e.Value) < 2 {
		return 0, false
	}
	if ds.BigEndian {
		return binary.BigEndian.Uint16(e.Value), true
	}
	return binary.LittleEndian.Uint16(e.Value), true
}

// Uint16s returns the values of a US (or SS, OW) element.
func (ds *DataSet) Uint16s(t Tag) []uint16 {
	e := ds.Lookup(t)
	if e == nil {
		return nil
	}
	out := make([]uint16, len(e.Value)/2)
	for i := range out {
		if ds.BigEndian {
			out[i] = binary.BigEndian.Uint16(e.Value[2*i:])
		} else {
			out[i] = binary.LittleEndian.Uint16(e.Value[2*i:])
		}
	}
	return out
}

// Floats returns the values of a decimal string (DS) or integer string
// (IS) element; ok is false where the element is absent, and err names a
// value that is not a number.
func (ds *DataSet) Floats(t Tag) (v []float64, ok bool, err error) {
	parts := ds.Strings(t)
	if len(parts) == 0 {
		return nil, false, nil
	}
	for _, p := range parts {
		f, perr := strconv.ParseFloat(p, 64)
		if perr != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, true, formatErr("%s value %q is not a number", t, p)
		}
		v = append(v, f)
	}
	return v, true, nil
}
