//go:build !noasm

package kernels

import (
	"golang.org/x/sys/cpu"

	"maira/quant/dtype"
)

// The amd64 variants (qdot_amd64.s, written by _generate): the integer dot
// products of the quantized MatMul, bit-identical to the Go twins in
// quant.go, plus the float kernels of float_amd64.s.
//
//	avx2:   AVX2 + FMA + F16C (Haswell, Zen 1 and later)
//	avx512: AVX-512 F/BW/VL + VNNI on ymm registers (Ice Lake, Zen 4)
//
// A Q6_K weight runs the Go twin in both (no assembly yet).

//go:noescape
func q4_0DotAvx2(out *[4]float32, w *byte, nb int, q *byte, d *float32, ldq, ldd, nr int)

//go:noescape
func q8_0DotAvx2(out *[4]float32, w *byte, nb int, q *byte, d *float32, ldq, ldd, nr int)

//go:noescape
func q4_KDotAvx2(out *[4]float32, w *byte, nb int, q *byte, d *float32, ldq, ldd, nr int)

//go:noescape
func q4_0DotAvx512(out *[4]float32, w *byte, nb int, q *byte, d *float32, ldq, ldd, nr int)

//go:noescape
func q8_0DotAvx512(out *[4]float32, w *byte, nb int, q *byte, d *float32, ldq, ldd, nr int)

//go:noescape
func q4_KDotAvx512(out *[4]float32, w *byte, nb int, q *byte, d *float32, ldq, ldd, nr int)

type asmDot func(out *[4]float32, w *byte, nb int, q *byte, d *float32, ldq, ldd, nr int)

// wrap adapts an assembly kernel to the qdot signature.
func wrap(f asmDot) qdot {
	return func(out *[4]float32, w []byte, a *Activations, r0, nr int) {
		f(out, &w[0], a.Blocks, &a.Q[r0*a.RowBytes], &a.D[r0*a.Blocks], a.RowBytes, 4*a.Blocks, nr)
	}
}

func hasAVX2() bool { return cpu.X86.HasAVX2 && cpu.X86.HasFMA && cpu.X86.HasF16C }

func hasAVX512VNNI() bool {
	return hasAVX2() && cpu.X86.HasAVX512F && cpu.X86.HasAVX512BW && cpu.X86.HasAVX512VL && cpu.X86.HasAVX512VNNI
}

func init() {
	Register(&Variant{Name: "avx2", Priority: 10, Available: hasAVX2,
		Dot: dotAVX2, Axpy: axpyAVX2,
		qdots: qdotTable{
			dtype.Q4_0: wrap(q4_0DotAvx2),
			dtype.Q8_0: wrap(q8_0DotAvx2),
			dtype.Q4_K: wrap(q4_KDotAvx2),
		}})
	Register(&Variant{Name: "avx512", Priority: 20, Available: hasAVX512VNNI,
		Dot: dotAVX2, Axpy: axpyAVX2,
		qdots: qdotTable{
			dtype.Q4_0: wrap(q4_0DotAvx512),
			dtype.Q8_0: wrap(q8_0DotAvx512),
			dtype.Q4_K: wrap(q4_KDotAvx512),
		}})
}
