/* Shared by the level-2 fusion passes (graph_fuse*.c).
 *
 * Every pass follows one rule: a pattern is rewritten only when it matches
 * exactly (constant operands with the expected values, intermediates read by
 * nobody outside the pattern and not graph outputs, float constants); anything
 * else leaves the graph untouched. A rewrite turns the pattern's LAST node
 * (whose output is the pattern's result, so every input is already computed
 * by then in topological order) into the fused op and marks the other nodes
 * skip. */
#ifndef MLAMBDA_ONNX_GRAPH_FUSE_INTERNAL_H
#define MLAMBDA_ONNX_GRAPH_FUSE_INTERNAL_H

#include <stdbool.h>

#include "onnx/graph.h"

typedef struct fuse_ctx {
    ml_graph *g;
    size_t n_slots; /* slots that existed when the indexes were built */
    int *readers;   /* per slot: reads by live nodes (+1 per graph output listing) */
    int *producer;  /* per slot: index of the live node writing it, or -1 */
    int *reader;    /* per slot: index of one live node reading it, or -1 */
} fuse_ctx;

/* Builds the indexes for the graph's current state; false when out of memory
 * (fusions are optional: the caller then skips them). */
bool fuse_index(fuse_ctx *fc, ml_graph *g);
void fuse_index_free(fuse_ctx *fc);
/* Rebuilds the indexes after a rewrite; false when out of memory. */
bool fuse_reindex(fuse_ctx *fc);

/* The live node producing slot s (skipped nodes do not count), or NULL. */
ml_exec_node *fuse_producer(const fuse_ctx *fc, int s);
/* The only live node reading slot s, when s has exactly one reader and is no
 * graph output; else NULL. */
ml_exec_node *fuse_sole_reader(const fuse_ctx *fc, int s);
/* Readers of slot s (node inputs and graph outputs). */
int fuse_readers(const fuse_ctx *fc, int s);

/* A live ai.onnx node of the given op. */
bool fuse_is_op(const ml_exec_node *en, const char *op);
/* Float tensor held by constant slot s, or NULL. */
const ml_tensor *fuse_const_f32(const ml_graph *g, int s);
/* True when slot s is a constant float scalar (rank 0, so it cannot change
 * the rank of what it is combined with) close to want (relative 1e-5:
 * exporters spell sqrt(2) or 0.5 in slightly different ways). */
bool fuse_is_scalar(const ml_graph *g, int s, double want);
/* Input slot of a binary node that is not `other` (the node's inputs are
 * {other, result}); -1 when neither is. */
int fuse_other_input(const ml_exec_node *en, int other);

/* Adds a graph-owned constant slot named base\x01suffix holding t (takes t). */
ml_status fuse_add_const(ml_graph *g, const char *base, const char *suffix, ml_tensor *t,
                         int *slot);

/* Rewrites en in place as domain/op (opset version) with the given inputs,
 * outputs (-1 = omitted) and attributes (the array is copied into the arena;
 * payloads must outlive the model), named "<name> (fused <op>)", and binds
 * its kernel. When no kernel exists or its init refuses the node, en is put
 * back as it was and *fused is false: the caller must then leave the
 * pattern's other nodes alone. */
ml_status fuse_rewrite(ml_graph *g, ml_exec_node *en, const char *domain, const char *op, int opset,
                       size_t n_in, const int *in, size_t n_out, const int *out, size_t n_attrs,
                       const ml_attr *attrs, bool *fused);
/* Whether a kernel for domain/op at opset exists (passes check before
 * skipping any node). */
bool fuse_have_kernel(const char *domain, const char *op, int opset);

/* The passes (each returns OK when nothing matched). */
ml_status fuse_conv_bn(fuse_ctx *fc);
ml_status fuse_matmul_bias(fuse_ctx *fc);
ml_status fuse_conv_act(fuse_ctx *fc);
ml_status fuse_gemm_act(fuse_ctx *fc);
ml_status fuse_gelu(fuse_ctx *fc);
ml_status fuse_quick_gelu(fuse_ctx *fc);
ml_status fuse_layernorm(fuse_ctx *fc);
ml_status fuse_rms_norm(fuse_ctx *fc);
ml_status fuse_skip_layernorm(fuse_ctx *fc);
ml_status fuse_attention(fuse_ctx *fc);

#endif
