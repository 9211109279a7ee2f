package jpeg2000

import (
	"os"
	"testing"
)

func TestQuick(t *testing.T) {
	data, _ := os.ReadFile(os.Getenv("J2K"))
	ref, _ := os.ReadFile(os.Getenv("REF"))
	f, err := Decode(data, 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	bps := 1
	if f.Precision > 8 {
		bps = 2
	}
	maxd := 0
	nd := 0
	for c, p := range f.Planes {
		for i, v := range p {
			o := (c*len(p) + i) * bps
			var r int32
			if bps == 1 {
				r = int32(ref[o])
				if f.Signed {
					r = int32(int8(ref[o]))
				}
			} else {
				r = int32(ref[o]) | int32(ref[o+1])<<8
				if f.Signed {
					r = int32(int16(r))
				}
			}
			d := int(v - r)
			if d < 0 {
				d = -d
			}
			if d > 0 {
				if nd < 5 {
					t.Logf("c%d (%d,%d): got %d want %d", c, i%f.Width, i/f.Width, v, r)
				}
				nd++
			}
			maxd = max(maxd, d)
		}
	}
	t.Logf("%dx%d prec %d: maxdiff %d, ndiff %d", f.Width, f.Height, f.Precision, maxd, nd)
}
