/* Unit tests of the registry: YAML/JSON specs, contracts, archive safety,
 * the artifact store and the SQLite store (a real file in a temp dir). */
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "registry/registry.h"
#include "registry/yaml_json.h"
#include "test.h"

static char tmp[64];

static json_t *yaml(const char *text) {
    json_t *j = NULL;
    ml_status st = ml_yaml_to_json(text, strlen(text), &j);
    if (st) {
        fprintf(stderr, "    yaml: %s\n", ml_status_message(st));
        ml_status_free(st);
    }
    return j;
}

static void test_yaml(void) {
    json_t *j = yaml("a: 1\nb: [x, 'y', 2.5, true, null]\nc: {d: \"7\"}\n");
    CHECK(j != NULL);
    CHECK_EQ_INT(json_integer_value(json_object_get(j, "a")), 1);
    json_t *b = json_object_get(j, "b");
    CHECK_STR(json_string_value(json_array_get(b, 0)), "x");
    CHECK_STR(json_string_value(json_array_get(b, 1)), "y");
    CHECK_NEAR(json_real_value(json_array_get(b, 2)), 2.5, 0);
    CHECK(json_is_true(json_array_get(b, 3)));
    CHECK(json_is_null(json_array_get(b, 4)));
    CHECK_STR(json_string_value(json_object_get(json_object_get(j, "c"), "d")),
              "7"); /* quoted stays a string */
    json_decref(j);
    json_t *out = NULL;
    const char *alias = "a: &x [1]\nb: *x\n";
    CHECK_ERR(ml_yaml_to_json(alias, strlen(alias), &out), ML_ERR_INVALID_ARGUMENT);
    char deep[400] = "";
    for (int i = 0; i < 100; i++) strcat(deep, "[");
    CHECK_ERR(ml_yaml_to_json(deep, strlen(deep), &out), ML_ERR_INVALID_ARGUMENT);
    CHECK_ERR(ml_yaml_to_json("a: [1, 2", 8, &out), ML_ERR_INVALID_ARGUMENT);
    CHECK_OK(ml_parse_json_or_yaml("{\"a\": 1}", 8, &out));
    json_decref(out);
    CHECK_ERR(ml_parse_json_or_yaml("{\"a\": 1, \"a\": 2}", 16, &out), ML_ERR_INVALID_ARGUMENT);
}

static void test_names_and_refs(void) {
    CHECK(ml_name_valid("seq2seq"));
    CHECK(ml_name_valid("a.b_c-1"));
    CHECK(!ml_name_valid(""));
    CHECK(!ml_name_valid("-x"));
    CHECK(!ml_name_valid("a/b"));
    CHECK(!ml_name_valid(".."));
    char long_name[200];
    memset(long_name, 'a', 199);
    long_name[199] = '\0';
    CHECK(!ml_name_valid(long_name));
    char name[ML_NAME_MAX + 1];
    int v;
    CHECK_OK(ml_model_ref_parse("seq2seq:3", name, &v));
    CHECK_STR(name, "seq2seq");
    CHECK_EQ_INT(v, 3);
    CHECK_OK(ml_model_ref_parse("m", name, &v));
    CHECK_EQ_INT(v, 0);
    CHECK_ERR(ml_model_ref_parse("m:0", name, &v), ML_ERR_INVALID_ARGUMENT);
    CHECK_ERR(ml_model_ref_parse("m:x", name, &v), ML_ERR_INVALID_ARGUMENT);
    CHECK_ERR(ml_model_ref_parse(":1", name, &v), ML_ERR_INVALID_ARGUMENT);
}

