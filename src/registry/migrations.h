/* Registry schema migrations, versioned in code. Each step runs in its own
 * transaction together with the bump of schema_version, so a crash leaves
 * the schema at a whole step. */
#ifndef MLAMBDA_REGISTRY_MIGRATIONS_H
#define MLAMBDA_REGISTRY_MIGRATIONS_H

#include "core/status.h"
#include "registry/sqldb.h"

/* Latest schema version this build knows. */
int ml_migrations_latest(void);
/* Applies pending steps; *version receives the resulting schema version.
 * Refuses (UNSUPPORTED) a database newer than this build. */
ml_status ml_migrations_apply(ml_sqldb *db, int *version);

#endif
