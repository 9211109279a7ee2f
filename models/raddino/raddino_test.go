package raddino

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"maira/quant/convert"
	"maira/quant/dtype"
	"maira/quant/gguf"
	"maira/quant/modelfile"
	"maira/quant/testmodel"
	"maira/runtime"
)

var tinyPath string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "maira-raddino-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	tinyPath = filepath.Join(dir, "tiny.gguf")
	code := func() int {
		defer os.RemoveAll(dir)
		p, _ := testmodel.Lookup("tiny")
		r := convert.Recipe{Vision: dtype.F32, LLM: dtype.F32, Embeddings: dtype.F32}
		if err := testmodel.WriteGGUF(tinyPath, p, r, testmodel.Options{Seed: 1, DType: testmodel.F32}); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		return m.Run()
	}()
	os.Exit(code)
}

func open(t testing.TB, path string, threads int) (*Encoder, *gguf.File, runtime.Backend) {
	t.Helper()
	f, err := gguf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	h, err := modelfile.Read(f)
	if err != nil {
		t.Fatal(err)
	}
	b, err := runtime.NewCPU(threads)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	e, err := New(f, h.Vision, b)
	if err != nil {
		t.Fatal(err)
	}
	return e, f, b
}

// image returns a deterministic CHW image in the normalised range.
func image(c, h, w int) []float32 {
	pix := make([]float32, c*h*w)
	for ch := 0; ch < c; ch++ {
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				pix[(ch*h+y)*w+x] = float32(1.5*math.Sin(0.21*float64(x)+0.13*float64(y)*float64(ch+1)) + 0.3*math.Cos(0.05*float64(x*y)))
			}
		}
	}
	return pix
}

// ---- The float64 reference: transformers' Dinov2Backbone in plain loops,
// on weights decoded with quant/dtype. Nothing here uses the engine's code.

func decode64(t testing.TB, f *gguf.File, name string) ([]float64, int) {
	t.Helper()
	ti := f.Tensor(name)
	if ti == nil {
		t.Fatalf("tensor %s missing", name)
	}
	v := make([]float32, ti.NumElements())
	if err := ti.Type.Decode(v, f.Data(ti)); err != nil {
		t.Fatal(err)
	}
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = float64(x)
	}
	return out, int(ti.Dims[0])
}

func rows64(v []float64, cols int) [][]float64 {
	var m [][]float64
	for o := 0; o+cols <= len(v); o += cols {
		m = append(m, v[o:o+cols])
	}
	return m
}

type refLinear struct {
	w [][]float64
	b []float64
}

func (l refLinear) apply(x []float64) []float64 {
	y := make([]float64, len(l.w))
	for o, row := range l.w {
		y[o] = l.b[o]
		for i, v := range row {
			y[o] += v * x[i]
		}
	}
	return y
}

type refBlock struct {
	ln1w, ln1b, ln2w, ln2b, ls1, ls2 []float64
	q, k, v, o, up, down             refLinear
}

type refEncoder struct {
	cfg          modelfile.Vision
	patchW       []float64 // torch [C, cin, P, P] flattened
	patchB, cls  []float64
	pos          [][]float64
	blocks       []refBlock
	postW, postB []float64
}

func loadRef(t testing.TB, f *gguf.File, cfg *modelfile.Vision) *refEncoder {
	c := cfg.EmbeddingLength
	r := &refEncoder{cfg: *cfg}
	vec := func(name string) []float64 { v, _ := decode64(t, f, name); return v }
	lin := func(i int, part string) refLinear {
		w, cols := decode64(t, f, modelfile.VBlock(i, part, "weight"))
		return refLinear{rows64(w, cols), vec(modelfile.VBlock(i, part, "bias"))}
	}
	r.patchW = vec(modelfile.VPatchEmbd)
	r.patchB = vec(modelfile.VPatchEmbdBias)
	r.cls = vec(modelfile.VClassEmbd)
	r.pos = rows64(vec(modelfile.VPositionEmbd), c)
	for i := 0; i < cfg.BlockCount; i++ {
		v := func(part string) []float64 { return vec(modelfile.VBlock(i, part, "weight")) }
		bias := func(part string) []float64 { return vec(modelfile.VBlock(i, part, "bias")) }
		r.blocks = append(r.blocks, refBlock{
			ln1w: v("ln1"), ln1b: bias("ln1"), ln2w: v("ln2"), ln2b: bias("ln2"), ls1: v("ls1"), ls2: v("ls2"),
			q: lin(i, "attn_q"), k: lin(i, "attn_k"), v: lin(i, "attn_v"), o: lin(i, "attn_out"),
			up: lin(i, "ffn_up"), down: lin(i, "ffn_down"),
		})
	}
	r.postW, r.postB = vec(modelfile.VPostLNWeight), vec(modelfile.VPostLNBias)
	return r
}

