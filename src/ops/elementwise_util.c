/* Broadcasting, parallel drivers and dtype helpers declared in elem_util.h. */
#include "ops/elementwise_opt.h"

#include "ops/elem_util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

ml_status elem_bcast_init(const ml_node *node, int n_in, const int *ranks,
                          const int64_t *const *dims, elem_bcast *bc) {
    memset(bc, 0, sizeof *bc);
    if (n_in < 1 || n_in > ELEM_MAX_IN)
        return ml_node_error(node, ML_ERR_INTERNAL, "broadcast of %d inputs", n_in);
    bc->n_in = n_in;
    int rank = 0;
    for (int k = 0; k < n_in; k++) {
        if (ranks[k] < 0 || ranks[k] > ML_MAX_RANK)
            return ml_node_error(node, ML_ERR_INVALID_ARGUMENT, "input rank %d is out of range",
                                 ranks[k]);
        if (ranks[k] > rank) rank = ranks[k];
    }
    /* aligned[k][d]: input k's dim d after left-padding with 1s */
    int64_t aligned[ELEM_MAX_IN][ML_MAX_RANK];
    for (int k = 0; k < n_in; k++) {
        int pad = rank - ranks[k];
        for (int d = 0; d < rank; d++) aligned[k][d] = d < pad ? 1 : dims[k][d - pad];
    }
    for (int d = 0; d < rank; d++) {
        int64_t out = 1;
        for (int k = 0; k < n_in; k++) {
            int64_t v = aligned[k][d];
            if (v < 0) return ml_node_error(node, ML_ERR_INVALID_ARGUMENT, "negative dimension");
            if (v == 1) continue;
            if (out == 1)
                out = v;
            else if (out != v) {
                char buf[3][128];
                for (int j = 0; j < n_in && j < 3; j++)
                    ml_shape_format(ranks[j], dims[j], buf[j], sizeof buf[j]);
                return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                                     "input shapes %s %s%s cannot be broadcast together (dim %d: "
                                     "%lld vs %lld); each dim must match or be 1",
                                     buf[0], n_in > 1 ? buf[1] : "", n_in > 2 ? buf[2] : "", d,
                                     (long long)out, (long long)v);
            }
        }
        bc->out_dims[d] = out;
    }
    bc->out_rank = rank;
    if (!ml_shape_numel(rank, bc->out_dims, &bc->numel))
        return ml_node_error(node, ML_ERR_RESOURCE_EXHAUSTED, "broadcast output is too large");

    int64_t stride[ELEM_MAX_IN][ML_MAX_RANK];
    for (int k = 0; k < n_in; k++) {
        int64_t s = 1;
        for (int d = rank - 1; d >= 0; d--) {
            stride[k][d] = (aligned[k][d] == 1) ? 0 : s;
            s *= aligned[k][d];
        }
    }
    /* collapse: drop size-1 dims, merge neighbours with one broadcast pattern */
    int r = 0;
    for (int d = 0; d < rank; d++) {
        if (bc->out_dims[d] == 1) continue;
        if (r > 0) {
            bool merge = true;
            for (int k = 0; k < n_in; k++)
                if (bc->strides[k][r - 1] != stride[k][d] * bc->out_dims[d]) merge = false;
            if (merge) {
                bc->dims[r - 1] *= bc->out_dims[d];
                for (int k = 0; k < n_in; k++) bc->strides[k][r - 1] = stride[k][d];
                continue;
            }
        }
        bc->dims[r] = bc->out_dims[d];
        for (int k = 0; k < n_in; k++) bc->strides[k][r] = stride[k][d];
        r++;
    }
    if (r == 0) {
        r = 1;
        bc->dims[0] = 1;
        for (int k = 0; k < n_in; k++) bc->strides[k][0] = 1;
    }
    bc->rank = r;
    return ML_STATUS_OK;
}

ml_status elem_bcast_tensors(const ml_node *node, int n_in, const ml_tensor *const *ts,
                             elem_bcast *bc) {
    int ranks[ELEM_MAX_IN];
    const int64_t *dims[ELEM_MAX_IN];
    if (n_in > ELEM_MAX_IN) return ml_node_error(node, ML_ERR_INTERNAL, "too many inputs");
    for (int k = 0; k < n_in; k++) {
        ranks[k] = ts[k]->rank;
        dims[k] = ts[k]->dims;
    }
    return elem_bcast_init(node, n_in, ranks, dims, bc);
}

typedef struct bcast_job {
    const elem_bcast *bc;
    const void *const *in;
    const size_t *in_size;
    char *out;
    size_t out_size;
    elem_run_fn fn;
    void *arg;
} bcast_job;

