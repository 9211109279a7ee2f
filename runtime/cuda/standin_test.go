package cuda

import (
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"unsafe"

	kc "maira/kernels/cuda"
	"maira/models/maira"
	"maira/quant/convert"
	"maira/quant/dtype"
	"maira/quant/testmodel"
	"maira/runtime"
)

// standIn is a CUDA driver in Go for the host-side logic that needs no
// GPU to check: contexts, modules, memory and copies (host bytes), stream
// capture, graphs and their updates. Kernels do not run; launches are
// logged, and k_pick writes the next of a scripted list of tokens to its
// output, so a generation through the backend has tokens to read back.
// Copies or memsets while a capture is open fail (the real driver would
// capture device-to-device ones; the decode step must not make any).
type standIn struct {
	mu        sync.Mutex
	next      uintptr
	mem       map[uintptr][]byte
	funcs     map[uintptr]string
	capturing bool
	cur       []launchRec
	graphs    map[uintptr][]launchRec
	execs     map[uintptr][]launchRec
	handles   uintptr

	tokens []int32 // what k_pick writes, in turn
	picks  int

	ran                           []string // kernels in the order they "ran"
	graphLaunches, instantiations int
	updates, refusedUpdates       int
	failEndCapture                int // fail this many EndCaptures

	exec *kernelSource // when set, launches run the kernels' source on the host
}

type launchRec struct {
	name  string
	out   uintptr  // the first argument (k_pick's output)
	grid  [3]int32 // grid x, grid y, block (for exec)
	slots []uint64 // the arguments, as packed (for exec)
}

func newStandIn(tokens ...int32) *standIn {
	return &standIn{next: 1 << 20, mem: map[uintptr][]byte{}, funcs: map[uintptr]string{}, graphs: map[uintptr][]launchRec{},
		execs: map[uintptr][]launchRec{}, handles: 100, tokens: tokens}
}

// at returns the n bytes of device memory at p.
func (f *standIn) at(p uintptr, n uint64) []byte {
	if f.exec != nil {
		return f.exec.mem[p-f.exec.base : p-f.exec.base+uintptr(n)]
	}
	for base, b := range f.mem {
		if p >= base && p+uintptr(n) <= base+uintptr(len(b)) {
			return b[p-base : p-base+uintptr(n)]
		}
	}
	panic(fmt.Sprintf("stand-in: %d bytes at %#x: not allocated", n, p))
}

func (f *standIn) handle() uintptr { f.handles++; return f.handles }

// run "executes" a launch (with exec, really).
func (f *standIn) run(l launchRec) {
	f.ran = append(f.ran, l.name)
	if f.exec != nil {
		f.exec.launch(l)
		return
	}
	if l.name == "k_pick" {
		out := f.at(l.out, 12)
		id := f.tokens[f.picks%len(f.tokens)]
		f.picks++
		*(*int32)(unsafe.Pointer(&out[0])) = id
		*(*float32)(unsafe.Pointer(&out[4])) = 0.5
		*(*int32)(unsafe.Pointer(&out[8])) = 0
	}
}

const errCaptureInvalidated = 901

