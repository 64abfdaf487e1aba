#include "registry/contract.h"

#include <stdlib.h>
#include <string.h>

static void field_clear(ml_field *f) {
    free(f->name);
    free(f->profile);
}

void ml_contract_free(ml_contract *c) {
    if (!c) return;
    for (size_t i = 0; i < c->n_inputs; i++) field_clear(&c->inputs[i]);
    for (size_t i = 0; i < c->n_outputs; i++) field_clear(&c->outputs[i]);
    free(c->inputs);
    free(c->outputs);
    free(c->signature);
    free(c);
}

/* shape: array of ints (-1 = any) or null/absent (any rank). */
static ml_status parse_shape(const json_t *shape, const char *fname, ml_field *f) {
    if (!shape || json_is_null(shape) ||
        (json_is_string(shape) && !strcmp(json_string_value(shape), "any"))) {
        f->rank = -1;
        return NULL;
    }
    if (json_is_string(shape) && !strcmp(json_string_value(shape), "scalar")) {
        f->rank = 0;
        return NULL;
    }
    if (!json_is_array(shape) || json_array_size(shape) > ML_MAX_RANK)
        return ml_error(ML_ERR_INVALID_ARGUMENT,
                        "field '%s': shape must be a list of at most %d integers (-1 = any size)",
                        fname, ML_MAX_RANK);
    f->rank = (int)json_array_size(shape);
    for (int i = 0; i < f->rank; i++) {
        const json_t *d = json_array_get(shape, (size_t)i);
        if (!json_is_integer(d) || json_integer_value(d) < -1)
            return ml_error(ML_ERR_INVALID_ARGUMENT,
                            "field '%s': shape entries must be integers >= -1", fname);
        f->dims[i] = json_integer_value(d);
    }
    return NULL;
}

static ml_status parse_field(const char *name, const json_t *obj, ml_field *f) {
    if (!name || !*name) return ml_error(ML_ERR_INVALID_ARGUMENT, "a contract field has no name");
    if (!json_is_object(obj))
        return ml_error(ML_ERR_INVALID_ARGUMENT, "contract field '%s' must be an object", name);
    f->name = strdup(name);
    const json_t *dt = json_object_get(obj, "dtype");
    if (!dt) dt = json_object_get(obj, "type");
    if (!json_is_string(dt))
        return ml_error(ML_ERR_INVALID_ARGUMENT,
                        "contract field '%s' needs a dtype (e.g. float, string)", name);
    f->dtype = ml_dtype_parse(json_string_value(dt));
    if (f->dtype == ML_UNDEFINED)
        return ml_error(ML_ERR_INVALID_ARGUMENT, "contract field '%s': unknown dtype '%s'", name,
                        json_string_value(dt));
    ML_TRY(parse_shape(json_object_get(obj, "shape"), name, f));
    const json_t *p = json_object_get(obj, "profile");
    if (json_is_string(p)) f->profile = strdup(json_string_value(p));
    return NULL;
}

static ml_status parse_list(const json_t *arr, ml_field **out, size_t *n) {
    *out = NULL;
    *n = 0;
    if (!arr) return NULL;
    if (json_is_array(arr)) {
        *out = calloc(json_array_size(arr) + 1, sizeof **out);
        if (!*out) return ml_error(ML_ERR_OUT_OF_MEMORY, "out of memory");
        size_t i;
        json_t *v;
        json_array_foreach(arr, i, v) {
            const json_t *nm = json_object_get(v, "name");
            (*n)++;
            ML_TRY(parse_field(json_is_string(nm) ? json_string_value(nm) : NULL, v, &(*out)[i]));
        }
        return NULL;
    }
    if (json_is_object(arr)) {
        *out = calloc(json_object_size(arr) + 1, sizeof **out);
        if (!*out) return ml_error(ML_ERR_OUT_OF_MEMORY, "out of memory");
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)arr, k, v) {
            (*n)++;
            ML_TRY(parse_field(k, v, &(*out)[*n - 1]));
        }
        return NULL;
    }
    return ml_error(ML_ERR_INVALID_ARGUMENT, "contract inputs/outputs must be a list or a map");
}

