/* DFT (17, 20) and STFT (17); the window functions and MelWeightMatrix are
 * in signal_window.c, the FFT in signal_fft.c. Signals carry a last axis of
 * 1 (real) or 2 (complex: re, im); outputs are always complex. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ops/families.h"
#include "ops/misc_util.h"
#include "ops/signal_internal.h"

static ml_status scalar_int(const ml_kernel_ctx *ctx, size_t i, int64_t dflt, int64_t *out) {
    const ml_tensor *t = ml_input(ctx, i);
    *out = dflt;
    if (!t) return ML_STATUS_OK;
    if (ml_tensor_numel(t) != 1 || !ml_dtype_is_integer(t->dtype))
        return ml_node_error(ctx->node, ML_ERR_INVALID_ARGUMENT,
                             "input %zu must be an integer scalar", i);
    *out = misc_get_i64(t, 0);
    return ML_STATUS_OK;
}

static ml_status run_dft(ml_kernel_ctx *ctx) {
    const ml_node *node = ctx->node;
    const ml_tensor *X;
    ML_TRY(ml_require_input(ctx, 0, &X));
    const int r = X->rank;
    if (r < 2 || (X->dims[r - 1] != 1 && X->dims[r - 1] != 2) || !misc_is_float_type(X->dtype))
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                             "input must be a float tensor [batch, ..., 1 or 2], rank >= 2");
    int64_t axis;
    if (node->opset >= 20)
        ML_TRY(scalar_int(ctx, 2, -2, &axis));
    else
        axis = ml_attr_int(node, "axis", 1);
    if (axis < 0) axis += r;
    if (axis < 0 || axis > r - 2)
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                             "axis must name a signal dimension (not the last one) of rank %d", r);
    const int64_t n_in = X->dims[axis];
    int64_t N;
    ML_TRY(scalar_int(ctx, 1, n_in, &N));
    bool inverse = ml_attr_int(node, "inverse", 0) != 0;
    bool onesided = ml_attr_int(node, "onesided", 0) != 0;
    if (N < 1 || N > ((int64_t)1 << 22))
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT, "dft_length %lld must be in [1, 2^22]",
                             (long long)N);
    const int64_t out_len = onesided ? N / 2 + 1 : N;
    int64_t od[ML_MAX_RANK];
    memcpy(od, X->dims, sizeof(int64_t) * (size_t)r);
    od[axis] = out_len;
    od[r - 1] = 2;
    ml_tensor *Y;
    ML_TRY(ml_output_tensor(ctx, 0, X->dtype, r, od, &Y));
    size_t n_out = ml_tensor_numel(Y), n_x = ml_tensor_numel(X);
    if (n_out == 0) return ML_STATUS_OK;
    const int64_t comp = X->dims[r - 1];
    size_t outer = 1, inner = 1;
    for (int i = 0; i < axis; i++) outer *= (size_t)X->dims[i];
    for (int i = (int)axis + 1; i < r - 1; i++) inner *= (size_t)X->dims[i];
    double *x = malloc((n_x + 1) * sizeof(double)), *y = malloc(n_out * sizeof(double));
    double *buf = malloc(2 * (size_t)N * sizeof(double));
    sig_fft *plan = NULL;
    ml_status st = x && y && buf ? sig_fft_create((size_t)N, &plan)
                                 : ml_node_error(node, ML_ERR_OUT_OF_MEMORY, "out of memory");
    if (!st) {
        misc_to_f64(X, x, n_x);
        const int64_t n_copy = n_in < N ? n_in : N;
        for (size_t o = 0; o < outer; o++)
            for (size_t i = 0; i < inner; i++) {
                memset(buf, 0, 2 * (size_t)N * sizeof(double));
                for (int64_t k = 0; k < n_copy; k++) {
                    const double *src =
                        x + ((o * (size_t)n_in + (size_t)k) * inner + i) * (size_t)comp;
                    buf[2 * k] = src[0];
                    buf[2 * k + 1] = comp == 2 ? src[1] : 0.0;
                }
                sig_fft_run(plan, buf, inverse);
                for (int64_t k = 0; k < out_len; k++) {
                    double *dst = y + ((o * (size_t)out_len + (size_t)k) * inner + i) * 2;
                    dst[0] = buf[2 * k], dst[1] = buf[2 * k + 1];
                }
            }
        misc_from_f64(Y, y, n_out);
    }
    sig_fft_free(plan);
    free(x), free(y), free(buf);
    return st;
}

static ml_status run_stft(ml_kernel_ctx *ctx) {
    const ml_node *node = ctx->node;
    const ml_tensor *S, *W = ml_input(ctx, 2);
    ML_TRY(ml_require_input(ctx, 0, &S));
    if (S->rank != 3 || (S->dims[2] != 1 && S->dims[2] != 2) || !misc_is_float_type(S->dtype))
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                             "signal must be a float tensor [batch, length, 1 or 2]");
    int64_t step, fl;
    ML_TRY(scalar_int(ctx, 1, 0, &step));
    ML_TRY(scalar_int(ctx, 3, W ? (W->rank == 1 ? W->dims[0] : -1) : -1, &fl));
    if (W && (W->rank != 1 || W->dims[0] != fl || !misc_is_float_type(W->dtype)))
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                             "window must be a float vector of frame_length %lld", (long long)fl);
    const int64_t B = S->dims[0], L = S->dims[1], comp = S->dims[2];
    if (step < 1 || fl < 1 || fl > L || fl > ((int64_t)1 << 22))
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                             "need frame_step >= 1 and 1 <= frame_length (%lld) <= signal length "
                             "(%lld); give frame_length or a window",
                             (long long)fl, (long long)L);
    bool onesided = ml_attr_int(node, "onesided", 1) != 0;
    const int64_t frames = 1 + (L - fl) / step, bins = onesided ? fl / 2 + 1 : fl;
    int64_t od[4] = {B, frames, bins, 2};
    ml_tensor *Y;
    ML_TRY(ml_output_tensor(ctx, 0, S->dtype, 4, od, &Y));
    size_t n_out = ml_tensor_numel(Y), n_s = ml_tensor_numel(S);
    if (n_out == 0) return ML_STATUS_OK;
    double *s = malloc((n_s + 1) * sizeof(double)), *y = malloc(n_out * sizeof(double));
    double *w = malloc((size_t)fl * sizeof(double)), *buf = malloc(2 * (size_t)fl * sizeof(double));
    sig_fft *plan = NULL;
    ml_status st = s && y && w && buf ? sig_fft_create((size_t)fl, &plan)
                                      : ml_node_error(node, ML_ERR_OUT_OF_MEMORY, "out of memory");
    if (!st) {
        misc_to_f64(S, s, n_s);
        if (W)
            misc_to_f64(W, w, (size_t)fl);
        else
            for (int64_t k = 0; k < fl; k++) w[k] = 1.0;
        for (int64_t b = 0; b < B; b++)
            for (int64_t f = 0; f < frames; f++) {
                const double *src = s + ((size_t)b * (size_t)L + (size_t)(f * step)) * (size_t)comp;
                for (int64_t k = 0; k < fl; k++) {
                    buf[2 * k] = src[k * comp] * w[k];
                    buf[2 * k + 1] = comp == 2 ? src[k * comp + 1] * w[k] : 0.0;
                }
                sig_fft_run(plan, buf, false);
                memcpy(y + ((size_t)(b * frames + f) * (size_t)bins) * 2, buf,
                       2 * (size_t)bins * sizeof(double));
            }
        misc_from_f64(Y, y, n_out);
    }
    sig_fft_free(plan);
    free(s), free(y), free(w), free(buf);
    return st;
}

const ml_kernel ml_kernels_signal[] = {
    {"", "DFT", 17, 0, NULL, NULL, run_dft},
    {"", "STFT", 17, 0, NULL, NULL, run_stft},
    {"", "HannWindow", 17, 0, NULL, NULL, signal_run_hann},
    {"", "HammingWindow", 17, 0, NULL, NULL, signal_run_hamming},
    {"", "BlackmanWindow", 17, 0, NULL, NULL, signal_run_blackman},
    {"", "MelWeightMatrix", 17, 0, NULL, NULL, signal_run_mel},
    {0},
};
