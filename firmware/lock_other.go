//go:build !unix

package firmware

// lockRoot does nothing where flock is missing; the appliance runs Linux.
func lockRoot(string) (func(), error) { return func() {}, nil }
