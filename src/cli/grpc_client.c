#include "cli/grpc_client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

ml_status ml_grpc_endpoint_from_url(const char *url, char *buf, size_t cap) {
    const char *host = strstr(url, "://");
    host = host ? host + 3 : url;
    size_t n = strcspn(host, "/");
    const char *colon = NULL;
    if (host[0] == '[') { /* [v6]:port */
        const char *end = memchr(host, ']', n);
        if (!end) return ml_error(ML_ERR_INVALID_ARGUMENT, "bad IPv6 address in '%s'", url);
        n = (size_t)(end - host) + 1;
    } else {
        colon = memchr(host, ':', n);
        if (colon) n = (size_t)(colon - host);
    }
    if (n == 0 || snprintf(buf, cap, "%.*s:9091", (int)n, host) >= (int)cap)
        return ml_error(ML_ERR_INVALID_ARGUMENT, "cannot derive a gRPC address from '%s'", url);
    return NULL;
}

#ifndef MLAMBDA_HAVE_GRPC

int ml_grpc_client_available(void) {
    return 0;
}

ml_status ml_grpc_infer(const char *endpoint, const char *token, int tls, const char *cacert,
                        const char *name, long version, const json_t *request, json_t **response) {
    (void)endpoint, (void)token, (void)tls, (void)cacert, (void)name, (void)version, (void)request;
    *response = NULL;
    return ml_error(ML_ERR_UNSUPPORTED, "gRPC support arrives with the gRPC API; this build has "
                                        "none, call over REST (drop --grpc)");
}

#else

#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/support/alloc.h>
#include <grpc/support/time.h>

#include "cli/yaml_json.h"
#include "kserve/grpc_predict_v2.pb-c.h"

#define MAX_ELEMENTS ((size_t)1 << 28)

int ml_grpc_client_available(void) {
    return 1;
}

/* ---- JSON -> protobuf ---- */

typedef Inference__ModelInferRequest__InferInputTensor in_tensor;

static void free_input(in_tensor *t) {
    if (!t) return;
    Inference__InferTensorContents *c = t->contents;
    if (c) {
        free(c->bool_contents);
        free(c->int_contents);
        free(c->int64_contents);
        free(c->uint_contents);
        free(c->uint64_contents);
        free(c->fp32_contents);
        free(c->fp64_contents);
        free(c->bytes_contents); /* the bytes point into the JSON strings */
        free(c);
    }
    free(t->shape);
    free(t);
}

static ml_status fill_contents(const char *name, const char *dt, const json_t *data,
                               Inference__InferTensorContents *c) {
    size_t n = json_array_size(data), i;
    json_t *v;
#define FILL(field, type, check, conv)                                                             \
    do {                                                                                           \
        c->field = calloc(n ? n : 1, sizeof(type));                                                \
        if (!c->field) return ml_error(ML_ERR_OUT_OF_MEMORY, "out of memory");                     \
        c->n_##field = n;                                                                          \
        json_array_foreach(data, i, v) {                                                           \
            if (!(check))                                                                          \
                return ml_error(ML_ERR_INVALID_ARGUMENT, "input '%s': element %zu is not a %s",    \
                                name, i, dt);                                                      \
            c->field[i] = (type)(conv);                                                            \
        }                                                                                          \
    } while (0)
    if (!strcmp(dt, "BYTES"))
        FILL(bytes_contents, ProtobufCBinaryData, json_is_string(v),
             ((ProtobufCBinaryData){json_string_length(v), (uint8_t *)json_string_value(v)}));
    else if (!strcmp(dt, "FP32"))
        FILL(fp32_contents, float, json_is_number(v), json_number_value(v));
    else if (!strcmp(dt, "FP64"))
        FILL(fp64_contents, double, json_is_number(v), json_number_value(v));
    else if (!strcmp(dt, "INT64"))
        FILL(int64_contents, int64_t, json_is_integer(v), json_integer_value(v));
    else if (!strcmp(dt, "INT32") || !strcmp(dt, "INT16") || !strcmp(dt, "INT8"))
        FILL(int_contents, int32_t, json_is_integer(v), json_integer_value(v));
    else if (!strcmp(dt, "UINT64"))
        FILL(uint64_contents, uint64_t, json_is_integer(v), json_integer_value(v));
    else if (!strcmp(dt, "UINT32") || !strcmp(dt, "UINT16") || !strcmp(dt, "UINT8"))
        FILL(uint_contents, uint32_t, json_is_integer(v), json_integer_value(v));
    else if (!strcmp(dt, "BOOL"))
        FILL(bool_contents, protobuf_c_boolean, json_is_boolean(v), json_is_true(v));
    else
        return ml_error(ML_ERR_UNSUPPORTED,
                        "input '%s': datatype %s cannot be sent as typed gRPC "
                        "contents; use REST",
                        name, dt);
#undef FILL
    return NULL;
}

