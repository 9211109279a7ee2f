package raddino

import (
	"path/filepath"
	"testing"

	"maira/quant/convert"
	"maira/quant/dtype"
	"maira/quant/gguf"
	"maira/quant/modelfile"
	"maira/quant/testmodel"
	"maira/runtime"
)

// BenchmarkEncode is one image at the preset's native size (tiny: 56x56,
// 16 patches; small: 518x518, 1369 patches as RAD-DINO's) through the
// encoder, F32 and Q8_0 (the default recipe's vision type).
func BenchmarkEncode(b *testing.B) {
	for _, c := range []struct {
		preset string
		typ    dtype.Type
	}{{"tiny", dtype.F32}, {"small", dtype.F32}, {"small", dtype.Q8_0}} {
		b.Run(c.preset+"/"+c.typ.String(), func(b *testing.B) {
			p, _ := testmodel.Lookup(c.preset)
			path := filepath.Join(b.TempDir(), "m.gguf")
			r := convert.Recipe{Vision: c.typ, LLM: dtype.Q8_0, Embeddings: dtype.Q8_0}
			if err := testmodel.WriteGGUF(path, p, r, testmodel.Options{Seed: 1, DType: testmodel.F32}); err != nil {
				b.Fatal(err)
			}
			e, _, bk := open(b, path, 0)
			pix := image(3, p.ImageSize, p.ImageSize)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				out, err := e.Encode(pix, p.ImageSize, p.ImageSize)
				if err != nil {
					b.Fatal(err)
				}
				bk.Free(out)
			}
		})
	}
}

// BenchmarkEncodeViTB is RAD-DINO's real shape (ViT-B/14, 768 wide, 12
// layers, one 518x518 image: 1370 tokens) with F32, F16 and Q8_0 weights
// on the backend the commands use (runtime.Open: 8-bit activations for
// Q8_0), all cores: the figure to set beside PyTorch's
// (scripts/torch-vit-time.py). The language model is shrunk: only the
// encoder runs.
func BenchmarkEncodeViTB(b *testing.B) {
	p, _ := testmodel.Lookup("vicuna7b-shape")
	p.TextHidden, p.TextLayers, p.TextHeads, p.TextKVHeads, p.TextFFN = 64, 1, 2, 2, 128
	for _, typ := range []dtype.Type{dtype.F32, dtype.F16, dtype.Q8_0} {
		b.Run(typ.String(), func(b *testing.B) {
			path := filepath.Join(b.TempDir(), "m.gguf")
			r := convert.Recipe{Vision: typ, LLM: dtype.Q8_0, Embeddings: dtype.Q8_0}
			if err := testmodel.WriteGGUF(path, p, r, testmodel.Options{Seed: 1, DType: testmodel.F32}); err != nil {
				b.Fatal(err)
			}
			f, err := gguf.Open(path)
			if err != nil {
				b.Fatal(err)
			}
			defer f.Close()
			h, err := modelfile.Read(f)
			if err != nil {
				b.Fatal(err)
			}
			bk, err := runtime.Open("cpu", 0)
			if err != nil {
				b.Fatal(err)
			}
			defer bk.Close()
			e, err := New(f, h.Vision, bk)
			if err != nil {
				b.Fatal(err)
			}
			pix := image(3, p.ImageSize, p.ImageSize)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				out, err := e.Encode(pix, p.ImageSize, p.ImageSize)
				if err != nil {
					b.Fatal(err)
				}
				bk.Free(out)
			}
			b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/image")
		})
	}
}
