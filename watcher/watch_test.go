package watcher

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"maira/dicom"
)

// The service tests run the real binary on a real (tiny, random-weight)
// model, as the appliance runs: built once for the package.
var (
	binary, tinyModel string
	binaryErr         error // the built binary cannot run here
)

// needBinary skips a test that runs the service binary where it cannot run.
func needBinary(t *testing.T) {
	t.Helper()
	if binaryErr != nil {
		t.Skipf("the maira binary built for %s cannot run on this machine (%v): the service tests are skipped", runtime.GOARCH, binaryErr)
	}
}

func TestMain(m *testing.M) {
	code := func() int {
		dir, err := os.MkdirTemp("", "maira-watch-test-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(dir)
		binary = filepath.Join(dir, "maira")
		tinyModel = filepath.Join(dir, "tiny.gguf")
		build := exec.Command("go", "build", "-o", binary, "maira/cmd/maira")
		build.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := build.CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "go build: %v\n%s", err, out)
			return 1
		}
		if out, err := exec.Command(binary, "testmodel", "--preset", "tiny", "--gguf", "f32", "-o", tinyModel).CombinedOutput(); err != nil {
			if errors.Is(err, syscall.ENOEXEC) {
				// The arm64 run under qemu-user: the test binary is emulated,
				// but the service binary it built cannot be started without
				// binfmt_misc.
				binaryErr = err
				return m.Run()
			}
			fmt.Fprintf(os.Stderr, "testmodel: %v\n%s", err, out)
			return 1
		}
		return m.Run()
	}()
	os.Exit(code)
}

// site is a drop folder and an output folder.
type site struct {
	t             *testing.T
	root, in, out string
	logs          int
}

func newSite(t *testing.T) *site {
	needBinary(t)
	root := t.TempDir()
	s := &site{t: t, root: root, in: filepath.Join(root, "in"), out: filepath.Join(root, "out")}
	os.MkdirAll(s.in, 0o755)
	return s
}

// args are the service's flags for a fast test.
func (s *site) args(extra ...string) []string {
	return append([]string{"watch", "--model", tinyModel, "--in", s.in, "--out", s.out, "--settle", "300ms",
		"--study-quiet", "400ms", "--max-tokens", "12", "--threads", "1"}, extra...)
}

// start runs the service in the background, logging to a file.
func (s *site) start(extra ...string) *exec.Cmd {
	s.logs++
	log, err := os.Create(filepath.Join(s.root, fmt.Sprintf("watch-%d.log", s.logs)))
	if err != nil {
		s.t.Fatal(err)
	}
	cmd := exec.Command(binary, s.args(extra...)...)
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	return cmd
}

// once runs the service with --once to the end and returns its output.
func (s *site) once(extra ...string) string {
	cmd := exec.Command(binary, s.args(append([]string{"--once"}, extra...)...)...)
	done := make(chan struct{})
	var out []byte
	var err error
	go func() { out, err = cmd.CombinedOutput(); close(done) }()
	select {
	case <-done:
	case <-time.After(3 * time.Minute):
		cmd.Process.Kill()
		<-done
		s.t.Fatalf("watch --once did not finish:\n%s", out)
	}
	if err != nil {
		s.t.Fatalf("watch --once: %v\n%s", err, out)
	}
	return string(out)
}

// drop renames files from a staging folder into the drop folder.
func (s *site) drop(files ...string) {
	for _, f := range files {
		if err := os.Rename(f, filepath.Join(s.in, filepath.Base(f))); err != nil {
			s.t.Fatal(err)
		}
	}
}

// reports returns each report document's study id, by report folder.
func (s *site) reports() map[string]string {
	out := map[string]string{}
	dirs, _ := filepath.Glob(filepath.Join(s.out, "reports", "*", "*"))
	for _, d := range dirs {
		if strings.HasPrefix(filepath.Base(d), ".") {
			continue // a report being written
		}
		b, err := os.ReadFile(filepath.Join(d, "report.json"))
		if err != nil {
			s.t.Errorf("%s: %v", d, err)
			continue
		}
		var doc struct {
			StudyID        string `json:"study_id"`
			DraftForReview bool   `json:"draft_for_review"`
		}
		if err := json.Unmarshal(b, &doc); err != nil || !doc.DraftForReview {
			s.t.Errorf("%s: %v %+v", d, err, doc)
		}
		txt, err := os.ReadFile(filepath.Join(d, "report.txt"))
		if err != nil || !bytes.HasPrefix(txt, []byte("DRAFT: machine-generated findings")) {
			s.t.Errorf("%s: report.txt without the draft banner (%v)", d, err)
		}
		out[d] = doc.StudyID
	}
	return out
}

