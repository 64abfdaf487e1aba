/* Einsum: numpy-style equation (explicit "->" or implicit output, "..."
 * broadcasting, repeated labels for diagonals). Two-operand float/double
 * contractions without diagonals run as permute + batched GEMM; everything
 * else runs a generic nested loop in double (floats) or int64 (integers). */
#include <stdlib.h>
#include <string.h>

#include "ops/linalg_internal.h"
#include "ops/nn_util.h"

#define EIN_LETTERS 52
#define EIN_MAX_LABELS (EIN_LETTERS + ML_MAX_RANK)
#define EIN_MAX_INPUTS 16
#define EIN_MAX_WORK ((int64_t)1 << 36)

typedef struct ein_term {
    int n;
    int lab[ML_MAX_RANK];
} ein_term;

/* Letters numbered in ASCII order (A-Z then a-z) so implicit output order
 * matches numpy's. */
static int letter_id(char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return 26 + (c - 'a');
    return -1;
}

typedef struct ein_plan {
    int n_in;
    ein_term in[EIN_MAX_INPUTS];
    ein_term out;
    int64_t size[EIN_MAX_LABELS];
    int ell_rank;
} ein_plan;

/* Parses one term; ell_dims is the number of dims "..." stands for in it. */
static ml_status parse_term(const ml_node *node, const char *s, size_t len, int rank, ein_term *t,
                            int *ell_dims, bool *has_ell) {
    int letters = 0;
    *has_ell = false;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '.') {
            if (*has_ell || i + 2 >= len + 0 || s[i + 1] != '.' || s[i + 2] != '.')
                return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                                     "equation term '%.*s' has a malformed or repeated '...'",
                                     (int)len, s);
            *has_ell = true;
            i += 2;
        } else if (letter_id(s[i]) >= 0) {
            letters++;
        } else {
            return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                                 "equation term '%.*s' has invalid character '%c'", (int)len, s,
                                 s[i]);
        }
    }
    if (rank >= 0) {
        if ((!*has_ell && letters != rank) || (*has_ell && letters > rank))
            return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                                 "equation term '%.*s' does not match an input of rank %d",
                                 (int)len, s, rank);
        *ell_dims = rank - letters;
    }
    if (letters + (*has_ell ? *ell_dims : 0) > ML_MAX_RANK)
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT, "equation term '%.*s' is too long",
                             (int)len, s);
    return ML_STATUS_OK;
}

/* Fills t's labels from term text; "..." maps to the last ell_dims of the
 * ell_rank shared ellipsis labels. */
static void fill_term(const char *s, size_t len, int ell_dims, int ell_rank, ein_term *t) {
    t->n = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '.') {
            for (int j = 0; j < ell_dims; j++)
                t->lab[t->n++] = EIN_LETTERS + (ell_rank - ell_dims) + j;
            i += 2;
        } else {
            t->lab[t->n++] = letter_id(s[i]);
        }
    }
}

