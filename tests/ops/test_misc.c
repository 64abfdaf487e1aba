/* misc family edge cases: NonMaxSuppression limits and thresholds,
 * TfIdfVectorizer on strings and in IDF/TFIDF modes, losses rejecting
 * out-of-range targets, the training optimizers on hand-computed values,
 * and MaxRoiPool. */
#include <math.h>
#include <stdlib.h>

#include "ops/harness.h"
#include "test.h"

static void test_nms_thresholds(void) {
    /* three boxes: 0 and 1 overlap heavily (IoU 0.81), 2 is apart */
    float boxes[] = {0, 0, 1, 1, 0, 0, 0.9f, 0.9f, 5, 5, 6, 6};
    float scores[] = {0.9f, 0.8f, 0.3f};
    int64_t bd[] = {1, 3, 4}, sd[] = {1, 1, 3};
    int64_t max_out = 10;
    float iou = 0.5f, score_thr = 0.35f;
    ml_tensor *in[5] = {ml_test_f32(3, bd, boxes), ml_test_f32(3, sd, scores),
                        ml_test_i64(0, NULL, &max_out), ml_test_f32(0, NULL, &iou),
                        ml_test_f32(0, NULL, &score_thr)};
    ml_tensor *out = NULL;
    CHECK_OK(ml_test_run("", "NonMaxSuppression", 11, NULL, 0, 5, (const ml_tensor *const *)in, 1,
                         &out));
    CHECK(out && out->dims[0] == 1 && out->dims[1] == 3); /* 1 suppressed, 2 below threshold */
    if (out) CHECK_EQ_INT(((int64_t *)out->data)[2], 0);
    ml_tensor_free(out);
    /* without the score threshold both 0 and 2 are kept, in score order */
    CHECK_OK(ml_test_run("", "NonMaxSuppression", 11, NULL, 0, 4, (const ml_tensor *const *)in, 1,
                         &out));
    CHECK(out && out->dims[0] == 2);
    if (out) CHECK_EQ_INT(((int64_t *)out->data)[5], 2);
    ml_tensor_free(out);
    /* max_output_boxes_per_class omitted -> 0 -> empty result */
    CHECK_OK(ml_test_run("", "NonMaxSuppression", 11, NULL, 0, 2, (const ml_tensor *const *)in, 1,
                         &out));
    CHECK(out && out->dims[0] == 0 && out->dims[1] == 3);
    ml_tensor_free(out);
    /* scores with the wrong box count */
    int64_t bad_sd[] = {1, 1, 2};
    ml_tensor *bad[2] = {in[0], ml_test_f32(3, bad_sd, scores)};
    CHECK_ERR(ml_test_run("", "NonMaxSuppression", 11, NULL, 0, 2, (const ml_tensor *const *)bad, 1,
                          &out),
              ML_ERR_INVALID_ARGUMENT);
    ml_tensor_free(bad[1]);
    for (int i = 0; i < 5; i++) ml_tensor_free(in[i]);
}

static void test_tfidf_strings_idf(void) {
    /* pool: unigrams "a", "b"; bigram ("a","b") */
    ml_str pool[] = {{"a", 1}, {"b", 1}, {"a", 1}, {"b", 1}};
    int64_t counts[] = {0, 2}, idx[] = {0, 1, 2};
    float weights[] = {0.5f, 2.0f, 3.0f};
    ml_attr attrs[] = {{.name = "pool_strings", .type = ML_ATTR_STRINGS, .strings = pool, .n = 4},
                       ml_test_attr_ints("ngram_counts", counts, 2),
                       ml_test_attr_ints("ngram_indexes", idx, 3),
                       ml_test_attr_floats("weights", weights, 3),
                       ml_test_attr_int("min_gram_length", 1),
                       ml_test_attr_int("max_gram_length", 2),
                       ml_test_attr_int("max_skip_count", 1),
                       ml_test_attr_string("mode", "TFIDF")};
    const char *toks[] = {"a", "b", "a", "c", "b", "zz"};
    int64_t d[] = {2, 3};
    ml_tensor *x = ml_test_strings(2, d, toks);
    ml_tensor *out = NULL;
    CHECK_OK(
        ml_test_run("", "TfIdfVectorizer", 9, attrs, 8, 1, (const ml_tensor *const *)&x, 1, &out));
    /* row 0 "a b a": a x2, b x1, (a,b) once (skip 0; skip 1 pairs a-a);
     * row 1 "c b zz": b x1 */
    float want[] = {2 * 0.5f, 1 * 2.0f, 1 * 3.0f, 0, 2.0f, 0};
    CHECK(out && out->dims[0] == 2 && out->dims[1] == 3);
    for (int i = 0; out && i < 6; i++) CHECK_NEAR(((float *)out->data)[i], want[i], 1e-6);
    ml_tensor_free(out);
    attrs[7] = ml_test_attr_string("mode", "IDF");
    CHECK_OK(
        ml_test_run("", "TfIdfVectorizer", 9, attrs, 8, 1, (const ml_tensor *const *)&x, 1, &out));
    float want_idf[] = {0.5f, 2.0f, 3.0f, 0, 2.0f, 0};
    for (int i = 0; out && i < 6; i++) CHECK_NEAR(((float *)out->data)[i], want_idf[i], 1e-6);
    ml_tensor_free(out);
    /* an int input against a string pool is rejected */
    int64_t ints[] = {1, 2};
    int64_t d1[] = {2};
    ml_tensor *xi = ml_test_i64(1, d1, ints);
    CHECK_ERR(
        ml_test_run("", "TfIdfVectorizer", 9, attrs, 8, 1, (const ml_tensor *const *)&xi, 1, &out),
        ML_ERR_INVALID_ARGUMENT);
    /* ngram_indexes count must match the pool */
    attrs[2] = ml_test_attr_ints("ngram_indexes", idx, 2);
    CHECK_ERR(
        ml_test_run("", "TfIdfVectorizer", 9, attrs, 8, 1, (const ml_tensor *const *)&x, 1, &out),
        ML_ERR_INVALID_ARGUMENT);
    ml_tensor_free(xi), ml_tensor_free(x);
}

