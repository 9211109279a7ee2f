package jpeg

import (
	"fmt"
)

// Frame is one decoded image: component planes at full image size.
type Frame struct {
	Width, Height int
	Precision     int       // sample precision P from the SOF (8, 12, 2..16 for lossless)
	Process       string    // "baseline", "extended", "lossless"
	Planes        [][]int32 // one per component, Width*Height each, row-major; subsampled components upsampled by replication
}

// Config is what the header says about the frame, up to and including the
// first SOF marker.
type Config struct {
	Width, Height int
	Precision     int
	Components    int
	// Process is "baseline", "extended" or "lossless"; for a refused
	// stream it is "progressive", "arithmetic", "hierarchical", "JPEG-LS"
	// or "reserved".
	Process string
	SOF     int // the SOF marker's second byte, e.g. 0xC3
	// H and V are the sampling factors of each component.
	H, V []int
}

// FormatError reports malformed or truncated data.
type FormatError string

func (e FormatError) Error() string { return "jpeg: " + string(e) }

// UnsupportedError reports a valid stream that this package does not decode.
type UnsupportedError string

func (e UnsupportedError) Error() string { return "jpeg: unsupported " + string(e) }

const (
	mSOF0  = 0xC0
	mSOF1  = 0xC1
	mSOF3  = 0xC3
	mDHT   = 0xC4
	mDAC   = 0xCC
	mRST0  = 0xD0
	mRST7  = 0xD7
	mSOI   = 0xD8
	mEOI   = 0xD9
	mSOS   = 0xDA
	mDQT   = 0xDB
	mDNL   = 0xDC
	mDRI   = 0xDD
	mDHP   = 0xDE
	mEXP   = 0xDF
	mAPP0  = 0xE0
	mAPPF  = 0xEF
	mJPG0  = 0xF0
	mSOF55 = 0xF7 // JPEG-LS
	mLSE   = 0xF8 // JPEG-LS parameters
	mJPGD  = 0xFD
	mCOM   = 0xFE
)

var unsupportedProcess = [16]string{
	2: "progressive", 5: "hierarchical", 6: "hierarchical", 7: "hierarchical",
	8: "reserved", 9: "arithmetic", 10: "arithmetic", 11: "arithmetic",
	13: "hierarchical", 14: "hierarchical", 15: "hierarchical",
}

// unsupportedMarker names the markers of processes this package refuses;
// naming them lets the caller tell the user which transfer syntax it met.
func unsupportedMarker(m byte) error {
	var s string
	switch m {
	case 0xC2:
		s = "progressive DCT (SOF2)"
	case 0xC5:
		s = "hierarchical sequential DCT (SOF5)"
	case 0xC6:
		s = "hierarchical progressive DCT (SOF6)"
	case 0xC7:
		s = "hierarchical lossless (SOF7)"
	case 0xC8:
		s = "reserved JPEG extension (JPG marker 0xFFC8)"
	case 0xC9:
		s = "arithmetic-coded extended DCT (SOF9)"
	case 0xCA:
		s = "arithmetic-coded progressive DCT (SOF10)"
	case 0xCB:
		s = "arithmetic-coded lossless (SOF11)"
	case 0xCD:
		s = "hierarchical arithmetic-coded sequential DCT (SOF13)"
	case 0xCE:
		s = "hierarchical arithmetic-coded progressive DCT (SOF14)"
	case 0xCF:
		s = "hierarchical arithmetic-coded lossless (SOF15)"
	case mDAC:
		s = "arithmetic coding (DAC)"
	case mDHP:
		s = "hierarchical mode (DHP)"
	case mEXP:
		s = "hierarchical mode (EXP)"
	case mSOF55:
		s = "JPEG-LS (SOF55)"
	case mLSE:
		s = "JPEG-LS (LSE)"
	default:
		return nil
	}
	return UnsupportedError("process: " + s)
}

type component struct {
	id     byte
	h, v   int
	tq     int
	w, h2  int // size of the component plane, ceil(X*h/hmax) x ceil(Y*v/vmax)
	stride int // row length of the decoded plane, padded to whole blocks for DCT
	rows   int // rows of the decoded plane
	plane  []int32
	done   bool
}

type decoder struct {
	data []byte
	pos  int

	sof        byte
	process    string
	precision  int
	width      int
	height     int
	comps      []component
	hmax, vmax int

	qt    [4][64]int32
	qtSet [4]bool
	dc    [4]*huffTable
	ac    [4]*huffTable
	ri    int // restart interval in MCUs, 0 = none

	scans int
	br    bitReader
}

