package dicom

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// View is the projection of a radiograph as the prompt needs it.
type View string

const (
	Frontal     View = "frontal"
	Lateral     View = "lateral"
	UnknownView View = ""
)

// SOP classes that a chest radiograph arrives as and that need a word of
// their own when refused.
const (
	dxForProcessing = "1.2.840.10008.5.1.4.1.1.1.1.1"
)

// Study is the metadata of one image that matters to a report. PatientID and
// AccessionNumber are carried to the outputs; logs show them only through
// Mask.
type Study struct {
	StudyInstanceUID  string `json:"study_instance_uid"`
	SeriesInstanceUID string `json:"series_instance_uid"`
	SOPInstanceUID    string `json:"sop_instance_uid"`
	SOPClassUID       string `json:"sop_class_uid"`
	Modality          string `json:"modality"`
	BodyPart          string `json:"body_part_examined"`
	ViewPosition      string `json:"view_position"`
	View              View   `json:"view"`
	PatientID         string `json:"patient_id"`
	AccessionNumber   string `json:"accession_number"`
	StudyDate         string `json:"study_date"`
	Indication        string `json:"indication"`
}

// readStudy reads the study metadata and refuses what is not a chest
// radiograph: modalities other than CR and DX, body parts other than CHEST,
// and DX images meant for processing rather than viewing.
func readStudy(ds *DataSet) (Study, error) {
	cs := ds.Strings(SpecificCharacterSet)
	text := func(t Tag) string { return decodeText(ds.Lookup(t), cs) }
	s := Study{
		StudyInstanceUID:  ds.String(StudyInstanceUID),
		SeriesInstanceUID: ds.String(SeriesInstanceUID),
		SOPInstanceUID:    ds.String(SOPInstanceUID),
		SOPClassUID:       ds.String(SOPClassUID),
		Modality:          strings.ToUpper(ds.String(Modality)),
		BodyPart:          strings.ToUpper(ds.String(BodyPartExamined)),
		ViewPosition:      strings.ToUpper(ds.String(ViewPosition)),
		PatientID:         text(PatientID),
		AccessionNumber:   text(AccessionNumber),
		StudyDate:         ds.String(StudyDate),
	}
	// The indication: the Reason for the Requested Procedure, else the
	// Requested Procedure Description, in the data set or in its first
	// Request Attributes item.
	req := ds.Lookup(RequestAttributesSeq)
	for _, t := range []Tag{ReasonForRequestedProc, RequestedProcedureDesc} {
		if s.Indication = text(t); s.Indication != "" {
			break
		}
		if req != nil && len(req.Items) > 0 {
			if s.Indication = decodeText(req.Items[0].Lookup(t), cs); s.Indication != "" {
				break
			}
		}
	}

	switch s.Modality {
	case "CR", "DX":
	case "":
		return s, formatErr("no Modality: not an image maira can place")
	default:
		return s, UnsupportedError(fmt.Sprintf("modality %s: only chest radiographs (CR, DX) are read", s.Modality))
	}
	switch s.BodyPart {
	case "", "CHEST":
	default:
		return s, UnsupportedError(fmt.Sprintf("body part %s: only chest radiographs are read", s.BodyPart))
	}
	if s.SOPClassUID == dxForProcessing || strings.EqualFold(ds.String(PresentationIntentType), "FOR PROCESSING") {
		return s, UnsupportedError("a DX image 'for processing' (raw detector data): send the 'for presentation' image")
	}
	switch s.ViewPosition {
	case "PA", "AP":
		s.View = Frontal
	case "LL", "RL", "LATERAL":
		s.View = Lateral
	}
	return s, nil
}

// decodeText turns a text value into UTF-8 by the Specific Character Set:
// the default repertoire and ISO_IR 192 (UTF-8) as they are, ISO_IR 100
// (Latin-1) converted; bytes of any other set that are not ASCII become
// U+FFFD rather than mojibake. Padding and surrounding spaces are trimmed.
func decodeText(e *Element, charset []string) string {
	if e == nil {
		return ""
	}
	b := e.Value
	set := ""
	if len(charset) > 0 {
		set = strings.ToUpper(charset[len(charset)-1])
	}
	var out strings.Builder
	switch {
	case set == "ISO_IR 192" && utf8.Valid(b):
		out.Write(b)
	case set == "ISO_IR 100":
		for _, c := range b {
			out.WriteRune(rune(c))
		}
	default:
		for _, c := range b {
			if c < 0x80 {
				out.WriteByte(c)
			} else {
				out.WriteRune(utf8.RuneError)
			}
		}
	}
	return strings.Trim(out.String(), " \x00")
}

// Mask shows an identifier for a log line: its last three characters only,
// so that a technician can match a line to a study without the log holding
// the patient's identity.
func Mask(id string) string {
	if id == "" {
		return ""
	}
	r := []rune(id)
	if len(r) <= 4 {
		return "***"
	}
	return "***" + string(r[len(r)-3:])
}
