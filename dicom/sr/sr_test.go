package sr

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"maira/dicom"
	"maira/models/report"
)

// srStudy writes a frontal and a lateral radiograph of one study and
// returns their references and the study attributes, as the report path
// gets them from dicom.ReadFile.
func srStudy(t *testing.T) ([]Source, []dicom.Attribute) {
	t.Helper()
	dir := t.TempDir()
	study := dicom.NewUID()
	pix := make([]uint16, 16*16)
	for i := range pix {
		pix[i] = uint16(i * 16)
	}
	var sources []Source
	var attrs []dicom.Attribute
	for i, view := range []string{"PA", "LL"} {
		path := filepath.Join(dir, view+".dcm")
		r := dicom.Radiograph{Width: 16, Height: 16, BitsStored: 12, Pix: pix, PatientID: "PID-1", PatientName: "Doe^Jane",
			PatientSex: "F", PatientBirthDate: "19700101", AccessionNumber: "ACC7", StudyInstanceUID: study,
			StudyDate: "20261127", StudyTime: "101500", ViewPosition: view, SeriesNumber: i + 1}
		if err := dicom.WriteRadiograph(path, r); err != nil {
			t.Fatal(err)
		}
		img, err := dicom.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		sources = append(sources, SourceOf(img))
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		f, err := dicom.Parse(data)
		if err != nil {
			t.Fatal(err)
		}
		attrs = dicom.CopyAttributes(f, dicom.PatientStudyTags...)
	}
	return sources, attrs
}

// text is a UT value without its padding: DataSet.String would split it at
// backslashes, which are text in a UT.
func text(ds *dicom.DataSet, t dicom.Tag) string {
	e := ds.Lookup(t)
	if e == nil {
		return ""
	}
	return strings.TrimRight(string(e.Value), " ")
}

// srTexts walks the content tree and returns "CONCEPT=TEXT" for each TEXT
// item, in order, with the relationship and the path of concept names.
func srTexts(ds *dicom.DataSet, path string) []string {
	var out []string
	seq := ds.Lookup(tagContentSequence)
	if seq == nil {
		return nil
	}
	for _, it := range seq.Items {
		name := ""
		if c := it.Lookup(tagConceptNameCodeSeq); c != nil && len(c.Items) == 1 {
			name = c.Items[0].String(tagCodeMeaning)
		}
		rel := it.String(tagRelationshipType)
		switch it.String(tagValueType) {
		case "TEXT":
			out = append(out, rel+" "+path+name+"="+text(it, tagTextValue))
		case "CONTAINER":
			out = append(out, srTexts(it, path+name+"/")...)
		}
	}
	return out
}

