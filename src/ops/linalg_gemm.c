/* GEMM on the engine's thread pool, with OpenBLAS kept single-threaded.
 *
 * Why: OpenBLAS starts its own spinning worker threads on first use. On top of
 * the engine's ml_threadpool they oversubscribe the cores (measured on 2
 * cores: LSTM batch 1 went from 1.4 ms to 8-24 ms, BERT-tiny from 0.95 to
 * 3.4 ms), and concurrent requests multiply the contention. So BLAS runs on
 * the calling thread only (set once, process-wide) and large products are
 * split here into row or column blocks, each one single-threaded sgemm/dgemm
 * call on a pool thread; small products stay on the calling thread, where a
 * pool hand-off would cost more than it saves. */
#include <cblas.h>
#include <pthread.h>
#include <string.h>

#include "ops/linalg_internal.h"

static pthread_once_t blas_once = PTHREAD_ONCE_INIT;

/* OpenBLAS (pthreads build) starts its workers when the library loads, and
 * each first spins on sched_yield for ~2^28 cycles (~0.1 s of a core) before
 * sleeping: at startup that steals a core from the engine's pool.
 * openblas_set_num_threads(1) only stops handing them work, so the workers
 * are also stopped through blas_thread_shutdown_ (the hook OpenBLAS runs
 * before fork). It is not public API, hence the weak reference: with another
 * BLAS, or a build without it, the call is skipped. */
extern int blas_thread_shutdown_(void) __attribute__((weak));

static void blas_single_thread(void) {
    openblas_set_num_threads(1);
    if (blas_thread_shutdown_) blas_thread_shutdown_();
}

void nn_blas_init(void) {
    pthread_once(&blas_once, blas_single_thread);
}

/* Also at program start: kernels outside linalg/conv (RNN, SVM, linear
 * classifiers, quantised matmuls) call cblas directly, and a model made only
 * of those would otherwise run with OpenBLAS's own threads. This object is
 * always linked (MatMul/Gemm need nn_sgemm), and shared-library dependencies
 * such as OpenBLAS are initialised before it. */
__attribute__((constructor)) static void blas_init_at_load(void) {
    nn_blas_init();
}

/* Smallest block handed to one task (rows when splitting M, columns when
 * splitting N); keeps the BLAS micro-kernels on full tiles. */
#define NN_GEMM_MIN_ROWS 16
#define NN_GEMM_MIN_COLS 64

typedef struct gemm_job {
    bool dbl, split_m;
    bool ta, tb;
    int M, N, K, block;
    double alpha, beta;
    const void *a, *b;
    void *c;
    int lda, ldb, ldc;
} gemm_job;

static void gemm_blocks(void *arg, size_t begin, size_t end) {
    const gemm_job *j = arg;
    int total = j->split_m ? j->M : j->N;
    int r0 = (int)begin * j->block, r1 = (int)end * j->block;
    if (r1 > total) r1 = total;
    if (r0 >= r1) return;
    size_t es = j->dbl ? sizeof(double) : sizeof(float);
    const char *a = j->a, *b = j->b;
    char *c = j->c;
    int M = j->M, N = j->N;
    if (j->split_m) {
        a += (size_t)r0 * (j->ta ? 1 : (size_t)j->lda) * es;
        c += (size_t)r0 * (size_t)j->ldc * es;
        M = r1 - r0;
    } else {
        b += (size_t)r0 * (j->tb ? (size_t)j->ldb : 1) * es;
        c += (size_t)r0 * es;
        N = r1 - r0;
    }
    CBLAS_TRANSPOSE ta = j->ta ? CblasTrans : CblasNoTrans, tb = j->tb ? CblasTrans : CblasNoTrans;
    if (j->dbl)
        cblas_dgemm(CblasRowMajor, ta, tb, M, N, j->K, j->alpha, (const double *)a, j->lda,
                    (const double *)b, j->ldb, j->beta, (double *)c, j->ldc);
    else
        cblas_sgemm(CblasRowMajor, ta, tb, M, N, j->K, (float)j->alpha, (const float *)a, j->lda,
                    (const float *)b, j->ldb, (float)j->beta, (float *)c, j->ldc);
}

