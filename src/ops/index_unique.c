/* Unique: distinct elements (or slices along an axis) with first-occurrence
 * indices, inverse indices and counts; sorted or in order of appearance.
 *
 * Items are sorted with a stable merge sort of their indices, so within a
 * run of equal items the first is the earliest occurrence. */
#include <stdlib.h>

#include "ops/index_internal.h"
#include "ops/shape_util.h"

typedef struct {
    const ml_tensor *x;
    size_t outer, len, inner; /* item i = elements (o, i, n) for o < outer, n < inner */
} items;

static int cmp_elem(const ml_tensor *x, size_t a, size_t b) {
    const void *d = x->data;
#define CMP(T)                                                                                     \
    do {                                                                                           \
        T va = ((const T *)d)[a], vb = ((const T *)d)[b];                                          \
        return va < vb ? -1 : vb < va ? 1 : 0;                                                     \
    } while (0)
    switch (x->dtype) {
    case ML_FLOAT:
        CMP(float);
    case ML_DOUBLE:
        CMP(double);
    case ML_INT8:
        CMP(int8_t);
    case ML_UINT8:
    case ML_BOOL:
        CMP(uint8_t);
    case ML_INT16:
        CMP(int16_t);
    case ML_UINT16:
        CMP(uint16_t);
    case ML_INT32:
        CMP(int32_t);
    case ML_UINT32:
        CMP(uint32_t);
    case ML_INT64:
        CMP(int64_t);
    case ML_UINT64:
        CMP(uint64_t);
    case ML_STRING: {
        const ml_str *sa = &((const ml_str *)d)[a], *sb = &((const ml_str *)d)[b];
        size_t n = sa->len < sb->len ? sa->len : sb->len;
        int c = n ? memcmp(sa->data, sb->data, n) : 0;
        if (c) return c < 0 ? -1 : 1;
        return sa->len < sb->len ? -1 : sa->len > sb->len ? 1 : 0;
    }
    case ML_COMPLEX64:
    case ML_COMPLEX128: {
        /* lexicographic on (real, imaginary) */
        for (size_t part = 0; part < 2; part++) {
            double va, vb;
            if (x->dtype == ML_COMPLEX64) {
                va = ((const float *)d)[2 * a + part];
                vb = ((const float *)d)[2 * b + part];
            } else {
                va = ((const double *)d)[2 * a + part];
                vb = ((const double *)d)[2 * b + part];
            }
            if (va != vb) return va < vb ? -1 : 1;
        }
        return 0;
    }
    default: {
        double va = ml_tensor_get_f64(x, a), vb = ml_tensor_get_f64(x, b);
        return va < vb ? -1 : vb < va ? 1 : 0;
    }
    }
#undef CMP
}

static int cmp_items(const items *it, size_t a, size_t b) {
    for (size_t o = 0; o < it->outer; o++)
        for (size_t n = 0; n < it->inner; n++) {
            size_t base = o * it->len * it->inner + n;
            int c = cmp_elem(it->x, base + a * it->inner, base + b * it->inner);
            if (c) return c;
        }
    return 0;
}

static void merge_sort(const items *it, size_t *v, size_t *tmp, size_t n) {
    if (n < 2) return;
    size_t h = n / 2;
    merge_sort(it, v, tmp, h);
    merge_sort(it, v + h, tmp, n - h);
    size_t i = 0, j = h, k = 0;
    while (i < h && j < n) tmp[k++] = cmp_items(it, v[j], v[i]) < 0 ? v[j++] : v[i++];
    while (i < h) tmp[k++] = v[i++];
    while (j < n) tmp[k++] = v[j++];
    memcpy(v, tmp, n * sizeof *v);
}

static ml_status unique_outputs(ml_kernel_ctx *ctx, const items *it, int axis, size_t nu,
                                const size_t *first, const int64_t *count, const int64_t *inverse) {
    const ml_tensor *x = it->x;
    int64_t dims[ML_MAX_RANK];
    int r = 1;
    if (axis < 0) {
        dims[0] = (int64_t)nu;
    } else {
        r = x->rank;
        memcpy(dims, x->dims, sizeof(int64_t) * (size_t)r);
        dims[axis] = (int64_t)nu;
    }
    ml_tensor *y;
    void *dst;
    ML_TRY(ml_output_tensor(ctx, 0, x->dtype, r, dims, &y));
    ML_TRY(shape_out_begin(ctx->node, y, &dst));
    size_t b = it->inner * ml_dtype_size(x->dtype);
    for (size_t o = 0; o < it->outer; o++)
        for (size_t u = 0; u < nu; u++)
            memcpy((char *)dst + (o * nu + u) * b,
                   (const char *)x->data + (o * it->len + first[u]) * b, b);
    ML_TRY(shape_out_end(y, dst, ML_STATUS_OK));
    int64_t n1 = (int64_t)nu, n2 = (int64_t)it->len;
    ml_tensor *t;
    if (ml_output_wanted(ctx, 1)) {
        ML_TRY(ml_output_tensor(ctx, 1, ML_INT64, 1, &n1, &t));
        for (size_t u = 0; u < nu; u++) ML_TENSOR_DATA(t, int64_t)[u] = (int64_t)first[u];
    }
    if (ml_output_wanted(ctx, 2)) {
        ML_TRY(ml_output_tensor(ctx, 2, ML_INT64, 1, &n2, &t));
        if (n2) memcpy(t->data, inverse, it->len * sizeof(int64_t));
    }
    if (ml_output_wanted(ctx, 3)) {
        ML_TRY(ml_output_tensor(ctx, 3, ML_INT64, 1, &n1, &t));
        if (nu) memcpy(t->data, count, nu * sizeof(int64_t));
    }
    return ML_STATUS_OK;
}

