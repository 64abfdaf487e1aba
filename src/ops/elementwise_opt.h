/* Included first by the elementwise/activation/cast/reduce sources: their
 * typed loops need the vectoriser at full strength (GCC's -O2 only vectorises
 * loops that need no scalar epilogue) and FP math without trap/errno side
 * effects so selects and sqrt vectorise. Clang vectorises at -O2. */
#ifndef MLAMBDA_OPS_ELEMENTWISE_OPT_H
#define MLAMBDA_OPS_ELEMENTWISE_OPT_H

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("O3", "no-math-errno", "no-trapping-math")
#endif

/* Compute-heavy loops (exp, tanh, erf...) are also built for AVX2 and
 * AVX-512 (x86-64-v4) and picked at load time (GCC function multiversioning
 * through ifunc): two and four times the vector width of the x86-64 baseline
 * without requiring either. The AVX-512 build ran Gelu 1.4-2x faster than
 * the AVX2 one on Zen 4 (fewer instructions per element; same results, as
 * neither build contracts a * b + c into FMA in ISO C mode). */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && defined(__linux__)
#define ELEM_CLONES __attribute__((target_clones("arch=x86-64-v4", "avx2", "default")))
#else
#define ELEM_CLONES
#endif

#endif
