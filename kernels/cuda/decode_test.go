package cuda

import (
	"bytes"
	"encoding/binary"
	"math"
	"math/rand/v2"
	"os/exec"
	"testing"

	"maira/quant/dtype"
)

// TestChunkDecode compiles kernels.cu's weight decoders (chunk<T>, the
// code k_gather and k_mm run) for the CPU with clang-16 and holds them,
// bit for bit, to quant/dtype's decoding of the same bytes, for every
// type the kernels take: the block layouts and the order of each
// rounding, checked without a GPU.
func TestChunkDecode(t *testing.T) {
	bin := compileHost(t, "decode_host")
	r := rand.New(rand.NewPCG(11, 12))
	for _, ty := range []dtype.Type{dtype.F32, dtype.F16, dtype.BF16, dtype.Q8_0, dtype.Q4_0, dtype.Q4_K, dtype.Q6_K} {
		const rows, cols = 5, 512
		vals := make([]float32, rows*cols)
		for i := range vals {
			vals[i] = float32(r.NormFloat64()) * float32(1+i%7)
		}
		vals[3] = 0
		rb, _ := ty.RowBytes(cols)
		data := make([]byte, rb*rows)
		if err := ty.Encode(data, vals); err != nil {
			t.Fatal(err)
		}
		want := make([]float32, rows*cols)
		if err := ty.Decode(want, data); err != nil {
			t.Fatal(err)
		}
		var in bytes.Buffer
		binary.Write(&in, binary.LittleEndian, []int32{int32(ty), rows, cols})
		in.Write(data)
		cmd := exec.Command(bin)
		cmd.Stdin = &in
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("%s: host decoder: %v", ty, err)
		}
		if len(out) != 4*len(want) {
			t.Fatalf("%s: %d bytes back, want %d", ty, len(out), 4*len(want))
		}
		for i := range want {
			got := math.Float32frombits(binary.LittleEndian.Uint32(out[4*i:]))
			if math.Float32bits(got) != math.Float32bits(want[i]) {
				t.Fatalf("%s: value %d (row %d, column %d): kernel decoder %g, quant/dtype %g", ty, i, i/cols, i%cols, got, want[i])
			}
		}
	}
}
