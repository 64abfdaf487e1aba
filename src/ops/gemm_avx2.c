/* AVX2+FMA GEMM micro-kernel: up to 6 rows x 16 columns of C in 12 ymm
 * accumulators. The column tail uses maskload/maskstore, so nothing past nr
 * is read or written. */
#include <string.h>

#include "ops/gemm_kern.h"

#if defined(__x86_64__)
#include <immintrin.h>

#define T256 __attribute__((target("avx2,fma")))

T256 static inline __attribute__((always_inline)) __m256 act256(__m256 v, const nn_act *act) {
    switch (act->kind) {
    case NN_ACT_RELU:
        return _mm256_max_ps(v, _mm256_setzero_ps());
    case NN_ACT_LEAKY_RELU: {
        __m256 neg = _mm256_cmp_ps(v, _mm256_setzero_ps(), _CMP_LT_OQ);
        return _mm256_blendv_ps(v, _mm256_mul_ps(v, _mm256_set1_ps(act->a)), neg);
    }
    case NN_ACT_CLIP: {
        __m256 lo = _mm256_set1_ps(act->a), hi = _mm256_set1_ps(act->b);
        v = _mm256_blendv_ps(v, lo, _mm256_cmp_ps(v, lo, _CMP_LT_OQ));
        return _mm256_blendv_ps(v, hi, _mm256_cmp_ps(v, hi, _CMP_GT_OQ));
    }
    case NN_ACT_HARD_SIGMOID: {
        __m256 t = _mm256_fmadd_ps(v, _mm256_set1_ps(act->a), _mm256_set1_ps(act->b));
        return _mm256_min_ps(_mm256_max_ps(t, _mm256_setzero_ps()), _mm256_set1_ps(1.0f));
    }
    default:
        return v;
    }
}

T256 static inline __attribute__((always_inline)) __m256i lane_mask(int n) {
    /* lanes < n set */
    __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), idx);
}

/* Row k of B: b + k*brs, or b + off[k] for gathered rows (implicit-GEMM conv). */
#define BROW(k) (OFF ? b + off[k] : b + (k)*brs)

