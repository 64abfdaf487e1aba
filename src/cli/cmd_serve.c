/* `mlambda serve`: opens the registry, starts the REST server and runs until
 * SIGTERM/SIGINT, then drains in-flight requests before exiting. */
#include <getopt.h>
#include <pthread.h>
#include <stdbool.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "api/auth.h"
#include "api/grpc/grpc_server.h"
#include "api/server.h"
#include "cli/commands.h"
#include "cli/yaml_json.h"
#include "core/log.h"

static void usage(FILE *out) {
    fprintf(
        out,
        "Usage: %s serve [options]\n\n"
        "Runs the model server: management API (/api/v2), KServe V2 (/v2), TF-Serving (/v1),\n"
        "the application gateway (/gateway), /metrics and the web UI.\n\n"
        "Options:\n"
        "  --port N            listen port (default 9090; 0 picks a free one)\n"
        "  --host ADDR         listen address (default 127.0.0.1; 0.0.0.0 for all)\n"
        "  --data-dir DIR      models and the SQLite registry (default $MLAMBDA_HOME or\n"
        "                      ~/.local/share/mlambda)\n"
        "  --db URI            registry database: postgres://user@host:port/db (default: SQLite\n"
        "                      file in the data dir)\n"
        "  --max-upload-mb N   largest model upload (default 1024)\n"
        "  --max-body-mb N     largest inference body (default 64)\n"
        "  --max-elements N    most elements per request tensor (default 16777216)\n"
        "  --max-depth N       deepest JSON array nesting (default 16)\n"
        "  --seed N            seed of the traffic-split RNG (default: random)\n"
        "  --threads N         intra-op threads (default: number of CPUs)\n"
        "  --port-file PATH    write the bound port here once listening\n"
        "  --http-threads N    serve HTTP from N epoll event loops (requests over 250 us of\n"
        "                      CPU run on workers) instead of a thread per connection\n"
        "  --http-workers N    with --http-threads: most workers for slow requests (default 256)\n"
        "  --max-connections N most open HTTP connections (default 1024)\n"
        "  --grpc-port N       gRPC port (KServe V2 + TF-Serving; default 9091; 0 picks one)\n"
        "  --grpc-max-message BYTES  largest gRPC message (default 67108864)\n"
        "  --grpc-workers N    gRPC calls handled at once (default 2 x CPUs, at least 4);\n"
        "                      a batch gathers at most this many gRPC requests\n"
        "  --no-grpc           do not start the gRPC server\n"
        "  --tls-cert FILE --tls-key FILE  serve HTTPS and gRPC over TLS with this PEM\n"
        "                      certificate chain and private key\n"
        "  --auth-token-file F require 'Authorization: Bearer <token>' (gRPC metadata too) for\n"
        "                      everything but health checks; F lists tokens, one per line\n"
        "  --request-timeout-ms N  inference deadline from arrival (REST, and gRPC calls without\n"
        "                      their own deadline); a request past it stops with 504 /\n"
        "                      DEADLINE_EXCEEDED (default 0: none)\n"
        "  --log-level L       error|warn|info|debug (default info)\n\n"
        "Example:\n  %s serve --port 9090 --data-dir /var/lib/mlambda\n",
        ml_program_name, ml_program_name);
}

static char *default_data_dir(void) {
    const char *home = getenv("MLAMBDA_HOME");
    if (home && *home) return strdup(home);
    const char *xdg = getenv("XDG_DATA_HOME");
    char buf[4096];
    if (xdg && *xdg)
        snprintf(buf, sizeof buf, "%s/mlambda", xdg);
    else
        snprintf(buf, sizeof buf, "%s/.local/share/mlambda", getenv("HOME") ? getenv("HOME") : ".");
    return strdup(buf);
}

static bool parse_num(const char *s, unsigned long long max, unsigned long long *out) {
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (*end || end == s || v > max) return false;
    *out = v;
    return true;
}

/* Each connection is a descriptor, and the usual soft limit (1024) is below
 * what --max-connections may ask for: raise it toward the hard limit. */
static void raise_fd_limit(unsigned max_connections) {
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return;
    rlim_t want = (rlim_t)max_connections + 256; /* models, database, gRPC */
    if (rl.rlim_cur >= want) return;
    rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || want < rl.rlim_max ? want : rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur < want)
        ML_LOG_W("open-file limit %llu is below --max-connections %u + 256; raise it (ulimit -n)",
                 (unsigned long long)rl.rlim_cur, max_connections);
}

