/* DFT / STFT / window / MelWeightMatrix edge cases: non-power-of-two
 * lengths (Bluestein path) against a naive DFT, inverse round trips,
 * onesided output, dft_length padding, double dtype, windows of size 1 and
 * argument checks. */
#include <math.h>
#include <stdlib.h>

#include "ops/harness.h"
#include "test.h"

/* Naive DFT of a real signal x[n] -> (re, im) pairs. */
static void naive_dft(const float *x, int n, int len, double *out) {
    for (int k = 0; k < len; k++) {
        double re = 0, im = 0;
        for (int t = 0; t < n; t++) {
            double a = -2 * M_PI * k * t / len;
            re += x[t] * cos(a), im += x[t] * sin(a);
        }
        out[2 * k] = re, out[2 * k + 1] = im;
    }
}

static void test_dft_odd_length_and_padding(void) {
    float x[] = {1, -2, 3.5f, 0.25f, 7, -1, 2}; /* n = 7: Bluestein */
    int64_t xd[] = {1, 7, 1};
    ml_tensor *in[1] = {ml_test_f32(3, xd, x)};
    ml_tensor *out = NULL;
    CHECK_OK(ml_test_run("", "DFT", 17, NULL, 0, 1, (const ml_tensor *const *)in, 1, &out));
    double want[2 * 12];
    naive_dft(x, 7, 7, want);
    CHECK(out && out->dims[1] == 7 && out->dims[2] == 2);
    for (int i = 0; out && i < 14; i++) CHECK_NEAR(((float *)out->data)[i], want[i], 1e-4);
    ml_tensor_free(out);
    /* dft_length 12 zero-pads (n = 12, not a power of two), onesided keeps 7 bins */
    int64_t len = 12;
    ml_tensor *in2[2] = {in[0], ml_test_i64(0, NULL, &len)};
    ml_attr attrs[] = {ml_test_attr_int("onesided", 1)};
    CHECK_OK(ml_test_run("", "DFT", 17, attrs, 1, 2, (const ml_tensor *const *)in2, 1, &out));
    naive_dft(x, 7, 12, want);
    CHECK(out && out->dims[1] == 7);
    for (int i = 0; out && i < 14; i++) CHECK_NEAR(((float *)out->data)[i], want[i], 1e-4);
    ml_tensor_free(out);
    ml_tensor_free(in2[1]);
    ml_tensor_free(in[0]);
}

static void test_dft_inverse_roundtrip_double(void) {
    double x[2 * 6] = {1, 0, 2, 1, -3, 0.5, 4, 0, 0, -2, 1, 1};
    int64_t xd[] = {1, 6, 2};
    ml_tensor *in[1] = {ml_test_tensor(ML_DOUBLE, 3, xd, x)};
    ml_tensor *fwd = NULL, *back = NULL;
    CHECK_OK(ml_test_run("", "DFT", 17, NULL, 0, 1, (const ml_tensor *const *)in, 1, &fwd));
    ml_attr inv[] = {ml_test_attr_int("inverse", 1)};
    if (fwd)
        CHECK_OK(ml_test_run("", "DFT", 17, inv, 1, 1, (const ml_tensor *const *)&fwd, 1, &back));
    CHECK(back && back->dtype == ML_DOUBLE);
    for (int i = 0; back && i < 12; i++) CHECK_NEAR(((double *)back->data)[i], x[i], 1e-12);
    ml_tensor_free(fwd), ml_tensor_free(back), ml_tensor_free(in[0]);
}

