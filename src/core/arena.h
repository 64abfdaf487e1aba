/* Arena (bump) allocator: many small allocations, freed all at once.
 * Used for per-request scratch (parsed JSON fields, shape vectors) so that a
 * request never leaks piecemeal. Not thread-safe: one arena per thread/request. */
#ifndef MLAMBDA_CORE_ARENA_H
#define MLAMBDA_CORE_ARENA_H

#include <stddef.h>

typedef struct ml_arena_block ml_arena_block;

typedef struct ml_arena {
    ml_arena_block *head; /* current block, newest first */
    size_t block_size;    /* default size of a new block */
    size_t total;         /* bytes handed out since the last reset */
    size_t limit;         /* 0 = unbounded; otherwise allocations past it fail */
} ml_arena;

/* block_size 0 picks a default (64 KiB). limit 0 means unbounded. */
void ml_arena_init(ml_arena *a, size_t block_size, size_t limit);
/* Returns aligned zeroed memory owned by the arena, or NULL when out of memory
 * or over the limit. align must be a power of two (0 means max_align_t). */
void *ml_arena_alloc(ml_arena *a, size_t size, size_t align);
/* Copies a string (len bytes plus a NUL) into the arena. */
char *ml_arena_strndup(ml_arena *a, const char *s, size_t len);
/* Frees everything but keeps the first block for reuse. */
void ml_arena_reset(ml_arena *a);
/* Frees everything. The arena may be re-initialised afterwards. */
void ml_arena_destroy(ml_arena *a);

#endif
