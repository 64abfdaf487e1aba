/* Tap computation and separable resampling for Resize/Upsample.
 * Coordinate transforms and filters follow the ONNX spec (and its reference
 * implementation): positions outside the input take the edge value, except
 * with exclude_outside (their weight is dropped and the rest renormalised)
 * and tf_crop_and_resize (outside the input -> extrapolation_value). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ops/misc_util.h"
#include "ops/resize_internal.h"

/* Source coordinate of output index x along one axis. Computed in float, as
 * onnxruntime and PyTorch do: with a float scale like 1.6f, exact integers and
 * .5 ties only come out exact in float arithmetic, and nearest-mode picks the
 * pixel models were validated with. align_corners uses the integer output
 * length (the spec's length_resized), as PyTorch and onnxruntime do. */
static double orig_coord(const rs_params *p, int64_t x, int64_t in, int64_t out, double scale,
                         double rs, double re) {
    float xr = (float)x, s = (float)scale, inf_ = (float)in, outf = (float)out;
    switch (p->coord) {
    case RS_HALF_PIXEL:
        return (xr + 0.5f) / s - 0.5f;
    case RS_HALF_PIXEL_SYMMETRIC: {
        float adjustment = outf / (s * inf_);
        float center = inf_ / 2.0f;
        return center * (1.0f - adjustment) + (xr + 0.5f) / s - 0.5f;
    }
    case RS_PYTORCH_HALF_PIXEL:
        return out == 1 ? -0.5f : (xr + 0.5f) / s - 0.5f;
    case RS_ALIGN_CORNERS:
        return out == 1 ? 0.0f : xr * (inf_ - 1.0f) / (outf - 1.0f);
    case RS_ASYMMETRIC:
        return xr / s;
    case RS_TF_HALF_PIXEL_FOR_NN:
        return (xr + 0.5f) / s;
    case RS_TF_CROP_AND_RESIZE:
        return out > 1 ? (float)rs * (inf_ - 1.0f) +
                             xr * (float)(re - rs) * (inf_ - 1.0f) / (outf - 1.0f)
                       : 0.5f * (float)(rs + re) * (inf_ - 1.0f);
    }
    return 0.0;
}

static int64_t nearest_index(rs_nearest m, double xo, double scale) {
    double fl = floor(xo), frac = xo - fl;
    switch (m) {
    case RS_ROUND_PREFER_FLOOR:
        return (int64_t)(frac <= 0.5 ? fl : fl + 1);
    case RS_ROUND_PREFER_CEIL:
        return (int64_t)(frac < 0.5 ? fl : fl + 1);
    case RS_FLOOR:
        return (int64_t)fl;
    case RS_CEIL:
        return (int64_t)ceil(xo);
    case RS_SIMPLE:
        return scale < 1.0 ? (int64_t)ceil(xo) : (int64_t)xo;
    }
    return (int64_t)fl;
}

static double cubic_kernel(double x, double a) {
    x = fabs(x);
    if (x <= 1.0) return ((a + 2) * x - (a + 3)) * x * x + 1;
    if (x < 2.0) return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a;
    return 0.0;
}

static int64_t clamp_idx(int64_t i, int64_t in) {
    return i < 0 ? 0 : (i >= in ? in - 1 : i);
}

void rs_taps_free(rs_axis_taps *t) {
    free(t->idx);
    free(t->w);
    free(t->extrap);
    memset(t, 0, sizeof *t);
}

