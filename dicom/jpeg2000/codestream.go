package jpeg2000

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
)

// Codestream syntax, T.800 Annex A: the main header, tile-part headers and
// the JP2 file wrapper some DICOM writers leave around the codestream.

// ErrTruncated reports that the codestream ends before all tile data was
// seen. It is an error and not a partial image because a medical image must
// not silently lose detail.
var ErrTruncated = errors.New("jpeg2000: truncated codestream")

const (
	mSOC = 0xFF4F
	mCAP = 0xFF50
	mSIZ = 0xFF51
	mCOD = 0xFF52
	mCOC = 0xFF53
	mTLM = 0xFF55
	mPRF = 0xFF56
	mPLM = 0xFF57
	mPLT = 0xFF58
	mCPF = 0xFF59
	mQCD = 0xFF5C
	mQCC = 0xFF5D
	mRGN = 0xFF5E
	mPOC = 0xFF5F
	mPPM = 0xFF60
	mPPT = 0xFF61
	mCRG = 0xFF63
	mCOM = 0xFF64
	mSOT = 0xFF90
	mSOP = 0xFF91
	mEPH = 0xFF92
	mSOD = 0xFF93
	mEOC = 0xFFD9
)

// Progression orders (Table A.16).
const (
	progLRCP = iota
	progRLCP
	progRPCL
	progPCRL
	progCPRL
)

const maxComponents = 4

// maxPOC is OpenJPEG's limit too; it bounds the work of revisiting
// packets already decoded.
const maxPOC = 32

type component struct {
	prec   int
	signed bool
	dx, dy int
}

// compCoding is the per-component part of COD/COC.
type compCoding struct {
	levels     int
	xcb, ycb   int // code-block size exponents
	style      byte
	reversible bool
	precincts  []uint8 // per resolution: PPx | PPy<<4
}

// codMarker is a whole COD: the tile-wide fields and component defaults.
type codMarker struct {
	order    int
	layers   int
	mct      int
	sop, eph bool
	cc       compCoding
}

type quantization struct {
	style int // 0 none, 1 scalar derived, 2 scalar expounded
	guard int
	exp   []int
	mant  []int
}

type pocEntry struct {
	rs, cs, lye, re, ce, order int
}

// markerSet holds the coding-parameter markers of one header (main, or
// all tile-part headers of one tile).
type markerSet struct {
	cod *codMarker
	coc []*compCoding
	qcd *quantization
	qcc []*quantization
	poc []pocEntry
	roi []int // per component: max-shift value, -1 when not signalled
}

type tileData struct {
	parts    [][]byte
	numParts int // TNsot, 0 when not signalled
	hdr      markerSet
	ppt      []pptChunk
	ppm      []byte
	hasPPM   bool
}

type pptChunk struct {
	z    int
	data []byte
}

type codestream struct {
	rsiz               int
	xsiz, ysiz, x0, y0 int
	tw, th, tx0, ty0   int
	comps              []component
	ntx, nty           int
	main               markerSet
	hasPPM             bool
	tiles              []*tileData
}

func (cs *codestream) width() int  { return cs.xsiz - cs.x0 }
func (cs *codestream) height() int { return cs.ysiz - cs.y0 }

// findCodestream strips a JP2 wrapper if there is one.
func findCodestream(data []byte) ([]byte, error) {
	if len(data) >= 2 && binary.BigEndian.Uint16(data) == mSOC {
		return data, nil
	}
	if len(data) < 12 || string(data[4:8]) != "jP  " {
		return nil, errors.New("jpeg2000: not a JPEG 2000 codestream (no SOC marker or JP2 signature)")
	}
	pos := 0
	for pos+8 <= len(data) {
		lbox := uint64(binary.BigEndian.Uint32(data[pos:]))
		typ := string(data[pos+4 : pos+8])
		hdr := uint64(8)
		switch lbox {
		case 0:
			lbox = uint64(len(data) - pos)
		case 1:
			if pos+16 > len(data) {
				return nil, ErrTruncated
			}
			lbox = binary.BigEndian.Uint64(data[pos+8:])
			hdr = 16
		}
		if lbox < hdr {
			return nil, errors.New("jpeg2000: corrupt JP2 box length")
		}
		left := uint64(len(data) - pos)
		if hdr > left {
			return nil, ErrTruncated
		}
		if typ == "jp2c" {
			// a jp2c box cut short is left to the codestream checks
			return data[pos+int(hdr) : pos+int(min(lbox, left))], nil
		}
		if lbox > left {
			break
		}
		pos += int(lbox)
	}
	return nil, errors.New("jpeg2000: JP2 file without a codestream (jp2c) box")
}

