/* Conv and ConvTranspose against naive reference loops, over strides, pads,
 * dilations, groups (incl. depthwise), auto_pad, 1-D/3-D and dtypes. */
#include <math.h>
#include <stdlib.h>

#include "core/dtype.h"
#include "core/threadpool.h"
#include "ops/conv_internal.h"
#include "ops/gemm_fast.h"
#include "ops/harness.h"
#include "test.h"

typedef struct cfg {
    int64_t N, C, H, W, M, G, kh, kw, sh, sw, dh, dw, pt, pl, pb, pr;
} cfg;

static void fill(float *v, size_t n, unsigned seed) {
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        v[i] = (float)((seed >> 16) % 2001) / 1000.0f - 1.0f;
    }
}

static int64_t conv_out(int64_t in, int64_t k, int64_t s, int64_t d, int64_t p0, int64_t p1) {
    return (in + p0 + p1 - ((k - 1) * d + 1)) / s + 1;
}

static void ref_conv(const cfg *c, const float *x, const float *w, const float *b, float *y) {
    int64_t OH = conv_out(c->H, c->kh, c->sh, c->dh, c->pt, c->pb);
    int64_t OW = conv_out(c->W, c->kw, c->sw, c->dw, c->pl, c->pr);
    int64_t Cg = c->C / c->G, Mg = c->M / c->G;
    for (int64_t n = 0; n < c->N; n++)
        for (int64_t m = 0; m < c->M; m++)
            for (int64_t oh = 0; oh < OH; oh++)
                for (int64_t ow = 0; ow < OW; ow++) {
                    double acc = b ? b[m] : 0;
                    int64_t g = m / Mg;
                    for (int64_t ci = 0; ci < Cg; ci++)
                        for (int64_t i = 0; i < c->kh; i++)
                            for (int64_t j = 0; j < c->kw; j++) {
                                int64_t ih = oh * c->sh - c->pt + i * c->dh;
                                int64_t iw = ow * c->sw - c->pl + j * c->dw;
                                if (ih < 0 || ih >= c->H || iw < 0 || iw >= c->W) continue;
                                acc += x[((n * c->C + g * Cg + ci) * c->H + ih) * c->W + iw] *
                                       w[((m * Cg + ci) * c->kh + i) * c->kw + j];
                            }
                    y[((n * c->M + m) * OH + oh) * OW + ow] = (float)acc;
                }
}

/* A 2-D Conv node for c; its attributes live in a, which must outlive it. */
typedef struct conv2d_attrs {
    int64_t st[2], dl[2], pads[4];
    ml_attr attrs[4];
} conv2d_attrs;

static ml_node conv2d_node(const cfg *c, conv2d_attrs *a) {
    a->st[0] = c->sh, a->st[1] = c->sw;
    a->dl[0] = c->dh, a->dl[1] = c->dw;
    a->pads[0] = c->pt, a->pads[1] = c->pl, a->pads[2] = c->pb, a->pads[3] = c->pr;
    a->attrs[0] = ml_test_attr_int("group", c->G);
    a->attrs[1] = ml_test_attr_ints("strides", a->st, 2);
    a->attrs[2] = ml_test_attr_ints("dilations", a->dl, 2);
    a->attrs[3] = ml_test_attr_ints("pads", a->pads, 4);
    return (ml_node){
        .name = "c", .op_type = "Conv", .domain = "", .opset = 11, .n_attrs = 4, .attrs = a->attrs};
}

static void run_conv_case(const cfg *c, bool bias) {
    int64_t xd[] = {c->N, c->C, c->H, c->W}, wd[] = {c->M, c->C / c->G, c->kh, c->kw},
            bd[] = {c->M};
    size_t nx = (size_t)(c->N * c->C * c->H * c->W),
           nw = (size_t)(c->M * (c->C / c->G) * c->kh * c->kw);
    float *x = malloc(nx * sizeof(float) + 4), *w = malloc(nw * sizeof(float) + 4), bv[64];
    fill(x, nx, 1);
    fill(w, nw, 2);
    fill(bv, (size_t)c->M, 3);
    ml_tensor *tx = ml_test_f32(4, xd, x), *tw = ml_test_f32(4, wd, w),
              *tb = ml_test_f32(1, bd, bv);
    conv2d_attrs a;
    conv2d_node(c, &a);
    ml_tensor *y = NULL;
    CHECK_OK(ml_test_run("", "Conv", 11, a.attrs, 4, bias ? 3 : 2,
                         (const ml_tensor *[]){tx, tw, tb}, 1, &y));
    int64_t OH = conv_out(c->H, c->kh, c->sh, c->dh, c->pt, c->pb);
    int64_t OW = conv_out(c->W, c->kw, c->sw, c->dw, c->pl, c->pr);
    size_t ny = (size_t)(c->N * c->M * OH * OW);
    float *want = malloc(ny * sizeof(float) + 4);
    ref_conv(c, x, w, bias ? bv : NULL, want);
    CHECK(y != NULL);
    if (y) {
        CHECK(y->rank == 4 && y->dims[0] == c->N && y->dims[1] == c->M && y->dims[2] == OH &&
              y->dims[3] == OW);
        if (ml_tensor_numel(y) == ny)
            for (size_t i = 0; i < ny; i++) CHECK_NEAR(((float *)y->data)[i], want[i], 1e-4);
    }
    ml_tensor_free(y);
    ml_tensor_free(tx);
    ml_tensor_free(tw);
    ml_tensor_free(tb);
    free(x);
    free(w);
    free(want);
}

