/* Runs a finalised graph. Each run (and each subgraph invocation) gets a
 * frame: a value per slot plus remaining-use counters, so concurrent runs
 * share only the immutable graph. A value is released right after its last
 * consumer; released tensors go to a small per-run free list that
 * alloc_output recycles when the byte size matches. */
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "onnx/executor_internal.h"
#include "onnx/graph.h"

#define FREE_LIST_MAX ML_STASH_MAX

typedef struct run_state {
    ml_threadpool *pool;
    const ml_run_options *limits; /* may be NULL */
    size_t n_free;
    ml_tensor *free_list[FREE_LIST_MAX]; /* owned, unique storage, non-string */
    size_t free_bytes[FREE_LIST_MAX];    /* their sizes, to match without recounting */
} run_state;

static void free_push(run_state *run, ml_tensor *t, size_t bytes) {
    run->free_bytes[run->n_free] = bytes;
    run->free_list[run->n_free++] = t;
}

typedef struct frame {
    const ml_graph *g;
    struct frame *parent;
    run_state *run;
    ml_value **vals; /* per slot */
    bool *owned;     /* vals[s] belongs to this frame */
    int *remaining;  /* uses left before vals[s] may be released */
} frame;

static void release_value(run_state *run, ml_value *v) {
    if (!v) return;
    ml_tensor *t = v->kind == ML_VALUE_TENSOR ? v->tensor : NULL;
    size_t bytes = t && run ? ml_tensor_nbytes(t) : 0;
    if (bytes && t->dtype != ML_STRING && ml_tensor_owns_data(t) && ml_tensor_storage_unique(t)) {
        if (run->n_free < FREE_LIST_MAX) {
            free_push(run, t, bytes);
            v->tensor = NULL;
        } else {
            /* full: keep the bigger buffers, they are the costly ones to get */
            size_t smallest = 0;
            for (size_t i = 1; i < run->n_free; i++)
                if (run->free_bytes[i] < run->free_bytes[smallest]) smallest = i;
            if (run->free_bytes[smallest] < bytes) {
                ml_tensor_free(run->free_list[smallest]);
                run->free_list[smallest] = t;
                run->free_bytes[smallest] = bytes;
                v->tensor = NULL;
            }
        }
    }
    ml_value_free(v);
}

static ml_tensor *take_recycled(run_state *run, ml_dtype dtype, int rank, const int64_t *dims) {
    if (!run || dtype == ML_STRING || !run->n_free) return NULL;
    size_t numel;
    if (!ml_shape_numel(rank, dims, &numel)) return NULL;
    size_t bytes = numel * ml_dtype_size(dtype);
    for (size_t i = 0; i < run->n_free; i++) {
        if (run->free_bytes[i] != bytes) continue;
        ml_tensor *t = run->free_list[i];
        run->n_free--;
        run->free_list[i] = run->free_list[run->n_free];
        run->free_bytes[i] = run->free_bytes[run->n_free];
        /* same byte size and non-string: the storage fits any such shape */
        t->dtype = dtype;
        t->rank = rank;
        if (rank) memcpy(t->dims, dims, sizeof(int64_t) * (size_t)rank);
#ifndef NDEBUG
        /* kernel.h promises nothing about the contents; debug builds poison
         * them (NaN for floats) so a kernel that forgets a write shows up */
        memset(t->data, 0xff, bytes);
#endif
        return t;
    }
    return NULL;
}

static ml_status env_alloc(ml_kernel_ctx *ctx, size_t i, ml_dtype dtype, int rank,
                           const int64_t *dims, ml_tensor **out) {
    *out = NULL;
    frame *f = ctx->exec;
    /* Hostile inputs (a Range or ConstantOfShape sized by a request) must
     * not make one node allocate and fill gigabytes: the same bound as for
     * tensors in the model file applies to every tensor a run creates. */
    size_t numel;
    uint64_t limit = f ? f->g->model->max_tensor_bytes : 0;
    if (limit && ml_shape_numel(rank, dims, &numel) &&
        (uint64_t)numel * ml_dtype_size(dtype) > limit)
        return ml_node_error(ctx->node, ML_ERR_RESOURCE_EXHAUSTED,
                             "output %zu would take %llu bytes, over the per-tensor limit of %llu "
                             "(max_model_bytes); check the input sizes",
                             i, (unsigned long long)numel * ml_dtype_size(dtype),
                             (unsigned long long)limit);
    ml_tensor *t = take_recycled(f ? f->run : NULL, dtype, rank, dims);
    if (!t) ML_TRY(ml_tensor_create(dtype, rank, dims, &t));
    ml_value *v;
    ML_TRY(ml_value_from_tensor(t, &v));
    ML_TRY(ml_set_output(ctx, i, v));
    *out = t;
    return ML_STATUS_OK;
}

