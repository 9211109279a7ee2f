package jpeg

import (
	"bytes"
	"errors"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func corpusStreams(t testing.TB) map[string][]byte {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(corpusDir, "*.jpg"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no corpus streams: %v", err)
	}
	m := map[string][]byte{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		m[strings.TrimSuffix(filepath.Base(f), ".jpg")] = b
	}
	return m
}

// decodeNoPanic decodes with a small pixel limit and turns a panic into a
// test failure that names the input.
func decodeNoPanic(t *testing.T, what string, b []byte) (f *Frame, err error) {
	t.Helper()
	defer func() {
		if r := recover(); r != nil {
			t.Fatalf("%s: panic: %v", what, r)
		}
	}()
	if _, err := DecodeConfig(b); err != nil && strings.Contains(err.Error(), "\n") {
		t.Errorf("%s: multi-line error %q", what, err)
	}
	f, err = Decode(b, 1<<20)
	if err != nil && (strings.Contains(err.Error(), "\n") || !strings.HasPrefix(err.Error(), "jpeg: ")) {
		t.Errorf("%s: badly formed error %q", what, err)
	}
	return f, err
}

func TestTruncated(t *testing.T) {
	for name, s := range corpusStreams(t) {
		for n := 0; n < len(s); n++ {
			if n > 400 && n%5 != 0 && n < len(s)-20 {
				continue
			}
			if _, err := decodeNoPanic(t, name, s[:n]); err == nil {
				t.Errorf("%s cut at %d of %d: no error", name, n, len(s))
			}
		}
	}
}

// TestTruncatedEntropy cuts the entropy-coded data but keeps a well formed
// ending, which a lenient decoder would fill with zeros.
func TestTruncatedEntropy(t *testing.T) {
	for name, s := range corpusStreams(t) {
		if strings.HasPrefix(name, "refuse_") {
			continue
		}
		sos := bytes.LastIndex(s, []byte{0xFF, mSOS})
		if sos < 0 {
			t.Fatalf("%s: no SOS", name)
		}
		start := sos + 2 + (int(s[sos+2])<<8 | int(s[sos+3]))
		for _, frac := range []float64{0, 0.3, 0.9, 0.99} {
			n := start + int(frac*float64(len(s)-2-start))
			b := append(append([]byte{}, s[:n]...), 0xFF, mEOI)
			_, err := decodeNoPanic(t, name, b)
			if err == nil || !strings.Contains(err.Error(), "truncated") {
				t.Errorf("%s entropy data cut at %d of %d: err %v, want truncated", name, n-start, len(s)-2-start, err)
			}
		}
	}
}

func TestCorrupted(t *testing.T) {
	rng := rand.New(rand.NewSource(7))
	for name, s := range corpusStreams(t) {
		for i := 0; i < 150; i++ {
			b := append([]byte{}, s...)
			for k := 0; k <= rng.Intn(4); k++ {
				// Favour the headers, where a byte changes the meaning of
				// everything after it.
				pos := rng.Intn(len(b))
				if rng.Intn(2) == 0 {
					pos = rng.Intn(min(len(b), 700))
				}
				switch rng.Intn(3) {
				case 0:
					b[pos] = byte(rng.Intn(256))
				case 1:
					b[pos] ^= 1 << rng.Intn(8)
				default:
					b[pos] = 0xFF
				}
			}
			decodeNoPanic(t, name, b)
		}
	}
}

// segments returns the offsets of the marker segments before the first SOS.
func segments(s []byte) []int {
	var offs []int
	for p := 2; p+4 <= len(s); {
		if s[p] != 0xFF {
			break
		}
		offs = append(offs, p)
		if s[p+1] == mSOS {
			break
		}
		p += 2 + (int(s[p+2])<<8 | int(s[p+3]))
	}
	return offs
}

func TestLyingLengths(t *testing.T) {
	for name, s := range corpusStreams(t) {
		for _, off := range segments(s) {
			for _, l := range []int{0, 1, 2, 3, 5, 17, 0x7FFF, 0xFFFF} {
				b := append([]byte{}, s...)
				b[off+2], b[off+3] = byte(l>>8), byte(l)
				decodeNoPanic(t, name, b)
			}
			for _, d := range []int{-1, 1, 64} {
				b := append([]byte{}, s...)
				l := (int(b[off+2])<<8 | int(b[off+3])) + d
				b[off+2], b[off+3] = byte(l>>8), byte(l)
				decodeNoPanic(t, name, b)
			}
		}
	}
}

// sofOffset returns the offset of the SOF marker.
func sofOffset(t *testing.T, s []byte) int {
	t.Helper()
	for _, off := range segments(s) {
		if m := s[off+1]; m == mSOF0 || m == mSOF1 || m == mSOF3 {
			return off
		}
	}
	t.Fatal("no SOF")
	return 0
}

func TestHugeSize(t *testing.T) {
	s := corpusStreams(t)["ll16_sv1"]
	off := sofOffset(t, s)
	b := append([]byte{}, s...)
	// 65535 x 65535
	copy(b[off+5:], []byte{0xFF, 0xFF, 0xFF, 0xFF})
	cfg, err := DecodeConfig(b)
	if err != nil || cfg.Width != 65535 || cfg.Height != 65535 || cfg.Precision != 16 || cfg.Components != 1 {
		t.Errorf("DecodeConfig = %+v, %v", cfg, err)
	}
	_, err = Decode(b, 50_000_000)
	if err == nil || !strings.Contains(err.Error(), "exceeds the limit") {
		t.Errorf("Decode of 65535x65535 with a 50M limit: %v", err)
	}
	// Just inside the limit, the allocation happens and the data ends early.
	copy(b[off+5:], []byte{0x03, 0xE8, 0x03, 0xE8})
	if _, err = Decode(b, 1_000_000); err == nil {
		t.Errorf("1000x1000 from a 67x45 stream: no error")
	}
	copy(b[off+5:], []byte{0, 0, 0, 5})
	if _, err = Decode(b, 0); err == nil || !strings.Contains(err.Error(), "DNL") {
		t.Errorf("height 0: %v", err)
	}
}

// frame builds a stream with the given SOF marker, precision and
// component count, and nothing else.
func frame(m byte, p, nf int) []byte {
	b := []byte{0xFF, mSOI}
	seg := []byte{byte(p), 0, 16, 0, 16, byte(nf)}
	for i := 0; i < nf; i++ {
		seg = append(seg, byte(i+1), 0x11, 0)
	}
	b = append(b, 0xFF, m, 0, byte(len(seg)+2))
	b = append(b, seg...)
	return append(b, 0xFF, mEOI)
}

func TestUnsupported(t *testing.T) {
	for _, c := range []struct {
		data []byte
		want string
	}{
		{frame(0xC2, 8, 1), "progressive DCT (SOF2)"},
		{frame(0xC6, 8, 1), "(SOF6)"},
		{frame(0xC5, 8, 1), "hierarchical"},
		{frame(0xC7, 8, 1), "hierarchical lossless"},
		{frame(0xC9, 8, 1), "arithmetic"},
		{frame(0xCA, 8, 1), "arithmetic"},
		{frame(0xCB, 8, 1), "arithmetic"},
		{frame(0xCD, 8, 1), "arithmetic"},
		{frame(0xCF, 8, 1), "(SOF15)"},
		{frame(0xF7, 8, 1), "JPEG-LS"},
		{frame(mSOF3, 16, 5), "5 components"},
		{[]byte{0xFF, mSOI, 0xFF, mDHP, 0, 2}, "hierarchical mode (DHP)"},
		{[]byte{0xFF, mSOI, 0xFF, mDAC, 0, 2}, "arithmetic coding (DAC)"},
		{[]byte{0xFF, 0x4F, 0xFF, 0x51}, "JPEG 2000"},
	} {
		_, err := Decode(c.data, 0)
		var u UnsupportedError
		if err == nil || !errors.As(err, &u) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("% x: %v, want unsupported %q", c.data[:4], err, c.want)
		}
		if _, err := DecodeConfig(c.data); err == nil {
			t.Errorf("DecodeConfig % x: no error", c.data[:4])
		}
	}
	cfg, err := DecodeConfig(frame(0xF7, 12, 1))
	if err == nil || cfg.Width != 16 || cfg.Precision != 12 {
		t.Errorf("JPEG-LS DecodeConfig = %+v, %v", cfg, err)
	}
	for _, c := range []struct {
		data []byte
		want string
	}{
		{frame(mSOF0, 12, 1), "baseline precision 12"},
		{frame(mSOF1, 16, 1), "extended precision 16"},
		{frame(mSOF3, 1, 1), "lossless precision 1"},
		{frame(mSOF3, 17, 1), "lossless precision 17"},
		{[]byte{1, 2, 3}, "missing SOI"},
		{frame(mSOF0, 8, 1), "no scan"},
		{frame(mSOF3, 16, 1), "17 bytes cannot hold a 16x16 frame"},
	} {
		_, err := Decode(c.data, 0)
		var fe FormatError
		if err == nil || !errors.As(err, &fe) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("% x: %v, want %q", c.data[:min(4, len(c.data))], err, c.want)
		}
	}
}

