/* tensorflow.serving.PredictionService: Predict and GetModelMetadata.
 * model_spec.name may name a model or an application (as Hydrosphere's
 * gateway allowed); a version selects a model version. */
#include <stdlib.h>
#include <string.h>

#include "api/grpc/grpc_services.h"
#include "core/arena.h"
#include "tensorflow_serving/apis/get_model_metadata.pb-c.h"
#include "tensorflow_serving/apis/predict.pb-c.h"

static const struct {
    Tensorflow__DataType tf;
    ml_dtype dt;
} dtype_map[] = {
    {TENSORFLOW__DATA_TYPE__DT_FLOAT, ML_FLOAT},   {TENSORFLOW__DATA_TYPE__DT_DOUBLE, ML_DOUBLE},
    {TENSORFLOW__DATA_TYPE__DT_INT32, ML_INT32},   {TENSORFLOW__DATA_TYPE__DT_UINT8, ML_UINT8},
    {TENSORFLOW__DATA_TYPE__DT_INT16, ML_INT16},   {TENSORFLOW__DATA_TYPE__DT_INT8, ML_INT8},
    {TENSORFLOW__DATA_TYPE__DT_STRING, ML_STRING}, {TENSORFLOW__DATA_TYPE__DT_INT64, ML_INT64},
    {TENSORFLOW__DATA_TYPE__DT_BOOL, ML_BOOL},     {TENSORFLOW__DATA_TYPE__DT_BFLOAT16, ML_BFLOAT16},
    {TENSORFLOW__DATA_TYPE__DT_UINT16, ML_UINT16}, {TENSORFLOW__DATA_TYPE__DT_HALF, ML_FLOAT16},
    {TENSORFLOW__DATA_TYPE__DT_UINT32, ML_UINT32}, {TENSORFLOW__DATA_TYPE__DT_UINT64, ML_UINT64},
};

static ml_dtype from_tf(Tensorflow__DataType tf) {
    for (size_t i = 0; i < sizeof dtype_map / sizeof dtype_map[0]; i++)
        if (dtype_map[i].tf == tf) return dtype_map[i].dt;
    return ML_UNDEFINED;
}

static Tensorflow__DataType to_tf(ml_dtype dt) {
    for (size_t i = 0; i < sizeof dtype_map / sizeof dtype_map[0]; i++)
        if (dtype_map[i].dt == dt) return dtype_map[i].tf;
    return TENSORFLOW__DATA_TYPE__DT_INVALID;
}

static ml_status pack_reply(const ProtobufCMessage *msg, ml_grpc_reply *reply) {
    size_t n = protobuf_c_message_get_packed_size(msg);
    reply->bytes = malloc(n ? n : 1);
    if (!reply->bytes) return ml_error(ML_ERR_OUT_OF_MEMORY, "response of %zu bytes", n);
    reply->len = protobuf_c_message_pack(msg, reply->bytes);
    return ML_STATUS_OK;
}

/* The typed value list of a TensorProto for a dtype: count and element reader. */
static size_t typed_count(const Tensorflow__TensorProto *p, ml_dtype dt) {
    switch (dt) {
    case ML_FLOAT: return p->n_float_val;
    case ML_DOUBLE: return p->n_double_val;
    case ML_INT8: case ML_INT16: case ML_INT32: case ML_UINT8: case ML_UINT16: return p->n_int_val;
    case ML_INT64: return p->n_int64_val;
    case ML_BOOL: return p->n_bool_val;
    case ML_STRING: return p->n_string_val;
    case ML_FLOAT16: case ML_BFLOAT16: return p->n_half_val;
    case ML_UINT32: return p->n_uint32_val;
    case ML_UINT64: return p->n_uint64_val;
    default: return 0;
    }
}

