/* Unit tests of the KServe V2 JSON fast path (src/api/codec_fast.c): every
 * body is decoded by the fast path and by the jansson decoder alone, and the
 * two must agree byte for byte whenever the fast path handles the body; a
 * body it declines must be one it cannot (or need not) handle. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/codec.h"
#include "api/codec_fast.h"
#include "test.h"

static ml_json_limits lim;

enum { DECLINED = 0, HANDLED = 1 };
enum { JANSSON_ERR = 0, JANSSON_OK = 1 };

/* Runs both decoders on body[0..len) with a JSON header of hl bytes. CHECKs
 * that a handled body decodes identically with jansson (and through the
 * hooked ml_kserve_decode); returns whether the fast path handled it and
 * stores whether jansson accepted it. */
static int n_bodies, n_handled;

static int run_both(const char *body, size_t len, size_t hl, int *jansson_ok, int line) {
    n_bodies++;
    ml_kserve_request fast, slow, hooked;
    bool handled = false;
    ml_status fst = ml_kserve_decode_fast(body, len, hl, &lim, &fast, &handled);
    CHECK(fst == NULL);
    ml_status_free(fst);
    ml_kserve_fast_set_enabled(false);
    ml_status sst = ml_kserve_decode(body, len, hl, &lim, &slow);
    ml_kserve_fast_set_enabled(true);
    ml_status hst = ml_kserve_decode(body, len, hl, &lim, &hooked);
    *jansson_ok = sst == NULL;
    /* the hooked decoder always answers like jansson */
    if (!sst != !hst || (sst && strcmp(ml_status_message(sst), ml_status_message(hst)) != 0)) {
        fprintf(stderr, "    line %d: hooked decoder differs from jansson\n", line);
        test_failures_in_current++;
    }
    if (!sst && !hst && !ml_kserve_request_same(&slow, &hooked)) {
        fprintf(stderr, "    line %d: hooked result differs from jansson\n", line);
        test_failures_in_current++;
    }
    if (handled) {
        n_handled++;
        if (sst) {
            fprintf(stderr, "    line %d: fast path accepted a body jansson rejects: %s\n", line,
                    ml_status_message(sst));
            test_failures_in_current++;
        } else if (!ml_kserve_request_same(&fast, &slow)) {
            fprintf(stderr, "    line %d: fast and jansson results differ\n", line);
            test_failures_in_current++;
        }
        ml_kserve_request_clear(&fast);
    } else {
        /* a decline leaves nothing behind */
        CHECK(fast.id == NULL && fast.inputs.n == 0 && fast.outputs == NULL);
    }
    if (!sst) ml_kserve_request_clear(&slow);
    if (!hst) ml_kserve_request_clear(&hooked);
    ml_status_free(sst);
    ml_status_free(hst);
    return handled ? HANDLED : DECLINED;
}

/* Expects the fast path's verdict and jansson's on a JSON-only body. */
static void expect_at(const char *body, int handled, int jansson, int line) {
    int ok;
    int h = run_both(body, strlen(body), strlen(body), &ok, line);
    if (h != handled || ok != jansson) {
        fprintf(stderr, "    line %d: %s: expected %s/%s, got %s/%s\n", line, body,
                handled ? "handled" : "declined", jansson ? "jansson ok" : "jansson error",
                h ? "handled" : "declined", ok ? "jansson ok" : "jansson error");
        test_failures_in_current++;
    }
}
#define EXPECT(body, handled, jansson) expect_at(body, handled, jansson, __LINE__)
#define FAST(body) EXPECT(body, HANDLED, JANSSON_OK)

/* Decodes a handled body with the fast path (for checks on values). */
static ml_tensor *fast_tensor(const char *body, ml_kserve_request *r) {
    bool handled = false;
    ml_status_free(ml_kserve_decode_fast(body, strlen(body), strlen(body), &lim, r, &handled));
    CHECK(handled);
    return handled && r->inputs.n ? r->inputs.tensors[0] : NULL;
}

