/* Normalisation kernels: BatchNorm (inference and training_mode), Instance,
 * Layer (axis, Mean/InvStdDev outputs, broadcast scale), Group, LRN, MVN. */
#include <math.h>
#include <stdlib.h>

#include "ops/harness.h"
#include "test.h"

static void test_batchnorm(void) {
    float x[] = {1, 2, 3, 4, 5, 6, 7, 8}; /* [2,2,2] */
    float s[] = {1, 2}, b[] = {0, 1}, m[] = {2, 6}, v[] = {1, 4};
    ml_tensor *tx = ml_test_f32(3, (int64_t[]){2, 2, 2}, x),
              *ts = ml_test_f32(1, (int64_t[]){2}, s), *tb = ml_test_f32(1, (int64_t[]){2}, b),
              *tm = ml_test_f32(1, (int64_t[]){2}, m), *tv = ml_test_f32(1, (int64_t[]){2}, v);
    const ml_tensor *in[] = {tx, ts, tb, tm, tv};
    ml_attr eps = ml_test_attr_float("epsilon", 0);
    ml_tensor *y[3] = {0};
    CHECK_OK(ml_test_run("", "BatchNormalization", 15, &eps, 1, 5, in, 1, y));
    /* channel 0: (x-2)/1; channel 1: 2*(x-6)/2 + 1 */
    float want[] = {-1, 0, -2, -1, 3, 4, 2, 3};
    if (y[0])
        for (int i = 0; i < 8; i++) CHECK_NEAR(((float *)y[0]->data)[i], want[i], 1e-5);
    ml_tensor_free(y[0]);
    /* training mode: batch statistics and running averages */
    ml_attr attrs[] = {eps, ml_test_attr_int("training_mode", 1),
                       ml_test_attr_float("momentum", 0.5f)};
    CHECK_OK(ml_test_run("", "BatchNormalization", 15, attrs, 3, 5, in, 3, y));
    /* channel 0 values {1,2,5,6}: mean 3.5, var 4.25 */
    if (y[0] && y[1] && y[2]) {
        CHECK_NEAR(((float *)y[0]->data)[0], (1 - 3.5) / sqrt(4.25), 1e-5);
        CHECK_NEAR(((float *)y[1]->data)[0], 0.5 * 2 + 0.5 * 3.5, 1e-5);
        CHECK_NEAR(((float *)y[2]->data)[0], 0.5 * 1 + 0.5 * 4.25, 1e-5);
    }
    for (int i = 0; i < 3; i++) ml_tensor_free(y[i]);
    ml_tensor *bad = ml_test_f32(1, (int64_t[]){3}, NULL);
    const ml_tensor *in_bad[] = {tx, bad, tb, tm, tv};
    CHECK_ERR(ml_test_run("", "BatchNormalization", 15, NULL, 0, 5, in_bad, 1, y),
              ML_ERR_INVALID_ARGUMENT);
    ml_tensor_free(tx);
    ml_tensor_free(ts);
    ml_tensor_free(tb);
    ml_tensor_free(tm);
    ml_tensor_free(tv);
    ml_tensor_free(bad);
}

static void test_instance_norm(void) {
    float x[] = {1, 3, 10, 20}; /* [1,2,2] */
    float s[] = {1, 2}, b[] = {0, 5};
    ml_tensor *tx = ml_test_f32(3, (int64_t[]){1, 2, 2}, x),
              *ts = ml_test_f32(1, (int64_t[]){2}, s), *tb = ml_test_f32(1, (int64_t[]){2}, b), *y;
    ml_attr eps = ml_test_attr_float("epsilon", 0);
    CHECK_OK(ml_test_run("", "InstanceNormalization", 6, &eps, 1, 3,
                         (const ml_tensor *[]){tx, ts, tb}, 1, &y));
    if (y) {
        float *d = y->data;
        CHECK_NEAR(d[0], -1, 1e-5);
        CHECK_NEAR(d[1], 1, 1e-5);
        CHECK_NEAR(d[2], 3, 1e-5);
        CHECK_NEAR(d[3], 7, 1e-5);
    }
    ml_tensor_free(y);
    ml_tensor_free(tx);
    ml_tensor_free(ts);
    ml_tensor_free(tb);
}

