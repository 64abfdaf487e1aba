/* The session API (session.h) over the loader and executor. */
#include "onnx/session.h"

#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "onnx/graph.h"

struct ml_session {
    ml_model *model;
    ml_buffer_stash stash;
    ml_threadpool *pool;
    bool owns_pool;
};

void ml_session_options_init(ml_session_options *opts) {
    memset(opts, 0, sizeof *opts);
    opts->optimization_level = 2;
}

static ml_status make_session(ml_model *m, const ml_session_options *opts, ml_session **out) {
    ml_session *s = calloc(1, sizeof *s);
    if (!s) {
        ml_model_free(m);
        return ml_error(ML_ERR_OUT_OF_MEMORY, "session");
    }
    s->model = m;
    ml_stash_init(&s->stash);
    if (opts && opts->pool) {
        s->pool = opts->pool;
    } else {
        ml_status st = ml_threadpool_create(opts ? opts->n_threads : 0, &s->pool);
        if (st) {
            ml_stash_destroy(&s->stash);
            ml_model_free(m);
            free(s);
            return st;
        }
        s->owns_pool = true;
    }
    *out = s;
    return ML_STATUS_OK;
}

static ml_status load(const void *bytes, size_t len, void *owned_bytes, const char *base_dir,
                      const ml_session_options *opts, ml_session **out) {
    *out = NULL;
    ml_session_options defaults;
    if (!opts) {
        ml_session_options_init(&defaults);
        opts = &defaults;
    }
    ml_model *m;
    ML_TRY(ml_model_load(bytes, len, owned_bytes, base_dir, opts, &m));
    return make_session(m, opts, out);
}

ml_status ml_session_load_bytes(const void *bytes, size_t len, const char *base_dir,
                                const ml_session_options *opts, ml_session **out) {
    return load(bytes, len, NULL, base_dir, opts, out);
}

ml_status ml_session_load_file(const char *path, const ml_session_options *opts, ml_session **out) {
    *out = NULL;
    ml_session_options defaults;
    if (!opts) {
        ml_session_options_init(&defaults);
        opts = &defaults;
    }
    uint64_t limit = opts->max_model_bytes ? opts->max_model_bytes : ((uint64_t)2 << 30);
    FILE *f = fopen(path, "rb");
    if (!f) return ml_error(ML_ERR_IO, "cannot open model '%s': %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode)) {
        fclose(f);
        return ml_error(ML_ERR_IO, "model '%s' is not a regular file", path);
    }
    if ((uint64_t)sb.st_size > limit) {
        fclose(f);
        return ml_error(ML_ERR_RESOURCE_EXHAUSTED,
                        "model '%s' is %lld bytes, over the limit of %llu (max_model_bytes)", path,
                        (long long)sb.st_size, (unsigned long long)limit);
    }
    size_t len = (size_t)sb.st_size;
    void *buf = malloc(len ? len : 1);
    if (!buf) {
        fclose(f);
        return ml_error(ML_ERR_OUT_OF_MEMORY, "cannot read model '%s' (%zu bytes)", path, len);
    }
    size_t got = len ? fread(buf, 1, len, f) : 0;
    fclose(f);
    if (got != len) {
        free(buf);
        return ml_error(ML_ERR_IO, "short read on model '%s'", path);
    }
    char *dir_copy = strdup(path);
    if (!dir_copy) {
        free(buf);
        return ml_error(ML_ERR_OUT_OF_MEMORY, "path");
    }
    /* the loader frees buf once parsed */
    ml_status st = load(buf, len, buf, dirname(dir_copy), opts, out);
    free(dir_copy);
    return ml_status_wrap(st, "loading '%s'", path);
}

void ml_session_free(ml_session *s) {
    if (!s) return;
    ml_stash_destroy(&s->stash);
    ml_model_free(s->model);
    if (s->owns_pool) ml_threadpool_destroy(s->pool);
    free(s);
}

size_t ml_session_input_count(const ml_session *s) {
    return s->model->main->n_inputs;
}
size_t ml_session_output_count(const ml_session *s) {
    return s->model->main->n_outputs;
}

const ml_io_info *ml_session_input(const ml_session *s, size_t i) {
    return i < s->model->main->n_inputs ? &s->model->main->input_info[i] : NULL;
}

const ml_io_info *ml_session_output(const ml_session *s, size_t i) {
    return i < s->model->main->n_outputs ? &s->model->main->output_info[i] : NULL;
}

bool ml_session_input_is_optional(const ml_session *s, size_t i) {
    return i < s->model->main->n_inputs && s->model->main->input_optional[i];
}

bool ml_session_output_is_optional(const ml_session *s, size_t i) {
    return i < s->model->main->n_outputs && s->model->main->output_optional[i];
}

static bool graph_uses_op(const ml_graph *g, const char *op_type) {
    for (size_t k = 0; k < g->n_nodes; k++) {
        const ml_node *n = &g->nodes[k].node;
        if (!g->nodes[k].skip && strcmp(n->op_type, op_type) == 0) return true;
    }
    return false;
}

bool ml_session_uses_op(const ml_session *s, const char *op_type) {
    for (size_t i = 0; i < s->model->n_graphs; i++)
        if (graph_uses_op(s->model->graphs[i], op_type)) return true;
    return false;
}

