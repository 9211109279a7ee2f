package jpeg2000

import (
	"container/heap"
	"errors"
	"fmt"
	"math/bits"
)

// Tier-2, T.800 Annex B: tag trees, packet headers, and the order in which
// packets follow each other (progression orders and POC).

var errCorruptPacket = errors.New("jpeg2000: corrupt packet header")

// byteStream is a read position in tile data or in packed packet headers.
type byteStream struct {
	b   []byte
	pos int
}

// bitReader reads packet header bits. After a 0xFF byte only seven bits of
// the next byte are used, so that no marker can appear inside a header.
type bitReader struct {
	s   *byteStream
	buf uint32
	ct  int
	err error
}

func (r *bitReader) bytein() {
	r.buf = (r.buf << 8) & 0xFFFF
	if r.buf == 0xFF00 {
		r.ct = 7
	} else {
		r.ct = 8
	}
	if r.s.pos >= len(r.s.b) {
		if r.err == nil {
			r.err = ErrTruncated
		}
		return
	}
	r.buf |= uint32(r.s.b[r.s.pos])
	r.s.pos++
}

func (r *bitReader) bit() int {
	if r.ct == 0 {
		r.bytein()
	}
	r.ct--
	return int(r.buf>>uint(r.ct)) & 1
}

func (r *bitReader) bits(n int) int {
	v := 0
	for i := 0; i < n; i++ {
		v = v<<1 | r.bit()
	}
	return v
}

// align ends a packet header: a final 0xFF byte is followed by a byte
// whose stuffed bit belongs to the header.
func (r *bitReader) align() {
	if r.buf&0xFF == 0xFF {
		r.bytein()
	}
	r.ct = 0
}

type tagNode struct {
	value, low int32
	parent     int32
}

// tagTree codes a 2-D array of non-negative integers hierarchically
// (B.10.2); values are learned incrementally as thresholds rise.
type tagTree struct {
	nodes []tagNode
}

const tagUnknown = 1 << 30

func newTagTree(w, h int) tagTree {
	if w <= 0 || h <= 0 {
		return tagTree{}
	}
	var ws, hs []int
	total := 0
	for cw, ch := w, h; ; cw, ch = (cw+1)/2, (ch+1)/2 {
		ws, hs = append(ws, cw), append(hs, ch)
		total += cw * ch
		if cw == 1 && ch == 1 {
			break
		}
	}
	nodes := make([]tagNode, total)
	off := 0
	for l := range ws {
		next := off + ws[l]*hs[l]
		for y := 0; y < hs[l]; y++ {
			for x := 0; x < ws[l]; x++ {
				n := &nodes[off+y*ws[l]+x]
				n.value = tagUnknown
				if l+1 < len(ws) {
					n.parent = int32(next + (y/2)*ws[l+1] + x/2)
				} else {
					n.parent = -1
				}
			}
		}
		off = next
	}
	return tagTree{nodes}
}

// decode reports whether the value of leaf is below threshold.
func (t *tagTree) decode(r *bitReader, leaf int, threshold int32) bool {
	var stack [40]int32
	sp := 0
	n := int32(leaf)
	for t.nodes[n].parent >= 0 {
		stack[sp] = n
		sp++
		n = t.nodes[n].parent
	}
	low := int32(0)
	for {
		nd := &t.nodes[n]
		if low > nd.low {
			nd.low = low
		} else {
			low = nd.low
		}
		for low < threshold && low < nd.value {
			if r.err != nil {
				return false
			}
			if r.bit() != 0 {
				nd.value = low
			} else {
				low++
			}
		}
		nd.low = low
		if sp == 0 {
			break
		}
		sp--
		n = stack[sp]
	}
	return t.nodes[n].value < threshold
}

type pendingBody struct {
	cb     *codeBlock
	seg    int
	length int
}

func newSegment(style byte, prev *segment) segment {
	switch {
	case style&cbTermAll != 0:
		return segment{maxPasses: 1}
	case style&cbBypass != 0:
		// The first ten passes form one MQ segment; then raw SP+MR pairs
		// alternate with single MQ cleanup passes.
		if prev == nil {
			return segment{maxPasses: 10}
		}
		if prev.maxPasses == 1 || prev.maxPasses == 10 {
			return segment{maxPasses: 2}
		}
		return segment{maxPasses: 1}
	}
	return segment{maxPasses: 1 << 20}
}

