/* Bearer-token authentication for the REST and gRPC APIs (serve
 * --auth-token-file). The file holds one token per line (blank lines and
 * '#' comments ignored), so a token can be rotated by listing old and new
 * together. Requests present `Authorization: Bearer <token>` (the header the
 * CLI sends for a cluster added with --token, and gRPC metadata
 * "authorization" with the same value). Health checks stay open for probes.
 * Comparison is constant-time. TLS is left to a proxy in front. */
#ifndef MLAMBDA_API_AUTH_H
#define MLAMBDA_API_AUTH_H

#include <stdbool.h>
#include <stddef.h>

#include "core/status.h"

typedef struct ml_auth ml_auth;

/* Reads the token file; fails when it is unreadable or holds no token.
 * Caller frees *out with ml_auth_free. */
ml_status ml_auth_load(const char *path, ml_auth **out);
void ml_auth_free(ml_auth *a);
size_t ml_auth_count(const ml_auth *a);

/* True when value (an Authorization header, may be NULL) is "Bearer T" for
 * a listed token T. A NULL auth (authentication off) accepts everything. */
bool ml_auth_check(const ml_auth *a, const char *value);

/* The same for a value that is not NUL-terminated (gRPC metadata slices). */
bool ml_auth_check_n(const ml_auth *a, const char *value, size_t len);

#endif
