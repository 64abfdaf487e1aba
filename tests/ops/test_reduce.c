/* Reduce family: axes as attribute vs input by opset, keepdims,
 * noop_with_empty_axes, non-adjacent axes, empty-set reductions, integer
 * exactness, ArgMax/Min ties, Softmax's pre-13 2-D coercion, CumSum, TopK. */
#include <float.h>
#include <math.h>
#include <stdint.h>

#include "core/threadpool.h"
#include "ops/harness.h"
#include "test.h"

static ml_tensor *run1(const char *op, int opset, const ml_attr *attrs, size_t na, size_t nin,
                       const ml_tensor *const *in) {
    ml_tensor *out = NULL;
    ml_status st = ml_test_run("", op, opset, attrs, na, nin, in, 1, &out);
    if (st) {
        fprintf(stderr, "    %s failed: %s\n", op, ml_status_message(st));
        ml_status_free(st);
        test_failures_in_current++; /* an unexpected error fails the test */
        return NULL;
    }
    return out;
}

static bool shape_is(const ml_tensor *t, int rank, const int64_t *dims) {
    return t && ml_shape_equal(t->rank, t->dims, rank, dims);
}

/* x[i] = i + 1 over [2,3,4] */
static ml_tensor *x234(void) {
    int64_t d[] = {2, 3, 4};
    float v[24];
    for (int i = 0; i < 24; i++) v[i] = (float)(i + 1);
    return ml_test_f32(3, d, v);
}

static void test_axes_forms(void) {
    ml_tensor *x = x234();
    int64_t ax1[] = {1};
    ml_tensor *axes = ml_test_i64(1, (int64_t[]){1}, ax1);
    ml_attr keep0 = ml_test_attr_int("keepdims", 0);
    /* opset 13 ReduceSum: axes input */
    const ml_tensor *in[] = {x, axes};
    ml_tensor *y = run1("ReduceSum", 13, &keep0, 1, 2, in);
    CHECK(shape_is(y, 2, (int64_t[]){2, 4}));
    if (y) CHECK_NEAR(((float *)y->data)[0], 1 + 5 + 9, 0);
    ml_tensor_free(y);
    /* opset 13 ReduceMean: axes attribute (input form only from 18) */
    ml_attr attrs[] = {ml_test_attr_ints("axes", ax1, 1)};
    const ml_tensor *in1[] = {x};
    y = run1("ReduceMean", 13, attrs, 1, 1, in1);
    CHECK(shape_is(y, 3, (int64_t[]){2, 1, 4}));
    if (y) CHECK_NEAR(((float *)y->data)[0], 5, 1e-6);
    ml_tensor_free(y);
    /* opset 18 ReduceMax: axes input, negative */
    int64_t axn[] = {-1};
    ml_tensor *axes_n = ml_test_i64(1, (int64_t[]){1}, axn);
    const ml_tensor *in18[] = {x, axes_n};
    y = run1("ReduceMax", 18, &keep0, 1, 2, in18);
    CHECK(shape_is(y, 2, (int64_t[]){2, 3}));
    if (y) CHECK_NEAR(((float *)y->data)[5], 24, 0);
    ml_tensor_free(y);
    /* no axes: reduce everything */
    y = run1("ReduceSum", 13, NULL, 0, 1, in1);
    CHECK(shape_is(y, 3, (int64_t[]){1, 1, 1}));
    if (y) CHECK_NEAR(((float *)y->data)[0], 300, 0);
    ml_tensor_free(y);
    /* noop_with_empty_axes: identity */
    ml_attr noop = ml_test_attr_int("noop_with_empty_axes", 1);
    y = run1("ReduceSum", 13, &noop, 1, 1, in1);
    CHECK(shape_is(y, 3, (int64_t[]){2, 3, 4}));
    if (y) CHECK_NEAR(((float *)y->data)[23], 24, 0);
    ml_tensor_free(y);
    /* out-of-range axis */
    int64_t bad[] = {3};
    ml_tensor *axes_bad = ml_test_i64(1, (int64_t[]){1}, bad);
    const ml_tensor *inb[] = {x, axes_bad};
    ml_tensor *out = NULL;
    CHECK_ERR(ml_test_run("", "ReduceSum", 13, NULL, 0, 2, inb, 1, &out), ML_ERR_INVALID_ARGUMENT);
    ml_tensor *all[] = {x, axes, axes_n, axes_bad};
    for (int i = 0; i < 4; i++) ml_tensor_free(all[i]);
}

