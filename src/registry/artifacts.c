#include "registry/artifacts.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct ml_artifacts {
    char *dir;
    pthread_mutex_t mu;
};

struct ml_upload {
    ml_artifacts *a;
    int fd;
    char tmp_file[4096];
    char tmp_dir[4096];
    uint64_t size, max;
    EVP_MD_CTX *md;
    char digest[7 + 65];
    char hex[65];
};

static atomic_uint upload_seq;

/* Removes tmp entries ("upload-<pid>-<n>.tgz", "extract-<pid>-<n>") whose
 * process no longer runs; another live server sharing the data dir keeps
 * its uploads in progress. */
static void clean_tmp(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        const char *dash = strchr(e->d_name, '-');
        long pid = dash ? strtol(dash + 1, NULL, 10) : 0;
        if (pid > 0 && pid != (long)getpid() && (kill((pid_t)pid, 0) == 0 || errno == EPERM))
            continue;
        char path[4400];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        ml_rmtree(path);
    }
    closedir(d);
}

ml_status ml_artifacts_open(const char *data_dir, ml_artifacts **out) {
    *out = NULL;
    char p[4096];
    static const char *const subdirs[] = {"blobs/sha256", "models", "tmp"};
    for (size_t i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s/%s", data_dir, subdirs[i]);
        ml_status st = ml_mkdirs(p);
        if (st)
            return ml_status_wrap(st, "preparing the data dir (set --data-dir or MLAMBDA_HOME)");
    }
    /* Uploads whose process is gone were interrupted (crash, kill -9). */
    snprintf(p, sizeof p, "%s/tmp", data_dir);
    clean_tmp(p);
    ml_artifacts *a = calloc(1, sizeof *a);
    if (!a || !(a->dir = strdup(data_dir))) {
        free(a);
        return ml_error(ML_ERR_OUT_OF_MEMORY, "out of memory");
    }
    pthread_mutex_init(&a->mu, NULL);
    *out = a;
    return NULL;
}

void ml_artifacts_close(ml_artifacts *a) {
    if (!a) return;
    pthread_mutex_destroy(&a->mu);
    free(a->dir);
    free(a);
}

const char *ml_artifacts_dir(const ml_artifacts *a) {
    return a->dir;
}

static const char *hex_of(const char *digest) {
    return strncmp(digest, "sha256:", 7) == 0 ? digest + 7 : digest;
}

void ml_artifacts_model_dir(const ml_artifacts *a, const char *digest, char *buf, size_t cap) {
    snprintf(buf, cap, "%s/models/%s", a->dir, hex_of(digest));
}

void ml_artifacts_lock(ml_artifacts *a) {
    pthread_mutex_lock(&a->mu);
}
void ml_artifacts_unlock(ml_artifacts *a) {
    pthread_mutex_unlock(&a->mu);
}

