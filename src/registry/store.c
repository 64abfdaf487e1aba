/* Registry logic over the SQL driver (sqldb.h), shared by both back ends. */
#include "registry/store.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "registry/migrations.h"
#include "registry/sqldb.h"

struct ml_store {
    ml_sqldb *db;
    pthread_mutex_t mu;
    int schema_version;
};

static ml_status q(ml_store *s, const char *sql, int n, const char *const *p, ml_sqlrows *rows) {
    return s->db->ops->exec(s->db, sql, n, p, rows);
}
static ml_status begin(ml_store *s) {
    return q(s, s->db->begin_sql, 0, NULL, NULL);
}
static ml_status commit(ml_store *s) {
    return q(s, "COMMIT", 0, NULL, NULL);
}
static void rollback(ml_store *s) {
    ml_status_free(q(s, "ROLLBACK", 0, NULL, NULL));
}
/* Ends a transaction: commit on success, rollback on failure. */
static ml_status finish(ml_store *s, ml_status st) {
    if (st) {
        rollback(s);
        return st;
    }
    return commit(s);
}

static char *dupz(const char *s) {
    return strdup(s ? s : "");
}
static int64_t to_i64(const char *s) {
    return s ? strtoll(s, NULL, 10) : 0;
}
static json_t *to_json(const char *s) {
    json_t *j = s ? json_loads(s, 0, NULL) : NULL;
    return j ? j : json_object();
}
static char *json_text(const json_t *j) {
    char *t = j ? json_dumps(j, JSON_COMPACT) : NULL;
    return t ? t : strdup("{}");
}

ml_status ml_store_open(const char *location, ml_store **out) {
    *out = NULL;
    ml_store *s = calloc(1, sizeof *s);
    if (!s) return ml_error(ML_ERR_OUT_OF_MEMORY, "out of memory");
    ml_status st;
    if (!strncmp(location, "postgres://", 11) || !strncmp(location, "postgresql://", 13))
        st = ml_sqldb_open_pg(location, &s->db);
    else
        st = ml_sqldb_open_sqlite(location, &s->db);
    if (!st) st = ml_migrations_apply(s->db, &s->schema_version);
    if (st) {
        if (s->db) s->db->ops->close(s->db);
        free(s);
        return st;
    }
    pthread_mutex_init(&s->mu, NULL);
    *out = s;
    return NULL;
}

