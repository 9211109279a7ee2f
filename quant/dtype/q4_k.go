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
			scales[j], mins[j] = makeQKX2Quants32(xs, &weights, (*[32]uint8)(L[32*j:]))
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

// q4KNum[is] is the numerator rmin + rdelta*is + nmax of make_qkx2_quants's
// candidate inverse scales for q4_K (rmin -1, rdelta 0.1, nmax 15, nstep 20),
// evaluated in float32 in C's order.
var q4KNum = func() (t [21]float32) {
	rmin, rdelta, nmax := float32(-1), float32(0.1), float32(15)
	for is := range t {
		t[is] = rmin + float32(rdelta*float32(is)) + nmax
	}
	return t
}()

// q4KLevel turns t into float32(clamp(nearest_int(t), 0, 15)) with one add,
// one mask and one load: adding q4KMagic = 1.5*2^23 + 512 leaves
// nearest_int(t) + 512 in the low mantissa bits (exactly as nearest_int's
// own 1.5*2^23 trick does, since both sums stay within [2^23, 2^24) where a
// float's unit is 1), and for |t| <= 511 its low 10 bits index the table.
// It replaces the int conversion, two clamps and the int-to-float conversion.
var q4KLevel = func() (t [1024]float32) {
	for k := range t {
		t[k] = float32(max(0, min(15, k-512)))
	}
	return t
}()

const q4KMagic = magicRound + 512

// q4KMagicVar is q4KMagic as a variable, so hot loops keep it in a register
// instead of reloading a constant every iteration.
var q4KMagicVar float32 = q4KMagic

// makeQKX2Quants32 is ggml's make_qkx2_quants for q4_K's sub-blocks: n = 32,
// nmax = 15, rmin = -1, rdelta = 0.1, nstep = 20, use_mad false. It fits
// x ~ scale*L + min (min <= 0) by weighted least squares over 21 candidate
// inverse scales (rmin + rdelta*is + nmax)/(max - min), writes the levels L
// in [0, 15] and returns scale and -min. A winning candidate moves min, and
// the later candidates are built from the moved min, as in C.
//
// Same arithmetic as the C, reorganised for speed: x - min is computed once
// per min rather than once per candidate, levels are kept as floats, and
// rounding plus clamping is one table lookup (q4KLevel) whenever the level
// provably lies within the table's range; otherwise (huge or non-finite
// inputs) the sub-block goes to makeQKX2Quants32Slow, the line-by-line port.
func makeQKX2Quants32(x, weights *[32]float32, L *[32]uint8) (scale, theMin float32) {
	mn, mx := x[0], x[0]
	sumW := weights[0]
	sumX := float32(sumW * x[0])
	for i := 1; i < 32; i++ {
		v := x[i]
		if v < mn {
			mn = v
		}
		if v > mx {
			mx = v
		}
		w := weights[i]
		sumW += w
		sumX += float32(w * v)
	}
	xmin := mn
	if mn > 0 {
		mn = 0
	}
	if mx == mn {
		*L = [32]uint8{}
		return 0, -mn
	}

	var xm [32]float32 // x - mn for the current mn
	rng := mx - mn
	if !q4KTableSafe(mx, mn, xmin, rng) {
		return makeQKX2Quants32Slow(x, weights, L, mn, mx, sumW, sumX)
	}
	for i, v := range x {
		xm[i] = v - mn
	}

	iscale := 15 / rng
	scale = 1 / iscale

	// Levels live in three buffers: the best so far, the current
	// candidate's, and the next candidate's; a win just renames buffers.
	// The candidate loop is software-pipelined: one pass over the 32 values
	// sums candidate is's error and, speculatively, candidate is+1's levels
	// and sums, so the error's single chain of dependent adds overlaps
	// independent work. The speculation assumes candidate is does not move
	// min; when it does, candidate is+1 is redone from the new min. The
	// initial fit's error is the first such pass.
	var bufs [3][32]float32
	best, cur, nxt := 0, 1, 2
	q4KLevels(&bufs[best], &xm, iscale)
	bestError, sumL, sumL2, sumXL := q4KErrorAndSums(&bufs[best], &bufs[cur], &xm, weights, x, scale, mn, q4KNum[0]/rng)
	for is := 0; is < len(q4KNum); is++ {
		last := is == len(q4KNum)-1
		D := float32(sumW*sumL2) - float32(sumL*sumL)
		var nL, nL2, nXL float32
		if D > 0 {
			thisScale := (float32(sumW*sumXL) - float32(sumX*sumL)) / D
			thisMin := (float32(sumL2*sumX) - float32(sumL*sumXL)) / D
			if thisMin > 0 {
				thisMin = 0
				thisScale = sumXL / sumL2
			}
			var curError float32
			if last {
				curError = q4KError(&bufs[cur], weights, x, thisScale, thisMin)
			} else {
				curError, nL, nL2, nXL = q4KErrorAndSums(&bufs[cur], &bufs[nxt], &xm, weights, x, thisScale, thisMin, q4KNum[is+1]/rng)
			}
			if curError < bestError {
				best = cur
				bestError = curError
				scale = thisScale
				if math.Float32bits(thisMin) != math.Float32bits(mn) {
					mn = thisMin
					rng = mx - mn
					if !q4KTableSafe(mx, mn, xmin, rng) {
						// Finish with the exact port from here on.
						for i := range L {
							L[i] = uint8(bufs[best][i])
						}
						return makeQKX2Quants32From(x, weights, L, mn, mx, sumW, sumX, scale, bestError, is+1)
					}
					for i, v := range x {
						xm[i] = v - mn
					}
					if !last {
						nL, nL2, nXL = q4KSums(&bufs[nxt], &xm, weights, x, q4KNum[is+1]/rng)
					}
				}
			}
		} else if !last {
			nL, nL2, nXL = q4KSums(&bufs[nxt], &xm, weights, x, q4KNum[is+1]/rng)
		}
		cur, nxt = nxt, 3-nxt-best // nxt was never best; the third buffer is free
		sumL, sumL2, sumXL = nL, nL2, nXL
	}
	for i := range L {
		L[i] = uint8(bufs[best][i])
	}
	return scale, -mn
}

