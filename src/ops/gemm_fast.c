/* Driver of the engine's own SGEMM (see gemm_fast.h): packing, ISA dispatch,
 * the portable micro-kernel and the split of the tile space over the pool. */
#include <stdlib.h>
#include <string.h>

#include "ops/gemm_kern.h"
#include "ops/linalg_internal.h"

/* ---- packing ---- */

size_t nn_gemm_packb_floats(int K, int N) {
    size_t panels = ((size_t)(N > 0 ? N : 0) + NN_GEMM_PANEL - 1) / NN_GEMM_PANEL;
    return panels * (size_t)(K > 0 ? K : 0) * NN_GEMM_PANEL;
}

size_t nn_gemm_packa_floats(int M, int K) {
    size_t strips = ((size_t)(M > 0 ? M : 0) + NN_GEMM_STRIP - 1) / NN_GEMM_STRIP;
    return strips * (size_t)(K > 0 ? K : 0) * NN_GEMM_STRIP;
}

void nn_gemm_packb(const float *b, ptrdiff_t rs, ptrdiff_t cs, int K, int N, float *dst) {
    for (int n0 = 0; n0 < N; n0 += NN_GEMM_PANEL) {
        int w = N - n0 < NN_GEMM_PANEL ? N - n0 : NN_GEMM_PANEL;
        for (int k = 0; k < K; k++) {
            float *row = dst + (size_t)k * NN_GEMM_PANEL;
            const float *src = b + k * rs + n0 * cs;
            if (cs == 1)
                memcpy(row, src, sizeof(float) * (size_t)w);
            else
                for (int j = 0; j < w; j++) row[j] = src[j * cs];
            for (int j = w; j < NN_GEMM_PANEL; j++) row[j] = 0.0f;
        }
        dst += (size_t)K * NN_GEMM_PANEL;
    }
}

void nn_gemm_packa(const float *a, ptrdiff_t rs, ptrdiff_t cs, int M, int K, float *dst) {
    for (int m0 = 0; m0 < M; m0 += NN_GEMM_STRIP) {
        int h = M - m0 < NN_GEMM_STRIP ? M - m0 : NN_GEMM_STRIP;
        for (int k = 0; k < K; k++) {
            float *col = dst + (size_t)k * NN_GEMM_STRIP;
            for (int i = 0; i < h; i++) col[i] = a[(m0 + i) * rs + k * cs];
            for (int i = h; i < NN_GEMM_STRIP; i++) col[i] = 0.0f;
        }
        dst += (size_t)K * NN_GEMM_STRIP;
    }
}

/* ---- portable micro-kernel (width 16) ---- */

static void tile_c(const nn_tile *t, const nn_gemm_epi *e) {
    float acc[NN_GEMM_STRIP][16];
    memset(acc, 0, sizeof acc);
    int nr = t->nr;
    for (int k = 0; k < t->K; k++) {
        const float *bk = t->b_off ? t->b + t->b_off[k] : t->b + k * t->b_rs;
        for (int m = 0; m < t->mr; m++) {
            float av = t->a[m * t->a_rs + k * t->a_cs];
            for (int j = 0; j < nr; j++) acc[m][j] += av * bk[j];
        }
    }
    for (int m = 0; m < t->mr; m++) {
        float *cr = t->c + m * t->ldc;
        for (int j = 0; j < nr; j++) {
            float v = acc[m][j] * e->alpha;
            if (e->cin && e->beta != 0.0f)
                v += e->beta * e->cin[(ptrdiff_t)(t->m0 + m) * e->ldcin + t->n0 + j];
            if (e->bias_col) v += e->bias_col[t->n0 + j];
            if (e->bias_row) v += e->bias_row[t->m0 + m];
            cr[j] = v;
        }
        nn_act_apply(&e->act, cr, (size_t)nr);
    }
}

/* ---- dispatch ---- */

static int isa_best = -1, isa_cap = -1;

static int detect_isa(void) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
        __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq"))
        return 2;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return 1;
#endif
    return 0;
}

int nn_gemm_isa(void) {
    /* every thread that races here computes and stores the same value */
    int best = __atomic_load_n(&isa_best, __ATOMIC_RELAXED);
    if (best < 0) {
        best = detect_isa();
        __atomic_store_n(&isa_best, best, __ATOMIC_RELAXED);
    }
    int cap = __atomic_load_n(&isa_cap, __ATOMIC_RELAXED);
    return cap >= 0 && cap < best ? cap : best;
}

void nn_gemm_set_max_isa(int isa) {
    __atomic_store_n(&isa_cap, isa, __ATOMIC_RELAXED);
}

/* ---- driver ---- */

/* Reductions longer than KC_MIN run in chunks of about KC (see gemm_run.kc). */
#define NN_GEMM_KC_MIN 768
#define NN_GEMM_KC 512

