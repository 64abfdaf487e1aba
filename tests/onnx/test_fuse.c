/* Level-2 fusions: each pattern is built in memory, loaded with optimisation
 * level 2 and level 0, and must give the same outputs; the fused ops must
 * appear exactly when the pattern matches (negative cases: an intermediate
 * read twice, a non-constant operand, a wrong constant, a broadcasting
 * gamma, statistics outputs wanted). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fuse_check.h"
#include "model_builder.h"
#include "onnx/session.h"
#include "test.h"

/* ---- Gelu ---- */

/* form: 0 = (x*a)*0.5, 1 = x*(a*0.5), 2 = (x*0.5)*a; mul_arg: x*(1/sqrt2)
 * instead of x/sqrt2; bias: x = in + b first; the knobs break the pattern */
typedef struct gelu_opts {
    int form;
    bool mul_arg, bias, erf_out_read, half_is_input, half_rank1;
    float one;
} gelu_opts;

static ml_session *gelu_model(gelu_opts o) {
    mb_model *b = mb_new(17);
    int64_t dx[] = {2, 3, 8}, db[] = {8};
    mb_input(b, "in", F32, 3, dx);
    const char *x = "in";
    if (o.bias) {
        float bias[8] = {0.1f, -0.2f, 0.3f, -0.4f, 0.5f, -0.6f, 0.7f, -0.8f};
        mb_init_f32(b, "bias", 1, db, bias, 0);
        mb_node(b, "Add", "bias,in", "x");
        x = "x";
    }
    fuse_scalar(b, "sqrt2", 1.4142135f);
    fuse_scalar(b, "rsqrt2", 0.70710677f);
    fuse_scalar(b, "one", o.one);
    float half = 0.5f;
    int64_t d1[] = {1};
    if (o.half_is_input)
        mb_input(b, "half", F32, 0, NULL);
    else if (o.half_rank1) /* would make a scalar x [1]: no fusion */
        mb_init_f32(b, "half", 1, d1, &half, 0);
    else
        fuse_scalar(b, "half", half);
    char buf[64];
    if (o.mul_arg) {
        snprintf(buf, sizeof buf, "rsqrt2,%s", x);
        mb_node(b, "Mul", buf, "d");
    } else {
        snprintf(buf, sizeof buf, "%s,sqrt2", x);
        mb_node(b, "Div", buf, "d");
    }
    mb_node(b, "Erf", "d", "e");
    mb_node(b, "Add", "one,e", "a");
    if (o.form == 0) {
        snprintf(buf, sizeof buf, "%s,a", x);
        mb_node(b, "Mul", buf, "m");
        mb_node(b, "Mul", "m,half", "y");
    } else if (o.form == 1) {
        mb_node(b, "Mul", "a,half", "h");
        snprintf(buf, sizeof buf, "h,%s", x);
        mb_node(b, "Mul", buf, "y");
    } else {
        snprintf(buf, sizeof buf, "half,%s", x);
        mb_node(b, "Mul", buf, "h");
        mb_node(b, "Mul", "a,h", "y");
    }
    mb_output(b, "y", F32);
    if (o.erf_out_read) mb_output(b, "e", F32);
    fuse_case c = {.n_in = o.half_is_input ? 2 : 1,
                   .in_names = {"in", "half"},
                   .ranks = {3, 0},
                   .dims = {{2, 3, 8}, {0}},
                   .n_out = o.erf_out_read ? 2 : 1,
                   .out_names = {"y", "e"}};
    /* the scalar "half" input gets a random value: fine, both runs share it */
    return fuse_check_same(b, &c, 2e-6);
}

static void test_gelu_forms(void) {
    for (int form = 0; form < 3; form++)
        for (int mul_arg = 0; mul_arg < 2; mul_arg++)
            for (int bias = 0; bias < 2; bias++) {
                gelu_opts o = {.form = form, .mul_arg = mul_arg, .bias = bias, .one = 1.0f};
                ml_session *s = gelu_model(o);
                if (!s) continue;
                CHECK(!ml_session_uses_op(s, "Erf"));
                CHECK(!ml_session_uses_op(s, "Mul"));
                CHECK(!ml_session_uses_op(s, "Add"));
                CHECK(ml_session_uses_op(s, bias ? "BiasGelu" : "Gelu"));
                ml_session_free(s);
            }
}

