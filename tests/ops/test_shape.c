/* Unit tests of the shape family: views, transposes, concat/split, pad,
 * expand/tile and generators, with the edge cases the ONNX suite misses
 * (empty tensors, scalars, negative axes, strings, hostile arguments). */
#include <stdlib.h>

#include "core/threadpool.h"
#include "ops/harness.h"
#include "ops/shape_util.h"
#include "test.h"

#define A(x) (sizeof(x) / sizeof((x)[0]))

static void test_reshape(void) {
    int64_t d[] = {2, 3, 4};
    ml_tensor *x = ml_test_iota_f32(3, d);
    int64_t s1[] = {0, -1};
    ml_tensor *sh = ml_test_vec_i64(2, s1);
    const ml_tensor *in[] = {x, sh};
    ml_tensor *y = ml_test_run1("Reshape", 13, NULL, 0, 2, in);
    int64_t e1[] = {2, 12};
    CHECK(ml_test_dims_are(y, 2, e1));
    CHECK(y && y->data == x->data); /* zero-copy view */
    ml_tensor_free(y);
    ml_tensor_free(sh);
    /* allowzero: 0 is a real dim, so 24 elements cannot become [0, 24] */
    int64_t s2[] = {0, 24};
    sh = ml_test_vec_i64(2, s2);
    in[1] = sh;
    ml_attr az = ml_test_attr_int("allowzero", 1);
    ml_tensor *out;
    CHECK_ERR(ml_test_run("", "Reshape", 14, &az, 1, 2, in, 1, &out), ML_ERR_INVALID_ARGUMENT);
    ml_tensor_free(sh);
    /* two -1 and a -2 are rejected */
    int64_t s3[] = {-1, -1};
    sh = ml_test_vec_i64(2, s3);
    in[1] = sh;
    CHECK_ERR(ml_test_run("", "Reshape", 13, NULL, 0, 2, in, 1, &out), ML_ERR_INVALID_ARGUMENT);
    ml_tensor_free(sh);
    /* opset 1 attribute form, to a scalar-free 1-D */
    int64_t s4[] = {24};
    ml_attr a = ml_test_attr_ints("shape", s4, 1);
    y = ml_test_run1("Reshape", 1, &a, 1, 1, in);
    CHECK(ml_test_dims_are(y, 1, s4));
    ml_tensor_free(y);
    /* empty tensor with -1 and a zero dim kept from the input */
    int64_t ed[] = {0, 3};
    ml_tensor *e = ml_test_f32(2, ed, NULL);
    int64_t s5[] = {3, 0};
    sh = ml_test_vec_i64(2, s5);
    const ml_tensor *in2[] = {e, sh};
    ml_attr az2 = ml_test_attr_int("allowzero", 1);
    y = ml_test_run1("Reshape", 14, &az2, 1, 2, in2);
    CHECK(ml_test_dims_are(y, 2, s5));
    ml_tensor_free(y);
    ml_tensor_free(sh);
    ml_tensor_free(e);
    ml_tensor_free(x);
}

static void test_flatten_squeeze_unsqueeze(void) {
    int64_t d[] = {2, 1, 3, 1};
    ml_tensor *x = ml_test_iota_f32(4, d);
    const ml_tensor *in[] = {x, NULL};
    ml_attr ax = ml_test_attr_int("axis", -2);
    ml_tensor *y = ml_test_run1("Flatten", 13, &ax, 1, 1, in);
    int64_t e1[] = {2, 3};
    CHECK(ml_test_dims_are(y, 2, e1));
    ml_tensor_free(y);
    ml_attr ax0 = ml_test_attr_int("axis", 0);
    y = ml_test_run1("Flatten", 13, &ax0, 1, 1, in);
    int64_t e0[] = {1, 6};
    CHECK(ml_test_dims_are(y, 2, e0));
    ml_tensor_free(y);
    /* squeeze all 1-dims, then a negative axis from an input */
    y = ml_test_run1("Squeeze", 13, NULL, 0, 1, in);
    CHECK(ml_test_dims_are(y, 2, e1));
    ml_tensor_free(y);
    int64_t axv[] = {-1};
    ml_tensor *axes = ml_test_vec_i64(1, axv);
    in[1] = axes;
    y = ml_test_run1("Squeeze", 13, NULL, 0, 2, in);
    int64_t e2[] = {2, 1, 3};
    CHECK(ml_test_dims_are(y, 3, e2));
    ml_tensor_free(y);
    /* squeezing a dim that is not 1 fails */
    int64_t bad[] = {0};
    ml_attr ab = ml_test_attr_ints("axes", bad, 1);
    ml_tensor *out;
    CHECK_ERR(ml_test_run("", "Squeeze", 11, &ab, 1, 1, in, 1, &out), ML_ERR_INVALID_ARGUMENT);
    /* unsqueeze: attr form at 11, input form at 13, unsorted/negative axes */
    int64_t ua[] = {-1, 0};
    ml_attr au = ml_test_attr_ints("axes", ua, 2);
    y = ml_test_run1("Unsqueeze", 11, &au, 1, 1, in);
    int64_t e3[] = {1, 2, 1, 3, 1, 1};
    CHECK(ml_test_dims_are(y, 6, e3));
    ml_tensor_free(y);
    ml_tensor_free(axes);
    axes = ml_test_vec_i64(2, ua);
    in[1] = axes;
    y = ml_test_run1("Unsqueeze", 13, NULL, 0, 2, in);
    CHECK(ml_test_dims_are(y, 6, e3));
    ml_tensor_free(y);
    int64_t dup[] = {0, 0};
    ml_tensor_free(axes);
    axes = ml_test_vec_i64(2, dup);
    in[1] = axes;
    CHECK_ERR(ml_test_run("", "Unsqueeze", 13, NULL, 0, 2, in, 1, &out), ML_ERR_INVALID_ARGUMENT);
    ml_tensor_free(axes);
    /* scalar -> [1] */
    float one = 1;
    ml_tensor *s = ml_test_f32(0, NULL, &one);
    int64_t z[] = {0};
    axes = ml_test_vec_i64(1, z);
    const ml_tensor *in2[] = {s, axes};
    y = ml_test_run1("Unsqueeze", 13, NULL, 0, 2, in2);
    int64_t e4[] = {1};
    CHECK(ml_test_dims_are(y, 1, e4));
    ml_tensor_free(y);
    ml_tensor_free(axes);
    ml_tensor_free(s);
    ml_tensor_free(x);
}

