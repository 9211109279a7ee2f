// Package sr files maira's draft findings back into the study as a DICOM
// Basic Text SR (Structured Report, PS3.3 A.35.1): the one report object
// that every PACS stores and every viewer shows, so the draft reaches the
// radiologist beside the images it was drafted from.
//
// The document is marked as what it is, in each place a system or a reader
// looks: Completion Flag PARTIAL, Verification Flag UNVERIFIED, Preliminary
// Flag PRELIMINARY, a device (not a person) as the observer, and
// report.Notice as the first text item. It repeats the source images'
// Patient and General Study modules (dicom.CopyAttributes with
// dicom.PatientStudyTags), so that the PACS files it with that patient and
// study, and references the images as evidence: those of the study as the
// Current Requested Procedure Evidence, others (a prior) as Pertinent
// Other Evidence.
//
// The content tree:
//
//	CONTAINER (18748-4, LN, "Diagnostic Imaging Report"), SEPARATE
//	  HAS CONCEPT MOD CODE Language of Content Item and Descendants = English
//	  HAS OBS CONTEXT CODE Observer Type = Device
//	  HAS OBS CONTEXT UIDREF Device Observer UID
//	  HAS OBS CONTEXT TEXT Device Observer Name = "maira"
//	  HAS OBS CONTEXT TEXT Device Observer Manufacturer = "maira"
//	  CONTAINS TEXT (121106, DCM, "Comment") = report.Notice
//	  CONTAINS CONTAINER (121070, DCM, "Findings"), SEPARATE
//	    CONTAINS TEXT (121071, DCM, "Finding"), one per sentence or one for all
//
// It has the shape of TID 2000 (Basic Diagnostic Imaging Report) but does
// not claim it in a Content Template Sequence: the notice is a Comment,
// which CID 7002 does not list, and no template validator has checked it.
// Basic Text SR's own constraints (value types and relationships) are
// checked by dcmtk's dsrdump in the tests.
package sr

import (
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"maira/dicom"
	"maira/models/report"
)

// BasicTextSR is the Basic Text SR Storage SOP Class.
const BasicTextSR = "1.2.840.10008.5.1.4.1.1.88.11"

// Defaults for the SR series. Series Number 999 sorts the report after the
// images in a PACS's series list, as scanners number their own reports.
const (
	DefaultSeriesNumber = 999
	seriesDescription   = "maira draft findings (unverified)"
	completionDesc      = "machine-drafted, awaiting review by a radiologist"
)

// Source is one image the draft was made from.
type Source struct {
	SOPClassUID, SOPInstanceUID, SeriesInstanceUID, StudyInstanceUID string
}

// SourceOf is the reference to an image read by dicom.ReadFile.
func SourceOf(img *dicom.Image) Source {
	s := img.Study
	return Source{SOPClassUID: s.SOPClassUID, SOPInstanceUID: s.SOPInstanceUID,
		SeriesInstanceUID: s.SeriesInstanceUID, StudyInstanceUID: s.StudyInstanceUID}
}

// Report is the draft to file.
type Report struct {
	// Findings is the FINDINGS text. Sentences, where given (the grounded
	// sentences of report.Document), are written as one TEXT item each
	// instead; empty ones are dropped.
	Findings  string
	Sentences []string
	// Generator is "maira VERSION", written as Software Versions.
	Generator string
	// Time is when the draft was made: Content and Instance Creation Date
	// and Time, with its zone as the Timezone Offset From UTC; zero: now.
	Time time.Time
	// SeriesInstanceUID and SOPInstanceUID are new ones where empty.
	SeriesInstanceUID, SOPInstanceUID string
	// SeriesNumber 0 is DefaultSeriesNumber; InstanceNumber 0 is 1.
	SeriesNumber, InstanceNumber int
	// DeviceUID identifies this appliance as the observer; empty:
	// dicom.ImplementationClassUID, which identifies the software only.
	DeviceUID string
}

// Document is a built SR, ready to write or send.
type Document struct {
	StudyInstanceUID, SeriesInstanceUID, SOPInstanceUID string
	// Warnings say what was changed to fit DICOM (characters a source's
	// character set cannot hold, control characters).
	Warnings []string
	// DataSet is the SR's data set; a caller may add to it (Institution
	// Name, say) before writing.
	DataSet *dicom.DataSetBuilder
}

// Bytes encodes the document as a Part 10 file.
func (d *Document) Bytes() ([]byte, error) {
	return dicom.EncodeFile(BasicTextSR, d.SOPInstanceUID, d.DataSet)
}

