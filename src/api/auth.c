/* Bearer tokens; see auth.h. */
#include "api/auth.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "core/log.h"

#define ML_AUTH_MAX_TOKENS 64
#define ML_AUTH_MAX_LEN 4096

struct ml_auth {
    size_t n;
    char *tokens[ML_AUTH_MAX_TOKENS];
    size_t lens[ML_AUTH_MAX_TOKENS];
};

void ml_auth_free(ml_auth *a) {
    if (!a) return;
    for (size_t i = 0; i < a->n; i++) {
        /* tokens are secrets: do not leave them in freed memory */
        volatile char *p = a->tokens[i];
        for (size_t k = 0; k < a->lens[i]; k++) p[k] = 0;
        free(a->tokens[i]);
    }
    free(a);
}

size_t ml_auth_count(const ml_auth *a) {
    return a ? a->n : 0;
}

ml_status ml_auth_load(const char *path, ml_auth **out) {
    *out = NULL;
    FILE *f = fopen(path, "r");
    if (!f) return ml_error(ML_ERR_INVALID_ARGUMENT, "cannot read the token file '%s'", path);
    struct stat sb;
    if (fstat(fileno(f), &sb) == 0 && (sb.st_mode & 0077))
        ML_LOG_W("token file %s is readable by other users; run 'chmod 600 %s'", path, path);
    ml_auth *a = calloc(1, sizeof *a);
    ml_status st = a ? NULL : ml_error(ML_ERR_OUT_OF_MEMORY, "out of memory");
    char line[ML_AUTH_MAX_LEN + 2];
    int lineno = 0;
    while (!st && fgets(line, sizeof line, f)) {
        lineno++;
        size_t len = strlen(line);
        if (len == sizeof line - 1 && line[len - 1] != '\n') {
            st = ml_error(ML_ERR_INVALID_ARGUMENT, "%s:%d: a token is longer than %d bytes", path,
                          lineno, ML_AUTH_MAX_LEN);
            break;
        }
        while (len && isspace((unsigned char)line[len - 1])) line[--len] = '\0';
        char *s = line;
        while (*s && isspace((unsigned char)*s)) s++;
        if (!*s || *s == '#') continue;
        for (char *c = s; *c; c++)
            if (isspace((unsigned char)*c) || !isprint((unsigned char)*c)) {
                st = ml_error(ML_ERR_INVALID_ARGUMENT,
                              "%s:%d: a token may not contain spaces or control characters", path,
                              lineno);
                break;
            }
        if (st) break;
        if (a->n == ML_AUTH_MAX_TOKENS) {
            st = ml_error(ML_ERR_INVALID_ARGUMENT, "%s holds more than %d tokens", path,
                          ML_AUTH_MAX_TOKENS);
            break;
        }
        a->lens[a->n] = strlen(s);
        if (!(a->tokens[a->n] = strdup(s)))
            st = ml_error(ML_ERR_OUT_OF_MEMORY, "out of memory");
        else
            a->n++;
    }
    volatile char *p = line; /* the last line read may hold a token */
    for (size_t k = 0; k < sizeof line; k++) p[k] = 0;
    fclose(f);
    if (!st && a->n == 0)
        st = ml_error(ML_ERR_INVALID_ARGUMENT, "the token file '%s' holds no token", path);
    if (st) {
        ml_auth_free(a);
        return st;
    }
    *out = a;
    return NULL;
}

/* Compares without an early exit, so the time taken does not reveal how
 * much of a token was right. */
static bool same(const char *x, size_t xl, const char *y, size_t yl) {
    unsigned char diff = (unsigned char)(xl != yl);
    size_t n = xl < yl ? xl : yl;
    for (size_t i = 0; i < n; i++) diff |= (unsigned char)(x[i] ^ y[i]);
    return diff == 0;
}

bool ml_auth_check_n(const ml_auth *a, const char *v, size_t len) {
    if (!a) return true;
    if (!v || len < 7 || strncasecmp(v, "Bearer ", 7) != 0) return false;
    v += 7, len -= 7;
    while (len && *v == ' ') v++, len--;
    bool ok = false;
    for (size_t i = 0; i < a->n; i++) ok |= same(v, len, a->tokens[i], a->lens[i]);
    return ok;
}

bool ml_auth_check(const ml_auth *a, const char *v) {
    return ml_auth_check_n(a, v, v ? strlen(v) : 0);
}
