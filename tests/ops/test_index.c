/* Unit tests of the index family: gathers, scatters, slicing, selection,
 * with hostile indices, negative indices, int32 indices, empty and string
 * tensors. */
#include <stdlib.h>

#include "ops/harness.h"
#include "test.h"

static void test_gather(void) {
    int64_t d[] = {3, 4};
    ml_tensor *x = ml_test_iota_f32(2, d);
    int32_t iv[] = {-1, 0};
    int64_t id[] = {2};
    ml_tensor *ind = ml_test_tensor(ML_INT32, 1, id, iv);
    const ml_tensor *in[] = {x, ind};
    ml_tensor *y = ml_test_run1("Gather", 13, NULL, 0, 2, in);
    float e[] = {8, 9, 10, 11, 0, 1, 2, 3};
    CHECK(ml_test_f32_are(y, e, 8));
    ml_tensor_free(y);
    ml_attr ax = ml_test_attr_int("axis", 1);
    y = ml_test_run1("Gather", 13, &ax, 1, 2, in);
    float e2[] = {3, 0, 7, 4, 11, 8};
    CHECK(ml_test_f32_are(y, e2, 6));
    ml_tensor_free(y);
    /* scalar index drops the axis */
    int64_t s = 2;
    ml_tensor *si = ml_test_i64(0, NULL, &s);
    in[1] = si;
    y = ml_test_run1("Gather", 13, &ax, 1, 2, in);
    int64_t ed[] = {3};
    float e3[] = {2, 6, 10};
    CHECK(ml_test_dims_are(y, 1, ed) && ml_test_f32_are(y, e3, 3));
    ml_tensor_free(y);
    /* out of range both ways */
    ml_tensor *out;
    ML_TENSOR_DATA(si, int64_t)[0] = 4;
    CHECK_ERR(ml_test_run("", "Gather", 13, &ax, 1, 2, in, 1, &out), ML_ERR_INVALID_ARGUMENT);
    ML_TENSOR_DATA(si, int64_t)[0] = -5;
    CHECK_ERR(ml_test_run("", "Gather", 13, &ax, 1, 2, in, 1, &out), ML_ERR_INVALID_ARGUMENT);
    ml_tensor_free(si);
    /* empty indices */
    ml_tensor *ei = ml_test_i64(1, (int64_t[]){0}, NULL);
    in[1] = ei;
    y = ml_test_run1("Gather", 13, NULL, 0, 2, in);
    int64_t e0[] = {0, 4};
    CHECK(ml_test_dims_are(y, 2, e0));
    ml_tensor_free(y);
    ml_tensor_free(ei);
    /* strings */
    const char *sv[] = {"a", "b", "c"};
    int64_t sd = 3;
    ml_tensor *st = ml_test_strings(1, &sd, sv);
    int64_t sidx[] = {2, 2, 0};
    ml_tensor *si2 = ml_test_vec_i64(3, sidx);
    const ml_tensor *in2[] = {st, si2};
    y = ml_test_run1("Gather", 13, NULL, 0, 2, in2);
    if (y) {
        CHECK_STR(((ml_str *)y->data)[1].data, "c");
        CHECK_STR(((ml_str *)y->data)[2].data, "a");
    }
    ml_tensor_free(y);
    ml_tensor_free(st);
    ml_tensor_free(si2);
    ml_tensor_free(ind);
    ml_tensor_free(x);
}

