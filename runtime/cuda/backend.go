package cuda

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"strings"
	"unsafe"

	kc "maira/kernels/cuda"
	"maira/quant/dtype"
	"maira/runtime"
)

// Backend is runtime.Backend on a CUDA GPU: activations in device memory,
// the kernels of maira/kernels/cuda. Ops queue on the context's stream; a
// failed launch is kept and returned by the next Read or Sync.
//
// Weights are copied to device memory, except on a GPU that shares the
// CPU's memory (Jetson), where the mapped file's pages are registered with
// the driver and read in place: the weights exist once.
type Backend struct {
	c      *Context
	mod    *Module
	fn     map[string]*Func
	mapped bool // weights registered in place, not copied
	err    error

	allocs map[DevicePtr]int // device memory this backend owns
	regs   []*Registered
	spans  []span // host pages already registered

	ids     DevicePtr // Gather's ids (idsCap bytes)
	idsCap  int
	pick    DevicePtr // k_pick's token, margin and non-finite count (12 bytes)
	scratch DevicePtr // Write's and Read's staging for caches
	scrCap  int
	ropes   map[ropeKey]*ropeTable

	xq     DevicePtr // MatMul's input rows quantized to Q8_1 (xqCap bytes)
	xqCap  int
	xqFrom *tensor // the tensor xq holds, until anything else is queued
	exact  bool    // MatMul never quantizes its input (SetExactMatMul)
	// simtAttn keeps attention off the tensor cores (SetTensorAttention,
	// MAIRA_CUDA_ATTN=simt): k_fattn in float32 for many rows.
	simtAttn bool

	// RunStep's CUDA graphs: recording is set while a step is captured
	// (nothing may allocate or copy from the host then); the first step
	// runs directly, so buffers and tables grow outside capture.
	steps      [2]*Graph
	ready      *stepAhead // the step recorded ahead, if any
	stepped    bool
	recording  bool
	graphFails int
	graphNote  string // why steps run without graphs, once they do
	graphSteps int    // steps launched as graphs

	argCheck func(kernel string, args []any) // the tests' check of each launch against the PTX
}

var _ runtime.Backend = (*Backend)(nil)

type span struct{ start, end uintptr }

type ropeKey struct {
	theta, factor float64
	hd            int
}

// ropeTable holds cos and sin of each (position, pair) angle, computed in
// float64 on the host exactly as the CPU's RoPE computes them.
type ropeTable struct {
	p         DevicePtr
	positions int
}

// tensor is an activation (p: rows·cols float32s) or a view of a cache.
type tensor struct {
	rows, cols int
	p          DevicePtr
	kv         *kvCache
	row0       int
	owned      bool
}

func (t *tensor) Rows() int { return t.rows }
func (t *tensor) Cols() int { return t.cols }

// kvCache is head-major: head h, position p at (h·positions + p)·hd
// values of type t (F16 or F32).
type kvCache struct {
	p                    DevicePtr
	t                    dtype.Type
	positions, heads, hd int
}

// rowBytes is the bytes of one head's row at one position: hd values in
// F32 or F16, or (Q8_0) hd int8 quants and a float32 scale per 32, the
// CPU backend's Q8 cache layout.
func (k *kvCache) rowBytes() int {
	switch k.t {
	case dtype.F16:
		return 2 * k.hd
	case dtype.Q8_0:
		return k.hd + k.hd/8
	}
	return 4 * k.hd
}

// suffix names the kernels for the cache's type (k_kv_store_q8, k_attn_f16).
func (k *kvCache) suffix() string {
	switch k.t {
	case dtype.F16:
		return "f16"
	case dtype.Q8_0:
		return "q8"
	}
	return "f32"
}

type weight struct {
	name       string
	t          dtype.Type
	rows, cols int
	p          DevicePtr
	kern       string // k_mm_ / k_gather_ suffix
	// host is the registered memory a mapped weight reads in place,
	// referenced so it outlives the weight even where the caller's bytes
	// are Go memory.
	host []byte
}

func (w *weight) Name() string     { return w.name }
func (w *weight) Type() dtype.Type { return w.t }
func (w *weight) Rows() int        { return w.rows }
func (w *weight) Cols() int        { return w.cols }

// NewBackend opens device ordinal and loads the kernels. MAIRA_CUDA_WEIGHTS
// =copy forces device copies of the weights on a shared-memory GPU.
func NewBackend(ordinal int) (*Backend, error) {
	c, err := Open(ordinal)
	if err != nil {
		return nil, err
	}
	b, err := newBackend(c)
	if err != nil {
		c.Close()
		return nil, err
	}
	return b, nil
}

