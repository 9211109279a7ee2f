package firmware

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"
	"time"
)

// Format is the bundle format this package writes and reads.
const Format = 1

// Limits a bundle must stay within, whatever its manifest says: a signed
// manifest comes from a trusted packer, but a packing mistake must not fill
// the box's disk or memory either.
const (
	MaxManifestSize = 1 << 20  // bytes of manifest JSON
	MaxFiles        = 256      // files in one bundle
	MaxFileSize     = 32 << 30 // bytes of one decompressed file (a model is a few GB)
	MaxTotalSize    = 64 << 30 // bytes of all decompressed files
	MaxWindow       = 64 << 20 // zstd window, the decoder's memory per stream
	MinWindow       = 1 << 10  // zstd's own minimum
	maxPathLen      = 255
)

// Role says what a file is for; Active finds files by role.
type Role string

// The roles a file can have.
const (
	RoleModel  Role = "model"  // the GGUF model (at most one)
	RoleConfig Role = "config" // the watch configuration, TOML (at most one)
	RolePlugin Role = "plugin" // a WebAssembly exporter (any number)
	RoleBinary Role = "binary" // the maira binary (at most one)
)

func (r Role) valid() bool {
	switch r {
	case RoleModel, RoleConfig, RolePlugin, RoleBinary:
		return true
	}
	return false
}

// single reports whether a bundle may carry at most one file of the role.
func (r Role) single() bool { return r != RolePlugin }

// Manifest describes a bundle; its JSON bytes are what is signed.
type Manifest struct {
	Format  int       `json:"format"`
	Version string    `json:"version"`
	Created time.Time `json:"created"`
	// StoreSchema is the study-store schema this firmware writes (it
	// migrates older stores forward to it on start); StoreSchemaMax, if
	// set, the newest schema it can still read, for a later schema change
	// that older code tolerates. A rollback or downgrade to firmware whose
	// ReadsSchema is below the store's schema is refused.
	StoreSchema    int    `json:"store_schema"`
	StoreSchemaMax int    `json:"store_schema_max,omitempty"`
	KeyID          string `json:"key_id"`
	// ZstdWindow is the window the streams were compressed with; the
	// decoder refuses any stream that asks for more.
	ZstdWindow int64       `json:"zstd_window"`
	Files      []FileEntry `json:"files"`
}

// FileEntry is one file of a bundle.
type FileEntry struct {
	Path       string `json:"path"` // slash-separated, relative to the slot's files/ folder
	Role       Role   `json:"role"`
	Size       int64  `json:"size"`
	SHA256     string `json:"sha256"`
	ZstdSize   int64  `json:"zstd_size"`   // bytes of its compressed stream in the bundle
	ZstdSHA256 string `json:"zstd_sha256"` // of the compressed stream, so every bundle byte is signed
}

// ReadsSchema is the newest study-store schema the firmware can read.
func (m *Manifest) ReadsSchema() int {
	return max(m.StoreSchema, m.StoreSchemaMax)
}

// TotalSize is the sum of the decompressed sizes.
func (m *Manifest) TotalSize() int64 {
	var n int64
	for _, f := range m.Files {
		n += f.Size
	}
	return n
}

func (m *Manifest) streamsSize() int64 {
	var n int64
	for _, f := range m.Files {
		n += f.ZstdSize
	}
	return n
}

// parseManifest decodes and validates signed manifest bytes. Unknown fields
// are refused: a field this build does not understand may change what the
// bundle means.
func parseManifest(raw []byte) (*Manifest, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	var m Manifest
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("manifest: %v", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("manifest: data after the JSON object")
	}
	if err := m.validate(); err != nil {
		return nil, err
	}
	return &m, nil
}

func isHex256(s string) bool {
	b, err := hex.DecodeString(s)
	return err == nil && len(b) == 32 && strings.ToLower(s) == s
}

