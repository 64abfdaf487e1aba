/* Activation kernels: formulas against double-precision references,
 * numerically extreme inputs, attribute defaults, Clip's attribute/input
 * forms, PRelu broadcasting (numpy and legacy per-channel), Gelu variants. */
#include <float.h>
#include <math.h>
#include <stdint.h>

#include "ops/harness.h"
#include "test.h"

static ml_tensor *run_op(const char *domain, const char *op, int opset, const ml_attr *attrs,
                         size_t na, size_t nin, const ml_tensor *const *in) {
    ml_tensor *out = NULL;
    ml_status st = ml_test_run(domain, op, opset, attrs, na, nin, in, 1, &out);
    if (st) {
        fprintf(stderr, "    %s failed: %s\n", op, ml_status_message(st));
        ml_status_free(st);
        test_failures_in_current++; /* an unexpected error fails the test */
        return NULL;
    }
    return out;
}

#define N 7
static const float xs[N] = {-100, -3, -1, -0.25f, 0, 0.5f, 100};

static double ref(const char *op, double x) {
    if (!strcmp(op, "Relu")) return x < 0 ? 0 : x;
    if (!strcmp(op, "LeakyRelu")) return x < 0 ? 0.01 * x : x;
    if (!strcmp(op, "Elu")) return x < 0 ? exp(x) - 1 : x;
    if (!strcmp(op, "Selu"))
        return x <= 0 ? 1.0507009873554805 * (1.6732632423543772 * exp(x) - 1.6732632423543772)
                      : 1.0507009873554805 * x;
    if (!strcmp(op, "Celu")) return fmax(0, x) + fmin(0, exp(x) - 1);
    if (!strcmp(op, "Sigmoid")) return 1 / (1 + exp(-x));
    if (!strcmp(op, "HardSigmoid")) return fmax(0, fmin(1, 0.2 * x + 0.5));
    if (!strcmp(op, "HardSwish")) return x * fmax(0, fmin(1, x / 6 + 0.5));
    if (!strcmp(op, "Softplus")) return x > 30 ? x : log(1 + exp(x));
    if (!strcmp(op, "Softsign")) return x / (1 + fabs(x));
    if (!strcmp(op, "Tanh")) return tanh(x);
    if (!strcmp(op, "ThresholdedRelu")) return x > 1 ? x : 0;
    if (!strcmp(op, "Shrink")) return x < -0.5 ? x : (x > 0.5 ? x : 0);
    if (!strcmp(op, "Mish")) return x * tanh(x > 30 ? x : log(1 + exp(x)));
    if (!strcmp(op, "Gelu")) return 0.5 * x * (1 + erf(x / sqrt(2)));
    return NAN;
}

static void test_formulas(void) {
    const char *ops[] = {"Relu",    "LeakyRelu",       "Elu",       "Selu",     "Celu",
                         "Sigmoid", "HardSigmoid",     "HardSwish", "Softplus", "Softsign",
                         "Tanh",    "ThresholdedRelu", "Shrink",    "Mish",     "Gelu"};
    int opsets[] = {14, 16, 6, 6, 12, 13, 6, 14, 1, 1, 13, 10, 9, 18, 20};
    int64_t d[] = {N};
    ml_tensor *tx = ml_test_f32(1, d, xs);
    const ml_tensor *in[] = {tx};
    for (size_t k = 0; k < sizeof ops / sizeof ops[0]; k++) {
        ml_tensor *y = run_op("", ops[k], opsets[k], NULL, 0, 1, in);
        CHECK(y && y->dtype == ML_FLOAT && y->rank == 1 && y->dims[0] == N);
        if (!y) continue;
        for (int i = 0; i < N; i++) {
            double v = ((float *)y->data)[i], e = ref(ops[k], xs[i]);
            if (!(fabs(v - e) <= 1e-5 * (1 + fabs(e))))
                fprintf(stderr, "    %s(%g) = %.9g, expected %.9g\n", ops[k], xs[i], v, e);
            CHECK_NEAR(v, e, 1e-5 * (1 + fabs(e)));
        }
        ml_tensor_free(y);
    }
    ml_tensor_free(tx);
}

