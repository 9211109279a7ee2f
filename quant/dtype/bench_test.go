package dtype

import "testing"

// benchRow is a 4096-value gaussian row at weight-like scale.
func benchRow() []float32 {
	r := splitmix64(42)
	x := make([]float32, 4096)
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