func layernorm64(x, w, b []float64, eps float64) []float64 {
	var mean, v float64
	for _, a := range x {
		mean += a
	}
	mean /= float64(len(x))
	for _, a := range x {
		v += (a - mean) * (a - mean)
	}
	v /= float64(len(x))
	y := make([]float64, len(x))
	for i, a := range x {
		y[i] = (a-mean)/math.Sqrt(v+eps)*w[i] + b[i]
	}
	return y
}

// keys64 is Keys' cubic convolution kernel at distance d, A = -0.75.
func keys64(d float64) float64 {
	const a = -0.75
	d = math.Abs(d)
	switch {
	case d <= 1:
		return (a+2)*d*d*d - (a+3)*d*d + 1
	case d < 2:
		return a*d*d*d - 5*a*d*d + 8*a*d - 4*a
	}
	return 0
}

// bicubic64 resizes a side x side grid of vectors to gh x gw, as
// torch's bicubic with align_corners=False: taps at distance from the
// source coordinate, indices clamped to the edge.
func bicubic64(grid [][]float64, side, gh, gw int) [][]float64 {
	taps := func(o, in, out int) (idx [4]int, w [4]float64) {
		s := (float64(o)+0.5)*float64(in)/float64(out) - 0.5
		f := math.Floor(s)
		for k := 0; k < 4; k++ {
			j := f - 1 + float64(k)
			idx[k] = min(max(int(j), 0), in-1)
			w[k] = keys64(s - j)
		}
		return
	}
	var out [][]float64
	for y := 0; y < gh; y++ {
		iy, wy := taps(y, side, gh)
		for x := 0; x < gw; x++ {
			ix, wx := taps(x, side, gw)
			v := make([]float64, len(grid[0]))
			for a := 0; a < 4; a++ {
				for b := 0; b < 4; b++ {
					for c := range v {
						v[c] += wy[a] * wx[b] * grid[iy[a]*side+ix[b]][c]
					}
				}
			}
			out = append(out, v)
		}
	}
	return out
}

// encode is Dinov2Backbone's forward for one image with the header's
// feature selection.
func (r *refEncoder) encode(pix []float32, h, w int) [][]float64 {
	cfg := &r.cfg
	p, c, cin := cfg.PatchSize, cfg.EmbeddingLength, cfg.Channels
	gh, gw := h/p, w/p
	side := cfg.ImageSize / p
	eps := float64(cfg.LayerNormEps)
	pos := r.pos[1:]
	if gh != side || gw != side {
		pos = bicubic64(r.pos[1:], side, gh, gw)
	}
	x := [][]float64{make([]float64, c)}
	for o := 0; o < c; o++ {
		x[0][o] = r.cls[o] + r.pos[0][o]
	}
	for gy := 0; gy < gh; gy++ {
		for gx := 0; gx < gw; gx++ {
			v := make([]float64, c)
			for o := 0; o < c; o++ {
				s := r.patchB[o]
				for ch := 0; ch < cin; ch++ {
					for ky := 0; ky < p; ky++ {
						for kx := 0; kx < p; kx++ {
							s += r.patchW[((o*cin+ch)*p+ky)*p+kx] * float64(pix[(ch*h+gy*p+ky)*w+gx*p+kx])
						}
					}
				}
				v[o] = s + pos[gy*gw+gx][o]
			}
			x = append(x, v)
		}
	}
	heads := cfg.HeadCount
	hd := c / heads
	for _, bl := range r.blocks[:len(r.blocks)+1+cfg.FeatureLayer] {
		var q, k, v [][]float64
		for _, row := range x {
			n := layernorm64(row, bl.ln1w, bl.ln1b, eps)
			q, k, v = append(q, bl.q.apply(n)), append(k, bl.k.apply(n)), append(v, bl.v.apply(n))
		}
		for i := range x {
			att := make([]float64, c)
			for hh := 0; hh < heads; hh++ {
				sc := make([]float64, len(x))
				m := math.Inf(-1)
				for j := range x {
					for d := 0; d < hd; d++ {
						sc[j] += q[i][hh*hd+d] * k[j][hh*hd+d]
					}
					sc[j] /= math.Sqrt(float64(hd))
					m = max(m, sc[j])
				}
				var z float64
				for j := range sc {
					sc[j] = math.Exp(sc[j] - m)
					z += sc[j]
				}
				for j := range sc {
					for d := 0; d < hd; d++ {
						att[hh*hd+d] += sc[j] / z * v[j][hh*hd+d]
					}
				}
			}
			o := bl.o.apply(att)
			for d := range o {
				x[i][d] += bl.ls1[d] * o[d]
			}
		}
		for i := range x {
			u := bl.up.apply(layernorm64(x[i], bl.ln2w, bl.ln2b, eps))
			for d := range u {
				u[d] = 0.5 * u[d] * (1 + math.Erf(u[d]/math.Sqrt2))
			}
			dn := bl.down.apply(u)
			for d := range dn {
				x[i][d] += bl.ls2[d] * dn[d]
			}
		}
	}
	if cfg.FeatureLayerNorm {
		for i := range x {
			x[i] = layernorm64(x[i], r.postW, r.postB, eps)
		}
	}
	if cfg.FeatureSelect == "default" {
		x = x[1:]
	}
	return x
}

