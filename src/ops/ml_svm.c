/* SVMClassifier and SVMRegressor (libsvm semantics, as in the ONNX
 * reference): kernels LINEAR/POLY/RBF/SIGMOID, one-vs-one voting over
 * vectors_per_class, Platt probabilities (prob_a/prob_b) coupled with
 * libsvm's multiclass_probability, or the liblinear form when there are
 * no support vectors. */
#include <cblas.h>
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "ops/ml_internal.h"

enum { K_LINEAR, K_POLY, K_RBF, K_SIGMOID };

typedef struct svm_state {
    bool classifier;
    int kernel;
    float gamma, coef0, degree;
    float *sv;      /* [n_sv, c] owned */
    float *sv_sq;   /* [n_sv] squared norms of the support vectors (RBF) */
    size_t n_sv, c; /* c = 0 until known (linear mode: from coef) */
    float *coef;    /* owned */
    size_t n_coef;
    float *rho;
    size_t n_rho;
    float *prob_a, *prob_b;
    size_t n_prob;
    int64_t *start; /* [classes] first support vector of each class */
    int64_t *vpc;   /* [classes] support vectors per class */
    size_t classes;
    bool svc; /* support-vector mode (else liblinear) */
    bool one_class;
    ml_post post;
    ml_labels labels;
} svm_state;

void ml_svm_destroy(void *state) {
    svm_state *s = state;
    if (!s) return;
    free(s->sv);
    free(s->sv_sq);
    free(s->coef);
    free(s->rho);
    free(s->prob_a);
    free(s->prob_b);
    free(s->start);
    free(s->vpc);
    free(s);
}

static ml_status floats_attr(const ml_node *node, const char *name, float **out, size_t *n) {
    double *d;
    ML_TRY(ml_attr_reals(node, name, &d, n));
    *out = malloc(*n ? *n * sizeof **out : sizeof **out);
    if (!*out) {
        free(d);
        return ml_error(ML_ERR_OUT_OF_MEMORY, "attribute %s", name);
    }
    for (size_t i = 0; i < *n; i++) (*out)[i] = (float)d[i];
    free(d);
    return ML_STATUS_OK;
}

