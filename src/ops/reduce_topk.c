/* TopK: the K largest (or smallest) elements along an axis with their
 * indices, best first; equal values keep the lower index first; NaN ranks
 * above every number. Selection keeps a K-element heap whose root is the
 * worst kept element, so the cost is O(R log K) per slice. */
#include "ops/elementwise_opt.h"

#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "ops/elem_util.h"
#include "ops/elementwise_types.h"
#include "ops/reduce_internal.h"

typedef struct topk_job {
    const void *x;
    void *vals;
    int64_t *idx;
    size_t R, inner, K;
    bool largest;
    atomic_int *failed; /* set when a worker could not allocate scratch */
} topk_job;

#define TOPK_IMPL(NAME, ISNAN, T, SUF, DT)                                                         \
    typedef struct {                                                                               \
        T v;                                                                                       \
        int64_t i;                                                                                 \
    } item_##SUF;                                                                                  \
    /* true when a ranks strictly before b */                                                      \
    static inline bool before_##SUF(const item_##SUF *a, const item_##SUF *b, bool largest) {      \
        int c;                                                                                     \
        bool an = ISNAN(a->v), bn = ISNAN(b->v);                                                   \
        if (an || bn)                                                                              \
            c = an == bn ? 0 : (an ? 1 : -1);                                                      \
        else                                                                                       \
            c = a->v > b->v ? 1 : (a->v < b->v ? -1 : 0);                                          \
        if (!largest) c = -c;                                                                      \
        return c > 0 || (c == 0 && a->i < b->i);                                                   \
    }                                                                                              \
    static void sift_##SUF(item_##SUF *h, size_t n, size_t p, bool largest) {                      \
        for (;;) {                                                                                 \
            size_t l = 2 * p + 1, w = p;                                                           \
            if (l < n && before_##SUF(&h[w], &h[l], largest)) w = l;                               \
            if (l + 1 < n && before_##SUF(&h[w], &h[l + 1], largest)) w = l + 1;                   \
            if (w == p) return;                                                                    \
            item_##SUF t = h[p];                                                                   \
            h[p] = h[w];                                                                           \
            h[w] = t;                                                                              \
            p = w;                                                                                 \
        }                                                                                          \
    }                                                                                              \
    static void NAME##_##SUF(void *p, size_t sb, size_t se) {                                      \
        const topk_job *j = p;                                                                     \
        size_t K = j->K, R = j->R, in = j->inner;                                                  \
        item_##SUF *h = malloc((K ? K : 1) * sizeof *h);                                           \
        if (!h) {                                                                                  \
            atomic_store(j->failed, 1);                                                            \
            return;                                                                                \
        }                                                                                          \
        for (size_t s = sb; s < se; s++) {                                                         \
            size_t o = s / in, k = s % in;                                                         \
            const T *xs = (const T *)j->x + o * R * in + k;                                        \
            for (size_t r = 0; r < K; r++) h[r] = (item_##SUF){xs[r * in], (int64_t)r};            \
            for (size_t q = K / 2; q-- > 0;) sift_##SUF(h, K, q, j->largest);                      \
            for (size_t r = K; r < R && K > 0; r++) {                                              \
                item_##SUF it = {xs[r * in], (int64_t)r};                                          \
                if (before_##SUF(&it, &h[0], j->largest)) {                                        \
                    h[0] = it;                                                                     \
                    sift_##SUF(h, K, 0, j->largest);                                               \
                }                                                                                  \
            }                                                                                      \
            /* pop worst-first into the back: best ends up first */                                \
            T *vo = (T *)j->vals + o * K * in + k;                                                 \
            int64_t *io = j->idx + o * K * in + k;                                                 \
            for (size_t n = K; n > 0; n--) {                                                       \
                vo[(n - 1) * in] = h[0].v;                                                         \
                io[(n - 1) * in] = h[0].i;                                                         \
                h[0] = h[n - 1];                                                                   \
                sift_##SUF(h, n - 1, 0, j->largest);                                               \
            }                                                                                      \
        }                                                                                          \
        free(h);                                                                                   \
    }
#define NO_NAN(v) false
ELEM_FLOAT_TYPES(TOPK_IMPL, topk, isnan)
ELEM_INT_TYPES(TOPK_IMPL, topk, NO_NAN)
static const ml_range_fn topk_tab[ML_DTYPE_COUNT] = {ELEM_NUM_TYPES(ELEM_ENTRY, topk, _)};

ml_status red_run_topk(ml_kernel_ctx *ctx) {
    const ml_tensor *x;
    ML_TRY(ml_require_input(ctx, 0, &x));
    if (x->rank == 0)
        return ml_node_error(ctx->node, ML_ERR_INVALID_ARGUMENT, "input must have rank >= 1");
    int64_t k;
    if (ctx->node->opset < 10) {
        k = ml_attr_int(ctx->node, "k", -1);
    } else {
        const ml_tensor *kt = ml_input(ctx, 1);
        ML_TRY(elem_scalar_i64(ctx->node, kt, "K", &k));
    }
    int axis;
    ML_TRY(ml_normalize_axis(ctx->node, ml_attr_int(ctx->node, "axis", -1), x->rank, &axis));
    if (k < 0 || k > x->dims[axis])
        return ml_node_error(ctx->node, ML_ERR_INVALID_ARGUMENT,
                             "K = %lld must be between 0 and the axis size %lld", (long long)k,
                             (long long)x->dims[axis]);
    bool largest = ctx->node->opset < 11 || ml_attr_int(ctx->node, "largest", 1) != 0;
    ml_dtype dt = x->dtype;
    ml_dtype wdt = elem_is_half(dt) ? ML_FLOAT : dt;
    ml_range_fn fn = wdt > 0 && wdt < ML_DTYPE_COUNT ? topk_tab[wdt] : NULL;
    if (!fn)
        return ml_node_error(ctx->node, ML_ERR_INVALID_ARGUMENT, "input type %s is not supported",
                             ml_dtype_name(dt));
    int64_t odims[ML_MAX_RANK];
    for (int d = 0; d < x->rank; d++) odims[d] = d == axis ? k : x->dims[d];
    ml_tensor *vals, *idx;
    ML_TRY(ml_output_tensor(ctx, 0, dt, x->rank, odims, &vals));
    ML_TRY(ml_output_tensor(ctx, 1, ML_INT64, x->rank, odims, &idx));
    red_split s = red_split_axis(x, axis);
    ml_tensor *fx = NULL, *fv = NULL;
    ml_status st = ML_STATUS_OK;
    atomic_int failed = 0;
    topk_job j = {x->data, vals->data, idx->data, s.R, s.inner, (size_t)k, largest, &failed};
    if (wdt != dt) {
        st = elem_half_tensor_to_float(x, &fx);
        if (!st) st = ml_tensor_create(ML_FLOAT, x->rank, odims, &fv);
        if (st) goto done;
        j.x = fx->data;
        j.vals = fv->data;
    }
    size_t per = s.R + 1;
    ml_parallel_for(ctx->pool, s.outer * s.inner,
                    per >= ELEM_PAR_MIN / 8 ? 1 : ELEM_PAR_MIN / 8 / per, fn, &j);
    if (atomic_load(&failed)) st = ml_error(ML_ERR_OUT_OF_MEMORY, "out of memory in TopK");
    if (fv) elem_float_to_half(dt, fv->data, vals->data, ml_tensor_numel(vals));
done:
    ml_tensor_free(fx);
    ml_tensor_free(fv);
    return st;
}
