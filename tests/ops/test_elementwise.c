/* Elementwise kernels: broadcasting (including empty and scalar shapes),
 * integer edge cases, legacy broadcast attributes, variadic ops, half
 * types, Where, and the parallel broadcast driver. */
#include <math.h>
#include <stdint.h>

#include "core/threadpool.h"
#include "ops/harness.h"
#include "test.h"

/* Runs a single-output op; NULL (with the error printed) on failure. */
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

static ml_code run_err(const char *op, int opset, size_t nin, const ml_tensor *const *in) {
    ml_tensor *out = NULL;
    ml_status st = ml_test_run("", op, opset, NULL, 0, nin, in, 1, &out);
    ml_code c = ml_status_code(st);
    ml_status_free(st);
    ml_tensor_free(out);
    return c;
}

static int same_shape(const ml_tensor *t, int rank, const int64_t *dims) {
    return t && ml_shape_equal(t->rank, t->dims, rank, dims);
}

static void free_all(ml_tensor **ts, size_t n) {
    for (size_t i = 0; i < n; i++) ml_tensor_free(ts[i]);
}

static void test_add_broadcast(void) {
    int64_t d23[] = {2, 3}, d3[] = {3}, d21[] = {2, 1}, d13[] = {1, 3};
    float a[] = {1, 2, 3, 4, 5, 6}, b[] = {10, 20, 30}, c[] = {100, 200};
    ml_tensor *ta = ml_test_f32(2, d23, a), *tb = ml_test_f32(1, d3, b);
    ml_tensor *tc = ml_test_f32(2, d21, c), *td = ml_test_f32(2, d13, b);
    const ml_tensor *in1[] = {ta, tb};
    ml_tensor *y = run1("Add", 14, NULL, 0, 2, in1);
    CHECK(same_shape(y, 2, d23));
    if (y) {
        float *v = y->data;
        CHECK_NEAR(v[0], 11, 0);
        CHECK_NEAR(v[5], 36, 0);
    }
    ml_tensor_free(y);
    /* [2,1] - [1,3] -> [2,3] (both sides broadcast) */
    const ml_tensor *in2[] = {tc, td};
    y = run1("Sub", 14, NULL, 0, 2, in2);
    CHECK(same_shape(y, 2, d23));
    if (y) {
        float *v = y->data;
        CHECK_NEAR(v[0], 90, 0);
        CHECK_NEAR(v[2], 70, 0);
        CHECK_NEAR(v[3], 190, 0);
    }
    ml_tensor_free(y);
    /* rank-0 scalar * [2,3] */
    float two = 2;
    ml_tensor *s = ml_test_f32(0, NULL, &two);
    const ml_tensor *in3[] = {s, ta};
    y = run1("Mul", 14, NULL, 0, 2, in3);
    CHECK(same_shape(y, 2, d23));
    if (y) CHECK_NEAR(((float *)y->data)[5], 12, 0);
    ml_tensor_free(y);
    /* scalar op scalar stays rank 0 */
    const ml_tensor *in4[] = {s, s};
    y = run1("Div", 14, NULL, 0, 2, in4);
    CHECK(y && y->rank == 0 && ((float *)y->data)[0] == 1.0f);
    ml_tensor_free(y);
    ml_tensor *all[] = {ta, tb, tc, td, s};
    free_all(all, 5);
}

static void test_empty_and_bad_shapes(void) {
    int64_t d03[] = {0, 3}, d3[] = {3}, d23[] = {2, 3}, d2[] = {2};
    float b[] = {1, 2, 3};
    ml_tensor *e = ml_test_f32(2, d03, NULL), *tb = ml_test_f32(1, d3, b);
    ml_tensor *t23 = ml_test_f32(2, d23, NULL), *t2 = ml_test_f32(1, d2, NULL);
    const ml_tensor *in[] = {e, tb};
    ml_tensor *y = run1("Add", 14, NULL, 0, 2, in);
    CHECK(same_shape(y, 2, d03));
    ml_tensor_free(y);
    const ml_tensor *bad[] = {t23, t2};
    CHECK_EQ_INT(run_err("Add", 14, 2, bad), ML_ERR_INVALID_ARGUMENT);
    /* mismatched dtypes */
    ml_tensor *i64 = ml_test_i64(1, d3, (int64_t[]){1, 2, 3});
    const ml_tensor *mix[] = {tb, i64};
    CHECK_EQ_INT(run_err("Add", 14, 2, mix), ML_ERR_INVALID_ARGUMENT);
    /* a string tensor is not a number */
    const char *strs[] = {"a", "b", "c"};
    ml_tensor *ts = ml_test_strings(1, d3, strs);
    const ml_tensor *sin[] = {ts, ts};
    CHECK_EQ_INT(run_err("Add", 14, 2, sin), ML_ERR_INVALID_ARGUMENT);
    ml_tensor *all[] = {e, tb, t23, t2, i64, ts};
    free_all(all, 6);
}

