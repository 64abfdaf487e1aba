#include "cli/yaml_json.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

ml_status ml_read_file(const char *path, size_t max_bytes, char **data, size_t *len) {
    int is_stdin = strcmp(path, "-") == 0;
    FILE *f = is_stdin ? stdin : fopen(path, "rb");
    if (!f) return ml_error(ML_ERR_IO, "cannot open %s: %s", path, strerror(errno));
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    ml_status st = NULL;
    if (!buf) st = ml_error(ML_ERR_OUT_OF_MEMORY, "out of memory reading %s", path);
    while (!st) {
        if (n + 1 >= cap) {
            if (cap > max_bytes) {
                st = ml_error(ML_ERR_RESOURCE_EXHAUSTED, "%s is larger than the %zu byte limit",
                              path, max_bytes);
                break;
            }
            char *bigger = realloc(buf, cap * 2);
            if (!bigger) {
                st = ml_error(ML_ERR_OUT_OF_MEMORY, "out of memory reading %s", path);
                break;
            }
            buf = bigger;
            cap *= 2;
        }
        size_t got = fread(buf + n, 1, cap - 1 - n, f);
        n += got;
        if (got == 0) {
            if (ferror(f)) st = ml_error(ML_ERR_IO, "cannot read %s: %s", path, strerror(errno));
            break;
        }
    }
    if (!is_stdin) fclose(f);
    if (!st && n > max_bytes)
        st = ml_error(ML_ERR_RESOURCE_EXHAUSTED, "%s is larger than the %zu byte limit", path,
                      max_bytes);
    if (st) {
        free(buf);
        return st;
    }
    buf[n] = '\0';
    *data = buf;
    if (len) *len = n;
    return NULL;
}

/* ---- scalar resolution (YAML 1.2 core schema, plain scalars only) ---- */

static int is_null_word(const char *s) {
    return !*s || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") || !strcmp(s, "NULL");
}

static int bool_word(const char *s) {
    if (!strcmp(s, "true") || !strcmp(s, "True") || !strcmp(s, "TRUE")) return 1;
    if (!strcmp(s, "false") || !strcmp(s, "False") || !strcmp(s, "FALSE")) return 0;
    return -1;
}

static int parse_int(const char *s, json_int_t *out) {
    const char *p = s;
    if (*p == '-' || *p == '+') p++;
    if (!*p) return 0;
    for (const char *q = p; *q; q++)
        if (*q < '0' || *q > '9') return 0;
    errno = 0;
    char *end;
    long long v = strtoll(s, &end, 10);
    if (errno || *end) return 0;
    *out = (json_int_t)v;
    return 1;
}

static int parse_float(const char *s, double *out) {
    const char *p = s;
    if (*p == '-' || *p == '+') p++;
    if (!strcmp(p, ".inf") || !strcmp(p, ".Inf") || !strcmp(p, ".INF") || !strcmp(p, ".nan") ||
        !strcmp(p, ".NaN") || !strcmp(p, ".NAN"))
        return 0; /* JSON has no inf/nan: keep them as strings */
    int digits = 0, dot = 0;
    for (; *p && *p != 'e' && *p != 'E'; p++) {
        if (*p >= '0' && *p <= '9')
            digits++;
        else if (*p == '.' && !dot)
            dot = 1;
        else
            return 0;
    }
    if (!digits) return 0;
    if (*p) {
        p++;
        if (*p == '-' || *p == '+') p++;
        if (!*p) return 0;
        for (; *p; p++)
            if (*p < '0' || *p > '9') return 0;
    }
    char *end;
    *out = strtod(s, &end);
    return *end == '\0';
}

static json_t *resolve_plain(const char *s) {
    json_int_t i;
    double d;
    int b;
    if (is_null_word(s)) return json_null();
    if ((b = bool_word(s)) >= 0) return json_boolean(b);
    if (parse_int(s, &i)) return json_integer(i);
    if (parse_float(s, &d)) return json_real(d);
    return json_string(s);
}

/* ---- parser ---- */

typedef struct yctx {
    yaml_parser_t parser;
    const char *origin;
} yctx;

static ml_status parser_error(yctx *c) {
    const yaml_parser_t *p = &c->parser;
    const yaml_mark_t *m = p->problem ? &p->problem_mark : &p->context_mark;
    return ml_error(ML_ERR_INVALID_ARGUMENT, "%s:%zu:%zu: invalid YAML: %s%s%s", c->origin,
                    m->line + 1, m->column + 1, p->problem ? p->problem : "syntax error",
                    p->context ? " " : "", p->context ? p->context : "");
}

static ml_status next_event(yctx *c, yaml_event_t *ev) {
    if (!yaml_parser_parse(&c->parser, ev)) return parser_error(c);
    return NULL;
}

