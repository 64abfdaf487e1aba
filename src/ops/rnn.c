/* Recurrent ops: RNN, GRU and LSTM (ONNX opsets 1..14+).
 *
 * One driver handles all three: the input projection X*W^T of every time
 * step is one GEMM per direction, then each step adds H*R^T (another GEMM
 * over the whole batch) and applies the cell's gate arithmetic. Layout 1
 * (batch-major) is handled by transposing into layout 0 at the edges.
 * sequence_lens: a batch entry stops at its length (its hidden state is
 * frozen, its Y rows stay zero); the reverse direction starts at len-1. */
#include <cblas.h>
#include <stdlib.h>
#include <string.h>

#include "ops/families.h"
#include "ops/misc_util.h"
#include "ops/rnn_internal.h"

typedef enum cell_kind { CELL_RNN, CELL_GRU, CELL_LSTM } cell_kind;
static const int cell_gates[] = {1, 3, 4};
static const int cell_acts[] = {1, 2, 3};

typedef struct rnn_job {
    cell_kind cell;
    int dirs;
    int64_t seq, batch, in, hid;
    float clip;
    bool input_forget, lbr;
    rnn_act acts[6];
    const float *x;      /* [seq, batch, in] */
    const float *w;      /* [dirs, G*hid, in] */
    const float *r;      /* [dirs, G*hid, hid] */
    const float *b;      /* [dirs, 2*G*hid] or NULL */
    const float *p;      /* [dirs, 3*hid] or NULL */
    const float *h0;     /* [dirs, batch, hid] or NULL */
    const float *c0;     /* [dirs, batch, hid] or NULL */
    const int64_t *lens; /* [batch] */
    float *y;            /* [seq, dirs, batch, hid] or NULL */
    float *yh, *yc;      /* [dirs, batch, hid] */
} rnn_job;

static void add_row(float *dst, const float *src, int64_t n) {
    for (int64_t i = 0; i < n; i++) dst[i] += src[i];
}

/* c[B, N] = a[B, K] * w[N, K]^T + beta * c (row strides lda, ldc). A
 * single sequence (B == 1, the usual serving case) is a matrix-vector
 * product, which sgemv does several times faster than sgemm. */
static void rec_gemm(int64_t B, int64_t N, int64_t K, const float *a, int64_t lda, const float *w,
                     float beta, float *c, int64_t ldc) {
    if (B == 0 || N == 0 || K == 0) return; /* H == 0: nothing to add */
    if (B == 1)
        cblas_sgemv(CblasRowMajor, CblasNoTrans, (int)N, (int)K, 1.0f, w, (int)K, a, 1, beta, c, 1);
    else
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)B, (int)N, (int)K, 1.0f, a,
                    (int)lda, w, (int)K, beta, c, (int)ldc);
}

