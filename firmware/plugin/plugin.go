// Package plugin runs site export plugins: WebAssembly modules that turn a
// report document (maira.report/v1, docs/report.md) into a site's own format
// (an HL7 v2 message, a FHIR resource, a letter), sandboxed with wazero.
//
// # The ABI (docs/plugins.md)
//
// A plugin is a WebAssembly module that imports nothing but WASI preview 1
// (wasi_snapshot_preview1) and exports
//
//	memory                                 its linear memory
//	alloc(size i32) -> i32                 a buffer of size bytes for the input
//	export(ptr i32, len i32) -> i64        run on the report JSON at ptr..ptr+len
//	_initialize()                          optional; called once per instance first
//
// export returns where its result lies, packed as ptr<<32 | len (unsigned).
// The result is either the output's file extension (lower-case letters and
// digits, dots between them, at most 16 bytes), a newline and the output's
// bytes; or "!" and a one-line reason for refusing the report. Go's own
// toolchain builds such a module from a package main that imports
// maira/firmware/plugin/guest:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o hl7.wasm ./plugins/hl7
//
// # The sandbox
//
// Each Export call runs in a fresh instance of the module, so nothing
// carries over from one report to the next. The instance has no file system
// (no preopened directories), no network (no sockets), no environment and
// no arguments; its clocks are wazero's fake ones (a fixed date, 2022-01-01,
// that advances 1 ms per reading; sleeping returns at once) unless
// Grant.Clock is set, and its random source is deterministic. Its memory is
// capped (Limits.MemoryPages), each call has a time limit (Limits.Timeout,
// enforced by closing the instance when the call's context expires), and
// the output is capped (Limits.MaxOutput). What the plugin writes to stderr
// is kept (its first and last 2 KiB) to explain a crash; stdout is discarded.
//
// A module is compiled once per process: every runtime shares one in-memory
// compilation cache keyed by the module's SHA-256, so Load of the same bytes
// again (another Plugin, or after Close) does not compile it again.
//
// Errors are one line that names the plugin file and the reason, e.g.
// "hl7.wasm: exceeded its 5s time limit"; errors.Is tells the kind
// (ErrTimeLimit, ErrMemoryLimit, ErrCrashed, ErrBadOutput, ErrRefused).
package plugin

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
	"github.com/tetratelabs/wazero/sys"
)

// Defaults for the zero fields of Limits.
const (
	DefaultMemoryPages = 256             // 16 MiB of linear memory
	DefaultTimeout     = 5 * time.Second // per Export call
	DefaultMaxOutput   = 8 << 20         // 8 MiB
	MaxModuleSize      = 64 << 20        // a .wasm file larger than this is refused
	pageSize           = 65536           // bytes in a WebAssembly page
	stderrKeep         = 4096            // bytes of a plugin's stderr kept
	maxExtLen          = 16              // bytes in an output's extension
	maxReasonLen       = 300             // bytes of a plugin's refusal kept
	wasiModule         = wasi_snapshot_preview1.ModuleName
	exportAlloc        = "alloc"
	exportExport       = "export"
	exportInitialize   = "_initialize"
	exportStart        = "_start"
	exportMemory       = "memory"
	limitMemoryMessage = "exceeded its memory limit"
)

// Limits bound what one Export call may use. Zero fields take the defaults.
type Limits struct {
	// MemoryPages caps the instance's linear memory, in 64 KiB pages
	// (default 256: 16 MiB).
	MemoryPages uint32
	// Timeout is the wall-clock time one Export call may take, the
	// instance's start included (default 5 s).
	Timeout time.Duration
	// MaxOutput caps the output's size in bytes (default 8 MiB).
	MaxOutput int
	// Grant lists what the sandbox lets the plugin have beyond computing.
	Grant Grant
}

// Grant lists capabilities a plugin does not have unless given.
type Grant struct {
	// Clock gives the plugin the host's wall clock and monotonic clock
	// (and real sleeping) instead of the fake ones.
	Clock bool
}