static ml_status copy_typed(const char *name, const Tensorflow__TensorProto *p, ml_tensor *t, size_t i,
                            size_t src) {
    switch (t->dtype) {
    case ML_FLOAT: ((float *)t->data)[i] = p->float_val[src]; break;
    case ML_DOUBLE: ((double *)t->data)[i] = p->double_val[src]; break;
    case ML_INT64: ((int64_t *)t->data)[i] = p->int64_val[src]; break;
    case ML_UINT64: ((uint64_t *)t->data)[i] = p->uint64_val[src]; break;
    case ML_UINT32: ((uint32_t *)t->data)[i] = p->uint32_val[src]; break;
    case ML_BOOL: ((uint8_t *)t->data)[i] = p->bool_val[src] != 0; break;
    case ML_FLOAT16: case ML_BFLOAT16: ((uint16_t *)t->data)[i] = (uint16_t)p->half_val[src]; break;
    case ML_STRING:
        return ml_tensor_set_string(t, i, (const char *)p->string_val[src].data, p->string_val[src].len);
    default: {
        double v = p->int_val[src];
        ml_tensor_set_f64(t, i, v);
        if (ml_tensor_get_f64(t, i) != v)
            return ml_error(ML_ERR_INVALID_ARGUMENT, "input '%s': value %.0f does not fit %s", name, v,
                            ml_dtype_name(t->dtype));
    }
    }
    return ML_STATUS_OK;
}

/* TensorProto -> tensor. Without a shape (or with unknown_rank) the values
 * form a 1-D tensor; a single value fills a larger shape (TF's rule). */
static ml_status tensor_from_proto(const char *name, const Tensorflow__TensorProto *p, ml_tensor **out) {
    *out = NULL;
    ml_dtype dt = from_tf(p->dtype);
    if (dt == ML_UNDEFINED)
        return ml_error(ML_ERR_INVALID_ARGUMENT, "input '%s': dtype %d is not supported", name, (int)p->dtype);
    bool raw = p->tensor_content.len > 0;
    if (raw && dt == ML_STRING)
        return ml_error(ML_ERR_INVALID_ARGUMENT, "input '%s': DT_STRING values go in string_val", name);
    size_t have = raw ? p->tensor_content.len / ml_dtype_size(dt) : typed_count(p, dt);
    int64_t dims[ML_MAX_RANK];
    size_t rank;
    if (!p->tensor_shape || p->tensor_shape->unknown_rank) {
        rank = 1;
        dims[0] = (int64_t)have;
    } else {
        rank = p->tensor_shape->n_dim;
        if (rank > ML_MAX_RANK)
            return ml_error(ML_ERR_INVALID_ARGUMENT, "input '%s': rank %zu is over the limit %d", name,
                            rank, ML_MAX_RANK);
        for (size_t i = 0; i < rank; i++) dims[i] = p->tensor_shape->dim[i]->size;
    }
    size_t n;
    ML_TRY(ml_grpc_check_shape(name, rank, dims, &n));
    if (raw && p->tensor_content.len != n * ml_dtype_size(dt))
        return ml_error(ML_ERR_INVALID_ARGUMENT,
                        "input '%s': tensor_content has %zu bytes, the shape needs %zu", name,
                        p->tensor_content.len, n * ml_dtype_size(dt));
    if (!raw && have != n && !(have == 1 && n > 1))
        return ml_error(ML_ERR_INVALID_ARGUMENT, "input '%s': the shape holds %zu elements but %zu values were sent",
                        name, n, have);
    ml_tensor *t;
    ML_TRY(ml_tensor_create(dt, (int)rank, dims, &t));
    if (raw) {
        if (n) memcpy(t->data, p->tensor_content.data, p->tensor_content.len);
    } else {
        for (size_t i = 0; i < n; i++) {
            ml_status st = copy_typed(name, p, t, i, have == 1 ? 0 : i);
            if (st) {
                ml_tensor_free(t);
                return st;
            }
        }
    }
    *out = t;
    return ML_STATUS_OK;
}

static Tensorflow__TensorShapeProto *shape_proto(ml_arena *a, int rank, const int64_t *dims) {
    Tensorflow__TensorShapeProto *s = ml_arena_alloc(a, sizeof *s, 0);
    if (!s) return NULL;
    tensorflow__tensor_shape_proto__init(s);
    if (rank < 0) {
        s->unknown_rank = 1;
        return s;
    }
    s->n_dim = (size_t)rank;
    s->dim = ml_arena_alloc(a, sizeof *s->dim * (size_t)(rank ? rank : 1), 0);
    if (!s->dim) return NULL;
    for (int i = 0; i < rank; i++) {
        s->dim[i] = ml_arena_alloc(a, sizeof **s->dim, 0);
        if (!s->dim[i]) return NULL;
        tensorflow__tensor_shape_proto__dim__init(s->dim[i]);
        s->dim[i]->size = dims[i];
    }
    return s;
}

