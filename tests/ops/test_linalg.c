/* MatMul, Gemm, Einsum, Det: shapes, broadcasting, dtypes and errors that
 * the ONNX conformance cases do not cover. */
#include <math.h>
#include <stdlib.h>

#include "core/dtype.h"
#include "core/threadpool.h"
#include "ops/harness.h"
#include "ops/linalg_internal.h"
#include "test.h"

static void check_f32(const ml_tensor *t, int rank, const int64_t *dims, const float *want,
                      double tol) {
    CHECK(t != NULL);
    if (!t) return;
    CHECK(t->dtype == ML_FLOAT);
    CHECK(ml_shape_equal(t->rank, t->dims, rank, dims));
    if (!ml_shape_equal(t->rank, t->dims, rank, dims)) return;
    for (size_t i = 0; i < ml_tensor_numel(t); i++) CHECK_NEAR(((float *)t->data)[i], want[i], tol);
}

static ml_tensor *run1(const char *op, int opset, const ml_attr *attrs, size_t na, size_t n_in,
                       const ml_tensor *const *in) {
    ml_tensor *out = NULL;
    CHECK_OK(ml_test_run("", op, opset, attrs, na, n_in, in, 1, &out));
    return out;
}

static void test_matmul_2d_and_batched(void) {
    float a[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}; /* [2,2,3] */
    float b[] = {1, 0, 0, 1, 1, 1};                      /* [3,2] */
    ml_tensor *ta = ml_test_f32(3, (int64_t[]){2, 2, 3}, a),
              *tb = ml_test_f32(2, (int64_t[]){3, 2}, b);
    ml_tensor *y = run1("MatMul", 13, NULL, 0, 2, (const ml_tensor *[]){ta, tb});
    float want[] = {4, 5, 10, 11, 16, 17, 22, 23};
    check_f32(y, 3, (int64_t[]){2, 2, 2}, want, 1e-5);
    ml_tensor_free(y);
    /* broadcast B's batch: [1,3,2] against A [2,2,3] */
    ml_tensor *tb3 = ml_test_f32(3, (int64_t[]){1, 3, 2}, b);
    y = run1("MatMul", 13, NULL, 0, 2, (const ml_tensor *[]){ta, tb3});
    check_f32(y, 3, (int64_t[]){2, 2, 2}, want, 1e-5);
    ml_tensor_free(y);
    /* both batched with broadcasting: A [2,1,2,3] x B [3,3,2] -> [2,3,2,2] */
    float b3[18];
    for (int i = 0; i < 18; i++) b3[i] = (float)(i % 5);
    ml_tensor *ta4 = ml_test_f32(4, (int64_t[]){2, 1, 2, 3}, a),
              *tb33 = ml_test_f32(3, (int64_t[]){3, 3, 2}, b3);
    y = run1("MatMul", 13, NULL, 0, 2, (const ml_tensor *[]){ta4, tb33});
    CHECK(y && y->rank == 4 && y->dims[0] == 2 && y->dims[1] == 3 && y->dims[2] == 2 &&
          y->dims[3] == 2);
    if (y && y->rank == 4) {
        /* element [1,2,1,0] = A[1,0,1,:] . B[2,:,0] */
        float e = 0;
        for (int k = 0; k < 3; k++) e += a[6 + 3 + k] * b3[12 + k * 2 + 0];
        CHECK_NEAR(((float *)y->data)[((1 * 3 + 2) * 2 + 1) * 2 + 0], e, 1e-5);
    }
    ml_tensor_free(y);
    ml_tensor_free(ta);
    ml_tensor_free(tb);
    ml_tensor_free(tb3);
    ml_tensor_free(ta4);
    ml_tensor_free(tb33);
}