static ml_status ein_parse(const ml_node *node, const char *eq_in, size_t n_in,
                           const ml_tensor *const *x, ein_plan *p) {
    memset(p, 0, sizeof *p);
    char eq[512];
    size_t n = 0;
    for (const char *c = eq_in; *c; c++) {
        if (*c == ' ') continue;
        if (n + 1 >= sizeof eq)
            return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                                 "equation is longer than %zu characters", sizeof eq - 1);
        eq[n++] = *c;
    }
    eq[n] = '\0';
    char *arrow = strstr(eq, "->");
    size_t lhs_len = arrow ? (size_t)(arrow - eq) : n;
    if (n_in > EIN_MAX_INPUTS)
        return ml_node_error(node, ML_ERR_UNSUPPORTED, "more than %d inputs", EIN_MAX_INPUTS);
    p->n_in = (int)n_in;
    const char *starts[EIN_MAX_INPUTS];
    size_t lens[EIN_MAX_INPUTS];
    int ell_dims[EIN_MAX_INPUTS];
    size_t terms = 0, start = 0;
    for (size_t i = 0; i <= lhs_len; i++) {
        if (i == lhs_len || eq[i] == ',') {
            if (terms >= n_in)
                return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                                     "equation '%s' has more terms than the %zu inputs", eq, n_in);
            starts[terms] = eq + start;
            lens[terms] = i - start;
            terms++;
            start = i + 1;
        }
    }
    if (terms != n_in)
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                             "equation '%s' has %zu terms for %zu inputs", eq, terms, n_in);
    p->ell_rank = 0;
    for (size_t i = 0; i < n_in; i++) {
        bool he;
        ell_dims[i] = 0;
        ML_TRY(parse_term(node, starts[i], lens[i], x[i]->rank, &p->in[i], &ell_dims[i], &he));
        if (ell_dims[i] > p->ell_rank) p->ell_rank = ell_dims[i];
    }
    for (int l = 0; l < EIN_MAX_LABELS; l++) p->size[l] = -1;
    int count[EIN_MAX_LABELS] = {0};
    for (size_t i = 0; i < n_in; i++) {
        fill_term(starts[i], lens[i], ell_dims[i], p->ell_rank, &p->in[i]);
        for (int a = 0; a < p->in[i].n; a++) {
            int l = p->in[i].lab[a];
            int64_t d = x[i]->dims[a];
            count[l]++;
            if (p->size[l] < 0 || p->size[l] == 1)
                p->size[l] = d;
            else if (d != p->size[l] && d != 1)
                return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                                     "label of input %zu axis %d has size %lld but %lld elsewhere",
                                     i, a, (long long)d, (long long)p->size[l]);
        }
    }
    if (arrow) {
        const char *o = arrow + 2;
        size_t olen = strlen(o);
        bool he;
        int ed = p->ell_rank;
        ML_TRY(parse_term(node, o, olen, -1, &p->out, &ed, &he));
        fill_term(o, olen, p->ell_rank, p->ell_rank, &p->out);
        bool seen[EIN_MAX_LABELS] = {false};
        for (int a = 0; a < p->out.n; a++) {
            int l = p->out.lab[a];
            if (seen[l] || count[l] == 0)
                return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                                     "output of '%s' repeats a label or names one no input has",
                                     eq);
            seen[l] = true;
        }
    } else {
        p->out.n = 0;
        for (int j = 0; j < p->ell_rank; j++) p->out.lab[p->out.n++] = EIN_LETTERS + j;
        for (int l = 0; l < EIN_LETTERS; l++)
            if (count[l] == 1) {
                if (p->out.n >= ML_MAX_RANK)
                    return ml_node_error(node, ML_ERR_INVALID_ARGUMENT, "output rank is too large");
                p->out.lab[p->out.n++] = l;
            }
    }
    return ML_STATUS_OK;
}

/* ---- generic loop ---- */

typedef struct ein_loop {
    int n_in;
    int n_out_labels, n_sum_labels;
    int64_t out_size[ML_MAX_RANK];
    int64_t sum_size[EIN_MAX_LABELS];
    int64_t in_out_stride[EIN_MAX_INPUTS][ML_MAX_RANK];
    int64_t in_sum_stride[EIN_MAX_INPUTS][EIN_MAX_LABELS];
    int64_t n_sum;
} ein_loop;

static void ein_loop_init(const ein_plan *p, const ml_tensor *const *x, ein_loop *L) {
    memset(L, 0, sizeof *L);
    L->n_in = p->n_in;
    bool in_out[EIN_MAX_LABELS] = {false};
    for (int a = 0; a < p->out.n; a++) in_out[p->out.lab[a]] = true;
    int sum_labels[EIN_MAX_LABELS], ns = 0;
    bool used[EIN_MAX_LABELS] = {false};
    for (int i = 0; i < p->n_in; i++)
        for (int a = 0; a < p->in[i].n; a++) used[p->in[i].lab[a]] = true;
    for (int l = 0; l < EIN_MAX_LABELS; l++)
        if (used[l] && !in_out[l]) sum_labels[ns++] = l;
    L->n_out_labels = p->out.n;
    L->n_sum_labels = ns;
    L->n_sum = 1;
    for (int s = 0; s < ns; s++) L->sum_size[s] = p->size[sum_labels[s]];
    L->n_sum = nn_prod(ns, L->sum_size);
    for (int a = 0; a < p->out.n; a++) L->out_size[a] = p->size[p->out.lab[a]];
    for (int i = 0; i < p->n_in; i++) {
        int64_t stride = 1;
        for (int a = p->in[i].n - 1; a >= 0; a--) {
            int l = p->in[i].lab[a];
            int64_t d = x[i]->dims[a];
            int64_t st = d == 1 ? 0 : stride; /* size-1 dims broadcast */
            for (int o = 0; o < p->out.n; o++)
                if (p->out.lab[o] == l) L->in_out_stride[i][o] += st;
            for (int s = 0; s < ns; s++)
                if (sum_labels[s] == l) L->in_sum_stride[i][s] += st;
            stride *= d;
        }
    }
}

