/* Category encoders: LabelEncoder (opsets 1, 2 and 4), CategoryMapper and
 * OneHotEncoder. Each builds at load time a sorted key index (binary
 * search at run time); for duplicate keys the first listed wins. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops/ml_internal.h"

/* ---------------- LabelEncoder ---------------- */

typedef struct label_encoder {
    bool v1; /* opset 1: classes_strings, direction chosen by the input type */
    ml_lut keys;
    ml_dtype out;
    const ml_str *vs; /* string values (borrowed from the node) */
    double *vd;       /* float values (owned) */
    int64_t *vi;      /* integer values (owned) */
    size_t n_values;
    ml_str def_s;
    double def_d;
    int64_t def_i;
    int64_t *tmp_i; /* owned key conversions */
    double *tmp_d;
} label_encoder;

void ml_label_encoder_destroy(void *state) {
    label_encoder *s = state;
    if (!s) return;
    ml_lut_free(&s->keys);
    free(s->vd);
    free(s->vi);
    free(s->tmp_i);
    free(s->tmp_d);
    free(s);
}

/* Reads keys or values given as a list attribute or (opset 4) a tensor.
 * Exactly one form must be present. Sets kind, count and the data (strings
 * borrowed, numbers converted into owned arrays). */
static ml_status read_column(const ml_node *node, const char *what, ml_lk_kind *kind,
                             ml_dtype *dtype, size_t *n, const ml_str **vs, int64_t **vi,
                             double **vd) {
    char nf[64], ni[64], ns[64], nt[64];
    snprintf(nf, sizeof nf, "%s_floats", what);
    snprintf(ni, sizeof ni, "%s_int64s", what);
    snprintf(ns, sizeof ns, "%s_strings", what);
    snprintf(nt, sizeof nt, "%s_tensor", what);
    const float *f;
    const int64_t *i;
    const ml_str *s;
    size_t cf = ml_attr_floats(node, nf, &f), ci = ml_attr_ints(node, ni, &i),
           cs = ml_attr_strings(node, ns, &s);
    const ml_tensor *t = ml_attr_tensor(node, nt);
    if (!t) { /* the ONNX backend test data spells it keys_as_tensor / values_as_tensor */
        char alt[64];
        snprintf(alt, sizeof alt, "%s_as_tensor", what);
        t = ml_attr_tensor(node, alt);
    }
    int present = (cf > 0) + (ci > 0) + (cs > 0) + (t != NULL);
    if (present != 1)
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                             "exactly one of %s, %s, %s or %s must be set (found %d)", nf, ni, ns,
                             nt, present);
    *vs = NULL;
    *vi = NULL;
    *vd = NULL;
    if (cs) {
        *kind = ML_LK_STR;
        *dtype = ML_STRING;
        *n = cs;
        *vs = s;
        return ML_STATUS_OK;
    }
    size_t cnt = cf ? cf : ci ? ci : ml_tensor_numel(t);
    ml_dtype dt = cf ? ML_FLOAT : ci ? ML_INT64 : t->dtype;
    *n = cnt;
    *dtype = dt;
    if (dt == ML_STRING) {
        *kind = ML_LK_STR;
        *vs = t->data;
        return ML_STATUS_OK;
    }
    if (ml_dtype_is_integer(dt)) {
        *kind = ML_LK_INT;
        *vi = malloc((cnt ? cnt : 1) * sizeof **vi);
        if (!*vi) return ml_error(ML_ERR_OUT_OF_MEMORY, "%s", what);
        for (size_t k = 0; k < cnt; k++)
            (*vi)[k] = ci               ? i[k]
                       : dt == ML_INT64 ? ((const int64_t *)t->data)[k]
                                        : (int64_t)ml_tensor_get_f64(t, k);
        return ML_STATUS_OK;
    }
    if (!ml_dtype_is_float(dt))
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT, "%s has unsupported dtype %s", nt,
                             ml_dtype_name(dt));
    *kind = ML_LK_DBL;
    *vd = malloc((cnt ? cnt : 1) * sizeof **vd);
    if (!*vd) return ml_error(ML_ERR_OUT_OF_MEMORY, "%s", what);
    for (size_t k = 0; k < cnt; k++) (*vd)[k] = cf ? f[k] : ml_tensor_get_f64(t, k);
    return ML_STATUS_OK;
}

