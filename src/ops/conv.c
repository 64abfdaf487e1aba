/* Conv (1-D/2-D/3-D..., groups, dilations, strides, pads, auto_pad, bias):
 * im2col + GEMM per (image, group), with the column matrix skipped for 1x1
 * unit-stride unpadded kernels. ConvTranspose is in conv_transpose.c. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "ops/conv_internal.h"
#include "ops/elem_util.h"
#include "ops/gemm_fast.h"
#include "ops/families.h"
#include "ops/linalg_internal.h"

/* Elements above which a scratch buffer is refused (protects against
 * hostile shapes; 2^31 floats is 8 GiB). */
#define NN_MAX_SCRATCH ((int64_t)1 << 31)

ml_status nn_conv_dims_init(const ml_node *node, const ml_tensor *x, const ml_tensor *w,
                            nn_conv_dims *cd) {
    memset(cd, 0, sizeof *cd);
    if (x->rank < 3)
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                             "X must have shape [N, C, D1, ...] (rank >= 3), got rank %d", x->rank);
    if (w->rank != x->rank)
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT, "W has rank %d but X has rank %d",
                             w->rank, x->rank);
    int nsp = x->rank - 2;
    cd->N = x->dims[0];
    cd->C = x->dims[1];
    cd->M = w->dims[0];
    cd->G = ml_attr_int(node, "group", 1);
    if (cd->G < 1 || cd->C % cd->G != 0 || cd->M % cd->G != 0)
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                             "group %lld must divide the %lld input and %lld output channels",
                             (long long)cd->G, (long long)cd->C, (long long)cd->M);
    cd->Cg = cd->C / cd->G;
    cd->Mg = cd->M / cd->G;
    if (w->dims[1] != cd->Cg)
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                             "W has %lld input channels per group but X has %lld channels / group "
                             "%lld = %lld",
                             (long long)w->dims[1], (long long)cd->C, (long long)cd->G,
                             (long long)cd->Cg);
    const int64_t *ks;
    size_t nks = ml_attr_ints(node, "kernel_shape", &ks);
    if (nks) {
        if (nks != (size_t)nsp)
            return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                                 "kernel_shape has %zu values for %d spatial dims", nks, nsp);
        for (int i = 0; i < nsp; i++)
            if (ks[i] != w->dims[2 + i])
                return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                                     "kernel_shape[%d]=%lld does not match W dim %lld", i,
                                     (long long)ks[i], (long long)w->dims[2 + i]);
    }
    ML_TRY(nn_geom_init(node, nsp, x->dims + 2, w->dims + 2, false, &cd->g));
    cd->kvol = nn_prod(nsp, w->dims + 2);
    cd->in_sp = nn_prod(nsp, x->dims + 2);
    cd->out_sp = nn_prod(nsp, cd->g.out);
    /* BLAS takes int sizes: every GEMM dimension must fit */
    int64_t rows = nn_mul_sat(cd->Cg, cd->kvol);
    if (rows > NN_MAX_SCRATCH / (cd->out_sp ? cd->out_sp : 1) || cd->out_sp > INT32_MAX ||
        rows > INT32_MAX || cd->Mg > INT32_MAX)
        return ml_node_error(node, ML_ERR_RESOURCE_EXHAUSTED,
                             "the convolution is too large (%lld x %lld column matrix)",
                             (long long)rows, (long long)cd->out_sp);
    cd->out_rank = x->rank;
    cd->out_dims[0] = cd->N;
    cd->out_dims[1] = cd->M;
    for (int i = 0; i < nsp; i++) cd->out_dims[2 + i] = cd->g.out[i];
    return ML_STATUS_OK;
}

static bool conv_is_pointwise(const nn_conv_dims *cd) {
    if (cd->kvol != 1) return false;
    for (int i = 0; i < cd->g.nsp; i++)
        if (cd->g.s[i] != 1 || cd->g.pb[i] != 0 || cd->g.pe[i] != 0) return false;
    return true;
}

/* Column-buffer elements per tile: 64 Ki floats (256 KiB) fit in L2 next to
 * BLAS's packed copies. */
#define NN_CONV_TILE_ELEMS ((int64_t)1 << 16)

typedef struct conv_scratch {
    void *p;
    size_t cap;
} conv_scratch;

static pthread_key_t scratch_key;
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;
static bool scratch_ok;

static void scratch_release(void *v) {
    conv_scratch *s = v;
    free(s->p);
    free(s);
}

static void scratch_key_init(void) {
    scratch_ok = pthread_key_create(&scratch_key, scratch_release) == 0;
}

void *nn_conv_scratch(size_t bytes) {
    pthread_once(&scratch_once, scratch_key_init);
    /* huge tiles (one output row of a very deep conv) take the untiled path */
    if (!scratch_ok || bytes > NN_CONV_SCRATCH_KEEP) return NULL;
    conv_scratch *s = pthread_getspecific(scratch_key);
    if (!s) {
        s = calloc(1, sizeof *s);
        if (!s || pthread_setspecific(scratch_key, s) != 0) {
            free(s);
            return NULL;
        }
    }
    if (s->cap < bytes) {
        free(s->p);
        s->cap = 0;
        s->p = malloc(bytes + 64);
        if (!s->p) return NULL;
        s->cap = bytes;
    }
    return s->p;
}

