#include "ops/harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

ml_attr ml_test_attr_int(const char *name, int64_t v) {
    return (ml_attr){.name = name, .type = ML_ATTR_INT, .i = v};
}
ml_attr ml_test_attr_float(const char *name, float v) {
    return (ml_attr){.name = name, .type = ML_ATTR_FLOAT, .f = v};
}
ml_attr ml_test_attr_string(const char *name, const char *v) {
    return (ml_attr){.name = name, .type = ML_ATTR_STRING, .s = {(char *)v, strlen(v)}};
}
ml_attr ml_test_attr_ints(const char *name, const int64_t *v, size_t n) {
    return (ml_attr){.name = name, .type = ML_ATTR_INTS, .ints = (int64_t *)v, .n = n};
}
ml_attr ml_test_attr_floats(const char *name, const float *v, size_t n) {
    return (ml_attr){.name = name, .type = ML_ATTR_FLOATS, .floats = (float *)v, .n = n};
}
ml_attr ml_test_attr_tensor(const char *name, ml_tensor *t) {
    return (ml_attr){.name = name, .type = ML_ATTR_TENSOR, .t = t};
}

static ml_status harness_alloc(ml_kernel_ctx *ctx, size_t i, ml_dtype dtype, int rank,
                               const int64_t *dims, ml_tensor **out) {
    ml_tensor *t;
    ML_TRY(ml_tensor_create(dtype, rank, dims, &t));
    ml_value *v;
    ML_TRY(ml_value_from_tensor(t, &v));
    ML_TRY(ml_set_output(ctx, i, v));
    *out = t;
    return ML_STATUS_OK;
}

static ml_status harness_subgraph(ml_kernel_ctx *ctx, const ml_graph *g, size_t n_in,
                                  ml_value *const *in, size_t n_out, ml_value **out) {
    return ml_error(ML_ERR_UNSUPPORTED, "the ops harness cannot run subgraphs");
}

static const ml_kernel_env harness_env = {harness_alloc, harness_subgraph};

static ml_threadpool *harness_pool; /* NULL: kernels run single-threaded */
void ml_test_set_pool(ml_threadpool *pool) {
    harness_pool = pool;
}

ml_status ml_test_run(const char *domain, const char *op_type, int opset, const ml_attr *attrs,
                      size_t n_attrs, size_t n_in, const ml_tensor *const *inputs, size_t n_out,
                      ml_tensor **outputs) {
    return ml_test_run_const(domain, op_type, opset, attrs, n_attrs, n_in, inputs, 0, n_out,
                             outputs);
}

ml_status ml_test_run_const(const char *domain, const char *op_type, int opset,
                            const ml_attr *attrs, size_t n_attrs, size_t n_in,
                            const ml_tensor *const *inputs, unsigned const_mask, size_t n_out,
                            ml_tensor **outputs) {
    const ml_kernel *k = ml_find_kernel(domain, op_type, opset);
    if (!k)
        return ml_error(ML_ERR_UNSUPPORTED, "no kernel for %s/%s at opset %d", domain, op_type,
                        opset);
    const char *in_names[32], *out_names[32];
    const ml_tensor *consts[32];
    ml_value *in_values[32] = {0};
    ml_value *out_values[32] = {0};
    if (n_in > 32 || n_out > 32)
        return ml_error(ML_ERR_INVALID_ARGUMENT, "too many inputs/outputs");
    ml_status st = ML_STATUS_OK;
    for (size_t i = 0; i < n_in; i++) {
        in_names[i] = inputs[i] ? "in" : "";
        consts[i] = (const_mask >> i) & 1u ? inputs[i] : NULL;
        if (inputs[i] && !st) {
            ml_tensor *view;
            st = ml_tensor_view(inputs[i], inputs[i]->rank, inputs[i]->dims, &view);
            if (!st) st = ml_value_from_tensor(view, &in_values[i]);
        }
    }
    for (size_t i = 0; i < n_out; i++) out_names[i] = "out";
    ml_node node = {.name = "test",
                    .op_type = op_type,
                    .domain = domain,
                    .opset = opset,
                    .n_inputs = n_in,
                    .input_names = in_names,
                    .n_outputs = n_out,
                    .output_names = out_names,
                    .n_attrs = n_attrs,
                    .attrs = (ml_attr *)attrs,
                    .const_inputs = consts,
                    .kernel = k};
    if (!st && k->init) st = k->init(&node, &node.state);
    if (!st) {
        ml_kernel_ctx ctx = {.node = &node,
                             .n_inputs = n_in,
                             .inputs = in_values,
                             .n_outputs = n_out,
                             .outputs = out_values,
                             .pool = harness_pool,
                             .env = &harness_env};
        st = k->run(&ctx);
    }
    if (k->destroy && node.state) k->destroy(node.state);
    for (size_t i = 0; i < n_in; i++) ml_value_free(in_values[i]);
    for (size_t i = 0; i < n_out; i++) {
        outputs[i] = NULL;
        if (!st && out_values[i] && out_values[i]->kind == ML_VALUE_TENSOR) {
            outputs[i] = out_values[i]->tensor;
            out_values[i]->tensor = NULL;
        }
        ml_value_free(out_values[i]);
    }
    return st;
}