ml_status rs_taps_build(const ml_node *node, const rs_params *p, int64_t in, int64_t out,
                        double scale, double roi_start, double roi_end, rs_axis_taps *t) {
    memset(t, 0, sizeof *t);
    t->in = in, t->out = out;
    if (!(scale > 0) || !isfinite(scale))
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT, "resize scale %g must be positive",
                             scale);
    if (out > 0 && in <= 0)
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                             "cannot resize an empty axis to %lld elements", (long long)out);
    /* filter support: antialias widens linear/cubic by 1/scale when shrinking */
    double s_eff = p->antialias && scale < 1.0 && p->mode != RS_NEAREST ? scale : 1.0;
    if (1.0 / s_eff > 1000.0)
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                             "antialias filter for scale %g is too wide", scale);
    int start = 0, k = 1;
    if (p->mode == RS_LINEAR) {
        start = (int)floor(-1.0 / s_eff) + 1;
        k = 2 - 2 * start;
    } else if (p->mode == RS_CUBIC) {
        start = (int)floor(-2.0 / s_eff) + 1;
        k = 2 - 2 * start;
    }
    t->k = k; /* at most 4002 after the width check above (wv below holds 4096) */
    size_t n = (size_t)(out > 0 ? out : 1) * (size_t)k;
    t->idx = malloc(n * sizeof(int64_t));
    t->w = malloc(n * sizeof(float));
    t->extrap = calloc((size_t)(out > 0 ? out : 1), sizeof(bool));
    if (!t->idx || !t->w || !t->extrap) {
        rs_taps_free(t);
        return ml_node_error(node, ML_ERR_OUT_OF_MEMORY, "out of memory for resize taps");
    }
    bool identity = out == in;
    for (int64_t o = 0; o < out; o++) {
        int64_t *ix = t->idx + o * k;
        float *w = t->w + o * k;
        double xo = orig_coord(p, o, in, out, scale, roi_start, roi_end);
        if (p->coord == RS_TF_CROP_AND_RESIZE && (xo < 0 || xo > (double)(in - 1))) {
            t->extrap[o] = true;
            t->any_extrap = true;
            for (int i = 0; i < k; i++) ix[i] = 0, w[i] = 0;
            identity = false;
            continue;
        }
        /* keep hostile roi/scale values finite and near the axis: taps are
         * edge-clamped anyway, and the integer conversions below need it */
        if (!isfinite(xo)) xo = 0;
        xo = fmin(fmax(xo, -(double)in - 8.0), 2.0 * (double)in + 8.0);
        if (p->mode == RS_NEAREST) {
            ix[0] = clamp_idx(nearest_index(p->nearest, xo, scale), in);
            w[0] = 1.0f;
        } else {
            double x0 = floor(xo), ratio = xo - x0;
            double wsum = 0, wv[4096];
            for (int i = 0; i < k; i++) {
                int64_t pos = (int64_t)x0 + start + i;
                double d = ((double)(start + i) - ratio) * s_eff;
                double v =
                    p->mode == RS_LINEAR ? fmax(0.0, 1.0 - fabs(d)) : cubic_kernel(d, p->cubic_a);
                if (p->exclude_outside && (pos < 0 || pos >= in)) v = 0;
                wv[i] = v;
                wsum += v;
                ix[i] = clamp_idx(pos, in);
            }
            bool renorm = p->exclude_outside || s_eff < 1.0;
            for (int i = 0; i < k; i++) w[i] = (float)(renorm && wsum != 0 ? wv[i] / wsum : wv[i]);
        }
        if (identity) {
            double self = 0, other = 0;
            for (int i = 0; i < k; i++) {
                if (ix[i] == o)
                    self += w[i];
                else
                    other += fabs(w[i]);
            }
            if (fabs(self - 1.0) > 1e-7 || other > 1e-7) identity = false;
        }
    }
    t->identity = identity;
    return ML_STATUS_OK;
}

typedef struct pass_arg {
    const void *src;
    void *dst;
    int64_t in, out, inner;
    const rs_axis_taps *t;
    double extrap;
} pass_arg;

/* One pass over [outer, in, inner] -> [outer, out, inner]. The common
 * shapes get their own loops: the last axis (inner == 1) is a gather with
 * 1 or 2 taps, other axes blend whole rows, which vectorises. */
#define DEFINE_PASS(NAME, T)                                                                       \
    static void NAME(void *arg, size_t begin, size_t end) {                                        \
        const pass_arg *a = arg;                                                                   \
        const int64_t in = a->in, out = a->out, inner = a->inner;                                  \
        const int k = a->t->k;                                                                     \
        const T ex = (T)a->extrap;                                                                 \
        const int64_t *IX = a->t->idx;                                                             \
        const float *WT = a->t->w;                                                                 \
        for (size_t ob = begin; ob < end; ob++) {                                                  \
            const T *s = (const T *)a->src + ob * (size_t)in * (size_t)inner;                      \
            T *d = (T *)a->dst + ob * (size_t)out * (size_t)inner;                                 \
            if (inner == 1 && !a->t->any_extrap && k == 1) {                                       \
                for (int64_t o = 0; o < out; o++) d[o] = s[IX[o]];                                 \
                continue;                                                                          \
            }                                                                                      \
            if (inner == 1 && !a->t->any_extrap && k == 2) {                                       \
                for (int64_t o = 0; o < out; o++)                                                  \
                    d[o] = (T)WT[2 * o] * s[IX[2 * o]] + (T)WT[2 * o + 1] * s[IX[2 * o + 1]];      \
                continue;                                                                          \
            }                                                                                      \
            for (int64_t o = 0; o < out; o++) {                                                    \
                const int64_t *ix = IX + o * k;                                                    \
                const float *w = WT + o * k;                                                       \
                T *dr = d + o * inner;                                                             \
                if (a->t->extrap[o]) {                                                             \
                    for (int64_t i = 0; i < inner; i++) dr[i] = ex;                                \
                } else if (inner == 1) {                                                           \
                    T acc = 0;                                                                     \
                    for (int j = 0; j < k; j++) acc += (T)w[j] * s[ix[j]];                         \
                    dr[0] = acc;                                                                   \
                } else if (k == 1) {                                                               \
                    memcpy(dr, s + ix[0] * inner, (size_t)inner * sizeof(T));                      \
                } else if (k == 2) {                                                               \
                    const T *s0 = s + ix[0] * inner, *s1 = s + ix[1] * inner;                      \
                    const T w0 = (T)w[0], w1 = (T)w[1];                                            \
                    for (int64_t i = 0; i < inner; i++) dr[i] = w0 * s0[i] + w1 * s1[i];           \
                } else {                                                                           \
                    const T *s0 = s + ix[0] * inner;                                               \
                    const T w0 = (T)w[0];                                                          \
                    for (int64_t i = 0; i < inner; i++) dr[i] = w0 * s0[i];                        \
                    for (int j = 1; j < k; j++) {                                                  \
                        const T wj = (T)w[j];                                                      \
                        if (wj == 0) continue;                                                     \
                        const T *sj = s + ix[j] * inner;                                           \
                        for (int64_t i = 0; i < inner; i++) dr[i] += wj * sj[i];                   \
                    }                                                                              \
                }                                                                                  \
            }                                                                                      \
        }                                                                                          \
    }

