/* KServe V2 request decoding, exposed for the fuzz target. */
#ifndef MLAMBDA_API_GRPC_KSERVE_H
#define MLAMBDA_API_GRPC_KSERVE_H

#include "kserve/grpc_predict_v2.pb-c.h"
#include "registry/contract.h"
#include "serving/runtime.h"

/* ModelInferRequest inputs -> named tensors (typed contents or
 * raw_input_contents, BYTES length-prefixed), checked against the request's
 * own shapes and converted to the contract's dtype within a numeric kind
 * (c may be NULL). */
ml_status ml_grpc_kserve_decode_inputs(const Inference__ModelInferRequest *r, const ml_contract *c,
                                       ml_tensor_list *in);

#endif
