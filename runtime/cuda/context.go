package cuda

import (
	"fmt"
	"math"
	"os"
	goruntime "runtime"
	"unsafe"
)

// Device attributes (CUdevice_attribute) Open queries.
const (
	attrMultiprocessors   = 16
	attrIntegrated        = 18
	attrCanMapHostMemory  = 19
	attrMemoryClockKHz    = 36
	attrMemoryBusWidth    = 37
	attrComputeMajor      = 75
	attrComputeMinor      = 76
	attrPageableMemAccess = 88
)

// Device describes the GPU a Context runs on.
type Device struct {
	Ordinal       int
	Name          string
	Major, Minor  int    // compute capability
	TotalMem      uint64 // bytes
	FreeMem       uint64 // bytes free when the context opened
	Integrated    bool   // shares memory with the CPU (Jetson)
	CanMapHost    bool   // host memory can be mapped into the device
	Pageable      bool   // the device reads pageable host memory coherently
	SMs           int
	MemClockKHz   int
	BusWidthBits  int
	DriverVersion int // 12040 for CUDA 12.4
}

// Arch is the compute capability as "sm_87".
func (d *Device) Arch() string { return fmt.Sprintf("sm_%d%d", d.Major, d.Minor) }

// DriverString is the driver's CUDA version as "12.4".
func (d *Device) DriverString() string { return DriverVersionString(d.DriverVersion) }

// DriverVersionString formats cuDriverGetVersion's number (12040: "12.4").
func DriverVersionString(v int) string { return fmt.Sprintf("%d.%d", v/1000, v%1000/10) }

// PeakBandwidth is the memory's theoretical bandwidth in bytes/s from its
// clock and bus width (DDR: two transfers a clock), or 0 when unknown.
func (d *Device) PeakBandwidth() float64 {
	return 2 * float64(d.MemClockKHz) * 1e3 * float64(d.BusWidthBits) / 8
}

// Context is a CUDA context on one device, current on one goroutine locked
// to its OS thread, where the driver calls run in order (Do), except
// kernel launches, made from the caller's thread (Direct).
type Context struct {
	d      *driver
	Device Device
	ctx    uintptr
	stream uintptr // the context's stream: every op queues on it
	calls  chan func()
	closed bool
}

// Open loads the driver, initialises it and opens a context on device
// ordinal (its primary context) with one stream. The error wraps
// ErrNoDriver or ErrNoDevice where those are the reason.
func Open(ordinal int) (*Context, error) {
	d, err := load()
	if err != nil {
		return nil, err
	}
	return openDriver(d, ordinal)
}

// openDriver opens a context through d (the loaded driver, or the tests'
// stand-in).
func openDriver(d *driver, ordinal int) (*Context, error) {
	c := &Context{d: d, calls: make(chan func())}
	started := make(chan error)
	go c.loop(ordinal, started)
	if err := <-started; err != nil {
		return nil, err
	}
	return c, nil
}

// loop is the context's goroutine: it locks its OS thread, makes the
// context current there and runs the calls sent to it until Close.
func (c *Context) loop(ordinal int, started chan<- error) {
	goruntime.LockOSThread()
	// The thread is never unlocked: when the loop ends, the goroutine
	// exits and the runtime retires the thread with whatever driver state
	// it holds.
	if err := c.init(ordinal); err != nil {
		started <- err
		return
	}
	started <- nil
	for f := range c.calls {
		f()
	}
}

