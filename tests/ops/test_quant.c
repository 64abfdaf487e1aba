/* Quantisation kernels: rounding (half to even), saturation, per-axis
 * parameters, dynamic quantisation and the integer matmul/conv family. */
#include <stdlib.h>

#include "ops/harness.h"
#include "test.h"

static void test_quantize(void) {
    float x[] = {0, 1, 2.5f, 3.5f, -1, 1000, -1000, 5};
    ml_tensor *tx = ml_test_f32(1, (int64_t[]){8}, x);
    float s[] = {1};
    uint8_t z[] = {10};
    ml_tensor *ts = ml_test_f32(0, NULL, s), *tz = ml_test_tensor(ML_UINT8, 0, NULL, z), *y;
    CHECK_OK(ml_test_run("", "QuantizeLinear", 13, NULL, 0, 3, (const ml_tensor *[]){tx, ts, tz}, 1,
                         &y));
    uint8_t want[] = {10, 11, 12, 14, 9, 255, 0, 15};
    CHECK(y && y->dtype == ML_UINT8);
    if (y)
        for (int i = 0; i < 8; i++) CHECK_EQ_INT(((uint8_t *)y->data)[i], want[i]);
    ml_tensor_free(y);
    /* int8 output, no zero point given -> uint8 default; with int8 zp -> int8 */
    int8_t zi[] = {-1};
    ml_tensor *tzi = ml_test_tensor(ML_INT8, 0, NULL, zi);
    CHECK_OK(ml_test_run("", "QuantizeLinear", 13, NULL, 0, 3, (const ml_tensor *[]){tx, ts, tzi},
                         1, &y));
    CHECK(y && y->dtype == ML_INT8);
    if (y) {
        CHECK_EQ_INT(((int8_t *)y->data)[5], 127);
        CHECK_EQ_INT(((int8_t *)y->data)[6], -128);
        CHECK_EQ_INT(((int8_t *)y->data)[2], 1);
    }
    ml_tensor_free(y);
    /* per-axis along axis 1 of [2,2] */
    float px[] = {1, 1, 1, 1}, ps[] = {0.5f, 0.25f};
    uint8_t pz[] = {0, 100};
    ml_tensor *tpx = ml_test_f32(2, (int64_t[]){2, 2}, px),
              *tps = ml_test_f32(1, (int64_t[]){2}, ps),
              *tpz = ml_test_tensor(ML_UINT8, 1, (int64_t[]){2}, pz);
    CHECK_OK(ml_test_run("", "QuantizeLinear", 13, NULL, 0, 3, (const ml_tensor *[]){tpx, tps, tpz},
                         1, &y));
    if (y) {
        uint8_t *d = y->data;
        CHECK(d[0] == 2 && d[1] == 104 && d[2] == 2 && d[3] == 104);
    }
    ml_tensor_free(y);
    /* per-axis scale needs opset 13; wrong length fails */
    CHECK_ERR(ml_test_run("", "QuantizeLinear", 10, NULL, 0, 3,
                          (const ml_tensor *[]){tpx, tps, tpz}, 1, &y),
              ML_ERR_INVALID_ARGUMENT);
    ml_tensor *s3 = ml_test_f32(1, (int64_t[]){3}, x);
    CHECK_ERR(
        ml_test_run("", "QuantizeLinear", 13, NULL, 0, 2, (const ml_tensor *[]){tpx, s3}, 1, &y),
        ML_ERR_INVALID_ARGUMENT);
    ml_tensor_free(s3);
    ml_tensor_free(tx);
    ml_tensor_free(ts);
    ml_tensor_free(tz);
    ml_tensor_free(tzi);
    ml_tensor_free(tpx);
    ml_tensor_free(tps);
    ml_tensor_free(tpz);
}

static void test_dequantize(void) {
    int8_t q[] = {-128, 0, 10, 127};
    int8_t z[] = {10, -10};
    float s[] = {0.5f, 2.0f};
    ml_tensor *tq = ml_test_tensor(ML_INT8, 2, (int64_t[]){2, 2}, q),
              *tz = ml_test_tensor(ML_INT8, 1, (int64_t[]){2}, z),
              *ts = ml_test_f32(1, (int64_t[]){2}, s), *y;
    ml_attr ax = ml_test_attr_int("axis", 0);
    CHECK_OK(ml_test_run("", "DequantizeLinear", 13, &ax, 1, 3, (const ml_tensor *[]){tq, ts, tz},
                         1, &y));
    if (y) {
        float *d = y->data;
        CHECK_NEAR(d[0], (-128 - 10) * 0.5, 1e-6);
        CHECK_NEAR(d[1], (0 - 10) * 0.5, 1e-6);
        CHECK_NEAR(d[2], (10 + 10) * 2.0, 1e-6);
        CHECK_NEAR(d[3], (127 + 10) * 2.0, 1e-6);
    }
    ml_tensor_free(y);
    int32_t qi[] = {-5, 7};
    ml_tensor *tqi = ml_test_tensor(ML_INT32, 1, (int64_t[]){2}, qi), *t1 = ml_test_f32(0, NULL, s);
    CHECK_OK(
        ml_test_run("", "DequantizeLinear", 13, NULL, 0, 2, (const ml_tensor *[]){tqi, t1}, 1, &y));
    if (y) CHECK_NEAR(((float *)y->data)[0], -2.5, 1e-6);
    ml_tensor_free(y);
    ml_tensor_free(tq);
    ml_tensor_free(tz);
    ml_tensor_free(ts);
    ml_tensor_free(tqi);
    ml_tensor_free(t1);
}

