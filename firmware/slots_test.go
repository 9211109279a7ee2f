package firmware

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func mustApply(t *testing.T, root, bundle string, opts ApplyOptions) *Slot {
	t.Helper()
	s, err := Apply(root, bundle, opts)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func mustActive(t *testing.T, root, version string) *Slot {
	t.Helper()
	s, err := Active(root)
	if err != nil {
		t.Fatal(err)
	}
	if s.Version != version {
		t.Fatalf("active %s, want %s", s.Version, version)
	}
	if err := s.Verify(); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestApplyActiveRollback(t *testing.T) {
	root := newRoot(t)
	if _, err := Active(root); !errors.Is(err, ErrNoFirmware) {
		t.Fatalf("empty root: %v", err)
	}
	v1 := mustApply(t, root, pack(t, small("1.0.0")), ApplyOptions{})
	f2 := small("1.1.0")
	f2.plugins["fhir.wasm"] = []byte("\x00asm fhir")
	v2 := mustApply(t, root, pack(t, f2), ApplyOptions{})
	if v1.Name != "a" || v2.Name != "b" {
		t.Errorf("slots %s then %s", v1.Name, v2.Name)
	}
	s := mustActive(t, root, "1.1.0")
	if s.Model != filepath.Join(root, "slots/b/files/model/maira.gguf") ||
		s.Config != filepath.Join(root, "slots/b/files/config/maira-watch.toml") || len(s.Plugins) != 2 || s.Binary != "" {
		t.Errorf("slot %+v", s)
	}
	if data, _ := os.ReadFile(s.Model); string(data) != string(f2.model) {
		t.Errorf("model %q", data)
	}
	if err := Rollback(root, 0); err != nil {
		t.Fatal(err)
	}
	mustActive(t, root, "1.0.0")
	// Rolling back twice returns to the newer firmware.
	if err := Rollback(root, 0); err != nil {
		t.Fatal(err)
	}
	mustActive(t, root, "1.1.0")
	st, err := ReadStatus(root, true)
	if err != nil {
		t.Fatal(err)
	}
	if st.Active != "b" || !st.Slots[0].Complete || !st.Slots[1].Complete || !*st.Slots[0].Verified || st.Slots[1].Version != "1.1.0" {
		t.Errorf("status %+v", st)
	}
	// A damaged rollback slot is found by the hash check and not used.
	os.WriteFile(filepath.Join(root, "slots/a/files/config/maira-watch.toml"), []byte("[model]\nname = \"mairb\"\n"), 0o644)
	if err := Rollback(root, 0); err == nil || !strings.Contains(err.Error(), "damaged on disk") {
		t.Errorf("rollback to a damaged slot: %v", err)
	}
	mustActive(t, root, "1.1.0")
}

func TestDowngrade(t *testing.T) {
	root := newRoot(t)
	old, cur := pack(t, small("1.9.0")), pack(t, small("1.10.0"))
	mustApply(t, root, cur, ApplyOptions{})
	if _, err := Apply(root, old, ApplyOptions{}); !errors.Is(err, ErrDowngrade) || !strings.Contains(err.Error(), "older than the active 1.10.0") {
		t.Errorf("downgrade: %v", err)
	}
	if _, err := Apply(root, cur, ApplyOptions{}); !errors.Is(err, ErrDowngrade) || !strings.Contains(err.Error(), "already active") {
		t.Errorf("same version: %v", err)
	}
	mustActive(t, root, "1.10.0")
	mustApply(t, root, old, ApplyOptions{AllowDowngrade: true})
	mustActive(t, root, "1.9.0")
}

func TestSchema(t *testing.T) {
	root := newRoot(t)
	f1 := small("1.0.0")
	f2 := small("2.0.0")
	f2.schema = 2
	mustApply(t, root, pack(t, f1), ApplyOptions{})
	mustApply(t, root, pack(t, f2), ApplyOptions{DataSchema: 1})
	// The new firmware migrated the store to schema 2: 1.0.0 cannot read it.
	err := Rollback(root, 2)
	var se *SchemaError
	if !errors.Is(err, ErrSchema) || !errors.As(err, &se) ||
		!strings.HasSuffix(err.Error(), "the study store is at schema 2; firmware 1.0.0 reads schema 1 only") {
		t.Fatalf("rollback across a schema change: %v", err)
	}
	mustActive(t, root, "2.0.0")
	// Nor may it come back as a downgrade.
	if _, err := Apply(root, pack(t, f1), ApplyOptions{AllowDowngrade: true, DataSchema: 2}); !errors.Is(err, ErrSchema) {
		t.Errorf("downgrade across a schema change: %v", err)
	}
	// Before the migration (store still at 1) the rollback is fine.
	if err := Rollback(root, 1); err != nil {
		t.Fatal(err)
	}
	mustActive(t, root, "1.0.0")

	// Older firmware that declares it reads schema 2 may be rolled back to.
	root = newRoot(t)
	f1.schemaMax = 2
	mustApply(t, root, pack(t, f1), ApplyOptions{})
	mustApply(t, root, pack(t, f2), ApplyOptions{})
	if err := Rollback(root, 2); err != nil {
		t.Fatal(err)
	}
	mustActive(t, root, "1.0.0")
	f3 := small("3.0.0")
	f3.schema = 3
	if _, err := Apply(root, pack(t, f3), ApplyOptions{DataSchema: 2}); err != nil {
		t.Fatal(err)
	}
	if err := Rollback(root, 3); err == nil || !strings.Contains(err.Error(), "reads schemas up to 2 only") {
		t.Errorf("rollback: %v", err)
	}
}

// Refused bundles write nothing: neither slot, nor the link, changes.
func TestApplyRefusesTampered(t *testing.T) {
	root := newRoot(t)
	mustApply(t, root, pack(t, small("1.0.0")), ApplyOptions{})
	mustApply(t, root, pack(t, small("1.1.0")), ApplyOptions{})
	before := tree(t, root)
	good, _ := os.ReadFile(pack(t, small("2.0.0")))
	priv2, _ := testKey(2)
	bomb := make([]byte, 4<<20)
	m := baseManifest(bomb[:100])
	m.Version = "3.0.0"
	bad := map[string][]byte{
		"truncated": good[:len(good)-1],
		"wrong key": assemble(t, priv2, baseManifest([]byte("x")), [][]byte{compress(t, []byte("x"))}),
		"bomb":      assemble(t, func() []byte { p, _ := testKey(1); return p }(), m, [][]byte{compress(t, bomb)}),
	}
	for i := 0; i < len(good); i += 7 {
		b := []byte(string(good))
		b[i] ^= 0x10
		bad[fmt.Sprintf("byte %d", i)] = b
	}
	for name, data := range bad {
		if _, err := Apply(root, writeBundle(t, data), ApplyOptions{}); err == nil {
			t.Fatalf("%s: applied", name)
		}
	}
	after := tree(t, root)
	if fmt.Sprint(before) != fmt.Sprint(after) {
		t.Errorf("the root changed:\n%v\n%v", before, after)
	}
	mustActive(t, root, "1.1.0")
}

var errPowerCut = errors.New("power cut")

// cutter fails step `at` and every step after it, as a power cut does: once
// it strikes nothing more reaches the disk, clean-up included.
type cutter struct {
	at    int
	steps []string
}

func (c *cutter) fault(step string) error {
	c.steps = append(c.steps, step)
	if c.at > 0 && len(c.steps) >= c.at {
		return errPowerCut
	}
	return nil
}

// twoSlots is a root with 1.0.0 in slot a and 2.0.0 active in slot b, and a
// 3.0.0 bundle (with a nested plugin folder) to install over slot a.
func twoSlots(t *testing.T, b1, b2 string) string {
	root := newRoot(t)
	mustApply(t, root, b1, ApplyOptions{})
	mustApply(t, root, b2, ApplyOptions{})
	return root
}

func TestPowerCutApply(t *testing.T) {
	b1, b2 := pack(t, small("1.0.0")), pack(t, small("2.0.0"))
	f3 := small("3.0.0")
	f3.plugins["extra.wasm"] = []byte("\x00asm extra")
	b3 := pack(t, f3)

	clean := &cutter{}
	mustApply(t, twoSlots(t, b1, b2), b3, ApplyOptions{fault: clean.fault})
	switchAt := -1
	for i, s := range clean.steps {
		if s == "rename active" {
			switchAt = i + 1
		}
	}
	if len(clean.steps) < 20 || switchAt < 0 {
		t.Fatalf("steps: %q", clean.steps)
	}
	t.Logf("%d steps; ROOT/active renamed at step %d", len(clean.steps), switchAt)
	for n := 1; n <= len(clean.steps); n++ {
		root := twoSlots(t, b1, b2)
		c := &cutter{at: n}
		if _, err := Apply(root, b3, ApplyOptions{fault: c.fault}); !errors.Is(err, errPowerCut) {
			t.Fatalf("cut at step %d (%s): %v", n, clean.steps[n-1], err)
		}
		// The box restarts: the active slot must be complete and intact,
		// the old one up to the rename, the new one from it on.
		want := "2.0.0"
		if n > switchAt {
			want = "3.0.0"
		}
		s, err := Active(root)
		if err != nil {
			t.Fatalf("cut at step %d (%s): no active slot: %v", n, clean.steps[n-1], err)
		}
		if s.Version != want || s.Verify() != nil {
			t.Fatalf("cut at step %d (%s): active %s (%v), want %s", n, clean.steps[n-1], s.Version, s.Verify(), want)
		}
		st, err := ReadStatus(root, false)
		if err != nil {
			t.Fatal(err)
		}
		for _, ss := range st.Slots {
			if ss.Active && !ss.Complete {
				t.Fatalf("cut at step %d: status shows an incomplete active slot", n)
			}
		}
		// And the install can simply be run again.
		mustApply(t, root, b3, ApplyOptions{AllowDowngrade: true})
		mustActive(t, root, "3.0.0")
	}
}

func TestPowerCutRollback(t *testing.T) {
	b1, b2 := pack(t, small("1.0.0")), pack(t, small("2.0.0"))
	clean := &cutter{}
	if _, err := rollback(twoSlots(t, b1, b2), 0, ops{fault: clean.fault}); err != nil {
		t.Fatal(err)
	}
	for n := 1; n <= len(clean.steps); n++ {
		root := twoSlots(t, b1, b2)
		c := &cutter{at: n}
		if _, err := rollback(root, 0, ops{root: root, fault: c.fault}); !errors.Is(err, errPowerCut) {
			t.Fatalf("cut at %d: %v", n, err)
		}
		s, err := Active(root)
		if err != nil || (s.Version != "1.0.0" && s.Version != "2.0.0") || s.Verify() != nil {
			t.Fatalf("cut at step %d (%s): %v %v", n, clean.steps[n-1], s, err)
		}
	}
}

// TestKillApply kills a real `apply` process at points spread over its run
// (each step slowed by 2 ms so the kills land between different steps) and
// checks the box still starts on a complete slot each time.
func TestKillApply(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	b1, b2 := pack(t, small("1.0.0")), pack(t, small("2.0.0"))
	b3 := pack(t, small("3.0.0"))
	start := func(root string) *exec.Cmd {
		cmd := exec.Command(os.Args[0], "-test.run=^TestKillHelper$", "-test.count=1")
		cmd.Env = append(os.Environ(), "MAIRA_FW_KILL_ROOT="+root, "MAIRA_FW_KILL_BUNDLE="+b3)
		if err := cmd.Start(); err != nil {
			if errors.Is(err, syscall.ENOEXEC) {
				// The arm64 run under qemu-user: the emulated test binary
				// cannot start itself without binfmt_misc.
				t.Skipf("the test binary cannot start a copy of itself here (%v): the kill test is skipped", err)
			}
			t.Fatal(err)
		}
		return cmd
	}
	t0 := time.Now()
	root := twoSlots(t, b1, b2)
	if out, err := start(root).Process.Wait(); err != nil || !out.Success() {
		t.Fatal(out, err)
	}
	mustActive(t, root, "3.0.0")
	full := time.Since(t0)
	const kills = 12
	seen := map[string]int{}
	for i := range kills {
		root := twoSlots(t, b1, b2)
		cmd := start(root)
		time.Sleep(full * time.Duration(i) / kills)
		cmd.Process.Kill()
		cmd.Wait()
		s, err := Active(root)
		if err != nil {
			t.Fatalf("kill %d: %v", i, err)
		}
		if err := s.Verify(); err != nil {
			t.Fatalf("kill %d: %v", i, err)
		}
		seen[s.Version]++
	}
	t.Logf("full run %v; after the kills: %v", full, seen)
}

func TestKillHelper(t *testing.T) {
	root := os.Getenv("MAIRA_FW_KILL_ROOT")
	if root == "" {
		t.Skip("run by TestKillApply")
	}
	slow := func(string) error { time.Sleep(2 * time.Millisecond); return nil }
	if _, err := Apply(root, os.Getenv("MAIRA_FW_KILL_BUNDLE"), ApplyOptions{fault: slow}); err != nil {
		t.Fatal(err)
	}
}
