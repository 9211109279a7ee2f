package imageproc

import (
	"errors"
	"fmt"
	"math"

	"maira/quant/modelfile"
)

// Pixels is the model input of one image: CHW float32 values
// [Channels][Height][Width], and the geometry that produced them.
type Pixels struct {
	Data                    []float32
	Channels, Height, Width int
	Geometry                Geometry
}

// Geometry records how the original image maps onto the model input: the
// original size, the size the bicubic resize produced (short edge =
// ShortestEdge), and the crop window in resized pixels. CropLeft and CropTop
// are negative only when the crop is larger than the resized image, where
// transformers' center_crop pads with zeros (not with MAIRA-2's settings,
// whose crop equals the short edge).
type Geometry struct {
	OrigWidth, OrigHeight       int
	ResizedWidth, ResizedHeight int
	CropLeft, CropTop           int
	CropWidth, CropHeight       int
}

// ErrBlank is returned (wrapped, with the image's name) for an image whose
// pixels are all equal: MAIRA-2's min-max divides by zero there (numpy gives
// NaN, cast to uint8 as an undefined value), so there is nothing sound to show
// the model.
var ErrBlank = errors.New("image is blank (all pixels equal)")

// Preprocess runs MAIRA-2's image preprocessing (processing_maira2.py's
// _normalize_image, then the BitImageProcessor that preprocessor_config.json
// configures) on img with the constants of c:
//
//  1. min-max to 0..255 in float64: a -= min; a /= max; a *= 255, then
//     truncation to uint8 (16-bit images use their raw values, see Decode);
//  2. three equal channels (PIL's convert("RGB")), resized with PIL's
//     BICUBIC so the short edge is c.ShortestEdge and the long edge
//     int(ShortestEdge * long / short) (transformers'
//     get_resize_output_image_size truncates), bit-exact with Pillow;
//  3. a centre crop of c.CropHeight x c.CropWidth at top = (H - CropHeight)
//     // 2, left = (W - CropWidth) // 2 (floor division; zero padding where
//     the crop is larger, as transformers' center_crop pads);
//  4. x * c.RescaleFactor in float64, cast to float32, then (x - mean) / std
//     in float32 per channel (transformers' rescale and normalize).
//
// Data has len(c.Mean) channels (3 for RAD-DINO), all computed from the same
// gray image. Only the cropped part of the resize is computed.
func Preprocess(img *Image, c *modelfile.Image) (*Pixels, error) {
	crop, g, err := resizeCrop(img, c)
	if err != nil {
		return nil, err
	}
	ch := len(c.Mean)
	n := g.CropWidth * g.CropHeight
	px := &Pixels{Data: make([]float32, ch*n), Channels: ch, Height: g.CropHeight, Width: g.CropWidth, Geometry: g}
	for k := range ch {
		lut := valueTable(c.RescaleFactor, c.Mean[k], c.Std[k])
		dst := px.Data[k*n : (k+1)*n]
		for i, v := range crop {
			dst[i] = lut[v]
		}
	}
	return px, nil
}

// valueTable maps each uint8 sample to its model input value: transformers'
// rescale (image.astype(float64) * scale, then astype(float32)) and normalize
// ((image - mean) / std with mean and std as float32 arrays, computed in
// float32). Each operation rounds to its type, as numpy does.
func valueTable(scale float64, mean, std float32) *[256]float32 {
	var t [256]float32
	for v := range t {
		x := float32(float64(v) * scale)
		d := float32(x - mean)
		t[v] = float32(d / std)
	}
	return &t
}

// maxModelSide bounds the configured resize and crop sizes (RAD-DINO uses
// 518), so a corrupt model file cannot ask for gigabytes of output.
const maxModelSide = 8192