static ml_status build_input(const json_t *j, in_tensor **out) {
    in_tensor *t = calloc(1, sizeof *t);
    Inference__InferTensorContents *c = calloc(1, sizeof *c);
    if (!t || !c) {
        free(t);
        free(c);
        return ml_error(ML_ERR_OUT_OF_MEMORY, "out of memory");
    }
    inference__model_infer_request__infer_input_tensor__init(t);
    inference__infer_tensor_contents__init(c);
    t->contents = c;
    t->name = (char *)json_string_value(json_object_get(j, "name"));
    t->datatype = (char *)json_string_value(json_object_get(j, "datatype"));
    const json_t *shape = json_object_get(j, "shape"), *data = json_object_get(j, "data");
    ml_status st = NULL;
    if (!t->name || !t->datatype || !json_is_array(shape) || !json_is_array(data))
        st = ml_error(ML_ERR_INVALID_ARGUMENT, "each input needs name, datatype, shape and data");
    if (!st && json_array_size(data) > MAX_ELEMENTS)
        st = ml_error(ML_ERR_RESOURCE_EXHAUSTED, "input '%s' has too many elements", t->name);
    if (!st) {
        t->n_shape = json_array_size(shape);
        t->shape = calloc(t->n_shape ? t->n_shape : 1, sizeof *t->shape);
        if (!t->shape) st = ml_error(ML_ERR_OUT_OF_MEMORY, "out of memory");
        for (size_t i = 0; !st && i < t->n_shape; i++)
            t->shape[i] = json_integer_value(json_array_get(shape, i));
    }
    if (!st) st = fill_contents(t->name, t->datatype, data, c);
    if (st) {
        free_input(t);
        return st;
    }
    *out = t;
    return NULL;
}

/* ---- protobuf -> JSON ---- */

static json_t *u64_json(uint64_t v) {
    return json_integer((json_int_t)v);
}

