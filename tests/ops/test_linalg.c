/* MatMul, Gemm, Einsum, Det: shapes, broadcasting, dtypes and errors that
 * the ONNX conformance cases do not cover. */
#include <math.h>
#include <stdlib.h>

#include "core/dtype.h"
#include "core/threadpool.h"
#include "ops/harness.h"
#include "ops/gemm_fast.h"
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
    /* each node has its own state; the packed weight inside is shared */
    const nn_dense_state *d2 = s[2], *d3 = s[3];
    CHECK(d2 != NULL && d3 != NULL && d2->bp != NULL && d2->bp == d3->bp);
    /* packed B panels: row k=1 of [3, 4] starts at offset NN_GEMM_PANEL */
    if (d2 && d2->bp) CHECK(d2->bp[NN_GEMM_PANEL + 1] == 6.0f && d2->bp[4] == 0.0f);
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

/* ---- the engine's own GEMM (gemm_fast.c) against a double reference ---- */

static float lcg_f(unsigned *s) {
    *s = *s * 1664525u + 1013904223u;
    return (float)((*s >> 8) & 0xffff) / 32768.0f - 1.0f;
}

static double act_ref(const nn_act *a, double v) {
    switch (a->kind) {
    case NN_ACT_RELU:
        return v > 0 ? v : 0;
    case NN_ACT_LEAKY_RELU:
        return v >= 0 ? v : v * a->a;
    case NN_ACT_CLIP:
        return v < a->a ? a->a : (v > a->b ? a->b : v);
    case NN_ACT_HARD_SIGMOID: {
        double t = a->a * v + a->b;
        return t < 0 ? 0 : (t > 1 ? 1 : t);
    }
    case NN_ACT_SIGMOID:
        return 1.0 / (1.0 + exp(-v));
    case NN_ACT_TANH:
        return tanh(v);
    default:
        return v;
    }
}

/* One configuration: A row-major or transposed, B packed / row-major /
 * transposed (packed per call), every epilogue part, in a C with a wider
 * leading dimension whose padding must stay untouched. */
static int gemm_case(ml_threadpool *pool, int M, int N, int K, int a_form, int b_form, int epi,
                     unsigned seed) {
    unsigned s = seed;
    size_t na = (size_t)M * K + 1, nb = (size_t)K * N + 1;
    float *A = malloc(sizeof(float) * na), *B = malloc(sizeof(float) * nb);
    for (size_t i = 0; i < na; i++) A[i] = lcg_f(&s);
    for (size_t i = 0; i < nb; i++) B[i] = lcg_f(&s);
    int ldc = N + 3;
    float *C = malloc(sizeof(float) * (size_t)M * ldc + 1),
          *Cin = malloc(sizeof(float) * (size_t)M * N + 1);
    float *bc = malloc(sizeof(float) * (size_t)N + 1), *br = malloc(sizeof(float) * (size_t)M + 1);
    for (size_t i = 0; i < (size_t)M * ldc; i++) C[i] = NAN; /* must not leak into results */
    for (size_t i = 0; i < (size_t)M * N; i++) Cin[i] = lcg_f(&s);
    for (int i = 0; i < N; i++) bc[i] = lcg_f(&s);
    for (int i = 0; i < M; i++) br[i] = lcg_f(&s);
    /* A(m,k) and B(k,n) */
    nn_gemm_opnd a = {.p = A, .rs = a_form == 1 ? 1 : K, .cs = a_form == 1 ? M : 1};
    nn_gemm_opnd b = {.p = B, .rs = b_form == 2 ? 1 : N, .cs = b_form == 2 ? K : 1};
    float *packed = NULL, *packed_a = NULL;
    ptrdiff_t *off = malloc(sizeof(ptrdiff_t) * (size_t)K + 1);
    for (int k = 0; k < K; k++) off[k] = (ptrdiff_t)(K - 1 - k) * N; /* rows reversed */
    if (b_form == 3) b.off = off;
    if (b_form == 0) {
        packed = malloc(sizeof(float) * nn_gemm_packb_floats(K, N) + 4);
        nn_gemm_packb(B, N, 1, K, N, packed);
        b = (nn_gemm_opnd){.p = packed, .packed = true};
    }
    if (a_form == 2) {
        packed_a = malloc(sizeof(float) * nn_gemm_packa_floats(M, K) + 4);
        nn_gemm_packa(A, K, 1, M, K, packed_a);
        a = (nn_gemm_opnd){.p = packed_a, .packed = true};
    }
    nn_gemm_epi e = {.alpha = 1.0f};
    static const nn_act acts[] = {{NN_ACT_NONE, 0, 0},
                                  {NN_ACT_RELU, 0, 0},
                                  {NN_ACT_LEAKY_RELU, 0.1f, 0},
                                  {NN_ACT_CLIP, -0.5f, 0.7f},
                                  {NN_ACT_HARD_SIGMOID, 0.2f, 0.5f},
                                  {NN_ACT_SIGMOID, 0, 0},
                                  {NN_ACT_TANH, 0, 0}};
    e.act = acts[epi % 7];
    if (epi % 2) {
        e.alpha = 0.75f;
        e.beta = 0.5f;
        e.cin = Cin;
        e.ldcin = N;
    }
    if (epi % 3 == 1) e.bias_col = bc;
    if (epi % 3 == 2) e.bias_row = br;
    nn_gemm(pool, M, N, K, &a, &b, C, ldc, &e);
    int bad = 0;
    for (int m = 0; m < M; m++) {
        for (int n = 0; n < N; n++) {
            double acc = 0;
            for (int k = 0; k < K; k++)
                acc += (double)A[a_form == 1 ? k * M + m : m * K + k] *
                       (double)B[b_form == 2 ? n * K + k : (b_form == 3 ? K - 1 - k : k) * N + n];
            acc *= e.alpha;
            if (e.cin) acc += e.beta * Cin[m * N + n];
            if (e.bias_col) acc += bc[n];
            if (e.bias_row) acc += br[m];
            acc = act_ref(&e.act, acc);
            float got = C[m * ldc + n];
            if (!(fabs(got - acc) <= 1e-4 * (1 + fabs(acc)) + 1e-5 * K)) bad++;
        }
        for (int n = N; n < ldc; n++)
            if (!isnan(C[m * ldc + n])) bad++;
    }
    free(A);
    free(B);
    free(C);
    free(Cin);
    free(bc);
    free(br);
    free(packed);
    free(packed_a);
    free(off);
    return bad;
}

