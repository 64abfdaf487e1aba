/* `model list|get|rm`: the registry's models and versions. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cmd_common.h"
#include "cli/commands.h"
#include "cli/progress.h"
#include "cli/table.h"

static const ml_cmd_spec list_spec = {"model list",
                                      "",
                                      "Lists models with their latest version.",
                                      "  mlambda model list\n"
                                      "  mlambda model list --json | jq -r '.models[].name'",
                                      NULL,
                                      0,
                                      0};
static const ml_cmd_spec get_spec = {
    "model get",
    "NAME[:VERSION]",
    "Shows a model and its versions, or one version with its contract.",
    "  mlambda model get seq2seq\n  mlambda model get seq2seq:2",
    NULL,
    1,
    1};
static const ml_opt rm_opts[] = {
    {"yes", 'y', ML_OPT_FLAG, NULL, "accepted for scripts; removal never prompts"},
    {NULL, 0, 0, NULL, NULL},
};
static const ml_cmd_spec rm_spec = {
    "model rm",
    "NAME[:VERSION]",
    "Deletes one version, or the whole model with every version. Versions used by an "
    "application cannot be deleted (update or remove the application first).",
    "  mlambda model rm seq2seq:1\n  mlambda model rm seq2seq",
    rm_opts,
    1,
    1};

static void labels_text(const json_t *labels, char *buf, size_t cap) {
    size_t n = 0;
    const char *k;
    json_t *v;
    buf[0] = '\0';
    json_object_foreach((json_t *)labels, k, v) {
        if (n >= cap) break;
        n += (size_t)snprintf(buf + n, cap - n, "%s%s=%s", n ? "," : "", k,
                              json_is_string(v) ? json_string_value(v) : "?");
    }
    if (!buf[0]) snprintf(buf, cap, "-");
}

static int model_list(int argc, char **argv) {
    ml_args a;
    int rc = ml_args_parse(&list_spec, argc, argv, &a);
    if (rc >= 0) return rc;
    ml_client c;
    json_t *ans = NULL;
    ml_status st = ml_client_open(&a, &c);
    if (!st) {
        st = ml_http_json(&c.target, "GET", "/api/v2/models", NULL, NULL, &ans);
        ml_client_close(&c);
    }
    if (!st && a.json) {
        ml_print_json(ans);
    } else if (!st) {
        static const char *hdr[] = {"NAME", "LATEST", "DESCRIPTION", "LABELS", "UPDATED"};
        ml_table *t = ml_table_new(5, hdr);
        size_t i;
        json_t *m;
        json_array_foreach(json_object_get(ans, "models"), i, m) {
            char latest[32], labels[512];
            snprintf(latest, sizeof latest, "%" JSON_INTEGER_FORMAT,
                     json_integer_value(json_object_get(m, "latest_version")));
            labels_text(json_object_get(m, "labels"), labels, sizeof labels);
            const char *desc = ml_jstr(m, "description", "");
            const char *row[] = {ml_jstr(m, "name", "?"), latest, *desc ? desc : "-", labels,
                                 ml_jstr(m, "updated_at", "-")};
            if (t) ml_table_add(t, row);
        }
        if (t && ml_table_rows(t))
            ml_table_print(t, stdout);
        else
            printf("no models yet; upload one with '%s upload --dir MODEL_FOLDER'\n",
                   ml_program_name);
        ml_table_free(t);
    }
    json_decref(ans);
    ml_args_free(&a);
    return ml_fail("model list", st);
}

static void print_version(const json_t *v) {
    char size[32];
    ml_format_bytes((uint64_t)json_integer_value(json_object_get(v, "size_bytes")), size,
                    sizeof size);
    printf("model:    %s:%" JSON_INTEGER_FORMAT "\n", ml_jstr(v, "name", "?"),
           json_integer_value(json_object_get(v, "version")));
    printf("status:   %s\nruntime:  %s\ncreated:  %s\ndigest:   %s\nsize:     %s\n",
           ml_jstr(v, "status", "-"), ml_jstr(v, "runtime", "-"), ml_jstr(v, "created_at", "-"),
           ml_jstr(v, "digest", "-"), size);
    json_t *meta = json_object_get(v, "metadata");
    if (json_object_size(meta)) {
        printf("metadata:\n");
        const char *k;
        json_t *x;
        json_object_foreach(meta, k, x) {
            char *s = json_is_string(x) ? NULL : json_dumps(x, JSON_COMPACT | JSON_ENCODE_ANY);
            printf("  %s: %s\n", k, s ? s : json_string_value(x));
            free(s);
        }
    }
    ml_print_contract(json_object_get(v, "contract"));
}

static void print_model(const json_t *m) {
    char labels[1024];
    labels_text(json_object_get(m, "labels"), labels, sizeof labels);
    const char *desc = ml_jstr(m, "description", "");
    printf(
        "model:        %s\ndescription:  %s\nlabels:       %s\nlatest:       %" JSON_INTEGER_FORMAT
        "\ncreated:      %s\nupdated:      %s\n",
        ml_jstr(m, "name", "?"), *desc ? desc : "-", labels,
        json_integer_value(json_object_get(m, "latest_version")), ml_jstr(m, "created_at", "-"),
        ml_jstr(m, "updated_at", "-"));
    static const char *hdr[] = {"VERSION", "STATUS", "RUNTIME", "SIZE", "DIGEST", "CREATED"};
    ml_table *t = ml_table_new(6, hdr);
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(m, "versions"), i, v) {
        char ver[32], size[32], digest[24];
        snprintf(ver, sizeof ver, "%" JSON_INTEGER_FORMAT,
                 json_integer_value(json_object_get(v, "version")));
        ml_format_bytes((uint64_t)json_integer_value(json_object_get(v, "size_bytes")), size,
                        sizeof size);
        /* "sha256:" plus 12 hex digits identify a version well enough on screen. */
        snprintf(digest, sizeof digest, "%.19s", ml_jstr(v, "digest", "-"));
        const char *row[] = {ver,    ml_jstr(v, "status", "-"),    ml_jstr(v, "runtime", "-"), size,
                             digest, ml_jstr(v, "created_at", "-")};
        if (t) ml_table_add(t, row);
    }
    printf("versions:\n");
    if (t) ml_table_print(t, stdout);
    ml_table_free(t);
    /* The latest version's contract is what callers of NAME get. */
    json_int_t latest = json_integer_value(json_object_get(m, "latest_version"));
    json_array_foreach(json_object_get(m, "versions"), i, v) {
        if (json_integer_value(json_object_get(v, "version")) == latest &&
            json_object_get(v, "contract")) {
            printf("latest ");
            ml_print_contract(json_object_get(v, "contract"));
        }
    }
}

