/* Fast path for decoding KServe V2 JSON inference requests.
 *
 * A strict single-pass RFC 8259 parser specialised to the KServe request
 * shape that writes numbers straight into the tensors (no json_t per
 * element, no strtod for ordinary numbers). It is only an accelerator for
 * ml_kserve_decode: whenever it meets anything it does not handle exactly
 * (escapes in keys, names or the id, {"b64"} elements, dtypes without a
 * JSON form, numbers of 64+ characters, any error at all) it
 * declines, and the jansson decoder produces the result or the error
 * message. It never accepts a body the jansson decoder rejects and never
 * produces a different request (fuzz/fuzz_kserve_fast.c checks both). */
#ifndef MLAMBDA_API_CODEC_FAST_H
#define MLAMBDA_API_CODEC_FAST_H

#include <stdbool.h>
#include <stddef.h>

#include "api/codec.h"

/* Same arguments and result as ml_kserve_decode. *handled = true: out holds
 * the decoded request (caller clears it). *handled = false: out is zeroed
 * and the caller must run the full decoder. Returns NULL (the fast path has
 * no errors of its own: every problem is a decline). */
ml_status ml_kserve_decode_fast(const char *body, size_t len, size_t header_len,
                                const ml_json_limits *lim, ml_kserve_request *out, bool *handled);

/* True when both requests are identical: id, inputs (names, dtypes, shapes,
 * bytes of every element), requested outputs and binary flags. The
 * differential tests and fuzz/fuzz_kserve_fast.c compare the two decoders
 * with it. */
bool ml_kserve_request_same(const ml_kserve_request *a, const ml_kserve_request *b);

/* Process-wide switch (default on; MLAMBDA_JSON_FAST=0 in the environment
 * turns it off). Set it before serving threads start; tests, the fuzzer
 * and the benchmark use it to run the jansson decoder alone. */
void ml_kserve_fast_set_enabled(bool on);
bool ml_kserve_fast_enabled(void);

#endif
