/* Packing a model folder into the upload format: a gzip'd tar of the files
 * chosen by payload.h.
 *
 * The archive is deterministic: files in byte order of their paths, mtime
 * 0, owner 0, mode 0644 or 0755, no gzip timestamp. Its SHA-256 therefore
 * depends only on file names, contents and executable bits, which is what
 * `apply` compares against the server's digest to skip unchanged models.
 * The archive is never held in memory: it is hashed on the fly, or streamed
 * from a packing thread straight into the upload. */
#ifndef MLAMBDA_CLI_PACK_H
#define MLAMBDA_CLI_PACK_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "cli/payload.h"
#include "core/status.h"

typedef struct ml_pack_result {
    char *path;        /* owned temp file (ml_pack_write only); ml_pack_result_free unlinks it */
    uint64_t size;     /* archive bytes */
    uint64_t raw_size; /* sum of the packed files' sizes */
    size_t n_files;
    char digest[80]; /* "sha256:<64 hex>" of the archive */
} ml_pack_result;

/* Packs `files` (from ml_pack_collect) found under dir into a temp file.
 * When extra_name is set, an in-memory file of that name is packed too
 * (replacing a folder file of the same name). */
ml_status ml_pack_write(const char *dir, const ml_pack_list *files, const char *extra_name,
                        const char *extra_data, size_t extra_len, ml_pack_result *out);

typedef void (*ml_pack_progress_fn)(void *user, uint64_t raw_done);

/* Same archive, but only its size and digest are kept (nothing is stored).
 * progress (may be NULL) gets the file bytes packed so far. */
ml_status ml_pack_digest(const char *dir, const ml_pack_list *files, const char *extra_name,
                         const char *extra_data, size_t extra_len, ml_pack_progress_fn progress,
                         void *user, ml_pack_result *out);

/* Packs on a background thread into a socket whose other end the caller
 * reads (ml_pack_stream_fd) until EOF: the archive goes from the model files
 * to the HTTP body without a temp file or a full copy in memory. The
 * arguments must outlive the stream. */
typedef struct ml_pack_stream ml_pack_stream;
ml_status ml_pack_stream_start(const char *dir, const ml_pack_list *files, const char *extra_name,
                               const char *extra_data, size_t extra_len, ml_pack_stream **out);
int ml_pack_stream_fd(const ml_pack_stream *ps);
/* File bytes packed so far (thread-safe), for progress. */
uint64_t ml_pack_stream_raw_done(ml_pack_stream *ps);
/* Closes the reader's end, waits for the packer and frees the stream; *out
 * (may be NULL) gets the size and digest of what was produced. */
ml_status ml_pack_stream_finish(ml_pack_stream *ps, ml_pack_result *out);

void ml_pack_result_free(ml_pack_result *r);

/* SHA-256 of a file as "sha256:<hex>" into out (at least 72 bytes). */
ml_status ml_sha256_file(const char *path, char *out, size_t cap);

#endif
