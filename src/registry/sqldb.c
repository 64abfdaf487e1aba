#include "registry/sqldb.h"

#include <stdlib.h>

void ml_sqlrows_free(ml_sqlrows *r) {
    if (!r || !r->cells) return;
    for (size_t i = 0; i < r->n_rows * r->n_cols; i++) free(r->cells[i]);
    free(r->cells);
    r->cells = NULL;
    r->n_rows = r->n_cols = 0;
}

const char *ml_sqlrows_get(const ml_sqlrows *r, size_t row, size_t col) {
    if (!r || row >= r->n_rows || col >= r->n_cols) return NULL;
    return r->cells[row * r->n_cols + col];
}
