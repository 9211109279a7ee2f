package dicom

import (
	"bytes"
	"encoding/binary"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func TestWriteNewUID(t *testing.T) {
	re := regexp.MustCompile(`^2\.25\.(0|[1-9][0-9]*)$`)
	seen := map[string]bool{}
	for range 1000 {
		u := NewUID()
		if !re.MatchString(u) || len(u) > 64 {
			t.Fatalf("NewUID() = %q: not a 2.25 UID of at most 64 characters", u)
		}
		if err := checkText("UI", u); err != nil {
			t.Fatalf("NewUID() = %q: %v", u, err)
		}
		if seen[u] {
			t.Fatalf("NewUID() repeated %q", u)
		}
		seen[u] = true
	}
	if err := checkText("UI", ImplementationClassUID); err != nil {
		t.Errorf("ImplementationClassUID: %v", err)
	}
}

// writeSample is a data set with one element of each kind the writer
// encodes: odd-length text of each padding, multi-values, binary VRs, a
// long VR, nested sequences and an empty one.
func writeSample() *DataSetBuilder {
	inner := (&DataSetBuilder{}).AddString(T(0x0008, 0x0100), "SH", "121071").AddString(T(0x0008, 0x0104), "LO", "Finding")
	item := (&DataSetBuilder{}).AddString(T(0x0040, 0xA040), "CS", "TEXT").
		AddSequence(T(0x0040, 0xA043), inner).
		AddString(T(0x0040, 0xA160), "UT", `odd \ text`)
	ds := &DataSetBuilder{}
	ds.AddString(PatientName, "PN", "Doe^Jane").
		AddString(PatientID, "LO", "P1").
		AddString(StudyInstanceUID, "UI", "1.2.3").
		AddString(T(0x0008, 0x0008), "CS", "ORIGINAL", "PRIMARY").
		AddString(SpecificCharacterSet, "CS").
		AddUint16(Rows, 7).
		AddUint16(LUTDescriptor, 1, 2, 3).
		AddUint32(T(0x0028, 0x0009), 0x00181065).
		AddFloat64(T(0x0018, 0x1164), 0.139).
		AddDecimal(WindowCenter, 2047.5, 0.1).
		AddInt(T(0x0020, 0x0013), 3).
		Add(T(0x0009, 0x0010), "OB", []byte{1, 2, 3}).
		AddSequence(T(0x0040, 0xA730), item, item).
		AddSequence(T(0x0008, 0x1111))
	return ds
}

func TestWriteRoundTrip(t *testing.T) {
	data, err := EncodeFile(DXForPresentation, "1.2.3.4", writeSample())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(data[:128], make([]byte, 128)) || string(data[128:132]) != "DICM" {
		t.Fatal("no zero preamble and DICM marker")
	}
	f, err := Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	if f.Syntax.UID != ExplicitVRLittleEndian || !f.Preamble {
		t.Errorf("syntax %s, preamble %v", f.Syntax.UID, f.Preamble)
	}
	meta := map[Tag]string{
		T(2, 2): DXForPresentation, T(2, 3): "1.2.3.4", T(2, 0x10): ExplicitVRLittleEndian,
		T(2, 0x12): ImplementationClassUID, T(2, 0x13): ImplementationVersionName,
	}
	for tag, want := range meta {
		if got := f.Meta.String(tag); got != want {
			t.Errorf("meta %s = %q, want %q", tag, got, want)
		}
	}
	if v := f.Meta.Lookup(T(2, 1)); v == nil || v.VR != "OB" || !bytes.Equal(v.Value, []byte{0, 1}) {
		t.Errorf("meta version %+v", v)
	}
	gl := f.Meta.Lookup(T(2, 0))
	metaEnd := bytes.Index(data, []byte{0x08, 0x00, 0x05, 0x00}) // first data set element
	if gl == nil || int(binary.LittleEndian.Uint32(gl.Value)) != metaEnd-(132+12) {
		t.Errorf("group length %v, want %d", gl, metaEnd-(132+12))
	}

	strs := []struct {
		tag  Tag
		vr   string
		raw  string // the stored value, padding included
		want []string
	}{
		{PatientName, "PN", "Doe^Jane", []string{"Doe^Jane"}},
		{PatientID, "LO", "P1", []string{"P1"}},
		{StudyInstanceUID, "UI", "1.2.3\x00", []string{"1.2.3"}},
		{SOPClassUID, "UI", DXForPresentation + "\x00", []string{DXForPresentation}},
		{SOPInstanceUID, "UI", "1.2.3.4\x00", []string{"1.2.3.4"}},
		{T(0x0008, 0x0008), "CS", `ORIGINAL\PRIMARY`, []string{"ORIGINAL", "PRIMARY"}},
		{WindowCenter, "DS", `2047.5\0.1`, []string{"2047.5", "0.1"}},
		{T(0x0020, 0x0013), "IS", "3 ", []string{"3"}},
		{SpecificCharacterSet, "CS", "", nil},
	}
	for _, s := range strs {
		e := f.Lookup(s.tag)
		if e == nil {
			t.Errorf("%s missing", s.tag)
			continue
		}
		if e.VR != s.vr || string(e.Value) != s.raw {
			t.Errorf("%s = %s %q, want %s %q", s.tag, e.VR, e.Value, s.vr, s.raw)
		}
		if got := f.Strings(s.tag); strings.Join(got, "|") != strings.Join(s.want, "|") {
			t.Errorf("%s values %q, want %q", s.tag, got, s.want)
		}
	}
	if got := f.Uint16s(LUTDescriptor); len(got) != 3 || got[2] != 3 {
		t.Errorf("US values %v", got)
	}
	if v, _ := f.Uint16(Rows); v != 7 {
		t.Errorf("Rows %d", v)
	}
	if e := f.Lookup(T(0x0028, 0x0009)); e == nil || e.VR != "UL" || binary.LittleEndian.Uint32(e.Value) != 0x00181065 {
		t.Errorf("UL %+v", e)
	}
	if e := f.Lookup(T(0x0018, 0x1164)); e == nil || e.VR != "FD" || math.Float64frombits(binary.LittleEndian.Uint64(e.Value)) != 0.139 {
		t.Errorf("FD %+v", e)
	}
	if e := f.Lookup(T(0x0009, 0x0010)); e == nil || e.VR != "OB" || !bytes.Equal(e.Value, []byte{1, 2, 3, 0}) {
		t.Errorf("OB %+v", e)
	}
	sq := f.Lookup(T(0x0040, 0xA730))
	if sq == nil || sq.VR != "SQ" || len(sq.Items) != 2 {
		t.Fatalf("sequence %+v", sq)
	}
	for _, it := range sq.Items {
		// UT holds one value: the backslash is text (DataSet.Strings
		// would split it).
		if got := string(it.Lookup(T(0x0040, 0xA160)).Value); got != `odd \ text` {
			t.Errorf("UT in item = %q", got)
		}
		code := it.Lookup(T(0x0040, 0xA043))
		if code == nil || len(code.Items) != 1 || code.Items[0].String(T(0x0008, 0x0104)) != "Finding" {
			t.Errorf("nested sequence %+v", code)
		}
	}
	if e := f.Lookup(T(0x0008, 0x1111)); e == nil || e.VR != "SQ" || len(e.Items) != 0 {
		t.Errorf("empty sequence %+v", e)
	}
	// Elements come in ascending tag order: walk the top level.
	prev := Tag(0)
	for pos := metaEnd; pos < len(data); {
		tag := T(binary.LittleEndian.Uint16(data[pos:]), binary.LittleEndian.Uint16(data[pos+2:]))
		vr := string(data[pos+4 : pos+6])
		n, head := int(binary.LittleEndian.Uint16(data[pos+6:])), 8
		if longVR(vr) {
			n, head = int(binary.LittleEndian.Uint32(data[pos+8:])), 12
		}
		if tag <= prev || n%2 != 0 {
			t.Fatalf("%s after %s, length %d", tag, prev, n)
		}
		prev, pos = tag, pos+head+n
	}
}

func TestWriteErrors(t *testing.T) {
	tests := []struct {
		name string
		add  func(*DataSetBuilder)
		want string
	}{
		{"bad VR", func(b *DataSetBuilder) { b.Add(PatientID, "XX", nil) }, "VR"},
		{"lower-case VR", func(b *DataSetBuilder) { b.Add(PatientID, "lo", nil) }, "VR"},
		{"SQ by Add", func(b *DataSetBuilder) { b.Add(PatientID, "SQ", nil) }, "AddSequence"},
		{"meta group", func(b *DataSetBuilder) { b.AddString(TransferSyntaxUID, "UI", "1.2") }, "group 0002"},
		{"odd US", func(b *DataSetBuilder) { b.Add(Rows, "US", []byte{1}) }, "whole number"},
		{"short VR too long", func(b *DataSetBuilder) { b.Add(PatientID, "LO", make([]byte, 70000)) }, "too long"},
		{"LO too long", func(b *DataSetBuilder) { b.AddString(PatientID, "LO", strings.Repeat("x", 65)) }, "longer than 64"},
		{"backslash in LO", func(b *DataSetBuilder) { b.AddString(PatientID, "LO", `a\b`) }, "backslash"},
		{"two UT values", func(b *DataSetBuilder) { b.AddString(T(0x0040, 0xA160), "UT", "a", "b") }, "one value"},
		{"bad UID", func(b *DataSetBuilder) { b.AddString(StudyInstanceUID, "UI", "1.02.3") }, "UID"},
		{"UID letters", func(b *DataSetBuilder) { b.AddString(StudyInstanceUID, "UI", "1.2.a") }, "not allowed"},
		{"lower-case CS", func(b *DataSetBuilder) { b.AddString(Modality, "CS", "dx") }, "not allowed"},
		{"bad date", func(b *DataSetBuilder) { b.AddString(StudyDate, "DA", "20261327") }, "date"},
		{"IS with a point", func(b *DataSetBuilder) { b.AddString(T(0x0020, 0x0013), "IS", "1.5") }, "number"},
		{"binary by AddString", func(b *DataSetBuilder) { b.AddString(Rows, "US", "1") }, "not a text VR"},
		{"nil item", func(b *DataSetBuilder) { b.AddSequence(T(0x0040, 0xA730), nil) }, "nil"},
		{"error in an item", func(b *DataSetBuilder) {
			b.AddSequence(T(0x0040, 0xA730), (&DataSetBuilder{}).AddString(Modality, "CS", "x"))
		}, "not allowed"},
		{"self-nesting", func(b *DataSetBuilder) { b.AddSequence(T(0x0040, 0xA730), b) }, "nested deeper"},
		{"other SOP instance", func(b *DataSetBuilder) { b.AddString(SOPInstanceUID, "UI", "9.9") }, "differs"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := (&DataSetBuilder{}).AddString(PatientID, "LO", "P1")
			tt.add(b)
			_, err := EncodeFile(DXForPresentation, "1.2.3", b)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
	if _, err := EncodeFile("", "1.2", &DataSetBuilder{}); err == nil {
		t.Error("empty SOP Class UID accepted")
	}
	if err := WriteFile(filepath.Join(t.TempDir(), "no", "such", "x.dcm"), DXForPresentation, "1.2", writeSample()); err == nil {
		t.Error("write into a missing folder succeeded")
	}
}

// writeRamp is a radiograph whose stored values run from 0 to the top of
// the range.
func writeRamp(w, h, bits int) []uint16 {
	pix := make([]uint16, w*h)
	top := 1<<bits - 1
	for i := range pix {
		pix[i] = uint16(i * top / (len(pix) - 1))
	}
	return pix
}

func TestWriteRadiograph(t *testing.T) {
	dir := t.TempDir()
	study := NewUID()
	tests := []struct {
		name string
		r    Radiograph
		view View
	}{
		{"frontal 16-bit", Radiograph{Width: 33, Height: 21, BitsStored: 16, Pix: writeRamp(33, 21, 16),
			PatientID: "PID-1", PatientName: "Doe^Jane", PatientSex: "F", PatientBirthDate: "19700101",
			AccessionNumber: "ACC1", StudyInstanceUID: study, StudyDate: "20261127", StudyTime: "101500",
			ViewPosition: "PA", Indication: "Cough, r/o pneumonia"}, Frontal},
		{"lateral 12-bit", Radiograph{Width: 20, Height: 30, BitsStored: 12, Pix: writeRamp(20, 30, 12),
			PatientID: "PID-1", AccessionNumber: "ACC1", StudyInstanceUID: study, StudyDate: "20261127",
			ViewPosition: "ll", SeriesNumber: 2}, Lateral},
		{"8-bit odd size", Radiograph{Width: 7, Height: 5, BitsStored: 8, Pix: writeRamp(7, 5, 8), ViewPosition: "AP"}, Frontal},
		{"UTF-8 text", Radiograph{Width: 4, Height: 4, BitsStored: 10, Pix: writeRamp(4, 4, 10), ViewPosition: "PA",
			PatientName: "Müller^Hans", PatientID: "PÄ-1", Indication: "Verdacht auf Pneumonie, Fieber 39 °C"}, Frontal},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(tt.name, " ", "_")+".dcm")
			if err := WriteRadiograph(path, tt.r); err != nil {
				t.Fatal(err)
			}
			img, err := ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if len(img.Warnings) > 0 {
				t.Errorf("warnings %q", img.Warnings)
			}
			s := img.Study
			if s.View != tt.view || s.Modality != "DX" || s.BodyPart != "CHEST" || s.SOPClassUID != DXForPresentation ||
				s.PatientID != tt.r.PatientID || s.AccessionNumber != tt.r.AccessionNumber || s.StudyDate != tt.r.StudyDate ||
				s.Indication != tt.r.Indication {
				t.Errorf("study %+v", s)
			}
			for _, u := range []string{s.StudyInstanceUID, s.SeriesInstanceUID, s.SOPInstanceUID} {
				if checkText("UI", u) != nil || u == "" {
					t.Errorf("UID %q", u)
				}
			}
			if tt.r.StudyInstanceUID != "" && s.StudyInstanceUID != tt.r.StudyInstanceUID {
				t.Errorf("study UID %s, want %s", s.StudyInstanceUID, tt.r.StudyInstanceUID)
			}
			if img.Pixels.BitsStored != tt.r.BitsStored || img.Gray.Width != tt.r.Width || img.Gray.Height != tt.r.Height {
				t.Fatalf("pixels %+v, gray %dx%d", img.Pixels, img.Gray.Width, img.Gray.Height)
			}
			// The default window maps the stored range onto 0..65535.
			top := float64(int(1)<<tt.r.BitsStored - 1)
			if img.Display.VOI != "window" || img.Display.Function != "LINEAR_EXACT" {
				t.Errorf("display %s", img.Display)
			}
			for i, v := range tt.r.Pix {
				want := math.Round(float64(v) / top * 65535)
				if math.Abs(float64(img.Gray.Pix[i])-want) > 1 {
					t.Fatalf("pixel %d = %d, want %v (stored %d)", i, img.Gray.Pix[i], want, v)
				}
			}
			// And the stored values are the pixels.
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			f, err := Parse(data)
			if err != nil {
				t.Fatal(err)
			}
			raw := f.Lookup(PixelData).Value
			for i, v := range tt.r.Pix {
				got := uint16(raw[i])
				if tt.r.BitsStored > 8 {
					got = binary.LittleEndian.Uint16(raw[2*i:])
				}
				if got != v {
					t.Fatalf("stored pixel %d = %d, want %d", i, got, v)
				}
			}
			writeDcmdumpClean(t, path, true)
		})
	}

	// A window is written and used.
	r := tests[0].r
	r.WindowCenter, r.WindowWidth = 30000, 20000
	path := filepath.Join(dir, "window.dcm")
	if err := WriteRadiograph(path, r); err != nil {
		t.Fatal(err)
	}
	img, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(img.Display.String(), "30000") {
		t.Errorf("display %q does not use the window", img.Display)
	}

	bad := []Radiograph{
		{Width: 2, Height: 2, Pix: []uint16{1, 2, 3}},
		{Width: 2, Height: 1, BitsStored: 8, Pix: []uint16{1, 256}},
		{Width: 1, Height: 1, BitsStored: 17, Pix: []uint16{1}},
		{Width: 0, Height: 0},
		{Width: 1, Height: 1, Pix: []uint16{1}, Indication: strings.Repeat("long ", 20)},
		{Width: 1, Height: 1, Pix: []uint16{1}, PatientName: "M\xfcller"},
	}
	for i, r := range bad {
		p := filepath.Join(dir, "bad.dcm")
		if err := WriteRadiograph(p, r); err == nil {
			t.Errorf("bad radiograph %d written", i)
		}
		if _, err := os.Stat(p); err == nil {
			t.Errorf("bad radiograph %d left a file", i)
		}
	}
}

