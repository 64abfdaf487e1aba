/* Unit tests for the CLI library: YAML, config round trip, packing,
 * tables, progress text, tensor nesting, application specs, HTTP errors. */
#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/app_format.h"
#include "cli/config.h"
#include "cli/grpc_client.h"
#include "cli/http_client.h"
#include "cli/pack.h"
#include "cli/progress.h"
#include "cli/table.h"
#include "cli/tensor_json.h"
#include "cli/upload.h"
#include "cli/yaml_json.h"
#include "test.h"

static char tmp_root[256];

static void write_text(const char *dir, const char *rel, const char *text) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, rel);
    /* create parent folders */
    for (char *p = path + strlen(dir) + 1; *p; p++)
        if (*p == '/') {
            *p = '\0';
            mkdir(path, 0755);
            *p = '/';
        }
    FILE *f = fopen(path, "wb");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

static void yaml_scalars_and_documents(void) {
    const char *text = "kind: Model\nname: seq2seq\ncount: 3\nratio: 0.5\non: true\nnothing: ~\n"
                       "quoted: \"42\"\nlist: [a, 1, false]\n---\nkind: Application\nname: chat\n";
    json_t *docs = NULL;
    CHECK_OK(ml_yaml_parse(text, strlen(text), "t.yaml", &docs));
    CHECK_EQ_INT(json_array_size(docs), 2);
    json_t *d = json_array_get(docs, 0);
    CHECK_STR(json_string_value(json_object_get(d, "name")), "seq2seq");
    CHECK_EQ_INT(json_integer_value(json_object_get(d, "count")), 3);
    CHECK_NEAR(json_real_value(json_object_get(d, "ratio")), 0.5, 1e-12);
    CHECK(json_is_true(json_object_get(d, "on")));
    CHECK(json_is_null(json_object_get(d, "nothing")));
    CHECK_STR(json_string_value(json_object_get(d, "quoted")), "42");
    json_t *list = json_object_get(d, "list");
    CHECK(json_is_string(json_array_get(list, 0)));
    CHECK(json_is_integer(json_array_get(list, 1)));
    CHECK(json_is_false(json_array_get(list, 2)));
    CHECK_STR(json_string_value(json_object_get(json_array_get(docs, 1), "kind")), "Application");
    json_decref(docs);
}

static void yaml_errors_name_the_place(void) {
    const char *bad = "kind: Model\nname: [unclosed\n";
    json_t *docs = NULL;
    ml_status st = ml_yaml_parse(bad, strlen(bad), "bad.yaml", &docs);
    CHECK(st != NULL);
    CHECK(strstr(ml_status_message(st), "bad.yaml:") != NULL);
    CHECK_EQ_INT(ml_status_code(st), ML_ERR_INVALID_ARGUMENT);
    ml_status_free(st);
    const char *alias = "a: &x [1, 2]\nb: *x\n";
    CHECK_ERR(ml_yaml_parse(alias, strlen(alias), "alias.yaml", &docs), ML_ERR_INVALID_ARGUMENT);
    /* Nesting deeper than the limit is refused, not recursed into. */
    char deep[400] = "";
    for (int i = 0; i < 100; i++) strcat(deep, "[");
    CHECK_ERR(ml_yaml_parse(deep, strlen(deep), "deep.yaml", &docs), ML_ERR_INVALID_ARGUMENT);
}

static void yaml_emit_round_trip(void) {
    json_t *v = json_pack("{s:s, s:s, s:s, s:i, s:b, s:[s,s], s:{s:s}}", "plain", "hello",
                          "looks_bool", "true", "looks_int", "123", "n", 7, "flag", 1, "list", "a",
                          "b: c", "map", "k", "");
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    CHECK_OK(ml_yaml_emit(f, v));
    fclose(f);
    json_t *docs = NULL;
    CHECK_OK(ml_yaml_parse(buf, len, "emitted", &docs));
    CHECK(json_equal(json_array_get(docs, 0), v));
    json_decref(docs);
    json_decref(v);
    free(buf);
}

