#include "api/codec.h"
#include "api/codec_fast.h"
#include "api/json_num.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void ml_json_limits_default(ml_json_limits *l) {
    l->max_elements = 16u << 20;
    l->max_depth = ML_MAX_RANK;
    l->max_string_bytes = 16u << 20;
}

/* ---- base64 ---- */

static const char b64chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int b64val(unsigned char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+' || c == '-') return 62;
    if (c == '/' || c == '_') return 63;
    return -1;
}

ml_status ml_base64_decode(const char *in, size_t len, char **out, size_t *out_len) {
    while (len && in[len - 1] == '=') len--;
    if (len % 4 == 1) return ml_error(ML_ERR_INVALID_ARGUMENT, "invalid base64 (bad length)");
    char *o = malloc(len / 4 * 3 + 3);
    if (!o) return ml_error(ML_ERR_OUT_OF_MEMORY, "out of memory");
    size_t n = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < len; i++) {
        int v = b64val((unsigned char)in[i]);
        if (v < 0) {
            free(o);
            return ml_error(ML_ERR_INVALID_ARGUMENT, "invalid base64 character at offset %zu", i);
        }
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            o[n++] = (char)((acc >> bits) & 0xff);
        }
    }
    o[n] = '\0';
    *out = o;
    *out_len = n;
    return NULL;
}

char *ml_base64_encode(const void *data, size_t len) {
    const unsigned char *p = data;
    char *o = malloc((len + 2) / 3 * 4 + 1);
    if (!o) return NULL;
    size_t n = 0, i = 0;
    for (; i + 2 < len; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        o[n++] = b64chars[v >> 18];
        o[n++] = b64chars[(v >> 12) & 63];
        o[n++] = b64chars[(v >> 6) & 63];
        o[n++] = b64chars[v & 63];
    }
    if (i < len) {
        uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < len ? (uint32_t)p[i + 1] << 8 : 0);
        o[n++] = b64chars[v >> 18];
        o[n++] = b64chars[(v >> 12) & 63];
        o[n++] = i + 1 < len ? b64chars[(v >> 6) & 63] : '=';
        o[n++] = '=';
    }
    o[n] = '\0';
    return o;
}

/* ---- elements ---- */

static const char *json_kind(const json_t *j) {
    switch (json_typeof(j)) {
    case JSON_OBJECT:
        return "an object";
    case JSON_ARRAY:
        return "an array";
    case JSON_STRING:
        return "a string";
    case JSON_INTEGER:
        return "an integer";
    case JSON_REAL:
        return "a real number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "a boolean";
    default:
        return "null";
    }
}

