package dtype

import "testing"

// benchRow is 1M gaussian values at weight-like scale: a real tensor's worth,
// so that branch predictors cannot learn the data as they learn a short
// row repeated (a 4096-value row made a branchy q8_0 encoder look 3x faster
// than it ran on checkpoints).
func benchRow() []float32 {
	r := splitmix64(42)
	x := make([]float32, 1<<20)
	for i := range x {
		x[i] = f32(0.02, r.gauss())
	}
	return x
}

// The benchmarks report ns per element (ns/elem) and, through SetBytes, MB/s
// of float32 values (4 bytes per element) encoded or decoded.
func BenchmarkFromFloat(b *testing.B) {
	x := benchRow()
	for _, ty := range All() {
		b.Run(ty.String(), func(b *testing.B) {
			tr := ty.Traits()
			dst := make([]byte, len(x)/tr.BlockSize*tr.BlockBytes)
			b.SetBytes(int64(4 * len(x)))
			for b.Loop() {
				tr.FromFloat(dst, x)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(x)), "ns/elem")
		})
	}
}

func BenchmarkToFloat(b *testing.B) {
	x := benchRow()
	for _, ty := range All() {
		b.Run(ty.String(), func(b *testing.B) {
			tr := ty.Traits()
			src := make([]byte, len(x)/tr.BlockSize*tr.BlockBytes)
			tr.FromFloat(src, x)
			dst := make([]float32, len(x))
			b.SetBytes(int64(4 * len(x)))
			for b.Loop() {
				tr.ToFloat(dst, src)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(x)), "ns/elem")
		})
	}
}

// BenchmarkDecodeHalfRandom decodes random 16-bit codes (every exponent,
// zeros, subnormals and NaNs mixed), the worst case for branchy decoders.
// MB/s counts float32 output, as in BenchmarkToFloat.
func BenchmarkDecodeHalfRandom(b *testing.B) {
	r := splitmix64(5)
	src := make([]byte, 2*4096)
	for i := range src {
		src[i] = byte(r.next())
	}
	dst := make([]float32, 4096)
	for _, c := range []struct {
		name string
		dec  func([]float32, []byte) int
	}{{"f16", DecodeF16}, {"bf16", DecodeBF16}} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(4 * len(dst)))
			for b.Loop() {
				c.dec(dst, src)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(dst)), "ns/elem")
		})
	}
}
