/* Attribute/input/output helpers declared in kernel.h. */
#include "ops/kernel.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const ml_attr *ml_node_attr(const ml_node *node, const char *name) {
    for (size_t i = 0; i < node->n_attrs; i++)
        if (strcmp(node->attrs[i].name, name) == 0) return &node->attrs[i];
    return NULL;
}

int64_t ml_attr_int(const ml_node *node, const char *name, int64_t dflt) {
    const ml_attr *a = ml_node_attr(node, name);
    return a && a->type == ML_ATTR_INT ? a->i : dflt;
}

float ml_attr_float(const ml_node *node, const char *name, float dflt) {
    const ml_attr *a = ml_node_attr(node, name);
    if (!a) return dflt;
    if (a->type == ML_ATTR_FLOAT) return a->f;
    if (a->type == ML_ATTR_INT) return (float)a->i; /* some exporters write ints for floats */
    return dflt;
}

const char *ml_attr_string(const ml_node *node, const char *name, const char *dflt) {
    const ml_attr *a = ml_node_attr(node, name);
    return a && a->type == ML_ATTR_STRING ? a->s.data : dflt;
}

size_t ml_attr_ints(const ml_node *node, const char *name, const int64_t **out) {
    const ml_attr *a = ml_node_attr(node, name);
    if (a && a->type == ML_ATTR_INTS) {
        *out = a->ints;
        return a->n;
    }
    *out = NULL;
    return 0;
}

size_t ml_attr_floats(const ml_node *node, const char *name, const float **out) {
    const ml_attr *a = ml_node_attr(node, name);
    if (a && a->type == ML_ATTR_FLOATS) {
        *out = a->floats;
        return a->n;
    }
    *out = NULL;
    return 0;
}

size_t ml_attr_strings(const ml_node *node, const char *name, const ml_str **out) {
    const ml_attr *a = ml_node_attr(node, name);
    if (a && a->type == ML_ATTR_STRINGS) {
        *out = a->strings;
        return a->n;
    }
    *out = NULL;
    return 0;
}

const ml_tensor *ml_attr_tensor(const ml_node *node, const char *name) {
    const ml_attr *a = ml_node_attr(node, name);
    return a && a->type == ML_ATTR_TENSOR ? a->t : NULL;
}

const ml_graph *ml_attr_graph(const ml_node *node, const char *name) {
    const ml_attr *a = ml_node_attr(node, name);
    return a && a->type == ML_ATTR_GRAPH ? a->g : NULL;
}

const ml_value *ml_input_value(const ml_kernel_ctx *ctx, size_t i) {
    return i < ctx->n_inputs ? ctx->inputs[i] : NULL;
}

const ml_tensor *ml_input(const ml_kernel_ctx *ctx, size_t i) {
    const ml_value *v = ml_input_value(ctx, i);
    return v && v->kind == ML_VALUE_TENSOR ? v->tensor : NULL;
}

ml_status ml_require_input(const ml_kernel_ctx *ctx, size_t i, const ml_tensor **out) {
    const ml_value *v = ml_input_value(ctx, i);
    if (!v) return ml_node_error(ctx->node, ML_ERR_INVALID_ARGUMENT, "input %zu is required", i);
    if (v->kind != ML_VALUE_TENSOR)
        return ml_node_error(ctx->node, ML_ERR_INVALID_ARGUMENT, "input %zu must be a tensor", i);
    *out = v->tensor;
    return ML_STATUS_OK;
}

ml_status ml_output_tensor(ml_kernel_ctx *ctx, size_t i, ml_dtype dtype, int rank,
                           const int64_t *dims, ml_tensor **out) {
    *out = NULL;
    if (i >= ctx->n_outputs)
        return ml_node_error(ctx->node, ML_ERR_INTERNAL, "output %zu of %zu", i, ctx->n_outputs);
    return ctx->env->alloc_output(ctx, i, dtype, rank, dims, out);
}

ml_status ml_set_output(ml_kernel_ctx *ctx, size_t i, ml_value *v) {
    if (i >= ctx->n_outputs) {
        ml_value_free(v);
        return ml_node_error(ctx->node, ML_ERR_INTERNAL, "output %zu of %zu", i, ctx->n_outputs);
    }
    ml_value_free(ctx->outputs[i]);
    ctx->outputs[i] = v;
    return ML_STATUS_OK;
}

ml_status ml_output_view(ml_kernel_ctx *ctx, size_t i, const ml_tensor *src, int rank,
                         const int64_t *dims) {
    ml_tensor *t;
    ML_TRY(ml_tensor_view(src, rank, dims, &t));
    ml_value *v;
    ML_TRY(ml_value_from_tensor(t, &v));
    return ml_set_output(ctx, i, v);
}

bool ml_output_wanted(const ml_kernel_ctx *ctx, size_t i) {
    return i < ctx->n_outputs && i < ctx->node->n_outputs && ctx->node->output_names[i][0] != '\0';
}

ml_status ml_node_error(const ml_node *node, ml_code code, const char *fmt, ...) {
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return ml_error(code, "%s%s%s node '%s': %s", node->domain[0] ? node->domain : "",
                    node->domain[0] ? "." : "", node->op_type, node->name ? node->name : "", msg);
}

ml_status ml_normalize_axis(const ml_node *node, int64_t axis, int rank, int *out) {
    int64_t a = axis < 0 ? axis + rank : axis;
    if (a < 0 || a >= (rank > 0 ? rank : 1))
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT, "axis %lld is out of range for rank %d",
                             (long long)axis, rank);
    *out = (int)a;
    return ML_STATUS_OK;
}
