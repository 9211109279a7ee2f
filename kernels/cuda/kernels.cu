// maira's CUDA kernels, compiled to PTX for sm_87 by `make kernels` with
// Debian's clang-16 (no CUDA headers, no libdevice: NVVM builtins and
// inline PTX only). Activations are row-major float32; weights are the
// model file's bytes in their ggml block layouts (see quant/dtype).
//
// Every kernel is extern "C" so the Go side finds it by name; its
// parameters are pointers (8 bytes), int and float (4 bytes), in the order
// the Go launcher (runtime/cuda) passes them.

#ifdef MAIRA_HOST
// The host build (testdata/*.cc) compiles every kernel for the CPU: each
// simulated thread of a block is a fiber, __syncthreads a barrier of the
// block and a shuffle an exchange between barriers of the warp (see
// testdata/host.h). The tests hold them to quant/dtype and the CPU backend
// without a GPU.
#include "testdata/host.h"
#else
#define GLOBAL extern "C" __attribute__((global))
#define DEVICE static __attribute__((device)) __attribute__((always_inline)) inline
#define SHARED __attribute__((shared))

typedef unsigned char u8;
typedef unsigned short u16;
typedef unsigned int u32;
typedef signed char i8;

DEVICE int tid() { return __nvvm_read_ptx_sreg_tid_x(); }
DEVICE int ntid() { return __nvvm_read_ptx_sreg_ntid_x(); }
DEVICE int bid() { return __nvvm_read_ptx_sreg_ctaid_x(); }
DEVICE int bidy() { return __nvvm_read_ptx_sreg_ctaid_y(); }
DEVICE int nbid() { return __nvvm_read_ptx_sreg_nctaid_x(); }
DEVICE void bar() { __syncthreads(); }

DEVICE float h2f(u16 h) {
	float f;
	asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(h));
	return f;
}
DEVICE u16 f2h(float f) {
	u16 h;
	asm("cvt.rn.f16.f32 %0, %1;" : "=h"(h) : "f"(f));
	return h;
}
DEVICE float bf2f(u16 h) { return __builtin_bit_cast(float, (u32)h << 16); }
DEVICE float ld16f(const u8 *p) { return h2f((u16)p[0] | (u16)p[1] << 8); }
DEVICE float mul_rn(float a, float b) { return __nvvm_mul_rn_f(a, b); } // rounded, never fused
DEVICE float ex2(float x) { return __nvvm_ex2_approx_f(x); }
DEVICE float fsqrt(float x) { return __nvvm_sqrt_rn_f(x); }

