/* libmicrohttpd glue: request lifecycle, body limits, streaming uploads
 * (raw or multipart), response helpers and graceful shutdown.
 *
 * Threading: a thread per connection by default. With --http-threads N, N
 * epoll event loops read every connection instead; a request whose route
 * recently took under FAST_ROUTE_US of CPU (and whose body is small and not
 * compressed, and which is no management call) is handled on its loop,
 * anything else runs on an offload worker (offload.h) while the connection
 * is suspended, so a slow model never stalls its loop's other connections.
 * docs/performance.md compares the two. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "api/auth.h"
#include "api/http_encoding.h"
#include "api/internal.h"
#include "api/offload.h"
#include "core/clock.h"
#include "core/log.h"
#include "serving/batcher.h"

#ifdef MLAMBDA_HAVE_UI
#include "embed.h"
#endif

void ml_server_config_init(ml_server_config *c) {
    memset(c, 0, sizeof *c);
    c->host = "127.0.0.1";
    c->port = 9090;
    c->max_body_bytes = 64u << 20;
    c->max_upload_bytes = 1ull << 30;
    ml_json_limits_default(&c->limits);
    c->max_connections = 1024;
    c->drain_timeout_s = 30;
    c->offload_threads = 256;
}

/* A route taking less CPU than this on average is served on its event
 * loop: about the longest a neighbour connection then waits. */
#define FAST_ROUTE_US 250
/* libmicrohttpd's per-connection pool (request line, headers, read and
 * write buffers; bodies stream through it). It zeroes the pool for every
 * request: at its default 32 KiB that memset was 7.6% of the server's CPU
 * on small requests, 4% at 16 KiB, which still allows 8 KiB+ of headers. */
#define CONNECTION_POOL_BYTES (16u << 10)
/* bodies larger than this are decoded on a worker */
#define OFFLOAD_BODY_BYTES (256u << 10)
/* what a request that waited for a shared batch counts as */
#define BATCHED_ROUTE_NS (100ull * 1000 * 1000)

/* ---- responses ---- */

int ml_http_code(ml_code code) {
    switch (code) {
    case ML_OK:
        return 200;
    case ML_ERR_INVALID_ARGUMENT:
        return 400;
    case ML_ERR_NOT_FOUND:
        return 404;
    case ML_ERR_ALREADY_EXISTS:
    case ML_ERR_CONFLICT:
        return 409;
    case ML_ERR_RESOURCE_EXHAUSTED:
        return 413;
    case ML_ERR_UNSUPPORTED:
        return 501;
    case ML_ERR_UNAVAILABLE:
        return 503;
    case ML_ERR_DEADLINE:
        return 504;
    default:
        return 500;
    }
}

void ml_resp_json_flags(ml_http_resp *r, int status, json_t *json, size_t flags) {
    free(r->body);
    r->body = json ? json_dumps(json, flags) : NULL;
    json_decref(json);
    if (!r->body) {
        r->body = strdup("{\"error\": \"out of memory encoding the answer\"}");
        status = 500;
    }
    r->len = r->body ? strlen(r->body) : 0;
    r->status = status;
    r->content_type = "application/json";
}

void ml_resp_json(ml_http_resp *r, int status, json_t *json) {
    ml_resp_json_flags(r, status, json, JSON_COMPACT);
}

void ml_resp_error(ml_http_resp *r, int status, const char *fmt, ...) {
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    ml_resp_json(r, status, json_pack("{s:s}", "error", msg));
}

void ml_resp_status(ml_http_resp *r, ml_status st) {
    int code = ml_http_code(ml_status_code(st));
    if (code >= 500) ML_LOG_W("request failed (%d): %s", code, ml_status_message(st));
    ml_resp_error(r, code, "%s", ml_status_message(st));
    ml_status_free(st);
}

const char *ml_req_query(const ml_http_req *req, const char *key) {
    return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, key);
}

const char *ml_req_header(const ml_http_req *req, const char *key) {
    return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, key);
}

json_t *ml_json_time(int64_t t) {
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    char buf[32];
    strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return json_string(buf);
}

/* ---- per-request state ---- */

