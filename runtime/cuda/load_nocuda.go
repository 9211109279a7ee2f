//go:build !cuda

package cuda

import "fmt"

// Built reports whether this build can load the CUDA driver.
const Built = false

// loadFrom fails: this build has no driver loader (see the package
// comment).
func loadFrom(path string) (*driver, error) {
	return nil, fmt.Errorf("%w: this maira was built without CUDA support (build with -tags cuda to load %s)", ErrNoDriver, path)
}
