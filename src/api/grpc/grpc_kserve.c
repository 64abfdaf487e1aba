/* inference.GRPCInferenceService (KServe V2 / Open Inference Protocol). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/grpc/grpc_kserve.h"
#include "api/grpc/grpc_services.h"
#include "core/arena.h"

#ifndef MLAMBDA_VERSION
#define MLAMBDA_VERSION "0.1.0"
#endif

/* Packs any protobuf-c message into a malloc'd reply. */
static ml_status pack_reply(const ProtobufCMessage *msg, ml_grpc_reply *reply) {
    size_t n = protobuf_c_message_get_packed_size(msg);
    reply->bytes = malloc(n ? n : 1);
    if (!reply->bytes) return ml_error(ML_ERR_OUT_OF_MEMORY, "response of %zu bytes", n);
    reply->len = protobuf_c_message_pack(msg, reply->bytes);
    return ML_STATUS_OK;
}

static ml_status parse_version(const char *s, int *out) {
    *out = 0;
    if (!s || !s[0]) return ML_STATUS_OK;
    char *end;
    long v = strtol(s, &end, 10);
    if (*end || v <= 0 || v > 1000000000)
        return ml_error(ML_ERR_INVALID_ARGUMENT, "model version '%s' is not a positive number", s);
    *out = (int)v;
    return ML_STATUS_OK;
}

ml_status ml_grpc_kserve_server_live(const ml_grpc_call *call, const uint8_t *req, size_t len,
                                     ml_grpc_reply *reply) {
    (void)call;
    Inference__ServerLiveResponse res = INFERENCE__SERVER_LIVE_RESPONSE__INIT;
    res.live = 1;
    return pack_reply(&res.base, reply);
}

ml_status ml_grpc_kserve_server_ready(const ml_grpc_call *call, const uint8_t *req, size_t len,
                                      ml_grpc_reply *reply) {
    ml_runtime *rt = call->rt;
    Inference__ServerReadyResponse res = INFERENCE__SERVER_READY_RESPONSE__INIT;
    res.ready = rt != NULL;
    return pack_reply(&res.base, reply);
}

ml_status ml_grpc_kserve_server_metadata(const ml_grpc_call *call, const uint8_t *req, size_t len,
                                         ml_grpc_reply *reply) {
    (void)call;
    Inference__ServerMetadataResponse res = INFERENCE__SERVER_METADATA_RESPONSE__INIT;
    res.name = "mlambda";
    res.version = MLAMBDA_VERSION;
    char *extensions[] = {"model_repository", "binary_tensor_data"};
    res.n_extensions = 2;
    res.extensions = extensions;
    return pack_reply(&res.base, reply);
}

/* Shared by ModelReady and ModelMetadata: both carry (name, version). */
static ml_status resolve_named(ml_runtime *rt, const char *name, const char *version,
                               ml_grpc_target *t, ml_contract **c) {
    t->name = name;
    t->is_app = 0;
    ML_TRY(parse_version(version, &t->version));
    return ml_grpc_resolve(rt, t, c);
}

ml_status ml_grpc_kserve_model_ready(const ml_grpc_call *call, const uint8_t *req, size_t len,
                                     ml_grpc_reply *reply) {
    ml_runtime *rt = call->rt;
    Inference__ModelReadyRequest *r = inference__model_ready_request__unpack(NULL, len, req);
    if (!r) return ml_error(ML_ERR_INVALID_ARGUMENT, "ModelReadyRequest could not be parsed");
    ml_grpc_target t;
    ml_contract *c = NULL;
    ml_status st = resolve_named(rt, r->name, r->version, &t, &c);
    ml_contract_free(c);
    inference__model_ready_request__free_unpacked(r, NULL);
    if (st) return st;
    Inference__ModelReadyResponse res = INFERENCE__MODEL_READY_RESPONSE__INIT;
    res.ready = 1;
    return pack_reply(&res.base, reply);
}

