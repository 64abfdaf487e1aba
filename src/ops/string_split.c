/* StringSplit (opset 20): Python str.split semantics. With a delimiter,
 * empty pieces between adjacent delimiters are kept ("a,,b" -> a,"",b);
 * without one (absent or ""), runs of ASCII whitespace separate pieces and
 * leading/trailing whitespace yields none. maxsplit bounds the number of
 * splits; the remainder stays whole. Outputs: Y = X.shape + [max pieces]
 * padded with "", Z = X.shape piece counts. */
#include <stdlib.h>
#include <string.h>

#include "ops/string_internal.h"

static bool is_space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

/* Splits s; stores up to the returned count of pieces in out when out is
 * not NULL (pieces point into s). maxsplit < 0 means unlimited. */
static size_t split_one(const ml_str *s, const char *sep, size_t sep_len, int64_t maxsplit,
                        ml_str *out) {
    const char *p = s->data, *end = s->data + s->len;
    size_t n = 0;
    if (sep_len) {
        int64_t splits = 0;
        const char *start = p;
        while (p + sep_len <= end && (maxsplit < 0 || splits < maxsplit)) {
            if (memcmp(p, sep, sep_len) == 0) {
                if (out) out[n] = (ml_str){(char *)start, (size_t)(p - start)};
                n++;
                splits++;
                p += sep_len;
                start = p;
            } else {
                p++;
            }
        }
        if (out) out[n] = (ml_str){(char *)start, (size_t)(end - start)};
        return n + 1;
    }
    int64_t splits = 0;
    while (p < end) {
        while (p < end && is_space(*p)) p++;
        if (p == end) break;
        if (maxsplit >= 0 && splits >= maxsplit) {
            /* the rest, trailing whitespace included, as Python does */
            if (out) out[n] = (ml_str){(char *)p, (size_t)(end - p)};
            return n + 1;
        }
        const char *start = p;
        while (p < end && !is_space(*p)) p++;
        if (out) out[n] = (ml_str){(char *)start, (size_t)(p - start)};
        n++;
        splits++;
    }
    return n;
}

ml_status ml_string_split_run(ml_kernel_ctx *ctx) {
    const ml_node *node = ctx->node;
    const ml_tensor *x;
    ML_TRY(ml_require_input(ctx, 0, &x));
    if (x->dtype != ML_STRING)
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT, "input must be a string tensor, got %s",
                             ml_dtype_name(x->dtype));
    if (x->rank + 1 > ML_MAX_RANK)
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT, "input rank %d is too large", x->rank);
    const char *sep = ml_attr_string(node, "delimiter", "");
    size_t sep_len = strlen(sep);
    int64_t maxsplit = ml_attr_int(node, "maxsplit", -1);
    size_t n = ml_tensor_numel(x);
    const ml_str *in = x->data;

    int64_t zdims[ML_MAX_RANK];
    memcpy(zdims, x->dims, sizeof(int64_t) * (size_t)x->rank);
    size_t max_pieces = 0;
    if (ctx->n_outputs > 1) {
        ml_tensor *z;
        ML_TRY(ml_output_tensor(ctx, 1, ML_INT64, x->rank, zdims, &z));
        int64_t *counts = z->data;
        for (size_t i = 0; i < n; i++) {
            size_t c = split_one(&in[i], sep, sep_len, maxsplit, NULL);
            counts[i] = (int64_t)c;
            if (c > max_pieces) max_pieces = c;
        }
    } else {
        for (size_t i = 0; i < n; i++) {
            size_t c = split_one(&in[i], sep, sep_len, maxsplit, NULL);
            if (c > max_pieces) max_pieces = c;
        }
    }
    int64_t ydims[ML_MAX_RANK];
    memcpy(ydims, x->dims, sizeof(int64_t) * (size_t)x->rank);
    ydims[x->rank] = (int64_t)max_pieces;
    size_t total;
    if (!ml_shape_numel(x->rank + 1, ydims, &total))
        return ml_node_error(node, ML_ERR_RESOURCE_EXHAUSTED, "split output is too large");
    ml_tensor *y;
    ML_TRY(ml_output_tensor(ctx, 0, ML_STRING, x->rank + 1, ydims, &y));
    if (!max_pieces) return ML_STATUS_OK;
    ml_str *pieces = malloc(max_pieces * sizeof *pieces);
    if (!pieces) return ml_error(ML_ERR_OUT_OF_MEMORY, "StringSplit");
    ml_status st = ML_STATUS_OK;
    for (size_t i = 0; i < n && !st; i++) {
        size_t c = split_one(&in[i], sep, sep_len, maxsplit, pieces);
        for (size_t k = 0; k < max_pieces && !st; k++) {
            if (k < c)
                st = ml_tensor_set_string(y, i * max_pieces + k, pieces[k].data, pieces[k].len);
            else
                st = ml_tensor_set_string(y, i * max_pieces + k, "", 0);
        }
    }
    free(pieces);
    return st;
}
