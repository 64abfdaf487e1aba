/* Separable N-d resampling shared by Resize and Upsample (resize.c) and
 * implemented in resize_interp.c.
 *
 * Every mode ONNX defines (nearest, linear, cubic, with or without
 * antialias) is a tensor product of 1-D filters, so the work is done one
 * axis at a time: for each output index along an axis, a short list of
 * (input index, weight) taps. Axes whose taps are the identity are skipped. */
#ifndef MLAMBDA_OPS_RESIZE_INTERNAL_H
#define MLAMBDA_OPS_RESIZE_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "ops/kernel.h"

typedef enum rs_mode { RS_NEAREST, RS_LINEAR, RS_CUBIC } rs_mode;

typedef enum rs_coord {
    RS_HALF_PIXEL,
    RS_HALF_PIXEL_SYMMETRIC,
    RS_PYTORCH_HALF_PIXEL,
    RS_ALIGN_CORNERS,
    RS_ASYMMETRIC,
    RS_TF_HALF_PIXEL_FOR_NN,
    RS_TF_CROP_AND_RESIZE,
} rs_coord;

typedef enum rs_nearest {
    RS_ROUND_PREFER_FLOOR,
    RS_ROUND_PREFER_CEIL,
    RS_FLOOR,
    RS_CEIL,
    RS_SIMPLE, /* Upsample / Resize-10: truncate when upsampling, ceil when downsampling */
} rs_nearest;

typedef struct rs_params {
    rs_mode mode;
    rs_coord coord;
    rs_nearest nearest;
    float cubic_a;
    bool exclude_outside;
    bool antialias;
    float extrapolation;
} rs_params;

/* Taps of one axis: for output index o, taps [o*k, o*k+k) of idx/w; when
 * extrap[o] is set the output is the extrapolation value instead. */
typedef struct rs_axis_taps {
    int64_t in, out;
    int k;
    int64_t *idx;
    float *w;
    bool *extrap;
    bool identity;
    bool any_extrap; /* some extrap[o] is set */
} rs_axis_taps;

/* Builds the taps of one axis. scale is the resize factor used by the
 * coordinate transform; roi_start/end only matter for tf_crop_and_resize.
 * The caller frees with rs_taps_free. */
ml_status rs_taps_build(const ml_node *node, const rs_params *p, int64_t in, int64_t out,
                        double scale, double roi_start, double roi_end, rs_axis_taps *t);
void rs_taps_free(rs_axis_taps *t);

/* Resamples x (rank dims in_dims) into y (out_dims) with taps[axis] per
 * axis (NULL entries keep the axis). x and y may have any numeric dtype;
 * float32 runs without conversion. */
ml_status rs_resample(const ml_node *node, ml_threadpool *pool, const ml_tensor *x, ml_tensor *y,
                      const rs_axis_taps *taps, float extrapolation);

#endif