typedef struct req_state {
    uint64_t arrived_ns;
    bool is_upload;
    char *body;
    size_t len, cap;
    ml_upload *upload;
    struct MHD_PostProcessor *pp;
    ml_status error; /* deferred until the body is consumed */
    char *form_name, *form_description;
    json_t *labels;
    /* an offloaded request: what the worker needs, and its answer, sent
     * when libmicrohttpd calls back after the resume */
    ml_server *srv;
    struct MHD_Connection *conn;
    const char *url, *method; /* the connection's own strings */
    ml_http_resp resp;
    bool answered;
} req_state;

static void state_free(req_state *s) {
    if (!s) return;
    free(s->body);
    free(s->resp.body);
    ml_upload_abort(s->upload);
    if (s->pp) MHD_destroy_post_processor(s->pp);
    ml_status_free(s->error);
    free(s->form_name);
    free(s->form_description);
    json_decref(s->labels);
    free(s);
}

static ml_status add_label(req_state *s, const char *kv) {
    const char *eq = strchr(kv, '=');
    if (!eq || eq == kv)
        return ml_error(ML_ERR_INVALID_ARGUMENT, "label '%s' must be key=value", kv);
    if (!s->labels) s->labels = json_object();
    char key[256];
    snprintf(key, sizeof key, "%.*s", (int)(eq - kv) < 255 ? (int)(eq - kv) : 255, kv);
    json_object_set_new(s->labels, key, json_string(eq + 1));
    return NULL;
}

static enum MHD_Result query_label(void *cls, enum MHD_ValueKind kind, const char *key,
                                   const char *value) {
    (void)kind;
    req_state *s = cls;
    if (value && strcmp(key, "label") == 0 && !s->error) s->error = add_label(s, value);
    return MHD_YES;
}

static char *append_str(char *old, const char *data, size_t n) {
    size_t ol = old ? strlen(old) : 0;
    if (ol + n > 4096) return old;
    char *p = realloc(old, ol + n + 1);
    if (!p) return old;
    memcpy(p + ol, data, n);
    p[ol + n] = '\0';
    return p;
}

static enum MHD_Result post_iter(void *cls, enum MHD_ValueKind kind, const char *key,
                                 const char *filename, const char *content_type,
                                 const char *transfer_encoding, const char *data, uint64_t off,
                                 size_t size) {
    (void)kind, (void)filename, (void)content_type, (void)transfer_encoding, (void)off;
    req_state *s = cls;
    if (s->error) return MHD_YES;
    if (!strcmp(key, "file")) {
        if (size) s->error = ml_upload_write(s->upload, data, size);
    } else if (!strcmp(key, "name")) {
        s->form_name = append_str(s->form_name, data, size);
    } else if (!strcmp(key, "description")) {
        s->form_description = append_str(s->form_description, data, size);
    } else if (!strcmp(key, "label") && size) {
        char *kv = strndup(data, size);
        if (kv) s->error = add_label(s, kv);
        free(kv);
    }
    return MHD_YES;
}

/* ---- the request handler ---- */

/* Answers of at least this many bytes are gzipped for clients that accept
 * it: below it the CPU costs more than the bytes saved on a fast network. */
#define ML_GZIP_MIN_BYTES 16384

/* JSON and text compress 3-10x; binary tensors, archives and images do not. */
static bool compressible(const char *content_type) {
    return !content_type || !strncmp(content_type, "application/json", 16) ||
           !strncmp(content_type, "text/", 5) ||
           !strncmp(content_type, "application/javascript", 22);
}

static enum MHD_Result send_resp(struct MHD_Connection *conn, ml_server *srv, ml_http_resp *r) {
    if (!r->body) ml_resp_error(r, 500, "no answer was produced");
    bool gz = false;
    if (r->len >= ML_GZIP_MIN_BYTES && compressible(r->content_type) &&
        ml_http_accepts_gzip(
            MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT_ENCODING))) {
        char *z = NULL;
        size_t zl = 0;
        ml_status st = ml_http_gzip(r->body, r->len, &z, &zl);
        if (!st) {
            free(r->body);
            r->body = z;
            r->len = zl;
            gz = true;
        }
        ml_status_free(st); /* on failure the answer goes uncompressed */
    }
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(r->len, r->body, MHD_RESPMEM_MUST_FREE);
    r->body = NULL;
    if (!resp) return MHD_NO;
    if (gz) MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_ENCODING, "gzip");
    if (r->len >= ML_GZIP_MIN_BYTES || gz)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_VARY, "Accept-Encoding");
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
                            r->content_type ? r->content_type : "application/json");
    if (r->header_name[0]) MHD_add_response_header(resp, r->header_name, r->header_value);
    if (r->cache_control)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, r->cache_control);
    enum MHD_Result ret = MHD_queue_response(conn, (unsigned)r->status, resp);
    MHD_destroy_response(resp);
    ml_metrics_http(srv->rt->metrics, r->status);
    return ret;
}