ml_status ml_upload_begin(ml_artifacts *a, uint64_t max_bytes, ml_upload **out) {
    *out = NULL;
    ml_upload *u = calloc(1, sizeof *u);
    if (!u) return ml_error(ML_ERR_OUT_OF_MEMORY, "out of memory");
    u->a = a;
    u->max = max_bytes;
    unsigned seq = atomic_fetch_add(&upload_seq, 1);
    snprintf(u->tmp_file, sizeof u->tmp_file, "%s/tmp/upload-%d-%u.tgz", a->dir, (int)getpid(),
             seq);
    snprintf(u->tmp_dir, sizeof u->tmp_dir, "%s/tmp/extract-%d-%u", a->dir, (int)getpid(), seq);
    u->fd = open(u->tmp_file, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    u->md = EVP_MD_CTX_new();
    if (u->fd < 0 || !u->md || EVP_DigestInit_ex(u->md, EVP_sha256(), NULL) != 1) {
        ml_status st =
            ml_error(ML_ERR_IO, "cannot start an upload in %s/tmp: %s", a->dir, strerror(errno));
        ml_upload_abort(u);
        return st;
    }
    *out = u;
    return NULL;
}

ml_status ml_upload_write(ml_upload *u, const void *data, size_t len) {
    if (u->size + len > u->max)
        return ml_error(ML_ERR_RESOURCE_EXHAUSTED,
                        "the upload exceeds the limit of %llu bytes; raise --max-upload-mb",
                        (unsigned long long)u->max);
    const char *p = data;
    size_t left = len;
    while (left) {
        ssize_t w = write(u->fd, p, left);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return ml_error(ML_ERR_IO, "cannot write the upload: %s", strerror(errno));
        p += w;
        left -= (size_t)w;
    }
    EVP_DigestUpdate(u->md, data, len);
    u->size += len;
    return NULL;
}

ml_status ml_upload_finish(ml_upload *u, const ml_archive_limits *limits, const char **staged_dir) {
    if (u->size == 0)
        return ml_error(ML_ERR_INVALID_ARGUMENT, "the upload is empty; send a tar.gz");
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    EVP_DigestFinal_ex(u->md, md, &mdlen);
    for (unsigned i = 0; i < mdlen && i < 32; i++) snprintf(u->hex + 2 * i, 3, "%02x", md[i]);
    snprintf(u->digest, sizeof u->digest, "sha256:%s", u->hex);
    if (fsync(u->fd) != 0)
        return ml_error(ML_ERR_IO, "cannot sync the upload: %s", strerror(errno));
    close(u->fd);
    u->fd = -1;
    if (mkdir(u->tmp_dir, 0755) != 0)
        return ml_error(ML_ERR_IO, "cannot create %s: %s", u->tmp_dir, strerror(errno));
    ML_TRY(ml_archive_extract(u->tmp_file, u->tmp_dir, limits));
    *staged_dir = u->tmp_dir;
    return NULL;
}

const char *ml_upload_digest(const ml_upload *u) {
    return u->digest;
}
uint64_t ml_upload_size(const ml_upload *u) {
    return u->size;
}

static void fsync_dir(const char *path) {
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

ml_status ml_upload_publish(ml_upload *u) {
    ml_artifacts *a = u->a;
    char blob[4096], dir[4096], parent[4096];
    snprintf(blob, sizeof blob, "%s/blobs/sha256/%s", a->dir, u->hex);
    snprintf(dir, sizeof dir, "%s/models/%s", a->dir, u->hex);
    ml_artifacts_lock(a);
    ml_status st = NULL;
    /* Same content uploaded before: keep the existing copy. */
    if (access(blob, F_OK) != 0 && rename(u->tmp_file, blob) != 0)
        st = ml_error(ML_ERR_IO, "cannot store the artifact %s: %s", blob, strerror(errno));
    struct stat sb;
    if (!st && stat(dir, &sb) != 0 && rename(u->tmp_dir, dir) != 0)
        st = ml_error(ML_ERR_IO, "cannot store the model folder %s: %s", dir, strerror(errno));
    if (!st) {
        snprintf(parent, sizeof parent, "%s/blobs/sha256", a->dir);
        fsync_dir(parent);
        snprintf(parent, sizeof parent, "%s/models", a->dir);
        fsync_dir(parent);
    }
    if (st) ml_artifacts_unlock(a);
    ml_upload_abort(u); /* removes leftovers (duplicates) and frees */
    return st;
}

void ml_upload_abort(ml_upload *u) {
    if (!u) return;
    if (u->fd >= 0) close(u->fd);
    unlink(u->tmp_file);
    ml_rmtree(u->tmp_dir);
    if (u->md) EVP_MD_CTX_free(u->md);
    free(u);
}

static bool kept(const char *hex, char *const *keep, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (strcmp(hex_of(keep[i]), hex) == 0) return true;
    return false;
}

static size_t gc_dir(const char *dir, char *const *keep, size_t n) {
    size_t removed = 0;
    DIR *d = opendir(dir);
    if (!d) return 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        if (kept(e->d_name, keep, n)) continue;
        char p[4096];
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        ml_rmtree(p);
        removed++;
    }
    closedir(d);
    return removed;
}

ml_status ml_artifacts_gc(ml_artifacts *a, char *const *keep, size_t n, size_t *removed) {
    char p[4096];
    size_t r = 0;
    snprintf(p, sizeof p, "%s/blobs/sha256", a->dir);
    r += gc_dir(p, keep, n);
    snprintf(p, sizeof p, "%s/models", a->dir);
    r += gc_dir(p, keep, n);
    if (removed) *removed = r;
    return NULL;
}