#define CONV_IMPL(T, GEMM)                                                                         \
    typedef struct im2col_##T {                                                                    \
        const nn_conv_dims *cd;                                                                    \
        const T *x;     /* one group of one image: Cg x in_sp */                                   \
        T *col;         /* (Cg*kvol) x (o1-o0)*inner */                                            \
        int64_t o0, o1; /* range of output positions over all but the last spatial dim */          \
    } im2col_##T;                                                                                  \
                                                                                                   \
    NN_INLINE_LOOPS static void im2col_rows_##T(void *arg, size_t begin, size_t end) {             \
        const im2col_##T *a = arg;                                                                 \
        const nn_conv_dims *cd = a->cd;                                                            \
        const nn_geom *g = &cd->g;                                                                 \
        int L = g->nsp - 1;                                                                        \
        int64_t inner = g->out[L], o0 = a->o0, ncol = (a->o1 - a->o0) * inner;                     \
        int64_t oi0[ML_MAX_RANK] = {0};                                                            \
        for (int64_t i = L - 1, q = o0; i >= 0; i--) {                                             \
            oi0[i] = q % g->out[i];                                                                \
            q /= g->out[i];                                                                        \
        }                                                                                          \
        for (size_t r = begin; r < end; r++) {                                                     \
            int64_t c = (int64_t)r / cd->kvol, kk = (int64_t)r % cd->kvol;                         \
            int64_t kc[ML_MAX_RANK];                                                               \
            for (int i = L; i >= 0; i--) {                                                         \
                kc[i] = kk % g->k[i];                                                              \
                kk /= g->k[i];                                                                     \
            }                                                                                      \
            const T *xc = a->x + c * cd->in_sp;                                                    \
            T *dst = a->col + (int64_t)r * ncol;                                                   \
            int64_t oi[ML_MAX_RANK];                                                               \
            memcpy(oi, oi0, sizeof oi);                                                            \
            int64_t s = g->s[L], off0 = kc[L] * g->d[L] - g->pb[L], W = g->in[L];                  \
            /* outputs [ow0, ow1) read inside the row; the rest is padding */                      \
            int64_t ow0 = off0 >= 0 ? 0 : (-off0 + s - 1) / s;                                     \
            int64_t ow1 = W - off0 > 0 ? (W - off0 + s - 1) / s : 0;                               \
            if (ow1 > inner) ow1 = inner;                                                          \
            if (ow0 > ow1) ow0 = ow1;                                                              \
            for (int64_t o = o0; o < a->o1; o++, dst += inner) {                                   \
                int64_t xoff = 0;                                                                  \
                bool valid = true;                                                                 \
                for (int i = 0; i < L; i++) {                                                      \
                    int64_t p = oi[i] * g->s[i] + kc[i] * g->d[i] - g->pb[i];                      \
                    if (p < 0 || p >= g->in[i]) valid = false;                                     \
                    xoff = xoff * g->in[i] + p;                                                    \
                }                                                                                  \
                if (!valid) {                                                                      \
                    memset(dst, 0, sizeof(T) * (size_t)inner);                                     \
                } else {                                                                           \
                    const T *xrow = xc + xoff * W;                                                 \
                    for (int64_t ow = 0; ow < ow0; ow++) dst[ow] = (T)0;                           \
                    if (s == 1 && ow1 - ow0 >= 64)                                                 \
                        memcpy(dst + ow0, xrow + ow0 + off0, sizeof(T) * (size_t)(ow1 - ow0));     \
                    else if (s == 1)                                                               \
                        for (int64_t ow = ow0; ow < ow1; ow++) dst[ow] = xrow[ow + off0];          \
                    else                                                                           \
                        for (int64_t ow = ow0; ow < ow1; ow++) dst[ow] = xrow[ow * s + off0];      \
                    for (int64_t ow = ow1; ow < inner; ow++) dst[ow] = (T)0;                       \
                }                                                                                  \
                for (int i = L - 1; i >= 0; i--) {                                                 \
                    if (++oi[i] < g->out[i]) break;                                                \
                    oi[i] = 0;                                                                     \
                }                                                                                  \
            }                                                                                      \
        }                                                                                          \
    }                                                                                              \
                                                                                                   \
    /* One (image, group) slice: im2col (on `pool` when given) then GEMM. */                       \
    static void conv_slice_##T(ml_threadpool *pool, const nn_conv_dims *cd, const T *x,            \
                               const T *w, const T *b, T *y, int64_t n, int64_t gi, T *col,        \
                               bool pointwise) {                                                   \
        int64_t rows = cd->Cg * cd->kvol;                                                          \
        const T *xg = x + (n * cd->C + gi * cd->Cg) * cd->in_sp;                                   \
        T *yg = y + (n * cd->M + gi * cd->Mg) * cd->out_sp;                                        \
        const T *wg = w + gi * cd->Mg * rows;                                                      \
        if (cd->out_sp == 0 || cd->Mg == 0) return;                                                \
        const T *bmat = xg;                                                                        \
        if (!pointwise) {                                                                          \
            im2col_##T job = {cd, xg, col, 0, cd->out_sp / cd->g.out[cd->g.nsp - 1]};              \
            size_t chunk = (size_t)(4096 / (cd->out_sp + 1)) + 1;                                  \
            ml_parallel_for(pool, (size_t)rows, chunk, im2col_rows_##T, &job);                     \
            bmat = col;                                                                            \
        }                                                                                          \
        if (rows == 0)                                                                             \
            memset(yg, 0, sizeof(T) * (size_t)(cd->Mg * cd->out_sp));                              \
        else                                                                                       \
            GEMM(pool, false, false, (int)cd->Mg, (int)cd->out_sp, (int)rows, 1, wg, (int)rows,    \
                 bmat, (int)cd->out_sp, 0, yg, (int)cd->out_sp);                                   \
        if (b)                                                                                     \
            for (int64_t m = 0; m < cd->Mg; m++) {                                                 \
                T bv = b[gi * cd->Mg + m], *row = yg + m * cd->out_sp;                             \
                for (int64_t i = 0; i < cd->out_sp; i++) row[i] += bv;                             \
            }                                                                                      \
    }                                                                                              \
                                                                                                   \
    typedef struct tiles_##T {                                                                     \
        const nn_conv_dims *cd;                                                                    \
        const T *x, *w, *b;                                                                        \
        T *y;                                                                                      \
        bool pointwise;                                                                            \
        int64_t tile_outer, tiles; /* outer positions per tile, tiles per slice */                 \
        int failed;                /* set when a task could not get its column buffer */           \
    } tiles_##T;                                                                                   \
                                                                                                   \
    /* One task = a band of output positions of one (image, group) slice:                          \
     * im2col of just that band into a cache-sized per-thread buffer, GEMM,                        \
     * bias. Bands keep the column matrix in L2 between im2col, BLAS packing                       \
     * and the kernel, and give the pool work even at batch 1. */                                  \
    static void conv_tiles_##T(void *arg, size_t begin, size_t end) {                              \
        tiles_##T *a = arg;                                                                        \
        const nn_conv_dims *cd = a->cd;                                                            \
        int64_t rows = cd->Cg * cd->kvol, inner = cd->g.out[cd->g.nsp - 1];                        \
        int64_t outer = cd->out_sp / inner;                                                        \
        for (size_t t = begin; t < end; t++) {                                                     \
            int64_t sl = (int64_t)t / a->tiles, n = sl / cd->G, gi = sl % cd->G;                   \
            int64_t o0 = ((int64_t)t % a->tiles) * a->tile_outer;                                  \
            int64_t o1 = o0 + a->tile_outer < outer ? o0 + a->tile_outer : outer;                  \
            int64_t ncol = (o1 - o0) * inner;                                                      \
            const T *xg = a->x + (n * cd->C + gi * cd->Cg) * cd->in_sp;                            \
            T *yg = a->y + (n * cd->M + gi * cd->Mg) * cd->out_sp + o0 * inner;                    \
            const T *bmat = xg + o0 * inner;                                                       \
            int ldb = (int)cd->out_sp;                                                             \
            if (!a->pointwise) {                                                                   \
                T *col = nn_conv_scratch(sizeof(T) * (size_t)(rows * ncol));                       \
                if (!col) {                                                                        \
                    __atomic_store_n(&a->failed, 1, __ATOMIC_RELAXED);                             \
                    return;                                                                        \
                }                                                                                  \
                im2col_##T job = {cd, xg, col, o0, o1};                                            \
                im2col_rows_##T(&job, 0, (size_t)rows);                                            \
                bmat = col;                                                                        \
                ldb = (int)ncol;                                                                   \
            }                                                                                      \
            const T *wg = a->w + gi * cd->Mg * rows;                                               \
            /* bias as the GEMM's starting C (beta 1): no second pass over Y */                    \
            T beta = 0;                                                                            \
            if (a->b) {                                                                            \
                for (int64_t m = 0; m < cd->Mg; m++) {                                             \
                    T bv = a->b[gi * cd->Mg + m], *row = yg + m * cd->out_sp;                      \
                    for (int64_t i = 0; i < ncol; i++) row[i] = bv;                                \
                }                                                                                  \
                beta = 1;                                                                          \
            }                                                                                      \
            GEMM(NULL, false, false, (int)cd->Mg, (int)ncol, (int)rows, 1, wg, (int)rows, bmat,    \
                 ldb, beta, yg, (int)cd->out_sp);                                                  \
        }                                                                                          \
    }                                                                                              \
                                                                                                   \
    ml_status nn_conv_##T(const ml_node *node, ml_threadpool *pool, const nn_conv_dims *cd,        \
                          const T *x, const T *w, const T *b, T *y) {                              \
        int64_t rows = cd->Cg * cd->kvol, slices = cd->N * cd->G;                                  \
        bool pointwise = conv_is_pointwise(cd);                                                    \
        if (slices == 0 || cd->out_sp == 0) return ML_STATUS_OK;                                   \
        size_t threads = ml_threadpool_size(pool);                                                 \
        if (rows > 0 && cd->Mg > 0) {                                                              \
            int64_t inner = cd->g.out[cd->g.nsp - 1], outer = cd->out_sp / inner;                  \
            int64_t per = rows * inner; /* column-buffer elements per outer position */            \
            int64_t tile_outer = NN_CONV_TILE_ELEMS / (per ? per : 1);                             \
            if (tile_outer < 1) tile_outer = 1;                                                    \
            if (tile_outer > outer) tile_outer = outer;                                            \
            /* few slices (batch 1): smaller bands so every thread gets one,                       \
             * unless the whole conv is too small to repay waking them */                          \
            double work = (double)cd->Mg * (double)cd->out_sp * (double)rows * (double)slices;     \
            if (threads > 1 && slices < (int64_t)threads && work >= NN_GEMM_PAR_MIN) {             \
                int64_t per_slice = ((int64_t)threads + slices - 1) / slices;                      \
                int64_t cap = (outer + per_slice - 1) / per_slice;                                 \
                if (cap < tile_outer) tile_outer = cap;                                            \
            }                                                                                      \
            int64_t tiles = (outer + tile_outer - 1) / tile_outer;                                 \
            /* enough independent tasks for the pool (any count when serial) */                    \
            bool fits =                                                                            \
                pointwise || (size_t)(per * tile_outer) * sizeof(T) <= NN_CONV_SCRATCH_KEEP;       \
            if (fits && (threads == 1 || slices * tiles >= (int64_t)threads)) {                    \
                tiles_##T job = {cd, x, w, b, y, pointwise, tile_outer, tiles, 0};                 \
                /* chunks of at least half the threshold: tiny convs stay inline */                \
                double task = (double)cd->Mg * (double)rows * (double)(tile_outer * inner);        \
                double half = NN_GEMM_PAR_MIN / 2;                                                 \
                size_t min_chunk = task >= half ? 1 : (size_t)(half / task) + 1;                   \
                ml_parallel_for(pool, (size_t)(slices * tiles), min_chunk, conv_tiles_##T, &job);  \
                if (!job.failed) return ML_STATUS_OK;                                              \
                /* out of memory in some task: redo serially, reporting failure */                 \
            }                                                                                      \
        }                                                                                          \
        /* one column matrix for the whole slice: the calling thread's                             \
         * scratch when small enough, else a buffer for this run only */                           \
        T *col = NULL, *owned = NULL;                                                              \
        if (!pointwise) {                                                                          \
            col = nn_conv_scratch(sizeof(T) * (size_t)(rows * cd->out_sp));                        \
            if (!col) col = owned = malloc(sizeof(T) * (size_t)(rows * cd->out_sp) + 1);           \
            if (!col)                                                                              \
                return ml_node_error(node, ML_ERR_OUT_OF_MEMORY,                                   \
                                     "no memory for a %lldx%lld im2col buffer", (long long)rows,   \
                                     (long long)cd->out_sp);                                       \
        }                                                                                          \
        for (int64_t s = 0; s < slices; s++)                                                       \
            conv_slice_##T(pool, cd, x, w, b, y, s / cd->G, s % cd->G, col, pointwise);            \
        free(owned);                                                                               \
        return ML_STATUS_OK;                                                                       \
    }

CONV_IMPL(float, nn_sgemm)
CONV_IMPL(double, nn_dgemm)

/* Depthwise 2-D convolution (one input channel per group), computed
 * directly: for each kernel tap a multiply-add along the output row, which
 * vectorises; im2col + GEMM would run a GEMM with a single output row. */
typedef struct dw_job {
    const nn_conv_dims *cd;
    const float *x, *w, *b;
    float *y;
    const int64_t *owr; /* per kernel column: output range [ow0, ow1) inside the input */
    const float *z;     /* FusedConv: NULL or of the output's shape, added before act */
    const nn_act *act;
} dw_job;

static void dw_planes(void *arg, size_t begin, size_t end) {
    const dw_job *j = arg;
    const nn_conv_dims *cd = j->cd;
    const nn_geom *g = &cd->g;
    int64_t H = g->in[0], W = g->in[1], OH = g->out[0], OW = g->out[1], KH = g->k[0], KW = g->k[1];
    int64_t sh = g->s[0], sw = g->s[1], dh = g->d[0], dw = g->d[1], ph = g->pb[0], pw = g->pb[1];
    for (size_t plane = begin; plane < end; plane++) {
        int64_t n = (int64_t)plane / cd->M, m = (int64_t)plane % cd->M, c = m / cd->Mg;
        const float *xp = j->x + (n * cd->C + c) * cd->in_sp;
        const float *wm = j->w + m * KH * KW;
        float *yp = j->y + (int64_t)plane * cd->out_sp;
        float bias = j->b ? j->b[m] : 0.0f;
        for (int64_t oh = 0; oh < OH; oh++) {
            float *yr = yp + oh * OW;
            for (int64_t ow = 0; ow < OW; ow++) yr[ow] = bias;
            for (int64_t kh = 0; kh < KH; kh++) {
                int64_t ih = oh * sh - ph + kh * dh;
                if (ih < 0 || ih >= H) continue;
                const float *row = xp + ih * W;
                for (int64_t kw = 0; kw < KW; kw++) {
                    float wv = wm[kh * KW + kw];
                    int64_t off = kw * dw - pw; /* iw = ow * sw + off >= 0 in [ow0, ow1) */
                    int64_t ow0 = j->owr[2 * kw], ow1 = j->owr[2 * kw + 1];
                    if (sw == 1)
                        for (int64_t ow = ow0; ow < ow1; ow++) yr[ow] += wv * row[ow + off];
                    else
                        for (int64_t ow = ow0; ow < ow1; ow++) yr[ow] += wv * row[ow * sw + off];
                }
            }
        }
        /* Z and the activation while the plane is in cache, on this thread */
        if (j->z)
            nn_add_act(j->act, yp, j->z + (int64_t)plane * cd->out_sp, yp, (size_t)cd->out_sp);
        else
            nn_act_apply(j->act, yp, (size_t)cd->out_sp);
    }
}

static bool conv_depthwise_f32(ml_threadpool *pool, const nn_conv_dims *cd, const float *x,
                               const float *w, const float *b, const float *z, const nn_act *act,
                               float *y) {
    const nn_geom *g = &cd->g;
    if (g->nsp != 2 || cd->Cg != 1 || cd->G == 1 || g->k[1] > 4096) return false;
    int64_t KW = g->k[1], W = g->in[1], sw = g->s[1];
    int64_t *owr = malloc(sizeof(int64_t) * (size_t)(2 * KW + 1));
    if (!owr) return false;
    for (int64_t kw = 0; kw < KW; kw++) {
        int64_t off = kw * g->d[1] - g->pb[1]; /* iw = ow * sw + off */
        int64_t ow0 = off >= 0 ? 0 : (-off + sw - 1) / sw;
        int64_t ow1 = W - off > 0 ? (W - off + sw - 1) / sw : 0;
        if (ow1 > g->out[1]) ow1 = g->out[1];
        if (ow0 > ow1) ow0 = ow1;
        owr[2 * kw] = ow0;
        owr[2 * kw + 1] = ow1;
    }
    dw_job j = {cd, x, w, b, y, owr, z, act};
    ml_parallel_for(pool, (size_t)(cd->N * cd->M),
                    (size_t)(8192 / (cd->out_sp * KW * g->k[0] + 1)) + 1, dw_planes, &j);
    free(owr);
    return true;
}

/* Largest reduction chunk whose partial dot products stay exact in float:
 * every |product| <= max_prod, so chunk * max_prod must stay <= 2^24. */
int64_t nn_exact_chunk(double max_prod) {
    if (max_prod < 1.0) return INT32_MAX;
    double c = 16777216.0 / max_prod;
    return c < 1.0 ? 1 : (c > (double)INT32_MAX ? INT32_MAX : (int64_t)c);
}

ml_status nn_conv_exact_f32(const ml_node *node, ml_threadpool *pool, const nn_conv_dims *cd,
                            const float *x, const float *w, double max_prod, double *acc) {
    int64_t rows = cd->Cg * cd->kvol, slices = cd->N * cd->G, kc = nn_exact_chunk(max_prod);
    if (slices == 0 || cd->out_sp == 0 || cd->Mg == 0) return ML_STATUS_OK;
    bool pointwise = conv_is_pointwise(cd);
    size_t nt = (size_t)(cd->Mg * cd->out_sp);
    float *col = pointwise ? NULL : malloc(sizeof(float) * (size_t)(rows * cd->out_sp) + 1);
    float *tmp = malloc(sizeof(float) * nt + 1);
    if ((!pointwise && !col) || !tmp) {
        free(col);
        free(tmp);
        return ml_node_error(node, ML_ERR_OUT_OF_MEMORY, "no memory for the integer convolution");
    }
    for (int64_t s = 0; s < slices; s++) {
        int64_t n = s / cd->G, gi = s % cd->G;
        const float *xg = x + (n * cd->C + gi * cd->Cg) * cd->in_sp, *bmat = xg;
        const float *wg = w + gi * cd->Mg * rows;
        double *ag = acc + (n * cd->M + gi * cd->Mg) * cd->out_sp;
        for (size_t i = 0; i < nt; i++) ag[i] = 0.0;
        if (!pointwise) {
            im2col_float job = {cd, xg, col, 0, cd->out_sp / cd->g.out[cd->g.nsp - 1]};
            ml_parallel_for(pool, (size_t)rows, (size_t)(4096 / (cd->out_sp + 1)) + 1,
                            im2col_rows_float, &job);
            bmat = col;
        }
        for (int64_t k0 = 0; k0 < rows; k0 += kc) {
            int64_t kl = rows - k0 < kc ? rows - k0 : kc;
            nn_sgemm(pool, false, false, (int)cd->Mg, (int)cd->out_sp, (int)kl, 1.0f, wg + k0,
                     (int)rows, bmat + k0 * cd->out_sp, (int)cd->out_sp, 0.0f, tmp,
                     (int)cd->out_sp);
            for (size_t i = 0; i < nt; i++) ag[i] += tmp[i];
        }
    }
    free(col);
    free(tmp);
    return ML_STATUS_OK;
}

/* ---- float convolution on the own GEMM (gemm_fast.h) ----
 * Y[Mg, out_sp] of a slice = W_g[Mg, rows] @ col[rows, out_sp]: the weights
 * are the packed A (packed once at load, see conv_init), the column band
 * (or the input itself for pointwise convs) is the streamed B, and bias,
 * the FusedConv sum input Z and the activation ride in the epilogue. */

typedef struct conv_fast {
    const nn_conv_dims *cd;
    const float *x, *wp, *b, *z;
    float *y;
    const nn_act *act;
    size_t wp_group; /* floats per group in wp */
    bool pointwise;
    int64_t tile_outer, tiles;
    int failed;
} conv_fast;

static void conv_fast_tiles(void *arg, size_t begin, size_t end) {
    conv_fast *a = arg;
    const nn_conv_dims *cd = a->cd;
    int64_t rows = cd->Cg * cd->kvol, inner = cd->g.out[cd->g.nsp - 1];
    int64_t outer = cd->out_sp / inner;
    for (size_t t = begin; t < end; t++) {
        int64_t sl = (int64_t)t / a->tiles, n = sl / cd->G, gi = sl % cd->G;
        int64_t o0 = ((int64_t)t % a->tiles) * a->tile_outer;
        int64_t o1 = o0 + a->tile_outer < outer ? o0 + a->tile_outer : outer;
        int64_t ncol = (o1 - o0) * inner;
        const float *xg = a->x + (n * cd->C + gi * cd->Cg) * cd->in_sp;
        int64_t yoff = (n * cd->M + gi * cd->Mg) * cd->out_sp + o0 * inner;
        nn_gemm_opnd B = {.p = xg + o0 * inner, .rs = cd->in_sp, .cs = 1};
        if (!a->pointwise && rows > 0) {
            float *col = nn_conv_scratch(sizeof(float) * (size_t)(rows * ncol));
            if (!col) {
                __atomic_store_n(&a->failed, 1, __ATOMIC_RELAXED);
                return;
            }
            im2col_float job = {cd, xg, col, o0, o1};
            im2col_rows_float(&job, 0, (size_t)rows);
            B = (nn_gemm_opnd){.p = col, .rs = ncol, .cs = 1};
        }
        nn_gemm_opnd A = {.p = a->wp + (size_t)gi * a->wp_group, .packed = true};
        nn_gemm_epi e = {.alpha = 1.0f,
                         .beta = 1.0f,
                         .cin = a->z ? a->z + yoff : NULL,
                         .ldcin = cd->out_sp,
                         .bias_row = a->b ? a->b + gi * cd->Mg : NULL,
                         .act = *a->act};
        nn_gemm(NULL, (int)cd->Mg, (int)ncol, (int)rows, &A, &B, a->y + yoff, cd->out_sp, &e);
    }
}

/* Z and the activation after a kernel without an epilogue. */
static void conv_post(const nn_conv_dims *cd, const float *z, const nn_act *act, float *y) {
    size_t n = (size_t)(cd->N * cd->M * cd->out_sp);
    if (z)
        nn_add_act(act, y, z, y, n);
    else
        nn_act_apply(act, y, n);
}

ml_status nn_conv_f32_fused(const ml_node *node, ml_threadpool *pool, const nn_conv_dims *cd,
                            const float *x, const float *w, const float *wp, const float *b,
                            const float *z, const nn_act *act, float *y) {
    int64_t rows = cd->Cg * cd->kvol, slices = cd->N * cd->G;
    if (slices == 0 || cd->out_sp == 0 || cd->Mg == 0) return ML_STATUS_OK;
    if (w && conv_depthwise_f32(pool, cd, x, w, b, z, act, y)) return ML_STATUS_OK;
    bool pointwise = conv_is_pointwise(cd);
    size_t threads = ml_threadpool_size(pool);
    int64_t inner = cd->g.out[cd->g.nsp - 1], outer = cd->out_sp / inner;
    int64_t per = (rows ? rows : 1) * inner; /* column-buffer floats per outer position */
    int64_t tile_outer = NN_CONV_TILE_ELEMS / per;
    if (tile_outer < 1) tile_outer = 1;
    if (tile_outer > outer) tile_outer = outer;
    double work = (double)cd->Mg * (double)cd->out_sp * (double)(rows ? rows : 1) * (double)slices;
    if (threads > 1 && slices < (int64_t)threads * 2 && work >= NN_GEMM_PAR_MIN) {
        /* few slices (batch 1): smaller bands so every thread gets two */
        int64_t per_slice = ((int64_t)threads * 2 + slices - 1) / slices;
        int64_t cap = (outer + per_slice - 1) / per_slice;
        if (cap < tile_outer) tile_outer = cap;
    }
    bool fits = pointwise || (size_t)(per * tile_outer) * sizeof(float) <= NN_CONV_SCRATCH_KEEP;
    size_t per_group = nn_gemm_packa_floats((int)cd->Mg, (int)rows);
    if (!fits) {
        /* one output row of a huge conv overflows the band buffers: the
         * BLAS path with a whole-slice column matrix, then Z and act */
        float *unpacked = NULL;
        if (!w) { /* only packed float16/bfloat16 weights: undo the strips */
            unpacked = malloc(sizeof(float) * (size_t)(cd->M * rows) + 1);
            if (!unpacked)
                return ml_node_error(node, ML_ERR_OUT_OF_MEMORY, "no memory for the weights");
            for (int64_t m = 0; m < cd->M; m++)
                for (int64_t r = 0; r < rows; r++) {
                    int64_t g = m / cd->Mg, mg = m % cd->Mg;
                    unpacked[m * rows + r] =
                        wp[(size_t)g * per_group +
                           (size_t)(mg / NN_GEMM_STRIP) * (size_t)rows * NN_GEMM_STRIP +
                           (size_t)r * NN_GEMM_STRIP + (size_t)(mg % NN_GEMM_STRIP)];
                }
            w = unpacked;
        }
        ml_status st = nn_conv_float(node, pool, cd, x, w, b, y);
        free(unpacked);
        ML_TRY(st);
        conv_post(cd, z, act, y);
        return ML_STATUS_OK;
    }
    float *owned = NULL;
    if (!wp) { /* weights not constant: pack them for this run */
        owned = malloc(sizeof(float) * per_group * (size_t)cd->G + 1);
        if (!owned)
            return ml_node_error(node, ML_ERR_OUT_OF_MEMORY, "no memory to pack the weights");
        for (int64_t g = 0; g < cd->G; g++)
            nn_gemm_packa(w + g * cd->Mg * rows, rows, 1, (int)cd->Mg, (int)rows,
                          owned + (size_t)g * per_group);
        wp = owned;
    }
    if (!pointwise && rows > 0 && nn_conv_shift_run(pool, cd, x, wp, per_group, b, z, act, y)) {
        free(owned);
        return ML_STATUS_OK;
    }
    int64_t tiles = (outer + tile_outer - 1) / tile_outer;
    conv_fast job = {cd, x, wp, b, z, y, act, per_group, pointwise, tile_outer, tiles, 0};
    /* chunks of at least half the threshold: tiny convs stay inline */
    double task = (double)cd->Mg * (double)(rows ? rows : 1) * (double)(tile_outer * inner);
    double half = NN_GEMM_PAR_MIN / 2;
    size_t min_chunk = task >= half ? 1 : (size_t)(half / task) + 1;
    ml_parallel_for(pool, (size_t)(slices * tiles), min_chunk, conv_fast_tiles, &job);
    free(owned);
    if (job.failed)
        return ml_node_error(node, ML_ERR_OUT_OF_MEMORY, "no memory for an im2col band");
    return ML_STATUS_OK;
}

ml_status nn_conv_f32(const ml_node *node, ml_threadpool *pool, const nn_conv_dims *cd,
                      const float *x, const float *w, const float *b, float *y) {
    static const nn_act none = {NN_ACT_NONE, 0.0f, 0.0f};
    return nn_conv_f32_fused(node, pool, cd, x, w, NULL, b, NULL, &none, y);
}

ml_status nn_conv_f64(const ml_node *node, ml_threadpool *pool, const nn_conv_dims *cd,
                      const double *x, const double *w, const double *b, double *y) {
    return nn_conv_double(node, pool, cd, x, w, b, y);
}

/* Conv / FusedConv state: the weights packed for the GEMM (or, for
 * depthwise convs, a float32 copy of float16/bfloat16 ones) and the
 * activation. Packed copies are shared with nodes reading the same weight. */
typedef struct conv_state {
    const float *wp;  /* NN_PACK_CONV_A */
    const float *w32; /* NN_PACK_F32 */
    nn_act act;
} conv_state;

static void conv_free(void *state) {
    conv_state *s = state;
    if (!s) return;
    nn_pack_release(s->wp);
    nn_pack_release(s->w32);
    free(s);
}

static ml_status conv_init(const ml_node *node, void **state) {
    *state = NULL;
    nn_blas_init();
    ML_TRY(nn_check_spatial_attrs(node, false));
    conv_state *s = calloc(1, sizeof *s);
    if (!s) return ml_node_error(node, ML_ERR_OUT_OF_MEMORY, "no memory for the node state");
    ml_status st = ML_STATUS_OK;
    if (strcmp(node->op_type, "FusedConv") == 0) {
        const float *params;
        size_t n = ml_attr_floats(node, "activation_params", &params);
        st = nn_act_parse(node, ml_attr_string(node, "activation", ""), params, n, &s->act);
    }
    const ml_tensor *w = node->const_inputs && node->n_inputs >= 2 ? node->const_inputs[1] : NULL;
    if (!st && w && nn_is_float(w->dtype) && w->dtype != ML_DOUBLE && w->rank >= 3) {
        int64_t G = ml_attr_int(node, "group", 1);
        bool depthwise = w->rank == 4 && w->dims[1] == 1 && G > 1;
        if (!depthwise && G >= 1 && w->dims[0] % G == 0 && w->dims[0] > 0)
            st = nn_pack_acquire_ex(node, w, NN_PACK_CONV_A, G, &s->wp);
        else if (w->dtype != ML_FLOAT)
            st = nn_pack_acquire(node, w, NN_PACK_F32, &s->w32);
    }
    if (st) {
        conv_free(s);
        return st;
    }
    *state = s;
    return ML_STATUS_OK;
}

/* out[i] = a[i] + b[i] over a broadcast run (conv_run_bcast_z). */
static void add_run_f32(void *arg, const void *const *in, const int64_t *instride, void *out,
                        int64_t n) {
    (void)arg;
    const float *a = in[0], *b = in[1];
    float *y = out;
    int64_t sa = instride[0], sb = instride[1];
    for (int64_t i = 0; i < n; i++) y[i] = a[i * sa] + b[i * sb];
}

/* FusedConv whose Z does not have the conv output's shape: the graph fusion
 * (graph_fuse_matmul.c) turns Conv + Add(other) [+ act] into FusedConv
 * without knowing other's shape, so Z may be anything Add accepts. Computes
 * what the unfused ops compute, in their order: conv + bias into a
 * temporary, then the broadcasting Add into Y (of the broadcast shape), then
 * the activation.
 * Float32 only (the fusion requires float32 weights). */
static ml_status conv_run_bcast_z(ml_kernel_ctx *ctx, const conv_state *s, const nn_conv_dims *cd,
                                  const ml_tensor *x, const ml_tensor *w, const ml_tensor *b,
                                  const ml_tensor *z) {
    const ml_node *node = ctx->node;
    if (x->dtype != ML_FLOAT) {
        char sz[128], sy[128];
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                             "Z has shape %s but the output has shape %s; they must match for %s",
                             ml_shape_format(z->rank, z->dims, sz, sizeof sz),
                             ml_shape_format(cd->out_rank, cd->out_dims, sy, sizeof sy),
                             ml_dtype_name(x->dtype));
    }
    elem_bcast bc;
    int ranks[2] = {cd->out_rank, z->rank};
    const int64_t *dims[2] = {cd->out_dims, z->dims};
    ML_TRY(elem_bcast_init(node, 2, ranks, dims, &bc));
    ml_tensor *y;
    ML_TRY(ml_output_tensor(ctx, 0, ML_FLOAT, bc.out_rank, bc.out_dims, &y));
    if (bc.numel == 0) return ML_STATUS_OK;
    /* the broadcast output is at least as big as the conv's (no dim is 0),
     * so the temporary is within the limit the output passed */
    size_t conv_n = (size_t)(cd->N * cd->M * cd->out_sp);
    float *tmp = malloc(sizeof(float) * conv_n + 1);
    if (!tmp) return ml_node_error(node, ML_ERR_OUT_OF_MEMORY, "no memory for the conv output");
    static const nn_act none = {NN_ACT_NONE, 0.0f, 0.0f};
    const float *wp = s && s->wp && w->data == node->const_inputs[1]->data ? s->wp : NULL;
    ml_status st = nn_conv_f32_fused(node, ctx->pool, cd, x->data, w->data, wp, b ? b->data : NULL,
                                     NULL, &none, tmp);
    if (!st) {
        const void *in[2] = {tmp, z->data};
        size_t sizes[2] = {sizeof(float), sizeof(float)};
        elem_bcast_run(ctx->pool, &bc, in, sizes, y->data, sizeof(float), add_run_f32, NULL);
        if (s) nn_act_apply(&s->act, y->data, bc.numel);
    }
    free(tmp);
    return st;
}