static bool serve_ui(ml_http_req *req, ml_http_resp *resp) {
#ifdef MLAMBDA_HAVE_UI
    if (strcmp(req->method, "GET") != 0 && strcmp(req->method, "HEAD") != 0) return false;
    const char *path = req->url;
    if (strcmp(path, "/") != 0 && strncmp(path, "/ui/", 4) != 0) return false;
    const ml_ui_asset *a = ml_ui_find(strncmp(path, "/ui/", 4) == 0 ? path + 3 : path);
    if (!a) return false;
    /* "no-cache" means revalidate: a matching ETag gets an empty 304. */
    const char *inm = ml_req_header(req, MHD_HTTP_HEADER_IF_NONE_MATCH);
    bool not_modified = inm && a->etag && strstr(inm, a->etag) != NULL;
    size_t len = not_modified ? 0 : a->len;
    resp->body = malloc(len ? len : 1);
    if (!resp->body) return false;
    if (len) memcpy(resp->body, a->data, len);
    resp->len = len;
    resp->status = not_modified ? 304 : 200;
    resp->content_type = a->content_type;
    if (a->etag) {
        snprintf(resp->header_name, sizeof resp->header_name, "ETag");
        snprintf(resp->header_value, sizeof resp->header_value, "%s", a->etag);
    }
    resp->cache_control = "no-cache";
    return true;
#else
    (void)req, (void)resp;
    return false;
#endif
}

static void dispatch(ml_server *srv, struct MHD_Connection *conn, const char *url,
                     const char *method, req_state *st, ml_http_resp *resp) {
    ml_http_req req = {.srv = srv,
                       .conn = conn,
                       .method = method,
                       .url = url,
                       .body = st->body ? st->body : "",
                       .body_len = st->len,
                       .arrived_ns = st->arrived_ns,
                       .upload = st->upload,
                       .form_name = st->form_name,
                       .form_description = st->form_description,
                       .form_labels = st->labels};
    st->upload = NULL; /* the handler owns it now */
    if (ml_route_infer(&req, resp) || ml_route_mgmt(&req, resp) || serve_ui(&req, resp)) return;
    if (req.upload) ml_upload_abort(req.upload);
    if (!strcmp(url, "/"))
        ml_resp_error(
            resp, 404,
            "this build has no web UI; the API lives under /api/v2, /v2, /v1 and /gateway");
    else
        ml_resp_error(resp, 404, "no route for %s %s; see docs/api.md", method, url);
}

/* A gzip/deflate request body (Content-Encoding) is inflated in place,
 * bounded by the body limit; failures become st->error. */
static void decode_body(struct MHD_Connection *conn, ml_server *srv, req_state *st) {
    const char *ce =
        MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_ENCODING);
    if (!ce || !*ce || !strcasecmp(ce, "identity")) return;
    char *plain = NULL;
    size_t n = 0;
    st->error = ml_http_inflate(ce, st->body, st->len, srv->cfg.max_body_bytes, &plain, &n);
    if (st->error) return;
    free(st->body);
    st->body = plain;
    st->len = n;
    st->cap = n + 1;
}

/* The complete request: inflate its body, answer a deferred error, or
 * route it. */
static void handle(ml_server *srv, struct MHD_Connection *conn, const char *url, const char *method,
                   req_state *st, ml_http_resp *resp) {
    if (!st->error && !st->is_upload && st->body) decode_body(conn, srv, st);
    if (st->error && ml_status_code(st->error) == ML_ERR_UNSUPPORTED && !st->is_upload) {
        /* an unknown Content-Encoding: 415 Unsupported Media Type */
        ml_resp_error(resp, 415, "%s", ml_status_message(st->error));
        ml_status_free(st->error);
        st->error = NULL;
    } else if (st->error) {
        ml_resp_status(resp, st->error);
        st->error = NULL;
    } else {
        dispatch(srv, conn, url, method, st, resp);
    }
}

