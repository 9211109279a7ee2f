package testmodel

import (
	"fmt"
	"hash/fnv"
	"math"

	"maira/quant/dtype"
)

// DType is the checkpoint's storage type: "f32" or "bf16".
type DType string

// The storage types a test checkpoint may have.
const (
	F32  DType = "f32"
	BF16 DType = "bf16"
)

// ParseDType checks a --dtype value.
func ParseDType(s string) (DType, error) {
	switch DType(s) {
	case F32, BF16:
		return DType(s), nil
	}
	return "", fmt.Errorf("unknown --dtype %q (f32 or bf16)", s)
}

// torch returns the torch_dtype name config.json records.
func (d DType) torch() string {
	if d == BF16 {
		return "bfloat16"
	}
	return "float32"
}

// safetensors returns the safetensors dtype name.
func (d DType) safetensors() string {
	if d == BF16 {
		return "BF16"
	}
	return "F32"
}

func (d DType) size() int64 {
	if d == BF16 {
		return 2
	}
	return 4
}

// generator yields a tensor's values. Element i is a pure function of the
// seed, the tensor's name and i (a counter-based generator), so any range
// can be made on its own: chunks are generated in parallel, and the direct
// GGUF path reads exactly the values the safetensors path writes.
type generator struct {
	key    uint64
	scale  float32 // half-width of the uniform distribution
	offset float32
	dtype  DType
}

func newGenerator(seed uint64, t Tensor, d DType) generator {
	h := fnv.New64a()
	h.Write([]byte(t.Name))
	g := generator{key: splitmix(seed ^ h.Sum64()), dtype: d}
	// Uniform on [-a, a] has standard deviation a/sqrt(3).
	switch t.kind {
	case kindWeight:
		g.scale = float32(0.02 * math.Sqrt(3))
	case kindNorm:
		g.offset, g.scale = 1, 0.1
	case kindBias:
		g.scale = 0.02
	case kindScale:
		g.offset, g.scale = 0.1, 0.05
	}
	return g
}

func splitmix(x uint64) uint64 {
	x += 0x9E3779B97F4A7C15
	x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9
	x = (x ^ (x >> 27)) * 0x94D049BB133111EB
	return x ^ (x >> 31)
}

// fill writes elements [off, off+len(dst)) as float32, rounded to the
// storage type so they equal what the checkpoint holds.
func (g generator) fill(dst []float32, off int64) {
	const inv = 1.0 / (1 << 31)
	for i := range dst {
		r := splitmix(g.key + uint64(off+int64(i))*0x9E3779B97F4A7C15)
		u := float32(int32(r>>32)) * inv // [-1, 1)
		v := g.offset + g.scale*u
		if g.dtype == BF16 {
			v = dtype.BF16ToFP32(dtype.FP32ToBF16(v))
		}
		dst[i] = v
	}
}

// encode writes elements [off, off+n) in the storage type into dst.
func (g generator) encode(dst []byte, off int64, scratch []float32) {
	g.fill(scratch, off)
	switch g.dtype {
	case BF16:
		for i, v := range scratch {
			h := dtype.FP32ToBF16(v)
			dst[2*i], dst[2*i+1] = byte(h), byte(h>>8)
		}
	default:
		for i, v := range scratch {
			b := math.Float32bits(v)
			dst[4*i], dst[4*i+1], dst[4*i+2], dst[4*i+3] = byte(b), byte(b>>8), byte(b>>16), byte(b>>24)
		}
	}
}
