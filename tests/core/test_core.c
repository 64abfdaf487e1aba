/* Unit tests for src/core: status, dtype, tensor, value, arena, threadpool, clock, log. */
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>

#include "core/arena.h"
#include "core/clock.h"
#include "core/dtype.h"
#include "core/log.h"
#include "core/tensor.h"
#include "core/threadpool.h"
#include "core/value.h"
#include "test.h"

static ml_status fails_with_context(void) {
    ML_TRY(ml_error(ML_ERR_NOT_FOUND, "model '%s' not found", "seq2seq"));
    return ML_STATUS_OK;
}

static void test_status(void) {
    CHECK(ml_status_code(ML_STATUS_OK) == ML_OK);
    CHECK_STR(ml_status_message(ML_STATUS_OK), "OK");
    ml_status st = fails_with_context();
    CHECK(ml_status_code(st) == ML_ERR_NOT_FOUND);
    st = ml_status_wrap(st, "loading %s", "app");
    CHECK_STR(ml_status_message(st), "loading app: model 'seq2seq' not found");
    CHECK_STR(ml_code_name(ml_status_code(st)), "NOT_FOUND");
    ml_status_free(st);
    CHECK(ml_status_wrap(ML_STATUS_OK, "x") == ML_STATUS_OK);
    /* ML_OK as an error code is a bug; it becomes INTERNAL so failure is never lost */
    st = ml_error(ML_OK, "oops");
    CHECK(ml_status_code(st) == ML_ERR_INTERNAL);
    ml_status_free(st);
}

static void test_dtype(void) {
    CHECK_EQ_INT(ml_dtype_size(ML_FLOAT), 4);
    CHECK_EQ_INT(ml_dtype_size(ML_INT64), 8);
    CHECK_EQ_INT(ml_dtype_size(ML_BOOL), 1);
    CHECK_EQ_INT(ml_dtype_size(ML_FLOAT16), 2);
    CHECK_EQ_INT(ml_dtype_size(ML_STRING), sizeof(ml_str));
    CHECK_EQ_INT(ml_dtype_size(ML_UNDEFINED), 0);
    CHECK_STR(ml_dtype_kserve_name(ML_FLOAT), "FP32");
    CHECK_STR(ml_dtype_kserve_name(ML_STRING), "BYTES");
    CHECK_STR(ml_dtype_kserve_name(ML_BFLOAT16), "BF16");
    CHECK_STR(ml_dtype_tf_name(ML_STRING), "DT_STRING");
    CHECK(ml_dtype_parse("FP32") == ML_FLOAT);
    CHECK(ml_dtype_parse("fp64") == ML_DOUBLE);
    CHECK(ml_dtype_parse("DT_STRING") == ML_STRING);
    CHECK(ml_dtype_parse("bytes") == ML_STRING);
    CHECK(ml_dtype_parse("int64") == ML_INT64);
    CHECK(ml_dtype_parse("float32") == ML_FLOAT);
    CHECK(ml_dtype_parse("nonsense") == ML_UNDEFINED);
    CHECK(ml_dtype_parse(NULL) == ML_UNDEFINED);
    CHECK(ml_dtype_is_float(ML_BFLOAT16) && !ml_dtype_is_float(ML_INT8));
    CHECK(ml_dtype_is_integer(ML_UINT64) && !ml_dtype_is_integer(ML_BOOL));
    CHECK(!ml_dtype_valid(0) && !ml_dtype_valid(17) && ml_dtype_valid(16));
}

