/* StringNormalizer (opset 10): drops stopword elements, then changes case.
 * Input is [C] or [1, C]; the output keeps that form with the surviving
 * elements, or a single "" when none survive (as the spec requires). */
#include <stdlib.h>
#include <string.h>

#include "ops/string_internal.h"

enum { CASE_NONE, CASE_LOWER, CASE_UPPER };

typedef struct normalizer_state {
    int case_action;
    int case_sensitive;
    size_t n_stops;
    ml_str *stops; /* owned copies, lower-cased when !case_sensitive, sorted */
} normalizer_state;

static int str_cmp(const void *a, const void *b) {
    const ml_str *x = a, *y = b;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->data, y->data, n);
    if (c) return c;
    return x->len < y->len ? -1 : x->len > y->len;
}

void ml_string_normalizer_destroy(void *state) {
    normalizer_state *s = state;
    if (!s) return;
    for (size_t i = 0; i < s->n_stops; i++) free(s->stops[i].data);
    free(s->stops);
    free(s);
}

ml_status ml_string_normalizer_init(const ml_node *node, void **state) {
    const char *action = ml_attr_string(node, "case_change_action", "NONE");
    int ca;
    if (strcmp(action, "NONE") == 0)
        ca = CASE_NONE;
    else if (strcmp(action, "LOWER") == 0)
        ca = CASE_LOWER;
    else if (strcmp(action, "UPPER") == 0)
        ca = CASE_UPPER;
    else
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                             "case_change_action '%s' is not one of NONE, LOWER, UPPER", action);
    normalizer_state *s = calloc(1, sizeof *s);
    if (!s) return ml_error(ML_ERR_OUT_OF_MEMORY, "StringNormalizer state");
    s->case_action = ca;
    s->case_sensitive = ml_attr_int(node, "is_case_sensitive", 0) != 0;
    const ml_str *stops;
    size_t n = ml_attr_strings(node, "stopwords", &stops);
    if (n) {
        s->stops = calloc(n, sizeof *s->stops);
        if (!s->stops) {
            ml_string_normalizer_destroy(s);
            return ml_error(ML_ERR_OUT_OF_MEMORY, "StringNormalizer stopwords");
        }
        for (size_t i = 0; i < n; i++) {
            char *copy = malloc(stops[i].len + 1);
            if (!copy) {
                ml_string_normalizer_destroy(s);
                return ml_error(ML_ERR_OUT_OF_MEMORY, "StringNormalizer stopwords");
            }
            if (s->case_sensitive)
                memcpy(copy, stops[i].data, stops[i].len);
            else
                ml_utf8_change_case(stops[i].data, stops[i].len, copy, 0);
            copy[stops[i].len] = '\0';
            s->stops[i] = (ml_str){copy, stops[i].len};
            s->n_stops++;
        }
        qsort(s->stops, s->n_stops, sizeof *s->stops, str_cmp);
    }
    *state = s;
    return ML_STATUS_OK;
}

/* Grows *buf to at least n bytes. */
static bool reserve(char **buf, size_t *cap, size_t n) {
    if (n <= *cap) return true;
    size_t c = *cap ? *cap : 64;
    while (c < n) c *= 2;
    char *b = realloc(*buf, c);
    if (!b) return false;
    *buf = b;
    *cap = c;
    return true;
}

ml_status ml_string_normalizer_run(ml_kernel_ctx *ctx) {
    const normalizer_state *s = ctx->node->state;
    const ml_tensor *x;
    ML_TRY(ml_require_input(ctx, 0, &x));
    if (x->dtype != ML_STRING)
        return ml_node_error(ctx->node, ML_ERR_INVALID_ARGUMENT,
                             "input must be a string tensor, got %s", ml_dtype_name(x->dtype));
    if (!(x->rank == 1 || (x->rank == 2 && x->dims[0] == 1)))
        return ml_node_error(ctx->node, ML_ERR_INVALID_ARGUMENT,
                             "input must have shape [C] or [1, C] (got rank %d)", x->rank);
    size_t n = ml_tensor_numel(x);
    const ml_str *in = x->data;
    unsigned char *keep = malloc(n ? n : 1);
    if (!keep) return ml_error(ML_ERR_OUT_OF_MEMORY, "StringNormalizer");
    char *buf = NULL;
    size_t cap = 0, kept = 0;
    ml_status st = ML_STATUS_OK;
    for (size_t i = 0; i < n; i++) {
        keep[i] = 1;
        if (!s->n_stops) {
            kept++;
            continue;
        }
        ml_str key = in[i];
        if (!s->case_sensitive) {
            if (!reserve(&buf, &cap, in[i].len + 1)) {
                st = ml_error(ML_ERR_OUT_OF_MEMORY, "StringNormalizer");
                goto done;
            }
            ml_utf8_change_case(in[i].data, in[i].len, buf, 0);
            key = (ml_str){buf, in[i].len};
        }
        if (bsearch(&key, s->stops, s->n_stops, sizeof *s->stops, str_cmp))
            keep[i] = 0;
        else
            kept++;
    }
    int64_t dims[2];
    size_t out_n = kept ? kept : 1;
    if (x->rank == 1) {
        dims[0] = (int64_t)out_n;
    } else {
        dims[0] = 1;
        dims[1] = (int64_t)out_n;
    }
    ml_tensor *y;
    st = ml_output_tensor(ctx, 0, ML_STRING, x->rank, dims, &y);
    if (st) goto done;
    if (!kept) {
        st = ml_tensor_set_string(y, 0, "", 0);
        goto done;
    }
    size_t o = 0;
    for (size_t i = 0; i < n && !st; i++) {
        if (!keep[i]) continue;
        if (s->case_action == CASE_NONE) {
            st = ml_tensor_set_string(y, o++, in[i].data, in[i].len);
            continue;
        }
        if (!reserve(&buf, &cap, in[i].len + 1)) {
            st = ml_error(ML_ERR_OUT_OF_MEMORY, "StringNormalizer");
            break;
        }
        ml_utf8_change_case(in[i].data, in[i].len, buf, s->case_action == CASE_UPPER);
        st = ml_tensor_set_string(y, o++, buf, in[i].len);
    }
done:
    free(keep);
    free(buf);
    return st;
}
