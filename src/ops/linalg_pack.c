/* Refcounted cache of load-time float32 weight copies, shared by every node
 * that reads the same constant (see linalg_internal.h). Only touched at model
 * load and unload, so one mutex and a linked list are enough. */
#include <pthread.h>
#include <stdlib.h>

#include "ops/gemm_fast.h"
#include "ops/linalg_internal.h"
#include "ops/nn_util.h"

typedef struct pack_entry {
    const ml_tensor *src;
    const void *src_data; /* guards against a reused tensor struct */
    nn_pack_kind kind;
    int64_t param;
    float *data; /* owned */
    size_t refs;
    struct pack_entry *next;
} pack_entry;

static pthread_mutex_t pack_mu = PTHREAD_MUTEX_INITIALIZER;
static pack_entry *pack_head;

/* The gemm_fast.h layouts of an already converted float32 copy. */
static float *pack_gemm(const ml_tensor *src, nn_pack_kind kind, int64_t param, const float *f) {
    if (kind == NN_PACK_CONV_A) {
        int64_t M = src->dims[0], G = param, Mg = M / G;
        int64_t rows = M ? (int64_t)(ml_tensor_numel(src) / (size_t)M) : 0;
        size_t per = nn_gemm_packa_floats((int)Mg, (int)rows);
        float *d = malloc((per * (size_t)G + 1) * sizeof(float));
        if (!d) return NULL;
        for (int64_t g = 0; g < G; g++)
            nn_gemm_packa(f + g * Mg * rows, rows, 1, (int)Mg, (int)rows, d + (size_t)g * per);
        return d;
    }
    bool t = kind == NN_PACK_GEMM_BT;
    int64_t K = t ? src->dims[1] : src->dims[0], N = t ? src->dims[0] : src->dims[1];
    float *d = malloc((nn_gemm_packb_floats((int)K, (int)N) + 1) * sizeof(float));
    if (!d) return NULL;
    nn_gemm_packb(f, t ? 1 : N, t ? K : 1, (int)K, (int)N, d);
    return d;
}

static float *pack_build(const ml_tensor *src, nn_pack_kind kind, int64_t param) {
    size_t n = ml_tensor_numel(src);
    float *tmp = malloc((n + 1) * sizeof(float));
    if (!tmp) return NULL;
    nn_convert_to_f32(src->dtype, src->data, tmp, n);
    if (kind >= NN_PACK_GEMM_B) {
        float *d = pack_gemm(src, kind, param, tmp);
        free(tmp);
        return d;
    }
    if (kind != NN_PACK_F32_T) return tmp;
    float *t = malloc((n + 1) * sizeof(float));
    if (!t) {
        free(tmp);
        return NULL;
    }
    int64_t R = src->dims[0], C = src->dims[1];
    /* blocked so both sides stay in cache for large weights */
    for (int64_t r0 = 0; r0 < R; r0 += 32)
        for (int64_t c0 = 0; c0 < C; c0 += 32)
            for (int64_t r = r0; r < R && r < r0 + 32; r++)
                for (int64_t c = c0; c < C && c < c0 + 32; c++) t[c * R + r] = tmp[r * C + c];
    free(tmp);
    return t;
}

ml_status nn_pack_acquire(const ml_node *node, const ml_tensor *src, nn_pack_kind kind,
                          const float **out) {
    return nn_pack_acquire_ex(node, src, kind, 0, out);
}

ml_status nn_pack_acquire_ex(const ml_node *node, const ml_tensor *src, nn_pack_kind kind,
                             int64_t param, const float **out) {
    *out = NULL;
    if ((kind == NN_PACK_F32_T || kind == NN_PACK_GEMM_B || kind == NN_PACK_GEMM_BT) &&
        src->rank != 2)
        return ml_node_error(node, ML_ERR_INTERNAL, "this packing needs a 2-D tensor");
    if (kind >= NN_PACK_GEMM_B &&
        (src->dims[0] > INT32_MAX || src->rank < 1 || (src->rank > 1 && src->dims[1] > INT32_MAX)))
        return ml_node_error(node, ML_ERR_RESOURCE_EXHAUSTED, "weight dimensions above 2^31");
    if (kind == NN_PACK_CONV_A &&
        (src->rank < 2 || param < 1 || src->dims[0] % param != 0 ||
         (src->dims[0] && ml_tensor_numel(src) / (size_t)src->dims[0] > INT32_MAX)))
        return ml_node_error(node, ML_ERR_INTERNAL,
                             "conv weight packing needs [M, C, k...] and "
                             "a group count dividing M");
    pthread_mutex_lock(&pack_mu);
    for (pack_entry *e = pack_head; e; e = e->next)
        if (e->src == src && e->src_data == src->data && e->kind == kind && e->param == param) {
            e->refs++;
            *out = e->data;
            pthread_mutex_unlock(&pack_mu);
            return ML_STATUS_OK;
        }
    /* built under the lock: a concurrent load of the same weight must wait
     * for this copy rather than build its own */
    pack_entry *e = calloc(1, sizeof *e);
    float *data = e ? pack_build(src, kind, param) : NULL;
    if (!data) {
        free(e);
        pthread_mutex_unlock(&pack_mu);
        return ml_node_error(node, ML_ERR_OUT_OF_MEMORY,
                             "no memory for a float32 copy of a %zu-element weight",
                             ml_tensor_numel(src));
    }
    *e = (pack_entry){src, src->data, kind, param, data, 1, pack_head};
    pack_head = e;
    *out = data;
    pthread_mutex_unlock(&pack_mu);
    return ML_STATUS_OK;
}

void nn_pack_release(const float *packed) {
    if (!packed) return;
    pthread_mutex_lock(&pack_mu);
    for (pack_entry **pe = &pack_head; *pe; pe = &(*pe)->next) {
        pack_entry *e = *pe;
        if (e->data != packed) continue;
        if (--e->refs == 0) {
            *pe = e->next;
            free(e->data);
            free(e);
        }
        break;
    }
    pthread_mutex_unlock(&pack_mu);
}

size_t nn_pack_live_count(void) {
    size_t n = 0;
    pthread_mutex_lock(&pack_mu);
    for (pack_entry *e = pack_head; e; e = e->next) n++;
    pthread_mutex_unlock(&pack_mu);
    return n;
}
