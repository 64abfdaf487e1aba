/* Edge cases of the opset-23 transformer ops beyond the zoo's comparison
 * with onnxruntime (tests/zoo opset23_llm_ops*): hand-computed values, the
 * reference's short-mask padding, nonpad_kv_seqlen (opset 24), float16, and
 * the shape errors. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "test.h"

static void test_rms_norm(void) {
    const int64_t d[2] = {2, 2}, sd[1] = {2};
    const float x[] = {3, 4, 0, 0}, g[] = {1, 2};
    ml_tensor *in[2] = {ml_test_f32(2, d, x), ml_test_f32(1, sd, g)};
    ml_attr a = ml_test_attr_float("epsilon", 0.0f);
    ml_tensor *y = ml_test_run1("RMSNormalization", 23, &a, 1, 2, (const ml_tensor *const *)in);
    CHECK(y != NULL);
    if (y) { /* rms of (3, 4) is sqrt(12.5) */
        float r = sqrtf(12.5f);
        CHECK_NEAR(ML_TENSOR_DATA(y, float)[0], 3 / r, 1e-6);
        CHECK_NEAR(ML_TENSOR_DATA(y, float)[1], 2 * 4 / r, 1e-6);
        ml_tensor_free(y);
    }
    /* scale that does not broadcast is an error naming it */
    const int64_t bad[1] = {3};
    const float g3[] = {1, 1, 1};
    ml_tensor *in2[2] = {in[0], ml_test_f32(1, bad, g3)};
    ml_tensor *out = NULL;
    ml_status st =
        ml_test_run("", "RMSNormalization", 23, NULL, 0, 2, (const ml_tensor *const *)in2, 1, &out);
    CHECK(st && strstr(ml_status_message(st), "scale"));
    ml_status_free(st);
    ml_tensor_free(out);
    ml_tensor_free(in2[1]);
    ml_tensor_free(in[0]);
    ml_tensor_free(in[1]);
}

static void test_rotary(void) {
    /* one token, one head of size 4, cos = 0 / sin = 1 rotates by 90 degrees */
    const int64_t xd[4] = {1, 1, 1, 4}, cd[3] = {1, 1, 2};
    const float x[] = {1, 2, 3, 4}, c[] = {0, 0}, s[] = {1, 1};
    ml_tensor *in[3] = {ml_test_f32(4, xd, x), ml_test_f32(3, cd, c), ml_test_f32(3, cd, s)};
    ml_tensor *y = ml_test_run1("RotaryEmbedding", 23, NULL, 0, 3, (const ml_tensor *const *)in);
    const float halves[] = {-3, -4, 1, 2};
    CHECK(y && ml_test_f32_are(y, halves, 4));
    ml_tensor_free(y);
    ml_attr il = ml_test_attr_int("interleaved", 1);
    y = ml_test_run1("RotaryEmbedding", 23, &il, 1, 3, (const ml_tensor *const *)in);
    const float pairs[] = {-2, 1, -4, 3};
    CHECK(y && ml_test_f32_are(y, pairs, 4));
    ml_tensor_free(y);
    /* position ids outside the cache are refused */
    const int64_t pd[2] = {1, 1}, pcd[2] = {1, 2};
    const int64_t p[] = {5};
    ml_tensor *in4[4] = {in[0], ml_test_f32(2, pcd, c), ml_test_f32(2, pcd, s),
                         ml_test_i64(2, pd, p)};
    ml_tensor *out = NULL;
    ml_status st =
        ml_test_run("", "RotaryEmbedding", 23, NULL, 0, 4, (const ml_tensor *const *)in4, 1, &out);
    CHECK(st && strstr(ml_status_message(st), "position_ids"));
    ml_status_free(st);
    ml_tensor_free(out);
    for (int i = 1; i < 4; i++) ml_tensor_free(in4[i]);
    for (int i = 0; i < 3; i++) ml_tensor_free(in[i]);
}