static void test_dynamic_quantize(void) {
    float x[] = {0, 2, -3, 1.5f};
    ml_tensor *tx = ml_test_f32(1, (int64_t[]){4}, x), *out[3];
    CHECK_OK(ml_test_run("", "DynamicQuantizeLinear", 11, NULL, 0, 1, (const ml_tensor *[]){tx}, 3,
                         out));
    if (out[0] && out[1] && out[2]) {
        float scale = 5.0f / 255.0f;
        CHECK_NEAR(*(float *)out[1]->data, scale, 1e-7);
        CHECK_EQ_INT(*(uint8_t *)out[2]->data, 153); /* round(3/scale) = round(153) */
        CHECK_EQ_INT(((uint8_t *)out[0]->data)[2], 0);
        CHECK_EQ_INT(((uint8_t *)out[0]->data)[1], 255);
    }
    for (int i = 0; i < 3; i++) ml_tensor_free(out[i]);
    ml_tensor_free(tx);
}

static void test_integer_matmul(void) {
    uint8_t a[] = {1, 2, 3, 4, 5, 6};  /* [2,3] */
    int8_t b[] = {1, -1, 2, 0, -3, 1}; /* [3,2] */
    uint8_t az[] = {1};
    int8_t bz[] = {0, 1}; /* per column */
    ml_tensor *ta = ml_test_tensor(ML_UINT8, 2, (int64_t[]){2, 3}, a),
              *tb = ml_test_tensor(ML_INT8, 2, (int64_t[]){3, 2}, b),
              *taz = ml_test_tensor(ML_UINT8, 0, NULL, az),
              *tbz = ml_test_tensor(ML_INT8, 1, (int64_t[]){2}, bz), *y;
    CHECK_OK(ml_test_run("", "MatMulInteger", 10, NULL, 0, 4,
                         (const ml_tensor *[]){ta, tb, taz, tbz}, 1, &y));
    /* A-1 = [[0,1,2],[3,4,5]]; B-bz = [[1,-2],[2,-1],[-3,0]] */
    CHECK(y && y->dtype == ML_INT32);
    if (y) {
        int32_t *d = y->data;
        CHECK(d[0] == -4 && d[1] == -1 && d[2] == -4 && d[3] == -10);
    }
    ml_tensor_free(y);
    /* QLinearMatMul: scales 0.5*1/1 -> y = round(acc/2) + 3 */
    float half[] = {0.5f}, one[] = {1};
    uint8_t yz[] = {3};
    int8_t bz0[] = {0};
    ml_tensor *sh = ml_test_f32(0, NULL, half), *so = ml_test_f32(0, NULL, one),
              *tyz = ml_test_tensor(ML_UINT8, 0, NULL, yz),
              *tbz0 = ml_test_tensor(ML_INT8, 0, NULL, bz0);
    CHECK_OK(ml_test_run("", "QLinearMatMul", 10, NULL, 0, 8,
                         (const ml_tensor *[]){ta, sh, taz, tb, so, tbz0, so, tyz}, 1, &y));
    /* acc = (A-1) @ B = [[-4,2],[-4,2]] -> [-2,1,-2,1] + 3 */
    CHECK(y && y->dtype == ML_UINT8);
    if (y) {
        uint8_t *d = y->data;
        CHECK(d[0] == 1 && d[1] == 4 && d[2] == 1 && d[3] == 4);
    }
    ml_tensor_free(y);
    ml_tensor *bad = ml_test_tensor(ML_INT8, 1, (int64_t[]){3}, b);
    CHECK_ERR(ml_test_run("", "MatMulInteger", 10, NULL, 0, 4,
                          (const ml_tensor *[]){ta, tb, taz, bad}, 1, &y),
              ML_ERR_INVALID_ARGUMENT);
    ml_tensor_free(bad);
    ml_tensor_free(ta);
    ml_tensor_free(tb);
    ml_tensor_free(taz);
    ml_tensor_free(tbz);
    ml_tensor_free(sh);
    ml_tensor_free(so);
    ml_tensor_free(tyz);
    ml_tensor_free(tbz0);
}

