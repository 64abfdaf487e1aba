/* Branch-free float32 exp/tanh/erf/sigmoid that GCC can vectorise (libm's
 * expf & co. are opaque calls, one element at a time). Accuracy is a few
 * ulp over the whole range (checked against libm in test_activation.c);
 * exp flushes results below ~2.6e-38 to 0 instead of producing subnormals.
 * NaN propagates; +-inf give the mathematical limits. */
#ifndef MLAMBDA_OPS_ELEMENTWISE_FASTMATH_H
#define MLAMBDA_OPS_ELEMENTWISE_FASTMATH_H

#include <math.h>
#include <stdint.h>
#include <string.h>

static inline float fm_from_bits(int32_t i) {
    float f;
    memcpy(&f, &i, sizeof f);
    return f;
}

/* exp(x) = 2^n * exp(r), n = round(x / ln2), |r| <= ln2 / 2, exp(r) by the
 * Cephes minimax polynomial. */
static inline float fm_expf(float x) {
    const float lo = -86.5f, hi = 88.7228f;
    float xc = x > lo ? x : lo; /* also maps NaN to lo (fixed up below) */
    xc = xc < hi ? xc : hi;
    /* round to nearest by adding 1.5 * 2^23 (exact for |n| < 2^22) */
    float n = (xc * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
    float r = xc - n * 0.693359375f;
    r = r - n * -2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    /* 2^(n-1) * 2 keeps n = 128 representable */
    float scale = fm_from_bits(((int32_t)n + 126) << 23);
    float res = p * scale * 2.0f;
    res = x < lo ? 0.0f : res;
    res = x > hi ? INFINITY : res;
    return x != x ? x : res;
}

/* exp(x) - 1 without the cancellation near 0: Taylor series below 0.125. */
static inline float fm_expm1f(float x) {
    float small =
        x * (1.0f +
             x * (0.5f + x * (1.0f / 6 + x * (1.0f / 24 + x * (1.0f / 120 + x * (1.0f / 720))))));
    return fabsf(x) < 0.125f ? small : fm_expf(x) - 1.0f;
}

static inline float fm_sigmoidf(float x) {
    return 1.0f / (1.0f + fm_expf(-x));
}

/* tanh: odd Taylor polynomial near 0 (where 1 - 2/(e^2x + 1) cancels),
 * the exp form elsewhere. */
static inline float fm_tanhf(float x) {
    float a = fabsf(x), x2 = x * x;
    float small =
        x *
        (1.0f + x2 * (-1.0f / 3 + x2 * (2.0f / 15 + x2 * (-17.0f / 315 + x2 * (62.0f / 2835)))));
    float big = 1.0f - 2.0f / (fm_expf(2.0f * a) + 1.0f);
    return a < 0.25f ? small : copysignf(big, x);
}

/* erf: odd/even rational minimax approximation x * P(x^2) / Q(x^2) on
 * [-4, 4] (the form Eigen and XLA use; erf rounds to +-1 in float beyond 4).
 * Relative error < 5e-7 over the whole range: one divide and no exp, about
 * twice as fast as Taylor + Abramowitz & Stegun 7.1.26 with its exp. */
static inline float fm_erff(float x) {
    float xc = x < 4.0f ? x : 4.0f; /* also maps NaN to 4 (fixed up below) */
    xc = xc > -4.0f ? xc : -4.0f;
    float x2 = xc * xc;
    float p = -2.72614225801306e-10f;
    p = p * x2 + 2.77068142495902e-08f;
    p = p * x2 - 2.10102402082508e-06f;
    p = p * x2 - 5.69250639462346e-05f;
    p = p * x2 - 7.34990630326855e-04f;
    p = p * x2 - 2.95459980854025e-03f;
    p = p * x2 - 1.60960333262415e-02f;
    float q = -1.45660718464996e-05f;
    q = q * x2 - 2.13374055278905e-04f;
    q = q * x2 - 1.68282697438203e-03f;
    q = q * x2 - 7.37332916720468e-03f;
    q = q * x2 - 1.42647390514189e-02f;
    float r = xc * p / q;
    return x != x ? x : r;
}

/* log(u) for normal positive u (Cephes logf: u = m * 2^e, m in
 * [sqrt(1/2), sqrt(2)), minimax polynomial in m - 1). */
static inline float fm_logf(float u) {
    uint32_t b;
    memcpy(&b, &u, sizeof b);
    int32_t e = (int32_t)((b >> 23) & 0xffu) - 126;
    float m = fm_from_bits((int32_t)((b & 0x807fffffu) | 0x3f000000u)); /* [0.5, 1) */
    int small = m < 0.707106781186547524f;
    e = small ? e - 1 : e;
    float x = small ? m + m - 1.0f : m - 1.0f;
    float z = x * x;
    float y = 7.0376836292e-2f;
    y = y * x - 1.1514610310e-1f;
    y = y * x + 1.1676998740e-1f;
    y = y * x - 1.2420140846e-1f;
    y = y * x + 1.4249322787e-1f;
    y = y * x - 1.6668057665e-1f;
    y = y * x + 2.0000714765e-1f;
    y = y * x - 2.4999993993e-1f;
    y = y * x + 3.3333331174e-1f;
    y = y * x * z;
    float fe = (float)e;
    y += -2.12194440e-4f * fe;
    y += -0.5f * z;
    return x + y + 0.693359375f * fe;
}

/* softplus(x) = max(x, 0) + log1p(exp(-|x|)); log1p(t) for t in (0, 1] as
 * log(1 + t) * t / ((1 + t) - 1), exact to a few ulp even for tiny t. */
static inline float fm_softplusf(float x) {
    float t = fm_expf(-fabsf(x));
    float u = 1.0f + t;
    float d = u - 1.0f;
    float l1p = d == 0.0f ? t : fm_logf(u) * (t / d);
    float r = (x > 0 ? x : 0.0f) + l1p;
    return x != x ? x : r;
}

#endif
