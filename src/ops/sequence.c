/* Sequence and Optional operators. A sequence value owns its items; kernels
 * here hand out views (shared storage) of input items rather than copies,
 * which is safe because tensors are never written after they are produced. */
#include <stdlib.h>
#include <string.h>

#include "ops/control_util.h"
#include "ops/families.h"

/* ---- helpers ---- */

static ml_status set_tensor(ml_kernel_ctx *ctx, size_t i, ml_tensor *t) {
    ml_value *v;
    ML_TRY(ml_value_from_tensor(t, &v));
    return ml_set_output(ctx, i, v);
}

static ml_status set_clone(ml_kernel_ctx *ctx, size_t i, const ml_value *src) {
    ml_value *v;
    ML_TRY(ml_value_clone(src, &v));
    return ml_set_output(ctx, i, v);
}

static ml_status require_sequence(const ml_kernel_ctx *ctx, size_t i, const ml_value **out) {
    const ml_value *v = ml_input_value(ctx, i);
    if (!v || v->kind != ML_VALUE_SEQUENCE)
        return ml_node_error(ctx->node, ML_ERR_INVALID_ARGUMENT, "input %zu must be a sequence", i);
    *out = v;
    return ML_STATUS_OK;
}

/* Reads an optional scalar position; *given false when the input is omitted. */
static ml_status read_position(const ml_kernel_ctx *ctx, size_t i, int64_t *pos, bool *given) {
    const ml_tensor *t = ml_input(ctx, i);
    *given = t != NULL;
    if (!t) return ML_STATUS_OK;
    if ((t->dtype != ML_INT64 && t->dtype != ML_INT32) || ml_tensor_numel(t) != 1)
        return ml_node_error(ctx->node, ML_ERR_INVALID_ARGUMENT,
                             "position must be one int32/int64 value");
    *pos = (int64_t)ml_tensor_get_f64(t, 0);
    if (t->dtype == ML_INT64) *pos = *(const int64_t *)t->data;
    return ML_STATUS_OK;
}

/* New sequence with the items of src (views), optionally skipping index skip
 * and inserting extra before index at (at == n_items appends). */
static ml_status rebuild(const ml_value *src, size_t skip, const ml_value *extra, size_t at,
                         ml_value **out) {
    ml_value *seq;
    ML_TRY(ml_value_new_sequence(src->elem_dtype, &seq));
    for (size_t i = 0; i <= src->n_items; i++) {
        ml_value *item;
        if (extra && i == at) {
            ml_status st = ml_value_clone(extra, &item);
            if (!st) st = ml_value_sequence_append(seq, item);
            if (st) {
                ml_value_free(seq);
                return st;
            }
        }
        if (i == src->n_items || i == skip) continue;
        ml_status st = ml_value_clone(src->items[i], &item);
        if (!st) st = ml_value_sequence_append(seq, item);
        if (st) {
            ml_value_free(seq);
            return st;
        }
    }
    *out = seq;
    return ML_STATUS_OK;
}

/* ---- kernels ---- */

static ml_status sequence_empty(ml_kernel_ctx *ctx) {
    int64_t dt = ml_attr_int(ctx->node, "dtype", ML_FLOAT);
    if (!ml_dtype_valid((int)dt) || dt == ML_UNDEFINED)
        return ml_node_error(ctx->node, ML_ERR_INVALID_ARGUMENT, "invalid dtype %lld",
                             (long long)dt);
    ml_value *seq;
    ML_TRY(ml_value_new_sequence((ml_dtype)dt, &seq));
    return ml_set_output(ctx, 0, seq);
}

static ml_status sequence_construct(ml_kernel_ctx *ctx) {
    ml_value *seq;
    const ml_tensor *first = ml_input(ctx, 0);
    ML_TRY(ml_value_new_sequence(first ? first->dtype : ML_UNDEFINED, &seq));
    for (size_t i = 0; i < ctx->n_inputs; i++) {
        const ml_tensor *t;
        ml_status st = ml_require_input(ctx, i, &t);
        if (!st && t->dtype != first->dtype)
            st = ml_node_error(ctx->node, ML_ERR_INVALID_ARGUMENT,
                               "all inputs must have one dtype (%s vs %s)",
                               ml_dtype_name(first->dtype), ml_dtype_name(t->dtype));
        ml_value *item = NULL;
        if (!st) st = ml_value_clone(ctx->inputs[i], &item);
        if (!st) st = ml_value_sequence_append(seq, item);
        if (st) {
            ml_value_free(seq);
            return st;
        }
    }
    return ml_set_output(ctx, 0, seq);
}

