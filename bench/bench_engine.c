/* Times mlambda's engine on one model:
 *   bench_engine --model M.onnx --spec JSON --batch B --iters N --threads T [--out FILE]
 * JSON is a manifest entry's "inputs" array (bench/make_models.py); inputs are
 * filled from the same LCG bench/run.mjs uses for onnxruntime, so the outputs
 * can be compared. Prints one JSON line {"median_us","min_us","max_us"} and
 * writes the first output's raw elements (or a JSON list of strings) to FILE. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "onnx/session.h"

static uint32_t lcg_next(uint32_t *s) {
    return *s = *s * 1664525u + 1013904223u;
}

static ml_status make_input(const json_t *spec, size_t idx, int64_t batch, ml_tensor **out) {
    const char *dtype = json_string_value(json_object_get(spec, "dtype"));
    json_t *shape = json_object_get(spec, "shape");
    int64_t dims[ML_MAX_RANK];
    int rank = (int)json_array_size(shape);
    for (int i = 0; i < rank && i < ML_MAX_RANK; i++) {
        json_t *d = json_array_get(shape, (size_t)i);
        dims[i] = json_is_string(d) ? batch : json_integer_value(d);
    }
    ml_dtype dt = ml_dtype_parse(dtype);
    ML_TRY(ml_tensor_create(dt, rank, dims, out));
    size_t n = ml_tensor_numel(*out);
    uint32_t state = 12345u + (uint32_t)idx;
    json_t *values = json_object_get(spec, "values");
    int64_t max = json_integer_value(json_object_get(spec, "max"));
    for (size_t i = 0; i < n; i++) {
        if (dt == ML_STRING) {
            const char *s = json_string_value(json_array_get(values, i % json_array_size(values)));
            ML_TRY(ml_tensor_set_string(*out, i, s, strlen(s)));
        } else if (dt == ML_INT64) {
            ((int64_t *)(*out)->data)[i] =
                (int64_t)((double)lcg_next(&state) / 4294967296.0 * (double)max);
        } else {
            ((float *)(*out)->data)[i] =
                (float)((double)lcg_next(&state) / 4294967296.0 * 2.0 - 1.0);
        }
    }
    return ML_STATUS_OK;
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void write_output(const char *path, const ml_value *v) {
    FILE *f = fopen(path, "wb");
    if (!f || !v || v->kind != ML_VALUE_TENSOR) {
        if (f) fclose(f);
        return;
    }
    const ml_tensor *t = v->tensor;
    if (t->dtype == ML_STRING) {
        json_t *arr = json_array();
        const ml_str *s = t->data;
        for (size_t i = 0; i < ml_tensor_numel(t); i++)
            json_array_append_new(arr, json_stringn(s[i].data, s[i].len));
        char *txt = json_dumps(arr, JSON_COMPACT);
        fputs(txt, f);
        free(txt);
        json_decref(arr);
    } else {
        fwrite(t->data, 1, ml_tensor_nbytes(t), f);
    }
    fclose(f);
}

int main(int argc, char **argv) {
    const char *model = NULL, *spec_text = NULL, *out_path = NULL;
    int64_t batch = 1;
    int iters = 50, threads = 2;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--model"))
            model = argv[i + 1];
        else if (!strcmp(argv[i], "--spec"))
            spec_text = argv[i + 1];
        else if (!strcmp(argv[i], "--batch"))
            batch = atoll(argv[i + 1]);
        else if (!strcmp(argv[i], "--iters"))
            iters = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--threads"))
            threads = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--out"))
            out_path = argv[i + 1];
    }
    if (!model || !spec_text || iters < 1) {
        fprintf(stderr, "usage: bench_engine --model M --spec JSON [--batch B] [--iters N] "
                        "[--threads T] [--out F]\n");
        return 2;
    }
    json_error_t jerr;
    json_t *spec = json_loads(spec_text, 0, &jerr);
    if (!json_is_array(spec)) {
        fprintf(stderr, "bad --spec: %s\n", jerr.text);
        return 2;
    }
    ml_session_options opts;
    ml_session_options_init(&opts);
    opts.n_threads = (size_t)threads;
    ml_session *s;
    ml_status st = ml_session_load_file(model, &opts, &s);
    if (st) {
        fprintf(stderr, "load %s: %s\n", model, ml_status_message(st));
        return 1;
    }
    size_t n_in = json_array_size(spec);
    ml_value *inputs[8] = {0};
    const char *names[8];
    for (size_t i = 0; i < n_in && i < 8; i++) {
        ml_tensor *t;
        st = make_input(json_array_get(spec, i), i, batch, &t);
        if (!st) st = ml_value_from_tensor(t, &inputs[i]);
        if (st) {
            fprintf(stderr, "input %zu: %s\n", i, ml_status_message(st));
            return 1;
        }
        names[i] = json_string_value(json_object_get(json_array_get(spec, i), "name"));
    }
    size_t n_out = ml_session_output_count(s);
    ml_value **outs = calloc(n_out, sizeof *outs);
    uint64_t *times = calloc((size_t)iters, sizeof *times);
    int warmup = iters / 5 + 2;
    for (int it = -warmup; it < iters; it++) {
        uint64_t t0 = ml_now_ns();
        st = ml_session_run(s, n_in, names, inputs, n_out, NULL, outs);
        uint64_t t1 = ml_now_ns();
        if (st) {
            fprintf(stderr, "run: %s\n", ml_status_message(st));
            return 1;
        }
        if (it >= 0) times[it] = t1 - t0;
        if (it == iters - 1 && out_path) write_output(out_path, outs[0]);
        for (size_t o = 0; o < n_out; o++) ml_value_free(outs[o]);
    }
    qsort(times, (size_t)iters, sizeof *times, cmp_u64);
    printf("{\"median_us\": %.1f, \"min_us\": %.1f, \"max_us\": %.1f}\n", times[iters / 2] / 1e3,
           times[0] / 1e3, times[iters - 1] / 1e3);
    for (size_t i = 0; i < n_in; i++) ml_value_free(inputs[i]);
    free(outs);
    free(times);
    json_decref(spec);
    ml_session_free(s);
    return 0;
}