/* tensor -> TensorProto with typed *_val fields (views into t where the
 * element types match). */
static ml_status tensor_to_proto(ml_arena *a, const ml_tensor *t, Tensorflow__TensorProto **out) {
    Tensorflow__TensorProto *p = ml_arena_alloc(a, sizeof *p, 0);
    if (!p) return ml_error(ML_ERR_OUT_OF_MEMORY, "response");
    tensorflow__tensor_proto__init(p);
    p->dtype = to_tf(t->dtype);
    if (p->dtype == TENSORFLOW__DATA_TYPE__DT_INVALID)
        return ml_error(ML_ERR_UNSUPPORTED, "%s outputs have no TF-Serving dtype", ml_dtype_name(t->dtype));
    p->tensor_shape = shape_proto(a, t->rank, t->dims);
    if (!p->tensor_shape) return ml_error(ML_ERR_OUT_OF_MEMORY, "response");
    size_t n = ml_tensor_numel(t);
    size_t cap = n ? n : 1;
    switch (t->dtype) {
    case ML_FLOAT: p->n_float_val = n, p->float_val = t->data; break;
    case ML_DOUBLE: p->n_double_val = n, p->double_val = t->data; break;
    case ML_INT64: p->n_int64_val = n, p->int64_val = t->data; break;
    case ML_UINT64: p->n_uint64_val = n, p->uint64_val = t->data; break;
    case ML_UINT32: p->n_uint32_val = n, p->uint32_val = t->data; break;
    case ML_STRING: {
        ProtobufCBinaryData *s = ml_arena_alloc(a, sizeof *s * cap, 0);
        if (!s) return ml_error(ML_ERR_OUT_OF_MEMORY, "response");
        const ml_str *src = t->data;
        for (size_t i = 0; i < n; i++) s[i] = (ProtobufCBinaryData){src[i].len, (uint8_t *)src[i].data};
        p->n_string_val = n, p->string_val = s;
        break;
    }
    case ML_BOOL: {
        protobuf_c_boolean *b = ml_arena_alloc(a, sizeof *b * cap, 0);
        if (!b) return ml_error(ML_ERR_OUT_OF_MEMORY, "response");
        for (size_t i = 0; i < n; i++) b[i] = ((const uint8_t *)t->data)[i] != 0;
        p->n_bool_val = n, p->bool_val = b;
        break;
    }
    default: { /* int8/16/32, uint8/16 in int_val; halves as bit patterns in half_val */
        int32_t *v = ml_arena_alloc(a, sizeof *v * cap, 0);
        if (!v) return ml_error(ML_ERR_OUT_OF_MEMORY, "response");
        bool half = t->dtype == ML_FLOAT16 || t->dtype == ML_BFLOAT16;
        for (size_t i = 0; i < n; i++)
            v[i] = half ? ((const uint16_t *)t->data)[i] : (int32_t)ml_tensor_get_f64(t, i);
        if (half)
            p->n_half_val = n, p->half_val = v;
        else
            p->n_int_val = n, p->int_val = v;
    }
    }
    *out = p;
    return ML_STATUS_OK;
}

