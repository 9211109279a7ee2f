// Package kernels holds the compute kernels of the CPU backend: dot
// products, the matrix multiplies (exact on float32 inputs, or integer on
// inputs quantized to 8 bits), norms, RoPE, GELU, SiLU and blocked
// attention. Every kernel works on plain slices and one thread; runtime's
// CPU backend splits the work across its workers and calls these on the
// pieces.
//
// Kernels come in variants (klauspost/compress pattern): "generic" is the
// portable Go reference every other variant is held to, and computes every
// weight type exactly (decode to float32, float dot products). "q8" runs the
// quantized path in portable Go: the twin the assembly is tested against,
// bit for bit. "avx2" and "avx512" (qdot_amd64.s, written by _generate, and
// float_amd64.s; chosen by CPU feature checks, removed by the noasm build
// tag) replace the kernels they speed up and inherit the rest. Select picks
// the best available variant at start-up; MAIRA_KERNELS=name forces one.
// See README.md in this folder for the layouts, the numerics and how an
// arm64 variant slots in.
package kernels

import (
	"fmt"
	"os"
	"sort"
	"strings"
	"unsafe"

	"maira/quant/dtype"
)

// EnvVariant is the environment variable that forces a kernel variant.
const EnvVariant = "MAIRA_KERNELS"

// Variant is one implementation of every kernel. A variant registered with
// some fields nil inherits generic's for those, so an architecture variant
// only sets what it speeds up. Kernels never allocate except through the
// Scratch they are given, and never keep their arguments.
type Variant struct {
	Name string
	// Priority orders the available variants for Select (highest wins;
	// generic is 0).
	Priority int
	// Available reports whether this machine can run the variant (CPU
	// feature checks); nil means always.
	Available func() bool

	// Dot returns Σ a[i]·b[i] over len(a); b must be at least as long.
	Dot func(a, b []float32) float32
	// Axpy adds a·x[i] to y[i] for i < len(y); x must be at least as long.
	Axpy func(y []float32, a float32, x []float32)

	// MatMul computes output columns [o0, o1) of dst = x · Wᵀ for n input
	// rows: dst[r*ldDst+o] = Σ_i x[r*ldX+i] · W[o][i], W row o being
	// w.Cols values. Each weight row is decoded once per call.
	MatMul func(dst []float32, ldDst int, x []float32, ldX, n int, w *Matrix, o0, o1 int, s *Scratch)
	// Gather decodes weight rows ids into consecutive rows of dst
	// (ldDst apart); the ids are in range.
	Gather func(dst []float32, ldDst int, w *Matrix, ids []int32)

	// LayerNorm normalises one row: dst = (x - mean)/sqrt(var + eps)·w + b,
	// mean and (biased) variance over the row. dst may be x.
	LayerNorm func(dst, x, w, b []float32, eps float32)
	// RMSNorm normalises one row: dst = x/sqrt(mean(x²) + eps)·w. dst may
	// be x.
	RMSNorm func(dst, x, w []float32, eps float32)
	// GELU is the exact (erf) GELU, element-wise; dst may be x.
	GELU func(dst, x []float32)
	// SiLUMul computes dst = silu(gate)·up element-wise (LLaMA's gated
	// MLP); dst may be gate or up.
	SiLUMul func(dst, gate, up []float32)
	// RoPE rotates one row of heads·headDim values in place at position
	// pos (already divided by any linear scaling factor) with base theta,
	// pairing adjacent values (2i, 2i+1) as llama.cpp's rope does on the
	// permuted q/k rows: angle pos·theta^(-2i/headDim).
	RoPE func(x []float32, heads, headDim int, pos, theta float64)
	// Attention computes one head of scaled dot-product attention for a
	// tile of query rows with an online softmax over blocks of keys.
	Attention func(a *Attn, s *Scratch)
	// HalfToFloat decodes IEEE binary16 values to float32 (exact, as
	// dtype.FP16ToFP32), min(len(dst), len(src)) of them. FloatToHalf
	// encodes float32 to binary16, rounding to nearest even as
	// dtype.FP32ToFP16 (NaNs aside: they stay NaN); len(src) of them. The
	// key/value cache in F16 is written and read through these.
	HalfToFloat func(dst []float32, src []uint16)
	FloatToHalf func(dst []uint16, src []float32)
	// Q8ToFloat decodes a Q8 row of len(dst) values (a multiple of 32):
	// src holds len(dst) int8 quants, then one little-endian float32 scale
	// per 32, each value scale·quant (one float32 product). FloatToQ8
	// encodes len(src) values into such a row: per 32, scale = max|x|/127
	// and quant = x/scale rounded to nearest even (ActQ8's rule). The
	// key/value cache in Q8_0 is written and read through these.
	Q8ToFloat func(dst []float32, src []byte)
	FloatToQ8 func(dst []byte, src []float32)

	// The quantized path (quant.go). Act says which activation format
	// this variant's integer dot products pair with weights of type t;
	// ActNone (generic: every type) means the caller uses MatMul. For the
	// others the caller quantizes the input rows once with Quantize
	// (split across workers by rows) and then calls MatMulQ on pieces of
	// the output columns.
	Act func(t dtype.Type) ActType
	// Quantize quantizes rows [r0, r1) of x (rows ldX apart) into a,
	// which a.Reset has sized.
	Quantize func(a *Activations, x []float32, ldX, r0, r1 int)
	// MatMulQ computes output columns [o0, o1) of dst = x · Wᵀ for every
	// row of a, x quantized.
	MatMulQ func(dst []float32, ldDst int, a *Activations, w *Matrix, o0, o1 int, s *Scratch)

	// qdots are the integer MatMul tiles by weight type; a variant that
	// sets them gets Act, Quantize and MatMulQ from Register. tileRows is
	// the most input rows its tiles take at once (0: 4).
	qdots    qdotTable
	tileRows int
	// packed are the packed prefill paths by weight type (packed.go),
	// taken for packMinRows input rows or more.
	packed map[dtype.Type]*packedKernel
}

