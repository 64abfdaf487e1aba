/* Activations fused into GEMM/Conv epilogues (see gemm_fast.h). */
#include <math.h>
#include <string.h>

#include "ops/gemm_fast.h"

ml_status nn_act_parse(const ml_node *node, const char *name, const float *params, size_t n,
                       nn_act *out) {
    *out = (nn_act){NN_ACT_NONE, 0.0f, 0.0f};
    if (!name || !name[0] || strcmp(name, "Identity") == 0) return ML_STATUS_OK;
    if (strcmp(name, "Relu") == 0) {
        out->kind = NN_ACT_RELU;
    } else if (strcmp(name, "Sigmoid") == 0) {
        out->kind = NN_ACT_SIGMOID;
    } else if (strcmp(name, "Tanh") == 0) {
        out->kind = NN_ACT_TANH;
    } else if (strcmp(name, "LeakyRelu") == 0) {
        out->kind = NN_ACT_LEAKY_RELU;
        out->a = n > 0 ? params[0] : 0.01f;
    } else if (strcmp(name, "Clip") == 0) {
        out->kind = NN_ACT_CLIP;
        out->a = n > 0 ? params[0] : -INFINITY;
        out->b = n > 1 ? params[1] : INFINITY;
    } else if (strcmp(name, "HardSigmoid") == 0) {
        out->kind = NN_ACT_HARD_SIGMOID;
        out->a = n > 0 ? params[0] : 0.2f;
        out->b = n > 1 ? params[1] : 0.5f;
    } else {
        return ml_node_error(node, ML_ERR_UNSUPPORTED,
                             "activation '%s' is not supported (use Relu, LeakyRelu, Sigmoid, "
                             "Tanh, Clip or HardSigmoid)",
                             name);
    }
    return ML_STATUS_OK;
}

/* The project builds with -O2, where GCC 12 vectorises only loops whose
 * trip count is a known multiple of the vector width; these run over whole
 * conv outputs, so they ask for the full cost model (measured: the residual
 * add + Relu of ResNet-18's 56/28/14/7-wide convs were 6% of the model on
 * one thread as scalar loops). */
#if defined(__GNUC__) && !defined(__clang__)
#define NN_ACT_VEC __attribute__((optimize("tree-vectorize", "vect-cost-model=dynamic")))
#else
#define NN_ACT_VEC /* clang vectorises these at -O2 already */
#endif

NN_ACT_VEC void nn_act_apply(const nn_act *act, float *x, size_t n) {
    float a = act->a, b = act->b;
    switch (act->kind) {
    case NN_ACT_NONE:
        break;
    case NN_ACT_RELU:
        for (size_t i = 0; i < n; i++) x[i] = x[i] > 0.0f ? x[i] : 0.0f;
        break;
    case NN_ACT_LEAKY_RELU:
        for (size_t i = 0; i < n; i++) x[i] = x[i] >= 0.0f ? x[i] : x[i] * a;
        break;
    case NN_ACT_CLIP:
        /* NaN passes through, as in Clip */
        for (size_t i = 0; i < n; i++) x[i] = x[i] < a ? a : (x[i] > b ? b : x[i]);
        break;
    case NN_ACT_HARD_SIGMOID:
        for (size_t i = 0; i < n; i++) {
            float v = a * x[i] + b;
            x[i] = v < 0.0f ? 0.0f : (v > 1.0f ? 1.0f : v);
        }
        break;
    case NN_ACT_SIGMOID:
        /* split by sign so expf never overflows */
        for (size_t i = 0; i < n; i++) {
            float v = x[i];
            if (v >= 0.0f) {
                x[i] = 1.0f / (1.0f + expf(-v));
            } else {
                float e = expf(v);
                x[i] = e / (1.0f + e);
            }
        }
        break;
    case NN_ACT_TANH:
        for (size_t i = 0; i < n; i++) x[i] = tanhf(x[i]);
        break;
    }
}

NN_ACT_VEC void nn_add_act(const nn_act *act, const float *x, const float *z, float *y, size_t n) {
    if (act->kind == NN_ACT_RELU) {
        for (size_t i = 0; i < n; i++) {
            float v = x[i] + z[i];
            y[i] = v > 0.0f ? v : 0.0f;
        }
        return;
    }
    for (size_t i = 0; i < n; i++) y[i] = x[i] + z[i];
    nn_act_apply(act, y, n);
}
