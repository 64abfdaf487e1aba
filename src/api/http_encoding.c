/* Content codings on zlib; see http_encoding.h. */
#include "api/http_encoding.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>

ml_status ml_http_inflate(const char *coding, const char *in, size_t n, size_t max_out, char **out,
                          size_t *out_len) {
    *out = NULL;
    *out_len = 0;
    bool identity = !strcasecmp(coding, "identity");
    if (!identity && strcasecmp(coding, "gzip") && strcasecmp(coding, "x-gzip") &&
        strcasecmp(coding, "deflate"))
        return ml_error(ML_ERR_UNSUPPORTED,
                        "Content-Encoding '%s' is not supported; send the body as is, or "
                        "gzip or deflate it",
                        coding);
    if (identity) {
        if (n > max_out)
            return ml_error(ML_ERR_RESOURCE_EXHAUSTED, "the body exceeds %zu bytes", max_out);
        *out = malloc(n + 1);
        if (!*out) return ml_error(ML_ERR_OUT_OF_MEMORY, "out of memory");
        memcpy(*out, in, n);
        (*out)[n] = '\0';
        *out_len = n;
        return NULL;
    }
    z_stream z;
    memset(&z, 0, sizeof z);
    /* 15 + 32: zlib or gzip header, detected; "deflate" is zlib-wrapped (RFC 9110) */
    if (inflateInit2(&z, 15 + 32) != Z_OK)
        return ml_error(ML_ERR_OUT_OF_MEMORY, "cannot start decompressing the body");
    size_t cap = n * 4 + 1024, len = 0;
    if (cap > max_out + 1) cap = max_out + 1;
    char *buf = malloc(cap + 1);
    ml_status st = buf ? NULL : ml_error(ML_ERR_OUT_OF_MEMORY, "out of memory");
    z.next_in = (Bytef *)in;
    int rc = Z_OK;
    size_t fed = 0;
    while (!st && rc != Z_STREAM_END) {
        if (z.avail_in == 0 && fed < n) { /* avail_in is 32-bit: feed in slices */
            size_t take = n - fed > (1u << 30) ? (1u << 30) : n - fed;
            z.next_in = (Bytef *)in + fed;
            z.avail_in = (uInt)take;
            fed += take;
        }
        if (len == cap) {
            if (cap > max_out) {
                st = ml_error(ML_ERR_RESOURCE_EXHAUSTED,
                              "the decompressed body exceeds the limit of %zu bytes; raise it "
                              "with serve --max-body-mb",
                              max_out);
                break;
            }
            size_t nc = cap * 2 > max_out + 1 ? max_out + 1 : cap * 2;
            char *nb = realloc(buf, nc + 1);
            if (!nb) {
                st = ml_error(ML_ERR_OUT_OF_MEMORY, "out of memory");
                break;
            }
            buf = nb;
            cap = nc;
        }
        size_t room = cap - len > (1u << 30) ? (1u << 30) : cap - len;
        z.next_out = (Bytef *)buf + len;
        z.avail_out = (uInt)room;
        rc = inflate(&z, Z_NO_FLUSH);
        len += room - z.avail_out;
        if (rc == Z_STREAM_END) break;
        if (rc == Z_BUF_ERROR && z.avail_in == 0 && fed == n && z.avail_out > 0)
            st = ml_error(ML_ERR_INVALID_ARGUMENT, "the %s body is truncated", coding);
        else if (rc != Z_OK && rc != Z_BUF_ERROR)
            st = ml_error(ML_ERR_INVALID_ARGUMENT, "the %s body is corrupt: %s", coding,
                          z.msg ? z.msg : "bad data");
    }
    if (!st && len > max_out)
        st = ml_error(ML_ERR_RESOURCE_EXHAUSTED,
                      "the decompressed body exceeds the limit of %zu bytes; raise it with serve "
                      "--max-body-mb",
                      max_out);
    inflateEnd(&z);
    if (st) {
        free(buf);
        return st;
    }
    buf[len] = '\0';
    *out = buf;
    *out_len = len;
    return NULL;
}

/* The q value of a coding's parameters ("; q=0.5"); 1 when absent. */
static double qvalue(const char *p, const char *end) {
    while (p < end) {
        while (p < end && (*p == ';' || isspace((unsigned char)*p))) p++;
        if (end - p >= 2 && (p[0] == 'q' || p[0] == 'Q') && p[1] == '=') return atof(p + 2);
        while (p < end && *p != ';') p++;
    }
    return 1.0;
}

bool ml_http_accepts_gzip(const char *ae) {
    if (!ae) return false;
    const char *p = ae;
    while (*p) {
        while (*p == ',' || isspace((unsigned char)*p)) p++;
        const char *tok = p;
        while (*p && *p != ',' && *p != ';' && !isspace((unsigned char)*p)) p++;
        size_t tl = (size_t)(p - tok);
        const char *params = p;
        while (*p && *p != ',') p++;
        bool gz = (tl == 4 && !strncasecmp(tok, "gzip", 4)) ||
                  (tl == 6 && !strncasecmp(tok, "x-gzip", 6)) || (tl == 1 && *tok == '*');
        if (gz && qvalue(params, p) > 0) return true;
    }
    return false;
}

ml_status ml_http_gzip(const char *in, size_t n, char **out, size_t *out_len) {
    *out = NULL;
    z_stream z;
    memset(&z, 0, sizeof z);
    /* level 1: most of the size win on JSON numbers at a fraction of the CPU */
    if (deflateInit2(&z, 1, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return ml_error(ML_ERR_OUT_OF_MEMORY, "cannot start compressing the answer");
    if (n > (1u << 30)) {
        deflateEnd(&z);
        return ml_error(ML_ERR_RESOURCE_EXHAUSTED, "the answer is too large to compress");
    }
    size_t cap = deflateBound(&z, (uLong)n);
    char *buf = malloc(cap ? cap : 1);
    if (!buf) {
        deflateEnd(&z);
        return ml_error(ML_ERR_OUT_OF_MEMORY, "out of memory");
    }
    z.next_in = (Bytef *)in;
    z.avail_in = (uInt)n;
    z.next_out = (Bytef *)buf;
    z.avail_out = (uInt)cap;
    int rc = deflate(&z, Z_FINISH);
    size_t len = cap - z.avail_out;
    deflateEnd(&z);
    if (rc != Z_STREAM_END) {
        free(buf);
        return ml_error(ML_ERR_INTERNAL, "compressing the answer failed");
    }
    *out = buf;
    *out_len = len;
    return NULL;
}
