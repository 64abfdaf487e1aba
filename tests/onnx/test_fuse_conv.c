/* Residual fusion: Conv + Add(other) [+ activation] becomes com.microsoft
 * FusedConv with other as Z. other's shape is unknown at load time, so the
 * kernel adds it in the GEMM epilogue only when it has the conv output's
 * shape and otherwise falls back to conv + broadcasting Add. Every case is
 * loaded fused (level 2) and unfused (level 0), on 1 and 2 threads, and
 * must give the same outputs on random shapes: strides, pads, dilations,
 * groups, batches, and others of shape [N,M,H,W], [M,1,1], [1,M,1,1], [W],
 * scalars and shapes that enlarge the output. Negative cases leave the
 * graph alone. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuse_check.h"
#include "model_builder.h"
#include "onnx/session.h"
#include "test.h"

typedef struct conv_cfg {
    int64_t N, C, H, W, M, G, kh, kw, sh, sw, dh, dw, pt, pl, pb, pr;
} conv_cfg;

static int64_t out_len(int64_t in, int64_t k, int64_t s, int64_t d, int64_t p0, int64_t p1) {
    return (in + p0 + p1 - d * (k - 1) - 1) / s + 1;
}

enum {
    OTHER_SAME,
    OTHER_CHAN3,
    OTHER_CHAN4,
    OTHER_LAST,
    OTHER_SCALAR,
    OTHER_WIDER,
    OTHER_RANK5,
    OTHER_KINDS
};

/* What the residual pattern looks like; the knobs mostly break it. */
typedef struct res_opts {
    conv_cfg c;
    int other;        /* OTHER_* */
    bool other_first; /* Add(other, conv) instead of Add(conv, other) */
    bool bias;
    const char *act;  /* NULL, "Relu", "LeakyRelu", "Clip" */
    bool conv_out;    /* the conv output is a graph output too (read twice) */
    bool add_out;     /* the Add output is a graph output too */
    bool self_add;    /* Add(conv, conv) */
    bool w_input;     /* W is a graph input, not a constant */
    bool bad_other;   /* other cannot broadcast: both runs must fail */
    bool other_const; /* other is an initializer (folded into the bias when per channel) */
    bool b_input;     /* B is a graph input, not a constant */
} res_opts;

/* The shape of `other` for a conv output [N, M, OH, OW]. */
static int other_shape(const res_opts *o, int64_t OH, int64_t OW, int64_t *d) {
    const conv_cfg *c = &o->c;
    if (o->bad_other) {
        d[0] = c->M + 1;
        d[1] = 1;
        d[2] = 1;
        return 3;
    }
    switch (o->other) {
    case OTHER_SAME:
        d[0] = c->N, d[1] = c->M, d[2] = OH, d[3] = OW;
        return 4;
    case OTHER_CHAN3:
        d[0] = c->M, d[1] = 1, d[2] = 1;
        return 3;
    case OTHER_CHAN4:
        d[0] = 1, d[1] = c->M, d[2] = 1, d[3] = 1;
        return 4;
    case OTHER_LAST:
        d[0] = OW;
        return 1;
    case OTHER_SCALAR:
        return 0;
    case OTHER_WIDER: /* batch 1 conv output broadcast up to 3 images */
        d[0] = c->N == 1 ? 3 : c->N, d[1] = c->M, d[2] = 1, d[3] = OW;
        return 4;
    default: /* OTHER_RANK5 */
        d[0] = 2, d[1] = 1, d[2] = c->M, d[3] = OH, d[4] = 1;
        return 5;
    }
}

static float frand(uint32_t *s) {
    *s = *s * 1664525u + 1013904223u;
    return (float)((double)*s / 4294967296.0 - 0.5);
}

