/* Concat and Split: joining and cutting along one axis. Both reduce to
 * `outer` rows of contiguous byte runs, one run per input/output. */
#include <stdlib.h>

#include "ops/shape_internal.h"
#include "ops/shape_util.h"

#define CONCAT_MAX_INPUTS 4096

typedef struct {
    size_t n;
    const char **src; /* input k's data */
    size_t *bytes;    /* input k's bytes per outer row */
    char *dst;
    size_t row_bytes; /* output bytes per outer row */
} concat_job;

static void concat_rows(void *arg, size_t begin, size_t end) {
    const concat_job *j = arg;
    for (size_t o = begin; o < end; o++) {
        char *d = j->dst + o * j->row_bytes;
        for (size_t k = 0; k < j->n; k++) {
            memcpy(d, j->src[k] + o * j->bytes[k], j->bytes[k]);
            d += j->bytes[k];
        }
    }
}

ml_status ml_shape_concat_init(const ml_node *node, void **state) {
    if (!ml_node_attr(node, "axis") && node->opset >= 4)
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT, "attribute 'axis' is required");
    return ML_STATUS_OK;
}

ml_status ml_shape_concat_run(ml_kernel_ctx *ctx) {
    const ml_node *node = ctx->node;
    size_t n = ctx->n_inputs;
    if (n == 0) return ml_node_error(node, ML_ERR_INVALID_ARGUMENT, "needs at least one input");
    if (n > CONCAT_MAX_INPUTS)
        return ml_node_error(node, ML_ERR_RESOURCE_EXHAUSTED, "%zu inputs exceed the limit %d", n,
                             CONCAT_MAX_INPUTS);
    const ml_tensor *first;
    ML_TRY(ml_require_input(ctx, 0, &first));
    if (first->rank == 0)
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT, "cannot concatenate scalars (rank 0)");
    const ml_attr *a = ml_node_attr(node, "axis");
    if (!a && node->opset >= 4)
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT, "attribute 'axis' is required");
    int axis;
    ML_TRY(ml_normalize_axis(node, a ? a->i : 1, first->rank, &axis));
    int64_t dims[ML_MAX_RANK];
    memcpy(dims, first->dims, sizeof(int64_t) * (size_t)first->rank);
    dims[axis] = 0;
    for (size_t k = 0; k < n; k++) {
        const ml_tensor *t;
        ML_TRY(ml_require_input(ctx, k, &t));
        if (t->dtype != first->dtype || t->rank != first->rank)
            return ml_node_error(
                node, ML_ERR_INVALID_ARGUMENT, "input %zu is %s rank %d but input 0 is %s rank %d",
                k, ml_dtype_name(t->dtype), t->rank, ml_dtype_name(first->dtype), first->rank);
        for (int i = 0; i < t->rank; i++)
            if (i != axis && t->dims[i] != first->dims[i]) {
                char s0[256], s1[256];
                return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                                     "input %zu has shape %s, incompatible with %s outside axis %d",
                                     k, ml_shape_format(t->rank, t->dims, s1, sizeof s1),
                                     ml_shape_format(first->rank, first->dims, s0, sizeof s0),
                                     axis);
            }
        dims[axis] += t->dims[axis];
    }
    ml_tensor *y;
    ML_TRY(ml_output_tensor(ctx, 0, first->dtype, first->rank, dims, &y));
    size_t total = ml_tensor_numel(y);
    if (total == 0) return ML_STATUS_OK;
    size_t esz = ml_dtype_size(first->dtype);
    const char **src = malloc(n * sizeof *src);
    size_t *bytes = malloc(n * sizeof *bytes);
    void *dst = NULL;
    ml_status st = !src || !bytes ? ml_error(ML_ERR_OUT_OF_MEMORY, "Concat: %zu inputs", n)
                                  : shape_out_begin(node, y, &dst);
    if (!st) {
        size_t inner = shape_prod(first->dims, axis + 1, first->rank) * esz;
        for (size_t k = 0; k < n; k++) {
            src[k] = ml_input(ctx, k)->data;
            bytes[k] = (size_t)ml_input(ctx, k)->dims[axis] * inner;
        }
        concat_job j = {n, src, bytes, dst, (size_t)dims[axis] * inner};
        size_t outer = shape_prod(dims, 0, axis);
        ml_parallel_for(ctx->pool, outer, 65536 / (j.row_bytes + 1) + 1, concat_rows, &j);
        st = shape_out_end(y, dst, ML_STATUS_OK);
    }
    free(src);
    free(bytes);
    return st;
}

/* Split sizes from (by opset) the 'split' attribute, the 'split' input, or
 * num_outputs / the output count. */
