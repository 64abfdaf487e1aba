/* Resize / Upsample / GridSample / RoiAlign edge cases beyond the ONNX
 * suite: opset-18 axes and keep_aspect_ratio_policy, antialias, integer
 * dtypes, empty tensors, the deprecated Upsample attribute forms and the
 * argument checks. */
#include <stdlib.h>

#include "ops/harness.h"
#include "test.h"

static void check_f32(const ml_tensor *t, const float *want, size_t n, double tol) {
    CHECK(t != NULL);
    if (!t) return;
    CHECK_EQ_INT(ml_tensor_numel(t), n);
    for (size_t i = 0; i < n && i < ml_tensor_numel(t); i++)
        CHECK_NEAR(((const float *)t->data)[i], want[i], tol);
}

/* nearest on int64 keeps values exact (no float rounding of big ints) */
static void test_nearest_int64_exact(void) {
    int64_t x[] = {(int64_t)1 << 60, 3, -5, 7};
    int64_t xd[] = {2, 2}, sd[] = {2};
    float scales[] = {1.0f, 2.0f};
    ml_tensor *in[3] = {ml_test_tensor(ML_INT64, 2, xd, x), NULL, ml_test_f32(1, sd, scales)};
    ml_attr attrs[] = {ml_test_attr_string("mode", "nearest"),
                       ml_test_attr_string("coordinate_transformation_mode", "asymmetric")};
    ml_tensor *out = NULL;
    CHECK_OK(ml_test_run("", "Resize", 13, attrs, 2, 3, (const ml_tensor *const *)in, 1, &out));
    CHECK(out && out->dtype == ML_INT64 && out->dims[0] == 2 && out->dims[1] == 4);
    if (out) {
        const int64_t *y = out->data;
        CHECK(y[0] == ((int64_t)1 << 60) && y[1] == ((int64_t)1 << 60));
        CHECK_EQ_INT(y[2], 3);
        CHECK_EQ_INT(y[4], -5);
        CHECK_EQ_INT(y[7], 7);
    }
    ml_tensor_free(out);
    for (int i = 0; i < 3; i++) ml_tensor_free(in[i]);
}

/* cubic overshoot on uint8 saturates instead of wrapping around */
static void test_uint8_cubic_saturates(void) {
    uint8_t x[] = {0, 255, 0, 255, 0};
    int64_t xd[] = {5}, sd[] = {1};
    float scales[] = {3.0f};
    ml_tensor *in[3] = {ml_test_tensor(ML_UINT8, 1, xd, x), NULL, ml_test_f32(1, sd, scales)};
    ml_attr attrs[] = {ml_test_attr_string("mode", "cubic")};
    ml_tensor *out = NULL;
    CHECK_OK(ml_test_run("", "Resize", 13, attrs, 1, 3, (const ml_tensor *const *)in, 1, &out));
    CHECK(out && out->dtype == ML_UINT8 && out->dims[0] == 15);
    /* the edges undershoot to -28.3 (which would wrap to 228); inner values
     * truncate like the reference's astype */
    if (out) CHECK_EQ_INT(((uint8_t *)out->data)[0], 0);
    if (out) CHECK_EQ_INT(((uint8_t *)out->data)[14], 0);
    if (out) CHECK_EQ_INT(((uint8_t *)out->data)[2], 94);
    if (out) CHECK_EQ_INT(((uint8_t *)out->data)[4], 255);
    ml_tensor_free(out);
    for (int i = 0; i < 3; i++) ml_tensor_free(in[i]);
}

