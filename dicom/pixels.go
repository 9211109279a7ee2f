package dicom

import (
	"encoding/binary"
	"fmt"
	"strings"
)

// PixelInfo is the image pixel module (PS3.3 C.7.6.3) of a file.
type PixelInfo struct {
	Rows, Columns   int
	SamplesPerPixel int
	Photometric     string
	BitsAllocated   int
	BitsStored      int
	HighBit         int
	Signed          bool // Pixel Representation 1: two's complement samples
	Frames          int  // Number of Frames, 1 when absent
}

// Size limits, checked from the header before anything is decoded: the
// same as for PNG and JPEG inputs (imageproc), far beyond any radiograph.
const (
	MaxSide   = 30000
	MaxPixels = 200_000_000
)

// limits are the size limits of one decode (the fuzz targets lower them).
type limits struct{ side, pixels, inflated int }

var defaultLimits = limits{side: MaxSide, pixels: MaxPixels, inflated: MaxInflated}

// PixelInfo reads and checks the pixel module.
func (f *File) PixelInfo() (PixelInfo, error) {
	return f.pixelInfo(defaultLimits)
}

func (f *File) pixelInfo(lim limits) (PixelInfo, error) {
	var p PixelInfo
	get := func(t Tag, name string, def int) (int, error) {
		v, ok := f.Uint16(t)
		if !ok {
			if def >= 0 {
				return def, nil
			}
			return 0, formatErr("no %s %s", name, t)
		}
		return int(v), nil
	}
	var err error
	if p.Rows, err = get(Rows, "Rows", -1); err != nil {
		return p, err
	}
	if p.Columns, err = get(Columns, "Columns", -1); err != nil {
		return p, err
	}
	if p.SamplesPerPixel, err = get(SamplesPerPixel, "Samples per Pixel", 1); err != nil {
		return p, err
	}
	if p.BitsAllocated, err = get(BitsAllocated, "Bits Allocated", -1); err != nil {
		return p, err
	}
	if p.BitsStored, err = get(BitsStored, "Bits Stored", p.BitsAllocated); err != nil {
		return p, err
	}
	if p.HighBit, err = get(HighBit, "High Bit", p.BitsStored-1); err != nil {
		return p, err
	}
	rep, _ := get(PixelRepresentation, "Pixel Representation", 0)
	p.Signed = rep == 1
	p.Photometric = strings.ToUpper(f.String(PhotometricInterp))
	p.Frames = 1
	if v, ok, err := f.Floats(NumberOfFrames); err != nil {
		return p, err
	} else if ok {
		if v[0] < 1 || v[0] != float64(int(v[0])) {
			return p, formatErr("Number of Frames %v", v[0])
		}
		p.Frames = int(v[0])
	}

	switch {
	case f.Lookup(PixelData) == nil:
		return p, formatErr("no pixel data (not an image)")
	case p.Rows == 0 || p.Columns == 0:
		return p, formatErr("image of %dx%d pixels", p.Columns, p.Rows)
	case p.Rows > lim.side || p.Columns > lim.side:
		return p, UnsupportedError(fmt.Sprintf("%dx%d image: a side over the limit of %d pixels", p.Columns, p.Rows, lim.side))
	case p.Rows*p.Columns > lim.pixels:
		return p, UnsupportedError(fmt.Sprintf("%dx%d image: %d pixels, over the limit of %d", p.Columns, p.Rows, p.Rows*p.Columns, lim.pixels))
	case p.Photometric != "MONOCHROME1" && p.Photometric != "MONOCHROME2":
		name := p.Photometric
		if name == "" {
			name = "absent"
		}
		return p, UnsupportedError(fmt.Sprintf("photometric interpretation %s: only grayscale radiographs (MONOCHROME1, MONOCHROME2) are read", name))
	case p.SamplesPerPixel != 1:
		return p, formatErr("%s with %d samples per pixel (want 1)", p.Photometric, p.SamplesPerPixel)
	case p.BitsAllocated != 8 && p.BitsAllocated != 16:
		return p, UnsupportedError(fmt.Sprintf("%d bits allocated: only 8 and 16 are read", p.BitsAllocated))
	case p.BitsStored < 1 || p.BitsStored > p.BitsAllocated:
		return p, formatErr("%d bits stored in %d allocated", p.BitsStored, p.BitsAllocated)
	case p.HighBit < p.BitsStored-1 || p.HighBit >= p.BitsAllocated:
		return p, formatErr("high bit %d for %d bits stored in %d allocated", p.HighBit, p.BitsStored, p.BitsAllocated)
	case rep != 0 && rep != 1:
		return p, formatErr("Pixel Representation %d (want 0 or 1)", rep)
	}
	return p, nil
}

// storedValue extracts a sample's stored bits from its allocated bits and
// sign-extends them where the pixels are signed.
type storedValue struct {
	shift  uint
	mask   uint32
	signed bool
	sign   uint32
}

func newStoredValue(p PixelInfo, shift int) storedValue {
	return storedValue{shift: uint(shift), mask: 1<<p.BitsStored - 1, signed: p.Signed, sign: 1 << (p.BitsStored - 1)}
}

func (s storedValue) get(raw uint32) int32 {
	v := raw >> s.shift & s.mask
	if s.signed && v&s.sign != 0 {
		return int32(v) - int32(s.mask) - 1
	}
	return int32(v)
}

