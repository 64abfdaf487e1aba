/* Cast / CastLike: number <-> string formatting and parsing, saturation of
 * out-of-range floats, integer wrap, bool, half types, legacy string 'to'. */
#include <float.h>
#include <math.h>
#include <stdint.h>

#include "ops/harness.h"
#include "test.h"

static ml_tensor *cast(const ml_tensor *x, int to, int opset) {
    ml_attr a = ml_test_attr_int("to", to);
    const ml_tensor *in[] = {x};
    ml_tensor *out = NULL;
    ml_status st = ml_test_run("", "Cast", opset, &a, 1, 1, in, 1, &out);
    if (st) {
        fprintf(stderr, "    Cast failed: %s\n", ml_status_message(st));
        ml_status_free(st);
        test_failures_in_current++; /* an unexpected error fails the test */
        return NULL;
    }
    return out;
}

static void test_float_to_string(void) {
    int64_t d[] = {8};
    float x[] = {0.1f, 1e-5f, NAN, -INFINITY, 100, 0.039187793f, -2.5f, 3.4028235e38f};
    const char *e[] = {"0.1", "1e-05",       "NaN",  "-INF",
                       "100", "0.039187793", "-2.5", "3.4028235e+38"};
    ml_tensor *tx = ml_test_f32(1, d, x);
    ml_tensor *y = cast(tx, ML_STRING, 13);
    CHECK(y && y->dtype == ML_STRING);
    if (y)
        for (int i = 0; i < 8; i++) CHECK_STR(((ml_str *)y->data)[i].data, e[i]);
    ml_tensor_free(y);
    ml_tensor_free(tx);
    /* doubles print with up to 17 digits; ints exactly */
    double xd[] = {0.1, 1.0 / 3, 123456789.0};
    ml_tensor *td = ml_test_tensor(ML_DOUBLE, 1, (int64_t[]){3}, xd);
    y = cast(td, ML_STRING, 13);
    if (y) {
        CHECK_STR(((ml_str *)y->data)[0].data, "0.1");
        CHECK_STR(((ml_str *)y->data)[1].data, "0.3333333333333333");
        CHECK_STR(((ml_str *)y->data)[2].data, "123456789");
    }
    ml_tensor_free(y);
    ml_tensor_free(td);
    int64_t xi[] = {INT64_MIN, 42};
    ml_tensor *ti = ml_test_i64(1, (int64_t[]){2}, xi);
    y = cast(ti, ML_STRING, 13);
    if (y) CHECK_STR(((ml_str *)y->data)[0].data, "-9223372036854775808");
    ml_tensor_free(y);
    ml_tensor_free(ti);
}

static void test_string_to_numbers(void) {
    int64_t d[] = {6};
    const char *s[] = {"INF", "-inf", "NaN", "1e3", " 2.5", "+INF"};
    ml_tensor *ts = ml_test_strings(1, d, s);
    ml_tensor *y = cast(ts, ML_FLOAT, 13);
    if (y) {
        float *v = y->data;
        CHECK(isinf(v[0]) && v[0] > 0);
        CHECK(isinf(v[1]) && v[1] < 0);
        CHECK(isnan(v[2]));
        CHECK_NEAR(v[3], 1000, 0);
        CHECK_NEAR(v[4], 2.5, 0);
        CHECK(isinf(v[5]) && v[5] > 0);
    }
    ml_tensor_free(y);
    ml_tensor_free(ts);
    const char *si[] = {"-42", "7 ", "1.9"};
    ts = ml_test_strings(1, (int64_t[]){3}, si);
    y = cast(ts, ML_INT64, 13);
    if (y) {
        CHECK_EQ_INT(((int64_t *)y->data)[0], -42);
        CHECK_EQ_INT(((int64_t *)y->data)[1], 7); /* trailing space tolerated */
        CHECK_EQ_INT(((int64_t *)y->data)[2], 1);
    }
    ml_tensor_free(y);
    ml_tensor_free(ts);
    const char *sb[] = {"true", "0", "False"};
    ts = ml_test_strings(1, (int64_t[]){3}, sb);
    y = cast(ts, ML_BOOL, 13);
    if (y)
        CHECK(((uint8_t *)y->data)[0] == 1 && ((uint8_t *)y->data)[1] == 0 &&
              ((uint8_t *)y->data)[2] == 0);
    ml_tensor_free(y);
    ml_tensor_free(ts);
    /* garbage is an error naming the element */
    const char *bad[] = {"1", "abc"};
    ts = ml_test_strings(1, (int64_t[]){2}, bad);
    ml_attr a = ml_test_attr_int("to", ML_FLOAT);
    const ml_tensor *in[] = {ts};
    ml_tensor *out = NULL;
    ml_status st = ml_test_run("", "Cast", 13, &a, 1, 1, in, 1, &out);
    CHECK(ml_status_code(st) == ML_ERR_INVALID_ARGUMENT);
    CHECK(st && strstr(ml_status_message(st), "abc") != NULL);
    ml_status_free(st);
    ml_tensor_free(ts);
}

