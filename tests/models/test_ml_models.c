/* End-to-end checks of sklearn-derived ai.onnx.ml models through the ONNX
 * engine. The tensor-only models are backend-test cases run by
 * onnx_conformance (see CMakeLists.txt); this binary covers the ZipMap model,
 * whose output is a sequence of maps, against sklearn's predict and
 * predict_proba (tests/models/zipmap/expected.txt, from
 * tools/make_ml_models.py). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "onnx/session.h"
#include "test.h"

#ifndef ML_MODELS_DIR
#error "ML_MODELS_DIR must name tests/models"
#endif

#define MAX_ROWS 64

static void test_zipmap_logreg(void) {
    float x[MAX_ROWS][4], p[MAX_ROWS][3];
    int64_t label[MAX_ROWS];
    size_t n = 0;
    FILE *f = fopen(ML_MODELS_DIR "/zipmap/expected.txt", "r");
    CHECK(f != NULL);
    if (!f) return;
    char line[512];
    while (fgets(line, sizeof line, f) && n < MAX_ROWS) {
        if (line[0] == '#') continue;
        long long l;
        if (sscanf(line, "%f %f %f %f %lld %f %f %f", &x[n][0], &x[n][1], &x[n][2], &x[n][3], &l,
                   &p[n][0], &p[n][1], &p[n][2]) == 8) {
            label[n] = l;
            n++;
        }
    }
    fclose(f);
    CHECK(n > 0);

    ml_session_options opts;
    ml_session_options_init(&opts);
    opts.n_threads = 1;
    ml_session *s = NULL;
    CHECK_OK(ml_session_load_file(ML_MODELS_DIR "/zipmap/model.onnx", &opts, &s));
    if (!s) return;
    CHECK_EQ_INT(ml_session_output_count(s), 2);
    CHECK(ml_session_output(s, 1)->kind == ML_VALUE_SEQUENCE);

    int64_t dims[2] = {(int64_t)n, 4};
    ml_tensor *t;
    CHECK_OK(ml_tensor_create(ML_FLOAT, 2, dims, &t));
    memcpy(t->data, x, n * 4 * sizeof(float));
    ml_value *in;
    CHECK_OK(ml_value_from_tensor(t, &in));
    const char *names[1] = {"X"};
    ml_value *out[2] = {0};
    CHECK_OK(ml_session_run(s, 1, names, &in, 2, NULL, out));
    if (out[0] && out[1]) {
        const ml_tensor *lab = out[0]->tensor;
        CHECK(lab && lab->dtype == ML_INT64 && (size_t)lab->dims[0] == n);
        CHECK(out[1]->kind == ML_VALUE_SEQUENCE && out[1]->n_items == n);
        for (size_t i = 0; lab && i < n && i < out[1]->n_items; i++) {
            CHECK_EQ_INT(((int64_t *)lab->data)[i], label[i]);
            const ml_value *m = out[1]->items[i];
            CHECK(m->kind == ML_VALUE_MAP && m->keys->dtype == ML_INT64 &&
                  ml_tensor_numel(m->keys) == 3 && m->values->dtype == ML_FLOAT);
            if (m->kind != ML_VALUE_MAP || ml_tensor_numel(m->values) != 3) continue;
            for (int k = 0; k < 3; k++) {
                CHECK_EQ_INT(((int64_t *)m->keys->data)[k], k);
                CHECK_NEAR(((float *)m->values->data)[k], p[i][k], 1e-5);
            }
        }
    }
    ml_value_free(out[0]);
    ml_value_free(out[1]);
    ml_value_free(in);
    ml_session_free(s);
}

int main(void) {
    RUN(test_zipmap_logreg);
    return TEST_SUMMARY();
}
