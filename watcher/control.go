package watcher

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"
)

// The control socket's protocol: one JSON request per line, one JSON answer
// (or, for "events", a stream of Event lines). A request that fails is
// answered {"request_error": "..."} (a failed study's own "error" is data,
// not a failed request). Patient identifiers never cross it except inside
// a study's report text: studies are named by key.
//
//	{"cmd":"status"}                 Status
//	{"cmd":"history","query":"x"}    {"studies": [StudyLine...]}, done and failed, newest first
//	{"cmd":"report","study":"KEY"}   StudyReport
//	{"cmd":"device"}                 Device
//	{"cmd":"log","lines":N}          {"lines": [...]}
//	{"cmd":"pause"} {"cmd":"resume"} {"ok": true}: the operator's pause of intake
//	{"cmd":"retry","study":"KEY"}    {"ok": true}: a failed study's files back into the drop folder
//	{"cmd":"events"}                 Event lines until the connection closes
type Request struct {
	Cmd   string `json:"cmd"`
	Study string `json:"study,omitempty"`
	Query string `json:"query,omitempty"`
	Lines int    `json:"lines,omitempty"`
}

// requestError is the answer to a request that failed.
func requestError(msg string) map[string]string { return map[string]string{"request_error": msg} }

// StudyReport is one finished study for the history view.
type StudyReport struct {
	StudyLine
	Attempts int      `json:"attempts"`
	Files    []string `json:"files"` // input names
	Notes    []string `json:"notes"`
	// ReportText is report.txt (empty for a failed study). It holds the
	// study's accession number and patient ID as the report does: the
	// viewer is the operator's own screen, not a log.
	ReportText string   `json:"report_text,omitempty"`
	Timings    *Timings `json:"timings,omitempty"`
}

// Timings are a report's stage times.
type Timings struct {
	PreprocessMS      float64 `json:"preprocess_ms"`
	EncodeMS          float64 `json:"encode_ms"`
	PrefillMS         float64 `json:"prefill_ms"`
	DecodeMS          float64 `json:"decode_ms"`
	TotalMS           float64 `json:"total_ms"`
	PromptTokens      int     `json:"prompt_tokens"`
	GeneratedTokens   int     `json:"generated_tokens"`
	PrefillTokensPerS float64 `json:"prefill_tokens_per_s"`
	DecodeTokensPerS  float64 `json:"decode_tokens_per_s"`
}

// Info describes what the service runs on, set by the command that starts
// it.
type Info struct {
	Backend      string `json:"backend"` // e.g. "cpu (avx512 kernels, 16 threads)"
	Model        string `json:"model"`   // file name
	ModelName    string `json:"model_name"`
	Quantization string `json:"quantization"`
	Version      string `json:"version"`
}

// Device is the device view.
type Device struct {
	Info
	Started        time.Time `json:"started"`
	UptimeS        float64   `json:"uptime_s"`
	RSSBytes       int64     `json:"rss_bytes"`
	PeakRSSBytes   int64     `json:"peak_rss_bytes"`
	GoVersion      string    `json:"go_version"`
	Disks          []Disk    `json:"disks"`
	StudiesPerHour float64   `json:"studies_per_hour"` // done in the last hour
	Done           int       `json:"done"`
	Failed         int       `json:"failed"`
}

// Disk is a folder's file system.
type Disk struct {
	Folder    string `json:"folder"`
	Path      string `json:"path"`
	FreeBytes int64  `json:"free_bytes"`
	SizeBytes int64  `json:"size_bytes"`
}

// SetInfo records what the service runs on, for the device view.
func (s *Service) SetInfo(i Info) { s.mu.Lock(); s.info = i; s.mu.Unlock() }

