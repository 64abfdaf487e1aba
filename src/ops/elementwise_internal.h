/* Kernel entry points of the elementwise family (defined in
 * elementwise_binary.c, elementwise_unary.c, elementwise_where.c), listed
 * in the table in elementwise.c. */
#ifndef MLAMBDA_OPS_ELEMENTWISE_INTERNAL_H
#define MLAMBDA_OPS_ELEMENTWISE_INTERNAL_H

#include "ops/kernel.h"

ml_status ew_add(ml_kernel_ctx *ctx);
ml_status ew_sub(ml_kernel_ctx *ctx);
ml_status ew_mul(ml_kernel_ctx *ctx);
ml_status ew_div(ml_kernel_ctx *ctx);
ml_status ew_pow(ml_kernel_ctx *ctx);
ml_status ew_mod(ml_kernel_ctx *ctx);
ml_status ew_bitshift(ml_kernel_ctx *ctx);
ml_status ew_and(ml_kernel_ctx *ctx);
ml_status ew_or(ml_kernel_ctx *ctx);
ml_status ew_xor(ml_kernel_ctx *ctx);
ml_status ew_band(ml_kernel_ctx *ctx);
ml_status ew_bor(ml_kernel_ctx *ctx);
ml_status ew_bxor(ml_kernel_ctx *ctx);
ml_status ew_eq(ml_kernel_ctx *ctx);
ml_status ew_lt(ml_kernel_ctx *ctx);
ml_status ew_le(ml_kernel_ctx *ctx);
ml_status ew_gt(ml_kernel_ctx *ctx);
ml_status ew_ge(ml_kernel_ctx *ctx);
ml_status ew_max(ml_kernel_ctx *ctx);
ml_status ew_min(ml_kernel_ctx *ctx);
ml_status ew_sum(ml_kernel_ctx *ctx);
ml_status ew_mean(ml_kernel_ctx *ctx);
ml_status ew_reciprocal(ml_kernel_ctx *ctx);
ml_status ew_floor(ml_kernel_ctx *ctx);
ml_status ew_ceil(ml_kernel_ctx *ctx);
ml_status ew_round(ml_kernel_ctx *ctx);
ml_status ew_sqrt(ml_kernel_ctx *ctx);
ml_status ew_exp(ml_kernel_ctx *ctx);
ml_status ew_log(ml_kernel_ctx *ctx);
ml_status ew_sin(ml_kernel_ctx *ctx);
ml_status ew_cos(ml_kernel_ctx *ctx);
ml_status ew_tan(ml_kernel_ctx *ctx);
ml_status ew_asin(ml_kernel_ctx *ctx);
ml_status ew_acos(ml_kernel_ctx *ctx);
ml_status ew_atan(ml_kernel_ctx *ctx);
ml_status ew_sinh(ml_kernel_ctx *ctx);
ml_status ew_cosh(ml_kernel_ctx *ctx);
ml_status ew_asinh(ml_kernel_ctx *ctx);
ml_status ew_acosh(ml_kernel_ctx *ctx);
ml_status ew_atanh(ml_kernel_ctx *ctx);
ml_status ew_erf(ml_kernel_ctx *ctx);
ml_status ew_abs(ml_kernel_ctx *ctx);
ml_status ew_neg(ml_kernel_ctx *ctx);
ml_status ew_sign(ml_kernel_ctx *ctx);
ml_status ew_isnan(ml_kernel_ctx *ctx);
ml_status ew_isinf(ml_kernel_ctx *ctx);
ml_status ew_not(ml_kernel_ctx *ctx);
ml_status ew_bnot(ml_kernel_ctx *ctx);
ml_status ew_where(ml_kernel_ctx *ctx);

#endif