static void test_integer_conv(void) {
    uint8_t x[] = {1, 2, 3, 4, 5, 6, 7, 8, 9}; /* [1,1,3,3] */
    uint8_t w[] = {1, 1, 1, 1, 2, 2, 2, 2};    /* [2,1,2,2] */
    uint8_t xz[] = {1}, wz[] = {1, 0};
    ml_tensor *tx = ml_test_tensor(ML_UINT8, 4, (int64_t[]){1, 1, 3, 3}, x),
              *tw = ml_test_tensor(ML_UINT8, 4, (int64_t[]){2, 1, 2, 2}, w),
              *txz = ml_test_tensor(ML_UINT8, 0, NULL, xz),
              *twz = ml_test_tensor(ML_UINT8, 1, (int64_t[]){2}, wz), *y;
    CHECK_OK(ml_test_run("", "ConvInteger", 10, NULL, 0, 4, (const ml_tensor *[]){tx, tw, txz, twz},
                         1, &y));
    /* channel 0: weights 0 -> 0; channel 1: 2 * window sums of (x-1) */
    CHECK(y && y->dtype == ML_INT32 && y->dims[1] == 2 && y->dims[2] == 2);
    if (y) {
        int32_t *d = y->data;
        CHECK(d[0] == 0 && d[3] == 0);
        CHECK(d[4] == 2 * (0 + 1 + 3 + 4) && d[7] == 2 * (4 + 5 + 7 + 8));
    }
    ml_tensor_free(y);
    /* QLinearConv with a per-channel weight scale and an int32 bias */
    float xs[] = {1}, ws[] = {1, 0.5f}, ys[] = {2};
    int32_t bias[] = {4, -4};
    uint8_t yz[] = {10};
    ml_tensor *txs = ml_test_f32(0, NULL, xs), *tws = ml_test_f32(1, (int64_t[]){2}, ws),
              *tys = ml_test_f32(0, NULL, ys), *tyz = ml_test_tensor(ML_UINT8, 0, NULL, yz),
              *tb = ml_test_tensor(ML_INT32, 1, (int64_t[]){2}, bias);
    CHECK_OK(ml_test_run("", "QLinearConv", 10, NULL, 0, 9,
                         (const ml_tensor *[]){tx, txs, txz, tw, tws, twz, tys, tyz, tb}, 1, &y));
    CHECK(y && y->dtype == ML_UINT8);
    if (y) {
        uint8_t *d = y->data;
        CHECK_EQ_INT(d[0], 12);                                   /* (0 + 4) * 1 / 2 + 10 */
        CHECK_EQ_INT(d[4], 10 + (int)((16 - 4) * 0.5 / 2 + 0.5)); /* (16 - 4) * 0.25 = 3 */
    }
    ml_tensor_free(y);
    ml_tensor_free(tx);
    ml_tensor_free(tw);
    ml_tensor_free(txz);
    ml_tensor_free(twz);
    ml_tensor_free(txs);
    ml_tensor_free(tws);
    ml_tensor_free(tys);
    ml_tensor_free(tyz);
    ml_tensor_free(tb);
}

/* Like ml_test_run, but inputs flagged in const_mask are presented to
 * kernel->init as constants (initializers), so load-time packing runs. The
 * kernel is run twice to check the packed state is reusable. */
static ml_status alloc_out(ml_kernel_ctx *ctx, size_t i, ml_dtype dt, int rank, const int64_t *dims,
                           ml_tensor **out) {
    ml_tensor *t;
    ML_TRY(ml_tensor_create(dt, rank, dims, &t));
    ml_value *v;
    ML_TRY(ml_value_from_tensor(t, &v));
    ML_TRY(ml_set_output(ctx, i, v));
    *out = t;
    return ML_STATUS_OK;
}

static const ml_kernel_env const_env = {alloc_out, NULL};

static ml_status run_with_consts_attrs(const char *op, int opset, const ml_attr *attrs,
                                       size_t n_attrs, size_t n_in, const ml_tensor *const *in,
                                       unsigned const_mask, ml_tensor **out) {
    *out = NULL;
    const char *domain = strcmp(op, "MatMulNBits") == 0 ? "com.microsoft" : "";
    const ml_kernel *k = ml_find_kernel(domain, op, opset);
    if (!k) return ml_error(ML_ERR_UNSUPPORTED, "no kernel for %s", op);
    const char *in_names[16], *out_names[1] = {"y"};
    const ml_tensor *consts[16];
    ml_value *vals[16] = {0};
    for (size_t i = 0; i < n_in; i++) {
        in_names[i] = in[i] ? "x" : "";
        consts[i] = (const_mask >> i) & 1 ? in[i] : NULL;
        if (in[i]) {
            ml_tensor *view;
            ML_TRY(ml_tensor_view(in[i], in[i]->rank, in[i]->dims, &view));
            ML_TRY(ml_value_from_tensor(view, &vals[i]));
        }
    }
    ml_node node = {.name = "packed",
                    .op_type = op,
                    .domain = domain,
                    .opset = opset,
                    .n_inputs = n_in,
                    .input_names = in_names,
                    .n_outputs = 1,
                    .output_names = out_names,
                    .n_attrs = n_attrs,
                    .attrs = (ml_attr *)attrs,
                    .const_inputs = consts,
                    .kernel = k};
    ml_status st = k->init ? k->init(&node, &node.state) : ML_STATUS_OK;
    ml_value *outs[1] = {NULL};
    for (int rep = 0; rep < 2 && !st; rep++) {
        ml_kernel_ctx ctx = {.node = &node,
                             .n_inputs = n_in,
                             .inputs = vals,
                             .n_outputs = 1,
                             .outputs = outs,
                             .env = &const_env};
        st = k->run(&ctx);
    }
    if (k->destroy && node.state) k->destroy(node.state);
    for (size_t i = 0; i < n_in; i++) ml_value_free(vals[i]);
    *out = NULL;
    if (!st && outs[0]) {
        *out = outs[0]->tensor;
        outs[0]->tensor = NULL;
    }
    ml_value_free(outs[0]);
    return st;
}

