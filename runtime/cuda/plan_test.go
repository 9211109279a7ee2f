package cuda

import (
	"errors"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"maira/models/llama"
	"maira/quant/convert"
	"maira/quant/modelfile"
	"maira/quant/testmodel"
	"maira/runtime"
)

// vicuna is MAIRA-2's decoder: Vicuna-7B with 1.5x linear RoPE scaling.
var vicuna = &modelfile.Text{ContextLength: 4096, EmbeddingLength: 4096, BlockCount: 32, FeedForwardLength: 11008,
	HeadCount: 32, HeadCountKV: 32, VocabSize: 32207, RopeScalingType: "linear", RopeScalingFactor: 1.5}

// raddino is its image encoder (ViT-B/14 at 518).
var raddino = &modelfile.Vision{ImageSize: 518, PatchSize: 14, Channels: 3, EmbeddingLength: 768, BlockCount: 12,
	HeadCount: 12, FeedForwardLength: 3072}

const gb = 1 << 30

func TestKVAndActivations(t *testing.T) {
	// 2 (k, v) x 32 layers x 6144 positions x 4096 values in Q8 (a byte
	// each and a float32 per 32: 1.125 bytes).
	if got, want := KVBytes(vicuna, 6144), int64(2*32*6144*4096*9/8); got != want {
		t.Errorf("KVBytes = %d, want %d", got, want)
	}
	// The plan's cache is the commands' (models/llama.DefaultCache).
	for _, hd := range []int{128, 64, 80} {
		c := &modelfile.Text{EmbeddingLength: 32 * hd, HeadCount: 32, HeadCountKV: 32}
		if KVType(c) != llama.DefaultCache(c) {
			t.Errorf("heads of %d: the plan assumes a %s cache, the commands use %s", hd, KVType(c), llama.DefaultCache(c))
		}
	}
	odd := &modelfile.Text{EmbeddingLength: 32 * 80, HeadCount: 32, HeadCountKV: 8, BlockCount: 2}
	if got, want := KVBytes(odd, 10), int64(2*2*10*8*80*2); got != want {
		t.Errorf("KVBytes of an F16 cache = %d, want %d", got, want)
	}
	want := 4 * (int64(2048)*(6*4096+3*11008) + 32207 + int64(37*37+1)*(6*768+3*3072))
	if got := Activations(vicuna, raddino, 2048); got != want {
		t.Errorf("Activations = %d, want %d", got, want)
	}
	if Activations(vicuna, nil, 1) >= Activations(vicuna, raddino, 1) {
		t.Error("the image encoder adds nothing to the activations")
	}
}

func TestPlanFits(t *testing.T) {
	const q4 = int64(39 * gb / 10) // MAIRA-2 in Q4_0
	for _, c := range []struct {
		name        string
		positions   int
		free, total uint64
		shared      bool
		fits        bool
	}{
		{"h100", 0, 79 * gb, 80 * gb, false, true},
		{"orin agx 64", 0, 58 * gb, 64 * gb, true, true},
		{"orin nx 16", 0, 13 * gb, 16 * gb, true, true},
		{"orin nano 8, full context", 0, 6 * gb, 8 * gb, true, false},
		{"orin nano 8, 2048 positions", 2048, 6 * gb, 8 * gb, true, true},
		{"busy gpu", 0, 4 * gb, 24 * gb, false, false},
	} {
		p := NewPlan(q4, vicuna, raddino, c.positions, c.free, c.total, c.shared)
		if p.Fits() != c.fits || (p.Err() == nil) != c.fits {
			t.Errorf("%s: Fits %v (%s), want %v", c.name, p.Fits(), p, c.fits)
		}
		if c.positions == 0 && p.Positions != 6144 {
			t.Errorf("%s: %d positions, want the model's 6144", c.name, p.Positions)
		}
		if !c.fits && !strings.Contains(p.Err().Error(), "too little GPU memory") {
			t.Errorf("%s: error %q", c.name, p.Err())
		}
		if c.shared && !strings.Contains(p.String(), "mapped once") {
			t.Errorf("%s: %s does not say the weights are mapped once", c.name, p)
		}
	}
	// The reserve: 5% of the memory, at least 512 MiB.
	if r := (Plan{Total: 8 * gb}).Reserve(); r != 512<<20 {
		t.Errorf("reserve of 8 GiB = %d", r)
	}
	if r := (Plan{Total: 80 * gb}).Reserve(); r != 4*gb {
		t.Errorf("reserve of 80 GiB = %d", r)
	}
}

func TestPlanModelFile(t *testing.T) {
	p, err := testmodel.Lookup("tiny")
	if err != nil {
		t.Fatal(err)
	}
	r, err := convert.ParseRecipe("f16", "", "")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "tiny.gguf")
	if err := testmodel.WriteGGUF(path, p, r, testmodel.Options{Seed: 1, Workers: 1}); err != nil {
		t.Fatal(err)
	}
	plan, err := PlanModel(path, 64, Device{FreeMem: 8 * gb, TotalMem: 8 * gb})
	if err != nil {
		t.Fatal(err)
	}
	if plan.Weights <= 0 || plan.KVCache <= 0 || plan.Positions != 64 || !plan.Fits() {
		t.Errorf("tiny model: %+v", plan)
	}
	if plan, _ := PlanModel(path, 64, Device{FreeMem: 1 << 20, TotalMem: 1 << 20}); plan.Fits() {
		t.Error("the tiny model fits in 1 MiB with the reserve")
	}
	if _, err := PlanModel(filepath.Join(t.TempDir(), "missing.gguf"), 0, Device{}); err == nil {
		t.Error("planning a missing file succeeded")
	}
}