// writeDcmdumpClean checks that dcmtk reads path without a warning and,
// with iod, that dicom3tools finds no error in it as an instance of its
// IOD; each check skips where its tool is not installed.
func writeDcmdumpClean(t *testing.T, path string, iod bool) {
	t.Helper()
	if _, err := exec.LookPath("dcmdump"); err != nil {
		t.Log("dcmdump (dcmtk) not installed: the check by dcmtk is skipped")
		return
	}
	var stderr bytes.Buffer
	cmd := exec.Command("dcmdump", "-M", "+L", path)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil || stderr.Len() > 0 {
		t.Fatalf("dcmdump %s: %v\n%s", path, err, stderr.String())
	}
	if !bytes.Contains(out, []byte("LittleEndianExplicit")) || !bytes.Contains(out, []byte(ImplementationVersionName)) {
		t.Errorf("dcmdump output lacks the meta information:\n%s", out)
	}
	// dicom3tools' dciodvfy checks the object against its IOD; its
	// warnings (no View Code Sequence, empty attributes a DICOMDIR would
	// want) are not errors.
	if _, err := exec.LookPath("dciodvfy"); err != nil {
		t.Log("dciodvfy (dicom3tools) not installed: the IOD check is skipped")
	} else if iod {
		out, _ := exec.Command("dciodvfy", path).CombinedOutput()
		for _, line := range strings.Split(string(out), "\n") {
			if strings.HasPrefix(line, "Error") {
				t.Errorf("dciodvfy %s: %s", path, line)
			}
		}
	}
	if _, err := exec.LookPath("dcmftest"); err == nil {
		if out, err := exec.Command("dcmftest", path).CombinedOutput(); err != nil || !bytes.HasPrefix(out, []byte("yes:")) {
			t.Errorf("dcmftest: %v %s", err, out)
		}
	}
}

