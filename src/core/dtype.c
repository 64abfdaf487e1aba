#include "core/dtype.h"

#include <math.h>
#include <string.h>
#include <strings.h>

typedef struct dtype_info {
    size_t size;
    const char *onnx;
    const char *kserve;
    const char *tf;
} dtype_info;

static const dtype_info infos[ML_DTYPE_COUNT] = {
    [ML_UNDEFINED] = {0, "undefined", NULL, "DT_INVALID"},
    [ML_FLOAT] = {4, "float", "FP32", "DT_FLOAT"},
    [ML_UINT8] = {1, "uint8", "UINT8", "DT_UINT8"},
    [ML_INT8] = {1, "int8", "INT8", "DT_INT8"},
    [ML_UINT16] = {2, "uint16", "UINT16", "DT_UINT16"},
    [ML_INT16] = {2, "int16", "INT16", "DT_INT16"},
    [ML_INT32] = {4, "int32", "INT32", "DT_INT32"},
    [ML_INT64] = {8, "int64", "INT64", "DT_INT64"},
    [ML_STRING] = {sizeof(ml_str), "string", "BYTES", "DT_STRING"},
    [ML_BOOL] = {1, "bool", "BOOL", "DT_BOOL"},
    [ML_FLOAT16] = {2, "float16", "FP16", "DT_HALF"},
    [ML_DOUBLE] = {8, "double", "FP64", "DT_DOUBLE"},
    [ML_UINT32] = {4, "uint32", "UINT32", "DT_UINT32"},
    [ML_UINT64] = {8, "uint64", "UINT64", "DT_UINT64"},
    [ML_COMPLEX64] = {8, "complex64", NULL, "DT_COMPLEX64"},
    [ML_COMPLEX128] = {16, "complex128", NULL, "DT_COMPLEX128"},
    [ML_BFLOAT16] = {2, "bfloat16", "BF16", "DT_BFLOAT16"},
};

bool ml_dtype_valid(int dt) {
    return dt > ML_UNDEFINED && dt < ML_DTYPE_COUNT;
}

size_t ml_dtype_size(ml_dtype dt) {
    return ml_dtype_valid((int)dt) ? infos[dt].size : 0;
}

bool ml_dtype_is_float(ml_dtype dt) {
    return dt == ML_FLOAT || dt == ML_DOUBLE || dt == ML_FLOAT16 || dt == ML_BFLOAT16;
}

bool ml_dtype_is_integer(ml_dtype dt) {
    switch (dt) {
    case ML_UINT8:
    case ML_INT8:
    case ML_UINT16:
    case ML_INT16:
    case ML_INT32:
    case ML_INT64:
    case ML_UINT32:
    case ML_UINT64:
        return true;
    default:
        return false;
    }
}

const char *ml_dtype_name(ml_dtype dt) {
    return (int)dt >= 0 && dt < ML_DTYPE_COUNT ? infos[dt].onnx : "invalid";
}

const char *ml_dtype_kserve_name(ml_dtype dt) {
    return ml_dtype_valid((int)dt) ? infos[dt].kserve : NULL;
}

const char *ml_dtype_tf_name(ml_dtype dt) {
    return ml_dtype_valid((int)dt) ? infos[dt].tf : NULL;
}

ml_dtype ml_dtype_parse(const char *name) {
    if (!name) return ML_UNDEFINED;
    for (int i = 1; i < ML_DTYPE_COUNT; i++) {
        const dtype_info *d = &infos[i];
        if (strcasecmp(name, d->onnx) == 0 || (d->kserve && strcasecmp(name, d->kserve) == 0) ||
            (d->tf && strcasecmp(name, d->tf) == 0))
            return (ml_dtype)i;
    }
    static const struct {
        const char *alias;
        ml_dtype dt;
    } aliases[] = {
        {"float32", ML_FLOAT}, {"float64", ML_DOUBLE}, {"half", ML_FLOAT16},
        {"bytes", ML_STRING},  {"str", ML_STRING},     {"boolean", ML_BOOL},
        {"int", ML_INT64},     {"long", ML_INT64},     {"DT_INT64", ML_INT64},
    };
    for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++)
        if (strcasecmp(name, aliases[i].alias) == 0) return aliases[i].dt;
    return ML_UNDEFINED;
}

static inline uint32_t f2u(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}
static inline float u2f(uint32_t u) {
    float f;
    memcpy(&f, &u, 4);
    return f;
}

float ml_fp16_to_float(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1f;
    uint32_t mant = h & 0x3ff;
    if (exp == 0) {
        if (mant == 0) return u2f(sign);
        /* subnormal: value = mant * 2^-24 */
        float v = (float)mant * 5.9604644775390625e-8f;
        return sign ? -v : v;
    }
    if (exp == 31) return u2f(sign | 0x7f800000u | (mant << 13));
    return u2f(sign | ((exp + 112) << 23) | (mant << 13));
}

uint16_t ml_float_to_fp16(float f) {
    uint32_t u = f2u(f);
    uint16_t sign = (uint16_t)((u >> 16) & 0x8000);
    uint32_t absu = u & 0x7fffffffu;
    if (absu >= 0x7f800000u) /* inf or nan */
        return sign | 0x7c00 | (absu > 0x7f800000u ? 0x200 : 0);
    if (absu >= 0x477ff000u) return sign | 0x7c00; /* rounds to >= 65520: overflow */
    if (absu < 0x38800000u) {                      /* below the smallest normal half */
        /* round(|f| * 2^24) to nearest even gives the subnormal mantissa */
        float v = u2f(absu) * 16777216.0f;
        return sign | (uint16_t)lrintf(v);
    }
    uint32_t mant = absu & 0x7fffff;
    uint32_t exp = (absu >> 23) - 112;
    uint32_t half = (exp << 10) | (mant >> 13);
    uint32_t rem = mant & 0x1fff;
    if (rem > 0x1000 || (rem == 0x1000 && (half & 1))) half++;
    return sign | (uint16_t)half;
}

float ml_bf16_to_float(uint16_t b) {
    return u2f((uint32_t)b << 16);
}

uint16_t ml_float_to_bf16(float f) {
    uint32_t u = f2u(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40); /* quiet NaN */
    u += 0x7fff + ((u >> 16) & 1);
    return (uint16_t)(u >> 16);
}

double ml_dtype_load_f64(ml_dtype dt, const void *d, size_t i) {
    switch (dt) {
    case ML_FLOAT:
        return ((const float *)d)[i];
    case ML_DOUBLE:
        return ((const double *)d)[i];
    case ML_FLOAT16:
        return ml_fp16_to_float(((const uint16_t *)d)[i]);
    case ML_BFLOAT16:
        return ml_bf16_to_float(((const uint16_t *)d)[i]);
    case ML_INT8:
        return ((const int8_t *)d)[i];
    case ML_UINT8:
        return ((const uint8_t *)d)[i];
    case ML_INT16:
        return ((const int16_t *)d)[i];
    case ML_UINT16:
        return ((const uint16_t *)d)[i];
    case ML_INT32:
        return ((const int32_t *)d)[i];
    case ML_UINT32:
        return ((const uint32_t *)d)[i];
    case ML_INT64:
        return (double)((const int64_t *)d)[i];
    case ML_UINT64:
        return (double)((const uint64_t *)d)[i];
    case ML_BOOL:
        return ((const uint8_t *)d)[i] ? 1.0 : 0.0;
    default:
        return 0.0;
    }
}
