package jpeg

import (
	"flag"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
)

var updateCorpus = flag.Bool("update-corpus", false, "regenerate testdata with dcmtk (see testdata/make.sh)")

// genCase describes how one test stream is produced.
type genCase struct {
	name    string
	kind    string // "dcmcjpeg", "lossless" (own encoder) or "dct" (own encoder)
	w, h    int
	bits    int
	ncomp   int
	noise   float64
	opts    []string // dcmcjpeg options
	ll      llOpts
	dct     dctOpts
	hv      [][2]int // sampling factors for "dct"
	process string
	prec    int
}

const (
	tsLossless    = "1.2.840.10008.1.2.4.57"
	tsLosslessSV1 = "1.2.840.10008.1.2.4.70"
	tsBaseline    = "1.2.840.10008.1.2.4.50"
	tsExtended    = "1.2.840.10008.1.2.4.51"
)

func corpusCases() []genCase {
	ll := func(name string, bits int, opts ...string) genCase {
		return genCase{name: name, kind: "dcmcjpeg", w: 67, h: 45, bits: bits, ncomp: 1, noise: 0.01, opts: opts, process: "lossless", prec: bits}
	}
	own := func(name string, w, h, ncomp int, o llOpts) genCase {
		return genCase{name: name, kind: "lossless", w: w, h: h, bits: o.precision, ncomp: ncomp, noise: 0.01, ll: o, process: "lossless", prec: o.precision}
	}
	dct := func(name string, ncomp, bits int, opts ...string) genCase {
		p := "baseline"
		if opts[0] == "+ee" {
			p = "extended"
		}
		return genCase{name: name, kind: "dcmcjpeg", w: 75, h: 53, bits: bits, ncomp: ncomp, noise: 0.02, opts: opts, process: p, prec: bits}
	}
	owndct := func(name string, w, h int, hv [][2]int, o dctOpts) genCase {
		p := "baseline"
		if o.precision == 12 {
			p = "extended"
		}
		return genCase{name: name, kind: "dct", w: w, h: h, bits: o.precision, ncomp: len(hv), noise: 0.02, hv: hv, dct: o, process: p, prec: o.precision}
	}
	c16 := ll("ll16_sv1", 16, "+e1")
	c16.noise = 0.05
	cases := []genCase{
		c16,
		ll("ll8_sv1", 8, "+e1"),
		ll("ll12_sv1_pl", 12, "+pl", "+e1", "+bt"),
		ll("ll16_sv2", 16, "+el", "+sv", "2"),
		ll("ll16_sv3", 16, "+el", "+sv", "3"),
		ll("ll16_sv4", 16, "+el", "+sv", "4"),
		ll("ll16_sv5", 16, "+el", "+sv", "5"),
		ll("ll16_sv6", 16, "+el", "+sv", "6"),
		ll("ll16_sv7_pt3", 16, "+el", "+sv", "7", "+pt", "3"),
		ll("ll12_sv6_pt1", 12, "+pl", "+el", "+sv", "6", "+pt", "1", "+bt"),
		ll("ll8_sv1_pt2", 8, "+e1", "+pt", "2"),
		own("own_ll12_sv5_ri", 61, 37, 1, llOpts{precision: 12, pred: 5, ri: 61 * 3}),
		own("own_ll2_sv4", 33, 21, 1, llOpts{precision: 2, pred: 4}),
		own("own_ll10_sv3_pt2_ri", 40, 30, 1, llOpts{precision: 10, pred: 3, pt: 2, ri: 40}),
		own("own_ll16_ssss16_ri", 48, 20, 1, llOpts{precision: 16, pred: 1, ri: 48 * 7}),
		own("own_ll8_rgb_sv6_ri", 35, 27, 3, llOpts{precision: 8, pred: 6, ri: 35 * 2}),
		own("own_ll16_3scans_sv7_pt1_ri", 29, 23, 3, llOpts{precision: 16, pred: 7, pt: 1, ri: 29 * 4, separate: true}),
		dct("b8_gray", 1, 8, "+eb"),
		dct("e12_gray", 1, 12, "+ee"),
		dct("e8_gray", 1, 8, "+ee"),
		dct("b8_ycc422", 3, 8, "+eb"),
		dct("b8_ycc420", 3, 8, "+eb", "+n1"), // dcmtk calls H2V2 "4:1:1"
		dct("b8_ycc444", 3, 8, "+eb", "+s4", "+q", "75"),
		dct("b8_gray_stdhuff", 1, 8, "+eb", "-ho"),
		dct("b8_gray_q10", 1, 8, "+eb", "+q", "10"),
		dct("e12_gray_q20", 1, 12, "+ee", "+q", "20"),
		owndct("own_b8_gray_ri5", 70, 43, [][2]int{{1, 1}}, dctOpts{precision: 8, ri: 5, scale: 0.5}),
		owndct("own_b8_420_ri3", 61, 45, [][2]int{{2, 2}, {1, 1}, {1, 1}}, dctOpts{precision: 8, ri: 3, scale: 0.3}),
		owndct("own_e12_3scans_ri7", 37, 29, [][2]int{{1, 1}, {1, 1}, {1, 1}}, dctOpts{precision: 12, ri: 7, separate: true, scale: 0.2}),
		owndct("own_b8_h1v2_ri1", 45, 50, [][2]int{{1, 2}, {1, 1}, {1, 1}}, dctOpts{precision: 8, ri: 1, scale: 1}),
	}
	// The SSSS=16 case needs samples 32768 apart.
	for i := range cases {
		if cases[i].name == "own_ll16_ssss16_ri" {
			cases[i].noise = -1
		}
	}
	return cases
}

