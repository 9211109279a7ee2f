// Package atomicfile writes files that appear complete or not at all: the
// bytes go to a hidden temporary file beside the destination (".NAME.*.tmp",
// which folder watchers ignore), and only Commit, after an fsync, renames it
// into place and fsyncs the folder. A crash, a full disk or an error leaves
// at most the temporary file, never a half-written file under the real name.
package atomicfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// File is a file being written.
type File struct {
	path, tmp string
	f         *os.File
	finished  bool // committed, aborted or failed: nothing left to clean
}

// Create starts a file that will appear at path on Commit. The temporary
// file is made now, so an unwritable folder fails here.
func Create(path string) (*File, error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".*.tmp")
	if err != nil {
		return nil, fmt.Errorf("%s: creating temporary file: %w", path, errno(err))
	}
	return &File{path: path, tmp: f.Name(), f: f}, nil
}

// Path returns the destination.
func (f *File) Path() string { return f.path }

// Write writes to the temporary file. Its errors carry only the system's
// reason (errors.Is works on them): the caller names what it was writing.
func (f *File) Write(p []byte) (int, error) {
	n, err := f.f.Write(p)
	if err != nil {
		err = errno(err)
	}
	return n, err
}

// Commit makes the file durable and puts it in place. On error the
// temporary file is removed and nothing is left at the destination.
func (f *File) Commit() error {
	if f.finished {
		return fmt.Errorf("%s: commit of a finished file", f.path)
	}
	f.finished = true
	fail := func(op string, err error) error {
		f.f.Close()
		os.Remove(f.tmp)
		return fmt.Errorf("%s: %s: %w", f.path, op, errno(err))
	}
	// CreateTemp makes the file private; models and reports are not.
	if err := f.f.Chmod(0o644); err != nil {
		return fail("chmod", err)
	}
	if err := f.f.Sync(); err != nil {
		return fail("fsync", err)
	}
	if err := f.f.Close(); err != nil {
		return fail("close", err)
	}
	if err := os.Rename(f.tmp, f.path); err != nil {
		return fail("rename", err)
	}
	if err := SyncDir(filepath.Dir(f.path)); err != nil {
		// The rename may not survive a power cut: report the file as not
		// written rather than leave one whose durability is unknown.
		os.Remove(f.path)
		return fmt.Errorf("%s: fsync folder: %w", f.path, errno(err))
	}
	return nil
}

// Abort removes the temporary file. It does nothing after Commit, so it is
// safe to defer.
func (f *File) Abort() {
	if f.finished {
		return
	}
	f.finished = true
	f.f.Close()
	os.Remove(f.tmp)
}

// WriteFile writes data to path atomically.
func WriteFile(path string, data []byte) error {
	f, err := Create(path)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Abort()
		return fmt.Errorf("%s: writing: %w", path, err)
	}
	return f.Commit()
}

// SyncDir fsyncs a folder, so that the renames and creations in it survive
// a power cut; file systems that cannot fsync a folder are not an error.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	// Some file systems cannot fsync a folder; the rename is as durable as
	// they make it.
	if errors.Is(err, syscall.EINVAL) || errors.Is(err, syscall.ENOTSUP) {
		return nil
	}
	return err
}

// errno strips the temporary file's name from path errors, so messages name
// the destination only; the system's reason stays for errors.Is.
func errno(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	var le *os.LinkError
	if errors.As(err, &le) {
		return le.Err
	}
	return err
}
