// Host harness for TestChunkDecode: kernels.cu's weight decoders (chunk<T>)
// compiled for the CPU. Reads int32 type, rows, cols, then the rows'
// bytes on stdin; writes the rows decoded, float32, on stdout.
#define MAIRA_HOST 1
#include "../kernels.cu"

#include <stdio.h>
#include <stdlib.h>

template <int T> static void decode(const u8 *data, int rows, int cols, float *out) {
	for (int r = 0; r < rows; r++)
		for (int c = 0; c < cols / 32; c++) chunk<T>(data + row_bytes<T>(cols) * r, c, out + (long)r * cols + 32 * c);
}

int main() {
	int h[3];
	if (fread(h, 4, 3, stdin) != 3) return 2;
	int t = h[0], rows = h[1], cols = h[2];
	long n = 0;
	switch (t) {
	case T_F32: n = row_bytes<T_F32>(cols); break;
	case T_F16: n = row_bytes<T_F16>(cols); break;
	case T_BF16: n = row_bytes<T_BF16>(cols); break;
	case T_Q8_0: n = row_bytes<T_Q8_0>(cols); break;
	case T_Q4_0: n = row_bytes<T_Q4_0>(cols); break;
	case T_Q4_K: n = row_bytes<T_Q4_K>(cols); break;
	case T_Q6_K: n = row_bytes<T_Q6_K>(cols); break;
	default: return 3;
	}
	n *= rows;
	u8 *data = (u8 *)malloc(n);
	float *out = (float *)malloc(sizeof(float) * (long)rows * cols);
	if ((long)fread(data, 1, n, stdin) != n) return 4;
	switch (t) {
	case T_F32: decode<T_F32>(data, rows, cols, out); break;
	case T_F16: decode<T_F16>(data, rows, cols, out); break;
	case T_BF16: decode<T_BF16>(data, rows, cols, out); break;
	case T_Q8_0: decode<T_Q8_0>(data, rows, cols, out); break;
	case T_Q4_0: decode<T_Q4_0>(data, rows, cols, out); break;
	case T_Q4_K: decode<T_Q4_K>(data, rows, cols, out); break;
	case T_Q6_K: decode<T_Q6_K>(data, rows, cols, out); break;
	}
	fwrite(out, sizeof(float), (long)rows * cols, stdout);
	return 0;
}