func (f *standIn) driver() *driver {
	ok := func() result { return 0 }
	lock := func() func() { f.mu.Lock(); return f.mu.Unlock }
	copying := func() result {
		if f.capturing {
			return errCaptureInvalidated
		}
		return 0
	}
	return &driver{
		cuInit:             func(uint32) result { return ok() },
		cuDriverGetVersion: func(v *int32) result { *v = 12040; return 0 },
		cuDeviceGetCount:   func(n *int32) result { *n = 1; return 0 },
		cuDeviceGet:        func(d *int32, o int32) result { *d = o; return 0 },
		cuDeviceGetName: func(name *byte, n int32, _ int32) result {
			copy(unsafe.Slice(name, n), "Stand-in GPU\x00")
			return 0
		},
		cuDeviceGetAttribute: func(v *int32, a int32, _ int32) result {
			switch a {
			case attrComputeMajor:
				*v = 8
			case attrComputeMinor:
				*v = 7
			case attrMultiprocessors:
				*v = 8
			default:
				*v = 0
			}
			return 0
		},
		cuDeviceTotalMem:          func(b *uint64, _ int32) result { *b = 8 << 30; return 0 },
		cuDevicePrimaryCtxRetain:  func(c *uintptr, _ int32) result { *c = 1; return 0 },
		cuDevicePrimaryCtxRelease: func(int32) result { return 0 },
		cuCtxSetCurrent:           func(uintptr) result { return 0 },
		cuMemGetInfo:              func(free, total *uint64) result { *free, *total = 7<<30, 8<<30; return 0 },
		cuMemAlloc: func(p *uintptr, n uint64) result {
			defer lock()()
			if f.exec != nil {
				if f.next+uintptr(n) > uintptr(len(f.exec.mem)) {
					return 2 // CUDA_ERROR_OUT_OF_MEMORY
				}
				*p = f.exec.base + f.next
				f.next += (uintptr(n) + 255) &^ 255
				return 0
			}
			*p = f.next
			f.mem[f.next] = make([]byte, n)
			f.next += (uintptr(n) + 255) &^ 255
			return 0
		},
		cuMemFree: func(p uintptr) result {
			defer lock()()
			delete(f.mem, p)
			return 0
		},
		cuMemsetD8Async: func(p uintptr, v uint8, n uint64, _ uintptr) result {
			defer lock()()
			if r := copying(); r != 0 {
				return r
			}
			b := f.at(p, n)
			for i := range b {
				b[i] = v
			}
			return 0
		},
		cuMemcpyHtoDAsync: func(dst uintptr, src unsafe.Pointer, n uint64, _ uintptr) result {
			defer lock()()
			if r := copying(); r != 0 {
				return r
			}
			copy(f.at(dst, n), unsafe.Slice((*byte)(src), n))
			return 0
		},
		cuMemcpyDtoHAsync: func(dst unsafe.Pointer, src uintptr, n uint64, _ uintptr) result {
			defer lock()()
			if r := copying(); r != 0 {
				return r
			}
			copy(unsafe.Slice((*byte)(dst), n), f.at(src, n))
			return 0
		},
		cuMemcpyDtoDAsync: func(dst, src uintptr, n uint64, _ uintptr) result {
			defer lock()()
			if r := copying(); r != 0 {
				return r
			}
			copy(f.at(dst, n), f.at(src, n))
			return 0
		},
		cuStreamCreate:      func(s *uintptr, _ uint32) result { *s = 7; return 0 },
		cuStreamDestroy:     func(uintptr) result { return 0 },
		cuStreamSynchronize: func(uintptr) result { return 0 },
		cuModuleLoadDataEx: func(m *uintptr, _ unsafe.Pointer, _ uint32, _ *int32, _ *uintptr) result {
			*m = 3
			return 0
		},
		cuModuleUnload: func(uintptr) result { return 0 },
		cuModuleGetFunction: func(fn *uintptr, _ uintptr, name *byte) result {
			defer lock()()
			*fn = f.handle()
			var b []byte
			for p := unsafe.Pointer(name); *(*byte)(p) != 0; p = unsafe.Add(p, 1) {
				b = append(b, *(*byte)(p))
			}
			f.funcs[*fn] = string(b)
			return 0
		},
		cuFuncSetAttribute: func(uintptr, int32, int32) result { return 0 },
		cuLaunchKernel: func(fn uintptr, gx, gy, _, bx, _, _, _ uint32, _ uintptr, params unsafe.Pointer, _ unsafe.Pointer) result {
			defer lock()()
			l := launchRec{name: f.funcs[fn], out: uintptr(**(**uint64)(params)), grid: [3]int32{int32(gx), int32(gy), int32(bx)}}
			if f.exec != nil {
				ptrs := unsafe.Slice((*unsafe.Pointer)(params), f.exec.nargs[l.name])
				for _, p := range ptrs {
					l.slots = append(l.slots, *(*uint64)(p))
				}
			}
			if f.capturing {
				f.cur = append(f.cur, l)
			} else {
				f.run(l)
			}
			return 0
		},
		cuStreamBeginCapture: func(uintptr, uint32) result {
			defer lock()()
			f.capturing, f.cur = true, nil
			return 0
		},
		cuStreamEndCapture: func(_ uintptr, g *uintptr) result {
			defer lock()()
			f.capturing = false
			if f.failEndCapture > 0 {
				f.failEndCapture--
				return errCaptureInvalidated
			}
			*g = f.handle()
			f.graphs[*g] = f.cur
			return 0
		},
		cuGraphInstantiateWithFlags: func(e *uintptr, g uintptr, _ uint64) result {
			defer lock()()
			*e = f.handle()
			f.execs[*e] = f.graphs[g]
			f.instantiations++
			return 0
		},
		cuGraphExecUpdateV2: func(e, g uintptr, _ *graphUpdateInfo) result {
			defer lock()()
			old, nw := f.execs[e], f.graphs[g]
			if len(old) != len(nw) {
				f.refusedUpdates++
				return 910 // CUDA_ERROR_GRAPH_EXEC_UPDATE_FAILURE
			}
			for i := range old {
				if old[i].name != nw[i].name {
					f.refusedUpdates++
					return 910
				}
			}
			f.execs[e] = nw
			f.updates++
			return 0
		},
		cuGraphLaunch: func(e, _ uintptr) result {
			defer lock()()
			f.graphLaunches++
			for _, l := range f.execs[e] {
				f.run(l)
			}
			return 0
		},
		cuGraphExecDestroy: func(e uintptr) result { defer lock()(); delete(f.execs, e); return 0 },
		cuGraphDestroy:     func(g uintptr) result { defer lock()(); delete(f.graphs, g); return 0 },
	}
}