#define EIN_GENERIC(T, ACC)                                                                        \
    static void ein_generic_##T(const ein_loop *L, const T *const *xs, T *y, int64_t n_out) {      \
        int64_t oidx[ML_MAX_RANK] = {0};                                                           \
        for (int64_t o = 0; o < n_out; o++) {                                                      \
            int64_t base[EIN_MAX_INPUTS];                                                          \
            for (int i = 0; i < L->n_in; i++) {                                                    \
                base[i] = 0;                                                                       \
                for (int a = 0; a < L->n_out_labels; a++)                                          \
                    base[i] += oidx[a] * L->in_out_stride[i][a];                                   \
            }                                                                                      \
            ACC acc = 0;                                                                           \
            int64_t sidx[EIN_MAX_LABELS] = {0};                                                    \
            int64_t off[EIN_MAX_INPUTS];                                                           \
            for (int i = 0; i < L->n_in; i++) off[i] = base[i];                                    \
            for (int64_t s = 0; s < L->n_sum; s++) {                                               \
                ACC prod = 1;                                                                      \
                for (int i = 0; i < L->n_in; i++) prod *= (ACC)xs[i][off[i]];                      \
                acc += prod;                                                                       \
                for (int d = L->n_sum_labels - 1; d >= 0; d--) {                                   \
                    for (int i = 0; i < L->n_in; i++) off[i] += L->in_sum_stride[i][d];            \
                    if (++sidx[d] < L->sum_size[d]) break;                                         \
                    for (int i = 0; i < L->n_in; i++) off[i] -= sidx[d] * L->in_sum_stride[i][d];  \
                    sidx[d] = 0;                                                                   \
                }                                                                                  \
            }                                                                                      \
            y[o] = (T)acc;                                                                         \
            for (int d = L->n_out_labels - 1; d >= 0; d--) {                                       \
                if (++oidx[d] < L->out_size[d]) break;                                             \
                oidx[d] = 0;                                                                       \
            }                                                                                      \
        }                                                                                          \
    }
EIN_GENERIC(double, double)
EIN_GENERIC(int64_t, uint64_t)

/* ---- permute + GEMM path ---- */

/* dst[...] = src transposed so that dst axis i is src axis perm[i]. */
#define PERMUTE(T)                                                                                 \
    static void permute_##T(const T *src, int rank, const int64_t *dims, const int *perm,          \
                            T *dst) {                                                              \
        int64_t sstride[ML_MAX_RANK], st = 1;                                                      \
        for (int i = rank - 1; i >= 0; i--) {                                                      \
            sstride[i] = st;                                                                       \
            st *= dims[i];                                                                         \
        }                                                                                          \
        int64_t total = st, idx[ML_MAX_RANK] = {0}, off = 0;                                       \
        for (int64_t o = 0; o < total; o++) {                                                      \
            dst[o] = src[off];                                                                     \
            for (int d = rank - 1; d >= 0; d--) {                                                  \
                off += sstride[perm[d]];                                                           \
                if (++idx[d] < dims[perm[d]]) break;                                               \
                off -= idx[d] * sstride[perm[d]];                                                  \
                idx[d] = 0;                                                                        \
            }                                                                                      \
        }                                                                                          \
    }
PERMUTE(float)
PERMUTE(double)