static void test_gather_elements_nd(void) {
    int64_t d[] = {2, 2};
    ml_tensor *x = ml_test_iota_f32(2, d);
    int64_t iv[] = {0, 0, 1, -2};
    ml_tensor *ind = ml_test_i64(2, d, iv);
    const ml_tensor *in[] = {x, ind};
    ml_attr ax = ml_test_attr_int("axis", 1);
    ml_tensor *y = ml_test_run1("GatherElements", 13, &ax, 1, 2, in);
    float e[] = {0, 0, 3, 2};
    CHECK(ml_test_f32_are(y, e, 4));
    ml_tensor_free(y);
    ML_TENSOR_DATA(ind, int64_t)[3] = 2;
    ml_tensor *out;
    CHECK_ERR(ml_test_run("", "GatherElements", 13, &ax, 1, 2, in, 1, &out),
              ML_ERR_INVALID_ARGUMENT);
    ml_tensor_free(ind);
    /* GatherND with batch_dims = 1: data [2,2,2], indices [2,1] */
    int64_t d3[] = {2, 2, 2};
    ml_tensor *x3 = ml_test_iota_f32(3, d3);
    int64_t nd[] = {2, 1}, nv[] = {1, 0};
    ml_tensor *ni = ml_test_i64(2, nd, nv);
    const ml_tensor *in3[] = {x3, ni};
    ml_attr bd = ml_test_attr_int("batch_dims", 1);
    y = ml_test_run1("GatherND", 13, &bd, 1, 2, in3);
    float e3[] = {2, 3, 4, 5};
    int64_t ed[] = {2, 2};
    CHECK(ml_test_dims_are(y, 2, ed) && ml_test_f32_are(y, e3, 4));
    ml_tensor_free(y);
    /* batch_dims 0, full tuples */
    int64_t nd2[] = {2, 3}, nv2[] = {1, 1, 1, 0, -1, 0};
    ml_tensor *ni2 = ml_test_i64(2, nd2, nv2);
    in3[1] = ni2;
    y = ml_test_run1("GatherND", 13, NULL, 0, 2, in3);
    float e4[] = {7, 2};
    CHECK(ml_test_f32_are(y, e4, 2));
    ml_tensor_free(y);
    ML_TENSOR_DATA(ni2, int64_t)[0] = 2;
    CHECK_ERR(ml_test_run("", "GatherND", 13, NULL, 0, 2, in3, 1, &out), ML_ERR_INVALID_ARGUMENT);
    ml_tensor_free(ni2);
    ml_tensor_free(ni);
    ml_tensor_free(x3);
    ml_tensor_free(x);
}

static void test_scatter(void) {
    int64_t d[] = {1, 5};
    float xv[] = {1, 2, 3, 4, 5};
    ml_tensor *x = ml_test_f32(2, d, xv);
    int64_t id[] = {1, 2}, iv[] = {1, 1};
    ml_tensor *ind = ml_test_i64(2, id, iv);
    float uv[] = {10, 20};
    ml_tensor *u = ml_test_f32(2, id, uv);
    const ml_tensor *in[] = {x, ind, u};
    ml_attr at[] = {ml_test_attr_int("axis", 1), ml_test_attr_string("reduction", "add")};
    ml_tensor *y = ml_test_run1("ScatterElements", 16, at, 2, 3, in);
    float e[] = {1, 32, 3, 4, 5};
    CHECK(ml_test_f32_are(y, e, 5));
    ml_tensor_free(y);
    at[1] = ml_test_attr_string("reduction", "max");
    y = ml_test_run1("ScatterElements", 18, at, 2, 3, in);
    float e2[] = {1, 20, 3, 4, 5};
    CHECK(ml_test_f32_are(y, e2, 5));
    ml_tensor_free(y);
    ml_tensor *out;
    CHECK_ERR(ml_test_run("", "ScatterElements", 16, at, 2, 3, in, 1, &out),
              ML_ERR_INVALID_ARGUMENT); /* max arrives at 18 */
    y = ml_test_run1("Scatter", 10, at, 1, 3, in);
    float e3[] = {1, 20, 3, 4, 5};
    CHECK(ml_test_f32_are(y, e3, 5));
    ml_tensor_free(y);
    ML_TENSOR_DATA(ind, int64_t)[0] = -6;
    CHECK_ERR(ml_test_run("", "ScatterElements", 13, at, 1, 3, in, 1, &out),
              ML_ERR_INVALID_ARGUMENT);
    ml_tensor_free(ind);
    ml_tensor_free(u);
    ml_tensor_free(x);
    /* ScatterND: rows of a [4,2] tensor, multiply */
    int64_t xd[] = {4, 2};
    x = ml_test_iota_f32(2, xd);
    int64_t nd[] = {2, 1}, nv[] = {3, -4};
    ind = ml_test_i64(2, nd, nv);
    int64_t ud[] = {2, 2};
    float uv2[] = {2, 2, 3, 3};
    u = ml_test_f32(2, ud, uv2);
    const ml_tensor *in2[] = {x, ind, u};
    ml_attr mul = ml_test_attr_string("reduction", "mul");
    y = ml_test_run1("ScatterND", 16, &mul, 1, 3, in2);
    float e4[] = {0, 3, 2, 3, 4, 5, 12, 14};
    CHECK(ml_test_f32_are(y, e4, 8));
    ml_tensor_free(y);
    y = ml_test_run1("ScatterND", 13, NULL, 0, 3, in2);
    float e5[] = {3, 3, 2, 3, 4, 5, 2, 2};
    CHECK(ml_test_f32_are(y, e5, 8));
    ml_tensor_free(y);
    ML_TENSOR_DATA(ind, int64_t)[0] = 4;
    CHECK_ERR(ml_test_run("", "ScatterND", 13, NULL, 0, 3, in2, 1, &out), ML_ERR_INVALID_ARGUMENT);
    ml_tensor_free(ind);
    ml_tensor_free(u);
    ml_tensor_free(x);
}

