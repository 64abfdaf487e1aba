#include "cli/upload.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "cli/config.h"
#include "cli/progress.h"
#include "core/clock.h"

ml_status ml_check_label(const char *label) {
    const char *eq = strchr(label, '=');
    if (!eq || eq == label || strlen(label) > 1024)
        return ml_error(ML_ERR_INVALID_ARGUMENT, "label '%s' must look like key=value", label);
    return NULL;
}

/* serving.yaml's name, else the folder's own name. */
static ml_status resolve_name(const ml_cli_upload_opts *o, char *out, size_t cap) {
    const char *name = o->name;
    json_t *doc = NULL;
    char real[PATH_MAX];
    if (!name) ML_TRY(ml_pack_read_serving(o->dir, &doc));
    if (!name && doc) {
        json_t *n = json_object_get(doc, "name");
        if (json_is_string(n)) name = json_string_value(n);
    }
    if (!name) {
        if (!realpath(o->dir, real)) {
            json_decref(doc);
            return ml_error(ML_ERR_INVALID_ARGUMENT, "model folder '%s' does not exist", o->dir);
        }
        const char *slash = strrchr(real, '/');
        name = slash && slash[1] ? slash + 1 : real;
    }
    ml_status st = NULL;
    if (!ml_valid_name(name))
        st = ml_error(ML_ERR_INVALID_ARGUMENT,
                      "model name '%s' is not valid (letters, digits, '.', '_', '-'); pass --name",
                      name);
    else if (strlen(name) < cap)
        memcpy(out, name, strlen(name) + 1);
    json_decref(doc);
    return st;
}

ml_status ml_cli_upload_prepare(const ml_cli_upload_opts *o, ml_prepared *out) {
    memset(out, 0, sizeof *out);
    for (int i = 0; i < o->n_labels; i++) ML_TRY(ml_check_label(o->labels[i]));
    ML_TRY(resolve_name(o, out->name, sizeof out->name));
    const json_t *payload = o->payload;
    json_t *doc = NULL;
    if (!payload) {
        ML_TRY(ml_pack_read_serving(o->dir, &doc));
        payload = json_object_get(doc, "payload");
    }
    ml_status st = ml_pack_collect(o->dir, payload, &out->files);
    json_decref(doc);
    if (st) return st;
    if (out->files.n == 0 && !o->serving_yaml)
        st = ml_error(ML_ERR_INVALID_ARGUMENT, "model folder '%s' has no files to upload", o->dir);
    if (o->serving_yaml) {
        out->raw_size += o->serving_yaml_len;
        out->n_files++;
    }
    for (size_t i = 0; !st && i < out->files.n; i++) {
        if (o->serving_yaml && !strcmp(out->files.paths[i], "serving.yaml")) continue;
        char path[PATH_MAX];
        struct stat sb;
        snprintf(path, sizeof path, "%s/%s", o->dir, out->files.paths[i]);
        if (stat(path, &sb) != 0)
            st = ml_error(ML_ERR_IO, "cannot read %s: %s", path, strerror(errno));
        else
            out->raw_size += (uint64_t)sb.st_size;
        out->n_files++;
    }
    if (st) ml_prepared_free(out);
    return st;
}

void ml_prepared_free(ml_prepared *p) {
    ml_pack_list_free(&p->files);
}

static const char *extra_name(const ml_cli_upload_opts *o) {
    return o->serving_yaml ? "serving.yaml" : NULL;
}

static void on_pack_progress(void *user, uint64_t raw) {
    ml_progress_update(user, raw);
}

ml_status ml_cli_upload_digest(const ml_cli_upload_opts *o, ml_prepared *p) {
    ml_pack_result r;
    ml_progress bar;
    /* Small folders pack in a blink: no "prepare" bar for them. */
    ml_progress_init(&bar, p->raw_size >= (8u << 20) ? o->progress : NULL, "prepare", p->raw_size);
    ml_status st = ml_pack_digest(o->dir, &p->files, extra_name(o), o->serving_yaml,
                                  o->serving_yaml_len, on_pack_progress, &bar, &r);
    ml_progress_finish(&bar, st ? 0 : r.raw_size);
    if (st) return st;
    memcpy(p->digest, r.digest, sizeof p->digest);
    p->archive_size = r.size;
    ml_pack_result_free(&r);
    return NULL;
}

typedef struct progress_ctx {
    ml_progress bar;
    ml_pack_stream *stream;
} progress_ctx;

/* Progress counts model bytes packed: the archive's size is unknown until
 * it is complete, and the socket buffer keeps the two within a few KB. */
static void on_progress(void *user, uint64_t sent) {
    (void)sent;
    progress_ctx *pc = user;
    ml_progress_update(&pc->bar, ml_pack_stream_raw_done(pc->stream));
}