static void bcast_range(void *p, size_t begin, size_t end) {
    const bcast_job *j = p;
    const elem_bcast *bc = j->bc;
    int r = bc->rank, n_in = bc->n_in;
    int64_t idx[ML_MAX_RANK];
    size_t rem = begin;
    for (int d = r - 1; d >= 0; d--) {
        idx[d] = (int64_t)(rem % (size_t)bc->dims[d]);
        rem /= (size_t)bc->dims[d];
    }
    int64_t inner = bc->dims[r - 1];
    int64_t instride[ELEM_MAX_IN];
    for (int k = 0; k < n_in; k++) instride[k] = bc->strides[k][r - 1];
    size_t pos = begin;
    while (pos < end) {
        const void *ptr[ELEM_MAX_IN];
        for (int k = 0; k < n_in; k++) {
            int64_t off = 0;
            for (int d = 0; d < r; d++) off += idx[d] * bc->strides[k][d];
            ptr[k] = (const char *)j->in[k] + (size_t)off * j->in_size[k];
        }
        int64_t len = inner - idx[r - 1];
        if ((size_t)len > end - pos) len = (int64_t)(end - pos);
        j->fn(j->arg, ptr, instride, j->out + pos * j->out_size, len);
        pos += (size_t)len;
        idx[r - 1] += len;
        for (int d = r - 1; d > 0 && idx[d] >= bc->dims[d]; d--) {
            idx[d] = 0;
            idx[d - 1]++;
        }
    }
}

void elem_bcast_run(ml_threadpool *pool, const elem_bcast *bc, const void *const *in,
                    const size_t *in_size, void *out, size_t out_size, elem_run_fn fn, void *arg) {
    if (bc->numel == 0) return;
    bcast_job j = {bc, in, in_size, out, out_size, fn, arg};
    ml_parallel_for(pool, bc->numel, ELEM_PAR_MIN, bcast_range, &j);
}

void elem_parallel(ml_threadpool *pool, size_t n, ml_range_fn fn, void *arg) {
    ml_parallel_for(pool, n, ELEM_PAR_MIN, fn, arg);
}

bool elem_is_half(ml_dtype dt) {
    return dt == ML_FLOAT16 || dt == ML_BFLOAT16;
}

/* Branch-free conversions (selects instead of branches) so the array
 * loops vectorise; bit-identical to ml_fp16_to_float / ml_float_to_fp16 /
 * ml_float_to_bf16 (checked exhaustively or densely in test_cast.c). */
