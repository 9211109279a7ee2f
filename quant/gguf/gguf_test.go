package gguf

import (
	"bytes"
	"encoding/binary"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"maira/quant/dtype"
)

// builder assembles GGUF bytes field by field, straight from the spec, so
// that tests can check the Writer against an independent encoding and make
// every kind of malformed file.
type builder struct{ b []byte }

func (b *builder) raw(p ...byte) *builder { b.b = append(b.b, p...); return b }
func (b *builder) u32(v uint32) *builder {
	b.b = binary.LittleEndian.AppendUint32(b.b, v)
	return b
}
func (b *builder) u64(v uint64) *builder {
	b.b = binary.LittleEndian.AppendUint64(b.b, v)
	return b
}
func (b *builder) str(s string) *builder { return b.u64(uint64(len(s))).raw([]byte(s)...) }

// header starts a version 3 file with the given counts.
func header(nTensors, nKV uint64) *builder {
	b := &builder{}
	return b.raw('G', 'G', 'U', 'F').u32(3).u64(nTensors).u64(nKV)
}

// tensorInfo appends one tensor info record.
func (b *builder) tensorInfo(name string, typ dtype.Type, offset uint64, dims ...uint64) *builder {
	b.str(name).u32(uint32(len(dims)))
	for _, d := range dims {
		b.u64(d)
	}
	return b.u32(uint32(typ)).u64(offset)
}

// pad appends zeros up to a multiple of a.
func (b *builder) pad(a int) *builder {
	for len(b.b)%a != 0 {
		b.b = append(b.b, 0)
	}
	return b
}

func (b *builder) zeros(n int) *builder { b.b = append(b.b, make([]byte, n)...); return b }

// everyValue holds one KV of every value type and arrays of every element
// type, empty ones included, under keys that are not all ASCII.
func everyValue() []KV {
	return []KV{
		{"general.architecture", "llama"},
		{"u8", uint8(200)},
		{"i8", int8(-100)},
		{"u16", uint16(60000)},
		{"i16", int16(-30000)},
		{"u32", uint32(4000000000)},
		{"i32", int32(-2000000000)},
		{"f32", float32(-1.5e-7)},
		{"f32.inf", float32(math.Inf(1))},
		{"bool.true", true},
		{"bool.false", false},
		{"str", "plain"},
		{"str.empty", ""},
		{"str.unicode", "Lungenödem ↔ 肺水肿"},
		{"u64", uint64(math.MaxUint64)},
		{"i64", int64(math.MinInt64)},
		{"f64", 2.718281828459045},
		{"clé.ünïcode.键", uint32(7)},
		{"a.u8", []uint8{0, 1, 255}},
		{"a.i8", []int8{-128, 0, 127}},
		{"a.u16", []uint16{0, 65535}},
		{"a.i16", []int16{-32768, 32767}},
		{"a.u32", []uint32{1, 2, 3}},
		{"a.i32", []int32{-1, 0, 1, math.MaxInt32}},
		{"a.f32", []float32{0.5, -2, float32(math.Inf(-1))}},
		{"a.bool", []bool{true, false, true}},
		{"a.str", []string{"<s>", "", "▁the", "<0x0A>", "\x00nul"}},
		{"a.u64", []uint64{math.MaxUint64, 0}},
		{"a.i64", []int64{math.MinInt64, math.MaxInt64}},
		{"a.f64", []float64{1e300, -1e-300}},
		{"a.u8.empty", []uint8{}},
		{"a.i8.empty", []int8{}},
		{"a.u16.empty", []uint16{}},
		{"a.i16.empty", []int16{}},
		{"a.u32.empty", []uint32{}},
		{"a.i32.empty", []int32{}},
		{"a.f32.empty", []float32{}},
		{"a.bool.empty", []bool{}},
		{"a.str.empty", []string{}},
		{"a.u64.empty", []uint64{}},
		{"a.i64.empty", []int64{}},
		{"a.f64.empty", []float64{}},
	}
}

type tensorDecl struct {
	name string
	typ  dtype.Type
	dims []uint64
}

