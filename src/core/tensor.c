#include "core/tensor.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ml_buffer {
    atomic_int refs;
    ml_dtype dtype; /* ML_STRING buffers own each element's bytes too */
    size_t count;   /* elements */
    void *data;
};

static char empty_string[1];

bool ml_shape_numel(int rank, const int64_t *dims, size_t *out) {
    if (rank < 0 || rank > ML_MAX_RANK) return false;
    size_t n = 1;
    const size_t cap = SIZE_MAX / 16;
    for (int i = 0; i < rank; i++) {
        if (dims[i] < 0) return false;
        if (dims[i] == 0) {
            n = 0;
            continue;
        }
        if (n != 0 && (uint64_t)dims[i] > cap / n) return false;
        n *= (size_t)dims[i];
    }
    /* a zero dim anywhere makes the whole product zero */
    for (int i = 0; i < rank; i++)
        if (dims[i] == 0) n = 0;
    *out = n;
    return true;
}

bool ml_shape_equal(int ra, const int64_t *a, int rb, const int64_t *b) {
    if (ra != rb) return false;
    for (int i = 0; i < ra; i++)
        if (a[i] != b[i]) return false;
    return true;
}

char *ml_shape_format(int rank, const int64_t *dims, char *buf, size_t size) {
    if (size == 0) return buf;
    size_t pos = 0;
    buf[0] = '\0';
    pos += (size_t)snprintf(buf + pos, size - pos, "[");
    for (int i = 0; i < rank && pos < size; i++)
        pos += (size_t)snprintf(buf + pos, size - pos, i ? ",%lld" : "%lld", (long long)dims[i]);
    if (pos < size) snprintf(buf + pos, size - pos, "]");
    return buf;
}

ml_status ml_shape_broadcast(int ra, const int64_t *a, int rb, const int64_t *b, int *rank_out,
                             int64_t *dims_out) {
    int r = ra > rb ? ra : rb;
    if (r > ML_MAX_RANK)
        return ml_error(ML_ERR_UNSUPPORTED, "rank %d is over the limit %d", r, ML_MAX_RANK);
    int64_t tmp[ML_MAX_RANK];
    for (int i = 0; i < r; i++) {
        int64_t da = i < r - ra ? 1 : a[i - (r - ra)];
        int64_t db = i < r - rb ? 1 : b[i - (r - rb)];
        if (da == db || db == 1)
            tmp[i] = da;
        else if (da == 1)
            tmp[i] = db;
        else {
            char sa[128], sb[128];
            return ml_error(ML_ERR_INVALID_ARGUMENT, "shapes %s and %s cannot be broadcast",
                            ml_shape_format(ra, a, sa, sizeof sa),
                            ml_shape_format(rb, b, sb, sizeof sb));
        }
    }
    memcpy(dims_out, tmp, sizeof(int64_t) * (size_t)r);
    *rank_out = r;
    return ML_STATUS_OK;
}

static ml_status check_shape(ml_dtype dtype, int rank, const int64_t *dims, size_t *numel) {
    if (!ml_dtype_valid((int)dtype))
        return ml_error(ML_ERR_INVALID_ARGUMENT, "invalid dtype %d", (int)dtype);
    if (rank < 0 || rank > ML_MAX_RANK)
        return ml_error(ML_ERR_UNSUPPORTED, "rank %d is outside 0..%d", rank, ML_MAX_RANK);
    if (!ml_shape_numel(rank, dims, numel)) {
        char s[256];
        return ml_error(ML_ERR_INVALID_ARGUMENT, "shape %s has a negative dim or is too large",
                        ml_shape_format(rank, dims, s, sizeof s));
    }
    return ML_STATUS_OK;
}

static ml_tensor *new_header(ml_dtype dtype, int rank, const int64_t *dims) {
    ml_tensor *t = calloc(1, sizeof *t);
    if (!t) return NULL;
    t->dtype = dtype;
    t->rank = rank;
    if (rank) memcpy(t->dims, dims, sizeof(int64_t) * (size_t)rank);
    return t;
}

