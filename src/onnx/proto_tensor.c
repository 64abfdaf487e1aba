/* TensorProto / SparseTensorProto / TypeProto conversion. Hostile input:
 * every count read from the file is checked against the declared shape, the
 * shape against ML_MAX_RANK and the per-tensor byte limit, before anything
 * is allocated. Assumes a little-endian host (raw_data is little-endian). */
#include "onnx/proto_tensor.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "onnx.pb-c.h"
#include "onnx_data.pb-c.h"

static const char *nz(const char *s) {
    return s ? s : "";
}

/* ---- external data ---- */

static bool parse_u64(const char *s, uint64_t *out) {
    if (!s || !*s) return false;
    uint64_t v = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9') return false;
        if (v > (UINT64_MAX - 9) / 10) return false;
        v = v * 10 + (uint64_t)(*s - '0');
    }
    *out = v;
    return true;
}

static bool location_is_safe(const char *loc) {
    if (!loc || !*loc || loc[0] == '/') return false;
    /* reject any ".." path component */
    for (const char *p = loc; *p;) {
        const char *e = strchr(p, '/');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (n == 2 && p[0] == '.' && p[1] == '.') return false;
        p += n;
        if (*p == '/') p++;
    }
    return true;
}

static ml_status read_external(const Onnx__TensorProto *tp, const ml_tensor_source *src, void *dst,
                               size_t nbytes) {
    const char *loc = NULL, *off_s = NULL, *len_s = NULL;
    for (size_t i = 0; i < tp->n_external_data; i++) {
        const Onnx__StringStringEntryProto *e = tp->external_data[i];
        if (!e->key) continue;
        if (strcmp(e->key, "location") == 0)
            loc = e->value;
        else if (strcmp(e->key, "offset") == 0)
            off_s = e->value;
        else if (strcmp(e->key, "length") == 0)
            len_s = e->value;
    }
    const char *name = nz(tp->name);
    if (!src || !src->base_dir)
        return ml_error(ML_ERR_INVALID_ARGUMENT,
                        "tensor '%s' uses external data, which needs the model to be loaded "
                        "from a folder (load_file)",
                        name);
    if (!location_is_safe(loc))
        return ml_error(ML_ERR_INVALID_ARGUMENT,
                        "tensor '%s': external data location '%s' must be a relative path "
                        "inside the model folder",
                        name, nz(loc));
    uint64_t offset = 0, length = nbytes;
    if ((off_s && !parse_u64(off_s, &offset)) || (len_s && !parse_u64(len_s, &length)))
        return ml_error(ML_ERR_INVALID_ARGUMENT, "tensor '%s': bad external data offset/length",
                        name);
    if (length != nbytes)
        return ml_error(ML_ERR_INVALID_ARGUMENT,
                        "tensor '%s': external data length %llu does not match its shape "
                        "(%zu bytes)",
                        name, (unsigned long long)length, nbytes);
    char path[PATH_MAX], real_base[PATH_MAX], real_file[PATH_MAX];
    if (snprintf(path, sizeof path, "%s/%s", src->base_dir, loc) >= (int)sizeof path)
        return ml_error(ML_ERR_INVALID_ARGUMENT, "tensor '%s': external data path too long", name);
    if (!realpath(src->base_dir, real_base) || !realpath(path, real_file))
        return ml_error(ML_ERR_IO, "tensor '%s': cannot open external data file '%s': %s", name,
                        path, strerror(errno));
    size_t bl = strlen(real_base);
    if (strncmp(real_file, real_base, bl) != 0 || real_file[bl] != '/')
        return ml_error(ML_ERR_INVALID_ARGUMENT,
                        "tensor '%s': external data file '%s' resolves outside the model folder",
                        name, loc);
    FILE *f = fopen(real_file, "rb");
    if (!f)
        return ml_error(ML_ERR_IO, "tensor '%s': cannot open '%s': %s", name, real_file,
                        strerror(errno));
    ml_status st = ML_STATUS_OK;
    if (offset > (uint64_t)LLONG_MAX || fseeko(f, (off_t)offset, SEEK_SET) != 0 ||
        (nbytes && fread(dst, 1, nbytes, f) != nbytes))
        st = ml_error(ML_ERR_INVALID_ARGUMENT,
                      "tensor '%s': external data file '%s' is shorter than offset %llu + %zu "
                      "bytes",
                      name, loc, (unsigned long long)offset, nbytes);
    fclose(f);
    return st;
}

/* ---- dense tensors ---- */