/* Reference transpose by coordinates. */
static bool transpose_ok(const ml_tensor *x, const int *perm, const ml_tensor *y) {
    int r = x->rank;
    int64_t xs[ML_MAX_RANK], c[ML_MAX_RANK] = {0};
    int64_t s = 1;
    for (int i = r - 1; i >= 0; i--) {
        xs[i] = s;
        s *= x->dims[i];
    }
    size_t n = ml_tensor_numel(y);
    for (size_t e = 0; e < n; e++) {
        int64_t off = 0;
        for (int k = 0; k < r; k++) off += c[k] * xs[perm[k]];
        if (ML_TENSOR_DATA(y, float)[e] != ML_TENSOR_DATA(x, float)[off]) return false;
        for (int k = r - 1; k >= 0; k--) {
            if (++c[k] < y->dims[k]) break;
            c[k] = 0;
        }
    }
    return true;
}

static void test_transpose(void) {
    int64_t d[] = {2, 3, 1, 5, 4};
    ml_tensor *x = ml_test_iota_f32(5, d);
    const ml_tensor *in[] = {x};
    int perms[][5] = {{4, 3, 2, 1, 0}, {0, 2, 3, 4, 1}, {0, 1, 2, 4, 3}, {1, 0, 2, 3, 4},
                      {3, 4, 0, 1, 2}, {2, 0, 4, 1, 3}, {0, 1, 2, 3, 4}};
    for (size_t p = 0; p < A(perms); p++) {
        int64_t pv[5];
        for (int i = 0; i < 5; i++) pv[i] = perms[p][i];
        ml_attr a = ml_test_attr_ints("perm", pv, 5);
        ml_tensor *y = ml_test_run1("Transpose", 13, &a, 1, 1, in);
        CHECK(y && transpose_ok(x, perms[p], y));
        ml_tensor_free(y);
    }
    ml_tensor_free(x);
    /* a large 2-D transpose exercises the tiled path with ragged edges */
    int64_t d2[] = {67, 131};
    x = ml_test_iota_f32(2, d2);
    in[0] = x;
    ml_tensor *y = ml_test_run1("Transpose", 13, NULL, 0, 1, in);
    int rev[] = {1, 0};
    CHECK(y && y->dims[0] == 131 && transpose_ok(x, rev, y));
    ml_tensor_free(y);
    ml_tensor_free(x);
    /* strings are deep-copied */
    const char *sv[] = {"a", "bb", "ccc", "dddd", "e", "f"};
    int64_t sd[] = {2, 3};
    ml_tensor *s = ml_test_strings(2, sd, sv);
    in[0] = s;
    y = ml_test_run1("Transpose", 13, NULL, 0, 1, in);
    CHECK(y && y->dtype == ML_STRING);
    if (y) {
        ml_str *o = y->data;
        CHECK_STR(o[0].data, "a");
        CHECK_STR(o[1].data, "dddd");
        CHECK_STR(o[5].data, "f");
        CHECK(o[1].data != ((ml_str *)s->data)[3].data);
    }
    ml_tensor_free(y);
    int64_t badp[] = {0, 0};
    ml_attr a = ml_test_attr_ints("perm", badp, 2);
    ml_tensor *out;
    CHECK_ERR(ml_test_run("", "Transpose", 13, &a, 1, 1, in, 1, &out), ML_ERR_INVALID_ARGUMENT);
    ml_tensor_free(s);
}

/* The parallel paths of shape_permute split rows/tiles across threads; the
 * result must equal the serial one. */