static void test_non_adjacent_axes(void) {
    ml_tensor *x = x234();
    int64_t ax[] = {0, 2};
    ml_attr attrs[] = {ml_test_attr_ints("axes", ax, 2), ml_test_attr_int("keepdims", 0)};
    const ml_tensor *in[] = {x};
    const char *ops[] = {"ReduceSum",       "ReduceMax", "ReduceMin",       "ReduceProd",
                         "ReduceL1",        "ReduceL2",  "ReduceSumSquare", "ReduceLogSum",
                         "ReduceLogSumExp", "ReduceMean"};
    for (int k = 0; k < 10; k++) {
        ml_tensor *y = run1(ops[k], 13, attrs, 2, 1, in);
        CHECK(shape_is(y, 1, (int64_t[]){3}));
        if (!y) continue;
        for (int j = 0; j < 3; j++) {
            double s = 0, mx = -1e30, mn = 1e30, p = 1, sq = 0, se = 0;
            for (int a = 0; a < 2; a++)
                for (int c = 0; c < 4; c++) {
                    double v = a * 12 + j * 4 + c + 1;
                    s += v, sq += v * v, p *= v, se += exp(v);
                    mx = fmax(mx, v), mn = fmin(mn, v);
                }
            double e[] = {s, mx, mn, p, s, sqrt(sq), sq, log(s), log(se), s / 8};
            double v = ((float *)y->data)[j];
            CHECK_NEAR(v, e[k], 1e-5 * fabs(e[k]));
        }
        ml_tensor_free(y);
    }
    ml_tensor_free(x);
}

static void test_empty_reductions(void) {
    int64_t d[] = {2, 0};
    ml_tensor *x = ml_test_f32(2, d, NULL);
    int64_t ax[] = {1};
    ml_attr attrs[] = {ml_test_attr_ints("axes", ax, 1), ml_test_attr_int("keepdims", 0)};
    const ml_tensor *in[] = {x};
    const char *ops[] = {"ReduceSum", "ReduceProd",      "ReduceMax",
                         "ReduceMin", "ReduceLogSumExp", "ReduceSumSquare"};
    double e[] = {0, 1, -INFINITY, INFINITY, -INFINITY, 0};
    for (int k = 0; k < 6; k++) {
        ml_tensor *y = run1(ops[k], 13, attrs, 2, 1, in);
        CHECK(shape_is(y, 1, (int64_t[]){2}));
        if (y) CHECK(((float *)y->data)[1] == (float)e[k]);
        ml_tensor_free(y);
    }
    /* integer types use their own limits */
    ml_tensor *xi = ml_test_tensor(ML_INT32, 2, d, NULL);
    const ml_tensor *ini[] = {xi};
    ml_tensor *y = run1("ReduceMax", 13, attrs, 2, 1, ini);
    if (y) CHECK_EQ_INT(((int32_t *)y->data)[0], INT32_MIN);
    ml_tensor_free(y);
    y = run1("ReduceMin", 13, attrs, 2, 1, ini);
    if (y) CHECK_EQ_INT(((int32_t *)y->data)[0], INT32_MAX);
    ml_tensor_free(y);
    ml_tensor_free(xi);
    /* reducing the non-empty axis of an empty tensor gives an empty result */
    int64_t ax0[] = {0};
    ml_attr a0[] = {ml_test_attr_ints("axes", ax0, 1)};
    y = run1("ReduceSum", 11, a0, 1, 1, in);
    CHECK(shape_is(y, 2, (int64_t[]){1, 0}));
    ml_tensor_free(y);
    ml_tensor_free(x);
}