static void config_round_trip(void) {
    char dir[300];
    snprintf(dir, sizeof dir, "%s/xdg", tmp_root);
    setenv("XDG_CONFIG_HOME", dir, 1);
    char path[512];
    CHECK_OK(ml_config_path(path, sizeof path));
    CHECK(strstr(path, "/xdg/mlambda/config.yaml") != NULL);

    ml_config cfg;
    CHECK_OK(ml_config_load(path, &cfg)); /* missing file: empty */
    CHECK_EQ_INT(cfg.n_clusters, 0);
    ml_cluster a = {"local", "http://localhost:9090", "localhost:9091", "s3cret: \"x\"", NULL};
    ml_cluster b = {"prod", "https://prod.example.com", NULL, NULL, "/etc/ssl/prod-ca.pem"};
    int replaced = -1;
    CHECK_OK(ml_config_put(&cfg, &a, &replaced));
    CHECK_EQ_INT(replaced, 0);
    CHECK_OK(ml_config_put(&cfg, &b, &replaced));
    cfg.current = strdup("prod");
    CHECK_OK(ml_config_save(path, &cfg));
    ml_config_free(&cfg);

    struct stat sb;
    CHECK(stat(path, &sb) == 0);
    CHECK_EQ_INT(sb.st_mode & 0777, 0600);

    CHECK_OK(ml_config_load(path, &cfg));
    CHECK_EQ_INT(cfg.n_clusters, 2);
    CHECK_STR(cfg.current, "prod");
    ml_cluster *l = ml_config_find(&cfg, "local");
    CHECK(l != NULL);
    if (l) {
        CHECK_STR(l->server, "http://localhost:9090");
        CHECK_STR(l->grpc, "localhost:9091");
        CHECK_STR(l->token, "s3cret: \"x\"");
        CHECK(l->cacert == NULL);
    }
    ml_cluster *pr = ml_config_find(&cfg, "prod");
    CHECK(pr && pr->cacert && !strcmp(pr->cacert, "/etc/ssl/prod-ca.pem"));
    ml_cluster a2 = {"local", "http://127.0.0.1:1234", NULL, NULL, NULL};
    CHECK_OK(ml_config_put(&cfg, &a2, &replaced));
    CHECK_EQ_INT(replaced, 1);
    CHECK_EQ_INT(cfg.n_clusters, 2);
    CHECK_EQ_INT(ml_config_remove(&cfg, "prod"), 1);
    CHECK(cfg.current == NULL); /* removing the current cluster clears it */
    CHECK_EQ_INT(ml_config_remove(&cfg, "prod"), 0);
    CHECK_OK(ml_config_save(path, &cfg));
    ml_config_free(&cfg);
    CHECK_OK(ml_config_load(path, &cfg));
    CHECK_EQ_INT(cfg.n_clusters, 1);
    CHECK_STR(cfg.clusters[0].server, "http://127.0.0.1:1234");
    CHECK(cfg.clusters[0].token == NULL);

    /* Tokens in a file others can read are flagged (the CLI warns). */
    CHECK_EQ_INT(cfg.exposed_tokens, 0);
    ml_config_free(&cfg);
    chmod(path, 0644);
    CHECK_OK(ml_config_load(path, &cfg));
    CHECK_EQ_INT(cfg.exposed_tokens, 0); /* no token left in this file */
    ml_cluster tok = {"t", "http://h", NULL, "secret", NULL};
    CHECK_OK(ml_config_put(&cfg, &tok, NULL));
    CHECK_OK(ml_config_save(path, &cfg)); /* saving restores 0600 */
    ml_config_free(&cfg);
    chmod(path, 0644);
    CHECK_OK(ml_config_load(path, &cfg));
    CHECK_EQ_INT(cfg.exposed_tokens, 1);
    ml_config_free(&cfg);

    /* A broken file is reported, not silently replaced. */
    write_text(dir, "mlambda/config.yaml", "clusters: [{name: x}]\n");
    CHECK_ERR(ml_config_load(path, &cfg), ML_ERR_INVALID_ARGUMENT);

    unsetenv("XDG_CONFIG_HOME");
    setenv("HOME", "/home/someone", 1);
    CHECK_OK(ml_config_path(path, sizeof path));
    CHECK_STR(path, "/home/someone/.config/mlambda/config.yaml");
}