// parse reads the main header and, unless headerOnly, splits the rest into
// tile-parts.
func parse(data []byte, headerOnly bool) (*codestream, error) {
	data, err := findCodestream(data)
	if err != nil {
		return nil, err
	}
	if len(data) < 4 {
		return nil, ErrTruncated
	}
	if binary.BigEndian.Uint16(data) != mSOC {
		return nil, errors.New("jpeg2000: codestream does not start with SOC")
	}
	if binary.BigEndian.Uint16(data[2:]) != mSIZ {
		return nil, errors.New("jpeg2000: SIZ marker missing after SOC")
	}
	cs := &codestream{}
	pos := 2
	var ppm []pptChunk
	for {
		if pos+2 > len(data) {
			return nil, ErrTruncated
		}
		m := int(binary.BigEndian.Uint16(data[pos:]))
		if m == mSOT {
			break
		}
		if m == mEOC {
			return nil, errors.New("jpeg2000: codestream has no tiles")
		}
		if m>>8 != 0xFF {
			return nil, fmt.Errorf("jpeg2000: expected a marker in the main header, found 0x%04x", m)
		}
		if pos+4 > len(data) {
			return nil, ErrTruncated
		}
		l := int(binary.BigEndian.Uint16(data[pos+2:]))
		if l < 2 {
			return nil, fmt.Errorf("jpeg2000: marker 0x%04x has bad length %d", m, l)
		}
		if pos+2+l > len(data) {
			return nil, ErrTruncated
		}
		seg := data[pos+4 : pos+2+l]
		if m == mSIZ {
			if cs.comps != nil {
				return nil, errors.New("jpeg2000: duplicate SIZ marker")
			}
			if err := cs.parseSIZ(seg); err != nil {
				return nil, err
			}
		} else {
			if cs.comps == nil {
				return nil, errors.New("jpeg2000: SIZ marker missing after SOC")
			}
			if m == mPPM {
				if len(seg) < 1 {
					return nil, errors.New("jpeg2000: corrupt PPM marker")
				}
				ppm = append(ppm, pptChunk{int(seg[0]), seg[1:]})
				cs.hasPPM = true
			} else if err := cs.parseCodingMarker(&cs.main, m, seg, true); err != nil {
				return nil, err
			}
		}
		pos += 2 + l
	}
	if cs.main.cod == nil {
		return nil, errors.New("jpeg2000: COD marker missing from main header")
	}
	if cs.main.qcd == nil {
		return nil, errors.New("jpeg2000: QCD marker missing from main header")
	}
	if headerOnly {
		return cs, nil
	}

	cs.tiles = make([]*tileData, cs.ntx*cs.nty)
	var order []*tileData // tile-parts in codestream order, for PPM
	for pos+2 <= len(data) {
		m := int(binary.BigEndian.Uint16(data[pos:]))
		if m == mEOC || m>>8 != 0xFF {
			// Some writers pad after the last tile-part; whether any tile
			// data is missing is checked below.
			break
		}
		if m != mSOT {
			return nil, fmt.Errorf("jpeg2000: expected SOT marker, found 0x%04x", m)
		}
		if pos+12 > len(data) {
			return nil, ErrTruncated
		}
		if binary.BigEndian.Uint16(data[pos+2:]) != 10 {
			return nil, errors.New("jpeg2000: bad SOT length")
		}
		isot := int(binary.BigEndian.Uint16(data[pos+4:]))
		psot := int(binary.BigEndian.Uint32(data[pos+6:]))
		tnsot := int(data[pos+11])
		if isot >= len(cs.tiles) {
			return nil, fmt.Errorf("jpeg2000: tile index %d out of range", isot)
		}
		td := cs.tiles[isot]
		if td == nil {
			td = &tileData{}
			cs.tiles[isot] = td
		}
		if tnsot != 0 {
			td.numParts = tnsot
		}
		sot := pos
		pos += 12
		for {
			if pos+2 > len(data) {
				return nil, ErrTruncated
			}
			m := int(binary.BigEndian.Uint16(data[pos:]))
			if m == mSOD {
				pos += 2
				break
			}
			if m>>8 != 0xFF {
				return nil, fmt.Errorf("jpeg2000: expected a marker in a tile-part header, found 0x%04x", m)
			}
			if pos+4 > len(data) {
				return nil, ErrTruncated
			}
			l := int(binary.BigEndian.Uint16(data[pos+2:]))
			if l < 2 {
				return nil, fmt.Errorf("jpeg2000: marker 0x%04x has bad length %d", m, l)
			}
			if pos+2+l > len(data) {
				return nil, ErrTruncated
			}
			seg := data[pos+4 : pos+2+l]
			if m == mPPT {
				if len(seg) < 1 {
					return nil, errors.New("jpeg2000: corrupt PPT marker")
				}
				td.ppt = append(td.ppt, pptChunk{int(seg[0]), seg[1:]})
			} else if err := cs.parseCodingMarker(&td.hdr, m, seg, false); err != nil {
				return nil, err
			}
			pos += 2 + l
		}
		end := len(data)
		if psot == 0 {
			if end-2 >= pos && binary.BigEndian.Uint16(data[end-2:]) == mEOC {
				end -= 2
			}
		} else {
			end = sot + psot
			if end > len(data) {
				return nil, ErrTruncated
			}
			if end < pos {
				return nil, errors.New("jpeg2000: tile-part length shorter than its header")
			}
		}
		td.parts = append(td.parts, data[pos:end])
		order = append(order, td)
		pos = end
	}
	for i, td := range cs.tiles {
		if td == nil {
			return nil, fmt.Errorf("%w (tile %d missing)", ErrTruncated, i)
		}
		if len(td.parts) < td.numParts {
			return nil, fmt.Errorf("%w (tile %d has %d of %d tile-parts)", ErrTruncated, i, len(td.parts), td.numParts)
		}
		if cs.hasPPM && len(td.ppt) > 0 {
			return nil, errors.New("jpeg2000: both PPM and PPT markers present")
		}
	}
	if cs.hasPPM {
		// Nppm chunks may straddle PPM markers, so join them first.
		sort.SliceStable(ppm, func(i, j int) bool { return ppm[i].z < ppm[j].z })
		var all []byte
		for _, c := range ppm {
			all = append(all, c.data...)
		}
		p := 0
		for _, td := range order {
			if p+4 > len(all) {
				return nil, errors.New("jpeg2000: PPM marker has fewer packet headers than tile-parts")
			}
			n := int(binary.BigEndian.Uint32(all[p:]))
			p += 4
			if n > len(all)-p {
				return nil, errors.New("jpeg2000: corrupt PPM packet header length")
			}
			td.ppm = append(td.ppm, all[p:p+n]...)
			td.hasPPM = true
			p += n
		}
	}
	return cs, nil
}

