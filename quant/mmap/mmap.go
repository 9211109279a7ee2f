// Package mmap maps files read-only into memory, so that checkpoint readers
// hand out tensor bytes without copying them.
package mmap

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// Region is a read-only mapping of a whole file.
type Region struct {
	Path string
	Data []byte // the file's bytes; empty for an empty file
}

// Open maps the file at path. The mapping stays valid after the file is
// closed; call Close to unmap it.
func Open(path string) (*Region, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a regular file", path)
	}
	size := st.Size()
	if size == 0 {
		return &Region{Path: path, Data: []byte{}}, nil
	}
	if int64(int(size)) != size {
		return nil, fmt.Errorf("%s: file of %d bytes is too large to map", path, size)
	}
	data, err := unix.Mmap(int(f.Fd()), 0, int(size), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("%s: mmap: %w", path, err)
	}
	return &Region{Path: path, Data: data}, nil
}

// Release tells the kernel that the pages covering data[off:off+n] will not
// be needed soon, so that streaming a file larger than memory through the
// mapping does not keep it all resident. The bytes stay readable (they are
// read again from the file when touched).
func (r *Region) Release(off, n int64) {
	if r == nil || len(r.Data) == 0 || n <= 0 {
		return
	}
	page := int64(unix.Getpagesize())
	start := off / page * page
	end := off + n
	if end > int64(len(r.Data)) {
		end = int64(len(r.Data))
	}
	if start >= end {
		return
	}
	// Advice is a hint: an error changes nothing about correctness.
	_ = unix.Madvise(r.Data[start:end], unix.MADV_DONTNEED)
}

// Close unmaps the region. Slices of Data must not be used afterwards.
func (r *Region) Close() error {
	if r == nil || len(r.Data) == 0 {
		return nil
	}
	err := unix.Munmap(r.Data)
	r.Data = nil
	return err
}