static void test_half_precision(void) {
    CHECK_NEAR(ml_fp16_to_float(0x3c00), 1.0, 0);
    CHECK_NEAR(ml_fp16_to_float(0xc000), -2.0, 0);
    CHECK_NEAR(ml_fp16_to_float(0x7bff), 65504.0, 0);
    CHECK_NEAR(ml_fp16_to_float(0x0001), 5.9604644775390625e-8, 0);
    CHECK(isinf(ml_fp16_to_float(0x7c00)));
    CHECK(isnan(ml_fp16_to_float(0x7e00)));
    CHECK_EQ_INT(ml_float_to_fp16(1.0f), 0x3c00);
    CHECK_EQ_INT(ml_float_to_fp16(65504.0f), 0x7bff);
    CHECK_EQ_INT(ml_float_to_fp16(1e6f), 0x7c00); /* overflow to inf */
    CHECK_EQ_INT(ml_float_to_fp16(-0.0f), 0x8000);
    CHECK_EQ_INT(ml_float_to_fp16(5.9604644775390625e-8f), 0x0001); /* smallest subnormal */
    CHECK_EQ_INT(ml_float_to_fp16(1.0f + 1.0f / 2048), 0x3c00);     /* tie rounds to even */
    CHECK_EQ_INT(ml_float_to_fp16(1.0f + 3.0f / 2048), 0x3c02);
    CHECK(ml_float_to_fp16(NAN) & 0x200);
    /* every finite half round-trips exactly */
    int bad = 0;
    for (uint32_t h = 0; h < 0x10000; h++) {
        if ((h & 0x7c00) == 0x7c00) continue;
        if (ml_float_to_fp16(ml_fp16_to_float((uint16_t)h)) != h) bad++;
    }
    CHECK_EQ_INT(bad, 0);
    CHECK_NEAR(ml_bf16_to_float(0x3f80), 1.0, 0);
    CHECK_EQ_INT(ml_float_to_bf16(1.0f), 0x3f80);
    CHECK_EQ_INT(ml_float_to_bf16(1.00390625f), 0x3f80); /* tie to even */
}

static void test_tensor_create_and_view(void) {
    int64_t dims[] = {2, 3};
    ml_tensor *t;
    CHECK_OK(ml_tensor_create(ML_FLOAT, 2, dims, &t));
    CHECK_EQ_INT(ml_tensor_numel(t), 6);
    CHECK_EQ_INT(ml_tensor_nbytes(t), 24);
    CHECK(ml_tensor_owns_data(t) && ml_tensor_storage_unique(t));
    CHECK(((uintptr_t)t->data % ML_TENSOR_ALIGN) == 0);
    float *f = t->data;
    CHECK(f[5] == 0.0f);
    for (int i = 0; i < 6; i++) f[i] = (float)i;

    int64_t flat[] = {6};
    ml_tensor *v;
    CHECK_OK(ml_tensor_view(t, 1, flat, &v));
    CHECK(v->data == t->data);
    CHECK(!ml_tensor_storage_unique(t));
    int64_t wrong[] = {7};
    ml_tensor *bad = (ml_tensor *)1;
    CHECK_ERR(ml_tensor_view(t, 1, wrong, &bad), ML_ERR_INVALID_ARGUMENT);
    CHECK(bad == NULL);
    ml_tensor_free(t); /* the view keeps the storage alive */
    CHECK(ML_TENSOR_DATA(v, float)[5] == 5.0f);
    CHECK(ml_tensor_storage_unique(v));
    ml_tensor_free(v);

    ml_tensor *scalar;
    CHECK_OK(ml_tensor_create(ML_INT64, 0, NULL, &scalar));
    CHECK_EQ_INT(ml_tensor_numel(scalar), 1);
    ml_tensor_free(scalar);

    int64_t empty_dims[] = {3, 0, 2};
    ml_tensor *empty;
    CHECK_OK(ml_tensor_create(ML_FLOAT, 3, empty_dims, &empty));
    CHECK_EQ_INT(ml_tensor_numel(empty), 0);
    CHECK(empty->data != NULL);
    ml_tensor_free(empty);
}

static void test_tensor_rejects_bad_shapes(void) {
    ml_tensor *t;
    int64_t neg[] = {2, -1};
    CHECK_ERR(ml_tensor_create(ML_FLOAT, 2, neg, &t), ML_ERR_INVALID_ARGUMENT);
    int64_t huge[] = {INT64_MAX, INT64_MAX};
    CHECK_ERR(ml_tensor_create(ML_FLOAT, 2, huge, &t), ML_ERR_INVALID_ARGUMENT);
    int64_t big[] = {1LL << 40, 1LL << 30};
    CHECK_ERR(ml_tensor_create(ML_DOUBLE, 2, big, &t), ML_ERR_INVALID_ARGUMENT);
    int64_t d[ML_MAX_RANK + 1] = {0};
    CHECK_ERR(ml_tensor_create(ML_FLOAT, ML_MAX_RANK + 1, d, &t), ML_ERR_UNSUPPORTED);
    CHECK_ERR(ml_tensor_create((ml_dtype)99, 0, NULL, &t), ML_ERR_INVALID_ARGUMENT);
    /* a zero dim with a huge other dim is valid and empty */
    int64_t zero_huge[] = {0, INT64_MAX};
    CHECK_OK(ml_tensor_create(ML_FLOAT, 2, zero_huge, &t));
    CHECK_EQ_INT(ml_tensor_numel(t), 0);
    ml_tensor_free(t);
}

