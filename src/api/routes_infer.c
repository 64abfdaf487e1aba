/* Inference and health routes: KServe V2 (/v2), TF-Serving (/v1), the
 * gateway (/gateway/application/{name}) and /metrics. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/internal.h"

#define MAX_SEGS 8
#define SEG_LEN 256

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

/* A request target: a model version or an application. */
typedef struct target {
    const char *name;
    int version; /* 0 = latest */
    bool is_app;
} target;

/* {m} is a model when one has that name (or a version is given), otherwise
 * an application. */
static ml_status resolve(ml_server *srv, const char *name, int version, target *t) {
    t->name = name;
    t->version = version;
    t->is_app = false;
    if (version > 0 || ml_cache_latest(srv->rt->cache, name) > 0) return NULL;
    ml_model_rec m;
    ml_status st = ml_store_get_model(srv->reg->store, name, &m);
    if (!st) {
        ml_model_rec_clear(&m);
        return NULL;
    }
    if (ml_status_code(st) != ML_ERR_NOT_FOUND) return st;
    ml_status_free(st);
    ml_app_rec a;
    st = ml_store_get_app(srv->reg->store, name, &a);
    if (st) {
        ml_status_free(st);
        return ml_error(ML_ERR_NOT_FOUND, "no model or application named '%s'", name);
    }
    ml_app_rec_clear(&a);
    t->is_app = true;
    return NULL;
}

static ml_status target_contract(ml_server *srv, target *t, ml_contract **c) {
    if (t->is_app) return ml_runtime_app_contract(srv->rt, t->name, c);
    return ml_runtime_model_contract(srv->rt, t->name, t->version, c, &t->version);
}

/* The server-wide inference deadline (--request-timeout-ms), from arrival. */
static uint64_t deadline_of(const ml_http_req *req) {
    unsigned ms = req->srv->cfg.request_timeout_ms;
    return ms ? req->arrived_ns + (uint64_t)ms * 1000000u : 0;
}

static ml_status run(ml_server *srv, target *t, const ml_tensor_list *in, const ml_infer_ctx *ctx,
                     ml_tensor_list *out) {
    if (t->is_app) return ml_runtime_infer_app(srv->rt, t->name, in, ctx, out);
    return ml_runtime_infer_model(srv->rt, t->name, t->version, in, ctx, out, &t->version);
}

/* ---- KServe V2 ---- */

static json_t *kserve_fields(const ml_field *f, size_t n) {
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) {
        json_t *shape = json_array();
        for (int k = 0; k < f[i].rank; k++)
            json_array_append_new(shape, json_integer(f[i].dims[k]));
        const char *dt = ml_dtype_kserve_name(f[i].dtype);
        json_array_append_new(arr, json_pack("{s:s, s:s, s:o}", "name", f[i].name, "datatype",
                                             dt ? dt : "BYTES", "shape", shape));
    }
    return arr;
}

static void kserve_metadata(ml_http_req *req, ml_http_resp *resp, target *t) {
    ml_server *srv = req->srv;
    ml_contract *c = NULL;
    ml_status st = target_contract(srv, t, &c);
    if (st) return ml_resp_status(resp, st);
    json_t *versions = json_array();
    if (!t->is_app) {
        ml_version_rec *vs;
        size_t n;
        if (!ml_store_list_versions(srv->reg->store, t->name, &vs, &n)) {
            for (size_t i = 0; i < n; i++) {
                char v[16];
                snprintf(v, sizeof v, "%d", vs[i].version);
                json_array_append_new(versions, json_string(v));
            }
            ml_version_rec_free_list(vs, n);
        }
    }
    json_t *o = json_pack("{s:s, s:o, s:s, s:o, s:o}", "name", t->name, "versions", versions,
                          "platform", t->is_app ? "mlambda-application" : "mlambda-onnx", "inputs",
                          kserve_fields(c->inputs, c->n_inputs), "outputs",
                          kserve_fields(c->outputs, c->n_outputs));
    ml_contract_free(c);
    ml_resp_json(resp, 200, o);
}