static void test_slice(void) {
    int64_t d[] = {3, 5};
    ml_tensor *x = ml_test_iota_f32(2, d);
    int64_t sv[] = {-1, 100}, ev[] = {INT64_MIN, -100}, av[] = {1, 0}, pv[] = {-2, -1};
    ml_tensor *s = ml_test_vec_i64(2, sv), *e = ml_test_vec_i64(2, ev), *a = ml_test_vec_i64(2, av),
              *p = ml_test_vec_i64(2, pv);
    const ml_tensor *in[] = {x, s, e, a, p};
    ml_tensor *y = ml_test_run1("Slice", 13, NULL, 0, 5, in);
    /* axis 1 from 4 down by 2: 4,2,0; axis 0 reversed: 2,1,0 */
    float ex[] = {14, 12, 10, 9, 7, 5, 4, 2, 0};
    int64_t ed[] = {3, 3};
    CHECK(ml_test_dims_are(y, 2, ed) && ml_test_f32_are(y, ex, 9));
    ml_tensor_free(y);
    /* empty result and default axes/steps */
    int64_t sv2[] = {2}, ev2[] = {1};
    ml_tensor *s2 = ml_test_vec_i64(1, sv2), *e2 = ml_test_vec_i64(1, ev2);
    const ml_tensor *in2[] = {x, s2, e2};
    y = ml_test_run1("Slice", 13, NULL, 0, 3, in2);
    int64_t ed2[] = {0, 5};
    CHECK(ml_test_dims_are(y, 2, ed2));
    ml_tensor_free(y);
    /* opset 1 attribute form */
    int64_t st1[] = {1}, en1[] = {3}, ax1[] = {-1};
    ml_attr at[] = {ml_test_attr_ints("starts", st1, 1), ml_test_attr_ints("ends", en1, 1),
                    ml_test_attr_ints("axes", ax1, 1)};
    y = ml_test_run1("Slice", 1, at, 3, 1, in);
    float ex3[] = {1, 2, 6, 7, 11, 12};
    CHECK(ml_test_f32_are(y, ex3, 6));
    ml_tensor_free(y);
    /* a slice covering everything is a view */
    int64_t sv4[] = {0}, ev4[] = {INT64_MAX};
    ml_tensor *s4 = ml_test_vec_i64(1, sv4), *e4 = ml_test_vec_i64(1, ev4);
    const ml_tensor *in4[] = {x, s4, e4};
    y = ml_test_run1("Slice", 13, NULL, 0, 3, in4);
    CHECK(y && y->data == x->data && ml_test_dims_are(y, 2, d));
    ml_tensor_free(y);
    ml_tensor_free(s4);
    ml_tensor_free(e4);
    /* zero step is rejected */
    ML_TENSOR_DATA(p, int64_t)[0] = 0;
    ml_tensor *out;
    CHECK_ERR(ml_test_run("", "Slice", 13, NULL, 0, 5, in, 1, &out), ML_ERR_INVALID_ARGUMENT);
    ml_tensor_free(s);
    ml_tensor_free(e);
    ml_tensor_free(a);
    ml_tensor_free(p);
    ml_tensor_free(s2);
    ml_tensor_free(e2);
    ml_tensor_free(x);
}

