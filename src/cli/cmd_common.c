#include "cli/cmd_common.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/table.h"

const char *ml_global_cluster;
int ml_global_json;

static const ml_opt global_opts[] = {
    {"cluster", 0, ML_OPT_VALUE, "NAME", "use this cluster instead of the current one"},
    {"json", 0, ML_OPT_FLAG, NULL, "print machine-readable JSON"},
    {"help", 'h', ML_OPT_FLAG, NULL, "show this help"},
    {NULL, 0, 0, NULL, NULL},
};

/* Prints text wrapped at 80 columns on word boundaries. */
static void print_wrapped(FILE *out, const char *text) {
    size_t col = 0;
    while (*text) {
        size_t word = strcspn(text, " ");
        if (col && col + 1 + word > 80) {
            fputc('\n', out);
            col = 0;
        } else if (col) {
            fputc(' ', out);
            col++;
        }
        fprintf(out, "%.*s", (int)word, text);
        col += word;
        text += word;
        while (*text == ' ') text++;
    }
    fputc('\n', out);
}

void ml_print_help(const ml_cmd_spec *spec, FILE *out) {
    fprintf(out, "Usage: %s %s%s%s [options]\n\n", ml_program_name, spec->name,
            spec->args && *spec->args ? " " : "", spec->args ? spec->args : "");
    print_wrapped(out, spec->summary);
    fprintf(out, "\nOptions:\n");
    for (int pass = 0; pass < 2; pass++) {
        const ml_opt *o = pass == 0 ? spec->opts : global_opts;
        for (; o && o->name; o++) {
            char left[64];
            if (o->short_name)
                snprintf(left, sizeof left, "-%c, --%s%s%s", o->short_name, o->name,
                         o->metavar ? " " : "", o->metavar ? o->metavar : "");
            else
                snprintf(left, sizeof left, "    --%s%s%s", o->name, o->metavar ? " " : "",
                         o->metavar ? o->metavar : "");
            fprintf(out, "  %-28s %s%s\n", left, o->help,
                    o->kind == ML_OPT_MULTI ? " (repeatable)" : "");
        }
    }
    if (spec->example) fprintf(out, "\nExample:\n%s\n", spec->example);
}

int ml_usage_error(const ml_cmd_spec *spec, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s %s: ", ml_program_name, spec->name);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\nRun '%s %s --help' for usage.\n", ml_program_name, spec->name);
    va_end(ap);
    return ML_EXIT_USAGE;
}

static int find_opt(const ml_cmd_spec *spec, const char *name, size_t len, char short_name) {
    int i = 0;
    for (const ml_opt *o = spec->opts; o && o->name; o++, i++)
        if (short_name ? o->short_name == short_name
                       : (strlen(o->name) == len && !strncmp(o->name, name, len)))
            return i;
    return -1;
}

static int parse(const ml_cmd_spec *spec, int argc, char **argv, ml_args *a) {
    memset(a, 0, sizeof *a);
    a->spec = spec;
    a->cluster = ml_global_cluster;
    a->json = ml_global_json;
    int only_pos = 0;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (only_pos || arg[0] != '-' || !strcmp(arg, "-")) {
            if (a->npos >= ML_MAX_POS || a->npos >= spec->max_pos)
                return ml_usage_error(spec, "unexpected argument '%s'", arg);
            a->pos[a->npos++] = arg;
            continue;
        }
        if (!strcmp(arg, "--")) {
            only_pos = 1;
            continue;
        }
        if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
            ml_print_help(spec, stdout);
            ml_args_free(a);
            return ML_EXIT_OK;
        }
        const char *name = arg + (arg[1] == '-' ? 2 : 1);
        const char *eq = arg[1] == '-' ? strchr(name, '=') : NULL;
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        int is_long = arg[1] == '-';
        if (!is_long && len != 1) return ml_usage_error(spec, "unknown option '%s'", arg);
        if (is_long && len == 4 && !strncmp(name, "json", 4) && !eq) {
            a->json = 1;
            continue;
        }
        int idx = is_long ? find_opt(spec, name, len, 0) : find_opt(spec, NULL, 0, name[0]);
        int is_cluster = idx < 0 && is_long && len == 7 && !strncmp(name, "cluster", 7);
        if (idx < 0 && !is_cluster) return ml_usage_error(spec, "unknown option '%s'", arg);
        const ml_opt *o = idx >= 0 ? &spec->opts[idx] : NULL;
        if (o && o->kind == ML_OPT_FLAG) {
            if (eq) return ml_usage_error(spec, "option --%s takes no value", o->name);
            a->count[idx]++;
            continue;
        }
        const char *val = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
        if (!val) return ml_usage_error(spec, "option '%s' needs a value", arg);
        if (is_cluster) {
            a->cluster = val;
            continue;
        }
        a->value[idx] = val;
        a->count[idx]++;
        if (o->kind == ML_OPT_MULTI) {
            const char **m = realloc(a->multi[idx], (size_t)a->count[idx] * sizeof *m);
            if (!m) return ml_usage_error(spec, "out of memory");
            m[a->count[idx] - 1] = val;
            a->multi[idx] = m;
        }
    }
    if (a->npos < spec->min_pos) {
        int r = ml_usage_error(spec, "missing argument%s%s", spec->args ? ": " : "",
                               spec->args ? spec->args : "");
        ml_args_free(a);
        return r;
    }
    return -1;
}

