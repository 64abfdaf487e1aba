/* GridSample (opsets 16 and 20): samples X [N, C, D1..Dr] at the normalised
 * coordinates of grid [N, O1..Or, r] (last axis ordered x, y, z: innermost
 * spatial dim first) with nearest / linear / cubic filters and zeros /
 * border / reflection padding, following the ONNX reference implementation.
 * Opset 16 only defines r = 2 ("bilinear", "bicubic"); any r works here.
 *
 * Each output point is a tensor product of per-dimension taps (1, 2 or 4
 * positions with weights), each position padded on its own. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ops/misc_util.h"

typedef enum gs_pad { GS_ZEROS, GS_BORDER, GS_REFLECTION } gs_pad;
typedef enum gs_mode { GS_NEAREST, GS_LINEAR, GS_CUBIC } gs_mode;

#define GS_MAX_DIMS (ML_MAX_RANK - 2)
/* taps per output point (k^r): 16 for 2-D cubic, 64 for 3-D cubic */
#define GS_MAX_COMBOS 256

static double reflect(double x, double lo, double hi) {
    double rng = hi - lo;
    if (rng <= 0) return lo;
    /* in doubles throughout: a hostile coordinate may not fit an integer */
    if (x < lo) {
        double dx = lo - x, n = floor(dx / rng), r = dx - n * rng;
        return fmod(n, 2.0) == 0 ? lo + r : hi - r;
    }
    if (x > hi) {
        double dx = x - hi, n = floor(dx / rng), r = dx - n * rng;
        return fmod(n, 2.0) == 0 ? hi - r : lo + r;
    }
    return x;
}

static void cubic_coeffs(double t, double c[4]) {
    const double A = -0.75;
    double x = t + 1;
    c[0] = ((A * x - 5 * A) * x + 8 * A) * x - 4 * A;
    x = t;
    c[1] = ((A + 2) * x - (A + 3)) * x * x + 1;
    x = 1 - t;
    c[2] = ((A + 2) * x - (A + 3)) * x * x + 1;
    x = 2 - t;
    c[3] = ((A * x - 5 * A) * x + 8 * A) * x - 4 * A;
}

/* Taps of one spatial dim for one output point: positions already padded
 * (-1 marks a zero-padded position) and their weights. */
typedef struct gs_taps {
    int k;
    int64_t pos[4];
    double w[4];
} gs_taps;

static int64_t pad_index(int64_t i, int64_t d, gs_pad pad, double lo, double hi) {
    if (pad == GS_ZEROS) return i >= 0 && i < d ? i : -1;
    if (pad == GS_REFLECTION) i = (int64_t)reflect((double)i, lo, hi);
    return i < 0 ? 0 : (i >= d ? d - 1 : i);
}

static void dim_taps(gs_mode mode, gs_pad pad, double x, int64_t d, double lo, double hi,
                     gs_taps *t) {
    if (mode == GS_NEAREST) { /* x is already rounded */
        t->k = 1;
        t->pos[0] = pad_index((int64_t)x, d, pad, lo, hi);
        t->w[0] = 1;
        return;
    }
    double x0 = floor(x), f = x - x0;
    if (mode == GS_LINEAR) {
        t->k = 2;
        t->w[0] = 1 - f, t->w[1] = f;
        for (int i = 0; i < 2; i++) t->pos[i] = pad_index((int64_t)x0 + i, d, pad, lo, hi);
        return;
    }
    t->k = 4;
    cubic_coeffs(f, t->w);
    for (int i = 0; i < 4; i++) t->pos[i] = pad_index((int64_t)x0 - 1 + i, d, pad, lo, hi);
}

typedef struct gs_args {
    const float *x, *grid;
    float *y;
    int r; /* spatial dims */
    int64_t C;
    int64_t in[GS_MAX_DIMS];  /* D1..Dr */
    size_t in_size, out_size; /* points per channel in X / in Y */
    gs_mode mode;
    gs_pad pad;
    bool align;
} gs_args;

/* Samples every channel at output points [begin, end) of batch-flattened
 * index space (n * out_size + p). */
