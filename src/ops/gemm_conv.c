/* Implicit-GEMM convolution (see conv_internal.h, nn_conv_shift_run): the
 * GEMM of gemm_fast.h reads shifted rows of a padded (and, for strides,
 * phase-split) copy of the input instead of an im2col matrix. */
#include <stdlib.h>
#include <string.h>

#include "ops/conv_internal.h"
#include "ops/gemm_fast.h"

/* ---- implicit GEMM for 2-D convs ----
 * The input is copied once into a zero-padded plane (Hp x Wp per channel);
 * with stride s (per dim) it is also split into s_h * s_w phase planes of
 * Hq x Wq (padded row r, column q go to phase (r % s_h, q % s_w) at
 * (r / s_h, q / s_w)). Then output (oh, ow) at virtual column n = oh*Wq + ow
 * reads, for reduction row (c, kh, kw), element n + off[c, kh, kw] of the
 * copy: every B row of the GEMM is a shifted view of it, read in place
 * (nn_gemm_opnd.off), and no im2col matrix is built. Virtual columns with
 * ow >= OW are never computed when output rows are GEMM segments, else they
 * are computed into a temporary and dropped on the copy out. */

typedef struct conv_shift {
    const nn_conv_dims *cd;
    const float *x, *wp, *b, *z;
    float *y;
    const nn_act *act;
    size_t wp_group;
    const ptrdiff_t *off;
    int64_t Hq, Wq, Nv;   /* phase plane size, virtual GEMM columns */
    ml_threadpool *inner; /* splits each GEMM (few slices), else NULL */
    int failed;
} conv_shift;

/* Output rows as GEMM column segments (tiles end at each row's end) when
 * rows fill the 32-wide tiles almost exactly; else whole virtual rows are
 * computed into a temporary and the extra columns dropped on the copy out
 * (measured: for 28- and 56-wide rows the copy costs less than the masked
 * tail tiles of segments). */
static bool conv_shift_rows(int64_t OW) {
    return OW % 32 == 0 || OW % 32 >= 30;
}

static bool conv_shift_ok(const nn_conv_dims *cd, int64_t *Hq, int64_t *Wq, int64_t *Nv) {
    const nn_geom *g = &cd->g;
    if (g->nsp != 2 || g->s[0] > 4 || g->s[1] > 4) return false;
    int64_t Hp = g->in[0] + g->pb[0] + g->pe[0], Wp = g->in[1] + g->pb[1] + g->pe[1];
    int64_t sh = g->s[0], sw = g->s[1], OH = g->out[0], OW = g->out[1];
    *Hq = (Hp + sh - 1) / sh;
    *Wq = (Wp + sw - 1) / sw;
    /* every tap of every output inside the copy (see the comment above) */
    if (OH < 1 || OW < 1 || (OH - 1) * sh + (g->k[0] - 1) * g->d[0] > Hp - 1 ||
        (OW - 1) * sw + (g->k[1] - 1) * g->d[1] > Wp - 1)
        return false;
    /* saturating products: hostile pads/dilations make these huge */
    int64_t cap = (int64_t)(NN_CONV_SCRATCH_KEEP / sizeof(float));
    int64_t copy = nn_mul_sat(nn_mul_sat(cd->Cg, sh * sw), nn_mul_sat(*Hq, *Wq));
    if (copy > cap || nn_mul_sat(OH, *Wq) > cap) return false;
    *Nv = (OH - 1) * *Wq + OW;
    int64_t tmp = conv_shift_rows(OW) ? 0 : nn_mul_sat(cd->Mg, *Nv);
    return tmp <= cap && copy + tmp <= cap;
}

typedef struct shift_copy {
    const conv_shift *a;
    const float *xg;
    float *xp;
    int64_t plane;
} shift_copy;

