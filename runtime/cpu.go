package runtime

import (
	"fmt"
	"math"
	goruntime "runtime"

	"maira/kernels"
	"maira/quant/dtype"
)

// CPU is the portable backend: activations in host memory, weights read in
// place from the mapped model file, kernels from package kernels run on a
// pool of worker goroutines.
//
// A MatMul on a quantized weight runs one of two ways. Exact: each weight
// row is decoded to float32 (bit for bit ggml's dequantization) and dotted
// with the float32 input, which the float64 reference tests of the models
// hold to 1e-4. Quantized (8-bit activations): where the kernel variant has
// integer dot products for the weight's type, the input rows are quantized
// once per call (8-bit blocks, as llama.cpp does) and dotted in integers;
// that is several times faster and changes each dot product by the
// activation rounding, about 0.4%.
type CPU struct {
	k     *kernels.Variant
	pool  *pool
	exact bool
	act   kernels.Activations // MatMul's quantized input, reused across calls

	pickID     int32 // the last Pick
	pickMargin float32
	pickFinite bool
}

var _ Picker = (*CPU)(nil)

var _ Backend = (*CPU)(nil)

// CPUOptions configures NewCPUWith.
type CPUOptions struct {
	// Threads is the number of workers (0: GOMAXPROCS, which follows the
	// machine's cores and cgroup CPU limits).
	Threads int
	// Kernels is the variant to run (nil: kernels.Select, which honours
	// $MAIRA_KERNELS).
	Kernels *kernels.Variant
	// Exact computes every MatMul on float32 inputs; otherwise quantized
	// weights use the variant's integer dot products where it has them
	// (see CPU).
	Exact bool
}

// NewCPUWith returns a CPU backend configured by o.
func NewCPUWith(o CPUOptions) (*CPU, error) {
	if o.Threads < 0 {
		return nil, fmt.Errorf("--threads %d: want 0 (all cores) or more", o.Threads)
	}
	k := o.Kernels
	if k == nil {
		var err error
		if k, err = kernels.Select(); err != nil {
			return nil, err
		}
	}
	threads := o.Threads
	if threads == 0 {
		threads = goruntime.GOMAXPROCS(0)
	}
	return &CPU{k: k, pool: newPool(threads), exact: o.Exact}, nil
}

// NewCPU returns an exact CPU backend (see CPU) with threads workers (0:
// GOMAXPROCS) running the kernel variant kernels.Select picks
// ($MAIRA_KERNELS or the best this CPU runs). Open, which the commands
// use, returns the faster quantized one.
func NewCPU(threads int) (*CPU, error) {
	return NewCPUWith(CPUOptions{Threads: threads, Exact: true})
}

// NewCPUWithKernels returns an exact CPU backend running kernel variant k.
func NewCPUWithKernels(threads int, k *kernels.Variant) (*CPU, error) {
	return NewCPUWith(CPUOptions{Threads: threads, Kernels: k, Exact: true})
}

// Name returns "cpu".
func (c *CPU) Name() string { return "cpu" }

// Describe returns "cpu: N threads, NAME kernels", and ", 8-bit
// activations" when quantized weights take the integer path.
func (c *CPU) Describe() string {
	s := fmt.Sprintf("cpu: %d threads, %s kernels", c.pool.n, c.k.Name)
	if !c.exact && c.k.Act(dtype.Q4_0) != kernels.ActNone {
		s += ", 8-bit activations"
	}
	return s
}

// Threads returns the number of workers.
func (c *CPU) Threads() int { return c.pool.n }

// Close stops the workers.
func (c *CPU) Close() error { c.pool.close(); return nil }

// cpuTensor is a row-major block of host memory; a view shares its
// parent's. A cache (kv set) is rows [row0, row0+rows) of a kvStore.
type cpuTensor struct {
	rows, cols int
	data       []float32
	kv         *kvStore
	row0       int
}

