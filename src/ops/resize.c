/* Resize (opsets 10, 11, 13, 18, 19) and the deprecated Upsample (1, 7, 9):
 * attribute and input parsing, output shapes, then resize_interp.c does the
 * resampling. GridSample and RoiAlign live in resize_grid.c / resize_roialign.c. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ops/families.h"
#include "ops/misc_util.h"
#include "ops/resize_internal.h"

static ml_status parse_mode(const ml_node *node, const char *s, rs_mode *out) {
    if (strcmp(s, "nearest") == 0)
        *out = RS_NEAREST;
    else if (strcmp(s, "linear") == 0 || strcmp(s, "bilinear") == 0 || strcmp(s, "trilinear") == 0)
        *out = RS_LINEAR;
    else if (strcmp(s, "cubic") == 0 || strcmp(s, "bicubic") == 0)
        *out = RS_CUBIC;
    else
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                             "mode '%s' must be nearest, linear or cubic", s);
    return ML_STATUS_OK;
}

static ml_status parse_params(const ml_node *node, rs_params *p) {
    memset(p, 0, sizeof *p);
    ML_TRY(parse_mode(node, ml_attr_string(node, "mode", "nearest"), &p->mode));
    if (node->opset < 11) { /* Resize-10 behaves like Upsample */
        p->coord = RS_ASYMMETRIC;
        p->nearest = RS_SIMPLE;
        p->cubic_a = -0.75f;
        return ML_STATUS_OK;
    }
    static const struct {
        const char *name;
        rs_coord c;
    } coords[] = {{"half_pixel", RS_HALF_PIXEL},
                  {"half_pixel_symmetric", RS_HALF_PIXEL_SYMMETRIC},
                  {"pytorch_half_pixel", RS_PYTORCH_HALF_PIXEL},
                  {"align_corners", RS_ALIGN_CORNERS},
                  {"asymmetric", RS_ASYMMETRIC},
                  {"tf_half_pixel_for_nn", RS_TF_HALF_PIXEL_FOR_NN},
                  {"tf_crop_and_resize", RS_TF_CROP_AND_RESIZE}};
    const char *cs = ml_attr_string(node, "coordinate_transformation_mode", "half_pixel");
    size_t i;
    for (i = 0; i < sizeof coords / sizeof coords[0]; i++)
        if (strcmp(cs, coords[i].name) == 0) break;
    if (i == sizeof coords / sizeof coords[0])
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                             "coordinate_transformation_mode '%s' is not one of half_pixel, "
                             "half_pixel_symmetric, pytorch_half_pixel, align_corners, asymmetric, "
                             "tf_half_pixel_for_nn, tf_crop_and_resize",
                             cs);
    p->coord = coords[i].c;
    static const struct {
        const char *name;
        rs_nearest n;
    } nears[] = {{"round_prefer_floor", RS_ROUND_PREFER_FLOOR},
                 {"round_prefer_ceil", RS_ROUND_PREFER_CEIL},
                 {"floor", RS_FLOOR},
                 {"ceil", RS_CEIL}};
    const char *ns = ml_attr_string(node, "nearest_mode", "round_prefer_floor");
    for (i = 0; i < sizeof nears / sizeof nears[0]; i++)
        if (strcmp(ns, nears[i].name) == 0) break;
    if (i == sizeof nears / sizeof nears[0])
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                             "nearest_mode '%s' is not one of round_prefer_floor, "
                             "round_prefer_ceil, floor, ceil",
                             ns);
    p->nearest = nears[i].n;
    p->cubic_a = ml_attr_float(node, "cubic_coeff_a", -0.75f);
    p->exclude_outside = ml_attr_int(node, "exclude_outside", 0) != 0;
    p->extrapolation = ml_attr_float(node, "extrapolation_value", 0.0f);
    p->antialias = node->opset >= 18 && ml_attr_int(node, "antialias", 0) != 0;
    return ML_STATUS_OK;
}

/* Resizes X with per-axis scale/out/roi into output 0 and frees nothing it
 * does not own. */
static ml_status resize_with(ml_kernel_ctx *ctx, const ml_tensor *X, const rs_params *p,
                             const double *scale, const int64_t *out_dims, const double *roi) {
    const ml_node *node = ctx->node;
    int rank = X->rank;
    size_t n_out;
    if (!ml_shape_numel(rank, out_dims, &n_out))
        return ml_node_error(node, ML_ERR_RESOURCE_EXHAUSTED, "resize output is too large");
    ml_tensor *Y;
    ML_TRY(ml_output_tensor(ctx, 0, X->dtype, rank, out_dims, &Y));
    if (n_out == 0) return ML_STATUS_OK;
    if (X->dtype == ML_STRING || X->dtype == ML_COMPLEX64 || X->dtype == ML_COMPLEX128)
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT, "cannot resize a %s tensor",
                             ml_dtype_name(X->dtype));
    rs_axis_taps taps[ML_MAX_RANK];
    memset(taps, 0, sizeof taps);
    ml_status st = ML_STATUS_OK;
    for (int a = 0; a < rank && !st; a++) {
        bool trivial =
            out_dims[a] == X->dims[a] && scale[a] == 1.0 && p->coord != RS_TF_CROP_AND_RESIZE;
        if (trivial) continue;
        st = rs_taps_build(node, p, X->dims[a], out_dims[a], scale[a], roi[a], roi[rank + a],
                           &taps[a]);
    }
    if (!st) st = rs_resample(node, ctx->pool, X, Y, taps, p->extrapolation);
    for (int a = 0; a < rank; a++) rs_taps_free(&taps[a]);
    return st;
}

