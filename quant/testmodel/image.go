package testmodel

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"

	"maira/internal/atomicfile"
)

// Radiograph draws a deterministic synthetic chest radiograph: a bright body
// with two darker lung fields, a spine and mediastinum, rib arcs and noise.
// It is not anatomy; it gives the image path real-looking input (a wide
// dynamic range, structure at several scales) for tests and the demo.
// depth is 8 or 16 bits.
func Radiograph(width, height, depth int, seed uint64) (image.Image, error) {
	if width < 1 || height < 1 || width*height > 64<<20 {
		return nil, fmt.Errorf("radiograph size %dx%d out of range", width, height)
	}
	if depth != 8 && depth != 16 {
		return nil, fmt.Errorf("radiograph depth %d (8 or 16)", depth)
	}
	full := 255.0
	var g8 *image.Gray
	var g16 *image.Gray16
	if depth == 8 {
		g8 = image.NewGray(image.Rect(0, 0, width, height))
	} else {
		g16 = image.NewGray16(image.Rect(0, 0, width, height))
		full = 4095 // 12 bits stored in 16, as detectors write
	}
	w, h := float64(width), float64(height)
	inEllipse := func(x, y, cx, cy, rx, ry float64) float64 {
		d := (x-cx)*(x-cx)/(rx*rx) + (y-cy)*(y-cy)/(ry*ry)
		return math.Max(0, 1-d) // soft edge
	}
	state := splitmix(seed)
	for y := 0; y < height; y++ {
		for x := 0; x < width; x++ {
			fx, fy := float64(x)/w, float64(y)/h
			v := 0.08                                                           // air
			v += 0.55 * math.Min(1, 3*inEllipse(fx, fy, 0.5, 0.55, 0.46, 0.52)) // body
			lungs := inEllipse(fx, fy, 0.32, 0.45, 0.15, 0.30) + inEllipse(fx, fy, 0.68, 0.45, 0.15, 0.30)
			v -= 0.35 * math.Min(1, 4*lungs)
			v += 0.25 * math.Min(1, 6*inEllipse(fx, fy, 0.5, 0.5, 0.05, 0.45))   // spine and mediastinum
			v += 0.20 * math.Min(1, 5*inEllipse(fx, fy, 0.56, 0.62, 0.12, 0.10)) // heart
			rib := math.Sin(fy*60+6*math.Abs(fx-0.5)) * math.Min(1, 4*lungs)
			v += 0.06 * math.Max(0, rib)
			state = splitmix(state)
			v += 0.02 * (float64(state>>11)/float64(1<<53) - 0.5)
			v = math.Max(0, math.Min(1, v))
			if depth == 8 {
				g8.SetGray(x, y, color.Gray{Y: uint8(v * full)})
			} else {
				g16.SetGray16(x, y, color.Gray16{Y: uint16(v * full)})
			}
		}
	}
	if depth == 8 {
		return g8, nil
	}
	return g16, nil
}

// WriteRadiograph writes Radiograph as a PNG file, atomically.
func WriteRadiograph(path string, width, height, depth int, seed uint64) error {
	img, err := Radiograph(width, height, depth, seed)
	if err != nil {
		return err
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		return err
	}
	return atomicfile.WriteFile(path, b.Bytes())
}
