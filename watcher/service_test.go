package watcher

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"maira/dicom"
	"maira/firmware/plugin/plugintest"
	"maira/models/draft"
	"maira/models/report"
	"maira/quant/testmodel"
	"maira/runtime"
)

func TestConfig(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in")
	os.Mkdir(in, 0o755)
	write := func(s string) string {
		p := filepath.Join(dir, "c.toml")
		os.WriteFile(p, []byte(s), 0o644)
		return p
	}
	c, err := LoadConfig(write("model = \"m.gguf\"\nin = \"" + in + "\"\nout = \"" + dir + "/out\"\nsettle = \"2s\"\n[retention]\narchive_days = 7\n"))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Check(); err != nil {
		t.Fatal(err)
	}
	if c.Settle.Duration != 2*time.Second || c.Retention.ArchiveDays != 7 || c.StudyQuiet.Duration != 30*time.Second ||
		!c.Outputs.SR || c.Data != filepath.Join(dir, "out", ".maira") {
		t.Errorf("config %+v", c)
	}
	// The documented example loads.
	if _, err := LoadConfig(filepath.Join("..", "docs", "maira-watch.toml")); err != nil {
		t.Errorf("docs/maira-watch.toml: %v", err)
	}
	for _, tc := range []struct{ file, want string }{
		{"model = \"m\"\nsetle = \"2s\"\n", `unknown setting "setle"`},
		{"settle = \"two seconds\"\n", "two seconds"},
		{"model = [\n", "line"},
	} {
		if _, err := LoadConfig(write(tc.file)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want %q", tc.file, err, tc.want)
		}
	}
	for _, tc := range []struct {
		c    Config
		want string
	}{
		{Config{In: in, Out: dir}, "no model"},
		{Config{Model: "m", In: in, Out: in + "/out"}, "inside the drop folder"},
		{Config{Model: "m", In: in, Out: filepath.Dir(in)}, "inside the output folder"},
		{Config{Model: "m", In: dir + "/none", Out: dir + "/o"}, "not a folder"},
	} {
		cc := Defaults()
		cc.Model, cc.In, cc.Out = tc.c.Model, tc.c.In, tc.c.Out
		if err := cc.Check(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %q", tc.c, err, tc.want)
		}
	}
}

func TestArrivals(t *testing.T) {
	dir := t.TempDir()
	a := newArrivals(dir, time.Hour)
	now := time.Now()
	// Written in place: waits the settle time.
	os.WriteFile(filepath.Join(dir, "inplace.dcm"), []byte("x"), 0o644)
	// Renamed in after its last write: taken at once.
	tmp := filepath.Join(t.TempDir(), "r.dcm")
	os.WriteFile(tmp, []byte("y"), 0o644)
	old := now.Add(-time.Minute)
	os.Chtimes(tmp, old, old)
	os.Rename(tmp, filepath.Join(dir, "renamed.dcm"))
	for _, n := range []string{".hidden.dcm", "x.dcm.part", "y.tmp", "z.dcm~"} {
		os.WriteFile(filepath.Join(dir, n), []byte("z"), 0o644)
	}
	got, pending := a.scan(now)
	if len(got) != 1 || filepath.Base(got[0]) != "renamed.dcm" || pending != 1 {
		t.Errorf("scan: %v, %d pending", got, pending)
	}
	// Taken files are not handed out twice; settled ones are.
	got, pending = a.scan(now.Add(2 * time.Hour))
	if len(got) != 1 || filepath.Base(got[0]) != "inplace.dcm" || pending != 0 {
		t.Errorf("after settling: %v, %d pending", got, pending)
	}
	if got, _ := a.scan(now.Add(3 * time.Hour)); len(got) != 0 {
		t.Errorf("handed out again: %v", got)
	}
}

