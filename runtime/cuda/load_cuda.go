//go:build cuda

package cuda

import (
	"fmt"

	"github.com/ebitengine/purego"
)

// Built reports whether this build can load the CUDA driver.
const Built = true

func loadFrom(path string) (*driver, error) {
	h, err := purego.Dlopen(path, purego.RTLD_NOW|purego.RTLD_LOCAL)
	if err != nil {
		return nil, fmt.Errorf("%w: cannot load %s (is the NVIDIA driver installed?): %v", ErrNoDriver, path, err)
	}
	d := &driver{}
	for _, s := range d.symbols() {
		p, err := purego.Dlsym(h, s.name)
		if err != nil || p == 0 {
			if s.optional {
				continue
			}
			purego.Dlclose(h)
			return nil, fmt.Errorf("%w: %s has no %s (driver too old?)", ErrNoDriver, path, s.name)
		}
		purego.RegisterFunc(s.fn, p)
	}
	return d, nil
}

// symbols maps each entry point to its exported name (the _v2 ABI where
// the driver has one). Optional ones (graphs, error names) may be absent
// from an old driver; the others are required.
func (d *driver) symbols() []struct {
	fn       any
	name     string
	optional bool
} {
	type s = struct {
		fn       any
		name     string
		optional bool
	}
	return []s{
		{&d.cuInit, "cuInit", false},
		{&d.cuDriverGetVersion, "cuDriverGetVersion", false},
		{&d.cuDeviceGetCount, "cuDeviceGetCount", false},
		{&d.cuDeviceGet, "cuDeviceGet", false},
		{&d.cuDeviceGetName, "cuDeviceGetName", false},
		{&d.cuDeviceGetAttribute, "cuDeviceGetAttribute", false},
		{&d.cuDeviceTotalMem, "cuDeviceTotalMem_v2", false},
		{&d.cuDevicePrimaryCtxRetain, "cuDevicePrimaryCtxRetain", false},
		{&d.cuDevicePrimaryCtxRelease, "cuDevicePrimaryCtxRelease_v2", false},
		{&d.cuCtxSetCurrent, "cuCtxSetCurrent", false},
		{&d.cuMemGetInfo, "cuMemGetInfo_v2", false},
		{&d.cuMemAlloc, "cuMemAlloc_v2", false},
		{&d.cuMemFree, "cuMemFree_v2", false},
		{&d.cuMemsetD8Async, "cuMemsetD8Async", false},
		{&d.cuMemcpyHtoDAsync, "cuMemcpyHtoDAsync_v2", false},
		{&d.cuMemcpyDtoHAsync, "cuMemcpyDtoHAsync_v2", false},
		{&d.cuMemcpyDtoDAsync, "cuMemcpyDtoDAsync_v2", false},
		{&d.cuMemHostRegister, "cuMemHostRegister_v2", false},
		{&d.cuMemHostUnregister, "cuMemHostUnregister", false},
		{&d.cuMemHostGetDevicePointer, "cuMemHostGetDevicePointer_v2", false},
		{&d.cuStreamCreate, "cuStreamCreate", false},
		{&d.cuStreamDestroy, "cuStreamDestroy_v2", false},
		{&d.cuStreamSynchronize, "cuStreamSynchronize", false},
		{&d.cuEventCreate, "cuEventCreate", false},
		{&d.cuEventRecord, "cuEventRecord", false},
		{&d.cuEventSynchronize, "cuEventSynchronize", false},
		{&d.cuEventElapsedTime, "cuEventElapsedTime", false},
		{&d.cuEventDestroy, "cuEventDestroy_v2", false},
		{&d.cuModuleLoadDataEx, "cuModuleLoadDataEx", false},
		{&d.cuModuleUnload, "cuModuleUnload", false},
		{&d.cuModuleGetFunction, "cuModuleGetFunction", false},
		{&d.cuFuncSetAttribute, "cuFuncSetAttribute", false},
		{&d.cuLaunchKernel, "cuLaunchKernel", false},
		{&d.cuGetErrorName, "cuGetErrorName", true},
		{&d.cuStreamBeginCapture, "cuStreamBeginCapture_v2", true},
		{&d.cuStreamEndCapture, "cuStreamEndCapture", true},
		{&d.cuGraphInstantiateWithFlags, "cuGraphInstantiateWithFlags", true},
		{&d.cuGraphLaunch, "cuGraphLaunch", true},
		{&d.cuGraphExecDestroy, "cuGraphExecDestroy", true},
		{&d.cuGraphDestroy, "cuGraphDestroy", true},
		{&d.cuGraphExecUpdateV2, "cuGraphExecUpdate_v2", true},
		{&d.cuGraphExecUpdateV1, "cuGraphExecUpdate", true},
	}
}
