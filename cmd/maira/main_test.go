package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"maira/quant/gguf"
	"maira/quant/modelfile"
	"maira/quant/safetensors"
)

// mairaCLI runs the command line in-process.
func mairaCLI(args ...string) (code int, stdout, stderr string) {
	var o, e bytes.Buffer
	code = run(args, &o, &e)
	return code, o.String(), e.String()
}

var (
	tinyOnce sync.Once
	tinyDir  string
	tinyErr  error
)

// tiny returns a fresh copy of a tiny checkpoint folder (generated once).
func tiny(t *testing.T) string {
	t.Helper()
	tinyOnce.Do(func() {
		dir, err := os.MkdirTemp("", "maira-cmd-test-")
		if err != nil {
			tinyErr = err
			return
		}
		tinyDir = filepath.Join(dir, "tiny")
		if code, _, e := mairaCLI("testmodel", "--preset", "tiny", "-o", tinyDir); code != 0 {
			tinyErr = fmt.Errorf("testmodel: %s", e)
		}
	})
	if tinyErr != nil {
		t.Fatal(tinyErr)
	}
	dst := filepath.Join(t.TempDir(), "tiny")
	if err := os.CopyFS(dst, os.DirFS(tinyDir)); err != nil {
		t.Fatal(err)
	}
	return dst
}

func TestMain(m *testing.M) {
	if os.Getenv("MAIRA_TEST_FSIZE") != "" {
		fullDiskChild()
		return
	}
	code := m.Run()
	if tinyDir != "" {
		os.RemoveAll(filepath.Dir(tinyDir))
	}
	if modelDir != "" {
		os.RemoveAll(modelDir)
	}
	os.Exit(code)
}

func TestQuantInspectExport(t *testing.T) {
	dir := tiny(t)
	out := filepath.Join(t.TempDir(), "m.gguf")
	code, stdout, stderr := mairaCLI("quant", dir, "-o", out)
	if code != 0 {
		t.Fatalf("quant: %d %s", code, stderr)
	}
	for _, want := range []string{"recipe: vision q8_0, language model q4_k, embeddings q6_k", "fallback: rows of 14 do not fit q8_0",
		"largest tensors", "token_embd.weight", "wrote " + out} {
		if !strings.Contains(stdout, want) {
			t.Errorf("quant output lacks %q:\n%s", want, stdout)
		}
	}
	code, stdout, stderr = mairaCLI("inspect", out, "--json")
	if code != 0 {
		t.Fatalf("inspect: %s", stderr)
	}
	var rep inspection
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Format != "gguf" || !strings.HasPrefix(rep.Model, "maira:") || len(rep.Tensors) != 71 {
		t.Errorf("inspect: %+v", rep)
	}
	llm := filepath.Join(t.TempDir(), "llm.gguf")
	if code, _, stderr = mairaCLI("export", "--llm-only", out, "-o", llm); code != 0 {
		t.Fatalf("export: %s", stderr)
	}
	a, err := gguf.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := gguf.Open(llm)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if arch, _ := b.String(modelfile.KeyArchitecture); arch != "llama" {
		t.Errorf("export architecture %q", arch)
	}
	h, err := modelfile.Read(b)
	if err != nil {
		t.Fatal(err)
	}
	if err := modelfile.Check(b, h); err != nil {
		t.Fatal(err)
	}
	if len(b.Tensors) != 2*9+3 {
		t.Errorf("export has %d tensors", len(b.Tensors))
	}
	for i := range b.Tensors {
		tb := &b.Tensors[i]
		ta := a.Tensor(tb.Name)
		if ta == nil || ta.Type != tb.Type || !bytes.Equal(a.Data(ta), b.Data(tb)) {
			t.Errorf("%s: not the same bytes as in the maira file", tb.Name)
		}
	}
	for _, kv := range b.KVs {
		if strings.HasPrefix(kv.Key, "maira.") {
			t.Errorf("export carries %s", kv.Key)
		}
	}
	// The HF folder inspects too.
	if code, stdout, _ = mairaCLI("inspect", dir); code != 0 || !strings.Contains(stdout, "language_model.lm_head.weight") {
		t.Errorf("inspect of a folder: %d\n%s", code, stdout)
	}
}