static ml_status check_input(const ml_io_info *io, bool optional, const ml_value *v) {
    if (!v || v->kind == ML_VALUE_NONE) {
        if (optional) return ML_STATUS_OK;
        return ml_error(ML_ERR_INVALID_ARGUMENT, "input '%s' is required", io->name);
    }
    if (v->kind != io->kind)
        return ml_error(ML_ERR_INVALID_ARGUMENT, "input '%s' must be a %s", io->name,
                        io->kind == ML_VALUE_TENSOR     ? "tensor"
                        : io->kind == ML_VALUE_SEQUENCE ? "sequence"
                                                        : "map");
    if (v->kind != ML_VALUE_TENSOR) return ML_STATUS_OK;
    const ml_tensor *t = v->tensor;
    if (io->dtype != ML_UNDEFINED && t->dtype != io->dtype)
        return ml_error(ML_ERR_INVALID_ARGUMENT, "input '%s' must be %s, got %s", io->name,
                        ml_dtype_name(io->dtype), ml_dtype_name(t->dtype));
    /* Shapes are not checked here: declared shapes are often stale in
     * exported models, and every kernel validates the shapes it gets. */
    return ML_STATUS_OK;
}

ml_status ml_session_run(ml_session *s, size_t n_in, const char *const *in_names,
                         ml_value *const *inputs, size_t n_out, const char *const *out_names,
                         ml_value **outputs) {
    return ml_session_run_with(s, NULL, n_in, in_names, inputs, n_out, out_names, outputs);
}

ml_status ml_session_run_with(ml_session *s, const ml_run_options *run_opts, size_t n_in,
                              const char *const *in_names, ml_value *const *inputs, size_t n_out,
                              const char *const *out_names, ml_value **outputs) {
    const ml_graph *g = s->model->main;
    for (size_t i = 0; i < n_out; i++) outputs[i] = NULL;
    ml_value *bound_small[32];
    ml_value **bound = bound_small;
    if (g->n_inputs > 32) {
        bound = calloc(g->n_inputs, sizeof *bound);
        if (!bound) return ml_error(ML_ERR_OUT_OF_MEMORY, "inputs");
    }
    ml_status st = ML_STATUS_OK;
    for (size_t i = 0; i < g->n_inputs; i++) bound[i] = NULL;
    for (size_t i = 0; !st && i < n_in; i++) {
        size_t k = 0;
        while (k < g->n_inputs && strcmp(g->input_info[k].name, in_names[i]) != 0) k++;
        if (k == g->n_inputs) {
            char names[512] = "";
            size_t pos = 0;
            for (size_t j = 0; j < g->n_inputs && pos < sizeof names; j++)
                pos += (size_t)snprintf(names + pos, sizeof names - pos, "%s'%s'", j ? ", " : "",
                                        g->input_info[j].name);
            st = ml_error(ML_ERR_INVALID_ARGUMENT, "the model has no input named '%s' (inputs: %s)",
                          in_names[i], names);
        } else if (bound[k]) {
            st = ml_error(ML_ERR_INVALID_ARGUMENT, "input '%s' is given twice", in_names[i]);
        } else {
            bound[k] = inputs[i];
        }
    }
    for (size_t k = 0; !st && k < g->n_inputs; k++)
        st = check_input(&g->input_info[k], g->input_optional[k], bound[k]);

    /* which graph outputs, in which order */
    size_t n_all = g->n_outputs;
    ml_value **all = NULL;
    size_t *pick = NULL;
    if (!st) {
        all = calloc(n_all ? n_all : 1, sizeof *all);
        pick = calloc(n_out ? n_out : 1, sizeof *pick);
        if (!all || !pick) st = ml_error(ML_ERR_OUT_OF_MEMORY, "outputs");
    }
    for (size_t i = 0; !st && i < n_out; i++) {
        if (!out_names) {
            if (n_out != n_all)
                st = ml_error(ML_ERR_INVALID_ARGUMENT,
                              "%zu outputs requested without names; the model has %zu", n_out,
                              n_all);
            pick[i] = i;
            continue;
        }
        size_t k = 0;
        while (k < n_all && strcmp(g->output_info[k].name, out_names[i]) != 0) k++;
        if (k == n_all)
            st = ml_error(ML_ERR_INVALID_ARGUMENT, "the model has no output named '%s'",
                          out_names[i]);
        pick[i] = k;
    }
    ml_threadpool *pool = run_opts && run_opts->serial ? NULL : s->pool;
    if (!st) st = ml_exec_graph(g, &s->stash, pool, run_opts, g->n_inputs, bound, n_all, all);
    for (size_t i = 0; !st && i < n_out; i++) {
        ml_value *v = all[pick[i]];
        bool again = false;
        for (size_t j = i + 1; j < n_out; j++)
            if (pick[j] == pick[i]) again = true;
        if (again) {
            st = ml_value_clone(v, &outputs[i]);
        } else {
            outputs[i] = v;
            all[pick[i]] = NULL;
        }
        /* never hand out storage shared with the caller's inputs or the model */
        if (!st) st = ml_value_make_owned(outputs[i]);
    }
    if (all)
        for (size_t k = 0; k < n_all; k++) ml_value_free(all[k]);
    free(all);
    free(pick);
    if (bound != bound_small) free(bound);
    if (st) {
        for (size_t i = 0; i < n_out; i++) {
            ml_value_free(outputs[i]);
            outputs[i] = NULL;
        }
    }
    return st;
}
