/* CastMap: a map int64 -> string|float becomes a [1, K] tensor of float,
 * int64 or string, ordered by key. DENSE keeps one column per entry;
 * SPARSE places each value at column = key in [0, max_map) and fills the
 * rest with 0 / "". Strings parse as numbers (C locale, whole string). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops/ml_internal.h"

enum { TO_FLOAT, TO_STRING, TO_INT64 };

typedef struct entry {
    int64_t key;
    size_t at; /* index in the map's tensors */
} entry;

static int entry_cmp(const void *a, const void *b) {
    const entry *x = a, *y = b;
    return (x->key > y->key) - (x->key < y->key);
}

/* Parses a whole string element as a double; false when it is not one. */
static bool parse_number(const ml_str *s, double *out) {
    char buf[64];
    if (s->len == 0 || s->len >= sizeof buf) return false;
    memcpy(buf, s->data, s->len);
    buf[s->len] = '\0';
    char *end;
    errno = 0;
    *out = strtod(buf, &end);
    return *end == '\0' && errno == 0;
}

static ml_status write_value(ml_kernel_ctx *ctx, ml_tensor *y, size_t col, int to,
                             const ml_tensor *vals, size_t at) {
    if (to == TO_STRING) {
        char buf[400]; /* "%f" of any double fits (at most 317 characters) */
        const char *p = buf;
        size_t len;
        if (vals->dtype == ML_STRING) {
            const ml_str *s = &((const ml_str *)vals->data)[at];
            p = s->data;
            len = s->len;
        } else {
            /* "%f", as onnxruntime (std::to_string) writes it */
            int w = snprintf(buf, sizeof buf, "%f", ml_tensor_get_f64(vals, at));
            len = w < 0 ? 0 : (size_t)w < sizeof buf ? (size_t)w : sizeof buf - 1;
        }
        return ml_tensor_set_string(y, col, p, len);
    }
    double v;
    if (vals->dtype == ML_STRING) {
        const ml_str *s = &((const ml_str *)vals->data)[at];
        if (!parse_number(s, &v))
            return ml_node_error(ctx->node, ML_ERR_INVALID_ARGUMENT,
                                 "map value '%.*s' is not a number",
                                 (int)(s->len > 40 ? 40 : s->len), s->data);
    } else {
        v = ml_tensor_get_f64(vals, at);
    }
    if (to == TO_FLOAT)
        ((float *)y->data)[col] = (float)v;
    else
        ((int64_t *)y->data)[col] = (int64_t)v;
    return ML_STATUS_OK;
}

ml_status ml_cast_map_run(ml_kernel_ctx *ctx) {
    const ml_node *node = ctx->node;
    const char *cast_to = ml_attr_string(node, "cast_to", "TO_FLOAT");
    const char *form = ml_attr_string(node, "map_form", "DENSE");
    int to;
    if (strcmp(cast_to, "TO_FLOAT") == 0)
        to = TO_FLOAT;
    else if (strcmp(cast_to, "TO_STRING") == 0)
        to = TO_STRING;
    else if (strcmp(cast_to, "TO_INT64") == 0)
        to = TO_INT64;
    else
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                             "cast_to '%s' is not one of TO_FLOAT, TO_STRING, TO_INT64", cast_to);
    bool sparse = strcmp(form, "SPARSE") == 0;
    if (!sparse && strcmp(form, "DENSE") != 0)
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT, "map_form '%s' is not DENSE or SPARSE",
                             form);
    const ml_value *m = ml_input_value(ctx, 0);
    if (!m || m->kind != ML_VALUE_MAP || !m->keys || !m->values || m->keys->dtype != ML_INT64 ||
        ml_tensor_numel(m->keys) != ml_tensor_numel(m->values) ||
        (m->values->dtype != ML_STRING && m->values->dtype != ML_FLOAT &&
         m->values->dtype != ML_DOUBLE))
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                             "input must be a map from int64 to string or float");
    size_t n = ml_tensor_numel(m->keys);
    int64_t max_map = ml_attr_int(node, "max_map", 1);
    if (sparse && (max_map < 0 || max_map > (1 << 26)))
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT, "max_map %lld is out of range",
                             (long long)max_map);
    entry *e = malloc((n ? n : 1) * sizeof *e);
    if (!e) return ml_error(ML_ERR_OUT_OF_MEMORY, "CastMap");
    const int64_t *keys = m->keys->data;
    for (size_t i = 0; i < n; i++) e[i] = (entry){keys[i], i};
    qsort(e, n, sizeof *e, entry_cmp);
    int64_t dims[2] = {1, sparse ? max_map : (int64_t)n};
    ml_dtype dt = to == TO_FLOAT ? ML_FLOAT : to == TO_INT64 ? ML_INT64 : ML_STRING;
    ml_tensor *y;
    ml_status st = ml_output_tensor(ctx, 0, dt, 2, dims, &y);
    if (!st && dt != ML_STRING) memset(y->data, 0, (size_t)dims[1] * ml_dtype_size(dt));
    for (size_t i = 0; !st && i < n; i++) {
        size_t col = i;
        if (sparse) {
            if (e[i].key < 0 || e[i].key >= max_map) {
                st = ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                                   "key %" PRId64 " is outside [0, max_map=%" PRId64 ")", e[i].key,
                                   max_map);
                break;
            }
            col = (size_t)e[i].key;
        }
        st = write_value(ctx, y, col, to, m->values, e[i].at);
    }
    free(e);
    return st;
}