int ml_args_parse(const ml_cmd_spec *spec, int argc, char **argv, ml_args *a) {
    int rc = parse(spec, argc, argv, a);
    if (rc >= 0) ml_args_free(a); /* the command will not run: nothing to keep */
    return rc;
}

void ml_args_free(ml_args *a) {
    for (int i = 0; i < ML_MAX_OPTS; i++) {
        free(a->multi[i]);
        a->multi[i] = NULL;
    }
}

static int opt_index(const ml_args *a, const char *name) {
    return find_opt(a->spec, name, strlen(name), 0);
}

const char *ml_arg(const ml_args *a, const char *name) {
    int i = opt_index(a, name);
    return i >= 0 ? a->value[i] : NULL;
}

int ml_arg_count(const ml_args *a, const char *name) {
    int i = opt_index(a, name);
    return i >= 0 ? a->count[i] : 0;
}

const char **ml_arg_multi(const ml_args *a, const char *name, int *n) {
    int i = opt_index(a, name);
    *n = i >= 0 ? a->count[i] : 0;
    return i >= 0 ? a->multi[i] : NULL;
}

ml_status ml_client_open(const ml_args *a, ml_client *c) {
    memset(c, 0, sizeof *c);
    char path[4096];
    ML_TRY(ml_config_path(path, sizeof path));
    ML_TRY(ml_config_load(path, &c->cfg));
    if (c->cfg.exposed_tokens)
        fprintf(stderr,
                "warning: %s holds tokens but other users can read it; run 'chmod 600 %s'\n", path,
                path);
    const char *want = a->cluster;
    if (!want || !*want) want = getenv("MLAMBDA_CLUSTER");
    if (want && !*want) want = NULL;
    if (!want) want = c->cfg.current;
    ml_status st = NULL;
    if (want) {
        ml_cluster *cl = ml_config_find(&c->cfg, want);
        if (!cl) {
            st = ml_error(ML_ERR_NOT_FOUND,
                          "no cluster named '%s' in %s; add it with '%s cluster add --name %s "
                          "--server URL'",
                          want, path, ml_program_name, want);
        } else {
            c->target.base_url = cl->server;
            c->target.token = cl->token;
            c->target.cacert = cl->cacert;
            c->target.cluster = cl->name;
            c->grpc = cl->grpc;
        }
    } else if (c->cfg.n_clusters) {
        st = ml_error(ML_ERR_INVALID_ARGUMENT,
                      "no current cluster; choose one with '%s cluster use NAME' or pass "
                      "--cluster NAME",
                      ml_program_name);
    } else {
        c->target.base_url =
            getenv("MLAMBDA_SERVER") ? getenv("MLAMBDA_SERVER") : ML_DEFAULT_SERVER;
    }
    if (st) ml_client_close(c);
    return st;
}

void ml_client_close(ml_client *c) {
    ml_config_free(&c->cfg);
}

int ml_fail(const char *cmd, ml_status st) {
    if (!st) return ML_EXIT_OK;
    fprintf(stderr, "%s %s: %s\n", ml_program_name, cmd, ml_status_message(st));
    int code;
    switch (ml_status_code(st)) {
    case ML_ERR_UNAVAILABLE:
        code = ML_EXIT_UNAVAILABLE;
        break;
    case ML_ERR_NOT_FOUND:
        code = ML_EXIT_NOT_FOUND;
        break;
    default:
        code = ML_EXIT_FAIL;
    }
    ml_status_free(st);
    return code;
}

ml_status ml_parse_ref(const char *ref, char *name, size_t cap, long *version) {
    const char *colon = strrchr(ref, ':');
    size_t n = colon ? (size_t)(colon - ref) : strlen(ref);
    *version = 0;
    if (n >= cap) return ml_error(ML_ERR_INVALID_ARGUMENT, "name '%s' is too long", ref);
    memcpy(name, ref, n);
    name[n] = '\0';
    if (!ml_valid_name(name))
        return ml_error(ML_ERR_INVALID_ARGUMENT,
                        "'%s' is not a valid name (letters, digits, '.', '_', '-'; up to 128)",
                        ref);
    if (colon) {
        char *end;
        long v = strtol(colon + 1, &end, 10);
        if (!colon[1] || *end || v < 1 || v > 1000000000)
            return ml_error(ML_ERR_INVALID_ARGUMENT,
                            "version in '%s' must be a positive number, as in %s:1", ref, name);
        *version = v;
    }
    return NULL;
}

