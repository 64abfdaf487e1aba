/* Loader internals shared by loader.c (graphs, attributes, constants) and
 * loader_nodes.c (node collection with model-local function inlining). */
#ifndef MLAMBDA_ONNX_LOADER_INTERNAL_H
#define MLAMBDA_ONNX_LOADER_INTERNAL_H

#include <stdlib.h>
#include <string.h>

#include "onnx.pb-c.h"
#include "onnx/graph.h"
#include "onnx/proto_tensor.h"

#define MAX_GRAPH_DEPTH 32
#define MAX_FUNCTION_DEPTH 16

static inline const char *nz(const char *s) {
    return s ? s : "";
}

typedef struct raw_attr {
    const char *name; /* may differ from a->name for ref_attr_name substitutions */
    const Onnx__AttributeProto *a;
} raw_attr;

/* One inlined call of a model-local function: how the body's value names
 * map to names of the graph the call sits in. Lives in the model arena. */
typedef struct fn_scope {
    ml_model *m;
    const Onnx__FunctionProto *f;
    size_t n_in, n_out;
    const char **in, **out; /* the call's actual input/output names */
    const char *prefix;     /* unique prefix for the body's internal names */
} fn_scope;

typedef struct raw_node {
    const char *name, *op_type, *domain;
    int opset;
    size_t n_in, n_out, n_attr;
    const char **in, **out;
    raw_attr *attrs;
    const fn_scope *scope; /* set for nodes of an inlined function body */
} raw_node;

typedef struct raw_list {
    size_t n, cap;
    raw_node *items;
} raw_list;

typedef struct load_ctx {
    ml_model *m;
    const Onnx__ModelProto *mp;
    ml_tensor_source src;
    unsigned fn_counter; /* makes inlined names unique */
    /* function attribute defaults decoded on demand; freed after loading */
    size_t n_defaults;
    Onnx__AttributeProto **defaults;
} load_ctx;

static inline ml_status oom(const char *what) {
    return ml_error(ML_ERR_OUT_OF_MEMORY, "out of memory while loading the model (%s)", what);
}

static inline void *arena_array(ml_model *m, size_t n, size_t size) {
    if (n && size > SIZE_MAX / n) return NULL;
    return ml_arena_alloc(&m->arena, n ? n * size : 1, 0);
}

static inline const char *arena_str(ml_model *m, const char *s) {
    s = nz(s);
    return ml_arena_strndup(&m->arena, s, strlen(s));
}

/* The name a function-body name has in the calling graph (arena string; NULL
 * when out of memory). Also used for outer-scope names read by subgraphs of
 * body nodes. */
const char *ml_fn_scope_rename(const void *scope, const char *name);

/* Flattens gp's nodes into out (caller frees out->items), inlining calls of
 * model-local functions. */
ml_status ml_load_collect_nodes(load_ctx *lc, const Onnx__GraphProto *gp, raw_list *out);

#endif
