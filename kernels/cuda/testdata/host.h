// The host side of kernels.cu (MAIRA_HOST): the primitives it takes from
// the GPU, for the CPU, so the tests run the kernels' own source without
// a GPU. A block runs its simulated threads as fibers (ucontext) on one OS
// thread, switching at barriers: bar() waits for the block, shfl_xor
// exchanges between two waits of the warp; a thread that returns drops
// out of both. exp2f stands in for ex2.approx, whose last bits the GPU
// tests see.
#include <functional>
#include <math.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <ucontext.h>
#include <vector>

#define GLOBAL extern "C"
#define DEVICE static inline
#define SHARED static

typedef unsigned char u8;
typedef unsigned short u16;
typedef unsigned int u32;
typedef signed char i8;

static thread_local int host_tid, host_ntid = 1, host_bid, host_bidy, host_nbid = 1;
DEVICE int tid() { return host_tid; }
DEVICE int ntid() { return host_ntid; }
DEVICE int bid() { return host_bid; }
DEVICE int bidy() { return host_bidy; }
DEVICE int nbid() { return host_nbid; }

DEVICE float h2f(u16 h) { return (float)__builtin_bit_cast(_Float16, h); }
DEVICE u16 f2h(float f) { return __builtin_bit_cast(u16, (_Float16)f); }
DEVICE float bf2f(u16 h) { return __builtin_bit_cast(float, (u32)h << 16); }
DEVICE float ld16f(const u8 *p) { return h2f((u16)p[0] | (u16)p[1] << 8); }
DEVICE float mul_rn(float a, float b) { return a * b; } // built with -ffp-contract=off
DEVICE float ex2(float x) { return exp2f(x); }
DEVICE float fsqrt(float x) { return sqrtf(x); }
// dp4a.s32.s32 exactly: c plus the four signed-byte products, in wrapping
// 32-bit arithmetic.
DEVICE int dp4a(int a, int b, int c) {
	u32 r = (u32)c;
	for (int i = 0; i < 4; i++) r += (u32)((int)(i8)(a >> 8 * i) * (int)(i8)(b >> 8 * i));
	return (int)r;
}
// cvt.rni.s32.f32: nearest, ties to even (the default rounding mode).
DEVICE int rint_i(float f) { return (int)rintf(f); }

// Switching fibers: on x86-64 a few instructions (the callee-saved
// registers on the stack, then the stack pointer), since glibc's
// swapcontext makes a system call each time; elsewhere ucontext.
#if defined(__x86_64__)
extern "C" void host_switch(void **from, void *to);
asm(".text\n.globl host_switch\n.type host_switch,@function\nhost_switch:\n"
    "pushq %rbp\npushq %rbx\npushq %r12\npushq %r13\npushq %r14\npushq %r15\n"
    "movq %rsp, (%rdi)\nmovq %rsi, %rsp\n"
    "popq %r15\npopq %r14\npopq %r13\npopq %r12\npopq %rbx\npopq %rbp\nret\n");
struct HostContext {
	void *sp;
};
static void host_start(HostContext *c, char *stack, size_t size, void (*entry)(), HostContext *) {
	void **top = (void **)(((uintptr_t)(stack + size)) & ~(uintptr_t)15);
	top[-1] = nullptr;          // the entry's return address: it never returns
	top[-2] = (void *)entry;    // where host_switch's ret goes
	for (int i = 3; i <= 8; i++) top[-i] = nullptr; // rbp, rbx, r12-r15
	c->sp = top - 8;
}
static void host_swap(HostContext *from, HostContext *to) { host_switch(&from->sp, to->sp); }
#else
struct HostContext {
	ucontext_t uc;
};
static void host_start(HostContext *c, char *stack, size_t size, void (*entry)(), HostContext *back) {
	getcontext(&c->uc);
	c->uc.uc_stack.ss_sp = stack;
	c->uc.uc_stack.ss_size = size;
	c->uc.uc_link = &back->uc;
	makecontext(&c->uc, entry, 0);
}
static void host_swap(HostContext *from, HostContext *to) { swapcontext(&from->uc, &to->uc); }
#endif

