/* The CLI's HTTP client (libcurl): JSON calls to the management API and a
 * streamed file upload with progress. Server errors become one-line
 * statuses ("HTTP 404 Not Found: no model named 'x'"); curl's own output
 * never reaches the terminal. */
#ifndef MLAMBDA_CLI_HTTP_CLIENT_H
#define MLAMBDA_CLI_HTTP_CLIENT_H

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>

#include "core/status.h"

/* Answers larger than this are refused (a misbehaving server must not eat
 * the client's memory). */
#define ML_HTTP_MAX_RESPONSE (256u << 20)

typedef struct ml_http_target {
    const char *base_url; /* "http://host:port", borrowed */
    const char *token;    /* bearer token or NULL, borrowed */
    const char *cluster;  /* name for messages or NULL, borrowed */
    const char *cacert;   /* PEM file of trusted CAs for https, or NULL (system), borrowed */
} ml_http_target;

typedef struct ml_http_response {
    long status;
    char *body; /* owned, NUL-terminated */
    size_t len;
} ml_http_response;

void ml_http_response_free(ml_http_response *r);

/* One request with an optional in-memory body. Transport failures (server
 * down, DNS, timeout) return ML_ERR_UNAVAILABLE; any HTTP status is a
 * success here: the caller judges resp->status. */
ml_status ml_http_call(const ml_http_target *t, const char *method, const char *path,
                       const char *content_type, const char *body, size_t body_len,
                       ml_http_response *resp);

typedef void (*ml_http_progress_fn)(void *user, uint64_t sent);

/* POSTs the bytes read from `fd` until EOF (streamed, never loaded whole):
 * with a Content-Length when size >= 0, chunked when size is -1. progress
 * is called as bytes go out. */
ml_status ml_http_upload(const ml_http_target *t, const char *path, const char *content_type,
                         int fd, int64_t size, ml_http_progress_fn progress, void *user,
                         ml_http_response *resp);

/* Status for a non-2xx answer: "HTTP 409 Conflict: <server's error>". The
 * code follows the HTTP status (404 -> NOT_FOUND, 409 -> CONFLICT, ...). */
ml_status ml_http_error(const ml_http_response *resp);

/* JSON call: sends `body` (may be NULL) as application/json, fails with
 * ml_http_error on non-2xx, parses the answer into *answer (NULL for an
 * empty body; pass answer NULL to ignore it). *http_status gets the status
 * when not NULL, also on failure. */
ml_status ml_http_json(const ml_http_target *t, const char *method, const char *path,
                       const json_t *body, long *http_status, json_t **answer);

/* Percent-encodes `s` for a path segment or query value (caller frees). */
char *ml_url_escape(const char *s);

const char *ml_http_reason(long status);

#endif