static void test_every_dtype(void) {
    static const char *const dts[] = {"FP32",   "FP64",   "FP16",    "BF16",  "INT8",
                                      "INT16",  "INT32",  "INT64",   "UINT8", "UINT16",
                                      "UINT32", "UINT64", "float32", "int",   "Bool"};
    char body[512];
    for (size_t i = 0; i < sizeof dts / sizeof dts[0]; i++) {
        int is_bool = !strcmp(dts[i], "Bool");
        snprintf(body, sizeof body,
                 "{\"inputs\":[{\"name\":\"x\",\"shape\":[2,3],\"datatype\":\"%s\","
                 "\"data\":%s}]}",
                 dts[i], is_bool ? "[true,false,1,0,true,-0]" : "[1,2,3,4,5,127]");
        FAST(body);
        snprintf(body, sizeof body,
                 "{\"inputs\":[{\"name\":\"x\",\"shape\":[3],\"datatype\":\"%s\","
                 "\"data\":[0.0,-0.0,12.0]}]}",
                 dts[i]);
        /* reals with integral values fit integer dtypes, not BOOL */
        EXPECT(body, is_bool ? DECLINED : HANDLED, is_bool ? JANSSON_ERR : JANSSON_OK);
    }
    FAST("{\"inputs\":[{\"name\":\"s\",\"shape\":[3],\"datatype\":\"BYTES\","
         "\"data\":[\"hello\",\"\",\"h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80\"]}]}");
    FAST("{\"inputs\":[{\"name\":\"f\",\"shape\":[6],\"datatype\":\"FP32\","
         "\"data\":[\"NaN\",\"nan\",\"Infinity\",\"inf\",\"-Infinity\",\"-inf\"]}]}");
    FAST("{\"inputs\":[{\"name\":\"f\",\"shape\":[2],\"datatype\":\"FP64\","
         "\"data\":[\"NaN\",\"-inf\"]}]}");
    EXPECT("{\"inputs\":[{\"name\":\"f\",\"shape\":[1],\"datatype\":\"FP32\",\"data\":[\"1\"]}]}",
           DECLINED, JANSSON_ERR);
    /* integer ranges, exactly as codec.c: UINT64 from integers only up to INT64_MAX */
    FAST("{\"inputs\":[{\"name\":\"i\",\"shape\":[3],\"datatype\":\"INT64\","
         "\"data\":[9223372036854775807,-9223372036854775808,-1]}]}");
    FAST("{\"inputs\":[{\"name\":\"i\",\"shape\":[2],\"datatype\":\"UINT64\","
         "\"data\":[9223372036854775807,1e18]}]}");
    FAST("{\"inputs\":[{\"name\":\"i\",\"shape\":[2],\"datatype\":\"INT8\",\"data\":[-128,127]}]}");
    EXPECT("{\"inputs\":[{\"name\":\"i\",\"shape\":[1],\"datatype\":\"INT8\",\"data\":[128]}]}",
           DECLINED, JANSSON_ERR);
    EXPECT("{\"inputs\":[{\"name\":\"i\",\"shape\":[1],\"datatype\":\"UINT8\",\"data\":[-1]}]}",
           DECLINED, JANSSON_ERR);
    EXPECT("{\"inputs\":[{\"name\":\"i\",\"shape\":[1],\"datatype\":\"INT32\",\"data\":[1.5]}]}",
           DECLINED, JANSSON_ERR);
    EXPECT("{\"inputs\":[{\"name\":\"i\",\"shape\":[1],\"datatype\":\"INT64\",\"data\":[1e19]}]}",
           DECLINED, JANSSON_ERR);
    EXPECT("{\"inputs\":[{\"name\":\"b\",\"shape\":[1],\"datatype\":\"BOOL\",\"data\":[2]}]}",
           DECLINED, JANSSON_ERR);
    EXPECT("{\"inputs\":[{\"name\":\"b\",\"shape\":[1],\"datatype\":\"FP32\",\"data\":[true]}]}",
           DECLINED, JANSSON_ERR);
    EXPECT("{\"inputs\":[{\"name\":\"b\",\"shape\":[1],\"datatype\":\"FP32\",\"data\":[null]}]}",
           DECLINED, JANSSON_ERR);
    EXPECT("{\"inputs\":[{\"name\":\"s\",\"shape\":[1],\"datatype\":\"BYTES\",\"data\":[1]}]}",
           DECLINED, JANSSON_ERR);
    /* dtypes without a JSON form are left to jansson */
    EXPECT("{\"inputs\":[{\"name\":\"c\",\"shape\":[0],\"datatype\":\"complex64\",\"data\":[]}]}",
           DECLINED, JANSSON_OK);
    EXPECT("{\"inputs\":[{\"name\":\"c\",\"shape\":[1],\"datatype\":\"FP8\",\"data\":[1]}]}",
           DECLINED, JANSSON_ERR);
}

static void test_numbers(void) {
    /* correctly rounded like strtod, both through Clinger's path and the slow one */
    static const char *const nums[] = {"0",
                                       "-0",
                                       "0.0",
                                       "-0.0",
                                       "1",
                                       "-1",
                                       "0.1",
                                       "0.2",
                                       "0.3",
                                       "1.5e-3",
                                       "3.14159265358979",
                                       "2.718281828459045",
                                       "1e22",
                                       "1e23",
                                       "1e-22",
                                       "1e-23",
                                       "9007199254740992",
                                       "9007199254740993",
                                       "9007199254740993.0",
                                       "123456789012345678",
                                       "1234567890123456789",
                                       "12345678901234567890.5",
                                       "0.1234567890123456789012345",
                                       "1.7976931348623157e308",
                                       "4.9e-324",
                                       "2.2250738585072014e-308",
                                       "1e-400",
                                       "-1e-400",
                                       "3.4028235e38",
                                       "3.5e38",
                                       "1e39",
                                       "1.17549435e-38",
                                       "1e-46",
                                       "0e99999999999",
                                       "5e-324",
                                       "0.000001",
                                       "100e-2",
                                       "123.456e+2",
                                       "1E2",
                                       "65504",
                                       "65520",
                                       "-65520",
                                       "0.00000000000000000000000001",
                                       "9.999999999999999e22",
                                       "8.98846567431158e307"};
    static const char *const dts[] = {"FP32", "FP64", "FP16", "BF16"};
    char body[256];
    for (size_t d = 0; d < sizeof dts / sizeof dts[0]; d++)
        for (size_t i = 0; i < sizeof nums / sizeof nums[0]; i++) {
            snprintf(body, sizeof body,
                     "{\"inputs\":[{\"name\":\"x\",\"shape\":[1],\"datatype\":\"%s\","
                     "\"data\":[%s]}]}",
                     dts[d], nums[i]);
            FAST(body);
        }
    /* jansson rejects these numbers, so the fast path must not accept them */
    static const char *const bad[] = {"1e400",
                                      "-1e400",
                                      "9223372036854775808",
                                      "-9223372036854775809",
                                      "01",
                                      "-",
                                      "1.",
                                      ".5",
                                      "+1",
                                      "1e",
                                      "1e+",
                                      "0x10",
                                      "1.5.2",
                                      "--1",
                                      "Infinity",
                                      "NaN",
                                      "1 2",
                                      "-01"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(body, sizeof body,
                 "{\"inputs\":[{\"name\":\"x\",\"shape\":[1],\"datatype\":\"FP64\","
                 "\"data\":[%s]}]}",
                 bad[i]);
        EXPECT(body, DECLINED, JANSSON_ERR);
    }
    ml_kserve_request r;
    ml_tensor *t = fast_tensor("{\"inputs\":[{\"name\":\"x\",\"shape\":[3],\"datatype\":\"FP64\","
                               "\"data\":[0.1,-0,-0.0]}]}",
                               &r);
    if (t) {
        CHECK(ML_TENSOR_DATA(t, double)[0] == 0.1);
        CHECK(!signbit(ML_TENSOR_DATA(t, double)[1])); /* jansson: integer 0 */
        CHECK(signbit(ML_TENSOR_DATA(t, double)[2]));
    }
    ml_kserve_request_clear(&r);
}

