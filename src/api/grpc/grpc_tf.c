/* tensorflow.serving.PredictionService: Predict and GetModelMetadata.
 * model_spec.name may name a model or an application (as Hydrosphere's
 * gateway allowed); a version selects a model version. */
#include <stdlib.h>
#include <string.h>

#include "api/grpc/grpc_services.h"
#include "api/grpc/grpc_tf_tensor.h"
#include "core/arena.h"
#include "tensorflow_serving/apis/get_model_metadata.pb-c.h"
#include "tensorflow_serving/apis/predict.pb-c.h"

static ml_status pack_reply(const ProtobufCMessage *msg, ml_grpc_reply *reply) {
    size_t n = protobuf_c_message_get_packed_size(msg);
    reply->bytes = malloc(n ? n : 1);
    if (!reply->bytes) return ml_error(ML_ERR_OUT_OF_MEMORY, "response of %zu bytes", n);
    reply->len = protobuf_c_message_pack(msg, reply->bytes);
    return ML_STATUS_OK;
}

/* model_spec -> target. version or version_label select a model version. */
static ml_status target_from_spec(const Tensorflow__Serving__ModelSpec *spec, ml_grpc_target *t) {
    memset(t, 0, sizeof *t);
    if (!spec || !spec->name || !spec->name[0])
        return ml_error(ML_ERR_INVALID_ARGUMENT,
                        "model_spec.name is required: name a model or an application");
    t->name = spec->name;
    if (spec->version_choice_case == TENSORFLOW__SERVING__MODEL_SPEC__VERSION_CHOICE_VERSION &&
        spec->version) {
        if (spec->version->value <= 0 || spec->version->value > 1000000000)
            return ml_error(ML_ERR_INVALID_ARGUMENT,
                            "model_spec.version %lld is not a valid version",
                            (long long)spec->version->value);
        t->version = (int)spec->version->value;
    } else if (spec->version_choice_case ==
                   TENSORFLOW__SERVING__MODEL_SPEC__VERSION_CHOICE_VERSION_LABEL &&
               spec->version_label && spec->version_label[0] &&
               strcmp(spec->version_label, "latest") != 0) {
        char *end;
        long v = strtol(spec->version_label, &end, 10);
        if (*end || v <= 0 || v > 1000000000)
            return ml_error(ML_ERR_INVALID_ARGUMENT,
                            "model_spec.version_label '%s' is not a version number or 'latest'",
                            spec->version_label);
        t->version = (int)v;
    }
    return ML_STATUS_OK;
}

static Tensorflow__Serving__ModelSpec *answer_spec(ml_arena *a, const ml_grpc_target *t,
                                                   const char *signature) {
    Tensorflow__Serving__ModelSpec *s = ml_arena_alloc(a, sizeof *s, 0);
    if (!s) return NULL;
    tensorflow__serving__model_spec__init(s);
    s->name = (char *)t->name;
    s->signature_name = (char *)(signature && signature[0] ? signature : "serving_default");
    if (!t->is_app) {
        Google__Protobuf__Int64Value *v = ml_arena_alloc(a, sizeof *v, 0);
        if (!v) return NULL;
        google__protobuf__int64_value__init(v);
        v->value = t->version;
        s->version_choice_case = TENSORFLOW__SERVING__MODEL_SPEC__VERSION_CHOICE_VERSION;
        s->version = v;
    }
    return s;
}

