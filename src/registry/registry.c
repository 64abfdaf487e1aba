#include "registry/registry.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/log.h"
#include "registry/yaml_json.h"

#define MAX_SPEC_BYTES (1u << 20)

ml_status ml_registry_open(const char *data_dir, const char *db, ml_registry **out) {
    *out = NULL;
    ml_status mk = ml_mkdirs(data_dir);
    if (mk) return ml_status_wrap(mk, "preparing the data dir (set --data-dir or MLAMBDA_HOME)");
    ml_registry *r = calloc(1, sizeof *r);
    if (!r) return ml_error(ML_ERR_OUT_OF_MEMORY, "out of memory");
    r->limits.max_total_bytes = 4ull << 30;
    r->limits.max_entries = 10000;
    char path[4096];
    snprintf(path, sizeof path, "%s/registry.db", data_dir);
    ml_status st = ml_store_open(db && *db ? db : path, &r->store);
    if (!st) st = ml_artifacts_open(data_dir, &r->artifacts);
    if (!st) {
        /* Files of uploads interrupted between publish and insert. */
        char **keep = NULL;
        size_t n = 0, removed = 0;
        ml_artifacts_lock(r->artifacts);
        st = ml_store_list_digests(r->store, &keep, &n);
        if (!st) st = ml_artifacts_gc(r->artifacts, keep, n, &removed);
        ml_artifacts_unlock(r->artifacts);
        for (size_t i = 0; i < n; i++) free(keep[i]);
        free(keep);
        if (removed) ML_LOG_I("registry: removed %zu unreferenced artifact(s)", removed);
    }
    if (st) {
        ml_registry_close(r);
        return st;
    }
    *out = r;
    return NULL;
}

void ml_registry_close(ml_registry *r) {
    if (!r) return;
    ml_store_close(r->store);
    ml_artifacts_close(r->artifacts);
    free(r);
}

/* A folder packed as "name/..." extracts to one subfolder: use it as root. */
static void find_root(const char *staged, char *root, size_t cap, char *prefix, size_t pcap) {
    snprintf(root, cap, "%s", staged);
    prefix[0] = '\0';
    DIR *d = opendir(staged);
    if (!d) return;
    struct dirent *e;
    int n = 0;
    char only[256] = "";
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        n++;
        snprintf(only, sizeof only, "%s", e->d_name);
    }
    closedir(d);
    if (n != 1) return;
    char p[4096];
    snprintf(p, sizeof p, "%s/%s", staged, only);
    struct stat sb;
    if (lstat(p, &sb) == 0 && S_ISDIR(sb.st_mode)) {
        snprintf(root, cap, "%s", p);
        snprintf(prefix, pcap, "%s/", only);
    }
}

static ml_status read_small_file(const char *path, char **out, size_t *len) {
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return ml_error(ML_ERR_NOT_FOUND, "no %s", path);
    char *buf = malloc(MAX_SPEC_BYTES + 1);
    size_t n = buf ? fread(buf, 1, MAX_SPEC_BYTES + 1, f) : 0;
    fclose(f);
    if (!buf) return ml_error(ML_ERR_OUT_OF_MEMORY, "out of memory");
    if (n > MAX_SPEC_BYTES) {
        free(buf);
        return ml_error(ML_ERR_RESOURCE_EXHAUSTED, "serving.yaml is larger than %u bytes",
                        MAX_SPEC_BYTES);
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return NULL;
}

static ml_status load_spec(const char *root, ml_model_spec **spec) {
    *spec = NULL;
    static const char *const names[] = {"serving.yaml", "serving.yml"};
    for (size_t i = 0; i < 2; i++) {
        char p[4200];
        snprintf(p, sizeof p, "%s/%s", root, names[i]);
        char *text = NULL;
        size_t len = 0;
        ml_status st = read_small_file(p, &text, &len);
        if (ml_status_code(st) == ML_ERR_NOT_FOUND) {
            ml_status_free(st);
            continue;
        }
        ML_TRY(st);
        json_t *j = NULL;
        st = ml_yaml_to_json(text, len, &j);
        free(text);
        if (!st) st = ml_model_spec_parse(j, spec);
        json_decref(j);
        return st ? ml_status_wrap(st, "%s", names[i]) : NULL;
    }
    return NULL;
}

static ml_status find_onnx(const char *root, char *name, size_t cap) {
    DIR *d = opendir(root);
    if (!d) return ml_error(ML_ERR_IO, "cannot read the extracted folder");
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t l = strlen(e->d_name);
        if (l > 5 && strcmp(e->d_name + l - 5, ".onnx") == 0) {
            if (n++ == 0) snprintf(name, cap, "%s", e->d_name);
        }
    }
    closedir(d);
    if (n == 0)
        return ml_error(ML_ERR_INVALID_ARGUMENT,
                        "the archive has no *.onnx file at its top level; add the model file");
    if (n > 1)
        return ml_error(
            ML_ERR_INVALID_ARGUMENT,
            "the archive has %d *.onnx files; name the model file with 'model:' in serving.yaml",
            n);
    return NULL;
}