static int model_get(int argc, char **argv) {
    ml_args a;
    int rc = ml_args_parse(&get_spec, argc, argv, &a);
    if (rc >= 0) return rc;
    char name[256];
    long ver;
    ml_client c = {0};
    json_t *ans = NULL;
    ml_status st = ml_parse_ref(a.pos[0], name, sizeof name, &ver);
    if (!st) st = ml_client_open(&a, &c);
    if (!st) {
        char *path = ver ? ml_pathf("/api/v2/models/%s/versions/%ld", name, ver)
                         : ml_pathf("/api/v2/models/%s", name);
        st = ml_http_json(&c.target, "GET", path, NULL, NULL, &ans);
        free(path);
        ml_client_close(&c);
    }
    if (!st && a.json)
        ml_print_json(ans);
    else if (!st && ver)
        print_version(ans);
    else if (!st)
        print_model(ans);
    json_decref(ans);
    ml_args_free(&a);
    return ml_fail("model get", st);
}

static int model_rm(int argc, char **argv) {
    ml_args a;
    int rc = ml_args_parse(&rm_spec, argc, argv, &a);
    if (rc >= 0) return rc;
    char name[256];
    long ver;
    ml_client c = {0};
    ml_status st = ml_parse_ref(a.pos[0], name, sizeof name, &ver);
    if (!st) st = ml_client_open(&a, &c);
    if (!st) {
        char *path = ver ? ml_pathf("/api/v2/models/%s/versions/%ld", name, ver)
                         : ml_pathf("/api/v2/models/%s", name);
        st = ml_http_json(&c.target, "DELETE", path, NULL, NULL, NULL);
        free(path);
        ml_client_close(&c);
    }
    if (!st && !a.json) {
        if (ver)
            printf("deleted model version %s:%ld\n", name, ver);
        else
            printf("deleted model %s and all its versions\n", name);
    }
    ml_args_free(&a);
    return ml_fail("model rm", st);
}

static const ml_subcommand subs[] = {
    {"list", "list models", model_list},
    {"ls", NULL, model_list},
    {"get", "show a model or one version with its contract", model_get},
    {"rm", "delete a version or a whole model", model_rm},
    {"delete", NULL, model_rm},
    {NULL, NULL, NULL},
};

int ml_cmd_model(int argc, char **argv) {
    return ml_dispatch("model", "list, show or delete models and versions",
                       "  mlambda model list\n  mlambda model get seq2seq:1\n"
                       "  mlambda model rm seq2seq:1",
                       subs, argc, argv);
}
