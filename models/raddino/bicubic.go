package raddino

import "math"

// Bicubic resizes a grid of inH x inW points, dim values per point (points
// row-major, each point's values contiguous, as Dinov2's position
// embeddings are stored), to outH x outW points, as
// torch.nn.functional.interpolate(size=(outH, outW), mode="bicubic",
// align_corners=False) does it on float32 data (what transformers'
// Dinov2Embeddings.interpolate_pos_encoding calls): source coordinate
// (o+0.5)·in/out-0.5, Keys' cubic convolution with A = -0.75 (PIL uses -0.5),
// samples beyond the edge clamped to it, no antialiasing. The weights and
// sums are computed in float64 and rounded once: torch's CPU kernel lands
// within a few float32 ulps of that exact value, closer than a float32
// evaluation of the cubic would (testdata/ holds torch's own numbers).
func Bicubic(src []float32, inH, inW, dim, outH, outW int) []float32 {
	ys, wy := cubicTaps(inH, outH)
	xs, wx := cubicTaps(inW, outW)
	out := make([]float32, outH*outW*dim)
	row := make([]float64, dim)
	o := make([]float64, dim)
	for oy := 0; oy < outH; oy++ {
		for ox := 0; ox < outW; ox++ {
			for c := range o {
				o[c] = 0
			}
			for j := 0; j < 4; j++ {
				// Interpolate along x in source row ys[oy][j], then
				// weight the row by its y tap.
				for c := range row {
					row[c] = 0
				}
				for i := 0; i < 4; i++ {
					p := src[(ys[oy][j]*inW+xs[ox][i])*dim:]
					for c := range row {
						row[c] += wx[ox][i] * float64(p[c])
					}
				}
				for c := range o {
					o[c] += wy[oy][j] * row[c]
				}
			}
			dst := out[(oy*outW+ox)*dim : (oy*outW+ox+1)*dim]
			for c, v := range o {
				dst[c] = float32(v)
			}
		}
	}
	return out
}

// cubicTaps returns, for each output index, the four (clamped) source
// indices and their weights.
func cubicTaps(in, out int) ([][4]int, [][4]float64) {
	const a = -0.75
	scale := float64(in) / float64(out)
	idx := make([][4]int, out)
	w := make([][4]float64, out)
	for o := 0; o < out; o++ {
		src := scale*(float64(o)+0.5) - 0.5
		fl := math.Floor(src)
		t := src - fl
		i0 := int(fl)
		for k := 0; k < 4; k++ {
			idx[o][k] = min(max(i0-1+k, 0), in-1)
		}
		// Keys' kernel: |x| <= 1: ((a+2)|x| - (a+3))x² + 1;
		// 1 < |x| < 2: ((a|x| - 5a)|x| + 8a)|x| - 4a.
		near := func(x float64) float64 { return ((a+2)*x-(a+3))*x*x + 1 }
		far := func(x float64) float64 { return ((a*x-5*a)*x+8*a)*x - 4*a }
		w[o] = [4]float64{far(t + 1), near(t), near(1 - t), far(2 - t)}
	}
	return idx, w
}
