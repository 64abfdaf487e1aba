/* `cluster add|use|list|rm`: named server connections in config.yaml. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cmd_common.h"
#include "cli/commands.h"
#include "cli/table.h"

static const ml_opt add_opts[] = {
    {"name", 'n', ML_OPT_VALUE, "NAME", "name of the cluster (required)"},
    {"server", 's', ML_OPT_VALUE, "URL", "REST base URL, e.g. http://localhost:9090 (required)"},
    {"grpc", 0, ML_OPT_VALUE, "HOST:PORT", "gRPC endpoint, e.g. localhost:9091"},
    {"cacert", 0, ML_OPT_VALUE, "FILE",
     "PEM file of the CA (or self-signed certificate) to trust for an https server, REST and "
     "gRPC"},
    {"token", 0, ML_OPT_VALUE, "TOKEN",
     "bearer token sent with every request; '-' reads it from stdin (keeps it out of ps)"},
    {NULL, 0, 0, NULL, NULL},
};
static const ml_cmd_spec add_spec = {
    "cluster add",
    "",
    "Adds (or replaces) a named server connection. The first cluster added "
    "becomes the current one.",
    "  mlambda cluster add --name local --server http://localhost:9090 --grpc localhost:9091",
    add_opts,
    0,
    0};
static const ml_cmd_spec use_spec = {"cluster use",
                                     "NAME",
                                     "Makes NAME the current cluster for every later command.",
                                     "  mlambda cluster use local",
                                     NULL,
                                     1,
                                     1};
static const ml_cmd_spec list_spec = {
    "cluster list",
    "",
    "Lists the configured clusters; the current one is marked with '*'.",
    "  mlambda cluster list",
    NULL,
    0,
    0};
static const ml_cmd_spec rm_spec = {"cluster rm",
                                    "NAME",
                                    "Removes a cluster from the configuration.",
                                    "  mlambda cluster rm local",
                                    NULL,
                                    1,
                                    1};

typedef struct cfg_file {
    char path[4096];
    ml_config cfg;
} cfg_file;

static ml_status open_cfg(cfg_file *f) {
    ML_TRY(ml_config_path(f->path, sizeof f->path));
    return ml_config_load(f->path, &f->cfg);
}

/* HOST:PORT (or [v6]:PORT) with a numeric port. */
static ml_status check_grpc_address(const char *addr) {
    const char *colon = strrchr(addr, ':');
    char *end = NULL;
    long port = colon ? strtol(colon + 1, &end, 10) : 0;
    if (!colon || colon == addr || !colon[1] || *end || port < 1 || port > 65535 ||
        strpbrk(addr, "/ \t"))
        return ml_error(ML_ERR_INVALID_ARGUMENT,
                        "gRPC address '%s' must look like HOST:PORT, e.g. localhost:9091", addr);
    return NULL;
}

/* One line from stdin, without the newline. */
static ml_status read_token(char *buf, size_t cap) {
    if (!fgets(buf, (int)cap, stdin))
        return ml_error(ML_ERR_INVALID_ARGUMENT, "--token - expects the token on standard input");
    buf[strcspn(buf, "\r\n")] = '\0';
    if (!buf[0]) return ml_error(ML_ERR_INVALID_ARGUMENT, "the token read from stdin is empty");
    return NULL;
}

static int cluster_add(int argc, char **argv) {
    ml_args a;
    int rc = ml_args_parse(&add_spec, argc, argv, &a);
    if (rc >= 0) return rc;
    const char *name = ml_arg(&a, "name"), *server = ml_arg(&a, "server");
    if (!name || !server) {
        ml_args_free(&a);
        return ml_usage_error(&add_spec, "--name and --server are required");
    }
    ml_status st = NULL;
    if (!ml_valid_name(name))
        st = ml_error(ML_ERR_INVALID_ARGUMENT,
                      "'%s' is not a valid cluster name (letters, digits, "
                      "'.', '_', '-')",
                      name);
    if (!st) st = ml_check_server_url(server);
    const char *grpc = ml_arg(&a, "grpc");
    if (!st && grpc) st = check_grpc_address(grpc);
    char token_buf[4096];
    const char *token = ml_arg(&a, "token");
    if (!st && token && !strcmp(token, "-")) {
        st = read_token(token_buf, sizeof token_buf);
        token = token_buf;
    }
    const char *cacert = ml_arg(&a, "cacert");
    char cacert_abs[PATH_MAX];
    if (!st && cacert) {
        /* stored absolute: later commands run from other directories */
        if (!realpath(cacert, cacert_abs) || access(cacert_abs, R_OK) != 0)
            st = ml_error(ML_ERR_INVALID_ARGUMENT, "cannot read the CA file '%s'", cacert);
        cacert = cacert_abs;
    }
    cfg_file f = {0};
    if (!st) st = open_cfg(&f);
    int replaced = 0;
    if (!st) {
        ml_cluster c = {(char *)name, (char *)server, (char *)grpc, (char *)token, (char *)cacert};
        st = ml_config_put(&f.cfg, &c, &replaced);
    }
    int made_current = 0;
    if (!st && !f.cfg.current) {
        f.cfg.current = strdup(name);
        made_current = 1;
    }
    if (!st) st = ml_config_save(f.path, &f.cfg);
    if (!st) {
        if (a.json) {
            printf("{\"name\": \"%s\", \"replaced\": %s, \"current\": %s}\n", name,
                   replaced ? "true" : "false", made_current ? "true" : "false");
        } else {
            printf("cluster '%s' %s (%s)\n", name, replaced ? "updated" : "added", server);
            if (made_current) printf("'%s' is now the current cluster\n", name);
        }
    }
    ml_config_free(&f.cfg);
    ml_args_free(&a);
    return ml_fail("cluster add", st);
}