func TestSRWrite(t *testing.T) {
	sources, attrs := srStudy(t)
	latin1 := []dicom.Attribute{
		{Tag: dicom.SpecificCharacterSet, VR: "CS", Value: []byte("ISO_IR 100")},
		{Tag: dicom.PatientName, VR: "PN", Value: []byte("M\xfcller^Hans")},
		{Tag: dicom.StudyInstanceUID, VR: "UI", Value: []byte(sources[0].StudyInstanceUID)},
	}
	japanese := []dicom.Attribute{
		{Tag: dicom.SpecificCharacterSet, VR: "CS", Value: []byte(`\ISO 2022 IR 87`)},
		{Tag: dicom.PatientName, VR: "PN", Value: []byte("Yamada^Tarou=\x1b$B;3ED\x1b(B^\x1b$BB@O:\x1b(B")},
		{Tag: dicom.StudyInstanceUID, VR: "UI", Value: []byte(sources[0].StudyInstanceUID)},
	}
	prior := Source{SOPClassUID: dicom.DXForPresentation, SOPInstanceUID: "1.2.3.1", SeriesInstanceUID: "1.2.3.2", StudyInstanceUID: "1.2.3"}
	tests := []struct {
		name     string
		attrs    []dicom.Attribute
		sources  []Source
		rep      Report
		findings []string // the Finding texts expected
		charset  string
		name_    string // Patient's Name expected, as stored
		warnings int
		priors   int
	}{
		{name: "plain", rep: Report{Findings: "  No acute cardiopulmonary process. Heart size is normal.\n", Generator: "maira 0.3.0"},
			findings: []string{"No acute cardiopulmonary process. Heart size is normal."}, name_: "Doe^Jane"},
		{name: "sentences", rep: Report{Findings: "ignored", Sentences: []string{"Lungs are clear.", " ", "No effusion."}},
			findings: []string{"Lungs are clear.", "No effusion."}, name_: "Doe^Jane"},
		{name: "backslash", rep: Report{Findings: `Tube tip at T4 \ carina 3 cm.`, Generator: `maira\1`},
			findings: []string{`Tube tip at T4 \ carina 3 cm.`}, name_: "Doe^Jane"},
		{name: "lines and controls", rep: Report{Findings: "Line one.\nLine\ttwo.\x00\x07"},
			findings: []string{"Line one.\r\nLine two."}, name_: "Doe^Jane", warnings: 1},
		{name: "non-ASCII", rep: Report{Findings: "Angle of 30° at the left costophrenic recess."},
			findings: []string{"Angle of 30° at the left costophrenic recess."}, charset: "ISO_IR 192", name_: "Doe^Jane"},
		{name: "Latin-1 source, ASCII text", attrs: latin1, rep: Report{Findings: "Normal."},
			findings: []string{"Normal."}, charset: "ISO_IR 100", name_: "M\xfcller^Hans"},
		{name: "Latin-1 source, UTF-8 text", attrs: latin1, rep: Report{Findings: "Lungs clear, 2 × 3 mm nodule."},
			findings: []string{"Lungs clear, 2 × 3 mm nodule."}, charset: "ISO_IR 192", name_: "Müller^Hans"},
		{name: "ISO 2022 source, non-ASCII text", attrs: japanese, rep: Report{Findings: "Nodule 5 mm × 4 mm."},
			findings: []string{"Nodule 5 mm ? 4 mm."}, charset: `\ISO 2022 IR 87`, name_: "Yamada^Tarou=\x1b$B;3ED\x1b(B^\x1b$BB@O:\x1b(B", warnings: 1},
		{name: "prior from another study", sources: append(sources[:1:1], prior), rep: Report{Findings: "Stable."},
			findings: []string{"Stable."}, name_: "Doe^Jane", priors: 1},
		{name: "repeated source", sources: append(sources[:1:1], sources...), rep: Report{Findings: "Stable."},
			findings: []string{"Stable."}, name_: "Doe^Jane"},
	}
	dir := t.TempDir()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.attrs == nil {
				tt.attrs = attrs
			}
			if tt.sources == nil {
				tt.sources = sources
			}
			tt.rep.Time = time.Date(2026, 11, 27, 9, 45, 30, 0, time.UTC)
			path := filepath.Join(dir, strings.ReplaceAll(tt.name, " ", "_")+".dcm")
			doc, err := Write(path, tt.attrs, tt.sources, tt.rep)
			if err != nil {
				t.Fatal(err)
			}
			if len(doc.Warnings) != tt.warnings {
				t.Errorf("warnings %q, want %d", doc.Warnings, tt.warnings)
			}
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			f, err := dicom.Parse(data)
			if err != nil {
				t.Fatal(err)
			}
			want := map[dicom.Tag]string{
				dicom.SOPClassUID: BasicTextSR, dicom.SOPInstanceUID: doc.SOPInstanceUID, dicom.Modality: "SR",
				dicom.SeriesInstanceUID: doc.SeriesInstanceUID, dicom.StudyInstanceUID: sources[0].StudyInstanceUID,
				tagCompletionFlag: "PARTIAL", tagVerificationFlag: "UNVERIFIED", tagPreliminaryFlag: "PRELIMINARY",
				tagContentDate: "20261127", tagContentTime: "094530", tagTimezoneOffsetFromUTC: "+0000",
				tagSeriesNumber: "999", tagInstanceNumber: "1", tagManufacturer: "maira",
				tagValueType: "CONTAINER", tagContinuityOfContent: "SEPARATE", dicom.PatientName: tt.name_,
			}
			if tt.charset != "" {
				want[dicom.SpecificCharacterSet] = tt.charset
			}
			for tag, v := range want {
				if got := strings.TrimRight(string(f.Lookup(tag).Value), " \x00"); got != v {
					t.Errorf("%s = %q, want %q", tag, got, v)
				}
			}
			if tt.rep.Generator == `maira\1` && f.String(tagSoftwareVersions) != "maira/1" {
				t.Errorf("software versions %q", f.String(tagSoftwareVersions))
			}
			if tt.attrs[0].Tag != dicom.SpecificCharacterSet && len(tt.attrs) > 3 {
				for tag, v := range map[dicom.Tag]string{dicom.PatientID: "PID-1", tagPatientSex: "F", tagPatientBirthDate: "19700101",
					dicom.AccessionNumber: "ACC7", dicom.StudyDate: "20261127", tagStudyTime: "101500"} {
					if got := f.String(tag); got != v {
						t.Errorf("copied %s = %q, want %q", tag, got, v)
					}
				}
			}
			for _, tag := range []dicom.Tag{tagReferringPhysicianName, tagStudyID, tagPatientSex, tagReferencedPPSSeq} {
				if f.Lookup(tag) == nil {
					t.Errorf("Type 2 %s missing", tag)
				}
			}

			// The evidence: the study's images by series, the prior apart.
			ev := f.Lookup(tagCurrentRequestedEvidSeq)
			if ev == nil || len(ev.Items) != 1 || ev.Items[0].String(dicom.StudyInstanceUID) != sources[0].StudyInstanceUID {
				t.Fatalf("current evidence %+v", ev)
			}
			refs := map[string]bool{}
			for _, se := range ev.Items[0].Lookup(tagReferencedSeriesSeq).Items {
				for _, sop := range se.Lookup(tagReferencedSOPSeq).Items {
					if refs[sop.String(tagReferencedSOPInstUID)] {
						t.Errorf("instance referenced twice")
					}
					refs[sop.String(tagReferencedSOPInstUID)] = true
					if sop.String(tagReferencedSOPClassUID) != dicom.DXForPresentation {
						t.Errorf("referenced class %q", sop.String(tagReferencedSOPClassUID))
					}
				}
			}
			for _, s := range tt.sources {
				if s.StudyInstanceUID == sources[0].StudyInstanceUID && !refs[s.SOPInstanceUID] {
					t.Errorf("source %s not referenced", s.SOPInstanceUID)
				}
			}
			if po := f.Lookup(tagPertinentOtherEvidSeq); tt.priors == 0 && po != nil || tt.priors > 0 && (po == nil || len(po.Items) != tt.priors) {
				t.Errorf("pertinent other evidence %+v, want %d", po, tt.priors)
			}

			// The tree: the notice first, then the findings.
			wantTexts := []string{
				"HAS OBS CONTEXT Device Observer Name=maira", "HAS OBS CONTEXT Device Observer Manufacturer=maira",
				"CONTAINS Comment=" + report.Notice,
			}
			for _, s := range tt.findings {
				wantTexts = append(wantTexts, "CONTAINS Findings/Finding="+s)
			}
			got := srTexts(f.DataSet, "")
			if strings.Join(got, "\n") != strings.Join(wantTexts, "\n") {
				t.Errorf("content\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(wantTexts, "\n"))
			}
			srDcmtk(t, path, tt.findings, tt.charset == "ISO_IR 192")
		})
	}
}