// checkConfig validates the preprocessing constants.
func checkConfig(c *modelfile.Image) error {
	switch {
	case c == nil:
		return errors.New("no image preprocessing constants")
	case c.Normalize != "" && c.Normalize != "minmax-gray":
		return fmt.Errorf("image normalization %q (only minmax-gray)", c.Normalize)
	case c.Resample != "" && c.Resample != "bicubic":
		return fmt.Errorf("image resampling %q (only bicubic)", c.Resample)
	case c.ShortestEdge <= 0 || c.CropWidth <= 0 || c.CropHeight <= 0:
		return fmt.Errorf("image sizes: shortest edge %d, crop %dx%d (must be positive)", c.ShortestEdge, c.CropWidth, c.CropHeight)
	case c.ShortestEdge > maxModelSide || c.CropWidth > maxModelSide || c.CropHeight > maxModelSide:
		return fmt.Errorf("image sizes: shortest edge %d, crop %dx%d (over %d)", c.ShortestEdge, c.CropWidth, c.CropHeight, maxModelSide)
	case !(c.RescaleFactor > 0) || math.IsInf(c.RescaleFactor, 0):
		return fmt.Errorf("image rescale factor %v (must be positive)", c.RescaleFactor)
	case len(c.Mean) < 1 || len(c.Mean) > 3 || len(c.Std) != len(c.Mean):
		return fmt.Errorf("image mean/std of %d/%d values (want 1 to 3, equal)", len(c.Mean), len(c.Std))
	}
	for i, s := range c.Std {
		if !(s > 0) || math.IsInf(float64(s), 0) || math.IsNaN(float64(c.Mean[i])) || math.IsInf(float64(c.Mean[i]), 0) {
			return fmt.Errorf("image mean/std %v/%v (std must be positive, both finite)", c.Mean[i], s)
		}
	}
	return nil
}

// resizeCrop runs steps 1-3 of Preprocess: the min-maxed, resized and
// cropped uint8 image (CropHeight x CropWidth, row-major; its three RGB
// channels are equal) and its geometry.
func resizeCrop(img *Image, c *modelfile.Image) ([]uint8, Geometry, error) {
	name := "image"
	if img != nil && img.Name != "" {
		name = img.Name
	}
	if err := checkConfig(c); err != nil {
		return nil, Geometry{}, fmt.Errorf("%s: %v", name, err)
	}
	switch {
	case img == nil:
		return nil, Geometry{}, errors.New("no image")
	case img.Width <= 0 || img.Height <= 0:
		return nil, Geometry{}, fmt.Errorf("%s: image size %dx%d", name, img.Width, img.Height)
	case img.Width > MaxSide || img.Height > MaxSide || img.Width*img.Height > MaxPixels:
		return nil, Geometry{}, fmt.Errorf("%s: %dx%d image over the size limits (%d px a side, %d pixels)", name, img.Width, img.Height, MaxSide, MaxPixels)
	case len(img.Pix) != img.Width*img.Height:
		return nil, Geometry{}, fmt.Errorf("%s: %d samples for a %dx%d image", name, len(img.Pix), img.Width, img.Height)
	case img.Depth != 8 && img.Depth != 16:
		return nil, Geometry{}, fmt.Errorf("%s: sample depth %d (8 or 16)", name, img.Depth)
	}

	lut, err := minMaxTable(img.Pix)
	if err != nil {
		return nil, Geometry{}, fmt.Errorf("%s: %w", name, err)
	}

	// Step 2 geometry: transformers' get_resize_output_image_size with
	// default_to_square=False: int(size * long / short), Python's true
	// division of two exact integers (correctly rounded), then truncation.
	s, w, h := c.ShortestEdge, img.Width, img.Height
	g := Geometry{OrigWidth: w, OrigHeight: h, CropWidth: c.CropWidth, CropHeight: c.CropHeight}
	if w <= h {
		g.ResizedWidth, g.ResizedHeight = s, int(float64(s*h)/float64(w))
	} else {
		g.ResizedWidth, g.ResizedHeight = int(float64(s*w)/float64(h)), s
	}
	// Step 3 geometry: transformers' center_crop; Python's // floors.
	g.CropTop = floorDiv(g.ResizedHeight-g.CropHeight, 2)
	g.CropLeft = floorDiv(g.ResizedWidth-g.CropWidth, 2)

	win := window{
		outW: g.ResizedWidth, outH: g.ResizedHeight,
		x0: max(g.CropLeft, 0), x1: min(g.CropLeft+g.CropWidth, g.ResizedWidth),
		y0: max(g.CropTop, 0), y1: min(g.CropTop+g.CropHeight, g.ResizedHeight),
	}
	part := resizeWindow(img.Pix, w, h, lut, win)
	if win.x0 == g.CropLeft && win.y0 == g.CropTop && win.x1-win.x0 == g.CropWidth && win.y1-win.y0 == g.CropHeight {
		return part, g, nil
	}
	// The crop reaches outside the resized image: zero padding around it.
	out := make([]uint8, g.CropWidth*g.CropHeight)
	pw := win.x1 - win.x0
	for r := range win.y1 - win.y0 {
		copy(out[(win.y0-g.CropTop+r)*g.CropWidth+win.x0-g.CropLeft:], part[r*pw:(r+1)*pw])
	}
	return out, g, nil
}