// everyTensor declares tensors of every supported type in 1 to 4
// dimensions with odd sizes, so that no tensor is a multiple of the
// alignment by accident.
func everyTensor() []tensorDecl {
	var ts []tensorDecl
	for _, t := range dtype.All() {
		bs := uint64(t.BlockSize())
		ts = append(ts,
			tensorDecl{t.String() + ".vec", t, []uint64{bs * 3}},
			tensorDecl{t.String() + ".mat", t, []uint64{bs, 5}},
			tensorDecl{t.String() + ".3d", t, []uint64{bs * 7, 3, 1}},
			tensorDecl{t.String() + ".4d", t, []uint64{bs, 1, 3, 5}},
		)
	}
	return ts
}

func randomBytes(r *rand.Rand, n uint64) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// listDir returns the names in dir.
func listDir(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

func TestRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name      string
		alignment int
		viaKV     bool // give general.alignment with AddKV instead of SetAlignment
		kvs       []KV
		tensors   []tensorDecl
		chunk     int // bytes per Write call; 0 writes each tensor whole
	}{
		{name: "empty"},
		{name: "metadata only", kvs: everyValue()},
		{name: "align32", alignment: 32, kvs: everyValue(), tensors: everyTensor()},
		{name: "align64", alignment: 64, kvs: everyValue(), tensors: everyTensor(), chunk: 7},
		{name: "align64 by key", alignment: 64, viaKV: true, kvs: everyValue()[:3], tensors: everyTensor(), chunk: 1000},
		{name: "align1", alignment: 1, tensors: everyTensor(), chunk: 1},
		{name: "align4096", alignment: 4096, tensors: everyTensor()[:3]},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "model.gguf")
			w, err := Create(path)
			if err != nil {
				t.Fatal(err)
			}
			defer w.Abort()
			if tc.alignment != 0 && !tc.viaKV {
				if err := w.SetAlignment(tc.alignment); err != nil {
					t.Fatal(err)
				}
			}
			wantKVs := append([]KV(nil), tc.kvs...)
			if tc.viaKV {
				if err := w.AddKV(alignmentKey, uint32(tc.alignment)); err != nil {
					t.Fatal(err)
				}
				wantKVs = append([]KV{{alignmentKey, uint32(tc.alignment)}}, wantKVs...)
			}
			for _, kv := range tc.kvs {
				if err := w.AddKV(kv.Key, kv.Value); err != nil {
					t.Fatal(err)
				}
			}
			if tc.alignment != 0 && tc.alignment != DefaultAlignment && !tc.viaKV {
				wantKVs = append(wantKVs, KV{alignmentKey, uint32(tc.alignment)})
			}
			r := rand.New(rand.NewPCG(1, 2))
			var datas [][]byte
			for _, d := range tc.tensors {
				if err := w.AddTensor(d.name, d.typ, d.dims); err != nil {
					t.Fatal(err)
				}
				rows := uint64(1)
				for _, x := range d.dims[1:] {
					rows *= x
				}
				rb, err := d.typ.RowBytes(int64(d.dims[0]))
				if err != nil {
					t.Fatal(err)
				}
				datas = append(datas, randomBytes(r, uint64(rb)*rows))
			}
			headerSize, err := w.HeaderSize()
			if err != nil {
				t.Fatal(err)
			}
			total, err := w.TotalSize()
			if err != nil {
				t.Fatal(err)
			}
			all := bytes.Join(datas, nil)
			if tc.chunk == 0 {
				for _, d := range datas {
					if n, err := w.Write(d); err != nil || n != len(d) {
						t.Fatalf("Write: %d, %v", n, err)
					}
				}
			} else {
				for p := all; len(p) > 0; {
					k := min(tc.chunk, len(p))
					if n, err := w.Write(p[:k]); err != nil || n != k {
						t.Fatalf("Write: %d, %v", n, err)
					}
					p = p[k:]
				}
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			if got := listDir(t, dir); !reflect.DeepEqual(got, []string{"model.gguf"}) {
				t.Errorf("directory holds %q, want only model.gguf", got)
			}
			st, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if st.Size() != total {
				t.Errorf("file is %d bytes, TotalSize said %d", st.Size(), total)
			}

			f, err := Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			wantAlign := tc.alignment
			if wantAlign == 0 {
				wantAlign = DefaultAlignment
			}
			if f.Version != Version || f.Alignment != wantAlign || f.DataOffset != headerSize || f.Path != path {
				t.Errorf("version %d alignment %d data offset %d path %q; want %d %d %d %q",
					f.Version, f.Alignment, f.DataOffset, f.Path, Version, wantAlign, headerSize, path)
			}
			if len(wantKVs) == 0 {
				wantKVs = []KV{}
			}
			if !reflect.DeepEqual(f.KVs, wantKVs) {
				t.Errorf("KVs differ:\n got %#v\nwant %#v", f.KVs, wantKVs)
			}
			for _, kv := range wantKVs {
				if v, ok := f.Get(kv.Key); !ok || !reflect.DeepEqual(v, kv.Value) {
					t.Errorf("Get(%q) = %#v, %v", kv.Key, v, ok)
				}
			}
			if len(f.Tensors) != len(tc.tensors) {
				t.Fatalf("%d tensors, want %d", len(f.Tensors), len(tc.tensors))
			}
			for i, d := range tc.tensors {
				ti := f.Tensor(d.name)
				if ti != &f.Tensors[i] {
					t.Fatalf("Tensor(%q) is not Tensors[%d]", d.name, i)
				}
				if ti.Type != d.typ || !reflect.DeepEqual(ti.Dims, d.dims) || ti.Size != uint64(len(datas[i])) {
					t.Errorf("tensor %s: %v %v %d bytes; want %v %v %d", d.name, ti.Type, ti.Dims, ti.Size, d.typ, d.dims, len(datas[i]))
				}
				if ti.Offset%uint64(wantAlign) != 0 {
					t.Errorf("tensor %s: offset %d not aligned to %d", d.name, ti.Offset, wantAlign)
				}
				if ti.NumElements() != d.dims[0]*ti.Rows() {
					t.Errorf("tensor %s: %d elements in %d rows of %d", d.name, ti.NumElements(), ti.Rows(), d.dims[0])
				}
				if !bytes.Equal(f.Data(ti), datas[i]) {
					t.Errorf("tensor %s: data differs", d.name)
				}
			}
			if f.Tensor("absent") != nil {
				t.Error("Tensor(absent) is not nil")
			}
			if int64(len(f.Bytes())) != total {
				t.Errorf("Bytes() holds %d bytes, want %d", len(f.Bytes()), total)
			}
			if err := f.Close(); err != nil {
				t.Fatal(err)
			}
			if len(f.Tensors) > 0 && f.Data(&f.Tensors[0]) != nil {
				t.Error("Data after Close is not nil")
			}
		})
	}
}

