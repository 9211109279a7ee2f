package dicom

import (
	"encoding/binary"
	"fmt"
	"math"
	"strings"
)

// Display records how stored values became the gray image: the steps of
// PS3.3's grayscale pipeline that maira applies, in order.
type Display struct {
	// Modality is "rescale" (slope and intercept, the default 1 and 0
	// included) or "modality LUT".
	Modality         string
	Slope, Intercept float64
	// VOI is "window" (Center and Width, with Function), "VOI LUT", or
	// "none" (the full range of the stored values).
	VOI           string
	Center, Width float64
	Function      string // LINEAR, LINEAR_EXACT or SIGMOID
	// Inverted is set for MONOCHROME1 (bone is dark in the stored values).
	Inverted bool
}

func (d Display) String() string {
	var b strings.Builder
	if d.Modality == "modality LUT" {
		b.WriteString("modality LUT")
	} else {
		fmt.Fprintf(&b, "rescale slope %g intercept %g", d.Slope, d.Intercept)
	}
	switch d.VOI {
	case "window":
		fmt.Fprintf(&b, ", window center %g width %g (%s)", d.Center, d.Width, d.Function)
	case "VOI LUT":
		b.WriteString(", VOI LUT")
	default:
		b.WriteString(", no VOI (full stored range)")
	}
	if d.Inverted {
		b.WriteString(", MONOCHROME1 inverted")
	}
	return b.String()
}

// lut is a DICOM lookup table (a Modality or VOI LUT item).
type lut struct {
	first int     // the first input value mapped
	out   []int32 // output values
	bits  int     // output bits
}

func (l *lut) at(x float64) float64 {
	i := int(math.Round(x)) - l.first
	i = max(0, min(i, len(l.out)-1))
	return float64(l.out[i])
}

// readLUT reads the first item of a LUT sequence; nil when the sequence is
// absent or empty.
func readLUT(ds *DataSet, seq Tag, signedInput bool) (*lut, error) {
	e := ds.Lookup(seq)
	if e == nil || len(e.Items) == 0 {
		return nil, nil
	}
	item := e.Items[0]
	d := item.Lookup(LUTDescriptor)
	if d == nil || len(d.Value) < 6 {
		return nil, fmt.Errorf("%s: no LUT Descriptor", seq)
	}
	desc := item.Uint16s(LUTDescriptor)
	n := int(desc[0])
	if n == 0 {
		n = 65536
	}
	l := &lut{first: int(desc[1]), bits: int(desc[2])}
	if d.VR == "SS" || (d.VR != "US" && signedInput) {
		l.first = int(int16(desc[1]))
	}
	if l.bits < 8 || l.bits > 16 {
		return nil, fmt.Errorf("%s: LUT of %d-bit entries (8 to 16)", seq, l.bits)
	}
	data := item.Lookup(LUTData)
	if data == nil {
		return nil, fmt.Errorf("%s: no LUT Data", seq)
	}
	l.out = make([]int32, n)
	switch {
	case len(data.Value) >= 2*n:
		for i := range l.out {
			var v uint16
			if item.BigEndian {
				v = binary.BigEndian.Uint16(data.Value[2*i:])
			} else {
				v = binary.LittleEndian.Uint16(data.Value[2*i:])
			}
			l.out[i] = int32(v & (1<<l.bits - 1))
		}
	case l.bits == 8 && len(data.Value) >= n:
		// Old writers pack 8-bit entries two to a word.
		for i := range l.out {
			l.out[i] = int32(data.Value[i])
		}
	default:
		return nil, fmt.Errorf("%s: LUT Data of %d bytes for %d entries", seq, len(data.Value), n)
	}
	return l, nil
}

// voiWindow maps a modality value into [0, 1] by a window (PS3.3
// C.11.2.1.2 for LINEAR, C.11.2.1.3 for LINEAR_EXACT and SIGMOID).
func voiWindow(x, c, w float64, fn string) float64 {
	switch fn {
	case "LINEAR_EXACT":
		switch {
		case x <= c-w/2:
			return 0
		case x > c+w/2:
			return 1
		}
		return (x-c)/w + 0.5
	case "SIGMOID":
		return 1 / (1 + math.Exp(-4*(x-c)/w))
	}
	switch {
	case x <= c-0.5-(w-1)/2:
		return 0
	case x > c-0.5+(w-1)/2:
		return 1
	}
	return (x-(c-0.5))/(w-1) + 0.5
}