DEVICE float shfl_xor(float v, int m) { return __nvvm_shfl_sync_bfly_f32(0xffffffff, v, m, 31); }
// dp4a: c + the dot product of a's and b's four signed bytes (sm_61 on).
DEVICE int dp4a(int a, int b, int c) {
	int r;
	asm("dp4a.s32.s32 %0, %1, %2, %3;" : "=r"(r) : "r"(a), "r"(b), "r"(c));
	return r;
}
// mma_s8: c += A·B on the tensor cores, A 16 x 32 and B 32 x 8 signed
// bytes, the warp's lanes holding the fragments as testdata/host.h's twin
// spells out (sm_80 on). Not volatile: a pure function of its operands,
// which the compiler may schedule around the shared-memory loads.
DEVICE void mma_s8(int *c, const int *a, int b0, int b1) {
	asm("mma.sync.aligned.m16n8k32.row.col.s32.s8.s8.s32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};"
	             : "+r"(c[0]), "+r"(c[1]), "+r"(c[2]), "+r"(c[3])
	             : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}
// mma_f16: c += A·B on the tensor cores, A 16 x 16 and B 16 x 8 f16s (two
// to a register, the lower index low), float accumulators; fragments as
// testdata/host.h's twin spells out.
DEVICE void mma_f16(float *c, const u32 *a, u32 b0, u32 b1) {
	asm("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};"
	    : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
	    : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}
// rint_i rounds to the nearest integer, ties to even (as the CPU's round).
DEVICE int rint_i(float f) {
	int r;
	asm("cvt.rni.s32.f32 %0, %1;" : "=r"(r) : "f"(f));
	return r;
}
#endif // MAIRA_HOST

DEVICE float warp_sum(float v) {
	for (int m = 16; m > 0; m >>= 1) v += shfl_xor(v, m);
	return v;
}
DEVICE float warp_max(float v) {
	for (int m = 16; m > 0; m >>= 1) v = __builtin_fmaxf(v, shfl_xor(v, m));
	return v;
}
// block_sum sums v over the block (up to 1024 threads); every thread gets
// the total. buf holds 32 floats.
DEVICE float block_sum(float v, float *buf) {
	v = warp_sum(v);
	int lane = tid() & 31, w = tid() >> 5, nw = (ntid() + 31) >> 5;
	bar();
	if (lane == 0) buf[w] = v;
	bar();
	v = lane < nw ? buf[lane] : 0.f;
	return warp_sum(v);
}

DEVICE float fexp(float x) { return ex2(x * 1.4426950408889634f); }

// ferf is erf to within 1.2e-7 (W. J. Cody's rational approximations are
// overkill here; this is Numerical Recipes' erfc Chebyshev fit).
DEVICE float ferf(float x) {
	float z = __builtin_fabsf(x);
	float t = 1.f / (1.f + 0.5f * z);
	float r = t * fexp(-z * z - 1.26551223f + t * (1.00002368f + t * (0.37409196f + t * (0.09678418f + t * (-0.18628806f + t * (0.27886807f + t * (-1.13520398f + t * (1.48851587f + t * (-0.82215223f + t * 0.17087277f)))))))));
	float e = 1.f - r;
	return x < 0 ? -e : e;
}

// ---- element-wise: one thread per value, grid-stride -----------------------

#define EACH(i, n) for (int i = bid() * ntid() + tid(); i < (n); i += nbid() * ntid())

GLOBAL void k_add(float *d, const float *a, const float *b, int n) { EACH(i, n) d[i] = a[i] + b[i]; }
GLOBAL void k_mul(float *d, const float *a, const float *b, int n) { EACH(i, n) d[i] = a[i] * b[i]; }
GLOBAL void k_gelu(float *d, const float *x, int n) {
	EACH(i, n) {
		float v = x[i];
		d[i] = 0.5f * v * (1.f + ferf(v * 0.70710678118654752f));
	}
}
GLOBAL void k_silu_mul(float *d, const float *g, const float *u, int n) {
	EACH(i, n) {
		float v = g[i];
		d[i] = v / (1.f + fexp(-v)) * u[i];
	}
}
GLOBAL void k_add_bias(float *x, const float *b, int n, int cols) { EACH(i, n) x[i] += b[i % cols]; }
GLOBAL void k_scale_cols(float *x, const float *s, int n, int cols) { EACH(i, n) x[i] *= s[i % cols]; }

// k_copy_f32 copies n values (CopyRows between activations).
GLOBAL void k_copy_f32(float *d, const float *s, int n) { EACH(i, n) d[i] = s[i]; }

// Key/value caches are F16, head-major: head h, position p at
// (h*positions + p)*hd. k_kv_store writes rows [row0, row0+rows) from
// row-major src; k_kv_load reads them back.
GLOBAL void k_kv_store(u16 *cache, const float *src, int rows, int heads, int hd, int positions, int row0) {
	int cols = heads * hd;
	EACH(i, rows * cols) {
		int r = i / cols, c = i % cols, h = c / hd, e = c % hd;
		cache[((long)h * positions + row0 + r) * hd + e] = f2h(src[i]);
	}
}
GLOBAL void k_kv_load(float *dst, const u16 *cache, int rows, int heads, int hd, int positions, int row0) {
	int cols = heads * hd;
	EACH(i, rows * cols) {
		int r = i / cols, c = i % cols, h = c / hd, e = c % hd;
		dst[i] = h2f(cache[((long)h * positions + row0 + r) * hd + e]);
	}
}

// The F32 cache's twins (same layout, float values).
GLOBAL void k_kv_store_f32(float *cache, const float *src, int rows, int heads, int hd, int positions, int row0) {
	int cols = heads * hd;
	EACH(i, rows * cols) {
		int r = i / cols, c = i % cols, h = c / hd, e = c % hd;
		cache[((long)h * positions + row0 + r) * hd + e] = src[i];
	}
}
GLOBAL void k_kv_load_f32(float *dst, const float *cache, int rows, int heads, int hd, int positions, int row0) {
	int cols = heads * hd;
	EACH(i, rows * cols) {
		int r = i / cols, c = i % cols, h = c / hd, e = c % hd;
		dst[i] = cache[((long)h * positions + row0 + r) * hd + e];
	}
}

// The Q8 cache (the CPU's layout, runtime's kvStore): a head's row of hd
// values (hd a multiple of 32) is hd int8 quants, then a float32 scale
// per 32, quantized as the CPU quantizes it (d = max|x|/127, q = x·(1/d)
// to nearest even). k_kv_store_q8 takes a warp per 32 values, grid-stride.
DEVICE long q8row(int hd) { return hd + hd / 8; }
GLOBAL void k_kv_store_q8(u8 *cache, const float *src, int rows, int heads, int hd, int positions, int row0) {
	int lane = tid() & 31, per = heads * hd / 32, nb = rows * per;
	for (int wb = (bid() * ntid() + tid()) >> 5; wb < nb; wb += (nbid() * ntid()) >> 5) { // uniform in a warp
		int r = wb / per, h = wb % per / (hd / 32), b = wb % (hd / 32);
		float v = src[(long)r * heads * hd + h * hd + 32 * b + lane];
		float amax = warp_max(__builtin_fabsf(v));
		float d = amax / 127.f, inv = d != 0.f ? 1.f / d : 0.f;
		u8 *row = cache + ((long)h * positions + row0 + r) * q8row(hd);
		row[32 * b + lane] = (u8)(i8)rint_i(v * inv);
		if (lane == 0) *(float *)(row + hd + 4 * b) = d;
	}
}
GLOBAL void k_kv_load_q8(float *dst, const u8 *cache, int rows, int heads, int hd, int positions, int row0) {
	int cols = heads * hd;
	EACH(i, rows * cols) {
		int r = i / cols, c = i % cols, h = c / hd, e = c % hd;
		const u8 *row = cache + ((long)h * positions + row0 + r) * q8row(hd);
		dst[i] = (float)(i8)row[e] * *(const float *)(row + hd + 4 * (e / 32));
	}
}

// ---- row ops: one block per row ------------------------------------------

// q8_1_warp quantizes a warp's 32 values (lane holds v) into the Q8_1
// block b (see k_quantize_q8_1): every lane of the warp takes part.
#define Q8_1_BYTES 36
DEVICE void q8_1_warp(float v, u8 *b, int lane) {
	float amax = warp_max(__builtin_fabsf(v));
	float d = amax / 127.f, inv = d != 0.f ? 1.f / d : 0.f;
	int q = rint_i(v * inv);
	float sum = warp_sum((float)q); // exact: |Σq| <= 4064
	b[4 + lane] = (u8)(i8)q;
	if (lane == 0) {
		u16 dh = f2h(d), sh = f2h(d * sum);
		b[0] = (u8)dh, b[1] = (u8)(dh >> 8), b[2] = (u8)sh, b[3] = (u8)(sh >> 8);
	}
}

// The norms write their output and, when xq is not null (cols a multiple
// of 32), its Q8_1 blocks too: the next MatMul's 8-bit input without a
// launch of k_quantize_q8_1 (a warp of the row loop holds a whole block:
// the block size is a multiple of 32).
DEVICE void norm_out(float *dr, u8 *xq, int i, float v, int cols) {
	dr[i] = v;
	if (xq) q8_1_warp(v, xq + ((long)bid() * (cols / 32) + i / 32) * Q8_1_BYTES, tid() & 31);
}

GLOBAL void k_rmsnorm(float *d, const float *x, const float *w, int cols, float eps, u8 *xq) {
	SHARED float buf[32];
	const float *xr = x + (long)bid() * cols;
	float *dr = d + (long)bid() * cols;
	float s = 0.f;
	for (int i = tid(); i < cols; i += ntid()) s += xr[i] * xr[i];
	s = block_sum(s, buf);
	float r = 1.f / fsqrt(s / cols + eps);
	for (int i = tid(); i < cols; i += ntid()) norm_out(dr, xq, i, xr[i] * r * w[i], cols);
}

GLOBAL void k_layernorm(float *d, const float *x, const float *w, const float *b, int cols, float eps, u8 *xq) {
	SHARED float buf[32];
	const float *xr = x + (long)bid() * cols;
	float *dr = d + (long)bid() * cols;
	float s = 0.f;
	for (int i = tid(); i < cols; i += ntid()) s += xr[i];
	float mean = block_sum(s, buf) / cols;
	float v = 0.f;
	for (int i = tid(); i < cols; i += ntid()) {
		float t = xr[i] - mean;
		v += t * t;
	}
	float r = 1.f / fsqrt(block_sum(v, buf) / cols + eps);
	for (int i = tid(); i < cols; i += ntid()) norm_out(dr, xq, i, (xr[i] - mean) * r * w[i] + b[i], cols);
}

// k_rope rotates adjacent pairs (llama.cpp's layout): pair i of each head
// of row r by the angle of position pos0+r, whose cos and sin the host
// computed in float64 (table: position p, pair i at 2*(p*half + i)).
GLOBAL void k_rope(float *x, const float *table, int rows, int heads, int hd, int pos0) {
	int half = hd / 2, per = heads * half;
	EACH(t, rows * per) {
		int r = t / per, q = t % per, h = q / half, i = q % half;
		const float *cs = table + 2 * ((long)(pos0 + r) * half + i);
		float c = cs[0], s = cs[1];
		float *p = x + (long)r * heads * hd + h * hd + 2 * i;
		float a = p[0], b = p[1];
		p[0] = a * c - b * s;
		p[1] = a * s + b * c;
	}
}

// k_pick chooses the greedy token of the logits x[0..n) on the device, as
// runtime.Argmax does: out[0] the index of the largest value (the first
// of equals; NaN never wins), out[1] its margin over the second largest
// (float bits; 0 on a tie), out[2] how many values were NaN or infinite.
// The next decode step gathers its embedding from out[0], so the logits
// never leave the device and only these 12 bytes are read back. One block
// of 1024 threads.
DEVICE bool better(float v, int i, float bv, int bi) { return v > bv || (v == bv && i < bi); }
GLOBAL void k_pick(int *out, const float *x, int n) {
	SHARED float b1[1024], b2[1024];
	SHARED int bi[1024], bad[1024];
	float v1 = -__builtin_inff(), v2 = -__builtin_inff();
	int i1 = 0x7fffffff, nb = 0;
	for (int i = tid(); i < n; i += ntid()) {
		float v = x[i];
		if (v != v || __builtin_fabsf(v) == __builtin_inff()) nb++;
		if (v != v) continue;
		if (better(v, i, v1, i1)) v2 = v1, v1 = v, i1 = i; // v1 >= v2 always
		else if (v > v2) v2 = v;
	}
	b1[tid()] = v1, b2[tid()] = v2, bi[tid()] = i1, bad[tid()] = nb;
	bar();
	for (int s = ntid() / 2; s > 0; s >>= 1) {
		if (tid() < s) {
			int o = tid() + s;
			float a1 = b1[tid()], a2 = b2[tid()], c1 = b1[o], c2 = b2[o];
			int ai = bi[tid()], ci = bi[o];
			// the winner's best, and the best of everything else second
			if (better(c1, ci, a1, ai)) b1[tid()] = c1, bi[tid()] = ci, b2[tid()] = __builtin_fmaxf(c2, a1);
			else b2[tid()] = __builtin_fmaxf(a2, c1);
			bad[tid()] += bad[o];
		}
		bar();
	}
	if (tid() == 0) {
		int i = bi[0];
		float m = b2[0] == -__builtin_inff() ? 0.f : b1[0] - b2[0];
		out[0] = i == 0x7fffffff ? 0 : i;
		out[1] = __builtin_bit_cast(int, i == 0x7fffffff ? 0.f : m);
		out[2] = bad[0];
	}
}

// ---- weights: 32-value chunks of a row, decoded as ggml decodes them -----

enum { T_F32 = 0, T_F16 = 1, T_Q4_0 = 2, T_Q8_0 = 8, T_Q4_K = 12, T_Q6_K = 14, T_BF16 = 30 };

// row_bytes is the bytes of a row of cols values of type T.
template <int T> DEVICE long row_bytes(int cols) {
	switch (T) {
	case T_F32: return 4L * cols;
	case T_F16: case T_BF16: return 2L * cols;
	case T_Q4_0: return cols / 32 * 18L;
	case T_Q8_0: return cols / 32 * 34L;
	case T_Q4_K: return cols / 256 * 144L;
	default: return cols / 256 * 210L; // Q6_K
	}
}

// chunk decodes values [32c, 32c+32) of row into v.
template <int T> DEVICE void chunk(const u8 *row, int c, float *v) {
	if (T == T_F32) {
		const float *f = (const float *)row + 32 * c;
#pragma unroll
		for (int j = 0; j < 32; j++) v[j] = f[j];
	} else if (T == T_F16) {
		const u16 *h = (const u16 *)row + 32 * c;
#pragma unroll
		for (int j = 0; j < 32; j++) v[j] = h2f(h[j]);
	} else if (T == T_BF16) {
		const u16 *h = (const u16 *)row + 32 * c;
#pragma unroll
		for (int j = 0; j < 32; j++) v[j] = bf2f(h[j]);
	} else if (T == T_Q8_0) {
		const u8 *b = row + 34L * c;
		float d = ld16f(b);
#pragma unroll
		for (int j = 0; j < 32; j++) v[j] = (float)(i8)b[2 + j] * d;
	} else if (T == T_Q4_0) {
		const u8 *b = row + 18L * c;
		float d = ld16f(b);
#pragma unroll
		for (int j = 0; j < 16; j++) {
			u8 q = b[2 + j];
			v[j] = (float)((int)(q & 15) - 8) * d;
			v[j + 16] = (float)((int)(q >> 4) - 8) * d;
		}
	} else if (T == T_Q4_K) {
		const u8 *b = row + 144L * (c / 8);
		int j = c % 8;
		float d = ld16f(b), dmin = ld16f(b + 2);
		const u8 *sc = b + 4;
		int s, m;
		if (j < 4) s = sc[j] & 63, m = sc[j + 4] & 63;
		else s = (sc[j + 4] & 15) | (sc[j - 4] >> 6) << 4, m = (sc[j + 4] >> 4) | (sc[j] >> 6) << 4;
		float d1 = mul_rn(d, (float)s), m1 = mul_rn(dmin, (float)m);
		const u8 *q = b + 16 + 32 * (j / 2);
		int sh = (j & 1) * 4;
#pragma unroll
		for (int l = 0; l < 32; l++) v[l] = mul_rn(d1, (float)((q[l] >> sh) & 15)) - m1;
	} else { // Q6_K
		const u8 *b = row + 210L * (c / 8);
		int j = c % 8, n = j / 4, k = j % 4;
		float d = ld16f(b + 208);
		const u8 *ql = b + 64 * n + (k & 1) * 32, *qh = b + 128 + 32 * n;
		const i8 *sc = (const i8 *)(b + 192 + 8 * n + 2 * k);
		int qs = (k >> 1) * 4, hs = 2 * k;
#pragma unroll
		for (int l = 0; l < 32; l++) {
			int q = (((ql[l] >> qs) & 15) | ((qh[l] >> hs) & 3) << 4) - 32;
			v[l] = mul_rn(mul_rn(d, (float)sc[l / 16]), (float)q);
		}
	}
}

// k_gather_T: row r of dst = row ids[r] of the table, decoded. Grid
// (chunks of a row / 128 rounded up, rows); 128 threads, one chunk each.
template <int T> DEVICE void gather(float *dst, const u8 *table, const int *ids, int cols) {
	int r = bidy(), c = bid() * ntid() + tid();
	if (c >= cols / 32) return;
	float v[32];
	chunk<T>(table + row_bytes<T>(cols) * ids[r], c, v);
	float *o = dst + (long)r * cols + 32 * c;
#pragma unroll
	for (int j = 0; j < 32; j++) o[j] = v[j];
}

// k_mm_T: dst[r][o] = x[r]·w[o] for weight rows o and input rows r.
// One warp per weight row; its lanes take the row's 32-value chunks in
// turn, decode each once and dot it with up to MM_ROWS input rows (grid y
// walks the rest). Block: 128 threads = 4 weight rows. Decode streams the
// weights once (one input row); prefill reads them once per MM_ROWS rows.
#define MM_ROWS 8
template <int T> DEVICE void mm(float *dst, const float *x, const u8 *w, int n, int k, int m) {
	int o = bid() * (ntid() >> 5) + (tid() >> 5), lane = tid() & 31;
	if (o >= m) return;
	int r0 = bidy() * MM_ROWS, nr = n - r0 < MM_ROWS ? n - r0 : MM_ROWS;
	const u8 *row = w + row_bytes<T>(k) * o;
	float acc[MM_ROWS];
#pragma unroll
	for (int r = 0; r < MM_ROWS; r++) acc[r] = 0.f;
	float v[32];
	for (int c = lane; c < k / 32; c += 32) {
		chunk<T>(row, c, v);
#pragma unroll
		for (int r = 0; r < MM_ROWS; r++) {
			if (r < nr) {
				const float *xr = x + (long)(r0 + r) * k + 32 * c;
				float s = 0.f;
#pragma unroll
				for (int j = 0; j < 32; j++) s += v[j] * xr[j];
				acc[r] += s;
			}
		}
	}
#pragma unroll
	for (int r = 0; r < MM_ROWS; r++) {
		float s = warp_sum(acc[r]);
		if (r < nr && lane == 0) dst[(long)(r0 + r) * m + o] = s;
	}
}

// gemm: the same product for many input rows (prefill, the encoder), in
// 64 x 64 output tiles: per step of 32 values, a block (256 threads)
// stages 64 input rows and 64 weight rows (decoded once, by 64 threads)
// in shared memory, and each thread accumulates a 4 x 4 piece of the tile,
// so each weight row is read once per 64 input rows. Grid: (m/64, n/64)
// rounded up.
#define GT 64
template <int T> DEVICE void gemm(float *dst, const float *x, const u8 *w, int n, int k, int m) {
	SHARED float xs[GT][33], ws[GT][33];
	int t = tid(), tx = t & 15, ty = t >> 4;
	int o0 = bid() * GT, r0 = bidy() * GT;
	float acc[4][4];
#pragma unroll
	for (int i = 0; i < 4; i++)
#pragma unroll
		for (int j = 0; j < 4; j++) acc[i][j] = 0.f;
	const long rb = row_bytes<T>(k);
	for (int c = 0; c < k / 32; c++) {
#pragma unroll
		for (int e = 0; e < GT * 32 / 256; e++) {
			int idx = t + 256 * e, row = idx >> 5, col = idx & 31;
			xs[row][col] = r0 + row < n ? x[(long)(r0 + row) * k + 32 * c + col] : 0.f;
		}
		if (t < GT) {
			float v[32];
			if (o0 + t < m) chunk<T>(w + rb * (o0 + t), c, v);
			else
#pragma unroll
				for (int j = 0; j < 32; j++) v[j] = 0.f;
#pragma unroll
			for (int j = 0; j < 32; j++) ws[t][j] = v[j];
		}
		bar();
#pragma unroll 8
		for (int kk = 0; kk < 32; kk++) {
			float a[4], b[4];
#pragma unroll
			for (int i = 0; i < 4; i++) a[i] = xs[ty + 16 * i][kk], b[i] = ws[tx + 16 * i][kk];
#pragma unroll
			for (int i = 0; i < 4; i++)
#pragma unroll
				for (int j = 0; j < 4; j++) acc[i][j] += a[i] * b[j];
		}
		bar();
	}
#pragma unroll
	for (int i = 0; i < 4; i++)
#pragma unroll
		for (int j = 0; j < 4; j++) {
			int r = r0 + ty + 16 * i, o = o0 + tx + 16 * j;
			if (r < n && o < m) dst[(long)r * m + o] = acc[i][j];
		}
}

#define TYPED(NAME, T)                                                                                          \
	GLOBAL void k_gather_##NAME(float *d, const u8 *t, const int *ids, int cols) { gather<T>(d, t, ids, cols); } \
	GLOBAL void k_mm_##NAME(float *d, const float *x, const u8 *w, int n, int k, int m) { mm<T>(d, x, w, n, k, m); } \
	GLOBAL void k_gemm_##NAME(float *d, const float *x, const u8 *w, int n, int k, int m) { gemm<T>(d, x, w, n, k, m); }
TYPED(f32, T_F32)
TYPED(f16, T_F16)
TYPED(bf16, T_BF16)
TYPED(q8_0, T_Q8_0)
TYPED(q4_0, T_Q4_0)
TYPED(q4_k, T_Q4_K)
TYPED(q6_k, T_Q6_K)

// ---- attention -----------------------------------------------------------

// attn: one block per (query row, head), ATTN_WARPS warps. Each warp takes
// every ATTN_WARPS-th key, scores it (lanes split the head's hd <= 256
// values, 8 a lane), and keeps an online softmax (running max, sum and
// weighted value sum); the warps then merge theirs. Keys: row j of head kh
// at k + j*ldkv (an activation: ldkv = the k width, k offset to the head;
// the F16 cache: ldkv = hd, k at the head's first position).
#define ATTN_WARPS 4
// loadkv reads value i of a key or value row of hd values: float32
// (activations, the F32 cache), F16, or a Q8 cache row (i8: its quants,
// then its scales).
DEVICE float loadkv(const float *p, int i, int) { return p[i]; }
DEVICE float loadkv(const u16 *p, int i, int) { return h2f(p[i]); }
DEVICE float loadkv(const i8 *p, int i, int hd) { return (float)p[i] * *(const float *)(p + hd + 4 * (i >> 5)); }

template <typename KV>
DEVICE void attn(float *out, int ldo, const float *q, int ldq, const KV *k, const KV *v, int ldkv, long headStride,
                 int hd, int heads, int group, int keys, int causal, int pos0, float scale) {
	SHARED float sm[ATTN_WARPS], ss[ATTN_WARPS], sacc[ATTN_WARPS][256];
	int row = bid(), h = bidy(), kh = h / group, lane = tid() & 31, w = tid() >> 5;
	const float *qr = q + (long)row * ldq + h * hd;
	const KV *kb = k + kh * headStride, *vb = v + kh * headStride;
	int nk = causal ? pos0 + row + 1 : keys;
	float qv[8], acc[8];
	for (int e = 0; e < 8; e++) {
		int i = lane + 32 * e;
		qv[e] = i < hd ? qr[i] * scale : 0.f;
		acc[e] = 0.f;
	}
	float mx = -__builtin_inff(), sum = 0.f;
	for (int j = w; j < nk; j += ATTN_WARPS) {
		const KV *kr = kb + (long)j * ldkv, *vr = vb + (long)j * ldkv;
		float s = 0.f;
		for (int e = 0; e < 8; e++) {
			int i = lane + 32 * e;
			if (i < hd) s += qv[e] * loadkv(kr, i, hd);
		}
		s = warp_sum(s);
		float nm = __builtin_fmaxf(mx, s), corr = fexp(mx - nm), p = fexp(s - nm);
		sum = sum * corr + p;
		for (int e = 0; e < 8; e++) {
			int i = lane + 32 * e;
			acc[e] = acc[e] * corr + (i < hd ? p * loadkv(vr, i, hd) : 0.f);
		}
		mx = nm;
	}
	if (lane == 0) sm[w] = mx, ss[w] = sum;
	for (int e = 0; e < 8; e++) {
		int i = lane + 32 * e;
		if (i < hd) sacc[w][i] = acc[e];
	}
	bar();
	if (w == 0) {
		float gm = -__builtin_inff();
		for (int x = 0; x < ATTN_WARPS; x++) gm = __builtin_fmaxf(gm, sm[x]);
		float tot = 0.f, f[ATTN_WARPS];
		for (int x = 0; x < ATTN_WARPS; x++) {
			f[x] = sm[x] == -__builtin_inff() ? 0.f : fexp(sm[x] - gm);
			tot += ss[x] * f[x];
		}
		float *o = out + (long)row * ldo + h * hd;
		for (int i = lane; i < hd; i += 32) {
			float a = 0.f;
			for (int x = 0; x < ATTN_WARPS; x++) a += sacc[x][i] * f[x];
			o[i] = a / tot;
		}
	}
}


// fattn: attention for many query rows (prefill, the encoder), blocked
// so that a tile of keys and values, read once into shared memory, serves
// FQ query rows: one block per (FQ rows, head), 4 warps of 8 rows each.
// Per tile of FK keys a lane scores one key against 4 of its warp's rows
// (16-byte loads of shared rows; Q pre-scaled), the 16 lanes of each half
// keep those rows' online softmax (running max and sum), and then each
// lane accumulates 4 of the head's values for all 8 rows. Heads of up to
// FHD values, a multiple of 32 (LLaMA's 128, Dinov2's 64); the rest take
// attn. Grid: (rows/FQ rounded up, heads).
#define FQ 32
#define FK 16
struct __attribute__((aligned(16))) f4 {
	float x, y, z, w;
};
#define FHD 128
template <typename KV>
DEVICE void fattn(float *out, int ldo, const float *q, int ldq, const KV *k, const KV *v, int ldkv, long headStride,
                  int hd, int group, int rows, int keys, int causal, int pos0, float scale) {
	SHARED __attribute__((aligned(16))) float qs[FQ][FHD + 4], ks[FK][FHD + 4], vs[FK][FHD + 4];
	SHARED float ps[FQ][FK], cs[FQ], ls[FQ];
	int t = tid(), lane = t & 31, w = t >> 5, r0 = bid() * FQ, h = bidy(), kh = h / group;
	int j = lane & 15, half = lane >> 4, q0 = 8 * w + 4 * half; // scoring: key j, rows q0..q0+3
	const KV *kb = k + kh * headStride, *vb = v + kh * headStride;
	for (int i = t; i < FQ * hd; i += ntid()) {
		int r = i / hd, e = i % hd;
		qs[r][e] = r0 + r < rows ? q[(long)(r0 + r) * ldq + h * hd + e] * scale : 0.f;
	}
	// keys this block needs: causal rows see up to their own position
	int nk = causal ? pos0 + r0 + FQ : keys;
	if (nk > keys) nk = keys;
	float mx[4], sum[4], acc[8][4];
#pragma unroll
	for (int a = 0; a < 4; a++) mx[a] = -__builtin_inff(), sum[a] = 0.f;
#pragma unroll
	for (int a = 0; a < 8; a++)
#pragma unroll
		for (int i = 0; i < 4; i++) acc[a][i] = 0.f;
	for (int k0 = 0; k0 < nk; k0 += FK) {
		bar(); // the last tile's readers are done (and, the first time, qs is written)
		for (int i = t; i < FK * hd; i += ntid()) {
			int r = i / hd, e = i % hd;
			bool in = k0 + r < nk;
			ks[r][e] = in ? loadkv(kb + (long)(k0 + r) * ldkv, e, hd) : 0.f;
			vs[r][e] = in ? loadkv(vb + (long)(k0 + r) * ldkv, e, hd) : 0.f;
		}
		bar();
		float s[4] = {0.f, 0.f, 0.f, 0.f};
		for (int e = 0; e < hd; e += 4) {
			f4 kv4 = *(const f4 *)&ks[j][e];
#pragma unroll
			for (int a = 0; a < 4; a++) {
				f4 qv = *(const f4 *)&qs[q0 + a][e];
				s[a] += qv.x * kv4.x + qv.y * kv4.y + qv.z * kv4.z + qv.w * kv4.w;
			}
		}
		int kj = k0 + j;
#pragma unroll
		for (int a = 0; a < 4; a++) {
			int row = r0 + q0 + a;
			bool ok = kj < nk && row < rows && (!causal || kj <= pos0 + row);
			float sv = ok ? s[a] : -__builtin_inff();
			float tm = sv;
			for (int m = 8; m > 0; m >>= 1) tm = __builtin_fmaxf(tm, shfl_xor(tm, m)); // within the half
			float nm = __builtin_fmaxf(mx[a], tm);
			float corr = mx[a] == -__builtin_inff() ? (nm == -__builtin_inff() ? 1.f : 0.f) : fexp(mx[a] - nm);
			float p = ok ? fexp(sv - nm) : 0.f;
			float ts = p;
			for (int m = 8; m > 0; m >>= 1) ts += shfl_xor(ts, m);
			sum[a] = sum[a] * corr + ts, mx[a] = nm;
			ps[q0 + a][j] = p;
			if (j == 0) cs[q0 + a] = corr;
		}
		bar();
#pragma unroll
		for (int a = 0; a < 8; a++) {
			float c = cs[8 * w + a];
#pragma unroll
			for (int i = 0; i < 4; i++) acc[a][i] *= c;
		}
		for (int jj = 0; jj < FK; jj++) {
#pragma unroll
			for (int i = 0; i < 4; i++) {
				int e = lane + 32 * i;
				if (e < hd) {
					float vv = vs[jj][e];
#pragma unroll
					for (int a = 0; a < 8; a++) acc[a][i] += ps[8 * w + a][jj] * vv;
				}
			}
		}
	}
	bar();
	if (j == 0)
#pragma unroll
		for (int a = 0; a < 4; a++) ls[q0 + a] = sum[a];
	bar();
#pragma unroll
	for (int a = 0; a < 8; a++) {
		int r = 8 * w + a;
		if (r0 + r >= rows) continue;
		float l = ls[r], inv = l > 0.f ? 1.f / l : 0.f;
		float *o = out + (long)(r0 + r) * ldo + h * hd;
#pragma unroll
		for (int i = 0; i < 4; i++) {
			int e = lane + 32 * i;
			if (e < hd) o[e] = acc[a][i] * inv;
		}
	}
}

// tattn: attention for many query rows on the tensor cores (f16 inputs,
// float accumulation: mma m16n8k16), FlashAttention-2's way: a block of 4
// warps takes TQ = 64 query rows of one head, 16 a warp, whose scaled q
// stay in registers as A fragments; per tile of TK = 32 keys (staged in
// shared memory as f16: keys row by row, values transposed, rows padded
// so the fragment loads hit 32 banks) a warp computes its 16 x 32 scores
// (mma), masks them, updates its rows' online softmax (a row's values
// spread over a quad of lanes), and multiplies the probabilities, whose
// score fragments are already the A fragments of P·V, into its 16 x HD
// output (mma). Heads of HD = 64 or 128. Grid: (rows/64 rounded up,
// heads).
#define TQ 64
#define TK 32
DEVICE u32 pack2(float lo, float hi) { return (u32)f2h(lo) | (u32)f2h(hi) << 16; }
template <int HD, typename KV>
DEVICE void tattn(float *out, int ldo, const float *q, int ldq, const KV *k, const KV *v, int ldkv, long headStride,
                  int group, int rows, int keys, int causal, int pos0, float scale) {
	SHARED __attribute__((aligned(16))) u16 ks[TK][HD + 8], vt[HD][TK + 8]; // fragments load u32 pairs
	int t = tid(), lane = t & 31, w = t >> 5, g = lane >> 2, tq = lane & 3;
	int r0 = bid() * TQ, h = bidy(), kh = h / group, rw = r0 + 16 * w; // this warp's first row
	const KV *kb = k + kh * headStride, *vb = v + kh * headStride;
	u32 qf[HD / 16][4];
#pragma unroll
	for (int kk = 0; kk < HD / 16; kk++)
#pragma unroll
		for (int i = 0; i < 4; i++) {
			int row = rw + g + 8 * (i & 1), col = 16 * kk + 2 * tq + 8 * (i >> 1);
			const float *qr = q + (long)row * ldq + h * HD + col;
			qf[kk][i] = row < rows ? pack2(qr[0] * scale, qr[1] * scale) : 0u;
		}
	float o[HD / 8][4], mx[2] = {-__builtin_inff(), -__builtin_inff()}, l[2] = {0.f, 0.f};
#pragma unroll
	for (int n = 0; n < HD / 8; n++)
#pragma unroll
		for (int e = 0; e < 4; e++) o[n][e] = 0.f;
	int nk = causal ? pos0 + r0 + TQ : keys;
	if (nk > keys) nk = keys;
	for (int k0 = 0; k0 < nk; k0 += TK) {
		bar(); // the last tile's readers are done
		for (int i = t; i < TK * HD; i += ntid()) {
			int r = i / HD, e = i % HD;
			bool in = k0 + r < nk;
			ks[r][e] = in ? f2h(loadkv(kb + (long)(k0 + r) * ldkv, e, HD)) : 0;
			vt[e][r] = in ? f2h(loadkv(vb + (long)(k0 + r) * ldkv, e, HD)) : 0;
		}
		bar();
		float s[TK / 8][4];
#pragma unroll
		for (int j = 0; j < TK / 8; j++) {
#pragma unroll
			for (int e = 0; e < 4; e++) s[j][e] = 0.f;
#pragma unroll
			for (int kk = 0; kk < HD / 16; kk++)
				mma_f16(s[j], qf[kk], *(const u32 *)&ks[8 * j + g][16 * kk + 2 * tq], *(const u32 *)&ks[8 * j + g][16 * kk + 2 * tq + 8]);
		}
		float corr[2];
#pragma unroll
		for (int hh = 0; hh < 2; hh++) { // rows g and g+8 of the warp's 16
			int row = rw + g + 8 * hh;
			float m = -__builtin_inff();
#pragma unroll
			for (int j = 0; j < TK / 8; j++)
#pragma unroll
				for (int x = 0; x < 2; x++) {
					int key = k0 + 8 * j + 2 * tq + x;
					bool ok = key < nk && row < rows && (!causal || key <= pos0 + row);
					float sv = ok ? s[j][2 * hh + x] : -__builtin_inff();
					s[j][2 * hh + x] = sv;
					m = __builtin_fmaxf(m, sv);
				}
			m = __builtin_fmaxf(m, shfl_xor(m, 1));
			m = __builtin_fmaxf(m, shfl_xor(m, 2));
			float nm = __builtin_fmaxf(mx[hh], m);
			corr[hh] = mx[hh] == -__builtin_inff() ? (nm == -__builtin_inff() ? 1.f : 0.f) : fexp(mx[hh] - nm);
			float sum = 0.f;
#pragma unroll
			for (int j = 0; j < TK / 8; j++)
#pragma unroll
				for (int x = 0; x < 2; x++) {
					float sv = s[j][2 * hh + x];
					float p = sv == -__builtin_inff() ? 0.f : fexp(sv - nm);
					s[j][2 * hh + x] = p;
					sum += p;
				}
			sum += shfl_xor(sum, 1);
			sum += shfl_xor(sum, 2);
			l[hh] = l[hh] * corr[hh] + sum, mx[hh] = nm;
		}
#pragma unroll
		for (int n = 0; n < HD / 8; n++) o[n][0] *= corr[0], o[n][1] *= corr[0], o[n][2] *= corr[1], o[n][3] *= corr[1];
#pragma unroll
		for (int kk = 0; kk < TK / 16; kk++) {
			// the scores of keys 16kk..16kk+15 as P's A fragment
			u32 pa[4] = {pack2(s[2 * kk][0], s[2 * kk][1]), pack2(s[2 * kk][2], s[2 * kk][3]), pack2(s[2 * kk + 1][0], s[2 * kk + 1][1]),
			             pack2(s[2 * kk + 1][2], s[2 * kk + 1][3])};
#pragma unroll
			for (int n = 0; n < HD / 8; n++)
				mma_f16(o[n], pa, *(const u32 *)&vt[8 * n + g][16 * kk + 2 * tq], *(const u32 *)&vt[8 * n + g][16 * kk + 2 * tq + 8]);
		}
	}
#pragma unroll
	for (int hh = 0; hh < 2; hh++) {
		int row = rw + g + 8 * hh;
		if (row >= rows) continue;
		float inv = l[hh] > 0.f ? 1.f / l[hh] : 0.f;
		float *orow = out + (long)row * ldo + h * HD;
#pragma unroll
		for (int n = 0; n < HD / 8; n++) {
			orow[8 * n + 2 * tq] = o[n][2 * hh] * inv;
			orow[8 * n + 2 * tq + 1] = o[n][2 * hh + 1] * inv;
		}
	}
}

// The attention kernels for each kind of keys and values: k_attn_T and
// k_fattn_T for activations and the F32 cache (f32), the F16 cache (f16)
// and the Q8 cache (q8: rows of bytes, so ldkv and headStride in bytes).
#define ATTN(NAME, KV)                                                                                                 \
	GLOBAL void k_attn_##NAME(float *out, int ldo, const float *q, int ldq, const KV *k, const KV *v, int ldkv,          \
	                          long headStride, int hd, int heads, int group, int keys, int causal, int pos0, float scale) { \
		attn<KV>(out, ldo, q, ldq, k, v, ldkv, headStride, hd, heads, group, keys, causal, pos0, scale);             \
	}                                                                                                                    \
	GLOBAL void k_fattn_##NAME(float *out, int ldo, const float *q, int ldq, const KV *k, const KV *v, int ldkv,         \
	                           long headStride, int hd, int group, int rows, int keys, int causal, int pos0, float scale) { \
		fattn<KV>(out, ldo, q, ldq, k, v, ldkv, headStride, hd, group, rows, keys, causal, pos0, scale);             \
	}
