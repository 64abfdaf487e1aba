/* Method handlers behind the gRPC transport, and the tensor conversions they
 * share. A handler decodes one request message, runs it on the serving
 * runtime and encodes the response; the transport owns everything else
 * (threads, deadlines, status codes). */
#ifndef MLAMBDA_API_GRPC_SERVICES_H
#define MLAMBDA_API_GRPC_SERVICES_H

#include <stddef.h>
#include <stdint.h>

#include "core/status.h"
#include "registry/contract.h"
#include "serving/runtime.h"

/* A serialized response; bytes are malloc'd and owned by the transport. */
typedef struct ml_grpc_reply {
    uint8_t *bytes;
    size_t len;
} ml_grpc_reply;

/* What a handler gets besides the message: the runtime (borrowed) and the
 * call's deadline on the ml_now_ns() clock (0 = none), which inference
 * passes down so a run stops once nobody waits for its answer. */
typedef struct ml_grpc_call {
    ml_runtime *rt;
    uint64_t deadline_ns;
} ml_grpc_call;

typedef ml_status (*ml_grpc_handler)(const ml_grpc_call *call, const uint8_t *req, size_t len,
                                     ml_grpc_reply *reply);

/* Handler for a full method path ("/inference.GRPCInferenceService/ModelInfer"),
 * or NULL when the method is not implemented. */
ml_grpc_handler ml_grpc_find_handler(const char *method, size_t len);

/* gRPC status code (grpc_status_code) for an mlambda status code. */
int ml_grpc_status_from_code(ml_code code);

/* A model or application addressed by a client. version 0 = latest. */
typedef struct ml_grpc_target {
    const char *name;
    int version;
    int is_app;
} ml_grpc_target;

/* Resolves name (and an optional version) to a model, or to an application
 * when there is no such model and no version was asked for. *contract
 * receives the target's contract (caller frees); t->version the resolved
 * model version. */
ml_status ml_grpc_resolve(ml_runtime *rt, ml_grpc_target *t, ml_contract **contract);
/* Runs the target with the inputs, within the call's deadline. */
ml_status ml_grpc_run(const ml_grpc_call *call, ml_grpc_target *t, const ml_tensor_list *in,
                      const char *const *outputs, size_t n_outputs, ml_tensor_list *out);

/* Converts a request tensor to the dtype its contract field wants when both
 * are integers or both are floating point (clients often send int32 for
 * int64, or double for float); anything else is left for the contract check
 * to reject. Replaces *t (freeing the old one) on conversion. */
ml_status ml_grpc_coerce_input(const ml_contract *c, const char *name, ml_tensor **t);

/* Upper bound on elements in one request tensor (hostile shapes). */
#define ML_GRPC_MAX_ELEMENTS ((size_t)1 << 28)
/* Checks a client-supplied shape: rank, non-negative dims, bounded count. */
ml_status ml_grpc_check_shape(const char *field, size_t rank, const int64_t *dims, size_t *numel);

#endif
