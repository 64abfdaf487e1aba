/* SQLite driver for the registry store: one connection in WAL mode so readers
 * do not block the writer, with a busy timeout for other processes. */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "registry/sqldb.h"

typedef struct sqlite_db {
    ml_sqldb base;
    sqlite3 *conn;
} sqlite_db;

static ml_status sqlite_exec(ml_sqldb *db, const char *sql, int n_params, const char *const *params,
                             ml_sqlrows *rows) {
    sqlite_db *s = (sqlite_db *)db;
    if (rows) *rows = (ml_sqlrows){0};
    sqlite3_stmt *stmt = NULL;
    if (sqlite3_prepare_v2(s->conn, sql, -1, &stmt, NULL) != SQLITE_OK)
        return ml_error(ML_ERR_INTERNAL, "sqlite: cannot prepare '%.60s': %s", sql,
                        sqlite3_errmsg(s->conn));
    for (int i = 0; i < n_params; i++) {
        char pname[16];
        snprintf(pname, sizeof pname, "$%d", i + 1);
        int idx = sqlite3_bind_parameter_index(stmt, pname);
        if (idx == 0) continue; /* parameter not used by this statement */
        if (params[i])
            sqlite3_bind_text(stmt, idx, params[i], -1, SQLITE_TRANSIENT);
        else
            sqlite3_bind_null(stmt, idx);
    }
    size_t cap = 0;
    ml_status st = NULL;
    int rc;
    int ncol = sqlite3_column_count(stmt);
    if (rows) rows->n_cols = (size_t)ncol;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        if (!rows) continue;
        if ((rows->n_rows + 1) * (size_t)ncol > cap) {
            size_t ncap = cap ? cap * 2 : (size_t)ncol * 8;
            char **nc = realloc(rows->cells, ncap * sizeof *nc);
            if (!nc) {
                st = ml_error(ML_ERR_OUT_OF_MEMORY, "sqlite: out of memory reading rows");
                break;
            }
            rows->cells = nc;
            cap = ncap;
        }
        for (int c = 0; c < ncol; c++) {
            const unsigned char *t = sqlite3_column_text(stmt, c);
            rows->cells[rows->n_rows * (size_t)ncol + (size_t)c] =
                t ? strdup((const char *)t) : NULL;
        }
        rows->n_rows++;
    }
    if (!st && rc != SQLITE_DONE && rc != SQLITE_ROW) {
        int ext = sqlite3_extended_errcode(s->conn);
        if (ext == SQLITE_CONSTRAINT_UNIQUE || ext == SQLITE_CONSTRAINT_PRIMARYKEY)
            st = ml_error(ML_ERR_ALREADY_EXISTS, "sqlite: %s", sqlite3_errmsg(s->conn));
        else if (rc == SQLITE_BUSY)
            st = ml_error(ML_ERR_UNAVAILABLE, "sqlite: database is locked by another process");
        else
            st = ml_error(ML_ERR_IO, "sqlite: '%.60s' failed: %s", sql, sqlite3_errmsg(s->conn));
    }
    sqlite3_finalize(stmt);
    if (st && rows) ml_sqlrows_free(rows);
    return st;
}

static void sqlite_close(ml_sqldb *db) {
    sqlite_db *s = (sqlite_db *)db;
    if (!s) return;
    sqlite3_close(s->conn);
    free(s);
}

static const ml_sqldb_ops sqlite_ops = {sqlite_exec, sqlite_close};

ml_status ml_sqldb_open_sqlite(const char *path, ml_sqldb **out) {
    sqlite_db *s = calloc(1, sizeof *s);
    if (!s) return ml_error(ML_ERR_OUT_OF_MEMORY, "out of memory opening sqlite");
    s->base.ops = &sqlite_ops;
    s->base.dialect = ML_SQL_SQLITE;
    s->base.begin_sql = "BEGIN IMMEDIATE";
    if (sqlite3_open_v2(path, &s->conn,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                        NULL) != SQLITE_OK) {
        ml_status st =
            ml_error(ML_ERR_IO, "cannot open registry database %s: %s; check the data dir", path,
                     s->conn ? sqlite3_errmsg(s->conn) : "out of memory");
        sqlite3_close(s->conn);
        free(s);
        return st;
    }
    sqlite3_busy_timeout(s->conn, 5000);
    static const char *const pragmas[] = {"PRAGMA journal_mode=WAL", "PRAGMA synchronous=NORMAL",
                                          "PRAGMA foreign_keys=ON"};
    for (size_t i = 0; i < sizeof pragmas / sizeof *pragmas; i++) {
        ml_sqlrows r;
        ml_status st = sqlite_exec(&s->base, pragmas[i], 0, NULL, &r);
        ml_sqlrows_free(&r);
        if (st) {
            sqlite_close(&s->base);
            return ml_status_wrap(st, "configuring %s", path);
        }
    }
    *out = &s->base;
    return NULL;
}