static void test_tensor_strings(void) {
    int64_t dims[] = {3};
    ml_tensor *t;
    CHECK_OK(ml_tensor_create(ML_STRING, 1, dims, &t));
    ml_str *s = t->data;
    CHECK_EQ_INT(s[0].len, 0);
    CHECK_STR(s[0].data, "");
    CHECK_OK(ml_tensor_set_string(t, 0, "hello", 5));
    CHECK_OK(ml_tensor_set_string(t, 2, "a\0b", 3)); /* bytes, not C strings */
    CHECK_OK(ml_tensor_set_string(t, 0, "hi", 2));   /* overwrite frees the old bytes */
    CHECK_ERR(ml_tensor_set_string(t, 3, "x", 1), ML_ERR_INTERNAL);
    ml_tensor *c;
    CHECK_OK(ml_tensor_copy(t, &c));
    CHECK(((ml_str *)c->data)[0].data != s[0].data);
    CHECK_STR(((ml_str *)c->data)[0].data, "hi");
    CHECK_EQ_INT(((ml_str *)c->data)[2].len, 3);
    CHECK(memcmp(((ml_str *)c->data)[2].data, "a\0b", 3) == 0);
    ml_tensor_free(t);
    ml_tensor_free(c);

    ml_str borrowed[1] = {{"x", 1}};
    ml_tensor *b;
    int64_t one[] = {1};
    CHECK_OK(ml_tensor_create_borrowed(ML_STRING, 1, one, borrowed, &b));
    CHECK(!ml_tensor_owns_data(b));
    CHECK_ERR(ml_tensor_set_string(b, 0, "y", 1), ML_ERR_INTERNAL);
    ml_tensor_free(b);
}

static void test_tensor_f64_access(void) {
    ml_dtype types[] = {ML_FLOAT, ML_DOUBLE, ML_FLOAT16, ML_BFLOAT16, ML_INT8,  ML_UINT8,
                        ML_INT16, ML_UINT16, ML_INT32,   ML_UINT32,   ML_INT64, ML_UINT64};
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        int64_t dims[] = {2};
        ml_tensor *t;
        CHECK_OK(ml_tensor_create(types[i], 1, dims, &t));
        ml_tensor_set_f64(t, 1, 3.0);
        CHECK_NEAR(ml_tensor_get_f64(t, 1), 3.0, 0);
        CHECK_NEAR(ml_tensor_get_f64(t, 0), 0.0, 0);
        ml_tensor_free(t);
    }
    int64_t dims[] = {1};
    ml_tensor *b;
    CHECK_OK(ml_tensor_create(ML_BOOL, 1, dims, &b));
    ml_tensor_set_f64(b, 0, 0.5);
    CHECK_EQ_INT(((uint8_t *)b->data)[0], 1);
    ml_tensor_free(b);
    /* out-of-range values saturate instead of invoking undefined conversions */
    ml_tensor *i8;
    CHECK_OK(ml_tensor_create(ML_INT8, 1, dims, &i8));
    ml_tensor_set_f64(i8, 0, 300.0);
    CHECK_EQ_INT(((int8_t *)i8->data)[0], 127);
    ml_tensor_set_f64(i8, 0, -1e300);
    CHECK_EQ_INT(((int8_t *)i8->data)[0], -128);
    ml_tensor_set_f64(i8, 0, NAN);
    CHECK_EQ_INT(((int8_t *)i8->data)[0], 0);
    ml_tensor_free(i8);
    ml_tensor *u64;
    CHECK_OK(ml_tensor_create(ML_UINT64, 1, dims, &u64));
    ml_tensor_set_f64(u64, 0, 1e30);
    CHECK(((uint64_t *)u64->data)[0] > (1ull << 63));
    ml_tensor_set_f64(u64, 0, -5.0);
    CHECK_EQ_INT(((uint64_t *)u64->data)[0], 0);
    ml_tensor_free(u64);
}