static ml_status check_count(const char *name, const char *field, size_t have, size_t want) {
    if (have == want) return ML_STATUS_OK;
    return ml_error(ML_ERR_INVALID_ARGUMENT,
                    "tensor '%s' has %zu values in %s but its shape needs %zu", name, have, field,
                    want);
}

static ml_status fill_typed(const Onnx__TensorProto *tp, ml_tensor *t, size_t numel) {
    const char *name = nz(tp->name);
    void *d = t->data;
    switch (t->dtype) {
    case ML_FLOAT:
        ML_TRY(check_count(name, "float_data", tp->n_float_data, numel));
        if (numel) memcpy(d, tp->float_data, numel * sizeof(float));
        return ML_STATUS_OK;
    case ML_COMPLEX64:
        ML_TRY(check_count(name, "float_data", tp->n_float_data, numel * 2));
        if (numel) memcpy(d, tp->float_data, numel * 2 * sizeof(float));
        return ML_STATUS_OK;
    case ML_DOUBLE:
        ML_TRY(check_count(name, "double_data", tp->n_double_data, numel));
        if (numel) memcpy(d, tp->double_data, numel * sizeof(double));
        return ML_STATUS_OK;
    case ML_COMPLEX128:
        ML_TRY(check_count(name, "double_data", tp->n_double_data, numel * 2));
        if (numel) memcpy(d, tp->double_data, numel * 2 * sizeof(double));
        return ML_STATUS_OK;
    case ML_INT64:
        ML_TRY(check_count(name, "int64_data", tp->n_int64_data, numel));
        if (numel) memcpy(d, tp->int64_data, numel * sizeof(int64_t));
        return ML_STATUS_OK;
    case ML_UINT32:
    case ML_UINT64:
        ML_TRY(check_count(name, "uint64_data", tp->n_uint64_data, numel));
        for (size_t i = 0; i < numel; i++) {
            if (t->dtype == ML_UINT32)
                ((uint32_t *)d)[i] = (uint32_t)tp->uint64_data[i];
            else
                ((uint64_t *)d)[i] = tp->uint64_data[i];
        }
        return ML_STATUS_OK;
    case ML_INT32:
    case ML_INT16:
    case ML_INT8:
    case ML_UINT16:
    case ML_UINT8:
    case ML_BOOL:
    case ML_FLOAT16:
    case ML_BFLOAT16:
        /* narrow types (and the bit patterns of half floats) travel in int32_data */
        ML_TRY(check_count(name, "int32_data", tp->n_int32_data, numel));
        for (size_t i = 0; i < numel; i++) {
            int32_t v = tp->int32_data[i];
            switch (t->dtype) {
            case ML_INT32:
                ((int32_t *)d)[i] = v;
                break;
            case ML_INT16:
                ((int16_t *)d)[i] = (int16_t)v;
                break;
            case ML_INT8:
                ((int8_t *)d)[i] = (int8_t)v;
                break;
            case ML_UINT16:
            case ML_FLOAT16:
            case ML_BFLOAT16:
                ((uint16_t *)d)[i] = (uint16_t)v;
                break;
            case ML_UINT8:
                ((uint8_t *)d)[i] = (uint8_t)v;
                break;
            case ML_BOOL:
                ((uint8_t *)d)[i] = v != 0;
                break;
            default:
                break;
            }
        }
        return ML_STATUS_OK;
    case ML_STRING:
        ML_TRY(check_count(name, "string_data", tp->n_string_data, numel));
        for (size_t i = 0; i < numel; i++)
            ML_TRY(ml_tensor_set_string(t, i, (const char *)tp->string_data[i].data,
                                        tp->string_data[i].len));
        return ML_STATUS_OK;
    default:
        return ml_error(ML_ERR_UNSUPPORTED, "tensor '%s' has unsupported data type %s", name,
                        ml_dtype_name(t->dtype));
    }
}

