/* Engine-internal graph structures (never seen by kernels, which only get
 * ml_node through ops/kernel.h).
 *
 * A graph is a table of value slots plus nodes in topological order. Every
 * name a graph mentions gets one slot: a graph input, a constant (initializer,
 * Constant node or folded node), a node output, or an OUTER reference to a
 * value of the enclosing graph (If/Loop/Scan bodies read outer-scope values by
 * name; the loader resolves each such name once, to a slot of the parent).
 *
 * Everything here is built by the loader and immutable afterwards, so any
 * number of runs may share it. Strings and small arrays live in the model's
 * arena; tensors and values are freed with the model. */
#ifndef MLAMBDA_ONNX_GRAPH_H
#define MLAMBDA_ONNX_GRAPH_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/arena.h"
#include "onnx/session.h"
#include "ops/kernel.h"

typedef enum ml_slot_kind {
    ML_SLOT_INPUT = 0, /* formal input of this graph, bound per run */
    ML_SLOT_CONST,     /* value known at load time (owned by the graph) */
    ML_SLOT_NODE,      /* produced by a node at run time */
    ML_SLOT_OUTER,     /* a value of the parent graph (subgraphs only) */
} ml_slot_kind;

typedef struct ml_slot {
    const char *name;
    ml_slot_kind kind;
    ml_value *value; /* CONST: the value (owned) */
    int producer;    /* NODE: index into graph->nodes (after sorting) */
    int parent_slot; /* OUTER: slot index in graph->parent */
    int uses;        /* node inputs (explicit and implicit) reading the slot */
    bool is_output;  /* a graph output: kept until the end of the run */
} ml_slot;

typedef struct ml_exec_node {
    ml_node node;      /* the kernel's view */
    int *in_slots;     /* node.n_inputs entries, -1 for omitted */
    int *out_slots;    /* node.n_outputs entries, -1 for omitted */
    size_t n_implicit; /* outer values read by this node's subgraphs */
    int *implicit_slots;
    bool skip;      /* folded into constants or dead */
    bool has_state; /* kernel->init ran and node.state must be destroyed */
    /* a pure copy op (Transpose, Slice) whose kernel splits work over the
     * pool from 16 KiB on: the executor runs it inline below ML_EXEC_INLINE_BYTES */
    bool copy_op;
} ml_exec_node;

typedef struct ml_model ml_model;

struct ml_graph {
    ml_model *model;
    ml_graph *parent; /* NULL for the main graph */
    const char *name;
    size_t n_slots, cap_slots;
    ml_slot *slots;
    /* name -> slot index (open addressing, power-of-two size) */
    size_t map_size;
    int *map;
    size_t n_nodes;
    ml_exec_node *nodes; /* topological order */
    size_t n_inputs;     /* formal inputs that are not initializers */
    int *input_slots;
    ml_io_info *input_info;
    bool *input_optional; /* declared with an optional type */
    size_t n_outputs;
    int *output_slots;
    ml_io_info *output_info;
    bool *output_optional;
    size_t n_outer; /* OUTER slots of this graph */
    int *outer_slots;
    /* Subgraphs of nodes inlined from a function body see the body's names;
     * this maps such a name to the enclosing graph's name (NULL = same). */
    const char *(*outer_name)(const void *ctx, const char *name);
    const void *outer_name_ctx;
};

typedef struct ml_opset {
    const char *domain;
    int version;
} ml_opset;

struct ml_model {
    ml_arena arena; /* names, arrays, attribute payloads */
    ml_graph *main;
    size_t n_graphs, cap_graphs;
    ml_graph **graphs; /* every graph incl. main, for freeing */
    size_t n_tensors, cap_tensors;
    ml_tensor **tensors; /* attribute tensors, for freeing */
    size_t n_opsets;
    ml_opset *opsets;
    int optimization_level;
    uint64_t max_tensor_bytes;
    int64_t ir_version;
};

