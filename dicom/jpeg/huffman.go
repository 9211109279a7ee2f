package jpeg

// bitReader reads entropy-coded data MSB first, removing stuffed zero bytes.
// At a marker or the end of the data it feeds zero bits instead, as the
// standard's decoders do, but counts them in pad so that a scan which
// consumes them can be reported as truncated rather than decoded to garbage.
type bitReader struct {
	data  []byte
	pos   int
	acc   uint64 // left aligned: the next bit is bit 63
	nbits int    // valid bits in acc, real and padding
	pad   int    // zero bits fed after the end of the entropy-coded segment
	stop  bool   // reached a marker or the end of data
}

// fill tops acc up to at least 57 bits.
func (br *bitReader) fill() {
	// Fast path: eight whole bytes without 0xFF can be loaded at once.
	if !br.stop && br.nbits <= 56 && len(br.data)-br.pos >= 8 {
		p := br.data[br.pos : br.pos+8]
		w := uint64(p[0])<<56 | uint64(p[1])<<48 | uint64(p[2])<<40 | uint64(p[3])<<32 |
			uint64(p[4])<<24 | uint64(p[5])<<16 | uint64(p[6])<<8 | uint64(p[7])
		// Detect a 0xFF byte anywhere in w (classic has-zero-byte trick on ^w).
		x := ^w
		if (x-0x0101010101010101)&^x&0x8080808080808080 == 0 {
			n := (64 - br.nbits) >> 3 // whole bytes that fit
			w = w >> (64 - 8*n) << (64 - 8*n)
			br.acc |= w >> br.nbits
			br.pos += n
			br.nbits += n * 8
			return
		}
	}
	for br.nbits <= 56 {
		if br.stop {
			br.nbits += 8
			br.pad += 8
			continue
		}
		if br.pos >= len(br.data) {
			br.stop = true
			continue
		}
		b := br.data[br.pos]
		if b == 0xFF {
			if br.pos+1 >= len(br.data) || br.data[br.pos+1] != 0 {
				br.stop = true
				continue
			}
			br.pos += 2
		} else {
			br.pos++
		}
		br.acc |= uint64(b) << (56 - br.nbits)
		br.nbits += 8
	}
}

// overrun reports whether padding bits have been consumed.
func (br *bitReader) overrun() bool { return br.nbits < br.pad }

const lutBits = 9

// huffTable is a decoding table built from a DHT segment.
type huffTable struct {
	// lut maps the next lutBits bits to length<<8 | symbol, or 0 when the
	// code is longer than lutBits.
	lut [1 << lutBits]uint16
	// maxcode[l] is the largest code of length l, or -1; valptr[l] is the
	// index in vals of the first code of length l minus that code.
	maxcode [17]int32
	valptr  [17]int32
	vals    []byte
}

func newHuffTable(counts [16]int, vals []byte) (*huffTable, error) {
	t := &huffTable{vals: append([]byte(nil), vals...)}
	code, k := int32(0), int32(0)
	for l := 1; l <= 16; l++ {
		n := int32(counts[l-1])
		t.maxcode[l] = -1
		if n > 0 {
			t.valptr[l] = k - code
			for i := int32(0); i < n; i++ {
				// A prefix code has at most 2^l codes of length l. The
				// all-ones code is reserved, but libjpeg accepts it.
				if code >= 1<<l {
					return nil, FormatError("bad Huffman table (code lengths overflow)")
				}
				if l <= lutBits {
					// Every lookahead value starting with this code decodes to it.
					shift := uint(lutBits - l)
					for j := int32(0); j < 1<<shift; j++ {
						t.lut[code<<shift|j] = uint16(l)<<8 | uint16(vals[k])
					}
				}
				code++
				k++
			}
			t.maxcode[l] = code - 1
		}
		code <<= 1
	}
	return t, nil
}

// decode returns the next Huffman symbol; acc must hold at least 16 bits.
// It returns -1 for a bit pattern that is no code.
func (br *bitReader) decode(t *huffTable) int {
	if e := t.lut[br.acc>>(64-lutBits)]; e != 0 {
		n := int(e >> 8)
		br.acc <<= n
		br.nbits -= n
		return int(e & 0xFF)
	}
	return br.decodeSlow(t)
}

func (br *bitReader) decodeSlow(t *huffTable) int {
	for l := lutBits + 1; l <= 16; l++ {
		code := int32(br.acc >> (64 - l))
		if code <= t.maxcode[l] {
			br.acc <<= l
			br.nbits -= l
			i := t.valptr[l] + code
			if i < 0 || int(i) >= len(t.vals) {
				return -1
			}
			return int(t.vals[i])
		}
	}
	return -1
}

// receiveExtend reads s (1..16) bits and sign-extends them as T.81 F.2.2.1
// EXTEND does; acc must hold at least s bits.
func (br *bitReader) receiveExtend(s int) int32 {
	v := int32(br.acc >> (64 - s))
	br.acc <<= s
	br.nbits -= s
	if v < 1<<(s-1) {
		v += -1<<s + 1
	}
	return v
}
