/* TfIdfVectorizer (opset 9): counts the pool's n-grams (optionally with
 * skips) in each row of an int or string input.
 *
 * init turns the pool into per-length sorted n-gram tables (strings are
 * first mapped to integer ids) so each lookup is a binary search. As in
 * onnxruntime, unigrams are counted once, not once per skip distance. */
#include <stdlib.h>
#include <string.h>

#include "ops/misc_internal.h"
#include "ops/misc_util.h"

typedef struct str_id {
    const char *data;
    size_t len;
    int64_t id;
} str_id;

typedef struct gram_table {
    size_t start;  /* offset of the first n-gram in ids */
    size_t count;  /* number of n-grams of this length */
    size_t base;   /* global n-gram index of the first one */
    size_t *order; /* n-gram positions sorted by content */
} gram_table;

typedef struct tfidf_state {
    int min_n, max_n, n_lens, max_skip, mode; /* mode: 0 TF, 1 IDF, 2 TFIDF */
    int64_t out_size;
    bool strings;
    int64_t *ids;   /* the pool as integers */
    str_id *strtab; /* sorted pool strings (string pools only) */
    size_t n_strs;
    gram_table *tables; /* n_lens entries, index n-1 */
    const int64_t *ngram_indexes;
    size_t n_indexes;
    float *col_weights; /* out_size: the weight of the n-gram counted in each column */
} tfidf_state;

static int str_cmp(const char *a, size_t la, const char *b, size_t lb) {
    int c = memcmp(a, b, la < lb ? la : lb);
    return c ? c : (la < lb ? -1 : la > lb);
}

static int strid_cmp(const void *x, const void *y) {
    const str_id *a = x, *b = y;
    int c = str_cmp(a->data, a->len, b->data, b->len);
    return c ? c : (a->id < b->id ? -1 : a->id > b->id);
}

/* qsort has no context argument, so each element carries what its
 * comparison needs: the n-gram's tokens and length (no shared state). */
typedef struct gram_ref {
    const int64_t *p;
    size_t n, pos;
} gram_ref;

static int gram_cmp(const void *x, const void *y) {
    const gram_ref *a = x, *b = y;
    for (size_t i = 0; i < a->n; i++)
        if (a->p[i] != b->p[i]) return a->p[i] < b->p[i] ? -1 : 1;
    return 0;
}

void misc_destroy_tfidf(void *state) {
    tfidf_state *s = state;
    if (!s) return;
    if (s->tables)
        for (int i = 0; i < s->n_lens; i++) free(s->tables[i].order);
    free(s->tables);
    free(s->ids);
    free(s->strtab);
    free(s->col_weights);
    free(s);
}

