/* Decode time of KServe V2 JSON inference requests: the jansson decoder
 * alone vs the fast path (src/api/codec_fast.c), on the same bodies in the
 * same run. Bodies: one MLP row (784 floats, ~10 KB), an image
 * (1x3x224x224 = 150528 floats, ~1.6 MB), and a BYTES batch (256 strings).
 * Prints the median microseconds per decode of each and the ratio; checks
 * both decoders give the same request first.
 *
 *   json_decode_bench [--reps N]   (N decodes per body and path; default 200) */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/codec.h"
#include "api/codec_fast.h"
#include "core/clock.h"

typedef struct buf {
    char *p;
    size_t n, cap;
} buf;

static void put(buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(buf *b, const char *fmt, ...) {
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int k = vsnprintf(b->p + b->n, b->cap - b->n, fmt, ap);
        va_end(ap);
        if (k >= 0 && (size_t)k < b->cap - b->n) {
            b->n += (size_t)k;
            return;
        }
        b->cap = b->cap * 2 + (size_t)k + 64;
        b->p = realloc(b->p, b->cap);
        if (!b->p) abort();
    }
}

static uint32_t lcg = 42;
static double rnd(void) {
    lcg = lcg * 1664525u + 1013904223u;
    return (double)(lcg >> 8) / (1 << 24);
}

/* Float tensor the way Python clients print it (repr of a float32 as a
 * double: up to 17 significant digits). */
static char *float_body(const char *shape, size_t n) {
    buf b = {0};
    put(&b,
        "{\"id\":\"bench\",\"inputs\":[{\"name\":\"x\",\"shape\":%s,\"datatype\":\"FP32\","
        "\"data\":[",
        shape);
    for (size_t i = 0; i < n; i++) put(&b, "%s%.17g", i ? "," : "", (double)(float)rnd());
    put(&b, "]}]}");
    return b.p;
}

static char *bytes_body(size_t n) {
    buf b = {0};
    put(&b, "{\"inputs\":[{\"name\":\"text\",\"shape\":[%zu],\"datatype\":\"BYTES\",\"data\":[", n);
    for (size_t i = 0; i < n; i++)
        put(&b, "%s\"review %zu: the film was %s and the acting %s, rating %d of 10\"",
            i ? "," : "", i, rnd() < 0.5 ? "great" : "dull", rnd() < 0.5 ? "superb" : "wooden",
            (int)(rnd() * 10));
    put(&b, "]}]}");
    return b.p;
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static double median_us(const char *body, size_t len, const ml_json_limits *lim, bool fast,
                        int reps) {
    uint64_t *t = malloc((size_t)reps * sizeof *t);
    ml_kserve_fast_set_enabled(fast);
    for (int r = 0; r < reps; r++) {
        ml_kserve_request req;
        uint64_t t0 = ml_now_ns();
        ml_status st = ml_kserve_decode(body, len, len, lim, &req);
        t[r] = ml_now_ns() - t0;
        if (st) {
            fprintf(stderr, "decode failed: %s\n", ml_status_message(st));
            exit(1);
        }
        ml_kserve_request_clear(&req);
    }
    ml_kserve_fast_set_enabled(true);
    qsort(t, (size_t)reps, sizeof *t, cmp_u64);
    double m = (double)t[reps / 2] / 1000.0;
    free(t);
    return m;
}

int main(int argc, char **argv) {
    int reps = 200;
    for (int i = 1; i + 1 < argc; i++)
        if (!strcmp(argv[i], "--reps")) reps = atoi(argv[++i]);
    if (reps < 1) reps = 1;
    ml_json_limits lim;
    ml_json_limits_default(&lim);
    struct {
        const char *what;
        char *body;
        int reps;
    } cases[] = {
        {"MLP row, 784 x FP32", float_body("[1,784]", 784), reps},
        {"image, 1x3x224x224 FP32", float_body("[1,3,224,224]", 3 * 224 * 224), reps / 10 + 1},
        {"BYTES, 256 strings", bytes_body(256), reps},
    };
    printf("%-26s %10s %12s %12s %8s\n", "body", "bytes", "jansson us", "fast us", "ratio");
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *b = cases[i].body;
        size_t len = strlen(b);
        /* both decoders must agree before any timing is worth printing */
        ml_kserve_request a, s;
        bool handled = false;
        ml_status_free(ml_kserve_decode_fast(b, len, len, &lim, &a, &handled));
        ml_kserve_fast_set_enabled(false);
        ml_status st = ml_kserve_decode(b, len, len, &lim, &s);
        ml_kserve_fast_set_enabled(true);
        if (!handled || st || !ml_kserve_request_same(&a, &s)) {
            fprintf(stderr, "%s: the fast path %s\n", cases[i].what,
                    handled ? "disagrees with jansson" : "declined the body");
            return 1;
        }
        ml_kserve_request_clear(&a);
        ml_kserve_request_clear(&s);
        double slow = median_us(b, len, &lim, false, cases[i].reps);
        double fast = median_us(b, len, &lim, true, cases[i].reps);
        printf("%-26s %10zu %12.1f %12.1f %7.1fx\n", cases[i].what, len, slow, fast, slow / fast);
        free(cases[i].body);
    }
    return 0;
}
