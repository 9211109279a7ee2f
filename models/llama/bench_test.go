package llama

import (
	"path/filepath"
	"testing"

	"maira/quant/dtype"
)

// benchTypes are the language-model types the benchmarks cover: the
// reference F32 and the two a maira file normally holds.
var benchTypes = []dtype.Type{dtype.F32, dtype.Q8_0, dtype.Q4_K}

func benchModel(b *testing.B, typ dtype.Type) *Model {
	path := filepath.Join(b.TempDir(), "small.gguf")
	if err := writeModel(path, "small", typ); err != nil {
		b.Fatal(err)
	}
	m, _ := open(b, path, 0)
	return m
}

// BenchmarkDecodeStep is one generated token of the small preset after a
// 64-token prompt (the cache restarts, untimed, when full).
func BenchmarkDecodeStep(b *testing.B) {
	for _, typ := range benchTypes {
		b.Run(typ.String(), func(b *testing.B) {
			m := benchModel(b, typ)
			ids := make([]int32, 64)
			for i := range ids {
				ids[i] = int32(100 + i*37)
			}
			const capacity = 1024
			start := func() *Session {
				s, err := m.NewSession(capacity, dtype.F32)
				if err != nil {
					b.Fatal(err)
				}
				x, _ := s.Embed(ids)
				if _, err := s.Prefill(x); err != nil {
					b.Fatal(err)
				}
				return s
			}
			s := start()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if s.Pos() == capacity {
					b.StopTimer()
					s.Close()
					s = start()
					b.StartTimer()
				}
				if _, err := s.Step(int32(i % 32000)); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "tokens/s")
		})
	}
}

// BenchmarkPrefill64 is a 64-token prompt of the small preset.
func BenchmarkPrefill64(b *testing.B) {
	for _, typ := range benchTypes {
		b.Run(typ.String(), func(b *testing.B) {
			m := benchModel(b, typ)
			s, err := m.NewSession(64, dtype.F32)
			if err != nil {
				b.Fatal(err)
			}
			ids := make([]int32, 64)
			for i := range ids {
				ids[i] = int32(100 + i*37)
			}
			x, _ := s.Embed(ids)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				s.pos = 0
				if _, err := s.Prefill(x); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(64*float64(b.N)/b.Elapsed().Seconds(), "tokens/s")
		})
	}
}
