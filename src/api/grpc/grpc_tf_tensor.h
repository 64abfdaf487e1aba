/* TensorFlow TensorProto <-> mlambda tensors, shared by the TF-Serving
 * service (grpc_tf.c) and the gRPC client (grpc_client.c). */
#ifndef MLAMBDA_API_GRPC_TF_TENSOR_H
#define MLAMBDA_API_GRPC_TF_TENSOR_H

#include "core/arena.h"
#include "core/tensor.h"
#include "tensorflow/core/framework/tensor.pb-c.h"

ml_dtype ml_tf_dtype_to_ml(Tensorflow__DataType tf);   /* ML_UNDEFINED if unsupported */
Tensorflow__DataType ml_tf_dtype_from_ml(ml_dtype dt); /* DT_INVALID if none */
/* TensorProto -> new owned tensor. Without a shape (or with unknown_rank) the
 * values form a 1-D tensor; a single value fills a larger shape (TF's rule).
 * name labels error messages. */
ml_status ml_tf_tensor_from_proto(const char *name, const Tensorflow__TensorProto *p,
                                  ml_tensor **out);
/* tensor -> TensorProto allocated in the arena; its typed value arrays may
 * point into t, which must outlive the packing of the message. */
ml_status ml_tf_tensor_to_proto(ml_arena *a, const ml_tensor *t, Tensorflow__TensorProto **out);
/* Shape message in the arena (rank < 0: unknown_rank). NULL when out of memory. */
Tensorflow__TensorShapeProto *ml_tf_shape_proto(ml_arena *a, int rank, const int64_t *dims);

#endif