// DecodeConfig reads only the header up to the first SOF: size, precision,
// components, process; no pixel allocation. For a recognised but unsupported
// SOF it returns what it read together with an UnsupportedError.
func DecodeConfig(data []byte) (Config, error) {
	d := &decoder{data: data}
	if err := d.readToSOF(); err != nil {
		return d.config(), err
	}
	return d.config(), nil
}

func (d *decoder) config() Config {
	c := Config{Width: d.width, Height: d.height, Precision: d.precision,
		Components: len(d.comps), Process: d.process, SOF: int(d.sof)}
	for _, k := range d.comps {
		c.H = append(c.H, k.h)
		c.V = append(c.V, k.v)
	}
	return c
}

// Decode decodes the whole stream. It refuses, from the SOF header and before
// allocating anything big, an image with more than maxPixels pixels
// (Width*Height) or a side over 65535. maxPixels <= 0 means no pixel limit.
func Decode(data []byte, maxPixels int) (*Frame, error) {
	d := &decoder{data: data}
	if err := d.readToSOF(); err != nil {
		return nil, err
	}
	if d.width > 65535 || d.height > 65535 {
		return nil, FormatError(fmt.Sprintf("image size %dx%d has a side over 65535", d.width, d.height))
	}
	if maxPixels > 0 && d.width*d.height > maxPixels {
		return nil, FormatError(fmt.Sprintf("image size %dx%d exceeds the limit of %d pixels", d.width, d.height, maxPixels))
	}
	// Every lossless sample costs at least one bit (its Huffman code) and
	// every DCT block two (DC code and end of block), so a stream too short
	// for its declared size is refused before the planes are allocated.
	need := 0
	for _, c := range d.comps {
		if d.process == "lossless" {
			need += c.w * c.h2
		} else {
			need += 2 * ((c.w + 7) / 8) * ((c.h2 + 7) / 8)
		}
	}
	if len(d.data)*8 < need {
		return nil, FormatError(fmt.Sprintf("truncated data: %d bytes cannot hold a %dx%d frame", len(d.data), d.width, d.height))
	}
	for i := range d.comps {
		c := &d.comps[i]
		if d.process == "lossless" {
			c.stride, c.rows = c.w, c.h2
		} else {
			// Interleaved scans write whole MCUs, so the plane covers the
			// MCU grid; a non-interleaved scan needs no more than that.
			mx := (d.width + 8*d.hmax - 1) / (8 * d.hmax)
			my := (d.height + 8*d.vmax - 1) / (8 * d.vmax)
			c.stride, c.rows = mx*c.h*8, my*c.v*8
		}
		c.plane = make([]int32, c.stride*c.rows)
	}
	if err := d.readScans(); err != nil {
		return nil, err
	}
	for i := range d.comps {
		if !d.comps[i].done {
			return nil, FormatError(fmt.Sprintf("component %d has no scan", d.comps[i].id))
		}
	}
	f := &Frame{Width: d.width, Height: d.height, Precision: d.precision, Process: d.process}
	for i := range d.comps {
		f.Planes = append(f.Planes, d.upsample(&d.comps[i]))
	}
	return f, nil
}

// upsample returns the component at full image size, reusing the decoded
// plane when it already has that layout.
func (d *decoder) upsample(c *component) []int32 {
	W, H := d.width, d.height
	if c.h == d.hmax && c.v == d.vmax {
		// Compact the block-padded rows in place: row y moves down to
		// y*W <= y*stride, so going forward never overwrites a row not
		// yet moved.
		for y := 1; y < H && c.stride != W; y++ {
			copy(c.plane[y*W:(y+1)*W], c.plane[y*c.stride:y*c.stride+W])
		}
		return c.plane[: W*H : W*H]
	}
	out := make([]int32, W*H)
	xmap := make([]int, W)
	for x := range xmap {
		xmap[x] = x * c.h / d.hmax
	}
	for y := 0; y < H; y++ {
		src := c.plane[(y*c.v/d.vmax)*c.stride:]
		dst := out[y*W : (y+1)*W]
		for x := range dst {
			dst[x] = src[xmap[x]]
		}
	}
	c.plane = nil
	return out
}

func (d *decoder) truncated(what string) error {
	return FormatError("truncated data in " + what)
}

// nextMarker skips to the next marker and returns its code. Bytes that are
// not a marker are skipped as libjpeg does (it warns about "extraneous
// data"), which tolerates encoders that pad between segments.
func (d *decoder) nextMarker() (byte, error) {
	for {
		for d.pos < len(d.data) && d.data[d.pos] != 0xFF {
			d.pos++
		}
		// Any number of 0xFF fill bytes may precede a marker.
		for d.pos < len(d.data) && d.data[d.pos] == 0xFF {
			d.pos++
		}
		if d.pos >= len(d.data) {
			return 0, FormatError("missing EOI marker (truncated data)")
		}
		m := d.data[d.pos]
		d.pos++
		if m != 0 {
			return m, nil
		}
	}
}