/* A whole PEM file, bounded (certificate chains are a few KB). */
static ml_status read_pem(const char *path, const char *what, char **out) {
    size_t n = 0;
    ml_status st = ml_read_file(path, 1 << 20, out, &n);
    if (st) return ml_status_wrap(st, "the TLS %s", what);
    if (!strstr(*out, "-----BEGIN ")) {
        free(*out);
        *out = NULL;
        return ml_error(ML_ERR_INVALID_ARGUMENT, "the TLS %s '%s' is not a PEM file", what, path);
    }
    return NULL;
}

/* Private keys are wiped before their memory is freed. */
static void free_secret(char *s) {
    if (!s) return;
    volatile char *p = s;
    while (*p) *p++ = 0;
    free(s);
}

static ml_status read_tls_files(const char *cert_file, const char *key_file, char **cert,
                                char **key) {
    if (!cert_file || !key_file)
        return ml_error(ML_ERR_INVALID_ARGUMENT, "TLS needs both --tls-cert and --tls-key");
    ML_TRY(read_pem(cert_file, "certificate", cert));
    ml_status st = read_pem(key_file, "key", key);
    if (st) {
        free(*cert);
        *cert = NULL;
    }
    return st;
}

int ml_cmd_serve(int argc, char **argv) {
    ml_server_config cfg;
    ml_server_config_init(&cfg);
    const char *data_dir = NULL, *db = NULL, *port_file = NULL, *auth_file = NULL;
    const char *cert_file = NULL, *key_file = NULL;
    ml_runtime_options ropts = {0};
    ml_grpc_config gcfg;
    ml_grpc_config_init(&gcfg);
    bool grpc = true;
    static const struct option opts[] = {{"port", required_argument, 0, 'p'},
                                         {"host", required_argument, 0, 'H'},
                                         {"data-dir", required_argument, 0, 'd'},
                                         {"db", required_argument, 0, 'D'},
                                         {"max-upload-mb", required_argument, 0, 'U'},
                                         {"max-body-mb", required_argument, 0, 'B'},
                                         {"max-elements", required_argument, 0, 'E'},
                                         {"max-depth", required_argument, 0, 'X'},
                                         {"seed", required_argument, 0, 's'},
                                         {"threads", required_argument, 0, 't'},
                                         {"port-file", required_argument, 0, 'P'},
                                         {"http-threads", required_argument, 0, 'T'},
                                         {"http-workers", required_argument, 0, 'w'},
                                         {"max-connections", required_argument, 0, 'M'},
                                         {"log-level", required_argument, 0, 'l'},
                                         {"grpc-port", required_argument, 0, 'g'},
                                         {"grpc-max-message", required_argument, 0, 'G'},
                                         {"grpc-workers", required_argument, 0, 'W'},
                                         {"no-grpc", no_argument, 0, 'N'},
                                         {"request-timeout-ms", required_argument, 0, 'R'},
                                         {"auth-token-file", required_argument, 0, 'A'},
                                         {"tls-cert", required_argument, 0, 'C'},
                                         {"tls-key", required_argument, 0, 'K'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    optind = 1;
    int c, li = -1;
    unsigned long long v = 0;
    while ((li = -1, c = getopt_long(argc, argv, "h", opts, &li)) != -1) {
        bool ok = true;
        switch (c) {
        case 'p':
            ok = parse_num(optarg, 65535, &v);
            cfg.port = (int)v;
            break;
        case 'H':
            cfg.host = optarg;
            break;
        case 'd':
            data_dir = optarg;
            break;
        case 'D':
            db = optarg;
            break;
        case 'U':
            ok = parse_num(optarg, 1 << 20, &v) && v;
            cfg.max_upload_bytes = v << 20;
            break;
        case 'B':
            ok = parse_num(optarg, 1 << 14, &v) && v;
            cfg.max_body_bytes = (size_t)v << 20;
            break;
        case 'E':
            ok = parse_num(optarg, 1ull << 32, &v) && v;
            cfg.limits.max_elements = (size_t)v;
            break;
        case 'X':
            ok = parse_num(optarg, 16, &v) && v;
            cfg.limits.max_depth = (int)v;
            break;
        case 's':
            ok = parse_num(optarg, ~0ull, &v);
            ropts.seed = v;
            break;
        case 't':
            ok = parse_num(optarg, 1024, &v);
            ropts.n_threads = (size_t)v;
            break;
        case 'P':
            port_file = optarg;
            break;
        case 'T':
            ok = parse_num(optarg, 256, &v);
            cfg.pool_threads = (unsigned)v;
            break;
        case 'w':
            ok = parse_num(optarg, 4096, &v) && v >= 1;
            cfg.offload_threads = (unsigned)v;
            break;
        case 'M':
            ok = parse_num(optarg, 1000000, &v) && v >= 1;
            cfg.max_connections = (unsigned)v;
            break;
        case 'g':
            ok = parse_num(optarg, 65535, &v);
            gcfg.port = (int)v;
            break;
        case 'G':
            ok = parse_num(optarg, 1u << 30, &v) && v >= 1024;
            gcfg.max_message_bytes = (size_t)v;
            break;
        case 'N':
            grpc = false;
            break;
        case 'W':
            ok = parse_num(optarg, 1024, &v) && v;
            gcfg.n_workers = (size_t)v;
            break;
        case 'A':
            auth_file = optarg;
            break;
        case 'C':
            cert_file = optarg;
            break;
        case 'K':
            key_file = optarg;
            break;
        case 'R':
            ok = parse_num(optarg, 86400000ull, &v);
            cfg.request_timeout_ms = gcfg.request_timeout_ms = (unsigned)v;
            break;
        case 'l': {
            int lv = ml_log_parse_level(optarg);
            ok = lv >= 0;
            if (ok) ml_log_set_level((ml_log_level)lv);
            break;
        }
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
        if (!ok) {
            fprintf(stderr, "%s serve: invalid value '%s' for --%s (see '%s serve --help')\n",
                    ml_program_name, optarg, li >= 0 ? opts[li].name : "?", ml_program_name);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "%s serve: unexpected argument '%s'\n", ml_program_name, argv[optind]);
        return 2;
    }
    /* Signals go to sigwait below, never to the server's threads. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    char *dir = data_dir ? strdup(data_dir) : default_data_dir();
    ml_registry *reg = NULL;
    ml_runtime *rt = NULL;
    ml_server *srv = NULL;
    ml_grpc_server *gsrv = NULL;
    ml_auth *auth = NULL;
    char *cert = NULL, *key = NULL;
    ml_status st = auth_file ? ml_auth_load(auth_file, &auth) : NULL;
    cfg.auth = gcfg.auth = auth;
    if (!st && (cert_file || key_file)) st = read_tls_files(cert_file, key_file, &cert, &key);
    cfg.tls_cert_pem = gcfg.tls_cert_pem = cert;
    cfg.tls_key_pem = gcfg.tls_key_pem = key;
    raise_fd_limit(cfg.max_connections);
    if (!st) st = ml_registry_open(dir, db, &reg);
    if (!st) st = ml_runtime_create(reg, &ropts, &rt);
    if (!st) st = ml_server_start(&cfg, reg, rt, &srv);
    if (!st && grpc) {
        gcfg.host = cfg.host ? cfg.host : "127.0.0.1";
        st = ml_grpc_server_start(&gcfg, rt, &gsrv);
        if (st) ml_server_shutdown(srv);
    }
    if (st) {
        fprintf(stderr, "%s serve: %s\n", ml_program_name, ml_status_message(st));
        ml_status_free(st);
        ml_runtime_free(rt);
        ml_registry_close(reg);
        ml_auth_free(auth);
        free_secret(key);
        free(cert);
        free(dir);
        return 1;
    }
    if (auth)
        ML_LOG_I("authentication on: %zu bearer token(s) from %s", ml_auth_count(auth), auth_file);
    ML_LOG_I("mlambda serving on %s://%s:%d (registry: %s schema v%d, data dir %s)",
             cert ? "https" : "http", cfg.host ? cfg.host : "127.0.0.1", ml_server_port(srv),
             ml_store_backend(reg->store), ml_store_schema_version(reg->store), dir);
    if (port_file) {
        FILE *f = fopen(port_file, "w");
        if (f) {
            fprintf(f, "%d\n", ml_server_port(srv));
            fclose(f);
        }
    }
    int sig = 0;
    sigwait(&set, &sig);
    ML_LOG_I("received %s: finishing in-flight requests", sig == SIGTERM ? "SIGTERM" : "SIGINT");
    ml_grpc_server_shutdown(gsrv);
    ml_server_shutdown(srv);
    ml_runtime_free(rt);
    ml_registry_close(reg);
    ml_auth_free(auth);
    free_secret(key);
    free(cert);
    free(dir);
    ML_LOG_I("stopped");
    return 0;
}