// Attn describes one head of attention over a tile of query rows. Q, K, V
// and Out start at the head's first column; rows are Ld* values apart.
// Keys and values are float32 in K and V, binary16 in K16 and V16, or Q8
// rows (Q8ToFloat; LdKV then counts bytes) in K8 and V8, the unused ones
// nil. The kernels decode the smaller types exactly, a block of keys at a
// time or in their inner loops: the result is the float32 computation on
// the decoded values.
type Attn struct {
	Out      []float32
	LdOut    int
	Q        []float32
	LdQ      int
	K, V     []float32
	K16, V16 []uint16
	K8, V8   []byte
	LdKV     int

	Rows    int // query rows
	HeadDim int
	Scale   float32 // scores are Scale·q·k (1/sqrt(HeadDim))

	// Keys is the number of keys every row sees (non-causal). With Causal,
	// query row i sits at position Pos0+i and sees keys [0, Pos0+i].
	Keys   int
	Causal bool
	Pos0   int
}

// Scratch is a worker's reusable buffer; kernels take slices of it instead
// of allocating, so steady-state inference allocates nothing.
type Scratch struct {
	f []float32
	b []byte
}

// Bytes returns a slice of n bytes, reusing the buffer when it is large
// enough. The contents are undefined.
func (s *Scratch) Bytes(n int) []byte {
	if cap(s.b) < n {
		s.b = make([]byte, n+n/4)
	}
	return s.b[:n]
}

// Floats returns a slice of n float32s, reusing the buffer when it is large
// enough. The contents are undefined.
func (s *Scratch) Floats(n int) []float32 {
	if cap(s.f) < n {
		s.f = make([]float32, n+n/4)
	}
	return s.f[:n]
}

// Matrix is a weight matrix of Rows rows of Cols values in one of
// quant/dtype's types, stored as in the file: row o is RowBytes bytes from
// o·RowBytes. F32 holds the values as float32 when Type is F32 (a view of
// Data, zero-copy when Data is 4-byte aligned).
type Matrix struct {
	Type       dtype.Type
	Rows, Cols int
	RowBytes   int
	Data       []byte
	F32        []float32
	decode     func(dst []float32, src []byte)
}

// NewMatrix describes data as a rows x cols matrix of type t. Cols must be
// a whole number of t's blocks and data exactly the bytes the rows take.
func NewMatrix(t dtype.Type, rows, cols int, data []byte) (*Matrix, error) {
	tr := t.Traits()
	if tr == nil {
		return nil, fmt.Errorf("unsupported tensor type %s", t)
	}
	if rows <= 0 || cols <= 0 {
		return nil, fmt.Errorf("matrix of %d x %d", rows, cols)
	}
	rb, err := t.RowBytes(int64(cols))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) != rb*int64(rows) {
		return nil, fmt.Errorf("%d x %d %s takes %d bytes, have %d", rows, cols, t, rb*int64(rows), len(data))
	}
	m := &Matrix{Type: t, Rows: rows, Cols: cols, RowBytes: int(rb), Data: data, decode: tr.ToFloat}
	if t == dtype.F32 {
		m.F32 = float32s(data)
	}
	return m, nil
}

// Row decodes row o into dst (len Cols) and returns it; for F32 it returns
// the stored row itself without copying.
func (m *Matrix) Row(dst []float32, o int) []float32 {
	if m.F32 != nil {
		return m.F32[o*m.Cols : (o+1)*m.Cols : (o+1)*m.Cols]
	}
	m.decode(dst[:m.Cols], m.Data[o*m.RowBytes:(o+1)*m.RowBytes])
	return dst[:m.Cols]
}

