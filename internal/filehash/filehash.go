// Package filehash gives a file's SHA-256, computed once and remembered by
// path, size and modification time, so a 4 GB model file is not read again
// at every start to name the model in each report.
package filehash

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"maira/internal/atomicfile"
)

type entry struct {
	Size    int64     `json:"size"`
	ModTime time.Time `json:"mtime"`
	SHA256  string    `json:"sha256"`
}

// Cache remembers digests in a JSON file. The zero Cache (no file) only
// computes.
type Cache struct {
	Path string // the cache file; "" to keep nothing
	mu   sync.Mutex
}

// DefaultCache keeps digests in the user's cache folder
// ($XDG_CACHE_HOME/maira/sha256.json), or nowhere if there is none.
func DefaultCache() *Cache {
	dir, err := os.UserCacheDir()
	if err != nil {
		return &Cache{}
	}
	return &Cache{Path: filepath.Join(dir, "maira", "sha256.json")}
}

// Sum returns the hex SHA-256 of the file at path. A failure to read or
// write the cache is not an error: the digest is then computed afresh.
func (c *Cache) Sum(path string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	st, err := os.Stat(abs)
	if err != nil {
		return "", err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	entries := c.load()
	if e, ok := entries[abs]; ok && e.Size == st.Size() && e.ModTime.Equal(st.ModTime()) {
		return e.SHA256, nil
	}
	sum, err := File(abs)
	if err != nil {
		return "", err
	}
	// The file may have changed while it was read; remember the digest
	// only if it did not.
	if st2, err := os.Stat(abs); err == nil && st2.Size() == st.Size() && st2.ModTime().Equal(st.ModTime()) && c.Path != "" {
		entries[abs] = entry{Size: st.Size(), ModTime: st.ModTime(), SHA256: sum}
		c.save(entries)
	}
	return sum, nil
}

func (c *Cache) load() map[string]entry {
	entries := map[string]entry{}
	if c.Path == "" {
		return entries
	}
	if data, err := os.ReadFile(c.Path); err == nil {
		if json.Unmarshal(data, &entries) != nil {
			return map[string]entry{} // a damaged cache is rebuilt
		}
	}
	return entries
}

func (c *Cache) save(entries map[string]entry) {
	data, err := json.MarshalIndent(entries, "", "  ")
	if err != nil {
		return
	}
	if os.MkdirAll(filepath.Dir(c.Path), 0o755) == nil {
		_ = atomicfile.WriteFile(c.Path, data) // a cache that cannot be written costs only time
	}
}

// File returns the hex SHA-256 of the file at path.
func File(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
