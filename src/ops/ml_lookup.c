/* Sorted key tables (binary search) for the category encoders: string,
 * int64 or double keys, each remembering its position in the attribute
 * list. For duplicate keys the first listed wins; NaN double keys match
 * NaN. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ops/ml_internal.h"

static int cmp_str(const void *a, const void *b) {
    const ml_lk_entry *x = a, *y = b;
    size_t n = x->s.len < y->s.len ? x->s.len : y->s.len;
    int c = n ? memcmp(x->s.data, y->s.data, n) : 0;
    if (!c) c = x->s.len < y->s.len ? -1 : x->s.len > y->s.len;
    return c ? c : (x->pos > y->pos) - (x->pos < y->pos);
}
static int cmp_int(const void *a, const void *b) {
    const ml_lk_entry *x = a, *y = b;
    if (x->i != y->i) return x->i < y->i ? -1 : 1;
    return (x->pos > y->pos) - (x->pos < y->pos);
}
static int cmp_dbl(const void *a, const void *b) {
    const ml_lk_entry *x = a, *y = b;
    if (x->d != y->d) return x->d < y->d ? -1 : 1;
    return (x->pos > y->pos) - (x->pos < y->pos);
}

void ml_lut_free(ml_lut *t) {
    free(t->e);
    t->e = NULL;
    t->n = 0;
}

/* Builds a table over n keys given as strings, int64s or doubles. */
ml_status ml_lut_build(ml_lut *t, ml_lk_kind kind, size_t n, const ml_str *s, const int64_t *i,
                       const double *d) {
    t->kind = kind;
    t->n = 0;
    t->nan_pos = -1;
    if (n > INT32_MAX) return ml_error(ML_ERR_RESOURCE_EXHAUSTED, "%zu keys are too many", n);
    t->e = malloc((n ? n : 1) * sizeof *t->e);
    if (!t->e) return ml_error(ML_ERR_OUT_OF_MEMORY, "%zu keys", n);
    for (size_t k = 0; k < n; k++) {
        ml_lk_entry e = {.pos = (int32_t)k};
        if (kind == ML_LK_STR)
            e.s = s[k];
        else if (kind == ML_LK_INT)
            e.i = i[k];
        else if (isnan(d[k])) {
            if (t->nan_pos < 0) t->nan_pos = (int32_t)k;
            continue; /* NaN keys cannot be ordered: matched separately */
        } else
            e.d = d[k];
        t->e[t->n++] = e;
    }
    qsort(t->e, t->n, sizeof *t->e,
          kind == ML_LK_STR   ? cmp_str
          : kind == ML_LK_INT ? cmp_int
                              : cmp_dbl);
    return ML_STATUS_OK;
}

/* Position of the key in the original list, or -1. */
int32_t ml_lut_find(const ml_lut *t, const ml_str *s, int64_t i, double d) {
    if (t->kind == ML_LK_DBL && isnan(d)) return t->nan_pos;
    size_t lo = 0, hi = t->n;
    ml_lk_entry key = {.pos = -1};
    if (s) key.s = *s;
    key.i = i;
    key.d = d;
    int (*cmp)(const void *, const void *) = t->kind == ML_LK_STR   ? cmp_str
                                             : t->kind == ML_LK_INT ? cmp_int
                                                                    : cmp_dbl;
    /* pos -1 sorts before every equal key: lower bound finds the first */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (cmp(&t->e[mid], &key) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < t->n) {
        const ml_lk_entry *e = &t->e[lo];
        bool eq = t->kind == ML_LK_STR
                      ? (e->s.len == key.s.len &&
                         (!key.s.len || memcmp(e->s.data, key.s.data, key.s.len) == 0))
                  : t->kind == ML_LK_INT ? e->i == i
                                         : e->d == d;
        if (eq) return e->pos;
    }
    return -1;
}

/* Looks up element k of a tensor whose dtype fits the table's key kind. */
int32_t ml_lut_find_elem(const ml_lut *t, const ml_tensor *x, size_t k) {
    if (t->kind == ML_LK_STR) return ml_lut_find(t, &((const ml_str *)x->data)[k], 0, 0);
    if (t->kind == ML_LK_INT) {
        int64_t v =
            x->dtype == ML_INT64 ? ((const int64_t *)x->data)[k] : (int64_t)ml_tensor_get_f64(x, k);
        return ml_lut_find(t, NULL, v, 0);
    }
    return ml_lut_find(t, NULL, 0, ml_tensor_get_f64(x, k));
}

bool ml_lut_dtype_fits(ml_lk_kind k, ml_dtype dt) {
    switch (k) {
    case ML_LK_STR:
        return dt == ML_STRING;
    case ML_LK_INT:
        return ml_dtype_is_integer(dt);
    default:
        return dt == ML_FLOAT || dt == ML_DOUBLE || dt == ML_FLOAT16 || dt == ML_BFLOAT16;
    }
}
