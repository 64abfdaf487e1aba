/* Kernels of the string family (string*.c), shared by the family table in
 * string.c. Each op lives in its own file. */
#ifndef MLAMBDA_OPS_STRING_INTERNAL_H
#define MLAMBDA_OPS_STRING_INTERNAL_H

#include "ops/kernel.h"

ml_status ml_string_normalizer_init(const ml_node *node, void **state);
void ml_string_normalizer_destroy(void *state);
ml_status ml_string_normalizer_run(ml_kernel_ctx *ctx);

ml_status ml_string_split_run(ml_kernel_ctx *ctx);

/* RegexFullMatch: RE2 patterns translated to POSIX extended regexes (see
 * string_regex.c for the supported subset). */
ml_status ml_regex_full_match_init(const ml_node *node, void **state);
void ml_regex_full_match_destroy(void *state);
ml_status ml_regex_full_match_run(ml_kernel_ctx *ctx);
/* Translates an RE2 pattern to an anchored POSIX ERE "^(...)$". Writes a
 * NUL-terminated string into out (size bytes); sets *icase when the pattern
 * starts with (?i). Returns NULL on success or a message naming the
 * unsupported construct (static string). Exposed for unit tests. */
const char *ml_regex_translate(const char *re2, char *out, size_t size, int *icase);

/* UTF-8 aware case mapping of ASCII, Latin-1, Latin Extended-A, Greek and
 * Cyrillic letters; other bytes are copied unchanged. The mapping never
 * changes the byte length, so dst must hold len bytes. upper selects the
 * direction. */
void ml_utf8_change_case(const char *src, size_t len, char *dst, int upper);

#endif
