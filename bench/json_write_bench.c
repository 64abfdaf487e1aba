/* KServe V2 response encoding: the direct writer (src/api/json_writer.h)
 * against the jansson tree + json_dumps it replaced, on float32 outputs of
 * 16, 1000 and 150528 elements. Prints median µs per encode and the ratio.
 *   bench/json_write_bench [REPS] */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/codec.h"
#include "core/clock.h"

static char *jansson_encode(const ml_tensor_list *outs) {
    json_t *arr = json_array();
    json_t *resp =
        json_pack("{s:s, s:s, s:o}", "model_name", "m", "model_version", "1", "outputs", arr);
    for (size_t i = 0; i < outs->n; i++) {
        const ml_tensor *t = outs->tensors[i];
        json_t *shape = json_array();
        for (int k = 0; k < t->rank; k++) json_array_append_new(shape, json_integer(t->dims[k]));
        json_array_append_new(arr,
                              json_pack("{s:s, s:s, s:o, s:o}", "name", outs->names[i], "datatype",
                                        "FP32", "shape", shape, "data", ml_tensor_to_flat_json(t)));
    }
    char *s = json_dumps(resp, ml_json_dump_flags(outs));
    json_decref(resp);
    return s;
}

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
    int reps = argc > 1 ? atoi(argv[1]) : 31;
    if (reps < 1 || reps > 1000) reps = 31;
    const int64_t sizes[] = {16, 1000, 150528};
    printf("| float32 elements | jansson tree + json_dumps | direct writer | speed-up "
           "|\n|---|---|---|---|\n");
    for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
        ml_tensor *t;
        if (ml_tensor_create(ML_FLOAT, 1, &sizes[s], &t)) return 1;
        uint32_t x = 12345;
        for (int64_t i = 0; i < sizes[s]; i++) {
            x = x * 1664525u + 1013904223u;
            ML_TENSOR_DATA(t, float)[i] = (float)(x >> 8) / 16777216.0f - 0.25f;
        }
        ml_tensor_list outs = {0};
        if (ml_tensor_list_add(&outs, "y", t)) return 1;
        int inner = sizes[s] < 1000 ? 2000 : sizes[s] < 100000 ? 50 : 1;
        double tj[1000], tw[1000];
        for (int r = 0; r < reps; r++) {
            uint64_t t0 = ml_now_ns();
            for (int k = 0; k < inner; k++) free(jansson_encode(&outs));
            uint64_t t1 = ml_now_ns();
            for (int k = 0; k < inner; k++) {
                char *body;
                size_t len, hl;
                if (ml_kserve_encode("m", 1, NULL, &outs, &body, &len, &hl)) return 1;
                free(body);
            }
            uint64_t t2 = ml_now_ns();
            tj[r] = (double)(t1 - t0) / 1e3 / inner;
            tw[r] = (double)(t2 - t1) / 1e3 / inner;
        }
        qsort(tj, (size_t)reps, sizeof *tj, cmp);
        qsort(tw, (size_t)reps, sizeof *tw, cmp);
        printf("| %lld | %.1f µs | %.1f µs | %.1f× |\n", (long long)sizes[s], tj[reps / 2],
               tw[reps / 2], tj[reps / 2] / tw[reps / 2]);
        ml_tensor_list_clear(&outs);
    }
    return 0;
}