static int cluster_use(int argc, char **argv) {
    ml_args a;
    int rc = ml_args_parse(&use_spec, argc, argv, &a);
    if (rc >= 0) return rc;
    cfg_file f = {0};
    ml_status st = open_cfg(&f);
    if (!st && !ml_config_find(&f.cfg, a.pos[0]))
        st = ml_error(ML_ERR_NOT_FOUND,
                      "no cluster named '%s'; see '%s cluster list' or add it "
                      "with 'cluster add'",
                      a.pos[0], ml_program_name);
    if (!st) {
        char *cur = strdup(a.pos[0]);
        if (!cur)
            st = ml_error(ML_ERR_OUT_OF_MEMORY, "out of memory");
        else {
            free(f.cfg.current);
            f.cfg.current = cur;
            st = ml_config_save(f.path, &f.cfg);
        }
    }
    if (!st && !a.json) printf("switched to cluster '%s'\n", a.pos[0]);
    ml_config_free(&f.cfg);
    ml_args_free(&a);
    return ml_fail("cluster use", st);
}

static int cluster_list(int argc, char **argv) {
    ml_args a;
    int rc = ml_args_parse(&list_spec, argc, argv, &a);
    if (rc >= 0) return rc;
    cfg_file f = {0};
    ml_status st = open_cfg(&f);
    if (!st && a.json) {
        json_t *arr = json_array();
        for (size_t i = 0; i < f.cfg.n_clusters; i++) {
            const ml_cluster *c = &f.cfg.clusters[i];
            json_t *o = json_pack("{s:s, s:s, s:b, s:b}", "name", c->name, "server", c->server,
                                  "current", f.cfg.current && !strcmp(f.cfg.current, c->name),
                                  "has_token", c->token != NULL);
            if (c->grpc) json_object_set_new(o, "grpc", json_string(c->grpc));
            json_array_append_new(arr, o);
        }
        json_t *doc = json_pack("{s:o}", "clusters", arr);
        ml_print_json(doc);
        json_decref(doc);
    } else if (!st && f.cfg.n_clusters == 0) {
        printf("no clusters configured (commands use %s); add one with:\n  %s cluster add --name "
               "local --server http://localhost:9090\n",
               ML_DEFAULT_SERVER, ml_program_name);
    } else if (!st) {
        static const char *hdr[] = {"CURRENT", "NAME", "SERVER", "GRPC", "TOKEN"};
        ml_table *t = ml_table_new(5, hdr);
        for (size_t i = 0; t && i < f.cfg.n_clusters; i++) {
            const ml_cluster *c = &f.cfg.clusters[i];
            const char *row[] = {f.cfg.current && !strcmp(f.cfg.current, c->name) ? "*" : "",
                                 c->name, c->server, c->grpc ? c->grpc : "-",
                                 c->token ? "(set)" : "-"};
            ml_table_add(t, row);
        }
        if (t) ml_table_print(t, stdout);
        ml_table_free(t);
    }
    ml_config_free(&f.cfg);
    ml_args_free(&a);
    return ml_fail("cluster list", st);
}

static int cluster_rm(int argc, char **argv) {
    ml_args a;
    int rc = ml_args_parse(&rm_spec, argc, argv, &a);
    if (rc >= 0) return rc;
    cfg_file f = {0};
    ml_status st = open_cfg(&f);
    int was_current = 0;
    if (!st) {
        was_current = f.cfg.current && !strcmp(f.cfg.current, a.pos[0]);
        if (!ml_config_remove(&f.cfg, a.pos[0]))
            st = ml_error(ML_ERR_NOT_FOUND, "no cluster named '%s'; see '%s cluster list'",
                          a.pos[0], ml_program_name);
    }
    if (!st) st = ml_config_save(f.path, &f.cfg);
    if (!st && !a.json) {
        printf("cluster '%s' removed\n", a.pos[0]);
        if (was_current && f.cfg.n_clusters)
            printf("no cluster is current now; pick one with '%s cluster use NAME'\n",
                   ml_program_name);
    }
    ml_config_free(&f.cfg);
    ml_args_free(&a);
    return ml_fail("cluster rm", st);
}

static const ml_subcommand subs[] = {
    {"add", "add or replace a server connection", cluster_add},
    {"use", "make a cluster the current one", cluster_use},
    {"list", "list clusters (current marked with *)", cluster_list},
    {"ls", NULL, cluster_list},
    {"rm", "remove a cluster", cluster_rm},
    {NULL, NULL, NULL},
};

int ml_cmd_cluster(int argc, char **argv) {
    return ml_dispatch("cluster", "manage server connections",
                       "  mlambda cluster add --name local --server http://localhost:9090\n"
                       "  mlambda cluster use local",
                       subs, argc, argv);
}
