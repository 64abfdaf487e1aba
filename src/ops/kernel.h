/* The contract between the ONNX engine (src/onnx) and operator kernels
 * (src/ops). Kernels see nodes, attributes and values only through this
 * header, never protobuf or executor internals, so they can be unit-tested
 * by building an ml_node and ml_kernel_ctx by hand (see tests/ops_harness.h).
 *
 * Lifetimes:
 *  - ml_node and its attributes belong to the loaded model and are read-only
 *    while the model runs; kernel->init may build per-node state (parsed
 *    attributes, pre-packed weights) which must also be read-only during run,
 *    because one model serves many concurrent requests.
 *  - Inputs are borrowed for the duration of run. Outputs are created through
 *    ml_output_tensor()/ml_set_output() and then belong to the executor. */
#ifndef MLAMBDA_OPS_KERNEL_H
#define MLAMBDA_OPS_KERNEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/status.h"
#include "core/tensor.h"
#include "core/threadpool.h"
#include "core/value.h"

typedef struct ml_graph ml_graph; /* a (sub)graph, opaque to kernels */

typedef enum ml_attr_type {
    ML_ATTR_UNDEFINED = 0,
    ML_ATTR_FLOAT = 1,
    ML_ATTR_INT = 2,
    ML_ATTR_STRING = 3,
    ML_ATTR_TENSOR = 4,
    ML_ATTR_GRAPH = 5,
    ML_ATTR_FLOATS = 6,
    ML_ATTR_INTS = 7,
    ML_ATTR_STRINGS = 8,
    ML_ATTR_TENSORS = 9,
    ML_ATTR_GRAPHS = 10,
    ML_ATTR_SPARSE_TENSOR = 11,
    ML_ATTR_SPARSE_TENSORS = 12,
    ML_ATTR_TYPE_PROTO = 13,
    ML_ATTR_TYPE_PROTOS = 14,
} ml_attr_type; /* numbering follows onnx.proto AttributeProto.AttributeType */

typedef struct ml_attr {
    const char *name;
    ml_attr_type type;
    float f;
    int64_t i;
    ml_str s;     /* STRING (bytes; NUL-terminated) */
    ml_tensor *t; /* TENSOR (sparse tensors are densified by the loader) */
    ml_graph *g;  /* GRAPH */
    size_t n;     /* element count of the list forms below */
    float *floats;
    int64_t *ints;
    ml_str *strings;
    ml_tensor **tensors;
    ml_graph **graphs;
} ml_attr;

typedef struct ml_kernel ml_kernel;

typedef struct ml_node {
    const char *name; /* may be "" */
    const char *op_type;
    const char *domain; /* "" for the default ai.onnx domain */
    int opset;          /* the model's opset version for this node's domain */
    size_t n_inputs;
    const char **input_names; /* "" marks an omitted optional input */
    size_t n_outputs;
    const char **output_names; /* "" marks an omitted optional output */
    size_t n_attrs;
    ml_attr *attrs;
    /* const_inputs[i] is the value of input i when it is an initializer or a
     * folded constant (known at load time), else NULL. Lets init pre-pack. */
    const ml_tensor **const_inputs;
    const ml_kernel *kernel;
    void *state; /* from kernel->init; freed by kernel->destroy */
} ml_node;

typedef struct ml_kernel_ctx ml_kernel_ctx;

/* Services the executor provides to a running kernel. */
typedef struct ml_kernel_env {
    /* Creates output tensor i; the executor may hand out recycled memory, so
     * the contents are unspecified (not zeroed) for non-string dtypes. */
    ml_status (*alloc_output)(ml_kernel_ctx *ctx, size_t i, ml_dtype dtype, int rank,
                              const int64_t *dims, ml_tensor **out);
    /* Runs a subgraph (If/Loop/Scan bodies) with the given inputs, bound in
     * order to the subgraph's formal inputs. Outer-scope names resolve to the
     * values visible at this node. outputs[i] receive new values owned by the
     * caller (the kernel), in the order of the subgraph's outputs. */
    ml_status (*run_subgraph)(ml_kernel_ctx *ctx, const ml_graph *g, size_t n_in,
                              ml_value *const *inputs, size_t n_out, ml_value **outputs);
} ml_kernel_env;

