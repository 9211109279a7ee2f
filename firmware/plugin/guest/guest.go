// Package guest is the plugin side of the maira export-plugin ABI
// (docs/plugins.md): a Go program built with
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o NAME.wasm ./DIR
//
// imports this package and calls Register in an init function; the package
// supplies the exports the host calls (alloc and export). Main is never
// called in a c-shared build, but the package must still declare one.
//
//	package main
//
//	import "maira/firmware/plugin/guest"
//
//	func init() {
//		guest.Register(func(report []byte) (string, []byte, error) {
//			return "txt", []byte("hello\n"), nil
//		})
//	}
//
//	func main() {}
//
// A plugin outside this repository can copy exports_wasip1.go: the ABI is
// the contract, not this package.
package guest

import "strings"

// Exporter turns one report document (maira.report/v1 JSON, see
// docs/report.md) into the plugin's output: the file extension the output
// is written with (lower-case letters and digits, dots between them, at most
// 16 bytes, e.g. "hl7" or "json") and its bytes. An error refuses the report;
// the host logs its first line.
type Exporter func(report []byte) (ext string, data []byte, err error)

var exporter Exporter

// Register sets the function that the export call runs. Call it from an
// init function of package main.
func Register(f Exporter) { exporter = f }

// Call runs the registered Exporter on report and returns its result as
// the export function hands it to the host: the extension, a newline and
// the output; or "!" and a one-line reason. It works on every platform, so
// a plugin's tests can run it natively.
func Call(report []byte) []byte {
	if exporter == nil {
		return frame("", nil, errNoExporter)
	}
	return frame(exporter(report))
}

// frame packs an Exporter's result into what export returns: the extension,
// a newline and the data; or "!" and a one-line reason.
func frame(ext string, data []byte, err error) []byte {
	if err != nil {
		msg := strings.Join(strings.Fields(err.Error()), " ")
		if msg == "" {
			msg = "failed"
		}
		return []byte("!" + msg)
	}
	out := make([]byte, 0, len(ext)+1+len(data))
	out = append(out, ext...)
	out = append(out, '\n')
	return append(out, data...)
}

type guestError string

func (e guestError) Error() string { return string(e) }

const errNoExporter = guestError("plugin did not call guest.Register")
