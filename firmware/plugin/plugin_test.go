package plugin_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"maira/firmware/plugin"
	"maira/firmware/plugin/plugintest"
)

// report is a report document whose findings tell the hostile plugin what
// to do (testdata/hostile/main.go).
func report(findings string) []byte {
	b, err := json.Marshal(map[string]any{
		"schema": "maira.report/v1", "draft_for_review": true, "findings": findings,
	})
	if err != nil {
		panic(err)
	}
	return b
}

func hostile(t *testing.T, lim plugin.Limits) *plugin.Plugin {
	t.Helper()
	p, err := plugin.Load(context.Background(), plugintest.Build(t, "testdata/hostile"), lim)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close(context.Background()) })
	return p
}

// echo checks that p still exports a normal report correctly.
func echo(t *testing.T, p *plugin.Plugin, findings string) {
	t.Helper()
	if err := echoErr(p, findings); err != nil {
		t.Fatal(err)
	}
}

func echoErr(p *plugin.Plugin, findings string) error {
	out, err := p.Export(context.Background(), report("echo "+findings))
	if err != nil {
		return fmt.Errorf("a normal report %s: %v", findings, err)
	}
	if out.Ext != "txt" || string(out.Data) != "echo "+findings {
		return fmt.Errorf("a normal report %s: got %q %q", findings, out.Ext, out.Data)
	}
	return nil
}

// wantErr checks err's kind and that it is one line naming the plugin.
func wantErr(t *testing.T, err error, kind error, contains string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want %v", kind)
	}
	var pe *plugin.Error
	if !errors.As(err, &pe) || !errors.Is(err, kind) {
		t.Fatalf("error %q is not a plugin error of kind %q", err, kind)
	}
	msg := err.Error()
	if strings.ContainsAny(msg, "\n\r") {
		t.Errorf("error is more than one line: %q", msg)
	}
	if !strings.HasPrefix(msg, pe.Plugin+": ") || !strings.HasSuffix(pe.Plugin, ".wasm") {
		t.Errorf("error %q does not start with the plugin's file name", msg)
	}
	if !strings.Contains(msg, contains) {
		t.Errorf("error %q does not say %q", msg, contains)
	}
	t.Logf("error as expected: %v", err)
}

func TestLoopStoppedAtTimeLimit(t *testing.T) {
	p := hostile(t, plugin.Limits{Timeout: time.Second})
	start := time.Now()
	_, err := p.Export(context.Background(), report("loop"))
	took := time.Since(start)
	wantErr(t, err, plugin.ErrTimeLimit, "hostile.wasm: exceeded its 1s time limit")
	if took < time.Second || took > 2*time.Second {
		t.Errorf("the loop was stopped after %v, want within 1s..2s", took)
	}
	echo(t, p, "after the loop")
}

func TestCallerCancelStopsLoop(t *testing.T) {
	p := hostile(t, plugin.Limits{Timeout: time.Minute})
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := p.Export(ctx, report("loop"))
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 2*time.Second {
		t.Fatalf("cancelled after %v: %v", time.Since(start), err)
	}
	echo(t, p, "after a cancelled loop")
}

func TestMemoryBombHitsCap(t *testing.T) {
	for _, pages := range []uint32{0, 512} { // the default 16 MiB, and 32 MiB
		p := hostile(t, plugin.Limits{MemoryPages: pages})
		start := time.Now()
		_, err := p.Export(context.Background(), report("bomb"))
		want := fmt.Sprintf("exceeded its memory limit of %d MiB", max(pages, plugin.DefaultMemoryPages)/16)
		wantErr(t, err, plugin.ErrMemoryLimit, want)
		if took := time.Since(start); took > 3*time.Second {
			t.Errorf("the bomb took %v to stop", took)
		}
		echo(t, p, "after the bomb")
	}
	// The cap is the runtime's, though the code is compiled once: 20 MiB
	// fits in 32 MiB, not in 16.
	out, err := hostile(t, plugin.Limits{MemoryPages: 512}).Export(context.Background(), report("grow 20"))
	if err != nil || string(out.Data) != "grew" {
		t.Errorf("20 MiB in a 32 MiB plugin: %q %v", out.Data, err)
	}
	_, err = hostile(t, plugin.Limits{}).Export(context.Background(), report("grow 20"))
	wantErr(t, err, plugin.ErrMemoryLimit, "exceeded its memory limit of 16 MiB")
}

