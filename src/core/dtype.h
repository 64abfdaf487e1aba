/* Element types. The numeric values are ONNX's TensorProto.DataType so that
 * model files map directly; names for the KServe V2 protocol ("FP32",
 * "BYTES") and TF-Serving ("DT_FLOAT") are provided for the API codecs. */
#ifndef MLAMBDA_CORE_DTYPE_H
#define MLAMBDA_CORE_DTYPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum ml_dtype {
    ML_UNDEFINED = 0,
    ML_FLOAT = 1,
    ML_UINT8 = 2,
    ML_INT8 = 3,
    ML_UINT16 = 4,
    ML_INT16 = 5,
    ML_INT32 = 6,
    ML_INT64 = 7,
    ML_STRING = 8, /* byte strings (KServe BYTES): elements are ml_str */
    ML_BOOL = 9,   /* one byte, 0 or 1 */
    ML_FLOAT16 = 10,
    ML_DOUBLE = 11,
    ML_UINT32 = 12,
    ML_UINT64 = 13,
    ML_COMPLEX64 = 14,
    ML_COMPLEX128 = 15,
    ML_BFLOAT16 = 16,
    ML_DTYPE_COUNT
} ml_dtype;

/* One string element: len bytes at data, not NUL-terminated in general
 * (a terminating NUL is kept after the bytes by mlambda's own allocations). */
typedef struct ml_str {
    char *data;
    size_t len;
} ml_str;

bool ml_dtype_valid(int dtype);
/* Bytes per element (sizeof(ml_str) for ML_STRING); 0 for ML_UNDEFINED. */
size_t ml_dtype_size(ml_dtype dt);
bool ml_dtype_is_float(ml_dtype dt);   /* FLOAT16, BFLOAT16, FLOAT, DOUBLE */
bool ml_dtype_is_integer(ml_dtype dt); /* signed and unsigned ints (not BOOL) */
/* ONNX name: "float", "int64", "string", "float16", ... */
const char *ml_dtype_name(ml_dtype dt);
/* KServe V2 name: "FP32", "INT64", "BYTES", "BOOL", "FP16", "BF16"; NULL if none. */
const char *ml_dtype_kserve_name(ml_dtype dt);
/* TF-Serving DataType name: "DT_FLOAT", "DT_STRING", ...; NULL if none. */
const char *ml_dtype_tf_name(ml_dtype dt);
/* Parses any of the three naming schemes (case-insensitive) plus common
 * aliases ("float32", "fp64", "bytes", "str"). ML_UNDEFINED when unknown. */
ml_dtype ml_dtype_parse(const char *name);

/* Element i of an array of dt as double (0 for strings and complex). */
double ml_dtype_load_f64(ml_dtype dt, const void *data, size_t i);

/* Half-precision conversions (round to nearest even). */
float ml_fp16_to_float(uint16_t h);
uint16_t ml_float_to_fp16(float f);
float ml_bf16_to_float(uint16_t b);
uint16_t ml_float_to_bf16(float f);

#endif
