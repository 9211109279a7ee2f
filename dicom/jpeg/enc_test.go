package jpeg

// Minimal test-only JPEG encoders. dcmcjpeg cannot write restart intervals,
// precisions other than 8/12/16, several lossless scans, 4:2:0 sampling or
// the SSSS=16 difference, so these streams are made here and decoded by
// dcmdjpeg for the reference (and, for lossless, compared with the source).

import (
	"math"
	"sort"
)

type bitWriter struct {
	out []byte
	acc uint64
	n   uint
}

func (w *bitWriter) put(v uint32, n uint) {
	if n == 0 {
		return
	}
	w.acc = w.acc<<n | uint64(v)&(1<<n-1)
	w.n += n
	for w.n >= 8 {
		b := byte(w.acc >> (w.n - 8))
		w.out = append(w.out, b)
		if b == 0xFF {
			w.out = append(w.out, 0)
		}
		w.n -= 8
	}
}

// align pads with one bits to a byte boundary, as T.81 F.1.2.3 asks.
func (w *bitWriter) align() {
	if w.n > 0 {
		w.put(1<<(8-w.n)-1, 8-w.n)
	}
}

func (w *bitWriter) marker(m byte) { w.out = append(w.out, 0xFF, m) }

func (w *bitWriter) segment(m byte, p []byte) {
	w.out = append(w.out, 0xFF, m, byte((len(p)+2)>>8), byte(len(p)+2))
	w.out = append(w.out, p...)
}

type huffSpec struct {
	counts [16]byte
	vals   []byte
	code   [256]uint32
	size   [256]uint
}

// buildHuff assigns code lengths by frequency rank from a fixed schedule
// that satisfies the Kraft inequality; it reaches length 14 so that the
// decoder's slow path for codes over 9 bits is exercised too.
func buildHuff(freq *[256]int) *huffSpec {
	sched := [16]int{0, 1, 2, 2, 3, 4, 6, 8, 12, 16, 24, 32, 40, 20, 0, 0}
	var syms []int
	for s, f := range freq {
		if f > 0 {
			syms = append(syms, s)
		}
	}
	if len(syms) == 0 {
		syms = []int{0}
	}
	sort.SliceStable(syms, func(i, j int) bool { return freq[syms[i]] > freq[syms[j]] })
	h := &huffSpec{}
	k := 0
	code := uint32(0)
	for l := 1; l <= 16; l++ {
		for i := 0; i < sched[l-1] && k < len(syms); i++ {
			s := syms[k]
			h.vals = append(h.vals, byte(s))
			h.counts[l-1]++
			h.code[s], h.size[s] = code, uint(l)
			code++
			k++
		}
		code <<= 1
	}
	return h
}

func (h *huffSpec) dht(class, id byte) []byte {
	p := []byte{class<<4 | id}
	p = append(p, h.counts[:]...)
	return append(p, h.vals...)
}

func magnitude(v int32) uint {
	if v < 0 {
		v = -v
	}
	n := uint(0)
	for v != 0 {
		n++
		v >>= 1
	}
	return n
}

func (w *bitWriter) emit(h *huffSpec, s int, v int32, n uint) {
	w.put(h.code[s], h.size[s])
	if n > 0 && n < 16 {
		if v < 0 {
			v += 1<<n - 1
		}
		w.put(uint32(v), n)
	}
}

type llOpts struct {
	precision, pred, pt, ri int
	separate                bool // one scan per component instead of interleaved
}