static ml_status conv_run(ml_kernel_ctx *ctx) {
    const ml_node *node = ctx->node;
    const conv_state *s = node->state;
    bool fused = strcmp(node->op_type, "FusedConv") == 0;
    const ml_tensor *x, *w, *b = ml_input(ctx, 2), *z = fused ? ml_input(ctx, 3) : NULL;
    ML_TRY(ml_require_input(ctx, 0, &x));
    ML_TRY(ml_require_input(ctx, 1, &w));
    if (!nn_is_float(x->dtype) || w->dtype != x->dtype || (b && b->dtype != x->dtype) ||
        (z && z->dtype != x->dtype))
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                             "X, W, B (and Z) must share one float type (got %s, %s)",
                             ml_dtype_name(x->dtype), ml_dtype_name(w->dtype));
    nn_conv_dims cd;
    ML_TRY(nn_conv_dims_init(node, x, w, &cd));
    if (b && (b->rank != 1 || b->dims[0] != cd.M))
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT, "B must be 1-D of size M=%lld",
                             (long long)cd.M);
    if (z && !ml_shape_equal(z->rank, z->dims, cd.out_rank, cd.out_dims))
        return conv_run_bcast_z(ctx, s, &cd, x, w, b, z);
    ml_tensor *y;
    ML_TRY(ml_output_tensor(ctx, 0, x->dtype, cd.out_rank, cd.out_dims, &y));
    if (ml_tensor_numel(y) == 0) return ML_STATUS_OK; /* loops below may span huge empty dims */
    if (x->dtype == ML_DOUBLE) {
        if (fused && (z || (s && s->act.kind != NN_ACT_NONE)))
            return ml_node_error(node, ML_ERR_UNSUPPORTED,
                                 "FusedConv supports float, float16 and bfloat16, not double");
        return nn_conv_f64(node, ctx->pool, &cd, x->data, w->data, b ? b->data : NULL, y->data);
    }
    /* the packed weights stand for W only while W is the load-time constant */
    const float *wp = s && s->wp && w->data == node->const_inputs[1]->data ? s->wp : NULL;
    const float *fx = NULL, *fw = NULL, *fb = NULL, *fz = NULL;
    float *ox = NULL, *ow = NULL, *ob = NULL, *oz = NULL, *fy = NULL, *oy = NULL;
    ml_status st = nn_f32_view(node, x, &fx, &ox);
    if (!st && s && s->w32)
        fw = s->w32;
    else if (!st && (!wp || w->dtype == ML_FLOAT))
        st = nn_f32_view(node, w, &fw, &ow);
    if (!st && b) st = nn_f32_view(node, b, &fb, &ob);
    if (!st && z) st = nn_f32_view(node, z, &fz, &oz);
    if (!st) st = nn_f32_target(node, y, &fy, &oy);
    static const nn_act none = {NN_ACT_NONE, 0.0f, 0.0f};
    if (!st)
        st = nn_conv_f32_fused(node, ctx->pool, &cd, fx, fw, wp, fb, fz, s ? &s->act : &none, fy);
    if (!st)
        nn_f32_commit(y, oy);
    else
        free(oy);
    free(ox);
    free(ow);
    free(ob);
    free(oz);
    return st;
}

