// Command gen writes a synthetic test image as planar raw samples in the
// layout opj_compress reads with -F (one byte per sample up to 8 bits,
// otherwise two bytes little-endian; two's complement when signed).
//
//	go run ./dicom/jpeg2000/testdata/gen W H NCOMP BITS s|u SEED > out.rawl
package main

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
)

func main() {
	if len(os.Args) != 7 {
		fmt.Fprintln(os.Stderr, "usage: gen W H NCOMP BITS s|u SEED")
		os.Exit(2)
	}
	a := func(i int) int { v, _ := strconv.Atoi(os.Args[i]); return v }
	w, h, nc, bits, seed := a(1), a(2), a(3), a(4), a(6)
	signed := os.Args[5] == "s"
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	for _, v := range Image(w, h, nc, bits, signed, uint64(seed)) {
		if bits <= 8 {
			out.WriteByte(byte(v))
		} else {
			out.WriteByte(byte(v))
			out.WriteByte(byte(v >> 8))
		}
	}
}

// Image returns planar samples: a gradient, a disc and an edge for
// structure, plus noise, so that every bit-plane and subband carries data.
// The same function is in the package tests (synth in jpeg2000_test.go).
func Image(w, h, nc, bits int, signed bool, seed uint64) []int32 {
	s := seed*0x9E3779B97F4A7C15 + 1
	rnd := func() uint64 {
		s ^= s << 13
		s ^= s >> 7
		s ^= s << 17
		return s
	}
	maxv := int64(1)<<uint(bits) - 1
	out := make([]int32, 0, w*h*nc)
	for c := 0; c < nc; c++ {
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				v := int64(x*(c+1)+y*2) * maxv / int64(w+2*h+c*w)
				dx, dy := x-w/2, y-h/3
				if dx*dx+dy*dy < w*h/10 {
					v = maxv - v/2
				}
				if x > w*2/3 {
					v /= 3
				}
				v += int64(rnd()%uint64(maxv/16+2)) - maxv/32
				v = min(max(v, 0), maxv)
				if signed {
					v -= int64(1) << uint(bits-1)
				}
				out = append(out, int32(v))
			}
		}
	}
	return out
}
