package dtype

import (
	"encoding/binary"
	"math"
)

func init() {
	register(BF16, &Traits{Name: "bf16", BlockSize: 1, BlockBytes: 2,
		ToFloat:   func(dst []float32, src []byte) { DecodeBF16(dst, src[:2*len(dst)]) },
		FromFloat: encodeBF16})
}

// BF16ToFP32 widens a bfloat16 to float32 as ggml's ggml_compute_bf16_to_fp32
// (GGML_BF16_TO_FP32) does: the 16 bits become the high half, exactly.
func BF16ToFP32(h uint16) float32 {
	return math.Float32frombits(uint32(h) << 16)
}

// FP32ToBF16 narrows a float32 to bfloat16 as ggml's ggml_compute_fp32_to_bf16
// (GGML_FP32_TO_BF16) does: round to nearest even on the bits (so overflow
// goes to infinity and subnormals are kept, not flushed), and a NaN keeps its
// sign and top payload bits and is made quiet.
func FP32ToBF16(f float32) uint16 {
	u := math.Float32bits(f)
	if u&0x7fffffff > 0x7f800000 { // NaN
		return uint16(u>>16) | 64
	}
	return uint16((u + (0x7fff + (u>>16)&1)) >> 16)
}

// DecodeBF16 converts little-endian bfloat16 values from src into dst with
// BF16ToFP32, like copy: it converts min(len(dst), len(src)/2) values and
// returns that count. It reads four values per 8-byte load.
func DecodeBF16(dst []float32, src []byte) int {
	n := min(len(dst), len(src)/2)
	dst, src = dst[:n], src[:2*n]
	i := 0
	for ; i+4 <= n; i += 4 {
		v := binary.LittleEndian.Uint64(src[2*i:])
		d := dst[i : i+4 : i+4]
		d[0] = math.Float32frombits(uint32(v) << 16)
		d[1] = math.Float32frombits(uint32(v) & 0xffff0000)
		d[2] = math.Float32frombits(uint32(v>>32) << 16)
		d[3] = math.Float32frombits(uint32(v>>32) & 0xffff0000)
	}
	for ; i < n; i++ {
		dst[i] = math.Float32frombits(uint32(binary.LittleEndian.Uint16(src[2*i:])) << 16)
	}
	return n
}

// encodeBF16 writes src as little-endian bfloat16 with FP32ToBF16.
func encodeBF16(dst []byte, src []float32) {
	dst = dst[:2*len(src)]
	for i, f := range src {
		binary.LittleEndian.PutUint16(dst[2*i:], FP32ToBF16(f))
	}
}
