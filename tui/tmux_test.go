package tui

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"maira/watcher"
)

// The end-to-end tests run the real binary on a tiny random-weight model in
// tmux at 80x24, as a technician's terminal shows it: `maira watch` with
// its screen in-process, and `maira tui` attached to a `maira watch
// --no-tui` in the background. With -update they write the screens to
// docs/tui-*.txt.

var (
	buildOnce         sync.Once
	binDir            string
	binary, tinyModel string
	binaryErr         error // the binary cannot be built or cannot run here
	binarySkip        bool  // cannot run here: skip rather than fail
)

// needTmux skips a test without tmux or where the built binary cannot run
// (the arm64 run under qemu-user gets ENOEXEC), and builds the binary and
// the tiny model once.
func needTmux(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Skip("tmux is not installed (Debian: apt-get install tmux): the terminal end-to-end tests are skipped")
	}
	buildOnce.Do(func() {
		binDir, binaryErr = os.MkdirTemp("", "maira-tui-test-")
		if binaryErr != nil {
			return
		}
		binary, tinyModel = filepath.Join(binDir, "maira"), filepath.Join(binDir, "tiny.gguf")
		build := exec.Command("go", "build", "-o", binary, "maira/cmd/maira")
		build.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := build.CombinedOutput(); err != nil {
			binaryErr = fmt.Errorf("go build: %v\n%s", err, out)
			return
		}
		if out, err := exec.Command(binary, "testmodel", "--preset", "tiny", "--gguf", "f32", "-o", tinyModel).CombinedOutput(); err != nil {
			binaryErr, binarySkip = fmt.Errorf("testmodel: %v\n%s", err, out), errors.Is(err, syscall.ENOEXEC)
		}
	})
	if binarySkip {
		t.Skipf("the maira binary built for %s cannot run on this machine (%v): the tmux tests are skipped", runtime.GOARCH, binaryErr)
	}
	if binaryErr != nil {
		t.Fatal(binaryErr)
	}
}

// tmuxSite is a drop folder, an output folder and a private tmux server.
type tmuxSite struct {
	t                      *testing.T
	root, in, out, staging string
	server                 string
}

func newTmuxSite(t *testing.T, studies int) *tmuxSite {
	needTmux(t)
	root := t.TempDir()
	s := &tmuxSite{t: t, root: root, in: filepath.Join(root, "in"), out: filepath.Join(root, "out"),
		staging: filepath.Join(root, "staging"), server: fmt.Sprintf("maira-test-%d-%s", os.Getpid(), t.Name())}
	os.MkdirAll(s.in, 0o755)
	if out, err := exec.Command(binary, "testmodel", "--studies", s.staging, "--count", fmt.Sprint(studies), "--size", "96x80").CombinedOutput(); err != nil {
		t.Fatalf("testmodel --studies: %v\n%s", err, out)
	}
	t.Cleanup(func() { s.tmux("kill-server").Run() })
	return s
}

func (s *tmuxSite) tmux(args ...string) *exec.Cmd {
	return exec.Command("tmux", append([]string{"-L", s.server, "-f", "/dev/null"}, args...)...)
}

// watchArgs are the service's flags for a fast test.
func (s *tmuxSite) watchArgs(extra ...string) []string {
	return append([]string{"watch", "--model", tinyModel, "--in", s.in, "--out", s.out, "--settle", "300ms",
		"--study-quiet", "400ms", "--max-tokens", "12", "--threads", "1"}, extra...)
}

// run starts command in an 80x24 tmux pane; the pane stays after it exits
// and shows its exit status.
func (s *tmuxSite) run(args ...string) {
	var q []string
	for _, a := range args {
		q = append(q, "'"+a+"'")
	}
	script := strings.Join(q, " ") + `; echo "exit status $?"; sleep 600`
	cmd := s.tmux("new-session", "-d", "-s", "maira", "-x", "80", "-y", "24", "env", "TERM=xterm-256color", "sh", "-c", script)
	if out, err := cmd.CombinedOutput(); err != nil {
		s.t.Fatalf("tmux new-session: %v\n%s", err, out)
	}
}

func (s *tmuxSite) capture() string {
	out, err := s.tmux("capture-pane", "-p", "-t", "maira").Output()
	if err != nil {
		s.t.Fatalf("tmux capture-pane: %v", err)
	}
	return strings.TrimRight(string(out), "\n")
}

func (s *tmuxSite) keys(keys ...string) {
	if out, err := s.tmux(append([]string{"send-keys", "-t", "maira"}, keys...)...).CombinedOutput(); err != nil {
		s.t.Fatalf("tmux send-keys: %v\n%s", err, out)
	}
}

