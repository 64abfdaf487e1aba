#include "serving/metrics.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Upper bounds in seconds; the last bucket is +Inf. */
static const double bounds[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                0.05,   0.1,     0.25,   0.5,   1,      2.5,   5,    10};
#define NB (sizeof bounds / sizeof *bounds)

typedef struct hist {
    uint64_t counts[NB + 1]; /* non-cumulative; [NB] is +Inf */
    double sum;
} hist;

typedef struct series {
    struct series *next;
    ml_metric_kind kind;
    char *name;
    int version;
    uint64_t requests, errors;
    uint64_t batches, batched_requests, batched_rows; /* dynamic batching (models only) */
    hist queue, compute, total;
} series;

typedef struct http_code {
    int code;
    uint64_t n;
} http_code;

struct ml_metrics {
    pthread_mutex_t mu;
    series *head;
    http_code codes[32];
    int n_codes;
};

ml_metrics *ml_metrics_create(void) {
    ml_metrics *m = calloc(1, sizeof *m);
    if (m) pthread_mutex_init(&m->mu, NULL);
    return m;
}

void ml_metrics_free(ml_metrics *m) {
    if (!m) return;
    for (series *s = m->head, *n; s; s = n) {
        n = s->next;
        free(s->name);
        free(s);
    }
    pthread_mutex_destroy(&m->mu);
    free(m);
}

static void observe(hist *h, uint64_t ns) {
    double s = (double)ns / 1e9;
    size_t i = 0;
    while (i < NB && s > bounds[i]) i++;
    h->counts[i]++;
    h->sum += s;
}

static series *find_series(ml_metrics *m, ml_metric_kind kind, const char *name, int version) {
    for (series *s = m->head; s; s = s->next)
        if (s->kind == kind && s->version == version && strcmp(s->name, name) == 0) return s;
    series *s = calloc(1, sizeof *s);
    if (!s || !(s->name = strdup(name))) {
        free(s);
        return NULL;
    }
    s->kind = kind;
    s->version = version;
    /* Keep insertion order stable for readable output: append. */
    series **tail = &m->head;
    while (*tail) tail = &(*tail)->next;
    *tail = s;
    return s;
}

void ml_metrics_record(ml_metrics *m, ml_metric_kind kind, const char *name, int version,
                       const ml_latency *lat, bool error) {
    if (!m) return;
    if (kind == ML_METRIC_APP) version = 0;
    pthread_mutex_lock(&m->mu);
    series *s = find_series(m, kind, name, version);
    if (s) {
        s->requests++;
        if (error) s->errors++;
        observe(&s->queue, lat->queue_ns);
        observe(&s->compute, lat->compute_ns);
        observe(&s->total, lat->total_ns);
    }
    pthread_mutex_unlock(&m->mu);
}

void ml_metrics_batch(ml_metrics *m, const char *name, int version, int requests, int64_t rows) {
    if (!m) return;
    pthread_mutex_lock(&m->mu);
    series *s = find_series(m, ML_METRIC_MODEL, name, version);
    if (s) {
        s->batches++;
        s->batched_requests += (uint64_t)requests;
        s->batched_rows += (uint64_t)rows;
    }
    pthread_mutex_unlock(&m->mu);
}

void ml_metrics_http(ml_metrics *m, int code) {
    if (!m) return;
    pthread_mutex_lock(&m->mu);
    int i = 0;
    while (i < m->n_codes && m->codes[i].code != code) i++;
    if (i == m->n_codes && m->n_codes < 32) m->codes[m->n_codes++].code = code;
    if (i < m->n_codes) m->codes[i].n++;
    pthread_mutex_unlock(&m->mu);
}

typedef struct sbuf {
    char *p;
    size_t len, cap;
} sbuf;

__attribute__((format(printf, 2, 3))) static void sb_printf(sbuf *b, const char *fmt, ...) {
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->p ? b->p + b->len : NULL, b->p ? b->cap - b->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0) return;
        if (b->p && b->len + (size_t)n < b->cap) {
            b->len += (size_t)n;
            return;
        }
        size_t ncap = (b->cap ? b->cap * 2 : 4096) + (size_t)n;
        char *np = realloc(b->p, ncap);
        if (!np) return;
        b->p = np;
        b->cap = ncap;
    }
}

/* Label values are names matching [A-Za-z0-9._-]: no escaping needed. */
static void labels(const series *s, char *buf, size_t cap) {
    if (s->kind == ML_METRIC_APP)
        snprintf(buf, cap, "application=\"%s\"", s->name);
    else
        snprintf(buf, cap, "model=\"%s\",version=\"%d\"", s->name, s->version);
}

static void emit_hist(sbuf *b, const char *metric, const char *lab, const hist *h) {
    uint64_t cum = 0;
    for (size_t i = 0; i < NB; i++) {
        cum += h->counts[i];
        sb_printf(b, "%s_bucket{%s,le=\"%g\"} %llu\n", metric, lab, bounds[i],
                  (unsigned long long)cum);
    }
    cum += h->counts[NB];
    sb_printf(b, "%s_bucket{%s,le=\"+Inf\"} %llu\n", metric, lab, (unsigned long long)cum);
    sb_printf(b, "%s_sum{%s} %.9f\n", metric, lab, h->sum);
    sb_printf(b, "%s_count{%s} %llu\n", metric, lab, (unsigned long long)cum);
}