/* A single output row (batch-1 dense layers) is a matrix-vector product:
 * OpenBLAS's gemv beats its gemm there by 5-30% for either layout of B. */
static void gemv_row(const gemm_job *j) {
    size_t es = j->dbl ? sizeof(double) : sizeof(float);
    int inc_a = j->ta ? j->lda : 1; /* A is [1, K], or [K, 1] when transposed */
    /* beta == 0 must ignore C's (uninitialised) contents, NaNs included */
    if (j->beta == 0.0) memset(j->c, 0, (size_t)j->N * es);
    CBLAS_TRANSPOSE op = j->tb ? CblasNoTrans : CblasTrans;
    int rows = j->tb ? j->N : j->K, cols = j->tb ? j->K : j->N;
    if (j->dbl)
        cblas_dgemv(CblasRowMajor, op, rows, cols, j->alpha, j->b, j->ldb, j->a, inc_a, j->beta,
                    j->c, 1);
    else
        cblas_sgemv(CblasRowMajor, op, rows, cols, (float)j->alpha, j->b, j->ldb, j->a, inc_a,
                    (float)j->beta, j->c, 1);
}

static void gemm_par(ml_threadpool *pool, gemm_job *j) {
    nn_blas_init();
    if (j->M <= 0 || j->N <= 0) return;
    if (j->M == 1 && j->K > 0) {
        gemv_row(j);
        return;
    }
    size_t threads = ml_threadpool_size(pool);
    double work = (double)j->M * (double)j->N * (double)j->K;
    size_t blocks = 1;
    if (threads > 1 && work >= NN_GEMM_PAR_MIN) {
        /* two blocks per thread let a thread that is slowed by other
         * requests hand work to the others */
        size_t want = threads * 2;
        bool can_m = j->M >= (int)(threads * NN_GEMM_MIN_ROWS);
        bool can_n = j->N >= (int)(threads * NN_GEMM_MIN_COLS);
        /* every block packs the whole of the operand it does not split, so
         * split the larger side: rows when M >= N, else columns */
        if (can_m && (j->M >= j->N || !can_n)) {
            j->split_m = true;
            size_t most = (size_t)j->M / NN_GEMM_MIN_ROWS;
            blocks = want < most ? want : most;
        } else if (can_n) {
            j->split_m = false;
            size_t most = (size_t)j->N / NN_GEMM_MIN_COLS;
            blocks = want < most ? want : most;
        }
    }
    if (blocks <= 1) {
        j->split_m = true;
        j->block = j->M;
        gemm_blocks(j, 0, 1);
        return;
    }
    int total = j->split_m ? j->M : j->N;
    int block = (int)(((size_t)total + blocks - 1) / blocks);
    /* round columns to a multiple of 16 floats so each block starts aligned */
    if (!j->split_m) block = (block + 15) / 16 * 16;
    j->block = block;
    size_t n = ((size_t)total + (size_t)block - 1) / (size_t)block;
    ml_parallel_for(pool, n, 1, gemm_blocks, j);
}

void nn_sgemm(ml_threadpool *pool, bool ta, bool tb, int M, int N, int K, float alpha,
              const float *a, int lda, const float *b, int ldb, float beta, float *c, int ldc) {
    gemm_job j = {.dbl = false,
                  .ta = ta,
                  .tb = tb,
                  .M = M,
                  .N = N,
                  .K = K,
                  .alpha = alpha,
                  .beta = beta,
                  .a = a,
                  .b = b,
                  .c = c,
                  .lda = lda,
                  .ldb = ldb,
                  .ldc = ldc};
    gemm_par(pool, &j);
}

void nn_dgemm(ml_threadpool *pool, bool ta, bool tb, int M, int N, int K, double alpha,
              const double *a, int lda, const double *b, int ldb, double beta, double *c, int ldc) {
    gemm_job j = {.dbl = true,
                  .ta = ta,
                  .tb = tb,
                  .M = M,
                  .N = N,
                  .K = K,
                  .alpha = alpha,
                  .beta = beta,
                  .a = a,
                  .b = b,
                  .c = c,
                  .lda = lda,
                  .ldb = ldb,
                  .ldc = ldc};
    gemm_par(pool, &j);
}