ml_status ml_grpc_tf_predict(const ml_grpc_call *call, const uint8_t *req, size_t len,
                             ml_grpc_reply *reply) {
    ml_runtime *rt = call->rt;
    Tensorflow__Serving__PredictRequest *r =
        tensorflow__serving__predict_request__unpack(NULL, len, req);
    if (!r) return ml_error(ML_ERR_INVALID_ARGUMENT, "PredictRequest could not be parsed");
    ml_grpc_target t;
    ml_contract *c = NULL;
    ml_tensor_list in = {0}, out = {0};
    ml_arena a;
    ml_arena_init(&a, 0, 0);
    ml_status st = target_from_spec(r->model_spec, &t);
    if (!st) st = ml_grpc_resolve(rt, &t, &c);
    for (size_t i = 0; !st && i < r->n_inputs; i++) {
        const char *name = r->inputs[i]->key ? r->inputs[i]->key : "";
        if (!r->inputs[i]->value) {
            st = ml_error(ML_ERR_INVALID_ARGUMENT, "input '%s' has no tensor", name);
            break;
        }
        ml_tensor *x;
        st = ml_tf_tensor_from_proto(name, r->inputs[i]->value, &x);
        if (!st) st = ml_grpc_coerce_input(c, name, &x);
        if (!st)
            st = ml_tensor_list_add(&in, name, x);
        else
            ml_tensor_free(x);
    }
    if (!st)
        st = ml_grpc_run(call, &t, &in, (const char *const *)r->output_filter, r->n_output_filter,
                         &out);
    if (!st) {
        Tensorflow__Serving__PredictResponse res = TENSORFLOW__SERVING__PREDICT_RESPONSE__INIT;
        res.model_spec = answer_spec(&a, &t, r->model_spec->signature_name);
        res.n_outputs = out.n;
        res.outputs = ml_arena_alloc(&a, sizeof *res.outputs * (out.n ? out.n : 1), 0);
        if (!res.model_spec || !res.outputs) st = ml_error(ML_ERR_OUT_OF_MEMORY, "response");
        for (size_t i = 0; !st && i < out.n; i++) {
            Tensorflow__Serving__PredictResponse__OutputsEntry *e =
                ml_arena_alloc(&a, sizeof *e, 0);
            if (!e) {
                st = ml_error(ML_ERR_OUT_OF_MEMORY, "response");
                break;
            }
            tensorflow__serving__predict_response__outputs_entry__init(e);
            e->key = out.names[i];
            st = ml_tf_tensor_to_proto(&a, out.tensors[i], &e->value);
            res.outputs[i] = e;
        }
        if (!st) st = pack_reply(&res.base, reply);
    }
    ml_arena_destroy(&a);
    ml_tensor_list_clear(&in);
    ml_tensor_list_clear(&out);
    ml_contract_free(c);
    tensorflow__serving__predict_request__free_unpacked(r, NULL);
    return st;
}

static ml_status signature_map(ml_arena *a, const ml_field *f, size_t n, size_t *count,
                               void ***entries, bool inputs) {
    void **e = ml_arena_alloc(a, sizeof *e * (n ? n : 1), 0);
    if (!e) return ml_error(ML_ERR_OUT_OF_MEMORY, "metadata");
    for (size_t i = 0; i < n; i++) {
        Tensorflow__TensorInfo *info = ml_arena_alloc(a, sizeof *info, 0);
        if (!info) return ml_error(ML_ERR_OUT_OF_MEMORY, "metadata");
        tensorflow__tensor_info__init(info);
        info->encoding_case = TENSORFLOW__TENSOR_INFO__ENCODING_NAME;
        info->name = f[i].name;
        info->dtype = ml_tf_dtype_from_ml(f[i].dtype);
        info->tensor_shape = ml_tf_shape_proto(a, f[i].rank, f[i].dims);
        if (!info->tensor_shape) return ml_error(ML_ERR_OUT_OF_MEMORY, "metadata");
        if (inputs) {
            Tensorflow__SignatureDef__InputsEntry *x = ml_arena_alloc(a, sizeof *x, 0);
            if (!x) return ml_error(ML_ERR_OUT_OF_MEMORY, "metadata");
            tensorflow__signature_def__inputs_entry__init(x);
            x->key = f[i].name, x->value = info, e[i] = x;
        } else {
            Tensorflow__SignatureDef__OutputsEntry *x = ml_arena_alloc(a, sizeof *x, 0);
            if (!x) return ml_error(ML_ERR_OUT_OF_MEMORY, "metadata");
            tensorflow__signature_def__outputs_entry__init(x);
            x->key = f[i].name, x->value = info, e[i] = x;
        }
    }
    *count = n;
    *entries = e;
    return ML_STATUS_OK;
}

