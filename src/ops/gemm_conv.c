/* Implicit-GEMM convolution (see conv_internal.h, nn_conv_shift_run): the
 * GEMM of gemm_fast.h reads shifted rows of a padded (and, for strides,
 * phase-split) copy of the input instead of an im2col matrix. */
#include <stdlib.h>
#include <string.h>

#include "ops/conv_internal.h"
#include "ops/gemm_fast.h"
#include "ops/linalg_internal.h"

/* ---- implicit GEMM for 2-D convs ----
 * The input is copied into a zero-padded plane per channel; with stride s
 * (per dim) it is also split into s_h * s_w phase planes (padded row r,
 * column q go to phase (r % s_h, q % s_w) at (r / s_h, q / s_w)). Then
 * output (oh, ow) at virtual column n = oh*Wq + ow reads, for reduction row
 * (c, kh, kw), element n + off[c, kh, kw] of the copy: every B row of the
 * GEMM is a shifted view of it, read in place (nn_gemm_opnd.off), and no
 * im2col matrix is built. Virtual columns with ow >= OW are never computed
 * when output rows are GEMM segments, else they are computed into a
 * temporary and dropped on the copy out.
 *
 * Work is cut into tasks of (image and group) x (band of output rows) x
 * (block of output channels). Each task copies just the padded input rows
 * its band reads into its own scratch (bands overlap by the kernel's extent,
 * so a few rows are copied twice), which keeps the copy parallel and leaves
 * a single parallel loop, with no barrier, per convolution. */

typedef struct conv_shift {
    const nn_conv_dims *cd;
    const float *x, *wp, *b, *z;
    float *y;
    const nn_act *act;
    size_t wp_group;
    const ptrdiff_t *off;  /* per reduction row, into one band's copy */
    int64_t Hq, Wq;        /* phase-plane rows of a band copy, and columns */
    int64_t bh, bands;     /* output rows per band, bands per slice */
    int64_t mblk, mblocks; /* output channels per block (a multiple of NN_GEMM_STRIP), blocks */
    int failed;
} conv_shift;

/* Tasks a batch-1 conv is cut into per thread, so a thread that starts late
 * hands work over. Measured on 32x32x32 3x3 convs, 2 threads: 2 per thread
 * (bands of 8 rows) ran as fast as 1 and 3, and 4-8% ahead of 4, 8 and 16,
 * whose shorter bands copy more overlap rows. */
#define CONV_TASKS_PER_THREAD 2
/* A band has at least this many output columns (GEMM panels of 32 keep the
 * micro-kernel busy; shorter bands cost more in duplicated copies). */
#define CONV_BAND_MIN_COLS 128

/* Output rows as GEMM column segments (tiles end at each row's end) when
 * rows fill the 32-wide tiles almost exactly; else whole virtual rows are
 * computed into a temporary and the extra columns dropped on the copy out
 * (measured: for 28- and 56-wide rows the copy costs less than the masked
 * tail tiles of segments). */
static bool conv_shift_rows(int64_t OW) {
    return OW % 32 == 0 || OW % 32 >= 30;
}

/* Whether the implicit GEMM applies; *Hq and *Wq get the whole (unbanded)
 * phase-plane size, which bounds every band's. */
static bool conv_shift_ok(const nn_conv_dims *cd, int64_t *Hq, int64_t *Wq) {
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
    int64_t Nv = (OH - 1) * *Wq + OW;
    int64_t tmp = conv_shift_rows(OW) ? 0 : nn_mul_sat(cd->Mg, Nv);
    return tmp <= cap && copy + tmp <= cap;
}

/* The padded (phase-split) rows band `oh0` reads, for the Cg channels of
 * one slice (xg), into xp: per channel sh*sw planes of Hq x Wq, plane row q
 * holding padded row (oh0 + q) * sh + phase. */
NN_INLINE_LOOPS static void shift_copy_band(const conv_shift *a, const float *xg, float *xp,
                                            int64_t oh0) {
    const nn_conv_dims *cd = a->cd;
    const nn_geom *g = &cd->g;
    int64_t Hq = a->Hq, Wq = a->Wq, H = g->in[0], W = g->in[1];
    int64_t sh = g->s[0], sw = g->s[1], plane = sh * sw * Hq * Wq;
    for (int64_t c = 0; c < cd->Cg; c++) {
        float *pc = xp + c * plane;
        const float *xc = xg + c * cd->in_sp;
        for (int64_t ph = 0; ph < sh; ph++)
            for (int64_t q = 0; q < Hq; q++) {
                int64_t h = (oh0 + q) * sh + ph - g->pb[0];
                for (int64_t pw = 0; pw < sw; pw++) {
                    float *dst = pc + ((ph * sw + pw) * Hq + q) * Wq;
                    if (h < 0 || h >= H) {
                        memset(dst, 0, sizeof(float) * (size_t)Wq);
                        continue;
                    }
                    const float *xr = xc + h * W;
                    if (sw == 1) {
                        int64_t lead = g->pb[1] < Wq ? g->pb[1] : Wq;
                        int64_t n = W < Wq - lead ? W : Wq - lead;
                        for (int64_t i = 0; i < lead; i++) dst[i] = 0.0f;
                        memcpy(dst + lead, xr, sizeof(float) * (size_t)n);
                        for (int64_t i = lead + n; i < Wq; i++) dst[i] = 0.0f;
                        continue;
                    }
                    /* padded column j*sw + pw is input column j*sw + pw - pb,
                     * inside the row for j in [j0, j1) */
                    int64_t lo = g->pb[1] - pw, hi = W - 1 + g->pb[1] - pw;
                    int64_t j0 = lo > 0 ? (lo + sw - 1) / sw : 0;
                    int64_t j1 = hi >= 0 ? hi / sw + 1 : 0;
                    if (j1 > Wq) j1 = Wq;
                    if (j0 > j1) j0 = j1;
                    for (int64_t j = 0; j < j0; j++) dst[j] = 0.0f;
                    for (int64_t j = j0; j < j1; j++) dst[j] = xr[j * sw - lo];
                    for (int64_t j = j1; j < Wq; j++) dst[j] = 0.0f;
                }
            }
    }
}