T256 static inline __attribute__((always_inline)) void
tile_mr(const nn_tile *t, const nn_gemm_epi *e, const int MR, const bool OFF) {
    __m256 acc[NN_TILE_AVX2_MR][2];
    const float *ap[NN_TILE_AVX2_MR];
#pragma GCC unroll 6
    for (int m = 0; m < MR; m++) {
        acc[m][0] = _mm256_setzero_ps();
        acc[m][1] = _mm256_setzero_ps();
        ap[m] = t->a + m * t->a_rs;
    }
    const int K = t->K, nr = t->nr;
    const ptrdiff_t acs = t->a_cs, brs = t->b_rs, *off = t->b_off;
    const float *b = t->b;
    __m256i m0 = lane_mask(nr), m1 = lane_mask(nr - 8);
    if (MR == 1 && nr >= 16) {
        /* one row: four independent k chains hide the FMA latency */
        __m256 x0 = _mm256_setzero_ps(), x1 = _mm256_setzero_ps();
        __m256 y0 = _mm256_setzero_ps(), y1 = _mm256_setzero_ps();
        __m256 z0 = _mm256_setzero_ps(), z1 = _mm256_setzero_ps();
        const float *a0 = ap[0];
        int k = 0;
        for (; k + 4 <= K; k += 4) {
            const float *bk = BROW(k), *bk1 = BROW(k + 1), *bk2 = BROW(k + 2), *bk3 = BROW(k + 3);
            __m256 v0 = _mm256_broadcast_ss(a0 + k * acs),
                   v1 = _mm256_broadcast_ss(a0 + (k + 1) * acs);
            __m256 v2 = _mm256_broadcast_ss(a0 + (k + 2) * acs),
                   v3 = _mm256_broadcast_ss(a0 + (k + 3) * acs);
            acc[0][0] = _mm256_fmadd_ps(v0, _mm256_loadu_ps(bk), acc[0][0]);
            acc[0][1] = _mm256_fmadd_ps(v0, _mm256_loadu_ps(bk + 8), acc[0][1]);
            x0 = _mm256_fmadd_ps(v1, _mm256_loadu_ps(bk1), x0);
            x1 = _mm256_fmadd_ps(v1, _mm256_loadu_ps(bk1 + 8), x1);
            y0 = _mm256_fmadd_ps(v2, _mm256_loadu_ps(bk2), y0);
            y1 = _mm256_fmadd_ps(v2, _mm256_loadu_ps(bk2 + 8), y1);
            z0 = _mm256_fmadd_ps(v3, _mm256_loadu_ps(bk3), z0);
            z1 = _mm256_fmadd_ps(v3, _mm256_loadu_ps(bk3 + 8), z1);
        }
        for (; k < K; k++) {
            const float *bk = BROW(k);
            __m256 v0 = _mm256_broadcast_ss(a0 + k * acs);
            acc[0][0] = _mm256_fmadd_ps(v0, _mm256_loadu_ps(bk), acc[0][0]);
            acc[0][1] = _mm256_fmadd_ps(v0, _mm256_loadu_ps(bk + 8), acc[0][1]);
        }
        acc[0][0] = _mm256_add_ps(_mm256_add_ps(acc[0][0], x0), _mm256_add_ps(y0, z0));
        acc[0][1] = _mm256_add_ps(_mm256_add_ps(acc[0][1], x1), _mm256_add_ps(y1, z1));
    } else if (nr >= 16) {
        for (int k = 0; k < K; k++) {
            const float *bk = BROW(k);
            __m256 b0 = _mm256_loadu_ps(bk), b1 = _mm256_loadu_ps(bk + 8);
#pragma GCC unroll 6
            for (int m = 0; m < MR; m++) {
                __m256 av = _mm256_broadcast_ss(ap[m] + k * acs);
                acc[m][0] = _mm256_fmadd_ps(av, b0, acc[m][0]);
                acc[m][1] = _mm256_fmadd_ps(av, b1, acc[m][1]);
            }
        }
    } else {
        for (int k = 0; k < K; k++) {
            const float *bk = BROW(k);
            __m256 b0 = _mm256_maskload_ps(bk, m0), b1 = _mm256_maskload_ps(bk + 8, m1);
#pragma GCC unroll 6
            for (int m = 0; m < MR; m++) {
                __m256 av = _mm256_broadcast_ss(ap[m] + k * acs);
                acc[m][0] = _mm256_fmadd_ps(av, b0, acc[m][0]);
                acc[m][1] = _mm256_fmadd_ps(av, b1, acc[m][1]);
            }
        }
    }
    __m256 alpha = _mm256_set1_ps(e->alpha), beta = _mm256_set1_ps(e->beta);
    bool scale = e->alpha != 1.0f, use_c = e->cin && e->beta != 0.0f;
    __m256 bc0 = _mm256_setzero_ps(), bc1 = _mm256_setzero_ps();
    if (e->bias_col) {
        bc0 = _mm256_maskload_ps(e->bias_col + t->n0, m0);
        bc1 = _mm256_maskload_ps(e->bias_col + t->n0 + 8, m1);
    }
#pragma GCC unroll 6
    for (int m = 0; m < MR; m++) {
        __m256 v0 = acc[m][0], v1 = acc[m][1];
        if (scale) {
            v0 = _mm256_mul_ps(v0, alpha);
            v1 = _mm256_mul_ps(v1, alpha);
        }
        if (use_c) {
            const float *cr = e->cin + (ptrdiff_t)(t->m0 + m) * e->ldcin + t->n0;
            v0 = _mm256_fmadd_ps(beta, _mm256_maskload_ps(cr, m0), v0);
            v1 = _mm256_fmadd_ps(beta, _mm256_maskload_ps(cr + 8, m1), v1);
        }
        if (e->bias_col) {
            v0 = _mm256_add_ps(v0, bc0);
            v1 = _mm256_add_ps(v1, bc1);
        }
        if (e->bias_row) {
            __m256 br = _mm256_set1_ps(e->bias_row[t->m0 + m]);
            v0 = _mm256_add_ps(v0, br);
            v1 = _mm256_add_ps(v1, br);
        }
        v0 = act256(v0, &e->act);
        v1 = act256(v1, &e->act);
        float *cr = t->c + m * t->ldc;
        if (nr >= 16) {
            _mm256_storeu_ps(cr, v0);
            _mm256_storeu_ps(cr + 8, v1);
        } else {
            _mm256_maskstore_ps(cr, m0, v0);
            _mm256_maskstore_ps(cr + 8, m1, v1);
        }
    }
    nn_tile_act_after(t, e);
}