static ml_status svm_init(const ml_node *node, void **state, bool classifier) {
    svm_state *s = calloc(1, sizeof *s);
    if (!s) return ml_error(ML_ERR_OUT_OF_MEMORY, "SVM state");
    s->classifier = classifier;
    ml_status st = ML_STATUS_OK;
    const char *k = ml_attr_string(node, "kernel_type", "LINEAR");
    if (strcmp(k, "LINEAR") == 0)
        s->kernel = K_LINEAR;
    else if (strcmp(k, "POLY") == 0)
        s->kernel = K_POLY;
    else if (strcmp(k, "RBF") == 0)
        s->kernel = K_RBF;
    else if (strcmp(k, "SIGMOID") == 0)
        s->kernel = K_SIGMOID;
    else {
        st = ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                           "kernel_type '%s' is not one of LINEAR, POLY, RBF, SIGMOID", k);
        goto fail;
    }
    const float *kp;
    size_t nkp = ml_attr_floats(node, "kernel_params", &kp);
    if (nkp > 0) s->gamma = kp[0];
    if (nkp > 1) s->coef0 = kp[1];
    if (nkp > 2) s->degree = kp[2];
    size_t n_sv_floats, n_pb;
    if ((st = floats_attr(node, "support_vectors", &s->sv, &n_sv_floats)) ||
        (st = floats_attr(node, "coefficients", &s->coef, &s->n_coef)) ||
        (st = floats_attr(node, "rho", &s->rho, &s->n_rho)) ||
        (st = floats_attr(node, "prob_a", &s->prob_a, &s->n_prob)) ||
        (st = floats_attr(node, "prob_b", &s->prob_b, &n_pb)) ||
        (st = ml_parse_post_transform(node, &s->post)))
        goto fail;
    if (s->n_rho == 0) {
        st = ml_node_error(node, ML_ERR_INVALID_ARGUMENT, "the rho attribute is required");
        goto fail;
    }
    if (classifier) {
        if ((st =
                 ml_read_labels(node, "classlabels_ints", "classlabels_strings", true, &s->labels)))
            goto fail;
        s->classes = s->labels.n ? s->labels.n : 1;
        const int64_t *vpc;
        size_t nv = ml_attr_ints(node, "vectors_per_class", &vpc);
        int64_t total = 0;
        if (nv && nv != s->classes) {
            st = ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                               "vectors_per_class has %zu entries for %zu classes", nv, s->classes);
            goto fail;
        }
        s->start = calloc(s->classes, sizeof *s->start);
        s->vpc = calloc(s->classes, sizeof *s->vpc);
        if (!s->start || !s->vpc) {
            st = ml_error(ML_ERR_OUT_OF_MEMORY, "SVM classes");
            goto fail;
        }
        for (size_t i = 0; i < nv; i++) {
            if (vpc[i] < 0 || vpc[i] > INT32_MAX) {
                st = ml_node_error(node, ML_ERR_INVALID_ARGUMENT, "vectors_per_class[%zu] = %lld",
                                   i, (long long)vpc[i]);
                goto fail;
            }
            s->start[i] = total;
            s->vpc[i] = vpc[i];
            total += vpc[i];
        }
        s->n_sv = (size_t)total;
        s->svc = s->n_sv > 0;
        if (s->svc) {
            size_t pairs = s->classes * (s->classes - 1) / 2;
            if (s->n_coef != (s->classes - 1) * s->n_sv || s->n_rho < pairs) {
                st = ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                                   "%zu classes with %zu support vectors need %zu coefficients and "
                                   "%zu rho values (got %zu and %zu)",
                                   s->classes, s->n_sv, (s->classes - 1) * s->n_sv, pairs,
                                   s->n_coef, s->n_rho);
                goto fail;
            }
            if (s->n_prob && (s->n_prob < pairs || n_pb < pairs)) {
                st = ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                                   "prob_a and prob_b need %zu entries", pairs);
                goto fail;
            }
        } else if (s->n_coef % s->classes) {
            st = ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                               "%zu coefficients do not split into %zu classes", s->n_coef,
                               s->classes);
            goto fail;
        }
    } else {
        int64_t ns = ml_attr_int(node, "n_supports", 0);
        if (ns < 0 || (ns > 0 && (size_t)ns != s->n_coef)) {
            st = ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                               "n_supports %lld does not match %zu coefficients", (long long)ns,
                               s->n_coef);
            goto fail;
        }
        s->n_sv = (size_t)ns;
        s->svc = ns > 0;
        s->one_class = ml_attr_int(node, "one_class", 0) != 0;
    }
    if (s->svc) {
        if (n_sv_floats == 0 || n_sv_floats % s->n_sv) {
            st = ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                               "support_vectors has %zu values, not a multiple of %zu vectors",
                               n_sv_floats, s->n_sv);
            goto fail;
        }
        s->c = n_sv_floats / s->n_sv;
        s->sv_sq = malloc(s->n_sv * sizeof *s->sv_sq);
        if (!s->sv_sq) {
            st = ml_error(ML_ERR_OUT_OF_MEMORY, "SVM norms");
            goto fail;
        }
        for (size_t v = 0; v < s->n_sv; v++) {
            float q = 0;
            for (size_t i = 0; i < s->c; i++) q += s->sv[v * s->c + i] * s->sv[v * s->c + i];
            s->sv_sq[v] = q;
        }
    } else {
        s->kernel = K_LINEAR; /* liblinear form */
        s->c = classifier ? s->n_coef / s->classes : s->n_coef;
    }
    *state = s;
    return ML_STATUS_OK;
fail:
    ml_svm_destroy(s);
    return st;
}

ml_status ml_svm_classifier_init(const ml_node *node, void **state) {
    return svm_init(node, state, true);
}
ml_status ml_svm_regressor_init(const ml_node *node, void **state) {
    return svm_init(node, state, false);
}

static float kernel_dot(const svm_state *s, int kernel, const float *a, const float *b, size_t c) {
    float sum = 0;
    if (kernel == K_RBF) {
        for (size_t i = 0; i < c; i++) {
            float d = a[i] - b[i];
            sum += d * d;
        }
        return expf(-s->gamma * sum);
    }
    for (size_t i = 0; i < c; i++) sum += a[i] * b[i];
    switch (kernel) {
    case K_POLY:
        return powf(s->gamma * sum + s->coef0, s->degree);
    case K_SIGMOID:
        return tanhf(s->gamma * sum + s->coef0);
    default:
        return sum;
    }
}

