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

/* The same, with input i also given to init as a load-time constant
 * (node->const_inputs) when bit i of const_mask is set, as the engine does
 * for initializers: exercises the pre-packed weight paths. */
ml_status ml_test_run_const(const char *domain, const char *op_type, int opset,
                            const ml_attr *attrs, size_t n_attrs, size_t n_in,
                            const ml_tensor *const *inputs, unsigned const_mask, size_t n_out,
                            ml_tensor **outputs);

/* Thread pool handed to kernels by later ml_test_run calls (NULL = none),
 * so tests can exercise parallel paths. The caller keeps ownership. */
void ml_test_set_pool(ml_threadpool *pool);

/* New owned tensors filled from arrays (data copied). */
ml_tensor *ml_test_tensor(ml_dtype dt, int rank, const int64_t *dims, const void *data);
ml_tensor *ml_test_f32(int rank, const int64_t *dims, const float *data);
ml_tensor *ml_test_i64(int rank, const int64_t *dims, const int64_t *data);
ml_tensor *ml_test_strings(int rank, const int64_t *dims, const char *const *data);

/* Shared checks for op unit tests. */
/* Runs a one-output op; returns the output (caller frees) or NULL, printing why. */
ml_tensor *ml_test_run1(const char *op, int opset, const ml_attr *attrs, size_t na, size_t nin,
                        const ml_tensor *const *in);
bool ml_test_dims_are(const ml_tensor *t, int rank, const int64_t *dims);
/* True when t is a float32 / int64 tensor holding exactly v[0..n). */
bool ml_test_f32_are(const ml_tensor *t, const float *v, size_t n);
bool ml_test_i64_are(const ml_tensor *t, const int64_t *v, size_t n);
/* float32 tensor holding 0, 1, 2, ... ; 1-D int64 tensor of v. */
ml_tensor *ml_test_iota_f32(int rank, const int64_t *dims);
ml_tensor *ml_test_vec_i64(size_t n, const int64_t *v);

#endif