static void test_conv_2d_variants(void) {
    cfg cases[] = {
        {1, 3, 5, 5, 4, 1, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1}, /* same-size 3x3 */
        {2, 4, 7, 6, 6, 2, 3, 2, 2, 1, 1, 1, 1, 0, 0, 1}, /* groups, strides, asymmetric pads */
        {1, 2, 8, 8, 2, 1, 3, 3, 1, 1, 2, 2, 2, 2, 2, 2}, /* dilation */
        {1, 6, 6, 6, 6, 6, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1}, /* depthwise */
        {2, 3, 5, 6, 6, 3, 3, 3, 2, 1, 1, 2, 1, 0, 2, 1}, /* depthwise x2 multiplier, dilated */
        {1, 4, 9, 9, 4, 4, 3, 3, 2, 3, 1, 1, 0, 1, 1, 2}, /* depthwise strided */
        {2, 5, 4, 3, 7, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0}, /* pointwise fast path */
        {1, 3, 9, 9, 2, 1, 1, 1, 3, 2, 1, 1, 0, 0, 0, 0}, /* strided 1x1 */
        {1, 1, 3, 3, 1, 1, 3, 3, 1, 1, 1, 1, 0, 0, 0, 0}, /* single output */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        run_conv_case(&cases[i], true);
        run_conv_case(&cases[i], false);
    }
}

static void test_conv_auto_pad_1d_3d(void) {
    /* 1-D SAME_LOWER, stride 2: out = ceil(5/2) = 3, total pad 2 -> 1/1 */
    float x[] = {1, 2, 3, 4, 5}, w[] = {1, 1, 1};
    ml_tensor *tx = ml_test_f32(3, (int64_t[]){1, 1, 5}, x),
              *tw = ml_test_f32(3, (int64_t[]){1, 1, 3}, w);
    int64_t st[] = {2};
    ml_attr attrs[] = {ml_test_attr_string("auto_pad", "SAME_LOWER"),
                       ml_test_attr_ints("strides", st, 1)};
    ml_tensor *y = NULL;
    CHECK_OK(ml_test_run("", "Conv", 11, attrs, 2, 2, (const ml_tensor *[]){tx, tw}, 1, &y));
    CHECK(y && y->rank == 3 && y->dims[2] == 3);
    if (y && y->dims[2] == 3) {
        float *d = y->data;
        CHECK_NEAR(d[0], 3, 1e-6);
        CHECK_NEAR(d[1], 9, 1e-6);
        CHECK_NEAR(d[2], 9, 1e-6);
    }
    ml_tensor_free(y);
    /* SAME_UPPER with an even kernel puts the extra pad at the end */
    float w2[] = {1, 1};
    ml_tensor *tw2 = ml_test_f32(3, (int64_t[]){1, 1, 2}, w2);
    ml_attr up = ml_test_attr_string("auto_pad", "SAME_UPPER");
    CHECK_OK(ml_test_run("", "Conv", 11, &up, 1, 2, (const ml_tensor *[]){tx, tw2}, 1, &y));
    if (y) {
        float *d = y->data;
        CHECK(y->dims[2] == 5);
        CHECK_NEAR(d[0], 3, 1e-6);
        CHECK_NEAR(d[4], 5, 1e-6);
    }
    ml_tensor_free(y);
    /* 3-D: a 2x2x2 box sum over a 3x3x3 cube of ones gives 8 everywhere */
    float cube[27], box[8];
    for (int i = 0; i < 27; i++) cube[i] = 1;
    for (int i = 0; i < 8; i++) box[i] = 1;
    ml_tensor *t3 = ml_test_f32(5, (int64_t[]){1, 1, 3, 3, 3}, cube),
              *k3 = ml_test_f32(5, (int64_t[]){1, 1, 2, 2, 2}, box);
    CHECK_OK(ml_test_run("", "Conv", 11, NULL, 0, 2, (const ml_tensor *[]){t3, k3}, 1, &y));
    CHECK(y && y->rank == 5 && y->dims[2] == 2 && y->dims[3] == 2 && y->dims[4] == 2);
    if (y)
        for (size_t i = 0; i < ml_tensor_numel(y); i++) CHECK_NEAR(((float *)y->data)[i], 8, 1e-6);
    ml_tensor_free(y);
    ml_tensor_free(tx);
    ml_tensor_free(tw);
    ml_tensor_free(tw2);
    ml_tensor_free(t3);
    ml_tensor_free(k3);
}

