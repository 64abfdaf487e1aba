/* The implicit-GEMM conv cut into tasks (gemm_conv.c): bands of output rows,
 * each copying only the padded input rows it reads, times blocks of output
 * channels. Every split (1, 2 and 3 threads; batch 1 and 2; bands with a
 * short last one; channel blocks with a short last one; strides, dilations,
 * asymmetric pads, groups; rows as GEMM segments and through the
 * temporary), with bias, Z and an activation, must match a naive reference. */
#include <math.h>
#include <stdlib.h>

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

static int64_t out_len(int64_t in, int64_t k, int64_t s, int64_t d, int64_t p0, int64_t p1) {
    return (in + p0 + p1 - ((k - 1) * d + 1)) / s + 1;
}

/* relu(conv(x, w) + b + z) in double */
static void ref(const cfg *c, const float *x, const float *w, const float *b, const float *z,
                float *y) {
    int64_t OH = out_len(c->H, c->kh, c->sh, c->dh, c->pt, c->pb);
    int64_t OW = out_len(c->W, c->kw, c->sw, c->dw, c->pl, c->pr);
    int64_t Cg = c->C / c->G, Mg = c->M / c->G;
    for (int64_t n = 0; n < c->N; n++)
        for (int64_t m = 0; m < c->M; m++)
            for (int64_t oh = 0; oh < OH; oh++)
                for (int64_t ow = 0; ow < OW; ow++) {
                    int64_t yi = ((n * c->M + m) * OH + oh) * OW + ow;
                    double acc = b[m] + z[yi];
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
                    y[yi] = acc > 0 ? (float)acc : 0.0f;
                }
}

static void test_split_matches_reference(void) {
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
        int64_t st[] = {c->sh, c->sw}, dl[] = {c->dh, c->dw}, pads[] = {c->pt, c->pl, c->pb, c->pr};
        ml_attr attrs[] = {ml_test_attr_int("group", c->G), ml_test_attr_ints("strides", st, 2),
                           ml_test_attr_ints("dilations", dl, 2),
                           ml_test_attr_ints("pads", pads, 4)};
        ml_node node = {.name = "c",
                        .op_type = "Conv",
                        .domain = "",
                        .opset = 11,
                        .n_attrs = 4,
                        .attrs = attrs};
        nn_conv_dims cd;
        CHECK_OK(nn_conv_dims_init(&node, tx, tw, &cd));
        size_t ny = (size_t)(cd.N * cd.M * cd.out_sp);
        float *z = malloc(ny * sizeof(float)), *want = malloc(ny * sizeof(float));
        float *y = malloc(ny * sizeof(float));
        fill(z, ny, 24);
        ref(c, x, w, b, z, want);
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

int main(void) {
    RUN(test_split_matches_reference);
    return TEST_SUMMARY();
}
