package safetensors

import (
	"bytes"
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"maira/quant/dtype"
)

// tensorData is a tensor to write in a test: its spec and its bytes.
type tensorData struct {
	Spec
	data []byte
}

// writeTensors writes a file through Writer, in the given order.
func writeTensors(t testing.TB, path string, ts []tensorData, meta map[string]string) {
	t.Helper()
	specs := make([]Spec, len(ts))
	for i, td := range ts {
		specs[i] = td.Spec
	}
	w, err := Create(path, specs, meta)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Abort()
	for _, td := range ts {
		if _, err := w.Write(td.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

// rawFile assembles a file from a header text and a data section, padding
// nothing, so tests can write exactly the damage they mean.
func rawFile(header string, data []byte) []byte {
	b := make([]byte, 8, 8+len(header)+len(data))
	binary.LittleEndian.PutUint64(b, uint64(len(header)))
	b = append(b, header...)
	return append(b, data...)
}

func f32Bytes(vs ...float32) []byte {
	b := make([]byte, 4*len(vs))
	for i, v := range vs {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(v))
	}
	return b
}

func u16Bytes(vs ...uint16) []byte {
	b := make([]byte, 2*len(vs))
	for i, v := range vs {
		binary.LittleEndian.PutUint16(b[2*i:], v)
	}
	return b
}

// seq returns n bytes 0, 1, 2, ... (mod 251), so misplaced data shows.
func seq(n int, start byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = start + byte(i%251)
	}
	return b
}

func TestRoundTrip(t *testing.T) {
	tests := []struct {
		name    string
		tensors []tensorData
		meta    map[string]string
	}{
		{"f32 scalar", []tensorData{{Spec{"s", F32, []int64{}}, f32Bytes(3.5)}}, nil},
		{"f32 1-d", []tensorData{{Spec{"v", F32, []int64{5}}, f32Bytes(1, -2, 3, 0, 1e30)}}, map[string]string{"format": "pt"}},
		{"f16 2-d", []tensorData{{Spec{"w", F16, []int64{3, 2}}, seq(12, 1)}}, nil},
		{"bf16 4-d", []tensorData{{Spec{"conv", BF16, []int64{2, 3, 1, 2}}, seq(24, 7)}}, nil},
		{"zero-size", []tensorData{
			{Spec{"empty", F32, []int64{0}}, nil},
			{Spec{"a", BF16, []int64{3}}, seq(6, 0)},
			{Spec{"empty2", F16, []int64{4, 0, 3}}, nil},
			{Spec{"b", F32, []int64{1}}, f32Bytes(9)},
		}, nil},
		{"mixed with int", []tensorData{
			{Spec{"z.weight", BF16, []int64{2, 2}}, seq(8, 3)},
			{Spec{"a.bias", F32, []int64{3}}, f32Bytes(1, 2, 3)},
			{Spec{"position_ids", "I64", []int64{1, 3}}, seq(24, 9)},
			{Spec{"mask", "BOOL", []int64{5}}, seq(5, 0)},
		}, map[string]string{"format": "pt", "note": "ünïcode \"quoted\"\n"}},
		{"no tensors", nil, map[string]string{"k": "v"}},
		{"nothing", nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "x.safetensors")
			writeTensors(t, path, tt.tensors, tt.meta)
			raw, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			n := binary.LittleEndian.Uint64(raw)
			if n%8 != 0 {
				t.Errorf("header length %d is not a multiple of 8", n)
			}
			f, err := OpenFile(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if len(f.Tensors) != len(tt.tensors) {
				t.Fatalf("got %d tensors, want %d", len(f.Tensors), len(tt.tensors))
			}
			// Written in order, so the data-offset order is the spec order.
			for i, want := range tt.tensors {
				got := f.Tensors[i]
				if got.Name != want.Name || got.DType != want.DType || !reflect.DeepEqual(got.Shape, want.Shape) {
					t.Errorf("tensor %d: got %s %s %v, want %s %s %v", i, got.Name, got.DType, got.Shape, want.Name, want.DType, want.Shape)
				}
				if !bytes.Equal(got.Data, want.data) {
					t.Errorf("tensor %s: data differs", want.Name)
				}
				if got.File != path {
					t.Errorf("tensor %s: File = %q, want %q", want.Name, got.File, path)
				}
			}
			wantMeta := tt.meta
			if wantMeta == nil {
				wantMeta = map[string]string{}
			}
			if !reflect.DeepEqual(f.Metadata, wantMeta) {
				t.Errorf("metadata = %v, want %v", f.Metadata, wantMeta)
			}
		})
	}
}