static ml_status set_elem(ml_tensor *t, size_t i, const json_t *j, const ml_json_limits *lim,
                          const char *field) {
    ml_dtype dt = t->dtype;
    if (dt == ML_STRING) {
        if (json_is_string(j)) {
            if (json_string_length(j) > lim->max_string_bytes)
                return ml_error(ML_ERR_RESOURCE_EXHAUSTED,
                                "input '%s': a string is longer than %zu bytes", field,
                                lim->max_string_bytes);
            return ml_tensor_set_string(t, i, json_string_value(j), json_string_length(j));
        }
        const json_t *b = json_is_object(j) ? json_object_get(j, "b64") : NULL;
        if (json_is_string(b)) {
            char *raw;
            size_t n;
            ml_status st = ml_base64_decode(json_string_value(b), json_string_length(b), &raw, &n);
            if (st) return ml_status_wrap(st, "input '%s'", field);
            st = ml_tensor_set_string(t, i, raw, n);
            free(raw);
            return st;
        }
        return ml_error(ML_ERR_INVALID_ARGUMENT, "input '%s': expected string elements, got %s",
                        field, json_kind(j));
    }
    if (dt == ML_BOOL) {
        if (json_is_boolean(j)) {
            ML_TENSOR_DATA(t, uint8_t)[i] = json_is_true(j);
            return NULL;
        }
        if (json_is_integer(j) && (json_integer_value(j) == 0 || json_integer_value(j) == 1)) {
            ML_TENSOR_DATA(t, uint8_t)[i] = (uint8_t)json_integer_value(j);
            return NULL;
        }
        return ml_error(ML_ERR_INVALID_ARGUMENT, "input '%s': expected bool elements, got %s",
                        field, json_kind(j));
    }
    if (ml_dtype_is_integer(dt)) {
        if (json_is_integer(j)) {
            json_int_t v = json_integer_value(j);
            if (!ml_json_int_in_range(dt, (double)v))
                return ml_error(ML_ERR_INVALID_ARGUMENT, "input '%s': %lld is out of range for %s",
                                field, (long long)v, ml_dtype_name(dt));
            if (dt == ML_INT64)
                ML_TENSOR_DATA(t, int64_t)[i] = v;
            else if (dt == ML_UINT64)
                ML_TENSOR_DATA(t, uint64_t)[i] = (uint64_t)v;
            else
                ml_tensor_set_f64(t, i, (double)v);
            return NULL;
        }
        if (json_is_real(j) && floor(json_real_value(j)) == json_real_value(j) &&
            ml_json_int_in_range(dt, json_real_value(j)) && fabs(json_real_value(j)) < 9.2e18) {
            if (dt == ML_INT64)
                ML_TENSOR_DATA(t, int64_t)[i] = (int64_t)json_real_value(j);
            else
                ml_tensor_set_f64(t, i, json_real_value(j));
            return NULL;
        }
        return ml_error(ML_ERR_INVALID_ARGUMENT, "input '%s': expected %s elements, got %s", field,
                        ml_dtype_name(dt), json_kind(j));
    }
    if (ml_dtype_is_float(dt)) {
        if (json_is_number(j)) {
            ml_tensor_set_f64(t, i, json_number_value(j));
            return NULL;
        }
        if (json_is_string(j)) {
            const char *s = json_string_value(j);
            double v = !strcmp(s, "NaN") || !strcmp(s, "nan")          ? NAN
                       : !strcmp(s, "Infinity") || !strcmp(s, "inf")   ? INFINITY
                       : !strcmp(s, "-Infinity") || !strcmp(s, "-inf") ? -INFINITY
                                                                       : 0;
            if (v != 0 || isnan(v)) {
                ml_tensor_set_f64(t, i, v);
                return NULL;
            }
        }
        return ml_error(ML_ERR_INVALID_ARGUMENT, "input '%s': expected %s elements, got %s", field,
                        ml_dtype_name(dt), json_kind(j));
    }
    return ml_error(ML_ERR_INVALID_ARGUMENT, "input '%s': dtype %s cannot be sent as JSON", field,
                    ml_dtype_name(dt));
}

static bool is_leaf(const json_t *j) {
    return !json_is_array(j);
}

/* Infers a dtype from every leaf (bounded by the element count check). */
static void infer_dtype(const json_t *j, int depth, ml_dtype *dt) {
    if (depth > ML_MAX_RANK) return;
    if (json_is_array(j)) {
        size_t i;
        json_t *v;
        json_array_foreach(j, i, v) infer_dtype(v, depth + 1, dt);
        return;
    }
    ml_dtype here = json_is_string(j) || json_is_object(j) ? ML_STRING
                    : json_is_boolean(j)                   ? ML_BOOL
                    : json_is_integer(j)                   ? ML_INT64
                    : json_is_real(j)                      ? ML_FLOAT
                                                           : ML_UNDEFINED;
    if (*dt == ML_UNDEFINED || (*dt == ML_INT64 && here == ML_FLOAT)) *dt = here;
}

