// Host harness for TestBlockKernelsOnHost: kernels.cu's block kernels
// (norms, matrix product, attention, the greedy pick) run on the CPU with fibers
// and barriers standing in for the GPU's threads (testdata/host.h), launched with
// the geometry the Go side computes.
// stdin: int32 op, int32 p[10], float f, int32 na, nb, nc, na floats, nb
// bytes (weights) or floats, nc floats; stdout: int32 n, n floats.
#define MAIRA_HOST 1
#include "../kernels.cu"

#include <stdio.h>
#include <stdlib.h>

int main() {
	int op, p[10], na, nb, nc;
	float f;
	if (fread(&op, 4, 1, stdin) != 1 || fread(p, 4, 10, stdin) != 10 || fread(&f, 4, 1, stdin) != 1) return 2;
	if (fread(&na, 4, 1, stdin) != 1 || fread(&nb, 4, 1, stdin) != 1 || fread(&nc, 4, 1, stdin) != 1) return 2;
	float *a = (float *)calloc(na + 1, 4), *c = (float *)calloc(nc + 1, 4);
	u8 *b = (u8 *)calloc(nb + 4, 1);
	if ((int)fread(a, 4, na, stdin) != na || (int)fread(b, 1, nb, stdin) != nb || (int)fread(c, 4, nc, stdin) != nc) return 3;
	// p[0..2]: grid x, grid y, block; the rest per op.
	int gx = p[0], gy = p[1], nt = p[2], n = 0;
	float *out = nullptr;
	switch (op) {
	case 0: // rmsnorm: a = x (rows x cols), b = w floats; p[3] = cols;
	case 1: { // layernorm: b = w floats, c = bias. p[4] = 1: also the
		// output's Q8_1 blocks, after the output (as floats' bytes)
		int cols = p[3];
		long qb = p[4] ? (long)na / 32 * Q8_1_BYTES : 0;
		n = na + (int)(qb / 4), out = (float *)calloc(n, 4);
		u8 *xq = p[4] ? (u8 *)(out + na) : nullptr;
		if (op == 0) host_launch(gx, gy, nt, [&] { k_rmsnorm(out, a, (const float *)b, cols, f, xq); });
		else host_launch(gx, gy, nt, [&] { k_layernorm(out, a, (const float *)b, c, cols, f, xq); });
		break;
	}
	case 2: { // mm: a = x (n x k), b = weight bytes; p[3] = type, p[4..6] = n, k, m
		int rows = p[4], k = p[5], m = p[6];
		n = rows * m, out = (float *)calloc(n, 4);
		switch (p[3]) {
		case T_F32: host_launch(gx, gy, nt, [&] { k_mm_f32(out, a, b, rows, k, m); }); break;
		case T_F16: host_launch(gx, gy, nt, [&] { k_mm_f16(out, a, b, rows, k, m); }); break;
		case T_BF16: host_launch(gx, gy, nt, [&] { k_mm_bf16(out, a, b, rows, k, m); }); break;
		case T_Q8_0: host_launch(gx, gy, nt, [&] { k_mm_q8_0(out, a, b, rows, k, m); }); break;
		case T_Q4_0: host_launch(gx, gy, nt, [&] { k_mm_q4_0(out, a, b, rows, k, m); }); break;
		case T_Q4_K: host_launch(gx, gy, nt, [&] { k_mm_q4_k(out, a, b, rows, k, m); }); break;
		case T_Q6_K: host_launch(gx, gy, nt, [&] { k_mm_q6_k(out, a, b, rows, k, m); }); break;
		case 100: host_launch(gx, gy, nt, [&] { k_mm_f32s(out, a, (const float *)b, rows, k, m); }); break;
		case 1000 + T_F32: host_launch(gx, gy, nt, [&] { k_gemm_f32(out, a, b, rows, k, m); }); break;
		case 1000 + T_F16: host_launch(gx, gy, nt, [&] { k_gemm_f16(out, a, b, rows, k, m); }); break;
		case 1000 + T_BF16: host_launch(gx, gy, nt, [&] { k_gemm_bf16(out, a, b, rows, k, m); }); break;
		case 1000 + T_Q8_0: host_launch(gx, gy, nt, [&] { k_gemm_q8_0(out, a, b, rows, k, m); }); break;
		case 1000 + T_Q4_0: host_launch(gx, gy, nt, [&] { k_gemm_q4_0(out, a, b, rows, k, m); }); break;
		case 1000 + T_Q4_K: host_launch(gx, gy, nt, [&] { k_gemm_q4_k(out, a, b, rows, k, m); }); break;
		case 1000 + T_Q6_K: host_launch(gx, gy, nt, [&] { k_gemm_q6_k(out, a, b, rows, k, m); }); break;
		default: return 4;
		}
		break;
	}
	case 3: { // attention over activations: a = q, b = k floats, c = v
		// p[3..9] = rows, heads, kvheads, hd, keys, causal, pos0
		int rows = p[3], heads = p[4], kvh = p[5], hd = p[6], keys = p[7], causal = p[8], pos0 = p[9];
		n = rows * heads * hd, out = (float *)calloc(n, 4);
		host_launch(gx, gy, nt, [&] {
			k_attn_f32(out, heads * hd, a, heads * hd, (const float *)b, c, kvh * hd, hd, hd, heads, heads / kvh, keys, causal, pos0, f);
		});
		break;
	}
	case 7: { // blocked attention (k_fattn), op 3's inputs
		int rows = p[3], heads = p[4], kvh = p[5], hd = p[6], keys = p[7], causal = p[8], pos0 = p[9];
		n = rows * heads * hd, out = (float *)calloc(n, 4);
		host_launch(gx, gy, nt, [&] {
			k_fattn_f32(out, heads * hd, a, heads * hd, (const float *)b, c, kvh * hd, hd, hd, heads / kvh, rows, keys, causal, pos0, f);
		});
		break;
	}
	case 9: { // tensor-core attention (k_tattnHD_f32), op 3's inputs
		int rows = p[3], heads = p[4], kvh = p[5], hd = p[6], keys = p[7], causal = p[8], pos0 = p[9];
		n = rows * heads * hd, out = (float *)calloc(n, 4);
		host_launch(gx, gy, nt, [&] {
			if (hd == 64) k_tattn64_f32(out, heads * hd, a, heads * hd, (const float *)b, c, kvh * hd, hd, heads / kvh, rows, keys, causal, pos0, f);
			else k_tattn128_f32(out, heads * hd, a, heads * hd, (const float *)b, c, kvh * hd, hd, heads / kvh, rows, keys, causal, pos0, f);
		});
		break;
	}
	case 10: // op 8 with k_tattnHD_q8 for several rows
	case 8: { // op 3's inputs, k and v stored in Q8 caches of keys+3
		// positions (k_kv_store_q8), then attention over them (k_attn_q8
		// for one row, else k_fattn_q8: p[0..2] their geometry); out: the
		// attention, then the k cache read back (k_kv_load_q8)
		int rows = p[3], heads = p[4], kvh = p[5], hd = p[6], keys = p[7], causal = p[8], pos0 = p[9];
		int pos = keys + 3;
		long rb = q8row(hd);
		u8 *kc = (u8 *)calloc((long)kvh * pos * rb, 1), *vc = (u8 *)calloc((long)kvh * pos * rb, 1);
		host_launch(4, 1, 64, [&] { k_kv_store_q8(kc, (const float *)b, keys, kvh, hd, pos, 0); });
		host_launch(4, 1, 64, [&] { k_kv_store_q8(vc, c, keys, kvh, hd, pos, 0); });
		int na0 = rows * heads * hd, nk = keys * kvh * hd;
		n = na0 + nk, out = (float *)calloc(n, 4);
		host_launch(gx, gy, nt, [&] {
			if (rows == 1) k_attn_q8(out, heads * hd, a, heads * hd, (const i8 *)kc, (const i8 *)vc, (int)rb, pos * rb, hd, heads, heads / kvh, keys, causal, pos0, f);
			else if (op == 10 && hd == 64) k_tattn64_q8(out, heads * hd, a, heads * hd, (const i8 *)kc, (const i8 *)vc, (int)rb, pos * rb, heads / kvh, rows, keys, causal, pos0, f);
			else if (op == 10) k_tattn128_q8(out, heads * hd, a, heads * hd, (const i8 *)kc, (const i8 *)vc, (int)rb, pos * rb, heads / kvh, rows, keys, causal, pos0, f);
			else k_fattn_q8(out, heads * hd, a, heads * hd, (const i8 *)kc, (const i8 *)vc, (int)rb, pos * rb, hd, heads / kvh, rows, keys, causal, pos0, f);
		});
		host_launch(3, 1, 64, [&] { k_kv_load_q8(out + na0, kc, keys, kvh, hd, pos, 0); });
		break;
	}
	case 4: { // k_pick of a: index, margin, non-finite count
		int r[3] = {-1, 0, -1};
		host_launch(gx, gy, nt, [&] { k_pick(r, a, na); });
		n = 3, out = (float *)calloc(3, 4);
		out[0] = (float)r[0], out[1] = __builtin_bit_cast(float, r[1]), out[2] = (float)r[2];
		break;
	}
	case 5: { // decode GEMV on Q8_1: a = x (1 x k), b = weight bytes; p[3] = type
		// (-1: the quantized row itself, as floats), p[4..5] = k, m, p[6..7] =
		// k_quantize_q8_1's grid x and block. p[0..2] are k_mmq's geometry.
		int ty = p[3], k = p[4], m = p[5];
		long qb = (long)k / 32 * Q8_1_BYTES;
		u8 *xq = (u8 *)calloc(qb + 4, 1);
		host_launch(p[6], 1, p[7], [&] { k_quantize_q8_1(xq, a, k); });
		if (ty < 0) {
			n = (int)(qb / 4), out = (float *)xq;
			break;
		}
		n = m, out = (float *)calloc(n, 4);
		switch (ty) {
		case T_Q8_0: host_launch(gx, gy, nt, [&] { k_mmq_q8_0(out, xq, b, k, m); }); break;
		case T_Q4_0: host_launch(gx, gy, nt, [&] { k_mmq_q4_0(out, xq, b, k, m); }); break;
		case T_Q4_K: host_launch(gx, gy, nt, [&] { k_mmq_q4_k(out, xq, b, k, m); }); break;
		case T_Q6_K: host_launch(gx, gy, nt, [&] { k_mmq_q6_k(out, xq, b, k, m); }); break;
		default: return 4;
		}
		break;
	}
	case 6: { // prefill GEMM on Q8_1 (tensor cores): a = x (n x k), b = weight
		// bytes; p[3] = type, p[4..6] = n, k, m, p[7..8] = k_quantize_q8_1's
		// grid x and block (grid y: the n rows). p[0..2] are k_gemmq's.
		int ty = p[3], rows = p[4], k = p[5], m = p[6];
		long qb = (long)k / 32 * Q8_1_BYTES * rows;
		u8 *xq = (u8 *)calloc(qb + 4, 1);
		host_launch(p[7], rows, p[8], [&] { k_quantize_q8_1(xq, a, k); });
		n = rows * m, out = (float *)calloc(n, 4);
		switch (ty) {
		case T_Q8_0: host_launch(gx, gy, nt, [&] { k_gemmq_q8_0(out, xq, b, rows, k, m); }); break;
		case T_Q4_0: host_launch(gx, gy, nt, [&] { k_gemmq_q4_0(out, xq, b, rows, k, m); }); break;
		case T_Q4_K: host_launch(gx, gy, nt, [&] { k_gemmq_q4_k(out, xq, b, rows, k, m); }); break;
		case T_Q6_K: host_launch(gx, gy, nt, [&] { k_gemmq_q6_k(out, xq, b, rows, k, m); }); break;
		default: return 4;
		}
		break;
	}
	default: return 4;
	}
	fwrite(&n, 4, 1, stdout);
	fwrite(out, 4, n, stdout);
	return 0;
}
