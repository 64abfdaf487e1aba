/* RNN / GRU / LSTM edge cases the ONNX suite misses: bidirectional runs
 * with sequence_lens (reverse direction starts at each entry's own end),
 * linear_before_reset, input_forget, clip, custom activations, layout 1,
 * empty batches and invalid shapes. Expected values come from a naive
 * scalar reference written straight from the ONNX equations. */
#include <math.h>
#include <stdlib.h>

#include "ops/harness.h"
#include "test.h"

static float sigm(float x) {
    return 1.0f / (1.0f + expf(-x));
}

/* deterministic pseudo-random fill in [-0.5, 0.5) */
static void fill(float *p, size_t n, unsigned seed) {
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        p[i] = (float)((seed >> 8) & 0xffff) / 65536.0f - 0.5f;
    }
}

enum { S = 4, B = 3, I = 2, H = 3 };

/* Reference LSTM (one direction d of W/R/B/P packed for 2 dirs). */
static void ref_lstm(const float *x, const float *w, const float *r, const float *bias,
                     const float *p, const int64_t *lens, int d, bool reverse, bool input_forget,
                     float clip, float *y, float *yh, float *yc) {
    const float *W = w + d * 4 * H * I, *R = r + d * 4 * H * H, *Wb = bias + d * 8 * H;
    const float *Rb = Wb + 4 * H, *P = p + d * 3 * H;
    for (int b = 0; b < B; b++) {
        float h[H] = {0}, c[H] = {0};
        for (int s = 0; s < lens[b]; s++) {
            int t = reverse ? (int)lens[b] - 1 - s : s;
            float g[4][H];
            for (int k = 0; k < 4; k++)
                for (int j = 0; j < H; j++) {
                    float acc = Wb[k * H + j] + Rb[k * H + j];
                    for (int q = 0; q < I; q++)
                        acc += x[(t * B + b) * I + q] * W[(k * H + j) * I + q];
                    for (int q = 0; q < H; q++) acc += h[q] * R[(k * H + j) * H + q];
                    g[k][j] = acc;
                }
            float cn[H];
            for (int j = 0; j < H; j++) {
                float cl = clip > 0 ? clip : INFINITY;
                float gi = fminf(fmaxf(g[0][j] + P[j] * c[j], -cl), cl);
                float gf = fminf(fmaxf(g[2][j] + P[2 * H + j] * c[j], -cl), cl);
                float gc = fminf(fmaxf(g[3][j], -cl), cl);
                float it = sigm(gi), ft = input_forget ? 1 - it : sigm(gf);
                cn[j] = ft * c[j] + it * tanhf(gc);
            }
            for (int j = 0; j < H; j++) {
                float cl = clip > 0 ? clip : INFINITY;
                float ot = sigm(fminf(fmaxf(g[1][j] + P[H + j] * cn[j], -cl), cl));
                c[j] = cn[j];
                h[j] = ot * tanhf(cn[j]);
                y[((t * 2 + d) * B + b) * H + j] = h[j];
            }
        }
        for (int j = 0; j < H; j++) yh[(d * B + b) * H + j] = h[j], yc[(d * B + b) * H + j] = c[j];
    }
}

static void check_all(const ml_tensor *t, const float *want, size_t n, double tol) {
    CHECK(t != NULL);
    if (!t) return;
    CHECK_EQ_INT(ml_tensor_numel(t), n);
    const float *g = t->data;
    for (size_t i = 0; i < n && i < ml_tensor_numel(t); i++) CHECK_NEAR(g[i], want[i], tol);
}

