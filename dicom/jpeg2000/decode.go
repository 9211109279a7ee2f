package jpeg2000

import (
	"fmt"
	"math"
)

// Frame is one decoded image: component planes at full image size.
type Frame struct {
	Width, Height int
	Precision     int       // bit depth of component 0 (Ssiz)
	Signed        bool      // component 0 is signed (values in Planes are then signed)
	Lossless      bool      // every tile-component used the reversible 5/3 wavelet (and RCT if any)
	Planes        [][]int32 // one per component, Width*Height each, row-major, after the inverse component transform, with DC level shift undone
}

// Config is what the main header says about the image.
type Config struct {
	Width, Height int
	Components    int
	Precision     int  // bit depth of component 0
	Signed        bool // component 0 is signed
	// Reversible is true when the main header's COD selects the 5/3
	// wavelet; tiles may still override it.
	Reversible bool
	Levels     int // decomposition levels (main COD)
	Layers     int // quality layers
	TilesX     int
	TilesY     int
}

// DecodeConfig reads the main header only (SIZ, COD...): size, components,
// precision, no pixel allocation.
func DecodeConfig(data []byte) (Config, error) {
	cs, err := parse(data, true)
	if err != nil {
		return Config{}, err
	}
	return Config{
		Width: cs.width(), Height: cs.height(),
		Components: len(cs.comps),
		Precision:  cs.comps[0].prec, Signed: cs.comps[0].signed,
		Reversible: cs.main.cod.cc.reversible,
		Levels:     cs.main.cod.cc.levels, Layers: cs.main.cod.layers,
		TilesX: cs.ntx, TilesY: cs.nty,
	}, nil
}

// Decode decodes the codestream. It refuses, from the SIZ header and before
// allocating anything big, an image with more than maxPixels pixels or a
// side over 65535.
func Decode(data []byte, maxPixels int) (*Frame, error) {
	return decode(data, maxPixels, nil)
}

// decode is Decode with a hook reporting packet header positions per tile.
func decode(data []byte, maxPixels int, onHeader func(tile, start, end int)) (*Frame, error) {
	hdr, err := parse(data, true)
	if err != nil {
		return nil, err
	}
	w, h := hdr.width(), hdr.height()
	if w > 65535 || h > 65535 {
		return nil, fmt.Errorf("jpeg2000: image %dx%d has a side over 65535", w, h)
	}
	if w*h > maxPixels {
		return nil, fmt.Errorf("jpeg2000: image %dx%d exceeds the %d pixel limit", w, h, maxPixels)
	}
	cs, err := parse(data, false)
	if err != nil {
		return nil, err
	}
	f := &Frame{
		Width: w, Height: h,
		Precision: cs.comps[0].prec, Signed: cs.comps[0].signed,
		Lossless: true,
		Planes:   make([][]int32, len(cs.comps)),
	}
	for i := range f.Planes {
		f.Planes[i] = make([]int32, w*h)
	}
	td := &tileDecoder{cs: cs}
	for i, tile := range cs.tiles {
		if onHeader != nil {
			td.onHeader = func(start, end int) { onHeader(i, start, end) }
		}
		if err := td.setup(i, tile); err != nil {
			return nil, err
		}
		if err := td.decodeTile(tile); err != nil {
			return nil, err
		}
		for _, tc := range td.comps {
			if !tc.cc.reversible {
				f.Lossless = false
			}
		}
		td.output(f)
	}
	return f, nil
}

// output applies the component transform and DC level shift and copies the
// tile into the frame, clamped to each component's range.
func (td *tileDecoder) output(f *Frame) {
	cs := td.cs
	if td.mct == 1 {
		c := td.comps
		if c[0].coef != nil {
			inverseRCT(c[0].coef, c[1].coef, c[2].coef)
		} else {
			inverseICT(c[0].fcoef, c[1].fcoef, c[2].fcoef)
		}
	}
	for ci, tc := range td.comps {
		comp := cs.comps[ci]
		var shift, lo, hi int32
		if comp.signed {
			lo, hi = -(1 << uint(comp.prec-1)), 1<<uint(comp.prec-1)-1
		} else {
			shift, lo, hi = 1<<uint(comp.prec-1), 0, 1<<uint(comp.prec)-1
		}
		w := tc.x1 - tc.x0
		plane := f.Planes[ci]
		for y := tc.y0; y < tc.y1; y++ {
			dst := plane[(y-cs.y0)*f.Width+(tc.x0-cs.x0):][:w]
			if tc.coef != nil {
				src := tc.coef[(y-tc.y0)*w:][:w]
				for x, v := range src {
					dst[x] = min(max(v+shift, lo), hi)
				}
			} else {
				src := tc.fcoef[(y-tc.y0)*w:][:w]
				flo, fhi := float32(lo-shift), float32(hi-shift)
				for x, v := range src {
					v = min(max(v, flo), fhi)
					dst[x] = int32(math.RoundToEven(float64(v))) + shift
				}
			}
		}
		tc.coef, tc.fcoef = nil, nil
	}
}