static void test_integer_edges(void) {
    int64_t d4[] = {4};
    int32_t a[] = {7, -7, INT32_MIN, 5}, b[] = {0, 2, -1, -3};
    ml_tensor *ta = ml_test_tensor(ML_INT32, 1, d4, a), *tb = ml_test_tensor(ML_INT32, 1, d4, b);
    const ml_tensor *in[] = {ta, tb};
    ml_tensor *y = run1("Div", 14, NULL, 0, 2, in);
    if (y) {
        int32_t *v = y->data;
        CHECK_EQ_INT(v[0], 0);         /* division by zero does not trap */
        CHECK_EQ_INT(v[1], -3);        /* truncation toward zero */
        CHECK_EQ_INT(v[2], INT32_MIN); /* MIN / -1 wraps */
        CHECK_EQ_INT(v[3], -1);
    }
    ml_tensor_free(y);
    /* Mod: fmod=0 takes the divisor's sign, fmod=1 the dividend's */
    y = run1("Mod", 13, NULL, 0, 2, in);
    if (y) {
        int32_t *v = y->data;
        CHECK_EQ_INT(v[0], 0);
        CHECK_EQ_INT(v[1], 1);  /* -7 mod 2 = 1 */
        CHECK_EQ_INT(v[3], -1); /* 5 mod -3 = -1 */
    }
    ml_tensor_free(y);
    ml_attr fm = ml_test_attr_int("fmod", 1);
    y = run1("Mod", 13, &fm, 1, 2, in);
    if (y) {
        int32_t *v = y->data;
        CHECK_EQ_INT(v[1], -1); /* C remainder */
        CHECK_EQ_INT(v[3], 2);
    }
    ml_tensor_free(y);
    /* signed overflow wraps instead of being undefined */
    int64_t big[] = {INT64_MAX, INT64_MIN, 1, -1};
    ml_tensor *tbig = ml_test_i64(1, d4, big);
    const ml_tensor *in2[] = {tbig, tbig};
    y = run1("Add", 14, NULL, 0, 2, in2);
    if (y) CHECK_EQ_INT(((int64_t *)y->data)[0], -2);
    ml_tensor_free(y);
    const ml_tensor *in3[] = {tbig};
    y = run1("Abs", 13, NULL, 0, 1, in3);
    if (y) {
        CHECK_EQ_INT(((int64_t *)y->data)[1], INT64_MIN);
        CHECK_EQ_INT(((int64_t *)y->data)[3], 1);
    }
    ml_tensor_free(y);
    y = run1("Neg", 13, NULL, 0, 1, in3);
    if (y) CHECK_EQ_INT(((int64_t *)y->data)[0], -INT64_MAX);
    ml_tensor_free(y);
    ml_tensor *all[] = {ta, tb, tbig};
    free_all(all, 3);
}

static void test_float_mod(void) {
    int64_t d2[] = {2};
    float a[] = {-4.5f, 4.5f}, b[] = {2, -2};
    ml_tensor *ta = ml_test_f32(1, d2, a), *tb = ml_test_f32(1, d2, b);
    const ml_tensor *in[] = {ta, tb};
    ml_attr fm = ml_test_attr_int("fmod", 1);
    ml_tensor *y = run1("Mod", 13, &fm, 1, 2, in);
    if (y) {
        CHECK_NEAR(((float *)y->data)[0], -0.5, 1e-6);
        CHECK_NEAR(((float *)y->data)[1], 0.5, 1e-6);
    }
    ml_tensor_free(y);
    ml_tensor_free(ta);
    ml_tensor_free(tb);
}

static void test_legacy_broadcast(void) {
    /* opset 6: B [2] aligned with A's axis 0 */
    int64_t d23[] = {2, 3}, d2[] = {2};
    float a[] = {1, 2, 3, 4, 5, 6}, b[] = {10, 20};
    ml_tensor *ta = ml_test_f32(2, d23, a), *tb = ml_test_f32(1, d2, b);
    ml_attr attrs[] = {ml_test_attr_int("broadcast", 1), ml_test_attr_int("axis", 0)};
    const ml_tensor *in[] = {ta, tb};
    ml_tensor *y = run1("Add", 6, attrs, 2, 2, in);
    CHECK(same_shape(y, 2, d23));
    if (y) {
        CHECK_NEAR(((float *)y->data)[2], 13, 0);
        CHECK_NEAR(((float *)y->data)[3], 24, 0);
    }
    ml_tensor_free(y);
    ml_tensor_free(ta);
    ml_tensor_free(tb);
}