ml_status ml_tensor_from_proto(const Onnx__TensorProto *tp, const ml_tensor_source *src,
                               ml_tensor **out) {
    *out = NULL;
    const char *name = nz(tp->name);
    if (!tp->has_data_type || tp->data_type <= ML_UNDEFINED)
        return ml_error(ML_ERR_INVALID_ARGUMENT, "tensor '%s' has no valid data type", name);
    if (!ml_dtype_valid(tp->data_type))
        return ml_error(ML_ERR_UNSUPPORTED,
                        "tensor '%s' has data type %d, which mlambda does not support (float8 "
                        "and 4-bit types are not implemented)",
                        name, (int)tp->data_type);
    ml_dtype dt = (ml_dtype)tp->data_type;
    if (tp->n_dims > ML_MAX_RANK)
        return ml_error(ML_ERR_UNSUPPORTED, "tensor '%s' has rank %zu, over the limit %d", name,
                        tp->n_dims, ML_MAX_RANK);
    size_t numel;
    if (!ml_shape_numel((int)tp->n_dims, tp->dims, &numel))
        return ml_error(ML_ERR_INVALID_ARGUMENT,
                        "tensor '%s' has a negative dimension or too many elements", name);
    size_t esize = ml_dtype_size(dt);
    size_t nbytes = numel * esize; /* cannot overflow: numel <= SIZE_MAX / 16 */
    uint64_t limit = src && src->max_bytes ? src->max_bytes : ((uint64_t)2 << 30);
    if (nbytes > limit)
        return ml_error(ML_ERR_RESOURCE_EXHAUSTED,
                        "tensor '%s' needs %zu bytes, over the per-tensor limit of %llu", name,
                        nbytes, (unsigned long long)limit);
    bool external =
        tp->has_data_location && tp->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL;
    if (dt == ML_STRING && (external || tp->has_raw_data) && numel)
        return ml_error(ML_ERR_INVALID_ARGUMENT,
                        "string tensor '%s' must keep its values in string_data", name);
    if (tp->has_raw_data && !external && dt != ML_STRING && tp->raw_data.len != nbytes) {
        char shape[256];
        return ml_error(ML_ERR_INVALID_ARGUMENT,
                        "tensor '%s' has %zu bytes of raw_data but its shape %s of %s needs %zu",
                        name, tp->raw_data.len,
                        ml_shape_format((int)tp->n_dims, tp->dims, shape, sizeof shape),
                        ml_dtype_name(dt), nbytes);
    }
    ml_tensor *t;
    ML_TRY(ml_tensor_create(dt, (int)tp->n_dims, tp->dims, &t));
    ml_status st = ML_STATUS_OK;
    if (external)
        st = read_external(tp, src, t->data, nbytes);
    else if (tp->has_raw_data && dt != ML_STRING) {
        if (nbytes) memcpy(t->data, tp->raw_data.data, nbytes);
        if (dt == ML_BOOL) /* normalise to 0/1 */
            for (size_t i = 0; i < numel; i++)
                ((uint8_t *)t->data)[i] = ((uint8_t *)t->data)[i] != 0;
    } else
        st = fill_typed(tp, t, numel);
    if (st) {
        ml_tensor_free(t);
        return st;
    }
    *out = t;
    return ML_STATUS_OK;
}

ml_status ml_tensor_from_sparse(const Onnx__SparseTensorProto *sp, const ml_tensor_source *src,
                                ml_tensor **out) {
    *out = NULL;
    if (!sp->values || !sp->indices)
        return ml_error(ML_ERR_INVALID_ARGUMENT, "sparse tensor without values or indices");
    const char *name = nz(sp->values->name);
    if (sp->n_dims > ML_MAX_RANK)
        return ml_error(ML_ERR_UNSUPPORTED, "sparse tensor '%s' has rank %zu over the limit", name,
                        sp->n_dims);
    ml_tensor *values = NULL, *indices = NULL, *dense = NULL;
    ml_status st = ml_tensor_from_proto(sp->values, src, &values);
    if (!st) st = ml_tensor_from_proto(sp->indices, src, &indices);
    if (!st && (values->rank != 1 || indices->dtype != ML_INT64))
        st = ml_error(ML_ERR_INVALID_ARGUMENT,
                      "sparse tensor '%s' needs 1-D values and int64 indices", name);
    size_t nnz = values ? ml_tensor_numel(values) : 0, rank = sp->n_dims;
    if (!st) {
        bool linear = indices->rank == 1 && (size_t)indices->dims[0] == nnz;
        bool coords = indices->rank == 2 && (size_t)indices->dims[0] == nnz &&
                      (size_t)indices->dims[1] == rank;
        if (!linear && !coords)
            st = ml_error(ML_ERR_INVALID_ARGUMENT,
                          "sparse tensor '%s': indices must be [NNZ] or [NNZ, rank]", name);
    }
    if (!st) {
        size_t numel;
        if (!ml_shape_numel((int)rank, sp->dims, &numel) ||
            numel * ml_dtype_size(values->dtype) >
                (src && src->max_bytes ? src->max_bytes : ((uint64_t)2 << 30)))
            st = ml_error(ML_ERR_INVALID_ARGUMENT, "sparse tensor '%s' has a bad shape", name);
        else
            st = ml_tensor_create(values->dtype, (int)rank, sp->dims, &dense);
        const int64_t *idx = st ? NULL : indices->data;
        size_t es = ml_dtype_size(values->dtype);
        for (size_t k = 0; !st && k < nnz; k++) {
            int64_t lin = 0;
            if (indices->rank == 1) {
                lin = idx[k];
            } else {
                for (size_t r = 0; r < rank; r++) {
                    int64_t c = idx[k * rank + r];
                    if (c < 0 || c >= sp->dims[r]) {
                        lin = -1;
                        break;
                    }
                    lin = lin * sp->dims[r] + c;
                }
            }
            if (lin < 0 || (size_t)lin >= numel) {
                st = ml_error(ML_ERR_INVALID_ARGUMENT, "sparse tensor '%s': index out of range",
                              name);
                break;
            }
            if (values->dtype == ML_STRING) {
                const ml_str *s = &((const ml_str *)values->data)[k];
                st = ml_tensor_set_string(dense, (size_t)lin, s->data, s->len);
            } else {
                memcpy((char *)dense->data + (size_t)lin * es, (char *)values->data + k * es, es);
            }
        }
    }
    ml_tensor_free(values);
    ml_tensor_free(indices);
    if (st) {
        ml_tensor_free(dense);
        return st;
    }
    *out = dense;
    return ML_STATUS_OK;
}

