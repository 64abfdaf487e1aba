/* The shape family: views, transposes, concatenation, padding, tiling and
 * constant generators. Kernels live in shape_*.c. */
#include "ops/families.h"
#include "ops/shape_internal.h"

const ml_kernel ml_kernels_shape[] = {
    {"", "Reshape", 1, 0, NULL, NULL, ml_shape_reshape_run},
    {"", "Flatten", 1, 0, NULL, NULL, ml_shape_flatten_run},
    {"", "Squeeze", 1, 0, NULL, NULL, ml_shape_squeeze_run},
    {"", "Unsqueeze", 1, 0, NULL, NULL, ml_shape_unsqueeze_run},
    {"", "Identity", 1, 0, NULL, NULL, ml_shape_identity_run},
    {"", "Shape", 1, 0, NULL, NULL, ml_shape_shape_run},
    {"", "Size", 1, 0, NULL, NULL, ml_shape_size_run},
    {"", "Dropout", 1, 0, NULL, NULL, ml_shape_dropout_run},
    {"", "Transpose", 1, 0, ml_shape_transpose_init, NULL, ml_shape_transpose_run},
    {"", "DepthToSpace", 1, 0, ml_shape_blocksize_init, NULL, ml_shape_depthtospace_run},
    {"", "SpaceToDepth", 1, 0, ml_shape_blocksize_init, NULL, ml_shape_spacetodepth_run},
    {"", "Concat", 1, 0, ml_shape_concat_init, NULL, ml_shape_concat_run},
    {"", "Split", 1, 0, NULL, NULL, ml_shape_split_run},
    {"", "Pad", 1, 0, ml_shape_pad_init, NULL, ml_shape_pad_run},
    {"", "CenterCropPad", 18, 0, NULL, NULL, ml_shape_centercroppad_run},
    {"", "Expand", 8, 0, NULL, NULL, ml_shape_expand_run},
    {"", "Tile", 1, 0, NULL, NULL, ml_shape_tile_run},
    {"", "Constant", 1, 0, ml_shape_constant_init, NULL, ml_shape_constant_run},
    {"", "ConstantOfShape", 9, 0, NULL, NULL, ml_shape_constantofshape_run},
    {"", "Range", 11, 0, NULL, NULL, ml_shape_range_run},
    {"", "EyeLike", 9, 0, NULL, NULL, ml_shape_eyelike_run},
    {"", "Trilu", 14, 0, NULL, NULL, ml_shape_trilu_run},
    {0},
};
