package hf

import (
	"strings"
	"testing"
)

// FuzzParseConfig: config.json comes from outside; any bytes give a config
// that passed its checks, or an error naming the file, never a panic.
func FuzzParseConfig(f *testing.F) {
	f.Add([]byte(maira2Config))
	f.Add([]byte(`{"model_type": "llama", "rope_scaling": {"type": "linear", "factor": 2}}`))
	f.Add([]byte(`{"model_type": "llava", "text_config": {}, "vision_config": {"model_type": "dinov2"}}`))
	f.Add([]byte(`{"model_type": "dinov2", "image_size": 1e300}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseConfig(data, "f/config.json")
		if err != nil {
			if !strings.HasPrefix(err.Error(), "f/config.json") {
				t.Fatalf("error without the path: %v", err)
			}
			return
		}
		if c.Text != nil && (c.Text.HeadDim <= 0 || c.Text.HeadDim*c.Text.NumAttentionHeads != c.Text.HiddenSize) {
			t.Fatalf("accepted inconsistent heads: %+v", c.Text)
		}
		if c.Vision != nil && (c.Vision.PatchSize <= 0 || c.Vision.ImageSize%c.Vision.PatchSize != 0) {
			t.Fatalf("accepted bad patching: %+v", c.Vision)
		}
	})
}

func FuzzParsePreprocessor(f *testing.F) {
	f.Add([]byte(`{"crop_size": {"height": 518, "width": 518}, "size": {"shortest_edge": 518}, "image_mean": [0.5, 0.5, 0.5]}`))
	f.Add([]byte(`{"resample": 3, "rescale_factor": -1}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := ParsePreprocessor(data, "f/p.json", 518)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "f/p.json") {
				t.Fatalf("error without the path: %v", err)
			}
			return
		}
		if p.CropHeight <= 0 || p.CropHeight > p.ShortestEdge || !(p.RescaleFactor > 0) {
			t.Fatalf("accepted %+v", p)
		}
	})
}