static void test_compare_logic(void) {
    int64_t d3[] = {3}, d1[] = {1};
    int64_t a[] = {1, 5, 3}, b[] = {3};
    ml_tensor *ta = ml_test_i64(1, d3, a), *tb = ml_test_i64(1, d1, b);
    const ml_tensor *in[] = {ta, tb};
    const char *ops[] = {"Less", "LessOrEqual", "Greater", "GreaterOrEqual", "Equal"};
    uint8_t expect[][3] = {{1, 0, 0}, {1, 0, 1}, {0, 1, 0}, {0, 1, 1}, {0, 0, 1}};
    for (int k = 0; k < 5; k++) {
        ml_tensor *y = run1(ops[k], 13, NULL, 0, 2, in);
        CHECK(y && y->dtype == ML_BOOL);
        if (y)
            for (int i = 0; i < 3; i++) CHECK_EQ_INT(((uint8_t *)y->data)[i], expect[k][i]);
        ml_tensor_free(y);
    }
    uint8_t p[] = {1, 0, 1}, q[] = {1, 1, 0};
    ml_tensor *tp = ml_test_tensor(ML_BOOL, 1, d3, p), *tq = ml_test_tensor(ML_BOOL, 1, d3, q);
    const ml_tensor *lin[] = {tp, tq};
    const char *lops[] = {"And", "Or", "Xor"};
    uint8_t lexp[][3] = {{1, 0, 0}, {1, 1, 1}, {0, 1, 1}};
    for (int k = 0; k < 3; k++) {
        ml_tensor *y = run1(lops[k], 7, NULL, 0, 2, lin);
        if (y)
            for (int i = 0; i < 3; i++) CHECK_EQ_INT(((uint8_t *)y->data)[i], lexp[k][i]);
        ml_tensor_free(y);
    }
    const ml_tensor *nin[] = {tp};
    ml_tensor *y = run1("Not", 1, NULL, 0, 1, nin);
    if (y) CHECK(((uint8_t *)y->data)[0] == 0 && ((uint8_t *)y->data)[1] == 1);
    ml_tensor_free(y);
    /* And on floats is rejected */
    float f[] = {1, 2, 3};
    ml_tensor *tf = ml_test_f32(1, d3, f);
    const ml_tensor *fin[] = {tf, tf};
    CHECK_EQ_INT(run_err("And", 7, 2, fin), ML_ERR_INVALID_ARGUMENT);
    ml_tensor *all[] = {ta, tb, tp, tq, tf};
    free_all(all, 5);
}

static void test_bits(void) {
    int64_t d3[] = {3};
    uint8_t a[] = {1, 0x80, 0xff}, s[] = {3, 1, 8};
    ml_tensor *ta = ml_test_tensor(ML_UINT8, 1, d3, a), *ts = ml_test_tensor(ML_UINT8, 1, d3, s);
    const ml_tensor *in[] = {ta, ts};
    ml_attr left = ml_test_attr_string("direction", "LEFT");
    ml_attr right = ml_test_attr_string("direction", "RIGHT");
    ml_tensor *y = run1("BitShift", 11, &left, 1, 2, in);
    if (y) {
        uint8_t *v = y->data;
        CHECK_EQ_INT(v[0], 8);
        CHECK_EQ_INT(v[1], 0); /* shifted out */
        CHECK_EQ_INT(v[2], 0); /* shift >= width */
    }
    ml_tensor_free(y);
    y = run1("BitShift", 11, &right, 1, 2, in);
    if (y) CHECK_EQ_INT(((uint8_t *)y->data)[1], 0x40);
    ml_tensor_free(y);
    int32_t p[] = {6, -1, 12}, q[] = {3, 5, 10};
    ml_tensor *tp = ml_test_tensor(ML_INT32, 1, d3, p), *tq = ml_test_tensor(ML_INT32, 1, d3, q);
    const ml_tensor *bin[] = {tp, tq};
    y = run1("BitwiseAnd", 18, NULL, 0, 2, bin);
    if (y) CHECK(((int32_t *)y->data)[0] == 2 && ((int32_t *)y->data)[1] == 5);
    ml_tensor_free(y);
    y = run1("BitwiseXor", 18, NULL, 0, 2, bin);
    if (y) CHECK_EQ_INT(((int32_t *)y->data)[2], 6);
    ml_tensor_free(y);
    const ml_tensor *nin[] = {tp};
    y = run1("BitwiseNot", 18, NULL, 0, 1, nin);
    if (y) CHECK(((int32_t *)y->data)[0] == ~6 && ((int32_t *)y->data)[1] == 0);
    ml_tensor_free(y);
    ml_tensor *all[] = {ta, ts, tp, tq};
    free_all(all, 4);
}

