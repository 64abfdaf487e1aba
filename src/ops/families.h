/* Kernel lists, one per operator family (one .c file or a few per family). */
#ifndef MLAMBDA_OPS_FAMILIES_H
#define MLAMBDA_OPS_FAMILIES_H

#include "ops/kernel.h"

extern const ml_kernel
    ml_kernels_elementwise[]; /* elementwise.c: arithmetic, math, logic, compare */
extern const ml_kernel ml_kernels_activation[]; /* activation.c: Relu, Sigmoid, Gelu, Clip, ... */
extern const ml_kernel ml_kernels_cast[];       /* cast.c: Cast, CastLike (incl. strings) */
extern const ml_kernel
    ml_kernels_reduce[]; /* reduce.c: Reduce*, ArgMax/Min, Softmax, CumSum, TopK */
extern const ml_kernel
    ml_kernels_shape[]; /* shape.c: Reshape, Transpose, Concat, Split, Pad, ... */
extern const ml_kernel
    ml_kernels_index[]; /* index.c: Gather*, Scatter*, Slice, Where, NonZero, ... */
extern const ml_kernel ml_kernels_linalg[]; /* linalg.c: MatMul, Gemm, Einsum, Det */
extern const ml_kernel ml_kernels_conv[];   /* conv.c: Conv, ConvTranspose */
extern const ml_kernel ml_kernels_pool[];   /* pool.c: Max/Average/LpPool, Global*, MaxUnpool */
extern const ml_kernel ml_kernels_norm[]; /* norm.c: BatchNorm, LayerNorm, InstanceNorm, LRN, MVN */
extern const ml_kernel ml_kernels_rnn[];  /* rnn.c: RNN, GRU, LSTM */
extern const ml_kernel ml_kernels_resize[];   /* resize.c: Resize, Upsample, GridSample, RoiAlign */
extern const ml_kernel ml_kernels_control[];  /* control.c: If, Loop, Scan */
extern const ml_kernel ml_kernels_sequence[]; /* sequence.c: Sequence*, Optional* */
extern const ml_kernel
    ml_kernels_string[]; /* string.c: StringNormalizer, StringSplit, RegexFullMatch, ... */
extern const ml_kernel ml_kernels_ml[]; /* ml_*.c: the ai.onnx.ml domain */
extern const ml_kernel
    ml_kernels_quant[]; /* quant.c: Quantize/DequantizeLinear, QLinear*, *Integer */
extern const ml_kernel
    ml_kernels_random[]; /* random.c: RandomUniform/Normal(Like), Bernoulli, Multinomial */
extern const ml_kernel ml_kernels_signal[]; /* signal.c: DFT, STFT, windows, MelWeightMatrix */
extern const ml_kernel
    ml_kernels_misc[]; /* misc.c: NonMaxSuppression, TfIdfVectorizer, losses, training */
extern const ml_kernel
    ml_kernels_transformer[]; /* transformer*.c: RMSNormalization, RotaryEmbedding, Attention,
                                    com.mlambda ScaledDotProductAttention */

#endif