/* opset 20 moves axis to an input (default -2, the last signal axis) */
static void test_dft_opset20_axis_input(void) {
    float x[2 * 3]; /* [1, 2, 3, 1]: DFT along the length-3 axis (axis 2 == -2) */
    for (int i = 0; i < 6; i++) x[i] = (float)(i + 1);
    int64_t xd[] = {1, 2, 3, 1};
    ml_tensor *in[3] = {ml_test_f32(4, xd, x), NULL, NULL};
    ml_tensor *out = NULL;
    CHECK_OK(ml_test_run("", "DFT", 20, NULL, 0, 3, (const ml_tensor *const *)in, 1, &out));
    double want[2 * 3];
    naive_dft(x + 3, 3, 3, want); /* second row */
    CHECK(out && out->dims[1] == 2 && out->dims[2] == 3 && out->dims[3] == 2);
    for (int i = 0; out && i < 6; i++) CHECK_NEAR(((float *)out->data)[6 + i], want[i], 1e-5);
    ml_tensor_free(out);
    int64_t axis = 1;
    in[2] = ml_test_i64(0, NULL, &axis); /* now along the length-2 axis */
    CHECK_OK(ml_test_run("", "DFT", 20, NULL, 0, 3, (const ml_tensor *const *)in, 1, &out));
    CHECK(out && out->dims[1] == 2 && out->dims[2] == 3);
    if (out) { /* bin 0 of column 0 = x[0] + x[3]; bin 1 = x[0] - x[3] */
        CHECK_NEAR(((float *)out->data)[0], 1 + 4, 1e-5);
        CHECK_NEAR(((float *)out->data)[(1 * 3 + 0) * 2], 1 - 4, 1e-5);
    }
    ml_tensor_free(out);
    ((int64_t *)in[2]->data)[0] = 3; /* the component axis */
    CHECK_ERR(ml_test_run("", "DFT", 20, NULL, 0, 3, (const ml_tensor *const *)in, 1, &out),
              ML_ERR_INVALID_ARGUMENT);
    ml_tensor_free(in[2]);
    ml_tensor_free(in[0]);
}

static void test_dft_errors(void) {
    float x[6] = {0};
    int64_t xd[] = {1, 2, 3}; /* last dim 3 is neither real nor complex */
    ml_tensor *in[1] = {ml_test_f32(3, xd, x)};
    ml_tensor *out = NULL;
    CHECK_ERR(ml_test_run("", "DFT", 17, NULL, 0, 1, (const ml_tensor *const *)in, 1, &out),
              ML_ERR_INVALID_ARGUMENT);
    ml_tensor_free(in[0]);
    int64_t xd2[] = {1, 3, 1};
    in[0] = ml_test_f32(3, xd2, x);
    ml_attr axis[] = {ml_test_attr_int("axis", 2)}; /* the component axis is not a signal axis */
    CHECK_ERR(ml_test_run("", "DFT", 17, axis, 1, 1, (const ml_tensor *const *)in, 1, &out),
              ML_ERR_INVALID_ARGUMENT);
    int64_t zero = 0;
    ml_tensor *in2[2] = {in[0], ml_test_i64(0, NULL, &zero)};
    CHECK_ERR(ml_test_run("", "DFT", 17, NULL, 0, 2, (const ml_tensor *const *)in2, 1, &out),
              ML_ERR_INVALID_ARGUMENT);
    ml_tensor_free(in2[1]);
    ml_tensor_free(in[0]);
}

static void test_stft_frames_and_errors(void) {
    float s[10];
    for (int i = 0; i < 10; i++) s[i] = (float)i;
    int64_t sd[] = {1, 10, 1}, step = 3, fl = 4;
    ml_tensor *in[4] = {ml_test_f32(3, sd, s), ml_test_i64(0, NULL, &step), NULL,
                        ml_test_i64(0, NULL, &fl)};
    ml_tensor *out = NULL;
    CHECK_OK(ml_test_run("", "STFT", 17, NULL, 0, 4, (const ml_tensor *const *)in, 1, &out));
    /* frames = 1 + (10 - 4) / 3 = 3, onesided bins = 3; bin 0 of frame 1 = 3+4+5+6 */
    CHECK(out && out->dims[1] == 3 && out->dims[2] == 3);
    if (out) CHECK_NEAR(((float *)out->data)[(1 * 3 + 0) * 2], 18.0, 1e-4);
    ml_tensor_free(out);
    int64_t big = 11;
    ml_tensor *in2[4] = {in[0], in[1], NULL, ml_test_i64(0, NULL, &big)};
    CHECK_ERR(ml_test_run("", "STFT", 17, NULL, 0, 4, (const ml_tensor *const *)in2, 1, &out),
              ML_ERR_INVALID_ARGUMENT);
    ml_tensor_free(in2[3]);
    for (int i = 0; i < 4; i++) ml_tensor_free(in[i]);
}