// TestWriterBytes holds the Writer to an encoding built field by field from
// the spec, so that a mistake made alike in the writer and the reader (a
// swapped type number, a missing length) cannot pass the round trip.
func TestWriterBytes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tiny.gguf")
	w, err := Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Abort()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(w.AddKV("general.name", "tiny"))
	must(w.AddKV("n", uint32(3)))
	must(w.AddKV("toks", []string{"a", "bc"}))
	must(w.AddKV("flag", true))
	must(w.AddTensor("w", dtype.F32, []uint64{3}))
	must(w.AddTensor("v", dtype.F16, []uint64{1, 2}))
	data := []byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	must(w.Close())

	want := header(2, 4)
	want.str("general.name").u32(8).str("tiny")
	want.str("n").u32(4).u32(3)
	want.str("toks").u32(9).u32(8).u64(2).str("a").str("bc")
	want.str("flag").u32(7).raw(1)
	want.tensorInfo("w", dtype.F32, 0, 3)
	want.tensorInfo("v", dtype.F16, 32, 1, 2)
	want.pad(32).raw(data[:12]...).pad(32).raw(data[12:]...).pad(32)
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want.b) {
		t.Errorf("file bytes differ from the spec encoding:\n got %x\nwant %x", got, want.b)
	}
}

// TestNestedArrays reads an array of arrays, which the Writer refuses to
// write but the format allows.
func TestNestedArrays(t *testing.T) {
	b := header(0, 1).str("nested").u32(typeArray).u32(typeArray).u64(3)
	b.u32(typeUint32).u64(2).u32(7).u32(8)
	b.u32(typeString).u64(1).str("x")
	b.u32(typeArray).u64(1).u32(typeInt8).u64(0)
	f, err := Parse(b.b, "nested.gguf")
	if err != nil {
		t.Fatal(err)
	}
	want := []any{[]uint32{7, 8}, []string{"x"}, []any{[]int8{}}}
	if v, _ := f.Get("nested"); !reflect.DeepEqual(v, want) {
		t.Errorf("got %#v, want %#v", v, want)
	}
}