static void test_conv_dtypes_and_errors(void) {
    double x[] = {1, 2, 3, 4}, w[] = {0.5};
    ml_tensor *tx = ml_test_tensor(ML_DOUBLE, 4, (int64_t[]){1, 1, 2, 2}, x),
              *tw = ml_test_tensor(ML_DOUBLE, 4, (int64_t[]){1, 1, 1, 1}, w);
    ml_tensor *y = NULL;
    CHECK_OK(ml_test_run("", "Conv", 11, NULL, 0, 2, (const ml_tensor *[]){tx, tw}, 1, &y));
    CHECK(y && y->dtype == ML_DOUBLE && ((double *)y->data)[3] == 2.0);
    ml_tensor_free(y);
    uint16_t hx[] = {ml_float_to_fp16(1), ml_float_to_fp16(2)}, hw[] = {ml_float_to_fp16(3)};
    ml_tensor *fx = ml_test_tensor(ML_FLOAT16, 3, (int64_t[]){1, 1, 2}, hx),
              *fw = ml_test_tensor(ML_FLOAT16, 3, (int64_t[]){1, 1, 1}, hw);
    CHECK_OK(ml_test_run("", "Conv", 11, NULL, 0, 2, (const ml_tensor *[]){fx, fw}, 1, &y));
    CHECK(y && y->dtype == ML_FLOAT16 && ml_fp16_to_float(((uint16_t *)y->data)[1]) == 6.0f);
    ml_tensor_free(y);
    /* empty batch */
    ml_tensor *ex = ml_test_f32(4, (int64_t[]){0, 1, 2, 2}, NULL),
              *ew = ml_test_f32(4, (int64_t[]){3, 1, 1, 1}, NULL);
    CHECK_OK(ml_test_run("", "Conv", 11, NULL, 0, 2, (const ml_tensor *[]){ex, ew}, 1, &y));
    CHECK(y && y->dims[0] == 0 && y->dims[1] == 3);
    ml_tensor_free(y);
    ml_tensor *out;
    ml_tensor *x4 = ml_test_f32(4, (int64_t[]){1, 4, 3, 3}, NULL),
              *w3 = ml_test_f32(4, (int64_t[]){2, 3, 1, 1}, NULL),
              *big = ml_test_f32(4, (int64_t[]){1, 4, 5, 5}, NULL);
    CHECK_ERR(ml_test_run("", "Conv", 11, NULL, 0, 2, (const ml_tensor *[]){x4, w3}, 1, &out),
              ML_ERR_INVALID_ARGUMENT); /* channel mismatch */
    ml_attr g3 = ml_test_attr_int("group", 3);
    CHECK_ERR(ml_test_run("", "Conv", 11, &g3, 1, 2, (const ml_tensor *[]){x4, w3}, 1, &out),
              ML_ERR_INVALID_ARGUMENT); /* group does not divide */
    CHECK_ERR(ml_test_run("", "Conv", 11, NULL, 0, 2, (const ml_tensor *[]){x4, big}, 1, &out),
              ML_ERR_INVALID_ARGUMENT); /* kernel larger than input */
    ml_attr ap = ml_test_attr_string("auto_pad", "SAME");
    ml_tensor *w4 = ml_test_f32(4, (int64_t[]){1, 4, 1, 1}, NULL);
    CHECK_ERR(ml_test_run("", "Conv", 11, &ap, 1, 2, (const ml_tensor *[]){x4, w4}, 1, &out),
              ML_ERR_INVALID_ARGUMENT);
    int64_t neg[] = {-1, 0, 0, 0};
    ml_attr np = ml_test_attr_ints("pads", neg, 4);
    CHECK_ERR(ml_test_run("", "Conv", 11, &np, 1, 2, (const ml_tensor *[]){x4, w4}, 1, &out),
              ML_ERR_INVALID_ARGUMENT);
    /* hostile pads: the output size is refused before any allocation */
    int64_t huge[] = {1 << 29, 1 << 29, 1 << 29, 1 << 29, 1 << 29, 1 << 29};
    ml_attr hp = ml_test_attr_ints("pads", huge, 6);
    ml_tensor *c3 = ml_test_f32(5, (int64_t[]){1, 1, 1, 1, 1}, NULL),
              *k3 = ml_test_f32(5, (int64_t[]){1, 1, 1, 1, 1}, NULL);
    CHECK_ERR(ml_test_run("", "Conv", 11, &hp, 1, 2, (const ml_tensor *[]){c3, k3}, 1, &out),
              ML_ERR_RESOURCE_EXHAUSTED);
    ml_tensor_free(c3);
    ml_tensor_free(k3);
    ml_tensor_free(tx);
    ml_tensor_free(tw);
    ml_tensor_free(fx);
    ml_tensor_free(fw);
    ml_tensor_free(ex);
    ml_tensor_free(ew);
    ml_tensor_free(x4);
    ml_tensor_free(w3);
    ml_tensor_free(w4);
    ml_tensor_free(big);
}