func (l Limits) withDefaults() Limits {
	if l.MemoryPages == 0 {
		l.MemoryPages = DefaultMemoryPages
	}
	if l.Timeout <= 0 {
		l.Timeout = DefaultTimeout
	}
	if l.MaxOutput <= 0 {
		l.MaxOutput = DefaultMaxOutput
	}
	return l
}

// Output is what a plugin made of one report.
type Output struct {
	Data []byte // the output's bytes
	Ext  string // its file extension, without the dot: "hl7", "json"
}

// The kinds of failure; an Export or Load error wraps one of them.
var (
	// ErrInvalid: the file is not a plugin this host can run (not
	// WebAssembly, imports something other than WASI, lacks an export, or
	// is a WASI command instead of a reactor).
	ErrInvalid = errors.New("not a valid plugin")
	// ErrTimeLimit: the call ran past Limits.Timeout and was stopped.
	ErrTimeLimit = errors.New("exceeded its time limit")
	// ErrMemoryLimit: the instance ran out of its Limits.MemoryPages.
	ErrMemoryLimit = errors.New(limitMemoryMessage)
	// ErrCrashed: the instance trapped or exited (a Go panic, unreachable,
	// an out-of-bounds access).
	ErrCrashed = errors.New("crashed")
	// ErrBadOutput: the result is not a well-formed output (out of the
	// instance's memory, no extension line, too large, empty), or alloc
	// returned an address outside the instance's memory.
	ErrBadOutput = errors.New("returned a bad output")
	// ErrRefused: the plugin declined the report and said why.
	ErrRefused = errors.New("refused the report")
)

// Error is a plugin failure: Plugin is the plugin file's base name, Kind
// one of the Err values above, Reason the details, on one line.
type Error struct {
	Plugin string
	Kind   error
	Reason string
}

func (e *Error) Error() string { return e.Plugin + ": " + e.Reason }

// Unwrap returns the kind, for errors.Is.
func (e *Error) Unwrap() error { return e.Kind }

func (p *Plugin) fail(kind error, format string, args ...any) error {
	return &Error{Plugin: p.name, Kind: kind, Reason: oneLine(fmt.Sprintf(format, args...), 500)}
}

// cache is the process's compilation cache: every runtime shares its
// engine, so a module's code is compiled once per process (keyed by the
// module's SHA-256) and kept until the process ends.
var cache = wazero.NewCompilationCache()

// Plugin is a loaded plugin: a compiled module and the runtime that
// instantiates it, once per Export call. Its methods are safe for
// concurrent use.
type Plugin struct {
	name     string
	sha256   string
	lim      Limits
	runtime  wazero.Runtime
	compiled wazero.CompiledModule
	initFn   bool // the module exports _initialize

	mu     sync.RWMutex
	closed bool
}

// Load reads, checks and compiles the plugin at path. The compiled code is
// cached for the process: loading the same bytes again does not compile
// them again.
func Load(ctx context.Context, path string, lim Limits) (*Plugin, error) {
	name := filepath.Base(path)
	fi, err := os.Stat(path)
	if err != nil {
		return nil, &Error{Plugin: name, Kind: ErrInvalid, Reason: oneLine(err.Error(), 300)}
	}
	if fi.Size() > MaxModuleSize {
		return nil, &Error{Plugin: name, Kind: ErrInvalid, Reason: fmt.Sprintf("%d bytes, more than the %d MiB a plugin may have", fi.Size(), MaxModuleSize>>20)}
	}
	wasm, err := os.ReadFile(path)
	if err != nil {
		return nil, &Error{Plugin: name, Kind: ErrInvalid, Reason: oneLine(err.Error(), 300)}
	}
	return LoadBytes(ctx, name, wasm, lim)
}

