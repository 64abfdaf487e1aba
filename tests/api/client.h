/* A small HTTP test client (libcurl, one keep-alive connection per client)
 * and a server launcher for the integration tests: they run the real
 * `mlambda serve` binary on 127.0.0.1 and talk to it over HTTP. */
#ifndef MLAMBDA_TESTS_API_CLIENT_H
#define MLAMBDA_TESTS_API_CLIENT_H

#include <curl/curl.h>
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

typedef struct tc_client {
    CURL *curl;
    int port;
    char *body; /* last answer, NUL-terminated */
    size_t len;
    char header_len[32]; /* Inference-Header-Content-Length of the last answer */
    long connects;       /* new connections opened by the last request */
} tc_client;

void tc_client_init(tc_client *c, int port);
void tc_client_free(tc_client *c);
/* Sends a request; returns the HTTP status (or -1 on transport failure).
 * headers may be NULL; the answer stays in c->body until the next call. */
long tc_request(tc_client *c, const char *method, const char *path, const char *content_type,
                const void *body, size_t len, struct curl_slist *headers);
long tc_get(tc_client *c, const char *path);
long tc_post_json(tc_client *c, const char *path, const char *json);
/* Parses the last answer as JSON (caller decrefs) or NULL. */
json_t *tc_json(const tc_client *c);
/* Uploads a file as raw application/gzip to /api/v2/models/upload?query. */
long tc_upload_file(tc_client *c, const char *file, const char *query);
/* Reads a whole file (caller frees). */
char *tc_read_file(const char *path, size_t *len);

typedef struct tc_server {
    pid_t pid;
    int port;
    char dir[256]; /* temp root: data/, models/, port file */
    char data_dir[300];
    char models_dir[300];
} tc_server;

/* Creates the temp root and the test models (python3 make_models.py). */
bool tc_setup(tc_server *s, const char *make_models_py);
/* Starts `mlambda serve` on a free port with extra args (NULL-terminated);
 * db from $MLAMBDA_TEST_DB when set. */
bool tc_start(tc_server *s, const char *binary, const char *const *extra);
/* SIGTERM (graceful) or SIGKILL; returns the exit status (-1 when killed). */
int tc_stop(tc_server *s, int sig);

#endif