// kvStore is a key or value cache. Each head's positions lie together
// (head h, position p at (h·positions + p)·headDim), so a decode step's
// attention reads each head's keys as one contiguous run, which the
// prefetchers follow; rows interleaving the heads (a 256-byte piece per
// 8 KB row in F16) read at half the rate (kernels'
// BenchmarkAttentionDecode, f32/rows against f32/heads).
//
// In Q8_0 a head's row is kernels' Q8 row: hd int8 quants, then a float32
// scale per 32 (Q8_0's blocks with float32 scales, 144 bytes for 128
// values against 256 in F16).
type kvStore struct {
	t                    dtype.Type
	positions, heads, hd int
	f32                  []float32
	f16                  []uint16
	q8                   []byte
}

// at returns the offset of head h at position p, in values (F32, F16) or
// bytes (Q8_0).
func (s *kvStore) at(h, p int) int { return (h*s.positions + p) * s.row() }

// row returns the values or bytes of one head at one position.
func (s *kvStore) row() int {
	if s.t == dtype.Q8_0 {
		return kernels.Q8Row(s.hd)
	}
	return s.hd
}

func (t *cpuTensor) Rows() int { return t.rows }
func (t *cpuTensor) Cols() int { return t.cols }

type cpuWeight struct {
	name string
	m    *kernels.Matrix
}

func (w *cpuWeight) Name() string     { return w.name }
func (w *cpuWeight) Type() dtype.Type { return w.m.Type }
func (w *cpuWeight) Rows() int        { return w.m.Rows }
func (w *cpuWeight) Cols() int        { return w.m.Cols }

// Supports reports true for every type of quant/dtype: the generic kernels
// decode any of them with its ToFloat.
func (c *CPU) Supports(t dtype.Type) bool { return t.Known() }

// Weight wraps data without copying (an unaligned F32 tensor, which a GGUF
// file never has, is copied).
func (c *CPU) Weight(name string, t dtype.Type, rows, cols int, data []byte) (Weight, error) {
	m, err := kernels.NewMatrix(t, rows, cols, data)
	if err != nil {
		return nil, err
	}
	return &cpuWeight{name: name, m: m}, nil
}

// Alloc returns a zeroed tensor in host memory.
func (c *CPU) Alloc(rows, cols int) (Tensor, error) {
	if rows <= 0 || cols <= 0 || rows > math.MaxInt32 || cols > math.MaxInt32 {
		return nil, fmt.Errorf("tensor of %d x %d", rows, cols)
	}
	return &cpuTensor{rows: rows, cols: cols, data: make([]float32, rows*cols)}, nil
}

// AllocCache returns a zeroed key or value cache in host memory (see
// kvStore for its layout).
func (c *CPU) AllocCache(t dtype.Type, positions, heads, headDim int) (Tensor, error) {
	if t != dtype.F32 && t != dtype.F16 && t != dtype.Q8_0 {
		return nil, fmt.Errorf("key/value cache of type %s: want f32, f16 or q8_0", t)
	}
	if positions <= 0 || heads <= 0 || headDim <= 0 || positions > math.MaxInt32 || heads*headDim > math.MaxInt32 || positions > math.MaxInt/(2*heads*headDim) {
		return nil, fmt.Errorf("key/value cache of %d positions of %d heads of %d", positions, heads, headDim)
	}
	if t == dtype.Q8_0 && headDim%32 != 0 {
		return nil, fmt.Errorf("key/value cache of type q8_0 for heads of %d: want a multiple of 32", headDim)
	}
	s := &kvStore{t: t, positions: positions, heads: heads, hd: headDim}
	switch n := positions * heads * s.row(); t {
	case dtype.F16:
		s.f16 = make([]uint16, n)
	case dtype.Q8_0:
		s.q8 = make([]byte, n)
	default:
		s.f32 = make([]float32, n)
	}
	return &cpuTensor{rows: positions, cols: heads * headDim, kv: s}, nil
}

// Free is a no-op: the garbage collector frees host tensors.
func (c *CPU) Free(Tensor) {}

