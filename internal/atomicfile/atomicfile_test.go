package atomicfile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

func entries(t *testing.T, dir string) []string {
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

func TestCommit(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "a.txt")
	f, err := Create(path)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte("hello"))
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Error("the file appeared before Commit")
	}
	if n := entries(t, dir); len(n) != 1 || n[0][0] != '.' || filepath.Ext(n[0]) != ".tmp" {
		t.Errorf("temporary file: %v", n)
	}
	if err := f.Commit(); err != nil {
		t.Fatal(err)
	}
	f.Abort() // no-op after Commit
	data, err := os.ReadFile(path)
	if err != nil || string(data) != "hello" {
		t.Fatalf("%q %v", data, err)
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o644 {
		t.Errorf("mode %v", st.Mode())
	}
	if err := f.Commit(); err == nil {
		t.Error("second Commit succeeded")
	}
}

func TestAbortLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	f, err := Create(filepath.Join(dir, "b"))
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte("x"))
	f.Abort()
	if n := entries(t, dir); len(n) != 0 {
		t.Errorf("left %v", n)
	}
}

func TestErrorsNameTheDestination(t *testing.T) {
	_, err := Create("/nonexistent-folder/c")
	if err == nil || err.Error() != "/nonexistent-folder/c: creating temporary file: no such file or directory" || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("%v", err)
	}
	// A rename onto a folder fails; nothing is left.
	dir := t.TempDir()
	os.Mkdir(filepath.Join(dir, "d"), 0o755)
	os.WriteFile(filepath.Join(dir, "d", "x"), nil, 0o644)
	if err := WriteFile(filepath.Join(dir, "d"), []byte("y")); err == nil {
		t.Error("renamed over a non-empty folder")
	}
	if n := entries(t, dir); len(n) != 1 {
		t.Errorf("left %v", n)
	}
}