static ml_status exec_frame(const ml_graph *g, frame *parent, run_state *run, size_t n_in,
                            ml_value *const *inputs, size_t n_out, ml_value **outputs);

static ml_status env_subgraph(ml_kernel_ctx *ctx, const ml_graph *g, size_t n_in,
                              ml_value *const *inputs, size_t n_out, ml_value **outputs) {
    frame *f = ctx->exec;
    if (!f || g->parent != f->g)
        return ml_node_error(ctx->node, ML_ERR_INTERNAL, "subgraph does not belong to this node");
    return exec_frame(g, f, f->run, n_in, inputs, n_out, outputs);
}

static const ml_kernel_env exec_env = {env_alloc, env_subgraph};

static ml_status fold_subgraph(ml_kernel_ctx *ctx, const ml_graph *g, size_t n_in,
                               ml_value *const *inputs, size_t n_out, ml_value **outputs) {
    return ml_node_error(ctx->node, ML_ERR_INTERNAL, "subgraphs are not run while folding");
}

/* Folding runs at load time, before any request: a constant that big is
 * left to be computed per run rather than allocated by merely loading. */
#define FOLD_MAX_BYTES ((size_t)64 << 20)

static ml_status fold_alloc(ml_kernel_ctx *ctx, size_t i, ml_dtype dtype, int rank,
                            const int64_t *dims, ml_tensor **out) {
    size_t numel;
    if (!ml_shape_numel(rank, dims, &numel) || numel * ml_dtype_size(dtype) > FOLD_MAX_BYTES) {
        *out = NULL;
        return ml_error(ML_ERR_RESOURCE_EXHAUSTED, "folded constant too large");
    }
    return env_alloc(ctx, i, dtype, rank, dims, out);
}

static const ml_kernel_env fold_env = {fold_alloc, fold_subgraph};

/* Runs the kernel of en with inputs taken from the frame-less value table
 * `vals` and stores owned outputs in outs (node.n_outputs entries). */
static ml_status run_kernel(const ml_exec_node *en, ml_value *const *in, ml_value **outs,
                            ml_threadpool *pool, const ml_kernel_env *env, frame *f) {
    const ml_node *n = &en->node;
    ml_kernel_ctx ctx = {.node = n,
                         .n_inputs = n->n_inputs,
                         .inputs = in,
                         .n_outputs = n->n_outputs,
                         .outputs = outs,
                         .pool = pool,
                         .env = env,
                         .exec = f};
    ml_status st = n->kernel->run(&ctx);
    /* a kernel must hand out new values: passing an input through would free
     * it twice (use ml_value_clone) */
    for (size_t o = 0; !st && o < n->n_outputs; o++)
        for (size_t i = 0; outs[o] && i < n->n_inputs; i++)
            if (outs[o] == in[i]) {
                outs[o] = NULL;
                st = ml_node_error(n, ML_ERR_INTERNAL, "kernel returned input %zu as output %zu", i,
                                   o);
                break;
            }
    if (st) {
        for (size_t o = 0; o < n->n_outputs; o++) {
            ml_value_free(outs[o]);
            outs[o] = NULL;
        }
        /* kernels usually prefix their messages via ml_node_error already */
        if (!strstr(ml_status_message(st), n->op_type))
            st = ml_status_wrap(st, "%s node '%s'", n->op_type, n->name);
    }
    return st;
}

ml_status ml_exec_fold_node(const ml_graph *g, const ml_exec_node *en, ml_value **outputs) {
    ml_value *in[64];
    if (en->node.n_inputs > 64) return ml_error(ML_ERR_UNSUPPORTED, "too many inputs to fold");
    for (size_t i = 0; i < en->node.n_inputs; i++)
        in[i] = en->in_slots[i] >= 0 ? g->slots[en->in_slots[i]].value : NULL;
    return run_kernel(en, in, outputs, NULL, &fold_env, NULL);
}

static void drop_slot(frame *f, int s) {
    if (f->owned[s]) release_value(f->run, f->vals[s]);
    f->vals[s] = NULL;
    f->owned[s] = false;
}