func TestSidecar(t *testing.T) {
	dir := t.TempDir()
	img := filepath.Join(dir, "a.png")
	os.WriteFile(img, []byte("png"), 0o644)
	os.WriteFile(filepath.Join(dir, "lat.png"), []byte("png"), 0o644)
	for _, tc := range []struct{ json, want string }{
		{`{"schema": "maira.sidecar/v1", "indication": "Cough.", "lateral": "lat.png"}`, ""},
		{`{"schema": "maira.sidecar/v2"}`, "schema"},
		{`{"schema": "maira.sidecar/v1", "indicaton": "x"}`, "unknown field"},
		{`{"schema": "maira.sidecar/v1", "lateral": "../etc/passwd"}`, "same folder"},
		{`{"schema": "maira.sidecar/v1", "prior_report": "x"}`, "needs prior"},
	} {
		os.WriteFile(filepath.Join(dir, "a.json"), []byte(tc.json), 0o644)
		sc, _, err := readSidecar(img)
		if tc.want == "" {
			if err != nil || sc.Indication != "Cough." {
				t.Errorf("%s: %v %+v", tc.json, err, sc)
			}
			if got := attachedTo(filepath.Join(dir, "lat.png")); got != filepath.Join(dir, "a.json") {
				t.Errorf("lat.png attached to %q", got)
			}
		} else if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.json, err, tc.want)
		}
	}
}

// TestLifecycle runs the service as a technician meets it: studies
// reported, `maira status` through the socket (no patient identifiers), a
// duplicate and a late image archived but not reported, SIGTERM exits 0.
func TestLifecycle(t *testing.T) {
	t.Parallel()
	s := newSite(t)
	staging := filepath.Join(s.root, "staging")
	studies, err := WriteDemoStudies(staging, 3, 80, 64, 21)
	if err != nil {
		t.Fatal(err)
	}
	// The lateral of study 0 is held back, to arrive after the report.
	lateral := studies[0][1]
	s.drop(studies[0][0])
	s.drop(studies[1]...)
	s.drop(studies[2]...)
	cmd := s.start()
	waitFor(t, func() bool { return len(s.reports()) == 3 })

	// DICOM studies get the SR, filed under the source study.
	srs, _ := filepath.Glob(filepath.Join(s.out, "reports", "*", "*", "report.dcm"))
	if len(srs) != 2 {
		t.Errorf("%d report.dcm files, want 2 (the DICOM studies)", len(srs))
	}
	for _, p := range srs {
		data, _ := os.ReadFile(p)
		f, err := dicom.Parse(data)
		if err != nil || f.String(dicom.Modality) != "SR" || !strings.HasPrefix(f.String(dicom.StudyInstanceUID), "2.25.") {
			t.Errorf("%s: %v", p, err)
		}
		if _, err := exec.LookPath("dsrdump"); err == nil {
			out, err := exec.Command("dsrdump", p).CombinedOutput()
			if err != nil || !strings.Contains(string(out), "UNVERIFIED") || !strings.Contains(string(out), "PARTIAL") {
				t.Errorf("dsrdump %s: %v\n%s", p, err, out)
			}
		}
	}

	out, err := exec.Command(binary, "status", "--out", s.out, "--json").CombinedOutput()
	if err != nil {
		t.Fatalf("status: %v %s", err, out)
	}
	var st Status
	if err := json.Unmarshal(out, &st); err != nil {
		t.Fatal(err)
	}
	if st.Counts[Done] != 3 || len(st.Recent) != 3 || st.In != s.in {
		t.Errorf("status: %s", out)
	}
	text, _ := exec.Command(binary, "status", "--out", s.out).CombinedOutput()
	for _, b := range [][]byte{out, text} {
		if strings.Contains(string(b), "DEMO-") || strings.Contains(string(b), "Demo^Patient") {
			t.Errorf("status shows patient identifiers: %s", b)
		}
	}
	if info, err := os.Stat(SocketPath(filepath.Join(s.out, ".maira"))); err != nil || info.Mode().Perm() != 0o660 {
		t.Errorf("control socket: %v %v", info.Mode(), err)
	}

	// A second copy of a reported image, and the late lateral.
	dup := filepath.Join(staging, "copy.dcm")
	arch, _ := filepath.Glob(filepath.Join(s.out, "archive", "*", "*", filepath.Base(studies[1][0])))
	if len(arch) != 1 {
		t.Fatalf("archived copy: %v", arch)
	}
	b, _ := os.ReadFile(arch[0])
	os.WriteFile(dup, b, 0o644)
	s.drop(dup, lateral)
	waitFor(t, func() bool {
		l, _ := filepath.Glob(filepath.Join(s.out, "archive", "*", "*", "late", filepath.Base(lateral)))
		d, _ := filepath.Glob(filepath.Join(s.out, "archive", "*", "*", "duplicates", "copy.dcm"))
		return len(l) == 1 && len(d) == 1
	})
	if n := len(s.reports()); n != 3 {
		t.Errorf("%d reports after a duplicate and a late image, want 3", n)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Errorf("SIGTERM: %v", err)
	}
	logs, _ := os.ReadFile(filepath.Join(s.root, "watch-1.log"))
	if strings.Contains(string(logs), "DEMO-") || strings.Contains(string(logs), "Demo^") {
		t.Errorf("the log shows patient identifiers:\n%s", logs)
	}
	if !strings.Contains(string(logs), "arrived after the study was done") && !strings.Contains(string(logs), "image arrived after its study was finished") {
		t.Errorf("no log line for the late image:\n%s", logs)
	}
}