struct ml_kernel_ctx {
    const ml_node *node;
    size_t n_inputs;
    ml_value *const *inputs; /* inputs[i] is NULL when the optional input is omitted */
    size_t n_outputs;
    ml_value **outputs;  /* filled by the kernel through the helpers below */
    ml_threadpool *pool; /* intra-op parallelism; may be NULL */
    const ml_kernel_env *env;
    void *exec; /* executor-private */
};

/* A kernel for one op over a range of opset versions. */
struct ml_kernel {
    const char *domain; /* "" (ai.onnx), "ai.onnx.ml", "com.microsoft", ... */
    const char *op_type;
    int since_version; /* first opset version handled */
    int until_version; /* last opset version handled; 0 = no upper bound */
    /* Optional: validates attributes at load time and builds node state. */
    ml_status (*init)(const ml_node *node, void **state);
    void (*destroy)(void *state);
    ml_status (*run)(ml_kernel_ctx *ctx);
};

/* ---- attribute access (missing attribute -> default) ---- */
const ml_attr *ml_node_attr(const ml_node *node, const char *name);
int64_t ml_attr_int(const ml_node *node, const char *name, int64_t dflt);
float ml_attr_float(const ml_node *node, const char *name, float dflt);
/* NUL-terminated string attribute, or dflt. */
const char *ml_attr_string(const ml_node *node, const char *name, const char *dflt);
/* List attributes: returns the count and sets *out (NULL and 0 when missing). */
size_t ml_attr_ints(const ml_node *node, const char *name, const int64_t **out);
size_t ml_attr_floats(const ml_node *node, const char *name, const float **out);
size_t ml_attr_strings(const ml_node *node, const char *name, const ml_str **out);
const ml_tensor *ml_attr_tensor(const ml_node *node, const char *name);
const ml_graph *ml_attr_graph(const ml_node *node, const char *name);

/* ---- inputs ---- */
/* Tensor of input i, or NULL when omitted (or i is past the end). */
const ml_tensor *ml_input(const ml_kernel_ctx *ctx, size_t i);
/* Value of input i (any kind), or NULL when omitted. */
const ml_value *ml_input_value(const ml_kernel_ctx *ctx, size_t i);
/* Like ml_input but fails with a clear message when the input is missing or
 * not a tensor. */
ml_status ml_require_input(const ml_kernel_ctx *ctx, size_t i, const ml_tensor **out);

/* ---- outputs ---- */
/* Allocates output i (skipped cheaply when the output is unused is not
 * assumed: always call it for produced outputs). */
ml_status ml_output_tensor(ml_kernel_ctx *ctx, size_t i, ml_dtype dtype, int rank,
                           const int64_t *dims, ml_tensor **out);
/* Output i shares storage with src under a new shape (Reshape, Squeeze...). */
ml_status ml_output_view(ml_kernel_ctx *ctx, size_t i, const ml_tensor *src, int rank,
                         const int64_t *dims);
/* Output i becomes v (ownership passes to the executor; v freed on failure). */
ml_status ml_set_output(ml_kernel_ctx *ctx, size_t i, ml_value *v);
/* True when output i exists and is named (consumers may use it). */
bool ml_output_wanted(const ml_kernel_ctx *ctx, size_t i);

/* ---- helpers shared by kernels ---- */
/* Normalises a possibly negative axis against rank; fails when out of range. */
ml_status ml_normalize_axis(const ml_node *node, int64_t axis, int rank, int *out);
/* Error prefixed with the node's op and name, for consistent messages. */
ml_status ml_node_error(const ml_node *node, ml_code code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- running another op from inside a kernel ---- */
/* Runs the kernel of op_type (domain "", at opset) on borrowed input values
 * (in[i] NULL = omitted) as part of ctx's run: its allocations go through
 * ctx's executor, under the same per-tensor limit, and errors name ctx's
 * node. For fused kernels whose fast path does not cover some valid shapes:
 * they fall back to the exact sequence of standard ops. *out receives output
 * 0, owned by the caller (ml_value_free). */
ml_status ml_run_op(const ml_kernel_ctx *ctx, const char *op_type, int opset, size_t n_attrs,
                    const ml_attr *attrs, size_t n_in, ml_value *const *in, ml_value **out);

/* ---- registry ---- */
/* Finds the kernel for (domain, op_type) at the given opset, or NULL. */
const ml_kernel *ml_find_kernel(const char *domain, const char *op_type, int opset);
/* Calls fn for every registered kernel (for docs and coverage reports). */
void ml_for_each_kernel(void (*fn)(const ml_kernel *k, void *arg), void *arg);

#endif
