/* Loader robustness smoke test (the libFuzzer target's poor cousin, run in
 * every build): feeds truncated, bit-flipped and garbage variants of a few
 * models to ml_session_load_bytes. Every variant must either load (and then
 * answer metadata queries) or fail with a status; garbage must fail. Run it
 * under -DMLAMBDA_SANITIZE=ON to catch memory errors. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model_builder.h"
#include "onnx/session.h"
#include "test.h"

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void) { /* xorshift64*: deterministic across runs */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 2685821657736338717ull;
}

static int loaded, rejected;

/* Loads one variant; returns true when it loaded. */
static bool try_load(const uint8_t *bytes, size_t len) {
    ml_session_options o;
    ml_session_options_init(&o);
    o.n_threads = 1;
    o.max_model_bytes = 1 << 20;
    ml_session *s = NULL;
    ml_status st = ml_session_load_bytes(bytes, len, NULL, &o, &s);
    if (st) {
        CHECK(s == NULL);
        CHECK(ml_status_message(st)[0] != '\0');
        ml_status_free(st);
        rejected++;
        return false;
    }
    for (size_t i = 0; i < ml_session_input_count(s); i++)
        CHECK(ml_session_input(s, i)->name != NULL);
    for (size_t i = 0; i < ml_session_output_count(s); i++)
        CHECK(ml_session_output(s, i)->name != NULL);
    ml_session_free(s);
    loaded++;
    return true;
}

static uint8_t *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = n > 0 ? malloc((size_t)n) : NULL;
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    *len = buf ? (size_t)n : 0;
    return buf;
}

static void mutate_model(const uint8_t *orig, size_t len, int variants) {
    CHECK(try_load(orig, len));
    uint8_t *buf = malloc(len);
    for (int v = 0; v < variants; v++) {
        memcpy(buf, orig, len);
        size_t n = len;
        switch (v % 3) {
        case 0:
            n = (size_t)(rnd() % len);
            break; /* truncation */
        case 1:    /* a few bit flips */
            for (int k = 0; k < 1 + (int)(rnd() % 4); k++)
                buf[rnd() % len] ^= (uint8_t)(1u << (rnd() % 8));
            break;
        case 2: /* a run of random bytes */
            for (size_t k = rnd() % len, e = k + 1 + rnd() % 16; k < e && k < len; k++)
                buf[k] = (uint8_t)rnd();
            break;
        }
        try_load(buf, n);
    }
    free(buf);
}

static void test_in_memory_model(void) {
    size_t len;
    uint8_t *bytes = mb_add_model(&len);
    mutate_model(bytes, len, 80);
    free(bytes);
}

static void test_suite_models(void) {
    static const char *const models[] = {
        "/usr/share/libonnx-testdata/data/node/test_if/model.onnx",
        "/usr/share/libonnx-testdata/data/node/test_loop11/model.onnx",
        "/usr/share/libonnx-testdata/data/node/test_scan9_sum/model.onnx",
        "/usr/share/libonnx-testdata/data/node/test_sequence_map_add_2_sequences/model.onnx",
        "/usr/share/libonnx-testdata/data/simple/test_sequence_model1/model.onnx",
    };
    for (size_t i = 0; i < sizeof models / sizeof models[0]; i++) {
        size_t len;
        uint8_t *bytes = read_file(models[i], &len);
        if (!bytes) continue; /* the test-data package is optional */
        mutate_model(bytes, len, 40);
        free(bytes);
    }
}

static void test_garbage(void) {
    uint8_t buf[512];
    int before = rejected;
    for (int v = 0; v < 40; v++) {
        size_t n = 1 + rnd() % sizeof buf;
        for (size_t k = 0; k < n; k++) buf[k] = (uint8_t)rnd();
        CHECK(!try_load(buf, n));
    }
    CHECK_EQ_INT(rejected - before, 40);
}

int main(void) {
    RUN(test_in_memory_model);
    RUN(test_suite_models);
    RUN(test_garbage);
    printf("fuzz_smoke: %d variants loaded, %d rejected\n", loaded, rejected);
    CHECK(rejected > 0);
    return TEST_SUMMARY();
}