func TestWriteDcmdump(t *testing.T) {
	if _, err := exec.LookPath("dcmdump"); err != nil {
		t.Skip("dcmdump (dcmtk) not installed: skipping the check by dcmtk")
	}
	path := filepath.Join(t.TempDir(), "sample.dcm")
	if err := WriteFile(path, DXForPresentation, "1.2.3.4", writeSample()); err != nil {
		t.Fatal(err)
	}
	writeDcmdumpClean(t, path, false)
}

// writeImplicit encodes elements as a bare implicit VR little endian data
// set, the form whose VRs the reader must look up.
func writeImplicit(elems ...Attribute) []byte {
	var b bytes.Buffer
	for _, e := range elems {
		v := e.Value
		if len(v)%2 == 1 {
			v = append(v, ' ')
		}
		binary.Write(&b, binary.LittleEndian, [2]uint16{e.Tag.Group(), uint16(e.Tag)})
		binary.Write(&b, binary.LittleEndian, uint32(len(v)))
		b.Write(v)
	}
	return b.Bytes()
}

func TestWriteCopyAttributes(t *testing.T) {
	birth, sex, rows := T(0x0010, 0x0030), T(0x0010, 0x0040), Rows
	tests := []struct {
		name string
		data func(t *testing.T) []byte
		want map[Tag]string // tag -> "VR value"; absent tags must not be copied
	}{
		{"explicit", func(t *testing.T) []byte {
			b, err := EncodeFile(DXForPresentation, "1.2.3", (&DataSetBuilder{}).AddString(PatientName, "PN", "Doe^J").
				AddString(birth, "DA", "19700101").AddString(sex, "CS").AddUint16(rows, 5).
				AddSequence(T(0x0008, 0x1111)))
			if err != nil {
				t.Fatal(err)
			}
			return b
		}, map[Tag]string{PatientName: "PN Doe^J ", birth: "DA 19700101", sex: "CS ", rows: "US \x05\x00"}},
		{"implicit", func(t *testing.T) []byte {
			return writeImplicit(Attribute{Tag: SpecificCharacterSet, Value: []byte("ISO_IR 100")},
				Attribute{Tag: PatientName, Value: []byte("M\xfcller^A")}, Attribute{Tag: birth, Value: []byte("19700101")},
				Attribute{Tag: T(0x0010, 0x1010), Value: []byte("054Y")})
		}, map[Tag]string{SpecificCharacterSet: "CS ISO_IR 100", PatientName: "PN M\xfcller^A", birth: "DA 19700101"}},
		{"big endian", func(t *testing.T) []byte {
			b, err := os.ReadFile("testdata/s12hi-bigendian.dcm")
			if err != nil {
				t.Skip(err)
			}
			return b
		}, map[Tag]string{PatientName: "PN Doe^Jane", SpecificCharacterSet: "CS ISO_IR 100"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := tt.data(t)
			f, err := Parse(data)
			if err != nil {
				t.Fatal(err)
			}
			tags := append([]Tag{rows, T(0x0010, 0x1010), T(0x0008, 0x1111)}, PatientStudyTags...)
			got := CopyAttributes(f, tags...)
			seen := map[Tag]bool{}
			for _, a := range got {
				seen[a.Tag] = true
				if want, ok := tt.want[a.Tag]; ok && a.VR+" "+string(a.Value) != want {
					t.Errorf("%s = %q, want %q", a.Tag, a.VR+" "+string(a.Value), want)
				}
				if _, ok := tt.want[a.Tag]; !ok && a.Tag != StudyInstanceUID && a.Tag != StudyDate && a.Tag != AccessionNumber && a.Tag != PatientID {
					t.Errorf("%s copied", a.Tag)
				}
			}
			for tag := range tt.want {
				if !seen[tag] {
					t.Errorf("%s not copied", tag)
				}
			}
			// The copies own their bytes.
			for i := range data {
				data[i] = 'X'
			}
			for _, a := range got {
				if want, ok := tt.want[a.Tag]; ok && a.VR+" "+string(a.Value) != want {
					t.Errorf("%s changed with the input: aliasing", a.Tag)
				}
			}
		})
	}
	if CopyAttributes(nil, PatientName) != nil {
		t.Error("CopyAttributes(nil) returned attributes")
	}
}
