// Host harness for TestKernelsOnHost: kernels.cu's thread-independent
// kernels compiled for the CPU and run one simulated thread at a time over
// a grid of 3 blocks of 64 threads (so the grid-stride loops wrap).
// stdin: int32 op, int32 p[6], int32 na, nb, then na and nb floats;
// stdout: the result floats.
#define MAIRA_HOST 1
#include "../kernels.cu"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

template <typename F> static void grid(F f) {
	host_ntid = 64, host_nbid = 3;
	for (host_bid = 0; host_bid < host_nbid; host_bid++)
		for (host_tid = 0; host_tid < host_ntid; host_tid++) f();
}

int main() {
	int op, p[6], na, nb;
	if (fread(&op, 4, 1, stdin) != 1 || fread(p, 4, 6, stdin) != 6 || fread(&na, 4, 1, stdin) != 1 || fread(&nb, 4, 1, stdin) != 1) return 2;
	float *a = (float *)calloc(na + 1, 4), *b = (float *)calloc(nb + 1, 4);
	if ((int)fread(a, 4, na, stdin) != na || (int)fread(b, 4, nb, stdin) != nb) return 3;
	float *out = (float *)calloc(na + 1, 4);
	int n = na;
	switch (op) {
	case 0: grid([&] { k_gelu(out, a, n); }); break;
	case 1: grid([&] { k_silu_mul(out, a, b, n); }); break;
	case 2: // rope: a = x (rows x heads*hd), b = the cos/sin table; p = rows, heads, hd, pos0
		memcpy(out, a, 4L * n);
		grid([&] { k_rope(out, b, p[0], p[1], p[2], p[3]); });
		break;
	case 3: { // kv store then load through an F16 cache: p = rows, heads, hd, positions, row0
		u16 *cache = (u16 *)calloc((long)p[1] * p[3] * p[2], 2);
		grid([&] { k_kv_store(cache, a, p[0], p[1], p[2], p[3], p[4]); });
		grid([&] { k_kv_load(out, cache, p[0], p[1], p[2], p[3], p[4]); });
		break;
	}
	case 4: // add_bias then scale_cols by b: p = cols
		memcpy(out, a, 4L * n);
		grid([&] { k_add_bias(out, b, n, p[0]); });
		grid([&] { k_scale_cols(out, b, n, p[0]); });
		break;
	default: return 4;
	}
	fwrite(out, 4, n, stdout);
	return 0;
}
