/* The direct JSON writer must produce exactly jansson's text: reals (random
 * float32 and float64 bit patterns, edge cases), strings (escapes, UTF-8
 * validity) and whole KServe responses against a jansson-built reference. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/codec.h"
#include "api/json_writer.h"
#include "test.h"

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint64_t next(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

/* jansson's text for one real at a precision. */
static char *jansson_real(double v, int precision) {
    json_t *j = json_real(v);
    char *s = json_dumps(j, JSON_ENCODE_ANY | JSON_COMPACT |
                                (precision == 17 ? 0 : JSON_REAL_PRECISION(precision)));
    json_decref(j);
    return s;
}

static int mismatches;
static void same_real(double v, int precision) {
    char mine[40];
    ml_json_real_text(v, precision, mine);
    char *ref = jansson_real(v, precision);
    if (ref && strcmp(mine, ref) != 0 && mismatches++ < 10)
        printf("    %.17g at precision %d: ours %s, jansson %s\n", v, precision, mine, ref);
    free(ref);
}

static void test_reals(void) {
    const double edge[] = {0.0,           -0.0,
                           1.0,           -1.0,
                           7.0,           0.5,
                           0.1,           1e-4,
                           9.99999999e-5, 1e-5,
                           1e9,           999999999.0,
                           999999999.5,   123456789.4,
                           1234567.125,   1e16,
                           1e17,          1e21,
                           1e22,          1e-300,
                           5e-324,        1.7976931348623157e308,
                           0.132844418,   1.45165879e-08,
                           2.5,           -0.0001,
                           100.0,         0.30000000000000004};
    for (size_t i = 0; i < sizeof edge / sizeof *edge; i++) {
        same_real(edge[i], 9);
        same_real(edge[i], 17);
        same_real((double)(float)edge[i], 9);
    }
    /* random float32 values (what most models output), all exponents */
    for (int i = 0; i < 1000000; i++) {
        uint32_t bits = (uint32_t)next();
        float f;
        memcpy(&f, &bits, sizeof f);
        if (!isfinite(f)) continue;
        same_real((double)f, 9);
    }
    /* float32 in the usual ranges (probabilities, logits, pixels) */
    for (int i = 0; i < 1000000; i++) {
        double u = (double)(next() >> 11) / 9007199254740992.0;
        float f = (float)((u - 0.3) * pow(10.0, (double)(int)(next() % 12) - 6));
        same_real((double)f, 9);
    }
    /* random float64 bit patterns at both precisions */
    for (int i = 0; i < 300000; i++) {
        uint64_t bits = next();
        double d;
        memcpy(&d, &bits, sizeof d);
        if (!isfinite(d)) continue;
        same_real(d, 17);
        same_real(d, 9);
    }
    /* float64 in ordinary ranges */
    for (int i = 0; i < 300000; i++) {
        double u = (double)(next() >> 11) / 9007199254740992.0;
        double d = (u - 0.5) * pow(10.0, (double)(int)(next() % 24) - 8);
        same_real(d, 17);
    }
    /* integers of every size */
    for (int i = 0; i < 200000; i++) {
        double d = (double)(int64_t)(next() >> (next() % 64));
        same_real(d, 9);
        same_real(d, 17);
    }
    CHECK_EQ_INT(mismatches, 0);
}

static void test_strings(void) {
    const char *cases[] = {"plain",
                           "quote\" back\\slash",
                           "ctl \b\f\n\r\t \x01\x1f end",
                           "slash / and del \x7f",
                           "utf8 \xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80",
                           "",
                           "nul"};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        size_t n = strlen(cases[i]) + (i == 6 ? 1 : 0); /* the last one carries a NUL */
        ml_jw w = {0};
        CHECK(ml_jw_string(&w, cases[i], n));
        char *mine = ml_jw_take(&w, NULL);
        json_t *j = json_stringn(cases[i], n);
        char *ref = json_dumps(j, JSON_ENCODE_ANY | JSON_COMPACT);
        CHECK_STR(mine, ref);
        free(mine);
        free(ref);
        json_decref(j);
    }
    /* invalid UTF-8 is refused, as jansson refuses it */
    const char *bad[] = {"\xff", "\xc0\x80", "\xed\xa0\x80", "\xf4\x90\x80\x80", "ab\xe2\x82"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        ml_jw w = {0};
        CHECK(!ml_jw_string(&w, bad[i], strlen(bad[i])));
        CHECK(json_stringn(bad[i], strlen(bad[i])) == NULL);
        ml_jw_free(&w);
    }
}

