#include "serving/batcher.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/clock.h"
#include "core/log.h"

typedef struct job {
    struct job *next;
    const ml_tensor_list *in;
    const char *const *want;
    size_t n_want;
    ml_tensor_list *out;
    int64_t rows;
    uint64_t deadline_ns; /* 0 = none */
    uint64_t enq_ns, start_ns, compute_ns;
    ml_status st;
    int done;
    pthread_cond_t wake; /* signalled for this job alone when done */
} job;

struct ml_batcher {
    ml_instance *inst;
    ml_metrics *metrics;
    ml_batch_config cfg;
    pthread_mutex_t mu;
    pthread_cond_t work;
    job *head;
    int64_t queued_rows; /* rows of every queued job */
    int stop;
    int n_threads;
    pthread_t threads[64];
};

bool ml_batch_config_from_json(const json_t *options, ml_batch_config *out) {
    const json_t *b = json_is_object(options) ? json_object_get(options, "batching") : NULL;
    const json_t *m = json_object_get(b, "max_batch_size"),
                 *d = json_object_get(b, "max_queue_delay_us");
    if (!json_is_integer(m) || json_integer_value(m) <= 1) return false;
    out->max_batch_size = (int)json_integer_value(m);
    out->max_delay_ns = json_is_integer(d) && json_integer_value(d) > 0
                            ? (uint64_t)json_integer_value(d) * 1000
                            : 0;
    const json_t *pref = json_object_get(b, "preferred_batch_sizes");
    out->n_preferred = 0;
    for (size_t k = 0; k < json_array_size(pref) && out->n_preferred < 8; k++) {
        json_int_t p = json_integer_value(json_array_get(pref, k));
        if (p < 1 || p > out->max_batch_size) continue;
        /* keep ascending and unique, whatever the stored order */
        int at = out->n_preferred;
        while (at > 0 && out->preferred[at - 1] > p) at--;
        if (at > 0 && out->preferred[at - 1] == p) continue;
        memmove(&out->preferred[at + 1], &out->preferred[at],
                (size_t)(out->n_preferred - at) * sizeof *out->preferred);
        out->preferred[at] = (int)p;
        out->n_preferred++;
    }
    const json_t *n = json_object_get(b, "instances");
    out->instances = json_is_integer(n) && json_integer_value(n) > 1
                         ? (int)(json_integer_value(n) > 64 ? 64 : json_integer_value(n))
                         : 1;
    return true;
}

/* Rows of a request: the shared first dimension of its inputs, or -1. */
static int64_t rows_of(const ml_tensor_list *in) {
    int64_t rows = -1;
    for (size_t i = 0; i < in->n; i++) {
        const ml_tensor *t = in->tensors[i];
        if (t->rank < 1) return -1;
        if (rows >= 0 && t->dims[0] != rows) return -1;
        rows = t->dims[0];
    }
    return rows;
}

static bool same_want(const job *a, const job *b) {
    if (!a->want || !b->want) return !a->want && !b->want;
    if (a->n_want != b->n_want) return false;
    for (size_t i = 0; i < a->n_want; i++)
        if (strcmp(a->want[i], b->want[i]) != 0) return false;
    return true;
}

static bool compatible(const job *a, const job *b) {
    if (a->in->n != b->in->n || !same_want(a, b)) return false;
    for (size_t i = 0; i < a->in->n; i++) {
        const ml_tensor *x = a->in->tensors[i];
        const ml_tensor *y = ml_tensor_list_get(b->in, a->in->names[i]);
        if (!y || x->dtype != y->dtype || x->rank != y->rank) return false;
        for (int k = 1; k < x->rank; k++)
            if (x->dims[k] != y->dims[k]) return false;
    }
    return true;
}

static size_t row_elems(const ml_tensor *t) {
    size_t n = 1;
    for (int k = 1; k < t->rank; k++) n *= (size_t)t->dims[k];
    return n;
}

