package dtype

import (
	"encoding/binary"
	"math"
)

func init() {
	register(F16, &Traits{Name: "f16", BlockSize: 1, BlockBytes: 2,
		ToFloat:   func(dst []float32, src []byte) { DecodeF16(dst, src[:2*len(dst)]) },
		FromFloat: encodeF16})
}

// FP16ToFP32 converts an IEEE binary16 value to float32 exactly as ggml's
// ggml_compute_fp16_to_fp32 (GGML_FP16_TO_FP32) does. Every finite half and
// the infinities convert exactly; a NaN keeps its sign and payload and comes
// out quiet, because ggml builds the NaN's bit pattern and then multiplies it
// by 2^-112, and a multiply quiets a signalling NaN.
func FP16ToFP32(h uint16) float32 {
	sign := uint32(h&0x8000) << 16
	em := uint32(h & 0x7fff) // exponent and mantissa
	switch {
	case em >= 0x7c00: // Inf or NaN
		bits := em<<13 | 0x7f800000
		if em > 0x7c00 {
			bits |= 0x00400000
		}
		return math.Float32frombits(sign | bits)
	case em >= 0x0400: // normal: rebias the exponent from 15 to 127
		return math.Float32frombits(sign | (em<<13 + 112<<23))
	default: // zero or subnormal: em * 2^-24, exact in float32
		return math.Float32frombits(sign | math.Float32bits(float32(em)*0x1p-24))
	}
}

// FP32ToFP16 converts a float32 to IEEE binary16 exactly as ggml's
// ggml_compute_fp32_to_fp16 (GGML_FP32_TO_FP16) does: round to nearest even,
// overflow to infinity, gradual underflow to subnormals, and any NaN to the
// quiet NaN 0x7e00 with the input's sign. The arithmetic is ggml's own
// (after Maratyszcza's FP16 library), step for step.
func FP32ToFP16(f float32) uint16 {
	const scaleToInf = 0x1p+112
	const scaleToZero = 0x1p-110
	w := math.Float32bits(f)
	// The explicit conversions keep Go from fusing the multiply into the add
	// below; ggml rounds after each step.
	base := float32(float32(math.Float32frombits(w&0x7fffffff)*scaleToInf) * scaleToZero)
	shl1 := w + w
	sign := w & 0x80000000
	bias := shl1 & 0xff000000
	if bias < 0x71000000 {
		bias = 0x71000000
	}
	base = math.Float32frombits(bias>>1+0x07800000) + base
	bits := math.Float32bits(base)
	expBits := (bits >> 13) & 0x00007c00
	mantBits := bits & 0x00000fff
	if shl1 > 0xff000000 { // NaN
		return uint16(sign>>16) | 0x7e00
	}
	return uint16(sign>>16) | uint16(expBits+mantBits)
}

// DecodeF16 converts little-endian binary16 values from src into dst with
// FP16ToFP32, like copy: it converts min(len(dst), len(src)/2) values and
// returns that count.
func DecodeF16(dst []float32, src []byte) int {
	n := min(len(dst), len(src)/2)
	dst, src = dst[:n], src[:2*n]
	for i := range dst {
		dst[i] = FP16ToFP32(binary.LittleEndian.Uint16(src[2*i:]))
	}
	return n
}

// encodeF16 writes src as little-endian binary16 with FP32ToFP16.
func encodeF16(dst []byte, src []float32) {
	dst = dst[:2*len(src)]
	for i, f := range src {
		binary.LittleEndian.PutUint16(dst[2*i:], FP32ToFP16(f))
	}
}
