package jpeg

// Helpers that run dcmtk (dump2dcm, dcmcjpeg, dcmdjpeg) to produce JPEG
// streams and their reference decodings, for the fresh-case test and for
// regenerating testdata (go test -run TestDcmtkFresh -update-corpus).

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// image is a native test image: spp samples per pixel interleaved, each
// sample in the low bits bits of a uint16.
type image struct {
	w, h, bits, spp int
	pix             []uint16
}

// synth makes a grey image with structure (gradients, blocks, a disc,
// sharp edges) and noise, using the full range of bits.
func synth(w, h, bits int, noise float64, rng *rand.Rand) *image {
	im := &image{w: w, h: h, bits: bits, spp: 1, pix: make([]uint16, w*h)}
	maxv := float64(int(1)<<bits - 1)
	cx, cy, r := float64(w)*0.6, float64(h)*0.4, float64(min(w, h))/3
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			v := 0.15 + 0.5*float64(x)/float64(w) + 0.2*float64(y)/float64(h)
			if (x/17+y/11)%3 == 0 {
				v += 0.1
			}
			dx, dy := float64(x)-cx, float64(y)-cy
			if dx*dx+dy*dy < r*r {
				v = 0.9 - v*0.3
			}
			if x > w-9 || y < 5 {
				v = 0.02
			}
			v += rng.NormFloat64() * noise
			v = min(max(v, 0), 1)
			im.pix[y*w+x] = uint16(v * maxv)
		}
	}
	return im
}

// synthRGB makes a colour image from three differently structured planes.
func synthRGB(w, h int, rng *rand.Rand) *image {
	a, b, c := synth(w, h, 8, 0.02, rng), synth(h, w, 8, 0.05, rng), synth(w, h, 8, 0.01, rng)
	im := &image{w: w, h: h, bits: 8, spp: 3, pix: make([]uint16, 3*w*h)}
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			i := y*w + x
			im.pix[3*i] = a.pix[i]
			im.pix[3*i+1] = b.pix[x*h+y]
			im.pix[3*i+2] = 255 - c.pix[i]
		}
	}
	return im
}

func haveDcmtk() error {
	for _, tool := range []string{"dump2dcm", "dcmcjpeg", "dcmdjpeg"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("%s not found", tool)
		}
	}
	return nil
}

