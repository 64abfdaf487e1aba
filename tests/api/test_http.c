/* Integration tests over real HTTP: `mlambda serve` on 127.0.0.1 with a
 * temp data dir, against SQLite by default or PostgreSQL when
 * $MLAMBDA_TEST_DB is set (see run_pg.sh).
 * Usage: test_http <mlambda binary> <make_models.py> */
#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "client.h"
#include "test.h"

static const char *binary;
static tc_server srv;
static tc_client cli;

static void model_path(char *buf, size_t cap, const char *file) {
    snprintf(buf, cap, "%s/%s", srv.models_dir, file);
}

static long upload(const char *file, const char *query) {
    char p[512];
    model_path(p, sizeof p, file);
    return tc_upload_file(&cli, p, query);
}

static int count_dir(const char *sub) {
    char p[512];
    snprintf(p, sizeof p, "%s/%s", srv.data_dir, sub);
    DIR *d = opendir(p);
    if (!d) return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.') n++;
    closedir(d);
    return n;
}

static bool contains(const char *hay, const char *needle) {
    return hay && strstr(hay, needle) != NULL;
}

/* The whole server (REST + gRPC on a free port), as `serve` runs by default. */
static const char *const server_args[] = {
    "--grpc-port", "0", "--seed", "7", "--max-upload-mb", "1", "--max-elements", "100000", NULL};

static void test_health(void) {
    CHECK_EQ_INT(tc_get(&cli, "/v2/health/live"), 200);
    CHECK_EQ_INT(tc_get(&cli, "/v2/health/ready"), 200);
    CHECK_EQ_INT(tc_get(&cli, "/v2"), 200);
    CHECK(contains(cli.body, "binary_tensor_data"));
    CHECK_EQ_INT(tc_get(&cli, "/nope"), 404);
    CHECK(contains(cli.body, "\"error\""));
}

static void test_uploads(void) {
    CHECK_EQ_INT(upload("ident.tgz", NULL), 201); /* name from serving.yaml */
    json_t *j = tc_json(&cli);
    CHECK_STR(json_string_value(json_object_get(json_object_get(j, "version"), "name")), "ident");
    CHECK_EQ_INT(json_integer_value(json_object_get(json_object_get(j, "version"), "version")), 1);
    CHECK(contains(json_string_value(json_object_get(json_object_get(j, "version"), "digest")),
                   "sha256:"));
    json_decref(j);
    CHECK_EQ_INT(upload("double.tgz", "name=double&description=twice&label=team=core"), 201);
    j = tc_json(&cli);
    CHECK_STR(json_string_value(
                  json_object_get(json_object_get(json_object_get(j, "model"), "labels"), "team")),
              "core");
    /* derived contract: x float [-1] -> y */
    json_t *in0 = json_array_get(
        json_object_get(json_object_get(json_object_get(j, "version"), "contract"), "inputs"), 0);
    CHECK_STR(json_string_value(json_object_get(in0, "name")), "x");
    CHECK_STR(json_string_value(json_object_get(in0, "dtype")), "float");
    json_decref(j);
    /* multipart/form-data with a file part and a name field */
    char p[512];
    model_path(p, sizeof p, "square.tgz");
    size_t len;
    char *data = tc_read_file(p, &len);
    char *body = malloc(len + 1024);
    int off = sprintf(
        body, "--XyZ\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\nsquare\r\n"
              "--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"square.tgz\"\r\n"
              "Content-Type: application/gzip\r\n\r\n");
    memcpy(body + off, data, len);
    off += (int)len;
    off += sprintf(body + off, "\r\n--XyZ--\r\n");
    CHECK_EQ_INT(tc_request(&cli, "POST", "/api/v2/models/upload",
                            "multipart/form-data; boundary=XyZ", body, (size_t)off, NULL),
                 201);
    CHECK(contains(cli.body, "\"square\""));
    free(body);
    free(data);
    CHECK_EQ_INT(upload("pre.tgz", NULL), 201);
    CHECK_EQ_INT(upload("post.tgz", NULL), 201);
    CHECK_EQ_INT(upload("add2.tgz", "name=add2"), 201);
    /* Same content again: version 2, same digest, one blob. */
    CHECK_EQ_INT(upload("double.tgz", "name=double"), 201);
    j = tc_json(&cli);
    CHECK_EQ_INT(json_integer_value(json_object_get(json_object_get(j, "version"), "version")), 2);
    json_decref(j);
    CHECK_EQ_INT(count_dir("blobs/sha256"), 6);
    CHECK_EQ_INT(count_dir("models"), 6);
}

static void test_bad_uploads(void) {
    CHECK_EQ_INT(upload("evil.tgz", "name=evil"), 400);
    CHECK(contains(cli.body, ".."));
    CHECK_EQ_INT(upload("symlink.tgz", "name=evil"), 400);
    CHECK(contains(cli.body, "symbolic link"));
    CHECK_EQ_INT(upload("garbage.tgz", "name=evil"), 400);
    CHECK(contains(cli.body, "tar.gz"));
    CHECK_EQ_INT(upload("double.tgz", NULL), 400); /* no serving.yaml, no ?name */
    CHECK(contains(cli.body, "name"));
    CHECK_EQ_INT(upload("double.tgz", "name=../x"), 400);
    /* Over --max-upload-mb 1 */
    size_t big = (1u << 20) + 100;
    char *junk = calloc(1, big);
    /* With Expect: 100-continue the client hears the 413 before sending the
     * body (without it, the server's early answer and close race the send). */
    struct curl_slist *ex = curl_slist_append(NULL, "Expect: 100-continue");
    CHECK_EQ_INT(tc_request(&cli, "POST", "/api/v2/models/upload?name=big", "application/gzip",
                            junk, big, ex),
                 413);
    curl_slist_free_all(ex);
    free(junk);
    CHECK_EQ_INT(tc_get(&cli, "/api/v2/models/evil"), 404);
    /* Nothing left behind: no temp files, no extra blobs. */
    CHECK_EQ_INT(count_dir("tmp"), 0);
    CHECK_EQ_INT(count_dir("blobs/sha256"), 6);
}

static void test_model_queries(void) {
    CHECK_EQ_INT(tc_get(&cli, "/api/v2/models"), 200);
    json_t *j = tc_json(&cli);
    CHECK_EQ_INT(json_array_size(json_object_get(j, "models")), 6);
    json_decref(j);
    CHECK_EQ_INT(tc_get(&cli, "/api/v2/models/double"), 200);
    j = tc_json(&cli);
    CHECK_EQ_INT(json_integer_value(json_object_get(j, "latest_version")), 2);
    CHECK_EQ_INT(json_array_size(json_object_get(j, "versions")), 2);
    CHECK_STR(json_string_value(json_object_get(j, "description")), "twice");
    json_decref(j);
    CHECK_EQ_INT(tc_get(&cli, "/api/v2/models/ident/versions/1"), 200);
    CHECK(contains(cli.body, "\"author\":\"tests\""));
    CHECK_EQ_INT(tc_get(&cli, "/api/v2/models/ident/versions/1/contract"), 200);
    CHECK(contains(cli.body, "\"profile\":\"text\""));
    CHECK_EQ_INT(tc_get(&cli, "/api/v2/models/ident/versions/9"), 404);
    CHECK_EQ_INT(tc_get(&cli, "/api/v2/models/ident/versions/abc"), 400);
}