// leftovers lists temporary files in the output folder and files left in
// the drop folder.
func (s *site) leftovers() []string {
	var left []string
	filepath.WalkDir(s.out, func(p string, d fs.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(d.Name(), ".tmp") {
			left = append(left, p)
		}
		return nil
	})
	entries, _ := os.ReadDir(s.in)
	for _, e := range entries {
		left = append(left, filepath.Join(s.in, e.Name()))
	}
	return left
}

func (s *site) archived() []string {
	var files []string
	filepath.WalkDir(filepath.Join(s.out, "archive"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			files = append(files, d.Name())
		}
		return nil
	})
	sort.Strings(files)
	return files
}

// badFiles writes files the service must refuse: not an image, a CT, a
// truncated DICOM, a text note.
func badFiles(t *testing.T, dir string) []string {
	good := filepath.Join(dir, "good.tmp")
	pix := make([]uint16, 40*30)
	for i := range pix {
		pix[i] = uint16(i * 3)
	}
	if err := dicom.WriteRadiograph(good, dicom.Radiograph{Width: 40, Height: 30, Pix: pix, BitsStored: 12, ViewPosition: "PA"}); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(good)
	os.Remove(good)
	files := map[string][]byte{
		"junk.dcm":      []byte("this is not a DICOM file at all\n"),
		"ct.dcm":        bytes.Replace(data, []byte("CS\x02\x00DX"), []byte("CS\x02\x00CT"), 1),
		"truncated.dcm": data[:len(data)/2],
		"notes.txt":     []byte("called the ward at 10:30\n"),
	}
	var out []string
	for name, b := range files {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		out = append(out, p)
	}
	if !bytes.Contains(files["ct.dcm"], []byte("CT")) {
		t.Fatal("could not make the CT file")
	}
	return out
}

// TestCrash drops 30 studies (four bad files among them) and kills the
// service with SIGKILL at random moments, restarting it each time: in the
// end every good study has exactly one report, every bad file is in failed/
// with a reason, no temporary file is left, nothing is lost.
func TestCrash(t *testing.T) {
	t.Parallel()
	s := newSite(t)
	staging := filepath.Join(s.root, "staging")
	studies, err := WriteDemoStudies(staging, 26, 96, 80, 7)
	if err != nil {
		t.Fatal(err)
	}
	bad := badFiles(t, staging)
	var all []string
	for _, st := range studies {
		all = append(all, st...)
	}
	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(seed, 1))
	t.Logf("kill schedule seed %d", seed)
	// A few files before the first start, the rest while it runs and dies.
	s.drop(all[:5]...)
	s.drop(bad[:2]...)
	pending := append(append([]string{}, all[5:]...), bad[2:]...)
	kills := 0
	for kills < 6 {
		cmd := s.start()
		deadline := time.Now().Add(time.Duration(200+rng.IntN(1500)) * time.Millisecond)
		for time.Now().Before(deadline) {
			if len(pending) > 0 {
				n := min(len(pending), 1+rng.IntN(4))
				s.drop(pending[:n]...)
				pending = pending[n:]
			}
			time.Sleep(time.Duration(20+rng.IntN(120)) * time.Millisecond)
		}
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		kills++
	}
	s.drop(pending...)
	s.once()

	reps := s.reports()
	byStudy := map[string]int{}
	for _, id := range reps {
		byStudy[id]++
	}
	if len(byStudy) != len(studies) {
		t.Errorf("%d studies reported, want %d", len(byStudy), len(studies))
	}
	for id, n := range byStudy {
		if n != 1 {
			t.Errorf("study %s reported %d times", id, n)
		}
	}
	for _, b := range bad {
		name := filepath.Base(b)
		if _, err := os.Stat(filepath.Join(s.out, "failed", name)); err != nil {
			t.Errorf("%s not in failed/: %v", name, err)
		}
		reason, err := os.ReadFile(filepath.Join(s.out, "failed", name+".reason.txt"))
		if err != nil || len(reason) < 10 {
			t.Errorf("%s: no reason (%v)", name, err)
		}
	}
	if left := s.leftovers(); len(left) > 0 {
		t.Errorf("left behind: %q", left)
	}
	var want []string
	for _, f := range all {
		want = append(want, filepath.Base(f))
	}
	sort.Strings(want)
	if got := s.archived(); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("archive holds %d files, want the %d inputs:\n%q\n%q", len(got), len(want), got, want)
	}
}

