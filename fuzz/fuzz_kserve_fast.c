/* Differential libFuzzer target for the KServe V2 JSON fast path
 * (src/api/codec_fast.c): whenever the fast path accepts a body, the jansson
 * decoder must accept it too and produce the identical request (id, input
 * names, dtypes, shapes, bytes, requested outputs and binary flags);
 * anything else aborts. Bodies the fast path declines need no check: the
 * jansson decoder handles them in production. The first byte picks the
 * limits, the split between JSON header and binary part, and whether the
 * rest is a whole body or the elements of one input's "data". */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/codec.h"
#include "api/codec_fast.h"

/* FUZZ_STATS=1: print how many inputs the fast path handled at exit (a
 * corpus where it handles nothing would compare nothing). */
static size_t n_runs, n_handled;

static void print_stats(void) {
    fprintf(stderr, "fuzz_kserve_fast: fast path handled %zu of %zu inputs\n", n_handled, n_runs);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (n_runs++ == 0 && getenv("FUZZ_STATS")) atexit(print_stats);
    if (size < 1) return 0;
    ml_json_limits lim;
    ml_json_limits_default(&lim);
    lim.max_elements = 1 << 16;
    lim.max_string_bytes = 1 << 16;
    if (data[0] & 4) { /* tight limits, so the limit checks themselves are compared */
        lim.max_elements = 6;
        lim.max_string_bytes = 5;
        lim.max_depth = 3;
    }
    const char *body = (const char *)data + 1;
    size_t len = size - 1;
    char *wrapped = NULL;
    if ((data[0] & 0x18) == 0x18) {
        /* The bytes are the elements of one input's "data" (a list with a
         * shape counting its commas) of a dtype picked by the high bits, so
         * the number, string and literal conversions meet far more inputs
         * than random mutations of whole requests would let through. */
        static const char *const dts[8] = {"FP32",   "FP64", "INT64", "INT8",
                                           "UINT64", "BOOL", "BYTES", "FP16"};
        size_t commas = 0; /* outside strings: one per element after the first */
        bool in_str = false;
        for (size_t i = 0; i < len; i++) {
            if (in_str && body[i] == '\\')
                i++;
            else if (body[i] == '"')
                in_str = !in_str;
            else
                commas += !in_str && body[i] == ',';
        }
        size_t cap = len + 160;
        wrapped = malloc(cap);
        if (!wrapped) return 0;
        int k = snprintf(wrapped, cap,
                         "{\"inputs\":[{\"name\":\"x\",\"datatype\":\"%s\",\"shape\":[%zu],"
                         "\"data\":[",
                         dts[data[0] >> 5], commas + 1);
        memcpy(wrapped + k, body, len);
        memcpy(wrapped + k + len, "]}]}", 4);
        body = wrapped;
        len = (size_t)k + len + 4;
    }
    size_t hl = len;
    if (!wrapped && data[0] & 1) hl = len ? (size_t)data[0] * 7 % (len + 1) : 0;
    if (!wrapped && data[0] & 2) { /* the header ends at the first newline, binary data follows */
        const char *end = memchr(body, '\n', len);
        if (end) hl = (size_t)(end - body);
    }
    ml_kserve_request fast;
    bool handled = false;
    ml_status fst = ml_kserve_decode_fast(body, len, hl, &lim, &fast, &handled);
    if (fst) {
        fprintf(stderr, "fast path returned an error: %s\n", ml_status_message(fst));
        abort();
    }
    if (!handled) {
        if (fast.id || fast.inputs.n || fast.outputs || fast.n_outputs) abort(); /* left state */
        free(wrapped);
        return 0;
    }
    n_handled++;
    ml_kserve_request slow;
    ml_kserve_fast_set_enabled(false);
    ml_status st = ml_kserve_decode(body, len, hl, &lim, &slow);
    ml_kserve_fast_set_enabled(true);
    if (st) {
        fprintf(stderr, "fast path accepted a body jansson rejects: %s\n", ml_status_message(st));
        abort();
    }
    if (!ml_kserve_request_same(&fast, &slow)) {
        fprintf(stderr, "fast path and jansson decode differently\n");
        abort();
    }
    ml_kserve_request_clear(&fast);
    ml_kserve_request_clear(&slow);
    free(wrapped);
    return 0;
}