static Inference__ModelMetadataResponse__TensorMetadata **
tensor_metadata(ml_arena *a, const ml_field *fields, size_t n) {
    Inference__ModelMetadataResponse__TensorMetadata **out =
        ml_arena_alloc(a, sizeof *out * (n ? n : 1), 0);
    if (!out) return NULL;
    for (size_t i = 0; i < n; i++) {
        Inference__ModelMetadataResponse__TensorMetadata *m = ml_arena_alloc(a, sizeof *m, 0);
        if (!m) return NULL;
        inference__model_metadata_response__tensor_metadata__init(m);
        m->name = fields[i].name;
        const char *dt = ml_dtype_kserve_name(fields[i].dtype);
        m->datatype = (char *)(dt ? dt : ml_dtype_name(fields[i].dtype));
        int rank = fields[i].rank < 0 ? 1 : fields[i].rank;
        m->n_shape = (size_t)rank;
        m->shape = ml_arena_alloc(a, sizeof(int64_t) * (size_t)(rank ? rank : 1), 0);
        if (!m->shape) return NULL;
        for (int d = 0; d < rank; d++) m->shape[d] = fields[i].rank < 0 ? -1 : fields[i].dims[d];
        out[i] = m;
    }
    return out;
}

ml_status ml_grpc_kserve_model_metadata(const ml_grpc_call *call, const uint8_t *req, size_t len,
                                        ml_grpc_reply *reply) {
    ml_runtime *rt = call->rt;
    Inference__ModelMetadataRequest *r = inference__model_metadata_request__unpack(NULL, len, req);
    if (!r) return ml_error(ML_ERR_INVALID_ARGUMENT, "ModelMetadataRequest could not be parsed");
    ml_grpc_target t;
    ml_contract *c = NULL;
    ml_status st = resolve_named(rt, r->name, r->version, &t, &c);
    ml_arena a;
    ml_arena_init(&a, 0, 0);
    if (!st) {
        Inference__ModelMetadataResponse res = INFERENCE__MODEL_METADATA_RESPONSE__INIT;
        char version[32];
        char *versions[1] = {version};
        snprintf(version, sizeof version, "%d", t.version);
        res.name = r->name;
        res.n_versions = t.is_app ? 0 : 1;
        res.versions = versions;
        res.platform = t.is_app ? "mlambda_application" : "onnx";
        res.n_inputs = c->n_inputs;
        res.inputs = tensor_metadata(&a, c->inputs, c->n_inputs);
        res.n_outputs = c->n_outputs;
        res.outputs = tensor_metadata(&a, c->outputs, c->n_outputs);
        st = res.inputs && res.outputs ? pack_reply(&res.base, reply)
                                       : ml_error(ML_ERR_OUT_OF_MEMORY, "model metadata");
    }
    ml_arena_destroy(&a);
    ml_contract_free(c);
    inference__model_metadata_request__free_unpacked(r, NULL);
    return st;
}

/* ---- ModelInfer ---- */

/* Typed contents -> tensor elements. Narrowing from int32/uint32 contents is
 * range-checked. */
static ml_status fill_from_contents(const char *name, const Inference__InferTensorContents *c,
                                    ml_tensor *t, size_t n) {
    size_t have = 0;
    ml_dtype dt = t->dtype;
    if (!c) c = &(Inference__InferTensorContents)INFERENCE__INFER_TENSOR_CONTENTS__INIT;
    switch (dt) {
    case ML_BOOL:
        have = c->n_bool_contents;
        break;
    case ML_INT8:
    case ML_INT16:
    case ML_INT32:
        have = c->n_int_contents;
        break;
    case ML_INT64:
        have = c->n_int64_contents;
        break;
    case ML_UINT8:
    case ML_UINT16:
    case ML_UINT32:
        have = c->n_uint_contents;
        break;
    case ML_UINT64:
        have = c->n_uint64_contents;
        break;
    case ML_FLOAT:
        have = c->n_fp32_contents;
        break;
    case ML_DOUBLE:
        have = c->n_fp64_contents;
        break;
    case ML_STRING:
        have = c->n_bytes_contents;
        break;
    default:
        return ml_error(ML_ERR_INVALID_ARGUMENT,
                        "input '%s': %s data must be sent in raw_input_contents", name,
                        ml_dtype_kserve_name(dt) ? ml_dtype_kserve_name(dt) : ml_dtype_name(dt));
    }
    if (have != n)
        return ml_error(ML_ERR_INVALID_ARGUMENT,
                        "input '%s': the shape holds %zu elements but the contents have %zu", name,
                        n, have);
    for (size_t i = 0; i < n; i++) {
        switch (dt) {
        case ML_BOOL:
            ((uint8_t *)t->data)[i] = c->bool_contents[i] != 0;
            break;
        case ML_INT64:
            ((int64_t *)t->data)[i] = c->int64_contents[i];
            break;
        case ML_UINT64:
            ((uint64_t *)t->data)[i] = c->uint64_contents[i];
            break;
        case ML_FLOAT:
            ((float *)t->data)[i] = c->fp32_contents[i];
            break;
        case ML_DOUBLE:
            ((double *)t->data)[i] = c->fp64_contents[i];
            break;
        case ML_STRING:
            ML_TRY(ml_tensor_set_string(t, i, (const char *)c->bytes_contents[i].data,
                                        c->bytes_contents[i].len));
            break;
        default: {
            double v = dt == ML_INT8 || dt == ML_INT16 || dt == ML_INT32
                           ? (double)c->int_contents[i]
                           : (double)c->uint_contents[i];
            ml_tensor_set_f64(t, i, v);
            if (ml_tensor_get_f64(t, i) != v)
                return ml_error(ML_ERR_INVALID_ARGUMENT,
                                "input '%s': value %.0f at index %zu does not fit %s", name, v, i,
                                ml_dtype_kserve_name(dt));
        }
        }
    }
    return ML_STATUS_OK;
}

