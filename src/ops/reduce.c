/* The reduce family: Reduce*, ArgMax/ArgMin, Softmax/LogSoftmax/Hardmax,
 * CumSum, TopK. Implementations live in reduce_*.c. */
#include "ops/families.h"
#include "ops/reduce_internal.h"

#define REDUCER(name, op)                                                                          \
    static ml_status run_##name(ml_kernel_ctx *ctx) {                                              \
        return red_run_reduce(ctx, op);                                                            \
    }
REDUCER(sum, RED_SUM)
REDUCER(mean, RED_MEAN)
REDUCER(max, RED_MAX)
REDUCER(min, RED_MIN)
REDUCER(prod, RED_PROD)
REDUCER(l1, RED_L1)
REDUCER(l2, RED_L2)
REDUCER(logsum, RED_LOGSUM)
REDUCER(logsumexp, RED_LOGSUMEXP)
REDUCER(sumsq, RED_SUMSQ)

const ml_kernel ml_kernels_reduce[] = {
    {"", "ReduceSum", 1, 0, NULL, NULL, run_sum},
    {"", "ReduceMean", 1, 0, NULL, NULL, run_mean},
    {"", "ReduceMax", 1, 0, NULL, NULL, run_max},
    {"", "ReduceMin", 1, 0, NULL, NULL, run_min},
    {"", "ReduceProd", 1, 0, NULL, NULL, run_prod},
    {"", "ReduceL1", 1, 0, NULL, NULL, run_l1},
    {"", "ReduceL2", 1, 0, NULL, NULL, run_l2},
    {"", "ReduceLogSum", 1, 0, NULL, NULL, run_logsum},
    {"", "ReduceLogSumExp", 1, 0, NULL, NULL, run_logsumexp},
    {"", "ReduceSumSquare", 1, 0, NULL, NULL, run_sumsq},
    {"", "ArgMax", 1, 0, NULL, NULL, red_run_argmax},
    {"", "ArgMin", 1, 0, NULL, NULL, red_run_argmin},
    {"", "Softmax", 1, 0, NULL, NULL, red_run_softmax},
    {"", "LogSoftmax", 1, 0, NULL, NULL, red_run_logsoftmax},
    {"", "Hardmax", 1, 0, NULL, NULL, red_run_hardmax},
    {"", "CumSum", 11, 0, NULL, NULL, red_run_cumsum},
    {"", "TopK", 1, 0, NULL, NULL, red_run_topk},
    {0},
};
