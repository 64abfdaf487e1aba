/* Kernels of the index family, defined across index_*.c and listed in the
 * ml_kernels_index table (index.c). */
#ifndef MLAMBDA_OPS_INDEX_INTERNAL_H
#define MLAMBDA_OPS_INDEX_INTERNAL_H

#include "ops/kernel.h"

/* Converts index tensor t to a new malloc'd int64 array (caller frees) with
 * negative values counted from the end of an axis of size dim; fails naming
 * the first value outside [-dim, dim). */
ml_status index_prepare(const ml_node *node, const ml_tensor *t, const char *what, int64_t dim,
                        int64_t **out);

/* index_gather.c */
ml_status ml_index_gather_run(ml_kernel_ctx *ctx);
ml_status ml_index_gatherelements_run(ml_kernel_ctx *ctx);
ml_status ml_index_gathernd_run(ml_kernel_ctx *ctx);

/* index_scatter.c (Scatter-9 is ScatterElements without reduction) */
ml_status ml_index_scatter_init(const ml_node *node, void **state);
ml_status ml_index_scatterelements_run(ml_kernel_ctx *ctx);
ml_status ml_index_scatternd_run(ml_kernel_ctx *ctx);

/* index_slice.c */
ml_status ml_index_slice_run(ml_kernel_ctx *ctx);
ml_status ml_index_compress_run(ml_kernel_ctx *ctx);
ml_status ml_index_reversesequence_run(ml_kernel_ctx *ctx);

/* index_onehot.c */
ml_status ml_index_onehot_run(ml_kernel_ctx *ctx);
ml_status ml_index_nonzero_run(ml_kernel_ctx *ctx);

/* index_unique.c */
ml_status ml_index_unique_run(ml_kernel_ctx *ctx);

#endif