func newBackend(c *Context) (*Backend, error) {
	mod, err := c.LoadPTX(kc.PTX)
	if err != nil {
		return nil, err
	}
	b := &Backend{c: c, mod: mod, fn: map[string]*Func{}, allocs: map[DevicePtr]int{}, ropes: map[ropeKey]*ropeTable{}}
	for _, k := range kc.Kernels {
		f, err := mod.Func(k)
		if err != nil {
			mod.Unload()
			return nil, err
		}
		b.fn[k] = f
	}
	b.mapped = c.Device.Integrated && c.Device.CanMapHost && os.Getenv("MAIRA_CUDA_WEIGHTS") != "copy"
	b.simtAttn = os.Getenv("MAIRA_CUDA_ATTN") == "simt"
	if b.pick, err = b.alloc(16); err != nil {
		b.Close()
		return nil, err
	}
	return b, nil
}

// Context returns the backend's CUDA context.
func (b *Backend) Context() *Context { return b.c }

// Name returns "cuda".
func (b *Backend) Name() string { return "cuda" }

// Describe names the device and how the weights are held.
func (b *Backend) Describe() string {
	d := b.c.Device
	w := "weights in device memory"
	if b.mapped {
		w = "weights mapped in place (shared memory)"
	}
	desc := fmt.Sprintf("cuda: %s (%s), %.1f GiB, driver %s, %s", d.Name, d.Arch(), float64(d.TotalMem)/(1<<30), d.DriverString(), w)
	if b.graphNote != "" {
		desc += "; " + b.graphNote
	}
	return desc
}

// Close frees the backend's memory and releases the context.
func (b *Backend) Close() error {
	if b.c == nil {
		return nil
	}
	err := b.c.Sync()
	for p := range b.allocs {
		b.c.Free(p)
	}
	for _, r := range b.regs {
		b.c.Unregister(r)
	}
	b.ready = nil
	for i, g := range b.steps {
		if g != nil {
			g.Destroy()
			b.steps[i] = nil
		}
	}
	if b.mod != nil {
		b.mod.Unload()
	}
	if e := b.c.Close(); err == nil {
		err = e
	}
	b.c = nil
	return err
}

func (b *Backend) alloc(n int) (DevicePtr, error) {
	if b.recording {
		return 0, errRecording
	}
	p, err := b.c.Alloc(n)
	if err != nil {
		return 0, err
	}
	b.allocs[p] = n
	return p, nil
}

// fail keeps the first error of the queued work.
func (b *Backend) fail(err error) {
	if err != nil && b.err == nil {
		b.err = err
	}
}

// launch queues kernel name with geometry l. Any kernel may write the
// tensor MatMul's quantized input came from, so that is forgotten.
func (b *Backend) launch(name string, l kc.Launch, args ...any) {
	b.xqFrom = nil
	b.launchKeep(name, l, args...)
}

// launchKeep is launch for the quantized products, which leave MatMul's
// quantized input valid.
func (b *Backend) launchKeep(name string, l kc.Launch, args ...any) {
	if b.argCheck != nil {
		b.argCheck(name, args)
	}
	f := b.fn[name]
	if f == nil {
		panic("cuda: no kernel " + name)
	}
	g := Grid{Grid: Dim3{X: l.GridX, Y: l.GridY}, Block: Dim3{X: l.Block}, Shared: l.Shared}
	b.fail(f.Launch(g, args...))
}

// Supports reports the types the kernels decode.
func (b *Backend) Supports(t dtype.Type) bool { _, ok := kc.TypeSuffix(t); return ok }

// Weight puts data on the device: registered in place on a shared-memory
// GPU, else copied. Float weights whose rows do not split into 32-value
// chunks (the patch embedding) are stored as F32 for k_mm_f32s.
func (b *Backend) Weight(name string, t dtype.Type, rows, cols int, data []byte) (runtime.Weight, error) {
	k, ok := kc.TypeSuffix(t)
	if !ok {
		return nil, fmt.Errorf("type %s is not supported by the cuda backend", t)
	}
	rb, err := t.RowBytes(int64(cols))
	if err != nil || rows <= 0 || int64(len(data)) < rb*int64(rows) {
		return nil, fmt.Errorf("%d x %d %s weight from %d bytes", rows, cols, t, len(data))
	}
	data = data[:rb*int64(rows)]
	w := &weight{name: name, t: t, rows: rows, cols: cols, kern: k}
	if !kc.Supports(k, cols) {
		if t != dtype.F32 && t != dtype.F16 && t != dtype.BF16 {
			return nil, fmt.Errorf("%s rows of %d do not split into the kernels' blocks", t, cols)
		}
		f := make([]float32, rows*cols)
		if err := t.Decode(f, data); err != nil {
			return nil, err
		}
		data = unsafe.Slice((*byte)(unsafe.Pointer(&f[0])), 4*len(f))
		w.t, w.kern = dtype.F32, "f32s"
	} else if b.mapped {
		if p, err := b.register(data); err == nil {
			w.p, w.host = p, data
			return w, nil
		}
		// Fall through: a copy still works.
	}
	p, err := b.alloc(len(data))
	if err != nil {
		return nil, err
	}
	if err := b.c.CopyToDevice(p, data); err != nil {
		return nil, err
	}
	w.p = p
	return w, nil
}