static void test_attrs_and_doubles(void) {
    int64_t d[] = {3};
    double x[] = {-2, 0.5, 3};
    ml_tensor *tx = ml_test_tensor(ML_DOUBLE, 1, d, x);
    const ml_tensor *in[] = {tx};
    ml_attr alpha = ml_test_attr_float("alpha", 0.5f);
    ml_tensor *y = run_op("", "LeakyRelu", 16, &alpha, 1, 1, in);
    CHECK(y && y->dtype == ML_DOUBLE);
    if (y) CHECK_NEAR(((double *)y->data)[0], -1, 1e-12);
    ml_tensor_free(y);
    ml_attr hs[] = {ml_test_attr_float("alpha", 0.5f), ml_test_attr_float("beta", 0.1f)};
    y = run_op("", "HardSigmoid", 6, hs, 2, 1, in);
    if (y) CHECK_NEAR(((double *)y->data)[1], 0.35, 1e-7);
    ml_tensor_free(y);
    ml_attr sh[] = {ml_test_attr_float("lambd", 1.0f), ml_test_attr_float("bias", 0.5f)};
    y = run_op("", "Shrink", 9, sh, 2, 1, in);
    if (y) {
        CHECK_NEAR(((double *)y->data)[0], -1.5, 1e-12);
        CHECK_NEAR(((double *)y->data)[1], 0, 0);
        CHECK_NEAR(((double *)y->data)[2], 2.5, 1e-12);
    }
    ml_tensor_free(y);
    ml_attr tanh_approx = ml_test_attr_string("approximate", "tanh");
    y = run_op("", "Gelu", 20, &tanh_approx, 1, 1, in);
    if (y) {
        double v = 3, e = 0.5 * v * (1 + tanh(sqrt(2 / M_PI) * (v + 0.044715 * v * v * v)));
        CHECK_NEAR(((double *)y->data)[2], e, 1e-9);
    }
    ml_tensor_free(y);
    y = run_op("com.microsoft", "Gelu", 1, NULL, 0, 1, in);
    if (y) CHECK_NEAR(((double *)y->data)[1], 0.5 * 0.5 * (1 + erf(0.5 / sqrt(2))), 1e-12);
    ml_tensor_free(y);
    ml_attr bad = ml_test_attr_string("approximate", "fast");
    ml_tensor *out = NULL;
    CHECK_ERR(ml_test_run("", "Gelu", 20, &bad, 1, 1, in, 1, &out), ML_ERR_INVALID_ARGUMENT);
    ml_tensor_free(tx);
}

static void test_relu_ints_and_half(void) {
    int64_t d[] = {3};
    int8_t xi[] = {-128, 0, 127};
    ml_tensor *ti = ml_test_tensor(ML_INT8, 1, d, xi);
    const ml_tensor *in[] = {ti};
    ml_tensor *y = run_op("", "Relu", 14, NULL, 0, 1, in);
    if (y) CHECK(((int8_t *)y->data)[0] == 0 && ((int8_t *)y->data)[2] == 127);
    ml_tensor_free(y);
    uint16_t h[3];
    float hf[] = {-1, 0.5f, 2};
    for (int i = 0; i < 3; i++) h[i] = ml_float_to_fp16(hf[i]);
    ml_tensor *th = ml_test_tensor(ML_FLOAT16, 1, d, h);
    const ml_tensor *hin[] = {th};
    y = run_op("", "Sigmoid", 13, NULL, 0, 1, hin);
    CHECK(y && y->dtype == ML_FLOAT16);
    if (y) CHECK_NEAR(ml_fp16_to_float(((uint16_t *)y->data)[2]), 1 / (1 + exp(-2.0)), 1e-3);
    ml_tensor_free(y);
    /* Sigmoid of integers is not defined by ONNX */
    ml_tensor *out = NULL;
    CHECK_ERR(ml_test_run("", "Sigmoid", 13, NULL, 0, 1, in, 1, &out), ML_ERR_INVALID_ARGUMENT);
    ml_tensor_free(ti);
    ml_tensor_free(th);
}