typedef struct gemm_run {
    int M, N, K;
    nn_gemm_opnd a, b;
    float *c;
    ptrdiff_t ldc;
    const nn_gemm_epi *e;
    nn_tile_fn fn;
    int nr;             /* kernel width: divides NN_GEMM_PANEL */
    int max_mr;         /* kernel height */
    int m_step, n_step; /* rows / columns per task (multiples of STRIP / PANEL) */
    int tasks_m, tasks_n;
    /* K chunk: all of K, or for long reductions over several row strips a
     * chunk whose B part (kc x 32 floats) stays in L2 while every strip
     * uses it. Chunks after the first accumulate into C: e_first adds
     * beta*cin and the biases, e_mid adds C, e_last adds C and activates. */
    int kc;
    nn_gemm_epi e_first, e_mid, e_last;
} gemm_run;

static void gemm_block(const gemm_run *g, int m_lo, int m_hi, int n_lo, int n_hi) {
    const int K = g->K;
    for (int n = n_lo, nr; n < n_hi; n += nr) {
        nr = n_hi - n < g->nr ? n_hi - n : g->nr;
        const float *bp;
        ptrdiff_t brs = 0;
        if (g->b.packed) {
            bp = g->b.p + (size_t)(n / NN_GEMM_PANEL) * (size_t)K * NN_GEMM_PANEL +
                 n % NN_GEMM_PANEL;
            brs = NN_GEMM_PANEL;
        } else if (g->b.seg > 0) {
            int within = n % g->b.seg;
            if (nr > g->b.seg - within) nr = g->b.seg - within;
            bp = g->b.p + (ptrdiff_t)(n / g->b.seg) * g->b.seg_stride + within;
            brs = g->b.rs;
        } else {
            bp = g->b.p + n;
            brs = g->b.rs;
        }
        /* K in chunks (see gemm_run.kc) so the B chunk stays in cache across
         * the row strips; partial sums accumulate in C */
        for (int k0 = 0, kc; k0 < K || k0 == 0; k0 += kc) {
            kc = K - k0 < g->kc ? K - k0 : g->kc;
            const nn_gemm_epi *e = g->e;
            if (kc < K) e = k0 == 0 ? &g->e_first : (k0 + kc < K ? &g->e_mid : &g->e_last);
            for (int m = m_lo; m < m_hi; m += NN_GEMM_STRIP) {
                nn_tile t = {.K = kc,
                             .mr = m_hi - m < NN_GEMM_STRIP ? m_hi - m : NN_GEMM_STRIP,
                             .nr = nr,
                             .m0 = m,
                             .n0 = n,
                             .b = bp + (g->b.off && !g->b.packed ? 0 : k0 * brs),
                             .b_rs = brs,
                             .b_off = g->b.packed || !g->b.off ? NULL : g->b.off + k0,
                             .c = g->c + m * g->ldc + n,
                             .ldc = g->ldc};
                if (g->a.packed) {
                    t.a = g->a.p + (size_t)(m / NN_GEMM_STRIP) * (size_t)K * NN_GEMM_STRIP +
                          (size_t)k0 * NN_GEMM_STRIP;
                    t.a_rs = 1;
                    t.a_cs = NN_GEMM_STRIP;
                } else {
                    t.a = g->a.p + m * g->a.rs + k0 * g->a.cs;
                    t.a_rs = g->a.rs;
                    t.a_cs = g->a.cs;
                }
                int rows = t.mr;
                while (rows > g->max_mr) { /* a kernel shorter than the strip */
                    nn_tile part = t;
                    part.mr = g->max_mr;
                    g->fn(&part, e);
                    t.a += g->max_mr * t.a_rs;
                    t.c += g->max_mr * t.ldc;
                    t.m0 += g->max_mr;
                    rows -= g->max_mr;
                    t.mr = rows;
                }
                g->fn(&t, e);
            }
            if (kc == 0) break; /* K == 0: one pass for the epilogue */
        }
    }
}

static void gemm_tasks(void *arg, size_t begin, size_t end) {
    const gemm_run *g = arg;
    for (size_t i = begin; i < end; i++) {
        int tm = (int)(i / (size_t)g->tasks_n), tn = (int)(i % (size_t)g->tasks_n);
        int m_lo = tm * g->m_step, n_lo = tn * g->n_step;
        int m_hi = m_lo + g->m_step < g->M ? m_lo + g->m_step : g->M;
        int n_hi = n_lo + g->n_step < g->N ? n_lo + g->n_step : g->N;
        if (m_lo < m_hi && n_lo < n_hi) gemm_block(g, m_lo, m_hi, n_lo, n_hi);
    }
}

