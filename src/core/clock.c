#include "core/clock.h"

#include <time.h>

uint64_t ml_now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int64_t ml_unix_time(void) {
    return (int64_t)time(NULL);
}
