/* Monotonic time for latency measurement and deadlines. */
#ifndef MLAMBDA_CORE_CLOCK_H
#define MLAMBDA_CORE_CLOCK_H

#include <stdint.h>

/* Nanoseconds from an arbitrary fixed point; never goes backwards. */
uint64_t ml_now_ns(void);
/* Seconds since the Unix epoch (wall clock, for timestamps stored in the registry). */
int64_t ml_unix_time(void);

#endif