static void test_nesting_and_shapes(void) {
    FAST("{\"inputs\":[{\"name\":\"x\",\"shape\":[2,2],\"datatype\":\"FP32\","
         "\"data\":[[1,2],[3,4]]}]}");
    /* data is flattened whatever its nesting (fill_flat) */
    FAST("{\"inputs\":[{\"name\":\"x\",\"shape\":[4],\"datatype\":\"FP32\","
         "\"data\":[[1],[[2,3]],[],4]}]}");
    FAST("{\"inputs\":[{\"name\":\"x\",\"shape\":[],\"datatype\":\"FP32\",\"data\":5}]}");
    FAST("{\"inputs\":[{\"name\":\"x\",\"shape\":[1],\"datatype\":\"INT32\",\"data\":5}]}");
    FAST("{\"inputs\":[{\"name\":\"x\",\"shape\":[0],\"datatype\":\"FP32\",\"data\":[]}]}");
    FAST("{\"inputs\":[{\"name\":\"x\",\"shape\":[0,5],\"datatype\":\"FP32\",\"data\":[[],[]]}]}");
    FAST("{\"inputs\":[{\"name\":\"x\",\"shape\":[-0],\"datatype\":\"FP32\",\"data\":[]}]}");
    EXPECT("{\"inputs\":[{\"name\":\"x\",\"shape\":[3],\"datatype\":\"FP32\",\"data\":[1,2]}]}",
           DECLINED, JANSSON_ERR);
    EXPECT("{\"inputs\":[{\"name\":\"x\",\"shape\":[1],\"datatype\":\"FP32\",\"data\":[1,2]}]}",
           DECLINED, JANSSON_ERR);
    EXPECT("{\"inputs\":[{\"name\":\"x\",\"shape\":[-1],\"datatype\":\"FP32\",\"data\":[1]}]}",
           DECLINED, JANSSON_ERR);
    EXPECT("{\"inputs\":[{\"name\":\"x\",\"shape\":[1.0],\"datatype\":\"FP32\",\"data\":[1]}]}",
           DECLINED, JANSSON_ERR);
    EXPECT("{\"inputs\":[{\"name\":\"x\",\"shape\":\"1\",\"datatype\":\"FP32\",\"data\":[1]}]}",
           DECLINED, JANSSON_ERR);
    EXPECT("{\"inputs\":[{\"name\":\"x\",\"shape\":[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1],"
           "\"datatype\":\"FP32\",\"data\":[1]}]}",
           DECLINED, JANSSON_ERR);
    FAST("{\"inputs\":[{\"name\":\"x\",\"shape\":[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1],"
         "\"datatype\":\"FP32\",\"data\":[1]}]}");
    /* shapes whose product overflows or exceeds the element limit */
    EXPECT("{\"inputs\":[{\"name\":\"x\",\"shape\":[4294967296,4294967296],"
           "\"datatype\":\"FP32\",\"data\":[1]}]}",
           DECLINED, JANSSON_ERR);
    EXPECT("{\"inputs\":[{\"name\":\"x\",\"shape\":[100000000],\"datatype\":\"FP32\","
           "\"data\":[1]}]}",
           DECLINED, JANSSON_ERR);
    /* a shape far larger than the bytes present is refused before allocating */
    EXPECT("{\"inputs\":[{\"name\":\"x\",\"shape\":[16000000],\"datatype\":\"FP64\","
           "\"data\":[1]}]}",
           DECLINED, JANSSON_ERR);
    /* depth limit: the data of a rank-2 input may nest deeper than 2, up to max_depth */
    FAST("{\"inputs\":[{\"name\":\"x\",\"shape\":[1],\"datatype\":\"FP32\","
         "\"data\":[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]}]}");
    EXPECT("{\"inputs\":[{\"name\":\"x\",\"shape\":[1],\"datatype\":\"FP32\","
           "\"data\":[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]}]}",
           DECLINED, JANSSON_ERR);
}

