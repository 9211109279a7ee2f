// Package projector is MAIRA-2's multimodal projector: BlockCount linear
// layers with biases and exact GELU between them (Sequential indices 0, 2,
// 4, 6 in MAIRA-2), mapping image features to the language model's
// embedding width.
package projector

import (
	"fmt"

	"maira/quant/gguf"
	"maira/quant/modelfile"
	"maira/runtime"
)

// Projector is the projector's weights.
type Projector struct {
	Config modelfile.Projector
	Layers []Linear // Layers[0] maps the encoder's width to the LLM's
	b      runtime.Backend
}

// Linear is one layer: W [out, in] and its bias.
type Linear struct{ W, B runtime.Weight }

// New loads the projector from f onto b: visionWidth -> textWidth, then
// textWidth -> textWidth.
func New(f *gguf.File, cfg *modelfile.Projector, visionWidth, textWidth int, b runtime.Backend) (*Projector, error) {
	if cfg.Activation != "gelu" {
		return nil, fmt.Errorf("%s: projector activation %q (only gelu)", f.Path, cfg.Activation)
	}
	p := &Projector{Config: *cfg, b: b}
	in := visionWidth
	for i := 0; i < cfg.BlockCount; i++ {
		w, err := runtime.LoadMatrix(b, f, modelfile.MM(cfg, i, "weight"), textWidth, in)
		if err != nil {
			return nil, err
		}
		bias, err := runtime.LoadVector(b, f, modelfile.MM(cfg, i, "bias"), textWidth)
		if err != nil {
			return nil, err
		}
		p.Layers = append(p.Layers, Linear{w, bias})
		in = textWidth
	}
	return p, nil
}

// Project maps features [N, visionWidth] to embeddings [N, textWidth]:
// x = L0(x), then x = Li(gelu(x)) for the other layers. The caller owns
// the result.
func (p *Projector) Project(features runtime.Tensor) (runtime.Tensor, error) {
	b := p.b
	n := features.Rows()
	if want := p.Layers[0].W.Cols(); features.Cols() != want {
		return nil, fmt.Errorf("projector: features of width %d, want %d", features.Cols(), want)
	}
	width := p.Layers[0].W.Rows()
	x, err := b.Alloc(n, width)
	if err != nil {
		return nil, err
	}
	var tmp runtime.Tensor
	if len(p.Layers) > 1 {
		if tmp, err = b.Alloc(n, width); err != nil {
			b.Free(x)
			return nil, err
		}
		defer b.Free(tmp)
	}
	b.MatMul(x, features, p.Layers[0].W)
	b.AddBias(x, p.Layers[0].B)
	for _, l := range p.Layers[1:] {
		b.GELU(tmp, x)
		b.MatMul(x, tmp, l.W)
		b.AddBias(x, l.B)
	}
	return x, b.Sync()
}