static void test_own_gemm(void) {
    static const int sizes[] = {1, 7, 17, 33, 100};
    ml_threadpool *pool = NULL;
    CHECK_OK(ml_threadpool_create(2, &pool));
    unsigned seed = 1;
    for (int isa = 0; isa <= 2; isa++) {
        nn_gemm_set_max_isa(isa);
        int bad = 0;
        for (int mi = 0; mi < 5; mi++)
            for (int ni = 0; ni < 5; ni++)
                for (int ki = 0; ki < 5; ki++) {
                    int M = sizes[mi], N = sizes[ni], K = sizes[ki];
                    int af = (mi + ni + ki) % 3, bf = (mi * 2 + ki + ni) % 4,
                        epi = (mi + 2 * ni + ki) % 7;
                    int b1 = gemm_case(mi % 2 ? pool : NULL, M, N, K, af, bf, epi, seed++);
                    if (b1)
                        printf("  isa %d M=%d N=%d K=%d a%d b%d epi%d: %d bad\n", isa, M, N, K, af,
                               bf, epi, b1);
                    bad += b1;
                }
        /* big enough to split over the pool, with ragged edges */
        bad += gemm_case(pool, 203, 301, 129, 0, 0, 3, seed++);
        bad += gemm_case(pool, 203, 301, 129, 2, 1, 4, seed++);
        bad += gemm_case(pool, 1, 1000, 3000, 0, 0, 1, seed++);
        bad += gemm_case(pool, 150, 333, 77, 2, 3, 5, seed++);
        bad += gemm_case(NULL, 1, 45, 301, 0, 3, 0, seed++);
        /* long reductions run in K chunks accumulating in C */
        bad += gemm_case(pool, 50, 70, 2500, 0, 0, 3, seed++);
        bad += gemm_case(NULL, 17, 40, 1031, 2, 3, 6, seed++);
        bad += gemm_case(NULL, 9, 33, 800, 1, 1, 4, seed++);
        /* a transposed B above the per-call packing limit goes to BLAS in place */
        bad += gemm_case(pool, 3, 2100, 2100, 1, 2, 5, seed++);
        bad += gemm_case(pool, 64, 17, 0, 0, 0, 2, seed++); /* K = 0: the epilogue of zero */
        CHECK_EQ_INT(bad, 0);
    }
    nn_gemm_set_max_isa(-1);
    ml_threadpool_destroy(pool);
}

