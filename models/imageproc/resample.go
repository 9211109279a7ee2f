package imageproc

import (
	"math"
	"runtime"
	"sync"
)

// This file is PIL's bicubic resize of 8-bit images (Pillow's
// src/libImaging/Resample.c: precompute_coeffs, normalize_coeffs_8bpc,
// ImagingResampleHorizontal_8bpc, ImagingResampleVertical_8bpc and
// ImagingResampleInner), restricted to the output pixels a crop keeps. Each
// output pixel of a pass depends only on its own coefficients, so computing
// a window of the output gives exactly the pixels the full resize would.
//
// Floating point follows the C code operation by operation, in float64,
// and every product is converted explicitly so that Go never fuses a
// multiply-add (Go may fuse x*y+z on arm64; gcc on amd64, where the
// reference Pillow runs, does not). The passes themselves are integer.

// precisionBits is Pillow's PRECISION_BITS for 8-bit images: 32 - 8 - 2.
const precisionBits = 32 - 8 - 2

// bicubicSupport is the support of Pillow's BICUBIC filter.
const bicubicSupport = 2.0

// bicubic is Pillow's bicubic_filter, the Keys kernel with a = -0.5:
// ((a+2)|x| - (a+3))|x|^2 + 1 on |x| < 1, (((|x|-5)|x| + 8)|x| - 4)a on
// 1 <= |x| < 2. (a+2 = 1.5 and a+3 = 2.5 are exact.)
func bicubic(x float64) float64 {
	const a = -0.5
	if x < 0 {
		x = -x
	}
	if x < 1 {
		t := float64(1.5*x) - 2.5
		t = float64(t * x)
		t = float64(t * x)
		return t + 1
	}
	if x < 2 {
		t := float64(float64(x-5)*x) + 8
		t = float64(t*x) - 4
		return float64(t * a)
	}
	return 0
}

// taps are one axis's fixed-point filter coefficients for the output
// indices [from, from+len(start)): output index from+i reads n[i] input
// samples starting at start[i], weighted by k[i*ksize:][:n[i]].
type taps struct {
	ksize    int
	from     int
	start, n []int
	k        []int32
}

// newTaps computes Pillow's bicubic coefficients for resampling inSize
// samples to outSize, for the output indices [from, to) only
// (precompute_coeffs with box (0, inSize), then normalize_coeffs_8bpc).
func newTaps(inSize, outSize, from, to int) taps {
	// scale = (double)(in1 - in0) / outSize; in1 - in0 is a float32
	// difference, exact for any size below 2^24.
	scale := float64(inSize) / float64(outSize)
	filterscale := scale
	if filterscale < 1 {
		filterscale = 1
	}
	support := float64(bicubicSupport * filterscale)
	ksize := int(math.Ceil(support))*2 + 1
	ss := 1.0 / filterscale
	t := taps{ksize: ksize, from: from, start: make([]int, to-from), n: make([]int, to-from), k: make([]int32, (to-from)*ksize)}
	w := make([]float64, ksize)
	for xx := from; xx < to; xx++ {
		center := float64((float64(xx) + 0.5) * scale)
		// "Round the value": C's (int) truncates toward zero, as Go's does.
		xmin := int(center - support + 0.5)
		if xmin < 0 {
			xmin = 0
		}
		xmax := int(center + support + 0.5)
		if xmax > inSize {
			xmax = inSize
		}
		xmax -= xmin
		ww := 0.0
		for x := range xmax {
			v := bicubic(float64((float64(x+xmin) - center + 0.5) * ss))
			w[x] = v
			ww += v
		}
		i := xx - from
		k := t.k[i*ksize : (i+1)*ksize]
		for x := range xmax {
			v := w[x]
			if ww != 0 {
				v /= ww
			}
			// normalize_coeffs_8bpc: round half away from zero to 22 bits.
			if v < 0 {
				k[x] = int32(-0.5 + float64(v*(1<<precisionBits)))
			} else {
				k[x] = int32(0.5 + float64(v*(1<<precisionBits)))
			}
		}
		t.start[i], t.n[i] = xmin, xmax
	}
	return t
}

// span is the range of input indices the taps read.
func (t taps) span() (lo, hi int) {
	if len(t.start) == 0 {
		return 0, 0
	}
	lo, hi = t.start[0], t.start[0]+t.n[0]
	for i := range t.start {
		lo = min(lo, t.start[i])
		hi = max(hi, t.start[i]+t.n[i])
	}
	return lo, hi
}