ml_status ml_index_unique_run(ml_kernel_ctx *ctx) {
    const ml_node *node = ctx->node;
    const ml_tensor *x;
    ML_TRY(ml_require_input(ctx, 0, &x));
    items it = {.x = x, .outer = 1, .len = ml_tensor_numel(x), .inner = 1};
    int axis = -1;
    const ml_attr *aa = ml_node_attr(node, "axis");
    if (aa) {
        ML_TRY(ml_normalize_axis(node, aa->i, x->rank, &axis));
        if (x->rank == 0) axis = -1;
    }
    if (axis >= 0) {
        it.outer = shape_prod(x->dims, 0, axis);
        it.len = (size_t)x->dims[axis];
        it.inner = shape_prod(x->dims, axis + 1, x->rank);
        if (it.outer * it.inner == 0) it.outer = it.inner = 0; /* empty slices: all equal */
    }
    bool sorted = ml_attr_int(node, "sorted", 1) != 0;
    size_t n = it.len, cap = n ? n : 1;
    size_t *order = malloc(cap * sizeof *order), *tmp = malloc(cap * sizeof *tmp);
    size_t *first = malloc(cap * sizeof *first), *group_of = malloc(cap * sizeof *group_of);
    int64_t *count = malloc(cap * sizeof *count), *inverse = malloc(cap * sizeof *inverse);
    ml_status st = ML_STATUS_OK;
    if (!order || !tmp || !first || !group_of || !count || !inverse) {
        st = ml_error(ML_ERR_OUT_OF_MEMORY, "Unique: %zu items", n);
        goto done;
    }
    for (size_t i = 0; i < n; i++) order[i] = i;
    merge_sort(&it, order, tmp, n);
    /* groups in sorted order: group g starts with its earliest occurrence */
    size_t ng = 0;
    for (size_t i = 0; i < n; i++) {
        if (i == 0 || cmp_items(&it, order[i - 1], order[i]) != 0) {
            first[ng] = order[i];
            count[ng] = 0;
            ng++;
        }
        count[ng - 1]++;
        group_of[order[i]] = ng - 1;
    }
    if (!sorted) {
        /* renumber groups by first occurrence. first[] holds distinct item
         * indices, so marking them in an item-indexed table and scanning it
         * orders the groups in O(n) without another sort. order and tmp are
         * free for reuse at this point. */
        size_t *gord = order;
        size_t *pos = tmp;
        for (size_t i = 0; i < n; i++) pos[i] = SIZE_MAX;
        for (size_t g = 0; g < ng; g++) pos[first[g]] = g;
        size_t k = 0;
        for (size_t i = 0; i < n; i++)
            if (pos[i] != SIZE_MAX) gord[k++] = pos[i]; /* gord[new] = old group */
        size_t *new_first = malloc((ng ? ng : 1) * sizeof *new_first);
        int64_t *new_count = malloc((ng ? ng : 1) * sizeof *new_count);
        if (!new_first || !new_count) {
            free(new_first);
            free(new_count);
            st = ml_error(ML_ERR_OUT_OF_MEMORY, "Unique: %zu groups", ng);
            goto done;
        }
        for (size_t g = 0; g < ng; g++) {
            new_first[g] = first[gord[g]];
            new_count[g] = count[gord[g]];
            pos[gord[g]] = g; /* pos[old] = new (first[] entries were distinct) */
        }
        for (size_t i = 0; i < n; i++) group_of[i] = pos[group_of[i]];
        memcpy(first, new_first, ng * sizeof *first);
        memcpy(count, new_count, ng * sizeof *count);
        free(new_first);
        free(new_count);
    }
    for (size_t i = 0; i < n; i++) inverse[i] = (int64_t)group_of[i];
    if (it.outer * it.inner == 0 && axis >= 0) {
        /* every slice is empty: Y keeps the other dims with nu entries on axis */
        it.outer = shape_prod(x->dims, 0, axis);
        it.inner = shape_prod(x->dims, axis + 1, x->rank);
    }
    st = unique_outputs(ctx, &it, axis, ng, first, count, inverse);
done:
    free(order);
    free(tmp);
    free(first);
    free(group_of);
    free(count);
    free(inverse);
    return st;
}
