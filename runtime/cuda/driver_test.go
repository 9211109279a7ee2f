package cuda

import (
	"errors"
	"math"
	"strings"
	"testing"
	"unsafe"
)

// device opens device 0 or skips the test saying why: most machines that
// run the tests have no GPU.
func device(t *testing.T) *Context {
	t.Helper()
	c, err := Open(0)
	if err != nil {
		t.Skipf("no CUDA device: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestLoadMissingLibrary(t *testing.T) {
	_, err := loadFrom("libcuda-does-not-exist.so.1")
	if err == nil {
		t.Fatal("loading a missing library succeeded")
	}
	if !errors.Is(err, ErrNoDriver) || !strings.Contains(err.Error(), "libcuda-does-not-exist.so.1") {
		t.Fatalf("error %q: want ErrNoDriver naming the library", err)
	}
	if !Built && !strings.Contains(err.Error(), "-tags cuda") {
		t.Fatalf("error %q: a build without the driver loader should say how to get one", err)
	}
}

func TestOpenWithoutDriverSaysWhy(t *testing.T) {
	c, err := Open(0)
	if err == nil {
		c.Close()
		t.Skip("this machine has a CUDA device")
	}
	if !errors.Is(err, ErrNoDriver) && !errors.Is(err, ErrNoDevice) {
		var e *Error
		if !errors.As(err, &e) {
			t.Fatalf("Open's error %q is neither no driver, no device nor a CUresult", err)
		}
	}
}

func TestErrorNames(t *testing.T) {
	for _, c := range []struct {
		code uint32
		want string
	}{
		{2, "CUDA_ERROR_OUT_OF_MEMORY"},
		{100, "CUDA_ERROR_NO_DEVICE"},
		{218, "CUDA_ERROR_INVALID_PTX"},
		{12345, "CUresult(12345)"},
	} {
		if got := ResultName(c.code); got != c.want {
			t.Errorf("ResultName(%d) = %q, want %q", c.code, got, c.want)
		}
	}
	e := &Error{Call: "cuMemAlloc_v2", Code: 2}
	if got := e.Error(); got != "cuMemAlloc_v2: CUDA_ERROR_OUT_OF_MEMORY (CUresult 2)" {
		t.Errorf("Error() = %q", got)
	}
	j := &JITError{Err: &Error{Call: "cuModuleLoadDataEx", Code: 218}, Log: "ptxas fatal   : Unresolved extern function 'x'\n"}
	if !strings.Contains(j.Error(), "CUDA_ERROR_INVALID_PTX") || !strings.Contains(j.Error(), "Unresolved extern function") {
		t.Errorf("JITError = %q: want the code and the log", j.Error())
	}
	if !errors.As(error(j), &e) || e.Code != 218 {
		t.Error("JITError does not unwrap to its *Error")
	}
}

func TestCStrings(t *testing.T) {
	for _, c := range []struct {
		in   []byte
		want string
	}{
		{[]byte("NVIDIA H100\x00\x00junk"), "NVIDIA H100"},
		{[]byte("no terminator"), "no terminator"},
		{[]byte{0, 'a'}, ""},
	} {
		if got := cString(c.in); got != c.want {
			t.Errorf("cString(%q) = %q", c.in, got)
		}
	}
	b := []byte("Orin\x00")
	if got := goString(&b[0]); got != "Orin" {
		t.Errorf("goString = %q", got)
	}
}

func TestPackParams(t *testing.T) {
	args := []any{DevicePtr(0x7f0000001000), int32(-3), uint32(7), float32(1.5), 42, uintptr(9), int64(-1), float64(2)}
	p, err := packParams(args)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.ptrs) != len(args) {
		t.Fatalf("%d pointers for %d arguments", len(p.ptrs), len(args))
	}
	// Each pointer addresses its own slot, and the driver reading the
	// parameter's size there sees the value.
	for i, ptr := range p.ptrs {
		if ptr != unsafe.Pointer(&p.slots[i]) {
			t.Errorf("argument %d: pointer is not its slot", i)
		}
	}
	u64 := func(i int) uint64 { return *(*uint64)(p.ptrs[i]) }
	u32 := func(i int) uint32 { return *(*uint32)(p.ptrs[i]) }
	if u64(0) != 0x7f0000001000 || int32(u32(1)) != -3 || u32(2) != 7 || math.Float32frombits(u32(3)) != 1.5 ||
		int32(u32(4)) != 42 || u64(5) != 9 || int64(u64(6)) != -1 || math.Float64frombits(u64(7)) != 2 {
		t.Errorf("slots %x", p.slots)
	}
	for _, bad := range [][]any{{"string"}, {1 << 40}, {int16(1)}} {
		if _, err := packParams(bad); err == nil {
			t.Errorf("packParams(%v) succeeded", bad)
		}
	}
	if p, err := packParams(nil); err != nil || len(p.ptrs) != 1 {
		t.Errorf("packParams(nil): a kernel without arguments still gets a valid array")
	}
}

func TestPageRange(t *testing.T) {
	for _, c := range []struct {
		addr    uintptr
		n, page int
		start   uintptr
		size    int
	}{
		{0x10000, 4096, 4096, 0x10000, 4096},
		{0x10010, 4096, 4096, 0x10000, 8192},
		{0x10000, 1, 65536, 0x10000, 65536},
		{0x1fff0, 32, 4096, 0x1f000, 8192},
	} {
		s, n := pageRange(c.addr, c.n, c.page)
		if s != c.start || n != c.size {
			t.Errorf("pageRange(%#x, %d, %d) = %#x, %d; want %#x, %d", c.addr, c.n, c.page, s, n, c.start, c.size)
		}
	}
}

func TestGridCheck(t *testing.T) {
	for _, c := range []struct {
		g  Grid
		ok bool
	}{
		{Grid{Grid: Dim3{X: 1}, Block: Dim3{X: 256}}, true},
		{Grid{Grid: Dim3{X: 1 << 20, Y: 4}, Block: Dim3{X: 1024}}, true},
		{Grid{Grid: Dim3{X: 1}, Block: Dim3{X: 1025}}, false},
		{Grid{Grid: Dim3{X: 1}, Block: Dim3{X: 32, Y: 64}}, false},
		{Grid{Grid: Dim3{X: 1, Y: 70000}, Block: Dim3{X: 32}}, false},
		{Grid{Grid: Dim3{X: 1}, Block: Dim3{X: 32}, Shared: 300 << 10}, false},
	} {
		if err := c.g.Check(); (err == nil) != c.ok {
			t.Errorf("%+v: Check = %v", c.g, err)
		}
	}
}

func TestJITOptions(t *testing.T) {
	info, errs := make([]byte, 64), make([]byte, 128)
	opts, vals := jitOptions(info, errs)
	if len(opts) != len(vals) {
		t.Fatal("options and values differ in length")
	}
	want := map[int32]uintptr{
		jitInfoLogBuffer: uintptr(unsafe.Pointer(&info[0])), jitInfoLogBufferBytes: 64,
		jitErrorLogBuffer: uintptr(unsafe.Pointer(&errs[0])), jitErrorLogBufferBytes: 128,
	}
	for i, o := range opts {
		if vals[i] != want[o] {
			t.Errorf("option %d = %#x, want %#x", o, vals[i], want[o])
		}
	}
}

func TestDriverVersionString(t *testing.T) {
	for v, want := range map[int]string{12040: "12.4", 11040: "11.4", 12080: "12.8", 13000: "13.0"} {
		if got := DriverVersionString(v); got != want {
			t.Errorf("DriverVersionString(%d) = %q, want %q", v, got, want)
		}
	}
	d := Device{MemClockKHz: 3200000, BusWidthBits: 256}
	if bw := d.PeakBandwidth(); math.Abs(bw-204.8e9) > 1e6 {
		t.Errorf("Orin AGX peak bandwidth %.0f, want 204.8 GB/s", bw)
	}
}

// TestDevice exercises the driver on a GPU: description, memory, copies,
// events, the JIT error log and a launch.
func TestDevice(t *testing.T) {
	c := device(t)
	d := c.Device
	t.Logf("%s %s, %d SMs, %.1f GiB, driver %s, integrated %v", d.Name, d.Arch(), d.SMs, float64(d.TotalMem)/(1<<30), d.DriverString(), d.Integrated)
	if d.Name == "" || d.Major < 5 || d.TotalMem == 0 {
		t.Fatalf("device %+v", d)
	}
	p, err := c.Alloc(1 << 20)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Free(p)
	src := make([]byte, 1<<20)
	for i := range src {
		src[i] = byte(i * 7)
	}
	if err := c.CopyToDevice(p, src); err != nil {
		t.Fatal(err)
	}
	q, err := c.Alloc(1 << 20)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Free(q)
	start, _ := c.NewEvent()
	end, _ := c.NewEvent()
	c.Record(start)
	if err := c.CopyDevice(q, p, 1<<20); err != nil {
		t.Fatal(err)
	}
	c.Record(end)
	ms, err := c.Elapsed(start, end)
	if err != nil || ms < 0 {
		t.Fatalf("elapsed %v, %v", ms, err)
	}
	got := make([]byte, 1<<20)
	if err := c.CopyToHost(got, q); err != nil {
		t.Fatal(err)
	}
	if string(got) != string(src) {
		t.Fatal("device round trip changed the bytes")
	}
	// A broken module surfaces the JIT's log.
	_, err = c.LoadPTX(".version 7.4\n.target sm_87\n.address_size 64\n.visible .entry broken() { bogus; }\n")
	var je *JITError
	if !errors.As(err, &je) || je.Log == "" {
		t.Fatalf("broken PTX: %v, want a JITError with a log", err)
	}
	t.Logf("JIT error, as reported: %v", err)
}