static void kserve_ready(ml_http_req *req, ml_http_resp *resp, target *t) {
    ml_contract *c = NULL;
    ml_status st = target_contract(req->srv, t, &c);
    ml_contract_free(c);
    if (st) return ml_resp_status(resp, st);
    ml_resp_json(resp, 200, json_pack("{s:s, s:b}", "name", t->name, "ready", 1));
}

static void kserve_infer(ml_http_req *req, ml_http_resp *resp, target *t) {
    ml_server *srv = req->srv;
    size_t header_len = req->body_len;
    const char *hl = ml_req_header(req, "Inference-Header-Content-Length");
    if (hl) {
        char *end;
        errno = 0;
        unsigned long long v = strtoull(hl, &end, 10);
        if (*end || errno || v > req->body_len)
            return ml_resp_error(
                resp, 400, "Inference-Header-Content-Length '%s' is not a size within the body",
                hl);
        header_len = (size_t)v;
    }
    ml_kserve_request kr;
    ml_status st = ml_kserve_decode(req->body, req->body_len, header_len, &srv->cfg.limits, &kr);
    if (st) return ml_resp_status(resp, st);
    ml_infer_ctx ctx = {req->arrived_ns, (const char *const *)kr.outputs, kr.n_outputs,
                        deadline_of(req)};
    ml_tensor_list out = {0};
    st = run(srv, t, &kr.inputs, &ctx, &out);
    if (!st) {
        char *body;
        size_t len, hlen;
        st = ml_kserve_encode(t->name, t->is_app ? 0 : t->version, &kr, &out, &body, &len, &hlen);
        if (!st) {
            resp->status = 200;
            resp->body = body;
            resp->len = len;
            resp->content_type = "application/json";
            if (hlen != len) {
                resp->content_type = "application/octet-stream";
                snprintf(resp->header_name, sizeof resp->header_name,
                         "Inference-Header-Content-Length");
                snprintf(resp->header_value, sizeof resp->header_value, "%zu", hlen);
            }
        }
    }
    ml_tensor_list_clear(&out);
    ml_kserve_request_clear(&kr);
    if (st) ml_resp_status(resp, st);
}

static void route_v2(ml_http_req *req, ml_http_resp *resp, char seg[MAX_SEGS][SEG_LEN], int n) {
    const char *m = req->method;
    bool get = !strcmp(m, "GET") || !strcmp(m, "HEAD");
    if (n == 1 && get)
        return ml_resp_json(resp, 200,
                            json_pack("{s:s, s:s, s:[s]}", "name", "mlambda", "version", "0.1.0",
                                      "extensions", "binary_tensor_data"));
    if (n == 3 && get && !strcmp(seg[1], "health") && !strcmp(seg[2], "live"))
        return ml_resp_json(resp, 200, json_pack("{s:b}", "live", 1));
    if (n == 3 && get && !strcmp(seg[1], "health") && !strcmp(seg[2], "ready")) {
        /* Ready when the registry answers. */
        ml_model_rec *ms;
        size_t k;
        ml_status st = ml_store_list_models(req->srv->reg->store, &ms, &k);
        if (st) {
            ml_status_free(st);
            return ml_resp_error(resp, 503, "the registry database is not reachable");
        }
        ml_model_rec_free_list(ms, k);
        return ml_resp_json(resp, 200, json_pack("{s:b}", "ready", 1));
    }
    if (n < 3 || strcmp(seg[1], "models") != 0)
        return ml_resp_error(resp, 404, "no route for %s %s; see docs/api.md", m, req->url);
    int version = 0, i = 3;
    if (n >= 5 && !strcmp(seg[3], "versions")) {
        if (!parse_version(seg[4], &version))
            return ml_resp_error(resp, 400, "version '%s' must be a positive integer", seg[4]);
        i = 5;
    }
    const char *action = i < n ? seg[i] : NULL;
    if (i + 1 < n || (action && strcmp(action, "ready") != 0 && strcmp(action, "infer") != 0))
        return ml_resp_error(resp, 404, "no route for %s %s; see docs/api.md", m, req->url);
    target t;
    ml_status st = resolve(req->srv, seg[2], version, &t);
    if (st) return ml_resp_status(resp, st);
    if (!action && get) return kserve_metadata(req, resp, &t);
    if (action && !strcmp(action, "ready") && get) return kserve_ready(req, resp, &t);
    if (action && !strcmp(action, "infer") && !strcmp(m, "POST"))
        return kserve_infer(req, resp, &t);
    ml_resp_error(resp, 405, "%s is not allowed on %s", m, req->url);
}

