/* Aligned text tables for list/get output:
 *
 *   NAME     LATEST  UPDATED
 *   seq2seq  2       2026-11-25T12:00:00Z
 */
#ifndef MLAMBDA_CLI_TABLE_H
#define MLAMBDA_CLI_TABLE_H

#include <stddef.h>
#include <stdio.h>

typedef struct ml_table ml_table;

/* headers: ncols strings (copied). NULL on out-of-memory. */
ml_table *ml_table_new(size_t ncols, const char *const *headers);
/* Appends a row of ncols cells (copied; NULL cells print as "-").
 * Returns 0 on out-of-memory. */
int ml_table_add(ml_table *t, const char *const *cells);
size_t ml_table_rows(const ml_table *t);
/* Columns are separated by two spaces; cells are padded by display width
 * (UTF-8 code points) and cut at 60 columns with "...". */
void ml_table_print(const ml_table *t, FILE *out);
void ml_table_free(ml_table *t);

#endif