// A simulated thread: its context and what it waits for.
enum { RUNNABLE, AT_BLOCK, AT_WARP, DONE };
struct Fiber {
	HostContext ctx;
	int state;
};
struct HostBlock {
	std::vector<Fiber> fibers;
	std::vector<char *> stacks;
	HostContext sched;
	int cur;
	std::function<void()> *body;
	float x[32][32];
	int mx[32][32][6]; // a warp's mma operands, lane by lane
};
static HostBlock *host_block;

// host_wait parks the running fiber until the scheduler releases what it
// waits for (AT_BLOCK or AT_WARP).
static void host_wait(int what) {
	HostBlock *b = host_block;
	Fiber &f = b->fibers[b->cur];
	f.state = what;
	host_swap(&f.ctx, &b->sched);
}
DEVICE void bar() { host_wait(AT_BLOCK); }
static void warp_wait() { host_wait(AT_WARP); }
DEVICE float shfl_xor(float v, int m) {
	int w = host_tid >> 5, lane = host_tid & 31;
	host_block->x[w][lane] = v;
	warp_wait();
	float r = host_block->x[w][lane ^ m];
	warp_wait();
	return r;
}

// mma_s8 is mma.sync.aligned.m16n8k32.row.col.s32.s8.s8.s32 with c as
// both accumulator and result, its operands spread over the warp's lanes
// as the PTX ISA lays them out (lane = 4·group + t): a[0] holds A[group]
// [4t..4t+3], a[1] A[group+8][4t..], a[2] A[group][16+4t..], a[3]
// A[group+8][16+4t..]; b0 B[4t..4t+3][group], b1 B[16+4t..][group]; c[0],
// c[1] C[group][2t, 2t+1], c[2], c[3] C[group+8][2t, 2t+1].
DEVICE void mma_s8(int *c, const int *a, int b0, int b1) {
	int w = host_tid >> 5, lane = host_tid & 31;
	int *me = host_block->mx[w][lane];
	for (int i = 0; i < 4; i++) me[i] = a[i];
	me[4] = b0, me[5] = b1;
	warp_wait();
	auto A = [&](int r, int k) { // A[r][k], 16 x 32
		const int *l = host_block->mx[w][4 * (r & 7) + (k & 15) / 4];
		return (int)(i8)(l[(r >> 3) + 2 * (k >> 4)] >> 8 * (k & 3));
	};
	auto B = [&](int k, int n) { // B[k][n], 32 x 8
		const int *l = host_block->mx[w][4 * n + (k & 15) / 4];
		return (int)(i8)(l[4 + (k >> 4)] >> 8 * (k & 3));
	};
	int g = lane >> 2, t = lane & 3;
	for (int e = 0; e < 4; e++) {
		int r = g + 8 * (e >> 1), n = 2 * t + (e & 1), s = 0;
		for (int k = 0; k < 32; k++) s += A(r, k) * B(k, n);
		c[e] += s;
	}
	warp_wait();
}

