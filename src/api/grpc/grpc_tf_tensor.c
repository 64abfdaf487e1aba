/* TensorFlow TensorProto <-> mlambda tensors (see grpc_tf_tensor.h). */
#include "api/grpc/grpc_tf_tensor.h"

#include <stdbool.h>
#include <string.h>

#include "api/grpc/grpc_services.h"

static const struct {
    Tensorflow__DataType tf;
    ml_dtype dt;
} dtype_map[] = {
    {TENSORFLOW__DATA_TYPE__DT_FLOAT, ML_FLOAT},
    {TENSORFLOW__DATA_TYPE__DT_DOUBLE, ML_DOUBLE},
    {TENSORFLOW__DATA_TYPE__DT_INT32, ML_INT32},
    {TENSORFLOW__DATA_TYPE__DT_UINT8, ML_UINT8},
    {TENSORFLOW__DATA_TYPE__DT_INT16, ML_INT16},
    {TENSORFLOW__DATA_TYPE__DT_INT8, ML_INT8},
    {TENSORFLOW__DATA_TYPE__DT_STRING, ML_STRING},
    {TENSORFLOW__DATA_TYPE__DT_INT64, ML_INT64},
    {TENSORFLOW__DATA_TYPE__DT_BOOL, ML_BOOL},
    {TENSORFLOW__DATA_TYPE__DT_BFLOAT16, ML_BFLOAT16},
    {TENSORFLOW__DATA_TYPE__DT_UINT16, ML_UINT16},
    {TENSORFLOW__DATA_TYPE__DT_HALF, ML_FLOAT16},
    {TENSORFLOW__DATA_TYPE__DT_UINT32, ML_UINT32},
    {TENSORFLOW__DATA_TYPE__DT_UINT64, ML_UINT64},
};

ml_dtype ml_tf_dtype_to_ml(Tensorflow__DataType tf) {
    for (size_t i = 0; i < sizeof dtype_map / sizeof dtype_map[0]; i++)
        if (dtype_map[i].tf == tf) return dtype_map[i].dt;
    return ML_UNDEFINED;
}

Tensorflow__DataType ml_tf_dtype_from_ml(ml_dtype dt) {
    for (size_t i = 0; i < sizeof dtype_map / sizeof dtype_map[0]; i++)
        if (dtype_map[i].dt == dt) return dtype_map[i].tf;
    return TENSORFLOW__DATA_TYPE__DT_INVALID;
}

/* The typed value list of a TensorProto for a dtype: count and element reader. */
static size_t typed_count(const Tensorflow__TensorProto *p, ml_dtype dt) {
    switch (dt) {
    case ML_FLOAT:
        return p->n_float_val;
    case ML_DOUBLE:
        return p->n_double_val;
    case ML_INT8:
    case ML_INT16:
    case ML_INT32:
    case ML_UINT8:
    case ML_UINT16:
        return p->n_int_val;
    case ML_INT64:
        return p->n_int64_val;
    case ML_BOOL:
        return p->n_bool_val;
    case ML_STRING:
        return p->n_string_val;
    case ML_FLOAT16:
    case ML_BFLOAT16:
        return p->n_half_val;
    case ML_UINT32:
        return p->n_uint32_val;
    case ML_UINT64:
        return p->n_uint64_val;
    default:
        return 0;
    }
}