static bool present(const ml_tensor *t) {
    return t && ml_tensor_numel(t) > 0;
}

static ml_status run_resize(ml_kernel_ctx *ctx) {
    const ml_node *node = ctx->node;
    const ml_tensor *X;
    ML_TRY(ml_require_input(ctx, 0, &X));
    rs_params p;
    ML_TRY(parse_params(node, &p));
    const int rank = X->rank;
    const ml_tensor *roi_t = NULL, *scales_t, *sizes_t = NULL;
    if (node->opset < 11) {
        scales_t = ml_input(ctx, 1);
    } else {
        roi_t = ml_input(ctx, 1);
        scales_t = ml_input(ctx, 2);
        sizes_t = ml_input(ctx, 3);
    }
    if (!present(scales_t)) scales_t = NULL;
    if (!present(sizes_t)) sizes_t = NULL;
    if (!present(roi_t)) roi_t = NULL;
    if (!scales_t == !sizes_t)
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                             "exactly one of 'scales' and 'sizes' must be given (non-empty)");

    /* axes (opset 18): which dims scales/sizes/roi describe */
    int axes[ML_MAX_RANK], n_axes = rank;
    const int64_t *axes_attr;
    size_t n_axes_attr = node->opset >= 18 ? ml_attr_ints(node, "axes", &axes_attr) : 0;
    if (n_axes_attr) {
        if (n_axes_attr > (size_t)rank)
            return ml_node_error(node, ML_ERR_INVALID_ARGUMENT, "axes has %zu entries for rank %d",
                                 n_axes_attr, rank);
        n_axes = (int)n_axes_attr;
        bool seen[ML_MAX_RANK] = {0};
        for (int i = 0; i < n_axes; i++) {
            ML_TRY(ml_normalize_axis(node, axes_attr[i], rank, &axes[i]));
            if (seen[axes[i]])
                return ml_node_error(node, ML_ERR_INVALID_ARGUMENT, "axes repeats axis %d",
                                     axes[i]);
            seen[axes[i]] = true;
        }
    } else {
        for (int i = 0; i < rank; i++) axes[i] = i;
    }

    double scale[ML_MAX_RANK], roi[2 * ML_MAX_RANK];
    int64_t out_dims[ML_MAX_RANK];
    for (int a = 0; a < rank; a++) {
        scale[a] = 1.0;
        out_dims[a] = X->dims[a];
        roi[a] = 0.0;
        roi[rank + a] = 1.0;
    }
    if (roi_t && p.coord == RS_TF_CROP_AND_RESIZE) {
        if (ml_tensor_numel(roi_t) != 2 * (size_t)n_axes || !misc_is_float_type(roi_t->dtype))
            return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                                 "roi must hold 2 * %d floats (starts then ends), got %zu", n_axes,
                                 ml_tensor_numel(roi_t));
        for (int i = 0; i < n_axes; i++) {
            roi[axes[i]] = ml_tensor_get_f64(roi_t, (size_t)i);
            roi[rank + axes[i]] = ml_tensor_get_f64(roi_t, (size_t)(n_axes + i));
        }
    }
    if (scales_t) {
        if (ml_tensor_numel(scales_t) != (size_t)n_axes || !misc_is_float_type(scales_t->dtype))
            return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                                 "scales must hold %d floats (one per resized axis), got %zu",
                                 n_axes, ml_tensor_numel(scales_t));
        for (int i = 0; i < n_axes; i++) {
            /* ONNX scales are float; compute the size from the float value */
            double s = (double)(float)ml_tensor_get_f64(scales_t, (size_t)i);
            if (!(s > 0) || !isfinite(s) || s * (double)X->dims[axes[i]] > 1e12)
                return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                                     "scales[%d] = %g must be positive and bounded", i, s);
            scale[axes[i]] = s;
            out_dims[axes[i]] = (int64_t)floor(s * (double)X->dims[axes[i]]);
        }
    } else {
        if (ml_tensor_numel(sizes_t) != (size_t)n_axes || !ml_dtype_is_integer(sizes_t->dtype))
            return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                                 "sizes must hold %d int64 values (one per resized axis), got %zu",
                                 n_axes, ml_tensor_numel(sizes_t));
        int64_t want[ML_MAX_RANK];
        for (int i = 0; i < n_axes; i++) {
            want[i] = misc_get_i64(sizes_t, (size_t)i);
            if (want[i] < 0 || want[i] > ((int64_t)1 << 40))
                return ml_node_error(node, ML_ERR_INVALID_ARGUMENT, "sizes[%d] = %lld is invalid",
                                     i, (long long)want[i]);
        }
        const char *policy = node->opset >= 18
                                 ? ml_attr_string(node, "keep_aspect_ratio_policy", "stretch")
                                 : "stretch";
        if (strcmp(policy, "stretch") == 0) {
            for (int i = 0; i < n_axes; i++) {
                int a = axes[i];
                out_dims[a] = want[i];
                scale[a] = X->dims[a] ? (double)want[i] / (double)X->dims[a] : 1.0;
            }
        } else if (strcmp(policy, "not_larger") == 0 || strcmp(policy, "not_smaller") == 0) {
            bool larger = strcmp(policy, "not_smaller") == 0;
            double s = larger ? 0.0 : INFINITY;
            for (int i = 0; i < n_axes; i++) {
                double r = X->dims[axes[i]] ? (double)want[i] / (double)X->dims[axes[i]] : 1.0;
                s = larger ? fmax(s, r) : fmin(s, r);
            }
            for (int i = 0; i < n_axes; i++) {
                int a = axes[i];
                scale[a] = s;
                out_dims[a] = (int64_t)floor(s * (double)X->dims[a] + 0.5);
            }
        } else {
            return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                                 "keep_aspect_ratio_policy '%s' must be stretch, not_larger or "
                                 "not_smaller",
                                 policy);
        }
    }
    for (int a = 0; a < rank; a++)
        if (scale[a] <= 0 || !isfinite(scale[a])) scale[a] = 1.0; /* empty axis: any scale works */
    return resize_with(ctx, X, &p, scale, out_dims, roi);
}

