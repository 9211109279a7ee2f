// Package watcher is the appliance's service: `maira watch`. It watches a
// drop folder, groups the files that arrive into studies, drafts one report
// per study with the engine, writes the outputs durably, archives the
// inputs, and keeps every step in a crash-safe store, so that a power cut,
// a full disk, a half-copied file or garbage never loses a study, never
// duplicates a report, and never stops the service.
//
// Life of a study (Study.State): collecting (files arriving; the quiet
// window has not passed) -> queued -> running -> done or failed. Outputs go
// to OUT/reports/DATE/KEY/ (written in a hidden folder, fsynced, renamed,
// the parent fsynced), inputs to OUT/archive/DATE/KEY/ only after that,
// refused files to OUT/failed/ beside NAME.reason.txt. After a crash a
// running study whose report folder exists is done; any other restarts.
package watcher

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"

	"maira/firmware/plugin"
	"maira/models/draft"
	"maira/models/report"
	"maira/runtime"
)

// Reporter drafts one study's report: the engine (draft.Engine).
type Reporter interface {
	Report(req draft.Request, emit func(runtime.Event)) (*report.Document, error)
}

// Service is a running drop-folder service.
type Service struct {
	cfg    Config
	eng    Reporter
	store  *Store
	log    *slog.Logger
	arr    *arrivals
	notify func(Event) // subscribers: the control socket's status, the TUI

	mu      sync.Mutex
	status  Status // the live view for `maira status`
	working bool
	held    bool // intake paused by the operator
	info    Info
	started time.Time
	logs    *LogRing
	wakeup  chan struct{}
	// tokenText makes a streaming token decoder (nil: events carry ids only).
	tokenText func() func(id int32) string
	// writeReport writes a report's folder (writeOutputs; a test injects a
	// full disk).
	writeReport func(dir string, files map[string][]byte) error
	// diskFullUntil holds reporting and intake after a report hit a full
	// disk, so the study is not retried in a tight loop.
	diskFullUntil time.Time
	// watchDirs adds inotify watches for subfolders (nil when polling).
	watchDirs func(dirs []string)
	plugins   []*plugin.Plugin
}

// SetTokenText gives the service a way to turn generated token ids into
// text (a fresh streaming decoder per study), for the live report in the
// status and the events.
func (s *Service) SetTokenText(newStream func() func(id int32) string) { s.tokenText = newStream }

// SetLogRing gives the service the ring its logger writes to, for the log
// view.
func (s *Service) SetLogRing(r *LogRing) { s.logs = r }

// wake makes the main loop look at the world again now.
func (s *Service) wake() {
	select {
	case s.wakeup <- struct{}{}:
	default:
	}
}

// diskFullWait is how long a full disk holds the service before it tries
// again (a variable for the test).
var diskFullWait = 30 * time.Second

// diskFull tells whether a recent full disk still holds the service.
func (s *Service) diskFull(now time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return now.Before(s.diskFullUntil)
}

// maxAttempts bounds how often a study is retried after the service died
// while running it: a study that kills the process (out of memory, say)
// must not stop the box forever.
const maxAttempts = 3

// New prepares a service: folders made, store opened, interrupted work
// recovered. Run starts it.
func New(cfg Config, eng Reporter, log *slog.Logger) (*Service, error) {
	for _, d := range []string{cfg.Out, cfg.Data, filepath.Join(cfg.Out, "reports"), filepath.Join(cfg.Out, "archive"), filepath.Join(cfg.Out, "failed")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, err
		}
	}
	// The store and the socket are for the service and its operators.
	if err := os.Chmod(cfg.Data, 0o770); err != nil {
		return nil, err
	}
	st, err := OpenStore(cfg.Data)
	if err != nil {
		return nil, err
	}
	s := &Service{cfg: cfg, eng: eng, store: st, log: log, arr: newArrivals(cfg.In, cfg.Settle.Duration), notify: func(Event) {},
		started: time.Now(), wakeup: make(chan struct{}, 1), writeReport: writeOutputs}
	if err := s.recover(); err != nil {
		st.Close()
		return nil, err
	}
	s.loadPlugins()
	return s, nil
}

