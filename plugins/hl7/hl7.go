// Command hl7 is an example maira export plugin: it turns a report document
// (maira.report/v1, docs/report.md) into an HL7 v2.5.1 ORU^R01 result
// message, marked preliminary. Built for the plugin host (docs/plugins.md):
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o hl7.wasm ./plugins/hl7
//
// Built for the machine it runs on, it is a filter from a report on stdin
// to the message on stdout, for trying it out:
//
//	go run ./plugins/hl7 < report.json
//
// The message (segments end with a carriage return):
//
//	MSH|^~\&|MAIRA||||CREATED||ORU^R01^ORU_R01|CONTROL-ID|P|2.5.1||||||UNICODE UTF-8
//	PID|1||PATIENT-ID
//	OBR|1||ACCESSION|18748-4^Diagnostic imaging study^LN|||STUDY-DATE|||||||||||ACCESSION||||CREATED||RAD|P
//	OBX|1|HD|113014^DICOM Study^DCM||STUDY-INSTANCE-UID||||||P
//	OBX|2|TX|18782-3^Radiology Study observation (narrative)^LN|1|DRAFT NOTICE||||||P
//	OBX|3|TX|18782-3^Radiology Study observation (narrative)^LN|1|FINDING||||||P   (one per sentence)
//	NTE|1||Warning: WARNING   (one per warning)
//
// CREATED is the report's created_at (YYYYMMDDHHMMSS+0000), STUDY-DATE the
// DICOM study date, CONTROL-ID the first 16 hex digits of the SHA-256 of
// the report document: the message depends on the report alone (no clock).
// The accession number is the filler order number (OBR-3) and placer field 1
// (OBR-18, as IHE scheduled workflow has it). Text is escaped: \F\ \S\ \T\
// \R\ \E\ for the delimiters, \Xhh\ for control characters; a finding with
// line breaks becomes several OBX lines. A report without a DICOM study
// (no patient id) is refused: a result that cannot be filed with its
// patient is worse than none.
package main

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"maira/models/report"
)

// Codes used in the message.
const (
	codeStudy     = "18748-4^Diagnostic imaging study^LN"
	codeNarrative = "18782-3^Radiology Study observation (narrative)^LN"
	codeStudyUID  = "113014^DICOM Study^DCM"
)

// render makes the ORU^R01 message for one report document.
func render(doc []byte) (ext string, msg []byte, err error) {
	r, err := report.Decode(doc)
	if err != nil {
		return "", nil, err
	}
	if r.Study == nil || r.Study.PatientID == "" {
		return "", nil, errors.New("report has no DICOM study with a patient id; an HL7 result cannot be filed without one")
	}
	lines := findingLines(r)
	if len(lines) == 0 {
		return "", nil, errors.New("report has no findings")
	}
	notice := r.Notice
	if notice == "" {
		notice = report.Notice
	}
	created := ""
	if !r.CreatedAt.IsZero() {
		created = r.CreatedAt.UTC().Format("20060102150405-0700")
	}
	sum := sha256.Sum256(doc)
	st := r.Study

	var b strings.Builder
	seg := func(fields ...string) {
		b.WriteString(strings.Join(fields, "|"))
		b.WriteByte('\r')
	}
	// MSH-1 is the field separator itself: MSH-2 follows the first "|".
	seg("MSH", `^~\&`, "MAIRA", "", "", "", created, "", "ORU^R01^ORU_R01", hex.EncodeToString(sum[:8]), "P", "2.5.1",
		"", "", "", "", "", "UNICODE UTF-8")
	seg("PID", "1", "", escape(st.PatientID))
	obr := make([]string, 26)
	obr[0], obr[1] = "OBR", "1"
	obr[3] = escape(st.AccessionNumber)
	obr[4] = codeStudy
	obr[7] = dicomDate(st.StudyDate)
	obr[18] = escape(st.AccessionNumber)
	obr[22] = created
	obr[24] = "RAD"
	obr[25] = "P"
	seg(obr...)
	n := 0
	obx := func(typ, code, sub, value string) {
		n++
		seg("OBX", fmt.Sprint(n), typ, code, sub, value, "", "", "", "", "", "P")
	}
	if st.StudyInstanceUID != "" {
		obx("HD", codeStudyUID, "", escape(st.StudyInstanceUID))
	}
	obx("TX", codeNarrative, "1", escape(notice))
	for _, l := range lines {
		obx("TX", codeNarrative, "1", escape(l))
	}
	for i, w := range r.Warnings {
		seg("NTE", fmt.Sprint(i+1), "", escape("Warning: "+oneLine(w)))
	}
	return "hl7", []byte(b.String()), nil
}

// findingLines returns the findings, one per sentence (or the findings
// text where there are no sentences), a sentence with line breaks split.
func findingLines(r *report.Document) []string {
	var texts []string
	for _, s := range r.Sentences {
		texts = append(texts, s.Text)
	}
	if len(texts) == 0 {
		texts = []string{r.Findings}
	}
	var lines []string
	for _, t := range texts {
		for _, l := range strings.Split(strings.ReplaceAll(t, "\r\n", "\n"), "\n") {
			if l = strings.TrimSpace(l); l != "" {
				lines = append(lines, l)
			}
		}
	}
	return lines
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// escape escapes HL7 v2's delimiters in text (2.5.1 chapter 2.7): the
// escape character first, then field, component, subcomponent and
// repetition separators; other control characters as \Xhh\.
func escape(s string) string {
	var b strings.Builder
	for _, c := range s {
		switch {
		case c == '\\':
			b.WriteString(`\E\`)
		case c == '|':
			b.WriteString(`\F\`)
		case c == '^':
			b.WriteString(`\S\`)
		case c == '&':
			b.WriteString(`\T\`)
		case c == '~':
			b.WriteString(`\R\`)
		case c < 0x20 || c == 0x7f:
			fmt.Fprintf(&b, `\X%02X\`, c)
		default:
			b.WriteRune(c)
		}
	}
	return b.String()
}

// dicomDate returns a DICOM DA (YYYYMMDD) as an HL7 date, or "" when it is
// not one.
func dicomDate(da string) string {
	da = strings.TrimSpace(da)
	if len(da) != 8 || strings.Trim(da, "0123456789") != "" {
		return ""
	}
	return da
}