// standInBackend opens the Backend on the stand-in driver, every launch's
// arguments checked against the kernel's parameters in the PTX.
func standInBackend(t *testing.T, f *standIn) *Backend {
	t.Helper()
	c, err := openDriver(f.driver(), 0)
	if err != nil {
		t.Fatal(err)
	}
	b, err := newBackend(c)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	params := ptxParams(t)
	b.argCheck = func(kernel string, args []any) {
		if err := checkArgs(params[kernel], args); err != nil {
			t.Errorf("launch of %s: %v", kernel, err)
		}
	}
	return b
}

// ptxParams reads each entry's parameter types (.u64, .u32, .f32) from
// the embedded PTX.
func ptxParams(t *testing.T) map[string][]string {
	entry := regexp.MustCompile(`\.entry (\w+)\(([^)]*)\)`)
	param := regexp.MustCompile(`\.param \.(\w+) `)
	out := map[string][]string{}
	for _, m := range entry.FindAllStringSubmatch(kc.PTX, -1) {
		var ts []string
		for _, p := range param.FindAllStringSubmatch(m[2], -1) {
			ts = append(ts, p[1])
		}
		out[m[1]] = ts
	}
	if len(out) != len(kc.Kernels) {
		t.Fatalf("the PTX has %d entries, Kernels lists %d", len(out), len(kc.Kernels))
	}
	return out
}

// checkArgs holds a launch's Go arguments to the kernel's parameters: as
// many, pointers and 8-byte integers for 64-bit ones, Go ints and int32s
// for 32-bit integers, float32 for .f32 (packParams packs them so).
func checkArgs(want []string, args []any) error {
	if len(args) != len(want) {
		return fmt.Errorf("%d arguments, the kernel takes %d (%v)", len(args), len(want), want)
	}
	for i, a := range args {
		var got string
		switch a.(type) {
		case DevicePtr, uintptr, int64, uint64:
			got = "64"
		case int, int32, uint32:
			got = "32"
		case float32:
			got = "f32"
		default:
			return fmt.Errorf("argument %d: %T", i, a)
		}
		ok := map[string]bool{"64": want[i] == "u64" || want[i] == "b64" || want[i] == "s64",
			"32": want[i] == "u32" || want[i] == "b32" || want[i] == "s32", "f32": want[i] == "f32"}[got]
		if !ok {
			return fmt.Errorf("argument %d is a %T, the kernel's parameter .%s", i, a, want[i])
		}
	}
	return nil
}

