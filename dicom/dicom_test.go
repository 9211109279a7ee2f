package dicom

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// el is one element for the test writer.
type el struct {
	tag Tag
	vr  string
	val []byte
}

func str(t Tag, vr, s string) el {
	if len(s)%2 == 1 {
		if vr == "UI" {
			s += "\x00"
		} else {
			s += " "
		}
	}
	return el{t, vr, []byte(s)}
}

func us(t Tag, v ...uint16) el {
	b := make([]byte, 2*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint16(b[2*i:], x)
	}
	return el{t, "US", b}
}

func ow(t Tag, v []uint16) el { e := us(t, v...); e.vr = "OW"; return e }

// seq encodes a defined-length sequence of items, each a list of elements.
func seq(t Tag, items ...[]el) el {
	var b bytes.Buffer
	for _, it := range items {
		body := encodeElements(it)
		binary.Write(&b, binary.LittleEndian, [2]uint16{0xFFFE, 0xE000})
		binary.Write(&b, binary.LittleEndian, uint32(len(body)))
		b.Write(body)
	}
	return el{t, "SQ", b.Bytes()}
}

func encodeElements(els []el) []byte {
	sort.SliceStable(els, func(i, j int) bool { return els[i].tag < els[j].tag })
	var b bytes.Buffer
	for _, e := range els {
		binary.Write(&b, binary.LittleEndian, [2]uint16{e.tag.Group(), uint16(e.tag)})
		b.WriteString(e.vr)
		if longVR(e.vr) {
			b.Write([]byte{0, 0})
			binary.Write(&b, binary.LittleEndian, uint32(len(e.val)))
		} else {
			binary.Write(&b, binary.LittleEndian, uint16(len(e.val)))
		}
		b.Write(e.val)
	}
	return b.Bytes()
}

// fileOf writes a Part 10 file, explicit VR little endian unless meta
// names another syntax (the data set is then the caller's bytes).
func fileOf(syntax string, dataset []byte) []byte {
	meta := encodeElements([]el{str(TransferSyntaxUID, "UI", syntax), str(T(2, 0x12), "UI", "1.2.3")})
	var b bytes.Buffer
	b.Write(make([]byte, 128))
	b.WriteString("DICM")
	b.Write(meta)
	b.Write(dataset)
	return b.Bytes()
}

// chest is a small valid DX chest image; extra elements replace or add.
func chest(w, h int, pix []uint16, extra ...el) []byte {
	els := map[Tag]el{}
	for _, e := range []el{
		str(Modality, "CS", "DX"), str(BodyPartExamined, "CS", "CHEST"), str(ViewPosition, "CS", "AP"),
		str(StudyInstanceUID, "UI", "1.2.3.4"), str(PatientID, "LO", "PID-12345"),
		us(SamplesPerPixel, 1), str(PhotometricInterp, "CS", "MONOCHROME2"),
		us(Rows, uint16(h)), us(Columns, uint16(w)), us(BitsAllocated, 16), us(BitsStored, 16),
		us(HighBit, 15), us(PixelRepresentation, 0), ow(PixelData, pix),
	} {
		els[e.tag] = e
	}
	for _, e := range extra {
		els[e.tag] = e
	}
	var list []el
	for _, e := range els {
		if e.val != nil || e.vr != "" {
			list = append(list, e)
		}
	}
	return fileOf("1.2.840.10008.1.2.1", encodeElements(list))
}

func without(t Tag) el { return el{tag: t} }

func ramp(n int, step uint16) []uint16 {
	v := make([]uint16, n)
	for i := range v {
		v[i] = uint16(i) * step
	}
	return v
}