DEFINE_PASS(pass_f32, float)
DEFINE_PASS(pass_f64, double)

ml_status rs_resample(const ml_node *node, ml_threadpool *pool, const ml_tensor *x, ml_tensor *y,
                      const rs_axis_taps *taps, float extrapolation) {
    const int rank = x->rank;
    size_t n_in = ml_tensor_numel(x), n_out = ml_tensor_numel(y);
    if (n_out == 0) return ML_STATUS_OK;
    /* float32 work for the float types; double for double and integers, so
     * int64 values survive nearest-neighbour exactly */
    bool use_f32 = x->dtype == ML_FLOAT || x->dtype == ML_FLOAT16 || x->dtype == ML_BFLOAT16;
    size_t esz = use_f32 ? sizeof(float) : sizeof(double);

    /* axis order: shrinking axes first keeps intermediates small; between
     * equal ratios, the gather-like inner axes go where the data is
     * smallest (first when enlarging, last when shrinking) */
    int order[ML_MAX_RANK], n_ax = 0;
    for (int a = 0; a < rank; a++)
        if (taps[a].idx && !taps[a].identity) order[n_ax++] = a;
    for (int i = 1; i < n_ax; i++)
        for (int j = i; j > 0; j--) {
            const rs_axis_taps *p = &taps[order[j - 1]], *q = &taps[order[j]];
            double rp = (double)p->out / (double)p->in, rq = (double)q->out / (double)q->in;
            if (rq < rp || (rq == rp && rq > 1.0)) { /* q is the later axis */
                int tmp = order[j];
                order[j] = order[j - 1];
                order[j - 1] = tmp;
            } else {
                break;
            }
        }
    int64_t cur[ML_MAX_RANK];
    memcpy(cur, x->dims, sizeof(int64_t) * (size_t)rank);
    size_t max_n = n_in > n_out ? n_in : n_out;
    for (int i = 0; i < n_ax; i++) {
        cur[order[i]] = taps[order[i]].out;
        size_t n;
        if (!ml_shape_numel(rank, cur, &n))
            return ml_node_error(node, ML_ERR_RESOURCE_EXHAUSTED, "resize intermediate too large");
        if (n > max_n) max_n = n;
    }
    void *buf_a = malloc((max_n + 1) * esz), *buf_b = malloc((max_n + 1) * esz);
    if (!buf_a || !buf_b) {
        free(buf_a);
        free(buf_b);
        return ml_node_error(node, ML_ERR_OUT_OF_MEMORY, "out of memory resizing %zu elements",
                             max_n);
    }
    /* the work type's own tensors are read and written in place, skipping
     * the conversion copies */
    ml_dtype work_dt = use_f32 ? ML_FLOAT : ML_DOUBLE;
    const void *src = x->data;
    if (x->dtype != work_dt) {
        if (use_f32)
            misc_to_f32(x, buf_a, n_in);
        else
            misc_to_f64(x, buf_a, n_in);
        src = buf_a;
    }
    memcpy(cur, x->dims, sizeof(int64_t) * (size_t)rank);
    for (int i = 0; i < n_ax; i++) {
        int a = order[i];
        size_t outer = 1, inner = 1;
        for (int d = 0; d < a; d++) outer *= (size_t)cur[d];
        for (int d = a + 1; d < rank; d++) inner *= (size_t)cur[d];
        void *dst = src == buf_a ? buf_b : buf_a;
        if (i == n_ax - 1 && y->dtype == work_dt) dst = y->data;
        pass_arg pa = {src, dst, taps[a].in, taps[a].out, (int64_t)inner, &taps[a], extrapolation};
        size_t work = (size_t)taps[a].out * inner * (size_t)taps[a].k + 1;
        size_t chunk = 16384 / work + 1;
        if (outer > 0) ml_parallel_for(pool, outer, chunk, use_f32 ? pass_f32 : pass_f64, &pa);
        cur[a] = taps[a].out;
        src = dst;
    }
    if (src != y->data) {
        /* src holds n_out work-type values (x itself when no axis changed) */
        if (y->dtype == work_dt)
            memcpy(y->data, src, n_out * esz);
        else if (use_f32)
            misc_from_f32(y, (const float *)src, n_out);
        else
            misc_from_f64(y, (const double *)src, n_out);
    }
    free(buf_a);
    free(buf_b);
    return ML_STATUS_OK;
}