// WriteFile writes the document at path, atomically.
func (d *Document) WriteFile(path string) error {
	return dicom.WriteFile(path, BasicTextSR, d.SOPInstanceUID, d.DataSet)
}

// Write builds the SR (New) and writes it at path.
func Write(path string, study []dicom.Attribute, sources []Source, rep Report) (*Document, error) {
	d, err := New(study, sources, rep)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if err := d.WriteFile(path); err != nil {
		return nil, err
	}
	return d, nil
}

// Tags of the SR modules. The names are PS3.6's keywords.
var (
	tagInstanceCreationDate    = dicom.T(0x0008, 0x0012)
	tagInstanceCreationTime    = dicom.T(0x0008, 0x0013)
	tagSeriesDate              = dicom.T(0x0008, 0x0021)
	tagContentDate             = dicom.T(0x0008, 0x0023)
	tagStudyTime               = dicom.T(0x0008, 0x0030)
	tagSeriesTime              = dicom.T(0x0008, 0x0031)
	tagContentTime             = dicom.T(0x0008, 0x0033)
	tagManufacturer            = dicom.T(0x0008, 0x0070)
	tagReferringPhysicianName  = dicom.T(0x0008, 0x0090)
	tagCodeValue               = dicom.T(0x0008, 0x0100)
	tagCodingSchemeDesignator  = dicom.T(0x0008, 0x0102)
	tagCodeMeaning             = dicom.T(0x0008, 0x0104)
	tagTimezoneOffsetFromUTC   = dicom.T(0x0008, 0x0201)
	tagSeriesDescription       = dicom.T(0x0008, 0x103E)
	tagManufacturerModelName   = dicom.T(0x0008, 0x1090)
	tagReferencedStudySeq      = dicom.T(0x0008, 0x1110)
	tagReferencedPPSSeq        = dicom.T(0x0008, 0x1111)
	tagReferencedSeriesSeq     = dicom.T(0x0008, 0x1115)
	tagReferencedSOPClassUID   = dicom.T(0x0008, 0x1150)
	tagReferencedSOPInstUID    = dicom.T(0x0008, 0x1155)
	tagReferencedSOPSeq        = dicom.T(0x0008, 0x1199)
	tagPatientBirthDate        = dicom.T(0x0010, 0x0030)
	tagPatientSex              = dicom.T(0x0010, 0x0040)
	tagSoftwareVersions        = dicom.T(0x0018, 0x1020)
	tagStudyID                 = dicom.T(0x0020, 0x0010)
	tagSeriesNumber            = dicom.T(0x0020, 0x0011)
	tagInstanceNumber          = dicom.T(0x0020, 0x0013)
	tagRequestedProcedureDesc  = dicom.T(0x0032, 0x1060)
	tagRequestedProcedureCode  = dicom.T(0x0032, 0x1064)
	tagRequestedProcedureID    = dicom.T(0x0040, 0x1001)
	tagPlacerOrderNumber       = dicom.T(0x0040, 0x2016)
	tagFillerOrderNumber       = dicom.T(0x0040, 0x2017)
	tagRelationshipType        = dicom.T(0x0040, 0xA010)
	tagValueType               = dicom.T(0x0040, 0xA040)
	tagConceptNameCodeSeq      = dicom.T(0x0040, 0xA043)
	tagContinuityOfContent     = dicom.T(0x0040, 0xA050)
	tagUID                     = dicom.T(0x0040, 0xA124)
	tagTextValue               = dicom.T(0x0040, 0xA160)
	tagConceptCodeSeq          = dicom.T(0x0040, 0xA168)
	tagReferencedRequestSeq    = dicom.T(0x0040, 0xA370)
	tagPerformedProcedureCode  = dicom.T(0x0040, 0xA372)
	tagCurrentRequestedEvidSeq = dicom.T(0x0040, 0xA375)
	tagPertinentOtherEvidSeq   = dicom.T(0x0040, 0xA385)
	tagCompletionFlag          = dicom.T(0x0040, 0xA491)
	tagCompletionFlagDesc      = dicom.T(0x0040, 0xA492)
	tagVerificationFlag        = dicom.T(0x0040, 0xA493)
	tagPreliminaryFlag         = dicom.T(0x0040, 0xA496)
	tagContentSequence         = dicom.T(0x0040, 0xA730)
)

// code is a coded concept: (value, scheme, meaning).
type code struct{ value, scheme, meaning string }