static void test_permute_parallel(void) {
    ml_threadpool *pool;
    CHECK_OK(ml_threadpool_create(3, &pool));
    int64_t d[] = {3, 70, 5, 90};
    size_t n = 3 * 70 * 5 * 90;
    float *src = malloc(n * sizeof *src), *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b);
    for (size_t i = 0; i < n; i++) src[i] = (float)i;
    int perms[][4] = {{0, 3, 1, 2}, {0, 2, 3, 1}, {3, 2, 1, 0}, {1, 0, 2, 3}, {0, 1, 3, 2}};
    for (size_t p = 0; p < A(perms); p++) {
        shape_permute(NULL, src, a, sizeof(float), 4, d, perms[p]);
        shape_permute(pool, src, b, sizeof(float), 4, d, perms[p]);
        CHECK(memcmp(a, b, n * sizeof *a) == 0);
    }
    free(src);
    free(a);
    free(b);
    ml_threadpool_destroy(pool);
}

/* Random shapes and permutations for every element size against a
 * coordinate-by-coordinate reference. */
static void test_permute_random(void) {
    uint64_t seed = 12345;
    bool ok = true;
    for (int iter = 0; iter < 300 && ok; iter++) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        int rank = 1 + (int)((seed >> 33) % 5);
        int64_t d[5], xs[5];
        size_t n = 1;
        for (int i = 0; i < rank; i++) {
            seed = seed * 6364136223846793005ull + 1442695040888963407ull;
            d[i] = 1 + (int64_t)((seed >> 33) % 9);
            if (i == 0 && iter % 7 == 0) d[i] = 40;
            n *= (size_t)d[i];
        }
        int perm[5];
        for (int i = 0; i < rank; i++) perm[i] = i;
        for (int i = rank - 1; i > 0; i--) {
            seed = seed * 6364136223846793005ull + 1442695040888963407ull;
            int k = (int)((seed >> 33) % (uint64_t)(i + 1)), t = perm[i];
            perm[i] = perm[k];
            perm[k] = t;
        }
        size_t esz = (size_t)1 << (iter % 5);
        unsigned char *src = malloc(n * esz), *dst = malloc(n * esz);
        for (size_t i = 0; i < n * esz; i++) src[i] = (unsigned char)(i * 131 + i / 7);
        shape_permute(NULL, src, dst, esz, rank, d, perm);
        int64_t s = 1;
        for (int i = rank - 1; i >= 0; i--) {
            xs[i] = s;
            s *= d[i];
        }
        int64_t c[5] = {0};
        for (size_t e = 0; e < n && ok; e++) {
            int64_t off = 0;
            for (int k = 0; k < rank; k++) off += c[k] * xs[perm[k]];
            ok = memcmp(dst + e * esz, src + (size_t)off * esz, esz) == 0;
            for (int k = rank - 1; k >= 0; k--) {
                if (++c[k] < d[perm[k]]) break;
                c[k] = 0;
            }
        }
        free(src);
        free(dst);
    }
    CHECK(ok);
}

static void test_shape_size_identity(void) {
    int64_t d[] = {2, 3, 4};
    ml_tensor *x = ml_test_f32(3, d, NULL);
    const ml_tensor *in[] = {x};
    ml_tensor *y = ml_test_run1("Shape", 13, NULL, 0, 1, in);
    CHECK(ml_test_i64_are(y, d, 3));
    ml_tensor_free(y);
    ml_attr se[] = {ml_test_attr_int("start", -2), ml_test_attr_int("end", 100)};
    y = ml_test_run1("Shape", 15, se, 2, 1, in);
    CHECK(ml_test_i64_are(y, d + 1, 2));
    ml_tensor_free(y);
    ml_attr se2[] = {ml_test_attr_int("start", 2), ml_test_attr_int("end", 1)};
    y = ml_test_run1("Shape", 15, se2, 2, 1, in);
    CHECK(y && ml_tensor_numel(y) == 0);
    ml_tensor_free(y);
    y = ml_test_run1("Size", 13, NULL, 0, 1, in);
    int64_t n = 24;
    CHECK(ml_test_i64_are(y, &n, 1) && y->rank == 0);
    ml_tensor_free(y);
    y = ml_test_run1("Identity", 16, NULL, 0, 1, in);
    CHECK(y && y->data == x->data && ml_test_dims_are(y, 3, d));
    ml_tensor_free(y);
    ml_tensor_free(x);
}