// register maps data's pages into the device, registering only pages no
// earlier weight registered (neighbouring tensors share pages), and
// returns data's device address. It relies on unified addressing (every
// 64-bit CUDA platform), where a registered page's device address is its
// host address; otherwise it fails and the caller copies.
func (b *Backend) register(data []byte) (DevicePtr, error) {
	addr := uintptr(unsafe.Pointer(&data[0]))
	start, size := pageRange(addr, len(data), os.Getpagesize())
	for _, g := range gaps(b.spans, span{start, start + uintptr(size)}) {
		piece := unsafe.Slice((*byte)(unsafe.Add(unsafe.Pointer(&data[0]), int(g.start)-int(addr))), int(g.end-g.start))
		if g.start < addr { // the first page begins before data
			piece = unsafe.Slice(&data[0], int(g.end-addr))
		}
		r, err := b.c.HostRegister(piece)
		if err != nil {
			return 0, err
		}
		b.regs = append(b.regs, r)
		b.spans = append(b.spans, g)
		if uintptr(r.Ptr) != uintptr(unsafe.Pointer(&piece[0])) {
			return 0, errors.New("cuda: registered memory has a device address other than its host address")
		}
	}
	return DevicePtr(addr), nil
}

// gaps returns the parts of s that no span of have covers, in order.
func gaps(have []span, s span) []span {
	out := []span{s}
	for _, h := range have {
		var next []span
		for _, g := range out {
			if h.end <= g.start || h.start >= g.end {
				next = append(next, g)
				continue
			}
			if g.start < h.start {
				next = append(next, span{g.start, h.start})
			}
			if h.end < g.end {
				next = append(next, span{h.end, g.end})
			}
		}
		out = next
	}
	return out
}

// Alloc returns a zeroed rows x cols tensor in device memory.
func (b *Backend) Alloc(rows, cols int) (runtime.Tensor, error) {
	if rows <= 0 || cols <= 0 || rows > math.MaxInt32 || cols > math.MaxInt32 || rows > math.MaxInt32/cols {
		return nil, fmt.Errorf("tensor of %d x %d", rows, cols)
	}
	p, err := b.alloc(4 * rows * cols)
	if err != nil {
		return nil, err
	}
	return &tensor{rows: rows, cols: cols, p: p, owned: true}, nil
}

// AllocCache returns a zeroed key or value cache. F32 is stored as asked;
// F16 and Q8_0 are stored in F16 (the kernels have no Q8_0 attention yet:
// more memory than Q8_0, closer to exact).
func (b *Backend) AllocCache(t dtype.Type, positions, heads, headDim int) (runtime.Tensor, error) {
	if t != dtype.F32 && t != dtype.F16 && t != dtype.Q8_0 {
		return nil, fmt.Errorf("key/value cache of type %s: want f32, f16 or q8_0", t)
	}
	if positions <= 0 || heads <= 0 || headDim <= 0 || headDim > kc.MaxHeadDim || positions > math.MaxInt32/(heads*headDim) {
		return nil, fmt.Errorf("key/value cache of %d positions of %d heads of %d", positions, heads, headDim)
	}
	if t == dtype.Q8_0 && headDim%32 != 0 {
		return nil, fmt.Errorf("key/value cache of type q8_0 for heads of %d: want a multiple of 32", headDim)
	}
	k := &kvCache{t: t, positions: positions, heads: heads, hd: headDim}
	p, err := b.alloc(positions * heads * k.rowBytes())
	if err != nil {
		return nil, err
	}
	k.p = p
	return &tensor{rows: positions, cols: heads * headDim, kv: k, p: p, owned: true}, nil
}

// Free releases a tensor from Alloc or AllocCache.
func (b *Backend) Free(t runtime.Tensor) {
	x := b.any(t)
	if !x.owned {
		return
	}
	if _, ok := b.allocs[x.p]; ok {
		b.release(x.p)
	}
	x.owned = false
}

// View returns rows [row, row+n) of t.
func (b *Backend) View(t runtime.Tensor, row, n int) runtime.Tensor {
	x := b.any(t)
	if row < 0 || n < 0 || row+n > x.rows {
		panic(fmt.Sprintf("cuda: View of rows [%d, %d) of a %d-row tensor", row, row+n, x.rows))
	}
	if x.kv != nil {
		return &tensor{rows: n, cols: x.cols, kv: x.kv, p: x.p, row0: x.row0 + row}
	}
	return &tensor{rows: n, cols: x.cols, p: x.p + DevicePtr(4*row*x.cols)}
}

func (b *Backend) any(t runtime.Tensor) *tensor {
	x, ok := t.(*tensor)
	if !ok {
		panic(fmt.Sprintf("cuda: a %T is not a cuda tensor", t))
	}
	return x
}

func (b *Backend) t(t runtime.Tensor) *tensor {
	x := b.any(t)
	if x.kv != nil {
		panic("cuda: a key/value cache used as an activation")
	}
	return x
}

