#include "client.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static size_t on_body(char *p, size_t sz, size_t n, void *ud) {
    tc_client *c = ud;
    size_t add = sz * n;
    char *nb = realloc(c->body, c->len + add + 1);
    if (!nb) return 0;
    memcpy(nb + c->len, p, add);
    c->body = nb;
    c->len += add;
    c->body[c->len] = '\0';
    return add;
}

static size_t on_header(char *p, size_t sz, size_t n, void *ud) {
    tc_client *c = ud;
    size_t len = sz * n;
    static const char key[] = "Inference-Header-Content-Length:";
    if (len > sizeof key && strncasecmp(p, key, sizeof key - 1) == 0) {
        size_t v = len - (sizeof key - 1);
        if (v >= sizeof c->header_len) v = sizeof c->header_len - 1;
        memcpy(c->header_len, p + sizeof key - 1, v);
        c->header_len[v] = '\0';
    }
    return len;
}

void tc_client_init(tc_client *c, int port) {
    memset(c, 0, sizeof *c);
    c->curl = curl_easy_init();
    c->port = port;
}

void tc_client_free(tc_client *c) {
    if (c->curl) curl_easy_cleanup(c->curl);
    free(c->body);
    memset(c, 0, sizeof *c);
}

long tc_request(tc_client *c, const char *method, const char *path, const char *content_type,
                const void *body, size_t len, struct curl_slist *headers) {
    char url[1024];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", c->port, path);
    free(c->body);
    c->body = calloc(1, 1);
    c->len = 0;
    c->header_len[0] = '\0';
    CURL *h = c->curl;
    curl_easy_reset(h);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, c);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, c);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 60L);
    if (!strcmp(method, "HEAD")) curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    struct curl_slist *hs = NULL;
    bool expect = false;
    for (struct curl_slist *e = headers; e; e = e->next) {
        hs = curl_slist_append(hs, e->data);
        if (strncasecmp(e->data, "Expect:", 7) == 0) expect = true;
    }
    /* No 100-continue round trip unless the caller asks for one. */
    if (!expect) hs = curl_slist_append(hs, "Expect:");
    if (content_type) {
        char ct[256];
        snprintf(ct, sizeof ct, "Content-Type: %s", content_type);
        hs = curl_slist_append(hs, ct);
    }
    if (body) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    }
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hs);
    CURLcode rc = curl_easy_perform(h);
    long code = -1;
    if (rc == CURLE_OK) curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
    curl_easy_getinfo(h, CURLINFO_NUM_CONNECTS, &c->connects);
    curl_slist_free_all(hs);
    return code;
}

long tc_get(tc_client *c, const char *path) {
    return tc_request(c, "GET", path, NULL, NULL, 0, NULL);
}

long tc_post_json(tc_client *c, const char *path, const char *json) {
    return tc_request(c, "POST", path, "application/json", json, strlen(json), NULL);
}

json_t *tc_json(const tc_client *c) {
    return c->body ? json_loadb(c->body, c->len, 0, NULL) : NULL;
}

char *tc_read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    if (buf) {
        buf[n] = '\0';
        *len = (size_t)n;
    }
    return buf;
}

long tc_upload_file(tc_client *c, const char *file, const char *query) {
    size_t len = 0;
    char *data = tc_read_file(file, &len);
    if (!data) return -2;
    char path[512];
    snprintf(path, sizeof path, "/api/v2/models/upload%s%s", query ? "?" : "", query ? query : "");
    long code = tc_request(c, "POST", path, "application/gzip", data, len, NULL);
    free(data);
    return code;
}

bool tc_setup(tc_server *s, const char *make_models_py) {
    memset(s, 0, sizeof *s);
    snprintf(s->dir, sizeof s->dir, "/tmp/mlambda-api-XXXXXX");
    if (!mkdtemp(s->dir)) return false;
    snprintf(s->data_dir, sizeof s->data_dir, "%s/data", s->dir);
    snprintf(s->models_dir, sizeof s->models_dir, "%s/models", s->dir);
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 '%s' '%s'", make_models_py, s->models_dir);
    return system(cmd) == 0;
}

bool tc_start(tc_server *s, const char *binary, const char *const *extra) {
    char port_file[320];
    snprintf(port_file, sizeof port_file, "%s/port", s->dir);
    unlink(port_file);
    const char *argv[40];
    int n = 0;
    argv[n++] = binary;
    argv[n++] = "serve";
    argv[n++] = "--port";
    argv[n++] = "0";
    argv[n++] = "--host";
    argv[n++] = "127.0.0.1";
    argv[n++] = "--data-dir";
    argv[n++] = s->data_dir;
    argv[n++] = "--port-file";
    argv[n++] = port_file;
    argv[n++] = "--log-level";
    argv[n++] = "warn";
    const char *db = getenv("MLAMBDA_TEST_DB");
    if (db && *db) {
        argv[n++] = "--db";
        argv[n++] = db;
    }
    for (int i = 0; extra && extra[i] && n < 38; i++) argv[n++] = extra[i];
    /* $MLAMBDA_TEST_SERVE_ARGS: more options, space-separated (e.g. "--http-threads 2"). */
    static char more[256];
    const char *env = getenv("MLAMBDA_TEST_SERVE_ARGS");
    snprintf(more, sizeof more, "%s", env ? env : "");
    for (char *tok = strtok(more, " "); tok && n < 38; tok = strtok(NULL, " ")) argv[n++] = tok;
    argv[n] = NULL;
    pid_t pid = fork();
    if (pid < 0) return false;
    if (pid == 0) {
        execv(binary, (char *const *)argv);
        _exit(127);
    }
    s->pid = pid;
    for (int i = 0; i < 200; i++) { /* up to 10 s */
        FILE *f = fopen(port_file, "r");
        if (f) {
            int port = 0;
            int ok = fscanf(f, "%d", &port);
            fclose(f);
            if (ok == 1 && port > 0) {
                s->port = port;
                return true;
            }
        }
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid) {
            s->pid = 0;
            return false;
        }
        struct timespec ts = {0, 50 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    return false;
}

int tc_stop(tc_server *s, int sig) {
    if (s->pid <= 0) return -1;
    kill(s->pid, sig);
    int status = 0;
    waitpid(s->pid, &status, 0);
    s->pid = 0;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}