static ml_status fill_nested(ml_tensor *t, const json_t *j, int level, size_t *idx,
                             const ml_json_limits *lim, const char *field) {
    if (level == t->rank) {
        if (!is_leaf(j))
            return ml_error(ML_ERR_INVALID_ARGUMENT,
                            "input '%s': ragged nested array (an element at depth %d is an array, "
                            "expected a value)",
                            field, level);
        return set_elem(t, (*idx)++, j, lim, field);
    }
    if (!json_is_array(j))
        return ml_error(
            ML_ERR_INVALID_ARGUMENT,
            "input '%s': ragged nested array: expected a list of %lld at depth %d, got %s", field,
            (long long)t->dims[level], level, json_kind(j));
    if ((int64_t)json_array_size(j) != t->dims[level])
        return ml_error(
            ML_ERR_INVALID_ARGUMENT,
            "input '%s': ragged nested array: expected %lld elements at depth %d, got %zu", field,
            (long long)t->dims[level], level, json_array_size(j));
    size_t i;
    json_t *v;
    json_array_foreach(j, i, v) ML_TRY(fill_nested(t, v, level + 1, idx, lim, field));
    return NULL;
}

ml_status ml_json_to_tensor(const json_t *v, ml_dtype dtype, const ml_json_limits *lim,
                            const char *field, ml_tensor **out) {
    *out = NULL;
    int rank = 0;
    int64_t dims[ML_MAX_RANK];
    const json_t *cur = v;
    while (json_is_array(cur)) {
        if (rank >= lim->max_depth || rank >= ML_MAX_RANK)
            return ml_error(ML_ERR_INVALID_ARGUMENT,
                            "input '%s': arrays nested deeper than %d levels", field,
                            lim->max_depth < ML_MAX_RANK ? lim->max_depth : ML_MAX_RANK);
        dims[rank++] = (int64_t)json_array_size(cur);
        if (json_array_size(cur) == 0) break;
        cur = json_array_get(cur, 0);
    }
    size_t numel;
    if (!ml_shape_numel(rank, dims, &numel) || numel > lim->max_elements)
        return ml_error(ML_ERR_RESOURCE_EXHAUSTED, "input '%s' has more than %zu elements", field,
                        lim->max_elements);
    if (dtype == ML_UNDEFINED) infer_dtype(v, 0, &dtype);
    if (dtype == ML_UNDEFINED) dtype = ML_FLOAT; /* empty or all-null: any numeric will do */
    ml_tensor *t;
    ML_TRY(ml_tensor_create(dtype, rank, dims, &t));
    size_t idx = 0;
    ml_status st = fill_nested(t, v, 0, &idx, lim, field);
    if (st) {
        ml_tensor_free(t);
        return st;
    }
    *out = t;
    return NULL;
}

/* TF-Serving's convention: outputs named *_bytes always answer {"b64"}. */
static _Thread_local bool force_b64;

static json_t *elem_json(const ml_tensor *t, size_t i) {
    switch (t->dtype) {
    case ML_STRING: {
        const ml_str *s = &ML_TENSOR_DATA(t, ml_str)[i];
        json_t *j = force_b64 ? NULL : json_stringn(s->data ? s->data : "", s->len);
        if (j) return j;
        char *b = ml_base64_encode(s->data, s->len);
        j = json_pack("{s:s}", "b64", b ? b : "");
        free(b);
        return j;
    }
    case ML_BOOL:
        return json_boolean(ML_TENSOR_DATA(t, uint8_t)[i]);
    case ML_INT64:
        return json_integer(ML_TENSOR_DATA(t, int64_t)[i]);
    case ML_UINT64:
        return json_integer((json_int_t)ML_TENSOR_DATA(t, uint64_t)[i]);
    default:
        if (ml_dtype_is_integer(t->dtype)) return json_integer((json_int_t)ml_tensor_get_f64(t, i));
        {
            double d = ml_tensor_get_f64(t, i);
            if (isnan(d)) return json_string("NaN");
            if (isinf(d)) return json_string(d > 0 ? "Infinity" : "-Infinity");
            return json_real(d);
        }
    }
}

static json_t *enc_nested(const ml_tensor *t, int level, size_t *idx) {
    if (level == t->rank) return elem_json(t, (*idx)++);
    json_t *a = json_array();
    for (int64_t k = 0; k < t->dims[level]; k++)
        json_array_append_new(a, enc_nested(t, level + 1, idx));
    return a;
}

