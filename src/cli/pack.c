#include "cli/pack.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define PATH_CAP 4096

ml_status ml_sha256_file(const char *path, char *out, size_t cap) {
    if (cap < 72) return ml_error(ML_ERR_INTERNAL, "digest buffer too small");
    FILE *f = fopen(path, "rb");
    if (!f) return ml_error(ML_ERR_IO, "cannot open %s: %s", path, strerror(errno));
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned char buf[65536], md[EVP_MAX_MD_SIZE];
    unsigned mdlen = 0;
    int ok = ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
    size_t n;
    while (ok && (n = fread(buf, 1, sizeof buf, f)) > 0) ok = EVP_DigestUpdate(ctx, buf, n);
    ok = ok && !ferror(f) && EVP_DigestFinal_ex(ctx, md, &mdlen);
    EVP_MD_CTX_free(ctx);
    fclose(f);
    if (!ok) return ml_error(ML_ERR_IO, "cannot hash %s", path);
    strcpy(out, "sha256:");
    for (unsigned i = 0; i < mdlen; i++) snprintf(out + 7 + 2 * i, 3, "%02x", md[i]);
    return NULL;
}

/* ---- writing the archive ----
 * One packer feeds three sinks: a temp file (ml_pack_write), a hash only
 * (ml_pack_digest) and a socket read by the HTTP upload (ml_pack_stream).
 * Every sink hashes what it is given, so each knows the archive's digest. */

typedef struct sink {
    EVP_MD_CTX *md;
    uint64_t size;
    int fd;        /* -1 = hash only */
    int is_socket; /* use send(MSG_NOSIGNAL): a closed reader must not SIGPIPE us */
    int io_errno;
} sink;

static la_ssize_t sink_write(struct archive *a, void *user, const void *buf, size_t len) {
    sink *s = user;
    EVP_DigestUpdate(s->md, buf, len);
    s->size += len;
    const char *p = buf;
    for (size_t left = len; s->fd >= 0 && left;) {
        ssize_t n = s->is_socket ? send(s->fd, p, left, MSG_NOSIGNAL) : write(s->fd, p, left);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            s->io_errno = n < 0 ? errno : EIO;
            archive_set_error(a, s->io_errno, "%s", strerror(s->io_errno));
            return -1;
        }
        p += n;
        left -= (size_t)n;
    }
    return (la_ssize_t)len;
}

static ml_status arch_err(struct archive *a, const char *what) {
    return ml_error(ML_ERR_IO, "packing failed (%s): %s", what, archive_error_string(a));
}

static ml_status write_header(struct archive *a, const char *name, uint64_t size, int exec) {
    struct archive_entry *e = archive_entry_new();
    if (!e) return ml_error(ML_ERR_OUT_OF_MEMORY, "out of memory packing");
    archive_entry_set_pathname(e, name);
    archive_entry_set_size(e, (la_int64_t)size);
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, exec ? 0755 : 0644);
    archive_entry_set_mtime(e, 0, 0);
    archive_entry_set_uid(e, 0);
    archive_entry_set_gid(e, 0);
    int rc = archive_write_header(a, e);
    archive_entry_free(e);
    return rc == ARCHIVE_OK ? NULL : arch_err(a, name);
}

typedef struct packer {
    const char *dir;
    const ml_pack_list *files;
    const char *extra_name, *extra_data;
    size_t extra_len;
    _Atomic uint64_t raw_done;    /* file bytes read so far (progress) */
    ml_pack_progress_fn progress; /* optional, called on the packing thread */
    void *progress_user;
    size_t n_files;
    char buf[1 << 16];
} packer;

