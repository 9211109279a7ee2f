package safetensors

import (
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// shardedCheckpoint writes three shards and their index into dir, the way
// transformers lays out a sharded model, and returns the weight map.
func shardedCheckpoint(t *testing.T, dir string) map[string]string {
	t.Helper()
	shards := map[string][]tensorData{
		"model-00001-of-00003.safetensors": {
			{Spec{"model.embed_tokens.weight", BF16, []int64{4, 2}}, u16Bytes(0x3f80, 0x4000, 0x4040, 0x4080, 0xbf80, 0, 0x7f80, 0x3f00)},
			{Spec{"model.layers.0.input_layernorm.weight", F32, []int64{2}}, f32Bytes(1, 0.5)},
		},
		"model-00002-of-00003.safetensors": {
			{Spec{"model.layers.0.mlp.up_proj.weight", F16, []int64{3, 2}}, u16Bytes(0x3c00, 0x4000, 0x4200, 0xc400, 0x0001, 0x7bff)},
		},
		"model-00003-of-00003.safetensors": {
			{Spec{"lm_head.weight", F32, []int64{2, 2}}, f32Bytes(1, 2, 3, 4)},
			{Spec{"model.norm.weight", F32, []int64{2}}, f32Bytes(-1, 1)},
		},
	}
	wm := map[string]string{}
	var total int64
	for shard, ts := range shards {
		writeTensors(t, filepath.Join(dir, shard), ts, map[string]string{"format": "pt"})
		for _, td := range ts {
			wm[td.Name] = shard
			total += int64(len(td.data))
		}
	}
	if err := WriteIndex(dir, wm, total); err != nil {
		t.Fatal(err)
	}
	return wm
}

func TestShardedSet(t *testing.T) {
	dir := t.TempDir()
	wm := shardedCheckpoint(t, dir)
	for _, open := range []string{dir, filepath.Join(dir, "model.safetensors.index.json")} {
		s, err := Open(open)
		if err != nil {
			t.Fatal(err)
		}
		if s.Dir != dir || len(s.Files) != 3 || len(s.Tensors) != len(wm) {
			t.Fatalf("Open(%s): dir %s, %d files, %d tensors", open, s.Dir, len(s.Files), len(s.Tensors))
		}
		var names []string
		for _, x := range s.Tensors {
			names = append(names, x.Name)
			if want := filepath.Join(dir, wm[x.Name]); x.File != want {
				t.Errorf("%s: File %s, want %s", x.Name, x.File, want)
			}
		}
		want := []string{"lm_head.weight", "model.embed_tokens.weight", "model.layers.0.input_layernorm.weight", "model.layers.0.mlp.up_proj.weight", "model.norm.weight"}
		if !reflect.DeepEqual(names, want) {
			t.Errorf("tensors %v, want %v", names, want)
		}

		checks := []struct {
			name string
			want []float32
		}{
			{"model.embed_tokens.weight", []float32{1, 2, 3, 4, -1, 0, float32(math.Inf(1)), 0.5}},
			{"model.layers.0.mlp.up_proj.weight", []float32{1, 2, 3, -4, float32(math.Ldexp(1, -24)), 65504}},
			{"lm_head.weight", []float32{1, 2, 3, 4}},
		}
		for _, c := range checks {
			x := s.Tensor(c.name)
			if x == nil {
				t.Fatalf("Tensor(%s) = nil", c.name)
			}
			got := make([]float32, x.NumElements())
			if err := x.Float32(got, 0); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("%s = %v, want %v", c.name, got, c.want)
			}
			// Released pages read back from the file unchanged.
			s.Release(x)
			if err := x.Float32(got, 0); err != nil || !reflect.DeepEqual(got, c.want) {
				t.Errorf("%s after Release = %v, %v", c.name, got, err)
			}
		}
		if s.Tensor("missing") != nil || s.Tensor("") != nil || s.Tensor("zzz") != nil {
			t.Error("Tensor found a name that is not there")
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

func TestOpenSingle(t *testing.T) {
	one := []tensorData{{Spec{"w", F32, []int64{1}}, f32Bytes(2)}}
	t.Run("model.safetensors", func(t *testing.T) {
		dir := t.TempDir()
		writeTensors(t, filepath.Join(dir, "model.safetensors"), one, nil)
		writeTensors(t, filepath.Join(dir, "other.safetensors"), one, nil) // ignored
		s, err := Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if s.Files[0].Path != filepath.Join(dir, "model.safetensors") {
			t.Errorf("opened %s", s.Files[0].Path)
		}
	})
	t.Run("the only file", func(t *testing.T) {
		dir := t.TempDir()
		writeTensors(t, filepath.Join(dir, "adapter.safetensors"), one, nil)
		os.WriteFile(filepath.Join(dir, "config.json"), []byte("{}"), 0o644)
		s, err := Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if s.Tensor("w") == nil || s.Dir != dir {
			t.Error("tensor w missing")
		}
	})
	t.Run("file path and symlink", func(t *testing.T) {
		dir := t.TempDir()
		blob := filepath.Join(dir, "blob")
		writeTensors(t, blob, one, nil)
		link := filepath.Join(dir, "model.safetensors")
		if err := os.Symlink("blob", link); err != nil {
			t.Skip(err)
		}
		for _, p := range []string{blob, link, dir} {
			s, err := Open(p)
			if err != nil {
				t.Fatal(err)
			}
			if s.Tensor("w") == nil {
				t.Errorf("Open(%s): tensor w missing", p)
			}
			s.Close()
		}
	})
}

func TestOpenNothing(t *testing.T) {
	t.Run("empty dir", func(t *testing.T) {
		dir := t.TempDir()
		_, err := Open(dir)
		if err == nil || !strings.HasPrefix(err.Error(), dir+": ") ||
			!strings.Contains(err.Error(), "model.safetensors.index.json, model.safetensors, or a single *.safetensors file (found none)") {
			t.Fatalf("error = %v", err)
		}
	})
	t.Run("two files", func(t *testing.T) {
		dir := t.TempDir()
		one := []tensorData{{Spec{"w", F32, []int64{1}}, f32Bytes(2)}}
		writeTensors(t, filepath.Join(dir, "a.safetensors"), one, nil)
		writeTensors(t, filepath.Join(dir, "b.safetensors"), one, nil)
		_, err := Open(dir)
		if err == nil || !strings.Contains(err.Error(), "found 2") || !strings.Contains(err.Error(), "a.safetensors, b.safetensors") {
			t.Fatalf("error = %v", err)
		}
	})
	t.Run("missing path", func(t *testing.T) {
		p := filepath.Join(t.TempDir(), "none")
		if _, err := Open(p); err == nil || !strings.Contains(err.Error(), p) {
			t.Fatalf("error = %v", err)
		}
	})
}

func TestBadSets(t *testing.T) {
	const s1, s2, s3 = "model-00001-of-00003.safetensors", "model-00002-of-00003.safetensors", "model-00003-of-00003.safetensors"
	tests := []struct {
		name   string
		damage func(t *testing.T, dir string)
		want   string // after "INDEX: "
	}{
		{"missing shard", func(t *testing.T, dir string) {
			os.Remove(filepath.Join(dir, s2))
		}, "shard " + s2 + " is missing (the index puts 1 tensor(s) there, e.g. model.layers.0.mlp.up_proj.weight)"},
		{"tensor absent from shard", func(t *testing.T, dir string) {
			writeTensors(t, filepath.Join(dir, s3), []tensorData{{Spec{"lm_head.weight", F32, []int64{1}}, f32Bytes(1)}}, nil)
		}, "tensor model.norm.weight: listed in the index for shard " + s3 + " but absent from it"},
		{"tensor in two shards", func(t *testing.T, dir string) {
			writeTensors(t, filepath.Join(dir, s2), []tensorData{
				{Spec{"model.layers.0.mlp.up_proj.weight", F16, []int64{1}}, u16Bytes(0)},
				{Spec{"lm_head.weight", F32, []int64{1}}, f32Bytes(1)},
			}, nil)
		}, "tensor lm_head.weight: present in shards " + s2 + " and " + s3},
		{"index points at other shard", func(t *testing.T, dir string) {
			writeIndexText(t, dir, `{"weight_map": {"lm_head.weight": "`+s1+`"}}`)
		}, "tensor lm_head.weight: listed in the index for shard " + s1 + " but absent from it"},
		{"parent path", func(t *testing.T, dir string) {
			writeIndexText(t, dir, `{"weight_map": {"w": "../`+s1+`"}}`)
		}, `tensor w: shard name "../` + s1 + `" is not a plain file name`},
		{"absolute path", func(t *testing.T, dir string) {
			writeIndexText(t, dir, `{"weight_map": {"w": "/etc/passwd"}}`)
		}, `tensor w: shard name "/etc/passwd" is not a plain file name`},
		{"dot dot", func(t *testing.T, dir string) {
			writeIndexText(t, dir, `{"weight_map": {"w": ".."}}`)
		}, `tensor w: shard name ".." is not`},
		{"shard not a string", func(t *testing.T, dir string) {
			writeIndexText(t, dir, `{"weight_map": {"w": 3}}`)
		}, "tensor w: shard is a number, not a file name"},
		{"duplicate tensor", func(t *testing.T, dir string) {
			writeIndexText(t, dir, `{"weight_map": {"lm_head.weight": "`+s3+`", "lm_head.weight": "`+s3+`"}}`)
		}, `key "lm_head.weight" appears twice`},
		{"no weight map", func(t *testing.T, dir string) {
			writeIndexText(t, dir, `{"metadata": {"total_size": 1}}`)
		}, "no weight_map"},
		{"empty weight map", func(t *testing.T, dir string) {
			writeIndexText(t, dir, `{"weight_map": {}}`)
		}, "weight_map is empty"},
		{"weight map not object", func(t *testing.T, dir string) {
			writeIndexText(t, dir, `{"weight_map": []}`)
		}, "weight_map is an array, not an object"},
		{"not json", func(t *testing.T, dir string) {
			writeIndexText(t, dir, `{"weight_map": {`)
		}, "invalid JSON"},
		{"shard is a directory", func(t *testing.T, dir string) {
			os.Remove(filepath.Join(dir, s2))
			os.Mkdir(filepath.Join(dir, s2), 0o755)
		}, "not a regular file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			shardedCheckpoint(t, dir)
			tt.damage(t, dir)
			s, err := Open(dir)
			if err == nil {
				s.Close()
				t.Fatalf("opened; want %q", tt.want)
			}
			t.Log(err)
			index := filepath.Join(dir, "model.safetensors.index.json")
			if !strings.Contains(err.Error(), tt.want) || (!strings.HasPrefix(err.Error(), index+": ") && !strings.HasPrefix(err.Error(), dir)) {
				t.Errorf("error = %q, want %q", err, tt.want)
			}
		})
	}

	t.Run("bad shard file", func(t *testing.T) {
		dir := t.TempDir()
		shardedCheckpoint(t, dir)
		os.WriteFile(filepath.Join(dir, s2), []byte("garbage!garbage!"), 0o644)
		_, err := Open(dir)
		want := filepath.Join(dir, s2) + ": header length"
		if err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Fatalf("error = %v, want prefix %q", err, want)
		}
	})
}

func writeIndexText(t *testing.T, dir, text string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, "model.safetensors.index.json"), []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}