func (b *Backend) w(w runtime.Weight) *weight {
	x, ok := w.(*weight)
	if !ok {
		panic(fmt.Sprintf("cuda: a %T is not a cuda weight", w))
	}
	return x
}

func (b *Backend) vec(w runtime.Weight, n int, op string) *weight {
	x := b.w(w)
	if x.t != dtype.F32 || x.rows != 1 || x.cols != n {
		panic(fmt.Sprintf("cuda: %s: %s is a %d x %d %s, want an f32 vector of %d", op, x.name, x.rows, x.cols, x.t, n))
	}
	return x
}

func same(op string, ts ...*tensor) {
	for _, t := range ts[1:] {
		if t.rows != ts[0].rows || t.cols != ts[0].cols {
			panic(fmt.Sprintf("cuda: %s of a %d x %d and a %d x %d tensor", op, ts[0].rows, ts[0].cols, t.rows, t.cols))
		}
	}
}

func floatBytes(f []float32) []byte {
	if len(f) == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(&f[0])), 4*len(f))
}

// grow makes *p a buffer of at least n bytes (*size its bytes), replacing
// a smaller one.
func (b *Backend) grow(p *DevicePtr, size *int, n int) error {
	if n <= *size {
		return nil
	}
	if *p != 0 {
		b.release(*p)
		*p, *size = 0, 0
	}
	q, err := b.alloc(n)
	if err != nil {
		return err
	}
	*p, *size = q, n
	return nil
}

// release frees device memory the backend allocated. A step recorded
// ahead may point into it, so that recording is dropped.
func (b *Backend) release(p DevicePtr) {
	b.ready = nil
	b.xqFrom = nil
	b.fail(b.c.Free(p))
	delete(b.allocs, p)
}

// staging returns n floats of device scratch (Write and Read of caches).
func (b *Backend) staging(n int) (DevicePtr, error) {
	if err := b.grow(&b.scratch, &b.scrCap, 4*n); err != nil {
		return 0, err
	}
	return b.scratch, nil
}

// kvStore queues writing the activation at src (x's shape) into cache
// rows x.
func (b *Backend) kvStore(x *tensor, src DevicePtr) {
	k := x.kv
	b.launch(kvKernel("k_kv_store", k), kc.Elementwise(x.rows*x.cols), k.p, src, x.rows, k.heads, k.hd, k.positions, x.row0)
}

// kvKernel is the name of the cache kernel base for k's type: the F16
// ones carry no suffix (k_kv_store), the others _f32 and _q8.
func kvKernel(base string, k *kvCache) string {
	if k.t == dtype.F16 {
		return base
	}
	return base + "_" + k.suffix()
}

// Write copies host values into dst.
func (b *Backend) Write(dst runtime.Tensor, src []float32) error {
	x := b.any(dst)
	if len(src) != x.rows*x.cols {
		return fmt.Errorf("write of %d values into a %d x %d tensor", len(src), x.rows, x.cols)
	}
	b.xqFrom = nil
	if x.kv == nil {
		return b.c.CopyToDevice(x.p, floatBytes(src))
	}
	s, err := b.staging(len(src))
	if err != nil {
		return err
	}
	if err := b.c.CopyToDevice(s, floatBytes(src)); err != nil {
		return err
	}
	b.kvStore(x, s)
	return b.Sync()
}

// Read copies src to the host after the queued work.
func (b *Backend) Read(src runtime.Tensor, dst []float32) error {
	x := b.any(src)
	if len(dst) != x.rows*x.cols {
		return fmt.Errorf("read of a %d x %d tensor into %d values", x.rows, x.cols, len(dst))
	}
	p := x.p
	if x.kv != nil {
		s, err := b.staging(len(dst))
		if err != nil {
			return err
		}
		k := x.kv
		b.launch(kvKernel("k_kv_load", k), kc.Elementwise(len(dst)), s, k.p, x.rows, k.heads, k.hd, k.positions, x.row0)
		p = s
	}
	if err := b.c.CopyToHost(floatBytes(dst), p); err != nil {
		return err
	}
	return b.Sync()
}

// Sync waits for the queued work and returns its first error.
func (b *Backend) Sync() error {
	b.fail(b.c.Sync())
	err := b.err
	b.err = nil
	return err
}

// CopyRows copies src into dst (an activation or a cache).
func (b *Backend) CopyRows(dst, src runtime.Tensor) {
	d, s := b.any(dst), b.t(src)
	same("CopyRows", d, s)
	if d.kv != nil {
		b.kvStore(d, s.p)
		return
	}
	b.xqFrom = nil
	b.fail(b.c.CopyDevice(d.p, s.p, 4*s.rows*s.cols))
}

