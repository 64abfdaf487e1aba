/* Writing JSON text straight into a growing buffer, for the hot response
 * paths (KServe V2 infer answers), byte-identical to what jansson's
 * json_dumps(JSON_COMPACT | JSON_REAL_PRECISION(p)) produces for the same
 * values.
 *
 * Why not jansson: building a json_t per element and dumping it took about a
 * quarter of the server's CPU on small requests (a malloc per number, then
 * "%.9g" through snprintf per float). bench/json_write_bench.c measures the
 * difference; tests/api/test_json_writer.c checks the output is identical to
 * jansson's on millions of values. */
#ifndef MLAMBDA_API_JSON_WRITER_H
#define MLAMBDA_API_JSON_WRITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A growing text buffer. After any failed allocation `failed` is set and
 * later writes are ignored, so callers check once at the end. */
typedef struct ml_jw {
    char *buf; /* malloc'd, NUL-terminated when len > 0; owned until taken */
    size_t len, cap;
    bool failed;
} ml_jw;

void ml_jw_raw(ml_jw *w, const char *s, size_t n);
static inline void ml_jw_lit(ml_jw *w, const char *s) {
    size_t n = 0;
    while (s[n]) n++;
    ml_jw_raw(w, s, n);
}
/* A JSON string literal (quotes and escapes as jansson writes them). False,
 * writing nothing, when s is not valid UTF-8 (jansson refuses those too). */
bool ml_jw_string(ml_jw *w, const char *s, size_t n);
void ml_jw_int(ml_jw *w, long long v);
/* A real as jansson writes it with precision p (1..17; 0 means 17):
 * "%.{p}g", then ".0" added when there is neither '.' nor 'e', and the
 * exponent's '+' and leading zeros dropped. NaN/Inf are the caller's concern
 * (JSON has no literal for them). */
void ml_jw_real(ml_jw *w, double v, int precision);
/* Takes the text (caller frees); the writer is reset. NULL after a failure. */
char *ml_jw_take(ml_jw *w, size_t *len);
void ml_jw_free(ml_jw *w);

/* Formats v like ml_jw_real into out (at least 32 bytes); returns the length.
 * Exposed for tests. */
size_t ml_json_real_text(double v, int precision, char *out);

#endif
