/* The engine's public API: load an ONNX model once, run it many times.
 *
 * A session is immutable after loading; ml_session_run may be called from
 * many threads at once (each run has its own values and scratch memory). */
#ifndef MLAMBDA_ONNX_SESSION_H
#define MLAMBDA_ONNX_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/status.h"
#include "core/threadpool.h"
#include "core/value.h"

typedef struct ml_session ml_session;

typedef struct ml_session_options {
    /* Intra-op parallelism. When pool is NULL the session creates its own
     * with n_threads (0 = number of CPUs). A shared pool is borrowed and must
     * outlive the session. */
    ml_threadpool *pool;
    size_t n_threads;
    /* 0 = no graph optimisation, 1 = basic (constant folding, dead nodes),
     * 2 = all (fusions). Default 2. */
    int optimization_level;
    /* Upper bound on the model file size, on any one tensor in it, and on
     * any one tensor a run creates (hostile inputs sizing a Range or
     * ConstantOfShape get RESOURCE_EXHAUSTED instead of gigabytes);
     * 0 picks the default, 2 GiB. */
    uint64_t max_model_bytes;
} ml_session_options;

/* Defaults for every field (call before changing a few). */
void ml_session_options_init(ml_session_options *opts);

/* Metadata of a graph input or output. */
typedef struct ml_io_info {
    const char *name;
    ml_value_kind kind;                 /* TENSOR for most models; SEQUENCE/MAP for some ml ops */
    ml_dtype dtype;                     /* element type: of the tensor, of a sequence's tensors,
                                           of a map's values (also in a sequence of maps) */
    ml_value_kind elem_kind;            /* SEQUENCE: kind of its items (TENSOR or MAP) */
    ml_dtype key_dtype;                 /* MAP, or SEQUENCE of maps: the key type */
    int rank;                           /* -1 when the rank is unknown */
    int64_t dims[ML_MAX_RANK];          /* -1 for a dynamic dimension */
    const char *dim_names[ML_MAX_RANK]; /* symbolic dim names ("batch") or NULL */
} ml_io_info;

/* Loads a model file; external data files resolve relative to its folder.
 * Caller owns *out and frees it with ml_session_free. */
ml_status ml_session_load_file(const char *path, const ml_session_options *opts, ml_session **out);
/* Loads from memory (copied as needed; bytes may be freed afterwards).
 * base_dir resolves external data (NULL forbids external data). */
ml_status ml_session_load_bytes(const void *bytes, size_t len, const char *base_dir,
                                const ml_session_options *opts, ml_session **out);
void ml_session_free(ml_session *s);

size_t ml_session_input_count(const ml_session *s);
size_t ml_session_output_count(const ml_session *s);
/* Borrowed; valid for the session's lifetime. Only inputs that are not also
 * initializers are listed. */
const ml_io_info *ml_session_input(const ml_session *s, size_t i);
const ml_io_info *ml_session_output(const ml_session *s, size_t i);

/* True when input/output i is declared optional(...): an input may then be
 * omitted or bound to a NONE value, an output may come back as NONE. */
bool ml_session_input_is_optional(const ml_session *s, size_t i);
bool ml_session_output_is_optional(const ml_session *s, size_t i);
/* True when any node the model runs (subgraphs included; folded and fused
 * nodes not counted) has this op_type. */
bool ml_session_uses_op(const ml_session *s, const char *op_type);

/* Runs the model. inputs[i] is bound to the graph input named in_names[i]
 * (borrowed: not modified, not freed). out_names selects outputs (NULL with
 * n_out == output count means all, in graph order). outputs[i] receive new
 * values owned by the caller (free with ml_value_free), whose storage is
 * shared with nothing else, so the caller may write into them. Inputs are
 * checked for kind and dtype (declared shapes are not enforced; kernels check
 * the shapes they get). On failure no output is returned. Thread-safe. */
ml_status ml_session_run(ml_session *s, size_t n_in, const char *const *in_names,
                         ml_value *const *inputs, size_t n_out, const char *const *out_names,
                         ml_value **outputs);

/* Per-run limits for ml_session_run_with. */
typedef struct ml_run_options {
    /* Absolute deadline on the ml_now_ns() clock (core/clock.h); 0 = none.
     * Checked before every node (Loop/Scan bodies included), so a run stops
     * with ML_ERR_DEADLINE within one node's time after it passes. */
    uint64_t deadline_ns;
    /* When set and it becomes non-zero (e.g. the client went away), the run
     * stops with ML_ERR_UNAVAILABLE at the next node. */
    const volatile int *cancel;
    /* Run every op on the calling thread, without the session's intra-op
     * pool: when other runs already keep the cores busy, splitting ops only
     * adds hand-offs (the serving runtime sets it under concurrent load). */
    bool serial;
} ml_run_options;

/* ml_session_run with limits; run_opts may be NULL (= ml_session_run). */
ml_status ml_session_run_with(ml_session *s, const ml_run_options *run_opts, size_t n_in,
                              const char *const *in_names, ml_value *const *inputs, size_t n_out,
                              const char *const *out_names, ml_value **outputs);

#endif
