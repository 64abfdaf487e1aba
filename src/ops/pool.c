/* MaxPool (Indices output, dilations, ceil_mode, storage_order),
 * AveragePool (count_include_pad), LpPool, the Global* pools and MaxUnpool.
 * All compute in float32 (int8/uint8/float16/bfloat16/double are converted,
 * which is exact for the 8-bit types). Work is split over N*C planes. */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ops/families.h"
#include "ops/nn_util.h"

enum { POOL_MAX, POOL_AVG, POOL_LP };

typedef struct pool_job {
    const nn_geom *g;
    int kind;
    bool count_pad; /* AveragePool count_include_pad */
    float p;        /* LpPool norm */
    bool col_major; /* MaxPool storage_order 1 */
    const float *x;
    float *y;
    int64_t *ind; /* MaxPool Indices, or NULL */
    int64_t in_sp, out_sp;
} pool_job;

/* Per output position along one dim: window start, valid kernel range
 * [lo, hi) and the kernel extent counted with padding (count_include_pad). */
typedef struct pool_range {
    int64_t st, lo, hi, hp;
} pool_range;

static void pool_ranges_one(const nn_geom *g, int i, int64_t o, pool_range *r) {
    int64_t d = g->d[i];
    int64_t st = o * g->s[i] - g->pb[i];
    int64_t lo = st < 0 ? (-st + d - 1) / d : 0;
    int64_t h = (g->in[i] - st + d - 1) / d;
    int64_t hi = h < g->k[i] ? h : g->k[i];
    int64_t hp = (g->in[i] + g->pe[i] - st + d - 1) / d;
    *r = (pool_range){st, lo, hi < lo ? lo : hi, hp > g->k[i] ? g->k[i] : (hp > 0 ? hp : 0)};
}

static void pool_ranges(const nn_geom *g, int i, pool_range *r) {
    for (int64_t o = 0; o < g->out[i]; o++) pool_ranges_one(g, i, o, &r[o]);
}

/* 2-D max/average without Indices: the common CNN case. Loops run along
 * the output row for each kernel tap, so consecutive outputs are independent
 * (no max/add dependency chain through a window). */
/* MaxPool 2x2 stride 2 with every window inside the input (the classic CNN
 * downsampler): no tables, no border passes. Same comparison order as the
 * general path below, so NaN handling is identical. */
#if defined(__x86_64__)
#include <immintrin.h>

/* A 2x2/2 max-pool row pair with AVX-512, 16 outputs per step and a masked
 * last step (nothing read past column 2*OW - 1 <= W - 1): the even and odd
 * columns are separated with permutes, then the same max order as the
 * scalar loop (maxps(a, b) is exactly a > b ? a : b, NaN included). */
__attribute__((target("avx512f"))) static void max2x2_row_avx512(const float *r0, const float *r1,
                                                                 float *yr, int64_t OW) {
    const __m512i ev = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i od = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
    const __m512 ninf = _mm512_set1_ps(-INFINITY);
    for (int64_t ow = 0; ow < OW; ow += 16) {
        int64_t n = OW - ow < 16 ? OW - ow : 16; /* outputs in this step */
        __mmask16 m0 = n >= 8 ? 0xffff : (__mmask16)((1u << (2 * n)) - 1);
        __mmask16 m1 = n >= 16 ? 0xffff : (n > 8 ? (__mmask16)((1u << (2 * n - 16)) - 1) : 0);
        __mmask16 mo = n >= 16 ? 0xffff : (__mmask16)((1u << n) - 1);
        __m512 a0 = _mm512_maskz_loadu_ps(m0, r0 + 2 * ow);
        __m512 a1 = _mm512_maskz_loadu_ps(m1, r0 + 2 * ow + 16);
        __m512 b0 = _mm512_maskz_loadu_ps(m0, r1 + 2 * ow);
        __m512 b1 = _mm512_maskz_loadu_ps(m1, r1 + 2 * ow + 16);
        __m512 a =
            _mm512_max_ps(_mm512_permutex2var_ps(a0, ev, a1), _mm512_permutex2var_ps(a0, od, a1));
        __m512 v = _mm512_max_ps(a, ninf);
        __m512 b =
            _mm512_max_ps(_mm512_permutex2var_ps(b0, ev, b1), _mm512_permutex2var_ps(b0, od, b1));
        _mm512_mask_storeu_ps(yr + ow, mo, _mm512_max_ps(b, v));
    }
}
#endif