/* ---- types ---- */

static void tensor_type_info(const Onnx__TypeProto__Tensor *tt, ml_arena *arena, ml_io_info *info) {
    info->dtype =
        tt->has_elem_type && ml_dtype_valid(tt->elem_type) ? (ml_dtype)tt->elem_type : ML_UNDEFINED;
    info->rank = -1;
    if (!tt->shape || tt->shape->n_dim > ML_MAX_RANK) return;
    info->rank = (int)tt->shape->n_dim;
    for (size_t i = 0; i < tt->shape->n_dim; i++) {
        const Onnx__TensorShapeProto__Dimension *d = tt->shape->dim[i];
        info->dims[i] = -1;
        info->dim_names[i] = NULL;
        if (d->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE &&
            d->dim_value >= 0)
            info->dims[i] = d->dim_value;
        else if (d->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM &&
                 d->dim_param && arena)
            info->dim_names[i] = ml_arena_strndup(arena, d->dim_param, strlen(d->dim_param));
    }
}

/* Element type of a tensor TypeProto, UNDEFINED when absent or unknown. */
static ml_dtype tensor_elem_dtype(const Onnx__TypeProto *tp) {
    if (!tp || tp->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE) return ML_UNDEFINED;
    ml_io_info tmp = {0};
    tensor_type_info(tp->tensor_type, NULL, &tmp);
    return tmp.dtype;
}

/* A map's key type and value element type (map values are tensors in
 * ONNX-ML's ZipMap/CastMap/DictVectorizer). */
static void map_type_info(const Onnx__TypeProto__Map *m, ml_io_info *info) {
    info->key_dtype =
        m->has_key_type && ml_dtype_valid(m->key_type) ? (ml_dtype)m->key_type : ML_UNDEFINED;
    info->dtype = tensor_elem_dtype(m->value_type);
}

void ml_io_info_from_type(const Onnx__TypeProto *tp, ml_arena *arena, ml_io_info *info,
                          bool *optional) {
    info->kind = ML_VALUE_TENSOR;
    info->elem_kind = ML_VALUE_NONE;
    info->dtype = ML_UNDEFINED;
    info->key_dtype = ML_UNDEFINED;
    info->rank = -1;
    *optional = false;
    for (int depth = 0; tp && depth < 8; depth++) {
        switch (tp->value_case) {
        case ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE:
            tensor_type_info(tp->tensor_type, arena, info);
            return;
        case ONNX__TYPE_PROTO__VALUE_SPARSE_TENSOR_TYPE:
            info->dtype = tp->sparse_tensor_type->has_elem_type &&
                                  ml_dtype_valid(tp->sparse_tensor_type->elem_type)
                              ? (ml_dtype)tp->sparse_tensor_type->elem_type
                              : ML_UNDEFINED;
            return;
        case ONNX__TYPE_PROTO__VALUE_SEQUENCE_TYPE: {
            info->kind = ML_VALUE_SEQUENCE;
            const Onnx__TypeProto *e = tp->sequence_type->elem_type;
            if (e && e->value_case == ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE) {
                info->elem_kind = ML_VALUE_TENSOR;
                info->dtype = tensor_elem_dtype(e);
            } else if (e && e->value_case == ONNX__TYPE_PROTO__VALUE_MAP_TYPE) {
                info->elem_kind = ML_VALUE_MAP;
                map_type_info(e->map_type, info);
            }
            return;
        }
        case ONNX__TYPE_PROTO__VALUE_MAP_TYPE:
            info->kind = ML_VALUE_MAP;
            map_type_info(tp->map_type, info);
            return;
        case ONNX__TYPE_PROTO__VALUE_OPTIONAL_TYPE:
            *optional = true;
            tp = tp->optional_type->elem_type;
            continue;
        default:
            return;
        }
    }
}