func TestGaps(t *testing.T) {
	for _, c := range []struct {
		have []span
		s    span
		want []span
	}{
		{nil, span{0, 10}, []span{{0, 10}}},
		{[]span{{0, 4}}, span{0, 10}, []span{{4, 10}}},
		{[]span{{0, 4}, {6, 8}}, span{2, 10}, []span{{4, 6}, {8, 10}}},
		{[]span{{0, 20}}, span{2, 10}, nil},
		{[]span{{12, 20}}, span{2, 10}, []span{{2, 10}}},
	} {
		got := gaps(c.have, c.s)
		if len(got) != len(c.want) {
			t.Errorf("gaps(%v, %v) = %v, want %v", c.have, c.s, got, c.want)
			continue
		}
		for i := range got {
			if got[i] != c.want[i] {
				t.Errorf("gaps(%v, %v) = %v, want %v", c.have, c.s, got, c.want)
			}
		}
	}
}

// TestRopeTable holds the table k_rope reads to the CPU backend: rotating
// with its cos and sin as the kernel does gives the CPU's RoPE.
func TestRopeTable(t *testing.T) {
	cpu, err := runtime.NewCPU(1)
	if err != nil {
		t.Fatal(err)
	}
	defer cpu.Close()
	for _, c := range []struct {
		heads, hd, pos0, rows int
		theta, factor         float64
	}{
		{2, 8, 0, 3, 10000, 0},
		{4, 128, 6000, 2, 10000, 1.5},
		{1, 64, 17, 5, 500000, 1},
	} {
		cols := c.heads * c.hd
		x := make([]float32, c.rows*cols)
		for i := range x {
			x[i] = float32(math.Sin(float64(i)*0.37)) * 2
		}
		tt, _ := cpu.Alloc(c.rows, cols)
		cpu.Write(tt, x)
		cpu.RoPE(tt, c.heads, c.pos0, runtime.Rope{Theta: c.theta, Factor: c.factor})
		want := make([]float32, len(x))
		cpu.Read(tt, want)

		tab := RopeTable(c.pos0+c.rows, c.hd, c.theta, c.factor)
		half := c.hd / 2
		for r := 0; r < c.rows; r++ {
			for h := 0; h < c.heads; h++ {
				for i := 0; i < half; i++ {
					cs := tab[2*((c.pos0+r)*half+i):]
					o := r*cols + h*c.hd + 2*i
					a, b := x[o], x[o+1]
					x0, x1 := a*cs[0]-b*cs[1], a*cs[1]+b*cs[0]
					if math.Abs(float64(x0-want[o])) > 1e-6 || math.Abs(float64(x1-want[o+1])) > 1e-6 {
						t.Fatalf("%+v: row %d head %d pair %d: (%g, %g), CPU (%g, %g)", c, r, h, i, x0, x1, want[o], want[o+1])
					}
				}
			}
		}
	}
}

// TestOpenFallback drives runtime.OpenWith's choice with stand-in GPUs.
func TestOpenFallback(t *testing.T) {
	defer runtime.RegisterGPU("cuda", OpenBackend)
	for _, c := range []struct {
		name    string
		gpu     runtime.GPUOpener
		backend string
		want    string // the backend's Name, or "" for an error
		note    string // in the note (auto) or the error (cuda)
	}{
		{"real, auto", OpenBackend, "auto", "", ""}, // filled below from this machine
		{"no driver, auto", fail(ErrNoDriver), "auto", "cpu", "no CUDA driver"},
		{"no driver, cuda", fail(ErrNoDriver), "cuda", "", "no CUDA driver"},
		{"no device, auto", fail(ErrNoDevice), "auto", "cpu", "no CUDA device"},
		{"too little memory, auto", fail(errors.New("too little GPU memory for the model")), "auto", "cpu", "too little GPU memory"},
		{"jit failure, auto", fail(&JITError{Err: &Error{Call: "cuModuleLoadDataEx", Code: 218}, Log: "line 1\nline 2"}), "auto", "cpu", "CUDA_ERROR_INVALID_PTX (CUresult 218): line 1 line 2"},
		{"gpu works, auto", works, "auto", "fake", ""},
		{"gpu works, cuda", works, "cuda", "fake", ""},
		{"cpu asked", fail(ErrNoDriver), "cpu", "cpu", ""},
	} {
		if c.name == "real, auto" {
			if _, err := Open(0); err == nil {
				continue // a GPU here: the stand-ins cover the rest
			}
			c.want, c.note = "cpu", "not CUDA"
		}
		runtime.RegisterGPU("cuda", c.gpu)
		b, note, err := runtime.OpenWith(runtime.OpenOptions{Name: c.backend, Threads: 1})
		if c.want == "" {
			if err == nil || !strings.Contains(err.Error(), c.note) {
				t.Errorf("%s: error %v, want one saying %q", c.name, err, c.note)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if b.Name() != c.want || !strings.Contains(note, c.note) || (c.note == "") != (note == "") || strings.Contains(note, "\n") {
			t.Errorf("%s: backend %s, note %q; want %s, note with %q", c.name, b.Name(), note, c.want, c.note)
		}
		b.Close()
	}
}

func fail(err error) runtime.GPUOpener {
	return func(runtime.OpenOptions) (runtime.Backend, error) { return nil, err }
}

// fakeGPU is a CPU backend under another name: what OpenWith returns when
// the GPU opens.
type fakeGPU struct{ *runtime.CPU }

func (fakeGPU) Name() string { return "fake" }

func works(runtime.OpenOptions) (runtime.Backend, error) {
	c, err := runtime.NewCPU(1)
	return fakeGPU{c}, err
}