static void test_key_order_and_whitespace(void) {
    FAST("{\"inputs\":[{\"data\":[1,2],\"datatype\":\"FP32\",\"shape\":[2],\"name\":\"x\"}]}");
    FAST("{\"inputs\":[{\"shape\":[2],\"data\":[1,2],\"name\":\"x\",\"datatype\":\"INT8\"}]}");
    FAST("{\"outputs\":[{\"name\":\"y\"}],\"id\":\"42\",\"inputs\":[{\"name\":\"x\","
         "\"datatype\":\"FP32\",\"shape\":[1],\"data\":[1]}],\"parameters\":{}}");
    FAST(" \t\r\n{ \"inputs\" : [ { \"name\" : \"x\" , \"shape\" : [ 2 , 1 ] , \"datatype\" :"
         " \"FP32\" , \"data\" : [ [ 1 ] ,\n[ 2.5 ] ] } ] , \"id\" : \"a\" } \n\t ");
    /* several inputs, in order */
    FAST("{\"inputs\":[{\"name\":\"a\",\"shape\":[1],\"datatype\":\"FP32\",\"data\":[1]},"
         "{\"name\":\"b\",\"shape\":[2],\"datatype\":\"BYTES\",\"data\":[\"p\",\"q\"]},"
         "{\"name\":\"c\",\"shape\":[1],\"datatype\":\"BOOL\",\"data\":[true]}]}");
    /* unknown keys anywhere are skipped (but must be valid JSON) */
    FAST("{\"model\":{\"a\":[1,{\"b\":null}],\"c\":\"\xc3\xa9\"},\"inputs\":[{\"name\":\"x\","
         "\"extra\":[true,false,null,{}],\"shape\":[1],\"datatype\":\"FP32\",\"data\":[1],"
         "\"parameters\":{\"content_type\":\"np\",\"x\":{\"y\":[]}}}],"
         "\"parameters\":{\"priority\":1,\"binary_data_output\":false}}");
    /* non-string id and non-object parameters are ignored, like jansson */
    FAST("{\"id\":7,\"parameters\":[1],\"inputs\":[{\"name\":\"x\",\"shape\":[1],"
         "\"datatype\":\"FP32\",\"data\":[1],\"parameters\":null}]}");
}

static void test_string_escapes(void) {
    /* decoded exactly like jansson: simple escapes, \\u (any case), surrogate pairs */
    FAST("{\"inputs\":[{\"name\":\"x\",\"shape\":[4],\"datatype\":\"BYTES\","
         "\"data\":[\"a\\nb\\u00e9\\ud83d\\ude00\",\"\\\"\\\\\\/\\b\\f\\n\\r\\t\","
         "\"\\u0041\\u00Ff\\uFFFF\\u20ac\\uDBFF\\uDFFF\",\"plain \xc3\xa9\\u0001\"]}]}");
    FAST("{\"inputs\":[{\"name\":\"x\",\"shape\":[1],\"datatype\":\"FP32\","
         "\"data\":[\"\\u004eaN\"]}]}");
    /* escapes in values that are only validated */
    FAST("{\"note\":\"\\\"q\\\" \\ud83d\\ude00\",\"inputs\":[{\"name\":\"x\",\"shape\":[1],"
         "\"datatype\":\"FP32\",\"data\":[1],\"parameters\":{\"k\":[\"\\t\"]}}]}");
    /* data before the datatype: validated first, decoded when the input ends */
    FAST("{\"inputs\":[{\"name\":\"x\",\"data\":[\"\\u00e9\\n\"],\"shape\":[1],"
         "\"datatype\":\"BYTES\"}]}");
    lim.max_string_bytes = 2; /* decoded length counts: "\u00e9" is 2 bytes */
    FAST("{\"inputs\":[{\"name\":\"x\",\"shape\":[1],\"datatype\":\"BYTES\","
         "\"data\":[\"\\u00e9\"]}]}");
    EXPECT("{\"inputs\":[{\"name\":\"x\",\"shape\":[1],\"datatype\":\"BYTES\","
           "\"data\":[\"\\u20ac\"]}]}",
           DECLINED, JANSSON_ERR);
    ml_json_limits_default(&lim);
    static const char *const bad[] = {"\\ud800", "\\ud800x",       "\\ud800\\u0041", "\\udc00",
                                      "\\u0000", "\\u12G4",        "\\u12",          "\\x",
                                      "\\",      "\\ud83d\\ud83d", "a\\u00e9\x01",   "\\u00e9\xff"};
    char body[256];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(body, sizeof body,
                 "{\"inputs\":[{\"name\":\"x\",\"shape\":[1],\"datatype\":\"BYTES\","
                 "\"data\":[\"%s\"]}]}",
                 bad[i]);
        EXPECT(body, DECLINED, JANSSON_ERR);
        snprintf(body, sizeof body,
                 "{\"skipped\":\"%s\",\"inputs\":[{\"name\":\"x\",\"shape\":[1],"
                 "\"datatype\":\"FP32\",\"data\":[1]}]}",
                 bad[i]);
        EXPECT(body, DECLINED, JANSSON_ERR);
    }
}

