/* Generators: Constant, ConstantOfShape, Range, EyeLike, and Trilu (which
 * masks a triangle of its input). */
#include <math.h>

#include "ops/shape_internal.h"
#include "ops/shape_util.h"

/* Largest tensor a generator op may create from runtime inputs. */
#define GEN_MAX_ELEMS ((size_t)1 << 32)

ml_status ml_shape_constant_init(const ml_node *node, void **state) {
    static const char *const names[] = {"value",        "sparse_value", "value_float",
                                        "value_floats", "value_int",    "value_ints",
                                        "value_string", "value_strings"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (ml_node_attr(node, names[i])) return ML_STATUS_OK;
    return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                         "needs one of the attributes value, sparse_value, value_float(s), "
                         "value_int(s), value_string(s)");
}

ml_status ml_shape_constant_run(ml_kernel_ctx *ctx) {
    const ml_node *node = ctx->node;
    const ml_tensor *t = ml_attr_tensor(node, "value");
    if (!t) t = ml_attr_tensor(node, "sparse_value");
    if (t) return ml_output_view(ctx, 0, t, t->rank, t->dims);
    const ml_attr *a;
    ml_tensor *y;
    if ((a = ml_node_attr(node, "value_float")) && a->type == ML_ATTR_FLOAT) {
        ML_TRY(ml_output_tensor(ctx, 0, ML_FLOAT, 0, NULL, &y));
        ML_TENSOR_DATA(y, float)[0] = a->f;
        return ML_STATUS_OK;
    }
    if ((a = ml_node_attr(node, "value_int")) && a->type == ML_ATTR_INT) {
        ML_TRY(ml_output_tensor(ctx, 0, ML_INT64, 0, NULL, &y));
        ML_TENSOR_DATA(y, int64_t)[0] = a->i;
        return ML_STATUS_OK;
    }
    if ((a = ml_node_attr(node, "value_string")) && a->type == ML_ATTR_STRING) {
        ML_TRY(ml_output_tensor(ctx, 0, ML_STRING, 0, NULL, &y));
        return ml_tensor_set_string(y, 0, a->s.data, a->s.len);
    }
    int64_t n;
    if ((a = ml_node_attr(node, "value_floats")) && a->type == ML_ATTR_FLOATS) {
        n = (int64_t)a->n;
        ML_TRY(ml_output_tensor(ctx, 0, ML_FLOAT, 1, &n, &y));
        if (n) memcpy(y->data, a->floats, a->n * sizeof(float));
        return ML_STATUS_OK;
    }
    if ((a = ml_node_attr(node, "value_ints")) && a->type == ML_ATTR_INTS) {
        n = (int64_t)a->n;
        ML_TRY(ml_output_tensor(ctx, 0, ML_INT64, 1, &n, &y));
        if (n) memcpy(y->data, a->ints, a->n * sizeof(int64_t));
        return ML_STATUS_OK;
    }
    if ((a = ml_node_attr(node, "value_strings")) && a->type == ML_ATTR_STRINGS) {
        n = (int64_t)a->n;
        ML_TRY(ml_output_tensor(ctx, 0, ML_STRING, 1, &n, &y));
        for (size_t i = 0; i < a->n; i++)
            ML_TRY(ml_tensor_set_string(y, i, a->strings[i].data, a->strings[i].len));
        return ML_STATUS_OK;
    }
    return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                         "needs one of the attributes value, sparse_value, value_float(s), "
                         "value_int(s), value_string(s)");
}