static void test_matmul_vectors(void) {
    float v[] = {1, 2, 3}, m[] = {1, 2, 3, 4, 5, 6}; /* m [3,2] */
    ml_tensor *tv = ml_test_f32(1, (int64_t[]){3}, v), *tm = ml_test_f32(2, (int64_t[]){3, 2}, m);
    ml_tensor *y = run1("MatMul", 13, NULL, 0, 2, (const ml_tensor *[]){tv, tm});
    check_f32(y, 1, (int64_t[]){2}, (float[]){22, 28}, 1e-5);
    ml_tensor_free(y);
    y = run1("MatMul", 13, NULL, 0, 2, (const ml_tensor *[]){tv, tv});
    check_f32(y, 0, NULL, (float[]){14}, 1e-5);
    ml_tensor_free(y);
    ml_tensor *tmt = ml_test_f32(2, (int64_t[]){2, 3}, m);
    y = run1("MatMul", 13, NULL, 0, 2, (const ml_tensor *[]){tmt, tv});
    check_f32(y, 1, (int64_t[]){2}, (float[]){14, 32}, 1e-5);
    ml_tensor_free(y);
    ml_tensor_free(tv);
    ml_tensor_free(tm);
    ml_tensor_free(tmt);
}

static void test_matmul_types_and_empty(void) {
    int32_t a[] = {1, -2, 3, 4}, b[] = {5, 6, 7, 8};
    ml_tensor *ta = ml_test_tensor(ML_INT32, 2, (int64_t[]){2, 2}, a),
              *tb = ml_test_tensor(ML_INT32, 2, (int64_t[]){2, 2}, b);
    ml_tensor *y = run1("MatMul", 13, NULL, 0, 2, (const ml_tensor *[]){ta, tb});
    CHECK(y && y->dtype == ML_INT32);
    if (y) {
        int32_t *d = y->data;
        CHECK(d[0] == -9 && d[1] == -10 && d[2] == 43 && d[3] == 50);
    }
    ml_tensor_free(y);
    double da[] = {1.5, 2}, db[] = {2, 4};
    ml_tensor *xa = ml_test_tensor(ML_DOUBLE, 2, (int64_t[]){1, 2}, da),
              *xb = ml_test_tensor(ML_DOUBLE, 2, (int64_t[]){2, 1}, db);
    y = run1("MatMul", 13, NULL, 0, 2, (const ml_tensor *[]){xa, xb});
    CHECK(y && y->dtype == ML_DOUBLE && ((double *)y->data)[0] == 11.0);
    ml_tensor_free(y);
    uint16_t ha[] = {ml_float_to_fp16(2), ml_float_to_fp16(3)};
    ml_tensor *fa = ml_test_tensor(ML_FLOAT16, 2, (int64_t[]){1, 2}, ha),
              *fb = ml_test_tensor(ML_FLOAT16, 2, (int64_t[]){2, 1}, ha);
    y = run1("MatMul", 13, NULL, 0, 2, (const ml_tensor *[]){fa, fb});
    CHECK(y && y->dtype == ML_FLOAT16 && ml_fp16_to_float(((uint16_t *)y->data)[0]) == 13.0f);
    ml_tensor_free(y);
    /* K = 0 gives zeros; M = 0 gives an empty result */
    ml_tensor *e1 = ml_test_f32(2, (int64_t[]){2, 0}, NULL),
              *e2 = ml_test_f32(2, (int64_t[]){0, 3}, NULL);
    y = run1("MatMul", 13, NULL, 0, 2, (const ml_tensor *[]){e1, e2});
    check_f32(y, 2, (int64_t[]){2, 3}, (float[]){0, 0, 0, 0, 0, 0}, 0);
    ml_tensor_free(y);
    ml_tensor *out;
    CHECK_ERR(ml_test_run("", "MatMul", 13, NULL, 0, 2, (const ml_tensor *[]){ta, xb}, 1, &out),
              ML_ERR_INVALID_ARGUMENT);
    ml_tensor *bad = ml_test_f32(2, (int64_t[]){3, 3}, NULL),
              *two = ml_test_f32(2, (int64_t[]){2, 2}, NULL);
    CHECK_ERR(ml_test_run("", "MatMul", 13, NULL, 0, 2, (const ml_tensor *[]){two, bad}, 1, &out),
              ML_ERR_INVALID_ARGUMENT);
    ml_tensor_free(ta);
    ml_tensor_free(tb);
    ml_tensor_free(xa);
    ml_tensor_free(xb);
    ml_tensor_free(fa);
    ml_tensor_free(fb);
    ml_tensor_free(e1);
    ml_tensor_free(e2);
    ml_tensor_free(bad);
    ml_tensor_free(two);
}

