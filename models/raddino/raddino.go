// Package raddino is RAD-DINO, MAIRA-2's image encoder: a Dinov2 ViT
// computed as transformers' Dinov2Backbone computes it (modeling_dinov2.py):
// a 14x14 stride-14 convolution embeds the patches, a CLS token and learned
// position embeddings (bicubically resized when the patch grid differs from
// the trained one) are added, then pre-norm blocks
//
//	x = x + ls1 ⊙ attn(ln1(x))
//	x = x + ls2 ⊙ mlp(ln2(x))      mlp = fc2(gelu(fc1(·)))
//
// and the final LayerNorm. MAIRA-2 takes the last layer's output with that
// LayerNorm applied and drops the CLS row.
package raddino

import (
	"fmt"
	"math"

	"maira/quant/gguf"
	"maira/quant/modelfile"
	"maira/runtime"
)

// Encoder is RAD-DINO's weights. It is not safe for concurrent use.
type Encoder struct {
	Config modelfile.Vision

	PatchEmbd runtime.Weight // [C, channels·P·P]: the conv kernel, one output channel per row
	PatchBias runtime.Weight
	Class     []float32 // [C], host: the CLS token
	Position  []float32 // [(1+grid²)·C], host: CLS position then the grid row by row
	Blocks    []Block
	PostLN    Norm // the final LayerNorm (Dinov2's "layernorm")

	b       runtime.Backend
	pos     map[[2]int]runtime.Tensor // position embeddings per patch grid
	scratch *scratch
}

// Block is one Dinov2 layer.
type Block struct {
	LN1            Norm
	Q, K, V, Out   Linear
	LS1            runtime.Weight // LayerScale after attention
	LN2            Norm
	FFNUp, FFNDown Linear
	LS2            runtime.Weight // LayerScale after the MLP
}

// Norm is a LayerNorm's weight and bias.
type Norm struct{ W, B runtime.Weight }

// Linear is a weight with its bias.
type Linear struct{ W, B runtime.Weight }

// New loads the encoder described by cfg from f onto b.
func New(f *gguf.File, cfg *modelfile.Vision, b runtime.Backend) (*Encoder, error) {
	c, p, ff := cfg.EmbeddingLength, cfg.PatchSize, cfg.FeedForwardLength
	e := &Encoder{Config: *cfg, b: b, pos: map[[2]int]runtime.Tensor{}}
	l := loader{f: f, b: b}
	e.PatchEmbd = l.matrix(modelfile.VPatchEmbd, c, cfg.Channels*p*p)
	e.PatchBias = l.vector(modelfile.VPatchEmbdBias, c)
	if l.err == nil {
		e.Class, l.err = runtime.Float32s(f, modelfile.VClassEmbd, c)
	}
	if l.err == nil {
		e.Position, l.err = runtime.Float32s(f, modelfile.VPositionEmbd, (cfg.Patches()+1)*c)
	}
	for i := 0; i < cfg.BlockCount; i++ {
		vb := func(part, kind string) string { return modelfile.VBlock(i, part, kind) }
		lin := func(part string, out, in int) Linear {
			return Linear{l.matrix(vb(part, "weight"), out, in), l.vector(vb(part, "bias"), out)}
		}
		norm := func(part string) Norm { return Norm{l.vector(vb(part, "weight"), c), l.vector(vb(part, "bias"), c)} }
		e.Blocks = append(e.Blocks, Block{
			LN1: norm("ln1"),
			Q:   lin("attn_q", c, c), K: lin("attn_k", c, c), V: lin("attn_v", c, c), Out: lin("attn_out", c, c),
			LS1:   l.vector(vb("ls1", "weight"), c),
			LN2:   norm("ln2"),
			FFNUp: lin("ffn_up", ff, c), FFNDown: lin("ffn_down", c, ff),
			LS2: l.vector(vb("ls2", "weight"), c),
		})
	}
	e.PostLN = Norm{l.vector(modelfile.VPostLNWeight, c), l.vector(modelfile.VPostLNBias, c)}
	if l.err != nil {
		return nil, l.err
	}
	return e, nil
}

// loader loads weights and keeps the first error, so New reads as a list.
type loader struct {
	f   *gguf.File
	b   runtime.Backend
	err error
}

func (l *loader) matrix(name string, rows, cols int) runtime.Weight {
	if l.err != nil {
		return nil
	}
	w, err := runtime.LoadMatrix(l.b, l.f, name, rows, cols)
	l.err = err
	return w
}