static void test_gelu_negative(void) {
    /* Erf's output is also a graph output */
    ml_session *s = gelu_model((gelu_opts){.form = 0, .erf_out_read = true, .one = 1.0f});
    if (s) CHECK(ml_session_uses_op(s, "Erf") && !ml_session_uses_op(s, "Gelu"));
    ml_session_free(s);
    /* the 0.5 is a graph input, not a constant */
    s = gelu_model((gelu_opts){.form = 1, .half_is_input = true, .one = 1.0f});
    if (s) CHECK(ml_session_uses_op(s, "Erf") && !ml_session_uses_op(s, "Gelu"));
    ml_session_free(s);
    s = gelu_model((gelu_opts){.form = 0, .half_rank1 = true, .one = 1.0f});
    if (s) CHECK(ml_session_uses_op(s, "Erf") && !ml_session_uses_op(s, "Gelu"));
    ml_session_free(s);
    /* 1 + erf is really 1.01 + erf */
    s = gelu_model((gelu_opts){.form = 2, .bias = true, .one = 1.01f});
    if (s)
        CHECK(ml_session_uses_op(s, "Erf") && !ml_session_uses_op(s, "Gelu") &&
              !ml_session_uses_op(s, "BiasGelu"));
    ml_session_free(s);
}

/* the bias Add's output is read elsewhere too: plain Gelu, Add stays */
static void test_gelu_bias_read_twice(void) {
    mb_model *b = mb_new(17);
    int64_t dx[] = {4, 8}, db[] = {8};
    float bias[8] = {1, 2, 3, 4, -1, -2, -3, -4};
    mb_input(b, "in", F32, 2, dx);
    mb_init_f32(b, "bias", 1, db, bias, 0);
    fuse_scalar(b, "sqrt2", 1.4142135f);
    fuse_scalar(b, "one", 1.0f);
    fuse_scalar(b, "half", 0.5f);
    mb_node(b, "Add", "in,bias", "x");
    mb_node(b, "Div", "x,sqrt2", "d");
    mb_node(b, "Erf", "d", "e");
    mb_node(b, "Add", "e,one", "a");
    mb_node(b, "Mul", "a,x", "m");
    mb_node(b, "Mul", "half,m", "y");
    mb_node(b, "Neg", "x", "z");
    mb_output(b, "y", F32);
    mb_output(b, "z", F32);
    fuse_case c = {.n_in = 1,
                   .in_names = {"in"},
                   .ranks = {2},
                   .dims = {{4, 8}},
                   .n_out = 2,
                   .out_names = {"y", "z"}};
    ml_session *s = fuse_check_same(b, &c, 2e-6);
    if (s)
        CHECK(ml_session_uses_op(s, "Gelu") && !ml_session_uses_op(s, "BiasGelu") &&
              ml_session_uses_op(s, "Add") && !ml_session_uses_op(s, "Erf"));
    ml_session_free(s);
}

/* ---- Add + LayerNormalization ---- */

typedef struct ln_opts {
    const int64_t *da, *db; /* ranks 3 */
    bool sum_read, no_beta, gamma_scalar, axis1, mean_out, gamma_identity;
} ln_opts;

static ml_session *skip_ln_model(ln_opts o) {
    mb_model *b = mb_new(17);
    int64_t dg[] = {8}, d1[] = {1};
    float g[8] = {1, 0.5f, 2, -1, 1.5f, 0.25f, 1, 3}, be[8] = {0, 1, -1, 0.5f, 0, 0, 2, -2};
    mb_input(b, "a", F32, 3, o.da);
    mb_input(b, "b", F32, 3, o.db);
    if (o.gamma_scalar)
        mb_init_f32(b, "gamma", 1, d1, g, 0);
    else
        mb_init_f32(b, "gamma0", 1, dg, g, 0);
    mb_init_f32(b, "beta", 1, dg, be, 0);
    if (!o.gamma_scalar) {
        if (o.gamma_identity) { /* how PyTorch exports shared LayerNorm weights */
            mb_node(b, "Identity", "gamma0", "gamma");
        } else {
            mb_node(b, "Identity", "gamma0", "gamma_copy");
            mb_node(b, "Add", "gamma_copy,beta", "unused"); /* dead */
            mb_node(b, "Identity", "gamma0", "gamma");
        }
    }
    mb_node(b, "Add", "a,b", "s");
    mb_node(b, "LayerNormalization", o.no_beta ? "s,gamma" : "s,gamma,beta",
            o.mean_out ? "y,mean" : "y");
    mb_attr_float(b, "epsilon", 1e-3f);
    if (o.axis1) mb_attr_int(b, "axis", 2); /* same axis, spelled positively */
    mb_output(b, "y", F32);
    if (o.sum_read) {
        mb_node(b, "Neg", "s", "z");
        mb_output(b, "z", F32);
    }
    if (o.mean_out) mb_output(b, "mean", F32);
    fuse_case c = {.n_in = 2, .in_names = {"a", "b"}, .ranks = {3, 3}, .n_out = 1};
    memcpy(c.dims[0], o.da, 3 * sizeof(int64_t));
    memcpy(c.dims[1], o.db, 3 * sizeof(int64_t));
    c.out_names[0] = "y";
    if (o.sum_read) c.out_names[c.n_out++] = "z";
    if (o.mean_out) c.out_names[c.n_out++] = "mean";
    return fuse_check_same(b, &c, 1e-5);
}

