package dtype

import "encoding/binary"

// Q6_K: super-blocks of 256 values in 16 sub-blocks of 16, each value a 6-bit
// quant q in [0, 63] with value = d * scale[sub] * (q - 32) (ggml-common.h
// block_q6_K, 210 bytes):
//
//	ql [128]  low 4 bits; in each half of 128 values, byte l holds values
//	          l (low nibble) and l+64 (high), byte l+32 holds l+32 and l+96
//	qh [64]   high 2 bits; in each half, byte l holds values l, l+32, l+64,
//	          l+96 at bit offsets 0, 2, 4, 6
//	scales[16] int8 sub-block scales
//	d          fp16 super-block scale
const (
	qkK       = 256
	q6KBlocks = qkK/2 + qkK/4 + qkK/16 + 2
)

// groupMaxEps is ggml-quants.c's GROUP_MAX_EPS: groups whose largest
// magnitude is below it count as all zero.
const groupMaxEps = 1e-15

func init() {
	register(Q6_K, &Traits{Name: "q6_k", BlockSize: qkK, BlockBytes: q6KBlocks, Quantized: true,
		ToFloat: decodeQ6_K, FromFloat: encodeQ6_K})
}

// encodeQ6_K is ggml's quantize_row_q6_K_ref (no importance matrix).
func encodeQ6_K(dst []byte, src []float32) {
	nb := len(src) / qkK
	dst = dst[:nb*q6KBlocks]
	var L [qkK]int8
	var scales [qkK / 16]float32
	for i := 0; i < nb; i++ {
		x := (*[qkK]float32)(src[i*qkK:])
		y := (*[q6KBlocks]byte)(dst[i*q6KBlocks:])

		var maxScale, maxAbsScale float32
		for ib := 0; ib < qkK/16; ib++ {
			scale := makeQXQuants16(32, (*[16]float32)(x[16*ib:]), (*[16]int8)(L[16*ib:]))
			scales[ib] = scale
			if a := absf(scale); a > maxAbsScale {
				maxAbsScale, maxScale = a, scale
			}
		}

		if maxAbsScale < groupMaxEps {
			clear(y[:])
			continue
		}

		iscale := -128 / maxScale
		binary.LittleEndian.PutUint16(y[208:], FP32ToFP16(1/iscale))
		sc := y[192:208]
		for ib := range sc {
			sc[ib] = byte(int8(min(127, nearestInt(iscale*scales[ib]))))
		}

		d0 := FP16ToFP32(binary.LittleEndian.Uint16(y[208:]))
		for j := 0; j < qkK/16; j++ {
			d := d0 * float32(int8(sc[j]))
			if d == 0 {
				continue // keep make_qx_quants's levels, as ggml does
			}
			for ii := 0; ii < 16; ii++ {
				l := nearestInt(x[16*j+ii] / d)
				l = max(-32, min(31, l))
				L[16*j+ii] = int8(l + 32)
			}
		}

		ql, qh := y[0:128], y[128:192]
		for j := 0; j < qkK; j += 128 {
			for l := 0; l < 32; l++ {
				q1 := byte(L[j+l+0]) & 0xf
				q2 := byte(L[j+l+32]) & 0xf
				q3 := byte(L[j+l+64]) & 0xf
				q4 := byte(L[j+l+96]) & 0xf
				ql[l+0] = q1 | q3<<4
				ql[l+32] = q2 | q4<<4
				qh[l] = byte(L[j+l])>>4 | (byte(L[j+l+32])>>4)<<2 | (byte(L[j+l+64])>>4)<<4 | (byte(L[j+l+96])>>4)<<6
			}
			ql, qh = ql[64:], qh[32:]
		}
	}
}

// makeQXQuants16 is ggml's make_qx_quants for n = 16 with rmse_type = 1 and
// no importance weights (so each value is weighted by x*x): it tries the
// scale -nmax/max and 18 nudged ones, keeps the one with the best weighted
// least-squares fit, and writes levels L in [0, 2*nmax-1].
func makeQXQuants16(nmax int32, x *[16]float32, L *[16]int8) float32 {
	var max, amax float32
	for _, v := range x {
		if a := absf(v); a > amax {
			amax, max = a, v
		}
	}
	if amax < groupMaxEps {
		*L = [16]int8{}
		return 0
	}
	fnmax := float32(nmax)
	iscale := -fnmax / max
	var sumlx, suml2 float32
	for i, v := range x {
		l := nearestInt(iscale * v)
		l = max32(-nmax, min(nmax-1, l))
		L[i] = int8(l + nmax)
		w := v * v
		fl := float32(l)
		sumlx += float32(float32(w*v) * fl)
		suml2 += float32(float32(w*fl) * fl)
	}
	var scale float32
	if suml2 != 0 {
		scale = sumlx / suml2
	}
	best := scale * sumlx
	for is := int32(-9); is <= 9; is++ {
		if is == 0 {
			continue
		}
		iscale = -(fnmax + float32(0.1*float32(is))) / max
		sumlx, suml2 = 0, 0
		for _, v := range x {
			l := nearestInt(iscale * v)
			l = max32(-nmax, min(nmax-1, l))
			w := v * v
			fl := float32(l)
			sumlx += float32(float32(w*v) * fl)
			suml2 += float32(float32(w*fl) * fl)
		}
		if suml2 > 0 && float32(sumlx*sumlx) > float32(best*suml2) {
			for i, v := range x {
				l := nearestInt(iscale * v)
				L[i] = int8(nmax + max32(-nmax, min(nmax-1, l)))
			}
			scale = sumlx / suml2
			best = scale * sumlx
		}
	}
	return scale
}

func max32(a, b int32) int32 { return max(a, b) }

// decodeQ6_K is ggml's dequantize_row_q6_K: y = d * scale * (q - 32),
// multiplied left to right in float.
func decodeQ6_K(dst []float32, src []byte) {
	nb := len(dst) / qkK
	src = src[:nb*q6KBlocks]
	for i := 0; i < nb; i++ {
		x := (*[q6KBlocks]byte)(src[i*q6KBlocks:])
		yb := (*[qkK]float32)(dst[i*qkK:])
		d := FP16ToFP32(binary.LittleEndian.Uint16(x[208:]))
		ql, qh, sc := x[0:128], x[128:192], x[192:208]
		for n := 0; n < qkK; n += 128 {
			y := (*[128]float32)(yb[n:])
			for l := 0; l < 32; l++ {
				is := l / 16
				h := qh[l]
				q1 := int32(ql[l]&0xf|(h&3)<<4) - 32
				q2 := int32(ql[l+32]&0xf|(h>>2&3)<<4) - 32
				q3 := int32(ql[l]>>4|(h>>4&3)<<4) - 32
				q4 := int32(ql[l+32]>>4|(h>>6&3)<<4) - 32
				y[l+0] = float32(d*float32(int8(sc[is+0]))) * float32(q1)
				y[l+32] = float32(d*float32(int8(sc[is+2]))) * float32(q2)
				y[l+64] = float32(d*float32(int8(sc[is+4]))) * float32(q3)
				y[l+96] = float32(d*float32(int8(sc[is+6]))) * float32(q4)
			}
			ql, qh, sc = ql[64:], qh[32:], sc[8:]
		}
	}
}