static void run_lstm_case(bool input_forget, float clip) {
    float x[S * B * I], w[2 * 4 * H * I], r[2 * 4 * H * H], bias[2 * 8 * H], p[2 * 3 * H];
    fill(x, sizeof x / 4, 1), fill(w, sizeof w / 4, 2), fill(r, sizeof r / 4, 3);
    fill(bias, sizeof bias / 4, 4), fill(p, sizeof p / 4, 5);
    int32_t lens32[B] = {4, 2, 0};
    int64_t lens[B] = {4, 2, 0};
    float y[S * 2 * B * H] = {0}, yh[2 * B * H], yc[2 * B * H];
    ref_lstm(x, w, r, bias, p, lens, 0, false, input_forget, clip, y, yh, yc);
    ref_lstm(x, w, r, bias, p, lens, 1, true, input_forget, clip, y, yh, yc);

    int64_t xd[] = {S, B, I}, wd[] = {2, 4 * H, I}, rd[] = {2, 4 * H, H}, bd[] = {2, 8 * H};
    int64_t ld[] = {B}, pd[] = {2, 3 * H};
    ml_tensor *in[8] = {ml_test_f32(3, xd, x),
                        ml_test_f32(3, wd, w),
                        ml_test_f32(3, rd, r),
                        ml_test_f32(2, bd, bias),
                        ml_test_tensor(ML_INT32, 1, ld, lens32),
                        NULL,
                        NULL,
                        ml_test_f32(2, pd, p)};
    ml_attr attrs[] = {
        ml_test_attr_string("direction", "bidirectional"), ml_test_attr_int("hidden_size", H),
        ml_test_attr_int("input_forget", input_forget), ml_test_attr_float("clip", clip)};
    ml_tensor *out[3] = {0};
    CHECK_OK(ml_test_run("", "LSTM", 14, attrs, clip > 0 ? 4 : 3, 8, (const ml_tensor *const *)in,
                         3, out));
    check_all(out[0], y, sizeof y / 4, 1e-5);
    check_all(out[1], yh, sizeof yh / 4, 1e-5);
    check_all(out[2], yc, sizeof yc / 4, 1e-5);
    for (int i = 0; i < 8; i++) ml_tensor_free(in[i]);
    for (int i = 0; i < 3; i++) ml_tensor_free(out[i]);
}

static void test_lstm_bidirectional_seq_lens(void) {
    run_lstm_case(false, 0);
}
static void test_lstm_input_forget_clip(void) {
    run_lstm_case(true, 0.3f);
}

/* GRU with linear_before_reset against the reference equations. */
static void test_gru_linear_before_reset(void) {
    float x[S * 1 * I], w[3 * H * I], r[3 * H * H], bias[6 * H], h0[H];
    fill(x, sizeof x / 4, 7), fill(w, sizeof w / 4, 8), fill(r, sizeof r / 4, 9);
    fill(bias, sizeof bias / 4, 10), fill(h0, H, 11);
    float h[H], want_y[S * H];
    for (int j = 0; j < H; j++) h[j] = h0[j];
    for (int t = 0; t < S; t++) {
        float g[3][H], rh[H];
        for (int k = 0; k < 3; k++)
            for (int j = 0; j < H; j++) {
                float acc = bias[k * H + j];
                for (int q = 0; q < I; q++) acc += x[t * I + q] * w[(k * H + j) * I + q];
                float rec = 0;
                for (int q = 0; q < H; q++) rec += h[q] * r[(k * H + j) * H + q];
                if (k < 2)
                    acc += rec + bias[3 * H + k * H + j];
                else
                    rh[j] = rec + bias[3 * H + 2 * H + j];
                g[k][j] = acc;
            }
        for (int j = 0; j < H; j++) {
            float z = sigm(g[0][j]), rr = sigm(g[1][j]);
            float hh = tanhf(g[2][j] + rr * rh[j]);
            h[j] = (1 - z) * hh + z * h[j];
            want_y[t * H + j] = h[j];
        }
    }
    int64_t xd[] = {S, 1, I}, wd[] = {1, 3 * H, I}, rd[] = {1, 3 * H, H}, bd[] = {1, 6 * H};
    int64_t hd[] = {1, 1, H};
    ml_tensor *in[6] = {ml_test_f32(3, xd, x),
                        ml_test_f32(3, wd, w),
                        ml_test_f32(3, rd, r),
                        ml_test_f32(2, bd, bias),
                        NULL,
                        ml_test_f32(3, hd, h0)};
    ml_attr attrs[] = {ml_test_attr_int("hidden_size", H),
                       ml_test_attr_int("linear_before_reset", 1)};
    ml_tensor *out[2] = {0};
    CHECK_OK(ml_test_run("", "GRU", 14, attrs, 2, 6, (const ml_tensor *const *)in, 2, out));
    check_all(out[0], want_y, S * H, 1e-5);
    check_all(out[1], want_y + (S - 1) * H, H, 1e-5);
    for (int i = 0; i < 6; i++) ml_tensor_free(in[i]);
    for (int i = 0; i < 2; i++) ml_tensor_free(out[i]);
}

