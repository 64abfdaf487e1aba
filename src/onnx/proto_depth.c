/* Nesting-depth pre-check of a serialized ModelProto.
 *
 * protobuf-c unpacks nested messages recursively without a depth limit, so a
 * small hostile file (graph in attribute in node in graph ..., or TypeProto in
 * TypeProto ...) could exhaust the stack of the loading thread. This walks
 * only the fields that hold recursive message types, in linear time, and
 * rejects files nested deeper than a bound no real model gets near. Malformed
 * wire data is left for protobuf-c to report. */
#include <stdint.h>

#include "onnx/graph.h"

typedef enum msg {
    M_NONE = 0,
    M_MODEL,
    M_GRAPH,
    M_NODE,
    M_ATTR,
    M_VALUE_INFO,
    M_TYPE,
    M_TYPE_WRAP, /* TypeProto.Sequence / Map / Optional */
    M_FUNCTION,
    M_TRAINING,
} msg;

/* Submessage type of field `field` in message m, or M_NONE (skipped). */
static msg child(msg m, uint64_t field) {
    switch (m) {
    case M_MODEL:
        return field == 7 ? M_GRAPH : field == 20 ? M_TRAINING : field == 25 ? M_FUNCTION : M_NONE;
    case M_TRAINING:
        return field == 1 || field == 2 ? M_GRAPH : M_NONE;
    case M_FUNCTION:
        return field == 7 ? M_NODE : M_NONE;
    case M_GRAPH:
        return field == 1 ? M_NODE : (field >= 11 && field <= 13) ? M_VALUE_INFO : M_NONE;
    case M_NODE:
        return field == 5 ? M_ATTR : M_NONE;
    case M_ATTR:
        return field == 6 || field == 11 ? M_GRAPH : field == 14 || field == 15 ? M_TYPE : M_NONE;
    case M_VALUE_INFO:
        return field == 2 ? M_TYPE : M_NONE;
    case M_TYPE:
        return field == 4 || field == 5 || field == 9 ? M_TYPE_WRAP : M_NONE;
    case M_TYPE_WRAP:
        return field == 1 || field == 2 ? M_TYPE : M_NONE;
    default:
        return M_NONE;
    }
}

static int read_varint(const uint8_t **p, const uint8_t *end, uint64_t *out) {
    uint64_t v = 0;
    for (int shift = 0; shift < 64 && *p < end; shift += 7) {
        uint8_t b = *(*p)++;
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *out = v;
            return 1;
        }
    }
    return 0;
}

/* Returns the deepest nesting found below (and including) this message, or
 * max_depth + 1 as soon as the bound is passed. */
static int walk(const uint8_t *p, const uint8_t *end, msg m, int depth, int max_depth) {
    if (depth > max_depth) return depth;
    int deepest = depth;
    while (p < end) {
        uint64_t key, len;
        if (!read_varint(&p, end, &key)) return deepest;
        switch (key & 7) {
        case 0:
            if (!read_varint(&p, end, &len)) return deepest;
            break;
        case 1:
            if (end - p < 8) return deepest;
            p += 8;
            break;
        case 5:
            if (end - p < 4) return deepest;
            p += 4;
            break;
        case 2: {
            if (!read_varint(&p, end, &len) || len > (uint64_t)(end - p)) return deepest;
            msg c = child(m, key >> 3);
            if (c != M_NONE) {
                int d = walk(p, p + len, c, depth + 1, max_depth);
                if (d > deepest) deepest = d;
                if (deepest > max_depth) return deepest;
            }
            p += len;
            break;
        }
        default:
            return deepest; /* groups or junk: protobuf-c will decide */
        }
    }
    return deepest;
}

ml_status ml_onnx_check_nesting(const void *bytes, size_t len, int max_depth) {
    const uint8_t *p = bytes;
    int d = walk(p, p + len, M_MODEL, 0, max_depth);
    if (d > max_depth)
        return ml_error(ML_ERR_INVALID_ARGUMENT,
                        "not a usable ONNX model: messages are nested more than %d levels deep",
                        max_depth);
    return ML_STATUS_OK;
}
