#include "registry/spec.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool ml_name_valid(const char *name) {
    if (!name || !isalnum((unsigned char)name[0])) return false;
    size_t n = 1;
    for (const char *p = name + 1; *p; p++, n++) {
        if (n >= ML_NAME_MAX) return false;
        if (!isalnum((unsigned char)*p) && *p != '.' && *p != '_' && *p != '-') return false;
    }
    return true;
}

ml_status ml_model_ref_parse(const char *ref, char *name, int *version) {
    const char *colon = ref ? strrchr(ref, ':') : NULL;
    size_t nlen = colon ? (size_t)(colon - ref) : (ref ? strlen(ref) : 0);
    if (!ref || nlen == 0 || nlen > ML_NAME_MAX)
        return ml_error(ML_ERR_INVALID_ARGUMENT,
                        "model reference '%s' must be 'name:version' or 'name'", ref ? ref : "");
    memcpy(name, ref, nlen);
    name[nlen] = '\0';
    if (!ml_name_valid(name))
        return ml_error(ML_ERR_INVALID_ARGUMENT,
                        "model name '%s' is invalid: use letters, digits, '.', '_' or '-'", name);
    *version = 0;
    if (colon) {
        char *end;
        errno = 0;
        long v = strtol(colon + 1, &end, 10);
        if (*end || end == colon + 1 || errno || v < 1 || v > 1000000000)
            return ml_error(ML_ERR_INVALID_ARGUMENT,
                            "model reference '%s': version must be a positive integer", ref);
        *version = (int)v;
    }
    return NULL;
}

void ml_model_spec_free(ml_model_spec *s) {
    if (!s) return;
    free(s->name);
    free(s->runtime);
    free(s->model_file);
    ml_contract_free(s->contract);
    json_decref(s->metadata);
    json_decref(s->options);
    free(s);
}

static char *opt_str(const json_t *o, const char *key) {
    const json_t *v = json_object_get(o, key);
    return json_is_string(v) ? strdup(json_string_value(v)) : NULL;
}

ml_status ml_model_spec_parse(const json_t *j, ml_model_spec **out) {
    *out = NULL;
    if (!json_is_object(j))
        return ml_error(ML_ERR_INVALID_ARGUMENT,
                        "serving.yaml must be a mapping (kind: Model, name, ...)");
    const json_t *kind = json_object_get(j, "kind");
    if (kind && (!json_is_string(kind) || strcmp(json_string_value(kind), "Model") != 0))
        return ml_error(ML_ERR_INVALID_ARGUMENT, "serving.yaml: kind must be 'Model'");
    ml_model_spec *s = calloc(1, sizeof *s);
    if (!s) return ml_error(ML_ERR_OUT_OF_MEMORY, "out of memory");
    ml_status st = NULL;
    s->name = opt_str(j, "name");
    s->runtime = opt_str(j, "runtime");
    if (!s->runtime) s->runtime = opt_str(j, "model-type");
    if (!s->runtime) s->runtime = strdup("mlambda-onnx");
    s->model_file = opt_str(j, "model");
    if (s->name && !ml_name_valid(s->name))
        st = ml_error(ML_ERR_INVALID_ARGUMENT, "serving.yaml: name '%s' is invalid", s->name);
    if (!st && s->model_file && (strstr(s->model_file, "..") || s->model_file[0] == '/'))
        st = ml_error(ML_ERR_INVALID_ARGUMENT,
                      "serving.yaml: model must be a path inside the folder");
    const json_t *c = json_object_get(j, "contract");
    if (!st && c && !json_is_null(c)) {
        st = ml_contract_from_spec(c, &s->contract);
        if (st) st = ml_status_wrap(st, "serving.yaml contract");
    }
    const json_t *md = json_object_get(j, "metadata");
    if (!st && md && !json_is_object(md))
        st = ml_error(ML_ERR_INVALID_ARGUMENT, "serving.yaml: metadata must be a mapping");
    s->metadata = md ? json_deep_copy(md) : json_object();
    s->options = json_object();
    const json_t *b = json_object_get(j, "batching");
    if (!st && b && !json_is_null(b)) {
        const json_t *m = json_object_get(b, "max_batch_size"),
                     *d = json_object_get(b, "max_queue_delay_us"),
                     *n = json_object_get(b, "instances"),
                     *pref = json_object_get(b, "preferred_batch_sizes");
        bool pref_ok = !pref || (json_is_array(pref) && json_array_size(pref) <= 8);
        for (size_t k = 0; pref_ok && pref && k < json_array_size(pref); k++) {
            const json_t *p = json_array_get(pref, k);
            pref_ok = json_is_integer(p) && json_integer_value(p) >= 1 && json_is_integer(m) &&
                      json_integer_value(p) <= json_integer_value(m);
        }
        if (!json_is_object(b) || !json_is_integer(m) || json_integer_value(m) < 1 ||
            json_integer_value(m) > 1024 ||
            (d && (!json_is_integer(d) || json_integer_value(d) < 0 ||
                   json_integer_value(d) > 1000000)) ||
            (n &&
             (!json_is_integer(n) || json_integer_value(n) < 1 || json_integer_value(n) > 64)) ||
            !pref_ok)
            st = ml_error(ML_ERR_INVALID_ARGUMENT,
                          "serving.yaml: batching needs max_batch_size 1..1024, and optionally "
                          "max_queue_delay_us 0..1000000, instances 1..64 and "
                          "preferred_batch_sizes (up to 8 sizes, each 1..max_batch_size)");
        else {
            json_t *bj = json_pack("{s:I, s:I, s:I}", "max_batch_size", json_integer_value(m),
                                   "max_queue_delay_us", d ? json_integer_value(d) : (json_int_t)0,
                                   "instances", n ? json_integer_value(n) : (json_int_t)1);
            if (pref) json_object_set(bj, "preferred_batch_sizes", (json_t *)pref);
            json_object_set_new(s->options, "batching", bj);
        }
    }
    if (st) {
        ml_model_spec_free(s);
        return st;
    }
    *out = s;
    return NULL;
}

