/* com.mlambda ScaledDotProductAttention, made by the graph optimiser
 * (src/onnx/graph_fuse_attention.c) from the attention core as exporters
 * spell it:
 *   scores = MatMul(Q, K)                  K as the model computes it: [..., D, T]
 *   scores = scores * s | scores / s       scale_op 1 | 2 (0: no scale)
 *   scores = Where(c, fill, scores) | Where(c, scores, fill)   where_op 1 | 2
 *   scores = scores + mask                 when mask is given
 *   Y = MatMul(Softmax(scores, softmax_axis), V)
 * Inputs: Q, K, V, s, mask, c, fill (all after V optional; s and fill are
 * one-element). Attribute `opsets`: the original MatMul, scale, Where, Add,
 * Softmax and MatMul opsets.
 *
 * Fast path: float32 (c bool); the softmax over the last axis; Q, K and V
 * of one rank >= 2 with equal leading (batch) dims; s and fill of rank <=
 * that; mask and c broadcasting to the scores [..., S, T] without enlarging
 * them. A task is a block of Q's rows of one batch entry: its scores (at
 * most SDPA_BLOCK floats, so the whole [..., S, T] tensor never exists),
 * scale, Where, mask, softmax, times V. The products use MatMul's GEMM and
 * the softmax the Softmax kernel's row code, so results match the unfused
 * graph's.
 *
 * Anything else (broadcasting batch dims, 1-D operands, other dtypes, a
 * mask that widens the scores, invalid shapes) runs the original ops in
 * order through their kernels (ml_run_op): the unfused graph's result, or
 * its error, for every input. */
#include "ops/elementwise_opt.h"

#include <limits.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "ops/gemm_fast.h"
#include "ops/reduce_internal.h"
#include "ops/transformer_internal.h"

enum { SCALE_NONE, SCALE_MUL, SCALE_DIV };
enum { WHERE_NONE, WHERE_FILL_TRUE, WHERE_FILL_FALSE };
enum { IN_Q, IN_K, IN_V, IN_S, IN_MASK, IN_COND, IN_FILL };
enum { OP_MATMUL1, OP_SCALE, OP_WHERE, OP_ADD, OP_SOFTMAX, OP_MATMUL2, N_OPS };

#define SDPA_BLOCK 16384              /* score floats per task */
#define SDPA_MIN_ROWS 8               /* rows per task when splitting for threads */
#define SDPA_PAR_MIN 65536            /* multiply-adds below which one thread does all */
#define SDPA_MAX_T ((int64_t)1 << 24) /* longest score row of the fast path */

typedef struct sdpa {
    const float *q, *k, *v, *mask;
    const uint8_t *cond;
    float *y;
    int64_t S, D, T, Dv;
    size_t nbatch;                /* product of the leading dims */
    int nlead;                    /* rank - 2 */
    int64_t lead[ML_MAX_RANK];    /* the leading dims */
    int64_t mstride[ML_MAX_RANK]; /* mask strides over [lead..., S, T]; 0 broadcasts */
    int64_t cstride[ML_MAX_RANK]; /* c's likewise */
    int scale_op, where_op;
    float scale, fill;
    int64_t rows;  /* Q rows per task */
    size_t blocks; /* tasks per batch entry */
    atomic_int failed;
} sdpa;

ml_status ml_sdpa_init(const ml_node *node, void **state) {
    *state = NULL;
    int64_t op = ml_attr_int(node, "scale_op", SCALE_NONE);
    int64_t wop = ml_attr_int(node, "where_op", WHERE_NONE);
    if (op < SCALE_NONE || op > SCALE_DIV || wop < WHERE_NONE || wop > WHERE_FILL_FALSE)
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                             "scale_op and where_op must be 0, 1 or 2");
    const int64_t *opsets;
    size_t n = ml_attr_ints(node, "opsets", &opsets);
    if (n != 0 && n != N_OPS)
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT, "opsets must list %d versions", N_OPS);
    return ML_STATUS_OK;
}

static int op_version(const ml_node *node, int which) {
    static const int dflt[N_OPS] = {13, 14, 16, 14, 13, 13};
    const int64_t *opsets;
    return ml_attr_ints(node, "opsets", &opsets) == N_OPS ? (int)opsets[which] : dflt[which];
}