// float32s views little-endian float32 bytes as []float32: zero-copy when
// aligned (a GGUF tensor is 32-byte aligned in a page-aligned mapping), a
// decoded copy otherwise. Both supported architectures are little-endian.
func float32s(b []byte) []float32 {
	n := len(b) / 4
	if n == 0 {
		return nil
	}
	if uintptr(unsafe.Pointer(&b[0]))%4 == 0 {
		return unsafe.Slice((*float32)(unsafe.Pointer(&b[0])), n)
	}
	f := make([]float32, n)
	dtype.F32.Traits().ToFloat(f, b)
	return f
}

var registry = map[string]*Variant{}

// Register adds a variant; files of this package call it from init. Nil
// kernels are filled from generic (the composite MatMul and Attention run
// generic's loops on the variant's own Dot and Axpy). It panics on a duplicate name (a
// programming error).
func Register(v *Variant) {
	if _, dup := registry[v.Name]; dup {
		panic("kernels: variant registered twice: " + v.Name)
	}
	fill(v, generic)
	registry[v.Name] = v
}

// fill sets v's nil kernels to g's.
func fill(v, g *Variant) {
	if v.Dot == nil {
		v.Dot = g.Dot
	}
	if v.Axpy == nil {
		v.Axpy = g.Axpy
	}
	if v.MatMul == nil {
		v.MatMul = v.matMul // generic's loop on v's Dot
	}
	if v.Gather == nil {
		v.Gather = g.Gather
	}
	if v.LayerNorm == nil {
		v.LayerNorm = g.LayerNorm
	}
	if v.RMSNorm == nil {
		v.RMSNorm = g.RMSNorm
	}
	if v.GELU == nil {
		v.GELU = g.GELU
	}
	if v.SiLUMul == nil {
		v.SiLUMul = g.SiLUMul
	}
	if v.RoPE == nil {
		v.RoPE = g.RoPE
	}
	if v.Attention == nil {
		v.Attention = v.attention // generic's blocks on v's Dot and Axpy
	}
	if v.HalfToFloat == nil {
		v.HalfToFloat = g.HalfToFloat
	}
	if v.FloatToHalf == nil {
		v.FloatToHalf = g.FloatToHalf
	}
	if v.Q8ToFloat == nil {
		v.Q8ToFloat = g.Q8ToFloat
	}
	if v.FloatToQ8 == nil {
		v.FloatToQ8 = g.FloatToQ8
	}
	if v.qdots != nil {
		for t, f := range goQdots {
			if v.qdots[t] == nil {
				v.qdots[t] = f
			}
		}
	}
	if v.Act == nil {
		v.Act = func(t dtype.Type) ActType {
			if v.qdots[t] == nil {
				return ActNone
			}
			return actFor(t)
		}
	}
	if v.Quantize == nil {
		v.Quantize = quantizeRows
	}
	if v.tileRows == 0 {
		v.tileRows = 4
	}
	if v.MatMulQ == nil {
		v.MatMulQ = v.matMulQ
	}
}

// Generic returns the portable reference variant.
func Generic() *Variant { return generic }

// Variants returns every registered variant, generic first, then by name.
func Variants() []*Variant {
	vs := make([]*Variant, 0, len(registry))
	for _, v := range registry {
		vs = append(vs, v)
	}
	sort.Slice(vs, func(i, j int) bool {
		if (vs[i].Name == "generic") != (vs[j].Name == "generic") {
			return vs[i].Name == "generic"
		}
		return vs[i].Name < vs[j].Name
	})
	return vs
}

// Names returns the registered variant names, generic first.
func Names() []string {
	var ns []string
	for _, v := range Variants() {
		ns = append(ns, v.Name)
	}
	return ns
}

// Lookup returns the variant called name if this machine can run it.
func Lookup(name string) (*Variant, error) {
	v := registry[name]
	if v == nil {
		return nil, fmt.Errorf("unknown kernel variant %q (known: %s)", name, strings.Join(Names(), ", "))
	}
	if v.Available != nil && !v.Available() {
		return nil, fmt.Errorf("kernel variant %q needs CPU features this machine lacks", name)
	}
	return v, nil
}

// Select returns the variant named by $MAIRA_KERNELS when set, otherwise
// the available variant of highest priority.
func Select() (*Variant, error) {
	if name := os.Getenv(EnvVariant); name != "" {
		v, err := Lookup(name)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", EnvVariant, err)
		}
		return v, nil
	}
	best := Generic()
	for _, v := range Variants() {
		if (v.Available == nil || v.Available()) && v.Priority > best.Priority {
			best = v
		}
	}
	return best, nil
}