static void test_outputs(void) {
    ml_kserve_request r;
    const char *body = "{\"id\":\"r1\",\"parameters\":{\"binary_data_output\":true},"
                       "\"inputs\":[{\"name\":\"x\",\"shape\":[1],\"datatype\":\"FP32\","
                       "\"data\":[1]}],\"outputs\":[{\"name\":\"y\"},{\"name\":\"z\","
                       "\"parameters\":{\"binary_data\":false}},{\"name\":\"w\","
                       "\"parameters\":{\"binary_data\":\"yes\"}}]}";
    FAST(body);
    if (fast_tensor(body, &r)) {
        CHECK_STR(r.id, "r1");
        CHECK(r.binary_default);
        CHECK_EQ_INT(r.n_outputs, 3);
        CHECK_STR(r.outputs[1], "z");
        CHECK(r.outputs_binary[0] && !r.outputs_binary[1] && !r.outputs_binary[2]);
    }
    ml_kserve_request_clear(&r);
    FAST("{\"inputs\":[{\"name\":\"x\",\"shape\":[1],\"datatype\":\"FP32\",\"data\":[1]}],"
         "\"outputs\":[]}");
    FAST("{\"inputs\":[{\"name\":\"x\",\"shape\":[1],\"datatype\":\"FP32\",\"data\":[1]}],"
         "\"outputs\":[{\"name\":\"\",\"parameters\":{\"binary_data\":true,\"k\":1}}]}");
    EXPECT("{\"inputs\":[{\"name\":\"x\",\"shape\":[1],\"datatype\":\"FP32\",\"data\":[1]}],"
           "\"outputs\":null}",
           DECLINED, JANSSON_ERR);
    EXPECT("{\"inputs\":[{\"name\":\"x\",\"shape\":[1],\"datatype\":\"FP32\",\"data\":[1]}],"
           "\"outputs\":[{\"parameters\":{}}]}",
           DECLINED, JANSSON_ERR);
    EXPECT("{\"inputs\":[{\"name\":\"x\",\"shape\":[1],\"datatype\":\"FP32\",\"data\":[1]}],"
           "\"outputs\":[\"y\"]}",
           DECLINED, JANSSON_ERR);
}

static void test_binary_extension(void) {
    char body[512];
    const char *hdr = "{\"inputs\":[{\"name\":\"x\",\"shape\":[2],\"datatype\":\"FP32\","
                      "\"parameters\":{\"binary_data_size\":8}},{\"name\":\"s\",\"shape\":[2],"
                      "\"datatype\":\"BYTES\",\"parameters\":{\"binary_data_size\":11}},"
                      "{\"name\":\"j\",\"shape\":[1],\"datatype\":\"INT64\",\"data\":[3]}]}";
    size_t hl = strlen(hdr);
    memcpy(body, hdr, hl);
    float f[2] = {1.5f, -2.0f};
    memcpy(body + hl, f, 8);
    memcpy(body + hl + 8, "\x02\x00\x00\x00hi\x01\x00\x00\x00!", 11);
    int ok;
    CHECK_EQ_INT(run_both(body, hl + 19, hl, &ok, __LINE__), HANDLED);
    CHECK(ok);
    /* unclaimed, short or inconsistent binary parts: both reject */
    CHECK_EQ_INT(run_both(body, hl + 20, hl, &ok, __LINE__), DECLINED);
    CHECK(!ok);
    CHECK_EQ_INT(run_both(body, hl + 18, hl, &ok, __LINE__), DECLINED);
    CHECK(!ok);
    CHECK_EQ_INT(run_both(body, hl + 19, hl + 1, &ok, __LINE__), DECLINED);
    CHECK(!ok);
    CHECK_EQ_INT(run_both(body, hl, hl + 1, &ok, __LINE__), DECLINED);
    CHECK(!ok);
    /* binary_data_size wins over data, which must still be valid JSON */
    const char *h2 = "{\"inputs\":[{\"name\":\"x\",\"data\":[\"ignored\",{}],\"shape\":[1],"
                     "\"datatype\":\"INT32\",\"parameters\":{\"binary_data_size\":4}}]}";
    hl = strlen(h2);
    memcpy(body, h2, hl);
    memcpy(body + hl, "\x07\x00\x00\x00", 4);
    CHECK_EQ_INT(run_both(body, hl + 4, hl, &ok, __LINE__), HANDLED);
    CHECK(ok);
    const char *h3 = "{\"inputs\":[{\"name\":\"x\",\"shape\":[1],\"datatype\":\"INT32\","
                     "\"data\":[1],\"parameters\":{\"binary_data_size\":4}}]}";
    hl = strlen(h3);
    memcpy(body, h3, hl);
    memcpy(body + hl, "\x07\x00\x00\x00", 4);
    CHECK_EQ_INT(run_both(body, hl + 4, hl, &ok, __LINE__), HANDLED);
    CHECK(ok);
    static const char *const bad_sizes[] = {"-1", "4.0", "\"4\"", "null", "99"};
    for (size_t i = 0; i < sizeof bad_sizes / sizeof bad_sizes[0]; i++) {
        int n = snprintf(body, sizeof body,
                         "{\"inputs\":[{\"name\":\"x\",\"shape\":[1],\"datatype\":\"INT32\","
                         "\"parameters\":{\"binary_data_size\":%s}}]}",
                         bad_sizes[i]);
        memcpy(body + n, "\x07\x00\x00\x00", 4);
        CHECK_EQ_INT(run_both(body, (size_t)n + 4, (size_t)n, &ok, __LINE__), DECLINED);
        CHECK(!ok);
    }
}

