/* ReduceSum/Mean/Max/Min/Prod/L1/L2/LogSum/LogSumExp/SumSquare.
 *
 * The input is viewed as [outer, R, inner] when the reduced axes are one
 * contiguous block (after dropping size-1 dims); otherwise it is first
 * permuted so the reduced axes come last. Computation runs in float (float
 * and half inputs), double, or int64 (integer inputs, exact and wrapping),
 * so only three typed kernels exist. */
#include "ops/elementwise_opt.h"

#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "ops/elem_util.h"
#include "ops/elementwise_fastmath.h"
#include "ops/reduce_internal.h"

typedef struct red_job {
    int op;
    const void *x;
    void *y;
    size_t R, inner;
    atomic_int *failed; /* set when a worker could not allocate scratch */
    /* Few outer rows with long inner rows are split into column chunks so
     * all threads get work: task t covers row t / nkc, chunk t % nkc. */
    size_t kchunk, nkc;
} red_job;

/* Contiguous sum with several accumulators so the loop vectorises without
 * -ffast-math (reassociation is explicit). */
#define SUM_CONTIG(T, SUF, SQ)                                                                     \
    static T sum_##SUF(const T *x, size_t n) {                                                     \
        T a[8] = {0};                                                                              \
        size_t i = 0;                                                                              \
        for (; i + 8 <= n; i += 8)                                                                 \
            for (int k = 0; k < 8; k++) a[k] += SQ(x[i + k]);                                      \
        T s = 0;                                                                                   \
        for (; i < n; i++) s += SQ(x[i]);                                                          \
        for (int k = 0; k < 8; k++) s += a[k];                                                     \
        return s;                                                                                  \
    }
#define ID(v) (v)
#define SQR(v) ((v) * (v))
SUM_CONTIG(float, f32, ID)
SUM_CONTIG(double, f64, ID)
SUM_CONTIG(float, sq_f32, SQR)
SUM_CONTIG(double, sq_f64, SQR)

static inline int64_t i64_add(int64_t a, int64_t b) {
    return (int64_t)((uint64_t)a + (uint64_t)b);
}
static inline int64_t i64_mul(int64_t a, int64_t b) {
    return (int64_t)((uint64_t)a * (uint64_t)b);
}
static inline int64_t i64_abs(int64_t a) {
    return a < 0 ? (int64_t)(0 - (uint64_t)a) : a;
}

/* T: compute type; ADD/MUL/ABS: arithmetic (wrapping for int64); ISNAN for
 * NaN propagation in Max/Min; LOWEST/HIGHEST: identities of Max/Min. */
