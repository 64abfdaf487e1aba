/* The CLI's cluster configuration: named server connections and the current
 * one, stored as YAML in $XDG_CONFIG_HOME/mlambda/config.yaml (default
 * ~/.config/mlambda/config.yaml), mode 0600 because it can hold tokens.
 *
 *   current-cluster: local
 *   clusters:
 *     - name: local
 *       server: http://localhost:9090
 *       grpc: localhost:9091        # optional
 *       token: s3cret               # optional, sent as "Authorization: Bearer"
 *       cacert: /path/ca.pem        # optional, trusted for an https server (REST and gRPC)
 */
#ifndef MLAMBDA_CLI_CONFIG_H
#define MLAMBDA_CLI_CONFIG_H

#include <stddef.h>

#include "core/status.h"

/* Used when no cluster is configured, so `mlambda serve` + `mlambda model
 * list` works out of the box. */
#define ML_DEFAULT_SERVER "http://127.0.0.1:9090"

typedef struct ml_cluster {
    char *name, *server, *grpc, *token; /* owned; grpc/token may be NULL */
    char *cacert;                       /* owned PEM file path, or NULL (system CAs) */
} ml_cluster;

typedef struct ml_config {
    char *current;        /* owned, may be NULL */
    ml_cluster *clusters; /* owned array */
    size_t n_clusters;
    int exposed_tokens; /* set by load: the file holds tokens and others can read it */
} ml_config;

/* Writes the config file path into buf. */
ml_status ml_config_path(char *buf, size_t cap);

/* Loads `path`; a missing file yields an empty config. */
ml_status ml_config_load(const char *path, ml_config *cfg);

/* Writes atomically (temp file + rename) with mode 0600, creating the
 * directory (0700) when needed. */
ml_status ml_config_save(const char *path, const ml_config *cfg);

void ml_config_free(ml_config *cfg);

/* Borrowed pointer into cfg, or NULL. */
ml_cluster *ml_config_find(ml_config *cfg, const char *name);

/* Adds or replaces the cluster (copying its strings); *replaced tells which. */
ml_status ml_config_put(ml_config *cfg, const ml_cluster *c, int *replaced);

/* Removes a cluster; returns 0 when there was none of that name. Clears
 * `current` when it pointed at it. */
int ml_config_remove(ml_config *cfg, const char *name);

/* Checks a cluster/model/application name: [A-Za-z0-9][A-Za-z0-9._-]{0,127}. */
int ml_valid_name(const char *name);

/* Checks a server URL: http:// or https:// followed by a host. */
ml_status ml_check_server_url(const char *url);

#endif
