/* Cast and CastLike between every pair of ONNX element types, including
 * strings (numbers print as the shortest text that reads back to the same
 * value; "INF", "-INF", "NaN" parse) and float16/bfloat16 (through float).
 * Float -> integer conversion saturates (NaN -> 0) instead of invoking C's
 * undefined behaviour on out-of-range values. */
#include "ops/elementwise_opt.h"

#include <errno.h>
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ops/cast_internal.h"
#include "ops/elem_util.h"
#include "ops/families.h"

/* ---- numeric <-> numeric: one loop per (source, destination) pair ---- */
/* kinds: F float, S signed int, U unsigned int, B bool. S is the source C
 * type: bounds are compared in it, so float -> int32 stays in float lanes
 * (the bound rounds up to 2^31 / 2^63, which is exactly where overflow
 * starts). */
#define CVT_FF(S, D, x, lo, hi) ((D)(x))
#define CVT_FS(S, D, x, lo, hi)                                                                    \
    ((x) != (x) ? (D)0 : (x) <= (S)(lo) ? (D)(lo) : (x) >= (S)(hi) ? (D)(hi) : (D)(x))
#define CVT_FU CVT_FS
#define CVT_FB(S, D, x, lo, hi) ((D)((x) != 0))
#define CVT_SF CVT_FF
#define CVT_SS CVT_FF
#define CVT_SU CVT_FF
#define CVT_SB CVT_FB
#define CVT_UF CVT_FF
#define CVT_US CVT_FF
#define CVT_UU CVT_FF
#define CVT_UB CVT_FB
#define CVT_BF(S, D, x, lo, hi) ((D)((x) != 0))
#define CVT_BS CVT_BF
#define CVT_BU CVT_BF
#define CVT_BB CVT_BF

#define CAST_SRC(X, D, DS, DK, DLO, DHI)                                                           \
    X(float, f32, F, D, DS, DK, DLO, DHI)                                                          \
    X(double, f64, F, D, DS, DK, DLO, DHI)                                                         \
    X(int8_t, i8, S, D, DS, DK, DLO, DHI)                                                          \
    X(int16_t, i16, S, D, DS, DK, DLO, DHI)                                                        \
    X(int32_t, i32, S, D, DS, DK, DLO, DHI)                                                        \
    X(int64_t, i64, S, D, DS, DK, DLO, DHI)                                                        \
    X(uint8_t, u8, U, D, DS, DK, DLO, DHI)                                                         \
    X(uint16_t, u16, U, D, DS, DK, DLO, DHI)                                                       \
    X(uint32_t, u32, U, D, DS, DK, DLO, DHI)                                                       \
    X(uint64_t, u64, U, D, DS, DK, DLO, DHI)                                                       \
    X(uint8_t, b8, B, D, DS, DK, DLO, DHI)
#define CAST_DST(X)                                                                                \
    X(float, f32, F, -FLT_MAX, FLT_MAX)                                                            \
    X(double, f64, F, -DBL_MAX, DBL_MAX)                                                           \
    X(int8_t, i8, S, INT8_MIN, INT8_MAX)                                                           \
    X(int16_t, i16, S, INT16_MIN, INT16_MAX)                                                       \
    X(int32_t, i32, S, INT32_MIN, INT32_MAX)                                                       \
    X(int64_t, i64, S, INT64_MIN, INT64_MAX)                                                       \
    X(uint8_t, u8, U, 0, UINT8_MAX)                                                                \
    X(uint16_t, u16, U, 0, UINT16_MAX)                                                             \
    X(uint32_t, u32, U, 0, UINT32_MAX)                                                             \
    X(uint64_t, u64, U, 0, UINT64_MAX)                                                             \
    X(uint8_t, b8, B, 0, 1)

typedef void (*cast_fn)(const void *in, void *out, size_t n);

#define CAST_LOOP(S, SS, SK, D, DS, DK, DLO, DHI)                                                  \
    static void cast_##SS##_##DS(const void *in, void *out, size_t n) {                            \
        const S *a = in;                                                                           \
        D *o = out;                                                                                \
        for (size_t i = 0; i < n; i++) o[i] = CVT_##SK##DK(S, D, a[i], DLO, DHI);                  \
    }
#define CAST_LOOPS_FOR_DST(D, DS, DK, DLO, DHI) CAST_SRC(CAST_LOOP, D, DS, DK, DLO, DHI)

CAST_DST(CAST_LOOPS_FOR_DST)

static ml_dtype suffix_dtype(int k) {
    static const ml_dtype order[] = {ML_FLOAT, ML_DOUBLE, ML_INT8,   ML_INT16,  ML_INT32, ML_INT64,
                                     ML_UINT8, ML_UINT16, ML_UINT32, ML_UINT64, ML_BOOL};
    return order[k];
}

/* table[src][dst], filled from the same type order as CAST_SRC/CAST_DST */
#define ROW_ENTRY(S, SS, SK, D, DS, DK, DLO, DHI) cast_##SS##_##DS,
#define COL(D, DS, DK, DLO, DHI) {CAST_SRC(ROW_ENTRY, D, DS, DK, DLO, DHI)},
static const cast_fn by_dst[11][11] = {CAST_DST(COL)}; /* [dst][src] */