static void test_kserve(void) {
    CHECK_EQ_INT(
        tc_post_json(
            &cli, "/v2/models/double/infer",
            "{\"id\":\"r1\",\"inputs\":[{\"name\":\"x\",\"shape\":[3],\"datatype\":\"FP32\","
            "\"data\":[1,2,3.5]}]}"),
        200);
    json_t *j = tc_json(&cli);
    json_t *o = json_array_get(json_object_get(j, "outputs"), 0);
    CHECK_STR(json_string_value(json_object_get(o, "name")), "y");
    CHECK_STR(json_string_value(json_object_get(o, "datatype")), "FP32");
    CHECK_NEAR(json_number_value(json_array_get(json_object_get(o, "data"), 2)), 7.0, 1e-6);
    CHECK_STR(json_string_value(json_object_get(j, "id")), "r1");
    CHECK_STR(json_string_value(json_object_get(j, "model_version")), "2");
    json_decref(j);
    /* Version 1 explicitly, nested data accepted. */
    CHECK_EQ_INT(tc_post_json(&cli, "/v2/models/double/versions/1/infer",
                              "{\"inputs\":[{\"name\":\"x\",\"shape\":[2],\"datatype\":\"FP32\","
                              "\"data\":[[1],[2]]}]}"),
                 200);
    CHECK(contains(cli.body, "\"model_version\":\"1\""));
    /* BYTES */
    CHECK_EQ_INT(
        tc_post_json(&cli, "/v2/models/ident/infer",
                     "{\"inputs\":[{\"name\":\"input\",\"shape\":[2],\"datatype\":\"BYTES\","
                     "\"data\":[\"hello\",\"there\"]}]}"),
        200);
    CHECK(contains(cli.body, "[\"hello\",\"there\"]"));
    /* Two inputs + requested output */
    CHECK_EQ_INT(
        tc_post_json(
            &cli, "/v2/models/add2/infer",
            "{\"inputs\":[{\"name\":\"a\",\"shape\":[1,2],\"datatype\":\"FP32\",\"data\":[1,2]},"
            "{\"name\":\"b\",\"shape\":[1,2],\"datatype\":\"FP32\",\"data\":[10,20]}],"
            "\"outputs\":[{\"name\":\"z\"}]}"),
        200);
    CHECK(contains(cli.body, "[11.0,22.0]"));
    CHECK_EQ_INT(
        tc_post_json(
            &cli, "/v2/models/add2/infer",
            "{\"inputs\":[{\"name\":\"a\",\"shape\":[1,2],\"datatype\":\"FP32\",\"data\":[1,2]},"
            "{\"name\":\"b\",\"shape\":[1,2],\"datatype\":\"FP32\",\"data\":[10,20]}],"
            "\"outputs\":[{\"name\":\"nope\"}]}"),
        400);
    CHECK(contains(cli.body, "nope"));
    /* Metadata and readiness */
    CHECK_EQ_INT(tc_get(&cli, "/v2/models/double"), 200);
    CHECK(contains(cli.body, "\"versions\":[\"1\",\"2\"]"));
    CHECK_EQ_INT(tc_get(&cli, "/v2/models/double/versions/1/ready"), 200);
    CHECK_EQ_INT(tc_get(&cli, "/v2/models/ghost/ready"), 404);
}

static void test_kserve_binary(void) {
    /* FP32 input as binary, output requested as binary. */
    const char *hdr = "{\"inputs\":[{\"name\":\"x\",\"shape\":[2],\"datatype\":\"FP32\","
                      "\"parameters\":{\"binary_data_size\":8}}],"
                      "\"outputs\":[{\"name\":\"y\",\"parameters\":{\"binary_data\":true}}]}";
    size_t hl = strlen(hdr);
    char body[512];
    memcpy(body, hdr, hl);
    float xs[2] = {1.5f, -2.0f};
    memcpy(body + hl, xs, 8);
    char h[64];
    snprintf(h, sizeof h, "Inference-Header-Content-Length: %zu", hl);
    struct curl_slist *hs = curl_slist_append(NULL, h);
    CHECK_EQ_INT(tc_request(&cli, "POST", "/v2/models/double/infer", "application/octet-stream",
                            body, hl + 8, hs),
                 200);
    curl_slist_free_all(hs);
    size_t rl = (size_t)atol(cli.header_len);
    CHECK(rl > 0 && rl + 8 == cli.len);
    if (rl > 0 && rl + 8 == cli.len) {
        float ys[2];
        memcpy(ys, cli.body + rl, 8);
        CHECK_NEAR(ys[0], 3.0, 1e-6);
        CHECK_NEAR(ys[1], -4.0, 1e-6);
        CHECK(contains(cli.body, "\"binary_data_size\":8"));
    }
    /* BYTES in binary: 4-byte little-endian length + bytes per element. */
    const char *hdr2 = "{\"inputs\":[{\"name\":\"input\",\"shape\":[2],\"datatype\":\"BYTES\","
                       "\"parameters\":{\"binary_data_size\":14}}]}";
    hl = strlen(hdr2);
    memcpy(body, hdr2, hl);
    memcpy(body + hl, "\x05\0\0\0hello\x01\0\0\0!", 14);
    snprintf(h, sizeof h, "Inference-Header-Content-Length: %zu", hl);
    hs = curl_slist_append(NULL, h);
    CHECK_EQ_INT(tc_request(&cli, "POST", "/v2/models/ident/infer", "application/octet-stream",
                            body, hl + 14, hs),
                 200);
    CHECK(contains(cli.body, "[\"hello\",\"!\"]"));
    /* Claimed size larger than what was sent. */
    memcpy(body, hdr2, hl);
    CHECK_EQ_INT(tc_request(&cli, "POST", "/v2/models/ident/infer", "application/octet-stream",
                            body, hl + 3, hs),
                 400);
    curl_slist_free_all(hs);
}

static void test_validation(void) {
    CHECK_EQ_INT(tc_post_json(&cli, "/v2/models/double/infer",
                              "{\"inputs\":[{\"name\":\"x\",\"shape\":[3],\"datatype\":\"INT64\","
                              "\"data\":[1,2,3]}]}"),
                 400);
    CHECK(contains(cli.body, "input 'x': expected dtype float, got int64"));
    CHECK_EQ_INT(tc_post_json(&cli, "/v2/models/double/infer",
                              "{\"inputs\":[{\"name\":\"x\",\"shape\":[1,3],\"datatype\":\"FP32\","
                              "\"data\":[1,2,3]}]}"),
                 400);
    CHECK(contains(cli.body, "expected shape [-1], got [1,3]"));
    CHECK_EQ_INT(
        tc_post_json(
            &cli, "/v2/models/double/infer",
            "{\"inputs\":[{\"name\":\"q\",\"shape\":[1],\"datatype\":\"FP32\",\"data\":[1]}]}"),
        400);
    CHECK(contains(cli.body, "unknown input 'q'"));
    CHECK_EQ_INT(
        tc_post_json(
            &cli, "/v2/models/double/infer",
            "{\"inputs\":[{\"name\":\"x\",\"shape\":[3],\"datatype\":\"FP32\",\"data\":[1,2]}]}"),
        400);
    CHECK(contains(cli.body, "2 elements"));
    CHECK_EQ_INT(tc_post_json(&cli, "/v2/models/double/infer", "{\"inputs\": [ {"), 400);
    CHECK(contains(cli.body, "invalid JSON"));
    CHECK_EQ_INT(tc_post_json(&cli, "/v2/models/ghost/infer", "{}"), 404);
    CHECK(contains(cli.body, "ghost"));
    /* --max-elements 100000 */
    CHECK_EQ_INT(tc_post_json(&cli, "/v2/models/double/infer",
                              "{\"inputs\":[{\"name\":\"x\",\"shape\":[1000000],\"datatype\":"
                              "\"FP32\",\"data\":[1]}]}"),
                 413);
    /* nesting deeper than 16 */
    char deep[200] = "{\"x\":";
    for (int i = 0; i < 20; i++) strcat(deep, "[");
    strcat(deep, "1");
    for (int i = 0; i < 20; i++) strcat(deep, "]");
    strcat(deep, "}");
    CHECK_EQ_INT(tc_post_json(&cli, "/v1/models/double:predict",
                              "{\"inputs\":[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]}"),
                 400);
    CHECK(contains(cli.body, "deeper"));
}