static void test_integer_reductions(void) {
    int64_t d[] = {2, 2};
    int64_t v[] = {(int64_t)1 << 40, 3, ((int64_t)1 << 40) + 1, -7};
    ml_tensor *x = ml_test_i64(2, d, v);
    int64_t ax[] = {0};
    ml_attr attrs[] = {ml_test_attr_ints("axes", ax, 1), ml_test_attr_int("keepdims", 0)};
    const ml_tensor *in[] = {x};
    ml_tensor *y = run1("ReduceSum", 11, attrs, 2, 1, in);
    if (y) CHECK_EQ_INT(((int64_t *)y->data)[0], ((int64_t)1 << 41) + 1); /* exact */
    ml_tensor_free(y);
    y = run1("ReduceProd", 11, attrs, 2, 1, in);
    if (y) CHECK_EQ_INT(((int64_t *)y->data)[1], -21);
    ml_tensor_free(y);
    y = run1("ReduceMin", 11, attrs, 2, 1, in);
    if (y) CHECK_EQ_INT(((int64_t *)y->data)[1], -7);
    ml_tensor_free(y);
    int32_t iv[] = {1, 2, 4, 4};
    ml_tensor *xi = ml_test_tensor(ML_INT32, 2, d, iv);
    const ml_tensor *ini[] = {xi};
    y = run1("ReduceMean", 11, attrs, 2, 1, ini);
    CHECK(y && y->dtype == ML_INT32);
    if (y) CHECK(((int32_t *)y->data)[0] == 2 && ((int32_t *)y->data)[1] == 3);
    ml_tensor_free(y);
    y = run1("ReduceL2", 11, attrs, 2, 1, ini);
    if (y) CHECK_EQ_INT(((int32_t *)y->data)[1], 4); /* sqrt(20) truncated */
    ml_tensor_free(y);
    ml_tensor_free(x);
    ml_tensor_free(xi);
}

static void test_logsumexp_stable(void) {
    int64_t d[] = {2};
    float v[] = {1000, 1000};
    ml_tensor *x = ml_test_f32(1, d, v);
    const ml_tensor *in[] = {x};
    ml_tensor *y = run1("ReduceLogSumExp", 13, NULL, 0, 1, in);
    if (y) CHECK_NEAR(((float *)y->data)[0], 1000 + log(2.0), 1e-3);
    ml_tensor_free(y);
    ml_tensor_free(x);
}

static void test_argmax(void) {
    int64_t d[] = {2, 3};
    float v[] = {1, 5, 5, 2, 2, 0};
    ml_tensor *x = ml_test_f32(2, d, v);
    const ml_tensor *in[] = {x};
    ml_attr a1[] = {ml_test_attr_int("axis", -1), ml_test_attr_int("keepdims", 0)};
    ml_tensor *y = run1("ArgMax", 13, a1, 2, 1, in);
    CHECK(shape_is(y, 1, (int64_t[]){2}) && y->dtype == ML_INT64);
    if (y) CHECK(((int64_t *)y->data)[0] == 1 && ((int64_t *)y->data)[1] == 0);
    ml_tensor_free(y);
    ml_attr a2[] = {ml_test_attr_int("axis", 1), ml_test_attr_int("select_last_index", 1)};
    y = run1("ArgMax", 13, a2, 2, 1, in);
    CHECK(shape_is(y, 2, (int64_t[]){2, 1}));
    if (y) CHECK(((int64_t *)y->data)[0] == 2 && ((int64_t *)y->data)[1] == 1);
    ml_tensor_free(y);
    y = run1("ArgMin", 13, a2, 2, 1, in);
    if (y) CHECK(((int64_t *)y->data)[0] == 0 && ((int64_t *)y->data)[1] == 2);
    ml_tensor_free(y);
    ml_attr a0 = ml_test_attr_int("axis", 0);
    y = run1("ArgMin", 13, &a0, 1, 1, in);
    CHECK(shape_is(y, 2, (int64_t[]){1, 3}));
    if (y) CHECK(((int64_t *)y->data)[0] == 0 && ((int64_t *)y->data)[1] == 1);
    ml_tensor_free(y);
    ml_tensor_free(x);
    /* empty axis is an error, not a read out of bounds */
    ml_tensor *e = ml_test_f32(2, (int64_t[]){2, 0}, NULL);
    const ml_tensor *ine[] = {e};
    ml_attr ax1 = ml_test_attr_int("axis", 1);
    ml_tensor *out = NULL;
    CHECK_ERR(ml_test_run("", "ArgMax", 13, &ax1, 1, 1, ine, 1, &out), ML_ERR_INVALID_ARGUMENT);
    ml_tensor_free(e);
}