/* Runs one direction; work holds the n_work floats sized in run_rnn_common. */
static void run_direction(const rnn_job *j, int d, bool reverse, float *work) {
    const int64_t G = cell_gates[j->cell], H = j->hid, GH = G * H, B = j->batch, IN = j->in;
    const float *W = j->w + (size_t)d * GH * IN, *R = j->r + (size_t)d * GH * H;
    const float *Wb = j->b ? j->b + (size_t)d * 2 * GH : NULL, *Rb = Wb ? Wb + GH : NULL;
    const float *P = j->p ? j->p + (size_t)d * 3 * H : NULL;
    const rnn_act *act = &j->acts[d * cell_acts[j->cell]];
    float *xw = work;                        /* [seq*batch, GH] */
    float *g = xw + (size_t)j->seq * B * GH; /* [batch, GH] */
    float *h = g + (size_t)B * GH;           /* [batch, H] */
    float *c = h + (size_t)B * H;            /* [batch, H] */
    float *tmp = c + (size_t)B * H;          /* [batch, GH] */
    float *bias = tmp + (size_t)B * GH;      /* [GH] */

    /* bias folded into the input projection: Wb + Rb, except GRU's hidden
     * gate with linear_before_reset where Rbh sits inside r * (...) */
    for (int64_t k = 0; k < GH; k++) {
        bool rb_inside = j->cell == CELL_GRU && j->lbr && k >= 2 * H;
        bias[k] = Wb ? Wb[k] + (rb_inside ? 0 : Rb[k]) : 0;
    }
    const int64_t rows = j->seq * B;
    if (rows > 0 && IN > 0)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)rows, (int)GH, (int)IN, 1.0f,
                    j->x, (int)IN, W, (int)IN, 0.0f, xw, (int)GH);
    else
        memset(xw, 0, (size_t)rows * GH * sizeof(float));
    for (int64_t r = 0; r < rows; r++) add_row(xw + r * GH, bias, GH);

    if (j->h0)
        memcpy(h, j->h0 + (size_t)d * B * H, (size_t)B * H * sizeof(float));
    else
        memset(h, 0, (size_t)B * H * sizeof(float));
    if (j->c0)
        memcpy(c, j->c0 + (size_t)d * B * H, (size_t)B * H * sizeof(float));
    else
        memset(c, 0, (size_t)B * H * sizeof(float));

    for (int64_t s = 0; s < j->seq; s++) {
        bool any = false;
        for (int64_t b = 0; b < B; b++) {
            int64_t len = j->lens[b];
            if (s < len) {
                int64_t t = reverse ? len - 1 - s : s;
                memcpy(g + b * GH, xw + (t * B + b) * GH, (size_t)GH * sizeof(float));
                any = true;
            } else {
                memset(g + b * GH, 0, (size_t)GH * sizeof(float));
            }
        }
        if (!any) break;
        if (j->cell == CELL_GRU && j->lbr) {
            /* all three gates' H*R^T in one product; the hidden gate's part
             * is scaled by r afterwards */
            rec_gemm(B, GH, H, h, H, R, 0.0f, tmp, GH);
            for (int64_t b = 0; b < B; b++) {
                add_row(g + b * GH, tmp + b * GH, 2 * H);
                rnn_apply(&act[0], g + b * GH, (size_t)(2 * H), j->clip);
                const float *r = g + b * GH + H, *rh = tmp + b * GH + 2 * H;
                float *gh = g + b * GH + 2 * H;
                if (Rb)
                    for (int64_t k = 0; k < H; k++) gh[k] += r[k] * (rh[k] + Rb[2 * H + k]);
                else
                    for (int64_t k = 0; k < H; k++) gh[k] += r[k] * rh[k];
            }
        } else if (j->cell == CELL_GRU) {
            /* z and r first: the hidden gate multiplies H by r before R */
            rec_gemm(B, 2 * H, H, h, H, R, 1.0f, g, GH);
            for (int64_t b = 0; b < B; b++)
                rnn_apply(&act[0], g + b * GH, (size_t)(2 * H), j->clip);
            for (int64_t b = 0; b < B; b++)
                for (int64_t k = 0; k < H; k++) tmp[b * H + k] = g[b * GH + H + k] * h[b * H + k];
            rec_gemm(B, H, H, tmp, H, R + (size_t)2 * H * H, 1.0f, g + 2 * H, GH);
        } else {
            rec_gemm(B, GH, H, h, H, R, 1.0f, g, GH);
        }
        for (int64_t b = 0; b < B; b++) {
            int64_t len = j->lens[b];
            if (s >= len) continue;
            int64_t t = reverse ? len - 1 - s : s;
            float *gb = g + b * GH, *hb = h + b * H, *cb = c + b * H;
            switch (j->cell) {
            case CELL_RNN:
                rnn_apply(&act[0], gb, (size_t)H, j->clip);
                memcpy(hb, gb, (size_t)H * sizeof(float));
                break;
            case CELL_GRU: {
                float *z = gb, *hh = gb + 2 * H;
                rnn_apply(&act[1], hh, (size_t)H, j->clip);
                for (int64_t k = 0; k < H; k++) hb[k] = (1.0f - z[k]) * hh[k] + z[k] * hb[k];
                break;
            }
            case CELL_LSTM: {
                float *gi = gb, *go = gb + H, *gf = gb + 2 * H, *gc = gb + 3 * H;
                if (P) {
                    for (int64_t k = 0; k < H; k++) gi[k] += P[k] * cb[k];
                    if (!j->input_forget)
                        for (int64_t k = 0; k < H; k++) gf[k] += P[2 * H + k] * cb[k];
                }
                /* without peepholes the i, o, f gates (adjacent) activate in
                 * one call; with them o must wait for the new cell state */
                bool fused = !P && !j->input_forget;
                rnn_apply(&act[0], gi, (size_t)(fused ? 3 * H : H), j->clip);
                if (j->input_forget) {
                    for (int64_t k = 0; k < H; k++) gf[k] = 1.0f - gi[k];
                } else if (!fused) {
                    rnn_apply(&act[0], gf, (size_t)H, j->clip);
                }
                rnn_apply(&act[1], gc, (size_t)H, j->clip);
                for (int64_t k = 0; k < H; k++) cb[k] = gf[k] * cb[k] + gi[k] * gc[k];
                if (P)
                    for (int64_t k = 0; k < H; k++) go[k] += P[H + k] * cb[k];
                if (!fused) rnn_apply(&act[0], go, (size_t)H, j->clip);
                memcpy(tmp + b * H, cb, (size_t)H * sizeof(float));
                rnn_apply(&act[2], tmp + b * H, (size_t)H, 0);
                for (int64_t k = 0; k < H; k++) hb[k] = go[k] * tmp[b * H + k];
                break;
            }
            }
            if (j->y) memcpy(j->y + ((t * j->dirs + d) * B + b) * H, hb, (size_t)H * sizeof(float));
        }
    }
    memcpy(j->yh + (size_t)d * B * H, h, (size_t)B * H * sizeof(float));
    if (j->yc) memcpy(j->yc + (size_t)d * B * H, c, (size_t)B * H * sizeof(float));
}