// TestLowDisk: below the free-space minimum nothing is taken in, the
// status says why, and nothing is lost.
func TestLowDisk(t *testing.T) {
	t.Parallel()
	s := newSite(t)
	studies, err := WriteDemoStudies(filepath.Join(s.root, "staging"), 1, 64, 56, 9)
	if err != nil {
		t.Fatal(err)
	}
	s.drop(studies[0]...)
	cfg := filepath.Join(s.root, "c.toml")
	os.WriteFile(cfg, []byte("[retention]\nmin_free_mb = 1000000000\n"), 0o644)
	cmd := s.start("--config", cfg)
	defer func() { cmd.Process.Signal(syscall.SIGTERM); cmd.Wait() }()
	var st Status
	waitFor(t, func() bool {
		out, err := exec.Command(binary, "status", "--out", s.out, "--json").Output()
		return err == nil && json.Unmarshal(out, &st) == nil && st.Paused != ""
	})
	if !strings.Contains(st.Paused, "low disk space") || len(s.reports()) != 0 {
		t.Errorf("paused %q, %d reports", st.Paused, len(s.reports()))
	}
	if left, _ := os.ReadDir(s.in); len(left) != 2 {
		t.Errorf("drop folder: %v", left)
	}
}

func TestRetention(t *testing.T) {
	dir := t.TempDir()
	s := &Service{cfg: Defaults(), log: discardLog()}
	s.cfg.Out = dir
	s.cfg.Retention.ArchiveDays = 30
	s.cfg.Retention.ArchiveMaxGB = 2.5e-6 // 2684 bytes
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	for _, d := range []string{"2026-09-01", "2026-11-20", "2026-11-25", "2026-11-27"} {
		p := filepath.Join(dir, "archive", d, "k")
		os.MkdirAll(p, 0o755)
		os.WriteFile(filepath.Join(p, "a.dcm"), make([]byte, 1000), 0o644)
	}
	s.retain(now)
	left, _ := filepath.Glob(filepath.Join(dir, "archive", "*"))
	var names []string
	for _, l := range left {
		names = append(names, filepath.Base(l))
	}
	if strings.Join(names, " ") != "2026-11-25 2026-11-27" {
		t.Errorf("kept %v", names)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			logs, _ := filepath.Glob(filepath.Join(filepath.Dir(t.TempDir()), "*", "watch-*.log"))
			for _, l := range logs {
				b, _ := os.ReadFile(l)
				t.Logf("%s:\n%s", l, b)
			}
			t.Fatal("timed out")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func discardLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// TestPriors: with priors on, a patient's second study is reported with the
// first as its prior, and the document says so.
func TestPriors(t *testing.T) {
	t.Parallel()
	s := newSite(t)
	cfg := filepath.Join(s.root, "c.toml")
	os.WriteFile(cfg, []byte("[priors]\nenabled = true\n"), 0o644)
	staging := filepath.Join(s.root, "staging")
	os.MkdirAll(staging, 0o755)
	pix := make([]uint16, 64*56)
	for i := range pix {
		pix[i] = uint16(i % 4000)
	}
	write := func(name, date string) string {
		p := filepath.Join(staging, name)
		if err := dicom.WriteRadiograph(p, dicom.Radiograph{Width: 64, Height: 56, Pix: pix, BitsStored: 12, PatientID: "P-1234567",
			StudyDate: date, ViewPosition: "PA", WindowCenter: 2000, WindowWidth: 4000}); err != nil {
			t.Fatal(err)
		}
		return p
	}
	old, cur := write("old.dcm", "20250105"), write("new.dcm", "20261127")
	cmd := s.start("--config", cfg)
	defer func() { cmd.Process.Signal(syscall.SIGTERM); cmd.Wait() }()
	s.drop(old)
	waitFor(t, func() bool { return len(s.reports()) == 1 })
	s.drop(cur)
	waitFor(t, func() bool { return len(s.reports()) == 2 })
	var found bool
	for dir := range s.reports() {
		b, _ := os.ReadFile(filepath.Join(dir, "report.json"))
		var doc report.Document
		json.Unmarshal(b, &doc)
		if doc.Study == nil || doc.Study.StudyDate != "20261127" {
			continue
		}
		found = true
		if len(doc.Inputs) != 2 || doc.Inputs[1].View != "prior_frontal" || doc.Sections.PriorReport == "" ||
			!strings.Contains(strings.Join(doc.Warnings, " "), "as the prior") {
			t.Errorf("the new study's document: %s", b)
		}
	}
	if !found {
		t.Error("no report for the new study")
	}
}

// TestPoll: without inotify (network shares), the periodic scan finds the
// files.
func TestPoll(t *testing.T) {
	t.Parallel()
	s := newSite(t)
	studies, err := WriteDemoStudies(filepath.Join(s.root, "staging"), 2, 64, 56, 13)
	if err != nil {
		t.Fatal(err)
	}
	cmd := s.start("--poll")
	defer func() { cmd.Process.Signal(syscall.SIGTERM); cmd.Wait() }()
	for _, st := range studies {
		s.drop(st...)
	}
	waitFor(t, func() bool { return len(s.reports()) == 2 })
}

// TestControl drives the socket as the terminal UI does: history, a
// report, the device, the log, pause and resume, and a retry of a study
// that failed for want of a file that has arrived since.
func TestControl(t *testing.T) {
	t.Parallel()
	s := newSite(t)
	staging := filepath.Join(s.root, "staging")
	studies, err := WriteDemoStudies(staging, 3, 64, 56, 17)
	if err != nil {
		t.Fatal(err)
	}
	// Study 2 is a PNG whose sidecar names a lateral that is not there yet.
	side := studies[2][0]
	b, _ := os.ReadFile(side)
	os.WriteFile(side, []byte(strings.Replace(string(b), `"lateral":""`, `"lateral":"lat.png"`, 1)), 0o644)
	cmd := s.start()
	defer func() { cmd.Process.Signal(syscall.SIGTERM); cmd.Wait() }()
	for _, st := range studies {
		s.drop(st...)
	}
	c := Client{Data: filepath.Join(s.out, ".maira")}
	var hist []StudyLine
	waitFor(t, func() bool { hist, _ = c.History(""); return len(hist) == 3 })
	var failed string
	for _, h := range hist {
		if h.State == Failed {
			failed = h.Study
		}
	}
	if failed != "demo002" {
		t.Fatalf("history %+v", hist)
	}
	if h, _ := c.History("demo002"); len(h) != 1 {
		t.Errorf("search: %+v", h)
	}
	r, err := c.Report(hist[len(hist)-1].Study)
	if err != nil || !strings.HasPrefix(r.ReportText, "DRAFT") || r.Timings == nil {
		t.Errorf("report: %v %+v", err, r)
	}
	if d, err := c.Device(); err != nil || !strings.HasPrefix(d.Backend, "cpu") || d.Done != 2 || d.Failed != 1 || len(d.Disks) != 3 {
		t.Errorf("device: %v %+v", err, d)
	}
	if l, err := c.Log(50); err != nil || len(l) == 0 || !strings.Contains(strings.Join(l, "\n"), "report written") {
		t.Errorf("log: %v %q", err, l)
	}
	if err := c.Pause(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { st, _ := c.Status(); return strings.Contains(st.Paused, "operator") })
	if err := c.Resume(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { st, _ := c.Status(); return st.Paused == "" })

	// The missing lateral arrives; the operator retries the study.
	lat := filepath.Join(staging, "lat.png")
	if err := testmodel.WriteRadiograph(lat, 64, 56, 16, 99); err != nil {
		t.Fatal(err)
	}
	s.drop(lat)
	if err := c.Retry("demo002"); err != nil {
		t.Fatal(err)
	}
	if err := c.Retry("demo002"); err == nil || !strings.Contains(err.Error(), "not failed") {
		t.Errorf("second retry: %v", err)
	}
	waitFor(t, func() bool { r, err := c.Report("demo002"); return err == nil && r.State == Done })
	if n := len(s.reports()); n != 3 {
		t.Errorf("%d reports", n)
	}
	if got := strings.Join(s.archived(), " "); !strings.Contains(got, "lat.png") || !strings.Contains(got, "demo002.json") {
		t.Errorf("archive: %s", got)
	}
	if left := s.leftovers(); len(left) != 0 {
		t.Errorf("left behind: %q", left)
	}
	if e := c.Retry("nope"); e == nil {
		t.Error("retry of an unknown study")
	}
}

// TestSubfolder: a receiver that sorts files into subfolders (storescp
// --sort-on-study-uid) is watched there too, not only by the rescan.
func TestSubfolder(t *testing.T) {
	t.Parallel()
	s := newSite(t)
	studies, err := WriteDemoStudies(filepath.Join(s.root, "staging"), 1, 64, 56, 23)
	if err != nil {
		t.Fatal(err)
	}
	cmd := s.start()
	defer func() { cmd.Process.Signal(syscall.SIGTERM); cmd.Wait() }()
	sub := filepath.Join(s.in, "study1")
	os.Mkdir(sub, 0o755)
	time.Sleep(300 * time.Millisecond)
	for _, f := range studies[0] {
		os.Rename(f, filepath.Join(sub, filepath.Base(f)))
	}
	// Well inside the one-minute rescan.
	deadline := time.Now().Add(15 * time.Second)
	for len(s.reports()) == 0 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	if len(s.reports()) != 1 {
		t.Fatal("the study in a subfolder was not reported within 15 s")
	}
	if got := strings.Join(s.archived(), " "); !strings.Contains(got, "demo000-PA.dcm") {
		t.Errorf("archive: %s", got)
	}
	if left := s.leftovers(); len(left) != 0 {
		t.Errorf("left behind (the emptied subfolder goes too): %q", left)
	}
}

func TestStoreSchema(t *testing.T) {
	dir := t.TempDir()
	if v, err := ReadStoreSchema(dir); err != nil || v != 0 {
		t.Fatalf("no store: %d %v", v, err)
	}
	st, err := OpenStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ReadStoreSchema(dir); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Errorf("while open: %v", err)
	}
	st.Close()
	if v, err := ReadStoreSchema(dir); err != nil || v != StoreSchema {
		t.Errorf("schema %d %v", v, err)
	}
	// A store written by a newer build is refused, not misread.
	db, _ := bolt.Open(filepath.Join(dir, "store.db"), 0o600, nil)
	db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bMeta).Put([]byte("schema"), []byte("9")) })
	db.Close()
	if _, err := OpenStore(dir); err == nil || !strings.Contains(err.Error(), "schema 9") {
		t.Errorf("newer store: %v", err)
	}
}