static void test_concat_split(void) {
    int64_t da[] = {2, 2}, db[] = {2, 3}, de[] = {2, 0};
    ml_tensor *a = ml_test_iota_f32(2, da), *b = ml_test_iota_f32(2, db),
              *e = ml_test_f32(2, de, NULL);
    const ml_tensor *in[] = {a, e, b};
    ml_attr ax = ml_test_attr_int("axis", -1);
    ml_tensor *y = ml_test_run1("Concat", 13, &ax, 1, 3, in);
    float ev[] = {0, 1, 0, 1, 2, 2, 3, 3, 4, 5};
    CHECK(ml_test_f32_are(y, ev, 10));
    ml_tensor *out;
    ml_attr ax0 = ml_test_attr_int("axis", 0);
    CHECK_ERR(ml_test_run("", "Concat", 13, &ax0, 1, 3, in, 1, &out), ML_ERR_INVALID_ARGUMENT);
    /* split it back: variable sizes from an input (13) */
    int64_t sv[] = {2, 0, 3};
    ml_tensor *sp = ml_test_vec_i64(3, sv);
    const ml_tensor *in2[] = {y, sp};
    ml_tensor *outs[3];
    CHECK_OK(ml_test_run("", "Split", 13, &ax, 1, 2, in2, 3, outs));
    CHECK(ml_test_f32_are(outs[0], ML_TENSOR_DATA(a, float), 4));
    CHECK(outs[1] && ml_test_dims_are(outs[1], 2, de));
    CHECK(ml_test_f32_are(outs[2], ML_TENSOR_DATA(b, float), 6));
    for (int i = 0; i < 3; i++) ml_tensor_free(outs[i]);
    /* opset 18 num_outputs with an uneven last chunk: 5 -> 2, 2, 1 */
    ml_attr at18[] = {ml_test_attr_int("axis", 1), ml_test_attr_int("num_outputs", 3)};
    CHECK_OK(ml_test_run("", "Split", 18, at18, 2, 1, in2, 3, outs));
    int64_t c0[] = {2, 2}, c2[] = {2, 1};
    CHECK(ml_test_dims_are(outs[0], 2, c0) && ml_test_dims_are(outs[1], 2, c0) &&
          ml_test_dims_are(outs[2], 2, c2));
    for (int i = 0; i < 3; i++) ml_tensor_free(outs[i]);
    /* opset 11 even split that does not divide */
    CHECK_ERR(ml_test_run("", "Split", 11, &ax, 1, 1, in2, 3, outs), ML_ERR_INVALID_ARGUMENT);
    ml_tensor_free(sp);
    ml_tensor_free(y);
    /* strings */
    const char *s1[] = {"x", "y"}, *s2[] = {"z"};
    int64_t d1 = 2, d2 = 1;
    ml_tensor *t1 = ml_test_strings(1, &d1, s1), *t2 = ml_test_strings(1, &d2, s2);
    const ml_tensor *in3[] = {t2, t1};
    y = ml_test_run1("Concat", 13, &ax0, 1, 2, in3);
    CHECK(y && ml_tensor_numel(y) == 3);
    if (y) CHECK_STR(((ml_str *)y->data)[0].data, "z");
    if (y) CHECK_STR(((ml_str *)y->data)[2].data, "y");
    ml_tensor_free(y);
    ml_tensor_free(t1);
    ml_tensor_free(t2);
    ml_tensor_free(a);
    ml_tensor_free(b);
    ml_tensor_free(e);
}

static void test_pad(void) {
    int64_t d[] = {2, 3};
    ml_tensor *x = ml_test_iota_f32(2, d); /* [[0 1 2] [3 4 5]] */
    int64_t pv[] = {0, 2, 0, 1};
    ml_tensor *p = ml_test_vec_i64(4, pv);
    float cv = 9;
    ml_tensor *c = ml_test_f32(0, NULL, &cv);
    const ml_tensor *in[] = {x, p, c};
    ml_tensor *y = ml_test_run1("Pad", 13, NULL, 0, 3, in);
    float e1[] = {9, 9, 0, 1, 2, 9, 9, 9, 3, 4, 5, 9};
    CHECK(ml_test_f32_are(y, e1, 12));
    ml_tensor_free(y);
    ml_attr m = ml_test_attr_string("mode", "reflect");
    y = ml_test_run1("Pad", 13, &m, 1, 2, in);
    float e2[] = {2, 1, 0, 1, 2, 1, 5, 4, 3, 4, 5, 4};
    CHECK(ml_test_f32_are(y, e2, 12));
    ml_tensor_free(y);
    m = ml_test_attr_string("mode", "edge");
    y = ml_test_run1("Pad", 13, &m, 1, 2, in);
    float e3[] = {0, 0, 0, 1, 2, 2, 3, 3, 3, 4, 5, 5};
    CHECK(ml_test_f32_are(y, e3, 12));
    ml_tensor_free(y);
    m = ml_test_attr_string("mode", "wrap");
    y = ml_test_run1("Pad", 19, &m, 1, 2, in);
    float e4[] = {1, 2, 0, 1, 2, 0, 4, 5, 3, 4, 5, 3};
    CHECK(ml_test_f32_are(y, e4, 12));
    ml_tensor_free(y);
    ml_tensor_free(p);
    /* negative pads crop; padding on the first axis */
    int64_t pv2[] = {1, -1, 0, -1};
    p = ml_test_vec_i64(4, pv2);
    in[1] = p;
    y = ml_test_run1("Pad", 13, NULL, 0, 3, in);
    int64_t ed[] = {3, 1};
    float e5[] = {9, 1, 4};
    CHECK(ml_test_dims_are(y, 2, ed) && ml_test_f32_are(y, e5, 3));
    ml_tensor_free(y);
    ml_tensor_free(p);
    /* padding more at the start than remains after cropping the end */
    int64_t pv5[] = {0, 2, 0, -4};
    p = ml_test_vec_i64(4, pv5);
    in[1] = p;
    y = ml_test_run1("Pad", 13, NULL, 0, 3, in);
    int64_t ed5[] = {2, 1};
    float e5b[] = {9, 9};
    CHECK(ml_test_dims_are(y, 2, ed5) && ml_test_f32_are(y, e5b, 2));
    ml_tensor_free(y);
    ml_tensor_free(p);
    /* opset 18 axes input */
    int64_t pv3[] = {1, 1}, axv[] = {-1};
    p = ml_test_vec_i64(2, pv3);
    ml_tensor *axes = ml_test_vec_i64(1, axv);
    const ml_tensor *in4[] = {x, p, NULL, axes};
    y = ml_test_run1("Pad", 18, NULL, 0, 4, in4);
    float e6[] = {0, 0, 1, 2, 0, 0, 3, 4, 5, 0};
    CHECK(ml_test_f32_are(y, e6, 10));
    ml_tensor_free(y);
    /* opset 2 attributes */
    int64_t pa[] = {0, 1, 0, 0};
    ml_attr at2[] = {ml_test_attr_ints("pads", pa, 4), ml_test_attr_float("value", 7)};
    y = ml_test_run1("Pad", 2, at2, 2, 1, in);
    float e7[] = {7, 0, 1, 2, 7, 3, 4, 5};
    CHECK(ml_test_f32_are(y, e7, 8));
    ml_tensor_free(y);
    /* wrong pads length and over-cropping fail */
    const ml_tensor *in5[] = {x, axes};
    ml_tensor *out;
    CHECK_ERR(ml_test_run("", "Pad", 13, NULL, 0, 2, in5, 1, &out), ML_ERR_INVALID_ARGUMENT);
    int64_t pv4[] = {0, -4, 0, 0};
    ml_tensor *p4 = ml_test_vec_i64(4, pv4);
    const ml_tensor *in6[] = {x, p4};
    CHECK_ERR(ml_test_run("", "Pad", 13, NULL, 0, 2, in6, 1, &out), ML_ERR_INVALID_ARGUMENT);
    ml_tensor_free(p4);
    ml_tensor_free(axes);
    ml_tensor_free(p);
    ml_tensor_free(c);
    ml_tensor_free(x);
}

