/* AVX-512 GEMM micro-kernel: up to 8 rows x 32 columns of C in 16 zmm
 * accumulators; per k, two loads of B and one broadcast of A per row. The
 * column tail uses masked loads and stores, so nothing past nr is touched. */
#include "ops/gemm_kern.h"

#if defined(__x86_64__)
#include <immintrin.h>

#define T512 __attribute__((target("avx512f,avx512vl,avx512bw,avx512dq,fma")))

T512 static inline __attribute__((always_inline)) __m512 act512(__m512 v, const nn_act *act) {
    switch (act->kind) {
    case NN_ACT_RELU:
        return _mm512_max_ps(v, _mm512_setzero_ps());
    case NN_ACT_LEAKY_RELU: {
        __mmask16 neg = _mm512_cmp_ps_mask(v, _mm512_setzero_ps(), _CMP_LT_OQ);
        return _mm512_mask_mul_ps(v, neg, v, _mm512_set1_ps(act->a));
    }
    case NN_ACT_CLIP: {
        /* NaN stays NaN, as in the scalar post-pass */
        __mmask16 lo = _mm512_cmp_ps_mask(v, _mm512_set1_ps(act->a), _CMP_LT_OQ);
        __mmask16 hi = _mm512_cmp_ps_mask(v, _mm512_set1_ps(act->b), _CMP_GT_OQ);
        v = _mm512_mask_mov_ps(v, lo, _mm512_set1_ps(act->a));
        return _mm512_mask_mov_ps(v, hi, _mm512_set1_ps(act->b));
    }
    case NN_ACT_HARD_SIGMOID: {
        __m512 t = _mm512_fmadd_ps(v, _mm512_set1_ps(act->a), _mm512_set1_ps(act->b));
        return _mm512_min_ps(_mm512_max_ps(t, _mm512_setzero_ps()), _mm512_set1_ps(1.0f));
    }
    default:
        return v;
    }
}

/* Row k of B: b + k*brs, or b + off[k] for gathered rows (implicit-GEMM conv). */
#define BROW(k) (OFF ? b + off[k] : b + (k)*brs)