static void test_variadic(void) {
    int64_t d3[] = {3}, d21[] = {2, 1}, d23[] = {2, 3};
    float a[] = {1, 5, NAN}, b[] = {4, 0}, c = 2;
    ml_tensor *ta = ml_test_f32(1, d3, a), *tb = ml_test_f32(2, d21, b),
              *tc = ml_test_f32(0, NULL, &c);
    const ml_tensor *in[] = {ta, tb, tc};
    ml_tensor *y = run1("Max", 13, NULL, 0, 3, in);
    CHECK(same_shape(y, 2, d23));
    if (y) {
        float *v = y->data;
        CHECK_NEAR(v[0], 4, 0);
        CHECK_NEAR(v[1], 5, 0);
        CHECK(isnan(v[2])); /* NaN propagates */
        CHECK_NEAR(v[3], 2, 0);
    }
    ml_tensor_free(y);
    y = run1("Min", 13, NULL, 0, 3, in);
    if (y) CHECK_NEAR(((float *)y->data)[1], 2, 0);
    ml_tensor_free(y);
    y = run1("Sum", 13, NULL, 0, 3, in);
    if (y) CHECK_NEAR(((float *)y->data)[4], 7, 0); /* 5 + 0 + 2 */
    ml_tensor_free(y);
    y = run1("Mean", 13, NULL, 0, 3, in);
    if (y) CHECK_NEAR(((float *)y->data)[0], 7.0 / 3, 1e-6);
    ml_tensor_free(y);
    const ml_tensor *one[] = {tb};
    y = run1("Sum", 13, NULL, 0, 1, one);
    CHECK(same_shape(y, 2, d21));
    if (y) CHECK_NEAR(((float *)y->data)[0], 4, 0);
    ml_tensor_free(y);
    /* integer Max (opset 12+) */
    int64_t ia[] = {-1, 7, 3}, ib[] = {2, 2, 2};
    ml_tensor *tia = ml_test_i64(1, d3, ia), *tib = ml_test_i64(1, d3, ib);
    const ml_tensor *iin[] = {tia, tib};
    y = run1("Max", 13, NULL, 0, 2, iin);
    if (y) CHECK(((int64_t *)y->data)[0] == 2 && ((int64_t *)y->data)[1] == 7);
    ml_tensor_free(y);
    ml_tensor *all[] = {ta, tb, tc, tia, tib};
    free_all(all, 5);
}

static void test_pow(void) {
    int64_t d3[] = {3};
    float base[] = {2, 4, 9};
    int64_t e[] = {3, -1, 0};
    ml_tensor *tb = ml_test_f32(1, d3, base), *te = ml_test_i64(1, d3, e);
    const ml_tensor *in[] = {tb, te};
    ml_tensor *y = run1("Pow", 15, NULL, 0, 2, in);
    CHECK(y && y->dtype == ML_FLOAT);
    if (y) {
        CHECK_NEAR(((float *)y->data)[0], 8, 0);
        CHECK_NEAR(((float *)y->data)[1], 0.25, 0);
        CHECK_NEAR(((float *)y->data)[2], 1, 0);
    }
    ml_tensor_free(y);
    int64_t ib[] = {3, 10, -2}, ie[] = {4, 15, 3};
    ml_tensor *tib = ml_test_i64(1, d3, ib), *tie = ml_test_i64(1, d3, ie);
    const ml_tensor *iin[] = {tib, tie};
    y = run1("Pow", 15, NULL, 0, 2, iin);
    if (y) {
        CHECK_EQ_INT(((int64_t *)y->data)[0], 81);
        CHECK_EQ_INT(((int64_t *)y->data)[1], 1000000000000000LL); /* exact */
        CHECK_EQ_INT(((int64_t *)y->data)[2], -8);
    }
    ml_tensor_free(y);
    /* scalar exponents with fast paths agree with pow() */
    float xs[] = {-2, -0.0f, 0.25f, 3, -INFINITY, INFINITY};
    double cs[] = {2, 3, -1, 1, 0.5, 1.5};
    ml_tensor *tx = ml_test_f32(1, (int64_t[]){6}, xs);
    for (int k = 0; k < 6; k++) {
        float c = (float)cs[k];
        ml_tensor *tcst = ml_test_f32(0, NULL, &c);
        const ml_tensor *cin[] = {tx, tcst};
        y = run1("Pow", 15, NULL, 0, 2, cin);
        CHECK(y && y->rank == 1);
        for (int i = 0; y && i < 6; i++) {
            double v = ((float *)y->data)[i], e = powf(xs[i], c);
            CHECK((isnan(v) && isnan(e)) || (v == e && signbit(v) == signbit(e)));
        }
        ml_tensor_free(y);
        ml_tensor_free(tcst);
    }
    ml_tensor *all[] = {tb, te, tib, tie, tx};
    free_all(all, 5);
}

