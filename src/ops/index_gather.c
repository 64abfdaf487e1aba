/* Gather, GatherElements, GatherND. Indices (int32 or int64, negative
 * counting from the end) are converted and bounds-checked once up front, so
 * the copy loops never see an out-of-range index. */
#include <stdlib.h>

#include "ops/index_internal.h"
#include "ops/shape_util.h"

ml_status index_prepare(const ml_node *node, const ml_tensor *t, const char *what, int64_t dim,
                        int64_t **out) {
    ML_TRY(shape_ints_alloc(node, t, what, out));
    int64_t *v = *out;
    size_t n = ml_tensor_numel(t);
    for (size_t i = 0; i < n; i++) {
        int64_t x = v[i] < 0 ? v[i] + dim : v[i];
        if (x < 0 || x >= dim) {
            ml_status st = ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                                         "%s[%zu] = %lld is out of range for an axis of size %lld",
                                         what, i, (long long)v[i], (long long)dim);
            free(v);
            *out = NULL;
            return st;
        }
        v[i] = x;
    }
    return ML_STATUS_OK;
}

/* ---- Gather ---- */

typedef struct {
    const char *src;
    char *dst;
    const int64_t *idx;
    size_t n_idx, block, axis_dim; /* block: bytes of one slice after the axis */
} gather_job;

/* Output rows [begin, end) where row = outer * n_idx + i. Walks whole runs of
 * indices per outer slice; constant-size memcpy compiles to single moves. */
#define GATHER_RUN(B)                                                                              \
    for (size_t k = 0; k < cnt; k++) memcpy(d + k * (B), base + (size_t)idx[k] * (B), (B))

static void gather_rows(void *arg, size_t begin, size_t end) {
    const gather_job *j = arg;
    size_t b = j->block, n = j->n_idx;
    size_t o = begin / n, i = begin % n, r = begin;
    while (r < end) {
        size_t cnt = n - i < end - r ? n - i : end - r;
        const char *base = j->src + o * j->axis_dim * b;
        char *d = j->dst + r * b;
        const int64_t *idx = j->idx + i;
        switch (b) {
        case 1:
            GATHER_RUN(1);
            break;
        case 2:
            GATHER_RUN(2);
            break;
        case 4:
            GATHER_RUN(4);
            break;
        case 8:
            GATHER_RUN(8);
            break;
        case 16:
            GATHER_RUN(16);
            break;
        default:
            GATHER_RUN(b);
            break;
        }
        r += cnt;
        i = 0;
        o++;
    }
}

ml_status ml_index_gather_run(ml_kernel_ctx *ctx) {
    const ml_node *node = ctx->node;
    const ml_tensor *x, *ind;
    ML_TRY(ml_require_input(ctx, 0, &x));
    ML_TRY(ml_require_input(ctx, 1, &ind));
    if (x->rank == 0)
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT, "data must have rank >= 1");
    int axis;
    ML_TRY(ml_normalize_axis(node, ml_attr_int(node, "axis", 0), x->rank, &axis));
    int r = x->rank - 1 + ind->rank;
    if (r > ML_MAX_RANK)
        return ml_node_error(node, ML_ERR_UNSUPPORTED, "output rank %d is over the limit", r);
    int64_t dims[ML_MAX_RANK];
    int k = 0;
    for (int i = 0; i < axis; i++) dims[k++] = x->dims[i];
    for (int i = 0; i < ind->rank; i++) dims[k++] = ind->dims[i];
    for (int i = axis + 1; i < x->rank; i++) dims[k++] = x->dims[i];
    int64_t *idx;
    ML_TRY(index_prepare(node, ind, "indices", x->dims[axis], &idx));
    ml_tensor *y;
    void *dst = NULL;
    ml_status st = ml_output_tensor(ctx, 0, x->dtype, r, dims, &y);
    if (!st) st = shape_out_begin(node, y, &dst);
    if (!st) {
        gather_job j = {x->data,
                        dst,
                        idx,
                        ml_tensor_numel(ind),
                        shape_prod(x->dims, axis + 1, x->rank) * ml_dtype_size(x->dtype),
                        (size_t)x->dims[axis]};
        size_t rows = shape_prod(x->dims, 0, axis) * j.n_idx;
        if (j.block && rows) ml_parallel_for(ctx->pool, rows, 65536 / j.block + 1, gather_rows, &j);
        st = shape_out_end(y, dst, ML_STATUS_OK);
    }
    free(idx);
    return st;
}

/* ---- GatherElements ---- */

#define GATHER_EL(T)                                                                               \
    for (size_t e = 0; e < n; e++) {                                                               \
        int64_t off = 0;                                                                           \
        for (int k = 0; k < r; k++) off += (k == axis ? idx[e] : c[k]) * xs[k];                    \
        ((T *)dst)[e] = ((const T *)x->data)[off];                                                 \
        for (int k = r - 1; k >= 0; k--) {                                                         \
            if (++c[k] < ind->dims[k]) break;                                                      \
            c[k] = 0;                                                                              \
        }                                                                                          \
    }

typedef struct {
    uint64_t a, b;
} index_u128;