static void test_limits(void) {
    ml_json_limits saved = lim;
    lim.max_elements = 4;
    FAST("{\"inputs\":[{\"name\":\"x\",\"shape\":[4],\"datatype\":\"FP32\",\"data\":[1,2,3,4]}]}");
    EXPECT("{\"inputs\":[{\"name\":\"x\",\"shape\":[5],\"datatype\":\"FP32\","
           "\"data\":[1,2,3,4,5]}]}",
           DECLINED, JANSSON_ERR);
    lim = saved;
    lim.max_string_bytes = 3;
    FAST("{\"inputs\":[{\"name\":\"s\",\"shape\":[1],\"datatype\":\"BYTES\",\"data\":[\"abc\"]}]}");
    EXPECT("{\"inputs\":[{\"name\":\"s\",\"shape\":[1],\"datatype\":\"BYTES\","
           "\"data\":[\"abcd\"]}]}",
           DECLINED, JANSSON_ERR);
    lim = saved;
    lim.max_depth = 2;
    FAST("{\"inputs\":[{\"name\":\"x\",\"shape\":[1],\"datatype\":\"FP32\",\"data\":[[1]]}]}");
    EXPECT("{\"inputs\":[{\"name\":\"x\",\"shape\":[1],\"datatype\":\"FP32\",\"data\":[[[1]]]}]}",
           DECLINED, JANSSON_ERR);
    lim = saved;
    /* 1025 inputs */
    size_t cap = 1100 * 64, n = 0;
    char *big = malloc(cap);
    n += (size_t)snprintf(big + n, cap - n, "{\"inputs\":[");
    for (int i = 0; i < 1025; i++)
        n += (size_t)snprintf(big + n, cap - n,
                              "%s{\"name\":\"i%d\",\"shape\":[1],\"datatype\":\"FP32\","
                              "\"data\":[1]}",
                              i ? "," : "", i);
    snprintf(big + n, cap - n, "]}");
    EXPECT(big, DECLINED, JANSSON_ERR);
    char *cut = strstr(big, ",{\"name\":\"i1024\"");
    strcpy(cut, "]}");
    FAST(big);
    free(big);
}

/* Bodies the fast path must decline: malformed JSON (jansson rejects too) or
 * valid requests it leaves to jansson. */
