package jpeg

import "fmt"

// decodeDCT decodes one sequential DCT scan (T.81 annex F) and writes the
// inverse transformed samples into the planes of its components.
func (d *decoder) decodeDCT(sc []scanComp) error {
	ns := len(sc)
	var mx, my int
	if ns == 1 {
		// A non-interleaved scan's MCU is one block, and it covers only
		// the component's own size (T.81 A.2.2).
		c := sc[0].c
		mx, my = (c.w+7)/8, (c.h2+7)/8
	} else {
		mx = (d.width + 8*d.hmax - 1) / (8 * d.hmax)
		my = (d.height + 8*d.vmax - 1) / (8 * d.vmax)
		n := 0
		for _, s := range sc {
			n += s.c.h * s.c.v
		}
		if n > 10 {
			return FormatError(fmt.Sprintf("scan MCU of %d blocks (at most 10)", n))
		}
	}
	idct := idct8
	if d.precision == 12 {
		idct = idct12
	}
	var dcPred [4]int32
	var blk [64]int32
	restarts := 0
	togo := d.ri
	for by := 0; by < my; by++ {
		for bx := 0; bx < mx; bx++ {
			if d.ri > 0 {
				if togo == 0 {
					if d.br.overrun() {
						return d.truncated(fmt.Sprintf("scan %d", d.scans))
					}
					if err := d.restart(restarts); err != nil {
						return err
					}
					restarts++
					togo = d.ri
					dcPred = [4]int32{}
				}
				togo--
			}
			for i := range sc {
				s := &sc[i]
				c := s.c
				hb, vb := c.h, c.v
				if ns == 1 {
					hb, vb = 1, 1
				}
				for v := 0; v < vb; v++ {
					for h := 0; h < hb; h++ {
						if err := d.decodeBlock(&blk, s, &dcPred[i]); err != nil {
							return err
						}
						x0 := (bx*hb + h) * 8
						y0 := (by*vb + v) * 8
						idct(&blk, s.q, c.plane[y0*c.stride+x0:], c.stride)
					}
				}
			}
		}
		if d.br.overrun() {
			return d.truncated(fmt.Sprintf("scan %d", d.scans))
		}
	}
	return nil
}

// decodeBlock reads the Huffman coded coefficients of one block into blk
// in natural order, zeroing the rest. Like libjpeg it accepts magnitude
// categories up to 15 whatever the precision.
func (d *decoder) decodeBlock(blk *[64]int32, s *scanComp, pred *int32) error {
	br := &d.br
	*blk = [64]int32{}
	if br.nbits < 32 {
		br.fill()
	}
	t := br.decode(s.dc)
	if t < 0 || t > 15 {
		return FormatError(fmt.Sprintf("bad DC Huffman code in scan %d", d.scans))
	}
	if t > 0 {
		*pred += br.receiveExtend(t)
	}
	// libjpeg keeps coefficients as 16-bit JCOEF.
	blk[0] = int32(int16(*pred))
	ac := s.ac
	for k := 1; k < 64; k++ {
		if br.nbits < 32 {
			br.fill()
		}
		rs := br.decode(ac)
		if rs < 0 {
			return FormatError(fmt.Sprintf("bad AC Huffman code in scan %d", d.scans))
		}
		r, sz := rs>>4, rs&15
		if sz == 0 {
			if r != 15 {
				break
			}
			k += 15
			continue
		}
		k += r
		if k > 63 {
			return FormatError(fmt.Sprintf("bad AC coefficient in scan %d", d.scans))
		}
		blk[zigzag[k]] = int32(int16(br.receiveExtend(sz)))
	}
	return nil
}

// IJG jidctint.c constants, scaled by 2^13.
const (
	constBits      = 13
	fix0_298631336 = 2446
	fix0_390180644 = 3196
	fix0_541196100 = 4433
	fix0_765366865 = 6270
	fix0_899976223 = 7373
	fix1_175875602 = 9633
	fix1_501321110 = 12299
	fix1_847759065 = 15137
	fix1_961570560 = 16069
	fix2_053119869 = 16819
	fix2_562915447 = 20995
	fix3_072711026 = 25172
)

func idct8(blk *[64]int32, q *[64]int32, out []int32, stride int) {
	islow(blk, q, out, stride, 2, 1023, 10, 128, 255)
}

func idct12(blk *[64]int32, q *[64]int32, out []int32, stride int) {
	islow(blk, q, out, stride, 1, 16383, 14, 2048, 4095)
}