static void test_tf(void) {
    CHECK_EQ_INT(tc_post_json(&cli, "/v1/models/double:predict", "{\"instances\":[1,2]}"), 200);
    CHECK_STR(cli.body, "{\"predictions\":[2.0,4.0]}");
    CHECK_EQ_INT(
        tc_post_json(&cli, "/v1/models/double/versions/1:predict", "{\"inputs\":{\"x\":[1,2]}}"),
        200);
    CHECK_STR(cli.body, "{\"outputs\":[2.0,4.0]}");
    CHECK_EQ_INT(
        tc_post_json(&cli, "/v1/models/add2:predict",
                     "{\"instances\":[{\"a\":[1,2],\"b\":[3,4]},{\"a\":[5,6],\"b\":[7,8]}]}"),
        200);
    CHECK_STR(cli.body, "{\"predictions\":[[4.0,6.0],[12.0,14.0]]}");
    CHECK_EQ_INT(tc_post_json(&cli, "/v1/models/ident:predict",
                              "{\"instances\":[{\"b64\":\"aGVsbG8=\"},\"x\"]}"),
                 200);
    CHECK_STR(cli.body, "{\"predictions\":[\"hello\",\"x\"]}");
    CHECK_EQ_INT(tc_post_json(&cli, "/v1/models/add2:predict", "{\"instances\":[1,2]}"), 400);
    CHECK(contains(cli.body, "2 inputs"));
    CHECK_EQ_INT(tc_get(&cli, "/v1/models/double"), 200);
    CHECK(contains(cli.body, "AVAILABLE"));
    CHECK_EQ_INT(tc_get(&cli, "/v1/models/double/metadata"), 200);
    CHECK(contains(cli.body, "DT_FLOAT"));
}

static const char *pipe_yaml = "kind: Application\nname: pipe\npipeline:\n"
                               "  - - model: pre:1\n      weight: 100\n"
                               "  - - model: post\n";

static void test_applications(void) {
    CHECK_EQ_INT(tc_request(&cli, "POST", "/api/v2/applications", "application/yaml", pipe_yaml,
                            strlen(pipe_yaml), NULL),
                 201);
    CHECK(contains(cli.body, "\"post:1\""));
    CHECK_EQ_INT(tc_request(&cli, "POST", "/api/v2/applications", "application/yaml", pipe_yaml,
                            strlen(pipe_yaml), NULL),
                 409);
    /* Two stages: y = (2x)^2 */
    CHECK_EQ_INT(tc_post_json(&cli, "/gateway/application/pipe", "{\"x\":[1,2,3]}"), 200);
    CHECK_STR(cli.body, "{\"y\":[4.0,16.0,36.0]}");
    /* The same application over KServe (name resolves to the application). */
    CHECK_EQ_INT(
        tc_post_json(
            &cli, "/v2/models/pipe/infer",
            "{\"inputs\":[{\"name\":\"x\",\"shape\":[1],\"datatype\":\"FP32\",\"data\":[5]}]}"),
        200);
    CHECK(contains(cli.body, "[100.0]"));
    CHECK_EQ_INT(tc_get(&cli, "/api/v2/applications/pipe"), 200);
    CHECK(contains(cli.body, "\"contract\""));
    CHECK_EQ_INT(tc_get(&cli, "/api/v2/applications"), 200);
    CHECK(contains(cli.body, "\"pipe\""));
    /* Stage mismatch: ident outputs strings named output; double needs x. */
    CHECK_EQ_INT(
        tc_post_json(
            &cli, "/api/v2/applications",
            "{\"kind\":\"Application\",\"name\":\"bad\",\"pipeline\":[[{\"model\":\"ident:1\"}],"
            "[{\"model\":\"double:1\"}]]}"),
        400);
    CHECK(contains(cli.body, "stage 2 needs input 'x'"));
    CHECK_EQ_INT(tc_post_json(&cli, "/api/v2/applications",
                              "{\"name\":\"bad\",\"singular\":{\"model\":\"double:7\"}}"),
                 404);
    CHECK_EQ_INT(
        tc_post_json(&cli, "/api/v2/applications",
                     "{\"name\":\"bad\",\"pipeline\":[[{\"model\":\"double:1\",\"weight\":50},"
                     "{\"model\":\"square:1\",\"weight\":40}]]}"),
        400);
    CHECK(contains(cli.body, "sum to 90"));
    /* Gateway validation names the field. */
    CHECK_EQ_INT(tc_post_json(&cli, "/gateway/application/pipe", "{\"x\":[\"a\"]}"), 400);
    CHECK(contains(cli.body, "input 'x'"));
    CHECK_EQ_INT(tc_post_json(&cli, "/gateway/application/nope", "{\"x\":[1]}"), 404);
    /* A used version cannot be deleted. */
    CHECK_EQ_INT(tc_request(&cli, "DELETE", "/api/v2/models/pre/versions/1", NULL, NULL, 0, NULL),
                 409);
    CHECK(contains(cli.body, "used by application 'pipe'"));
    CHECK_EQ_INT(tc_request(&cli, "DELETE", "/api/v2/models/post", NULL, NULL, 0, NULL), 409);
}

static void test_weighted_split(void) {
    CHECK_EQ_INT(
        tc_post_json(
            &cli, "/api/v2/applications",
            "{\"kind\":\"Application\",\"name\":\"split\",\"pipeline\":[[{\"model\":\"double:1\","
            "\"weight\":70},{\"model\":\"square:1\",\"weight\":30}]]}"),
        201);
    int a = 0, b = 0, other = 0, reconnects = 0;
    for (int i = 0; i < 1000; i++) {
        long code = tc_post_json(&cli, "/gateway/application/split", "{\"x\":[3]}");
        if (cli.connects) reconnects++;
        if (code == 200 && !strcmp(cli.body, "{\"y\":[6.0]}"))
            a++;
        else if (code == 200 && !strcmp(cli.body, "{\"y\":[9.0]}"))
            b++;
        else
            other++;
    }
    printf("    split: %d double, %d square, %d other, %d new connections\n", a, b, other,
           reconnects);
    CHECK_EQ_INT(other, 0);
    CHECK(a >= 650 && a <= 750); /* 70% +- 5 points */
    CHECK_EQ_INT(a + b, 1000);
    CHECK(reconnects <= 1); /* keep-alive: one connection for all */
}

typedef struct swap_load {
    int port;
    volatile int stop;
    int ok, failed;
} swap_load;