func TestDryRunWritesNothing(t *testing.T) {
	dir := tiny(t)
	outDir := t.TempDir()
	code, stdout, stderr := mairaCLI("quant", dir, "-o", filepath.Join(outDir, "m.gguf"), "--dry-run", "--type", "q4_0")
	if code != 0 || !strings.Contains(stdout, "would write") || !strings.Contains(stdout, "q4_0") {
		t.Fatalf("%d %s %s", code, stdout, stderr)
	}
	if ents, _ := os.ReadDir(outDir); len(ents) != 0 {
		t.Errorf("dry run left %v", ents)
	}
}

func TestTestmodelGGUF(t *testing.T) {
	out := filepath.Join(t.TempDir(), "t.gguf")
	if code, _, stderr := mairaCLI("testmodel", "--preset", "tiny", "--gguf", "q8_0", "-o", out); code != 0 {
		t.Fatal(stderr)
	}
	f, err := gguf.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.Tensor("blk.1.ffn_up.weight").Type.String() != "q8_0" {
		t.Error("not q8_0")
	}
}

// rewriteTensor rewrites the shard holding the named tensor, letting edit
// change its spec and data; edit returning ok=false drops the tensor.
func rewriteTensor(t *testing.T, dir, name string, edit func(*safetensors.Spec, []byte) ([]byte, bool)) {
	t.Helper()
	set, err := safetensors.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer set.Close()
	target := set.Tensor(name)
	if target == nil {
		t.Fatalf("no tensor %s", name)
	}
	f, err := safetensors.OpenFile(target.File)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var specs []safetensors.Spec
	var datas [][]byte
	for _, tt := range f.Tensors {
		s := safetensors.Spec{Name: tt.Name, DType: tt.DType, Shape: tt.Shape}
		d := append([]byte(nil), tt.Data...)
		if tt.Name == name {
			var ok bool
			if d, ok = edit(&s, d); !ok {
				continue
			}
		}
		specs = append(specs, s)
		datas = append(datas, d)
	}
	w, err := safetensors.Create(target.File, specs, map[string]string{"format": "pt"})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range datas {
		if _, err := w.Write(d); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

const upProj = "language_model.model.layers.1.mlp.up_proj.weight"

func TestBadInput(t *testing.T) {
	tests := []struct {
		name    string
		corrupt func(t *testing.T, dir string)
		want    []string // substrings of the one-line error
	}{
		{"no config", func(t *testing.T, dir string) { os.Remove(filepath.Join(dir, "config.json")) },
			[]string{"no config.json"}},
		{"missing shard", func(t *testing.T, dir string) { os.Remove(filepath.Join(dir, "model-00002-of-00003.safetensors")) },
			[]string{"model-00002-of-00003.safetensors", "missing"}},
		{"truncated shard", func(t *testing.T, dir string) {
			p := filepath.Join(dir, "model-00003-of-00003.safetensors")
			st, _ := os.Stat(p)
			os.Truncate(p, st.Size()-1000)
		}, []string{"model-00003-of-00003.safetensors", "language_model.lm_head.weight"}},
		{"header offsets leave the file", func(t *testing.T, dir string) {
			p := filepath.Join(dir, "model-00002-of-00003.safetensors")
			data, _ := os.ReadFile(p)
			data = bytes.Replace(data, []byte(`"data_offsets":[0,`), []byte(`"data_offsets":[9,`), 1)
			os.WriteFile(p, data, 0o644)
		}, []string{"model-00002-of-00003.safetensors"}},
		{"missing tensor", func(t *testing.T, dir string) {
			rewriteTensor(t, dir, upProj, func(*safetensors.Spec, []byte) ([]byte, bool) { return nil, false })
		}, []string{upProj, "missing"}},
		{"unknown dtype", func(t *testing.T, dir string) {
			rewriteTensor(t, dir, upProj, func(s *safetensors.Spec, d []byte) ([]byte, bool) {
				s.DType, s.Shape = "I16", []int64{128, 64}
				return d, true
			})
		}, []string{upProj, "I16"}},
		{"shape disagrees with config", func(t *testing.T, dir string) {
			rewriteTensor(t, dir, upProj, func(s *safetensors.Spec, d []byte) ([]byte, bool) {
				s.Shape = []int64{64, 128}
				return d, true
			})
		}, []string{upProj, "shape [64 128]", "config.json implies [128 64]"}},
		{"NaN weight", func(t *testing.T, dir string) {
			rewriteTensor(t, dir, upProj, func(s *safetensors.Spec, d []byte) ([]byte, bool) {
				d[2*300], d[2*300+1] = 0xc0, 0x7f // bf16 NaN at element 300
				return d, true
			})
		}, []string{upProj, "NaN at row 4, column 44"}},
		{"unsupported architecture", func(t *testing.T, dir string) {
			p := filepath.Join(dir, "config.json")
			data, _ := os.ReadFile(p)
			os.WriteFile(p, bytes.Replace(data, []byte(`"model_type": "maira2"`), []byte(`"model_type": "mistral"`), 1), 0o644)
		}, []string{"config.json", `model_type "mistral"`}},
		{"vocabulary larger than the model", func(t *testing.T, dir string) {
			p := filepath.Join(dir, "config.json")
			data, _ := os.ReadFile(p)
			os.WriteFile(p, bytes.Replace(data, []byte(`"vocab_size": 32207`), []byte(`"vocab_size": 32205`), 1), 0o644)
		}, []string{"32207 tokens", "32205"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := tiny(t)
			tt.corrupt(t, dir)
			outDir := t.TempDir()
			code, _, stderr := mairaCLI("quant", dir, "-o", filepath.Join(outDir, "m.gguf"))
			if code != 1 {
				t.Errorf("exit %d, want 1", code)
			}
			// Progress lines may come first; the error is the last line.
			lines := strings.Split(strings.TrimSuffix(stderr, "\n"), "\n")
			if last := lines[len(lines)-1]; !strings.HasPrefix(last, "maira quant: ") || !strings.HasSuffix(stderr, "\n") {
				t.Errorf("want the error on one last line, got %q", stderr)
			}
			for _, w := range tt.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("error %q lacks %q", stderr, w)
				}
			}
			if ents, _ := os.ReadDir(outDir); len(ents) != 0 {
				t.Errorf("left behind: %v", ents)
			}
		})
	}
}