/* ---- TF-Serving ---- */

static json_t *tf_fields(const ml_field *f, size_t n) {
    json_t *o = json_object();
    for (size_t i = 0; i < n; i++) {
        json_t *dims = json_array();
        for (int k = 0; k < f[i].rank; k++) {
            char d[24];
            snprintf(d, sizeof d, "%lld", (long long)f[i].dims[k]);
            json_array_append_new(dims, json_pack("{s:s}", "size", d));
        }
        const char *dt = ml_dtype_tf_name(f[i].dtype);
        json_t *shape =
            f[i].rank < 0 ? json_pack("{s:b}", "unknown_rank", 1) : json_pack("{s:o}", "dim", dims);
        if (f[i].rank < 0) json_decref(dims);
        json_object_set_new(o, f[i].name,
                            json_pack("{s:s, s:s, s:o}", "dtype", dt ? dt : "DT_INVALID", "name",
                                      f[i].name, "tensor_shape", shape));
    }
    return o;
}

static void route_v1(ml_http_req *req, ml_http_resp *resp, char seg[MAX_SEGS][SEG_LEN], int n) {
    const char *m = req->method;
    if (n < 3 || strcmp(seg[1], "models") != 0)
        return ml_resp_error(resp, 404, "no route for %s %s; see docs/api.md", m, req->url);
    /* The verb rides on the last segment: "name:predict" or "3:predict". */
    char *last = seg[n - 1];
    char *colon = strchr(last, ':');
    const char *verb = NULL;
    if (colon) {
        *colon = '\0';
        verb = colon + 1;
    }
    int version = 0;
    bool metadata = false;
    if (n == 4 && !strcmp(seg[3], "metadata"))
        metadata = true;
    else if ((n == 5 || n == 6) && !strcmp(seg[3], "versions")) {
        if (!parse_version(seg[4], &version))
            return ml_resp_error(resp, 400, "version '%s' must be a positive integer", seg[4]);
        if (n == 6) {
            if (strcmp(seg[5], "metadata") != 0)
                return ml_resp_error(resp, 404, "no route for %s %s", m, req->url);
            metadata = true;
        }
    } else if (n != 3)
        return ml_resp_error(resp, 404, "no route for %s %s; see docs/api.md", m, req->url);
    target t;
    ml_status st = resolve(req->srv, seg[2], version, &t);
    if (st) return ml_resp_status(resp, st);
    if (verb) {
        if (strcmp(verb, "predict") != 0 || metadata)
            return ml_resp_error(resp, 404, "unknown verb ':%s'; use :predict", verb);
        if (strcmp(m, "POST") != 0)
            return ml_resp_error(resp, 405, "%s is not allowed on %s", m, req->url);
        ml_contract *c = NULL;
        st = target_contract(req->srv, &t, &c);
        ml_tf_request tr = {0};
        if (!st) st = ml_tf_decode(req->body, req->body_len, c, &req->srv->cfg.limits, &tr);
        ml_contract_free(c);
        ml_tensor_list out = {0};
        ml_infer_ctx ctx = {req->arrived_ns, NULL, 0, deadline_of(req)};
        if (!st) st = run(req->srv, &t, &tr.inputs, &ctx, &out);
        if (!st) ml_resp_json_flags(resp, 200, ml_tf_encode(&tr, &out), ml_json_dump_flags(&out));
        ml_tensor_list_clear(&out);
        ml_tensor_list_clear(&tr.inputs);
        if (st) ml_resp_status(resp, st);
        return;
    }
    if (strcmp(m, "GET") != 0)
        return ml_resp_error(resp, 405, "%s is not allowed on %s", m, req->url);
    ml_contract *c = NULL;
    st = target_contract(req->srv, &t, &c);
    if (st) return ml_resp_status(resp, st);
    char ver[16];
    snprintf(ver, sizeof ver, "%d", t.version);
    if (metadata) {
        json_t *sig = json_pack("{s:o, s:o, s:s}", "inputs", tf_fields(c->inputs, c->n_inputs),
                                "outputs", tf_fields(c->outputs, c->n_outputs), "method_name",
                                "tensorflow/serving/predict");
        ml_resp_json(resp, 200,
                     json_pack("{s:{s:s, s:s, s:s}, s:{s:{s:{s:o}}}}", "model_spec", "name", t.name,
                               "signature_name", "serving_default", "version", ver, "metadata",
                               "signature_def", "signature_def", "serving_default", sig));
    } else {
        ml_resp_json(resp, 200,
                     json_pack("{s:[{s:s, s:s, s:{s:s, s:s}}]}", "model_version_status", "version",
                               ver, "state", "AVAILABLE", "status", "error_code", "OK",
                               "error_message", ""));
    }
    ml_contract_free(c);
}

