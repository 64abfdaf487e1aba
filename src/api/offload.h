/* Worker threads for requests too slow to answer on an event-loop thread.
 *
 * The HTTP server reads requests on a few epoll threads. A request whose
 * route is known to answer quickly is handled right there; anything else
 * (a slow or batched model, an upload being loaded, a route not yet
 * measured) is handed to these workers while libmicrohttpd keeps the
 * connection suspended, so one slow inference never stalls the other
 * connections of its event loop. Threads start on demand up to a maximum
 * and stay for reuse; jobs beyond the maximum wait in order. */
#ifndef MLAMBDA_API_OFFLOAD_H
#define MLAMBDA_API_OFFLOAD_H

#include <stddef.h>
#include <stdint.h>

#include "core/status.h"

typedef struct ml_offload ml_offload;

/* At most max_threads workers (>= 1). Caller owns *out (ml_offload_stop). */
ml_status ml_offload_start(size_t max_threads, ml_offload **out);
/* Runs fn(arg) on a worker. Fails only when out of memory or stopping;
 * the caller then runs the job itself. */
ml_status ml_offload_submit(ml_offload *o, void (*fn)(void *arg), void *arg);
/* Finishes every queued job, joins the workers and frees o. */
void ml_offload_stop(ml_offload *o);

/* ---- which routes answer quickly ---- */
/* A small table of recent handler times per route (method + path, hashed;
 * collisions only make a route look slower or faster for a while). */
typedef struct ml_route_costs ml_route_costs;
ml_status ml_route_costs_new(ml_route_costs **out);
void ml_route_costs_free(ml_route_costs *c);
/* True when this route's recent handler time is known and below limit_us. */
int ml_route_is_fast(const ml_route_costs *c, const char *method, const char *url,
                     uint32_t limit_us);
/* Records one handler time (an exponential moving average per route). */
void ml_route_cost_add(ml_route_costs *c, const char *method, const char *url, uint64_t ns);

#endif
