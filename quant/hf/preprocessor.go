package hf

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// Preprocessor is the image processor configuration (preprocessor_config.json)
// that MAIRA-2's processor applies after its own grayscale min-max step.
type Preprocessor struct {
	Path          string // "" when the file is absent and defaults were used
	ShortestEdge  int
	CropHeight    int
	CropWidth     int
	Mean, Std     [3]float32
	RescaleFactor float64
	Resample      int // PIL's enum: 3 is BICUBIC
	DoResize      bool
	DoCenterCrop  bool
	DoRescale     bool
	DoNormalize   bool
}

// MAIRA-2's processor constants (microsoft/maira-2 preprocessor_config.json).
const (
	Maira2Mean = 0.5307
	Maira2Std  = 0.2583
	// PILBicubic is PIL.Image.BICUBIC, the resampling MAIRA-2 uses.
	PILBicubic = 3
)

// DefaultPreprocessor returns MAIRA-2's settings for an encoder of the given
// input size, for checkpoints (plain dinov2 directories) that ship none.
func DefaultPreprocessor(imageSize int) *Preprocessor {
	return &Preprocessor{
		ShortestEdge: imageSize, CropHeight: imageSize, CropWidth: imageSize,
		Mean:          [3]float32{Maira2Mean, Maira2Mean, Maira2Mean},
		Std:           [3]float32{Maira2Std, Maira2Std, Maira2Std},
		RescaleFactor: 1.0 / 255, Resample: PILBicubic,
		DoResize: true, DoCenterCrop: true, DoRescale: true, DoNormalize: true,
	}
}

// ReadPreprocessor reads preprocessor_config.json at path. A missing file
// gives DefaultPreprocessor(imageSize) with Path "".
func ReadPreprocessor(path string, imageSize int) (*Preprocessor, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return DefaultPreprocessor(imageSize), nil
	}
	if err != nil {
		return nil, err
	}
	return ParsePreprocessor(data, path, imageSize)
}

// ParsePreprocessor parses the contents of a preprocessor_config.json.
func ParsePreprocessor(data []byte, path string, imageSize int) (*Preprocessor, error) {
	var top object
	if err := json.Unmarshal(data, &top); err != nil {
		return nil, fmt.Errorf("%s: not a JSON object: %v", path, err)
	}
	r := &reader{path: path, obj: top}
	p := DefaultPreprocessor(imageSize)
	p.Path = path
	p.Resample = r.int("resample", p.Resample)
	p.RescaleFactor = r.float("rescale_factor", p.RescaleFactor)
	p.DoResize = r.bool("do_resize", true)
	p.DoCenterCrop = r.bool("do_center_crop", true)
	p.DoRescale = r.bool("do_rescale", true)
	p.DoNormalize = r.bool("do_normalize", true)
	if size, ok := r.sub("size"); ok {
		sr := &reader{path: path, prefix: "size.", obj: size}
		if !size.has("shortest_edge") {
			return nil, fmt.Errorf("%s: size: only {\"shortest_edge\": N} is supported", path)
		}
		p.ShortestEdge = sr.int("shortest_edge", p.ShortestEdge)
		if sr.err != nil {
			return nil, sr.err
		}
	}
	if crop, ok := r.sub("crop_size"); ok {
		cr := &reader{path: path, prefix: "crop_size.", obj: crop}
		p.CropHeight = cr.int("height", p.CropHeight)
		p.CropWidth = cr.int("width", p.CropWidth)
		if cr.err != nil {
			return nil, cr.err
		}
	}
	for _, f := range []struct {
		key string
		dst *[3]float32
	}{{"image_mean", &p.Mean}, {"image_std", &p.Std}} {
		if !top.has(f.key) {
			continue
		}
		var v []float64
		if err := json.Unmarshal(top[f.key], &v); err != nil || (len(v) != 3 && len(v) != 1) {
			return nil, fmt.Errorf("%s: %s: want a list of 1 or 3 numbers", path, f.key)
		}
		for i := range f.dst {
			f.dst[i] = float32(v[min(i, len(v)-1)])
		}
	}
	if r.err != nil {
		return nil, r.err
	}
	switch {
	case !p.DoResize || !p.DoCenterCrop || !p.DoRescale || !p.DoNormalize:
		return nil, &ErrUnsupported{Path: path, Reason: "a processor that skips resize, crop, rescale or normalize"}
	case p.Resample != PILBicubic:
		return nil, &ErrUnsupported{Path: path, Reason: fmt.Sprintf("resample %d (only 3, bicubic)", p.Resample)}
	case p.ShortestEdge <= 0 || p.CropHeight <= 0 || p.CropWidth <= 0:
		return nil, fmt.Errorf("%s: sizes must be positive", path)
	case p.CropHeight > p.ShortestEdge || p.CropWidth > p.ShortestEdge:
		return nil, fmt.Errorf("%s: crop %dx%d larger than the resized short edge %d", path, p.CropWidth, p.CropHeight, p.ShortestEdge)
	case p.RescaleFactor <= 0:
		return nil, fmt.Errorf("%s: rescale_factor must be positive", path)
	}
	for i := range p.Std {
		if p.Std[i] <= 0 {
			return nil, fmt.Errorf("%s: image_std must be positive", path)
		}
	}
	return p, nil
}