static ml_status at(yctx *c, const yaml_event_t *ev, const char *what) {
    return ml_error(ML_ERR_INVALID_ARGUMENT, "%s:%zu:%zu: %s", c->origin, ev->start_mark.line + 1,
                    ev->start_mark.column + 1, what);
}

static ml_status parse_node(yctx *c, yaml_event_t *ev, int depth, json_t **out);

/* Parses the node that starts with the next event. */
static ml_status parse_next(yctx *c, int depth, json_t **out, int *ended) {
    yaml_event_t ev;
    ML_TRY(next_event(c, &ev));
    if (ev.type == YAML_SEQUENCE_END_EVENT || ev.type == YAML_MAPPING_END_EVENT) {
        *ended = 1;
        *out = NULL;
        yaml_event_delete(&ev);
        return NULL;
    }
    *ended = 0;
    ml_status st = parse_node(c, &ev, depth, out);
    yaml_event_delete(&ev);
    return st;
}

static ml_status parse_node(yctx *c, yaml_event_t *ev, int depth, json_t **out) {
    if (depth > ML_YAML_MAX_DEPTH) return at(c, ev, "YAML nested too deeply (limit 64 levels)");
    switch (ev->type) {
    case YAML_ALIAS_EVENT:
        return at(c, ev, "YAML aliases (*name) are not supported; repeat the value instead");
    case YAML_SCALAR_EVENT: {
        const char *v = (const char *)ev->data.scalar.value;
        const char *tag = (const char *)ev->data.scalar.tag;
        if (strlen(v) != ev->data.scalar.length)
            return at(c, ev, "YAML scalar contains a NUL byte");
        if (tag && !strcmp(tag, YAML_STR_TAG))
            *out = json_string(v);
        else if (ev->data.scalar.plain_implicit && !tag)
            *out = resolve_plain(v);
        else
            *out = json_string(v);
        if (!*out) return at(c, ev, "YAML string is not valid UTF-8");
        return NULL;
    }
    case YAML_SEQUENCE_START_EVENT: {
        json_t *arr = json_array();
        for (;;) {
            json_t *item;
            int ended;
            ml_status st = parse_next(c, depth + 1, &item, &ended);
            if (st) {
                json_decref(arr);
                return st;
            }
            if (ended) break;
            json_array_append_new(arr, item);
        }
        *out = arr;
        return NULL;
    }
    case YAML_MAPPING_START_EVENT: {
        json_t *obj = json_object();
        for (;;) {
            yaml_event_t kev;
            ml_status st = next_event(c, &kev);
            if (st) {
                json_decref(obj);
                return st;
            }
            if (kev.type == YAML_MAPPING_END_EVENT) {
                yaml_event_delete(&kev);
                break;
            }
            if (kev.type != YAML_SCALAR_EVENT) {
                st = at(c, &kev, "YAML mapping keys must be plain strings");
                yaml_event_delete(&kev);
                json_decref(obj);
                return st;
            }
            char *key = strdup((const char *)kev.data.scalar.value);
            yaml_event_delete(&kev);
            json_t *val;
            int ended;
            st = key ? parse_next(c, depth + 1, &val, &ended)
                     : ml_error(ML_ERR_OUT_OF_MEMORY, "out of memory parsing YAML");
            if (!st && ended)
                st = ml_error(ML_ERR_INVALID_ARGUMENT, "%s: truncated mapping", c->origin);
            if (st) {
                free(key);
                json_decref(obj);
                return st;
            }
            json_object_set_new(obj, key, val);
            free(key);
        }
        *out = obj;
        return NULL;
    }
    default:
        return at(c, ev, "unexpected YAML event");
    }
}

ml_status ml_yaml_parse(const char *text, size_t len, const char *origin, json_t **docs) {
    if (len > ML_YAML_MAX_BYTES)
        return ml_error(ML_ERR_RESOURCE_EXHAUSTED, "%s is larger than the 16 MiB YAML limit",
                        origin);
    yctx c = {.origin = origin};
    if (!yaml_parser_initialize(&c.parser))
        return ml_error(ML_ERR_OUT_OF_MEMORY, "cannot initialise the YAML parser");
    yaml_parser_set_input_string(&c.parser, (const unsigned char *)text, len);
    json_t *arr = json_array();
    ml_status st = NULL;
    for (;;) {
        yaml_event_t ev;
        if ((st = next_event(&c, &ev))) break;
        yaml_event_type_t t = ev.type;
        yaml_event_delete(&ev);
        if (t == YAML_STREAM_END_EVENT) break;
        if (t != YAML_DOCUMENT_START_EVENT) continue; /* stream start */
        json_t *doc;
        int ended;
        if ((st = parse_next(&c, 0, &doc, &ended))) break;
        if (ended) {
            st = ml_error(ML_ERR_INVALID_ARGUMENT, "%s: malformed YAML document", origin);
            break;
        }
        if ((st = next_event(&c, &ev))) { /* document end */
            json_decref(doc);
            break;
        }
        yaml_event_delete(&ev);
        /* An empty document ("---" alone) carries nothing to apply. */
        if (json_is_null(doc))
            json_decref(doc);
        else
            json_array_append_new(arr, doc);
    }
    yaml_parser_delete(&c.parser);
    if (st) {
        json_decref(arr);
        return st;
    }
    *docs = arr;
    return NULL;
}

