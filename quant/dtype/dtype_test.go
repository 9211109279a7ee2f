package dtype

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"testing"
)

func readFloats(t *testing.T, path string) []float32 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	x := make([]float32, len(b)/4)
	decodeF32(x, b)
	return x
}

// caseAt names the input case that holds element k of rows.f32.
func caseAt(offs []int, k int) string {
	for i := len(offs) - 1; i >= 0; i-- {
		if k >= offs[i] {
			return fmt.Sprintf("%s[%d]", inputCases[i].name, k-offs[i])
		}
	}
	return "?"
}

// sameFloat is bit equality, except that any NaN matches any NaN: a NaN
// made by arithmetic (Inf*0 from an overflowed scale) is 0xffc00000 on x86
// and 0x7fc00000 on arm64, in C as in Go.
func sameFloat(a, b float32) bool {
	return math.Float32bits(a) == math.Float32bits(b) || a != a && b != b
}

// TestAgainstGGML holds every encoder and decoder to the bytes and floats
// that ggml's C reference produced from the same inputs (testdata/README.md).
func TestAgainstGGML(t *testing.T) {
	_, offs := genRows()
	for _, in := range []string{"rows", "special"} {
		src := readFloats(t, filepath.Join("testdata", in+".f32"))
		for _, ty := range All() {
			if ty == F32 || in == "special" && ty != F16 && ty != BF16 {
				continue
			}
			t.Run(in+"/"+ty.String(), func(t *testing.T) {
				base := filepath.Join("testdata", in+"."+ty.String())
				wantQ, err := os.ReadFile(base + ".bin")
				if err != nil {
					t.Fatal(err)
				}
				wantF := readFloats(t, base+".f32")
				n, _ := ty.RowBytes(int64(len(src)))
				gotQ := make([]byte, n)
				if err := ty.Encode(gotQ, src); err != nil {
					t.Fatal(err)
				}
				bs, bb := ty.BlockSize(), ty.Traits().BlockBytes
				bad := 0
				for b := 0; b < len(gotQ)/bb && bad < 5; b++ {
					g, w := gotQ[b*bb:(b+1)*bb], wantQ[b*bb:(b+1)*bb]
					if !bytes.Equal(g, w) {
						where := "special"
						if in == "rows" {
							where = caseAt(offs, b*bs)
						}
						t.Errorf("block %d (%s): encoded\n got %x\nwant %x", b, where, g, w)
						bad++
					}
				}
				gotF := make([]float32, len(src))
				if err := ty.Decode(gotF, wantQ); err != nil {
					t.Fatal(err)
				}
				bad = 0
				for k := range gotF {
					if !sameFloat(gotF[k], wantF[k]) && bad < 5 {
						t.Errorf("element %d: decoded %#08x, want %#08x", k, math.Float32bits(gotF[k]), math.Float32bits(wantF[k]))
						bad++
					}
				}
			})
		}
	}
}

// TestHalfDecodeAll decodes every fp16 and bf16 code and compares the result
// with ggml's, whose SHA-256 (of the 65536 little-endian float32 results in
// code order) testdata/README.md records.
func TestHalfDecodeAll(t *testing.T) {
	for _, c := range []struct {
		name string
		dec  func([]float32, []byte) int
		want string
	}{
		{"f16", DecodeF16, "b636c5716ff84d972782faf02d0194cb8951526bea4cc487082feb47b1860ddf"},
		{"bf16", DecodeBF16, "9207d7eb28680a098c73dbe536d1ff7b94311dc417b9a385e0af6660683e93ca"},
	} {
		codes := make([]byte, 2*65536)
		for i := range 65536 {
			codes[2*i], codes[2*i+1] = byte(i), byte(i>>8)
		}
		out := make([]float32, 65536)
		if n := c.dec(out, codes); n != 65536 {
			t.Fatalf("%s: decoded %d values, want 65536", c.name, n)
		}
		sum := sha256.Sum256(floatsToBytes(out))
		if got := hex.EncodeToString(sum[:]); got != c.want {
			t.Errorf("%s: sha256 of all decoded codes = %s, want %s", c.name, got, c.want)
		}
	}
	for i := range 65536 {
		h := uint16(i)
		if a, b := FP16ToFP32(h), refFP16ToFP32(h); math.Float32bits(a) != math.Float32bits(b) {
			t.Fatalf("FP16ToFP32(%#04x) = %#08x, ggml's arithmetic gives %#08x", h, math.Float32bits(a), math.Float32bits(b))
		}
	}
}