static void test_prelu(void) {
    int64_t dx[] = {2, 3, 2}, ds[] = {3, 1}, dc[] = {3};
    float x[12], s[] = {0.1f, 0.2f, 0.3f};
    for (int i = 0; i < 12; i++) x[i] = -1.0f - (float)i;
    ml_tensor *tx = ml_test_f32(3, dx, x), *ts = ml_test_f32(2, ds, s), *tc = ml_test_f32(1, dc, s);
    const ml_tensor *in[] = {tx, ts};
    ml_tensor *y = run_op("", "PRelu", 16, NULL, 0, 2, in);
    CHECK(y && ml_shape_equal(y->rank, y->dims, 3, dx));
    if (y) {
        CHECK_NEAR(((float *)y->data)[0], -0.1, 1e-6);  /* channel 0 */
        CHECK_NEAR(((float *)y->data)[2], -0.6, 1e-6);  /* channel 1: -3 * 0.2 */
        CHECK_NEAR(((float *)y->data)[11], -3.6, 1e-5); /* channel 2: -12 * 0.3 */
    }
    ml_tensor_free(y);
    /* opset 6: a 1-D slope of size C applies along axis 1 */
    const ml_tensor *in6[] = {tx, tc};
    y = run_op("", "PRelu", 6, NULL, 0, 2, in6);
    if (y) CHECK_NEAR(((float *)y->data)[4], -1.5, 1e-6); /* -5 * 0.3 */
    ml_tensor_free(y);
    ml_tensor_free(tx);
    ml_tensor_free(ts);
    ml_tensor_free(tc);
}

static void test_clip(void) {
    int64_t d[] = {4};
    float x[] = {-5, -1, 1, 5};
    ml_tensor *tx = ml_test_f32(1, d, x);
    /* opset 6: attributes */
    ml_attr mm[] = {ml_test_attr_float("min", -2), ml_test_attr_float("max", 2)};
    const ml_tensor *in[] = {tx};
    ml_tensor *y = run_op("", "Clip", 6, mm, 2, 1, in);
    if (y) CHECK(((float *)y->data)[0] == -2 && ((float *)y->data)[3] == 2);
    ml_tensor_free(y);
    /* opset 6 without attributes: unbounded */
    y = run_op("", "Clip", 6, NULL, 0, 1, in);
    if (y) CHECK(((float *)y->data)[0] == -5);
    ml_tensor_free(y);
    /* opset 11: inputs, max omitted */
    float lo = 0;
    ml_tensor *tlo = ml_test_f32(0, NULL, &lo);
    const ml_tensor *in11[] = {tx, tlo, NULL};
    y = run_op("", "Clip", 11, NULL, 0, 3, in11);
    if (y) CHECK(((float *)y->data)[1] == 0 && ((float *)y->data)[3] == 5);
    ml_tensor_free(y);
    /* opset 13: integers, min omitted */
    int8_t xi[] = {-128, -1, 1, 127}, hi = 3;
    ml_tensor *ti = ml_test_tensor(ML_INT8, 1, d, xi), *thi = ml_test_tensor(ML_INT8, 0, NULL, &hi);
    const ml_tensor *in13[] = {ti, NULL, thi};
    y = run_op("", "Clip", 13, NULL, 0, 3, in13);
    if (y) CHECK(((int8_t *)y->data)[0] == -128 && ((int8_t *)y->data)[3] == 3);
    ml_tensor_free(y);
    /* a bound of the wrong type is rejected */
    const ml_tensor *bad[] = {ti, tlo};
    ml_tensor *out = NULL;
    CHECK_ERR(ml_test_run("", "Clip", 13, NULL, 0, 2, bad, 1, &out), ML_ERR_INVALID_ARGUMENT);
    ml_tensor_free(tx);
    ml_tensor_free(tlo);
    ml_tensor_free(ti);
    ml_tensor_free(thi);
}

static void test_empty(void) {
    int64_t d[] = {0, 4};
    ml_tensor *tx = ml_test_f32(2, d, NULL);
    const ml_tensor *in[] = {tx};
    ml_tensor *y = run_op("", "Relu", 14, NULL, 0, 1, in);
    CHECK(y && y->rank == 2 && y->dims[0] == 0 && y->dims[1] == 4);
    ml_tensor_free(y);
    ml_tensor_free(tx);
}

/* The vectorised exp/tanh/erf/sigmoid against double-precision libm over a
 * dense sweep of inputs plus the special values. */
