// Command fhir is an example maira export plugin: it turns a report
// document (maira.report/v1, docs/report.md) into a FHIR R4
// DiagnosticReport resource (JSON), status preliminary. Built for the
// plugin host (docs/plugins.md):
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o fhir.wasm ./plugins/fhir
//
// Built for the machine it runs on, it is a filter from a report on stdin
// to the resource on stdout, for trying it out:
//
//	go run ./plugins/fhir < report.json
//
// The resource has: identifier (the accession number, type ACSN), status
// "preliminary", category RAD, code LOINC 18748-4 "Diagnostic imaging
// study", subject (a logical reference by the DICOM patient id),
// effectiveDateTime (the study date), issued (the report's created_at),
// imagingStudy (a logical reference by the Study Instance UID), conclusion
// (the findings), presentedForm (text/plain, base64: the draft notice, the
// findings, the warnings), and a narrative with the notice and findings.
// It depends on the report alone (no clock). A report without a DICOM
// study (no patient id) is refused.
package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"html"
	"strings"

	"maira/models/report"
)

type coding struct {
	System  string `json:"system"`
	Code    string `json:"code"`
	Display string `json:"display"`
}

type concept struct {
	Coding []coding `json:"coding"`
}

type identifier struct {
	Type   *concept `json:"type,omitempty"`
	System string   `json:"system,omitempty"`
	Value  string   `json:"value"`
}

type reference struct {
	Type       string     `json:"type"`
	Identifier identifier `json:"identifier"`
}

type attachment struct {
	ContentType string `json:"contentType"`
	Data        string `json:"data"`
	Title       string `json:"title"`
}

type narrative struct {
	Status string `json:"status"`
	Div    string `json:"div"`
}

type diagnosticReport struct {
	ResourceType      string       `json:"resourceType"`
	Text              narrative    `json:"text"`
	Identifier        []identifier `json:"identifier,omitempty"`
	Status            string       `json:"status"`
	Category          []concept    `json:"category"`
	Code              concept      `json:"code"`
	Subject           reference    `json:"subject"`
	EffectiveDateTime string       `json:"effectiveDateTime,omitempty"`
	Issued            string       `json:"issued,omitempty"`
	ImagingStudy      []reference  `json:"imagingStudy,omitempty"`
	Conclusion        string       `json:"conclusion"`
	PresentedForm     []attachment `json:"presentedForm"`
}

// render makes the DiagnosticReport for one report document.
func render(doc []byte) (ext string, out []byte, err error) {
	r, err := report.Decode(doc)
	if err != nil {
		return "", nil, err
	}
	if r.Study == nil || r.Study.PatientID == "" {
		return "", nil, errors.New("report has no DICOM study with a patient id; a DiagnosticReport cannot be filed without one")
	}
	findings := strings.TrimSpace(r.Findings)
	if findings == "" {
		findings = report.Findings(r.Sentences)
	}
	if findings == "" {
		return "", nil, errors.New("report has no findings")
	}
	notice := r.Notice
	if notice == "" {
		notice = report.Notice
	}
	st := r.Study

	dr := diagnosticReport{
		ResourceType: "DiagnosticReport",
		Status:       "preliminary",
		Category: []concept{{Coding: []coding{{
			System: "http://terminology.hl7.org/CodeSystem/v2-0074", Code: "RAD", Display: "Radiology"}}}},
		Code: concept{Coding: []coding{{
			System: "http://loinc.org", Code: "18748-4", Display: "Diagnostic imaging study"}}},
		Subject:           reference{Type: "Patient", Identifier: identifier{Value: st.PatientID}},
		EffectiveDateTime: fhirDate(st.StudyDate),
		Conclusion:        findings,
	}
	if st.AccessionNumber != "" {
		dr.Identifier = []identifier{{
			Type: &concept{Coding: []coding{{
				System: "http://terminology.hl7.org/CodeSystem/v2-0203", Code: "ACSN", Display: "Accession ID"}}},
			Value: st.AccessionNumber,
		}}
	}
	if !r.CreatedAt.IsZero() {
		dr.Issued = r.CreatedAt.UTC().Format("2006-01-02T15:04:05Z07:00")
	}
	if st.StudyInstanceUID != "" {
		dr.ImagingStudy = []reference{{Type: "ImagingStudy", Identifier: identifier{
			System: "urn:dicom:uid", Value: "urn:oid:" + st.StudyInstanceUID}}}
	}

	// The text a reader sees: the notice first, always with the findings.
	text := notice + "\n\nFindings: " + findings + "\n"
	for _, w := range r.Warnings {
		text += "Warning: " + w + "\n"
	}
	dr.PresentedForm = []attachment{{
		ContentType: "text/plain; charset=utf-8",
		Data:        base64.StdEncoding.EncodeToString([]byte(text)),
		Title:       "Draft chest X-ray report (preliminary)",
	}}
	dr.Text = narrative{Status: "generated", Div: `<div xmlns="http://www.w3.org/1999/xhtml"><p><b>` +
		html.EscapeString(notice) + `</b></p><p>` + html.EscapeString(findings) + `</p></div>`}

	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(dr); err != nil {
		return "", nil, err
	}
	return "json", b.Bytes(), nil
}

// fhirDate returns a DICOM DA (YYYYMMDD) as a FHIR date (YYYY-MM-DD), or
// "" when it is not one.
func fhirDate(da string) string {
	da = strings.TrimSpace(da)
	if len(da) != 8 || strings.Trim(da, "0123456789") != "" {
		return ""
	}
	return da[:4] + "-" + da[4:6] + "-" + da[6:]
}
