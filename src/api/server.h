/* The REST server: libmicrohttpd with a thread per connection, or event
 * loops with slow requests offloaded to workers (see http.c), management API,
 * KServe V2, TF-Serving, gateway, metrics and the embedded web UI. */
#ifndef MLAMBDA_API_SERVER_H
#define MLAMBDA_API_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include "api/codec.h"
#include "core/status.h"
#include "registry/registry.h"
#include "serving/runtime.h"

typedef struct ml_server_config {
    const char *host;            /* default "127.0.0.1" */
    int port;                    /* 0 picks a free port (see ml_server_port) */
    size_t max_body_bytes;       /* inference / JSON bodies; default 64 MiB */
    uint64_t max_upload_bytes;   /* model uploads; default 1 GiB */
    ml_json_limits limits;       /* tensor elements, nesting depth, string size */
    unsigned max_connections;    /* default 1024 */
    unsigned drain_timeout_s;    /* graceful shutdown bound; default 30 */
    unsigned pool_threads;       /* 0: a thread per connection (default); N: N epoll event
                                  * loops, slow requests on offload workers */
    unsigned offload_threads;    /* most workers for slow requests (event loops); default 256 */
    unsigned request_timeout_ms; /* inference deadline from arrival; 0 = none (default) */
    /* bearer tokens (borrowed, must outlive the server); NULL = no
     * authentication. Health checks and the UI's static files stay open. */
    const struct ml_auth *auth;
    /* PEM certificate chain and private key (borrowed strings): HTTPS when
     * both are set (libmicrohttpd on GnuTLS) */
    const char *tls_cert_pem, *tls_key_pem;
} ml_server_config;

void ml_server_config_init(ml_server_config *c);

typedef struct ml_server ml_server;

/* Starts serving in background threads. reg and rt are borrowed and must
 * outlive the server. Caller owns *out. */
ml_status ml_server_start(const ml_server_config *cfg, ml_registry *reg, ml_runtime *rt,
                          ml_server **out);
int ml_server_port(const ml_server *s);
/* Stops accepting, waits (up to drain_timeout_s) for in-flight requests to
 * finish, then closes every connection and frees the server. */
void ml_server_shutdown(ml_server *s);

#endif