// nativeFrame reads the first frame of uncompressed pixel data.
func nativeFrame(p PixelInfo, b []byte, big bool) ([]int32, error) {
	n := p.Rows * p.Columns
	bytesPer := p.BitsAllocated / 8
	if len(b) < n*bytesPer {
		return nil, formatErr("pixel data holds %d bytes, a %dx%d frame of %d-bit samples needs %d (truncated file?)",
			len(b), p.Columns, p.Rows, p.BitsAllocated, n*bytesPer)
	}
	out := make([]int32, n)
	sv := newStoredValue(p, p.HighBit+1-p.BitsStored)
	switch {
	case bytesPer == 1:
		for i := range out {
			out[i] = sv.get(uint32(b[i]))
		}
	case big:
		for i := range out {
			out[i] = sv.get(uint32(binary.BigEndian.Uint16(b[2*i:])))
		}
	default:
		for i := range out {
			out[i] = sv.get(uint32(binary.LittleEndian.Uint16(b[2*i:])))
		}
	}
	return out, nil
}

// firstFrame returns the bytes of the first frame of encapsulated pixel
// data (PS3.5 A.4): by the Basic Offset Table where it has one, else one
// fragment a frame where the counts agree, else the fragments up to the
// next one that starts a new codestream (startsFrame).
func firstFrame(e *Element, frames int, startsFrame func([]byte) bool) ([]byte, error) {
	frags := e.Fragments[1:]
	if len(frags) == 0 {
		return nil, formatErr("encapsulated pixel data has no fragments")
	}
	end := len(frags)
	if frames > 1 {
		bot := e.Fragments[0]
		switch {
		case len(bot) >= 8:
			next := binary.LittleEndian.Uint32(bot[4:])
			end = 0
			for end < len(frags) && e.FragmentOffsets[end] < next {
				end++
			}
			if end == 0 {
				return nil, formatErr("Basic Offset Table gives an empty first frame")
			}
		case len(frags) == frames:
			end = 1
		default:
			end = 1
			for end < len(frags) && !startsFrame(frags[end]) {
				end++
			}
		}
	}
	if end == 1 {
		return frags[0], nil
	}
	size := 0
	for _, f := range frags[:end] {
		size += len(f)
	}
	out := make([]byte, 0, size)
	for _, f := range frags[:end] {
		out = append(out, f...)
	}
	return out, nil
}

// rleFrame decodes one RLE Lossless frame (PS3.5 annex G): a 64-byte header
// of segment offsets, then one PackBits segment for each byte of a sample,
// most significant first.
func rleFrame(p PixelInfo, b []byte) ([]int32, error) {
	if len(b) < 64 {
		return nil, formatErr("RLE frame of %d bytes: shorter than its 64-byte header", len(b))
	}
	nseg := int(binary.LittleEndian.Uint32(b))
	bytesPer := p.BitsAllocated / 8
	if nseg != bytesPer*p.SamplesPerPixel {
		return nil, formatErr("RLE frame has %d segments, %d-bit samples need %d", nseg, p.BitsAllocated, bytesPer*p.SamplesPerPixel)
	}
	n := p.Rows * p.Columns
	planes := make([][]byte, nseg)
	for s := range nseg {
		start := int(binary.LittleEndian.Uint32(b[4+4*s:]))
		end := len(b)
		if s+1 < nseg {
			end = int(binary.LittleEndian.Uint32(b[8+4*s:]))
		}
		if start < 64 || start > end || end > len(b) {
			return nil, formatErr("RLE segment %d at bytes %d-%d of a %d-byte frame", s+1, start, end, len(b))
		}
		// PackBits writes at most 128 bytes for every 2 it reads: a
		// segment too short for the frame is refused before allocating.
		if (end-start)*64 < n {
			return nil, formatErr("RLE segment %d of %d bytes cannot hold %dx%d pixels (truncated?)", s+1, end-start, p.Columns, p.Rows)
		}
		out, err := unpackBits(b[start:end], n)
		if err != nil {
			return nil, formatErr("RLE segment %d: %v", s+1, err)
		}
		planes[s] = out
	}
	out := make([]int32, n)
	sv := newStoredValue(p, p.HighBit+1-p.BitsStored)
	if bytesPer == 1 {
		for i, v := range planes[0] {
			out[i] = sv.get(uint32(v))
		}
	} else {
		hi, lo := planes[0], planes[1]
		for i := range out {
			out[i] = sv.get(uint32(hi[i])<<8 | uint32(lo[i]))
		}
	}
	return out, nil
}

// unpackBits decodes a PackBits segment into exactly n bytes. Extra input
// after n bytes (the segment's even padding) is ignored; too little is an
// error.
func unpackBits(src []byte, n int) ([]byte, error) {
	out := make([]byte, 0, n)
	for i := 0; i < len(src) && len(out) < n; {
		c := int8(src[i])
		i++
		switch {
		case c >= 0:
			k := int(c) + 1
			if i+k > len(src) {
				return nil, fmt.Errorf("literal run of %d bytes cut off", k)
			}
			if len(out)+k > n {
				k = n - len(out)
			}
			out = append(out, src[i:i+k]...)
			i += int(c) + 1
		case c != -128:
			if i >= len(src) {
				return nil, fmt.Errorf("replicate run cut off")
			}
			k := 1 - int(c)
			if len(out)+k > n {
				k = n - len(out)
			}
			for range k {
				out = append(out, src[i])
			}
			i++
		}
	}
	if len(out) < n {
		return nil, fmt.Errorf("decodes to %d bytes, the frame needs %d (truncated)", len(out), n)
	}
	return out, nil
}