static ml_status prepare_version(ml_registry *r, const char *staged, const ml_upload_meta *meta,
                                 ml_version_rec *v) {
    char root[4096], prefix[300], onnx[1024];
    find_root(staged, root, sizeof root, prefix, sizeof prefix);
    ml_model_spec *spec = NULL;
    ML_TRY(load_spec(root, &spec));
    ml_status st = NULL;
    const char *name = meta && meta->name && *meta->name ? meta->name : spec ? spec->name : NULL;
    if (!name)
        st = ml_error(ML_ERR_INVALID_ARGUMENT,
                      "the model has no name: pass ?name=... or put 'name:' in serving.yaml");
    else if (!ml_name_valid(name))
        st = ml_error(ML_ERR_INVALID_ARGUMENT,
                      "model name '%s' is invalid: use letters, digits, '.', '_' or '-' (max 128)",
                      name);
    if (!st && spec && strcmp(spec->runtime, "mlambda-onnx") != 0 &&
        strcmp(spec->runtime, "onnx") != 0)
        st = ml_error(ML_ERR_UNSUPPORTED, "runtime '%s' is not supported; use mlambda-onnx",
                      spec->runtime);
    if (!st && spec && spec->model_file)
        snprintf(onnx, sizeof onnx, "%s", spec->model_file);
    else if (!st)
        st = find_onnx(root, onnx, sizeof onnx);
    char path[5200];
    struct stat sb;
    if (!st) {
        snprintf(path, sizeof path, "%s/%s", root, onnx);
        if (lstat(path, &sb) != 0 || !S_ISREG(sb.st_mode))
            st = ml_error(ML_ERR_INVALID_ARGUMENT, "model file '%s' is not in the archive", onnx);
    }
    ml_contract *derived = NULL;
    if (!st) {
        st = ml_contract_from_onnx(path, &derived);
        if (st) {
            ml_code c = ml_status_code(st);
            if (c != ML_ERR_OUT_OF_MEMORY && c != ML_ERR_UNSUPPORTED) {
                ml_status wrapped =
                    ml_error(ML_ERR_INVALID_ARGUMENT, "the model cannot be loaded: %s",
                             ml_status_message(st));
                ml_status_free(st);
                st = wrapped;
            } else {
                st = ml_status_wrap(st, "the model cannot be loaded");
            }
        }
    }
    const ml_contract *use = spec && spec->contract ? spec->contract : derived;
    if (!st && spec && spec->contract) {
        for (size_t i = 0; !st && i < spec->contract->n_inputs; i++)
            if (!ml_contract_input(derived, spec->contract->inputs[i].name))
                st = ml_error(ML_ERR_INVALID_ARGUMENT,
                              "serving.yaml contract input '%s' is not an input of the ONNX graph",
                              spec->contract->inputs[i].name);
        for (size_t i = 0; !st && i < spec->contract->n_outputs; i++)
            if (!ml_contract_output(derived, spec->contract->outputs[i].name))
                st =
                    ml_error(ML_ERR_INVALID_ARGUMENT,
                             "serving.yaml contract output '%s' is not an output of the ONNX graph",
                             spec->contract->outputs[i].name);
    }
    if (!st) {
        char mf[1400];
        snprintf(mf, sizeof mf, "%s%s", prefix, onnx);
        v->name = strdup(name);
        v->status = strdup("ready");
        v->runtime = strdup(spec ? spec->runtime : "mlambda-onnx");
        v->model_file = strdup(mf);
        v->contract = ml_contract_to_json(use);
        v->metadata = spec ? json_incref(spec->metadata) : json_object();
        v->options = spec ? json_incref(spec->options) : json_object();
    }
    (void)r;
    ml_contract_free(derived);
    ml_model_spec_free(spec);
    return st;
}

ml_status ml_registry_ingest(ml_registry *r, ml_upload *u, const ml_upload_meta *meta,
                             ml_version_rec *out) {
    memset(out, 0, sizeof *out);
    const char *staged = NULL;
    ml_status st = ml_upload_finish(u, &r->limits, &staged);
    if (!st) st = prepare_version(r, staged, meta, out);
    if (st) {
        ml_upload_abort(u);
        ml_version_rec_clear(out);
        return st;
    }
    out->digest = strdup(ml_upload_digest(u));
    out->size_bytes = (int64_t)ml_upload_size(u);
    st = ml_upload_publish(u); /* on success holds the artifacts lock */
    if (st) {
        ml_version_rec_clear(out);
        return st;
    }
    st = ml_store_add_version(r->store, meta ? meta->description : NULL, meta ? meta->labels : NULL,
                              out);
    if (st) {
        /* Unreferenced files of a failed insert go right away. */
        char **keep = NULL;
        size_t n = 0;
        ml_status gst = ml_store_list_digests(r->store, &keep, &n);
        if (!gst) gst = ml_artifacts_gc(r->artifacts, keep, n, NULL);
        ml_status_free(gst);
        for (size_t i = 0; i < n; i++) free(keep[i]);
        free(keep);
        ml_version_rec_clear(out);
    }
    ml_artifacts_unlock(r->artifacts);
    return st;
}

