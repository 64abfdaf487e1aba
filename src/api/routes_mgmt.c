/* Management API under /api/v2 (docs/api.md): models, versions, contracts,
 * applications, stats and audit. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/internal.h"
#include "core/log.h"
#include "registry/yaml_json.h"

#define MAX_SEGS 8
#define SEG_LEN 256

/* Splits "/a/b/c" into segments; false when there are too many or too long. */
static bool split_path(const char *url, char seg[MAX_SEGS][SEG_LEN], int *n) {
    *n = 0;
    const char *p = url;
    while (*p) {
        while (*p == '/') p++;
        if (!*p) break;
        const char *e = strchr(p, '/');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (*n >= MAX_SEGS || len >= SEG_LEN) return false;
        memcpy(seg[*n], p, len);
        seg[*n][len] = '\0';
        (*n)++;
        p += len;
    }
    return true;
}

static bool parse_version(const char *s, int *v) {
    char *end;
    errno = 0;
    long x = strtol(s, &end, 10);
    if (*end || end == s || errno || x < 1 || x > 1000000000) return false;
    *v = (int)x;
    return true;
}

static json_t *ml_api_model_json(const ml_model_rec *m) {
    return json_pack("{s:s, s:s, s:O, s:i, s:o, s:o}", "name", m->name, "description",
                     m->description, "labels", m->labels, "latest_version", m->latest_version,
                     "created_at", ml_json_time(m->created_at), "updated_at",
                     ml_json_time(m->updated_at));
}

static json_t *ml_api_version_json(const ml_version_rec *v) {
    json_t *o =
        json_pack("{s:s, s:i, s:s, s:o, s:s, s:s, s:I, s:O, s:O}", "name", v->name, "version",
                  v->version, "status", v->status, "created_at", ml_json_time(v->created_at),
                  "runtime", v->runtime, "digest", v->digest, "size_bytes",
                  (json_int_t)v->size_bytes, "contract", v->contract, "metadata", v->metadata);
    const json_t *b = json_object_get(v->options, "batching");
    if (o && b) json_object_set(o, "batching", (json_t *)b);
    return o;
}

static json_t *ml_api_app_json(const ml_app_rec *a) {
    return json_pack("{s:s, s:O, s:O, s:o, s:o}", "name", a->name, "stages", a->stages, "contract",
                     a->contract, "created_at", ml_json_time(a->created_at), "updated_at",
                     ml_json_time(a->updated_at));
}

static void no_content(ml_http_resp *r) {
    r->status = 204;
    r->body = strdup("");
    r->len = 0;
    r->content_type = "application/json";
}

static void method_not_allowed(ml_http_req *req, ml_http_resp *resp) {
    ml_resp_error(resp, 405, "%s is not allowed on %s", req->method, req->url);
}

static void upload(ml_http_req *req, ml_http_resp *resp) {
    ml_server *srv = req->srv;
    if (!req->upload) {
        ml_resp_error(resp, 500, "the upload was not received");
        return;
    }
    ml_upload_meta meta = {0};
    meta.name = req->form_name && *req->form_name ? req->form_name : ml_req_query(req, "name");
    meta.description =
        req->form_description ? req->form_description : ml_req_query(req, "description");
    meta.labels = req->form_labels;
    ml_version_rec v;
    ml_status st = ml_registry_ingest(srv->reg, req->upload, &meta, &v);
    req->upload = NULL;
    if (!st) {
        ml_cache_invalidate(srv->rt->cache, v.name);
        ML_LOG_I("registered model %s:%d (%s, %lld bytes)", v.name, v.version, v.digest,
                 (long long)v.size_bytes);
    }
    if (st) {
        ml_resp_status(resp, st);
        return;
    }
    ml_model_rec m;
    st = ml_store_get_model(srv->reg->store, v.name, &m);
    if (st) {
        ml_version_rec_clear(&v);
        ml_resp_status(resp, st);
        return;
    }
    ml_resp_json(resp, 201,
                 json_pack("{s:o, s:o}", "model", ml_api_model_json(&m), "version",
                           ml_api_version_json(&v)));
    ml_model_rec_clear(&m);
    ml_version_rec_clear(&v);
}

