#include "core/status.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ml_status_s {
    ml_code code;
    char *message;
};

/* Returned when we cannot even allocate the status; never freed. */
static struct ml_status_s oom_status = {ML_ERR_OUT_OF_MEMORY, "out of memory"};

ml_status ml_errorv(ml_code code, const char *fmt, va_list ap) {
    ml_status st = malloc(sizeof *st);
    if (!st) return &oom_status;
    va_list copy;
    va_copy(copy, ap);
    int n = vsnprintf(NULL, 0, fmt, copy);
    va_end(copy);
    st->code = code == ML_OK ? ML_ERR_INTERNAL : code;
    st->message = malloc(n > 0 ? (size_t)n + 1 : 1);
    if (!st->message) {
        free(st);
        return &oom_status;
    }
    if (n > 0)
        vsnprintf(st->message, (size_t)n + 1, fmt, ap);
    else
        st->message[0] = '\0';
    return st;
}

ml_status ml_error(ml_code code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    ml_status st = ml_errorv(code, fmt, ap);
    va_end(ap);
    return st;
}

ml_status ml_status_wrap(ml_status st, const char *fmt, ...) {
    if (!st || st == &oom_status) return st;
    char prefix[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    size_t len = strlen(prefix) + 2 + strlen(st->message) + 1;
    char *msg = malloc(len);
    if (!msg) return st; /* keep the original message rather than lose it */
    snprintf(msg, len, "%s: %s", prefix, st->message);
    free(st->message);
    st->message = msg;
    return st;
}

ml_code ml_status_code(const ml_status st) {
    return st ? st->code : ML_OK;
}

const char *ml_status_message(const ml_status st) {
    return st ? st->message : "OK";
}

void ml_status_free(ml_status st) {
    if (!st || st == &oom_status) return;
    free(st->message);
    free(st);
}

const char *ml_code_name(ml_code code) {
    switch (code) {
    case ML_OK:
        return "OK";
    case ML_ERR_INVALID_ARGUMENT:
        return "INVALID_ARGUMENT";
    case ML_ERR_NOT_FOUND:
        return "NOT_FOUND";
    case ML_ERR_ALREADY_EXISTS:
        return "ALREADY_EXISTS";
    case ML_ERR_CONFLICT:
        return "CONFLICT";
    case ML_ERR_UNSUPPORTED:
        return "UNSUPPORTED";
    case ML_ERR_RESOURCE_EXHAUSTED:
        return "RESOURCE_EXHAUSTED";
    case ML_ERR_OUT_OF_MEMORY:
        return "OUT_OF_MEMORY";
    case ML_ERR_IO:
        return "IO";
    case ML_ERR_UNAVAILABLE:
        return "UNAVAILABLE";
    case ML_ERR_DEADLINE:
        return "DEADLINE_EXCEEDED";
    case ML_ERR_INTERNAL:
        return "INTERNAL";
    }
    return "UNKNOWN";
}