static ml_status parse_contract(const json_t *j, const char *signature, ml_contract **out) {
    *out = NULL;
    if (!json_is_object(j)) return ml_error(ML_ERR_INVALID_ARGUMENT, "contract must be an object");
    ml_contract *c = calloc(1, sizeof *c);
    if (!c) return ml_error(ML_ERR_OUT_OF_MEMORY, "out of memory");
    const json_t *sig = json_object_get(j, "signature");
    if (!json_is_string(sig)) sig = json_object_get(j, "name"); /* Hydrosphere: contract.name */
    c->signature = strdup(json_is_string(sig) ? json_string_value(sig) : signature);
    ml_status st = parse_list(json_object_get(j, "inputs"), &c->inputs, &c->n_inputs);
    if (!st) st = parse_list(json_object_get(j, "outputs"), &c->outputs, &c->n_outputs);
    if (!st && (c->n_inputs == 0 || c->n_outputs == 0))
        st =
            ml_error(ML_ERR_INVALID_ARGUMENT, "a contract needs at least one input and one output");
    if (st) {
        ml_contract_free(c);
        return st;
    }
    *out = c;
    return NULL;
}

ml_status ml_contract_from_json(const json_t *j, ml_contract **out) {
    return parse_contract(j, "predict", out);
}

ml_status ml_contract_from_spec(const json_t *j, ml_contract **out) {
    if (json_is_object(j) && !json_object_get(j, "inputs") && json_object_size(j) == 1) {
        /* Hydrosphere: {<signature>: {inputs, outputs}} */
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)j, k, v) return parse_contract(v, k, out);
    }
    return parse_contract(j, "predict", out);
}

static json_t *field_json(const ml_field *f) {
    json_t *shape;
    if (f->rank < 0) {
        shape = json_null();
    } else {
        shape = json_array();
        for (int i = 0; i < f->rank; i++) json_array_append_new(shape, json_integer(f->dims[i]));
    }
    json_t *o = json_pack("{s:s, s:s, s:o}", "name", f->name, "dtype", ml_dtype_name(f->dtype),
                          "shape", shape);
    if (o && f->profile) json_object_set_new(o, "profile", json_string(f->profile));
    return o;
}

json_t *ml_contract_to_json(const ml_contract *c) {
    json_t *in = json_array(), *out = json_array();
    for (size_t i = 0; i < c->n_inputs; i++) json_array_append_new(in, field_json(&c->inputs[i]));
    for (size_t i = 0; i < c->n_outputs; i++)
        json_array_append_new(out, field_json(&c->outputs[i]));
    return json_pack("{s:s, s:o, s:o}", "signature", c->signature ? c->signature : "predict",
                     "inputs", in, "outputs", out);
}

ml_status ml_contract_copy(const ml_contract *c, ml_contract **out) {
    json_t *j = ml_contract_to_json(c);
    if (!j) return ml_error(ML_ERR_OUT_OF_MEMORY, "out of memory copying a contract");
    ml_status st = ml_contract_from_json(j, out);
    json_decref(j);
    return st;
}

static const ml_field *find(const ml_field *fs, size_t n, const char *name) {
    for (size_t i = 0; i < n; i++)
        if (strcmp(fs[i].name, name) == 0) return &fs[i];
    return NULL;
}

const ml_field *ml_contract_input(const ml_contract *c, const char *name) {
    return find(c->inputs, c->n_inputs, name);
}
const ml_field *ml_contract_output(const ml_contract *c, const char *name) {
    return find(c->outputs, c->n_outputs, name);
}

static void fmt_field_shape(const ml_field *f, char *buf, size_t n) {
    if (f->rank < 0)
        snprintf(buf, n, "any");
    else
        ml_shape_format(f->rank, f->dims, buf, n);
}

ml_status ml_field_check(const ml_field *f, const char *what, ml_dtype dtype, int rank,
                         const int64_t *dims) {
    if (dtype != f->dtype)
        return ml_error(ML_ERR_INVALID_ARGUMENT, "%s '%s': expected dtype %s, got %s", what,
                        f->name, ml_dtype_name(f->dtype), ml_dtype_name(dtype));
    if (f->rank < 0) return NULL;
    bool ok = rank == f->rank;
    for (int i = 0; ok && i < rank; i++)
        if (f->dims[i] >= 0 && f->dims[i] != dims[i]) ok = false;
    if (!ok) {
        char e[128], g[128];
        fmt_field_shape(f, e, sizeof e);
        ml_shape_format(rank, dims, g, sizeof g);
        return ml_error(ML_ERR_INVALID_ARGUMENT, "%s '%s': expected shape %s, got %s", what,
                        f->name, e, g);
    }
    return NULL;
}

bool ml_field_compatible(const ml_field *p, const ml_field *c) {
    if (p->dtype != c->dtype) return false;
    if (c->rank < 0) return true;
    if (p->rank < 0) return true; /* unknown producer rank: checked at run time */
    if (p->rank != c->rank) return false;
    for (int i = 0; i < c->rank; i++)
        if (c->dims[i] >= 0 && p->dims[i] >= 0 && c->dims[i] != p->dims[i]) return false;
    return true;
}
