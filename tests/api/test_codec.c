/* Unit tests of the JSON <-> tensor codecs (no server): nested arrays,
 * dtype coercion, limits, base64, KServe JSON and binary, TF and gateway. */
#include <stdlib.h>
#include <string.h>

#include "api/codec.h"
#include "test.h"

static ml_json_limits lim;

/* Dumps and releases a new reference. */
static char *dump(json_t *j, size_t flags) {
    char *s = json_dumps(j, flags);
    json_decref(j);
    return s;
}

static ml_contract *contract(const char *json) {
    json_t *j = json_loads(json, 0, NULL);
    ml_contract *c = NULL;
    ml_status st = ml_contract_from_json(j, &c);
    ml_status_free(st);
    json_decref(j);
    return c;
}

static void test_nested(void) {
    json_t *j = json_loads("[[1, 2, 3], [4, 5, 6]]", 0, NULL);
    ml_tensor *t = NULL;
    CHECK_OK(ml_json_to_tensor(j, ML_FLOAT, &lim, "x", &t));
    if (t) {
        CHECK_EQ_INT(t->rank, 2);
        CHECK_EQ_INT(t->dims[1], 3);
        CHECK_NEAR(ML_TENSOR_DATA(t, float)[5], 6.0, 0);
        char *s = dump(ml_tensor_to_json(t), JSON_COMPACT | JSON_REAL_PRECISION(9));
        CHECK_STR(s, "[[1.0,2.0,3.0],[4.0,5.0,6.0]]");
        free(s);
        ml_tensor_free(t);
    }
    CHECK_OK(ml_json_to_tensor(j, ML_UNDEFINED, &lim, "x", &t)); /* inferred int64 */
    if (t) CHECK_EQ_INT(t->dtype, ML_INT64);
    ml_tensor_free(t);
    CHECK_OK(ml_json_to_tensor(j, ML_UINT8, &lim, "x", &t));
    ml_tensor_free(t);
    json_decref(j);
    j = json_loads("[[1, 2], [3]]", 0, NULL);
    ml_status st = ml_json_to_tensor(j, ML_FLOAT, &lim, "x", &t);
    CHECK(strstr(ml_status_message(st),
                 "input 'x': ragged nested array: expected 2 elements at depth 1, got 1"));
    ml_status_free(st);
    json_decref(j);
    j = json_loads("[300]", 0, NULL);
    CHECK_ERR(ml_json_to_tensor(j, ML_UINT8, &lim, "x", &t),
              ML_ERR_INVALID_ARGUMENT); /* out of range */
    CHECK_ERR(ml_json_to_tensor(j, ML_STRING, &lim, "x", &t), ML_ERR_INVALID_ARGUMENT);
    json_decref(j);
    j = json_loads("[1.5]", 0, NULL);
    CHECK_ERR(ml_json_to_tensor(j, ML_INT64, &lim, "x", &t), ML_ERR_INVALID_ARGUMENT);
    json_decref(j);
    j = json_loads("[true, 0]", 0, NULL);
    CHECK_OK(ml_json_to_tensor(j, ML_BOOL, &lim, "b", &t));
    if (t) CHECK_EQ_INT(ML_TENSOR_DATA(t, uint8_t)[0], 1);
    ml_tensor_free(t);
    json_decref(j);
    j = json_loads("[\"NaN\", 1]", 0, NULL);
    CHECK_OK(ml_json_to_tensor(j, ML_DOUBLE, &lim, "d", &t));
    if (t) CHECK(ML_TENSOR_DATA(t, double)[0] != ML_TENSOR_DATA(t, double)[0]);
    ml_tensor_free(t);
    json_decref(j);
    /* Limits: elements and depth. */
    ml_json_limits small = lim;
    small.max_elements = 3;
    small.max_depth = 2;
    j = json_loads("[1, 2, 3, 4]", 0, NULL);
    CHECK_ERR(ml_json_to_tensor(j, ML_FLOAT, &small, "x", &t), ML_ERR_RESOURCE_EXHAUSTED);
    json_decref(j);
    j = json_loads("[[[1]]]", 0, NULL);
    CHECK_ERR(ml_json_to_tensor(j, ML_FLOAT, &small, "x", &t), ML_ERR_INVALID_ARGUMENT);
    json_decref(j);
}