ml_status ml_label_encoder_init(const ml_node *node, void **state) {
    label_encoder *s = calloc(1, sizeof *s);
    if (!s) return ml_error(ML_ERR_OUT_OF_MEMORY, "LabelEncoder state");
    ml_status st = ML_STATUS_OK;
    const char *ds = ml_attr_string(node, "default_string", "_Unused");
    s->def_s = (ml_str){(char *)ds, strlen(ds)};
    s->def_i = ml_attr_int(node, "default_int64", -1);
    s->def_d = ml_attr_float(node, "default_float", -0.0f);
    if (node->opset < 2) {
        s->v1 = true;
        const ml_str *classes;
        size_t n = ml_attr_strings(node, "classes_strings", &classes);
        s->vs = classes;
        s->n_values = n;
        st = ml_lut_build(&s->keys, ML_LK_STR, n, classes, NULL, NULL);
        goto out;
    }
    ml_lk_kind kk, vk;
    ml_dtype kdt;
    size_t nk;
    const ml_str *ks;
    st = read_column(node, "keys", &kk, &kdt, &nk, &ks, &s->tmp_i, &s->tmp_d);
    if (st) goto out;
    st = read_column(node, "values", &vk, &s->out, &s->n_values, &s->vs, &s->vi, &s->vd);
    if (st) goto out;
    if (nk != s->n_values) {
        st = ml_node_error(node, ML_ERR_INVALID_ARGUMENT, "%zu keys but %zu values", nk,
                           s->n_values);
        goto out;
    }
    st = ml_lut_build(&s->keys, kk, nk, ks, s->tmp_i, s->tmp_d);
    if (st) goto out;
    const ml_tensor *dt = ml_attr_tensor(node, "default_tensor");
    if (!dt) dt = ml_attr_tensor(node, "default_as_tensor");
    if (dt) {
        if (dt->dtype != s->out || ml_tensor_numel(dt) != 1) {
            st = ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                               "default_tensor must hold one %s value", ml_dtype_name(s->out));
            goto out;
        }
        if (dt->dtype == ML_STRING)
            s->def_s = *(const ml_str *)dt->data;
        else if (dt->dtype == ML_INT64)
            s->def_i = *(const int64_t *)dt->data;
        else {
            s->def_d = ml_tensor_get_f64(dt, 0);
            s->def_i = (int64_t)s->def_d;
        }
    }
out:
    if (st) {
        ml_label_encoder_destroy(s);
        return st;
    }
    *state = s;
    return ML_STATUS_OK;
}