static ml_status run_upsample(ml_kernel_ctx *ctx) {
    const ml_node *node = ctx->node;
    const ml_tensor *X;
    ML_TRY(ml_require_input(ctx, 0, &X));
    rs_params p = {.coord = RS_ASYMMETRIC, .nearest = RS_SIMPLE, .cubic_a = -0.75f};
    ML_TRY(parse_mode(node, ml_attr_string(node, "mode", "nearest"), &p.mode));
    if (p.mode == RS_CUBIC)
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT, "Upsample supports nearest and linear");
    const int rank = X->rank;
    double scale[ML_MAX_RANK], roi[2 * ML_MAX_RANK];
    int64_t out_dims[ML_MAX_RANK];
    for (int a = 0; a < rank; a++) scale[a] = 1.0, roi[a] = 0, roi[rank + a] = 1;
    if (node->opset < 7) {
        if (rank != 4)
            return ml_node_error(node, ML_ERR_INVALID_ARGUMENT, "Upsample-1 needs a 4-D input");
        scale[2] = ml_attr_float(node, "height_scale", 1.0f);
        scale[3] = ml_attr_float(node, "width_scale", 1.0f);
    } else if (node->opset < 9) {
        const float *s;
        size_t n = ml_attr_floats(node, "scales", &s);
        if (n != (size_t)rank)
            return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                                 "scales attribute needs %d values, got %zu", rank, n);
        for (int a = 0; a < rank; a++) scale[a] = s[a];
    } else {
        const ml_tensor *s;
        ML_TRY(ml_require_input(ctx, 1, &s));
        if (ml_tensor_numel(s) != (size_t)rank || !misc_is_float_type(s->dtype))
            return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                                 "scales input needs %d floats, got %zu", rank, ml_tensor_numel(s));
        for (int a = 0; a < rank; a++) scale[a] = (float)ml_tensor_get_f64(s, (size_t)a);
    }
    for (int a = 0; a < rank; a++) {
        if (!(scale[a] >= 1.0) || !isfinite(scale[a]) || scale[a] * (double)X->dims[a] > 1e12)
            return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                                 "Upsample scales must be >= 1 and bounded (axis %d has %g)", a,
                                 scale[a]);
        out_dims[a] = (int64_t)floor(scale[a] * (double)X->dims[a]);
    }
    return resize_with(ctx, X, &p, scale, out_dims, roi);
}

/* Load-time check of the mode attributes. */
static ml_status init_resize(const ml_node *node, void **state) {
    *state = NULL;
    rs_params p;
    return parse_params(node, &p);
}

/* GridSample / RoiAlign kernels are defined in their own files. */
ml_status ml_resize_run_gridsample(ml_kernel_ctx *ctx);
ml_status ml_resize_run_affine_grid(ml_kernel_ctx *ctx);
ml_status ml_resize_run_roialign(ml_kernel_ctx *ctx);

const ml_kernel ml_kernels_resize[] = {
    {"", "Resize", 10, 0, init_resize, NULL, run_resize},
    {"", "Upsample", 1, 0, NULL, NULL, run_upsample},
    {"", "GridSample", 16, 0, NULL, NULL, ml_resize_run_gridsample},
    {"", "AffineGrid", 20, 0, NULL, NULL, ml_resize_run_affine_grid},
    {"", "RoiAlign", 10, 0, NULL, NULL, ml_resize_run_roialign},
    {0},
};