static void test_unary(void) {
    int64_t d6[] = {6};
    float x[] = {0.5f, 1.5f, 2.5f, -0.5f, -2.5f, 4.0f};
    ml_tensor *tx = ml_test_f32(1, d6, x);
    const ml_tensor *in[] = {tx};
    ml_tensor *y = run1("Round", 11, NULL, 0, 1, in);
    if (y) {
        float *v = y->data, e[] = {0, 2, 2, -0.0f, -2, 4};
        for (int i = 0; i < 6; i++) CHECK_NEAR(v[i], e[i], 0);
    }
    ml_tensor_free(y);
    y = run1("Sqrt", 13, NULL, 0, 1, in);
    if (y) {
        CHECK_NEAR(((float *)y->data)[5], 2, 1e-7);
        CHECK(isnan(((float *)y->data)[3]));
    }
    ml_tensor_free(y);
    const char *fops[] = {"Exp",   "Log", "Sin",   "Cos",  "Tan",        "Atan", "Sinh", "Cosh",
                          "Asinh", "Erf", "Floor", "Ceil", "Reciprocal", "Abs",  "Neg",  "Sign"};
    double (*ref[])(double) = {exp, log, sin, cos, tan, atan, sinh, cosh, asinh, erf, floor, ceil};
    for (int k = 0; k < 16; k++) {
        y = run1(fops[k], 13, NULL, 0, 1, in);
        CHECK(y != NULL);
        if (!y) continue;
        for (int i = 0; i < 6; i++) {
            double v = ((float *)y->data)[i], e;
            if (k < 12)
                e = ref[k](x[i]);
            else if (k == 12)
                e = 1.0 / x[i];
            else if (k == 13)
                e = fabs(x[i]);
            else if (k == 14)
                e = -x[i];
            else
                e = x[i] > 0 ? 1 : -1;
            if (isnan(e))
                CHECK(isnan(v));
            else
                CHECK_NEAR(v, e, 1e-5 * (1 + fabs(e)));
        }
        ml_tensor_free(y);
    }
    float sp[] = {NAN, INFINITY, -INFINITY, 1, 0, -0.0f};
    ml_tensor *ts = ml_test_f32(1, d6, sp);
    const ml_tensor *sin_[] = {ts};
    y = run1("IsNaN", 13, NULL, 0, 1, sin_);
    if (y) CHECK(((uint8_t *)y->data)[0] == 1 && ((uint8_t *)y->data)[1] == 0);
    ml_tensor_free(y);
    ml_attr nopos = ml_test_attr_int("detect_positive", 0);
    y = run1("IsInf", 10, &nopos, 1, 1, sin_);
    if (y) CHECK(((uint8_t *)y->data)[1] == 0 && ((uint8_t *)y->data)[2] == 1);
    ml_tensor_free(y);
    y = run1("Sign", 13, NULL, 0, 1, sin_);
    if (y) CHECK(isnan(((float *)y->data)[0]) && ((float *)y->data)[2] == -1);
    ml_tensor_free(y);
    /* math on integers is rejected with a clear error */
    ml_tensor *ti = ml_test_i64(1, (int64_t[]){1}, (int64_t[]){4});
    const ml_tensor *iin[] = {ti};
    CHECK_EQ_INT(run_err("Sqrt", 13, 1, iin), ML_ERR_INVALID_ARGUMENT);
    ml_tensor_free(ti);
    ml_tensor_free(tx);
    ml_tensor_free(ts);
}

static void test_half_types(void) {
    int64_t d3[] = {3};
    uint16_t a[3], b[3], c[3];
    float fa[] = {1.5f, -2, 1000}, fb[] = {0.25f, 2, 24};
    for (int i = 0; i < 3; i++) {
        a[i] = ml_float_to_fp16(fa[i]);
        b[i] = ml_float_to_fp16(fb[i]);
        c[i] = ml_float_to_bf16(fa[i] * fa[i]);
    }
    ml_tensor *ta = ml_test_tensor(ML_FLOAT16, 1, d3, a),
              *tb = ml_test_tensor(ML_FLOAT16, 1, d3, b);
    const ml_tensor *in[] = {ta, tb};
    ml_tensor *y = run1("Add", 14, NULL, 0, 2, in);
    CHECK(y && y->dtype == ML_FLOAT16);
    if (y) {
        uint16_t *v = y->data;
        CHECK_NEAR(ml_fp16_to_float(v[0]), 1.75, 0);
        CHECK_NEAR(ml_fp16_to_float(v[2]), 1024, 0);
    }
    ml_tensor_free(y);
    y = run1("Less", 13, NULL, 0, 2, in);
    CHECK(y && y->dtype == ML_BOOL);
    if (y) CHECK(((uint8_t *)y->data)[1] == 1 && ((uint8_t *)y->data)[0] == 0);
    ml_tensor_free(y);
    ml_tensor *tc = ml_test_tensor(ML_BFLOAT16, 1, d3, c);
    const ml_tensor *cin[] = {tc};
    y = run1("Sqrt", 13, NULL, 0, 1, cin);
    CHECK(y && y->dtype == ML_BFLOAT16);
    if (y) CHECK_NEAR(ml_bf16_to_float(((uint16_t *)y->data)[0]), 1.5, 0.01);
    ml_tensor_free(y);
    const ml_tensor *vin[] = {ta, tb, ta};
    y = run1("Max", 13, NULL, 0, 3, vin);
    if (y) CHECK_NEAR(ml_fp16_to_float(((uint16_t *)y->data)[1]), 2, 0);
    ml_tensor_free(y);
    ml_tensor *all[] = {ta, tb, tc};
    free_all(all, 3);
}

