#include "core/arena.h"

#include <stdalign.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct ml_arena_block {
    ml_arena_block *next;
    size_t size; /* usable bytes in data */
    size_t used;
    alignas(max_align_t) unsigned char data[];
};

void ml_arena_init(ml_arena *a, size_t block_size, size_t limit) {
    a->head = NULL;
    a->block_size = block_size ? block_size : 64 * 1024;
    a->total = 0;
    a->limit = limit;
}

static ml_arena_block *new_block(size_t size) {
    ml_arena_block *b = malloc(sizeof *b + size);
    if (!b) return NULL;
    b->next = NULL;
    b->size = size;
    b->used = 0;
    return b;
}

void *ml_arena_alloc(ml_arena *a, size_t size, size_t align) {
    if (align == 0) align = alignof(max_align_t);
    if (align & (align - 1)) return NULL;
    if (size > SIZE_MAX / 2) return NULL;
    if (a->limit && (size > a->limit || a->total > a->limit - size)) return NULL;
    ml_arena_block *b = a->head;
    if (b) {
        size_t off = (b->used + align - 1) & ~(align - 1);
        if (off <= b->size && size <= b->size - off) {
            b->used = off + size;
            a->total += size;
            memset(b->data + off, 0, size);
            return b->data + off;
        }
    }
    /* Oversized requests get a block of their own; alignment slack included. */
    size_t want = size + align > a->block_size ? size + align : a->block_size;
    ml_arena_block *nb = new_block(want);
    if (!nb) return NULL;
    nb->next = a->head;
    a->head = nb;
    size_t off = ((uintptr_t)nb->data + align - 1) / align * align - (uintptr_t)nb->data;
    nb->used = off + size;
    a->total += size;
    memset(nb->data + off, 0, size);
    return nb->data + off;
}

char *ml_arena_strndup(ml_arena *a, const char *s, size_t len) {
    char *p = ml_arena_alloc(a, len + 1, 1);
    if (!p) return NULL;
    if (len) memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

void ml_arena_reset(ml_arena *a) {
    ml_arena_block *b = a->head;
    if (!b) return;
    /* keep the oldest block (the tail): it has the default size */
    ml_arena_block *keep = b;
    while (keep->next) keep = keep->next;
    while (b != keep) {
        ml_arena_block *next = b->next;
        free(b);
        b = next;
    }
    keep->used = 0;
    a->head = keep;
    a->total = 0;
}

void ml_arena_destroy(ml_arena *a) {
    ml_arena_block *b = a->head;
    while (b) {
        ml_arena_block *next = b->next;
        free(b);
        b = next;
    }
    a->head = NULL;
    a->total = 0;
}