func (cs *codestream) parseSIZ(b []byte) error {
	if len(b) < 36 {
		return errors.New("jpeg2000: SIZ marker too short")
	}
	u32 := func(i int) int { return int(binary.BigEndian.Uint32(b[i:])) }
	cs.rsiz = int(binary.BigEndian.Uint16(b))
	cs.xsiz, cs.ysiz, cs.x0, cs.y0 = u32(2), u32(6), u32(10), u32(14)
	cs.tw, cs.th, cs.tx0, cs.ty0 = u32(18), u32(22), u32(26), u32(30)
	nc := int(binary.BigEndian.Uint16(b[34:]))
	if cs.rsiz&0x8000 != 0 {
		return errors.New("jpeg2000: Part 2 extensions not supported (Rsiz)")
	}
	if cs.rsiz&0x4000 != 0 {
		return errors.New("jpeg2000: high-throughput (HTJ2K, Part 15) codestreams not supported")
	}
	if nc == 0 || nc > 16384 {
		return fmt.Errorf("jpeg2000: bad component count %d", nc)
	}
	if nc > maxComponents {
		return fmt.Errorf("jpeg2000: %d components not supported (at most %d)", nc, maxComponents)
	}
	if len(b) != 36+3*nc {
		return errors.New("jpeg2000: SIZ marker length does not match component count")
	}
	if cs.xsiz <= cs.x0 || cs.ysiz <= cs.y0 {
		return errors.New("jpeg2000: empty image in SIZ")
	}
	if cs.tw == 0 || cs.th == 0 {
		return errors.New("jpeg2000: zero tile size in SIZ")
	}
	if cs.tx0 > cs.x0 || cs.ty0 > cs.y0 || cs.tx0+cs.tw <= cs.x0 || cs.ty0+cs.th <= cs.y0 {
		return errors.New("jpeg2000: tile grid offset does not cover the image")
	}
	cs.ntx = ceilDiv(cs.xsiz-cs.tx0, cs.tw)
	cs.nty = ceilDiv(cs.ysiz-cs.ty0, cs.th)
	if cs.ntx*cs.nty > 65535 {
		return fmt.Errorf("jpeg2000: too many tiles (%d)", cs.ntx*cs.nty)
	}
	cs.comps = make([]component, nc)
	for i := range cs.comps {
		s := b[36+3*i:]
		c := &cs.comps[i]
		c.prec = int(s[0]&0x7F) + 1
		c.signed = s[0]&0x80 != 0
		c.dx, c.dy = int(s[1]), int(s[2])
		if c.dx == 0 || c.dy == 0 {
			return errors.New("jpeg2000: zero component subsampling in SIZ")
		}
		if c.dx != 1 || c.dy != 1 {
			return fmt.Errorf("jpeg2000: component subsampling (%dx%d) not supported", c.dx, c.dy)
		}
		if c.prec > 16 {
			return fmt.Errorf("jpeg2000: %d-bit components not supported (at most 16)", c.prec)
		}
	}
	return nil
}