static void test_where(void) {
    int64_t d21[] = {2, 1}, d3[] = {3}, d23[] = {2, 3};
    uint8_t c[] = {1, 0};
    float x[] = {1, 2, 3}, yv = -1;
    ml_tensor *tc = ml_test_tensor(ML_BOOL, 2, d21, c), *tx = ml_test_f32(1, d3, x);
    ml_tensor *ty = ml_test_f32(0, NULL, &yv);
    const ml_tensor *in[] = {tc, tx, ty};
    ml_tensor *y = run1("Where", 16, NULL, 0, 3, in);
    CHECK(same_shape(y, 2, d23));
    if (y) {
        float *v = y->data;
        CHECK(v[0] == 1 && v[2] == 3 && v[3] == -1 && v[5] == -1);
    }
    ml_tensor_free(y);
    const char *sa[] = {"a", "bb", "ccc"}, *sb[] = {"x"};
    ml_tensor *s1 = ml_test_strings(1, d3, sa), *s2 = ml_test_strings(1, (int64_t[]){1}, sb);
    const ml_tensor *sin_[] = {tc, s1, s2};
    y = run1("Where", 16, NULL, 0, 3, sin_);
    CHECK(same_shape(y, 2, d23));
    if (y) {
        ml_str *v = y->data;
        CHECK_STR(v[1].data, "bb");
        CHECK_STR(v[4].data, "x");
    }
    ml_tensor_free(y);
    /* a non-bool condition is rejected */
    const ml_tensor *bad[] = {tx, tx, tx};
    CHECK_EQ_INT(run_err("Where", 16, 3, bad), ML_ERR_INVALID_ARGUMENT);
    ml_tensor *all[] = {tc, tx, ty, s1, s2};
    free_all(all, 5);
}

/* Random shapes (ranks 0-5, dims 0-3, random size-1 broadcasting) for
 * 3-way Where and binary Sub against a naive index-by-index reference:
 * exercises the dim-collapsing broadcast engine. */
static uint32_t rng_state = 12345;
static uint32_t rnd(void) {
    rng_state = rng_state * 1664525u + 1013904223u;
    return rng_state >> 8;
}

/* Offset of output index idx (out shape) in an input of rank r, dims d. */
static size_t bcast_offset(int out_rank, const int64_t *idx, int r, const int64_t *d) {
    size_t off = 0;
    for (int k = 0; k < r; k++) {
        int64_t i = d[k] == 1 ? 0 : idx[out_rank - r + k];
        off = off * (size_t)d[k] + (size_t)i;
    }
    return off;
}

static void test_random_broadcast(void) {
    int mismatches = 0, runs = 0;
    for (int trial = 0; trial < 300; trial++) {
        int orank = (int)(rnd() % 6);
        int64_t od[6];
        for (int k = 0; k < orank; k++) od[k] = (int64_t)(rnd() % 4);
        int r[3];
        int64_t d[3][6];
        ml_tensor *t[3];
        for (int a = 0; a < 3; a++) {
            r[a] = orank ? (int)(rnd() % (orank + 1)) : 0;
            for (int k = 0; k < r[a]; k++) d[a][k] = rnd() % 3 == 0 ? 1 : od[orank - r[a] + k];
            t[a] = ml_test_tensor(a == 0 ? ML_BOOL : ML_FLOAT, r[a], d[a], NULL);
            size_t n = ml_tensor_numel(t[a]);
            for (size_t i = 0; i < n; i++) {
                if (a == 0)
                    ((uint8_t *)t[a]->data)[i] = rnd() & 1;
                else
                    ((float *)t[a]->data)[i] = (float)(rnd() % 1000);
            }
        }
        /* the actual output shape: dims that every input broadcast to 1 stay 1 */
        int64_t ed[6];
        for (int k = 0; k < orank; k++) {
            ed[k] = 1;
            for (int a = 0; a < 3; a++) {
                int kk = k - (orank - r[a]);
                if (kk >= 0 && d[a][kk] != 1) ed[k] = d[a][kk];
            }
        }
        int erank = orank;
        /* leading dims no input has are absent from the output */
        int maxr = 0;
        for (int a = 0; a < 3; a++) maxr = r[a] > maxr ? r[a] : maxr;
        erank = maxr;
        const int64_t *edims = ed + (orank - maxr);
        const ml_tensor *win[] = {t[0], t[1], t[2]};
        ml_tensor *y = run1("Where", 16, NULL, 0, 3, win);
        const ml_tensor *sin_[] = {t[1], t[2]};
        ml_tensor *z = run1("Sub", 14, NULL, 0, 2, sin_);
        runs++;
        CHECK(same_shape(y, erank, edims));
        if (y && z && same_shape(y, erank, edims)) {
            size_t n = ml_tensor_numel(y);
            int64_t idx[6] = {0};
            for (size_t i = 0; i < n; i++) {
                size_t o0 = bcast_offset(erank, idx, r[0], d[0]);
                size_t o1 = bcast_offset(erank, idx, r[1], d[1]);
                size_t o2 = bcast_offset(erank, idx, r[2], d[2]);
                float x1 = ((float *)t[1]->data)[o1], x2 = ((float *)t[2]->data)[o2];
                float e = ((uint8_t *)t[0]->data)[o0] ? x1 : x2;
                mismatches += ((float *)y->data)[i] != e;
                mismatches += ((float *)z->data)[i] != x1 - x2 && ml_tensor_numel(z) == n;
                for (int k = erank - 1; k >= 0; k--) {
                    if (++idx[k] < edims[k]) break;
                    idx[k] = 0;
                }
            }
        }
        ml_tensor_free(y);
        ml_tensor_free(z);
        for (int a = 0; a < 3; a++) ml_tensor_free(t[a]);
    }
    CHECK_EQ_INT(mismatches, 0);
    CHECK_EQ_INT(runs, 300);
}