/* RNN with LeakyRelu(alpha) and layout 1: hand-computable 1-unit case. */
static void test_rnn_activation_alpha_layout1(void) {
    /* X [batch=2, seq=2, in=1], W = 1, R = 0.5, no bias: h_t = f(x_t + 0.5 h) */
    float x[] = {1, -2, -1, 4};
    float w[] = {1}, r[] = {0.5f};
    int64_t xd[] = {2, 2, 1}, wd[] = {1, 1, 1};
    ml_tensor *in[3] = {ml_test_f32(3, xd, x), ml_test_f32(3, wd, w), ml_test_f32(3, wd, r)};
    ml_str acts[] = {{"LeakyRelu", 9}};
    float alpha[] = {0.1f};
    ml_attr attrs[] = {ml_test_attr_int("hidden_size", 1),
                       ml_test_attr_int("layout", 1),
                       {.name = "activations", .type = ML_ATTR_STRINGS, .strings = acts, .n = 1},
                       ml_test_attr_floats("activation_alpha", alpha, 1)};
    ml_tensor *out[2] = {0};
    CHECK_OK(ml_test_run("", "RNN", 14, attrs, 4, 3, (const ml_tensor *const *)in, 2, out));
    /* batch 0: h1 = 1, h2 = leaky(-2 + 0.5) = -0.15; batch 1: h1 = -0.1, h2 = 4 - 0.05 */
    float want_y[] = {1, -0.15f, -0.1f, 3.95f}; /* [batch, seq, dirs, hidden] */
    check_all(out[0], want_y, 4, 1e-6);
    CHECK(out[0] && out[0]->rank == 4 && out[0]->dims[0] == 2 && out[0]->dims[1] == 2);
    float want_h[] = {-0.15f, 3.95f};
    check_all(out[1], want_h, 2, 1e-6);
    CHECK(out[1] && out[1]->dims[0] == 2 && out[1]->dims[1] == 1);
    for (int i = 0; i < 3; i++) ml_tensor_free(in[i]);
    for (int i = 0; i < 2; i++) ml_tensor_free(out[i]);
}

