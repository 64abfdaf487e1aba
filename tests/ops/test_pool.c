/* Pooling kernels against a naive 2-D reference, plus Indices/storage_order,
 * ceil_mode, count_include_pad, global pools, MaxUnpool and errors. */
#include <math.h>
#include <stdlib.h>

#include "ops/harness.h"
#include "test.h"

static void fill(float *v, size_t n, unsigned seed) {
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        v[i] = (float)((seed >> 16) % 2001) / 100.0f - 10.0f;
    }
}

typedef struct pcfg {
    int64_t H, W, k, s, d, p0, p1; /* square kernel; pads top/left = p0, bottom/right = p1 */
    bool ceil;
} pcfg;

static int64_t pool_out(const pcfg *c, int64_t in) {
    int64_t span = in + c->p0 + c->p1 - ((c->k - 1) * c->d + 1);
    int64_t o = span / c->s + 1;
    if (c->ceil && span % c->s) {
        o++;
        if ((o - 1) * c->s >= in + c->p0) o--;
    }
    return o;
}

/* kind 0 max, 1 avg (exclude pad), 2 avg (include pad), 3 lp2 */
static float ref_window(const pcfg *c, const float *x, int64_t oh, int64_t ow, int kind,
                        int64_t *arg) {
    double acc = kind == 0 ? -INFINITY : 0;
    int64_t cnt = 0, cnt_pad = 0;
    for (int64_t i = 0; i < c->k; i++)
        for (int64_t j = 0; j < c->k; j++) {
            int64_t h = oh * c->s - c->p0 + i * c->d, w = ow * c->s - c->p0 + j * c->d;
            if (h < c->H + c->p1 && w < c->W + c->p1) cnt_pad++;
            if (h < 0 || h >= c->H || w < 0 || w >= c->W) continue;
            float v = x[h * c->W + w];
            cnt++;
            if (kind == 0) {
                if (v > acc) {
                    acc = v;
                    *arg = h * c->W + w;
                }
            } else if (kind == 3) {
                acc += (double)v * v;
            } else {
                acc += v;
            }
        }
    if (kind == 1) return (float)(acc / (double)cnt);
    if (kind == 2) return (float)(acc / (double)cnt_pad);
    if (kind == 3) return (float)sqrt(acc);
    return (float)acc;
}

static void run_pool_case(const pcfg *c) {
    float x[2 * 100];
    fill(x, (size_t)(2 * c->H * c->W), (unsigned)(c->H * 31 + c->k));
    ml_tensor *tx = ml_test_f32(4, (int64_t[]){1, 2, c->H, c->W}, x);
    int64_t ks[] = {c->k, c->k}, st[] = {c->s, c->s}, dl[] = {c->d, c->d},
            pads[] = {c->p0, c->p0, c->p1, c->p1};
    int64_t OH = pool_out(c, c->H), OW = pool_out(c, c->W);
    const char *ops[] = {"MaxPool", "AveragePool", "AveragePool", "LpPool"};
    for (int kind = 0; kind < 4; kind++) {
        if (kind > 0 && c->d != 1) continue; /* dilations: MaxPool only before opset 19 */
        ml_attr attrs[] = {ml_test_attr_ints("kernel_shape", ks, 2),
                           ml_test_attr_ints("strides", st, 2),
                           ml_test_attr_ints("pads", pads, 4),
                           ml_test_attr_int("ceil_mode", c->ceil),
                           ml_test_attr_int("count_include_pad", kind == 2),
                           ml_test_attr_ints("dilations", dl, 2)};
        ml_tensor *out[2] = {NULL, NULL};
        size_t n_out = kind == 0 ? 2 : 1;
        CHECK_OK(ml_test_run("", ops[kind], 18, attrs, kind == 0 ? 6 : 5, 1,
                             (const ml_tensor *[]){tx}, n_out, out));
        ml_tensor *y = out[0];
        CHECK(y && y->dims[2] == OH && y->dims[3] == OW);
        if (y && y->dims[2] == OH && y->dims[3] == OW) {
            for (int64_t ch = 0; ch < 2; ch++)
                for (int64_t oh = 0; oh < OH; oh++)
                    for (int64_t ow = 0; ow < OW; ow++) {
                        int64_t arg = -1;
                        float want = ref_window(c, x + ch * c->H * c->W, oh, ow, kind, &arg);
                        int64_t o = (ch * OH + oh) * OW + ow;
                        CHECK_NEAR(((float *)y->data)[o], want, 1e-4);
                        if (kind == 0 && out[1])
                            CHECK_EQ_INT(((int64_t *)out[1]->data)[o], ch * c->H * c->W + arg);
                    }
        }
        ml_tensor_free(out[0]);
        ml_tensor_free(out[1]);
    }
    ml_tensor_free(tx);
}

