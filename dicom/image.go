package dicom

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"maira/models/imageproc"
	"maira/quant/mmap"
)

// Image is a chest radiograph read from a DICOM file: its metadata, how its
// pixels were turned to gray, and the gray image for the model.
type Image struct {
	Syntax   Syntax
	Pixels   PixelInfo
	Display  Display
	Study    Study
	Gray     *imageproc.Image
	Warnings []string
	// Attributes are the Patient and General Study attributes
	// (PatientStudyTags), copied out of the file, for objects filed with
	// the study (the draft report's SR).
	Attributes []Attribute
}

// IsDICOM tells whether data starts like a DICOM file: the "DICM" marker
// after the preamble (or, from some writers, without it), or file meta
// information alone.
func IsDICOM(data []byte) bool {
	if len(data) >= 132 && string(data[128:132]) == "DICM" || len(data) >= 4 && string(data[:4]) == "DICM" {
		return true
	}
	return len(data) >= 6 && data[0] == 0x02 && data[1] == 0 && isVR(data[4], data[5])
}

// IsDICOMFile tells by IsDICOM whether the file at path is DICOM, or by its
// name (.dcm, .dicom) for a bare data set without the marker.
func IsDICOMFile(path string) (bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return false, pathError(path, err)
	}
	defer f.Close()
	head := make([]byte, 132)
	n, _ := io.ReadFull(f, head)
	if IsDICOM(head[:n]) {
		return true, nil
	}
	// A bare data set (no preamble, no meta information, as old
	// receivers write): it starts with a group 0008 element whose VR or
	// 4-byte length is plausible.
	if n >= 8 && binary.LittleEndian.Uint16(head) == 0x0008 &&
		(isVR(head[4], head[5]) || binary.LittleEndian.Uint32(head[4:]) < 1<<16) {
		return true, nil
	}
	ext := strings.ToLower(filepath.Ext(path))
	return ext == ".dcm" || ext == ".dicom", nil
}

// pathError words a failure to open path as "path: reason" (the system's
// reason without the operation and a second copy of the path).
func pathError(path string, err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	return fmt.Errorf("%s: %v", path, err)
}

// ReadFile reads a DICOM chest radiograph. Errors are one line that starts
// with path.
func ReadFile(path string) (*Image, error) {
	m, err := mmap.Open(path)
	if err != nil {
		return nil, pathError(path, err)
	}
	defer m.Close()
	img, err := Decode(m.Data, path)
	if err != nil {
		return nil, err
	}
	return img, nil
}

// Decode reads a DICOM chest radiograph held in data; name starts every
// error. The result holds no reference to data.
func Decode(data []byte, name string) (*Image, error) {
	img, err := decode(data, defaultLimits)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	img.Gray.Name = name
	return img, nil
}

func decode(data []byte, lim limits) (*Image, error) {
	f, err := parse(data, lim.inflated)
	if err != nil {
		return nil, err
	}
	img := &Image{Syntax: f.Syntax}
	// Strings are copied out of data (Go strings of byte slices are
	// copies), so the result outlives the mapping.
	if img.Study, err = readStudy(f.DataSet); err != nil {
		return nil, err
	}
	img.Attributes = CopyAttributes(f, PatientStudyTags...)
	if img.Pixels, err = f.pixelInfo(lim); err != nil {
		return nil, err
	}
	p := img.Pixels
	if p.Frames > 1 {
		img.Warnings = append(img.Warnings, fmt.Sprintf("multi-frame image (%d frames): the first frame was read", p.Frames))
	}
	stored, err := decodeFrame(f, p)
	if err != nil {
		return nil, err
	}
	pix, d, warns, err := toGray(f.DataSet, p, stored)
	if err != nil {
		return nil, err
	}
	img.Display = d
	img.Warnings = append(img.Warnings, warns...)
	depth := 16
	if p.BitsStored <= 8 && d.VOI == "none" {
		depth = 8
	}
	img.Gray = &imageproc.Image{Width: p.Columns, Height: p.Rows, Pix: pix, Depth: depth}
	return img, nil
}

// decodeFrame returns the stored values of the first frame.
func decodeFrame(f *File, p PixelInfo) ([]int32, error) {
	e := f.Lookup(PixelData)
	s := f.Syntax
	switch s.Codec {
	case Native:
		if e.Encapsulated {
			return nil, formatErr("encapsulated pixel data in a %s file", s.Name)
		}
		return nativeFrame(p, e.Value, s.BigEndian)
	case Unsupported:
		return nil, UnsupportedError(fmt.Sprintf("transfer syntax %s (%s) is not supported", s.Name, s.UID))
	}
	if !e.Encapsulated {
		return nil, formatErr("%s file with native (not encapsulated) pixel data", s.Name)
	}
	var starts func([]byte) bool
	switch s.Codec {
	case JPEGBaseline, JPEGExtended, JPEGLossless:
		starts = func(b []byte) bool { return len(b) >= 2 && b[0] == 0xFF && b[1] == 0xD8 }
	case JPEG2000:
		// A raw codestream (SOC), or a JP2 file's signature box.
		starts = func(b []byte) bool {
			return len(b) >= 2 && b[0] == 0xFF && b[1] == 0x4F || len(b) >= 12 && string(b[4:8]) == "jP  "
		}
	default:
		starts = func([]byte) bool { return true }
	}
	b, err := firstFrame(e, p.Frames, starts)
	if err != nil {
		return nil, err
	}
	switch s.Codec {
	case Encapsulated:
		return nativeFrame(p, b, false)
	case RLE:
		return rleFrame(p, b)
	case JPEGBaseline, JPEGExtended, JPEGLossless:
		return jpegFrame(p, s, b)
	case JPEG2000:
		return jpeg2000Frame(p, s, b)
	}
	return nil, UnsupportedError(fmt.Sprintf("transfer syntax %s (%s) is not supported", s.Name, s.UID))
}