static void test_compress_nonzero(void) {
    int64_t d[] = {3, 2};
    ml_tensor *x = ml_test_iota_f32(2, d);
    uint8_t cv[] = {0, 1, 1};
    int64_t cd = 3;
    ml_tensor *c = ml_test_tensor(ML_BOOL, 1, &cd, cv);
    const ml_tensor *in[] = {x, c};
    ml_attr ax = ml_test_attr_int("axis", 0);
    ml_tensor *y = ml_test_run1("Compress", 11, &ax, 1, 2, in);
    float e[] = {2, 3, 4, 5};
    CHECK(ml_test_f32_are(y, e, 4));
    ml_tensor_free(y);
    y = ml_test_run1("Compress", 11, NULL, 0, 2, in);
    float e2[] = {1, 2};
    CHECK(ml_test_f32_are(y, e2, 2));
    ml_tensor_free(y);
    ml_attr ax1 = ml_test_attr_int("axis", -1);
    ml_tensor *out;
    CHECK_ERR(ml_test_run("", "Compress", 11, &ax1, 1, 2, in, 1, &out), ML_ERR_INVALID_ARGUMENT);
    in[0] = x;
    y = ml_test_run1("NonZero", 13, NULL, 0, 1, in);
    int64_t e3[] = {0, 1, 1, 2, 2, 1, 0, 1, 0, 1};
    int64_t ed[] = {2, 5};
    CHECK(ml_test_dims_are(y, 2, ed) && ml_test_i64_are(y, e3, 10));
    ml_tensor_free(y);
    ml_tensor_free(c);
    ml_tensor_free(x);
}

static void test_unique(void) {
    float xv[] = {2, 1, 1, 3, 4, 3};
    int64_t d = 6;
    ml_tensor *x = ml_test_f32(1, &d, xv);
    const ml_tensor *in[] = {x};
    ml_tensor *o[4];
    CHECK_OK(ml_test_run("", "Unique", 11, NULL, 0, 1, in, 4, o));
    float y[] = {1, 2, 3, 4};
    int64_t idx[] = {1, 0, 3, 4}, inv[] = {1, 0, 0, 2, 3, 2}, cnt[] = {2, 1, 2, 1};
    CHECK(ml_test_f32_are(o[0], y, 4));
    CHECK(ml_test_i64_are(o[1], idx, 4));
    CHECK(ml_test_i64_are(o[2], inv, 6));
    CHECK(ml_test_i64_are(o[3], cnt, 4));
    for (int i = 0; i < 4; i++) ml_tensor_free(o[i]);
    ml_attr us = ml_test_attr_int("sorted", 0);
    CHECK_OK(ml_test_run("", "Unique", 11, &us, 1, 1, in, 4, o));
    float y2[] = {2, 1, 3, 4};
    int64_t idx2[] = {0, 1, 3, 4}, inv2[] = {0, 1, 1, 2, 3, 2}, cnt2[] = {1, 2, 2, 1};
    CHECK(ml_test_f32_are(o[0], y2, 4));
    CHECK(ml_test_i64_are(o[1], idx2, 4));
    CHECK(ml_test_i64_are(o[2], inv2, 6));
    CHECK(ml_test_i64_are(o[3], cnt2, 4));
    for (int i = 0; i < 4; i++) ml_tensor_free(o[i]);
    ml_tensor_free(x);
    /* rows of a matrix (axis 0) */
    float mv[] = {1, 0, 0, 1, 1, 0, 0, 0};
    int64_t md[] = {4, 2};
    x = ml_test_f32(2, md, mv);
    in[0] = x;
    ml_attr ax = ml_test_attr_int("axis", -2);
    CHECK_OK(ml_test_run("", "Unique", 11, &ax, 1, 1, in, 4, o));
    float y3[] = {0, 0, 0, 1, 1, 0};
    int64_t inv3[] = {2, 1, 2, 0};
    CHECK(ml_test_f32_are(o[0], y3, 6));
    CHECK(ml_test_i64_are(o[2], inv3, 4));
    for (int i = 0; i < 4; i++) ml_tensor_free(o[i]);
    ml_tensor_free(x);
    /* strings */
    const char *sv[] = {"b", "a", "b"};
    int64_t sd = 3;
    ml_tensor *s = ml_test_strings(1, &sd, sv);
    in[0] = s;
    CHECK_OK(ml_test_run("", "Unique", 11, NULL, 0, 1, in, 1, o));
    CHECK(o[0] && ml_tensor_numel(o[0]) == 2);
    if (o[0]) CHECK_STR(((ml_str *)o[0]->data)[0].data, "a");
    ml_tensor_free(o[0]);
    ml_tensor_free(s);
}