static cast_fn numeric_fn(ml_dtype src, ml_dtype dst) {
    int si = -1, di = -1;
    for (int k = 0; k < 11; k++) {
        if (suffix_dtype(k) == src) si = k;
        if (suffix_dtype(k) == dst) di = k;
    }
    return si < 0 || di < 0 ? NULL : by_dst[di][si];
}

typedef struct cast_job {
    ml_dtype src, dst;
    const char *in;
    char *out;
    size_t isz, osz;
} cast_job;

#define CHUNK 512
static void cast_range(void *p, size_t b, size_t e) {
    const cast_job *j = p;
    bool hs = elem_is_half(j->src), hd = elem_is_half(j->dst);
    if (!hs && !hd) {
        numeric_fn(j->src, j->dst)(j->in + b * j->isz, j->out + b * j->osz, e - b);
        return;
    }
    if (j->src == ML_FLOAT && hd) { /* the common mixed-precision casts: no staging */
        elem_float_to_half(j->dst, (const float *)j->in + b, (uint16_t *)j->out + b, e - b);
        return;
    }
    if (hs && j->dst == ML_FLOAT) {
        elem_half_to_float(j->src, (const uint16_t *)j->in + b, (float *)j->out + b, e - b);
        return;
    }
    float tmp[CHUNK];
    for (size_t s = b; s < e; s += CHUNK) {
        size_t n = e - s < CHUNK ? e - s : CHUNK;
        const void *src = j->in + s * j->isz;
        void *dst = j->out + s * j->osz;
        if (hs)
            elem_half_to_float(j->src, src, tmp, n);
        else
            numeric_fn(j->src, ML_FLOAT)(src, tmp, n);
        if (hd)
            elem_float_to_half(j->dst, tmp, dst, n);
        else
            numeric_fn(ML_FLOAT, j->dst)(tmp, dst, n);
    }
}

static bool castable(ml_dtype dt) {
    return dt == ML_STRING || elem_is_half(dt) || numeric_fn(dt, dt) != NULL;
}

/* ---- numbers -> strings ---- */
static int format_float(char *buf, size_t size, double v, bool single) {
    if (!buf || size < 32) return -1; /* callers pass a 64-byte buffer */
    if (isnan(v)) return snprintf(buf, size, "NaN");
    if (isinf(v)) return snprintf(buf, size, v > 0 ? "INF" : "-INF");
    /* shortest precision that reads back to the same value */
    int max_p = single ? 9 : 17, p = 1;
    for (; p < max_p; p++) {
        snprintf(buf, size, "%.*g", p, v);
        if (single ? strtof(buf, NULL) == (float)v : strtod(buf, NULL) == v) break;
    }
    /* like numpy, whole numbers below 1e16 print positionally ("100", not "1e+02") */
    double mag = fabs(v);
    if (mag >= 1 && mag < 1e16) {
        int digits = (int)floor(log10(mag)) + 1;
        if (digits > p) p = digits;
    }
    return snprintf(buf, size, "%.*g", p, v);
}

static ml_status to_strings(const ml_node *node, const ml_tensor *x, ml_tensor *y) {
    size_t n = ml_tensor_numel(x);
    char buf[64];
    for (size_t i = 0; i < n; i++) {
        int len;
        switch (x->dtype) {
        case ML_STRING: {
            const ml_str *s = &((const ml_str *)x->data)[i];
            ML_TRY(ml_tensor_set_string(y, i, s->data, s->len));
            continue;
        }
        case ML_FLOAT:
        case ML_FLOAT16:
        case ML_BFLOAT16:
            len = format_float(buf, sizeof buf, elem_load_f64(x->dtype, x->data, i), true);
            break;
        case ML_DOUBLE:
            len = format_float(buf, sizeof buf, ((const double *)x->data)[i], false);
            break;
        case ML_UINT64:
            len = snprintf(buf, sizeof buf, "%" PRIu64, ((const uint64_t *)x->data)[i]);
            break;
        default:
            len = snprintf(buf, sizeof buf, "%" PRId64, elem_load_i64(x->dtype, x->data, i));
            break;
        }
        if (len < 0 || (size_t)len >= sizeof buf)
            return ml_node_error(node, ML_ERR_INTERNAL, "number formatting failed");
        ML_TRY(ml_tensor_set_string(y, i, buf, (size_t)len));
    }
    return ML_STATUS_OK;
}