static int axis_of(const ein_term *t, int label) {
    for (int q = 0; q < t->n; q++)
        if (t->lab[q] == label) return q;
    return 0;
}

static bool is_identity(int n, const int *perm) {
    for (int i = 0; i < n; i++)
        if (perm[i] != i) return false;
    return true;
}

/* Tries the GEMM path; *done false when the equation does not fit it. */
static ml_status ein_gemm(ml_kernel_ctx *ctx, const ein_plan *p, const ml_tensor *a,
                          const ml_tensor *b, ml_tensor *y, bool *done) {
    *done = false;
    bool dbl = a->dtype == ML_DOUBLE;
    if (!(a->dtype == ML_FLOAT || dbl) || p->n_in != 2) return ML_STATUS_OK;
    int where[EIN_MAX_LABELS] = {0}; /* bit0 A, bit1 B, bit2 out */
    for (int k = 0; k < 2; k++) {
        const ein_term *t = &p->in[k];
        const ml_tensor *x = k ? b : a;
        for (int i = 0; i < t->n; i++) {
            if (where[t->lab[i]] & (1 << k)) return ML_STATUS_OK;      /* diagonal */
            if (x->dims[i] != p->size[t->lab[i]]) return ML_STATUS_OK; /* broadcast */
            where[t->lab[i]] |= 1 << k;
        }
    }
    for (int i = 0; i < p->out.n; i++) where[p->out.lab[i]] |= 4;
    int lb[ML_MAX_RANK], lm[ML_MAX_RANK], ln[ML_MAX_RANK], lk[ML_MAX_RANK];
    int nb = 0, nm = 0, nn = 0, nk = 0;
    int64_t B = 1, M = 1, N = 1, K = 1;
    for (int i = 0; i < p->out.n; i++) { /* batch/M/N in output order */
        int l = p->out.lab[i];
        if (where[l] == 7) {
            lb[nb++] = l;
            B *= p->size[l];
        } else if (where[l] == 5) {
            lm[nm++] = l;
            M *= p->size[l];
        } else if (where[l] == 6) {
            ln[nn++] = l;
            N *= p->size[l];
        }
    }
    for (int i = 0; i < p->in[0].n; i++) {
        int l = p->in[0].lab[i];
        if (where[l] == 3) {
            lk[nk++] = l;
            K *= p->size[l];
        } else if (where[l] == 1 || where[l] == 2)
            return ML_STATUS_OK; /* pure reduction */
    }
    for (int i = 0; i < p->in[1].n; i++)
        if (where[p->in[1].lab[i]] == 2) return ML_STATUS_OK;
    if (M > INT32_MAX || N > INT32_MAX || K > INT32_MAX) return ML_STATUS_OK; /* BLAS ints */
    /* permutations: A -> [b m k], B -> [b k n], result [b m n] -> out */
    int pa[ML_MAX_RANK], pb[ML_MAX_RANK], po[ML_MAX_RANK], r = 0;
    int mid[3 * ML_MAX_RANK], nmid = 0;
    for (int i = 0; i < nb; i++) pa[r++] = axis_of(&p->in[0], lb[i]);
    for (int i = 0; i < nm; i++) pa[r++] = axis_of(&p->in[0], lm[i]);
    for (int i = 0; i < nk; i++) pa[r++] = axis_of(&p->in[0], lk[i]);
    r = 0;
    for (int i = 0; i < nb; i++) pb[r++] = axis_of(&p->in[1], lb[i]);
    for (int i = 0; i < nk; i++) pb[r++] = axis_of(&p->in[1], lk[i]);
    for (int i = 0; i < nn; i++) pb[r++] = axis_of(&p->in[1], ln[i]);
    for (int i = 0; i < nb; i++) mid[nmid++] = lb[i];
    for (int i = 0; i < nm; i++) mid[nmid++] = lm[i];
    for (int i = 0; i < nn; i++) mid[nmid++] = ln[i];
    ein_term midt = {.n = nmid};
    memcpy(midt.lab, mid, sizeof(int) * (size_t)nmid);
    int64_t middims[ML_MAX_RANK];
    for (int i = 0; i < nmid; i++) middims[i] = p->size[mid[i]];
    for (int i = 0; i < p->out.n; i++) po[i] = axis_of(&midt, p->out.lab[i]);
    size_t esz = dbl ? sizeof(double) : sizeof(float);
    size_t na = ml_tensor_numel(a), nbe = ml_tensor_numel(b), ny = ml_tensor_numel(y);
    void *ta = NULL, *tb = NULL, *ty = NULL;
    const void *A = a->data, *Bd = b->data;
    void *Y = y->data;
    bool ida = is_identity(a->rank, pa), idb = is_identity(b->rank, pb),
         idy = is_identity(p->out.n, po);
    /* operands already laid out as [b, k, m] / [b, n, k] need no copy: GEMM
     * reads them transposed */
    int qa[ML_MAX_RANK], qb[ML_MAX_RANK];
    r = 0;
    for (int i = 0; i < nb; i++) qa[r++] = axis_of(&p->in[0], lb[i]);
    for (int i = 0; i < nk; i++) qa[r++] = axis_of(&p->in[0], lk[i]);
    for (int i = 0; i < nm; i++) qa[r++] = axis_of(&p->in[0], lm[i]);
    r = 0;
    for (int i = 0; i < nb; i++) qb[r++] = axis_of(&p->in[1], lb[i]);
    for (int i = 0; i < nn; i++) qb[r++] = axis_of(&p->in[1], ln[i]);
    for (int i = 0; i < nk; i++) qb[r++] = axis_of(&p->in[1], lk[i]);
    bool trans_a = !ida && is_identity(a->rank, qa), trans_b = !idb && is_identity(b->rank, qb);
    if (trans_a) ida = true;
    if (trans_b) idb = true;
    if (!ida) ta = malloc(na * esz + 1);
    if (!idb) tb = malloc(nbe * esz + 1);
    if (!idy) ty = malloc(ny * esz + 1);
    if ((!ida && !ta) || (!idb && !tb) || (!idy && !ty)) {
        free(ta);
        free(tb);
        free(ty);
        return ml_node_error(ctx->node, ML_ERR_OUT_OF_MEMORY, "no memory for einsum transposes");
    }
    if (dbl) {
        if (ta) permute_double(a->data, a->rank, a->dims, pa, ta);
        if (tb) permute_double(b->data, b->rank, b->dims, pb, tb);
    } else {
        if (ta) permute_float(a->data, a->rank, a->dims, pa, ta);
        if (tb) permute_float(b->data, b->rank, b->dims, pb, tb);
    }
    if (ta) A = ta;
    if (tb) Bd = tb;
    if (ty) Y = ty;
    nn_matmul_plan plan = {.M = M,
                           .K = K,
                           .N = N,
                           .batch_rank = 1,
                           .batch_dims = {B},
                           .a_bstride = {1},
                           .b_bstride = {1},
                           .n_batch = B,
                           .a_batches = B,
                           .b_batches = B,
                           .trans_a = trans_a,
                           .trans_b = trans_b};
    nn_matmul_blas(ctx->pool, &plan, A, Bd, Y, dbl);
    if (ty) {
        if (dbl)
            permute_double(ty, nmid, middims, po, y->data);
        else
            permute_float(ty, nmid, middims, po, y->data);
    }
    free(ta);
    free(tb);
    free(ty);
    *done = true;
    return ML_STATUS_OK;
}

