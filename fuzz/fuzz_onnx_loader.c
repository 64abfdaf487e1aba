/* libFuzzer target for the ONNX loader: any byte string must either load or
 * fail with a status, never crash, hang or leak.
 *   cmake -S . -B build-fuzz -DMLAMBDA_FUZZ=ON -DCMAKE_C_COMPILER=clang
 *   cmake --build build-fuzz --target fuzz_onnx_loader
 *   ./build-fuzz/fuzz/fuzz_onnx_loader -max_len=65536 corpus/
 * Seed the corpus with small models, e.g. the backend-test model.onnx files. */
#include <stddef.h>
#include <stdint.h>

#include "onnx/session.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    ml_session_options opts;
    ml_session_options_init(&opts);
    opts.n_threads = 1;
    /* keep single inputs cheap: the fuzzer should find bugs, not OOM */
    opts.max_model_bytes = 1 << 20;
    ml_session *s = NULL;
    ml_status st = ml_session_load_bytes(data, size, NULL, &opts, &s);
    if (st) {
        ml_status_free(st);
        return 0;
    }
    (void)ml_session_input_count(s);
    (void)ml_session_output_count(s);
    ml_session_free(s);
    return 0;
}