// Close closes the store and the plugins.
func (s *Service) Close() error {
	s.closePlugins()
	return s.store.Close()
}

// Subscribe sets the function that receives the service's events (it must
// not block).
func (s *Service) Subscribe(fn func(Event)) { s.notify = fn }

// Run watches and processes until ctx ends (once: until the drop folder is
// empty of new work and every study is finished). On cancellation it stops
// intake, lets the running study finish, and returns nil.
func (s *Service) Run(ctx context.Context, once bool) error {
	var events <-chan fsnotify.Event
	var errs <-chan error
	if !s.cfg.Poll {
		w, err := fsnotify.NewWatcher()
		if err != nil {
			return fmt.Errorf("inotify: %v (use --poll on this file system)", err)
		}
		defer w.Close()
		if err := w.Add(s.cfg.In); err != nil {
			return fmt.Errorf("%s: watching: %v (use --poll on this file system)", s.cfg.In, err)
		}
		events, errs = w.Events, w.Errors
		watched := map[string]bool{s.cfg.In: true}
		s.watchDirs = func(dirs []string) {
			for _, d := range dirs {
				if !watched[d] && w.Add(d) == nil {
					watched[d] = true
				}
			}
		}
	}
	tick := time.NewTicker(min(time.Second, s.cfg.PollInterval.Duration))
	defer tick.Stop()
	rescan := time.NewTicker(s.cfg.Rescan.Duration)
	defer rescan.Stop()
	done := make(chan struct{}, 1)
	var lastPoll, lastRetention time.Time

	s.log.Info("watching", "in", s.cfg.In, "out", s.cfg.Out, "poll", s.cfg.Poll)
	s.intake(time.Now())
	for {
		now := time.Now()
		s.promote(now)
		if !s.isWorking() {
			if s.diskFull(now) {
				// Held: nothing is dispatched until the wait is over.
			} else if st := s.nextQueued(); st != nil {
				s.setWorking(true)
				go func() {
					s.process(st)
					s.setWorking(false)
					done <- struct{}{}
				}()
			} else if once && s.idle(now) {
				return nil
			}
		}
		if now.Sub(lastRetention) > time.Hour {
			s.retain(now)
			lastRetention = now
		}
		select {
		case <-ctx.Done():
			s.log.Info("stopping: intake closed")
			if s.isWorking() {
				s.log.Info("waiting for the running study to finish")
				<-done
			}
			return nil
		case ev := <-events:
			if ev.Op&(fsnotify.Create|fsnotify.Write|fsnotify.Rename|fsnotify.Chmod) != 0 {
				s.intake(time.Now())
			}
		case err := <-errs:
			// An overflow loses events, not files: rescan.
			if errors.Is(err, fsnotify.ErrEventOverflow) {
				s.log.Warn("inotify event overflow: rescanning")
			} else {
				s.log.Warn("inotify", "error", err.Error())
			}
			s.intake(time.Now())
		case <-tick.C:
			if s.arrPending() || (s.cfg.Poll && time.Since(lastPoll) >= s.cfg.PollInterval.Duration) || once {
				s.intake(time.Now())
				lastPoll = time.Now()
			}
		case <-rescan.C:
			s.intake(time.Now())
		case <-s.wakeup:
			s.intake(time.Now())
		case <-done:
		}
	}
}

func (s *Service) isWorking() bool   { s.mu.Lock(); defer s.mu.Unlock(); return s.working }
func (s *Service) setWorking(w bool) { s.mu.Lock(); s.working = w; s.mu.Unlock() }

// arrPending tells whether files are still settling.
func (s *Service) arrPending() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.status.Settling > 0
}

// idle tells whether nothing is left to do: no file settling, no study
// collecting or queued.
func (s *Service) idle(now time.Time) bool {
	if s.arrPending() {
		return false
	}
	all, err := s.store.All()
	if err != nil {
		return false
	}
	for _, st := range all {
		if st.State == Collecting || st.State == Queued {
			return false
		}
	}
	// A study left running with no worker on it is one whose store update
	// failed: the next start recovers it.
	return true
}

// shortHash is a study key: 16 hex digits of SHA-256, enough to never
// collide in one box's lifetime, short enough for a folder name.
func shortHash(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:8])
}