static void test_app_spec(void) {
    ml_app_spec s;
    json_t *j =
        yaml("kind: Application\nname: chat\npipeline:\n  - - model: pre:1\n      weight: 100\n"
             "  - - model: s2s:1\n      weight: 80\n    - model: s2s:2\n      weight: 20\n");
    CHECK_OK(ml_app_spec_parse(j, NULL, &s));
    json_decref(j);
    CHECK_STR(s.name, "chat");
    CHECK_EQ_INT(s.n_stages, 2);
    CHECK_EQ_INT(s.stages[1].n_variants, 2);
    CHECK_EQ_INT(s.stages[1].variants[1].version, 2);
    CHECK_EQ_INT(s.stages[1].variants[0].weight, 80);
    /* The normalised form round-trips. */
    json_t *stages = ml_app_stages_json(&s);
    json_t *norm = json_pack("{s:s, s:o}", "name", "chat", "stages", stages);
    ml_app_spec s2;
    CHECK_OK(ml_app_spec_parse(norm, "chat", &s2));
    CHECK_EQ_INT(s2.stages[1].variants[1].weight, 20);
    json_decref(norm);
    j = json_loads("{\"name\":\"a\",\"singular\":{\"model\":\"m\"}}", 0, NULL);
    CHECK_OK(ml_app_spec_parse(j, NULL, &s));
    CHECK_EQ_INT(s.n_stages, 1);
    CHECK_EQ_INT(s.stages[0].variants[0].weight, 100);
    CHECK_ERR(ml_app_spec_parse(j, "other", &s), ML_ERR_INVALID_ARGUMENT); /* URL name mismatch */
    json_decref(j);
    const char *bad[] = {
        "{\"name\":\"a\"}",
        "{\"name\":\"a\",\"singular\":{\"model\":\"m\"},\"pipeline\":[[{\"model\":\"m\"}]]}",
        "{\"name\":\"a\",\"pipeline\":[[{\"model\":\"m\",\"weight\":60},{\"model\":\"n\","
        "\"weight\":30}]]}",
        "{\"name\":\"a\",\"pipeline\":[[{\"model\":\"m\"},{\"model\":\"n\"}]]}",
        "{\"name\":\"a\",\"pipeline\":[]}",
        "{\"kind\":\"Model\",\"name\":\"a\",\"singular\":{\"model\":\"m\"}}",
        "{\"name\":\"bad name\",\"singular\":{\"model\":\"m\"}}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        j = json_loads(bad[i], 0, NULL);
        CHECK(j != NULL);
        CHECK_ERR(ml_app_spec_parse(j, NULL, &s), ML_ERR_INVALID_ARGUMENT);
        json_decref(j);
    }
}

static void test_model_spec_and_contract(void) {
    json_t *j =
        yaml("kind: Model\nname: s2s\nmodel-type: mlambda-onnx\ncontract:\n  infer:\n    inputs:\n"
             "      input: {shape: [-1, 3], type: string, profile: text}\n    outputs:\n"
             "      output: {shape: scalar, type: float32}\nmetadata: {author: me}\n");
    ml_model_spec *s = NULL;
    CHECK_OK(ml_model_spec_parse(j, &s));
    json_decref(j);
    if (!s) return;
    CHECK_STR(s->name, "s2s");
    CHECK_STR(s->runtime, "mlambda-onnx");
    CHECK_STR(s->contract->signature, "infer");
    const ml_field *in = ml_contract_input(s->contract, "input");
    CHECK(in != NULL);
    CHECK_EQ_INT(in->dtype, ML_STRING);
    CHECK_EQ_INT(in->rank, 2);
    CHECK_EQ_INT(in->dims[1], 3);
    CHECK_STR(in->profile, "text");
    CHECK_EQ_INT(ml_contract_output(s->contract, "output")->rank, 0);
    CHECK_STR(json_string_value(json_object_get(s->metadata, "author")), "me");
    /* Field checks: dtype, rank, fixed dims, -1 wildcards. */
    int64_t ok[2] = {7, 3}, bad[2] = {7, 4};
    CHECK_OK(ml_field_check(in, "input", ML_STRING, 2, ok));
    CHECK_ERR(ml_field_check(in, "input", ML_FLOAT, 2, ok), ML_ERR_INVALID_ARGUMENT);
    ml_status st = ml_field_check(in, "input", ML_STRING, 2, bad);
    CHECK(strstr(ml_status_message(st), "expected shape [-1,3], got [7,4]") != NULL);
    ml_status_free(st);
    CHECK_ERR(ml_field_check(in, "input", ML_STRING, 1, ok), ML_ERR_INVALID_ARGUMENT);
    /* JSON round trip. */
    json_t *cj = ml_contract_to_json(s->contract);
    ml_contract *c2 = NULL;
    CHECK_OK(ml_contract_from_json(cj, &c2));
    CHECK_EQ_INT(c2->n_inputs, 1);
    CHECK(ml_field_compatible(&c2->inputs[0], in));
    ml_field other = *in;
    other.dtype = ML_FLOAT;
    CHECK(!ml_field_compatible(&other, in));
    ml_contract_free(c2);
    json_decref(cj);
    ml_model_spec_free(s);
    j = yaml("kind: Model\nname: x\nmodel: ../../etc/passwd\n");
    CHECK_ERR(ml_model_spec_parse(j, &s), ML_ERR_INVALID_ARGUMENT);
    json_decref(j);
    /* batching: defaults filled in, bounds enforced */
    j = yaml("kind: Model\nname: b\nbatching: {max_batch_size: 16}\n");
    CHECK_OK(ml_model_spec_parse(j, &s));
    json_decref(j);
    if (s) {
        const json_t *b = json_object_get(s->options, "batching");
        CHECK_EQ_INT(json_integer_value(json_object_get(b, "max_batch_size")), 16);
        CHECK_EQ_INT(json_integer_value(json_object_get(b, "max_queue_delay_us")), 0);
        CHECK_EQ_INT(json_integer_value(json_object_get(b, "instances")), 1);
        ml_model_spec_free(s);
    }
    const char *bad_batching[] = {
        "batching: {max_batch_size: 0}",
        "batching: {max_batch_size: 2000}",
        "batching: {max_batch_size: 8, instances: 0}",
        "batching: {max_batch_size: 8, instances: 65}",
        "batching: {max_batch_size: 8, max_queue_delay_us: -1}",
        "batching: [8]",
        "batching: {max_batch_size: 8, preferred_batch_sizes: [16]}",
        "batching: {max_batch_size: 8, preferred_batch_sizes: 4}",
        "batching: {max_batch_size: 8, preferred_batch_sizes: [1,2,3,4,5,6,7,8,8]}"};
    for (size_t i = 0; i < sizeof bad_batching / sizeof *bad_batching; i++) {
        char doc[256];
        snprintf(doc, sizeof doc, "kind: Model\nname: b\n%s\n", bad_batching[i]);
        j = yaml(doc);
        s = NULL;
        ml_status bst = ml_model_spec_parse(j, &s);
        CHECK(bst && strstr(ml_status_message(bst), "batching") != NULL);
        ml_status_free(bst);
        ml_model_spec_free(s);
        json_decref(j);
    }
}

