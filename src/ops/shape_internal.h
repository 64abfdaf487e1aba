/* Kernels of the shape family, defined across shape_*.c and listed in the
 * ml_kernels_shape table (shape.c). */
#ifndef MLAMBDA_OPS_SHAPE_INTERNAL_H
#define MLAMBDA_OPS_SHAPE_INTERNAL_H

#include "ops/kernel.h"

/* shape_view.c: zero-copy views and shape queries */
ml_status ml_shape_reshape_run(ml_kernel_ctx *ctx);
ml_status ml_shape_flatten_run(ml_kernel_ctx *ctx);
ml_status ml_shape_squeeze_run(ml_kernel_ctx *ctx);
ml_status ml_shape_unsqueeze_run(ml_kernel_ctx *ctx);
ml_status ml_shape_identity_run(ml_kernel_ctx *ctx);
ml_status ml_shape_shape_run(ml_kernel_ctx *ctx);
ml_status ml_shape_size_run(ml_kernel_ctx *ctx);
ml_status ml_shape_dropout_run(ml_kernel_ctx *ctx);

/* shape_transpose.c */
ml_status ml_shape_transpose_init(const ml_node *node, void **state);
ml_status ml_shape_blocksize_init(const ml_node *node, void **state);
ml_status ml_shape_transpose_run(ml_kernel_ctx *ctx);
ml_status ml_shape_depthtospace_run(ml_kernel_ctx *ctx);
ml_status ml_shape_spacetodepth_run(ml_kernel_ctx *ctx);

/* shape_concat.c */
ml_status ml_shape_concat_init(const ml_node *node, void **state);
ml_status ml_shape_concat_run(ml_kernel_ctx *ctx);
ml_status ml_shape_split_run(ml_kernel_ctx *ctx);

/* shape_pad.c */
ml_status ml_shape_pad_init(const ml_node *node, void **state);
ml_status ml_shape_pad_run(ml_kernel_ctx *ctx);
ml_status ml_shape_centercroppad_run(ml_kernel_ctx *ctx);

/* shape_expand.c */
ml_status ml_shape_expand_run(ml_kernel_ctx *ctx);
ml_status ml_shape_tile_run(ml_kernel_ctx *ctx);

/* shape_const.c: generators */
ml_status ml_shape_constant_init(const ml_node *node, void **state);
ml_status ml_shape_constant_run(ml_kernel_ctx *ctx);
ml_status ml_shape_constantofshape_run(ml_kernel_ctx *ctx);
ml_status ml_shape_range_run(ml_kernel_ctx *ctx);
ml_status ml_shape_eyelike_run(ml_kernel_ctx *ctx);
ml_status ml_shape_trilu_run(ml_kernel_ctx *ctx);

#endif