/* Long rows take the vector-lane path: compare with a scalar reference,
 * including ties (first index) and NaN (wins). */
static void test_argmax_long_rows(void) {
    enum { R = 1003 };
    static float v[3 * R];
    for (int i = 0; i < 3 * R; i++) v[i] = (float)((i * 7919) % 1000);
    v[0 * R + 5] = 5000, v[0 * R + 900] = 5000; /* tie: 5 wins */
    v[1 * R + 700] = NAN, v[1 * R + 800] = NAN; /* first NaN wins */
    v[2 * R + 1002] = -1;                       /* tail element is the min */
    ml_tensor *x = ml_test_f32(2, (int64_t[]){3, R}, v);
    const ml_tensor *in[] = {x};
    ml_attr a[] = {ml_test_attr_int("axis", 1), ml_test_attr_int("keepdims", 0)};
    ml_tensor *mx = run1("ArgMax", 13, a, 2, 1, in), *mn = run1("ArgMin", 13, a, 2, 1, in);
    if (mx && mn) {
        int64_t *pm = mx->data, *pn = mn->data;
        CHECK_EQ_INT(pm[0], 5);
        CHECK_EQ_INT(pm[1], 700);
        CHECK_EQ_INT(pn[1], 700);
        CHECK_EQ_INT(pn[2], 1002);
        /* row 2 max: first occurrence of 999 */
        int64_t first = -1;
        for (int i = 0; i < R && first < 0; i++)
            if (v[2 * R + i] == 999) first = i;
        CHECK_EQ_INT(pm[2], first);
        /* row 0 min: first occurrence of 0 */
        int64_t first0 = -1;
        for (int i = 0; i < R && first0 < 0; i++)
            if (v[i] == 0) first0 = i;
        CHECK_EQ_INT(pn[0], first0);
    }
    ml_tensor_free(mx);
    ml_tensor_free(mn);
    ml_tensor_free(x);
}

static void test_softmax_versions(void) {
    int64_t d[] = {2, 2, 2};
    float v[] = {0, 1, 2, 3, 4, 5, 6, 7};
    ml_tensor *x = ml_test_f32(3, d, v);
    const ml_tensor *in[] = {x};
    ml_attr ax = ml_test_attr_int("axis", 1);
    /* opset 11: axis 1 flattens [2, 4]: each row of 4 sums to 1 */
    ml_tensor *y = run1("Softmax", 11, &ax, 1, 1, in);
    if (y) {
        float *o = y->data;
        CHECK_NEAR(o[0] + o[1] + o[2] + o[3], 1, 1e-6);
        CHECK_NEAR(o[3], exp(3.0) / (1 + exp(1.0) + exp(2.0) + exp(3.0)), 1e-6);
    }
    ml_tensor_free(y);
    /* opset 13: only axis 1 (size 2) is normalised */
    y = run1("Softmax", 13, &ax, 1, 1, in);
    if (y) {
        float *o = y->data;
        CHECK_NEAR(o[0] + o[2], 1, 1e-6);
        CHECK_NEAR(o[0], 1 / (1 + exp(2.0)), 1e-6);
    }
    ml_tensor_free(y);
    y = run1("LogSoftmax", 13, NULL, 0, 1, in); /* default axis -1 */
    if (y) CHECK_NEAR(((float *)y->data)[1], -log(1 + exp(-1.0)), 1e-6);
    ml_tensor_free(y);
    y = run1("Hardmax", 13, &ax, 1, 1, in);
    if (y) {
        float *o = y->data, e[] = {0, 0, 1, 1, 0, 0, 1, 1};
        for (int i = 0; i < 8; i++) CHECK_NEAR(o[i], e[i], 0);
    }
    ml_tensor_free(y);
    /* Hardmax ties pick the first */
    float tv[] = {3, 3, 1, 1};
    ml_tensor *t = ml_test_f32(2, (int64_t[]){2, 2}, tv);
    const ml_tensor *tin[] = {t};
    y = run1("Hardmax", 13, NULL, 0, 1, tin);
    if (y)
        CHECK(((float *)y->data)[0] == 1 && ((float *)y->data)[1] == 0 &&
              ((float *)y->data)[2] == 1);
    ml_tensor_free(y);
    /* large inputs do not overflow */
    float big[] = {10000, 10001};
    ml_tensor *b = ml_test_f32(1, (int64_t[]){2}, big);
    const ml_tensor *bin[] = {b};
    y = run1("Softmax", 13, NULL, 0, 1, bin);
    if (y) CHECK_NEAR(((float *)y->data)[1], 1 / (1 + exp(-1.0)), 1e-6);
    ml_tensor_free(y);
    ml_tensor_free(x);
    ml_tensor_free(t);
    ml_tensor_free(b);
}

