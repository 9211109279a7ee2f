//go:build !noasm

package kernels

// dotAVX2 is Dot with 4 ymm FMA accumulators (32 values a step).
func dotAVX2(a, b []float32) float32 {
	if len(a) == 0 {
		return 0
	}
	b = b[:len(a)]
	return dotAsm(&a[0], &b[0], len(a))
}

// axpyAVX2 is Axpy with ymm FMAs.
func axpyAVX2(y []float32, a float32, x []float32) {
	if len(y) == 0 {
		return
	}
	x = x[:len(y)]
	axpyAsm(&y[0], a, &x[0], len(y))
}

//go:noescape
func dotAsm(a, b *float32, n int) float32

//go:noescape
func axpyAsm(y *float32, a float32, x *float32, n int)
