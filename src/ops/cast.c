#include "ops/families.h"

const ml_kernel ml_kernels_cast[] = {
    {0},
};