static ml_status split_sizes(ml_kernel_ctx *ctx, int64_t dim, size_t n_out, int64_t *sizes) {
    const ml_node *node = ctx->node;
    const int64_t *attr = NULL;
    size_t n = 0;
    bool given = false;
    const ml_tensor *s = (node->opset < 2 || node->opset >= 13) ? ml_input(ctx, 1) : NULL;
    if (s) {
        int64_t *v;
        ML_TRY(shape_ints_alloc(node, s, "split", &v));
        n = ml_tensor_numel(s);
        if (n != n_out) {
            free(v);
            return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                                 "split has %zu entries but the node has %zu outputs", n, n_out);
        }
        memcpy(sizes, v, n * sizeof *v);
        free(v);
        given = true;
    } else if (node->opset < 13 && (n = ml_attr_ints(node, "split", &attr)) > 0) {
        if (n != n_out)
            return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                                 "split has %zu entries but the node has %zu outputs", n, n_out);
        memcpy(sizes, attr, n * sizeof *attr);
        given = true;
    }
    if (given) {
        int64_t sum = 0;
        for (size_t i = 0; i < n_out; i++) {
            if (sizes[i] < 0 || sizes[i] > dim)
                return ml_node_error(node, ML_ERR_INVALID_ARGUMENT, "split[%zu] = %lld is invalid",
                                     i, (long long)sizes[i]);
            sum += sizes[i];
        }
        if (sum != dim)
            return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                                 "split sizes sum to %lld but the axis has %lld", (long long)sum,
                                 (long long)dim);
        return ML_STATUS_OK;
    }
    const ml_attr *num = node->opset >= 18 ? ml_node_attr(node, "num_outputs") : NULL;
    if (num) {
        if (num->i != (int64_t)n_out)
            return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                                 "num_outputs is %lld but the node has %zu outputs",
                                 (long long)num->i, n_out);
        int64_t chunk = (dim + (int64_t)n_out - 1) / (int64_t)n_out;
        int64_t left = dim;
        for (size_t i = 0; i < n_out; i++) {
            sizes[i] = left < chunk ? left : chunk;
            left -= sizes[i];
        }
        return ML_STATUS_OK;
    }
    if (dim % (int64_t)n_out != 0)
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                             "axis of size %lld cannot be split evenly into %zu outputs",
                             (long long)dim, n_out);
    for (size_t i = 0; i < n_out; i++) sizes[i] = dim / (int64_t)n_out;
    return ML_STATUS_OK;
}

typedef struct {
    const char *src; /* this output's first run in the input */
    char *dst;
    size_t bytes, in_row; /* run length; input bytes per outer row */
} split_job;

static void split_rows(void *arg, size_t begin, size_t end) {
    const split_job *j = arg;
    for (size_t o = begin; o < end; o++)
        memcpy(j->dst + o * j->bytes, j->src + o * j->in_row, j->bytes);
}

ml_status ml_shape_split_run(ml_kernel_ctx *ctx) {
    const ml_node *node = ctx->node;
    const ml_tensor *x;
    ML_TRY(ml_require_input(ctx, 0, &x));
    if (x->rank == 0) return ml_node_error(node, ML_ERR_INVALID_ARGUMENT, "cannot split a scalar");
    int axis;
    ML_TRY(ml_normalize_axis(node, ml_attr_int(node, "axis", 0), x->rank, &axis));
    size_t n_out = ctx->n_outputs;
    if (n_out == 0 || n_out > CONCAT_MAX_INPUTS)
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT, "bad output count %zu", n_out);
    int64_t *sizes = malloc(n_out * sizeof *sizes);
    if (!sizes) return ml_error(ML_ERR_OUT_OF_MEMORY, "Split: %zu outputs", n_out);
    ml_status st = split_sizes(ctx, x->dims[axis], n_out, sizes);
    size_t esz = ml_dtype_size(x->dtype);
    size_t outer = shape_prod(x->dims, 0, axis);
    size_t inner = shape_prod(x->dims, axis + 1, x->rank) * esz;
    size_t in_row = (size_t)x->dims[axis] * inner, off = 0;
    for (size_t k = 0; k < n_out && !st; k++) {
        int64_t dims[ML_MAX_RANK];
        memcpy(dims, x->dims, sizeof(int64_t) * (size_t)x->rank);
        dims[axis] = sizes[k];
        ml_tensor *y;
        st = ml_output_tensor(ctx, k, x->dtype, x->rank, dims, &y);
        void *dst = NULL;
        if (!st) st = shape_out_begin(node, y, &dst);
        if (st) break;
        split_job j = {(const char *)x->data + off, dst, (size_t)sizes[k] * inner, in_row};
        if (j.bytes && outer)
            ml_parallel_for(ctx->pool, outer, 65536 / j.bytes + 1, split_rows, &j);
        off += j.bytes;
        st = shape_out_end(y, dst, ML_STATUS_OK);
    }
    free(sizes);
    return st;
}