// Gather decodes rows ids of table into dst.
func (b *Backend) Gather(dst runtime.Tensor, table runtime.Weight, ids []int32) {
	d, w := b.t(dst), b.w(table)
	if d.rows != len(ids) || d.cols != w.cols {
		panic(fmt.Sprintf("cuda: Gather of %d rows of %s (%d wide) into %d x %d", len(ids), w.name, w.cols, d.rows, d.cols))
	}
	for _, id := range ids {
		if id < 0 || int(id) >= w.rows {
			panic(fmt.Sprintf("cuda: Gather: row %d of %s, which has %d", id, w.name, w.rows))
		}
	}
	if w.kern == "f32s" {
		panic(fmt.Sprintf("cuda: Gather from %s, whose rows of %d do not split into chunks of 32", w.name, w.cols))
	}
	if err := b.grow(&b.ids, &b.idsCap, 4*max(len(ids), 64)); err != nil {
		b.fail(err)
		return
	}
	if b.recording {
		b.fail(errRecording) // ids from the host: GatherPicked is the recorded step's
		return
	}
	b.fail(b.c.CopyToDevice(b.ids, unsafe.Slice((*byte)(unsafe.Pointer(&ids[0])), 4*len(ids))))
	b.launch("k_gather_"+w.kern, kc.Gather(len(ids), w.cols), d.p, w.p, b.ids, w.cols)
}

// SetTensorAttention chooses, for more than one query row with heads of
// 64 or 128, k_tattn (on: the tensor cores, f16 q, k, v and
// probabilities with float sums; the default) or k_fattn (off: float32
// throughout, as the CPU).
func (b *Backend) SetTensorAttention(on bool) { b.simtAttn = !on }

// SetExactMatMul makes MatMul compute every product on float32 inputs
// (on: k_mm, as the exact CPU backend) or, the default, quantize a single
// input row to Q8_1 for the dp4a GEMVs of Q8_0, Q4_0, Q4_K and Q6_K
// weights (as the CPU's 8-bit activations, llama.cpp's mmvq).
func (b *Backend) SetExactMatMul(on bool) { b.exact = on }

// MatMul sets dst = x · wᵀ. Q8_0, Q4_0, Q4_K and Q6_K weights take the
// input quantized to Q8_1 (k_quantize_q8_1, the CPU's 8-bit activations)
// unless SetExactMatMul: one row (decode) goes to k_mmq (dp4a), more
// (prefill, the encoder) to k_gemmq (int8 mma on the tensor cores); both
// scale each chunk's exact integer sum the same way. Other weights, and
// all under SetExactMatMul, take float32 inputs: k_mm for a few rows,
// k_gemm's tiles for many.
func (b *Backend) MatMul(dst, x runtime.Tensor, w runtime.Weight) {
	d, xi, m := b.t(dst), b.t(x), b.w(w)
	if xi.cols != m.cols || d.rows != xi.rows || d.cols != m.rows {
		panic(fmt.Sprintf("cuda: MatMul of %d x %d by %s (%d x %d) into %d x %d", xi.rows, xi.cols, m.name, m.rows, m.cols, d.rows, d.cols))
	}
	if !b.exact && kc.SupportsQ(m.kern, m.cols) {
		// Q, K and V (and gate and up) read the same input: it is
		// quantized once, as long as nothing was queued since but these
		// products, which do not write it.
		if b.xqFrom != xi {
			if err := b.grow(&b.xq, &b.xqCap, xi.rows*kc.Q8_1Bytes(m.cols)); err != nil {
				b.fail(err)
				return
			}
			b.launch("k_quantize_q8_1", kc.QuantizeRowsQ8_1(xi.rows, m.cols), b.xq, xi.p, m.cols)
			b.xqFrom = xi
		}
		if xi.rows == 1 {
			b.launchKeep("k_mmq_"+m.kern, kc.MatMulQ(m.rows), d.p, b.xq, m.p, m.cols, m.rows)
			return
		}
		b.launchKeep("k_gemmq_"+m.kern, kc.GEMMQ(xi.rows, m.rows), d.p, b.xq, m.p, xi.rows, xi.cols, m.rows)
		return
	}
	if xi.rows >= kc.GEMMRows && m.kern != "f32s" {
		b.launch("k_gemm_"+m.kern, kc.GEMM(xi.rows, m.rows), d.p, xi.p, m.p, xi.rows, xi.cols, m.rows)
		return
	}
	b.launch("k_mm_"+m.kern, kc.MatMul(xi.rows, m.rows), d.p, xi.p, m.p, xi.rows, xi.cols, m.rows)
}

// AddBias adds bias to every row.
func (b *Backend) AddBias(x runtime.Tensor, bias runtime.Weight) {
	t := b.t(x)
	v := b.vec(bias, t.cols, "AddBias")
	b.launch("k_add_bias", kc.Elementwise(t.rows*t.cols), t.p, v.p, t.rows*t.cols, t.cols)
}

// ScaleCols multiplies each column by its scale.
func (b *Backend) ScaleCols(x runtime.Tensor, scale runtime.Weight) {
	t := b.t(x)
	v := b.vec(scale, t.cols, "ScaleCols")
	b.launch("k_scale_cols", kc.Elementwise(t.rows*t.cols), t.p, v.p, t.rows*t.cols, t.cols)
}

