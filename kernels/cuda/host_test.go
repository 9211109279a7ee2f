package cuda

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"os/exec"
	"path/filepath"
	"testing"

	"maira/quant/dtype"
	"maira/runtime"
)

// compileHost compiles testdata/NAME.cc, which includes kernels.cu for
// the CPU (see testdata/host.h), or skips without clang-16.
// normals returns n normal values of standard deviation s.
func normals(r *rand.Rand, n int, s float64) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(r.NormFloat64() * s)
	}
	return v
}

func compileHost(t *testing.T, name string) string {
	t.Helper()
	clang, err := exec.LookPath("clang-16")
	if err != nil {
		t.Skip("clang-16 not installed: cannot compile the kernels for the host")
	}
	bin := filepath.Join(t.TempDir(), name)
	args := []string{"-x", "c++", "-std=c++20", "-O1", "-ffp-contract=off", "-o", bin, "testdata/" + name + ".cc", "-lm", "-lstdc++", "-pthread"}
	if out, err := exec.Command(clang, args...).CombinedOutput(); err != nil {
		t.Fatalf("compiling testdata/%s.cc for the host: %v\n%s", name, err, out)
	}
	return bin
}

// runHost runs op of the host harness on a and b with parameters p.
func runHost(t *testing.T, bin string, op int, p []int32, a, b []float32) []float32 {
	t.Helper()
	var in bytes.Buffer
	pp := make([]int32, 6)
	copy(pp, p)
	binary.Write(&in, binary.LittleEndian, int32(op))
	binary.Write(&in, binary.LittleEndian, pp)
	binary.Write(&in, binary.LittleEndian, []int32{int32(len(a)), int32(len(b))})
	binary.Write(&in, binary.LittleEndian, a)
	binary.Write(&in, binary.LittleEndian, b)
	cmd := exec.Command(bin)
	cmd.Stdin = &in
	out, err := cmd.Output()
	if err != nil || len(out) != 4*len(a) {
		t.Fatalf("host kernel %d: %v (%d bytes back)", op, err, len(out))
	}
	v := make([]float32, len(a))
	binary.Read(bytes.NewReader(out), binary.LittleEndian, v)
	return v
}

// TestKernelsOnHost runs kernels.cu's element-wise, RoPE and key/value
// cache kernels (compiled for the CPU, threads simulated one by one, exp2f
// for the GPU's ex2.approx) against the CPU backend: their index
// arithmetic, the grid-stride loops, and the accuracy of the GELU's erf
// and the SiLU's exp. What a GPU adds (ex2.approx's last bits, the
// launch) is left to the GPU tests.
func TestKernelsOnHost(t *testing.T) {
	bin := compileHost(t, "kernels_host")
	cpu, err := runtime.NewCPU(1)
	if err != nil {
		t.Fatal(err)
	}
	defer cpu.Close()
	r := rand.New(rand.NewPCG(13, 14))
	randn := func(n int, s float64) []float32 { return normals(r, n, s) }
	onCPU := func(rows, cols int, v []float32, f func(x runtime.Tensor)) []float32 {
		x, _ := cpu.Alloc(rows, cols)
		cpu.Write(x, v)
		f(x)
		out := make([]float32, rows*cols)
		cpu.Read(x, out)
		return out
	}
	near := func(what string, got, want []float32, tol float64) {
		t.Helper()
		for i := range want {
			if d := math.Abs(float64(got[i] - want[i])); d > tol*(1+math.Abs(float64(want[i]))) || math.IsNaN(float64(got[i])) {
				t.Fatalf("%s: value %d: kernel %g, cpu %g", what, i, got[i], want[i])
			}
		}
	}

	// 1000 values: the 192 simulated threads wrap the grid-stride loop.
	x := randn(1000, 3)
	x[0], x[1], x[2] = -12, 12, 0
	near("gelu", runHost(t, bin, 0, nil, x, nil), onCPU(10, 100, x, func(v runtime.Tensor) { cpu.GELU(v, v) }), 5e-7)
	u := randn(1000, 1)
	x[3] = -100 // exp overflows to inf: silu must give -0, not NaN
	near("silu", runHost(t, bin, 1, nil, x, u), onCPU(10, 100, x, func(g runtime.Tensor) {
		up, _ := cpu.Alloc(10, 100)
		cpu.Write(up, u)
		cpu.SiLUMul(g, g, up)
	}), 1e-6)

	for _, c := range []struct{ rows, heads, hd, pos0 int }{{3, 4, 64, 0}, {2, 32, 128, 6000}, {5, 2, 8, 17}} {
		cols := c.heads * c.hd
		v := randn(c.rows*cols, 1)
		table := ropeTable(c.pos0+c.rows, c.hd, 10000, 1.5)
		got := runHost(t, bin, 2, []int32{int32(c.rows), int32(c.heads), int32(c.hd), int32(c.pos0)}, v, table)
		want := onCPU(c.rows, cols, v, func(x runtime.Tensor) { cpu.RoPE(x, c.heads, c.pos0, runtime.Rope{Theta: 10000, Factor: 1.5}) })
		near(fmt.Sprintf("rope %+v", c), got, want, 2e-6)
	}

	// The F16 cache: store and load round to half exactly as the CPU's.
	for _, c := range []struct{ rows, heads, hd, positions, row0 int }{{3, 4, 32, 10, 2}, {1, 2, 128, 300, 299}} {
		cols := c.heads * c.hd
		v := randn(c.rows*cols, 4)
		got := runHost(t, bin, 3, []int32{int32(c.rows), int32(c.heads), int32(c.hd), int32(c.positions), int32(c.row0)}, v, nil)
		cache, err := cpu.AllocCache(dtype.F16, c.positions, c.heads, c.hd)
		if err != nil {
			t.Fatal(err)
		}
		view := cpu.View(cache, c.row0, c.rows)
		cpu.Write(view, v)
		want := make([]float32, len(v))
		cpu.Read(view, want)
		near(fmt.Sprintf("kv f16 %+v", c), got, want, 0)
	}

	b := randn(100, 1)
	v := randn(700, 1)
	want := make([]float32, len(v))
	for i := range v {
		want[i] = (v[i] + b[i%100]) * b[i%100]
	}
	near("bias and scale", runHost(t, bin, 4, []int32{100}, v, b), want, 0)
}

// ropeTable is runtime/cuda's RopeTable (which this package cannot
// import): cos and sin of each position's pair angles, in float64.
func ropeTable(positions, hd int, theta, factor float64) []float32 {
	half := hd / 2
	t := make([]float32, 2*positions*half)
	step := math.Pow(theta, -2/float64(hd))
	for p := 0; p < positions; p++ {
		pos, freq := float64(p)/factor, 1.0
		for i := 0; i < half; i++ {
			s, c := math.Sincos(pos * freq)
			t[2*(p*half+i)], t[2*(p*half+i)+1] = float32(c), float32(s)
			freq *= step
		}
	}
	return t
}
