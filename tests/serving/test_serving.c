/* Unit tests of the serving layer pieces that need no model: metrics
 * (Prometheus text, percentiles), request validation and tensor lists.
 * Pipelines, weighted splits and hot swap run against real models in
 * tests/api (test_http). */
#include <stdlib.h>
#include <string.h>

#include "serving/output_convert.h"
#include "serving/runtime.h"
#include "test.h"

static void test_metrics(void) {
    ml_metrics *m = ml_metrics_create();
    for (int i = 0; i < 100; i++) {
        ml_latency l = {1000, (uint64_t)(i + 1) * 100000,
                        (uint64_t)(i + 1) * 100000}; /* 0.1..10 ms */
        ml_metrics_record(m, ML_METRIC_MODEL, "m", 3, &l, i % 10 == 0);
    }
    ml_latency l = {0, 0, 5000000};
    ml_metrics_record(m, ML_METRIC_APP, "app", 99, &l, false);
    ml_metrics_http(m, 200);
    ml_metrics_http(m, 200);
    ml_metrics_http(m, 404);
    char *text = ml_metrics_prometheus(m, 4);
    CHECK(text != NULL);
    CHECK(strstr(text, "mlambda_model_requests_total{model=\"m\",version=\"3\"} 100\n") != NULL);
    CHECK(strstr(text, "mlambda_model_errors_total{model=\"m\",version=\"3\"} 10\n") != NULL);
    CHECK(strstr(text, "mlambda_application_requests_total{application=\"app\"} 1\n") != NULL);
    CHECK(strstr(text, "mlambda_model_total_latency_seconds_bucket{model=\"m\",version=\"3\",le=\"+"
                       "Inf\"} 100\n") != NULL);
    CHECK(strstr(text, "mlambda_model_total_latency_seconds_bucket{model=\"m\",version=\"3\",le="
                       "\"0.001\"} 10\n") != NULL);
    CHECK(strstr(text, "# TYPE mlambda_application_compute_latency_seconds histogram\n") != NULL);
    CHECK(strstr(text, "mlambda_http_requests_total{code=\"200\"} 2\n") != NULL);
    CHECK(strstr(text, "mlambda_loaded_models 4\n") != NULL);
    free(text);
    json_t *s = ml_metrics_stats(m);
    json_t *mm = json_array_get(json_object_get(s, "models"), 0);
    CHECK_EQ_INT(json_integer_value(json_object_get(mm, "requests")), 100);
    CHECK_EQ_INT(json_integer_value(json_object_get(mm, "version")), 3);
    double p50 = json_number_value(json_object_get(mm, "p50_ms")),
           p99 = json_number_value(json_object_get(mm, "p99_ms"));
    CHECK(p50 > 2.5 && p50 <= 10.0); /* true median 5 ms; bucket [2.5, 5] or [5, 10] */
    CHECK(p99 >= p50 && p99 <= 10.0);
    CHECK_EQ_INT(json_array_size(json_object_get(s, "applications")), 1);
    json_decref(s);
    ml_metrics_free(m);
}

static ml_tensor *floats(int rank, const int64_t *dims) {
    ml_tensor *t = NULL;
    ml_status st = ml_tensor_create(ML_FLOAT, rank, dims, &t);
    ml_status_free(st);
    return t;
}

static void test_check_inputs(void) {
    json_t *j = json_loads("{\"inputs\":[{\"name\":\"x\",\"dtype\":\"float\",\"shape\":[-1,2]}],"
                           "\"outputs\":[{\"name\":\"y\",\"dtype\":\"float\",\"shape\":null}]}",
                           0, NULL);
    ml_contract *c = NULL;
    CHECK_OK(ml_contract_from_json(j, &c));
    json_decref(j);
    if (!c) return;
    ml_tensor_list l = {0};
    CHECK_ERR(ml_check_inputs(c, &l), ML_ERR_INVALID_ARGUMENT); /* missing x */
    int64_t ok[2] = {5, 2}, bad[2] = {5, 3};
    CHECK_OK(ml_tensor_list_add(&l, "x", floats(2, ok)));
    CHECK_OK(ml_check_inputs(c, &l));
    CHECK(ml_tensor_list_get(&l, "x") != NULL);
    CHECK(ml_tensor_list_get(&l, "nope") == NULL);
    ml_tensor_list_clear(&l);
    CHECK_OK(ml_tensor_list_add(&l, "x", floats(2, bad)));
    ml_status st = ml_check_inputs(c, &l);
    CHECK(strstr(ml_status_message(st), "input 'x': expected shape [-1,2], got [5,3]") != NULL);
    ml_status_free(st);
    CHECK_OK(ml_tensor_list_add(&l, "extra", floats(2, ok)));
    st = ml_check_inputs(c, &l);
    CHECK(strstr(ml_status_message(st), "unknown input 'extra'") != NULL);
    ml_status_free(st);
    ml_tensor_list_clear(&l);
    CHECK_EQ_INT(l.n, 0);
    ml_contract_free(c);
}

