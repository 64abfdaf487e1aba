/* The index family: gathers, scatters, slicing and selection. Kernels live
 * in index_*.c. (Where is an elementwise op.) */
#include "ops/families.h"
#include "ops/index_internal.h"

const ml_kernel ml_kernels_index[] = {
    {"", "Gather", 1, 0, NULL, NULL, ml_index_gather_run},
    {"", "GatherElements", 11, 0, NULL, NULL, ml_index_gatherelements_run},
    {"", "GatherND", 11, 0, NULL, NULL, ml_index_gathernd_run},
    {"", "Scatter", 9, 10, ml_index_scatter_init, NULL, ml_index_scatterelements_run},
    {"", "ScatterElements", 11, 0, ml_index_scatter_init, NULL, ml_index_scatterelements_run},
    {"", "ScatterND", 11, 0, ml_index_scatter_init, NULL, ml_index_scatternd_run},
    {"", "Slice", 1, 0, NULL, NULL, ml_index_slice_run},
    {"", "Compress", 9, 0, NULL, NULL, ml_index_compress_run},
    {"", "ReverseSequence", 10, 0, NULL, NULL, ml_index_reversesequence_run},
    {"", "OneHot", 9, 0, NULL, NULL, ml_index_onehot_run},
    {"", "NonZero", 9, 0, NULL, NULL, ml_index_nonzero_run},
    {"", "Unique", 11, 0, NULL, NULL, ml_index_unique_run},
    {0},
};
