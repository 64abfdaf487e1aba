/* Axis permutations: Transpose, DepthToSpace, SpaceToDepth. The last two are
 * a transpose of a 6-D view of an NCHW tensor. */
#include "ops/shape_internal.h"
#include "ops/shape_util.h"

/* Permutes x into a new output 0 of shape x.dims permuted (out_rank/out_dims
 * override the output shape when it is a reshaped view of that). */
static ml_status permute_to_output(ml_kernel_ctx *ctx, const ml_tensor *x, int rank,
                                   const int64_t *dims, const int *perm, int out_rank,
                                   const int64_t *out_dims) {
    ml_tensor *y;
    ML_TRY(ml_output_tensor(ctx, 0, x->dtype, out_rank, out_dims, &y));
    void *dst;
    ML_TRY(shape_out_begin(ctx->node, y, &dst));
    shape_permute(ctx->pool, x->data, dst, ml_dtype_size(x->dtype), rank, dims, perm);
    return shape_out_end(y, dst, ML_STATUS_OK);
}

/* Load-time checks, so a bad model fails at upload rather than per request. */
ml_status ml_shape_transpose_init(const ml_node *node, void **state) {
    const int64_t *p;
    size_t n = ml_attr_ints(node, "perm", &p);
    if (n > ML_MAX_RANK)
        return ml_node_error(node, ML_ERR_UNSUPPORTED, "perm has %zu entries, limit %d", n,
                             ML_MAX_RANK);
    bool seen[ML_MAX_RANK] = {0};
    for (size_t i = 0; i < n; i++) {
        int64_t a = p[i] < 0 ? p[i] + (int64_t)n : p[i];
        if (a < 0 || a >= (int64_t)n || seen[a])
            return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                                 "perm is not a permutation of 0..%zu (entry %lld)", n - 1,
                                 (long long)p[i]);
        seen[a] = true;
    }
    return ML_STATUS_OK;
}

ml_status ml_shape_transpose_run(ml_kernel_ctx *ctx) {
    const ml_tensor *x;
    ML_TRY(ml_require_input(ctx, 0, &x));
    int perm[ML_MAX_RANK];
    const int64_t *p;
    size_t n = ml_attr_ints(ctx->node, "perm", &p);
    if (n == 0 && !ml_node_attr(ctx->node, "perm")) {
        for (int i = 0; i < x->rank; i++) perm[i] = x->rank - 1 - i;
    } else {
        if (n != (size_t)x->rank)
            return ml_node_error(ctx->node, ML_ERR_INVALID_ARGUMENT,
                                 "perm has %zu entries but the input has rank %d", n, x->rank);
        bool seen[ML_MAX_RANK] = {0};
        for (size_t i = 0; i < n; i++) {
            int64_t a = p[i] < 0 ? p[i] + x->rank : p[i];
            if (a < 0 || a >= x->rank || seen[a])
                return ml_node_error(ctx->node, ML_ERR_INVALID_ARGUMENT,
                                     "perm is not a permutation of 0..%d (entry %lld)", x->rank - 1,
                                     (long long)p[i]);
            seen[a] = true;
            perm[i] = (int)a;
        }
    }
    int64_t od[ML_MAX_RANK];
    for (int i = 0; i < x->rank; i++) od[i] = x->dims[perm[i]];
    return permute_to_output(ctx, x, x->rank, x->dims, perm, x->rank, od);
}

static ml_status blocksize_of(const ml_kernel_ctx *ctx, const ml_tensor *x, int64_t *bs) {
    if (x->rank != 4)
        return ml_node_error(ctx->node, ML_ERR_INVALID_ARGUMENT,
                             "input must be 4-D NCHW, got rank %d", x->rank);
    *bs = ml_attr_int(ctx->node, "blocksize", 0);
    if (*bs <= 0 || *bs > (1 << 20))
        return ml_node_error(ctx->node, ML_ERR_INVALID_ARGUMENT,
                             "blocksize must be a positive integer, got %lld", (long long)*bs);
    return ML_STATUS_OK;
}

ml_status ml_shape_blocksize_init(const ml_node *node, void **state) {
    int64_t bs = ml_attr_int(node, "blocksize", 0);
    if (bs <= 0 || bs > (1 << 20))
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                             "blocksize must be a positive integer, got %lld", (long long)bs);
    const char *mode = ml_attr_string(node, "mode", "DCR");
    if (strcmp(node->op_type, "DepthToSpace") == 0 && strcmp(mode, "DCR") != 0 &&
        strcmp(mode, "CRD") != 0)
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT, "mode '%s' is not DCR or CRD", mode);
    return ML_STATUS_OK;
}

ml_status ml_shape_depthtospace_run(ml_kernel_ctx *ctx) {
    const ml_tensor *x;
    ML_TRY(ml_require_input(ctx, 0, &x));
    int64_t bs;
    ML_TRY(blocksize_of(ctx, x, &bs));
    int64_t b = x->dims[0], c = x->dims[1], h = x->dims[2], w = x->dims[3];
    if (c % (bs * bs) != 0)
        return ml_node_error(ctx->node, ML_ERR_INVALID_ARGUMENT,
                             "channels %lld are not divisible by blocksize^2 = %lld", (long long)c,
                             (long long)(bs * bs));
    int64_t oc = c / (bs * bs);
    const char *mode = ctx->node->opset >= 11 ? ml_attr_string(ctx->node, "mode", "DCR") : "DCR";
    int64_t out[4] = {b, oc, h * bs, w * bs};
    if (strcmp(mode, "DCR") == 0) {
        int64_t d6[6] = {b, bs, bs, oc, h, w};
        int perm[6] = {0, 3, 4, 1, 5, 2};
        return permute_to_output(ctx, x, 6, d6, perm, 4, out);
    }
    if (strcmp(mode, "CRD") == 0) {
        int64_t d6[6] = {b, oc, bs, bs, h, w};
        int perm[6] = {0, 1, 4, 2, 5, 3};
        return permute_to_output(ctx, x, 6, d6, perm, 4, out);
    }
    return ml_node_error(ctx->node, ML_ERR_INVALID_ARGUMENT, "mode '%s' is not DCR or CRD", mode);
}

ml_status ml_shape_spacetodepth_run(ml_kernel_ctx *ctx) {
    const ml_tensor *x;
    ML_TRY(ml_require_input(ctx, 0, &x));
    int64_t bs;
    ML_TRY(blocksize_of(ctx, x, &bs));
    int64_t b = x->dims[0], c = x->dims[1], h = x->dims[2], w = x->dims[3];
    if (c > INT64_MAX / (bs * bs))
        return ml_node_error(ctx->node, ML_ERR_INVALID_ARGUMENT,
                             "channels * blocksize^2 overflows");
    if (h % bs != 0 || w % bs != 0)
        return ml_node_error(ctx->node, ML_ERR_INVALID_ARGUMENT,
                             "height %lld and width %lld must be divisible by blocksize %lld",
                             (long long)h, (long long)w, (long long)bs);
    int64_t d6[6] = {b, c, h / bs, bs, w / bs, bs};
    int perm[6] = {0, 3, 5, 1, 2, 4};
    int64_t out[4] = {b, c * bs * bs, h / bs, w / bs};
    return permute_to_output(ctx, x, 6, d6, perm, 4, out);
}