// LoadBytes is Load for a module already in memory; name names it in
// errors.
func LoadBytes(ctx context.Context, name string, wasm []byte, lim Limits) (*Plugin, error) {
	lim = lim.withDefaults()
	sum := sha256.Sum256(wasm)
	p := &Plugin{name: name, sha256: hex.EncodeToString(sum[:]), lim: lim}
	if lim.MemoryPages > 65536 {
		return nil, p.fail(ErrInvalid, "memory limit of %d pages is more than WebAssembly's 65536", lim.MemoryPages)
	}
	if !bytes.HasPrefix(wasm, []byte("\x00asm")) {
		return nil, p.fail(ErrInvalid, "not a WebAssembly module")
	}
	cfg := wazero.NewRuntimeConfig().
		WithCompilationCache(cache).
		WithMemoryLimitPages(lim.MemoryPages).
		WithCloseOnContextDone(true)
	r := wazero.NewRuntimeWithConfig(ctx, cfg)
	if _, err := wasi_snapshot_preview1.Instantiate(ctx, r); err != nil {
		r.Close(ctx)
		return nil, p.fail(ErrInvalid, "WASI: %v", err)
	}
	compiled, err := r.CompileModule(ctx, wasm)
	if err != nil {
		r.Close(ctx)
		return nil, p.fail(ErrInvalid, "%v", err)
	}
	p.runtime, p.compiled = r, compiled
	if err := p.check(); err != nil {
		r.Close(ctx)
		return nil, err
	}
	return p, nil
}

// check verifies the module's imports and exports against the ABI.
func (p *Plugin) check() error {
	for _, f := range p.compiled.ImportedFunctions() {
		mod, fn, _ := f.Import()
		if mod != wasiModule {
			return p.fail(ErrInvalid, "imports %s.%s; a plugin may import only %s", mod, fn, wasiModule)
		}
	}
	if len(p.compiled.ImportedMemories()) > 0 {
		return p.fail(ErrInvalid, "imports a memory; a plugin must define its own")
	}
	if _, ok := p.compiled.ExportedMemories()[exportMemory]; !ok {
		return p.fail(ErrInvalid, "does not export its memory as %q", exportMemory)
	}
	i32, i64 := api.ValueTypeI32, api.ValueTypeI64
	want := []struct {
		name    string
		params  []api.ValueType
		results []api.ValueType
	}{
		{exportAlloc, []api.ValueType{i32}, []api.ValueType{i32}},
		{exportExport, []api.ValueType{i32, i32}, []api.ValueType{i64}},
	}
	exports := p.compiled.ExportedFunctions()
	if _, ok := exports[exportStart]; ok {
		return p.fail(ErrInvalid, "is a WASI command (exports _start); build it as a reactor (go build -buildmode=c-shared)")
	}
	for _, w := range want {
		f, ok := exports[w.name]
		if !ok {
			return p.fail(ErrInvalid, "does not export %s (see docs/plugins.md)", w.name)
		}
		if !sameTypes(f.ParamTypes(), w.params) || !sameTypes(f.ResultTypes(), w.results) {
			return p.fail(ErrInvalid, "exports %s with the wrong signature (see docs/plugins.md)", w.name)
		}
	}
	if f, ok := exports[exportInitialize]; ok {
		if len(f.ParamTypes()) != 0 || len(f.ResultTypes()) != 0 {
			return p.fail(ErrInvalid, "exports _initialize with the wrong signature")
		}
		p.initFn = true
	}
	return nil
}

func sameTypes(a, b []api.ValueType) bool {
	return string(a) == string(b)
}

// Name returns the plugin file's base name, e.g. "hl7.wasm".
func (p *Plugin) Name() string { return p.name }

// SHA256 returns the hex SHA-256 of the module's bytes.
func (p *Plugin) SHA256() string { return p.sha256 }

// Limits returns the limits the plugin runs under, defaults filled in.
func (p *Plugin) Limits() Limits { return p.lim }

// Close releases the plugin's runtime, after the Export calls in flight
// have returned. The compiled code stays in the process's cache (until the
// process ends: a new plugin version is new code). Export after Close
// fails.
func (p *Plugin) Close(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil
	}
	p.closed = true
	return p.runtime.Close(ctx)
}

var extRE = regexp.MustCompile(`^[a-z0-9]+(\.[a-z0-9]+)*$`)