static void names_and_urls(void) {
    CHECK(ml_valid_name("seq2seq"));
    CHECK(ml_valid_name("a.b_c-d"));
    CHECK(!ml_valid_name("-x"));
    CHECK(!ml_valid_name("a/b"));
    CHECK(!ml_valid_name(""));
    CHECK_OK(ml_check_server_url("http://localhost"));
    CHECK_OK(ml_check_server_url("https://h:443/prefix"));
    CHECK_ERR(ml_check_server_url("localhost:9090"), ML_ERR_INVALID_ARGUMENT);
    CHECK_ERR(ml_check_server_url("http://"), ML_ERR_INVALID_ARGUMENT);
    CHECK_ERR(ml_check_label("novalue"), ML_ERR_INVALID_ARGUMENT);
    CHECK_OK(ml_check_label("team=nlp"));
    char *e = ml_url_escape("a b/c=d&é");
    CHECK_STR(e, "a%20b%2Fc%3Dd%26%C3%A9");
    free(e);
}

static void grpc_endpoints(void) {
    char ep[128];
    CHECK_OK(ml_grpc_endpoint_from_url("http://localhost:9090", ep, sizeof ep));
    CHECK_STR(ep, "localhost:9091");
    CHECK_OK(ml_grpc_endpoint_from_url("https://models.example.com/prefix", ep, sizeof ep));
    CHECK_STR(ep, "models.example.com:9091");
    CHECK_OK(ml_grpc_endpoint_from_url("http://[::1]:9090", ep, sizeof ep));
    CHECK_STR(ep, "[::1]:9091");
    CHECK_ERR(ml_grpc_endpoint_from_url("http://[::1", ep, sizeof ep), ML_ERR_INVALID_ARGUMENT);
    CHECK_ERR(ml_grpc_endpoint_from_url("http:///x", ep, sizeof ep), ML_ERR_INVALID_ARGUMENT);
}

static char model_dir[300];

static void make_model_dir(void) {
    snprintf(model_dir, sizeof model_dir, "%s/model", tmp_root);
    mkdir(model_dir, 0755);
    write_text(model_dir, "model.onnx", "not really onnx");
    write_text(model_dir, "vocab.txt", "a\nb\n");
    write_text(model_dir, "notes.md", "ignored");
    write_text(model_dir, "sub/x.bin", "xx");
    write_text(model_dir, "sub/deep/y.txt", "yy");
    write_text(model_dir, "serving.yaml",
               "kind: Model\nname: demo\npayload: [\"model.onnx\", \"./sub/\"]\n");
}

static void pack_collects_by_payload(void) {
    ml_pack_list l;
    CHECK_OK(ml_pack_collect(model_dir, NULL, &l));
    CHECK_EQ_INT(l.n, 6);
    if (l.n == 6) {
        CHECK_STR(l.paths[0], "model.onnx"); /* byte order: deterministic */
        CHECK_STR(l.paths[3], "sub/deep/y.txt");
    }
    ml_pack_list_free(&l);

    json_t *serving = NULL;
    CHECK_OK(ml_pack_read_serving(model_dir, &serving));
    CHECK(serving != NULL);
    CHECK_OK(ml_pack_collect(model_dir, json_object_get(serving, "payload"), &l));
    json_decref(serving);
    /* model.onnx, serving.yaml (always), and everything under sub/ */
    CHECK_EQ_INT(l.n, 4);
    if (l.n == 4) {
        CHECK_STR(l.paths[0], "model.onnx");
        CHECK_STR(l.paths[1], "serving.yaml");
        CHECK_STR(l.paths[2], "sub/deep/y.txt");
        CHECK_STR(l.paths[3], "sub/x.bin");
    }
    ml_pack_list_free(&l);

    json_t *p = json_pack("[s]", "**/*.txt");
    CHECK_OK(ml_pack_collect(model_dir, p, &l));
    CHECK_EQ_INT(l.n, 3); /* serving.yaml, sub/deep/y.txt, vocab.txt: '**' crosses folders */
    ml_pack_list_free(&l);
    json_decref(p);

    p = json_pack("[s]", "*.txt");
    CHECK_OK(ml_pack_collect(model_dir, p, &l));
    CHECK_EQ_INT(l.n, 2); /* vocab.txt + serving.yaml; '*' stays in its folder */
    ml_pack_list_free(&l);
    json_decref(p);

    p = json_pack("[s]", "missing.bin");
    ml_status st = ml_pack_collect(model_dir, p, &l);
    CHECK(st && strstr(ml_status_message(st), "missing.bin"));
    ml_status_free(st);
    json_decref(p);
    p = json_pack("[s]", "../etc/passwd");
    CHECK_ERR(ml_pack_collect(model_dir, p, &l), ML_ERR_INVALID_ARGUMENT);
    json_decref(p);
    CHECK_ERR(ml_pack_collect("/nonexistent/dir", NULL, &l), ML_ERR_INVALID_ARGUMENT);
}