static ml_status copy_typed(const char *name, const Tensorflow__TensorProto *p, ml_tensor *t,
                            size_t i, size_t src) {
    switch (t->dtype) {
    case ML_FLOAT:
        ((float *)t->data)[i] = p->float_val[src];
        break;
    case ML_DOUBLE:
        ((double *)t->data)[i] = p->double_val[src];
        break;
    case ML_INT64:
        ((int64_t *)t->data)[i] = p->int64_val[src];
        break;
    case ML_UINT64:
        ((uint64_t *)t->data)[i] = p->uint64_val[src];
        break;
    case ML_UINT32:
        ((uint32_t *)t->data)[i] = p->uint32_val[src];
        break;
    case ML_BOOL:
        ((uint8_t *)t->data)[i] = p->bool_val[src] != 0;
        break;
    case ML_FLOAT16:
    case ML_BFLOAT16:
        ((uint16_t *)t->data)[i] = (uint16_t)p->half_val[src];
        break;
    case ML_STRING:
        return ml_tensor_set_string(t, i, (const char *)p->string_val[src].data,
                                    p->string_val[src].len);
    default: {
        double v = p->int_val[src];
        ml_tensor_set_f64(t, i, v);
        if (ml_tensor_get_f64(t, i) != v)
            return ml_error(ML_ERR_INVALID_ARGUMENT, "input '%s': value %.0f does not fit %s", name,
                            v, ml_dtype_name(t->dtype));
    }
    }
    return ML_STATUS_OK;
}

/* TensorProto -> tensor. Without a shape (or with unknown_rank) the values
 * form a 1-D tensor; a single value fills a larger shape (TF's rule). */
ml_status ml_tf_tensor_from_proto(const char *name, const Tensorflow__TensorProto *p,
                                  ml_tensor **out) {
    *out = NULL;
    ml_dtype dt = ml_tf_dtype_to_ml(p->dtype);
    if (dt == ML_UNDEFINED)
        return ml_error(ML_ERR_INVALID_ARGUMENT, "input '%s': dtype %d is not supported", name,
                        (int)p->dtype);
    bool raw = p->tensor_content.len > 0;
    if (raw && dt == ML_STRING)
        return ml_error(ML_ERR_INVALID_ARGUMENT, "input '%s': DT_STRING values go in string_val",
                        name);
    size_t have = raw ? p->tensor_content.len / ml_dtype_size(dt) : typed_count(p, dt);
    int64_t dims[ML_MAX_RANK];
    size_t rank;
    if (!p->tensor_shape || p->tensor_shape->unknown_rank) {
        rank = 1;
        dims[0] = (int64_t)have;
    } else {
        rank = p->tensor_shape->n_dim;
        if (rank > ML_MAX_RANK)
            return ml_error(ML_ERR_INVALID_ARGUMENT, "input '%s': rank %zu is over the limit %d",
                            name, rank, ML_MAX_RANK);
        for (size_t i = 0; i < rank; i++) dims[i] = p->tensor_shape->dim[i]->size;
    }
    size_t n;
    ML_TRY(ml_grpc_check_shape(name, rank, dims, &n));
    if (raw && p->tensor_content.len != n * ml_dtype_size(dt))
        return ml_error(ML_ERR_INVALID_ARGUMENT,
                        "input '%s': tensor_content has %zu bytes, the shape needs %zu", name,
                        p->tensor_content.len, n * ml_dtype_size(dt));
    if (!raw && have != n && !(have == 1 && n > 1))
        return ml_error(ML_ERR_INVALID_ARGUMENT,
                        "input '%s': the shape holds %zu elements but %zu values were sent", name,
                        n, have);
    ml_tensor *t;
    ML_TRY(ml_tensor_create(dt, (int)rank, dims, &t));
    if (raw) {
        if (n) memcpy(t->data, p->tensor_content.data, p->tensor_content.len);
    } else {
        for (size_t i = 0; i < n; i++) {
            ml_status st = copy_typed(name, p, t, i, have == 1 ? 0 : i);
            if (st) {
                ml_tensor_free(t);
                return st;
            }
        }
    }
    *out = t;
    return ML_STATUS_OK;
}

