package firmware

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
)

func TestPackVerify(t *testing.T) {
	_, tk := testKey(1)
	f := small("1.2.0")
	f.model = make([]byte, 3<<20) // several zstd blocks
	rand.Read(f.model[:1<<20])
	p := pack(t, f)
	m, err := VerifyBundle(p, []TrustedKey{tk})
	if err != nil {
		t.Fatal(err)
	}
	if m.Version != "1.2.0" || len(m.Files) != 3 || m.KeyID != tk.ID || m.TotalSize() != int64(len(f.model))+int64(len(f.config))+8 {
		t.Errorf("manifest %+v", m)
	}
	roles := map[Role]string{}
	for _, fe := range m.Files {
		roles[fe.Role] = fe.Path
	}
	if roles[RoleModel] != "model/maira.gguf" || roles[RoleConfig] != "config/maira-watch.toml" || roles[RolePlugin] != "plugins/hl7.wasm" {
		t.Errorf("paths %v", roles)
	}
}

// Every byte of a bundle is covered by the signature: flipping any one,
// in the header, the manifest, the signature or a compressed stream, must
// be refused. The bundle is small so that every position is tried.
func TestFlipAnyByte(t *testing.T) {
	_, tk := testKey(1)
	good, err := os.ReadFile(pack(t, small("1.0.0")))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("bundle of %d bytes", len(good))
	p := filepath.Join(t.TempDir(), "flipped.mfw")
	for i := range good {
		for _, x := range []byte{0x01, 0x80} {
			bad := bytes.Clone(good)
			bad[i] ^= x
			os.WriteFile(p, bad, 0o644)
			if _, err := VerifyBundle(p, []TrustedKey{tk}); err == nil {
				t.Fatalf("byte %d ^ %#x: accepted", i, x)
			} else if !strings.HasPrefix(err.Error(), p+": ") {
				t.Fatalf("byte %d: error does not name the bundle: %v", i, err)
			}
		}
	}
}

func TestTruncated(t *testing.T) {
	_, tk := testKey(1)
	good, _ := os.ReadFile(pack(t, small("1.0.0")))
	p := filepath.Join(t.TempDir(), "cut.mfw")
	for n := 0; n < len(good); n++ {
		os.WriteFile(p, good[:n], 0o644)
		if _, err := VerifyBundle(p, []TrustedKey{tk}); err == nil {
			t.Fatalf("cut to %d of %d bytes: accepted", n, len(good))
		}
	}
	os.WriteFile(p, append(bytes.Clone(good), 0), 0o644)
	if _, err := VerifyBundle(p, []TrustedKey{tk}); err == nil || !strings.Contains(err.Error(), "after the last file") {
		t.Errorf("extended: %v", err)
	}
}

func TestWrongKey(t *testing.T) {
	_, other := testKey(2)
	_, tk := testKey(1)
	p := pack(t, small("1.0.0"))
	if _, err := VerifyBundle(p, []TrustedKey{other}); !errors.Is(err, ErrUntrusted) {
		t.Errorf("wrong key: %v", err)
	}
	if _, err := VerifyBundle(p, nil); !errors.Is(err, ErrUntrusted) {
		t.Errorf("no keys: %v", err)
	}
	if _, err := VerifyBundle(p, []TrustedKey{other, tk}); err != nil {
		t.Errorf("one of two keys: %v", err)
	}
	// A bundle signed by key 2 that claims key 1 in its manifest.
	priv2, _ := testKey(2)
	data := []byte("x")
	m := baseManifest(data)
	b := writeBundle(t, assemble(t, priv2, m, [][]byte{compress(t, data)}))
	if _, err := VerifyBundle(b, []TrustedKey{other}); err == nil || !strings.Contains(err.Error(), "key_id") {
		t.Errorf("key_id mismatch: %v", err)
	}
}

// Manifests a trusted packer might sign by mistake (or a stolen key by
// design): each is refused with its reason before anything is written.
func TestBadManifest(t *testing.T) {
	priv, tk := testKey(1)
	data := []byte("model bytes")
	stream := compress(t, data)
	cases := []struct {
		name   string
		edit   func(*Manifest)
		reason string
	}{
		{"dotdot", func(m *Manifest) { m.Files[0].Path = "../../etc/passwd" }, `".."`},
		{"dotdot inside", func(m *Manifest) { m.Files[0].Path = "model/../../x" }, `".."`},
		{"absolute", func(m *Manifest) { m.Files[0].Path = "/etc/passwd" }, "absolute"},
		{"dot", func(m *Manifest) { m.Files[0].Path = "model/./m.gguf" }, "clean"},
		{"hidden", func(m *Manifest) { m.Files[0].Path = ".COMPLETE" }, "hidden"},
		{"backslash", func(m *Manifest) { m.Files[0].Path = `..\x` }, "backslash"},
		{"empty path", func(m *Manifest) { m.Files[0].Path = "" }, "empty"},
		{"role", func(m *Manifest) { m.Files[0].Role = "kernel" }, "unknown role"},
		{"oversized", func(m *Manifest) { m.Files[0].Size = MaxFileSize + 1 }, "outside the limit"},
		{"negative", func(m *Manifest) { m.Files[0].Size = -1 }, "size -1"},
		{"window", func(m *Manifest) { m.ZstdWindow = 1 << 30 }, "zstd_window"},
		{"format", func(m *Manifest) { m.Format = 2 }, "format 2"},
		{"version", func(m *Manifest) { m.Version = "latest" }, "version"},
		{"schema", func(m *Manifest) { m.StoreSchema = 0 }, "store_schema"},
		{"hash", func(m *Manifest) { m.Files[0].SHA256 = "abc" }, "SHA-256"},
		{"no files", func(m *Manifest) { m.Files = nil }, "0 files"},
		{"total", func(m *Manifest) {
			for i := range 3 {
				m.Files = append(m.Files, FileEntry{Path: fmt.Sprintf("plugins/%d.wasm", i), Role: RolePlugin, Size: 30 << 30, SHA256: m.Files[0].SHA256})
			}
		}, "in all, over the limit"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := baseManifest(data)
			c.edit(&m)
			var streams [][]byte
			for range m.Files {
				streams = append(streams, stream)
			}
			p := writeBundle(t, assemble(t, priv, m, streams))
			_, err := VerifyBundle(p, []TrustedKey{tk})
			if err == nil || !strings.Contains(err.Error(), c.reason) {
				t.Errorf("got %v, want a refusal mentioning %s", err, c.reason)
			}
			t.Log(err)
		})
	}
	t.Run("two models", func(t *testing.T) {
		m := baseManifest(data)
		m.Files = append(m.Files, m.Files[0])
		m.Files[1].Path = "model/n.gguf"
		_, err := VerifyBundle(writeBundle(t, assemble(t, priv, m, [][]byte{stream, stream})), []TrustedKey{tk})
		if err == nil || !strings.Contains(err.Error(), "more than one model") {
			t.Error(err)
		}
	})
	t.Run("unknown field", func(t *testing.T) {
		raw := []byte(`{"format":1,"version":"1.0.0","created":"2026-11-27T00:00:00Z","store_schema":1,"key_id":"` + tk.ID +
			`","zstd_window":8388608,"files":[],"run_as_root":true}`)
		_, err := VerifyBundle(writeBundle(t, assembleRaw(priv, raw, nil)), []TrustedKey{tk})
		if err == nil || !strings.Contains(err.Error(), "unknown field") {
			t.Error(err)
		}
	})
}