static ml_status normalize_pos(const ml_kernel_ctx *ctx, int64_t pos, size_t n, bool allow_end,
                               size_t *out) {
    int64_t hi = (int64_t)n + (allow_end ? 1 : 0);
    int64_t p = pos < 0 ? pos + (int64_t)n : pos;
    if (p < 0 || p >= hi)
        return ml_node_error(ctx->node, ML_ERR_INVALID_ARGUMENT,
                             "position %lld is out of range for a sequence of %zu", (long long)pos,
                             n);
    *out = (size_t)p;
    return ML_STATUS_OK;
}

static ml_status sequence_at(ml_kernel_ctx *ctx) {
    const ml_value *seq = NULL;
    ML_TRY(require_sequence(ctx, 0, &seq));
    int64_t pos = 0;
    bool given;
    ML_TRY(read_position(ctx, 1, &pos, &given));
    if (!given) return ml_node_error(ctx->node, ML_ERR_INVALID_ARGUMENT, "position is required");
    size_t p = 0;
    ML_TRY(normalize_pos(ctx, pos, seq->n_items, false, &p));
    return set_clone(ctx, 0, seq->items[p]);
}

static ml_status sequence_insert(ml_kernel_ctx *ctx) {
    const ml_value *seq = NULL;
    ML_TRY(require_sequence(ctx, 0, &seq));
    const ml_value *item = ml_input_value(ctx, 1);
    if (!item || item->kind != ML_VALUE_TENSOR)
        return ml_node_error(ctx->node, ML_ERR_INVALID_ARGUMENT, "input 1 must be a tensor");
    if (seq->n_items && seq->elem_dtype != ML_UNDEFINED && item->tensor->dtype != seq->elem_dtype)
        return ml_node_error(ctx->node, ML_ERR_INVALID_ARGUMENT,
                             "cannot insert %s into a %s sequence",
                             ml_dtype_name(item->tensor->dtype), ml_dtype_name(seq->elem_dtype));
    int64_t pos = (int64_t)seq->n_items;
    bool given;
    ML_TRY(read_position(ctx, 2, &pos, &given));
    size_t p = 0;
    ML_TRY(normalize_pos(ctx, pos, seq->n_items, true, &p));
    ml_value *out;
    ML_TRY(rebuild(seq, SIZE_MAX, item, p, &out));
    if (out->elem_dtype == ML_UNDEFINED) out->elem_dtype = item->tensor->dtype;
    return ml_set_output(ctx, 0, out);
}

static ml_status sequence_erase(ml_kernel_ctx *ctx) {
    const ml_value *seq = NULL;
    ML_TRY(require_sequence(ctx, 0, &seq));
    int64_t pos = -1;
    bool given;
    ML_TRY(read_position(ctx, 1, &pos, &given));
    size_t p = 0;
    ML_TRY(normalize_pos(ctx, pos, seq->n_items, false, &p));
    ml_value *out;
    ML_TRY(rebuild(seq, p, NULL, 0, &out));
    return ml_set_output(ctx, 0, out);
}

static ml_status sequence_length(ml_kernel_ctx *ctx) {
    const ml_value *seq = NULL;
    ML_TRY(require_sequence(ctx, 0, &seq));
    ml_tensor *t;
    ML_TRY(ml_output_tensor(ctx, 0, ML_INT64, 0, NULL, &t));
    *(int64_t *)t->data = (int64_t)seq->n_items;
    return ML_STATUS_OK;
}