static uint64_t thread_cpu_ns(void) {
    struct timespec ts;
    if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) != 0) return 0;
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* handle, recording how long the route took */
static void timed_handle(ml_server *srv, struct MHD_Connection *conn, const char *url,
                         const char *method, req_state *st, ml_http_resp *resp) {
    if (!srv->costs) { /* a thread per connection: nothing to decide */
        handle(srv, conn, url, method, st, resp);
        return;
    }
    /* CPU time, not wall time: under load every request takes longer on
     * the clock, and offloaded ones longer still, which would keep a quick
     * route off its loop for good */
    uint64_t t0 = thread_cpu_ns();
    ml_batcher_thread_reset();
    handle(srv, conn, url, method, st, resp);
    uint64_t ns = thread_cpu_ns() - t0;
    /* a batched model's route stays on the workers however quick it was */
    if (ml_batcher_thread_queued() && ns < BATCHED_ROUTE_NS) ns = BATCHED_ROUTE_NS;
    ml_route_cost_add(srv->costs, method, url, ns);
}

/* On an offload worker; the connection is suspended meanwhile. */
static void run_offloaded(void *arg) {
    req_state *st = arg;
    timed_handle(st->srv, st->conn, st->url, st->method, st, &st->resp);
    st->answered = true;
    MHD_resume_connection(st->conn); /* libmicrohttpd calls on_request again */
}

/* Hands the request to a worker (or, when none can take it, answers it
 * here); either way the answer goes out on the next call. */
static void offload(ml_server *srv, struct MHD_Connection *conn, const char *url,
                    const char *method, req_state *st) {
    st->srv = srv, st->conn = conn, st->url = url, st->method = method;
    /* suspended before the worker can resume it */
    MHD_suspend_connection(conn);
    ml_status e = ml_offload_submit(srv->offload, run_offloaded, st);
    if (!e) return;
    ml_status_free(e);
    run_offloaded(st);
}

/* Routes open without a token: health probes, and the UI's static files
 * (the page then asks for the token and sends it with its API calls). */
static bool public_route(const char *method, const char *url) {
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) return false;
    return !strcmp(url, "/v2/health/live") || !strcmp(url, "/v2/health/ready") ||
           !strcmp(url, "/") || !strncmp(url, "/ui/", 4);
}