static void test_skip_layernorm(void) {
    static const int64_t full[] = {2, 3, 8}, row[] = {1, 3, 8}, col[] = {2, 1, 8};
    const int64_t *shapes[][2] = {{full, full}, {full, row}, {row, full}, {col, row}};
    for (int k = 0; k < 4; k++)
        for (int v = 0; v < 4; v++) {
            ln_opts o = {.da = shapes[k][0],
                         .db = shapes[k][1],
                         .sum_read = v & 1,
                         .no_beta = v & 2,
                         .gamma_identity = k & 1};
            ml_session *s = skip_ln_model(o);
            if (!s) continue;
            CHECK(ml_session_uses_op(s, "SkipLayerNormalization"));
            CHECK(!ml_session_uses_op(s, "LayerNormalization"));
            CHECK(!ml_session_uses_op(s, "Add"));
            ml_session_free(s);
        }
}

static void test_skip_layernorm_negative(void) {
    static const int64_t full[] = {2, 3, 8};
    ln_opts cases[] = {
        {.da = full, .db = full, .gamma_scalar = true}, /* gamma [1] broadcasts */
        {.da = full, .db = full, .axis1 = true},        /* axis 2: not spelled -1 */
        {.da = full, .db = full, .mean_out = true},     /* Mean wanted */
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        ml_session *s = skip_ln_model(cases[k]);
        if (!s) continue;
        CHECK(!ml_session_uses_op(s, "SkipLayerNormalization"));
        CHECK(ml_session_uses_op(s, "LayerNormalization"));
        ml_session_free(s);
    }
}

/* A whole encoder-style block: MatMul + bias + Gelu + residual + LayerNorm,
 * twice, so fusions chain (the second block reads the first one's output). */
static void test_chained_blocks(void) {
    mb_model *b = mb_new(17);
    int64_t dx[] = {-1, 5, 8}, dw[] = {8, 8}, dv[] = {8};
    float w[64], bias[8], g[8], be[8];
    for (int i = 0; i < 64; i++) w[i] = (float)((i * 37 % 17) - 8) / 16.0f;
    for (int i = 0; i < 8; i++)
        bias[i] = 0.1f * (float)i - 0.3f, g[i] = 1.0f + 0.1f * (float)i, be[i] = 0.05f * (float)i;
    mb_input(b, "inp", F32, 3, dx);
    mb_init_f32(b, "w", 2, dw, w, 0);
    mb_init_f32(b, "bias", 1, dv, bias, 0);
    mb_init_f32(b, "g", 1, dv, g, 0);
    mb_init_f32(b, "be", 1, dv, be, 0);
    fuse_scalar(b, "sqrt2", 1.4142135f);
    fuse_scalar(b, "one", 1.0f);
    fuse_scalar(b, "half", 0.5f);
    const char *in = "inp";
    char n[8][32], buf[96];
    for (int l = 0; l < 2; l++) {
        const char *names[] = {"mm", "x", "d", "e", "a", "m", "y", "s", "out"};
        for (int i = 0; i < 8; i++) snprintf(n[i], sizeof n[i], "%s%d", names[i], l);
        char out[16];
        snprintf(out, sizeof out, "out%d", l);
        snprintf(buf, sizeof buf, "%s,w", in);
        mb_node(b, "MatMul", buf, n[0]);
        snprintf(buf, sizeof buf, "%s,bias", n[0]);
        mb_node(b, "Add", buf, n[1]);
        snprintf(buf, sizeof buf, "%s,sqrt2", n[1]);
        mb_node(b, "Div", buf, n[2]);
        mb_node(b, "Erf", n[2], n[3]);
        snprintf(buf, sizeof buf, "%s,one", n[3]);
        mb_node(b, "Add", buf, n[4]);
        snprintf(buf, sizeof buf, "%s,%s", n[1], n[4]);
        mb_node(b, "Mul", buf, n[5]);
        snprintf(buf, sizeof buf, "%s,half", n[5]);
        mb_node(b, "Mul", buf, n[6]);
        snprintf(buf, sizeof buf, "%s,%s", in, n[6]);
        mb_node(b, "Add", buf, n[7]);
        snprintf(buf, sizeof buf, "%s,g,be", n[7]);
        mb_node(b, "LayerNormalization", buf, out);
        in = l == 0 ? "out0" : "out1";
    }
    mb_output(b, "out1", F32);
    fuse_case c = {.n_in = 1,
                   .in_names = {"inp"},
                   .ranks = {3},
                   .dims = {{3, 5, 8}},
                   .n_out = 1,
                   .out_names = {"out1"}};
    ml_session *s = fuse_check_same(b, &c, 1e-5);
    if (s) {
        /* the bias goes into the GEMM epilogue, Gelu stays on its own */
        CHECK(ml_session_uses_op(s, "MatMulBiasAct") && ml_session_uses_op(s, "Gelu"));
        CHECK(!ml_session_uses_op(s, "MatMul") && !ml_session_uses_op(s, "BiasGelu"));
        CHECK(ml_session_uses_op(s, "SkipLayerNormalization"));
        CHECK(!ml_session_uses_op(s, "Erf") && !ml_session_uses_op(s, "LayerNormalization"));
    }
    ml_session_free(s);
}