ATTN(f32, float)
ATTN(f16, u16)
ATTN(q8, i8)

// k_tattnHD_T: tattn for heads of HD values.
#define TATTN(HD, NAME, KV)                                                                                             \
	GLOBAL void k_tattn##HD##_##NAME(float *out, int ldo, const float *q, int ldq, const KV *k, const KV *v, int ldkv,  \
	                                 long headStride, int group, int rows, int keys, int causal, int pos0, float scale) { \
		tattn<HD, KV>(out, ldo, q, ldq, k, v, ldkv, headStride, group, rows, keys, causal, pos0, scale);            \
	}
TATTN(64, f32, float)
TATTN(64, f16, u16)
TATTN(64, q8, i8)
TATTN(128, f32, float)
TATTN(128, f16, u16)
TATTN(128, q8, i8)

// k_copy16 copies n bytes with 16-byte loads where it can: the
// bandwidth yardstick's kernel twin (n a multiple of 16).
struct __attribute__((aligned(16))) v4 {
	u32 x, y, z, w;
};
GLOBAL void k_copy16(v4 *d, const v4 *s, long n16) {
	for (long i = (long)bid() * ntid() + tid(); i < n16; i += (long)nbid() * ntid()) d[i] = s[i];
}

// k_mm_f32s is k_mm for F32 weights of any width (the patch embedding's
// 14·14·3 = 588): lanes stride the row value by value.
GLOBAL void k_mm_f32s(float *dst, const float *x, const float *w, int n, int k, int m) {
	int o = bid() * (ntid() >> 5) + (tid() >> 5), lane = tid() & 31;
	if (o >= m) return;
	int r0 = bidy() * MM_ROWS, nr = n - r0 < MM_ROWS ? n - r0 : MM_ROWS;
	const float *row = w + (long)k * o;
	for (int r = 0; r < nr; r++) {
		const float *xr = x + (long)(r0 + r) * k;
		float s = 0.f;
		for (int i = lane; i < k; i += 32) s += row[i] * xr[i];
		s = warp_sum(s);
		if (lane == 0) dst[(long)(r0 + r) * m + o] = s;
	}
}