// readPacket decodes the packet of (component, resolution, precinct) for
// one layer: header from hs, code-block contributions from body.
func (td *tileDecoder) readPacket(tc *tileComp, res *resolution, p, layer int, hs, body *byteStream) error {
	if td.sop && body.pos+6 <= len(body.b) && body.b[body.pos] == 0xFF && body.b[body.pos+1] == 0x91 {
		body.pos += 6
	}
	hstart := hs.pos
	br := bitReader{s: hs}
	pend := td.pending[:0]
	if br.bit() != 0 {
		style := tc.cc.style
		for _, b := range res.bands {
			if len(b.prec) == 0 {
				continue
			}
			prc := b.precinct(p)
			for i := range prc.blocks {
				cb := &prc.blocks[i]
				var inc bool
				if !cb.included {
					inc = prc.incl.decode(&br, i, int32(layer+1))
				} else {
					inc = br.bit() != 0
				}
				if br.err != nil {
					return br.err
				}
				if !inc {
					continue
				}
				if !cb.included {
					thr := int32(1)
					for !prc.zbp.decode(&br, i, thr) {
						if br.err != nil {
							return br.err
						}
						thr++
						if thr > 80 {
							return errCorruptPacket
						}
					}
					cb.zbp = int(thr - 1)
					cb.included = true
					cb.lblock = 3
				}
				n := decodeNumPasses(&br)
				for br.bit() != 0 && br.err == nil {
					cb.lblock++
					if cb.lblock > 32 {
						return errCorruptPacket
					}
				}
				if br.err != nil {
					return br.err
				}
				if cb.npasses+n > 3*40 {
					return errCorruptPacket
				}
				if len(cb.segs) == 0 {
					cb.segs = append(cb.segs, newSegment(style, nil))
				} else if last := &cb.segs[len(cb.segs)-1]; last.passes == last.maxPasses {
					cb.segs = append(cb.segs, newSegment(style, last))
				}
				si := len(cb.segs) - 1
				for left := n; ; {
					sg := &cb.segs[si]
					np := min(sg.maxPasses-sg.passes, left)
					nb := cb.lblock + bits.Len(uint(np)) - 1
					if nb > 32 {
						return errCorruptPacket
					}
					l := br.bits(nb)
					if br.err != nil {
						return br.err
					}
					sg.passes += np
					pend = append(pend, pendingBody{cb, si, l})
					left -= np
					if left == 0 {
						break
					}
					cb.segs = append(cb.segs, newSegment(style, &cb.segs[si]))
					si++
				}
				cb.npasses += n
			}
		}
	}
	if br.err != nil {
		return br.err
	}
	br.align()
	if br.err != nil {
		return br.err
	}
	if td.eph && hs.pos+2 <= len(hs.b) && hs.b[hs.pos] == 0xFF && hs.b[hs.pos+1] == 0x92 {
		hs.pos += 2
	}
	if td.onHeader != nil && hs == body {
		td.onHeader(hstart, hs.pos)
	}
	for _, pb := range pend {
		if pb.length > len(body.b)-body.pos {
			return fmt.Errorf("%w (code-block data missing)", ErrTruncated)
		}
		pb.cb.data = append(pb.cb.data, body.b[body.pos:body.pos+pb.length]...)
		pb.cb.segs[pb.seg].length += pb.length
		body.pos += pb.length
	}
	td.pending = pend[:0]
	return nil
}

// decodeNumPasses reads the codeword of Table B.4.
func decodeNumPasses(r *bitReader) int {
	if r.bit() == 0 {
		return 1
	}
	if r.bit() == 0 {
		return 2
	}
	if v := r.bits(2); v != 3 {
		return 3 + v
	}
	if v := r.bits(5); v != 31 {
		return 6 + v
	}
	return 37 + r.bits(7)
}