ml_status ml_tensor_create(ml_dtype dtype, int rank, const int64_t *dims, ml_tensor **out) {
    *out = NULL;
    size_t numel;
    ML_TRY(check_shape(dtype, rank, dims, &numel));
    size_t bytes = numel * ml_dtype_size(dtype);
    size_t alloc = (bytes + ML_TENSOR_ALIGN - 1) / ML_TENSOR_ALIGN * ML_TENSOR_ALIGN;
    if (alloc == 0) alloc = ML_TENSOR_ALIGN;
    ml_buffer *b = malloc(sizeof *b);
    void *data = aligned_alloc(ML_TENSOR_ALIGN, alloc);
    ml_tensor *t = new_header(dtype, rank, dims);
    if (!b || !data || !t) {
        free(b);
        free(data);
        free(t);
        return ml_error(ML_ERR_OUT_OF_MEMORY, "cannot allocate a %s tensor of %zu bytes",
                        ml_dtype_name(dtype), bytes);
    }
    memset(data, 0, alloc);
    if (dtype == ML_STRING) {
        ml_str *s = data;
        for (size_t i = 0; i < numel; i++) s[i].data = empty_string;
    }
    atomic_init(&b->refs, 1);
    b->dtype = dtype;
    b->count = numel;
    b->data = data;
    t->data = data;
    t->buffer = b;
    *out = t;
    return ML_STATUS_OK;
}

ml_status ml_tensor_create_borrowed(ml_dtype dtype, int rank, const int64_t *dims, void *data,
                                    ml_tensor **out) {
    *out = NULL;
    size_t numel;
    ML_TRY(check_shape(dtype, rank, dims, &numel));
    if (!data) {
        if (numel) return ml_error(ML_ERR_INVALID_ARGUMENT, "borrowed tensor without data");
        data = empty_string; /* any non-NULL address will do for zero elements */
    }
    ml_tensor *t = new_header(dtype, rank, dims);
    if (!t) return ml_error(ML_ERR_OUT_OF_MEMORY, "tensor header");
    t->data = data;
    *out = t;
    return ML_STATUS_OK;
}

ml_status ml_tensor_view(const ml_tensor *src, int rank, const int64_t *dims, ml_tensor **out) {
    *out = NULL;
    size_t numel;
    ML_TRY(check_shape(src->dtype, rank, dims, &numel));
    if (numel != ml_tensor_numel(src)) {
        char a[256], b[256];
        return ml_error(ML_ERR_INVALID_ARGUMENT,
                        "cannot view shape %s as %s: element counts differ",
                        ml_shape_format(src->rank, src->dims, a, sizeof a),
                        ml_shape_format(rank, dims, b, sizeof b));
    }
    ml_tensor *t = new_header(src->dtype, rank, dims);
    if (!t) return ml_error(ML_ERR_OUT_OF_MEMORY, "tensor header");
    t->data = src->data;
    t->buffer = src->buffer;
    if (t->buffer) atomic_fetch_add(&t->buffer->refs, 1);
    *out = t;
    return ML_STATUS_OK;
}

ml_status ml_tensor_copy(const ml_tensor *src, ml_tensor **out) {
    ML_TRY(ml_tensor_create(src->dtype, src->rank, src->dims, out));
    size_t n = ml_tensor_numel(src);
    if (src->dtype == ML_STRING) {
        const ml_str *s = src->data;
        for (size_t i = 0; i < n; i++) {
            ml_status st = ml_tensor_set_string(*out, i, s[i].data, s[i].len);
            if (st) {
                ml_tensor_free(*out);
                *out = NULL;
                return st;
            }
        }
    } else if (n) {
        memcpy((*out)->data, src->data, ml_tensor_nbytes(src));
    }
    return ML_STATUS_OK;
}