static void test_layer_norm(void) {
    float x[12];
    for (int i = 0; i < 12; i++) x[i] = (float)(i * i % 7);
    ml_tensor *tx = ml_test_f32(3, (int64_t[]){2, 2, 3}, x);
    float s[] = {1, 2, 3}, b[] = {0.5f};
    ml_tensor *ts = ml_test_f32(1, (int64_t[]){3}, s), *tb = ml_test_f32(1, (int64_t[]){1}, b);
    ml_attr attrs[] = {ml_test_attr_int("axis", 1), ml_test_attr_float("epsilon", 1e-3f)};
    ml_tensor *y[3] = {0};
    CHECK_OK(ml_test_run("", "LayerNormalization", 17, attrs, 2, 3,
                         (const ml_tensor *[]){tx, ts, tb}, 3, y));
    CHECK(y[1] && y[1]->rank == 3 && y[1]->dims[0] == 2 && y[1]->dims[1] == 1 &&
          y[1]->dims[2] == 1);
    if (y[0] && y[1] && y[2]) {
        for (int r = 0; r < 2; r++) {
            double mean = 0, var = 0;
            for (int i = 0; i < 6; i++) mean += x[r * 6 + i];
            mean /= 6;
            for (int i = 0; i < 6; i++) var += (x[r * 6 + i] - mean) * (x[r * 6 + i] - mean);
            double inv = 1 / sqrt(var / 6 + 1e-3);
            CHECK_NEAR(((float *)y[1]->data)[r], mean, 1e-5);
            CHECK_NEAR(((float *)y[2]->data)[r], inv, 1e-4);
            for (int i = 0; i < 6; i++)
                CHECK_NEAR(((float *)y[0]->data)[r * 6 + i],
                           (x[r * 6 + i] - mean) * inv * s[i % 3] + 0.5, 1e-4);
        }
    }
    for (int i = 0; i < 3; i++) ml_tensor_free(y[i]);
    ml_tensor *bad = ml_test_f32(1, (int64_t[]){4}, NULL);
    CHECK_ERR(ml_test_run("", "LayerNormalization", 17, attrs, 2, 2, (const ml_tensor *[]){tx, bad},
                          1, y),
              ML_ERR_INVALID_ARGUMENT);
    ml_attr ax = ml_test_attr_int("axis", 3);
    CHECK_ERR(
        ml_test_run("", "LayerNormalization", 17, &ax, 1, 2, (const ml_tensor *[]){tx, ts}, 1, y),
        ML_ERR_INVALID_ARGUMENT);
    ml_tensor_free(bad);
    ml_tensor_free(tx);
    ml_tensor_free(ts);
    ml_tensor_free(tb);
}

static void test_group_norm(void) {
    float x[] = {1, 2, 3, 4, 5, 6, 7, 8}; /* [1,4,2], 2 groups of 4 values */
    float s[] = {1, 2}, b[] = {0, 1};
    ml_tensor *tx = ml_test_f32(3, (int64_t[]){1, 4, 2}, x),
              *ts = ml_test_f32(1, (int64_t[]){2}, s), *tb = ml_test_f32(1, (int64_t[]){2}, b), *y;
    ml_attr attrs[] = {ml_test_attr_int("num_groups", 2), ml_test_attr_float("epsilon", 0)};
    CHECK_OK(ml_test_run("", "GroupNormalization", 18, attrs, 2, 3,
                         (const ml_tensor *[]){tx, ts, tb}, 1, &y));
    if (y) {
        double inv = 1 / sqrt(1.25);
        CHECK_NEAR(((float *)y->data)[0], (1 - 2.5) * inv, 1e-5);
        CHECK_NEAR(((float *)y->data)[7], 2 * (8 - 6.5) * inv + 1, 1e-5);
    }
    ml_tensor_free(y);
    ml_attr g3 = ml_test_attr_int("num_groups", 3);
    CHECK_ERR(ml_test_run("", "GroupNormalization", 18, &g3, 1, 3,
                          (const ml_tensor *[]){tx, ts, tb}, 1, &y),
              ML_ERR_INVALID_ARGUMENT);
    ml_tensor_free(tx);
    ml_tensor_free(ts);
    ml_tensor_free(tb);
}

static void test_lrn_and_mvn(void) {
    float x[] = {1, 2, 3}; /* [1,3,1] */
    ml_tensor *tx = ml_test_f32(3, (int64_t[]){1, 3, 1}, x), *y;
    ml_attr attrs[] = {ml_test_attr_int("size", 2), ml_test_attr_float("alpha", 1),
                       ml_test_attr_float("beta", 1), ml_test_attr_float("bias", 1)};
    CHECK_OK(ml_test_run("", "LRN", 13, attrs, 4, 1, (const ml_tensor *[]){tx}, 1, &y));
    /* size 2: window [c, c+1]; y = x / (1 + (sum sq)/2) */
    if (y) {
        CHECK_NEAR(((float *)y->data)[0], 1 / (1 + 5 / 2.0), 1e-6);
        CHECK_NEAR(((float *)y->data)[2], 3 / (1 + 9 / 2.0), 1e-6);
    }
    ml_tensor_free(y);
    float m[] = {1, 3, 5, 7}; /* [1,1,2,2] default axes {0,2,3} */
    ml_tensor *tm = ml_test_f32(4, (int64_t[]){1, 1, 2, 2}, m);
    CHECK_OK(ml_test_run("", "MeanVarianceNormalization", 13, NULL, 0, 1, (const ml_tensor *[]){tm},
                         1, &y));
    if (y) {
        double sd = sqrt(5.0);
        CHECK_NEAR(((float *)y->data)[0], (1 - 4) / sd, 1e-5);
        CHECK_NEAR(((float *)y->data)[3], (7 - 4) / sd, 1e-5);
    }
    ml_tensor_free(y);
    ml_tensor_free(tx);
    ml_tensor_free(tm);
}