// Streams that do not match what the signed manifest declares.
func TestBadStream(t *testing.T) {
	priv, tk := testKey(1)
	big := make([]byte, 10<<20) // 10 MB of zeros: a few hundred bytes compressed
	rand.Read(big[:1000])
	random := make([]byte, 200<<10)
	rand.Read(random)
	cases := []struct {
		name   string
		data   []byte // what the manifest declares
		stream []byte
		reason string
	}{
		// The manifest says 1000 bytes; the stream inflates to 10 MB.
		{"bomb", big[:1000], compress(t, big), "decompression bomb"},
		{"short", big[:2000], compress(t, big[:1000]), "ends after 1000 of 2000 bytes"},
		{"other content", []byte("aaaa"), compress(t, []byte("bbbb")), "content does not match"},
		{"not zstd", []byte("aaaa"), []byte("aaaa"), "damaged or altered"},
		// A frame asking for a 1 MiB window where the manifest allows 1 KiB.
		{"window", random, compress(t, random, zstd.WithWindowSize(1<<20)), "window"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := baseManifest(c.data)
			if c.name == "window" {
				m.ZstdWindow = MinWindow
			}
			p := writeBundle(t, assemble(t, priv, m, [][]byte{c.stream}))
			_, err := VerifyBundle(p, []TrustedKey{tk})
			if err == nil || !strings.Contains(err.Error(), c.reason) {
				t.Errorf("got %v, want a refusal mentioning %q", err, c.reason)
			}
			t.Log(err)
		})
	}
}

func TestKeyFiles(t *testing.T) {
	dir := t.TempDir()
	id, err := GenerateKeyPair(dir, "k")
	if err != nil {
		t.Fatal(err)
	}
	priv, err := ReadPrivateKey(filepath.Join(dir, "k"))
	if err != nil {
		t.Fatal(err)
	}
	pub, err := ReadPublicKey(filepath.Join(dir, "k.pub"))
	if err != nil {
		t.Fatal(err)
	}
	if KeyID(pub) != id || !pub.Equal(priv.Public()) {
		t.Error("key pair does not match")
	}
	if st, _ := os.Stat(filepath.Join(dir, "k")); st.Mode().Perm() != 0o600 {
		t.Errorf("signing key mode %v", st.Mode())
	}
	if _, err := GenerateKeyPair(dir, "k"); err == nil {
		t.Error("replaced an existing key")
	}
	if _, err := ReadPublicKey(filepath.Join(dir, "k")); err == nil {
		t.Error("read a signing key as a public key")
	}
	root := t.TempDir()
	if got, err := Trust(root, filepath.Join(dir, "k.pub")); err != nil || got != id {
		t.Fatal(got, err)
	}
	keys, err := TrustedKeys(root)
	if err != nil || len(keys) != 1 || keys[0].ID != id {
		t.Errorf("%v %v", keys, err)
	}
}

func TestVersions(t *testing.T) {
	cases := []struct {
		a, b string
		want int
	}{
		{"1.10.0", "1.9.0", 1},
		{"1.2", "1.2.0", 0},
		{"v2.0.0", "1.99.99", 1},
		{"1.2.0-rc1", "1.2.0", -1},
		{"1.2.0-rc.2", "1.2.0-rc.10", -1},
		{"1.2.0-2", "1.2.0-rc", -1},
		{"1.2.0+build5", "1.2.0", 0},
		{"1.0.0.1", "1.0.0", 1},
	}
	for _, c := range cases {
		got, err := CompareVersions(c.a, c.b)
		if err != nil || got != c.want {
			t.Errorf("%s vs %s: %d %v, want %d", c.a, c.b, got, err, c.want)
		}
	}
	for _, bad := range []string{"", "1..2", "x", "1.2.3.4.5", "1.2-", "-1.0", "1.2.3-a_b"} {
		if _, err := parseVersion(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