/* Swaps the first two axes of a [a, b, inner] array. */
static void swap01(const float *src, float *dst, int64_t a, int64_t b, int64_t inner) {
    for (int64_t i = 0; i < a; i++)
        for (int64_t k = 0; k < b; k++)
            memcpy(dst + (k * a + i) * inner, src + (i * b + k) * inner,
                   (size_t)inner * sizeof(float));
}

/* A float32 view of t: borrowed when t already is float32 and need not be
 * modified, else converted into *owned (freed by the caller). */
static ml_status load_input(const ml_kernel_ctx *ctx, const ml_tensor *t, bool writable,
                            const float **view, float **owned) {
    *owned = NULL;
    if (t->dtype == ML_FLOAT && !writable) {
        *view = t->data;
        return ML_STATUS_OK;
    }
    size_t n = ml_tensor_numel(t);
    *owned = malloc((n ? n : 1) * sizeof(float));
    if (!*owned) return ml_node_error(ctx->node, ML_ERR_OUT_OF_MEMORY, "out of memory");
    misc_to_f32(t, *owned, n);
    *view = *owned;
    return ML_STATUS_OK;
}

static ml_status check_shape(const ml_node *node, const ml_tensor *t, const char *what, int rank,
                             const int64_t *want) {
    if (t->rank != rank)
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT, "%s must have rank %d, got %d", what,
                             rank, t->rank);
    for (int i = 0; i < rank; i++)
        if (t->dims[i] != want[i]) {
            char a[64], b[64];
            return ml_node_error(node, ML_ERR_INVALID_ARGUMENT, "%s has shape %s; expected %s",
                                 what, ml_shape_format(t->rank, t->dims, a, sizeof a),
                                 ml_shape_format(rank, want, b, sizeof b));
        }
    return ML_STATUS_OK;
}

typedef struct dir_args {
    const rnn_job *job;
    bool reverse; /* direction attribute "reverse" */
    float *work;  /* dirs areas of stride floats */
    size_t stride;
} dir_args;

/* The two directions of a bidirectional op are independent (they write
 * disjoint parts of Y, Y_h, Y_c), so they run in parallel. */
static void run_directions(void *arg, size_t begin, size_t end) {
    const dir_args *a = arg;
    for (size_t d = begin; d < end; d++)
        run_direction(a->job, (int)d, a->reverse || d == 1, a->work + d * a->stride);
}