/* Reads an archive back: "name=content;" for every entry. */
static void archive_summary(const char *path, char *out, size_t cap) {
    struct archive *a = archive_read_new();
    archive_read_support_filter_gzip(a);
    archive_read_support_format_tar(a);
    out[0] = '\0';
    if (archive_read_open_filename(a, path, 4096) != ARCHIVE_OK) {
        archive_read_free(a);
        return;
    }
    struct archive_entry *e;
    while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
        char data[256] = "";
        la_ssize_t n = archive_read_data(a, data, sizeof data - 1);
        if (n > 0) data[n] = '\0';
        size_t len = strlen(out);
        snprintf(out + len, cap - len, "%s=%s;", archive_entry_pathname(e), data);
    }
    archive_read_free(a);
}

static void pack_is_deterministic(void) {
    ml_pack_list l;
    json_t *p = json_pack("[s,s]", "model.onnx", "vocab.txt");
    CHECK_OK(ml_pack_collect(model_dir, p, &l));
    ml_pack_result r1, r2, r3;
    CHECK_OK(ml_pack_write(model_dir, &l, NULL, NULL, 0, &r1));
    CHECK_EQ_INT(r1.n_files, 3);
    CHECK_EQ_INT(r1.raw_size,
                 strlen("not really onnx") + 4 +
                     strlen("kind: Model\nname: demo\npayload: [\"model.onnx\", \"./sub/\"]\n"));
    CHECK(strncmp(r1.digest, "sha256:", 7) == 0 && strlen(r1.digest) == 71);
    char summary[2048];
    archive_summary(r1.path, summary, sizeof summary);
    CHECK(strstr(summary, "model.onnx=not really onnx;") != NULL);
    CHECK(strstr(summary, "vocab.txt=a\nb\n;") != NULL);

    /* Same content, new mtime: same digest (what `apply` relies on). */
    sleep(1);
    write_text(model_dir, "vocab.txt", "a\nb\n");
    CHECK_OK(ml_pack_write(model_dir, &l, NULL, NULL, 0, &r2));
    CHECK_STR(r1.digest, r2.digest);
    CHECK_EQ_INT(r1.size, r2.size);

    /* Changed content: new digest. An in-memory serving.yaml replaces the folder's. */
    CHECK_OK(ml_pack_write(model_dir, &l, "serving.yaml", "kind: Model\n", 12, &r3));
    CHECK(strcmp(r1.digest, r3.digest) != 0);
    archive_summary(r3.path, summary, sizeof summary);
    CHECK(strstr(summary, "serving.yaml=kind: Model\n;") != NULL);
    CHECK(strstr(summary, "payload") == NULL);
    char path3[512];
    snprintf(path3, sizeof path3, "%s", r3.path);
    ml_pack_result_free(&r1);
    ml_pack_result_free(&r2);
    ml_pack_result_free(&r3);
    CHECK(access(path3, F_OK) != 0); /* the temp archive is removed */
    ml_pack_list_free(&l);
    json_decref(p);
}