static void *swap_client(void *arg) {
    swap_load *l = arg;
    tc_client c;
    tc_client_init(&c, l->port);
    while (!l->stop) {
        long code = tc_post_json(&c, "/gateway/application/swap", "{\"x\":[3]}");
        if (code == 200 && (!strcmp(c.body, "{\"y\":[6.0]}") || !strcmp(c.body, "{\"y\":[9.0]}")))
            l->ok++;
        else {
            l->failed++;
            fprintf(stderr, "    swap request failed: %ld %s\n", code, c.body);
        }
    }
    tc_client_free(&c);
    return NULL;
}

static void test_hot_swap(void) {
    const char *first = "{\"singular\":{\"model\":\"double:1\"}}";
    CHECK_EQ_INT(tc_request(&cli, "PUT", "/api/v2/applications/swap", "application/json", first,
                            strlen(first), NULL),
                 200);
    swap_load l = {srv.port, 0, 0, 0};
    pthread_t th[2];
    for (int i = 0; i < 2; i++) pthread_create(&th[i], NULL, swap_client, &l);
    for (int i = 0; i < 30; i++) {
        const char *spec = i % 2 ? "{\"singular\":{\"model\":\"double:1\"}}"
                                 : "{\"singular\":{\"model\":\"square:1\"}}";
        long code = tc_request(&cli, "PUT", "/api/v2/applications/swap", "application/json", spec,
                               strlen(spec), NULL);
        CHECK_EQ_INT(code, 200);
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    l.stop = 1;
    for (int i = 0; i < 2; i++) pthread_join(th[i], NULL);
    printf("    hot swap: %d requests ok, %d failed during 30 swaps\n", l.ok, l.failed);
    CHECK(l.ok > 0);
    CHECK_EQ_INT(l.failed, 0);
    CHECK_EQ_INT(tc_request(&cli, "DELETE", "/api/v2/applications/swap", NULL, NULL, 0, NULL), 204);
    CHECK_EQ_INT(tc_post_json(&cli, "/gateway/application/swap", "{\"x\":[3]}"), 404);
}

static void test_metrics_stats_audit(void) {
    CHECK_EQ_INT(tc_get(&cli, "/metrics"), 200);
    CHECK(contains(cli.body, "mlambda_application_requests_total{application=\"split\"} 1000"));
    CHECK(contains(cli.body, "mlambda_model_compute_latency_seconds_bucket{model=\"double\","
                             "version=\"1\",le=\"+Inf\"}"));
    CHECK(contains(cli.body,
                   "mlambda_application_queue_latency_seconds_count{application=\"pipe\"}"));
    CHECK(contains(cli.body, "mlambda_loaded_models "));
    CHECK(contains(cli.body, "mlambda_http_requests_total{code=\"200\"}"));
    CHECK_EQ_INT(tc_get(&cli, "/api/v2/stats"), 200);
    json_t *j = tc_json(&cli);
    json_t *apps = json_object_get(j, "applications");
    bool found = false;
    size_t i;
    json_t *v;
    json_array_foreach(apps, i,
                       v) if (!strcmp(json_string_value(json_object_get(v, "name")), "split")) {
        found = true;
        CHECK_EQ_INT(json_integer_value(json_object_get(v, "requests")), 1000);
        CHECK(json_number_value(json_object_get(v, "p99_ms")) >=
              json_number_value(json_object_get(v, "p50_ms")));
    }
    CHECK(found);
    json_decref(j);
    CHECK_EQ_INT(tc_get(&cli, "/api/v2/audit?limit=5"), 200);
    j = tc_json(&cli);
    CHECK_EQ_INT(json_array_size(json_object_get(j, "events")), 5);
    CHECK_STR(json_string_value(
                  json_object_get(json_array_get(json_object_get(j, "events"), 0), "action")),
              "application.delete");
    json_decref(j);
}

static void test_deletes(void) {
    CHECK_EQ_INT(tc_request(&cli, "DELETE", "/api/v2/applications/pipe", NULL, NULL, 0, NULL), 204);
    CHECK_EQ_INT(tc_request(&cli, "DELETE", "/api/v2/models/pre/versions/1", NULL, NULL, 0, NULL),
                 204);
    CHECK_EQ_INT(tc_get(&cli, "/api/v2/models/pre/versions/1"), 404);
    CHECK_EQ_INT(tc_request(&cli, "DELETE", "/api/v2/models/add2", NULL, NULL, 0, NULL), 204);
    CHECK_EQ_INT(tc_get(&cli, "/api/v2/models/add2"), 404);
    CHECK_EQ_INT(tc_post_json(&cli, "/v2/models/add2/infer", "{\"inputs\":[]}"), 404);
    /* Their files are gone (pre and add2 had their own digests). */
    CHECK_EQ_INT(count_dir("blobs/sha256"), 4);
    CHECK_EQ_INT(count_dir("models"), 4);
}

/* ---- process-level tests: restart, graceful shutdown, kill -9 ---- */

typedef struct slow_upload {
    int port;
    char *data;
    size_t len, sent;
    int pause_ms; /* after the first half */
    long code;
} slow_upload;

static size_t slow_read(char *buf, size_t sz, size_t n, void *ud) {
    slow_upload *u = ud;
    if (u->sent >= u->len) return 0;
    size_t half = u->len / 2;
    if (u->sent == half && u->pause_ms) {
        struct timespec ts = {u->pause_ms / 1000, (long)(u->pause_ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
        u->pause_ms = 0;
    }
    size_t end = u->sent < half ? half : u->len;
    size_t k = end - u->sent;
    if (k > sz * n) k = sz * n;
    memcpy(buf, u->data + u->sent, k);
    u->sent += k;
    return k;
}

static void *slow_upload_thread(void *arg) {
    slow_upload *u = arg;
    CURL *h = curl_easy_init();
    char url[256];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/api/v2/models/upload?name=slow", u->port);
    struct curl_slist *hs = curl_slist_append(NULL, "Content-Type: application/gzip");
    hs = curl_slist_append(hs, "Expect:");
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_POST, 1L);
    curl_easy_setopt(h, CURLOPT_READFUNCTION, slow_read);
    curl_easy_setopt(h, CURLOPT_READDATA, u);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)u->len);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hs);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 20L);
    FILE *devnull = fopen("/dev/null", "w");
    curl_easy_setopt(h, CURLOPT_WRITEDATA, devnull);
    u->code = -1;
    if (curl_easy_perform(h) == CURLE_OK) curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &u->code);
    fclose(devnull);
    curl_slist_free_all(hs);
    curl_easy_cleanup(h);
    return NULL;
}