static ml_status run_with_consts(const char *op, int opset, size_t n_in, const ml_tensor *const *in,
                                 unsigned const_mask, ml_tensor **out) {
    return run_with_consts_attrs(op, opset, NULL, 0, n_in, in, const_mask, out);
}

static void test_load_time_packing(void) {
    /* MatMulInteger with constant B and per-column zero point */
    uint8_t a[] = {1, 2, 3, 4, 5, 6};
    int8_t b[] = {1, -1, 2, 0, -3, 1}, bz[] = {0, 1};
    uint8_t az[] = {1};
    ml_tensor *ta = ml_test_tensor(ML_UINT8, 2, (int64_t[]){2, 3}, a),
              *tb = ml_test_tensor(ML_INT8, 2, (int64_t[]){3, 2}, b),
              *taz = ml_test_tensor(ML_UINT8, 0, NULL, az),
              *tbz = ml_test_tensor(ML_INT8, 1, (int64_t[]){2}, bz), *y;
    CHECK_OK(
        run_with_consts("MatMulInteger", 10, 4, (const ml_tensor *[]){ta, tb, taz, tbz}, 0xA, &y));
    if (y) {
        int32_t *d = y->data;
        CHECK(d[0] == -4 && d[1] == -1 && d[2] == -4 && d[3] == -10);
    }
    ml_tensor_free(y);
    /* ConvInteger with constant per-channel weights */
    uint8_t x[] = {1, 2, 3, 4, 5, 6, 7, 8, 9}, w[] = {1, 1, 1, 1, 2, 2, 2, 2}, xz[] = {1},
            wz[] = {1, 0};
    ml_tensor *tx = ml_test_tensor(ML_UINT8, 4, (int64_t[]){1, 1, 3, 3}, x),
              *tw = ml_test_tensor(ML_UINT8, 4, (int64_t[]){2, 1, 2, 2}, w),
              *txz = ml_test_tensor(ML_UINT8, 0, NULL, xz),
              *twz = ml_test_tensor(ML_UINT8, 1, (int64_t[]){2}, wz);
    CHECK_OK(
        run_with_consts("ConvInteger", 10, 4, (const ml_tensor *[]){tx, tw, txz, twz}, 0xA, &y));
    if (y) CHECK(((int32_t *)y->data)[4] == 16 && ((int32_t *)y->data)[0] == 0);
    ml_tensor_free(y);
    /* a constant weight whose zero point has the wrong type fails at load time */
    ml_tensor *bad = ml_test_tensor(ML_INT8, 1, (int64_t[]){2}, bz);
    CHECK_ERR(
        run_with_consts("ConvInteger", 10, 4, (const ml_tensor *[]){tx, tw, txz, bad}, 0xA, &y),
        ML_ERR_INVALID_ARGUMENT);
    /* float16 Conv and MatMul with constant weights converted once */
    uint16_t hx[] = {ml_float_to_fp16(1), ml_float_to_fp16(2)}, hw[] = {ml_float_to_fp16(3)};
    ml_tensor *fx = ml_test_tensor(ML_FLOAT16, 3, (int64_t[]){1, 1, 2}, hx),
              *fw = ml_test_tensor(ML_FLOAT16, 3, (int64_t[]){1, 1, 1}, hw);
    CHECK_OK(run_with_consts("Conv", 11, 2, (const ml_tensor *[]){fx, fw}, 0x2, &y));
    CHECK(y && ml_fp16_to_float(((uint16_t *)y->data)[1]) == 6.0f);
    ml_tensor_free(y);
    ml_tensor *fa = ml_test_tensor(ML_FLOAT16, 2, (int64_t[]){2, 1}, hx);
    CHECK_OK(
        run_with_consts("MatMul", 13, 2, (const ml_tensor *[]){fa, fw}, 0x2, &y)); /* [2,1]x[1,1] */
    ml_tensor_free(y);
    ml_tensor *fw2 = ml_test_tensor(ML_FLOAT16, 2, (int64_t[]){1, 1}, hw);
    CHECK_OK(run_with_consts("Gemm", 13, 2, (const ml_tensor *[]){fa, fw2}, 0x2, &y));
    CHECK(y && y->dims[0] == 2 && ml_fp16_to_float(((uint16_t *)y->data)[1]) == 6.0f);
    ml_tensor_free(y);
    /* float Gemm with a constant transposed B (pre-transposed at load) and a C row */
    float ga[] = {1, 2, 3, 4, 5, 6}, gb[] = {1, 0, 1, 0, 1, 1}, gc[] = {10, 20};
    ml_tensor *tga = ml_test_f32(2, (int64_t[]){2, 3}, ga),
              *tgb = ml_test_f32(2, (int64_t[]){2, 3}, gb),
              *tgc = ml_test_f32(1, (int64_t[]){2}, gc);
    ml_attr tbattr = ml_test_attr_int("transB", 1);
    CHECK_OK(run_with_consts_attrs("Gemm", 13, &tbattr, 1, 3, (const ml_tensor *[]){tga, tgb, tgc},
                                   0x6, &y));
    /* A @ B^T = [[1+3, 2+3], [4+6, 5+6]] + C */
    if (y) {
        float *d = y->data;
        CHECK(d[0] == 14 && d[1] == 25 && d[2] == 20 && d[3] == 31);
    }
    ml_tensor_free(y);
    ml_tensor *tensors[] = {ta,  tb, taz, tbz, tx,  tw,  txz, twz,
                            bad, fx, fw,  fa,  fw2, tga, tgb, tgc};
    for (size_t i = 0; i < sizeof tensors / sizeof tensors[0]; i++) ml_tensor_free(tensors[i]);
}