/* Builds the model and the inputs of the comparison. */
static mb_model *res_model(const res_opts *o, fuse_case *fc) {
    const conv_cfg *c = &o->c;
    int64_t OH = out_len(c->H, c->kh, c->sh, c->dh, c->pt, c->pb);
    int64_t OW = out_len(c->W, c->kw, c->sw, c->dw, c->pl, c->pr);
    mb_model *b = mb_new(17);
    int64_t dx[] = {c->N, c->C, c->H, c->W}, dw[] = {c->M, c->C / c->G, c->kh, c->kw},
            dv[] = {c->M};
    size_t nw = (size_t)(dw[0] * dw[1] * dw[2] * dw[3]);
    float *w = malloc(nw * sizeof(float)), *bias = malloc((size_t)c->M * sizeof(float));
    uint32_t seed = (uint32_t)(c->C * 131 + c->M * 7 + c->kh);
    for (size_t i = 0; i < nw; i++) w[i] = frand(&seed);
    for (int64_t i = 0; i < c->M; i++) bias[i] = frand(&seed);
    mb_input(b, "x", F32, 4, dx);
    if (o->w_input)
        mb_input(b, "w", F32, 4, dw);
    else
        mb_init_f32(b, "w", 4, dw, w, 0);
    if (o->bias && o->b_input)
        mb_input(b, "b", F32, 1, dv);
    else if (o->bias)
        mb_init_f32(b, "b", 1, dv, bias, 0);
    free(w);
    free(bias);
    int64_t od[6];
    int orank = other_shape(o, OH, OW, od);
    if (o->other_const) {
        size_t on = 1;
        for (int i = 0; i < orank; i++) on *= (size_t)od[i];
        float *ov = malloc(on * sizeof(float) + 4);
        for (size_t i = 0; i < on; i++) ov[i] = 4.0f * frand(&seed);
        mb_init_f32(b, "other", orank, od, ov, 0);
        free(ov);
    } else {
        mb_input(b, "other", F32, orank, od);
    }
    mb_node(b, "Conv", o->bias ? "x,w,b" : "x,w", "c");
    int64_t st[] = {c->sh, c->sw}, dl[] = {c->dh, c->dw}, pads[] = {c->pt, c->pl, c->pb, c->pr};
    mb_attr_ints(b, "strides", st, 2);
    mb_attr_ints(b, "dilations", dl, 2);
    mb_attr_ints(b, "pads", pads, 4);
    mb_attr_int(b, "group", c->G);
    mb_node(b, "Add", o->self_add ? "c,c" : (o->other_first ? "other,c" : "c,other"), "a");
    const char *y = "a";
    if (o->act) {
        if (strcmp(o->act, "Clip") == 0) {
            fuse_scalar(b, "lo", -0.5f);
            fuse_scalar(b, "hi", 0.75f);
            mb_node(b, "Clip", "a,lo,hi", "y");
        } else {
            mb_node(b, o->act, "a", "y");
            if (strcmp(o->act, "LeakyRelu") == 0) mb_attr_float(b, "alpha", 0.2f);
        }
        y = "y";
    }
    mb_output(b, y, F32);
    *fc = (fuse_case){
        .n_in = 2, .in_names = {"x", "other"}, .ranks = {4, orank}, .n_out = 1, .out_names = {y}};
    memcpy(fc->dims[0], dx, sizeof dx);
    memcpy(fc->dims[1], od, sizeof(int64_t) * (size_t)orank);
    if (o->conv_out) {
        mb_output(b, "c", F32);
        fc->out_names[fc->n_out++] = "c";
    }
    if (o->add_out && o->act) {
        mb_output(b, "a", F32);
        fc->out_names[fc->n_out++] = "a";
    }
    if (o->other_const) fc->n_in = 1;
    if (o->w_input) {
        fc->in_names[fc->n_in] = "w";
        fc->ranks[fc->n_in] = 4;
        memcpy(fc->dims[fc->n_in], dw, sizeof dw);
        fc->n_in++;
    }
    if (o->bias && o->b_input) {
        fc->in_names[fc->n_in] = "b";
        fc->ranks[fc->n_in] = 1;
        fc->dims[fc->n_in][0] = c->M;
        fc->n_in++;
    }
    return b;
}

/* Runs the pattern fused and unfused on `threads` threads and compares
 * (relative 1e-5: the epilogue adds Z before the bias, the plain ops after).
 * Returns whether the fused session uses FusedConv and no Add, or -1 when
 * it did not run. */
