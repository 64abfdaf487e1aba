/* Control flow: If, Loop, Scan. Bodies run through env->run_subgraph, which
 * binds our inputs (borrowed) to the body's formal inputs and resolves
 * outer-scope names; every value it returns is ours to keep or free. */
#include <stdlib.h>
#include <string.h>

#include "ops/control_util.h"
#include "ops/families.h"

static void free_values(ml_value **v, size_t n) {
    for (size_t i = 0; i < n; i++) {
        ml_value_free(v[i]);
        v[i] = NULL;
    }
}

static ml_status scalar_value(ml_dtype dt, double x, ml_value **out) {
    ml_tensor *t;
    ML_TRY(ml_tensor_create(dt, 0, NULL, &t));
    if (dt == ML_INT64)
        *(int64_t *)t->data = (int64_t)x;
    else
        ml_tensor_set_f64(t, 0, x);
    return ml_value_from_tensor(t, out);
}

static ml_status read_bool(const ml_kernel_ctx *ctx, const ml_value *v, const char *what,
                           bool *out) {
    if (!v || v->kind != ML_VALUE_TENSOR || ml_tensor_numel(v->tensor) != 1)
        return ml_node_error(ctx->node, ML_ERR_INVALID_ARGUMENT, "%s must be one boolean", what);
    *out = ml_tensor_get_f64(v->tensor, 0) != 0;
    return ML_STATUS_OK;
}

/* ---- If ---- */

static ml_status if_run(ml_kernel_ctx *ctx) {
    bool cond;
    ML_TRY(read_bool(ctx, ml_input_value(ctx, 0), "cond", &cond));
    const ml_graph *g = ml_attr_graph(ctx->node, cond ? "then_branch" : "else_branch");
    if (!g)
        return ml_node_error(ctx->node, ML_ERR_INVALID_ARGUMENT, "attribute '%s' is required",
                             cond ? "then_branch" : "else_branch");
    ml_value **outs = calloc(ctx->n_outputs ? ctx->n_outputs : 1, sizeof *outs);
    if (!outs) return ml_error(ML_ERR_OUT_OF_MEMORY, "If outputs");
    ml_status st = ctx->env->run_subgraph(ctx, g, 0, NULL, ctx->n_outputs, outs);
    for (size_t i = 0; i < ctx->n_outputs; i++) {
        if (!st)
            st = ml_set_output(ctx, i, outs[i]);
        else
            ml_value_free(outs[i]);
    }
    free(outs);
    return st;
}

/* ---- scan-output accumulation (Loop and Scan) ---- */

typedef struct stack_list {
    size_t n, cap;
    ml_value **items;
} stack_list;

static ml_status stack_push(stack_list *l, ml_value *v) {
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        ml_value **it = realloc(l->items, cap * sizeof *it);
        if (!it) {
            ml_value_free(v);
            return ml_error(ML_ERR_OUT_OF_MEMORY, "scan outputs");
        }
        l->items = it;
        l->cap = cap;
    }
    l->items[l->n++] = v;
    return ML_STATUS_OK;
}

static void stack_free(stack_list *l) {
    free_values(l->items, l->n);
    free(l->items);
    l->items = NULL;
    l->n = l->cap = 0;
}

/* Joins the per-iteration tensors of l with a new axis (axis, already
 * normalised against rank+1), optionally in reverse. */
static ml_status stack_join(const ml_kernel_ctx *ctx, const stack_list *l, int axis, bool reverse,
                            ml_tensor **out) {
    const ml_tensor **ts = malloc((l->n ? l->n : 1) * sizeof *ts);
    if (!ts) return ml_error(ML_ERR_OUT_OF_MEMORY, "scan outputs");
    for (size_t i = 0; i < l->n; i++) {
        if (!l->items[i] || l->items[i]->kind != ML_VALUE_TENSOR) {
            free(ts);
            return ml_node_error(ctx->node, ML_ERR_INVALID_ARGUMENT,
                                 "scan output of iteration %zu is not a tensor", i);
        }
        ts[i] = l->items[i]->tensor;
    }
    ml_status st = ml_ctl_join(ts, l->n, axis, true, reverse, out);
    free(ts);
    return st;
}

/* ---- Loop ---- */

