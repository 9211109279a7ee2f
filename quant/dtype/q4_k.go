package dtype

import (
	"encoding/binary"
	"math"
)

// Q4_K: super-blocks of 256 values in 8 sub-blocks of 32; value =
// d*sc[j]*q - dmin*m[j] with q a 4-bit quant and sc, m 6-bit sub-block scale
// and min (ggml-common.h block_q4_K, 144 bytes):
//
//	d, dmin    fp16 super-block scales for the scales and the mins
//	scales[12] sc and m packed at 6 bits (see scaleMinK4)
//	qs[128]    nibbles; for each 64 values, byte l holds value l (low
//	           nibble) and value l+32 (high nibble)
const q4KBlocks = 2 + 2 + 12 + qkK/2

func init() {
	register(Q4_K, &Traits{Name: "q4_k", BlockSize: qkK, BlockBytes: q4KBlocks, Quantized: true,
		ToFloat: decodeQ4_K, FromFloat: encodeQ4_K})
}

// encodeQ4_K is ggml's quantize_row_q4_K_ref (no importance matrix).
func encodeQ4_K(dst []byte, src []float32) {
	nb := len(src) / qkK
	dst = dst[:nb*q4KBlocks]
	var L [qkK]uint8
	var weights [32]float32
	var mins, scales [qkK / 32]float32
	for i := 0; i < nb; i++ {
		x := (*[qkK]float32)(src[i*qkK:])
		y := (*[q4KBlocks]byte)(dst[i*q4KBlocks:])

		var maxScale, maxMin float32
		for j := 0; j < qkK/32; j++ {
			xs := (*[32]float32)(x[32*j:])
			var sumX2 float32
			for _, v := range xs {
				sumX2 += float32(v * v)
			}
			avX := float32(math.Sqrt(float64(sumX2 / 32)))
			for l, v := range xs {
				weights[l] = avX + absf(v)
			}
			scales[j] = makeQKX2Quants32(15, xs, &weights, (*[32]uint8)(L[32*j:]), &mins[j], -1, 0.1, 20)
			if scales[j] > maxScale {
				maxScale = scales[j]
			}
			if mins[j] > maxMin {
				maxMin = mins[j]
			}
		}

		var invScale, invMin float32
		if maxScale > 0 {
			invScale = 63 / maxScale
		}
		if maxMin > 0 {
			invMin = 63 / maxMin
		}
		sc := y[4:16]
		for j := 0; j < qkK/32; j++ {
			ls := min(63, uint8(nearestInt(invScale*scales[j])))
			lm := min(63, uint8(nearestInt(invMin*mins[j])))
			if j < 4 {
				sc[j] = ls
				sc[j+4] = lm
			} else {
				sc[j+4] = ls&0xf | (lm&0xf)<<4
				sc[j-4] |= (ls >> 4) << 6
				sc[j-0] |= (lm >> 4) << 6
			}
		}
		binary.LittleEndian.PutUint16(y[0:], FP32ToFP16(maxScale/63))
		binary.LittleEndian.PutUint16(y[2:], FP32ToFP16(maxMin/63))

		d0 := FP16ToFP32(binary.LittleEndian.Uint16(y[0:]))
		m0 := FP16ToFP32(binary.LittleEndian.Uint16(y[2:]))
		for j := 0; j < qkK/32; j++ {
			s, m := scaleMinK4(j, sc)
			d := float32(d0 * float32(s))
			if d == 0 {
				continue // keep make_qkx2_quants's levels, as ggml does
			}
			dm := float32(m0 * float32(m)) // not fused into x + dm below
			for ii := 0; ii < 32; ii++ {
				l := nearestInt((x[32*j+ii] + dm) / d)
				L[32*j+ii] = uint8(max(0, min(15, l)))
			}
		}

		q := y[16:]
		for j := 0; j < qkK; j += 64 {
			for l := 0; l < 32; l++ {
				q[l] = L[j+l] | L[j+l+32]<<4
			}
			q = q[32:]
		}
	}
}

// scaleMinK4 is ggml's get_scale_min_k4: sub-block j's 6-bit scale and min
// from the 12 packed bytes. Sub-blocks 0-3 keep theirs in the low 6 bits of
// bytes j and j+4; sub-blocks 4-7 split theirs between the nibbles of byte
// j+4 and the top 2 bits of bytes j-4 and j.
func scaleMinK4(j int, q []byte) (sc, m uint8) {
	if j < 4 {
		return q[j] & 63, q[j+4] & 63
	}
	return q[j+4]&0xf | (q[j-4]>>6)<<4, q[j+4]>>4 | (q[j]>>6)<<4
}