// handle answers one request other than "events".
func (s *Service) handle(req Request) any {
	fail := func(err error) any { return requestError(err.Error()) }
	switch req.Cmd {
	case "status":
		st, err := s.Snapshot()
		if err != nil {
			return fail(err)
		}
		return st
	case "history":
		lines, err := s.history(req.Query)
		if err != nil {
			return fail(err)
		}
		return map[string]any{"studies": lines}
	case "report":
		r, err := s.studyReport(req.Study)
		if err != nil {
			return fail(err)
		}
		return r
	case "device":
		return s.device()
	case "log":
		n := req.Lines
		if n <= 0 || n > logRingSize {
			n = logRingSize
		}
		return map[string]any{"lines": s.logs.Last(n)}
	case "pause", "resume":
		s.mu.Lock()
		s.held = req.Cmd == "pause"
		s.mu.Unlock()
		s.log.Info("intake "+map[string]string{"pause": "paused", "resume": "resumed"}[req.Cmd]+" by the operator", "via", "control socket")
		s.wake()
		return map[string]bool{"ok": true}
	case "retry":
		if err := s.retry(req.Study); err != nil {
			return fail(err)
		}
		return map[string]bool{"ok": true}
	}
	return fail(fmt.Errorf("unknown command %q", req.Cmd))
}

// history lists the finished studies, newest first, those whose key,
// state, error or input names contain query (case-insensitively).
func (s *Service) history(query string) ([]StudyLine, error) {
	all, err := s.store.All()
	if err != nil {
		return nil, err
	}
	q := strings.ToLower(query)
	var out []StudyLine
	for i := len(all) - 1; i >= 0; i-- {
		x := all[i]
		if x.State != Done && x.State != Failed {
			continue
		}
		if q != "" {
			hay := strings.ToLower(x.Key + " " + string(x.State) + " " + x.Error)
			for _, f := range x.Files {
				hay += " " + strings.ToLower(f.Name)
			}
			if !strings.Contains(hay, q) {
				continue
			}
		}
		out = append(out, line(x))
	}
	if out == nil {
		out = []StudyLine{}
	}
	return out, nil
}

func line(x *Study) StudyLine {
	l := StudyLine{Study: x.Key, State: x.State, Images: len(x.Files), Arrived: x.Arrived, Finished: x.Finished, ReportDir: x.ReportDir, Error: x.Error}
	if x.Timings != nil {
		l.Seconds = x.Timings.TotalMS / 1000
	}
	return l
}

func (s *Service) studyReport(key string) (*StudyReport, error) {
	x, err := s.store.Get(key)
	if err != nil {
		return nil, err
	}
	if x == nil {
		return nil, fmt.Errorf("no study %q", key)
	}
	r := &StudyReport{StudyLine: line(x), Attempts: x.Attempts, Notes: x.Notes, Files: []string{}}
	for _, f := range x.Files {
		r.Files = append(r.Files, f.Name)
	}
	if x.Timings != nil {
		t := x.Timings
		r.Timings = &Timings{PreprocessMS: t.PreprocessMS, EncodeMS: t.EncodeMS, PrefillMS: t.PrefillMS, DecodeMS: t.DecodeMS,
			TotalMS: t.TotalMS, PromptTokens: t.PromptTokens, GeneratedTokens: t.GeneratedTokens,
			PrefillTokensPerS: t.PrefillTokensPerS, DecodeTokensPerS: t.DecodeTokensPerS}
	}
	if x.State == Done && x.ReportDir != "" {
		if b, err := os.ReadFile(filepath.Join(x.ReportDir, "report.txt")); err == nil {
			r.ReportText = string(b)
		}
	}
	return r, nil
}

func (s *Service) device() Device {
	s.mu.Lock()
	d := Device{Info: s.info, Started: s.started}
	s.mu.Unlock()
	d.UptimeS = time.Since(d.Started).Seconds()
	d.RSSBytes, d.PeakRSSBytes = procMemory()
	d.GoVersion = runtime.Version()
	for _, f := range []struct{ name, path string }{{"drop folder", s.cfg.In}, {"output", s.cfg.Out}, {"data", s.cfg.Data}} {
		var fs syscall.Statfs_t
		if syscall.Statfs(f.path, &fs) == nil {
			d.Disks = append(d.Disks, Disk{Folder: f.name, Path: f.path, FreeBytes: int64(fs.Bavail) * int64(fs.Bsize), SizeBytes: int64(fs.Blocks) * int64(fs.Bsize)})
		}
	}
	if all, err := s.store.All(); err == nil {
		hour := time.Now().Add(-time.Hour)
		for _, x := range all {
			switch x.State {
			case Done:
				d.Done++
				if x.Finished.After(hour) {
					d.StudiesPerHour++
				}
			case Failed:
				d.Failed++
			}
		}
	}
	return d
}