// ---- decode GEMV on 8-bit activations (dp4a), as llama.cpp's mmvq ---------

// Q8_1 is ggml's block_q8_1, 36 bytes per 32 values: f16 d, f16 s = d·Σq,
// then 32 int8 q, with x ≈ d·q. k_quantize_q8_1 quantizes one row of k
// values (k a multiple of 32; grid y rows of them) as the CPU's 8-bit path does (kernels'
// quantizeQ8: d = max|x|/127, q = x·(1/d) rounded to nearest even), so the
// quants are the CPU's; only d is stored in f16. One warp per block;
// 128 threads a block.
GLOBAL void k_quantize_q8_1(u8 *dst, const float *x, int k) {
	int i = bid() * ntid() + tid(), c = i >> 5, lane = i & 31;
	if (c >= k / 32) return; // whole warps: k is a multiple of 32
	x += (long)bidy() * k, dst += (long)bidy() * (k / 32) * Q8_1_BYTES; // grid y: the rows
	q8_1_warp(x[i], dst + (long)Q8_1_BYTES * c, lane);
}

// ld32 loads 4 bytes from a 2-byte aligned address (ggml's weight blocks
// are 18, 34 or 210 bytes: their quants are only 2-byte aligned).
DEVICE int ld32(const u8 *p) {
	const u16 *h = (const u16 *)p;
	return (int)((u32)h[0] | (u32)h[1] << 16);
}