// View returns rows [row, row+n) of t.
func (c *CPU) View(t Tensor, row, n int) Tensor {
	x := c.any(t)
	if row < 0 || n < 0 || row+n > x.rows {
		panic(fmt.Sprintf("runtime: View of rows [%d, %d) of a %d-row tensor", row, row+n, x.rows))
	}
	if x.kv != nil {
		return &cpuTensor{rows: n, cols: x.cols, kv: x.kv, row0: x.row0 + row}
	}
	return &cpuTensor{rows: n, cols: x.cols, data: x.data[row*x.cols : (row+n)*x.cols : (row+n)*x.cols]}
}

// Write copies host values into dst.
func (c *CPU) Write(dst Tensor, src []float32) error {
	x := c.any(dst)
	if len(src) != x.rows*x.cols {
		return fmt.Errorf("write of %d values into a %d x %d tensor", len(src), x.rows, x.cols)
	}
	if x.kv != nil {
		c.store(x, src)
		return nil
	}
	copy(x.data, src)
	return nil
}

// Read copies src to the host.
func (c *CPU) Read(src Tensor, dst []float32) error {
	x := c.any(src)
	if len(dst) != x.rows*x.cols {
		return fmt.Errorf("read of a %d x %d tensor into %d values", x.rows, x.cols, len(dst))
	}
	if x.kv == nil {
		copy(dst, x.data)
		return nil
	}
	s := x.kv
	for r := 0; r < x.rows; r++ {
		for h := 0; h < s.heads; h++ {
			d, o := dst[r*x.cols+h*s.hd:r*x.cols+(h+1)*s.hd], s.at(h, x.row0+r)
			switch {
			case s.f16 != nil:
				c.k.HalfToFloat(d, s.f16[o:o+s.hd])
			case s.q8 != nil:
				c.k.Q8ToFloat(d, s.q8[o:o+s.row()])
			default:
				copy(d, s.f32[o:o+s.hd])
			}
		}
	}
	return nil
}

// store writes the row-major values src into the cache rows of x, each
// head's piece of a row to its place, rounded to the cache's type.
func (c *CPU) store(x *cpuTensor, src []float32) {
	s := x.kv
	c.pool.parallel(x.rows, rowGrain(x.cols), func(_, lo, hi int) {
		for r := lo; r < hi; r++ {
			for h := 0; h < s.heads; h++ {
				v, o := src[r*x.cols+h*s.hd:r*x.cols+(h+1)*s.hd], s.at(h, x.row0+r)
				switch {
				case s.f16 != nil:
					c.k.FloatToHalf(s.f16[o:o+s.hd], v)
				case s.q8 != nil:
					c.k.FloatToQ8(s.q8[o:o+s.row()], v)
				default:
					copy(s.f32[o:o+s.hd], v)
				}
			}
		}
	})
}

// Sync returns nil: CPU ops finish before they return.
func (c *CPU) Sync() error { return nil }

// t returns an activation tensor; any also accepts a cache.
func (c *CPU) t(t Tensor) *cpuTensor {
	x := c.any(t)
	if x.kv != nil {
		panic("runtime: a key/value cache used as an activation")
	}
	return x
}

func (c *CPU) any(t Tensor) *cpuTensor {
	x, ok := t.(*cpuTensor)
	if !ok {
		panic(fmt.Sprintf("runtime: a %T is not a cpu tensor", t))
	}
	return x
}

func (c *CPU) w(w Weight) *kernels.Matrix {
	x, ok := w.(*cpuWeight)
	if !ok {
		panic(fmt.Sprintf("runtime: a %T is not a cpu weight", w))
	}
	return x.m
}

// vec returns a vector weight's values.
func (c *CPU) vec(w Weight, n int, op string) []float32 {
	m := c.w(w)
	if m.F32 == nil || m.Rows != 1 || m.Cols != n {
		panic(fmt.Sprintf("runtime: %s: %s is a %d x %d %s, want an f32 vector of %d", op, w.Name(), m.Rows, m.Cols, m.Type, n))
	}
	return m.F32
}

func same(op string, ts ...*cpuTensor) {
	for _, t := range ts[1:] {
		if t.rows != ts[0].rows || t.cols != ts[0].cols {
			panic(fmt.Sprintf("runtime: %s of a %d x %d and a %d x %d tensor", op, ts[0].rows, ts[0].cols, t.rows, t.cols))
		}
	}
}

