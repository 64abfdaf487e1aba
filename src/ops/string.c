/* String family table, and StringConcat (opset 20, numpy broadcasting). */
#include <stdlib.h>
#include <string.h>

#include "ops/families.h"
#include "ops/string_internal.h"

/* Element strides of src aligned to an output of rank r (0 on broadcast dims). */
static void broadcast_strides(const ml_tensor *src, int r, const int64_t *odims, int64_t *strides) {
    int64_t s = 1;
    for (int i = r - 1, j = src->rank - 1; i >= 0; i--, j--) {
        if (j >= 0) {
            strides[i] = (src->dims[j] == 1 && odims[i] != 1) ? 0 : s;
            s *= src->dims[j];
        } else {
            strides[i] = 0;
        }
    }
}

static ml_status string_concat_run(ml_kernel_ctx *ctx) {
    const ml_tensor *a, *b;
    ML_TRY(ml_require_input(ctx, 0, &a));
    ML_TRY(ml_require_input(ctx, 1, &b));
    if (a->dtype != ML_STRING || b->dtype != ML_STRING)
        return ml_node_error(ctx->node, ML_ERR_INVALID_ARGUMENT,
                             "both inputs must be string tensors (got %s and %s)",
                             ml_dtype_name(a->dtype), ml_dtype_name(b->dtype));
    int r;
    int64_t dims[ML_MAX_RANK];
    ml_status st = ml_shape_broadcast(a->rank, a->dims, b->rank, b->dims, &r, dims);
    if (st) return ml_status_wrap(st, "StringConcat node '%s'", ctx->node->name);
    ml_tensor *y;
    ML_TRY(ml_output_tensor(ctx, 0, ML_STRING, r, dims, &y));
    size_t n = ml_tensor_numel(y);
    if (!n) return ML_STATUS_OK;
    int64_t sa[ML_MAX_RANK], sb[ML_MAX_RANK], idx[ML_MAX_RANK] = {0};
    broadcast_strides(a, r, dims, sa);
    broadcast_strides(b, r, dims, sb);
    const ml_str *xa = a->data, *xb = b->data;
    char *buf = NULL;
    size_t cap = 0;
    int64_t oa = 0, ob = 0;
    for (size_t i = 0; i < n; i++) {
        const ml_str *p = &xa[oa], *q = &xb[ob];
        size_t len = p->len + q->len;
        if (len + 1 > cap) {
            char *nb = realloc(buf, len + 1);
            if (!nb) {
                free(buf);
                return ml_error(ML_ERR_OUT_OF_MEMORY, "StringConcat");
            }
            buf = nb;
            cap = len + 1;
        }
        if (p->len) memcpy(buf, p->data, p->len);
        if (q->len) memcpy(buf + p->len, q->data, q->len);
        st = ml_tensor_set_string(y, i, buf, len);
        if (st) break;
        /* odometer over the output index, keeping the input offsets */
        for (int d = r - 1; d >= 0; d--) {
            idx[d]++;
            oa += sa[d];
            ob += sb[d];
            if (idx[d] < dims[d]) break;
            oa -= sa[d] * idx[d];
            ob -= sb[d] * idx[d];
            idx[d] = 0;
        }
    }
    free(buf);
    return st;
}

const ml_kernel ml_kernels_string[] = {
    {"", "StringNormalizer", 10, 0, ml_string_normalizer_init, ml_string_normalizer_destroy,
     ml_string_normalizer_run},
    {"", "StringSplit", 20, 0, NULL, NULL, ml_string_split_run},
    {"", "RegexFullMatch", 20, 0, ml_regex_full_match_init, ml_regex_full_match_destroy,
     ml_regex_full_match_run},
    {"", "StringConcat", 20, 0, NULL, NULL, string_concat_run},
    {0},
};