static void test_shape_helpers(void) {
    int64_t a[] = {2, 1, 3}, b[] = {4, 1};
    int r;
    int64_t out[ML_MAX_RANK];
    CHECK_OK(ml_shape_broadcast(3, a, 2, b, &r, out));
    CHECK_EQ_INT(r, 3);
    CHECK(out[0] == 2 && out[1] == 4 && out[2] == 3);
    int64_t c[] = {2, 5};
    ml_status st = ml_shape_broadcast(3, a, 2, c, &r, out);
    CHECK(ml_status_code(st) == ML_ERR_INVALID_ARGUMENT);
    CHECK(strstr(ml_status_message(st), "[2,1,3]") != NULL);
    ml_status_free(st);
    int64_t zero[] = {0};
    CHECK_ERR(ml_shape_broadcast(3, a, 1, zero, &r, out), ML_ERR_INVALID_ARGUMENT);
    int64_t e[] = {0, 1}, f[] = {3};
    CHECK_OK(ml_shape_broadcast(2, e, 1, f, &r, out)); /* empty broadcasts: [0,3] */
    CHECK(r == 2 && out[0] == 0 && out[1] == 3);
    char buf[64];
    CHECK_STR(ml_shape_format(0, NULL, buf, sizeof buf), "[]");
    int64_t d[] = {-1, 7};
    CHECK_STR(ml_shape_format(2, d, buf, sizeof buf), "[-1,7]");
    CHECK(ml_shape_equal(2, d, 2, d) && !ml_shape_equal(2, d, 1, d));
}

static void test_value(void) {
    int64_t dims[] = {2};
    ml_tensor *t;
    CHECK_OK(ml_tensor_create(ML_INT64, 1, dims, &t));
    ml_value *v;
    CHECK_OK(ml_value_from_tensor(t, &v));
    ml_value *seq;
    CHECK_OK(ml_value_new_sequence(ML_UNDEFINED, &seq));
    CHECK_OK(ml_value_sequence_append(seq, v));
    CHECK_EQ_INT(seq->n_items, 1);
    CHECK(seq->elem_dtype == ML_INT64);
    ml_value *clone;
    CHECK_OK(ml_value_clone(seq, &clone));
    CHECK(clone->items[0]->tensor->data == t->data); /* shares storage */
    ml_value_free(seq);
    ml_value_free(clone);
    ml_value *none;
    CHECK_OK(ml_value_new_none(&none));
    CHECK(none->kind == ML_VALUE_NONE);
    ml_value_free(none);
    ml_value *notseq;
    ml_tensor *t2;
    CHECK_OK(ml_tensor_create(ML_INT64, 1, dims, &t2));
    CHECK_OK(ml_value_from_tensor(t2, &notseq));
    ml_tensor *t3;
    CHECK_OK(ml_tensor_create(ML_INT64, 1, dims, &t3));
    ml_value *item;
    CHECK_OK(ml_value_from_tensor(t3, &item));
    CHECK_ERR(ml_value_sequence_append(notseq, item), ML_ERR_INTERNAL); /* item freed */
    ml_value_free(notseq);
}

static void test_arena(void) {
    ml_arena a;
    ml_arena_init(&a, 128, 0);
    char *p = ml_arena_alloc(&a, 10, 1);
    CHECK(p != NULL);
    double *d = ml_arena_alloc(&a, sizeof(double) * 4, sizeof(double));
    CHECK(((uintptr_t)d % sizeof(double)) == 0);
    void *big = ml_arena_alloc(&a, 4096, 64); /* larger than a block */
    CHECK(big != NULL && ((uintptr_t)big % 64) == 0);
    memset(big, 0xab, 4096);
    char *s = ml_arena_strndup(&a, "hello world", 5);
    CHECK_STR(s, "hello");
    CHECK(ml_arena_alloc(&a, 8, 3) == NULL); /* alignment must be a power of two */
    ml_arena_reset(&a);
    CHECK_EQ_INT(a.total, 0);
    int *z = ml_arena_alloc(&a, sizeof(int) * 8, 0);
    CHECK(z && z[7] == 0);
    ml_arena_destroy(&a);

    ml_arena limited;
    ml_arena_init(&limited, 0, 100);
    CHECK(ml_arena_alloc(&limited, 60, 1) != NULL);
    CHECK(ml_arena_alloc(&limited, 60, 1) == NULL); /* over the limit */
    CHECK(ml_arena_alloc(&limited, 40, 1) != NULL);
    CHECK(ml_arena_alloc(&limited, SIZE_MAX, 1) == NULL);
    ml_arena_destroy(&limited);
}

