#include "cli/table.h"

#include <stdlib.h>
#include <string.h>

#define MAX_CELL_WIDTH 60

struct ml_table {
    size_t ncols, nrows, cap;
    char **cells; /* (nrows + 1) * ncols, row 0 = headers */
};

static char *clean_copy(const char *s) {
    /* Control characters (newlines in descriptions...) would break alignment. */
    char *c = strdup(s ? s : "-");
    if (c)
        for (char *p = c; *p; p++)
            if ((unsigned char)*p < ' ') *p = ' ';
    return c;
}

ml_table *ml_table_new(size_t ncols, const char *const *headers) {
    ml_table *t = calloc(1, sizeof *t);
    if (!t) return NULL;
    t->ncols = ncols;
    if (!ml_table_add(t, headers)) {
        ml_table_free(t);
        return NULL;
    }
    t->nrows = 0; /* the header row is not counted */
    return t;
}

int ml_table_add(ml_table *t, const char *const *cells) {
    size_t used = t->cells ? (t->nrows + 1) * t->ncols : 0;
    if (used + t->ncols > t->cap) {
        size_t cap = t->cap ? t->cap * 2 : t->ncols * 8;
        char **c = realloc(t->cells, cap * sizeof *c);
        if (!c) return 0;
        t->cells = c;
        t->cap = cap;
    }
    for (size_t i = 0; i < t->ncols; i++) {
        t->cells[used + i] = clean_copy(cells[i]);
        if (!t->cells[used + i]) {
            for (size_t j = 0; j < i; j++) free(t->cells[used + j]);
            return 0;
        }
    }
    if (used) t->nrows++;
    return 1;
}

size_t ml_table_rows(const ml_table *t) {
    return t->nrows;
}

/* Display width in code points (continuation bytes do not count). */
static size_t width_of(const char *s) {
    size_t w = 0;
    for (; *s; s++)
        if (((unsigned char)*s & 0xC0) != 0x80) w++;
    return w;
}

/* Byte length of the first `w` code points. */
static size_t bytes_for(const char *s, size_t w) {
    size_t b = 0, seen = 0;
    for (; s[b]; b++) {
        if (((unsigned char)s[b] & 0xC0) != 0x80) {
            if (seen == w) break;
            seen++;
        }
    }
    return b;
}

void ml_table_print(const ml_table *t, FILE *out) {
    size_t widths[64] = {0};
    size_t ncols = t->ncols < 64 ? t->ncols : 64;
    for (size_t r = 0; r <= t->nrows; r++)
        for (size_t c = 0; c < ncols; c++) {
            size_t w = width_of(t->cells[r * t->ncols + c]);
            if (w > MAX_CELL_WIDTH) w = MAX_CELL_WIDTH;
            if (w > widths[c]) widths[c] = w;
        }
    for (size_t r = 0; r <= t->nrows; r++) {
        for (size_t c = 0; c < ncols; c++) {
            const char *cell = t->cells[r * t->ncols + c];
            size_t w = width_of(cell);
            int last = c + 1 == ncols;
            if (w > MAX_CELL_WIDTH) {
                fprintf(out, "%.*s...", (int)bytes_for(cell, MAX_CELL_WIDTH - 3), cell);
                w = MAX_CELL_WIDTH;
            } else {
                fputs(cell, out);
            }
            if (!last) fprintf(out, "%*s", (int)(widths[c] - w + 2), "");
        }
        fputc('\n', out);
    }
}

void ml_table_free(ml_table *t) {
    if (!t) return;
    size_t n = t->cells ? (t->nrows + 1) * t->ncols : 0;
    for (size_t i = 0; i < n; i++) free(t->cells[i]);
    free(t->cells);
    free(t);
}