/* ---- MatMul + Add + activation, Conv + activation ---- */

typedef struct mm_opts {
    const char *act; /* NULL: none */
    bool bias, bias_scalar, b_input, add_read_twice;
} mm_opts;

static ml_session *matmul_model(mm_opts o) {
    mb_model *b = mb_new(17);
    int64_t da[] = {2, 3, 6}, dw[] = {6, 5}, dv[] = {5}, d1[] = {1};
    float w[30], bias[5] = {0.5f, -1, 0.25f, 2, -0.75f};
    for (int i = 0; i < 30; i++) w[i] = (float)((i * 7 % 11) - 5) / 4.0f;
    mb_input(b, "a", F32, 3, da);
    if (o.b_input)
        mb_input(b, "w", F32, 2, dw);
    else
        mb_init_f32(b, "w", 2, dw, w, 0);
    if (o.bias_scalar)
        mb_init_f32(b, "bias", 1, d1, bias, 0);
    else
        mb_init_f32(b, "bias", 1, dv, bias, 0);
    mb_node(b, "MatMul", "a,w", "mm");
    const char *cur = "mm";
    if (o.bias) {
        mb_node(b, "Add", "bias,mm", "s");
        cur = "s";
    }
    if (o.act) {
        char buf[32];
        snprintf(buf, sizeof buf, "%s%s", cur, strcmp(o.act, "Clip") == 0 ? ",lo,hi" : "");
        if (strcmp(o.act, "Clip") == 0) {
            fuse_scalar(b, "lo", -0.5f);
            fuse_scalar(b, "hi", 1.5f);
        }
        mb_node(b, o.act, buf, "y");
        if (strcmp(o.act, "LeakyRelu") == 0) mb_attr_float(b, "alpha", 0.2f);
        if (strcmp(o.act, "HardSigmoid") == 0) mb_attr_float(b, "beta", 0.4f);
    } else {
        mb_node(b, "Identity", cur, "y");
    }
    mb_output(b, "y", F32);
    if (o.add_read_twice) mb_output(b, "mm", F32);
    fuse_case c = {.n_in = o.b_input ? 2 : 1,
                   .in_names = {"a", "w"},
                   .ranks = {3, 2},
                   .dims = {{2, 3, 6}, {6, 5}},
                   .n_out = 1,
                   .out_names = {"y"}};
    return fuse_check_same(b, &c, 1e-5);
}

static void test_matmul_bias_act(void) {
    const char *acts[] = {NULL, "Relu", "LeakyRelu", "Sigmoid", "Tanh", "HardSigmoid", "Clip"};
    for (int k = 0; k < 7; k++)
        for (int bias = 0; bias < 2; bias++) {
            if (!acts[k] && !bias) continue;
            ml_session *s = matmul_model((mm_opts){.act = acts[k], .bias = bias});
            if (!s) continue;
            CHECK(ml_session_uses_op(s, "MatMulBiasAct"));
            CHECK(!ml_session_uses_op(s, "MatMul") && !ml_session_uses_op(s, "Add"));
            if (acts[k]) CHECK(!ml_session_uses_op(s, acts[k]));
            ml_session_free(s);
        }
}

