/* DictVectorizer: a map (or a sequence of maps, one row each) becomes a
 * dense row over the vocabulary; absent keys give 0 ("" for strings). */
#include <stdlib.h>
#include <string.h>

#include "ops/ml_internal.h"

/* A map (or a sequence of maps: one row each) becomes a dense row over the
 * vocabulary; absent keys give 0 ("" for string values). */
typedef struct dict_vectorizer {
    ml_lut vocab;
} dict_vectorizer;

void ml_dict_vectorizer_destroy(void *state) {
    dict_vectorizer *s = state;
    if (!s) return;
    ml_lut_free(&s->vocab);
    free(s);
}

ml_status ml_dict_vectorizer_init(const ml_node *node, void **state) {
    const ml_str *strs;
    const int64_t *ints;
    size_t ns = ml_attr_strings(node, "string_vocabulary", &strs);
    size_t ni = ml_attr_ints(node, "int64_vocabulary", &ints);
    if ((ns > 0) == (ni > 0))
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                             "exactly one of string_vocabulary and int64_vocabulary must be set");
    dict_vectorizer *s = calloc(1, sizeof *s);
    if (!s) return ml_error(ML_ERR_OUT_OF_MEMORY, "DictVectorizer state");
    ml_status st = ns ? ml_lut_build(&s->vocab, ML_LK_STR, ns, strs, NULL, NULL)
                      : ml_lut_build(&s->vocab, ML_LK_INT, ni, NULL, ints, NULL);
    if (st) {
        ml_dict_vectorizer_destroy(s);
        return st;
    }
    *state = s;
    return ML_STATUS_OK;
}

static ml_status check_map(const ml_node *node, const dict_vectorizer *s, const ml_value *m,
                           ml_dtype *vdt) {
    if (!m || m->kind != ML_VALUE_MAP || !m->keys || !m->values)
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                             "input must be a map or a sequence of maps");
    if (ml_tensor_numel(m->keys) != ml_tensor_numel(m->values))
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT, "map has %zu keys but %zu values",
                             ml_tensor_numel(m->keys), ml_tensor_numel(m->values));
    if (!ml_lut_dtype_fits(s->vocab.kind, m->keys->dtype) || m->keys->dtype == ML_INT32 ||
        (s->vocab.kind == ML_LK_INT && m->keys->dtype != ML_INT64))
        return ml_node_error(
            node, ML_ERR_INVALID_ARGUMENT, "map keys are %s but the vocabulary is %s",
            ml_dtype_name(m->keys->dtype), s->vocab.kind == ML_LK_STR ? "string" : "int64");
    if (*vdt == ML_UNDEFINED)
        *vdt = m->values->dtype;
    else if (*vdt != m->values->dtype)
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT, "maps have different value types");
    if (*vdt == ML_UNDEFINED || *vdt == ML_COMPLEX64 || *vdt == ML_COMPLEX128)
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT, "unsupported map value type %s",
                             ml_dtype_name(*vdt));
    return ML_STATUS_OK;
}

ml_status ml_dict_vectorizer_run(ml_kernel_ctx *ctx) {
    const dict_vectorizer *s = ctx->node->state;
    const ml_value *in = ml_input_value(ctx, 0);
    if (!in) return ml_node_error(ctx->node, ML_ERR_INVALID_ARGUMENT, "input 0 is required");
    const ml_value *const *maps = &in;
    size_t rows = 1;
    if (in->kind == ML_VALUE_SEQUENCE) {
        maps = (const ml_value *const *)in->items;
        rows = in->n_items;
    }
    ml_dtype vdt = ML_UNDEFINED;
    for (size_t r = 0; r < rows; r++) ML_TRY(check_map(ctx->node, s, maps[r], &vdt));
    if (vdt == ML_UNDEFINED) vdt = ML_FLOAT; /* empty sequence */
    size_t v = s->vocab.n;
    int64_t dims[2] = {(int64_t)rows, (int64_t)v};
    ml_tensor *y;
    ML_TRY(ml_output_tensor(ctx, 0, vdt, 2, dims, &y));
    if (vdt != ML_STRING) memset(y->data, 0, rows * v * ml_dtype_size(vdt));
    size_t es = ml_dtype_size(vdt);
    for (size_t r = 0; r < rows; r++) {
        const ml_value *m = maps[r];
        size_t n = ml_tensor_numel(m->keys);
        for (size_t k = 0; k < n; k++) {
            int32_t p = ml_lut_find_elem(&s->vocab, m->keys, k);
            if (p < 0) continue;
            size_t at = r * v + (size_t)p;
            if (vdt == ML_STRING) {
                const ml_str *str = &((const ml_str *)m->values->data)[k];
                ML_TRY(ml_tensor_set_string(y, at, str->data, str->len));
            } else {
                memcpy((char *)y->data + at * es, (const char *)m->values->data + k * es, es);
            }
        }
    }
    return ML_STATUS_OK;
}