char *ml_metrics_prometheus(ml_metrics *m, int64_t loaded_models) {
    sbuf b = {0};
    pthread_mutex_lock(&m->mu);
    static const char *const kinds[] = {"model", "application"};
    for (int k = 0; k < 2; k++) {
        sb_printf(&b, "# HELP mlambda_%s_requests_total Inference requests per %s.\n", kinds[k],
                  kinds[k]);
        sb_printf(&b, "# TYPE mlambda_%s_requests_total counter\n", kinds[k]);
        char lab[300];
        for (series *s = m->head; s; s = s->next) {
            if ((int)s->kind != k) continue;
            labels(s, lab, sizeof lab);
            sb_printf(&b, "mlambda_%s_requests_total{%s} %llu\n", kinds[k], lab,
                      (unsigned long long)s->requests);
        }
        sb_printf(&b, "# HELP mlambda_%s_errors_total Failed inference requests per %s.\n",
                  kinds[k], kinds[k]);
        sb_printf(&b, "# TYPE mlambda_%s_errors_total counter\n", kinds[k]);
        for (series *s = m->head; s; s = s->next) {
            if ((int)s->kind != k) continue;
            labels(s, lab, sizeof lab);
            sb_printf(&b, "mlambda_%s_errors_total{%s} %llu\n", kinds[k], lab,
                      (unsigned long long)s->errors);
        }
        static const char *const phases[] = {"queue", "compute", "total"};
        for (int p = 0; p < 3; p++) {
            char metric[96];
            snprintf(metric, sizeof metric, "mlambda_%s_%s_latency_seconds", kinds[k], phases[p]);
            sb_printf(&b, "# HELP %s %s latency of inference requests.\n", metric, phases[p]);
            sb_printf(&b, "# TYPE %s histogram\n", metric);
            for (series *s = m->head; s; s = s->next) {
                if ((int)s->kind != k) continue;
                labels(s, lab, sizeof lab);
                emit_hist(&b, metric, lab, p == 0 ? &s->queue : p == 1 ? &s->compute : &s->total);
            }
        }
    }
    static const char *const bnames[] = {"batches", "batched_requests", "batched_rows"};
    static const char *const bhelp[] = {"Batched model runs (dynamic batching).",
                                        "Requests answered by a batched run.",
                                        "Rows (dimension 0) run in batches."};
    for (int k = 0; k < 3; k++) {
        sb_printf(&b, "# HELP mlambda_model_%s_total %s\n", bnames[k], bhelp[k]);
        sb_printf(&b, "# TYPE mlambda_model_%s_total counter\n", bnames[k]);
        for (series *s = m->head; s; s = s->next) {
            if (s->kind != ML_METRIC_MODEL || !s->batches) continue;
            uint64_t v = k == 0 ? s->batches : k == 1 ? s->batched_requests : s->batched_rows;
            sb_printf(&b, "mlambda_model_%s_total{model=\"%s\",version=\"%d\"} %llu\n", bnames[k],
                      s->name, s->version, (unsigned long long)v);
        }
    }
    sb_printf(&b, "# HELP mlambda_http_requests_total HTTP requests by status code.\n");
    sb_printf(&b, "# TYPE mlambda_http_requests_total counter\n");
    for (int i = 0; i < m->n_codes; i++)
        sb_printf(&b, "mlambda_http_requests_total{code=\"%d\"} %llu\n", m->codes[i].code,
                  (unsigned long long)m->codes[i].n);
    pthread_mutex_unlock(&m->mu);
    sb_printf(&b, "# HELP mlambda_loaded_models Model instances loaded in memory.\n");
    sb_printf(&b, "# TYPE mlambda_loaded_models gauge\n");
    sb_printf(&b, "mlambda_loaded_models %lld\n", (long long)loaded_models);
    return b.p;
}

static double percentile_raw(const hist *h, double q);
/* Percentile q (0..1) in ms, rounded to microseconds for readable JSON. */
static double percentile_ms(const hist *h, double q) {
    return (double)(long long)(percentile_raw(h, q) * 1000.0 + 0.5) / 1000.0;
}

/* Interpolates inside the bucket that holds the q-th observation. */
static double percentile_raw(const hist *h, double q) {
    uint64_t total = 0;
    for (size_t i = 0; i <= NB; i++) total += h->counts[i];
    if (!total) return 0;
    double rank = q * (double)total, cum = 0;
    for (size_t i = 0; i <= NB; i++) {
        if (cum + (double)h->counts[i] >= rank && h->counts[i]) {
            double lo = i ? bounds[i - 1] : 0, hi = i < NB ? bounds[i] : bounds[NB - 1] * 2;
            double frac = (rank - cum) / (double)h->counts[i];
            return (lo + (hi - lo) * frac) * 1000.0;
        }
        cum += (double)h->counts[i];
    }
    return bounds[NB - 1] * 1000.0;
}

json_t *ml_metrics_stats(ml_metrics *m) {
    json_t *models = json_array(), *apps = json_array();
    pthread_mutex_lock(&m->mu);
    for (series *s = m->head; s; s = s->next) {
        json_t *o = json_pack(
            "{s:s, s:I, s:I, s:f, s:f, s:f}", "name", s->name, "requests", (json_int_t)s->requests,
            "errors", (json_int_t)s->errors, "p50_ms", percentile_ms(&s->total, 0.5), "p95_ms",
            percentile_ms(&s->total, 0.95), "p99_ms", percentile_ms(&s->total, 0.99));
        if (!o) continue;
        if (s->kind == ML_METRIC_MODEL) {
            json_object_set_new(o, "version", json_integer(s->version));
            json_array_append_new(models, o);
        } else {
            json_array_append_new(apps, o);
        }
    }
    pthread_mutex_unlock(&m->mu);
    return json_pack("{s:o, s:o}", "models", models, "applications", apps);
}