// clip8 is Pillow's clip8: the accumulator shifted down by precisionBits
// (arithmetic shift) and clamped to 0..255.
func clip8(ss int32) uint8 {
	v := ss >> precisionBits
	if v < 0 {
		return 0
	}
	if v > 255 {
		return 255
	}
	return uint8(v)
}

// window is the part of a resized image a crop keeps: output columns
// [x0, x1) and rows [y0, y1) of an outW x outH resize.
type window struct {
	outW, outH     int
	x0, x1, y0, y1 int
}

// resizeWindow resizes the w x h image whose samples are lut[pix[i]] to
// win.outW x win.outH with Pillow's bicubic filter and returns the window
// rows y0..y1, columns x0..x1, row-major ((x1-x0)*(y1-y0) bytes). As in
// ImagingResampleInner, the horizontal pass runs first (skipped when the
// width is unchanged), its result is rounded and clipped to uint8, and the
// vertical pass (skipped when the height is unchanged) reads it.
func resizeWindow(pix []uint16, w, h int, lut []uint8, win window) []uint8 {
	cw, ch := win.x1-win.x0, win.y1-win.y0
	if cw <= 0 || ch <= 0 {
		return nil
	}
	needH, needV := win.outW != w, win.outH != h

	// The input rows the vertical pass reads.
	var vt taps
	ry0, ry1 := win.y0, win.y1
	if needV {
		vt = newTaps(h, win.outH, win.y0, win.y1)
		ry0, ry1 = vt.span()
	}

	// Horizontal pass into tmp: rows ry0..ry1 of the width-resized image,
	// columns x0..x1.
	tmp := make([]uint8, (ry1-ry0)*cw)
	if needH {
		ht := newTaps(w, win.outW, win.x0, win.x1)
		cx0, cx1 := ht.span()
		parallelRows(ry1-ry0, cw*ht.ksize, func(lo, hi int) {
			buf := make([]uint8, cx1-cx0)
			for r := lo; r < hi; r++ {
				src := pix[(ry0+r)*w+cx0 : (ry0+r)*w+cx1]
				for i, v := range src {
					buf[i] = lut[v]
				}
				dst := tmp[r*cw : (r+1)*cw]
				for j := range dst {
					n := ht.n[j]
					k := ht.k[j*ht.ksize : j*ht.ksize+n]
					in := buf[ht.start[j]-cx0 : ht.start[j]-cx0+n]
					ss := int32(1 << (precisionBits - 1))
					for t, v := range in {
						ss += int32(v) * k[t]
					}
					dst[j] = clip8(ss)
				}
			}
		})
	} else {
		for r := range ry1 - ry0 {
			src := pix[(ry0+r)*w+win.x0 : (ry0+r)*w+win.x1]
			dst := tmp[r*cw : (r+1)*cw]
			for i, v := range src {
				dst[i] = lut[v]
			}
		}
	}
	if !needV {
		return tmp
	}

	// Vertical pass: the integer sums are exact, so the loop order is free;
	// rows of accumulators let the inner loop run along memory.
	out := make([]uint8, ch*cw)
	parallelRows(ch, cw*vt.ksize, func(lo, hi int) {
		acc := make([]int32, cw)
		for r := lo; r < hi; r++ {
			for j := range acc {
				acc[j] = 1 << (precisionBits - 1)
			}
			n := vt.n[r]
			k := vt.k[r*vt.ksize : r*vt.ksize+n]
			for t, kt := range k {
				row := tmp[(vt.start[r]-ry0+t)*cw : (vt.start[r]-ry0+t+1)*cw]
				for j, v := range row {
					acc[j] += int32(v) * kt
				}
			}
			dst := out[r*cw : (r+1)*cw]
			for j, ss := range acc {
				dst[j] = clip8(ss)
			}
		}
	})
	return out
}

// parallelRows calls f on disjoint row ranges covering [0, rows), on up to
// GOMAXPROCS goroutines when the work (rows * costPerRow multiply-adds) is
// worth it.
func parallelRows(rows, costPerRow int, f func(lo, hi int)) {
	workers := runtime.GOMAXPROCS(0)
	if rows*costPerRow < 1<<18 || workers < 2 || rows < 2 {
		f(0, rows)
		return
	}
	workers = min(workers, rows)
	var wg sync.WaitGroup
	for i := range workers {
		lo, hi := rows*i/workers, rows*(i+1)/workers
		wg.Go(func() { f(lo, hi) })
	}
	wg.Wait()
}