// refFP16ToFP32 is ggml_compute_fp16_to_fp32 step for step (float tricks
// included), against which the integer FP16ToFP32 is checked.
func refFP16ToFP32(h uint16) float32 {
	w := uint32(h) << 16
	sign := w & 0x80000000
	twoW := w + w
	const expOffset = 0xe0 << 23
	normalized := math.Float32frombits(twoW>>4+expOffset) * 0x1p-112
	const magicMask = 126 << 23
	denormalized := math.Float32frombits(twoW>>17|magicMask) - 0.5
	if twoW < 1<<27 {
		return math.Float32frombits(sign | math.Float32bits(denormalized))
	}
	return math.Float32frombits(sign | math.Float32bits(normalized))
}

// mix64 is splitmix64's finalizer.
func mix64(z uint64) uint64 {
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}

// TestHalfEncodeAll encodes all 2^32 float32 bit patterns to fp16 and bf16
// and compares a running hash, h = mix64(h ^ code), with the one the C
// harness computed over ggml's conversions. About 10 s of CPU each, so it
// runs only when DTYPE_EXHAUSTIVE=1 is set; TestHalfEncodeSampled covers the
// same ground more thinly on every run.
func TestHalfEncodeAll(t *testing.T) {
	if os.Getenv("DTYPE_EXHAUSTIVE") != "1" {
		t.Skip("2^32 conversions; set DTYPE_EXHAUSTIVE=1 to run")
	}
	for _, c := range []struct {
		name string
		enc  func(float32) uint16
		want uint64
	}{
		{"f16", FP32ToFP16, 0xcded88c0238558ec},
		{"bf16", FP32ToBF16, 0x587b0aff7156bdcc},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			var h uint64
			for i := uint64(0); i < 1<<32; i++ {
				h = mix64(h ^ uint64(c.enc(math.Float32frombits(uint32(i)))))
			}
			if h != c.want {
				t.Errorf("hash of all %s encodings = %#016x, ggml's = %#016x", c.name, h, c.want)
			}
		})
	}
}

// refFP32ToFP16 is ggml_compute_fp32_to_fp16 step for step, float tricks
// included, for the sampled comparison in TestHalfEncodeSampled.
func refFP32ToFP16(f float32) uint16 {
	w := math.Float32bits(f)
	base := float32(float32(math.Float32frombits(w&0x7fffffff)*0x1p+112) * 0x1p-110)
	shl1 := w + w
	sign := w & 0x80000000
	bias := shl1 & 0xff000000
	if bias < 0x71000000 {
		bias = 0x71000000
	}
	base = math.Float32frombits(bias>>1+0x07800000) + base
	bits := math.Float32bits(base)
	if shl1 > 0xff000000 {
		return uint16(sign>>16) | 0x7e00
	}
	return uint16(sign>>16) | uint16((bits>>13)&0x7c00+bits&0x0fff)
}

// TestHalfEncodeSampled compares FP32ToFP16 with ggml's arithmetic on every
// 509th bit pattern plus every pattern near a rounding boundary of the
// exponents where halves are normal, subnormal or overflow; the exhaustive
// check against ggml's own results is TestHalfEncodeAll.
func TestHalfEncodeSampled(t *testing.T) {
	check := func(b uint32) {
		f := math.Float32frombits(b)
		if got, want := FP32ToFP16(f), refFP32ToFP16(f); got != want {
			t.Fatalf("FP32ToFP16(%#08x) = %#04x, ggml's arithmetic gives %#04x", b, got, want)
		}
	}
	for b := uint64(0); b < 1<<32; b += 509 {
		check(uint32(b))
	}
	for e := uint32(100); e <= 145; e++ {
		for m := uint32(0); m < 1<<23; m += 1 << 12 {
			for d := uint32(0); d < 3; d++ {
				check(e<<23 | (m+d-1)&0x7fffff)
				check(1<<31 | e<<23 | (m+d-1)&0x7fffff)
			}
		}
	}
}