// Add sets dst = a + b.
func (b *Backend) Add(dst, x, y runtime.Tensor) {
	d, p, q := b.t(dst), b.t(x), b.t(y)
	same("Add", d, p, q)
	b.launch("k_add", kc.Elementwise(d.rows*d.cols), d.p, p.p, q.p, d.rows*d.cols)
}

// Mul sets dst = a ⊙ b.
func (b *Backend) Mul(dst, x, y runtime.Tensor) {
	d, p, q := b.t(dst), b.t(x), b.t(y)
	same("Mul", d, p, q)
	b.launch("k_mul", kc.Elementwise(d.rows*d.cols), d.p, p.p, q.p, d.rows*d.cols)
}

// LayerNorm normalises each row (and quantizes it, see normQ).
func (b *Backend) LayerNorm(dst, x runtime.Tensor, w, bias runtime.Weight, eps float32) {
	d, s := b.t(dst), b.t(x)
	same("LayerNorm", d, s)
	wv, bv := b.vec(w, s.cols, "LayerNorm"), b.vec(bias, s.cols, "LayerNorm")
	xq := b.normQ(d)
	b.launch("k_layernorm", kc.Rows(s.rows, s.cols), d.p, s.p, wv.p, bv.p, s.cols, eps, xq)
	b.normed(d, xq)
}

// RMSNorm normalises each row (and quantizes it, see normQ).
func (b *Backend) RMSNorm(dst, x runtime.Tensor, w runtime.Weight, eps float32) {
	d, s := b.t(dst), b.t(x)
	same("RMSNorm", d, s)
	wv := b.vec(w, s.cols, "RMSNorm")
	xq := b.normQ(d)
	b.launch("k_rmsnorm", kc.Rows(s.rows, s.cols), d.p, s.p, wv.p, s.cols, eps, xq)
	b.normed(d, xq)
}

// normQ returns where a norm's kernel also writes its output's Q8_1
// blocks, or 0 for none: a norm's output is, in both models, the input of
// the products that follow (Q, K and V; gate and up; the head), which
// then skip k_quantize_q8_1. Not under SetExactMatMul, nor for rows that
// do not split into 32s.
func (b *Backend) normQ(d *tensor) DevicePtr {
	if b.exact || d.cols%32 != 0 {
		return 0
	}
	if err := b.grow(&b.xq, &b.xqCap, d.rows*kc.Q8_1Bytes(d.cols)); err != nil {
		return 0 // the products will quantize (and report the memory)
	}
	return b.xq
}

// normed records that xq holds d's Q8_1 blocks (after the launch, which
// forgets the previous input).
func (b *Backend) normed(d *tensor, xq DevicePtr) {
	if xq != 0 {
		b.xqFrom = d
	}
}

// GELU applies the exact GELU.
func (b *Backend) GELU(dst, x runtime.Tensor) {
	d, s := b.t(dst), b.t(x)
	same("GELU", d, s)
	b.launch("k_gelu", kc.Elementwise(d.rows*d.cols), d.p, s.p, d.rows*d.cols)
}

// SiLUMul sets dst = silu(gate) ⊙ up.
func (b *Backend) SiLUMul(dst, gate, up runtime.Tensor) {
	d, g, u := b.t(dst), b.t(gate), b.t(up)
	same("SiLUMul", d, g, u)
	b.launch("k_silu_mul", kc.Elementwise(d.rows*d.cols), d.p, g.p, u.p, d.rows*d.cols)
}

// RopeTable returns cos and sin, interleaved, of the angle of each pair of
// a head of hd at positions [0, positions): as the CPU computes them, in
// float64 from p/factor and the pair's frequency (theta^(-2/hd))^i, then
// rounded to float32.
func RopeTable(positions, hd int, theta, factor float64) []float32 {
	if factor == 0 {
		factor = 1
	}
	half := hd / 2
	t := make([]float32, 2*positions*half)
	step := math.Pow(theta, -2/float64(hd))
	for p := 0; p < positions; p++ {
		pos := float64(p) / factor
		freq := 1.0
		for i := 0; i < half; i++ {
			s, c := math.Sincos(pos * freq)
			t[2*(p*half+i)], t[2*(p*half+i)+1] = float32(c), float32(s)
			freq *= step
		}
	}
	return t
}

// rope returns the table for k covering positions (grown in doublings).
func (b *Backend) rope(k ropeKey, positions int) (*ropeTable, error) {
	r := b.ropes[k]
	if r != nil && r.positions >= positions {
		return r, nil
	}
	if b.recording {
		return nil, errRecording
	}
	n := max(4096, positions)
	if r != nil {
		n = max(n, 2*r.positions)
		b.release(r.p)
	}
	host := RopeTable(n, k.hd, k.theta, k.factor)
	p, err := b.alloc(4 * len(host))
	if err != nil {
		return nil, err
	}
	if err := b.c.CopyToDevice(p, floatBytes(host)); err != nil {
		return nil, err
	}
	r = &ropeTable{p: p, positions: n}
	b.ropes[k] = r
	return r, nil
}