static ml_status check_limits(const ml_run_options *lim, const ml_node *next) {
    if (!lim) return ML_STATUS_OK;
    /* exported graphs often leave node names empty: name the op then */
    const char *q = next->name[0] ? " '" : "", *n = next->name[0] ? next->name : "",
               *e = next->name[0] ? "'" : "";
    if (lim->cancel && *lim->cancel)
        return ml_error(ML_ERR_UNAVAILABLE, "the run was cancelled (stopped before %s node%s%s%s)",
                        next->op_type, q, n, e);
    if (lim->deadline_ns && ml_now_ns() > lim->deadline_ns)
        return ml_error(ML_ERR_DEADLINE,
                        "the request's deadline passed (the model stopped before %s node%s%s%s)",
                        next->op_type, q, n, e);
    return ML_STATUS_OK;
}

static ml_status exec_nodes(frame *f) {
    const ml_graph *g = f->g;
    bool profile = ml_exec_profiling();
    ml_value *in_small[16], *out_small[16];
    for (size_t k = 0; k < g->n_nodes; k++) {
        const ml_exec_node *en = &g->nodes[k];
        if (en->skip) continue;
        const ml_node *n = &en->node;
        ML_TRY(check_limits(f->run->limits, n));
        ml_value **in = in_small, **outs = out_small;
        if (n->n_inputs > 16) in = malloc(n->n_inputs * sizeof *in);
        if (n->n_outputs > 16) outs = malloc(n->n_outputs * sizeof *outs);
        if (!in || !outs) {
            if (in != in_small) free(in);
            if (outs != out_small) free(outs);
            return ml_error(ML_ERR_OUT_OF_MEMORY, "node inputs");
        }
        for (size_t i = 0; i < n->n_inputs; i++)
            in[i] = en->in_slots[i] >= 0 ? f->vals[en->in_slots[i]] : NULL;
        for (size_t o = 0; o < n->n_outputs; o++) outs[o] = NULL;
        ml_threadpool *pool = f->run->pool;
        if (en->copy_op && pool) {
            size_t bytes = 0;
            for (size_t i = 0; i < n->n_inputs; i++)
                if (in[i] && in[i]->kind == ML_VALUE_TENSOR)
                    bytes += ml_tensor_nbytes(in[i]->tensor);
            if (bytes < ML_EXEC_INLINE_BYTES) pool = NULL;
        }
        uint64_t t0 = profile ? ml_now_ns() : 0;
        ml_status st = run_kernel(en, in, outs, pool, &exec_env, f);
        if (profile) ml_exec_profile_add(n, ml_now_ns() - t0);
        if (!st) {
            for (size_t o = 0; o < n->n_outputs; o++) {
                int s = en->out_slots[o];
                if (s < 0) {
                    ml_value_free(outs[o]);
                    continue;
                }
                if (f->owned[s]) release_value(f->run, f->vals[s]);
                f->vals[s] = outs[o];
                f->owned[s] = outs[o] != NULL;
            }
            for (size_t i = 0; i < n->n_inputs; i++) {
                int s = en->in_slots[i];
                if (s >= 0 && --f->remaining[s] == 0 && !g->slots[s].is_output) drop_slot(f, s);
            }
            for (size_t i = 0; i < en->n_implicit; i++) {
                int s = en->implicit_slots[i];
                if (--f->remaining[s] == 0 && !g->slots[s].is_output) drop_slot(f, s);
            }
            for (size_t o = 0; o < n->n_outputs; o++) {
                int s = en->out_slots[o];
                if (s >= 0 && f->remaining[s] == 0 && !g->slots[s].is_output) drop_slot(f, s);
            }
        }
        if (in != in_small) free(in);
        if (outs != out_small) free(outs);
        if (st) return st;
    }
    return ML_STATUS_OK;
}