// TestPlugins runs the example export plugins (HL7, FHIR) and a hostile
// one in the service: the outputs land beside the reports, a plugin that
// refuses or fails is logged, and every study is still reported.
func TestPlugins(t *testing.T) {
	t.Parallel()
	s := newSite(t)
	hl7 := plugintest.Build(t, filepath.Join("..", "plugins", "hl7"))
	fhir := plugintest.Build(t, filepath.Join("..", "plugins", "fhir"))
	hostile := plugintest.Build(t, filepath.Join("..", "firmware", "plugin", "testdata", "hostile"))
	cfg := filepath.Join(s.root, "c.toml")
	os.WriteFile(cfg, []byte(fmt.Sprintf("[outputs]\nplugins = [%q, %q, %q, %q]\nplugin_timeout = \"3s\"\n",
		hl7, fhir, hostile, filepath.Join(s.root, "missing.wasm"))), 0o644)
	studies, err := WriteDemoStudies(filepath.Join(s.root, "staging"), 3, 64, 56, 29)
	if err != nil {
		t.Fatal(err)
	}
	cmd := s.start("--config", cfg)
	defer func() { cmd.Process.Signal(syscall.SIGTERM); cmd.Wait() }()
	for _, st := range studies {
		s.drop(st...)
	}
	waitFor(t, func() bool { return len(s.reports()) == 3 })
	for dir, id := range s.reports() {
		h, herr := os.ReadFile(filepath.Join(dir, "hl7.hl7"))
		f, ferr := os.ReadFile(filepath.Join(dir, "fhir.json"))
		if strings.HasPrefix(filepath.Base(dir), "demo") { // the PNG study: no patient to file it with
			if herr == nil || ferr == nil {
				t.Errorf("%s: HL7/FHIR output for a study without a patient", dir)
			}
			continue
		}
		if herr != nil || !bytes.HasPrefix(h, []byte("MSH|")) || !bytes.Contains(h, []byte(id)) {
			t.Errorf("%s: hl7.hl7: %v %q", dir, herr, h)
		}
		if ferr != nil || !bytes.Contains(f, []byte(`"DiagnosticReport"`)) || !bytes.Contains(f, []byte(`"preliminary"`)) {
			t.Errorf("%s: fhir.json: %v %s", dir, ferr, f)
		}
	}
	logs, _ := os.ReadFile(filepath.Join(s.root, "watch-1.log"))
	for _, want := range []string{"export plugin not loaded", "missing.wasm", "export plugin failed", "hostile.wasm"} {
		if !bytes.Contains(logs, []byte(want)) {
			t.Errorf("the log lacks %q", want)
		}
	}
}

