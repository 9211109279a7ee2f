package dtype

import (
	"math"
	"strings"
	"testing"
)

// TestRoundTripError encodes gaussian rows at several scales and decodes
// them again: the relative RMS error must stay within what each format's
// resolution allows (bounds about 1.5x the errors observed).
func TestRoundTripError(t *testing.T) {
	bounds := map[Type]float64{
		F32: 0, F16: 3.5e-4, BF16: 3e-3,
		Q8_0: 0.008, Q4_0: 0.12, Q4_K: 0.1, Q6_K: 0.03,
	}
	for _, sigma := range []float64{1e-3, 0.02, 1, 300} {
		r := splitmix64(99)
		x := make([]float32, 256*64)
		for i := range x {
			x[i] = f32(sigma, r.gauss())
		}
		for _, ty := range All() {
			tr := ty.Traits()
			q := make([]byte, len(x)/tr.BlockSize*tr.BlockBytes)
			y := make([]float32, len(x))
			if err := ty.Encode(q, x); err != nil {
				t.Fatal(err)
			}
			if err := ty.Decode(y, q); err != nil {
				t.Fatal(err)
			}
			var se, sx float64
			for i := range x {
				d := float64(y[i]) - float64(x[i])
				se += d * d
				sx += float64(x[i]) * float64(x[i])
			}
			rel := math.Sqrt(se / sx)
			if rel > bounds[ty] {
				t.Errorf("%s, sigma %g: relative RMS error %.3g, want <= %g", ty, sigma, rel, bounds[ty])
			}
			t.Logf("%-5s sigma %-6g relative RMS error %.3g", ty, sigma, rel)
		}
	}
}

func TestEncodeDecodeChecks(t *testing.T) {
	for _, c := range []struct {
		ty      Type
		nsrc    int // floats for Encode, and dst floats for Decode
		nbytes  int
		wantErr string
	}{
		{Q4_K, 256, 144, ""},
		{Q4_K, 512, 288, ""},
		{Q4_K, 0, 0, ""},
		{Q4_K, 100, 144, "not a whole number of blocks of 256"},
		{Q4_K, 256, 143, "need 144 bytes"},
		{Q4_K, 256, 145, "need 144 bytes"},
		{Q8_0, 64, 68, ""},
		{Q8_0, 33, 68, "not a whole number of blocks of 32"},
		{F16, 3, 6, ""},
		{F16, 3, 8, "need 6 bytes"},
		{F32, 2, 8, ""},
		{Type(99), 32, 32, "unsupported tensor type type(99)"},
	} {
		src := make([]float32, c.nsrc)
		buf := make([]byte, c.nbytes)
		for _, op := range []string{"encode", "decode"} {
			var err error
			if op == "encode" {
				err = c.ty.Encode(buf, src)
			} else {
				err = c.ty.Decode(src, buf)
			}
			switch {
			case c.wantErr == "" && err != nil:
				t.Errorf("%s %s %d/%d: unexpected error %v", op, c.ty, c.nsrc, c.nbytes, err)
			case c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)):
				t.Errorf("%s %s %d/%d: error %v, want one containing %q", op, c.ty, c.nsrc, c.nbytes, err, c.wantErr)
			}
		}
	}
}

func TestDecodeHalfCounts(t *testing.T) {
	src := []byte{0x00, 0x3c, 0x00, 0xc0, 0x80} // f16 1, -2, and a stray byte
	for _, c := range []struct {
		ndst, want int
	}{{0, 0}, {1, 1}, {2, 2}, {5, 2}} {
		dst := make([]float32, c.ndst)
		if n := DecodeF16(dst, src); n != c.want {
			t.Errorf("DecodeF16 into %d: %d values, want %d", c.ndst, n, c.want)
		}
		if c.ndst >= 2 && (dst[0] != 1 || dst[1] != -2) {
			t.Errorf("DecodeF16: got %v, want [1 -2]", dst[:2])
		}
		if n := DecodeBF16(dst, src); n != c.want {
			t.Errorf("DecodeBF16 into %d: %d values, want %d", c.ndst, n, c.want)
		}
	}
	dst := make([]float32, 2)
	DecodeBF16(dst, []byte{0x80, 0x3f, 0x00, 0xc0})
	if dst[0] != 1 || dst[1] != -2 {
		t.Errorf("DecodeBF16: got %v, want [1 -2]", dst)
	}
}

// TestHalfScalars pins a few conversions whose ggml results are easy to
// state by hand.
func TestHalfScalars(t *testing.T) {
	inf := float32(math.Inf(1))
	for _, c := range []struct {
		f    float32
		f16  uint16
		bf16 uint16
	}{
		{0, 0x0000, 0x0000},
		{float32(math.Copysign(0, -1)), 0x8000, 0x8000},
		{1, 0x3c00, 0x3f80},
		{-2, 0xc000, 0xc000},
		{65504, 0x7bff, 0x4780},
		{65520, 0x7c00, 0x4780},         // halfway to 2^16: ties to even, so Inf in fp16
		{1 + 0x1p-11, 0x3c00, 0x3f80},   // tie, even stays
		{1 + 3*0x1p-11, 0x3c02, 0x3f80}, // tie, odd rounds up
		{0x1p-24, 0x0001, 0x3380},       // smallest fp16 subnormal
		{0x1p-25, 0x0000, 0x3300},       // half of it: tie to even 0
		{inf, 0x7c00, 0x7f80},
		{float32(math.NaN()), 0x7e00, 0x7fc0},
	} {
		if got := FP32ToFP16(c.f); got != c.f16 {
			t.Errorf("FP32ToFP16(%g) = %#04x, want %#04x", c.f, got, c.f16)
		}
		if got := FP32ToBF16(c.f); got != c.bf16 {
			t.Errorf("FP32ToBF16(%g) = %#04x, want %#04x", c.f, got, c.bf16)
		}
	}
	// sNaN in, quiet NaN out, payload kept.
	if got := math.Float32bits(FP16ToFP32(0x7c01)); got != 0x7fc02000 {
		t.Errorf("FP16ToFP32(0x7c01) = %#08x, want 0x7fc02000", got)
	}
	if got := FP32ToBF16(math.Float32frombits(0xff800001)); got != 0xffc0 {
		t.Errorf("FP32ToBF16(-sNaN) = %#04x, want 0xffc0", got)
	}
	if got := BF16ToFP32(0x4049); got != 3.140625 {
		t.Errorf("BF16ToFP32(0x4049) = %g, want 3.140625", got)
	}
}