/* ---- without AVX2/AVX-512: OpenBLAS plus a post-pass ----
 * The portable tile kernel is an order of magnitude slower than OpenBLAS's
 * own kernels for other CPUs (e.g. NEON), so there the operands are put in
 * plain row-major form and handed to sgemm; the epilogue runs afterwards. */

static float b_at(const nn_gemm_opnd *b, int K, int k, int n) {
    if (b->packed)
        return b->p[(size_t)(n / NN_GEMM_PANEL) * (size_t)K * NN_GEMM_PANEL +
                    (size_t)k * NN_GEMM_PANEL + n % NN_GEMM_PANEL];
    ptrdiff_t col = b->seg > 0 ? (ptrdiff_t)(n / b->seg) * b->seg_stride + n % b->seg : n;
    return b->off ? b->p[b->off[k] + col] : b->p[k * b->rs + col * b->cs];
}

static bool gemm_blas(ml_threadpool *pool, int M, int N, int K, const nn_gemm_opnd *a,
                      const nn_gemm_opnd *b, float *c, ptrdiff_t ldc, const nn_gemm_epi *e) {
    if (ldc > INT32_MAX) return false; /* BLAS takes int strides */
    float *ta = NULL, *tb = NULL;
    const float *pa = a->p, *pb = b->p;
    bool trans_a = false;
    int lda = K, ldb = N;
    if (K > 0 &&
        (a->packed || (a->cs != 1 && a->rs != 1) || a->rs > INT32_MAX || a->cs > INT32_MAX)) {
        ta = malloc(sizeof(float) * (size_t)M * (size_t)K);
        if (!ta) return false;
        for (int m = 0; m < M; m++)
            for (int k = 0; k < K; k++)
                ta[(size_t)m * K + k] =
                    a->packed ? a->p[(size_t)(m / NN_GEMM_STRIP) * (size_t)K * NN_GEMM_STRIP +
                                     (size_t)k * NN_GEMM_STRIP + m % NN_GEMM_STRIP]
                              : a->p[m * a->rs + k * a->cs];
        pa = ta;
    } else if (a->cs == 1) {
        lda = (int)a->rs;
    } else {
        trans_a = true;
        lda = (int)a->cs;
    }
    bool trans_b = false;
    if (K > 0 && !b->packed && !b->off && b->seg <= 0 && b->rs == 1 && b->cs != 1 &&
        b->cs <= INT32_MAX) {
        trans_b = true; /* stored [N, K] */
        ldb = (int)b->cs;
    } else if (K > 0 && (b->packed || b->off || b->seg > 0 || b->cs != 1 || b->rs > INT32_MAX)) {
        tb = malloc(sizeof(float) * (size_t)K * (size_t)N);
        if (!tb) {
            free(ta);
            return false;
        }
        for (int k = 0; k < K; k++)
            for (int n = 0; n < N; n++) tb[(size_t)k * N + n] = b_at(b, K, k, n);
        pb = tb;
    } else {
        ldb = (int)b->rs;
    }
    /* a stride that is never stepped (one row) may be below BLAS's minimum */
    int min_lda = trans_a ? M : K, min_ldb = trans_b ? K : N;
    if (lda < min_lda) lda = min_lda;
    if (ldb < min_ldb) ldb = min_ldb;
    if (lda < 1) lda = 1;
    if (K > 0)
        nn_sgemm(pool, trans_a, trans_b, M, N, K, e->alpha, pa, lda, pb, ldb, 0.0f, c, (int)ldc);
    for (int m = 0; m < M; m++) {
        float *row = c + m * ldc;
        for (int n = 0; n < N; n++) {
            float v = K > 0 ? row[n] : 0.0f;
            if (e->cin && e->beta != 0.0f) v += e->beta * e->cin[m * e->ldcin + n];
            if (e->bias_col) v += e->bias_col[n];
            if (e->bias_row) v += e->bias_row[m];
            row[n] = v;
        }
        nn_act_apply(&e->act, row, (size_t)N);
    }
    free(ta);
    free(tb);
    return true;
}

