package cuda

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"os/exec"
	"testing"

	"maira/quant/dtype"
	"maira/runtime"
)

// simt runs op of testdata/simt_host.cc with geometry l.
func simt(t *testing.T, bin string, op int, l Launch, p []int32, f float32, a []float32, b []byte, c []float32) []float32 {
	t.Helper()
	var in bytes.Buffer
	pp := make([]int32, 10)
	pp[0], pp[1], pp[2] = int32(l.GridX), int32(l.GridY), int32(l.Block)
	copy(pp[3:], p)
	w := func(v any) { binary.Write(&in, binary.LittleEndian, v) }
	w(int32(op))
	w(pp)
	w(f)
	w([]int32{int32(len(a)), int32(len(b)), int32(len(c))})
	w(a)
	in.Write(b)
	w(c)
	cmd := exec.Command(bin)
	cmd.Stdin = &in
	out, err := cmd.Output()
	if err != nil || len(out) < 4 {
		t.Fatalf("host kernel %d: %v", op, err)
	}
	n := int(binary.LittleEndian.Uint32(out))
	v := make([]float32, n)
	binary.Read(bytes.NewReader(out[4:]), binary.LittleEndian, v)
	return v
}

func floatBytes(v []float32) []byte {
	var b bytes.Buffer
	binary.Write(&b, binary.LittleEndian, v)
	return b.Bytes()
}