/* com.microsoft MatMulNBits: 4-bit codes packed low nibble first, packed
 * zero points, bias; run both dequantising per call and pre-packed. */
static void test_matmul_nbits(void) {
    enum { K = 32, N = 2, M = 3, BLK = 16, KB = 2 };
    uint8_t b[N * KB * BLK / 2] = {0}, zp[N] = {0};
    float scales[N * KB], a[M * K], bias[N] = {0.5f, -1.0f}, want[M * N];
    for (int n = 0; n < N; n++) {
        for (int k = 0; k < K; k++) {
            int code = (n * 7 + k) % 16, kb = k / BLK, j = k % BLK;
            b[(n * KB + kb) * (BLK / 2) + j / 2] |= (uint8_t)(code << ((j % 2) * 4));
        }
        for (int kb = 0; kb < KB; kb++) scales[n * KB + kb] = 0.5f + (float)n + 0.25f * (float)kb;
        zp[n] = (uint8_t)(n | ((n + 3) << 4)); /* block 0: n, block 1: n + 3 */
    }
    for (int m = 0; m < M; m++)
        for (int k = 0; k < K; k++) a[m * K + k] = (float)((m + 1) * (k % 5) - 2) * 0.1f;
    for (int m = 0; m < M; m++)
        for (int n = 0; n < N; n++) {
            double acc = bias[n];
            for (int k = 0; k < K; k++) {
                int kb = k / BLK, code = (n * 7 + k) % 16, z = kb ? n + 3 : n;
                acc += a[m * K + k] * (code - z) * scales[n * KB + kb];
            }
            want[m * N + n] = (float)acc;
        }
    ml_tensor *ta = ml_test_f32(2, (int64_t[]){M, K}, a),
              *tb = ml_test_tensor(ML_UINT8, 3, (int64_t[]){N, KB, BLK / 2}, b),
              *ts = ml_test_f32(1, (int64_t[]){N * KB}, scales),
              *tz = ml_test_tensor(ML_UINT8, 1, (int64_t[]){N}, zp),
              *tbias = ml_test_f32(1, (int64_t[]){N}, bias), *y;
    ml_attr attrs[] = {ml_test_attr_int("K", K), ml_test_attr_int("N", N),
                       ml_test_attr_int("bits", 4), ml_test_attr_int("block_size", BLK)};
    const ml_tensor *in[] = {ta, tb, ts, tz, NULL, tbias};
    for (int packed = 0; packed < 2; packed++) {
        if (packed)
            CHECK_OK(run_with_consts_attrs("MatMulNBits", 1, attrs, 4, 6, in, 0x2E, &y));
        else
            CHECK_OK(ml_test_run("com.microsoft", "MatMulNBits", 1, attrs, 4, 6, in, 1, &y));
        CHECK(y && y->rank == 2 && y->dims[0] == M && y->dims[1] == N);
        if (y)
            for (int i = 0; i < M * N; i++) CHECK_NEAR(((float *)y->data)[i], want[i], 1e-4);
        ml_tensor_free(y);
    }
    ml_attr bad_bits[] = {attrs[0], attrs[1], ml_test_attr_int("bits", 3), attrs[3]};
    CHECK_ERR(ml_test_run("com.microsoft", "MatMulNBits", 1, bad_bits, 4, 3, in, 1, &y),
              ML_ERR_UNSUPPORTED);
    ml_attr bad_block[] = {attrs[0], attrs[1], attrs[2], ml_test_attr_int("block_size", 12)};
    CHECK_ERR(ml_test_run("com.microsoft", "MatMulNBits", 1, bad_block, 4, 3, in, 1, &y),
              ML_ERR_INVALID_ARGUMENT);
    ml_tensor *short_b = ml_test_tensor(ML_UINT8, 1, (int64_t[]){5}, b);
    CHECK_ERR(ml_test_run("com.microsoft", "MatMulNBits", 1, attrs, 4, 3,
                          (const ml_tensor *[]){ta, short_b, ts}, 1, &y),
              ML_ERR_INVALID_ARGUMENT);
    ml_tensor *tensors[] = {ta, tb, ts, tz, tbias, short_b};
    for (size_t i = 0; i < 6; i++) ml_tensor_free(tensors[i]);
}