// genResult is one generated stream with the planes it must decode to.
type genResult struct {
	stream []byte
	want   [][]uint16 // planes that are checked, full size
}

func generate(t testing.TB, dir string, c genCase, rng *rand.Rand) genResult {
	t.Helper()
	var planes [][]uint16
	if c.kind != "dct" {
		for i := 0; i < c.ncomp; i++ {
			var im *image
			if c.noise < 0 {
				im = &image{w: c.w, h: c.h, bits: 16, spp: 1, pix: make([]uint16, c.w*c.h)}
				for j := range im.pix {
					im.pix[j] = uint16(rng.Intn(3) * 32768)
					if rng.Intn(4) == 0 {
						im.pix[j] = uint16(rng.Intn(65536))
					}
				}
			} else {
				im = synth(c.w, c.h, c.bits, c.noise*float64(i+1), rng)
			}
			planes = append(planes, im.pix)
		}
	}
	src := &image{w: c.w, h: c.h, bits: c.bits, spp: c.ncomp}
	switch c.kind {
	case "dcmcjpeg":
		if c.ncomp == 3 {
			src = synthRGB(c.w, c.h, rng)
		} else {
			src.pix = planes[0]
		}
		stream := dcmtkEncode(t, dir, src, c.opts...)
		ref := dcmtkDecodeFile(t, dir, src, filepath.Join(dir, "enc.dcm"))
		r := genResult{stream: stream}
		// Subsampled chroma is not compared: dcmdjpeg upsamples it with
		// libjpeg's smoothing ("fancy") filter, Decode by replication.
		np := 1
		if c.process == "lossless" || slices.Contains(c.opts, "+s4") {
			np = c.ncomp
		}
		for k := 0; k < np; k++ {
			r.want = append(r.want, deinterleave(ref, c.ncomp, k))
		}
		return r
	case "lossless":
		stream := encodeLossless(planes, c.w, c.h, c.ll)
		src.pix = make([]uint16, c.w*c.h*c.ncomp)
		for k, p := range planes {
			for j, v := range p {
				src.pix[j*c.ncomp+k] = v
			}
		}
		ts := tsLossless
		if c.ll.pred == 1 {
			ts = tsLosslessSV1
		}
		ref := dcmtkDecode(t, dir, src, ts, stream)
		r := genResult{stream: stream}
		for k := range planes {
			w := deinterleave(ref, c.ncomp, k)
			for j, v := range planes[k] {
				if e := v >> c.ll.pt << c.ll.pt; w[j] != e {
					t.Fatalf("%s: dcmdjpeg gives %d at %d of plane %d, source %d", c.name, w[j], j, k, e)
				}
			}
			r.want = append(r.want, w)
		}
		return r
	case "dct":
		hmax, vmax := 1, 1
		for _, s := range c.hv {
			hmax, vmax = max(hmax, s[0]), max(vmax, s[1])
		}
		var comps []dctComp
		for i, s := range c.hv {
			cw, ch := (c.w*s[0]+hmax-1)/hmax, (c.h*s[1]+vmax-1)/vmax
			im := synth(cw, ch, c.bits, c.noise*float64(i+1), rng)
			p := make([]int32, len(im.pix))
			for j, v := range im.pix {
				p[j] = int32(v)
			}
			comps = append(comps, dctComp{h: s[0], v: s[1], w: cw, hh: ch, pix: p})
		}
		stream := encodeDCT(c.w, c.h, comps, c.dct)
		ts := tsBaseline
		if c.dct.precision == 12 {
			ts = tsExtended
		}
		src.spp = len(c.hv)
		ref := dcmtkDecode(t, dir, src, ts, stream)
		r := genResult{stream: stream}
		for k := range c.hv {
			if k == 0 || c.hv[k] == c.hv[0] {
				r.want = append(r.want, deinterleave(ref, src.spp, k))
			}
		}
		return r
	}
	t.Fatalf("unknown case kind %q", c.kind)
	return genResult{}
}