static void test_gemm(void) {
    float a[] = {1, 2, 3, 4, 5, 6}; /* A^T stored [3,2] -> A [2,3] */
    float b[] = {1, 2, 3, 4, 5, 6}; /* B^T stored [2,3] -> B [3,2] */
    float c[] = {10, 20};           /* broadcast row */
    ml_tensor *ta = ml_test_f32(2, (int64_t[]){3, 2}, a),
              *tb = ml_test_f32(2, (int64_t[]){2, 3}, b), *tc = ml_test_f32(1, (int64_t[]){2}, c);
    ml_attr attrs[] = {ml_test_attr_int("transA", 1), ml_test_attr_int("transB", 1),
                       ml_test_attr_float("alpha", 2.0f), ml_test_attr_float("beta", 0.5f)};
    ml_tensor *y = run1("Gemm", 13, attrs, 4, 3, (const ml_tensor *[]){ta, tb, tc});
    /* A = [[1,3,5],[2,4,6]], B = [[1,4],[2,5],[3,6]]: AB = [[22,49],[28,64]] */
    check_f32(y, 2, (int64_t[]){2, 2}, (float[]){49, 108, 61, 138}, 1e-4);
    ml_tensor_free(y);
    /* no C (opset 11+) */
    y = run1("Gemm", 13, attrs, 2, 2, (const ml_tensor *[]){ta, tb});
    check_f32(y, 2, (int64_t[]){2, 2}, (float[]){22, 49, 28, 64}, 1e-4);
    ml_tensor_free(y);
    /* int64 with scalar C */
    int64_t ia[] = {1, 2, 3, 4}, ic[] = {1};
    ml_tensor *xa = ml_test_i64(2, (int64_t[]){2, 2}, ia), *xc = ml_test_i64(0, NULL, ic);
    y = run1("Gemm", 13, NULL, 0, 3, (const ml_tensor *[]){xa, xa, xc});
    CHECK(y && y->dtype == ML_INT64);
    if (y) {
        int64_t *d = y->data;
        CHECK(d[0] == 8 && d[1] == 11 && d[2] == 16 && d[3] == 23);
    }
    ml_tensor_free(y);
    ml_tensor *bad_c = ml_test_f32(1, (int64_t[]){3}, NULL), *out;
    CHECK_ERR(
        ml_test_run("", "Gemm", 13, attrs, 2, 3, (const ml_tensor *[]){ta, tb, bad_c}, 1, &out),
        ML_ERR_INVALID_ARGUMENT);
    CHECK_ERR(ml_test_run("", "Gemm", 13, NULL, 0, 2, (const ml_tensor *[]){ta, ta}, 1, &out),
              ML_ERR_INVALID_ARGUMENT);
    ml_tensor_free(ta);
    ml_tensor_free(tb);
    ml_tensor_free(tc);
    ml_tensor_free(xa);
    ml_tensor_free(xc);
    ml_tensor_free(bad_c);
}

static ml_tensor *einsum(const char *eq, size_t n, const ml_tensor *const *in) {
    ml_attr attr = ml_test_attr_string("equation", eq);
    return run1("Einsum", 12, &attr, 1, n, in);
}