#define RED_IMPL(T, SUF, ADD, MUL, ABS, ISNAN, LOWEST, HIGHEST, SQRT, LOG, EXP, EMPTY_MEAN)        \
    static void red_##SUF(void *p, size_t ob, size_t oe) {                                         \
        const red_job *j = p;                                                                      \
        const T *x = j->x;                                                                         \
        T *y = j->y;                                                                               \
        size_t R = j->R, in = j->inner;                                                            \
        T *tmp = NULL;                                                                             \
        if (j->op == RED_LOGSUMEXP) {                                                              \
            tmp = malloc(in * sizeof(T));                                                          \
            if (!tmp) {                                                                            \
                atomic_store(j->failed, 1);                                                        \
                return;                                                                            \
            }                                                                                      \
        }                                                                                          \
        for (size_t t = ob; t < oe; t++) {                                                         \
            /* task t: outer row o, inner columns [k0, k1) */                                      \
            size_t o = t / j->nkc, k0 = (t % j->nkc) * j->kchunk;                                  \
            size_t k1 = k0 + j->kchunk < in ? k0 + j->kchunk : in;                                 \
            const T *xs = x + o * R * in;                                                          \
            T *ys = y + o * in;                                                                    \
            switch (j->op) {                                                                       \
            case RED_SUM:                                                                          \
            case RED_MEAN:                                                                         \
            case RED_LOGSUM:                                                                       \
            case RED_L1:                                                                           \
            case RED_L2:                                                                           \
            case RED_SUMSQ:                                                                        \
                for (size_t k = k0; k < k1; k++) ys[k] = 0;                                        \
                for (size_t r = 0; r < R; r++) {                                                   \
                    const T *xr = xs + r * in;                                                     \
                    if (j->op == RED_L1)                                                           \
                        for (size_t k = k0; k < k1; k++) ys[k] = ADD(ys[k], ABS(xr[k]));           \
                    else if (j->op == RED_L2 || j->op == RED_SUMSQ)                                \
                        for (size_t k = k0; k < k1; k++) ys[k] = ADD(ys[k], MUL(xr[k], xr[k]));    \
                    else                                                                           \
                        for (size_t k = k0; k < k1; k++) ys[k] = ADD(ys[k], xr[k]);                \
                }                                                                                  \
                if (j->op == RED_MEAN)                                                             \
                    for (size_t k = k0; k < k1; k++) ys[k] = R ? ys[k] / (T)R : (T)(EMPTY_MEAN);   \
                if (j->op == RED_L2)                                                               \
                    for (size_t k = k0; k < k1; k++) ys[k] = (T)SQRT(ys[k]);                       \
                if (j->op == RED_LOGSUM)                                                           \
                    for (size_t k = k0; k < k1; k++) ys[k] = (T)LOG(ys[k]);                        \
                break;                                                                             \
            case RED_PROD:                                                                         \
                for (size_t k = k0; k < k1; k++) ys[k] = 1;                                        \
                for (size_t r = 0; r < R; r++)                                                     \
                    for (size_t k = k0; k < k1; k++) ys[k] = MUL(ys[k], xs[r * in + k]);           \
                break;                                                                             \
            case RED_MAX:                                                                          \
            case RED_LOGSUMEXP:                                                                    \
                for (size_t k = k0; k < k1; k++) ys[k] = LOWEST;                                   \
                for (size_t r = 0; r < R; r++)                                                     \
                    for (size_t k = k0; k < k1; k++) {                                             \
                        T v = xs[r * in + k];                                                      \
                        ys[k] = (v > ys[k] || ISNAN(v)) ? v : ys[k];                               \
                    }                                                                              \
                if (j->op == RED_MAX) break;                                                       \
                /* log(sum(exp(x - max))) + max, stable for large inputs */                        \
                for (size_t k = k0; k < k1; k++) tmp[k] = 0;                                       \
                for (size_t r = 0; r < R; r++)                                                     \
                    for (size_t k = k0; k < k1; k++)                                               \
                        if (isfinite((double)ys[k])) tmp[k] += (T)EXP(xs[r * in + k] - ys[k]);     \
                for (size_t k = k0; k < k1; k++)                                                   \
                    if (isfinite((double)ys[k])) ys[k] = (T)LOG(tmp[k]) + ys[k];                   \
                break;                                                                             \
            case RED_MIN:                                                                          \
                for (size_t k = k0; k < k1; k++) ys[k] = HIGHEST;                                  \
                for (size_t r = 0; r < R; r++)                                                     \
                    for (size_t k = k0; k < k1; k++) {                                             \
                        T v = xs[r * in + k];                                                      \
                        ys[k] = (v < ys[k] || ISNAN(v)) ? v : ys[k];                               \
                    }                                                                              \
                break;                                                                             \
            }                                                                                      \
        }                                                                                          \
        free(tmp);                                                                                 \
    }

#define F_ADD(a, b) ((a) + (b))
#define F_MUL(a, b) ((a) * (b))
#define NO_NAN(v) 0
RED_IMPL(float, f32, F_ADD, F_MUL, fabsf, isnan, -INFINITY, INFINITY, sqrtf, logf, fm_expf, NAN)
RED_IMPL(double, f64, F_ADD, F_MUL, fabs, isnan, -INFINITY, INFINITY, sqrt, log, exp, NAN)
RED_IMPL(int64_t, i64, i64_add, i64_mul, i64_abs, NO_NAN, INT64_MIN, INT64_MAX, sqrt, log, exp, 0)