/* ---- strings -> numbers ---- */
static ml_status parse_one(const ml_node *node, const ml_str *s, ml_dtype dst, void *out,
                           size_t i) {
    char small[128];
    char *buf = small;
    if (s->len >= sizeof small) {
        buf = malloc(s->len + 1);
        if (!buf) return ml_error(ML_ERR_OUT_OF_MEMORY, "out of memory parsing a string");
    }
    memcpy(buf, s->data, s->len);
    buf[s->len] = '\0';
    /* surrounding whitespace is tolerated, as by strtod for the leading part */
    size_t len = s->len;
    while (len > 0 && (buf[len - 1] == ' ' || buf[len - 1] == '\t' || buf[len - 1] == '\n' ||
                       buf[len - 1] == '\r'))
        buf[--len] = '\0';
    const char *p = buf;
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') p++;
    ml_status st = ML_STATUS_OK;
    char *end = NULL;
    errno = 0;
    if (dst == ML_BOOL && (strcasecmp(p, "true") == 0 || strcasecmp(p, "false") == 0)) {
        ((uint8_t *)out)[i] = strcasecmp(p, "true") == 0;
        end = (char *)p + strlen(p);
    } else if (ml_dtype_is_integer(dst) || dst == ML_BOOL) {
        if (dst == ML_UINT64 && *p != '-') {
            unsigned long long v = strtoull(p, &end, 10);
            if (end != p && *end == '\0') ((uint64_t *)out)[i] = v;
        } else {
            long long v = strtoll(p, &end, 10);
            if (end != p && *end == '\0') elem_store_i64(dst, out, i, v);
        }
        if (end == p || *end != '\0') { /* "1.5" or "1e3" -> through double */
            double d = strtod(p, &end);
            if (end != p) elem_store_f64(dst, out, i, d);
        }
    } else {
        /* strtod accepts "inf", "INF", "+INF", "-inf", "nan", "NaN" */
        double d = strtod(p, &end);
        elem_store_f64(dst, out, i, d);
    }
    if (end == p || (end && *end != '\0'))
        st = ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                           "string element %zu (\"%.40s\") is not a valid %s", i, buf,
                           ml_dtype_name(dst));
    if (buf != small) free(buf);
    return st;
}

ml_status elem_cast_tensor(const ml_node *node, ml_threadpool *pool, const ml_tensor *x,
                           ml_tensor *y) {
    ml_dtype src = x->dtype, dst = y->dtype;
    if (!castable(src) || !castable(dst))
        return ml_node_error(node, ML_ERR_UNSUPPORTED, "cast from %s to %s is not supported",
                             ml_dtype_name(src), ml_dtype_name(dst));
    size_t n = ml_tensor_numel(x);
    if (dst == ML_STRING) return to_strings(node, x, y);
    if (src == ML_STRING) {
        const ml_str *s = x->data;
        for (size_t i = 0; i < n; i++) ML_TRY(parse_one(node, &s[i], dst, y->data, i));
        return ML_STATUS_OK;
    }
    if (src == dst) {
        memcpy(y->data, x->data, ml_tensor_nbytes(x));
        return ML_STATUS_OK;
    }
    cast_job j = {src, dst, x->data, y->data, ml_dtype_size(src), ml_dtype_size(dst)};
    elem_parallel(pool, n, cast_range, &j);
    return ML_STATUS_OK;
}

static ml_status cast_to(ml_kernel_ctx *ctx, const ml_tensor *x, ml_dtype to) {
    if (!ml_dtype_valid(to) || to == ML_UNDEFINED)
        return ml_node_error(ctx->node, ML_ERR_INVALID_ARGUMENT, "invalid target type %d", (int)to);
    if (to == x->dtype && to != ML_STRING) return ml_output_view(ctx, 0, x, x->rank, x->dims);
    ml_tensor *y;
    ML_TRY(elem_output_like(ctx, 0, to, x, &y));
    return elem_cast_tensor(ctx->node, ctx->pool, x, y);
}

static ml_status run_cast(ml_kernel_ctx *ctx) {
    const ml_tensor *x;
    ML_TRY(ml_require_input(ctx, 0, &x));
    const ml_attr *a = ml_node_attr(ctx->node, "to");
    if (!a) return ml_node_error(ctx->node, ML_ERR_INVALID_ARGUMENT, "attribute 'to' is required");
    ml_dtype to;
    if (a->type == ML_ATTR_STRING) { /* opset < 6 spells the type as a string */
        to = ml_dtype_parse(a->s.data);
        if (to == ML_UNDEFINED)
            return ml_node_error(ctx->node, ML_ERR_INVALID_ARGUMENT, "unknown type name '%s'",
                                 a->s.data);
    } else {
        to = (ml_dtype)a->i;
        if (a->i <= 0 || a->i >= ML_DTYPE_COUNT)
            return ml_node_error(ctx->node, ML_ERR_UNSUPPORTED, "target type %lld is not supported",
                                 (long long)a->i);
    }
    return cast_to(ctx, x, to);
}

static ml_status run_castlike(ml_kernel_ctx *ctx) {
    const ml_tensor *x, *like;
    ML_TRY(ml_require_input(ctx, 0, &x));
    ML_TRY(ml_require_input(ctx, 1, &like));
    return cast_to(ctx, x, like->dtype);
}

const ml_kernel ml_kernels_cast[] = {
    {"", "Cast", 1, 0, NULL, NULL, run_cast},
    {"", "CastLike", 15, 0, NULL, NULL, run_castlike},
    {0},
};