func TestDecodeErrors(t *testing.T) {
	good := chest(4, 3, ramp(12, 100))
	mr := chest(4, 3, ramp(12, 100), str(Modality, "CS", "MR"))
	tests := []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "not a DICOM file (too short)"},
		{"png named .dcm", []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"), "not a DICOM file (a PNG image)"},
		{"text", []byte("hello, this is not an image at all"), "not a DICOM file"},
		{"CT", chest(4, 3, ramp(12, 1), str(Modality, "CS", "CT")), "modality CT: only chest radiographs (CR, DX) are read"},
		{"MR", mr, "modality MR"},
		{"no modality", chest(4, 3, ramp(12, 1), without(Modality)), "no Modality"},
		{"knee", chest(4, 3, ramp(12, 1), str(BodyPartExamined, "CS", "KNEE")), "body part KNEE"},
		{"for processing", chest(4, 3, ramp(12, 1), str(PresentationIntentType, "CS", "FOR PROCESSING")), "for processing"},
		{"no pixels", chest(4, 3, nil, without(PixelData)), "no pixel data"},
		{"huge", chest(60000, 60000, ramp(12, 1)), "60000x60000 image: a side over the limit of 30000"},
		{"short pixels", chest(4, 3, ramp(11, 1)), "pixel data holds 22 bytes, a 4x3 frame of 16-bit samples needs 24"},
		{"rgb", chest(4, 3, ramp(12, 1), str(PhotometricInterp, "CS", "RGB")), "photometric interpretation RGB"},
		{"bits", chest(4, 3, ramp(12, 1), us(BitsAllocated, 32)), "32 bits allocated"},
		{"high bit", chest(4, 3, ramp(12, 1), us(BitsStored, 12), us(HighBit, 15-0+1)), "high bit 16"},
		{"jpeg-ls", fileOf("1.2.840.10008.1.2.4.80", good[132+len(encodeElements([]el{str(TransferSyntaxUID, "UI", "1.2.840.10008.1.2.1"), str(T(2, 0x12), "UI", "1.2.3")})):]),
			"JPEG-LS Lossless Image Compression (1.2.840.10008.1.2.4.80) is not supported"},
		{"unknown syntax", fileOf("1.2.3.4.5", nil), "unknown transfer syntax 1.2.3.4.5"},
		{"truncated", good[:len(good)-5], "claims 24 bytes but only 19 remain"},
		{"lying length", func() []byte {
			b := append([]byte{}, good...)
			i := bytes.Index(b, []byte("DX"))
			binary.LittleEndian.PutUint16(b[i-2:], 0x7000)
			return b
		}(), "claims 28672 bytes"},
		{"bad slope", chest(4, 3, ramp(12, 1), str(RescaleSlope, "DS", "abc")), `(0028,1053) value "abc" is not a number`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Decode(tc.data, "x.dcm")
			if err == nil {
				t.Fatalf("no error; want %q", tc.want)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "x.dcm: ") || !strings.Contains(msg, tc.want) || strings.Contains(msg, "\n") {
				t.Errorf("error %q; want one line starting x.dcm: with %q", msg, tc.want)
			}
		})
	}
}

// TestTruncations cuts a file of every syntax in the corpus at many points:
// an error or a good image, never a panic.
func TestTruncations(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("testdata", "u12-*.dcm"))
	if len(files) < 10 {
		t.Fatalf("%d corpus files", len(files))
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for cut := 0; cut < len(data); cut += 1 + len(data)/97 {
			img, err := Decode(data[:cut], f)
			if err == nil && img.Gray == nil {
				t.Fatalf("%s cut at %d: no error and no image", f, cut)
			}
		}
	}
}

