/* Non-tensor model outputs (sequences, maps) as tensors the APIs can send.
 *
 * Why: KServe V2, TF-Serving and the gateway exchange tensors only, but
 * common exports produce other ONNX values, above all scikit-learn
 * classifiers from skl2onnx, whose "output_probability" is ZipMap's
 * sequence of maps {class label -> probability}. The rules, chosen so the
 * answer stays typed and numeric (what predict_proba returns):
 *   sequence of N maps with the same keys in the same order (ZipMap always)
 *       -> [N, K] tensor of the value type, column j = the j-th key;
 *   sequence of maps whose keys differ -> [N] STRING tensor, each element the
 *       map as a JSON object text;
 *   one map of K entries -> [K] tensor of the values;
 *   sequence of N tensors of one dtype and shape S -> [N, S...] (stacked);
 *   an empty sequence -> a [0] tensor of its element type (float if unknown).
 * Anything else (ragged tensor sequences, nested sequences) is
 * UNSUPPORTED with a message naming the output. */
#ifndef MLAMBDA_SERVING_OUTPUT_CONVERT_H
#define MLAMBDA_SERVING_OUTPUT_CONVERT_H

#include "core/status.h"
#include "core/value.h"

/* v (borrowed) -> *out (owned by the caller). name is for messages. */
ml_status ml_output_to_tensor(const ml_value *v, const char *name, ml_tensor **out);
/* The contracts derived for such outputs (src/registry/derive.c) follow the
 * same rules; keep the two in step. */

#endif
