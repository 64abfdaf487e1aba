/* ZipMap: each row of scores X [N, C] becomes a map label -> score, and
 * the output is a sequence of N maps. All maps share one keys tensor. */
#include <string.h>

#include "ops/ml_internal.h"

ml_status ml_zipmap_run(ml_kernel_ctx *ctx) {
    const ml_node *node = ctx->node;
    ml_labels labels;
    ML_TRY(ml_read_labels(node, "classlabels_int64s", "classlabels_strings", false, &labels));
    const ml_tensor *x;
    ML_TRY(ml_require_input(ctx, 0, &x));
    if (x->dtype != ML_FLOAT)
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT, "X must be float, got %s",
                             ml_dtype_name(x->dtype));
    size_t n, c;
    ML_TRY(ml_feature_rows(node, x, &n, &c));
    if (x->rank > 2 || c != labels.n)
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                             "X must be [N, %zu] to match the %zu class labels (got %zu columns)",
                             labels.n, labels.n, c);
    int64_t kd[1] = {(int64_t)c};
    ml_tensor *keys;
    ML_TRY(ml_tensor_create(labels.strings ? ML_STRING : ML_INT64, 1, kd, &keys));
    ml_status st = ML_STATUS_OK;
    for (size_t i = 0; i < c && !st; i++) {
        if (labels.strings)
            st = ml_tensor_set_string(keys, i, labels.strings[i].data, labels.strings[i].len);
        else
            ((int64_t *)keys->data)[i] = labels.ints[i];
    }
    ml_value *seq = NULL;
    if (!st) st = ml_value_new_sequence(ML_FLOAT, &seq);
    const float *xf = x->data;
    for (size_t r = 0; r < n && !st; r++) {
        ml_tensor *k = NULL, *v = NULL;
        st = ml_tensor_view(keys, 1, kd, &k);
        if (!st) st = ml_tensor_create(ML_FLOAT, 1, kd, &v);
        if (st) {
            ml_tensor_free(k);
            break;
        }
        if (c) memcpy(v->data, xf + r * c, c * sizeof(float));
        ml_value *m;
        st = ml_value_new_map(k, v, &m); /* takes k and v */
        if (!st) st = ml_value_sequence_append(seq, m);
    }
    ml_tensor_free(keys);
    if (st) {
        ml_value_free(seq);
        return st;
    }
    return ml_set_output(ctx, 0, seq);
}
