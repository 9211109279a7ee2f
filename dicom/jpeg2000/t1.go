package jpeg2000

import "fmt"

// Tier-1 (EBCOT) decoding of one code-block, T.800 Annex D: the
// significance propagation, magnitude refinement and cleanup passes over
// stripes of four rows, driven by the MQ decoder or, in bypass mode, by raw
// bits.

// Per-coefficient state. The eight neighbour significance bits and the
// four direct neighbours' sign bits are kept in each coefficient's own word
// so that a context is a table look-up instead of eight loads.
const (
	fNW = 1 << iota
	fN
	fNE
	fW
	fE
	fSW
	fS
	fSE
	fSgnN // north neighbour is negative
	fSgnS
	fSgnW
	fSgnE
	fSig     // this coefficient is significant
	fVisit   // coded in the current bit-plane's significance pass
	fRefined // has had at least one refinement
	fNeg     // this coefficient is negative

	fNeigh = fNW | fN | fNE | fW | fE | fSW | fS | fSE
	// In vertically causal mode the stripe below is not yet known to an
	// encoder, so the last row of a stripe must ignore it.
	fSouth = fSW | fS | fSE | fSgnS
)

// Code-block style flags (SPcod/SPcoc).
const (
	cbBypass    = 0x01
	cbReset     = 0x02
	cbTermAll   = 0x04
	cbCausal    = 0x08
	cbPredTerm  = 0x10
	cbSegSymbol = 0x20
	cbHT        = 0x40
)

// Subband orientations, in packet order.
const (
	bandLL = iota
	bandHL
	bandLH
	bandHH
)

var zcLUT [4][256]uint8
var scLUT [256]uint8 // context<<1 | xor bit

func init() {
	for orient := 0; orient < 4; orient++ {
		for n := 0; n < 256; n++ {
			b := func(mask int) int {
				if n&mask != 0 {
					return 1
				}
				return 0
			}
			h := b(fW) + b(fE)
			v := b(fN) + b(fS)
			d := b(fNW) + b(fNE) + b(fSW) + b(fSE)
			var cx int
			if orient == bandHH {
				hv := h + v
				switch {
				case d >= 3:
					cx = 8
				case d == 2 && hv >= 1:
					cx = 7
				case d == 2:
					cx = 6
				case d == 1 && hv >= 2:
					cx = 5
				case d == 1 && hv == 1:
					cx = 4
				case d == 1:
					cx = 3
				case hv >= 2:
					cx = 2
				case hv == 1:
					cx = 1
				}
			} else {
				if orient == bandHL {
					h, v = v, h
				}
				switch {
				case h == 2:
					cx = 8
				case h == 1 && v >= 1:
					cx = 7
				case h == 1 && d >= 1:
					cx = 6
				case h == 1:
					cx = 5
				case v == 2:
					cx = 4
				case v == 1:
					cx = 3
				case d >= 2:
					cx = 2
				case d == 1:
					cx = 1
				}
			}
			zcLUT[orient][n] = uint8(ctxZC0 + cx)
		}
	}
	for i := 0; i < 256; i++ {
		contrib := func(sig, neg int) int {
			if i&sig == 0 {
				return 0
			}
			if i&neg != 0 {
				return -1
			}
			return 1
		}
		clamp := func(v int) int { return max(-1, min(1, v)) }
		// index bits: 0 N, 1 S, 2 W, 3 E significance; 4..7 their signs
		v := clamp(contrib(1, 16) + contrib(2, 32))
		h := clamp(contrib(4, 64) + contrib(8, 128))
		xor := 0
		if h < 0 || (h == 0 && v < 0) {
			xor = 1
			h, v = -h, -v
		}
		var cx int
		if h == 1 {
			cx = 12 - v
		} else {
			cx = 9 + v
		}
		scLUT[i] = uint8((cx << 1) | xor)
	}
}

// segment is one codeword segment of a code-block: the bytes contributed
// by all layers so far and the coding passes they carry.
type segment struct {
	length    int
	passes    int
	maxPasses int
}

type codeBlock struct {
	x0, y0, x1, y1 int // in subband coordinates
	included       bool
	lblock         int
	zbp            int // missing most significant bit-planes
	npasses        int
	data           []byte
	segs           []segment
}

