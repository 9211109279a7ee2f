package dicom

// The writer: DICOM Part 10 files in explicit VR little endian, the one
// transfer syntax every DICOM reader must accept (PS3.5 A.2, PS3.7 A.2.2
// for the network), so maira's own objects (the draft report as a
// Structured Report, demo radiographs) never depend on a reader's codecs.

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"math"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"maira/internal/atomicfile"
)

// Identification of the files maira writes (PS3.7 D.3.3.2): a fixed UID
// under 2.25 (made once from a random UUID, as PS3.5 B.2 allows without a
// registered root) and a version name that changes when the encoder does.
const (
	ImplementationClassUID    = "2.25.218427469709831470359550109935444641593"
	ImplementationVersionName = "MAIRA_1"

	// ExplicitVRLittleEndian is the transfer syntax of every file written.
	ExplicitVRLittleEndian = "1.2.840.10008.1.2.1"
	// DXForPresentation is Digital X-Ray Image Storage - For Presentation.
	DXForPresentation = "1.2.840.10008.5.1.4.1.1.1.1"
)

// NewUID returns a new globally unique UID: "2.25." and the decimal value of
// a random (version 4) UUID, as PS3.5 B.2 defines; at most 44 characters.
func NewUID() string {
	var u [16]byte
	rand.Read(u[:])         // never fails (crypto/rand crashes the program instead)
	u[6] = u[6]&0x0F | 0x40 // version 4
	u[8] = u[8]&0x3F | 0x80 // variant 10 (RFC 9562)
	return "2.25." + new(big.Int).SetBytes(u[:]).String()
}

// Attribute is one element copied out of a parsed file, its value owned by
// the Attribute (not aliasing the file's mapping) and as encoded: padding
// included, text in the source's Specific Character Set.
type Attribute struct {
	Tag   Tag
	VR    string
	Value []byte
}

// PatientStudyTags are the Patient and General Study module attributes that
// an object derived from an image (the draft report) repeats so that a PACS
// files it with the same patient and study (PS3.3 C.7.1.1, C.7.2.1), with
// the Specific Character Set their text is in.
var PatientStudyTags = []Tag{
	SpecificCharacterSet,
	T(0x0008, 0x0020), // Study Date
	T(0x0008, 0x0030), // Study Time
	T(0x0008, 0x0050), // Accession Number
	T(0x0008, 0x0090), // Referring Physician's Name
	T(0x0008, 0x1030), // Study Description
	T(0x0010, 0x0010), // Patient's Name
	T(0x0010, 0x0020), // Patient ID
	T(0x0010, 0x0021), // Issuer of Patient ID
	T(0x0010, 0x0030), // Patient's Birth Date
	T(0x0010, 0x0040), // Patient's Sex
	T(0x0020, 0x000D), // Study Instance UID
	T(0x0020, 0x0010), // Study ID
}

// attributeVR gives the VR of PatientStudyTags where an implicit VR file
// does not spell it and implicitVR does not know it.
var attributeVR = map[Tag]string{
	SpecificCharacterSet: "CS", T(0x0008, 0x0020): "DA", T(0x0008, 0x0030): "TM",
	T(0x0008, 0x0050): "SH", T(0x0008, 0x0090): "PN", T(0x0008, 0x1030): "LO",
	T(0x0010, 0x0010): "PN", T(0x0010, 0x0020): "LO", T(0x0010, 0x0021): "LO",
	T(0x0010, 0x0030): "DA", T(0x0010, 0x0040): "CS", T(0x0020, 0x000D): "UI",
	T(0x0020, 0x0010): "SH",
}

// CopyAttributes copies the elements with the given tags out of f's data set,
// in the order of tags, skipping those absent. An element present with an
// empty value is kept: a Type 2 attribute must be repeated as present. Text
// VRs are copied whatever the byte order; binary ones only from a little
// endian file (the writer's order), and sequences, or an element whose VR
// is unknown (implicit VR, not in the dictionaries), never.
func CopyAttributes(f *File, tags ...Tag) []Attribute {
	if f == nil || f.DataSet == nil {
		return nil
	}
	var out []Attribute
	for _, t := range tags {
		e := f.Lookup(t)
		if e == nil || e.Items != nil || e.Encapsulated {
			continue
		}
		vr := e.VR
		if vr == "" {
			vr = attributeVR[t]
		}
		switch {
		case vr == "" || vr == "SQ":
			continue
		case !textVR(vr) && f.BigEndian:
			continue
		}
		out = append(out, Attribute{Tag: t, VR: vr, Value: bytes.Clone(e.Value)})
	}
	return out
}