/* Fast row reductions when inner == 1 (reducing the last axis). */
static void red_rows_f32(void *p, size_t ob, size_t oe) {
    const red_job *j = p;
    const float *x = j->x;
    float *y = j->y;
    size_t R = j->R;
    for (size_t o = ob; o < oe; o++) {
        const float *xs = x + o * R;
        if (j->op == RED_MAX || j->op == RED_MIN) {
            y[o] = red_max_f32(xs, R, j->op == RED_MAX ? 1 : -1);
            continue;
        }
        float s = j->op == RED_SUMSQ || j->op == RED_L2 ? sum_sq_f32(xs, R) : sum_f32(xs, R);
        if (j->op == RED_MEAN) s = R ? s / (float)R : NAN;
        if (j->op == RED_L2) s = sqrtf(s);
        if (j->op == RED_LOGSUM) s = logf(s);
        y[o] = s;
    }
}
static void red_rows_f64(void *p, size_t ob, size_t oe) {
    const red_job *j = p;
    const double *x = j->x;
    double *y = j->y;
    size_t R = j->R;
    for (size_t o = ob; o < oe; o++) {
        const double *xs = x + o * R;
        double s = j->op == RED_SUMSQ || j->op == RED_L2 ? sum_sq_f64(xs, R) : sum_f64(xs, R);
        if (j->op == RED_MEAN) s = R ? s / (double)R : NAN;
        if (j->op == RED_L2) s = sqrt(s);
        if (j->op == RED_LOGSUM) s = log(s);
        y[o] = s;
    }
}

/* Copies src (dims) into dst with dims reordered by perm (dst dim d is src
 * dim perm[d]); esz-byte elements. */
static void permute_copy(const void *src, void *dst, int rank, const int64_t *dims, const int *perm,
                         size_t esz) {
    int64_t sstride[ML_MAX_RANK], pdims[ML_MAX_RANK], pstride[ML_MAX_RANK], idx[ML_MAX_RANK];
    int64_t s = 1;
    for (int d = rank - 1; d >= 0; d--) {
        sstride[d] = s;
        s *= dims[d];
    }
    size_t n = 1;
    for (int d = 0; d < rank; d++) {
        pdims[d] = dims[perm[d]];
        pstride[d] = sstride[perm[d]];
        idx[d] = 0;
        n *= (size_t)pdims[d];
    }
    const char *sp = src;
    char *dp = dst;
    for (size_t i = 0; i < n; i++) {
        int64_t off = 0;
        for (int d = 0; d < rank; d++) off += idx[d] * pstride[d];
        memcpy(dp + i * esz, sp + (size_t)off * esz, esz);
        for (int d = rank - 1; d >= 0; d--) {
            if (++idx[d] < pdims[d]) break;
            idx[d] = 0;
        }
    }
}

/* Lowest (or highest) value of an integer type, as the int64 whose
 * truncation to the type yields it. */
static int64_t type_limit(ml_dtype dt, bool lowest) {
    switch (dt) {
    case ML_INT8:
        return lowest ? INT8_MIN : INT8_MAX;
    case ML_INT16:
        return lowest ? INT16_MIN : INT16_MAX;
    case ML_INT32:
        return lowest ? INT32_MIN : INT32_MAX;
    case ML_UINT8:
        return lowest ? 0 : UINT8_MAX;
    case ML_UINT16:
        return lowest ? 0 : UINT16_MAX;
    case ML_UINT32:
        return lowest ? 0 : UINT32_MAX;
    case ML_UINT64:
        return lowest ? 0 : -1; /* all bits set */
    case ML_BOOL:
        return lowest ? 0 : 1;
    default:
        return lowest ? INT64_MIN : INT64_MAX;
    }
}

/* Reads the axes (attribute or input by opset) into mask. Returns with
 * *noop set when axes are empty and noop_with_empty_axes is 1. */