// q4KLevels writes the levels clamp(nearest_int(iscale*xm), 0, 15).
func q4KLevels(aux, xm *[32]float32, iscale float32) {
	for i := range aux {
		t := float32(iscale * xm[i])
		aux[i] = q4KLevel[math.Float32bits(t+q4KMagic)&1023]
	}
}

// q4KError is the weighted squared error of the fit scale*aux + min, summed
// in make_qkx2_quants's order.
func q4KError(aux, weights, x *[32]float32, scale, min float32) (e float32) {
	for i := range aux {
		diff := float32(scale*aux[i]) + min - x[i]
		e += float32(weights[i] * float32(diff*diff))
	}
	return e
}

// q4KErrorAndSums is one pass of the pipelined candidate loop: the error of
// the fit thisScale*cur + thisMin, and the next candidate's levels (into nxt)
// and sums. It is kept out of line so that its accumulators get registers of
// their own (inlined, Go spilled the error sum to the stack).
//
//go:noinline
func q4KErrorAndSums(cur, nxt, xm, weights, x *[32]float32, thisScale, thisMin, iscale float32) (curError, sumL, sumL2, sumXL float32) {
	// Touch every array once here so the nil checks leave the loop, and
	// hold the table and the magic constant in registers.
	_, _, _, _, _ = cur[0], nxt[0], xm[0], weights[0], x[0]
	tab, magic := &q4KLevel, q4KMagicVar
	// Unrolled by two (i-1, i) to halve the loop overhead; the order of
	// every sum is unchanged.
	for i := 1; i < 32; i += 2 {
		w, v := weights[i-1], x[i-1]
		diff := float32(thisScale*cur[i-1]) + thisMin - v
		curError += float32(w * float32(diff*diff))
		t := float32(iscale * xm[i-1])
		fl := tab[math.Float32bits(t+magic)&1023]
		nxt[i-1] = fl
		wl := float32(w * fl)
		sumL += wl
		sumL2 += float32(wl * fl)
		sumXL += float32(wl * v)

		w, v = weights[i], x[i]
		diff = float32(thisScale*cur[i]) + thisMin - v
		curError += float32(w * float32(diff*diff))
		t = float32(iscale * xm[i])
		fl = tab[math.Float32bits(t+magic)&1023]
		nxt[i] = fl
		wl = float32(w * fl)
		sumL += wl
		sumL2 += float32(wl * fl)
		sumXL += float32(wl * v)
	}
	return curError, sumL, sumL2, sumXL
}

// q4KSums computes one candidate's levels (into aux) and its weighted sums
// of l, l*l and l*x, in make_qkx2_quants's order.
func q4KSums(aux, xm, weights, x *[32]float32, iscale float32) (sumL, sumL2, sumXL float32) {
	for i := range aux {
		t := float32(iscale * xm[i])
		fl := q4KLevel[math.Float32bits(t+q4KMagic)&1023]
		aux[i] = fl
		wl := float32(weights[i] * fl)
		sumL += wl
		sumL2 += float32(wl * fl)
		sumXL += float32(wl * x[i])
	}
	return sumL, sumL2, sumXL
}

// q4KTableSafe reports whether every t = iscale*(x - mn) the candidates can
// produce stays within q4KLevel's |t| <= 511: |x - mn| is at most
// max(mx - mn, mn - xmin) and iscale at most 16/rng, each off by at most a
// rounding, so a 0.1% margin covers them. It is false where rng is not a
// positive finite float (an overflowing range sends the sub-block to the
// exact port).
func q4KTableSafe(mx, mn, xmin, rng float32) bool {
	span := float64(mx) - float64(mn)
	if d := float64(mn) - float64(xmin); d > span {
		span = d
	}
	r := float64(rng)
	return r > 0 && r <= math.MaxFloat32 && span/r*16*1.001 < 500
}

// makeQKX2Quants32Slow is the line-by-line port of make_qkx2_quants (q4_K's
// parameters), from after the min/max scan; used only for inputs outside the
// fast path's proven range.
func makeQKX2Quants32Slow(x, weights *[32]float32, L *[32]uint8, mn, mx, sumW, sumX float32) (scale, theMin float32) {
	const nmax = 15
	iscale := nmax / (mx - mn)
	scale = 1 / iscale
	var bestError float32
	for i, v := range x {
		l := nearestInt(iscale * (v - mn))
		L[i] = uint8(max(0, min(nmax, l)))
		diff := float32(scale*float32(L[i])) + mn - v
		diff = diff * diff
		bestError += float32(weights[i] * diff)
	}
	return makeQKX2Quants32From(x, weights, L, mn, mx, sumW, sumX, scale, bestError, 0)
}

// makeQKX2Quants32From runs make_qkx2_quants's candidate loop from
// candidate is0 on, given the state the earlier steps left.
func makeQKX2Quants32From(x, weights *[32]float32, L *[32]uint8, mn, mx, sumW, sumX, scale, bestError float32, is0 int) (float32, float32) {
	const nmax = 15
	var Laux [32]uint8
	for is := is0; is < len(q4KNum); is++ {
		iscale := q4KNum[is] / (mx - mn)
		var sumL, sumL2, sumXL float32
		for i, v := range x {
			l := nearestInt(iscale * (v - mn))
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
				mn = thisMin
			}
		}
	}
	return scale, -mn
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
