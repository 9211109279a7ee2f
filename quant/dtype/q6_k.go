package dtype

import (
	"encoding/binary"
	"math"
)

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
	var scales, iscales [qkK / 16]float32
	for i := 0; i < nb; i++ {
		x := (*[qkK]float32)(src[i*qkK:])
		y := (*[q6KBlocks]byte)(dst[i*q6KBlocks:])

		var maxScale, maxAbsScale float32
		for ib := 0; ib < qkK/16; ib++ {
			scale, is := makeQXQuants16((*[16]float32)(x[16*ib:]))
			scales[ib], iscales[ib] = scale, is
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
				// ggml keeps make_qx_quants's levels here.
				qxLevels16((*[16]float32)(x[16*j:]), iscales[j], (*[16]int8)(L[16*j:]))
				continue
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

// q6KLevel turns t into float32(clamp(nearest_int(t), -32, 31)) with one
// add, one mask and one load, as q4KLevel does for q4_K: adding q6KMagic =
// 1.5*2^23 + 64 leaves nearest_int(t) + 64 in the low mantissa bits, whose
// low 7 bits index the table for |t| <= 63.
var q6KLevel = func() (t [128]float32) {
	for k := range t {
		t[k] = float32(max(-32, min(31, k-64)))
	}
	return t
}()

const q6KMagic = magicRound + 64

// q6KMagicVar is q6KMagic as a variable, so hot loops keep it in a register.
var q6KMagicVar float32 = q6KMagic

// q6KNum[k] is make_qx_quants's -(nmax + 0.1f*is) for is = -9..9 without 0
// (nmax 32), in float32 as C computes it; candidate k's inverse scale is
// q6KNum[k] / max.
var q6KNum = func() (t [18]float32) {
	nmax, step := float32(32), float32(0.1)
	k := 0
	for is := -9; is <= 9; is++ {
		if is != 0 {
			t[k] = -(nmax + float32(step*float32(is)))
			k++
		}
	}
	return t
}()

// makeQXQuants16 is ggml's make_qx_quants for q6_K's sub-blocks: n = 16,
// nmax = 32, rmse_type = 1 and no importance weights, so each value is
// weighted by x*x. It tries the inverse scale -nmax/max and 18 nudged ones,
// keeps the best weighted least-squares fit (the first of equals), and
// returns its scale and inverse scale; qxLevels16 turns the inverse scale
// into make_qx_quants's levels L, which q6_K needs only where a sub-block's
// quantized scale comes out 0 (elsewhere it requantizes).
//
// Same arithmetic as the C, reorganised for speed: the candidates do not
// depend on one another, so their sums are computed two at a time sharing
// the loads, levels come from q6KLevel (exact here: |iscale*x| <= 33 for
// any finite input), and L is left to qxLevels16.
func makeQXQuants16(x *[16]float32) (scale, iscale float32) {
	var max, amax float32
	for _, v := range x {
		if a := absf(v); a > amax {
			amax, max = a, v
		}
	}
	if amax < groupMaxEps {
		return 0, 0 // all levels 0, which qxLevels16 gives for iscale 0
	}
	var w, wx [16]float32
	for i, v := range x {
		w[i] = v * v
		wx[i] = float32(w[i] * v)
	}

	bestIscale := -32 / max
	sumlx, suml2, _, _ := q6KSums(x, &w, &wx, bestIscale, bestIscale)
	if suml2 != 0 {
		scale = sumlx / suml2
	}
	best := scale * sumlx
	var sums [18][2]float32
	for k := 0; k < len(q6KNum); k += 2 {
		sums[k][0], sums[k][1], sums[k+1][0], sums[k+1][1] = q6KSums(x, &w, &wx, q6KNum[k]/max, q6KNum[k+1]/max)
	}
	for k := range sums {
		sumlx, suml2 := sums[k][0], sums[k][1]
		if suml2 > 0 && float32(sumlx*sumlx) > float32(best*suml2) {
			bestIscale = q6KNum[k] / max
			scale = sumlx / suml2
			best = scale * sumlx
		}
	}
	return scale, bestIscale
}

// qxLevels16 writes make_qx_quants's levels for q6_K's sub-block x at
// inverse scale iscale: nmax + clamp(nearest_int(iscale*x), -nmax, nmax-1).
// An iscale of 0 stands for make_qx_quants's all-zero early return, which
// writes 0s (not nmax).
func qxLevels16(x *[16]float32, iscale float32, L *[16]int8) {
	if iscale == 0 {
		*L = [16]int8{}
		return
	}
	for i, v := range x {
		l := nearestInt(iscale * v)
		L[i] = int8(32 + max32(-32, min(31, l)))
	}
}

// q6KSums returns make_qx_quants's sums of w*x*l and w*l*l for two
// candidate inverse scales at once, each in C's order.
//
//go:noinline
func q6KSums(x, w, wx *[16]float32, iscaleA, iscaleB float32) (sumlxA, suml2A, sumlxB, suml2B float32) {
	_, _, _ = x[0], w[0], wx[0]
	tab, magic := &q6KLevel, q6KMagicVar
	for i := range x {
		v, wi, wxi := x[i], w[i], wx[i]
		fa := tab[math.Float32bits(float32(iscaleA*v)+magic)&127]
		fb := tab[math.Float32bits(float32(iscaleB*v)+magic)&127]
		sumlxA += float32(wxi * fa)
		suml2A += float32(float32(wi*fa) * fa)
		sumlxB += float32(wxi * fb)
		suml2B += float32(float32(wi*fb) * fb)
	}
	return sumlxA, suml2A, sumlxB, suml2B
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
