package kernels

import (
	"math"
	"math/rand/v2"
	"testing"
)

// BenchmarkAttentionDecode measures one decode step's attention of one
// layer on one thread: 32 heads of 128, one query row after 1400 keys, the
// keys and values either in rows interleaving every head ("rows", 4096
// values apart) or each head's positions together ("heads", the session
// cache's layout), in f32, f16 or q8: GB/s of keys and values read.
func BenchmarkAttentionDecode(b *testing.B) {
	r := rand.New(rand.NewPCG(41, 42))
	const heads, hd, keys = 32, 128, 1400
	ld := heads * hd
	q := randSlice(r, ld, 1)
	k, v := randSlice(r, keys*ld, 1), randSlice(r, keys*ld, 1)
	k16, v16 := make([]uint16, len(k)), make([]uint16, len(v))
	dtypeEncode(k16, k)
	dtypeEncode(v16, v)
	rb := Q8Row(hd)
	k8, v8 := make([]byte, heads*keys*rb), make([]byte, heads*keys*rb)
	for i := 0; i < heads*keys; i++ {
		generic.FloatToQ8(k8[i*rb:], k[i*hd:(i+1)*hd])
		generic.FloatToQ8(v8[i*rb:], v[i*hd:(i+1)*hd])
	}
	out := make([]float32, ld)
	for _, vr := range Variants() {
		if vr.Available != nil && !vr.Available() || vr.Name == "q8" {
			continue
		}
		for _, c := range []struct {
			name        string
			half, bytes bool
			heads       bool
		}{{"f32/rows", false, false, false}, {"f32/heads", false, false, true}, {"f16/heads", true, false, true}, {"q8/heads", false, true, true}} {
			b.Run(c.name+"/"+vr.Name, func(b *testing.B) {
				var s Scratch
				for b.Loop() {
					for h := 0; h < heads; h++ {
						a := Attn{Out: out[h*hd:], LdOut: ld, Q: q[h*hd:], LdQ: ld, LdKV: ld, Rows: 1, HeadDim: hd,
							Scale: float32(1 / math.Sqrt(hd)), Keys: keys, Causal: true, Pos0: keys - 1}
						off := h * hd
						if c.heads {
							off, a.LdKV = h*hd*keys, hd
						}
						if c.bytes {
							a.K8, a.V8, a.LdKV = k8[h*keys*rb:], v8[h*keys*rb:], rb
						} else if c.half {
							a.K16, a.V16 = k16[off:], v16[off:]
						} else {
							a.K, a.V = k[off:], v[off:]
						}
						vr.Attention(&a, &s)
					}
				}
				bytes := 2 * keys * ld * 4
				if c.half {
					bytes /= 2
				} else if c.bytes {
					bytes = 2 * heads * keys * rb
				}
				b.ReportMetric(float64(bytes)/(b.Elapsed().Seconds()/float64(b.N))/1e9, "GB/s")
				b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N), "µs/layer")
			})
		}
	}
}
