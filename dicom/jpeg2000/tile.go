package jpeg2000

import (
	"errors"
	"fmt"
	"math"
	"runtime"
	"sync"
	"sync/atomic"
)

// Tile decoding: coding parameters in force for the tile, the geometry of
// resolutions, subbands, precincts and code-blocks (B.5 to B.7), and the
// chain tier-2, tier-1, dequantization, inverse DWT.

type band struct {
	orient         int
	x0, y0, x1, y1 int
	mb             int     // magnitude bit-planes, Mb of E.1
	step           float32 // irreversible step size, Delta_b
	xcb, ycb       int     // code-block exponents in this resolution
	offx, offy     int     // position in the tile-component buffer
	bppx, bppy     int     // precinct size exponents in this subband
	px0, py0       int     // index of the first precinct column and row
	pw             int     // precincts per row
	prec           []*precinct
}

// precinct returns precinct p of the subband, building its code-blocks and
// tag trees on first use.
func (b *band) precinct(p int) *precinct {
	if prc := b.prec[p]; prc != nil {
		return prc
	}
	prc := &precinct{}
	b.prec[p] = prc
	i, j := p%b.pw, p/b.pw
	// precinct bounds in subband coordinates
	rx0 := max((b.px0+i)<<uint(b.bppx), b.x0)
	ry0 := max((b.py0+j)<<uint(b.bppy), b.y0)
	rx1 := min((b.px0+i+1)<<uint(b.bppx), b.x1)
	ry1 := min((b.py0+j+1)<<uint(b.bppy), b.y1)
	if rx1 <= rx0 || ry1 <= ry0 {
		return prc
	}
	cx0, cy0 := floorShift(rx0, b.xcb), floorShift(ry0, b.ycb)
	ncx := ceilShift(rx1, b.xcb) - cx0
	ncy := ceilShift(ry1, b.ycb) - cy0
	prc.blocks = make([]codeBlock, ncx*ncy)
	for v := 0; v < ncy; v++ {
		for u := 0; u < ncx; u++ {
			cb := &prc.blocks[u+v*ncx]
			cb.x0 = max((cx0+u)<<uint(b.xcb), rx0)
			cb.y0 = max((cy0+v)<<uint(b.ycb), ry0)
			cb.x1 = min((cx0+u+1)<<uint(b.xcb), rx1)
			cb.y1 = min((cy0+v+1)<<uint(b.ycb), ry1)
		}
	}
	prc.incl = newTagTree(ncx, ncy)
	prc.zbp = newTagTree(ncx, ncy)
	return prc
}

type precinct struct {
	blocks    []codeBlock
	incl, zbp tagTree
}

type resolution struct {
	x0, y0, x1, y1 int
	ppx, ppy       int
	pw, ph         int
	bands          []*band
	next           []int // per precinct: next layer expected
}

type tileComp struct {
	x0, y0, x1, y1 int
	cc             *compCoding
	q              *quantization
	roiShift       int
	res            []*resolution
	coef           []int32   // reversible path
	fcoef          []float32 // irreversible path
}

type tileDecoder struct {
	cs             *codestream
	x0, y0, x1, y1 int
	comps          []*tileComp
	layers         int
	order          int
	mct            int
	sop, eph       bool
	poc            []pocEntry
	pending        []pendingBody
	t1             t1Decoder
	// onHeader, when set, is told where each packet header lies in the
	// tile's data (tests use it to build PPM/PPT codestreams).
	onHeader func(start, end int)
}

