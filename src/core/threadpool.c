#include "core/threadpool.h"

#include "core/clock.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <unistd.h>

/* One parallel_for call. Lives on the caller's stack; workers reach it through
 * the queue and the caller does not return until every worker has left it. */
typedef struct job {
    ml_range_fn fn;
    void *arg;
    size_t n, chunk, n_chunks;
    atomic_size_t next_chunk;
    size_t helpers_inside; /* workers currently running chunks; guarded by pool->mu */
    struct job *next;      /* queue link; guarded by pool->mu */
    bool queued;
} job;

struct ml_threadpool {
    size_t n_workers;
    pthread_t *threads;
    pthread_mutex_t mu;
    pthread_cond_t work_cv; /* workers wait here for jobs */
    pthread_cond_t done_cv; /* callers wait here for helpers to leave */
    job *queue_head, *queue_tail;
    atomic_int queued; /* jobs in the queue; written under mu, read lock-free by spinning workers */
    bool stopping;
};

/* How long an idle worker polls for new work before sleeping on the condition
 * variable. A model run is a sequence of parallel ops; waking a sleeping
 * thread costs tens of microseconds, more than many ops take, so a short spin
 * keeps the second core in the game. Idle servers pay 50 us per job, nothing
 * more. */
#define SPIN_NS 50000ull

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

static void spin_for_work(ml_threadpool *p) {
    uint64_t until = ml_now_ns() + SPIN_NS;
    while (atomic_load_explicit(&p->queued, memory_order_acquire) == 0 && ml_now_ns() < until)
        for (int i = 0; i < 32; i++) cpu_relax();
}

static void run_chunks(job *j) {
    for (;;) {
        size_t c = atomic_fetch_add(&j->next_chunk, 1);
        if (c >= j->n_chunks) return;
        size_t begin = c * j->chunk;
        size_t end = begin + j->chunk < j->n ? begin + j->chunk : j->n;
        j->fn(j->arg, begin, end);
    }
}

static void unqueue_locked(ml_threadpool *p, job *j) {
    if (!j->queued) return;
    job **pp = &p->queue_head;
    job *prev = NULL;
    while (*pp && *pp != j) {
        prev = *pp;
        pp = &(*pp)->next;
    }
    if (*pp) {
        *pp = j->next;
        if (p->queue_tail == j) p->queue_tail = prev;
        atomic_fetch_sub(&p->queued, 1);
    }
    j->queued = false;
}

static void *worker_main(void *arg) {
    ml_threadpool *p = arg;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        if (!p->stopping && !p->queue_head) {
            pthread_mutex_unlock(&p->mu);
            spin_for_work(p);
            pthread_mutex_lock(&p->mu);
        }
        while (!p->stopping && !p->queue_head) pthread_cond_wait(&p->work_cv, &p->mu);
        if (p->stopping && !p->queue_head) break;
        job *j = p->queue_head;
        /* Exhausted jobs leave the queue; others stay so more workers can join. */
        if (atomic_load(&j->next_chunk) >= j->n_chunks) {
            unqueue_locked(p, j);
            continue;
        }
        j->helpers_inside++;
        pthread_mutex_unlock(&p->mu);
        run_chunks(j);
        pthread_mutex_lock(&p->mu);
        unqueue_locked(p, j);
        if (--j->helpers_inside == 0) pthread_cond_broadcast(&p->done_cv);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

ml_status ml_threadpool_create(size_t n_threads, ml_threadpool **out) {
    *out = NULL;
    if (n_threads == 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        n_threads = n > 0 ? (size_t)n : 1;
    }
    if (n_threads > 1024)
        return ml_error(ML_ERR_INVALID_ARGUMENT, "thread count %zu is over 1024", n_threads);
    ml_threadpool *p = calloc(1, sizeof *p);
    if (!p) return ml_error(ML_ERR_OUT_OF_MEMORY, "thread pool");
    p->n_workers = n_threads - 1;
    atomic_init(&p->queued, 0);
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->work_cv, NULL);
    pthread_cond_init(&p->done_cv, NULL);
    if (p->n_workers) {
        p->threads = calloc(p->n_workers, sizeof *p->threads);
        if (!p->threads) {
            ml_threadpool_destroy(p);
            return ml_error(ML_ERR_OUT_OF_MEMORY, "thread pool");
        }
        for (size_t i = 0; i < p->n_workers; i++) {
            if (pthread_create(&p->threads[i], NULL, worker_main, p) != 0) {
                p->n_workers = i;
                ml_threadpool_destroy(p);
                return ml_error(ML_ERR_UNAVAILABLE, "could not start worker thread %zu", i);
            }
        }
    }
    *out = p;
    return ML_STATUS_OK;
}

void ml_threadpool_destroy(ml_threadpool *p) {
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    p->stopping = true;
    pthread_cond_broadcast(&p->work_cv);
    pthread_mutex_unlock(&p->mu);
    for (size_t i = 0; i < p->n_workers; i++) pthread_join(p->threads[i], NULL);
    free(p->threads);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->work_cv);
    pthread_cond_destroy(&p->done_cv);
    free(p);
}

size_t ml_threadpool_size(const ml_threadpool *p) {
    return p ? p->n_workers + 1 : 1;
}

void ml_parallel_for(ml_threadpool *p, size_t n, size_t min_chunk, ml_range_fn fn, void *arg) {
    if (n == 0) return;
    if (min_chunk == 0) min_chunk = 1;
    size_t width = ml_threadpool_size(p);
    if (width == 1 || n <= min_chunk) {
        fn(arg, 0, n);
        return;
    }
    /* A few chunks per thread balances uneven work without much overhead. */
    size_t chunk = (n + width * 4 - 1) / (width * 4);
    if (chunk < min_chunk) chunk = min_chunk;
    job j = {.fn = fn, .arg = arg, .n = n, .chunk = chunk, .n_chunks = (n + chunk - 1) / chunk};
    atomic_init(&j.next_chunk, 0);
    pthread_mutex_lock(&p->mu);
    j.queued = true;
    if (p->queue_tail)
        p->queue_tail->next = &j;
    else
        p->queue_head = &j;
    p->queue_tail = &j;
    atomic_fetch_add(&p->queued, 1);
    pthread_cond_broadcast(&p->work_cv);
    pthread_mutex_unlock(&p->mu);

    run_chunks(&j);

    pthread_mutex_lock(&p->mu);
    unqueue_locked(p, &j);
    while (j.helpers_inside > 0) pthread_cond_wait(&p->done_cv, &p->mu);
    pthread_mutex_unlock(&p->mu);
}
