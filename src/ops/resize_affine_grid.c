/* AffineGrid (opset 20): the sampling grid of a spatial transformer, the
 * companion of GridSample. For 2-D, theta [N, 2, 3] and size (N, C, H, W)
 * give grid [N, H, W, 2] with grid[n, h, w] = theta[n] @ (x_w, y_h, 1); 3-D
 * is the same with theta [N, 3, 4], size (N, C, D, H, W) and (x, y, z, 1).
 * Base coordinates span [-1, 1]: pixel centres (-1 + (2i + 1) / L) without
 * align_corners, pixel corners (-1 + 2i / (L - 1)) with it (-1 when L = 1),
 * as the ONNX reference and PyTorch's affine_grid compute them. */
#include <stdlib.h>

#include "ops/misc_util.h"

ml_status ml_resize_run_affine_grid(ml_kernel_ctx *ctx);

static double base_coord(int64_t i, int64_t len, bool align) {
    if (align) return len > 1 ? -1.0 + 2.0 * (double)i / (double)(len - 1) : -1.0;
    return -1.0 + (2.0 * (double)i + 1.0) / (double)len;
}

ml_status ml_resize_run_affine_grid(ml_kernel_ctx *ctx) {
    const ml_node *node = ctx->node;
    const ml_tensor *theta, *size;
    ML_TRY(ml_require_input(ctx, 0, &theta));
    ML_TRY(ml_require_input(ctx, 1, &size));
    if (!misc_is_float_type(theta->dtype))
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT, "theta must be a float tensor");
    if (size->rank != 1 || (size->dims[0] != 4 && size->dims[0] != 5) ||
        (size->dtype != ML_INT64 && size->dtype != ML_INT32))
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                             "size must be int64 (N, C, H, W) or (N, C, D, H, W)");
    int r = (int)size->dims[0] - 2; /* spatial rank: 2 or 3 */
    int64_t sz[5];
    for (int i = 0; i < r + 2; i++) sz[i] = misc_get_i64(size, (size_t)i);
    if (theta->rank != 3 || theta->dims[0] != sz[0] || theta->dims[1] != r ||
        theta->dims[2] != r + 1)
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                             "theta must be [N=%lld, %d, %d] for a %d-D size", (long long)sz[0], r,
                             r + 1, r);
    int64_t dims[5];
    dims[0] = sz[0];
    for (int i = 0; i < r; i++) {
        if (sz[2 + i] <= 0)
            return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                                 "size's spatial dimensions must be positive, got %lld",
                                 (long long)sz[2 + i]);
        dims[1 + i] = sz[2 + i];
    }
    dims[r + 1] = r;
    size_t n;
    if (!ml_shape_numel(r + 2, dims, &n))
        return ml_node_error(node, ML_ERR_RESOURCE_EXHAUSTED, "the grid size overflows");
    ml_tensor *grid;
    ML_TRY(ml_output_tensor(ctx, 0, theta->dtype, r + 2, dims, &grid));
    if (!n) return NULL;
    float *to = NULL, *go = NULL;
    const float *th = misc_f32_view(theta, &to);
    float *g = grid->dtype == ML_FLOAT ? grid->data : (go = malloc(n * sizeof(float)));
    if (!th || !g) {
        free(to);
        free(go);
        return ml_error(ML_ERR_OUT_OF_MEMORY, "AffineGrid");
    }
    bool align = ml_attr_int(node, "align_corners", 0) != 0;
    int64_t D = r == 3 ? dims[1] : 1, H = dims[r - 1], W = dims[r];
    float *o = g;
    for (int64_t b = 0; b < dims[0]; b++) {
        const float *t = th + b * r * (r + 1);
        for (int64_t d = 0; d < D; d++)
            for (int64_t h = 0; h < H; h++)
                for (int64_t w = 0; w < W; w++) {
                    /* homogeneous base point, innermost axis first: (x, y[, z], 1) */
                    double p[4] = {base_coord(w, W, align), base_coord(h, H, align),
                                   r == 3 ? base_coord(d, D, align) : 1.0, 1.0};
                    for (int k = 0; k < r; k++) {
                        double acc = 0;
                        for (int c = 0; c <= r; c++) acc += (double)t[k * (r + 1) + c] * p[c];
                        *o++ = (float)acc;
                    }
                }
    }
    if (go) misc_from_f32(grid, go, n);
    free(to);
    free(go);
    return NULL;
}
