package dtype

import (
	"bytes"
	"math"
	"testing"
)

// randomRows fills n values with blocks of 256 drawn from many shapes and
// scales (the differential tests' input). Every value is finite.
func randomRows(seed uint64, n int) []float32 {
	r := splitmix64(seed)
	x := make([]float32, n)
	for b := 0; b < n; b += 256 {
		kind := r.next() % 10
		scale := math.Ldexp(1, int(r.next()%80)-50)
		for i := b; i < b+256 && i < n; i++ {
			var v float64
			switch kind {
			case 0, 1, 2: // gaussian
				v = scale * r.gauss()
			case 3: // offset gaussian, mostly one sign
				v = scale * (r.gauss() + 2)
			case 4: // small integers: rounding ties
				v = scale * float64(int(r.next()%16)-8)
			case 5: // log-uniform magnitudes
				v = r.sign() * scale * math.Ldexp(r.unif(), -int(r.next()%20))
			case 6: // rare outliers
				v = scale * r.gauss()
				if r.next()%32 == 0 {
					v *= 50
				}
			case 7: // many exact zeros
				if r.next()%3 != 0 {
					v = scale * r.gauss()
				}
			case 8: // a single outlier far below everything
				v = scale * r.unif()
				if i%97 == 5 {
					v = -scale * 1e4
				}
			case 9: // float32 extremes: subnormals or near the top
				if r.next()&1 == 0 {
					v = r.sign() * math.Ldexp(r.unif(), -130-int(r.next()%20))
				} else {
					v = r.sign() * math.Ldexp(1+r.unif(), 100+int(r.next()%28))
				}
			}
			x[i] = float32(v)
		}
	}
	return x
}

// TestFastMatchesReference holds the optimised K-quant encoders to the plain
// transliterations in ref_test.go on many random rows.
func TestFastMatchesReference(t *testing.T) {
	n := 256 * 2048
	if testing.Short() {
		n = 256 * 256
	}
	for _, c := range []struct {
		name      string
		fast, ref func([]byte, []float32)
		bb        int
	}{
		{"q4_k", encodeQ4_K, refEncodeQ4_K, q4KBlocks},
		{"q6_k", encodeQ6_K, refEncodeQ6_K, q6KBlocks},
	} {
		t.Run(c.name, func(t *testing.T) {
			x := randomRows(7, n)
			got := make([]byte, n/qkK*c.bb)
			want := make([]byte, len(got))
			c.fast(got, x)
			c.ref(want, x)
			bad := 0
			for b := 0; b < len(got); b += c.bb {
				if !bytes.Equal(got[b:b+c.bb], want[b:b+c.bb]) {
					if bad++; bad <= 3 {
						t.Errorf("block %d: got %x\nwant %x\ninput %v", b/c.bb, got[b:b+c.bb], want[b:b+c.bb], x[b/c.bb*qkK:][:qkK])
					}
				}
			}
			if bad > 0 {
				t.Errorf("%d of %d blocks differ", bad, len(got)/c.bb)
			}
		})
	}
}