static void test_center_crop_pad(void) {
    int64_t d[] = {3, 4};
    ml_tensor *x = ml_test_iota_f32(2, d);
    int64_t sv[] = {1, 6};
    ml_tensor *s = ml_test_vec_i64(2, sv);
    const ml_tensor *in[] = {x, s};
    ml_tensor *y = ml_test_run1("CenterCropPad", 18, NULL, 0, 2, in);
    float e[] = {0, 4, 5, 6, 7, 0};
    CHECK(ml_test_f32_are(y, e, 6));
    ml_tensor_free(y);
    ml_tensor_free(s);
    ml_tensor_free(x);
}

static void test_expand_tile(void) {
    int64_t d[] = {3, 1};
    ml_tensor *x = ml_test_iota_f32(2, d);
    int64_t sv[] = {2, 1, 2};
    ml_tensor *s = ml_test_vec_i64(3, sv);
    const ml_tensor *in[] = {x, s};
    ml_tensor *y = ml_test_run1("Expand", 13, NULL, 0, 2, in);
    int64_t ed[] = {2, 3, 2};
    float e[] = {0, 0, 1, 1, 2, 2, 0, 0, 1, 1, 2, 2};
    CHECK(ml_test_dims_are(y, 3, ed) && ml_test_f32_are(y, e, 12));
    ml_tensor_free(y);
    ml_tensor_free(s);
    int64_t bad[] = {2, 4};
    s = ml_test_vec_i64(2, bad);
    in[1] = s;
    ml_tensor *out;
    CHECK_ERR(ml_test_run("", "Expand", 13, NULL, 0, 2, in, 1, &out), ML_ERR_INVALID_ARGUMENT);
    ml_tensor_free(s);
    int64_t rv[] = {2, 3};
    ml_tensor *r = ml_test_vec_i64(2, rv);
    in[1] = r;
    y = ml_test_run1("Tile", 13, NULL, 0, 2, in);
    float e2[] = {0, 0, 0, 1, 1, 1, 2, 2, 2, 0, 0, 0, 1, 1, 1, 2, 2, 2};
    CHECK(ml_test_f32_are(y, e2, 18));
    ml_tensor_free(y);
    ml_tensor_free(r);
    int64_t rz[] = {0, 2};
    r = ml_test_vec_i64(2, rz);
    in[1] = r;
    y = ml_test_run1("Tile", 13, NULL, 0, 2, in);
    int64_t zd[] = {0, 2};
    CHECK(ml_test_dims_are(y, 2, zd));
    ml_tensor_free(y);
    ml_tensor_free(r);
    ml_tensor_free(x);
}