// wait waits until the pane shows every one of want.
func (s *tmuxSite) wait(timeout time.Duration, want ...string) string {
	s.t.Helper()
	deadline := time.Now().Add(timeout)
	var scr string
	for {
		scr = s.capture()
		ok := true
		for _, w := range want {
			ok = ok && strings.Contains(scr, w)
		}
		if ok {
			return scr
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(s.out, ".maira", "watch.log"))
			s.t.Fatalf("the pane never showed %q:\n%s\n(watch.log:\n%s)", want, scr, log)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// drop renames the staged files (those matching pattern) into the drop
// folder.
func (s *tmuxSite) drop(pattern string) {
	files, _ := filepath.Glob(filepath.Join(s.staging, pattern))
	for _, f := range files {
		if err := os.Rename(f, filepath.Join(s.in, filepath.Base(f))); err != nil {
			s.t.Fatal(err)
		}
	}
}

// spoilSidecar gives the staged PNG study (the third) a sidecar the service
// cannot read: the study fails when it is reported, with the reason.
func (s *tmuxSite) spoilSidecar() {
	side := fmt.Sprintf(`{"schema": %q, "indication": "Chest pain.", "urgent": true}`, watcher.SidecarSchema)
	if err := os.WriteFile(filepath.Join(s.staging, "demo002.json"), []byte(side), 0o644); err != nil {
		s.t.Fatal(err)
	}
}

// keep writes a screen to docs/tui-NAME.txt with -update.
func keep(t *testing.T, name, scr string) {
	if !updating() {
		return
	}
	if err := os.WriteFile(filepath.Join("..", "docs", "tui-"+name+".txt"), []byte(scr+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}

// checkPane checks the pane is the 80x24 screen.
func checkPane(t *testing.T, scr string) {
	t.Helper()
	lines := strings.Split(scr, "\n")
	if len(lines) > 24 {
		t.Errorf("%d lines", len(lines))
	}
	for _, l := range lines {
		if n := len([]rune(l)); n > 80 {
			t.Errorf("a line of %d cells: %q", n, l)
		}
	}
}

// studyKeys are the study keys the service gave the dropped studies, from
// its history.
func studyKeys(t *testing.T, data string) []string {
	h, err := watcher.Client{Data: data}.History("")
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, x := range h {
		keys = append(keys, x.Study)
	}
	return keys
}

// TestWatchInTmux runs `maira watch` on a terminal: its screen shows the
// studies as they are reported, every view answers its key, and q stops the
// service cleanly.
func TestWatchInTmux(t *testing.T) {
	t.Parallel()
	s := newTmuxSite(t, 3)
	s.spoilSidecar()
	s.run(append([]string{binary}, s.watchArgs()...)...)
	s.wait(30*time.Second, "maira watch  IDLE", "[1 Now]", "No study is being reported.", "q quit & stop")
	// The study that fails first, then the two that do not.
	s.drop("demo002.*")
	scr := s.wait(30*time.Second, "IDLE", "done 0  failed 1", "Study demo002  FAILED", "Reason: /", `field "urgent"`)
	checkPane(t, scr)
	s.drop("*")
	scr = s.wait(30*time.Second, "IDLE", "done 2  failed 1", "Findings", "not a diagnosis")
	checkPane(t, scr)
	data := filepath.Join(s.out, ".maira")
	h, err := watcher.Client{Data: data}.History("")
	if err != nil || len(h) != 3 {
		t.Fatalf("history: %v %+v", err, h)
	}
	h = byFinished(h) // as the screen lists them
	// The Now view shows the last study reported, its stages complete.
	if h[0].State != watcher.Done {
		t.Fatalf("the last study finished is not done: %+v", h)
	}
	scr = s.wait(10*time.Second, "Study "+h[0].Study+"  done", "generate     ████████████████████ done  12 tok",
		"Indication Cough and fever.", "Images     ")
	if strings.Contains(scr, "Images     -") {
		t.Errorf("Now does not name the last study's images:\n%s", scr)
	}
	keep(t, "now", scr)

	s.keys("3")
	want := []string{"[3 History]", "> " + h[0].Study}
	failed := -1
	for i, x := range h {
		if x.State == watcher.Failed {
			want = append(want, fmt.Sprintf("%-16s  FAILED", x.Study))
			failed = i
		} else {
			want = append(want, fmt.Sprintf("%-16s  done", x.Study))
		}
	}
	if failed < 0 {
		t.Fatalf("no study failed: %+v", h)
	}
	scr = s.wait(10*time.Second, want...)
	checkPane(t, scr)
	keep(t, "history", scr)
	done := (failed + 1) % 3
	for range done {
		s.keys("Down")
	}
	s.keys("Enter")
	scr = s.wait(10*time.Second, "Study "+h[done].Study+"  done", "Timings decode", "FINDINGS:", "not a diagnosis")
	checkPane(t, scr)
	keep(t, "report", scr)
	s.keys("Escape")
	s.wait(10*time.Second, "> "+h[done].Study)
	for i := done; i != failed; {
		if i < failed {
			s.keys("Down")
			i++
		} else {
			s.keys("Up")
			i--
		}
	}
	s.keys("Enter")
	scr = s.wait(10*time.Second, "Study "+h[failed].Study+"  FAILED", "Reason  /", `field "urgent"`, "r retry")
	checkPane(t, scr)
	keep(t, "failed", scr)
	s.keys("Escape")
	s.wait(10*time.Second, "> "+h[failed].Study, "newest first")

	s.keys("2")
	scr = s.wait(10*time.Second, "[2 Queue]", "Intake: open", "Waiting: 0", "Failed recently: 1", "> "+h[failed].Study)
	keep(t, "queue", scr)
	s.keys("p")
	s.wait(10*time.Second, "Intake: PAUSED by the operator", "p resume")
	s.keys("p")
	s.wait(10*time.Second, "Intake: open")
	// Retry: the study goes round again (and fails again, its sidecar
	// unchanged).
	s.keys("r")
	s.wait(10*time.Second, "study "+h[failed].Study+" sent back for another try")
	s.wait(20*time.Second, "Failed recently: 1", "done 2  failed 1")

	s.keys("4")
	scr = s.wait(10*time.Second, "[4 Device]", "Backend        cpu", "Quantization", "Disks", "drop folder", "2 done, 1 failed")
	checkPane(t, scr)
	keep(t, "device", scr)
	s.keys("5")
	scr = s.wait(10*time.Second, "[5 Log]", "study retried by the operator", "intake resumed")
	checkPane(t, scr)
	keep(t, "log", scr)

	s.keys("q")
	scr = s.wait(20*time.Second, "maira watch: stopped", "exit status 0")
	if _, err := (watcher.Client{Data: data}).Status(); err == nil {
		t.Errorf("the service still answers after q:\n%s", scr)
	}
	if log, err := os.ReadFile(filepath.Join(data, "watch.log")); err != nil || !strings.Contains(string(log), "msg=stopped") {
		t.Errorf("watch.log: %v\n%s", err, log)
	}
}

// TestAttachInTmux runs `maira watch --no-tui` in the background and
// `maira tui` in tmux: the viewer shows the studies, says so when the
// service goes away and comes back with it, and q leaves the service
// running.
func TestAttachInTmux(t *testing.T) {
	t.Parallel()
	s := newTmuxSite(t, 2)
	data := filepath.Join(s.out, ".maira")
	start := func(n int) *exec.Cmd {
		log, err := os.Create(filepath.Join(s.root, fmt.Sprintf("watch-%d.log", n)))
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(binary, s.watchArgs("--no-tui")...)
		cmd.Stdout, cmd.Stderr = log, log
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(20 * time.Second)
		for {
			if _, err := (watcher.Client{Data: data}).Status(); err == nil {
				return cmd
			}
			if time.Now().After(deadline) {
				b, _ := os.ReadFile(log.Name())
				t.Fatalf("maira watch --no-tui does not answer:\n%s", b)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	stop := func(cmd *exec.Cmd) {
		cmd.Process.Signal(syscall.SIGTERM)
		if err := cmd.Wait(); err != nil {
			t.Errorf("maira watch: %v", err)
		}
	}
	svc := start(1)
	s.run(binary, "tui", "--out", s.out)
	s.wait(20*time.Second, "maira tui  IDLE", "[1 Now]", "q quit viewer")
	s.drop("*")
	scr := s.wait(30*time.Second, "done 2  failed 0", "generate     ████████████████████ done  12 tok", "not a diagnosis")
	checkPane(t, scr)
	keys := studyKeys(t, data)
	if len(keys) != 2 || !strings.Contains(scr, "Study "+keys[0]) {
		t.Fatalf("Now does not show the last study of %q:\n%s", keys, scr)
	}
	s.keys("3")
	s.wait(10*time.Second, "> "+keys[0]+"  done", "  "+keys[1]+"  done")

	// The service goes away and comes back.
	stop(svc)
	scr = s.wait(10*time.Second, "NOT CONNECTED", "service not answering", "retrying every 2s")
	checkPane(t, scr)
	svc = start(2)
	s.wait(10*time.Second, "maira tui  IDLE", "> "+keys[0]+"  done")

	// Quitting the viewer leaves the service running.
	s.keys("q")
	s.wait(10*time.Second, "exit status 0")
	if _, err := (watcher.Client{Data: data}).Status(); err != nil {
		t.Errorf("the service stopped with the viewer: %v", err)
	}
	stop(svc)
}

// TestWatchSIGTERM: SIGTERM stops `maira watch` with its screen as it stops
// the plain service: cleanly, exit status 0, the terminal given back.
func TestWatchSIGTERM(t *testing.T) {
	t.Parallel()
	s := newTmuxSite(t, 1)
	s.run(append([]string{binary}, s.watchArgs()...)...)
	s.wait(30*time.Second, "maira watch  IDLE")
	out, err := s.tmux("display-message", "-p", "-t", "maira", "#{pane_pid}").Output()
	if err != nil {
		t.Fatal(err)
	}
	sh := strings.TrimSpace(string(out))
	children, err := os.ReadFile(filepath.Join("/proc", sh, "task", sh, "children"))
	if err != nil || len(strings.Fields(string(children))) != 1 {
		t.Skipf("cannot find maira watch under the pane's shell %s (%v %q)", sh, err, children)
	}
	var pid int
	fmt.Sscan(string(children), &pid)
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	scr := s.wait(20*time.Second, "maira watch: stopped", "exit status 0")
	if strings.Contains(scr, "[1 Now]") {
		t.Errorf("the screen was not taken down:\n%s", scr)
	}
}
