/* The serving runtime: runs requests against model versions and
 * applications (pipelines of stages, each picking a variant by weight),
 * validating inputs against the contract and recording metrics.
 *
 * Applications are compiled (their instances acquired) once and swapped
 * atomically on update: a request holds a reference to the compiled
 * application it started with, so a hot swap never fails it. */
#ifndef MLAMBDA_SERVING_RUNTIME_H
#define MLAMBDA_SERVING_RUNTIME_H

#include <stdint.h>

#include "core/status.h"
#include "core/tensor.h"
#include "registry/registry.h"
#include "serving/cache.h"
#include "serving/metrics.h"

/* Named tensors. A list owns its names and tensors; free with
 * ml_tensor_list_clear. */
typedef struct ml_tensor_list {
    size_t n, cap;
    char **names;
    ml_tensor **tensors;
} ml_tensor_list;

/* Appends (takes ownership of t, freeing it on failure). */
ml_status ml_tensor_list_add(ml_tensor_list *l, const char *name, ml_tensor *t);
/* Tensor by name or NULL (borrowed). */
ml_tensor *ml_tensor_list_get(const ml_tensor_list *l, const char *name);
void ml_tensor_list_clear(ml_tensor_list *l);

typedef struct ml_runtime_options {
    uint64_t seed;    /* variant selection RNG; 0 picks one from the clock */
    size_t n_threads; /* intra-op pool; 0 = number of CPUs */
} ml_runtime_options;

typedef struct ml_runtime {
    ml_registry *reg; /* borrowed */
    ml_cache *cache;
    ml_metrics *metrics;
    ml_threadpool *pool;
    struct ml_app_table *apps;
} ml_runtime;

ml_status ml_runtime_create(ml_registry *reg, const ml_runtime_options *opts, ml_runtime **out);
void ml_runtime_free(ml_runtime *rt);

/* Request timing: set arrived_ns when the request arrived (0 = now).
 * deadline_ns (ml_now_ns() clock, 0 = none): past it, a request still queued
 * is not run and a running one stops at the next node, with ML_ERR_DEADLINE. */
typedef struct ml_infer_ctx {
    uint64_t arrived_ns;
    const char *const *outputs; /* requested output names (NULL = all) */
    size_t n_outputs;
    uint64_t deadline_ns;
} ml_infer_ctx;

/* Runs model name:version (0 = latest). *version_out (may be NULL) gets the
 * version that ran. out receives the outputs (caller clears). */
ml_status ml_runtime_infer_model(ml_runtime *rt, const char *name, int version,
                                 const ml_tensor_list *in, const ml_infer_ctx *ctx,
                                 ml_tensor_list *out, int *version_out);
ml_status ml_runtime_infer_app(ml_runtime *rt, const char *app, const ml_tensor_list *in,
                               const ml_infer_ctx *ctx, ml_tensor_list *out);

/* The contract an application/model request is checked against (caller
 * frees). NOT_FOUND when there is no such application. */
ml_status ml_runtime_app_contract(ml_runtime *rt, const char *app, ml_contract **out);

/* Contract of model name:version (0 = latest), loading it if needed;
 * *resolved receives the version number. Caller frees *out. */
ml_status ml_runtime_model_contract(ml_runtime *rt, const char *name, int version,
                                    ml_contract **out, int *resolved);

/* Creates or replaces (hot swap) an application. Validates it against the
 * registry, persists it and publishes the compiled form. out may be NULL. */
ml_status ml_runtime_put_app(ml_runtime *rt, ml_app_spec *spec, bool create_only, ml_app_rec *out);
ml_status ml_runtime_delete_app(ml_runtime *rt, const char *name);
/* Deletes a model version (0: whole model) and evicts its instances. */
ml_status ml_runtime_delete_model(ml_runtime *rt, const char *name, int version);

/* Validates a request against a contract: every input present and known,
 * dtype and shape matching. */
ml_status ml_check_inputs(const ml_contract *c, const ml_tensor_list *in);

/* Requests the API layers are handling right now (from arrival to answer,
 * decoding included). While more than one is, each model run keeps to its
 * own thread (see ml_instance_run): the cores are busy with requests, and
 * splitting ops across them would only add hand-offs. The HTTP and gRPC
 * servers call these around every request. */
void ml_load_enter(void);
void ml_load_leave(void);
/* Model runs on the calling thread keep to it while on is set: the HTTP
 * server's event loops are one per core already, so the quick requests
 * they answer themselves never split ops across the other loops' cores. */
void ml_serial_runs_on_this_thread(bool on);

#endif
