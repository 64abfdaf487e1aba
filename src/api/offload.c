/* Worker threads and route costs for the HTTP server (offload.h). */
#include "api/offload.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>

typedef struct job {
    void (*fn)(void *);
    void *arg;
    struct job *next;
} job;

struct ml_offload {
    pthread_mutex_t mu;
    pthread_cond_t work;
    job *head, *tail;
    size_t threads, idle, max_threads;
    pthread_t *tids; /* max_threads slots */
    bool stopping;
};

static void *worker(void *arg) {
    ml_offload *o = arg;
    pthread_mutex_lock(&o->mu);
    for (;;) {
        while (!o->head && !o->stopping) {
            o->idle++;
            pthread_cond_wait(&o->work, &o->mu);
            o->idle--;
        }
        job *j = o->head;
        if (!j) break; /* stopping and drained */
        o->head = j->next;
        if (!o->head) o->tail = NULL;
        pthread_mutex_unlock(&o->mu);
        j->fn(j->arg);
        free(j);
        pthread_mutex_lock(&o->mu);
    }
    pthread_mutex_unlock(&o->mu);
    return NULL;
}

ml_status ml_offload_start(size_t max_threads, ml_offload **out) {
    *out = NULL;
    ml_offload *o = calloc(1, sizeof *o);
    if (!o) return ml_error(ML_ERR_OUT_OF_MEMORY, "out of memory");
    o->max_threads = max_threads ? max_threads : 1;
    o->tids = calloc(o->max_threads, sizeof *o->tids);
    if (!o->tids) {
        free(o);
        return ml_error(ML_ERR_OUT_OF_MEMORY, "out of memory");
    }
    pthread_mutex_init(&o->mu, NULL);
    pthread_cond_init(&o->work, NULL);
    *out = o;
    return ML_STATUS_OK;
}

ml_status ml_offload_submit(ml_offload *o, void (*fn)(void *arg), void *arg) {
    job *j = malloc(sizeof *j);
    if (!j) return ml_error(ML_ERR_OUT_OF_MEMORY, "out of memory");
    *j = (job){.fn = fn, .arg = arg};
    pthread_mutex_lock(&o->mu);
    /* a new thread only when every existing one is busy: a burst of slow
     * requests gets as many as it needs, up to the maximum */
    if (!o->stopping && o->idle == 0 && o->threads < o->max_threads &&
        pthread_create(&o->tids[o->threads], NULL, worker, o) == 0)
        o->threads++;
    if (o->stopping || o->threads == 0) {
        pthread_mutex_unlock(&o->mu);
        free(j);
        return ml_error(ML_ERR_UNAVAILABLE, "no worker thread (stopping, or none could start)");
    }
    if (o->tail)
        o->tail->next = j;
    else
        o->head = j;
    o->tail = j;
    pthread_cond_signal(&o->work);
    pthread_mutex_unlock(&o->mu);
    return ML_STATUS_OK;
}

void ml_offload_stop(ml_offload *o) {
    if (!o) return;
    pthread_mutex_lock(&o->mu);
    o->stopping = true;
    pthread_cond_broadcast(&o->work);
    size_t n = o->threads;
    pthread_mutex_unlock(&o->mu);
    for (size_t i = 0; i < n; i++) pthread_join(o->tids[i], NULL);
    pthread_mutex_destroy(&o->mu);
    pthread_cond_destroy(&o->work);
    free(o->tids);
    free(o);
}

/* ---- route costs ---- */

#define COST_SLOTS 512

struct ml_route_costs {
    /* per slot: the route's hash and its average in µs (0 = unknown);
     * relaxed atomics: a torn pair only misjudges one request */
    _Atomic uint64_t key[COST_SLOTS];
    _Atomic uint32_t avg_us[COST_SLOTS];
};

static uint64_t route_hash(const char *method, const char *url) {
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (const char *p = method; *p; p++) h = (h ^ (unsigned char)*p) * 1099511628211ull;
    h = (h ^ ' ') * 1099511628211ull;
    for (const char *p = url; *p; p++) h = (h ^ (unsigned char)*p) * 1099511628211ull;
    return h ? h : 1;
}

ml_status ml_route_costs_new(ml_route_costs **out) {
    *out = calloc(1, sizeof **out);
    return *out ? ML_STATUS_OK : ml_error(ML_ERR_OUT_OF_MEMORY, "out of memory");
}

void ml_route_costs_free(ml_route_costs *c) {
    free(c);
}

int ml_route_is_fast(const ml_route_costs *c, const char *method, const char *url,
                     uint32_t limit_us) {
    uint64_t h = route_hash(method, url);
    size_t s = (size_t)(h % COST_SLOTS);
    if (atomic_load_explicit(&c->key[s], memory_order_relaxed) != h) return 0;
    uint32_t avg = atomic_load_explicit(&c->avg_us[s], memory_order_relaxed);
    return avg > 0 && avg < limit_us;
}

void ml_route_cost_add(ml_route_costs *c, const char *method, const char *url, uint64_t ns) {
    uint64_t h = route_hash(method, url);
    size_t s = (size_t)(h % COST_SLOTS);
    uint64_t us = ns / 1000 + 1; /* 0 means unknown */
    if (us > UINT32_MAX) us = UINT32_MAX;
    if (atomic_load_explicit(&c->key[s], memory_order_relaxed) != h) {
        atomic_store_explicit(&c->key[s], h, memory_order_relaxed);
        atomic_store_explicit(&c->avg_us[s], (uint32_t)us, memory_order_relaxed);
        return;
    }
    /* a slow request counts at once (the next one must not stall a loop);
     * a fast one lowers the average gradually */
    uint32_t avg = atomic_load_explicit(&c->avg_us[s], memory_order_relaxed);
    uint64_t next = us >= avg ? us : (7 * (uint64_t)avg + us) / 8;
    atomic_store_explicit(&c->avg_us[s], (uint32_t)next, memory_order_relaxed);
}