/* Attention with one query over two keys: y = softmax(scores + bias) v. */
static void test_attention_mask_padding_and_nonpad(void) {
    const int64_t qd[4] = {1, 1, 1, 2}, kd[4] = {1, 1, 2, 2}, md[2] = {1, 1};
    const float q[] = {1, 0}, k[] = {1, 0, 0, 1}, v[] = {10, 0, 0, 20}, m[] = {0};
    /* mask of length 1 < total 2: the reference pads with -inf, so only
     * key 0 is seen and y = v[0] */
    ml_tensor *in[4] = {ml_test_f32(4, qd, q), ml_test_f32(4, kd, k), ml_test_f32(4, kd, v),
                        ml_test_f32(2, md, m)};
    ml_tensor *y = ml_test_run1("Attention", 23, NULL, 0, 4, (const ml_tensor *const *)in);
    const float only0[] = {10, 0};
    CHECK(y && ml_test_f32_are(y, only0, 2));
    ml_tensor_free(y);
    /* no mask: softmax of (1/sqrt2, 0) */
    y = ml_test_run1("Attention", 23, NULL, 0, 3, (const ml_tensor *const *)in);
    double e = exp(1 / sqrt(2.0)), p0 = e / (e + 1);
    CHECK(y != NULL);
    if (y) {
        CHECK_NEAR(ML_TENSOR_DATA(y, float)[0], 10 * p0, 1e-5);
        CHECK_NEAR(ML_TENSOR_DATA(y, float)[1], 20 * (1 - p0), 1e-5);
    }
    ml_tensor_free(y);
    /* opset 24 nonpad_kv_seqlen = 1 hides key 1 too */
    const int64_t nd[1] = {1}, nv[] = {1};
    ml_tensor *np = ml_test_i64(1, nd, nv);
    const ml_tensor *in7[7] = {in[0], in[1], in[2], NULL, NULL, NULL, np};
    ml_tensor *outs[1] = {0};
    CHECK_OK(ml_test_run("", "Attention", 24, NULL, 0, 7, in7, 1, outs));
    CHECK(outs[0] && ml_test_f32_are(outs[0], only0, 2));
    ml_tensor_free(outs[0]);
    ml_tensor_free(np);
    for (int i = 0; i < 4; i++) ml_tensor_free(in[i]);
}

static void test_attention_errors_and_f16(void) {
    const int64_t qd[4] = {1, 3, 1, 2}, kd[4] = {1, 2, 2, 2};
    float z[12] = {0};
    ml_tensor *in[3] = {ml_test_f32(4, qd, z), ml_test_f32(4, kd, z), ml_test_f32(4, kd, z)};
    ml_tensor *out = NULL;
    ml_status st =
        ml_test_run("", "Attention", 23, NULL, 0, 3, (const ml_tensor *const *)in, 1, &out);
    CHECK(st && strstr(ml_status_message(st), "multiple of kv heads"));
    ml_status_free(st);
    ml_tensor_free(out);
    for (int i = 0; i < 3; i++) ml_tensor_free(in[i]);
    /* float16 in, float16 out, same values as float32 */
    const int64_t d[4] = {1, 1, 2, 2};
    uint16_t h[4] = {0x3C00, 0, 0, 0x3C00}; /* 1, 0, 0, 1 */
    ml_tensor *f[3] = {ml_test_tensor(ML_FLOAT16, 4, d, h), ml_test_tensor(ML_FLOAT16, 4, d, h),
                       ml_test_tensor(ML_FLOAT16, 4, d, h)};
    ml_tensor *y = ml_test_run1("Attention", 23, NULL, 0, 3, (const ml_tensor *const *)f);
    CHECK(y && y->dtype == ML_FLOAT16);
    ml_tensor_free(y);
    for (int i = 0; i < 3; i++) ml_tensor_free(f[i]);
}

static void test_affine_grid(void) {
    /* identity theta, 1x1x2x2, corners aligned: the grid is the corners */
    const int64_t td[3] = {1, 2, 3}, sd[1] = {4};
    const float th[] = {1, 0, 0, 0, 1, 0};
    const int64_t size[] = {1, 1, 2, 2};
    ml_tensor *in[2] = {ml_test_f32(3, td, th), ml_test_i64(1, sd, size)};
    ml_attr a = ml_test_attr_int("align_corners", 1);
    ml_tensor *g = ml_test_run1("AffineGrid", 20, &a, 1, 2, (const ml_tensor *const *)in);
    const float corners[] = {-1, -1, 1, -1, -1, 1, 1, 1};
    CHECK(g && ml_test_f32_are(g, corners, 8));
    ml_tensor_free(g);
    g = ml_test_run1("AffineGrid", 20, NULL, 0, 2, (const ml_tensor *const *)in);
    const float centres[] = {-0.5f, -0.5f, 0.5f, -0.5f, -0.5f, 0.5f, 0.5f, 0.5f};
    CHECK(g && ml_test_f32_are(g, centres, 8));
    ml_tensor_free(g);
    /* hostile sizes are refused before allocating */
    const int64_t huge[] = {1, 1, (int64_t)1 << 40, (int64_t)1 << 40};
    ml_tensor *in2[2] = {in[0], ml_test_i64(1, sd, huge)};
    ml_tensor *out = NULL;
    ml_status st =
        ml_test_run("", "AffineGrid", 20, NULL, 0, 2, (const ml_tensor *const *)in2, 1, &out);
    CHECK(st != NULL);
    ml_status_free(st);
    ml_tensor_free(out);
    ml_tensor_free(in2[1]);
    ml_tensor_free(in[0]);
    ml_tensor_free(in[1]);
}

int main(void) {
    RUN(test_rms_norm);
    RUN(test_rotary);
    RUN(test_attention_mask_padding_and_nonpad);
    RUN(test_attention_errors_and_f16);
    RUN(test_affine_grid);
    return TEST_SUMMARY();
}