var (
	codeReport       = code{"18748-4", "LN", "Diagnostic Imaging Report"}
	codeLanguage     = code{"121049", "DCM", "Language of Content Item and Descendants"}
	codeEnglish      = code{"en", "RFC5646", "English"}
	codeObserverType = code{"121005", "DCM", "Observer Type"}
	codeDevice       = code{"121007", "DCM", "Device"}
	codeDeviceUID    = code{"121012", "DCM", "Device Observer UID"}
	codeDeviceName   = code{"121013", "DCM", "Device Observer Name"}
	codeDeviceMaker  = code{"121014", "DCM", "Device Observer Manufacturer"}
	codeComment      = code{"121106", "DCM", "Comment"}
	codeFindings     = code{"121070", "DCM", "Findings"}
	codeFinding      = code{"121071", "DCM", "Finding"}
)

func (c code) item() *dicom.DataSetBuilder {
	return (&dicom.DataSetBuilder{}).
		AddString(tagCodeValue, "SH", c.value).
		AddString(tagCodingSchemeDesignator, "SH", c.scheme).
		AddString(tagCodeMeaning, "LO", c.meaning)
}

// contentItem starts a content item: relationship (empty for the root),
// value type and concept name.
func contentItem(rel, valueType string, name code) *dicom.DataSetBuilder {
	b := &dicom.DataSetBuilder{}
	if rel != "" {
		b.AddString(tagRelationshipType, "CS", rel)
	}
	return b.AddString(tagValueType, "CS", valueType).AddSequence(tagConceptNameCodeSeq, name.item())
}

func textItem(rel string, name code, text string) *dicom.DataSetBuilder {
	return contentItem(rel, "TEXT", name).AddString(tagTextValue, "UT", text)
}

func container(rel string, name code, children ...*dicom.DataSetBuilder) *dicom.DataSetBuilder {
	return contentItem(rel, "CONTAINER", name).
		AddString(tagContinuityOfContent, "CS", "SEPARATE").
		AddSequence(tagContentSequence, children...)
}

