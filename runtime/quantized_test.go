package runtime_test

import (
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"

	"maira/kernels"
	"maira/models/llama"
	"maira/quant/convert"
	"maira/quant/dtype"
	"maira/quant/gguf"
	"maira/quant/modelfile"
	"maira/quant/testmodel"
	"maira/runtime"
)

// quantizedVariants returns the variants this machine runs that have
// integer dot products (q8, the Go twin, among them).
func quantizedVariants() []*kernels.Variant {
	var vs []*kernels.Variant
	for _, v := range kernels.Variants() {
		if (v.Available == nil || v.Available()) && v.Act(dtype.Q4_0) != kernels.ActNone {
			vs = append(vs, v)
		}
	}
	return vs
}

// TestQuantizedMatMulBackend runs MatMul through backends with 8-bit
// activations on 3 workers (uneven splits of the weight rows): every
// variant gives the q8 twin's values bit for bit, and each stays within
// 1% relative RMS of the exact backend.
func TestQuantizedMatMulBackend(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 22))
	exact, err := runtime.NewCPUWith(runtime.CPUOptions{Threads: 3, Kernels: kernels.Generic(), Exact: true})
	if err != nil {
		t.Fatal(err)
	}
	defer exact.Close()
	for _, c := range []struct {
		typ dtype.Type
		n   int
	}{{dtype.Q4_0, 19}, {dtype.Q8_0, 19}, {dtype.Q4_K, 19}, {dtype.Q6_K, 19}, {dtype.Q4_K, 1}, {dtype.Q6_K, 2}} {
		// 1 and 2 rows: fewer than the workers, so the k-quants' input
		// is quantized split by blocks.
		typ, n := c.typ, c.n
		const out = 45
		cols := 3 * max(typ.BlockSize(), 32)
		xv := make([]float32, n*cols)
		wv := make([]float32, out*cols)
		for i := range xv {
			xv[i] = r.Float32()*2 - 1
		}
		for i := range wv {
			wv[i] = r.Float32()*2 - 1
		}
		rb, _ := typ.RowBytes(int64(cols))
		enc := make([]byte, int(rb)*out)
		if err := typ.Encode(enc, wv); err != nil {
			t.Fatal(err)
		}
		run := func(b *runtime.CPU) []float32 {
			w, err := b.Weight("w", typ, out, cols, enc)
			if err != nil {
				t.Fatal(err)
			}
			x, _ := b.Alloc(n, cols)
			d, _ := b.Alloc(n, out)
			if err := b.Write(x, xv); err != nil {
				t.Fatal(err)
			}
			b.MatMul(d, x, w)
			got := make([]float32, n*out)
			if err := b.Read(d, got); err != nil {
				t.Fatal(err)
			}
			return got
		}
		want := run(exact)
		var twin []float32
		for _, v := range quantizedVariants() {
			b, err := runtime.NewCPUWith(runtime.CPUOptions{Threads: 3, Kernels: v})
			if err != nil {
				t.Fatal(err)
			}
			got := run(b)
			b.Close()
			one, err := runtime.NewCPUWith(runtime.CPUOptions{Threads: 1, Kernels: v})
			if err != nil {
				t.Fatal(err)
			}
			if alone := run(one); !slices.Equal(got, alone) {
				t.Errorf("%s %s, %d rows: 3 workers differ from 1", v.Name, typ, n)
			}
			one.Close()
			if v.Name == "q8" {
				twin = got
			} else if twin != nil && !slices.Equal(got, twin) {
				t.Errorf("%s %s: differs from the q8 twin", v.Name, typ)
			}
			var se, sw float64
			for i := range want {
				se += (float64(got[i]) - float64(want[i])) * (float64(got[i]) - float64(want[i]))
				sw += float64(want[i]) * float64(want[i])
			}
			if rel := math.Sqrt(se / sw); rel > 0.01 {
				t.Errorf("%s %s: relative RMS difference %.3g from the exact backend", v.Name, typ, rel)
			}
		}
	}
}

// TestQuantizedLogitsCloseToExact holds the language model of the small
// preset with Q8_0 and Q4_0 weights, run with 8-bit activations, to the
// same file run exactly: logits cosine >= 0.9999.
func TestQuantizedLogitsCloseToExact(t *testing.T) {
	if testing.Short() {
		t.Skip("writes two small models")
	}
	dir := t.TempDir()
	p, err := testmodel.Lookup("small")
	if err != nil {
		t.Fatal(err)
	}
	prompt := []int32{1, 450, 4996, 17354, 1701, 29916, 432, 17204, 975, 278, 17366, 11203, 29889, 29871}
	var fast *kernels.Variant
	for _, v := range quantizedVariants() {
		if fast == nil || v.Priority > fast.Priority {
			fast = v
		}
	}
	for _, typ := range []dtype.Type{dtype.Q8_0, dtype.Q4_0} {
		path := filepath.Join(dir, typ.String()+".gguf")
		r := convert.Recipe{Vision: dtype.F16, LLM: typ, Embeddings: typ}
		if err := testmodel.WriteGGUF(path, p, r, testmodel.Options{Seed: 1, DType: testmodel.F32}); err != nil {
			t.Fatal(err)
		}
		logits := func(o runtime.CPUOptions) []float32 {
			f, err := gguf.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			h, err := modelfile.Read(f)
			if err != nil {
				t.Fatal(err)
			}
			b, err := runtime.NewCPUWith(o)
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			m, err := llama.New(f, h.Text, b)
			if err != nil {
				t.Fatal(err)
			}
			s, err := m.NewSession(len(prompt), dtype.F32)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			x, err := s.Embed(prompt)
			if err != nil {
				t.Fatal(err)
			}
			l, err := s.Prefill(x)
			if err != nil {
				t.Fatal(err)
			}
			return l
		}
		want := logits(runtime.CPUOptions{Threads: 2, Kernels: kernels.Generic(), Exact: true})
		got := logits(runtime.CPUOptions{Threads: 2, Kernels: fast})
		var ab, aa, bb float64
		for i := range want {
			ab += float64(got[i]) * float64(want[i])
			aa += float64(got[i]) * float64(got[i])
			bb += float64(want[i]) * float64(want[i])
		}
		cos := ab / math.Sqrt(aa*bb)
		t.Logf("small %s, %s with 8-bit activations vs exact: logits cosine %.6f, top token %d vs %d", typ, fast.Name, cos, argmax(got), argmax(want))
		if cos < 0.9999 {
			t.Errorf("small %s: logits cosine %.6f below 0.9999", typ, cos)
		}
	}
}

func argmax(v []float32) int {
	best := 0
	for i, x := range v {
		if x > v[best] {
			best = i
		}
	}
	return best
}