// TestHuggingFaceLayout pins the bytes of a small file to the layout of
// Hugging Face's Rust serializer: compact JSON, keys dtype, shape,
// data_offsets, padded with spaces to 8 bytes.
func TestHuggingFaceLayout(t *testing.T) {
	tests := []struct {
		specs  []Spec
		meta   map[string]string
		header string
	}{
		{[]Spec{{"attn.0", F32, []int64{1, 2, 3}}}, nil,
			`{"attn.0":{"dtype":"F32","shape":[1,2,3],"data_offsets":[0,24]}}`},
		{[]Spec{{"attn0", F32, []int64{1, 1, 2, 3}}}, nil,
			`{"attn0":{"dtype":"F32","shape":[1,1,2,3],"data_offsets":[0,24]}}       `},
		{nil, nil, `{}      `},
		{nil, map[string]string{"framework": "pt"}, `{"__metadata__":{"framework":"pt"}}     `},
		{[]Spec{{"b", BF16, []int64{}}, {"a", F16, []int64{2}}}, map[string]string{"z": "1", "a": "2"},
			`{"__metadata__":{"a":"2","z":"1"},"b":{"dtype":"BF16","shape":[],"data_offsets":[0,2]},"a":{"dtype":"F16","shape":[2],"data_offsets":[2,6]}}    `},
	}
	for _, tt := range tests {
		path := filepath.Join(t.TempDir(), "m.safetensors")
		w, err := Create(path, tt.specs, tt.meta)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(make([]byte, w.total)); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		raw, _ := os.ReadFile(path)
		want := rawFile(tt.header, make([]byte, w.total))
		if !bytes.Equal(raw, want) {
			t.Errorf("file =\n%q\nwant\n%q", raw, want)
		}
	}
}

func TestFloat32(t *testing.T) {
	inf := float32(math.Inf(1))
	tests := []struct {
		name  string
		dtype DType
		data  []byte
		want  []uint32 // float32 bits, so NaN and -0 compare exactly
	}{
		{"f32", F32, f32Bytes(1, -2.5, 0, inf, 1e-45), bitsOf(1, -2.5, 0, inf, 1e-45)},
		{"f32 nan", F32, []byte{0x01, 0x00, 0xc0, 0x7f}, []uint32{0x7fc00001}},
		{"bf16", BF16,
			u16Bytes(0x3f80, 0xc000, 0x0000, 0x8000, 0x7f80, 0xff80, 0x7fc0, 0x0001, 0x3eaa, 0x7f7f, 0xffc1),
			[]uint32{0x3f800000, 0xc0000000, 0, 0x80000000, 0x7f800000, 0xff800000, 0x7fc00000, 0x00010000, 0x3eaa0000, 0x7f7f0000, 0xffc10000}},
		{"f16", F16,
			u16Bytes(0x3c00, 0xc000, 0x0000, 0x8000, 0x7bff, 0x0001, 0x8001, 0x03ff, 0x0400, 0x7c00, 0xfc00, 0x7e00, 0x3555, 0x7c01),
			[]uint32{
				math.Float32bits(1), math.Float32bits(-2), 0, 0x80000000,
				math.Float32bits(65504),
				math.Float32bits(float32(math.Ldexp(1, -24))),
				math.Float32bits(float32(-math.Ldexp(1, -24))),
				math.Float32bits(float32(math.Ldexp(1023, -24))),
				math.Float32bits(float32(math.Ldexp(1, -14))),
				math.Float32bits(inf), math.Float32bits(-inf),
				0x7fc00000,
				math.Float32bits(0.333251953125),
				0x7fc02000, // a signalling NaN keeps its payload and comes out quiet, as in ggml
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := int64(len(tt.want))
			tensor := &Tensor{Name: "t", DType: tt.dtype, Shape: []int64{n}, Data: tt.data, File: "mem"}
			// Every sub-range, so the 4-at-a-time bf16 loop and its tail
			// both meet every position.
			for off := int64(0); off <= n; off++ {
				for end := off; end <= n; end++ {
					dst := make([]float32, end-off)
					if err := tensor.Float32(dst, off); err != nil {
						t.Fatal(err)
					}
					for i, v := range dst {
						if got, want := math.Float32bits(v), tt.want[off+int64(i)]; got != want {
							t.Fatalf("[%d:%d] element %d = %#08x, want %#08x", off, end, off+int64(i), got, want)
						}
					}
				}
			}
		})
	}
}