ml_tensor *ml_test_tensor(ml_dtype dt, int rank, const int64_t *dims, const void *data) {
    ml_tensor *t;
    ml_status st = ml_tensor_create(dt, rank, dims, &t);
    if (st) {
        ml_status_free(st);
        return NULL;
    }
    if (data && dt != ML_STRING) memcpy(t->data, data, ml_tensor_nbytes(t));
    return t;
}
ml_tensor *ml_test_f32(int rank, const int64_t *dims, const float *data) {
    return ml_test_tensor(ML_FLOAT, rank, dims, data);
}
ml_tensor *ml_test_i64(int rank, const int64_t *dims, const int64_t *data) {
    return ml_test_tensor(ML_INT64, rank, dims, data);
}
ml_tensor *ml_test_strings(int rank, const int64_t *dims, const char *const *data) {
    ml_tensor *t = ml_test_tensor(ML_STRING, rank, dims, NULL);
    if (!t) return NULL;
    for (size_t i = 0; i < ml_tensor_numel(t); i++) {
        ml_status st = ml_tensor_set_string(t, i, data[i], strlen(data[i]));
        if (st) {
            ml_status_free(st);
            ml_tensor_free(t);
            return NULL;
        }
    }
    return t;
}

ml_tensor *ml_test_run1(const char *op, int opset, const ml_attr *attrs, size_t na, size_t nin,
                        const ml_tensor *const *in) {
    ml_tensor *out = NULL;
    ml_status st = ml_test_run("", op, opset, attrs, na, nin, in, 1, &out);
    if (st) {
        fprintf(stderr, "    %s: %s\n", op, ml_status_message(st));
        ml_status_free(st);
        return NULL;
    }
    return out;
}

bool ml_test_dims_are(const ml_tensor *t, int rank, const int64_t *dims) {
    return t && ml_shape_equal(t->rank, t->dims, rank, dims);
}

bool ml_test_f32_are(const ml_tensor *t, const float *v, size_t n) {
    if (!t || t->dtype != ML_FLOAT || ml_tensor_numel(t) != n) return false;
    for (size_t i = 0; i < n; i++)
        if (ML_TENSOR_DATA(t, float)[i] != v[i]) return false;
    return true;
}

bool ml_test_i64_are(const ml_tensor *t, const int64_t *v, size_t n) {
    if (!t || t->dtype != ML_INT64 || ml_tensor_numel(t) != n) return false;
    for (size_t i = 0; i < n; i++)
        if (ML_TENSOR_DATA(t, int64_t)[i] != v[i]) return false;
    return true;
}

ml_tensor *ml_test_iota_f32(int rank, const int64_t *dims) {
    ml_tensor *t = ml_test_f32(rank, dims, NULL);
    for (size_t i = 0; i < ml_tensor_numel(t); i++) ML_TENSOR_DATA(t, float)[i] = (float)i;
    return t;
}

ml_tensor *ml_test_vec_i64(size_t n, const int64_t *v) {
    int64_t d = (int64_t)n;
    return ml_test_i64(1, &d, v);
}
