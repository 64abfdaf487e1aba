/* The registry store: models, model versions, applications and an audit
 * log, behind one interface with two back ends (SQLite file, PostgreSQL).
 * Schema migrations are versioned in code (migrations.c) and applied on open.
 *
 * Thread-safe: every call takes the store's mutex (one connection).
 * Records returned by get/list calls are owned by the caller and released
 * with the matching *_clear / *_free_list function. Times are Unix seconds. */
#ifndef MLAMBDA_REGISTRY_STORE_H
#define MLAMBDA_REGISTRY_STORE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "core/status.h"
#include "registry/spec.h"

typedef struct ml_store ml_store;

typedef struct ml_model_rec {
    char *name;
    char *description;
    json_t *labels;     /* object of strings */
    int latest_version; /* 0 when the model has no versions left */
    int64_t created_at, updated_at;
} ml_model_rec;

typedef struct ml_version_rec {
    char *name;
    int version;
    char *status; /* "ready" */
    int64_t created_at;
    char *runtime;
    char *digest; /* "sha256:<hex>" */
    int64_t size_bytes;
    char *model_file; /* path of the ONNX file inside the extracted folder */
    json_t *contract;
    json_t *metadata;
    json_t *options; /* serving options, e.g. {"batching": {...}}; may be NULL on input */
} ml_version_rec;

typedef struct ml_app_rec {
    char *name;
    json_t *stages; /* normalised: [{"variants": [{"model","weight"}]}] */
    json_t *contract;
    int64_t created_at, updated_at;
} ml_app_rec;

typedef struct ml_audit_rec {
    int64_t time;
    char *action, *subject, *detail;
} ml_audit_rec;

/* location: "postgres://..." / "postgresql://..." for PostgreSQL, otherwise
 * the path of an SQLite file. Applies pending migrations. Caller owns *out. */
ml_status ml_store_open(const char *location, ml_store **out);
void ml_store_close(ml_store *s);
/* Schema version after migrations (for tests and `serve` logs). */
int ml_store_schema_version(ml_store *s);
const char *ml_store_backend(const ml_store *s); /* "sqlite" or "postgres" */

/* Adds the next version of model v->name (creating the model when new) and
 * writes v->version and v->created_at. description/labels (may be NULL)
 * update the model when given. */
ml_status ml_store_add_version(ml_store *s, const char *description, const json_t *labels,
                               ml_version_rec *v);
ml_status ml_store_list_models(ml_store *s, ml_model_rec **out, size_t *n);
ml_status ml_store_get_model(ml_store *s, const char *name, ml_model_rec *out);
ml_status ml_store_list_versions(ml_store *s, const char *name, ml_version_rec **out, size_t *n);
/* version 0 = latest. */
ml_status ml_store_get_version(ml_store *s, const char *name, int version, ml_version_rec *out);
/* CONFLICT when an application uses it. version 0 = all versions and the model. */
ml_status ml_store_delete_version(ml_store *s, const char *name, int version);
/* Every digest referenced by a version row (for artifact garbage collection).
 * Caller frees each string and the array. */
ml_status ml_store_list_digests(ml_store *s, char ***out, size_t *n);

/* Writes an application and its model references. create_only: ALREADY_EXISTS
 * when it exists. The created_at of a replaced application is kept. */
ml_status ml_store_put_app(ml_store *s, const ml_app_spec *spec, const json_t *contract,
                           bool create_only, ml_app_rec *out);
ml_status ml_store_list_apps(ml_store *s, ml_app_rec **out, size_t *n);
ml_status ml_store_get_app(ml_store *s, const char *name, ml_app_rec *out);
ml_status ml_store_delete_app(ml_store *s, const char *name);

ml_status ml_store_audit(ml_store *s, const char *action, const char *subject, const char *detail);
ml_status ml_store_list_audit(ml_store *s, int limit, ml_audit_rec **out, size_t *n);

void ml_model_rec_clear(ml_model_rec *r);
void ml_version_rec_clear(ml_version_rec *r);
void ml_app_rec_clear(ml_app_rec *r);
void ml_model_rec_free_list(ml_model_rec *r, size_t n);
void ml_version_rec_free_list(ml_version_rec *r, size_t n);
void ml_app_rec_free_list(ml_app_rec *r, size_t n);
void ml_audit_rec_free_list(ml_audit_rec *r, size_t n);

#endif
