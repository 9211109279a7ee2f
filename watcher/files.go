package watcher

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"maira/internal/atomicfile"
)

// moveFile moves src to dst durably: a rename where both are on one file
// system, else a copy that is fsynced and renamed into place before the
// source is removed. The destination folder is fsynced either way, so the
// file is never in neither place.
func moveFile(src, dst string) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	err := os.Rename(src, dst)
	if errors.Is(err, syscall.EXDEV) {
		err = copyFile(src, dst)
		if err == nil {
			err = os.Remove(src)
		}
	}
	if err != nil {
		return err
	}
	return atomicfile.SyncDir(filepath.Dir(dst))
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := atomicfile.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Abort()
		return fmt.Errorf("%s: %w", dst, err)
	}
	return out.Commit()
}

// removeEmptyParents removes the now empty subfolders of the drop folder
// that held path (a receiver's per-study folders), up to the drop folder.
func (s *Service) removeEmptyParents(path string) {
	for dir := filepath.Dir(path); strings.HasPrefix(dir, s.cfg.In+string(filepath.Separator)); dir = filepath.Dir(dir) {
		if os.Remove(dir) != nil {
			return
		}
	}
}

// freeName returns a name in dir that neither exists nor has a reason
// file, by adding -1, -2, ... before the extension.
func freeName(dir, name string) string {
	ext := filepath.Ext(name)
	stem := strings.TrimSuffix(name, ext)
	for i := 0; ; i++ {
		n := name
		if i > 0 {
			n = fmt.Sprintf("%s-%d%s", stem, i, ext)
		}
		if _, err := os.Lstat(filepath.Join(dir, n)); err != nil {
			if _, err := os.Lstat(filepath.Join(dir, n+".reason.txt")); err != nil {
				return n
			}
		}
	}
}

// refuse moves a file that cannot be a study to OUT/failed/ with its reason
// beside it. The reason is written first: a crash in between leaves the
// file in the drop folder, to be refused again.
func (s *Service) refuse(path, name, reason string) {
	dir := filepath.Join(s.cfg.Out, "failed")
	base := freeName(dir, filepath.Base(name))
	text := fmt.Sprintf("%s\nfile: %s\nrefused: %s\n", reason, name, time.Now().Format(time.RFC3339))
	if err := atomicfile.WriteFile(filepath.Join(dir, base+".reason.txt"), []byte(text)); err != nil {
		s.log.Error("cannot write the reason for a refused file", "file", name, "error", err.Error())
		s.arr.forget(path)
		return
	}
	if err := moveFile(path, filepath.Join(dir, base)); err != nil {
		os.Remove(filepath.Join(dir, base+".reason.txt"))
		s.log.Error("cannot move a refused file", "file", name, "error", err.Error())
		s.arr.forget(path)
		return
	}
	s.removeEmptyParents(path)
	// The reason may name the file's path but never patient data: the
	// readers' errors carry none.
	s.log.Warn("file refused", "file", name, "reason", reason)
	s.emit(Event{Kind: "refused", File: name, Message: reason})
}

// archiveDir is where a study's inputs go.
func (s *Service) archiveDir(st *Study) string {
	if st.ArchiveDir != "" {
		return st.ArchiveDir
	}
	day := st.Started
	if day.IsZero() {
		day = time.Now()
	}
	return filepath.Join(s.cfg.Out, "archive", day.Format("2006-01-02"), st.Key)
}

// archiveOne moves one file into a study's archive folder (under rel) and
// returns where it went.
func (s *Service) archiveOne(st *Study, path, rel string) (string, error) {
	dir := s.archiveDir(st)
	dst := filepath.Join(dir, filepath.Dir(rel), freeName(filepath.Join(dir, filepath.Dir(rel)), filepath.Base(rel)))
	if err := moveFile(path, dst); err != nil {
		return "", err
	}
	s.removeEmptyParents(path)
	return dst, nil
}

// reportDir is where a study's outputs go: the day its processing started.
func (s *Service) reportDir(st *Study) string {
	return filepath.Join(s.cfg.Out, "reports", st.Started.Format("2006-01-02"), st.Key)
}

// writeOutputs writes the files of a study's report into a hidden folder,
// fsyncs them, and renames the folder into place: the report folder exists
// complete or not at all.
func writeOutputs(dir string, files map[string][]byte) error {
	parent := filepath.Dir(dir)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(parent, "."+filepath.Base(dir)+".*.tmp")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp) // nothing left after a rename
	for name, data := range files {
		f, err := os.OpenFile(filepath.Join(tmp, name), os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0o644)
		if err != nil {
			return err
		}
		_, err = f.Write(data)
		if err == nil {
			err = f.Sync()
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("%s: %w", filepath.Join(dir, name), err)
		}
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return err
	}
	if err := atomicfile.SyncDir(tmp); err != nil {
		return err
	}
	if err := os.Rename(tmp, dir); err != nil {
		return err
	}
	return atomicfile.SyncDir(parent)
}

// diskLow returns why intake must pause (the output disk's free space is
// under the configured minimum), or "".
func (s *Service) diskLow() string {
	if s.cfg.Retention.MinFreeMB <= 0 {
		return ""
	}
	var fs syscall.Statfs_t
	if err := syscall.Statfs(s.cfg.Out, &fs); err != nil {
		return ""
	}
	free := int64(fs.Bavail) * int64(fs.Bsize) >> 20
	if free < int64(s.cfg.Retention.MinFreeMB) {
		return fmt.Sprintf("low disk space on %s: %d MB free, %d MB needed; intake paused", s.cfg.Out, free, s.cfg.Retention.MinFreeMB)
	}
	return ""
}

// cleanTemp removes the hidden temporary files and folders a crash left in
// the output folders.
func (s *Service) cleanTemp() {
	for _, top := range []string{"reports", "archive", "failed"} {
		filepath.WalkDir(filepath.Join(s.cfg.Out, top), func(path string, d os.DirEntry, err error) error {
			if err != nil {
				return nil
			}
			if strings.HasPrefix(d.Name(), ".") && strings.HasSuffix(d.Name(), ".tmp") {
				os.RemoveAll(path)
				if d.IsDir() {
					return filepath.SkipDir
				}
			}
			return nil
		})
	}
}