static void msleep(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Waits (up to 5 s) until an upload is being written under tmp/. */
static bool wait_upload_started(void) {
    for (int i = 0; i < 100; i++) {
        if (count_dir("tmp") >= 1) return true;
        msleep(50);
    }
    return false;
}

static void test_restart_persists(void) {
    CHECK_EQ_INT(tc_stop(&srv, SIGTERM), 0);
    CHECK(tc_start(&srv, binary, server_args));
    tc_client_free(&cli);
    tc_client_init(&cli, srv.port);
    CHECK_EQ_INT(tc_get(&cli, "/api/v2/models"), 200);
    json_t *j = tc_json(&cli);
    CHECK_EQ_INT(json_array_size(json_object_get(j, "models")),
                 5); /* add2 deleted; pre kept (0 versions) */
    json_decref(j);
    CHECK_EQ_INT(tc_post_json(&cli, "/gateway/application/split", "{\"x\":[2]}"), 200);
    CHECK_EQ_INT(tc_post_json(&cli, "/v1/models/ident:predict", "{\"instances\":[\"a\"]}"), 200);
    /* A registered version whose files went missing is a 503, not a 4xx. */
    CHECK_EQ_INT(tc_get(&cli, "/api/v2/models/post/versions/1"), 200);
    j = tc_json(&cli);
    const char *digest = json_string_value(json_object_get(j, "digest"));
    char dir[600], moved[620];
    snprintf(dir, sizeof dir, "%s/models/%s", srv.data_dir, digest ? digest + 7 : "?");
    snprintf(moved, sizeof moved, "%s.away", dir);
    json_decref(j);
    CHECK(rename(dir, moved) == 0);
    CHECK_EQ_INT(tc_post_json(&cli, "/v1/models/post:predict", "{\"instances\":[1]}"), 503);
    CHECK(contains(cli.body, "post:1 cannot be loaded"));
    CHECK(rename(moved, dir) == 0);
    CHECK_EQ_INT(tc_post_json(&cli, "/v1/models/post:predict", "{\"instances\":[3]}"), 200);
    CHECK_STR(cli.body, "{\"predictions\":[9.0]}");
}

static void test_graceful_shutdown(void) {
    slow_upload u = {srv.port, NULL, 0, 0, 1000, 0};
    char p[512];
    model_path(p, sizeof p, "square.tgz");
    u.data = tc_read_file(p, &u.len);
    pthread_t th;
    pthread_create(&th, NULL, slow_upload_thread, &u);
    CHECK(wait_upload_started()); /* the upload is half way, paused */
    int rc = tc_stop(&srv, SIGTERM);
    pthread_join(th, NULL);
    CHECK_EQ_INT(rc, 0);
    CHECK_EQ_INT(u.code, 201); /* the in-flight upload finished */
    free(u.data);
    CHECK(tc_start(&srv, binary, server_args));
    tc_client_free(&cli);
    tc_client_init(&cli, srv.port);
    CHECK_EQ_INT(tc_get(&cli, "/api/v2/models/slow/versions/1"), 200);
}

static void test_kill9_during_upload(void) {
    CHECK_EQ_INT(tc_get(&cli, "/api/v2/models"), 200);
    json_t *before = tc_json(&cli);
    int blobs = count_dir("blobs/sha256");
    /* A fresh archive (new digest) so a leftover would show. */
    char p[512];
    model_path(p, sizeof p, "add2.tgz");
    slow_upload u = {srv.port, NULL, 0, 0, 3000, 0};
    u.data = tc_read_file(p, &u.len);
    pthread_t th;
    pthread_create(&th, NULL, slow_upload_thread, &u);
    CHECK(wait_upload_started()); /* the partial upload is on disk */
    tc_stop(&srv, SIGKILL);
    pthread_join(th, NULL);
    CHECK(u.code != 201);
    free(u.data);
    CHECK(tc_start(&srv, binary, server_args));
    tc_client_free(&cli);
    tc_client_init(&cli, srv.port);
    CHECK_EQ_INT(count_dir("tmp"), 0);
    CHECK_EQ_INT(count_dir("blobs/sha256"), blobs);
    CHECK_EQ_INT(tc_get(&cli, "/api/v2/models"), 200);
    json_t *after = tc_json(&cli);
    CHECK(json_equal(json_object_get(before, "models"), json_object_get(after, "models")));
    json_decref(before);
    json_decref(after);
    CHECK_EQ_INT(tc_get(&cli, "/api/v2/models/slow/versions/2"), 404);
    /* and the server works normally afterwards */
    CHECK_EQ_INT(upload("add2.tgz", "name=add2"), 201);
    CHECK_EQ_INT(count_dir("blobs/sha256"), blobs + 1);
}

typedef struct batch_load {
    int port, id, ok, failed;
    const char *model;
} batch_load;

/* Each thread sends its own values and checks that it gets its own answer
 * back, whatever batch it shared. */
static void *batch_client(void *arg) {
    batch_load *l = arg;
    tc_client c;
    tc_client_init(&c, l->port);
    char path[128], body[256], want[128];
    snprintf(path, sizeof path, "/v2/models/%s/infer", l->model);
    bool sum = !strcmp(l->model, "bsum");
    for (int i = 0; i < 40; i++) {
        int rows = 1 + (i + l->id) % 2;
        if (rows == 1)
            snprintf(body, sizeof body,
                     "{\"inputs\":[{\"name\":\"x\",\"shape\":[1,2],\"datatype\":\"FP32\","
                     "\"data\":[%d,%d]}]}",
                     l->id, i);
        else
            snprintf(body, sizeof body,
                     "{\"inputs\":[{\"name\":\"x\",\"shape\":[2,2],\"datatype\":\"FP32\","
                     "\"data\":[%d,%d,1,1]}]}",
                     l->id, i);
        if (sum)
            snprintf(want, sizeof want, "\"shape\":[1,1],\"data\":[%d.0]",
                     l->id + i + (rows == 2 ? 2 : 0));
        else if (rows == 1)
            snprintf(want, sizeof want, "\"shape\":[1,2],\"data\":[%d.0,%d.0]", 2 * l->id, 2 * i);
        else
            snprintf(want, sizeof want, "\"shape\":[2,2],\"data\":[%d.0,%d.0,2.0,2.0]", 2 * l->id,
                     2 * i);
        long code = tc_post_json(&c, path, body);
        if (code == 200 && strstr(c.body, want))
            l->ok++;
        else {
            l->failed++;
            fprintf(stderr, "    %s: sent %s, wanted %s, got %ld %s\n", l->model, body, want, code,
                    c.body);
        }
    }
    tc_client_free(&c);
    return NULL;
}

static void test_batching(void) {
    CHECK_EQ_INT(upload("bdouble.tgz", NULL), 201);
    CHECK(contains(cli.body, "\"batching\":{\"max_batch_size\":8,\"max_queue_delay_us\":20000,"
                             "\"instances\":2}"));
    CHECK_EQ_INT(upload("bsum.tgz", NULL), 201);
    const char *models[] = {"bdouble", "bsum"};
    for (int m = 0; m < 2; m++) {
        batch_load l[6];
        pthread_t th[6];
        for (int i = 0; i < 6; i++) {
            l[i] = (batch_load){srv.port, i + 1, 0, 0, models[m]};
            pthread_create(&th[i], NULL, batch_client, &l[i]);
        }
        int ok = 0, failed = 0;
        for (int i = 0; i < 6; i++) {
            pthread_join(th[i], NULL);
            ok += l[i].ok;
            failed += l[i].failed;
        }
        printf("    batching %s: %d ok, %d wrong\n", models[m], ok, failed);
        CHECK_EQ_INT(ok, 240);
        CHECK_EQ_INT(failed, 0);
    }
    CHECK_EQ_INT(tc_get(&cli, "/metrics"), 200);
    CHECK(
        contains(cli.body,
                 "mlambda_model_queue_latency_seconds_count{model=\"bdouble\",version=\"1\"} 240"));
    /* Some requests really shared a run (6 concurrent clients, 20 ms
     * window); with event loops too, where batched routes run on workers. */
    CHECK(contains(cli.body, "mlambda_model_batches_total{model=\"bdouble\",version=\"1\"}"));
    const char *br =
        strstr(cli.body ? cli.body : "", "mlambda_model_batched_requests_total{model=\"bdouble\"");
    long batched = br ? atol(strchr(br, '}') + 2) : 0;
    printf("    batching: %ld of 240 bdouble requests shared a run\n", batched);
    CHECK(batched >= 2);
}

/* A classifier exported the skl2onnx way: its ZipMap output (a sequence of
 * maps) is served as an [N, classes] tensor, and its contract says so. */
static void test_sequence_of_maps_output(void) {
    CHECK_EQ_INT(upload("clf.tgz", "name=clf"), 201);
    CHECK(contains(cli.body, "probabilities"));
    CHECK_EQ_INT(tc_get(&cli, "/v2/models/clf"), 200);
    json_t *meta = tc_json(&cli);
    json_t *outs = json_object_get(meta, "outputs");
    bool seen = false;
    for (size_t i = 0; i < json_array_size(outs); i++) {
        json_t *o = json_array_get(outs, i);
        if (strcmp(json_string_value(json_object_get(o, "name")), "probabilities")) continue;
        seen = true;
        CHECK_STR(json_string_value(json_object_get(o, "datatype")), "FP32");
        CHECK_EQ_INT((long)json_array_size(json_object_get(o, "shape")), 2);
    }
    CHECK(seen);
    json_decref(meta);
    CHECK_EQ_INT(tc_post_json(&cli, "/v2/models/clf/infer",
                              "{\"inputs\":[{\"name\":\"x\",\"shape\":[2,2],\"datatype\":"
                              "\"FP32\",\"data\":[2,0,0,3]}]}"),
                 200);
    json_t *j = tc_json(&cli);
    json_t *o = json_object_get(j, "outputs");
    CHECK_EQ_INT((long)json_array_size(o), 2);
    for (size_t i = 0; i < json_array_size(o); i++) {
        json_t *t = json_array_get(o, i);
        const char *name = json_string_value(json_object_get(t, "name"));
        json_t *data = json_object_get(t, "data");
        if (!strcmp(name, "label")) {
            CHECK_EQ_INT((long)json_integer_value(json_array_get(data, 0)), 10);
            CHECK_EQ_INT((long)json_integer_value(json_array_get(data, 1)), 20);
        } else {
            CHECK_STR(name, "probabilities");
            CHECK_EQ_INT((long)json_integer_value(json_array_get(json_object_get(t, "shape"), 0)),
                         2);
            CHECK_EQ_INT((long)json_integer_value(json_array_get(json_object_get(t, "shape"), 1)),
                         3);
            /* softmax of the scores [2, 0, -1.5] and [0, 3, -2.5] */
            CHECK_NEAR(json_number_value(json_array_get(data, 0)), 0.85801, 1e-4);
            CHECK_NEAR(json_number_value(json_array_get(data, 2)), 0.02591, 1e-4);
            CHECK_NEAR(json_number_value(json_array_get(data, 4)), 0.94888, 1e-4);
        }
    }
    json_decref(j);
    /* TF-Serving's row format gets the same probabilities per instance */
    CHECK_EQ_INT(tc_post_json(&cli, "/v1/models/clf:predict", "{\"instances\":[[2,0]]}"), 200);
    CHECK(contains(cli.body, "\"probabilities\""));
    CHECK(contains(cli.body, "\"label\":10"));
}

/* Starts another server on the same data dir and registry with the usual
 * arguments plus the given ones (NULL-terminated); the caller stops it with
 * tc_stop. */
static bool start_second(tc_server *other, ...) {
    const char *args[32];
    int n = 0;
    for (; server_args[n]; n++) args[n] = server_args[n];
    va_list ap;
    va_start(ap, other);
    for (const char *a; n < 31 && (a = va_arg(ap, const char *));) args[n++] = a;
    va_end(ap);
    args[n] = NULL;
    *other = srv;
    other->pid = 0;
    return tc_start(other, binary, args);
}

/* --request-timeout-ms: a run past its deadline stops inside the engine
 * (the spin model loops 10^12 times) and the client gets a 504. */
static void test_request_timeout(void) {
    CHECK_EQ_INT(upload("spin.tgz", "name=spin"), 201);
    tc_server other;
    CHECK(start_second(&other, "--request-timeout-ms", "300", NULL));
    tc_client c2;
    tc_client_init(&c2, other.port);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    CHECK_EQ_INT(tc_post_json(&c2, "/v2/models/spin/infer",
                              "{\"inputs\":[{\"name\":\"x\",\"shape\":[1],\"datatype\":"
                              "\"FP32\",\"data\":[0]}]}"),
                 504);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    printf("    deadline: 504 after %.2f s (timeout 0.3 s)\n", s);
    CHECK(contains(c2.body, "deadline"));
    CHECK(s < 5.0);
    /* the server is free again: a normal request answers */
    CHECK_EQ_INT(tc_post_json(&c2, "/v2/models/double/versions/1/infer",
                              "{\"inputs\":[{\"name\":\"x\",\"shape\":[1],\"datatype\":"
                              "\"FP32\",\"data\":[2]}]}"),
                 200);
    tc_client_free(&c2);
    CHECK_EQ_INT(tc_stop(&other, SIGTERM), 0);
}

static double seconds_since(const struct timespec *t0) {
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

static void *spin_request(void *arg) {
    tc_client c;
    tc_client_init(&c, *(int *)arg);
    long code = tc_post_json(&c, "/v2/models/spin/infer",
                             "{\"inputs\":[{\"name\":\"x\",\"shape\":[1],\"datatype\":"
                             "\"FP32\",\"data\":[0]}]}");
    tc_client_free(&c);
    return (void *)(intptr_t)code;
}

/* One event loop (--http-threads 1): a slow inference runs on a worker
 * while the loop keeps answering health checks and a fast model; with the
 * loop blocked they would wait the whole 1.5 s. */
static void test_slow_request_isolated(void) {
    CHECK_EQ_INT(upload("spin.tgz", "name=spin"), 201);
    tc_server other;
    CHECK(start_second(&other, "--http-threads", "1", "--request-timeout-ms", "1500", NULL));
    tc_client c2;
    tc_client_init(&c2, other.port);
    const char *fast = "/v2/models/double/versions/1/infer";
    const char *body =
        "{\"inputs\":[{\"name\":\"x\",\"shape\":[1],\"datatype\":\"FP32\",\"data\":[2]}]}";
    for (int i = 0; i < 5; i++)
        CHECK_EQ_INT(tc_post_json(&c2, fast, body), 200); /* measured fast */
    pthread_t t;
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    CHECK(pthread_create(&t, NULL, spin_request, &other.port) == 0);
    usleep(200 * 1000); /* the spin run is under way */
    double worst = 0;
    for (int i = 0; i < 5; i++) {
        struct timespec q0;
        clock_gettime(CLOCK_MONOTONIC, &q0);
        CHECK_EQ_INT(tc_get(&c2, "/v2/health/ready"), 200);
        CHECK_EQ_INT(tc_post_json(&c2, fast, body), 200);
        CHECK(contains(c2.body, "[4"));
        double s = seconds_since(&q0);
        if (s > worst) worst = s;
    }
    double during = seconds_since(&t0);
    void *code;
    pthread_join(t, &code);
    double spin = seconds_since(&t0);
    printf("    slow request: health + fast model answered in <= %.3f s each while a 1.5 s run "
           "went on (%.2f s in; it ended after %.2f s with %ld)\n",
           worst, during, spin, (long)(intptr_t)code);
    CHECK_EQ_INT((long)(intptr_t)code, 504);
    CHECK(worst < 0.5);
    CHECK(during < 1.4); /* all of them answered before the spin ended */
    tc_client_free(&c2);
    CHECK_EQ_INT(tc_stop(&other, SIGTERM), 0);
}

/* 1100 connections open at once, each answering a health check: the
 * server's descriptors go past FD_SETSIZE (1024), where select() fails. */
static void test_many_connections(void) {
    enum { N = 1100 };
    struct rlimit rl;
    CHECK(getrlimit(RLIMIT_NOFILE, &rl) == 0);
    if (rl.rlim_cur < N + 100) {
        rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > N + 100 ? N + 100 : rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
    }
    if (rl.rlim_cur < N + 100) {
        printf("    skipped: the open-file limit (%llu) is below %d\n",
               (unsigned long long)rl.rlim_cur, N + 100);
        return;
    }
    tc_server other;
    CHECK(start_second(&other, "--max-connections", "1200", NULL));
    static int fds[N];
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)other.port)};
    inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
    int opened = 0, answered = 0;
    for (int i = 0; i < N; i++) {
        fds[i] = socket(AF_INET, SOCK_STREAM, 0);
        if (fds[i] < 0 || connect(fds[i], (struct sockaddr *)&addr, sizeof addr) != 0) break;
        opened++;
    }
    const char req[] = "GET /v2/health/live HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    for (int i = 0; i < opened; i++)
        if (send(fds[i], req, sizeof req - 1, 0) != (ssize_t)(sizeof req - 1)) break;
    for (int i = 0; i < opened; i++) {
        struct timeval tv = {10, 0};
        setsockopt(fds[i], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        char buf[256];
        ssize_t n = recv(fds[i], buf, sizeof buf - 1, 0);
        if (n > 12) {
            buf[n] = '\0';
            answered += strncmp(buf, "HTTP/1.1 200", 12) == 0;
        }
    }
    for (int i = 0; i < opened; i++) close(fds[i]);
    printf("    %d connections open at once, %d answered 200\n", opened, answered);
    CHECK_EQ_INT(opened, N);
    CHECK_EQ_INT(answered, N);
    CHECK_EQ_INT(tc_stop(&other, SIGTERM), 0);
}

