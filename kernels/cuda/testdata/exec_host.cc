// Host harness for runtime/cuda's TestModelOnKernelSource: every kernel
// of kernels.cu, compiled for the CPU, served to the stand-in CUDA driver.
// "Device memory" is a shared file that both processes map at the same
// address (argv[1]: the file, argv[2]: the address, argv[3]: its size), so
// the pointers among the kernels' arguments mean the same here.
// stdin, per launch: u32 name length, the name, i32 grid x, grid y, block,
// i32 n, n u64 argument slots (as runtime/cuda packs them); stdout: one
// byte, 'k' when the kernel has run, 'e' for an unknown one.
#define MAIRA_HOST 1
#include "../kernels.cu"

#include <fcntl.h>
#include <functional>
#include <map>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <string>
#include <sys/mman.h>
#include <type_traits>
#include <utility>

template <typename T> static T arg(uint64_t v) {
	if constexpr (std::is_pointer_v<T>) return (T)(uintptr_t)v;
	else if constexpr (std::is_same_v<T, float>) {
		uint32_t u = (uint32_t)v;
		float f;
		memcpy(&f, &u, 4);
		return f;
	} else return (T)v; // int from a zero-extended int32, long from 8 bytes
}
template <typename... A, size_t... I> static void call(void (*f)(A...), const uint64_t *s, std::index_sequence<I...>) {
	f(arg<A>(s[I])...);
}
struct Kernel {
	int nargs;
	std::function<void(const uint64_t *)> run;
};
template <typename... A> static Kernel wrap(void (*f)(A...)) {
	return Kernel{(int)sizeof...(A), [f](const uint64_t *s) { call(f, s, std::index_sequence_for<A...>{}); }};
}

int main(int argc, char **argv) {
	if (argc != 4) return 2;
	int fd = open(argv[1], O_RDWR);
	void *want = (void *)strtoull(argv[2], nullptr, 0);
	size_t size = strtoull(argv[3], nullptr, 0);
	if (fd < 0 || mmap(want, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED_NOREPLACE, fd, 0) != want) return 3;
#define K(name) {#name, wrap(name)},
	std::map<std::string, Kernel> kernels = {
		K(k_add)
		K(k_mul)
		K(k_gelu)
		K(k_silu_mul)
		K(k_add_bias)
		K(k_scale_cols)
		K(k_copy_f32)
		K(k_kv_store)
		K(k_kv_load)
		K(k_kv_store_f32)
		K(k_kv_load_f32)
		K(k_kv_store_q8)
		K(k_kv_load_q8)
		K(k_rmsnorm)
		K(k_layernorm)
		K(k_rope)
		K(k_pick)
		K(k_attn_f32)
		K(k_attn_f16)
		K(k_attn_q8)
		K(k_fattn_f32)
		K(k_fattn_f16)
		K(k_fattn_q8)
		K(k_tattn64_f32)
		K(k_tattn64_f16)
		K(k_tattn64_q8)
		K(k_tattn128_f32)
		K(k_tattn128_f16)
		K(k_tattn128_q8)
		K(k_copy16)
		K(k_gather_f32)
		K(k_gather_f16)
		K(k_gather_bf16)
		K(k_gather_q8_0)
		K(k_gather_q4_0)
		K(k_gather_q4_k)
		K(k_gather_q6_k)
		K(k_mm_f32)
		K(k_mm_f32s)
		K(k_mm_f16)
		K(k_mm_bf16)
		K(k_mm_q8_0)
		K(k_mm_q4_0)
		K(k_mm_q4_k)
		K(k_mm_q6_k)
		K(k_gemm_f32)
		K(k_gemm_f16)
		K(k_gemm_bf16)
		K(k_gemm_q8_0)
		K(k_gemm_q4_0)
		K(k_gemm_q4_k)
		K(k_gemm_q6_k)
		K(k_quantize_q8_1)
		K(k_mmq_q8_0)
		K(k_mmq_q4_0)
		K(k_mmq_q4_k)
		K(k_mmq_q6_k)
		K(k_gemmq_q8_0)
		K(k_gemmq_q4_0)
		K(k_gemmq_q4_k)
		K(k_gemmq_q6_k)
	};
	uint32_t n;
	while (fread(&n, 4, 1, stdin) == 1) {
		std::string name(n, 0);
		int g[4];
		if (fread(name.data(), 1, n, stdin) != n || fread(g, 4, 4, stdin) != 4) return 4;
		std::vector<uint64_t> slots(g[3] + 1);
		if ((int)fread(slots.data(), 8, g[3], stdin) != g[3]) return 4;
		auto k = kernels.find(name);
		if (k == kernels.end() || k->second.nargs != g[3]) {
			fputc('e', stdout);
		} else {
			host_launch(g[0], g[1], g[2], [&] { k->second.run(slots.data()); });
			fputc('k', stdout);
		}
		fflush(stdout);
	}
	return 0;
}