func TestNoFilesNoNetworkNoEnvironment(t *testing.T) {
	// A secret in the working directory and in the environment, and a
	// listener on the loopback that the plugin is told to dial.
	p := hostile(t, plugin.Limits{}) // built before the Chdir
	dir := t.TempDir()
	t.Chdir(dir)
	const marker = "SECRET-7f3a9c"
	if err := os.WriteFile("secret.txt", []byte(marker), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("MAIRA_TEST_SECRET", marker)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		if c, err := l.Accept(); err == nil {
			accepted <- c
		}
	}()

	out, err := p.Export(context.Background(), report("escape "+l.Addr().String()))
	if err != nil {
		t.Fatal(err)
	}
	text := string(out.Data)
	t.Logf("the plugin's attempts:\n%s", text)
	for _, leak := range []string{marker, "root:", "GOT", filepath.Base(dir)} {
		if strings.Contains(text, leak) {
			t.Errorf("output contains %q", leak)
		}
	}
	for _, attempt := range []string{"read /etc/passwd", "read secret.txt", "read ./secret.txt", "read ../secret.txt",
		"read /proc/self/environ", "list /", "list .", "write pwned.txt", "environ", "args",
		"dial " + l.Addr().String(), "sock_accept fd 0", "sock_accept fd 3", "sock_accept fd 4", "sock_accept fd 7"} {
		if !strings.Contains(text, attempt+": denied: ") {
			t.Errorf("attempt %q was not denied", attempt)
		}
	}
	if !strings.Contains(text, "year: 2022\n") {
		t.Errorf("the plugin saw a real clock: %q", text)
	}
	if _, err := os.Stat(filepath.Join(dir, "pwned.txt")); err == nil {
		t.Error("the plugin wrote a file")
	}
	select {
	case c := <-accepted:
		c.Close()
		t.Error("the plugin connected to the host's listener")
	case <-time.After(100 * time.Millisecond):
	}
	echo(t, p, "after the escape attempts")
}

func TestClockGrant(t *testing.T) {
	p := hostile(t, plugin.Limits{Grant: plugin.Grant{Clock: true}})
	out, err := p.Export(context.Background(), report("escape 127.0.0.1:1"))
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("year: %d\n", time.Now().Year()); !strings.Contains(string(out.Data), want) {
		t.Errorf("with Grant.Clock the plugin did not see the real clock: %q", out.Data)
	}
}

func TestBadOutputsRefused(t *testing.T) {
	p := hostile(t, plugin.Limits{MemoryPages: 512, MaxOutput: 0}) // 32 MiB, the default 8 MiB output cap
	for _, c := range []struct {
		mode, want string
		kind       error
	}{
		{"oob", "outside its memory", plugin.ErrBadOutput},
		{"oversize", "result of 4294967295 bytes is over its output limit of 8 MiB", plugin.ErrBadOutput},
		{"noext", "does not start with an extension line", plugin.ErrBadOutput},
		{"badext", `bad extension "../../x"`, plugin.ErrBadOutput},
		{"huge 9437184", "result of 9437188 bytes is over its output limit of 8 MiB", plugin.ErrBadOutput},
		{"empty", "empty result", plugin.ErrBadOutput},
		{"refuse", "refused the report: cannot file this one", plugin.ErrRefused},
		{"panic", "crashed in export: panic: boom (wasm error: unreachable)", plugin.ErrCrashed},
		{"exit", "exited with code 3 in export", plugin.ErrCrashed},
		{"nonsense", "unknown mode nonsense", plugin.ErrRefused},
	} {
		_, err := p.Export(context.Background(), report(c.mode))
		wantErr(t, err, c.kind, c.want)
		echo(t, p, "after "+c.mode)
	}
	// Just under the cap is fine.
	out, err := p.Export(context.Background(), report("huge 8388608"))
	if err != nil || len(out.Data) != 8<<20 {
		t.Fatalf("an output of exactly 8 MiB: %d bytes, %v", len(out.Data), err)
	}
	// A smaller cap of the caller's.
	small := hostile(t, plugin.Limits{MaxOutput: 1000})
	_, err = small.Export(context.Background(), report("huge 1001"))
	wantErr(t, err, plugin.ErrBadOutput, "output of 1001 bytes is over its limit of 1000 bytes")
}