// mma_f16 is mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32, each
// register two f16s (the lower index in the low half), laid out as the
// PTX ISA says: a[0] A[group][2t, 2t+1], a[1] A[group+8][2t, 2t+1], a[2]
// A[group][2t+8, 2t+9], a[3] A[group+8][2t+8, 2t+9]; b0 B[2t, 2t+1]
// [group], b1 B[2t+8, 2t+9][group]; c as mma_s8's. Products of f16s are
// exact in float; the sum runs in k order (the hardware's order and
// rounding of the sum are its own).
DEVICE void mma_f16(float *c, const u32 *a, u32 b0, u32 b1) {
	int w = host_tid >> 5, lane = host_tid & 31;
	int *me = host_block->mx[w][lane];
	for (int i = 0; i < 4; i++) me[i] = (int)a[i];
	me[4] = (int)b0, me[5] = (int)b1;
	warp_wait();
	auto half = [](int reg, int hi) { return h2f((u16)((u32)reg >> 16 * hi)); };
	auto A = [&](int r, int k) { // 16 x 16
		const int *l = host_block->mx[w][4 * (r & 7) + (k & 7) / 2];
		return half(l[(r >> 3) + 2 * (k >> 3)], k & 1);
	};
	auto B = [&](int k, int n) { // 16 x 8
		const int *l = host_block->mx[w][4 * n + (k & 7) / 2];
		return half(l[4 + (k >> 3)], k & 1);
	};
	int g = lane >> 2, t = lane & 3;
	float r[4];
	for (int e = 0; e < 4; e++) {
		int row = g + 8 * (e >> 1), n = 2 * t + (e & 1);
		float s = c[e];
		for (int k = 0; k < 16; k++) s += A(row, k) * B(k, n);
		r[e] = s;
	}
	warp_wait();
	for (int e = 0; e < 4; e++) c[e] = r[e];
}

static void host_fiber() {
	(*host_block->body)();
	HostBlock *b = host_block;
	b->fibers[b->cur].state = DONE;
	host_swap(&b->fibers[b->cur].ctx, &b->sched); // never resumed
	abort();
}

// host_launch runs f over a grid of gx x gy blocks of nt threads, a block
// at a time: each thread a fiber, run in turn until it waits or ends;
// when every live thread of the block waits at bar(), or every live
// thread of a warp at its exchange, they go on. Deterministic, and
// without an OS thread per simulated thread.
template <typename F> static void host_launch(int gx, int gy, int nt, F f) {
	const size_t stack = 256 << 10;
	HostBlock b;
	std::function<void()> body = f;
	b.body = &body;
	b.fibers.resize(nt);
	for (int t = 0; t < nt; t++) b.stacks.push_back((char *)malloc(stack));
	HostBlock *outer = host_block;
	host_block = &b;
	host_ntid = nt, host_nbid = gx;
	for (int by = 0; by < gy; by++)
		for (int bx = 0; bx < gx; bx++) {
			host_bid = bx, host_bidy = by;
			for (int t = 0; t < nt; t++) {
				Fiber &fb = b.fibers[t];
				host_start(&fb.ctx, b.stacks[t], stack, host_fiber, &b.sched);
				fb.state = RUNNABLE;
			}
			for (;;) {
				bool ran = false;
				for (int t = 0; t < nt; t++)
					if (b.fibers[t].state == RUNNABLE) {
						b.cur = t, host_tid = t, ran = true;
						host_swap(&b.sched, &b.fibers[t].ctx);
					}
				if (ran) continue;
				// none runnable: release a barrier every live thread of
				// the block, or of a warp, has reached
				int live = 0, atBlock = 0;
				bool released = false;
				for (int w = 0; w * 32 < nt; w++) {
					int wl = 0, ww = 0;
					for (int t = 32 * w; t < nt && t < 32 * w + 32; t++) {
						int st = b.fibers[t].state;
						wl += st != DONE, ww += st == AT_WARP, atBlock += st == AT_BLOCK;
					}
					live += wl;
					if (wl > 0 && ww == wl) {
						for (int t = 32 * w; t < nt && t < 32 * w + 32; t++) b.fibers[t].state = RUNNABLE;
						released = true;
					}
				}
				if (released) continue;
				if (live == 0) break;
				if (atBlock == live) {
					for (auto &fb : b.fibers)
						if (fb.state == AT_BLOCK) fb.state = RUNNABLE;
					continue;
				}
				fprintf(stderr, "host_launch: block (%d, %d) deadlocked: threads wait at different barriers\n", bx, by);
				abort();
			}
		}
	for (char *p : b.stacks) free(p);
	host_block = outer;
}