static void test_cumsum(void) {
    int64_t d[] = {2, 3};
    int32_t v[] = {1, 2, 3, 4, 5, 6};
    ml_tensor *x = ml_test_tensor(ML_INT32, 2, d, v);
    int64_t axv = -1;
    ml_tensor *axis = ml_test_i64(0, NULL, &axv);
    const ml_tensor *in[] = {x, axis};
    ml_tensor *y = run1("CumSum", 14, NULL, 0, 2, in);
    if (y) {
        int32_t *o = y->data, e[] = {1, 3, 6, 4, 9, 15};
        for (int i = 0; i < 6; i++) CHECK_EQ_INT(o[i], e[i]);
    }
    ml_tensor_free(y);
    ml_attr er[] = {ml_test_attr_int("exclusive", 1), ml_test_attr_int("reverse", 1)};
    y = run1("CumSum", 14, er, 2, 2, in);
    if (y) {
        int32_t *o = y->data, e[] = {5, 3, 0, 11, 6, 0};
        for (int i = 0; i < 6; i++) CHECK_EQ_INT(o[i], e[i]);
    }
    ml_tensor_free(y);
    int32_t ax0 = 0;
    ml_tensor *axis0 = ml_test_tensor(ML_INT32, 1, (int64_t[]){1}, &ax0);
    const ml_tensor *in0[] = {x, axis0};
    y = run1("CumSum", 14, NULL, 0, 2, in0);
    if (y) CHECK(((int32_t *)y->data)[3] == 5 && ((int32_t *)y->data)[5] == 9);
    ml_tensor_free(y);
    ml_tensor_free(x);
    ml_tensor_free(axis);
    ml_tensor_free(axis0);
}