static void upload_prepare_resolves_name(void) {
    ml_cli_upload_opts o = {.dir = model_dir};
    ml_prepared p;
    CHECK_OK(ml_cli_upload_prepare(&o, &p));
    CHECK_STR(p.name, "demo"); /* from serving.yaml */
    CHECK_EQ_INT(p.n_files, 4);
    CHECK_EQ_INT(p.raw_size,
                 strlen("not really onnx") + 2 + 2 +
                     strlen("kind: Model\nname: demo\npayload: [\"model.onnx\", \"./sub/\"]\n"));
    CHECK_STR(p.digest, "");
    CHECK_OK(ml_cli_upload_digest(&o, &p));
    CHECK(strncmp(p.digest, "sha256:", 7) == 0);
    ml_prepared_free(&p);
    o.name = "other";
    o.serving_yaml = "kind: Model\n";
    o.serving_yaml_len = 12;
    CHECK_OK(ml_cli_upload_prepare(&o, &p));
    CHECK_STR(p.name, "other");
    CHECK_EQ_INT(p.n_files, 4); /* the generated serving.yaml replaces the folder's */
    ml_prepared_free(&p);
    const char *bad_labels[] = {"oops"};
    o.labels = bad_labels;
    o.n_labels = 1;
    CHECK_ERR(ml_cli_upload_prepare(&o, &p), ML_ERR_INVALID_ARGUMENT);
}

/* The streamed archive is byte-identical to the stored one and the digest-only pass. */
static void pack_stream_matches_file(void) {
    ml_pack_list l;
    CHECK_OK(ml_pack_collect(model_dir, NULL, &l));
    ml_pack_result file, digest, streamed;
    CHECK_OK(ml_pack_write(model_dir, &l, NULL, NULL, 0, &file));
    CHECK_OK(ml_pack_digest(model_dir, &l, NULL, NULL, 0, NULL, NULL, &digest));
    CHECK_STR(file.digest, digest.digest);
    CHECK_EQ_INT(file.size, digest.size);

    ml_pack_stream *ps = NULL;
    CHECK_OK(ml_pack_stream_start(model_dir, &l, NULL, NULL, 0, &ps));
    char copy[512];
    snprintf(copy, sizeof copy, "%s/streamed.tar.gz", tmp_root);
    FILE *f = fopen(copy, "wb");
    char buf[4096];
    ssize_t n;
    uint64_t total = 0;
    while (ps && (n = read(ml_pack_stream_fd(ps), buf, sizeof buf)) > 0) {
        fwrite(buf, 1, (size_t)n, f);
        total += (uint64_t)n;
    }
    fclose(f);
    if (ps) CHECK_EQ_INT(ml_pack_stream_raw_done(ps), file.raw_size);
    if (ps) CHECK_OK(ml_pack_stream_finish(ps, &streamed));
    CHECK_EQ_INT(total, file.size);
    CHECK_STR(streamed.digest, file.digest);
    char hashed[80];
    CHECK_OK(ml_sha256_file(copy, hashed, sizeof hashed));
    CHECK_STR(hashed, file.digest);

    /* A reader that gives up early stops the packer instead of hanging it. */
    CHECK_OK(ml_pack_stream_start(model_dir, &l, NULL, NULL, 0, &ps));
    if (ps) {
        ml_status st = ml_pack_stream_finish(ps, NULL);
        /* Small archives may fit in the socket buffer and complete anyway. */
        CHECK(st == NULL || ml_status_code(st) == ML_ERR_UNAVAILABLE);
        ml_status_free(st);
    }
    ml_pack_result_free(&file);
    ml_pack_list_free(&l);
}

static void table_aligns_columns(void) {
    static const char *hdr[] = {"NAME", "V", "NOTE"};
    ml_table *t = ml_table_new(3, hdr);
    const char *r1[] = {"seq2seq", "12", "first\nline"};
    const char *r2[] = {"é", NULL, "x"};
    CHECK(ml_table_add(t, r1));
    CHECK(ml_table_add(t, r2));
    CHECK_EQ_INT(ml_table_rows(t), 2);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    ml_table_print(t, f);
    fclose(f);
    CHECK_STR(buf, "NAME     V   NOTE\n"
                   "seq2seq  12  first line\n"
                   "é        -   x\n");
    free(buf);
    ml_table_free(t);
}

