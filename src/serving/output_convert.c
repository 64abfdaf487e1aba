/* Sequence and map outputs as tensors; the rules are in output_convert.h. */
#include "serving/output_convert.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static bool is_string(ml_dtype dt) {
    return dt == ML_STRING;
}

/* Copies element i of src into element j of dst (same dtype). */
static ml_status copy_elem(ml_tensor *dst, size_t j, const ml_tensor *src, size_t i) {
    if (is_string(src->dtype)) {
        const ml_str *s = &ML_TENSOR_DATA(src, const ml_str)[i];
        return ml_tensor_set_string(dst, j, s->data, s->len);
    }
    size_t es = ml_dtype_size(src->dtype);
    memcpy((char *)dst->data + j * es, (const char *)src->data + i * es, es);
    return NULL;
}

static bool key_equal(const ml_tensor *a, size_t i, const ml_tensor *b, size_t j) {
    if (a->dtype != b->dtype) return false;
    if (is_string(a->dtype)) {
        const ml_str *x = &ML_TENSOR_DATA(a, const ml_str)[i];
        const ml_str *y = &ML_TENSOR_DATA(b, const ml_str)[j];
        return x->len == y->len && memcmp(x->data, y->data, x->len) == 0;
    }
    size_t es = ml_dtype_size(a->dtype);
    return memcmp((const char *)a->data + i * es, (const char *)b->data + j * es, es) == 0;
}

static bool same_keys(const ml_value *a, const ml_value *b) {
    size_t n = ml_tensor_numel(a->keys);
    if (n != ml_tensor_numel(b->keys)) return false;
    for (size_t i = 0; i < n; i++)
        if (!key_equal(a->keys, i, b->keys, i)) return false;
    return true;
}

/* One map -> [K] values. */
static ml_status map_values(const ml_value *m, ml_tensor **out) {
    int64_t k = (int64_t)ml_tensor_numel(m->values);
    ML_TRY(ml_tensor_create(m->values->dtype, 1, &k, out));
    for (int64_t i = 0; i < k; i++) {
        ml_status st = copy_elem(*out, (size_t)i, m->values, (size_t)i);
        if (st) {
            ml_tensor_free(*out);
            *out = NULL;
            return st;
        }
    }
    return NULL;
}

/* JSON text of element i of a key or value tensor. */
static json_t *elem_json(const ml_tensor *t, size_t i) {
    if (is_string(t->dtype)) {
        const ml_str *s = &ML_TENSOR_DATA(t, const ml_str)[i];
        return json_stringn(s->data, s->len); /* NULL when not UTF-8 */
    }
    double v = ml_dtype_load_f64(t->dtype, t->data, i);
    if (t->dtype == ML_FLOAT || t->dtype == ML_DOUBLE || t->dtype == ML_FLOAT16 ||
        t->dtype == ML_BFLOAT16)
        return json_real(v);
    if (t->dtype == ML_BOOL) return json_boolean(v != 0);
    if (t->dtype == ML_INT64) return json_integer(ML_TENSOR_DATA(t, const int64_t)[i]);
    return json_integer((json_int_t)v);
}

/* A map as the text of a JSON object (keys as strings, as JSON requires). */
static ml_status map_json_text(const ml_value *m, const char *name, char **text) {
    json_t *obj = json_object();
    size_t n = ml_tensor_numel(m->keys);
    ml_status st = obj ? NULL : ml_error(ML_ERR_OUT_OF_MEMORY, "out of memory");
    for (size_t i = 0; !st && i < n; i++) {
        char buf[32];
        const char *key = buf;
        size_t key_len;
        if (is_string(m->keys->dtype)) {
            const ml_str *s = &ML_TENSOR_DATA(m->keys, const ml_str)[i];
            key = s->data;
            key_len = s->len;
        } else {
            /* int64 keys are printed exactly, not through a double */
            long long k = m->keys->dtype == ML_INT64
                              ? (long long)ML_TENSOR_DATA(m->keys, const int64_t)[i]
                              : (long long)ml_dtype_load_f64(m->keys->dtype, m->keys->data, i);
            key_len = (size_t)snprintf(buf, sizeof buf, "%lld", k);
        }
        json_t *v = elem_json(m->values, i);
        if (!v || json_object_setn_new(obj, key, key_len, v) != 0)
            st = ml_error(ML_ERR_UNSUPPORTED,
                          "output '%s' has a map key or value that is not valid UTF-8 text", name);
    }
    if (!st && !(*text = json_dumps(obj, JSON_COMPACT)))
        st = ml_error(ML_ERR_OUT_OF_MEMORY, "out of memory");
    json_decref(obj);
    return st;
}