/* One single-row request per thread, answer checked. */
static void *pref_client(void *arg) {
    batch_load *l = arg;
    tc_client c;
    tc_client_init(&c, l->port);
    char body[256], want[128];
    snprintf(body, sizeof body,
             "{\"inputs\":[{\"name\":\"x\",\"shape\":[1,2],\"datatype\":\"FP32\","
             "\"data\":[%d,1]}]}",
             l->id);
    snprintf(want, sizeof want, "\"data\":[%d.0,2.0]", 2 * l->id);
    long code = tc_post_json(&c, "/v2/models/bpref/infer", body);
    if (code == 200 && strstr(c.body, want))
        l->ok++;
    else
        l->failed++;
    tc_client_free(&c);
    return NULL;
}

/* preferred_batch_sizes [2] with a 1 s delay: six concurrent requests go as
 * three pairs as soon as each pair is queued, none waits out the delay. */
static void test_preferred_batch_sizes(void) {
    CHECK_EQ_INT(upload("bpref.tgz", NULL), 201);
    CHECK(contains(cli.body, "\"preferred_batch_sizes\":[2]"));
    batch_load l[6];
    pthread_t th[6];
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 0; i < 6; i++) {
        l[i] = (batch_load){srv.port, i + 1, 0, 0, "bpref"};
        pthread_create(&th[i], NULL, pref_client, &l[i]);
    }
    int ok = 0;
    for (int i = 0; i < 6; i++) {
        pthread_join(th[i], NULL);
        ok += l[i].ok;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    printf("    preferred sizes: 6 requests answered in %.3f s (delay 1 s)\n", s);
    CHECK_EQ_INT(ok, 6);
    CHECK(s < 0.9);
    CHECK_EQ_INT(tc_get(&cli, "/metrics"), 200);
    CHECK(contains(cli.body, "mlambda_model_batches_total{model=\"bpref\",version=\"1\"} 3"));
}

