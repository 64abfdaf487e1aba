/* The gRPC server: KServe V2 `inference.GRPCInferenceService` and TF-Serving
 * `tensorflow.serving.PredictionService` on one port, on gRPC C core with
 * messages encoded by protobuf-c. Requests run on a fixed set of worker
 * threads that share the serving runtime (model instances, metrics) with the
 * REST API. */
#ifndef MLAMBDA_API_GRPC_SERVER_H
#define MLAMBDA_API_GRPC_SERVER_H

#include <stddef.h>

#include "core/status.h"
#include "serving/runtime.h"

typedef struct ml_grpc_config {
    const char *host;         /* default "127.0.0.1" */
    int port;                 /* 0 picks a free port (see ml_grpc_server_port) */
    size_t n_workers;         /* concurrent calls; default 2 x CPUs, at least 4 */
    size_t max_message_bytes; /* larger requests fail with RESOURCE_EXHAUSTED; default 64 MiB */
    unsigned drain_timeout_s; /* graceful shutdown bound; default 30 */
    /* deadline for calls whose client set none (the client's own deadline
     * always applies); 0 = none (default) */
    unsigned request_timeout_ms;
    /* bearer tokens (borrowed, must outlive the server); NULL = no
     * authentication. ServerLive/ServerReady stay open for probes. */
    const struct ml_auth *auth;
    /* PEM certificate chain and key (borrowed): TLS when both are set */
    const char *tls_cert_pem, *tls_key_pem;
} ml_grpc_config;

void ml_grpc_config_init(ml_grpc_config *c);

typedef struct ml_grpc_server ml_grpc_server;

/* Binds, starts the workers and returns. rt is borrowed and must outlive the
 * server. Caller owns *out and stops it with ml_grpc_server_shutdown. */
ml_status ml_grpc_server_start(const ml_grpc_config *cfg, ml_runtime *rt, ml_grpc_server **out);
int ml_grpc_server_port(const ml_grpc_server *s);
/* Stops accepting calls, lets in-flight calls finish (cancelling them after
 * drain_timeout_s), joins the workers and frees the server. NULL is accepted. */
void ml_grpc_server_shutdown(ml_grpc_server *s);

#endif