static void buffer_release(ml_buffer *b) {
    if (atomic_fetch_sub(&b->refs, 1) != 1) return;
    if (b->dtype == ML_STRING) {
        ml_str *s = b->data;
        for (size_t i = 0; i < b->count; i++)
            if (s[i].data != empty_string) free(s[i].data);
    }
    free(b->data);
    free(b);
}

void ml_tensor_free(ml_tensor *t) {
    if (!t) return;
    if (t->buffer) buffer_release(t->buffer);
    free(t);
}

size_t ml_tensor_numel(const ml_tensor *t) {
    size_t n = 0;
    ml_shape_numel(t->rank, t->dims, &n);
    return n;
}

size_t ml_tensor_nbytes(const ml_tensor *t) {
    return ml_tensor_numel(t) * ml_dtype_size(t->dtype);
}

bool ml_tensor_owns_data(const ml_tensor *t) {
    return t->buffer != NULL;
}

bool ml_tensor_storage_unique(const ml_tensor *t) {
    return t->buffer && atomic_load(&t->buffer->refs) == 1;
}

ml_status ml_tensor_set_string(ml_tensor *t, size_t i, const char *s, size_t len) {
    if (t->dtype != ML_STRING || !t->buffer)
        return ml_error(ML_ERR_INTERNAL, "set_string on a %s tensor that it does not own",
                        ml_dtype_name(t->dtype));
    if (i >= ml_tensor_numel(t))
        return ml_error(ML_ERR_INTERNAL, "string index %zu out of range", i);
    if (len == SIZE_MAX) return ml_error(ML_ERR_INVALID_ARGUMENT, "string too long");
    char *copy = malloc(len + 1);
    if (!copy) return ml_error(ML_ERR_OUT_OF_MEMORY, "string of %zu bytes", len);
    if (len) memcpy(copy, s, len);
    copy[len] = '\0';
    ml_str *e = &((ml_str *)t->data)[i];
    if (e->data != empty_string) free(e->data);
    e->data = copy;
    e->len = len;
    return ML_STATUS_OK;
}

double ml_tensor_get_f64(const ml_tensor *t, size_t i) {
    return ml_dtype_load_f64(t->dtype, t->data, i);
}

/* Clamps v into [lo, hi] (NaN -> 0) so the integer conversion that follows is
 * defined for any input: C leaves out-of-range float->int casts undefined. */
static double clampd(double v, double lo, double hi) {
    if (v != v) return 0.0;
    return v < lo ? lo : v > hi ? hi : v;
}

void ml_tensor_set_f64(ml_tensor *t, size_t i, double v) {
    void *d = t->data;
    switch (t->dtype) {
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
    case ML_INT8:
        ((int8_t *)d)[i] = (int8_t)clampd(v, -128.0, 127.0);
        break;
    case ML_UINT8:
        ((uint8_t *)d)[i] = (uint8_t)clampd(v, 0.0, 255.0);
        break;
    case ML_INT16:
        ((int16_t *)d)[i] = (int16_t)clampd(v, -32768.0, 32767.0);
        break;
    case ML_UINT16:
        ((uint16_t *)d)[i] = (uint16_t)clampd(v, 0.0, 65535.0);
        break;
    case ML_INT32:
        ((int32_t *)d)[i] = (int32_t)clampd(v, -2147483648.0, 2147483647.0);
        break;
    case ML_UINT32:
        ((uint32_t *)d)[i] = (uint32_t)clampd(v, 0.0, 4294967295.0);
        break;
    case ML_INT64:
        ((int64_t *)d)[i] = (int64_t)clampd(v, -9223372036854775808.0, 9223372036854774784.0);
        break;
    case ML_UINT64:
        ((uint64_t *)d)[i] = (uint64_t)clampd(v, 0.0, 18446744073709549568.0);
        break;
    case ML_BOOL:
        ((uint8_t *)d)[i] = v != 0.0;
        break;
    default:
        break;
    }
}
