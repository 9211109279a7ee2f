// Package runtime is maira's inference engine: the Backend interface the
// models compute through, the CPU backend, and the generation loop with its
// event stream.
//
// A Backend owns the activations: 2-D float32 tensors [rows, cols],
// row-major, that live wherever the backend computes (host memory for the
// CPU, device memory for a GPU) and come back to the host only through Read.
// Weights are created once from the model file's bytes in their stored type
// (quant/dtype: F32, F16, BF16, Q8_0, Q4_0, Q4_K, Q6_K); the CPU backend
// wraps the memory-mapped bytes without copying or dequantizing them.
//
// Ops are eager: each call computes (or, on a GPU, queues) its result
// before it returns. They take their destination explicitly, so models
// allocate their scratch once and inference allocates nothing per op.
// Shapes are the caller's contract: an op given tensors of the wrong shape
// panics (a bug in a model, never bad input; models check input at their
// boundary). Errors a device can raise (out of memory, a failed launch) are
// returned by Alloc and Weight, and by Read and Sync for queued ops.
package runtime

import (
	"fmt"
	"strings"

	"maira/quant/dtype"
	"maira/quant/gguf"
)

// Tensor is an activation tensor of a backend: rows x cols float32,
// row-major. Only the backend that made it may use it.
type Tensor interface {
	Rows() int
	Cols() int
}

// Weight is a weight matrix (rows x cols, row o holding output o's input
// weights, as ggml stores them: dims [cols, rows]) or a vector (1 x cols)
// in its stored type.
type Weight interface {
	Name() string
	Type() dtype.Type
	Rows() int
	Cols() int
}

// Rope says how RoPE turns a position into angles: position p rotates the
// pair (2i, 2i+1) of each head by (p/Factor)·Theta^(-2i/headDim). Factor is
// linear RoPE scaling's factor (1 or 0: none).
type Rope struct {
	Theta  float64
	Factor float64
}

// Attn describes an attention call: q has Heads·headDim columns, k and v
// KVHeads·headDim (grouped-query attention shares a k/v head among
// Heads/KVHeads query heads). Scores are scaled by 1/sqrt(headDim), as both
// Dinov2 and LLaMA do. Non-causal: every query row sees every key row.
// Causal: query row i sits at position Pos0+i and sees key rows [0, Pos0+i]
// (k and v hold the whole cache up to the last query's position).
type Attn struct {
	Heads, KVHeads int
	Causal         bool
	Pos0           int
}

