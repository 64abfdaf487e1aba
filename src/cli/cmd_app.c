/* `app list|get|rm`: applications (single models or weighted pipelines).
 * Creating and updating them is `apply -f app.yaml`. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/app_format.h"
#include "cli/cmd_common.h"
#include "cli/commands.h"
#include "cli/table.h"

static const ml_cmd_spec list_spec = {
    "app list", "", "Lists applications and their stages.", "  mlambda app list", NULL, 0, 0};
static const ml_cmd_spec get_spec = {
    "app get",
    "NAME",
    "Shows an application: its stages, variants and derived contract.",
    "  mlambda app get chat",
    NULL,
    1,
    1};
static const ml_opt rm_opts[] = {
    {"yes", 'y', ML_OPT_FLAG, NULL, "accepted for scripts; removal never prompts"},
    {NULL, 0, 0, NULL, NULL},
};
static const ml_cmd_spec rm_spec = {
    "app rm", "NAME", "Deletes an application (its models stay).", "  mlambda app rm chat", rm_opts,
    1,        1};

static int app_list(int argc, char **argv) {
    ml_args a;
    int rc = ml_args_parse(&list_spec, argc, argv, &a);
    if (rc >= 0) return rc;
    ml_client c;
    json_t *ans = NULL;
    ml_status st = ml_client_open(&a, &c);
    if (!st) {
        st = ml_http_json(&c.target, "GET", "/api/v2/applications", NULL, NULL, &ans);
        ml_client_close(&c);
    }
    if (!st && a.json) {
        ml_print_json(ans);
    } else if (!st) {
        static const char *hdr[] = {"NAME", "STAGES", "UPDATED"};
        ml_table *t = ml_table_new(3, hdr);
        size_t i;
        json_t *app;
        json_array_foreach(json_object_get(ans, "applications"), i, app) {
            char text[1024] = "-";
            json_t *stages = NULL;
            ml_status sst = ml_app_stages(app, &stages);
            if (!sst) ml_app_stages_text(stages, text, sizeof text);
            ml_status_free(sst);
            json_decref(stages);
            const char *row[] = {ml_jstr(app, "name", "?"), text, ml_jstr(app, "updated_at", "-")};
            if (t) ml_table_add(t, row);
        }
        if (t && ml_table_rows(t))
            ml_table_print(t, stdout);
        else
            printf("no applications yet; create one with '%s apply -f app.yaml'\n",
                   ml_program_name);
        ml_table_free(t);
    }
    json_decref(ans);
    ml_args_free(&a);
    return ml_fail("app list", st);
}

static void print_app(const json_t *app) {
    printf("application:  %s\ncreated:      %s\nupdated:      %s\nstages:\n",
           ml_jstr(app, "name", "?"), ml_jstr(app, "created_at", "-"),
           ml_jstr(app, "updated_at", "-"));
    static const char *hdr[] = {"STAGE", "MODEL", "WEIGHT"};
    ml_table *t = ml_table_new(3, hdr);
    json_t *stages = NULL;
    ml_status st = ml_app_stages(app, &stages);
    ml_status_free(st);
    size_t i, j;
    json_t *s, *v;
    json_array_foreach(stages, i, s) {
        json_array_foreach(s, j, v) {
            char stage[24], weight[32];
            snprintf(stage, sizeof stage, "%zu", i + 1);
            snprintf(weight, sizeof weight, "%" JSON_INTEGER_FORMAT "%%",
                     json_integer_value(json_object_get(v, "weight")));
            const char *row[] = {j ? "" : stage, ml_jstr(v, "model", "?"), weight};
            if (t) ml_table_add(t, row);
        }
    }
    if (t) ml_table_print(t, stdout);
    ml_table_free(t);
    json_decref(stages);
    ml_print_contract(json_object_get(app, "contract"));
}

static int app_get(int argc, char **argv) {
    ml_args a;
    int rc = ml_args_parse(&get_spec, argc, argv, &a);
    if (rc >= 0) return rc;
    ml_client c = {0};
    json_t *ans = NULL;
    ml_status st =
        ml_valid_name(a.pos[0])
            ? NULL
            : ml_error(ML_ERR_INVALID_ARGUMENT, "'%s' is not a valid application name", a.pos[0]);
    if (!st) st = ml_client_open(&a, &c);
    if (!st) {
        char *path = ml_pathf("/api/v2/applications/%s", a.pos[0]);
        st = ml_http_json(&c.target, "GET", path, NULL, NULL, &ans);
        free(path);
        ml_client_close(&c);
    }
    if (!st && a.json)
        ml_print_json(ans);
    else if (!st)
        print_app(ans);
    json_decref(ans);
    ml_args_free(&a);
    return ml_fail("app get", st);
}

static int app_rm(int argc, char **argv) {
    ml_args a;
    int rc = ml_args_parse(&rm_spec, argc, argv, &a);
    if (rc >= 0) return rc;
    ml_client c = {0};
    ml_status st =
        ml_valid_name(a.pos[0])
            ? NULL
            : ml_error(ML_ERR_INVALID_ARGUMENT, "'%s' is not a valid application name", a.pos[0]);
    if (!st) st = ml_client_open(&a, &c);
    if (!st) {
        char *path = ml_pathf("/api/v2/applications/%s", a.pos[0]);
        st = ml_http_json(&c.target, "DELETE", path, NULL, NULL, NULL);
        free(path);
        ml_client_close(&c);
    }
    if (!st && !a.json) printf("deleted application %s\n", a.pos[0]);
    ml_args_free(&a);
    return ml_fail("app rm", st);
}

static const ml_subcommand subs[] = {
    {"list", "list applications", app_list},
    {"ls", NULL, app_list},
    {"get", "show an application's stages and contract", app_get},
    {"rm", "delete an application", app_rm},
    {"delete", NULL, app_rm},
    {NULL, NULL, NULL},
};

int ml_cmd_app(int argc, char **argv) {
    return ml_dispatch("app", "list, show or delete applications (create/update: apply -f)",
                       "  mlambda app list\n  mlambda app get chat\n  mlambda app rm chat", subs,
                       argc, argv);
}
