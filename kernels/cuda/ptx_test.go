package cuda

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestPTXCurrent recompiles kernels.cu with clang-16 and holds the
// committed kernels.ptx to it (run `make kernels` when it fails).
func TestPTXCurrent(t *testing.T) {
	clang, err := exec.LookPath("clang-16")
	if err != nil {
		t.Skip("clang-16 not installed: cannot check kernels.ptx is current")
	}
	out := filepath.Join(t.TempDir(), "kernels.ptx")
	args := append(append([]string{}, ClangArgs...), "-o", out, "kernels.cu")
	if b, err := exec.Command(clang, args...).CombinedOutput(); err != nil {
		t.Fatalf("clang-16 %s: %v\n%s", strings.Join(args, " "), err, b)
	}
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != PTX {
		t.Fatal("kernels.ptx is stale: run `make kernels` and commit it")
	}
}

func TestPTXExportsKernels(t *testing.T) {
	if !strings.Contains(PTX, ".target "+Arch) || !strings.Contains(PTX, ".version 7.4") {
		t.Fatalf("PTX header: want .version 7.4 and .target %s", Arch)
	}
	for _, k := range Kernels {
		if !strings.Contains(PTX, ".visible .entry "+k+"(") {
			t.Errorf("PTX has no kernel %s", k)
		}
	}
	if n := strings.Count(PTX, ".visible .entry "); n != len(Kernels) {
		t.Errorf("PTX has %d kernels, Kernels lists %d", n, len(Kernels))
	}
}

func TestGeometry(t *testing.T) {
	for _, c := range []struct {
		name string
		got  Launch
		want Launch
	}{
		{"elementwise 1", Elementwise(1), Launch{GridX: 1, GridY: 1, Block: 256}},
		{"elementwise 0", Elementwise(0), Launch{GridX: 1, GridY: 1, Block: 256}},
		{"elementwise 4096", Elementwise(4096), Launch{GridX: 16, GridY: 1, Block: 256}},
		{"elementwise capped", Elementwise(1 << 30), Launch{GridX: 4096, GridY: 1, Block: 256}},
		{"rows narrow", Rows(3, 20), Launch{GridX: 3, GridY: 1, Block: 32}},
		{"rows 100", Rows(3, 100), Launch{GridX: 3, GridY: 1, Block: 128}},
		{"rows wide", Rows(1400, 4096), Launch{GridX: 1400, GridY: 1, Block: 256}},
		{"gather", Gather(5, 4096), Launch{GridX: 1, GridY: 5, Block: 128}},
		{"gather wide", Gather(1, 32*129), Launch{GridX: 2, GridY: 1, Block: 128}},
		{"matmul decode", MatMul(1, 11008), Launch{GridX: 2752, GridY: 1, Block: 128}},
		{"matmul odd", MatMul(9, 5), Launch{GridX: 2, GridY: 2, Block: 128}},
		{"matmul prefill", MatMul(1400, 4096), Launch{GridX: 1024, GridY: 175, Block: 128}},
		{"pick", Pick(), Launch{GridX: 1, GridY: 1, Block: 1024}},
		{"gemm prefill", GEMM(1400, 4096), Launch{GridX: 64, GridY: 22, Block: 256}},
		{"gemm odd", GEMM(17, 65), Launch{GridX: 2, GridY: 1, Block: 256}},
		{"copy", Copy16(1 << 20), Launch{GridX: 256, GridY: 1, Block: 256}},
		{"quantize q8_1 4096", QuantizeQ8_1(4096), Launch{GridX: 32, GridY: 1, Block: 128}},
		{"quantize q8_1 odd blocks", QuantizeQ8_1(32 * 5), Launch{GridX: 2, GridY: 1, Block: 128}},
		{"quantize q8_1 one block", QuantizeQ8_1(32), Launch{GridX: 1, GridY: 1, Block: 128}},
		{"quantize q8_1 11008", QuantizeQ8_1(11008), Launch{GridX: 86, GridY: 1, Block: 128}},
		{"matmulq 11008", MatMulQ(11008), Launch{GridX: 2752, GridY: 1, Block: 128}},
		{"matmulq odd", MatMulQ(5), Launch{GridX: 2, GridY: 1, Block: 128}},
		{"matmulq vocab", MatMulQ(32207), Launch{GridX: 8052, GridY: 1, Block: 128}},
	} {
		if c.got != c.want {
			t.Errorf("%s: got %+v, want %+v", c.name, c.got, c.want)
		}
	}
}