/* opset 18: sizes for axes {2,3} with not_larger keeps the aspect ratio */
static void test_axes_keep_aspect_ratio(void) {
    float x[2 * 4];
    for (int i = 0; i < 8; i++) x[i] = (float)i;
    int64_t xd[] = {1, 1, 2, 4}, sd[] = {2};
    int64_t sizes[] = {4, 4}; /* ratio min(4/2, 4/4) = 1 -> stays 2x4 */
    ml_tensor *in[4] = {ml_test_f32(4, xd, x), NULL, NULL, ml_test_i64(1, sd, sizes)};
    int64_t axes[] = {2, -1};
    ml_attr attrs[] = {ml_test_attr_ints("axes", axes, 2),
                       ml_test_attr_string("keep_aspect_ratio_policy", "not_larger"),
                       ml_test_attr_string("mode", "linear")};
    ml_tensor *out = NULL;
    CHECK_OK(ml_test_run("", "Resize", 18, attrs, 3, 4, (const ml_tensor *const *)in, 1, &out));
    CHECK(out && out->dims[2] == 2 && out->dims[3] == 4);
    check_f32(out, x, 8, 1e-6);
    ml_tensor_free(out);
    attrs[1] = ml_test_attr_string("keep_aspect_ratio_policy", "not_smaller"); /* ratio 2 */
    CHECK_OK(ml_test_run("", "Resize", 18, attrs, 3, 4, (const ml_tensor *const *)in, 1, &out));
    CHECK(out && out->dims[2] == 4 && out->dims[3] == 8);
    ml_tensor_free(out);
    attrs[1] = ml_test_attr_string("keep_aspect_ratio_policy", "bogus");
    CHECK_ERR(ml_test_run("", "Resize", 18, attrs, 3, 4, (const ml_tensor *const *)in, 1, &out),
              ML_ERR_INVALID_ARGUMENT);
    for (int i = 0; i < 4; i++) ml_tensor_free(in[i]);
}

/* antialias widens the linear filter to 1/scale taps (values worked out by
 * hand from the spec's filter, with edge padding) */
static void test_antialias_linear(void) {
    float x[] = {1, 2, 3, 4};
    int64_t xd[] = {1, 4}, sd[] = {2};
    float scales[] = {1.0f, 0.5f};
    ml_tensor *in[3] = {ml_test_f32(2, xd, x), NULL, ml_test_f32(1, sd, scales)};
    ml_attr attrs[] = {ml_test_attr_string("mode", "linear"), ml_test_attr_int("antialias", 1)};
    ml_tensor *out = NULL;
    CHECK_OK(ml_test_run("", "Resize", 18, attrs, 2, 3, (const ml_tensor *const *)in, 1, &out));
    float want[] = {1.625f, 3.375f};
    check_f32(out, want, 2, 1e-5);
    ml_tensor_free(out);
    /* without antialias: plain half_pixel linear samples at 0.5 and 2.5 */
    CHECK_OK(ml_test_run("", "Resize", 18, attrs, 1, 3, (const ml_tensor *const *)in, 1, &out));
    float plain[] = {1.5f, 3.5f};
    check_f32(out, plain, 2, 1e-5);
    ml_tensor_free(out);
    for (int i = 0; i < 3; i++) ml_tensor_free(in[i]);
}

static void test_tf_crop_extrapolation(void) {
    float x[] = {1, 2, 3, 4};
    int64_t xd[] = {1, 4}, rd[] = {4}, szd[] = {2};
    float roi[] = {0, -1, 1, 2}; /* columns from -1*(3) to 2*(3): mostly outside */
    int64_t sizes[] = {1, 3};
    ml_tensor *in[4] = {ml_test_f32(2, xd, x), ml_test_f32(1, rd, roi), NULL,
                        ml_test_i64(1, szd, sizes)};
    ml_attr attrs[] = {ml_test_attr_string("mode", "linear"),
                       ml_test_attr_string("coordinate_transformation_mode", "tf_crop_and_resize"),
                       ml_test_attr_float("extrapolation_value", -7.0f)};
    ml_tensor *out = NULL;
    CHECK_OK(ml_test_run("", "Resize", 13, attrs, 3, 4, (const ml_tensor *const *)in, 1, &out));
    /* x_orig = -3, 1.5, 6 -> extrapolate, interpolate, extrapolate */
    float want[] = {-7.0f, 2.5f, -7.0f};
    check_f32(out, want, 3, 1e-5);
    ml_tensor_free(out);
    for (int i = 0; i < 4; i++) ml_tensor_free(in[i]);
}