func bitsOf(vs ...float32) []uint32 {
	out := make([]uint32, len(vs))
	for i, v := range vs {
		out[i] = math.Float32bits(v)
	}
	return out
}

// TestHalfExhaustive decodes every F16 and BF16 value through Float32 and
// holds the result to maira/quant/dtype's decoders (bit for bit) and, for
// numbers, to the IEEE 754 definition computed in float64.
func TestHalfExhaustive(t *testing.T) {
	all := make([]uint16, 1<<16)
	for i := range all {
		all[i] = uint16(i)
	}
	src := u16Bytes(all...)
	for _, tt := range []struct {
		dtype DType
		ref   func([]float32, []byte) int
	}{{F16, dtype.DecodeF16}, {BF16, dtype.DecodeBF16}} {
		x := &Tensor{Name: "all", DType: tt.dtype, Shape: []int64{1 << 16}, Data: src, File: "mem"}
		got := make([]float32, 1<<16)
		// Offset 1 so the bf16 loop's 4-element groups straddle differently.
		if err := x.Float32(got[:1], 0); err != nil {
			t.Fatal(err)
		}
		if err := x.Float32(got[1:], 1); err != nil {
			t.Fatal(err)
		}
		want := make([]float32, 1<<16)
		tt.ref(want, src)
		for h := range all {
			if math.Float32bits(got[h]) != math.Float32bits(want[h]) {
				t.Fatalf("%s %#04x: got %#08x, dtype gives %#08x", tt.dtype, h, math.Float32bits(got[h]), math.Float32bits(want[h]))
			}
			ieee := halfValue(uint16(h), tt.dtype)
			if math.IsNaN(ieee) != math.IsNaN(float64(got[h])) || (!math.IsNaN(ieee) && math.Float32bits(got[h]) != math.Float32bits(float32(ieee))) {
				t.Fatalf("%s %#04x: got %v, want %v", tt.dtype, h, got[h], ieee)
			}
		}
	}
}

// halfValue is the value of a 16-bit float from its definition: 5 exponent
// bits and 10 mantissa bits for F16, 8 and 7 for BF16.
func halfValue(h uint16, d DType) float64 {
	expBits, mantBits := 5, 10
	if d == BF16 {
		expBits, mantBits = 8, 7
	}
	bias := 1<<(expBits-1) - 1
	exp := int(h>>mantBits) & (1<<expBits - 1)
	mant := int(h) & (1<<mantBits - 1)
	var v float64
	switch {
	case exp == 1<<expBits-1 && mant == 0:
		v = math.Inf(1)
	case exp == 1<<expBits-1:
		return math.NaN()
	case exp == 0:
		v = math.Ldexp(float64(mant), 1-bias-mantBits)
	default:
		v = math.Ldexp(float64(mant|1<<mantBits), exp-bias-mantBits)
	}
	if h&0x8000 != 0 {
		v = -v
	}
	return v
}