ml_status ml_grpc_tf_get_model_metadata(const ml_grpc_call *call, const uint8_t *req, size_t len,
                                        ml_grpc_reply *reply) {
    ml_runtime *rt = call->rt;
    Tensorflow__Serving__GetModelMetadataRequest *r =
        tensorflow__serving__get_model_metadata_request__unpack(NULL, len, req);
    if (!r) return ml_error(ML_ERR_INVALID_ARGUMENT, "GetModelMetadataRequest could not be parsed");
    ml_grpc_target t;
    ml_contract *c = NULL;
    ml_arena a;
    ml_arena_init(&a, 0, 0);
    ml_status st = ML_STATUS_OK;
    for (size_t i = 0; i < r->n_metadata_field; i++)
        if (strcmp(r->metadata_field[i], "signature_def") != 0) {
            st = ml_error(ML_ERR_INVALID_ARGUMENT,
                          "metadata field '%s' is not available: ask for 'signature_def'",
                          r->metadata_field[i]);
            break;
        }
    if (!st) st = target_from_spec(r->model_spec, &t);
    if (!st) st = ml_grpc_resolve(rt, &t, &c);
    uint8_t *packed = NULL;
    if (!st) {
        Tensorflow__SignatureDef sig = TENSORFLOW__SIGNATURE_DEF__INIT;
        sig.method_name = "tensorflow/serving/predict";
        st = signature_map(&a, c->inputs, c->n_inputs, &sig.n_inputs, (void ***)&sig.inputs, true);
        if (!st)
            st = signature_map(&a, c->outputs, c->n_outputs, &sig.n_outputs, (void ***)&sig.outputs,
                               false);
        Tensorflow__Serving__SignatureDefMap__SignatureDefEntry entry =
            TENSORFLOW__SERVING__SIGNATURE_DEF_MAP__SIGNATURE_DEF_ENTRY__INIT;
        const char *sig_name = r->model_spec->signature_name && r->model_spec->signature_name[0]
                                   ? r->model_spec->signature_name
                                   : "serving_default";
        entry.key = (char *)sig_name;
        entry.value = &sig;
        Tensorflow__Serving__SignatureDefMap__SignatureDefEntry *entries[] = {&entry};
        Tensorflow__Serving__SignatureDefMap map = TENSORFLOW__SERVING__SIGNATURE_DEF_MAP__INIT;
        map.n_signature_def = 1;
        map.signature_def = entries;
        if (!st) {
            size_t n = tensorflow__serving__signature_def_map__get_packed_size(&map);
            packed = malloc(n ? n : 1);
            if (!packed) st = ml_error(ML_ERR_OUT_OF_MEMORY, "metadata");
            Google__Protobuf__Any any = GOOGLE__PROTOBUF__ANY__INIT;
            if (!st) {
                any.type_url = "type.googleapis.com/tensorflow.serving.SignatureDefMap";
                any.value.len = tensorflow__serving__signature_def_map__pack(&map, packed);
                any.value.data = packed;
            }
            Tensorflow__Serving__GetModelMetadataResponse__MetadataEntry meta =
                TENSORFLOW__SERVING__GET_MODEL_METADATA_RESPONSE__METADATA_ENTRY__INIT;
            meta.key = "signature_def";
            meta.value = &any;
            Tensorflow__Serving__GetModelMetadataResponse__MetadataEntry *metas[] = {&meta};
            Tensorflow__Serving__GetModelMetadataResponse res =
                TENSORFLOW__SERVING__GET_MODEL_METADATA_RESPONSE__INIT;
            res.model_spec = answer_spec(&a, &t, sig_name);
            res.n_metadata = 1;
            res.metadata = metas;
            if (!st && !res.model_spec) st = ml_error(ML_ERR_OUT_OF_MEMORY, "metadata");
            if (!st) st = pack_reply(&res.base, reply);
        }
    }
    free(packed);
    ml_arena_destroy(&a);
    ml_contract_free(c);
    tensorflow__serving__get_model_metadata_request__free_unpacked(r, NULL);
    return st;
}