static ml_value *input_or_null(const ml_kernel_ctx *ctx, size_t i) {
    return i < ctx->n_inputs ? ctx->inputs[i] : NULL;
}

/* Runs op on two or three inputs, replacing *cur (freed) by the result. */
static ml_status step(ml_kernel_ctx *ctx, const char *op, int which, size_t n_in,
                      ml_value *const *in, size_t n_attrs, const ml_attr *attrs, ml_value **cur) {
    ml_value *next;
    ml_status st =
        ml_run_op(ctx, op, op_version(ctx->node, which), n_attrs, attrs, n_in, in, &next);
    ml_value_free(*cur);
    *cur = st ? NULL : next;
    return st;
}

/* The unfused ops one after the other. */
static ml_status run_unfused(ml_kernel_ctx *ctx) {
    const ml_node *node = ctx->node;
    int scale_op = (int)ml_attr_int(node, "scale_op", SCALE_NONE);
    int where_op = (int)ml_attr_int(node, "where_op", WHERE_NONE);
    ml_value *s = input_or_null(ctx, IN_S), *m = input_or_null(ctx, IN_MASK);
    ml_value *c = input_or_null(ctx, IN_COND), *fill = input_or_null(ctx, IN_FILL);
    ml_value *cur = NULL;
    ml_value *in[3] = {ctx->inputs[IN_Q], ctx->inputs[IN_K]};
    ML_TRY(ml_run_op(ctx, "MatMul", op_version(node, OP_MATMUL1), 0, NULL, 2, in, &cur));
    if (scale_op != SCALE_NONE && s) {
        in[0] = cur, in[1] = s;
        ML_TRY(step(ctx, scale_op == SCALE_MUL ? "Mul" : "Div", OP_SCALE, 2, in, 0, NULL, &cur));
    }
    if (where_op != WHERE_NONE && c && fill) {
        in[0] = c;
        in[1] = where_op == WHERE_FILL_TRUE ? fill : cur;
        in[2] = where_op == WHERE_FILL_TRUE ? cur : fill;
        ML_TRY(step(ctx, "Where", OP_WHERE, 3, in, 0, NULL, &cur));
    }
    if (m) {
        in[0] = cur, in[1] = m;
        ML_TRY(step(ctx, "Add", OP_ADD, 2, in, 0, NULL, &cur));
    }
    ml_attr axis = {
        .name = "axis", .type = ML_ATTR_INT, .i = ml_attr_int(node, "softmax_axis", -1)};
    ml_value *scores[1] = {cur};
    ML_TRY(step(ctx, "Softmax", OP_SOFTMAX, 1, scores, 1, &axis, &cur));
    in[0] = cur, in[1] = ctx->inputs[IN_V];
    ML_TRY(step(ctx, "MatMul", OP_MATMUL2, 2, in, 0, NULL, &cur));
    return ml_set_output(ctx, 0, cur);
}

static bool is_f32(const ml_tensor *t) {
    return t && t->dtype == ML_FLOAT;
}

/* Strides of t over the scores [lead..., S, T] (0 where t broadcasts);
 * false when t does not broadcast to them or would enlarge them. */
static bool bcast_strides(const ml_tensor *t, const sdpa *a, int64_t *stride_out) {
    int r = a->nlead + 2;
    if (t->rank > r) return false;
    int64_t stride = 1;
    for (int d = r - 1; d >= 0; d--) {
        int td = d - (r - t->rank);
        int64_t want = d == r - 1 ? a->T : d == r - 2 ? a->S : a->lead[d];
        int64_t have = td >= 0 ? t->dims[td] : 1;
        if (have != 1 && have != want) return false;
        stride_out[d] = have == 1 ? 0 : stride;
        stride *= have;
    }
    return true;
}

/* A one-element float of rank <= r. */
static bool one_float(const ml_tensor *t, int r, float *out) {
    if (!is_f32(t) || t->rank > r || ml_tensor_numel(t) != 1) return false;
    *out = ((const float *)t->data)[0];
    return true;
}