/* libsvm's multiclass_probability: couples pairwise probabilities r[k][k]
 * into class probabilities p[k]. q is k*k scratch, qp k scratch. */
static void multiclass_probability(size_t k, const double *r, double *p, double *q, double *qp) {
    size_t max_iter = k > 100 ? k : 100;
    double eps = 0.005 / (double)k;
    for (size_t t = 0; t < k; t++) {
        p[t] = 1.0 / (double)k;
        q[t * k + t] = 0;
        for (size_t j = 0; j < t; j++) {
            q[t * k + t] += r[j * k + t] * r[j * k + t];
            q[t * k + j] = q[j * k + t];
        }
        for (size_t j = t + 1; j < k; j++) {
            q[t * k + t] += r[j * k + t] * r[j * k + t];
            q[t * k + j] = -r[j * k + t] * r[t * k + j];
        }
    }
    for (size_t it = 0; it < max_iter; it++) {
        double pqp = 0;
        for (size_t t = 0; t < k; t++) {
            qp[t] = 0;
            for (size_t j = 0; j < k; j++) qp[t] += q[t * k + j] * p[j];
            pqp += p[t] * qp[t];
        }
        double max_err = 0;
        for (size_t t = 0; t < k; t++) {
            double e = fabs(qp[t] - pqp);
            if (e > max_err) max_err = e;
        }
        if (max_err < eps) break;
        for (size_t t = 0; t < k; t++) {
            double diff = (-qp[t] + pqp) / q[t * k + t];
            p[t] += diff;
            pqp = (pqp + diff * (diff * q[t * k + t] + 2 * qp[t])) / (1 + diff) / (1 + diff);
            for (size_t j = 0; j < k; j++) {
                qp[j] = (qp[j] + diff * q[t * k + j]) / (1 + diff);
                p[j] /= (1 + diff);
            }
        }
    }
}

typedef struct svm_job {
    const svm_state *s;
    const float *x;
    size_t c;
    float *z; /* [n, z_cols] */
    size_t z_cols;
    int64_t *label; /* class index per row */
    atomic_int oom;
} svm_job;

/* Final scores of one row into out (z_cols values); returns the class index. */
/* Kernel values of nr rows against every support vector: one sgemm for
 * the dot products, then the kernel's transform. kern is [nr, n_sv]. */
static void kernel_block(const svm_state *s, const float *x, size_t nr, float *kern) {
    size_t nv = s->n_sv, c = s->c;
    if (c == 0) {
        memset(kern, 0, nr * nv * sizeof *kern);
    } else {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)nr, (int)nv, (int)c, 1.0f, x,
                    (int)c, s->sv, (int)c, 0.0f, kern, (int)nv);
    }
    for (size_t r = 0; r < nr; r++) {
        float *k = kern + r * nv;
        switch (s->kernel) {
        case K_RBF: {
            const float *xr = x + r * c;
            float xx = 0;
            for (size_t i = 0; i < c; i++) xx += xr[i] * xr[i];
            for (size_t v = 0; v < nv; v++) {
                float d = xx + s->sv_sq[v] - 2 * k[v];
                k[v] = expf(-s->gamma * (d > 0 ? d : 0)); /* rounding can make d < 0 */
            }
            break;
        }
        case K_POLY:
            for (size_t v = 0; v < nv; v++) k[v] = powf(s->gamma * k[v] + s->coef0, s->degree);
            break;
        case K_SIGMOID:
            for (size_t v = 0; v < nv; v++) k[v] = tanhf(s->gamma * k[v] + s->coef0);
            break;
        default:
            break;
        }
    }
}

