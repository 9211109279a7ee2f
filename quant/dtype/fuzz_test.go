package dtype

import (
	"bytes"
	"encoding/binary"
	"math"
	"testing"
)

// FuzzDecode feeds arbitrary bytes (as read from a GGUF file) to every
// decoder: whatever the scales and quants say, decoding must not panic.
func FuzzDecode(f *testing.F) {
	f.Add([]byte{})
	f.Add(bytes.Repeat([]byte{0xff}, 210))
	f.Add(bytes.Repeat([]byte{0x7c, 0x00, 0x01}, 100)) // Inf and NaN scales
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, ty := range All() {
			tr := ty.Traits()
			nb := len(data) / tr.BlockBytes
			dst := make([]float32, nb*tr.BlockSize)
			if err := ty.Decode(dst, data[:nb*tr.BlockBytes]); err != nil {
				t.Fatalf("%s: %v", ty, err)
			}
		}
	})
}

// FuzzEncode feeds arbitrary float32 bit patterns to every encoder. NaN and
// Inf must not panic or hang. For finite rows the optimised K-quant encoders
// must also agree with the plain transliterations of ggml in ref_test.go.
func FuzzEncode(f *testing.F) {
	seed := func(vals ...float32) []byte {
		b := make([]byte, 4*len(vals))
		for i, v := range vals {
			binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(v))
		}
		return b
	}
	f.Add(seed(1, -2, 3.5, 0, 1e-40, 6e4))
	f.Add(seed(float32(math.NaN()), float32(math.Inf(1)), 1))
	f.Add(seed(3e38, -3e38, 1e-45, 0.5))
	f.Add(seed(-1, -1, -1, -1, -1, -1, -1, -1, 0))
	f.Fuzz(func(t *testing.T, data []byte) {
		// Repeat the given values over a whole super-block so that they
		// meet every position in the sub-blocks.
		n := len(data) / 4
		if n == 0 {
			return
		}
		x := make([]float32, qkK*((n+qkK-1)/qkK))
		finite := true
		for i := range x {
			v := math.Float32frombits(binary.LittleEndian.Uint32(data[4*(i%n):]))
			x[i] = v
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				finite = false
			}
		}
		for _, ty := range All() {
			tr := ty.Traits()
			q := make([]byte, len(x)/tr.BlockSize*tr.BlockBytes)
			if err := ty.Encode(q, x); err != nil {
				t.Fatalf("%s: %v", ty, err)
			}
			if !finite {
				continue
			}
			var ref func([]byte, []float32)
			switch ty {
			case Q4_K:
				ref = refEncodeQ4_K
			case Q6_K:
				ref = refEncodeQ6_K
			default:
				continue
			}
			want := make([]byte, len(q))
			ref(want, x)
			if !bytes.Equal(q, want) {
				t.Fatalf("%s: fast encoder differs from the reference for %v\n got %x\nwant %x", ty, x[:min(n, 16)], q, want)
			}
		}
	})
}
