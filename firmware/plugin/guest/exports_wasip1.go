//go:build wasip1

package guest

import "unsafe"

// held keeps the input buffers handed out by alloc and the last result
// reachable, so that the garbage collector does not reuse them while the
// host reads or writes them. An instance serves one call, so nothing grows.
var held [][]byte

// alloc returns a buffer of size bytes in linear memory for the host to
// write the report into.
//
//lint:ignore U1000 the host calls it (go:wasmexport)
//go:wasmexport alloc
func alloc(size uint32) uint32 {
	buf := make([]byte, size+1) // +1: a non-nil pointer even for size 0
	held = append(held, buf)
	return uint32(uintptr(unsafe.Pointer(unsafe.SliceData(buf))))
}

// export runs the registered Exporter on the len bytes at ptr and returns
// where its framed result lies: ptr<<32 | len.
//
//lint:ignore U1000 the host calls it (go:wasmexport)
//go:wasmexport export
func export(ptr, size uint32) uint64 {
	in := unsafe.Slice((*byte)(unsafe.Add(nil, ptr)), size)
	out := Call(in)
	held = append(held, out)
	if len(out) == 0 {
		return 0
	}
	return uint64(uintptr(unsafe.Pointer(unsafe.SliceData(out))))<<32 | uint64(len(out))
}