/* Copies rows [from, from+rows) of src into dst starting at row at. */
static ml_status copy_rows(ml_tensor *dst, int64_t at, const ml_tensor *src, int64_t from,
                           int64_t rows) {
    size_t per = row_elems(src), n = per * (size_t)rows;
    if (src->dtype != ML_STRING) {
        size_t es = ml_dtype_size(src->dtype);
        memcpy((char *)dst->data + (size_t)at * per * es,
               (const char *)src->data + (size_t)from * per * es, n * es);
        return NULL;
    }
    const ml_str *s = (const ml_str *)src->data + (size_t)from * per;
    for (size_t i = 0; i < n; i++)
        ML_TRY(ml_tensor_set_string(dst, (size_t)at * per + i, s[i].data, s[i].len));
    return NULL;
}

static ml_status concat(job **jobs, int n, int64_t total, ml_tensor_list *cat) {
    const ml_tensor_list *first = jobs[0]->in;
    for (size_t i = 0; i < first->n; i++) {
        const ml_tensor *t0 = first->tensors[i];
        int64_t dims[ML_MAX_RANK];
        memcpy(dims, t0->dims, sizeof dims);
        dims[0] = total;
        ml_tensor *t;
        ML_TRY(ml_tensor_create(t0->dtype, t0->rank, dims, &t));
        int64_t at = 0;
        for (int j = 0; j < n; j++) {
            const ml_tensor *src = ml_tensor_list_get(jobs[j]->in, first->names[i]);
            ml_status st = copy_rows(t, at, src, 0, jobs[j]->rows);
            if (st) {
                ml_tensor_free(t);
                return st;
            }
            at += jobs[j]->rows;
        }
        ML_TRY(ml_tensor_list_add(cat, first->names[i], t));
    }
    return NULL;
}

static ml_status split(const ml_tensor_list *outs, job **jobs, int n) {
    int64_t at = 0;
    for (int j = 0; j < n; j++) {
        for (size_t i = 0; i < outs->n; i++) {
            const ml_tensor *o = outs->tensors[i];
            int64_t dims[ML_MAX_RANK];
            memcpy(dims, o->dims, sizeof dims);
            dims[0] = jobs[j]->rows;
            ml_tensor *t;
            ML_TRY(ml_tensor_create(o->dtype, o->rank, dims, &t));
            ml_status st = copy_rows(t, 0, o, at, jobs[j]->rows);
            if (st) {
                ml_tensor_free(t);
                return st;
            }
            ML_TRY(ml_tensor_list_add(jobs[j]->out, outs->names[i], t));
        }
        at += jobs[j]->rows;
    }
    return NULL;
}

static void run_alone(ml_batcher *b, job *j) {
    j->st =
        ml_instance_run(b->inst, j->in, j->want, j->n_want, j->deadline_ns, j->out, &j->compute_ns);
}

/* The latest deadline of the batch, 0 when one request has none: the run
 * must not stop while anyone still waits for it. */
static uint64_t batch_deadline(job **jobs, int n) {
    uint64_t d = 0;
    for (int j = 0; j < n; j++) {
        if (!jobs[j]->deadline_ns) return 0;
        if (jobs[j]->deadline_ns > d) d = jobs[j]->deadline_ns;
    }
    return d;
}

static void run_batch(ml_batcher *b, job **jobs, int n, int64_t total) {
    uint64_t now = ml_now_ns();
    for (int j = 0; j < n; j++) jobs[j]->start_ns = now;
    if (n == 1) return run_alone(b, jobs[0]);
    ml_tensor_list cat = {0}, outs = {0};
    uint64_t compute = 0;
    ml_status st = concat(jobs, n, total, &cat);
    if (!st)
        st = ml_instance_run(b->inst, &cat, jobs[0]->want, jobs[0]->n_want, batch_deadline(jobs, n),
                             &outs, &compute);
    bool batchable = !st;
    for (size_t i = 0; batchable && i < outs.n; i++)
        if (outs.tensors[i]->rank < 1 || outs.tensors[i]->dims[0] != total) batchable = false;
    if (batchable) st = split(&outs, jobs, n);
    ml_tensor_list_clear(&cat);
    ml_tensor_list_clear(&outs);
    if (batchable && !st) {
        ML_LOG_D("%s:%d: one run for %d requests (%lld rows)", b->inst->name, b->inst->version, n,
                 (long long)total);
        for (int j = 0; j < n; j++) jobs[j]->compute_ns = compute;
        ml_metrics_batch(b->metrics, b->inst->name, b->inst->version, n, total);
        return;
    }
    /* The model does not batch this way (or the batch failed): answer each
     * request on its own so one bad request cannot fail its companions. */
    ml_status_free(st);
    for (int j = 0; j < n; j++) {
        ml_tensor_list_clear(jobs[j]->out);
        run_alone(b, jobs[j]);
    }
}

