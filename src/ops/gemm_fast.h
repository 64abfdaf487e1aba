/* The engine's own single-precision GEMM: register-tiled micro-kernels
 * (AVX-512, AVX2+FMA, portable C; picked at run time) over one operand that
 * is pre-packed once at load time, with a fused epilogue (alpha, beta * C,
 * per-row / per-column bias, activation) applied while a tile is still in
 * registers.
 *
 * Why not only OpenBLAS: it re-packs B on every call and has a high fixed
 * cost on the small shapes of inference (batch-1 dense layers, convs with
 * a few dozen channels); the weights are constant, so they are packed once.
 * Where OpenBLAS's own kernels win (CPUs without AVX2, where the portable
 * kernel is slow; single rows on AVX2-only CPUs) operands are handed to it
 * in place or unpacked, with the epilogue as a post-pass.
 *
 * Layouts (independent of the ISA chosen, so a packed copy serves any CPU):
 *  - packed B: K x N in column panels of NN_GEMM_PANEL floats; panel p holds
 *    rows 0..K-1 of columns [p*PANEL, p*PANEL+PANEL), row-major, the last
 *    panel zero-padded. nn_gemm_packb_floats() gives the size.
 *  - packed A: M x K in row strips of NN_GEMM_STRIP rows; strip s holds
 *    k = 0..K-1, each as STRIP consecutive floats (rows of the strip), the
 *    last strip zero-padded. Used for conv weights (the output channels). */
#ifndef MLAMBDA_OPS_GEMM_FAST_H
#define MLAMBDA_OPS_GEMM_FAST_H

#include <stdbool.h>
#include <stddef.h>

#include "ops/kernel.h"

#define NN_GEMM_PANEL 32
#define NN_GEMM_STRIP 8

/* ---- activations (com.microsoft FusedConv / FusedGemm vocabulary) ---- */
typedef enum nn_act_kind {
    NN_ACT_NONE = 0,
    NN_ACT_RELU,
    NN_ACT_LEAKY_RELU,   /* a = alpha */
    NN_ACT_CLIP,         /* a = min, b = max */
    NN_ACT_HARD_SIGMOID, /* max(0, min(1, a*x + b)) */
    NN_ACT_SIGMOID,
    NN_ACT_TANH,
} nn_act_kind;

typedef struct nn_act {
    nn_act_kind kind;
    float a, b;
} nn_act;

/* Parses an activation name ("" or NULL = none) and its parameters (missing
 * parameters take onnxruntime's defaults: LeakyRelu 0.01, HardSigmoid
 * 0.2/0.5, Clip -inf/+inf). Fails with a clear message on unknown names. */
ml_status nn_act_parse(const ml_node *node, const char *name, const float *params, size_t n,
                       nn_act *out);
/* x[i] = act(x[i]) for n floats (a post-pass for callers without an epilogue). */
void nn_act_apply(const nn_act *act, float *x, size_t n);
/* y[i] = act(x[i] + z[i]) for n floats; y may alias x or z. */
void nn_add_act(const nn_act *act, const float *x, const float *z, float *y, size_t n);

/* ---- epilogue ---- */
/* C[m,n] = act(alpha * sum_k A[m,k] B[k,n] + beta * cin[m,n] + bias_col[n] + bias_row[m]).
 * cin may alias C (the classic beta * C); NULL or beta == 0 ignores it (C's
 * old contents, NaNs included, are never read then). bias_* may be NULL. */
typedef struct nn_gemm_epi {
    float alpha, beta;
    const float *cin;
    ptrdiff_t ldcin;
    const float *bias_col, *bias_row;
    nn_act act;
} nn_gemm_epi;

/* An operand of nn_gemm: either packed (layouts above) or strided, where
 * element (i, k) of A is at a[i*rs + k*cs] (row-major: rs = lda, cs = 1;
 * transposed: rs = 1, cs = lda) and row k of B starts at b + k*rs (columns
 * contiguous). A strided B may instead give each row's start: row k at
 * p + off[k] (K offsets; an implicit-GEMM conv reads shifted input rows). */
typedef struct nn_gemm_opnd {
    const float *p;
    bool packed;
    ptrdiff_t rs, cs;     /* strided form only */
    const ptrdiff_t *off; /* B only: row offsets instead of rs (cs must be 1) */
    /* B only, strided: columns come in segments of `seg` (0 = one segment),
     * segment s starting at column s*seg_stride of the stored rows, e.g. the
     * output rows of a conv read from a wider padded input. Tiles never
     * straddle two segments. */
    int seg;
    ptrdiff_t seg_stride;
} nn_gemm_opnd;

/* C = epilogue(A @ B) for an M x K A and a K x N B (at most one packed is
 * the usual case; both may be strided). Splits the tile space over pool when
 * the product is big enough. M, N, K >= 0; K == 0 gives the epilogue of 0. */
void nn_gemm(ml_threadpool *pool, int M, int N, int K, const nn_gemm_opnd *a, const nn_gemm_opnd *b,
             float *c, ptrdiff_t ldc, const nn_gemm_epi *e);

/* Floats needed for a packed B of K x N / a packed A of M x K. */
size_t nn_gemm_packb_floats(int K, int N);
size_t nn_gemm_packa_floats(int M, int K);
/* Packs B (element (k, n) at b[k*rs + n*cs]) into dst. */
void nn_gemm_packb(const float *b, ptrdiff_t rs, ptrdiff_t cs, int K, int N, float *dst);
/* Packs A (element (m, k) at a[m*rs + k*cs]) into dst. */
void nn_gemm_packa(const float *a, ptrdiff_t rs, ptrdiff_t cs, int M, int K, float *dst);

/* Which micro-kernel runs: 0 portable C, 1 AVX2+FMA, 2 AVX-512. */
int nn_gemm_isa(void);
/* Tests: caps the ISA (-1 = best available again). Not thread-safe. */
void nn_gemm_set_max_isa(int isa);

#endif