/* Scan output of a Loop or Scan that ran zero times: the body output's
 * declared dims with a 0 inserted at `axis` (in -rank-1..rank), of its
 * declared dtype. The ONNX loader passes those as the INTS attribute
 * "mlambda.body_output_types" (per body output: dtype, rank, dims; -1 =
 * unknown). Unknown parts give float resp. a 0 dim; always 0 elements. */
static ml_status empty_scan_output(const ml_kernel_ctx *ctx, size_t body_out, int64_t axis,
                                   ml_tensor **out) {
    const int64_t *v;
    size_t n = ml_attr_ints(ctx->node, "mlambda.body_output_types", &v);
    ml_dtype dtype = ML_FLOAT;
    int rank = 0;
    int64_t inner[ML_MAX_RANK] = {0};
    for (size_t pos = 0, i = 0; pos + 1 < n; i++) {
        int64_t dt = v[pos], r = v[pos + 1];
        size_t step = 2 + (size_t)(r > 0 ? r : 0);
        if (i == body_out) {
            if (ml_dtype_valid((int)dt) && dt != ML_UNDEFINED) dtype = (ml_dtype)dt;
            if (r >= 0 && r < ML_MAX_RANK && pos + step <= n) {
                rank = (int)r;
                for (int d = 0; d < rank; d++) inner[d] = v[pos + 2 + d] > 0 ? v[pos + 2 + d] : 0;
            }
            break;
        }
        pos += step;
    }
    int ax;
    ML_TRY(ml_normalize_axis(ctx->node, axis, rank + 1, &ax));
    int64_t dims[ML_MAX_RANK];
    for (int d = 0, s = 0; d <= rank; d++) dims[d] = d == ax ? 0 : inner[s++];
    return ml_tensor_create(dtype, rank + 1, dims, out);
}

static ml_status loop_run(ml_kernel_ctx *ctx) {
    const ml_graph *body = ml_attr_graph(ctx->node, "body");
    if (!body)
        return ml_node_error(ctx->node, ML_ERR_INVALID_ARGUMENT, "attribute 'body' is required");
    const ml_tensor *m_t = ml_input(ctx, 0);
    const ml_value *cond_v = ml_input_value(ctx, 1);
    int64_t max_trip = INT64_MAX;
    if (m_t) {
        if (ml_tensor_numel(m_t) != 1)
            return ml_node_error(ctx->node, ML_ERR_INVALID_ARGUMENT, "M must be a scalar");
        max_trip = m_t->dtype == ML_INT64 ? *(const int64_t *)m_t->data
                                          : (int64_t)ml_tensor_get_f64(m_t, 0);
    }
    bool cond = true;
    if (cond_v) ML_TRY(read_bool(ctx, cond_v, "cond", &cond));
    size_t n_carried = ctx->n_inputs > 2 ? ctx->n_inputs - 2 : 0;
    if (ctx->n_outputs < n_carried)
        return ml_node_error(ctx->node, ML_ERR_INVALID_ARGUMENT,
                             "%zu loop-carried inputs but only %zu outputs", n_carried,
                             ctx->n_outputs);
    size_t n_scan = ctx->n_outputs - n_carried;
    size_t n_body_in = 2 + n_carried, n_body_out = 1 + n_carried + n_scan;

    ml_value **carried = calloc(n_carried + 1, sizeof *carried);
    ml_value **body_in = calloc(n_body_in, sizeof *body_in);
    ml_value **body_out = calloc(n_body_out, sizeof *body_out);
    stack_list *scans = calloc(n_scan + 1, sizeof *scans);
    ml_status st = (!carried || !body_in || !body_out || !scans)
                       ? ml_error(ML_ERR_OUT_OF_MEMORY, "Loop state")
                       : ML_STATUS_OK;
    for (size_t i = 0; !st && i < n_carried; i++) {
        const ml_value *v = ml_input_value(ctx, 2 + i);
        st = v ? ml_value_clone(v, &carried[i]) : ml_value_new_none(&carried[i]);
    }
    for (int64_t iter = 0; !st && iter < max_trip && cond; iter++) {
        st = scalar_value(ML_INT64, (double)iter, &body_in[0]);
        if (!st) st = scalar_value(ML_BOOL, cond, &body_in[1]);
        for (size_t i = 0; i < n_carried; i++) body_in[2 + i] = carried[i];
        if (!st) st = ctx->env->run_subgraph(ctx, body, n_body_in, body_in, n_body_out, body_out);
        ml_value_free(body_in[0]);
        ml_value_free(body_in[1]);
        body_in[0] = body_in[1] = NULL;
        if (st) break;
        /* a missing cond input makes this a for-loop: the body's cond is ignored */
        if (cond_v) st = read_bool(ctx, body_out[0], "the body's cond output", &cond);
        ml_value_free(body_out[0]);
        body_out[0] = NULL;
        for (size_t i = 0; i < n_carried; i++) {
            ml_value_free(carried[i]);
            carried[i] = body_out[1 + i];
            body_out[1 + i] = NULL;
        }
        for (size_t k = 0; k < n_scan; k++) {
            ml_value *v = body_out[1 + n_carried + k];
            body_out[1 + n_carried + k] = NULL;
            if (!st)
                st = stack_push(&scans[k], v);
            else
                ml_value_free(v);
        }
    }
    for (size_t i = 0; !st && i < n_carried; i++) {
        st = ml_set_output(ctx, i, carried[i]);
        carried[i] = NULL;
    }
    for (size_t k = 0; !st && k < n_scan; k++) {
        ml_tensor *t;
        if (scans[k].n == 0) {
            st = empty_scan_output(ctx, 1 + n_carried + k, 0, &t);
        } else {
            st = stack_join(ctx, &scans[k], 0, false, &t);
        }
        ml_value *v;
        if (!st) st = ml_value_from_tensor(t, &v);
        if (!st) st = ml_set_output(ctx, n_carried + k, v);
    }
    if (carried) free_values(carried, n_carried);
    if (body_out) free_values(body_out, n_body_out);
    for (size_t k = 0; scans && k < n_scan; k++) stack_free(&scans[k]);
    free(carried);
    free(body_in);
    free(body_out);
    free(scans);
    return st;
}