static void test_base64(void) {
    char *out;
    size_t n;
    CHECK_OK(ml_base64_decode("aGVsbG8=", 8, &out, &n));
    CHECK_EQ_INT(n, 5);
    CHECK(memcmp(out, "hello", 5) == 0);
    free(out);
    CHECK_OK(ml_base64_decode("aGVsbG8", 7, &out, &n)); /* padding optional */
    CHECK_EQ_INT(n, 5);
    free(out);
    CHECK_ERR(ml_base64_decode("a$==", 4, &out, &n), ML_ERR_INVALID_ARGUMENT);
    char *e = ml_base64_encode("\xff\x00\x01", 3);
    CHECK_STR(e, "/wAB");
    free(e);
    /* A string that is not UTF-8 comes back as {"b64"}. */
    int64_t d[1] = {1};
    ml_tensor *t = NULL;
    CHECK_OK(ml_tensor_create(ML_STRING, 1, d, &t));
    if (!t) return;
    CHECK_OK(ml_tensor_set_string(t, 0, "\xff\x00\x01", 3));
    char *s = dump(ml_tensor_to_json(t), JSON_COMPACT);
    CHECK_STR(s, "[{\"b64\":\"/wAB\"}]");
    free(s);
    /* TF-Serving: outputs named *_bytes answer {"b64"} even when UTF-8. */
    ml_tensor *u = NULL;
    CHECK_OK(ml_tensor_create(ML_STRING, 1, d, &u));
    if (u) CHECK_OK(ml_tensor_set_string(u, 0, "hi", 2));
    ml_tensor_list outs = {0};
    CHECK_OK(ml_tensor_list_add(&outs, "out_bytes", t));
    t = NULL;
    CHECK_OK(ml_tensor_list_add(&outs, "text", u));
    ml_tf_request req = {{0}, false};
    s = dump(ml_tf_encode(&req, &outs), JSON_COMPACT);
    CHECK_STR(s, "{\"outputs\":{\"out_bytes\":[{\"b64\":\"/wAB\"}],\"text\":[\"hi\"]}}");
    free(s);
    req.row_format = true;
    s = dump(ml_tf_encode(&req, &outs), JSON_COMPACT);
    CHECK_STR(s, "{\"predictions\":[{\"out_bytes\":{\"b64\":\"/wAB\"},\"text\":\"hi\"}]}");
    free(s);
    ml_tensor_list_clear(&outs);
}

static void test_kserve_decode(void) {
    const char *body =
        "{\"id\":\"7\",\"inputs\":[{\"name\":\"a\",\"shape\":[2,2],\"datatype\":\"INT32\","
        "\"data\":[[1,2],[3,4]]}],\"outputs\":[{\"name\":\"z\",\"parameters\":{\"binary_data\":"
        "true}}]}";
    ml_kserve_request r;
    CHECK_OK(ml_kserve_decode(body, strlen(body), strlen(body), &lim, &r));
    CHECK_STR(r.id, "7");
    CHECK_EQ_INT(r.inputs.n, 1);
    CHECK_EQ_INT(r.inputs.tensors[0]->dtype, ML_INT32);
    CHECK_EQ_INT(ML_TENSOR_DATA(r.inputs.tensors[0], int32_t)[3], 4);
    CHECK_EQ_INT(r.n_outputs, 1);
    CHECK(r.outputs_binary[0]);
    /* Encode: z as binary. */
    ml_tensor_list outs = {0};
    ml_tensor *z = NULL;
    CHECK_OK(ml_tensor_copy(r.inputs.tensors[0], &z));
    CHECK_OK(ml_tensor_list_add(&outs, "z", z));
    char *resp;
    size_t len, hl;
    CHECK_OK(ml_kserve_encode("m", 2, &r, &outs, &resp, &len, &hl));
    CHECK_EQ_INT(len - hl, 16);
    CHECK(strstr(resp, "\"binary_data_size\":16") != NULL);
    free(resp);
    ml_tensor_list_clear(&outs);
    ml_kserve_request_clear(&r);
    const char *bad[] = {
        "{\"inputs\":[{\"name\":\"a\",\"shape\":[3],\"datatype\":\"FP32\",\"data\":[1,2]}]}",
        "{\"inputs\":[{\"name\":\"a\",\"shape\":[1],\"datatype\":\"FP32\",\"data\":[1,2]}]}",
        "{\"inputs\":[{\"name\":\"a\",\"shape\":[-1],\"datatype\":\"FP32\",\"data\":[1]}]}",
        "{\"inputs\":[{\"name\":\"a\",\"shape\":[1],\"datatype\":\"WAT\",\"data\":[1]}]}",
        "{\"inputs\":[{\"name\":\"a\",\"shape\":[1],\"datatype\":\"FP32\",\"data\":[\"x\"]}]}",
        "{\"inputs\":[{\"name\":\"a\",\"shape\":[1],\"datatype\":\"FP32\",\"data\":[1]},"
        "{\"name\":\"a\",\"shape\":[1],\"datatype\":\"FP32\",\"data\":[1]}]}",
        "{\"inputs\":[{\"shape\":[1],\"datatype\":\"FP32\",\"data\":[1]}]}",
        "{\"inputs\":[]}",
        "[1,2]",
        "{\"inputs\":[{\"name\":\"a\",\"shape\":[4000000000,4000000000],\"datatype\":\"FP32\","
        "\"data\":[1]}]}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        ml_status st = ml_kserve_decode(bad[i], strlen(bad[i]), strlen(bad[i]), &lim, &r);
        CHECK(st != NULL);
        if (!st) {
            fprintf(stderr, "    accepted: %s\n", bad[i]);
            ml_kserve_request_clear(&r);
        }
        ml_status_free(st);
    }
    /* Binary: BYTES elements must fill the claimed size exactly. */
    const char *h = "{\"inputs\":[{\"name\":\"s\",\"shape\":[1],\"datatype\":\"BYTES\","
                    "\"parameters\":{\"binary_data_size\":6}}]}";
    char buf[256];
    size_t hlen = strlen(h);
    memcpy(buf, h, hlen);
    memcpy(buf + hlen, "\x02\0\0\0hi", 6);
    CHECK_OK(ml_kserve_decode(buf, hlen + 6, hlen, &lim, &r));
    if (r.inputs.n) CHECK_EQ_INT(ML_TENSOR_DATA(r.inputs.tensors[0], ml_str)[0].len, 2);
    ml_kserve_request_clear(&r);
    memcpy(buf + hlen, "\x09\0\0\0hi", 6);
    CHECK_ERR(ml_kserve_decode(buf, hlen + 6, hlen, &lim, &r), ML_ERR_INVALID_ARGUMENT);
    CHECK_ERR(ml_kserve_decode(buf, hlen + 6, hlen + 100, &lim, &r), ML_ERR_INVALID_ARGUMENT);
    CHECK_ERR(ml_kserve_decode(buf, hlen + 7, hlen, &lim, &r),
              ML_ERR_INVALID_ARGUMENT); /* unclaimed byte */
}

