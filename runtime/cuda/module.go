package cuda

import (
	"fmt"
	"math"
	goruntime "runtime"
	"strings"
	"unsafe"
)

// JIT options of cuModuleLoadDataEx (CUjit_option).
const (
	jitInfoLogBuffer       = 3
	jitInfoLogBufferBytes  = 4
	jitErrorLogBuffer      = 5
	jitErrorLogBufferBytes = 6
	jitLogVerbose          = 12
)

// jitLogBytes is the size of each JIT log buffer.
const jitLogBytes = 16 << 10

// Module is loaded PTX.
type Module struct {
	c   *Context
	h   uintptr
	Log string // the JIT's information log
}

// JITError is a failed PTX load with the JIT compiler's error log.
type JITError struct {
	Err *Error
	Log string
}

func (e *JITError) Error() string {
	log := strings.TrimSpace(e.Log)
	if log == "" {
		return fmt.Sprintf("PTX JIT: %v", e.Err)
	}
	return fmt.Sprintf("PTX JIT: %v: %s", e.Err, log)
}

func (e *JITError) Unwrap() error { return e.Err }

// jitOptions builds cuModuleLoadDataEx's option and value arrays for the
// two log buffers. The buffers, and the arrays, are Go memory the caller
// pins for the call.
func jitOptions(info, errs []byte) ([]int32, []uintptr) {
	opts := []int32{jitInfoLogBuffer, jitInfoLogBufferBytes, jitErrorLogBuffer, jitErrorLogBufferBytes}
	vals := []uintptr{
		uintptr(unsafe.Pointer(&info[0])), uintptr(len(info)),
		uintptr(unsafe.Pointer(&errs[0])), uintptr(len(errs)),
	}
	return opts, vals
}

// LoadPTX JIT-compiles ptx for the device and loads it. A failure returns
// a *JITError carrying the compiler's log.
func (c *Context) LoadPTX(ptx string) (*Module, error) {
	image := make([]byte, len(ptx)+1) // NUL-terminated
	copy(image, ptx)
	info, errs := make([]byte, jitLogBytes), make([]byte, jitLogBytes)
	opts, vals := jitOptions(info, errs)
	// The driver reads image, opts and vals, and writes the logs, during
	// the call only; pin them so none can move (Go's collector does not
	// move heap objects today, and the pins keep that a guarantee).
	var pin goruntime.Pinner
	for _, p := range []unsafe.Pointer{unsafe.Pointer(&image[0]), unsafe.Pointer(&info[0]), unsafe.Pointer(&errs[0]), unsafe.Pointer(&opts[0]), unsafe.Pointer(&vals[0])} {
		pin.Pin(p)
	}
	defer pin.Unpin()
	m := &Module{c: c}
	err := c.Do(func() error {
		r := c.d.cuModuleLoadDataEx(&m.h, unsafe.Pointer(&image[0]), uint32(len(opts)), &opts[0], &vals[0])
		if r != 0 {
			return &JITError{Err: &Error{Call: "cuModuleLoadDataEx", Code: r}, Log: cString(errs)}
		}
		return nil
	})
	goruntime.KeepAlive(image)
	goruntime.KeepAlive(info)
	goruntime.KeepAlive(errs)
	if err != nil {
		return nil, err
	}
	m.Log = strings.TrimSpace(cString(info))
	return m, nil
}

// Unload releases the module.
func (m *Module) Unload() error {
	return m.c.Do(func() error { return check("cuModuleUnload", m.c.d.cuModuleUnload(m.h)) })
}

// Func is a kernel of a loaded module.
type Func struct {
	c    *Context
	h    uintptr
	Name string
}

// Func looks up the kernel called name (its extern "C" name).
func (m *Module) Func(name string) (*Func, error) {
	cname := append([]byte(name), 0)
	f := &Func{c: m.c, Name: name}
	err := m.c.Do(func() error {
		if err := check("cuModuleGetFunction", m.c.d.cuModuleGetFunction(&f.h, m.h, &cname[0])); err != nil {
			return fmt.Errorf("kernel %s: %v", name, err)
		}
		return nil
	})
	goruntime.KeepAlive(cname)
	return f, err
}

// SetMaxDynamicShared lets f launch with up to n bytes of dynamic shared
// memory (above the default 48 KiB).
func (f *Func) SetMaxDynamicShared(n int) error {
	const maxDynamicShared = 8 // CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES
	return f.c.Do(func() error {
		return check("cuFuncSetAttribute", f.c.d.cuFuncSetAttribute(f.h, maxDynamicShared, int32(n)))
	})
}