static void test_numeric_pairs(void) {
    int64_t d[] = {5};
    float x[] = {1e20f, -1e20f, NAN, -3.7f, 0.5f};
    ml_tensor *tx = ml_test_f32(1, d, x);
    ml_tensor *y = cast(tx, ML_INT32, 13);
    if (y) {
        int32_t *v = y->data;
        CHECK_EQ_INT(v[0], INT32_MAX); /* saturates */
        CHECK_EQ_INT(v[1], INT32_MIN);
        CHECK_EQ_INT(v[2], 0);
        CHECK_EQ_INT(v[3], -3); /* truncates */
    }
    ml_tensor_free(y);
    /* the float bounds round to 2^31 / 2^63, where overflow begins */
    float edges[] = {2147483648.0f, 2147483520.0f, -2147483648.0f, 9.3e18f, -9.3e18f};
    ml_tensor *te = ml_test_f32(1, d, edges);
    ml_tensor *e32 = cast(te, ML_INT32, 13), *e64 = cast(te, ML_INT64, 13);
    ml_tensor *eu = cast(te, ML_UINT32, 13);
    if (e32 && e64 && eu) {
        int32_t *v = e32->data;
        int64_t *w = e64->data;
        CHECK(v[0] == INT32_MAX && v[1] == 2147483520 && v[2] == INT32_MIN);
        CHECK(w[0] == 2147483648LL && w[3] == INT64_MAX && w[4] == INT64_MIN);
        CHECK(((uint32_t *)eu->data)[0] == 2147483648u && ((uint32_t *)eu->data)[2] == 0);
    }
    ml_tensor_free(e32);
    ml_tensor_free(e64);
    ml_tensor_free(eu);
    ml_tensor_free(te);
    y = cast(tx, ML_BOOL, 13);
    if (y) CHECK(((uint8_t *)y->data)[3] == 1 && ((uint8_t *)y->data)[4] == 1);
    ml_tensor_free(y);
    y = cast(tx, ML_DOUBLE, 13);
    if (y) CHECK_NEAR(((double *)y->data)[3], -3.7f, 0);
    ml_tensor_free(y);
    ml_tensor_free(tx);
    int64_t xi[] = {257, -1, (int64_t)1 << 53, 3, 0};
    ml_tensor *ti = ml_test_i64(1, d, xi);
    y = cast(ti, ML_UINT8, 13);
    if (y) CHECK(((uint8_t *)y->data)[0] == 1 && ((uint8_t *)y->data)[1] == 255);
    ml_tensor_free(y);
    y = cast(ti, ML_UINT64, 13);
    if (y) CHECK(((uint64_t *)y->data)[1] == UINT64_MAX);
    ml_tensor_free(y);
    y = cast(ti, ML_DOUBLE, 13);
    if (y) CHECK(((double *)y->data)[2] == 9007199254740992.0);
    ml_tensor_free(y);
    /* same type: a zero-copy view with equal contents */
    y = cast(ti, ML_INT64, 13);
    if (y) CHECK(((int64_t *)y->data)[0] == 257);
    ml_tensor_free(y);
    ml_tensor_free(ti);
}

static void test_half(void) {
    int64_t d[] = {3};
    float x[] = {1.5f, 65504, -0.1f};
    ml_tensor *tx = ml_test_f32(1, d, x);
    ml_tensor *h = cast(tx, ML_FLOAT16, 13);
    CHECK(h && h->dtype == ML_FLOAT16);
    ml_tensor *b = h ? cast(h, ML_BFLOAT16, 13) : NULL;
    ml_tensor *back = h ? cast(h, ML_FLOAT, 13) : NULL;
    if (back) {
        CHECK_NEAR(((float *)back->data)[0], 1.5, 0);
        CHECK_NEAR(((float *)back->data)[1], 65504, 0);
        CHECK_NEAR(((float *)back->data)[2], -0.1, 1e-4);
    }
    if (b) CHECK_NEAR(ml_bf16_to_float(((uint16_t *)b->data)[0]), 1.5, 0);
    ml_tensor *s = h ? cast(h, ML_STRING, 13) : NULL;
    if (s) CHECK_STR(((ml_str *)s->data)[0].data, "1.5");
    ml_tensor *i = h ? cast(h, ML_INT32, 13) : NULL;
    if (i) CHECK_EQ_INT(((int32_t *)i->data)[1], 65504);
    ml_tensor *all[] = {tx, h, b, back, s, i};
    for (int k = 0; k < 6; k++) ml_tensor_free(all[k]);
}