static void test_tf_and_gateway(void) {
    ml_contract *c = contract("{\"inputs\":[{\"name\":\"a\",\"dtype\":\"float\",\"shape\":[-1,2]},"
                              "{\"name\":\"b\",\"dtype\":\"int64\",\"shape\":[-1]}],"
                              "\"outputs\":[{\"name\":\"y\",\"dtype\":\"float\",\"shape\":[-1]}]}");
    CHECK(c != NULL);
    const char *rows = "{\"instances\":[{\"a\":[1,2],\"b\":3},{\"a\":[4,5],\"b\":6}]}";
    ml_tf_request r;
    CHECK_OK(ml_tf_decode(rows, strlen(rows), c, &lim, &r));
    CHECK(r.row_format);
    ml_tensor *a = ml_tensor_list_get(&r.inputs, "a"), *b = ml_tensor_list_get(&r.inputs, "b");
    CHECK(a && a->rank == 2 && a->dims[0] == 2 && a->dtype == ML_FLOAT);
    CHECK(b && b->rank == 1 && b->dtype == ML_INT64);
    /* Several outputs in row format: one object per row. */
    char *s = dump(ml_tf_encode(&r, &r.inputs), JSON_COMPACT | JSON_REAL_PRECISION(9));
    CHECK_STR(s, "{\"predictions\":[{\"a\":[1.0,2.0],\"b\":3},{\"a\":[4.0,5.0],\"b\":6}]}");
    free(s);
    ml_tensor_list_clear(&r.inputs);
    const char *missing = "{\"instances\":[{\"a\":[1,2],\"b\":3},{\"a\":[4,5]}]}";
    CHECK_ERR(ml_tf_decode(missing, strlen(missing), c, &lim, &r), ML_ERR_INVALID_ARGUMENT);
    const char *both = "{\"instances\":[1],\"inputs\":[1]}";
    CHECK_ERR(ml_tf_decode(both, strlen(both), c, &lim, &r), ML_ERR_INVALID_ARGUMENT);
    const char *cols = "{\"inputs\":{\"a\":[[1,2]],\"b\":[1]}}";
    CHECK_OK(ml_tf_decode(cols, strlen(cols), c, &lim, &r));
    CHECK(!r.row_format);
    CHECK_EQ_INT(r.inputs.n, 2);
    ml_tensor_list_clear(&r.inputs);
    ml_tensor_list g;
    const char *gw = "{\"a\":[[1,2]],\"b\":[7]}";
    CHECK_OK(ml_gateway_decode(gw, strlen(gw), c, &lim, &g));
    s = dump(ml_gateway_encode(&g), JSON_COMPACT | JSON_REAL_PRECISION(9));
    CHECK_STR(s, "{\"a\":[[1.0,2.0]],\"b\":[7]}");
    free(s);
    ml_tensor_list_clear(&g);
    CHECK_ERR(ml_gateway_decode("[]", 2, c, &lim, &g), ML_ERR_INVALID_ARGUMENT);
    CHECK_ERR(ml_gateway_decode("{\"b\":[1.5]}", 11, c, &lim, &g), ML_ERR_INVALID_ARGUMENT);
    ml_contract_free(c);
}

int main(void) {
    ml_json_limits_default(&lim);
    RUN(test_nested);
    RUN(test_base64);
    RUN(test_kserve_decode);
    RUN(test_tf_and_gateway);
    return TEST_SUMMARY();
}
