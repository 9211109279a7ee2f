//go:build !wasip1

package guest

import (
	"fmt"
	"io"
	"os"
)

// Filter runs an exporter as a native stdin-to-stdout program, so a
// plugin's rendering can be tried without the WebAssembly host:
// `go run ./plugins/hl7 < report.json`. name prefixes its error message.
func Filter(name string, f Exporter) {
	doc, err := io.ReadAll(os.Stdin)
	if err == nil {
		var out []byte
		if _, out, err = f(doc); err == nil {
			_, err = os.Stdout.Write(out)
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, name+":", err)
		os.Exit(1)
	}
}
