// Package cuda holds maira's CUDA kernels: kernels.cu, compiled to PTX for
// sm_87 (Jetson Orin; newer GPUs JIT-compile it) by `make kernels` with
// clang-16, and the committed kernels.ptx embedded here, so building maira
// needs no CUDA toolchain. It also computes each kernel's launch geometry,
// host logic the tests check without a GPU.
package cuda

import _ "embed"

// PTX is the kernels' PTX (the driver JIT-compiles it when it loads).
//
//go:embed kernels.ptx
var PTX string

// Source is kernels.cu, which PTX is compiled from.
//
//go:embed kernels.cu
var Source string

// Arch is the GPU architecture the PTX targets.
const Arch = "sm_87"

// ClangArgs are clang-16's arguments that compile kernels.cu to PTX (the
// input and output paths follow). PTX ISA 7.4 (CUDA 11.4, JetPack 5) is the
// first with sm_87 and the warp-synchronous shuffles the kernels use.
var ClangArgs = []string{
	"-x", "cuda", "--cuda-device-only", "-nocudainc", "-nocudalib",
	"--cuda-gpu-arch=" + Arch, "-Xclang", "-target-feature", "-Xclang", "+ptx74",
	"-O3", "-S",
}

// Kernels are the entry points the PTX must export.
var Kernels = []string{
	"k_add", "k_mul", "k_gelu", "k_silu_mul", "k_add_bias", "k_scale_cols", "k_copy_f32",
	"k_kv_store", "k_kv_load", "k_kv_store_f32", "k_kv_load_f32", "k_kv_store_q8", "k_kv_load_q8", "k_rmsnorm", "k_layernorm", "k_rope", "k_pick",
	"k_attn_f32", "k_attn_f16", "k_attn_q8", "k_fattn_f32", "k_fattn_f16", "k_fattn_q8",
	"k_tattn64_f32", "k_tattn64_f16", "k_tattn64_q8", "k_tattn128_f32", "k_tattn128_f16", "k_tattn128_q8", "k_copy16",
	"k_gather_f32", "k_gather_f16", "k_gather_bf16", "k_gather_q8_0", "k_gather_q4_0", "k_gather_q4_k", "k_gather_q6_k",
	"k_mm_f32", "k_mm_f32s", "k_mm_f16", "k_mm_bf16", "k_mm_q8_0", "k_mm_q4_0", "k_mm_q4_k", "k_mm_q6_k",
	"k_gemm_f32", "k_gemm_f16", "k_gemm_bf16", "k_gemm_q8_0", "k_gemm_q4_0", "k_gemm_q4_k", "k_gemm_q6_k",
	"k_quantize_q8_1", "k_mmq_q8_0", "k_mmq_q4_0", "k_mmq_q4_k", "k_mmq_q6_k",
	"k_gemmq_q8_0", "k_gemmq_q4_0", "k_gemmq_q4_k", "k_gemmq_q6_k",
}