static void test_einsum(void) {
    float m[] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
    ml_tensor *sq = ml_test_f32(2, (int64_t[]){3, 3}, m),
              *r23 = ml_test_f32(2, (int64_t[]){2, 3}, m);
    ml_tensor *y = einsum("ii->", 1, (const ml_tensor *[]){sq});
    check_f32(y, 0, NULL, (float[]){15}, 1e-5);
    ml_tensor_free(y);
    y = einsum("ii->i", 1, (const ml_tensor *[]){sq});
    check_f32(y, 1, (int64_t[]){3}, (float[]){1, 5, 9}, 1e-5);
    ml_tensor_free(y);
    y = einsum("ij->ji", 1, (const ml_tensor *[]){r23});
    check_f32(y, 2, (int64_t[]){3, 2}, (float[]){1, 4, 2, 5, 3, 6}, 1e-5);
    ml_tensor_free(y);
    y = einsum("ij, jk", 2, (const ml_tensor *[]){r23, sq}); /* implicit output "ik" */
    check_f32(y, 2, (int64_t[]){2, 3}, (float[]){30, 36, 42, 66, 81, 96}, 1e-4);
    ml_tensor_free(y);
    y = einsum("ij,kj->ik", 2, (const ml_tensor *[]){r23, r23});
    check_f32(y, 2, (int64_t[]){2, 2}, (float[]){14, 32, 32, 77}, 1e-4);
    ml_tensor_free(y);
    y = einsum("...j->...", 1, (const ml_tensor *[]){r23});
    check_f32(y, 1, (int64_t[]){2}, (float[]){6, 15}, 1e-5);
    ml_tensor_free(y);
    ml_tensor *v2 = ml_test_f32(1, (int64_t[]){2}, m);
    y = einsum("i,j->ij", 2, (const ml_tensor *[]){v2, v2});
    check_f32(y, 2, (int64_t[]){2, 2}, (float[]){1, 2, 2, 4}, 1e-5);
    ml_tensor_free(y);
    /* batched matmul with the batch label last in the output */
    ml_tensor *b3 = ml_test_f32(3, (int64_t[]){1, 2, 3}, m);
    y = einsum("bij,bkj->ikb", 2, (const ml_tensor *[]){b3, b3});
    check_f32(y, 3, (int64_t[]){2, 2, 1}, (float[]){14, 32, 32, 77}, 1e-4);
    ml_tensor_free(y);
    /* operands stored transposed ([k, i] and [j, k]) go to GEMM without copies */
    float ka[] = {1, 2, 3, 4}, kb[] = {5, 6, 7, 8}, kbt[] = {5, 7, 6, 8};
    ml_tensor *tka = ml_test_f32(2, (int64_t[]){2, 2}, ka),
              *tkb = ml_test_f32(2, (int64_t[]){2, 2}, kb),
              *tkbt = ml_test_f32(2, (int64_t[]){2, 2}, kbt);
    y = einsum("ki,kj->ij", 2, (const ml_tensor *[]){tka, tkb});
    check_f32(y, 2, (int64_t[]){2, 2}, (float[]){26, 30, 38, 44}, 1e-5);
    ml_tensor_free(y);
    y = einsum("ki,jk->ij", 2, (const ml_tensor *[]){tka, tkbt});
    check_f32(y, 2, (int64_t[]){2, 2}, (float[]){26, 30, 38, 44}, 1e-5);
    ml_tensor_free(y);
    ml_tensor_free(tka);
    ml_tensor_free(tkb);
    ml_tensor_free(tkbt);
    int64_t iv[] = {1, 2, 3};
    ml_tensor *ti = ml_test_i64(1, (int64_t[]){3}, iv);
    y = einsum("i,i", 2, (const ml_tensor *[]){ti, ti});
    CHECK(y && y->dtype == ML_INT64 && y->rank == 0 && ((int64_t *)y->data)[0] == 14);
    ml_tensor_free(y);
    ml_tensor *out;
    ml_attr bad = ml_test_attr_string("equation", "ij,jk->ik");
    CHECK_ERR(ml_test_run("", "Einsum", 12, &bad, 1, 2, (const ml_tensor *[]){r23, r23}, 1, &out),
              ML_ERR_INVALID_ARGUMENT);
    ml_attr bad2 = ml_test_attr_string("equation", "ijk->i");
    CHECK_ERR(ml_test_run("", "Einsum", 12, &bad2, 1, 1, (const ml_tensor *[]){r23}, 1, &out),
              ML_ERR_INVALID_ARGUMENT);
    ml_attr bad3 = ml_test_attr_string("equation", "ij->iz");
    CHECK_ERR(ml_test_run("", "Einsum", 12, &bad3, 1, 1, (const ml_tensor *[]){r23}, 1, &out),
              ML_ERR_INVALID_ARGUMENT);
    /* an outer-product reduction of two 2^19 vectors is refused, not run for hours */
    ml_tensor *big = ml_test_f32(1, (int64_t[]){1 << 19}, NULL);
    ml_attr outer = ml_test_attr_string("equation", "i,j->");
    CHECK_ERR(ml_test_run("", "Einsum", 12, &outer, 1, 2, (const ml_tensor *[]){big, big}, 1, &out),
              ML_ERR_RESOURCE_EXHAUSTED);
    ml_tensor_free(big);
    ml_tensor_free(sq);
    ml_tensor_free(r23);
    ml_tensor_free(v2);
    ml_tensor_free(b3);
    ml_tensor_free(ti);
}

