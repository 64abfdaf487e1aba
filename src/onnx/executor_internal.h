/* Executor internals shared between executor*.c files. */
#ifndef MLAMBDA_ONNX_EXECUTOR_INTERNAL_H
#define MLAMBDA_ONNX_EXECUTOR_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "ops/kernel.h"

/* executor_profile.c: MLAMBDA_PROFILE=1 (read once) turns on per-op timing,
 * reported to stderr at exit. */
bool ml_exec_profiling(void);
/* Adds one run of node n taking ns nanoseconds (thread-safe). */
void ml_exec_profile_add(const ml_node *n, uint64_t ns);

#endif