type t1Decoder struct {
	w, h, stride int
	flags        []uint32
	mag          []int32
	mq           mqDecoder
	raw          rawDecoder
}

func (t *t1Decoder) setSig(fi int, neg bool) {
	s := t.stride
	f := t.flags
	if neg {
		f[fi] |= fSig | fNeg
		f[fi-s] |= fS | fSgnS
		f[fi+s] |= fN | fSgnN
		f[fi-1] |= fE | fSgnE
		f[fi+1] |= fW | fSgnW
	} else {
		f[fi] |= fSig
		f[fi-s] |= fS
		f[fi+s] |= fN
		f[fi-1] |= fE
		f[fi+1] |= fW
	}
	f[fi-s-1] |= fSE
	f[fi-s+1] |= fSW
	f[fi+s-1] |= fNE
	f[fi+s+1] |= fNW
}

func (t *t1Decoder) decodeSign(f uint32) bool {
	idx := (f>>1)&1 | (f>>5)&2 | (f>>1)&4 | (f>>1)&8 | (f>>4)&0xF0
	l := scLUT[idx]
	return t.mq.decode(int(l>>1))^int(l&1) != 0
}

// decode runs all coding passes of cb. mb is the subband's Mb (number of
// magnitude bit-planes). The result is left in t.mag (magnitudes carrying
// one extra fractional bit, so that a coefficient whose lower bit-planes
// were not coded sits at the middle of its uncertainty interval) and the
// fNeg flags.
func (t *t1Decoder) decode(cb *codeBlock, orient, mb int, style byte) error {
	w, h := cb.x1-cb.x0, cb.y1-cb.y0
	t.w, t.h, t.stride = w, h, w+2
	nf := (w + 2) * (h + 2)
	if cap(t.flags) < nf {
		t.flags = make([]uint32, nf)
	}
	t.flags = t.flags[:nf]
	clear(t.flags)
	if cap(t.mag) < w*h {
		t.mag = make([]int32, w*h)
	}
	t.mag = t.mag[:w*h]
	clear(t.mag)
	if cb.npasses == 0 {
		return nil
	}
	numbps := mb - cb.zbp
	if numbps <= 0 || numbps > 30 {
		return fmt.Errorf("jpeg2000: corrupt code-block (%d bit-planes)", numbps)
	}
	if cb.npasses > 3*numbps-2 {
		return fmt.Errorf("jpeg2000: corrupt code-block (%d passes for %d bit-planes)", cb.npasses, numbps)
	}
	zc := &zcLUT[orient]
	causal := style&cbCausal != 0
	t.mq.resetContexts()
	segIdx, segPos, left := 0, 0, 0
	for k := 0; k < cb.npasses; k++ {
		ptype := 2 // cleanup
		if k > 0 {
			ptype = (k - 1) % 3
		}
		bp := numbps - 1 - (k+2)/3
		raw := style&cbBypass != 0 && k >= 10 && ptype != 2
		if left == 0 {
			if segIdx >= len(cb.segs) {
				return fmt.Errorf("jpeg2000: corrupt code-block segments")
			}
			sg := cb.segs[segIdx]
			end := segPos + sg.length
			if end > len(cb.data) {
				return fmt.Errorf("jpeg2000: corrupt code-block segments")
			}
			if raw {
				t.raw.init(cb.data[segPos:end])
			} else {
				t.mq.init(cb.data[segPos:end])
			}
			segPos = end
			left = sg.passes
			segIdx++
		}
		left--
		switch ptype {
		case 0:
			t.sigPass(bp, raw, causal, zc)
		case 1:
			t.refPass(bp, raw, causal)
		case 2:
			t.cleanupPass(bp, causal, zc)
			if style&cbSegSymbol != 0 {
				for i := 0; i < 4; i++ {
					t.mq.decode(ctxUniform)
				}
			}
		}
		if style&cbReset != 0 {
			t.mq.resetContexts()
		}
	}
	return nil
}