ml_status ml_yaml_parse_file(const char *path, json_t **docs) {
    char *text;
    size_t len;
    ML_TRY(ml_read_file(path, ML_YAML_MAX_BYTES, &text, &len));
    ml_status st = ml_yaml_parse(text, len, strcmp(path, "-") ? path : "<stdin>", docs);
    free(text);
    return st;
}

/* ---- emitter ---- */

static int emit_scalar(yaml_emitter_t *em, const char *s, yaml_scalar_style_t style) {
    yaml_event_t ev;
    if (!yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)s, (int)strlen(s), 1, 1,
                                      style))
        return 0;
    return yaml_emitter_emit(em, &ev);
}

/* Strings that a reader would resolve to something else must be quoted. */
static int emit_string(yaml_emitter_t *em, const char *s) {
    json_t *r = resolve_plain(s);
    int needs_quotes = !json_is_string(r);
    json_decref(r);
    return emit_scalar(em, s,
                       needs_quotes ? YAML_DOUBLE_QUOTED_SCALAR_STYLE : YAML_ANY_SCALAR_STYLE);
}

static int emit_value(yaml_emitter_t *em, const json_t *v) {
    yaml_event_t ev;
    char buf[64];
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        if (!yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_MAPPING_STYLE) ||
            !yaml_emitter_emit(em, &ev))
            return 0;
        const char *k;
        const json_t *x;
        json_object_foreach((json_t *)v, k, x) {
            if (!emit_string(em, k) || !emit_value(em, x)) return 0;
        }
        return yaml_mapping_end_event_initialize(&ev) && yaml_emitter_emit(em, &ev);
    }
    case JSON_ARRAY: {
        if (!yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_SEQUENCE_STYLE) ||
            !yaml_emitter_emit(em, &ev))
            return 0;
        size_t i;
        const json_t *x;
        json_array_foreach((json_t *)v, i, x) {
            if (!emit_value(em, x)) return 0;
        }
        return yaml_sequence_end_event_initialize(&ev) && yaml_emitter_emit(em, &ev);
    }
    case JSON_STRING:
        return emit_string(em, json_string_value(v));
    case JSON_INTEGER:
        snprintf(buf, sizeof buf, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        return emit_scalar(em, buf, YAML_PLAIN_SCALAR_STYLE);
    case JSON_REAL:
        snprintf(buf, sizeof buf, "%.17g", json_real_value(v));
        if (!strpbrk(buf, ".eEn")) strcat(buf, ".0");
        return emit_scalar(em, buf, YAML_PLAIN_SCALAR_STYLE);
    case JSON_TRUE:
        return emit_scalar(em, "true", YAML_PLAIN_SCALAR_STYLE);
    case JSON_FALSE:
        return emit_scalar(em, "false", YAML_PLAIN_SCALAR_STYLE);
    default:
        return emit_scalar(em, "null", YAML_PLAIN_SCALAR_STYLE);
    }
}

ml_status ml_yaml_emit(FILE *out, const json_t *value) {
    yaml_emitter_t em;
    yaml_event_t ev;
    if (!yaml_emitter_initialize(&em))
        return ml_error(ML_ERR_OUT_OF_MEMORY, "cannot initialise the YAML emitter");
    yaml_emitter_set_output_file(&em, out);
    yaml_emitter_set_unicode(&em, 1);
    yaml_emitter_set_width(&em, -1);
    int ok = yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING) &&
             yaml_emitter_emit(&em, &ev) &&
             yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1) &&
             yaml_emitter_emit(&em, &ev) && emit_value(&em, value) &&
             yaml_document_end_event_initialize(&ev, 1) && yaml_emitter_emit(&em, &ev) &&
             yaml_stream_end_event_initialize(&ev) && yaml_emitter_emit(&em, &ev) &&
             yaml_emitter_flush(&em);
    ml_status st =
        ok ? NULL
           : ml_error(ML_ERR_IO, "cannot write YAML: %s", em.problem ? em.problem : "output error");
    yaml_emitter_delete(&em);
    return st;
}