/* One row (M = 1, batch-1 dense layers), 32 columns: a matrix-vector product
 * bound by reading B, so it takes a whole packed panel per pass (16-wide
 * tiles would stream every panel twice) with two k chains over four column
 * vectors. The epilogue runs on the 32 results in scalar code. */
T256 void nn_tile_avx2_row(const nn_tile *t, const nn_gemm_epi *e) {
    const int K = t->K, nr = t->nr;
    const ptrdiff_t acs = t->a_cs, brs = t->b_rs, *off = t->b_off;
    const float *a0 = t->a, *b = t->b;
    __m256i mk[4];
    for (int j = 0; j < 4; j++) mk[j] = lane_mask(nr - 8 * j);
    __m256 x[4], y[4];
    for (int j = 0; j < 4; j++) x[j] = y[j] = _mm256_setzero_ps();
    int k = 0;
    if (nr == 32 && !off) { /* full panels: plain loads, fixed stride */
        for (; k + 2 <= K; k += 2) {
            const float *bk = b + k * brs, *bk1 = bk + brs;
            __m256 v0 = _mm256_broadcast_ss(a0 + k * acs);
            __m256 v1 = _mm256_broadcast_ss(a0 + (k + 1) * acs);
            for (int j = 0; j < 4; j++) {
                x[j] = _mm256_fmadd_ps(v0, _mm256_loadu_ps(bk + 8 * j), x[j]);
                y[j] = _mm256_fmadd_ps(v1, _mm256_loadu_ps(bk1 + 8 * j), y[j]);
            }
        }
    }
    for (; k + 2 <= K; k += 2) {
        const float *bk = off ? b + off[k] : b + k * brs;
        const float *bk1 = off ? b + off[k + 1] : b + (k + 1) * brs;
        __m256 v0 = _mm256_broadcast_ss(a0 + k * acs), v1 = _mm256_broadcast_ss(a0 + (k + 1) * acs);
        for (int j = 0; j < 4; j++) {
            x[j] = _mm256_fmadd_ps(v0, _mm256_maskload_ps(bk + 8 * j, mk[j]), x[j]);
            y[j] = _mm256_fmadd_ps(v1, _mm256_maskload_ps(bk1 + 8 * j, mk[j]), y[j]);
        }
    }
    for (; k < K; k++) {
        const float *bk = off ? b + off[k] : b + k * brs;
        __m256 v0 = _mm256_broadcast_ss(a0 + k * acs);
        for (int j = 0; j < 4; j++)
            x[j] = _mm256_fmadd_ps(v0, _mm256_maskload_ps(bk + 8 * j, mk[j]), x[j]);
    }
    float out[32];
    for (int j = 0; j < 4; j++) _mm256_storeu_ps(out + 8 * j, _mm256_add_ps(x[j], y[j]));
    bool use_c = e->cin && e->beta != 0.0f;
    for (int n = 0; n < nr; n++) {
        float v = out[n] * e->alpha;
        if (use_c) v += e->beta * e->cin[(ptrdiff_t)t->m0 * e->ldcin + t->n0 + n];
        if (e->bias_col) v += e->bias_col[t->n0 + n];
        if (e->bias_row) v += e->bias_row[t->m0];
        out[n] = v;
    }
    nn_act_apply(&e->act, out, (size_t)nr);
    memcpy(t->c, out, sizeof(float) * (size_t)nr);
}

T256 void nn_tile_avx2(const nn_tile *t, const nn_gemm_epi *e) {
    switch (t->mr) {
    case 1:
        if (t->b_off)
            tile_mr(t, e, 1, true);
        else
            tile_mr(t, e, 1, false);
        break;
    case 2:
        if (t->b_off)
            tile_mr(t, e, 2, true);
        else
            tile_mr(t, e, 2, false);
        break;
    case 3:
        if (t->b_off)
            tile_mr(t, e, 3, true);
        else
            tile_mr(t, e, 3, false);
        break;
    case 4:
        if (t->b_off)
            tile_mr(t, e, 4, true);
        else
            tile_mr(t, e, 4, false);
        break;
    case 5:
        if (t->b_off)
            tile_mr(t, e, 5, true);
        else
            tile_mr(t, e, 5, false);
        break;
    default:
        if (t->b_off)
            tile_mr(t, e, 6, true);
        else
            tile_mr(t, e, 6, false);
        break;
    }
}
#else
/* not x86-64: gemm_fast.c uses the portable kernel and OpenBLAS instead */
typedef int nn_gemm_no_avx2;
#endif