// rowGrain is how many rows make a chunk of an element-wise op: about 16K
// values, so small ops run inline and big ones spread over the workers.
func rowGrain(cols int) int { return max(1, (16<<10)/cols) }

// CopyRows copies src into dst, which may be a cache.
func (c *CPU) CopyRows(dst, src Tensor) {
	d, s := c.any(dst), c.t(src)
	same("CopyRows", d, s)
	if d.kv != nil {
		c.store(d, s.data)
		return
	}
	copy(d.data, s.data)
}

// Gather decodes table rows ids into dst.
func (c *CPU) Gather(dst Tensor, table Weight, ids []int32) {
	d, m := c.t(dst), c.w(table)
	if d.rows != len(ids) || d.cols != m.Cols {
		panic(fmt.Sprintf("runtime: Gather of %d rows of %s (%d wide) into %d x %d", len(ids), table.Name(), m.Cols, d.rows, d.cols))
	}
	for _, id := range ids {
		if id < 0 || int(id) >= m.Rows {
			panic(fmt.Sprintf("runtime: Gather: row %d of %s, which has %d", id, table.Name(), m.Rows))
		}
	}
	c.pool.parallel(len(ids), rowGrain(d.cols), func(_, lo, hi int) {
		c.k.Gather(d.data[lo*d.cols:], d.cols, m, ids[lo:hi])
	})
}

// matMulGrain is the output rows per chunk: a whole number of the kernel's
// weight-row tiles.
const matMulGrain = 16

// qGrain is the weight rows per chunk of a quantized MatMul: about two
// chunks per worker, so each worker streams long contiguous runs of weight
// rows (which the memory prefetchers follow) while a worker slowed by
// another process on the machine still hands a chunk to the others (four
// per worker measured 5% slower at decode, one leaves no slack).
func (c *CPU) qGrain(rows int) int {
	g := (rows + 2*c.pool.n - 1) / (2 * c.pool.n)
	return max(matMulGrain, (g+matMulGrain-1)/matMulGrain*matMulGrain)
}

// MatMul splits the output columns (weight rows) across the workers, so
// each weight row is read (and decoded) once, by one worker. When the
// variant has an integer dot product for the weight's type, the input rows
// are first quantized once, split by rows across the workers, and every
// worker reads the shared quantized copy.
func (c *CPU) MatMul(dst, x Tensor, w Weight) {
	d, xi, m := c.t(dst), c.t(x), c.w(w)
	if xi.cols != m.Cols || d.rows != xi.rows || d.cols != m.Rows {
		panic(fmt.Sprintf("runtime: MatMul of %d x %d by %s (%d x %d) into %d x %d", xi.rows, xi.cols, w.Name(), m.Rows, m.Cols, d.rows, d.cols))
	}
	if at := c.k.Act(m.Type); at != kernels.ActNone && !c.exact {
		a := &c.act
		a.Reset(at, xi.rows, xi.cols)
		if at == kernels.ActQ8K && xi.rows < c.pool.n {
			// Few rows (decode): split them by blocks, or one worker
			// quantizes while the others wait.
			for r := 0; r < xi.rows; r++ {
				c.pool.parallel(a.Blocks, 1, func(_, lo, hi int) {
					kernels.QuantizeQ8KBlocks(a, xi.data, xi.cols, r, lo, hi)
				})
			}
		} else {
			c.pool.parallel(xi.rows, max(1, (64<<10)/xi.cols), func(_, lo, hi int) {
				c.k.Quantize(a, xi.data, xi.cols, lo, hi)
			})
		}
		c.pool.parallel(m.Rows, c.qGrain(m.Rows), func(wk, lo, hi int) {
			c.k.MatMulQ(d.data, d.cols, a, m, lo, hi, &c.pool.scratch[wk])
		})
		return
	}
	c.pool.parallel(m.Rows, matMulGrain, func(wk, lo, hi int) {
		c.k.MatMul(d.data, d.cols, xi.data, xi.cols, xi.rows, m, lo, hi, &c.pool.scratch[wk])
	})
}

