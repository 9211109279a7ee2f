package runtime

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"maira/kernels"
	"maira/quant/dtype"
)

// TestCache writes rows into key/value caches through views, as a session
// appends a chunk, reads them back (F32 exactly, F16 rounded as
// dtype.FP32ToFP16), and holds attention over the caches bit for bit to
// attention over activation tensors holding the same values.
func TestCache(t *testing.T) {
	r := rand.New(rand.NewPCG(61, 62))
	for _, b := range backends(t) {
		for _, typ := range []dtype.Type{dtype.F32, dtype.F16, dtype.Q8_0} {
			for _, c := range []struct {
				prefix, rows, heads, kvHeads, hd int
			}{
				{prefix: 0, rows: 37, heads: 4, kvHeads: 2, hd: 16},
				{prefix: 100, rows: 1, heads: 3, kvHeads: 3, hd: 8},
				{prefix: 299, rows: 1, heads: 4, kvHeads: 4, hd: 128},
				{prefix: 64, rows: 9, heads: 2, kvHeads: 1, hd: 32},
				{prefix: 3, rows: 40, heads: 4, kvHeads: 4, hd: 64},
			} {
				if typ == dtype.Q8_0 && c.hd%32 != 0 {
					continue // refused: TestCacheMisuse
				}
				name := fmt.Sprintf("%s, %s cache, %d rows after %d, %d/%d heads of %d", b.Describe(), typ, c.rows, c.prefix, c.heads, c.kvHeads, c.hd)
				keys, kw := c.prefix+c.rows, c.kvHeads*c.hd
				kc, err := b.AllocCache(typ, keys+5, c.kvHeads, c.hd)
				if err != nil {
					t.Fatal(err)
				}
				vc, err := b.AllocCache(typ, keys+5, c.kvHeads, c.hd)
				if err != nil {
					t.Fatal(err)
				}
				kv, vv := randv(r, keys*kw), randv(r, keys*kw)
				// The prefix by Write, the new rows by CopyRows, as forward does.
				for _, p := range []struct {
					cache Tensor
					vals  []float32
				}{{kc, kv}, {vc, vv}} {
					if c.prefix > 0 {
						if err := b.Write(b.View(p.cache, 0, c.prefix), p.vals[:c.prefix*kw]); err != nil {
							t.Fatal(err)
						}
					}
					b.CopyRows(b.View(p.cache, c.prefix, c.rows), tensor(t, b, c.rows, kw, p.vals[c.prefix*kw:]))
				}
				rounded := func(v []float32) []float32 {
					out := make([]float32, len(v))
					for i, x := range v {
						out[i] = x
						if typ == dtype.F16 {
							out[i] = dtype.FP16ToFP32(dtype.FP32ToFP16(x))
						}
					}
					if typ == dtype.Q8_0 { // each head's row through a Q8 row
						g, row := kernels.Generic(), make([]byte, kernels.Q8Row(c.hd))
						for o := 0; o < len(v); o += c.hd {
							g.FloatToQ8(row, v[o:o+c.hd])
							g.Q8ToFloat(out[o:o+c.hd], row)
						}
					}
					return out
				}
				kr, vr := rounded(kv), rounded(vv)
				if got := read(t, b, b.View(kc, 0, keys)); !equalBits(got, kr) {
					t.Fatalf("%s: keys read back differ from those written", name)
				}
				if got := read(t, b, b.View(vc, 0, keys)); !equalBits(got, vr) {
					t.Fatalf("%s: values read back differ from those written", name)
				}

				qv := randv(r, c.rows*c.heads*c.hd)
				a := Attn{Heads: c.heads, KVHeads: c.kvHeads, Causal: true, Pos0: c.prefix}
				q := tensor(t, b, c.rows, c.heads*c.hd, qv)
				got := tensor(t, b, c.rows, c.heads*c.hd, nil)
				b.Attention(got, q, b.View(kc, 0, keys), b.View(vc, 0, keys), a)
				want := tensor(t, b, c.rows, c.heads*c.hd, nil)
				b.Attention(want, q, tensor(t, b, keys, kw, kr), tensor(t, b, keys, kw, vr), a)
				if !equalBits(read(t, b, got), read(t, b, want)) {
					t.Fatalf("%s: attention over the cache differs from attention over its values", name)
				}
			}
		}
	}
}

func equalBits(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return false
		}
	}
	return true
}

// TestCacheMisuse: a cache type the backend lacks is an error; a cache
// used as an activation, or keys and values of different kinds, panic.
func TestCacheMisuse(t *testing.T) {
	b, _ := NewCPU(1)
	defer b.Close()
	if _, err := b.AllocCache(dtype.Q4_0, 4, 2, 32); err == nil || !strings.Contains(err.Error(), "q4_0") {
		t.Errorf("q4_0 cache: %v", err)
	}
	if _, err := b.AllocCache(dtype.Q8_0, 4, 2, 24); err == nil || !strings.Contains(err.Error(), "multiple of 32") {
		t.Errorf("q8_0 cache of heads of 24: %v", err)
	}
	if _, err := b.AllocCache(dtype.F16, 0, 2, 8); err == nil {
		t.Error("cache of 0 positions: no error")
	}
	kc, err := b.AllocCache(dtype.F16, 4, 2, 8)
	if err != nil {
		t.Fatal(err)
	}
	k32, _ := b.AllocCache(dtype.F32, 4, 2, 8)
	x := tensor(t, b, 4, 16, nil)
	for name, f := range map[string]func(){
		"Add of a cache":           func() { b.Add(x, kc, x) },
		"MatMul into a cache":      func() { b.RMSNorm(kc, x, nil, 1e-5) },
		"CopyRows from a cache":    func() { b.CopyRows(x, kc) },
		"Attention of mixed kinds": func() { b.Attention(x, x, kc, x, Attn{Heads: 2, KVHeads: 2}) },
		"Attention of mixed types": func() { b.Attention(x, x, kc, k32, Attn{Heads: 2, KVHeads: 2}) },
		"Attention of other heads": func() {
			b.Attention(tensor(t, b, 4, 32, nil), tensor(t, b, 4, 32, nil), kc, kc, Attn{Heads: 2, KVHeads: 1})
		},
		"View past a cache's rows": func() { b.View(kc, 2, 3) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s did not panic", name)
				}
			}()
			f()
		}()
	}
}