/* ---- Scan ---- */

typedef struct scan_spec {
    size_t n_state, n_scan_in, n_scan_out;
    int64_t in_axes[64], in_dirs[64], out_axes[64], out_dirs[64];
} scan_spec;

static ml_status scan_spec_read(const ml_kernel_ctx *ctx, size_t n_state_and_scan, scan_spec *sp) {
    const ml_node *n = ctx->node;
    int64_t m = ml_attr_int(n, "num_scan_inputs", -1);
    if (m < 1 || (size_t)m > n_state_and_scan || m > 64)
        return ml_node_error(ctx->node, ML_ERR_INVALID_ARGUMENT, "num_scan_inputs must be 1..%zu",
                             n_state_and_scan);
    sp->n_scan_in = (size_t)m;
    sp->n_state = n_state_and_scan - sp->n_scan_in;
    if (ctx->n_outputs < sp->n_state || ctx->n_outputs - sp->n_state > 64)
        return ml_node_error(ctx->node, ML_ERR_INVALID_ARGUMENT, "bad number of outputs");
    sp->n_scan_out = ctx->n_outputs - sp->n_state;
    const int64_t *v;
    size_t c;
    struct {
        const char *name;
        int64_t *dst;
        size_t n;
    } lists[] = {{"scan_input_axes", sp->in_axes, sp->n_scan_in},
                 {"scan_input_directions", sp->in_dirs, sp->n_scan_in},
                 {"scan_output_axes", sp->out_axes, sp->n_scan_out},
                 {"scan_output_directions", sp->out_dirs, sp->n_scan_out}};
    for (size_t l = 0; l < 4; l++) {
        c = ml_attr_ints(n, lists[l].name, &v);
        if (c && c != lists[l].n)
            return ml_node_error(ctx->node, ML_ERR_INVALID_ARGUMENT, "%s needs %zu entries",
                                 lists[l].name, lists[l].n);
        for (size_t i = 0; i < lists[l].n; i++) lists[l].dst[i] = c ? v[i] : 0;
    }
    /* opset 8 names the input directions "directions" */
    c = ml_attr_ints(n, "directions", &v);
    if (c == sp->n_scan_in)
        for (size_t i = 0; i < c; i++) sp->in_dirs[i] = v[i];
    return ML_STATUS_OK;
}

/* One scan over states[] and scan inputs xs[] (opset 9 semantics). Writes
 * n_state + n_scan_out owned values into results. */