func TestGetters(t *testing.T) {
	b := header(0, 17)
	b.str("s").u32(typeString).str("llama")
	b.str("u8").u32(typeUint8).raw(9)
	b.str("i32").u32(typeInt32).u32(12)
	b.str("neg").u32(typeInt32).u32(math.MaxUint32) // -1
	b.str("u64.big").u32(typeUint64).u64(1 << 40)
	b.str("f32").u32(typeFloat32).u32(math.Float32bits(1e-5))
	b.str("f64").u32(typeFloat64).u64(math.Float64bits(10000))
	b.str("f64.huge").u32(typeFloat64).u64(math.Float64bits(1e300))
	b.str("b").u32(typeBool).raw(1)
	b.str("toks").u32(typeArray).u32(typeString).u64(2).str("<s>").str("</s>")
	b.str("scores").u32(typeArray).u32(typeFloat32).u64(2).u32(math.Float32bits(-1)).u32(math.Float32bits(2))
	b.str("types").u32(typeArray).u32(typeInt32).u64(2).u32(1).u32(3)
	b.str("types.u8").u32(typeArray).u32(typeUint8).u64(2).raw(6, 2)
	b.str("types.u32.big").u32(typeArray).u32(typeUint32).u64(1).u32(1 << 31)
	b.str("scores64").u32(typeArray).u32(typeFloat64).u64(2).u64(math.Float64bits(0.25)).u64(math.Float64bits(-3))
	b.str("types.i64").u32(typeArray).u32(typeInt64).u64(2).u64(math.MaxUint64).u64(math.MaxInt32) // -1, 2^31-1
	b.str("types.i64.big").u32(typeArray).u32(typeInt64).u64(1).u64(1 << 31)
	f, err := Parse(b.b, "meta.gguf")
	if err != nil {
		t.Fatal(err)
	}
	check := func(what string, got, want any, err error) {
		t.Helper()
		if err != nil {
			t.Errorf("%s: %v", what, err)
		} else if !reflect.DeepEqual(got, want) {
			t.Errorf("%s = %#v, want %#v", what, got, want)
		}
	}
	s, err := f.String("s")
	check("String(s)", s, "llama", err)
	u, err := f.Uint32("u8")
	check("Uint32(u8)", u, uint32(9), err)
	u, err = f.Uint32("i32")
	check("Uint32(i32)", u, uint32(12), err)
	u64, err := f.Uint64("u64.big")
	check("Uint64(u64.big)", u64, uint64(1<<40), err)
	u64, err = f.Uint64("u8")
	check("Uint64(u8)", u64, uint64(9), err)
	x, err := f.Float32("f32")
	check("Float32(f32)", x, float32(1e-5), err)
	x, err = f.Float32("f64")
	check("Float32(f64)", x, float32(10000), err)
	bv, err := f.Bool("b")
	check("Bool(b)", bv, true, err)
	ss, err := f.Strings("toks")
	check("Strings(toks)", ss, []string{"<s>", "</s>"}, err)
	fs, err := f.Float32s("scores")
	check("Float32s(scores)", fs, []float32{-1, 2}, err)
	is, err := f.Int32s("types")
	check("Int32s(types)", is, []int32{1, 3}, err)
	is, err = f.Int32s("types.u8")
	check("Int32s(types.u8)", is, []int32{6, 2}, err)
	is, err = f.Int32s("types.i64")
	check("Int32s(types.i64)", is, []int32{-1, math.MaxInt32}, err)
	fs, err = f.Float32s("scores64")
	check("Float32s(scores64)", fs, []float32{0.25, -3}, err)

	for _, tc := range []struct {
		what string
		call func() error
		want string
	}{
		{"String of uint8", func() error { _, err := f.String("u8"); return err }, "meta.gguf: key u8: want string, found uint8"},
		{"missing", func() error { _, err := f.String("nope"); return err }, "meta.gguf: key nope: missing"},
		{"Uint32 of -1", func() error { _, err := f.Uint32("neg"); return err }, "meta.gguf: key neg: want uint32, found int32"},
		{"Uint32 of 2^40", func() error { _, err := f.Uint32("u64.big"); return err }, "meta.gguf: key u64.big: want uint32, found uint64"},
		{"Uint64 of -1", func() error { _, err := f.Uint64("neg"); return err }, "meta.gguf: key neg: want uint64, found int32"},
		{"Uint32 of string", func() error { _, err := f.Uint32("s"); return err }, "want uint32, found string"},
		{"Float32 of 1e300", func() error { _, err := f.Float32("f64.huge"); return err }, "meta.gguf: key f64.huge: float64 1e+300 does not fit in a float32"},
		{"Float32 of bool", func() error { _, err := f.Float32("b"); return err }, "want float32, found bool"},
		{"Bool of string", func() error { _, err := f.Bool("s"); return err }, "meta.gguf: key s: want bool, found string"},
		{"Strings of floats", func() error { _, err := f.Strings("scores"); return err }, "meta.gguf: key scores: want array of string, found array of float32"},
		{"Float32s of strings", func() error { _, err := f.Float32s("toks"); return err }, "want array of float32, found array of string"},
		{"Int32s of floats", func() error { _, err := f.Int32s("scores"); return err }, "want array of int32, found array of float32"},
		{"Int32s of too big", func() error { _, err := f.Int32s("types.u32.big"); return err }, "want array of int32, found array of uint32"},
		{"Int32s of int64 2^31", func() error { _, err := f.Int32s("types.i64.big"); return err }, "meta.gguf: key types.i64.big: want array of int32, found array of int64"},
		{"Int32s missing", func() error { _, err := f.Int32s("nope"); return err }, "meta.gguf: key nope: missing"},
	} {
		err := tc.call()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one containing %q", tc.what, err, tc.want)
		}
	}
}

