// Package plugintest builds Go plugin sources into WebAssembly modules for
// tests, with the standard toolchain:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o DIR/NAME.wasm PKG
//
// Each package is built once per test process, into one temporary
// directory shared by the process's tests.
package plugintest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
)

var (
	mu     sync.Mutex
	dir    string
	builds = map[string]*build{}
)

type build struct {
	n    int // its subdirectory of dir
	once sync.Once
	path string
	err  string
}

// Build returns the path of the .wasm module built from the Go package in
// pkgDir (a directory, relative to the test's working directory or
// absolute). The test fails if the package does not build, and is skipped
// if no go command is found or it cannot build for wasip1/wasm.
func Build(t testing.TB, pkgDir string) string {
	t.Helper()
	goCmd, err := goCommand()
	if err != nil {
		t.Skipf("building plugins needs the go command: %v", err)
	}
	abs, err := filepath.Abs(pkgDir)
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	if dir == "" {
		// Not t.TempDir: the modules outlive the test that built them.
		d, err := os.MkdirTemp("", "maira-plugins-")
		if err != nil {
			mu.Unlock()
			t.Fatal(err)
		}
		dir = d
	}
	b := builds[abs]
	if b == nil {
		b = &build{n: len(builds)}
		builds[abs] = b
	}
	mu.Unlock()
	b.once.Do(func() {
		// DIR/N/BASE.wasm: the module is named after its package's directory
		sub := filepath.Join(dir, strconv.Itoa(b.n))
		if err := os.Mkdir(sub, 0o755); err != nil {
			b.err = err.Error()
			return
		}
		out := filepath.Join(sub, filepath.Base(abs)+".wasm")
		cmd := exec.Command(goCmd, "build", "-trimpath", "-buildvcs=false", "-buildmode=c-shared", "-o", out, ".")
		cmd.Dir = abs
		cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0")
		if msg, err := cmd.CombinedOutput(); err != nil {
			b.err = "GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared " + pkgDir + ": " + err.Error() + "\n" + string(msg)
			return
		}
		b.path = out
	})
	if strings.Contains(b.err, "unsupported GOOS/GOARCH pair") {
		t.Skipf("this go toolchain cannot build wasip1/wasm plugins: %s", b.err)
	}
	if b.err != "" {
		t.Fatal(b.err)
	}
	return b.path
}

// goCommand finds the go command: the one in GOROOT (the toolchain
// running the test), else PATH.
func goCommand() (string, error) {
	if root := os.Getenv("GOROOT"); root != "" {
		p := filepath.Join(root, "bin", "go")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return exec.LookPath("go")
}
