/* Shared by the fusion tests: build a model, load it at optimisation levels
 * 2 and 0, run both on the same random inputs and compare. Static functions
 * in a header, like test.h: their CHECKs count in the including test. */
#ifndef MLAMBDA_TESTS_FUSE_CHECK_H
#define MLAMBDA_TESTS_FUSE_CHECK_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "model_builder.h"
#include "onnx/session.h"
#include "test.h"

enum { F32 = 1 };

#define FUSE_MAX_IO 5

typedef struct fuse_case {
    size_t n_in;
    const char *in_names[FUSE_MAX_IO];
    int ranks[FUSE_MAX_IO];
    int64_t dims[FUSE_MAX_IO][6];
    size_t n_out;
    const char *out_names[FUSE_MAX_IO];
} fuse_case;

/* Loads a serialised model at the given optimisation level on `threads`
 * threads (NULL on error). */
static inline ml_session *load_threads(const uint8_t *bytes, size_t len, int opt_level,
                                       size_t threads) {
    ml_session_options o;
    ml_session_options_init(&o);
    o.n_threads = threads;
    o.optimization_level = opt_level;
    ml_session *s = NULL;
    ml_status st = ml_session_load_bytes(bytes, len, NULL, &o, &s);
    if (st) {
        fprintf(stderr, "    load failed: %s\n", ml_status_message(st));
        ml_status_free(st);
    }
    return s;
}

/* The same on one thread. */
static inline ml_session *load_bytes(const uint8_t *bytes, size_t len, int opt_level) {
    return load_threads(bytes, len, opt_level, 1);
}

/* A float tensor of pseudo-random values in [-4, 4). */
static inline ml_value *f32_value(int rank, const int64_t *dims, uint32_t seed) {
    ml_tensor *t;
    ml_status st = ml_tensor_create(ML_FLOAT, rank, dims, &t);
    if (st) {
        ml_status_free(st);
        return NULL;
    }
    float *d = t->data;
    for (size_t i = 0; i < ml_tensor_numel(t); i++) {
        seed = seed * 1664525u + 1013904223u;
        d[i] = (float)((double)seed / 4294967296.0 * 8.0 - 4.0); /* [-4, 4) */
    }
    ml_value *v;
    st = ml_value_from_tensor(t, &v);
    if (st) ml_status_free(st);
    return st ? NULL : v;
}

/* Serialises and frees b, loads it at levels 2 and 0, runs both on the same
 * random inputs in [-4, 4) and checks every output agrees within tol (NaN
 * matches NaN). Returns the level-2 session (caller frees) so the test can
 * ask which ops it kept, or NULL when it did not load. */
static inline ml_session *fuse_check_same(mb_model *b, const fuse_case *c, double tol) {
    size_t len;
    uint8_t *bytes = mb_serialize(b, &len);
    mb_free(b);
    ml_session *fused = load_bytes(bytes, len, 2), *plain = load_bytes(bytes, len, 0);
    free(bytes);
    CHECK(fused && plain);
    if (!fused || !plain) {
        ml_session_free(plain);
        return fused;
    }
    ml_value *in[FUSE_MAX_IO] = {0}, *o1[FUSE_MAX_IO] = {0}, *o2[FUSE_MAX_IO] = {0};
    for (size_t i = 0; i < c->n_in; i++)
        in[i] = f32_value(c->ranks[i], c->dims[i], 7u + (uint32_t)i);
    CHECK_OK(ml_session_run(fused, c->n_in, c->in_names, in, c->n_out, c->out_names, o1));
    CHECK_OK(ml_session_run(plain, c->n_in, c->in_names, in, c->n_out, c->out_names, o2));
    for (size_t k = 0; k < c->n_out; k++) {
        if (!o1[k] || !o2[k]) {
            CHECK(o1[k] && o2[k]);
            continue;
        }
        const ml_tensor *a = o1[k]->tensor, *e = o2[k]->tensor;
        CHECK(ml_shape_equal(a->rank, a->dims, e->rank, e->dims));
        size_t n = ml_tensor_numel(e), bad = 0;
        double worst = 0;
        for (size_t i = 0; i < n && ml_tensor_numel(a) == n; i++) {
            float av = ((float *)a->data)[i], ev = ((float *)e->data)[i];
            if (isnan(av) && isnan(ev)) continue;
            double d = fabs(av - ev);
            if (d > worst) worst = d;
            bad += !(d <= tol);
        }
        if (bad) fprintf(stderr, "    output %zu: %zu values differ, worst %.3g\n", k, bad, worst);
        CHECK_EQ_INT(bad, 0);
    }
    for (size_t i = 0; i < FUSE_MAX_IO; i++) {
        ml_value_free(in[i]);
        ml_value_free(o1[i]);
        ml_value_free(o2[i]);
    }
    ml_session_free(plain);
    return fused;
}

/* Adds a float scalar (rank 0) initializer. */
static inline void fuse_scalar(mb_model *b, const char *name, float v) {
    mb_init_f32(b, name, 0, NULL, &v, 0);
}

#endif