static ml_status seq_of_maps(const ml_value *v, const char *name, ml_tensor **out) {
    const ml_value *first = v->items[0];
    bool dense = true;
    for (size_t r = 0; r < v->n_items; r++) {
        const ml_value *m = v->items[r];
        if (m->kind != ML_VALUE_MAP)
            return ml_error(ML_ERR_UNSUPPORTED,
                            "output '%s' mixes maps with other values in one sequence", name);
        if (m->values->dtype != first->values->dtype || !same_keys(m, first)) dense = false;
    }
    int64_t rows = (int64_t)v->n_items;
    if (!dense) {
        ML_TRY(ml_tensor_create(ML_STRING, 1, &rows, out));
        for (size_t r = 0; r < v->n_items; r++) {
            char *text = NULL;
            ml_status st = map_json_text(v->items[r], name, &text);
            if (!st) st = ml_tensor_set_string(*out, r, text, strlen(text));
            free(text);
            if (st) {
                ml_tensor_free(*out);
                *out = NULL;
                return st;
            }
        }
        return NULL;
    }
    int64_t dims[2] = {rows, (int64_t)ml_tensor_numel(first->keys)};
    ML_TRY(ml_tensor_create(first->values->dtype, 2, dims, out));
    for (size_t r = 0; r < v->n_items; r++)
        for (int64_t c = 0; c < dims[1]; c++) {
            ml_status st =
                copy_elem(*out, r * (size_t)dims[1] + (size_t)c, v->items[r]->values, (size_t)c);
            if (st) {
                ml_tensor_free(*out);
                *out = NULL;
                return st;
            }
        }
    return NULL;
}

static ml_status seq_of_tensors(const ml_value *v, const char *name, ml_tensor **out) {
    const ml_tensor *first = v->items[0]->tensor;
    for (size_t r = 0; r < v->n_items; r++) {
        const ml_tensor *t = v->items[r]->kind == ML_VALUE_TENSOR ? v->items[r]->tensor : NULL;
        if (!t)
            return ml_error(ML_ERR_UNSUPPORTED,
                            "output '%s' is a sequence of sequences, which the API cannot "
                            "send; return a tensor from the model instead",
                            name);
        if (t->dtype != first->dtype || !ml_shape_equal(t->rank, t->dims, first->rank, first->dims))
            return ml_error(ML_ERR_UNSUPPORTED,
                            "output '%s' is a sequence of tensors of different shapes or types, "
                            "which cannot be sent as one tensor; concatenate or pad them in the "
                            "model",
                            name);
    }
    if (first->rank + 1 > ML_MAX_RANK)
        return ml_error(ML_ERR_UNSUPPORTED, "output '%s': stacked rank exceeds %d", name,
                        ML_MAX_RANK);
    int64_t dims[ML_MAX_RANK];
    dims[0] = (int64_t)v->n_items;
    for (int i = 0; i < first->rank; i++) dims[i + 1] = first->dims[i];
    ML_TRY(ml_tensor_create(first->dtype, first->rank + 1, dims, out));
    size_t per = ml_tensor_numel(first);
    for (size_t r = 0; r < v->n_items; r++) {
        const ml_tensor *t = v->items[r]->tensor;
        if (!is_string(t->dtype)) {
            memcpy((char *)(*out)->data + r * ml_tensor_nbytes(first), t->data,
                   ml_tensor_nbytes(t));
            continue;
        }
        for (size_t i = 0; i < per; i++) {
            ml_status st = copy_elem(*out, r * per + i, t, i);
            if (st) {
                ml_tensor_free(*out);
                *out = NULL;
                return st;
            }
        }
    }
    return NULL;
}

ml_status ml_output_to_tensor(const ml_value *v, const char *name, ml_tensor **out) {
    *out = NULL;
    switch (v->kind) {
    case ML_VALUE_TENSOR:
        return ml_tensor_view(v->tensor, v->tensor->rank, v->tensor->dims, out);
    case ML_VALUE_MAP:
        return map_values(v, out);
    case ML_VALUE_SEQUENCE:
        if (v->n_items == 0) {
            int64_t zero = 0;
            ml_dtype dt = v->elem_dtype != ML_UNDEFINED ? v->elem_dtype : ML_FLOAT;
            return ml_tensor_create(dt, 1, &zero, out);
        }
        if (v->items[0]->kind == ML_VALUE_MAP) return seq_of_maps(v, name, out);
        return seq_of_tensors(v, name, out);
    default:
        return ml_error(ML_ERR_UNSUPPORTED,
                        "output '%s' has no value (an optional output the model left empty)", name);
    }
}