func (l *loader) vector(name string, n int) runtime.Weight {
	if l.err != nil {
		return nil
	}
	w, err := runtime.LoadVector(l.b, l.f, name, n)
	l.err = err
	return w
}

// Grid returns the patch grid of an h x w image: the convolution's stride
// drops a remainder narrower than a patch, as torch's Conv2d does.
func (e *Encoder) Grid(h, w int) (gh, gw int) { return h / e.Config.PatchSize, w / e.Config.PatchSize }

// Tokens returns the rows Encode returns for an h x w image.
func (e *Encoder) Tokens(h, w int) int {
	gh, gw := e.Grid(h, w)
	if e.Config.FeatureSelect == "full" {
		return gh*gw + 1
	}
	return gh * gw
}

// Encode runs the encoder on one preprocessed image, pix in CHW order
// (channels x h x w float32), and returns the features MAIRA-2 uses:
// [patches, C] (CLS dropped) for feature select "default", [1+patches, C]
// for "full". The caller owns the result (free it with the backend's Free).
func (e *Encoder) Encode(pix []float32, h, w int) (runtime.Tensor, error) {
	cfg := &e.Config
	if h < cfg.PatchSize || w < cfg.PatchSize || len(pix) != cfg.Channels*h*w {
		return nil, fmt.Errorf("raddino: image of %d values for %d channels of %d x %d (at least %d x %d)", len(pix), cfg.Channels, h, w, cfg.PatchSize, cfg.PatchSize)
	}
	if cfg.FeatureLayer >= 0 || -cfg.FeatureLayer > len(e.Blocks) {
		return nil, fmt.Errorf("raddino: feature layer %d of %d layers", cfg.FeatureLayer, len(e.Blocks))
	}
	gh, gw := e.Grid(h, w)
	s, err := e.scratchFor(gh * gw)
	if err != nil {
		return nil, err
	}
	if err := e.embed(s, pix, h, w); err != nil {
		return nil, err
	}
	// hidden_states[FeatureLayer] of Dinov2Backbone: index 0 is the
	// embeddings, index i the output of block i, so -1 is the last block.
	for i := range e.Blocks[:len(e.Blocks)+1+cfg.FeatureLayer] {
		e.block(&e.Blocks[i], s)
	}
	b := e.b
	if cfg.FeatureLayerNorm {
		b.LayerNorm(s.x, s.x, e.PostLN.W, e.PostLN.B, cfg.LayerNormEps)
	}
	src := s.x
	if cfg.FeatureSelect != "full" {
		src = b.View(s.x, 1, gh*gw)
	}
	out, err := b.Alloc(src.Rows(), src.Cols())
	if err != nil {
		return nil, err
	}
	b.CopyRows(out, src)
	return out, b.Sync()
}

// embed fills s.x with Dinov2Embeddings: [CLS; conv(patches) + bias] plus
// the position embeddings for this grid.
func (e *Encoder) embed(s *scratch, pix []float32, h, w int) error {
	cfg, b := &e.Config, e.b
	gh, gw := e.Grid(h, w)
	p := cfg.PatchSize
	// Unfold: row gy·gw+gx holds patch (gy, gx) in the conv kernel's
	// order, channel then kernel row then kernel column.
	k := cfg.Channels * p * p
	for gy := 0; gy < gh; gy++ {
		for gx := 0; gx < gw; gx++ {
			row := s.unfold[(gy*gw+gx)*k : (gy*gw+gx+1)*k]
			for c := 0; c < cfg.Channels; c++ {
				for ky := 0; ky < p; ky++ {
					src := pix[c*h*w+(gy*p+ky)*w+gx*p:]
					copy(row[(c*p+ky)*p:(c*p+ky+1)*p], src[:p])
				}
			}
		}
	}
	if err := b.Write(s.patches, s.unfold); err != nil {
		return err
	}
	patches := b.View(s.x, 1, gh*gw)
	b.MatMul(patches, s.patches, e.PatchEmbd)
	b.AddBias(patches, e.PatchBias)
	if err := b.Write(b.View(s.x, 0, 1), e.Class); err != nil {
		return err
	}
	pos, err := e.positions(gh, gw)
	if err != nil {
		return err
	}
	b.Add(s.x, s.x, pos)
	return nil
}