// makeQKX2Quants32 is ggml's make_qkx2_quants for n = 32 with use_mad false:
// an affine fit x ~ scale*L + min (min <= 0) by weighted least squares over
// nstep+1 candidate inverse scales (rmin + rdelta*is + nmax)/(max - min). It
// writes levels L in [0, nmax], *theMin = -min, and returns the scale.
// A winning candidate moves min, and every later candidate is built from the
// moved min, exactly as in C.
func makeQKX2Quants32(nmax int32, x, weights *[32]float32, L *[32]uint8, theMin *float32, rmin, rdelta float32, nstep int32) float32 {
	var Laux [32]uint8
	min_, max_ := x[0], x[0]
	sumW := weights[0]
	sumX := float32(sumW * x[0])
	for i := 1; i < 32; i++ {
		if x[i] < min_ {
			min_ = x[i]
		}
		if x[i] > max_ {
			max_ = x[i]
		}
		w := weights[i]
		sumW += w
		sumX += float32(w * x[i])
	}
	if min_ > 0 {
		min_ = 0
	}
	if max_ == min_ {
		*L = [32]uint8{}
		*theMin = -min_
		return 0
	}
	fnmax := float32(nmax)
	iscale := fnmax / (max_ - min_)
	scale := 1 / iscale
	var bestError float32
	for i, v := range x {
		l := nearestInt(iscale * (v - min_))
		L[i] = uint8(max(0, min(nmax, l)))
		diff := float32(scale*float32(L[i])) + min_ - v
		diff = diff * diff
		bestError += float32(weights[i] * diff)
	}
	for is := int32(0); is <= nstep; is++ {
		iscale = (rmin + float32(rdelta*float32(is)) + fnmax) / (max_ - min_)
		var sumL, sumL2, sumXL float32
		for i, v := range x {
			l := nearestInt(iscale * (v - min_))
			l = max(0, min(nmax, l))
			Laux[i] = uint8(l)
			w := weights[i]
			fl := float32(l)
			wl := float32(w * fl)
			sumL += wl
			sumL2 += float32(wl * fl)
			sumXL += float32(wl * v)
		}
		D := float32(sumW*sumL2) - float32(sumL*sumL)
		if D > 0 {
			thisScale := (float32(sumW*sumXL) - float32(sumX*sumL)) / D
			thisMin := (float32(sumL2*sumX) - float32(sumL*sumXL)) / D
			if thisMin > 0 {
				thisMin = 0
				thisScale = sumXL / sumL2
			}
			var curError float32
			for i, v := range x {
				diff := float32(thisScale*float32(Laux[i])) + thisMin - v
				diff = diff * diff
				curError += float32(weights[i] * diff)
			}
			if curError < bestError {
				*L = Laux
				bestError = curError
				scale = thisScale
				min_ = thisMin
			}
		}
	}
	*theMin = -min_
	return scale
}

// decodeQ4_K is ggml's dequantize_row_q4_K: y = d*sc*q - dmin*m, with the
// two products rounded separately (no FMA), as in C.
func decodeQ4_K(dst []float32, src []byte) {
	nb := len(dst) / qkK
	src = src[:nb*q4KBlocks]
	for i := 0; i < nb; i++ {
		x := (*[q4KBlocks]byte)(src[i*q4KBlocks:])
		yb := (*[qkK]float32)(dst[i*qkK:])
		d := FP16ToFP32(binary.LittleEndian.Uint16(x[0:]))
		dmin := FP16ToFP32(binary.LittleEndian.Uint16(x[2:]))
		sc := x[4:16]
		q := x[16:]
		for j := 0; j < 4; j++ {
			s1, m1 := scaleMinK4(2*j, sc)
			s2, m2 := scaleMinK4(2*j+1, sc)
			// Each product rounded on its own; Go would otherwise fuse
			// dmin*m into the subtraction below on arm64.
			d1, dm1 := float32(d*float32(s1)), float32(dmin*float32(m1))
			d2, dm2 := float32(d*float32(s2)), float32(dmin*float32(m2))
			y := (*[64]float32)(yb[64*j:])
			qq := (*[32]byte)(q[32*j:])
			for l, b := range qq {
				y[l] = float32(d1*float32(b&0xf)) - dm1
				y[l+32] = float32(d2*float32(b>>4)) - dm2
			}
		}
	}
}