static int res_check(const res_opts *o, size_t threads) {
    fuse_case c;
    mb_model *b = res_model(o, &c);
    size_t len;
    uint8_t *bytes = mb_serialize(b, &len);
    mb_free(b);
    ml_session *fused = load_threads(bytes, len, 2, threads);
    ml_session *plain = load_threads(bytes, len, 0, threads);
    free(bytes);
    CHECK(fused && plain);
    int result = -1;
    ml_value *in[FUSE_MAX_IO] = {0}, *o1[FUSE_MAX_IO] = {0}, *o2[FUSE_MAX_IO] = {0};
    if (!fused || !plain) goto done;
    result = ml_session_uses_op(fused, "FusedConv") && !ml_session_uses_op(fused, "Add");
    for (size_t i = 0; i < c.n_in; i++)
        in[i] = f32_value(c.ranks[i], c.dims[i], 11u + (uint32_t)i * 3u);
    ml_status s1 = ml_session_run(fused, c.n_in, c.in_names, in, c.n_out, c.out_names, o1);
    ml_status s2 = ml_session_run(plain, c.n_in, c.in_names, in, c.n_out, c.out_names, o2);
    if (o->bad_other) {
        /* the same refusal, fused or not */
        CHECK(s1 != NULL && s2 != NULL);
        CHECK(ml_status_code(s1) == ML_ERR_INVALID_ARGUMENT);
        ml_status_free(s1);
        ml_status_free(s2);
        goto done;
    }
    CHECK_OK(s1);
    CHECK_OK(s2);
    for (size_t k = 0; k < c.n_out; k++) {
        if (!o1[k] || !o2[k]) {
            CHECK(o1[k] && o2[k]);
            continue;
        }
        const ml_tensor *a = o1[k]->tensor, *e = o2[k]->tensor;
        CHECK(ml_shape_equal(a->rank, a->dims, e->rank, e->dims));
        if (!ml_shape_equal(a->rank, a->dims, e->rank, e->dims)) continue;
        size_t n = ml_tensor_numel(e), bad = 0;
        for (size_t i = 0; i < n; i++) {
            float av = ((float *)a->data)[i], ev = ((float *)e->data)[i];
            bad += !(fabsf(av - ev) <= 1e-5f * (1.0f + fabsf(ev)));
        }
        if (bad)
            fprintf(stderr, "    other %d act %s threads %zu output %zu: %zu of %zu differ\n",
                    o->other, o->act ? o->act : "-", threads, k, bad, n);
        CHECK_EQ_INT(bad, 0);
    }
done:
    for (size_t i = 0; i < FUSE_MAX_IO; i++) {
        ml_value_free(in[i]);
        ml_value_free(o1[i]);
        ml_value_free(o2[i]);
    }
    ml_session_free(fused);
    ml_session_free(plain);
    return result;
}

static const conv_cfg shapes[] = {
    /* N  C   H   W   M  G kh kw sh sw dh dw pt pl pb pr */
    {1, 32, 32, 32, 32, 1, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1}, /* the ResNet block, batch 1 */
    {1, 16, 20, 28, 24, 1, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1}, /* 28-wide rows: temporary path */
    {2, 8, 9, 7, 12, 2, 3, 2, 1, 1, 2, 1, 2, 0, 1, 3},    /* batch 2, groups, dilated, ragged */
    {1, 6, 11, 13, 9, 3, 3, 3, 2, 2, 1, 1, 1, 1, 0, 1},   /* strided, groups */
    {3, 5, 6, 6, 7, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0},     /* pointwise, batch 3 */
    {1, 6, 8, 8, 6, 6, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1},     /* depthwise */
    {1, 3, 19, 17, 8, 1, 7, 7, 2, 2, 1, 1, 3, 3, 3, 3},   /* 7x7/2 stem */
    {1, 40, 24, 64, 48, 1, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1}, /* big: bands and channel blocks */
    {1, 64, 7, 7, 96, 1, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1},   /* small image, many channels */
};

