package watcher

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// arrivals decides when a file in the drop folder is complete. A file
// renamed (or linked) into the folder after its last write is complete at
// once: its status-change time (ctime) is later than its modification time
// (mtime), which every write sets to the same instant. Any other file must
// keep its size and mtime for the settle time, by our own clock, before it
// counts: a file copied in slowly is never taken half-written.
type arrivals struct {
	dir    string
	settle time.Duration
	// seen holds files not yet complete, with the signature they had when
	// first seen unchanged.
	seen map[string]sighting
	// taken holds files handed out, by the signature they were taken with,
	// so that a file left in the folder (its study still collecting) is not
	// handed out again, while a file replaced under the same name is.
	taken map[string]signature
	// dirs are the subfolders seen by the last scan (inotify watches one
	// folder, so each gets its own watch).
	dirs []string
}

type signature struct {
	size  int64
	mtime time.Time
	ino   uint64
}

type sighting struct {
	sig   signature
	since time.Time
}

func newArrivals(dir string, settle time.Duration) *arrivals {
	return &arrivals{dir: dir, settle: settle, seen: map[string]sighting{}, taken: map[string]signature{}}
}

// ignored tells whether a name is never a study file: hidden files and
// folders, and the partial names that copy tools and receivers use.
func ignored(name string) bool {
	return strings.HasPrefix(name, ".") || strings.HasSuffix(name, ".tmp") || strings.HasSuffix(name, ".part") ||
		strings.HasSuffix(name, "~") || strings.HasSuffix(name, ".swp")
}

// scan walks the drop folder and returns the files that became complete
// since the last scan, and how many are still settling.
func (a *arrivals) scan(now time.Time) (complete []string, pending int) {
	present := map[string]bool{}
	a.dirs = a.dirs[:0]
	filepath.WalkDir(a.dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil // a file removed mid-walk, or an unreadable folder: next scan
		}
		if path == a.dir {
			return nil
		}
		if ignored(d.Name()) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			a.dirs = append(a.dirs, path)
			return nil
		}
		if !d.Type().IsRegular() {
			return nil
		}
		present[path] = true
		info, err := os.Stat(path)
		if err != nil {
			return nil
		}
		sig, renamed := signatureOf(info)
		if t, ok := a.taken[path]; ok && t == sig {
			return nil
		}
		s, ok := a.seen[path]
		if !ok || s.sig != sig {
			s = sighting{sig: sig, since: now}
			a.seen[path] = s
		}
		if renamed || now.Sub(s.since) >= a.settle {
			complete = append(complete, path)
			a.taken[path] = sig
			delete(a.seen, path)
			return nil
		}
		pending++
		return nil
	})
	for p := range a.seen {
		if !present[p] {
			delete(a.seen, p)
		}
	}
	for p := range a.taken {
		if !present[p] {
			delete(a.taken, p)
		}
	}
	return complete, pending
}

// forget drops a file from the taken set, so that the next scan looks at
// it afresh (after a failed move, for instance).
func (a *arrivals) forget(path string) { delete(a.taken, path) }

func signatureOf(info os.FileInfo) (signature, bool) {
	sig := signature{size: info.Size(), mtime: info.ModTime()}
	st, ok := info.Sys().(*syscall.Stat_t)
	if !ok {
		return sig, false
	}
	sig.ino = st.Ino
	ctime := time.Unix(int64(st.Ctim.Sec), int64(st.Ctim.Nsec))
	return sig, ctime.After(sig.mtime)
}