static void test_empty_batch_and_errors(void) {
    int64_t xd[] = {3, 0, 2}, wd[] = {1, 4, 2}, rd[] = {1, 4, 1};
    float w[8] = {0}, r[4] = {0};
    ml_tensor *in[3] = {ml_test_f32(3, xd, NULL), ml_test_f32(3, wd, w), ml_test_f32(3, rd, r)};
    ml_attr attrs[] = {ml_test_attr_int("hidden_size", 1)};
    ml_tensor *out[3] = {0};
    CHECK_OK(ml_test_run("", "LSTM", 14, attrs, 1, 3, (const ml_tensor *const *)in, 3, out));
    CHECK(out[0] && out[0]->dims[2] == 0 && ml_tensor_numel(out[0]) == 0);
    for (int i = 0; i < 3; i++) ml_tensor_free(out[i]);

    /* hidden_size disagreeing with R */
    ml_attr bad[] = {ml_test_attr_int("hidden_size", 2)};
    CHECK_ERR(ml_test_run("", "LSTM", 14, bad, 1, 3, (const ml_tensor *const *)in, 3, out),
              ML_ERR_INVALID_ARGUMENT);
    /* W with the wrong gate count for GRU (needs 3*hidden rows) */
    CHECK_ERR(ml_test_run("", "GRU", 14, attrs, 1, 3, (const ml_tensor *const *)in, 2, out),
              ML_ERR_INVALID_ARGUMENT);
    for (int i = 0; i < 3; i++) ml_tensor_free(in[i]);

    /* sequence_lens beyond seq_length */
    int64_t xd2[] = {2, 1, 1}, w1d[] = {1, 1, 1}, ld[] = {1};
    float x2[] = {1, 2}, one[] = {1};
    int32_t lens[] = {3};
    ml_tensor *in2[5] = {ml_test_f32(3, xd2, x2), ml_test_f32(3, w1d, one),
                         ml_test_f32(3, w1d, one), NULL, ml_test_tensor(ML_INT32, 1, ld, lens)};
    CHECK_ERR(ml_test_run("", "RNN", 14, attrs, 1, 5, (const ml_tensor *const *)in2, 2, out),
              ML_ERR_INVALID_ARGUMENT);
    /* unknown activation */
    ml_str acts[] = {{"Swish", 5}};
    ml_attr bad_act[] = {{.name = "activations", .type = ML_ATTR_STRINGS, .strings = acts, .n = 1}};
    CHECK_ERR(ml_test_run("", "RNN", 14, bad_act, 1, 3, (const ml_tensor *const *)in2, 2, out),
              ML_ERR_UNSUPPORTED);
    for (int i = 0; i < 5; i++) ml_tensor_free(in2[i]);
}

/* layout 1 (batch-major X, initial states and outputs) must equal layout 0
 * on the transposed data, including sequence_lens and both directions */
