package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"io"

	"maira/dicom"
	"maira/internal/atomicfile"
	"maira/models/imageproc"
)

func init() {
	commands["dicom2png"] = command{
		summary: "write the 8-bit image the model sees of a DICOM radiograph as a PNG",
		run:     runDICOM2PNG,
	}
}

func runDICOM2PNG(args []string, stdout, stderr io.Writer) error {
	c := newCLI("dicom2png", "FILE.dcm -o FILE.png\n\n"+
		"Writes the gray image after the DICOM grayscale steps (rescale, window or VOI LUT,\n"+
		"MONOCHROME1 inversion) and MAIRA-2's min-max step, at full size: what the model's\n"+
		"resize and centre crop start from.", stdout)
	out := c.String("o", "", "the PNG to write")
	pos, err := c.parse(args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("want one DICOM file, got %d arguments", len(pos))
	}
	if *out == "" {
		return usagef("-o FILE.png is required")
	}
	img, err := dicom.ReadFile(pos[0])
	if err != nil {
		return err
	}
	pix, err := imageproc.MinMax8(img.Gray)
	if err != nil {
		return err
	}
	g := &image.Gray{Pix: pix, Stride: img.Gray.Width, Rect: image.Rect(0, 0, img.Gray.Width, img.Gray.Height)}
	var buf bytes.Buffer
	if err := png.Encode(&buf, g); err != nil {
		return fmt.Errorf("%s: %v", *out, err)
	}
	if err := atomicfile.WriteFile(*out, buf.Bytes()); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s (%dx%d, %s)\n", *out, img.Gray.Width, img.Gray.Height, img.Display)
	for _, w := range img.Warnings {
		fmt.Fprintf(stdout, "warning: %s\n", w)
	}
	return nil
}

// dicomSummary is what `maira inspect FILE.dcm` shows: the decoded image
// and the metadata maira uses, with patient identifiers masked.
type dicomSummary struct {
	Path              string   `json:"path"`
	TransferSyntax    string   `json:"transfer_syntax"`
	TransferSyntaxUID string   `json:"transfer_syntax_uid"`
	Modality          string   `json:"modality"`
	BodyPart          string   `json:"body_part_examined"`
	ViewPosition      string   `json:"view_position"`
	View              string   `json:"view"`
	StudyInstanceUID  string   `json:"study_instance_uid"`
	SeriesInstanceUID string   `json:"series_instance_uid"`
	SOPInstanceUID    string   `json:"sop_instance_uid"`
	StudyDate         string   `json:"study_date"`
	PatientID         string   `json:"patient_id_masked"`
	AccessionNumber   string   `json:"accession_number_masked"`
	Indication        string   `json:"indication"`
	Width             int      `json:"width"`
	Height            int      `json:"height"`
	Photometric       string   `json:"photometric"`
	BitsAllocated     int      `json:"bits_allocated"`
	BitsStored        int      `json:"bits_stored"`
	HighBit           int      `json:"high_bit"`
	Signed            bool     `json:"signed"`
	Frames            int      `json:"frames"`
	Display           string   `json:"display"`
	GrayMin           uint16   `json:"gray_min"`
	GrayMax           uint16   `json:"gray_max"`
	Warnings          []string `json:"warnings"`
}

func inspectDICOM(path string, asJSON bool, stdout io.Writer) error {
	img, err := dicom.ReadFile(path)
	if err != nil {
		return err
	}
	s, p := img.Study, img.Pixels
	view := string(s.View)
	if view == "" {
		view = "unknown (a lone image is taken as frontal)"
	}
	sum := dicomSummary{
		Path: path, TransferSyntax: img.Syntax.Name, TransferSyntaxUID: img.Syntax.UID,
		Modality: s.Modality, BodyPart: s.BodyPart, ViewPosition: s.ViewPosition, View: view,
		StudyInstanceUID: s.StudyInstanceUID, SeriesInstanceUID: s.SeriesInstanceUID, SOPInstanceUID: s.SOPInstanceUID,
		StudyDate: s.StudyDate, PatientID: dicom.Mask(s.PatientID), AccessionNumber: dicom.Mask(s.AccessionNumber),
		Indication: s.Indication, Width: p.Columns, Height: p.Rows, Photometric: p.Photometric,
		BitsAllocated: p.BitsAllocated, BitsStored: p.BitsStored, HighBit: p.HighBit, Signed: p.Signed,
		Frames: p.Frames, Display: img.Display.String(), Warnings: img.Warnings,
	}
	if sum.Warnings == nil {
		sum.Warnings = []string{}
	}
	sum.GrayMin, sum.GrayMax = 65535, 0
	for _, v := range img.Gray.Pix {
		sum.GrayMin, sum.GrayMax = min(sum.GrayMin, v), max(sum.GrayMax, v)
	}
	if asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(sum)
	}
	sign := "unsigned"
	if p.Signed {
		sign = "signed"
	}
	orNone := func(s string) string {
		if s == "" {
			return "(none)"
		}
		return s
	}
	rows := [][2]string{
		{"file", path},
		{"transfer syntax", fmt.Sprintf("%s (%s)", img.Syntax.Name, img.Syntax.UID)},
		{"modality", fmt.Sprintf("%s, body part %s", s.Modality, orNone(s.BodyPart))},
		{"view", fmt.Sprintf("%s: %s", orNone(s.ViewPosition), view)},
		{"study", fmt.Sprintf("%s, date %s", orNone(s.StudyInstanceUID), orNone(s.StudyDate))},
		{"series", orNone(s.SeriesInstanceUID)},
		{"instance", orNone(s.SOPInstanceUID)},
		{"patient id", orNone(sum.PatientID)},
		{"accession", orNone(sum.AccessionNumber)},
		{"indication", orNone(s.Indication)},
		{"image", fmt.Sprintf("%dx%d %s, %d bits stored in %d (high bit %d), %s, %d frame(s)",
			p.Columns, p.Rows, p.Photometric, p.BitsStored, p.BitsAllocated, p.HighBit, sign, p.Frames)},
		{"display", sum.Display},
		{"gray", fmt.Sprintf("%d..%d of 0..65535, then min-max to 8 bits for the model", sum.GrayMin, sum.GrayMax)},
	}
	for _, r := range rows {
		fmt.Fprintf(stdout, "%-16s %s\n", r[0], r[1])
	}
	for _, w := range img.Warnings {
		fmt.Fprintf(stdout, "%-16s %s\n", "warning", w)
	}
	return nil
}
