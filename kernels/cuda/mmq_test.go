package cuda

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"maira/kernels"
	"maira/quant/dtype"
	"maira/runtime"
)

// quantizeQ8_1 is the reference of k_quantize_q8_1: ggml's block_q8_1
// (f16 d, f16 s = d·Σq, 32 int8 q) with the quants of the CPU's 8-bit
// path (kernels' quantizeQ8: d = max|x|/127, q = x·(1/d) rounded to
// nearest even).
func quantizeQ8_1(x []float32) []byte {
	out := make([]byte, Q8_1Bytes(len(x)))
	for c := 0; c < len(x)/32; c++ {
		xs, b := x[32*c:32*c+32], out[36*c:36*c+36]
		var amax float32
		for _, v := range xs {
			amax = max(amax, float32(math.Abs(float64(v))))
		}
		d := amax / 127
		var inv float32
		if d != 0 {
			inv = 1 / d
		}
		var sum int32
		for i, v := range xs {
			q := int32(math.RoundToEven(float64(float32(v * inv))))
			b[4+i] = byte(int8(q))
			sum += q
		}
		binary.LittleEndian.PutUint16(b[0:], dtype.FP32ToFP16(d))
		binary.LittleEndian.PutUint16(b[2:], dtype.FP32ToFP16(d*float32(sum)))
	}
	return out
}

// dotQ8_1 is the float64 dot product of the weight row w with the
// activation as its Q8_1 blocks xq decode (d·q), and Σ|w·x|, the scale
// its rounding is judged against.
func dotQ8_1(w []float32, xq []byte) (dot, mag float64) {
	for i := range w {
		blk := xq[36*(i/32):]
		xv := float64(dtype.FP16ToFP32(binary.LittleEndian.Uint16(blk))) * float64(int8(blk[4+i%32]))
		dot += float64(w[i]) * xv
		mag += math.Abs(float64(w[i]) * xv)
	}
	return dot, mag
}

// sqErr adds ‖got - want‖² to *dd and ‖want‖² to *ww.
func sqErr(dd, ww *float64, got, want []float32) {
	for i := range want {
		d := float64(got[i]) - float64(want[i])
		*dd, *ww = *dd+d*d, *ww+float64(want[i])*float64(want[i])
	}
}

// TestMatMulQOnHost runs the decode GEMV on Q8_1 activations
// (k_quantize_q8_1, then k_mmq_T with dp4a emulated exactly, see
// testdata/host.h) on the CPU at this package's geometry, and holds it:
//   - the quantized row byte for byte to quantizeQ8_1, whose quants (and
//     d, before f16) are those of the CPU's own ActQ8 blocks;
//   - each output to the float64 dot product of the weight row as
//     quant/dtype decodes it with the activation as its Q8_1 blocks decode
//     (d·q): the kernel's integer sums are exact, so only float32 rounding
//     of the scaling and the sum separates them (1e-5 of Σ|w·x|);
//   - all of a type's outputs to the exact CPU backend (float32
//     activations): the relative error ‖kernel - exact‖/‖exact‖ within
//     1.25 times (plus 1e-3) the one the CPU's own 8-bit path shows on the
//     same data (its "q8" variant: Q8 blocks with float32 d for Q4_0 and
//     Q8_0, Q8_K (one scale per 256) for the k-quants). Q8_1 has the
//     CPU's quants for Q4_0 and Q8_0 and only rounds d to f16 (2^-11),
//     and scales the k-quants' activations per 32 rather than per 256.
func TestMatMulQOnHost(t *testing.T) {
	bin := compileHost(t, "simt_host")
	exact, err := runtime.NewCPU(1)
	if err != nil {
		t.Fatal(err)
	}
	defer exact.Close()
	q8, err := kernels.Lookup("q8")
	if err != nil {
		t.Fatal(err)
	}
	quant, err := runtime.NewCPUWith(runtime.CPUOptions{Threads: 1, Kernels: q8})
	if err != nil {
		t.Fatal(err)
	}
	defer quant.Close()
	r := rand.New(rand.NewPCG(21, 22))
	randn := func(n int, s float64) []float32 { return normals(r, n, s) }
	matmul := func(c *runtime.CPU, ty dtype.Type, k, m int, data []byte, x []float32) []float32 {
		w, err := c.Weight("w", ty, m, k, data)
		if err != nil {
			t.Fatal(err)
		}
		xt, _ := c.Alloc(1, k)
		c.Write(xt, x)
		d, _ := c.Alloc(1, m)
		c.MatMul(d, xt, w)
		out := make([]float32, m)
		c.Read(d, out)
		return out
	}

	for _, ty := range []dtype.Type{dtype.Q8_0, dtype.Q4_0, dtype.Q4_K, dtype.Q6_K} {
		var gpuDD, cpuDD, ww, ww2 float64
		shapes := []struct{ k, m int }{{512, 7}, {256, 5}, {2048, 13}, {1024, 61}}
		if ty == dtype.Q8_0 || ty == dtype.Q4_0 {
			shapes = append(shapes, struct{ k, m int }{160, 3}) // 5 blocks: k_quantize_q8_1's last warps idle
		}
		for _, s := range shapes {
			name := fmt.Sprintf("%s %dx%d", ty, s.k, s.m)
			rb, _ := ty.RowBytes(int64(s.k))
			data := make([]byte, rb*int64(s.m))
			if err := ty.Encode(data, randn(s.m*s.k, 0.5)); err != nil {
				t.Fatal(err)
			}
			x := randn(s.k, 1)
			x[5], x[40] = 0, 9 // an outlier sets a block's scale
			for i := 64; i < 96; i++ {
				x[i] = 0 // a block of zeros: d = 0
			}
			kn, _ := TypeSuffix(ty)
			if !SupportsQ(kn, s.k) {
				t.Fatalf("SupportsQ(%s, %d) = false", kn, s.k)
			}
			ql := QuantizeQ8_1(s.k)
			p := []int32{int32(ty), int32(s.k), int32(s.m), int32(ql.GridX), int32(ql.Block)}

			xq := quantizeQ8_1(x)
			var act kernels.Activations // the CPU's 8-bit path: the same quants
			act.Reset(kernels.ActQ8, 1, s.k)
			q8.Quantize(&act, x, s.k, 0, 1)
			for c := 0; c < s.k/32; c++ {
				if string(act.Q[36*c:36*c+32]) != string(xq[36*c+4:36*c+36]) || dtype.FP32ToFP16(act.D[c]) != binary.LittleEndian.Uint16(xq[36*c:]) {
					t.Fatalf("%s: block %d: the reference's quants or d differ from the CPU's ActQ8", name, c)
				}
			}
			p[0] = -1
			gotQ := floatBytes(simt(t, bin, 5, MatMulQ(s.m), p, 0, x, nil, nil))
			if string(gotQ) != string(xq) {
				t.Fatalf("%s: k_quantize_q8_1's blocks differ from the reference", name)
			}
			p[0] = int32(ty)
			got := simt(t, bin, 5, MatMulQ(s.m), p, 0, x, data, nil)

			wv := make([]float32, s.m*s.k)
			if err := ty.Decode(wv, data); err != nil {
				t.Fatal(err)
			}
			for o := 0; o < s.m; o++ {
				want, mag := dotQ8_1(wv[o*s.k:(o+1)*s.k], xq)
				if d := math.Abs(float64(got[o]) - want); d > 1e-5*mag || math.IsNaN(float64(got[o])) {
					t.Fatalf("%s: row %d: kernel %g, float64 on the same quants %g (Σ|w·x| %g)", name, o, got[o], want, mag)
				}
			}

			ref := matmul(exact, ty, s.k, s.m, data, x)
			sqErr(&cpuDD, &ww, matmul(quant, ty, s.k, s.m, data, x), ref)
			sqErr(&gpuDD, &ww2, got, ref)
		}
		gpuErr, cpuErr := math.Sqrt(gpuDD/ww2), math.Sqrt(cpuDD/ww)
		t.Logf("%s: relative error against the exact CPU: kernel %.2e, the CPU's 8-bit path %.2e", ty, gpuErr, cpuErr)
		if gpuErr > 1.25*cpuErr+1e-3 {
			t.Errorf("%s: relative error %.3g against the exact CPU; the CPU's 8-bit path has %.3g", ty, gpuErr, cpuErr)
		}
	}
}