// forEachPacket walks the packets of one progression (a whole COD order or
// one POC entry) and calls fn for those not yet decoded.
func (td *tileDecoder) forEachPacket(e pocEntry, fn func(tc *tileComp, res *resolution, p, layer int) error) error {
	ce := min(e.ce, len(td.comps))
	lye := min(e.lye, td.layers)
	maxRes := 0
	for _, tc := range td.comps {
		maxRes = max(maxRes, len(tc.res))
	}
	re := min(e.re, maxRes)
	visit := func(c, r, p, l int) error {
		tc := td.comps[c]
		res := tc.res[r]
		if res.next[p] != l {
			return nil
		}
		res.next[p]++
		return fn(tc, res, p, l)
	}
	switch e.order {
	case progLRCP, progRLCP:
		outer, inner := lye, re
		if e.order == progRLCP {
			outer, inner = re, lye
		}
		for a := 0; a < outer; a++ {
			for b := 0; b < inner; b++ {
				l, r := a, b
				if e.order == progRLCP {
					l, r = b, a
				}
				if r < e.rs {
					continue
				}
				for c := e.cs; c < ce; c++ {
					tc := td.comps[c]
					if r >= len(tc.res) {
						continue
					}
					for p := range tc.res[r].next {
						if err := visit(c, r, p, l); err != nil {
							return err
						}
					}
				}
			}
		}
		return nil
	}
	// Position-driven orders visit precincts by where they start on the
	// reference grid (B.12.1.3). Instead of stepping over every grid
	// position, as the standard's description does, the precinct grids of
	// the components and resolutions concerned are merged in (y, x, c, r)
	// order, which gives the same sequence in time proportional to the
	// number of precincts.
	var groups [][]pgrid
	switch e.order {
	case progRPCL:
		for r := e.rs; r < re; r++ {
			groups = append(groups, td.grids(e.cs, ce, r, r+1))
		}
	case progPCRL:
		groups = append(groups, td.grids(e.cs, ce, e.rs, re))
	case progCPRL:
		for c := e.cs; c < ce; c++ {
			groups = append(groups, td.grids(c, c+1, e.rs, re))
		}
	}
	for _, g := range groups {
		h := pgridHeap(g)
		heap.Init(&h)
		for len(h) > 0 {
			pg := &h[0]
			p := pg.i + pg.j*pg.res.pw
			for l := pg.res.next[p]; l < lye; l++ {
				if err := visit(pg.c, pg.r, p, l); err != nil {
					return err
				}
			}
			if pg.advance(td) {
				heap.Fix(&h, 0)
			} else {
				heap.Pop(&h)
			}
		}
	}
	return nil
}

// pgrid walks the precincts of one (component, resolution) in raster
// order, which is also the order of their start positions.
type pgrid struct {
	c, r   int
	res    *resolution
	lv     int
	i, j   int
	x, y   int // start of precinct (i, j) on the reference grid
	px, py int // index of the first precinct column and row
}

func (td *tileDecoder) grids(c0, c1, r0, r1 int) []pgrid {
	var g []pgrid
	for c := c0; c < c1; c++ {
		tc := td.comps[c]
		for r := r0; r < min(r1, len(tc.res)); r++ {
			res := tc.res[r]
			if res.pw == 0 || res.ph == 0 {
				continue
			}
			pg := pgrid{c: c, r: r, res: res, lv: len(tc.res) - 1 - r,
				px: floorShift(res.x0, res.ppx), py: floorShift(res.y0, res.ppy)}
			pg.place(td)
			g = append(g, pg)
		}
	}
	return g
}

// place computes the start of the current precinct: its corner mapped to
// the reference grid, or the tile corner for a precinct the tile cuts.
func (g *pgrid) place(td *tileDecoder) {
	g.x = max(td.x0, (g.px+g.i)<<uint(g.res.ppx+g.lv))
	g.y = max(td.y0, (g.py+g.j)<<uint(g.res.ppy+g.lv))
}

func (g *pgrid) advance(td *tileDecoder) bool {
	g.i++
	if g.i == g.res.pw {
		g.i = 0
		g.j++
		if g.j == g.res.ph {
			return false
		}
	}
	g.place(td)
	return true
}

type pgridHeap []pgrid

func (h pgridHeap) Len() int { return len(h) }
func (h pgridHeap) Less(a, b int) bool {
	if h[a].y != h[b].y {
		return h[a].y < h[b].y
	}
	if h[a].x != h[b].x {
		return h[a].x < h[b].x
	}
	if h[a].c != h[b].c {
		return h[a].c < h[b].c
	}
	return h[a].r < h[b].r
}
func (h pgridHeap) Swap(a, b int) { h[a], h[b] = h[b], h[a] }
func (h *pgridHeap) Push(x any)   { *h = append(*h, x.(pgrid)) }
func (h *pgridHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
