/* Activation functions of RNN/GRU/LSTM (the "activations" attribute). */
#include <math.h>
#include <string.h>
#include <strings.h>

#include "ops/rnn_internal.h"

typedef struct act_desc {
    const char *name;
    rnn_act_kind kind;
    int n_alpha, n_beta; /* how many of activation_alpha/beta the function consumes */
    float alpha, beta;   /* defaults, as in the corresponding ONNX operators */
} act_desc;

static const act_desc act_table[] = {
    {"Sigmoid", RNN_ACT_SIGMOID, 0, 0, 0, 0},
    {"Tanh", RNN_ACT_TANH, 0, 0, 0, 0},
    {"Relu", RNN_ACT_RELU, 0, 0, 0, 0},
    {"Affine", RNN_ACT_AFFINE, 1, 1, 1.0f, 0.0f},
    {"LeakyRelu", RNN_ACT_LEAKY_RELU, 1, 0, 0.01f, 0},
    {"ThresholdedRelu", RNN_ACT_THRESHOLDED_RELU, 1, 0, 1.0f, 0},
    {"ScaledTanh", RNN_ACT_SCALED_TANH, 1, 1, 1.0f, 1.0f},
    {"HardSigmoid", RNN_ACT_HARD_SIGMOID, 1, 1, 0.2f, 0.5f},
    {"Elu", RNN_ACT_ELU, 1, 0, 1.0f, 0},
    {"Softsign", RNN_ACT_SOFTSIGN, 0, 0, 0, 0},
    {"Softplus", RNN_ACT_SOFTPLUS, 0, 0, 0, 0},
};

static const act_desc *find_act(const char *name) {
    for (size_t i = 0; i < sizeof act_table / sizeof act_table[0]; i++)
        if (strcasecmp(act_table[i].name, name) == 0) return &act_table[i];
    return NULL;
}

static const act_desc *find_kind(rnn_act_kind k) {
    for (size_t i = 0; i < sizeof act_table / sizeof act_table[0]; i++)
        if (act_table[i].kind == k) return &act_table[i];
    return &act_table[0];
}

ml_status rnn_parse_activations(const ml_node *node, int n_dirs, int n_per_dir,
                                const rnn_act_kind *dflt, rnn_act *out) {
    const ml_str *names;
    size_t n_names = ml_attr_strings(node, "activations", &names);
    const float *alphas, *betas;
    size_t n_alpha = ml_attr_floats(node, "activation_alpha", &alphas);
    size_t n_beta = ml_attr_floats(node, "activation_beta", &betas);
    size_t need = (size_t)n_dirs * (size_t)n_per_dir;
    if (n_names && n_names != need && n_names != (size_t)n_per_dir)
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                             "activations has %zu entries; expected %zu (%d per direction)",
                             n_names, need, n_per_dir);
    size_t ia = 0, ib = 0;
    for (size_t i = 0; i < need; i++) {
        const act_desc *d;
        if (n_names) {
            /* one list for both directions is accepted (some exporters do it) */
            const ml_str *s = &names[n_names == need ? i : i % (size_t)n_per_dir];
            d = find_act(s->data);
            if (!d)
                return ml_node_error(node, ML_ERR_UNSUPPORTED,
                                     "activation '%s' is not supported (use Sigmoid, Tanh, Relu, "
                                     "Affine, LeakyRelu, ThresholdedRelu, ScaledTanh, HardSigmoid, "
                                     "Elu, Softsign or Softplus)",
                                     s->data);
        } else {
            d = find_kind(dflt[i % (size_t)n_per_dir]);
        }
        out[i].kind = d->kind;
        out[i].alpha = d->alpha;
        out[i].beta = d->beta;
        if (d->n_alpha && ia < n_alpha) out[i].alpha = alphas[ia++];
        if (d->n_beta && ib < n_beta) out[i].beta = betas[ib++];
    }
    return ML_STATUS_OK;
}

/* tanh as a [13/6] rational function of x (Eigen's fast float tanh): max
 * error a few ulp, no libm call, and a plain loop the compiler vectorises.
 * The gates evaluate millions of these per sequence, so this matters. */
#if defined(__GNUC__) && !defined(__clang__)
/* gcc's -O2 cost model leaves this loop scalar; the full model vectorises it */
#define RNN_VECTORIZE                                                                              \
    __attribute__((noinline,                                                                       \
                   optimize("tree-vectorize", "vect-cost-model=dynamic", "no-trapping-math")))
#else
#define RNN_VECTORIZE
#endif