typedef struct sum_ctx {
    const int *values;
    atomic_llong total;
    atomic_int calls;
} sum_ctx;

static void sum_range(void *arg, size_t begin, size_t end) {
    sum_ctx *c = arg;
    long long s = 0;
    for (size_t i = begin; i < end; i++) s += c->values[i];
    atomic_fetch_add(&c->total, s);
    atomic_fetch_add(&c->calls, 1);
}

typedef struct nested_ctx {
    ml_threadpool *pool;
    const int *values;
    atomic_llong total;
} nested_ctx;

static void nested_range(void *arg, size_t begin, size_t end) {
    nested_ctx *c = arg;
    for (size_t i = begin; i < end; i++) {
        sum_ctx inner = {.values = c->values};
        atomic_init(&inner.total, 0);
        atomic_init(&inner.calls, 0);
        ml_parallel_for(c->pool, 1000, 10, sum_range, &inner);
        atomic_fetch_add(&c->total, atomic_load(&inner.total));
    }
}

static void test_threadpool(void) {
    enum { N = 100000 };
    int *values = malloc(sizeof(int) * N);
    for (int i = 0; i < N; i++) values[i] = i % 7;
    long long expect = 0;
    for (int i = 0; i < N; i++) expect += values[i];

    ml_threadpool *pool;
    CHECK_OK(ml_threadpool_create(4, &pool));
    CHECK_EQ_INT(ml_threadpool_size(pool), 4);
    for (int rep = 0; rep < 50; rep++) {
        sum_ctx c = {.values = values};
        atomic_init(&c.total, 0);
        atomic_init(&c.calls, 0);
        ml_parallel_for(pool, N, 100, sum_range, &c);
        CHECK_EQ_INT(atomic_load(&c.total), expect);
        CHECK(atomic_load(&c.calls) > 1);
    }
    /* nested parallel-for must not deadlock and must be exact */
    nested_ctx n = {.pool = pool, .values = values};
    atomic_init(&n.total, 0);
    ml_parallel_for(pool, 64, 1, nested_range, &n);
    long long inner_expect = 0;
    for (int i = 0; i < 1000; i++) inner_expect += values[i];
    CHECK_EQ_INT(atomic_load(&n.total), inner_expect * 64);
    ml_threadpool_destroy(pool);

    /* a NULL pool and a pool of one run inline */
    sum_ctx c = {.values = values};
    atomic_init(&c.total, 0);
    atomic_init(&c.calls, 0);
    ml_parallel_for(NULL, N, 1, sum_range, &c);
    CHECK_EQ_INT(atomic_load(&c.total), expect);
    CHECK_EQ_INT(atomic_load(&c.calls), 1);
    ml_threadpool *one;
    CHECK_OK(ml_threadpool_create(1, &one));
    ml_parallel_for(one, 0, 1, sum_range, &c); /* empty range: no call */
    CHECK_EQ_INT(atomic_load(&c.calls), 1);
    ml_threadpool_destroy(one);
    CHECK_ERR(ml_threadpool_create(100000, &one), ML_ERR_INVALID_ARGUMENT);
    free(values);
}

static void test_clock_and_log(void) {
    uint64_t a = ml_now_ns(), b = ml_now_ns();
    CHECK(b >= a);
    CHECK(ml_unix_time() > 1700000000);
    CHECK_EQ_INT(ml_log_parse_level("debug"), ML_LOG_DEBUG);
    CHECK_EQ_INT(ml_log_parse_level("loud"), -1);
    ml_log_set_level(ML_LOG_WARN);
    CHECK(ml_log_get_level() == ML_LOG_WARN);
    ML_LOG_I("this info line is filtered out");
    ML_LOG_W("test warning line (expected in test output)");
}

int main(void) {
    RUN(test_status);
    RUN(test_dtype);
    RUN(test_half_precision);
    RUN(test_tensor_create_and_view);
    RUN(test_tensor_rejects_bad_shapes);
    RUN(test_tensor_strings);
    RUN(test_tensor_f64_access);
    RUN(test_shape_helpers);
    RUN(test_value);
    RUN(test_arena);
    RUN(test_threadpool);
    RUN(test_clock_and_log);
    return TEST_SUMMARY();
}