ml_status ml_shape_constantofshape_run(ml_kernel_ctx *ctx) {
    const ml_node *node = ctx->node;
    const ml_tensor *s;
    ML_TRY(ml_require_input(ctx, 0, &s));
    int64_t dims[ML_MAX_RANK];
    size_t n, numel;
    ML_TRY(shape_read_ints(node, s, "shape", ML_MAX_RANK, dims, &n));
    if (!ml_shape_numel((int)n, dims, &numel) || numel > GEN_MAX_ELEMS)
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                             "shape has a negative dim or more than %zu elements", GEN_MAX_ELEMS);
    const ml_tensor *v = ml_attr_tensor(node, "value");
    if (v && ml_tensor_numel(v) != 1)
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT, "value must hold one element, not %zu",
                             ml_tensor_numel(v));
    ml_dtype dt = v ? v->dtype : ML_FLOAT;
    ml_tensor *y;
    ML_TRY(ml_output_tensor(ctx, 0, dt, (int)n, dims, &y));
    if (dt == ML_STRING) {
        const ml_str *str = v->data;
        for (size_t i = 0; i < numel; i++) ML_TRY(ml_tensor_set_string(y, i, str->data, str->len));
        return ML_STATUS_OK;
    }
    _Alignas(16) unsigned char zero[16] = {0};
    shape_fill(y->data, v ? v->data : zero, numel, ml_dtype_size(dt));
    return ML_STATUS_OK;
}

#define RANGE_INT(T)                                                                               \
    do {                                                                                           \
        T *o = y->data;                                                                            \
        for (int64_t i = 0; i < count; i++) o[i] = (T)(is + i * id);                               \
    } while (0)

ml_status ml_shape_range_run(ml_kernel_ctx *ctx) {
    const ml_node *node = ctx->node;
    const ml_tensor *ts, *tl, *td;
    ML_TRY(ml_require_input(ctx, 0, &ts));
    ML_TRY(ml_require_input(ctx, 1, &tl));
    ML_TRY(ml_require_input(ctx, 2, &td));
    ml_dtype dt = ts->dtype;
    if (tl->dtype != dt || td->dtype != dt)
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                             "start, limit and delta must share a dtype");
    if (ml_tensor_numel(ts) != 1 || ml_tensor_numel(tl) != 1 || ml_tensor_numel(td) != 1)
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                             "start, limit and delta must be scalars");
    if (dt == ML_STRING || dt == ML_BOOL)
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT, "dtype %s is not numeric",
                             ml_dtype_name(dt));
    int64_t count;
    int64_t is = 0, id = 0;
    double ds = 0, dd = 0;
    if (ml_dtype_is_integer(dt)) {
        int64_t il;
        ML_TRY(shape_read_scalar_int(node, ts, "start", &is));
        ML_TRY(shape_read_scalar_int(node, tl, "limit", &il));
        ML_TRY(shape_read_scalar_int(node, td, "delta", &id));
        if (id == 0) return ml_node_error(node, ML_ERR_INVALID_ARGUMENT, "delta must not be 0");
        /* ceil((limit - start) / delta) in exact integer arithmetic */
        double span = (double)il - (double)is;
        if (fabs(span) > 9.0e18 || span / (double)id > (double)GEN_MAX_ELEMS)
            return ml_node_error(node, ML_ERR_RESOURCE_EXHAUSTED, "range is too long");
        int64_t diff = il - is;
        count = diff / id + ((diff % id) != 0 && ((diff < 0) == (id < 0)) ? 1 : 0);
        if (count < 0) count = 0;
    } else {
        ds = ml_tensor_get_f64(ts, 0);
        double dl = ml_tensor_get_f64(tl, 0);
        dd = ml_tensor_get_f64(td, 0);
        if (dd == 0 || !isfinite(ds) || !isfinite(dl) || !isfinite(dd))
            return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                                 "start, limit and delta must be finite and delta non-zero");
        double c = ceil((dl - ds) / dd);
        if (c > (double)GEN_MAX_ELEMS)
            return ml_node_error(node, ML_ERR_RESOURCE_EXHAUSTED, "range is too long");
        count = c > 0 ? (int64_t)c : 0;
    }
    ml_tensor *y;
    ML_TRY(ml_output_tensor(ctx, 0, dt, 1, &count, &y));
    switch (dt) {
    case ML_INT64:
        RANGE_INT(int64_t);
        break;
    case ML_INT32:
        RANGE_INT(int32_t);
        break;
    case ML_INT16:
        RANGE_INT(int16_t);
        break;
    case ML_FLOAT: {
        /* accumulate like the spec's function body and onnxruntime */
        float *o = y->data, v = (float)ds, d = (float)dd;
        for (int64_t i = 0; i < count; i++, v += d) o[i] = v;
        break;
    }
    case ML_DOUBLE: {
        double *o = y->data, v = ds;
        for (int64_t i = 0; i < count; i++, v += dd) o[i] = v;
        break;
    }
    default:
        for (int64_t i = 0; i < count; i++)
            ml_tensor_set_f64(y, (size_t)i,
                              ml_dtype_is_integer(dt) ? (double)(is + i * id)
                                                      : ds + (double)i * dd);
    }
    return ML_STATUS_OK;
}