func deinterleave(p []uint16, n, k int) []uint16 {
	out := make([]uint16, len(p)/n)
	for i := range out {
		out[i] = p[i*n+k]
	}
	return out
}

// checkDecode decodes r.stream and compares the checked planes exactly.
func checkDecode(t *testing.T, name string, stream []byte, want [][]uint16, w, h int, process string, prec int) {
	t.Helper()
	f, err := Decode(stream, 0)
	if err != nil {
		t.Errorf("%s: %v", name, err)
		return
	}
	if f.Width != w || f.Height != h || f.Process != process || f.Precision != prec {
		t.Errorf("%s: got %dx%d %s P=%d, want %dx%d %s P=%d", name, f.Width, f.Height, f.Process, f.Precision, w, h, process, prec)
		return
	}
	for k, wp := range want {
		if k >= len(f.Planes) {
			t.Errorf("%s: %d planes, want at least %d", name, len(f.Planes), k+1)
			return
		}
		nd, first := 0, -1
		for i, v := range wp {
			if f.Planes[k][i] != int32(v) {
				if first < 0 {
					first = i
				}
				nd++
			}
		}
		if nd > 0 {
			t.Errorf("%s plane %d: %d of %d samples differ; first at (%d,%d): got %d, want %d",
				name, k, nd, len(wp), first%w, first/w, f.Planes[k][first], wp[first])
		}
	}
}

// TestDcmtkFresh generates new random images, encodes and decodes them with
// dcmtk, and compares with Decode. With -update-corpus it rewrites the
// committed corpus instead, from fixed seeds.
func TestDcmtkFresh(t *testing.T) {
	if err := haveDcmtk(); err != nil {
		t.Skipf("dcmtk not installed: %v", err)
	}
	if *updateCorpus {
		writeCorpus(t)
		return
	}
	seed := rand.Int63()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewSource(seed))
	for _, c := range corpusCases() {
		// Fresh sizes, odd and not multiples of 8 or 16 most of the time.
		c.w = 9 + rng.Intn(300)
		c.h = 9 + rng.Intn(260)
		if c.ll.ri > 0 {
			c.ll.ri = c.w * (1 + rng.Intn(5))
		}
		if c.kind == "dct" && c.dct.ri > 0 {
			c.dct.ri = 1 + rng.Intn(9)
		}
		r := generate(t, t.TempDir(), c, rng)
		checkDecode(t, c.name+fmt.Sprintf("[%dx%d]", c.w, c.h), r.stream, r.want, c.w, c.h, c.process, c.prec)
	}
}

// refusedCases are real streams of processes Decode refuses, kept in the
// corpus as refuse_NAME.jpg with the error text they must give.
var refusedCases = []struct {
	name, want string
	opts       []string
}{
	{"progressive", "unsupported process: progressive DCT (SOF2)", []string{"+ep"}},
	{"spectral", "unsupported process: progressive DCT (SOF2)", []string{"+es"}},
}

const corpusDir = "testdata"

func writeCorpus(t *testing.T) {
	old, _ := filepath.Glob(filepath.Join(corpusDir, "*.jpg"))
	olp, _ := filepath.Glob(filepath.Join(corpusDir, "*.pgm"))
	for _, f := range append(old, olp...) {
		os.Remove(f)
	}
	var manifest strings.Builder
	manifest.WriteString("# name width height process precision planes-checked how\n")
	for i, c := range corpusCases() {
		rng := rand.New(rand.NewSource(int64(1000 + i)))
		r := generate(t, t.TempDir(), c, rng)
		writeFile(t, filepath.Join(corpusDir, c.name+".jpg"), r.stream)
		for k, p := range r.want {
			writeFile(t, filepath.Join(corpusDir, fmt.Sprintf("%s.%d.pgm", c.name, k)), encodePGM(p, c.w, c.h, c.prec))
		}
		how := "dcmcjpeg " + strings.Join(c.opts, " ")
		switch c.kind {
		case "lossless":
			how = fmt.Sprintf("own encoder %+v", c.ll)
		case "dct":
			how = fmt.Sprintf("own encoder %+v sampling %v", c.dct, c.hv)
		}
		fmt.Fprintf(&manifest, "%s %d %d %s %d %d %s\n", c.name, c.w, c.h, c.process, c.prec, len(r.want), how)
	}
	writeFile(t, filepath.Join(corpusDir, "cases.txt"), []byte(manifest.String()))
	for _, c := range refusedCases {
		im := synth(39, 27, 8, 0.02, rand.New(rand.NewSource(99)))
		writeFile(t, filepath.Join(corpusDir, "refuse_"+c.name+".jpg"), dcmtkEncode(t, t.TempDir(), im, c.opts...))
	}
}

