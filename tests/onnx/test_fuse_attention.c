/* The attention fusion (src/onnx/graph_fuse_attention.c) and its kernel
 * (src/ops/transformer_sdpa.c): every spelling of the pattern must fuse and
 * give the unfused graph's outputs; shapes off the kernel's fast path
 * (broadcast batch dims, a widening mask or Where condition, 1-D V, another
 * softmax axis, opset-11 softmax) must still match through its fallback; broken patterns
 * must stay unfused; invalid shapes must fail as they do unfused. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuse_check.h"
#include "model_builder.h"
#include "onnx/session.h"
#include "test.h"

typedef struct attn_opts {
    int opset;
    int rank;                 /* of Q, K, V (2..4) */
    int64_t q[4], k[4], v[4]; /* shapes (rank entries) */
    int mask_rank;            /* 0: no mask */
    int64_t mask[4];          /* mask shape */
    const char *scale;        /* NULL, "Mul", "MulFirst" (scalar first), "Div" */
    int scale_rank;           /* the scale as [1, ...] of this rank instead of a scalar */
    bool mask_first;          /* Add(mask, scores) */
    int64_t axis;             /* Softmax axis; 0 = attribute absent */
    int64_t scale_input;      /* > 0: the scale is a graph input of this length */
    bool scores_out;          /* the first MatMul's output is a graph output */
    int v_rank;               /* V's rank when it differs from Q's */
    int where;                /* 1: Where(c, fill, scores), 2: Where(c, scores, fill) */
    int cond_rank;            /* c: a bool constant of this shape */
    int64_t cond[4];
    float fill;
} attn_opts;

/* A bool constant with a mixed pattern (and a first row all false: fully
 * masked under Where(c, scores, fill)). */
static void cond_init(mb_model *b, const attn_opts *o) {
    size_t n = 1;
    for (int i = 0; i < o->cond_rank; i++) n *= (size_t)o->cond[i];
    uint8_t *c = calloc(n ? n : 1, 1);
    size_t last = o->cond_rank ? (size_t)o->cond[o->cond_rank - 1] : 1;
    for (size_t i = last; i < n; i++) c[i] = (i * 7 + i / last) % 3 != 0;
    mb_init_raw(b, "c", 9, o->cond_rank, o->cond, c, n);
    free(c);
}

static mb_model *attn_model(const attn_opts *o, fuse_case *c) {
    mb_model *b = mb_new(o->opset ? o->opset : 17);
    int vr = o->v_rank ? o->v_rank : o->rank;
    mb_input(b, "q", F32, o->rank, o->q);
    mb_input(b, "k", F32, o->rank, o->k);
    mb_input(b, "v", F32, vr, o->v);
    *c = (fuse_case){.n_in = 3,
                     .in_names = {"q", "k", "v"},
                     .ranks = {o->rank, o->rank, vr},
                     .n_out = 1,
                     .out_names = {"y"}};
    memcpy(c->dims[0], o->q, sizeof o->q);
    memcpy(c->dims[1], o->k, sizeof o->k);
    memcpy(c->dims[2], o->v, sizeof o->v);
    mb_node(b, "MatMul", "q,k", "scores");
    const char *cur = "scores";
    if (o->scale) {
        if (o->scale_input) {
            int64_t d1[] = {o->scale_input};
            mb_input(b, "s", F32, 1, d1);
            c->in_names[c->n_in] = "s";
            c->ranks[c->n_in] = 1;
            c->dims[c->n_in][0] = o->scale_input;
            c->n_in++;
        } else if (o->scale_rank) {
            int64_t d1[] = {1, 1, 1, 1};
            float v = 0.5f;
            mb_init_f32(b, "s", o->scale_rank, d1, &v, 0);
        } else {
            fuse_scalar(b, "s", strcmp(o->scale, "Div") == 0 ? 2.5f : 0.35f);
        }
        if (strcmp(o->scale, "MulFirst") == 0)
            mb_node(b, "Mul", "s,scores", "scaled");
        else
            mb_node(b, o->scale, "scores,s", "scaled");
        cur = "scaled";
    }
    if (o->where) {
        cond_init(b, o);
        fuse_scalar(b, "fill", o->fill);
        char where_in[32];
        snprintf(where_in, sizeof where_in, o->where == 1 ? "c,fill,%s" : "c,%s,fill", cur);
        mb_node(b, "Where", where_in, "picked");
        cur = "picked";
    }
    if (o->mask_rank) {
        mb_input(b, "mask", F32, o->mask_rank, o->mask);
        c->in_names[c->n_in] = "mask";
        c->ranks[c->n_in] = o->mask_rank;
        memcpy(c->dims[c->n_in], o->mask, sizeof o->mask);
        c->n_in++;
        char add_in[32];
        snprintf(add_in, sizeof add_in, o->mask_first ? "mask,%s" : "%s,mask", cur);
        mb_node(b, "Add", add_in, "masked");
        cur = "masked";
    }
    mb_node(b, "Softmax", cur, "p");
    if (o->axis) mb_attr_int(b, "axis", o->axis);
    mb_node(b, "MatMul", "p,v", "y");
    mb_output(b, "y", F32);
    if (o->scores_out) mb_output(b, "scores", F32);
    return b;
}