/* ConvTranspose reference: scatter every input into the output window. */
static void test_conv_transpose(void) {
    int64_t N = 2, C = 4, H = 3, W = 4, G = 2, Mg = 3, kh = 3, kw = 2, sh = 2, sw = 3, dh = 2,
            dw = 1;
    int64_t pt = 1, pl = 0, pb = 2, pr = 1, oph = 1, opw = 0;
    int64_t OH = sh * (H - 1) + oph + (kh - 1) * dh + 1 - pt - pb;
    int64_t OW = sw * (W - 1) + opw + (kw - 1) * dw + 1 - pl - pr;
    int64_t M = Mg * G, Cg = C / G;
    float x[2 * 4 * 3 * 4], w[4 * 3 * 3 * 2], b[6];
    fill(x, sizeof x / sizeof x[0], 5);
    fill(w, sizeof w / sizeof w[0], 6);
    fill(b, 6, 7);
    float *want = calloc((size_t)(N * M * OH * OW), sizeof(float));
    for (int64_t n = 0; n < N; n++)
        for (int64_t c = 0; c < C; c++)
            for (int64_t ih = 0; ih < H; ih++)
                for (int64_t iw = 0; iw < W; iw++)
                    for (int64_t m = 0; m < Mg; m++)
                        for (int64_t i = 0; i < kh; i++)
                            for (int64_t j = 0; j < kw; j++) {
                                int64_t oh = ih * sh - pt + i * dh, ow = iw * sw - pl + j * dw;
                                if (oh < 0 || oh >= OH || ow < 0 || ow >= OW) continue;
                                int64_t g = c / Cg, om = g * Mg + m;
                                want[((n * M + om) * OH + oh) * OW + ow] +=
                                    x[((n * C + c) * H + ih) * W + iw] *
                                    w[((c * Mg + m) * kh + i) * kw + j];
                            }
    for (int64_t n = 0; n < N; n++)
        for (int64_t m = 0; m < M; m++)
            for (int64_t i = 0; i < OH * OW; i++) want[(n * M + m) * OH * OW + i] += b[m];
    ml_tensor *tx = ml_test_f32(4, (int64_t[]){N, C, H, W}, x),
              *tw = ml_test_f32(4, (int64_t[]){C, Mg, kh, kw}, w),
              *tb = ml_test_f32(1, (int64_t[]){M}, b);
    int64_t st[] = {sh, sw}, dl[] = {dh, dw}, pads[] = {pt, pl, pb, pr}, op[] = {oph, opw};
    ml_attr attrs[] = {ml_test_attr_ints("strides", st, 2), ml_test_attr_ints("dilations", dl, 2),
                       ml_test_attr_ints("pads", pads, 4),
                       ml_test_attr_ints("output_padding", op, 2), ml_test_attr_int("group", G)};
    ml_tensor *y = NULL;
    CHECK_OK(ml_test_run("", "ConvTranspose", 11, attrs, 5, 3, (const ml_tensor *[]){tx, tw, tb}, 1,
                         &y));
    CHECK(y && y->dims[0] == N && y->dims[1] == M && y->dims[2] == OH && y->dims[3] == OW);
    if (y && y->dims[2] == OH && y->dims[3] == OW)
        for (size_t i = 0; i < ml_tensor_numel(y); i++)
            CHECK_NEAR(((float *)y->data)[i], want[i], 1e-4);
    ml_tensor_free(y);
    /* output_shape larger than the natural size pads zeros at the end */
    int64_t os[] = {OH + 2, OW + 1};
    ml_attr attrs2[] = {ml_test_attr_ints("strides", st, 2), ml_test_attr_ints("dilations", dl, 2),
                        ml_test_attr_ints("output_shape", os, 2), ml_test_attr_int("group", G)};
    CHECK_OK(
        ml_test_run("", "ConvTranspose", 11, attrs2, 4, 2, (const ml_tensor *[]){tx, tw}, 1, &y));
    CHECK(y && y->dims[2] == OH + 2 && y->dims[3] == OW + 1);
    ml_tensor_free(y);
    ml_tensor *out;
    ml_tensor *badw = ml_test_f32(4, (int64_t[]){3, Mg, kh, kw}, NULL);
    CHECK_ERR(
        ml_test_run("", "ConvTranspose", 11, attrs, 5, 2, (const ml_tensor *[]){tx, badw}, 1, &out),
        ML_ERR_INVALID_ARGUMENT);
    free(want);
    ml_tensor_free(tx);
    ml_tensor_free(tw);
    ml_tensor_free(tb);
    ml_tensor_free(badw);
}

/* The slice-parallel path (several images x groups on a thread pool) must
 * match the serial one exactly. */
static void test_conv_thread_pool(void) {
    ml_threadpool *pool = NULL;
    CHECK_OK(ml_threadpool_create(3, &pool));
    if (!pool) return;
    int64_t xd[] = {3, 4, 6, 5}, wd[] = {6, 2, 3, 3};
    float x[3 * 4 * 6 * 5], w[6 * 2 * 3 * 3], b[6];
    fill(x, sizeof x / sizeof x[0], 11);
    fill(w, sizeof w / sizeof w[0], 12);
    fill(b, 6, 13);
    ml_tensor *tx = ml_test_f32(4, xd, x), *tw = ml_test_f32(4, wd, w);
    int64_t pads[] = {1, 0, 1, 2};
    ml_attr attrs[] = {ml_test_attr_int("group", 2), ml_test_attr_ints("pads", pads, 4)};
    ml_node node = {
        .name = "c", .op_type = "Conv", .domain = "", .opset = 11, .n_attrs = 2, .attrs = attrs};
    nn_conv_dims cd;
    CHECK_OK(nn_conv_dims_init(&node, tx, tw, &cd));
    size_t ny = (size_t)(cd.N * cd.M * cd.out_sp);
    float *y1 = malloc(ny * sizeof(float)), *y2 = malloc(ny * sizeof(float));
    CHECK_OK(nn_conv_f32(&node, NULL, &cd, x, w, b, y1));
    CHECK_OK(nn_conv_f32(&node, pool, &cd, x, w, b, y2));
    for (size_t i = 0; i < ny; i++) CHECK(y1[i] == y2[i]);
    free(y1);
    free(y2);
    ml_tensor_free(tx);
    ml_tensor_free(tw);
    ml_threadpool_destroy(pool);
}

/* Batch-1 convolutions big enough to be cut into bands of output rows (each
 * band its own im2col + GEMM, spread over the pool): every band boundary,
 * stride, padding and pointwise case must match the reference. */
