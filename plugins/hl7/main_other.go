//go:build !wasip1

package main

import "maira/firmware/plugin/guest"

// main, on the machine's own platform, reads a report document on stdin and
// writes the output on stdout.
func main() { guest.Filter("hl7", render) }