/* The reference: the jansson tree the old encoder built. */
static char *reference_response(const char *model, int version, const char *id,
                                const ml_tensor_list *outs) {
    json_t *arr = json_array();
    json_t *resp = json_pack("{s:s}", "model_name", model);
    if (version > 0) {
        char v[16];
        snprintf(v, sizeof v, "%d", version);
        json_object_set_new(resp, "model_version", json_string(v));
    }
    json_object_set_new(resp, "outputs", arr);
    if (id) json_object_set_new(resp, "id", json_string(id));
    for (size_t i = 0; i < outs->n; i++) {
        const ml_tensor *t = outs->tensors[i];
        json_t *shape = json_array();
        for (int k = 0; k < t->rank; k++) json_array_append_new(shape, json_integer(t->dims[k]));
        json_t *o = json_pack("{s:s, s:s, s:o, s:o}", "name", outs->names[i], "datatype",
                              ml_dtype_kserve_name(t->dtype), "shape", shape, "data",
                              ml_tensor_to_flat_json(t));
        json_array_append_new(arr, o);
    }
    char *s = json_dumps(resp, ml_json_dump_flags(outs));
    json_decref(resp);
    return s;
}

static void add(ml_tensor_list *l, const char *name, ml_dtype dt, int64_t n) {
    ml_tensor *t;
    CHECK_OK(ml_tensor_create(dt, 1, &n, &t));
    for (int64_t i = 0; i < n; i++) {
        if (dt == ML_STRING) {
            const char *s = i % 3 == 0 ? "h\xc3\xa9llo \"x\"" : i % 3 == 1 ? "\xff\xfe" : "";
            CHECK_OK(ml_tensor_set_string(t, (size_t)i, s, strlen(s)));
        } else {
            double u = (double)(next() >> 11) / 9007199254740992.0;
            double v = i % 7 == 0 ? (double)(i - 3) : (u - 0.5) * pow(10.0, (double)(i % 9) - 4);
            if (dt == ML_FLOAT && i == 5) v = NAN;
            if (dt == ML_FLOAT && i == 6) v = -INFINITY;
            ml_tensor_set_f64(t, (size_t)i, v);
        }
    }
    CHECK_OK(ml_tensor_list_add(l, name, t));
}

static void test_kserve_response(void) {
    const ml_dtype types[] = {ML_FLOAT, ML_INT64,  ML_INT32,   ML_UINT8,
                              ML_BOOL,  ML_STRING, ML_FLOAT16, ML_DOUBLE};
    for (int with_double = 0; with_double < 2; with_double++) {
        ml_tensor_list outs = {0};
        for (size_t k = 0; k < sizeof types / sizeof *types; k++) {
            if (types[k] == ML_DOUBLE && !with_double) continue;
            char name[32];
            snprintf(name, sizeof name, "out_%zu \"q\"", k);
            add(&outs, name, types[k], 40);
        }
        ml_kserve_request req = {0};
        req.id = "req-\xc3\xa9";
        char *body = NULL;
        size_t len = 0, hl = 0;
        CHECK_OK(ml_kserve_encode("model/x", with_double ? 0 : 3, &req, &outs, &body, &len, &hl));
        char *ref = reference_response("model/x", with_double ? 0 : 3, req.id, &outs);
        CHECK_EQ_INT((long)len, (long)hl);
        CHECK_STR(body, ref);
        free(body);
        free(ref);
        ml_tensor_list_clear(&outs);
    }
}

int main(void) {
    RUN(test_reals);
    RUN(test_strings);
    RUN(test_kserve_response);
    return TEST_SUMMARY();
}
