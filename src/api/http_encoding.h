/* HTTP content codings for request and response bodies (RFC 9110 §8.4):
 * gzip/deflate request bodies are inflated before routing, and large text
 * responses are gzipped for clients that accept it, as Triton's HTTP
 * endpoint does (tritonclient's request/response_compression_algorithm).
 * zlib does the work; every size is bounded. */
#ifndef MLAMBDA_API_HTTP_ENCODING_H
#define MLAMBDA_API_HTTP_ENCODING_H

#include <stdbool.h>
#include <stddef.h>

#include "core/status.h"

/* Inflates in[0..n) coded as `coding` ("gzip", "x-gzip", "deflate";
 * "identity" copies) into *out (malloc'd, NUL-terminated, caller frees),
 * refusing to grow past max_out bytes (RESOURCE_EXHAUSTED) and failing on
 * corrupt or truncated data (INVALID_ARGUMENT) or an unknown coding
 * (UNSUPPORTED, naming the ones we accept). */
ml_status ml_http_inflate(const char *coding, const char *in, size_t n, size_t max_out, char **out,
                          size_t *out_len);

/* True when an Accept-Encoding header value admits gzip (a "gzip" or "*"
 * token whose q is not 0). NULL accepts nothing. */
bool ml_http_accepts_gzip(const char *accept_encoding);

/* gzip of in[0..n) at a fast level; *out malloc'd (caller frees). */
ml_status ml_http_gzip(const char *in, size_t n, char **out, size_t *out_len);

#endif
