#include "cli/http_client.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void ml_http_response_free(ml_http_response *r) {
    free(r->body);
    memset(r, 0, sizeof *r);
}

static void global_init_once(void) {
    static int done;
    if (!done) {
        curl_global_init(CURL_GLOBAL_DEFAULT);
        done = 1;
    }
}

char *ml_url_escape(const char *s) {
    static const char hex[] = "0123456789ABCDEF";
    size_t n = strlen(s);
    char *out = malloc(3 * n + 1), *p = out;
    if (!out) return NULL;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        int keep = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                   (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' || ch == '.' || ch == '~';
        if (keep) {
            *p++ = (char)ch;
        } else {
            *p++ = '%';
            *p++ = hex[ch >> 4];
            *p++ = hex[ch & 15];
        }
    }
    *p = '\0';
    return out;
}

const char *ml_http_reason(long status) {
    switch (status) {
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 204:
        return "No Content";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 409:
        return "Conflict";
    case 413:
        return "Payload Too Large";
    case 415:
        return "Unsupported Media Type";
    case 422:
        return "Unprocessable Entity";
    case 429:
        return "Too Many Requests";
    case 500:
        return "Internal Server Error";
    case 501:
        return "Not Implemented";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    default:
        return "";
    }
}

typedef struct sink {
    char *buf;
    size_t len, cap;
    int overflow;
} sink;

static size_t on_body(char *data, size_t size, size_t nmemb, void *user) {
    sink *s = user;
    size_t n = size * nmemb;
    if (s->len + n + 1 > ML_HTTP_MAX_RESPONSE) {
        s->overflow = 1;
        return 0; /* aborts the transfer */
    }
    if (s->len + n + 1 > s->cap) {
        size_t cap = s->cap ? s->cap : 4096;
        while (cap < s->len + n + 1) cap *= 2;
        char *b = realloc(s->buf, cap);
        if (!b) return 0;
        s->buf = b;
        s->cap = cap;
    }
    memcpy(s->buf + s->len, data, n);
    s->len += n;
    s->buf[s->len] = '\0';
    return n;
}

typedef struct upload_src {
    int fd;
    int64_t size; /* -1 = unknown (chunked) */
    uint64_t sent;
    ml_http_progress_fn progress;
    void *user;
} upload_src;

static size_t on_read(char *buf, size_t size, size_t nmemb, void *user) {
    upload_src *u = user;
    ssize_t n;
    do n = read(u->fd, buf, size * nmemb);
    while (n < 0 && errno == EINTR);
    if (n < 0) return CURL_READFUNC_ABORT;
    u->sent += (uint64_t)n;
    if (u->progress) u->progress(u->user, u->sent);
    return (size_t)n;
}

/* Keeps loopback traffic away from any proxy configured in the environment
 * while honouring the user's own no_proxy list. */
static void set_noproxy(CURL *c, char *buf, size_t cap) {
    const char *env = getenv("no_proxy");
    if (!env || !*env) env = getenv("NO_PROXY");
    snprintf(buf, cap, "localhost,127.0.0.1,::1%s%s", env && *env ? "," : "", env ? env : "");
    curl_easy_setopt(c, CURLOPT_NOPROXY, buf);
}

static ml_status perform(const ml_http_target *t, const char *method, const char *path,
                         const char *content_type, const char *body, size_t body_len,
                         upload_src *upload, ml_http_response *resp) {
    global_init_once();
    memset(resp, 0, sizeof *resp);
    size_t base_len = strlen(t->base_url);
    while (base_len && t->base_url[base_len - 1] == '/') base_len--;
    size_t url_len = base_len + strlen(path) + 1;
    char *url = malloc(url_len);
    CURL *c = curl_easy_init();
    if (!url || !c) {
        free(url);
        if (c) curl_easy_cleanup(c);
        return ml_error(ML_ERR_OUT_OF_MEMORY, "out of memory preparing an HTTP request");
    }
    snprintf(url, url_len, "%.*s%s", (int)base_len, t->base_url, path);

    struct curl_slist *hdrs = NULL;
    char hbuf[4200], noproxy[4096], errbuf[CURL_ERROR_SIZE] = "";
    if (content_type) {
        snprintf(hbuf, sizeof hbuf, "Content-Type: %s", content_type);
        hdrs = curl_slist_append(hdrs, hbuf);
    }
    if (t->token && *t->token) {
        snprintf(hbuf, sizeof hbuf, "Authorization: Bearer %s", t->token);
        hdrs = curl_slist_append(hdrs, hbuf);
    }
    hdrs = curl_slist_append(hdrs, "Accept: application/json");
    /* Uploads ask "Expect: 100-continue" so a server refusing the body (413, 401)
     * answers before it is sent instead of cutting the connection mid-stream;
     * small bodies skip the extra round trip. */
    if (!upload)
        hdrs = curl_slist_append(hdrs, "Expect:");
    else
        hdrs = curl_slist_append(hdrs, "Expect: 100-continue");

    sink s = {0};
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
    /* A server that stops answering for 5 minutes is considered gone. */
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 300L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &s);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "mlambda-cli/0.1");
    /* "": every coding libcurl can decode; the server gzips large answers */
    curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");
    if (t->cacert) curl_easy_setopt(c, CURLOPT_CAINFO, t->cacert);
    set_noproxy(c, noproxy, sizeof noproxy);
    if (upload) {
        curl_easy_setopt(c, CURLOPT_POST, 1L);
        curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
        curl_easy_setopt(c, CURLOPT_READDATA, upload);
        /* -1 makes curl send the body chunked. */
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)upload->size);
    } else if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
    }
    if (strcmp(method, "GET") != 0 && !(upload && !strcmp(method, "POST")))
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    if (!strcmp(method, "GET")) curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);

    CURLcode rc = curl_easy_perform(c);
    ml_status st = NULL;
    if (rc != CURLE_OK) {
        const char *why = errbuf[0] ? errbuf : curl_easy_strerror(rc);
        if (s.overflow)
            st = ml_error(ML_ERR_RESOURCE_EXHAUSTED, "%s %s: answer larger than %u MiB; refused",
                          method, url, ML_HTTP_MAX_RESPONSE >> 20);
        else if (rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST ||
                 rc == CURLE_OPERATION_TIMEDOUT)
            st = ml_error(ML_ERR_UNAVAILABLE,
                          "cannot reach the server at %.*s%s%s%s: %s; is it running ('%s serve') "
                          "and is the cluster's URL right ('cluster list')?",
                          (int)base_len, t->base_url, t->cluster ? " (cluster '" : "",
                          t->cluster ? t->cluster : "", t->cluster ? "')" : "", why, "mlambda");
        else
            st = ml_error(ML_ERR_UNAVAILABLE, "%s %.*s%s failed: %s", method, (int)base_len,
                          t->base_url, path, why);
        free(s.buf);
    } else {
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &resp->status);
        if (!s.buf) s.buf = calloc(1, 1);
        resp->body = s.buf;
        resp->len = s.len;
        if (!resp->body) st = ml_error(ML_ERR_OUT_OF_MEMORY, "out of memory");
    }
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(c);
    free(url);
    return st;
}