static void test_fast_math_accuracy(void) {
    enum { M = 200003 };
    static float xv[M];
    for (int i = 0; i < M - 5; i++) xv[i] = -95.0f + 190.0f * (float)i / (M - 6);
    xv[M - 5] = INFINITY, xv[M - 4] = -INFINITY, xv[M - 3] = NAN, xv[M - 2] = 1e-6f,
           xv[M - 1] = -0.0f;
    int64_t d[] = {M};
    ml_tensor *tx = ml_test_f32(1, d, xv);
    const ml_tensor *in[] = {tx};
    const char *ops[] = {"Exp", "Tanh", "Erf", "Sigmoid", "Elu", "Softplus", "Mish"};
    double (*ref_fn[])(double) = {exp, tanh, erf, NULL, NULL, NULL, NULL};
    for (int k = 0; k < 7; k++) {
        ml_tensor *y = run_op("", ops[k], 18, NULL, 0, 1, in);
        CHECK(y != NULL);
        if (!y) continue;
        double worst = 0;
        int bad_special = 0;
        for (int i = 0; i < M; i++) {
            double x = xv[i], v = ((float *)y->data)[i];
            double sp = fmax(x, 0) + log1p(exp(-fabs(x)));
            double e = ref_fn[k] ? ref_fn[k](x)
                       : k == 3  ? 1 / (1 + exp(-x))
                       : k == 4  ? (x < 0 ? expm1(x) : x)
                       : k == 5  ? sp
                                 : x * tanh(sp);
            if (isnan(e)) {
                bad_special += !isnan(v);
                continue;
            }
            if (isinf(e)) {
                bad_special += v != e;
                continue;
            }
            if (k == 0 && (e < 3e-38 || e > 3.4e38)) continue; /* flushed / overflow range */
            /* absolute below 1e-25: exp flushes results under ~2.6e-38 to 0 */
            double err = fabs(v - e) / fmax(fabs(e), 1e-25);
            if (err > worst) worst = err;
        }
        if (worst > 1e-6) fprintf(stderr, "    %s worst relative error %.3g\n", ops[k], worst);
        CHECK(worst <= 1e-6);
        CHECK_EQ_INT(bad_special, 0);
        ml_tensor_free(y);
    }
    ml_tensor_free(tx);
}

static void test_ms_gelu_family(void) {
    int64_t dx[] = {2, 3}, db[] = {3};
    float x[] = {-1, 0, 1, 2, -2, 0.5f}, b[] = {0.5f, -0.5f, 0};
    ml_tensor *tx = ml_test_f32(2, dx, x), *tb = ml_test_f32(1, db, b);
    const ml_tensor *in[] = {tx, tb};
    ml_tensor *y = run_op("com.microsoft", "FastGelu", 1, NULL, 0, 2, in);
    if (y)
        for (int i = 0; i < 6; i++) {
            double v = x[i] + b[i % 3];
            double e = 0.5 * v * (1 + tanh(sqrt(2 / M_PI) * (v + 0.044715 * v * v * v)));
            CHECK_NEAR(((float *)y->data)[i], e, 1e-6);
        }
    ml_tensor_free(y);
    y = run_op("com.microsoft", "BiasGelu", 1, NULL, 0, 2, in);
    if (y)
        for (int i = 0; i < 6; i++) {
            double v = x[i] + b[i % 3];
            CHECK_NEAR(((float *)y->data)[i], 0.5 * v * (1 + erf(v / sqrt(2))), 1e-6);
        }
    ml_tensor_free(y);
    const ml_tensor *in1[] = {tx};
    y = run_op("com.microsoft", "QuickGelu", 1, NULL, 0, 1, in1);
    if (y) CHECK_NEAR(((float *)y->data)[3], 2 / (1 + exp(-1.702 * 2)), 1e-6);
    ml_tensor_free(y);
    ml_tensor_free(tx);
    ml_tensor_free(tb);
}

int main(void) {
    RUN(test_formulas);
    RUN(test_attrs_and_doubles);
    RUN(test_relu_ints_and_half);
    RUN(test_prelu);
    RUN(test_clip);
    RUN(test_empty);
    RUN(test_fast_math_accuracy);
    RUN(test_ms_gelu_family);
    return TEST_SUMMARY();
}