/* com.microsoft QGemm: per-column B parameters, int32 C, float and
 * requantised outputs. */
static void test_qgemm(void) {
    uint8_t a[] = {1, 2, 3, 4, 5, 6}, az[] = {1};
    int8_t b[] = {1, 2, 0, 1, -1, 3}, bz[] = {0, 1}; /* B^T stored [N=2, K=3] */
    int32_t c[] = {10, -10};
    float as[] = {0.5f}, bs[] = {1, 2}, ys[] = {2};
    uint8_t yz[] = {100};
    ml_tensor *ta = ml_test_tensor(ML_UINT8, 2, (int64_t[]){2, 3}, a),
              *taz = ml_test_tensor(ML_UINT8, 0, NULL, az),
              *tb = ml_test_tensor(ML_INT8, 2, (int64_t[]){2, 3}, b),
              *tbz = ml_test_tensor(ML_INT8, 1, (int64_t[]){2}, bz),
              *tc = ml_test_tensor(ML_INT32, 1, (int64_t[]){2}, c), *tas = ml_test_f32(0, NULL, as),
              *tbs = ml_test_f32(1, (int64_t[]){2}, bs), *tys = ml_test_f32(0, NULL, ys),
              *tyz = ml_test_tensor(ML_UINT8, 0, NULL, yz), *y;
    ml_attr tb1 = ml_test_attr_int("transB", 1);
    CHECK_OK(ml_test_run("com.microsoft", "QGemm", 1, &tb1, 1, 7,
                         (const ml_tensor *[]){ta, tas, taz, tb, tbs, tbz, tc}, 1, &y));
    /* acc + C = [[12, -8], [21, -8]] times a_scale * b_scale[n] */
    CHECK(y && y->dtype == ML_FLOAT);
    if (y) {
        float *d = y->data;
        CHECK_NEAR(d[0], 6, 1e-6);
        CHECK_NEAR(d[1], -8, 1e-6);
        CHECK_NEAR(d[2], 10.5, 1e-6);
        CHECK_NEAR(d[3], -8, 1e-6);
    }
    ml_tensor_free(y);
    CHECK_OK(ml_test_run("com.microsoft", "QGemm", 1, &tb1, 1, 9,
                         (const ml_tensor *[]){ta, tas, taz, tb, tbs, tbz, tc, tys, tyz}, 1, &y));
    CHECK(y && y->dtype == ML_UINT8);
    if (y) {
        uint8_t *d = y->data;
        CHECK(d[0] == 103 && d[1] == 96 && d[2] == 105 && d[3] == 96);
    }
    ml_tensor_free(y);
    CHECK_ERR(ml_test_run("com.microsoft", "QGemm", 1, NULL, 0, 6,
                          (const ml_tensor *[]){ta, tas, taz, tb, tbs, tbz}, 1, &y),
              ML_ERR_INVALID_ARGUMENT); /* without transB the K dims differ */
    ml_tensor *tensors[] = {ta, taz, tb, tbz, tc, tas, tbs, tys, tyz};
    for (size_t i = 0; i < sizeof tensors / sizeof tensors[0]; i++) ml_tensor_free(tensors[i]);
}

