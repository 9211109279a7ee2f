package jpeg

import "fmt"

// decodeLossless decodes one lossless scan (T.81 annex H) with predictor
// pred and point transform pt into the planes of its components.
func (d *decoder) decodeLossless(sc []scanComp, pred, pt int) error {
	ns := len(sc)
	if ns > 1 {
		for _, s := range sc {
			if s.c.h != 1 || s.c.v != 1 {
				// An interleaved MCU would then hold several samples of
				// a component with implementation-defined edge padding;
				// no DICOM encoder writes this.
				return UnsupportedError("lossless interleaved scan with subsampled components")
			}
		}
	}
	w, rows := sc[0].c.w, sc[0].c.h2
	tabs := make([]*huffTable, ns)
	for i := range sc {
		tabs[i] = sc[i].dc
	}
	// The prediction restarts with each restart interval at the start of
	// a line, so libjpeg requires intervals of whole lines; so do we.
	rowsPerRestart := 0
	if d.ri > 0 {
		if d.ri%w != 0 {
			return FormatError(fmt.Sprintf("lossless restart interval %d is not a multiple of the %d MCUs per line", d.ri, w))
		}
		rowsPerRestart = d.ri / w
	}
	initial := int32(1) << (d.precision - pt - 1)
	diffs := make([]int32, ns*w)
	var row []int32
	if ns > 1 {
		row = make([]int32, w)
	}
	restarts := 0
	for y := 0; y < rows; y++ {
		first := y == 0
		if rowsPerRestart > 0 && y > 0 && y%rowsPerRestart == 0 {
			if err := d.restart(restarts); err != nil {
				return err
			}
			restarts++
			first = true
		}
		var ok bool
		if ns == 1 {
			ok = d.br.decodeDiffs1(diffs, tabs[0])
		} else {
			ok = d.br.decodeDiffsN(diffs, tabs)
		}
		if d.br.overrun() {
			return d.truncated(fmt.Sprintf("scan %d", d.scans))
		}
		if !ok {
			return FormatError(fmt.Sprintf("bad Huffman code in scan %d", d.scans))
		}
		for i := range sc {
			c := sc[i].c
			cur := c.plane[y*w : (y+1)*w]
			var prev []int32
			if y > 0 {
				prev = c.plane[(y-1)*w : y*w]
			}
			dif := diffs
			if ns > 1 {
				for x := range row {
					row[x] = diffs[x*ns+i]
				}
				dif = row
			}
			if first {
				undiffFirst(cur, dif, initial)
			} else {
				undiff(cur, prev, dif, pred)
			}
		}
	}
	if pt > 0 {
		for i := range sc {
			p := sc[i].c.plane
			for j := range p {
				p[j] = (p[j] << pt) & 0xFFFF
			}
		}
	}
	return nil
}

// decodeDiffs1 fills dst with the differences of one line of a
// single-component scan. It reports false for an invalid code.
func (br *bitReader) decodeDiffs1(dst []int32, t *huffTable) bool {
	for i := range dst {
		if br.nbits < 32 {
			br.fill()
		}
		var s int
		if e := t.lut[br.acc>>(64-lutBits)]; e != 0 {
			n := int(e >> 8)
			br.acc <<= n
			br.nbits -= n
			s = int(e & 0xFF)
		} else {
			s = br.decodeSlow(t)
		}
		switch {
		case s == 0:
			dst[i] = 0
		case s < 16 && s > 0:
			v := int32(br.acc >> (64 - s))
			br.acc <<= s
			br.nbits -= s
			if v < 1<<(s-1) {
				v += -1<<s + 1
			}
			dst[i] = v
		case s == 16:
			// T.81 H.1.2.2: SSSS 16 has no extra bits; the difference is 32768.
			dst[i] = 32768
		default:
			return false
		}
	}
	return true
}

// decodeDiffsN is decodeDiffs1 for an interleaved scan, whose MCU is one
// sample of each component in turn.
func (br *bitReader) decodeDiffsN(dst []int32, tabs []*huffTable) bool {
	ns := len(tabs)
	for i := range dst {
		t := tabs[i%ns]
		if br.nbits < 32 {
			br.fill()
		}
		s := br.decode(t)
		switch {
		case s == 0:
			dst[i] = 0
		case s < 16 && s > 0:
			dst[i] = br.receiveExtend(s)
		case s == 16:
			dst[i] = 32768
		default:
			return false
		}
	}
	return true
}

// undiffFirst reconstructs the first line of a scan or restart interval:
// the first sample is predicted by 2^(P-Pt-1), the others by Ra.
func undiffFirst(cur, dif []int32, initial int32) {
	ra := (initial + dif[0]) & 0xFFFF
	cur[0] = ra
	for x := 1; x < len(cur); x++ {
		ra = (ra + dif[x]) & 0xFFFF
		cur[x] = ra
	}
}

// undiff reconstructs a later line. The first sample is predicted by Rb.
// The modulo 2^16 arithmetic is that of T.81 H.1.2.1 and of libjpeg, so
// that even an encoder's predictor overflow reproduces its samples.
func undiff(cur, prev, dif []int32, pred int) {
	n := len(cur)
	if n == 0 {
		return
	}
	prev = prev[:n]
	dif = dif[:n]
	cur[0] = (prev[0] + dif[0]) & 0xFFFF
	switch pred {
	case 1:
		ra := cur[0]
		for x := 1; x < n; x++ {
			ra = (ra + dif[x]) & 0xFFFF
			cur[x] = ra
		}
	case 2:
		for x := 1; x < n; x++ {
			cur[x] = (prev[x] + dif[x]) & 0xFFFF
		}
	case 3:
		for x := 1; x < n; x++ {
			cur[x] = (prev[x-1] + dif[x]) & 0xFFFF
		}
	case 4:
		ra := cur[0]
		for x := 1; x < n; x++ {
			ra = (ra + prev[x] - prev[x-1] + dif[x]) & 0xFFFF
			cur[x] = ra
		}
	case 5:
		ra := cur[0]
		for x := 1; x < n; x++ {
			ra = (ra + ((prev[x] - prev[x-1]) >> 1) + dif[x]) & 0xFFFF
			cur[x] = ra
		}
	case 6:
		ra := cur[0]
		for x := 1; x < n; x++ {
			ra = (prev[x] + ((ra - prev[x-1]) >> 1) + dif[x]) & 0xFFFF
			cur[x] = ra
		}
	case 7:
		ra := cur[0]
		for x := 1; x < n; x++ {
			ra = (((ra + prev[x]) >> 1) + dif[x]) & 0xFFFF
			cur[x] = ra
		}
	}
}