static void test_topk(void) {
    int64_t d[] = {2, 5};
    float v[] = {3, 1, 3, 2, 5, 0, 0, 1, 0, -1};
    ml_tensor *x = ml_test_f32(2, d, v);
    int64_t kv = 3;
    ml_tensor *k = ml_test_i64(1, (int64_t[]){1}, &kv);
    const ml_tensor *in[] = {x, k};
    ml_tensor *out[2] = {NULL, NULL};
    CHECK_OK(ml_test_run("", "TopK", 11, NULL, 0, 2, in, 2, out));
    CHECK(shape_is(out[0], 2, (int64_t[]){2, 3}) && shape_is(out[1], 2, (int64_t[]){2, 3}));
    if (out[0] && out[1]) {
        float *o = out[0]->data;
        int64_t *i = out[1]->data;
        CHECK(o[0] == 5 && o[1] == 3 && o[2] == 3);
        CHECK(i[0] == 4 && i[1] == 0 && i[2] == 2); /* tie: lower index first */
        CHECK(o[3] == 1 && i[3] == 7 - 5 && i[4] == 0 && i[5] == 1);
    }
    ml_tensor_free(out[0]);
    ml_tensor_free(out[1]);
    ml_attr small[] = {ml_test_attr_int("largest", 0), ml_test_attr_int("axis", 0)};
    int64_t k1 = 1;
    ml_tensor *kk = ml_test_i64(1, (int64_t[]){1}, &k1);
    const ml_tensor *in2[] = {x, kk};
    CHECK_OK(ml_test_run("", "TopK", 11, small, 2, 2, in2, 2, out));
    CHECK(shape_is(out[0], 2, (int64_t[]){1, 5}));
    if (out[0] && out[1])
        CHECK(((float *)out[0]->data)[0] == 0 && ((int64_t *)out[1]->data)[0] == 1);
    ml_tensor_free(out[0]);
    ml_tensor_free(out[1]);
    /* opset 1: k attribute */
    ml_attr ka = ml_test_attr_int("k", 2);
    const ml_tensor *in1[] = {x};
    CHECK_OK(ml_test_run("", "TopK", 1, &ka, 1, 1, in1, 2, out));
    if (out[0]) CHECK(((float *)out[0]->data)[1] == 3);
    ml_tensor_free(out[0]);
    ml_tensor_free(out[1]);
    /* K larger than the axis is rejected */
    int64_t k9 = 9;
    ml_tensor *kb = ml_test_i64(1, (int64_t[]){1}, &k9);
    const ml_tensor *inb[] = {x, kb};
    CHECK_ERR(ml_test_run("", "TopK", 11, NULL, 0, 2, inb, 2, out), ML_ERR_INVALID_ARGUMENT);
    /* int64 values keep full precision */
    int64_t iv[] = {INT64_MAX, INT64_MAX - 1, 0};
    ml_tensor *xi = ml_test_i64(1, (int64_t[]){3}, iv);
    const ml_tensor *ini[] = {xi, kk};
    CHECK_OK(ml_test_run("", "TopK", 11, NULL, 0, 2, ini, 2, out));
    if (out[1]) CHECK_EQ_INT(((int64_t *)out[1]->data)[0], 0);
    ml_tensor_free(out[0]);
    ml_tensor_free(out[1]);
    ml_tensor *all[] = {x, k, kk, kb, xi};
    for (int i = 0; i < 5; i++) ml_tensor_free(all[i]);
}

/* Half types run through float and come back in their own type. */
static void test_half_types(void) {
    float f[] = {1, 2.5f, -3, 4};
    uint16_t h[4], b[4];
    for (int i = 0; i < 4; i++) h[i] = ml_float_to_fp16(f[i]), b[i] = ml_float_to_bf16(f[i]);
    int64_t d[] = {2, 2};
    ml_tensor *th = ml_test_tensor(ML_FLOAT16, 2, d, h), *tb = ml_test_tensor(ML_BFLOAT16, 2, d, b);
    const ml_tensor *inh[] = {th}, *inb[] = {tb};
    ml_attr keep0 = ml_test_attr_int("keepdims", 0);
    ml_tensor *y = run1("ReduceSum", 11, &keep0, 1, 1, inh);
    CHECK(y && y->dtype == ML_FLOAT16 && y->rank == 0);
    if (y) CHECK_NEAR(ml_fp16_to_float(((uint16_t *)y->data)[0]), 4.5, 0);
    ml_tensor_free(y);
    y = run1("ReduceMax", 11, &keep0, 1, 1, inb);
    CHECK(y && y->dtype == ML_BFLOAT16);
    if (y) CHECK_NEAR(ml_bf16_to_float(((uint16_t *)y->data)[0]), 4, 0);
    ml_tensor_free(y);
    y = run1("Softmax", 13, NULL, 0, 1, inh);
    CHECK(y && y->dtype == ML_FLOAT16);
    if (y) CHECK_NEAR(ml_fp16_to_float(((uint16_t *)y->data)[1]), 1 / (1 + exp(-1.5)), 1e-3);
    ml_tensor_free(y);
    y = run1("ArgMin", 13, NULL, 0, 1, inb);
    if (y) CHECK(((int64_t *)y->data)[0] == 1 && ((int64_t *)y->data)[1] == 0);
    ml_tensor_free(y);
    int64_t ax = 0;
    ml_tensor *axis = ml_test_i64(0, NULL, &ax);
    const ml_tensor *inc[] = {th, axis};
    y = run1("CumSum", 14, NULL, 0, 2, inc);
    CHECK(y && y->dtype == ML_FLOAT16);
    if (y) CHECK_NEAR(ml_fp16_to_float(((uint16_t *)y->data)[3]), 6.5, 0);
    ml_tensor_free(y);
    int64_t k = 1;
    ml_tensor *kt = ml_test_i64(1, (int64_t[]){1}, &k);
    const ml_tensor *ink[] = {th, kt};
    ml_tensor *out[2] = {NULL, NULL};
    CHECK_OK(ml_test_run("", "TopK", 11, NULL, 0, 2, ink, 2, out));
    if (out[0] && out[1]) {
        CHECK(out[0]->dtype == ML_FLOAT16);
        CHECK_NEAR(ml_fp16_to_float(((uint16_t *)out[0]->data)[0]), 2.5, 0);
        CHECK_EQ_INT(((int64_t *)out[1]->data)[1], 1);
    }
    ml_tensor_free(out[0]);
    ml_tensor_free(out[1]);
    ml_tensor *all[] = {th, tb, axis, kt};
    for (int i = 0; i < 4; i++) ml_tensor_free(all[i]);
}

