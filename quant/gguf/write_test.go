package gguf

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"maira/quant/dtype"
)

// TestWriterRefuses checks every refused declaration: each names the
// destination (and key or tensor), and none of them spoils the Writer, which
// still produces the file declared by the accepted calls.
func TestWriterRefuses(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "out.gguf")
	w, err := Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Abort()
	if err := w.AddKV("k", uint8(1)); err != nil {
		t.Fatal(err)
	}
	if err := w.AddTensor("t", dtype.F32, []uint64{4}); err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("x", 64)
	for _, tc := range []struct {
		name string
		call func() error
		want string
	}{
		{"empty key", func() error { return w.AddKV("", uint8(1)) }, "empty key"},
		{"duplicate key", func() error { return w.AddKV("k", uint8(2)) }, "key k: duplicate key"},
		{"Go int", func() error { return w.AddKV("n", 5) }, "key n: values of Go type int have no GGUF type"},
		{"struct", func() error { return w.AddKV("n", struct{}{}) }, "key n: values of Go type struct {} have no GGUF type"},
		{"dtype.Type", func() error { return w.AddKV("n", dtype.F32) }, "key n: values of Go type dtype.Type have no GGUF type"},
		{"nil", func() error { return w.AddKV("n", nil) }, "key n: values of Go type <nil> have no GGUF type"},
		{"nested", func() error { return w.AddKV("n", []any{[]uint8{1}}) }, "key n: nested arrays ([]any) are not written"},
		{"alignment type", func() error { return w.AddKV(alignmentKey, uint64(64)) }, "key general.alignment: want uint32, got uint64"},
		{"alignment 48 by key", func() error { return w.AddKV(alignmentKey, uint32(48)) }, "alignment 48 is not a power of two"},
		{"alignment 0", func() error { return w.SetAlignment(0) }, "alignment 0 is not a power of two"},
		{"alignment 48", func() error { return w.SetAlignment(48) }, "alignment 48 is not a power of two"},
		{"alignment 2^31", func() error { return w.SetAlignment(1 << 31) }, "alignment 2147483648 is not a power of two from 1 to 1073741824"},
		{"empty name", func() error { return w.AddTensor("", dtype.F32, []uint64{1}) }, "empty tensor name"},
		{"long name", func() error { return w.AddTensor(long, dtype.F32, []uint64{1}) }, "tensor " + long + ": name of 64 bytes is longer than llama.cpp's limit of 63"},
		{"duplicate tensor", func() error { return w.AddTensor("t", dtype.F32, []uint64{1}) }, "tensor t: duplicate tensor name"},
		{"unknown type", func() error { return w.AddTensor("u", dtype.Type(3), []uint64{32}) }, "tensor u: unknown tensor type 3"},
		{"no dims", func() error { return w.AddTensor("u", dtype.F32, nil) }, "tensor u: 0 dimensions (want 1 to 4)"},
		{"5 dims", func() error { return w.AddTensor("u", dtype.F32, []uint64{1, 1, 1, 1, 1}) }, "tensor u: 5 dimensions (want 1 to 4)"},
		{"zero dim", func() error { return w.AddTensor("u", dtype.F32, []uint64{4, 0}) }, "tensor u: dimension 1 is zero"},
		{"partial block", func() error { return w.AddTensor("u", dtype.Q4_0, []uint64{33}) }, "tensor u: row length 33 is not a multiple of the q4_0 block size 32"},
		{"overflow", func() error { return w.AddTensor("u", dtype.F32, []uint64{1 << 40, 1 << 40}) }, "tensor u: dims [1099511627776 1099511627776] overflow"},
		{"bytes overflow", func() error { return w.AddTensor("u", dtype.F32, []uint64{1 << 62}) }, "tensor u: dims [4611686018427387904] of f32 overflow: more than 2^63 bytes"},
	} {
		err := tc.call()
		want := path + ": " + tc.want
		if err == nil || !strings.HasPrefix(err.Error(), want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: error %v, want one line starting %q", tc.name, err, want)
		}
	}
	if _, err := w.Write(make([]byte, 16)); err != nil {
		t.Fatal(err)
	}
	for what, err := range map[string]error{
		"AddKV":        w.AddKV("late", uint8(1)),
		"AddTensor":    w.AddTensor("late", dtype.F32, []uint64{1}),
		"SetAlignment": w.SetAlignment(64),
		"Start":        w.Start(),
	} {
		if want := path + ": " + what + " after the header was written"; err == nil || err.Error() != want {
			t.Errorf("%s after Start: %v, want %q", what, err, want)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if !reflect.DeepEqual(f.KVs, []KV{{"k", uint8(1)}}) || len(f.Tensors) != 1 || f.Alignment != DefaultAlignment {
		t.Errorf("file holds %v, %d tensors, alignment %d", f.KVs, len(f.Tensors), f.Alignment)
	}
	if err := w.Close(); err == nil {
		t.Error("a second Close succeeded")
	}
	w.Abort() // after a successful Close: must keep the file
	if _, err := os.Stat(path); err != nil {
		t.Errorf("Abort after Close removed the file: %v", err)
	}
	st, _ := os.Stat(path)
	if st.Mode().Perm() != 0o644 {
		t.Errorf("file mode %v, want 0644", st.Mode().Perm())
	}
}

// newTwoTensors starts a Writer at dir/out.gguf declaring tensors a (8 f32,
// 32 bytes) and b (16 f32, 64 bytes).
func newTwoTensors(t *testing.T, dir string) (*Writer, string) {
	t.Helper()
	path := filepath.Join(dir, "out.gguf")
	w, err := Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.AddTensor("a", dtype.F32, []uint64{8}); err != nil {
		t.Fatal(err)
	}
	if err := w.AddTensor("b", dtype.F32, []uint64{16}); err != nil {
		t.Fatal(err)
	}
	return w, path
}

func TestWriterShortAndLongWrites(t *testing.T) {
	for _, tc := range []struct {
		name   string
		writes []int
		want   string // the error of the failing call and of Close
	}{
		{"nothing written", nil, "tensor a: only 0 of 32 bytes written (and 1 more tensors not written)"},
		{"first tensor short", []int{31}, "tensor a: only 31 of 32 bytes written (and 1 more tensors not written)"},
		{"second tensor short", []int{32, 63}, "tensor b: only 63 of 64 bytes written"},
		{"second tensor missing", []int{32}, "tensor b: only 0 of 64 bytes written"},
		{"one byte too many", []int{97}, "write of 97 bytes goes past the declared tensor data (96 bytes left)"},
		{"too many at the end", []int{40, 56, 1}, "write of 1 bytes goes past the declared tensor data (0 bytes left)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			w, path := newTwoTensors(t, dir)
			defer w.Abort()
			want := path + ": " + tc.want
			var werr error
			for _, n := range tc.writes {
				if _, werr = w.Write(make([]byte, n)); werr != nil {
					break
				}
			}
			if werr != nil && werr.Error() != want {
				t.Errorf("Write: %v, want %q", werr, want)
			}
			if err := w.Close(); err == nil || err.Error() != want {
				t.Errorf("Close: %v, want %q", err, want)
			}
			if got := listDir(t, dir); len(got) != 0 {
				t.Errorf("left behind: %q", got)
			}
			if _, err := w.Write([]byte{1}); err == nil || err.Error() != want {
				t.Errorf("Write after failure: %v, want %q", err, want)
			}
		})
	}
}