static void test_hostile(void) {
    static const struct {
        const char *body;
        int jansson;
    } cases[] = {
        {"", JANSSON_ERR},
        {"{", JANSSON_ERR},
        {"[]", JANSSON_ERR},
        {"{}", JANSSON_ERR},
        {"null", JANSSON_ERR},
        {"{\"inputs\":[]}", JANSSON_ERR},
        {"{\"inputs\":{}}", JANSSON_ERR},
        {"{\"inputs\":[1]}", JANSSON_ERR},
        {"{\"inputs\":[{}]}", JANSSON_ERR},
        {"{\"inputs\":[{\"name\":\"x\",\"shape\":[1],\"datatype\":\"FP32\",\"data\":[1]}]} x",
         JANSSON_ERR},
        {"{\"inputs\":[{\"name\":\"x\",\"shape\":[1],\"datatype\":\"FP32\",\"data\":[1]}],}",
         JANSSON_ERR},
        {"{\"inputs\":[{\"name\":\"x\",\"shape\":[1],\"datatype\":\"FP32\",\"data\":[1,]}]}",
         JANSSON_ERR},
        {"{\"inputs\":[{\"name\":\"x\",\"shape\":[1],\"datatype\":\"FP32\",\"data\":[1]},]}",
         JANSSON_ERR},
        {"{\"inputs\":[{\"name\":\"x\",\"shape\":[1],\"datatype\":\"FP32\",\"data\":[1]}]",
         JANSSON_ERR},
        {"{\"inputs\":[{\"name\":\"x\",\"shape\":[1],\"datatype\":\"FP32\",\"data\":[1]]}",
         JANSSON_ERR},
        {"{'inputs':[]}", JANSSON_ERR},
        /* duplicate keys at every level (JSON_REJECT_DUPLICATES) */
        {"{\"inputs\":[{\"name\":\"x\",\"shape\":[1],\"datatype\":\"FP32\",\"data\":[1]}],"
         "\"inputs\":[]}",
         JANSSON_ERR},
        {"{\"inputs\":[{\"name\":\"x\",\"name\":\"y\",\"shape\":[1],\"datatype\":\"FP32\","
         "\"data\":[1]}]}",
         JANSSON_ERR},
        {"{\"inputs\":[{\"name\":\"x\",\"shape\":[1],\"datatype\":\"FP32\",\"data\":[1],"
         "\"data\":[2]}]}",
         JANSSON_ERR},
        {"{\"a\":1,\"a\":2,\"inputs\":[{\"name\":\"x\",\"shape\":[1],\"datatype\":\"FP32\","
         "\"data\":[1]}]}",
         JANSSON_ERR},
        {"{\"p\":{\"q\":[{\"r\":1,\"r\":1}]},\"inputs\":[{\"name\":\"x\",\"shape\":[1],"
         "\"datatype\":\"FP32\",\"data\":[1]}]}",
         JANSSON_ERR},
        {"{\"inputs\":[{\"name\":\"x\",\"shape\":[1],\"datatype\":\"FP32\",\"data\":[1],"
         "\"parameters\":{\"k\":1,\"k\":2}}]}",
         JANSSON_ERR},
        {"{\"inputs\":[{\"name\":\"x\",\"shape\":[1],\"datatype\":\"FP32\",\"data\":[1]}],"
         "\"outputs\":[{\"name\":\"y\",\"name\":\"z\"}]}",
         JANSSON_ERR},
        {"{\"inputs\":[{\"name\":\"x\",\"shape\":[1],\"datatype\":\"FP32\",\"data\":[1]},"
         "{\"name\":\"x\",\"shape\":[1],\"datatype\":\"FP32\",\"data\":[1]}]}",
         JANSSON_ERR},
        {"{\"inputs\":[{\"name\":\"\",\"shape\":[1],\"datatype\":\"FP32\",\"data\":[1]}]}",
         JANSSON_ERR},
        {"{\"inputs\":[{\"name\":\"x\",\"shape\":[1],\"datatype\":\"FLOAT99\",\"data\":[1]}]}",
         JANSSON_ERR},
        {"{\"inputs\":[{\"name\":\"x\",\"shape\":[1],\"data\":[1]}]}", JANSSON_ERR},
        {"{\"inputs\":[{\"name\":\"x\",\"datatype\":\"FP32\",\"data\":[1]}]}", JANSSON_ERR},
        {"{\"inputs\":[{\"name\":\"x\",\"shape\":[1],\"datatype\":\"FP32\"}]}", JANSSON_ERR},
        /* invalid UTF-8, control characters, NUL bytes */
        {"{\"inputs\":[{\"name\":\"x\xff\",\"shape\":[1],\"datatype\":\"FP32\",\"data\":[1]}]}",
         JANSSON_ERR},
        {"{\"inputs\":[{\"name\":\"x\",\"shape\":[1],\"datatype\":\"BYTES\","
         "\"data\":[\"\xc0\xaf\"]}]}",
         JANSSON_ERR},
        {"{\"inputs\":[{\"name\":\"x\",\"shape\":[1],\"datatype\":\"BYTES\","
         "\"data\":[\"\xed\xa0\x80\"]}]}",
         JANSSON_ERR},
        {"{\"inputs\":[{\"name\":\"x\",\"shape\":[1],\"datatype\":\"BYTES\","
         "\"data\":[\"\xf4\x90\x80\x80\"]}]}",
         JANSSON_ERR},
        {"{\"inputs\":[{\"name\":\"x\",\"shape\":[1],\"datatype\":\"BYTES\","
         "\"data\":[\"\xe2\x82\"]}]}",
         JANSSON_ERR},
        {"{\"inputs\":[{\"name\":\"x\",\"shape\":[1],\"datatype\":\"BYTES\","
         "\"data\":[\"a\tb\"]}]}",
         JANSSON_ERR},
        {"{\"inputs\":[{\"name\":\"x\",\"shape\":[1],\"datatype\":\"BYTES\","
         "\"data\":[\"\\u0000\"]}]}",
         JANSSON_ERR},
        {"{\"inputs\":[{\"name\":\"x\",\"shape\":[1],\"datatype\":\"BYTES\","
         "\"data\":[\"\\ud800\"]}]}",
         JANSSON_ERR},
        {"{\"inputs\":[{\"name\":\"x\",\"shape\":[1],\"datatype\":\"BYTES\","
         "\"data\":[\"\\q\"]}]}",
         JANSSON_ERR},
        {"{\"inputs\":[{\"name\":\"x\",\"shape\":[1],\"datatype\":\"FP32\",\"data\":[tru]}]}",
         JANSSON_ERR},
        {"{\"inputs\":[{\"name\":\"x\",\"shape\":[1],\"datatype\":\"BOOL\",\"data\":[truex]}]}",
         JANSSON_ERR},
        /* valid requests left to jansson: escaped keys and names, b64 objects */
        {"{\"inputs\":[{\"name\":\"x\\u0031\",\"shape\":[1],\"datatype\":\"FP32\","
         "\"data\":[1]}]}",
         JANSSON_OK},
        {"{\"inputs\":[{\"name\":\"x\",\"shape\":[1],\"datatype\":\"BYTES\","
         "\"data\":[{\"b64\":\"aGk=\"}]}]}",
         JANSSON_OK},
        {"{\"inputs\":[{\"na\\u006de\":\"x\",\"shape\":[1],\"datatype\":\"FP32\","
         "\"data\":[1]}]}",
         JANSSON_OK},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        expect_at(cases[i].body, DECLINED, cases[i].jansson, __LINE__);
    /* NUL bytes inside and after the JSON: jansson's stream handles them in
     * its own ways (it accepts [1<NUL>]); the fast path always declines */
    static const char nul_in[] = "{\"inputs\":[{\"name\":\"x\",\"shape\":[1],\"datatype\":"
                                 "\"FP32\",\"data\":[1\0]}]}";
    static const char nul_after[] = "{\"inputs\":[{\"name\":\"x\",\"shape\":[1],\"datatype\":"
                                    "\"FP32\",\"data\":[1]}]}\0";
    int ok;
    CHECK_EQ_INT(run_both(nul_in, sizeof nul_in - 1, sizeof nul_in - 1, &ok, __LINE__), DECLINED);
    CHECK_EQ_INT(run_both(nul_after, sizeof nul_after - 1, sizeof nul_after - 1, &ok, __LINE__),
                 DECLINED);
    /* every prefix of a valid body is declined (and rejected by jansson) */
    const char *full = "{\"id\":\"q\",\"inputs\":[{\"name\":\"x\",\"shape\":[2,2],\"datatype\":"
                       "\"FP32\",\"data\":[[1.5,-2e3],[3,4]]}],\"outputs\":[{\"name\":\"y\"}]}";
    for (size_t n = 0; n < strlen(full); n++) {
        CHECK_EQ_INT(run_both(full, n, n, &ok, __LINE__), DECLINED);
        if (ok) fprintf(stderr, "    prefix %zu: %.*s\n", n, (int)n, full);
        CHECK(!ok);
    }
    /* deep nesting in a skipped value */
    char deep[5000];
    size_t k = (size_t)snprintf(deep, sizeof deep, "{\"x\":");
    for (int i = 0; i < 2100; i++) deep[k++] = '[';
    for (int i = 0; i < 2100; i++) deep[k++] = ']';
    snprintf(deep + k, sizeof deep - k,
             ",\"inputs\":[{\"name\":\"x\",\"shape\":[1],\"datatype\":\"FP32\",\"data\":[1]}]}");
    EXPECT(deep, DECLINED, JANSSON_ERR);
}

static void test_large_body(void) {
    /* a 1x3x224x224 image as JSON: every value compared with jansson's */
    size_t n = 3 * 224 * 224, cap = n * 24 + 256, len = 0;
    char *body = malloc(cap);
    len += (size_t)snprintf(body, cap,
                            "{\"inputs\":[{\"name\":\"img\",\"shape\":[1,3,224,224],"
                            "\"datatype\":\"FP32\",\"data\":[");
    uint32_t s = 12345;
    for (size_t i = 0; i < n; i++) {
        s = s * 1664525u + 1013904223u;
        double v = ((double)(s >> 8) / (1 << 24) - 0.5) * 4.0;
        len +=
            (size_t)snprintf(body + len, cap - len, "%s%.9g", i ? "," : "", i % 7 ? v : v * 1e-30);
    }
    len += (size_t)snprintf(body + len, cap - len, "]}]}");
    int ok;
    CHECK_EQ_INT(run_both(body, len, len, &ok, __LINE__), HANDLED);
    CHECK(ok);
    free(body);
}

/* Random doubles printed the ways clients print them (shortest repr-like
 * 15-17 digits, fixed and exponent forms, wide exponents): each parsed value
 * must be bit-identical to strtod's, through every number path. */
static void test_random_reals(void) {
    size_t n = 200000, cap = n * 32 + 256, len = 0;
    char *body = malloc(cap);
    len += (size_t)snprintf(body, cap,
                            "{\"inputs\":[{\"name\":\"r\",\"shape\":[%zu],"
                            "\"datatype\":\"FP64\",\"data\":[",
                            n);
    uint64_t s = 88172645463325252ull;
    for (size_t i = 0; i < n; i++) {
        s ^= s << 13, s ^= s >> 7, s ^= s << 17;
        double v;
        uint64_t bits = s;
        memcpy(&v, &bits, 8);
        if (!isfinite(v) || i % 2) /* half of them in the usual ranges */
            v = ((double)(s >> 11) / 9007199254740992.0 - 0.5) * pow(10, (int)(s % 13) - 8);
        static const char *const fmts[] = {"%.17g", "%.16g", "%.15g", "%.9g", "%.17e", "%.3f"};
        len += (size_t)snprintf(body + len, cap - len, i ? "," : "");
        const char *fmt = fmts[(s >> 5) % 6];
        if (fabs(v) > 1e15 && fmt[2] == '3') fmt = "%.17g"; /* no 300-digit fixed forms */
        len += (size_t)snprintf(body + len, cap - len, fmt, v);
    }
    len += (size_t)snprintf(body + len, cap - len, "]}]}");
    int ok;
    CHECK_EQ_INT(run_both(body, len, len, &ok, __LINE__), HANDLED);
    CHECK(ok);
    free(body);
}

int main(void) {
    ml_json_limits_default(&lim);
    RUN(test_every_dtype);
    RUN(test_numbers);
    RUN(test_nesting_and_shapes);
    RUN(test_key_order_and_whitespace);
    RUN(test_string_escapes);
    RUN(test_outputs);
    RUN(test_binary_extension);
    RUN(test_limits);
    RUN(test_hostile);
    RUN(test_large_body);
    RUN(test_random_reals);
    printf("%d bodies decoded by both paths, %d handled by the fast path\n", n_bodies, n_handled);
    return TEST_SUMMARY();
}