json_t *ml_tensor_to_json(const ml_tensor *t) {
    size_t idx = 0;
    return enc_nested(t, 0, &idx);
}

json_t *ml_tensor_to_flat_json(const ml_tensor *t) {
    json_t *a = json_array();
    size_t n = ml_tensor_numel(t);
    for (size_t i = 0; i < n; i++) json_array_append_new(a, elem_json(t, i));
    return a;
}

/* Row i of a tensor (its first dimension) as nested JSON. */
static json_t *row_json(const ml_tensor *t, int64_t i) {
    if (t->rank == 0) return elem_json(t, 0);
    size_t stride = 1;
    for (int k = 1; k < t->rank; k++) stride *= (size_t)t->dims[k];
    size_t idx = (size_t)i * stride;
    return enc_nested(t, 1, &idx);
}

size_t ml_json_dump_flags(const ml_tensor_list *outs) {
    for (size_t i = 0; i < outs->n; i++)
        if (outs->tensors[i]->dtype == ML_DOUBLE) return JSON_COMPACT;
    return JSON_COMPACT | JSON_REAL_PRECISION(9);
}

/* ---- KServe V2 ---- */

void ml_kserve_request_clear(ml_kserve_request *r) {
    free(r->id);
    ml_tensor_list_clear(&r->inputs);
    for (size_t i = 0; i < r->n_outputs; i++) free(r->outputs[i]);
    free(r->outputs);
    free(r->outputs_binary);
    memset(r, 0, sizeof *r);
}

static ml_status fill_flat(ml_tensor *t, const json_t *j, int depth, size_t *idx, size_t numel,
                           const ml_json_limits *lim, const char *field) {
    if (json_is_array(j)) {
        if (depth >= lim->max_depth)
            return ml_error(ML_ERR_INVALID_ARGUMENT,
                            "input '%s': data nested deeper than %d levels", field, lim->max_depth);
        size_t i;
        json_t *v;
        json_array_foreach(j, i, v) ML_TRY(fill_flat(t, v, depth + 1, idx, numel, lim, field));
        return NULL;
    }
    if (*idx >= numel)
        return ml_error(ML_ERR_INVALID_ARGUMENT,
                        "input '%s': data has more elements than its shape (%zu)", field, numel);
    return set_elem(t, (*idx)++, j, lim, field);
}