// encodeLossless writes an SOF3 stream of full-size planes (samples in the
// low precision bits).
func encodeLossless(planes [][]uint16, w, h int, o llOpts) []byte {
	var bw bitWriter
	bw.marker(mSOI)
	bw.segment(mCOM, []byte("maira test encoder"))
	sof := []byte{byte(o.precision), byte(h >> 8), byte(h), byte(w >> 8), byte(w), byte(len(planes))}
	for i := range planes {
		sof = append(sof, byte(i+1), 0x11, 0)
	}
	bw.segment(mSOF3, sof)
	if o.ri > 0 {
		bw.segment(mDRI, []byte{byte(o.ri >> 8), byte(o.ri)})
	}
	var scans [][]int
	if o.separate {
		for i := range planes {
			scans = append(scans, []int{i})
		}
	} else {
		all := []int{}
		for i := range planes {
			all = append(all, i)
		}
		scans = [][]int{all}
	}
	for _, sc := range scans {
		ns := len(sc)
		// Differences in MCU order, per row.
		diffs := make([]int32, w*h*ns)
		initial := int32(1) << (o.precision - o.pt - 1)
		rowsPerRestart := 0
		if o.ri > 0 {
			rowsPerRestart = o.ri / w
		}
		for k, ci := range sc {
			p := planes[ci]
			at := func(x, y int) int32 { return int32(p[y*w+x] >> o.pt) }
			for y := 0; y < h; y++ {
				first := y == 0 || (rowsPerRestart > 0 && y%rowsPerRestart == 0)
				for x := 0; x < w; x++ {
					var pr int32
					switch {
					case first && x == 0:
						pr = initial
					case first:
						pr = at(x-1, y)
					case x == 0:
						pr = at(x, y-1)
					default:
						ra, rb, rc := at(x-1, y), at(x, y-1), at(x-1, y-1)
						switch o.pred {
						case 1:
							pr = ra
						case 2:
							pr = rb
						case 3:
							pr = rc
						case 4:
							pr = ra + rb - rc
						case 5:
							pr = ra + (rb-rc)>>1
						case 6:
							pr = rb + (ra-rc)>>1
						case 7:
							pr = (ra + rb) >> 1
						}
					}
					d := (at(x, y) - pr) & 0xFFFF
					if d > 32768 {
						d -= 65536
					}
					diffs[(y*w+x)*ns+k] = d
				}
			}
		}
		var freq [4][256]int
		for i, d := range diffs {
			freq[i%ns][magnitude(d)]++
		}
		var tabs [4]*huffSpec
		var dht []byte
		for k := range sc {
			tabs[k] = buildHuff(&freq[k])
			dht = append(dht, tabs[k].dht(0, byte(k))...)
		}
		bw.segment(mDHT, dht)
		sos := []byte{byte(ns)}
		for k, ci := range sc {
			sos = append(sos, byte(ci+1), byte(k<<4))
		}
		sos = append(sos, byte(o.pred), 0, byte(o.pt))
		bw.segment(mSOS, sos)
		rst := 0
		for y := 0; y < h; y++ {
			if rowsPerRestart > 0 && y > 0 && y%rowsPerRestart == 0 {
				bw.align()
				bw.marker(byte(mRST0 + rst&7))
				rst++
			}
			for i := y * w * ns; i < (y+1)*w*ns; i++ {
				d := diffs[i]
				bw.emit(tabs[i%ns], int(magnitude(d)), d, magnitude(d))
			}
		}
		bw.align()
	}
	bw.marker(mEOI)
	return bw.out
}

type dctComp struct {
	h, v  int
	w, hh int // component size
	pix   []int32
}

type dctOpts struct {
	precision int // 8 (SOF0) or 12 (SOF1)
	ri        int
	separate  bool
	scale     float64 // quantiser scale
}

var k1 = [64]int32{
	16, 11, 10, 16, 24, 40, 51, 61,
	12, 12, 14, 19, 26, 58, 60, 55,
	14, 13, 16, 24, 40, 57, 69, 56,
	14, 17, 22, 29, 51, 87, 80, 62,
	18, 22, 37, 56, 68, 109, 103, 77,
	24, 35, 55, 64, 81, 104, 113, 92,
	49, 64, 78, 87, 103, 121, 120, 101,
	72, 92, 95, 98, 112, 100, 103, 99,
}

