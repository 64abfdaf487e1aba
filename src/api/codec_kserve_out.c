/* KServe V2 infer responses: JSON written directly (json_writer.h) plus the
 * binary tensor extension. The text is byte-identical to the jansson tree
 * this replaced (tests/api/test_codec.c compares them). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "api/codec.h"
#include "api/json_writer.h"

static bool output_binary(const ml_kserve_request *req, const char *name) {
    for (size_t i = 0; req && i < req->n_outputs; i++)
        if (!strcmp(req->outputs[i], name)) return req->outputs_binary[i];
    return req ? req->binary_default : false;
}

/* One element, as ml_tensor_to_flat_json + json_dumps write it. */
static void write_elem(ml_jw *w, const ml_tensor *t, size_t i, int precision) {
    switch (t->dtype) {
    case ML_STRING: {
        const ml_str *s = &ML_TENSOR_DATA(t, ml_str)[i];
        if (ml_jw_string(w, s->data ? s->data : "", s->len)) return;
        /* not UTF-8: the same {"b64": ...} object the decoders accept */
        char *b = ml_base64_encode(s->data, s->len);
        ml_jw_lit(w, "{\"b64\":");
        ml_jw_string(w, b ? b : "", b ? strlen(b) : 0);
        ml_jw_lit(w, "}");
        free(b);
        return;
    }
    case ML_BOOL:
        ml_jw_lit(w, ML_TENSOR_DATA(t, uint8_t)[i] ? "true" : "false");
        return;
    case ML_INT64:
        ml_jw_int(w, (long long)ML_TENSOR_DATA(t, int64_t)[i]);
        return;
    case ML_UINT64:
        ml_jw_int(w, (long long)ML_TENSOR_DATA(t, uint64_t)[i]);
        return;
    default:
        break;
    }
    if (ml_dtype_is_integer(t->dtype)) {
        ml_jw_int(w, (long long)ml_tensor_get_f64(t, i));
        return;
    }
    double d = t->dtype == ML_FLOAT ? (double)ML_TENSOR_DATA(t, float)[i] : ml_tensor_get_f64(t, i);
    if (isnan(d))
        ml_jw_lit(w, "\"NaN\"");
    else if (isinf(d))
        ml_jw_lit(w, d > 0 ? "\"Infinity\"" : "\"-Infinity\"");
    else
        ml_jw_real(w, d, precision);
}

/* Precision of reals: 9 digits round-trip float32; 17 when any output is
 * float64 (what ml_json_dump_flags gives jansson for the other encoders). */
static int real_precision(const ml_tensor_list *outs) {
    for (size_t i = 0; i < outs->n; i++)
        if (outs->tensors[i]->dtype == ML_DOUBLE) return 17;
    return 9;
}

static ml_status name_error(const char *what) {
    return ml_error(ML_ERR_INTERNAL, "cannot encode the response: the %s is not valid UTF-8", what);
}

ml_status ml_kserve_encode(const char *model, int version, const ml_kserve_request *req,
                           const ml_tensor_list *outs, char **body, size_t *len,
                           size_t *header_len) {
    *body = NULL;
    int precision = real_precision(outs);
    ml_jw w = {0};
    ml_jw_lit(&w, "{\"model_name\":");
    if (!ml_jw_string(&w, model, strlen(model))) {
        ml_jw_free(&w);
        return name_error("model name");
    }
    if (version > 0) {
        ml_jw_lit(&w, ",\"model_version\":\"");
        ml_jw_int(&w, version);
        ml_jw_lit(&w, "\"");
    }
    ml_jw_lit(&w, ",\"outputs\":[");
    size_t bin_total = 0;
    for (size_t i = 0; i < outs->n; i++) {
        const ml_tensor *t = outs->tensors[i];
        ml_jw_lit(&w, i ? ",{\"name\":" : "{\"name\":");
        if (!ml_jw_string(&w, outs->names[i], strlen(outs->names[i]))) {
            ml_jw_free(&w);
            return name_error("output name");
        }
        const char *kn = ml_dtype_kserve_name(t->dtype);
        ml_jw_lit(&w, ",\"datatype\":\"");
        ml_jw_lit(&w, kn ? kn : "BYTES");
        ml_jw_lit(&w, "\",\"shape\":[");
        for (int k = 0; k < t->rank; k++) {
            if (k) ml_jw_raw(&w, ",", 1);
            ml_jw_int(&w, (long long)t->dims[k]);
        }
        ml_jw_raw(&w, "]", 1);
        size_t n = ml_tensor_numel(t);
        if (output_binary(req, outs->names[i])) {
            size_t bytes = 0;
            if (t->dtype == ML_STRING) {
                for (size_t k = 0; k < n; k++) bytes += 4 + ML_TENSOR_DATA(t, ml_str)[k].len;
            } else {
                bytes = ml_tensor_nbytes(t);
            }
            ml_jw_lit(&w, ",\"parameters\":{\"binary_data_size\":");
            ml_jw_int(&w, (long long)bytes);
            ml_jw_raw(&w, "}", 1);
            bin_total += bytes;
        } else {
            ml_jw_lit(&w, ",\"data\":[");
            for (size_t k = 0; k < n; k++) {
                if (k) ml_jw_raw(&w, ",", 1);
                write_elem(&w, t, k, precision);
            }
            ml_jw_raw(&w, "]", 1);
        }
        ml_jw_raw(&w, "}", 1);
    }
    ml_jw_raw(&w, "]", 1);
    if (req && req->id) {
        ml_jw_lit(&w, ",\"id\":");
        if (!ml_jw_string(&w, req->id, strlen(req->id))) {
            ml_jw_free(&w);
            return name_error("request id");
        }
    }
    ml_jw_raw(&w, "}", 1);
    size_t tl = 0;
    char *text = ml_jw_take(&w, &tl);
    if (!text) return ml_error(ML_ERR_OUT_OF_MEMORY, "out of memory encoding the response");
    if (!bin_total) {
        *body = text;
        *len = *header_len = tl;
        return NULL;
    }
    char *b = realloc(text, tl + bin_total);
    if (!b) {
        free(text);
        return ml_error(ML_ERR_OUT_OF_MEMORY, "out of memory encoding the response");
    }
    size_t off = tl;
    for (size_t i = 0; i < outs->n; i++) {
        const ml_tensor *t = outs->tensors[i];
        if (!output_binary(req, outs->names[i])) continue;
        if (t->dtype == ML_STRING) {
            for (size_t k = 0; k < ml_tensor_numel(t); k++) {
                const ml_str *s = &ML_TENSOR_DATA(t, ml_str)[k];
                uint32_t n = (uint32_t)s->len;
                unsigned char l4[4] = {(unsigned char)n, (unsigned char)(n >> 8),
                                       (unsigned char)(n >> 16), (unsigned char)(n >> 24)};
                memcpy(b + off, l4, 4);
                if (s->len) memcpy(b + off + 4, s->data, s->len);
                off += 4 + s->len;
            }
        } else {
            memcpy(b + off, t->data, ml_tensor_nbytes(t));
            off += ml_tensor_nbytes(t);
        }
    }
    *body = b;
    *len = off;
    *header_len = tl;
    return NULL;
}