ml_status misc_init_tfidf(const ml_node *node, void **state) {
    tfidf_state *s = calloc(1, sizeof *s);
    if (!s) return ml_node_error(node, ML_ERR_OUT_OF_MEMORY, "out of memory");
    ml_status st = ML_STATUS_OK;
    s->min_n = (int)ml_attr_int(node, "min_gram_length", 0);
    s->max_n = (int)ml_attr_int(node, "max_gram_length", 0);
    s->max_skip = (int)ml_attr_int(node, "max_skip_count", 0);
    const char *mode = ml_attr_string(node, "mode", "TF");
    s->mode = !strcmp(mode, "TF") ? 0 : !strcmp(mode, "IDF") ? 1 : !strcmp(mode, "TFIDF") ? 2 : -1;
    const int64_t *counts;
    size_t n_counts = ml_attr_ints(node, "ngram_counts", &counts);
    s->n_indexes = ml_attr_ints(node, "ngram_indexes", &s->ngram_indexes);
    const float *weights;
    size_t n_weights = ml_attr_floats(node, "weights", &weights);
    const int64_t *pool_i;
    const ml_str *pool_s;
    size_t n_pi = ml_attr_ints(node, "pool_int64s", &pool_i);
    size_t n_ps = ml_attr_strings(node, "pool_strings", &pool_s);
    s->strings = n_ps > 0;
    size_t n_pool = s->strings ? n_ps : n_pi;
    if (s->mode < 0) {
        st = ml_node_error(node, ML_ERR_INVALID_ARGUMENT, "mode '%s' must be TF, IDF or TFIDF",
                           mode);
        goto fail;
    }
    if (s->min_n < 1 || s->max_n < s->min_n || s->max_skip < 0 || (n_pi && n_ps) || n_counts == 0 ||
        n_counts > 64 || s->max_n > (int)n_counts + 64) {
        st = ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                           "need 1 <= min_gram_length <= max_gram_length, max_skip_count >= 0, "
                           "ngram_counts, and exactly one of pool_int64s/pool_strings");
        goto fail;
    }
    s->n_lens = (int)n_counts;
    s->ids = malloc((n_pool + 1) * sizeof(int64_t));
    s->tables = calloc(n_counts, sizeof(gram_table));
    if (!s->ids || !s->tables) goto oom;
    if (s->strings) {
        s->strtab = malloc((n_pool + 1) * sizeof(str_id));
        if (!s->strtab) goto oom;
        for (size_t i = 0; i < n_pool; i++)
            s->strtab[i] = (str_id){pool_s[i].data, pool_s[i].len, (int64_t)i};
        qsort(s->strtab, n_pool, sizeof(str_id), strid_cmp);
        /* duplicates share the id of their first occurrence */
        for (size_t i = 1; i < n_pool; i++)
            if (!str_cmp(s->strtab[i].data, s->strtab[i].len, s->strtab[i - 1].data,
                         s->strtab[i - 1].len))
                s->strtab[i].id = s->strtab[i - 1].id;
        for (size_t i = 0; i < n_pool; i++) s->ids[s->strtab[i].id] = s->strtab[i].id;
        for (size_t i = 0; i < n_pool; i++) {
            str_id key = {pool_s[i].data, pool_s[i].len, 0};
            /* find the canonical id of pool entry i */
            size_t lo = 0, hi = n_pool;
            while (lo < hi) {
                size_t mid = (lo + hi) / 2;
                if (str_cmp(s->strtab[mid].data, s->strtab[mid].len, key.data, key.len) < 0)
                    lo = mid + 1;
                else
                    hi = mid;
            }
            s->ids[i] = s->strtab[lo].id;
        }
        s->n_strs = n_pool;
    } else {
        memcpy(s->ids, pool_i, n_pool * sizeof(int64_t));
    }
    size_t base = 0;
    for (size_t k = 0; k < n_counts; k++) {
        size_t n = k + 1;
        size_t start = (size_t)counts[k], end = k + 1 < n_counts ? (size_t)counts[k + 1] : n_pool;
        if (counts[k] < 0 || start > end || end > n_pool || (end - start) % n) {
            st = ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                               "ngram_counts[%zu] = %lld does not split the pool into %zu-grams", k,
                               (long long)counts[k], n);
            goto fail;
        }
        gram_table *t = &s->tables[k];
        t->start = start, t->count = (end - start) / n, t->base = base;
        base += t->count;
        t->order = malloc((t->count + 1) * sizeof(size_t));
        gram_ref *refs = malloc((t->count + 1) * sizeof(gram_ref));
        if (!t->order || !refs) {
            free(refs);
            goto oom;
        }
        for (size_t i = 0; i < t->count; i++) refs[i] = (gram_ref){s->ids + start + i * n, n, i};
        qsort(refs, t->count, sizeof(gram_ref), gram_cmp);
        for (size_t i = 0; i < t->count; i++) t->order[i] = refs[i].pos;
        free(refs);
    }
    if (base != s->n_indexes) {
        st = ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                           "ngram_indexes has %zu entries but the pool holds %zu n-grams",
                           s->n_indexes, base);
        goto fail;
    }
    s->out_size = 0;
    for (size_t i = 0; i < s->n_indexes; i++) {
        if (s->ngram_indexes[i] < 0 || s->ngram_indexes[i] > ((int64_t)1 << 30)) {
            st = ml_node_error(node, ML_ERR_INVALID_ARGUMENT, "ngram_indexes[%zu] is invalid", i);
            goto fail;
        }
        if (s->ngram_indexes[i] + 1 > s->out_size) s->out_size = s->ngram_indexes[i] + 1;
    }
    /* weights[i] belongs to the i-th n-gram of the pool (like
     * ngram_indexes[i]), as onnxruntime reads it; store it per column */
    s->col_weights = malloc(((size_t)s->out_size + 1) * sizeof(float));
    if (!s->col_weights) goto oom;
    for (int64_t k = 0; k < s->out_size; k++) s->col_weights[k] = 1.0f;
    for (size_t i = 0; i < s->n_indexes && i < n_weights; i++)
        s->col_weights[s->ngram_indexes[i]] = weights[i];
    *state = s;
    return ML_STATUS_OK;