// srDcmtk has dcmtk read the file: dcmdump and dsrdump, which checks the
// Basic Text SR constraints (value types, relationships, VRs of the
// values), without a warning or an error; it skips where dcmtk is absent.
func srDcmtk(t *testing.T, path string, findings []string, utf8 bool) {
	t.Helper()
	for _, tool := range []string{"dcmdump", "dsrdump"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Logf("%s (dcmtk) not installed: the check by dcmtk is skipped", tool)
			return
		}
	}
	run := func(args ...string) string {
		var stderr bytes.Buffer
		cmd := exec.Command(args[0], args[1:]...)
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		// dcmtk 3.6.7's checker of string values knows only the default
		// repertoire and Latin-1, and its SR module not every character
		// set: those notes are about dcmtk, not the file.
		var problems []string
		for _, line := range strings.Split(strings.TrimSpace(stderr.String()), "\n") {
			if line != "" && !strings.HasPrefix(line, "W: The VR checker does not support this Specific Character Set: ") &&
				!strings.HasPrefix(line, "W: Reading unknown/unsupported SpecificCharacterSet (") {
				problems = append(problems, line)
			}
		}
		if err != nil || len(problems) > 0 {
			t.Fatalf("%s: %v\n%s\n%s", strings.Join(args, " "), err, stderr.String(), out)
		}
		return string(out)
	}
	run("dcmdump", "-M", "+L", path)
	// dicom3tools' dciodvfy checks the Basic Text SR IOD; it only warns
	// where a DICOMDIR would want an attribute that the source lacked.
	if _, err := exec.LookPath("dciodvfy"); err == nil {
		out, _ := exec.Command("dciodvfy", path).CombinedOutput()
		for _, line := range strings.Split(string(out), "\n") {
			if strings.HasPrefix(line, "Error") || strings.HasPrefix(line, "Warning") && !strings.Contains(line, "DICOMDIR") {
				t.Errorf("dciodvfy: %s", line)
			}
		}
	} else {
		t.Log("dciodvfy (dicom3tools) not installed: the IOD check is skipped")
	}
	args := []string{"dsrdump", "+Pl"}
	if utf8 {
		args = append(args, "+U8")
	}
	out := run(append(args, path)...)
	for _, s := range append([]string{"UNVERIFIED", "PARTIAL", report.Notice, "Basic Text SR"}, findings...) {
		s = strings.ReplaceAll(s, "\r\n", `\r\n`) // as dsrdump prints them
		if !strings.Contains(out, s) {
			t.Errorf("dsrdump output lacks %q:\n%s", s, out)
		}
	}
}