/* com.mlambda MatMulBiasAct (batched A, 2-D B, bias, activation) and
 * com.microsoft FusedGemm (transposes, alpha/beta, C broadcast, activation). */
static void test_matmul_bias_act_and_fused_gemm(void) {
    unsigned s = 7;
    int64_t ad[] = {2, 3, 37}, bd[] = {37, 45}, cd[] = {45};
    float av[2 * 3 * 37], bv[37 * 45], cv[45];
    for (size_t i = 0; i < sizeof av / 4; i++) av[i] = lcg_f(&s);
    for (size_t i = 0; i < sizeof bv / 4; i++) bv[i] = lcg_f(&s);
    for (size_t i = 0; i < 45; i++) cv[i] = lcg_f(&s);
    ml_tensor *ta = ml_test_f32(3, ad, av), *tb = ml_test_f32(2, bd, bv),
              *tc = ml_test_f32(1, cd, cv);
    float lp[] = {0.2f};
    ml_attr attrs[] = {ml_test_attr_string("activation", "LeakyRelu"),
                       ml_test_attr_floats("activation_params", lp, 1)};
    for (int with_bias = 0; with_bias < 2; with_bias++) {
        ml_tensor *y = NULL;
        CHECK_OK(ml_test_run("com.mlambda", "MatMulBiasAct", 1, attrs, 2, with_bias ? 3 : 2,
                             (const ml_tensor *[]){ta, tb, tc}, 1, &y));
        float want[2 * 3 * 45];
        for (int r = 0; r < 6; r++)
            for (int n = 0; n < 45; n++) {
                double acc = with_bias ? cv[n] : 0;
                for (int k = 0; k < 37; k++) acc += (double)av[r * 37 + k] * bv[k * 45 + n];
                want[r * 45 + n] = (float)(acc >= 0 ? acc : acc * 0.2);
            }
        int64_t yd[] = {2, 3, 45};
        check_f32(y, 3, yd, want, 1e-4);
        ml_tensor_free(y);
    }
    /* bias of the wrong length is refused */
    ml_tensor *y = NULL;
    CHECK_ERR(ml_test_run("com.mlambda", "MatMulBiasAct", 1, attrs, 2, 3,
                          (const ml_tensor *[]){ta, tb, ta}, 1, &y),
              ML_ERR_INVALID_ARGUMENT);
    ml_tensor_free(y);
    /* FusedGemm: A [37, 6] transposed, B [45, 37] transposed, C [45], Tanh */
    int64_t gad[] = {37, 6}, gbd[] = {45, 37};
    ml_tensor *ga = ml_test_f32(2, gad, av), *gb = ml_test_f32(2, gbd, bv);
    ml_attr gattrs[] = {ml_test_attr_int("transA", 1), ml_test_attr_int("transB", 1),
                        ml_test_attr_float("alpha", 0.5f), ml_test_attr_float("beta", 2.0f),
                        ml_test_attr_string("activation", "Tanh")};
    y = NULL;
    CHECK_OK(ml_test_run("com.microsoft", "FusedGemm", 1, gattrs, 5, 3,
                         (const ml_tensor *[]){ga, gb, tc}, 1, &y));
    float gwant[6 * 45];
    for (int m = 0; m < 6; m++)
        for (int n = 0; n < 45; n++) {
            double acc = 0;
            for (int k = 0; k < 37; k++) acc += (double)av[k * 6 + m] * bv[n * 37 + k];
            gwant[m * 45 + n] = (float)tanh(0.5 * acc + 2.0 * cv[n]);
        }
    int64_t gyd[] = {6, 45};
    check_f32(y, 2, gyd, gwant, 1e-4);
    ml_tensor_free(y);
    /* HardSigmoid with only activation_beta: alpha keeps its default 0.2 */
    ml_attr hattrs[] = {ml_test_attr_int("transA", 1), ml_test_attr_int("transB", 1),
                        ml_test_attr_string("activation", "HardSigmoid"),
                        ml_test_attr_float("activation_beta", 0.3f)};
    y = NULL;
    CHECK_OK(ml_test_run("com.microsoft", "FusedGemm", 1, hattrs, 4, 3,
                         (const ml_tensor *[]){ga, gb, tc}, 1, &y));
    for (int m = 0; m < 6; m++)
        for (int n = 0; n < 45; n++) {
            double acc = cv[n];
            for (int k = 0; k < 37; k++) acc += (double)av[k * 6 + m] * bv[n * 37 + k];
            acc = 0.2 * acc + 0.3;
            gwant[m * 45 + n] = (float)(acc < 0 ? 0 : acc > 1 ? 1 : acc);
        }
    check_f32(y, 2, gyd, gwant, 1e-4);
    ml_tensor_free(y);
    ml_tensor_free(ga);
    ml_tensor_free(gb);
    ml_tensor_free(ta);
    ml_tensor_free(tb);
    ml_tensor_free(tc);
}

