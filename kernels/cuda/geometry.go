package cuda

import (
	"fmt"

	"maira/quant/dtype"
)

// Launch is a kernel's geometry: blocks in the grid (x, y), threads in a
// block (x) and dynamic shared memory.
type Launch struct {
	GridX, GridY int
	Block        int
	Shared       int
}

// The kernels' fixed shapes (kernels.cu's MM_ROWS, ATTN_WARPS, ...).
const (
	elemBlock   = 256
	elemMaxGrid = 4096 // element-wise kernels stride over the rest
	mmRows      = 8    // input rows a k_mm block takes
	mmWarps     = 4    // weight rows (one per warp) a k_mm block takes
	gemmTile    = 64   // k_gemm's output tile, 64 x 64
	attnWarps   = 4
	gatherBlock = 128
	// MaxHeadDim is the widest attention head k_attn takes (8 values a lane).
	MaxHeadDim = 256
	pickBlock  = 1024
)

// Elementwise is the geometry of a grid-stride kernel over n values.
func Elementwise(n int) Launch {
	return Launch{GridX: max(1, min((n+elemBlock-1)/elemBlock, elemMaxGrid)), GridY: 1, Block: elemBlock}
}

// Rows is a row kernel's (RMSNorm, LayerNorm): a block per row, up to 256
// threads, a whole number of warps, none idle on a narrow row.
func Rows(rows, cols int) Launch {
	return Launch{GridX: rows, GridY: 1, Block: max(32, min(256, (cols+31)/32*32))}
}

// Gather is k_gather's: a thread per 32-value chunk of a row, a grid row
// per id.
func Gather(ids, cols int) Launch {
	chunks := cols / 32
	return Launch{GridX: max(1, (chunks+gatherBlock-1)/gatherBlock), GridY: ids, Block: gatherBlock}
}

// MatMul is k_mm's for an n x k input and m weight rows: a warp per
// weight row, a grid row per mmRows input rows.
func MatMul(n, m int) Launch {
	return Launch{GridX: (m + mmWarps - 1) / mmWarps, GridY: (n + mmRows - 1) / mmRows, Block: 32 * mmWarps}
}

// Q8_1Bytes is the bytes of a row of k values quantized to Q8_1 (36 per
// 32 values: ggml's block_q8_1), k a multiple of 32.
func Q8_1Bytes(k int) int { return k / 32 * q81Block }

// q81Block is a Q8_1 block's bytes; quantBlock is k_quantize_q8_1's
// threads in a block (a warp per 32-value block).
const (
	q81Block   = 36
	quantBlock = 128
)

// QuantizeQ8_1 is k_quantize_q8_1's for a row of k values (a multiple of
// 32): a warp per 32-value block, 4 to a block of 128 threads.
func QuantizeQ8_1(k int) Launch {
	return Launch{GridX: max(1, (k/32*32+quantBlock-1)/quantBlock), GridY: 1, Block: quantBlock}
}

// QuantizeRowsQ8_1 is k_quantize_q8_1's for n rows of k values: a grid
// row per input row.
func QuantizeRowsQ8_1(n, k int) Launch {
	l := QuantizeQ8_1(k)
	l.GridY = n
	return l
}

// GEMMQ is k_gemmq's (prefill on the tensor cores: n input rows quantized
// to Q8_1, m weight rows): a block of 4 warps per 64 x 64 output tile.
func GEMMQ(n, m int) Launch {
	return Launch{GridX: (m + gemmTile - 1) / gemmTile, GridY: (n + gemmTile - 1) / gemmTile, Block: 128}
}

// MatMulQ is k_mmq's (decode: one input row, quantized to Q8_1) for m
// weight rows: a warp per weight row, 4 to a block, as MatMul(1, m).
func MatMulQ(m int) Launch {
	return Launch{GridX: (m + mmWarps - 1) / mmWarps, GridY: 1, Block: 32 * mmWarps}
}

