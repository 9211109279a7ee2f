package safetensors

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// dirNames lists a directory, so tests can see that no file or temporary
// file was left behind.
func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

func TestWriterFailuresLeaveNothing(t *testing.T) {
	specs := []Spec{{"a", F32, []int64{2}}, {"b", BF16, []int64{3}}} // 8 + 6 bytes
	tests := []struct {
		name   string
		writes [][]byte
		abort  bool
		want   string // Close error; "" when aborted
	}{
		{"abort before data", nil, true, ""},
		{"abort midway", [][]byte{make([]byte, 5)}, true, ""},
		{"abort when complete", [][]byte{make([]byte, 14)}, true, ""},
		{"no data", nil, false, "tensor a: short data: 0 of 14"},
		{"short in second tensor", [][]byte{make([]byte, 8), make([]byte, 5)}, false, "tensor b: short data: 13 of 14"},
		{"overflow", [][]byte{make([]byte, 10), make([]byte, 5)}, false, "goes past the 14 bytes declared"},
		{"overflow then exact", [][]byte{make([]byte, 15), make([]byte, 14)}, false, "goes past"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "out.safetensors")
			w, err := Create(path, specs, nil)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range tt.writes {
				w.Write(p)
			}
			if tt.abort {
				w.Abort()
				w.Abort() // twice is harmless
			} else {
				err := w.Close()
				if err == nil || !strings.HasPrefix(err.Error(), path+": ") || !strings.Contains(err.Error(), tt.want) {
					t.Fatalf("Close error = %v, want %q", err, tt.want)
				}
			}
			if names := dirNames(t, dir); len(names) != 0 {
				t.Errorf("left behind: %v", names)
			}
		})
	}
}

