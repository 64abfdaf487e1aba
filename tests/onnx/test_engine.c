/* ONNX engine unit tests: loading in-memory models, io metadata, subgraphs
 * with outer-scope values, Loop, function inlining, sparse and external
 * initializers, constant folding, concurrency and error reporting. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/clock.h"
#include "model_builder.h"
#include "onnx/session.h"
#include "test.h"

static ml_session *load(uint8_t *bytes, size_t len, int opt_level) {
    ml_session_options o;
    ml_session_options_init(&o);
    o.n_threads = 1;
    o.optimization_level = opt_level;
    ml_session *s = NULL;
    ml_status st = ml_session_load_bytes(bytes, len, NULL, &o, &s);
    if (st) {
        fprintf(stderr, "    load failed: %s\n", ml_status_message(st));
        ml_status_free(st);
    }
    free(bytes);
    return s;
}

static ml_session *load_builder(mb_model *b, int opt_level) {
    size_t len;
    uint8_t *bytes = mb_serialize(b, &len);
    mb_free(b);
    return load(bytes, len, opt_level);
}

static ml_status load_builder_err(mb_model *b, const char *base_dir) {
    size_t len;
    uint8_t *bytes = mb_serialize(b, &len);
    mb_free(b);
    ml_session *s = NULL;
    ml_status st = ml_session_load_bytes(bytes, len, base_dir, NULL, &s);
    free(bytes);
    ml_session_free(s);
    return st;
}

static ml_value *f32_value(int rank, const int64_t *dims, const float *data) {
    ml_tensor *t;
    ml_status st = ml_tensor_create(ML_FLOAT, rank, dims, &t);
    if (st) {
        ml_status_free(st);
        return NULL;
    }
    memcpy(t->data, data, ml_tensor_nbytes(t));
    ml_value *v;
    st = ml_value_from_tensor(t, &v);
    if (st) ml_status_free(st);
    return st ? NULL : v;
}

/* Runs s with one float input named name; returns output 0 (or NULL). */
static ml_value *run1(ml_session *s, const char *name, ml_value *in) {
    const char *names[1] = {name};
    ml_value *out[4] = {0};
    size_t n_out = ml_session_output_count(s);
    ml_status st = ml_session_run(s, 1, names, &in, n_out, NULL, out);
    if (st) {
        fprintf(stderr, "    run failed: %s\n", ml_status_message(st));
        ml_status_free(st);
        return NULL;
    }
    for (size_t i = 1; i < n_out; i++) ml_value_free(out[i]);
    return out[0];
}

static void test_add_model(void) {
    size_t len;
    uint8_t *bytes = mb_add_model(&len);
    ml_session *s = load(bytes, len, 2);
    CHECK(s != NULL);
    if (!s) return;
    /* W is an initializer, so it is not a model input */
    CHECK_EQ_INT(ml_session_input_count(s), 1);
    const ml_io_info *in = ml_session_input(s, 0);
    CHECK_STR(in->name, "X");
    CHECK_EQ_INT(in->dtype, ML_FLOAT);
    CHECK_EQ_INT(in->rank, 2);
    CHECK_EQ_INT(in->dims[0], -1);
    CHECK_STR(in->dim_names[0], "N");
    CHECK_EQ_INT(in->dims[1], 3);
    CHECK_STR(ml_session_output(s, 0)->name, "Y");
    int64_t dims[2] = {2, 3};
    float x[6] = {0, 1, 2, 3, 4, 5};
    ml_value *xv = f32_value(2, dims, x);
    ml_value *y = run1(s, "X", xv);
    CHECK(y && y->kind == ML_VALUE_TENSOR);
    if (y) {
        const float *d = y->tensor->data;
        float want[6] = {1, 3, 5, 4, 6, 8};
        CHECK_EQ_INT(y->tensor->rank, 2);
        for (int i = 0; i < 6; i++) CHECK_NEAR(d[i], want[i], 0);
    }
    ml_value_free(y);
    ml_value_free(xv);
    ml_session_free(s);
}

/* Y = (X * (c1 + c2)) with c1 a Constant node and c2 a typed initializer;
 * the Add of two constants folds at level >= 1, results must not change. */
static mb_model *folding_model(void) {
    mb_model *b = mb_new(13);
    int64_t d1[1] = {1};
    float c2[1] = {2};
    mb_input(b, "X", 1, 1, (int64_t[]){-1});
    mb_init_f32(b, "c2", 1, d1, c2, 1);
    mb_node(b, "Constant", "", "c1");
    mb_attr_float(b, "value_float", 0.5f);
    mb_node(b, "Add", "c1,c2", "c");
    mb_node(b, "Mul", "X,c", "Y");
    mb_node(b, "Neg", "X", "unused"); /* dead: nobody reads it */
    mb_output(b, "Y", 1);
    mb_output(b, "c2", 1); /* an initializer as a graph output */
    return b;
}

