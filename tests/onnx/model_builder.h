/* Builds small ONNX models in memory (serialized ModelProto bytes) for the
 * engine tests with protobuf-c, so tests need neither files nor Python.
 *
 * Usage: b = mb_new(opset); add inputs/outputs/initializers/nodes (attribute
 * calls apply to the last node added); bytes = mb_serialize(b, &len); then
 * mb_free(b) and free(bytes). A builder also serves as a subgraph (mb_sub +
 * mb_attr_graph) or as a model-local function (mb_function). */
#ifndef MLAMBDA_TESTS_ONNX_MODEL_BUILDER_H
#define MLAMBDA_TESTS_ONNX_MODEL_BUILDER_H

#include <stddef.h>
#include <stdint.h>

typedef struct mb_model mb_model;

mb_model *mb_new(int opset);
/* A graph for an attribute of a node of parent (shares parent's memory). */
mb_model *mb_sub(mb_model *parent, const char *name);
void mb_free(mb_model *b);

/* dims entries < 0 become the symbolic dim "N"; rank < 0 leaves the shape out. */
void mb_input(mb_model *b, const char *name, int dtype, int rank, const int64_t *dims);
void mb_output(mb_model *b, const char *name, int dtype);
/* Float initializer stored as raw_data (or float_data when typed != 0). */
void mb_init_f32(mb_model *b, const char *name, int rank, const int64_t *dims, const float *data,
                 int typed);
/* Initializer with arbitrary raw bytes (for size-mismatch tests). */
void mb_init_raw(mb_model *b, const char *name, int dtype, int rank, const int64_t *dims,
                 const void *raw, size_t raw_len);
/* Initializer whose data lives in an external file. */
void mb_init_external(mb_model *b, const char *name, int rank, const int64_t *dims,
                      const char *location, const char *offset, const char *length);
/* Sparse float initializer: dense shape dims, nnz values at linear indices. */
void mb_sparse_init_f32(mb_model *b, const char *name, int rank, const int64_t *dims, size_t nnz,
                        const int64_t *indices, const float *values);

/* Node with comma-separated input/output names ("" entries allowed: "a,,b"). */
void mb_node(mb_model *b, const char *op_type, const char *inputs, const char *outputs);
void mb_node_domain(mb_model *b, const char *domain);
void mb_attr_int(mb_model *b, const char *name, int64_t v);
void mb_attr_float(mb_model *b, const char *name, float v);
void mb_attr_ints(mb_model *b, const char *name, const int64_t *v, size_t n);
void mb_attr_graph(mb_model *b, const char *name, mb_model *sub);
/* Attribute of a function-body node that refers to the caller's attribute. */
void mb_attr_ref(mb_model *b, const char *name, int type, const char *ref_attr_name);

/* Adds a model-local function (domain, name) whose body is fn's nodes. */
void mb_function(mb_model *b, const char *domain, const char *name, const char *inputs,
                 const char *outputs, const char *attrs, mb_model *fn);
/* Gives the last added function a default for float attribute name (the
 * newer FunctionProto.attribute_proto field, written as field 11). */
void mb_function_default_float(mb_model *b, const char *name, float v);
void mb_opset(mb_model *b, const char *domain, int version);

uint8_t *mb_serialize(mb_model *b, size_t *len);

/* The standard test model: Y = X + W, X float [N,3] (N symbolic), W an
 * initializer [1,3] = {1,2,3} that is also listed as a graph input. */
uint8_t *mb_add_model(size_t *len);

#endif