/* kern: this row's kernel values (SVC mode). */
static int64_t classify_row(const svm_state *s, const float *x, float *out, const float *kern,
                            float *raw, float *votes, double *scratch) {
    size_t cc = s->classes;
    size_t n_raw;
    int64_t best;
    float max_weight;
    if (s->svc) {
        for (size_t i = 0; i < cc; i++) votes[i] = 0;
        size_t e = 0;
        for (size_t i = 0; i < cc; i++) {
            for (size_t j = i + 1; j < cc; j++, e++) {
                const float *ci = s->coef + (j - 1) * s->n_sv, *cj = s->coef + i * s->n_sv;
                float s1 = 0, s2 = 0;
                for (int64_t v = s->start[i]; v < s->start[i] + s->vpc[i]; v++)
                    s1 += ci[v] * kern[v];
                for (int64_t v = s->start[j]; v < s->start[j] + s->vpc[j]; v++)
                    s2 += cj[v] * kern[v];
                float sc = s->rho[e] + s1 + s2;
                raw[e] = sc;
                if (sc > 0)
                    votes[i] += 1;
                else
                    votes[j] += 1;
            }
        }
        n_raw = e;
        best = 0;
        for (size_t i = 1; i < cc; i++)
            if (votes[i] > votes[best]) best = (int64_t)i;
        max_weight = votes[best];
    } else {
        for (size_t j = 0; j < cc; j++)
            raw[j] = s->rho[0] + kernel_dot(s, K_LINEAR, x, s->coef + j * s->c, s->c);
        n_raw = cc;
        best = 0;
        for (size_t i = 1; i < cc; i++)
            if (raw[i] > raw[best]) best = (int64_t)i;
        max_weight = raw[best];
    }
    bool proba = s->svc && s->n_prob > 0;
    if (proba) {
        double *r = scratch, *p = r + cc * cc, *q = p + cc, *qp = q + cc * cc;
        size_t e = 0;
        for (size_t i = 0; i < cc; i++) {
            r[i * cc + i] = 0;
            for (size_t j = i + 1; j < cc; j++, e++) {
                double val = (double)raw[e] * s->prob_a[e] + s->prob_b[e];
                /* 1 - logistic(val), written so exp cannot overflow */
                double pr = val >= 0 ? exp(-val) / (1.0 + exp(-val)) : 1.0 / (1.0 + exp(val));
                if (pr < 1e-7) pr = 1e-7;
                if (pr > 1 - 1e-7) pr = 1 - 1e-7;
                r[i * cc + j] = pr;
                r[j * cc + i] = 1 - pr;
            }
        }
        multiclass_probability(cc, r, p, q, qp);
        for (size_t i = 0; i < cc; i++) out[i] = (float)p[i];
        n_raw = cc;
    } else {
        for (size_t i = 0; i < n_raw; i++) out[i] = raw[i];
    }
    /* label */
    int64_t label = best;
    if (s->n_rho == 1 && s->labels.n != 2) label = max_weight > 0 ? 1 : 0;
    /* scores */
    if (n_raw == 0) {
        out[0] = 0; /* a single class: nothing to compare */
    } else if (n_raw >= 2) {
        ml_post_apply(s->post, out, n_raw);
    } else if (n_raw == 1) {
        float v = out[0];
        if (s->post == ML_POST_PROBIT) {
            out[0] = ml_probit(v);
        } else if (s->n_rho == 1 && s->labels.n == 2) {
            out[0] = -v;
            out[1] = v;
            ml_post_apply(s->post, out, 2);
        }
    }
    return label;
}

/* Number of score columns a classifier writes. */
static size_t classifier_cols(const svm_state *s) {
    size_t cc = s->classes;
    size_t n_raw = s->svc ? (s->n_prob ? cc : cc * (cc - 1) / 2) : cc;
    if (n_raw == 1 && s->post != ML_POST_PROBIT && s->n_rho == 1 && s->labels.n == 2) return 2;
    return n_raw ? n_raw : 1;
}

/* Rows per kernel sgemm: up to 64, with the kernel block kept under ~16 MB. */
static size_t svm_block(const svm_state *s) {
    size_t b = s->n_sv ? (4u << 20) / s->n_sv : 64;
    return b < 1 ? 1 : b > 64 ? 64 : b;
}