static ml_status split_to_sequence(ml_kernel_ctx *ctx) {
    const ml_tensor *x;
    ML_TRY(ml_require_input(ctx, 0, &x));
    const ml_tensor *split = ml_input(ctx, 1);
    int axis;
    ML_TRY(ml_normalize_axis(ctx->node, ml_attr_int(ctx->node, "axis", 0), x->rank, &axis));
    if (x->rank == 0)
        return ml_node_error(ctx->node, ML_ERR_INVALID_ARGUMENT, "cannot split a scalar");
    int64_t L = x->dims[axis];
    bool keepdims = ml_attr_int(ctx->node, "keepdims", 1) != 0;
    /* chunk sizes */
    size_t n_chunks;
    int64_t *sizes = NULL;
    if (!split) {
        n_chunks = (size_t)L;
        sizes = malloc((n_chunks ? n_chunks : 1) * sizeof *sizes);
        if (!sizes) return ml_error(ML_ERR_OUT_OF_MEMORY, "split sizes");
        for (size_t i = 0; i < n_chunks; i++) sizes[i] = 1;
    } else if (split->rank == 0) {
        int64_t c = (int64_t)ml_tensor_get_f64(split, 0);
        if (c <= 0) return ml_node_error(ctx->node, ML_ERR_INVALID_ARGUMENT, "split must be > 0");
        n_chunks = (size_t)((L + c - 1) / c);
        sizes = malloc((n_chunks ? n_chunks : 1) * sizeof *sizes);
        if (!sizes) return ml_error(ML_ERR_OUT_OF_MEMORY, "split sizes");
        for (size_t i = 0; i < n_chunks; i++)
            sizes[i] = (int64_t)i + 1 < (int64_t)n_chunks ? c : L - c * (int64_t)i;
        keepdims = true;
    } else {
        n_chunks = ml_tensor_numel(split);
        sizes = malloc((n_chunks ? n_chunks : 1) * sizeof *sizes);
        if (!sizes) return ml_error(ML_ERR_OUT_OF_MEMORY, "split sizes");
        int64_t sum = 0;
        bool negative = false;
        for (size_t i = 0; i < n_chunks; i++) {
            sizes[i] = (int64_t)ml_tensor_get_f64(split, i);
            if (split->dtype == ML_INT64) sizes[i] = ((const int64_t *)split->data)[i];
            if (sizes[i] < 0 || sizes[i] > L)
                negative = true;
            else
                sum += sizes[i];
        }
        if (negative || sum != L) {
            free(sizes);
            return ml_node_error(ctx->node, ML_ERR_INVALID_ARGUMENT,
                                 "split sizes must be >= 0 and add up to %lld", (long long)L);
        }
        keepdims = true;
    }
    ml_value *seq;
    ml_status st = ml_value_new_sequence(x->dtype, &seq);
    int64_t start = 0;
    for (size_t i = 0; !st && i < n_chunks; i++) {
        ml_tensor *part;
        st = ml_ctl_slice(x, axis, start, sizes[i], keepdims, &part);
        ml_value *item;
        if (!st) st = ml_value_from_tensor(part, &item);
        if (!st) st = ml_value_sequence_append(seq, item);
        start += sizes[i];
    }
    free(sizes);
    if (st) {
        ml_value_free(seq);
        return st;
    }
    return ml_set_output(ctx, 0, seq);
}

static ml_status concat_from_sequence(ml_kernel_ctx *ctx) {
    const ml_value *seq = NULL;
    ML_TRY(require_sequence(ctx, 0, &seq));
    if (!seq->n_items)
        return ml_node_error(ctx->node, ML_ERR_INVALID_ARGUMENT, "the sequence is empty");
    bool new_axis = ml_attr_int(ctx->node, "new_axis", 0) != 0;
    const ml_tensor **ts = malloc(seq->n_items * sizeof *ts);
    if (!ts) return ml_error(ML_ERR_OUT_OF_MEMORY, "sequence items");
    ml_status st = ML_STATUS_OK;
    for (size_t i = 0; !st && i < seq->n_items; i++) {
        if (seq->items[i]->kind != ML_VALUE_TENSOR)
            st = ml_node_error(ctx->node, ML_ERR_INVALID_ARGUMENT, "item %zu is not a tensor", i);
        else
            ts[i] = seq->items[i]->tensor;
    }
    int axis = 0;
    if (!st)
        st = ml_normalize_axis(ctx->node, ml_attr_int(ctx->node, "axis", 0),
                               ts[0]->rank + (new_axis ? 1 : 0), &axis);
    ml_tensor *out = NULL;
    if (!st) st = ml_ctl_join(ts, seq->n_items, axis, new_axis, false, &out);
    free(ts);
    if (st) return ml_status_wrap(st, "ConcatFromSequence node '%s'", ctx->node->name);
    return set_tensor(ctx, 0, out);
}

/* Declared dtype of body output i, from the attribute the ONNX loader adds
 * ("mlambda.body_output_types": dtype, rank, dims per output), so an empty
 * input sequence still yields typed empty output sequences. */
static ml_dtype body_output_dtype(const ml_kernel_ctx *ctx, size_t i) {
    const int64_t *v;
    size_t n = ml_attr_ints(ctx->node, "mlambda.body_output_types", &v);
    for (size_t pos = 0, k = 0; pos + 1 < n; k++) {
        if (k == i) return ml_dtype_valid((int)v[pos]) ? (ml_dtype)v[pos] : ML_UNDEFINED;
        pos += 2 + (size_t)(v[pos + 1] > 0 ? v[pos + 1] : 0);
    }
    return ML_UNDEFINED;
}