/* Builds, checks fused == unfused and reports whether it fused. */
static bool fused(const attn_opts *o) {
    fuse_case c;
    mb_model *b = attn_model(o, &c);
    ml_session *s = fuse_check_same(b, &c, 1e-5);
    if (!s) return false;
    bool yes = ml_session_uses_op(s, "ScaledDotProductAttention");
    if (yes) CHECK(!ml_session_uses_op(s, "Softmax"));
    ml_session_free(s);
    return yes;
}

#define BERT_SHAPES .rank = 4, .q = {2, 3, 5, 4}, .k = {2, 3, 4, 6}, .v = {2, 3, 6, 7}

static void test_spellings(void) {
    attn_opts cases[] = {
        {BERT_SHAPES, .scale = "Div", .mask_rank = 4, .mask = {2, 1, 1, 6}, .axis = -1},
        {BERT_SHAPES, .scale = "Mul", .mask_rank = 2, .mask = {5, 6}, .mask_first = true},
        {BERT_SHAPES, .scale = "MulFirst", .axis = -1},
        {BERT_SHAPES, .scale = "Mul", .scale_rank = 1, .mask_rank = 1, .mask = {6}},
        {BERT_SHAPES}, /* neither scale nor mask */
        {.rank = 3, .q = {4, 9, 8}, .k = {4, 8, 9}, .v = {4, 9, 8}, .scale = "Div"},
        {.rank = 2,
         .q = {5, 3},
         .k = {3, 7},
         .v = {7, 2},
         .scale = "Mul",
         .mask_rank = 2,
         .mask = {5, 7}},
        /* long rows: several row blocks per task list, and empty dims */
        {.rank = 3,
         .q = {1, 70, 16},
         .k = {1, 16, 300},
         .v = {1, 300, 5},
         .scale = "Div",
         .mask_rank = 3,
         .mask = {1, 70, 300}},
        {.rank = 3, .q = {2, 0, 4}, .k = {2, 4, 6}, .v = {2, 6, 3}, .scale = "Div"},
        {.rank = 3, .q = {2, 5, 0}, .k = {2, 0, 6}, .v = {2, 6, 3}, .scale = "Div"},
        {.rank = 3, .q = {2, 5, 4}, .k = {2, 4, 0}, .v = {2, 0, 3}, .scale = "Div"},
        /* GPT-2's causal mask, both Where forms, with and without a padding mask */
        {BERT_SHAPES, .scale = "Div", .where = 1, .cond_rank = 2, .cond = {5, 6},
         .fill = -INFINITY},
        {BERT_SHAPES, .scale = "Div", .where = 2, .cond_rank = 4, .cond = {1, 1, 5, 6},
         .fill = -10000.0f, .mask_rank = 4, .mask = {2, 1, 1, 6}},
        {BERT_SHAPES, .where = 2, .cond_rank = 1, .cond = {6}, .fill = -3.0f},
        /* a scale computed at run time (GPT-2 takes it from the shapes) */
        {BERT_SHAPES, .scale = "Mul", .scale_input = 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        bool f = fused(&cases[i]);
        if (!f) fprintf(stderr, "    case %zu did not fuse\n", i);
        CHECK(f);
    }
}

/* Fused, but the kernel's fast path declines: the fallback must give the
 * unfused result exactly. */
static void test_fallback_shapes(void) {
    attn_opts cases[] = {
        /* K's batch broadcasts */
        {.rank = 4, .q = {2, 3, 5, 4}, .k = {1, 3, 4, 6}, .v = {2, 3, 6, 7}, .scale = "Div"},
        /* the mask widens the scores from batch 1 to 2 */
        {.rank = 4,
         .q = {1, 3, 5, 4},
         .k = {1, 3, 4, 6},
         .v = {1, 3, 6, 7},
         .scale = "Mul",
         .mask_rank = 4,
         .mask = {2, 1, 5, 6}},
        /* 1-D V: P @ v drops the last axis */
        {.rank = 3, .q = {2, 5, 4}, .k = {2, 4, 6}, .v = {6}, .v_rank = 1, .scale = "Div"},
        /* softmax over another axis */
        {BERT_SHAPES, .scale = "Div", .axis = 2},
        /* opset 11: the default axis 1 coerces to 2-D */
        {BERT_SHAPES, .opset = 11, .scale = "Div"},
        /* a "scale" of one value per column */
        {BERT_SHAPES, .scale = "Div", .scale_input = 6},
        /* c widens the scores from batch 1 to 2 */
        {.rank = 4,
         .q = {1, 3, 5, 4},
         .k = {1, 3, 4, 6},
         .v = {1, 3, 6, 7},
         .where = 2,
         .cond_rank = 4,
         .cond = {2, 1, 5, 6},
         .fill = -1e9f},
        /* a [1, 1, 1] scale widens 2-D scores to 3-D */
        {.rank = 2, .q = {5, 3}, .k = {3, 7}, .v = {7, 2}, .scale = "Mul", .scale_rank = 3},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        bool f = fused(&cases[i]);
        if (!f) fprintf(stderr, "    case %zu did not fuse\n", i);
        CHECK(f);
    }
}

static uint32_t rng_state = 12345u;

static int rnd(int n) { /* 0 .. n-1 */
    rng_state = rng_state * 1664525u + 1013904223u;
    return (int)((rng_state >> 8) % (uint32_t)n);
}

/* A broadcast operand's shape: each of the scores' dims kept, 1, or (where
 * the scores have 1) widened to 2; leading dims may be dropped. */
static int random_bcast(int r, const int64_t *scores, int64_t *out) {
    int rank = r - rnd(r + 1);
    for (int d = 0; d < rank; d++) {
        int64_t full = scores[r - rank + d];
        int pick = rnd(8);
        out[d] = pick < 4 ? full : pick < 7 ? 1 : full == 1 ? 2 : full;
    }
    return rank;
}

/* Random valid shapes and spellings, many off the kernel's fast path: the
 * fused graph must always equal the unfused one. */
static void test_random(void) {
    static const char *scales[] = {NULL, "Mul", "MulFirst", "Div"};
    int n_fused = 0, n = 200;
    for (int it = 0; it < n; it++) {
        attn_opts o = {.rank = 2 + rnd(3)};
        int r = o.rank;
        int64_t S = rnd(10) ? 1 + rnd(9) : 0, D = rnd(10) ? 1 + rnd(6) : 0, T = 1 + rnd(40),
                Dv = 1 + rnd(5);
        for (int d = 0; d < r - 2; d++) {
            o.q[d] = 1 + rnd(3);
            o.k[d] = rnd(5) ? o.q[d] : 1; /* K's batch may broadcast */
            o.v[d] = rnd(5) ? o.q[d] : 1;
        }
        o.q[r - 2] = S, o.q[r - 1] = D;
        o.k[r - 2] = D, o.k[r - 1] = T;
        o.v[r - 2] = T, o.v[r - 1] = Dv;
        int64_t scores[4];
        for (int d = 0; d < r - 2; d++) scores[d] = o.q[d] > o.k[d] ? o.q[d] : o.k[d];
        scores[r - 2] = S, scores[r - 1] = T;
        o.scale = scales[rnd(4)];
        if (o.scale && rnd(3) == 0) o.scale_rank = 1 + rnd(r); /* [1, ...], may widen */
        if (rnd(2)) {
            o.where = 1 + rnd(2);
            o.cond_rank = random_bcast(r, scores, o.cond);
            o.fill = rnd(2) ? -INFINITY : -1e4f;
        }
        if (rnd(2)) {
            o.mask_rank = random_bcast(r, scores, o.mask);
            o.mask_first = rnd(2);
        }
        int ax = rnd(6);
        o.axis = ax < 3 ? 0 : ax < 5 ? -1 : r - 1 - rnd(r); /* sometimes another axis */
        if (o.axis == 0 && rnd(2)) o.opset = 11;            /* the old default axis 1 */
        bool f = fused(&o);
        n_fused += f;
        if (!f) fprintf(stderr, "    random case %d did not fuse\n", it);
    }
    printf("    random: %d of %d shapes fused and equal to the unfused graph\n", n_fused, n);
    CHECK_EQ_INT(n_fused, n);
}

static void test_negative(void) {
    attn_opts cases[] = {
        {BERT_SHAPES, .scale = "Div", .scores_out = true}, /* scores read twice */
        {BERT_SHAPES, .where = 1, .cond_rank = 2, .cond = {5, 6}, .fill = 0.0f,
         .scores_out = true} /* scores read by the Where and as an output */,
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fuse_case c;
        mb_model *b = attn_model(&cases[i], &c);
        ml_session *s = fuse_check_same(b, &c, 1e-6);
        if (!s) continue;
        CHECK(!ml_session_uses_op(s, "ScaledDotProductAttention"));
        CHECK(ml_session_uses_op(s, "Softmax"));
        ml_session_free(s);
    }
}

/* Shapes MatMul refuses: the fused graph fails with the MatMul's error. */
static void test_invalid_shapes(void) {
    attn_opts o = {BERT_SHAPES, .scale = "Div"};
    fuse_case c;
    mb_model *b = attn_model(&o, &c);
    size_t len;
    uint8_t *bytes = mb_serialize(b, &len);
    mb_free(b);
    ml_session_options so;
    ml_session_options_init(&so);
    ml_session *s = NULL;
    CHECK_OK(ml_session_load_bytes(bytes, len, NULL, &so, &s));
    free(bytes);
    if (!s) return;
    CHECK(ml_session_uses_op(s, "ScaledDotProductAttention"));
    int64_t dq[] = {2, 3, 5, 4}, dk[] = {2, 3, 5, 6}, dv[] = {2, 3, 6, 7};
    ml_value *in[3] = {f32_value(4, dq, 1), f32_value(4, dk, 2), f32_value(4, dv, 3)};
    const char *names[] = {"q", "k", "v"};
    ml_value *y = NULL;
    ml_status st = ml_session_run(s, 3, names, in, 1, NULL, &y);
    CHECK(st != NULL && y == NULL);
    if (st) {
        CHECK(strstr(ml_status_message(st), "MatMul") != NULL);
        ml_status_free(st);
    }
    for (int i = 0; i < 3; i++) ml_value_free(in[i]);
    ml_value_free(y);
    ml_session_free(s);
}

int main(void) {
    RUN(test_spellings);
    RUN(test_fallback_shapes);
    RUN(test_random);
    RUN(test_negative);
    RUN(test_invalid_shapes);
    return TEST_SUMMARY();
}