/* model_spec -> target. version or version_label select a model version. */
static ml_status target_from_spec(const Tensorflow__Serving__ModelSpec *spec, ml_grpc_target *t) {
    memset(t, 0, sizeof *t);
    if (!spec || !spec->name || !spec->name[0])
        return ml_error(ML_ERR_INVALID_ARGUMENT, "model_spec.name is required: name a model or an application");
    t->name = spec->name;
    if (spec->version_choice_case == TENSORFLOW__SERVING__MODEL_SPEC__VERSION_CHOICE_VERSION && spec->version) {
        if (spec->version->value <= 0 || spec->version->value > 1000000000)
            return ml_error(ML_ERR_INVALID_ARGUMENT, "model_spec.version %lld is not a valid version",
                            (long long)spec->version->value);
        t->version = (int)spec->version->value;
    } else if (spec->version_choice_case == TENSORFLOW__SERVING__MODEL_SPEC__VERSION_CHOICE_VERSION_LABEL &&
               spec->version_label && spec->version_label[0] && strcmp(spec->version_label, "latest") != 0) {
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

static Tensorflow__Serving__ModelSpec *answer_spec(ml_arena *a, const ml_grpc_target *t, const char *signature) {
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

ml_status ml_grpc_tf_predict(ml_runtime *rt, const uint8_t *req, size_t len, ml_grpc_reply *reply) {
    Tensorflow__Serving__PredictRequest *r = tensorflow__serving__predict_request__unpack(NULL, len, req);
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
        st = tensor_from_proto(name, r->inputs[i]->value, &x);
        if (!st) st = ml_grpc_coerce_input(c, name, &x);
        if (!st) st = ml_tensor_list_add(&in, name, x);
        else ml_tensor_free(x);
    }
    if (!st)
        st = ml_grpc_run(rt, &t, &in, (const char *const *)r->output_filter, r->n_output_filter, &out);
    if (!st) {
        Tensorflow__Serving__PredictResponse res = TENSORFLOW__SERVING__PREDICT_RESPONSE__INIT;
        res.model_spec = answer_spec(&a, &t, r->model_spec->signature_name);
        res.n_outputs = out.n;
        res.outputs = ml_arena_alloc(&a, sizeof *res.outputs * (out.n ? out.n : 1), 0);
        if (!res.model_spec || !res.outputs) st = ml_error(ML_ERR_OUT_OF_MEMORY, "response");
        for (size_t i = 0; !st && i < out.n; i++) {
            Tensorflow__Serving__PredictResponse__OutputsEntry *e = ml_arena_alloc(&a, sizeof *e, 0);
            if (!e) {
                st = ml_error(ML_ERR_OUT_OF_MEMORY, "response");
                break;
            }
            tensorflow__serving__predict_response__outputs_entry__init(e);
            e->key = out.names[i];
            st = tensor_to_proto(&a, out.tensors[i], &e->value);
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

static ml_status signature_map(ml_arena *a, const ml_field *f, size_t n, size_t *count, void ***entries,
                               bool inputs) {
    void **e = ml_arena_alloc(a, sizeof *e * (n ? n : 1), 0);
    if (!e) return ml_error(ML_ERR_OUT_OF_MEMORY, "metadata");
    for (size_t i = 0; i < n; i++) {
        Tensorflow__TensorInfo *info = ml_arena_alloc(a, sizeof *info, 0);
        if (!info) return ml_error(ML_ERR_OUT_OF_MEMORY, "metadata");
        tensorflow__tensor_info__init(info);
        info->encoding_case = TENSORFLOW__TENSOR_INFO__ENCODING_NAME;
        info->name = f[i].name;
        info->dtype = to_tf(f[i].dtype);
        info->tensor_shape = shape_proto(a, f[i].rank, f[i].dims);
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

ml_status ml_grpc_tf_get_model_metadata(ml_runtime *rt, const uint8_t *req, size_t len,
                                        ml_grpc_reply *reply) {
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
                          "metadata field '%s' is not available: ask for 'signature_def'", r->metadata_field[i]);
            break;
        }
    if (!st) st = target_from_spec(r->model_spec, &t);
    if (!st) st = ml_grpc_resolve(rt, &t, &c);
    uint8_t *packed = NULL;
    if (!st) {
        Tensorflow__SignatureDef sig = TENSORFLOW__SIGNATURE_DEF__INIT;
        sig.method_name = "tensorflow/serving/predict";
        st = signature_map(&a, c->inputs, c->n_inputs, &sig.n_inputs, (void ***)&sig.inputs, true);
        if (!st) st = signature_map(&a, c->outputs, c->n_outputs, &sig.n_outputs, (void ***)&sig.outputs, false);
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
            Tensorflow__Serving__GetModelMetadataResponse res = TENSORFLOW__SERVING__GET_MODEL_METADATA_RESPONSE__INIT;
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