func TestMetadata(t *testing.T) {
	req := seq(RequestAttributesSeq, []el{str(RequestedProcedureDesc, "LO", "Chest 2 views")})
	img, err := Decode(chest(4, 3, ramp(12, 9), str(SpecificCharacterSet, "CS", "ISO_IR 100"),
		el{AccessionNumber, "SH", []byte("A\xe91 ")}, str(ViewPosition, "CS", "LL"), str(StudyDate, "DA", "20260102"), req), "m.dcm")
	if err != nil {
		t.Fatal(err)
	}
	s := img.Study
	if s.View != Lateral || s.AccessionNumber != "Aé1" || s.PatientID != "PID-12345" || s.StudyInstanceUID != "1.2.3.4" ||
		s.Indication != "Chest 2 views" || s.StudyDate != "20260102" || s.Modality != "DX" {
		t.Errorf("study %+v", s)
	}
	img, err = Decode(chest(4, 3, ramp(12, 9), without(ViewPosition), without(BodyPartExamined),
		str(ReasonForRequestedProc, "LO", "Fever")), "m.dcm")
	if err != nil {
		t.Fatal(err)
	}
	if img.Study.View != UnknownView || img.Study.Indication != "Fever" {
		t.Errorf("study %+v", img.Study)
	}
	for _, tc := range []struct{ in, want string }{{"", ""}, {"1234", "***"}, {"PID-778899", "***899"}} {
		if got := Mask(tc.in); got != tc.want {
			t.Errorf("Mask(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestDisplay checks the grayscale pipeline against PS3.3's formulas
// written out for single values.
func TestDisplay(t *testing.T) {
	stored := ramp(12, 300) // 0..3300
	linear := func(x, c, w float64) float64 {
		switch {
		case x <= c-0.5-(w-1)/2:
			return 0
		case x > c-0.5+(w-1)/2:
			return 65535
		}
		return math.Round(((x-(c-0.5))/(w-1) + 0.5) * 65535)
	}
	tests := []struct {
		name  string
		extra []el
		want  func(s float64) float64
		voi   string
		warn  string
	}{
		{"none", nil, func(s float64) float64 { return s }, "none", ""},
		{"monochrome1", []el{str(PhotometricInterp, "CS", "MONOCHROME1")}, func(s float64) float64 { return 65535 - s }, "none", ""},
		{"window", []el{str(WindowCenter, "DS", `1000\5`), str(WindowWidth, "DS", `801\9`)},
			func(s float64) float64 { return linear(s, 1000, 801) }, "window", ""},
		{"window after rescale", []el{str(RescaleSlope, "DS", "2"), str(RescaleIntercept, "DS", "-100"), str(WindowCenter, "DS", "3000"), str(WindowWidth, "DS", "2000")},
			func(s float64) float64 { return linear(2*s-100, 3000, 2000) }, "window", ""},
		{"window inverted", []el{str(PhotometricInterp, "CS", "MONOCHROME1"), str(WindowCenter, "DS", "1000"), str(WindowWidth, "DS", "801")},
			func(s float64) float64 { return 65535 - linear(s, 1000, 801) }, "window", ""},
		{"linear exact", []el{str(VOILUTFunction, "CS", "LINEAR_EXACT"), str(WindowCenter, "DS", "1500"), str(WindowWidth, "DS", "1000")},
			func(s float64) float64 { return math.Round(max(0, min(1, (s-1500)/1000+0.5)) * 65535) }, "window", ""},
		{"sigmoid", []el{str(VOILUTFunction, "CS", "SIGMOID"), str(WindowCenter, "DS", "1500"), str(WindowWidth, "DS", "1000")},
			func(s float64) float64 { return math.Round(65535 / (1 + math.Exp(-4*(s-1500)/1000))) }, "window", ""},
		{"bad width", []el{str(WindowCenter, "DS", "1000"), str(WindowWidth, "DS", "0")},
			func(s float64) float64 { return s }, "none", "Window Width 0 is invalid"},
		{"voi lut", []el{seq(VOILUTSequence, []el{us(LUTDescriptor, 4, 600, 12), ow(LUTData, []uint16{0, 100, 2000, 4095})})},
			func(s float64) float64 {
				i := max(0, min(3, int(s)-600))
				return math.Round(float64([]int{0, 100, 2000, 4095}[i]) / 4095 * 65535)
			}, "VOI LUT", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			img, err := Decode(chest(4, 3, stored, tc.extra...), "d.dcm")
			if err != nil {
				t.Fatal(err)
			}
			if img.Display.VOI != tc.voi {
				t.Errorf("VOI %q, want %q (%s)", img.Display.VOI, tc.voi, img.Display)
			}
			for i, s := range stored {
				if got, want := float64(img.Gray.Pix[i]), tc.want(float64(s)); got != want {
					t.Fatalf("stored %d -> %v, want %v", s, got, want)
				}
			}
			warn := strings.Join(img.Warnings, "; ")
			if (tc.warn == "") != (warn == "") || !strings.Contains(warn, tc.warn) {
				t.Errorf("warnings %q, want %q", warn, tc.warn)
			}
		})
	}
}

// TestSigned checks two's complement stored values with the stored bits
// below a High Bit other than Bits Stored - 1.
func TestSigned(t *testing.T) {
	vals := []int{-2048, -1, 0, 1, 2047, -7}
	raw := make([]uint16, len(vals))
	for i, v := range vals {
		raw[i] = uint16(v&0xFFF) << 2
	}
	img, err := Decode(chest(3, 2, raw, us(BitsStored, 12), us(HighBit, 13), us(PixelRepresentation, 1)), "s.dcm")
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range vals {
		if got := int(img.Gray.Pix[i]) - 2048; got != v {
			t.Errorf("sample %d = %d, want %d", i, got, v)
		}
	}
}

func ExampleMask() {
	fmt.Println(Mask("PID-778899"))
	// Output: ***899
}

func TestErrorTypes(t *testing.T) {
	_, err := Decode(chest(4, 3, ramp(12, 1), str(Modality, "CS", "CT")), "x")
	var u UnsupportedError
	if !errors.As(err, &u) {
		t.Errorf("%v: not an UnsupportedError", err)
	}
	_, err = Decode([]byte("junk junk junk"), "x")
	var f FormatError
	if !errors.As(err, &f) {
		t.Errorf("%v: not a FormatError", err)
	}
}

// BenchmarkDecodeNative reads a detector-sized 12-bit native radiograph
// with a window: parse, stored values, grayscale table.
func BenchmarkDecodeNative(b *testing.B) {
	w, h := 3000, 2500
	pix := make([]uint16, w*h)
	for i := range pix {
		pix[i] = uint16(i*7) & 0xFFF
	}
	data := chest(w, h, pix, us(BitsStored, 12), us(HighBit, 11), str(WindowCenter, "DS", "2000"), str(WindowWidth, "DS", "3000"))
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := Decode(data, "b.dcm"); err != nil {
			b.Fatal(err)
		}
	}
}

// TestLyingJPEGSize: a small JPEG Lossless file whose header and SOF both
// claim 12000x12000 pixels is refused before its planes are allocated.
func TestLyingJPEGSize(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "u16-jpegll-sv1.dcm"))
	if err != nil {
		t.Fatal(err)
	}
	b := append([]byte{}, data...)
	put := func(tag Tag, v uint16) {
		key := []byte{byte(tag >> 16), byte(tag >> 24), byte(tag), byte(tag >> 8), 'U', 'S', 2, 0}
		i := bytes.Index(b, key)
		if i < 0 {
			t.Fatalf("%s not found", tag)
		}
		binary.LittleEndian.PutUint16(b[i+8:], v)
	}
	put(Rows, 12000)
	put(Columns, 12000)
	i := bytes.Index(b, []byte{0xFF, 0xC3})
	if i < 0 {
		t.Fatal("no SOF3")
	}
	binary.BigEndian.PutUint16(b[i+5:], 12000)
	binary.BigEndian.PutUint16(b[i+7:], 12000)
	_, err = Decode(b, "big.dcm")
	if err == nil || !strings.Contains(err.Error(), "cannot hold 12000x12000 pixels") {
		t.Errorf("error %v", err)
	}
}