static void test_reverse_sequence_onehot(void) {
    int64_t d[] = {3, 2}; /* time-major: [T=3, B=2] */
    ml_tensor *x = ml_test_iota_f32(2, d);
    int64_t lv[] = {2, 3};
    ml_tensor *l = ml_test_vec_i64(2, lv);
    const ml_tensor *in[] = {x, l};
    ml_tensor *y = ml_test_run1("ReverseSequence", 10, NULL, 0, 2, in);
    float e[] = {2, 5, 0, 3, 4, 1};
    CHECK(ml_test_f32_are(y, e, 6));
    ml_tensor_free(y);
    ML_TENSOR_DATA(l, int64_t)[0] = 4;
    ml_tensor *out;
    CHECK_ERR(ml_test_run("", "ReverseSequence", 10, NULL, 0, 2, in, 1, &out),
              ML_ERR_INVALID_ARGUMENT);
    ml_tensor_free(l);
    ml_tensor_free(x);
    /* OneHot with negative and out-of-range indices, axis 0 */
    int64_t iv[] = {0, -1, 7};
    ml_tensor *ind = ml_test_vec_i64(3, iv);
    float depth = 3;
    ml_tensor *dt = ml_test_f32(0, NULL, &depth);
    float vv[] = {-1, 5};
    int64_t vd = 2;
    ml_tensor *vals = ml_test_f32(1, &vd, vv);
    const ml_tensor *in2[] = {ind, dt, vals};
    ml_attr ax = ml_test_attr_int("axis", 0);
    y = ml_test_run1("OneHot", 11, &ax, 1, 3, in2);
    float e2[] = {5, -1, -1, -1, -1, -1, -1, 5, -1};
    int64_t ed[] = {3, 3};
    CHECK(ml_test_dims_are(y, 2, ed) && ml_test_f32_are(y, e2, 9));
    ml_tensor_free(y);
    ML_TENSOR_DATA(dt, float)[0] = 0;
    CHECK_ERR(ml_test_run("", "OneHot", 11, &ax, 1, 3, in2, 1, &out), ML_ERR_INVALID_ARGUMENT);
    ml_tensor_free(ind);
    ml_tensor_free(dt);
    ml_tensor_free(vals);
}

/* ---- hostile inputs: every op of both families on random shapes, dtypes,
 * index/shape inputs (including INT64_MIN/MAX) and attributes must either
 * succeed or fail cleanly; run under MLAMBDA_SANITIZE this also catches any
 * out-of-bounds access. Values stay small (or extreme enough to be rejected)
 * so no case asks for a huge output. */

static uint64_t fz_state = 0x9E3779B97F4A7C15ull;
static uint64_t fz(void) {
    fz_state ^= fz_state << 13;
    fz_state ^= fz_state >> 7;
    fz_state ^= fz_state << 17;
    return fz_state;
}

static int64_t fz_int(void) {
    static const int64_t special[] = {INT64_MIN, INT64_MAX, -1, 0, 1, 2, -2, 3, 5, -5};
    if (fz() % 4 == 0) return special[fz() % 10];
    return (int64_t)(fz() % 9) - 4;
}

static ml_tensor *fz_data(void) {
    static const ml_dtype dts[] = {ML_FLOAT, ML_INT64,   ML_STRING, ML_BOOL,
                                   ML_INT32, ML_FLOAT16, ML_UINT8};
    int r = (int)(fz() % 5);
    int64_t d[4];
    for (int i = 0; i < r; i++) d[i] = fz() % 6 == 0 ? 0 : 1 + (int64_t)(fz() % 4);
    ml_dtype dt = dts[fz() % 7];
    ml_tensor *t = ml_test_tensor(dt, r, d, NULL);
    for (size_t i = 0; t && i < ml_tensor_numel(t); i++) {
        if (dt == ML_STRING) {
            char b[8];
            int l = snprintf(b, sizeof b, "%d", (int)(fz() % 5));
            ml_status_free(ml_tensor_set_string(t, i, b, (size_t)l));
        } else {
            ml_tensor_set_f64(t, i, (double)(int)(fz() % 7) - 2);
        }
    }
    return t;
}