/* com.microsoft QOperator elementwise ops and QLinearGlobalAveragePool. */
static void test_qlinear_elementwise(void) {
    uint8_t a[] = {10, 20, 30, 40}, b[] = {4, 6}, az[] = {10}, bz[] = {4}, cz[] = {3};
    float as[] = {0.5f}, bs[] = {1}, cs[] = {0.5f};
    ml_tensor *ta = ml_test_tensor(ML_UINT8, 2, (int64_t[]){2, 2}, a),
              *tb = ml_test_tensor(ML_UINT8, 1, (int64_t[]){2}, b),
              *taz = ml_test_tensor(ML_UINT8, 0, NULL, az),
              *tbz = ml_test_tensor(ML_UINT8, 0, NULL, bz),
              *tcz = ml_test_tensor(ML_UINT8, 0, NULL, cz), *tas = ml_test_f32(0, NULL, as),
              *tbs = ml_test_f32(0, NULL, bs), *tcs = ml_test_f32(0, NULL, cs), *y;
    const ml_tensor *in[] = {ta, tas, taz, tb, tbs, tbz, tcs, tcz};
    CHECK_OK(ml_test_run("com.microsoft", "QLinearAdd", 1, NULL, 0, 8, in, 1, &y));
    if (y) {
        uint8_t *d = y->data;
        CHECK(d[0] == 3 && d[1] == 17 && d[2] == 23 && d[3] == 37);
    }
    ml_tensor_free(y);
    CHECK_OK(ml_test_run("com.microsoft", "QLinearMul", 1, NULL, 0, 8, in, 1, &y));
    if (y) {
        uint8_t *d = y->data;
        CHECK(d[0] == 3 && d[1] == 23 && d[2] == 3 && d[3] == 63);
    }
    ml_tensor_free(y);
    int8_t x[] = {0, 10, -10}, z0[] = {0}, yz[] = {-128};
    float xs[] = {0.1f}, ys[] = {1.0f / 256};
    ml_tensor *tx = ml_test_tensor(ML_INT8, 1, (int64_t[]){3}, x),
              *tz0 = ml_test_tensor(ML_INT8, 0, NULL, z0),
              *tyz = ml_test_tensor(ML_INT8, 0, NULL, yz), *txs = ml_test_f32(0, NULL, xs),
              *tys = ml_test_f32(0, NULL, ys);
    CHECK_OK(ml_test_run("com.microsoft", "QLinearSigmoid", 1, NULL, 0, 5,
                         (const ml_tensor *[]){tx, txs, tz0, tys, tyz}, 1, &y));
    if (y) {
        int8_t *d = y->data;
        CHECK(d[0] == 0 && d[1] == 59 && d[2] == -59);
    }
    ml_tensor_free(y);
    ml_attr alpha = ml_test_attr_float("alpha", 0.1f);
    CHECK_OK(ml_test_run("com.microsoft", "QLinearLeakyRelu", 1, &alpha, 1, 5,
                         (const ml_tensor *[]){tx, txs, tz0, txs, tz0}, 1, &y));
    if (y) {
        int8_t *d = y->data;
        CHECK(d[0] == 0 && d[1] == 10 && d[2] == -1);
    }
    ml_tensor_free(y);
    uint8_t g[] = {1, 2, 3, 4, 10, 10, 10, 11}, gz[] = {0};
    float one[] = {1};
    ml_tensor *tg = ml_test_tensor(ML_UINT8, 4, (int64_t[]){1, 2, 2, 2}, g),
              *tgz = ml_test_tensor(ML_UINT8, 0, NULL, gz), *t1 = ml_test_f32(0, NULL, one);
    const ml_tensor *gin[] = {tg, t1, tgz, t1, tgz};
    CHECK_OK(ml_test_run("com.microsoft", "QLinearGlobalAveragePool", 1, NULL, 0, 5, gin, 1, &y));
    CHECK(y && y->rank == 4 && y->dims[1] == 2 && y->dims[2] == 1);
    if (y) CHECK(((uint8_t *)y->data)[0] == 2 && ((uint8_t *)y->data)[1] == 10);
    ml_tensor_free(y);
    ml_attr cl = ml_test_attr_int("channels_last", 1);
    CHECK_OK(ml_test_run("com.microsoft", "QLinearGlobalAveragePool", 1, &cl, 1, 5, gin, 1, &y));
    CHECK(y && y->rank == 4 && y->dims[1] == 1 && y->dims[3] == 2);
    if (y) CHECK(((uint8_t *)y->data)[0] == 6 && ((uint8_t *)y->data)[1] == 7);
    ml_tensor_free(y);
    /* QLinearConcat requantises each input to Y's parameters */
    uint8_t c1[] = {10, 20}, c2[] = {7}, z5[] = {5};
    float half[] = {0.5f}, two[] = {2};
    ml_tensor *tc1 = ml_test_tensor(ML_UINT8, 2, (int64_t[]){1, 2}, c1),
              *tc2 = ml_test_tensor(ML_UINT8, 2, (int64_t[]){1, 1}, c2),
              *tz5 = ml_test_tensor(ML_UINT8, 0, NULL, z5), *thalf = ml_test_f32(0, NULL, half),
              *ttwo = ml_test_f32(0, NULL, two);
    ml_attr ax1 = ml_test_attr_int("axis", 1);
    CHECK_OK(ml_test_run("com.microsoft", "QLinearConcat", 1, &ax1, 1, 8,
                         (const ml_tensor *[]){t1, tgz, tc1, thalf, tgz, tc2, ttwo, tz5}, 1, &y));
    CHECK(y && y->rank == 2 && y->dims[1] == 3);
    if (y)
        CHECK(((uint8_t *)y->data)[0] == 5 && ((uint8_t *)y->data)[1] == 10 &&
              ((uint8_t *)y->data)[2] == 4);
    ml_tensor_free(y);
    /* QLinearAveragePool: mean 2.75 at y_scale 0.5 -> 5.5 -> 6 (half to even) */
    uint8_t p4[] = {1, 2, 3, 5};
    ml_tensor *tp = ml_test_tensor(ML_UINT8, 4, (int64_t[]){1, 1, 2, 2}, p4);
    int64_t ks[] = {2, 2};
    ml_attr kattr = ml_test_attr_ints("kernel_shape", ks, 2);
    CHECK_OK(ml_test_run("com.microsoft", "QLinearAveragePool", 1, &kattr, 1, 5,
                         (const ml_tensor *[]){tp, t1, tgz, thalf, tgz}, 1, &y));
    CHECK(y && y->dtype == ML_UINT8 && ml_tensor_numel(y) == 1);
    if (y) CHECK_EQ_INT(((uint8_t *)y->data)[0], 6);
    ml_tensor_free(y);
    ml_tensor *more[] = {tc1, tc2, tz5, thalf, ttwo, tp};
    for (size_t i = 0; i < sizeof more / sizeof more[0]; i++) ml_tensor_free(more[i]);
    ml_tensor *tzero = ml_test_f32(0, NULL, (float[]){0});
    const ml_tensor *bad[] = {ta, tzero, taz, tb, tbs, tbz, tcs, tcz};
    CHECK_ERR(ml_test_run("com.microsoft", "QLinearAdd", 1, NULL, 0, 8, bad, 1, &y),
              ML_ERR_INVALID_ARGUMENT);
    ml_tensor *tensors[] = {ta,  tb,  taz, tbz, tcz, tas, tbs, tcs,  tx,
                            tz0, tyz, txs, tys, tg,  tgz, t1,  tzero};
    for (size_t i = 0; i < sizeof tensors / sizeof tensors[0]; i++) ml_tensor_free(tensors[i]);
}