// SupportsQ reports whether k_mmq_NAME exists for the type name (the
// decode GEMV on Q8_1 activations with dp4a) and the row width.
func SupportsQ(name string, cols int) bool {
	switch name {
	case "q8_0", "q4_0":
		return cols%32 == 0
	case "q4_k", "q6_k":
		return cols%256 == 0
	}
	return false
}

// GEMMRows is the input rows from which MatMul uses k_gemm (64 x 64
// tiles) rather than k_mm (a warp per weight row, 8 input rows a pass).
const GEMMRows = 16

// GEMM is k_gemm's: a block of 256 threads per 64 x 64 output tile.
func GEMM(n, m int) Launch {
	return Launch{GridX: (m + gemmTile - 1) / gemmTile, GridY: (n + gemmTile - 1) / gemmTile, Block: 256}
}

// Attention is k_attn's: a block per (query row, head).
func Attention(rows, heads, headDim int) (Launch, error) {
	if headDim > MaxHeadDim || headDim <= 0 {
		return Launch{}, fmt.Errorf("attention heads of %d: the kernel takes 1 to %d", headDim, MaxHeadDim)
	}
	if heads > 65535 {
		return Launch{}, fmt.Errorf("attention of %d heads", heads)
	}
	return Launch{GridX: rows, GridY: heads, Block: 32 * attnWarps}, nil
}

// Blocked attention (k_fattn): query rows a block, and the widest head.
const (
	fattnRows  = 32
	fattnMaxHD = 128
)

// FlashAttention reports whether k_fattn takes heads of headDim values
// (a multiple of 32, at most 128) and, if so, its geometry: a block of 4
// warps per (32 query rows, head). Attention uses it for more than one
// query row.
func FlashAttention(rows, heads, headDim int) (Launch, bool) {
	if headDim <= 0 || headDim > fattnMaxHD || headDim%32 != 0 || heads > 65535 || rows < 2 {
		return Launch{}, false
	}
	return Launch{GridX: (rows + fattnRows - 1) / fattnRows, GridY: heads, Block: 128}, true
}

// TensorAttention reports whether k_tattn takes heads of headDim values
// (64 or 128: k_tattn64_T, k_tattn128_T) and, if so, its geometry: a
// block of 4 warps per (64 query rows, head). Attention prefers it to
// k_fattn for more than one query row.
func TensorAttention(rows, heads, headDim int) (Launch, bool) {
	if (headDim != 64 && headDim != 128) || heads > 65535 || rows < 2 {
		return Launch{}, false
	}
	return Launch{GridX: (rows + tattnRows - 1) / tattnRows, GridY: heads, Block: 128}, true
}

// tattnRows is the query rows a k_tattn block takes.
const tattnRows = 64

// Pick is k_pick's: one block of 1024 threads (the reduction's tree needs
// a power of two).
func Pick() Launch { return Launch{GridX: 1, GridY: 1, Block: pickBlock} }

// Copy16 is k_copy16's for n bytes (n a multiple of 16).
func Copy16(n int) Launch {
	return Launch{GridX: max(1, min((n/16+elemBlock-1)/elemBlock, 8*elemMaxGrid)), GridY: 1, Block: elemBlock}
}

// Supports reports whether the kernels take a chunk layout for the ggml
// type name (k_gather_NAME and k_mm_NAME exist) and the row width.
func Supports(name string, cols int) bool {
	switch name {
	case "f32", "f16", "bf16", "q8_0", "q4_0":
		return cols%32 == 0
	case "q4_k", "q6_k":
		return cols%256 == 0
	}
	return false
}

// TypeSuffix is a weight type's suffix in the kernel names (k_mm_q4_k,
// k_gather_f16, k_mmq_q8_0): its dtype name, for the types kernels.cu
// decodes; ok is false for any other.
func TypeSuffix(t dtype.Type) (string, bool) {
	switch t {
	case dtype.F32, dtype.F16, dtype.BF16, dtype.Q8_0, dtype.Q4_0, dtype.Q4_K, dtype.Q6_K:
		return t.String(), true
	}
	return "", false
}
