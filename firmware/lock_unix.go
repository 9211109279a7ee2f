//go:build unix

package firmware

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// lockRoot takes ROOT/.lock so that two applies, or an apply and a
// rollback, never interleave their steps. flock is released by the kernel
// when the process dies, so a power cut or a kill leaves no stale lock.
func lockRoot(root string) (unlock func(), err error) {
	f, err := os.OpenFile(filepath.Join(root, ".lock"), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%s: another firmware apply or rollback is running", root)
		}
		return nil, fmt.Errorf("%s: locking: %v", root, err)
	}
	return func() { f.Close() }, nil
}