// qdot8 is a quarter of the dot product of chunk c (values [32c, 32c+32))
// of a weight row with its Q8_1 activation block: the chunk's eight
// 4-byte words of quants, two per quarter (Q4_0: one word of packed
// nibbles, its low and high halves). Integer sums exact (dp4a), then
// scaled in float32 as the CPU's quantized kernels scale theirs
// (kernels/quant.go), with the activation's f16 d; the four quarters'
// floats add up to the chunk's product to float32 rounding.
template <int T> DEVICE float qdot8(const u8 *row, int c, int part, const u8 *xb) {
	const int *u = (const int *)(xb + 4);
	float dx = ld16f(xb);
	int i = 2 * part;
	if (T == T_Q8_0) {
		const u8 *b = row + 34L * c;
		int s = dp4a(ld32(b + 2 + 4 * i), u[i], 0);
		s = dp4a(ld32(b + 6 + 4 * i), u[i + 1], s);
		return mul_rn(mul_rn((float)s, dx), ld16f(b));
	} else if (T == T_Q4_0) {
		const u8 *b = row + 18L * c;
		int v = ld32(b + 2 + 4 * part);
		int s = dp4a(v & 0x0f0f0f0f, u[part], 0);
		s = dp4a((v >> 4) & 0x0f0f0f0f, u[4 + part], s);
		int sq = dp4a(0x01010101, u[part], dp4a(0x01010101, u[4 + part], 0));
		return mul_rn(mul_rn((float)(s - 8 * sq), dx), ld16f(b)); // Σ (n-8)·q
	} else if (T == T_Q4_K) {
		const u8 *b = row + 144L * (c / 8);
		int j = c % 8;
		const u8 *sc = b + 4;
		int scj, mj;
		if (j < 4) scj = sc[j] & 63, mj = sc[j + 4] & 63;
		else scj = (sc[j + 4] & 15) | (sc[j - 4] >> 6) << 4, mj = (sc[j + 4] >> 4) | (sc[j] >> 6) << 4;
		// 144-byte blocks keep the quants 4-byte aligned: whole-word loads
		const int *q = (const int *)(b + 16 + 32 * (j / 2));
		int sh = (j & 1) * 4;
		int s = dp4a((q[i] >> sh) & 0x0f0f0f0f, u[i], 0);
		s = dp4a((q[i + 1] >> sh) & 0x0f0f0f0f, u[i + 1], s);
		int sq = dp4a(0x01010101, u[i], dp4a(0x01010101, u[i + 1], 0));
		// d·sc·Σ n·q - dmin·m·Σ q, each times the activation's d
		return mul_rn(mul_rn(dx, ld16f(b)), (float)(scj * s)) - mul_rn(mul_rn(dx, ld16f(b + 2)), (float)(mj * sq));
	} else { // Q6_K: words 0-3 are the first 16 values, 4-7 the second, each with its scale
		const u8 *b = row + 210L * (c / 8);
		int j = c % 8, n = j / 4, k = j % 4;
		const u8 *ql = b + 64 * n + (k & 1) * 32, *qh = b + 128 + 32 * n;
		const i8 *sc = (const i8 *)(b + 192 + 8 * n + 2 * k);
		int qs = (k >> 1) * 4, hs = 2 * k, s = 0, sq = 0;
#pragma unroll
		for (int w = i; w < i + 2; w++) {
			int v = ((ld32(ql + 4 * w) >> qs) & 0x0f0f0f0f) | ((ld32(qh + 4 * w) >> hs) & 0x03030303) << 4;
			s = dp4a(v, u[w], s);
			sq = dp4a(0x01010101, u[w], sq);
		}
		return mul_rn(mul_rn(dx, ld16f(b + 208)), (float)(sc[part / 2] * (s - 32 * sq))); // Σ (u-32)·q
	}
}