/* Sums beyond 2^24 (where float loses integers) must still be exact:
 * K = 700 products of up to 255 * 127. */
static void test_integer_exactness(void) {
    enum { M = 3, K = 700, N = 4 };
    static uint8_t a[M * K];
    static int8_t b[K * N];
    for (int i = 0; i < M * K; i++) a[i] = (uint8_t)(i % 7 == 0 ? 254 : 255 - i % 3);
    for (int i = 0; i < K * N; i++) b[i] = (int8_t)(i % 5 == 0 ? 125 : 127 - i % 2);
    ml_tensor *ta = ml_test_tensor(ML_UINT8, 2, (int64_t[]){M, K}, a),
              *tb = ml_test_tensor(ML_INT8, 2, (int64_t[]){K, N}, b), *y;
    CHECK_OK(
        ml_test_run("", "MatMulInteger", 10, NULL, 0, 2, (const ml_tensor *[]){ta, tb}, 1, &y));
    if (y)
        for (int m = 0; m < M; m++)
            for (int n = 0; n < N; n++) {
                int64_t want = 0;
                for (int k = 0; k < K; k++) want += (int64_t)a[m * K + k] * b[k * N + n];
                CHECK_EQ_INT(((int32_t *)y->data)[m * N + n], want);
            }
    ml_tensor_free(y);
    /* the same reduction as a 1x1 convolution over 700 channels */
    ml_tensor *tx = ml_test_tensor(ML_UINT8, 4, (int64_t[]){1, K, 1, M}, NULL),
              *tw = ml_test_tensor(ML_INT8, 4, (int64_t[]){N, K, 1, 1}, NULL);
    for (int m = 0; m < M; m++)
        for (int k = 0; k < K; k++) ((uint8_t *)tx->data)[k * M + m] = a[m * K + k];
    for (int n = 0; n < N; n++)
        for (int k = 0; k < K; k++) ((int8_t *)tw->data)[n * K + k] = b[k * N + n];
    CHECK_OK(ml_test_run("", "ConvInteger", 10, NULL, 0, 2, (const ml_tensor *[]){tx, tw}, 1, &y));
    if (y)
        for (int m = 0; m < M; m++)
            for (int n = 0; n < N; n++) {
                int64_t want = 0;
                for (int k = 0; k < K; k++) want += (int64_t)a[m * K + k] * b[k * N + n];
                CHECK_EQ_INT(((int32_t *)y->data)[n * M + m], want);
            }
    ml_tensor_free(y);
    ml_tensor_free(ta);
    ml_tensor_free(tb);
    ml_tensor_free(tx);
    ml_tensor_free(tw);
}

int main(void) {
    RUN(test_quantize);
    RUN(test_dequantize);
    RUN(test_dynamic_quantize);
    RUN(test_integer_matmul);
    RUN(test_integer_conv);
    RUN(test_integer_exactness);
    RUN(test_load_time_packing);
    RUN(test_matmul_nbits);
    RUN(test_qgemm);
    RUN(test_qlinear_elementwise);
    return TEST_SUMMARY();
}