func (c *Context) init(ordinal int) error {
	d := c.d
	if err := check("cuInit", d.cuInit(0)); err != nil {
		if e := err.(*Error); e.Code == 100 || e.Code == 34 || e.Code == 999 && noDeviceNodes() {
			return fmt.Errorf("%w: %v", ErrNoDevice, err)
		}
		return err
	}
	var n int32
	if err := check("cuDeviceGetCount", d.cuDeviceGetCount(&n)); err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("%w: the driver sees none", ErrNoDevice)
	}
	if ordinal < 0 || ordinal >= int(n) {
		return fmt.Errorf("%w: device %d of %d", ErrNoDevice, ordinal, n)
	}
	var dev int32
	if err := check("cuDeviceGet", d.cuDeviceGet(&dev, int32(ordinal))); err != nil {
		return err
	}
	info := Device{Ordinal: ordinal}
	name := make([]byte, 256)
	if err := check("cuDeviceGetName", d.cuDeviceGetName(&name[0], int32(len(name)), dev)); err != nil {
		return err
	}
	info.Name = cString(name)
	attr := func(a int32) int {
		var v int32
		if d.cuDeviceGetAttribute(&v, a, dev) != 0 {
			return 0
		}
		return int(v)
	}
	info.Major, info.Minor = attr(attrComputeMajor), attr(attrComputeMinor)
	info.Integrated = attr(attrIntegrated) != 0
	info.CanMapHost = attr(attrCanMapHostMemory) != 0
	info.Pageable = attr(attrPageableMemAccess) != 0
	info.SMs = attr(attrMultiprocessors)
	info.MemClockKHz, info.BusWidthBits = attr(attrMemoryClockKHz), attr(attrMemoryBusWidth)
	var v int32
	if err := check("cuDriverGetVersion", d.cuDriverGetVersion(&v)); err != nil {
		return err
	}
	info.DriverVersion = int(v)
	if err := check("cuDeviceTotalMem_v2", d.cuDeviceTotalMem(&info.TotalMem, dev)); err != nil {
		return err
	}
	if err := check("cuDevicePrimaryCtxRetain", d.cuDevicePrimaryCtxRetain(&c.ctx, dev)); err != nil {
		return err
	}
	if err := check("cuCtxSetCurrent", d.cuCtxSetCurrent(c.ctx)); err != nil {
		d.cuDevicePrimaryCtxRelease(dev)
		return err
	}
	var total uint64
	if err := check("cuMemGetInfo_v2", d.cuMemGetInfo(&info.FreeMem, &total)); err != nil {
		d.cuDevicePrimaryCtxRelease(dev)
		return err
	}
	const nonBlocking = 1
	if err := check("cuStreamCreate", d.cuStreamCreate(&c.stream, nonBlocking)); err != nil {
		d.cuDevicePrimaryCtxRelease(dev)
		return err
	}
	c.Device = info
	return nil
}

// noDeviceNodes reports whether /dev has no NVIDIA device nodes, which
// turns cuInit's CUDA_ERROR_UNKNOWN into "no device" (a container without
// the GPU passed through).
func noDeviceNodes() bool {
	_, err1 := os.Stat("/dev/nvidia0")
	_, err2 := os.Stat("/dev/nvhost-ctrl-gpu") // Jetson
	return err1 != nil && err2 != nil
}

// Do runs f on the context's thread and returns its error.
func (c *Context) Do(f func() error) error {
	if c.closed {
		return fmt.Errorf("cuda: context closed")
	}
	done := make(chan error, 1)
	c.calls <- func() { done <- f() }
	return <-done
}

// Direct runs f with the calling goroutine locked to its OS thread and
// the context current there, so the driver calls f makes (Launch uses it
// for each kernel) run on that thread instead of hopping to the
// context's (a channel round trip, microseconds: for a decode step of
// hundreds of launches, as long as the GPU's work on a big GPU). The driver is thread-safe, a context may be
// current on several threads, and the one stream keeps the order of what
// the backend's one goroutine queues; Do-based calls inside f still work.
// The thread keeps the context current afterwards, which nothing else on
// it notices.
func (c *Context) Direct(f func() error) error {
	if c.closed {
		return fmt.Errorf("cuda: context closed")
	}
	goruntime.LockOSThread()
	defer goruntime.UnlockOSThread()
	if err := check("cuCtxSetCurrent", c.d.cuCtxSetCurrent(c.ctx)); err != nil {
		return err
	}
	return f()
}

