/* Tensor slicing and stacking shared by the control-flow (Loop, Scan) and
 * sequence (SplitToSequence, ConcatFromSequence) kernels. Results are new
 * owned tensors; string elements are deep-copied. */
#ifndef MLAMBDA_OPS_CONTROL_UTIL_H
#define MLAMBDA_OPS_CONTROL_UTIL_H

#include <stdbool.h>

#include "core/tensor.h"

/* Elements [start, start+len) of t along axis. With keep_axis false (len must
 * be 1) the axis is removed from the result's shape. */
ml_status ml_ctl_slice(const ml_tensor *t, int axis, int64_t start, int64_t len, bool keep_axis,
                       ml_tensor **out);

/* Joins n tensors along axis. new_axis stacks them (a new axis of size n at
 * position axis, all shapes equal); otherwise they are concatenated (shapes
 * equal except along axis). reverse takes them in reverse order. axis is
 * already normalised. */
ml_status ml_ctl_join(const ml_tensor *const *ts, size_t n, int axis, bool new_axis, bool reverse,
                      ml_tensor **out);

#endif
