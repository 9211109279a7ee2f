package safetensors

import (
	"encoding/binary"
	"fmt"
	"math"
	"unsafe"

	"maira/quant/dtype"
)

// Tensor is one named array of a safetensors file.
type Tensor struct {
	Name  string
	DType DType
	Shape []int64 // empty for a 0-dim scalar
	Data  []byte  // zero-copy view into the memory-mapped file; nil after the file is closed
	File  string  // path of the file that holds it

	file *File // owner, for Set.Release; nil for tensors built by hand
	off  int64 // offset of Data within the file
}

// NumElements returns the product of the dimensions: 1 for a scalar, 0 when
// any dimension is 0. Shapes read by Parse are checked not to overflow.
func (t *Tensor) NumElements() int64 {
	n := int64(1)
	for _, d := range t.Shape {
		n *= d
	}
	return n
}

// Float32 decodes elements [off, off+len(dst)) of t into dst. It supports
// F32, F16 and BF16; any other dtype is an error naming the file, the tensor
// and the dtype. It sits on the conversion hot path, so it decodes straight
// from the mapping with no intermediate buffer; callers stream a large tensor
// through a reused dst.
func (t *Tensor) Float32(dst []float32, off int64) error {
	size := int64(t.DType.Size())
	switch t.DType {
	case F32, F16, BF16:
	default:
		return fmt.Errorf("%s: tensor %s: dtype %s cannot be decoded to float32 (only F32, F16 and BF16 can)", t.File, printName(t.Name), printName(string(t.DType)))
	}
	n := int64(len(dst))
	total := t.NumElements()
	if off < 0 || off > total || n > total-off {
		return fmt.Errorf("%s: tensor %s: elements [%d, %d) out of range (it has %d)", t.File, printName(t.Name), off, off+n, total)
	}
	if n == 0 {
		return nil
	}
	begin, end := off*size, (off+n)*size
	if end > int64(len(t.Data)) {
		return fmt.Errorf("%s: tensor %s: data holds %d bytes, elements [%d, %d) need %d (file closed?)", t.File, printName(t.Name), len(t.Data), off, off+n, end)
	}
	src := t.Data[begin:end]
	switch t.DType {
	case F32:
		decodeF32(dst, src)
	case F16:
		dtype.DecodeF16(dst, src)
	case BF16:
		dtype.DecodeBF16(dst, src)
	}
	return nil
}

// littleEndian is true on every platform maira ships for (amd64, arm64);
// the check keeps the F32 fast path honest should that ever change.
var littleEndian = func() bool {
	x := uint16(1)
	return *(*byte)(unsafe.Pointer(&x)) == 1
}()

// decodeF32 copies little-endian float32s. On a little-endian machine the
// bytes already are the floats, so it is one memmove; going through the
// bytes of dst avoids any alignment question about src (tensor data sits at
// whatever offset the header gives).
func decodeF32(dst []float32, src []byte) {
	if littleEndian {
		copy(unsafe.Slice((*byte)(unsafe.Pointer(&dst[0])), 4*len(dst)), src)
		return
	}
	src = src[:4*len(dst)]
	for i := range dst {
		dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(src[4*i:]))
	}
}