/* ---- test-data containers ---- */

static ml_status value_from_tensor_proto(const Onnx__TensorProto *tp, ml_value **out) {
    ml_tensor *t;
    ML_TRY(ml_tensor_from_proto(tp, NULL, &t));
    return ml_value_from_tensor(t, out);
}

static ml_status value_from_sequence(const Onnx__SequenceProto *sp, int depth, ml_value **out);

static ml_status value_from_optional(const Onnx__OptionalProto *op, int depth, ml_value **out) {
    if (depth > 16) return ml_error(ML_ERR_INVALID_ARGUMENT, "optional nested too deeply");
    if (op->tensor_value) return value_from_tensor_proto(op->tensor_value, out);
    if (op->sequence_value) return value_from_sequence(op->sequence_value, depth + 1, out);
    if (op->optional_value) return value_from_optional(op->optional_value, depth + 1, out);
    if (op->sparse_tensor_value) {
        ml_tensor *t;
        ML_TRY(ml_tensor_from_sparse(op->sparse_tensor_value, NULL, &t));
        return ml_value_from_tensor(t, out);
    }
    return ml_value_new_none(out);
}

static ml_status value_from_sequence(const Onnx__SequenceProto *sp, int depth, ml_value **out) {
    *out = NULL;
    if (depth > 16) return ml_error(ML_ERR_INVALID_ARGUMENT, "sequence nested too deeply");
    ml_value *seq;
    ML_TRY(ml_value_new_sequence(ML_UNDEFINED, &seq));
    ml_status st = ML_STATUS_OK;
    for (size_t i = 0; !st && i < sp->n_tensor_values; i++) {
        ml_value *item;
        st = value_from_tensor_proto(sp->tensor_values[i], &item);
        if (!st) st = ml_value_sequence_append(seq, item);
    }
    for (size_t i = 0; !st && i < sp->n_sequence_values; i++) {
        ml_value *item;
        st = value_from_sequence(sp->sequence_values[i], depth + 1, &item);
        if (!st) st = ml_value_sequence_append(seq, item);
    }
    for (size_t i = 0; !st && i < sp->n_optional_values; i++) {
        ml_value *item;
        st = value_from_optional(sp->optional_values[i], depth + 1, &item);
        if (!st) st = ml_value_sequence_append(seq, item);
    }
    if (st) {
        ml_value_free(seq);
        return st;
    }
    *out = seq;
    return ML_STATUS_OK;
}

static ml_status parse_fail(const char *what) {
    return ml_error(ML_ERR_INVALID_ARGUMENT, "cannot parse %s: the file is truncated or not a %s",
                    what, what);
}

ml_status ml_onnx_parse_tensor_pb(const void *bytes, size_t len, ml_value **out) {
    *out = NULL;
    Onnx__TensorProto *tp = onnx__tensor_proto__unpack(NULL, len, bytes);
    if (!tp) return parse_fail("TensorProto");
    ml_status st = value_from_tensor_proto(tp, out);
    onnx__tensor_proto__free_unpacked(tp, NULL);
    return st;
}

ml_status ml_onnx_parse_sequence_pb(const void *bytes, size_t len, ml_value **out) {
    *out = NULL;
    Onnx__SequenceProto *sp = onnx__sequence_proto__unpack(NULL, len, bytes);
    if (!sp) return parse_fail("SequenceProto");
    ml_status st = value_from_sequence(sp, 0, out);
    if (!st && sp->has_elem_type == 0 && (*out)->n_items == 0) (*out)->elem_dtype = ML_UNDEFINED;
    onnx__sequence_proto__free_unpacked(sp, NULL);
    return st;
}

ml_status ml_onnx_parse_optional_pb(const void *bytes, size_t len, ml_value **out) {
    *out = NULL;
    Onnx__OptionalProto *op = onnx__optional_proto__unpack(NULL, len, bytes);
    if (!op) return parse_fail("OptionalProto");
    ml_status st = value_from_optional(op, 0, out);
    onnx__optional_proto__free_unpacked(op, NULL);
    return st;
}
