#include "registry/migrations.h"

#include <stdio.h>
#include <stdlib.h>

typedef struct step {
    int version;
    const char *sqlite[8]; /* statements, NULL-terminated */
    const char *pg[8];
} step;

#define COMMON_V1                                                                                  \
    "CREATE TABLE models (name TEXT PRIMARY KEY, description TEXT NOT NULL DEFAULT '',"            \
    " labels TEXT NOT NULL DEFAULT '{}', last_version INTEGER NOT NULL DEFAULT 0,"                 \
    " created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL)",                                    \
        "CREATE TABLE model_versions (name TEXT NOT NULL REFERENCES models(name),"                 \
        " version INTEGER NOT NULL, status TEXT NOT NULL, created_at BIGINT NOT NULL,"             \
        " runtime TEXT NOT NULL, digest TEXT NOT NULL, size_bytes BIGINT NOT NULL,"                \
        " model_file TEXT NOT NULL, contract TEXT NOT NULL, metadata TEXT NOT NULL,"               \
        " PRIMARY KEY (name, version))",                                                           \
        "CREATE TABLE applications (name TEXT PRIMARY KEY, stages TEXT NOT NULL,"                  \
        " contract TEXT NOT NULL, created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL)",        \
        "CREATE TABLE app_refs (app TEXT NOT NULL REFERENCES applications(name) ON DELETE "        \
        "CASCADE,"                                                                                 \
        " model TEXT NOT NULL, version INTEGER NOT NULL)",                                         \
        "CREATE INDEX app_refs_model ON app_refs (model, version)"

static const step steps[] = {
    {1, {COMMON_V1, NULL}, {COMMON_V1, NULL}},
    {2,
     {"CREATE TABLE audit (id INTEGER PRIMARY KEY AUTOINCREMENT, time BIGINT NOT NULL,"
      " action TEXT NOT NULL, subject TEXT NOT NULL, detail TEXT NOT NULL)",
      NULL},
     {"CREATE TABLE audit (id BIGSERIAL PRIMARY KEY, time BIGINT NOT NULL,"
      " action TEXT NOT NULL, subject TEXT NOT NULL, detail TEXT NOT NULL)",
      NULL}},
    /* 3: serving options of a version (batching) from serving.yaml. */
    {3,
     {"ALTER TABLE model_versions ADD COLUMN options TEXT NOT NULL DEFAULT '{}'", NULL},
     {"ALTER TABLE model_versions ADD COLUMN options TEXT NOT NULL DEFAULT '{}'", NULL}},
};

int ml_migrations_latest(void) {
    return steps[sizeof steps / sizeof *steps - 1].version;
}

static ml_status exec0(ml_sqldb *db, const char *sql) {
    return db->ops->exec(db, sql, 0, NULL, NULL);
}

ml_status ml_migrations_apply(ml_sqldb *db, int *version) {
    ML_TRY(exec0(db, "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)"));
    for (size_t i = 0; i < sizeof steps / sizeof *steps; i++) {
        const step *s = &steps[i];
        ML_TRY(exec0(db, db->begin_sql));
        ml_sqlrows r;
        ml_status st =
            db->ops->exec(db, "SELECT COALESCE(MAX(version), 0) FROM schema_version", 0, NULL, &r);
        int cur = st ? 0 : atoi(ml_sqlrows_get(&r, 0, 0) ? ml_sqlrows_get(&r, 0, 0) : "0");
        ml_sqlrows_free(&r);
        if (!st && cur > ml_migrations_latest())
            st = ml_error(
                ML_ERR_UNSUPPORTED,
                "registry schema version %d is newer than this mlambda (%d); upgrade mlambda", cur,
                ml_migrations_latest());
        if (!st && cur < s->version) {
            const char *const *sqls = db->dialect == ML_SQL_SQLITE ? s->sqlite : s->pg;
            for (int k = 0; !st && sqls[k]; k++) st = exec0(db, sqls[k]);
            char v[16];
            snprintf(v, sizeof v, "%d", s->version);
            const char *p[] = {v};
            if (!st)
                st = db->ops->exec(db, "INSERT INTO schema_version (version) VALUES ($1)", 1, p,
                                   NULL);
        }
        if (st) {
            ml_status_free(exec0(db, "ROLLBACK"));
            return ml_status_wrap(st, "registry migration %d", s->version);
        }
        ML_TRY(exec0(db, "COMMIT"));
        *version = s->version > cur ? s->version : cur;
    }
    return NULL;
}
