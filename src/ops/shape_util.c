/* Integer-input readers, string output staging and the N-D permutation
 * used by Transpose, DepthToSpace and SpaceToDepth. */
#include "ops/shape_util.h"

#include <stdlib.h>

#if defined(__SSE2__)
#include <xmmintrin.h>
#endif

static bool read_int(const ml_tensor *t, size_t i, int64_t *v) {
    const void *d = t->data;
    switch (t->dtype) {
    case ML_INT64:
        *v = ((const int64_t *)d)[i];
        return true;
    case ML_INT32:
        *v = ((const int32_t *)d)[i];
        return true;
    case ML_INT16:
        *v = ((const int16_t *)d)[i];
        return true;
    case ML_INT8:
        *v = ((const int8_t *)d)[i];
        return true;
    case ML_UINT8:
        *v = ((const uint8_t *)d)[i];
        return true;
    case ML_UINT16:
        *v = ((const uint16_t *)d)[i];
        return true;
    case ML_UINT32:
        *v = ((const uint32_t *)d)[i];
        return true;
    case ML_UINT64: {
        uint64_t u = ((const uint64_t *)d)[i];
        if (u > (uint64_t)INT64_MAX) return false;
        *v = (int64_t)u;
        return true;
    }
    default:
        return false;
    }
}

ml_status shape_read_ints(const ml_node *node, const ml_tensor *t, const char *what, size_t max,
                          int64_t *out, size_t *n) {
    if (!ml_dtype_is_integer(t->dtype))
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT, "%s must be an integer tensor, got %s",
                             what, ml_dtype_name(t->dtype));
    if (t->rank > 1)
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT, "%s must be 1-D, got rank %d", what,
                             t->rank);
    size_t cnt = ml_tensor_numel(t);
    if (cnt > max)
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                             "%s has %zu values, at most %zu allowed", what, cnt, max);
    for (size_t i = 0; i < cnt; i++)
        if (!read_int(t, i, &out[i]))
            return ml_node_error(node, ML_ERR_INVALID_ARGUMENT, "%s[%zu] does not fit int64", what,
                                 i);
    *n = cnt;
    return ML_STATUS_OK;
}

ml_status shape_ints_alloc(const ml_node *node, const ml_tensor *t, const char *what,
                           int64_t **out) {
    *out = NULL;
    if (!ml_dtype_is_integer(t->dtype))
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT, "%s must be an integer tensor, got %s",
                             what, ml_dtype_name(t->dtype));
    size_t n = ml_tensor_numel(t);
    int64_t *v = malloc((n ? n : 1) * sizeof *v);
    if (!v) return ml_error(ML_ERR_OUT_OF_MEMORY, "%s: %zu indices", what, n);
    if (t->dtype == ML_INT64) {
        if (n) memcpy(v, t->data, n * sizeof *v);
    } else if (t->dtype == ML_INT32) {
        const int32_t *s = t->data;
        for (size_t i = 0; i < n; i++) v[i] = s[i];
    } else {
        for (size_t i = 0; i < n; i++)
            if (!read_int(t, i, &v[i])) {
                free(v);
                return ml_node_error(node, ML_ERR_INVALID_ARGUMENT, "%s[%zu] does not fit int64",
                                     what, i);
            }
    }
    *out = v;
    return ML_STATUS_OK;
}

ml_status shape_read_scalar_int(const ml_node *node, const ml_tensor *t, const char *what,
                                int64_t *out) {
    if (ml_tensor_numel(t) != 1)
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                             "%s must hold exactly one value, got %zu", what, ml_tensor_numel(t));
    if (read_int(t, 0, out)) return ML_STATUS_OK;
    if (t->dtype == ML_STRING || t->dtype == ML_UNDEFINED)
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT, "%s must be numeric, got %s", what,
                             ml_dtype_name(t->dtype));
    double d = ml_tensor_get_f64(t, 0);
    if (!(d >= -9.2e18 && d <= 9.2e18))
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT, "%s value %g is not a valid integer",
                             what, d);
    *out = (int64_t)d;
    return ML_STATUS_OK;
}

ml_status shape_out_begin(const ml_node *node, ml_tensor *out, void **dst) {
    if (out->dtype != ML_STRING) {
        *dst = out->data;
        return ML_STATUS_OK;
    }
    size_t n = ml_tensor_numel(out);
    *dst = calloc(n ? n : 1, sizeof(ml_str));
    if (!*dst) return ml_error(ML_ERR_OUT_OF_MEMORY, "%s: staging %zu strings", node->op_type, n);
    return ML_STATUS_OK;
}

