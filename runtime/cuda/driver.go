// Package cuda runs maira on an NVIDIA GPU through the CUDA driver API
// (libcuda.so.1), loaded at run time with purego: the binary needs no cgo
// and no CUDA toolkit, and on a machine without the driver it reports why
// and the caller falls back to the CPU.
//
// The driver is loaded only in builds with -tags cuda: dlopen needs the
// system's dynamic loader, so purego makes the binary dynamically linked
// against the C library (libc.so.6, libdl, libpthread), where the default
// build is a static binary (which the arm64 tests run under qemu-user
// without an arm64 C library). Without the tag, Open reports that the
// build has no CUDA support and everything else here (memory plans,
// launch geometry) works as usual.
//
// Every driver call goes through one goroutine locked to its OS thread
// (see thread.go), which holds the context current. Kernels are the PTX of
// package maira/kernels/cuda, JIT-compiled by the driver when a module
// loads.
package cuda

import (
	"errors"
	"fmt"
	"sync"
	"unsafe"
)

// Library is the driver library dlopen looks for.
const Library = "libcuda.so.1"

// result is a CUresult.
type result = uint32

// Error is a failed driver call: the call and the CUresult with its name.
type Error struct {
	Call string
	Code uint32
}

func (e *Error) Error() string {
	return fmt.Sprintf("%s: %s (CUresult %d)", e.Call, ResultName(e.Code), e.Code)
}

// ErrNoDriver is wrapped by Load's error when libcuda.so.1 (or one of the
// symbols maira needs) is absent.
var ErrNoDriver = errors.New("no CUDA driver")

// ErrNoDevice is wrapped by Open's error when the driver finds no device.
var ErrNoDevice = errors.New("no CUDA device")

// resultNames are the CUresult codes a driver call here can return, so an
// error names its code even when cuGetErrorName is unavailable.
var resultNames = map[uint32]string{
	0:   "CUDA_SUCCESS",
	1:   "CUDA_ERROR_INVALID_VALUE",
	2:   "CUDA_ERROR_OUT_OF_MEMORY",
	3:   "CUDA_ERROR_NOT_INITIALIZED",
	4:   "CUDA_ERROR_DEINITIALIZED",
	34:  "CUDA_ERROR_STUB_LIBRARY",
	46:  "CUDA_ERROR_DEVICE_UNAVAILABLE",
	100: "CUDA_ERROR_NO_DEVICE",
	101: "CUDA_ERROR_INVALID_DEVICE",
	102: "CUDA_ERROR_DEVICE_NOT_LICENSED",
	200: "CUDA_ERROR_INVALID_IMAGE",
	201: "CUDA_ERROR_INVALID_CONTEXT",
	209: "CUDA_ERROR_NO_BINARY_FOR_GPU",
	218: "CUDA_ERROR_INVALID_PTX",
	221: "CUDA_ERROR_JIT_COMPILER_NOT_FOUND",
	222: "CUDA_ERROR_UNSUPPORTED_PTX_VERSION",
	300: "CUDA_ERROR_INVALID_SOURCE",
	400: "CUDA_ERROR_INVALID_HANDLE",
	500: "CUDA_ERROR_NOT_FOUND",
	600: "CUDA_ERROR_NOT_READY",
	700: "CUDA_ERROR_ILLEGAL_ADDRESS",
	701: "CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES",
	702: "CUDA_ERROR_LAUNCH_TIMEOUT",
	704: "CUDA_ERROR_PEER_ACCESS_ALREADY_ENABLED",
	712: "CUDA_ERROR_HOST_MEMORY_ALREADY_REGISTERED",
	713: "CUDA_ERROR_HOST_MEMORY_NOT_REGISTERED",
	715: "CUDA_ERROR_ILLEGAL_INSTRUCTION",
	716: "CUDA_ERROR_MISALIGNED_ADDRESS",
	719: "CUDA_ERROR_LAUNCH_FAILED",
	801: "CUDA_ERROR_NOT_SUPPORTED",
	804: "CUDA_ERROR_COMPAT_NOT_SUPPORTED_ON_DEVICE",
	900: "CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED",
	901: "CUDA_ERROR_STREAM_CAPTURE_INVALIDATED",
	999: "CUDA_ERROR_UNKNOWN",
}

// ResultName returns the CUresult's name (CUDA_ERROR_OUT_OF_MEMORY), from
// the driver's cuGetErrorName where loaded, else from a built-in table.
func ResultName(code uint32) string {
	if d, _ := load(); d != nil && d.cuGetErrorName != nil {
		var p *byte
		if d.cuGetErrorName(code, &p) == 0 && p != nil {
			return goString(p)
		}
	}
	if s, ok := resultNames[code]; ok {
		return s
	}
	return fmt.Sprintf("CUresult(%d)", code)
}