static void test_generators(void) {
    /* Constant forms */
    int64_t iv[] = {4, 5};
    ml_attr a = ml_test_attr_ints("value_ints", iv, 2);
    ml_tensor *y = ml_test_run1("Constant", 13, &a, 1, 0, NULL);
    CHECK(ml_test_i64_are(y, iv, 2));
    ml_tensor_free(y);
    a = ml_test_attr_float("value_float", 2.5f);
    y = ml_test_run1("Constant", 13, &a, 1, 0, NULL);
    float f = 2.5f;
    CHECK(ml_test_f32_are(y, &f, 1) && y->rank == 0);
    ml_tensor_free(y);
    a = ml_test_attr_string("value_string", "hi");
    y = ml_test_run1("Constant", 13, &a, 1, 0, NULL);
    CHECK(y && y->dtype == ML_STRING);
    if (y) CHECK_STR(((ml_str *)y->data)[0].data, "hi");
    ml_tensor_free(y);
    ml_tensor *out;
    CHECK_ERR(ml_test_run("", "Constant", 13, NULL, 0, 0, NULL, 1, &out), ML_ERR_INVALID_ARGUMENT);
    /* ConstantOfShape with an int value and an empty shape (scalar) */
    int64_t sv[] = {2, 3};
    ml_tensor *s = ml_test_vec_i64(2, sv);
    int64_t seven = 7;
    int64_t one = 1;
    ml_tensor *v = ml_test_i64(1, &one, &seven);
    a = ml_test_attr_tensor("value", v);
    const ml_tensor *in[] = {s};
    y = ml_test_run1("ConstantOfShape", 9, &a, 1, 1, in);
    int64_t e[] = {7, 7, 7, 7, 7, 7};
    CHECK(ml_test_i64_are(y, e, 6));
    ml_tensor_free(y);
    ml_tensor_free(s);
    s = ml_test_vec_i64(0, NULL);
    in[0] = s;
    y = ml_test_run1("ConstantOfShape", 9, NULL, 0, 1, in);
    float z = 0;
    CHECK(ml_test_f32_are(y, &z, 1) && y->rank == 0);
    ml_tensor_free(y);
    ml_tensor_free(s);
    ml_tensor_free(v);
    int64_t neg[] = {-1};
    s = ml_test_vec_i64(1, neg);
    in[0] = s;
    CHECK_ERR(ml_test_run("", "ConstantOfShape", 9, NULL, 0, 1, in, 1, &out),
              ML_ERR_INVALID_ARGUMENT);
    ml_tensor_free(s);
    /* Range: int with negative delta, float */
    int64_t st = 10, li = 4, de = -3;
    ml_tensor *t0 = ml_test_i64(0, NULL, &st), *t1 = ml_test_i64(0, NULL, &li),
              *t2 = ml_test_i64(0, NULL, &de);
    const ml_tensor *rin[] = {t0, t1, t2};
    y = ml_test_run1("Range", 11, NULL, 0, 3, rin);
    int64_t re[] = {10, 7};
    CHECK(ml_test_i64_are(y, re, 2));
    ml_tensor_free(y);
    ML_TENSOR_DATA(t2, int64_t)[0] = 0;
    CHECK_ERR(ml_test_run("", "Range", 11, NULL, 0, 3, rin, 1, &out), ML_ERR_INVALID_ARGUMENT);
    ml_tensor_free(t0);
    ml_tensor_free(t1);
    ml_tensor_free(t2);
    float fs = 1, fl = 2, fd = 0.3f;
    t0 = ml_test_f32(0, NULL, &fs);
    t1 = ml_test_f32(0, NULL, &fl);
    t2 = ml_test_f32(0, NULL, &fd);
    const ml_tensor *rin2[] = {t0, t1, t2};
    y = ml_test_run1("Range", 11, NULL, 0, 3, rin2);
    CHECK(y && ml_tensor_numel(y) == 4);
    ml_tensor_free(y);
    ml_tensor_free(t0);
    ml_tensor_free(t1);
    ml_tensor_free(t2);
    /* EyeLike with k and a dtype */
    int64_t ed[] = {3, 4};
    ml_tensor *x = ml_test_f32(2, ed, NULL);
    ml_attr ea[] = {ml_test_attr_int("k", 1), ml_test_attr_int("dtype", ML_INT64)};
    in[0] = x;
    y = ml_test_run1("EyeLike", 9, ea, 2, 1, in);
    int64_t ee[] = {0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1};
    CHECK(ml_test_i64_are(y, ee, 12));
    ml_tensor_free(y);
    ml_tensor_free(x);
}

static void test_trilu(void) {
    int64_t d[] = {2, 3, 3};
    ml_tensor *x = ml_test_iota_f32(3, d);
    int64_t k = -1;
    ml_tensor *kt = ml_test_i64(0, NULL, &k);
    const ml_tensor *in[] = {x, kt};
    ml_tensor *y = ml_test_run1("Trilu", 14, NULL, 0, 2, in);
    float e[] = {0, 1, 2, 3, 4, 5, 0, 7, 8, 9, 10, 11, 12, 13, 14, 0, 16, 17};
    CHECK(ml_test_f32_are(y, e, 18));
    ml_tensor_free(y);
    ml_attr lo = ml_test_attr_int("upper", 0);
    y = ml_test_run1("Trilu", 14, &lo, 1, 1, in);
    float e2[] = {0, 0, 0, 3, 4, 0, 6, 7, 8, 9, 0, 0, 12, 13, 0, 15, 16, 17};
    CHECK(ml_test_f32_are(y, e2, 18));
    ml_tensor_free(y);
    ml_tensor_free(kt);
    ml_tensor_free(x);
}