static void test_pool_2d_variants(void) {
    pcfg cases[] = {
        {5, 5, 2, 2, 1, 0, 0, false}, {5, 5, 2, 2, 1, 0, 0, true},  {6, 7, 3, 2, 1, 1, 1, false},
        {6, 7, 3, 2, 1, 1, 1, true},  {7, 7, 3, 1, 2, 1, 1, false}, {4, 5, 3, 3, 1, 0, 2, false},
        {3, 3, 3, 1, 1, 2, 2, false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) run_pool_case(&cases[i]);
}

static void test_maxpool_storage_order_and_uint8(void) {
    float x[] = {1, 9, 3, 4, 5, 6}; /* [1,1,2,3] */
    ml_tensor *tx = ml_test_f32(4, (int64_t[]){1, 1, 2, 3}, x), *out[2];
    int64_t ks[] = {2, 2};
    ml_attr attrs[] = {ml_test_attr_ints("kernel_shape", ks, 2),
                       ml_test_attr_int("storage_order", 1)};
    CHECK_OK(ml_test_run("", "MaxPool", 12, attrs, 2, 1, (const ml_tensor *[]){tx}, 2, out));
    /* windows: [1,9,4,5] -> 9 at (0,1): column-major 1*2+0 = 2; [9,3,5,6] -> 9 again */
    if (out[0] && out[1]) {
        CHECK_NEAR(((float *)out[0]->data)[0], 9, 0);
        CHECK_EQ_INT(((int64_t *)out[1]->data)[0], 2);
        CHECK_EQ_INT(((int64_t *)out[1]->data)[1], 2);
    }
    ml_tensor_free(out[0]);
    ml_tensor_free(out[1]);
    uint8_t u[] = {1, 200, 3, 4, 5, 255};
    ml_tensor *tu = ml_test_tensor(ML_UINT8, 4, (int64_t[]){1, 1, 2, 3}, u);
    CHECK_OK(ml_test_run("", "MaxPool", 12, attrs, 1, 1, (const ml_tensor *[]){tu}, 1, out));
    CHECK(out[0] && out[0]->dtype == ML_UINT8 && ((uint8_t *)out[0]->data)[0] == 200 &&
          ((uint8_t *)out[0]->data)[1] == 255);
    ml_tensor_free(out[0]);
    ml_tensor_free(tx);
    ml_tensor_free(tu);
}

static void test_global_and_lp(void) {
    float x[] = {1, -2, 3, 4, 0, 0, 0, 0}; /* [1,2,2,2] */
    ml_tensor *tx = ml_test_f32(4, (int64_t[]){1, 2, 2, 2}, x), *y;
    CHECK_OK(ml_test_run("", "GlobalAveragePool", 1, NULL, 0, 1, (const ml_tensor *[]){tx}, 1, &y));
    CHECK(y && y->rank == 4 && y->dims[2] == 1 && y->dims[3] == 1);
    if (y) CHECK_NEAR(((float *)y->data)[0], 1.5, 1e-6);
    ml_tensor_free(y);
    CHECK_OK(ml_test_run("", "GlobalMaxPool", 1, NULL, 0, 1, (const ml_tensor *[]){tx}, 1, &y));
    if (y) CHECK_NEAR(((float *)y->data)[0], 4, 0);
    ml_tensor_free(y);
    ml_attr p1 = ml_test_attr_int("p", 1);
    CHECK_OK(ml_test_run("", "GlobalLpPool", 2, &p1, 1, 1, (const ml_tensor *[]){tx}, 1, &y));
    if (y) {
        CHECK_NEAR(((float *)y->data)[0], 10, 1e-5);
        CHECK_NEAR(((float *)y->data)[1], 0, 0);
    }
    ml_tensor_free(y);
    int64_t ks[] = {2, 2};
    ml_attr attrs[] = {ml_test_attr_ints("kernel_shape", ks, 2), ml_test_attr_int("p", 3)};
    CHECK_OK(ml_test_run("", "LpPool", 11, attrs, 2, 1, (const ml_tensor *[]){tx}, 1, &y));
    if (y) CHECK_NEAR(((float *)y->data)[0], cbrt(1 + 8 + 27 + 64), 1e-4);
    ml_tensor_free(y);
    ml_tensor_free(tx);
}

static void test_maxunpool_roundtrip(void) {
    float x[16];
    for (int i = 0; i < 16; i++) x[i] = (float)((i * 7) % 16);
    ml_tensor *tx = ml_test_f32(4, (int64_t[]){1, 1, 4, 4}, x), *pooled[2], *y;
    int64_t ks[] = {2, 2}, st[] = {2, 2};
    ml_attr attrs[] = {ml_test_attr_ints("kernel_shape", ks, 2),
                       ml_test_attr_ints("strides", st, 2)};
    CHECK_OK(ml_test_run("", "MaxPool", 12, attrs, 2, 1, (const ml_tensor *[]){tx}, 2, pooled));
    CHECK_OK(ml_test_run("", "MaxUnpool", 11, attrs, 2, 2,
                         (const ml_tensor *[]){pooled[0], pooled[1]}, 1, &y));
    CHECK(y && y->dims[2] == 4 && y->dims[3] == 4);
    if (y) {
        int nonzero = 0;
        for (int i = 0; i < 16; i++) {
            float v = ((float *)y->data)[i];
            if (v != 0) {
                nonzero++;
                CHECK_NEAR(v, x[i], 0);
            }
        }
        CHECK_EQ_INT(nonzero, 4);
    }
    ml_tensor_free(y);
    /* a hostile index is rejected, not written */
    int64_t bad[] = {0, 1, 2, 99};
    ml_tensor *ti = ml_test_i64(4, (int64_t[]){1, 1, 2, 2}, bad);
    CHECK_ERR(
        ml_test_run("", "MaxUnpool", 11, attrs, 2, 2, (const ml_tensor *[]){pooled[0], ti}, 1, &y),
        ML_ERR_INVALID_ARGUMENT);
    ml_tensor_free(ti);
    ml_tensor_free(pooled[0]);
    ml_tensor_free(pooled[1]);
    ml_tensor_free(tx);
}

static void test_pool_errors(void) {
    ml_tensor *x2 = ml_test_f32(2, (int64_t[]){2, 2}, NULL),
              *x4 = ml_test_f32(4, (int64_t[]){1, 1, 2, 2}, NULL), *y;
    int64_t ks[] = {2, 2}, big[] = {3, 3}, zero_s[] = {0, 1};
    ml_attr k = ml_test_attr_ints("kernel_shape", ks, 2);
    CHECK_ERR(ml_test_run("", "MaxPool", 12, &k, 1, 1, (const ml_tensor *[]){x2}, 1, &y),
              ML_ERR_INVALID_ARGUMENT);
    CHECK_ERR(ml_test_run("", "MaxPool", 12, NULL, 0, 1, (const ml_tensor *[]){x4}, 1, &y),
              ML_ERR_INVALID_ARGUMENT);
    ml_attr kb = ml_test_attr_ints("kernel_shape", big, 2);
    CHECK_ERR(ml_test_run("", "AveragePool", 11, &kb, 1, 1, (const ml_tensor *[]){x4}, 1, &y),
              ML_ERR_INVALID_ARGUMENT);
    ml_attr zs[] = {k, ml_test_attr_ints("strides", zero_s, 2)};
    CHECK_ERR(ml_test_run("", "MaxPool", 12, zs, 2, 1, (const ml_tensor *[]){x4}, 1, &y),
              ML_ERR_INVALID_ARGUMENT);
    /* a hostile 2^29-wide kernel over padding: one valid tap, no huge tables */
    int64_t hk[] = {1, 1 << 29}, hp[] = {0, 0, 0, (1 << 29) - 1};
    ml_attr hattrs[] = {ml_test_attr_ints("kernel_shape", hk, 2), ml_test_attr_ints("pads", hp, 4)};
    float one[] = {7};
    ml_tensor *x1 = ml_test_f32(4, (int64_t[]){1, 1, 1, 1}, one);
    CHECK_OK(ml_test_run("", "MaxPool", 12, hattrs, 2, 1, (const ml_tensor *[]){x1}, 1, &y));
    if (y) CHECK(ml_tensor_numel(y) == 1 && ((float *)y->data)[0] == 7.0f);
    ml_tensor_free(y);
    ml_tensor_free(x1);
    ml_tensor_free(x2);
    ml_tensor_free(x4);
}

int main(void) {
    RUN(test_pool_2d_variants);
    RUN(test_maxpool_storage_order_and_uint8);
    RUN(test_global_and_lp);
    RUN(test_maxunpool_roundtrip);
    RUN(test_pool_errors);
    return TEST_SUMMARY();
}