// TestBlockKernelsOnHost runs kernels.cu's block kernels (RMSNorm,
// LayerNorm, the matrix product for every weight type, attention, the greedy pick)
// on the CPU, every simulated thread a fiber synchronised as the GPU
// would (testdata/host.h), launched with this package's geometry, against
// the exact CPU backend.
func TestBlockKernelsOnHost(t *testing.T) {
	bin := compileHost(t, "simt_host")
	cpu, err := runtime.NewCPU(1)
	if err != nil {
		t.Fatal(err)
	}
	defer cpu.Close()
	r := rand.New(rand.NewPCG(15, 16))
	randn := func(n int, s float64) []float32 { return normals(r, n, s) }
	tensor := func(rows, cols int, v []float32) runtime.Tensor {
		x, _ := cpu.Alloc(rows, cols)
		if v != nil {
			cpu.Write(x, v)
		}
		return x
	}
	read := func(x runtime.Tensor) []float32 {
		v := make([]float32, x.Rows()*x.Cols())
		cpu.Read(x, v)
		return v
	}
	vec := func(v []float32) runtime.Weight {
		w, err := cpu.Weight("v", dtype.F32, 1, len(v), floatBytes(v))
		if err != nil {
			t.Fatal(err)
		}
		return w
	}
	near := func(what string, got, want []float32, tol float64) {
		t.Helper()
		if len(got) != len(want) {
			t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
		}
		var scale float64
		for _, w := range want {
			scale = max(scale, math.Abs(float64(w)))
		}
		for i := range want {
			if d := math.Abs(float64(got[i] - want[i])); d > tol*(1+scale) || math.IsNaN(float64(got[i])) {
				t.Fatalf("%s: value %d: kernel %g, cpu %g (scale %g)", what, i, got[i], want[i], scale)
			}
		}
	}

	for _, c := range []struct{ rows, cols int }{{3, 20}, {2, 100}, {2, 4096}, {3, 96}} {
		x, w, b := randn(c.rows*c.cols, 2), randn(c.cols, 1), randn(c.cols, 1)
		got := simt(t, bin, 0, Rows(c.rows, c.cols), []int32{int32(c.cols)}, 1e-5, x, floatBytes(w), nil)
		xt := tensor(c.rows, c.cols, x)
		cpu.RMSNorm(xt, xt, vec(w), 1e-5)
		near(fmt.Sprintf("rmsnorm %v", c), got, read(xt), 1e-6)
		got = simt(t, bin, 1, Rows(c.rows, c.cols), []int32{int32(c.cols)}, 1e-6, x, floatBytes(w), b)
		xt = tensor(c.rows, c.cols, x)
		cpu.LayerNorm(xt, xt, vec(w), vec(b), 1e-6)
		near(fmt.Sprintf("layernorm %v", c), got, read(xt), 1e-6)
		if c.cols%32 != 0 {
			continue
		}
		// With the Q8_1 blocks of the output: the same floats, and blocks
		// byte for byte k_quantize_q8_1's of them.
		for op, name := range []string{"rmsnorm", "layernorm"} {
			var bias []float32
			if op == 1 {
				bias = b
			}
			both := simt(t, bin, op, Rows(c.rows, c.cols), []int32{int32(c.cols), 1}, 1e-6, x, floatBytes(w), bias)
			plain := simt(t, bin, op, Rows(c.rows, c.cols), []int32{int32(c.cols)}, 1e-6, x, floatBytes(w), bias)
			n := c.rows * c.cols
			if string(floatBytes(both[:n])) != string(floatBytes(plain)) {
				t.Fatalf("%s %v with Q8_1 blocks: the output differs", name, c)
			}
			var want []byte
			for r := 0; r < c.rows; r++ {
				want = append(want, quantizeQ8_1(plain[r*c.cols:(r+1)*c.cols])...)
			}
			if string(floatBytes(both[n:])) != string(want) {
				t.Fatalf("%s %v: its Q8_1 blocks differ from the output's quantized", name, c)
			}
		}
	}

	for _, ty := range []dtype.Type{dtype.F32, dtype.F16, dtype.BF16, dtype.Q8_0, dtype.Q4_0, dtype.Q4_K, dtype.Q6_K} {
		for _, s := range []struct{ n, k, m int }{{1, 512, 7}, {10, 256, 5}} {
			rb, _ := ty.RowBytes(int64(s.k))
			data := make([]byte, rb*int64(s.m))
			if err := ty.Encode(data, randn(s.m*s.k, 0.5)); err != nil {
				t.Fatal(err)
			}
			x := randn(s.n*s.k, 1)
			got := simt(t, bin, 2, MatMul(s.n, s.m), []int32{int32(ty), int32(s.n), int32(s.k), int32(s.m)}, 0, x, data, nil)
			w, err := cpu.Weight("w", ty, s.m, s.k, data)
			if err != nil {
				t.Fatal(err)
			}
			d := tensor(s.n, s.m, nil)
			cpu.MatMul(d, tensor(s.n, s.k, x), w)
			want := read(d)
			near(fmt.Sprintf("matmul %s %+v", ty, s), got, want, 1e-5)
			got = simt(t, bin, 2, GEMM(s.n, s.m), []int32{1000 + int32(ty), int32(s.n), int32(s.k), int32(s.m)}, 0, x, data, nil)
			near(fmt.Sprintf("gemm %s %+v", ty, s), got, want, 1e-5)
		}
	}
	{ // k_gemm over several tiles with ragged edges
		const n, k, m = 70, 256, 67
		ty := dtype.Q4_K
		rb, _ := ty.RowBytes(k)
		data := make([]byte, rb*m)
		ty.Encode(data, randn(m*k, 0.5))
		x := randn(n*k, 1)
		got := simt(t, bin, 2, GEMM(n, m), []int32{1000 + int32(ty), n, k, m}, 0, x, data, nil)
		w, _ := cpu.Weight("w", ty, m, k, data)
		d := tensor(n, m, nil)
		cpu.MatMul(d, tensor(n, k, x), w)
		near("gemm q4_K 70x256x67", got, read(d), 1e-5)
	}
	{ // F32 rows of any width (the patch embedding)
		const n, k, m = 3, 588, 5
		wv, x := randn(m*k, 0.1), randn(n*k, 1)
		got := simt(t, bin, 2, MatMul(n, m), []int32{100, n, k, m}, 0, x, floatBytes(wv), nil)
		w, _ := cpu.Weight("w", dtype.F32, m, k, floatBytes(wv))
		d := tensor(n, m, nil)
		cpu.MatMul(d, tensor(n, k, x), w)
		near("matmul f32s", got, read(d), 1e-5)
	}

	for _, s := range []struct {
		rows, heads, kv, hd, keys, pos0 int
		causal                          bool
	}{
		{5, 2, 2, 64, 5, 0, false},
		{4, 4, 2, 128, 9, 5, true},
		{1, 2, 1, 32, 70, 69, true},
		{70, 2, 1, 64, 70, 0, false},  // the encoder: several blocks of rows, tiles of keys
		{40, 4, 2, 128, 45, 5, true},  // prefill after a prefix, grouped heads
		{33, 1, 1, 96, 100, 67, true}, // a head of 96: k_fattn's last value lanes idle
		{70, 2, 2, 64, 75, 5, true},   // two k_tattn blocks, ragged tiles, after a prefix
	} {
		q, k, v := randn(s.rows*s.heads*s.hd, 1), randn(s.keys*s.kv*s.hd, 1), randn(s.keys*s.kv*s.hd, 1)
		l, err := Attention(s.rows, s.heads, s.hd)
		if err != nil {
			t.Fatal(err)
		}
		causal := int32(0)
		if s.causal {
			causal = 1
		}
		scale := float32(1 / math.Sqrt(float64(s.hd)))
		got := simt(t, bin, 3, l, []int32{int32(s.rows), int32(s.heads), int32(s.kv), int32(s.hd), int32(s.keys), causal, int32(s.pos0)}, scale, q, floatBytes(k), v)
		d := tensor(s.rows, s.heads*s.hd, nil)
		cpu.Attention(d, tensor(s.rows, s.heads*s.hd, q), tensor(s.keys, s.kv*s.hd, k), tensor(s.keys, s.kv*s.hd, v),
			runtime.Attn{Heads: s.heads, KVHeads: s.kv, Causal: s.causal, Pos0: s.pos0})
		want := read(d)
		near(fmt.Sprintf("attention %+v", s), got, want, 1e-5)
		if fl, ok := FlashAttention(s.rows, s.heads, s.hd); ok {
			got := simt(t, bin, 7, fl, []int32{int32(s.rows), int32(s.heads), int32(s.kv), int32(s.hd), int32(s.keys), causal, int32(s.pos0)}, scale, q, floatBytes(k), v)
			near(fmt.Sprintf("blocked attention %+v", s), got, want, 1e-5)
		}
		// The tensor cores' attention: f16 inputs (q·scale, k, v, the
		// probabilities), float sums: within 2e-3 of the CPU's float32.
		tl, tc := TensorAttention(s.rows, s.heads, s.hd)
		if tc {
			got := simt(t, bin, 9, tl, []int32{int32(s.rows), int32(s.heads), int32(s.kv), int32(s.hd), int32(s.keys), causal, int32(s.pos0)}, scale, q, floatBytes(k), v)
			near(fmt.Sprintf("tensor-core attention %+v", s), got, want, 2e-3)
		}
		if s.hd%32 != 0 {
			continue
		}
		// The Q8 cache: k and v stored by k_kv_store_q8 exactly as the CPU's
		// Q8_0 cache stores them (read back bit for bit), and attention
		// over it (k_attn_q8, or k_fattn_q8 for several rows) against the
		// CPU's over its own.
		l8 := l
		if fl, ok := FlashAttention(s.rows, s.heads, s.hd); ok {
			l8 = fl
		}
		got = simt(t, bin, 8, l8, []int32{int32(s.rows), int32(s.heads), int32(s.kv), int32(s.hd), int32(s.keys), causal, int32(s.pos0)}, scale, q, floatBytes(k), v)
		kc, _ := cpu.AllocCache(dtype.Q8_0, s.keys+3, s.kv, s.hd)
		vc, _ := cpu.AllocCache(dtype.Q8_0, s.keys+3, s.kv, s.hd)
		cpu.CopyRows(cpu.View(kc, 0, s.keys), tensor(s.keys, s.kv*s.hd, k))
		cpu.CopyRows(cpu.View(vc, 0, s.keys), tensor(s.keys, s.kv*s.hd, v))
		d8 := tensor(s.rows, s.heads*s.hd, nil)
		cpu.Attention(d8, tensor(s.rows, s.heads*s.hd, q), cpu.View(kc, 0, s.keys), cpu.View(vc, 0, s.keys),
			runtime.Attn{Heads: s.heads, KVHeads: s.kv, Causal: s.causal, Pos0: s.pos0})
		na := s.rows * s.heads * s.hd
		near(fmt.Sprintf("q8 cache %+v", s), got[na:], read(cpu.View(kc, 0, s.keys)), 0)
		near(fmt.Sprintf("attention over a q8 cache %+v", s), got[:na], read(d8), 1e-5)
		if tc {
			got = simt(t, bin, 10, tl, []int32{int32(s.rows), int32(s.heads), int32(s.kv), int32(s.hd), int32(s.keys), causal, int32(s.pos0)}, scale, q, floatBytes(k), v)
			near(fmt.Sprintf("tensor-core attention over a q8 cache %+v", s), got[:na], read(d8), 2e-3)
		}
	}

	// k_pick against runtime.Argmax: index, margin and the non-finite
	// count, on ties, NaNs, infinities and vocabularies of any size.
	nan, inf := float32(math.NaN()), float32(math.Inf(1))
	for i, tc := range []struct {
		n   int
		set map[int]float32
	}{
		{1, nil},
		{1000, map[int]float32{500: 10, 999: 10}}, // a tie: the first index wins, margin 0
		{5000, map[int]float32{4000: 10, 17: 9.5}},
		{32000, map[int]float32{31999: 12, 3: nan, 9: 11}},
		{2049, map[int]float32{2048: inf, 0: -inf}},
		{3, map[int]float32{0: nan, 1: nan, 2: nan}},
	} {
		v := randn(tc.n, 1)
		for j, x := range tc.set {
			v[j] = x
		}
		wantID, wantMargin := runtime.Argmax(v)
		bad := 0
		for _, x := range v {
			if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
				bad++
			}
		}
		got := simt(t, bin, 4, Pick(), nil, 0, v, nil, nil)
		if int32(got[0]) != wantID || got[1] != wantMargin || int(got[2]) != bad {
			t.Errorf("pick %d (%d values): %d, margin %g, %d non-finite; want %d, %g, %d", i, tc.n, int32(got[0]), got[1], int(got[2]), wantID, wantMargin, bad)
		}
	}
}
