/* PostgreSQL driver for the registry store (libpq, text protocol). */
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "registry/sqldb.h"

typedef struct pg_db {
    ml_sqldb base;
    PGconn *conn;
} pg_db;

static ml_status pg_exec(ml_sqldb *db, const char *sql, int n_params, const char *const *params,
                         ml_sqlrows *rows) {
    pg_db *p = (pg_db *)db;
    if (rows) *rows = (ml_sqlrows){0};
    if (PQstatus(p->conn) != CONNECTION_OK) PQreset(p->conn);
    if (PQstatus(p->conn) != CONNECTION_OK)
        return ml_error(ML_ERR_UNAVAILABLE, "postgres: connection lost: %s",
                        PQerrorMessage(p->conn));
    PGresult *res = PQexecParams(p->conn, sql, n_params, NULL, params, NULL, NULL, 0);
    ExecStatusType rs = PQresultStatus(res);
    ml_status st = NULL;
    if (rs != PGRES_COMMAND_OK && rs != PGRES_TUPLES_OK) {
        const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
        const char *msg = PQresultErrorMessage(res);
        if (state && strcmp(state, "23505") == 0)
            st = ml_error(ML_ERR_ALREADY_EXISTS, "postgres: %s", msg);
        else
            st = ml_error(ML_ERR_IO, "postgres: '%.60s' failed: %s", sql, msg);
    } else if (rows && rs == PGRES_TUPLES_OK) {
        size_t nr = (size_t)PQntuples(res), nc = (size_t)PQnfields(res);
        rows->n_cols = nc;
        if (nr > 0 && nc > 0) {
            rows->cells = calloc(nr * nc, sizeof *rows->cells);
            if (!rows->cells) st = ml_error(ML_ERR_OUT_OF_MEMORY, "postgres: out of memory");
        }
        for (size_t r = 0; !st && r < nr; r++) {
            for (size_t c = 0; c < nc; c++)
                if (!PQgetisnull(res, (int)r, (int)c))
                    rows->cells[r * nc + c] = strdup(PQgetvalue(res, (int)r, (int)c));
            rows->n_rows++;
        }
    }
    PQclear(res);
    if (st && rows) ml_sqlrows_free(rows);
    return st;
}

static void pg_close(ml_sqldb *db) {
    pg_db *p = (pg_db *)db;
    if (!p) return;
    PQfinish(p->conn);
    free(p);
}

static const ml_sqldb_ops pg_ops = {pg_exec, pg_close};

ml_status ml_sqldb_open_pg(const char *uri, ml_sqldb **out) {
    pg_db *p = calloc(1, sizeof *p);
    if (!p) return ml_error(ML_ERR_OUT_OF_MEMORY, "out of memory opening postgres");
    p->base.ops = &pg_ops;
    p->base.dialect = ML_SQL_POSTGRES;
    p->base.begin_sql = "BEGIN";
    p->conn = PQconnectdb(uri);
    if (PQstatus(p->conn) != CONNECTION_OK) {
        /* libpq's message spans lines and ends with a newline: flatten it. */
        char msg[512];
        snprintf(msg, sizeof msg, "%s", PQerrorMessage(p->conn));
        for (char *c = msg; *c; c++)
            if (*c == '\n' || *c == '\t') *c = ' ';
        size_t n = strlen(msg);
        while (n && msg[n - 1] == ' ') msg[--n] = '\0';
        ml_status st =
            ml_error(ML_ERR_UNAVAILABLE,
                     "cannot connect to PostgreSQL (%s); check --db and that the server runs", msg);
        pg_close(&p->base);
        return st;
    }
    PGresult *r = PQexec(p->conn, "SET client_min_messages TO warning");
    PQclear(r);
    *out = &p->base;
    return NULL;
}
