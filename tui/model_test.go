package tui

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/exp/teatest/v2"

	"maira/watcher"
)

// updating tells whether -update (teatest's golden-file flag) was given.
func updating() bool {
	f := flag.Lookup("update")
	return f != nil && f.Value.String() == "true"
}

// clock is the fixtures' now.
var clock = time.Date(2026, 11, 27, 10, 20, 0, 0, time.UTC)

// fixture is a service as the socket shows it, from testdata: real
// watcher structs, changed by the tests as the service would change them.
type fixture struct {
	mu      sync.Mutex
	status  watcher.Status
	history []watcher.StudyLine
	reports map[string]*watcher.StudyReport
	device  watcher.Device
	logs    []string
	events  chan watcher.Event
	down    bool
	calls   []string
}

func load(t *testing.T, name string, v any) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}

func newFixture(t *testing.T) *fixture {
	f := &fixture{events: make(chan watcher.Event, 256)}
	load(t, "status.json", &f.status)
	load(t, "history.json", &f.history)
	load(t, "reports.json", &f.reports)
	load(t, "device.json", &f.device)
	b, err := os.ReadFile("testdata/log.txt")
	if err != nil {
		t.Fatal(err)
	}
	f.logs = strings.Split(strings.TrimSpace(string(b)), "\n")
	return f
}

var errDown = errors.New("/srv/maira/out/.maira/control.sock: no maira watch is answering (connection refused)")

func (f *fixture) Status() (watcher.Status, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return watcher.Status{}, errDown
	}
	st := f.status
	st.Time = clock
	return st, nil
}

func (f *fixture) History(q string) ([]watcher.StudyLine, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return nil, errDown
	}
	out := []watcher.StudyLine{}
	for _, x := range f.history {
		if strings.Contains(strings.ToLower(x.Study+" "+string(x.State)+" "+x.Error), strings.ToLower(q)) {
			out = append(out, x)
		}
	}
	return out, nil
}

func (f *fixture) Report(key string) (*watcher.StudyReport, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if r, ok := f.reports[key]; ok {
		return r, nil
	}
	return nil, errors.New("no study " + key)
}

func (f *fixture) Device() (watcher.Device, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.device, nil
}

func (f *fixture) Log(n int) ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.logs[max(0, len(f.logs)-n):], nil
}

func (f *fixture) record(call string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, call)
	switch call {
	case "pause":
		f.status.Paused, f.status.Held = "intake paused by the operator", true
	case "resume":
		f.status.Paused, f.status.Held = "", false
	}
	return nil
}

func (f *fixture) Pause() error           { return f.record("pause") }
func (f *fixture) Resume() error          { return f.record("resume") }
func (f *fixture) Retry(key string) error { return f.record("retry " + key) }

func (f *fixture) Events(ctx context.Context) (<-chan watcher.Event, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return nil, errDown
	}
	return f.events, nil
}

func (f *fixture) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

// stop makes the service go away: the event stream ends, the socket stops
// answering.
func (f *fixture) stop() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.down = true
	close(f.events)
}

func (f *fixture) start() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.down = false
	f.events = make(chan watcher.Event, 256)
}

// probe is a message the model ignores: sending it makes the program show
// the filter the model as it stands after everything sent before it.
type probe struct{}

// screen runs the model under teatest and keeps its latest state.
type screenTest struct {
	t  *testing.T
	tm *teatest.TestModel
	mu sync.Mutex
	m  Model
}

func run(t *testing.T, src Source, w, h int, extra ...tea.ProgramOption) *screenTest {
	t.Helper()
	s := &screenTest{t: t}
	m := New(context.Background(), src, Options{Title: "maira tui", Socket: "/srv/maira/out/.maira/control.sock",
		Now: func() time.Time { return clock }, Poll: 40 * time.Millisecond, Retry: 60 * time.Millisecond})
	s.m = m
	opts := append([]tea.ProgramOption{tea.WithFilter(func(tm tea.Model, msg tea.Msg) tea.Msg {
		if mm, ok := tm.(Model); ok {
			s.mu.Lock()
			s.m = mm
			s.mu.Unlock()
		}
		return msg
	})}, extra...)
	s.tm = teatest.NewTestModel(t, m, teatest.WithInitialTermSize(w, h), teatest.WithProgramOptions(opts...))
	t.Cleanup(func() { s.tm.Quit() })
	return s
}

// screen is the current screen as plain text.
func (s *screenTest) screen() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return ansi.Strip(s.m.View().Content)
}