// TestIsDICOMFile: by content (preamble, meta information, a bare data
// set) whatever the name, and by name for what the content cannot tell.
func TestIsDICOMFile(t *testing.T) {
	dir := t.TempDir()
	bare, _ := os.ReadFile(filepath.Join("testdata", "u8-bare.dcm"))
	full, _ := os.ReadFile(filepath.Join("testdata", "u8-explicit.dcm"))
	for _, tc := range []struct {
		name string
		data []byte
		want bool
	}{
		{"IM0001", full, true},
		{"IM0002", full[128:], true}, // "DICM" without the preamble
		{"IM0003", full[132:], true},
		{"IM0004", bare, true},
		{"x.png", []byte("\x89PNG\r\n\x1a\n0000"), false},
		{"x.dcm", []byte("\x89PNG\r\n\x1a\n0000"), true},
		{"notes.txt", []byte("hello there, this is text"), false},
	} {
		p := filepath.Join(dir, tc.name)
		os.WriteFile(p, tc.data, 0o644)
		if got, err := IsDICOMFile(p); err != nil || got != tc.want {
			t.Errorf("%s: %v %v, want %v", tc.name, got, err, tc.want)
		}
	}
	if _, err := IsDICOMFile(filepath.Join(dir, "missing")); err == nil || !strings.Contains(err.Error(), "missing: no such file") {
		t.Errorf("missing file: %v", err)
	}
}