// TestDecodeStepGraphs drives a generation of the tiny model through the
// backend on the stand-in driver and checks the decode-step bookkeeping:
// the backend's first step runs directly; each step records the next
// ahead into the other of two graphs (two instantiations, updates after);
// every later step is one graph launch, replaying exactly the kernels the
// direct step ran; the tokens are the ones k_pick left on the "device";
// and the last step, with no room after it, records nothing ahead.
func TestDecodeStepGraphs(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tiny.gguf")
	p, _ := testmodel.Lookup("tiny")
	rec, _ := convert.ParseRecipe("q8_0", "", "")
	if err := testmodel.WriteGGUF(path, p, rec, testmodel.Options{Seed: 1}); err != nil {
		t.Fatal(err)
	}
	f := newStandIn(11, 12, 13, 14, 15, 16, 17, 18)
	b := standInBackend(t, f)
	m, err := maira.Load(path, b)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()

	generate := func(n int) runtime.Result {
		t.Helper()
		res, err := greedy(m, []int32{1, 450, 2143, 310}, n, dtype.F16)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}

	res := generate(6) // a prefill pick and 5 steps
	if got := fmt.Sprint(res.Tokens); got != "[11 12 13 14 15 16]" {
		t.Fatalf("tokens %s, want the stand-in's picks 11..16", got)
	}
	// step 1 direct; steps 2-5 replayed; recorded ahead: 2 (new), 3 (new), 4, 5 (updates)
	if b.GraphSteps() != 4 || f.graphLaunches != 4 || f.instantiations != 2 || f.updates != 2 || f.refusedUpdates != 0 {
		t.Errorf("graph steps %d, launches %d, instantiations %d, updates %d (refused %d); want 4, 4, 2, 2, 0",
			b.GraphSteps(), f.graphLaunches, f.instantiations, f.updates, f.refusedUpdates)
	}
	// Each step's kernels: the direct step's, replayed identically.
	var steps [][]string
	for i, k := range f.ran {
		if k == "k_pick" {
			start := 0
			for j := i - 1; j >= 0; j-- {
				if f.ran[j] == "k_pick" {
					start = j + 1
					break
				}
			}
			steps = append(steps, f.ran[start:i+1])
		}
	}
	if len(steps) != 6 {
		t.Fatalf("%d picks, want 6", len(steps))
	}
	direct := strings.Join(steps[1], " ")
	// A layer is 19 launches: the norms quantize their outputs for the
	// products after them, so only O's and down's inputs take a
	// k_quantize_q8_1; a step adds the gather, the head's norm and
	// product, and the pick.
	layers := len(m.LLM.Layers)
	if !strings.HasPrefix(direct, "k_gather_") || len(steps[1]) != 19*layers+4 || strings.Count(direct, "k_quantize_q8_1") != 2*layers {
		t.Fatalf("step 1 ran %d kernels, want %d with %d quantizations: %s", len(steps[1]), 19*layers+4, 2*layers, direct)
	}
	for i := 2; i < 6; i++ {
		if got := strings.Join(steps[i], " "); got != direct {
			t.Fatalf("step %d replayed %d kernels, the direct step ran %d:\n%s\n%s", i, len(steps[i]), len(steps[1]), got, direct)
		}
	}
	if b.ready != nil {
		t.Error("a step was recorded ahead with no room for it")
	}

	// Another session: the backend's steps are all graphs now, and freeing
	// memory (the first session's Close) dropped nothing it needs.
	f.ran, f.graphLaunches = nil, 0
	res = generate(4)
	if got := fmt.Sprint(res.Tokens); got != "[17 18 11 12]" || f.graphLaunches != 3 {
		t.Errorf("second session: tokens %s, %d graph launches; want [17 18 11 12], 3", got, f.graphLaunches)
	}

	// Failed recordings: the step runs directly; after three, graphs are
	// off and Describe says so.
	f.ran, f.graphLaunches, f.failEndCapture = nil, 0, 100
	res = generate(5)
	if len(res.Tokens) != 5 || f.graphLaunches != 0 {
		t.Errorf("with every capture failing: %d tokens, %d graph launches", len(res.Tokens), f.graphLaunches)
	}
	if !strings.Contains(b.Describe(), "without CUDA graphs") {
		t.Errorf("Describe after failed recordings: %s", b.Describe())
	}
	if f.failEndCapture != 100-maxGraphFails {
		t.Errorf("%d captures tried, want %d and then none", 100-f.failEndCapture, maxGraphFails)
	}
}

