package dtype

import (
	"encoding/binary"
	"math"
	"sync"
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
// quiet NaN 0x7e00 with the input's sign.
//
// ggml gets there with float multiplies (after Maratyszcza's FP16 library);
// this is the same function computed mostly on the integer bits (after
// Fabian Giesen's float_to_half_fast3_rtne), small enough for Go to inline.
// TestHalfEncodeAll checks all 2^32 inputs against ggml's results.
func FP32ToFP16(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	a := b & 0x7fffffff
	switch {
	case a >= 0x47800000: // >= 65536: Inf, or NaN, or finite overflow
		if a > 0x7f800000 {
			return sign | 0x7e00
		}
		return sign | 0x7c00
	case a < 0x38800000: // below 2^-14: a subnormal half or zero
		// Adding 0.5 puts |f| / 2^-24 in the low mantissa bits, rounded to
		// nearest even by the float add itself.
		return sign | uint16(math.Float32bits(math.Float32frombits(a)+0.5)-0x3f000000)
	default: // normal: rebias the exponent, round the 13 dropped bits to even
		// (a carry out of the mantissa rounds 65520..65535 up to Inf).
		return sign | uint16((a-0x38000000+0xfff+(a>>13)&1)>>13)
	}
}

// DecodeF16 converts little-endian binary16 values from src into dst with
// FP16ToFP32, like copy: it converts min(len(dst), len(src)/2) values and
// returns that count.
//
// It looks each value up in a table of all 65536 conversions (256 KiB, built
// on first use) and reads four values per 8-byte load: one load per value,
// where FP16ToFP32's branches mispredict on mixed zeros, subnormals and
// normals.
func DecodeF16(dst []float32, src []byte) int {
	n := min(len(dst), len(src)/2)
	dst, src = dst[:n], src[:2*n]
	t := f16Table()
	i := 0
	for ; i+4 <= n; i += 4 {
		v := binary.LittleEndian.Uint64(src[2*i:])
		d := dst[i : i+4 : i+4]
		d[0] = t[uint16(v)]
		d[1] = t[uint16(v>>16)]
		d[2] = t[uint16(v>>32)]
		d[3] = t[uint16(v>>48)]
	}
	for ; i < n; i++ {
		dst[i] = t[binary.LittleEndian.Uint16(src[2*i:])]
	}
	return n
}

// f16Table holds FP16ToFP32 of every half, indexed by its bits.
var f16Table = sync.OnceValue(func() *[1 << 16]float32 {
	var t [1 << 16]float32
	for h := range t {
		t[h] = FP16ToFP32(uint16(h))
	}
	return &t
})

// encodeF16 writes src as little-endian binary16 with FP32ToFP16.
func encodeF16(dst []byte, src []float32) {
	dst = dst[:2*len(src)]
	for i, f := range src {
		binary.LittleEndian.PutUint16(dst[2*i:], FP32ToFP16(f))
	}
}