// k_mmq_T: dst[o] = w[o]·x for one input row quantized to Q8_1 (decode):
// one warp per weight row, 4 to a block of 128 threads (the geometry of
// k_mm). Four lanes share a 32-value chunk, a quarter each, so a warp's
// load instruction reads 8 consecutive blocks (144 to 288 bytes) rather
// than 32 lanes' blocks scattered over 18 x 32 bytes: the loads coalesce
// as llama.cpp's mmvq's do.
template <int T> DEVICE void mmq(float *dst, const u8 *xq, const u8 *w, int k, int m) {
	int o = bid() * (ntid() >> 5) + (tid() >> 5), lane = tid() & 31;
	if (o >= m) return;
	const u8 *row = w + row_bytes<T>(k) * o;
	int part = lane & 3;
	float acc = 0.f;
	for (int c = lane >> 2; c < k / 32; c += 8) acc += qdot8<T>(row, c, part, xq + (long)Q8_1_BYTES * c);
	acc = warp_sum(acc);
	if (lane == 0) dst[o] = acc;
}

#define MMQ(NAME, T) \
	GLOBAL void k_mmq_##NAME(float *d, const u8 *xq, const u8 *w, int k, int m) { mmq<T>(d, xq, w, k, m); }
MMQ(q8_0, T_Q8_0)
MMQ(q4_0, T_Q4_0)
MMQ(q4_k, T_Q4_K)
MMQ(q6_k, T_Q6_K)