// positions returns the position embeddings for a gh x gw grid, made once
// per grid: the stored ones when the grid is the trained square, else the
// patch part resized by Bicubic (Dinov2's interpolate_pos_encoding; its
// shortcut for an equal patch count at h == w is this same case).
func (e *Encoder) positions(gh, gw int) (runtime.Tensor, error) {
	if t, ok := e.pos[[2]int{gh, gw}]; ok {
		return t, nil
	}
	c := e.Config.EmbeddingLength
	side := e.Config.ImageSize / e.Config.PatchSize
	host := e.Position
	if gh != side || gw != side {
		grid := Bicubic(e.Position[c:], side, side, c, gh, gw)
		host = append(append(make([]float32, 0, len(grid)+c), e.Position[:c]...), grid...)
	}
	t, err := e.b.Alloc(1+gh*gw, c)
	if err != nil {
		return nil, err
	}
	if err := e.b.Write(t, host); err != nil {
		return nil, err
	}
	e.pos[[2]int{gh, gw}] = t
	return t, nil
}

// block is Dinov2Layer.
func (e *Encoder) block(l *Block, s *scratch) {
	b, eps := e.b, e.Config.LayerNormEps
	heads := e.Config.HeadCount

	// x = x + ls1 ⊙ attn(ln1(x))
	b.LayerNorm(s.h, s.x, l.LN1.W, l.LN1.B, eps)
	linear(b, s.q, s.h, l.Q)
	linear(b, s.k, s.h, l.K)
	linear(b, s.v, s.h, l.V)
	b.Attention(s.att, s.q, s.k, s.v, runtime.Attn{Heads: heads, KVHeads: heads})
	linear(b, s.h, s.att, l.Out)
	b.ScaleCols(s.h, l.LS1)
	b.Add(s.x, s.x, s.h)

	// x = x + ls2 ⊙ fc2(gelu(fc1(ln2(x))))
	b.LayerNorm(s.h, s.x, l.LN2.W, l.LN2.B, eps)
	linear(b, s.ffn, s.h, l.FFNUp)
	b.GELU(s.ffn, s.ffn)
	linear(b, s.h, s.ffn, l.FFNDown)
	b.ScaleCols(s.h, l.LS2)
	b.Add(s.x, s.x, s.h)
}

func linear(b runtime.Backend, dst, x runtime.Tensor, l Linear) {
	b.MatMul(dst, x, l.W)
	b.AddBias(dst, l.B)
}

// scratch is the activations of one image size, kept between calls.
type scratch struct {
	patches                 runtime.Tensor // [N, channels·P·P] unfolded pixels
	unfold                  []float32      // its host copy
	x, h, q, k, v, att, ffn runtime.Tensor // [1+N, ·]
}

func (e *Encoder) scratchFor(n int) (*scratch, error) {
	if s := e.scratch; s != nil && s.patches.Rows() == n {
		return s, nil
	}
	e.freeScratch()
	cfg := &e.Config
	c, t, k := cfg.EmbeddingLength, n+1, cfg.Channels*cfg.PatchSize*cfg.PatchSize
	if n > math.MaxInt32/max(k, cfg.FeedForwardLength) {
		return nil, fmt.Errorf("raddino: %d patches is too many", n)
	}
	s := &scratch{unfold: make([]float32, n*k)}
	var err error
	alloc := func(rows, cols int) runtime.Tensor {
		if err != nil {
			return nil
		}
		var x runtime.Tensor
		x, err = e.b.Alloc(rows, cols)
		return x
	}
	s.patches = alloc(n, k)
	s.x, s.h, s.q, s.k, s.v, s.att = alloc(t, c), alloc(t, c), alloc(t, c), alloc(t, c), alloc(t, c), alloc(t, c)
	s.ffn = alloc(t, cfg.FeedForwardLength)
	e.scratch = s
	if err != nil {
		e.freeScratch()
		return nil, err
	}
	return s, nil
}

func (e *Encoder) freeScratch() {
	s := e.scratch
	if s == nil {
		return
	}
	for _, t := range []runtime.Tensor{s.patches, s.x, s.h, s.q, s.k, s.v, s.att, s.ffn} {
		if t != nil {
			e.b.Free(t)
		}
	}
	e.scratch = nil
}

// Close frees the encoder's activations and cached position embeddings
// (the weights belong to the file and the backend).
func (e *Encoder) Close() {
	e.freeScratch()
	for k, t := range e.pos {
		e.b.Free(t)
		delete(e.pos, k)
	}
}