/* raw_input_contents: little-endian element bytes; BYTES elements are each a
 * 4-byte little-endian length followed by the bytes. */
static ml_status fill_from_raw(const char *name, const ProtobufCBinaryData *raw, ml_tensor *t,
                               size_t n) {
    if (t->dtype != ML_STRING) {
        size_t want = n * ml_dtype_size(t->dtype);
        if (raw->len != want)
            return ml_error(
                ML_ERR_INVALID_ARGUMENT,
                "input '%s': raw contents have %zu bytes, the shape and datatype need %zu", name,
                raw->len, want);
        if (want) memcpy(t->data, raw->data, want);
        return ML_STATUS_OK;
    }
    size_t pos = 0;
    for (size_t i = 0; i < n; i++) {
        if (raw->len - pos < 4)
            return ml_error(ML_ERR_INVALID_ARGUMENT,
                            "input '%s': raw BYTES contents end inside element %zu", name, i);
        const uint8_t *p = raw->data + pos;
        size_t l = (size_t)p[0] | (size_t)p[1] << 8 | (size_t)p[2] << 16 | (size_t)p[3] << 24;
        pos += 4;
        if (raw->len - pos < l)
            return ml_error(ML_ERR_INVALID_ARGUMENT,
                            "input '%s': BYTES element %zu claims %zu bytes but %zu remain", name,
                            i, l, raw->len - pos);
        ML_TRY(ml_tensor_set_string(t, i, (const char *)raw->data + pos, l));
        pos += l;
    }
    if (pos != raw->len)
        return ml_error(ML_ERR_INVALID_ARGUMENT,
                        "input '%s': %zu bytes follow the last BYTES element", name,
                        raw->len - pos);
    return ML_STATUS_OK;
}

ml_status ml_grpc_kserve_decode_inputs(const Inference__ModelInferRequest *r, const ml_contract *c,
                                       ml_tensor_list *in) {
    if (r->n_raw_input_contents && r->n_raw_input_contents != r->n_inputs)
        return ml_error(
            ML_ERR_INVALID_ARGUMENT,
            "raw_input_contents has %zu entries for %zu inputs: send one per input, in order",
            r->n_raw_input_contents, r->n_inputs);
    for (size_t i = 0; i < r->n_inputs; i++) {
        const Inference__ModelInferRequest__InferInputTensor *x = r->inputs[i];
        const char *name = x->name && x->name[0] ? x->name : "(unnamed)";
        ml_dtype dt = ml_dtype_parse(x->datatype);
        if (dt == ML_UNDEFINED || !ml_dtype_kserve_name(dt))
            return ml_error(ML_ERR_INVALID_ARGUMENT, "input '%s': unknown datatype '%s'", name,
                            x->datatype ? x->datatype : "");
        size_t n;
        ML_TRY(ml_grpc_check_shape(name, x->n_shape, x->shape, &n));
        ml_tensor *t;
        ML_TRY(ml_tensor_create(dt, (int)x->n_shape, x->shape, &t));
        ml_status st = r->n_raw_input_contents
                           ? fill_from_raw(name, &r->raw_input_contents[i], t, n)
                           : fill_from_contents(name, x->contents, t, n);
        if (!st) st = ml_grpc_coerce_input(c, name, &t);
        if (st) {
            ml_tensor_free(t);
            return st;
        }
        ML_TRY(ml_tensor_list_add(in, name, t));
    }
    return ML_STATUS_OK;
}