/* direction and layout attributes (checked at load time and at run time) */
static ml_status parse_direction(const ml_node *node, int *dirs, bool *rev, int *layout) {
    const char *dir = ml_attr_string(node, "direction", "forward");
    *rev = false;
    if (strcmp(dir, "forward") == 0)
        *dirs = 1;
    else if (strcmp(dir, "reverse") == 0)
        *dirs = 1, *rev = true;
    else if (strcmp(dir, "bidirectional") == 0)
        *dirs = 2;
    else
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                             "direction '%s' must be forward, reverse or bidirectional", dir);
    *layout = node->opset >= 14 ? (int)ml_attr_int(node, "layout", 0) : 0;
    if (*layout != 0 && *layout != 1)
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT, "layout must be 0 or 1, got %d",
                             *layout);
    return ML_STATUS_OK;
}

static const rnn_act_kind dflt_rnn[] = {RNN_ACT_TANH};
static const rnn_act_kind dflt_gru[] = {RNN_ACT_SIGMOID, RNN_ACT_TANH};
static const rnn_act_kind dflt_lstm[] = {RNN_ACT_SIGMOID, RNN_ACT_TANH, RNN_ACT_TANH};

static const rnn_act_kind *default_acts(cell_kind cell) {
    return cell == CELL_RNN ? dflt_rnn : cell == CELL_GRU ? dflt_gru : dflt_lstm;
}

/* Load-time validation so a bad model fails when loaded, not per request. */
static ml_status init_common(const ml_node *node, cell_kind cell) {
    int dirs = 1, layout = 0;
    bool rev = false;
    ML_TRY(parse_direction(node, &dirs, &rev, &layout));
    rnn_act acts[6];
    return rnn_parse_activations(node, dirs, cell_acts[cell], default_acts(cell), acts);
}

static ml_status init_rnn(const ml_node *node, void **state) {
    *state = NULL;
    return init_common(node, CELL_RNN);
}
static ml_status init_gru(const ml_node *node, void **state) {
    *state = NULL;
    return init_common(node, CELL_GRU);
}
static ml_status init_lstm(const ml_node *node, void **state) {
    *state = NULL;
    return init_common(node, CELL_LSTM);
}