static ml_status scan_core(ml_kernel_ctx *ctx, const ml_graph *body, const scan_spec *sp,
                           ml_value *const *states, const ml_tensor *const *xs,
                           ml_value **results) {
    size_t ns = sp->n_state, nin = sp->n_scan_in, nout = sp->n_scan_out;
    int axes[64];
    int64_t L = -1;
    for (size_t j = 0; j < nin; j++) {
        ML_TRY(ml_normalize_axis(ctx->node, sp->in_axes[j], xs[j]->rank, &axes[j]));
        if (xs[j]->rank == 0)
            return ml_node_error(ctx->node, ML_ERR_INVALID_ARGUMENT, "scan input %zu is a scalar",
                                 j);
        int64_t lj = xs[j]->dims[axes[j]];
        if (L >= 0 && lj != L)
            return ml_node_error(ctx->node, ML_ERR_INVALID_ARGUMENT,
                                 "scan inputs have different lengths (%lld vs %lld)", (long long)L,
                                 (long long)lj);
        L = lj;
    }
    ml_value **state = calloc(ns + 1, sizeof *state);
    ml_value **body_in = calloc(ns + nin + 1, sizeof *body_in);
    ml_value **body_out = calloc(ns + nout + 1, sizeof *body_out);
    stack_list *outs = calloc(nout + 1, sizeof *outs);
    ml_status st = (!state || !body_in || !body_out || !outs)
                       ? ml_error(ML_ERR_OUT_OF_MEMORY, "Scan state")
                       : ML_STATUS_OK;
    for (size_t i = 0; !st && i < ns; i++) st = ml_value_clone(states[i], &state[i]);
    for (int64_t t = 0; !st && t < L; t++) {
        for (size_t i = 0; i < ns; i++) body_in[i] = state[i];
        for (size_t j = 0; !st && j < nin; j++) {
            int64_t idx = sp->in_dirs[j] ? L - 1 - t : t;
            ml_tensor *slice;
            st = ml_ctl_slice(xs[j], axes[j], idx, 1, false, &slice);
            if (!st) st = ml_value_from_tensor(slice, &body_in[ns + j]);
        }
        if (!st) st = ctx->env->run_subgraph(ctx, body, ns + nin, body_in, ns + nout, body_out);
        for (size_t j = 0; j < nin; j++) {
            ml_value_free(body_in[ns + j]);
            body_in[ns + j] = NULL;
        }
        if (st) break;
        for (size_t i = 0; i < ns; i++) {
            ml_value_free(state[i]);
            state[i] = body_out[i];
            body_out[i] = NULL;
        }
        for (size_t k = 0; k < nout; k++) {
            ml_value *v = body_out[ns + k];
            body_out[ns + k] = NULL;
            if (!st)
                st = stack_push(&outs[k], v);
            else
                ml_value_free(v);
        }
    }
    for (size_t i = 0; !st && i < ns; i++) {
        results[i] = state[i];
        state[i] = NULL;
    }
    for (size_t k = 0; !st && k < nout; k++) {
        if (!outs[k].n) {
            ml_tensor *empty;
            st = empty_scan_output(ctx, ns + k, sp->out_axes[k], &empty);
            if (!st) st = ml_value_from_tensor(empty, &results[ns + k]);
            continue;
        }
        const ml_value *first = outs[k].items[0];
        int rank = first && first->kind == ML_VALUE_TENSOR ? first->tensor->rank : 0;
        int axis;
        st = ml_normalize_axis(ctx->node, sp->out_axes[k], rank + 1, &axis);
        ml_tensor *joined;
        if (!st) st = stack_join(ctx, &outs[k], axis, sp->out_dirs[k] != 0, &joined);
        if (!st) st = ml_value_from_tensor(joined, &results[ns + k]);
    }
    if (st) free_values(results, ns + nout);
    if (state) free_values(state, ns);
    if (body_out) free_values(body_out, ns + nout);
    for (size_t k = 0; outs && k < nout; k++) stack_free(&outs[k]);
    free(state);
    free(body_in);
    free(body_out);
    free(outs);
    return st;
}

