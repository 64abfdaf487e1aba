#include "core/value.h"

#include <stdlib.h>
#include <string.h>

static ml_value *new_value(ml_value_kind kind) {
    ml_value *v = calloc(1, sizeof *v);
    if (v) v->kind = kind;
    return v;
}

ml_status ml_value_from_tensor(ml_tensor *t, ml_value **out) {
    *out = NULL;
    ml_value *v = new_value(ML_VALUE_TENSOR);
    if (!v) {
        ml_tensor_free(t);
        return ml_error(ML_ERR_OUT_OF_MEMORY, "value");
    }
    v->tensor = t;
    *out = v;
    return ML_STATUS_OK;
}

ml_status ml_value_new_sequence(ml_dtype elem_dtype, ml_value **out) {
    *out = new_value(ML_VALUE_SEQUENCE);
    if (!*out) return ml_error(ML_ERR_OUT_OF_MEMORY, "sequence");
    (*out)->elem_dtype = elem_dtype;
    return ML_STATUS_OK;
}

ml_status ml_value_sequence_append(ml_value *seq, ml_value *item) {
    if (seq->kind != ML_VALUE_SEQUENCE) {
        ml_value_free(item);
        return ml_error(ML_ERR_INTERNAL, "append to a value that is not a sequence");
    }
    ml_value **items = realloc(seq->items, (seq->n_items + 1) * sizeof *items);
    if (!items) {
        ml_value_free(item);
        return ml_error(ML_ERR_OUT_OF_MEMORY, "sequence item");
    }
    items[seq->n_items++] = item;
    seq->items = items;
    if (seq->elem_dtype == ML_UNDEFINED && item->kind == ML_VALUE_TENSOR)
        seq->elem_dtype = item->tensor->dtype;
    return ML_STATUS_OK;
}

ml_status ml_value_new_map(ml_tensor *keys, ml_tensor *values, ml_value **out) {
    *out = NULL;
    ml_value *v = new_value(ML_VALUE_MAP);
    if (!v) {
        ml_tensor_free(keys);
        ml_tensor_free(values);
        return ml_error(ML_ERR_OUT_OF_MEMORY, "map");
    }
    v->keys = keys;
    v->values = values;
    *out = v;
    return ML_STATUS_OK;
}

ml_status ml_value_new_none(ml_value **out) {
    *out = new_value(ML_VALUE_NONE);
    return *out ? ML_STATUS_OK : ml_error(ML_ERR_OUT_OF_MEMORY, "value");
}

static ml_status view_of(const ml_tensor *t, ml_tensor **out) {
    return ml_tensor_view(t, t->rank, t->dims, out);
}

ml_status ml_value_clone(const ml_value *v, ml_value **out) {
    *out = NULL;
    switch (v->kind) {
    case ML_VALUE_NONE:
        return ml_value_new_none(out);
    case ML_VALUE_TENSOR: {
        ml_tensor *t;
        ML_TRY(view_of(v->tensor, &t));
        return ml_value_from_tensor(t, out);
    }
    case ML_VALUE_SEQUENCE: {
        ml_value *s;
        ML_TRY(ml_value_new_sequence(v->elem_dtype, &s));
        for (size_t i = 0; i < v->n_items; i++) {
            ml_value *item;
            ml_status st = ml_value_clone(v->items[i], &item);
            if (!st) st = ml_value_sequence_append(s, item);
            if (st) {
                ml_value_free(s);
                return st;
            }
        }
        *out = s;
        return ML_STATUS_OK;
    }
    case ML_VALUE_MAP: {
        ml_tensor *k = NULL, *val = NULL;
        ml_status st = view_of(v->keys, &k);
        if (!st) st = view_of(v->values, &val);
        if (st) {
            ml_tensor_free(k);
            return st;
        }
        return ml_value_new_map(k, val, out);
    }
    }
    return ml_error(ML_ERR_INTERNAL, "unknown value kind %d", (int)v->kind);
}

void ml_value_free(ml_value *v) {
    if (!v) return;
    ml_tensor_free(v->tensor);
    for (size_t i = 0; i < v->n_items; i++) ml_value_free(v->items[i]);
    free(v->items);
    ml_tensor_free(v->keys);
    ml_tensor_free(v->values);
    free(v);
}