/* ---- graph.c ---- */
ml_status ml_graph_new(ml_model *m, ml_graph *parent, const char *name, ml_graph **out);
/* Slot of a name defined in g itself, or -1. */
int ml_graph_find(const ml_graph *g, const char *name);
/* Adds a slot; fails if the name is already defined in g. */
ml_status ml_graph_add_slot(ml_graph *g, const char *name, ml_slot_kind kind, int *out);
/* Slot for name as seen from g: local, or (for subgraphs) an OUTER slot
 * resolved through the parents. -1 when no enclosing graph defines it. */
int ml_graph_resolve(ml_graph *g, const char *name);
/* After slots and nodes are set: sorts nodes, resolves kernels, calls init,
 * folds constants and drops dead nodes (per model->optimization_level) and
 * computes use counts. */
ml_status ml_graph_finalize(ml_graph *g);
void ml_graph_free(ml_graph *g);
/* graph_fuse*.c: level-2 rewrites (Conv + BatchNormalization, Gelu, Add +
 * LayerNormalization ...) on a sorted, bound and constant-folded graph; every
 * node a rewrite changes is re-bound (ml_graph_rebind) before it returns. */
ml_status ml_graph_fuse(ml_graph *g);
/* Drops en's kernel state and binds it again (after a fusion changed its op,
 * inputs or constants). */
ml_status ml_graph_rebind(ml_graph *g, ml_exec_node *en);
/* Frees en's kernel state with its current kernel (before a fusion gives
 * the node another kernel). */
void ml_graph_unbind(ml_exec_node *en);
/* Model-wide opset of a domain ("" and "ai.onnx" are the same); 0 if absent. */
int ml_model_opset(const ml_model *m, const char *domain);
void ml_model_free(ml_model *m);

/* ---- executor.c ---- */
/* Copy ops with less input than this run on the calling thread: a pool
 * hand-off costs more than copying 64 KiB (measured 16x slower Transposes of
 * 32 KiB on a busy 2-core machine). */
#define ML_EXEC_INLINE_BYTES ((size_t)64 << 10)
#define ML_STASH_MAX 32
/* Dead tensors kept between runs of one session so repeated runs reuse
 * buffers instead of allocating (and page-faulting) them again. */
typedef struct ml_buffer_stash {
    pthread_mutex_t mu;
    size_t n;
    ml_tensor *items[ML_STASH_MAX]; /* owned, unique storage, non-string */
} ml_buffer_stash;

void ml_stash_init(ml_buffer_stash *stash);
void ml_stash_destroy(ml_buffer_stash *stash);

/* Runs the main graph g. inputs[i] binds g's i-th formal input (borrowed;
 * NULL = absent). outputs[i] receive new values owned by the caller. stash
 * and limits may be NULL. */
ml_status ml_exec_graph(const ml_graph *g, ml_buffer_stash *stash, ml_threadpool *pool,
                        const ml_run_options *limits, size_t n_in, ml_value *const *inputs,
                        size_t n_out, ml_value **outputs);
/* Runs one node on constant inputs at load time (constant folding); outputs
 * has node.n_outputs entries, filled with owned values. */
ml_status ml_exec_fold_node(const ml_graph *g, const ml_exec_node *n, ml_value **outputs);
/* Copies every tensor of v that borrows storage or shares it with anything
 * else (caller inputs, model constants), so the caller may even write into
 * what it gets back. */
ml_status ml_value_make_owned(ml_value *v);

/* ---- proto_depth.c ---- */
/* Rejects a serialized ModelProto whose recursive messages (graphs, nodes,
 * attributes, types) nest deeper than max_depth, before protobuf-c recurses. */
ml_status ml_onnx_check_nesting(const void *bytes, size_t len, int max_depth);

/* ---- loader.c ---- */
/* Loads a serialized ModelProto. owned_bytes is NULL, or the malloc'd block
 * holding bytes, which the loader frees as soon as it has been parsed (on
 * success and failure alike) to keep peak memory down. */
ml_status ml_model_load(const void *bytes, size_t len, void *owned_bytes, const char *base_dir,
                        const ml_session_options *opts, ml_model **out);

#endif
