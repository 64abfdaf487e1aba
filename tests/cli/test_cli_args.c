/* Option parsing and reference helpers shared by every command
 * (src/cli/cmd_common.c). */
#include <stdlib.h>
#include <string.h>

#include "cli/cmd_common.h"
#include "cli/commands.h"
#include "test.h"

const char *ml_program_name = "mlambda";

static const ml_opt opts[] = {
    {"name", 'n', ML_OPT_VALUE, "NAME", "a name"},
    {"label", 'l', ML_OPT_MULTI, "K=V", "a label"},
    {"quiet", 'q', ML_OPT_FLAG, NULL, "quiet"},
    {NULL, 0, 0, NULL, NULL},
};
static const ml_cmd_spec spec = {"demo", "ARG", "A demo.", "  mlambda demo x", opts, 1, 2};

static int parse(ml_args *a, int argc, const char **argv) {
    return ml_args_parse(&spec, argc, (char **)argv, a);
}

static void values_flags_and_lists(void) {
    const char *argv[] = {"demo", "pos1", "--name=seq", "-l",        "a=1",  "--label",
                          "b=2",  "-q",   "--json",     "--cluster", "prod", "pos2"};
    ml_args a;
    CHECK_EQ_INT(parse(&a, 12, argv), -1);
    CHECK_STR(ml_arg(&a, "name"), "seq");
    CHECK_EQ_INT(ml_arg_count(&a, "quiet"), 1);
    int n = 0;
    const char **labels = ml_arg_multi(&a, "label", &n);
    CHECK_EQ_INT(n, 2);
    if (n == 2) {
        CHECK_STR(labels[0], "a=1");
        CHECK_STR(labels[1], "b=2");
    }
    CHECK_EQ_INT(a.npos, 2);
    CHECK_STR(a.pos[0], "pos1");
    CHECK_STR(a.pos[1], "pos2");
    CHECK_EQ_INT(a.json, 1);
    CHECK_STR(a.cluster, "prod");
    CHECK(ml_arg(&a, "missing") == NULL);
    ml_args_free(&a);
}

static void usage_errors(void) {
    ml_args a;
    const char *unknown[] = {"demo", "x", "--bogus"};
    CHECK_EQ_INT(parse(&a, 3, unknown), ML_EXIT_USAGE);
    const char *no_value[] = {"demo", "x", "--name"};
    CHECK_EQ_INT(parse(&a, 3, no_value), ML_EXIT_USAGE);
    const char *flag_value[] = {"demo", "x", "--quiet=1"};
    CHECK_EQ_INT(parse(&a, 3, flag_value), ML_EXIT_USAGE);
    const char *too_many[] = {"demo", "a", "b", "c"};
    CHECK_EQ_INT(parse(&a, 4, too_many), ML_EXIT_USAGE);
    const char *missing[] = {"demo", "-q"};
    CHECK_EQ_INT(parse(&a, 2, missing), ML_EXIT_USAGE);
    /* After "--" everything is positional, even "-q". */
    const char *dashdash[] = {"demo", "--", "-q"};
    CHECK_EQ_INT(parse(&a, 3, dashdash), -1);
    CHECK_STR(a.pos[0], "-q");
    ml_args_free(&a);
}

static void global_defaults(void) {
    ml_global_cluster = "staging";
    ml_global_json = 1;
    const char *argv[] = {"demo", "x"};
    ml_args a;
    CHECK_EQ_INT(parse(&a, 2, argv), -1);
    CHECK_STR(a.cluster, "staging");
    CHECK_EQ_INT(a.json, 1);
    ml_args_free(&a);
    ml_global_cluster = NULL;
    ml_global_json = 0;
}

static void references(void) {
    char name[64];
    long v = -1;
    CHECK_OK(ml_parse_ref("seq2seq:12", name, sizeof name, &v));
    CHECK_STR(name, "seq2seq");
    CHECK_EQ_INT(v, 12);
    CHECK_OK(ml_parse_ref("seq2seq", name, sizeof name, &v));
    CHECK_EQ_INT(v, 0);
    CHECK_ERR(ml_parse_ref("seq2seq:", name, sizeof name, &v), ML_ERR_INVALID_ARGUMENT);
    CHECK_ERR(ml_parse_ref("seq2seq:0", name, sizeof name, &v), ML_ERR_INVALID_ARGUMENT);
    CHECK_ERR(ml_parse_ref("seq2seq:x", name, sizeof name, &v), ML_ERR_INVALID_ARGUMENT);
    CHECK_ERR(ml_parse_ref("../etc:1", name, sizeof name, &v), ML_ERR_INVALID_ARGUMENT);
    char *p = ml_pathf("/api/v2/models/%s/versions/%ld", "a b", 3L);
    CHECK_STR(p, "/api/v2/models/a%20b/versions/3");
    free(p);
}

static void client_picks_a_cluster(void) {
    char dir[] = "/tmp/mlambda-test-args-XXXXXX";
    if (!mkdtemp(dir)) return;
    setenv("XDG_CONFIG_HOME", dir, 1);
    unsetenv("MLAMBDA_CLUSTER");
    unsetenv("MLAMBDA_SERVER");
    ml_args a = {0};
    a.spec = &spec;
    ml_client c;
    /* Nothing configured: the local default. */
    CHECK_OK(ml_client_open(&a, &c));
    CHECK_STR(c.target.base_url, ML_DEFAULT_SERVER);
    ml_client_close(&c);
    /* An unknown --cluster is NOT_FOUND (exit code 4), with the fix in the message. */
    a.cluster = "nope";
    ml_status st = ml_client_open(&a, &c);
    CHECK_EQ_INT(ml_status_code(st), ML_ERR_NOT_FOUND);
    CHECK(st && strstr(ml_status_message(st), "cluster add --name nope"));
    CHECK_EQ_INT(ml_fail("demo", st), ML_EXIT_NOT_FOUND);
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK_EQ_INT(system(cmd), 0);
}

int main(void) {
    RUN(values_flags_and_lists);
    RUN(usage_errors);
    RUN(global_defaults);
    RUN(references);
    RUN(client_picks_a_cluster);
    return TEST_SUMMARY();
}