/* Writes a tar.gz with the given entries: type 'f' file, 'l' symlink, 'd' dir. */
static void make_tgz(const char *path, int n, const char *const *names, const char *types,
                     size_t file_size) {
    struct archive *a = archive_write_new();
    archive_write_add_filter_gzip(a);
    archive_write_set_format_pax_restricted(a);
    archive_write_open_filename(a, path);
    char *buf = calloc(1, file_size + 1);
    for (int i = 0; i < n; i++) {
        struct archive_entry *e = archive_entry_new();
        archive_entry_set_pathname(e, names[i]);
        if (types[i] == 'l') {
            archive_entry_set_filetype(e, AE_IFLNK);
            archive_entry_set_symlink(e, "/etc/passwd");
        } else if (types[i] == 'd') {
            archive_entry_set_filetype(e, AE_IFDIR);
            archive_entry_set_perm(e, 0755);
        } else {
            archive_entry_set_filetype(e, AE_IFREG);
            archive_entry_set_perm(e, 0644);
            archive_entry_set_size(e, (la_int64_t)file_size);
        }
        archive_write_header(a, e);
        if (types[i] == 'f') archive_write_data(a, buf, file_size);
        archive_entry_free(e);
    }
    archive_write_close(a);
    archive_write_free(a);
    free(buf);
}

static ml_status extract(const char *tgz, const ml_archive_limits *lim) {
    char dest[128];
    snprintf(dest, sizeof dest, "%s/x", tmp);
    ml_rmtree(dest);
    ml_status st = ml_mkdirs(dest);
    if (!st) st = ml_archive_extract(tgz, dest, lim);
    return st;
}

