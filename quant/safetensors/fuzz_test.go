package safetensors

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"unsafe"
)

// FuzzParse feeds arbitrary bytes to Parse. Whatever it accepts must hold up:
// views inside the input, lengths that match dtype and shape, no overlaps,
// decodable floats, and a rewrite through the writer's header encoder that
// parses back to the same tensors.
func FuzzParse(f *testing.F) {
	path := filepath.Join(f.TempDir(), "seed.safetensors")
	writeTensors(f, path, []tensorData{
		{Spec{"a", BF16, []int64{2, 3}}, seq(12, 1)},
		{Spec{"b", F16, []int64{}}, seq(2, 5)},
		{Spec{"c", F32, []int64{0, 4}}, nil},
		{Spec{"d", F32, []int64{3}}, seq(12, 9)},
		{Spec{"ids", "I64", []int64{1}}, seq(8, 0)},
	}, map[string]string{"format": "pt"})
	valid, err := os.ReadFile(path)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(valid)
	f.Add(valid[:len(valid)-3])
	f.Add(rawFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[2,6]}}`, seq(8, 0)))
	f.Add(rawFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, seq(8, 0)))
	f.Add(rawFile(`{"a":{"dtype":"Q9","shape":[4294967296,4294967296],"data_offsets":[0,4]}}`, seq(4, 0)))
	f.Add(rawFile(`{"__metadata__":{"k":"v"},"e":{"dtype":"BF16","shape":[0],"data_offsets":[3,3]},"x":{"dtype":"U8","shape":[3],"data_offsets":[0,3]}}`, seq(4, 0)))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, '{', '}'})
	f.Add([]byte{})

	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := Parse(data, "fuzz")
		if err != nil {
			if msg := err.Error(); !strings.HasPrefix(msg, "fuzz: ") || strings.Contains(msg, "\n") {
				t.Fatalf("error not one line naming the file: %q", msg)
			}
			return
		}
		checkParsed(t, data, file)

		// Rewrite what was read, in data order, and read it back.
		specs := make([]Spec, 0, len(file.Tensors))
		var body []byte
		for _, x := range file.Tensors {
			if x.DType.Size() == 0 {
				return // the writer only writes dtypes of known size
			}
			specs = append(specs, Spec{x.Name, x.DType, x.Shape})
			body = append(body, x.Data...)
		}
		header, _, err := encodeHeader("re", specs, file.Metadata)
		if err != nil {
			t.Fatalf("re-encoding a parsed file: %v", err)
		}
		again, err := Parse(rawFile(string(header), body), "re")
		if err != nil {
			t.Fatalf("re-encoded file does not parse: %v\nheader %q", err, header)
		}
		if len(again.Tensors) != len(file.Tensors) || !reflect.DeepEqual(again.Metadata, file.Metadata) {
			t.Fatalf("re-encoded file differs: %d tensors, metadata %v", len(again.Tensors), again.Metadata)
		}
		for i, x := range again.Tensors {
			y := file.Tensors[i]
			if x.Name != y.Name || x.DType != y.DType || !reflect.DeepEqual(x.Shape, y.Shape) || !bytes.Equal(x.Data, y.Data) {
				t.Fatalf("tensor %d: re-encoded %q %s %v, was %q %s %v", i, x.Name, x.DType, x.Shape, y.Name, y.DType, y.Shape)
			}
		}
	})
}

// checkParsed holds a parsed file to the promises Parse makes.
func checkParsed(t *testing.T, data []byte, file *File) {
	t.Helper()
	names := map[string]bool{}
	var lastBegin, lastEnd int64 = -1, 0
	base := uintptr(unsafe.Pointer(unsafe.SliceData(data)))
	for _, x := range file.Tensors {
		if names[x.Name] {
			t.Fatalf("tensor %q twice", x.Name)
		}
		names[x.Name] = true
		if x.Name == metadataKey {
			t.Fatalf("metadata parsed as a tensor")
		}
		begin := int64(0)
		if len(x.Data) > 0 {
			begin = int64(uintptr(unsafe.Pointer(unsafe.SliceData(x.Data))) - base)
			if begin != x.off || begin < 0 || begin+int64(len(x.Data)) > int64(len(data)) {
				t.Fatalf("tensor %q: data at %d+%d outside the input of %d (off %d)", x.Name, begin, len(x.Data), len(data), x.off)
			}
			if begin < lastBegin {
				t.Fatalf("tensor %q out of data-offset order", x.Name)
			}
			if begin < lastEnd {
				t.Fatalf("tensor %q overlaps the one before", x.Name)
			}
			lastBegin, lastEnd = begin, begin+int64(len(x.Data))
		}
		if cap(x.Data) != len(x.Data) {
			t.Fatalf("tensor %q: Data can grow into its neighbour", x.Name)
		}
		n, err := numElements(x.Shape)
		if err != nil || n != x.NumElements() {
			t.Fatalf("tensor %q: shape %v accepted with %v", x.Name, x.Shape, err)
		}
		if size := x.DType.Size(); size > 0 && int64(len(x.Data)) != n*int64(size) {
			t.Fatalf("tensor %q: %d bytes for %d elements of %s", x.Name, len(x.Data), n, x.DType)
		}
		switch x.DType {
		case F32, F16, BF16:
			dst := make([]float32, min(n, 1<<12))
			if err := x.Float32(dst, n-int64(len(dst))); err != nil {
				t.Fatalf("tensor %q: %v", x.Name, err)
			}
		default:
			if err := x.Float32(make([]float32, min(n, 1)), 0); err == nil {
				t.Fatalf("tensor %q: Float32 decoded dtype %s", x.Name, x.DType)
			}
		}
	}
}

// FuzzIndex feeds arbitrary bytes to the index parser; an index it accepts
// must have safe shard names and survive a rewrite by WriteIndex's formatter.
func FuzzIndex(f *testing.F) {
	good, err := formatIndex(map[string]string{
		"model.layers.0.weight": "model-00001-of-00002.safetensors",
		"lm_head.weight":        "model-00002-of-00002.safetensors",
	}, 1234)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add([]byte(`{"weight_map": {"a": "../x"}}`))
	f.Add([]byte(`{"weight_map": {"a": "x", "a": "y"}}`))
	f.Add([]byte(`{"metadata": {"total_size": 1e99}, "weight_map": {"a\u0000": "x.safetensors"}}`))
	f.Add([]byte(`{"weight_map": []}`))

	f.Fuzz(func(t *testing.T, data []byte) {
		wm, err := parseIndex(data, "idx")
		if err != nil {
			if msg := err.Error(); !strings.HasPrefix(msg, "idx: ") || strings.Contains(msg, "\n") {
				t.Fatalf("error not one line naming the file: %q", msg)
			}
			return
		}
		for name, shard := range wm {
			if checkShardName(shard) != nil || filepath.Base(shard) != shard || filepath.IsAbs(shard) {
				t.Fatalf("tensor %q: unsafe shard %q accepted", name, shard)
			}
		}
		out, err := formatIndex(wm, 0)
		if err != nil {
			t.Fatalf("formatting a parsed index: %v", err)
		}
		again, err := parseIndex(out, "re")
		if err != nil || !reflect.DeepEqual(again, wm) {
			t.Fatalf("rewritten index reads back as %v, %v; want %v", again, err, wm)
		}
	})
}
