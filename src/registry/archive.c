#include "registry/archive.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

ml_status ml_mkdirs(const char *path) {
    char buf[4096];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf)
        return ml_error(ML_ERR_INVALID_ARGUMENT, "path too long: %.100s...", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        if (mkdir(buf, 0755) != 0 && errno != EEXIST)
            return ml_error(ML_ERR_IO, "cannot create directory %s: %s", buf, strerror(errno));
        *p = '/';
    }
    if (mkdir(buf, 0755) != 0 && errno != EEXIST)
        return ml_error(ML_ERR_IO, "cannot create directory %s: %s", buf, strerror(errno));
    return NULL;
}

void ml_rmtree(const char *path) {
    struct stat sb;
    if (lstat(path, &sb) != 0) return;
    if (!S_ISDIR(sb.st_mode)) {
        unlink(path);
        return;
    }
    DIR *d = opendir(path);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d))) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
            char child[4096];
            if (snprintf(child, sizeof child, "%s/%s", path, e->d_name) < (int)sizeof child)
                ml_rmtree(child);
        }
        closedir(d);
    }
    rmdir(path);
}

/* Normalises an entry path into out (relative, no "." parts); refuses
 * anything that could escape the destination. */
static ml_status clean_path(const char *in, char *out, size_t cap) {
    if (!in || !*in) return ml_error(ML_ERR_INVALID_ARGUMENT, "archive entry without a name");
    if (in[0] == '/')
        return ml_error(ML_ERR_INVALID_ARGUMENT, "archive entry '%s' has an absolute path", in);
    size_t o = 0;
    const char *p = in;
    while (*p) {
        const char *slash = strchr(p, '/');
        size_t n = slash ? (size_t)(slash - p) : strlen(p);
        if (n == 2 && p[0] == '.' && p[1] == '.')
            return ml_error(ML_ERR_INVALID_ARGUMENT, "archive entry '%s' contains '..'", in);
        if (!(n == 0 || (n == 1 && p[0] == '.'))) {
            if (o + n + 2 > cap)
                return ml_error(ML_ERR_INVALID_ARGUMENT, "archive entry path too long");
            if (o) out[o++] = '/';
            memcpy(out + o, p, n);
            o += n;
        }
        p += n;
        if (*p == '/') p++;
    }
    out[o] = '\0';
    return NULL;
}

static ml_status ensure_parent(const char *dest, const char *rel) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dest, rel);
    char *slash = strrchr(path, '/');
    if (!slash) return NULL;
    *slash = '\0';
    return ml_mkdirs(path);
}

static ml_status extract_file(struct archive *a, const char *path, uint64_t *total, uint64_t max) {
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0)
        return ml_error(errno == EEXIST ? ML_ERR_INVALID_ARGUMENT : ML_ERR_IO,
                        "cannot create %s: %s (duplicate archive entry?)", path, strerror(errno));
    ml_status st = NULL;
    const void *buf;
    size_t size;
    la_int64_t off;
    int r;
    while ((r = archive_read_data_block(a, &buf, &size, &off)) == ARCHIVE_OK) {
        *total += size;
        if (*total > max) {
            st = ml_error(
                ML_ERR_RESOURCE_EXHAUSTED,
                "the archive extracts to more than %llu bytes; raise the limit or shrink the model",
                (unsigned long long)max);
            break;
        }
        if (pwrite(fd, buf, size, off) != (ssize_t)size) {
            st = ml_error(ML_ERR_IO, "cannot write %s: %s", path, strerror(errno));
            break;
        }
    }
    if (!st && r != ARCHIVE_EOF)
        st = ml_error(ML_ERR_INVALID_ARGUMENT, "corrupt archive: %s", archive_error_string(a));
    if (close(fd) != 0 && !st)
        st = ml_error(ML_ERR_IO, "cannot write %s: %s", path, strerror(errno));
    return st;
}

ml_status ml_archive_extract(const char *archive_path, const char *dest_dir,
                             const ml_archive_limits *limits) {
    struct archive *a = archive_read_new();
    if (!a) return ml_error(ML_ERR_OUT_OF_MEMORY, "out of memory");
    archive_read_support_filter_gzip(a);
    archive_read_support_filter_none(a);
    archive_read_support_format_tar(a);
    archive_read_support_format_gnutar(a);
    ml_status st = NULL;
    if (archive_read_open_filename(a, archive_path, 65536) != ARCHIVE_OK) {
        st = ml_error(ML_ERR_INVALID_ARGUMENT,
                      "the upload is not a tar.gz archive (%s); pack the model folder with tar czf",
                      archive_error_string(a));
        archive_read_free(a);
        return st;
    }
    uint64_t total = 0;
    uint32_t count = 0;
    struct archive_entry *e;
    int r = ARCHIVE_EOF;
    while (!st && (r = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
        if (++count > limits->max_entries) {
            st = ml_error(ML_ERR_RESOURCE_EXHAUSTED, "the archive has more than %u entries",
                          limits->max_entries);
            break;
        }
        char rel[2048];
        st = clean_path(archive_entry_pathname(e), rel, sizeof rel);
        if (st) break;
        if (archive_entry_hardlink(e)) {
            st = ml_error(ML_ERR_INVALID_ARGUMENT, "archive entry '%s' is a hard link; not allowed",
                          rel);
            break;
        }
        mode_t type = archive_entry_filetype(e);
        if (rel[0] == '\0') continue; /* "./" itself */
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dest_dir, rel);
        if (type == AE_IFDIR) {
            st = ml_mkdirs(path);
        } else if (type == AE_IFREG) {
            st = ensure_parent(dest_dir, rel);
            if (!st) st = extract_file(a, path, &total, limits->max_total_bytes);
        } else {
            st = ml_error(ML_ERR_INVALID_ARGUMENT,
                          "archive entry '%s' is a %s; only regular files and folders are allowed",
                          rel, type == AE_IFLNK ? "symbolic link" : "special file");
        }
    }
    if (!st && r != ARCHIVE_EOF)
        st = ml_error(ML_ERR_INVALID_ARGUMENT, "corrupt or truncated archive: %s",
                      archive_error_string(a));
    if (!st && count == 0) st = ml_error(ML_ERR_INVALID_ARGUMENT, "the archive is empty");
    archive_read_free(a);
    return st;
}