func TestWriterOverflowWrite(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "o.safetensors")
	w, err := Create(path, []Spec{{"a", F16, []int64{2}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Abort()
	if n, err := w.Write(make([]byte, 3)); n != 3 || err != nil {
		t.Fatalf("Write(3) = %d, %v", n, err)
	}
	n, err := w.Write(make([]byte, 2))
	if n != 0 || err == nil || !strings.Contains(err.Error(), "goes past the 4 bytes declared") {
		t.Fatalf("overflowing Write = %d, %v", n, err)
	}
	// The failure sticks: a fitting write does not undo it.
	if _, err := w.Write(make([]byte, 1)); err == nil {
		t.Fatal("Write after overflow succeeded")
	}
	if err := w.Close(); err == nil {
		t.Fatal("Close after overflow succeeded")
	}
	if names := dirNames(t, dir); len(names) != 0 {
		t.Errorf("left behind: %v", names)
	}
}

func TestWriterKeepsOldFileOnFailure(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "model.safetensors")
	writeTensors(t, path, []tensorData{{Spec{"old", F32, []int64{1}}, f32Bytes(7)}}, nil)
	before, _ := os.ReadFile(path)
	w, err := Create(path, []Spec{{"new", F32, []int64{4}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(make([]byte, 12))
	if err := w.Close(); err == nil {
		t.Fatal("short Close succeeded")
	}
	after, _ := os.ReadFile(path)
	if string(before) != string(after) {
		t.Error("failed write changed the existing file")
	}
	if names := dirNames(t, dir); !reflect.DeepEqual(names, []string{"model.safetensors"}) {
		t.Errorf("directory holds %v", names)
	}
}

func TestWriterAfterClose(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "m.safetensors")
	w, err := Create(path, []Spec{{"a", "U8", []int64{2}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Many small writes cross the buffer in pieces.
	w.Write([]byte{1})
	w.Write([]byte{2})
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	w.Abort() // must not remove the finished file
	if _, err := w.Write([]byte{1}); err == nil {
		t.Error("Write after Close succeeded")
	}
	if err := w.Close(); err == nil {
		t.Error("second Close succeeded")
	}
	f, err := OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if got := f.Tensors[0].Data; string(got) != "\x01\x02" {
		t.Errorf("data = %q", got)
	}
	st, _ := os.Stat(path)
	if st.Mode().Perm() != 0o644 {
		t.Errorf("mode %v, want 0644", st.Mode().Perm())
	}
	if names := dirNames(t, dir); !reflect.DeepEqual(names, []string{"m.safetensors"}) {
		t.Errorf("directory holds %v", names)
	}
}

func TestCreateRefusesBadSpecs(t *testing.T) {
	tests := []struct {
		name  string
		specs []Spec
		meta  map[string]string
		want  string
	}{
		{"duplicate", []Spec{{"a", F32, nil}, {"a", F16, nil}}, nil, "tensor a: declared twice"},
		{"unknown dtype", []Spec{{"q", "Q4", []int64{2}}}, nil, `tensor q: dtype "Q4" has no known byte size`},
		{"negative dim", []Spec{{"n", F32, []int64{2, -1}}}, nil, "tensor n: shape [2 -1] has a negative dimension"},
		{"reserved name", []Spec{{"__metadata__", F32, nil}}, nil, "tensor __metadata__: name is reserved"},
		{"bad utf8 name", []Spec{{"\xff", F32, nil}}, nil, "not valid UTF-8"},
		{"bad utf8 metadata", nil, map[string]string{"k": "\xfe"}, `__metadata__ key "k": not valid UTF-8`},
		{"count overflow", []Spec{{"big", F32, []int64{1 << 32, 1 << 32}}}, nil, "tensor big: element count"},
		{"bytes overflow", []Spec{{"big", "F64", []int64{1 << 61}}}, nil, "tensor big: 2305843009213693952 elements of F64 overflow"},
		{"sum overflow", []Spec{{"a", F32, []int64{1 << 60}}, {"b", F32, []int64{1 << 60}}}, nil, "tensor b:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "x.safetensors")
			w, err := Create(path, tt.specs, tt.meta)
			if err == nil {
				w.Abort()
				t.Fatalf("Create succeeded; want %q", tt.want)
			}
			if !strings.HasPrefix(err.Error(), path+": ") || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error = %q, want %q", err, tt.want)
			}
			if names := dirNames(t, dir); len(names) != 0 {
				t.Errorf("left behind: %v", names)
			}
		})
	}
}

func TestWriteIndex(t *testing.T) {
	dir := t.TempDir()
	wm := map[string]string{
		"model.layers.1.w":  "model-00002-of-00002.safetensors",
		"lm_head.weight":    "model-00002-of-00002.safetensors",
		"embed_tokens":      "model-00001-of-00002.safetensors",
		"odd\"é\U0001F600<": "model-00001-of-00002.safetensors",
	}
	if err := WriteIndex(dir, wm, 123456789012); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(dir, "model.safetensors.index.json"))
	if err != nil {
		t.Fatal(err)
	}
	// What Python's json.dumps(index, indent=2, sort_keys=True) + "\n" gives.
	want := `{
  "metadata": {
    "total_size": 123456789012
  },
  "weight_map": {
    "embed_tokens": "model-00001-of-00002.safetensors",
    "lm_head.weight": "model-00002-of-00002.safetensors",
    "model.layers.1.w": "model-00002-of-00002.safetensors",
    "odd\"\u00e9\ud83d\ude00<": "model-00001-of-00002.safetensors"
  }
}
`
	if string(got) != want {
		t.Errorf("index =\n%s\nwant\n%s", got, want)
	}
	var decoded struct {
		WeightMap map[string]string `json:"weight_map"`
	}
	if err := json.Unmarshal(got, &decoded); err != nil || !reflect.DeepEqual(decoded.WeightMap, wm) {
		t.Errorf("index does not decode to the weight map: %v %v", err, decoded.WeightMap)
	}
	if names := dirNames(t, dir); !reflect.DeepEqual(names, []string{"model.safetensors.index.json"}) {
		t.Errorf("directory holds %v", names)
	}

	for _, bad := range []map[string]string{
		nil,
		{"a": "../x.safetensors"},
		{"a": "/abs.safetensors"},
		{"a": ""},
	} {
		if err := WriteIndex(dir, bad, 1); err == nil {
			t.Errorf("WriteIndex(%v) succeeded", bad)
		}
	}
}

// TestWriterChunks streams tensors larger than the write buffer in pieces
// that straddle tensor boundaries, as a converter emitting rows does.
func TestWriterChunks(t *testing.T) {
	ts := []tensorData{
		{Spec{"big", BF16, []int64{1024, 1500}}, seq(2*1024*1500, 3)},
		{Spec{"small", F32, []int64{3}}, f32Bytes(1, 2, 3)},
		{Spec{"empty", F16, []int64{0}}, nil},
		{Spec{"tail", "U8", []int64{1001}}, seq(1001, 77)},
	}
	var all []byte
	specs := make([]Spec, len(ts))
	for i, td := range ts {
		specs[i] = td.Spec
		all = append(all, td.data...)
	}
	path := filepath.Join(t.TempDir(), "chunks.safetensors")
	w, err := Create(path, specs, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Abort()
	for rest, size := all, 1; len(rest) > 0; size = size*3 + 1 {
		n := min(size%(3<<20), len(rest))
		if _, err := w.Write(rest[:n]); err != nil {
			t.Fatal(err)
		}
		rest = rest[n:]
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	f, err := OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for i, td := range ts {
		if got := f.Tensors[i]; got.Name != td.Name || string(got.Data) != string(td.data) {
			t.Errorf("tensor %s differs after chunked writing", td.Name)
		}
	}
}
