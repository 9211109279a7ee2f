//go:build !wasip1

package main

import (
	"fmt"
	"io"
	"os"
)

// main, on the machine's own platform, reads a report document on stdin and
// writes the resource on stdout.
func main() {
	doc, err := io.ReadAll(os.Stdin)
	if err == nil {
		var out []byte
		if _, out, err = render(doc); err == nil {
			_, err = os.Stdout.Write(out)
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "fhir:", err)
		os.Exit(1)
	}
}