/* Channels [begin, end) of one slice into the zero-padded (phase) planes. */
static void shift_copy_channels(void *arg, size_t begin, size_t end) {
    const shift_copy *s = arg;
    const nn_conv_dims *cd = s->a->cd;
    const nn_geom *g = &cd->g;
    const float *xg = s->xg;
    float *xp = s->xp;
    int64_t Hq = s->a->Hq, Wq = s->a->Wq, plane = s->plane;
    int64_t H = g->in[0], W = g->in[1];
    int64_t sh = g->s[0], sw = g->s[1];
    for (int64_t c = (int64_t)begin; c < (int64_t)end; c++) {
        float *pc = xp + c * plane;
        const float *xc = xg + c * cd->in_sp;
        if (sh == 1 && sw == 1) {
            memset(pc, 0, sizeof(float) * (size_t)(g->pb[0] * Wq));
            for (int64_t h = 0; h < H; h++) {
                float *row = pc + (g->pb[0] + h) * Wq;
                for (int64_t i = 0; i < g->pb[1]; i++) row[i] = 0.0f;
                memcpy(row + g->pb[1], xc + h * W, sizeof(float) * (size_t)W);
                for (int64_t i = g->pb[1] + W; i < Wq; i++) row[i] = 0.0f;
            }
            memset(pc + (g->pb[0] + H) * Wq, 0, sizeof(float) * (size_t)((Hq - g->pb[0] - H) * Wq));
            continue;
        }
        memset(pc, 0, sizeof(float) * (size_t)plane);
        for (int64_t h = 0; h < H; h++) {
            int64_t r = h + g->pb[0];
            float *prow = pc + ((r % sh) * sw * Hq + r / sh) * Wq;
            const float *xr = xc + h * W;
            /* one column phase at a time: input columns w0, w0 + sw, ...
             * land side by side in that phase's row */
            for (int64_t w0 = 0; w0 < sw && w0 < W; w0++) {
                int64_t q0 = w0 + g->pb[1];
                float *dst = prow + (q0 % sw) * Hq * Wq + q0 / sw;
                for (int64_t w = w0, j = 0; w < W; w += sw, j++) dst[j] = xr[w];
            }
        }
    }
}

NN_INLINE_LOOPS static void conv_shift_slice(conv_shift *a, int64_t sl, ml_threadpool *pool) {
    const nn_conv_dims *cd = a->cd;
    const nn_geom *g = &cd->g;
    int64_t n = sl / cd->G, gi = sl % cd->G, Hq = a->Hq, Wq = a->Wq, Nv = a->Nv;
    int64_t OH = g->out[0], OW = g->out[1];
    int64_t sh = g->s[0], sw = g->s[1], plane = sh * sw * Hq * Wq;
    int64_t rows = cd->Cg * cd->kvol;
    bool by_rows = conv_shift_rows(OW);
    float *xp =
        nn_conv_scratch(sizeof(float) * (size_t)(cd->Cg * plane + (by_rows ? 0 : cd->Mg * Nv)));
    if (!xp) {
        __atomic_store_n(&a->failed, 1, __ATOMIC_RELAXED);
        return;
    }
    float *tmp = by_rows ? NULL : xp + cd->Cg * plane;
    const float *xg = a->x + (n * cd->C + gi * cd->Cg) * cd->in_sp;
    /* the padded copy is serial work ahead of the GEMM: on the pool when it
     * is big enough to be worth a hand-off (batch 1, where slices are few) */
    shift_copy cp = {a, xg, xp, plane};
    size_t floats = (size_t)(cd->Cg * plane);
    if (pool && floats >= 32768)
        ml_parallel_for(pool, (size_t)cd->Cg, 1, shift_copy_channels, &cp);
    else
        shift_copy_channels(&cp, 0, (size_t)cd->Cg);
    int64_t yoff = (n * cd->M + gi * cd->Mg) * cd->out_sp;
    const float *zs = a->z ? a->z + yoff : NULL;
    nn_gemm_opnd A = {.p = a->wp + (size_t)gi * a->wp_group, .packed = true};
    nn_gemm_opnd B = {.p = xp, .off = a->off, .cs = 1};
    nn_gemm_epi e = {.alpha = 1.0f, .bias_row = a->b ? a->b + gi * cd->Mg : NULL};
    float *ys = a->y + yoff;
    if (by_rows) {
        /* straight into Y: segment = one output row of OW, Wq apart */
        B.seg = (int)OW;
        B.seg_stride = Wq;
        e.act = *a->act;
        e.cin = zs;
        e.beta = 1.0f;
        e.ldcin = cd->out_sp;
        nn_gemm(pool, (int)cd->Mg, (int)cd->out_sp, (int)rows, &A, &B, ys, cd->out_sp, &e);
        return;
    }
    if (!zs) e.act = *a->act; /* else Z is added first, below */
    nn_gemm(pool, (int)cd->Mg, (int)Nv, (int)rows, &A, &B, tmp, Nv, &e);
    for (int64_t m = 0; m < cd->Mg; m++)
        for (int64_t oh = 0; oh < OH; oh++) {
            float *dst = ys + m * cd->out_sp + oh * OW;
            const float *src = tmp + m * Nv + oh * Wq;
            if (zs) {
                const float *zr = zs + m * cd->out_sp + oh * OW;
                for (int64_t ow = 0; ow < OW; ow++) dst[ow] = src[ow] + zr[ow];
                nn_act_apply(a->act, dst, (size_t)OW);
            } else {
                memcpy(dst, src, sizeof(float) * (size_t)OW);
            }
        }
}