static bool pool2d_max2x2(const pool_job *j, size_t begin, size_t end) {
    const nn_geom *g = j->g;
    if (j->kind != POOL_MAX || g->k[0] != 2 || g->k[1] != 2 || g->s[0] != 2 || g->s[1] != 2 ||
        g->d[0] != 1 || g->d[1] != 1 || g->pb[0] != 0 || g->pb[1] != 0 ||
        2 * g->out[0] > g->in[0] || 2 * g->out[1] > g->in[1])
        return false;
    int64_t W = g->in[1], OH = g->out[0], OW = g->out[1];
#if defined(__x86_64__)
    bool wide = __builtin_cpu_supports("avx512f");
#endif
    for (size_t plane = begin; plane < end; plane++) {
        const float *xp = j->x + (int64_t)plane * j->in_sp;
        float *yp = j->y + (int64_t)plane * j->out_sp;
        for (int64_t oh = 0; oh < OH; oh++) {
            const float *r0 = xp + 2 * oh * W, *r1 = r0 + W;
            float *yr = yp + oh * OW;
#if defined(__x86_64__)
            if (wide) {
                max2x2_row_avx512(r0, r1, yr, OW);
                continue;
            }
#endif
            for (int64_t ow = 0; ow < OW; ow++) {
                float a = r0[2 * ow] > r0[2 * ow + 1] ? r0[2 * ow] : r0[2 * ow + 1];
                float v = a > -INFINITY ? a : -INFINITY;
                float b = r1[2 * ow] > r1[2 * ow + 1] ? r1[2 * ow] : r1[2 * ow + 1];
                yr[ow] = b > v ? b : v;
            }
        }
    }
    return true;
}