static void test_depth_space(void) {
    int64_t d[] = {1, 8, 2, 3};
    ml_tensor *x = ml_test_iota_f32(4, d);
    ml_attr bs = ml_test_attr_int("blocksize", 2);
    const ml_tensor *in[] = {x};
    ml_tensor *y = ml_test_run1("DepthToSpace", 13, &bs, 1, 1, in);
    int64_t ed[] = {1, 2, 4, 6};
    CHECK(ml_test_dims_are(y, 4, ed));
    /* DCR: out[0, c, 2h+i, 2w+j] = in[0, (i*2+j)*2 + c, h, w] */
    if (y) {
        bool ok = true;
        for (int c = 0; c < 2; c++)
            for (int h = 0; h < 4; h++)
                for (int w = 0; w < 6; w++) {
                    int ic = ((h % 2) * 2 + (w % 2)) * 2 + c;
                    float want = ML_TENSOR_DATA(x, float)[(ic * 2 + h / 2) * 3 + w / 2];
                    ok &= ML_TENSOR_DATA(y, float)[(c * 4 + h) * 6 + w] == want;
                }
        CHECK(ok);
    }
    /* SpaceToDepth inverts DepthToSpace in DCR mode */
    const ml_tensor *in2[] = {y};
    ml_tensor *z = ml_test_run1("SpaceToDepth", 13, &bs, 1, 1, in2);
    CHECK(ml_test_f32_are(z, ML_TENSOR_DATA(x, float), 48));
    ml_tensor_free(z);
    ml_tensor_free(y);
    ml_attr crd[] = {bs, ml_test_attr_string("mode", "CRD")};
    y = ml_test_run1("DepthToSpace", 13, crd, 2, 1, in);
    if (y) {
        bool ok = true;
        for (int c = 0; c < 2; c++)
            for (int h = 0; h < 4; h++)
                for (int w = 0; w < 6; w++) {
                    int ic = c * 4 + (h % 2) * 2 + (w % 2);
                    float want = ML_TENSOR_DATA(x, float)[(ic * 2 + h / 2) * 3 + w / 2];
                    ok &= ML_TENSOR_DATA(y, float)[(c * 4 + h) * 6 + w] == want;
                }
        CHECK(ok);
    }
    ml_tensor_free(y);
    ml_attr b3 = ml_test_attr_int("blocksize", 3);
    ml_tensor *out;
    CHECK_ERR(ml_test_run("", "DepthToSpace", 13, &b3, 1, 1, in, 1, &out), ML_ERR_INVALID_ARGUMENT);
    ml_tensor_free(x);
}

static void test_dropout(void) {
    int64_t d[] = {4};
    ml_tensor *x = ml_test_iota_f32(1, d);
    const ml_tensor *in[] = {x};
    ml_tensor *outs[2];
    CHECK_OK(ml_test_run("", "Dropout", 13, NULL, 0, 1, in, 2, outs));
    CHECK(outs[0] && outs[0]->data == x->data);
    CHECK(outs[1] && outs[1]->dtype == ML_BOOL && ML_TENSOR_DATA(outs[1], uint8_t)[3] == 1);
    ml_tensor_free(outs[0]);
    ml_tensor_free(outs[1]);
    /* training mode with ratio 0.5: kept values are doubled, mask agrees */
    int64_t big[] = {1000};
    ml_tensor *xb = ml_test_f32(1, big, NULL);
    for (int i = 0; i < 1000; i++) ML_TENSOR_DATA(xb, float)[i] = 1;
    float r = 0.5f;
    uint8_t tm = 1;
    ml_tensor *rt = ml_test_f32(0, NULL, &r), *tt = ml_test_tensor(ML_BOOL, 0, NULL, &tm);
    const ml_tensor *in2[] = {xb, rt, tt};
    ml_attr seed = ml_test_attr_int("seed", 3);
    CHECK_OK(ml_test_run("", "Dropout", 13, &seed, 1, 3, in2, 2, outs));
    if (outs[0] && outs[1]) {
        int kept = 0;
        bool ok = true;
        for (int i = 0; i < 1000; i++) {
            bool m = ML_TENSOR_DATA(outs[1], uint8_t)[i];
            kept += m;
            ok &= ML_TENSOR_DATA(outs[0], float)[i] == (m ? 2.0f : 0.0f);
        }
        CHECK(ok);
        CHECK(kept > 400 && kept < 600);
    }
    ml_tensor_free(outs[0]);
    ml_tensor_free(outs[1]);
    ml_tensor_free(rt);
    ml_tensor_free(tt);
    ml_tensor_free(xb);
    ml_tensor_free(x);
}