// setup resolves the coding parameters of tile idx: tile-part COC over
// tile-part COD over main COC over main COD, and likewise for QCC/QCD.
func (td *tileDecoder) setup(idx int, tile *tileData) error {
	cs := td.cs
	p, q := idx%cs.ntx, idx/cs.ntx
	td.x0 = max(cs.tx0+p*cs.tw, cs.x0)
	td.y0 = max(cs.ty0+q*cs.th, cs.y0)
	td.x1 = min(cs.tx0+(p+1)*cs.tw, cs.xsiz)
	td.y1 = min(cs.ty0+(q+1)*cs.th, cs.ysiz)
	cod := cs.main.cod
	if tile.hdr.cod != nil {
		cod = tile.hdr.cod
	}
	td.layers, td.order, td.mct, td.sop, td.eph = cod.layers, cod.order, cod.mct, cod.sop, cod.eph
	td.poc = cs.main.poc
	if len(tile.hdr.poc) > 0 {
		td.poc = tile.hdr.poc
	}
	td.comps = make([]*tileComp, len(cs.comps))
	for c, comp := range cs.comps {
		cc := &cs.main.cod.cc
		if cs.main.coc != nil && cs.main.coc[c] != nil {
			cc = cs.main.coc[c]
		}
		if tile.hdr.cod != nil {
			cc = &tile.hdr.cod.cc
		}
		if tile.hdr.coc != nil && tile.hdr.coc[c] != nil {
			cc = tile.hdr.coc[c]
		}
		qz := cs.main.qcd
		if cs.main.qcc != nil && cs.main.qcc[c] != nil {
			qz = cs.main.qcc[c]
		}
		if tile.hdr.qcd != nil {
			qz = tile.hdr.qcd
		}
		if tile.hdr.qcc != nil && tile.hdr.qcc[c] != nil {
			qz = tile.hdr.qcc[c]
		}
		tc := &tileComp{
			x0: ceilDiv(td.x0, comp.dx), y0: ceilDiv(td.y0, comp.dy),
			x1: ceilDiv(td.x1, comp.dx), y1: ceilDiv(td.y1, comp.dy),
			cc: cc, q: qz,
		}
		if cs.main.roi != nil && cs.main.roi[c] >= 0 {
			tc.roiShift = cs.main.roi[c]
		}
		if tile.hdr.roi != nil && tile.hdr.roi[c] >= 0 {
			tc.roiShift = tile.hdr.roi[c]
		}
		if err := td.buildComp(tc, comp); err != nil {
			return err
		}
		td.comps[c] = tc
	}
	if td.mct == 1 {
		if len(cs.comps) < 3 {
			return errors.New("jpeg2000: component transform with fewer than 3 components")
		}
		r := td.comps[0].cc.reversible
		if td.comps[1].cc.reversible != r || td.comps[2].cc.reversible != r {
			return errors.New("jpeg2000: component transform over mixed wavelets not supported")
		}
	}
	return nil
}

func (td *tileDecoder) buildComp(tc *tileComp, comp component) error {
	cc, qz := tc.cc, tc.q
	nl := cc.levels
	nbands := 3*nl + 1
	if qz.style != 1 && len(qz.exp) < nbands {
		return fmt.Errorf("jpeg2000: quantization gives %d step sizes for %d subbands", len(qz.exp), nbands)
	}
	w, h := tc.x1-tc.x0, tc.y1-tc.y0
	if cc.reversible {
		tc.coef = make([]int32, w*h)
	} else {
		tc.fcoef = make([]float32, w*h)
	}
	tc.res = make([]*resolution, nl+1)
	for r := 0; r <= nl; r++ {
		lv := nl - r
		res := &resolution{
			x0: ceilShift(tc.x0, lv), y0: ceilShift(tc.y0, lv),
			x1: ceilShift(tc.x1, lv), y1: ceilShift(tc.y1, lv),
			ppx: int(cc.precincts[r] & 0x0F), ppy: int(cc.precincts[r] >> 4),
		}
		if res.x1 > res.x0 && res.y1 > res.y0 {
			res.pw = ceilShift(res.x1, res.ppx) - floorShift(res.x0, res.ppx)
			res.ph = ceilShift(res.y1, res.ppy) - floorShift(res.y0, res.ppy)
		}
		np := res.pw * res.ph
		res.next = make([]int, np)
		var orients []int
		if r == 0 {
			orients = []int{bandLL}
		} else {
			orients = []int{bandHL, bandLH, bandHH}
		}
		for _, o := range orients {
			b := &band{orient: o, pw: res.pw}
			xob, yob := o&1, o>>1
			nb := lv
			if r > 0 {
				nb = lv + 1
			}
			if r == 0 {
				b.x0, b.y0, b.x1, b.y1 = res.x0, res.y0, res.x1, res.y1
			} else {
				b.x0 = ceilShift(tc.x0-(xob<<uint(nb-1)), nb)
				b.y0 = ceilShift(tc.y0-(yob<<uint(nb-1)), nb)
				b.x1 = ceilShift(tc.x1-(xob<<uint(nb-1)), nb)
				b.y1 = ceilShift(tc.y1-(yob<<uint(nb-1)), nb)
				lower := tc.res[r-1]
				b.offx = xob * (lower.x1 - lower.x0)
				b.offy = yob * (lower.y1 - lower.y0)
			}
			// quantization parameters of this subband
			bi := 0
			if r > 0 {
				bi = 3*(r-1) + o
			}
			var eps, mu int
			if qz.style == 1 {
				eps = max(qz.exp[0]-(nl-nb), 0)
				if r == 0 {
					eps = qz.exp[0]
				}
				mu = qz.mant[0]
			} else {
				eps, mu = qz.exp[bi], qz.mant[bi]
			}
			b.mb = qz.guard + eps - 1
			gain := 0
			if o == bandHL || o == bandLH {
				gain = 1
			} else if o == bandHH {
				gain = 2
			}
			b.step = float32((1 + float64(mu)/2048) * math.Pow(2, float64(comp.prec+gain-eps)))

			bppx, bppy := res.ppx, res.ppy
			if r > 0 {
				bppx, bppy = bppx-1, bppy-1
			}
			b.xcb, b.ycb = min(cc.xcb, bppx), min(cc.ycb, bppy)
			b.bppx, b.bppy = bppx, bppy
			b.px0, b.py0 = floorShift(res.x0, res.ppx), floorShift(res.y0, res.ppy)
			if np > 0 {
				// Precincts are filled in when their first packet arrives,
				// so that memory follows the data actually present.
				b.prec = make([]*precinct, np)
			}
			res.bands = append(res.bands, b)
		}
		tc.res[r] = res
	}
	return nil
}

