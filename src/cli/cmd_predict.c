/* `predict`: call an application (gateway endpoint) or a model version
 * (KServe V2 infer) and print the outputs as {name: nested array}. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cmd_common.h"
#include "cli/commands.h"
#include "cli/grpc_client.h"
#include "cli/tensor_json.h"
#include "cli/yaml_json.h"

#define MAX_DATA_BYTES (256u << 20)

static const ml_opt opts[] = {
    {"data", 'd', ML_OPT_VALUE, "JSON|@FILE",
     "inputs as {\"input_name\": nested array} (or a KServe V2 request); @- reads stdin"},
    {"text", 't', ML_OPT_VALUE, "STRING", "shortcut for a single string input"},
    {"grpc", 0, ML_OPT_FLAG, NULL,
     "call KServe V2 ModelInfer over gRPC (the cluster's --grpc address, default HOST:9091)"},
    {NULL, 0, 0, NULL, NULL},
};
static const ml_cmd_spec spec = {
    "predict",
    "APP|MODEL[:VERSION]",
    "Sends one request to an application or a model (latest version unless :VERSION) and "
    "prints its outputs. A name that is both a model and an application means the model.",
    "  mlambda predict chat --text \"hello\"\n"
    "  mlambda predict seq2seq:1 --data '{\"input\": [\"hello\", \"there\"]}'\n"
    "  mlambda predict adder --data @request.json\n"
    "  mlambda predict chat --text \"hello\" --grpc",
    opts,
    1,
    1};

typedef struct target {
    char name[256];
    long version; /* resolved for models; 0 for applications */
    int is_app;
    json_t *contract; /* owned */
} target;

/* Finds out whether `ref` is a model or an application, and its contract. */
static ml_status resolve(const ml_http_target *t, const char *ref, target *out) {
    memset(out, 0, sizeof *out);
    ML_TRY(ml_parse_ref(ref, out->name, sizeof out->name, &out->version));
    long code = 0;
    json_t *ans = NULL;
    ml_status st = NULL;
    if (!out->version) {
        char *path = ml_pathf("/api/v2/models/%s", out->name);
        st = ml_http_json(t, "GET", path, NULL, &code, &ans);
        free(path);
        if (!st) {
            out->version = (long)json_integer_value(json_object_get(ans, "latest_version"));
        } else if (code == 404) {
            ml_status_free(st);
            path = ml_pathf("/api/v2/applications/%s", out->name);
            st = ml_http_json(t, "GET", path, NULL, &code, &ans);
            free(path);
            if (st && code == 404) {
                ml_status_free(st);
                return ml_error(ML_ERR_NOT_FOUND,
                                "no model or application named '%s'; see '%s model list' and "
                                "'%s app list'",
                                out->name, ml_program_name, ml_program_name);
            }
            if (!st) {
                out->is_app = 1;
                out->contract = json_incref(json_object_get(ans, "contract"));
            }
            json_decref(ans);
            return st;
        }
        json_decref(ans);
        ans = NULL;
        if (st) return st;
    }
    char *path = ml_pathf("/api/v2/models/%s/versions/%ld", out->name, out->version);
    st = ml_http_json(t, "GET", path, NULL, NULL, &ans);
    free(path);
    if (!st) out->contract = json_incref(json_object_get(ans, "contract"));
    json_decref(ans);
    return st;
}

static const json_t *contract_input(const json_t *contract, const char *name) {
    size_t i;
    json_t *f;
    json_array_foreach(json_object_get(contract, "inputs"), i,
                       f) if (!strcmp(ml_jstr(f, "name", ""), name)) return f;
    return NULL;
}

/* {"x": "hello"} for the contract's only input, which must be a string. */
static ml_status text_inputs(const target *tg, const char *text, json_t **out) {
    json_t *inputs = json_object_get(tg->contract, "inputs");
    if (json_array_size(inputs) != 1)
        return ml_error(ML_ERR_INVALID_ARGUMENT,
                        "--text needs exactly one input but %s has %zu; use --data", tg->name,
                        json_array_size(inputs));
    json_t *in = json_array_get(inputs, 0);
    if (strcmp(ml_jstr(in, "dtype", "string"), "string") != 0)
        return ml_error(ML_ERR_INVALID_ARGUMENT,
                        "--text needs a string input but '%s' is %s; use --data",
                        ml_jstr(in, "name", "?"), ml_jstr(in, "dtype", "?"));
    *out = json_object();
    json_object_set_new(*out, ml_jstr(in, "name", "input"),
                        ml_tensor_wrap(json_string(text), json_object_get(in, "shape")));
    return NULL;
}

/* Friendly {name: nested} -> KServe V2 {"inputs": [...]} using the contract's dtypes. */
static ml_status to_kserve(const target *tg, const json_t *inputs, json_t **req) {
    json_t *list = json_array();
    const char *name;
    json_t *value;
    ml_status st = NULL;
    json_object_foreach((json_t *)inputs, name, value) {
        const json_t *f = contract_input(tg->contract, name);
        if (!f) {
            if (tg->is_app)
                st = ml_error(ML_ERR_INVALID_ARGUMENT,
                              "application %s has no input named '%s'; see '%s app get %s'",
                              tg->name, name, ml_program_name, tg->name);
            else
                st = ml_error(ML_ERR_INVALID_ARGUMENT,
                              "%s has no input named '%s'; see '%s model get %s:%ld'", tg->name,
                              name, ml_program_name, tg->name, tg->version);
            break;
        }
        const char *dtype = ml_kserve_datatype(ml_jstr(f, "dtype", NULL));
        if (!dtype) {
            st = ml_error(ML_ERR_UNSUPPORTED,
                          "input '%s' has dtype %s, which REST JSON cannot "
                          "carry",
                          name, ml_jstr(f, "dtype", "?"));
            break;
        }
        json_t *shape, *data;
        if ((st = ml_tensor_flatten(value, name, &shape, &data))) break;
        json_array_append_new(list, json_pack("{s:s, s:o, s:s, s:o}", "name", name, "shape", shape,
                                              "datatype", dtype, "data", data));
    }
    if (st) {
        json_decref(list);
        return st;
    }
    *req = json_pack("{s:o}", "inputs", list);
    return NULL;
}

