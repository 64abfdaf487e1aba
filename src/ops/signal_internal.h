/* FFT helper shared by DFT and STFT (signal.c), implemented in signal_fft.c. */
#ifndef MLAMBDA_OPS_SIGNAL_INTERNAL_H
#define MLAMBDA_OPS_SIGNAL_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "core/status.h"
#include "ops/kernel.h"

/* A reusable plan for transforms of length n (any n >= 1): radix-2 when n
 * is a power of two, Bluestein's algorithm otherwise. Not thread-safe to
 * share while executing (it owns scratch); create one per run. */
typedef struct sig_fft sig_fft;

ml_status sig_fft_create(size_t n, sig_fft **out);
void sig_fft_free(sig_fft *p);
/* In-place transform of n interleaved (re, im) doubles; inverse applies
 * the conjugate twiddles and the 1/n scale. */
void sig_fft_run(sig_fft *p, double *data, bool inverse);

ml_status signal_run_hann(ml_kernel_ctx *ctx);
ml_status signal_run_hamming(ml_kernel_ctx *ctx);
ml_status signal_run_blackman(ml_kernel_ctx *ctx);
ml_status signal_run_mel(ml_kernel_ctx *ctx);

#endif
