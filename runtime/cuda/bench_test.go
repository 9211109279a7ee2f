package cuda_test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"testing"

	"maira/quant/dtype"
	"maira/runtime"
	"maira/runtime/cuda"
)

// TestKernelBandwidth (MAIRA_GPU_BENCH=1, on a GPU) measures the device's
// memory bandwidth with a device-to-device copy and each decode GEMV's
// share of it (Vicuna-7B's shapes; timed with CUDA events), printing one
// line each for scripts/gpu-check.sh: for the quantized types both the
// dp4a GEMV on Q8_1 activations (quantizing the row included) and k_mm
// on float32 activations (SetExactMatMul).
func TestKernelBandwidth(t *testing.T) {
	if os.Getenv("MAIRA_GPU_BENCH") == "" {
		t.Skip("set MAIRA_GPU_BENCH=1 to time the kernels (scripts/gpu-check.sh does)")
	}
	_, g := backends(t)
	c := g.Context()
	copyBW := copyBandwidth(t, c)
	fmt.Printf("BENCH device %s: device-to-device copy %.1f GB/s (peak from clocks %.1f GB/s)\n", c.Device.Name, copyBW/1e9, c.Device.PeakBandwidth()/1e9)
	r := rand.New(rand.NewPCG(9, 9))
	for _, ty := range []dtype.Type{dtype.Q4_0, dtype.Q4_K, dtype.Q8_0, dtype.F16} {
		for _, s := range []struct{ m, k int }{{4096, 4096}, {11008, 4096}, {4096, 11008}, {32207, 4096}} {
			// 64 encoded rows repeated: the time does not depend on the
			// values, and encoding 130M values would take minutes.
			tile := encode(t, ty, randn(r, 64*s.k, 0.02), 64, s.k)
			data := make([]byte, 0, len(tile)*(s.m/64+1))
			for len(data) < len(tile)/64*s.m {
				data = append(data, tile...)
			}
			data = data[:len(tile)/64*s.m]
			w := weight(t, g, "w", ty, s.m, s.k, data)
			// two inputs in turn: each product quantizes its own, as O and
			// down do in a decode step
			xs := [2]runtime.Tensor{tensor(t, g, 1, s.k, randn(r, s.k, 1)), tensor(t, g, 1, s.k, randn(r, s.k, 1))}
			d := tensor(t, g, 1, s.m, nil)
			for _, exact := range []bool{false, true} {
				path := "dp4a"
				if exact || ty == dtype.F16 {
					if !exact {
						continue
					}
					path = "f32"
				}
				g.SetExactMatMul(exact)
				g.MatMul(d, xs[0], w) // warm up (and grow the Q8_1 buffer outside capture)
				const iters = 50
				ms := timedGraph(t, g, func() {
					for i := range iters {
						g.MatMul(d, xs[i%2], w)
					}
				})
				bw := float64(len(data)) * iters / (ms / 1e3)
				fmt.Printf("BENCH gemv %-5s %-4s %5dx%-5d %7.1f us  %6.1f GB/s  %5.1f%% of copy\n", ty, path, s.m, s.k, ms*1e3/iters, bw/1e9, 100*bw/copyBW)
			}
			g.SetExactMatMul(false)
			g.Free(xs[0])
			g.Free(xs[1])
			g.Free(d)
		}
	}
}