static bool pool2d_fast(const pool_job *j, size_t begin, size_t end) {
    const nn_geom *g = j->g;
    /* huge (hostile) kernels take the generic path: it needs no per-tap tables */
    if (g->nsp != 2 || j->ind || j->kind == POOL_LP || g->k[1] > 4096) return false;
    if (pool2d_max2x2(j, begin, end)) return true;
    int64_t OH = g->out[0], OW = g->out[1];
    pool_range *rh = malloc(sizeof(pool_range) * (size_t)(OH + OW + 1));
    /* per kernel column kw: the outputs [ow0, ow1) whose tap lands inside */
    int64_t *owr = malloc(sizeof(int64_t) * (size_t)(2 * g->k[1] + 1));
    if (!rh || !owr) {
        free(rh);
        free(owr);
        return false;
    }
    pool_range *rw = rh + OH;
    pool_ranges(g, 0, rh);
    pool_ranges(g, 1, rw);
    int64_t W = g->in[1], dh = g->d[0], dw = g->d[1], sw = g->s[1], pw = g->pb[1];
    for (int64_t kw = 0; kw < g->k[1]; kw++) {
        int64_t off = kw * dw - pw; /* iw = ow * sw + off */
        int64_t ow0 = off >= 0 ? 0 : (-off + sw - 1) / sw;
        int64_t ow1 = W - off > 0 ? (W - off + sw - 1) / sw : 0;
        if (ow1 > OW) ow1 = OW;
        if (ow0 > ow1) ow0 = ow1;
        owr[2 * kw] = ow0;
        owr[2 * kw + 1] = ow1;
    }
    /* interior outputs [owA, owB): every kernel column lands inside the row */
    int64_t owA = 0, owB = OW;
    for (int64_t kw = 0; kw < g->k[1]; kw++) {
        owA = owr[2 * kw] > owA ? owr[2 * kw] : owA;
        owB = owr[2 * kw + 1] < owB ? owr[2 * kw + 1] : owB;
    }
    if (owB < owA) owB = owA;
    int64_t owA_off = -pw; /* window start column = ow * sw - pw (>= 0 inside) */
    bool is_max = j->kind == POOL_MAX;
    for (size_t plane = begin; plane < end; plane++) {
        const float *xp = j->x + (int64_t)plane * j->in_sp;
        float *yp = j->y + (int64_t)plane * j->out_sp;
        for (int64_t oh = 0; oh < OH; oh++) {
            const pool_range *a = &rh[oh];
            float *yr = yp + oh * OW;
            float init = is_max ? -INFINITY : 0.0f;
            for (int64_t ow = 0; ow < OW; ow++) yr[ow] = init;
            for (int64_t kh = a->lo; kh < a->hi; kh++) {
                const float *row = xp + (a->st + kh * dh) * W;
                if (sw != 1 && owA < owB) {
                    /* strided interior: all taps of a window in one pass */
                    int64_t KW = g->k[1];
                    if (KW == 3 && is_max) { /* the ubiquitous 3x3/2: a tree, not a chain */
                        for (int64_t ow = owA; ow < owB; ow++) {
                            const float *w0 = row + ow * sw + owA_off;
                            float m0 = w0[0] > w0[dw] ? w0[0] : w0[dw];
                            float m1 = w0[2 * dw] > yr[ow] ? w0[2 * dw] : yr[ow];
                            yr[ow] = m0 > m1 ? m0 : m1;
                        }
                    } else if (KW == 2 && is_max) {
                        for (int64_t ow = owA; ow < owB; ow++) {
                            const float *w0 = row + ow * sw + owA_off;
                            float m0 = w0[0] > w0[dw] ? w0[0] : w0[dw];
                            yr[ow] = m0 > yr[ow] ? m0 : yr[ow];
                        }
                    } else {
                        for (int64_t ow = owA; ow < owB; ow++) {
                            const float *w0 = row + ow * sw + owA_off;
                            float v = yr[ow];
                            if (is_max)
                                for (int64_t kw = 0; kw < KW; kw++)
                                    v = w0[kw * dw] > v ? w0[kw * dw] : v;
                            else
                                for (int64_t kw = 0; kw < KW; kw++) v += w0[kw * dw];
                            yr[ow] = v;
                        }
                    }
                }
                for (int64_t kw = 0; kw < g->k[1]; kw++) {
                    int64_t ow0 = owr[2 * kw], ow1 = owr[2 * kw + 1];
                    int64_t off = kw * dw - pw; /* iw = ow * sw + off >= 0 in [ow0, ow1) */
                    /* with the interior done above, only the borders remain */
                    int64_t segs[2][2] = {{ow0, ow1}, {0, 0}};
                    if (sw != 1 && owA < owB) {
                        segs[0][1] = ow1 < owA ? ow1 : owA;
                        segs[1][0] = ow0 > owB ? ow0 : owB;
                        segs[1][1] = ow1;
                    }
                    for (int sgi = 0; sgi < 2; sgi++) {
                        int64_t b0 = segs[sgi][0], b1 = segs[sgi][1];
                        if (is_max) {
                            if (sw == 1)
                                for (int64_t ow = b0; ow < b1; ow++)
                                    yr[ow] = row[ow + off] > yr[ow] ? row[ow + off] : yr[ow];
                            else
                                for (int64_t ow = b0; ow < b1; ow++)
                                    yr[ow] =
                                        row[ow * sw + off] > yr[ow] ? row[ow * sw + off] : yr[ow];
                        } else {
                            if (sw == 1)
                                for (int64_t ow = b0; ow < b1; ow++) yr[ow] += row[ow + off];
                            else
                                for (int64_t ow = b0; ow < b1; ow++) yr[ow] += row[ow * sw + off];
                        }
                    }
                }
            }
            int64_t ch = a->hi - a->lo;
            for (int64_t ow = 0; ow < OW; ow++) {
                int64_t cnt = ch * (rw[ow].hi - rw[ow].lo);
                if (is_max) {
                    if (cnt == 0) yr[ow] = -FLT_MAX; /* a window entirely in the padding */
                } else {
                    int64_t div = j->count_pad ? a->hp * rw[ow].hp : cnt;
                    yr[ow] = div > 0 ? yr[ow] / (float)div : 0.0f;
                }
            }
        }
    }
    free(rh);
    free(owr);
    return true;
}