// Dim3 is a grid or block shape.
type Dim3 struct{ X, Y, Z int }

// Count is X·Y·Z (zero components count as 1).
func (d Dim3) Count() int { return max(d.X, 1) * max(d.Y, 1) * max(d.Z, 1) }

// Grid is a launch's geometry.
type Grid struct {
	Grid, Block Dim3
	Shared      int // dynamic shared memory, bytes
}

// Check reports a geometry the hardware refuses: at most 1024 threads a
// block, 2³¹-1 blocks in x and 65535 in y and z.
func (g Grid) Check() error {
	if b := g.Block.Count(); b < 1 || b > 1024 || g.Block.Z > 64 {
		return fmt.Errorf("cuda: block of %d threads (%v)", b, g.Block)
	}
	if g.Grid.X > math.MaxInt32 || g.Grid.Y > 65535 || g.Grid.Z > 65535 || g.Grid.X < 0 || g.Grid.Y < 0 || g.Grid.Z < 0 {
		return fmt.Errorf("cuda: grid of %v blocks", g.Grid)
	}
	if g.Shared < 0 || g.Shared > 227<<10 {
		return fmt.Errorf("cuda: %d bytes of shared memory", g.Shared)
	}
	return nil
}

// params is a kernel's argument list as cuLaunchKernel takes it: an array
// of pointers, the i-th to the i-th argument's value. Each value sits in
// its own 8-byte slot (a 4-byte argument in the slot's low half: the
// driver reads as many bytes as the kernel's parameter has, little-endian).
type params struct {
	slots []uint64
	ptrs  []unsafe.Pointer
}

// packParams converts the arguments: DevicePtr and uintptr (8 bytes),
// int32, uint32, float32 (4 bytes), int64, uint64, float64 (8 bytes).
func packParams(args []any) (*params, error) {
	p := &params{slots: make([]uint64, max(len(args), 1)), ptrs: make([]unsafe.Pointer, max(len(args), 1))}
	for i, a := range args {
		switch v := a.(type) {
		case DevicePtr:
			p.slots[i] = uint64(v)
		case uintptr:
			p.slots[i] = uint64(v)
		case int32:
			p.slots[i] = uint64(uint32(v))
		case uint32:
			p.slots[i] = uint64(v)
		case float32:
			p.slots[i] = uint64(math.Float32bits(v))
		case int64:
			p.slots[i] = uint64(v)
		case uint64:
			p.slots[i] = v
		case float64:
			p.slots[i] = math.Float64bits(v)
		case int:
			if !fitsInt32(v) {
				return nil, fmt.Errorf("cuda: kernel argument %d: %d overflows int32", i, v)
			}
			p.slots[i] = uint64(uint32(int32(v)))
		default:
			return nil, fmt.Errorf("cuda: kernel argument %d: unsupported type %T", i, a)
		}
		p.ptrs[i] = unsafe.Pointer(&p.slots[i])
	}
	return p, nil
}

// Launch queues f on the context's stream with geometry g and the kernel's
// arguments (see packParams; an int passes as int32).
func (f *Func) Launch(g Grid, args ...any) error {
	if err := g.Check(); err != nil {
		return fmt.Errorf("kernel %s: %v", f.Name, err)
	}
	p, err := packParams(args)
	if err != nil {
		return fmt.Errorf("kernel %s: %v", f.Name, err)
	}
	// cuLaunchKernel copies the arguments before it returns; the pins keep
	// the pointer array and the slots it points into where they are for
	// the call.
	var pin goruntime.Pinner
	pin.Pin(&p.slots[0])
	pin.Pin(&p.ptrs[0])
	defer pin.Unpin()
	c := f.c
	call := func() error {
		r := c.d.cuLaunchKernel(f.h, uint32(max(g.Grid.X, 1)), uint32(max(g.Grid.Y, 1)), uint32(max(g.Grid.Z, 1)),
			uint32(max(g.Block.X, 1)), uint32(max(g.Block.Y, 1)), uint32(max(g.Block.Z, 1)),
			uint32(g.Shared), c.stream, unsafe.Pointer(&p.ptrs[0]), nil)
		if r != 0 {
			return fmt.Errorf("kernel %s %v×%v: %v", f.Name, g.Grid, g.Block, &Error{Call: "cuLaunchKernel", Code: r})
		}
		return nil
	}
	// on this goroutine's thread, the context made current there: no hop
	// to the context's thread (a channel round trip, several
	// microseconds: a decode step's 600 launches would spend ms on it)
	err = c.Direct(call)
	goruntime.KeepAlive(p)
	return err
}

