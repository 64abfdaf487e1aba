/* Cast between tensors, for other kernels that need a conversion. */
#ifndef MLAMBDA_OPS_CAST_INTERNAL_H
#define MLAMBDA_OPS_CAST_INTERNAL_H

#include "ops/kernel.h"

/* Converts x into y (same shape, y->dtype the target; y's string elements
 * are set when the target is ML_STRING). pool may be NULL. */
ml_status elem_cast_tensor(const ml_node *node, ml_threadpool *pool, const ml_tensor *x,
                           ml_tensor *y);

#endif
