package safetensors

import (
	"math/rand/v2"
	"testing"
)

// benchDecode measures Float32 on 1M elements of dtype, reported as MB/s of
// encoded input, into a reused dst as the converter uses it.
func benchDecode(b *testing.B, dtype DType) {
	const n = 1 << 20
	size := dtype.Size()
	data := make([]byte, n*size)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range data {
		data[i] = byte(r.Uint32())
	}
	t := &Tensor{Name: "bench", DType: dtype, Shape: []int64{n}, Data: data, File: "mem"}
	dst := make([]float32, n)
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for b.Loop() {
		if err := t.Float32(dst, 0); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkFloat32BF16(b *testing.B) { benchDecode(b, BF16) }
func BenchmarkFloat32F16(b *testing.B)  { benchDecode(b, F16) }
func BenchmarkFloat32F32(b *testing.B)  { benchDecode(b, F32) }