// TestRecordingRefusesAllocations: inside a recording, allocating or
// copying from the host fails the recording, never reaching the driver.
func TestRecordingRefusesAllocations(t *testing.T) {
	f := newStandIn(1)
	b := standInBackend(t, f)
	b.recording = true
	if _, err := b.alloc(64); err != errRecording {
		t.Errorf("alloc while recording: %v", err)
	}
	if _, err := b.rope(ropeKey{theta: 1e4, factor: 1, hd: 8}, 10); err != errRecording {
		t.Errorf("a RoPE table while recording: %v", err)
	}
	b.recording = false
	x, _ := b.Alloc(1, 32)
	w, err := b.Weight("e", dtype.F32, 4, 32, make([]byte, 4*32*4))
	if err != nil {
		t.Fatal(err)
	}
	b.recording = true
	b.Gather(x, w, []int32{1})
	b.recording = false
	if err := b.Sync(); err != errRecording {
		t.Errorf("Gather of host ids while recording: %v", err)
	}
}

// TestLaunchesMatchPTX runs the small model (every weight type applies;
// heads of 64, so the Q8 cache and k_fattn too) through the backend on the
// stand-in driver, for the shipped mixed recipe (Q8_0, Q4_K, Q6_K) and
// F16 and F32 files: the image encoder and projector, then generation with Q8, F16
// and F32 caches, and once with SetExactMatMul. Every launch's arguments
// are held to the kernel's parameters in the PTX (count and types), and
// no op's geometry is refused.
func TestLaunchesMatchPTX(t *testing.T) {
	if testing.Short() {
		t.Skip("writes three small models")
	}
	p, _ := testmodel.Lookup("small")
	for _, name := range []string{"mixed", "f16", "f32"} {
		rec := convert.DefaultRecipe()
		if name != "mixed" {
			rec, _ = convert.ParseRecipe(name, "", "")
		}
		path := filepath.Join(t.TempDir(), name+".gguf")
		if err := testmodel.WriteGGUF(path, p, rec, testmodel.Options{Seed: 2}); err != nil {
			t.Fatal(err)
		}
		f := newStandIn(5, 6, 7)
		b := standInBackend(t, f)
		m, err := maira.Load(path, b)
		if err != nil {
			t.Fatal(err)
		}
		v := m.Header.Vision
		feats, emb, err := m.EncodeImage(make([]float32, v.Channels*v.ImageSize*v.ImageSize), v.ImageSize, v.ImageSize)
		if err != nil {
			t.Fatalf("%s: encode: %v", name, err)
		}
		b.Free(feats)
		b.Free(emb)
		for i, cache := range []dtype.Type{dtype.Q8_0, dtype.F16, dtype.F32} {
			b.SetExactMatMul(i == 2)
			f.picks = 0
			ids := make([]int32, 70) // a prefill of several k_fattn blocks
			for j := range ids {
				ids[j] = int32(100 + j)
			}
			res, err := greedy(m, ids, 4, cache)
			if err != nil || fmt.Sprint(res.Tokens) != "[5 6 7 5]" {
				t.Errorf("%s, %s cache: tokens %v, %v", name, cache, res.Tokens, err)
			}
		}
		if err := b.Sync(); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		m.Close()
		kinds := map[string]bool{}
		for _, k := range f.ran {
			kinds[k] = true
		}
		t.Logf("%s: %d launches of %d kernels", name, len(f.ran), len(kinds))
	}
}

// greedy generates n tokens after the prompt ids with m's decoder in a
// session of its own (cache of type cache), as the commands do.
func greedy(m *maira.Model, ids []int32, n int, cache dtype.Type) (runtime.Result, error) {
	s, err := m.LLM.NewSession(len(ids)+n-1, cache)
	if err != nil {
		return runtime.Result{}, err
	}
	defer s.Close()
	x, err := s.Embed(ids)
	if err != nil {
		return runtime.Result{}, err
	}
	defer m.LLM.Backend().Free(x)
	return runtime.Generate(s, x, runtime.GenerateOptions{MaxTokens: n, EOS: -1, RepeatGuard: -1}, nil)
}

// kernelSource runs launches on the host: kernels.cu compiled for the CPU
// (kernels/cuda/testdata/exec_host.cc, simulated threads as in
// kernels/cuda's tests) in a process that maps the stand-in's "device
// memory", a shared file, at the same address, so the pointers among the
// arguments hold there too.
type kernelSource struct {
	mem   []byte
	base  uintptr
	nargs map[string]int
	cmd   *exec.Cmd
	in    io.WriteCloser
	out   io.Reader
}