ml_status shape_out_end(ml_tensor *out, void *dst, ml_status st) {
    if (out->dtype != ML_STRING) return st;
    const ml_str *s = dst;
    size_t n = ml_tensor_numel(out);
    for (size_t i = 0; i < n && !st; i++) st = ml_tensor_set_string(out, i, s[i].data, s[i].len);
    free(dst);
    return st;
}

void shape_fill(void *dst, const void *val, size_t n, size_t esz) {
    switch (esz) {
    case 1:
        memset(dst, *(const uint8_t *)val, n);
        return;
    case 2: {
        uint16_t v;
        memcpy(&v, val, 2);
        for (size_t i = 0; i < n; i++) ((uint16_t *)dst)[i] = v;
        return;
    }
    case 4: {
        uint32_t v;
        memcpy(&v, val, 4);
        for (size_t i = 0; i < n; i++) ((uint32_t *)dst)[i] = v;
        return;
    }
    case 8: {
        uint64_t v;
        memcpy(&v, val, 8);
        for (size_t i = 0; i < n; i++) ((uint64_t *)dst)[i] = v;
        return;
    }
    default:
        for (size_t i = 0; i < n; i++) memcpy((char *)dst + i * esz, val, esz);
    }
}

void shape_strides(int rank, const int64_t *dims, int64_t *strides) {
    int64_t s = 1;
    for (int i = rank - 1; i >= 0; i--) {
        strides[i] = s;
        s *= dims[i];
    }
}

ml_status shape_normalize_axes(const ml_node *node, const int64_t *axes, size_t n, int rank,
                               int *out) {
    bool seen[ML_MAX_RANK] = {0};
    for (size_t i = 0; i < n; i++) {
        if (axes[i] < -rank || axes[i] >= rank || rank == 0)
            return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                                 "axis %lld is out of range for rank %d", (long long)axes[i], rank);
        int a = (int)(axes[i] < 0 ? axes[i] + rank : axes[i]);
        if (seen[a])
            return ml_node_error(node, ML_ERR_INVALID_ARGUMENT, "axis %lld is repeated",
                                 (long long)axes[i]);
        seen[a] = true;
        out[i] = a;
    }
    return ML_STATUS_OK;
}

/* ---- permutation ---- */

typedef struct {
    uint64_t a, b;
} shape_u128;

typedef struct {
    const char *src;
    char *dst;
    size_t esz;
    int rank;                /* after simplification */
    int64_t od[ML_MAX_RANK]; /* output dims */
    int64_t is[ML_MAX_RANK]; /* input stride (elements) of each output axis */
} permute_job;

/* Rows of output (all but the last output axis) in [begin, end): the inner
 * axis is contiguous in the input, so each row is one memcpy. */
static void permute_rows(void *arg, size_t begin, size_t end) {
    const permute_job *j = arg;
    int r = j->rank;
    size_t inner = (size_t)j->od[r - 1], bytes = inner * j->esz;
    int64_t idx[ML_MAX_RANK];
    size_t rem = begin;
    for (int k = r - 2; k >= 0; k--) {
        idx[k] = (int64_t)(rem % (size_t)j->od[k]);
        rem /= (size_t)j->od[k];
    }
    for (size_t row = begin; row < end; row++) {
        int64_t off = 0;
        for (int k = 0; k < r - 1; k++) off += idx[k] * j->is[k];
        memcpy(j->dst + row * bytes, j->src + (size_t)off * j->esz, bytes);
        for (int k = r - 2; k >= 0; k--) {
            if (++idx[k] < j->od[k]) break;
            idx[k] = 0;
        }
    }
}

/* The general case: the input's contiguous axis is output axis q, the
 * output's contiguous axis L reads the input with stride in_rs. For every
 * combination of the other ("outer") axes this is a 2-D transpose
 *   out[c * out_rs + r] = in[r * in_rs + c]   (r < R = od[L], c < C = od[q])
 * done in square tiles so both sides stay in cache. The parallel index is
 * outer combination * column tile. */
#define TILE 32

typedef struct {
    size_t R, C, in_rs, out_rs, tiles;
    int n_outer;
    int64_t outer_dim[ML_MAX_RANK], outer_is[ML_MAX_RANK], outer_os[ML_MAX_RANK];
} tile_plan;