// TestServiceKeepsWorking is the service's view: studies keep being
// exported by the example plugins (HL7, FHIR) and by the hostile plugin's
// well-behaved mode, in the same process and through the same Plugins,
// before, during and after hostile calls; a hostile call fails alone.
func TestServiceKeepsWorking(t *testing.T) {
	ctx := context.Background()
	bad := hostile(t, plugin.Limits{Timeout: time.Second})
	study, err := os.ReadFile("../../plugins/testdata/report.json")
	if err != nil {
		t.Fatal(err)
	}
	type good struct {
		p    *plugin.Plugin
		want []byte
	}
	var goods []good
	for _, name := range []string{"hl7", "fhir"} {
		p, err := plugin.Load(ctx, plugintest.Build(t, "../../plugins/"+name), plugin.Limits{})
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close(ctx)
		want, err := os.ReadFile(filepath.Join("../../plugins", name, "testdata", map[string]string{"hl7": "expected.hl7", "fhir": "expected.json"}[name]))
		if err != nil {
			t.Fatal(err)
		}
		goods = append(goods, good{p, want})
	}
	exportStudies := func() error {
		for _, g := range goods {
			out, err := g.p.Export(ctx, study)
			if err != nil {
				return err
			}
			if !bytes.Equal(out.Data, g.want) {
				return fmt.Errorf("%s: output differs from the expected one", g.p.Name())
			}
		}
		return nil
	}

	errs := make(chan error, 200)
	var wg sync.WaitGroup
	// The hostile calls, one after another, with a round of studies after
	// each ...
	wg.Add(1)
	go func() {
		defer wg.Done()
		for _, mode := range []string{"loop", "bomb", "escape 127.0.0.1:1", "panic", "exit", "oob", "huge 9437184", "noext"} {
			_, err := bad.Export(ctx, report(mode))
			if err == nil && !strings.HasPrefix(mode, "escape") {
				errs <- fmt.Errorf("%s: no error", mode)
			}
			if err := exportStudies(); err != nil {
				errs <- fmt.Errorf("studies after %s: %v", mode, err)
			}
			if err := echoErr(bad, "after "+mode); err != nil {
				errs <- err
			}
		}
	}()
	// ... while other studies go through at the same time.
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 5 {
				if err := exportStudies(); err != nil {
					errs <- fmt.Errorf("study %d.%d: %v", i, j, err)
				}
				want := fmt.Sprintf("echo study %d.%d", i, j)
				out, err := bad.Export(ctx, report(want))
				if err != nil || string(out.Data) != want {
					errs <- fmt.Errorf("%s: %q %v", want, out.Data, err)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestCompiledOncePerProcess loads the same module again and checks that
// it is not compiled again: the second Load takes a fraction of the first.
func TestCompiledOncePerProcess(t *testing.T) {
	path := plugintest.Build(t, "testdata/hostile")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// A copy with one more byte in a custom section is a different module
	// with the same code: compiled afresh.
	fresh := append(bytes.Clone(data), customSection("salt", []byte(time.Now().String()))...)
	ctx := context.Background()
	start := time.Now()
	p1, err := plugin.LoadBytes(ctx, "fresh.wasm", fresh, plugin.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	first := time.Since(start)
	p1.Close(ctx)
	start = time.Now()
	p2, err := plugin.LoadBytes(ctx, "fresh.wasm", fresh, plugin.Limits{MemoryPages: 300})
	if err != nil {
		t.Fatal(err)
	}
	second := time.Since(start)
	defer p2.Close(ctx)
	t.Logf("first Load %v, second Load (after Close, other limits) %v", first, second)
	if second*3 > first {
		t.Errorf("the second Load took %v, the first %v: compiled again?", second, first)
	}
	if p1.SHA256() != p2.SHA256() {
		t.Error("same bytes, different hashes")
	}
	echo(t, p2, "from the cached code")
	if _, err := p1.Export(ctx, report("echo x")); err == nil {
		t.Error("Export after Close worked")
	}
}

// TestLoadRefuses checks modules that are not plugins: hand-assembled.
func TestLoadRefuses(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		name string
		wasm []byte
		want string
	}{
		{"text.wasm", []byte("MSH|^~\\&|"), "not a WebAssembly module"},
		{"truncated.wasm", module(memorySection(1))[:12], "hostile"},
		{"env.wasm", module(section(1, vec(funcType(nil, nil))), section(2, vec(imp("env", "open_socket", 0)))),
			"imports env.open_socket; a plugin may import only wasi_snapshot_preview1"},
		{"nomem.wasm", module(), `does not export its memory as "memory"`},
		{"command.wasm", module(section(1, vec(funcType(nil, nil))), section(3, vec([]byte{0})), memorySection(1),
			section(7, vec(export("memory", 2, 0), export("_start", 0, 0))), section(10, vec(body(0x0b)))),
			"is a WASI command (exports _start)"},
		{"noalloc.wasm", module(memorySection(1), section(7, vec(export("memory", 2, 0)))), "does not export alloc"},
		{"bigmem.wasm", module(memorySection(300)), "memory"},
	} {
		path := filepath.Join(dir, c.name)
		if err := os.WriteFile(path, c.wasm, 0o644); err != nil {
			t.Fatal(err)
		}
		if c.want == "hostile" {
			c.want = "" // any reason
		}
		p, err := plugin.Load(context.Background(), path, plugin.Limits{})
		if err == nil {
			p.Close(context.Background())
		}
		wantErr(t, err, plugin.ErrInvalid, c.want)
		if !strings.HasPrefix(err.Error(), c.name+": ") {
			t.Errorf("%q does not start with %s", err, c.name)
		}
	}
	_, err := plugin.Load(context.Background(), filepath.Join(dir, "missing.wasm"), plugin.Limits{})
	wantErr(t, err, plugin.ErrInvalid, "missing.wasm: ")
}

// TestTrap runs a hand-assembled plugin whose export executes unreachable
// and one whose alloc returns an address past its memory.
func TestTrap(t *testing.T) {
	mk := func(allocAt uint32, exportBody []byte) []byte {
		i32, i64 := byte(0x7f), byte(0x7e)
		return module(
			section(1, vec(funcType([]byte{i32}, []byte{i32}), funcType([]byte{i32, i32}, []byte{i64}))),
			section(3, vec([]byte{0}, []byte{1})),
			memorySection(1),
			section(7, vec(export("memory", 2, 0), export("alloc", 0, 0), export("export", 0, 1))),
			section(10, vec(body(append(append([]byte{0x41}, sleb(int64(int32(allocAt)))...), 0x0b)...), body(exportBody...))),
		)
	}
	ctx := context.Background()
	p, err := plugin.LoadBytes(ctx, "trap.wasm", mk(1024, []byte{0x00, 0x0b}), plugin.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(ctx)
	_, err = p.Export(ctx, report("x"))
	wantErr(t, err, plugin.ErrCrashed, "trap.wasm: crashed in export: wasm error: unreachable")

	p2, err := plugin.LoadBytes(ctx, "badalloc.wasm", mk(65530, []byte{0x42, 0x00, 0x0b}), plugin.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	defer p2.Close(ctx)
	_, err = p2.Export(ctx, report("a report longer than six bytes"))
	wantErr(t, err, plugin.ErrBadOutput, "outside its memory")

	// A plain wasm loop (no Go runtime) is stopped too.
	p3, err := plugin.LoadBytes(ctx, "spin.wasm", mk(1024, []byte{0x03, 0x40, 0x0c, 0x00, 0x0b, 0x00, 0x0b}), plugin.Limits{Timeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer p3.Close(ctx)
	start := time.Now()
	_, err = p3.Export(ctx, report("x"))
	wantErr(t, err, plugin.ErrTimeLimit, "spin.wasm: exceeded its 200ms time limit")
	if took := time.Since(start); took > time.Second {
		t.Errorf("stopped after %v", took)
	}
}

// A minimal WebAssembly binary writer for the hand-assembled modules.

func module(sections ...[]byte) []byte {
	return append([]byte("\x00asm\x01\x00\x00\x00"), bytes.Join(sections, nil)...)
}

func section(id byte, content []byte) []byte {
	return append(append([]byte{id}, uleb(uint64(len(content)))...), content...)
}

func customSection(name string, data []byte) []byte {
	return section(0, append(str(name), data...))
}

func memorySection(minPages uint64) []byte {
	return section(5, vec(append([]byte{0}, uleb(minPages)...)))
}

func vec(items ...[]byte) []byte {
	return append(uleb(uint64(len(items))), bytes.Join(items, nil)...)
}

func str(s string) []byte { return append(uleb(uint64(len(s))), s...) }

func funcType(params, results []byte) []byte {
	b := append([]byte{0x60}, uleb(uint64(len(params)))...)
	b = append(b, params...)
	b = append(b, uleb(uint64(len(results)))...)
	return append(b, results...)
}

func imp(mod, name string, typeIdx byte) []byte {
	return append(append(str(mod), str(name)...), 0, typeIdx)
}

func export(name string, kind, idx byte) []byte { return append(str(name), kind, idx) }

func body(code ...byte) []byte {
	b := append([]byte{0}, code...) // no locals
	return append(uleb(uint64(len(b))), b...)
}

func uleb(v uint64) []byte {
	var b []byte
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if v != 0 {
			c |= 0x80
		}
		b = append(b, c)
		if v == 0 {
			return b
		}
	}
}

func sleb(v int64) []byte {
	var b []byte
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if (v == 0 && c&0x40 == 0) || (v == -1 && c&0x40 != 0) {
			return append(b, c)
		}
		b = append(b, c|0x80)
	}
}