static ml_value *int_map(const int64_t *keys, const float *vals, int64_t n) {
    ml_tensor *k, *v;
    ml_value *m = NULL;
    CHECK_OK(ml_tensor_create(ML_INT64, 1, &n, &k));
    CHECK_OK(ml_tensor_create(ML_FLOAT, 1, &n, &v));
    memcpy(k->data, keys, (size_t)n * sizeof *keys);
    memcpy(v->data, vals, (size_t)n * sizeof *vals);
    CHECK_OK(ml_value_new_map(k, v, &m));
    return m;
}

static void test_output_convert(void) {
    const int64_t keys[] = {0, 1, 2}, other[] = {0, 1, 7};
    const float p1[] = {0.25f, 0.5f, 0.25f}, p2[] = {0.5f, 0.5f, 0.0f};
    /* ZipMap-style: same keys everywhere -> [N, K] */
    ml_value *seq;
    CHECK_OK(ml_value_new_sequence(ML_UNDEFINED, &seq));
    CHECK_OK(ml_value_sequence_append(seq, int_map(keys, p1, 3)));
    CHECK_OK(ml_value_sequence_append(seq, int_map(keys, p2, 3)));
    ml_tensor *t = NULL;
    CHECK_OK(ml_output_to_tensor(seq, "p", &t));
    CHECK_EQ_INT(t->dtype, ML_FLOAT);
    CHECK_EQ_INT(t->rank, 2);
    CHECK_EQ_INT(t->dims[0], 2);
    CHECK_EQ_INT(t->dims[1], 3);
    CHECK_NEAR(ML_TENSOR_DATA(t, float)[3], 0.5, 1e-7);
    ml_tensor_free(t);
    /* keys differ between rows -> one JSON object text per row */
    CHECK_OK(ml_value_sequence_append(seq, int_map(other, p1, 3)));
    CHECK_OK(ml_output_to_tensor(seq, "p", &t));
    CHECK_EQ_INT(t->dtype, ML_STRING);
    CHECK_EQ_INT(t->dims[0], 3);
    CHECK_STR(ML_TENSOR_DATA(t, ml_str)[2].data, "{\"0\":0.25,\"1\":0.5,\"7\":0.25}");
    ml_tensor_free(t);
    ml_value_free(seq);
    /* a single map -> its values */
    ml_value *m = int_map(keys, p1, 3);
    CHECK_OK(ml_output_to_tensor(m, "m", &t));
    CHECK_EQ_INT(t->rank, 1);
    CHECK_EQ_INT(t->dims[0], 3);
    ml_tensor_free(t);
    ml_value_free(m);
    /* tensors of one shape stack; ragged ones are refused with the name */
    CHECK_OK(ml_value_new_sequence(ML_FLOAT, &seq));
    for (int i = 0; i < 2; i++) {
        int64_t d[2] = {1, 2};
        ml_tensor *x;
        ml_value *v;
        CHECK_OK(ml_tensor_create(ML_FLOAT, 2, d, &x));
        ML_TENSOR_DATA(x, float)[0] = (float)i;
        ML_TENSOR_DATA(x, float)[1] = 9.0f;
        CHECK_OK(ml_value_from_tensor(x, &v));
        CHECK_OK(ml_value_sequence_append(seq, v));
    }
    CHECK_OK(ml_output_to_tensor(seq, "s", &t));
    CHECK_EQ_INT(t->rank, 3);
    CHECK_EQ_INT(t->dims[0], 2);
    CHECK_NEAR(ML_TENSOR_DATA(t, float)[2], 1.0, 0);
    ml_tensor_free(t);
    {
        int64_t d[1] = {5};
        ml_tensor *x;
        ml_value *v;
        CHECK_OK(ml_tensor_create(ML_FLOAT, 1, d, &x));
        memset(x->data, 0, 5 * sizeof(float));
        CHECK_OK(ml_value_from_tensor(x, &v));
        CHECK_OK(ml_value_sequence_append(seq, v));
    }
    ml_status st = ml_output_to_tensor(seq, "ragged", &t);
    CHECK(st && ml_status_code(st) == ML_ERR_UNSUPPORTED);
    CHECK(st && strstr(ml_status_message(st), "'ragged'"));
    ml_status_free(st);
    ml_value_free(seq);
    /* an empty sequence is an empty tensor of its element type */
    CHECK_OK(ml_value_new_sequence(ML_INT64, &seq));
    CHECK_OK(ml_output_to_tensor(seq, "e", &t));
    CHECK_EQ_INT(t->dtype, ML_INT64);
    CHECK_EQ_INT(t->dims[0], 0);
    ml_tensor_free(t);
    ml_value_free(seq);
}

int main(void) {
    RUN(test_metrics);
    RUN(test_check_inputs);
    RUN(test_output_convert);
    return TEST_SUMMARY();
}