// minMaxTable is step 1, MAIRA-2's _normalize_image: a min-max stretch in
// float64 (a -= min; a /= max; a *= 255, truncated to uint8), as a table
// from every sample value up to the largest.
func minMaxTable(pix []uint16) ([]uint8, error) {
	if len(pix) == 0 {
		return nil, errors.New("no pixels")
	}
	lo, hi := pix[0], pix[0]
	for _, v := range pix {
		lo, hi = min(lo, v), max(hi, v)
	}
	if lo == hi {
		return nil, ErrBlank
	}
	lut := make([]uint8, int(hi)+1)
	span := float64(hi - lo)
	for v := int(lo); v <= int(hi); v++ {
		a := float64(v - int(lo))
		a /= span
		a *= 255
		lut[v] = uint8(a)
	}
	return lut, nil
}

// MinMax8 returns the 8-bit gray image that the model's preprocessing
// starts from (step 1 of Preprocess, before the resize and crop): what
// `maira dicom2png` writes, so a person sees what the model sees.
func MinMax8(img *Image) ([]uint8, error) {
	if len(img.Pix) != img.Width*img.Height {
		return nil, fmt.Errorf("%s: %d samples for a %dx%d image", img.Name, len(img.Pix), img.Width, img.Height)
	}
	lut, err := minMaxTable(img.Pix)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", img.Name, err)
	}
	out := make([]uint8, len(img.Pix))
	for i, v := range img.Pix {
		out[i] = lut[v]
	}
	return out, nil
}

// floorDiv is Python's a // b for b > 0.
func floorDiv(a, b int) int {
	q := a / b
	if a%b != 0 && a < 0 {
		q--
	}
	return q
}

// ToOriginal maps a box given as fractions of the model's input square (the
// crop; MAIRA-2's boxes are bin centres (bin + 0.5) / 100) to original-image
// pixel coordinates, continuous, with (0, 0) the top-left corner of the
// top-left pixel and (OrigWidth, OrigHeight) the bottom-right corner of the
// last one, clamped to the image.
//
// It inverts the real geometry: a crop fraction f is resized pixel
// f*CropWidth + CropLeft, and resized coordinate u is original coordinate
// u * OrigWidth / ResizedWidth, the mapping PIL's resize uses (output pixel
// centre i + 0.5 samples input position (i + 0.5) * in / out); likewise
// vertically.
//
// Microsoft's Maira2Processor.adjust_box_for_original_image_size instead
// assumes the crop was taken of the short side in original pixels
// (offset (long - short) // 2, scale short / crop) and truncates each
// coordinate to an integer pixel before normalising by the original size.
// The two agree to within about one original pixel plus one resized pixel's
// worth (the floors of the resize length and of the crop offsets); this
// function returns the exact, unrounded mapping. To get Microsoft's
// normalised form, divide X by OrigWidth and Y by OrigHeight.
func (g Geometry) ToOriginal(x0, y0, x1, y1 float64) (X0, Y0, X1, Y1 float64) {
	sx := float64(g.OrigWidth) / float64(g.ResizedWidth)
	sy := float64(g.OrigHeight) / float64(g.ResizedHeight)
	mapX := func(f float64) float64 {
		return clampF((f*float64(g.CropWidth)+float64(g.CropLeft))*sx, 0, float64(g.OrigWidth))
	}
	mapY := func(f float64) float64 {
		return clampF((f*float64(g.CropHeight)+float64(g.CropTop))*sy, 0, float64(g.OrigHeight))
	}
	return mapX(x0), mapY(y0), mapX(x1), mapY(y1)
}

func clampF(v, lo, hi float64) float64 {
	if v < lo || math.IsNaN(v) {
		return lo
	}
	return min(v, hi)
}