// procMemory reads the process's resident and peak resident memory.
func procMemory() (rss, peak int64) {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, 0
	}
	for _, l := range strings.Split(string(data), "\n") {
		var kb int64
		switch {
		case strings.HasPrefix(l, "VmRSS:"):
			fmt.Sscanf(strings.TrimSpace(l[6:]), "%d", &kb)
			rss = kb << 10
		case strings.HasPrefix(l, "VmHWM:"):
			fmt.Sscanf(strings.TrimSpace(l[6:]), "%d", &kb)
			peak = kb << 10
		}
	}
	return rss, peak
}

// retry puts a failed study's files back into the drop folder, where they
// are taken in again as the same study (the store knows their content) and
// reported.
func (s *Service) retry(key string) error {
	x, err := s.store.Get(key)
	if err != nil {
		return err
	}
	if x == nil {
		return fmt.Errorf("no study %q", key)
	}
	if x.State != Failed {
		return fmt.Errorf("study %s is %s, not failed", key, x.State)
	}
	// The store learns the new places first: the files' arrival in the
	// drop folder must find them already expected, not take them for
	// duplicates.
	failed := filepath.Join(s.cfg.Out, "failed") + string(filepath.Separator)
	type move struct{ from, to string }
	var moves []move
	files := append([]Input(nil), x.Files...)
	for i, f := range files {
		if !strings.HasPrefix(f.Path, failed) {
			continue
		}
		dst := filepath.Join(s.cfg.In, f.Name)
		if fileExists(dst) {
			return fmt.Errorf("%s is in the drop folder already", f.Name)
		}
		moves = append(moves, move{f.Path, dst})
		files[i].Path = dst
	}
	old := *x
	if _, err := s.store.Update(key, func(st *Study) error {
		st.Files, st.State, st.Error, st.Attempts, st.Archived = files, Collecting, "", 0, false
		st.LastArrival, st.Finished = time.Now(), time.Time{}
		st.Notes = append(st.Notes, "retried by the operator")
		return nil
	}); err != nil {
		return err
	}
	for i, m := range moves {
		if err := moveFile(m.from, m.to); err != nil {
			// Put back what moved and the record as it was.
			for _, done := range moves[:i] {
				moveFile(done.to, done.from)
			}
			s.store.Put(&old)
			return err
		}
		os.Remove(m.from + ".reason.txt")
	}
	s.log.Info("study retried by the operator", "study", key)
	s.emit(Event{Kind: "queued", Study: key, Message: "retry"})
	s.wake()
	return nil
}

// Client talks to a running service through its control socket.
type Client struct{ Data string }