func TestWriterAbort(t *testing.T) {
	for _, tc := range []struct {
		name  string
		steps func(w *Writer)
	}{
		{"before Start", func(w *Writer) {}},
		{"after Start", func(w *Writer) { w.Start() }},
		{"mid-tensor", func(w *Writer) { w.Write(make([]byte, 40)) }},
		{"all written", func(w *Writer) { w.Write(make([]byte, 96)) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			w, path := newTwoTensors(t, dir)
			tc.steps(w)
			if got := listDir(t, dir); len(got) != 1 || !strings.HasPrefix(got[0], ".out.gguf.") || !strings.HasSuffix(got[0], ".tmp") {
				t.Errorf("while writing the directory holds %q, want one .out.gguf.*.tmp", got)
			}
			w.Abort()
			w.Abort()
			if got := listDir(t, dir); len(got) != 0 {
				t.Errorf("left behind: %q", got)
			}
			if err := w.Close(); err == nil || err.Error() != path+": aborted" {
				t.Errorf("Close after Abort: %v", err)
			}
			if _, err := w.Write(nil); err == nil {
				t.Error("Write after Abort succeeded")
			}
		})
	}
}

func TestWriterReplacesAndSizes(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "out.gguf")
	if err := os.WriteFile(path, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	w, err := Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Abort()
	w.AddKV("general.name", "x")
	if err := w.SetAlignment(128); err != nil {
		t.Fatal(err)
	}
	w.AddTensor("a", dtype.Q8_0, []uint64{64, 3}) // 3 rows of 2 blocks of 34 bytes
	h, err := w.HeaderSize()
	if err != nil {
		t.Fatal(err)
	}
	total, err := w.TotalSize()
	if err != nil {
		t.Fatal(err)
	}
	// 24 header + 33 general.name + 33 general.alignment + 41 tensor info
	// = 131 bytes, padded to 256; 3 rows of 68 bytes = 204, padded to 256.
	if h != 256 || total != 256+256 {
		t.Errorf("HeaderSize %d, TotalSize %d; want 256, 512", h, total)
	}
	if _, err := w.Write(make([]byte, 204)); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(path); err != nil || st.Size() != total {
		t.Errorf("stat: %v, %v", st, err)
	}
	if got := listDir(t, dir); !reflect.DeepEqual(got, []string{"out.gguf"}) {
		t.Errorf("directory holds %q", got)
	}
}