static void test_conv_tiled_bands(void) {
    ml_threadpool *pool = NULL;
    CHECK_OK(ml_threadpool_create(2, &pool));
    if (!pool) return;
    static const cfg cases[] = {
        /* 288 rows x 40 columns per output row -> 5-row bands, partial last */
        {1, 32, 23, 40, 16, 1, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1},
        /* strided, dilated, asymmetric pads, two groups */
        {1, 32, 30, 37, 8, 2, 3, 3, 2, 2, 2, 1, 2, 0, 1, 3},
        /* pointwise: the GEMM reads X directly, banded by rows */
        {2, 64, 33, 35, 24, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0},
        /* one output row needs an 18 MB column matrix: the untiled path */
        {1, 512, 1, 1000, 2, 1, 1, 9, 1, 1, 1, 1, 0, 0, 0, 0},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        const cfg *c = &cases[k];
        int64_t xd[] = {c->N, c->C, c->H, c->W}, wd[] = {c->M, c->C / c->G, c->kh, c->kw};
        size_t nx = (size_t)(c->N * c->C * c->H * c->W),
               nw = (size_t)(c->M * (c->C / c->G) * c->kh * c->kw);
        float *x = malloc(nx * sizeof(float)), *w = malloc(nw * sizeof(float)), b[64];
        if (!x || !w) {
            free(x);
            free(w);
            continue;
        }
        fill(x, nx, 21);
        fill(w, nw, 22);
        fill(b, (size_t)c->M, 23);
        ml_tensor *tx = ml_test_f32(4, xd, x), *tw = ml_test_f32(4, wd, w);
        conv2d_attrs a;
        ml_node node = conv2d_node(c, &a);
        nn_conv_dims cd;
        CHECK_OK(nn_conv_dims_init(&node, tx, tw, &cd));
        size_t ny = (size_t)(cd.N * cd.M * cd.out_sp);
        float *want = malloc(ny * sizeof(float)), *y1 = malloc(ny * sizeof(float)),
              *y2 = malloc(ny * sizeof(float));
        ref_conv(c, x, w, b, want);
        CHECK_OK(nn_conv_f32(&node, NULL, &cd, x, w, b, y1));
        CHECK_OK(nn_conv_f32(&node, pool, &cd, x, w, b, y2));
        for (size_t i = 0; i < ny; i++) {
            CHECK_NEAR(y1[i], want[i], 1e-4);
            CHECK_NEAR(y2[i], want[i], 1e-4);
        }
        if (k == 3) {
            /* the same in float16 with W a load-time constant: only the packed
             * weights exist, and the untiled path must unpack them */
            uint16_t *xh = malloc(nx * 2), *wh = malloc(nw * 2);
            for (size_t i = 0; i < nx; i++) xh[i] = ml_float_to_fp16(x[i]);
            for (size_t i = 0; i < nw; i++) wh[i] = ml_float_to_fp16(w[i]);
            for (size_t i = 0; i < nx; i++) x[i] = ml_fp16_to_float(xh[i]);
            for (size_t i = 0; i < nw; i++) w[i] = ml_fp16_to_float(wh[i]);
            ref_conv(c, x, w, NULL, want);
            ml_tensor *txh = ml_test_tensor(ML_FLOAT16, 4, xd, xh),
                      *twh = ml_test_tensor(ML_FLOAT16, 4, wd, wh);
            ml_tensor *yh = NULL;
            CHECK_OK(ml_test_run_const("", "Conv", 11, a.attrs, 4, 2,
                                       (const ml_tensor *[]){txh, twh}, 0x2u, 1, &yh));
            CHECK(yh != NULL && ml_tensor_numel(yh) == ny);
            if (yh && ml_tensor_numel(yh) == ny)
                for (size_t i = 0; i < ny; i++)
                    CHECK_NEAR(ml_tensor_get_f64(yh, i), want[i], 0.05 + 2e-3 * fabs(want[i]));
            ml_tensor_free(yh);
            ml_tensor_free(txh);
            ml_tensor_free(twh);
            free(xh);
            free(wh);
        }
        free(want);
        free(y1);
        free(y2);
        free(x);
        free(w);
        ml_tensor_free(tx);
        ml_tensor_free(tw);
    }
    ml_threadpool_destroy(pool);
}

/* The implicit-GEMM conv cut into tasks (gemm_conv.c): bands of output rows,
 * each copying only the padded input rows it reads, times blocks of output
 * channels. Every split (1, 2 and 3 threads; batch 1 and 2; bands with a
 * short last one; channel blocks with a short last one; strides, dilations,
 * asymmetric pads, groups; rows as GEMM segments and through the
 * temporary), with bias, Z and an activation, must match a naive reference. */