// newKernelSource compiles the harness and starts it over size bytes of
// shared memory; it skips the test where clang-16 or the mapping is not
// to be had.
func newKernelSource(t *testing.T, size int) *kernelSource {
	t.Helper()
	clang, err := exec.LookPath("clang-16")
	if err != nil {
		t.Skip("clang-16 not installed: cannot compile the kernels for the host")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "exec_host")
	src := filepath.Join("..", "..", "kernels", "cuda", "testdata", "exec_host.cc")
	if out, err := exec.Command(clang, "-x", "c++", "-std=c++20", "-O1", "-ffp-contract=off", "-o", bin, src, "-lm", "-lstdc++", "-pthread").CombinedOutput(); err != nil {
		t.Fatalf("compiling %s: %v\n%s", src, err, out)
	}
	file, err := os.Create(filepath.Join(dir, "device"))
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	if err := file.Truncate(int64(size)); err != nil {
		t.Fatal(err)
	}
	mem, err := syscall.Mmap(int(file.Fd()), 0, size, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED)
	if err != nil {
		t.Skipf("no shared mapping: %v", err)
	}
	t.Cleanup(func() { syscall.Munmap(mem) })
	k := &kernelSource{mem: mem, base: uintptr(unsafe.Pointer(&mem[0])), nargs: map[string]int{}}
	for name, ps := range ptxParams(t) {
		k.nargs[name] = len(ps)
	}
	k.cmd = exec.Command(bin, file.Name(), fmt.Sprintf("%#x", k.base), fmt.Sprint(size))
	k.cmd.Stderr = os.Stderr
	if k.in, err = k.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	out, err := k.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	k.out = out
	if err := k.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { k.in.Close(); k.cmd.Wait() })
	return k
}

// launch runs one kernel to completion.
func (k *kernelSource) launch(l launchRec) {
	var b []byte
	b = binary.LittleEndian.AppendUint32(b, uint32(len(l.name)))
	b = append(b, l.name...)
	for _, v := range []int32{l.grid[0], l.grid[1], l.grid[2], int32(len(l.slots))} {
		b = binary.LittleEndian.AppendUint32(b, uint32(v))
	}
	for _, v := range l.slots {
		b = binary.LittleEndian.AppendUint64(b, v)
	}
	var ack [1]byte
	if _, err := k.in.Write(b); err != nil {
		panic(fmt.Sprintf("kernel source: %s: %v", l.name, err))
	}
	if _, err := io.ReadFull(k.out, ack[:]); err != nil || ack[0] != 'k' {
		panic(fmt.Sprintf("kernel source: %s: %q, %v (the harness died or does not know it; a mapping clash skips nothing here)", l.name, ack[:], err))
	}
}