// wait waits until the screen shows every one of want.
func (s *screenTest) wait(want ...string) string {
	s.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	var scr string
	for time.Now().Before(deadline) {
		s.tm.Send(probe{})
		time.Sleep(15 * time.Millisecond)
		scr = s.screen()
		ok := true
		for _, w := range want {
			ok = ok && strings.Contains(scr, w)
		}
		if ok {
			return scr
		}
	}
	s.t.Fatalf("the screen never showed %q:\n%s", want, scr)
	return ""
}

func (s *screenTest) key(keys ...string) {
	for _, k := range keys {
		switch k {
		case "tab":
			s.tm.Send(tea.KeyPressMsg{Code: tea.KeyTab})
		case "shift+tab":
			s.tm.Send(tea.KeyPressMsg{Code: tea.KeyTab, Mod: tea.ModShift})
		case "enter":
			s.tm.Send(tea.KeyPressMsg{Code: tea.KeyEnter})
		case "esc":
			s.tm.Send(tea.KeyPressMsg{Code: tea.KeyEscape})
		case "down":
			s.tm.Send(tea.KeyPressMsg{Code: tea.KeyDown})
		case "up":
			s.tm.Send(tea.KeyPressMsg{Code: tea.KeyUp})
		case "ctrl+c":
			s.tm.Send(tea.KeyPressMsg{Code: 'c', Mod: tea.ModCtrl})
		default:
			s.tm.Type(k)
		}
	}
}

// checkSize checks that a screen is exactly h lines of at most w cells.
func checkSize(t *testing.T, scr string, w, h int) {
	t.Helper()
	lines := strings.Split(scr, "\n")
	if len(lines) != h {
		t.Errorf("%d lines, want %d", len(lines), h)
	}
	for i, l := range lines {
		if n := ansi.StringWidth(l); n > w {
			t.Errorf("line %d is %d cells wide, want at most %d: %q", i, n, w, l)
		}
	}
}