/* Every op of the four families on every dtype with edge values (0, -1,
 * MIN, MAX, NaN, inf): errors are fine (unsupported types), crashes and
 * undefined behaviour are not (the sanitizer build turns UB into aborts). */

/* Writes a float value (saturated by the core) or an integer bit pattern
 * (truncated to the element width) into element i. */
static void elem_store(ml_tensor *t, size_t i, double f, int64_t v, bool is_int) {
    if (!is_int) {
        ml_tensor_set_f64(t, i, f);
        return;
    }
    switch (ml_dtype_size(t->dtype)) {
    case 1:
        ((uint8_t *)t->data)[i] = (uint8_t)v;
        break;
    case 2:
        ((uint16_t *)t->data)[i] = (uint16_t)v;
        break;
    case 4:
        ((uint32_t *)t->data)[i] = (uint32_t)v;
        break;
    default:
        ((uint64_t *)t->data)[i] = (uint64_t)v;
        break;
    }
}

static void fill_edges(ml_tensor *t) {
    size_t n = ml_tensor_numel(t);
    for (size_t i = 0; i < n; i++) {
        static const double fv[] = {0,   -1,       1,         -0.5, 1e30, -1e30,
                                    NAN, INFINITY, -INFINITY, 3.5,  127,  255};
        static const int64_t iv[] = {0, -1, 1, INT64_MIN, INT64_MAX, 7, -7, 2, 64, 255, 127, -128};
        if (ml_dtype_is_float(t->dtype))
            elem_store(t, i, fv[i % 12], 0, false);
        else
            elem_store(t, i, 0, iv[i % 12], true);
    }
}