static ml_status parse_variant(const json_t *v, ml_variant *out, bool need_weight) {
    if (!json_is_object(v))
        return ml_error(ML_ERR_INVALID_ARGUMENT,
                        "a variant must be {model: name:version, weight: W}");
    const json_t *m = json_object_get(v, "model");
    if (!json_is_string(m))
        return ml_error(ML_ERR_INVALID_ARGUMENT, "a variant needs model: name:version");
    ML_TRY(ml_model_ref_parse(json_string_value(m), out->model, &out->version));
    const json_t *w = json_object_get(v, "weight");
    if (!w) {
        if (need_weight)
            return ml_error(ML_ERR_INVALID_ARGUMENT, "variant %s needs a weight (1..100)",
                            json_string_value(m));
        out->weight = 100;
        return NULL;
    }
    if (!json_is_integer(w) || json_integer_value(w) < 1 || json_integer_value(w) > 100)
        return ml_error(ML_ERR_INVALID_ARGUMENT, "variant %s: weight must be an integer 1..100",
                        json_string_value(m));
    out->weight = (int)json_integer_value(w);
    return NULL;
}

static ml_status parse_stage(const json_t *variants, int idx, ml_stage *st) {
    if (!json_is_array(variants) || json_array_size(variants) == 0 ||
        json_array_size(variants) > ML_MAX_VARIANTS)
        return ml_error(ML_ERR_INVALID_ARGUMENT, "stage %d must be a list of 1..%d variants",
                        idx + 1, ML_MAX_VARIANTS);
    bool single = json_array_size(variants) == 1;
    int sum = 0;
    size_t i;
    json_t *v;
    json_array_foreach(variants, i, v) {
        ml_status s = parse_variant(v, &st->variants[i], !single);
        if (s) return ml_status_wrap(s, "stage %d", idx + 1);
        sum += st->variants[i].weight;
    }
    st->n_variants = (int)json_array_size(variants);
    if (sum != 100)
        return ml_error(ML_ERR_INVALID_ARGUMENT, "stage %d: variant weights sum to %d, must be 100",
                        idx + 1, sum);
    return NULL;
}

ml_status ml_app_spec_parse(const json_t *j, const char *name_hint, ml_app_spec *out) {
    memset(out, 0, sizeof *out);
    if (!json_is_object(j))
        return ml_error(ML_ERR_INVALID_ARGUMENT, "an application spec must be an object/mapping");
    const json_t *kind = json_object_get(j, "kind");
    if (kind && (!json_is_string(kind) || strcmp(json_string_value(kind), "Application") != 0))
        return ml_error(ML_ERR_INVALID_ARGUMENT, "kind must be 'Application'");
    const json_t *name = json_object_get(j, "name");
    const char *nm = json_is_string(name) ? json_string_value(name) : name_hint;
    if (!nm || !ml_name_valid(nm))
        return ml_error(ML_ERR_INVALID_ARGUMENT,
                        "application name '%s' is invalid: use letters, digits, '.', '_' or '-'",
                        nm ? nm : "");
    if (name_hint && strcmp(nm, name_hint) != 0)
        return ml_error(ML_ERR_INVALID_ARGUMENT, "spec name '%s' does not match the URL name '%s'",
                        nm, name_hint);
    snprintf(out->name, sizeof out->name, "%s", nm);
    const json_t *singular = json_object_get(j, "singular");
    const json_t *pipeline = json_object_get(j, "pipeline");
    const json_t *stages = json_object_get(j, "stages");
    int forms = !!singular + !!pipeline + !!stages;
    if (forms != 1)
        return ml_error(ML_ERR_INVALID_ARGUMENT,
                        "an application needs exactly one of 'singular' or 'pipeline'");
    if (singular) {
        out->n_stages = 1;
        out->stages[0].n_variants = 1;
        ML_TRY(parse_variant(singular, &out->stages[0].variants[0], false));
        out->stages[0].variants[0].weight = 100;
        return NULL;
    }
    const json_t *list = pipeline ? pipeline : stages;
    if (!json_is_array(list) || json_array_size(list) == 0 || json_array_size(list) > ML_MAX_STAGES)
        return ml_error(ML_ERR_INVALID_ARGUMENT, "pipeline must be a list of 1..%d stages",
                        ML_MAX_STAGES);
    size_t i;
    json_t *s;
    json_array_foreach(list, i, s) {
        const json_t *vars = s;
        if (json_is_object(s)) vars = json_object_get(s, "variants"); /* normalised form */
        ML_TRY(parse_stage(vars, (int)i, &out->stages[i]));
        out->n_stages++;
    }
    return NULL;
}

json_t *ml_app_stages_json(const ml_app_spec *s) {
    json_t *stages = json_array();
    for (int i = 0; i < s->n_stages; i++) {
        json_t *vars = json_array();
        for (int k = 0; k < s->stages[i].n_variants; k++) {
            const ml_variant *v = &s->stages[i].variants[k];
            char ref[ML_NAME_MAX + 16];
            snprintf(ref, sizeof ref, "%s:%d", v->model, v->version);
            json_array_append_new(vars, json_pack("{s:s, s:i}", "model", ref, "weight", v->weight));
        }
        json_array_append_new(stages, json_pack("{s:o}", "variants", vars));
    }
    return stages;
}