// islow is IJG libjpeg 6b's jpeg_idct_islow, the "slow but accurate"
// integer IDCT that dcmdjpeg uses, so that samples match it bit for bit.
// Its intermediates are C long (64 bits on the platforms dcmtk runs on) and
// the workspace is int, hence int64 arithmetic stored to int32.
// The output step reproduces libjpeg's range_limit table: the descaled
// value is wrapped to mask+1 (4 times the sample range) as a signed
// number, then centred and clamped.
func islow(blk *[64]int32, q *[64]int32, out []int32, stride int, pass1Bits uint, mask int64, maskBits uint, center, maxv int32) {
	var ws [64]int32
	// Pass 1: columns from input, store into work array.
	for c := 0; c < 8; c++ {
		if blk[8+c]|blk[16+c]|blk[24+c]|blk[32+c]|blk[40+c]|blk[48+c]|blk[56+c] == 0 {
			dc := int32(int64(blk[c])*int64(q[c])) << pass1Bits
			for r := 0; r < 8; r++ {
				ws[r*8+c] = dc
			}
			continue
		}
		dq := func(r int) int64 { return int64(blk[r*8+c]) * int64(q[r*8+c]) }
		z2, z3 := dq(2), dq(6)
		z1 := (z2 + z3) * fix0_541196100
		tmp2 := z1 + z3*(-fix1_847759065)
		tmp3 := z1 + z2*fix0_765366865
		z2, z3 = dq(0), dq(4)
		tmp0 := (z2 + z3) << constBits
		tmp1 := (z2 - z3) << constBits
		tmp10, tmp13 := tmp0+tmp3, tmp0-tmp3
		tmp11, tmp12 := tmp1+tmp2, tmp1-tmp2

		tmp0, tmp1, tmp2, tmp3 = dq(7), dq(5), dq(3), dq(1)
		z1 = tmp0 + tmp3
		z2 = tmp1 + tmp2
		z3 = tmp0 + tmp2
		z4 := tmp1 + tmp3
		z5 := (z3 + z4) * fix1_175875602
		tmp0 *= fix0_298631336
		tmp1 *= fix2_053119869
		tmp2 *= fix3_072711026
		tmp3 *= fix1_501321110
		z1 *= -fix0_899976223
		z2 *= -fix2_562915447
		z3 *= -fix1_961570560
		z4 *= -fix0_390180644
		z3 += z5
		z4 += z5
		tmp0 += z1 + z3
		tmp1 += z2 + z4
		tmp2 += z2 + z3
		tmp3 += z1 + z4

		sh := constBits - pass1Bits
		rnd := int64(1) << (sh - 1)
		ws[0*8+c] = int32((tmp10 + tmp3 + rnd) >> sh)
		ws[7*8+c] = int32((tmp10 - tmp3 + rnd) >> sh)
		ws[1*8+c] = int32((tmp11 + tmp2 + rnd) >> sh)
		ws[6*8+c] = int32((tmp11 - tmp2 + rnd) >> sh)
		ws[2*8+c] = int32((tmp12 + tmp1 + rnd) >> sh)
		ws[5*8+c] = int32((tmp12 - tmp1 + rnd) >> sh)
		ws[3*8+c] = int32((tmp13 + tmp0 + rnd) >> sh)
		ws[4*8+c] = int32((tmp13 - tmp0 + rnd) >> sh)
	}
	limit := func(x int64) int32 {
		// Sign-extend the masked value from maskBits bits.
		v := int32(x&mask<<(64-maskBits)>>(64-maskBits)) + center
		if v < 0 {
			return 0
		}
		if v > maxv {
			return maxv
		}
		return v
	}
	// Pass 2: rows from work array, store into output.
	sh := constBits + pass1Bits + 3
	rnd := int64(1) << (sh - 1)
	for r := 0; r < 8; r++ {
		w := ws[r*8 : r*8+8 : r*8+8]
		o := out[r*stride : r*stride+8 : r*stride+8]
		if w[1]|w[2]|w[3]|w[4]|w[5]|w[6]|w[7] == 0 {
			s := pass1Bits + 3
			v := limit((int64(w[0]) + int64(1)<<(s-1)) >> s)
			for i := range o {
				o[i] = v
			}
			continue
		}
		z2, z3 := int64(w[2]), int64(w[6])
		z1 := (z2 + z3) * fix0_541196100
		tmp2 := z1 + z3*(-fix1_847759065)
		tmp3 := z1 + z2*fix0_765366865
		tmp0 := (int64(w[0]) + int64(w[4])) << constBits
		tmp1 := (int64(w[0]) - int64(w[4])) << constBits
		tmp10, tmp13 := tmp0+tmp3, tmp0-tmp3
		tmp11, tmp12 := tmp1+tmp2, tmp1-tmp2

		tmp0, tmp1, tmp2, tmp3 = int64(w[7]), int64(w[5]), int64(w[3]), int64(w[1])
		z1 = tmp0 + tmp3
		z2 = tmp1 + tmp2
		z3 = tmp0 + tmp2
		z4 := tmp1 + tmp3
		z5 := (z3 + z4) * fix1_175875602
		tmp0 *= fix0_298631336
		tmp1 *= fix2_053119869
		tmp2 *= fix3_072711026
		tmp3 *= fix1_501321110
		z1 *= -fix0_899976223
		z2 *= -fix2_562915447
		z3 *= -fix1_961570560
		z4 *= -fix0_390180644
		z3 += z5
		z4 += z5
		tmp0 += z1 + z3
		tmp1 += z2 + z4
		tmp2 += z2 + z3
		tmp3 += z1 + z4

		o[0] = limit((tmp10 + tmp3 + rnd) >> sh)
		o[7] = limit((tmp10 - tmp3 + rnd) >> sh)
		o[1] = limit((tmp11 + tmp2 + rnd) >> sh)
		o[6] = limit((tmp11 - tmp2 + rnd) >> sh)
		o[2] = limit((tmp12 + tmp1 + rnd) >> sh)
		o[5] = limit((tmp12 - tmp1 + rnd) >> sh)
		o[3] = limit((tmp13 + tmp0 + rnd) >> sh)
		o[4] = limit((tmp13 - tmp0 + rnd) >> sh)
	}
}