func run(t testing.TB, name string, args ...string) {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

// dumpHeader is the dump2dcm text of a secondary capture image for im.
func dumpHeader(im *image, ts string) string {
	alloc := 8
	if im.bits > 8 {
		alloc = 16
	}
	pi := "MONOCHROME2"
	extra := ""
	if im.spp == 3 {
		pi = "RGB"
		extra = "(0028,0006) US 0\n"
	}
	s := ""
	if ts != "" {
		s = "(0002,0010) UI [" + ts + "]\n"
	}
	return s + fmt.Sprintf(`(0008,0016) UI =SecondaryCaptureImageStorage
(0008,0018) UI [1.2.826.0.1.3680043.2.1143.1]
(0008,0060) CS [OT]
(0028,0002) US %d
(0028,0004) CS [%s]
%s(0028,0010) US %d
(0028,0011) US %d
(0028,0100) US %d
(0028,0101) US %d
(0028,0102) US %d
(0028,0103) US 0
`, im.spp, pi, extra, im.h, im.w, alloc, im.bits, im.bits-1)
}

func rawBytes(im *image) []byte {
	if im.bits <= 8 {
		b := make([]byte, len(im.pix))
		for i, v := range im.pix {
			b[i] = byte(v)
		}
		return b
	}
	b := make([]byte, 2*len(im.pix))
	for i, v := range im.pix {
		binary.LittleEndian.PutUint16(b[2*i:], v)
	}
	return b
}

// dcmtkEncode writes im as a native DICOM file, compresses it with
// `dcmcjpeg opts`, and returns the JPEG stream of the single frame.
func dcmtkEncode(t testing.TB, dir string, im *image, opts ...string) []byte {
	t.Helper()
	raw := filepath.Join(dir, "pixels.raw")
	if err := os.WriteFile(raw, rawBytes(im), 0o644); err != nil {
		t.Fatal(err)
	}
	vr := "OW"
	if im.bits <= 8 {
		vr = "OB"
	}
	dump := dumpHeader(im, "") + fmt.Sprintf("(7fe0,0010) %s =%s\n", vr, raw)
	writeFile(t, filepath.Join(dir, "native.dump"), []byte(dump))
	run(t, "dump2dcm", filepath.Join(dir, "native.dump"), filepath.Join(dir, "native.dcm"))
	args := append(append([]string{}, opts...), filepath.Join(dir, "native.dcm"), filepath.Join(dir, "enc.dcm"))
	run(t, "dcmcjpeg", args...)
	return readPixelData(t, filepath.Join(dir, "enc.dcm"))
}

// dcmtkDecode wraps stream in a DICOM file with transfer syntax ts and
// returns dcmdjpeg's decoding of it, one uint16 per sample, interleaved.
func dcmtkDecode(t testing.TB, dir string, im *image, ts string, stream []byte) []uint16 {
	t.Helper()
	jp := filepath.Join(dir, "frame.jpg")
	writeFile(t, jp, stream)
	dump := dumpHeader(im, ts) + "(7fe0,0010) OB (PixelSequence\n(fffe,e000) pi\n(fffe,e000) pi =" + jp + "\n(fffe,e0dd) na\n"
	if im.spp == 3 && (ts == tsBaseline || ts == tsExtended) {
		// dcmtk keeps the JPEG's YCbCr when told the data is YBR_FULL.
		dump = strings.Replace(dump, "[RGB]", "[YBR_FULL]", 1)
	}
	writeFile(t, filepath.Join(dir, "enc2.dump"), []byte(dump))
	run(t, "dump2dcm", filepath.Join(dir, "enc2.dump"), filepath.Join(dir, "enc2.dcm"))
	return dcmtkDecodeFile(t, dir, im, filepath.Join(dir, "enc2.dcm"))
}

func dcmtkDecodeFile(t testing.TB, dir string, im *image, file string) []uint16 {
	t.Helper()
	out := filepath.Join(dir, "dec.dcm")
	run(t, "dcmdjpeg", "+cn", "+px", file, out)
	raw := readPixelData(t, out)
	n := im.w * im.h * im.spp
	res := make([]uint16, n)
	if im.bits <= 8 && len(raw) >= n {
		for i := range res {
			res[i] = uint16(raw[i])
		}
		return res
	}
	if len(raw) < 2*n {
		t.Fatalf("dcmdjpeg output has %d bytes of pixel data, want %d samples", len(raw), n)
	}
	for i := range res {
		res[i] = binary.LittleEndian.Uint16(raw[2*i:])
	}
	return res
}

func writeFile(t testing.TB, name string, b []byte) {
	t.Helper()
	if err := os.WriteFile(name, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// readPixelData returns the value of (7FE0,0010) of an explicit VR little
// endian file: the native bytes, or the concatenated fragments of the
// first (only) frame.
func readPixelData(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.LastIndex(b, []byte{0xE0, 0x7F, 0x10, 0x00, 'O'})
	if i < 0 || len(b) < i+12 {
		t.Fatalf("%s: no pixel data", name)
	}
	n := binary.LittleEndian.Uint32(b[i+8:])
	p := b[i+12:]
	if n != 0xFFFFFFFF {
		return p[:n]
	}
	var frags [][]byte
	for len(p) >= 8 {
		tag := binary.LittleEndian.Uint32(p)
		l := int(binary.LittleEndian.Uint32(p[4:]))
		if tag == 0xE0DDFFFE {
			break
		}
		frags = append(frags, p[8:8+l])
		p = p[8+l:]
	}
	if len(frags) < 2 {
		t.Fatalf("%s: no fragments", name)
	}
	return bytes.Join(frags[1:], nil)
}

// TestRealFiles compares Decode with dcmdjpeg on JPEG files written by other
// encoders that happen to be on the machine: Go's own image/jpeg test files
// (IJG libjpeg output: 4:2:0, 4:1:0, 4:4:0, 2x2 grey, restarts) and GDCM's
// example lossless XA file. It skips what is absent.
func TestRealFiles(t *testing.T) {
	if err := haveDcmtk(); err != nil {
		t.Skipf("dcmtk not installed: %v", err)
	}
	var files []string
	if out, err := exec.Command("go", "env", "GOROOT").Output(); err == nil {
		files, _ = filepath.Glob(filepath.Join(strings.TrimSpace(string(out)), "src", "image", "testdata", "*.jpeg"))
	}
	const gdcm = "/usr/share/doc/libgdcm3.0/examples/00191113.dcm"
	if _, err := os.Stat(gdcm); err == nil {
		files = append(files, gdcm)
	}
	if len(files) == 0 {
		t.Skip("no real JPEG files found")
	}
	checked := 0
	for _, f := range files {
		var b []byte
		if strings.HasSuffix(f, ".dcm") {
			// All frames concatenated; Decode stops at the first EOI.
			b = readPixelData(t, f)
		} else {
			b, _ = os.ReadFile(f)
		}
		fr, err := Decode(b, 0)
		if err != nil {
			var u UnsupportedError
			if !errors.As(err, &u) {
				t.Errorf("%s: %v", filepath.Base(f), err)
			}
			continue
		}
		if len(fr.Planes) != 1 && len(fr.Planes) != 3 {
			continue // dcmtk has no 4-sample photometric interpretation
		}
		im := &image{w: fr.Width, h: fr.Height, bits: fr.Precision, spp: len(fr.Planes)}
		dir := t.TempDir()
		var ref []uint16
		if strings.HasSuffix(f, ".dcm") {
			ref = dcmtkDecodeFile(t, dir, im, f)
		} else {
			ref = dcmtkDecode(t, dir, im, tsBaseline, b)
		}
		checked++
		checkDecode(t, filepath.Base(f), b, [][]uint16{deinterleave(ref[:fr.Width*fr.Height*im.spp], im.spp, 0)}, fr.Width, fr.Height, fr.Process, fr.Precision)
	}
	t.Logf("%d of %d files compared", checked, len(files))
}