Tensorflow__TensorShapeProto *ml_tf_shape_proto(ml_arena *a, int rank, const int64_t *dims) {
    Tensorflow__TensorShapeProto *s = ml_arena_alloc(a, sizeof *s, 0);
    if (!s) return NULL;
    tensorflow__tensor_shape_proto__init(s);
    if (rank < 0) {
        s->unknown_rank = 1;
        return s;
    }
    s->n_dim = (size_t)rank;
    s->dim = ml_arena_alloc(a, sizeof *s->dim * (size_t)(rank ? rank : 1), 0);
    if (!s->dim) return NULL;
    for (int i = 0; i < rank; i++) {
        s->dim[i] = ml_arena_alloc(a, sizeof **s->dim, 0);
        if (!s->dim[i]) return NULL;
        tensorflow__tensor_shape_proto__dim__init(s->dim[i]);
        s->dim[i]->size = dims[i];
    }
    return s;
}

/* tensor -> TensorProto with typed *_val fields (views into t where the
 * element types match). */
ml_status ml_tf_tensor_to_proto(ml_arena *a, const ml_tensor *t, Tensorflow__TensorProto **out) {
    Tensorflow__TensorProto *p = ml_arena_alloc(a, sizeof *p, 0);
    if (!p) return ml_error(ML_ERR_OUT_OF_MEMORY, "response");
    tensorflow__tensor_proto__init(p);
    p->dtype = ml_tf_dtype_from_ml(t->dtype);
    if (p->dtype == TENSORFLOW__DATA_TYPE__DT_INVALID)
        return ml_error(ML_ERR_UNSUPPORTED, "%s outputs have no TF-Serving dtype",
                        ml_dtype_name(t->dtype));
    p->tensor_shape = ml_tf_shape_proto(a, t->rank, t->dims);
    if (!p->tensor_shape) return ml_error(ML_ERR_OUT_OF_MEMORY, "response");
    size_t n = ml_tensor_numel(t);
    size_t cap = n ? n : 1;
    switch (t->dtype) {
    case ML_FLOAT:
        p->n_float_val = n, p->float_val = t->data;
        break;
    case ML_DOUBLE:
        p->n_double_val = n, p->double_val = t->data;
        break;
    case ML_INT64:
        p->n_int64_val = n, p->int64_val = t->data;
        break;
    case ML_UINT64:
        p->n_uint64_val = n, p->uint64_val = t->data;
        break;
    case ML_UINT32:
        p->n_uint32_val = n, p->uint32_val = t->data;
        break;
    case ML_STRING: {
        ProtobufCBinaryData *s = ml_arena_alloc(a, sizeof *s * cap, 0);
        if (!s) return ml_error(ML_ERR_OUT_OF_MEMORY, "response");
        const ml_str *src = t->data;
        for (size_t i = 0; i < n; i++)
            s[i] = (ProtobufCBinaryData){src[i].len, (uint8_t *)src[i].data};
        p->n_string_val = n, p->string_val = s;
        break;
    }
    case ML_BOOL: {
        protobuf_c_boolean *b = ml_arena_alloc(a, sizeof *b * cap, 0);
        if (!b) return ml_error(ML_ERR_OUT_OF_MEMORY, "response");
        for (size_t i = 0; i < n; i++) b[i] = ((const uint8_t *)t->data)[i] != 0;
        p->n_bool_val = n, p->bool_val = b;
        break;
    }
    default: { /* int8/16/32, uint8/16 in int_val; halves as bit patterns in half_val */
        int32_t *v = ml_arena_alloc(a, sizeof *v * cap, 0);
        if (!v) return ml_error(ML_ERR_OUT_OF_MEMORY, "response");
        bool half = t->dtype == ML_FLOAT16 || t->dtype == ML_BFLOAT16;
        for (size_t i = 0; i < n; i++)
            v[i] = half ? ((const uint16_t *)t->data)[i] : (int32_t)ml_tensor_get_f64(t, i);
        if (half)
            p->n_half_val = n, p->half_val = v;
        else
            p->n_int_val = n, p->int_val = v;
    }
    }
    *out = p;
    return ML_STATUS_OK;
}
