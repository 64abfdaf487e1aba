/* Shared between the HTTP glue (http.c) and the route handlers. */
#ifndef MLAMBDA_API_INTERNAL_H
#define MLAMBDA_API_INTERNAL_H

#include <jansson.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "api/server.h"

struct ml_server {
    ml_server_config cfg;
    ml_registry *reg;
    ml_runtime *rt;
    struct MHD_Daemon *daemon;
    int port;
    pthread_mutex_t mu;
    pthread_cond_t idle;
    int in_flight;
    struct ml_offload *offload;   /* event-loop mode only, else NULL */
    struct ml_route_costs *costs; /* likewise */
};

/* A request as handlers see it: the body is complete (or, for uploads,
 * already stored in `upload`). */
typedef struct ml_http_req {
    ml_server *srv;
    struct MHD_Connection *conn;
    const char *method;
    const char *url;
    const char *body;
    size_t body_len;
    uint64_t arrived_ns;
    /* Upload route only: the streamed archive and its form fields. */
    ml_upload *upload;
    const char *form_name, *form_description;
    json_t *form_labels;
} ml_http_req;

typedef struct ml_http_resp {
    int status;
    char *body; /* malloc'd */
    size_t len;
    const char *content_type;
    char header_name[64], header_value[64]; /* one optional extra header */
    const char *cache_control;
} ml_http_resp;

/* Answers: json is stolen. */
void ml_resp_json(ml_http_resp *r, int status, json_t *json);
void ml_resp_json_flags(ml_http_resp *r, int status, json_t *json, size_t flags);
/* {"error": message} with the status mapped from the code; st is freed. */
void ml_resp_status(ml_http_resp *r, ml_status st);
void ml_resp_error(ml_http_resp *r, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int ml_http_code(ml_code code);

/* Query argument or NULL. */
const char *ml_req_query(const ml_http_req *req, const char *key);
const char *ml_req_header(const ml_http_req *req, const char *key);

/* ISO-8601 UTC ("2026-11-25T12:00:00Z") of Unix seconds; new reference. */
json_t *ml_json_time(int64_t t);

/* Route groups; each returns false when the path is not theirs. */
bool ml_route_mgmt(ml_http_req *req, ml_http_resp *resp);
bool ml_route_infer(ml_http_req *req, ml_http_resp *resp);

#endif