// ---- prefill GEMM on the tensor cores: int8 mma against Q8_1 activations ---

// qchunk decodes chunk c of a weight row to 32 signed bytes q[0..7]
// (little-endian words, value j in byte j%4 of word j/4) and its scales,
// so that qdot8's integer sums come out of an int8 mma: Q8_0 as stored;
// Q4_0 as n-8; Q4_K as n (0..15) with d·sc and dmin·m; Q6_K as u-32 with
// its two 16-value scales.
template <int T> DEVICE void qchunk(const u8 *row, int c, int *q, float *d, float *dm, int *sc) {
	if (T == T_Q8_0) {
		const u8 *b = row + 34L * c;
#pragma unroll
		for (int i = 0; i < 8; i++) q[i] = ld32(b + 2 + 4 * i);
		*d = ld16f(b);
	} else if (T == T_Q4_0) {
		const u8 *b = row + 18L * c;
#pragma unroll
		for (int i = 0; i < 4; i++) {
			int v = ld32(b + 2 + 4 * i);
			// n - 8 in each byte: n + 0x78 never carries, and flipping
			// the top bit subtracts 0x80
			q[i] = ((v & 0x0f0f0f0f) + 0x78787878) ^ 0x80808080;
			q[4 + i] = (((v >> 4) & 0x0f0f0f0f) + 0x78787878) ^ 0x80808080;
		}
		*d = ld16f(b);
	} else if (T == T_Q4_K) {
		const u8 *b = row + 144L * (c / 8);
		int j = c % 8;
		const u8 *s = b + 4;
		if (j < 4) sc[0] = s[j] & 63, sc[1] = s[j + 4] & 63;
		else sc[0] = (s[j + 4] & 15) | (s[j - 4] >> 6) << 4, sc[1] = (s[j + 4] >> 4) | (s[j] >> 6) << 4;
		const u8 *qs = b + 16 + 32 * (j / 2);
		int sh = (j & 1) * 4;
#pragma unroll
		for (int i = 0; i < 8; i++) q[i] = (ld32(qs + 4 * i) >> sh) & 0x0f0f0f0f;
		*d = ld16f(b), *dm = ld16f(b + 2);
	} else { // Q6_K
		const u8 *b = row + 210L * (c / 8);
		int j = c % 8, n = j / 4, k = j % 4;
		const u8 *ql = b + 64 * n + (k & 1) * 32, *qh = b + 128 + 32 * n;
		const i8 *s = (const i8 *)(b + 192 + 8 * n + 2 * k);
		int qs = (k >> 1) * 4, hs = 2 * k;
#pragma unroll
		for (int i = 0; i < 8; i++) {
			int v = ((ld32(ql + 4 * i) >> qs) & 0x0f0f0f0f) | ((ld32(qh + 4 * i) >> hs) & 0x03030303) << 4;
			q[i] = (v + 0x60606060) ^ 0x80808080; // u - 32, as Q4_0's n - 8
		}
		sc[0] = s[0], sc[1] = s[1];
		*d = ld16f(b + 208);
	}
}