// RoPE rotates each row at its position.
func (b *Backend) RoPE(x runtime.Tensor, heads, pos0 int, r runtime.Rope) {
	t := b.t(x)
	if heads <= 0 || t.cols%heads != 0 || (t.cols/heads)%2 != 0 {
		panic(fmt.Sprintf("cuda: RoPE of %d columns in %d heads", t.cols, heads))
	}
	hd := t.cols / heads
	tab, err := b.rope(ropeKey{theta: r.Theta, factor: r.Factor, hd: hd}, pos0+t.rows)
	if err != nil {
		b.fail(err)
		return
	}
	b.launch("k_rope", kc.Elementwise(t.rows*heads*hd/2), t.p, tab.p, t.rows, heads, hd, pos0)
}

// Attention runs k_fattn for many query rows (prefill, the encoder: tiles
// of keys shared by 32 rows) where the head width allows, else k_attn, a
// block per (query row, head) over all its keys (decode).
func (b *Backend) Attention(dst, q, k, v runtime.Tensor, a runtime.Attn) {
	d, qt, kt, vt := b.t(dst), b.t(q), b.any(k), b.any(v)
	same("Attention", d, qt)
	same("Attention", kt, vt)
	if (kt.kv == nil) != (vt.kv == nil) || kt.kv != nil && (kt.kv.t != vt.kv.t || kt.row0 != vt.row0 || kt.kv.heads != vt.kv.heads || kt.kv.positions != vt.kv.positions) {
		panic("cuda: Attention of keys and values of different kinds")
	}
	if a.Heads <= 0 || a.KVHeads <= 0 || a.Heads%a.KVHeads != 0 || qt.cols%a.Heads != 0 || kt.cols != qt.cols/a.Heads*a.KVHeads {
		panic(fmt.Sprintf("cuda: Attention of q %d wide in %d heads with k/v %d wide in %d heads", qt.cols, a.Heads, kt.cols, a.KVHeads))
	}
	if a.Causal && (a.Pos0 < 0 || a.Pos0+qt.rows > kt.rows) {
		panic(fmt.Sprintf("cuda: causal Attention of %d rows at %d over %d keys", qt.rows, a.Pos0, kt.rows))
	}
	hd := qt.cols / a.Heads
	l, err := kc.Attention(qt.rows, a.Heads, hd)
	if err != nil {
		panic("cuda: " + err.Error())
	}
	scale := float32(1 / math.Sqrt(float64(hd)))
	causal := 0
	if a.Causal {
		causal = 1
	}
	name := "k_attn_f32"
	kp, vp := kt.p, vt.p
	var ld int
	var headStride int64
	if s := kt.kv; s == nil {
		ld, headStride = kt.cols, int64(hd)
	} else {
		if s.hd != hd {
			panic(fmt.Sprintf("cuda: Attention of heads of %d over a cache of heads of %d", hd, s.hd))
		}
		name = "k_attn_" + s.suffix()
		off := DevicePtr(kt.row0 * s.rowBytes())
		kp, vp = s.p+off, vt.kv.p+off
		ld, headStride = hd, int64(s.positions*hd)
		if s.t == dtype.Q8_0 { // rows of bytes: quants, then scales
			ld, headStride = s.rowBytes(), int64(s.positions*s.rowBytes())
		}
	}
	if tl, ok := kc.TensorAttention(qt.rows, a.Heads, hd); ok && !b.simtAttn {
		// many query rows on the tensor cores: k_tattn (f16 inputs)
		b.launch(fmt.Sprintf("k_tattn%d_%s", hd, name[len("k_attn_"):]), tl, d.p, d.cols, qt.p, qt.cols, kp, vp, ld, headStride, a.Heads/a.KVHeads, qt.rows, kt.rows, causal, a.Pos0, scale)
		return
	}
	if fl, ok := kc.FlashAttention(qt.rows, a.Heads, hd); ok {
		// many query rows: k_fattn shares each tile of keys among 32 of them
		b.launch("k_f"+name[2:], fl, d.p, d.cols, qt.p, qt.cols, kp, vp, ld, headStride, hd, a.Heads/a.KVHeads, qt.rows, kt.rows, causal, a.Pos0, scale)
		return
	}
	b.launch(name, l, d.p, d.cols, qt.p, qt.cols, kp, vp, ld, headStride, hd, a.Heads, a.Heads/a.KVHeads, kt.rows, causal, a.Pos0, scale)
}

var _ runtime.Picker = (*Backend)(nil)

// Pick queues k_pick on row 0 of logits: the greedy token stays on the
// device for GatherPicked, and Picked reads back 12 bytes.
func (b *Backend) Pick(logits runtime.Tensor) {
	t := b.t(logits)
	b.launch("k_pick", kc.Pick(), b.pick, t.p, t.cols)
}