// Export runs the plugin on one report document in a fresh instance and
// returns its output. The instance is gone when Export returns, whatever
// happened in it; a failure is an *Error and leaves the Plugin usable.
func (p *Plugin) Export(ctx context.Context, report []byte) (Output, error) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.closed {
		return Output{}, p.fail(ErrInvalid, "plugin is closed")
	}
	if len(report) == 0 {
		return Output{}, p.fail(ErrRefused, "empty report")
	}
	if uint64(len(report)) >= uint64(p.lim.MemoryPages)*pageSize {
		return Output{}, p.fail(ErrMemoryLimit, "report of %d bytes does not fit its %s memory limit", len(report), mib(p.lim.MemoryPages))
	}

	callCtx, cancel := context.WithTimeout(ctx, p.lim.Timeout)
	defer cancel()
	stderr := &stderrLog{}
	mc := wazero.NewModuleConfig().
		WithName(""). // anonymous: instances of one module may run at once
		WithStartFunctions().
		WithStderr(stderr)
	if p.lim.Grant.Clock {
		mc = mc.WithSysWalltime().WithSysNanotime().WithSysNanosleep()
	}

	mod, err := p.runtime.InstantiateModule(callCtx, p.compiled, mc)
	if err != nil {
		return Output{}, p.callError(ctx, callCtx, nil, stderr, "starting", err)
	}
	defer mod.Close(context.Background())

	if p.initFn {
		if _, err := mod.ExportedFunction(exportInitialize).Call(callCtx); err != nil {
			return Output{}, p.callError(ctx, callCtx, mod, stderr, exportInitialize, err)
		}
	}
	res, err := mod.ExportedFunction(exportAlloc).Call(callCtx, uint64(len(report)))
	if err != nil {
		return Output{}, p.callError(ctx, callCtx, mod, stderr, exportAlloc, err)
	}
	inPtr := uint32(res[0])
	if !mod.Memory().Write(inPtr, report) {
		return Output{}, p.fail(ErrBadOutput, "alloc(%d) returned %#x, outside its memory", len(report), inPtr)
	}
	res, err = mod.ExportedFunction(exportExport).Call(callCtx, uint64(inPtr), uint64(len(report)))
	if err != nil {
		return Output{}, p.callError(ctx, callCtx, mod, stderr, exportExport, err)
	}
	ptr, n := uint32(res[0]>>32), uint32(res[0])
	if int64(n) > int64(p.lim.MaxOutput)+1+maxExtLen {
		return Output{}, p.fail(ErrBadOutput, "result of %d bytes is over its output limit of %s", n, sizeString(p.lim.MaxOutput))
	}
	raw, ok := mod.Memory().Read(ptr, n)
	if !ok {
		return Output{}, p.fail(ErrBadOutput, "result at %#x+%d lies outside its memory of %d bytes", ptr, n, mod.Memory().Size())
	}
	return p.parse(raw)
}

// parse checks a result's framing and copies the output out of the
// instance's memory.
func (p *Plugin) parse(raw []byte) (Output, error) {
	if len(raw) == 0 {
		return Output{}, p.fail(ErrBadOutput, "empty result")
	}
	if raw[0] == '!' {
		return Output{}, p.fail(ErrRefused, "refused the report: %s", oneLine(string(raw[1:]), maxReasonLen))
	}
	nl := bytes.IndexByte(raw[:min(len(raw), maxExtLen+1)], '\n')
	if nl < 0 {
		return Output{}, p.fail(ErrBadOutput, "result does not start with an extension line (%q...)", raw[:min(len(raw), 20)])
	}
	ext := string(raw[:nl])
	if !extRE.MatchString(ext) {
		return Output{}, p.fail(ErrBadOutput, "bad extension %q (lower-case letters and digits, dots between them)", ext)
	}
	data := raw[nl+1:]
	if len(data) == 0 {
		return Output{}, p.fail(ErrBadOutput, "empty output")
	}
	if len(data) > p.lim.MaxOutput {
		return Output{}, p.fail(ErrBadOutput, "output of %d bytes is over its limit of %s", len(data), sizeString(p.lim.MaxOutput))
	}
	return Output{Data: bytes.Clone(data), Ext: ext}, nil
}

