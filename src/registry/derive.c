/* Contract derivation from an ONNX graph (used when serving.yaml has none). */
#include <stdlib.h>
#include <string.h>

#include "onnx/session.h"
#include "registry/registry.h"

static ml_status fill(const ml_io_info *io, ml_field *f) {
    if (io->kind != ML_VALUE_TENSOR)
        return ml_error(ML_ERR_UNSUPPORTED,
                        "graph value '%s' is a sequence or map; declare a contract in serving.yaml",
                        io->name);
    f->name = strdup(io->name);
    f->dtype = io->dtype;
    f->rank = io->rank;
    for (int i = 0; i < io->rank && i < ML_MAX_RANK; i++)
        f->dims[i] = io->dims[i] < 0 ? -1 : io->dims[i];
    return f->name ? NULL : ml_error(ML_ERR_OUT_OF_MEMORY, "out of memory");
}

ml_status ml_contract_from_onnx(const char *onnx_path, ml_contract **out) {
    *out = NULL;
    ml_session_options opts;
    ml_session_options_init(&opts);
    opts.n_threads = 1;
    opts.optimization_level = 0;
    ml_session *s = NULL;
    ML_TRY(ml_session_load_file(onnx_path, &opts, &s));
    ml_contract *c = calloc(1, sizeof *c);
    size_t ni = ml_session_input_count(s), no = ml_session_output_count(s);
    ml_status st = NULL;
    if (c) {
        c->signature = strdup("predict");
        c->inputs = calloc(ni + 1, sizeof *c->inputs);
        c->outputs = calloc(no + 1, sizeof *c->outputs);
    }
    if (!c || !c->inputs || !c->outputs || !c->signature)
        st = ml_error(ML_ERR_OUT_OF_MEMORY, "out of memory");
    for (size_t i = 0; !st && i < ni; i++) {
        st = fill(ml_session_input(s, i), &c->inputs[i]);
        c->n_inputs++;
    }
    for (size_t i = 0; !st && i < no; i++) {
        st = fill(ml_session_output(s, i), &c->outputs[i]);
        c->n_outputs++;
    }
    ml_session_free(s);
    if (st) {
        ml_contract_free(c);
        return st;
    }
    *out = c;
    return NULL;
}