static void test_archive(void) {
    char tgz[128];
    snprintf(tgz, sizeof tgz, "%s/a.tgz", tmp);
    ml_archive_limits lim = {1 << 20, 100};
    const char *good[] = {"./m/", "m/model.onnx", "m/sub/vocab.txt"};
    make_tgz(tgz, 3, good, "dff", 10);
    CHECK_OK(extract(tgz, &lim));
    char p[160];
    snprintf(p, sizeof p, "%s/x/m/sub/vocab.txt", tmp);
    CHECK(access(p, F_OK) == 0);
    const char *trav[] = {"../../evil"};
    make_tgz(tgz, 1, trav, "f", 10);
    CHECK_ERR(extract(tgz, &lim), ML_ERR_INVALID_ARGUMENT);
    snprintf(p, sizeof p, "%s/evil", tmp);
    CHECK(access(p, F_OK) != 0);
    const char *abs[] = {"/tmp/evil-abs"};
    make_tgz(tgz, 1, abs, "f", 10);
    CHECK_ERR(extract(tgz, &lim), ML_ERR_INVALID_ARGUMENT);
    const char *link[] = {"model.onnx"};
    make_tgz(tgz, 1, link, "l", 0);
    CHECK_ERR(extract(tgz, &lim), ML_ERR_INVALID_ARGUMENT);
    const char *big[] = {"a", "b"};
    make_tgz(tgz, 2, big, "ff", 600000);
    CHECK_ERR(extract(tgz, &lim), ML_ERR_RESOURCE_EXHAUSTED);
    ml_archive_limits few = {1 << 20, 2};
    const char *many[] = {"a", "b", "c"};
    make_tgz(tgz, 3, many, "fff", 1);
    CHECK_ERR(extract(tgz, &few), ML_ERR_RESOURCE_EXHAUSTED);
    const char *dup[] = {"a", "a"};
    make_tgz(tgz, 2, dup, "ff", 1);
    CHECK_ERR(extract(tgz, &lim), ML_ERR_INVALID_ARGUMENT);
}

static int count(const char *sub) {
    char p[160];
    snprintf(p, sizeof p, "%s/%s", tmp, sub);
    DIR *d = opendir(p);
    if (!d) return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.') n++;
    closedir(d);
    return n;
}

static void test_artifacts(void) {
    ml_artifacts *a = NULL;
    CHECK_OK(ml_artifacts_open(tmp, &a));
    if (!a) return;
    ml_upload *u = NULL;
    CHECK_OK(ml_upload_begin(a, 16, &u));
    CHECK_OK(ml_upload_write(u, "0123456789", 10));
    CHECK_EQ_INT(count("tmp"), 1);
    CHECK_ERR(ml_upload_write(u, "0123456789", 10), ML_ERR_RESOURCE_EXHAUSTED);
    ml_upload_abort(u);
    CHECK_EQ_INT(count("tmp"), 0);
    /* A finished but invalid archive leaves nothing either. */
    CHECK_OK(ml_upload_begin(a, 1 << 20, &u));
    CHECK_OK(ml_upload_write(u, "not an archive", 14));
    const char *staged;
    ml_archive_limits lim = {1 << 20, 10};
    CHECK_ERR(ml_upload_finish(u, &lim, &staged), ML_ERR_INVALID_ARGUMENT);
    CHECK(strncmp(ml_upload_digest(u), "sha256:", 7) == 0);
    CHECK_EQ_INT(strlen(ml_upload_digest(u)), 7 + 64);
    ml_upload_abort(u);
    CHECK_EQ_INT(count("tmp"), 0);
    CHECK_EQ_INT(count("blobs/sha256"), 0);
    ml_artifacts_close(a);
}

static json_t *contract_json(const char *in, const char *out) {
    char buf[512];
    snprintf(buf, sizeof buf,
             "{\"inputs\":[{\"name\":\"%s\",\"dtype\":\"float\",\"shape\":[-1]}],"
             "\"outputs\":[{\"name\":\"%s\",\"dtype\":\"float\",\"shape\":[-1]}]}",
             in, out);
    return json_loads(buf, 0, NULL);
}

static void add_version(ml_store *s, const char *name, const char *in, const char *out,
                        int expect) {
    ml_version_rec v = {0};
    v.name = strdup(name);
    v.status = strdup("ready");
    v.runtime = strdup("mlambda-onnx");
    v.digest = strdup("sha256:00");
    v.model_file = strdup("model.onnx");
    v.contract = contract_json(in, out);
    v.metadata = json_object();
    v.size_bytes = 42;
    CHECK_OK(ml_store_add_version(s, "desc", NULL, &v));
    CHECK_EQ_INT(v.version, expect);
    ml_version_rec_clear(&v);
}