static ml_status read_axes(ml_kernel_ctx *ctx, int op, int rank, bool *mask, bool *noop) {
    const ml_node *node = ctx->node;
    bool from_input = (op == RED_SUM && node->opset >= 13) || node->opset >= 18;
    const int64_t *axes = NULL;
    size_t n = 0;
    int64_t buf[ML_MAX_RANK];
    const ml_tensor *at = from_input ? ml_input(ctx, 1) : NULL;
    if (at) {
        if (at->dtype != ML_INT64 && at->dtype != ML_INT32)
            return ml_node_error(node, ML_ERR_INVALID_ARGUMENT, "axes must be int64, got %s",
                                 ml_dtype_name(at->dtype));
        n = ml_tensor_numel(at);
        if (n > ML_MAX_RANK)
            return ml_node_error(node, ML_ERR_INVALID_ARGUMENT, "too many axes (%zu)", n);
        for (size_t i = 0; i < n; i++) buf[i] = elem_load_i64(at->dtype, at->data, i);
        axes = buf;
    } else {
        n = ml_attr_ints(node, "axes", &axes);
    }
    *noop = false;
    for (int d = 0; d < rank; d++) mask[d] = n == 0;
    if (n == 0) {
        *noop = ml_attr_int(node, "noop_with_empty_axes", 0) != 0;
        return ML_STATUS_OK;
    }
    for (size_t i = 0; i < n; i++) {
        int a;
        if (rank == 0 && (axes[i] == 0 || axes[i] == -1)) continue; /* scalar: nothing to do */
        ML_TRY(ml_normalize_axis(node, axes[i], rank, &a));
        mask[a] = true;
    }
    return ML_STATUS_OK;
}