static void sample_range(void *arg, size_t begin, size_t end) {
    const gs_args *a = arg;
    const int r = a->r;
    gs_taps taps[GS_MAX_DIMS];
    size_t offs[GS_MAX_COMBOS];
    double ws[GS_MAX_COMBOS];
    for (size_t q = begin; q < end; q++) {
        size_t n = q / a->out_size, p = q % a->out_size;
        const float *g = a->grid + q * (size_t)r;
        bool finite = true;
        for (int d = 0; d < r; d++) {
            /* grid's last axis is reversed: entry 0 is the innermost dim */
            double v = g[r - 1 - d], len = (double)a->in[d];
            double lo = a->align ? 0 : -0.5, hi = a->align ? len - 1 : len - 0.5;
            double x = a->align ? (v + 1) / 2 * (len - 1) : ((v + 1) * len - 1) / 2;
            if (!isfinite(x)) {
                finite = false;
                break;
            }
            if (a->mode == GS_NEAREST) /* 2-D rounds half to even, other ranks away from 0 */
                x = r == 2 ? nearbyint(x) : round(x);
            /* coordinates only move when outside the border range; taps of
             * in-range samples are padded per position */
            if (x < lo || x > hi) {
                if (a->pad == GS_BORDER)
                    x = fmin(fmax(x, 0), len - 1);
                else if (a->pad == GS_REFLECTION)
                    x = reflect(x, lo, hi);
            }
            x = fmin(fmax(x, -len - 8.0), 2.0 * len + 8.0); /* bounds the int casts */
            dim_taps(a->mode, a->pad, x, a->in[d], lo, hi, &taps[d]);
        }
        /* flatten the k^r tap combinations once; channels reuse them */
        size_t nc = 0;
        if (finite) {
            int idx[GS_MAX_DIMS] = {0};
            for (;;) {
                double w = 1;
                size_t off = 0;
                bool zero = false;
                for (int d = 0; d < r; d++) {
                    int64_t pos = taps[d].pos[idx[d]];
                    if (pos < 0) {
                        zero = true;
                        break;
                    }
                    w *= taps[d].w[idx[d]];
                    off = off * (size_t)a->in[d] + (size_t)pos;
                }
                if (!zero) offs[nc] = off, ws[nc++] = w;
                int d = r - 1;
                while (d >= 0 && ++idx[d] == taps[d].k) idx[d--] = 0;
                if (d < 0) break;
            }
        }
        for (int64_t c = 0; c < a->C; c++) {
            const float *img = a->x + (n * (size_t)a->C + (size_t)c) * a->in_size;
            double acc = 0;
            for (size_t m = 0; m < nc; m++) acc += ws[m] * img[offs[m]];
            a->y[(n * (size_t)a->C + (size_t)c) * a->out_size + p] = (float)acc;
        }
    }
}

ml_status ml_resize_run_gridsample(ml_kernel_ctx *ctx) {
    const ml_node *node = ctx->node;
    const ml_tensor *X, *G;
    ML_TRY(ml_require_input(ctx, 0, &X));
    ML_TRY(ml_require_input(ctx, 1, &G));
    const int r = X->rank - 2;
    if (r < 1 || G->rank != X->rank || G->dims[X->rank - 1] != r || G->dims[0] != X->dims[0])
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                             "X must be [N,C,D1..Dr] and grid [N,O1..Or,r] with the same N "
                             "(got ranks %d and %d)",
                             X->rank, G->rank);
    if (!misc_is_float_type(X->dtype) || !misc_is_float_type(G->dtype))
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT, "X and grid must be float tensors");
    const char *ms = ml_attr_string(node, "mode", node->opset >= 20 ? "linear" : "bilinear");
    gs_args a = {.r = r, .C = X->dims[1], .align = ml_attr_int(node, "align_corners", 0) != 0};
    if (!strcmp(ms, "bilinear") || !strcmp(ms, "linear"))
        a.mode = GS_LINEAR;
    else if (!strcmp(ms, "nearest"))
        a.mode = GS_NEAREST;
    else if (!strcmp(ms, "bicubic") || !strcmp(ms, "cubic"))
        a.mode = GS_CUBIC;
    else
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                             "mode '%s' must be linear (bilinear), nearest or cubic (bicubic)", ms);
    const char *ps = ml_attr_string(node, "padding_mode", "zeros");
    if (!strcmp(ps, "zeros"))
        a.pad = GS_ZEROS;
    else if (!strcmp(ps, "border"))
        a.pad = GS_BORDER;
    else if (!strcmp(ps, "reflection"))
        a.pad = GS_REFLECTION;
    else
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                             "padding_mode '%s' must be zeros, border or reflection", ps);
    const int k = a.mode == GS_NEAREST ? 1 : a.mode == GS_LINEAR ? 2 : 4;
    double combos = pow((double)k, (double)r);
    if (combos > GS_MAX_COMBOS)
        return ml_node_error(node, ML_ERR_UNSUPPORTED,
                             "%s sampling over %d spatial dims needs %.0f taps per point (at most "
                             "%d are supported)",
                             ms, r, combos, GS_MAX_COMBOS);
    int64_t od[ML_MAX_RANK] = {X->dims[0], X->dims[1]};
    a.in_size = a.out_size = 1;
    for (int d = 0; d < r; d++) {
        a.in[d] = X->dims[2 + d];
        od[2 + d] = G->dims[1 + d];
        a.in_size *= (size_t)a.in[d];
        a.out_size *= (size_t)od[2 + d];
    }
    ml_tensor *Y;
    ML_TRY(ml_output_tensor(ctx, 0, X->dtype, X->rank, od, &Y));
    size_t n_out = ml_tensor_numel(Y);
    if (n_out == 0) return ML_STATUS_OK;
    if (a.in_size == 0)
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT, "cannot sample an empty image");
    float *xo, *go, *yo = NULL;
    a.x = misc_f32_view(X, &xo);
    a.grid = misc_f32_view(G, &go);
    a.y = Y->dtype == ML_FLOAT ? Y->data : (yo = malloc(n_out * sizeof(float)));
    if (!a.x || !a.grid || !a.y) {
        free(xo), free(go), free(yo);
        return ml_node_error(node, ML_ERR_OUT_OF_MEMORY, "out of memory");
    }
    size_t points = (size_t)X->dims[0] * a.out_size;
    ml_parallel_for(ctx->pool, points, 256, sample_range, &a);
    if (yo) misc_from_f32(Y, yo, n_out);
    free(xo), free(go), free(yo);
    return ML_STATUS_OK;
}