static void test_matmul_bias_negative(void) {
    mm_opts cases[] = {
        {.act = "Relu", .bias = true, .b_input = true}, /* B is no constant */
        {.bias = true, .bias_scalar = true},            /* bias [1] broadcasts */
        {.bias = true, .add_read_twice = true},         /* MatMul output is read twice */
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        ml_session *s = matmul_model(cases[k]);
        if (!s) continue;
        CHECK(!ml_session_uses_op(s, "MatMulBiasAct"));
        CHECK(ml_session_uses_op(s, "Add"));
        ml_session_free(s);
    }
}

static void test_conv_act(void) {
    for (int neg = 0; neg < 2; neg++) {
        mb_model *b = mb_new(17);
        int64_t dx[] = {1, 2, 5, 5}, dw[] = {3, 2, 3, 3}, dv[] = {3};
        float w[54], bias[3] = {0.1f, -0.2f, 0.3f};
        for (int i = 0; i < 54; i++) w[i] = (float)((i * 5 % 13) - 6) / 8.0f;
        mb_input(b, "x", F32, 4, dx);
        mb_init_f32(b, "w", 4, dw, w, 0);
        mb_init_f32(b, "b", 1, dv, bias, 0);
        mb_node(b, "Conv", "x,w,b", "c");
        int64_t pads[] = {1, 1, 1, 1};
        mb_attr_ints(b, "pads", pads, 4);
        mb_node(b, "LeakyRelu", "c", "y");
        mb_attr_float(b, "alpha", 0.3f);
        mb_output(b, "y", F32);
        if (neg) mb_output(b, "c", F32); /* Conv output read twice */
        fuse_case c = {.n_in = 1,
                       .in_names = {"x"},
                       .ranks = {4},
                       .dims = {{1, 2, 5, 5}},
                       .n_out = 1,
                       .out_names = {"y"}};
        ml_session *s = fuse_check_same(b, &c, 1e-5);
        if (s) {
            CHECK(ml_session_uses_op(s, "FusedConv") == !neg);
            CHECK(ml_session_uses_op(s, "Conv") == (bool)neg);
        }
        ml_session_free(s);
    }
}

/* ---- decomposed LayerNormalization ---- */

typedef struct dln_opts {
    int opset;
    bool square_mul, no_beta, axes_first, eps_input, d_read_twice;
} dln_opts;

static ml_session *decomposed_ln_model(dln_opts o) {
    mb_model *b = mb_new(o.opset);
    int64_t dx[] = {2, 3, 8}, dg[] = {8}, d1[] = {1};
    float g[8] = {1, 0.5f, 2, -1, 1.5f, 0.25f, 1, 3}, be[8] = {0, 1, -1, 0.5f, 0, 0, 2, -2};
    int64_t axis = o.axes_first ? 0 : -1;
    mb_input(b, "x", F32, 3, dx);
    mb_init_f32(b, "gamma", 1, dg, g, 0);
    mb_init_f32(b, "beta", 1, dg, be, 0);
    fuse_scalar(b, "two", 2.0f);
    if (o.eps_input)
        mb_input(b, "eps", F32, 0, NULL);
    else
        fuse_scalar(b, "eps", 1e-5f);
    if (o.opset >= 18) mb_init_raw(b, "axes", 7, 1, d1, &axis, sizeof axis);
    const char *red_in[2] = {o.opset >= 18 ? "x,axes" : "x", o.opset >= 18 ? "p,axes" : "p"};
    mb_node(b, "ReduceMean", red_in[0], "m");
    if (o.opset < 18) mb_attr_ints(b, "axes", &axis, 1);
    mb_node(b, "Sub", "x,m", "d");
    if (o.square_mul)
        mb_node(b, "Mul", "d,d", "p");
    else
        mb_node(b, "Pow", "d,two", "p");
    mb_node(b, "ReduceMean", red_in[1], "v");
    if (o.opset < 18) mb_attr_ints(b, "axes", &axis, 1);
    mb_node(b, "Add", "v,eps", "a");
    mb_node(b, "Sqrt", "a", "s");
    mb_node(b, "Div", "d,s", "n");
    mb_node(b, "Mul", o.no_beta ? "gamma,n" : "n,gamma", o.no_beta ? "y" : "t");
    if (!o.no_beta) mb_node(b, "Add", "beta,t", "y");
    mb_output(b, "y", F32);
    if (o.d_read_twice) mb_output(b, "d", F32);
    fuse_case c = {.n_in = o.eps_input ? 2 : 1,
                   .in_names = {"x", "eps"},
                   .ranks = {3, 0},
                   .dims = {{2, 3, 8}, {0}},
                   .n_out = 1,
                   .out_names = {"y"}};
    return fuse_check_same(b, &c, 1e-4);
}