// Backend computes the models' ops. It is not safe for concurrent use: one
// goroutine drives it at a time.
type Backend interface {
	// Name is the backend's kind ("cpu"); Describe adds its settings
	// ("cpu: 8 threads, generic kernels").
	Name() string
	Describe() string
	// Close releases the backend's workers and memory. Weights and
	// tensors must not be used afterwards.
	Close() error

	// Supports reports whether Weight accepts type t.
	Supports(t dtype.Type) bool
	// Weight makes a rows x cols weight of type t from data, the stored
	// bytes (row o at o·RowBytes(cols)). The backend may keep data (the
	// CPU backend computes from it in place), so it must stay valid, as a
	// mapped model file does, until Close. name is for messages.
	Weight(name string, t dtype.Type, rows, cols int, data []byte) (Weight, error)

	// Alloc returns a zeroed rows x cols tensor.
	Alloc(rows, cols int) (Tensor, error)
	// AllocCache returns a zeroed key or value cache: positions rows of
	// heads·headDim values, stored in type t (F32, or F16 at half the
	// memory and bandwidth) in a layout the backend picks for Attention.
	// A cache and its Views serve only as CopyRows' destination (from an
	// F32 tensor, rounding to t), Read's and Write's, and Attention's k
	// and v.
	AllocCache(t dtype.Type, positions, heads, headDim int) (Tensor, error)
	// Free releases a tensor from Alloc (not a view); it must not be used
	// afterwards. Freeing is optional on the CPU.
	Free(t Tensor)
	// View returns rows [row, row+n) of t, sharing its memory.
	View(t Tensor, row, n int) Tensor
	// Write copies rows·cols host values into dst.
	Write(dst Tensor, src []float32) error
	// Read copies src to the host (len(dst) = rows·cols) after all queued
	// work, and returns the first error of that work.
	Read(src Tensor, dst []float32) error
	// Sync waits for queued work and returns its first error.
	Sync() error

	// CopyRows copies src into dst (same shape); dst may be a cache.
	CopyRows(dst, src Tensor)
	// Gather sets row r of dst to row ids[r] of table, decoded (the
	// embedding lookup). The ids must be in range.
	Gather(dst Tensor, table Weight, ids []int32)
	// MatMul sets dst = x · wᵀ: dst [n, w.Rows], x [n, w.Cols]; dst must
	// not overlap x.
	MatMul(dst, x Tensor, w Weight)
	// AddBias adds the vector bias to every row of x.
	AddBias(x Tensor, bias Weight)
	// ScaleCols multiplies column c of x by scale[c] (Dinov2's
	// LayerScale).
	ScaleCols(x Tensor, scale Weight)
	// Add sets dst = a + b and Mul dst = a ⊙ b, element-wise (same
	// shapes; dst may be a or b).
	Add(dst, a, b Tensor)
	Mul(dst, a, b Tensor)
	// LayerNorm normalises each row of x over its columns (biased
	// variance, as nn.LayerNorm) and applies w and b. dst may be x.
	LayerNorm(dst, x Tensor, w, b Weight, eps float32)
	// RMSNorm sets each row to x/sqrt(mean(x²)+eps)·w, in fp32 as
	// LlamaRMSNorm computes it. dst may be x.
	RMSNorm(dst, x Tensor, w Weight, eps float32)
	// GELU applies the exact (erf) GELU. dst may be x.
	GELU(dst, x Tensor)
	// SiLUMul sets dst = silu(gate) ⊙ up. dst may be gate or up.
	SiLUMul(dst, gate, up Tensor)
	// RoPE rotates x in place: row i is at position pos0+i, its columns
	// are heads heads of cols/heads values, rotated in adjacent pairs
	// (llama.cpp's pairing, which the permuted q/k rows of the model file
	// expect).
	RoPE(x Tensor, heads, pos0 int, r Rope)
	// Attention sets dst [n, Heads·headDim] to softmax(q·kᵀ/√headDim)·v,
	// computed in blocks of keys with an online softmax; dst must not
	// overlap q, k or v. k and v are both activations or both caches
	// (AllocCache) of the same type.
	Attention(dst, q, k, v Tensor, a Attn)
}

// Backends lists the names Open knows.
var Backends = []string{"auto", "cpu", "cuda"}

// Open returns the backend called name ("auto", "cpu" or "cuda") with
// threads CPU workers (0: one per available core). It is OpenWith without
// a model, dropping the note on why "auto" chose the CPU.
func Open(name string, threads int) (Backend, error) {
	b, _, err := OpenWith(OpenOptions{Name: name, Threads: threads})
	return b, err
}

// OpenOptions says which backend OpenWith opens.
type OpenOptions struct {
	Name    string // "auto", "cpu" or "cuda"
	Threads int    // CPU workers (0: one per available core)
	// Model, when set, is the model file a GPU backend checks it can
	// hold (weights, key/value cache for Positions, activations) before
	// it is chosen (maira/runtime/cuda's Plan).
	Model string
	// Positions is the key/value cache's size in that check (0: the
	// model's context).
	Positions int
}

// GPUOpener opens a GPU backend: a GPU package registers one with
// RegisterGPU (runtime cannot import it: it implements Backend). Its error
// says why it cannot run (no driver, no device, too little memory for
// o.Model, a kernel that failed to compile), in one line.
type GPUOpener func(o OpenOptions) (Backend, error)

var gpus = map[string]GPUOpener{}

// RegisterGPU makes name ("cuda") a backend Open knows; a blank import of
// maira/runtime/cuda registers it.
func RegisterGPU(name string, open GPUOpener) { gpus[name] = open }

