/* Status values returned by every fallible mlambda function.
 *
 * A status is a pointer: NULL means success, so the success path costs
 * nothing.  A failure is a heap object carrying a code and a message; the
 * caller that receives it owns it and must pass it on (return it) or release
 * it with ml_status_free().  Messages say what was wrong and, where possible,
 * what to do about it. */
#ifndef MLAMBDA_CORE_STATUS_H
#define MLAMBDA_CORE_STATUS_H

#include <stdarg.h>

typedef enum ml_code {
    ML_OK = 0,
    ML_ERR_INVALID_ARGUMENT,   /* the caller's input is wrong (HTTP 400, gRPC INVALID_ARGUMENT) */
    ML_ERR_NOT_FOUND,          /* a named thing does not exist (404) */
    ML_ERR_ALREADY_EXISTS,     /* creating something that exists (409) */
    ML_ERR_CONFLICT,           /* the change conflicts with current state (409) */
    ML_ERR_UNSUPPORTED,        /* valid input we do not implement (501 / UNIMPLEMENTED) */
    ML_ERR_RESOURCE_EXHAUSTED, /* a size/count limit was exceeded (413 / RESOURCE_EXHAUSTED) */
    ML_ERR_OUT_OF_MEMORY,      /* allocation failed */
    ML_ERR_IO,                 /* file or socket I/O failed */
    ML_ERR_UNAVAILABLE,        /* a dependency is down or not ready (503) */
    ML_ERR_DEADLINE,           /* the deadline passed (504 / DEADLINE_EXCEEDED) */
    ML_ERR_INTERNAL,           /* a bug: an invariant was broken (500) */
} ml_code;

typedef struct ml_status_s *ml_status;

#define ML_STATUS_OK ((ml_status)0)

/* Creates a failure status (never returns NULL: allocation failure yields a
 * static out-of-memory status that ml_status_free ignores). Caller owns it. */
ml_status ml_error(ml_code code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
ml_status ml_errorv(ml_code code, const char *fmt, va_list ap);

/* Prepends "context: " to the message of a failure; returns the same status.
 * A NULL (success) status is returned unchanged. */
ml_status ml_status_wrap(ml_status st, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

ml_code ml_status_code(const ml_status st);
/* Message of a failure ("OK" for success). Borrowed: valid until freed. */
const char *ml_status_message(const ml_status st);
void ml_status_free(ml_status st);

/* Short stable name for a code, e.g. "INVALID_ARGUMENT". */
const char *ml_code_name(ml_code code);

/* Propagate a failure to the caller. */
#define ML_TRY(expr)                                                                               \
    do {                                                                                           \
        ml_status ml_try_st_ = (expr);                                                             \
        if (ml_try_st_) return ml_try_st_;                                                         \
    } while (0)

#endif
