/* Request metrics per model version and per application: counts, errors and
 * latency histograms (queue, compute, total). Rendered as Prometheus text
 * and summarised (percentiles) for /api/v2/stats. Thread-safe. */
#ifndef MLAMBDA_SERVING_METRICS_H
#define MLAMBDA_SERVING_METRICS_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/status.h"

typedef struct ml_metrics ml_metrics;

typedef enum ml_metric_kind { ML_METRIC_MODEL, ML_METRIC_APP } ml_metric_kind;

/* Latencies of one request, in nanoseconds. */
typedef struct ml_latency {
    uint64_t queue_ns, compute_ns, total_ns;
} ml_latency;

ml_metrics *ml_metrics_create(void);
void ml_metrics_free(ml_metrics *m);

/* version is ignored for applications. */
void ml_metrics_record(ml_metrics *m, ml_metric_kind kind, const char *name, int version,
                       const ml_latency *lat, bool error);
/* One batched run of `requests` requests (`rows` rows) of a model version. */
void ml_metrics_batch(ml_metrics *m, const char *name, int version, int requests, int64_t rows);
/* One HTTP request answered with status code (for mlambda_http_requests_total). */
void ml_metrics_http(ml_metrics *m, int code);

/* Appends Prometheus text exposition to *buf (malloc'd, caller frees).
 * loaded_models is exported as a gauge. */
char *ml_metrics_prometheus(ml_metrics *m, int64_t loaded_models);
/* {"models": [...], "applications": [...]} per docs/api.md /api/v2/stats. */
json_t *ml_metrics_stats(ml_metrics *m);

#endif