static ml_status from_kserve(const json_t *ans, json_t **out) {
    json_t *outputs = json_object_get(ans, "outputs");
    if (!json_is_array(outputs))
        return ml_error(ML_ERR_INTERNAL, "the server's answer has no 'outputs' list");
    *out = json_object();
    size_t i;
    json_t *o;
    json_array_foreach(outputs, i, o) {
        json_t *nested;
        ml_status st =
            ml_tensor_nest(json_object_get(o, "shape"), json_object_get(o, "data"), &nested);
        if (st) {
            json_decref(*out);
            return ml_status_wrap(st, "output '%s'", ml_jstr(o, "name", "?"));
        }
        json_object_set_new(*out, ml_jstr(o, "name", "output"), nested);
    }
    return NULL;
}

static ml_status load_data(const char *arg, json_t **out) {
    char *text = NULL;
    size_t len;
    if (arg[0] == '@') ML_TRY(ml_read_file(arg + 1, MAX_DATA_BYTES, &text, &len));
    json_error_t err;
    *out = json_loads(text ? text : arg, JSON_DECODE_ANY, &err);
    free(text);
    if (!*out)
        return ml_error(ML_ERR_INVALID_ARGUMENT,
                        "--data is not valid JSON (line %d, column %d: "
                        "%s)",
                        err.line, err.column, err.text);
    if (!json_is_object(*out)) {
        json_decref(*out);
        return ml_error(ML_ERR_INVALID_ARGUMENT,
                        "--data must be a JSON object such as {\"input\": [\"hello\"]}");
    }
    return NULL;
}

int ml_cmd_predict(int argc, char **argv) {
    ml_args a;
    int rc = ml_args_parse(&spec, argc, argv, &a);
    if (rc >= 0) return rc;
    const char *data_arg = ml_arg(&a, "data"), *text = ml_arg(&a, "text");
    if (!!data_arg == !!text) {
        ml_args_free(&a);
        return ml_usage_error(&spec, "give exactly one of --data or --text");
    }
    int grpc = ml_arg_count(&a, "grpc") > 0;
    if (grpc && !ml_grpc_client_available()) {
        ml_args_free(&a);
        return ml_fail("predict", ml_error(ML_ERR_UNSUPPORTED,
                                           "gRPC support arrives with the gRPC API; call over REST "
                                           "for now (drop --grpc)"));
    }
    ml_client c = {0};
    target tg = {0};
    json_t *inputs = NULL, *req = NULL, *ans = NULL, *outputs = NULL;
    ml_status st = data_arg ? load_data(data_arg, &inputs) : NULL;
    if (!st) st = ml_client_open(&a, &c);
    if (!st) st = resolve(&c.target, a.pos[0], &tg);
    if (!st && text) st = text_inputs(&tg, text, &inputs);
    int raw_kserve = json_is_array(json_object_get(inputs, "inputs"));
    if (!st && grpc) {
        char endpoint[512];
        if (c.grpc)
            snprintf(endpoint, sizeof endpoint, "%s", c.grpc);
        else
            st = ml_grpc_endpoint_from_url(c.target.base_url, endpoint, sizeof endpoint);
        if (!st && !raw_kserve) st = to_kserve(&tg, inputs, &req);
        if (!st) /* an https cluster speaks TLS on its gRPC port too */
            st = ml_grpc_infer(endpoint, c.target.token, !strncmp(c.target.base_url, "https://", 8),
                               c.target.cacert, tg.name, tg.is_app ? 0 : tg.version,
                               raw_kserve ? inputs : req, &ans);
        if (!st && raw_kserve)
            outputs = json_incref(ans);
        else if (!st)
            st = from_kserve(ans, &outputs);
    } else if (!st && tg.is_app) {
        char *path = ml_pathf("/gateway/application/%s", tg.name);
        st = ml_http_json(&c.target, "POST", path, inputs, NULL, &outputs);
        free(path);
    } else if (!st) {
        if (!raw_kserve) st = to_kserve(&tg, inputs, &req);
        char *path = ml_pathf("/v2/models/%s/versions/%ld/infer", tg.name, tg.version);
        if (!st) st = ml_http_json(&c.target, "POST", path, raw_kserve ? inputs : req, NULL, &ans);
        free(path);
        if (!st && raw_kserve)
            outputs = json_incref(ans);
        else if (!st)
            st = from_kserve(ans, &outputs);
    }
    if (!st) {
        char *s = json_dumps(outputs, (a.json ? JSON_COMPACT : JSON_INDENT(2)) | JSON_ENCODE_ANY);
        if (s) puts(s);
        free(s);
    }
    json_decref(inputs);
    json_decref(req);
    json_decref(ans);
    json_decref(outputs);
    json_decref(tg.contract);
    ml_client_close(&c);
    ml_args_free(&a);
    return ml_fail("predict", st);
}