// validPath accepts a relative, slash-separated path with no "..", ".", or
// empty element (fs.ValidPath), no backslash or control character, and no
// hidden element (the slot's own temporary files start with a dot).
func validPath(p string) error {
	if p == "" || len(p) > maxPathLen {
		return errors.New("empty or too long")
	}
	if strings.HasPrefix(p, "/") {
		return errors.New("an absolute path")
	}
	for _, el := range strings.Split(p, "/") {
		if el == ".." {
			return errors.New(`a path with ".."`)
		}
	}
	if !fs.ValidPath(p) || p == "." {
		return errors.New("not a clean relative path")
	}
	for _, r := range p {
		if r < 0x20 || r == 0x7f || r == '\\' || r == ':' {
			return errors.New("a control character, backslash or colon")
		}
	}
	for _, el := range strings.Split(p, "/") {
		if strings.HasPrefix(el, ".") {
			return errors.New("a hidden file or folder")
		}
	}
	return nil
}

func (m *Manifest) validate() error {
	if m.Format != Format {
		return fmt.Errorf("manifest: format %d, this build reads format %d", m.Format, Format)
	}
	if _, err := parseVersion(m.Version); err != nil {
		return fmt.Errorf("manifest: %v", err)
	}
	if m.Created.IsZero() {
		return errors.New("manifest: no created time")
	}
	if m.StoreSchema < 1 || m.StoreSchemaMax < 0 || (m.StoreSchemaMax != 0 && m.StoreSchemaMax < m.StoreSchema) {
		return fmt.Errorf("manifest: store_schema %d, store_schema_max %d (want 1 <= store_schema <= store_schema_max)", m.StoreSchema, m.StoreSchemaMax)
	}
	if len(m.KeyID) != 16 {
		return fmt.Errorf("manifest: key_id %q", m.KeyID)
	}
	if m.ZstdWindow < MinWindow || m.ZstdWindow > MaxWindow {
		return fmt.Errorf("manifest: zstd_window %d outside %d..%d", m.ZstdWindow, MinWindow, MaxWindow)
	}
	if len(m.Files) == 0 || len(m.Files) > MaxFiles {
		return fmt.Errorf("manifest: %d files (want 1..%d)", len(m.Files), MaxFiles)
	}
	seen := map[string]bool{}
	roles := map[Role]int{}
	var total int64
	for _, f := range m.Files {
		if err := validPath(f.Path); err != nil {
			return fmt.Errorf("manifest: file %q: %v", f.Path, err)
		}
		// Case-blind, so the files stay distinct if a slot is ever copied
		// to a file system that folds case.
		key := strings.ToLower(f.Path)
		if seen[key] {
			return fmt.Errorf("manifest: file %q listed twice", f.Path)
		}
		seen[key] = true
		if !f.Role.valid() {
			return fmt.Errorf("manifest: file %q: unknown role %q", f.Path, f.Role)
		}
		if roles[f.Role]++; f.Role.single() && roles[f.Role] > 1 {
			return fmt.Errorf("manifest: more than one %s file", f.Role)
		}
		if f.Size < 0 || f.Size > MaxFileSize {
			return fmt.Errorf("manifest: file %q: size %d outside the limit of 0..%d", f.Path, f.Size, int64(MaxFileSize))
		}
		// zstd cannot grow data by more than a small fraction; a stream
		// far larger than its file is not what pack writes.
		if f.ZstdSize < 1 || f.ZstdSize > f.Size+f.Size/64+(1<<16) {
			return fmt.Errorf("manifest: file %q: compressed size %d for %d bytes", f.Path, f.ZstdSize, f.Size)
		}
		if !isHex256(f.SHA256) || !isHex256(f.ZstdSHA256) {
			return fmt.Errorf("manifest: file %q: SHA-256 is not 64 lower-case hex digits", f.Path)
		}
		total += f.Size
		if total > MaxTotalSize {
			return fmt.Errorf("manifest: %d bytes in all, over the limit of %d", total, int64(MaxTotalSize))
		}
	}
	// "a" and "a/b" cannot both be files.
	for p := range seen {
		for i := strings.IndexByte(p, '/'); i >= 0; i = nextSlash(p, i) {
			if seen[p[:i]] {
				return fmt.Errorf("manifest: %q is both a file and a folder", p[:i])
			}
		}
	}
	return nil
}

func nextSlash(p string, i int) int {
	j := strings.IndexByte(p[i+1:], '/')
	if j < 0 {
		return -1
	}
	return i + 1 + j
}