// segment returns the payload of the marker segment at d.pos.
func (d *decoder) segment(m byte) ([]byte, error) {
	if len(d.data)-d.pos < 2 {
		return nil, FormatError(fmt.Sprintf("truncated marker segment 0xFF%02X", m))
	}
	n := int(d.data[d.pos])<<8 | int(d.data[d.pos+1])
	if n < 2 {
		return nil, FormatError(fmt.Sprintf("bad length %d of marker segment 0xFF%02X", n, m))
	}
	if len(d.data)-d.pos < n {
		return nil, FormatError(fmt.Sprintf("marker segment 0xFF%02X length %d runs past the end of the data", m, n))
	}
	p := d.data[d.pos+2 : d.pos+n]
	d.pos += n
	return p, nil
}

func (d *decoder) readToSOF() error {
	if len(d.data) >= 2 && d.data[0] == 0xFF && d.data[1] == 0x4F {
		return UnsupportedError("format: JPEG 2000 codestream")
	}
	if len(d.data) < 2 || d.data[0] != 0xFF || d.data[1] != mSOI {
		return FormatError("missing SOI marker: not a JPEG stream")
	}
	d.pos = 2
	for {
		m, err := d.nextMarker()
		if err != nil {
			return err
		}
		switch {
		case m == mSOF0 || m == mSOF1 || m == mSOF3:
			return d.readSOF(m)
		case m == mSOF55:
			// Fill in the size so DecodeConfig can still report it;
			// JPEG-LS uses the same SOF layout.
			if p, err := d.segment(m); err == nil && len(p) >= 6 {
				d.precision = int(p[0])
				d.height = int(p[1])<<8 | int(p[2])
				d.width = int(p[3])<<8 | int(p[4])
			}
			d.process = "JPEG-LS"
			d.sof = m
			return unsupportedMarker(m)
		case m >= 0xC0 && m <= 0xCF && m != mDHT && m != mDAC:
			// Read the frame header anyway so DecodeConfig can say what
			// the image is.
			if p, err := d.segment(m); err == nil && len(p) >= 6 {
				d.precision = int(p[0])
				d.height = int(p[1])<<8 | int(p[2])
				d.width = int(p[3])<<8 | int(p[4])
				if nf := int(p[5]); len(p) == 6+3*nf {
					d.comps = make([]component, nf)
					for i := range d.comps {
						d.comps[i].h, d.comps[i].v = int(p[7+3*i]>>4), int(p[7+3*i]&15)
					}
				}
			}
			d.process = unsupportedProcess[m&15]
			d.sof = m
			return unsupportedMarker(m)
		case m == mSOS:
			return FormatError("SOS marker before SOF")
		case m == mEOI:
			return FormatError("EOI marker before SOF")
		}
		if err := d.tableOrMisc(m); err != nil {
			return err
		}
	}
}

// tableOrMisc handles the markers allowed both before the SOF and between
// scans.
func (d *decoder) tableOrMisc(m byte) error {
	if err := unsupportedMarker(m); err != nil {
		return err
	}
	switch {
	case m == mDHT:
		p, err := d.segment(m)
		if err != nil {
			return err
		}
		return d.readDHT(p)
	case m == mDQT:
		p, err := d.segment(m)
		if err != nil {
			return err
		}
		return d.readDQT(p)
	case m == mDRI:
		p, err := d.segment(m)
		if err != nil {
			return err
		}
		if len(p) != 2 {
			return FormatError("bad DRI segment length")
		}
		d.ri = int(p[0])<<8 | int(p[1])
		return nil
	case m == mDNL:
		// The SOF's height is not 0 (that is refused), so like libjpeg
		// we ignore the redundant DNL.
		_, err := d.segment(m)
		return err
	case m >= mAPP0 && m <= mAPPF, m == mCOM, m >= mJPG0 && m <= mJPGD:
		_, err := d.segment(m)
		return err
	case m >= mRST0 && m <= mRST7:
		return FormatError(fmt.Sprintf("unexpected RST%d marker outside a scan", m-mRST0))
	case m == mSOI:
		return FormatError("unexpected second SOI marker")
	case m >= 0xC0 && m <= 0xCF:
		return FormatError(fmt.Sprintf("unexpected second SOF marker 0xFF%02X", m))
	}
	return FormatError(fmt.Sprintf("unknown marker 0xFF%02X", m))
}