ml_status ml_registry_delete(ml_registry *r, const char *name, int version) {
    ML_TRY(ml_store_delete_version(r->store, name, version));
    char **keep = NULL;
    size_t n = 0;
    ml_artifacts_lock(r->artifacts);
    ml_status st = ml_store_list_digests(r->store, &keep, &n);
    if (!st) st = ml_artifacts_gc(r->artifacts, keep, n, NULL);
    ml_artifacts_unlock(r->artifacts);
    for (size_t i = 0; i < n; i++) free(keep[i]);
    free(keep);
    ml_status_free(st); /* the delete itself succeeded; leftovers go at the next GC */
    return NULL;
}

static ml_status variant_contract(ml_registry *r, ml_variant *v, int stage, ml_contract **c) {
    ml_version_rec rec;
    ml_status st = ml_store_get_version(r->store, v->model, v->version, &rec);
    if (st) return ml_status_wrap(st, "stage %d", stage + 1);
    v->version = rec.version;
    st = ml_contract_from_json(rec.contract, c);
    ml_version_rec_clear(&rec);
    return st;
}

static ml_status same_fields(const ml_field *a, size_t na, const ml_field *b, size_t nb,
                             const char *what, const ml_variant *va, const ml_variant *vb,
                             int stage) {
    bool ok = na == nb;
    for (size_t i = 0; ok && i < na; i++) {
        bool found = false;
        for (size_t k = 0; k < nb; k++)
            if (!strcmp(a[i].name, b[k].name) && a[i].dtype == b[k].dtype) found = true;
        ok = found;
    }
    if (!ok)
        return ml_error(
            ML_ERR_INVALID_ARGUMENT,
            "stage %d: variants %s:%d and %s:%d have different %s; variants of a stage must "
            "share a contract",
            stage + 1, va->model, va->version, vb->model, vb->version, what);
    return NULL;
}

ml_status ml_registry_check_app(ml_registry *r, ml_app_spec *spec, ml_contract **contract) {
    *contract = NULL;
    ml_contract *first[ML_MAX_STAGES] = {0};
    ml_status st = NULL;
    for (int i = 0; !st && i < spec->n_stages; i++) {
        ml_stage *sg = &spec->stages[i];
        for (int k = 0; !st && k < sg->n_variants; k++) {
            ml_contract *c = NULL;
            st = variant_contract(r, &sg->variants[k], i, &c);
            if (!st && k == 0) {
                first[i] = c;
                continue;
            }
            if (!st)
                st = same_fields(first[i]->inputs, first[i]->n_inputs, c->inputs, c->n_inputs,
                                 "inputs", &sg->variants[0], &sg->variants[k], i);
            if (!st)
                st = same_fields(first[i]->outputs, first[i]->n_outputs, c->outputs, c->n_outputs,
                                 "outputs", &sg->variants[0], &sg->variants[k], i);
            ml_contract_free(c);
        }
        if (st || i == 0) continue;
        /* Stage i's inputs must be produced by stage i-1. */
        const ml_contract *prev = first[i - 1], *cur = first[i];
        for (size_t f = 0; !st && f < cur->n_inputs; f++) {
            const ml_field *want = &cur->inputs[f];
            const ml_field *have = ml_contract_output(prev, want->name);
            if (!have)
                st = ml_error(ML_ERR_INVALID_ARGUMENT,
                              "stage %d needs input '%s' but stage %d (%s:%d) has no such output",
                              i + 1, want->name, i, spec->stages[i - 1].variants[0].model,
                              spec->stages[i - 1].variants[0].version);
            else if (!ml_field_compatible(have, want))
                st = ml_error(
                    ML_ERR_INVALID_ARGUMENT,
                    "stage %d input '%s' (%s) is incompatible with stage %d's output (%s)", i + 1,
                    want->name, ml_dtype_name(want->dtype), i, ml_dtype_name(have->dtype));
        }
    }
    if (!st) {
        ml_contract *c = NULL;
        st = ml_contract_copy(first[0], &c);
        ml_contract *last = NULL;
        if (!st) st = ml_contract_copy(first[spec->n_stages - 1], &last);
        if (!st) {
            /* Inputs of stage 1, outputs of the last stage. */
            for (size_t i = 0; i < c->n_outputs; i++) {
                free(c->outputs[i].name);
                free(c->outputs[i].profile);
            }
            free(c->outputs);
            c->outputs = last->outputs;
            c->n_outputs = last->n_outputs;
            last->outputs = NULL;
            last->n_outputs = 0;
            *contract = c;
        } else {
            ml_contract_free(c);
        }
        ml_contract_free(last);
    }
    for (int i = 0; i < spec->n_stages; i++) ml_contract_free(first[i]);
    return st;
}