char *ml_pathf(const char *fmt, ...) {
    /* Only %s and %ld are used by callers; strings are escaped, numbers not. */
    char out[8192];
    size_t n = 0;
    va_list ap;
    va_start(ap, fmt);
    for (const char *p = fmt; *p && n < sizeof out - 1; p++) {
        if (p[0] == '%' && p[1] == 's') {
            char *e = ml_url_escape(va_arg(ap, const char *));
            if (!e) {
                va_end(ap);
                return NULL;
            }
            n += (size_t)snprintf(out + n, sizeof out - n, "%s", e);
            free(e);
            p++;
        } else if (p[0] == '%' && p[1] == 'l' && p[2] == 'd') {
            n += (size_t)snprintf(out + n, sizeof out - n, "%ld", va_arg(ap, long));
            p += 2;
        } else {
            out[n++] = *p;
        }
        if (n >= sizeof out) n = sizeof out - 1;
    }
    va_end(ap);
    out[n] = '\0';
    return strdup(out);
}

const char *ml_jstr(const json_t *obj, const char *key, const char *dflt) {
    json_t *v = json_object_get(obj, key);
    return json_is_string(v) ? json_string_value(v) : dflt;
}

void ml_print_json(const json_t *v) {
    char *s = json_dumps(v, JSON_INDENT(2) | JSON_ENCODE_ANY);
    if (s) puts(s);
    free(s);
}

void ml_format_shape(const json_t *shape, char *buf, size_t cap) {
    size_t n = (size_t)snprintf(buf, cap, "[");
    size_t i;
    json_t *d;
    json_array_foreach(shape, i, d) {
        if (n >= cap) break;
        n += (size_t)snprintf(buf + n, cap - n, "%s%" JSON_INTEGER_FORMAT, i ? ", " : "",
                              json_integer_value(d));
    }
    if (n < cap) snprintf(buf + n, cap - n, "]");
    if (!json_is_array(shape)) snprintf(buf, cap, "-");
}

void ml_print_contract(const json_t *contract) {
    if (!json_is_object(contract)) {
        printf("contract: -\n");
        return;
    }
    static const char *hdr[] = {"DIRECTION", "NAME", "DTYPE", "SHAPE", "PROFILE"};
    ml_table *t = ml_table_new(5, hdr);
    if (!t) return;
    for (int dir = 0; dir < 2; dir++) {
        json_t *list = json_object_get(contract, dir ? "outputs" : "inputs");
        size_t i;
        json_t *f;
        json_array_foreach(list, i, f) {
            char shape[256];
            ml_format_shape(json_object_get(f, "shape"), shape, sizeof shape);
            const char *row[] = {dir ? "output" : "input", ml_jstr(f, "name", "-"),
                                 ml_jstr(f, "dtype", "-"), shape, ml_jstr(f, "profile", "-")};
            ml_table_add(t, row);
        }
    }
    printf("contract (signature %s):\n", ml_jstr(contract, "signature", "predict"));
    ml_table_print(t, stdout);
    ml_table_free(t);
}

int ml_dispatch(const char *group, const char *summary, const char *example,
                const ml_subcommand *subs, int argc, char **argv) {
    const char *sub = argc > 1 ? argv[1] : NULL;
    int help = !sub || !strcmp(sub, "--help") || !strcmp(sub, "-h") || !strcmp(sub, "help");
    if (!help) {
        for (const ml_subcommand *s = subs; s->name; s++)
            if (!strcmp(s->name, sub)) return s->run(argc - 1, argv + 1);
        fprintf(stderr, "%s %s: unknown subcommand '%s'\n", ml_program_name, group, sub);
    }
    FILE *out = help && sub ? stdout : stderr;
    fprintf(out, "Usage: %s %s <subcommand> [options]\n\n%s.\n\nSubcommands:\n", ml_program_name,
            group, summary);
    for (const ml_subcommand *s = subs; s->name; s++)
        if (s->summary) fprintf(out, "  %-8s %s\n", s->name, s->summary);
    fprintf(out, "\nExample:\n%s\n\nRun '%s %s <subcommand> --help' for its options.\n", example,
            ml_program_name, group);
    return help && sub ? ML_EXIT_OK : ML_EXIT_USAGE;
}