// FreeMemory returns the device's free and total memory now.
func (c *Context) FreeMemory() (free, total uint64, err error) {
	err = c.Do(func() error { return check("cuMemGetInfo_v2", c.d.cuMemGetInfo(&free, &total)) })
	return free, total, err
}

// Close waits for queued work, destroys the stream and releases the
// context; the Context must not be used afterwards.
func (c *Context) Close() error {
	if c.closed {
		return nil
	}
	err := c.Do(func() error {
		err := check("cuStreamSynchronize", c.d.cuStreamSynchronize(c.stream))
		c.d.cuStreamDestroy(c.stream)
		var dev int32
		if c.d.cuDeviceGet(&dev, int32(c.Device.Ordinal)) == 0 {
			c.d.cuDevicePrimaryCtxRelease(dev)
		}
		return err
	})
	c.closed = true
	close(c.calls)
	return err
}

// Sync waits for the context's stream and returns the first error of its
// queued work.
func (c *Context) Sync() error {
	return c.Do(func() error { return check("cuStreamSynchronize", c.d.cuStreamSynchronize(c.stream)) })
}

// DevicePtr is an address in device memory (a CUdeviceptr).
type DevicePtr uintptr

// Alloc returns n bytes of device memory, zeroed.
func (c *Context) Alloc(n int) (DevicePtr, error) {
	if n <= 0 {
		return 0, fmt.Errorf("cuda: allocation of %d bytes", n)
	}
	var p uintptr
	err := c.Do(func() error {
		if err := check("cuMemAlloc_v2", c.d.cuMemAlloc(&p, uint64(n))); err != nil {
			return fmt.Errorf("%v (%d bytes)", err, n)
		}
		return check("cuMemsetD8Async", c.d.cuMemsetD8Async(p, 0, uint64(n), c.stream))
	})
	return DevicePtr(p), err
}

// Free releases memory from Alloc (after the queued work that uses it).
func (c *Context) Free(p DevicePtr) error {
	return c.Do(func() error { return check("cuMemFree_v2", c.d.cuMemFree(uintptr(p))) })
}

// CopyToDevice copies src into device memory at dst (queued; the host
// memory may be reused when it returns, the driver having staged it).
func (c *Context) CopyToDevice(dst DevicePtr, src []byte) error {
	if len(src) == 0 {
		return nil
	}
	var pin goruntime.Pinner
	pin.Pin(&src[0])
	defer pin.Unpin()
	return c.Do(func() error {
		return check("cuMemcpyHtoDAsync_v2", c.d.cuMemcpyHtoDAsync(uintptr(dst), unsafe.Pointer(&src[0]), uint64(len(src)), c.stream))
	})
}

// CopyToHost waits for the queued work and copies device memory at src
// into dst.
func (c *Context) CopyToHost(dst []byte, src DevicePtr) error {
	if len(dst) == 0 {
		return nil
	}
	var pin goruntime.Pinner
	pin.Pin(&dst[0])
	defer pin.Unpin()
	return c.Do(func() error {
		if err := check("cuMemcpyDtoHAsync_v2", c.d.cuMemcpyDtoHAsync(unsafe.Pointer(&dst[0]), uintptr(src), uint64(len(dst)), c.stream)); err != nil {
			return err
		}
		return check("cuStreamSynchronize", c.d.cuStreamSynchronize(c.stream))
	})
}

// CopyDevice queues a copy of n bytes between device addresses.
func (c *Context) CopyDevice(dst, src DevicePtr, n int) error {
	return c.Do(func() error {
		return check("cuMemcpyDtoDAsync_v2", c.d.cuMemcpyDtoDAsync(uintptr(dst), uintptr(src), uint64(n), c.stream))
	})
}

// Memset queues setting n bytes at p to v.
func (c *Context) Memset(p DevicePtr, v byte, n int) error {
	return c.Do(func() error { return check("cuMemsetD8Async", c.d.cuMemsetD8Async(uintptr(p), v, uint64(n), c.stream)) })
}