static void pool_planes(void *arg, size_t begin, size_t end) {
    const pool_job *j = arg;
    const nn_geom *g = j->g;
    if (pool2d_fast(j, begin, end)) return;
    int nsp = g->nsp, L = nsp - 1;
    int64_t instride[ML_MAX_RANK], cmstride[ML_MAX_RANK];
    int64_t acc = 1;
    for (int i = L; i >= 0; i--) {
        instride[i] = acc;
        acc *= g->in[i];
    }
    acc = 1;
    for (int i = 0; i <= L; i++) {
        cmstride[i] = acc;
        acc *= g->in[i];
    }
    /* per-dim window ranges, computed once instead of per output */
    int64_t total = 0;
    for (int i = 0; i <= L; i++) total += g->out[i];
    pool_range *tab = malloc(sizeof(pool_range) * (size_t)(total + 1));
    const pool_range *rng[ML_MAX_RANK];
    if (tab) {
        pool_range *t = tab;
        for (int i = 0; i <= L; i++) {
            pool_ranges(g, i, t);
            rng[i] = t;
            t += g->out[i];
        }
    }
    for (size_t plane = begin; plane < end; plane++) {
        const float *xp = j->x + (int64_t)plane * j->in_sp;
        float *yp = j->y + (int64_t)plane * j->out_sp;
        int64_t *ip = j->ind ? j->ind + (int64_t)plane * j->out_sp : NULL;
        int64_t oi[ML_MAX_RANK] = {0};
        for (int64_t o = 0; o < j->out_sp; o++) {
            int64_t st[ML_MAX_RANK], lo[ML_MAX_RANK], hi[ML_MAX_RANK];
            int64_t cnt = 1, cnt_pad = 1;
            for (int i = 0; i <= L; i++) {
                pool_range r;
                if (tab)
                    r = rng[i][oi[i]];
                else
                    pool_ranges_one(g, i, oi[i], &r); /* no memory for the table */
                st[i] = r.st;
                lo[i] = r.lo;
                hi[i] = r.hi;
                cnt *= hi[i] - lo[i];
                cnt_pad *= r.hp;
            }
            float result = 0.0f;
            int64_t best_idx = 0;
            if (cnt > 0) {
                int64_t kc[ML_MAX_RANK];
                for (int i = 0; i < L; i++) kc[i] = lo[i];
                float best = -INFINITY, sum = 0.0f;
                bool have = false;
                int64_t dl = g->d[L];
                for (;;) {
                    int64_t base = 0;
                    for (int i = 0; i < L; i++) base += (st[i] + kc[i] * g->d[i]) * instride[i];
                    const float *row = xp + base; /* element st[L] + k * dl, >= 0 for k >= lo */
                    if (j->kind == POOL_MAX) {
                        for (int64_t k = lo[L]; k < hi[L]; k++) {
                            float v = row[st[L] + k * dl];
                            if (!have || v > best) {
                                have = true;
                                best = v;
                                if (ip) {
                                    int64_t idx = 0;
                                    if (j->col_major) {
                                        for (int i = 0; i < L; i++)
                                            idx += (st[i] + kc[i] * g->d[i]) * cmstride[i];
                                        idx += (st[L] + k * dl) * cmstride[L];
                                    } else {
                                        idx = base + st[L] + k * dl;
                                    }
                                    best_idx = idx;
                                }
                            }
                        }
                    } else if (j->kind == POOL_AVG) {
                        for (int64_t k = lo[L]; k < hi[L]; k++) sum += row[st[L] + k * dl];
                    } else if (j->p == 2.0f) {
                        for (int64_t k = lo[L]; k < hi[L]; k++)
                            sum += row[st[L] + k * dl] * row[st[L] + k * dl];
                    } else if (j->p == 1.0f) {
                        for (int64_t k = lo[L]; k < hi[L]; k++) sum += fabsf(row[st[L] + k * dl]);
                    } else {
                        for (int64_t k = lo[L]; k < hi[L]; k++)
                            sum += powf(fabsf(row[st[L] + k * dl]), j->p);
                    }
                    int i = L - 1;
                    for (; i >= 0; i--) {
                        if (++kc[i] < hi[i]) break;
                        kc[i] = lo[i];
                    }
                    if (i < 0) break;
                }
                if (j->kind == POOL_MAX)
                    result = best;
                else if (j->kind == POOL_AVG)
                    result = sum / (float)(j->count_pad ? cnt_pad : cnt);
                else if (j->p == 2.0f)
                    result = sqrtf(sum);
                else if (j->p == 1.0f)
                    result = sum;
                else
                    result = powf(sum, 1.0f / j->p);
            } else if (j->kind == POOL_MAX) {
                result = -FLT_MAX; /* a window entirely in the padding */
            }
            yp[o] = result;
            if (ip) ip[o] = (int64_t)plane * j->in_sp + best_idx;
            for (int i = L; i >= 0; i--) {
                if (++oi[i] < g->out[i]) break;
                oi[i] = 0;
            }
        }
    }
    free(tab);
}