/* weights[i] belongs to the i-th pool n-gram, wherever ngram_indexes[i]
 * puts its count (onnxruntime's reading; checked against it) */
static void test_tfidf_weights_follow_pool_order(void) {
    int64_t pool[] = {7, 8, 9}, counts[] = {0}, idx[] = {2, 0, 1};
    float weights[] = {10, 20, 30};
    ml_attr attrs[] = {
        ml_test_attr_ints("pool_int64s", pool, 3),  ml_test_attr_ints("ngram_counts", counts, 1),
        ml_test_attr_ints("ngram_indexes", idx, 3), ml_test_attr_floats("weights", weights, 3),
        ml_test_attr_int("min_gram_length", 1),     ml_test_attr_int("max_gram_length", 1),
        ml_test_attr_int("max_skip_count", 0),      ml_test_attr_string("mode", "TFIDF")};
    int64_t toks[] = {7, 9, 9}, d[] = {3};
    ml_tensor *x = ml_test_i64(1, d, toks);
    ml_tensor *out = NULL;
    CHECK_OK(
        ml_test_run("", "TfIdfVectorizer", 9, attrs, 8, 1, (const ml_tensor *const *)&x, 1, &out));
    /* 7 (n-gram 0, weight 10) -> column 2; 9 twice (n-gram 2, weight 30) -> column 1 */
    float want[] = {0, 60, 10};
    CHECK(out && out->rank == 1 && out->dims[0] == 3);
    for (int i = 0; out && i < 3; i++) CHECK_NEAR(((float *)out->data)[i], want[i], 1e-6);
    ml_tensor_free(out);
    ml_tensor_free(x);
}

static void test_losses(void) {
    float lp[] = {-1, -2, -3, -0.5f, -0.25f, -4};
    int64_t xd[] = {2, 3}, td[] = {2};
    int64_t target[] = {2, 0};
    ml_tensor *in[2] = {ml_test_f32(2, xd, lp), ml_test_i64(1, td, target)};
    ml_tensor *out = NULL;
    CHECK_OK(ml_test_run("", "NegativeLogLikelihoodLoss", 13, NULL, 0, 2,
                         (const ml_tensor *const *)in, 1, &out));
    if (out) CHECK_NEAR(((float *)out->data)[0], (3 + 0.5) / 2, 1e-6);
    ml_tensor_free(out);
    ((int64_t *)in[1]->data)[1] = 3; /* class index out of range */
    CHECK_ERR(ml_test_run("", "NegativeLogLikelihoodLoss", 13, NULL, 0, 2,
                          (const ml_tensor *const *)in, 1, &out),
              ML_ERR_INVALID_ARGUMENT);
    /* ... unless it is the ignore_index */
    ml_attr ii[] = {ml_test_attr_int("ignore_index", 3), ml_test_attr_string("reduction", "sum")};
    CHECK_OK(ml_test_run("", "NegativeLogLikelihoodLoss", 13, ii, 2, 2,
                         (const ml_tensor *const *)in, 1, &out));
    if (out) CHECK_NEAR(((float *)out->data)[0], 3.0, 1e-6);
    ml_tensor_free(out);
    /* SoftmaxCrossEntropyLoss: uniform scores give log(C) per sample */
    float sc[] = {1, 1, 1, 1, 1, 1};
    ml_tensor *in2[2] = {ml_test_f32(2, xd, sc), in[1]};
    ((int64_t *)in[1]->data)[1] = 1;
    ml_attr none[] = {ml_test_attr_string("reduction", "none")};
    ml_tensor *outs[2] = {0};
    CHECK_OK(ml_test_run("", "SoftmaxCrossEntropyLoss", 13, none, 1, 2,
                         (const ml_tensor *const *)in2, 2, outs));
    CHECK(outs[0] && outs[0]->dims[0] == 2);
    for (int i = 0; outs[0] && i < 2; i++) CHECK_NEAR(((float *)outs[0]->data)[i], log(3.0), 1e-6);
    for (int i = 0; outs[1] && i < 6; i++) CHECK_NEAR(((float *)outs[1]->data)[i], -log(3.0), 1e-6);
    ml_tensor_free(outs[0]), ml_tensor_free(outs[1]);
    /* target rank must be input rank - 1 */
    ml_tensor *bad[2] = {in2[0], in2[0]};
    CHECK_ERR(ml_test_run("", "SoftmaxCrossEntropyLoss", 13, NULL, 0, 2,
                          (const ml_tensor *const *)bad, 1, &out),
              ML_ERR_INVALID_ARGUMENT);
    ml_tensor_free(in2[0]);
    for (int i = 0; i < 2; i++) ml_tensor_free(in[i]);
}

