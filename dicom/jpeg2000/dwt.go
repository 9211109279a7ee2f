package jpeg2000

// Inverse discrete wavelet transforms, T.800 Annex F: the reversible 5/3
// (integer lifting) and irreversible 9/7 (floating-point lifting) filters
// with whole-sample symmetric extension. Each level synthesizes rows first,
// then columns (2D_SR), as OpenJPEG does; for the integer 5/3 the order
// matters for bit-exactness.

const (
	dwtAlpha = -1.586134342
	dwtBeta  = -0.052980118
	dwtGamma = 0.882911075
	dwtDelta = 0.443506852
	dwtK     = 1.230174105
	dwtInvK  = 1 / 1.230174105
)

// colChunk is how many columns the vertical pass handles at once: enough
// to use whole cache lines, few enough to stay in cache.
const colChunk = 32

func inverseDWT(tc *tileComp) {
	stride := tc.x1 - tc.x0
	nl := len(tc.res) - 1
	if nl == 0 || stride == 0 {
		return
	}
	maxLen := max(stride, tc.y1-tc.y0)
	var itmp []int32
	var ftmp []float32
	if tc.coef != nil {
		itmp = make([]int32, max(maxLen, (tc.y1-tc.y0)*colChunk))
	} else {
		ftmp = make([]float32, max(maxLen, (tc.y1-tc.y0)*colChunk))
	}
	for r := 1; r <= nl; r++ {
		res, low := tc.res[r], tc.res[r-1]
		rw, rh := res.x1-res.x0, res.y1-res.y0
		lw, lh := low.x1-low.x0, low.y1-low.y0
		if rw == 0 || rh == 0 {
			continue
		}
		px, py := res.x0&1, res.y0&1
		if tc.coef != nil {
			for y := 0; y < rh; y++ {
				line := tc.coef[y*stride : y*stride+rw]
				interleave(itmp[:rw], line, lw, px)
				lift53(itmp[:rw], px)
				copy(line, itmp[:rw])
			}
			for x0 := 0; x0 < rw; x0 += colChunk {
				cw := min(colChunk, rw-x0)
				t := itmp[:rh*cw]
				for y := 0; y < rh; y++ {
					dy := rowPos(y, lh, py)
					copy(t[dy*cw:dy*cw+cw], tc.coef[y*stride+x0:])
				}
				lift53Cols(t, rh, cw, py)
				for y := 0; y < rh; y++ {
					copy(tc.coef[y*stride+x0:y*stride+x0+cw], t[y*cw:])
				}
			}
		} else {
			for y := 0; y < rh; y++ {
				line := tc.fcoef[y*stride : y*stride+rw]
				interleave(ftmp[:rw], line, lw, px)
				lift97(ftmp[:rw], px)
				copy(line, ftmp[:rw])
			}
			for x0 := 0; x0 < rw; x0 += colChunk {
				cw := min(colChunk, rw-x0)
				t := ftmp[:rh*cw]
				for y := 0; y < rh; y++ {
					dy := rowPos(y, lh, py)
					copy(t[dy*cw:dy*cw+cw], tc.fcoef[y*stride+x0:])
				}
				lift97Cols(t, rh, cw, py)
				for y := 0; y < rh; y++ {
					copy(tc.fcoef[y*stride+x0:y*stride+x0+cw], t[y*cw:])
				}
			}
		}
	}
}

// rowPos maps a deinterleaved index (lows first) to its interleaved index
// for a signal whose first sample has parity p.
func rowPos(i, nlow, p int) int {
	if i < nlow {
		return 2*i + p
	}
	return 2*(i-nlow) + 1 - p
}

func interleave[T int32 | float32](dst, src []T, nlow, p int) {
	for i := 0; i < nlow; i++ {
		dst[2*i+p] = src[i]
	}
	for i, j := nlow, 1-p; i < len(src); i, j = i+1, j+2 {
		dst[j] = src[i]
	}
}

// mirror is whole-sample symmetric extension of index i into [0, n), n >= 2.
func mirror(i, n int) int {
	if i < 0 {
		return -i
	}
	if i >= n {
		return 2*(n-1) - i
	}
	return i
}

// lift53 is 1D_SR with the 5/3 filter; p is the parity of the first
// sample's coordinate (even coordinates are low-pass samples).
func lift53(s []int32, p int) {
	n := len(s)
	if n == 1 {
		if p == 1 {
			s[0] /= 2
		}
		return
	}
	for j := p; j < n; j += 2 {
		a, b := s[mirror(j-1, n)], s[mirror(j+1, n)]
		s[j] -= (a + b + 2) >> 2
	}
	for j := 1 - p; j < n; j += 2 {
		a, b := s[mirror(j-1, n)], s[mirror(j+1, n)]
		s[j] += (a + b) >> 1
	}
}

// lift53Cols runs lift53 down each of the cw columns of t (n rows).
func lift53Cols(t []int32, n, cw, p int) {
	if n == 1 {
		if p == 1 {
			for i := range t[:cw] {
				t[i] /= 2
			}
		}
		return
	}
	for j := p; j < n; j += 2 {
		a, b := t[mirror(j-1, n)*cw:][:cw], t[mirror(j+1, n)*cw:][:cw]
		d := t[j*cw:][:cw]
		for i := range d {
			d[i] -= (a[i] + b[i] + 2) >> 2
		}
	}
	for j := 1 - p; j < n; j += 2 {
		a, b := t[mirror(j-1, n)*cw:][:cw], t[mirror(j+1, n)*cw:][:cw]
		d := t[j*cw:][:cw]
		for i := range d {
			d[i] += (a[i] + b[i]) >> 1
		}
	}
}

// lift97 is 1D_SR with the 9/7 filter.
func lift97(s []float32, p int) {
	n := len(s)
	if n == 1 {
		if p == 1 {
			s[0] /= 2
		}
		return
	}
	for j := p; j < n; j += 2 {
		s[j] *= dwtK
	}
	for j := 1 - p; j < n; j += 2 {
		s[j] *= dwtInvK
	}
	step := func(start int, c float32) {
		for j := start; j < n; j += 2 {
			s[j] -= c * (s[mirror(j-1, n)] + s[mirror(j+1, n)])
		}
	}
	step(p, dwtDelta)
	step(1-p, dwtGamma)
	step(p, dwtBeta)
	step(1-p, dwtAlpha)
}

func lift97Cols(t []float32, n, cw, p int) {
	if n == 1 {
		if p == 1 {
			for i := range t[:cw] {
				t[i] /= 2
			}
		}
		return
	}
	for j := 0; j < n; j++ {
		k := float32(dwtK)
		if (j+p)&1 == 1 {
			k = dwtInvK
		}
		for i := range t[j*cw : j*cw+cw] {
			t[j*cw+i] *= k
		}
	}
	step := func(start int, c float32) {
		for j := start; j < n; j += 2 {
			a, b := t[mirror(j-1, n)*cw:][:cw], t[mirror(j+1, n)*cw:][:cw]
			d := t[j*cw:][:cw]
			for i := range d {
				d[i] -= c * (a[i] + b[i])
			}
		}
	}
	step(p, dwtDelta)
	step(1-p, dwtGamma)
	step(p, dwtBeta)
	step(1-p, dwtAlpha)
}