func TestCreateErrors(t *testing.T) {
	path := filepath.Join(t.TempDir(), "missing", "out.gguf")
	_, err := Create(path)
	if err == nil || !strings.HasPrefix(err.Error(), path+": creating temporary file: ") || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Create in a missing directory: %v", err)
	}
}

// fsizeChildEnv switches the test binary, run again by TestFullDisk, into
// the child that writes under a lowered RLIMIT_FSIZE.
const fsizeChildEnv = "MAIRA_GGUF_FSIZE_CHILD_DIR"

// TestFullDisk writes a file larger than the process may (RLIMIT_FSIZE), so
// that write(2) fails with EFBIG part-way as it fails with ENOSPC on a full
// disk. The limit is set in a child process (the test binary run again) so
// the rest of the tests keep theirs. Go ignores SIGXFSZ unless asked for it
// (runtime/sigtab_linux_generic.go lists it as notify-only), so the write
// returns an error instead of killing the process; the child checks that.
func TestFullDisk(t *testing.T) {
	if dir := os.Getenv(fsizeChildEnv); dir != "" {
		fullDiskChild(t, dir)
		return
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestFullDisk$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), fsizeChildEnv+"="+dir)
	out, err := cmd.CombinedOutput()
	if errors.Is(err, syscall.ENOEXEC) {
		t.Skipf("cannot re-run the test binary here (%v): user-mode emulation without binfmt", err)
	}
	if err != nil {
		t.Fatalf("child failed (%v):\n%s", err, out)
	}
	dest := filepath.Join(dir, "big.gguf")
	wantErr := "ERROR " + dest + ": writing tensor "
	if !strings.Contains(string(out), wantErr) || !strings.Contains(string(out), "file too large") {
		t.Errorf("child output lacks %q ... file too large:\n%s", wantErr, out)
	}
	if !strings.Contains(string(out), "EFBIG true") {
		t.Errorf("the error does not wrap EFBIG:\n%s", out)
	}
	if got := listDir(t, dir); len(got) != 0 {
		t.Errorf("left behind after a failed write: %q", got)
	}
}

func fullDiskChild(t *testing.T, dir string) {
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_FSIZE, &lim); err != nil {
		t.Fatal(err)
	}
	lim.Cur = 1 << 20
	if err := unix.Setrlimit(unix.RLIMIT_FSIZE, &lim); err != nil {
		t.Fatal(err)
	}
	w, err := Create(filepath.Join(dir, "big.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	defer w.Abort()
	for i := range 3 {
		if err := w.AddTensor(fmt.Sprintf("t%d", i), dtype.F32, []uint64{512, 1024}); err != nil { // 2 MiB each
			t.Fatal(err)
		}
	}
	chunk := make([]byte, 64<<10)
	for {
		if _, err = w.Write(chunk); err != nil {
			break
		}
	}
	if err == nil {
		err = w.Close()
	}
	if err == nil {
		t.Fatal("6 MiB written under a 1 MiB RLIMIT_FSIZE without an error")
	}
	fmt.Printf("ERROR %v\n", err)
	fmt.Printf("EFBIG %v\n", errors.Is(err, syscall.EFBIG))
	if cerr := w.Close(); cerr == nil || cerr.Error() != err.Error() {
		t.Errorf("Close after the failure: %v, want %v", cerr, err)
	}
}