static ml_status pack_file(packer *pk, struct archive *a, const char *rel) {
    char full[PATH_CAP];
    snprintf(full, sizeof full, "%s/%s", pk->dir, rel);
    int fd = open(full, O_RDONLY);
    if (fd < 0) return ml_error(ML_ERR_IO, "cannot open %s: %s", full, strerror(errno));
    struct stat sb;
    ml_status st = fstat(fd, &sb) == 0 ? NULL : ml_error(ML_ERR_IO, "cannot stat %s", full);
    if (!st) st = write_header(a, rel, (uint64_t)sb.st_size, (sb.st_mode & S_IXUSR) != 0);
    uint64_t done = 0;
    while (!st) {
        ssize_t n = read(fd, pk->buf, sizeof pk->buf);
        if (n < 0) {
            st = ml_error(ML_ERR_IO, "cannot read %s: %s", full, strerror(errno));
            break;
        }
        if (n == 0) break;
        if ((uint64_t)n > (uint64_t)sb.st_size - done) {
            st = ml_error(ML_ERR_IO, "%s grew while packing; retry when it is complete", full);
            break;
        }
        if (archive_write_data(a, pk->buf, (size_t)n) != n) st = arch_err(a, rel);
        done += (uint64_t)n;
        uint64_t now = atomic_fetch_add(&pk->raw_done, (uint64_t)n) + (uint64_t)n;
        if (pk->progress) pk->progress(pk->progress_user, now);
    }
    if (!st && done != (uint64_t)sb.st_size)
        st = ml_error(ML_ERR_IO, "%s shrank while packing; retry when it is complete", full);
    close(fd);
    return st;
}

/* Packs everything into sink s; fills out's size, digest and counts. */
static ml_status pack_into(packer *pk, sink *s, ml_pack_result *out) {
    struct archive *a = archive_write_new();
    s->md = EVP_MD_CTX_new();
    ml_status st = a && s->md && EVP_DigestInit_ex(s->md, EVP_sha256(), NULL)
                       ? NULL
                       : ml_error(ML_ERR_OUT_OF_MEMORY, "out of memory");
    if (!st &&
        (archive_write_add_filter_gzip(a) != ARCHIVE_OK ||
         archive_write_set_filter_option(a, "gzip", "timestamp", NULL) != ARCHIVE_OK ||
         /* Weights barely compress; level 1 keeps the two packing passes cheap. */
         archive_write_set_filter_option(a, "gzip", "compression-level", "1") != ARCHIVE_OK ||
         archive_write_set_format_pax_restricted(a) != ARCHIVE_OK ||
         /* No block padding beyond tar's own: bytes = what the server hashes. */
         archive_write_set_bytes_in_last_block(a, 1) != ARCHIVE_OK ||
         archive_write_open2(a, s, NULL, sink_write, NULL, NULL) != ARCHIVE_OK))
        st = arch_err(a, "setup");
    if (!st && pk->extra_name) {
        st = write_header(a, pk->extra_name, pk->extra_len, 0);
        if (!st && pk->extra_len &&
            archive_write_data(a, pk->extra_data, pk->extra_len) != (la_ssize_t)pk->extra_len)
            st = arch_err(a, pk->extra_name);
        atomic_fetch_add(&pk->raw_done, pk->extra_len);
        pk->n_files++;
    }
    for (size_t i = 0; !st && i < pk->files->n; i++) {
        if (pk->extra_name && !strcmp(pk->files->paths[i], pk->extra_name)) continue;
        st = pack_file(pk, a, pk->files->paths[i]);
        pk->n_files++;
    }
    if (a) {
        if (!st && archive_write_close(a) != ARCHIVE_OK) st = arch_err(a, "finish");
        archive_write_free(a);
    }
    if (st && s->io_errno && (s->io_errno == EPIPE || s->io_errno == ECONNRESET)) {
        /* The reader (the upload) went away: say so, the HTTP side knows why. */
        ml_status_free(st);
        st = ml_error(ML_ERR_UNAVAILABLE, "the upload stopped reading the archive");
    }
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned mdlen = 0;
    if (!st && !EVP_DigestFinal_ex(s->md, md, &mdlen))
        st = ml_error(ML_ERR_INTERNAL, "SHA-256 failed");
    EVP_MD_CTX_free(s->md);
    s->md = NULL;
    if (!st) {
        out->size = s->size;
        out->raw_size = atomic_load(&pk->raw_done);
        out->n_files = pk->n_files;
        strcpy(out->digest, "sha256:");
        for (unsigned i = 0; i < mdlen; i++) snprintf(out->digest + 7 + 2 * i, 3, "%02x", md[i]);
    }
    return st;
}

static packer *packer_new(const char *dir, const ml_pack_list *files, const char *extra_name,
                          const char *extra_data, size_t extra_len) {
    packer *pk = calloc(1, sizeof *pk);
    if (!pk) return NULL;
    pk->dir = dir;
    pk->files = files;
    pk->extra_name = extra_name;
    pk->extra_data = extra_data;
    pk->extra_len = extra_len;
    atomic_init(&pk->raw_done, 0);
    return pk;
}

