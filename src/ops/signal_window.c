/* HannWindow, HammingWindow, BlackmanWindow and MelWeightMatrix (opset 17):
 * generators whose inputs are scalars; output_datatype picks the dtype. */
#include <math.h>
#include <stdlib.h>

#include "ops/misc_util.h"
#include "ops/signal_internal.h"

static ml_status out_dtype(const ml_node *node, ml_dtype *dt) {
    int64_t v = ml_attr_int(node, "output_datatype", ML_FLOAT);
    if (!ml_dtype_valid((int)v) || v == ML_STRING || v == ML_UNDEFINED || v == ML_COMPLEX64 ||
        v == ML_COMPLEX128)
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                             "output_datatype %lld is not a numeric type", (long long)v);
    *dt = (ml_dtype)v;
    return ML_STATUS_OK;
}

static ml_status scalar(const ml_kernel_ctx *ctx, size_t i, double *out) {
    const ml_tensor *t;
    ML_TRY(ml_require_input(ctx, i, &t));
    if (ml_tensor_numel(t) != 1 || t->dtype == ML_STRING)
        return ml_node_error(ctx->node, ML_ERR_INVALID_ARGUMENT, "input %zu must be a scalar", i);
    *out = ml_tensor_get_f64(t, 0);
    return ML_STATUS_OK;
}

/* w[n] = a0 - a1 cos(2 pi n / N) + a2 cos(4 pi n / N) */
static ml_status run_window(ml_kernel_ctx *ctx, double a0, double a1, double a2) {
    ml_dtype dt;
    ML_TRY(out_dtype(ctx->node, &dt));
    double sz;
    ML_TRY(scalar(ctx, 0, &sz));
    if (!(sz >= 0 && sz <= (double)((int64_t)1 << 24)))
        return ml_node_error(ctx->node, ML_ERR_INVALID_ARGUMENT, "size %g is out of range", sz);
    int64_t size = (int64_t)sz;
    bool periodic = ml_attr_int(ctx->node, "periodic", 1) != 0;
    ml_tensor *Y;
    ML_TRY(ml_output_tensor(ctx, 0, dt, 1, &size, &Y));
    double *w = malloc(((size_t)size + 1) * sizeof(double));
    if (!w) return ml_node_error(ctx->node, ML_ERR_OUT_OF_MEMORY, "out of memory");
    double N = periodic ? (double)size : (double)(size - 1);
    for (int64_t n = 0; n < size; n++)
        w[n] = N > 0 ? a0 - a1 * cos(2 * M_PI * (double)n / N) + a2 * cos(4 * M_PI * (double)n / N)
                     : 1.0;
    misc_from_f64(Y, w, (size_t)size);
    free(w);
    return ML_STATUS_OK;
}

ml_status signal_run_hann(ml_kernel_ctx *ctx) {
    return run_window(ctx, 0.5, 0.5, 0.0);
}
ml_status signal_run_hamming(ml_kernel_ctx *ctx) {
    return run_window(ctx, 25.0 / 46.0, 1.0 - 25.0 / 46.0, 0.0);
}
ml_status signal_run_blackman(ml_kernel_ctx *ctx) {
    return run_window(ctx, 0.42, 0.5, 0.08);
}

/* Triangular mel filters exactly as the ONNX reference computes them
 * (including its integer bin rounding). */
ml_status signal_run_mel(ml_kernel_ctx *ctx) {
    const ml_node *node = ctx->node;
    ml_dtype dt;
    ML_TRY(out_dtype(node, &dt));
    double nm, dl, sr, lo, hi;
    ML_TRY(scalar(ctx, 0, &nm));
    ML_TRY(scalar(ctx, 1, &dl));
    ML_TRY(scalar(ctx, 2, &sr));
    ML_TRY(scalar(ctx, 3, &lo));
    ML_TRY(scalar(ctx, 4, &hi));
    if (!(nm >= 1 && nm <= 65536 && dl >= 1 && dl <= (double)(1 << 24) && sr > 0 && lo >= 0 &&
          hi >= lo && hi < 1e12) ||
        nm * (dl / 2 + 1) > (double)(1 << 28))
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                             "need num_mel_bins in [1, 65536], dft_length >= 1, sample_rate > 0 "
                             "and 0 <= lower_edge_hertz <= upper_edge_hertz");
    int64_t mels = (int64_t)nm, dft = (int64_t)dl, bins = dft / 2 + 1;
    int64_t od[2] = {bins, mels};
    ml_tensor *Y;
    ML_TRY(ml_output_tensor(ctx, 0, dt, 2, od, &Y));
    size_t n = (size_t)bins * (size_t)mels;
    double *out = calloc(n + 1, sizeof(double));
    int64_t *fb = malloc(((size_t)mels + 2) * sizeof(int64_t));
    if (!out || !fb) {
        free(out), free(fb);
        return ml_node_error(node, ML_ERR_OUT_OF_MEMORY, "out of memory");
    }
    double lo_mel = 2595.0 * log10(1.0 + lo / 700.0), hi_mel = 2595.0 * log10(1.0 + hi / 700.0);
    double step = (hi_mel - lo_mel) / (double)(mels + 2);
    for (int64_t i = 0; i < mels + 2; i++) {
        double hz = 700.0 * (pow(10.0, ((double)i * step + lo_mel) / 2595.0) - 1.0);
        fb[i] = misc_f2i(floor((double)(dft + 1) * hz / sr), -1, bins + 1);
    }
    if (fb[0] < 0 || fb[mels + 1] >= bins) { /* as onnxruntime: say so rather than clip */
        free(out), free(fb);
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                             "upper_edge_hertz %g puts mel filters beyond the %lld bins of "
                             "dft_length %lld at sample_rate %g; lower it or raise dft_length",
                             hi, (long long)bins, (long long)dft, sr);
    }
    for (int64_t i = 0; i < mels; i++) {
        int64_t l = fb[i], c = fb[i + 1], h = fb[i + 2];
        if (c - l == 0) {
            if (c >= 0 && c < bins) out[c * mels + i] = 1.0;
        } else {
            for (int64_t j = l; j <= c; j++)
                if (j >= 0 && j < bins) out[j * mels + i] = (double)(j - l) / (double)(c - l);
        }
        if (h - c > 0)
            for (int64_t j = c; j < h; j++)
                if (j >= 0 && j < bins) out[j * mels + i] = (double)(h - j) / (double)(h - c);
    }
    misc_from_f64(Y, out, n);
    free(out), free(fb);
    return ML_STATUS_OK;
}