/* Decodes tile index t into the base offsets of its 2-D plane and its columns. */
static void tile_locate(const tile_plan *tp, size_t t, size_t *in_base, size_t *out_base,
                        size_t *c0, size_t *c1) {
    size_t o = t / tp->tiles;
    *c0 = (t % tp->tiles) * TILE;
    *c1 = *c0 + TILE < tp->C ? *c0 + TILE : tp->C;
    size_t ib = 0, ob = 0;
    for (int k = tp->n_outer - 1; k >= 0; k--) {
        size_t i = o % (size_t)tp->outer_dim[k];
        o /= (size_t)tp->outer_dim[k];
        ib += i * (size_t)tp->outer_is[k];
        ob += i * (size_t)tp->outer_os[k];
    }
    *in_base = ib;
    *out_base = ob;
}

typedef struct {
    const char *src;
    char *dst;
    size_t esz;
    tile_plan tp;
} tile_job;

#define PERMUTE_TILED(T)                                                                           \
    static void permute_tiled_##T(const tile_job *j, size_t begin, size_t end) {                   \
        const tile_plan *tp = &j->tp;                                                              \
        size_t R = tp->R, irs = tp->in_rs, ors = tp->out_rs;                                       \
        for (size_t t = begin; t < end; t++) {                                                     \
            size_t ib, ob, c0, c1;                                                                 \
            tile_locate(tp, t, &ib, &ob, &c0, &c1);                                                \
            const T *in = (const T *)j->src + ib;                                                  \
            T *out = (T *)j->dst + ob;                                                             \
            for (size_t r0 = 0; r0 < R; r0 += TILE) {                                              \
                size_t r1 = r0 + TILE < R ? r0 + TILE : R;                                         \
                for (size_t c = c0; c < c1; c++)                                                   \
                    for (size_t r = r0; r < r1; r++) out[c * ors + r] = in[r * irs + c];           \
            }                                                                                      \
        }                                                                                          \
    }
PERMUTE_TILED(uint8_t)
PERMUTE_TILED(uint16_t)
#if !defined(__SSE2__)
PERMUTE_TILED(uint32_t)
#endif
PERMUTE_TILED(uint64_t)
PERMUTE_TILED(shape_u128)

#if defined(__SSE2__)
/* 4-byte elements in 4x4 register blocks (shuffles move bits unchanged, so
 * this is exact for any 32-bit type, NaN payloads included). */
static void permute_tiled_sse(const tile_job *j, size_t begin, size_t end) {
    const tile_plan *tp = &j->tp;
    size_t R = tp->R, irs = tp->in_rs, ors = tp->out_rs;
    for (size_t t = begin; t < end; t++) {
        size_t ib, ob, c0, c1;
        tile_locate(tp, t, &ib, &ob, &c0, &c1);
        const float *in = (const float *)j->src + ib;
        float *out = (float *)j->dst + ob;
        for (size_t r0 = 0; r0 < R; r0 += TILE) {
            size_t r1 = r0 + TILE < R ? r0 + TILE : R;
            size_t c = c0;
            for (; c + 4 <= c1; c += 4) {
                size_t r = r0;
                for (; r + 4 <= r1; r += 4) {
                    __m128 a0 = _mm_loadu_ps(in + r * irs + c);
                    __m128 a1 = _mm_loadu_ps(in + (r + 1) * irs + c);
                    __m128 a2 = _mm_loadu_ps(in + (r + 2) * irs + c);
                    __m128 a3 = _mm_loadu_ps(in + (r + 3) * irs + c);
                    _MM_TRANSPOSE4_PS(a0, a1, a2, a3);
                    _mm_storeu_ps(out + c * ors + r, a0);
                    _mm_storeu_ps(out + (c + 1) * ors + r, a1);
                    _mm_storeu_ps(out + (c + 2) * ors + r, a2);
                    _mm_storeu_ps(out + (c + 3) * ors + r, a3);
                }
                for (; r < r1; r++)
                    for (size_t k = 0; k < 4; k++)
                        memcpy(out + (c + k) * ors + r, in + r * irs + c + k, 4);
            }
            for (; c < c1; c++)
                for (size_t r = r0; r < r1; r++) memcpy(out + c * ors + r, in + r * irs + c, 4);
        }
    }
}
#endif

static void permute_tiled(void *arg, size_t begin, size_t end) {
    const tile_job *j = arg;
    switch (j->esz) {
    case 1:
        permute_tiled_uint8_t(j, begin, end);
        break;
    case 2:
        permute_tiled_uint16_t(j, begin, end);
        break;
#if defined(__SSE2__)
    case 4:
        permute_tiled_sse(j, begin, end);
        break;
#else
    case 4:
        permute_tiled_uint32_t(j, begin, end);
        break;
#endif
    case 8:
        permute_tiled_uint64_t(j, begin, end);
        break;
    default:
        permute_tiled_shape_u128(j, begin, end);
        break;
    }
}