// TestBadInput feeds malformed files to Parse and Open: each must give a
// one-line error that names the file, and the key or tensor at fault.
func TestBadInput(t *testing.T) {
	const huge = 1 << 63
	// good returns a valid file with one tensor "t" of 8 f32s at offset 0.
	good := func() *builder {
		return header(1, 0).tensorInfo("t", dtype.F32, 0, 8).pad(32).zeros(32)
	}
	if _, err := Parse(good().b, "x"); err != nil {
		t.Fatalf("the base file of the table is refused: %v", err)
	}
	kv := func(key string, typ uint32) *builder { return header(0, 1).str(key).u32(typ) }
	oneTensor := func(name string, typ dtype.Type, offset uint64, dims ...uint64) *builder {
		return header(1, 0).tensorInfo(name, typ, offset, dims...).pad(32).zeros(4096)
	}
	deep := header(0, 1).str("deep").u32(typeArray)
	for range 20 {
		deep.u32(typeArray).u64(1)
	}
	deep.u32(typeUint8).u64(0)

	for _, tc := range []struct {
		name string
		data []byte
		want string // the error must contain "bad.gguf: " + want
	}{
		{"empty", nil, "not a GGUF file"},
		{"magic", append([]byte("GGML"), good().b[4:]...), `not a GGUF file: magic "GGML"`},
		{"short magic", []byte("GG"), "not a GGUF file"},
		{"v1", (&builder{}).raw('G', 'G', 'U', 'F').u32(1).u64(0).u64(0).b, "GGUF version 1 is no longer supported"},
		{"v4", (&builder{}).raw('G', 'G', 'U', 'F').u32(4).u64(0).u64(0).b, "unsupported GGUF version 4"},
		{"big-endian", (&builder{}).raw('G', 'G', 'U', 'F').u32(3 << 24).u64(0).u64(0).b, "GGUF version 0x3000000 looks byte-swapped: big-endian files are not supported"},
		{"truncated version", []byte("GGUF\x03\x00"), "truncated header"},
		{"truncated counts", header(0, 0).b[:20], "truncated header"},
		{"kv count 2^63", header(0, huge).b, "header claims 9223372036854775808 key-value pairs"},
		{"kv count too big", header(0, 2).str("a").u32(typeUint8).raw(1).b, "header claims 2 key-value pairs but only 14 bytes follow"},
		{"tensor count 2^63", header(huge, 0).b, "header claims 9223372036854775808 tensors"},
		{"tensor count too big", header(3, 0).tensorInfo("t", dtype.F32, 0, 8).pad(32).zeros(32).b, "header claims 3 tensors and 0 key-value pairs but only 72 bytes follow"},
		{"key length 2^63", header(0, 1).u64(huge).zeros(20).b, "key-value pair 0: reading key: string of 9223372036854775808 bytes runs past the end"},
		{"empty key", kv("", typeUint8).raw(1, 0).b, "key-value pair 0: empty key"},
		{"duplicate key", header(0, 2).str("k").u32(typeUint8).raw(1).str("k").u32(typeUint8).raw(2).b, "key k: duplicate key"},
		{"unknown value type", kv("k", 13).zeros(8).b, "key k: unknown value type 13"},
		{"truncated value", kv("k", typeUint64).zeros(4).b, "key k: truncated uint64 value"},
		{"missing value type", header(0, 1).str("kkkkkk").zeros(2).b, "key kkkkkk: reading value type: truncated"},
		{"string length 2^63", kv("k", typeString).u64(huge).zeros(8).b, "key k: string of 9223372036854775808 bytes runs past the end"},
		{"bool 2", kv("k", typeBool).raw(2).b, "key k: bool byte 0x02 is neither 0 nor 1"},
		{"array of unknown type", kv("k", typeArray).u32(99).u64(1).zeros(8).b, "key k: array of unknown value type 99"},
		{"array count 2^63", kv("k", typeArray).u32(typeUint32).u64(huge).zeros(16).b, "key k: array of 9223372036854775808 uint32 elements does not fit"},
		{"array count one too many", kv("k", typeArray).u32(typeUint16).u64(3).zeros(4).b, "key k: array of 3 uint16 elements does not fit"},
		{"string array count 2^62", kv("k", typeArray).u32(typeString).u64(1 << 62).zeros(16).b, "key k: array of 4611686018427387904 string elements does not fit"},
		{"string element past end", kv("k", typeArray).u32(typeString).u64(2).str("ok").u64(100).zeros(3).b, "key k: array element 1: string of 100 bytes runs past the end"},
		{"nested array count 2^63", kv("k", typeArray).u32(typeArray).u64(huge).zeros(24).b, "key k: array of 9223372036854775808 array elements does not fit"},
		{"nested too deep", deep.b, "key deep: " + strings.Repeat("array element 0: ", 8) + "arrays nested more than 8 deep"},
		{"bool array", kv("k", typeArray).u32(typeBool).u64(2).raw(1, 7).b, "key k: array element 1: bool byte 0x07 is neither 0 nor 1"},
		{"alignment type", kv(alignmentKey, typeUint64).u64(64).b, "key general.alignment: want uint32, found uint64"},
		{"alignment 48", kv(alignmentKey, typeUint32).u32(48).b, "key general.alignment: 48 is not a power of two"},
		{"alignment 0", kv(alignmentKey, typeUint32).u32(0).b, "key general.alignment: 0 is not a power of two"},
		{"tensor name length", header(1, 0).u64(huge).zeros(40).b, "tensor info 0: reading name: string of 9223372036854775808 bytes"},
		{"empty tensor name", oneTensor("", dtype.F32, 0, 8).b, "tensor info 0: empty name"},
		{"duplicate tensor", header(2, 0).tensorInfo("t", dtype.F32, 0, 8).tensorInfo("t", dtype.F32, 32, 8).pad(32).zeros(64).b, "tensor t: duplicate tensor name"},
		{"n_dims 0", oneTensor("t", dtype.F32, 0).b, "tensor t: 0 dimensions (want 1 to 4)"},
		{"n_dims 5", oneTensor("t", dtype.F32, 0, 1, 1, 1, 1, 1).b, "tensor t: 5 dimensions (want 1 to 4)"},
		{"zero dim", oneTensor("t", dtype.F32, 0, 8, 0).b, "tensor t: dimension 1 is zero"},
		{"dims overflow", oneTensor("t", dtype.F32, 0, 1<<32, 1<<32).b, "tensor t: dims [4294967296 4294967296] overflow"},
		{"dim 2^63", oneTensor("t", dtype.F32, 0, huge).b, "tensor t: dims [9223372036854775808] overflow"},
		{"bytes overflow", oneTensor("t", dtype.F32, 0, 1<<62).b, "tensor t: dims [4611686018427387904] of f32 overflow"},
		{"unknown type", oneTensor("t", dtype.Type(3), 0, 32).b, "tensor t: unknown tensor type 3"},
		{"unknown type 2^32-1", oneTensor("t", dtype.Type(math.MaxUint32), 0, 32).b, "tensor t: unknown tensor type 4294967295"},
		{"row not whole blocks", oneTensor("blk.0.attn_q.weight", dtype.Q8_0, 0, 33, 2).b, "tensor blk.0.attn_q.weight: row length 33 is not a multiple of the q8_0 block size 32"},
		{"odd tensor name", oneTensor("a b\n", dtype.Q8_0, 0, 33).b, `tensor "a b\n": row length 33`},
		{"truncated info", header(1, 0).str("tttt").u32(2).u64(8).u64(8).zeros(3).b, "tensor tttt: truncated tensor info"},
		{"unaligned offset", oneTensor("t", dtype.F32, 16, 8).b, "tensor t: offset 16 is not a multiple of the alignment 32"},
		{"unaligned at 64", header(1, 1).str(alignmentKey).u32(typeUint32).u32(64).tensorInfo("t", dtype.F32, 32, 8).pad(64).zeros(128).b, "tensor t: offset 32 is not a multiple of the alignment 64"},
		{"past end", good().b[:len(good().b)-1], "tensor t: truncated: its 32 bytes at data offset 0 run past the end"},
		{"offset past end", oneTensor("t", dtype.F32, 1<<62, 8).b, "tensor t: truncated"},
		{"offset 2^64-32", oneTensor("t", dtype.F32, math.MaxUint64-31, 8).b, "tensor t: truncated"},
		{"no data section", header(1, 0).tensorInfo("t", dtype.F32, 0, 8).b, "truncated: the data section starts at byte 64, past the end of the file"},
		{"overlap", header(2, 0).tensorInfo("a", dtype.F32, 0, 16).tensorInfo("b", dtype.F32, 32, 8).pad(32).zeros(128).b, "tensor b: data at offset 32 overlaps tensor a at offset 0 (64 bytes)"},
		{"same offset", header(2, 0).tensorInfo("a", dtype.F32, 0, 8).tensorInfo("b", dtype.F32, 0, 8).pad(32).zeros(128).b, "tensor b: data at offset 0 overlaps tensor a"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(tc.data, "bad.gguf")
			want := "bad.gguf: " + tc.want
			if err == nil {
				t.Fatalf("no error, want %q", want)
			}
			if msg := err.Error(); !strings.HasPrefix(msg, "bad.gguf: ") || !strings.Contains(msg, want) || strings.Contains(msg, "\n") {
				t.Fatalf("error %q, want one line containing %q", msg, want)
			}
		})
	}
}