static void test_det(void) {
    float m[] = {2, 0, 0, 3, 1, 2, 3, 4};
    ml_tensor *t = ml_test_f32(3, (int64_t[]){2, 2, 2}, m);
    ml_tensor *y = run1("Det", 11, NULL, 0, 1, (const ml_tensor *[]){t});
    check_f32(y, 1, (int64_t[]){2}, (float[]){6, -2}, 1e-5);
    ml_tensor_free(y);
    float s[] = {0, 1, 0, 1, 0, 0, 0, 0, 1};
    ml_tensor *p = ml_test_f32(2, (int64_t[]){3, 3}, s);
    y = run1("Det", 11, NULL, 0, 1, (const ml_tensor *[]){p});
    check_f32(y, 0, NULL, (float[]){-1}, 1e-6);
    ml_tensor_free(y);
    ml_tensor *bad = ml_test_f32(2, (int64_t[]){2, 3}, m), *out;
    CHECK_ERR(ml_test_run("", "Det", 11, NULL, 0, 1, (const ml_tensor *[]){bad}, 1, &out),
              ML_ERR_INVALID_ARGUMENT);
    ml_tensor_free(t);
    ml_tensor_free(p);
    ml_tensor_free(bad);
}

/* nn_sgemm splits big products into row blocks (M >= N) or column blocks
 * over the pool; every layout must give the plain product. */
static void test_gemm_parallel_blocks(void) {
    ml_threadpool *pool = NULL;
    CHECK_OK(ml_threadpool_create(3, &pool));
    if (!pool) return;
    /* row blocks, column blocks, too small to split, square, single rows */
    static const int shapes[][3] = {{203, 70, 200}, {8, 1000, 300}, {3, 5, 7},
                                    {64, 64, 600},  {1, 300, 50},   {1, 1, 9}};
    for (size_t si = 0; si < 6; si++)
        for (int tr = 0; tr < 4; tr++) {
            int M = shapes[si][0], N = shapes[si][1], K = shapes[si][2];
            bool ta = tr & 1, tb = tr & 2;
            float *a = malloc(sizeof(float) * (size_t)(M * K)),
                  *b = malloc(sizeof(float) * (size_t)(K * N)),
                  *c = malloc(sizeof(float) * (size_t)(M * N));
            for (int i = 0; i < M * K; i++) a[i] = (float)((i * 7) % 13) / 8.0f - 0.75f;
            for (int i = 0; i < K * N; i++) b[i] = (float)((i * 5) % 11) / 8.0f - 0.625f;
            for (int i = 0; i < M * N; i++) c[i] = 1.0f;
            nn_sgemm(pool, ta, tb, M, N, K, 0.5f, a, ta ? M : K, b, tb ? K : N, 2.0f, c, N);
            int bad = 0;
            for (int m = 0; m < M; m++)
                for (int n = 0; n < N; n++) {
                    double acc = 0;
                    for (int k = 0; k < K; k++)
                        acc += (double)(ta ? a[k * M + m] : a[m * K + k]) *
                               (tb ? b[n * K + k] : b[k * N + n]);
                    double want = 0.5 * acc + 2.0;
                    if (fabs(c[m * N + n] - want) > 1e-3 * (1 + fabs(want))) bad++;
                }
            CHECK(bad == 0);
            free(a);
            free(b);
            free(c);
        }
    ml_threadpool_destroy(pool);
}

/* Nodes reading the same constant weight share one pre-packed copy, freed
 * with the last node. */