static ml_status run_rnn_common(ml_kernel_ctx *ctx, cell_kind cell) {
    const ml_node *node = ctx->node;
    const ml_tensor *X, *W, *R;
    ML_TRY(ml_require_input(ctx, 0, &X));
    ML_TRY(ml_require_input(ctx, 1, &W));
    ML_TRY(ml_require_input(ctx, 2, &R));
    const ml_tensor *Bt = ml_input(ctx, 3), *L = ml_input(ctx, 4), *H0 = ml_input(ctx, 5);
    const ml_tensor *C0 = cell == CELL_LSTM ? ml_input(ctx, 6) : NULL;
    const ml_tensor *Pt = cell == CELL_LSTM ? ml_input(ctx, 7) : NULL;
    if (!misc_is_float_type(X->dtype) || W->dtype != X->dtype || R->dtype != X->dtype)
        return ml_node_error(
            node, ML_ERR_INVALID_ARGUMENT, "X, W and R must share one float type (got %s, %s, %s)",
            ml_dtype_name(X->dtype), ml_dtype_name(W->dtype), ml_dtype_name(R->dtype));
    int dirs = 1, layout = 0;
    bool rev = false;
    ML_TRY(parse_direction(node, &dirs, &rev, &layout));
    if (X->rank != 3)
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT, "X must have rank 3, got %d", X->rank);
    if (W->rank != 3 || R->rank != 3)
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT, "W and R must have rank 3");
    const int64_t G = cell_gates[cell];
    int64_t seq = layout ? X->dims[1] : X->dims[0], batch = layout ? X->dims[0] : X->dims[1];
    int64_t in = X->dims[2], hid = R->dims[2];
    int64_t hs = ml_attr_int(node, "hidden_size", hid);
    if (hs != hid)
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                             "hidden_size %lld does not match R's last dim %lld", (long long)hs,
                             (long long)hid);
    int64_t wd[3] = {dirs, G * hid, in}, rd[3] = {dirs, G * hid, hid}, bd[2] = {dirs, 2 * G * hid};
    int64_t hd[3] = {layout ? batch : dirs, layout ? dirs : batch, hid}, pd[2] = {dirs, 3 * hid};
    ML_TRY(check_shape(node, W, "W", 3, wd));
    ML_TRY(check_shape(node, R, "R", 3, rd));
    if (Bt) ML_TRY(check_shape(node, Bt, "B", 2, bd));
    if (H0) ML_TRY(check_shape(node, H0, "initial_h", 3, hd));
    if (C0) ML_TRY(check_shape(node, C0, "initial_c", 3, hd));
    if (Pt) ML_TRY(check_shape(node, Pt, "P", 2, pd));
    const ml_tensor *opt[] = {Bt, H0, C0, Pt};
    for (int i = 0; i < 4; i++)
        if (opt[i] && opt[i]->dtype != X->dtype)
            return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                                 "B, initial_h, initial_c and P must have X's type %s",
                                 ml_dtype_name(X->dtype));

    rnn_job j = {.cell = cell, .dirs = dirs, .seq = seq, .batch = batch, .in = in, .hid = hid};
    j.clip = ml_attr_float(node, "clip", 0.0f);
    j.input_forget = ml_attr_int(node, "input_forget", 0) != 0;
    j.lbr = ml_attr_int(node, "linear_before_reset", 0) != 0;
    ML_TRY(rnn_parse_activations(node, dirs, cell_acts[cell], default_acts(cell), j.acts));

    /* bound every buffer size (X may be empty while seq*batch is huge) */
    int64_t work_dims[3] = {seq + 1, batch + 1, G * hid + 1}, y_dims[4] = {seq, dirs, batch, hid};
    size_t n_chk;
    if (!ml_shape_numel(3, work_dims, &n_chk) || !ml_shape_numel(4, y_dims, &n_chk) ||
        n_chk > ((size_t)1 << 34) || seq * batch > INT32_MAX || G * hid > INT32_MAX ||
        in > INT32_MAX || (seq * batch) * (G * hid) > ((int64_t)1 << 34))
        return ml_node_error(node, ML_ERR_RESOURCE_EXHAUSTED,
                             "sequence %lld x batch %lld x hidden %lld is too large",
                             (long long)seq, (long long)batch, (long long)hid);
    /* outputs */
    int64_t ydims[4] = {seq, dirs, batch, hid}, ydims1[4] = {batch, seq, dirs, hid};
    ml_tensor *Y = NULL, *Yh = NULL, *Yc = NULL;
    if (ml_output_wanted(ctx, 0))
        ML_TRY(ml_output_tensor(ctx, 0, X->dtype, 4, layout ? ydims1 : ydims, &Y));
    if (ml_output_wanted(ctx, 1)) ML_TRY(ml_output_tensor(ctx, 1, X->dtype, 3, hd, &Yh));
    if (cell == CELL_LSTM && ml_output_wanted(ctx, 2))
        ML_TRY(ml_output_tensor(ctx, 2, X->dtype, 3, hd, &Yc));

    size_t n_x = (size_t)seq * batch * in, n_y = (size_t)seq * dirs * batch * hid;
    size_t n_h = (size_t)dirs * batch * hid, GH = (size_t)G * hid;
    size_t n_work =
        (size_t)seq * batch * GH + 2 * (size_t)batch * GH + 2 * (size_t)batch * hid + GH;
    /* X, W, R, B, P, initial_h, initial_c: borrowed or converted */
    const ml_tensor *src[7] = {X, W, R, Bt, Pt, H0, C0};
    const float *v[7] = {0};
    float *own[7] = {0};
    /* Y is only materialised when a consumer wants it */
    float *yf = Y ? calloc(n_y + 1, sizeof(float)) : NULL;
    float *yhf = malloc((n_h + 1) * sizeof(float));
    float *ycf = malloc((n_h + 1) * sizeof(float));
    /* one scratch area per direction: both directions may run at once */
    float *work = malloc(((size_t)dirs * (n_work + 1)) * sizeof(float));
    size_t n_scratch = n_x > n_y ? n_x : n_y;
    if (n_h > n_scratch) n_scratch = n_h;
    float *scratch = malloc((n_scratch + 1) * sizeof(float));
    int64_t *lens = malloc(((size_t)batch + 1) * sizeof(int64_t));
    ml_status st = ML_STATUS_OK;
    if ((Y && !yf) || !yhf || !ycf || !work || !scratch || !lens) {
        st = ml_node_error(node, ML_ERR_OUT_OF_MEMORY, "out of memory for a %lldx%lldx%lld input",
                           (long long)seq, (long long)batch, (long long)hid);
        goto done;
    }
    for (int i = 0; i < 7; i++) {
        /* layout 1 transposes X and the initial states in place */
        bool writable = layout && (i == 0 || i == 5 || i == 6);
        if (src[i] && (st = load_input(ctx, src[i], writable, &v[i], &own[i]))) goto done;
    }
    if (layout) {
        size_t sizes[7] = {n_x, 0, 0, 0, 0, n_h, n_h};
        int64_t a0[7] = {batch, 0, 0, 0, 0, batch, batch}, a1[7] = {seq, 0, 0, 0, 0, dirs, dirs};
        int64_t inner[7] = {in, 0, 0, 0, 0, hid, hid};
        for (int i = 0; i < 7; i++) {
            if (!own[i] || !sizes[i]) continue;
            swap01(own[i], scratch, a0[i], a1[i], inner[i]);
            memcpy(own[i], scratch, sizes[i] * sizeof(float));
        }
    }
    for (int64_t b = 0; b < batch; b++) {
        lens[b] = L ? misc_get_i64(L, (size_t)b) : seq;
        if (lens[b] < 0 || lens[b] > seq) {
            st = ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                               "sequence_lens[%lld] = %lld is outside [0, %lld]", (long long)b,
                               (long long)lens[b], (long long)seq);
            goto done;
        }
    }
    j.x = v[0], j.w = v[1], j.r = v[2], j.b = v[3], j.p = v[4], j.h0 = v[5], j.c0 = v[6];
    j.lens = lens;
    j.y = yf, j.yh = yhf, j.yc = ycf;
    dir_args da = {&j, rev, work, n_work + 1};
    /* concurrent cblas calls only pay off when OpenBLAS itself is single
     * threaded; otherwise its own threads already share the cores */
    bool parallel = dirs > 1 && openblas_get_num_threads() <= 1;
    ml_parallel_for(parallel ? ctx->pool : NULL, (size_t)dirs, 1, run_directions, &da);

    if (Y) {
        if (layout) { /* [seq, dirs*batch... ] -> [batch, seq, dirs, hid] */
            for (int64_t t = 0; t < seq; t++)
                for (int d = 0; d < dirs; d++)
                    for (int64_t b = 0; b < batch; b++)
                        memcpy(scratch + ((b * seq + t) * dirs + d) * hid,
                               yf + ((t * dirs + d) * batch + b) * hid,
                               (size_t)hid * sizeof(float));
            misc_from_f32(Y, scratch, n_y);
        } else {
            misc_from_f32(Y, yf, n_y);
        }
    }
    ml_tensor *hout[2] = {Yh, Yc};
    float *hsrc[2] = {yhf, ycf};
    for (int k = 0; k < 2; k++) {
        if (!hout[k]) continue;
        if (layout) {
            swap01(hsrc[k], scratch, dirs, batch, hid);
            misc_from_f32(hout[k], scratch, n_h);
        } else {
            misc_from_f32(hout[k], hsrc[k], n_h);
        }
    }
done:
    for (int i = 0; i < 7; i++) free(own[i]);
    free(yf), free(yhf), free(ycf), free(work), free(scratch), free(lens);
    return st;
}

static ml_status run_rnn(ml_kernel_ctx *ctx) {
    return run_rnn_common(ctx, CELL_RNN);
}
static ml_status run_gru(ml_kernel_ctx *ctx) {
    return run_rnn_common(ctx, CELL_GRU);
}
static ml_status run_lstm(ml_kernel_ctx *ctx) {
    return run_rnn_common(ctx, CELL_LSTM);
}

const ml_kernel ml_kernels_rnn[] = {
    {"", "RNN", 1, 0, init_rnn, NULL, run_rnn},
    {"", "GRU", 1, 0, init_gru, NULL, run_gru},
    {"", "LSTM", 1, 0, init_lstm, NULL, run_lstm},
    {0},
};