func TestLosslessRestartNotWholeLines(t *testing.T) {
	planes := [][]uint16{synth(20, 10, 12, 0.01, rand.New(rand.NewSource(1))).pix}
	s := encodeLossless(planes, 20, 10, llOpts{precision: 12, pred: 1, ri: 40})
	if _, err := Decode(s, 0); err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(s, []byte{0xFF, mDRI, 0, 4})
	s[i+5] = 30
	if _, err := Decode(s, 0); err == nil || !strings.Contains(err.Error(), "restart interval 30") {
		t.Errorf("restart interval 30 on 20 samples per line: %v", err)
	}
}

// TestIDCTRange checks the libjpeg range-limit wrap for out of range
// coefficients, which valid encoders never produce but corrupt data does.
func TestIDCTRange(t *testing.T) {
	var q [64]int32
	for i := range q {
		q[i] = 1
	}
	out := make([]int32, 64)
	for _, c := range []struct {
		dc, want int32
	}{
		{0, 128}, {-1024, 0}, {1016, 255}, {8 * 400, 255}, {8 * 600, 0}, {8 * 1000, 104}, {-8 * 1000, 152},
	} {
		blk := [64]int32{c.dc}
		idct8(&blk, &q, out, 8)
		if out[0] != c.want || out[63] != c.want {
			t.Errorf("DC %d: got %d, want %d", c.dc, out[0], c.want)
		}
	}
}