// textVR tells whether a VR holds characters (padded with a space, and
// independent of byte order), as opposed to binary numbers or bytes.
func textVR(vr string) bool {
	switch vr {
	case "AE", "AS", "CS", "DA", "DS", "DT", "IS", "LO", "LT", "PN", "SH", "ST", "TM", "UC", "UI", "UR", "UT":
		return true
	}
	return false
}

// binaryVR gives the size of one value of a fixed-size binary VR; 0 for the
// others.
func binaryVR(vr string) int {
	switch vr {
	case "SS", "US", "OW":
		return 2
	case "AT", "FL", "SL", "UL", "OF", "OL":
		return 4
	case "FD", "SV", "UV", "OD", "OV":
		return 8
	}
	return 0
}

// maxLength is the most bytes a value of a text VR may hold (PS3.5 table
// 6.2-1): for multi-valued VRs each value, for PN each component group.
var maxLength = map[string]int{
	"AE": 16, "AS": 4, "CS": 16, "DA": 8, "DS": 16, "DT": 26, "IS": 12, "LO": 64,
	"LT": 10240, "PN": 64, "SH": 16, "ST": 1024, "TM": 14, "UI": 64,
}

// singleValued are the text VRs whose value is one string in which a
// backslash is an ordinary character, not a delimiter.
func singleValued(vr string) bool { return vr == "LT" || vr == "ST" || vr == "UT" || vr == "UR" }

// DataSetBuilder assembles a data set to write. The zero value is empty and
// ready. Adding a tag again replaces its value. Errors (a bad VR, a value
// too long or malformed) are kept and returned by Encode, so that a
// sequence of Adds needs no checks between them.
type DataSetBuilder struct {
	elems map[Tag]*wElement
	err   error
}

type wElement struct {
	vr    string
	value []byte
	items []*DataSetBuilder // SQ only
}

func (b *DataSetBuilder) set(t Tag, e *wElement) *DataSetBuilder {
	if b.elems == nil {
		b.elems = map[Tag]*wElement{}
	}
	b.elems[t] = e
	return b
}

func (b *DataSetBuilder) fail(t Tag, format string, args ...any) *DataSetBuilder {
	if b.err == nil {
		b.err = fmt.Errorf("dicom: element %s: %s", t, fmt.Sprintf(format, args...))
	}
	return b
}

// Has tells whether the data set holds tag t.
func (b *DataSetBuilder) Has(t Tag) bool { return b.elems[t] != nil }

// Add adds an element with its value as encoded (explicit VR little
// endian), unchecked except for the VR and the length; it is padded to an
// even length when written. Add is for values copied from another file;
// AddString and the typed methods check what they write.
func (b *DataSetBuilder) Add(t Tag, vr string, value []byte) *DataSetBuilder {
	switch {
	case t.Group() == 0x0002 || t.Group() == 0xFFFE:
		return b.fail(t, "group %04X is written by WriteFile, not in a data set", t.Group())
	case vr == "SQ":
		return b.fail(t, "a sequence is added with AddSequence")
	case len(vr) != 2 || !isVR(vr[0], vr[1]) || (!textVR(vr) && binaryVR(vr) == 0 && vr != "OB" && vr != "UN"):
		return b.fail(t, "unknown or unsupported VR %q", vr)
	case binaryVR(vr) != 0 && len(value)%binaryVR(vr) != 0:
		return b.fail(t, "%d bytes is not a whole number of %s values", len(value), vr)
	case !longVR(vr) && len(value) > 0xFFFE:
		return b.fail(t, "%d bytes is too long for VR %s", len(value), vr)
	case uint64(len(value)) > 0xFFFFFFFD: // 0xFFFFFFFE with padding; 0xFFFFFFFF is "undefined"
		return b.fail(t, "value too long")
	}
	return b.set(t, &wElement{vr: vr, value: bytes.Clone(value)})
}