func TestAttentionGeometry(t *testing.T) {
	for _, c := range []struct {
		rows, heads, hd int
		want            Launch
		err             bool
	}{
		{1, 32, 128, Launch{GridX: 1, GridY: 32, Block: 128}, false},
		{1370, 12, 64, Launch{GridX: 1370, GridY: 12, Block: 128}, false},
		{1, 1, 256, Launch{GridX: 1, GridY: 1, Block: 128}, false},
		{1, 1, 512, Launch{}, true},
		{1, 1, 0, Launch{}, true},
	} {
		got, err := Attention(c.rows, c.heads, c.hd)
		if (err != nil) != c.err || got != c.want {
			t.Errorf("Attention(%d, %d, %d) = %+v, %v; want %+v, error %v", c.rows, c.heads, c.hd, got, err, c.want, c.err)
		}
	}
	// Many rows: k_tattn (heads of 64 or 128, 64 rows a block), else
	// k_fattn (heads up to 128 in 32s, 32 rows a block); one row: neither.
	for _, c := range []struct {
		rows, heads, hd int
		tensor, flash   Launch
	}{
		{1370, 12, 64, Launch{GridX: 22, GridY: 12, Block: 128}, Launch{GridX: 43, GridY: 12, Block: 128}},
		{512, 32, 128, Launch{GridX: 8, GridY: 32, Block: 128}, Launch{GridX: 16, GridY: 32, Block: 128}},
		{40, 4, 96, Launch{}, Launch{GridX: 2, GridY: 4, Block: 128}},
		{40, 4, 256, Launch{}, Launch{}},
		{1, 32, 128, Launch{}, Launch{}},
	} {
		tl, tok := TensorAttention(c.rows, c.heads, c.hd)
		fl, fok := FlashAttention(c.rows, c.heads, c.hd)
		if tl != c.tensor || tok != (c.tensor != Launch{}) || fl != c.flash || fok != (c.flash != Launch{}) {
			t.Errorf("%d rows of %d heads of %d: TensorAttention %+v %v, FlashAttention %+v %v; want %+v, %+v", c.rows, c.heads, c.hd, tl, tok, fl, fok, c.tensor, c.flash)
		}
	}
}

func TestSupports(t *testing.T) {
	for _, c := range []struct {
		name string
		cols int
		want bool
	}{
		{"q4_0", 4096, true}, {"q4_0", 48, false}, {"q4_k", 4096, true}, {"q4_k", 4128, false},
		{"q6_k", 11008, true}, {"q6_k", 4160, false}, {"f32", 588, false}, {"f16", 64, true}, {"iq2_xs", 4096, false},
	} {
		if got := Supports(c.name, c.cols); got != c.want {
			t.Errorf("Supports(%s, %d) = %v", c.name, c.cols, got)
		}
	}
	for _, c := range []struct {
		name string
		cols int
		want bool
	}{
		{"q4_0", 4096, true}, {"q8_0", 48, false}, {"q8_0", 96, true}, {"q4_k", 4096, true}, {"q4_k", 4128, false},
		{"q6_k", 11008, true}, {"q6_k", 4160, false}, {"f16", 4096, false}, {"f32", 4096, false}, {"bf16", 4096, false},
	} {
		if got := SupportsQ(c.name, c.cols); got != c.want {
			t.Errorf("SupportsQ(%s, %d) = %v", c.name, c.cols, got)
		}
	}
	if Q8_1Bytes(4096) != 4608 || Q8_1Bytes(32) != 36 {
		t.Errorf("Q8_1Bytes(4096) = %d, Q8_1Bytes(32) = %d; want 4608, 36", Q8_1Bytes(4096), Q8_1Bytes(32))
	}
}