// goString copies the NUL-terminated C string at p.
func goString(p *byte) string {
	if p == nil {
		return ""
	}
	n := 0
	for *(*byte)(unsafe.Add(unsafe.Pointer(p), n)) != 0 {
		n++
	}
	return string(unsafe.Slice(p, n))
}

// cString trims a C buffer at its first NUL.
func cString(b []byte) string {
	for i, c := range b {
		if c == 0 {
			return string(b[:i])
		}
	}
	return string(b)
}

// driver holds the driver's entry points. Handles (CUcontext, CUmodule,
// CUfunction, CUstream, CUevent, CUgraph) are uintptrs; device pointers
// (CUdeviceptr) too.
type driver struct {
	cuInit                      func(flags uint32) result
	cuDriverGetVersion          func(v *int32) result
	cuDeviceGetCount            func(n *int32) result
	cuDeviceGet                 func(dev *int32, ordinal int32) result
	cuDeviceGetName             func(name *byte, n int32, dev int32) result
	cuDeviceGetAttribute        func(v *int32, attr int32, dev int32) result
	cuDeviceTotalMem            func(bytes *uint64, dev int32) result
	cuDevicePrimaryCtxRetain    func(ctx *uintptr, dev int32) result
	cuDevicePrimaryCtxRelease   func(dev int32) result
	cuCtxSetCurrent             func(ctx uintptr) result
	cuMemGetInfo                func(free, total *uint64) result
	cuMemAlloc                  func(p *uintptr, n uint64) result
	cuMemFree                   func(p uintptr) result
	cuMemsetD8Async             func(p uintptr, v uint8, n uint64, stream uintptr) result
	cuMemcpyHtoDAsync           func(dst uintptr, src unsafe.Pointer, n uint64, stream uintptr) result
	cuMemcpyDtoHAsync           func(dst unsafe.Pointer, src uintptr, n uint64, stream uintptr) result
	cuMemcpyDtoDAsync           func(dst, src uintptr, n uint64, stream uintptr) result
	cuMemHostRegister           func(p unsafe.Pointer, n uint64, flags uint32) result
	cuMemHostUnregister         func(p unsafe.Pointer) result
	cuMemHostGetDevicePointer   func(dp *uintptr, p unsafe.Pointer, flags uint32) result
	cuStreamCreate              func(s *uintptr, flags uint32) result
	cuStreamDestroy             func(s uintptr) result
	cuStreamSynchronize         func(s uintptr) result
	cuEventCreate               func(e *uintptr, flags uint32) result
	cuEventRecord               func(e, s uintptr) result
	cuEventSynchronize          func(e uintptr) result
	cuEventElapsedTime          func(ms *float32, start, end uintptr) result
	cuEventDestroy              func(e uintptr) result
	cuModuleLoadDataEx          func(m *uintptr, image unsafe.Pointer, n uint32, opts *int32, vals *uintptr) result
	cuModuleUnload              func(m uintptr) result
	cuModuleGetFunction         func(f *uintptr, m uintptr, name *byte) result
	cuFuncSetAttribute          func(f uintptr, attr int32, v int32) result
	cuLaunchKernel              func(f uintptr, gx, gy, gz, bx, by, bz, shared uint32, s uintptr, params unsafe.Pointer, extra unsafe.Pointer) result
	cuGetErrorName              func(code uint32, s **byte) result
	cuStreamBeginCapture        func(s uintptr, mode uint32) result
	cuStreamEndCapture          func(s uintptr, g *uintptr) result
	cuGraphInstantiateWithFlags func(e *uintptr, g uintptr, flags uint64) result
	cuGraphLaunch               func(e, s uintptr) result
	cuGraphExecDestroy          func(e uintptr) result
	cuGraphDestroy              func(g uintptr) result
	// cuGraphExecUpdate_v2 (CUDA 12: a result-info struct) or, on older
	// drivers, cuGraphExecUpdate (CUDA 11: error node and result apart).
	cuGraphExecUpdateV2 func(e, g uintptr, info *graphUpdateInfo) result
	cuGraphExecUpdateV1 func(e, g uintptr, errNode *uintptr, res *uint32) result
}

// graphUpdateInfo is room for CUgraphExecUpdateResultInfo (a result code
// and two nodes: 24 bytes), which the driver fills; the call's own result
// says all maira needs (updated, or instantiate anew).
type graphUpdateInfo [3]uint64

var (
	loadOnce sync.Once
	loaded   *driver
	loadErr  error
	// libraryPath is what Load dlopens; tests point it at a missing file.
	libraryPath = Library
)

// load dlopens the driver once and binds its entry points; it does not
// call cuInit.
func load() (*driver, error) {
	loadOnce.Do(func() { loaded, loadErr = loadFrom(libraryPath) })
	return loaded, loadErr
}

// check turns a CUresult into an error naming the call.
func check(call string, r result) error {
	if r == 0 {
		return nil
	}
	return &Error{Call: call, Code: r}
}