// New builds the SR of rep. study holds the source images' Patient and
// General Study attributes (dicom.CopyAttributes with
// dicom.PatientStudyTags; other tags are refused); sources are the images
// the draft was made from, at least one of them in that study. Empty
// findings are an error: there is nothing to file.
func New(study []dicom.Attribute, sources []Source, rep Report) (*Document, error) {
	d := &Document{}
	cleaned := false
	clean := func(s string) string {
		out, changed := cleanText(s)
		if changed && !cleaned {
			cleaned = true
			d.Warnings = append(d.Warnings, "control characters or invalid UTF-8 in the text were removed or replaced")
		}
		return out
	}

	var texts []string
	for _, s := range rep.Sentences {
		if s = clean(s); s != "" {
			texts = append(texts, s)
		}
	}
	if len(texts) == 0 {
		if f := clean(rep.Findings); f != "" {
			texts = []string{f}
		}
	}
	if len(texts) == 0 {
		return nil, fmt.Errorf("sr: empty findings: nothing to file")
	}
	generator := strings.ReplaceAll(clean(rep.Generator), `\`, "/")
	if generator == "" {
		generator = "maira"
	}

	attrs, charset, warn, err := encodeCharset(study, append([]string{report.Notice, generator}, texts...))
	if err != nil {
		return nil, err
	}
	if warn != "" {
		d.Warnings = append(d.Warnings, warn)
		for i := range texts {
			texts[i] = asciiOnly(texts[i])
		}
		generator = asciiOnly(generator)
	}

	d.StudyInstanceUID = attrString(attrs, dicom.StudyInstanceUID)
	if len(sources) == 0 {
		return nil, fmt.Errorf("sr: no source images to reference")
	}
	if d.StudyInstanceUID == "" {
		d.StudyInstanceUID = sources[0].StudyInstanceUID
	}
	current, other, err := evidence(d.StudyInstanceUID, sources)
	if err != nil {
		return nil, err
	}

	d.SeriesInstanceUID, d.SOPInstanceUID = rep.SeriesInstanceUID, rep.SOPInstanceUID
	if d.SeriesInstanceUID == "" {
		d.SeriesInstanceUID = dicom.NewUID()
	}
	if d.SOPInstanceUID == "" {
		d.SOPInstanceUID = dicom.NewUID()
	}
	series, instance := rep.SeriesNumber, rep.InstanceNumber
	if series == 0 {
		series = DefaultSeriesNumber
	}
	if instance == 0 {
		instance = 1
	}
	device := rep.DeviceUID
	if device == "" {
		device = dicom.ImplementationClassUID
	}
	t := rep.Time
	if t.IsZero() {
		t = time.Now()
	}
	date, clock, zone := t.Format("20060102"), t.Format("150405"), t.Format("-0700")

	ds := &dicom.DataSetBuilder{}
	ds.AddAttributes(attrs...)
	if charset != "" {
		ds.AddString(dicom.SpecificCharacterSet, "CS", charset)
	}
	// Type 2 attributes of the Patient and General Study modules are
	// present even when the source did not have them.
	for _, a := range []struct {
		tag dicom.Tag
		vr  string
	}{
		{dicom.PatientName, "PN"}, {dicom.PatientID, "LO"}, {tagPatientBirthDate, "DA"}, {tagPatientSex, "CS"},
		{dicom.StudyDate, "DA"}, {tagStudyTime, "TM"}, {tagReferringPhysicianName, "PN"}, {tagStudyID, "SH"},
		{dicom.AccessionNumber, "SH"},
	} {
		if !ds.Has(a.tag) {
			ds.AddString(a.tag, a.vr)
		}
	}
	ds.AddString(dicom.StudyInstanceUID, "UI", d.StudyInstanceUID).
		// SR Document Series, General Equipment, SOP Common.
		AddString(dicom.Modality, "CS", "SR").
		AddString(dicom.SeriesInstanceUID, "UI", d.SeriesInstanceUID).
		AddInt(tagSeriesNumber, series).
		AddString(tagSeriesDate, "DA", date).
		AddString(tagSeriesTime, "TM", clock).
		AddString(tagSeriesDescription, "LO", seriesDescription).
		AddSequence(tagReferencedPPSSeq).
		AddString(tagManufacturer, "LO", "maira").
		AddString(tagManufacturerModelName, "LO", "maira").
		AddString(tagSoftwareVersions, "LO", truncate(generator, 64)).
		AddString(tagInstanceCreationDate, "DA", date).
		AddString(tagInstanceCreationTime, "TM", clock).
		AddString(tagTimezoneOffsetFromUTC, "SH", zone).
		// SR Document General.
		AddInt(tagInstanceNumber, instance).
		AddString(tagContentDate, "DA", date).
		AddString(tagContentTime, "TM", clock).
		AddString(tagCompletionFlag, "CS", "PARTIAL").
		AddString(tagCompletionFlagDesc, "LO", completionDesc).
		AddString(tagVerificationFlag, "CS", "UNVERIFIED").
		AddString(tagPreliminaryFlag, "CS", "PRELIMINARY").
		AddSequence(tagPerformedProcedureCode).
		AddSequence(tagCurrentRequestedEvidSeq, current...)
	if len(other) > 0 {
		ds.AddSequence(tagPertinentOtherEvidSeq, other...)
	}
	// The request the study answers, where the order is known by its
	// accession number (Referenced Request Sequence, Type 1C).
	if acc := attrValue(attrs, dicom.AccessionNumber); len(acc) > 0 {
		req := (&dicom.DataSetBuilder{}).
			AddString(dicom.StudyInstanceUID, "UI", d.StudyInstanceUID).
			AddSequence(tagReferencedStudySeq).
			Add(dicom.AccessionNumber, "SH", acc).
			AddString(tagPlacerOrderNumber, "LO").
			AddString(tagFillerOrderNumber, "LO").
			AddString(tagRequestedProcedureID, "SH").
			AddString(tagRequestedProcedureDesc, "LO").
			AddSequence(tagRequestedProcedureCode)
		ds.AddSequence(tagReferencedRequestSeq, req)
	}

	// SR Document Content: the root container and its tree.
	findings := make([]*dicom.DataSetBuilder, len(texts))
	for i, s := range texts {
		findings[i] = textItem("CONTAINS", codeFinding, s)
	}
	language := contentItem("HAS CONCEPT MOD", "CODE", codeLanguage).AddSequence(tagConceptCodeSeq, codeEnglish.item())
	observer := contentItem("HAS OBS CONTEXT", "CODE", codeObserverType).AddSequence(tagConceptCodeSeq, codeDevice.item())
	deviceUID := contentItem("HAS OBS CONTEXT", "UIDREF", codeDeviceUID).AddString(tagUID, "UI", device)
	children := []*dicom.DataSetBuilder{
		language, observer, deviceUID,
		textItem("HAS OBS CONTEXT", codeDeviceName, "maira"),
		textItem("HAS OBS CONTEXT", codeDeviceMaker, "maira"),
		textItem("CONTAINS", codeComment, report.Notice),
		container("CONTAINS", codeFindings, findings...),
	}
	// The root content item's attributes are the data set's own.
	ds.AddString(tagValueType, "CS", "CONTAINER").
		AddSequence(tagConceptNameCodeSeq, codeReport.item()).
		AddString(tagContinuityOfContent, "CS", "SEPARATE").
		AddSequence(tagContentSequence, children...)
	d.DataSet = ds
	if _, err := ds.Encode(); err != nil {
		return nil, fmt.Errorf("sr: %w", err)
	}
	return d, nil
}

// evidence groups the sources by study and series into Hierarchical SOP
// Instance Reference items (PS3.3 C.17.2.1): the study's own, and others.
// A repeated instance is referenced once.
func evidence(studyUID string, sources []Source) (current, other []*dicom.DataSetBuilder, err error) {
	type series struct {
		uid  string
		sops []*dicom.DataSetBuilder
	}
	type study struct {
		uid    string
		series []*series
	}
	var studies []*study
	seen := map[string]bool{}
	for i, s := range sources {
		if s.SOPClassUID == "" || s.SOPInstanceUID == "" || s.SeriesInstanceUID == "" || s.StudyInstanceUID == "" {
			return nil, nil, fmt.Errorf("sr: source image %d lacks a UID (SOP class %q, instance %q, series %q, study %q)",
				i+1, s.SOPClassUID, s.SOPInstanceUID, s.SeriesInstanceUID, s.StudyInstanceUID)
		}
		if seen[s.SOPInstanceUID] {
			continue
		}
		seen[s.SOPInstanceUID] = true
		k := slices.IndexFunc(studies, func(st *study) bool { return st.uid == s.StudyInstanceUID })
		if k < 0 {
			studies = append(studies, &study{uid: s.StudyInstanceUID})
			k = len(studies) - 1
		}
		st := studies[k]
		j := slices.IndexFunc(st.series, func(se *series) bool { return se.uid == s.SeriesInstanceUID })
		if j < 0 {
			st.series = append(st.series, &series{uid: s.SeriesInstanceUID})
			j = len(st.series) - 1
		}
		st.series[j].sops = append(st.series[j].sops, (&dicom.DataSetBuilder{}).
			AddString(tagReferencedSOPClassUID, "UI", s.SOPClassUID).
			AddString(tagReferencedSOPInstUID, "UI", s.SOPInstanceUID))
	}
	for _, st := range studies {
		var items []*dicom.DataSetBuilder
		for _, se := range st.series {
			items = append(items, (&dicom.DataSetBuilder{}).
				AddString(dicom.SeriesInstanceUID, "UI", se.uid).
				AddSequence(tagReferencedSOPSeq, se.sops...))
		}
		ref := (&dicom.DataSetBuilder{}).
			AddString(dicom.StudyInstanceUID, "UI", st.uid).
			AddSequence(tagReferencedSeriesSeq, items...)
		if st.uid == studyUID {
			current = append(current, ref)
		} else {
			other = append(other, ref)
		}
	}
	if len(current) == 0 {
		// The attributes and the images disagree: filing the draft would
		// put it in a study it was not made from.
		return nil, nil, fmt.Errorf("sr: no source image belongs to study %s", studyUID)
	}
	return current, other, nil
}

// cleanText makes s fit a UT value: valid UTF-8, lines ending in CR LF,
// tabs as spaces, other control characters (which UT does not allow, and
// ESC, which would switch character sets) removed, surrounding space
// trimmed. changed reports a removal or replacement beyond the trimming
// and line ends.
func cleanText(s string) (out string, changed bool) {
	if !utf8.ValidString(s) {
		s, changed = strings.ToValidUTF8(s, "\uFFFD"), true
	}
	s = strings.ReplaceAll(s, "\r\n", "\n")
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '\n':
			b.WriteString("\r\n")
		case r == '\t':
			b.WriteByte(' ')
		case r == '\r' || r == '\f':
			b.WriteRune(r)
		case r < 0x20 || r == 0x7F || (r >= 0x80 && r < 0xA0):
			changed = true
		default:
			b.WriteRune(r)
		}
	}
	return strings.TrimSpace(b.String()), changed
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// asciiOnly replaces each character outside ASCII with '?'.
func asciiOnly(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 0x80 {
			return '?'
		}
		return r
	}, s)
}

func attrValue(attrs []dicom.Attribute, t dicom.Tag) []byte {
	for _, a := range attrs {
		if a.Tag == t {
			return []byte(strings.TrimRight(string(a.Value), " \x00"))
		}
	}
	return nil
}

func attrString(attrs []dicom.Attribute, t dicom.Tag) string { return string(attrValue(attrs, t)) }
