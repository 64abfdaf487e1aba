/* Random ops: seeded runs repeat exactly, unseeded runs differ, values stay
 * in range with plausible moments, Bernoulli's degenerate probabilities
 * are exact, Multinomial follows a dominant class, and dtypes/shapes follow
 * the attributes. */
#include <math.h>
#include <stdlib.h>

#include "ops/harness.h"
#include "test.h"

static void test_uniform_seeded_range(void) {
    int64_t shape[] = {50, 40};
    ml_attr attrs[] = {ml_test_attr_ints("shape", shape, 2), ml_test_attr_float("low", -2.0f),
                       ml_test_attr_float("high", 3.0f), ml_test_attr_float("seed", 5.0f)};
    ml_tensor *a = NULL, *b = NULL;
    CHECK_OK(ml_test_run("", "RandomUniform", 1, attrs, 4, 0, NULL, 1, &a));
    CHECK_OK(ml_test_run("", "RandomUniform", 1, attrs, 4, 0, NULL, 1, &b));
    CHECK(a && b && a->dtype == ML_FLOAT && ml_tensor_numel(a) == 2000);
    double mean = 0;
    for (size_t i = 0; a && b && i < 2000; i++) {
        float v = ((float *)a->data)[i];
        CHECK(v >= -2.0f && v < 3.0f);
        CHECK(v == ((float *)b->data)[i]); /* same seed, same stream */
        mean += v / 2000.0;
    }
    CHECK_NEAR(mean, 0.5, 0.15);
    ml_tensor_free(a), ml_tensor_free(b);
}

static void test_unseeded_runs_differ(void) {
    int64_t shape[] = {16};
    ml_attr attrs[] = {ml_test_attr_ints("shape", shape, 1)};
    ml_tensor *a = NULL, *b = NULL;
    CHECK_OK(ml_test_run("", "RandomNormal", 1, attrs, 1, 0, NULL, 1, &a));
    CHECK_OK(ml_test_run("", "RandomNormal", 1, attrs, 1, 0, NULL, 1, &b));
    int same = 0;
    for (int i = 0; a && b && i < 16; i++) same += ((float *)a->data)[i] == ((float *)b->data)[i];
    CHECK(same < 16);
    ml_tensor_free(a), ml_tensor_free(b);
}

static void test_normal_like_moments_double(void) {
    int64_t d[] = {4000};
    ml_tensor *x = ml_test_f32(1, d, NULL);
    ml_attr attrs[] = {ml_test_attr_int("dtype", ML_DOUBLE), ml_test_attr_float("mean", 10.0f),
                       ml_test_attr_float("scale", 2.0f), ml_test_attr_float("seed", 1.0f)};
    ml_tensor *y = NULL;
    CHECK_OK(
        ml_test_run("", "RandomNormalLike", 1, attrs, 4, 1, (const ml_tensor *const *)&x, 1, &y));
    CHECK(y && y->dtype == ML_DOUBLE && y->dims[0] == 4000);
    double m = 0, v = 0;
    for (int i = 0; y && i < 4000; i++) m += ((double *)y->data)[i] / 4000;
    for (int i = 0; y && i < 4000; i++) v += pow(((double *)y->data)[i] - m, 2) / 4000;
    CHECK_NEAR(m, 10.0, 0.2);
    CHECK_NEAR(sqrt(v), 2.0, 0.2);
    ml_tensor_free(y), ml_tensor_free(x);
}

static void test_bernoulli_degenerate(void) {
    float p[] = {0, 1, 0, 1, 1};
    int64_t d[] = {5};
    ml_tensor *x = ml_test_f32(1, d, p);
    ml_attr attrs[] = {ml_test_attr_int("dtype", ML_BOOL)};
    ml_tensor *y = NULL;
    CHECK_OK(ml_test_run("", "Bernoulli", 15, attrs, 1, 1, (const ml_tensor *const *)&x, 1, &y));
    CHECK(y && y->dtype == ML_BOOL);
    for (int i = 0; y && i < 5; i++) CHECK_EQ_INT(((uint8_t *)y->data)[i], (int)p[i]);
    ml_tensor_free(y);
    CHECK_OK(ml_test_run("", "Bernoulli", 15, NULL, 0, 1, (const ml_tensor *const *)&x, 1, &y));
    CHECK(y && y->dtype == ML_FLOAT); /* default: the input's dtype */
    ml_tensor_free(y), ml_tensor_free(x);
}

static void test_multinomial(void) {
    float logits[] = {0, 50, 0, /* row 1 */ 50, 0, 0};
    int64_t d[] = {2, 3};
    ml_tensor *x = ml_test_f32(2, d, logits);
    ml_attr attrs[] = {ml_test_attr_int("sample_size", 20), ml_test_attr_int("dtype", ML_INT64)};
    ml_tensor *y = NULL;
    CHECK_OK(ml_test_run("", "Multinomial", 7, attrs, 2, 1, (const ml_tensor *const *)&x, 1, &y));
    CHECK(y && y->dtype == ML_INT64 && y->dims[0] == 2 && y->dims[1] == 20);
    for (int i = 0; y && i < 20; i++) {
        CHECK_EQ_INT(((int64_t *)y->data)[i], 1);
        CHECK_EQ_INT(((int64_t *)y->data)[20 + i], 0);
    }
    ml_tensor_free(y);
    ml_attr bad[] = {ml_test_attr_int("dtype", ML_FLOAT)};
    CHECK_ERR(ml_test_run("", "Multinomial", 7, bad, 1, 1, (const ml_tensor *const *)&x, 1, &y),
              ML_ERR_INVALID_ARGUMENT);
    ml_tensor_free(x);
}

static void test_errors(void) {
    ml_tensor *y = NULL;
    CHECK_ERR(ml_test_run("", "RandomUniform", 1, NULL, 0, 0, NULL, 1, &y),
              ML_ERR_INVALID_ARGUMENT);
    int64_t shape[] = {2, -1};
    ml_attr neg[] = {ml_test_attr_ints("shape", shape, 2)};
    CHECK_ERR(ml_test_run("", "RandomUniform", 1, neg, 1, 0, NULL, 1, &y), ML_ERR_INVALID_ARGUMENT);
    int64_t ok[] = {2};
    ml_attr bad_dt[] = {ml_test_attr_ints("shape", ok, 1), ml_test_attr_int("dtype", ML_INT32)};
    CHECK_ERR(ml_test_run("", "RandomNormal", 1, bad_dt, 2, 0, NULL, 1, &y),
              ML_ERR_INVALID_ARGUMENT);
}

int main(void) {
    RUN(test_uniform_seeded_range);
    RUN(test_unseeded_runs_differ);
    RUN(test_normal_like_moments_double);
    RUN(test_bernoulli_degenerate);
    RUN(test_multinomial);
    RUN(test_errors);
    return TEST_SUMMARY();
}