// TestGEMMQOnHost runs the prefill GEMM on Q8_1 activations
// (k_quantize_q8_1 over rows, then k_gemmq_T, its int8 mma emulated
// lane by lane in the PTX ISA's fragment layout, see testdata/host.h) on
// the CPU, and holds every output to the float64 dot product of the
// weight row as quant/dtype decodes it with the activation row as its
// Q8_1 blocks decode: the integer sums are exact, so only float32
// scaling and summation separate them (1e-5 of Σ|w·x|). The shapes leave
// tiles partly filled in both directions and, for Q8_0 and Q4_0, a stage
// of chunks partly filled.
func TestGEMMQOnHost(t *testing.T) {
	bin := compileHost(t, "simt_host")
	r := rand.New(rand.NewPCG(23, 24))
	randn := func(n int, s float64) []float32 { return normals(r, n, s) }
	for _, ty := range []dtype.Type{dtype.Q8_0, dtype.Q4_0, dtype.Q4_K, dtype.Q6_K} {
		shapes := []struct{ n, k, m int }{{70, 256, 72}, {16, 256, 64}, {3, 512, 9}}
		if ty == dtype.Q8_0 || ty == dtype.Q4_0 {
			shapes = append(shapes, struct{ n, k, m int }{66, 160, 65})
		}
		for _, s := range shapes {
			name := fmt.Sprintf("%s %dx%d by %d", ty, s.n, s.k, s.m)
			rb, _ := ty.RowBytes(int64(s.k))
			data := make([]byte, rb*int64(s.m))
			if err := ty.Encode(data, randn(s.m*s.k, 0.5)); err != nil {
				t.Fatal(err)
			}
			x := randn(s.n*s.k, 1)
			x[5], x[s.k+40] = 0, 9
			for i := 64; i < 96; i++ {
				x[i] = 0 // a block of zeros: d = 0
			}
			ql := QuantizeRowsQ8_1(s.n, s.k)
			p := []int32{int32(ty), int32(s.n), int32(s.k), int32(s.m), int32(ql.GridX), int32(ql.Block)}
			got := simt(t, bin, 6, GEMMQ(s.n, s.m), p, 0, x, data, nil)
			if len(got) != s.n*s.m {
				t.Fatalf("%s: %d outputs, want %d", name, len(got), s.n*s.m)
			}
			wv := make([]float32, s.m*s.k)
			if err := ty.Decode(wv, data); err != nil {
				t.Fatal(err)
			}
			for row := 0; row < s.n; row++ {
				xq := quantizeQ8_1(x[row*s.k : (row+1)*s.k])
				for o := 0; o < s.m; o++ {
					want, mag := dotQ8_1(wv[o*s.k:(o+1)*s.k], xq)
					if g := got[row*s.m+o]; math.Abs(float64(g)-want) > 1e-5*mag || math.IsNaN(float64(g)) {
						t.Fatalf("%s: [%d][%d]: kernel %g, float64 on the same quants %g (Σ|w·x| %g)", name, row, o, g, want, mag)
					}
				}
			}
		}
	}
}