/* Attribute forms of early opsets. */
static void test_old_opsets(void) {
    int64_t d[] = {2, 3};
    ml_tensor *x = ml_test_iota_f32(2, d);
    const ml_tensor *in[] = {x, NULL, NULL};
    /* Split-2: sizes in the attribute */
    int64_t sp[] = {1, 2};
    ml_attr sa[] = {ml_test_attr_int("axis", 1), ml_test_attr_ints("split", sp, 2)};
    ml_tensor *outs[2];
    CHECK_OK(ml_test_run("", "Split", 2, sa, 2, 1, in, 2, outs));
    float e0[] = {0, 3}, e1[] = {1, 2, 4, 5};
    CHECK(ml_test_f32_are(outs[0], e0, 2) && ml_test_f32_are(outs[1], e1, 4));
    ml_tensor_free(outs[0]);
    ml_tensor_free(outs[1]);
    /* Pad-1: 'paddings' */
    int64_t pp[] = {0, 1, 0, 0};
    ml_attr pa = ml_test_attr_ints("paddings", pp, 4);
    ml_tensor *y = ml_test_run1("Pad", 1, &pa, 1, 1, in);
    float ep[] = {0, 0, 1, 2, 0, 3, 4, 5};
    CHECK(ml_test_f32_are(y, ep, 8));
    ml_tensor_free(y);
    /* Tile-1: scalar tiles along a scalar axis */
    int64_t tiles = 2, axis = 0;
    ml_tensor *tt = ml_test_i64(0, NULL, &tiles), *ta = ml_test_i64(0, NULL, &axis);
    const ml_tensor *tin[] = {x, tt, ta};
    y = ml_test_run1("Tile", 1, NULL, 0, 3, tin);
    int64_t ed[] = {4, 3};
    CHECK(ml_test_dims_are(y, 2, ed));
    ml_tensor_free(y);
    ml_tensor_free(tt);
    ml_tensor_free(ta);
    /* Dropout-7: the mask has the data type */
    CHECK_OK(ml_test_run("", "Dropout", 7, NULL, 0, 1, in, 2, outs));
    CHECK(outs[1] && outs[1]->dtype == ML_FLOAT && ML_TENSOR_DATA(outs[1], float)[5] == 1.0f);
    ml_tensor_free(outs[0]);
    ml_tensor_free(outs[1]);
    /* Squeeze-1 / Unsqueeze-1 attributes; Unsqueeze needs axes */
    int64_t ax[] = {1};
    ml_attr ua = ml_test_attr_ints("axes", ax, 1);
    y = ml_test_run1("Unsqueeze", 1, &ua, 1, 1, in);
    int64_t eu[] = {2, 1, 3};
    CHECK(ml_test_dims_are(y, 3, eu));
    const ml_tensor *sin[] = {y};
    ml_tensor *z = ml_test_run1("Squeeze", 1, &ua, 1, 1, sin);
    CHECK(ml_test_dims_are(z, 2, d));
    ml_tensor_free(z);
    ml_tensor_free(y);
    ml_tensor *out;
    CHECK_ERR(ml_test_run("", "Unsqueeze", 11, NULL, 0, 1, in, 1, &out), ML_ERR_INVALID_ARGUMENT);
    /* Concat-1 defaults to axis 1; from opset 4 the axis is required */
    const ml_tensor *cin[] = {x, x};
    y = ml_test_run1("Concat", 1, NULL, 0, 2, cin);
    int64_t ec[] = {2, 6};
    CHECK(ml_test_dims_are(y, 2, ec));
    ml_tensor_free(y);
    CHECK_ERR(ml_test_run("", "Concat", 4, NULL, 0, 2, cin, 1, &out), ML_ERR_INVALID_ARGUMENT);
    ml_tensor_free(x);
}

/* No-op Expand/Tile/Pad share the input's storage instead of copying. */
static void test_noop_views(void) {
    int64_t d[] = {2, 3};
    ml_tensor *x = ml_test_iota_f32(2, d);
    ml_tensor *s = ml_test_vec_i64(2, d);
    const ml_tensor *in[] = {x, s};
    ml_tensor *y = ml_test_run1("Expand", 13, NULL, 0, 2, in);
    CHECK(y && y->data == x->data && ml_test_dims_are(y, 2, d));
    ml_tensor_free(y);
    int64_t ones[] = {1, 1};
    ml_tensor *r = ml_test_vec_i64(2, ones);
    in[1] = r;
    y = ml_test_run1("Tile", 13, NULL, 0, 2, in);
    CHECK(y && y->data == x->data);
    ml_tensor_free(y);
    int64_t zeros[] = {0, 0, 0, 0};
    ml_tensor *p = ml_test_vec_i64(4, zeros);
    in[1] = p;
    y = ml_test_run1("Pad", 13, NULL, 0, 2, in);
    CHECK(y && y->data == x->data);
    ml_tensor_free(y);
    ml_tensor_free(p);
    ml_tensor_free(r);
    ml_tensor_free(s);
    ml_tensor_free(x);
}

int main(void) {
    RUN(test_reshape);
    RUN(test_flatten_squeeze_unsqueeze);
    RUN(test_transpose);
    RUN(test_permute_parallel);
    RUN(test_permute_random);
    RUN(test_shape_size_identity);
    RUN(test_concat_split);
    RUN(test_pad);
    RUN(test_center_crop_pad);
    RUN(test_expand_tile);
    RUN(test_generators);
    RUN(test_trilu);
    RUN(test_depth_space);
    RUN(test_dropout);
    RUN(test_old_opsets);
    RUN(test_noop_views);
    return TEST_SUMMARY();
}