static ml_status exec_frame(const ml_graph *g, frame *parent, run_state *run, size_t n_in,
                            ml_value *const *inputs, size_t n_out, ml_value **outputs) {
    for (size_t i = 0; i < n_out; i++) outputs[i] = NULL;
    if (n_out > g->n_outputs || n_in > g->n_inputs)
        return ml_error(ML_ERR_INVALID_ARGUMENT,
                        "graph '%s' has %zu inputs and %zu outputs, but its node passes %zu and "
                        "expects %zu: the model is malformed",
                        g->name, g->n_inputs, g->n_outputs, n_in, n_out);
    size_t ns = g->n_slots ? g->n_slots : 1;
    /* one block for the three per-slot arrays */
    size_t bytes = ns * (sizeof(ml_value *) + sizeof(int) + sizeof(bool));
    char *mem = calloc(1, bytes);
    if (!mem) return ml_error(ML_ERR_OUT_OF_MEMORY, "run frame of %zu values", ns);
    frame f = {.g = g, .parent = parent, .run = run};
    f.vals = (ml_value **)mem;
    f.remaining = (int *)(mem + ns * sizeof(ml_value *));
    f.owned = (bool *)(mem + ns * (sizeof(ml_value *) + sizeof(int)));
    for (size_t s = 0; s < g->n_slots; s++) {
        const ml_slot *sl = &g->slots[s];
        f.remaining[s] = sl->uses;
        if (sl->kind == ML_SLOT_CONST)
            f.vals[s] = sl->value;
        else if (sl->kind == ML_SLOT_OUTER && parent)
            f.vals[s] = parent->vals[sl->parent_slot];
    }
    for (size_t i = 0; i < g->n_inputs && i < n_in; i++) f.vals[g->input_slots[i]] = inputs[i];

    ml_status st = exec_nodes(&f);
    for (size_t i = 0; !st && i < n_out; i++) {
        int s = g->output_slots[i];
        if (!f.vals[s]) {
            /* an optional output the producing node left out */
            st = ml_value_new_none(&outputs[i]);
        } else if (f.owned[s]) {
            /* the same slot may be listed twice: move once, clone after */
            bool again = false;
            for (size_t j = i + 1; j < n_out; j++)
                if (g->output_slots[j] == s) again = true;
            if (again) {
                st = ml_value_clone(f.vals[s], &outputs[i]);
            } else {
                outputs[i] = f.vals[s];
                f.vals[s] = NULL;
                f.owned[s] = false;
            }
        } else {
            st = ml_value_clone(f.vals[s], &outputs[i]);
        }
    }
    for (size_t s = 0; s < g->n_slots; s++)
        if (f.owned[s]) ml_value_free(f.vals[s]);
    free(mem);
    if (st) {
        for (size_t i = 0; i < n_out; i++) {
            ml_value_free(outputs[i]);
            outputs[i] = NULL;
        }
    }
    return st;
}

void ml_stash_init(ml_buffer_stash *stash) {
    pthread_mutex_init(&stash->mu, NULL);
    stash->n = 0;
}

void ml_stash_destroy(ml_buffer_stash *stash) {
    for (size_t i = 0; i < stash->n; i++) ml_tensor_free(stash->items[i]);
    stash->n = 0;
    pthread_mutex_destroy(&stash->mu);
}

ml_status ml_exec_graph(const ml_graph *g, ml_buffer_stash *stash, ml_threadpool *pool,
                        const ml_run_options *limits, size_t n_in, ml_value *const *inputs,
                        size_t n_out, ml_value **outputs) {
    run_state run = {.pool = pool, .limits = limits};
    if (stash) {
        /* concurrent runs: whoever comes first takes the stash, others start empty */
        pthread_mutex_lock(&stash->mu);
        for (size_t i = 0; i < stash->n; i++)
            free_push(&run, stash->items[i], ml_tensor_nbytes(stash->items[i]));
        stash->n = 0;
        pthread_mutex_unlock(&stash->mu);
    }
    ml_status st = exec_frame(g, NULL, &run, n_in, inputs, n_out, outputs);
    size_t i = 0;
    if (stash) {
        pthread_mutex_lock(&stash->mu);
        for (; i < run.n_free && stash->n < ML_STASH_MAX; i++)
            stash->items[stash->n++] = run.free_list[i];
        pthread_mutex_unlock(&stash->mu);
    }
    for (; i < run.n_free; i++) ml_tensor_free(run.free_list[i]);
    return st;
}

static ml_status own_tensor(ml_tensor **slot) {
    ml_tensor *t = *slot;
    if (!t || (ml_tensor_owns_data(t) && ml_tensor_storage_unique(t))) return ML_STATUS_OK;
    ml_tensor *c;
    ML_TRY(ml_tensor_copy(t, &c));
    ml_tensor_free(t);
    *slot = c;
    return ML_STATUS_OK;
}

ml_status ml_value_make_owned(ml_value *v) {
    if (!v) return ML_STATUS_OK;
    ML_TRY(own_tensor(&v->tensor));
    ML_TRY(own_tensor(&v->keys));
    ML_TRY(own_tensor(&v->values));
    for (size_t i = 0; i < v->n_items; i++) ML_TRY(ml_value_make_owned(v->items[i]));
    return ML_STATUS_OK;
}
