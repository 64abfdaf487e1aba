/* Method table, status mapping and the helpers both services share. */
#include "api/grpc/grpc_services.h"

#include <grpc/status.h>
#include <stdlib.h>
#include <string.h>

ml_status ml_grpc_kserve_server_live(const ml_grpc_call *, const uint8_t *, size_t,
                                     ml_grpc_reply *);
ml_status ml_grpc_kserve_server_ready(const ml_grpc_call *, const uint8_t *, size_t,
                                      ml_grpc_reply *);
ml_status ml_grpc_kserve_model_ready(const ml_grpc_call *, const uint8_t *, size_t,
                                     ml_grpc_reply *);
ml_status ml_grpc_kserve_server_metadata(const ml_grpc_call *, const uint8_t *, size_t,
                                         ml_grpc_reply *);
ml_status ml_grpc_kserve_model_metadata(const ml_grpc_call *, const uint8_t *, size_t,
                                        ml_grpc_reply *);
ml_status ml_grpc_kserve_model_infer(const ml_grpc_call *, const uint8_t *, size_t,
                                     ml_grpc_reply *);
ml_status ml_grpc_tf_predict(const ml_grpc_call *, const uint8_t *, size_t, ml_grpc_reply *);
ml_status ml_grpc_tf_get_model_metadata(const ml_grpc_call *, const uint8_t *, size_t,
                                        ml_grpc_reply *);

static const struct {
    const char *method;
    ml_grpc_handler handler;
} methods[] = {
    {"/inference.GRPCInferenceService/ServerLive", ml_grpc_kserve_server_live},
    {"/inference.GRPCInferenceService/ServerReady", ml_grpc_kserve_server_ready},
    {"/inference.GRPCInferenceService/ModelReady", ml_grpc_kserve_model_ready},
    {"/inference.GRPCInferenceService/ServerMetadata", ml_grpc_kserve_server_metadata},
    {"/inference.GRPCInferenceService/ModelMetadata", ml_grpc_kserve_model_metadata},
    {"/inference.GRPCInferenceService/ModelInfer", ml_grpc_kserve_model_infer},
    {"/tensorflow.serving.PredictionService/Predict", ml_grpc_tf_predict},
    {"/tensorflow.serving.PredictionService/GetModelMetadata", ml_grpc_tf_get_model_metadata},
};

ml_grpc_handler ml_grpc_find_handler(const char *method, size_t len) {
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++)
        if (strlen(methods[i].method) == len && memcmp(methods[i].method, method, len) == 0)
            return methods[i].handler;
    return NULL;
}

int ml_grpc_status_from_code(ml_code code) {
    switch (code) {
    case ML_OK:
        return GRPC_STATUS_OK;
    case ML_ERR_INVALID_ARGUMENT:
        return GRPC_STATUS_INVALID_ARGUMENT;
    case ML_ERR_NOT_FOUND:
        return GRPC_STATUS_NOT_FOUND;
    case ML_ERR_ALREADY_EXISTS:
        return GRPC_STATUS_ALREADY_EXISTS;
    case ML_ERR_CONFLICT:
        return GRPC_STATUS_FAILED_PRECONDITION;
    case ML_ERR_UNSUPPORTED:
        return GRPC_STATUS_UNIMPLEMENTED;
    case ML_ERR_RESOURCE_EXHAUSTED:
    case ML_ERR_OUT_OF_MEMORY:
        return GRPC_STATUS_RESOURCE_EXHAUSTED;
    case ML_ERR_UNAVAILABLE:
        return GRPC_STATUS_UNAVAILABLE;
    case ML_ERR_DEADLINE:
        return GRPC_STATUS_DEADLINE_EXCEEDED;
    case ML_ERR_IO:
    case ML_ERR_INTERNAL:
        return GRPC_STATUS_INTERNAL;
    }
    return GRPC_STATUS_UNKNOWN;
}