static void test_store_sqlite(void) {
    char db[128];
    snprintf(db, sizeof db, "%s/registry.db", tmp);
    ml_store *s = NULL;
    CHECK_OK(ml_store_open(db, &s));
    if (!s) return;
    CHECK_STR(ml_store_backend(s), "sqlite");
    CHECK_EQ_INT(ml_store_schema_version(s), 3);
    add_version(s, "pre", "x", "h", 1);
    add_version(s, "post", "h", "y", 1);
    add_version(s, "post", "h", "y", 2);
    ml_version_rec v;
    CHECK_OK(ml_store_get_version(s, "post", 0, &v));
    CHECK_EQ_INT(v.version, 2);
    CHECK_EQ_INT(v.size_bytes, 42);
    ml_version_rec_clear(&v);
    CHECK_ERR(ml_store_get_version(s, "post", 9, &v), ML_ERR_NOT_FOUND);
    ml_model_rec *ms;
    size_t n;
    CHECK_OK(ml_store_list_models(s, &ms, &n));
    CHECK_EQ_INT(n, 2);
    CHECK_EQ_INT(ms[0].latest_version, 2); /* "post" sorts first */
    ml_model_rec_free_list(ms, n);
    /* An application pins versions and blocks their deletion. */
    ml_app_spec spec;
    json_t *j = json_loads(
        "{\"name\":\"app\",\"pipeline\":[[{\"model\":\"pre:1\"}],[{\"model\":\"post:2\"}]]}", 0,
        NULL);
    CHECK_OK(ml_app_spec_parse(j, NULL, &spec));
    json_decref(j);
    json_t *c = contract_json("x", "y");
    ml_app_rec rec;
    CHECK_OK(ml_store_put_app(s, &spec, c, true, &rec));
    CHECK_STR(rec.name, "app");
    ml_app_rec_clear(&rec);
    CHECK_ERR(ml_store_put_app(s, &spec, c, true, NULL), ML_ERR_ALREADY_EXISTS);
    CHECK_OK(ml_store_put_app(s, &spec, c, false, NULL));
    ml_status st = ml_store_delete_version(s, "post", 2);
    CHECK_EQ_INT(ml_status_code(st), ML_ERR_CONFLICT);
    CHECK(strstr(ml_status_message(st), "post:2 is used by application 'app'") != NULL);
    ml_status_free(st);
    CHECK_OK(ml_store_delete_version(s, "post", 1)); /* unused version */
    CHECK_ERR(ml_store_delete_version(s, "post", 0), ML_ERR_CONFLICT);
    /* Referencing a missing version fails inside the transaction. */
    spec.stages[1].variants[0].version = 1;
    CHECK_ERR(ml_store_put_app(s, &spec, c, false, NULL), ML_ERR_INVALID_ARGUMENT);
    json_decref(c);
    CHECK_OK(ml_store_delete_app(s, "app"));
    CHECK_ERR(ml_store_delete_app(s, "app"), ML_ERR_NOT_FOUND);
    CHECK_OK(ml_store_delete_version(s, "post", 0));
    ml_model_rec gone;
    CHECK_ERR(ml_store_get_model(s, "post", &gone), ML_ERR_NOT_FOUND);
    /* Numbers are never reused after a delete. */
    add_version(s, "pre", "x", "h", 2);
    CHECK_OK(ml_store_delete_version(s, "pre", 2));
    add_version(s, "pre", "x", "h", 3);
    ml_audit_rec *ev;
    CHECK_OK(ml_store_list_audit(s, 3, &ev, &n));
    CHECK_EQ_INT(n, 3);
    CHECK_STR(ev[0].action, "model.upload");
    CHECK_STR(ev[0].subject, "pre:3");
    ml_audit_rec_free_list(ev, n);
    ml_store_close(s);
    /* Reopening applies no migration twice and keeps the data. */
    CHECK_OK(ml_store_open(db, &s));
    if (!s) return;
    CHECK_EQ_INT(ml_store_schema_version(s), 3);
    CHECK_OK(ml_store_get_version(s, "pre", 3, &v));
    ml_version_rec_clear(&v);
    char **digests;
    CHECK_OK(ml_store_list_digests(s, &digests, &n));
    CHECK_EQ_INT(n, 1);
    for (size_t i = 0; i < n; i++) free(digests[i]);
    free(digests);
    ml_store_close(s);
}

int main(void) {
    snprintf(tmp, sizeof tmp, "/tmp/mlambda-reg-XXXXXX");
    if (!mkdtemp(tmp)) return 1;
    RUN(test_yaml);
    RUN(test_names_and_refs);
    RUN(test_app_spec);
    RUN(test_model_spec_and_contract);
    RUN(test_archive);
    RUN(test_artifacts);
    RUN(test_store_sqlite);
    ml_rmtree(tmp);
    return TEST_SUMMARY();
}