/* Appends "&key=escaped(value)" to the query. */
static ml_status add_query(char **q, size_t *len, const char *key, const char *value) {
    char *e = ml_url_escape(value);
    if (!e) return ml_error(ML_ERR_OUT_OF_MEMORY, "out of memory");
    size_t add = strlen(key) + strlen(e) + 3;
    char *grown = realloc(*q, *len + add);
    if (!grown) {
        free(e);
        return ml_error(ML_ERR_OUT_OF_MEMORY, "out of memory");
    }
    *q = grown;
    *len += (size_t)snprintf(*q + *len, add, "%c%s=%s", *len ? '&' : '?', key, e);
    free(e);
    return NULL;
}

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Polls the version until the server reports it ready (or failed). */
static ml_status wait_ready(const ml_http_target *t, json_t **version, int wait_seconds) {
    uint64_t deadline =
        ml_now_ns() + (uint64_t)(wait_seconds > 0 ? wait_seconds : 0) * 1000000000ull;
    for (;;) {
        const char *status = json_string_value(json_object_get(*version, "status"));
        if (!status || !strcmp(status, "ready")) return NULL;
        if (!strcmp(status, "failed") || !strcmp(status, "error"))
            return ml_error(ML_ERR_INTERNAL, "the server could not register %s:%lld (status %s)",
                            json_string_value(json_object_get(*version, "name")),
                            (long long)json_integer_value(json_object_get(*version, "version")),
                            status);
        if (ml_now_ns() > deadline)
            return ml_error(ML_ERR_DEADLINE,
                            "the new version is still '%s' after %d s; check it later with "
                            "'model get'",
                            status, wait_seconds);
        sleep_ms(500);
        char path[512];
        char *n = ml_url_escape(json_string_value(json_object_get(*version, "name")));
        snprintf(path, sizeof path, "/api/v2/models/%s/versions/%lld", n ? n : "",
                 (long long)json_integer_value(json_object_get(*version, "version")));
        free(n);
        json_t *fresh = NULL;
        ML_TRY(ml_http_json(t, "GET", path, NULL, NULL, &fresh));
        json_decref(*version);
        *version = fresh;
    }
}

ml_status ml_cli_upload_send(const ml_http_target *t, const ml_cli_upload_opts *o, ml_prepared *p,
                             json_t **version) {
    *version = NULL;
    if (!p->digest[0]) ML_TRY(ml_cli_upload_digest(o, p));
    char *query = NULL;
    size_t qlen = 0;
    ml_status st = add_query(&query, &qlen, "name", p->name);
    if (!st && o->description) st = add_query(&query, &qlen, "description", o->description);
    for (int i = 0; !st && i < o->n_labels; i++)
        st = add_query(&query, &qlen, "label", o->labels[i]);
    char *path = NULL;
    if (!st) {
        size_t n = strlen("/api/v2/models/upload") + qlen + 1;
        path = malloc(n);
        if (path)
            snprintf(path, n, "/api/v2/models/upload%s", query);
        else
            st = ml_error(ML_ERR_OUT_OF_MEMORY, "out of memory");
    }
    free(query);
    ml_pack_stream *ps = NULL;
    if (!st)
        st = ml_pack_stream_start(o->dir, &p->files, extra_name(o), o->serving_yaml,
                                  o->serving_yaml_len, &ps);
    ml_http_response r = {0};
    ml_pack_result sent = {0};
    if (!st) {
        progress_ctx pc = {.stream = ps};
        ml_progress_init(&pc.bar, o->progress, "upload", p->raw_size);
        st = ml_http_upload(t, path, "application/gzip", ml_pack_stream_fd(ps),
                            (int64_t)p->archive_size, on_progress, &pc, &r);
        uint64_t packed = ml_pack_stream_raw_done(ps);
        ml_status pst = ml_pack_stream_finish(ps, &sent);
        if (!st || pc.bar.last_step >= 0) ml_progress_finish(&pc.bar, packed);
        int http_failed = !st && (r.status < 200 || r.status >= 300);
        if (pst && ml_status_code(pst) != ML_ERR_UNAVAILABLE) {
            /* A real packing failure (a file vanished...) is the cause. */
            ml_status_free(st);
            st = pst;
        } else if (pst && !st && !http_failed) {
            /* The server stopped reading at Content-Length: the archive grew. */
            ml_status_free(pst);
            st = ml_error(ML_ERR_CONFLICT, "the model folder changed while it was being "
                                           "uploaded; run again once it is stable");
        } else {
            /* Cut off by a transport error or an HTTP refusal, which say why. */
            ml_status_free(pst);
        }
    }
    free(path);
    if (!st && (r.status < 200 || r.status >= 300)) st = ml_http_error(&r);
    json_t *ans = NULL;
    if (!st && !(ans = json_loadb(r.body, r.len, 0, NULL)))
        st = ml_error(ML_ERR_INTERNAL, "the server accepted the upload but answered with invalid "
                                       "JSON");
    ml_http_response_free(&r);
    if (!st) {
        json_t *v = json_object_get(ans, "version");
        const char *got = json_string_value(json_object_get(v, "digest"));
        if (!json_is_object(v))
            st = ml_error(ML_ERR_INTERNAL, "the upload answer has no 'version' object");
        else if (got && strcmp(got, sent.digest) != 0)
            st = ml_error(ML_ERR_INTERNAL,
                          "the server registered digest %s but the CLI sent %s; the upload was "
                          "corrupted on the way, run it again",
                          got, sent.digest);
        else if (strcmp(p->digest, sent.digest) != 0)
            st = ml_error(ML_ERR_CONFLICT,
                          "the model folder changed while it was being uploaded (%s became %s); "
                          "run again once it is stable",
                          p->digest, sent.digest);
        if (v) *version = json_incref(v);
    }
    json_decref(ans);
    if (!st) st = wait_ready(t, version, o->wait_seconds);
    if (st) {
        json_decref(*version);
        *version = NULL;
    }
    return st;
}