static void test_conv_split_matches_reference(void) {
    static const cfg cases[] = {
        /* N  C   H   W   M  G kh kw sh sw dh dw pt pl pb pr */
        {1, 32, 32, 32, 32, 1, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1}, /* ResNet block: 8-row bands */
        {1, 16, 37, 32, 24, 1, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1}, /* short last band, 3 strips */
        {1, 24, 29, 28, 40, 1, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1}, /* 28 wide: via the temporary */
        {1, 64, 7, 7, 96, 1, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1},   /* channel blocks only */
        {1, 32, 14, 14, 60, 1, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1}, /* blocks, short last block */
        {1, 16, 41, 45, 16, 2, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1}, /* stride 2, groups */
        {1, 12, 40, 66, 16, 1, 3, 3, 3, 2, 2, 1, 2, 1, 1, 0}, /* strides 3x2, dilated */
        {1, 8, 33, 40, 16, 1, 5, 3, 1, 1, 3, 2, 6, 2, 0, 3},  /* tall dilation: band overlap */
        {2, 16, 30, 32, 24, 1, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1}, /* batch 2: bands per image */
        {1, 3, 64, 64, 32, 1, 7, 7, 2, 2, 1, 1, 3, 3, 3, 3},  /* 7x7/2 stem */
        {1, 32, 1, 300, 24, 1, 1, 5, 1, 1, 1, 1, 0, 2, 0, 2}, /* height 1: blocks only */
    };
    ml_threadpool *pools[3] = {NULL, NULL, NULL};
    CHECK_OK(ml_threadpool_create(2, &pools[1]));
    CHECK_OK(ml_threadpool_create(3, &pools[2]));
    static const nn_act relu = {NN_ACT_RELU, 0.0f, 0.0f};
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        const cfg *c = &cases[k];
        int64_t xd[] = {c->N, c->C, c->H, c->W}, wd[] = {c->M, c->C / c->G, c->kh, c->kw};
        size_t nx = (size_t)(c->N * c->C * c->H * c->W),
               nw = (size_t)(wd[0] * wd[1] * wd[2] * wd[3]);
        float *x = malloc(nx * sizeof(float)), *w = malloc(nw * sizeof(float));
        float *b = malloc((size_t)c->M * sizeof(float));
        fill(x, nx, 21 + (unsigned)k);
        fill(w, nw, 22);
        fill(b, (size_t)c->M, 23);
        ml_tensor *tx = ml_test_f32(4, xd, x), *tw = ml_test_f32(4, wd, w);
        conv2d_attrs a;
        ml_node node = conv2d_node(c, &a);
        nn_conv_dims cd;
        CHECK_OK(nn_conv_dims_init(&node, tx, tw, &cd));
        size_t ny = (size_t)(cd.N * cd.M * cd.out_sp);
        float *z = malloc(ny * sizeof(float)), *want = malloc(ny * sizeof(float));
        float *y = malloc(ny * sizeof(float));
        fill(z, ny, 24);
        ref_conv(c, x, w, b, want); /* then relu(conv + b + z) */
        for (size_t i = 0; i < ny; i++) want[i] = want[i] + z[i] > 0 ? want[i] + z[i] : 0.0f;
        for (int p = 0; p < 3; p++) {
            for (size_t i = 0; i < ny; i++) y[i] = NAN; /* every output must be written */
            CHECK_OK(nn_conv_f32_fused(&node, pools[p], &cd, x, w, NULL, b, z, &relu, y));
            size_t bad = 0;
            for (size_t i = 0; i < ny; i++)
                bad += !(fabsf(y[i] - want[i]) <= 1e-4f * (1.0f + fabsf(want[i])));
            if (bad) printf("  case %zu, %d threads: %zu of %zu wrong\n", k, p + 1, bad, ny);
            CHECK_EQ_INT(bad, 0);
        }
        ml_tensor_free(tx);
        ml_tensor_free(tw);
        free(x);
        free(w);
        free(b);
        free(z);
        free(want);
        free(y);
    }
    ml_threadpool_destroy(pools[1]);
    ml_threadpool_destroy(pools[2]);
}

/* com.microsoft FusedConv: conv + bias + Z, then the activation, over the
 * implicit-GEMM (unit stride), banded im2col (strided), pointwise and
 * depthwise paths, serial and on a pool (batch 4 splits by slice). */