static inline uint32_t f2bits(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}
static inline float bits2f(uint32_t u) {
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static inline float fp16_to_float_fast(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, em = h & 0x7fffu;
    /* scaling by 2^112 rebiases the exponent and normalises subnormals */
    float finite = bits2f(em << 13) * 5.192296858534828e+33f;
    uint32_t special = 0x7f800000u | ((em & 0x3ffu) << 13); /* inf / nan */
    uint32_t mag = em >= 0x7c00u ? special : f2bits(finite);
    return bits2f(mag | sign);
}

static inline uint16_t float_to_fp16_fast(float f) {
    uint32_t u = f2bits(f);
    uint32_t sign = (u >> 16) & 0x8000u, absu = u & 0x7fffffffu;
    /* subnormal halves: adding 0.5 (2^-1) aligns the mantissa so the FPU's
     * round-to-nearest-even does the rounding */
    uint32_t sub = f2bits(bits2f(absu) + 0.5f) - 0x3f000000u;
    /* normal halves: rebias, round to nearest even on the 13 dropped bits */
    uint32_t odd = (absu >> 13) & 1u;
    uint32_t norm = (absu + 0xc8000fffu + odd) >> 13; /* 0xc8000000 = (15 - 127) << 23 */
    uint32_t h = absu < 0x38800000u ? sub : norm;
    h = absu >= 0x477ff000u ? 0x7c00u : h;
    h = absu > 0x7f800000u ? 0x7e00u : h;
    return (uint16_t)(h | sign);
}

static inline uint16_t float_to_bf16_fast(float f) {
    uint32_t u = f2bits(f);
    uint32_t rounded = (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;
    uint32_t nan = (u >> 16) | 0x40u;
    return (uint16_t)((u & 0x7fffffffu) > 0x7f800000u ? nan : rounded);
}

void elem_half_to_float(ml_dtype dt, const uint16_t *src, float *dst, size_t n) {
    if (dt == ML_BFLOAT16)
        for (size_t i = 0; i < n; i++) dst[i] = bits2f((uint32_t)src[i] << 16);
    else
        for (size_t i = 0; i < n; i++) dst[i] = fp16_to_float_fast(src[i]);
}

void elem_float_to_half(ml_dtype dt, const float *src, uint16_t *dst, size_t n) {
    if (dt == ML_BFLOAT16)
        for (size_t i = 0; i < n; i++) dst[i] = float_to_bf16_fast(src[i]);
    else
        for (size_t i = 0; i < n; i++) dst[i] = float_to_fp16_fast(src[i]);
}

ml_status elem_half_tensor_to_float(const ml_tensor *t, ml_tensor **out) {
    ML_TRY(ml_tensor_create(ML_FLOAT, t->rank, t->dims, out));
    elem_half_to_float(t->dtype, t->data, (*out)->data, ml_tensor_numel(t));
    return ML_STATUS_OK;
}

double elem_load_f64(ml_dtype dt, const void *d, size_t i) {
    return ml_dtype_load_f64(dt, d, i);
}

/* Saturating double -> int64 (NaN -> 0): C leaves out-of-range undefined. */
static int64_t sat_i64(double v) {
    if (isnan(v)) return 0;
    if (v >= 9223372036854775807.0) return INT64_MAX;
    if (v <= -9223372036854775808.0) return INT64_MIN;
    return (int64_t)v;
}

static uint64_t sat_u64(double v) {
    if (isnan(v) || v <= 0) return v <= -1.0 ? (uint64_t)sat_i64(v) : 0;
    if (v >= 18446744073709551615.0) return UINT64_MAX;
    return (uint64_t)v;
}

int64_t elem_load_i64(ml_dtype dt, const void *d, size_t i) {
    switch (dt) {
    case ML_INT8:
        return ((const int8_t *)d)[i];
    case ML_UINT8:
        return ((const uint8_t *)d)[i];
    case ML_INT16:
        return ((const int16_t *)d)[i];
    case ML_UINT16:
        return ((const uint16_t *)d)[i];
    case ML_INT32:
        return ((const int32_t *)d)[i];
    case ML_UINT32:
        return ((const uint32_t *)d)[i];
    case ML_INT64:
        return ((const int64_t *)d)[i];
    case ML_UINT64:
        return (int64_t)((const uint64_t *)d)[i];
    case ML_BOOL:
        return ((const uint8_t *)d)[i] ? 1 : 0;
    default:
        return sat_i64(elem_load_f64(dt, d, i));
    }
}

void elem_store_f64(ml_dtype dt, void *d, size_t i, double v) {
    switch (dt) {
    case ML_FLOAT:
        ((float *)d)[i] = (float)v;
        break;
    case ML_DOUBLE:
        ((double *)d)[i] = v;
        break;
    case ML_FLOAT16:
        ((uint16_t *)d)[i] = ml_float_to_fp16((float)v);
        break;
    case ML_BFLOAT16:
        ((uint16_t *)d)[i] = ml_float_to_bf16((float)v);
        break;
    case ML_UINT64:
        ((uint64_t *)d)[i] = sat_u64(v);
        break;
    case ML_BOOL:
        ((uint8_t *)d)[i] = v != 0;
        break;
    default:
        elem_store_i64(dt, d, i, sat_i64(v));
        break;
    }
}

void elem_store_i64(ml_dtype dt, void *d, size_t i, int64_t v) {
    switch (dt) {
    case ML_INT8:
        ((int8_t *)d)[i] = (int8_t)v;
        break;
    case ML_UINT8:
        ((uint8_t *)d)[i] = (uint8_t)v;
        break;
    case ML_INT16:
        ((int16_t *)d)[i] = (int16_t)v;
        break;
    case ML_UINT16:
        ((uint16_t *)d)[i] = (uint16_t)v;
        break;
    case ML_INT32:
        ((int32_t *)d)[i] = (int32_t)v;
        break;
    case ML_UINT32:
        ((uint32_t *)d)[i] = (uint32_t)v;
        break;
    case ML_INT64:
        ((int64_t *)d)[i] = v;
        break;
    case ML_UINT64:
        ((uint64_t *)d)[i] = (uint64_t)v;
        break;
    case ML_BOOL:
        ((uint8_t *)d)[i] = v != 0;
        break;
    default:
        elem_store_f64(dt, d, i, (double)v);
        break;
    }
}

ml_status elem_scalar_i64(const ml_node *node, const ml_tensor *t, const char *what, int64_t *out) {
    if (!t) return ml_node_error(node, ML_ERR_INVALID_ARGUMENT, "%s input is missing", what);
    if (!ml_dtype_is_integer(t->dtype))
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT, "%s must be an integer tensor, got %s",
                             what, ml_dtype_name(t->dtype));
    if (ml_tensor_numel(t) != 1 || t->rank > 1)
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                             "%s must be a scalar (or 1-element 1-D tensor)", what);
    *out = elem_load_i64(t->dtype, t->data, 0);
    return ML_STATUS_OK;
}

ml_status elem_output_like(ml_kernel_ctx *ctx, size_t i, ml_dtype dt, const ml_tensor *t,
                           ml_tensor **out) {
    return ml_output_tensor(ctx, i, dt, t->rank, t->dims, out);
}