ml_status ml_label_encoder_run(ml_kernel_ctx *ctx) {
    const label_encoder *s = ctx->node->state;
    const ml_tensor *x;
    ML_TRY(ml_require_input(ctx, 0, &x));
    size_t n = ml_tensor_numel(x);
    ml_tensor *y;
    if (s->v1) {
        if (x->dtype == ML_STRING) {
            ML_TRY(ml_output_tensor(ctx, 0, ML_INT64, x->rank, x->dims, &y));
            int64_t *o = y->data;
            for (size_t k = 0; k < n; k++) {
                int32_t p = ml_lut_find_elem(&s->keys, x, k);
                o[k] = p >= 0 ? p : s->def_i;
            }
            return ML_STATUS_OK;
        }
        if (x->dtype != ML_INT64)
            return ml_node_error(ctx->node, ML_ERR_INVALID_ARGUMENT,
                                 "input must be string or int64, got %s", ml_dtype_name(x->dtype));
        ML_TRY(ml_output_tensor(ctx, 0, ML_STRING, x->rank, x->dims, &y));
        const int64_t *in = x->data;
        for (size_t k = 0; k < n; k++) {
            const ml_str *v =
                (in[k] >= 0 && (uint64_t)in[k] < s->n_values) ? &s->vs[in[k]] : &s->def_s;
            ML_TRY(ml_tensor_set_string(y, k, v->data, v->len));
        }
        return ML_STATUS_OK;
    }
    if (!ml_lut_dtype_fits(s->keys.kind, x->dtype))
        return ml_node_error(ctx->node, ML_ERR_INVALID_ARGUMENT,
                             "input dtype %s does not match the keys", ml_dtype_name(x->dtype));
    ML_TRY(ml_output_tensor(ctx, 0, s->out, x->rank, x->dims, &y));
    for (size_t k = 0; k < n; k++) {
        int32_t p = ml_lut_find_elem(&s->keys, x, k);
        if (s->out == ML_STRING) {
            const ml_str *v = p >= 0 ? &s->vs[p] : &s->def_s;
            ML_TRY(ml_tensor_set_string(y, k, v->data, v->len));
        } else if (s->out == ML_INT64) {
            ((int64_t *)y->data)[k] = p >= 0 ? s->vi[p] : s->def_i;
        } else if (ml_dtype_is_integer(s->out)) {
            ml_tensor_set_f64(y, k, (double)(p >= 0 ? s->vi[p] : s->def_i));
        } else if (s->out == ML_FLOAT) {
            ((float *)y->data)[k] = (float)(p >= 0 ? s->vd[p] : s->def_d);
        } else {
            ml_tensor_set_f64(y, k, p >= 0 ? s->vd[p] : s->def_d);
        }
    }
    return ML_STATUS_OK;
}

/* ---------------- CategoryMapper ---------------- */

typedef struct category_mapper {
    ml_lut by_str, by_int;
    const ml_str *strs;
    const int64_t *ints;
    ml_str def_s;
    int64_t def_i;
} category_mapper;

void ml_category_mapper_destroy(void *state) {
    category_mapper *s = state;
    if (!s) return;
    ml_lut_free(&s->by_str);
    ml_lut_free(&s->by_int);
    free(s);
}

ml_status ml_category_mapper_init(const ml_node *node, void **state) {
    const ml_str *strs;
    const int64_t *ints;
    size_t ns = ml_attr_strings(node, "cats_strings", &strs);
    size_t ni = ml_attr_ints(node, "cats_int64s", &ints);
    if (ns != ni)
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                             "cats_strings (%zu) and cats_int64s (%zu) must have equal lengths", ns,
                             ni);
    category_mapper *s = calloc(1, sizeof *s);
    if (!s) return ml_error(ML_ERR_OUT_OF_MEMORY, "CategoryMapper state");
    s->strs = strs;
    s->ints = ints;
    const char *ds = ml_attr_string(node, "default_string", "_Unused");
    s->def_s = (ml_str){(char *)ds, strlen(ds)};
    s->def_i = ml_attr_int(node, "default_int64", -1);
    ml_status st = ml_lut_build(&s->by_str, ML_LK_STR, ns, strs, NULL, NULL);
    if (!st) st = ml_lut_build(&s->by_int, ML_LK_INT, ni, NULL, ints, NULL);
    if (st) {
        ml_category_mapper_destroy(s);
        return st;
    }
    *state = s;
    return ML_STATUS_OK;
}

ml_status ml_category_mapper_run(ml_kernel_ctx *ctx) {
    const category_mapper *s = ctx->node->state;
    const ml_tensor *x;
    ML_TRY(ml_require_input(ctx, 0, &x));
    size_t n = ml_tensor_numel(x);
    ml_tensor *y;
    if (x->dtype == ML_STRING) {
        ML_TRY(ml_output_tensor(ctx, 0, ML_INT64, x->rank, x->dims, &y));
        int64_t *o = y->data;
        for (size_t k = 0; k < n; k++) {
            int32_t p = ml_lut_find_elem(&s->by_str, x, k);
            o[k] = p >= 0 ? s->ints[p] : s->def_i;
        }
        return ML_STATUS_OK;
    }
    if (x->dtype != ML_INT64)
        return ml_node_error(ctx->node, ML_ERR_INVALID_ARGUMENT,
                             "input must be string or int64, got %s", ml_dtype_name(x->dtype));
    ML_TRY(ml_output_tensor(ctx, 0, ML_STRING, x->rank, x->dims, &y));
    for (size_t k = 0; k < n; k++) {
        int32_t p = ml_lut_find_elem(&s->by_int, x, k);
        const ml_str *v = p >= 0 ? &s->strs[p] : &s->def_s;
        ML_TRY(ml_tensor_set_string(y, k, v->data, v->len));
    }
    return ML_STATUS_OK;
}