// qscale turns a chunk's integer sums into its float contribution as
// qdot8's quarters do, for the whole chunk: s = Σ w·q (Q6_K: s over the first 16 values, s2 over
// the second), sq = Σ q, dx the activation block's d.
template <int T> DEVICE float qscale(int s, int s2, float dx, int sq, float d, float dm, const int *sc) {
	if (T == T_Q8_0 || T == T_Q4_0) return mul_rn(mul_rn((float)s, dx), d);
	if (T == T_Q4_K) return mul_rn(mul_rn(dx, d), (float)(sc[0] * s)) - mul_rn(mul_rn(dx, dm), (float)(sc[1] * sq));
	return mul_rn(mul_rn(dx, d), (float)(sc[0] * s + sc[1] * s2));
}

// k_gemmq_T: dst = x·wᵀ for n input rows quantized to Q8_1 (n·k/32
// blocks, row after row), the integer dot products of each 32-value chunk
// on the tensor cores (mma m16n8k32, int8), scaled per chunk in float32 as
// k_mmq scales them, so prefill and decode compute the same function.
// A block (4 warps) takes a 64 x 64 output tile: 64 input rows by 64
// weight rows, staged QKC chunks at a time in shared memory (weights
// decoded to bytes once per tile); each warp computes a 32 x 32 quarter,
// 2 x 4 mma tiles. Rows of 36 words: the fragments' loads (8 rows x 4
// words a warp) hit 32 different banks. Grid (m/64, n/64) rounded up.
#define QT 64
#define QKC 4
template <int T> DEVICE void gemmq(float *dst, const u8 *xq, const u8 *w, int n, int k, int m) {
	SHARED int xs[QT][8 * QKC + 4], ws[QT][8 * QKC + 4];
	SHARED float xd[QT][QKC], wd[QT][QKC], wm[QT][QKC];
	SHARED int xsq[QT][QKC], wsc[QT][QKC][2];
	int t = tid(), lane = t & 31, wp = t >> 5, g = lane >> 2, q4 = lane & 3;
	int wr = (wp >> 1) * 32, wo = (wp & 1) * 32;
	int o0 = bid() * QT, r0 = bidy() * QT, nc = k / 32;
	const long rb = row_bytes<T>(k);
	float acc[2][4][4];
#pragma unroll
	for (int i = 0; i < 2; i++)
#pragma unroll
		for (int j = 0; j < 4; j++)
#pragma unroll
			for (int e = 0; e < 4; e++) acc[i][j][e] = 0.f;
	for (int c0 = 0; c0 < nc; c0 += QKC) {
		// stage: each of the 128 threads loads 2 of the 64 x QKC activation
		// blocks and decodes 2 of the 64 x QKC weight chunks
#pragma unroll
		for (int e = 0; e < QT * QKC / 128; e++) {
			int idx = t + 128 * e, row = idx / QKC, cc = idx % QKC, c = c0 + cc;
			int *xw = &xs[row][8 * cc], *ww = &ws[row][8 * cc];
			if (r0 + row < n && c < nc) {
				const u8 *blk = xq + ((long)(r0 + row) * nc + c) * Q8_1_BYTES;
				const int *u = (const int *)(blk + 4);
				int sq = 0;
#pragma unroll
				for (int i = 0; i < 8; i++) xw[i] = u[i], sq = dp4a(0x01010101, u[i], sq);
				xd[row][cc] = ld16f(blk), xsq[row][cc] = sq;
			} else {
#pragma unroll
				for (int i = 0; i < 8; i++) xw[i] = 0;
				xd[row][cc] = 0.f, xsq[row][cc] = 0;
			}
			float d = 0.f, dm = 0.f;
			int sc[2] = {0, 0};
			if (o0 + row < m && c < nc) qchunk<T>(w + rb * (o0 + row), c, ww, &d, &dm, sc);
			else
#pragma unroll
				for (int i = 0; i < 8; i++) ww[i] = 0;
			wd[row][cc] = d, wm[row][cc] = dm, wsc[row][cc][0] = sc[0], wsc[row][cc][1] = sc[1];
		}
		bar();
#pragma unroll
		for (int cc = 0; cc < QKC; cc++) {
			if (c0 + cc >= nc) continue; // the same for the whole block
			int a[2][4];
			// this lane's rows (4) and outputs (8) and their scales, read
			// once a chunk rather than once a product
			float xdv[2][2], wdv[4][2], wmv[4][2];
			int xsqv[2][2], wsv[4][2][2];
#pragma unroll
			for (int i = 0; i < 2; i++) {
				int r = wr + 16 * i + g;
				a[i][0] = xs[r][8 * cc + q4], a[i][1] = xs[r + 8][8 * cc + q4];
				a[i][2] = xs[r][8 * cc + 4 + q4], a[i][3] = xs[r + 8][8 * cc + 4 + q4];
#pragma unroll
				for (int h = 0; h < 2; h++) xdv[i][h] = xd[r + 8 * h][cc], xsqv[i][h] = xsq[r + 8 * h][cc];
			}
#pragma unroll
			for (int j = 0; j < 4; j++)
#pragma unroll
				for (int e = 0; e < 2; e++) {
					int oo = wo + 8 * j + 2 * q4 + e;
					wdv[j][e] = wd[oo][cc], wmv[j][e] = wm[oo][cc], wsv[j][e][0] = wsc[oo][cc][0], wsv[j][e][1] = wsc[oo][cc][1];
				}
#pragma unroll
			for (int j = 0; j < 4; j++) {
				int o = wo + 8 * j + g; // this lane's B column: weight row o
				int b0 = ws[o][8 * cc + q4], b1 = ws[o][8 * cc + 4 + q4];
#pragma unroll
				for (int i = 0; i < 2; i++) {
					int s[4] = {0, 0, 0, 0}, s2[4] = {0, 0, 0, 0};
					if (T == T_Q6_K) { // the two 16-value halves apart: their scales differ
						mma_s8(s, a[i], b0, 0);
						mma_s8(s2, a[i], 0, b1);
					} else {
						mma_s8(s, a[i], b0, b1);
					}
#pragma unroll
					for (int e = 0; e < 4; e++) {
						int h = e >> 1, x = e & 1; // row g + 8h, output 2·q4 + x
						acc[i][j][e] += qscale<T>(s[e], s2[e], xdv[i][h], xsqv[i][h], wdv[j][x], wmv[j][x], wsv[j][x]);
					}
				}
			}
		}
		bar();
	}
#pragma unroll
	for (int i = 0; i < 2; i++)
#pragma unroll
		for (int j = 0; j < 4; j++)
#pragma unroll
			for (int e = 0; e < 4; e++) {
				int r = r0 + wr + 16 * i + g + 8 * (e >> 1), o = o0 + wo + 8 * j + 2 * q4 + (e & 1);
				if (r < n && o < m) dst[(long)r * m + o] = acc[i][j][e];
			}
}

#define GEMMQ(NAME, T) \
	GLOBAL void k_gemmq_##NAME(float *d, const u8 *xq, const u8 *w, int n, int k, int m) { gemmq<T>(d, xq, w, n, k, m); }
GEMMQ(q8_0, T_Q8_0)
GEMMQ(q4_0, T_Q4_0)
GEMMQ(q4_k, T_Q4_K)
GEMMQ(q6_k, T_Q6_K)