// AddBias adds bias to every row.
func (c *CPU) AddBias(x Tensor, bias Weight) {
	t := c.t(x)
	b := c.vec(bias, t.cols, "AddBias")
	c.pool.parallel(t.rows, rowGrain(t.cols), func(_, lo, hi int) {
		for r := lo; r < hi; r++ {
			row := t.data[r*t.cols : (r+1)*t.cols]
			for i := range row {
				row[i] += b[i]
			}
		}
	})
}

// ScaleCols multiplies each column by its scale.
func (c *CPU) ScaleCols(x Tensor, scale Weight) {
	t := c.t(x)
	s := c.vec(scale, t.cols, "ScaleCols")
	c.pool.parallel(t.rows, rowGrain(t.cols), func(_, lo, hi int) {
		for r := lo; r < hi; r++ {
			row := t.data[r*t.cols : (r+1)*t.cols]
			for i := range row {
				row[i] *= s[i]
			}
		}
	})
}

// Add sets dst = a + b.
func (c *CPU) Add(dst, a, b Tensor) {
	d, x, y := c.t(dst), c.t(a), c.t(b)
	same("Add", d, x, y)
	c.pool.parallel(len(d.data), 16<<10, func(_, lo, hi int) {
		dd, xx, yy := d.data[lo:hi], x.data[lo:hi], y.data[lo:hi]
		for i := range dd {
			dd[i] = xx[i] + yy[i]
		}
	})
}

// Mul sets dst = a ⊙ b.
func (c *CPU) Mul(dst, a, b Tensor) {
	d, x, y := c.t(dst), c.t(a), c.t(b)
	same("Mul", d, x, y)
	c.pool.parallel(len(d.data), 16<<10, func(_, lo, hi int) {
		dd, xx, yy := d.data[lo:hi], x.data[lo:hi], y.data[lo:hi]
		for i := range dd {
			dd[i] = xx[i] * yy[i]
		}
	})
}

// LayerNorm normalises each row.
func (c *CPU) LayerNorm(dst, x Tensor, w, b Weight, eps float32) {
	d, s := c.t(dst), c.t(x)
	same("LayerNorm", d, s)
	wv, bv := c.vec(w, s.cols, "LayerNorm"), c.vec(b, s.cols, "LayerNorm")
	c.pool.parallel(s.rows, rowGrain(s.cols), func(_, lo, hi int) {
		for r := lo; r < hi; r++ {
			c.k.LayerNorm(d.data[r*d.cols:(r+1)*d.cols], s.data[r*s.cols:(r+1)*s.cols], wv, bv, eps)
		}
	})
}

// RMSNorm normalises each row.
func (c *CPU) RMSNorm(dst, x Tensor, w Weight, eps float32) {
	d, s := c.t(dst), c.t(x)
	same("RMSNorm", d, s)
	wv := c.vec(w, s.cols, "RMSNorm")
	c.pool.parallel(s.rows, rowGrain(s.cols), func(_, lo, hi int) {
		for r := lo; r < hi; r++ {
			c.k.RMSNorm(d.data[r*d.cols:(r+1)*d.cols], s.data[r*s.cols:(r+1)*s.cols], wv, eps)
		}
	})
}

// GELU applies the exact GELU.
func (c *CPU) GELU(dst, x Tensor) {
	d, s := c.t(dst), c.t(x)
	same("GELU", d, s)
	c.pool.parallel(len(d.data), 16<<10, func(_, lo, hi int) { c.k.GELU(d.data[lo:hi], s.data[lo:hi]) })
}

// SiLUMul sets dst = silu(gate) ⊙ up.
func (c *CPU) SiLUMul(dst, gate, up Tensor) {
	d, g, u := c.t(dst), c.t(gate), c.t(up)
	same("SiLUMul", d, g, u)
	// 2K values a chunk: a decode step's 11008 spread over the workers
	// (SiLU's float64 exp costs about 6 ns a value).
	c.pool.parallel(len(d.data), 2<<10, func(_, lo, hi int) { c.k.SiLUMul(d.data[lo:hi], g.data[lo:hi], u.data[lo:hi]) })
}

