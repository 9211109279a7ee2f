package watcher

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// Event is one thing the service did, for the terminal UI and the status.
type Event struct {
	Time    time.Time `json:"time"`
	Kind    string    `json:"kind"` // arrived, refused, duplicate, late, queued, started, stage, token, done, failed, paused, resumed
	Study   string    `json:"study,omitempty"`
	File    string    `json:"file,omitempty"`
	Message string    `json:"message,omitempty"`
	Token   int32     `json:"token,omitempty"`
	Text    string    `json:"text,omitempty"` // a token's text, as it extends the report
	Tokens  int       `json:"tokens,omitempty"`
	Total   int       `json:"total,omitempty"`
}

// Status is what `maira status` shows.
type Status struct {
	Time     time.Time     `json:"time"`
	In       string        `json:"in"`
	Out      string        `json:"out"`
	Paused   string        `json:"paused,omitempty"` // why intake is paused
	Held     bool          `json:"held"`             // paused by the operator (resume clears it)
	Settling int           `json:"settling"`         // files not yet complete
	Running  *RunningStudy `json:"running,omitempty"`
	Queue    []StudyLine   `json:"queue"`  // collecting and queued, oldest first
	Recent   []StudyLine   `json:"recent"` // done and failed, newest first
	Counts   map[State]int `json:"counts"`
}

// RunningStudy is the study being reported.
type RunningStudy struct {
	Study      string    `json:"study"`
	Started    time.Time `json:"started"`
	Stage      string    `json:"stage"`
	Tokens     int       `json:"tokens"`
	Total      int       `json:"total"`
	Images     []string  `json:"images"` // input names with their roles, e.g. "frontal: a.dcm"
	Indication string    `json:"indication"`
	Text       string    `json:"text"` // the findings so far
}

// StudyLine is one study in the status, without patient data.
type StudyLine struct {
	Study     string    `json:"study"`
	State     State     `json:"state"`
	Images    int       `json:"images"`
	Arrived   time.Time `json:"arrived"`
	Finished  time.Time `json:"finished,omitzero"`
	ReportDir string    `json:"report_dir,omitempty"`
	Error     string    `json:"error,omitempty"`
	Seconds   float64   `json:"seconds,omitempty"`
}

// recentStudies is how many finished studies the status lists.
const recentStudies = 10

func (s *Service) emit(ev Event) {
	ev.Time = time.Now()
	s.notify(ev)
}

func (s *Service) setRunning(key, stage string, tokens, total int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if key == "" {
		s.status.Running = nil
		return
	}
	if s.status.Running == nil || s.status.Running.Study != key {
		s.status.Running = &RunningStudy{Study: key, Started: time.Now()}
	}
	r := s.status.Running
	r.Stage, r.Tokens, r.Total = stage, tokens, total
}

func (s *Service) setPaused(reason string) {
	s.mu.Lock()
	was := s.status.Paused
	s.status.Paused = reason
	s.mu.Unlock()
	switch {
	case reason != "" && was == "":
		s.log.Warn("intake paused", "reason", reason)
		s.emit(Event{Kind: "paused", Message: reason})
	case reason == "" && was != "":
		s.log.Info("intake resumed")
		s.emit(Event{Kind: "resumed"})
	}
}

// Snapshot returns the current status.
func (s *Service) Snapshot() (Status, error) {
	all, err := s.store.All()
	if err != nil {
		return Status{}, err
	}
	s.mu.Lock()
	st := s.status
	if st.Running != nil {
		r := *st.Running
		st.Running = &r
	}
	s.mu.Unlock()
	st.Time, st.In, st.Out = time.Now(), s.cfg.In, s.cfg.Out
	s.mu.Lock()
	st.Held = s.held
	s.mu.Unlock()
	st.Counts = map[State]int{}
	st.Queue, st.Recent = []StudyLine{}, []StudyLine{}
	for _, x := range all {
		st.Counts[x.State]++
		line := StudyLine{Study: x.Key, State: x.State, Images: len(x.Files), Arrived: x.Arrived, Finished: x.Finished, ReportDir: x.ReportDir, Error: x.Error}
		if x.Timings != nil {
			line.Seconds = x.Timings.TotalMS / 1000
		}
		switch x.State {
		case Collecting, Queued:
			st.Queue = append(st.Queue, line)
		case Done, Failed:
			st.Recent = append(st.Recent, line)
		}
	}
	// Newest first, the last few.
	for i, j := 0, len(st.Recent)-1; i < j; i, j = i+1, j-1 {
		st.Recent[i], st.Recent[j] = st.Recent[j], st.Recent[i]
	}
	if len(st.Recent) > recentStudies {
		st.Recent = st.Recent[:recentStudies]
	}
	return st, nil
}

// SocketPath is the control socket in a data folder.
func SocketPath(data string) string { return filepath.Join(data, "control.sock") }

// Serve answers the control socket until ctx ends: one JSON request per
// line, {"cmd": "status"} or {"cmd": "events"} (a stream of Event lines).
// The socket is a Unix-domain one with mode 0660: the service opens no IP
// socket.
func (s *Service) Serve(ctx context.Context, events *Broadcast) error {
	path := SocketPath(s.cfg.Data)
	os.Remove(path) // a stale socket from a crash; the store's lock proves no other service runs
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return fmt.Errorf("%s: %v", path, err)
	}
	if err := os.Chmod(path, 0o660); err != nil {
		l.Close()
		return err
	}
	go func() { <-ctx.Done(); l.Close() }()
	for {
		c, err := l.AcceptUnix()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			continue
		}
		go s.serveConn(ctx, c, events)
	}
}

func (s *Service) serveConn(ctx context.Context, c *net.UnixConn, events *Broadcast) {
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	line, err := bufio.NewReader(c).ReadBytes('\n')
	if err != nil {
		return
	}
	c.SetReadDeadline(time.Time{})
	var req Request
	enc := json.NewEncoder(c)
	if err := json.Unmarshal(line, &req); err != nil {
		enc.Encode(requestError("bad request"))
		return
	}
	switch req.Cmd {
	case "events":
		ch, cancel := events.Subscribe()
		defer cancel()
		for {
			select {
			case <-ctx.Done():
				return
			case ev := <-ch:
				c.SetWriteDeadline(time.Now().Add(5 * time.Second))
				if enc.Encode(ev) != nil {
					return
				}
			}
		}
	default:
		c.SetWriteDeadline(time.Now().Add(10 * time.Second))
		enc.Encode(s.handle(req))
	}
}

// QueryStatus asks a running service for its status through the socket
// in the data folder.
func QueryStatus(data string) (Status, error) { return Client{Data: data}.Status() }

// Broadcast fans events out to subscribers without ever blocking the
// service: a subscriber too slow to keep up loses events, not the study.
type Broadcast struct {
	mu   sync.Mutex
	subs map[chan Event]struct{}
}

// NewBroadcast returns an empty fan-out.
func NewBroadcast() *Broadcast { return &Broadcast{subs: map[chan Event]struct{}{}} }

// Send delivers ev to every subscriber with room for it.
func (b *Broadcast) Send(ev Event) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for ch := range b.subs {
		select {
		case ch <- ev:
		default:
		}
	}
}

// Subscribe returns a channel of events and the function that ends it.
func (b *Broadcast) Subscribe() (<-chan Event, func()) {
	ch := make(chan Event, 256)
	b.mu.Lock()
	b.subs[ch] = struct{}{}
	b.mu.Unlock()
	return ch, func() {
		b.mu.Lock()
		delete(b.subs, ch)
		b.mu.Unlock()
	}
}
