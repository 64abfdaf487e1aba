/* Fixed-size thread pool with a blocking parallel-for.
 *
 * Several threads may call ml_parallel_for on the same pool at once (one per
 * in-flight request); the calling thread always works on its own range too, so
 * nested or concurrent calls cannot deadlock even when every worker is busy. */
#ifndef MLAMBDA_CORE_THREADPOOL_H
#define MLAMBDA_CORE_THREADPOOL_H

#include <stddef.h>

#include "core/status.h"

typedef struct ml_threadpool ml_threadpool;

/* Body of a parallel loop: processes indices [begin, end). */
typedef void (*ml_range_fn)(void *arg, size_t begin, size_t end);

/* n_threads is the total parallelism including the caller; 0 means the number
 * of online CPUs. n_threads == 1 creates no threads. Caller owns *out. */
ml_status ml_threadpool_create(size_t n_threads, ml_threadpool **out);
/* Waits for the workers to finish and frees the pool. NULL is accepted. */
void ml_threadpool_destroy(ml_threadpool *pool);
/* Total parallelism (workers + caller); 1 for a NULL pool. */
size_t ml_threadpool_size(const ml_threadpool *pool);

/* Runs fn over [0, n) split into chunks of at least min_chunk indices and
 * returns when all are done. pool may be NULL (runs inline). */
void ml_parallel_for(ml_threadpool *pool, size_t n, size_t min_chunk, ml_range_fn fn, void *arg);

#endif