// TestValidLayouts accepts what the format allows and llama.cpp's writer
// does not produce: gaps between tensors, tensors out of offset order, and a
// metadata-only file whose header padding was left off.
func TestValidLayouts(t *testing.T) {
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"gap and reversed", header(2, 0).tensorInfo("a", dtype.F32, 96, 8).tensorInfo("b", dtype.F32, 0, 8).pad(32).zeros(128).b},
		{"no tensors, unpadded", header(0, 1).str("k").u32(typeUint8).raw(1).b},
		{"version 2", (&builder{}).raw('G', 'G', 'U', 'F').u32(2).u64(0).u64(0).b},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Parse(tc.data, "ok.gguf"); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.gguf")
	if _, err := Open(missing); err == nil || !strings.Contains(err.Error(), missing) {
		t.Errorf("Open(missing): %v, want an error naming %s", err, missing)
	}
	bad := filepath.Join(dir, "bad.gguf")
	b := header(1, 0).tensorInfo("tok_embd", dtype.F32, 0, 8).pad(32).zeros(31).b
	if err := os.WriteFile(bad, b, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Open(bad)
	if want := bad + ": tensor tok_embd: truncated"; err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("Open(truncated): %v, want %q", err, want)
	}
	if _, err := Open(dir); err == nil || !strings.Contains(err.Error(), dir) {
		t.Errorf("Open(directory): %v, want an error naming it", err)
	}
}