// RoPE rotates each row at its position.
func (c *CPU) RoPE(x Tensor, heads, pos0 int, r Rope) {
	t := c.t(x)
	if heads <= 0 || t.cols%heads != 0 || (t.cols/heads)%2 != 0 {
		panic(fmt.Sprintf("runtime: RoPE of %d columns in %d heads", t.cols, heads))
	}
	factor := r.Factor
	if factor == 0 {
		factor = 1
	}
	hd := t.cols / heads
	c.pool.parallel(t.rows, rowGrain(t.cols), func(_, lo, hi int) {
		for i := lo; i < hi; i++ {
			c.k.RoPE(t.data[i*t.cols:(i+1)*t.cols], heads, hd, float64(pos0+i)/factor, r.Theta)
		}
	})
}

// attnRows is the query rows of one attention task: the kernel tiles
// them further; dynamic scheduling evens out the causal triangle.
const attnRows = 32

// Attention runs one task per (head, block of query rows).
func (c *CPU) Attention(dst, q, k, v Tensor, a Attn) {
	d, qt, kt, vt := c.t(dst), c.t(q), c.any(k), c.any(v)
	same("Attention", d, qt)
	same("Attention", kt, vt)
	if (kt.kv == nil) != (vt.kv == nil) || kt.kv != nil && (kt.kv.t != vt.kv.t || kt.row0 != vt.row0 || kt.kv.heads != vt.kv.heads || kt.kv.positions != vt.kv.positions) {
		panic("runtime: Attention of keys and values of different kinds")
	}
	if a.Heads <= 0 || a.KVHeads <= 0 || a.Heads%a.KVHeads != 0 || qt.cols%a.Heads != 0 || kt.cols != qt.cols/a.Heads*a.KVHeads {
		panic(fmt.Sprintf("runtime: Attention of q %d wide in %d heads with k/v %d wide in %d heads", qt.cols, a.Heads, kt.cols, a.KVHeads))
	}
	if a.Causal && (a.Pos0 < 0 || a.Pos0+qt.rows > kt.rows) {
		panic(fmt.Sprintf("runtime: causal Attention of %d rows at %d over %d keys", qt.rows, a.Pos0, kt.rows))
	}
	hd := qt.cols / a.Heads
	if kt.kv != nil && kt.kv.hd != hd {
		panic(fmt.Sprintf("runtime: Attention of heads of %d over a cache of heads of %d", hd, kt.kv.hd))
	}
	group := a.Heads / a.KVHeads
	blocks := (qt.rows + attnRows - 1) / attnRows
	scale := float32(1 / math.Sqrt(float64(hd)))
	c.pool.parallel(a.Heads*blocks, 1, func(wk, lo, hi int) {
		for task := lo; task < hi; task++ {
			h, r0 := task/blocks, task%blocks*attnRows
			r1 := min(r0+attnRows, qt.rows)
			kh := h / group
			ka := kernels.Attn{
				Out: d.data[r0*d.cols+h*hd:], LdOut: d.cols,
				Q: qt.data[r0*qt.cols+h*hd:], LdQ: qt.cols,
				Rows: r1 - r0, HeadDim: hd, Scale: scale,
				Keys: kt.rows, Causal: a.Causal, Pos0: a.Pos0 + r0,
			}
			switch s := kt.kv; {
			case s == nil:
				ka.K, ka.V, ka.LdKV = kt.data[kh*hd:], vt.data[kh*hd:], kt.cols
			case s.f16 != nil:
				o := s.at(kh, kt.row0)
				ka.K16, ka.V16, ka.LdKV = s.f16[o:], vt.kv.f16[o:], hd
			case s.q8 != nil:
				o := s.at(kh, kt.row0)
				ka.K8, ka.V8, ka.LdKV = s.q8[o:], vt.kv.q8[o:], s.row()
			default:
				o := s.at(kh, kt.row0)
				ka.K, ka.V, ka.LdKV = s.f32[o:], vt.kv.f32[o:], hd
			}
			c.k.Attention(&ka, &c.pool.scratch[wk])
		}
	})
}