static ml_status encode_raw(ml_arena *a, const ml_tensor *t, ProtobufCBinaryData *out) {
    size_t n = ml_tensor_numel(t);
    if (t->dtype != ML_STRING) {
        out->len = ml_tensor_nbytes(t);
        out->data = (uint8_t *)t->data;
        return ML_STATUS_OK;
    }
    const ml_str *s = t->data;
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i].len > UINT32_MAX)
            return ml_error(ML_ERR_RESOURCE_EXHAUSTED, "output string over 4 GiB");
        total += 4 + s[i].len;
    }
    uint8_t *p = ml_arena_alloc(a, total ? total : 1, 1);
    if (!p) return ml_error(ML_ERR_OUT_OF_MEMORY, "raw output");
    out->data = p;
    out->len = total;
    for (size_t i = 0; i < n; i++) {
        uint32_t l = (uint32_t)s[i].len;
        p[0] = (uint8_t)l, p[1] = (uint8_t)(l >> 8), p[2] = (uint8_t)(l >> 16),
        p[3] = (uint8_t)(l >> 24);
        if (l) memcpy(p + 4, s[i].data, l);
        p += 4 + l;
    }
    return ML_STATUS_OK;
}

static ml_status encode_contents(ml_arena *a, const ml_tensor *t,
                                 Inference__InferTensorContents *c) {
    size_t n = ml_tensor_numel(t);
    void *buf = NULL;
    switch (t->dtype) {
    case ML_FLOAT:
        c->n_fp32_contents = n, c->fp32_contents = t->data;
        return ML_STATUS_OK;
    case ML_DOUBLE:
        c->n_fp64_contents = n, c->fp64_contents = t->data;
        return ML_STATUS_OK;
    case ML_INT64:
        c->n_int64_contents = n, c->int64_contents = t->data;
        return ML_STATUS_OK;
    case ML_UINT64:
        c->n_uint64_contents = n, c->uint64_contents = t->data;
        return ML_STATUS_OK;
    case ML_BOOL:
    case ML_INT8:
    case ML_INT16:
    case ML_INT32:
    case ML_UINT8:
    case ML_UINT16:
    case ML_UINT32:
        buf = ml_arena_alloc(a, 4 * (n ? n : 1), 4);
        break;
    case ML_STRING:
        buf = ml_arena_alloc(a, sizeof(ProtobufCBinaryData) * (n ? n : 1), 0);
        break;
    default:
        return ml_error(ML_ERR_UNSUPPORTED,
                        "%s outputs can only be returned as raw contents: send raw_input_contents",
                        ml_dtype_name(t->dtype));
    }
    if (!buf) return ml_error(ML_ERR_OUT_OF_MEMORY, "output contents");
    for (size_t i = 0; i < n; i++) {
        switch (t->dtype) {
        case ML_BOOL:
            ((protobuf_c_boolean *)buf)[i] = ((const uint8_t *)t->data)[i] != 0;
            break;
        case ML_UINT8:
        case ML_UINT16:
        case ML_UINT32:
            ((uint32_t *)buf)[i] = (uint32_t)ml_tensor_get_f64(t, i);
            break;
        case ML_STRING: {
            const ml_str *s = &((const ml_str *)t->data)[i];
            ((ProtobufCBinaryData *)buf)[i] = (ProtobufCBinaryData){s->len, (uint8_t *)s->data};
            break;
        }
        default:
            ((int32_t *)buf)[i] = (int32_t)ml_tensor_get_f64(t, i);
            break;
        }
    }
    switch (t->dtype) {
    case ML_BOOL:
        c->n_bool_contents = n, c->bool_contents = buf;
        break;
    case ML_UINT8:
    case ML_UINT16:
    case ML_UINT32:
        c->n_uint_contents = n, c->uint_contents = buf;
        break;
    case ML_STRING:
        c->n_bytes_contents = n, c->bytes_contents = buf;
        break;
    default:
        c->n_int_contents = n, c->int_contents = buf;
        break;
    }
    return ML_STATUS_OK;
}

