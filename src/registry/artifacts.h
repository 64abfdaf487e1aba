/* Content-addressed artifact store under the data dir:
 *   <data>/blobs/sha256/<hex>   uploaded archives, named by their SHA-256
 *   <data>/models/<hex>/        their extracted folders (what sessions load)
 *   <data>/tmp/                 uploads in progress (those of dead processes go on open)
 *
 * An upload streams into tmp/ while hashing, is extracted into tmp/ and
 * validated, and only then renamed into place (rename is atomic); the
 * registry row is written after that. A crash at any point leaves either
 * nothing or an unreferenced blob, which ml_artifacts_gc removes. */
#ifndef MLAMBDA_REGISTRY_ARTIFACTS_H
#define MLAMBDA_REGISTRY_ARTIFACTS_H

#include <stddef.h>
#include <stdint.h>

#include "core/status.h"
#include "registry/archive.h"

typedef struct ml_artifacts ml_artifacts;
typedef struct ml_upload ml_upload;

/* Creates the layout and clears tmp/ of interrupted uploads. Caller owns *out. */
ml_status ml_artifacts_open(const char *data_dir, ml_artifacts **out);
void ml_artifacts_close(ml_artifacts *a);
const char *ml_artifacts_dir(const ml_artifacts *a);

/* Path of the extracted folder of digest ("sha256:<hex>") into buf. */
void ml_artifacts_model_dir(const ml_artifacts *a, const char *digest, char *buf, size_t cap);

/* Starts an upload of at most max_bytes. Caller owns *out and ends it with
 * ml_upload_publish or ml_upload_abort. */
ml_status ml_upload_begin(ml_artifacts *a, uint64_t max_bytes, ml_upload **out);
/* Appends bytes; RESOURCE_EXHAUSTED past max_bytes. */
ml_status ml_upload_write(ml_upload *u, const void *data, size_t len);
/* Completes the file (fsync), computes the digest and extracts it into a
 * staging folder whose path is returned (borrowed, valid until publish/abort). */
ml_status ml_upload_finish(ml_upload *u, const ml_archive_limits *limits, const char **staged_dir);
const char *ml_upload_digest(const ml_upload *u); /* "sha256:<hex>" after finish */
uint64_t ml_upload_size(const ml_upload *u);
/* Moves blob and folder into place and frees u. Holds the store lock (see
 * ml_artifacts_lock) until ml_artifacts_unlock so GC cannot race the
 * registry insert that follows. */
ml_status ml_upload_publish(ml_upload *u);
/* Deletes everything the upload wrote and frees u. NULL is accepted. */
void ml_upload_abort(ml_upload *u);

/* Serialises publish+insert against garbage collection. */
void ml_artifacts_lock(ml_artifacts *a);
void ml_artifacts_unlock(ml_artifacts *a);
/* Removes blobs and folders whose digest is not in keep[0..n). The caller
 * holds ml_artifacts_lock from before it listed the digests to keep. */
ml_status ml_artifacts_gc(ml_artifacts *a, char *const *keep, size_t n, size_t *removed);

#endif