func (d *decoder) readSOF(m byte) error {
	p, err := d.segment(m)
	if err != nil {
		return err
	}
	d.sof = m
	switch m {
	case mSOF0:
		d.process = "baseline"
	case mSOF1:
		d.process = "extended"
	case mSOF3:
		d.process = "lossless"
	}
	if len(p) < 6 {
		return FormatError("SOF segment too short")
	}
	d.precision = int(p[0])
	d.height = int(p[1])<<8 | int(p[2])
	d.width = int(p[3])<<8 | int(p[4])
	nf := int(p[5])
	if len(p) != 6+3*nf {
		return FormatError("bad SOF segment length")
	}
	switch d.process {
	case "baseline":
		if d.precision != 8 {
			return FormatError(fmt.Sprintf("baseline precision %d, want 8", d.precision))
		}
	case "extended":
		if d.precision != 8 && d.precision != 12 {
			return FormatError(fmt.Sprintf("extended precision %d, want 8 or 12", d.precision))
		}
	case "lossless":
		if d.precision < 2 || d.precision > 16 {
			return FormatError(fmt.Sprintf("lossless precision %d, want 2..16", d.precision))
		}
	}
	if d.width == 0 {
		return FormatError("image width 0")
	}
	if d.height == 0 {
		return UnsupportedError("image height 0 (height defined by a DNL marker)")
	}
	if nf == 0 {
		return FormatError("SOF with no components")
	}
	if nf > 4 {
		return UnsupportedError(fmt.Sprintf("%s image with %d components (at most 4)", d.process, nf))
	}
	d.comps = make([]component, nf)
	d.hmax, d.vmax = 1, 1
	for i := range d.comps {
		c := &d.comps[i]
		c.id = p[6+3*i]
		c.h = int(p[7+3*i] >> 4)
		c.v = int(p[7+3*i] & 15)
		c.tq = int(p[8+3*i])
		if c.h < 1 || c.h > 4 || c.v < 1 || c.v > 4 {
			return FormatError(fmt.Sprintf("bad sampling factors %dx%d", c.h, c.v))
		}
		if c.tq > 3 {
			return FormatError(fmt.Sprintf("bad quantisation table selector %d", c.tq))
		}
		for j := 0; j < i; j++ {
			if d.comps[j].id == c.id {
				return FormatError(fmt.Sprintf("duplicate component id %d", c.id))
			}
		}
		d.hmax = max(d.hmax, c.h)
		d.vmax = max(d.vmax, c.v)
	}
	for i := range d.comps {
		c := &d.comps[i]
		c.w = (d.width*c.h + d.hmax - 1) / d.hmax
		c.h2 = (d.height*c.v + d.vmax - 1) / d.vmax
	}
	return nil
}

func (d *decoder) readDQT(p []byte) error {
	for len(p) > 0 {
		pq, tq := p[0]>>4, int(p[0]&15)
		if tq > 3 || pq > 1 {
			return FormatError("bad DQT table")
		}
		n := 64 * (int(pq) + 1)
		if len(p) < 1+n {
			return FormatError("DQT segment too short")
		}
		for i := 0; i < 64; i++ {
			var q int32
			if pq == 0 {
				q = int32(p[1+i])
			} else {
				q = int32(p[1+2*i])<<8 | int32(p[2+2*i])
			}
			// DQT lists the table in zig-zag order.
			d.qt[tq][zigzag[i]] = q
		}
		d.qtSet[tq] = true
		p = p[1+n:]
	}
	return nil
}

func (d *decoder) readDHT(p []byte) error {
	for len(p) > 0 {
		if len(p) < 17 {
			return FormatError("DHT segment too short")
		}
		tc, th := p[0]>>4, int(p[0]&15)
		if tc > 1 || th > 3 {
			return FormatError("bad DHT table class or id")
		}
		var counts [16]int
		n := 0
		for i := range counts {
			counts[i] = int(p[1+i])
			n += counts[i]
		}
		if n > 256 || len(p) < 17+n {
			return FormatError("bad DHT table length")
		}
		t, err := newHuffTable(counts, p[17:17+n])
		if err != nil {
			return err
		}
		if tc == 0 {
			d.dc[th] = t
		} else {
			d.ac[th] = t
		}
		p = p[17+n:]
	}
	return nil
}