/* Fills a for the fast path; false when the inputs need the unfused ops. */
static bool fast_shapes(const ml_tensor *q, const ml_tensor *k, const ml_tensor *v,
                        const ml_tensor *s, const ml_tensor *m, const ml_tensor *c,
                        const ml_tensor *fill, sdpa *a) {
    int r = q->rank;
    if (!is_f32(q) || !is_f32(k) || !is_f32(v) || r < 2 || k->rank != r || v->rank != r)
        return false;
    a->nlead = r - 2;
    a->nbatch = 1;
    for (int d = 0; d < a->nlead; d++) {
        if (k->dims[d] != q->dims[d] || v->dims[d] != q->dims[d]) return false;
        a->lead[d] = q->dims[d];
        a->nbatch *= (size_t)q->dims[d];
    }
    a->S = q->dims[r - 2], a->D = q->dims[r - 1];
    a->T = k->dims[r - 1], a->Dv = v->dims[r - 1];
    if (k->dims[r - 2] != a->D || v->dims[r - 2] != a->T) return false;
    /* the GEMM takes int sizes; a huge T is left to the unfused ops and
     * their per-tensor limit */
    if (a->S > INT_MAX || a->D > INT_MAX || a->Dv > INT_MAX || a->T > SDPA_MAX_T) return false;
    if (s && !one_float(s, r, &a->scale)) return false;
    if (c) {
        if (c->dtype != ML_BOOL || !one_float(fill, r, &a->fill) ||
            !bcast_strides(c, a, a->cstride))
            return false;
        a->cond = c->data;
    }
    if (m) {
        if (!is_f32(m) || !bcast_strides(m, a, a->mstride)) return false;
        a->mask = m->data;
    }
    return true;
}

/* One row of scores before the softmax: scale, Where, mask (c's and the
 * mask's elements cs / ms apart). */
ELEM_CLONES static void prepare_row(float *restrict row, int64_t T, const sdpa *a,
                                    const uint8_t *restrict c, int64_t cs,
                                    const float *restrict mask, int64_t ms) {
    if (a->scale_op == SCALE_MUL) {
        const float scale = a->scale;
        for (int64_t j = 0; j < T; j++) row[j] *= scale;
    } else if (a->scale_op == SCALE_DIV) {
        const float scale = a->scale;
        for (int64_t j = 0; j < T; j++) row[j] /= scale;
    }
    if (c) {
        const float fill = a->fill;
        const bool on = a->where_op == WHERE_FILL_TRUE;
        for (int64_t j = 0; j < T; j++)
            if ((c[j * cs] != 0) == on) row[j] = fill;
    }
    if (mask && ms == 1)
        for (int64_t j = 0; j < T; j++) row[j] += mask[j];
    else if (mask)
        for (int64_t j = 0; j < T; j++) row[j] += mask[j * ms];
}

/* Offset of batch entry b in a tensor with these strides over the leading
 * dims. */
static size_t lead_offset(const sdpa *a, size_t b, const int64_t *stride) {
    size_t off = 0;
    for (int d = a->nlead - 1; d >= 0; d--) {
        off += (b % (size_t)a->lead[d]) * (size_t)stride[d];
        b /= (size_t)a->lead[d];
    }
    return off;
}

static void sdpa_tasks(void *arg, size_t begin, size_t end) {
    sdpa *a = arg;
    float *sc = malloc((size_t)(a->rows * a->T > 0 ? a->rows * a->T : 1) * sizeof(float));
    if (!sc) {
        atomic_store(&a->failed, 1);
        return;
    }
    int r = a->nlead + 2;
    nn_gemm_epi plain = {.alpha = 1.0f};
    for (size_t task = begin; task < end; task++) {
        size_t b = task / a->blocks;
        int64_t i0 = (int64_t)(task % a->blocks) * a->rows;
        int64_t n = a->S - i0 < a->rows ? a->S - i0 : a->rows;
        const float *q = a->q + (b * (size_t)a->S + (size_t)i0) * (size_t)a->D;
        const float *k = a->k + b * (size_t)(a->D * a->T);
        const float *v = a->v + b * (size_t)(a->T * a->Dv);
        float *y = a->y + (b * (size_t)a->S + (size_t)i0) * (size_t)a->Dv;
        nn_gemm_opnd qa = {.p = q, .rs = a->D, .cs = 1}, kb = {.p = k, .rs = a->T, .cs = 1};
        nn_gemm(NULL, (int)n, (int)a->T, (int)a->D, &qa, &kb, sc, a->T, &plain);
        const float *mb = a->mask ? a->mask + lead_offset(a, b, a->mstride) : NULL;
        const uint8_t *cb = a->cond ? a->cond + lead_offset(a, b, a->cstride) : NULL;
        for (int64_t i = 0; i < n; i++) {
            float *row = sc + i * a->T;
            prepare_row(row, a->T, a, cb ? cb + (i0 + i) * a->cstride[r - 2] : NULL,
                        a->cstride[r - 1], mb ? mb + (i0 + i) * a->mstride[r - 2] : NULL,
                        a->mstride[r - 1]);
            red_softmax_row_f32(row, row, (size_t)a->T);
        }
        nn_gemm_opnd pa = {.p = sc, .rs = a->T, .cs = 1}, vb = {.p = v, .rs = a->Dv, .cs = 1};
        nn_gemm(NULL, (int)n, (int)a->Dv, (int)a->T, &pa, &vb, y, a->Dv, &plain);
    }
    free(sc);
}

