package dtype

import (
	"encoding/binary"
	"math"
)

// This file keeps plain transliterations of ggml's K-quant reference
// quantizers, line for line with ggml-quants.c, as the yardstick for the
// optimised encoders in q4_k.go and q6_k.go (TestFastMatchesReference).
// They were checked against the C outputs in testdata before the fast
// versions replaced them.

// refEncodeQ4_K is ggml's quantize_row_q4_K_ref (no importance matrix).
func refEncodeQ4_K(dst []byte, src []float32) {
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
			scales[j] = refMakeQKX2Quants32(15, xs, &weights, (*[32]uint8)(L[32*j:]), &mins[j], -1, 0.1, 20)
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

// refMakeQKX2Quants32 is ggml's make_qkx2_quants for n = 32 with use_mad false:
// an affine fit x ~ scale*L + min (min <= 0) by weighted least squares over
// nstep+1 candidate inverse scales (rmin + rdelta*is + nmax)/(max - min). It
// writes levels L in [0, nmax], *theMin = -min, and returns the scale.
// A winning candidate moves min, and every later candidate is built from the
// moved min, exactly as in C.
func refMakeQKX2Quants32(nmax int32, x, weights *[32]float32, L *[32]uint8, theMin *float32, rmin, rdelta float32, nstep int32) float32 {
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

// refEncodeQ6_K is ggml's quantize_row_q6_K_ref (no importance matrix).
func refEncodeQ6_K(dst []byte, src []float32) {
	nb := len(src) / qkK
	dst = dst[:nb*q6KBlocks]
	var L [qkK]int8
	var scales [qkK / 16]float32
	for i := 0; i < nb; i++ {
		x := (*[qkK]float32)(src[i*qkK:])
		y := (*[q6KBlocks]byte)(dst[i*q6KBlocks:])

		var maxScale, maxAbsScale float32
		for ib := 0; ib < qkK/16; ib++ {
			scale := refMakeQXQuants16(32, (*[16]float32)(x[16*ib:]), (*[16]int8)(L[16*ib:]))
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

// refMakeQXQuants16 is ggml's make_qx_quants for n = 16 with rmse_type = 1 and
// no importance weights (so each value is weighted by x*x): it tries the
// scale -nmax/max and 18 nudged ones, keeps the one with the best weighted
// least-squares fit, and writes levels L in [0, 2*nmax-1].
func refMakeQXQuants16(nmax int32, x *[16]float32, L *[16]int8) float32 {
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
