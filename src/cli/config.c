#include "cli/config.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/yaml_json.h"

#define MAX_CLUSTERS 1024

ml_status ml_config_path(char *buf, size_t cap) {
    const char *xdg = getenv("XDG_CONFIG_HOME");
    int n;
    if (xdg && xdg[0] == '/') {
        n = snprintf(buf, cap, "%s/mlambda/config.yaml", xdg);
    } else {
        const char *home = getenv("HOME");
        if (!home || !*home)
            return ml_error(ML_ERR_INVALID_ARGUMENT,
                            "neither XDG_CONFIG_HOME nor HOME is set; set one so the CLI can "
                            "find its config.yaml");
        n = snprintf(buf, cap, "%s/.config/mlambda/config.yaml", home);
    }
    if (n < 0 || (size_t)n >= cap)
        return ml_error(ML_ERR_INVALID_ARGUMENT, "config directory path is too long");
    return NULL;
}

int ml_valid_name(const char *name) {
    size_t n = name ? strlen(name) : 0;
    if (n == 0 || n > 128) return 0;
    for (size_t i = 0; i < n; i++) {
        char ch = name[i];
        int alnum =
            (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9');
        if (!alnum && (i == 0 || (ch != '.' && ch != '_' && ch != '-'))) return 0;
    }
    return 1;
}

ml_status ml_check_server_url(const char *url) {
    const char *rest = NULL;
    if (!strncmp(url, "http://", 7))
        rest = url + 7;
    else if (!strncmp(url, "https://", 8))
        rest = url + 8;
    if (!rest || !*rest || *rest == '/' || strlen(url) > 2048)
        return ml_error(ML_ERR_INVALID_ARGUMENT,
                        "server URL '%s' must look like http://HOST[:PORT] or https://HOST[:PORT]",
                        url);
    for (const char *p = url; *p; p++)
        if ((unsigned char)*p <= ' ')
            return ml_error(ML_ERR_INVALID_ARGUMENT,
                            "server URL '%s' contains a space or control "
                            "character",
                            url);
    return NULL;
}

static char *dup_or_null(const char *s) {
    return s ? strdup(s) : NULL;
}

static void cluster_free(ml_cluster *c) {
    free(c->name);
    free(c->server);
    free(c->grpc);
    free(c->token);
    free(c->cacert);
    memset(c, 0, sizeof *c);
}

void ml_config_free(ml_config *cfg) {
    for (size_t i = 0; i < cfg->n_clusters; i++) cluster_free(&cfg->clusters[i]);
    free(cfg->clusters);
    free(cfg->current);
    memset(cfg, 0, sizeof *cfg);
}

ml_cluster *ml_config_find(ml_config *cfg, const char *name) {
    for (size_t i = 0; i < cfg->n_clusters; i++)
        if (!strcmp(cfg->clusters[i].name, name)) return &cfg->clusters[i];
    return NULL;
}

ml_status ml_config_put(ml_config *cfg, const ml_cluster *c, int *replaced) {
    ml_cluster copy = {strdup(c->name), strdup(c->server), dup_or_null(c->grpc),
                       dup_or_null(c->token), dup_or_null(c->cacert)};
    if (!copy.name || !copy.server || (c->grpc && !copy.grpc) || (c->token && !copy.token) ||
        (c->cacert && !copy.cacert)) {
        cluster_free(&copy);
        return ml_error(ML_ERR_OUT_OF_MEMORY, "out of memory");
    }
    ml_cluster *old = ml_config_find(cfg, c->name);
    if (replaced) *replaced = old != NULL;
    if (old) {
        cluster_free(old);
        *old = copy;
        return NULL;
    }
    if (cfg->n_clusters >= MAX_CLUSTERS) {
        cluster_free(&copy);
        return ml_error(ML_ERR_RESOURCE_EXHAUSTED,
                        "too many clusters (limit %d); remove some "
                        "with 'cluster rm'",
                        MAX_CLUSTERS);
    }
    ml_cluster *grown = realloc(cfg->clusters, (cfg->n_clusters + 1) * sizeof *grown);
    if (!grown) {
        cluster_free(&copy);
        return ml_error(ML_ERR_OUT_OF_MEMORY, "out of memory");
    }
    cfg->clusters = grown;
    cfg->clusters[cfg->n_clusters++] = copy;
    return NULL;
}

int ml_config_remove(ml_config *cfg, const char *name) {
    ml_cluster *c = ml_config_find(cfg, name);
    if (!c) return 0;
    size_t idx = (size_t)(c - cfg->clusters);
    cluster_free(c);
    memmove(&cfg->clusters[idx], &cfg->clusters[idx + 1], (cfg->n_clusters - idx - 1) * sizeof *c);
    cfg->n_clusters--;
    if (cfg->current && !strcmp(cfg->current, name)) {
        free(cfg->current);
        cfg->current = NULL;
    }
    return 1;
}

static const char *opt_string(json_t *obj, const char *key) {
    json_t *v = json_object_get(obj, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static ml_status load_from_json(const char *path, json_t *doc, ml_config *cfg) {
    if (!json_is_object(doc))
        return ml_error(ML_ERR_INVALID_ARGUMENT,
                        "%s: expected a mapping with 'clusters'; fix or "
                        "delete the file",
                        path);
    const char *cur = opt_string(doc, "current-cluster");
    if (cur && !(cfg->current = strdup(cur)))
        return ml_error(ML_ERR_OUT_OF_MEMORY, "out of memory");
    json_t *list = json_object_get(doc, "clusters");
    if (list && !json_is_array(list) && !json_is_null(list))
        return ml_error(ML_ERR_INVALID_ARGUMENT, "%s: 'clusters' must be a list", path);
    size_t i;
    json_t *item;
    json_array_foreach(list, i, item) {
        ml_cluster c = {(char *)opt_string(item, "name"), (char *)opt_string(item, "server"),
                        (char *)opt_string(item, "grpc"), (char *)opt_string(item, "token"),
                        (char *)opt_string(item, "cacert")};
        if (!c.name || !c.server)
            return ml_error(ML_ERR_INVALID_ARGUMENT,
                            "%s: cluster #%zu needs both 'name' and 'server'; fix the file or "
                            "re-add it with 'cluster add'",
                            path, i + 1);
        ML_TRY(ml_config_put(cfg, &c, NULL));
    }
    return NULL;
}

ml_status ml_config_load(const char *path, ml_config *cfg) {
    memset(cfg, 0, sizeof *cfg);
    struct stat sb;
    if (stat(path, &sb) != 0) {
        if (errno == ENOENT) return NULL;
        return ml_error(ML_ERR_IO, "cannot read %s: %s", path, strerror(errno));
    }
    json_t *docs;
    ML_TRY(ml_yaml_parse_file(path, &docs));
    ml_status st = NULL;
    if (json_array_size(docs) > 1)
        st = ml_error(ML_ERR_INVALID_ARGUMENT, "%s: expected one YAML document", path);
    else if (json_array_size(docs) == 1)
        st = load_from_json(path, json_array_get(docs, 0), cfg);
    json_decref(docs);
    if (st) {
        ml_config_free(cfg);
        return st;
    }
    for (size_t i = 0; i < cfg->n_clusters; i++)
        if (cfg->clusters[i].token && (sb.st_mode & 077)) cfg->exposed_tokens = 1;
    return NULL;
}

static ml_status make_dirs(char *path) {
    /* Creates every missing parent of `path` (mutated temporarily). */
    for (char *p = path + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        int rc = mkdir(path, 0700);
        int err = errno;
        *p = '/';
        if (rc != 0 && err != EEXIST) {
            *p = '\0';
            ml_status st =
                ml_error(ML_ERR_IO, "cannot create directory %s: %s", path, strerror(err));
            *p = '/';
            return st;
        }
    }
    return NULL;
}

ml_status ml_config_save(const char *path, const ml_config *cfg) {
    json_t *doc = json_object();
    if (cfg->current) json_object_set_new(doc, "current-cluster", json_string(cfg->current));
    json_t *list = json_array();
    for (size_t i = 0; i < cfg->n_clusters; i++) {
        const ml_cluster *c = &cfg->clusters[i];
        json_t *o = json_object();
        json_object_set_new(o, "name", json_string(c->name));
        json_object_set_new(o, "server", json_string(c->server));
        if (c->grpc) json_object_set_new(o, "grpc", json_string(c->grpc));
        if (c->token) json_object_set_new(o, "token", json_string(c->token));
        if (c->cacert) json_object_set_new(o, "cacert", json_string(c->cacert));
        json_array_append_new(list, o);
    }
    json_object_set_new(doc, "clusters", list);

    char dirbuf[4096], tmp[4200] = "";
    snprintf(dirbuf, sizeof dirbuf, "%s", path);
    ml_status st = make_dirs(dirbuf);
    int fd = -1;
    FILE *f = NULL;
    if (!st) {
        snprintf(tmp, sizeof tmp, "%s.tmpXXXXXX", path);
        fd = mkstemp(tmp); /* mkstemp creates the file with mode 0600 */
        if (fd < 0) st = ml_error(ML_ERR_IO, "cannot write %s: %s", path, strerror(errno));
    }
    if (!st && fchmod(fd, 0600) != 0)
        st = ml_error(ML_ERR_IO, "cannot set mode 0600 on %s: %s", tmp, strerror(errno));
    if (!st && !(f = fdopen(fd, "w"))) st = ml_error(ML_ERR_IO, "cannot write %s", tmp);
    if (f) fd = -1;
    if (!st) {
        fputs("# mlambda CLI configuration (managed by 'mlambda cluster ...')\n", f);
        st = ml_yaml_emit(f, doc);
    }
    if (!st && (fflush(f) != 0 || fsync(fileno(f)) != 0))
        st = ml_error(ML_ERR_IO, "cannot write %s: %s", tmp, strerror(errno));
    if (f && fclose(f) != 0 && !st) st = ml_error(ML_ERR_IO, "cannot write %s", tmp);
    if (fd >= 0) close(fd);
    if (!st && rename(tmp, path) != 0)
        st = ml_error(ML_ERR_IO, "cannot replace %s: %s", path, strerror(errno));
    if (st && tmp[0]) unlink(tmp);
    json_decref(doc);
    return st;
}