ml_status ml_shape_eyelike_run(ml_kernel_ctx *ctx) {
    const ml_node *node = ctx->node;
    const ml_tensor *x;
    ML_TRY(ml_require_input(ctx, 0, &x));
    if (x->rank != 2)
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT, "input must be 2-D, got rank %d",
                             x->rank);
    int64_t dt = ml_attr_int(node, "dtype", x->dtype);
    if (dt <= ML_UNDEFINED || dt >= ML_DTYPE_COUNT || !ml_dtype_valid((int)dt) || dt == ML_STRING)
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT, "dtype %lld is not a numeric type",
                             (long long)dt);
    int64_t k = ml_attr_int(node, "k", 0);
    /* beyond these bounds the diagonal misses the matrix; clamping keeps i + k finite */
    if (k > x->dims[1]) k = x->dims[1];
    if (k < -x->dims[0]) k = -x->dims[0];
    ml_tensor *y;
    ML_TRY(ml_output_tensor(ctx, 0, (ml_dtype)dt, 2, x->dims, &y));
    memset(y->data, 0, ml_tensor_nbytes(y));
    for (int64_t i = 0; i < x->dims[0]; i++) {
        int64_t j = i + k;
        if (j >= 0 && j < x->dims[1]) ml_tensor_set_f64(y, (size_t)(i * x->dims[1] + j), 1.0);
    }
    return ML_STATUS_OK;
}

ml_status ml_shape_trilu_run(ml_kernel_ctx *ctx) {
    const ml_node *node = ctx->node;
    const ml_tensor *x, *kt = ml_input(ctx, 1);
    ML_TRY(ml_require_input(ctx, 0, &x));
    if (x->rank < 2)
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT, "input must have rank >= 2, got %d",
                             x->rank);
    int64_t k = 0;
    if (kt) ML_TRY(shape_read_scalar_int(node, kt, "k", &k));
    bool upper = ml_attr_int(node, "upper", 1) != 0;
    ml_tensor *y;
    ML_TRY(ml_output_tensor(ctx, 0, x->dtype, x->rank, x->dims, &y));
    void *dst;
    ML_TRY(shape_out_begin(node, y, &dst));
    int64_t rows = x->dims[x->rank - 2], cols = x->dims[x->rank - 1];
    size_t batch = shape_prod(x->dims, 0, x->rank - 2), esz = ml_dtype_size(x->dtype);
    /* clamp k so i + k cannot overflow */
    if (k > cols) k = cols;
    if (k < -rows) k = -rows;
    const char *src = x->data;
    char *d = dst;
    for (size_t b = 0; b < batch; b++)
        for (int64_t i = 0; i < rows; i++) {
            /* kept columns: [lo, hi) */
            int64_t lo = upper ? i + k : 0, hi = upper ? cols : i + k + 1;
            lo = lo < 0 ? 0 : lo > cols ? cols : lo;
            hi = hi < lo ? lo : hi > cols ? cols : hi;
            size_t row = (b * (size_t)rows + (size_t)i) * (size_t)cols * esz;
            memset(d + row, 0, (size_t)lo * esz);
            memcpy(d + row + (size_t)lo * esz, src + row + (size_t)lo * esz,
                   (size_t)(hi - lo) * esz);
            memset(d + row + (size_t)hi * esz, 0, (size_t)(cols - hi) * esz);
        }
    return shape_out_end(y, dst, ML_STATUS_OK);
}