/* ---------------- OneHotEncoder ---------------- */

typedef struct one_hot {
    ml_lut cats;
    bool zeros; /* unknown categories give all zeros (else an error) */
} one_hot;

void ml_one_hot_encoder_destroy(void *state) {
    one_hot *s = state;
    if (!s) return;
    ml_lut_free(&s->cats);
    free(s);
}

ml_status ml_one_hot_encoder_init(const ml_node *node, void **state) {
    const ml_str *strs;
    const int64_t *ints;
    size_t ns = ml_attr_strings(node, "cats_strings", &strs);
    size_t ni = ml_attr_ints(node, "cats_int64s", &ints);
    if ((ns > 0) == (ni > 0))
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                             "exactly one of cats_strings and cats_int64s must be set");
    one_hot *s = calloc(1, sizeof *s);
    if (!s) return ml_error(ML_ERR_OUT_OF_MEMORY, "OneHotEncoder state");
    s->zeros = ml_attr_int(node, "zeros", 1) != 0;
    ml_status st = ns ? ml_lut_build(&s->cats, ML_LK_STR, ns, strs, NULL, NULL)
                      : ml_lut_build(&s->cats, ML_LK_INT, ni, NULL, ints, NULL);
    if (st) {
        ml_one_hot_encoder_destroy(s);
        return st;
    }
    *state = s;
    return ML_STATUS_OK;
}

ml_status ml_one_hot_encoder_run(ml_kernel_ctx *ctx) {
    const one_hot *s = ctx->node->state;
    const ml_tensor *x;
    ML_TRY(ml_require_input(ctx, 0, &x));
    bool str_in = x->dtype == ML_STRING;
    if (str_in != (s->cats.kind == ML_LK_STR) ||
        (!str_in && !ml_dtype_is_integer(x->dtype) && !ml_dtype_is_float(x->dtype)))
        return ml_node_error(
            ctx->node, ML_ERR_INVALID_ARGUMENT, "input dtype %s does not match the %s categories",
            ml_dtype_name(x->dtype), s->cats.kind == ML_LK_STR ? "string" : "int64");
    if (x->rank + 1 > ML_MAX_RANK)
        return ml_node_error(ctx->node, ML_ERR_INVALID_ARGUMENT, "input rank %d is too large",
                             x->rank);
    size_t ncat = s->cats.n + (s->cats.nan_pos >= 0);
    int64_t dims[ML_MAX_RANK];
    memcpy(dims, x->dims, sizeof(int64_t) * (size_t)x->rank);
    dims[x->rank] = (int64_t)ncat;
    size_t total;
    if (!ml_shape_numel(x->rank + 1, dims, &total))
        return ml_node_error(ctx->node, ML_ERR_RESOURCE_EXHAUSTED, "one-hot output is too large");
    ml_tensor *y;
    ML_TRY(ml_output_tensor(ctx, 0, ML_FLOAT, x->rank + 1, dims, &y));
    float *o = y->data;
    memset(o, 0, total * sizeof *o);
    size_t n = ml_tensor_numel(x);
    for (size_t k = 0; k < n; k++) {
        int32_t p = ml_lut_find_elem(&s->cats, x, k);
        if (p >= 0) {
            o[k * ncat + (size_t)p] = 1.0f;
        } else if (!s->zeros) {
            return ml_node_error(ctx->node, ML_ERR_INVALID_ARGUMENT,
                                 "element %zu is not a known category (zeros=0)", k);
        }
    }
    return ML_STATUS_OK;
}