static ml_status binary_tensor(ml_tensor *t, const char *data, size_t size, const char *field) {
    size_t numel = ml_tensor_numel(t);
    if (t->dtype != ML_STRING) {
        size_t want = numel * ml_dtype_size(t->dtype);
        if (size != want)
            return ml_error(ML_ERR_INVALID_ARGUMENT,
                            "input '%s': binary_data_size is %zu bytes, expected %zu for its shape "
                            "and datatype",
                            field, size, want);
        if (want) memcpy(t->data, data, want);
        return NULL;
    }
    size_t off = 0;
    for (size_t i = 0; i < numel; i++) {
        if (size - off < 4)
            return ml_error(ML_ERR_INVALID_ARGUMENT,
                            "input '%s': binary BYTES data ends after %zu of %zu elements", field,
                            i, numel);
        const unsigned char *p = (const unsigned char *)data + off;
        uint32_t n =
            (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
        off += 4;
        if (n > size - off)
            return ml_error(ML_ERR_INVALID_ARGUMENT,
                            "input '%s': BYTES element %zu overruns the binary data", field, i);
        ML_TRY(ml_tensor_set_string(t, i, data + off, n));
        off += n;
    }
    if (off != size)
        return ml_error(ML_ERR_INVALID_ARGUMENT,
                        "input '%s': %zu trailing bytes after the BYTES elements", field,
                        size - off);
    return NULL;
}

static ml_status kserve_input(const json_t *in, const char *body, size_t len, size_t *bin_off,
                              const ml_json_limits *lim, ml_kserve_request *out) {
    if (!json_is_object(in))
        return ml_error(ML_ERR_INVALID_ARGUMENT, "each of 'inputs' must be an object");
    const json_t *name = json_object_get(in, "name");
    if (!json_is_string(name) || json_string_length(name) == 0 || json_string_length(name) > 256)
        return ml_error(ML_ERR_INVALID_ARGUMENT, "an input has no 'name'");
    const char *field = json_string_value(name);
    if (ml_tensor_list_get(&out->inputs, field))
        return ml_error(ML_ERR_INVALID_ARGUMENT, "input '%s' is given twice", field);
    const json_t *dt = json_object_get(in, "datatype");
    ml_dtype dtype = json_is_string(dt) ? ml_dtype_parse(json_string_value(dt)) : ML_UNDEFINED;
    if (dtype == ML_UNDEFINED)
        return ml_error(ML_ERR_INVALID_ARGUMENT,
                        "input '%s': 'datatype' must be one of BOOL, INT8..INT64, "
                        "UINT8..UINT64, FP16, FP32, FP64, BYTES",
                        field);
    const json_t *shape = json_object_get(in, "shape");
    if (!json_is_array(shape) || json_array_size(shape) > ML_MAX_RANK)
        return ml_error(ML_ERR_INVALID_ARGUMENT,
                        "input '%s': 'shape' must be a list of at most %d sizes", field,
                        ML_MAX_RANK);
    int rank = (int)json_array_size(shape);
    int64_t dims[ML_MAX_RANK];
    for (int i = 0; i < rank; i++) {
        const json_t *d = json_array_get(shape, (size_t)i);
        if (!json_is_integer(d) || json_integer_value(d) < 0)
            return ml_error(ML_ERR_INVALID_ARGUMENT,
                            "input '%s': shape sizes must be integers >= 0", field);
        dims[i] = json_integer_value(d);
    }
    size_t numel;
    if (!ml_shape_numel(rank, dims, &numel) || numel > lim->max_elements)
        return ml_error(ML_ERR_RESOURCE_EXHAUSTED, "input '%s' has more than %zu elements", field,
                        lim->max_elements);
    ml_tensor *t;
    ML_TRY(ml_tensor_create(dtype, rank, dims, &t));
    ml_status st = NULL;
    const json_t *params = json_object_get(in, "parameters");
    const json_t *bsize =
        json_is_object(params) ? json_object_get(params, "binary_data_size") : NULL;
    const json_t *data = json_object_get(in, "data");
    if (bsize) {
        if (!json_is_integer(bsize) || json_integer_value(bsize) < 0 ||
            (uint64_t)json_integer_value(bsize) > len - *bin_off)
            st = ml_error(ML_ERR_INVALID_ARGUMENT,
                          "input '%s': binary_data_size %lld exceeds the binary part of the body",
                          field,
                          json_is_integer(bsize) ? (long long)json_integer_value(bsize) : -1LL);
        else {
            size_t n = (size_t)json_integer_value(bsize);
            st = binary_tensor(t, body + *bin_off, n, field);
            *bin_off += n;
        }
    } else if (data) {
        size_t idx = 0;
        st = fill_flat(t, data, 0, &idx, numel, lim, field);
        if (!st && idx != numel)
            st = ml_error(ML_ERR_INVALID_ARGUMENT,
                          "input '%s': data has %zu elements, its shape needs %zu", field, idx,
                          numel);
    } else {
        st = ml_error(ML_ERR_INVALID_ARGUMENT, "input '%s' has neither 'data' nor binary_data_size",
                      field);
    }
    if (st) {
        ml_tensor_free(t);
        return st;
    }
    return ml_tensor_list_add(&out->inputs, field, t);
}

ml_status ml_kserve_decode(const char *body, size_t len, size_t header_len,
                           const ml_json_limits *lim, ml_kserve_request *out) {
    memset(out, 0, sizeof *out);
    if (header_len > len)
        return ml_error(ML_ERR_INVALID_ARGUMENT,
                        "Inference-Header-Content-Length (%zu) is larger than the body (%zu)",
                        header_len, len);
    if (ml_kserve_fast_enabled()) {
        /* codec_fast.c decodes ordinary requests without jansson; it declines
         * anything unusual or wrong, and this decoder then decides. */
        bool handled;
        ml_status fst = ml_kserve_decode_fast(body, len, header_len, lim, out, &handled);
        if (handled || fst) return fst;
    }
    json_error_t err;
    json_t *j = json_loadb(body, header_len, JSON_REJECT_DUPLICATES, &err);
    if (!j)
        return ml_error(ML_ERR_INVALID_ARGUMENT, "invalid JSON at line %d column %d: %s", err.line,
                        err.column, err.text);
    ml_status st = NULL;
    const json_t *inputs = json_object_get(j, "inputs");
    if (!json_is_object(j) || !json_is_array(inputs) || json_array_size(inputs) == 0)
        st = ml_error(
            ML_ERR_INVALID_ARGUMENT,
            "the request needs \"inputs\": [{\"name\", \"shape\", \"datatype\", \"data\"}]");
    const json_t *id = json_object_get(j, "id");
    if (!st && json_is_string(id)) out->id = strdup(json_string_value(id));
    const json_t *params = json_object_get(j, "parameters");
    const json_t *bdo =
        json_is_object(params) ? json_object_get(params, "binary_data_output") : NULL;
    out->binary_default = json_is_true(bdo);
    size_t bin_off = header_len;
    size_t i;
    json_t *v;
    if (!st && json_array_size(inputs) > 1024)
        st = ml_error(ML_ERR_RESOURCE_EXHAUSTED, "more than 1024 inputs");
    if (!st) json_array_foreach(inputs, i, v) {
            st = kserve_input(v, body, len, &bin_off, lim, out);
            if (st) break;
        }
    const json_t *outputs = json_object_get(j, "outputs");
    if (!st && outputs) {
        if (!json_is_array(outputs) || json_array_size(outputs) > 1024)
            st = ml_error(ML_ERR_INVALID_ARGUMENT, "'outputs' must be a list of {\"name\": ...}");
        size_t n = st ? 0 : json_array_size(outputs);
        if (n) {
            out->outputs = calloc(n, sizeof *out->outputs);
            out->outputs_binary = calloc(n, sizeof *out->outputs_binary);
            if (!out->outputs || !out->outputs_binary)
                st = ml_error(ML_ERR_OUT_OF_MEMORY, "out of memory");
        }
        for (size_t k = 0; !st && k < n; k++) {
            const json_t *o = json_array_get(outputs, k);
            const json_t *nm = json_object_get(o, "name");
            if (!json_is_string(nm)) {
                st = ml_error(ML_ERR_INVALID_ARGUMENT, "requested output %zu has no 'name'", k);
                break;
            }
            out->outputs[k] = strdup(json_string_value(nm));
            out->n_outputs++;
            const json_t *op = json_object_get(o, "parameters");
            const json_t *bd = json_is_object(op) ? json_object_get(op, "binary_data") : NULL;
            out->outputs_binary[k] = bd ? json_is_true(bd) : out->binary_default;
        }
    }
    if (!st && bin_off != len)
        st = ml_error(ML_ERR_INVALID_ARGUMENT,
                      "%zu bytes after the JSON header are not claimed by any binary_data_size",
                      len - bin_off);
    json_decref(j);
    if (st) ml_kserve_request_clear(out);
    return st;
}

/* ml_kserve_encode lives in codec_kserve_out.c. */

/* ---- TF-Serving ---- */

static bool is_b64_obj(const json_t *j) {
    return json_is_object(j) && json_object_size(j) == 1 && json_object_get(j, "b64");
}

static ml_dtype field_dtype(const ml_contract *c, const char *name) {
    const ml_field *f = c ? ml_contract_input(c, name) : NULL;
    return f ? f->dtype : ML_UNDEFINED;
}

static ml_status single_input_name(const ml_contract *c, const char **name) {
    if (!c || c->n_inputs != 1)
        return ml_error(ML_ERR_INVALID_ARGUMENT,
                        "the model has %zu inputs: name them ({\"input_name\": value})",
                        c ? c->n_inputs : 0);
    *name = c->inputs[0].name;
    return NULL;
}

static ml_status add_json_input(ml_tensor_list *l, const char *name, const json_t *v,
                                const ml_contract *c, const ml_json_limits *lim) {
    if (ml_tensor_list_get(l, name))
        return ml_error(ML_ERR_INVALID_ARGUMENT, "input '%s' is given twice", name);
    ml_tensor *t;
    ML_TRY(ml_json_to_tensor(v, field_dtype(c, name), lim, name, &t));
    return ml_tensor_list_add(l, name, t);
}

ml_status ml_tf_decode(const char *body, size_t len, const ml_contract *c,
                       const ml_json_limits *lim, ml_tf_request *out) {
    memset(out, 0, sizeof *out);
    json_error_t err;
    json_t *j = json_loadb(body, len, JSON_REJECT_DUPLICATES, &err);
    if (!j)
        return ml_error(ML_ERR_INVALID_ARGUMENT, "invalid JSON at line %d column %d: %s", err.line,
                        err.column, err.text);
    const json_t *inst = json_object_get(j, "instances"), *inputs = json_object_get(j, "inputs");
    ml_status st = NULL;
    if (!json_is_object(j) || !!inst == !!inputs)
        st = ml_error(ML_ERR_INVALID_ARGUMENT,
                      "the request needs exactly one of \"instances\" (rows) or "
                      "\"inputs\" (columns)");
    if (!st && inst) {
        out->row_format = true;
        if (!json_is_array(inst) || json_array_size(inst) == 0)
            st =
                ml_error(ML_ERR_INVALID_ARGUMENT, "\"instances\" must be a non-empty list of rows");
        const json_t *first = st ? NULL : json_array_get(inst, 0);
        if (!st && json_is_object(first) && json_object_size(first) == 0)
            st =
                ml_error(ML_ERR_INVALID_ARGUMENT, "instance 0 is an empty object; name the inputs");
        if (!st && json_is_object(first) && !is_b64_obj(first)) {
            const char *key;
            json_t *unused;
            json_object_foreach((json_t *)first, key, unused) {
                json_t *col = json_array();
                size_t i;
                json_t *row;
                json_array_foreach(inst, i, row) {
                    const json_t *v = json_is_object(row) ? json_object_get(row, key) : NULL;
                    if (!v) {
                        st = ml_error(ML_ERR_INVALID_ARGUMENT,
                                      "instance %zu lacks input '%s' (every row "
                                      "needs the same inputs)",
                                      i, key);
                        break;
                    }
                    json_array_append(col, (json_t *)v);
                }
                if (!st) st = add_json_input(&out->inputs, key, col, c, lim);
                json_decref(col);
                if (st) break;
            }
        } else if (!st) {
            const char *name = NULL;
            st = single_input_name(c, &name);
            if (!st) st = add_json_input(&out->inputs, name, inst, c, lim);
        }
    } else if (!st) {
        if (json_is_object(inputs) && !is_b64_obj(inputs)) {
            const char *key;
            json_t *v;
            json_object_foreach((json_t *)inputs, key, v) {
                st = add_json_input(&out->inputs, key, v, c, lim);
                if (st) break;
            }
        } else {
            const char *name = NULL;
            st = single_input_name(c, &name);
            if (!st) st = add_json_input(&out->inputs, name, inputs, c, lim);
        }
    }
    json_decref(j);
    if (st) ml_tensor_list_clear(&out->inputs);
    return st;
}

static bool bytes_name(const char *name) {
    size_t n = strlen(name);
    return n >= 6 && strcmp(name + n - 6, "_bytes") == 0;
}

static json_t *tf_encode(const ml_tf_request *req, const ml_tensor_list *outs);

json_t *ml_tf_encode(const ml_tf_request *req, const ml_tensor_list *outs) {
    bool any = false;
    for (size_t i = 0; i < outs->n; i++) any |= bytes_name(outs->names[i]);
    if (!any) return tf_encode(req, outs);
    /* Rare: encode *_bytes outputs separately with b64 forced, then merge. */
    json_t *res = tf_encode(req, outs);
    for (size_t i = 0; res && i < outs->n; i++) {
        if (!bytes_name(outs->names[i])) continue;
        ml_tensor_list one = {1, 1, &outs->names[i], &outs->tensors[i]};
        force_b64 = true;
        json_t *alone = tf_encode(req, &one);
        force_b64 = false;
        const char *key = req->row_format ? "predictions" : "outputs";
        json_t *dst = json_object_get(res, key), *src = json_object_get(alone, key);
        if (outs->n == 1) {
            json_object_set(res, key, src);
        } else if (!req->row_format) {
            json_object_set(dst, outs->names[i], src);
        } else {
            size_t r;
            json_t *row;
            json_array_foreach(dst, r, row)
                json_object_set(row, outs->names[i], json_array_get(src, r));
        }
        json_decref(alone);
    }
    return res;
}

static json_t *tf_encode(const ml_tf_request *req, const ml_tensor_list *outs) {
    if (outs->n == 0) return json_pack("{s:[]}", req->row_format ? "predictions" : "outputs");
    if (!req->row_format) {
        if (outs->n == 1) return json_pack("{s:o}", "outputs", ml_tensor_to_json(outs->tensors[0]));
        json_t *o = json_object();
        for (size_t i = 0; i < outs->n; i++)
            json_object_set_new(o, outs->names[i], ml_tensor_to_json(outs->tensors[i]));
        return json_pack("{s:o}", "outputs", o);
    }
    if (outs->n == 1) return json_pack("{s:o}", "predictions", ml_tensor_to_json(outs->tensors[0]));
    /* Several outputs: one object per row (all outputs share the batch size). */
    int64_t rows = outs->tensors[0]->rank ? outs->tensors[0]->dims[0] : 1;
    json_t *preds = json_array();
    for (int64_t r = 0; r < rows; r++) {
        json_t *row = json_object();
        for (size_t i = 0; i < outs->n; i++) {
            const ml_tensor *t = outs->tensors[i];
            if (t->rank && t->dims[0] == rows)
                json_object_set_new(row, outs->names[i], row_json(t, r));
            else
                json_object_set_new(row, outs->names[i], ml_tensor_to_json(t));
        }
        json_array_append_new(preds, row);
    }
    return json_pack("{s:o}", "predictions", preds);
}

/* ---- gateway ---- */

ml_status ml_gateway_decode(const char *body, size_t len, const ml_contract *c,
                            const ml_json_limits *lim, ml_tensor_list *out) {
    memset(out, 0, sizeof *out);
    json_error_t err;
    json_t *j = json_loadb(body, len, JSON_REJECT_DUPLICATES, &err);
    if (!j)
        return ml_error(ML_ERR_INVALID_ARGUMENT, "invalid JSON at line %d column %d: %s", err.line,
                        err.column, err.text);
    ml_status st = NULL;
    if (!json_is_object(j) || json_object_size(j) == 0)
        st = ml_error(ML_ERR_INVALID_ARGUMENT,
                      "the body must be {\"input_name\": nested array, ...}");
    const char *key;
    json_t *v;
    if (!st) json_object_foreach(j, key, v) {
            st = add_json_input(out, key, v, c, lim);
            if (st) break;
        }
    json_decref(j);
    if (st) ml_tensor_list_clear(out);
    return st;
}

json_t *ml_gateway_encode(const ml_tensor_list *outs) {
    json_t *o = json_object();
    for (size_t i = 0; i < outs->n; i++)
        json_object_set_new(o, outs->names[i], ml_tensor_to_json(outs->tensors[i]));
    return o;
}