/* Content-Encoding: gzip request bodies are inflated; large JSON answers
 * are gzipped when the client accepts it; unknown codings are a 415. */
static void test_content_encoding(void) {
    /* a 3000-element request and answer (the answer is well over 16 KB) */
    size_t cap = 3000 * 8 + 256, n = 0;
    char *body = malloc(cap);
    n += (size_t)snprintf(body + n, cap - n,
                          "{\"inputs\":[{\"name\":\"x\",\"shape\":[3000],\"datatype\":"
                          "\"FP32\",\"data\":[");
    for (int i = 0; i < 3000; i++)
        n += (size_t)snprintf(body + n, cap - n, "%s%d.25", i ? "," : "", i);
    n += (size_t)snprintf(body + n, cap - n, "]}]}");
    z_stream z;
    memset(&z, 0, sizeof z);
    deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
    size_t gcap = deflateBound(&z, (uLong)n);
    unsigned char *gz = malloc(gcap);
    z.next_in = (Bytef *)body;
    z.avail_in = (uInt)n;
    z.next_out = gz;
    z.avail_out = (uInt)gcap;
    CHECK_EQ_INT(deflate(&z, Z_FINISH), Z_STREAM_END);
    size_t gl = gcap - z.avail_out;
    deflateEnd(&z);
    struct curl_slist *h = curl_slist_append(NULL, "Content-Encoding: gzip");
    h = curl_slist_append(h, "Accept-Encoding: gzip");
    CHECK_EQ_INT(tc_request(&cli, "POST", "/v2/models/double/versions/1/infer", "application/json",
                            gz, gl, h),
                 200);
    /* the answer came back gzipped: inflate it and check a value */
    CHECK(cli.len > 2 && (unsigned char)cli.body[0] == 0x1f && (unsigned char)cli.body[1] == 0x8b);
    size_t plain_cap = 1 << 20;
    char *plain = calloc(plain_cap, 1);
    memset(&z, 0, sizeof z);
    inflateInit2(&z, 15 + 16);
    z.next_in = (Bytef *)cli.body;
    z.avail_in = (uInt)cli.len;
    z.next_out = (Bytef *)plain;
    z.avail_out = (uInt)(plain_cap - 1);
    CHECK_EQ_INT(inflate(&z, Z_FINISH), Z_STREAM_END);
    size_t pl = plain_cap - 1 - z.avail_out;
    inflateEnd(&z);
    printf("    content encoding: %zu-byte request as %zu gzipped; answer %zu bytes as %zu\n", n,
           gl, pl, cli.len);
    CHECK(pl > 16384 && cli.len < pl / 2);
    CHECK(contains(plain, "\"shape\":[3000]") && contains(plain, ",5996.5,"));
    free(plain);
    curl_slist_free_all(h);
    /* without Accept-Encoding the answer is plain */
    h = curl_slist_append(NULL, "Content-Encoding: gzip");
    CHECK_EQ_INT(tc_request(&cli, "POST", "/v2/models/double/versions/1/infer", "application/json",
                            gz, gl, h),
                 200);
    CHECK(contains(cli.body, ",5996.5,"));
    /* a truncated stream is a 400, an unknown coding a 415 */
    CHECK_EQ_INT(tc_request(&cli, "POST", "/v2/models/double/versions/1/infer", "application/json",
                            gz, gl / 2, h),
                 400);
    CHECK(contains(cli.body, "truncated"));
    curl_slist_free_all(h);
    h = curl_slist_append(NULL, "Content-Encoding: br");
    CHECK_EQ_INT(tc_request(&cli, "POST", "/v2/models/double/versions/1/infer", "application/json",
                            body, n, h),
                 415);
    curl_slist_free_all(h);
    free(gz);
    free(body);
}