static ml_status pool_run(ml_kernel_ctx *ctx, int kind) {
    const ml_node *node = ctx->node;
    const ml_tensor *x;
    ML_TRY(ml_require_input(ctx, 0, &x));
    bool int8 = x->dtype == ML_INT8 || x->dtype == ML_UINT8;
    if (!nn_is_float(x->dtype) && !(kind == POOL_MAX && int8))
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT, "unsupported input type %s",
                             ml_dtype_name(x->dtype));
    if (x->rank < 3)
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                             "X must have shape [N, C, D1, ...] (rank >= 3), got rank %d", x->rank);
    int nsp = x->rank - 2;
    const int64_t *ks;
    size_t nks = ml_attr_ints(node, "kernel_shape", &ks);
    if (nks != (size_t)nsp)
        return ml_node_error(
            node, ML_ERR_INVALID_ARGUMENT,
            "kernel_shape is required with %d values (one per spatial dim), got %zu", nsp, nks);
    bool ceil_mode = ml_attr_int(node, "ceil_mode", 0) != 0;
    nn_geom g;
    ML_TRY(nn_geom_init(node, nsp, x->dims + 2, ks, ceil_mode, &g));
    pool_job j = {.g = &g, .kind = kind};
    j.count_pad = ml_attr_int(node, "count_include_pad", 0) != 0;
    j.p = ml_attr_float(node, "p", 2.0f);
    if (kind == POOL_LP && !(j.p > 0.0f))
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT, "p must be positive, got %g",
                             (double)j.p);
    int64_t so = ml_attr_int(node, "storage_order", 0);
    if (so != 0 && so != 1)
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT, "storage_order must be 0 or 1");
    j.col_major = so == 1;
    int64_t dims[ML_MAX_RANK];
    dims[0] = x->dims[0];
    dims[1] = x->dims[1];
    for (int i = 0; i < nsp; i++) dims[2 + i] = g.out[i];
    ml_tensor *y, *ind = NULL;
    ML_TRY(ml_output_tensor(ctx, 0, x->dtype, x->rank, dims, &y));
    if (kind == POOL_MAX && ml_output_wanted(ctx, 1))
        ML_TRY(ml_output_tensor(ctx, 1, ML_INT64, x->rank, dims, &ind));
    j.in_sp = nn_prod(nsp, g.in);
    j.out_sp = nn_prod(nsp, g.out);
    j.ind = ind ? ind->data : NULL;
    const float *fx = NULL;
    float *ox = NULL, *fy = NULL, *oy = NULL;
    ML_TRY(nn_f32_view(node, x, &fx, &ox));
    ml_status st = nn_f32_target(node, y, &fy, &oy);
    if (!st) {
        j.x = fx;
        j.y = fy;
        size_t planes = (size_t)(x->dims[0] * x->dims[1]);
        size_t chunk = (size_t)(16384 / (j.out_sp + 1)) + 1;
        ml_parallel_for(ctx->pool, planes, chunk, pool_planes, &j);
        nn_f32_commit(y, oy);
    }
    free(ox);
    return st;
}

static ml_status maxpool_run(ml_kernel_ctx *ctx) {
    return pool_run(ctx, POOL_MAX);
}
static ml_status avgpool_run(ml_kernel_ctx *ctx) {
    return pool_run(ctx, POOL_AVG);
}
static ml_status lppool_run(ml_kernel_ctx *ctx) {
    return pool_run(ctx, POOL_LP);
}

/* ---- Global pools ---- */

typedef struct gpool_job {
    int kind;
    float p;
    const float *x;
    float *y;
    int64_t sp;
} gpool_job;

