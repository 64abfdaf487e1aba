/* Runs one kernel on hand-made tensors, without loading an ONNX model, so
 * op families can test edge cases (broadcasting, empty tensors, negative
 * axes) directly. Subgraph ops are not supported here. */
#ifndef MLAMBDA_TESTS_OPS_HARNESS_H
#define MLAMBDA_TESTS_OPS_HARNESS_H

#include "ops/kernel.h"

/* Attribute builders (values are copied by reference: keep arrays alive
 * until the op has run). */
ml_attr ml_test_attr_int(const char *name, int64_t v);
ml_attr ml_test_attr_float(const char *name, float v);
ml_attr ml_test_attr_string(const char *name, const char *v);
ml_attr ml_test_attr_ints(const char *name, const int64_t *v, size_t n);
ml_attr ml_test_attr_floats(const char *name, const float *v, size_t n);
ml_attr ml_test_attr_tensor(const char *name, ml_tensor *t);

/* Runs op_type (domain "" = ai.onnx) at the given opset. inputs[i] may be
 * NULL for an omitted optional input. outputs[i] receive new tensors owned
 * by the caller (NULL if the kernel produced a non-tensor). */
ml_status ml_test_run(const char *domain, const char *op_type, int opset, const ml_attr *attrs,
                      size_t n_attrs, size_t n_in, const ml_tensor *const *inputs, size_t n_out,
                      ml_tensor **outputs);

/* Thread pool handed to kernels by later ml_test_run calls (NULL = none),
 * so tests can exercise parallel paths. The caller keeps ownership. */
void ml_test_set_pool(ml_threadpool *pool);

/* New owned tensors filled from arrays (data copied). */
ml_tensor *ml_test_tensor(ml_dtype dt, int rank, const int64_t *dims, const void *data);
ml_tensor *ml_test_f32(int rank, const int64_t *dims, const float *data);
ml_tensor *ml_test_i64(int rank, const int64_t *dims, const int64_t *data);
ml_tensor *ml_test_strings(int rank, const int64_t *dims, const char *const *data);

#endif
