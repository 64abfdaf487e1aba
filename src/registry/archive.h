/* Safe extraction of an uploaded model folder (tar, optionally gzip'd).
 * Hostile archives are refused: absolute paths, ".." components, symlinks,
 * hard links, devices, too many entries or too many bytes. */
#ifndef MLAMBDA_REGISTRY_ARCHIVE_H
#define MLAMBDA_REGISTRY_ARCHIVE_H

#include <stdint.h>

#include "core/status.h"

typedef struct ml_archive_limits {
    uint64_t max_total_bytes; /* sum of extracted file sizes */
    uint32_t max_entries;
} ml_archive_limits;

/* Extracts archive_path into dest_dir (which must exist and be empty).
 * On failure dest_dir may hold a partial tree: the caller removes it. */
ml_status ml_archive_extract(const char *archive_path, const char *dest_dir,
                             const ml_archive_limits *limits);

/* Removes a directory tree (no symlinks are followed). Best effort. */
void ml_rmtree(const char *path);
/* mkdir -p with mode 0755. */
ml_status ml_mkdirs(const char *path);

#endif
