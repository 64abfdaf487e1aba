/* RoiAlign (opsets 10, 16): average or max of bilinear samples over each
 * bin of each region of interest, following onnxruntime's CPU kernel (which
 * the ONNX test data comes from). Opset 10 has no
 * coordinate_transformation_mode and behaves as output_half_pixel. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ops/misc_util.h"

/* The four pixels (offsets into one H*W image) and weights of a bilinear
 * sample; all weights are 0 outside the image. Depends only on the ROI
 * geometry, so it is computed once per ROI and reused for every channel. */
typedef struct roi_tap {
    int64_t o[4];
    float w[4];
} roi_tap;

static void bilinear_tap(int64_t H, int64_t W, double y, double x, roi_tap *t) {
    memset(t, 0, sizeof *t);
    if (!(y >= -1.0 && y <= (double)H && x >= -1.0 && x <= (double)W)) return; /* also NaN */
    if (y <= 0) y = 0;
    if (x <= 0) x = 0;
    int64_t y0 = (int64_t)y, x0 = (int64_t)x, y1, x1;
    if (y0 >= H - 1)
        y1 = y0 = H - 1, y = (double)y0;
    else
        y1 = y0 + 1;
    if (x0 >= W - 1)
        x1 = x0 = W - 1, x = (double)x0;
    else
        x1 = x0 + 1;
    double ly = y - (double)y0, lx = x - (double)x0, hy = 1 - ly, hx = 1 - lx;
    t->o[0] = y0 * W + x0, t->o[1] = y0 * W + x1, t->o[2] = y1 * W + x0, t->o[3] = y1 * W + x1;
    t->w[0] = (float)(hy * hx), t->w[1] = (float)(hy * lx);
    t->w[2] = (float)(ly * hx), t->w[3] = (float)(ly * lx);
}

/* onnxruntime's max mode takes the largest weighted corner, not the
 * largest interpolated value */
static double tap_value(const roi_tap *t, const float *img, bool max_mode) {
    double a = (double)t->w[0] * img[t->o[0]], b = (double)t->w[1] * img[t->o[1]];
    double c = (double)t->w[2] * img[t->o[2]], d = (double)t->w[3] * img[t->o[3]];
    return max_mode ? fmax(fmax(a, b), fmax(c, d)) : a + b + c + d;
}

/* Per-ROI geometry, computed (and validated) once before the parallel part. */
typedef struct roi_geom {
    int64_t b, gh, gw;     /* batch index, sampling grid per bin */
    double sw, sh, bw, bh; /* start corner and bin size */
    size_t tab;            /* first entry in the tap table */
} roi_geom;

typedef struct roi_args {
    const float *x;
    float *y;
    const roi_geom *geo;
    const roi_tap *taps; /* NULL when too large: taps are then computed per channel */
    int64_t C, H, W, oh, ow;
    bool max_mode;
} roi_args;

static void sample_point(const roi_geom *g, int64_t ph, int64_t pw, int64_t iy, int64_t ix,
                         int64_t H, int64_t W, roi_tap *t) {
    double y = g->sh + (double)ph * g->bh + ((double)iy + 0.5) * g->bh / (double)g->gh;
    double x = g->sw + (double)pw * g->bw + ((double)ix + 0.5) * g->bw / (double)g->gw;
    bilinear_tap(H, W, y, x, t);
}

/* Pools (roi, channel) pairs [begin, end). */
static void pool_rois(void *arg, size_t begin, size_t end) {
    const roi_args *a = arg;
    const int64_t H = a->H, W = a->W, oh = a->oh, ow = a->ow;
    for (size_t q = begin; q < end; q++) {
        const int64_t r = (int64_t)q / a->C, c = (int64_t)q % a->C;
        const roi_geom *g = &a->geo[r];
        const float *img = a->x + (g->b * a->C + c) * H * W;
        const double count = (double)(g->gh * g->gw > 0 ? g->gh * g->gw : 1);
        const roi_tap *tab = a->taps ? a->taps + g->tab : NULL;
        size_t m = 0;
        for (int64_t ph = 0; ph < oh; ph++)
            for (int64_t pw = 0; pw < ow; pw++) {
                double acc = a->max_mode ? -INFINITY : 0;
                for (int64_t iy = 0; iy < g->gh; iy++)
                    for (int64_t ix = 0; ix < g->gw; ix++) {
                        roi_tap local;
                        const roi_tap *t = tab ? &tab[m++] : &local;
                        if (!tab) sample_point(g, ph, pw, iy, ix, H, W, &local);
                        double v = tap_value(t, img, a->max_mode);
                        acc = a->max_mode ? fmax(acc, v) : acc + v;
                    }
                if (a->max_mode && g->gh * g->gw == 0) acc = 0;
                a->y[((int64_t)q * oh + ph) * ow + pw] = (float)(a->max_mode ? acc : acc / count);
            }
    }
}