/* Random shapes and axis subsets against a naive reference that walks the
 * input once: exercises the contiguous-block and permuted paths. */
static uint32_t rng_state = 777;
static uint32_t rnd(void) {
    rng_state = rng_state * 1664525u + 1013904223u;
    return rng_state >> 8;
}

static void test_random_reductions(void) {
    const char *ops[] = {"ReduceSum",  "ReduceMax", "ReduceMin",
                         "ReduceProd", "ReduceL2",  "ReduceLogSumExp"};
    int bad = 0;
    for (int trial = 0; trial < 200; trial++) {
        int rank = 1 + (int)(rnd() % 4);
        int64_t d[4];
        for (int k = 0; k < rank; k++) d[k] = 1 + (int64_t)(rnd() % 4);
        bool mask[4] = {false};
        int64_t axes[4];
        int na = 0;
        for (int k = 0; k < rank; k++)
            if (rnd() % 2) mask[k] = true, axes[na++] = rnd() % 2 ? k : k - rank;
        if (na == 0) mask[0] = true, axes[na++] = 0;
        int op = (int)(rnd() % 6);
        bool keep = rnd() % 2;
        ml_tensor *x = ml_test_f32(rank, d, NULL);
        size_t n = ml_tensor_numel(x);
        for (size_t i = 0; i < n; i++) ((float *)x->data)[i] = (float)(rnd() % 7) * 0.5f - 1.5f;
        ml_attr attrs[] = {ml_test_attr_ints("axes", axes, (size_t)na),
                           ml_test_attr_int("keepdims", keep)};
        const ml_tensor *in[] = {x};
        ml_tensor *y = run1(ops[op], 13, attrs, 2, 1, in);
        /* reference: accumulate every input element into its output slot */
        double acc[256];
        size_t nout = 1;
        for (int k = 0; k < rank; k++) nout *= mask[k] ? 1 : (size_t)d[k];
        double init = op == 1 ? -INFINITY : op == 2 ? INFINITY : op == 3 ? 1 : 0;
        for (size_t o = 0; o < nout; o++) acc[o] = init;
        int64_t idx[4] = {0};
        for (size_t i = 0; i < n; i++) {
            size_t o = 0;
            for (int k = 0; k < rank; k++)
                if (!mask[k]) o = o * (size_t)d[k] + (size_t)idx[k];
            double v = ((float *)x->data)[i];
            switch (op) {
            case 0:
                acc[o] += v;
                break;
            case 1:
                acc[o] = fmax(acc[o], v);
                break;
            case 2:
                acc[o] = fmin(acc[o], v);
                break;
            case 3:
                acc[o] *= v;
                break;
            case 4:
                acc[o] += v * v;
                break;
            case 5:
                acc[o] += exp(v);
                break;
            }
            for (int k = rank - 1; k >= 0; k--) {
                if (++idx[k] < d[k]) break;
                idx[k] = 0;
            }
        }
        CHECK(y != NULL && ml_tensor_numel(y) == nout && y->rank == (keep ? rank : rank - na));
        for (size_t o = 0; y && o < nout && ml_tensor_numel(y) == nout; o++) {
            double e = op == 4 ? sqrt(acc[o]) : op == 5 ? log(acc[o]) : acc[o];
            double v = ((float *)y->data)[o];
            bad += !(fabs(v - e) <= 1e-4 * (1 + fabs(e)));
        }
        ml_tensor_free(y);
        ml_tensor_free(x);
    }
    CHECK_EQ_INT(bad, 0);
}