// encodeDCT writes a sequential DCT stream; comps hold samples at their
// own (subsampled) size.
func encodeDCT(W, H int, comps []dctComp, o dctOpts) []byte {
	var bw bitWriter
	bw.marker(mSOI)
	var q [64]int32
	for i := range q {
		v := int32(math.Round(float64(k1[i]) * o.scale))
		if o.precision == 12 {
			v *= 4
		}
		q[i] = min(max(v, 1), 32767)
	}
	dqt := []byte{0}
	if o.precision == 12 {
		dqt[0] = 0x10
		for i := 0; i < 64; i++ {
			dqt = append(dqt, byte(q[zigzag[i]]>>8), byte(q[zigzag[i]]))
		}
	} else {
		for i := 0; i < 64; i++ {
			dqt = append(dqt, byte(q[zigzag[i]]))
		}
	}
	bw.segment(mDQT, dqt)
	hmax, vmax := 1, 1
	for _, c := range comps {
		hmax, vmax = max(hmax, c.h), max(vmax, c.v)
	}
	m := byte(mSOF0)
	if o.precision == 12 {
		m = mSOF1
	}
	sof := []byte{byte(o.precision), byte(H >> 8), byte(H), byte(W >> 8), byte(W), byte(len(comps))}
	for i, c := range comps {
		sof = append(sof, byte(i+1), byte(c.h<<4|c.v), 0)
	}
	bw.segment(m, sof)
	if o.ri > 0 {
		bw.segment(mDRI, []byte{byte(o.ri >> 8), byte(o.ri)})
	}
	var cosT [8][8]float64
	for x := 0; x < 8; x++ {
		for u := 0; u < 8; u++ {
			cosT[x][u] = math.Cos(float64(2*x+1) * float64(u) * math.Pi / 16)
		}
	}
	shift := float64(int(1) << (o.precision - 1))
	maxv := int32(1)<<o.precision - 1
	// fdct quantises the block of comp c at block coordinates bx,by,
	// replicating edge samples beyond the component's size.
	fdct := func(c *dctComp, bx, by int) [64]int32 {
		var f [64]float64
		for y := 0; y < 8; y++ {
			for x := 0; x < 8; x++ {
				sx, sy := min(bx*8+x, c.w-1), min(by*8+y, c.hh-1)
				f[y*8+x] = float64(min(max(c.pix[sy*c.w+sx], 0), maxv)) - shift
			}
		}
		var out [64]int32
		for v := 0; v < 8; v++ {
			for u := 0; u < 8; u++ {
				s := 0.0
				for y := 0; y < 8; y++ {
					for x := 0; x < 8; x++ {
						s += f[y*8+x] * cosT[x][u] * cosT[y][v]
					}
				}
				cu, cv := 1.0, 1.0
				if u == 0 {
					cu = math.Sqrt2 / 2
				}
				if v == 0 {
					cv = math.Sqrt2 / 2
				}
				out[v*8+u] = int32(math.Round(s * cu * cv / 4 / float64(q[v*8+u])))
			}
		}
		return out
	}
	type blockRef struct {
		comp int
		coef [64]int32
		mcu  int
	}
	var scans [][]int
	if o.separate {
		for i := range comps {
			scans = append(scans, []int{i})
		}
	} else {
		all := []int{}
		for i := range comps {
			all = append(all, i)
		}
		scans = [][]int{all}
	}
	for _, sc := range scans {
		var blocks []blockRef
		if len(sc) == 1 {
			c := &comps[sc[0]]
			mx, my := (c.w+7)/8, (c.hh+7)/8
			for by := 0; by < my; by++ {
				for bx := 0; bx < mx; bx++ {
					blocks = append(blocks, blockRef{sc[0], fdct(c, bx, by), by*mx + bx})
				}
			}
		} else {
			mx, my := (W+8*hmax-1)/(8*hmax), (H+8*vmax-1)/(8*vmax)
			for my0 := 0; my0 < my; my0++ {
				for mx0 := 0; mx0 < mx; mx0++ {
					for _, ci := range sc {
						c := &comps[ci]
						for v := 0; v < c.v; v++ {
							for h := 0; h < c.h; h++ {
								blocks = append(blocks, blockRef{ci, fdct(c, mx0*c.h+h, my0*c.v+v), my0*mx + mx0})
							}
						}
					}
				}
			}
		}
		tabOf := func(ci int) int { return min(ci, 1) }
		// DC differences with restarts, and symbol frequencies.
		var dcFreq, acFreq [2][256]int
		dcDiff := make([]int32, len(blocks))
		var pred [4]int32
		for i := range blocks {
			b := &blocks[i]
			if o.ri > 0 && b.mcu%o.ri == 0 && (i == 0 || blocks[i-1].mcu != b.mcu) {
				pred = [4]int32{}
			}
			dcDiff[i] = b.coef[0] - pred[b.comp]
			pred[b.comp] = b.coef[0]
			dcFreq[tabOf(b.comp)][magnitude(dcDiff[i])]++
			run := 0
			for k := 1; k < 64; k++ {
				v := b.coef[zigzag[k]]
				if v == 0 {
					run++
					continue
				}
				for run > 15 {
					acFreq[tabOf(b.comp)][0xF0]++
					run -= 16
				}
				acFreq[tabOf(b.comp)][run<<4|int(magnitude(v))]++
				run = 0
			}
			if run > 0 {
				acFreq[tabOf(b.comp)][0]++
			}
		}
		var dct, act [2]*huffSpec
		var dht []byte
		for t := 0; t < 2; t++ {
			dct[t], act[t] = buildHuff(&dcFreq[t]), buildHuff(&acFreq[t])
			dht = append(dht, dct[t].dht(0, byte(t))...)
			dht = append(dht, act[t].dht(1, byte(t))...)
		}
		bw.segment(mDHT, dht)
		sos := []byte{byte(len(sc))}
		for _, ci := range sc {
			t := byte(tabOf(ci))
			sos = append(sos, byte(ci+1), t<<4|t)
		}
		sos = append(sos, 0, 63, 0)
		bw.segment(mSOS, sos)
		rst := 0
		for i := range blocks {
			b := &blocks[i]
			if o.ri > 0 && i > 0 && b.mcu%o.ri == 0 && blocks[i-1].mcu != b.mcu {
				bw.align()
				bw.marker(byte(mRST0 + rst&7))
				rst++
			}
			t := tabOf(b.comp)
			d := dcDiff[i]
			bw.emit(dct[t], int(magnitude(d)), d, magnitude(d))
			run := 0
			for k := 1; k < 64; k++ {
				v := b.coef[zigzag[k]]
				if v == 0 {
					run++
					continue
				}
				for run > 15 {
					bw.emit(act[t], 0xF0, 0, 0)
					run -= 16
				}
				bw.emit(act[t], run<<4|int(magnitude(v)), v, magnitude(v))
				run = 0
			}
			if run > 0 {
				bw.emit(act[t], 0, 0, 0)
			}
		}
		bw.align()
	}
	bw.marker(mEOI)
	return bw.out
}