static int64_t queued_rows(const job *head, int64_t cap) {
    int64_t r = 0;
    for (const job *j = head; j && r < cap; j = j->next)
        if (compatible(head, j)) r += j->rows;
    return r;
}

static void *loop(void *arg) {
    ml_batcher *b = arg;
    job *batch[1024];
    pthread_mutex_lock(&b->mu);
    for (;;) {
        if (!b->head) {
            if (b->stop) break;
            pthread_cond_wait(&b->work, &b->mu);
            continue;
        }
        uint64_t deadline = b->head->enq_ns + b->cfg.max_delay_ns;
        /* Reaching max_batch_size, or the largest preferred size, ends the
         * wait early; otherwise the head waits out its delay. */
        int64_t go_rows =
            b->cfg.n_preferred ? b->cfg.preferred[b->cfg.n_preferred - 1] : b->cfg.max_batch_size;
        while (!b->stop && queued_rows(b->head, b->cfg.max_batch_size) < go_rows) {
            uint64_t now = ml_now_ns();
            if (now >= deadline) break;
            struct timespec ts = {(time_t)(deadline / 1000000000ull),
                                  (long)(deadline % 1000000000ull)};
            pthread_cond_timedwait(&b->work, &b->mu, &ts);
        }
        /* Requests whose deadline passed in the queue are answered now. */
        uint64_t now = ml_now_ns();
        for (job **pp = &b->head; *pp;) {
            job *j = *pp;
            if (j->deadline_ns && now >= j->deadline_ns) {
                *pp = j->next;
                j->st = ml_error(ML_ERR_DEADLINE,
                                 "the request's deadline passed while it waited for a batch "
                                 "of %s:%d",
                                 b->inst->name, b->inst->version);
                j->start_ns = now;
                j->done = 1;
                b->queued_rows -= j->rows;
                pthread_cond_signal(&j->wake);
            } else {
                pp = &j->next;
            }
        }
        if (!b->head) continue;
        /* With preferred sizes, a batch short of max_batch_size is cut to the
         * largest preferred size it can fill; the rest waits for the next. */
        int64_t limit = b->cfg.max_batch_size;
        if (b->cfg.n_preferred) {
            int64_t q = queued_rows(b->head, b->cfg.max_batch_size);
            for (int k = 0; q < b->cfg.max_batch_size && k < b->cfg.n_preferred; k++)
                if (b->cfg.preferred[k] <= q) limit = b->cfg.preferred[k]; /* ascending */
        }
        /* Take the head and every compatible follower that still fits. */
        int n = 0;
        int64_t total = 0;
        job **pp = &b->head, *first = b->head;
        while (*pp && n < (int)(sizeof batch / sizeof *batch)) {
            job *j = *pp;
            /* the head always goes (its rows never exceed max_batch_size) */
            if (j == first || (compatible(first, j) && total + j->rows <= limit)) {
                *pp = j->next;
                batch[n++] = j;
                total += j->rows;
                b->queued_rows -= j->rows;
            } else {
                pp = &j->next;
            }
        }
        pthread_mutex_unlock(&b->mu);
        run_batch(b, batch, n, total);
        pthread_mutex_lock(&b->mu);
        /* each waiter alone: a broadcast would also wake every request
         * queued for the next batch */
        for (int i = 0; i < n; i++) {
            batch[i]->done = 1;
            pthread_cond_signal(&batch[i]->wake);
        }
    }
    pthread_mutex_unlock(&b->mu);
    return NULL;
}

