/* Numeric helpers shared by the JSON codecs (codec.c, codec_fast.c,
 * json_writer.c), so the general decoder, the fast path and the writer
 * agree on ranges and exact powers of ten. */
#ifndef MLAMBDA_API_JSON_NUM_H
#define MLAMBDA_API_JSON_NUM_H

#include <stdbool.h>
#include <stdint.h>

#include "core/dtype.h"

/* 10^0 .. 10^19, exact (10^19 is the largest that fits in 64 bits). */
static const uint64_t ml_pow10_u64[20] = {1ull,
                                          10ull,
                                          100ull,
                                          1000ull,
                                          10000ull,
                                          100000ull,
                                          1000000ull,
                                          10000000ull,
                                          100000000ull,
                                          1000000000ull,
                                          10000000000ull,
                                          100000000000ull,
                                          1000000000000ull,
                                          10000000000000ull,
                                          100000000000000ull,
                                          1000000000000000ull,
                                          10000000000000000ull,
                                          100000000000000000ull,
                                          1000000000000000000ull,
                                          10000000000000000000ull};

/* Whether an integral value fits the integer dtype (int64 and wider types
 * are range-checked by their callers, which see the exact integer). */
static inline bool ml_json_int_in_range(ml_dtype dt, double v) {
    switch (dt) {
    case ML_INT8:
        return v >= -128 && v <= 127;
    case ML_UINT8:
        return v >= 0 && v <= 255;
    case ML_INT16:
        return v >= -32768 && v <= 32767;
    case ML_UINT16:
        return v >= 0 && v <= 65535;
    case ML_INT32:
        return v >= -2147483648.0 && v <= 2147483647.0;
    case ML_UINT32:
        return v >= 0 && v <= 4294967295.0;
    case ML_UINT64:
        return v >= 0;
    default:
        return true;
    }
}

#endif
