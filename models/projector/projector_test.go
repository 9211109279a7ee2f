package projector

import (
	"math"
	"path/filepath"
	"testing"

	"maira/quant/convert"
	"maira/quant/dtype"
	"maira/quant/gguf"
	"maira/quant/modelfile"
	"maira/quant/testmodel"
	"maira/runtime"
)

// TestEmbeddingsMatchReference runs features through the projector of a
// tiny F32 file and through a float64 reference of MAIRA-2's projector
// (Linear, then GELU and Linear for each further layer) on weights decoded
// with quant/dtype.
func TestEmbeddingsMatchReference(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tiny.gguf")
	p, _ := testmodel.Lookup("tiny")
	r := convert.Recipe{Vision: dtype.F32, LLM: dtype.F32, Embeddings: dtype.F32}
	if err := testmodel.WriteGGUF(path, p, r, testmodel.Options{Seed: 1, DType: testmodel.F32}); err != nil {
		t.Fatal(err)
	}
	f, err := gguf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h, err := modelfile.Read(f)
	if err != nil {
		t.Fatal(err)
	}
	b, err := runtime.NewCPU(2)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	pr, err := New(f, h.Projector, h.Vision.EmbeddingLength, h.Text.EmbeddingLength, b)
	if err != nil {
		t.Fatal(err)
	}

	const n = 21
	in, out := h.Vision.EmbeddingLength, h.Text.EmbeddingLength
	feat := make([]float32, n*in)
	for i := range feat {
		feat[i] = float32(2 * math.Sin(float64(i)*0.731))
	}
	x, _ := b.Alloc(n, in)
	if err := b.Write(x, feat); err != nil {
		t.Fatal(err)
	}
	emb, err := pr.Project(x)
	if err != nil {
		t.Fatal(err)
	}
	if emb.Rows() != n || emb.Cols() != out {
		t.Fatalf("embeddings %d x %d, want %d x %d", emb.Rows(), emb.Cols(), n, out)
	}
	got := make([]float32, n*out)
	if err := b.Read(emb, got); err != nil {
		t.Fatal(err)
	}

	decode := func(name string) []float64 {
		ti := f.Tensor(name)
		v := make([]float32, ti.NumElements())
		if err := ti.Type.Decode(v, f.Data(ti)); err != nil {
			t.Fatal(err)
		}
		d := make([]float64, len(v))
		for i, x := range v {
			d[i] = float64(x)
		}
		return d
	}
	var big, worst float64
	for row := 0; row < n; row++ {
		v := make([]float64, in)
		for i := range v {
			v[i] = float64(feat[row*in+i])
		}
		for l := 0; l < h.Projector.BlockCount; l++ {
			if l > 0 {
				for i := range v {
					v[i] = 0.5 * v[i] * (1 + math.Erf(v[i]/math.Sqrt2))
				}
			}
			w, bias := decode(modelfile.MM(h.Projector, l, "weight")), decode(modelfile.MM(h.Projector, l, "bias"))
			y := make([]float64, out)
			for o := range y {
				y[o] = bias[o]
				for i := range v {
					y[o] += w[o*len(v)+i] * v[i]
				}
			}
			v = y
		}
		for o, want := range v {
			big = max(big, math.Abs(want))
			worst = max(worst, math.Abs(float64(got[row*out+o])-want))
		}
	}
	t.Logf("embeddings: max |error| %.3g, %.3g of the largest reference magnitude %.3g", worst, worst/big, big)
	if worst > 1e-4*big {
		t.Errorf("max |error| %g exceeds 1e-4 x %g", worst, big)
	}

	wrong, _ := b.Alloc(2, in+1)
	if _, err := pr.Project(wrong); err == nil {
		t.Error("features of the wrong width: no error")
	}
}