/* --auth-token-file: a 401 with WWW-Authenticate for every route but the
 * health checks and the UI's files; any listed token works; an upload is
 * refused before its body is read. */
static void test_auth(void) {
    char path[400];
    snprintf(path, sizeof path, "%s/tokens", srv.dir);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (!f) return;
    fputs("# rotated tokens\nfirst-token\n\n  second-token  \n", f);
    fclose(f);
    tc_server other;
    CHECK(start_second(&other, "--auth-token-file", path, NULL));
    tc_client c;
    tc_client_init(&c, other.port);
    CHECK_EQ_INT(tc_get(&c, "/v2/health/live"), 200);
    CHECK_EQ_INT(tc_get(&c, "/v2/health/ready"), 200);
    CHECK_EQ_INT(tc_get(&c, "/api/v2/models"), 401);
    CHECK(contains(c.body, "bearer token"));
    CHECK_EQ_INT(tc_get(&c, "/metrics"), 401);
    const char *req =
        "{\"inputs\":[{\"name\":\"x\",\"shape\":[1],\"datatype\":\"FP32\",\"data\":[3]}]}";
    CHECK_EQ_INT(tc_post_json(&c, "/v2/models/double/versions/1/infer", req), 401);
    const char *bad[] = {"Authorization: Bearer wrong", "Authorization: Bearer first-toke",
                         "Authorization: Basic first-token", "Authorization: first-token"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        struct curl_slist *h = curl_slist_append(NULL, bad[i]);
        CHECK_EQ_INT(tc_request(&c, "GET", "/api/v2/models", NULL, NULL, 0, h), 401);
        curl_slist_free_all(h);
    }
    const char *good[] = {"Authorization: Bearer first-token",
                          "Authorization: bearer second-token"};
    for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
        struct curl_slist *h = curl_slist_append(NULL, good[i]);
        CHECK_EQ_INT(tc_request(&c, "POST", "/v2/models/double/versions/1/infer",
                                "application/json", req, strlen(req), h),
                     200);
        curl_slist_free_all(h);
    }
    /* an upload without a token: refused, nothing stored */
    char model[512];
    model_path(model, sizeof model, "double.tgz");
    long before = count_dir("models");
    CHECK_EQ_INT(tc_upload_file(&c, model, "name=sneaky"), 401);
    CHECK_EQ_INT(count_dir("models"), before);
    tc_client_free(&c);
    CHECK_EQ_INT(tc_stop(&other, SIGTERM), 0);
    /* a missing or empty token file stops the server from starting */
    f = fopen(path, "w");
    if (f) fclose(f);
    CHECK(!start_second(&other, "--auth-token-file", path, NULL));
    remove(path);
}

/* Two servers on one registry (same data dir and database): an update
 * made through one is served by the other within its re-check interval. */
static void test_two_servers(void) {
    tc_server other = srv;
    other.pid = 0;
    CHECK(tc_start(&other, binary, server_args));
    CHECK(other.port != srv.port);
    tc_client c2;
    tc_client_init(&c2, other.port);
    const char *v1 = "{\"singular\":{\"model\":\"double:1\"}}",
               *v2 = "{\"singular\":{\"model\":\"square:1\"}}";
    CHECK_EQ_INT(tc_request(&cli, "PUT", "/api/v2/applications/shared", "application/json", v1,
                            strlen(v1), NULL),
                 200);
    CHECK_EQ_INT(tc_post_json(&c2, "/gateway/application/shared", "{\"x\":[3]}"), 200);
    CHECK_STR(c2.body, "{\"y\":[6.0]}");
    CHECK_EQ_INT(tc_request(&cli, "PUT", "/api/v2/applications/shared", "application/json", v2,
                            strlen(v2), NULL),
                 200);
    bool switched = false;
    for (int i = 0; i < 60 && !switched; i++) { /* re-check interval is 2 s */
        CHECK_EQ_INT(tc_post_json(&c2, "/gateway/application/shared", "{\"x\":[3]}"), 200);
        switched = !strcmp(c2.body, "{\"y\":[9.0]}");
        if (!switched) msleep(100);
    }
    CHECK(switched);
    CHECK_EQ_INT(tc_request(&cli, "DELETE", "/api/v2/applications/shared", NULL, NULL, 0, NULL),
                 204);
    bool gone = false;
    for (int i = 0; i < 60 && !gone; i++) {
        gone = tc_post_json(&c2, "/gateway/application/shared", "{\"x\":[3]}") == 404;
        if (!gone) msleep(100);
    }
    CHECK(gone);
    /* A version deleted through one server stops being served by the other. */
    const char *req =
        "{\"inputs\":[{\"name\":\"x\",\"shape\":[1],\"datatype\":\"FP32\",\"data\":[3]}]}";
    CHECK_EQ_INT(tc_post_json(&c2, "/v2/models/slow/versions/1/infer", req), 200);
    CHECK_EQ_INT(tc_request(&cli, "DELETE", "/api/v2/models/slow/versions/1", NULL, NULL, 0, NULL),
                 204);
    gone = false;
    for (int i = 0; i < 60 && !gone; i++) {
        gone = tc_post_json(&c2, "/v2/models/slow/versions/1/infer", req) == 404;
        if (!gone) msleep(100);
    }
    CHECK(gone);
    tc_client_free(&c2);
    CHECK_EQ_INT(tc_stop(&other, SIGTERM), 0);
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s <mlambda binary> <make_models.py>\n", argv[0]);
        return 2;
    }
    binary = argv[1];
    signal(SIGPIPE, SIG_IGN);
    curl_global_init(CURL_GLOBAL_ALL);
    const char *db = getenv("MLAMBDA_TEST_DB");
    printf("registry back end: %s\n", db && *db ? db : "sqlite");
    if (!tc_setup(&srv, argv[2])) {
        fprintf(stderr, "cannot create the test models (python3 with onnx needed)\n");
        return 1;
    }
    if (!tc_start(&srv, binary, server_args)) {
        fprintf(stderr, "cannot start %s serve\n", binary);
        char cmd[400];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", srv.dir);
        if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", srv.dir);
        return 1;
    }
    tc_client_init(&cli, srv.port);
    RUN(test_health);
    RUN(test_uploads);
    RUN(test_bad_uploads);
    RUN(test_model_queries);
    RUN(test_kserve);
    RUN(test_kserve_binary);
    RUN(test_validation);
    RUN(test_tf);
    RUN(test_applications);
    RUN(test_weighted_split);
    RUN(test_hot_swap);
    RUN(test_metrics_stats_audit);
    RUN(test_deletes);
    RUN(test_restart_persists);
    RUN(test_graceful_shutdown);
    RUN(test_kill9_during_upload);
    RUN(test_batching);
    RUN(test_preferred_batch_sizes);
    RUN(test_sequence_of_maps_output);
    RUN(test_request_timeout);
    RUN(test_slow_request_isolated);
    RUN(test_many_connections);
    RUN(test_content_encoding);
    RUN(test_auth);
    RUN(test_two_servers);
    tc_client_free(&cli);
    tc_stop(&srv, SIGTERM);
    if (!getenv("MLAMBDA_TEST_KEEP")) {
        char cmd[400];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", srv.dir);
        if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", srv.dir);
    }
    curl_global_cleanup();
    return TEST_SUMMARY();
}
