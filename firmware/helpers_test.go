package firmware

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
)

// testKey is a fixed key, so tests need no randomness.
func testKey(seed byte) (ed25519.PrivateKey, TrustedKey) {
	priv := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{seed}, ed25519.SeedSize))
	pub := priv.Public().(ed25519.PublicKey)
	return priv, TrustedKey{ID: KeyID(pub), Key: pub}
}

// newRoot makes a root that trusts key seed 1.
func newRoot(t *testing.T) string {
	t.Helper()
	root := filepath.Join(t.TempDir(), "root")
	_, tk := testKey(1)
	writeTrusted(t, root, tk)
	return root
}

func writeTrusted(t *testing.T, root string, tk TrustedKey) {
	t.Helper()
	dir := t.TempDir()
	p := filepath.Join(dir, "k.pub")
	if err := os.WriteFile(p, pemPublic(tk.Key), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := Trust(root, p); err != nil {
		t.Fatal(err)
	}
}

type fixture struct {
	version   string
	schema    int
	schemaMax int
	model     []byte
	config    string
	plugins   map[string][]byte
}

// pack writes a bundle of f signed with key seed 1 and returns its path.
func pack(t testing.TB, f fixture) string {
	t.Helper()
	dir := t.TempDir()
	var files []PackFile
	write := func(name string, data []byte, role Role) {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		files = append(files, PackFile{Src: p, Role: role})
	}
	if f.model != nil {
		write("maira.gguf", f.model, RoleModel)
	}
	if f.config != "" {
		write("maira-watch.toml", []byte(f.config), RoleConfig)
	}
	for name, data := range f.plugins {
		write(name, data, RolePlugin)
	}
	if f.schema == 0 {
		f.schema = 1
	}
	priv, _ := testKey(1)
	out := filepath.Join(dir, "fw-"+f.version+".mfw")
	_, err := Pack(out, priv, PackOptions{Version: f.version, StoreSchema: f.schema, StoreSchemaMax: f.schemaMax,
		Files: files, Created: time.Date(2026, 11, 27, 10, 40, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// small is a bundle of a few hundred bytes, for tests that try every byte.
func small(version string) fixture {
	return fixture{version: version, model: []byte("GGUF model " + version + " weights weights weights"),
		config: "[model]\nname = \"maira\"\n", plugins: map[string][]byte{"hl7.wasm": []byte("\x00asm\x01\x00\x00\x00")}}
}

// assemble builds a bundle by hand from a manifest and raw streams, so tests
// can sign what Pack would never write. Sizes and hashes of the streams are
// filled in where left zero.
func assemble(t *testing.T, priv ed25519.PrivateKey, m Manifest, streams [][]byte) []byte {
	t.Helper()
	for i := range m.Files {
		fe := &m.Files[i]
		if fe.ZstdSize == 0 {
			fe.ZstdSize = int64(len(streams[i]))
		}
		if fe.ZstdSHA256 == "" {
			s := sha256.Sum256(streams[i])
			fe.ZstdSHA256 = hex.EncodeToString(s[:])
		}
	}
	raw, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return assembleRaw(priv, raw, streams)
}

func assembleRaw(priv ed25519.PrivateKey, raw []byte, streams [][]byte) []byte {
	var b bytes.Buffer
	b.WriteString(magic)
	binary.Write(&b, binary.BigEndian, uint32(len(raw)))
	b.Write(raw)
	b.Write(ed25519.Sign(priv, signedMessage(raw)))
	for _, s := range streams {
		b.Write(s)
	}
	return b.Bytes()
}

func compress(t *testing.T, data []byte, opts ...zstd.EOption) []byte {
	t.Helper()
	var b bytes.Buffer
	enc, err := zstd.NewWriter(&b, opts...)
	if err != nil {
		t.Fatal(err)
	}
	enc.Write(data)
	if err := enc.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func sum(data []byte) string {
	s := sha256.Sum256(data)
	return hex.EncodeToString(s[:])
}

// baseManifest is a valid manifest for one model file of data.
func baseManifest(data []byte) Manifest {
	_, tk := testKey(1)
	return Manifest{Format: Format, Version: "1.0.0", Created: time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC),
		StoreSchema: 1, KeyID: tk.ID, ZstdWindow: packWindow,
		Files: []FileEntry{{Path: "model/m.gguf", Role: RoleModel, Size: int64(len(data)), SHA256: sum(data)}}}
}

func writeBundle(t *testing.T, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "b.mfw")
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// tree hashes every file and link under dir, to prove a folder untouched.
func tree(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		switch {
		case info.Mode()&os.ModeSymlink != 0:
			l, _ := os.Readlink(p)
			out[rel] = "-> " + l
		case info.Mode().IsRegular():
			data, _ := os.ReadFile(p)
			out[rel] = sum(data)
		}
		return nil
	})
	return out
}