static void test_contrib_layer_norms(void) {
    float x[] = {1, 2, 3, 4, -1, 0, 1, 2}; /* [2,4] */
    float skip[] = {1, 1, 1, 1};           /* broadcast over rows */
    float g[] = {1, 1, 2, 2}, bt[] = {0, 0, 0, 1}, bias[] = {0, 0, 0, -1};
    ml_tensor *tx = ml_test_f32(2, (int64_t[]){2, 4}, x),
              *ts = ml_test_f32(1, (int64_t[]){4}, skip), *tg = ml_test_f32(1, (int64_t[]){4}, g),
              *tb = ml_test_f32(1, (int64_t[]){4}, bt),
              *tbias = ml_test_f32(1, (int64_t[]){4}, bias), *out[4] = {0};
    ml_attr eps = ml_test_attr_float("epsilon", 0);
    CHECK_OK(ml_test_run("com.microsoft", "SkipLayerNormalization", 1, &eps, 1, 5,
                         (const ml_tensor *[]){tx, ts, tg, tb, tbias}, 4, out));
    /* row 0: x + skip + bias = {2,3,4,4}: mean 3.25, var 0.6875 */
    if (out[0] && out[3]) {
        double inv = 1 / sqrt(0.6875);
        CHECK_NEAR(((float *)out[0]->data)[0], (2 - 3.25) * inv, 1e-5);
        CHECK_NEAR(((float *)out[0]->data)[3], 2 * (4 - 3.25) * inv + 1, 1e-5);
        CHECK_NEAR(((float *)out[3]->data)[3], 4, 0);
    }
    for (int i = 0; i < 4; i++) ml_tensor_free(out[i]);
    /* RMSNorm: y = x / sqrt(mean(x^2)) * scale */
    CHECK_OK(ml_test_run("", "SimplifiedLayerNormalization", 1, &eps, 1, 2,
                         (const ml_tensor *[]){tx, tg}, 1, out));
    if (out[0]) {
        double rms = sqrt((1 + 4 + 9 + 16) / 4.0);
        CHECK_NEAR(((float *)out[0]->data)[2], 3 / rms * 2, 1e-5);
    }
    ml_tensor_free(out[0]);
    ml_tensor *bad = ml_test_f32(1, (int64_t[]){3}, NULL);
    CHECK_ERR(ml_test_run("com.microsoft", "SkipLayerNormalization", 1, NULL, 0, 3,
                          (const ml_tensor *[]){tx, bad, tg}, 1, out),
              ML_ERR_INVALID_ARGUMENT);
    ml_tensor *tensors[] = {tx, ts, tg, tb, tbias, bad};
    for (size_t i = 0; i < 6; i++) ml_tensor_free(tensors[i]);
}

/* An empty tensor can still have 2^48 rows ([2^24, 2^24, 0]); kernels must
 * not loop over them. */
static void test_empty_with_huge_dims(void) {
    ml_tensor *x = ml_test_f32(3, (int64_t[]){1 << 24, 1 << 24, 0}, NULL),
              *s = ml_test_f32(1, (int64_t[]){0}, NULL), *y[3] = {0};
    CHECK(x != NULL);
    if (!x) return;
    CHECK_OK(
        ml_test_run("", "LayerNormalization", 17, NULL, 0, 2, (const ml_tensor *[]){x, s}, 1, y));
    CHECK(y[0] && ml_tensor_numel(y[0]) == 0);
    ml_tensor_free(y[0]);
    ml_attr size = ml_test_attr_int("size", 3);
    CHECK_OK(ml_test_run("", "LRN", 13, &size, 1, 1, (const ml_tensor *[]){x}, 1, y));
    ml_tensor_free(y[0]);
    ml_tensor *x4 = ml_test_f32(4, (int64_t[]){1 << 20, 1 << 20, 0, 4}, NULL);
    CHECK_OK(ml_test_run("", "MeanVarianceNormalization", 13, NULL, 0, 1, (const ml_tensor *[]){x4},
                         1, y));
    ml_tensor_free(y[0]);
    ml_tensor_free(x4);
    ml_tensor *xi = ml_test_tensor(ML_INT32, 3, (int64_t[]){1 << 24, 1 << 24, 0}, NULL),
              *bi = ml_test_tensor(ML_INT32, 2, (int64_t[]){0, 0}, NULL);
    CHECK_OK(ml_test_run("", "MatMul", 13, NULL, 0, 2, (const ml_tensor *[]){xi, bi}, 1, y));
    CHECK(y[0] && ml_tensor_numel(y[0]) == 0);
    ml_tensor_free(y[0]);
    ml_tensor_free(xi);
    ml_tensor_free(bi);
    ml_tensor_free(x);
    ml_tensor_free(s);
}

int main(void) {
    RUN(test_batchnorm);
    RUN(test_instance_norm);
    RUN(test_layer_norm);
    RUN(test_group_norm);
    RUN(test_lrn_and_mvn);
    RUN(test_contrib_layer_norms);
    RUN(test_empty_with_huge_dims);
    return TEST_SUMMARY();
}