// AddAttributes adds copied attributes (CopyAttributes) as they are.
func (b *DataSetBuilder) AddAttributes(attrs ...Attribute) *DataSetBuilder {
	for _, a := range attrs {
		b.Add(a.Tag, a.VR, a.Value)
	}
	return b
}

// AddString adds a text element; several values are joined with
// backslashes (VM > 1). No value, or one empty string, adds the element
// with an empty value: a Type 2 attribute that is unknown. Each value is
// checked for its VR's length limit and repertoire where a mistake would
// make the file wrong for every reader (a UID, a date, a code string, a
// backslash inside a value).
func (b *DataSetBuilder) AddString(t Tag, vr string, values ...string) *DataSetBuilder {
	if !textVR(vr) {
		return b.fail(t, "VR %s is not a text VR", vr)
	}
	if singleValued(vr) && len(values) > 1 {
		return b.fail(t, "VR %s holds one value, not %d", vr, len(values))
	}
	for _, v := range values {
		if err := checkText(vr, v); err != nil {
			return b.fail(t, "%s value %q: %v", vr, v, err)
		}
	}
	return b.Add(t, vr, []byte(strings.Join(values, `\`)))
}

func checkText(vr, v string) error {
	if !singleValued(vr) && strings.Contains(v, `\`) {
		return fmt.Errorf("a backslash separates values in VR %s", vr)
	}
	n := len(v)
	if vr == "PN" {
		// The limit is per component group (alphabetic=ideographic=phonetic).
		n = 0
		for _, g := range strings.Split(v, "=") {
			n = max(n, len(g))
		}
	}
	if limit := maxLength[vr]; limit > 0 && n > limit {
		return fmt.Errorf("longer than %d bytes", limit)
	}
	valid := func(ok func(c byte) bool) error {
		for i := 0; i < len(v); i++ {
			if !ok(v[i]) {
				return fmt.Errorf("character %q not allowed", v[i])
			}
		}
		return nil
	}
	switch vr {
	case "UI":
		if err := valid(func(c byte) bool { return c == '.' || c >= '0' && c <= '9' }); err != nil {
			return err
		}
		for _, part := range strings.Split(v, ".") {
			if v != "" && (part == "" || len(part) > 1 && part[0] == '0') {
				return fmt.Errorf("not a UID (empty or zero-led component)")
			}
		}
	case "CS":
		return valid(func(c byte) bool { return c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == ' ' || c == '_' })
	case "DA":
		if v != "" {
			if _, err := time.Parse("20060102", v); err != nil {
				return fmt.Errorf("not a date YYYYMMDD")
			}
		}
	case "IS", "DS":
		if strings.TrimSpace(v) != "" {
			if _, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err != nil || (vr == "IS" && strings.ContainsAny(v, ".eE")) {
				return fmt.Errorf("not a number for VR %s", vr)
			}
		}
	case "TM", "DT":
		return valid(func(c byte) bool { return c >= '0' && c <= '9' || c == '.' || c == '+' || c == '-' || c == ' ' })
	}
	return nil
}

// AddUint16 adds a US element (VM = the number of values).
func (b *DataSetBuilder) AddUint16(t Tag, values ...uint16) *DataSetBuilder {
	v := make([]byte, 2*len(values))
	for i, x := range values {
		binary.LittleEndian.PutUint16(v[2*i:], x)
	}
	return b.Add(t, "US", v)
}

// AddUint32 adds a UL element.
func (b *DataSetBuilder) AddUint32(t Tag, values ...uint32) *DataSetBuilder {
	v := make([]byte, 4*len(values))
	for i, x := range values {
		binary.LittleEndian.PutUint32(v[4*i:], x)
	}
	return b.Add(t, "UL", v)
}

// AddFloat64 adds an FD element.
func (b *DataSetBuilder) AddFloat64(t Tag, values ...float64) *DataSetBuilder {
	v := make([]byte, 8*len(values))
	for i, x := range values {
		binary.LittleEndian.PutUint64(v[8*i:], math.Float64bits(x))
	}
	return b.Add(t, "FD", v)
}

// AddInt adds an IS (integer string) element.
func (b *DataSetBuilder) AddInt(t Tag, values ...int) *DataSetBuilder {
	s := make([]string, len(values))
	for i, x := range values {
		s[i] = strconv.Itoa(x)
	}
	return b.AddString(t, "IS", s...)
}

// AddDecimal adds a DS (decimal string) element, each value in at most 16
// characters as the VR allows.
func (b *DataSetBuilder) AddDecimal(t Tag, values ...float64) *DataSetBuilder {
	s := make([]string, len(values))
	for i, x := range values {
		s[i] = decimalString(x)
	}
	return b.AddString(t, "DS", s...)
}

// decimalString formats x in at most 16 characters, with as many digits as
// fit.
func decimalString(x float64) string {
	for prec := 16; prec > 0; prec-- {
		s := strconv.FormatFloat(x, 'g', prec, 64)
		if len(s) <= 16 {
			return s
		}
	}
	return strconv.FormatFloat(x, 'g', 1, 64)
}

// AddSequence adds an SQ element with the given items (none: an empty
// sequence, a Type 2 sequence with nothing to say). The items are encoded
// when the data set is, so they may still be changed until then.
func (b *DataSetBuilder) AddSequence(t Tag, items ...*DataSetBuilder) *DataSetBuilder {
	for _, it := range items {
		if it == nil {
			return b.fail(t, "nil sequence item")
		}
	}
	return b.set(t, &wElement{vr: "SQ", items: items})
}

// Encode returns the data set in explicit VR little endian, elements in
// ascending tag order, sequences and items with defined lengths (nested
// items are encoded first, so every length is known).
func (b *DataSetBuilder) Encode() ([]byte, error) {
	var buf bytes.Buffer
	if err := b.encode(&buf, 0); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func (b *DataSetBuilder) encode(buf *bytes.Buffer, depth int) error {
	if b.err != nil {
		return b.err
	}
	if depth > maxDepth {
		return fmt.Errorf("dicom: sequences nested deeper than %d (an item contains itself?)", maxDepth)
	}
	tags := make([]Tag, 0, len(b.elems))
	for t := range b.elems {
		tags = append(tags, t)
	}
	slices.Sort(tags)
	for _, t := range tags {
		e := b.elems[t]
		value := e.value
		if e.vr == "SQ" {
			var sq bytes.Buffer
			for _, it := range e.items {
				var item bytes.Buffer
				if err := it.encode(&item, depth+1); err != nil {
					return err
				}
				if item.Len() > 0xFFFFFFFE-8 {
					return fmt.Errorf("dicom: element %s: item too long", t)
				}
				writeHeader(&sq, itemTag, "", item.Len())
				sq.Write(item.Bytes())
			}
			value = sq.Bytes()
		} else if len(value)%2 == 1 {
			pad := byte(' ')
			if e.vr == "UI" || e.vr == "OB" || e.vr == "UN" {
				pad = 0
			}
			value = append(value[:len(value):len(value)], pad)
		}
		if len(value) > 0xFFFFFFFE {
			return fmt.Errorf("dicom: element %s: value too long", t)
		}
		writeHeader(buf, t, e.vr, len(value))
		buf.Write(value)
	}
	return nil
}

// writeHeader writes an explicit VR little endian element header; an empty
// vr writes an item header (tag and 4-byte length).
func writeHeader(buf *bytes.Buffer, t Tag, vr string, n int) {
	var h [12]byte
	binary.LittleEndian.PutUint16(h[0:], t.Group())
	binary.LittleEndian.PutUint16(h[2:], uint16(t))
	switch {
	case vr == "":
		binary.LittleEndian.PutUint32(h[4:], uint32(n))
		buf.Write(h[:8])
	case longVR(vr):
		copy(h[4:], vr)
		binary.LittleEndian.PutUint32(h[8:], uint32(n))
		buf.Write(h[:12])
	default:
		copy(h[4:], vr)
		binary.LittleEndian.PutUint16(h[6:], uint16(n))
		buf.Write(h[:8])
	}
}

// EncodeFile returns a Part 10 file: the preamble (zeros), "DICM", the file
// meta information and ds. The SOP Class and Instance UIDs go into both the
// meta information and ds (where ds already holds either with another
// value, that is an error: the two must agree, PS3.10 7.1).
func EncodeFile(sopClassUID, sopInstanceUID string, ds *DataSetBuilder) ([]byte, error) {
	if ds == nil {
		return nil, fmt.Errorf("dicom: no data set")
	}
	for _, u := range []struct {
		tag Tag
		uid string
	}{{SOPClassUID, sopClassUID}, {SOPInstanceUID, sopInstanceUID}} {
		if u.uid == "" {
			return nil, fmt.Errorf("dicom: empty %s", u.tag)
		}
		if e := ds.elems[u.tag]; e != nil && strings.TrimRight(string(e.value), "\x00 ") != u.uid {
			return nil, fmt.Errorf("dicom: data set's %s %q differs from %q", u.tag, e.value, u.uid)
		}
	}
	// A shallow copy: the caller's builder is left as it was given.
	full := &DataSetBuilder{elems: make(map[Tag]*wElement, len(ds.elems)+2), err: ds.err}
	for t, e := range ds.elems {
		full.elems[t] = e
	}
	full.AddString(SOPClassUID, "UI", sopClassUID).AddString(SOPInstanceUID, "UI", sopInstanceUID)
	body, err := full.Encode()
	if err != nil {
		return nil, err
	}

	meta := &DataSetBuilder{}
	meta.set(T(0x0002, 0x0001), &wElement{vr: "OB", value: []byte{0, 1}})
	for _, m := range []struct {
		el       uint16
		vr, text string
	}{
		{0x0002, "UI", sopClassUID},
		{0x0003, "UI", sopInstanceUID},
		{0x0010, "UI", ExplicitVRLittleEndian},
		{0x0012, "UI", ImplementationClassUID},
		{0x0013, "SH", ImplementationVersionName},
	} {
		if err := checkText(m.vr, m.text); err != nil {
			return nil, fmt.Errorf("dicom: file meta information %s %q: %v", T(2, m.el), m.text, err)
		}
		meta.set(T(0x0002, m.el), &wElement{vr: m.vr, value: []byte(m.text)})
	}
	group, err := meta.Encode()
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	out.Grow(132 + 12 + len(group) + len(body))
	out.Write(make([]byte, 128))
	out.WriteString("DICM")
	writeHeader(&out, T(0x0002, 0x0000), "UL", 4)
	binary.Write(&out, binary.LittleEndian, uint32(len(group)))
	out.Write(group)
	out.Write(body)
	return out.Bytes(), nil
}

// WriteFile writes ds as a Part 10 file at path (EncodeFile), atomically: a
// reader, such as a PACS folder watcher, sees the whole file or none.
func WriteFile(path, sopClassUID, sopInstanceUID string, ds *DataSetBuilder) error {
	data, err := EncodeFile(sopClassUID, sopInstanceUID, ds)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return atomicfile.WriteFile(path, data)
}

// Radiograph is a chest radiograph to write as a DX image "for
// presentation": the demo and test studies. Empty UIDs are made new;
// Pix holds Width*Height stored values, row by row, each below
// 1<<BitsStored. Text is UTF-8 (Specific Character Set ISO_IR 192 where
// it is not ASCII).
type Radiograph struct {
	Width, Height int
	Pix           []uint16
	// BitsStored is 1..16 (0: 16); up to 8 the pixels take a byte each.
	BitsStored int

	PatientID, PatientName, PatientBirthDate, PatientSex string
	AccessionNumber                                      string
	StudyInstanceUID, SeriesInstanceUID, SOPInstanceUID  string
	StudyDate, StudyTime                                 string // YYYYMMDD, HHMMSS
	SeriesNumber, InstanceNumber                         int    // 0: 1
	// ViewPosition is PA, AP, LL, RL...; it also sets Patient Orientation.
	ViewPosition string
	// Indication is written as Reason for the Requested Procedure.
	Indication string
	// WindowWidth 0 is a LINEAR_EXACT window over the whole stored range,
	// which shows the stored values as they are: an image for
	// presentation must have a window or a VOI LUT (PS3.3 C.8.11.3.1.5).
	WindowCenter, WindowWidth float64
	// PixelSpacing is the detector's (Imager Pixel Spacing), in mm; 0:
	// 0.2, a typical chest detector's.
	PixelSpacing float64
}

// Tags WriteRadiograph writes beyond those the reader knows.
var (
	tagImageType         = T(0x0008, 0x0008)
	tagStudyTime         = T(0x0008, 0x0030)
	tagManufacturer      = T(0x0008, 0x0070)
	tagReferringPhysName = T(0x0008, 0x0090)
	tagPatientBirthDate  = T(0x0010, 0x0030)
	tagPatientSex        = T(0x0010, 0x0040)
	tagStudyID           = T(0x0020, 0x0010)
	tagSeriesNumber      = T(0x0020, 0x0011)
	tagInstanceNumber    = T(0x0020, 0x0013)
	tagPatientOrient     = T(0x0020, 0x0020)
	tagImageLaterality   = T(0x0020, 0x0062)
	tagPixelIntensityRel = T(0x0028, 0x1040)
	tagPixelIntensitySgn = T(0x0028, 0x1041)
	tagRescaleType       = T(0x0028, 0x1054)
	tagLossyCompression  = T(0x0028, 0x2110)
	tagPresentationLUT   = T(0x2050, 0x0020)
	tagBurnedIn          = T(0x0028, 0x0301)
	tagImagerPixelSpace  = T(0x0018, 0x1164)
	tagPositionerType    = T(0x0018, 0x1508)
	tagDetectorType      = T(0x0018, 0x7004)
	tagAnatomicRegionSeq = T(0x0008, 0x2218)
	tagAcquisitionCtxSeq = T(0x0040, 0x0555)
	tagCodeValue         = T(0x0008, 0x0100)
	tagCodingScheme      = T(0x0008, 0x0102)
	tagCodeMeaning       = T(0x0008, 0x0104)
)

// WriteRadiograph writes r as a native MONOCHROME2 DX image, explicit VR
// little endian, atomically. It holds what the DX IOD requires (dicom3tools'
// dciodvfy finds no error in it), with the Type 2 attributes that maira
// does not know empty.
func WriteRadiograph(path string, r Radiograph) error {
	ds, sopUID, err := r.dataSet()
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return WriteFile(path, DXForPresentation, sopUID, ds)
}

func (r Radiograph) dataSet() (*DataSetBuilder, string, error) {
	bits := r.BitsStored
	if bits == 0 {
		bits = 16
	}
	switch {
	case bits < 1 || bits > 16:
		return nil, "", fmt.Errorf("dicom: bits stored %d (1..16)", r.BitsStored)
	case r.Width < 1 || r.Height < 1 || r.Width > 0xFFFF || r.Height > 0xFFFF:
		return nil, "", fmt.Errorf("dicom: image size %dx%d", r.Width, r.Height)
	case len(r.Pix) != r.Width*r.Height:
		return nil, "", fmt.Errorf("dicom: %d pixels for a %dx%d image", len(r.Pix), r.Width, r.Height)
	}
	allocated := 16
	if bits <= 8 {
		allocated = 8
	}
	pix := make([]byte, len(r.Pix)*allocated/8)
	for i, v := range r.Pix {
		if int(v) >= 1<<bits {
			return nil, "", fmt.Errorf("dicom: pixel %d value %d needs more than %d bits", i, v, bits)
		}
		if allocated == 8 {
			pix[i] = byte(v)
		} else {
			binary.LittleEndian.PutUint16(pix[2*i:], v)
		}
	}
	uid := func(u string) string {
		if u == "" {
			return NewUID()
		}
		return u
	}
	one := func(n int) int {
		if n == 0 {
			return 1
		}
		return n
	}
	view := strings.ToUpper(r.ViewPosition)
	orient := []string{"L", "F"} // frontal as read: the patient's left on the right
	if view == "LL" || view == "RL" || view == "LATERAL" {
		orient = []string{"P", "F"}
	}
	if view == "" {
		orient = nil
	}
	sop := uid(r.SOPInstanceUID)
	ds := &DataSetBuilder{}
	for _, text := range []string{r.PatientID, r.PatientName, r.AccessionNumber, r.Indication} {
		if !utf8.ValidString(text) {
			return nil, "", fmt.Errorf("dicom: text %q is not UTF-8", text)
		}
		for _, c := range []byte(text) {
			if c >= 0x80 {
				ds.AddString(SpecificCharacterSet, "CS", "ISO_IR 192")
			}
		}
	}
	ds.AddString(tagImageType, "CS", "ORIGINAL", "PRIMARY").
		AddString(SOPClassUID, "UI", DXForPresentation).
		AddString(SOPInstanceUID, "UI", sop).
		AddString(StudyDate, "DA", r.StudyDate).
		AddString(tagStudyTime, "TM", r.StudyTime).
		AddString(AccessionNumber, "SH", r.AccessionNumber).
		AddString(Modality, "CS", "DX").
		AddString(PresentationIntentType, "CS", "FOR PRESENTATION").
		AddString(tagManufacturer, "LO", "maira").
		AddString(tagReferringPhysName, "PN").
		AddString(PatientName, "PN", r.PatientName).
		AddString(PatientID, "LO", r.PatientID).
		AddString(tagPatientBirthDate, "DA", r.PatientBirthDate).
		AddString(tagPatientSex, "CS", r.PatientSex).
		AddString(BodyPartExamined, "CS", "CHEST").
		AddString(ViewPosition, "CS", view).
		AddString(StudyInstanceUID, "UI", uid(r.StudyInstanceUID)).
		AddString(SeriesInstanceUID, "UI", uid(r.SeriesInstanceUID)).
		AddString(tagStudyID, "SH").
		AddInt(tagSeriesNumber, one(r.SeriesNumber)).
		AddInt(tagInstanceNumber, one(r.InstanceNumber)).
		AddString(tagPatientOrient, "CS", orient...).
		AddString(tagImageLaterality, "CS", "U").
		AddUint16(SamplesPerPixel, 1).
		AddString(PhotometricInterp, "CS", "MONOCHROME2").
		AddUint16(Rows, uint16(r.Height)).
		AddUint16(Columns, uint16(r.Width)).
		AddUint16(BitsAllocated, uint16(allocated)).
		AddUint16(BitsStored, uint16(bits)).
		AddUint16(HighBit, uint16(bits-1)).
		AddUint16(PixelRepresentation, 0).
		AddString(tagBurnedIn, "CS", "NO").
		AddString(tagPixelIntensityRel, "CS", "LOG").
		AddDecimal(RescaleIntercept, 0).
		AddDecimal(RescaleSlope, 1).
		AddString(tagRescaleType, "LO", "US").
		AddString(tagLossyCompression, "CS", "00").
		AddString(tagPresentationLUT, "CS", "IDENTITY")
	// Pixel Intensity Relationship Sign (SS) 1: higher values brighter.
	ds.Add(tagPixelIntensitySgn, "SS", []byte{1, 0})
	spacing := r.PixelSpacing
	if spacing == 0 {
		spacing = 0.2
	}
	chest := (&DataSetBuilder{}).AddString(tagCodeValue, "SH", "51185008").
		AddString(tagCodingScheme, "SH", "SCT").AddString(tagCodeMeaning, "LO", "Chest")
	ds.AddDecimal(tagImagerPixelSpace, spacing, spacing).
		AddString(tagDetectorType, "CS").
		AddString(tagPositionerType, "CS").
		AddSequence(tagAnatomicRegionSeq, chest).
		AddSequence(tagAcquisitionCtxSeq)
	if r.Indication != "" {
		// In the Request Attributes Sequence, where the DX IOD has it; the
		// reader looks there too.
		ds.AddSequence(RequestAttributesSeq, (&DataSetBuilder{}).AddString(ReasonForRequestedProc, "LO", r.Indication))
	}
	if r.WindowWidth != 0 {
		ds.AddDecimal(WindowCenter, r.WindowCenter).AddDecimal(WindowWidth, r.WindowWidth)
	} else {
		top := float64(int(1)<<bits - 1)
		ds.AddDecimal(WindowCenter, top/2).AddDecimal(WindowWidth, top).
			AddString(VOILUTFunction, "CS", "LINEAR_EXACT")
	}
	vr := "OW"
	if allocated == 8 {
		vr = "OB"
	}
	ds.Add(PixelData, vr, pix)
	return ds, sop, nil
}