static void svm_range(void *arg, size_t begin, size_t end) {
    svm_job *j = arg;
    const svm_state *s = j->s;
    size_t cc = s->classes;
    size_t blk = svm_block(s);
    size_t nf = blk * s->n_sv + 2 * cc * cc + 2 * cc + 4;
    size_t nd = 2 * cc * cc + 2 * cc;
    float *fbuf = malloc(nf * sizeof *fbuf);
    double *dbuf = malloc(nd * sizeof *dbuf);
    if (!fbuf || !dbuf) {
        free(fbuf);
        free(dbuf);
        atomic_store(&j->oom, 1);
        return;
    }
    float *kern = fbuf, *raw = kern + blk * s->n_sv, *votes = raw + cc * cc + 2;
    for (size_t r0 = begin; r0 < end; r0 += blk) {
        size_t nr = end - r0 < blk ? end - r0 : blk;
        if (s->svc) kernel_block(s, j->x + r0 * j->c, nr, kern);
        for (size_t i = 0; i < nr; i++) {
            size_t r = r0 + i;
            const float *x = j->x + r * j->c;
            const float *k = kern + i * s->n_sv;
            if (s->classifier) {
                /* z_cols (classifier_cols) always covers what classify_row writes */
                j->label[r] = classify_row(s, x, j->z + r * j->z_cols, k, raw, votes, dbuf);
                continue;
            }
            float sum = 0;
            if (s->svc) {
                for (size_t v = 0; v < s->n_sv; v++) sum += s->coef[v] * k[v];
            } else {
                sum = kernel_dot(s, K_LINEAR, x, s->coef, s->c);
            }
            sum += s->rho[0];
            float *out = j->z + r;
            out[0] = s->one_class ? (sum > 0 ? 1.0f : -1.0f) : sum;
            if (!s->one_class) ml_post_apply(s->post, out, 1);
        }
    }
    free(fbuf);
    free(dbuf);
}

static ml_status svm_run(ml_kernel_ctx *ctx) {
    const svm_state *s = ctx->node->state;
    const ml_tensor *xt;
    ML_TRY(ml_require_input(ctx, 0, &xt));
    size_t n, c;
    ML_TRY(ml_feature_rows(ctx->node, xt, &n, &c));
    if (c != s->c)
        return ml_node_error(ctx->node, ML_ERR_INVALID_ARGUMENT,
                             "X has %zu features per row but the model expects %zu", c, s->c);
    size_t cols = s->classifier ? classifier_cols(s) : 1;
    int64_t dims[2] = {(int64_t)n, (int64_t)cols};
    size_t z_out = s->classifier ? 1 : 0;
    ml_tensor *zt = NULL;
    float *z;
    ml_status st = ML_STATUS_OK;
    if (z_out < ctx->n_outputs) {
        ML_TRY(ml_output_tensor(ctx, z_out, ML_FLOAT, 2, dims, &zt));
        z = zt->data;
    } else {
        size_t total = n * cols;
        z = malloc(total ? total * sizeof *z : 1);
        if (!z) return ml_error(ML_ERR_OUT_OF_MEMORY, "SVM scores");
    }
    const float *x;
    float *owned = NULL;
    svm_job j = {.s = s, .c = c, .z = z, .z_cols = cols};
    atomic_init(&j.oom, 0);
    st = ml_as_f32(ctx->node, xt, &x, &owned);
    j.x = x;
    if (!st && s->classifier) {
        j.label = malloc(n ? n * sizeof *j.label : 1);
        if (!j.label) st = ml_error(ML_ERR_OUT_OF_MEMORY, "SVM labels");
    }
    if (!st) {
        size_t cost = (s->n_sv ? s->n_sv : s->classes) * (c + 1) + s->classes * s->classes;
        ml_parallel_for(ctx->pool, n, ml_rows_per_chunk(cost), svm_range, &j);
        if (atomic_load(&j.oom)) st = ml_error(ML_ERR_OUT_OF_MEMORY, "SVM scratch");
    }
    if (!st && s->classifier) {
        if (s->labels.n == 0 || (s->n_rho == 1 && s->labels.n != 2)) {
            /* no usable label list: the class index (or 1/0) is the label */
            ml_labels none = {0};
            st = ml_write_labels(ctx, 0, &none, j.label, n);
        } else {
            st = ml_write_labels(ctx, 0, &s->labels, j.label, n);
        }
    }
    free(j.label);
    free(owned);
    if (!zt) free(z);
    return st;
}

ml_status ml_svm_classifier_run(ml_kernel_ctx *ctx) {
    return svm_run(ctx);
}
ml_status ml_svm_regressor_run(ml_kernel_ctx *ctx) {
    return svm_run(ctx);
}