func TestSRErrors(t *testing.T) {
	sources, attrs := srStudy(t)
	other := sources[0]
	other.StudyInstanceUID = "1.2.3"
	noUID := sources[0]
	noUID.SOPClassUID = ""
	tests := []struct {
		name    string
		attrs   []dicom.Attribute
		sources []Source
		rep     Report
		want    string
	}{
		{"empty findings", attrs, sources, Report{Findings: " \n\t"}, "empty findings"},
		{"empty sentences", attrs, sources, Report{Sentences: []string{"", " "}}, "empty findings"},
		{"no sources", attrs, nil, Report{Findings: "x"}, "no source"},
		{"source of another study", attrs, []Source{other}, Report{Findings: "x"}, "no source image belongs"},
		{"source without a UID", attrs, []Source{noUID}, Report{Findings: "x"}, "lacks a UID"},
		{"foreign attribute", append(attrs[:1:1], dicom.Attribute{Tag: dicom.SOPInstanceUID, VR: "UI", Value: []byte("1.2")}), sources,
			Report{Findings: "x"}, "PatientStudyTags"},
		{"bad SOP instance UID", attrs, sources, Report{Findings: "x", SOPInstanceUID: "1.2.x"}, "not allowed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "sr.dcm")
			_, err := Write(path, tt.attrs, tt.sources, tt.rep)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one containing %q", err, tt.want)
			}
			if _, err := os.Stat(path); err == nil {
				t.Error("a file was left")
			}
		})
	}
}

func TestSRNoStudyAttributes(t *testing.T) {
	// Without attributes (a caller that has none), the study comes from the
	// sources and the Type 2 attributes are written empty.
	sources, _ := srStudy(t)
	doc, err := New(nil, sources, Report{Findings: "Normal."})
	if err != nil {
		t.Fatal(err)
	}
	data, err := doc.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	f, err := dicom.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	if f.String(dicom.StudyInstanceUID) != sources[0].StudyInstanceUID || f.Lookup(dicom.PatientID) == nil || f.Lookup(tagReferencedRequestSeq) != nil {
		t.Errorf("study %q, patient ID %v, request %v", f.String(dicom.StudyInstanceUID), f.Lookup(dicom.PatientID), f.Lookup(tagReferencedRequestSeq))
	}
	path := filepath.Join(t.TempDir(), "sr.dcm")
	if err := doc.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	srDcmtk(t, path, []string{"Normal."}, false)
}