func compare(t *testing.T, what string, got []float32, want [][]float64) {
	t.Helper()
	var flat []float64
	for _, r := range want {
		flat = append(flat, r...)
	}
	if len(got) != len(flat) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(flat))
	}
	var big, worst float64
	for i := range flat {
		big = max(big, math.Abs(flat[i]))
		worst = max(worst, math.Abs(float64(got[i])-flat[i]))
	}
	t.Logf("%s: max |error| %.3g, %.3g of the largest reference magnitude %.3g", what, worst, worst/big, big)
	if worst > 1e-4*big {
		t.Errorf("%s: max |error| %g exceeds 1e-4 x %g", what, worst, big)
	}
}

func TestFeaturesMatchReference(t *testing.T) {
	e, f, b := open(t, tinyPath, 3)
	ref := loadRef(t, f, &e.Config)
	for _, c := range []struct {
		name string
		h, w int
		edit func(*modelfile.Vision)
	}{
		{name: "56x56 (the trained 4x4 grid)", h: 56, w: 56},
		{name: "70x70 (5x5 grid: interpolated positions)", h: 70, w: 70},
		{name: "42x84 (3x6 grid)", h: 42, w: 84},
		{name: "60x57 (4x4 grid and a remainder the stride drops)", h: 60, w: 57},
		{name: "56x56, full, no final norm, layer -2", h: 56, w: 56, edit: func(v *modelfile.Vision) {
			v.FeatureSelect, v.FeatureLayerNorm, v.FeatureLayer = "full", false, -2
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			saved := e.Config
			defer func() { e.Config, ref.cfg = saved, saved }()
			if c.edit != nil {
				c.edit(&e.Config)
				c.edit(&ref.cfg)
			}
			pix := image(e.Config.Channels, c.h, c.w)
			out, err := e.Encode(pix, c.h, c.w)
			if err != nil {
				t.Fatal(err)
			}
			if out.Rows() != e.Tokens(c.h, c.w) || out.Cols() != e.Config.EmbeddingLength {
				t.Fatalf("features %d x %d, want %d x %d", out.Rows(), out.Cols(), e.Tokens(c.h, c.w), e.Config.EmbeddingLength)
			}
			got := make([]float32, out.Rows()*out.Cols())
			if err := b.Read(out, got); err != nil {
				t.Fatal(err)
			}
			compare(t, "features", got, ref.encode(pix, c.h, c.w))
		})
	}
}

func TestEncodeRefusesBadImages(t *testing.T) {
	e, _, _ := open(t, tinyPath, 1)
	for _, c := range []struct {
		n, h, w int
	}{
		{3 * 56 * 56, 56, 55 + 2}, // wrong length for the size
		{3 * 10 * 10, 10, 10},     // smaller than a patch
		{0, 0, 0},
		{3 * 56 * 56, -56, -56},
	} {
		if _, err := e.Encode(make([]float32, c.n), c.h, c.w); err == nil || strings.Contains(err.Error(), "\n") {
			t.Errorf("%d values as %d x %d: %v", c.n, c.h, c.w, err)
		}
	}
}

// TestBicubicMatchesTorch holds Bicubic to torch's own output
// (testdata/README.md says how it was made).
func TestBicubicMatchesTorch(t *testing.T) {
	data, err := os.ReadFile("testdata/bicubic.json")
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Torch string
		Cases []struct {
			Side, Dim, OutH, OutW int
			Src, Want             []float64
		}
	}
	// The JSON keys are snake_case.
	if err := json.Unmarshal([]byte(strings.NewReplacer(`"out_h"`, `"OutH"`, `"out_w"`, `"OutW"`).Replace(string(data))), &file); err != nil {
		t.Fatal(err)
	}
	if len(file.Cases) == 0 {
		t.Fatal("no cases")
	}
	for _, c := range file.Cases {
		src := make([]float32, len(c.Src))
		for i, v := range c.Src {
			src[i] = float32(v)
		}
		got := Bicubic(src, c.Side, c.Side, c.Dim, c.OutH, c.OutW)
		if len(got) != len(c.Want) {
			t.Fatalf("%dx%d -> %dx%d: %d values, torch %d", c.Side, c.Side, c.OutH, c.OutW, len(got), len(c.Want))
		}
		// torch rounds its float32 result a few ulps from the exact
		// value; allow about 8 ulps of the largest magnitude.
		var worst, big float64 = 0, 1
		for i := range got {
			worst = max(worst, math.Abs(float64(got[i])-c.Want[i]))
			big = max(big, math.Abs(c.Want[i]))
		}
		t.Logf("%dx%d -> %dx%d (dim %d): max |difference| from torch %s: %.3g", c.Side, c.Side, c.OutH, c.OutW, c.Dim, file.Torch, worst)
		if worst > 1e-6*big {
			t.Errorf("%dx%d -> %dx%d: off torch by %g", c.Side, c.Side, c.OutH, c.OutW, worst)
		}
	}
}
