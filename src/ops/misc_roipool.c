/* MaxRoiPool (opset 1): max over each bin of each region of interest, with
 * Caffe's rounding of the ROI corners. rois rows are (batch, x1, y1, x2, y2). */
#include <math.h>
#include <stdlib.h>

#include "ops/misc_internal.h"
#include "ops/misc_util.h"

ml_status misc_run_max_roi_pool(ml_kernel_ctx *ctx) {
    const ml_node *node = ctx->node;
    const ml_tensor *X, *R;
    ML_TRY(ml_require_input(ctx, 0, &X));
    ML_TRY(ml_require_input(ctx, 1, &R));
    if (X->rank != 4 || R->rank != 2 || R->dims[1] != 5 || !misc_is_float_type(X->dtype) ||
        !misc_is_float_type(R->dtype))
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                             "expected float X [N,C,H,W] and rois [num_rois,5]");
    const int64_t *ps;
    if (ml_attr_ints(node, "pooled_shape", &ps) != 2 || ps[0] <= 0 || ps[1] <= 0 || ps[0] > 65536 ||
        ps[1] > 65536)
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                             "pooled_shape must be two positive ints");
    double ss = ml_attr_float(node, "spatial_scale", 1.0f);
    const int64_t N = X->dims[0], C = X->dims[1], H = X->dims[2], W = X->dims[3], nr = R->dims[0];
    const int64_t PH = ps[0], PW = ps[1];
    int64_t od[4] = {nr, C, PH, PW};
    ml_tensor *Y;
    ML_TRY(ml_output_tensor(ctx, 0, X->dtype, 4, od, &Y));
    size_t n_out = ml_tensor_numel(Y);
    if (!n_out) return ML_STATUS_OK;
    float *xo, *ro;
    const float *xf = misc_f32_view(X, &xo), *rf = misc_f32_view(R, &ro);
    float *yf = malloc(n_out * sizeof(float));
    ml_status st = ML_STATUS_OK;
    if (!xf || !rf || !yf) {
        st = ml_node_error(node, ML_ERR_OUT_OF_MEMORY, "out of memory");
        goto done;
    }
    for (int64_t r = 0; r < nr; r++) {
        const float *roi = rf + r * 5;
        int64_t b = misc_f2i(roi[0], -1, N);
        if (b < 0 || b >= N) {
            st = ml_node_error(node, ML_ERR_INVALID_ARGUMENT, "roi %lld has batch index %lld",
                               (long long)r, (long long)b);
            goto done;
        }
        /* corners far outside the image behave like the image edge */
        const int64_t lim = 4 * (H > W ? H : W) + 4;
        int64_t sw = misc_f2i(round(roi[1] * ss), -lim, lim);
        int64_t sh = misc_f2i(round(roi[2] * ss), -lim, lim);
        int64_t ew = misc_f2i(round(roi[3] * ss), -lim, lim);
        int64_t eh = misc_f2i(round(roi[4] * ss), -lim, lim);
        double rh = (double)(eh - sh + 1 > 1 ? eh - sh + 1 : 1);
        double rw = (double)(ew - sw + 1 > 1 ? ew - sw + 1 : 1);
        double bh = rh / (double)PH, bw = rw / (double)PW;
        for (int64_t c = 0; c < C; c++) {
            const float *img = xf + (b * C + c) * H * W;
            for (int64_t ph = 0; ph < PH; ph++)
                for (int64_t pw = 0; pw < PW; pw++) {
                    int64_t hs = (int64_t)floor((double)ph * bh) + sh;
                    int64_t he = (int64_t)ceil((double)(ph + 1) * bh) + sh;
                    int64_t ws = (int64_t)floor((double)pw * bw) + sw;
                    int64_t we = (int64_t)ceil((double)(pw + 1) * bw) + sw;
                    hs = hs < 0 ? 0 : (hs > H ? H : hs), he = he < 0 ? 0 : (he > H ? H : he);
                    ws = ws < 0 ? 0 : (ws > W ? W : ws), we = we < 0 ? 0 : (we > W ? W : we);
                    float m = (he <= hs || we <= ws) ? 0.0f : -INFINITY;
                    for (int64_t y = hs; y < he; y++)
                        for (int64_t x = ws; x < we; x++) m = fmaxf(m, img[y * W + x]);
                    yf[((r * C + c) * PH + ph) * PW + pw] = m;
                }
        }
    }
    misc_from_f32(Y, yf, n_out);
done:
    free(xo), free(ro), free(yf);
    return st;
}