static void test_layout1_matches_layout0(void) {
    enum { S2 = 3, B2 = 2, I2 = 2, H2 = 2 };
    float x0[S2 * B2 * I2], x1[S2 * B2 * I2], w[2 * 4 * H2 * I2], r[2 * 4 * H2 * H2];
    float h0[2 * B2 * H2], h1[2 * B2 * H2], c0[2 * B2 * H2], c1[2 * B2 * H2];
    fill(x0, sizeof x0 / 4, 21), fill(w, sizeof w / 4, 22), fill(r, sizeof r / 4, 23);
    fill(h0, sizeof h0 / 4, 24), fill(c0, sizeof c0 / 4, 25);
    for (int t = 0; t < S2; t++)
        for (int b = 0; b < B2; b++)
            for (int i = 0; i < I2; i++) x1[(b * S2 + t) * I2 + i] = x0[(t * B2 + b) * I2 + i];
    for (int d = 0; d < 2; d++)
        for (int b = 0; b < B2; b++)
            for (int k = 0; k < H2; k++) {
                h1[(b * 2 + d) * H2 + k] = h0[(d * B2 + b) * H2 + k];
                c1[(b * 2 + d) * H2 + k] = c0[(d * B2 + b) * H2 + k];
            }
    int32_t lens[B2] = {3, 1};
    int64_t x0d[] = {S2, B2, I2}, x1d[] = {B2, S2, I2}, wd[] = {2, 4 * H2, I2},
            rd[] = {2, 4 * H2, H2};
    int64_t ld[] = {B2}, h0d[] = {2, B2, H2}, h1d[] = {B2, 2, H2};
    ml_attr attrs[] = {ml_test_attr_string("direction", "bidirectional"),
                       ml_test_attr_int("layout", 0)};
    ml_tensor *in0[7] = {ml_test_f32(3, x0d, x0),
                         ml_test_f32(3, wd, w),
                         ml_test_f32(3, rd, r),
                         NULL,
                         ml_test_tensor(ML_INT32, 1, ld, lens),
                         ml_test_f32(3, h0d, h0),
                         ml_test_f32(3, h0d, c0)};
    ml_tensor *in1[7] = {
        ml_test_f32(3, x1d, x1), in0[1], in0[2], NULL, in0[4], ml_test_f32(3, h1d, h1),
        ml_test_f32(3, h1d, c1)};
    ml_tensor *o0[3] = {0}, *o1[3] = {0};
    CHECK_OK(ml_test_run("", "LSTM", 14, attrs, 2, 7, (const ml_tensor *const *)in0, 3, o0));
    attrs[1] = ml_test_attr_int("layout", 1);
    CHECK_OK(ml_test_run("", "LSTM", 14, attrs, 2, 7, (const ml_tensor *const *)in1, 3, o1));
    if (o0[0] && o1[0] && o0[1] && o1[1] && o0[2] && o1[2]) {
        CHECK(o1[0]->dims[0] == B2 && o1[0]->dims[1] == S2 && o1[0]->dims[2] == 2);
        const float *y0 = o0[0]->data, *y1 = o1[0]->data;
        for (int t = 0; t < S2; t++)
            for (int d = 0; d < 2; d++)
                for (int b = 0; b < B2; b++)
                    for (int k = 0; k < H2; k++)
                        CHECK_NEAR(y1[((b * S2 + t) * 2 + d) * H2 + k],
                                   y0[((t * 2 + d) * B2 + b) * H2 + k], 0);
        for (int s = 1; s < 3; s++) {
            const float *a = o0[s]->data, *bb = o1[s]->data;
            for (int d = 0; d < 2; d++)
                for (int b = 0; b < B2; b++)
                    for (int k = 0; k < H2; k++)
                        CHECK_NEAR(bb[(b * 2 + d) * H2 + k], a[(d * B2 + b) * H2 + k], 0);
        }
        /* batch 1 has length 1: its Y rows past t = 0 are zero */
        CHECK_NEAR(y0[((2 * 2 + 0) * B2 + 1) * H2], 0, 0);
    } else {
        CHECK(!"an LSTM output is missing");
    }
    for (int i = 0; i < 3; i++) ml_tensor_free(o0[i]), ml_tensor_free(o1[i]);
    for (int i = 0; i < 7; i++) ml_tensor_free(in0[i]);
    ml_tensor_free(in1[0]), ml_tensor_free(in1[5]), ml_tensor_free(in1[6]);
}

/* double inputs go through the float path and come back as double */
static void test_double_dtype(void) {
    double x[] = {0.5, -0.25}, w[] = {2}, r[] = {1};
    int64_t xd[] = {2, 1, 1}, wd[] = {1, 1, 1};
    ml_tensor *in[3] = {ml_test_tensor(ML_DOUBLE, 3, xd, x), ml_test_tensor(ML_DOUBLE, 3, wd, w),
                        ml_test_tensor(ML_DOUBLE, 3, wd, r)};
    ml_tensor *out[2] = {0};
    CHECK_OK(ml_test_run("", "RNN", 7, NULL, 0, 3, (const ml_tensor *const *)in, 2, out));
    CHECK(out[1] && out[1]->dtype == ML_DOUBLE);
    double h1 = tanh(1.0), h2 = tanh(-0.5 + h1);
    if (out[1]) CHECK_NEAR(((double *)out[1]->data)[0], h2, 1e-6);
    for (int i = 0; i < 3; i++) ml_tensor_free(in[i]);
    for (int i = 0; i < 2; i++) ml_tensor_free(out[i]);
}

int main(void) {
    RUN(test_lstm_bidirectional_seq_lens);
    RUN(test_lstm_input_forget_clip);
    RUN(test_gru_linear_before_reset);
    RUN(test_rnn_activation_alpha_layout1);
    RUN(test_empty_batch_and_errors);
    RUN(test_layout1_matches_layout0);
    RUN(test_double_dtype);
    return TEST_SUMMARY();
}