void nn_gemm(ml_threadpool *pool, int M, int N, int K, const nn_gemm_opnd *a, const nn_gemm_opnd *b,
             float *c, ptrdiff_t ldc, const nn_gemm_epi *e) {
    if (M <= 0 || N <= 0) return;
    int isa = nn_gemm_isa();
    if (isa == 0 && gemm_blas(pool, M, N, K, a, b, c, ldc, e)) return;
    /* AVX2 only: one row with B in place is OpenBLAS's sgemv's (gemm_ops.c) */
    if (isa == 1 && M == 1 && !b->packed && !b->off && b->seg <= 0 &&
        gemm_blas(pool, M, N, K, a, b, c, ldc, e))
        return;
    /* a big transposed B that is not pre-packed (a weight above the packing
     * limit): BLAS reads it in place, where packing it per call would copy
     * hundreds of MB */
    if (!b->packed && !b->off && b->cs != 1 && (double)K * N > (double)(1 << 22) &&
        gemm_blas(pool, M, N, K, a, b, c, ldc, e))
        return;
    gemm_run g = {.M = M, .N = N, .K = K, .a = *a, .b = *b, .c = c, .ldc = ldc, .e = e, .kc = K};
    float *owned = NULL;
    if (!b->packed && !b->off && b->cs != 1 && K > 0) {
        /* columns not contiguous (a transposed B): pack it for this call */
        owned = malloc(sizeof(float) * nn_gemm_packb_floats(K, N));
        if (owned) {
            nn_gemm_packb(b->p, b->rs, b->cs, K, N, owned);
            g.b = (nn_gemm_opnd){.p = owned, .packed = true};
        }
    }
    if (!owned && !g.b.packed && !b->off && b->cs != 1 && K > 0)
        isa = -1; /* out of memory: slow path */
    switch (isa) {
#if defined(__x86_64__)
    case 2:
        g.fn = nn_tile_avx512;
        g.nr = 32;
        g.max_mr = NN_GEMM_STRIP;
        break;
    case 1:
        g.fn = M == 1 ? nn_tile_avx2_row : nn_tile_avx2;
        g.nr = M == 1 ? 32 : 16;
        g.max_mr = NN_TILE_AVX2_MR;
        break;
#endif
    default:
        g.fn = tile_c;
        g.nr = 16;
        g.max_mr = NN_GEMM_STRIP;
        break;
    }
    if (isa < 0) {
        /* no contiguous columns and no memory to pack: one column at a time
         * through the portable kernel, which reads B with any row stride */
        for (int n = 0; n < N; n++) {
            nn_gemm_opnd col = {.p = b->p + n * b->cs, .rs = b->rs, .cs = 1};
            gemm_run one = g;
            one.b = col;
            one.N = 1;
            one.nr = 1;
            one.fn = tile_c;
            nn_gemm_epi ee = *e;
            if (ee.bias_col) ee.bias_col += n;
            if (ee.cin) ee.cin += n;
            one.e = &ee;
            one.c = c + n;
            gemm_block(&one, 0, M, 0, 1);
        }
        return;
    }
    if (K > NN_GEMM_KC_MIN && M > g.max_mr) {
        int chunks = (K + NN_GEMM_KC - 1) / NN_GEMM_KC;
        g.kc = (K + chunks - 1) / chunks;
        g.e_first = *e;
        g.e_first.act = (nn_act){NN_ACT_NONE, 0.0f, 0.0f};
        g.e_mid = (nn_gemm_epi){.alpha = e->alpha, .beta = 1.0f, .cin = c, .ldcin = ldc};
        g.e_last = g.e_mid;
        g.e_last.act = e->act;
    }
    size_t threads = ml_threadpool_size(pool);
    double work = (double)M * (double)N * (double)(K > 0 ? K : 1);
    int units_m = (M + NN_GEMM_STRIP - 1) / NN_GEMM_STRIP;
    int units_n = (N + NN_GEMM_PANEL - 1) / NN_GEMM_PANEL;
    int tasks_m = 1, tasks_n = 1;
    /* a few rows (batch-1 dense layers) stream B from L2/L3 at well below
     * FMA speed: worth splitting from an eighth of the usual threshold (inside a
     * model the pool thread is usually still polling, so the hand-off is cheap) */
    double par_min = M <= 4 ? NN_GEMM_PAR_MIN / 8 : NN_GEMM_PAR_MIN;
    if (threads > 1 && work >= par_min) {
        /* two tasks per thread let one slowed by other requests hand work
         * over; columns first, since each column block reads its own part of
         * the packed B once */
        int want = (int)threads * 2;
        tasks_n = units_n < want ? units_n : want;
        int rest = (want + tasks_n - 1) / tasks_n;
        tasks_m = units_m < rest ? units_m : rest;
    }
    int per_n = (units_n + tasks_n - 1) / tasks_n, per_m = (units_m + tasks_m - 1) / tasks_m;
    g.n_step = per_n * NN_GEMM_PANEL;
    g.m_step = per_m * NN_GEMM_STRIP;
    g.tasks_n = (N + g.n_step - 1) / g.n_step;
    g.tasks_m = (M + g.m_step - 1) / g.m_step;
    size_t ntask = (size_t)g.tasks_n * (size_t)g.tasks_m;
    if (ntask <= 1)
        gemm_block(&g, 0, M, 0, N);
    else
        ml_parallel_for(pool, ntask, 1, gemm_tasks, &g);
    free(owned);
}