static bool is_upload_route(const char *method, const char *url) {
    return strcmp(method, "POST") == 0 && strcmp(url, "/api/v2/models/upload") == 0;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls) {
    (void)version;
    ml_server *srv = cls;
    req_state *st = *con_cls;
    if (!st) {
        st = calloc(1, sizeof *st);
        if (!st) return MHD_NO;
        st->arrived_ns = ml_now_ns();
        *con_cls = st;
        pthread_mutex_lock(&srv->mu);
        srv->in_flight++;
        pthread_mutex_unlock(&srv->mu);
        ml_load_enter();
        st->is_upload = is_upload_route(method, url);
        if (srv->cfg.auth && !public_route(method, url) &&
            !ml_auth_check(srv->cfg.auth,
                           MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                       MHD_HTTP_HEADER_AUTHORIZATION))) {
            /* before reading the body: an unauthenticated upload costs nothing */
            ml_http_resp r = {0};
            ml_resp_error(&r, 401,
                          "missing or wrong bearer token: send 'Authorization: Bearer <token>' "
                          "(mlambda cluster add --token)");
            snprintf(r.header_name, sizeof r.header_name, "WWW-Authenticate");
            snprintf(r.header_value, sizeof r.header_value, "Bearer realm=\"mlambda\"");
            return send_resp(conn, srv, &r);
        }
        uint64_t limit = st->is_upload ? srv->cfg.max_upload_bytes : srv->cfg.max_body_bytes;
        const char *cl =
            MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl && strtoull(cl, NULL, 10) > limit) {
            ml_http_resp r = {0};
            ml_resp_error(&r, 413, "the body (%s bytes) exceeds the limit of %llu bytes%s", cl,
                          (unsigned long long)limit,
                          st->is_upload ? "; raise it with serve --max-upload-mb"
                                        : "; raise it with serve --max-body-mb");
            return send_resp(conn, srv, &r);
        }
        if (st->is_upload) {
            st->error =
                ml_upload_begin(srv->reg->artifacts, srv->cfg.max_upload_bytes, &st->upload);
            const char *ct =
                MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
            if (!st->error && ct && strncasecmp(ct, "multipart/form-data", 19) == 0) {
                st->pp = MHD_create_post_processor(conn, 65536, post_iter, st);
                if (!st->pp)
                    st->error = ml_error(ML_ERR_INVALID_ARGUMENT,
                                         "malformed multipart/form-data (no boundary?)");
            }
            MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, query_label, st);
        }
        return MHD_YES;
    }
    if (*upload_data_size) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (st->error) return MHD_YES; /* discard the rest; answer at the end */
        if (st->is_upload) {
            if (st->pp) {
                if (MHD_post_process(st->pp, upload_data, n) != MHD_YES && !st->error)
                    st->error =
                        ml_error(ML_ERR_INVALID_ARGUMENT, "malformed multipart/form-data body");
            } else {
                st->error = ml_upload_write(st->upload, upload_data, n);
            }
            /* A chunked upload past the limit: stop reading altogether. */
            if (ml_status_code(st->error) == ML_ERR_RESOURCE_EXHAUSTED) return MHD_NO;
            return MHD_YES;
        }
        if (st->len + n > srv->cfg.max_body_bytes) return MHD_NO; /* chunked body past the limit */
        if (st->len + n + 1 > st->cap) {
            size_t nc = st->cap ? st->cap : 16384;
            while (nc < st->len + n + 1) nc *= 2;
            char *nb = realloc(st->body, nc);
            if (!nb) return MHD_NO;
            st->body = nb;
            st->cap = nc;
        }
        memcpy(st->body + st->len, upload_data, n);
        st->len += n;
        st->body[st->len] = '\0';
        return MHD_YES;
    }
    if (st->answered) { /* back from a worker */
        ML_LOG_D("%s %s -> %d (%llu ms, offloaded)", method, url, st->resp.status,
                 (unsigned long long)((ml_now_ns() - st->arrived_ns) / 1000000));
        return send_resp(conn, srv, &st->resp);
    }
    /* big or compressed bodies take long to decode whatever the route, and
     * the management API waits on the registry's database */
    if (srv->offload &&
        (st->len > OFFLOAD_BODY_BYTES || strncmp(url, "/api/", 5) == 0 ||
         MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_ENCODING) ||
         !ml_route_is_fast(srv->costs, method, url, FAST_ROUTE_US))) {
        offload(srv, conn, url, method, st);
        return MHD_YES;
    }
    ml_http_resp resp = {0};
    /* on an event loop (one per core): no intra-op split of this quick
     * request's model run */
    ml_serial_runs_on_this_thread(srv->offload != NULL);
    timed_handle(srv, conn, url, method, st, &resp);
    ml_serial_runs_on_this_thread(false);
    uint64_t ms = (ml_now_ns() - st->arrived_ns) / 1000000;
    ML_LOG_D("%s %s -> %d (%llu ms)", method, url, resp.status, (unsigned long long)ms);
    return send_resp(conn, srv, &resp);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe) {
    (void)conn, (void)toe;
    ml_server *srv = cls;
    req_state *st = *con_cls;
    if (!st) return;
    state_free(st);
    *con_cls = NULL;
    ml_load_leave();
    pthread_mutex_lock(&srv->mu);
    srv->in_flight--;
    pthread_cond_broadcast(&srv->idle);
    pthread_mutex_unlock(&srv->mu);
}