static void test_residual_random(void) {
    static const char *acts[] = {NULL, "Relu", "LeakyRelu", "Clip"};
    size_t n_shapes = sizeof shapes / sizeof shapes[0];
    int k = 0;
    for (size_t si = 0; si < n_shapes; si++)
        for (int other = 0; other < OTHER_KINDS; other++, k++) {
            res_opts o = {.c = shapes[si],
                          .other = other,
                          .other_first = k % 2,
                          .bias = k % 3 != 1,
                          .act = acts[k % 4]};
            for (size_t threads = 1; threads <= 2; threads++) {
                int r = res_check(&o, threads);
                if (r >= 0) CHECK(r == 1);
            }
        }
}

/* The Add's output is also read by the graph: conv + Add fuse, the
 * activation stays a node of its own. */
static void test_residual_add_output_read(void) {
    res_opts o = {
        .c = shapes[0], .other = OTHER_SAME, .bias = true, .act = "Relu", .add_out = true};
    CHECK(res_check(&o, 2) == 1);
    fuse_case c;
    mb_model *b = res_model(&o, &c);
    size_t len;
    uint8_t *bytes = mb_serialize(b, &len);
    mb_free(b);
    ml_session *s = load_threads(bytes, len, 2, 1);
    free(bytes);
    CHECK(s && ml_session_uses_op(s, "Relu") && ml_session_uses_op(s, "FusedConv"));
    ml_session_free(s);
}

/* Patterns that must stay as they are. */
static void test_residual_negative(void) {
    res_opts cases[] = {
        {.c = shapes[2], .other = OTHER_SAME, .bias = true, .act = "Relu", .conv_out = true},
        {.c = shapes[3], .other = OTHER_SAME, .bias = true, .self_add = true},
        {.c = shapes[3], .other = OTHER_CHAN3, .bias = true, .act = "Relu", .w_input = true},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        for (size_t threads = 1; threads <= 2; threads++) {
            int r = res_check(&cases[i], threads);
            if (r >= 0) CHECK(r == 0);
        }
}

/* A constant other adding one value per channel is folded into the bias
 * (FusedConv without Z, no Add); other constants leave the Add alone, and
 * so does a bias that is not constant. */
static void test_residual_constant(void) {
    static const int channel_like[] = {OTHER_CHAN3, OTHER_CHAN4, OTHER_SCALAR};
    static const char *acts[] = {NULL, "Relu", "Clip"};
    for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++)
        for (size_t k = 0; k < 3; k++) {
            res_opts o = {.c = shapes[si],
                          .other = channel_like[k],
                          .other_first = (si + k) % 2,
                          .bias = (si + k) % 3 != 0,
                          .act = acts[(si + k) % 3],
                          .other_const = true};
            for (size_t threads = 1; threads <= 2; threads++) {
                int r = res_check(&o, threads);
                if (r >= 0) CHECK(r == 1);
            }
        }
    res_opts keep[] = {
        {.c = shapes[0], .other = OTHER_SAME, .bias = true, .act = "Relu", .other_const = true},
        {.c = shapes[2], .other = OTHER_LAST, .bias = true, .other_const = true},
        {.c = shapes[3], .other = OTHER_WIDER, .bias = false, .act = "Relu", .other_const = true},
        {.c = shapes[1], .other = OTHER_CHAN4, .bias = true, .b_input = true, .other_const = true},
    };
    for (size_t i = 0; i < sizeof keep / sizeof keep[0]; i++) {
        int r = res_check(&keep[i], 2);
        if (r >= 0) CHECK(r == 0);
    }
}

/* An `other` Add refuses is refused by the fused node as well. */
static void test_residual_bad_shape(void) {
    res_opts o = {
        .c = shapes[3], .other = OTHER_CHAN3, .bias = true, .act = "Relu", .bad_other = true};
    CHECK(res_check(&o, 1) == 1);
    CHECK(res_check(&o, 2) == 1);
}

int main(void) {
    RUN(test_residual_random);
    RUN(test_residual_add_output_read);
    RUN(test_residual_negative);
    RUN(test_residual_bad_shape);
    RUN(test_residual_constant);
    return TEST_SUMMARY();
}
