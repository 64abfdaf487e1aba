/* Upload progress: a redrawn bar on a terminal, plain lines otherwise (so
 * CI logs stay readable). Shows bytes, rate and ETA. */
#ifndef MLAMBDA_CLI_PROGRESS_H
#define MLAMBDA_CLI_PROGRESS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef struct ml_progress {
    FILE *out; /* borrowed; NULL = silent */
    int tty;
    const char *label; /* borrowed */
    uint64_t total;
    uint64_t start_ns, last_ns;
    int last_step; /* last 10% step printed in plain mode */
    int finished;
} ml_progress;

void ml_progress_init(ml_progress *p, FILE *out, const char *label, uint64_t total);
void ml_progress_update(ml_progress *p, uint64_t done);
/* Prints the final state once (100% or where it stopped). */
void ml_progress_finish(ml_progress *p, uint64_t done);

/* "999 B", "12.3 KB", "4.0 MB", ... (powers of 1024, one decimal). */
void ml_format_bytes(uint64_t n, char *buf, size_t cap);
/* "7s", "1:05", "2:03:04". */
void ml_format_duration(double seconds, char *buf, size_t cap);
/* The status text shared by both modes: "45%  1.2 MB / 2.7 MB  3.1 MB/s  ETA 0:03". */
void ml_progress_text(uint64_t done, uint64_t total, double elapsed_s, char *buf, size_t cap);

#endif
