package gguf

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"maira/quant/dtype"
)

// smallFile returns a valid file from the Writer: a few KVs of several
// types, and two tensors.
func smallFile(tb testing.TB) []byte {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "seed.gguf")
	w, err := Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer w.Abort()
	for _, kv := range []KV{
		{"general.architecture", "llama"},
		{"llama.block_count", uint32(2)},
		{"tokenizer.ggml.tokens", []string{"<unk>", "<s>", "</s>", "▁a"}},
		{"tokenizer.ggml.scores", []float32{0, 0, 0, -1}},
		{"tokenizer.ggml.token_type", []int32{2, 3, 3, 1}},
		{"flag", true},
		{"eps", float64(1e-5)},
	} {
		if err := w.AddKV(kv.Key, kv.Value); err != nil {
			tb.Fatal(err)
		}
	}
	if err := w.AddTensor("tok_embd.weight", dtype.Q8_0, []uint64{32, 2}); err != nil {
		tb.Fatal(err)
	}
	if err := w.AddTensor("norm.weight", dtype.F32, []uint64{3}); err != nil {
		tb.Fatal(err)
	}
	if _, err := w.Write(make([]byte, 2*34+12)); err != nil {
		tb.Fatal(err)
	}
	if err := w.Close(); err != nil {
		tb.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func FuzzParse(f *testing.F) {
	good := smallFile(f)
	f.Add(good)
	f.Add(good[:len(good)-1]) // last tensor truncated
	f.Add(good[:100])         // cut inside the metadata
	f.Add(append([]byte{}, good[:24]...))
	flip := func(at int, b byte) []byte {
		c := append([]byte{}, good...)
		c[at] = b
		return c
	}
	f.Add(flip(4, 1))     // version 1
	f.Add(flip(23, 0x80)) // key count 2^63
	f.Add(flip(15, 0x40)) // tensor count huge
	f.Add(header(0, 1).str("n").u32(typeArray).u32(typeArray).u64(1).u32(typeString).u64(1).str("x").b)
	f.Add(header(1, 1).str(alignmentKey).u32(typeUint32).u32(64).tensorInfo("t", dtype.Q4_0, 0, 32, 2).pad(64).zeros(64).b)

	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := Parse(data, "fuzz.gguf")
		if err != nil {
			if msg := err.Error(); !strings.HasPrefix(msg, "fuzz.gguf: ") || strings.Contains(msg, "\n") {
				t.Fatalf("error %q is not one line naming the file", msg)
			}
			return
		}
		// Whatever parses must be safe to use: every getter, every
		// tensor's bytes inside the data, no two tensors sharing bytes.
		for _, kv := range file.KVs {
			if v, ok := file.Get(kv.Key); !ok || fmt.Sprint(v) != fmt.Sprint(kv.Value) {
				t.Fatalf("Get(%q) disagrees with KVs", kv.Key)
			}
			file.String(kv.Key)
			file.Uint32(kv.Key)
			file.Uint64(kv.Key)
			file.Float32(kv.Key)
			file.Bool(kv.Key)
			file.Strings(kv.Key)
			file.Float32s(kv.Key)
			file.Int32s(kv.Key)
		}
		if file.Alignment <= 0 || file.Alignment&(file.Alignment-1) != 0 || file.DataOffset%int64(file.Alignment) != 0 {
			t.Fatalf("alignment %d, data offset %d", file.Alignment, file.DataOffset)
		}
		used := map[uint64]string{}
		for i := range file.Tensors {
			ti := &file.Tensors[i]
			if file.Tensor(ti.Name) != ti {
				t.Fatalf("Tensor(%q) is not Tensors[%d]", ti.Name, i)
			}
			rb, err := ti.Type.RowBytes(int64(ti.Dims[0]))
			if err != nil || uint64(rb)*ti.Rows() != ti.Size || ti.Size == 0 {
				t.Fatalf("tensor %q: size %d for %v %v (%v)", ti.Name, ti.Size, ti.Type, ti.Dims, err)
			}
			if d := file.Data(ti); uint64(len(d)) != ti.Size {
				t.Fatalf("tensor %q: %d bytes of data, want %d", ti.Name, len(d), ti.Size)
			}
			// First and last byte of each tensor belong to it alone.
			for _, at := range []uint64{ti.Offset, ti.Offset + ti.Size - 1} {
				if other, ok := used[at]; ok {
					t.Fatalf("tensors %q and %q share data byte %d", other, ti.Name, at)
				}
				used[at] = ti.Name
			}
		}
	})
}