static void test_pack_sharing(void) {
    const ml_kernel *gemm = ml_find_kernel("", "Gemm", 13),
                    *matmul = ml_find_kernel("", "MatMul", 13);
    CHECK(gemm != NULL && matmul != NULL);
    if (!gemm || !matmul) return;
    int64_t bd[] = {3, 4};
    float bv[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
    ml_tensor *b = ml_test_f32(2, bd, bv);
    uint16_t hv[12];
    for (int i = 0; i < 12; i++) hv[i] = ml_float_to_fp16(bv[i]);
    ml_tensor *bh = ml_test_tensor(ML_FLOAT16, 2, bd, hv);
    ml_attr tb = ml_test_attr_int("transB", 1);
    const char *ins[] = {"a", "b"}, *outs[] = {"y"};
    const ml_tensor *c1[] = {NULL, b}, *c2[] = {NULL, bh};
    ml_node ng = {.name = "g",
                  .op_type = "Gemm",
                  .domain = "",
                  .opset = 13,
                  .n_inputs = 2,
                  .input_names = ins,
                  .n_outputs = 1,
                  .output_names = outs,
                  .n_attrs = 1,
                  .attrs = &tb,
                  .const_inputs = c1,
                  .kernel = gemm};
    ml_node nm = {.name = "m",
                  .op_type = "MatMul",
                  .domain = "",
                  .opset = 13,
                  .n_inputs = 2,
                  .input_names = ins,
                  .n_outputs = 1,
                  .output_names = outs,
                  .const_inputs = c2,
                  .kernel = matmul};
    size_t base = nn_pack_live_count();
    void *s[4] = {0};
    CHECK_OK(gemm->init(&ng, &s[0]));
    CHECK_OK(gemm->init(&ng, &s[1]));
    CHECK(nn_pack_live_count() == base + 1);
    CHECK_OK(matmul->init(&nm, &s[2]));
    CHECK_OK(matmul->init(&nm, &s[3]));
    CHECK(nn_pack_live_count() == base + 2);
    CHECK(s[2] != NULL && s[2] == s[3]);
    if (s[2]) CHECK(((const float *)s[2])[5] == 6.0f);
    gemm->destroy(s[0]);
    matmul->destroy(s[2]);
    CHECK(nn_pack_live_count() == base + 2);
    gemm->destroy(s[1]);
    matmul->destroy(s[3]);
    CHECK(nn_pack_live_count() == base);
    ml_tensor_free(b);
    ml_tensor_free(bh);
}

/* com.microsoft FusedMatMul: alpha * op(A) @ op(B), with batch broadcasting. */
static void test_fused_matmul(void) {
    /* A [2, 3, 2] read transposed as [2, 2, 3]; B [4, 3] read as [3, 4] */
    int64_t ad[] = {2, 3, 2}, bd[] = {4, 3};
    float av[12], bv[12];
    for (int i = 0; i < 12; i++) {
        av[i] = (float)(i % 5) - 2.0f;
        bv[i] = (float)(i % 7) * 0.5f - 1.0f;
    }
    ml_tensor *ta = ml_test_f32(3, ad, av), *tb = ml_test_f32(2, bd, bv);
    ml_attr attrs[] = {ml_test_attr_float("alpha", 0.5f), ml_test_attr_int("transA", 1),
                       ml_test_attr_int("transB", 1)};
    const ml_tensor *in[] = {ta, tb};
    ml_tensor *y = NULL;
    CHECK_OK(ml_test_run("com.microsoft", "FusedMatMul", 1, attrs, 3, 2, in, 1, &y));
    float want[16];
    for (int bi = 0; bi < 2; bi++)
        for (int m = 0; m < 2; m++)
            for (int n = 0; n < 4; n++) {
                double acc = 0;
                for (int k = 0; k < 3; k++) acc += av[bi * 6 + k * 2 + m] * bv[n * 3 + k];
                want[(bi * 2 + m) * 4 + n] = (float)(0.5 * acc);
            }
    int64_t yd[] = {2, 2, 4};
    check_f32(y, 3, yd, want, 1e-5);
    ml_tensor_free(y);
    /* the batch-transposing forms are refused, not silently wrong */
    ml_attr tba = ml_test_attr_int("transBatchA", 1);
    y = NULL;
    CHECK_ERR(ml_test_run("com.microsoft", "FusedMatMul", 1, &tba, 1, 2, in, 1, &y),
              ML_ERR_UNSUPPORTED);
    ml_tensor_free(y);
    ml_tensor_free(ta);
    ml_tensor_free(tb);
}

int main(void) {
    RUN(test_matmul_2d_and_batched);
    RUN(test_matmul_vectors);
    RUN(test_matmul_types_and_empty);
    RUN(test_gemm);
    RUN(test_einsum);
    RUN(test_det);
    RUN(test_gemm_parallel_blocks);
    RUN(test_pack_sharing);
    RUN(test_fused_matmul);
    return TEST_SUMMARY();
}