static void list_models(ml_http_req *req, ml_http_resp *resp) {
    ml_model_rec *ms;
    size_t n;
    ml_status st = ml_store_list_models(req->srv->reg->store, &ms, &n);
    if (st) {
        ml_resp_status(resp, st);
        return;
    }
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) json_array_append_new(arr, ml_api_model_json(&ms[i]));
    ml_model_rec_free_list(ms, n);
    ml_resp_json(resp, 200, json_pack("{s:o}", "models", arr));
}

static void get_model(ml_http_req *req, ml_http_resp *resp, const char *name) {
    ml_model_rec m;
    ml_status st = ml_store_get_model(req->srv->reg->store, name, &m);
    if (st) {
        ml_resp_status(resp, st);
        return;
    }
    ml_version_rec *vs;
    size_t n;
    st = ml_store_list_versions(req->srv->reg->store, name, &vs, &n);
    if (st) {
        ml_model_rec_clear(&m);
        ml_resp_status(resp, st);
        return;
    }
    json_t *o = ml_api_model_json(&m), *arr = json_array();
    for (size_t i = 0; i < n; i++) json_array_append_new(arr, ml_api_version_json(&vs[i]));
    json_object_set_new(o, "versions", arr);
    ml_version_rec_free_list(vs, n);
    ml_model_rec_clear(&m);
    ml_resp_json(resp, 200, o);
}

static void models(ml_http_req *req, ml_http_resp *resp, char seg[MAX_SEGS][SEG_LEN], int n) {
    const char *m = req->method;
    ml_server *srv = req->srv;
    if (n == 3) {
        if (!strcmp(m, "GET")) return list_models(req, resp);
        return method_not_allowed(req, resp);
    }
    if (n == 4 && !strcmp(seg[3], "upload")) {
        if (!strcmp(m, "POST")) return upload(req, resp);
        return method_not_allowed(req, resp);
    }
    const char *name = seg[3];
    if (n == 4) {
        if (!strcmp(m, "GET")) return get_model(req, resp, name);
        if (!strcmp(m, "DELETE")) {
            ml_status st = ml_runtime_delete_model(srv->rt, name, 0);
            if (st) return ml_resp_status(resp, st);
            return no_content(resp);
        }
        return method_not_allowed(req, resp);
    }
    int v;
    if ((n == 6 || n == 7) && !strcmp(seg[4], "versions")) {
        if (!parse_version(seg[5], &v))
            return ml_resp_error(resp, 400, "version '%s' must be a positive integer", seg[5]);
        if (n == 7 && strcmp(seg[6], "contract") != 0)
            return ml_resp_error(resp, 404, "no route for %s %s", m, req->url);
        if (!strcmp(m, "GET")) {
            ml_version_rec rec;
            ml_status st = ml_store_get_version(srv->reg->store, name, v, &rec);
            if (st) return ml_resp_status(resp, st);
            ml_resp_json(resp, 200, n == 7 ? json_incref(rec.contract) : ml_api_version_json(&rec));
            ml_version_rec_clear(&rec);
            return;
        }
        if (!strcmp(m, "DELETE") && n == 6) {
            ml_status st = ml_runtime_delete_model(srv->rt, name, v);
            if (st) return ml_resp_status(resp, st);
            return no_content(resp);
        }
        return method_not_allowed(req, resp);
    }
    ml_resp_error(resp, 404, "no route for %s %s; see docs/api.md", m, req->url);
}

