#include "cli/tensor_json.h"

#include <string.h>

const char *ml_kserve_datatype(const char *t) {
    static const char *map[][2] = {
        {"float", "FP32"},   {"double", "FP64"},   {"float16", "FP16"},  {"bfloat16", "BF16"},
        {"int8", "INT8"},    {"int16", "INT16"},   {"int32", "INT32"},   {"int64", "INT64"},
        {"uint8", "UINT8"},  {"uint16", "UINT16"}, {"uint32", "UINT32"}, {"uint64", "UINT64"},
        {"bool", "BOOL"},    {"string", "BYTES"},  {"bytes", "BYTES"},   {"float32", "FP32"},
        {"float64", "FP64"},
    };
    if (!t) return NULL;
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (!strcmp(map[i][0], t)) return map[i][1];
    return NULL;
}

static ml_status flatten_rec(const json_t *v, int depth, json_t *shape, size_t rank,
                             const char *what, json_t *data) {
    if ((size_t)depth == rank) {
        if (json_is_array(v) || json_is_object(v))
            return ml_error(ML_ERR_INVALID_ARGUMENT,
                            "'%s' is not rectangular: expected a value at depth %d", what, depth);
        json_array_append(data, (json_t *)v);
        return NULL;
    }
    if (!json_is_array(v) ||
        json_array_size(v) != (size_t)json_integer_value(json_array_get(shape, (size_t)depth)))
        return ml_error(ML_ERR_INVALID_ARGUMENT,
                        "'%s' is not rectangular: every list at depth %d must have %lld elements",
                        what, depth,
                        (long long)json_integer_value(json_array_get(shape, (size_t)depth)));
    size_t i;
    const json_t *x;
    json_array_foreach((json_t *)v, i, x)
        ML_TRY(flatten_rec(x, depth + 1, shape, rank, what, data));
    return NULL;
}

ml_status ml_tensor_flatten(const json_t *nested, const char *what, json_t **shape, json_t **data) {
    json_t *sh = json_array();
    const json_t *cur = nested;
    /* The first element at each level fixes the shape; flatten_rec checks the rest. */
    while (json_is_array(cur)) {
        if (json_array_size(sh) >= ML_TENSOR_MAX_RANK) {
            json_decref(sh);
            return ml_error(ML_ERR_INVALID_ARGUMENT, "'%s' is nested deeper than %d levels", what,
                            ML_TENSOR_MAX_RANK);
        }
        json_array_append_new(sh, json_integer((json_int_t)json_array_size(cur)));
        cur = json_array_size(cur) ? json_array_get(cur, 0) : NULL;
    }
    json_t *d = json_array();
    ml_status st = flatten_rec(nested, 0, sh, json_array_size(sh), what, d);
    if (st) {
        json_decref(sh);
        json_decref(d);
        return st;
    }
    *shape = sh;
    *data = d;
    return NULL;
}

static json_t *nest_rec(const json_t *shape, size_t depth, const json_t *data, size_t *pos) {
    if (depth == json_array_size(shape)) return json_incref(json_array_get(data, (*pos)++));
    json_t *arr = json_array();
    json_int_t n = json_integer_value(json_array_get(shape, depth));
    for (json_int_t i = 0; i < n; i++) {
        json_t *x = nest_rec(shape, depth + 1, data, pos);
        if (!x) {
            json_decref(arr);
            return NULL;
        }
        json_array_append_new(arr, x);
    }
    return arr;
}

ml_status ml_tensor_nest(const json_t *shape, const json_t *data, json_t **nested) {
    if (!json_is_array(shape) || !json_is_array(data) ||
        json_array_size(shape) > ML_TENSOR_MAX_RANK)
        return ml_error(ML_ERR_INVALID_ARGUMENT, "tensor needs a shape list and a data list");
    size_t count = 1;
    size_t i;
    json_t *d;
    json_array_foreach((json_t *)shape, i, d) {
        if (!json_is_integer(d) || json_integer_value(d) < 0)
            return ml_error(ML_ERR_INVALID_ARGUMENT, "tensor shape has a negative dimension");
        count *= (size_t)json_integer_value(d);
    }
    if (count != json_array_size(data))
        return ml_error(ML_ERR_INVALID_ARGUMENT, "tensor shape holds %zu elements but data has %zu",
                        count, json_array_size(data));
    size_t pos = 0;
    *nested = nest_rec(shape, 0, data, &pos);
    return *nested ? NULL : ml_error(ML_ERR_INVALID_ARGUMENT, "tensor data is too short");
}

json_t *ml_tensor_wrap(json_t *value, const json_t *contract_shape) {
    size_t rank = json_is_array(contract_shape) ? json_array_size(contract_shape) : 1;
    for (size_t i = 0; i < rank; i++) value = json_pack("[o]", value);
    return value;
}
