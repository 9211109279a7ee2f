package dicom

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"maira/models/imageproc"
)

func imageprocMinMax8(img *Image) ([]uint8, error) { return imageproc.MinMax8(img.Gray) }

// TestCorpus decodes the committed files (made by TestTools -update with
// dcmtk and GDCM) and compares them with the expected stored values.
func TestCorpus(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "corpus.json"))
	if err != nil {
		t.Fatal(err)
	}
	var corpus []corpusEntry
	if err := json.Unmarshal(b, &corpus); err != nil {
		t.Fatal(err)
	}
	if len(corpus) < 40 {
		t.Fatalf("corpus of %d files: regenerate it (go test ./dicom -run TestTools -update)", len(corpus))
	}
	for _, e := range corpus {
		t.Run(e.File, func(t *testing.T) {
			path := filepath.Join("testdata", e.File)
			got, p := frameValues(t, path)
			want, err := readInt32s(filepath.Join("testdata", e.Expect))
			if err != nil {
				t.Fatal(err)
			}
			if p.Columns != e.Width || p.Rows != e.Height || len(got) != len(want) {
				t.Fatalf("%dx%d, %d values; want %dx%d, %d", p.Columns, p.Rows, len(got), e.Width, e.Height, len(want))
			}
			if d := maxDiff(got, want); d > e.Tolerance {
				t.Errorf("stored values differ by up to %d (tolerance %d)", d, e.Tolerance)
			}
			img, err := ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if img.Syntax.Name != e.Syntax {
				t.Errorf("syntax %q, want %q", img.Syntax.Name, e.Syntax)
			}
			if e.Model8 != "" {
				want8, err := os.ReadFile(filepath.Join("testdata", e.Model8))
				if err != nil {
					t.Fatal(err)
				}
				got8, err := imageproc.MinMax8(img.Gray)
				if err != nil {
					t.Fatal(err)
				}
				d := 0
				for i := range got8 {
					d = max(d, int(math.Abs(float64(got8[i])-float64(want8[i]))))
				}
				if d > 2 {
					t.Errorf("model image differs from the tools' by %d grey levels", d)
				}
			}
		})
	}
}
