/* `predict --grpc`: one KServe V2 ModelInfer call over gRPC (gRPC C core,
 * messages from the API's protobuf-c code). Requests and answers use the
 * same JSON shape as the REST V2 API, so predict converts them once:
 *   {"inputs":  [{"name", "datatype", "shape", "data": [flat]}]}
 *   {"outputs": [{"name", "datatype", "shape", "data": [flat]}]} */
#ifndef MLAMBDA_CLI_GRPC_CLIENT_H
#define MLAMBDA_CLI_GRPC_CLIENT_H

#include <jansson.h>

#include "core/status.h"

/* 1 when this build can speak gRPC. */
int ml_grpc_client_available(void);

/* Calls inference.GRPCInferenceService/ModelInfer on `endpoint` (HOST:PORT)
 * for model `name` (version 0 = latest; an application name works as on
 * REST). token (may be NULL) is sent as "authorization: Bearer". With tls
 * the channel uses TLS, trusting the PEM file cacert (NULL: the system's
 * CAs). *response is a new JSON object (caller owns). */
ml_status ml_grpc_infer(const char *endpoint, const char *token, int tls, const char *cacert,
                        const char *name, long version, const json_t *request, json_t **response);

/* HOST:PORT for gRPC from a REST URL: its host with port 9091. */
ml_status ml_grpc_endpoint_from_url(const char *url, char *buf, size_t cap);

#endif