ml_status ml_grpc_resolve(ml_runtime *rt, ml_grpc_target *t, ml_contract **contract) {
    *contract = NULL;
    if (!t->name || !t->name[0])
        return ml_error(ML_ERR_INVALID_ARGUMENT, "the request names no model: set the model name");
    if (t->is_app) return ml_runtime_app_contract(rt, t->name, contract);
    int resolved = 0;
    ml_status st = ml_runtime_model_contract(rt, t->name, t->version, contract, &resolved);
    if (!st) {
        t->version = resolved;
        return ML_STATUS_OK;
    }
    if (ml_status_code(st) != ML_ERR_NOT_FOUND || t->version != 0) return st;
    /* No such model: the name may be an application (as Hydrosphere's gateway allowed). */
    ml_status app_st = ml_runtime_app_contract(rt, t->name, contract);
    if (ml_status_code(app_st) == ML_ERR_NOT_FOUND) {
        ml_status_free(app_st);
        ml_status_free(st);
        return ml_error(ML_ERR_NOT_FOUND, "no model or application is named '%s'", t->name);
    }
    ml_status_free(st);
    if (!app_st) t->is_app = 1;
    return app_st;
}

ml_status ml_grpc_run(const ml_grpc_call *call, ml_grpc_target *t, const ml_tensor_list *in,
                      const char *const *outputs, size_t n_outputs, ml_tensor_list *out) {
    ml_runtime *rt = call->rt;
    ml_infer_ctx ctx = {.arrived_ns = 0,
                        .outputs = outputs,
                        .n_outputs = n_outputs,
                        .deadline_ns = call->deadline_ns};
    if (t->is_app) return ml_runtime_infer_app(rt, t->name, in, &ctx, out);
    int ran = t->version;
    ML_TRY(ml_runtime_infer_model(rt, t->name, t->version, in, &ctx, out, &ran));
    t->version = ran;
    return ML_STATUS_OK;
}

ml_status ml_grpc_coerce_input(const ml_contract *c, const char *name, ml_tensor **t) {
    const ml_field *f = c ? ml_contract_input(c, name) : NULL;
    ml_tensor *src = *t;
    if (!f || f->dtype == src->dtype) return ML_STATUS_OK;
    bool both_int = ml_dtype_is_integer(f->dtype) && ml_dtype_is_integer(src->dtype);
    bool both_float = ml_dtype_is_float(f->dtype) && ml_dtype_is_float(src->dtype);
    if (!both_int && !both_float) return ML_STATUS_OK; /* the contract check names the mismatch */
    ml_tensor *dst;
    ML_TRY(ml_tensor_create(f->dtype, src->rank, src->dims, &dst));
    size_t n = ml_tensor_numel(src);
    if (src->dtype == ML_INT64 && f->dtype != ML_INT64) {
        /* int64 through double loses nothing for the narrower targets, but
         * out-of-range values must be refused rather than wrapped */
        const int64_t *v = src->data;
        for (size_t i = 0; i < n; i++) {
            ml_tensor_set_f64(dst, i, (double)v[i]);
            if ((int64_t)ml_tensor_get_f64(dst, i) != v[i]) {
                ml_tensor_free(dst);
                return ml_error(ML_ERR_INVALID_ARGUMENT,
                                "input '%s': value %lld at index %zu does not fit %s", name,
                                (long long)v[i], i, ml_dtype_name(f->dtype));
            }
        }
    } else if (f->dtype == ML_INT64 && both_int) {
        int64_t *d = dst->data;
        for (size_t i = 0; i < n; i++) d[i] = (int64_t)ml_tensor_get_f64(src, i);
    } else {
        for (size_t i = 0; i < n; i++) ml_tensor_set_f64(dst, i, ml_tensor_get_f64(src, i));
    }
    ml_tensor_free(src);
    *t = dst;
    return ML_STATUS_OK;
}

ml_status ml_grpc_check_shape(const char *field, size_t rank, const int64_t *dims, size_t *numel) {
    if (rank > ML_MAX_RANK)
        return ml_error(ML_ERR_INVALID_ARGUMENT, "input '%s': rank %zu is over the limit %d", field,
                        rank, ML_MAX_RANK);
    for (size_t i = 0; i < rank; i++)
        if (dims[i] < 0)
            return ml_error(ML_ERR_INVALID_ARGUMENT,
                            "input '%s': dimension %zu is %lld; request shapes must be concrete",
                            field, i, (long long)dims[i]);
    size_t n;
    if (!ml_shape_numel((int)rank, dims, &n) || n > ML_GRPC_MAX_ELEMENTS)
        return ml_error(ML_ERR_RESOURCE_EXHAUSTED, "input '%s': more than %zu elements", field,
                        (size_t)ML_GRPC_MAX_ELEMENTS);
    *numel = n;
    return ML_STATUS_OK;
}