static ml_tensor *fz_ints(void) {
    int64_t n = (int64_t)(fz() % 6);
    int r = fz() % 4 == 0 ? 0 : 1;
    if (r == 0) n = 1;
    ml_tensor *t = ml_test_tensor(fz() % 4 == 0 ? ML_INT32 : ML_INT64, r, &n, NULL);
    for (int64_t i = 0; t && i < n; i++) {
        int64_t v = fz_int();
        if (t->dtype == ML_INT32)
            ML_TENSOR_DATA(t, int32_t)[i] = (int32_t)v;
        else
            ML_TENSOR_DATA(t, int64_t)[i] = v;
    }
    return t;
}

static void test_hostile_inputs(void) {
    static const char *const ops[] = {
        "Reshape",   "Flatten",       "Squeeze",        "Unsqueeze",    "Transpose",
        "Shape",     "Size",          "Identity",       "Concat",       "Split",
        "Slice",     "Pad",           "Expand",         "Tile",         "ConstantOfShape",
        "Range",     "EyeLike",       "Trilu",          "DepthToSpace", "SpaceToDepth",
        "OneHot",    "Gather",        "GatherElements", "GatherND",     "ScatterElements",
        "ScatterND", "Compress",      "NonZero",        "Unique",       "ReverseSequence",
        "Dropout",   "CenterCropPad", "Scatter"};
    static const char *const names[] = {
        "axis",        "axes",      "perm",  "blocksize", "k",      "upper",      "batch_dims",
        "num_outputs", "allowzero", "start", "end",       "sorted", "batch_axis", "time_axis",
        "split",       "starts",    "ends",  "pads",      "shape",  "dtype"};
    const size_t n_ops = sizeof ops / sizeof ops[0], n_names = sizeof names / sizeof names[0];
    int succeeded = 0;
    for (int it = 0; it < 4000; it++) {
        const char *op = ops[fz() % n_ops];
        int opset = fz() % 2 ? 18 : 1 + (int)(fz() % 18);
        ml_tensor *in[4] = {0};
        size_t nin = 1 + fz() % 4;
        for (size_t i = 0; i < nin; i++) {
            uint64_t k = fz() % 3;
            in[i] = i == 0 || k == 0 ? fz_data() : k == 1 ? fz_ints() : NULL;
        }
        ml_attr at[3];
        int64_t ints[3][4];
        size_t na = fz() % 4;
        if (na > 3) na = 3;
        for (size_t i = 0; i < na; i++) {
            const char *nm = names[fz() % n_names];
            if (fz() % 2) {
                size_t n = fz() % 4;
                for (size_t j = 0; j < n; j++) ints[i][j] = fz_int();
                at[i] = ml_test_attr_ints(nm, ints[i], n);
            } else {
                at[i] = ml_test_attr_int(nm, fz_int());
            }
        }
        ml_tensor *out[3] = {0};
        size_t nout = 1 + fz() % 3;
        ml_status st =
            ml_test_run("", op, opset, at, na, nin, (const ml_tensor *const *)in, nout, out);
        if (!st) succeeded++;
        /* a failure must carry a message */
        CHECK(!st || strlen(ml_status_message(st)) > 0);
        ml_status_free(st);
        for (size_t i = 0; i < nout; i++) ml_tensor_free(out[i]);
        for (size_t i = 0; i < nin; i++) ml_tensor_free(in[i]);
    }
    CHECK(succeeded > 400); /* the generator must reach the kernels' main paths too */
}

int main(void) {
    RUN(test_gather);
    RUN(test_gather_elements_nd);
    RUN(test_scatter);
    RUN(test_slice);
    RUN(test_compress_nonzero);
    RUN(test_unique);
    RUN(test_reverse_sequence_onehot);
    RUN(test_hostile_inputs);
    return TEST_SUMMARY();
}
