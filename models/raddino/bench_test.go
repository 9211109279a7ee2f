package raddino

import (
	"path/filepath"
	"testing"

	"maira/quant/convert"
	"maira/quant/dtype"
	"maira/quant/testmodel"
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