// decodeTile runs tier-2 over the tile's packets and tier-1 over its
// code-blocks, then reconstructs the tile-components.
func (td *tileDecoder) decodeTile(tile *tileData) error {
	var all []byte
	if len(tile.parts) == 1 {
		all = tile.parts[0]
	} else {
		for _, p := range tile.parts {
			all = append(all, p...)
		}
	}
	body := &byteStream{b: all}
	hs := body
	if tile.hasPPM {
		hs = &byteStream{b: tile.ppm}
	} else if len(tile.ppt) > 0 {
		var h []byte
		for _, c := range tile.ppt {
			h = append(h, c.data...)
		}
		hs = &byteStream{b: h}
	}
	read := func(tc *tileComp, res *resolution, p, layer int) error {
		return td.readPacket(tc, res, p, layer, hs, body)
	}
	if len(td.poc) == 0 {
		e := pocEntry{rs: 0, cs: 0, lye: td.layers, re: 33, ce: len(td.comps), order: td.order}
		if err := td.forEachPacket(e, read); err != nil {
			return err
		}
	} else {
		for _, e := range td.poc {
			if err := td.forEachPacket(e, read); err != nil {
				return err
			}
		}
	}
	for _, tc := range td.comps {
		if err := td.decodeBlocks(tc); err != nil {
			return err
		}
		inverseDWT(tc)
	}
	return nil
}

// decodeBlocks runs tier-1 on every code-block and dequantizes into the
// tile-component buffer, subbands laid side by side per level (LL top
// left), which is where the inverse DWT wants them.
func (td *tileDecoder) decodeBlocks(tc *tileComp) error {
	// Code-blocks are coded independently (T.800 annex D) and land in
	// disjoint parts of the coefficient plane, so they decode in parallel,
	// one tier-1 decoder per worker: tier-1 is most of a decode.
	type job struct {
		cb *codeBlock
		b  *band
	}
	var jobs []job
	for _, res := range tc.res {
		for _, b := range res.bands {
			for _, prc := range b.prec {
				if prc == nil {
					continue
				}
				for ci := range prc.blocks {
					if cb := &prc.blocks[ci]; cb.npasses > 0 {
						jobs = append(jobs, job{cb, b})
					}
				}
			}
		}
	}
	workers := min(runtime.GOMAXPROCS(0), len(jobs)/4+1)
	if workers <= 1 {
		for _, j := range jobs {
			if err := td.decodeBlock(&td.t1, tc, j.cb, j.b); err != nil {
				return err
			}
		}
		return nil
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make([]error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			t1 := &t1Decoder{}
			for {
				i := int(next.Add(1)) - 1
				if i >= len(jobs) || errs[w] != nil {
					return
				}
				errs[w] = td.decodeBlock(t1, tc, jobs[i].cb, jobs[i].b)
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// decodeBlock decodes one code-block with t1 and writes its coefficients.
func (td *tileDecoder) decodeBlock(t1 *t1Decoder, tc *tileComp, cb *codeBlock, b *band) error {
	stride := tc.x1 - tc.x0
	if err := t1.decode(cb, b.orient, b.mb+tc.roiShift, tc.cc.style); err != nil {
		return err
	}
	if tc.roiShift > 0 {
		t1.unshiftROI(tc.roiShift)
	}
	w := cb.x1 - cb.x0
	ox := b.offx + cb.x0 - b.x0
	oy := b.offy + cb.y0 - b.y0
	for y := 0; y < cb.y1-cb.y0; y++ {
		src := t1.mag[y*w : y*w+w]
		fl := t1.flags[(y+1)*t1.stride+1:]
		row := (oy+y)*stride + ox
		if tc.coef != nil {
			dst := tc.coef[row : row+w]
			for x, m := range src {
				v := m >> 1
				if fl[x]&fNeg != 0 {
					v = -v
				}
				dst[x] = v
			}
		} else {
			dst := tc.fcoef[row : row+w]
			s := b.step * 0.5
			for x, m := range src {
				v := float32(m) * s
				if fl[x]&fNeg != 0 {
					v = -v
				}
				dst[x] = v
			}
		}
	}
	// free the code-block data as soon as it is consumed
	cb.data = nil
	return nil
}