// GatherPicked gathers table's row of the picked token, the id read on
// the device.
func (b *Backend) GatherPicked(dst runtime.Tensor, table runtime.Weight) {
	d, w := b.t(dst), b.w(table)
	if d.cols != w.cols || w.kern == "f32s" {
		panic(fmt.Sprintf("cuda: GatherPicked of %s (%d wide) into %d x %d", w.name, w.cols, d.rows, d.cols))
	}
	b.launch("k_gather_"+w.kern, kc.Gather(1, w.cols), d.p, w.p, b.pick, w.cols)
}

// Picked waits for the last Pick and returns its token and margin.
func (b *Backend) Picked() (int32, float32, bool, error) {
	var out [12]byte
	if err := b.c.CopyToHost(out[:], b.pick); err != nil {
		return 0, 0, false, err
	}
	if err := b.Sync(); err != nil {
		return 0, 0, false, err
	}
	id := int32(binary.LittleEndian.Uint32(out[0:]))
	margin := math.Float32frombits(binary.LittleEndian.Uint32(out[4:]))
	return id, margin, binary.LittleEndian.Uint32(out[8:]) == 0, nil
}

// errRecording is what an op that must allocate or copy from the host
// fails with while a step is being recorded; RunStep then runs the step
// directly.
var errRecording = errors.New("cuda: an allocation or host copy inside a recorded step")

var _ runtime.StepRecorder = (*Backend)(nil)

// maxGraphFails is how many failed recordings turn step graphs off.
const maxGraphFails = 3

// RunStep runs decode step pos as a CUDA graph and, when next, records
// step pos+1 ahead, while the device computes this one, so the host's
// recording (hundreds of captured launches and an update: as long as the
// whole step's GPU work on a big GPU) is off the critical path. A step
// recorded ahead for the same key and pos is launched with one call;
// otherwise step(pos) is captured now. Recordings alternate between two
// graphs, so the one being updated is never the one running (the caller
// waits for each step, Picked, before the next RunStep); an update keeps
// the instantiation (cuGraphExecUpdate: the same launches, new
// parameters) or instantiates anew when refused.
//
// The backend's first step runs directly: the buffers and tables it grows
// are then in place, and capture never allocates. A recording that fails
// runs nothing (the step then runs directly), and after maxGraphFails
// failures graphs are off (Describe says why). Freeing device memory
// drops a recording made ahead.
func (b *Backend) RunStep(key any, pos int, next bool, step func(pos int)) error {
	graphs := b.graphFails < maxGraphFails && b.c.HasGraphs()
	ready := b.ready
	b.ready = nil
	running := -1 // the graph launched by this call
	switch {
	case graphs && ready != nil && ready.key == key && ready.pos == pos:
		running = ready.slot
	case graphs && b.stepped && b.record(0, func() { step(pos) }):
		running = 0
	default:
		step(pos)
	}
	b.stepped = true
	if running >= 0 {
		if err := b.steps[running].Launch(); err != nil {
			return err
		}
		b.graphSteps++
	}
	if next && b.graphFails < maxGraphFails && b.c.HasGraphs() { // (this call's recording may have failed)
		slot := 1
		if running == 1 {
			slot = 0
		}
		if b.record(slot, func() { step(pos + 1) }) {
			b.ready = &stepAhead{key: key, pos: pos + 1, slot: slot}
		}
	}
	return nil
}

// stepAhead is a step recorded ahead: which, at which position, in which
// of the two graphs.
type stepAhead struct {
	key  any
	pos  int
	slot int
}

// record captures fn's launches into graph slot (instantiated, or
// updated in place), running nothing. It reports whether it succeeded;
// a failure is counted and its error kept for Describe.
func (b *Backend) record(slot int, fn func()) bool {
	before := b.err
	rec := func() error {
		b.recording = true
		b.xqFrom = nil // the graph quantizes its own inputs
		defer func() { b.recording, b.xqFrom = false, nil }()
		fn()
		if b.err != before {
			return b.err
		}
		return nil
	}
	var err error
	if b.steps[slot] == nil {
		b.steps[slot], err = b.c.Capture(rec)
	} else {
		err = b.c.Recapture(b.steps[slot], rec)
	}
	if err == nil {
		return true
	}
	b.err = before // nothing ran
	if b.steps[slot] != nil {
		b.steps[slot].Destroy()
		b.steps[slot] = nil
	}
	if b.graphFails++; b.graphFails >= maxGraphFails {
		b.graphNote = "decode steps without CUDA graphs: " + oneLine(err)
	}
	return false
}

func oneLine(err error) string {
	s := strings.Join(strings.Fields(err.Error()), " ")
	if len(s) > 300 {
		s = s[:300] + "..."
	}
	return s
}

// GraphSteps returns how many decode steps ran as CUDA graphs.
func (b *Backend) GraphSteps() int { return b.graphSteps }
