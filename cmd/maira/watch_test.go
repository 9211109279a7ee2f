package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestWatchFirmwareRoot: maira watch --root runs the active slot's model
// and config (here: a firmware bundle carrying the tiny model and a config
// that turns the SR off).
func TestWatchFirmwareRoot(t *testing.T) {
	model, _, _ := testFiles(t)
	dir := t.TempDir()
	root, keys, in, out := filepath.Join(dir, "root"), filepath.Join(dir, "keys"), filepath.Join(dir, "in"), filepath.Join(dir, "out")
	os.MkdirAll(in, 0o755)
	cfg := filepath.Join(dir, "site.toml")
	os.WriteFile(cfg, []byte("settle = \"100ms\"\nstudy_quiet = \"100ms\"\n[outputs]\nsr = false\n[generation]\nmax_tokens = 4\n"), 0o644)
	for _, args := range [][]string{
		{"firmware", "keygen", "-o", keys},
		{"firmware", "trust", filepath.Join(keys, "maira-firmware.pub"), "--root", root},
		{"firmware", "pack", "--key", filepath.Join(keys, "maira-firmware"), "--version", "2.0.0", "--model", model, "--config", cfg, "-o", filepath.Join(dir, "b.mfw")},
		{"firmware", "apply", filepath.Join(dir, "b.mfw"), "--root", root},
		{"testmodel", "--studies", in, "--count", "1", "--size", "64x56"},
	} {
		if code, stdout, stderr := mairaCLI(args...); code != 0 {
			t.Fatalf("%v: %d %s%s", args, code, stdout, stderr)
		}
	}
	code, stdout, stderr := mairaCLI("watch", "--root", root, "--in", in, "--out", out, "--once", "--no-tui")
	if code != 0 {
		t.Fatalf("watch --root: %d %s%s", code, stdout, stderr)
	}
	reps, _ := filepath.Glob(filepath.Join(out, "reports", "*", "*", "report.json"))
	if len(reps) != 1 {
		t.Fatalf("%d reports\n%s", len(reps), stdout)
	}
	// The slot's config: no SR, 4 tokens.
	if _, err := os.Stat(filepath.Join(filepath.Dir(reps[0]), "report.dcm")); err == nil {
		t.Error("report.dcm written although the slot's config turns it off")
	}
	b, _ := os.ReadFile(reps[0])
	if !strings.Contains(string(b), `"generated_tokens": 4`) {
		t.Errorf("not the slot's generation settings: %s", b)
	}
	if code, _, stderr := mairaCLI("watch", "--root", filepath.Join(dir, "none"), "--in", in, "--out", out, "--once", "--no-tui"); code == 0 || !strings.Contains(stderr, "none") {
		t.Errorf("an empty root: %d %s", code, stderr)
	}
}
