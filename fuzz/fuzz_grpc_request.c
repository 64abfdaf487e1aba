/* libFuzzer target for the gRPC request decoders: arbitrary bytes as a KServe
 * ModelInferRequest and as a TF-Serving PredictRequest, then the tensor
 * decoding both services run on them (shapes, typed contents, raw BYTES
 * length prefixes, TensorProto values and broadcasting). */
#include <stddef.h>
#include <stdint.h>

#include "api/grpc/grpc_kserve.h"
#include "api/grpc/grpc_tf_tensor.h"
#include "tensorflow_serving/apis/predict.pb-c.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    Inference__ModelInferRequest *k = inference__model_infer_request__unpack(NULL, size, data);
    if (k) {
        ml_tensor_list in = {0};
        ml_status_free(ml_grpc_kserve_decode_inputs(k, NULL, &in));
        ml_tensor_list_clear(&in);
        inference__model_infer_request__free_unpacked(k, NULL);
    }
    Tensorflow__Serving__PredictRequest *p =
        tensorflow__serving__predict_request__unpack(NULL, size, data);
    if (p) {
        for (size_t i = 0; i < p->n_inputs; i++) {
            ml_tensor *t = NULL;
            if (p->inputs[i]->value)
                ml_status_free(ml_tf_tensor_from_proto("x", p->inputs[i]->value, &t));
            ml_tensor_free(t);
        }
        tensorflow__serving__predict_request__free_unpacked(p, NULL);
    }
    return 0;
}