static void progress_formats(void) {
    char b[64];
    ml_format_bytes(999, b, sizeof b);
    CHECK_STR(b, "999 B");
    ml_format_bytes(1536, b, sizeof b);
    CHECK_STR(b, "1.5 KB");
    ml_format_bytes(5u * 1024 * 1024, b, sizeof b);
    CHECK_STR(b, "5.0 MB");
    ml_format_duration(7, b, sizeof b);
    CHECK_STR(b, "7s");
    ml_format_duration(65, b, sizeof b);
    CHECK_STR(b, "1:05");
    ml_format_duration(3725, b, sizeof b);
    CHECK_STR(b, "1:02:05");
    char text[160];
    ml_progress_text(1024 * 1024, 4 * 1024 * 1024, 2.0, text, sizeof text);
    CHECK_STR(text, " 25%  1.0 MB / 4.0 MB  512.0 KB/s  ETA 6s");

    /* Plain mode (not a TTY): one line per 10% step, then the final line. */
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    ml_progress p;
    ml_progress_init(&p, f, "upload", 1000);
    for (int i = 0; i <= 1000; i += 50) ml_progress_update(&p, (uint64_t)i);
    ml_progress_finish(&p, 1000);
    fclose(f);
    int lines = 0;
    for (char *c = buf; c && *c; c++) lines += *c == '\n';
    CHECK_EQ_INT(lines, 11);
    CHECK(strstr(buf, "upload: 100%") != NULL);
    free(buf);
}

static void tensors_nest_and_flatten(void) {
    json_t *nested = json_loads("[[1, 2, 3], [4, 5, 6]]", 0, NULL);
    json_t *shape, *data;
    CHECK_OK(ml_tensor_flatten(nested, "x", &shape, &data));
    char *s = json_dumps(shape, JSON_COMPACT);
    CHECK_STR(s, "[2,3]");
    free(s);
    CHECK_EQ_INT(json_array_size(data), 6);
    json_t *back;
    CHECK_OK(ml_tensor_nest(shape, data, &back));
    CHECK(json_equal(back, nested));
    json_decref(back);
    json_decref(shape);
    json_decref(data);
    json_decref(nested);

    nested = json_loads("[[1, 2], [3]]", 0, NULL);
    CHECK_ERR(ml_tensor_flatten(nested, "ragged", &shape, &data), ML_ERR_INVALID_ARGUMENT);
    json_decref(nested);

    json_t *scalar_shape = json_array();
    json_t *one = json_pack("[s]", "hi");
    CHECK_OK(ml_tensor_nest(scalar_shape, one, &back));
    CHECK_STR(json_string_value(back), "hi");
    json_decref(back);
    json_t *bad_shape = json_pack("[i]", 2);
    CHECK_ERR(ml_tensor_nest(bad_shape, one, &back), ML_ERR_INVALID_ARGUMENT);
    json_decref(bad_shape);
    json_decref(scalar_shape);
    json_decref(one);

    json_t *cshape = json_pack("[i,i]", 1, -1);
    json_t *w = ml_tensor_wrap(json_string("hello"), cshape);
    s = json_dumps(w, JSON_COMPACT);
    CHECK_STR(s, "[[\"hello\"]]");
    free(s);
    json_decref(w);
    json_decref(cshape);
    CHECK_STR(ml_kserve_datatype("float"), "FP32");
    CHECK_STR(ml_kserve_datatype("string"), "BYTES");
    CHECK(ml_kserve_datatype("complex64") == NULL);
}