RNN_VECTORIZE static void fast_tanh(float *x, size_t n) {
    const float a1 = 4.89352455891786e-03f, a3 = 6.37261928875436e-04f, a5 = 1.48572235717979e-05f;
    const float a7 = 5.12229709037114e-08f, a9 = -8.60467152213735e-11f;
    const float a11 = 2.00018790482477e-13f, a13 = -2.76076847742355e-16f;
    const float b0 = 4.89352518554385e-03f, b2 = 2.26843463243900e-03f, b4 = 1.18534705686654e-04f;
    const float b6 = 1.19825839466702e-06f, lim = 7.90531110763549805f;
    for (size_t i = 0; i < n; i++) {
        float v = x[i];
        v = v < -lim ? -lim : v;
        v = v > lim ? lim : v;
        const float v2 = v * v;
        float p = a13;
        p = p * v2 + a11;
        p = p * v2 + a9;
        p = p * v2 + a7;
        p = p * v2 + a5;
        p = p * v2 + a3;
        p = p * v2 + a1;
        p = p * v;
        float q = b6;
        q = q * v2 + b4;
        q = q * v2 + b2;
        q = q * v2 + b0;
        x[i] = p / q;
    }
}

/* sigmoid(x) = 1 / (1 + e^-x), with e^y from Cephes' expf: y = n ln2 + r,
 * a degree-5 polynomial for e^r and 2^n built in the exponent bits. The
 * relative error stays ~1e-7 even in the tails (a tanh-based sigmoid loses
 * tiny values to cancellation, which shows in GRU/LSTM states). */
RNN_VECTORIZE static void fast_sigmoid(float *x, size_t n) {
    const float log2e = 1.44269504088896341f, c1 = 0.693359375f, c2 = -2.12194440e-4f;
    const float p0 = 1.9875691500e-4f, p1 = 1.3981999507e-3f, p2 = 8.3334519073e-3f;
    const float p3 = 4.1665795894e-2f, p4 = 1.6666665459e-1f, p5 = 5.0000001201e-1f;
    for (size_t i = 0; i < n; i++) {
        const float v = x[i];
        float y = -v;
        y = y < -87.0f ? -87.0f : y;
        y = y > 88.0f ? 88.0f : y;
        y = y == y ? y : 0.0f; /* NaN must not reach the int conversion */
        /* round y*log2e to an integer by adding 1.5 * 2^23: the sum's low
         * mantissa bits then hold k (exact for |k| < 2^22) */
        const float magic = 12582912.0f;
        float kf = y * log2e + magic;
        int32_t kbits;
        memcpy(&kbits, &kf, sizeof kbits);
        int32_t k = kbits - 0x4B400000;
        float fk = kf - magic;
        float r = y - fk * c1 - fk * c2;
        float pr = ((((p0 * r + p1) * r + p2) * r + p3) * r + p4) * r + p5;
        pr = pr * r * r + r + 1.0f;
        int32_t bits = (k + 127) << 23;
        float scale;
        memcpy(&scale, &bits, sizeof scale);
        const float res = 1.0f / (1.0f + pr * scale);
        x[i] = v == v ? res : v;
    }
}

void rnn_apply(const rnn_act *act, float *x, size_t n, float clip) {
    if (clip > 0)
        for (size_t i = 0; i < n; i++) x[i] = x[i] < -clip ? -clip : (x[i] > clip ? clip : x[i]);
    const float a = act->alpha, b = act->beta;
    switch (act->kind) {
    case RNN_ACT_SIGMOID:
        fast_sigmoid(x, n);
        break;
    case RNN_ACT_TANH:
        fast_tanh(x, n);
        break;
    case RNN_ACT_RELU:
        for (size_t i = 0; i < n; i++) x[i] = x[i] > 0 ? x[i] : 0;
        break;
    case RNN_ACT_AFFINE:
        for (size_t i = 0; i < n; i++) x[i] = a * x[i] + b;
        break;
    case RNN_ACT_LEAKY_RELU:
        for (size_t i = 0; i < n; i++) x[i] = x[i] >= 0 ? x[i] : a * x[i];
        break;
    case RNN_ACT_THRESHOLDED_RELU:
        for (size_t i = 0; i < n; i++) x[i] = x[i] > a ? x[i] : 0;
        break;
    case RNN_ACT_SCALED_TANH:
        for (size_t i = 0; i < n; i++) x[i] = a * tanhf(b * x[i]);
        break;
    case RNN_ACT_HARD_SIGMOID:
        for (size_t i = 0; i < n; i++) {
            float v = a * x[i] + b;
            x[i] = v < 0 ? 0 : (v > 1 ? 1 : v);
        }
        break;
    case RNN_ACT_ELU:
        for (size_t i = 0; i < n; i++) x[i] = x[i] >= 0 ? x[i] : a * (expf(x[i]) - 1.0f);
        break;
    case RNN_ACT_SOFTSIGN:
        for (size_t i = 0; i < n; i++) x[i] = x[i] / (1.0f + fabsf(x[i]));
        break;
    case RNN_ACT_SOFTPLUS:
        for (size_t i = 0; i < n; i++) x[i] = x[i] > 20.0f ? x[i] : log1pf(expf(x[i]));
        break;
    }
}