// dial connects to the socket and sends one request.
func (c Client) dial(req Request) (net.Conn, error) {
	path := SocketPath(c.Data)
	conn, err := net.DialTimeout("unix", path, 2*time.Second)
	if err != nil {
		return nil, fmt.Errorf("%s: no maira watch is answering (%v)", path, errors.Unwrap(err))
	}
	b, _ := json.Marshal(req)
	conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if _, err := conn.Write(append(b, '\n')); err != nil {
		conn.Close()
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	conn.SetWriteDeadline(time.Time{})
	return conn, nil
}

func (c Client) call(req Request, out any) error {
	path := SocketPath(c.Data)
	conn, err := c.dial(req)
	if err != nil {
		return err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	raw, err := io.ReadAll(conn)
	if err != nil {
		return fmt.Errorf("%s: %v", path, err)
	}
	var e struct {
		Error string `json:"request_error"`
	}
	if json.Unmarshal(raw, &e) == nil && e.Error != "" {
		return errors.New(e.Error)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			return fmt.Errorf("%s: %v", path, err)
		}
	}
	return nil
}

// Status returns the service's status.
func (c Client) Status() (Status, error) {
	var st Status
	err := c.call(Request{Cmd: "status"}, &st)
	return st, err
}

// History returns the finished studies matching query, newest first.
func (c Client) History(query string) ([]StudyLine, error) {
	var r struct {
		Studies []StudyLine `json:"studies"`
	}
	err := c.call(Request{Cmd: "history", Query: query}, &r)
	return r.Studies, err
}

// Report returns one study's details and report text.
func (c Client) Report(key string) (*StudyReport, error) {
	r := &StudyReport{}
	if err := c.call(Request{Cmd: "report", Study: key}, r); err != nil {
		return nil, err
	}
	return r, nil
}

// Device returns the device view.
func (c Client) Device() (Device, error) {
	var d Device
	err := c.call(Request{Cmd: "device"}, &d)
	return d, err
}

// Log returns the last n log lines.
func (c Client) Log(n int) ([]string, error) {
	var r struct {
		Lines []string `json:"lines"`
	}
	err := c.call(Request{Cmd: "log", Lines: n}, &r)
	return r.Lines, err
}

// Pause holds intake; Resume releases it.
func (c Client) Pause() error  { return c.call(Request{Cmd: "pause"}, nil) }
func (c Client) Resume() error { return c.call(Request{Cmd: "resume"}, nil) }

// Retry sends a failed study round again.
func (c Client) Retry(key string) error { return c.call(Request{Cmd: "retry", Study: key}, nil) }

// Events streams the service's events until ctx ends or the service goes;
// the channel is then closed.
func (c Client) Events(ctx context.Context) (<-chan Event, error) {
	conn, err := c.dial(Request{Cmd: "events"})
	if err != nil {
		return nil, err
	}
	ch := make(chan Event, 256)
	go func() { <-ctx.Done(); conn.Close() }()
	go func() {
		defer close(ch)
		defer conn.Close()
		dec := json.NewDecoder(conn)
		for {
			var ev Event
			if err := dec.Decode(&ev); err != nil {
				return
			}
			select {
			case ch <- ev:
			case <-ctx.Done():
				return
			}
		}
	}()
	return ch, nil
}

// logRingSize is how many log lines the service keeps for the log view.
const logRingSize = 500

// LogRing keeps the last log lines, for the log view.
type LogRing struct {
	mu    sync.Mutex
	lines []string
	next  int
	full  bool
}

// NewLogRing returns an empty ring.
func NewLogRing() *LogRing { return &LogRing{lines: make([]string, logRingSize)} }

// Write takes one or more formatted log lines (an io.Writer for slog's
// handlers).
func (r *LogRing) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, l := range strings.Split(strings.TrimRight(string(p), "\n"), "\n") {
		r.lines[r.next] = l
		r.next = (r.next + 1) % len(r.lines)
		r.full = r.full || r.next == 0
	}
	return len(p), nil
}

// Last returns the last n lines, oldest first.
func (r *LogRing) Last(n int) []string {
	if r == nil {
		return []string{}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	var all []string
	if r.full {
		all = append(all, r.lines[r.next:]...)
	}
	all = append(all, r.lines[:r.next]...)
	if len(all) > n {
		all = all[len(all)-n:]
	}
	return all
}

// TeeLogger returns a logger that writes text lines to w (nil: nowhere)
// and to the ring, and the ring.
func TeeLogger(w io.Writer, json bool) (*slog.Logger, *LogRing) {
	ring := NewLogRing()
	out := io.Writer(ring)
	if w != nil {
		out = io.MultiWriter(w, ring)
	}
	var h slog.Handler = slog.NewTextHandler(out, nil)
	if json {
		h = slog.NewJSONHandler(out, nil)
	}
	return slog.New(h), ring
}