static void test_folding_levels(void) {
    for (int level = 0; level <= 2; level++) {
        ml_session *s = load_builder(folding_model(), level);
        CHECK(s != NULL);
        if (!s) continue;
        int64_t dims[1] = {3};
        float x[3] = {1, 2, -4};
        ml_value *xv = f32_value(1, dims, x);
        const char *names[1] = {"X"};
        ml_value *out[2] = {0};
        CHECK_OK(ml_session_run(s, 1, names, &xv, 2, NULL, out));
        if (out[0] && out[1]) {
            const float *y = out[0]->tensor->data;
            CHECK_NEAR(y[0], 2.5, 1e-6);
            CHECK_NEAR(y[1], 5.0, 1e-6);
            CHECK_NEAR(y[2], -10.0, 1e-6);
            CHECK_NEAR(((const float *)out[1]->tensor->data)[0], 2.0, 0);
        }
        /* selecting outputs by name, in another order */
        const char *want[1] = {"c2"};
        ml_value *one = NULL;
        CHECK_OK(ml_session_run(s, 1, names, &xv, 1, want, &one));
        CHECK(one && one->tensor->dims[0] == 1);
        ml_value_free(one);
        ml_value_free(out[0]);
        ml_value_free(out[1]);
        ml_value_free(xv);
        ml_session_free(s);
    }
}

/* If(cond) then Y = X * 2 (reads outer X) else Y = X (outer value as output). */
static void test_if_outer_scope(void) {
    mb_model *b = mb_new(13);
    mb_input(b, "X", 1, -1, NULL);
    mb_input(b, "cond", 9, 0, NULL);
    int64_t d1[1] = {1};
    float two[1] = {2};
    mb_init_f32(b, "two", 1, d1, two, 0);
    mb_model *then_g = mb_sub(b, "then");
    mb_node(then_g, "Mul", "X,two", "t_out");
    mb_output(then_g, "t_out", 1);
    mb_model *else_g = mb_sub(b, "else");
    mb_output(else_g, "X", 1);
    mb_node(b, "If", "cond", "Y");
    mb_attr_graph(b, "then_branch", then_g);
    mb_attr_graph(b, "else_branch", else_g);
    mb_output(b, "Y", 1);
    ml_session *s = load_builder(b, 2);
    CHECK(s != NULL);
    if (!s) return;
    int64_t dims[1] = {2};
    float x[2] = {3, -1};
    for (int c = 0; c <= 1; c++) {
        ml_value *in[2] = {f32_value(1, dims, x), NULL};
        ml_tensor *ct;
        CHECK_OK(ml_tensor_create(ML_BOOL, 0, NULL, &ct));
        *(uint8_t *)ct->data = (uint8_t)c;
        CHECK_OK(ml_value_from_tensor(ct, &in[1]));
        const char *names[2] = {"X", "cond"};
        ml_value *y = NULL;
        CHECK_OK(ml_session_run(s, 2, names, in, 1, NULL, &y));
        if (y) {
            const float *d = y->tensor->data;
            CHECK_NEAR(d[0], c ? 6 : 3, 0);
            CHECK_NEAR(d[1], c ? -2 : -1, 0);
            /* the output must own its memory, not borrow the caller's input */
            CHECK(y->tensor->data != in[0]->tensor->data);
        }
        ml_value_free(y);
        ml_value_free(in[0]);
        ml_value_free(in[1]);
    }
    ml_session_free(s);
}

/* One Loop run (see test_loop); returns the number of wrong results. */
static int loop_once(ml_session *s, float xval) {
    int64_t d0[1] = {1};
    ml_value *xv = f32_value(1, d0, &xval);
    const char *names[1] = {"X"};
    ml_value *out[2] = {0};
    int bad = 0;
    ml_status st = ml_session_run(s, 1, names, &xv, 2, NULL, out);
    if (st) {
        ml_status_free(st);
        bad++;
    } else {
        if (((float *)out[0]->tensor->data)[0] != 4 * xval) bad++;
        if (out[1]->tensor->dims[0] != 4 || ((float *)out[1]->tensor->data)[2] != 3 * xval) bad++;
    }
    ml_value_free(out[0]);
    ml_value_free(out[1]);
    ml_value_free(xv);
    return bad;
}

typedef struct loop_arg {
    ml_session *s;
    int id, bad;
} loop_arg;

static void *loop_worker(void *p) {
    loop_arg *a = p;
    for (int i = 0; i < 50; i++) a->bad += loop_once(a->s, (float)(a->id * 10 + i));
    return NULL;
}