func (t *t1Decoder) sigPass(bp int, raw, causal bool, zc *[256]uint8) {
	w, h, s := t.w, t.h, t.stride
	one := int32(3) << uint(bp)
	for y0 := 0; y0 < h; y0 += 4 {
		y1 := min(y0+4, h)
		for x := 0; x < w; x++ {
			fi := (y0+1)*s + x + 1
			mi := y0*w + x
			for y := y0; y < y1; y, fi, mi = y+1, fi+s, mi+w {
				f := t.flags[fi]
				if causal && y == y0+3 {
					f &^= fSouth
				}
				if f&fSig != 0 || f&fNeigh == 0 {
					continue
				}
				if raw {
					if t.raw.bit() != 0 {
						t.mag[mi] = one
						t.setSig(fi, t.raw.bit() != 0)
					}
				} else if t.mq.decode(int(zc[f&0xFF])) != 0 {
					t.mag[mi] = one
					t.setSig(fi, t.decodeSign(f))
				}
				t.flags[fi] |= fVisit
			}
		}
	}
}

func (t *t1Decoder) refPass(bp int, raw, causal bool) {
	w, h, s := t.w, t.h, t.stride
	half := int32(1) << uint(bp)
	for y0 := 0; y0 < h; y0 += 4 {
		y1 := min(y0+4, h)
		for x := 0; x < w; x++ {
			fi := (y0+1)*s + x + 1
			mi := y0*w + x
			for y := y0; y < y1; y, fi, mi = y+1, fi+s, mi+w {
				f := t.flags[fi]
				if f&(fSig|fVisit) != fSig {
					continue
				}
				var bit int
				if raw {
					bit = t.raw.bit()
				} else {
					if causal && y == y0+3 {
						f &^= fSouth
					}
					cx := ctxMR0 + 2
					if f&fRefined == 0 {
						if f&fNeigh != 0 {
							cx = ctxMR0 + 1
						} else {
							cx = ctxMR0
						}
					}
					bit = t.mq.decode(cx)
				}
				if bit != 0 {
					t.mag[mi] += half
				} else {
					t.mag[mi] -= half
				}
				t.flags[fi] |= fRefined
			}
		}
	}
}

func (t *t1Decoder) cleanupPass(bp int, causal bool, zc *[256]uint8) {
	w, h, s := t.w, t.h, t.stride
	one := int32(3) << uint(bp)
	fl := t.flags
	for y0 := 0; y0 < h; y0 += 4 {
		y1 := min(y0+4, h)
		for x := 0; x < w; x++ {
			fi := (y0+1)*s + x + 1
			mi := y0*w + x
			y := y0
			if y1-y0 == 4 {
				f3 := fl[fi+3*s]
				if causal {
					f3 &^= fSouth
				}
				if (fl[fi]|fl[fi+s]|fl[fi+2*s]|f3)&(fSig|fVisit|fNeigh) == 0 {
					// Run-length mode: one decision for an all-quiet column.
					if t.mq.decode(ctxRL) == 0 {
						continue
					}
					r := t.mq.decode(ctxUniform) << 1
					r |= t.mq.decode(ctxUniform)
					y += r
					fi += r * s
					mi += r * w
					f := fl[fi]
					if causal && y == y0+3 {
						f &^= fSouth
					}
					t.mag[mi] = one
					t.setSig(fi, t.decodeSign(f))
					y, fi, mi = y+1, fi+s, mi+w
				}
			}
			for ; y < y1; y, fi, mi = y+1, fi+s, mi+w {
				f := fl[fi]
				if f&(fSig|fVisit) != 0 {
					fl[fi] = f &^ fVisit
					continue
				}
				if causal && y == y0+3 {
					f &^= fSouth
				}
				if t.mq.decode(int(zc[f&0xFF])) != 0 {
					t.mag[mi] = one
					t.setSig(fi, t.decodeSign(f))
				}
			}
		}
	}
}

// unshiftROI undoes the implicit (max-shift) region of interest scaling
// (T.800 H.1): the encoder raised region coefficients above every
// background one by s bit-planes, so any magnitude of at least 2^s is a
// region coefficient to scale back. t.mag carries one fractional bit, hence
// the threshold 2^(s+1).
func (t *t1Decoder) unshiftROI(s int) {
	if s >= 30 {
		return // magnitudes stay below 2^31: all background
	}
	thresh := int32(1) << uint(s+1)
	for i, m := range t.mag {
		if m >= thresh {
			t.mag[i] = m >> uint(s)
		}
	}
}