static json_t *contents_json(const char *dt, const Inference__InferTensorContents *c) {
    json_t *a = json_array();
    if (!c) return a;
#define EMIT(field, make)                                                                          \
    for (size_t i = 0; i < c->n_##field; i++) json_array_append_new(a, make(c->field[i]))
    if (!strcmp(dt, "BYTES"))
        for (size_t i = 0; i < c->n_bytes_contents; i++)
            json_array_append_new(a, json_stringn_nocheck((const char *)c->bytes_contents[i].data,
                                                          c->bytes_contents[i].len));
    else if (!strcmp(dt, "FP32"))
        EMIT(fp32_contents, json_real);
    else if (!strcmp(dt, "FP64"))
        EMIT(fp64_contents, json_real);
    else if (!strcmp(dt, "INT64"))
        EMIT(int64_contents, json_integer);
    else if (!strncmp(dt, "INT", 3))
        EMIT(int_contents, json_integer);
    else if (!strcmp(dt, "UINT64"))
        EMIT(uint64_contents, u64_json);
    else if (!strncmp(dt, "UINT", 4))
        EMIT(uint_contents, json_integer);
    else if (!strcmp(dt, "BOOL"))
        EMIT(bool_contents, json_boolean);
#undef EMIT
    return a;
}

static int64_t rd_le(const uint8_t *p, size_t width) {
    uint64_t v = 0;
    for (size_t i = 0; i < width; i++) v |= (uint64_t)p[i] << (8 * i);
    return (int64_t)v;
}

/* raw_output_contents: little-endian elements; BYTES are 4-byte-length prefixed. */
static ml_status raw_json(const char *name, const char *dt, const ProtobufCBinaryData *raw,
                          json_t **out) {
    json_t *a = json_array();
    const uint8_t *p = raw->data, *end = raw->data + raw->len;
    size_t width = !strcmp(dt, "BOOL") || !strcmp(dt, "INT8") || !strcmp(dt, "UINT8")     ? 1
                   : !strcmp(dt, "INT16") || !strcmp(dt, "UINT16")                        ? 2
                   : !strcmp(dt, "INT32") || !strcmp(dt, "UINT32") || !strcmp(dt, "FP32") ? 4
                                                                                          : 8;
    while (p < end) {
        json_t *v;
        if (!strcmp(dt, "BYTES")) {
            if (end - p < 4) break;
            size_t len = (size_t)rd_le(p, 4);
            p += 4;
            if ((size_t)(end - p) < len) break;
            v = json_stringn_nocheck((const char *)p, len);
            p += len;
        } else {
            if ((size_t)(end - p) < width) break;
            int64_t bits = rd_le(p, width);
            p += width;
            if (!strcmp(dt, "FP32")) {
                float f;
                uint32_t u = (uint32_t)bits;
                memcpy(&f, &u, sizeof f);
                v = json_real(f);
            } else if (!strcmp(dt, "FP64")) {
                double d;
                memcpy(&d, &bits, sizeof d);
                v = json_real(d);
            } else if (!strcmp(dt, "BOOL")) {
                v = json_boolean(bits != 0);
            } else if (dt[0] == 'I' && width < 8) { /* sign-extend */
                int64_t shift = 64 - 8 * (int64_t)width;
                v = json_integer((json_int_t)((int64_t)((uint64_t)bits << shift) >> shift));
            } else {
                v = json_integer((json_int_t)bits);
            }
        }
        json_array_append_new(a, v);
    }
    if (p != end) {
        json_decref(a);
        return ml_error(ML_ERR_INTERNAL, "output '%s': malformed raw %s contents", name, dt);
    }
    *out = a;
    return NULL;
}

static ml_status response_json(const Inference__ModelInferResponse *r, json_t **out) {
    if (r->n_raw_output_contents && r->n_raw_output_contents != r->n_outputs)
        return ml_error(ML_ERR_INTERNAL, "the answer has %zu raw contents for %zu outputs",
                        r->n_raw_output_contents, r->n_outputs);
    json_t *outputs = json_array();
    for (size_t i = 0; i < r->n_outputs; i++) {
        const Inference__ModelInferResponse__InferOutputTensor *o = r->outputs[i];
        const char *dt = o->datatype ? o->datatype : "";
        json_t *shape = json_array(), *data = NULL;
        for (size_t k = 0; k < o->n_shape; k++)
            json_array_append_new(shape, json_integer(o->shape[k]));
        ml_status st = NULL;
        if (r->n_raw_output_contents)
            st = raw_json(o->name, dt, &r->raw_output_contents[i], &data);
        else
            data = contents_json(dt, o->contents);
        if (st) {
            json_decref(shape);
            json_decref(outputs);
            return st;
        }
        json_array_append_new(outputs,
                              json_pack("{s:s, s:s, s:o, s:o}", "name", o->name ? o->name : "",
                                        "datatype", dt, "shape", shape, "data", data));
    }
    *out = json_pack("{s:o}", "outputs", outputs);
    return NULL;
}

/* ---- the call ---- */

static ml_code code_for(grpc_status_code s) {
    switch (s) {
    case GRPC_STATUS_INVALID_ARGUMENT:
    case GRPC_STATUS_FAILED_PRECONDITION:
        return ML_ERR_INVALID_ARGUMENT;
    case GRPC_STATUS_NOT_FOUND:
        return ML_ERR_NOT_FOUND;
    case GRPC_STATUS_ALREADY_EXISTS:
        return ML_ERR_ALREADY_EXISTS;
    case GRPC_STATUS_UNIMPLEMENTED:
        return ML_ERR_UNSUPPORTED;
    case GRPC_STATUS_RESOURCE_EXHAUSTED:
        return ML_ERR_RESOURCE_EXHAUSTED;
    case GRPC_STATUS_UNAVAILABLE:
        return ML_ERR_UNAVAILABLE;
    case GRPC_STATUS_DEADLINE_EXCEEDED:
        return ML_ERR_DEADLINE;
    default:
        return ML_ERR_INTERNAL;
    }
}

static const char *status_name(grpc_status_code s) {
    static const char *names[] = {"OK",
                                  "CANCELLED",
                                  "UNKNOWN",
                                  "INVALID_ARGUMENT",
                                  "DEADLINE_EXCEEDED",
                                  "NOT_FOUND",
                                  "ALREADY_EXISTS",
                                  "PERMISSION_DENIED",
                                  "RESOURCE_EXHAUSTED",
                                  "FAILED_PRECONDITION",
                                  "ABORTED",
                                  "OUT_OF_RANGE",
                                  "UNIMPLEMENTED",
                                  "INTERNAL",
                                  "UNAVAILABLE",
                                  "DATA_LOSS",
                                  "UNAUTHENTICATED"};
    return s >= 0 && s <= 16 ? names[s] : "UNKNOWN";
}

/* Plain or TLS credentials (the CA PEM read from cacert, or the system's
 * roots when NULL); *out is released by call(). */
static ml_status channel_credentials(int tls, const char *cacert, grpc_channel_credentials **out) {
    if (!tls) {
        *out = grpc_insecure_credentials_create();
        return NULL;
    }
    char *pem = NULL;
    size_t n = 0;
    if (cacert) ML_TRY(ml_read_file(cacert, 1 << 20, &pem, &n));
    *out = grpc_ssl_credentials_create(pem, NULL, NULL, NULL);
    free(pem);
    return *out ? NULL : ml_error(ML_ERR_INVALID_ARGUMENT, "cannot use the CA file '%s'", cacert);
}

/* Sends `req` (serialized) and returns the serialized answer (caller frees).
 * Takes ownership of creds. */
static ml_status call(const char *endpoint, const char *token, grpc_channel_credentials *creds,
                      const uint8_t *req, size_t len, grpc_slice *answer) {
    grpc_channel *ch = grpc_channel_create(endpoint, creds, NULL);
    grpc_completion_queue *cq = grpc_completion_queue_create_for_next(NULL);
    gpr_timespec deadline =
        gpr_time_add(gpr_now(GPR_CLOCK_REALTIME), gpr_time_from_seconds(300, GPR_TIMESPAN));
    grpc_call *c = grpc_channel_create_call(
        ch, NULL, GRPC_PROPAGATE_DEFAULTS, cq,
        grpc_slice_from_static_string("/inference.GRPCInferenceService/ModelInfer"), NULL, deadline,
        NULL);
    grpc_slice body = grpc_slice_from_copied_buffer((const char *)req, len);
    grpc_byte_buffer *send = grpc_raw_byte_buffer_create(&body, 1);
    grpc_slice_unref(body);
    grpc_byte_buffer *recv = NULL;
    grpc_metadata_array initial, trailing;
    grpc_metadata_array_init(&initial);
    grpc_metadata_array_init(&trailing);
    grpc_status_code status = GRPC_STATUS_UNKNOWN;
    grpc_slice details = grpc_empty_slice();
    char bearer[4200];
    grpc_metadata md[1];
    size_t n_md = 0;
    if (token && *token) {
        snprintf(bearer, sizeof bearer, "Bearer %s", token);
        md[0].key = grpc_slice_from_static_string("authorization");
        md[0].value = grpc_slice_from_copied_string(bearer);
        n_md = 1;
    }
    grpc_op ops[6];
    memset(ops, 0, sizeof ops);
    ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
    ops[0].data.send_initial_metadata.count = n_md;
    ops[0].data.send_initial_metadata.metadata = n_md ? md : NULL;
    ops[1].op = GRPC_OP_SEND_MESSAGE;
    ops[1].data.send_message.send_message = send;
    ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
    ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
    ops[3].data.recv_initial_metadata.recv_initial_metadata = &initial;
    ops[4].op = GRPC_OP_RECV_MESSAGE;
    ops[4].data.recv_message.recv_message = &recv;
    ops[5].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
    ops[5].data.recv_status_on_client.status = &status;
    ops[5].data.recv_status_on_client.status_details = &details;
    ops[5].data.recv_status_on_client.trailing_metadata = &trailing;

    ml_status st = NULL;
    if (grpc_call_start_batch(c, ops, 6, (void *)1, NULL) != GRPC_CALL_OK) {
        st = ml_error(ML_ERR_INTERNAL, "cannot start the gRPC call");
    } else {
        grpc_event ev = grpc_completion_queue_next(cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
        if (ev.type != GRPC_OP_COMPLETE || !ev.success)
            st = ml_error(ML_ERR_UNAVAILABLE, "the gRPC call to %s did not complete", endpoint);
    }
    if (!st && status != GRPC_STATUS_OK) {
        char *msg = grpc_slice_to_c_string(details);
        if (status == GRPC_STATUS_UNAVAILABLE)
            st = ml_error(ML_ERR_UNAVAILABLE,
                          "cannot reach the gRPC server at %s: %s; is it running and is the "
                          "cluster's grpc address right ('cluster list')?",
                          endpoint, msg && *msg ? msg : "unavailable");
        else
            st = ml_error(code_for(status), "gRPC %s: %s", status_name(status), msg ? msg : "");
        gpr_free(msg);
    }
    if (!st && !recv) st = ml_error(ML_ERR_INTERNAL, "the gRPC answer carried no message");
    if (!st) {
        grpc_byte_buffer_reader reader;
        if (!grpc_byte_buffer_reader_init(&reader, recv))
            st = ml_error(ML_ERR_INTERNAL, "cannot read the gRPC answer");
        else {
            *answer = grpc_byte_buffer_reader_readall(&reader);
            grpc_byte_buffer_reader_destroy(&reader);
        }
    }
    if (n_md) grpc_slice_unref(md[0].value);
    grpc_slice_unref(details);
    grpc_metadata_array_destroy(&initial);
    grpc_metadata_array_destroy(&trailing);
    grpc_byte_buffer_destroy(send);
    if (recv) grpc_byte_buffer_destroy(recv);
    grpc_call_unref(c);
    grpc_completion_queue_shutdown(cq);
    while (grpc_completion_queue_next(cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL).type !=
           GRPC_QUEUE_SHUTDOWN) {
    }
    grpc_completion_queue_destroy(cq);
    grpc_channel_destroy(ch);
    grpc_channel_credentials_release(creds);
    return st;
}

ml_status ml_grpc_infer(const char *endpoint, const char *token, int tls, const char *cacert,
                        const char *name, long version, const json_t *request, json_t **response) {
    *response = NULL;
    const json_t *inputs = json_object_get(request, "inputs");
    size_t n = json_array_size(inputs);
    char ver[32] = "";
    if (version > 0) snprintf(ver, sizeof ver, "%ld", version);
    Inference__ModelInferRequest req;
    inference__model_infer_request__init(&req);
    req.model_name = (char *)name;
    req.model_version = ver;
    req.inputs = calloc(n ? n : 1, sizeof *req.inputs);
    ml_status st = req.inputs ? NULL : ml_error(ML_ERR_OUT_OF_MEMORY, "out of memory");
    for (size_t i = 0; !st && i < n; i++) {
        st = build_input(json_array_get(inputs, i), &req.inputs[i]);
        if (!st) req.n_inputs++;
    }
    uint8_t *bytes = NULL;
    size_t len = 0;
    if (!st) {
        len = inference__model_infer_request__get_packed_size(&req);
        bytes = malloc(len ? len : 1);
        if (!bytes)
            st = ml_error(ML_ERR_OUT_OF_MEMORY, "out of memory");
        else
            inference__model_infer_request__pack(&req, bytes);
    }
    for (size_t i = 0; i < req.n_inputs; i++) free_input(req.inputs[i]);
    free(req.inputs);
    if (st) return st;

    grpc_init();
    grpc_slice answer = grpc_empty_slice();
    grpc_channel_credentials *creds = NULL;
    st = channel_credentials(tls, cacert, &creds);
    if (!st) st = call(endpoint, token, creds, bytes, len, &answer);
    free(bytes);
    if (!st) {
        Inference__ModelInferResponse *r = inference__model_infer_response__unpack(
            NULL, GRPC_SLICE_LENGTH(answer), GRPC_SLICE_START_PTR(answer));
        if (!r)
            st = ml_error(ML_ERR_INTERNAL, "the gRPC answer is not a ModelInferResponse");
        else
            st = response_json(r, response);
        if (r) inference__model_infer_response__free_unpacked(r, NULL);
    }
    grpc_slice_unref(answer);
    grpc_shutdown();
    return st;
}

#endif
