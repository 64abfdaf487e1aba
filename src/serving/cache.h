/* Loaded model instances, cached and shared by every request and every
 * application that uses the same model version. Instances are reference
 * counted: evicting one (its version was deleted) frees it only when the
 * last in-flight request releases it. Thread-safe. */
#ifndef MLAMBDA_SERVING_CACHE_H
#define MLAMBDA_SERVING_CACHE_H

#include <stddef.h>

#include "core/status.h"
#include "onnx/session.h"
#include "registry/contract.h"
#include "registry/registry.h"
#include "serving/metrics.h"

typedef struct ml_batcher ml_batcher;

typedef struct ml_instance {
    char name[ML_NAME_MAX + 1];
    int version;
    ml_session *session;
    ml_contract *contract; /* the version's contract (requests are checked against it) */
    ml_batcher *batcher;   /* dynamic batching (serving.yaml `batching:`) or NULL */
} ml_instance;

typedef struct ml_cache ml_cache;

/* pool (borrowed, may be NULL) is shared by every session for intra-op work. */
ml_status ml_cache_create(ml_registry *reg, ml_threadpool *pool, ml_cache **out);
/* Where batchers report batch counts (borrowed; may stay NULL). */
void ml_cache_set_metrics(ml_cache *c, ml_metrics *m);
void ml_cache_free(ml_cache *c);

/* Returns a counted reference to name:version (0 = latest), loading it on
 * first use. Release it with ml_cache_release. */
ml_status ml_cache_acquire(ml_cache *c, const char *name, int version, ml_instance **out);
void ml_cache_acquire_ref(ml_cache *c, ml_instance *inst); /* another reference */
void ml_cache_release(ml_cache *c, ml_instance *inst);
/* Drops name:version (0 = every version) from the cache. */
void ml_cache_evict(ml_cache *c, const char *name, int version);
size_t ml_cache_loaded(ml_cache *c);
/* The latest version of a model as last seen (0 when unknown or stale).
 * "Latest" lookups are remembered for a second so hot paths skip the
 * database; ml_cache_invalidate forgets a name at once (upload, delete). */
int ml_cache_latest(ml_cache *c, const char *name);
void ml_cache_invalidate(ml_cache *c, const char *name);
/* True when name:version is loaded (for .../ready). */
int ml_cache_is_loaded(ml_cache *c, const char *name, int version);

#endif
