package dicom

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzDecode runs the whole reader (parser, codecs, grayscale pipeline) on
// arbitrary bytes, seeded with the corpus: an error or an image, never a
// panic, and memory bounded by the (lowered) limits.
func FuzzDecode(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*.dcm"))
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Add(chest(4, 3, ramp(12, 100), str(WindowCenter, "DS", "100"), str(WindowWidth, "DS", "50")))
	lim := limits{side: 2048, pixels: 1 << 20, inflated: 1 << 24}
	f.Fuzz(func(t *testing.T, data []byte) {
		img, err := decode(data, lim)
		if err != nil {
			return
		}
		if img.Gray == nil || len(img.Gray.Pix) != img.Gray.Width*img.Gray.Height {
			t.Fatalf("image without consistent pixels")
		}
	})
}

// FuzzParse runs the data set parser alone, where the pixel module checks
// would stop most mutations early.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*.dcm"))
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := parse(data, 1<<24)
		if err != nil {
			return
		}
		for tag := range file.Elements {
			_ = file.String(tag)
			_, _, _ = file.Floats(tag)
		}
	})
}

// FuzzRLE runs the RLE Lossless codec alone on arbitrary frames, seeded
// with the corpus's RLE frames.
func FuzzRLE(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*rle.dcm"))
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		if file, err := Parse(b); err == nil {
			if e := file.Lookup(PixelData); e != nil && len(e.Fragments) > 1 {
				f.Add(e.Fragments[1], uint8(16), uint8(12))
			}
		}
	}
	f.Fuzz(func(t *testing.T, frame []byte, allocated, stored uint8) {
		p := PixelInfo{Rows: 13, Columns: 11, SamplesPerPixel: 1, Photometric: "MONOCHROME2",
			BitsAllocated: 8 + 8*int(allocated%2), Frames: 1}
		p.BitsStored = 1 + int(stored)%p.BitsAllocated
		p.HighBit = p.BitsStored - 1
		v, err := rleFrame(p, frame)
		if err == nil && len(v) != p.Rows*p.Columns {
			t.Fatalf("%d values", len(v))
		}
	})
}
