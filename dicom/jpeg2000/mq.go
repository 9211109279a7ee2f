package jpeg2000

// The MQ arithmetic decoder of T.800 Annex C, and the raw (bypass) bit
// reader used by the selective arithmetic coding bypass mode.

// mqState is one row of Table C.2: probability estimate and transitions.
type mqState struct {
	qe         uint32
	nmps, nlps uint8
	switchMPS  bool
}

var mqStates = [47]mqState{
	{0x5601, 1, 1, true}, {0x3401, 2, 6, false}, {0x1801, 3, 9, false}, {0x0AC1, 4, 12, false},
	{0x0521, 5, 29, false}, {0x0221, 38, 33, false}, {0x5601, 7, 6, true}, {0x5401, 8, 14, false},
	{0x4801, 9, 14, false}, {0x3801, 10, 14, false}, {0x3001, 11, 17, false}, {0x2401, 12, 18, false},
	{0x1C01, 13, 20, false}, {0x1601, 29, 21, false}, {0x5601, 15, 14, true}, {0x5401, 16, 14, false},
	{0x5101, 17, 15, false}, {0x4801, 18, 16, false}, {0x3801, 19, 17, false}, {0x3401, 20, 18, false},
	{0x3001, 21, 19, false}, {0x2801, 22, 19, false}, {0x2401, 23, 20, false}, {0x2201, 24, 21, false},
	{0x1C01, 25, 22, false}, {0x1801, 26, 23, false}, {0x1601, 27, 24, false}, {0x1401, 28, 25, false},
	{0x1201, 29, 26, false}, {0x1101, 30, 27, false}, {0x0AC1, 31, 28, false}, {0x09C1, 32, 29, false},
	{0x08A1, 33, 30, false}, {0x0521, 34, 31, false}, {0x0441, 35, 32, false}, {0x02A1, 36, 33, false},
	{0x0221, 37, 34, false}, {0x0141, 38, 35, false}, {0x0111, 39, 36, false}, {0x0085, 40, 37, false},
	{0x0049, 41, 38, false}, {0x0025, 42, 39, false}, {0x0015, 43, 40, false}, {0x0009, 44, 41, false},
	{0x0005, 45, 42, false}, {0x0001, 45, 43, false}, {0x5601, 46, 46, false},
}

// Context labels of the tier-1 coder (T.800 Table D.7 and D.2).
const (
	ctxZC0     = 0  // 0..8 zero coding
	ctxSC0     = 9  // 9..13 sign coding
	ctxMR0     = 14 // 14..16 magnitude refinement
	ctxRL      = 17 // run-length
	ctxUniform = 18
	numCtx     = 19
)

// mqEntry is one (state, MPS) pair, with the MPS switch of Table C.2
// folded into the LPS transition so that decoding needs no extra branch.
type mqEntry struct {
	qe         uint32
	mps        uint8
	nmps, nlps uint8 // indices into mqTable
}

var mqTable [2 * len(mqStates)]mqEntry

func init() {
	for s, st := range mqStates {
		for mps := 0; mps < 2; mps++ {
			lps := mps
			if st.switchMPS {
				lps = 1 - mps
			}
			mqTable[2*s+mps] = mqEntry{qe: st.qe, mps: uint8(mps),
				nmps: uint8(2*int(st.nmps) + mps), nlps: uint8(2*int(st.nlps) + lps)}
		}
	}
}

// mqDecoder keeps the registers of the software-conventions decoder
// (Figures C.19 to C.21). Bytes past the end of the segment read as 0xFF,
// which is how the standard lets a terminated segment run dry.
type mqDecoder struct {
	data []byte
	pos  int // index of the byte most recently fed into c
	c    uint32
	a    uint32
	ct   int
	ctx  [numCtx]uint8 // index into mqTable per context
}

func (m *mqDecoder) byteAt(i int) uint32 {
	if i < len(m.data) {
		return uint32(m.data[i])
	}
	return 0xFF
}

// resetContexts puts every context in its initial state (Table D.7).
func (m *mqDecoder) resetContexts() {
	clear(m.ctx[:])
	m.ctx[ctxZC0] = 2 * 4
	m.ctx[ctxRL] = 2 * 3
	m.ctx[ctxUniform] = 2 * 46
}

// init starts decoding a new codeword segment (INITDEC).
func (m *mqDecoder) init(data []byte) {
	m.data = data
	m.pos = 0
	m.c = m.byteAt(0) << 16
	m.bytein()
	m.c <<= 7
	m.ct -= 7
	m.a = 0x8000
}

func (m *mqDecoder) bytein() {
	if m.byteAt(m.pos) == 0xFF {
		if m.byteAt(m.pos+1) > 0x8F {
			// A marker (or the end of data): feed 1s without advancing.
			m.c += 0xFF00
			m.ct = 8
		} else {
			m.pos++
			m.c += m.byteAt(m.pos) << 9
			m.ct = 7
		}
	} else {
		m.pos++
		m.c += m.byteAt(m.pos) << 8
		m.ct = 8
	}
}

// decode returns one binary decision in context cx.
func (m *mqDecoder) decode(cx int) int {
	e := &mqTable[m.ctx[cx]]
	qe := e.qe
	m.a -= qe
	var d int
	if (m.c >> 16) < qe {
		// LPS path, with conditional exchange
		if m.a < qe {
			d = int(e.mps)
			m.ctx[cx] = e.nmps
		} else {
			d = 1 - int(e.mps)
			m.ctx[cx] = e.nlps
		}
		m.a = qe
	} else {
		m.c -= qe << 16
		if m.a&0x8000 != 0 {
			return int(e.mps)
		}
		if m.a < qe {
			d = 1 - int(e.mps)
			m.ctx[cx] = e.nlps
		} else {
			d = int(e.mps)
			m.ctx[cx] = e.nmps
		}
	}
	// RENORMD
	for {
		if m.ct == 0 {
			m.bytein()
		}
		m.a <<= 1
		m.c <<= 1
		m.ct--
		if m.a&0x8000 != 0 {
			break
		}
	}
	return d
}

// rawDecoder reads the uncoded bits of bypass segments; a 0xFF byte is
// followed by a stuffed zero bit, as in the packet headers.
type rawDecoder struct {
	data []byte
	pos  int
	c    uint32
	ct   int
}

func (r *rawDecoder) init(data []byte) {
	r.data = data
	r.pos = 0
	r.c = 0
	r.ct = 0
}

func (r *rawDecoder) bit() int {
	if r.ct == 0 {
		var b uint32 = 0xFF
		if r.pos < len(r.data) {
			b = uint32(r.data[r.pos])
		}
		if r.c == 0xFF {
			if b > 0x8F {
				r.c = 0xFF
				r.ct = 8
			} else {
				r.c = b
				r.pos++
				r.ct = 7
			}
		} else {
			r.c = b
			r.pos++
			r.ct = 8
		}
	}
	r.ct--
	return int(r.c>>uint(r.ct)) & 1
}