ml_status red_run_reduce(ml_kernel_ctx *ctx, int op) {
    const ml_tensor *x;
    ML_TRY(ml_require_input(ctx, 0, &x));
    ml_dtype dt = x->dtype;
    if (!ml_dtype_is_float(dt) && !ml_dtype_is_integer(dt) && dt != ML_BOOL)
        return ml_node_error(ctx->node, ML_ERR_INVALID_ARGUMENT, "input type %s is not supported",
                             ml_dtype_name(dt));
    bool mask[ML_MAX_RANK], noop;
    ML_TRY(read_axes(ctx, op, x->rank, mask, &noop));
    if (noop) return ml_output_view(ctx, 0, x, x->rank, x->dims);
    bool keep = ml_attr_int(ctx->node, "keepdims", 1) != 0;

    int orank = 0;
    int64_t odims[ML_MAX_RANK];
    for (int d = 0; d < x->rank; d++) {
        if (!mask[d])
            odims[orank++] = x->dims[d];
        else if (keep)
            odims[orank++] = 1;
    }
    ml_tensor *y;
    ML_TRY(ml_output_tensor(ctx, 0, dt, orank, odims, &y));

    /* segments of same kind (kept/reduced), size-1 dims dropped */
    int nseg = 0, n_red_seg = 0;
    int64_t seg[ML_MAX_RANK];
    bool segred[ML_MAX_RANK];
    for (int d = 0; d < x->rank; d++) {
        if (x->dims[d] == 1) continue;
        if (nseg > 0 && segred[nseg - 1] == mask[d]) {
            seg[nseg - 1] *= x->dims[d];
            continue;
        }
        seg[nseg] = x->dims[d];
        segred[nseg] = mask[d];
        n_red_seg += mask[d];
        nseg++;
    }

    /* compute type and working copy of the input */
    bool nonlinear = op == RED_L2 || op == RED_LOGSUM || op == RED_LOGSUMEXP;
    ml_dtype ct = dt == ML_FLOAT || elem_is_half(dt) ? ML_FLOAT
                  : dt == ML_DOUBLE || nonlinear     ? ML_DOUBLE
                                                     : ML_INT64;
    size_t n = ml_tensor_numel(x), nout = ml_tensor_numel(y), csz = ml_dtype_size(ct);
    void *work = NULL, *yout = NULL;
    const void *xin = x->data;
    ml_status st = ML_STATUS_OK;
    if (ct != dt) {
        work = malloc(n * csz + 1);
        if (!work) return ml_error(ML_ERR_OUT_OF_MEMORY, "out of memory in reduction");
        if (elem_is_half(dt)) elem_half_to_float(dt, x->data, work, n);
        for (size_t i = 0; i < n && !elem_is_half(dt); i++) {
            if (ct == ML_INT64)
                ((int64_t *)work)[i] = elem_load_i64(dt, x->data, i);
            else
                elem_store_f64(ct, work, i, elem_load_f64(dt, x->data, i));
        }
        xin = work;
        yout = malloc(nout * csz + 1);
        if (!yout) {
            free(work);
            return ml_error(ML_ERR_OUT_OF_MEMORY, "out of memory in reduction");
        }
    }
    void *permuted = NULL;
    atomic_int failed = 0;
    red_job j = {op, xin, yout ? yout : y->data, 1, 1, &failed, 1, 1};
    size_t outer = 1;
    if (n_red_seg <= 1) {
        bool seen = false;
        for (int s = 0; s < nseg; s++) {
            if (segred[s])
                j.R = (size_t)seg[s], seen = true;
            else if (seen)
                j.inner *= (size_t)seg[s];
            else
                outer *= (size_t)seg[s];
        }
    } else {
        int perm[ML_MAX_RANK], k = 0;
        for (int s = 0; s < nseg; s++)
            if (!segred[s]) perm[k++] = s;
        for (int s = 0; s < nseg; s++)
            if (segred[s]) perm[k++] = s;
        for (int s = 0; s < nseg; s++) {
            if (segred[s])
                j.R *= (size_t)seg[s];
            else
                outer *= (size_t)seg[s];
        }
        permuted = malloc(n * csz + 1);
        if (!permuted) {
            st = ml_error(ML_ERR_OUT_OF_MEMORY, "out of memory in reduction");
            goto done;
        }
        permute_copy(xin, permuted, nseg, seg, perm, csz);
        j.x = permuted;
    }
    if (nout > 0 && outer * j.inner != nout) {
        st = ml_node_error(ctx->node, ML_ERR_INTERNAL, "reduction shape mismatch");
        goto done;
    }
    if (nout > 0) {
        ml_range_fn fn = ct == ML_FLOAT ? red_f32 : ct == ML_DOUBLE ? red_f64 : red_i64;
        bool rows = j.inner == 1 && (op == RED_SUM || op == RED_MEAN || op == RED_L2 ||
                                     op == RED_SUMSQ || op == RED_LOGSUM);
        if (j.inner == 1 && ct == ML_FLOAT && (rows || op == RED_MAX || op == RED_MIN))
            fn = red_rows_f32;
        if (rows && ct == ML_DOUBLE) fn = red_rows_f64;
        size_t tasks = outer;
        j.kchunk = j.inner ? j.inner : 1;
        j.nkc = 1;
        if (fn != red_rows_f32 && fn != red_rows_f64 && outer < 8 && j.inner >= 512) {
            size_t nkc = (8 + outer - 1) / outer;
            if (nkc > j.inner / 256) nkc = j.inner / 256;
            j.kchunk = (j.inner + nkc - 1) / nkc;
            j.nkc = (j.inner + j.kchunk - 1) / j.kchunk;
            tasks = outer * j.nkc;
        }
        size_t per = j.R * j.kchunk + 1;
        size_t min_chunk = per >= ELEM_PAR_MIN ? 1 : ELEM_PAR_MIN / per;
        ml_parallel_for(ctx->pool, tasks, min_chunk, fn, &j);
        if (atomic_load(&failed)) st = ml_error(ML_ERR_OUT_OF_MEMORY, "out of memory in reduction");
    }
    if (j.R == 0 && ct == ML_INT64 && (op == RED_MAX || op == RED_MIN) && yout) {
        /* empty max/min: the lowest/highest value of the output type, not of int64 */
        int64_t lim = type_limit(dt, op == RED_MAX);
        for (size_t i = 0; i < nout; i++) ((int64_t *)yout)[i] = lim;
    }
    if (yout && elem_is_half(dt)) {
        elem_float_to_half(dt, yout, y->data, nout);
    } else if (yout) {
        for (size_t i = 0; i < nout; i++) {
            if (ct == ML_INT64)
                elem_store_i64(dt, y->data, i, ((int64_t *)yout)[i]);
            else
                elem_store_f64(dt, y->data, i, elem_load_f64(ct, yout, i));
        }
    }
done:
    free(work);
    free(yout);
    free(permuted);
    return st;
}