func TestRefusedCorpus(t *testing.T) {
	for _, c := range refusedCases {
		b, err := os.ReadFile(filepath.Join(corpusDir, "refuse_"+c.name+".jpg"))
		if err != nil {
			t.Fatal(err)
		}
		_, err = Decode(b, 0)
		if err == nil || err.Error() != "jpeg: "+c.want {
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		}
		cfg, err := DecodeConfig(b)
		if err == nil || cfg.Width != 39 || cfg.Height != 27 || cfg.Process != "progressive" {
			t.Errorf("%s: DecodeConfig = %+v, %v", c.name, cfg, err)
		}
	}
}

func encodePGM(p []uint16, w, h, prec int) []byte {
	maxv := 1<<prec - 1
	b := []byte(fmt.Sprintf("P5\n%d %d\n%d\n", w, h, max(maxv, 1)))
	for _, v := range p {
		if maxv > 255 {
			b = append(b, byte(v>>8), byte(v))
		} else {
			b = append(b, byte(v))
		}
	}
	return b
}

func decodePGM(b []byte) (p []uint16, w, h int, err error) {
	var maxv int
	var n int
	if n, err = fmt.Sscanf(string(b), "P5\n%d %d\n%d\n", &w, &h, &maxv); err != nil || n != 3 {
		return nil, 0, 0, fmt.Errorf("bad PGM header: %v", err)
	}
	hdr := len(fmt.Sprintf("P5\n%d %d\n%d\n", w, h, maxv))
	b = b[hdr:]
	p = make([]uint16, w*h)
	for i := range p {
		if maxv > 255 {
			p[i] = uint16(b[2*i])<<8 | uint16(b[2*i+1])
		} else {
			p[i] = uint16(b[i])
		}
	}
	return p, w, h, nil
}

type corpusEntry struct {
	name          string
	w, h, prec, n int
	process       string
}

func readManifest(t testing.TB) []corpusEntry {
	b, err := os.ReadFile(filepath.Join(corpusDir, "cases.txt"))
	if err != nil {
		t.Fatal(err)
	}
	var es []corpusEntry
	for _, line := range strings.Split(string(b), "\n") {
		if line == "" || line[0] == '#' {
			continue
		}
		var e corpusEntry
		if _, err := fmt.Sscan(line, &e.name, &e.w, &e.h, &e.process, &e.prec, &e.n); err != nil {
			t.Fatalf("cases.txt: %q: %v", line, err)
		}
		es = append(es, e)
	}
	sort.Slice(es, func(i, j int) bool { return es[i].name < es[j].name })
	return es
}

// TestCorpus decodes the committed streams and compares them with the
// committed dcmdjpeg decodings; it needs no tools.
func TestCorpus(t *testing.T) {
	es := readManifest(t)
	if len(es) < 20 {
		t.Fatalf("corpus has %d cases", len(es))
	}
	for _, e := range es {
		stream, err := os.ReadFile(filepath.Join(corpusDir, e.name+".jpg"))
		if err != nil {
			t.Fatal(err)
		}
		var want [][]uint16
		for k := 0; k < e.n; k++ {
			b, err := os.ReadFile(filepath.Join(corpusDir, fmt.Sprintf("%s.%d.pgm", e.name, k)))
			if err != nil {
				t.Fatal(err)
			}
			p, w, h, err := decodePGM(b)
			if err != nil || w != e.w || h != e.h {
				t.Fatalf("%s.%d.pgm: %v (%dx%d)", e.name, k, err, w, h)
			}
			want = append(want, p)
		}
		checkDecode(t, e.name, stream, want, e.w, e.h, e.process, e.prec)
		cfg, err := DecodeConfig(stream)
		if err != nil || cfg.Width != e.w || cfg.Height != e.h || cfg.Precision != e.prec || cfg.Process != e.process {
			t.Errorf("%s: DecodeConfig = %+v, %v", e.name, cfg, err)
		}
	}
}