// Registered is host memory mapped into the device by HostRegister.
type Registered struct {
	base  unsafe.Pointer // page-aligned start registered
	Ptr   DevicePtr      // the device address of the caller's first byte
	bytes int
}

// pageRange widens [addr, addr+n) to whole pages of size page.
func pageRange(addr uintptr, n int, page int) (start uintptr, size int) {
	start = addr &^ uintptr(page-1)
	end := (addr + uintptr(n) + uintptr(page-1)) &^ uintptr(page-1)
	return start, int(end - start)
}

// HostRegister page-locks b's pages and maps them into the device, so
// kernels read them in place (on a Jetson, where the GPU shares the
// memory, the weights then exist once). b must not be Go heap memory (a
// memory-mapped model file is the use) and must stay mapped until
// Unregister.
func (c *Context) HostRegister(b []byte) (*Registered, error) {
	if len(b) == 0 {
		return nil, fmt.Errorf("cuda: registering no memory")
	}
	const (
		portable  = 1
		deviceMap = 2
		readOnly  = 8
	)
	start, size := pageRange(uintptr(unsafe.Pointer(&b[0])), len(b), os.Getpagesize())
	// start is the page holding b[0], which lies in the same mapping; the
	// conversion does not make a Go pointer out of thin air.
	base := unsafe.Add(unsafe.Pointer(&b[0]), -int(uintptr(unsafe.Pointer(&b[0]))-start))
	r := &Registered{base: base, bytes: size}
	err := c.Do(func() error {
		res := c.d.cuMemHostRegister(base, uint64(size), portable|deviceMap|readOnly)
		if res == 1 || res == 801 { // a driver without READ_ONLY: retry without
			res = c.d.cuMemHostRegister(base, uint64(size), portable|deviceMap)
		}
		if err := check("cuMemHostRegister_v2", res); err != nil {
			return fmt.Errorf("%v (%d bytes)", err, size)
		}
		var dp uintptr
		if err := check("cuMemHostGetDevicePointer_v2", c.d.cuMemHostGetDevicePointer(&dp, base, 0)); err != nil {
			c.d.cuMemHostUnregister(base)
			return err
		}
		r.Ptr = DevicePtr(dp + (uintptr(unsafe.Pointer(&b[0])) - start))
		return nil
	})
	if err != nil {
		return nil, err
	}
	return r, nil
}

// Unregister undoes HostRegister.
func (c *Context) Unregister(r *Registered) error {
	return c.Do(func() error { return check("cuMemHostUnregister", c.d.cuMemHostUnregister(r.base)) })
}

// Event is a CUDA event, for timing the stream.
type Event struct{ h uintptr }

// NewEvent creates an event that records times.
func (c *Context) NewEvent() (*Event, error) {
	e := &Event{}
	err := c.Do(func() error { return check("cuEventCreate", c.d.cuEventCreate(&e.h, 0)) })
	return e, err
}

// Record queues e on the context's stream.
func (c *Context) Record(e *Event) error {
	return c.Do(func() error { return check("cuEventRecord", c.d.cuEventRecord(e.h, c.stream)) })
}

// Elapsed waits for end and returns the milliseconds between start and end.
func (c *Context) Elapsed(start, end *Event) (float64, error) {
	var ms float32
	err := c.Do(func() error {
		if err := check("cuEventSynchronize", c.d.cuEventSynchronize(end.h)); err != nil {
			return err
		}
		return check("cuEventElapsedTime", c.d.cuEventElapsedTime(&ms, start.h, end.h))
	})
	return float64(ms), err
}

// DestroyEvent releases e.
func (c *Context) DestroyEvent(e *Event) error {
	return c.Do(func() error { return check("cuEventDestroy_v2", c.d.cuEventDestroy(e.h)) })
}

// BytesPerFloat is the size of the activations' float32.
const BytesPerFloat = 4

// clampInt32 reports whether n fits a kernel's int32 argument.
func fitsInt32(n int) bool { return n >= math.MinInt32 && n <= math.MaxInt32 }
