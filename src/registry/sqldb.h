/* A minimal SQL driver interface shared by the SQLite and PostgreSQL back
 * ends, so the registry logic (store.c) and its migrations are written once.
 *
 * Parameters are text, written $1, $2, ... in order of first appearance
 * (both SQLite and PostgreSQL accept that spelling); NULL params bind SQL NULL.
 * Results come back as text cells. A connection is not thread-safe: the
 * store serialises access with its own mutex. */
#ifndef MLAMBDA_REGISTRY_SQLDB_H
#define MLAMBDA_REGISTRY_SQLDB_H

#include <stddef.h>

#include "core/status.h"

/* Rows of a query: cells[row * n_cols + col], NULL for SQL NULL. Owned by
 * the caller; release with ml_sqlrows_free. */
typedef struct ml_sqlrows {
    size_t n_rows, n_cols;
    char **cells;
} ml_sqlrows;

void ml_sqlrows_free(ml_sqlrows *r);
/* Cell text or NULL (bounds-checked). Borrowed from r. */
const char *ml_sqlrows_get(const ml_sqlrows *r, size_t row, size_t col);

typedef enum ml_sql_dialect { ML_SQL_SQLITE, ML_SQL_POSTGRES } ml_sql_dialect;

typedef struct ml_sqldb ml_sqldb;
typedef struct ml_sqldb_ops {
    /* Runs one statement; rows (may be NULL) receive its result set. A
     * unique-constraint violation fails with ML_ERR_ALREADY_EXISTS. */
    ml_status (*exec)(ml_sqldb *db, const char *sql, int n_params, const char *const *params,
                      ml_sqlrows *rows);
    void (*close)(ml_sqldb *db);
} ml_sqldb_ops;

struct ml_sqldb {
    const ml_sqldb_ops *ops;
    ml_sql_dialect dialect;
    const char *begin_sql; /* statement that starts a write transaction */
};

/* SQLite file (created if missing), WAL mode, foreign keys on. */
ml_status ml_sqldb_open_sqlite(const char *path, ml_sqldb **out);
/* PostgreSQL connection URI "postgres://user@host:port/db". */
ml_status ml_sqldb_open_pg(const char *uri, ml_sqldb **out);

#endif
