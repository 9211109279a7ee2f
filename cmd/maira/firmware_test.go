package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"maira/watcher"
)

// TestFirmwareCLI runs the firmware commands as an operator does: a key, a
// trusted root, a bundle with a model and a config, apply, status,
// rollback refused across the study store's schema (read from a real
// store), and a tampered bundle refused.
func TestFirmwareCLI(t *testing.T) {
	dir := t.TempDir()
	root, keys, data := filepath.Join(dir, "root"), filepath.Join(dir, "keys"), filepath.Join(dir, "data")
	model := filepath.Join(dir, "m.gguf")
	os.WriteFile(model, []byte("not really a model, but a file to carry"), 0o644)
	cfg := filepath.Join(dir, "watch.toml")
	os.WriteFile(cfg, []byte("settle = \"2s\"\n"), 0o644)
	steps := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"firmware", "keygen", "-o", keys}, 0, ""},
		{[]string{"firmware", "trust", filepath.Join(keys, "maira-firmware.pub"), "--root", root}, 0, ""},
		{[]string{"firmware", "pack", "--key", filepath.Join(keys, "maira-firmware"), "--version", "1.0.0", "--model", model, "--config", cfg, "-o", filepath.Join(dir, "1.mfw")}, 0, ""},
		{[]string{"firmware", "pack", "--key", filepath.Join(keys, "maira-firmware"), "--version", "1.1.0", "--model", model, "--store-schema", "2", "-o", filepath.Join(dir, "2.mfw")}, 0, ""},
		{[]string{"firmware", "verify", filepath.Join(dir, "1.mfw"), "--root", root}, 0, "1.0.0"},
		{[]string{"firmware", "apply", filepath.Join(dir, "1.mfw"), "--root", root, "--data", data}, 0, ""},
		{[]string{"firmware", "apply", filepath.Join(dir, "2.mfw"), "--root", root, "--data", data}, 0, ""},
		{[]string{"firmware", "status", "--root", root}, 0, "1.1.0"},
		{[]string{"firmware", "apply", filepath.Join(dir, "1.mfw"), "--root", root}, 1, "1.0.0"},
	}
	for _, st := range steps {
		code, stdout, stderr := mairaCLI(st.args...)
		if code != st.code || !strings.Contains(stdout+stderr, st.want) {
			t.Fatalf("%v: exit %d (want %d)\n%s%s", st.args, code, st.code, stdout, stderr)
		}
	}
	// The store moves to a schema 1.0.0 cannot read: rollback refused.
	os.MkdirAll(data, 0o755)
	s, err := watcher.OpenStore(data)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if code, _, stderr := mairaCLI("firmware", "rollback", "--root", root, "--data-schema", "2"); code != 1 || !strings.Contains(stderr, "schema") {
		t.Errorf("rollback across a schema change: %d %s", code, stderr)
	}
	// At schema 1 (the real store's), the rollback goes through.
	if code, stdout, stderr := mairaCLI("firmware", "rollback", "--root", root, "--data", data); code != 0 {
		t.Errorf("rollback: %d %s%s", code, stdout, stderr)
	}
	b, _ := os.ReadFile(filepath.Join(dir, "2.mfw"))
	b[len(b)/2] ^= 0x40
	bad := filepath.Join(dir, "bad.mfw")
	os.WriteFile(bad, b, 0o644)
	if code, _, stderr := mairaCLI("firmware", "apply", bad, "--root", root); code != 1 || !strings.Contains(stderr, "bad.mfw") || strings.Count(stderr, "\n") != 1 {
		t.Errorf("tampered bundle: %d %q", code, stderr)
	}
}