static void test_training_ops(void) {
    float r = 0.1f, x = 1.0f, g = 0.5f, v = 0.2f;
    int64_t t = 3;
    ml_tensor *in[5] = {ml_test_f32(0, NULL, &r), ml_test_i64(0, NULL, &t),
                        ml_test_f32(0, NULL, &x), ml_test_f32(0, NULL, &g),
                        ml_test_f32(0, NULL, &v)};
    ml_attr attrs[] = {ml_test_attr_float("alpha", 0.9f), ml_test_attr_float("beta", 1.0f),
                       ml_test_attr_float("norm_coefficient", 0.0f),
                       ml_test_attr_string("mode", "nesterov")};
    ml_tensor *out[2] = {0};
    CHECK_OK(ml_test_run("ai.onnx.preview.training", "Momentum", 1, attrs, 4, 5,
                         (const ml_tensor *const *)in, 2, out));
    /* v' = 0.9*0.2 + 0.5 = 0.68; x' = 1 - 0.1*(0.5 + 0.9*0.68) = 0.8888 */
    if (out[1]) CHECK_NEAR(((float *)out[1]->data)[0], 0.68, 1e-6);
    if (out[0]) CHECK_NEAR(((float *)out[0]->data)[0], 0.8888, 1e-6);
    ml_tensor_free(out[0]), ml_tensor_free(out[1]);
    /* Adagrad: h' = 0.2 + 0.25 = 0.45; x' = 1 - 0.1 * 0.5 / (sqrt(0.45) + 1e-6) */
    ml_tensor *out2[2] = {0};
    CHECK_OK(ml_test_run("ai.onnx.preview.training", "Adagrad", 1, NULL, 0, 5,
                         (const ml_tensor *const *)in, 2, out2));
    if (out2[1]) CHECK_NEAR(((float *)out2[1]->data)[0], 0.45, 1e-6);
    if (out2[0]) CHECK_NEAR(((float *)out2[0]->data)[0], 1 - 0.05 / (sqrt(0.45) + 1e-6), 1e-6);
    ml_tensor_free(out2[0]), ml_tensor_free(out2[1]);
    /* Adam needs 4 groups: 5 inputs (3 tensors) do not split into groups of 4 */
    ml_tensor *out3[3] = {0};
    CHECK_ERR(ml_test_run("ai.onnx.preview.training", "Adam", 1, NULL, 0, 5,
                          (const ml_tensor *const *)in, 3, out3),
              ML_ERR_INVALID_ARGUMENT);
    attrs[3] = ml_test_attr_string("mode", "heavy-ball");
    CHECK_ERR(ml_test_run("ai.onnx.preview.training", "Momentum", 1, attrs, 4, 5,
                          (const ml_tensor *const *)in, 2, out),
              ML_ERR_INVALID_ARGUMENT);
    for (int i = 0; i < 5; i++) ml_tensor_free(in[i]);
}

static void test_max_roi_pool(void) {
    float x[16];
    for (int i = 0; i < 16; i++) x[i] = (float)i;
    float rois[] = {0, 0, 0, 3, 3, /* bad batch */ 2, 0, 0, 1, 1};
    int64_t xd[] = {1, 1, 4, 4}, rd[] = {1, 5}, ps[] = {2, 2};
    ml_tensor *in[2] = {ml_test_f32(4, xd, x), ml_test_f32(2, rd, rois)};
    ml_attr attrs[] = {ml_test_attr_ints("pooled_shape", ps, 2)};
    ml_tensor *out = NULL;
    CHECK_OK(ml_test_run("", "MaxRoiPool", 1, attrs, 1, 2, (const ml_tensor *const *)in, 1, &out));
    float want[] = {5, 7, 13, 15};
    for (int i = 0; out && i < 4; i++) CHECK_NEAR(((float *)out->data)[i], want[i], 0);
    ml_tensor_free(out);
    ml_tensor_free(in[1]);
    in[1] = ml_test_f32(2, rd, rois + 5);
    CHECK_ERR(ml_test_run("", "MaxRoiPool", 1, attrs, 1, 2, (const ml_tensor *const *)in, 1, &out),
              ML_ERR_INVALID_ARGUMENT);
    for (int i = 0; i < 2; i++) ml_tensor_free(in[i]);
}

int main(void) {
    RUN(test_nms_thresholds);
    RUN(test_tfidf_strings_idf);
    RUN(test_tfidf_weights_follow_pool_order);
    RUN(test_losses);
    RUN(test_training_ops);
    RUN(test_max_roi_pool);
    return TEST_SUMMARY();
}