ml_status ml_batcher_create(ml_instance *inst, const ml_batch_config *cfg, ml_metrics *metrics,
                            ml_batcher **out) {
    *out = NULL;
    ml_batcher *b = calloc(1, sizeof *b);
    if (!b) return ml_error(ML_ERR_OUT_OF_MEMORY, "out of memory");
    b->inst = inst;
    b->metrics = metrics;
    b->cfg = *cfg;
    if (b->cfg.max_batch_size > 1024) b->cfg.max_batch_size = 1024;
    pthread_mutex_init(&b->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC); /* deadlines come from ml_now_ns */
    pthread_cond_init(&b->work, &ca);
    pthread_condattr_destroy(&ca);
    /* Several threads may each take a batch from the one queue: a model can
     * then run "instances" batches at once (the session is thread-safe). */
    int want = b->cfg.instances < 1 ? 1 : b->cfg.instances > 64 ? 64 : b->cfg.instances;
    for (; b->n_threads < want; b->n_threads++)
        if (pthread_create(&b->threads[b->n_threads], NULL, loop, b) != 0) break;
    if (b->n_threads == 0) {
        pthread_mutex_destroy(&b->mu);
        pthread_cond_destroy(&b->work);
        free(b);
        return ml_error(ML_ERR_UNAVAILABLE, "cannot start the batching thread");
    }
    *out = b;
    return NULL;
}

void ml_batcher_free(ml_batcher *b) {
    if (!b) return;
    pthread_mutex_lock(&b->mu);
    b->stop = 1;
    pthread_cond_broadcast(&b->work);
    pthread_mutex_unlock(&b->mu);
    for (int i = 0; i < b->n_threads; i++) pthread_join(b->threads[i], NULL);
    pthread_mutex_destroy(&b->mu);
    pthread_cond_destroy(&b->work);
    free(b);
}

static _Thread_local bool thread_queued;

bool ml_batcher_thread_queued(void) {
    return thread_queued;
}

void ml_batcher_thread_reset(void) {
    thread_queued = false;
}

ml_status ml_batcher_run(ml_batcher *b, const ml_tensor_list *in, const char *const *want,
                         size_t n_want, uint64_t deadline_ns, ml_tensor_list *out,
                         uint64_t *queue_ns, uint64_t *compute_ns) {
    job j = {0};
    j.in = in;
    j.want = want;
    j.n_want = n_want;
    j.deadline_ns = deadline_ns;
    j.out = out;
    j.rows = rows_of(in);
    j.enq_ns = ml_now_ns();
    if (j.rows < 1 || j.rows >= b->cfg.max_batch_size) {
        /* Nothing to gain from waiting: a full (or unbatchable) request. */
        uint64_t c = 0;
        ml_status st = ml_instance_run(b->inst, in, want, n_want, deadline_ns, out, &c);
        if (compute_ns) *compute_ns += c;
        return st;
    }
    thread_queued = true;
    pthread_cond_init(&j.wake, NULL);
    pthread_mutex_lock(&b->mu);
    bool was_empty = !b->head;
    job **tail = &b->head;
    while (*tail) tail = &(*tail)->next;
    *tail = &j;
    b->queued_rows += j.rows;
    /* a runner needs waking only to start the head's delay or when a batch
     * is full; otherwise it sleeps until the delay ends */
    int64_t go_rows =
        b->cfg.n_preferred ? b->cfg.preferred[b->cfg.n_preferred - 1] : b->cfg.max_batch_size;
    if (was_empty || b->queued_rows >= go_rows) pthread_cond_signal(&b->work);
    while (!j.done) pthread_cond_wait(&j.wake, &b->mu);
    pthread_mutex_unlock(&b->mu);
    pthread_cond_destroy(&j.wake);
    if (queue_ns) *queue_ns += j.start_ns - j.enq_ns;
    if (compute_ns) *compute_ns += j.compute_ns;
    return j.st;
}