ml_status ml_index_gatherelements_run(ml_kernel_ctx *ctx) {
    const ml_node *node = ctx->node;
    const ml_tensor *x, *ind;
    ML_TRY(ml_require_input(ctx, 0, &x));
    ML_TRY(ml_require_input(ctx, 1, &ind));
    if (x->rank == 0 || ind->rank != x->rank)
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                             "data (rank %d) and indices (rank %d) must have the same rank >= 1",
                             x->rank, ind->rank);
    int axis, r = x->rank;
    ML_TRY(ml_normalize_axis(node, ml_attr_int(node, "axis", 0), r, &axis));
    for (int k = 0; k < r; k++)
        if (k != axis && ind->dims[k] > x->dims[k])
            return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                                 "indices dim %d (%lld) exceeds the data dim (%lld)", k,
                                 (long long)ind->dims[k], (long long)x->dims[k]);
    int64_t *idx;
    ML_TRY(index_prepare(node, ind, "indices", x->dims[axis], &idx));
    ml_tensor *y;
    void *dst = NULL;
    ml_status st = ml_output_tensor(ctx, 0, x->dtype, r, ind->dims, &y);
    if (!st) st = shape_out_begin(node, y, &dst);
    if (!st) {
        int64_t xs[ML_MAX_RANK], c[ML_MAX_RANK] = {0};
        shape_strides(r, x->dims, xs);
        size_t n = ml_tensor_numel(ind);
        switch (ml_dtype_size(x->dtype)) {
        case 1:
            GATHER_EL(uint8_t);
            break;
        case 2:
            GATHER_EL(uint16_t);
            break;
        case 4:
            GATHER_EL(uint32_t);
            break;
        case 8:
            GATHER_EL(uint64_t);
            break;
        default:
            GATHER_EL(index_u128);
            break;
        }
        st = shape_out_end(y, dst, ML_STATUS_OK);
    }
    free(idx);
    return st;
}

/* ---- GatherND ---- */

ml_status ml_index_gathernd_run(ml_kernel_ctx *ctx) {
    const ml_node *node = ctx->node;
    const ml_tensor *x, *ind;
    ML_TRY(ml_require_input(ctx, 0, &x));
    ML_TRY(ml_require_input(ctx, 1, &ind));
    int64_t b = node->opset >= 12 ? ml_attr_int(node, "batch_dims", 0) : 0;
    int r = x->rank, q = ind->rank;
    if (r < 1 || q < 1)
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT, "data and indices must have rank >= 1");
    if (b < 0 || b >= q || b >= r)
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                             "batch_dims %lld must be less than both ranks (%d, %d)", (long long)b,
                             r, q);
    int64_t m = ind->dims[q - 1];
    if (m < 1 || m > r - b)
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                             "indices last dim %lld must be in [1, %lld]", (long long)m,
                             (long long)(r - b));
    for (int k = 0; k < b; k++)
        if (x->dims[k] != ind->dims[k])
            return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                                 "batch dim %d differs: data %lld, indices %lld", k,
                                 (long long)x->dims[k], (long long)ind->dims[k]);
    int orank = q - 1 + r - (int)(b + m);
    if (orank > ML_MAX_RANK)
        return ml_node_error(node, ML_ERR_UNSUPPORTED, "output rank %d is over the limit", orank);
    int64_t dims[ML_MAX_RANK];
    int k = 0;
    for (int i = 0; i < q - 1; i++) dims[k++] = ind->dims[i];
    for (int i = (int)(b + m); i < r; i++) dims[k++] = x->dims[i];
    int64_t *idx;
    ML_TRY(shape_ints_alloc(node, ind, "indices", &idx));
    int64_t xs[ML_MAX_RANK];
    shape_strides(r, x->dims, xs);
    size_t n_batch = shape_prod(x->dims, 0, (int)b);
    size_t n_tuples = ml_tensor_numel(ind) / (size_t)m; /* over all batches */
    size_t per_batch = n_batch ? n_tuples / n_batch : 0;
    size_t slice = shape_prod(x->dims, (int)(b + m), r), esz = ml_dtype_size(x->dtype);
    size_t batch_stride = shape_prod(x->dims, (int)b, r);
    ml_status st = ML_STATUS_OK;
    /* validate and turn every tuple into an element offset inside its batch */
    for (size_t t = 0; t < n_tuples && !st; t++) {
        int64_t off = 0;
        for (int64_t j = 0; j < m; j++) {
            int64_t dim = x->dims[b + j], v = idx[t * (size_t)m + (size_t)j];
            if (v < 0) v += dim;
            if (v < 0 || v >= dim) {
                st = ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                                   "index %lld is out of range for data axis %lld of size %lld",
                                   (long long)idx[t * (size_t)m + (size_t)j], (long long)(b + j),
                                   (long long)dim);
                break;
            }
            off += v * xs[b + j];
        }
        idx[t] = off; /* t <= t*m: never overwrites an unread entry */
    }
    ml_tensor *y;
    void *dst = NULL;
    if (!st) st = ml_output_tensor(ctx, 0, x->dtype, orank, dims, &y);
    if (!st) st = shape_out_begin(node, y, &dst);
    if (!st) {
        for (size_t t = 0; t < n_tuples; t++) {
            size_t bi = per_batch ? t / per_batch : 0;
            memcpy((char *)dst + t * slice * esz,
                   (const char *)x->data + (bi * batch_stride + (size_t)idx[t]) * esz, slice * esz);
        }
        st = shape_out_end(y, dst, ML_STATUS_OK);
    }
    free(idx);
    return st;
}