// golden compares a screen with testdata/NAME.golden (-update rewrites it).
func golden(t *testing.T, name, scr string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if updating() {
		if err := os.WriteFile(path, []byte(scr+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./tui/ -update to write it)", err)
	}
	if string(want) != scr+"\n" {
		t.Errorf("%s: the screen differs from the golden one (go test ./tui/ -update rewrites it)\ngot:\n%s\nwant:\n%s", name, scr, want)
	}
}

func TestMain(m *testing.M) {
	time.Local = time.UTC // the screens show local times
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// TestViews draws each view from the fixtures at 80x24 and compares it with
// its golden screen.
func TestViews(t *testing.T) {
	f := newFixture(t)
	s := run(t, f, 80, 24)
	want := map[string][]string{
		"now":            {"[1 Now]", "3f2a9c1e0b7d4a55", "frontal: demo000-PA.dcm", "Cough and fever.", "40/300 tok", "The lungs are clear.", "DRAFT: machine-generated findings for review by a radiologist; not a diagnosis."},
		"queue":          {"[2 Queue]", "Intake: open", "9b1e77c0a4d2f310", "queued", "1m30s", "demo002", "Failed recently: 1", "badc0de000000001"},
		"history":        {"[3 History]", "c0ffee1234567890", "FAILED", "transfer…", "Nov 26"},
		"history-report": {"Study c0ffee1234567890  done", "Timings decode 310ms  encode 4.2s  prefill 21.0s  generate 32.8s", "FINDINGS:", "Patient ID: DEMO-100000", "not a diagnosis."},
		"history-failed": {"Study badc0de000000001  FAILED", "Reason  decoding demo001-PA.dcm: transfer syntax JPEG-LS", "r retry", "not a diagnosis."},
		"device":         {"[4 Device]", "cpu (avx2 kernels, 2 threads)", "MAIRA-2 (maira-2-q4_k.gguf)", "Q4_K (mixed)", "5.0 GiB resident", "2h20m", "12 in the last hour", "/srv/maira/out"},
		"log":            {"[5 Log]", "study started", "study=3f2a9c1e0b7d4a55 attempt=1", "4.80) is not supported"},
	}
	steps := []struct {
		name string
		keys []string
	}{
		{"now", nil}, {"queue", []string{"2"}}, {"history", []string{"3"}}, {"history-report", []string{"enter"}},
		{"history-failed", []string{"esc", "down", "enter"}}, {"device", []string{"esc", "4"}}, {"log", []string{"5"}},
	}
	for _, st := range steps {
		s.key(st.keys...)
		scr := s.wait(want[st.name]...)
		checkSize(t, scr, 80, 24)
		golden(t, st.name, scr)
		if !strings.Contains(scr, "q quit viewer") {
			t.Errorf("%s: the help bar does not show how to quit:\n%s", st.name, scr)
		}
	}
}

// TestKeys: tab and shift+tab cycle the views, digits pick one, / types a
// search in which q is a letter, esc clears it, q quits.
func TestKeys(t *testing.T) {
	f := newFixture(t)
	s := run(t, f, 80, 24)
	s.wait("[1 Now]")
	s.key("tab")
	s.wait("[2 Queue]")
	s.key("tab", "tab")
	s.wait("[4 Device]")
	s.key("shift+tab")
	s.wait("[3 History]", "c0ffee1234567890")
	s.key("/", "q", "badc")
	s.wait("search: qbadc")
	s.key("esc", "/", "badc", "enter")
	scr := s.wait(`search: "badc"  (1 found`)
	if strings.Contains(scr, "c0ffee1234567890") {
		t.Errorf("the search kept a study it does not match:\n%s", scr)
	}
	s.key("esc")
	s.wait("c0ffee1234567890", "a1b2c3d4e5f60718")
	s.key("1")
	s.wait("[1 Now]")
	s.key("q")
	fm := s.tm.FinalModel(t, teatest.WithFinalTimeout(5*time.Second)).(Model)
	if fm.screen != screenNow {
		t.Errorf("quit on view %d", fm.screen)
	}
}

func TestCtrlC(t *testing.T) {
	s := run(t, newFixture(t), 80, 24)
	s.wait("[1 Now]")
	s.key("3", "/", "ctrl+c") // even while typing a search
	s.tm.WaitFinished(t, teatest.WithFinalTimeout(5*time.Second))
}

// TestResize: the screen follows the terminal's size.
func TestResize(t *testing.T) {
	f := newFixture(t)
	s := run(t, f, 80, 24)
	s.key("2")
	scr := s.wait("[2 Queue]", "badc0de000000001")
	checkSize(t, scr, 80, 24)
	if strings.Contains(scr, "JPEG-LS Lossless (1.2.840.10008.1.2.4.80)") {
		t.Errorf("the long error fits in 80 columns?\n%s", scr)
	}
	s.tm.Send(tea.WindowSizeMsg{Width: 120, Height: 40})
	scr = s.wait("JPEG-LS Lossless (1.2.840.10008.1.2.4.80)")
	checkSize(t, scr, 120, 40)
	golden(t, "queue-120x40", scr)
	s.key("1")
	scr = s.wait("[1 Now]")
	checkSize(t, scr, 120, 40)
	if last := strings.Split(scr, "\n")[37]; !strings.Contains(last, "not a diagnosis") {
		t.Errorf("the notice is not above the message and help lines at 120x40: %q\n%s", last, scr)
	}
	s.tm.Send(tea.WindowSizeMsg{Width: 80, Height: 24})
	time.Sleep(50 * time.Millisecond)
	scr = s.wait("[1 Now]")
	checkSize(t, scr, 80, 24)
}

// TestStreaming: a study's stages and tokens arrive as events; the Now view
// shows the bars, the rates and the findings as they are written.
func TestStreaming(t *testing.T) {
	f := newFixture(t)
	f.status.Running = nil
	s := run(t, f, 80, 24)
	s.wait("No study is being reported.")
	key := "77aa00bb11cc22dd"
	t0 := clock.Add(-10 * time.Second)
	f.mu.Lock()
	f.status.Running = &watcher.RunningStudy{Study: key, Started: t0, Stage: "decode image", Images: []string{"frontal: x.png"}, Indication: "Shortness of breath."}
	f.mu.Unlock()
	send := func(ev watcher.Event) { f.events <- ev }
	send(watcher.Event{Time: t0, Kind: "started", Study: key})
	send(watcher.Event{Time: t0, Kind: "stage", Study: key, Message: "decode image"})
	send(watcher.Event{Time: t0.Add(200 * time.Millisecond), Kind: "stage", Study: key, Message: "encode"})
	send(watcher.Event{Time: t0.Add(time.Second), Kind: "stage", Study: key, Message: "prefill", Total: 1000})
	s.wait("Study 77aa00bb11cc22dd", "frontal: x.png", "Shortness of breath.", "prefill      ░", "running 9.0s  1000 tok", "(none yet)")
	gen := t0.Add(5 * time.Second)
	send(watcher.Event{Time: gen, Kind: "stage", Study: key, Message: "generate", Total: 20})
	words := []string{"The", " heart", " is", " normal", " in", " size", "."}
	for i, w := range words {
		send(watcher.Event{Time: gen.Add(time.Duration(i+1) * 500 * time.Millisecond), Kind: "token", Study: key, Text: w, Tokens: i + 1, Total: 20})
	}
	scr := s.wait("The heart is normal in size.", "7/20 tok  2.0 tok/s  ETA ≤6.5s", "prefill      ████████████████████ done in 4.0s  1000 tok  250 tok/s",
		"encode       ████████████████████ done in 800ms", "not a diagnosis.")
	checkSize(t, scr, 80, 24)
	golden(t, "now-streaming", scr)
	f.mu.Lock()
	f.status.Running = nil
	f.status.Recent = append([]watcher.StudyLine{{Study: key, State: watcher.Done, Images: 1, Arrived: t0, Finished: gen.Add(4 * time.Second)}}, f.status.Recent...)
	f.mu.Unlock()
	send(watcher.Event{Time: gen.Add(4 * time.Second), Kind: "done", Study: key})
	s.wait("done 1.0s ago", "generate     ████████████████████ done  7 tok")
}

// TestReconnectText: a viewer that attaches in the middle of a study (or
// lost events) shows the findings so far from the status.
func TestReconnectText(t *testing.T) {
	f := newFixture(t)
	s := run(t, f, 80, 24)
	s.wait("The lungs are clear. There is no focal consolidation", "40/300 tok")
	f.mu.Lock()
	f.status.Running.Tokens, f.status.Running.Text = 44, f.status.Running.Text+" The heart is normal."
	f.mu.Unlock()
	s.wait("The heart is normal.", "44/300 tok")
}

// TestFailureInHistory: a study fails; its failure shows in History with
// its reason, and the Queue offers it for retry.
func TestFailureInHistory(t *testing.T) {
	f := newFixture(t)
	s := run(t, f, 80, 24)
	s.key("3")
	s.wait("c0ffee1234567890")
	key := "3f2a9c1e0b7d4a55"
	reason := "generate: out of memory"
	f.mu.Lock()
	f.status.Running = nil
	line := watcher.StudyLine{Study: key, State: watcher.Failed, Images: 2, Arrived: clock.Add(-time.Minute), Finished: clock, Error: reason}
	f.status.Recent = append([]watcher.StudyLine{line}, f.status.Recent...)
	f.history = append([]watcher.StudyLine{line}, f.history...)
	f.reports[key] = &watcher.StudyReport{StudyLine: line, Attempts: 1, Files: []string{"demo000-PA.dcm", "demo000-LL.dcm"}}
	f.mu.Unlock()
	f.events <- watcher.Event{Time: clock, Kind: "failed", Study: key, Message: reason}
	scr := s.wait("> "+key+"  FAILED  10:20:00          generate: out of memory", "study "+key+" failed: generate: out of memory")
	if i, j := strings.Index(scr, key), strings.Index(scr, "c0ffee1234567890"); i > j {
		t.Errorf("the newest study is not first:\n%s", scr)
	}
	s.key("enter")
	s.wait("Reason  generate: out of memory", "Files   demo000-PA.dcm, demo000-LL.dcm")
	s.key("esc", "2")
	s.wait("Failed recently: 2", "> "+key)
}

// TestActions: p pauses and resumes intake, r retries the selected failed
// study, in the Queue and in History: each calls the service.
func TestActions(t *testing.T) {
	f := newFixture(t)
	s := run(t, f, 80, 24)
	s.key("2")
	s.wait("Intake: open", "p pause")
	s.key("p")
	s.wait("Intake: PAUSED by the operator", "PAUSED", "intake paused", "p resume")
	s.key("p")
	s.wait("Intake: open", "intake resumed")
	s.key("r")
	s.wait("study badc0de000000001 sent back for another try")
	s.key("3")
	s.wait("c0ffee1234567890")
	s.key("down", "r") // the failed one
	s.wait("> badc0de000000001")
	s.key("up", "r") // a done one: nothing to retry
	s.key("down", "enter")
	s.wait("Reason  decoding")
	s.key("r")
	deadline := time.Now().Add(5 * time.Second)
	want := "pause resume retry badc0de000000001 retry badc0de000000001 retry badc0de000000001"
	for strings.Join(f.Calls(), " ") != want && time.Now().Before(deadline) {
		s.tm.Send(probe{})
		time.Sleep(20 * time.Millisecond)
	}
	if got := strings.Join(f.Calls(), " "); got != want {
		t.Errorf("calls %q, want %q", got, want)
	}
}

// TestServiceGone: when the service stops, the viewer says so and keeps
// trying; when it is back, the viewer is too.
func TestServiceGone(t *testing.T) {
	f := newFixture(t)
	s := run(t, f, 80, 24)
	s.wait("WORKING")
	f.stop()
	scr := s.wait("NOT CONNECTED", "service not answering", "retrying every 60ms")
	checkSize(t, scr, 80, 24)
	if !strings.Contains(scr, "3f2a9c1e0b7d4a55") {
		t.Errorf("the last known state is gone:\n%s", scr)
	}
	f.start()
	s.wait("WORKING")
	f.events <- watcher.Event{Time: clock, Kind: "token", Study: "3f2a9c1e0b7d4a55", Text: " Events again.", Tokens: 41, Total: 300}
	s.wait("Events again.")
}

// sgr matches a Select Graphic Rendition sequence.
var sgr = regexp.MustCompile("\x1b\\[([0-9;:]*)m")

// TestNoColor: on a colour terminal the states have colours; with NO_COLOR,
// or on a terminal without colour, the output has none (only bold and
// reverse video), and the states are words, so nothing is lost.
func TestNoColor(t *testing.T) {
	for _, c := range []struct {
		env    []string
		colour bool
	}{
		{[]string{"TERM=xterm-256color", "TTY_FORCE=1"}, true},
		{[]string{"TERM=xterm-256color", "TTY_FORCE=1", "NO_COLOR=1"}, false},
		{[]string{"TERM=dumb", "TTY_FORCE=1"}, false},
	} {
		f := newFixture(t)
		s := run(t, f, 80, 24, tea.WithEnvironment(c.env))
		s.key("2")
		s.wait("Failed recently")
		s.key("3")
		s.wait("FAILED")
		time.Sleep(100 * time.Millisecond)
		s.tm.Quit()
		out, _ := readAll(s.tm.FinalOutput(t, teatest.WithFinalTimeout(5*time.Second)))
		if !strings.Contains(out, "badc0de000000001") {
			t.Fatalf("%v: no screen in the output", c.env)
		}
		if got := colours(out); got != c.colour {
			t.Errorf("%v: colours %v, want %v", c.env, got, c.colour)
		}
	}
}

// colours tells whether out sets a foreground or background colour.
func colours(out string) bool {
	for _, m := range sgr.FindAllStringSubmatch(out, -1) {
		for p := range strings.SplitSeq(strings.ReplaceAll(m[1], ":", ";"), ";") {
			if len(p) == 2 && (p[0] == '3' || p[0] == '4' || p[0] == '9') && p != "39" && p != "49" || len(p) == 3 && strings.HasPrefix(p, "10") {
				return true
			}
		}
	}
	return false
}

func readAll(r interface{ Read([]byte) (int, error) }) (string, error) {
	var b strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := r.Read(buf)
		b.Write(buf[:n])
		if err != nil || n == 0 {
			return b.String(), nil
		}
	}
}

// TestLiveAfterDone: the service still names a study running while it
// archives its inputs after the "done" event; the Now view keeps it done,
// and a later run of the same study (a retry) starts afresh.
func TestLiveAfterDone(t *testing.T) {
	t0 := clock
	var l live
	for _, ev := range []watcher.Event{
		{Time: t0, Kind: "started", Study: "k"},
		{Time: t0.Add(time.Second), Kind: "stage", Study: "k", Message: "generate", Total: 4},
		{Time: t0.Add(2 * time.Second), Kind: "token", Study: "k", Text: "Clear.", Tokens: 1, Total: 4},
		{Time: t0.Add(3 * time.Second), Kind: "done", Study: "k"},
	} {
		l = l.apply(ev)
	}
	st := watcher.Status{Time: t0.Add(3500 * time.Millisecond), Running: &watcher.RunningStudy{Study: "k", Started: t0, Stage: "generate", Tokens: 1, Total: 4, Text: "Clear."}}
	if l = l.merge(st); l.finished != "done" || l.text != "Clear." || l.stageAt[0] != t0 {
		t.Errorf("archiving: %+v", l)
	}
	st = watcher.Status{Time: t0.Add(time.Minute), Running: &watcher.RunningStudy{Study: "k", Started: t0.Add(50 * time.Second), Stage: "encode"}}
	if l = l.merge(st); l.finished != "" || l.text != "" || l.stage != 1 {
		t.Errorf("retried: %+v", l)
	}
}