static ml_status scan_run(ml_kernel_ctx *ctx) {
    const ml_graph *body = ml_attr_graph(ctx->node, "body");
    if (!body)
        return ml_node_error(ctx->node, ML_ERR_INVALID_ARGUMENT, "attribute 'body' is required");
    scan_spec sp;
    ML_TRY(scan_spec_read(ctx, ctx->n_inputs, &sp));
    ml_value *states[64];
    const ml_tensor *xs[64];
    if (sp.n_state > 64) return ml_node_error(ctx->node, ML_ERR_UNSUPPORTED, "too many states");
    for (size_t i = 0; i < sp.n_state; i++) {
        states[i] = (ml_value *)ml_input_value(ctx, i);
        if (!states[i])
            return ml_node_error(ctx->node, ML_ERR_INVALID_ARGUMENT, "state %zu missing", i);
    }
    for (size_t j = 0; j < sp.n_scan_in; j++) ML_TRY(ml_require_input(ctx, sp.n_state + j, &xs[j]));
    ml_value *results[128] = {0};
    ML_TRY(scan_core(ctx, body, &sp, states, xs, results));
    ml_status st = ML_STATUS_OK;
    for (size_t i = 0; i < sp.n_state + sp.n_scan_out; i++) {
        if (!st)
            st = ml_set_output(ctx, i, results[i]);
        else
            ml_value_free(results[i]);
    }
    return st;
}

/* Opset 8: input 0 is sequence_lens (unsupported unless omitted), every other
 * input has a leading batch axis; the scan axis is axis 1 of the inputs. */
static ml_status scan8_run(ml_kernel_ctx *ctx) {
    const ml_graph *body = ml_attr_graph(ctx->node, "body");
    if (!body)
        return ml_node_error(ctx->node, ML_ERR_INVALID_ARGUMENT, "attribute 'body' is required");
    if (ml_input_value(ctx, 0))
        return ml_node_error(ctx->node, ML_ERR_UNSUPPORTED, "sequence_lens is not supported");
    if (ctx->n_inputs < 2) return ml_node_error(ctx->node, ML_ERR_INVALID_ARGUMENT, "no inputs");
    scan_spec sp;
    ML_TRY(scan_spec_read(ctx, ctx->n_inputs - 1, &sp));
    size_t n_all = sp.n_state + sp.n_scan_in, n_res = sp.n_state + sp.n_scan_out;
    if (n_all > 64 || n_res > 64)
        return ml_node_error(ctx->node, ML_ERR_UNSUPPORTED, "too many inputs");
    const ml_tensor *in[64];
    for (size_t i = 0; i < n_all; i++) ML_TRY(ml_require_input(ctx, 1 + i, &in[i]));
    if (in[0]->rank == 0) return ml_node_error(ctx->node, ML_ERR_INVALID_ARGUMENT, "no batch axis");
    int64_t B = in[0]->dims[0];
    for (size_t j = 0; j < sp.n_scan_out; j++) sp.out_axes[j] = 0;
    for (size_t j = 0; j < sp.n_scan_in; j++) sp.in_axes[j] = 0;
    stack_list per_out[64] = {0};
    ml_status st = ML_STATUS_OK;
    for (int64_t b = 0; !st && b < B; b++) {
        ml_value *states[64] = {0}, *results[64] = {0};
        ml_tensor *xs[64] = {0};
        for (size_t i = 0; !st && i < n_all; i++) {
            ml_tensor *s;
            st = ml_ctl_slice(in[i], 0, b, 1, false, &s);
            if (st) break;
            if (i < sp.n_state)
                st = ml_value_from_tensor(s, &states[i]);
            else
                xs[i - sp.n_state] = s;
        }
        if (!st) st = scan_core(ctx, body, &sp, states, (const ml_tensor *const *)xs, results);
        for (size_t i = 0; i < n_res; i++) {
            if (!st)
                st = stack_push(&per_out[i], results[i]);
            else
                ml_value_free(results[i]);
        }
        free_values(states, sp.n_state);
        for (size_t j = 0; j < sp.n_scan_in; j++) ml_tensor_free(xs[j]);
    }
    for (size_t i = 0; !st && i < n_res; i++) {
        ml_tensor *t;
        st = stack_join(ctx, &per_out[i], 0, false, &t);
        ml_value *v;
        if (!st) st = ml_value_from_tensor(t, &v);
        if (!st) st = ml_set_output(ctx, i, v);
    }
    for (size_t i = 0; i < n_res; i++) stack_free(&per_out[i]);
    return st;
}

const ml_kernel ml_kernels_control[] = {
    {"", "If", 1, 0, NULL, NULL, if_run},
    {"", "Loop", 1, 0, NULL, NULL, loop_run},
    {"", "Scan", 8, 8, NULL, NULL, scan8_run},
    {"", "Scan", 9, 0, NULL, NULL, scan_run},
    {0},
};
