//go:build !wasip1

package main

import (
	"fmt"
	"io"
	"os"
)

// main, on the machine's own platform, reads a report document on stdin and
// writes the message on stdout.
func main() {
	doc, err := io.ReadAll(os.Stdin)
	if err == nil {
		var out []byte
		if _, out, err = render(doc); err == nil {
			_, err = os.Stdout.Write(out)
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "hl7:", err)
		os.Exit(1)
	}
}