ml_status nn_einsum_run(ml_kernel_ctx *ctx) {
    const ml_node *node = ctx->node;
    const char *eq = ml_attr_string(node, "equation", NULL);
    if (!eq)
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT, "attribute 'equation' is required");
    size_t n_in = ctx->n_inputs;
    if (n_in < 1 || n_in > EIN_MAX_INPUTS)
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT, "needs 1..%d inputs, got %zu",
                             EIN_MAX_INPUTS, n_in);
    const ml_tensor *x[EIN_MAX_INPUTS];
    for (size_t i = 0; i < n_in; i++) {
        ML_TRY(ml_require_input(ctx, i, &x[i]));
        if (x[i]->dtype != x[0]->dtype)
            return ml_node_error(node, ML_ERR_INVALID_ARGUMENT, "input %zu is %s but input 0 is %s",
                                 i, ml_dtype_name(x[i]->dtype), ml_dtype_name(x[0]->dtype));
    }
    ml_dtype dt = x[0]->dtype;
    if (dt == ML_STRING || dt == ML_BOOL || dt == ML_COMPLEX64 || dt == ML_COMPLEX128)
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT, "unsupported input type %s",
                             ml_dtype_name(dt));
    ein_plan *p = malloc(sizeof *p);
    ein_loop *L = malloc(sizeof *L);
    if (!p || !L) {
        free(p);
        free(L);
        return ml_node_error(node, ML_ERR_OUT_OF_MEMORY, "no memory for the einsum plan");
    }
    ml_status st = ein_parse(node, eq, n_in, x, p);
    ml_tensor *y = NULL;
    int64_t odims[ML_MAX_RANK];
    if (!st) {
        for (int a = 0; a < p->out.n; a++) odims[a] = p->size[p->out.lab[a]];
        st = ml_output_tensor(ctx, 0, dt, p->out.n, odims, &y);
    }
    bool done = false;
    if (!st) st = ein_gemm(ctx, p, x[0], n_in > 1 ? x[1] : NULL, y, &done);
    if (!st && !done) {
        ein_loop_init(p, x, L);
        int64_t n_out = (int64_t)ml_tensor_numel(y);
        /* the generic loop costs n_out * n_sum steps: refuse absurd work */
        if (L->n_sum > 0 && n_out > (EIN_MAX_WORK / L->n_sum)) {
            free(p);
            free(L);
            return ml_node_error(node, ML_ERR_RESOURCE_EXHAUSTED,
                                 "equation '%s' needs more than 2^36 multiply-adds", eq);
        }
        bool is_int = ml_dtype_is_integer(dt);
        size_t esz = is_int ? sizeof(int64_t) : sizeof(double);
        void *bufs[EIN_MAX_INPUTS] = {0};
        void *ybuf = malloc((size_t)n_out * esz + 1);
        bool ok = ybuf != NULL;
        for (size_t i = 0; i < n_in && ok; i++) {
            size_t n = ml_tensor_numel(x[i]);
            bufs[i] = malloc(n * esz + 1);
            if (!bufs[i]) {
                ok = false;
                break;
            }
            for (size_t e = 0; e < n; e++) {
                if (is_int) {
                    int64_t v;
                    switch (dt) {
                    case ML_INT64:
                        v = ((const int64_t *)x[i]->data)[e];
                        break;
                    case ML_UINT64:
                        v = (int64_t)((const uint64_t *)x[i]->data)[e];
                        break;
                    default:
                        v = (int64_t)ml_tensor_get_f64(x[i], e);
                    }
                    ((int64_t *)bufs[i])[e] = v;
                } else {
                    ((double *)bufs[i])[e] = ml_tensor_get_f64(x[i], e);
                }
            }
        }
        if (!ok) {
            st = ml_node_error(node, ML_ERR_OUT_OF_MEMORY, "no memory for einsum operands");
        } else if (is_int) {
            ein_generic_int64_t(L, (const int64_t *const *)bufs, ybuf, n_out);
            for (int64_t o = 0; o < n_out; o++) {
                int64_t v = ((int64_t *)ybuf)[o];
                if (dt == ML_INT64)
                    ((int64_t *)y->data)[o] = v;
                else if (dt == ML_UINT64)
                    ((uint64_t *)y->data)[o] = (uint64_t)v;
                else
                    ml_tensor_set_f64(y, (size_t)o, (double)v);
            }
        } else {
            ein_generic_double(L, (const double *const *)bufs, ybuf, n_out);
            for (int64_t o = 0; o < n_out; o++)
                ml_tensor_set_f64(y, (size_t)o, ((double *)ybuf)[o]);
        }
        for (size_t i = 0; i < n_in; i++) free(bufs[i]);
        free(ybuf);
    }
    free(p);
    free(L);
    return st;
}
