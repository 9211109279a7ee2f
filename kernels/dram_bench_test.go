package kernels

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
)

// BenchmarkMatMulQDecodeDRAM measures decode-shaped MatMulQ on weights
// larger than the last-level cache (about 66 MB: 28672 x 4096 as the
// attention and up projections, 10240 x 11008 as the down projection),
// split across 1 and 2 goroutines by output rows as the backend does:
// GB/s of weights, to set beside the machine's read bandwidth.
func BenchmarkMatMulQDecodeDRAM(b *testing.B) {
	r := rand.New(rand.NewPCG(71, 72))
	for _, shape := range [][2]int{{28672, 4096}, {10240, 11008}} {
		rows, cols := shape[0], shape[1]
		for _, typ := range quantTypes {
			w := randMatrix(b, r, typ, rows, cols)
			x := randSlice(r, cols, 1)
			dst := make([]float32, rows)
			for _, v := range Variants() {
				if v.Available != nil && !v.Available() || v.Act(typ) == ActNone || v.Name == "q8" {
					continue
				}
				a := quantize(v, typ, x, 1, cols)
				for _, threads := range []int{1, 2} {
					b.Run(fmt.Sprintf("%dx%d/%s/%s/threads=%d", rows, cols, typ, v.Name, threads), func(b *testing.B) {
						s := make([]Scratch, threads)
						for b.Loop() {
							var wg sync.WaitGroup
							for t := 0; t < threads; t++ {
								wg.Add(1)
								go func() {
									defer wg.Done()
									v.MatMulQ(dst, rows, a, w, rows*t/threads, rows*(t+1)/threads, &s[t])
								}()
							}
							wg.Wait()
						}
						b.ReportMetric(float64(len(w.Data))/(b.Elapsed().Seconds()/float64(b.N))/1e9, "GB/s")
					})
				}
			}
		}
	}
}