func TestFloat32Errors(t *testing.T) {
	tests := []struct {
		name   string
		tensor Tensor
		n, off int64
		want   string
	}{
		{"int dtype", Tensor{Name: "ids", DType: "I64", Shape: []int64{2}, Data: make([]byte, 16), File: "/ckpt/a.safetensors"}, 1, 0,
			"/ckpt/a.safetensors: tensor ids: dtype I64 cannot be decoded"},
		{"unknown dtype", Tensor{Name: "q", DType: "Q9", Shape: []int64{2}, Data: make([]byte, 3), File: "f"}, 1, 0, "f: tensor q: dtype Q9"},
		{"past end", Tensor{Name: "w", DType: F32, Shape: []int64{2}, Data: make([]byte, 8), File: "f"}, 2, 1, "f: tensor w: elements [1, 3) out of range"},
		{"negative offset", Tensor{Name: "w", DType: F32, Shape: []int64{2}, Data: make([]byte, 8), File: "f"}, 1, -1, "out of range"},
		{"short data", Tensor{Name: "w", DType: BF16, Shape: []int64{4}, Data: make([]byte, 6), File: "f"}, 4, 0, "f: tensor w: data holds 6 bytes"},
		{"closed", Tensor{Name: "w", DType: F16, Shape: []int64{4}, File: "f"}, 1, 0, "data holds 0 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.tensor.Float32(make([]float32, tt.n), tt.off)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestNumElementsAndSize(t *testing.T) {
	for _, tt := range []struct {
		shape []int64
		want  int64
	}{{nil, 1}, {[]int64{}, 1}, {[]int64{7}, 7}, {[]int64{2, 0, 3}, 0}, {[]int64{2, 3, 4, 5}, 120}} {
		if got := (&Tensor{Shape: tt.shape}).NumElements(); got != tt.want {
			t.Errorf("NumElements(%v) = %d, want %d", tt.shape, got, tt.want)
		}
	}
	for d, want := range map[DType]int{F32: 4, F16: 2, BF16: 2, "F64": 8, "I64": 8, "U8": 1, "BOOL": 1, "I32": 4, "F8_E4M3": 1, "Q4": 0, "": 0, "f32": 0} {
		if got := d.Size(); got != want {
			t.Errorf("DType(%q).Size() = %d, want %d", d, got, want)
		}
	}
}

// TestBadFiles runs every kind of damage the reader checks through
// OpenFile: each must give one error naming the path and, where there is
// one, the tensor.
func TestBadFiles(t *testing.T) {
	hdr := func(n uint64, rest string) []byte {
		b := make([]byte, 8)
		binary.LittleEndian.PutUint64(b, n)
		return append(b, rest...)
	}
	f32x2 := f32Bytes(1, 2)
	tests := []struct {
		name   string
		file   []byte
		tensor string // "" when the error is about the whole file
		want   string
	}{
		{"empty", nil, "", "shorter than the 8-byte header length"},
		{"five bytes", []byte{1, 2, 3, 4, 5}, "", "shorter than"},
		{"header beyond file", hdr(100, `{}`), "", "beyond the file"},
		{"absurd header", hdr(1<<40, `{}`), "", "absurd"},
		{"huge header", hdr(math.MaxUint64, `{}`), "", "absurd"},
		{"not json", rawFile(`{"a": {`, nil), "", "invalid JSON"},
		{"garbage", rawFile(`hello`, nil), "", "invalid JSON"},
		{"not object", rawFile(`[1, 2]`, nil), "", "header is an array, not an object"},
		{"string header", rawFile(`"x"`, nil), "", "header is a string, not an object"},
		{"bad utf8", rawFile("{\"\xff\": 1}", nil), "", "not valid UTF-8"},
		{"trailing", rawFile(`{}{}`, nil), "", "extra data after the top-level object (an object)"},
		{"entry not object", rawFile(`{"a": 5}`, nil), "a", "entry is a number, not an object"},
		{"missing dtype", rawFile(`{"a": {"shape": [2], "data_offsets": [0, 8]}}`, f32x2), "a", "missing dtype"},
		{"name with newline", rawFile(`{"a\nb": {"shape": [2], "data_offsets": [0, 8]}}`, f32x2), `"a\nb"`, "missing dtype"},
		{"empty name", rawFile(`{"": {"shape": [2], "data_offsets": [0, 8]}}`, f32x2), `""`, "missing dtype"},
		{"missing shape", rawFile(`{"a": {"dtype": "F32", "data_offsets": [0, 8]}}`, f32x2), "a", "missing shape"},
		{"missing offsets", rawFile(`{"a": {"dtype": "F32", "shape": [2]}}`, f32x2), "a", "missing data_offsets"},
		{"dtype number", rawFile(`{"a": {"dtype": 3, "shape": [2], "data_offsets": [0, 8]}}`, f32x2), "a", "dtype is a number"},
		{"shape string", rawFile(`{"a": {"dtype": "F32", "shape": "2", "data_offsets": [0, 8]}}`, f32x2), "a", "shape is a string, not an array"},
		{"shape null", rawFile(`{"a": {"dtype": "F32", "shape": null, "data_offsets": [0, 8]}}`, f32x2), "a", "shape is null"},
		{"shape float", rawFile(`{"a": {"dtype": "F32", "shape": [2.0], "data_offsets": [0, 8]}}`, f32x2), "a", "not an integer"},
		{"shape exponent", rawFile(`{"a": {"dtype": "F32", "shape": [2e0], "data_offsets": [0, 8]}}`, f32x2), "a", "not an integer"},
		{"shape nested", rawFile(`{"a": {"dtype": "F32", "shape": [[2]], "data_offsets": [0, 8]}}`, f32x2), "a", "shape holds an array"},
		{"negative dim", rawFile(`{"a": {"dtype": "F32", "shape": [-2], "data_offsets": [0, 8]}}`, f32x2), "a", "negative dimension"},
		{"count overflows", rawFile(`{"a": {"dtype": "F32", "shape": [4294967296, 4294967296], "data_offsets": [0, 8]}}`, f32x2), "a", "overflows"},
		{"count overflows unknown dtype", rawFile(`{"a": {"dtype": "X", "shape": [4294967296, 4294967296], "data_offsets": [0, 8]}}`, f32x2), "a", "overflows"},
		{"bytes overflow", rawFile(`{"a": {"dtype": "F64", "shape": [2305843009213693952], "data_offsets": [0, 8]}}`, f32x2), "a", "hold 8 bytes"},
		{"offsets reversed", rawFile(`{"a": {"dtype": "F32", "shape": [0], "data_offsets": [8, 4]}}`, f32x2), "a", "not 0 <= begin <= end"},
		{"offsets negative", rawFile(`{"a": {"dtype": "F32", "shape": [2], "data_offsets": [-8, 0]}}`, f32x2), "a", "not 0 <= begin <= end"},
		{"offsets three", rawFile(`{"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 4, 8]}}`, f32x2), "a", "has 3 values, want 2"},
		{"offsets huge", rawFile(`{"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 18446744073709551615]}}`, f32x2), "a", "fits 64 bits"},
		{"offsets object", rawFile(`{"a": {"dtype": "F32", "shape": [2], "data_offsets": {"b": 0}}}`, f32x2), "a", "data_offsets is an object"},
		{"truncated", rawFile(`{"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}`, f32x2[:6]), "a", "truncated"},
		{"truncated unknown dtype", rawFile(`{"a": {"dtype": "Q9", "shape": [2], "data_offsets": [0, 8]}}`, f32x2[:6]), "a", "truncated"},
		{"size mismatch", rawFile(`{"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 4]}}`, f32x2), "a", "hold 4 bytes, but 2 F32 elements"},
		{"size mismatch bf16", rawFile(`{"a": {"dtype": "BF16", "shape": [3], "data_offsets": [0, 8]}}`, f32x2), "a", "hold 8 bytes"},
		{"overlap", rawFile(`{"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}, "b": {"dtype": "U8", "shape": [6], "data_offsets": [2, 8]}}`, f32x2), "b", "overlaps tensor a"},
		{"overlap same range", rawFile(`{"b": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}, "a": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}`, f32x2), "b", "overlaps tensor a"},
		{"duplicate name", rawFile(`{"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}, "a": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}`, f32x2), "a", "duplicate name"},
		{"duplicate key in entry", rawFile(`{"a": {"dtype": "F32", "dtype": "F16", "shape": [2], "data_offsets": [0, 8]}}`, f32x2), "a", `duplicate key "dtype"`},
		{"duplicate metadata", rawFile(`{"__metadata__": {}, "__metadata__": {}}`, nil), "", "__metadata__ appears twice"},
		{"metadata not object", rawFile(`{"__metadata__": [1]}`, nil), "", "__metadata__: value is an array, not an object"},
		{"metadata number", rawFile(`{"__metadata__": {"format": 1}}`, nil), "", `__metadata__: key "format": value is a number`},
		{"metadata duplicate", rawFile(`{"__metadata__": {"k": "1", "k": "2"}}`, nil), "", `__metadata__: duplicate key "k"`},
	}
	dir := t.TempDir()
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, "bad"+string(rune('a'+i%26))+strings.Repeat("x", i/26)+".safetensors")
			if err := os.WriteFile(path, tt.file, 0o644); err != nil {
				t.Fatal(err)
			}
			f, err := OpenFile(path)
			if err == nil {
				f.Close()
				t.Fatalf("opened; want error containing %q", tt.want)
			}
			msg := err.Error()
			t.Log(msg)
			prefix := path + ": "
			if tt.tensor != "" {
				prefix += "tensor " + tt.tensor + ": "
			}
			if !strings.HasPrefix(msg, prefix) || !strings.Contains(msg, tt.want) {
				t.Errorf("error = %q, want prefix %q and %q", msg, prefix, tt.want)
			}
			if strings.Contains(msg, "\n") {
				t.Errorf("error spans lines: %q", msg)
			}
		})
	}
}

