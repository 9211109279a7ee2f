//go:build !noasm

package kernels

// dotNEON is Dot with 4 vector accumulators of 4 lanes (16 values a step,
// fused multiply-adds); the last len%16 values take a scalar loop.
func dotNEON(a, b []float32) float32 {
	n := len(a)
	b = b[:n]
	n16 := n &^ 15
	var s float32
	if n16 > 0 {
		s = dotNeonAsm(&a[0], &b[0], n16)
	}
	for i := n16; i < n; i++ {
		s += a[i] * b[i]
	}
	return s
}

// axpyNEON is Axpy with vector fused multiply-adds, 16 values a step
// (generic's y[i] += a*x[i] is fused on arm64 too, so the two agree bit
// for bit); the last len%16 values take generic's loop.
func axpyNEON(y []float32, a float32, x []float32) {
	n := len(y)
	x = x[:n]
	n16 := n &^ 15
	if n16 > 0 {
		axpyNeonAsm(&y[0], a, &x[0], n16)
	}
	axpy(y[n16:], a, x[n16:])
}

// dotNeonAsm returns Σ a[i]·b[i] for n a positive multiple of 16.
//
//go:noescape
func dotNeonAsm(a, b *float32, n int) float32

// axpyNeonAsm adds a·x[i] to y[i] for n a positive multiple of 16.
//
//go:noescape
func axpyNeonAsm(y *float32, a float32, x *float32, n int)