static void test_fused_conv(void) {
    ml_threadpool *pool = NULL;
    CHECK_OK(ml_threadpool_create(2, &pool));
    static const cfg cases[] = {
        {1, 32, 12, 12, 16, 1, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1}, /* implicit GEMM */
        {4, 8, 9, 7, 13, 1, 3, 2, 1, 1, 2, 1, 2, 0, 1, 3},    /* batches, dilated, ragged pads */
        {1, 6, 10, 11, 9, 3, 3, 3, 2, 1, 1, 1, 1, 1, 0, 1},   /* strided, groups: bands */
        {2, 7, 5, 6, 33, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0},    /* pointwise */
        {1, 6, 8, 8, 6, 6, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1},     /* depthwise */
        {1, 40, 30, 34, 20, 1, 5, 5, 1, 1, 1, 1, 2, 2, 2, 2}, /* big enough to split on the pool */
        {2, 5, 6, 28, 7, 1, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1},    /* output rows as GEMM segments */
        {1, 4, 5, 62, 9, 1, 3, 3, 1, 1, 1, 1, 0, 1, 1, 1},    /* segments of 62: 32 + 30 */
        {1, 16, 20, 64, 40, 1, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1}, /* segments, split on the pool */
        {2, 3, 19, 17, 8, 1, 7, 7, 2, 2, 1, 1, 3, 2, 3, 3},   /* 7x7/2 stem: phase planes */
        {1, 96, 9, 10, 20, 1, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1},  /* 864 reduction rows: K chunks */
        {1, 8, 21, 66, 12, 2, 3, 3, 3, 2, 2, 1, 1, 1, 2, 0},  /* strides 3x2, dilated, groups */
    };
    static const char *acts[] = {"Relu", "LeakyRelu", "Sigmoid", "Tanh", "Clip", "HardSigmoid"};
    float params[2] = {0.3f, 0.6f}, clip[2] = {-0.25f, 0.5f};
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        const cfg *c = &cases[k];
        int64_t OH = conv_out(c->H, c->kh, c->sh, c->dh, c->pt, c->pb);
        int64_t OW = conv_out(c->W, c->kw, c->sw, c->dw, c->pl, c->pr);
        int64_t xd[] = {c->N, c->C, c->H, c->W}, wd[] = {c->M, c->C / c->G, c->kh, c->kw},
                bd[] = {c->M}, yd[] = {c->N, c->M, OH, OW};
        size_t nx = (size_t)(c->N * c->C * c->H * c->W),
               nw = (size_t)(c->M * (c->C / c->G) * c->kh * c->kw),
               ny = (size_t)(c->N * c->M * OH * OW);
        float *x = malloc(nx * sizeof(float)), *w = malloc(nw * sizeof(float)), b[64];
        float *z = malloc(ny * sizeof(float)), *want = malloc(ny * sizeof(float));
        fill(x, nx, 31);
        fill(w, nw, 32);
        fill(b, (size_t)c->M, 33);
        fill(z, ny, 34);
        ml_tensor *tx = ml_test_f32(4, xd, x), *tw = ml_test_f32(4, wd, w),
                  *tb = ml_test_f32(1, bd, b), *tz = ml_test_f32(4, yd, z);
        int64_t st[] = {c->sh, c->sw}, dl[] = {c->dh, c->dw}, pads[] = {c->pt, c->pl, c->pb, c->pr};
        /* every ISA's kernel (AVX2, then the OpenBLAS fallback) on two activations */
        for (int run = 0; run < 10; run++) {
            int ai = run < 6 ? run : run - 6;
            nn_gemm_set_max_isa(run < 6 ? -1 : (run < 8 ? 1 : 0));
            bool with_z = (ai + (int)k) % 2 == 0;
            const char *an = acts[(ai + k) % 6];
            bool is_clip = an[0] == 'C';
            ml_attr attrs[] = {
                ml_test_attr_int("group", c->G),
                ml_test_attr_ints("strides", st, 2),
                ml_test_attr_ints("dilations", dl, 2),
                ml_test_attr_ints("pads", pads, 4),
                ml_test_attr_string("activation", an),
                ml_test_attr_floats("activation_params", is_clip ? clip : params, 2)};
            ref_conv(c, x, w, b, want);
            for (size_t i = 0; i < ny; i++) {
                double v = want[i] + (with_z ? z[i] : 0.0f), a = params[0], bb = params[1];
                switch (an[0] == 'H'   ? 5
                        : an[0] == 'C' ? 4
                        : an[0] == 'T' ? 3
                        : an[0] == 'S' ? 2
                        : an[0] == 'L' ? 1
                                       : 0) {
                case 0:
                    v = v > 0 ? v : 0;
                    break;
                case 1:
                    v = v >= 0 ? v : v * a;
                    break;
                case 2:
                    v = 1 / (1 + exp(-v));
                    break;
                case 3:
                    v = tanh(v);
                    break;
                case 4:
                    v = v < clip[0] ? clip[0] : (v > clip[1] ? clip[1] : v);
                    break;
                default:
                    v = a * v + bb;
                    v = v < 0 ? 0 : (v > 1 ? 1 : v);
                    break;
                }
                want[i] = (float)v;
            }
            for (int use_pool = 0; use_pool < 4; use_pool++) {
                ml_test_set_pool(use_pool % 2 ? pool : NULL);
                ml_tensor *y = NULL;
                const ml_tensor *in[] = {tx, tw, tb, tz};
                /* W (and B) as load-time constants: weights packed in init */
                unsigned consts = use_pool >= 2 ? 0x6u : 0u;
                CHECK_OK(ml_test_run_const("com.microsoft", "FusedConv", 1, attrs, 6,
                                           with_z ? 4 : 3, in, consts, 1, &y));
                int bad = 0;
                if (y && ml_tensor_numel(y) == ny)
                    for (size_t i = 0; i < ny; i++)
                        if (!(fabsf(((float *)y->data)[i] - want[i]) <= 1e-4f)) bad++;
                if (bad)
                    printf("  case %zu act %s z %d pool %d isa %d: %d bad\n", k, an, with_z,
                           use_pool, nn_gemm_isa(), bad);
                CHECK(y != NULL && bad == 0);
                ml_tensor_free(y);
            }
        }
        ml_test_set_pool(NULL);
        nn_gemm_set_max_isa(-1);
        /* Z of the wrong shape and unknown activations are refused */
        ml_attr bad_act = ml_test_attr_string("activation", "Swish");
        ml_tensor *y = NULL;
        CHECK_ERR(ml_test_run("com.microsoft", "FusedConv", 1, &bad_act, 1, 2,
                              (const ml_tensor *[]){tx, tw}, 1, &y),
                  ML_ERR_UNSUPPORTED);
        ml_tensor_free(y);
        ml_tensor_free(tx);
        ml_tensor_free(tw);
        ml_tensor_free(tb);
        ml_tensor_free(tz);
        free(x);
        free(w);
        free(z);
        free(want);
    }
    ml_threadpool_destroy(pool);
}