static void test_hostile_values(void) {
    const ml_dtype types[] = {ML_FLOAT, ML_DOUBLE, ML_FLOAT16, ML_BFLOAT16, ML_INT8,
                              ML_UINT8, ML_INT16,  ML_UINT16,  ML_INT32,    ML_UINT32,
                              ML_INT64, ML_UINT64, ML_BOOL};
    const char *unary[] = {"Abs",
                           "Neg",
                           "Reciprocal",
                           "Floor",
                           "Ceil",
                           "Round",
                           "Sqrt",
                           "Exp",
                           "Log",
                           "Sin",
                           "Cos",
                           "Tan",
                           "Asin",
                           "Acos",
                           "Atan",
                           "Sinh",
                           "Cosh",
                           "Asinh",
                           "Acosh",
                           "Atanh",
                           "Erf",
                           "Sign",
                           "IsNaN",
                           "IsInf",
                           "Not",
                           "BitwiseNot",
                           "Relu",
                           "LeakyRelu",
                           "Elu",
                           "Selu",
                           "Celu",
                           "Sigmoid",
                           "HardSigmoid",
                           "HardSwish",
                           "Softplus",
                           "Softsign",
                           "Tanh",
                           "ThresholdedRelu",
                           "Shrink",
                           "Mish",
                           "Gelu",
                           "Softmax",
                           "LogSoftmax",
                           "Hardmax",
                           "ReduceSum",
                           "ReduceMean",
                           "ReduceMax",
                           "ReduceMin",
                           "ReduceProd",
                           "ReduceL1",
                           "ReduceL2",
                           "ReduceLogSum",
                           "ReduceLogSumExp",
                           "ReduceSumSquare",
                           "ArgMax",
                           "ArgMin",
                           "Clip",
                           "Sum",
                           "Max",
                           "Mean"};
    const char *binary[] = {
        "Add",        "Sub",   "Mul",  "Div",         "Pow",        "Mod",
        "BitShift",   "And",   "Or",   "Xor",         "BitwiseAnd", "BitwiseOr",
        "BitwiseXor", "Equal", "Less", "LessOrEqual", "Greater",    "GreaterOrEqual",
        "Max",        "Min",   "Sum",  "Mean",        "PRelu",      "CastLike"};
    int64_t d[] = {3, 4};
    int ran = 0;
    for (size_t a = 0; a < sizeof types / sizeof types[0]; a++) {
        ml_tensor *x = ml_test_tensor(types[a], 2, d, NULL);
        fill_edges(x);
        const ml_tensor *in1[] = {x};
        for (size_t k = 0; k < sizeof unary / sizeof unary[0]; k++) {
            ml_tensor *out[2] = {NULL, NULL};
            ml_status st = ml_test_run("", unary[k], 20, NULL, 0, 1, in1, 1, out);
            ml_status_free(st);
            ml_tensor_free(out[0]);
            ran++;
        }
        for (size_t b = 0; b < sizeof types / sizeof types[0]; b++) {
            ml_tensor *y = ml_test_tensor(types[b], 1, (int64_t[]){4}, NULL);
            fill_edges(y);
            const ml_tensor *in2[] = {x, y};
            for (size_t k = 0; k < sizeof binary / sizeof binary[0]; k++) {
                ml_attr dir = ml_test_attr_string("direction", k % 2 ? "LEFT" : "RIGHT");
                ml_tensor *out = NULL;
                ml_status st = ml_test_run("", binary[k], 18, &dir, 1, 2, in2, 1, &out);
                ml_status_free(st);
                ml_tensor_free(out);
                ran++;
            }
            ml_attr to = ml_test_attr_int("to", types[b]);
            ml_tensor *out = NULL;
            ml_status st = ml_test_run("", "Cast", 13, &to, 1, 1, in1, 1, &out);
            CHECK(st == NULL); /* every numeric pair converts */
            ml_status_free(st);
            ml_tensor_free(out);
            ml_tensor_free(y);
        }
        ml_tensor_free(x);
    }
    CHECK(ran > 1000);
}

static void test_parallel_broadcast(void) {
    ml_threadpool *pool;
    CHECK_OK(ml_threadpool_create(4, &pool));
    ml_test_set_pool(pool);
    int64_t da[] = {301, 997}, db[] = {997}, dc[] = {301, 1};
    ml_tensor *ta = ml_test_f32(2, da, NULL), *tb = ml_test_f32(1, db, NULL);
    ml_tensor *tc = ml_test_f32(2, dc, NULL);
    float *a = ta->data, *b = tb->data, *c = tc->data;
    for (int i = 0; i < 301 * 997; i++) a[i] = (float)(i % 1000);
    for (int i = 0; i < 997; i++) b[i] = (float)i * 0.5f;
    for (int i = 0; i < 301; i++) c[i] = (float)i;
    const ml_tensor *in[] = {ta, tb};
    ml_tensor *y = run1("Add", 14, NULL, 0, 2, in);
    int bad = 0;
    if (y)
        for (int i = 0; i < 301 * 997; i++) bad += ((float *)y->data)[i] != a[i] + b[i % 997];
    CHECK_EQ_INT(bad, 0);
    ml_tensor_free(y);
    const ml_tensor *in2[] = {tb, tc}; /* [997] * [301,1] */
    y = run1("Mul", 14, NULL, 0, 2, in2);
    bad = 0;
    if (y)
        for (int i = 0; i < 301 * 997; i++) bad += ((float *)y->data)[i] != b[i % 997] * c[i / 997];
    CHECK_EQ_INT(bad, 0);
    ml_tensor_free(y);
    const ml_tensor *in3[] = {ta};
    y = run1("Exp", 13, NULL, 0, 1, in3);
    CHECK(y && y->rank == 2);
    ml_tensor_free(y);
    ml_test_set_pool(NULL);
    ml_threadpool_destroy(pool);
    ml_tensor *all[] = {ta, tb, tc};
    free_all(all, 3);
}

int main(void) {
    RUN(test_add_broadcast);
    RUN(test_empty_and_bad_shapes);
    RUN(test_integer_edges);
    RUN(test_float_mod);
    RUN(test_legacy_broadcast);
    RUN(test_compare_logic);
    RUN(test_bits);
    RUN(test_variadic);
    RUN(test_pow);
    RUN(test_unary);
    RUN(test_half_types);
    RUN(test_where);
    RUN(test_random_broadcast);
    RUN(test_hostile_values);
    RUN(test_parallel_broadcast);
    return TEST_SUMMARY();
}
