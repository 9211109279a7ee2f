package filehash

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestCache(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "m.gguf")
	os.WriteFile(path, []byte("abc"), 0o644)
	c := &Cache{Path: filepath.Join(dir, "cache", "sha256.json")}
	const abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
	if s, err := c.Sum(path); err != nil || s != abc {
		t.Fatalf("%s %v", s, err)
	}
	if _, err := os.Stat(c.Path); err != nil {
		t.Fatalf("no cache file: %v", err)
	}
	// A cached digest is used while size and mtime hold: prove it by
	// changing the content behind the cache's back.
	st, _ := os.Stat(path)
	os.WriteFile(path, []byte("xyz"), 0o644)
	os.Chtimes(path, st.ModTime(), st.ModTime())
	if s, _ := c.Sum(path); s != abc {
		t.Errorf("cache not used: %s", s)
	}
	// A new mtime makes it compute again.
	later := st.ModTime().Add(time.Second)
	os.Chtimes(path, later, later)
	if s, _ := c.Sum(path); s == abc {
		t.Error("stale digest returned")
	}
	// A damaged cache file is ignored and rebuilt.
	os.WriteFile(c.Path, []byte("{"), 0o644)
	if _, err := c.Sum(path); err != nil {
		t.Error(err)
	}
	if _, err := (&Cache{}).Sum(filepath.Join(dir, "missing")); err == nil {
		t.Error("no error for a missing file")
	}
}