// Graph is a captured sequence of the stream's work, replayed with one
// launch (the decode step: hundreds of kernels, one host call).
type Graph struct {
	c          *Context
	graph, exe uintptr
}

// HasGraphs reports whether the driver exports the graph entry points.
func (c *Context) HasGraphs() bool {
	d := c.d
	return d.cuStreamBeginCapture != nil && d.cuStreamEndCapture != nil && d.cuGraphInstantiateWithFlags != nil &&
		d.cuGraphLaunch != nil && d.cuGraphExecDestroy != nil && d.cuGraphDestroy != nil
}

// Capture records the work record queues on the stream (launches and
// copies between device addresses; nothing that waits for the stream) as
// a graph instead of running it.
func (c *Context) Capture(record func() error) (*Graph, error) {
	graph, err := c.capture(record)
	if err != nil {
		return nil, err
	}
	g := &Graph{c: c, graph: graph}
	if err := c.Do(func() error {
		return check("cuGraphInstantiateWithFlags", c.d.cuGraphInstantiateWithFlags(&g.exe, g.graph, 0))
	}); err != nil {
		c.Do(func() error { c.d.cuGraphDestroy(g.graph); return nil })
		return nil, err
	}
	return g, nil
}

// capture returns the graph of what record queues.
func (c *Context) capture(record func() error) (uintptr, error) {
	if !c.HasGraphs() {
		return 0, fmt.Errorf("cuda: this driver has no CUDA graphs")
	}
	const relaxed = 2 // CU_STREAM_CAPTURE_MODE_RELAXED
	if err := c.Do(func() error { return check("cuStreamBeginCapture_v2", c.d.cuStreamBeginCapture(c.stream, relaxed)) }); err != nil {
		return 0, err
	}
	rerr := record()
	var graph uintptr
	err := c.Do(func() error { return check("cuStreamEndCapture", c.d.cuStreamEndCapture(c.stream, &graph)) })
	if rerr != nil || err != nil {
		if graph != 0 {
			c.Do(func() error { c.d.cuGraphDestroy(graph); return nil })
		}
		if rerr != nil {
			return 0, rerr
		}
		return 0, err
	}
	return graph, nil
}

// Recapture records what record queues and makes g replay it: the same
// launches with new parameters (a decode step at the next position)
// update g's instantiation in place (cuGraphExecUpdate, far cheaper than
// instantiating); anything else, or a driver without the update, gets a
// new instantiation.
func (c *Context) Recapture(g *Graph, record func() error) error {
	graph, err := c.capture(record)
	if err != nil {
		return err
	}
	return c.Do(func() error {
		updated := false
		switch {
		case c.d.cuGraphExecUpdateV2 != nil:
			var info graphUpdateInfo
			updated = c.d.cuGraphExecUpdateV2(g.exe, graph, &info) == 0
		case c.d.cuGraphExecUpdateV1 != nil:
			var node uintptr
			var res uint32
			updated = c.d.cuGraphExecUpdateV1(g.exe, graph, &node, &res) == 0
		}
		if !updated {
			var exe uintptr
			if err := check("cuGraphInstantiateWithFlags", c.d.cuGraphInstantiateWithFlags(&exe, graph, 0)); err != nil {
				c.d.cuGraphDestroy(graph)
				return err
			}
			c.d.cuGraphExecDestroy(g.exe)
			g.exe = exe
		}
		c.d.cuGraphDestroy(g.graph)
		g.graph = graph
		return nil
	})
}

// Launch queues the graph on the context's stream.
func (g *Graph) Launch() error {
	return g.c.Do(func() error { return check("cuGraphLaunch", g.c.d.cuGraphLaunch(g.exe, g.c.stream)) })
}

// Destroy releases the graph.
func (g *Graph) Destroy() error {
	return g.c.Do(func() error {
		err := check("cuGraphExecDestroy", g.c.d.cuGraphExecDestroy(g.exe))
		if e := check("cuGraphDestroy", g.c.d.cuGraphDestroy(g.graph)); err == nil {
			err = e
		}
		return err
	})
}