oom:
    st = ml_node_error(node, ML_ERR_OUT_OF_MEMORY, "out of memory");
fail:
    misc_destroy_tfidf(s);
    return st;
}

/* Global n-gram index of toks[0..n) (stride apart), or -1. */
static int64_t lookup(const tfidf_state *s, int n, const int64_t *toks, size_t stride) {
    if (n > s->n_lens) return -1;
    const gram_table *t = &s->tables[n - 1];
    size_t lo = 0, hi = t->count;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        const int64_t *g = s->ids + t->start + t->order[mid] * (size_t)n;
        int c = 0;
        for (int i = 0; i < n && !c; i++)
            if (g[i] != toks[(size_t)i * stride]) c = g[i] < toks[(size_t)i * stride] ? -1 : 1;
        if (c == 0) return (int64_t)(t->base + t->order[mid]);
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

static int64_t string_id(const tfidf_state *s, const ml_str *v) {
    size_t lo = 0, hi = s->n_strs;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = str_cmp(s->strtab[mid].data, s->strtab[mid].len, v->data, v->len);
        if (c == 0) return s->strtab[mid].id;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

ml_status misc_run_tfidf(ml_kernel_ctx *ctx) {
    const ml_node *node = ctx->node;
    const tfidf_state *s = node->state;
    if (!s) return ml_node_error(node, ML_ERR_INTERNAL, "node was not initialised");
    const ml_tensor *X;
    ML_TRY(ml_require_input(ctx, 0, &X));
    if (X->rank < 1 || X->rank > 2)
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                             "input must be [N] or [B,N], got rank %d", X->rank);
    if (s->strings != (X->dtype == ML_STRING) ||
        (!s->strings && X->dtype != ML_INT32 && X->dtype != ML_INT64))
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                             "input type %s does not match the pool (%s)", ml_dtype_name(X->dtype),
                             s->strings ? "strings" : "int32/int64");
    const int64_t B = X->rank == 2 ? X->dims[0] : 1, L = X->dims[X->rank - 1];
    int64_t od[2] = {B, s->out_size};
    ml_tensor *Y;
    if (X->rank == 2)
        ML_TRY(ml_output_tensor(ctx, 0, ML_FLOAT, 2, od, &Y));
    else
        ML_TRY(ml_output_tensor(ctx, 0, ML_FLOAT, 1, od + 1, &Y));
    float *y = Y->data;
    memset(y, 0, ml_tensor_numel(Y) * sizeof(float));
    size_t n_tok = (size_t)B * (size_t)L;
    int64_t *toks = malloc((n_tok + 1) * sizeof(int64_t));
    if (!toks) return ml_node_error(node, ML_ERR_OUT_OF_MEMORY, "out of memory");
    for (size_t i = 0; i < n_tok; i++)
        toks[i] = s->strings ? string_id(s, &((const ml_str *)X->data)[i]) : misc_get_i64(X, i);
    for (int64_t b = 0; b < B; b++) {
        const int64_t *row = toks + b * L;
        float *yr = y + b * s->out_size;
        int min_n = s->min_n;
        for (int64_t skip = 1; skip <= (int64_t)s->max_skip + 1; skip++) {
            for (int64_t p = 0; p < L; p++)
                for (int n = min_n; n <= s->max_n; n++) {
                    if (p + (int64_t)(n - 1) * skip >= L) break;
                    int64_t g = lookup(s, n, row + p, (size_t)skip);
                    if (g >= 0) yr[s->ngram_indexes[g]] += 1.0f;
                }
            if (min_n == 1) { /* unigrams do not depend on the skip */
                min_n = 2;
                if (min_n > s->max_n) break;
            }
        }
        if (s->mode != 0)
            for (int64_t k = 0; k < s->out_size; k++) {
                float w = s->col_weights[k];
                yr[k] = s->mode == 1 ? (yr[k] > 0 ? w : 0) : yr[k] * w;
            }
    }
    free(toks);
    return ML_STATUS_OK;
}
