/* The misc family: detection, text vectorising, losses and the training
 * optimizers. Implementations live in misc_*.c. */
#include "ops/families.h"
#include "ops/misc_internal.h"

#define TRAINING "ai.onnx.preview.training"

const ml_kernel ml_kernels_misc[] = {
    {"", "NegativeLogLikelihoodLoss", 12, 0, NULL, NULL, misc_run_nll_loss},
    {"", "SoftmaxCrossEntropyLoss", 12, 0, NULL, NULL, misc_run_softmax_ce_loss},
    {"", "NonMaxSuppression", 10, 0, NULL, NULL, misc_run_nms},
    {"", "TfIdfVectorizer", 9, 0, misc_init_tfidf, misc_destroy_tfidf, misc_run_tfidf},
    {"", "MaxRoiPool", 1, 0, NULL, NULL, misc_run_max_roi_pool},
    {TRAINING, "Adagrad", 1, 0, NULL, NULL, misc_run_adagrad},
    {TRAINING, "Adam", 1, 0, NULL, NULL, misc_run_adam},
    {TRAINING, "Momentum", 1, 0, NULL, NULL, misc_run_momentum},
    {0},
};