static void test_empty_and_errors(void) {
    int64_t xd[] = {0, 3}, sd[] = {2};
    float scales[] = {2.0f, 2.0f};
    ml_tensor *in[3] = {ml_test_f32(2, xd, NULL), NULL, ml_test_f32(1, sd, scales)};
    ml_tensor *out = NULL;
    CHECK_OK(ml_test_run("", "Resize", 13, NULL, 0, 3, (const ml_tensor *const *)in, 1, &out));
    CHECK(out && out->dims[0] == 0 && out->dims[1] == 6);
    ml_tensor_free(out);
    /* scales and sizes together */
    int64_t sizes[] = {2, 2};
    ml_tensor *in4[4] = {in[0], NULL, in[2], ml_test_i64(1, sd, sizes)};
    CHECK_ERR(ml_test_run("", "Resize", 13, NULL, 0, 4, (const ml_tensor *const *)in4, 1, &out),
              ML_ERR_INVALID_ARGUMENT);
    ml_tensor_free(in4[3]);
    /* wrong scales length, negative scale, bad mode */
    int64_t s3d[] = {3};
    float s3[] = {1, 1, 1}, neg[] = {1, -2};
    ml_tensor *bad_len[3] = {in[0], NULL, ml_test_f32(1, s3d, s3)};
    CHECK_ERR(ml_test_run("", "Resize", 13, NULL, 0, 3, (const ml_tensor *const *)bad_len, 1, &out),
              ML_ERR_INVALID_ARGUMENT);
    ml_tensor_free(bad_len[2]);
    ml_tensor *bad_neg[3] = {in[0], NULL, ml_test_f32(1, sd, neg)};
    CHECK_ERR(ml_test_run("", "Resize", 13, NULL, 0, 3, (const ml_tensor *const *)bad_neg, 1, &out),
              ML_ERR_INVALID_ARGUMENT);
    ml_tensor_free(bad_neg[2]);
    ml_attr mode[] = {ml_test_attr_string("mode", "lanczos")};
    CHECK_ERR(ml_test_run("", "Resize", 13, mode, 1, 3, (const ml_tensor *const *)in, 1, &out),
              ML_ERR_INVALID_ARGUMENT);
    for (int i = 0; i < 3; i++) ml_tensor_free(in[i]);
}

/* Upsample-7 takes scales as an attribute; nearest repeats values */
static void test_upsample_attr_scales(void) {
    float x[] = {1, 2, 3, 4};
    int64_t xd[] = {1, 1, 2, 2};
    float scales[] = {1, 1, 2, 3};
    ml_tensor *in[1] = {ml_test_f32(4, xd, x)};
    ml_attr attrs[] = {ml_test_attr_floats("scales", scales, 4)};
    ml_tensor *out = NULL;
    CHECK_OK(ml_test_run("", "Upsample", 7, attrs, 1, 1, (const ml_tensor *const *)in, 1, &out));
    CHECK(out && out->dims[2] == 4 && out->dims[3] == 6);
    float want_row0[] = {1, 1, 1, 2, 2, 2};
    for (int i = 0; out && i < 6; i++) CHECK_NEAR(((float *)out->data)[i], want_row0[i], 0);
    if (out) CHECK_NEAR(((float *)out->data)[23], 4.0f, 0);
    ml_tensor_free(out);
    float down[] = {1, 1, 0.5f, 1};
    attrs[0] = ml_test_attr_floats("scales", down, 4);
    CHECK_ERR(ml_test_run("", "Upsample", 7, attrs, 1, 1, (const ml_tensor *const *)in, 1, &out),
              ML_ERR_INVALID_ARGUMENT);
    ml_tensor_free(in[0]);
}

/* GridSample: the centre of a 2x2 image is the mean of its pixels; samples
 * far outside are 0 with zeros padding and the corner with border padding. */
static void test_gridsample_padding(void) {
    float x[] = {1, 2, 3, 4};
    float grid[] = {0, 0, 5, 5};
    int64_t xd[] = {1, 1, 2, 2}, gd[] = {1, 1, 2, 2};
    ml_tensor *in[2] = {ml_test_f32(4, xd, x), ml_test_f32(4, gd, grid)};
    ml_tensor *out = NULL;
    CHECK_OK(ml_test_run("", "GridSample", 16, NULL, 0, 2, (const ml_tensor *const *)in, 1, &out));
    float want_zero[] = {2.5f, 0.0f};
    check_f32(out, want_zero, 2, 1e-6);
    ml_tensor_free(out);
    ml_attr border[] = {ml_test_attr_string("padding_mode", "border")};
    CHECK_OK(
        ml_test_run("", "GridSample", 16, border, 1, 2, (const ml_tensor *const *)in, 1, &out));
    float want_border[] = {2.5f, 4.0f};
    check_f32(out, want_border, 2, 1e-6);
    ml_tensor_free(out);
    ml_attr bad[] = {ml_test_attr_string("padding_mode", "wrap")};
    CHECK_ERR(ml_test_run("", "GridSample", 16, bad, 1, 2, (const ml_tensor *const *)in, 1, &out),
              ML_ERR_INVALID_ARGUMENT);
    for (int i = 0; i < 2; i++) ml_tensor_free(in[i]);
}