func FuzzDecode(f *testing.F) {
	for _, s := range corpusStreams(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		fr, err := Decode(b, 1<<18)
		if err == nil {
			for _, p := range fr.Planes {
				if len(p) != fr.Width*fr.Height {
					t.Fatalf("plane of %d samples for %dx%d", len(p), fr.Width, fr.Height)
				}
			}
		}
		DecodeConfig(b)
	})
}

func benchStream(b *testing.B, w, h int, lossless bool) []byte {
	rng := rand.New(rand.NewSource(1))
	if lossless {
		im := synth(w, h, 16, 0.003, rng)
		return encodeLossless([][]uint16{im.pix}, w, h, llOpts{precision: 16, pred: 1})
	}
	im := synth(w, h, 8, 0.01, rng)
	p := make([]int32, len(im.pix))
	for i, v := range im.pix {
		p[i] = int32(v)
	}
	return encodeDCT(w, h, []dctComp{{h: 1, v: 1, w: w, hh: h, pix: p}}, dctOpts{precision: 8, scale: 0.5})
}

// BenchmarkDecodeLossless decodes a 3000x3000 16-bit SV1 image, the size of
// a chest X-ray.
func BenchmarkDecodeLossless(b *testing.B) {
	s := benchStream(b, 3000, 3000, true)
	b.SetBytes(3000 * 3000 * 2)
	b.ResetTimer()
	for b.Loop() {
		if _, err := Decode(s, 0); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(s)*8)/(3000*3000), "bits/pixel")
}

func BenchmarkDecodeBaseline(b *testing.B) {
	s := benchStream(b, 1024, 1024, false)
	b.SetBytes(1024 * 1024)
	b.ResetTimer()
	for b.Loop() {
		if _, err := Decode(s, 0); err != nil {
			b.Fatal(err)
		}
	}
}

// TestUpsampleReplication checks that subsampled components come back
// replicated: each 2x2 (4:2:0) or 1x2 (h1v2 luma, so chroma 1x2 taller)
// group of chroma samples is one sample.
func TestUpsampleReplication(t *testing.T) {
	for _, c := range []struct {
		name   string
		sx, sy int
	}{{"own_b8_420_ri3", 2, 2}, {"own_b8_h1v2_ri1", 1, 2}, {"b8_ycc422", 2, 1}, {"b8_ycc420", 2, 2}} {
		f, err := Decode(corpusStreams(t)[c.name], 0)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		for k := 1; k < 3; k++ {
			p := f.Planes[k]
			for y := 0; y < f.Height; y++ {
				for x := 0; x < f.Width; x++ {
					if p[y*f.Width+x] != p[(y/c.sy*c.sy)*f.Width+x/c.sx*c.sx] {
						t.Fatalf("%s plane %d: (%d,%d) is not a replica", c.name, k, x, y)
					}
				}
			}
		}
	}
}
