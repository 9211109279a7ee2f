package dtype

import "math"

// This file holds the scalar rules that ggml's reference quantizers
// (ggml/src/ggml-quants.c) lean on, written once so every type rounds alike.
//
// Bit-exactness notes that apply to every encoder here:
//
//   - The C reference is compiled without FMA contraction (ggml-base gets no
//     -march flags), so every product is rounded to float before it is added.
//     Go may fuse x*y+z into one FMA on arm64 (and amd64 with GOAMD64=v3);
//     an explicit float32(x*y) conversion forbids that (Go spec, "Floating-point
//     operators"), so products that feed a sum are always wrapped that way.
//   - C evaluates float expressions in float (FLT_EVAL_METHOD 0 on x86-64 and
//     aarch64); the Go code uses float32 throughout and never float64, except
//     where a float64 result is provably the same (sqrt, round).
//   - Sums are accumulated in the reference's order.

// magicRound is 1.5*2^23: adding it to a float of magnitude below 2^22 leaves
// the value rounded to an integer (ties to even) in the low mantissa bits.
const magicRound = 12582912

// nearestInt is ggml's nearest_int: round to nearest, ties to even, by the
// float trick fval + 12582912.f. The C code asserts |fval| <= 4194303; release
// builds (NDEBUG) do not check, and out-of-range inputs give garbage. We keep
// the same arithmetic so that garbage is the same garbage.
//
// The conversion float32(f) matters: callers pass products (iscale*x), and
// once inlined Go could fuse that product with this add into one FMA.
func nearestInt(f float32) int32 {
	v := float32(f) + magicRound
	return int32(math.Float32bits(v)&0x007fffff) - 0x00400000
}

// truncInt32 is C's float-to-int conversion as gcc emits it on x86-64
// (cvttss2si): truncation toward zero, and 0x80000000 for NaN and for values
// outside int32. Go leaves out-of-range conversions implementation-defined
// (arm64 saturates), so the reference quantizers' (int8_t)(float) casts go
// through here to give the same bytes on every architecture. Narrowing to
// int8 afterwards keeps the low byte, as gcc does.
func truncInt32(f float32) int32 {
	if f >= -2147483648 && f < 2147483648 {
		return int32(f)
	}
	return math.MinInt32
}

// absf is fabsf: clear the sign bit (also of NaN).
func absf(f float32) float32 {
	return math.Float32frombits(math.Float32bits(f) &^ 0x80000000)
}

// roundf is C's roundf: round half away from zero. The float64 round trip is
// exact for every float32.
func roundf(f float32) float32 {
	return float32(math.Round(float64(f)))
}
