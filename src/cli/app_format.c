#include "cli/app_format.h"

#include <stdio.h>
#include <string.h>

static ml_status variant(const json_t *v, json_int_t default_weight, json_t **out) {
    const json_t *model = json_object_get(v, "model");
    const json_t *w = json_object_get(v, "weight");
    if (!json_is_string(model))
        return ml_error(ML_ERR_INVALID_ARGUMENT,
                        "every variant needs 'model: NAME:VERSION' (a string)");
    if (w && !json_is_integer(w))
        return ml_error(ML_ERR_INVALID_ARGUMENT, "weight of %s must be an integer percentage",
                        json_string_value(model));
    *out = json_pack("{s:s, s:I}", "model", json_string_value(model), "weight",
                     w ? json_integer_value(w) : default_weight);
    return NULL;
}

ml_status ml_app_stages(const json_t *app, json_t **stages) {
    json_t *out = json_array();
    const json_t *singular = json_object_get(app, "singular");
    const json_t *pipeline = json_object_get(app, "pipeline");
    const json_t *answer = json_object_get(app, "stages");
    ml_status st = NULL;
    if (!!singular + !!pipeline + !!answer != 1) {
        st = ml_error(ML_ERR_INVALID_ARGUMENT,
                      "an Application needs exactly one of 'singular' or 'pipeline'");
    } else if (singular) {
        json_t *v;
        st = variant(singular, 100, &v);
        if (!st) json_array_append_new(out, json_pack("[o]", v));
    } else {
        const json_t *list = pipeline ? pipeline : answer;
        if (!json_is_array(list) || !json_array_size(list))
            st = ml_error(ML_ERR_INVALID_ARGUMENT, "'pipeline' must be a non-empty list of stages");
        size_t i;
        const json_t *stage;
        json_array_foreach(st ? NULL : list, i, stage) {
            const json_t *vars = pipeline ? stage : json_object_get(stage, "variants");
            if (pipeline && json_is_object(stage) && json_object_get(stage, "variants"))
                vars = json_object_get(stage, "variants"); /* {variants: [...]} is accepted too */
            if (!json_is_array(vars) || !json_array_size(vars)) {
                st = ml_error(ML_ERR_INVALID_ARGUMENT,
                              "stage %zu must be a non-empty list of {model, weight} variants",
                              i + 1);
                break;
            }
            json_t *s = json_array();
            size_t j;
            const json_t *v;
            json_array_foreach(vars, j, v) {
                json_t *nv;
                /* A lone variant without a weight takes all the traffic. */
                if ((st = variant(v, json_array_size(vars) == 1 ? 100 : 0, &nv))) break;
                json_array_append_new(s, nv);
            }
            json_array_append_new(out, s);
            if (st) break;
        }
    }
    if (st) {
        json_decref(out);
        return st;
    }
    *stages = out;
    return NULL;
}

void ml_app_stages_text(const json_t *stages, char *buf, size_t cap) {
    size_t n = 0;
    buf[0] = '\0';
    size_t i;
    json_t *s;
    json_array_foreach(stages, i, s) {
        if (n >= cap) break;
        n += (size_t)snprintf(buf + n, cap - n, "%s", i ? " -> " : "");
        size_t j;
        json_t *v;
        json_array_foreach(s, j, v) {
            if (n >= cap) break;
            json_int_t w = json_integer_value(json_object_get(v, "weight"));
            const char *m = json_string_value(json_object_get(v, "model"));
            if (json_array_size(s) == 1 && w == 100)
                n += (size_t)snprintf(buf + n, cap - n, "%s", m ? m : "?");
            else
                n += (size_t)snprintf(buf + n, cap - n, "%s%s (%" JSON_INTEGER_FORMAT "%%)",
                                      j ? ", " : "", m ? m : "?", w);
        }
    }
}

int ml_app_stages_equal(const json_t *a, const json_t *b) {
    return json_equal((json_t *)a, (json_t *)b);
}