static void app_specs_normalise(void) {
    json_t *singular = json_loads("{\"kind\":\"Application\",\"name\":\"chat\","
                                  "\"singular\":{\"model\":\"seq2seq:1\"}}",
                                  0, NULL);
    json_t *answer = json_loads("{\"name\":\"chat\",\"stages\":[{\"variants\":"
                                "[{\"model\":\"seq2seq:1\",\"weight\":100}]}]}",
                                0, NULL);
    json_t *pipeline = json_loads(
        "{\"kind\":\"Application\",\"name\":\"chat\",\"pipeline\":[[{\"model\":\"pre:1\"}],"
        "[{\"model\":\"seq2seq:1\",\"weight\":80},{\"model\":\"seq2seq:2\",\"weight\":20}]]}",
        0, NULL);
    json_t *s1, *s2, *s3;
    CHECK_OK(ml_app_stages(singular, &s1));
    CHECK_OK(ml_app_stages(answer, &s2));
    CHECK_OK(ml_app_stages(pipeline, &s3));
    CHECK(ml_app_stages_equal(s1, s2));
    CHECK(!ml_app_stages_equal(s1, s3));
    char text[256];
    ml_app_stages_text(s3, text, sizeof text);
    CHECK_STR(text, "pre:1 -> seq2seq:1 (80%), seq2seq:2 (20%)");
    ml_app_stages_text(s1, text, sizeof text);
    CHECK_STR(text, "seq2seq:1");
    json_decref(s1);
    json_decref(s2);
    json_decref(s3);
    json_t *neither = json_loads("{\"name\":\"x\"}", 0, NULL);
    CHECK_ERR(ml_app_stages(neither, &s1), ML_ERR_INVALID_ARGUMENT);
    json_t *both = json_loads("{\"singular\":{\"model\":\"a:1\"},\"pipeline\":[]}", 0, NULL);
    CHECK_ERR(ml_app_stages(both, &s1), ML_ERR_INVALID_ARGUMENT);
    json_decref(neither);
    json_decref(both);
    json_decref(singular);
    json_decref(answer);
    json_decref(pipeline);
}

static void http_errors_are_one_line(void) {
    char body[] = "{\"error\": \"model version seq2seq:1 is used by application 'chat'\"}";
    ml_http_response r = {409, body, sizeof body - 1};
    ml_status st = ml_http_error(&r);
    CHECK_STR(ml_status_message(st),
              "HTTP 409 Conflict: model version seq2seq:1 is used by application 'chat'");
    CHECK_EQ_INT(ml_status_code(st), ML_ERR_CONFLICT);
    ml_status_free(st);
    char html[] = "<html>\n<body>bad gateway</body>\n";
    ml_http_response r2 = {502, html, sizeof html - 1};
    st = ml_http_error(&r2);
    CHECK_STR(ml_status_message(st), "HTTP 502 Bad Gateway: <html>");
    ml_status_free(st);

    /* Nothing listens on port 1: a clear UNAVAILABLE, no curl noise. */
    ml_http_target t = {"http://127.0.0.1:1", NULL, "local", NULL};
    json_t *ans = NULL;
    st = ml_http_json(&t, "GET", "/api/v2/models", NULL, NULL, &ans);
    CHECK_EQ_INT(ml_status_code(st), ML_ERR_UNAVAILABLE);
    CHECK(st && strstr(ml_status_message(st), "cannot reach the server at http://127.0.0.1:1"));
    CHECK(st && strstr(ml_status_message(st), "cluster 'local'"));
    ml_status_free(st);
}

int main(void) {
    snprintf(tmp_root, sizeof tmp_root, "/tmp/mlambda-test-cli-XXXXXX");
    if (!mkdtemp(tmp_root)) return 1;
    RUN(yaml_scalars_and_documents);
    RUN(yaml_errors_name_the_place);
    RUN(yaml_emit_round_trip);
    RUN(config_round_trip);
    RUN(names_and_urls);
    RUN(grpc_endpoints);
    make_model_dir();
    RUN(pack_collects_by_payload);
    RUN(pack_is_deterministic);
    RUN(upload_prepare_resolves_name);
    RUN(pack_stream_matches_file);
    RUN(table_aligns_columns);
    RUN(progress_formats);
    RUN(tensors_nest_and_flatten);
    RUN(app_specs_normalise);
    RUN(http_errors_are_one_line);
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp_root);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmp_root);
    return TEST_SUMMARY();
}