/* ---- gateway ---- */

static void route_gateway(ml_http_req *req, ml_http_resp *resp, char seg[MAX_SEGS][SEG_LEN],
                          int n) {
    if (n != 3 || strcmp(seg[1], "application") != 0)
        return ml_resp_error(resp, 404, "no route for %s %s; use /gateway/application/{name}",
                             req->method, req->url);
    if (strcmp(req->method, "POST") != 0)
        return ml_resp_error(resp, 405, "%s is not allowed on %s; POST a JSON body", req->method,
                             req->url);
    ml_contract *c = NULL;
    ml_status st = ml_runtime_app_contract(req->srv->rt, seg[2], &c);
    ml_tensor_list in = {0}, out = {0};
    if (!st) st = ml_gateway_decode(req->body, req->body_len, c, &req->srv->cfg.limits, &in);
    ml_contract_free(c);
    ml_infer_ctx ctx = {req->arrived_ns, NULL, 0, deadline_of(req)};
    if (!st) st = ml_runtime_infer_app(req->srv->rt, seg[2], &in, &ctx, &out);
    if (!st) ml_resp_json_flags(resp, 200, ml_gateway_encode(&out), ml_json_dump_flags(&out));
    ml_tensor_list_clear(&in);
    ml_tensor_list_clear(&out);
    if (st) ml_resp_status(resp, st);
}

bool ml_route_infer(ml_http_req *req, ml_http_resp *resp) {
    const char *u = req->url;
    if (!strcmp(u, "/metrics")) {
        char *text = ml_metrics_prometheus(req->srv->rt->metrics,
                                           (int64_t)ml_cache_loaded(req->srv->rt->cache));
        resp->status = 200;
        resp->body = text;
        resp->len = text ? strlen(text) : 0;
        resp->content_type = "text/plain; version=0.0.4; charset=utf-8";
        return true;
    }
    bool v2 = !strcmp(u, "/v2") || !strncmp(u, "/v2/", 4);
    bool v1 = !strncmp(u, "/v1/", 4);
    bool gw = !strncmp(u, "/gateway/", 9);
    if (!v2 && !v1 && !gw) return false;
    char seg[MAX_SEGS][SEG_LEN];
    int n;
    if (!split_path(u, seg, &n)) {
        ml_resp_error(resp, 404, "no route for %s %s", req->method, u);
        return true;
    }
    if (v2)
        route_v2(req, resp, seg, n);
    else if (v1)
        route_v1(req, resp, seg, n);
    else
        route_gateway(req, resp, seg, n);
    return true;
}