// TestLenientFiles checks what the reader accepts beyond what Hugging Face
// writes: unknown dtypes, gaps, trailing bytes, extra keys, empty tensors
// anywhere, any order in the header, null metadata, padding.
func TestLenientFiles(t *testing.T) {
	tests := []struct {
		name  string
		file  []byte
		order []string // tensor names in data-offset order
	}{
		{"unknown dtype", rawFile(`{"q": {"dtype": "Q4_GPTQ", "shape": [3], "data_offsets": [0, 5]}, "a": {"dtype": "F32", "shape": [1], "data_offsets": [8, 12]}}`, seq(12, 0)), []string{"q", "a"}},
		{"sub-byte dtype", rawFile(`{"q": {"dtype": "F4", "shape": [3], "data_offsets": [0, 2]}}`, seq(2, 0)), []string{"q"}},
		{"gap and trailing bytes", rawFile(`{"a": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}`, seq(16, 0)), []string{"a"}},
		{"header order", rawFile(`{"b": {"dtype": "U8", "shape": [2], "data_offsets": [2, 4]}, "a": {"dtype": "U8", "shape": [2], "data_offsets": [0, 2]}}`, seq(4, 0)), []string{"a", "b"}},
		{"empty inside another", rawFile(`{"a": {"dtype": "U8", "shape": [4], "data_offsets": [0, 4]}, "e": {"dtype": "F32", "shape": [0, 5], "data_offsets": [2, 2]}}`, seq(4, 0)), []string{"a", "e"}},
		{"extra keys", rawFile(`{"a": {"dtype": "U8", "extra": {"x": [1, {"y": null}]}, "shape": [1], "data_offsets": [0, 1]}}`, seq(1, 0)), []string{"a"}},
		{"null metadata", rawFile(`{"__metadata__": null, "a": {"dtype": "U8", "shape": [1], "data_offsets": [0, 1]}}`, seq(1, 0)), []string{"a"}},
		{"padding", rawFile("{\"a\": {\"dtype\": \"U8\", \"shape\": [1], \"data_offsets\": [0, 1]}}  \n\t ", seq(1, 0)), []string{"a"}},
		{"escaped name", rawFile(`{"a\u00e9\"": {"dtype": "U8", "shape": [1], "data_offsets": [0, 1]}}`, seq(1, 0)), []string{"aé\""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := Parse(tt.file, "mem")
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, x := range f.Tensors {
				names = append(names, x.Name)
			}
			if !reflect.DeepEqual(names, tt.order) {
				t.Errorf("tensors %v, want %v", names, tt.order)
			}
		})
	}
}

func TestCloseClearsData(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.safetensors")
	writeTensors(t, path, []tensorData{{Spec{"w", F32, []int64{2}}, f32Bytes(1, 2)}}, nil)
	f, err := OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	w := f.Tensors[0]
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if w.Data != nil {
		t.Fatal("Data still set after Close")
	}
	if err := w.Float32(make([]float32, 2), 0); err == nil {
		t.Fatal("Float32 after Close succeeded")
	}
}

func TestOpenFileMissing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nope.safetensors")
	_, err := OpenFile(path)
	if err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("error = %v, want one naming %s", err, path)
	}
}