T512 static inline __attribute__((always_inline)) void
tile_mr(const nn_tile *t, const nn_gemm_epi *e, const int MR, const bool OFF) {
    __m512 acc[NN_GEMM_STRIP][2];
    const int K = t->K;
    const float *ap[NN_GEMM_STRIP];
#pragma GCC unroll 8
    for (int m = 0; m < MR; m++) {
        acc[m][0] = _mm512_setzero_ps();
        acc[m][1] = _mm512_setzero_ps();
        ap[m] = t->a + m * t->a_rs;
    }
    const ptrdiff_t acs = t->a_cs, brs = t->b_rs, *off = t->b_off;
    const float *b = t->b;
    int nr = t->nr;
    __mmask16 k0 = nr >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << nr) - 1);
    __mmask16 k1 = nr >= 32 ? (__mmask16)0xffff
                            : (nr > 16 ? (__mmask16)((1u << (nr - 16)) - 1) : (__mmask16)0);
    if (MR == 1) {
        /* one row: four independent k chains so the FMAs do not wait on each
         * other's latency */
        __m512 x0 = _mm512_setzero_ps(), x1 = _mm512_setzero_ps();
        __m512 y0 = _mm512_setzero_ps(), y1 = _mm512_setzero_ps();
        __m512 z0 = _mm512_setzero_ps(), z1 = _mm512_setzero_ps();
        const float *a0 = ap[0];
        int k = 0;
        for (; k + 4 <= K; k += 4) {
            const float *bk = BROW(k), *bk1 = BROW(k + 1), *bk2 = BROW(k + 2), *bk3 = BROW(k + 3);
            __m512 v0 = _mm512_set1_ps(a0[k * acs]), v1 = _mm512_set1_ps(a0[(k + 1) * acs]);
            __m512 v2 = _mm512_set1_ps(a0[(k + 2) * acs]), v3 = _mm512_set1_ps(a0[(k + 3) * acs]);
            acc[0][0] = _mm512_fmadd_ps(v0, _mm512_maskz_loadu_ps(k0, bk), acc[0][0]);
            acc[0][1] = _mm512_fmadd_ps(v0, _mm512_maskz_loadu_ps(k1, bk + 16), acc[0][1]);
            x0 = _mm512_fmadd_ps(v1, _mm512_maskz_loadu_ps(k0, bk1), x0);
            x1 = _mm512_fmadd_ps(v1, _mm512_maskz_loadu_ps(k1, bk1 + 16), x1);
            y0 = _mm512_fmadd_ps(v2, _mm512_maskz_loadu_ps(k0, bk2), y0);
            y1 = _mm512_fmadd_ps(v2, _mm512_maskz_loadu_ps(k1, bk2 + 16), y1);
            z0 = _mm512_fmadd_ps(v3, _mm512_maskz_loadu_ps(k0, bk3), z0);
            z1 = _mm512_fmadd_ps(v3, _mm512_maskz_loadu_ps(k1, bk3 + 16), z1);
        }
        for (; k < K; k++) {
            const float *bk = BROW(k);
            __m512 v0 = _mm512_set1_ps(a0[k * acs]);
            acc[0][0] = _mm512_fmadd_ps(v0, _mm512_maskz_loadu_ps(k0, bk), acc[0][0]);
            acc[0][1] = _mm512_fmadd_ps(v0, _mm512_maskz_loadu_ps(k1, bk + 16), acc[0][1]);
        }
        acc[0][0] = _mm512_add_ps(_mm512_add_ps(acc[0][0], x0), _mm512_add_ps(y0, z0));
        acc[0][1] = _mm512_add_ps(_mm512_add_ps(acc[0][1], x1), _mm512_add_ps(y1, z1));
    } else if (k1 == 0xffff) {
        for (int k = 0; k < K; k++) {
            const float *bk = BROW(k);
            __m512 b0 = _mm512_loadu_ps(bk), b1 = _mm512_loadu_ps(bk + 16);
#pragma GCC unroll 8
            for (int m = 0; m < MR; m++) {
                __m512 av = _mm512_set1_ps(ap[m][k * acs]);
                acc[m][0] = _mm512_fmadd_ps(av, b0, acc[m][0]);
                acc[m][1] = _mm512_fmadd_ps(av, b1, acc[m][1]);
            }
        }
    } else {
        for (int k = 0; k < K; k++) {
            const float *bk = BROW(k);
            __m512 b0 = _mm512_maskz_loadu_ps(k0, bk), b1 = _mm512_maskz_loadu_ps(k1, bk + 16);
#pragma GCC unroll 8
            for (int m = 0; m < MR; m++) {
                __m512 av = _mm512_set1_ps(ap[m][k * acs]);
                acc[m][0] = _mm512_fmadd_ps(av, b0, acc[m][0]);
                acc[m][1] = _mm512_fmadd_ps(av, b1, acc[m][1]);
            }
        }
    }
    /* epilogue, in registers */
    __m512 alpha = _mm512_set1_ps(e->alpha), beta = _mm512_set1_ps(e->beta);
    bool scale = e->alpha != 1.0f, use_c = e->cin && e->beta != 0.0f;
    __m512 bc0 = _mm512_setzero_ps(), bc1 = _mm512_setzero_ps();
    if (e->bias_col) {
        bc0 = _mm512_maskz_loadu_ps(k0, e->bias_col + t->n0);
        bc1 = _mm512_maskz_loadu_ps(k1, e->bias_col + t->n0 + 16);
    }
#pragma GCC unroll 8
    for (int m = 0; m < MR; m++) {
        __m512 v0 = acc[m][0], v1 = acc[m][1];
        if (scale) {
            v0 = _mm512_mul_ps(v0, alpha);
            v1 = _mm512_mul_ps(v1, alpha);
        }
        if (use_c) {
            const float *cr = e->cin + (ptrdiff_t)(t->m0 + m) * e->ldcin + t->n0;
            v0 = _mm512_fmadd_ps(beta, _mm512_maskz_loadu_ps(k0, cr), v0);
            v1 = _mm512_fmadd_ps(beta, _mm512_maskz_loadu_ps(k1, cr + 16), v1);
        }
        if (e->bias_col) {
            v0 = _mm512_add_ps(v0, bc0);
            v1 = _mm512_add_ps(v1, bc1);
        }
        if (e->bias_row) {
            __m512 br = _mm512_set1_ps(e->bias_row[t->m0 + m]);
            v0 = _mm512_add_ps(v0, br);
            v1 = _mm512_add_ps(v1, br);
        }
        v0 = act512(v0, &e->act);
        v1 = act512(v1, &e->act);
        float *cr = t->c + m * t->ldc;
        _mm512_mask_storeu_ps(cr, k0, v0);
        _mm512_mask_storeu_ps(cr + 16, k1, v1);
    }
    nn_tile_act_after(t, e);
}

T512 void nn_tile_avx512(const nn_tile *t, const nn_gemm_epi *e) {
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
    case 6:
        if (t->b_off)
            tile_mr(t, e, 6, true);
        else
            tile_mr(t, e, 6, false);
        break;
    case 7:
        if (t->b_off)
            tile_mr(t, e, 7, true);
        else
            tile_mr(t, e, 7, false);
        break;
    default:
        if (t->b_off)
            tile_mr(t, e, 8, true);
        else
            tile_mr(t, e, 8, false);
        break;
    }
}
#else
/* not x86-64: gemm_fast.c uses the portable kernel and OpenBLAS instead */
typedef int nn_gemm_no_avx512;
#endif
