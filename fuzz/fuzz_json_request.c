/* libFuzzer target for the JSON request decoders (KServe V2 with the binary
 * extension, TF-Serving rows/columns, gateway): no input may crash, leak or
 * exceed the limits. The first byte picks the decoder and, for KServe, the
 * split between JSON header and binary part. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/codec.h"

static ml_contract *contract(void) {
    static ml_contract *c;
    if (!c) {
        json_t *j = json_loads("{\"inputs\":[{\"name\":\"x\",\"dtype\":\"float\",\"shape\":[-1,2]},"
                               "{\"name\":\"s\",\"dtype\":\"string\",\"shape\":[-1]},"
                               "{\"name\":\"i\",\"dtype\":\"int32\",\"shape\":null}],"
                               "\"outputs\":[{\"name\":\"y\",\"dtype\":\"float\",\"shape\":[-1]}]}",
                               0, NULL);
        ml_status st = ml_contract_from_json(j, &c);
        ml_status_free(st);
        json_decref(j);
    }
    return c;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    ml_json_limits lim;
    ml_json_limits_default(&lim);
    lim.max_elements = 1 << 16;
    lim.max_string_bytes = 1 << 16;
    const char *body = (const char *)data + 1;
    size_t len = size - 1;
    ml_tensor_list out = {0};
    switch (data[0] % 4) {
    case 0: {
        ml_kserve_request r;
        ml_status st = ml_kserve_decode(body, len, len, &lim, &r);
        if (!st) ml_kserve_request_clear(&r);
        ml_status_free(st);
        break;
    }
    case 1: {
        /* Binary extension: the header is a prefix chosen by the data. */
        size_t hl = len ? (size_t)data[0] * 7 % (len + 1) : 0;
        ml_kserve_request r;
        ml_status st = ml_kserve_decode(body, len, hl, &lim, &r);
        if (!st) {
            char *resp;
            size_t rl, rh;
            ml_status e = ml_kserve_encode("m", 1, &r, &r.inputs, &resp, &rl, &rh);
            if (!e) free(resp);
            ml_status_free(e);
            ml_kserve_request_clear(&r);
        }
        ml_status_free(st);
        break;
    }
    case 2: {
        ml_tf_request r;
        ml_status st = ml_tf_decode(body, len, contract(), &lim, &r);
        if (!st) {
            json_decref(ml_tf_encode(&r, &r.inputs));
            ml_tensor_list_clear(&r.inputs);
        }
        ml_status_free(st);
        break;
    }
    default: {
        ml_status st = ml_gateway_decode(body, len, contract(), &lim, &out);
        if (!st) {
            json_decref(ml_gateway_encode(&out));
            ml_tensor_list_clear(&out);
        }
        ml_status_free(st);
        break;
    }
    }
    return 0;
}