static void test_decomposed_layernorm(void) {
    int opsets[] = {13, 18};
    for (int k = 0; k < 2; k++)
        for (int v = 0; v < 4; v++) {
            ml_session *s = decomposed_ln_model(
                (dln_opts){.opset = opsets[k], .square_mul = v & 1, .no_beta = v & 2});
            if (!s) continue;
            CHECK(ml_session_uses_op(s, "LayerNormalization"));
            CHECK(!ml_session_uses_op(s, "ReduceMean") && !ml_session_uses_op(s, "Sqrt"));
            CHECK(!ml_session_uses_op(s, "Mul") && !ml_session_uses_op(s, "Add"));
            ml_session_free(s);
        }
    dln_opts neg[] = {
        {.opset = 13, .axes_first = true}, /* normalises axis 0 */
        {.opset = 18, .axes_first = true},
        {.opset = 13, .d_read_twice = true}, /* x - mean is a graph output too */
        {.opset = 13, .eps_input = true},    /* epsilon is no constant */
    };
    for (size_t k = 0; k < sizeof neg / sizeof neg[0]; k++) {
        ml_session *s = decomposed_ln_model(neg[k]);
        if (!s) continue;
        CHECK(!ml_session_uses_op(s, "LayerNormalization"));
        CHECK(ml_session_uses_op(s, "ReduceMean"));
        ml_session_free(s);
    }
}

/* tanh-approximated Gelu: cube as Pow or x * (x * x), bias Add or not */
static void test_fast_gelu(void) {
    for (int v = 0; v < 8; v++) {
        bool pow_cube = v & 1, bias = v & 2, wrong = v & 4;
        mb_model *b = mb_new(17);
        int64_t dx[] = {3, 16}, db[] = {16};
        float bv[16];
        for (int i = 0; i < 16; i++) bv[i] = 0.1f * (float)(i - 8);
        mb_input(b, "in", F32, 2, dx);
        mb_init_f32(b, "bias", 1, db, bv, 0);
        fuse_scalar(b, "three", 3.0f);
        fuse_scalar(b, "kappa", wrong ? 0.05f : 0.044715f);
        fuse_scalar(b, "beta", 0.7978845834732056f);
        fuse_scalar(b, "one", 1.0f);
        fuse_scalar(b, "half", 0.5f);
        const char *x = bias ? "x" : "in";
        char buf[32];
        if (bias) mb_node(b, "Add", "in,bias", "x");
        if (pow_cube) {
            snprintf(buf, sizeof buf, "%s,three", x);
            mb_node(b, "Pow", buf, "c");
        } else {
            snprintf(buf, sizeof buf, "%s,%s", x, x);
            mb_node(b, "Mul", buf, "x2");
            snprintf(buf, sizeof buf, "x2,%s", x);
            mb_node(b, "Mul", buf, "c");
        }
        mb_node(b, "Mul", "kappa,c", "q");
        snprintf(buf, sizeof buf, "%s,q", x);
        mb_node(b, "Add", buf, "r");
        mb_node(b, "Mul", "beta,r", "s");
        mb_node(b, "Tanh", "s", "t");
        mb_node(b, "Add", "one,t", "u");
        snprintf(buf, sizeof buf, "%s,u", x);
        mb_node(b, "Mul", buf, "w");
        mb_node(b, "Mul", "w,half", "y");
        mb_output(b, "y", F32);
        fuse_case c = {.n_in = 1,
                       .in_names = {"in"},
                       .ranks = {2},
                       .dims = {{3, 16}},
                       .n_out = 1,
                       .out_names = {"y"}};
        ml_session *s = fuse_check_same(b, &c, 2e-6);
        if (!s) continue;
        CHECK(ml_session_uses_op(s, "FastGelu") == !wrong);
        CHECK(ml_session_uses_op(s, "Tanh") == wrong);
        if (!wrong) CHECK(!ml_session_uses_op(s, "Mul") && !ml_session_uses_op(s, "Add"));
        ml_session_free(s);
    }
}