/* 1-D convs (run as 2-D of height 1 by the implicit GEMM) against the 2-D
 * reference with H = 1, over strides, dilations, pads and groups. */
static void test_conv_1d_random(void) {
    static const cfg cases[] = {
        {2, 6, 1, 50, 10, 1, 1, 5, 1, 1, 1, 1, 0, 2, 0, 2},
        {1, 8, 1, 77, 12, 2, 1, 4, 1, 3, 1, 2, 0, 3, 0, 1},
        {3, 4, 1, 40, 33, 1, 1, 3, 1, 2, 1, 1, 0, 0, 0, 1},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        const cfg *c = &cases[k];
        int64_t OW = conv_out(c->W, c->kw, c->sw, c->dw, c->pl, c->pr);
        int64_t xd[] = {c->N, c->C, c->W}, wd[] = {c->M, c->C / c->G, c->kw}, bd[] = {c->M};
        size_t nx = (size_t)(c->N * c->C * c->W), nw = (size_t)(c->M * (c->C / c->G) * c->kw),
               ny = (size_t)(c->N * c->M * OW);
        float *x = malloc(nx * 4), *w = malloc(nw * 4), *want = malloc(ny * 4), b[64];
        fill(x, nx, 41);
        fill(w, nw, 42);
        fill(b, (size_t)c->M, 43);
        ref_conv(c, x, w, b, want);
        ml_tensor *tx = ml_test_f32(3, xd, x), *tw = ml_test_f32(3, wd, w),
                  *tb = ml_test_f32(1, bd, b);
        int64_t st[] = {c->sw}, dl[] = {c->dw}, pads[] = {c->pl, c->pr};
        ml_attr attrs[] = {ml_test_attr_int("group", c->G), ml_test_attr_ints("strides", st, 1),
                           ml_test_attr_ints("dilations", dl, 1),
                           ml_test_attr_ints("pads", pads, 2)};
        ml_tensor *y = NULL;
        CHECK_OK(ml_test_run_const("", "Conv", 11, attrs, 4, 3, (const ml_tensor *[]){tx, tw, tb},
                                   0x2u, 1, &y));
        CHECK(y != NULL && y->rank == 3 && ml_tensor_numel(y) == ny);
        if (y && ml_tensor_numel(y) == ny)
            for (size_t i = 0; i < ny; i++) CHECK_NEAR(((float *)y->data)[i], want[i], 1e-4);
        ml_tensor_free(y);
        ml_tensor_free(tx);
        ml_tensor_free(tw);
        ml_tensor_free(tb);
        free(x);
        free(w);
        free(want);
    }
}

/* MaxPool 2x2/2 (pool.c's vector fast path) against the scalar definition,
 * with odd widths (a last column no window reads), NaN and -inf. */
static void test_maxpool_2x2_fast(void) {
    for (int64_t W = 2; W <= 75; W += 7) {
        int64_t H = 5, C = 3, OH = H / 2, OW = W / 2;
        size_t nx = (size_t)(C * H * W);
        float *x = malloc(nx * sizeof(float));
        fill(x, nx, (unsigned)W);
        x[1] = NAN;
        if (nx > 7) x[7] = -INFINITY;
        if (nx > 40) x[40] = NAN;
        int64_t xd[] = {1, C, H, W}, ks[] = {2, 2}, st[] = {2, 2};
        ml_tensor *tx = ml_test_f32(4, xd, x);
        ml_attr attrs[] = {ml_test_attr_ints("kernel_shape", ks, 2),
                           ml_test_attr_ints("strides", st, 2)};
        ml_tensor *y = NULL;
        CHECK_OK(ml_test_run("", "MaxPool", 12, attrs, 2, 1, (const ml_tensor *[]){tx}, 1, &y));
        CHECK(y != NULL && ml_tensor_numel(y) == (size_t)(C * OH * OW));
        int bad = 0;
        if (y && ml_tensor_numel(y) == (size_t)(C * OH * OW))
            for (int64_t c = 0; c < C; c++)
                for (int64_t oh = 0; oh < OH; oh++)
                    for (int64_t ow = 0; ow < OW; ow++) {
                        const float *r0 = x + (c * H + 2 * oh) * W + 2 * ow, *r1 = r0 + W;
                        float a = r0[0] > r0[1] ? r0[0] : r0[1];
                        float v = a > -INFINITY ? a : -INFINITY;
                        float b = r1[0] > r1[1] ? r1[0] : r1[1];
                        float want = b > v ? b : v;
                        float got = ((float *)y->data)[(c * OH + oh) * OW + ow];
                        if (!(got == want || (isnan(got) && isnan(want)))) bad++;
                    }
        CHECK_EQ_INT(bad, 0);
        ml_tensor_free(y);
        ml_tensor_free(tx);
        free(x);
    }
}

int main(void) {
    RUN(test_conv_2d_variants);
    RUN(test_conv_auto_pad_1d_3d);
    RUN(test_conv_dtypes_and_errors);
    RUN(test_conv_transpose);
    RUN(test_conv_thread_pool);
    RUN(test_conv_tiled_bands);
    RUN(test_conv_split_matches_reference);
    RUN(test_fused_conv);
    RUN(test_conv_1d_random);
    RUN(test_maxpool_2x2_fast);
    return TEST_SUMMARY();
}
