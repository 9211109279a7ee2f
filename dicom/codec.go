package dicom

import (
	"fmt"

	"maira/dicom/jpeg"
	"maira/dicom/jpeg2000"
)

// checkFrame holds a compressed frame's header to the pixel module.
func checkFrame(p PixelInfo, s Syntax, width, height, components, precision int) error {
	switch {
	case width != p.Columns || height != p.Rows:
		return formatErr("%s: the compressed frame is %dx%d, the header says %dx%d", s.Name, width, height, p.Columns, p.Rows)
	case components != 1:
		return formatErr("%s: a %d-component frame for %s", s.Name, components, p.Photometric)
	case precision > p.BitsAllocated:
		return formatErr("%s: %d-bit samples in %d bits allocated", s.Name, precision, p.BitsAllocated)
	}
	return nil
}

// jpegFrame decodes one JPEG frame (baseline, extended or lossless) and
// checks it against the pixel module.
func jpegFrame(p PixelInfo, s Syntax, b []byte) ([]int32, error) {
	cfg, err := jpeg.DecodeConfig(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s.Name, err)
	}
	if err := checkFrame(p, s, cfg.Width, cfg.Height, cfg.Components, cfg.Precision); err != nil {
		return nil, err
	}
	// Every sample of a lossless scan costs at least one bit (a Huffman
	// code), every 8x8 block of a DCT scan at least two (its DC code and
	// an end-of-block): a frame too short for its size is refused before
	// its planes are allocated, so that a small lying file cannot claim
	// gigabytes.
	need := p.Rows * p.Columns
	if cfg.Process != "lossless" {
		need = 2 * ((p.Rows + 7) / 8) * ((p.Columns + 7) / 8)
	}
	if len(b)*8 < need {
		return nil, formatErr("%s: a JPEG frame of %d bytes cannot hold %dx%d pixels (truncated?)", s.Name, len(b), p.Columns, p.Rows)
	}
	fr, err := jpeg.Decode(b, p.Rows*p.Columns)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s.Name, err)
	}
	if len(fr.Planes) != 1 || len(fr.Planes[0]) != p.Rows*p.Columns {
		return nil, formatErr("%s: the JPEG decoder gave an unexpected frame shape", s.Name)
	}
	// The codestream holds the samples as they would be allocated (dcmtk
	// compresses and restores the whole words, High Bit and all), so the
	// stored bits come out as for native data.
	out := fr.Planes[0]
	sv := newStoredValue(p, p.HighBit+1-p.BitsStored)
	for i, v := range out {
		out[i] = sv.get(uint32(v))
	}
	return out, nil
}

// jpeg2000Frame decodes one JPEG 2000 frame and checks it against the pixel
// module. The decoder gives signed values where the codestream says its
// samples are signed; unsigned ones are masked and signed by Bits Stored as
// for native data.
func jpeg2000Frame(p PixelInfo, s Syntax, b []byte) ([]int32, error) {
	cfg, err := jpeg2000.DecodeConfig(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s.Name, err)
	}
	if err := checkFrame(p, s, cfg.Width, cfg.Height, cfg.Components, cfg.Precision); err != nil {
		return nil, err
	}
	fr, err := jpeg2000.Decode(b, p.Rows*p.Columns)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s.Name, err)
	}
	if len(fr.Planes) != 1 || len(fr.Planes[0]) != p.Rows*p.Columns {
		return nil, formatErr("%s: the decoder gave an unexpected frame shape", s.Name)
	}
	out := fr.Planes[0]
	if fr.Signed {
		return out, nil
	}
	sv := newStoredValue(p, 0)
	for i, v := range out {
		out[i] = sv.get(uint32(v))
	}
	return out, nil
}
