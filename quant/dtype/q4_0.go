package dtype

import "encoding/binary"

// Q4_0: blocks of 32 values, each block an fp16 scale d followed by 16 bytes
// of nibbles; byte j holds element j in its low nibble and element j+16 in
// its high nibble; value = d * (q - 8) (ggml-common.h block_q4_0, 18 bytes).
const (
	qk4_0      = 32
	q4_0Blocks = 2 + qk4_0/2
)

func init() {
	register(Q4_0, &Traits{Name: "q4_0", BlockSize: qk4_0, BlockBytes: q4_0Blocks, Quantized: true,
		ToFloat: decodeQ4_0, FromFloat: encodeQ4_0})
}

// encodeQ4_0 is ggml's quantize_row_q4_0_ref. The scale is d = max / -8 where
// max is the signed value of largest magnitude (the first one on ties), so
// that value maps to q = 0 exactly and the other sign gets the 7 steps;
// q = MIN(15, (int8_t)(x/d + 8.5f)), truncating, with x/d computed as x * (1/d).
func encodeQ4_0(dst []byte, src []float32) {
	nb := len(src) / qk4_0
	dst = dst[:nb*q4_0Blocks]
	for i := 0; i < nb; i++ {
		x := (*[qk4_0]float32)(src[i*qk4_0:])
		y := (*[q4_0Blocks]byte)(dst[i*q4_0Blocks:])
		var amax, max float32
		for _, v := range x {
			if a := absf(v); amax < a {
				amax, max = a, v
			}
		}
		d := max / -8
		var id float32
		if d != 0 {
			id = 1 / d
		}
		binary.LittleEndian.PutUint16(y[0:], FP32ToFP16(d))
		q := y[2:]
		for j := 0; j < qk4_0/2; j++ {
			q[j] = q4_0Nibble(float32(x[j]*id)) | q4_0Nibble(float32(x[j+qk4_0/2]*id))<<4
		}
	}
}

// q4_0Nibble is (uint8_t)MIN(15, (int8_t)(v + 8.5f)). For inputs the scale
// can produce v lies in [-8, 8] and this is a plain truncation; for garbage
// (a subnormal scale whose inverse overflows) it follows gcc on x86-64.
// The float32(v) stops Go from fusing the caller's x*id into the add.
func q4_0Nibble(v float32) byte {
	q := int8(truncInt32(float32(v) + 8.5))
	if q > 15 {
		q = 15
	}
	return byte(q)
}

// decodeQ4_0 is ggml's dequantize_row_q4_0: y = (q - 8) * d.
func decodeQ4_0(dst []float32, src []byte) {
	nb := len(dst) / qk4_0
	src = src[:nb*q4_0Blocks]
	for i := 0; i < nb; i++ {
		x := (*[q4_0Blocks]byte)(src[i*q4_0Blocks:])
		y := (*[qk4_0]float32)(dst[i*qk4_0:])
		d := FP16ToFP32(binary.LittleEndian.Uint16(x[0:]))
		for j := 0; j < qk4_0/2; j++ {
			b := x[2+j]
			y[j] = float32(int32(b&0x0f)-8) * d
			y[j+qk4_0/2] = float32(int32(b>>4)-8) * d
		}
	}
}