static void gpool_planes(void *arg, size_t begin, size_t end) {
    const gpool_job *j = arg;
    for (size_t plane = begin; plane < end; plane++) {
        const float *xp = j->x + (int64_t)plane * j->sp;
        float r;
        if (j->kind == POOL_MAX) {
            r = j->sp ? xp[0] : -FLT_MAX;
            for (int64_t i = 1; i < j->sp; i++) r = xp[i] > r ? xp[i] : r;
        } else if (j->kind == POOL_AVG) {
            r = j->sp ? (float)(nn_sum_f32(xp, j->sp) / (double)j->sp) : 0.0f;
        } else {
            double s = 0;
            for (int64_t i = 0; i < j->sp; i++) s += pow(fabs((double)xp[i]), j->p);
            r = (float)pow(s, 1.0 / j->p);
        }
        j->y[plane] = r;
    }
}

static ml_status global_pool_run(ml_kernel_ctx *ctx, int kind) {
    const ml_node *node = ctx->node;
    const ml_tensor *x;
    ML_TRY(ml_require_input(ctx, 0, &x));
    if (!nn_is_float(x->dtype))
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT, "unsupported input type %s",
                             ml_dtype_name(x->dtype));
    if (x->rank < 2)
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                             "X must have shape [N, C, D...] (rank >= 2), got rank %d", x->rank);
    gpool_job j = {.kind = kind, .p = ml_attr_float(node, "p", 2.0f)};
    if (kind == POOL_LP && !(j.p > 0.0f))
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT, "p must be positive");
    int64_t dims[ML_MAX_RANK];
    dims[0] = x->dims[0];
    dims[1] = x->dims[1];
    for (int i = 2; i < x->rank; i++) dims[i] = 1;
    j.sp = nn_prod(x->rank - 2, x->dims + 2);
    ml_tensor *y;
    ML_TRY(ml_output_tensor(ctx, 0, x->dtype, x->rank, dims, &y));
    const float *fx = NULL;
    float *ox = NULL, *fy = NULL, *oy = NULL;
    ML_TRY(nn_f32_view(node, x, &fx, &ox));
    ml_status st = nn_f32_target(node, y, &fy, &oy);
    if (!st) {
        j.x = fx;
        j.y = fy;
        /* at least 64 Ki floats per chunk: the 32 x 32 x 32 average of the
         * ResNet bench model, just written by two threads, took 13.6 us on
         * one thread and 18.7 us split over two (measured) */
        size_t chunk = (size_t)(65536 / (j.sp + 1)) + 1;
        ml_parallel_for(ctx->pool, (size_t)(x->dims[0] * x->dims[1]), chunk, gpool_planes, &j);
        nn_f32_commit(y, oy);
    }
    free(ox);
    return st;
}

static ml_status gmaxpool_run(ml_kernel_ctx *ctx) {
    return global_pool_run(ctx, POOL_MAX);
}
static ml_status gavgpool_run(ml_kernel_ctx *ctx) {
    return global_pool_run(ctx, POOL_AVG);
}
static ml_status glppool_run(ml_kernel_ctx *ctx) {
    return global_pool_run(ctx, POOL_LP);
}

/* ---- MaxUnpool ---- */