// readScans processes the markers after the SOF up to EOI.
func (d *decoder) readScans() error {
	for {
		m, err := d.nextMarker()
		if err != nil {
			return err
		}
		switch m {
		case mEOI:
			if d.scans == 0 {
				return FormatError("no scan before EOI")
			}
			return nil
		case mSOS:
			p, err := d.segment(m)
			if err != nil {
				return err
			}
			d.scans++
			if err := d.readScan(p); err != nil {
				return err
			}
			continue
		}
		if err := d.tableOrMisc(m); err != nil {
			return err
		}
	}
}

type scanComp struct {
	c      *component
	dc, ac *huffTable
	q      *[64]int32
}

func (d *decoder) readScan(p []byte) error {
	if len(p) < 1 {
		return FormatError("SOS segment too short")
	}
	ns := int(p[0])
	if ns < 1 || ns > 4 || len(p) != 4+2*ns {
		return FormatError("bad SOS segment length")
	}
	sc := make([]scanComp, ns)
	for i := range sc {
		id := p[1+2*i]
		var c *component
		for j := range d.comps {
			if d.comps[j].id == id {
				c = &d.comps[j]
			}
		}
		if c == nil {
			return FormatError(fmt.Sprintf("scan names unknown component %d", id))
		}
		if c.done {
			return FormatError(fmt.Sprintf("component %d appears in more than one scan", id))
		}
		for j := 0; j < i; j++ {
			if sc[j].c == c {
				return FormatError(fmt.Sprintf("component %d twice in one scan", id))
			}
		}
		td, ta := p[2+2*i]>>4, p[2+2*i]&15
		if td > 3 || ta > 3 {
			return FormatError("bad Huffman table selector")
		}
		sc[i].c = c
		sc[i].dc = d.dc[td]
		if sc[i].dc == nil {
			return FormatError(fmt.Sprintf("scan uses undefined DC/lossless Huffman table %d", td))
		}
		if d.process != "lossless" {
			sc[i].ac = d.ac[ta]
			if sc[i].ac == nil {
				return FormatError(fmt.Sprintf("scan uses undefined AC Huffman table %d", ta))
			}
			if !d.qtSet[c.tq] {
				return FormatError(fmt.Sprintf("undefined quantisation table %d", c.tq))
			}
			// libjpeg latches the table at the component's first scan; with
			// one scan per component this is the same.
			q := d.qt[c.tq]
			sc[i].q = &q
		}
	}
	ss, al := int(p[1+2*ns]), int(p[3+2*ns]&15)
	d.br = bitReader{data: d.data, pos: d.pos}
	var err error
	if d.process == "lossless" {
		if ss < 1 || ss > 7 {
			return FormatError(fmt.Sprintf("bad lossless predictor %d", ss))
		}
		if al >= d.precision {
			return FormatError(fmt.Sprintf("point transform %d not below precision %d", al, d.precision))
		}
		err = d.decodeLossless(sc, ss, al)
	} else {
		// libjpeg only warns about Ss, Se, Ah, Al other than 0, 63, 0, 0
		// in a sequential scan and decodes it as sequential; so do we.
		err = d.decodeDCT(sc)
	}
	if err != nil {
		return err
	}
	for i := range sc {
		sc[i].c.done = true
	}
	// The bit reader stops at the first marker; anything it fetched but the
	// scan did not use is padding bits of the final byte.
	d.pos = d.br.pos
	return nil
}

// restart consumes the RSTn marker that must end every restart interval.
func (d *decoder) restart(n int) error {
	// Bits left in the reader are the 1-bit padding of the interval's
	// last byte; libjpeg also skips any stray bytes before the marker.
	d.pos = d.br.pos
	m, err := d.nextMarker()
	if err != nil {
		return d.truncated(fmt.Sprintf("scan %d (missing RST marker)", d.scans))
	}
	want := byte(mRST0 + n&7)
	if m == mEOI {
		return d.truncated(fmt.Sprintf("scan %d (EOI where RST%d was due)", d.scans, n&7))
	}
	if m != want {
		return FormatError(fmt.Sprintf("scan %d: expected RST%d marker, found 0xFF%02X", d.scans, n&7, m))
	}
	d.br = bitReader{data: d.data, pos: d.pos}
	return nil
}

var zigzag = [64]int{
	0, 1, 8, 16, 9, 2, 3, 10,
	17, 24, 32, 25, 18, 11, 4, 5,
	12, 19, 26, 33, 40, 48, 41, 34,
	27, 20, 13, 6, 7, 14, 21, 28,
	35, 42, 49, 56, 57, 50, 43, 36,
	29, 22, 15, 23, 30, 37, 44, 51,
	58, 59, 52, 45, 38, 31, 39, 46,
	53, 60, 61, 54, 47, 55, 62, 63,
}