static void test_parallel(void) {
    ml_threadpool *pool;
    CHECK_OK(ml_threadpool_create(4, &pool));
    ml_test_set_pool(pool);
    int64_t d[] = {64, 4099};
    ml_tensor *x = ml_test_f32(2, d, NULL);
    float *v = x->data;
    for (int i = 0; i < 64 * 4099; i++) v[i] = (float)((i * 7) % 13) - 6;
    int64_t ax[] = {1};
    ml_attr attrs[] = {ml_test_attr_ints("axes", ax, 1)};
    const ml_tensor *in[] = {x};
    ml_tensor *y = run1("ReduceSum", 11, attrs, 1, 1, in);
    int bad = 0;
    if (y)
        for (int r = 0; r < 64; r++) {
            double s = 0;
            for (int c = 0; c < 4099; c++) s += v[r * 4099 + c];
            bad += fabs(((float *)y->data)[r] - s) > 1e-2;
        }
    CHECK_EQ_INT(bad, 0);
    ml_tensor_free(y);
    y = run1("Softmax", 13, NULL, 0, 1, in);
    bad = 0;
    if (y)
        for (int r = 0; r < 64; r++) {
            double s = 0;
            for (int c = 0; c < 4099; c++) s += ((float *)y->data)[r * 4099 + c];
            bad += fabs(s - 1) > 1e-4;
        }
    CHECK_EQ_INT(bad, 0);
    ml_tensor_free(y);
    /* few outer rows, long inner rows: split into column chunks */
    int64_t dc[] = {2, 3, 5003};
    ml_tensor *xc = ml_test_f32(3, dc, NULL);
    float *vc = xc->data;
    for (int i = 0; i < 2 * 3 * 5003; i++) vc[i] = (float)((i * 13) % 17) * 0.25f - 2;
    int64_t ax1[] = {1};
    ml_attr a1[] = {ml_test_attr_ints("axes", ax1, 1), ml_test_attr_int("keepdims", 0)};
    const ml_tensor *inc[] = {xc};
    const char *cops[] = {"ReduceSum", "ReduceMax", "ReduceLogSumExp"};
    for (int k = 0; k < 3; k++) {
        y = run1(cops[k], 13, a1, 2, 1, inc);
        CHECK(shape_is(y, 2, (int64_t[]){2, 5003}));
        bad = 0;
        for (int o = 0; y && o < 2; o++)
            for (int c = 0; c < 5003; c++) {
                double acc = k == 1 ? -INFINITY : 0;
                for (int r = 0; r < 3; r++) {
                    double v = vc[(o * 3 + r) * 5003 + c];
                    acc = k == 0 ? acc + v : k == 1 ? fmax(acc, v) : acc + exp(v);
                }
                if (k == 2) acc = log(acc);
                bad += fabs(((float *)y->data)[o * 5003 + c] - acc) > 1e-5 * (1 + fabs(acc));
            }
        CHECK_EQ_INT(bad, 0);
        ml_tensor_free(y);
    }
    ml_tensor_free(xc);
    ml_test_set_pool(NULL);
    ml_threadpool_destroy(pool);
    ml_tensor_free(x);
}

int main(void) {
    RUN(test_axes_forms);
    RUN(test_non_adjacent_axes);
    RUN(test_empty_reductions);
    RUN(test_integer_reductions);
    RUN(test_logsumexp_stable);
    RUN(test_argmax);
    RUN(test_argmax_long_rows);
    RUN(test_softmax_versions);
    RUN(test_cumsum);
    RUN(test_topk);
    RUN(test_half_types);
    RUN(test_random_reductions);
    RUN(test_parallel);
    return TEST_SUMMARY();
}