// OpenWith opens the backend o names. "cpu" is the CPU (quantized weights
// with 8-bit activations, see CPU). "cuda" is the GPU, or an error saying
// why not. "auto" tries the GPU and falls back to the CPU; note is then
// one line saying why the GPU was not chosen ("" when it was, when name
// was not "auto", or when the build has no GPU backend to try), for the
// caller to show.
func OpenWith(o OpenOptions) (b Backend, note string, err error) {
	switch o.Name {
	case "cpu":
		b, err := NewCPUWith(CPUOptions{Threads: o.Threads})
		return b, "", err
	case "auto", "cuda":
		open, ok := gpus["cuda"]
		if !ok {
			// A build without a GPU backend: nothing to fall back from.
			if o.Name == "cuda" {
				// (maira/runtime/cuda registers it in builds with -tags cuda.)
				return nil, "", fmt.Errorf("cuda backend not available in this build; use --backend cpu")
			}
			b, err := NewCPUWith(CPUOptions{Threads: o.Threads})
			return b, "", err
		}
		b, gerr := open(o)
		if gerr == nil {
			return b, "", nil
		}
		if o.Name == "cuda" {
			return nil, "", fmt.Errorf("cuda backend not available: %v", oneLine(gerr))
		}
		c, err := NewCPUWith(CPUOptions{Threads: o.Threads})
		if err != nil {
			return nil, "", err
		}
		return c, "backend auto: using the CPU, not CUDA: " + oneLine(gerr), nil
	}
	return nil, "", fmt.Errorf("unknown backend %q (known: %s)", o.Name, strings.Join(Backends, ", "))
}

// oneLine folds an error (a JIT log can run to many lines) to one line,
// and to at most 400 bytes.
func oneLine(err error) string {
	s := strings.Join(strings.Fields(err.Error()), " ")
	if len(s) > 400 {
		s = s[:400] + "..."
	}
	return s
}

// LoadMatrix makes the weight called name of f on b, read as a rows x cols
// matrix: the tensor must hold rows·cols values, its rows must split into
// whole blocks of its type, and b must support the type. A 4-D convolution
// kernel [kw, kh, cin, cout] reads as cout x (kw·kh·cin), the row of one
// output channel.
func LoadMatrix(b Backend, f *gguf.File, name string, rows, cols int) (Weight, error) {
	t := f.Tensor(name)
	if t == nil {
		return nil, fmt.Errorf("%s: tensor %s is missing", f.Path, name)
	}
	if t.NumElements() != uint64(rows)*uint64(cols) {
		return nil, fmt.Errorf("%s: tensor %s has dims %v, want %d x %d values", f.Path, name, t.Dims, rows, cols)
	}
	if !b.Supports(t.Type) {
		return nil, fmt.Errorf("%s: tensor %s: type %s is not supported by the %s backend", f.Path, name, t.Type, b.Name())
	}
	if bs := uint64(t.Type.BlockSize()); bs == 0 || t.Dims[0]%bs != 0 || uint64(cols)%bs != 0 {
		return nil, fmt.Errorf("%s: tensor %s: rows of %d do not split into %s blocks", f.Path, name, cols, t.Type)
	}
	w, err := b.Weight(name, t.Type, rows, cols, f.Data(t))
	if err != nil {
		return nil, fmt.Errorf("%s: tensor %s: %v", f.Path, name, err)
	}
	return w, nil
}

// LoadVector makes the F32 vector called name of f (n values: a norm
// weight, a bias, a LayerScale) on b.
func LoadVector(b Backend, f *gguf.File, name string, n int) (Weight, error) {
	t := f.Tensor(name)
	if t == nil {
		return nil, fmt.Errorf("%s: tensor %s is missing", f.Path, name)
	}
	if t.Type != dtype.F32 {
		return nil, fmt.Errorf("%s: tensor %s: vectors must be f32, found %s", f.Path, name, t.Type)
	}
	return LoadMatrix(b, f, name, 1, n)
}

// Float32s decodes the tensor called name of f (n values, any float or
// block type) to host float32s, for the few small tensors a model
// reshapes on the host (Dinov2's class and position embeddings).
func Float32s(f *gguf.File, name string, n int) ([]float32, error) {
	t := f.Tensor(name)
	if t == nil {
		return nil, fmt.Errorf("%s: tensor %s is missing", f.Path, name)
	}
	if t.NumElements() != uint64(n) {
		return nil, fmt.Errorf("%s: tensor %s has dims %v, want %d values", f.Path, name, t.Dims, n)
	}
	v := make([]float32, n)
	if err := t.Type.Decode(v, f.Data(t)); err != nil {
		return nil, fmt.Errorf("%s: tensor %s: %v", f.Path, name, err)
	}
	return v, nil
}