// parseCodingMarker handles the markers that may appear in both main and
// tile-part headers.
func (cs *codestream) parseCodingMarker(ms *markerSet, m int, b []byte, mainHeader bool) error {
	nc := len(cs.comps)
	compIndex := func() (int, []byte, error) {
		if nc < 257 {
			if len(b) < 1 {
				return 0, nil, errors.New("jpeg2000: marker too short")
			}
			c := int(b[0])
			if c >= nc {
				return 0, nil, fmt.Errorf("jpeg2000: component index %d out of range", c)
			}
			return c, b[1:], nil
		}
		if len(b) < 2 {
			return 0, nil, errors.New("jpeg2000: marker too short")
		}
		c := int(binary.BigEndian.Uint16(b))
		if c >= nc {
			return 0, nil, fmt.Errorf("jpeg2000: component index %d out of range", c)
		}
		return c, b[2:], nil
	}
	switch m {
	case mCOD:
		if len(b) < 5 {
			return errors.New("jpeg2000: COD marker too short")
		}
		scod := b[0]
		if scod&^0x07 != 0 {
			return fmt.Errorf("jpeg2000: Part 2 extensions not supported (COD style 0x%02x)", scod)
		}
		cod := &codMarker{
			order:  int(b[1]),
			layers: int(binary.BigEndian.Uint16(b[2:])),
			mct:    int(b[4]),
			sop:    scod&0x02 != 0,
			eph:    scod&0x04 != 0,
		}
		if cod.order > progCPRL {
			return fmt.Errorf("jpeg2000: unknown progression order %d", cod.order)
		}
		if cod.layers == 0 {
			return errors.New("jpeg2000: COD has zero layers")
		}
		if cod.mct > 1 {
			return errors.New("jpeg2000: Part 2 extensions not supported (multiple component transform)")
		}
		if err := parseSPco(&cod.cc, b[5:], scod&1 != 0); err != nil {
			return err
		}
		ms.cod = cod
	case mCOC:
		c, rest, err := compIndex()
		if err != nil {
			return err
		}
		if len(rest) < 1 {
			return errors.New("jpeg2000: COC marker too short")
		}
		if rest[0]&^0x01 != 0 {
			return fmt.Errorf("jpeg2000: Part 2 extensions not supported (COC style 0x%02x)", rest[0])
		}
		cc := &compCoding{}
		if err := parseSPco(cc, rest[1:], rest[0]&1 != 0); err != nil {
			return err
		}
		if ms.coc == nil {
			ms.coc = make([]*compCoding, nc)
		}
		ms.coc[c] = cc
	case mQCD:
		q, err := parseQuant(b)
		if err != nil {
			return err
		}
		ms.qcd = q
	case mQCC:
		c, rest, err := compIndex()
		if err != nil {
			return err
		}
		q, err := parseQuant(rest)
		if err != nil {
			return err
		}
		if ms.qcc == nil {
			ms.qcc = make([]*quantization, nc)
		}
		ms.qcc[c] = q
	case mPOC:
		n := 7
		if nc >= 257 {
			n = 9
		}
		if len(b) == 0 || len(b)%n != 0 {
			return errors.New("jpeg2000: corrupt POC marker")
		}
		for ; len(b) > 0; b = b[n:] {
			var e pocEntry
			if n == 7 {
				e = pocEntry{rs: int(b[0]), cs: int(b[1]), lye: int(binary.BigEndian.Uint16(b[2:])),
					re: int(b[4]), ce: int(b[5]), order: int(b[6])}
			} else {
				e = pocEntry{rs: int(b[0]), cs: int(binary.BigEndian.Uint16(b[1:])), lye: int(binary.BigEndian.Uint16(b[3:])),
					re: int(b[5]), ce: int(binary.BigEndian.Uint16(b[6:])), order: int(b[8])}
			}
			if e.ce == 0 {
				e.ce = 256 // Table A.32: 0 means 256 components
			}
			if e.order > progCPRL {
				return fmt.Errorf("jpeg2000: unknown progression order %d in POC", e.order)
			}
			ms.poc = append(ms.poc, e)
		}
		if len(ms.poc) > maxPOC {
			return fmt.Errorf("jpeg2000: more than %d progression order changes", maxPOC)
		}
	case mRGN:
		c, rest, err := compIndex()
		if err != nil {
			return err
		}
		if len(rest) != 2 {
			return errors.New("jpeg2000: corrupt RGN marker")
		}
		if rest[0] != 0 {
			return fmt.Errorf("jpeg2000: region of interest style %d not supported (only implicit, max-shift)", rest[0])
		}
		if ms.roi == nil {
			ms.roi = make([]int, nc)
			for i := range ms.roi {
				ms.roi[i] = -1
			}
		}
		ms.roi[c] = int(rest[1])
	case mCOM, mTLM, mPLM, mPLT, mCRG, mCAP, mCPF, mPRF:
		// informational only
	default:
		if m >= 0xFF70 && m <= 0xFF7F {
			return fmt.Errorf("jpeg2000: Part 2 extensions not supported (marker 0x%04x)", m)
		}
		if !mainHeader && (m == mSIZ || m == mPPM) {
			return fmt.Errorf("jpeg2000: marker 0x%04x not allowed in a tile-part header", m)
		}
		// Unknown marker segments are skipped, as T.800 asks of decoders.
	}
	return nil
}