ml_status ml_resize_run_roialign(ml_kernel_ctx *ctx) {
    const ml_node *node = ctx->node;
    const ml_tensor *X, *R, *BI;
    ML_TRY(ml_require_input(ctx, 0, &X));
    ML_TRY(ml_require_input(ctx, 1, &R));
    ML_TRY(ml_require_input(ctx, 2, &BI));
    if (X->rank != 4 || R->rank != 2 || R->dims[1] != 4 || BI->rank != 1 ||
        BI->dims[0] != R->dims[0] || !ml_dtype_is_integer(BI->dtype))
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                             "expected X [N,C,H,W], rois [num_rois,4] and integer batch_indices "
                             "[num_rois]");
    if (!misc_is_float_type(X->dtype) || !misc_is_float_type(R->dtype))
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT, "X and rois must be float tensors");
    const char *mode = ml_attr_string(node, "mode", "avg");
    bool max_mode = strcmp(mode, "max") == 0;
    if (!max_mode && strcmp(mode, "avg") != 0)
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT, "mode '%s' must be avg or max", mode);
    int64_t oh = ml_attr_int(node, "output_height", 1), ow = ml_attr_int(node, "output_width", 1);
    int64_t sr = ml_attr_int(node, "sampling_ratio", 0);
    float ss = ml_attr_float(node, "spatial_scale", 1.0f);
    const char *ct = node->opset >= 16
                         ? ml_attr_string(node, "coordinate_transformation_mode", "half_pixel")
                         : "output_half_pixel";
    bool half_pixel = strcmp(ct, "half_pixel") == 0;
    if (!half_pixel && strcmp(ct, "output_half_pixel") != 0)
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                             "coordinate_transformation_mode '%s' must be half_pixel or "
                             "output_half_pixel",
                             ct);
    if (oh <= 0 || ow <= 0 || oh > 65536 || ow > 65536 || sr < 0 || sr > 65536)
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                             "output_height/output_width must be positive and sampling_ratio >= 0");
    const int64_t N = X->dims[0], C = X->dims[1], H = X->dims[2], W = X->dims[3];
    const int64_t nr = R->dims[0];
    int64_t od[4] = {nr, C, oh, ow};
    ml_tensor *Y;
    ML_TRY(ml_output_tensor(ctx, 0, X->dtype, 4, od, &Y));
    size_t n_out = ml_tensor_numel(Y);
    if (n_out == 0) return ML_STATUS_OK;
    float *xo, *ro;
    const float *xf = misc_f32_view(X, &xo), *rf = misc_f32_view(R, &ro);
    float *yf = malloc(n_out * sizeof(float));
    ml_status st = ML_STATUS_OK;
    if (!xf || !rf || !yf) {
        st = ml_node_error(node, ML_ERR_OUT_OF_MEMORY, "out of memory");
        goto done;
    }
    const double off = half_pixel ? 0.5 : 0.0;
    roi_geom *geo = malloc(((size_t)nr + 1) * sizeof(roi_geom));
    if (!geo) {
        st = ml_node_error(node, ML_ERR_OUT_OF_MEMORY, "out of memory");
        goto done;
    }
    for (int64_t r = 0; r < nr; r++) {
        roi_geom *g = &geo[r];
        g->b = misc_get_i64(BI, (size_t)r);
        if (g->b < 0 || g->b >= N) {
            st = ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                               "batch_indices[%lld] = %lld is outside [0, %lld)", (long long)r,
                               (long long)g->b, (long long)N);
            break;
        }
        const float *roi = rf + r * 4;
        g->sw = roi[0] * ss - off, g->sh = roi[1] * ss - off;
        double rw = roi[2] * ss - off - g->sw, rh = roi[3] * ss - off - g->sh;
        if (!half_pixel) rw = fmax(rw, 1.0), rh = fmax(rh, 1.0);
        g->bh = rh / (double)oh, g->bw = rw / (double)ow;
        g->gh = sr > 0 ? sr : misc_f2i(ceil(rh / (double)oh), -1, 1 << 20);
        g->gw = sr > 0 ? sr : misc_f2i(ceil(rw / (double)ow), -1, 1 << 20);
        if (g->gh < 0 || g->gw < 0 || g->gh > 4096 || g->gw > 4096) {
            st = ml_node_error(node, ML_ERR_INVALID_ARGUMENT, "roi %lld is too large or invalid",
                               (long long)r);
            break;
        }
    }
    roi_tap *taps = NULL;
    if (!st && (H == 0 || W == 0)) {
        memset(yf, 0, n_out * sizeof(float)); /* nothing to sample */
    } else if (!st) {
        size_t total = 0;
        for (int64_t r = 0; r < nr; r++) {
            geo[r].tab = total;
            total += (size_t)(oh * ow * geo[r].gh * geo[r].gw);
        }
        /* the table pays off across channels; past ~48 MB compute on the fly */
        if (total <= ((size_t)1 << 20) && (taps = malloc((total + 1) * sizeof(roi_tap)))) {
            for (int64_t r = 0; r < nr; r++) {
                size_t m = geo[r].tab;
                for (int64_t ph = 0; ph < oh; ph++)
                    for (int64_t pw = 0; pw < ow; pw++)
                        for (int64_t iy = 0; iy < geo[r].gh; iy++)
                            for (int64_t ix = 0; ix < geo[r].gw; ix++)
                                sample_point(&geo[r], ph, pw, iy, ix, H, W, &taps[m++]);
            }
        }
        roi_args ra = {xf, yf, geo, taps, C, H, W, oh, ow, max_mode};
        ml_parallel_for(ctx->pool, (size_t)(nr * C), 1, pool_rois, &ra);
    }
    free(taps);
    free(geo);
    if (st) goto done;
    misc_from_f32(Y, yf, n_out);
done:
    free(xo), free(ro), free(yf);
    return st;
}
