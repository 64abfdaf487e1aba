/* Between the GEMM driver (gemm_fast.c) and its per-ISA micro-kernels
 * (gemm_avx512.c, gemm_avx2.c; the portable one is in gemm_fast.c). */
#ifndef MLAMBDA_OPS_GEMM_KERN_H
#define MLAMBDA_OPS_GEMM_KERN_H

#include "ops/gemm_fast.h"

/* One register tile: C[0..mr, 0..nr) = epilogue(sum_k A(m, k) B(k, n)),
 * with A(m, k) = a[m*a_rs + k*a_cs] and B row k at b + k*b_rs (or at
 * b + b_off[k] when b_off is set). mr is in 1..the kernel's height
 * (NN_GEMM_STRIP, or NN_TILE_AVX2_MR) and nr in 1..its width; nothing outside those
 * rows and columns is read from B or C, or written. m0 / n0 locate the tile
 * in the whole C for the epilogue's bias and cin. */
typedef struct nn_tile {
    int K, mr, nr, m0, n0;
    const float *a;
    ptrdiff_t a_rs, a_cs;
    const float *b;
    ptrdiff_t b_rs;
    const ptrdiff_t *b_off;
    float *c;
    ptrdiff_t ldc;
} nn_tile;

typedef void (*nn_tile_fn)(const nn_tile *t, const nn_gemm_epi *e);

/* AVX2 has 16 ymm registers: 6 x 16 accumulators is its largest tile, so the
 * driver hands it an 8-row strip in two parts. */
#define NN_TILE_AVX2_MR 6

#if defined(__x86_64__)
void nn_tile_avx512(const nn_tile *t, const nn_gemm_epi *e);   /* width 32 */
void nn_tile_avx2(const nn_tile *t, const nn_gemm_epi *e);     /* width 16 */
void nn_tile_avx2_row(const nn_tile *t, const nn_gemm_epi *e); /* one row, width 32 */
#endif

/* Sigmoid/Tanh run after the store, on the tile's rows (still in L1). */
static inline void nn_tile_act_after(const nn_tile *t, const nn_gemm_epi *e) {
    if (e->act.kind != NN_ACT_SIGMOID && e->act.kind != NN_ACT_TANH) return;
    for (int m = 0; m < t->mr; m++) nn_act_apply(&e->act, t->c + m * t->ldc, (size_t)t->nr);
}

#endif