static void test_gemm_act(void) {
    const char *acts[] = {"Relu", "LeakyRelu", "Clip", "HardSigmoid", "Tanh"};
    for (int k = 0; k < 5; k++)
        for (int neg = 0; neg < 2; neg++) {
            mb_model *b = mb_new(17);
            int64_t dx[] = {4, 6}, dw[] = {5, 6}, dc[] = {5};
            float w[30], c[5] = {0.5f, -1, 0.25f, 2, -0.75f};
            for (int i = 0; i < 30; i++) w[i] = (float)((i * 7 % 11) - 5) / 4.0f;
            mb_input(b, "a", F32, 2, dx);
            mb_init_f32(b, "w", 2, dw, w, 0);
            mb_init_f32(b, "c", 1, dc, c, 0);
            fuse_scalar(b, "lo", -0.5f);
            fuse_scalar(b, "hi", 1.5f);
            mb_node(b, "Gemm", "a,w,c", "g");
            mb_attr_int(b, "transB", 1);
            mb_attr_float(b, "alpha", 0.5f);
            mb_attr_float(b, "beta", 2.0f);
            mb_node(b, acts[k], strcmp(acts[k], "Clip") == 0 ? "g,lo,hi" : "g", "y");
            if (strcmp(acts[k], "LeakyRelu") == 0) mb_attr_float(b, "alpha", 0.2f);
            mb_output(b, "y", F32);
            if (neg) mb_output(b, "g", F32); /* Gemm output read twice */
            fuse_case fc = {.n_in = 1,
                            .in_names = {"a"},
                            .ranks = {2},
                            .dims = {{4, 6}},
                            .n_out = 1,
                            .out_names = {"y"}};
            ml_session *s = fuse_check_same(b, &fc, 1e-5);
            if (!s) continue;
            CHECK(ml_session_uses_op(s, "FusedGemm") == !neg);
            CHECK(ml_session_uses_op(s, acts[k]) == (bool)neg);
            ml_session_free(s);
        }
}

/* x * Sigmoid(x) (SiLU) and x * Sigmoid(1.702 x) -> QuickGelu */
static void test_quick_gelu(void) {
    for (int v = 0; v < 6; v++) {
        bool scaled = v & 1, swap = v & 2, neg = v >= 4;
        mb_model *b = mb_new(17);
        int64_t dx[] = {3, 16};
        mb_input(b, "x", F32, 2, dx);
        fuse_scalar(b, "alpha", 1.702f);
        mb_node(b, "Mul", "x,x", "sq"); /* x comes from a node, as in real models */
        if (scaled) mb_node(b, "Mul", swap ? "alpha,sq" : "sq,alpha", "u");
        mb_node(b, "Sigmoid", scaled ? "u" : "sq", "s");
        mb_node(b, "Mul", swap ? "s,sq" : "sq,s", "y");
        mb_output(b, "y", F32);
        if (neg) mb_output(b, "s", F32); /* the sigmoid is read twice */
        fuse_case c = {.n_in = 1,
                       .in_names = {"x"},
                       .ranks = {2},
                       .dims = {{3, 16}},
                       .n_out = 1,
                       .out_names = {"y"}};
        ml_session *s = fuse_check_same(b, &c, 1e-5);
        if (!s) continue;
        CHECK(ml_session_uses_op(s, "QuickGelu") == !neg);
        CHECK(ml_session_uses_op(s, "Sigmoid") == neg);
        ml_session_free(s);
    }
}

/* RMSNorm as LLaMA-style models export it */
static void test_rms_norm(void) {
    for (int v = 0; v < 10; v++) {
        bool square_mul = v & 1, recip = v & 2, gamma_first = v & 4;
        bool neg_axis0 = v == 8, neg_read_twice = v == 9;
        mb_model *b = mb_new(13);
        int64_t dx[] = {2, 3, 8}, dg[] = {8}, axis = neg_axis0 ? 0 : -1;
        float g[8] = {1, 0.5f, 2, -1, 1.5f, 0.25f, 1, 3};
        mb_input(b, "in", F32, 3, dx);
        mb_init_f32(b, "gamma", 1, dg, g, 0);
        fuse_scalar(b, "two", 2.0f);
        fuse_scalar(b, "eps", 1e-6f);
        mb_node(b, "Neg", "in", "x");
        mb_node(b, square_mul ? "Mul" : "Pow", square_mul ? "x,x" : "x,two", "p");
        mb_node(b, "ReduceMean", "p", "v");
        mb_attr_ints(b, "axes", &axis, 1);
        mb_node(b, "Add", "eps,v", "a");
        mb_node(b, "Sqrt", "a", "s");
        if (recip) {
            mb_node(b, "Reciprocal", "s", "r");
            mb_node(b, "Mul", "r,x", "n");
        } else {
            mb_node(b, "Div", "x,s", "n");
        }
        mb_node(b, "Mul", gamma_first ? "gamma,n" : "n,gamma", "y");
        mb_output(b, "y", F32);
        if (neg_read_twice) mb_output(b, "s", F32);
        fuse_case c = {.n_in = 1,
                       .in_names = {"in"},
                       .ranks = {3},
                       .dims = {{2, 3, 8}},
                       .n_out = 1,
                       .out_names = {"y"}};
        ml_session *s = fuse_check_same(b, &c, 1e-5);
        if (!s) continue;
        bool neg = neg_axis0 || neg_read_twice;
        CHECK(ml_session_uses_op(s, "SimplifiedLayerNormalization") == !neg);
        CHECK(ml_session_uses_op(s, "ReduceMean") == neg);
        ml_session_free(s);
    }
}