// TestPrefillKernels (MAIRA_GPU_BENCH=1, on a GPU) times the prefill's
// kernels on Vicuna-7B's shapes for a 1400-row prompt: the tensor-core
// GEMM on Q8_1 activations (quantizing included) in int8 tera-operations
// a second, and the blocked causal attention of 32 heads of 128.
func TestPrefillKernels(t *testing.T) {
	if os.Getenv("MAIRA_GPU_BENCH") == "" {
		t.Skip("set MAIRA_GPU_BENCH=1 to time the kernels (scripts/gpu-check.sh does)")
	}
	_, g := backends(t)
	r := rand.New(rand.NewPCG(10, 10))
	const n = 1400
	for _, ty := range []dtype.Type{dtype.Q4_0, dtype.Q4_K, dtype.Q8_0} {
		for _, s := range []struct{ m, k int }{{4096, 4096}, {11008, 4096}, {4096, 11008}} {
			tile := encode(t, ty, randn(r, 64*s.k, 0.02), 64, s.k)
			data := make([]byte, 0, len(tile)*(s.m/64))
			for range s.m / 64 {
				data = append(data, tile...)
			}
			w := weight(t, g, "w", ty, s.m, s.k, data)
			x := tensor(t, g, n, s.k, randn(r, n*s.k, 1))
			d := tensor(t, g, n, s.m, nil)
			g.MatMul(d, x, w)
			const iters = 5
			ms := timedGraph(t, g, func() {
				for range iters {
					g.Add(x, x, x) // a write: each product quantizes its input anew
					g.MatMul(d, x, w)
				}
			})
			ops := 2 * float64(n) * float64(s.m) * float64(s.k) * iters
			fmt.Printf("BENCH gemm %-5s %dx%dx%d %7.2f ms  %6.1f TOPS\n", ty, n, s.k, s.m, ms/iters, ops/(ms/1e3)/1e12)
			g.Free(x)
			g.Free(d)
		}
	}
	const heads, hd = 32, 128
	q := tensor(t, g, n, heads*hd, randn(r, n*heads*hd, 1))
	k := tensor(t, g, n, heads*hd, randn(r, n*heads*hd, 1))
	v := tensor(t, g, n, heads*hd, randn(r, n*heads*hd, 1))
	d := tensor(t, g, n, heads*hd, nil)
	a := runtime.Attn{Heads: heads, KVHeads: heads, Causal: true}
	defer g.SetTensorAttention(true)
	for _, tensorCores := range []bool{true, false} {
		g.SetTensorAttention(tensorCores)
		g.Attention(d, q, k, v, a)
		ms := timedGraph(t, g, func() { g.Attention(d, q, k, v, a) })
		flops := 4 * float64(n) * float64(n+1) / 2 * hd * heads // q·k and p·v over the causal half
		kernel := "k_fattn (float32)"
		if tensorCores {
			kernel = "k_tattn (tensor cores)"
		}
		fmt.Printf("BENCH attention %s causal %d rows %dx%d %7.2f ms  %6.1f TFLOPS (a layer; 32 layers %.0f ms)\n", kernel, n, heads, hd, ms, flops/(ms/1e3)/1e12, 32*ms)
	}
}

// timedGraph captures what f queues as a CUDA graph and times one launch
// with CUDA events: the kernels' time, not the host's launching.
func timedGraph(t *testing.T, g *cuda.Backend, f func()) float64 {
	t.Helper()
	c := g.Context()
	if err := g.Sync(); err != nil {
		t.Fatal(err)
	}
	graph, err := c.Capture(func() error { f(); return nil })
	if err != nil {
		t.Fatal(err)
	}
	defer graph.Destroy()
	graph.Launch() // warm up
	ms := timed(t, c, func() {
		if err := graph.Launch(); err != nil {
			t.Fatal(err)
		}
	})
	if err := g.Sync(); err != nil {
		t.Fatal(err)
	}
	return ms
}

// copyBandwidth times device-to-device copies of 256 MiB (read + write
// bytes per second).
func copyBandwidth(t *testing.T, c *cuda.Context) float64 {
	const n = 256 << 20
	src, err := c.Alloc(n)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Free(src)
	dst, err := c.Alloc(n)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Free(dst)
	c.CopyDevice(dst, src, n)
	const iters = 20
	ms := timed(t, c, func() {
		for range iters {
			if err := c.CopyDevice(dst, src, n); err != nil {
				t.Fatal(err)
			}
		}
	})
	return 2 * n * iters / (ms / 1e3)
}

func timed(t *testing.T, c *cuda.Context, f func()) float64 {
	t.Helper()
	start, err := c.NewEvent()
	if err != nil {
		t.Fatal(err)
	}
	end, _ := c.NewEvent()
	defer c.DestroyEvent(start)
	defer c.DestroyEvent(end)
	c.Record(start)
	f()
	c.Record(end)
	ms, err := c.Elapsed(start, end)
	if err != nil {
		t.Fatal(err)
	}
	return ms
}

var _ runtime.Backend = (*cuda.Backend)(nil)