static ml_status encode_response(const Inference__ModelInferRequest *r, const ml_grpc_target *t,
                                 const ml_tensor_list *out, ml_grpc_reply *reply) {
    ml_arena a;
    ml_arena_init(&a, 0, 0);
    Inference__ModelInferResponse res = INFERENCE__MODEL_INFER_RESPONSE__INIT;
    char version[32] = "";
    if (!t->is_app) snprintf(version, sizeof version, "%d", t->version);
    res.model_name = (char *)t->name;
    res.model_version = version;
    res.id = r->id;
    bool raw = r->n_raw_input_contents > 0; /* answer in the form the client used */
    ml_status st = ML_STATUS_OK;
    res.n_outputs = out->n;
    res.outputs = ml_arena_alloc(&a, sizeof *res.outputs * (out->n ? out->n : 1), 0);
    if (raw) {
        res.n_raw_output_contents = out->n;
        res.raw_output_contents =
            ml_arena_alloc(&a, sizeof(ProtobufCBinaryData) * (out->n ? out->n : 1), 0);
    }
    if (!res.outputs || (raw && !res.raw_output_contents))
        st = ml_error(ML_ERR_OUT_OF_MEMORY, "response");
    for (size_t i = 0; !st && i < out->n; i++) {
        const ml_tensor *x = out->tensors[i];
        Inference__ModelInferResponse__InferOutputTensor *o = ml_arena_alloc(&a, sizeof *o, 0);
        if (!o) {
            st = ml_error(ML_ERR_OUT_OF_MEMORY, "response");
            break;
        }
        inference__model_infer_response__infer_output_tensor__init(o);
        o->name = out->names[i];
        const char *dt = ml_dtype_kserve_name(x->dtype);
        o->datatype = (char *)(dt ? dt : ml_dtype_name(x->dtype));
        o->n_shape = (size_t)x->rank;
        o->shape = (int64_t *)x->dims;
        if (raw) {
            st = encode_raw(&a, x, &res.raw_output_contents[i]);
        } else {
            o->contents = ml_arena_alloc(&a, sizeof *o->contents, 0);
            if (!o->contents) {
                st = ml_error(ML_ERR_OUT_OF_MEMORY, "response");
                break;
            }
            inference__infer_tensor_contents__init(o->contents);
            st = encode_contents(&a, x, o->contents);
        }
        res.outputs[i] = o;
    }
    if (!st) st = pack_reply(&res.base, reply);
    ml_arena_destroy(&a);
    return st;
}

ml_status ml_grpc_kserve_model_infer(const ml_grpc_call *call, const uint8_t *req, size_t len,
                                     ml_grpc_reply *reply) {
    ml_runtime *rt = call->rt;
    Inference__ModelInferRequest *r = inference__model_infer_request__unpack(NULL, len, req);
    if (!r) return ml_error(ML_ERR_INVALID_ARGUMENT, "ModelInferRequest could not be parsed");
    ml_grpc_target t = {.name = r->model_name};
    ml_contract *c = NULL;
    ml_tensor_list in = {0}, out = {0};
    const char **wanted = NULL;
    ml_status st = parse_version(r->model_version, &t.version);
    if (!st) st = ml_grpc_resolve(rt, &t, &c);
    if (!st) st = ml_grpc_kserve_decode_inputs(r, c, &in);
    if (!st && r->n_outputs) {
        wanted = calloc(r->n_outputs, sizeof *wanted);
        if (!wanted) st = ml_error(ML_ERR_OUT_OF_MEMORY, "requested outputs");
        for (size_t i = 0; !st && i < r->n_outputs; i++) wanted[i] = r->outputs[i]->name;
    }
    if (!st) st = ml_grpc_run(call, &t, &in, wanted, r->n_outputs, &out);
    if (!st) st = encode_response(r, &t, &out, reply);
    free(wanted);
    ml_tensor_list_clear(&in);
    ml_tensor_list_clear(&out);
    ml_contract_free(c);
    inference__model_infer_request__free_unpacked(r, NULL);
    return st;
}