/* Patterns inside a subgraph (If branch) reading an outer value fuse the
 * same way, and the branch still sees the outer X. */
static void test_fuse_in_subgraph(void) {
    mb_model *b = mb_new(17);
    int64_t dx[] = {4, 8};
    mb_input(b, "X", F32, 2, dx);
    mb_input(b, "cond", 9, 0, NULL);
    mb_model *then_g = mb_sub(b, "then");
    fuse_scalar(then_g, "sqrt2", 1.4142135f);
    fuse_scalar(then_g, "one", 1.0f);
    fuse_scalar(then_g, "half", 0.5f);
    mb_node(then_g, "Neg", "X", "x");
    mb_node(then_g, "Div", "x,sqrt2", "d");
    mb_node(then_g, "Erf", "d", "e");
    mb_node(then_g, "Add", "e,one", "a");
    mb_node(then_g, "Mul", "x,a", "m");
    mb_node(then_g, "Mul", "m,half", "t_out");
    mb_output(then_g, "t_out", F32);
    mb_model *else_g = mb_sub(b, "else");
    mb_node(else_g, "Identity", "X", "e_out");
    mb_output(else_g, "e_out", F32);
    mb_node(b, "If", "cond", "Y");
    mb_attr_graph(b, "then_branch", then_g);
    mb_attr_graph(b, "else_branch", else_g);
    mb_output(b, "Y", F32);
    size_t len;
    uint8_t *bytes = mb_serialize(b, &len);
    mb_free(b);
    ml_session *fused = load_bytes(bytes, len, 2), *plain = load_bytes(bytes, len, 0);
    free(bytes);
    CHECK(fused && plain);
    if (fused && plain) {
        CHECK(ml_session_uses_op(fused, "Gelu") && !ml_session_uses_op(fused, "Erf"));
        ml_value *x = f32_value(2, dx, 3), *c = NULL, *y1 = NULL, *y2 = NULL;
        ml_tensor *ct;
        CHECK_OK(ml_tensor_create(ML_BOOL, 0, NULL, &ct));
        ((uint8_t *)ct->data)[0] = 1;
        CHECK_OK(ml_value_from_tensor(ct, &c));
        const char *names[] = {"X", "cond"};
        ml_value *in[] = {x, c};
        CHECK_OK(ml_session_run(fused, 2, names, in, 1, NULL, &y1));
        CHECK_OK(ml_session_run(plain, 2, names, in, 1, NULL, &y2));
        if (y1 && y2)
            for (size_t i = 0; i < 32; i++)
                CHECK_NEAR(((float *)y1->tensor->data)[i], ((float *)y2->tensor->data)[i], 2e-6);
        ml_value_free(x);
        ml_value_free(c);
        ml_value_free(y1);
        ml_value_free(y2);
    }
    ml_session_free(fused);
    ml_session_free(plain);
}

int main(void) {
    RUN(test_gelu_forms);
    RUN(test_gelu_negative);
    RUN(test_gelu_bias_read_twice);
    RUN(test_skip_layernorm);
    RUN(test_skip_layernorm_negative);
    RUN(test_chained_blocks);
    RUN(test_matmul_bias_act);
    RUN(test_matmul_bias_negative);
    RUN(test_conv_act);
    RUN(test_decomposed_layernorm);
    RUN(test_fast_gelu);
    RUN(test_gemm_act);
    RUN(test_quick_gelu);
    RUN(test_rms_norm);
    RUN(test_fuse_in_subgraph);
    return TEST_SUMMARY();
}
