//go:build wasip1

package main

import "maira/firmware/plugin/guest"

func init() { guest.Register(render) }

// main is not called in a c-shared (reactor) build; the host calls export.
func main() {}