ml_status ml_sdpa_run(ml_kernel_ctx *ctx) {
    const ml_node *node = ctx->node;
    const ml_tensor *q, *k, *v;
    ML_TRY(ml_require_input(ctx, 0, &q));
    ML_TRY(ml_require_input(ctx, 1, &k));
    ML_TRY(ml_require_input(ctx, 2, &v));
    int scale_op = (int)ml_attr_int(node, "scale_op", SCALE_NONE);
    int where_op = (int)ml_attr_int(node, "where_op", WHERE_NONE);
    const ml_tensor *s = scale_op != SCALE_NONE ? ml_input(ctx, IN_S) : NULL;
    const ml_tensor *m = ml_input(ctx, IN_MASK);
    const ml_tensor *c = where_op != WHERE_NONE ? ml_input(ctx, IN_COND) : NULL;
    const ml_tensor *fill = c ? ml_input(ctx, IN_FILL) : NULL;
    sdpa a = {.scale_op = s ? scale_op : SCALE_NONE, .where_op = c ? where_op : WHERE_NONE};
    int64_t axis = ml_attr_int(node, "softmax_axis", -1);
    /* every input given must be a tensor the fast path understands */
    bool complete = (scale_op == SCALE_NONE || s) && (where_op == WHERE_NONE || (c && fill)) &&
                    (!input_or_null(ctx, IN_MASK) || m);
    if ((axis != -1 && axis != q->rank - 1) || !complete ||
        !fast_shapes(q, k, v, s, m, c, fill, &a))
        return run_unfused(ctx);

    int64_t dims[ML_MAX_RANK];
    memcpy(dims, q->dims, (size_t)q->rank * sizeof dims[0]);
    dims[q->rank - 1] = a.Dv;
    ml_tensor *y;
    ML_TRY(ml_output_tensor(ctx, 0, ML_FLOAT, q->rank, dims, &y));
    if (ml_tensor_numel(y) == 0) return ML_STATUS_OK;
    a.q = q->data, a.k = k->data, a.v = v->data, a.y = y->data;

    /* rows per task: the score block stays small, and there are a few tasks
     * per thread when the batch alone does not give them */
    int64_t rows = a.T > 0 ? SDPA_BLOCK / a.T : a.S;
    if (rows < 1) rows = 1;
    if (rows > a.S) rows = a.S;
    size_t nthreads = ctx->pool ? ml_threadpool_size(ctx->pool) : 1;
    size_t want = nthreads > 1 ? 4 * nthreads : 1;
    while (rows > SDPA_MIN_ROWS && a.nbatch * (size_t)((a.S + rows - 1) / rows) < want)
        rows = (rows + 1) / 2;
    a.rows = rows;
    a.blocks = (size_t)((a.S + rows - 1) / rows);
    size_t tasks = a.nbatch * a.blocks;
    double work = (double)a.nbatch * (double)a.S * (double)a.T * (double)(a.D + a.Dv);
    atomic_init(&a.failed, 0);
    ml_parallel_for(ctx->pool, tasks, work >= SDPA_PAR_MIN ? 1 : tasks, sdpa_tasks, &a);
    if (atomic_load(&a.failed))
        return ml_node_error(node, ML_ERR_OUT_OF_MEMORY,
                             "no memory for a %lld x %lld block of attention scores",
                             (long long)a.rows, (long long)a.T);
    return ML_STATUS_OK;
}