func TestUsageErrors(t *testing.T) {
	tests := [][]string{
		{"quant"},
		{"quant", "a", "b", "-o", "x"},
		{"quant", "dir"},
		{"quant", "dir", "-o", "x", "--type", "q5_k"},
		{"quant", "dir", "-o", "x", "--bogus"},
		{"export", "in.gguf", "-o", "x"},
		{"testmodel", "--preset", "huge", "-o", "x"},
		{"testmodel", "--dtype", "f16", "-o", "x"},
		{"nosuch"},
	}
	for _, args := range tests {
		code, _, stderr := mairaCLI(args...)
		if code != 2 || strings.Count(stderr, "\n") != 1 {
			t.Errorf("%v: exit %d, stderr %q", args, code, stderr)
		}
	}
	if code, stdout, _ := mairaCLI("quant", "-h"); code != 0 || !strings.Contains(stdout, "Default recipe: mixed") {
		t.Errorf("quant -h: %d %q", code, stdout)
	}
}

// fullDiskChild runs a conversion with the file size limit lowered, so the
// output's writes fail part-way as on a full disk (Go ignores SIGXFSZ, so
// the write returns EFBIG).
func fullDiskChild() {
	lim := &unix.Rlimit{Cur: 1 << 20, Max: 1 << 20}
	if err := unix.Setrlimit(unix.RLIMIT_FSIZE, lim); err != nil {
		fmt.Fprintln(os.Stderr, "setrlimit:", err)
		os.Exit(3)
	}
	os.Exit(run(strings.Split(os.Getenv("MAIRA_TEST_FSIZE"), "\x1f"), os.Stdout, os.Stderr))
}

func TestFullDisk(t *testing.T) {
	dir := tiny(t)
	outDir := t.TempDir()
	out := filepath.Join(outDir, "m.gguf")
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "MAIRA_TEST_FSIZE="+strings.Join([]string{"quant", dir, "-o", out, "--type", "f32"}, "\x1f"))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	if errors.Is(err, syscall.ENOEXEC) {
		t.Skipf("cannot re-run the test binary here (%v): user-mode emulation without binfmt", err)
	}
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
		t.Fatalf("child: %v, stderr %q", err, stderr.String())
	}
	lines := strings.Split(strings.TrimSuffix(stderr.String(), "\n"), "\n")
	msg := lines[len(lines)-1]
	if !strings.HasPrefix(msg, "maira quant: ") || !strings.Contains(msg, out) || !strings.Contains(msg, "file too large") {
		t.Errorf("error %q: want one line naming %s", msg, out)
	}
	if ents, _ := os.ReadDir(outDir); len(ents) != 0 {
		t.Errorf("left behind: %v", ents)
	}
}