// TestLlamaVocab reads the LLaMA tokenizer fixture, written by llama.cpp's
// own tools, when the shared fixtures are present.
func TestLlamaVocab(t *testing.T) {
	path := filepath.Join("..", "..", "..", "shared", "fixtures", "llama-spm-vocab.gguf")
	if _, err := os.Stat(path); err != nil {
		t.Skipf("fixture not present: %v", err)
	}
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if model, err := f.String("tokenizer.ggml.model"); err != nil || model != "llama" {
		t.Errorf("tokenizer.ggml.model = %q, %v; want llama", model, err)
	}
	tokens, err := f.Strings("tokenizer.ggml.tokens")
	if err != nil {
		t.Fatal(err)
	}
	scores, err := f.Float32s("tokenizer.ggml.scores")
	if err != nil {
		t.Fatal(err)
	}
	types, err := f.Int32s("tokenizer.ggml.token_type")
	if err != nil {
		t.Fatal(err)
	}
	if len(tokens) != 32000 || len(scores) != 32000 || len(types) != 32000 {
		t.Fatalf("%d tokens, %d scores, %d types; want 32000 each", len(tokens), len(scores), len(types))
	}
	// SentencePiece's LLaMA vocabulary: <unk> <s> </s>, then the 256 byte
	// tokens <0x00>..<0xFF>, then the merged pieces. Types follow llama.cpp's
	// enum: 1 normal, 2 unknown, 3 control, 6 byte.
	for _, c := range []struct {
		id    int
		token string
		typ   int32
	}{
		{0, "<unk>", 2}, {1, "<s>", 3}, {2, "</s>", 3}, {3, "<0x00>", 6}, {13, "<0x0A>", 6}, {258, "<0xFF>", 6},
	} {
		if tokens[c.id] != c.token || types[c.id] != c.typ {
			t.Errorf("token %d = %q type %d, want %q type %d", c.id, tokens[c.id], types[c.id], c.token, c.typ)
		}
	}
	normal := 0
	for i, ty := range types {
		if ty == 1 {
			normal++
			if scores[i] > 0 {
				t.Errorf("token %d %q has score %g; SentencePiece scores are log probabilities", i, tokens[i], scores[i])
				break
			}
		}
	}
	if normal != 32000-3-256 {
		t.Errorf("%d normal tokens, want %d", normal, 32000-3-256)
	}
	if bos, err := f.Uint32("tokenizer.ggml.bos_token_id"); err != nil || bos != 1 {
		t.Errorf("BOS = %d, %v; want 1", bos, err)
	}
	if eos, err := f.Uint32("tokenizer.ggml.eos_token_id"); err != nil || eos != 2 {
		t.Errorf("EOS = %d, %v; want 2", eos, err)
	}
}

func TestTensorInfoCounts(t *testing.T) {
	for _, tc := range []struct {
		dims        []uint64
		elems, rows uint64
	}{
		{nil, 1, 1},
		{[]uint64{7}, 7, 1},
		{[]uint64{4096, 32000}, 4096 * 32000, 32000},
		{[]uint64{64, 3, 5, 7}, 64 * 105, 105},
	} {
		ti := TensorInfo{Dims: tc.dims}
		if ti.NumElements() != tc.elems || ti.Rows() != tc.rows {
			t.Errorf("dims %v: %d elements, %d rows; want %d, %d", tc.dims, ti.NumElements(), ti.Rows(), tc.elems, tc.rows)
		}
	}
}