static void test_windows(void) {
    int64_t size = 1;
    ml_tensor *in[1] = {ml_test_i64(0, NULL, &size)};
    ml_tensor *out = NULL;
    ml_attr sym[] = {ml_test_attr_int("periodic", 0),
                     ml_test_attr_int("output_datatype", ML_DOUBLE)};
    CHECK_OK(ml_test_run("", "HannWindow", 17, sym, 2, 1, (const ml_tensor *const *)in, 1, &out));
    CHECK(out && out->dtype == ML_DOUBLE && out->dims[0] == 1);
    if (out) CHECK_NEAR(((double *)out->data)[0], 1.0, 0); /* no 0/0 for a 1-point window */
    ml_tensor_free(out);
    ((int64_t *)in[0]->data)[0] = 4;
    CHECK_OK(
        ml_test_run("", "HammingWindow", 17, NULL, 0, 1, (const ml_tensor *const *)in, 1, &out));
    /* periodic Hamming, N = 4: 25/46 - 21/46 cos(pi n / 2) */
    double want[] = {4.0 / 46, 25.0 / 46, 46.0 / 46, 25.0 / 46};
    for (int i = 0; out && i < 4; i++) CHECK_NEAR(((float *)out->data)[i], want[i], 1e-6);
    ml_tensor_free(out);
    ((int64_t *)in[0]->data)[0] = -3;
    CHECK_ERR(
        ml_test_run("", "BlackmanWindow", 17, NULL, 0, 1, (const ml_tensor *const *)in, 1, &out),
        ML_ERR_INVALID_ARGUMENT);
    ml_tensor_free(in[0]);
}

static void test_mel_shape_and_errors(void) {
    int64_t mels = 4, dft = 16, rate = 8000;
    float lo = 0, hi = 4000;
    ml_tensor *in[5] = {ml_test_i64(0, NULL, &mels), ml_test_i64(0, NULL, &dft),
                        ml_test_i64(0, NULL, &rate), ml_test_f32(0, NULL, &lo),
                        ml_test_f32(0, NULL, &hi)};
    ml_tensor *out = NULL;
    CHECK_OK(
        ml_test_run("", "MelWeightMatrix", 17, NULL, 0, 5, (const ml_tensor *const *)in, 1, &out));
    CHECK(out && out->dims[0] == 9 && out->dims[1] == 4);
    for (size_t i = 0; out && i < ml_tensor_numel(out); i++) {
        float v = ((float *)out->data)[i];
        CHECK(v >= 0 && v <= 1);
    }
    ml_tensor_free(out);
    ((float *)in[4]->data)[0] = -1; /* upper edge below lower edge */
    CHECK_ERR(
        ml_test_run("", "MelWeightMatrix", 17, NULL, 0, 5, (const ml_tensor *const *)in, 1, &out),
        ML_ERR_INVALID_ARGUMENT);
    for (int i = 0; i < 5; i++) ml_tensor_free(in[i]);
}

int main(void) {
    RUN(test_dft_odd_length_and_padding);
    RUN(test_dft_inverse_roundtrip_double);
    RUN(test_dft_opset20_axis_input);
    RUN(test_dft_errors);
    RUN(test_stft_frames_and_errors);
    RUN(test_windows);
    RUN(test_mel_shape_and_errors);
    return TEST_SUMMARY();
}