ml_status ml_server_start(const ml_server_config *cfg, ml_registry *reg, ml_runtime *rt,
                          ml_server **out) {
    *out = NULL;
    ml_server *s = calloc(1, sizeof *s);
    if (!s) return ml_error(ML_ERR_OUT_OF_MEMORY, "out of memory");
    if (cfg)
        s->cfg = *cfg;
    else
        ml_server_config_init(&s->cfg);
    s->reg = reg;
    s->rt = rt;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->idle, NULL);
    struct sockaddr_in addr = {0};
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)s->cfg.port);
    const char *host = s->cfg.host ? s->cfg.host : "127.0.0.1";
    if (!strcmp(host, "localhost")) host = "127.0.0.1";
    if (inet_pton(AF_INET, host, &addr.sin_addr) != 1) {
        free(s);
        return ml_error(ML_ERR_INVALID_ARGUMENT,
                        "--host '%s' is not an IPv4 address (e.g. 127.0.0.1 or 0.0.0.0)", host);
    }
    /* Event loops, with slow requests offloaded (top of this file), or a
     * thread per connection. */
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ITC;
    if (s->cfg.pool_threads) {
        flags |= MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME;
        ml_status st = ml_offload_start(s->cfg.offload_threads, &s->offload);
        if (!st) st = ml_route_costs_new(&s->costs);
        if (st) {
            ml_offload_stop(s->offload);
            free(s);
            return st;
        }
    } else {
        /* poll, not select: descriptors past FD_SETSIZE (1024) are common with
         * a thousand connections */
        flags |= MHD_USE_THREAD_PER_CONNECTION | MHD_USE_POLL;
    }
    bool tls = s->cfg.tls_cert_pem && s->cfg.tls_key_pem;
    if (tls && MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
        free(s);
        return ml_error(ML_ERR_UNSUPPORTED,
                        "this libmicrohttpd was built without TLS; serve plain HTTP behind a TLS "
                        "proxy instead");
    }
    if (tls) flags |= MHD_USE_TLS;
    /* the certificate and key go in only with TLS on (an array, so the
     * varargs list below stays the same either way) */
    struct MHD_OptionItem tls_opts[3] = {
        {MHD_OPTION_HTTPS_MEM_CERT, 0, (void *)s->cfg.tls_cert_pem},
        {MHD_OPTION_HTTPS_MEM_KEY, 0, (void *)s->cfg.tls_key_pem},
        {MHD_OPTION_END, 0, NULL}};
    if (!tls) tls_opts[0].option = MHD_OPTION_END;
    s->daemon = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, s, MHD_OPTION_ARRAY, tls_opts, MHD_OPTION_SOCK_ADDR,
        (struct sockaddr *)&addr, MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)s->cfg.max_connections,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)CONNECTION_POOL_BYTES,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)120, MHD_OPTION_LISTENING_ADDRESS_REUSE,
        (unsigned)1, MHD_OPTION_THREAD_POOL_SIZE,
        (unsigned)(s->cfg.pool_threads > 1 ? s->cfg.pool_threads : 0), MHD_OPTION_END);
    if (!s->daemon) {
        int port = s->cfg.port;
        ml_offload_stop(s->offload);
        ml_route_costs_free(s->costs);
        pthread_mutex_destroy(&s->mu);
        pthread_cond_destroy(&s->idle);
        free(s);
        return ml_error(ML_ERR_UNAVAILABLE,
                        tls ? "cannot listen on %s:%d (in use? try --port; or the TLS "
                              "certificate and key do not load or do not match)"
                            : "cannot listen on %s:%d (in use? try --port)",
                        host, port);
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
    s->port = info ? info->port : s->cfg.port;
    *out = s;
    return NULL;
}

int ml_server_port(const ml_server *s) {
    return s->port;
}

void ml_server_shutdown(ml_server *s) {
    if (!s) return;
    MHD_socket ls = MHD_quiesce_daemon(s->daemon);
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += s->cfg.drain_timeout_s ? s->cfg.drain_timeout_s : 30;
    pthread_mutex_lock(&s->mu);
    while (s->in_flight > 0)
        if (pthread_cond_timedwait(&s->idle, &s->mu, &deadline) != 0) break;
    int left = s->in_flight;
    pthread_mutex_unlock(&s->mu);
    if (left) ML_LOG_W("shutdown: %d request(s) still running after the drain timeout", left);
    /* workers first: each resumes its connection before the daemon goes */
    ml_offload_stop(s->offload);
    MHD_stop_daemon(s->daemon);
    ml_route_costs_free(s->costs);
    if (ls != MHD_INVALID_SOCKET) close(ls);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->idle);
    free(s);
}