ml_status ml_pack_write(const char *dir, const ml_pack_list *files, const char *extra_name,
                        const char *extra_data, size_t extra_len, ml_pack_result *out) {
    memset(out, 0, sizeof *out);
    const char *tmpdir = getenv("TMPDIR");
    char tmpl[PATH_CAP];
    snprintf(tmpl, sizeof tmpl, "%s/mlambda-pack-XXXXXX.tar.gz",
             tmpdir && *tmpdir ? tmpdir : "/tmp");
    int fd = mkstemps(tmpl, 7);
    if (fd < 0)
        return ml_error(ML_ERR_IO, "cannot create a temp file in %s: %s (set TMPDIR)",
                        tmpdir && *tmpdir ? tmpdir : "/tmp", strerror(errno));
    packer *pk = packer_new(dir, files, extra_name, extra_data, extra_len);
    out->path = strdup(tmpl);
    ml_status st = pk && out->path ? NULL : ml_error(ML_ERR_OUT_OF_MEMORY, "out of memory");
    sink s = {.fd = fd};
    if (!st) st = pack_into(pk, &s, out);
    close(fd);
    free(pk);
    if (st) {
        if (!out->path) unlink(tmpl);
        ml_pack_result_free(out);
    }
    return st;
}

ml_status ml_pack_digest(const char *dir, const ml_pack_list *files, const char *extra_name,
                         const char *extra_data, size_t extra_len, ml_pack_progress_fn progress,
                         void *user, ml_pack_result *out) {
    memset(out, 0, sizeof *out);
    packer *pk = packer_new(dir, files, extra_name, extra_data, extra_len);
    if (!pk) return ml_error(ML_ERR_OUT_OF_MEMORY, "out of memory");
    pk->progress = progress;
    pk->progress_user = user;
    sink s = {.fd = -1};
    ml_status st = pack_into(pk, &s, out);
    free(pk);
    return st;
}

struct ml_pack_stream {
    packer *pk;
    sink s;
    int read_fd; /* the consumer's end */
    pthread_t thread;
    ml_status st; /* the producer's result */
    ml_pack_result result;
};

static void *produce(void *arg) {
    ml_pack_stream *ps = arg;
    ps->st = pack_into(ps->pk, &ps->s, &ps->result);
    /* EOF for the reader: the upload body ends here. */
    shutdown(ps->s.fd, SHUT_WR);
    return NULL;
}

ml_status ml_pack_stream_start(const char *dir, const ml_pack_list *files, const char *extra_name,
                               const char *extra_data, size_t extra_len, ml_pack_stream **out) {
    ml_pack_stream *ps = calloc(1, sizeof *ps);
    int sv[2];
    if (!ps || !(ps->pk = packer_new(dir, files, extra_name, extra_data, extra_len))) {
        free(ps);
        return ml_error(ML_ERR_OUT_OF_MEMORY, "out of memory");
    }
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) {
        free(ps->pk);
        free(ps);
        return ml_error(ML_ERR_IO, "cannot create a socket pair: %s", strerror(errno));
    }
    ps->read_fd = sv[0];
    ps->s.fd = sv[1];
    ps->s.is_socket = 1;
    if (pthread_create(&ps->thread, NULL, produce, ps) != 0) {
        close(sv[0]);
        close(sv[1]);
        free(ps->pk);
        free(ps);
        return ml_error(ML_ERR_UNAVAILABLE, "cannot start the packing thread");
    }
    *out = ps;
    return NULL;
}

int ml_pack_stream_fd(const ml_pack_stream *ps) {
    return ps->read_fd;
}

uint64_t ml_pack_stream_raw_done(ml_pack_stream *ps) {
    return atomic_load(&ps->pk->raw_done);
}

ml_status ml_pack_stream_finish(ml_pack_stream *ps, ml_pack_result *out) {
    /* Closing our end first unblocks a producer whose reader gave up. */
    close(ps->read_fd);
    pthread_join(ps->thread, NULL);
    close(ps->s.fd);
    ml_status st = ps->st;
    if (out) *out = ps->result;
    free(ps->pk);
    free(ps);
    return st;
}

void ml_pack_result_free(ml_pack_result *r) {
    if (r->path) {
        unlink(r->path);
        free(r->path);
    }
    memset(r, 0, sizeof *r);
}