static void conv_shift_task(conv_shift *a, int64_t t) {
    const nn_conv_dims *cd = a->cd;
    const nn_geom *g = &cd->g;
    int64_t per_slice = a->bands * a->mblocks;
    int64_t sl = t / per_slice, band = t % per_slice / a->mblocks, mb = t % per_slice % a->mblocks;
    int64_t n = sl / cd->G, gi = sl % cd->G, Hq = a->Hq, Wq = a->Wq;
    int64_t OH = g->out[0], OW = g->out[1];
    int64_t plane = g->s[0] * g->s[1] * Hq * Wq, rows = cd->Cg * cd->kvol;
    int64_t oh0 = band * a->bh, nrows = OH - oh0 < a->bh ? OH - oh0 : a->bh;
    int64_t m0 = mb * a->mblk, mc = cd->Mg - m0 < a->mblk ? cd->Mg - m0 : a->mblk;
    int64_t Nv = (nrows - 1) * Wq + OW;
    bool by_rows = conv_shift_rows(OW);
    /* the size of the largest task (full block, full band), so the
     * thread's scratch is not reallocated from one task to the next */
    int64_t nv_max = (a->bh - 1) * Wq + OW, mc_max = a->mblk < cd->Mg ? a->mblk : cd->Mg;
    float *xp =
        nn_conv_scratch(sizeof(float) * (size_t)(cd->Cg * plane + (by_rows ? 0 : mc_max * nv_max)));
    if (!xp) {
        __atomic_store_n(&a->failed, 1, __ATOMIC_RELAXED);
        return;
    }
    shift_copy_band(a, a->x + (n * cd->C + gi * cd->Cg) * cd->in_sp, xp, oh0);
    /* this task's block of Y (and Z): channels m0.., rows oh0.. */
    int64_t yoff = (n * cd->M + gi * cd->Mg + m0) * cd->out_sp + oh0 * OW;
    const float *zs = a->z ? a->z + yoff : NULL;
    nn_gemm_opnd A = {.p = a->wp + (size_t)gi * a->wp_group + (size_t)m0 * (size_t)rows,
                      .packed = true};
    nn_gemm_opnd B = {.p = xp, .off = a->off, .cs = 1};
    nn_gemm_epi e = {.alpha = 1.0f, .bias_row = a->b ? a->b + gi * cd->Mg + m0 : NULL};
    float *ys = a->y + yoff;
    if (by_rows) {
        /* straight into Y: segment = one output row of OW, Wq apart */
        B.seg = (int)OW;
        B.seg_stride = Wq;
        if (zs && a->bands * a->mblocks == 1 && cd->N > 1) {
            /* whole images of a batch: Z was written an image-batch ago and
             * is out of L2; read in the epilogue its rows stall the tiles,
             * read in one pass after the GEMM (Y still in L2) they stream
             * (measured: ResNet blocks, batch 32, one thread, 2.5% faster
             * per conv) */
            nn_gemm(NULL, (int)mc, (int)(nrows * OW), (int)rows, &A, &B, ys, cd->out_sp, &e);
            for (int64_t m = 0; m < mc; m++)
                nn_add_act(a->act, ys + m * cd->out_sp, zs + m * cd->out_sp, ys + m * cd->out_sp,
                           (size_t)(nrows * OW));
            return;
        }
        e.act = *a->act;
        e.cin = zs;
        e.beta = 1.0f;
        e.ldcin = cd->out_sp;
        nn_gemm(NULL, (int)mc, (int)(nrows * OW), (int)rows, &A, &B, ys, cd->out_sp, &e);
        return;
    }
    float *tmp = xp + cd->Cg * plane;
    if (!zs) e.act = *a->act; /* else Z is added first, below */
    nn_gemm(NULL, (int)mc, (int)Nv, (int)rows, &A, &B, tmp, Nv, &e);
    for (int64_t m = 0; m < mc; m++)
        for (int64_t oh = 0; oh < nrows; oh++) {
            float *dst = ys + m * cd->out_sp + oh * OW;
            const float *src = tmp + m * Nv + oh * Wq;
            if (zs)
                nn_add_act(a->act, src, zs + m * cd->out_sp + oh * OW, dst, (size_t)OW);
            else
                memcpy(dst, src, sizeof(float) * (size_t)OW);
        }
}