void ml_store_close(ml_store *s) {
    if (!s) return;
    s->db->ops->close(s->db);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

int ml_store_schema_version(ml_store *s) {
    return s->schema_version;
}
const char *ml_store_backend(const ml_store *s) {
    return s->db->dialect == ML_SQL_SQLITE ? "sqlite" : "postgres";
}

/* ---- records ---- */

void ml_model_rec_clear(ml_model_rec *r) {
    free(r->name);
    free(r->description);
    json_decref(r->labels);
    memset(r, 0, sizeof *r);
}
void ml_version_rec_clear(ml_version_rec *r) {
    free(r->name);
    free(r->status);
    free(r->runtime);
    free(r->digest);
    free(r->model_file);
    json_decref(r->contract);
    json_decref(r->metadata);
    json_decref(r->options);
    memset(r, 0, sizeof *r);
}
void ml_app_rec_clear(ml_app_rec *r) {
    free(r->name);
    json_decref(r->stages);
    json_decref(r->contract);
    memset(r, 0, sizeof *r);
}
void ml_model_rec_free_list(ml_model_rec *r, size_t n) {
    for (size_t i = 0; r && i < n; i++) ml_model_rec_clear(&r[i]);
    free(r);
}
void ml_version_rec_free_list(ml_version_rec *r, size_t n) {
    for (size_t i = 0; r && i < n; i++) ml_version_rec_clear(&r[i]);
    free(r);
}
void ml_app_rec_free_list(ml_app_rec *r, size_t n) {
    for (size_t i = 0; r && i < n; i++) ml_app_rec_clear(&r[i]);
    free(r);
}
void ml_audit_rec_free_list(ml_audit_rec *r, size_t n) {
    for (size_t i = 0; r && i < n; i++) {
        free(r[i].action);
        free(r[i].subject);
        free(r[i].detail);
    }
    free(r);
}

#define MODEL_COLS                                                                                 \
    "m.name, m.description, m.labels, m.created_at, m.updated_at,"                                 \
    " (SELECT COALESCE(MAX(v.version), 0) FROM model_versions v WHERE v.name = m.name)"
static void model_from_row(const ml_sqlrows *r, size_t i, ml_model_rec *m) {
    m->name = dupz(ml_sqlrows_get(r, i, 0));
    m->description = dupz(ml_sqlrows_get(r, i, 1));
    m->labels = to_json(ml_sqlrows_get(r, i, 2));
    m->created_at = to_i64(ml_sqlrows_get(r, i, 3));
    m->updated_at = to_i64(ml_sqlrows_get(r, i, 4));
    m->latest_version = (int)to_i64(ml_sqlrows_get(r, i, 5));
}

#define VERSION_COLS                                                                               \
    "name, version, status, created_at, runtime, digest, size_bytes, model_file, contract, "       \
    "metadata, options"
static void version_from_row(const ml_sqlrows *r, size_t i, ml_version_rec *v) {
    v->name = dupz(ml_sqlrows_get(r, i, 0));
    v->version = (int)to_i64(ml_sqlrows_get(r, i, 1));
    v->status = dupz(ml_sqlrows_get(r, i, 2));
    v->created_at = to_i64(ml_sqlrows_get(r, i, 3));
    v->runtime = dupz(ml_sqlrows_get(r, i, 4));
    v->digest = dupz(ml_sqlrows_get(r, i, 5));
    v->size_bytes = to_i64(ml_sqlrows_get(r, i, 6));
    v->model_file = dupz(ml_sqlrows_get(r, i, 7));
    v->contract = to_json(ml_sqlrows_get(r, i, 8));
    v->metadata = to_json(ml_sqlrows_get(r, i, 9));
    v->options = to_json(ml_sqlrows_get(r, i, 10));
}

#define APP_COLS "name, stages, contract, created_at, updated_at"
static void app_from_row(const ml_sqlrows *r, size_t i, ml_app_rec *a) {
    a->name = dupz(ml_sqlrows_get(r, i, 0));
    a->stages = json_loads(ml_sqlrows_get(r, i, 1) ? ml_sqlrows_get(r, i, 1) : "[]", 0, NULL);
    if (!a->stages) a->stages = json_array();
    a->contract = to_json(ml_sqlrows_get(r, i, 2));
    a->created_at = to_i64(ml_sqlrows_get(r, i, 3));
    a->updated_at = to_i64(ml_sqlrows_get(r, i, 4));
}

static ml_status audit_locked(ml_store *s, const char *action, const char *subject,
                              const char *detail) {
    char t[24];
    snprintf(t, sizeof t, "%lld", (long long)ml_unix_time());
    const char *p[] = {t, action, subject, detail ? detail : ""};
    return q(s, "INSERT INTO audit (time, action, subject, detail) VALUES ($1, $2, $3, $4)", 4, p,
             NULL);
}

/* ---- models and versions ---- */

static ml_status add_version_tx(ml_store *s, const char *description, const json_t *labels,
                                ml_version_rec *v) {
    char now[24];
    v->created_at = ml_unix_time();
    snprintf(now, sizeof now, "%lld", (long long)v->created_at);
    char *lab = labels ? json_text(labels) : NULL;
    const char *p[] = {v->name, description ? description : "", lab ? lab : "{}", now};
    ml_status st =
        q(s,
          "INSERT INTO models (name, description, labels, last_version, created_at, updated_at)"
          " SELECT $1, $2, $3, 0, CAST($4 AS BIGINT), CAST($4 AS BIGINT) WHERE NOT EXISTS (SELECT "
          "1 FROM models WHERE name = $1)",
          4, p, NULL);
    if (!st && description) {
        const char *pd[] = {v->name, description};
        st = q(s, "UPDATE models SET description = $2 WHERE name = $1", 2, pd, NULL);
    }
    if (!st && lab && labels) {
        const char *pl[] = {v->name, lab};
        st = q(s, "UPDATE models SET labels = $2 WHERE name = $1", 2, pl, NULL);
    }
    free(lab);
    if (!st) {
        const char *pu[] = {v->name, now};
        st = q(s,
               "UPDATE models SET last_version = last_version + 1, updated_at = $2 WHERE name = $1",
               2, pu, NULL);
    }
    ml_sqlrows r = {0};
    if (!st) {
        const char *pn[] = {v->name};
        st = q(s, "SELECT last_version FROM models WHERE name = $1", 1, pn, &r);
    }
    if (!st) {
        v->version = (int)to_i64(ml_sqlrows_get(&r, 0, 0));
        char ver[16], size[24];
        snprintf(ver, sizeof ver, "%d", v->version);
        snprintf(size, sizeof size, "%lld", (long long)v->size_bytes);
        char *contract = json_text(v->contract), *meta = json_text(v->metadata),
             *opts = json_text(v->options);
        const char *pv[] = {v->name, ver,           v->status ? v->status : "ready",
                            now,     v->runtime,    v->digest,
                            size,    v->model_file, contract,
                            meta,    opts};
        st = q(s,
               "INSERT INTO model_versions (" VERSION_COLS
               ") VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11)",
               11, pv, NULL);
        free(contract);
        free(meta);
        free(opts);
    }
    ml_sqlrows_free(&r);
    if (!st) {
        char subj[ML_NAME_MAX + 16];
        snprintf(subj, sizeof subj, "%s:%d", v->name, v->version);
        st = audit_locked(s, "model.upload", subj, v->digest);
    }
    return st;
}

ml_status ml_store_add_version(ml_store *s, const char *description, const json_t *labels,
                               ml_version_rec *v) {
    pthread_mutex_lock(&s->mu);
    ml_status st = begin(s);
    if (!st) st = finish(s, add_version_tx(s, description, labels, v));
    pthread_mutex_unlock(&s->mu);
    return st;
}

ml_status ml_store_list_models(ml_store *s, ml_model_rec **out, size_t *n) {
    *out = NULL;
    *n = 0;
    ml_sqlrows r;
    pthread_mutex_lock(&s->mu);
    ml_status st = q(s, "SELECT " MODEL_COLS " FROM models m ORDER BY m.name", 0, NULL, &r);
    pthread_mutex_unlock(&s->mu);
    if (st) return st;
    *out = calloc(r.n_rows + 1, sizeof **out);
    if (!*out) {
        ml_sqlrows_free(&r);
        return ml_error(ML_ERR_OUT_OF_MEMORY, "out of memory");
    }
    for (size_t i = 0; i < r.n_rows; i++) model_from_row(&r, i, &(*out)[i]);
    *n = r.n_rows;
    ml_sqlrows_free(&r);
    return NULL;
}

ml_status ml_store_get_model(ml_store *s, const char *name, ml_model_rec *out) {
    memset(out, 0, sizeof *out);
    ml_sqlrows r;
    const char *p[] = {name};
    pthread_mutex_lock(&s->mu);
    ml_status st = q(s, "SELECT " MODEL_COLS " FROM models m WHERE m.name = $1", 1, p, &r);
    pthread_mutex_unlock(&s->mu);
    if (st) return st;
    if (r.n_rows == 0)
        st = ml_error(ML_ERR_NOT_FOUND, "model '%s' not found; list models with GET /api/v2/models",
                      name);
    else
        model_from_row(&r, 0, out);
    ml_sqlrows_free(&r);
    return st;
}

ml_status ml_store_list_versions(ml_store *s, const char *name, ml_version_rec **out, size_t *n) {
    *out = NULL;
    *n = 0;
    ml_sqlrows r;
    const char *p[] = {name};
    pthread_mutex_lock(&s->mu);
    ml_status st =
        q(s, "SELECT " VERSION_COLS " FROM model_versions WHERE name = $1 ORDER BY version", 1, p,
          &r);
    pthread_mutex_unlock(&s->mu);
    if (st) return st;
    *out = calloc(r.n_rows + 1, sizeof **out);
    if (!*out) {
        ml_sqlrows_free(&r);
        return ml_error(ML_ERR_OUT_OF_MEMORY, "out of memory");
    }
    for (size_t i = 0; i < r.n_rows; i++) version_from_row(&r, i, &(*out)[i]);
    *n = r.n_rows;
    ml_sqlrows_free(&r);
    return NULL;
}

ml_status ml_store_get_version(ml_store *s, const char *name, int version, ml_version_rec *out) {
    memset(out, 0, sizeof *out);
    ml_sqlrows r;
    char v[16];
    snprintf(v, sizeof v, "%d", version);
    const char *p[] = {name, v};
    pthread_mutex_lock(&s->mu);
    ml_status st =
        version > 0
            ? q(s, "SELECT " VERSION_COLS " FROM model_versions WHERE name = $1 AND version = $2",
                2, p, &r)
            : q(s,
                "SELECT " VERSION_COLS
                " FROM model_versions WHERE name = $1 ORDER BY version DESC LIMIT 1",
                1, p, &r);
    pthread_mutex_unlock(&s->mu);
    if (st) return st;
    if (r.n_rows == 0) {
        if (version > 0)
            st = ml_error(ML_ERR_NOT_FOUND, "model version %s:%d not found", name, version);
        else
            st = ml_error(ML_ERR_NOT_FOUND, "model '%s' not found (or has no versions)", name);
    } else {
        version_from_row(&r, 0, out);
    }
    ml_sqlrows_free(&r);
    return st;
}

static ml_status delete_tx(ml_store *s, const char *name, int version) {
    char v[16];
    snprintf(v, sizeof v, "%d", version);
    const char *p[] = {name, v};
    ml_sqlrows r;
    ML_TRY(version > 0 ? q(s, "SELECT version FROM model_versions WHERE name = $1 AND version = $2",
                           2, p, &r)
                       : q(s, "SELECT name FROM models WHERE name = $1", 1, p, &r));
    size_t found = r.n_rows;
    ml_sqlrows_free(&r);
    if (!found)
        return version > 0
                   ? ml_error(ML_ERR_NOT_FOUND, "model version %s:%d not found", name, version)
                   : ml_error(ML_ERR_NOT_FOUND, "model '%s' not found", name);
    ML_TRY(
        version > 0
            ? q(s,
                "SELECT app, version FROM app_refs WHERE model = $1 AND version = $2 ORDER BY app",
                2, p, &r)
            : q(s, "SELECT app, version FROM app_refs WHERE model = $1 ORDER BY app", 1, p, &r));
    ml_status st = NULL;
    if (r.n_rows)
        st = ml_error(ML_ERR_CONFLICT,
                      "model version %s:%s is used by application '%s'; update or delete the "
                      "application first",
                      name, ml_sqlrows_get(&r, 0, 1), ml_sqlrows_get(&r, 0, 0));
    ml_sqlrows_free(&r);
    if (st) return st;
    if (version > 0) {
        ML_TRY(q(s, "DELETE FROM model_versions WHERE name = $1 AND version = $2", 2, p, NULL));
    } else {
        ML_TRY(q(s, "DELETE FROM model_versions WHERE name = $1", 1, p, NULL));
        ML_TRY(q(s, "DELETE FROM models WHERE name = $1", 1, p, NULL));
    }
    char subj[ML_NAME_MAX + 16];
    if (version > 0)
        snprintf(subj, sizeof subj, "%s:%d", name, version);
    else
        snprintf(subj, sizeof subj, "%s", name);
    return audit_locked(s, version > 0 ? "model.version.delete" : "model.delete", subj, "");
}

ml_status ml_store_delete_version(ml_store *s, const char *name, int version) {
    pthread_mutex_lock(&s->mu);
    ml_status st = begin(s);
    if (!st) st = finish(s, delete_tx(s, name, version));
    pthread_mutex_unlock(&s->mu);
    return st;
}

ml_status ml_store_list_digests(ml_store *s, char ***out, size_t *n) {
    *out = NULL;
    *n = 0;
    ml_sqlrows r;
    pthread_mutex_lock(&s->mu);
    ml_status st = q(s, "SELECT DISTINCT digest FROM model_versions", 0, NULL, &r);
    pthread_mutex_unlock(&s->mu);
    if (st) return st;
    *out = calloc(r.n_rows + 1, sizeof **out);
    if (!*out) {
        ml_sqlrows_free(&r);
        return ml_error(ML_ERR_OUT_OF_MEMORY, "out of memory");
    }
    for (size_t i = 0; i < r.n_rows; i++) (*out)[i] = dupz(ml_sqlrows_get(&r, i, 0));
    *n = r.n_rows;
    ml_sqlrows_free(&r);
    return NULL;
}

/* ---- applications ---- */

static ml_status put_app_tx(ml_store *s, const ml_app_spec *spec, const json_t *contract,
                            bool create_only, char *stages, char *ctext, const char *now) {
    const char *pn[] = {spec->name};
    ml_sqlrows r;
    ML_TRY(q(s, "SELECT name FROM applications WHERE name = $1", 1, pn, &r));
    bool exists = r.n_rows > 0;
    ml_sqlrows_free(&r);
    if (exists && create_only)
        return ml_error(
            ML_ERR_ALREADY_EXISTS,
            "application '%s' already exists; use PUT /api/v2/applications/%s to replace it",
            spec->name, spec->name);
    const char *p[] = {spec->name, stages, ctext, now};
    if (exists)
        ML_TRY(
            q(s,
              "UPDATE applications SET stages = $2, contract = $3, updated_at = $4 WHERE name = $1",
              4, p, NULL));
    else
        ML_TRY(q(s, "INSERT INTO applications (" APP_COLS ") VALUES ($1, $2, $3, $4, $4)", 4, p,
                 NULL));
    ML_TRY(q(s, "DELETE FROM app_refs WHERE app = $1", 1, pn, NULL));
    for (int i = 0; i < spec->n_stages; i++)
        for (int k = 0; k < spec->stages[i].n_variants; k++) {
            const ml_variant *v = &spec->stages[i].variants[k];
            char ver[16];
            snprintf(ver, sizeof ver, "%d", v->version);
            const char *pr[] = {spec->name, v->model, ver};
            /* The version must still exist: checked here, inside the
             * transaction, so a concurrent delete cannot slip between. */
            ML_TRY(q(s, "SELECT 1 FROM model_versions WHERE name = $1 AND version = $2", 2, pr + 1,
                     &r));
            bool ok = r.n_rows > 0;
            ml_sqlrows_free(&r);
            if (!ok)
                return ml_error(ML_ERR_INVALID_ARGUMENT,
                                "stage %d: model version %s:%d does not exist", i + 1, v->model,
                                v->version);
            ML_TRY(q(s, "INSERT INTO app_refs (app, model, version) VALUES ($1, $2, $3)", 3, pr,
                     NULL));
        }
    (void)contract;
    return audit_locked(s, exists ? "application.update" : "application.create", spec->name,
                        stages);
}

ml_status ml_store_put_app(ml_store *s, const ml_app_spec *spec, const json_t *contract,
                           bool create_only, ml_app_rec *out) {
    json_t *sj = ml_app_stages_json(spec);
    char *stages = json_text(sj), *ctext = json_text(contract);
    json_decref(sj);
    char now[24];
    snprintf(now, sizeof now, "%lld", (long long)ml_unix_time());
    pthread_mutex_lock(&s->mu);
    ml_status st = begin(s);
    if (!st) st = finish(s, put_app_tx(s, spec, contract, create_only, stages, ctext, now));
    pthread_mutex_unlock(&s->mu);
    free(stages);
    free(ctext);
    if (st) return st;
    return out ? ml_store_get_app(s, spec->name, out) : NULL;
}

ml_status ml_store_list_apps(ml_store *s, ml_app_rec **out, size_t *n) {
    *out = NULL;
    *n = 0;
    ml_sqlrows r;
    pthread_mutex_lock(&s->mu);
    ml_status st = q(s, "SELECT " APP_COLS " FROM applications ORDER BY name", 0, NULL, &r);
    pthread_mutex_unlock(&s->mu);
    if (st) return st;
    *out = calloc(r.n_rows + 1, sizeof **out);
    if (!*out) {
        ml_sqlrows_free(&r);
        return ml_error(ML_ERR_OUT_OF_MEMORY, "out of memory");
    }
    for (size_t i = 0; i < r.n_rows; i++) app_from_row(&r, i, &(*out)[i]);
    *n = r.n_rows;
    ml_sqlrows_free(&r);
    return NULL;
}

ml_status ml_store_get_app(ml_store *s, const char *name, ml_app_rec *out) {
    memset(out, 0, sizeof *out);
    ml_sqlrows r;
    const char *p[] = {name};
    pthread_mutex_lock(&s->mu);
    ml_status st = q(s, "SELECT " APP_COLS " FROM applications WHERE name = $1", 1, p, &r);
    pthread_mutex_unlock(&s->mu);
    if (st) return st;
    if (r.n_rows == 0)
        st = ml_error(ML_ERR_NOT_FOUND,
                      "application '%s' not found; list them with GET /api/v2/applications", name);
    else
        app_from_row(&r, 0, out);
    ml_sqlrows_free(&r);
    return st;
}

static ml_status delete_app_tx(ml_store *s, const char *name) {
    const char *p[] = {name};
    ml_sqlrows r;
    ML_TRY(q(s, "SELECT name FROM applications WHERE name = $1", 1, p, &r));
    bool exists = r.n_rows > 0;
    ml_sqlrows_free(&r);
    if (!exists) return ml_error(ML_ERR_NOT_FOUND, "application '%s' not found", name);
    ML_TRY(q(s, "DELETE FROM app_refs WHERE app = $1", 1, p, NULL));
    ML_TRY(q(s, "DELETE FROM applications WHERE name = $1", 1, p, NULL));
    return audit_locked(s, "application.delete", name, "");
}

ml_status ml_store_delete_app(ml_store *s, const char *name) {
    pthread_mutex_lock(&s->mu);
    ml_status st = begin(s);
    if (!st) st = finish(s, delete_app_tx(s, name));
    pthread_mutex_unlock(&s->mu);
    return st;
}

/* ---- audit ---- */

ml_status ml_store_audit(ml_store *s, const char *action, const char *subject, const char *detail) {
    pthread_mutex_lock(&s->mu);
    ml_status st = audit_locked(s, action, subject, detail);
    pthread_mutex_unlock(&s->mu);
    return st;
}

ml_status ml_store_list_audit(ml_store *s, int limit, ml_audit_rec **out, size_t *n) {
    *out = NULL;
    *n = 0;
    if (limit <= 0 || limit > 10000) limit = 100;
    char l[16];
    snprintf(l, sizeof l, "%d", limit);
    const char *p[] = {l};
    ml_sqlrows r;
    pthread_mutex_lock(&s->mu);
    ml_status st =
        q(s, "SELECT time, action, subject, detail FROM audit ORDER BY id DESC LIMIT $1", 1, p, &r);
    pthread_mutex_unlock(&s->mu);
    if (st) return st;
    *out = calloc(r.n_rows + 1, sizeof **out);
    if (!*out) {
        ml_sqlrows_free(&r);
        return ml_error(ML_ERR_OUT_OF_MEMORY, "out of memory");
    }
    for (size_t i = 0; i < r.n_rows; i++) {
        (*out)[i].time = to_i64(ml_sqlrows_get(&r, i, 0));
        (*out)[i].action = dupz(ml_sqlrows_get(&r, i, 1));
        (*out)[i].subject = dupz(ml_sqlrows_get(&r, i, 2));
        (*out)[i].detail = dupz(ml_sqlrows_get(&r, i, 3));
    }
    *n = r.n_rows;
    ml_sqlrows_free(&r);
    return NULL;
}
