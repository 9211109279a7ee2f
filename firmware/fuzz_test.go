package firmware

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzVerifyBundle runs the bundle reader (magic, signature, manifest,
// bounded zstd streams, hashes) on arbitrary bytes, seeded with a real
// bundle: an error or a verified manifest, never a panic. Every accepted
// input must carry the trusted signature, so mutations should all fail.
func FuzzVerifyBundle(f *testing.F) {
	seed, err := os.ReadFile(pack(f, small("1.0.0")))
	if err == nil {
		f.Add(seed)
	}
	f.Add([]byte("MAIRAFW1"))
	_, tk := testKey(1)
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		p := filepath.Join(dir, "b.mfw")
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		m, err := VerifyBundle(p, []TrustedKey{tk})
		if err == nil && (m == nil || len(m.Files) == 0) {
			t.Fatal("a verified bundle without files")
		}
	})
}