static ml_status maxunpool_run(ml_kernel_ctx *ctx) {
    const ml_node *node = ctx->node;
    const ml_tensor *x, *ind, *oshape = ml_input(ctx, 2);
    ML_TRY(ml_require_input(ctx, 0, &x));
    ML_TRY(ml_require_input(ctx, 1, &ind));
    if (x->rank < 3)
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT, "X must have rank >= 3, got %d",
                             x->rank);
    if (ind->dtype != ML_INT64 || !ml_shape_equal(ind->rank, ind->dims, x->rank, x->dims))
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT, "I must be int64 with the shape of X");
    int nsp = x->rank - 2;
    /* Indices address the default unpooled shape; an explicit output_shape
     * only enlarges the tensor the values are placed in (ONNX reference). */
    int64_t ddims[ML_MAX_RANK], dims[ML_MAX_RANK];
    ddims[0] = dims[0] = x->dims[0];
    ddims[1] = dims[1] = x->dims[1];
    const int64_t *ks, *st, *pads;
    size_t nks = ml_attr_ints(node, "kernel_shape", &ks), nst = ml_attr_ints(node, "strides", &st),
           np = ml_attr_ints(node, "pads", &pads);
    if (nks != (size_t)nsp || (nst && nst != (size_t)nsp) || (np && np != 2 * (size_t)nsp))
        return ml_node_error(
            node, ML_ERR_INVALID_ARGUMENT,
            "kernel_shape (required), strides and pads must match the %d spatial dims", nsp);
    for (int i = 0; i < nsp; i++) {
        int64_t s = nst ? st[i] : 1, pb = np ? pads[i] : 0, pe = np ? pads[i + nsp] : 0;
        if (s < 1 || ks[i] < 1 || pb < 0 || pe < 0 || s > NN_MAX_SPATIAL ||
            ks[i] > NN_MAX_SPATIAL || pb > NN_MAX_SPATIAL || pe > NN_MAX_SPATIAL ||
            x->dims[2 + i] > NN_MAX_SPATIAL)
            return ml_node_error(node, ML_ERR_INVALID_ARGUMENT, "invalid kernel/stride/pads");
        int64_t v = (x->dims[2 + i] - 1) * s + ks[i] - pb - pe;
        ddims[2 + i] = dims[2 + i] = v < 0 ? 0 : v;
    }
    if (oshape) {
        if (oshape->dtype != ML_INT64 || oshape->rank != 1 || oshape->dims[0] != x->rank)
            return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                                 "output_shape must be a 1-D int64 tensor of %d values", x->rank);
        const int64_t *os = oshape->data;
        for (int i = 0; i < x->rank; i++) {
            if (os[i] < 0 || os[i] > NN_MAX_SPATIAL || (i < 2 && os[i] != x->dims[i]))
                return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                                     "output_shape[%d]=%lld is invalid for X", i, (long long)os[i]);
            dims[i] = os[i];
        }
    }
    if (x->dtype == ML_STRING)
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT, "string tensors are not supported");
    ml_tensor *y;
    ML_TRY(ml_output_tensor(ctx, 0, x->dtype, x->rank, dims, &y));
    size_t total = ml_tensor_numel(y), esz = ml_dtype_size(x->dtype), n = ml_tensor_numel(x);
    size_t dtotal;
    if (!ml_shape_numel(x->rank, ddims, &dtotal))
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT, "the unpooled shape is too large");
    bool same = ml_shape_equal(x->rank, ddims, x->rank, dims);
    memset(y->data, 0, total * esz);
    const int64_t *I = ind->data;
    for (size_t e = 0; e < n; e++) {
        if (I[e] < 0 || (uint64_t)I[e] >= dtotal)
            return ml_node_error(
                node, ML_ERR_INVALID_ARGUMENT,
                "index %lld at position %zu is outside the %zu-element unpooled shape",
                (long long)I[e], e, dtotal);
        size_t dst = (size_t)I[e];
        if (!same) { /* re-address the coordinates in the output shape */
            int64_t rem = I[e], coord[ML_MAX_RANK];
            for (int d = x->rank - 1; d >= 0; d--) {
                coord[d] = rem % ddims[d];
                rem /= ddims[d];
            }
            int64_t off = 0;
            bool fits = true;
            for (int d = 0; d < x->rank; d++) {
                if (coord[d] >= dims[d]) fits = false;
                off = off * dims[d] + coord[d];
            }
            if (!fits) continue; /* outside a smaller output_shape */
            dst = (size_t)off;
        }
        memcpy((char *)y->data + dst * esz, (const char *)x->data + e * esz, esz);
    }
    return ML_STATUS_OK;
}

static ml_status pool_init(const ml_node *node, void **state) {
    *state = NULL;
    return nn_check_spatial_attrs(node, true);
}

const ml_kernel ml_kernels_pool[] = {
    {"", "MaxPool", 1, 0, pool_init, NULL, maxpool_run},
    {"", "AveragePool", 1, 0, pool_init, NULL, avgpool_run},
    {"", "LpPool", 1, 0, pool_init, NULL, lppool_run},
    {"", "GlobalMaxPool", 1, 0, NULL, NULL, gmaxpool_run},
    {"", "GlobalAveragePool", 1, 0, NULL, NULL, gavgpool_run},
    {"", "GlobalLpPool", 1, 0, NULL, NULL, glppool_run},
    {"", "MaxUnpool", 9, 0, NULL, NULL, maxunpool_run},
    {0},
};
