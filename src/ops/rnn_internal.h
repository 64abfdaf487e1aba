/* Activation functions of the recurrent ops (RNN, GRU, LSTM), shared by
 * rnn.c and rnn_act.c. */
#ifndef MLAMBDA_OPS_RNN_INTERNAL_H
#define MLAMBDA_OPS_RNN_INTERNAL_H

#include <stddef.h>

#include "ops/kernel.h"

typedef enum rnn_act_kind {
    RNN_ACT_SIGMOID,
    RNN_ACT_TANH,
    RNN_ACT_RELU,
    RNN_ACT_AFFINE,
    RNN_ACT_LEAKY_RELU,
    RNN_ACT_THRESHOLDED_RELU,
    RNN_ACT_SCALED_TANH,
    RNN_ACT_HARD_SIGMOID,
    RNN_ACT_ELU,
    RNN_ACT_SOFTSIGN,
    RNN_ACT_SOFTPLUS,
} rnn_act_kind;

typedef struct rnn_act {
    rnn_act_kind kind;
    float alpha, beta;
} rnn_act;

/* Parses the node's activations/activation_alpha/activation_beta for
 * n_dirs directions of n_per_dir functions each (defaults filled in from
 * dflt when the attribute is absent). out must hold n_dirs * n_per_dir. */
ml_status rnn_parse_activations(const ml_node *node, int n_dirs, int n_per_dir,
                                const rnn_act_kind *dflt, rnn_act *out);

/* x[i] = act(clip(x[i])) for i < n; clip <= 0 means no clipping. */
void rnn_apply(const rnn_act *act, float *x, size_t n, float clip);

#endif
