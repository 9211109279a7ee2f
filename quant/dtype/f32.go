package dtype

import (
	"encoding/binary"
	"math"
)

func init() {
	register(F32, &Traits{Name: "f32", BlockSize: 1, BlockBytes: 4, ToFloat: decodeF32, FromFloat: encodeF32})
}

// decodeF32 copies little-endian IEEE binary32 values.
func decodeF32(dst []float32, src []byte) {
	src = src[:4*len(dst)]
	for i := range dst {
		dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(src[4*i:]))
	}
}

// encodeF32 writes src as little-endian IEEE binary32, bits unchanged (NaN
// payloads included).
func encodeF32(dst []byte, src []float32) {
	dst = dst[:4*len(src)]
	for i, f := range src {
		binary.LittleEndian.PutUint32(dst[4*i:], math.Float32bits(f))
	}
}
