/* The exported seq2seq chat model, run by mlambda's engine, must give the
 * same reply tokens PyTorch gave for the prompts recorded by
 * examples/seq2seq/train.py in reference.json. Also checks the pre/post
 * pipeline stages (string ops from opset 20). */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "onnx/session.h"
#include "test.h"

#ifndef SEQ2SEQ_DIR
#error "SEQ2SEQ_DIR must point at examples/seq2seq"
#endif

static ml_session *load(const char *rel) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", SEQ2SEQ_DIR, rel);
    ml_session_options opts;
    ml_session_options_init(&opts);
    opts.n_threads = 2;
    ml_session *s = NULL;
    ml_status st = ml_session_load_file(path, &opts, &s);
    if (st) {
        fprintf(stderr, "    cannot load %s: %s\n", path, ml_status_message(st));
        ml_status_free(st);
    }
    return s;
}

/* Runs a one-input/one-output string model on tokens; returns the output. */
static ml_value *run_strings(ml_session *s, const char *in_name, const char *const *tokens,
                             size_t n) {
    int64_t dims[1] = {(int64_t)n};
    ml_tensor *t;
    ml_status st = ml_tensor_create(ML_STRING, 1, dims, &t);
    for (size_t i = 0; !st && i < n; i++)
        st = ml_tensor_set_string(t, i, tokens[i], strlen(tokens[i]));
    ml_value *in = NULL, *out = NULL;
    if (!st) st = ml_value_from_tensor(t, &in);
    const char *names[] = {in_name};
    if (!st) st = ml_session_run(s, 1, names, &in, 1, NULL, &out);
    if (st) {
        fprintf(stderr, "    run failed: %s\n", ml_status_message(st));
        ml_status_free(st);
    }
    ml_value_free(in);
    return out;
}

static int same_tokens(const ml_value *v, json_t *expect) {
    if (!v || v->kind != ML_VALUE_TENSOR || v->tensor->dtype != ML_STRING) return 0;
    size_t n = ml_tensor_numel(v->tensor);
    if (n != json_array_size(expect)) return 0;
    const ml_str *s = v->tensor->data;
    for (size_t i = 0; i < n; i++)
        if (strcmp(s[i].data, json_string_value(json_array_get(expect, i))) != 0) return 0;
    return 1;
}

static void test_matches_pytorch(void) {
    char path[1024];
    snprintf(path, sizeof path, "%s/reference.json", SEQ2SEQ_DIR);
    json_error_t err;
    json_t *ref = json_load_file(path, 0, &err);
    CHECK(ref != NULL);
    ml_session *s = load("model/model.onnx");
    CHECK(s != NULL);
    if (!ref || !s) goto done;
    CHECK_EQ_INT(ml_session_input_count(s), 1);
    CHECK_STR(ml_session_input(s, 0)->name, "input");
    CHECK(ml_session_input(s, 0)->dtype == ML_STRING);
    json_t *cases = json_object_get(ref, "cases");
    CHECK(json_array_size(cases) >= 10);
    size_t idx;
    json_t *c;
    json_array_foreach(cases, idx, c) {
        json_t *toks = json_object_get(c, "tokens");
        const char *tokens[64];
        size_t n = json_array_size(toks);
        if (n > 64) n = 64;
        for (size_t i = 0; i < n; i++) tokens[i] = json_string_value(json_array_get(toks, i));
        ml_value *out = run_strings(s, "input", tokens, n);
        int ok = same_tokens(out, json_object_get(c, "reply"));
        if (!ok)
            fprintf(stderr, "    prompt '%s': reply differs from PyTorch's\n",
                    json_string_value(json_object_get(c, "prompt")));
        CHECK(ok);
        ml_value_free(out);
    }
done:
    ml_session_free(s);
    json_decref(ref);
}

static void test_pre_and_post_stages(void) {
    ml_session *pre = load("pre/model.onnx"), *post = load("post/model.onnx");
    CHECK(pre && post);
    if (pre && post) {
        const char *sentence[] = {"Hello, How are  you?! "};
        ml_value *toks = run_strings(pre, "text", sentence, 1);
        CHECK(toks && toks->kind == ML_VALUE_TENSOR);
        if (toks) {
            json_t *want = json_pack("[ssss]", "hello", "how", "are", "you");
            CHECK(same_tokens(toks, want));
            json_decref(want);
        }
        ml_value_free(toks);
        const char *reply[] = {"<s>", "i", "am", "<unk>", "fine", "<\\s>"};
        ml_value *clean = run_strings(post, "output", reply, 6);
        json_t *want = json_pack("[sss]", "i", "am", "fine");
        CHECK(same_tokens(clean, want));
        json_decref(want);
        ml_value_free(clean);
    }
    ml_session_free(pre);
    ml_session_free(post);
}

int main(void) {
    RUN(test_matches_pytorch);
    RUN(test_pre_and_post_stages);
    return TEST_SUMMARY();
}