static void test_castlike_and_legacy(void) {
    int64_t d[] = {2};
    float x[] = {1.25f, -2};
    double like = 0;
    ml_tensor *tx = ml_test_f32(1, d, x), *tl = ml_test_tensor(ML_DOUBLE, 0, NULL, &like);
    const ml_tensor *in[] = {tx, tl};
    ml_tensor *y = NULL;
    CHECK_OK(ml_test_run("", "CastLike", 15, NULL, 0, 2, in, 1, &y));
    CHECK(y && y->dtype == ML_DOUBLE && y->rank == 1);
    if (y) CHECK_NEAR(((double *)y->data)[0], 1.25, 0);
    ml_tensor_free(y);
    /* opset 1 spells the target as a string */
    ml_attr a = ml_test_attr_string("to", "INT32");
    const ml_tensor *in1[] = {tx};
    y = NULL;
    CHECK_OK(ml_test_run("", "Cast", 1, &a, 1, 1, in1, 1, &y));
    CHECK(y && y->dtype == ML_INT32);
    if (y) CHECK_EQ_INT(((int32_t *)y->data)[1], -2);
    ml_tensor_free(y);
    ml_attr badto = ml_test_attr_int("to", 99);
    y = NULL;
    CHECK_ERR(ml_test_run("", "Cast", 13, &badto, 1, 1, in1, 1, &y), ML_ERR_UNSUPPORTED);
    ml_tensor_free(tx);
    ml_tensor_free(tl);
}

/* The vectorised half conversions match the core's scalar reference:
 * every float16 pattern, and float patterns sampled densely around every
 * rounding boundary (subnormal, normal, overflow, inf/nan). */
static bool same_bits_or_nan(float a, float b) {
    uint32_t x, y;
    memcpy(&x, &a, 4);
    memcpy(&y, &b, 4);
    return x == y || (isnan(a) && isnan(b));
}

static void test_half_conversions_exact(void) {
    static uint16_t hv[65536];
    for (int i = 0; i < 65536; i++) hv[i] = (uint16_t)i;
    ml_tensor *th = ml_test_tensor(ML_FLOAT16, 1, (int64_t[]){65536}, hv);
    ml_tensor *f = cast(th, ML_FLOAT, 13);
    CHECK(f != NULL);
    int bad = 0;
    for (int i = 0; f && i < 65536; i++)
        bad += !same_bits_or_nan(((float *)f->data)[i], ml_fp16_to_float(hv[i]));
    CHECK_EQ_INT(bad, 0);
    ml_tensor_free(f);
    ml_tensor_free(th);

    enum { NF = 4 * 65536 + 8 * 4096 };
    static uint32_t fb[NF];
    size_t n = 0;
    for (uint32_t i = 0; i < 65536; i++) fb[n++] = i * 65537u;             /* whole range */
    for (uint32_t i = 0; i < 65536; i++) fb[n++] = (i * 65537u) ^ 0x1000u; /* half-way bits */
    for (uint32_t i = 0; i < 65536; i++) fb[n++] = 0x33000000u + i * 97u;  /* subnormal halves */
    for (uint32_t i = 0; i < 65536; i++) fb[n++] = 0x38000000u + i * 131u; /* normal boundary */
    const uint32_t edges[] = {0x38800000u, 0x477ff000u, 0x7f800000u, 0x33000000u,
                              0x387fc000u, 0x477fe000u, 0x3f800000u, 0x00000000u};
    for (int e = 0; e < 8; e++)
        for (uint32_t i = 0; i < 4096; i++) fb[n++] = edges[e] - 2048u + i;
    for (size_t i = 0; i < n; i += 2) fb[i] |= 0x80000000u; /* both signs */
    ml_tensor *tf = ml_test_tensor(ML_FLOAT, 1, (int64_t[]){(int64_t)n}, fb);
    ml_tensor *h = cast(tf, ML_FLOAT16, 13), *b = cast(tf, ML_BFLOAT16, 13);
    CHECK(h != NULL && b != NULL);
    int bad_h = 0, bad_b = 0;
    for (size_t i = 0; h && b && i < n; i++) {
        float v;
        memcpy(&v, &fb[i], 4);
        bad_h += ((uint16_t *)h->data)[i] != ml_float_to_fp16(v);
        bad_b += ((uint16_t *)b->data)[i] != ml_float_to_bf16(v);
    }
    CHECK_EQ_INT(bad_h, 0);
    CHECK_EQ_INT(bad_b, 0);
    ml_tensor_free(h);
    ml_tensor_free(b);
    ml_tensor_free(tf);
}

int main(void) {
    RUN(test_float_to_string);
    RUN(test_string_to_numbers);
    RUN(test_numeric_pairs);
    RUN(test_half);
    RUN(test_half_conversions_exact);
    RUN(test_castlike_and_legacy);
    return TEST_SUMMARY();
}
