package dtype

import (
	"encoding/binary"
	"math"
)

// Q8_0: blocks of 32 values, each block an fp16 scale d followed by 32 int8
// quants; value = d * q (ggml-common.h block_q8_0, 34 bytes).
const (
	qk8_0      = 32
	q8_0Blocks = 2 + qk8_0
)

func init() {
	register(Q8_0, &Traits{Name: "q8_0", BlockSize: qk8_0, BlockBytes: q8_0Blocks, Quantized: true,
		ToFloat: decodeQ8_0, FromFloat: encodeQ8_0})
}

// encodeQ8_0 is ggml's quantize_row_q8_0_ref: d = max|x| / 127 and
// q = roundf(x / d) (half away from zero), computed as x * (1/d).
func encodeQ8_0(dst []byte, src []float32) {
	nb := len(src) / qk8_0
	dst = dst[:nb*q8_0Blocks]
	for i := 0; i < nb; i++ {
		x := (*[qk8_0]float32)(src[i*qk8_0:])
		y := (*[q8_0Blocks]byte)(dst[i*q8_0Blocks:])
		var amax float32
		for _, v := range x {
			// MAX(amax, fabsf(v)) is amax > |v| ? amax : |v|, which
			// lets a NaN through; kept for identical garbage.
			if a := absf(v); !(amax > a) {
				amax = a
			}
		}
		d := amax / 127
		var id float32
		if d != 0 {
			id = 1 / d
		}
		binary.LittleEndian.PutUint16(y[0:], FP32ToFP16(d))
		q := y[2:]
		for j, v := range x {
			q[j] = byte(roundTruncInt32(float32(v * id)))
		}
	}
}

// roundTruncInt32 is roundf followed by C's float-to-int conversion
// (truncInt32). For |f| < 2^23 it rounds half away from zero in float32
// arithmetic without the float64 detour of math.Round.
func roundTruncInt32(f float32) int32 {
	if a := absf(f); a < 0x1p23 {
		// trunc(|f| + 0.5) is not exact near 0.5-ulp, so take the
		// integer part and compare the remainder instead. Both steps are
		// branch-free: on real weights the rounding direction and the sign
		// are coin flips, and mispredicted branches here cost 3x the
		// whole encoder.
		t := int32(a)
		r := a - float32(t)                         // exact, in [0, 1)
		t += 1 - int32(math.Float32bits(r-0.5)>>31) // +1 when r >= 0.5; r-0.5 is never -0
		s := int32(math.Float32bits(f)) >> 31       // 0, or -1 for a negative f
		return (t ^ s) - s
	}
	return truncInt32(roundf(f))
}

// decodeQ8_0 is ggml's dequantize_row_q8_0: y = q * d.
func decodeQ8_0(dst []float32, src []byte) {
	nb := len(dst) / qk8_0
	src = src[:nb*q8_0Blocks]
	for i := 0; i < nb; i++ {
		x := (*[q8_0Blocks]byte)(src[i*q8_0Blocks:])
		y := (*[qk8_0]float32)(dst[i*qk8_0:])
		d := FP16ToFP32(binary.LittleEndian.Uint16(x[0:]))
		for j := range y {
			y[j] = float32(int8(x[2+j])) * d
		}
	}
}
