#include "ops/families.h"

const ml_kernel ml_kernels_activation[] = {
    {0},
};