static void put_app(ml_http_req *req, ml_http_resp *resp, const char *name, bool create_only) {
    json_t *j = NULL;
    const char *ct = ml_req_header(req, "Content-Type");
    ml_status st = ct && strstr(ct, "yaml") ? ml_yaml_to_json(req->body, req->body_len, &j)
                                            : ml_parse_json_or_yaml(req->body, req->body_len, &j);
    if (st) return ml_resp_status(resp, ml_status_wrap(st, "application spec"));
    ml_app_spec spec;
    st = ml_app_spec_parse(j, name, &spec);
    json_decref(j);
    ml_app_rec rec;
    if (!st) st = ml_runtime_put_app(req->srv->rt, &spec, create_only, &rec);
    if (st) return ml_resp_status(resp, st);
    ml_resp_json(resp, create_only ? 201 : 200, ml_api_app_json(&rec));
    ml_app_rec_clear(&rec);
}

static void applications(ml_http_req *req, ml_http_resp *resp, char seg[MAX_SEGS][SEG_LEN], int n) {
    const char *m = req->method;
    ml_server *srv = req->srv;
    if (n == 3) {
        if (!strcmp(m, "POST")) return put_app(req, resp, NULL, true);
        if (strcmp(m, "GET") != 0) return method_not_allowed(req, resp);
        ml_app_rec *as;
        size_t k;
        ml_status st = ml_store_list_apps(srv->reg->store, &as, &k);
        if (st) return ml_resp_status(resp, st);
        json_t *arr = json_array();
        for (size_t i = 0; i < k; i++) json_array_append_new(arr, ml_api_app_json(&as[i]));
        ml_app_rec_free_list(as, k);
        return ml_resp_json(resp, 200, json_pack("{s:o}", "applications", arr));
    }
    if (n != 4) return ml_resp_error(resp, 404, "no route for %s %s", m, req->url);
    const char *name = seg[3];
    if (!strcmp(m, "GET")) {
        ml_app_rec rec;
        ml_status st = ml_store_get_app(srv->reg->store, name, &rec);
        if (st) return ml_resp_status(resp, st);
        ml_resp_json(resp, 200, ml_api_app_json(&rec));
        ml_app_rec_clear(&rec);
        return;
    }
    if (!strcmp(m, "PUT")) return put_app(req, resp, name, false);
    if (!strcmp(m, "DELETE")) {
        ml_status st = ml_runtime_delete_app(srv->rt, name);
        if (st) return ml_resp_status(resp, st);
        return no_content(resp);
    }
    method_not_allowed(req, resp);
}

static void audit(ml_http_req *req, ml_http_resp *resp) {
    const char *l = ml_req_query(req, "limit");
    int limit = l ? atoi(l) : 100;
    ml_audit_rec *ev;
    size_t n;
    ml_status st = ml_store_list_audit(req->srv->reg->store, limit, &ev, &n);
    if (st) return ml_resp_status(resp, st);
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, json_pack("{s:o, s:s, s:s, s:s}", "time",
                                             ml_json_time(ev[i].time), "action", ev[i].action,
                                             "subject", ev[i].subject, "detail", ev[i].detail));
    ml_audit_rec_free_list(ev, n);
    ml_resp_json(resp, 200, json_pack("{s:o}", "events", arr));
}

bool ml_route_mgmt(ml_http_req *req, ml_http_resp *resp) {
    if (strncmp(req->url, "/api/v2/", 8) != 0) return false;
    char seg[MAX_SEGS][SEG_LEN];
    int n;
    if (!split_path(req->url, seg, &n) || n < 3) {
        ml_resp_error(resp, 404, "no route for %s %s", req->method, req->url);
        return true;
    }
    if (!strcmp(seg[2], "models"))
        models(req, resp, seg, n);
    else if (!strcmp(seg[2], "applications"))
        applications(req, resp, seg, n);
    else if (!strcmp(seg[2], "stats") && n == 3 && !strcmp(req->method, "GET"))
        ml_resp_json(resp, 200, ml_metrics_stats(req->srv->rt->metrics));
    else if (!strcmp(seg[2], "audit") && n == 3 && !strcmp(req->method, "GET"))
        audit(req, resp);
    else
        ml_resp_error(resp, 404, "no route for %s %s; see docs/api.md", req->method, req->url);
    return true;
}