// TestDiskFull runs the service in-process on the tiny model with a report
// writer that first finds the disk full: the study stays queued (not
// failed), the service holds, then reports it once space is back.
func TestDiskFull(t *testing.T) {
	needBinary(t)
	dir := t.TempDir()
	cfg := Defaults()
	cfg.Model, cfg.In, cfg.Out = tinyModel, filepath.Join(dir, "in"), filepath.Join(dir, "out")
	cfg.Settle.Duration, cfg.StudyQuiet.Duration, cfg.Retention.MinFreeMB = 0, 0, 0
	cfg.Generation.MaxTokens = 4
	os.MkdirAll(cfg.In, 0o755)
	if err := cfg.Check(); err != nil {
		t.Fatal(err)
	}
	b, err := runtime.Open("cpu", 1)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	eng, err := draft.Open(tinyModel, b, nil, "maira test")
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	if _, err := WriteDemoStudies(cfg.In, 1, 64, 56, 31); err != nil {
		t.Fatal(err)
	}
	old := diskFullWait
	diskFullWait = 500 * time.Millisecond
	defer func() { diskFullWait = old }()
	svc, err := New(cfg, eng, discardLog())
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	full := 0
	svc.writeReport = func(dir string, files map[string][]byte) error {
		if full == 0 {
			full++
			return fmt.Errorf("%s: %w", dir, syscall.ENOSPC)
		}
		return writeOutputs(dir, files)
	}
	start := time.Now()
	if err := svc.Run(context.Background(), true); err != nil {
		t.Fatal(err)
	}
	all, _ := svc.store.All()
	if full != 1 || len(all) != 1 || all[0].State != Done || all[0].Attempts != 1 {
		t.Fatalf("after a full disk: %d full writes, %+v", full, all)
	}
	if time.Since(start) < diskFullWait {
		t.Errorf("retried after %v, before the %v hold", time.Since(start), diskFullWait)
	}
	if reps, _ := filepath.Glob(filepath.Join(cfg.Out, "reports", "*", "*", "report.json")); len(reps) != 1 {
		t.Errorf("%d reports", len(reps))
	}
}
