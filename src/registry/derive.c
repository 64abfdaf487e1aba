/* Contract derivation from an ONNX graph (used when serving.yaml has none). */
#include <stdlib.h>
#include <string.h>

#include "onnx/session.h"
#include "registry/registry.h"

/* Inputs must be tensors (no API can send a sequence or map); outputs that
 * are sequences or maps are answered as tensors by src/serving/output_convert.c
 * and their fields describe that tensor. */
static ml_status fill(const ml_io_info *io, bool is_input, ml_field *f) {
    if (io->kind != ML_VALUE_TENSOR && is_input)
        return ml_error(ML_ERR_UNSUPPORTED,
                        "graph input '%s' is a %s, which no inference API can send; give the "
                        "model tensor inputs (e.g. export without DictVectorizer/CastMap)",
                        io->name, io->kind == ML_VALUE_MAP ? "map" : "sequence");
    f->name = strdup(io->name);
    f->dtype = io->dtype;
    f->rank = io->rank;
    for (int i = 0; i < io->rank && i < ML_MAX_RANK; i++)
        f->dims[i] = io->dims[i] < 0 ? -1 : io->dims[i];
    if (io->kind == ML_VALUE_MAP) { /* one map -> [K] values */
        f->rank = 1;
        f->dims[0] = -1;
    } else if (io->kind == ML_VALUE_SEQUENCE && io->elem_kind == ML_VALUE_MAP) {
        /* N maps -> [N, K]: values in key order (or [N] JSON texts when the
         * maps' keys differ, which ZipMap never produces) */
        f->rank = 2;
        f->dims[0] = f->dims[1] = -1;
    } else if (io->kind == ML_VALUE_SEQUENCE) { /* N stacked tensors */
        f->rank = -1;
    }
    if (io->kind != ML_VALUE_TENSOR && f->dtype == ML_UNDEFINED) f->dtype = ML_FLOAT;
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
        st = fill(ml_session_input(s, i), true, &c->inputs[i]);
        c->n_inputs++;
    }
    for (size_t i = 0; !st && i < no; i++) {
        st = fill(ml_session_output(s, i), false, &c->outputs[i]);
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