// callError classifies a failed call into the instance: the time limit,
// the caller's cancellation, the memory limit, or a crash.
func (p *Plugin) callError(parent, callCtx context.Context, mod api.Module, stderr *stderrLog, fn string, err error) error {
	if parent.Err() != nil {
		return p.fail(parent.Err(), "stopped: %v", parent.Err())
	}
	var exit *sys.ExitError
	isExit := errors.As(err, &exit)
	if errors.Is(callCtx.Err(), context.DeadlineExceeded) || (isExit && exit.ExitCode() == sys.ExitCodeDeadlineExceeded) {
		return p.fail(ErrTimeLimit, "exceeded its %v time limit", p.lim.Timeout)
	}
	if stderr.outOfMemory() || (mod != nil && memoryFull(mod, p.lim.MemoryPages)) {
		return p.fail(ErrMemoryLimit, "%s of %s", limitMemoryMessage, mib(p.lim.MemoryPages))
	}
	said := stderr.said()
	if isExit {
		if said != "" {
			return p.fail(ErrCrashed, "exited with code %d in %s: %s", exit.ExitCode(), fn, said)
		}
		return p.fail(ErrCrashed, "exited with code %d in %s", exit.ExitCode(), fn)
	}
	trap := firstLine(err.Error())
	if said != "" {
		return p.fail(ErrCrashed, "crashed in %s: %s (%s)", fn, said, trap)
	}
	return p.fail(ErrCrashed, "crashed in %s: %s", fn, trap)
}

// memoryFull reports whether an instance's memory is within 4 MiB (a Go
// heap arena) of its limit: a crash there is taken for running out of
// memory even when the plugin did not say so.
func memoryFull(mod api.Module, pages uint32) bool {
	m := mod.Memory()
	return m != nil && uint64(m.Size())+64*pageSize >= uint64(pages)*pageSize
}

func mib(pages uint32) string { return sizeString(int(pages) * pageSize) }

func sizeString(n int) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return s
}

// oneLine makes s printable on one line of at most max bytes: control
// characters and invalid UTF-8 become spaces, runs of spaces one.
func oneLine(s string, max int) string {
	s = strings.ToValidUTF8(s, " ")
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return ' '
		}
		return r
	}, s)
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > max {
		cut := max
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "..."
	}
	return s
}

// stderrLog keeps the first and the last bytes a plugin writes to stderr:
// a Go runtime's fatal error or panic line comes first, its goroutine dump
// after.
type stderrLog struct {
	mu         sync.Mutex
	head, tail []byte
}

func (l *stderrLog) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := len(b)
	if room := stderrKeep/2 - len(l.head); room > 0 {
		k := min(room, len(b))
		l.head = append(l.head, b[:k]...)
		b = b[k:]
	}
	l.tail = append(l.tail, b...)
	if len(l.tail) > stderrKeep/2 {
		l.tail = append(l.tail[:0], l.tail[len(l.tail)-stderrKeep/2:]...)
	}
	return n, nil
}

// said returns what the plugin said about its end, on one line: the line
// of a Go panic or fatal error, else its last line.
func (l *stderrLog) said() string {
	l.mu.Lock()
	head, tail := string(l.head), string(l.tail)
	l.mu.Unlock()
	for _, mark := range []string{"fatal error:", "panic:"} {
		for _, s := range []string{head, tail} {
			if i := strings.Index(s, mark); i >= 0 && (i == 0 || s[i-1] == '\n') {
				return oneLine(firstLine(s[i:]), 300)
			}
		}
	}
	s := strings.TrimSpace(head + tail)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	return oneLine(s, 300)
}

// outOfMemory reports whether a Go runtime said it ran out of memory.
func (l *stderrLog) outOfMemory() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return bytes.Contains(l.head, []byte("out of memory")) || bytes.Contains(l.tail, []byte("fatal error: out of memory"))
}