// TestModelOnKernelSource runs the tiny model through the CUDA backend on
// the stand-in driver with every launch executing the kernels' own
// source on the host: the Go side's arguments (views, strides, cache
// offsets, kernel choice) meet the kernels' code for real. F32 weights,
// F32 cache, exact products: the image embedding and the prompt's logits
// match the CPU's (cosine >= 0.9999), and the greedy tokens, picked by
// k_pick with the decode steps replayed from recorded graphs, are the
// CPU's. A Q8_0 file (the tiny model's heads of 16 do not split into
// 32s: an F16 cache) checks the 8-bit products, and the small model in
// the shipped recipe (heads of 64) the tensor cores' GEMM and attention
// and the Q8 cache: cosines >= 0.999 against the CPU's 8-bit path.
//
// It takes over a minute (the vocabulary's 32207-row head on simulated
// threads), so it runs where MAIRA_KERNEL_SOURCE=1: make test sets it for
// one of its runs of this package.
func TestModelOnKernelSource(t *testing.T) {
	if os.Getenv("MAIRA_KERNEL_SOURCE") == "" {
		t.Skip("set MAIRA_KERNEL_SOURCE=1 to run the tiny and small models on the kernels' source (a minute; make test does once)")
	}
	cpu, err := runtime.NewCPU(2)
	if err != nil {
		t.Fatal(err)
	}
	defer cpu.Close()
	for _, ty := range []string{"f32", "q8_0", "small"} {
		p, _ := testmodel.Lookup("tiny")
		rec, _ := convert.ParseRecipe(ty, "", "")
		if ty == "small" {
			// the shipped recipe on heads of 64: Q8_0 encoder and Q4_K
			// decoder through k_gemmq, k_tattn64 for the encoder's 1370
			// rows and the prompt, the Q8 cache, Q6_K embeddings and head
			p, _ = testmodel.Lookup("small")
			rec = convert.DefaultRecipe()
		}
		path := filepath.Join(t.TempDir(), ty+".gguf")
		if err := testmodel.WriteGGUF(path, p, rec, testmodel.Options{Seed: 3}); err != nil {
			t.Fatal(err)
		}
		f := newStandIn(0)
		f.exec = newKernelSource(t, 256<<20)
		g := standInBackend(t, f)
		g.SetExactMatMul(ty == "f32")
		cache := map[string]dtype.Type{"f32": dtype.F32, "q8_0": dtype.F16, "small": dtype.Q8_0}[ty]
		wantImg, wantLogits, wantTok := runTiny(t, path, cpu, cache)
		gotImg, gotLogits, gotTok := runTiny(t, path, g, cache)
		ci, cl := Cosine(gotImg, wantImg), Cosine(gotLogits, wantLogits)
		t.Logf("%s: image embedding cosine %.7f, logits cosine %.7f, tokens %v (cpu %v), %d launches, %d as graph steps",
			ty, ci, cl, gotTok, wantTok, len(f.ran), g.GraphSteps())
		min := 0.9999
		if ty != "f32" {
			min = 0.999
		}
		if ci < min || cl < min {
			t.Errorf("%s: image embedding cosine %.7f, logits cosine %.7f; want >= %g", ty, ci, cl, min)
		}
		if ty == "f32" && fmt.Sprint(gotTok) != fmt.Sprint(wantTok) {
			t.Errorf("%s: tokens %v, the CPU's %v", ty, gotTok, wantTok)
		}
		if g.GraphSteps() == 0 {
			t.Errorf("%s: no decode step ran as a graph", ty)
		}
	}
}

// runTiny encodes a fixed image and generates 5 tokens after a short
// prompt on b, returning the image embedding, the prompt's logits and
// the tokens.
func runTiny(t *testing.T, path string, b runtime.Backend, cache dtype.Type) ([]float32, []float32, []int32) {
	m, err := maira.Load(path, b)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	img := EncodeFixedImage(t, m)
	ids := []int32{1, 450, 2143, 310, 278, 3889}
	s, err := m.LLM.NewSession(len(ids), cache)
	if err != nil {
		t.Fatal(err)
	}
	x, err := s.Embed(ids)
	if err != nil {
		t.Fatal(err)
	}
	logits, err := s.Prefill(x)
	if err != nil {
		t.Fatal(err)
	}
	b.Free(x)
	s.Close()
	res, err := greedy(m, ids, 5, cache)
	if err != nil {
		t.Fatal(err)
	}
	return img, logits, res.Tokens
}

// EncodeFixedImage runs m's image encoder and projector over a fixed
// image and returns the projected embedding (the GPU tests' too: this
// file's exported helpers are the external test package's).
func EncodeFixedImage(t *testing.T, m *maira.Model) []float32 {
	t.Helper()
	b := m.LLM.Backend()
	v := m.Header.Vision
	pix := make([]float32, v.Channels*v.ImageSize*v.ImageSize)
	for i := range pix {
		pix[i] = float32(math.Sin(float64(i)*0.013)) * 1.5
	}
	feats, emb, err := m.EncodeImage(pix, v.ImageSize, v.ImageSize)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Free(feats)
	defer b.Free(emb)
	img := make([]float32, emb.Rows()*emb.Cols())
	if err := b.Read(emb, img); err != nil {
		t.Fatal(err)
	}
	return img
}

// Cosine is the cosine similarity of a and b, in float64.
func Cosine(a, b []float32) float64 {
	var d, aa, bb float64
	for i := range a {
		d += float64(a[i]) * float64(b[i])
		aa += float64(a[i]) * float64(a[i])
		bb += float64(b[i]) * float64(b[i])
	}
	return d / math.Sqrt(aa*bb)
}