/* opset 20 GridSample on a volume: the grid's last axis is (x, y, z), so
 * sampling the corner (-1,-1,1) with align_corners reads X[.., z=1, y=0, x=0] */
static void test_gridsample_3d(void) {
    float x[8];
    for (int i = 0; i < 8; i++) x[i] = (float)i; /* value = z*4 + y*2 + x */
    float grid[] = {-1, -1, 1, 0, 0, 0};
    int64_t xd[] = {1, 1, 2, 2, 2}, gd[] = {1, 1, 1, 2, 3};
    ml_tensor *in[2] = {ml_test_f32(5, xd, x), ml_test_f32(5, gd, grid)};
    ml_attr attrs[] = {ml_test_attr_string("mode", "linear"), ml_test_attr_int("align_corners", 1)};
    ml_tensor *out = NULL;
    CHECK_OK(ml_test_run("", "GridSample", 20, attrs, 2, 2, (const ml_tensor *const *)in, 1, &out));
    CHECK(out && out->rank == 5 && out->dims[4] == 2);
    float want[] = {4.0f, 3.5f}; /* corner, then the centre = mean of all 8 */
    check_f32(out, want, 2, 1e-6);
    ml_tensor_free(out);
    /* grid whose last axis does not match the spatial rank */
    int64_t bad_gd[] = {1, 1, 1, 3, 2};
    ml_tensor *bad[2] = {in[0], ml_test_f32(5, bad_gd, grid)};
    CHECK_ERR(
        ml_test_run("", "GridSample", 20, attrs, 2, 2, (const ml_tensor *const *)bad, 1, &out),
        ML_ERR_INVALID_ARGUMENT);
    ml_tensor_free(bad[1]);
    for (int i = 0; i < 2; i++) ml_tensor_free(in[i]);
}

/* RoiAlign rejects batch indices outside the input (hostile input) */
static void test_roialign_bad_batch_index(void) {
    float x[16] = {0}, rois[] = {0, 0, 1, 1};
    int64_t bi[] = {3};
    int64_t xd[] = {1, 1, 4, 4}, rd[] = {1, 4}, bd[] = {1};
    ml_tensor *in[3] = {ml_test_f32(4, xd, x), ml_test_f32(2, rd, rois), ml_test_i64(1, bd, bi)};
    ml_tensor *out = NULL;
    CHECK_ERR(ml_test_run("", "RoiAlign", 16, NULL, 0, 3, (const ml_tensor *const *)in, 1, &out),
              ML_ERR_INVALID_ARGUMENT);
    /* a valid index on a constant image averages to that constant */
    for (int i = 0; i < 16; i++) ((float *)in[0]->data)[i] = 3.0f;
    ((int64_t *)in[2]->data)[0] = 0;
    ml_attr attrs[] = {ml_test_attr_int("output_height", 2), ml_test_attr_int("output_width", 2)};
    CHECK_OK(ml_test_run("", "RoiAlign", 16, attrs, 2, 3, (const ml_tensor *const *)in, 1, &out));
    float want[] = {3, 3, 3, 3};
    check_f32(out, want, 4, 1e-6);
    ml_tensor_free(out);
    for (int i = 0; i < 3; i++) ml_tensor_free(in[i]);
}

int main(void) {
    RUN(test_nearest_int64_exact);
    RUN(test_uint8_cubic_saturates);
    RUN(test_axes_keep_aspect_ratio);
    RUN(test_antialias_linear);
    RUN(test_tf_crop_extrapolation);
    RUN(test_empty_and_errors);
    RUN(test_upsample_attr_scales);
    RUN(test_gridsample_padding);
    RUN(test_gridsample_3d);
    RUN(test_roialign_bad_batch_index);
    return TEST_SUMMARY();
}