ml_status ml_http_call(const ml_http_target *t, const char *method, const char *path,
                       const char *content_type, const char *body, size_t body_len,
                       ml_http_response *resp) {
    return perform(t, method, path, content_type, body, body_len, NULL, resp);
}

ml_status ml_http_upload(const ml_http_target *t, const char *path, const char *content_type,
                         int fd, int64_t size, ml_http_progress_fn progress, void *user,
                         ml_http_response *resp) {
    upload_src u = {fd, size, 0, progress, user};
    return perform(t, "POST", path, content_type, NULL, 0, &u, resp);
}

static ml_code code_for(long status) {
    switch (status) {
    case 400:
    case 422:
        return ML_ERR_INVALID_ARGUMENT;
    case 404:
        return ML_ERR_NOT_FOUND;
    case 409:
        return ML_ERR_CONFLICT;
    case 413:
        return ML_ERR_RESOURCE_EXHAUSTED;
    case 501:
        return ML_ERR_UNSUPPORTED;
    case 503:
        return ML_ERR_UNAVAILABLE;
    case 504:
        return ML_ERR_DEADLINE;
    default:
        return status >= 400 && status < 500 ? ML_ERR_INVALID_ARGUMENT : ML_ERR_INTERNAL;
    }
}

ml_status ml_http_error(const ml_http_response *resp) {
    char msg[512] = "";
    json_t *j = resp->len ? json_loadb(resp->body, resp->len, 0, NULL) : NULL;
    json_t *e = json_object_get(j, "error");
    if (json_is_string(e)) {
        snprintf(msg, sizeof msg, "%s", json_string_value(e));
    } else if (json_is_object(e) && json_is_string(json_object_get(e, "message"))) {
        snprintf(msg, sizeof msg, "%s", json_string_value(json_object_get(e, "message")));
    } else if (resp->body) {
        /* Not our JSON error shape (a proxy, another server): first line only. */
        size_t i = 0;
        for (;
             i < resp->len && i < sizeof msg - 1 && resp->body[i] != '\n' && resp->body[i] != '\r';
             i++)
            msg[i] = (unsigned char)resp->body[i] < ' ' ? ' ' : resp->body[i];
        msg[i] = '\0';
    }
    json_decref(j);
    const char *reason = ml_http_reason(resp->status);
    return ml_error(code_for(resp->status), "HTTP %ld%s%s%s%s", resp->status, *reason ? " " : "",
                    reason, msg[0] ? ": " : "", msg);
}

ml_status ml_http_json(const ml_http_target *t, const char *method, const char *path,
                       const json_t *body, long *http_status, json_t **answer) {
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    if (body && !text) return ml_error(ML_ERR_OUT_OF_MEMORY, "out of memory encoding JSON");
    ml_http_response r;
    ml_status st = ml_http_call(t, method, path, text ? "application/json" : NULL, text,
                                text ? strlen(text) : 0, &r);
    free(text);
    if (answer) *answer = NULL;
    if (st) {
        if (http_status) *http_status = 0;
        return st;
    }
    if (http_status) *http_status = r.status;
    if (r.status < 200 || r.status >= 300) {
        st = ml_http_error(&r);
    } else if (answer && r.len) {
        json_error_t err;
        *answer = json_loadb(r.body, r.len, 0, &err);
        if (!*answer)
            st = ml_error(ML_ERR_INTERNAL, "%s %s: the server answered with invalid JSON (%s)",
                          method, path, err.text);
    }
    ml_http_response_free(&r);
    return st;
}