void shape_permute(ml_threadpool *pool, const void *src, void *dst, size_t esz, int rank,
                   const int64_t *dims, const int *perm) {
    size_t total = shape_prod(dims, 0, rank);
    if (total == 0) return;
    /* drop size-1 axes: renumber the remaining input axes */
    int newid[ML_MAX_RANK], nd = 0;
    int64_t d[ML_MAX_RANK];
    for (int i = 0; i < rank; i++) {
        newid[i] = dims[i] == 1 ? -1 : nd;
        if (dims[i] != 1) d[nd++] = dims[i];
    }
    int p[ML_MAX_RANK], np = 0;
    for (int j = 0; j < rank; j++)
        if (newid[perm[j]] >= 0) p[np++] = newid[perm[j]];
    /* merge output-adjacent axes that are also input-adjacent */
    int64_t md[ML_MAX_RANK] = {0}; /* merged input dims, indexed by merged input axis */
    int grp_of_in[ML_MAX_RANK];
    int start_out[ML_MAX_RANK], ng = 0;
    for (int j = 0; j < np; j++)
        if (j == 0 || p[j] != p[j - 1] + 1) start_out[ng++] = j;
    /* group g covers output axes start_out[g]..; its first input axis is p[start] */
    int first_in[ML_MAX_RANK];
    int64_t gdim[ML_MAX_RANK];
    for (int g = 0; g < ng; g++) {
        int s = start_out[g], e = g + 1 < ng ? start_out[g + 1] : np;
        first_in[g] = p[s];
        gdim[g] = 1;
        for (int k = s; k < e; k++) gdim[g] *= d[p[k]];
    }
    /* order groups by input position to get merged input axes */
    int in_order[ML_MAX_RANK];
    for (int g = 0; g < ng; g++) in_order[g] = g;
    for (int a = 1; a < ng; a++)
        for (int b = a; b > 0 && first_in[in_order[b]] < first_in[in_order[b - 1]]; b--) {
            int tmp = in_order[b];
            in_order[b] = in_order[b - 1];
            in_order[b - 1] = tmp;
        }
    for (int k = 0; k < ng; k++) {
        grp_of_in[in_order[k]] = k;
        md[k] = gdim[in_order[k]];
    }
    int64_t mstride[ML_MAX_RANK];
    shape_strides(ng, md, mstride);

    if (ng <= 1) {
        memcpy(dst, src, total * esz);
        return;
    }
    permute_job j = {.src = src, .dst = dst, .esz = esz, .rank = ng};
    for (int g = 0; g < ng; g++) {
        j.od[g] = gdim[g];
        j.is[g] = mstride[grp_of_in[g]];
    }
    size_t grain = 16384 / esz + 1;
    if (j.is[ng - 1] == 1) {
        size_t rows = total / (size_t)j.od[ng - 1];
        size_t min_rows = grain / (size_t)j.od[ng - 1] + 1;
        ml_parallel_for(pool, rows, min_rows, permute_rows, &j);
        return;
    }
    /* tiled 2-D planes between output axis q (input-contiguous) and the last
     * output axis L */
    int L = ng - 1, q = 0;
    for (int g = 0; g < ng; g++)
        if (j.is[g] == 1) q = g;
    int64_t os[ML_MAX_RANK];
    shape_strides(ng, j.od, os);
    tile_job tj = {.src = src, .dst = dst, .esz = esz};
    tile_plan *tp = &tj.tp;
    tp->R = (size_t)j.od[L];
    tp->C = (size_t)j.od[q];
    tp->in_rs = (size_t)j.is[L];
    tp->out_rs = (size_t)os[q];
    tp->tiles = (tp->C + TILE - 1) / TILE;
    size_t n_outer = 1;
    for (int g = 0; g < ng; g++) {
        if (g == q || g == L) continue;
        tp->outer_dim[tp->n_outer] = j.od[g];
        tp->outer_is[tp->n_outer] = j.is[g];
        tp->outer_os[tp->n_outer] = os[g];
        tp->n_outer++;
        n_outer *= (size_t)j.od[g];
    }
    size_t per_tile = tp->R * (tp->C < TILE ? tp->C : TILE);
    ml_parallel_for(pool, n_outer * tp->tiles, grain / per_tile + 1, permute_tiled, &tj);
}