ml_status nn_conv_transpose_run(ml_kernel_ctx *ctx);

/* ConvTranspose state: a float32 copy of a constant float16/bfloat16 W,
 * shared with other nodes reading the same weight. */
static ml_status pack_w_init(const ml_node *node, void **state) {
    *state = NULL;
    nn_blas_init();
    ML_TRY(nn_check_spatial_attrs(node, false));
    if (!node->const_inputs || node->n_inputs < 2 || !node->const_inputs[1]) return ML_STATUS_OK;
    const ml_tensor *w = node->const_inputs[1];
    if (w->dtype != ML_FLOAT16 && w->dtype != ML_BFLOAT16) return ML_STATUS_OK;
    const float *packed;
    ML_TRY(nn_pack_acquire(node, w, NN_PACK_F32, &packed));
    *state = (void *)packed; /* read-only; released by pack_w_free */
    return ML_STATUS_OK;
}

static void pack_w_free(void *state) {
    nn_pack_release(state);
}

const ml_kernel ml_kernels_conv[] = {
    {"", "Conv", 1, 0, conv_init, conv_free, conv_run},
    {"", "ConvTranspose", 1, 0, pack_w_init, pack_w_free, nn_conv_transpose_run},
    {"com.microsoft", "FusedConv", 1, 0, conv_init, conv_free, conv_run},
    {0},
};