// TestBurst drops 500 files at once on the tiny model and states the peak
// memory.
func TestBurst(t *testing.T) {
	if testing.Short() {
		t.Skip("burst of 500 files: not in -short")
	}
	t.Parallel()
	s := newSite(t)
	staging := filepath.Join(s.root, "staging")
	studies, err := WriteDemoStudies(staging, 300, 64, 56, 11)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, st := range studies {
		s.drop(st...)
		n += len(st)
	}
	if n != 500 {
		t.Fatalf("%d files, want 500", n)
	}
	start := time.Now()
	cmd := exec.Command(binary, s.args("--once")...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	rss := cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss // KiB
	t.Logf("500 files, %d studies in %.1f s; peak RSS %.1f MB", len(studies), time.Since(start).Seconds(), float64(rss)/1024)
	if got := len(s.reports()); got != len(studies) {
		t.Errorf("%d reports, want %d", got, len(studies))
	}
	if left := s.leftovers(); len(left) > 0 {
		t.Errorf("left behind: %q", left[:min(5, len(left))])
	}
	// Bounded: the model, one study's images and the store, not 500 files.
	if rss > 400<<10 {
		t.Errorf("peak RSS %d KiB", rss)
	}
}

// TestSlowWriter writes a DICOM file into the drop folder over 10 seconds:
// it must be reported once, never refused as half-written.
func TestSlowWriter(t *testing.T) {
	if testing.Short() {
		t.Skip("a 10-second writer: not in -short")
	}
	t.Parallel()
	s := newSite(t)
	staging := filepath.Join(s.root, "staging")
	studies, err := WriteDemoStudies(staging, 2, 200, 160, 3)
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(studies[1][0])
	if err != nil {
		t.Fatal(err)
	}
	// Writes come every 0.5 s; a 4 s settle leaves a wide margin for a loaded CI machine.
	cmd := s.start("--settle", "4s")
	defer func() { cmd.Process.Signal(syscall.SIGTERM); cmd.Wait() }()
	f, err := os.Create(filepath.Join(s.in, "slow.dcm"))
	if err != nil {
		t.Fatal(err)
	}
	chunks := 20
	for i := range chunks {
		f.Write(data[i*len(data)/chunks : (i+1)*len(data)/chunks])
		f.Sync()
		time.Sleep(500 * time.Millisecond)
	}
	f.Close()
	deadline := time.Now().Add(30 * time.Second)
	for len(s.reports()) == 0 && time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
	}
	if n := len(s.reports()); n != 1 {
		t.Errorf("%d reports, want 1", n)
	}
	if failed, _ := os.ReadDir(filepath.Join(s.out, "failed")); len(failed) != 0 {
		t.Errorf("refused: %v", failed)
	}
}

// TestNoIPSocket runs the service under strace: it creates Unix-domain
// sockets (the control socket) and never an IP one.
func TestNoIPSocket(t *testing.T) {
	if _, err := exec.LookPath("strace"); err != nil {
		t.Skip("strace not installed: the no-IP-socket check is skipped")
	}
	t.Parallel()
	s := newSite(t)
	studies, err := WriteDemoStudies(filepath.Join(s.root, "staging"), 2, 64, 56, 5)
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range studies {
		s.drop(st...)
	}
	trace := filepath.Join(s.root, "trace.txt")
	args := append([]string{"-f", "-e", "trace=socket", "-o", trace, binary}, s.args("--once")...)
	if out, err := exec.Command("strace", args...).CombinedOutput(); err != nil {
		t.Skipf("strace cannot trace here (%v): %s", err, out)
	}
	b, _ := os.ReadFile(trace)
	if bytes.Contains(b, []byte("AF_INET")) {
		t.Errorf("an IP socket was opened:\n%s", b)
	}
	if !bytes.Contains(b, []byte("AF_UNIX")) {
		t.Errorf("no Unix-domain socket (the control socket) in the trace:\n%s", b)
	}
	if n := len(s.reports()); n != 2 {
		t.Errorf("%d reports", n)
	}
}