/* MatMul / Gemm / FusedGemm / MatMulBiasAct with B a load-time constant (packed
 * once in init) against a double reference, float32 and float16, with every
 * form of Gemm's C. */
static void test_packed_weights(void) {
    unsigned seed = 99;
    enum { M = 19, K = 41, N = 37 };
    float av[2 * M * K], bv[K * N], btv[N * K], cv[M * N];
    for (size_t i = 0; i < sizeof av / 4; i++) av[i] = lcg_f(&seed);
    for (size_t i = 0; i < sizeof bv / 4; i++) bv[i] = lcg_f(&seed);
    for (int k = 0; k < K; k++)
        for (int n = 0; n < N; n++) btv[n * K + k] = bv[k * N + n];
    for (size_t i = 0; i < sizeof cv / 4; i++) cv[i] = lcg_f(&seed);
    int64_t a3[] = {2, M, K}, a2[] = {M, K}, bd[] = {K, N}, btd[] = {N, K};
    ml_tensor *ta3 = ml_test_f32(3, a3, av), *ta2 = ml_test_f32(2, a2, av),
              *tb = ml_test_f32(2, bd, bv), *tbt = ml_test_f32(2, btd, btv);
    /* float16 copies (values rounded the same way for the reference) */
    uint16_t ah[2 * M * K], bh[K * N];
    float ar[2 * M * K], br[K * N];
    for (size_t i = 0; i < sizeof ah / 2; i++) {
        ah[i] = ml_float_to_fp16(av[i]);
        ar[i] = ml_fp16_to_float(ah[i]);
    }
    for (size_t i = 0; i < sizeof bh / 2; i++) {
        bh[i] = ml_float_to_fp16(bv[i]);
        br[i] = ml_fp16_to_float(bh[i]);
    }
    ml_tensor *ta3h = ml_test_tensor(ML_FLOAT16, 3, a3, ah),
              *tbh = ml_test_tensor(ML_FLOAT16, 2, bd, bh);
    static float want[2 * M * N];
    ml_threadpool *pool = NULL;
    CHECK_OK(ml_threadpool_create(2, &pool));
    for (int rep = 0; rep < 2; rep++) {
        ml_test_set_pool(rep ? pool : NULL);
        /* MatMul [2, M, K] @ const [K, N], float32 and float16 */
        for (int half = 0; half < 2; half++) {
            const float *A = half ? ar : av, *B = half ? br : bv;
            for (int r = 0; r < 2 * M; r++)
                for (int n = 0; n < N; n++) {
                    double acc = 0;
                    for (int k = 0; k < K; k++) acc += (double)A[r * K + k] * B[k * N + n];
                    want[r * N + n] = (float)acc;
                }
            ml_tensor *y = NULL;
            CHECK_OK(ml_test_run_const("", "MatMul", 13, NULL, 0, 2,
                                       (const ml_tensor *[]){half ? ta3h : ta3, half ? tbh : tb},
                                       0x2u, 1, &y));
            CHECK(y != NULL && y->dtype == (half ? ML_FLOAT16 : ML_FLOAT) && y->rank == 3);
            if (y && ml_tensor_numel(y) == 2 * M * N)
                for (size_t i = 0; i < 2 * M * N; i++)
                    CHECK_NEAR(ml_tensor_get_f64(y, i), want[i], half ? 2e-2 : 1e-4);
            ml_tensor_free(y);
        }
        /* Gemm with const B^T, alpha/beta, C of shape [N], [M,1], [M,N], [1] */
        int64_t cshapes[4][2] = {{N, 0}, {M, 1}, {M, N}, {1, 0}};
        int cranks[4] = {1, 2, 2, 1};
        for (int ci = 0; ci < 4; ci++) {
            ml_tensor *tc = ml_test_f32(cranks[ci], cshapes[ci], cv);
            for (int fused = 0; fused < 2; fused++) {
                ml_attr attrs[] = {ml_test_attr_int("transB", 1), ml_test_attr_float("alpha", 0.5f),
                                   ml_test_attr_float("beta", -1.5f),
                                   ml_test_attr_string("activation", "Relu")};
                for (int m = 0; m < M; m++)
                    for (int n = 0; n < N; n++) {
                        double acc = 0;
                        for (int k = 0; k < K; k++) acc += (double)av[m * K + k] * bv[k * N + n];
                        float c = ci == 0   ? cv[n]
                                  : ci == 1 ? cv[m]
                                  : ci == 2 ? cv[m * N + n]
                                            : cv[0];
                        acc = 0.5 * acc - 1.5 * c;
                        if (fused && acc < 0) acc = 0;
                        want[m * N + n] = (float)acc;
                    }
                ml_tensor *y = NULL;
                CHECK_OK(ml_test_run_const(
                    fused ? "com.microsoft" : "", fused ? "FusedGemm" : "Gemm", fused ? 1 : 13,
                    attrs, fused ? 4 : 3, 3, (const ml_tensor *[]){ta2, tbt, tc}, 0x6u, 1, &y));
                int64_t yd[] = {M, N};
                check_f32(y, 2, yd, want, 1e-4);
                ml_tensor_free(y);
            }
            ml_tensor_free(tc);
        }
        /* MatMulBiasAct with const B and bias, HardSigmoid */
        float hp[] = {0.3f, 0.4f};
        ml_attr mattrs[] = {ml_test_attr_string("activation", "HardSigmoid"),
                            ml_test_attr_floats("activation_params", hp, 2)};
        int64_t nd[] = {N};
        ml_tensor *tbias = ml_test_f32(1, nd, cv);
        for (int r = 0; r < 2 * M; r++)
            for (int n = 0; n < N; n++) {
                double acc = cv[n];
                for (int k = 0; k < K; k++) acc += (double)av[r * K + k] * bv[k * N + n];
                acc = 0.3 * acc + 0.4;
                want[r * N + n] = (float)(acc < 0 ? 0 : acc > 1 ? 1 : acc);
            }
        ml_tensor *y = NULL;
        CHECK_OK(ml_test_run_const("com.mlambda", "MatMulBiasAct", 1, mattrs, 2, 3,
                                   (const ml_tensor *[]){ta3, tb, tbias}, 0x6u, 1, &y));
        int64_t yd3[] = {2, M, N};
        check_f32(y, 3, yd3, want, 1e-4);
        ml_tensor_free(y);
        ml_tensor_free(tbias);
    }
    ml_test_set_pool(NULL);
    /* one row (batch-1 dense layer) on every ISA: with AVX2 only it reads
     * B in place through BLAS instead of the packed copy */
    int64_t a1d[] = {1, K};
    ml_tensor *ta1 = ml_test_f32(2, a1d, av);
    for (int isa = 2; isa >= 0; isa--) {
        nn_gemm_set_max_isa(isa);
        for (int n = 0; n < N; n++) {
            double acc = 0;
            for (int k = 0; k < K; k++) acc += (double)av[k] * bv[k * N + n];
            want[n] = (float)acc;
        }
        int64_t y1d[] = {1, N};
        ml_tensor *y = NULL;
        CHECK_OK(ml_test_run_const("", "MatMul", 13, NULL, 0, 2, (const ml_tensor *[]){ta1, tb},
                                   0x2u, 1, &y));
        check_f32(y, 2, y1d, want, 1e-4);
        ml_tensor_free(y);
        ml_attr tattr = ml_test_attr_int("transB", 1);
        y = NULL;
        CHECK_OK(ml_test_run_const("", "Gemm", 13, &tattr, 1, 2, (const ml_tensor *[]){ta1, tbt},
                                   0x2u, 1, &y));
        check_f32(y, 2, y1d, want, 1e-4);
        ml_tensor_free(y);
    }
    nn_gemm_set_max_isa(-1);
    ml_tensor_free(ta1);
    ml_threadpool_destroy(pool);
    ml_tensor_free(ta3);
    ml_tensor_free(ta2);
    ml_tensor_free(tb);
    ml_tensor_free(tbt);
    ml_tensor_free(ta3h);
    ml_tensor_free(tbh);
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
    RUN(test_own_gemm);
    RUN(test_matmul_bias_act_and_fused_gemm);
    RUN(test_packed_weights);
    return TEST_SUMMARY();
}