static void conv_shift_tasks(void *arg, size_t begin, size_t end) {
    for (size_t t = begin; t < end; t++) conv_shift_task(arg, (int64_t)t);
}

/* Chooses bands and channel blocks: whole slices when there are enough of
 * them (or the conv is small), else about CONV_TASKS_PER_THREAD tasks per
 * thread, by bands of output rows first (each band reads its own input
 * rows) and then by blocks of output channels (small images, many
 * channels). Sets a->bh, bands, mblk, mblocks; returns the task count. */
static int64_t conv_shift_split(conv_shift *a, size_t threads) {
    const nn_conv_dims *cd = a->cd;
    int64_t OH = a->cd->g.out[0], OW = a->cd->g.out[1], slices = cd->N * cd->G;
    double slice_work = (double)cd->Mg * (double)cd->out_sp * (double)(cd->Cg * cd->kvol);
    int64_t want = (int64_t)threads * CONV_TASKS_PER_THREAD;
    int64_t pieces = slices >= want ? 1 : (want + slices - 1) / slices;
    /* pieces below an eighth of the GEMM's threshold cost more to hand over
     * than they save; a quarter of it is worth splitting (measured: a 3 to
     * 32 channel 3x3 stem on 32x32, 0.9 M multiply-adds, 20-25% faster on
     * two threads) */
    double min_piece = NN_GEMM_PAR_MIN / 8;
    if (threads <= 1 || slice_work * (double)slices < NN_GEMM_PAR_MIN / 4) pieces = 1;
    if (pieces > 1 && slice_work / (double)pieces < min_piece)
        pieces = slice_work / min_piece > 1.0 ? (int64_t)(slice_work / min_piece) : 1;
    int64_t bh_min = (CONV_BAND_MIN_COLS + OW - 1) / OW;
    int64_t max_bands = OH / bh_min > 1 ? OH / bh_min : 1;
    int64_t bands = pieces < max_bands ? pieces : max_bands;
    a->bh = (OH + bands - 1) / bands;
    a->bands = (OH + a->bh - 1) / a->bh;
    int64_t strips = (cd->Mg + NN_GEMM_STRIP - 1) / NN_GEMM_STRIP;
    int64_t mblocks = (pieces + a->bands - 1) / a->bands;
    if (mblocks > strips) mblocks = strips;
    if (mblocks < 1) mblocks = 1;
    a->mblk = (strips + mblocks - 1) / mblocks * NN_GEMM_STRIP;
    a->mblocks = (cd->Mg + a->mblk - 1) / a->mblk;
    return slices * a->bands * a->mblocks;
}

bool nn_conv_shift_run(ml_threadpool *pool, const nn_conv_dims *cd, const float *x, const float *wp,
                       size_t wp_group, const float *b, const float *z, const nn_act *act,
                       float *y) {
    int64_t Hq, Wq;
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
    if (nn_gemm_isa() == 0 || !conv_shift_ok(cd, &Hq, &Wq)) return false;
    const nn_geom *g = &cd->g;
    int64_t rows = cd->Cg * cd->kvol, sh = g->s[0], sw = g->s[1];
    conv_shift job = {.cd = cd,
                      .x = x,
                      .wp = wp,
                      .b = b,
                      .z = z,
                      .y = y,
                      .act = act,
                      .wp_group = wp_group,
                      .Wq = Wq};
    size_t threads = ml_threadpool_size(pool);
    int64_t tasks = conv_shift_split(&job, threads);
    /* a band's plane rows: its output rows plus the kernel's extent below */
    job.Hq = job.bh + (g->k[0] - 1) * g->d[0] / sh; /* <= Hq (conv_shift_ok) */
    ptrdiff_t *off = malloc(sizeof(ptrdiff_t) * (size_t)rows + 1);
    if (!off) return false;
    for (int64_t r = 0; r < rows; r++) {
        int64_t c = r / cd->kvol, kh = (r % cd->kvol) / g->k[1], kw = r % g->k[1];
        int64_t ph = kh * g->d[0], pw = kw * g->d[1]; /* tap offset in the padded plane */
        off[r] = (ptrdiff_t)(((c * sh + ph % sh) * sw + pw % sw) * job.Hq * Wq + (ph / sh) * Wq +
                             pw / sw);
    }
    job.off = off;
    /* whole slices of a small conv: several per hand-off */
    double task_work =
        (double)cd->Mg * (double)cd->out_sp * (double)rows / (double)(job.bands * job.mblocks);
    double half = NN_GEMM_PAR_MIN / 2;
    size_t min_chunk =
        job.bands * job.mblocks > 1 || task_work >= half ? 1 : (size_t)(half / task_work) + 1;
    ml_parallel_for(pool, (size_t)tasks, min_chunk, conv_shift_tasks, &job);
    free(off);
    return !job.failed;
}