/* Loop M=4 times: acc = acc + X (X from the outer scope), scan out acc. */
static void test_loop(void) {
    mb_model *b = mb_new(13);
    mb_input(b, "X", 1, -1, NULL);
    int64_t d0[1] = {1};
    mb_init_raw(b, "M", 7, 0, d0, (int64_t[]){4}, 8);
    float zero[1] = {0};
    mb_init_f32(b, "acc0", 1, d0, zero, 0);
    mb_model *body = mb_sub(b, "body");
    mb_input(body, "i", 7, 0, NULL);
    mb_input(body, "c", 9, 0, NULL);
    mb_input(body, "acc", 1, -1, NULL);
    mb_node(body, "Add", "acc,X", "acc_next");
    mb_node(body, "Identity", "c", "c_out");
    mb_node(body, "Identity", "acc_next", "scan");
    mb_output(body, "c_out", 9);
    mb_output(body, "acc_next", 1);
    mb_output(body, "scan", 1);
    mb_node(b, "Loop", "M,,acc0", "final,stacked");
    mb_attr_graph(b, "body", body);
    mb_output(b, "final", 1);
    mb_output(b, "stacked", 1);
    ml_session *s = load_builder(b, 2);
    CHECK(s != NULL);
    if (!s) return;
    float x[1] = {1.5f};
    ml_value *xv = f32_value(1, d0, x);
    const char *names[1] = {"X"};
    ml_value *out[2] = {0};
    CHECK_OK(ml_session_run(s, 1, names, &xv, 2, NULL, out));
    if (out[0] && out[1]) {
        CHECK_NEAR(((float *)out[0]->tensor->data)[0], 6.0, 1e-6);
        CHECK_EQ_INT(out[1]->tensor->rank, 2);
        CHECK_EQ_INT(out[1]->tensor->dims[0], 4);
        CHECK_NEAR(((float *)out[1]->tensor->data)[2], 4.5, 1e-6);
    }
    ml_value_free(out[0]);
    ml_value_free(out[1]);
    ml_value_free(xv);
    /* subgraph frames are per run: concurrent loops must not interfere */
    pthread_t th[4];
    loop_arg args[4];
    for (int i = 0; i < 4; i++) {
        args[i] = (loop_arg){s, i, 0};
        CHECK(pthread_create(&th[i], NULL, loop_worker, &args[i]) == 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        CHECK_EQ_INT(args[i].bad, 0);
    }
    ml_session_free(s);
}

/* A Loop that runs zero times returns its scan output empty but with the
 * dtype the body declares (here int64 iteration numbers). */
static void test_loop_zero_trips(void) {
    mb_model *b = mb_new(13);
    mb_input(b, "M", 7, 0, NULL);
    int64_t d0[1] = {1};
    float zero[1] = {0};
    mb_init_f32(b, "acc0", 1, d0, zero, 0);
    mb_model *body = mb_sub(b, "body");
    mb_input(body, "i", 7, 0, NULL);
    mb_input(body, "c", 9, 0, NULL);
    mb_input(body, "acc", 1, -1, NULL);
    mb_node(body, "Identity", "c", "c_out");
    mb_node(body, "Identity", "acc", "acc_out");
    mb_node(body, "Identity", "i", "iter");
    mb_output(body, "c_out", 9);
    mb_output(body, "acc_out", 1);
    mb_output(body, "iter", 7);
    mb_node(b, "Loop", "M,,acc0", "final,iters");
    mb_attr_graph(b, "body", body);
    mb_output(b, "final", 1);
    mb_output(b, "iters", 7);
    ml_session *s = load_builder(b, 2);
    CHECK(s != NULL);
    if (!s) return;
    for (int64_t trips = 0; trips <= 3; trips += 3) {
        ml_tensor *mt;
        CHECK_OK(ml_tensor_create(ML_INT64, 0, NULL, &mt));
        *(int64_t *)mt->data = trips;
        ml_value *mv;
        CHECK_OK(ml_value_from_tensor(mt, &mv));
        const char *names[1] = {"M"};
        ml_value *out[2] = {0};
        CHECK_OK(ml_session_run(s, 1, names, &mv, 2, NULL, out));
        if (out[1]) {
            CHECK_EQ_INT(out[1]->tensor->dtype, ML_INT64);
            CHECK_EQ_INT(out[1]->tensor->rank, 1);
            CHECK_EQ_INT(out[1]->tensor->dims[0], trips);
            if (trips) CHECK_EQ_INT(((int64_t *)out[1]->tensor->data)[2], 2);
        }
        ml_value_free(out[0]);
        ml_value_free(out[1]);
        ml_value_free(mv);
    }
    ml_session_free(s);
}

/* Scan over a zero-length axis: the state passes through, the scan output
 * is empty with the body's declared dtype. */
static void test_scan_zero_length(void) {
    mb_model *b = mb_new(11);
    mb_input(b, "S", 1, -1, NULL);
    mb_input(b, "X", 1, -1, NULL);
    mb_model *body = mb_sub(b, "body");
    mb_input(body, "s", 1, -1, NULL);
    mb_input(body, "x", 1, -1, NULL);
    mb_node(body, "Add", "s,x", "s2");
    mb_node(body, "Shape", "x", "shp");
    mb_output(body, "s2", 1);
    mb_output(body, "shp", 7);
    mb_node(b, "Scan", "S,X", "S_final,shapes");
    mb_attr_graph(b, "body", body);
    mb_attr_int(b, "num_scan_inputs", 1);
    mb_output(b, "S_final", 1);
    mb_output(b, "shapes", 7);
    ml_session *s = load_builder(b, 2);
    CHECK(s != NULL);
    if (!s) return;
    int64_t sd[1] = {2}, xd[2] = {0, 2};
    float sv[2] = {1, 2};
    ml_value *in[2] = {f32_value(1, sd, sv), f32_value(2, xd, sv)};
    const char *names[2] = {"S", "X"};
    ml_value *out[2] = {0};
    CHECK_OK(ml_session_run(s, 2, names, in, 2, NULL, out));
    if (out[0] && out[1]) {
        CHECK_NEAR(((float *)out[0]->tensor->data)[1], 2, 0);
        CHECK_EQ_INT(out[1]->tensor->dtype, ML_INT64);
        CHECK_EQ_INT(ml_tensor_numel(out[1]->tensor), 0);
        CHECK_EQ_INT(out[1]->tensor->dims[0], 0);
    }
    for (int i = 0; i < 2; i++) {
        ml_value_free(out[i]);
        ml_value_free(in[i]);
    }
    ml_session_free(s);
}

/* Model-local function Scale(x) = x * alpha + x, alpha from the caller or
 * the function's default. */
static void test_function_inlining(void) {
    mb_model *b = mb_new(13);
    mb_opset(b, "custom", 1);
    mb_model *fn = mb_sub(b, "fn");
    mb_node(fn, "Constant", "", "a");
    mb_attr_ref(fn, "value_float", 1, "alpha");
    mb_node(fn, "Mul", "x,a", "t");
    mb_node(fn, "Add", "t,x", "y");
    mb_function(b, "custom", "Scale", "x", "y", "alpha", fn);
    mb_function_default_float(b, "alpha", 2.0f);
    mb_input(b, "X", 1, -1, NULL);
    mb_node(b, "Scale", "X", "T");
    mb_node_domain(b, "custom");
    mb_attr_float(b, "alpha", 3.0f);
    /* called twice: inlined names must not clash */
    mb_node(b, "Scale", "T", "U");
    mb_node_domain(b, "custom");
    mb_attr_float(b, "alpha", 1.0f);
    /* no alpha: the function's default (2) applies */
    mb_node(b, "Scale", "U", "Y");
    mb_node_domain(b, "custom");
    mb_output(b, "Y", 1);
    ml_session *s = load_builder(b, 1);
    CHECK(s != NULL);
    if (!s) return;
    int64_t d[1] = {2};
    float x[2] = {1, -2};
    ml_value *xv = f32_value(1, d, x);
    ml_value *y = run1(s, "X", xv);
    if (y) {
        /* x * 4 * 2 * 3 */
        CHECK_NEAR(((float *)y->tensor->data)[0], 24.0, 1e-6);
        CHECK_NEAR(((float *)y->tensor->data)[1], -48.0, 1e-6);
    }
    CHECK(y != NULL);
    ml_value_free(y);
    ml_value_free(xv);
    ml_session_free(s);
}

/* A function body whose If branch reads the body's own names: they must
 * resolve to the inlined values, not to same-named values of the caller. */
static void test_function_with_subgraph(void) {
    mb_model *b = mb_new(13);
    mb_opset(b, "custom", 1);
    mb_model *fn = mb_sub(b, "fn");
    mb_node(fn, "Neg", "x", "t");
    mb_model *then_g = mb_sub(b, "then");
    mb_node(then_g, "Add", "t,x", "s");
    mb_output(then_g, "s", 1);
    mb_model *else_g = mb_sub(b, "else");
    mb_output(else_g, "x", 1);
    mb_node(fn, "If", "c", "y");
    mb_attr_graph(fn, "then_branch", then_g);
    mb_attr_graph(fn, "else_branch", else_g);
    mb_function(b, "custom", "Sel", "x,c", "y", "", fn);
    mb_input(b, "X", 1, -1, NULL);
    mb_input(b, "C", 9, 0, NULL);
    mb_node(b, "Mul", "X,X", "t"); /* same name as the body's internal value */
    mb_node(b, "Sel", "X,C", "Y");
    mb_node_domain(b, "custom");
    mb_output(b, "Y", 1);
    mb_output(b, "t", 1);
    ml_session *s = load_builder(b, 2);
    CHECK(s != NULL);
    if (!s) return;
    int64_t d[1] = {1};
    float x[1] = {3};
    ml_value *in[2] = {f32_value(1, d, x), NULL};
    ml_tensor *ct;
    CHECK_OK(ml_tensor_create(ML_BOOL, 0, NULL, &ct));
    *(uint8_t *)ct->data = 1;
    CHECK_OK(ml_value_from_tensor(ct, &in[1]));
    const char *names[2] = {"X", "C"};
    ml_value *out[2] = {0};
    CHECK_OK(ml_session_run(s, 2, names, in, 2, NULL, out));
    if (out[0] && out[1]) {
        CHECK_NEAR(((float *)out[0]->tensor->data)[0], 0, 0); /* -3 + 3, not 9 + 3 */
        CHECK_NEAR(((float *)out[1]->tensor->data)[0], 9, 0);
    }
    for (int i = 0; i < 2; i++) {
        ml_value_free(out[i]);
        ml_value_free(in[i]);
    }
    ml_session_free(s);
}

static void test_sparse_initializer(void) {
    mb_model *b = mb_new(13);
    mb_input(b, "X", 1, -1, NULL);
    int64_t dims[2] = {2, 3};
    mb_sparse_init_f32(b, "S", 2, dims, 2, (int64_t[]){1, 5}, (float[]){7, 9});
    mb_node(b, "Add", "X,S", "Y");
    mb_output(b, "Y", 1);
    ml_session *s = load_builder(b, 2);
    CHECK(s != NULL);
    if (!s) return;
    float x[6] = {0};
    ml_value *xv = f32_value(2, dims, x);
    ml_value *y = run1(s, "X", xv);
    if (y) {
        const float *d = y->tensor->data;
        float want[6] = {0, 7, 0, 0, 0, 9};
        for (int i = 0; i < 6; i++) CHECK_NEAR(d[i], want[i], 0);
    }
    CHECK(y != NULL);
    ml_value_free(y);
    ml_value_free(xv);
    ml_session_free(s);
}

static mb_model *external_model(const char *location, const char *offset) {
    mb_model *b = mb_new(13);
    mb_input(b, "X", 1, -1, NULL);
    int64_t dims[1] = {2};
    mb_init_external(b, "E", 1, dims, location, offset, "8");
    mb_node(b, "Add", "X,E", "Y");
    mb_output(b, "Y", 1);
    return b;
}

static void test_external_data(void) {
    char dir[] = "/tmp/mlambda_ext_XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char path[256];
    snprintf(path, sizeof path, "%s/weights.bin", dir);
    FILE *f = fopen(path, "wb");
    float data[3] = {100, 10, 20}; /* offset 4 skips the first float */
    CHECK(f && fwrite(data, sizeof data, 1, f) == 1);
    if (f) fclose(f);
    size_t len;
    mb_model *b = external_model("weights.bin", "4");
    uint8_t *bytes = mb_serialize(b, &len);
    mb_free(b);
    ml_session *s = NULL;
    CHECK_OK(ml_session_load_bytes(bytes, len, dir, NULL, &s));
    free(bytes);
    if (s) {
        int64_t d[1] = {2};
        float x[2] = {1, 2};
        ml_value *xv = f32_value(1, d, x);
        ml_value *y = run1(s, "X", xv);
        CHECK(y && ((float *)y->tensor->data)[0] == 11 && ((float *)y->tensor->data)[1] == 22);
        ml_value_free(y);
        ml_value_free(xv);
        ml_session_free(s);
    }
    /* escaping the model folder, absolute paths and no folder at all fail */
    CHECK_ERR(load_builder_err(external_model("../weights.bin", NULL), dir),
              ML_ERR_INVALID_ARGUMENT);
    CHECK_ERR(load_builder_err(external_model("/etc/passwd", NULL), dir), ML_ERR_INVALID_ARGUMENT);
    CHECK_ERR(load_builder_err(external_model("weights.bin", NULL), NULL), ML_ERR_INVALID_ARGUMENT);
    /* file too short for offset + length */
    CHECK_ERR(load_builder_err(external_model("weights.bin", "8"), dir), ML_ERR_INVALID_ARGUMENT);
    unlink(path);
    rmdir(dir);
}

typedef struct thread_arg {
    ml_session *s;
    int id;
    int failures;
} thread_arg;

static void *worker(void *p) {
    thread_arg *a = p;
    for (int it = 0; it < 200; it++) {
        int64_t dims[2] = {1 + (it + a->id) % 4, 3};
        float x[12];
        for (int i = 0; i < 12; i++) x[i] = (float)(a->id * 100 + it + i);
        ml_value *xv = f32_value(2, dims, x);
        const char *names[1] = {"X"};
        ml_value *y = NULL;
        ml_status st = ml_session_run(a->s, 1, names, &xv, 1, NULL, &y);
        if (st) {
            ml_status_free(st);
            a->failures++;
        } else {
            const float *d = y->tensor->data;
            size_t n = (size_t)dims[0] * 3;
            for (size_t i = 0; i < n; i++)
                if (d[i] != x[i] + (float)(i % 3 + 1)) a->failures++;
            if (y->tensor->dims[0] != dims[0]) a->failures++;
        }
        ml_value_free(y);
        ml_value_free(xv);
    }
    return NULL;
}

static void test_concurrent_runs(void) {
    size_t len;
    ml_session_options o;
    ml_session_options_init(&o);
    o.n_threads = 2;
    uint8_t *bytes = mb_add_model(&len);
    ml_session *s = NULL;
    CHECK_OK(ml_session_load_bytes(bytes, len, NULL, &o, &s));
    free(bytes);
    if (!s) return;
    pthread_t th[8];
    thread_arg args[8];
    for (int i = 0; i < 8; i++) {
        args[i] = (thread_arg){s, i, 0};
        CHECK(pthread_create(&th[i], NULL, worker, &args[i]) == 0);
    }
    for (int i = 0; i < 8; i++) {
        pthread_join(th[i], NULL);
        CHECK_EQ_INT(args[i].failures, 0);
    }
    ml_session_free(s);
}

static void test_run_limits(void) {
    size_t len;
    uint8_t *bytes = mb_add_model(&len);
    ml_session *s = load(bytes, len, 2);
    CHECK(s != NULL);
    if (!s) return;
    int64_t dims[2] = {1, 3};
    float x[3] = {1, 2, 3};
    ml_value *xv = f32_value(2, dims, x);
    const char *names[1] = {"X"};
    ml_value *y = NULL;
    ml_run_options ro = {.deadline_ns = 1}; /* long gone */
    CHECK_ERR(ml_session_run_with(s, &ro, 1, names, &xv, 1, NULL, &y), ML_ERR_DEADLINE);
    CHECK(y == NULL);
    volatile int cancel = 1;
    ro = (ml_run_options){.cancel = &cancel};
    CHECK_ERR(ml_session_run_with(s, &ro, 1, names, &xv, 1, NULL, &y), ML_ERR_UNAVAILABLE);
    cancel = 0;
    ro.deadline_ns = ml_now_ns() + 60ull * 1000000000ull;
    CHECK_OK(ml_session_run_with(s, &ro, 1, names, &xv, 1, NULL, &y));
    CHECK(y && ((float *)y->tensor->data)[2] == 6);
    ml_value_free(y);
    y = NULL;
    /* serial: the same answer without the session's pool */
    ro = (ml_run_options){.serial = true};
    CHECK_OK(ml_session_run_with(s, &ro, 1, names, &xv, 1, NULL, &y));
    CHECK(y && ((float *)y->tensor->data)[2] == 6);
    ml_value_free(y);
    ml_value_free(xv);
    ml_session_free(s);
}

/* A request-sized ConstantOfShape far over the per-tensor limit fails with
 * RESOURCE_EXHAUSTED before allocating (hostile inputs must not make one
 * node fill gigabytes); a sane size runs. */
static void test_output_size_limit(void) {
    mb_model *b = mb_new(13);
    int64_t d1[1] = {2};
    mb_input(b, "shape", 7 /* INT64 */, 1, d1);
    mb_output(b, "Y", 1 /* FLOAT */);
    mb_node(b, "ConstantOfShape", "shape", "Y");
    size_t len;
    uint8_t *bytes = mb_serialize(b, &len);
    mb_free(b);
    ml_session *s = load(bytes, len, 2);
    CHECK(s != NULL);
    if (!s) return;
    const char *names[1] = {"shape"};
    const int64_t sizes[2][2] = {{1 << 16, 1 << 15}, {3, 4}}; /* 8 GiB of floats, then 48 bytes */
    for (int k = 0; k < 2; k++) {
        ml_tensor *t;
        CHECK_OK(ml_tensor_create(ML_INT64, 1, d1, &t));
        memcpy(t->data, sizes[k], sizeof sizes[k]);
        ml_value *v, *y = NULL;
        CHECK_OK(ml_value_from_tensor(t, &v));
        ml_status st = ml_session_run(s, 1, names, &v, 1, NULL, &y);
        if (k == 0) {
            CHECK(st && ml_status_code(st) == ML_ERR_RESOURCE_EXHAUSTED);
            CHECK(st && strstr(ml_status_message(st), "per-tensor limit"));
        } else {
            CHECK(!st && y && ml_tensor_numel(y->tensor) == 12);
        }
        ml_status_free(st);
        ml_value_free(y);
        ml_value_free(v);
    }
    ml_session_free(s);
}

static void test_errors(void) {
    /* unknown op */
    mb_model *b = mb_new(13);
    mb_input(b, "X", 1, -1, NULL);
    mb_node(b, "NoSuchOp", "X", "Y");
    mb_output(b, "Y", 1);
    size_t len;
    uint8_t *bytes = mb_serialize(b, &len);
    mb_free(b);
    ml_session *s = NULL;
    ml_status st = ml_session_load_bytes(bytes, len, NULL, NULL, &s);
    CHECK_EQ_INT(ml_status_code(st), ML_ERR_UNSUPPORTED);
    CHECK(
        strstr(ml_status_message(st), "op NoSuchOp (domain 'ai.onnx', opset 13) is not supported"));
    ml_status_free(st);
    free(bytes);

    /* truncated and garbage files */
    bytes = mb_add_model(&len);
    CHECK_ERR(ml_session_load_bytes(bytes, len / 2, NULL, NULL, &s), ML_ERR_INVALID_ARGUMENT);
    CHECK_ERR(ml_session_load_bytes("\xff\xff\xff\xff garbage", 12, NULL, NULL, &s),
              ML_ERR_INVALID_ARGUMENT);
    CHECK_ERR(ml_session_load_bytes(bytes, 0, NULL, NULL, &s), ML_ERR_INVALID_ARGUMENT);
    ml_session_options o;
    ml_session_options_init(&o);
    o.max_model_bytes = 16;
    CHECK_ERR(ml_session_load_bytes(bytes, len, NULL, &o, &s), ML_ERR_RESOURCE_EXHAUSTED);
    free(bytes);
    CHECK_ERR(ml_session_load_file("/nonexistent/model.onnx", NULL, &s), ML_ERR_IO);

    /* raw_data size that does not match the shape */
    b = mb_new(13);
    mb_input(b, "X", 1, -1, NULL);
    int64_t d[1] = {4};
    mb_init_raw(b, "W", 1, 1, d, "abc", 3);
    mb_node(b, "Add", "X,W", "Y");
    mb_output(b, "Y", 1);
    CHECK_ERR(load_builder_err(b, NULL), ML_ERR_INVALID_ARGUMENT);

    /* absurd dims: the product overflows and must not be allocated */
    b = mb_new(13);
    mb_input(b, "X", 1, -1, NULL);
    int64_t huge[3] = {INT64_C(1) << 40, INT64_C(1) << 40, 4};
    mb_init_raw(b, "W", 1, 3, huge, "", 0);
    mb_node(b, "Add", "X,W", "Y");
    mb_output(b, "Y", 1);
    CHECK_ERR(load_builder_err(b, NULL), ML_ERR_INVALID_ARGUMENT);

    /* rank over ML_MAX_RANK */
    b = mb_new(13);
    mb_input(b, "X", 1, -1, NULL);
    int64_t ones[20];
    for (int i = 0; i < 20; i++) ones[i] = 1;
    mb_init_raw(b, "W", 1, 20, ones, "abcd", 4);
    mb_node(b, "Add", "X,W", "Y");
    mb_output(b, "Y", 1);
    CHECK_ERR(load_builder_err(b, NULL), ML_ERR_UNSUPPORTED);

    /* a cycle, and a read of a value nobody produces */
    b = mb_new(13);
    mb_input(b, "X", 1, -1, NULL);
    mb_node(b, "Add", "X,B", "A");
    mb_node(b, "Add", "X,A", "B");
    mb_output(b, "B", 1);
    CHECK_ERR(load_builder_err(b, NULL), ML_ERR_INVALID_ARGUMENT);
    b = mb_new(13);
    mb_input(b, "X", 1, -1, NULL);
    mb_node(b, "Add", "X,nowhere", "Y");
    mb_output(b, "Y", 1);
    CHECK_ERR(load_builder_err(b, NULL), ML_ERR_INVALID_ARGUMENT);

    /* run-time errors: unknown input name, missing input, wrong dtype */
    bytes = mb_add_model(&len);
    s = load(bytes, len, 2);
    CHECK(s != NULL);
    if (!s) return;
    int64_t dims[2] = {1, 3};
    float x[3] = {0};
    ml_value *xv = f32_value(2, dims, x);
    ml_value *y = NULL;
    const char *bad[1] = {"nope"};
    CHECK_ERR(ml_session_run(s, 1, bad, &xv, 1, NULL, &y), ML_ERR_INVALID_ARGUMENT);
    CHECK_ERR(ml_session_run(s, 0, NULL, NULL, 1, NULL, &y), ML_ERR_INVALID_ARGUMENT);
    const char *wrong_out[1] = {"nope"};
    const char *good[1] = {"X"};
    CHECK_ERR(ml_session_run(s, 1, good, &xv, 1, wrong_out, &y), ML_ERR_INVALID_ARGUMENT);
    ml_tensor *it;
    CHECK_OK(ml_tensor_create(ML_INT64, 2, dims, &it));
    ml_value *iv;
    CHECK_OK(ml_value_from_tensor(it, &iv));
    ml_status wst = ml_session_run(s, 1, good, &iv, 1, NULL, &y);
    CHECK_EQ_INT(ml_status_code(wst), ML_ERR_INVALID_ARGUMENT);
    CHECK(strstr(ml_status_message(wst), "must be float"));
    ml_status_free(wst);
    CHECK(y == NULL);
    ml_value_free(iv);
    ml_value_free(xv);
    ml_session_free(s);
}

/* A tiny file nesting TypeProto.optional_type 2000 times must be
 * rejected before protobuf-c recurses into it. */
static void test_deep_nesting(void) {
    enum { LEVELS = 2000 };
    /* innermost first: each level wraps the previous bytes as
     * TypeProto{optional_type(9): Optional{elem_type(1): <previous>}} */
    size_t cap = 16 * LEVELS + 64, len = 0;
    uint8_t *buf = malloc(cap), *tmp = malloc(cap);
    CHECK(buf && tmp);
    if (!buf || !tmp) return;
    for (int lvl = 0; lvl < 2 * LEVELS; lvl++) {
        uint8_t head[12];
        size_t h = 0;
        head[h++] = lvl % 2 ? 0x4a /* field 9, LEN */ : 0x0a /* field 1, LEN */;
        for (size_t v = len;; v >>= 7) {
            head[h++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
            if (v <= 0x7f) break;
        }
        memcpy(tmp, head, h);
        memcpy(tmp + h, buf, len);
        len += h;
        memcpy(buf, tmp, len);
    }
    /* ModelProto.graph(7){ GraphProto.input(11){ ValueInfoProto.type(2){ ... } } } */
    static const uint8_t fields[3] = {0x12, 0x5a, 0x3a};
    for (int f = 0; f < 3; f++) {
        uint8_t head[12];
        size_t h = 0;
        head[h++] = fields[f];
        for (size_t v = len;; v >>= 7) {
            head[h++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
            if (v <= 0x7f) break;
        }
        memcpy(tmp, head, h);
        memcpy(tmp + h, buf, len);
        len += h;
        memcpy(buf, tmp, len);
    }
    ml_session *s = NULL;
    ml_status st = ml_session_load_bytes(buf, len, NULL, NULL, &s);
    CHECK_EQ_INT(ml_status_code(st), ML_ERR_INVALID_ARGUMENT);
    CHECK(st && strstr(ml_status_message(st), "nested"));
    ml_status_free(st);
    free(buf);
    free(tmp);
}

/* A graph input that is also a graph output comes back as an owned copy. */
static void test_input_as_output(void) {
    mb_model *b = mb_new(13);
    mb_input(b, "X", 1, -1, NULL);
    mb_node(b, "Neg", "X", "Y");
    mb_output(b, "X", 1);
    mb_output(b, "Y", 1);
    ml_session *s = load_builder(b, 2);
    CHECK(s != NULL);
    if (!s) return;
    int64_t d[1] = {2};
    float x[2] = {1, -2};
    ml_value *xv = f32_value(1, d, x);
    const char *names[1] = {"X"};
    ml_value *out[2] = {0};
    CHECK_OK(ml_session_run(s, 1, names, &xv, 2, NULL, out));
    if (out[0] && out[1]) {
        CHECK(out[0]->tensor->data != xv->tensor->data);
        CHECK(ml_tensor_storage_unique(out[0]->tensor));
        CHECK_NEAR(((float *)out[0]->tensor->data)[1], -2, 0);
        CHECK_NEAR(((float *)out[1]->tensor->data)[1], 2, 0);
    }
    ml_value_free(out[0]);
    ml_value_free(out[1]);
    ml_value_free(xv);
    ml_session_free(s);
}

/* Conv + BatchNormalization folds into one Conv at level 2 with the same
 * results as running both (level 0). */
static mb_model *conv_bn_model(void) {
    mb_model *b = mb_new(13);
    int64_t xd[4] = {1, 2, 5, 5}, wd[4] = {3, 2, 3, 3}, cd[1] = {3};
    float w[54], bias[3] = {0.5f, -1, 0.25f}, scale[3] = {1.5f, 0.5f, -2};
    float shift[3] = {0.1f, 0.2f, 0.3f}, mean[3] = {0.3f, -0.2f, 1}, var[3] = {0.5f, 2, 0.1f};
    for (int i = 0; i < 54; i++) w[i] = (float)((i * 7) % 11) / 10.0f - 0.5f;
    mb_input(b, "X", 1, 4, xd);
    mb_init_f32(b, "W", 4, wd, w, 0);
    mb_init_f32(b, "B", 1, cd, bias, 0);
    mb_init_f32(b, "scale", 1, cd, scale, 0);
    mb_init_f32(b, "shift", 1, cd, shift, 0);
    mb_init_f32(b, "mean", 1, cd, mean, 0);
    mb_init_f32(b, "var", 1, cd, var, 0);
    mb_node(b, "Conv", "X,W,B", "C");
    mb_attr_ints(b, "pads", (int64_t[]){1, 1, 1, 1}, 4);
    mb_node(b, "BatchNormalization", "C,scale,shift,mean,var", "Y");
    mb_attr_float(b, "epsilon", 1e-3f);
    mb_output(b, "Y", 1);
    return b;
}

static void test_conv_bn_fusion(void) {
    ml_session *plain = load_builder(conv_bn_model(), 0);
    ml_session *fused = load_builder(conv_bn_model(), 2);
    CHECK(plain && fused);
    if (!plain || !fused) {
        ml_session_free(plain);
        ml_session_free(fused);
        return;
    }
    CHECK(ml_session_uses_op(plain, "BatchNormalization"));
    CHECK(!ml_session_uses_op(fused, "BatchNormalization"));
    int64_t xd[4] = {1, 2, 5, 5};
    float x[50];
    for (int i = 0; i < 50; i++) x[i] = (float)((i * 13) % 17) / 8.0f - 1.0f;
    ml_value *xv = f32_value(4, xd, x);
    ml_value *a = run1(plain, "X", xv), *b = run1(fused, "X", xv);
    CHECK(a && b);
    if (a && b) {
        CHECK(ml_shape_equal(a->tensor->rank, a->tensor->dims, b->tensor->rank, b->tensor->dims));
        CHECK_EQ_INT(ml_tensor_numel(a->tensor), 75);
        for (size_t i = 0; i < ml_tensor_numel(a->tensor); i++)
            CHECK_NEAR(((float *)a->tensor->data)[i], ((float *)b->tensor->data)[i], 1e-4);
    }
    ml_value_free(a);
    ml_value_free(b);
    ml_value_free(xv);
    ml_session_free(plain);
    ml_session_free(fused);
}

int main(void) {
    RUN(test_conv_bn_fusion);
    RUN(test_input_as_output);
    RUN(test_deep_nesting);
    RUN(test_add_model);
    RUN(test_folding_levels);
    RUN(test_if_outer_scope);
    RUN(test_loop);
    RUN(test_loop_zero_trips);
    RUN(test_scan_zero_length);
    RUN(test_function_inlining);
    RUN(test_function_with_subgraph);
    RUN(test_sparse_initializer);
    RUN(test_external_data);
    RUN(test_concurrent_runs);
    RUN(test_run_limits);
    RUN(test_output_size_limit);
    RUN(test_errors);
    return TEST_SUMMARY();
}