static ml_status sequence_map(ml_kernel_ctx *ctx) {
    const ml_value *seq = NULL;
    ML_TRY(require_sequence(ctx, 0, &seq));
    const ml_graph *body = ml_attr_graph(ctx->node, "body");
    if (!body)
        return ml_node_error(ctx->node, ML_ERR_INVALID_ARGUMENT, "attribute 'body' is required");
    size_t n_in = ctx->n_inputs, n_out = ctx->n_outputs;
    for (size_t j = 1; j < n_in; j++) {
        const ml_value *v = ml_input_value(ctx, j);
        if (v && v->kind == ML_VALUE_SEQUENCE && v->n_items != seq->n_items)
            return ml_node_error(ctx->node, ML_ERR_INVALID_ARGUMENT,
                                 "sequence input %zu has %zu items, input 0 has %zu", j, v->n_items,
                                 seq->n_items);
    }
    ml_value **outs = calloc(n_out ? n_out : 1, sizeof *outs);
    ml_value **body_in = calloc(n_in ? n_in : 1, sizeof *body_in);
    ml_value **body_out = calloc(n_out ? n_out : 1, sizeof *body_out);
    ml_status st =
        (!outs || !body_in || !body_out) ? ml_error(ML_ERR_OUT_OF_MEMORY, "SequenceMap") : NULL;
    for (size_t o = 0; !st && o < n_out; o++)
        st = ml_value_new_sequence(body_output_dtype(ctx, o), &outs[o]);
    for (size_t i = 0; !st && i < seq->n_items; i++) {
        for (size_t j = 0; j < n_in; j++) {
            const ml_value *v = ml_input_value(ctx, j);
            body_in[j] = v && v->kind == ML_VALUE_SEQUENCE ? v->items[i] : (ml_value *)v;
        }
        st = ctx->env->run_subgraph(ctx, body, n_in, body_in, n_out, body_out);
        for (size_t o = 0; o < n_out; o++) {
            if (!st)
                st = ml_value_sequence_append(outs[o], body_out[o]);
            else
                ml_value_free(body_out[o]);
            body_out[o] = NULL;
        }
    }
    for (size_t o = 0; o < n_out; o++) {
        if (!st)
            st = ml_set_output(ctx, o, outs[o]);
        else
            ml_value_free(outs[o]);
    }
    free(outs);
    free(body_in);
    free(body_out);
    return st;
}

static ml_status optional_make(ml_kernel_ctx *ctx) {
    const ml_value *v = ml_input_value(ctx, 0);
    if (!v) {
        ml_value *none;
        ML_TRY(ml_value_new_none(&none));
        return ml_set_output(ctx, 0, none);
    }
    return set_clone(ctx, 0, v);
}

static ml_status optional_has_element(ml_kernel_ctx *ctx) {
    const ml_value *v = ml_input_value(ctx, 0);
    ml_tensor *t;
    ML_TRY(ml_output_tensor(ctx, 0, ML_BOOL, 0, NULL, &t));
    *(uint8_t *)t->data = v && v->kind != ML_VALUE_NONE;
    return ML_STATUS_OK;
}

static ml_status optional_get_element(ml_kernel_ctx *ctx) {
    const ml_value *v = ml_input_value(ctx, 0);
    if (!v || v->kind == ML_VALUE_NONE)
        return ml_node_error(ctx->node, ML_ERR_INVALID_ARGUMENT, "the optional input is empty");
    return set_clone(ctx, 0, v);
}

const ml_kernel ml_kernels_sequence[] = {
    {"", "SequenceEmpty", 11, 0, NULL, NULL, sequence_empty},
    {"", "SequenceConstruct", 11, 0, NULL, NULL, sequence_construct},
    {"", "SequenceAt", 11, 0, NULL, NULL, sequence_at},
    {"", "SequenceInsert", 11, 0, NULL, NULL, sequence_insert},
    {"", "SequenceErase", 11, 0, NULL, NULL, sequence_erase},
    {"", "SequenceLength", 11, 0, NULL, NULL, sequence_length},
    {"", "SplitToSequence", 11, 0, NULL, NULL, split_to_sequence},
    {"", "ConcatFromSequence", 11, 0, NULL, NULL, concat_from_sequence},
    {"", "SequenceMap", 17, 0, NULL, NULL, sequence_map},
    {"", "Optional", 15, 0, NULL, NULL, optional_make},
    {"", "OptionalHasElement", 15, 0, NULL, NULL, optional_has_element},
    {"", "OptionalGetElement", 15, 0, NULL, NULL, optional_get_element},
    {0},
};
