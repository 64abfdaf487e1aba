/* The registry facade the server uses: the store (metadata) plus the
 * artifact store (files), with the operations that must keep both in step:
 * ingesting an upload, deleting versions, validating applications. */
#ifndef MLAMBDA_REGISTRY_REGISTRY_H
#define MLAMBDA_REGISTRY_REGISTRY_H

#include <jansson.h>
#include <stdint.h>

#include "core/status.h"
#include "registry/archive.h"
#include "registry/artifacts.h"
#include "registry/contract.h"
#include "registry/spec.h"
#include "registry/store.h"

typedef struct ml_registry {
    ml_store *store;
    ml_artifacts *artifacts;
    ml_archive_limits limits; /* for extraction of uploads */
} ml_registry;

/* data_dir must exist or be creatable; db is a postgres:// URI or NULL for
 * <data_dir>/registry.db. Removes artifacts no version references (left by
 * an interrupted upload). Caller owns *out. */
ml_status ml_registry_open(const char *data_dir, const char *db, ml_registry **out);
void ml_registry_close(ml_registry *r);

/* What the uploader said besides the archive. All fields optional. */
typedef struct ml_upload_meta {
    const char *name; /* overrides serving.yaml */
    const char *description;
    json_t *labels; /* object of strings, borrowed */
} ml_upload_meta;

/* Validates and registers a finished upload (takes ownership of u: it is
 * published or aborted). out receives the new version (caller clears). */
ml_status ml_registry_ingest(ml_registry *r, ml_upload *u, const ml_upload_meta *meta,
                             ml_version_rec *out);

/* Deletes a version (0: the whole model) and then its unreferenced files. */
ml_status ml_registry_delete(ml_registry *r, const char *name, int version);

/* Resolves "latest" references in spec to numbers, checks that every
 * version exists, that variants of a stage share a contract and that stage
 * N's outputs satisfy stage N+1's inputs. *contract (caller owns) is the
 * application's: stage 1's inputs and the last stage's outputs. */
ml_status ml_registry_check_app(ml_registry *r, ml_app_spec *spec, ml_contract **contract);

/* Contract of an ONNX file, from its graph inputs and outputs. */
ml_status ml_contract_from_onnx(const char *onnx_path, ml_contract **out);

#endif
