#include "registry/yaml_json.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#define MAX_DEPTH 64

static json_t *scalar_to_json(const yaml_event_t *ev) {
    const char *v = (const char *)ev->data.scalar.value;
    size_t len = ev->data.scalar.length;
    if (ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE) return json_stringn(v, len);
    if (len == 0 || !strcmp(v, "~") || !strcmp(v, "null") || !strcmp(v, "Null")) return json_null();
    if (!strcmp(v, "true") || !strcmp(v, "True") || !strcmp(v, "yes")) return json_true();
    if (!strcmp(v, "false") || !strcmp(v, "False") || !strcmp(v, "no")) return json_false();
    char *end;
    errno = 0;
    long long i = strtoll(v, &end, 10);
    if (*end == '\0' && errno == 0 && end != v) return json_integer(i);
    double d = strtod(v, &end);
    if (*end == '\0' && end != v && (v[0] == '-' || v[0] == '.' || (v[0] >= '0' && v[0] <= '9')))
        return json_real(d);
    return json_stringn(v, len);
}

/* Recursive descent over the event stream; the first event of the node is
 * already in *ev (and is consumed). */
static ml_status parse_node(yaml_parser_t *p, yaml_event_t *ev, int depth, json_t **out);

static ml_status next(yaml_parser_t *p, yaml_event_t *ev) {
    if (!yaml_parser_parse(p, ev))
        return ml_error(ML_ERR_INVALID_ARGUMENT, "invalid YAML at line %zu: %s",
                        p->problem_mark.line + 1, p->problem ? p->problem : "syntax error");
    return NULL;
}

static ml_status parse_node(yaml_parser_t *p, yaml_event_t *ev, int depth, json_t **out) {
    *out = NULL;
    if (depth > MAX_DEPTH) {
        yaml_event_delete(ev);
        return ml_error(ML_ERR_INVALID_ARGUMENT, "YAML nested deeper than %d levels", MAX_DEPTH);
    }
    switch (ev->type) {
    case YAML_SCALAR_EVENT:
        *out = scalar_to_json(ev);
        yaml_event_delete(ev);
        return *out ? NULL : ml_error(ML_ERR_INVALID_ARGUMENT, "YAML scalar is not valid UTF-8");
    case YAML_ALIAS_EVENT:
        yaml_event_delete(ev);
        return ml_error(ML_ERR_INVALID_ARGUMENT,
                        "YAML aliases (*ref) are not supported; write the value out");
    case YAML_SEQUENCE_START_EVENT: {
        yaml_event_delete(ev);
        json_t *arr = json_array();
        for (;;) {
            yaml_event_t e;
            ml_status st = next(p, &e);
            if (st) {
                json_decref(arr);
                return st;
            }
            if (e.type == YAML_SEQUENCE_END_EVENT) {
                yaml_event_delete(&e);
                break;
            }
            json_t *item;
            st = parse_node(p, &e, depth + 1, &item);
            if (st) {
                json_decref(arr);
                return st;
            }
            json_array_append_new(arr, item);
        }
        *out = arr;
        return NULL;
    }
    case YAML_MAPPING_START_EVENT: {
        yaml_event_delete(ev);
        json_t *obj = json_object();
        for (;;) {
            yaml_event_t k;
            ml_status st = next(p, &k);
            if (st) {
                json_decref(obj);
                return st;
            }
            if (k.type == YAML_MAPPING_END_EVENT) {
                yaml_event_delete(&k);
                break;
            }
            if (k.type != YAML_SCALAR_EVENT) {
                yaml_event_delete(&k);
                json_decref(obj);
                return ml_error(ML_ERR_INVALID_ARGUMENT, "YAML mapping keys must be plain strings");
            }
            char *key = strndup((const char *)k.data.scalar.value, k.data.scalar.length);
            yaml_event_delete(&k);
            yaml_event_t v;
            json_t *val = NULL;
            st = next(p, &v);
            if (!st) st = parse_node(p, &v, depth + 1, &val);
            if (st || !key) {
                free(key);
                json_decref(obj);
                return st ? st : ml_error(ML_ERR_OUT_OF_MEMORY, "out of memory");
            }
            json_object_set_new(obj, key, val);
            free(key);
        }
        *out = obj;
        return NULL;
    }
    default:
        yaml_event_delete(ev);
        return ml_error(ML_ERR_INVALID_ARGUMENT, "unexpected YAML structure");
    }
}

ml_status ml_yaml_to_json(const char *text, size_t len, json_t **out) {
    *out = NULL;
    yaml_parser_t p;
    if (!yaml_parser_initialize(&p)) return ml_error(ML_ERR_OUT_OF_MEMORY, "out of memory");
    yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
    ml_status st = NULL;
    /* STREAM_START, DOCUMENT_START, then the root node. */
    for (;;) {
        yaml_event_t e;
        st = next(&p, &e);
        if (st) break;
        if (e.type == YAML_STREAM_START_EVENT || e.type == YAML_DOCUMENT_START_EVENT) {
            yaml_event_delete(&e);
            continue;
        }
        if (e.type == YAML_STREAM_END_EVENT || e.type == YAML_DOCUMENT_END_EVENT) {
            yaml_event_delete(&e);
            st = ml_error(ML_ERR_INVALID_ARGUMENT, "the YAML document is empty");
            break;
        }
        st = parse_node(&p, &e, 0, out);
        break;
    }
    yaml_parser_delete(&p);
    return st;
}

ml_status ml_parse_json_or_yaml(const char *text, size_t len, json_t **out) {
    size_t i = 0;
    while (i < len && (text[i] == ' ' || text[i] == '\n' || text[i] == '\r' || text[i] == '\t'))
        i++;
    if (i < len && text[i] == '{') {
        json_error_t err;
        *out = json_loadb(text, len, JSON_REJECT_DUPLICATES, &err);
        if (*out) return NULL;
        return ml_error(ML_ERR_INVALID_ARGUMENT, "invalid JSON at line %d column %d: %s", err.line,
                        err.column, err.text);
    }
    return ml_yaml_to_json(text, len, out);
}