static void conv_shift_tasks(void *arg, size_t begin, size_t end) {
    conv_shift *a = arg;
    for (size_t sl = begin; sl < end; sl++) conv_shift_slice(a, (int64_t)sl, a->inner);
}

bool nn_conv_shift_run(ml_threadpool *pool, const nn_conv_dims *cd, const float *x, const float *wp,
                       size_t wp_group, const float *b, const float *z, const nn_act *act,
                       float *y) {
    int64_t Hq, Wq, Nv;
    nn_conv_dims as2d;
    if (cd->g.nsp == 1) {
        /* a 1-D conv is the 2-D one of height 1 (same data layout) */
        as2d = *cd;
        nn_geom *g2 = &as2d.g;
        const nn_geom *g1 = &cd->g;
        *g2 = (nn_geom){.nsp = 2,
                        .in = {1, g1->in[0]},
                        .k = {1, g1->k[0]},
                        .s = {1, g1->s[0]},
                        .d = {1, g1->d[0]},
                        .pb = {0, g1->pb[0]},
                        .pe = {0, g1->pe[0]},
                        .out = {1, g1->out[0]}};
        cd = &as2d;
    }
    /* OpenBLAS (no AVX2) cannot read shifted rows: it would get a gathered
     * copy as big as an unbanded im2col */
    if (nn_gemm_isa() == 0 || !conv_shift_ok(cd, &Hq, &Wq, &Nv)) return false;
    int64_t rows = cd->Cg * cd->kvol, slices = cd->N * cd->G;
    ptrdiff_t *off = malloc(sizeof(ptrdiff_t) * (size_t)rows + 1);
    if (!off) return false;
    const nn_geom *g = &cd->g;
    int64_t sh = g->s[0], sw = g->s[1];
    for (int64_t r = 0; r < rows; r++) {
        int64_t c = r / cd->kvol, kh = (r % cd->kvol) / g->k[1], kw = r % g->k[1];
        int64_t ph = kh * g->d[0], pw = kw * g->d[1]; /* tap offset in the padded plane */
        off[r] =
            (ptrdiff_t)(((c * sh + ph % sh) * sw + pw % sw) * Hq * Wq + (ph / sh) * Wq + pw / sw);
    }
    size_t threads = ml_threadpool_size(pool);
    conv_shift job = {cd, x, wp, b, z, y, act, wp_group, off, Hq, Wq, Nv, NULL, 0};
    if (threads > 1 && slices >= (int64_t)threads * 2) {
        ml_parallel_for(pool, (size_t)slices, 1, conv_shift_tasks, &job);
    } else {
        job.inner = pool;
        conv_shift_tasks(&job, 0, (size_t)slices);
    }
    free(off);
    return !job.failed;
}