// toGray turns the stored values of a frame into the gray image the model
// preprocessing takes, by a table over every possible stored value:
// modality transform (Rescale Slope/Intercept, or the Modality LUT), then
// VOI (the first window, or the VOI LUT, or nothing), then MONOCHROME1
// inversion, scaled to 0..65535. Where no VOI applies, the stored values
// pass through unscaled (offset to start at 0): MAIRA's min-max step
// follows, and it is blind to any linear map, so this keeps its result
// exact. Warnings say where a header value was unusable and skipped.
func toGray(ds *DataSet, p PixelInfo, stored []int32) (pix []uint16, d Display, warnings []string, err error) {
	lo, hi := 0, 1<<p.BitsStored-1
	if p.Signed {
		lo, hi = -(1 << (p.BitsStored - 1)), 1<<(p.BitsStored-1)-1
	}
	d.Inverted = p.Photometric == "MONOCHROME1"

	// Modality transform.
	d.Modality, d.Slope, d.Intercept = "rescale", 1, 0
	modLUT, lerr := readLUT(ds, ModalityLUTSequence, p.Signed)
	if lerr != nil {
		warnings = append(warnings, fmt.Sprintf("Modality LUT unusable (%v): rescale used", lerr))
	}
	if modLUT != nil {
		d.Modality = "modality LUT"
	} else {
		if v, ok, err := ds.Floats(RescaleSlope); err != nil {
			return nil, d, nil, err
		} else if ok {
			d.Slope = v[0]
		}
		if v, ok, err := ds.Floats(RescaleIntercept); err != nil {
			return nil, d, nil, err
		} else if ok {
			d.Intercept = v[0]
		}
		if d.Slope == 0 {
			return nil, d, nil, formatErr("Rescale Slope is 0 (every pixel would be equal)")
		}
	}
	modality := func(s int) float64 {
		if modLUT != nil {
			return modLUT.at(float64(s))
		}
		return d.Slope*float64(s) + d.Intercept
	}

	// VOI.
	var voi func(m float64) float64 // to [0, 1]
	c, cok, cerr := ds.Floats(WindowCenter)
	w, wok, werr := ds.Floats(WindowWidth)
	fn := strings.ToUpper(ds.String(VOILUTFunction))
	if fn == "" {
		fn = "LINEAR"
	}
	switch {
	case cerr != nil || werr != nil:
		warnings = append(warnings, fmt.Sprintf("window unusable (%v): not applied", firstErr(cerr, werr)))
	case cok && wok:
		minW := 1.0
		if fn != "LINEAR" {
			minW = math.SmallestNonzeroFloat64
		}
		switch {
		case fn != "LINEAR" && fn != "LINEAR_EXACT" && fn != "SIGMOID":
			warnings = append(warnings, fmt.Sprintf("VOI LUT Function %q unknown: window not applied", fn))
		case w[0] < minW:
			warnings = append(warnings, fmt.Sprintf("Window Width %g is invalid for %s: window not applied", w[0], fn))
		default:
			d.VOI, d.Center, d.Width, d.Function = "window", c[0], w[0], fn
			voi = func(m float64) float64 { return voiWindow(m, d.Center, d.Width, fn) }
		}
	}
	if voi == nil {
		voiLUT, err := readLUT(ds, VOILUTSequence, p.Signed || (modLUT == nil && (d.Intercept < 0 || d.Slope < 0)))
		if err != nil {
			warnings = append(warnings, fmt.Sprintf("VOI LUT unusable (%v): not applied", err))
		}
		if voiLUT != nil {
			d.VOI = "VOI LUT"
			top := float64(int(1)<<voiLUT.bits - 1)
			voi = func(m float64) float64 { return voiLUT.at(m) / top }
		}
	}

	table := make([]uint16, hi-lo+1)
	if voi == nil && modLUT == nil {
		d.VOI = "none"
		// Stored values offset to 0; a negative slope flips them, as does
		// MONOCHROME1, and two flips cancel.
		flip := (d.Slope < 0) != d.Inverted
		for s := lo; s <= hi; s++ {
			v := s - lo
			if flip {
				v = hi - s
			}
			table[s-lo] = uint16(v)
		}
	} else {
		if voi == nil {
			d.VOI = "none"
			top := float64(int(1)<<modLUT.bits - 1)
			voi = func(m float64) float64 { return m / top }
		}
		for s := lo; s <= hi; s++ {
			y := voi(modality(s))
			if d.Inverted {
				y = 1 - y
			}
			table[s-lo] = uint16(math.Round(max(0, min(1, y)) * 65535))
		}
	}
	pix = make([]uint16, len(stored))
	for i, s := range stored {
		// Decoders never give values outside the stored range; the clamp
		// keeps a broken one from indexing outside the table.
		pix[i] = table[max(lo, min(int(s), hi))-lo]
	}
	return pix, d, warnings, nil
}

func firstErr(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}