func parseSPco(cc *compCoding, b []byte, userPrecincts bool) error {
	if len(b) < 5 {
		return errors.New("jpeg2000: COD/COC marker too short")
	}
	cc.levels = int(b[0])
	if cc.levels > 32 {
		return fmt.Errorf("jpeg2000: %d decomposition levels (at most 32)", cc.levels)
	}
	if b[1] > 8 || b[2] > 8 || b[1]+b[2] > 8 {
		return errors.New("jpeg2000: bad code-block size")
	}
	cc.xcb, cc.ycb = int(b[1])+2, int(b[2])+2
	cc.style = b[3]
	if cc.style&0xC0 != 0 {
		return errors.New("jpeg2000: high-throughput (HTJ2K) code-blocks not supported")
	}
	switch b[4] {
	case 0:
		cc.reversible = false
	case 1:
		cc.reversible = true
	default:
		return errors.New("jpeg2000: Part 2 extensions not supported (arbitrary wavelet)")
	}
	cc.precincts = make([]uint8, cc.levels+1)
	if userPrecincts {
		if len(b) < 5+cc.levels+1 {
			return errors.New("jpeg2000: COD/COC precinct sizes missing")
		}
		copy(cc.precincts, b[5:])
		for r := 1; r <= cc.levels; r++ {
			if cc.precincts[r]&0x0F == 0 || cc.precincts[r]>>4 == 0 {
				return errors.New("jpeg2000: bad precinct size")
			}
		}
	} else {
		for i := range cc.precincts {
			cc.precincts[i] = 0xFF
		}
	}
	return nil
}

func parseQuant(b []byte) (*quantization, error) {
	if len(b) < 1 {
		return nil, errors.New("jpeg2000: QCD/QCC marker too short")
	}
	q := &quantization{style: int(b[0] & 0x1F), guard: int(b[0] >> 5)}
	b = b[1:]
	switch q.style {
	case 0:
		for _, v := range b {
			q.exp = append(q.exp, int(v>>3))
			q.mant = append(q.mant, 0)
		}
	case 1, 2:
		if len(b) < 2 || len(b)%2 != 0 || (q.style == 1 && len(b) != 2) {
			return nil, errors.New("jpeg2000: corrupt QCD/QCC step sizes")
		}
		for i := 0; i+1 < len(b); i += 2 {
			v := int(binary.BigEndian.Uint16(b[i:]))
			q.exp = append(q.exp, v>>11)
			q.mant = append(q.mant, v&0x7FF)
		}
	default:
		return nil, fmt.Errorf("jpeg2000: unknown quantization style %d", q.style)
	}
	if len(q.exp) == 0 {
		return nil, errors.New("jpeg2000: QCD/QCC without step sizes")
	}
	return q, nil
}

// ceilDiv is ceil(a/b) for b > 0, including negative a.
func ceilDiv(a, b int) int {
	if a >= 0 {
		return (a + b - 1) / b
	}
	return -((-a) / b)
}

// ceilShift is ceil(a / 2^n), floorShift floor(a / 2^n).
func ceilShift(a, n int) int  { return -((-a) >> uint(n)) }
func floorShift(a, n int) int { return a >> uint(n) }
