#include "model_builder.h"

#include <stdlib.h>
#include <string.h>

#include "onnx.pb-c.h"

/* Every allocation is recorded in the root builder's pool and freed at once. */
typedef struct pool {
    size_t n, cap;
    void **ptrs;
} pool;

struct mb_model {
    pool *mem;
    int is_root;
    Onnx__ModelProto model;
    Onnx__GraphProto graph;
    Onnx__NodeProto *last;
};

static void *alloc(pool *p, size_t size) {
    void *x = calloc(1, size ? size : 1);
    if (!x) abort();
    if (p->n == p->cap) {
        p->cap = p->cap ? p->cap * 2 : 64;
        p->ptrs = realloc(p->ptrs, p->cap * sizeof *p->ptrs);
        if (!p->ptrs) abort();
    }
    p->ptrs[p->n++] = x;
    return x;
}

static char *dup(pool *p, const char *s) {
    char *d = alloc(p, strlen(s) + 1);
    memcpy(d, s, strlen(s) + 1);
    return d;
}

/* Appends one pointer to a protobuf-c repeated field (n, array). */
#define PUSH(p, n, arr, item)                                                                      \
    do {                                                                                           \
        void *grown_ = alloc((p), ((n) + 1) * sizeof *(arr));                                      \
        if (n) memcpy(grown_, (arr), (n) * sizeof *(arr));                                         \
        (arr) = grown_;                                                                            \
        (arr)[(n)++] = (item);                                                                     \
    } while (0)

static void add_opset(mb_model *b, const char *domain, int version) {
    Onnx__OperatorSetIdProto *o = alloc(b->mem, sizeof *o);
    onnx__operator_set_id_proto__init(o);
    o->domain = dup(b->mem, domain);
    o->has_version = 1;
    o->version = version;
    PUSH(b->mem, b->model.n_opset_import, b->model.opset_import, o);
}

mb_model *mb_new(int opset) {
    mb_model *b = calloc(1, sizeof *b);
    b->mem = calloc(1, sizeof *b->mem);
    b->is_root = 1;
    onnx__model_proto__init(&b->model);
    onnx__graph_proto__init(&b->graph);
    b->model.has_ir_version = 1;
    b->model.ir_version = 8;
    b->model.graph = &b->graph;
    b->graph.name = "test";
    add_opset(b, "", opset);
    return b;
}

mb_model *mb_sub(mb_model *parent, const char *name) {
    mb_model *b = alloc(parent->mem, sizeof *b);
    b->mem = parent->mem;
    onnx__graph_proto__init(&b->graph);
    b->graph.name = dup(b->mem, name);
    return b;
}

void mb_free(mb_model *b) {
    if (!b || !b->is_root) return;
    for (size_t i = 0; i < b->mem->n; i++) free(b->mem->ptrs[i]);
    free(b->mem->ptrs);
    free(b->mem);
    free(b);
}

void mb_opset(mb_model *b, const char *domain, int version) {
    add_opset(b, domain, version);
}

static Onnx__ValueInfoProto *value_info(mb_model *b, const char *name, int dtype, int rank,
                                        const int64_t *dims) {
    Onnx__ValueInfoProto *vi = alloc(b->mem, sizeof *vi);
    onnx__value_info_proto__init(vi);
    vi->name = dup(b->mem, name);
    Onnx__TypeProto *tp = alloc(b->mem, sizeof *tp);
    onnx__type_proto__init(tp);
    Onnx__TypeProto__Tensor *tt = alloc(b->mem, sizeof *tt);
    onnx__type_proto__tensor__init(tt);
    tt->has_elem_type = 1;
    tt->elem_type = dtype;
    if (rank >= 0) {
        Onnx__TensorShapeProto *sh = alloc(b->mem, sizeof *sh);
        onnx__tensor_shape_proto__init(sh);
        for (int i = 0; i < rank; i++) {
            Onnx__TensorShapeProto__Dimension *d = alloc(b->mem, sizeof *d);
            onnx__tensor_shape_proto__dimension__init(d);
            if (dims[i] >= 0) {
                d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
                d->dim_value = dims[i];
            } else {
                d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
                d->dim_param = dup(b->mem, "N");
            }
            PUSH(b->mem, sh->n_dim, sh->dim, d);
        }
        tt->shape = sh;
    }
    tp->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    tp->tensor_type = tt;
    vi->type = tp;
    return vi;
}

void mb_input(mb_model *b, const char *name, int dtype, int rank, const int64_t *dims) {
    PUSH(b->mem, b->graph.n_input, b->graph.input, value_info(b, name, dtype, rank, dims));
}

void mb_output(mb_model *b, const char *name, int dtype) {
    PUSH(b->mem, b->graph.n_output, b->graph.output, value_info(b, name, dtype, -1, NULL));
}

static Onnx__TensorProto *tensor(mb_model *b, const char *name, int dtype, int rank,
                                 const int64_t *dims) {
    Onnx__TensorProto *t = alloc(b->mem, sizeof *t);
    onnx__tensor_proto__init(t);
    t->name = dup(b->mem, name);
    t->has_data_type = 1;
    t->data_type = dtype;
    t->n_dims = (size_t)rank;
    t->dims = alloc(b->mem, sizeof(int64_t) * (size_t)(rank ? rank : 1));
    if (rank) memcpy(t->dims, dims, sizeof(int64_t) * (size_t)rank);
    return t;
}

static size_t numel(int rank, const int64_t *dims) {
    size_t n = 1;
    for (int i = 0; i < rank; i++) n *= (size_t)dims[i];
    return n;
}

void mb_init_raw(mb_model *b, const char *name, int dtype, int rank, const int64_t *dims,
                 const void *raw, size_t raw_len) {
    Onnx__TensorProto *t = tensor(b, name, dtype, rank, dims);
    t->has_raw_data = 1;
    t->raw_data.len = raw_len;
    t->raw_data.data = alloc(b->mem, raw_len);
    if (raw_len) memcpy(t->raw_data.data, raw, raw_len);
    PUSH(b->mem, b->graph.n_initializer, b->graph.initializer, t);
}

void mb_init_f32(mb_model *b, const char *name, int rank, const int64_t *dims, const float *data,
                 int typed) {
    size_t n = numel(rank, dims);
    if (!typed) {
        mb_init_raw(b, name, 1, rank, dims, data, n * sizeof(float));
        return;
    }
    Onnx__TensorProto *t = tensor(b, name, 1, rank, dims);
    t->n_float_data = n;
    t->float_data = alloc(b->mem, n * sizeof(float));
    memcpy(t->float_data, data, n * sizeof(float));
    PUSH(b->mem, b->graph.n_initializer, b->graph.initializer, t);
}

static Onnx__StringStringEntryProto *entry(mb_model *b, const char *k, const char *v) {
    Onnx__StringStringEntryProto *e = alloc(b->mem, sizeof *e);
    onnx__string_string_entry_proto__init(e);
    e->key = dup(b->mem, k);
    e->value = dup(b->mem, v);
    return e;
}

void mb_init_external(mb_model *b, const char *name, int rank, const int64_t *dims,
                      const char *location, const char *offset, const char *length) {
    Onnx__TensorProto *t = tensor(b, name, 1, rank, dims);
    t->has_data_location = 1;
    t->data_location = ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL;
    PUSH(b->mem, t->n_external_data, t->external_data, entry(b, "location", location));
    if (offset) PUSH(b->mem, t->n_external_data, t->external_data, entry(b, "offset", offset));
    if (length) PUSH(b->mem, t->n_external_data, t->external_data, entry(b, "length", length));
    PUSH(b->mem, b->graph.n_initializer, b->graph.initializer, t);
}

void mb_sparse_init_f32(mb_model *b, const char *name, int rank, const int64_t *dims, size_t nnz,
                        const int64_t *indices, const float *values) {
    Onnx__SparseTensorProto *sp = alloc(b->mem, sizeof *sp);
    onnx__sparse_tensor_proto__init(sp);
    int64_t n = (int64_t)nnz;
    sp->values = tensor(b, name, 1, 1, &n);
    sp->values->n_float_data = nnz;
    sp->values->float_data = alloc(b->mem, nnz * sizeof(float));
    memcpy(sp->values->float_data, values, nnz * sizeof(float));
    sp->indices = tensor(b, "", 7, 1, &n);
    sp->indices->n_int64_data = nnz;
    sp->indices->int64_data = alloc(b->mem, nnz * sizeof(int64_t));
    memcpy(sp->indices->int64_data, indices, nnz * sizeof(int64_t));
    sp->n_dims = (size_t)rank;
    sp->dims = alloc(b->mem, sizeof(int64_t) * (size_t)rank);
    memcpy(sp->dims, dims, sizeof(int64_t) * (size_t)rank);
    PUSH(b->mem, b->graph.n_sparse_initializer, b->graph.sparse_initializer, sp);
}

static void split_names(mb_model *b, const char *csv, size_t *n, char ***out) {
    *n = 0;
    *out = NULL;
    if (!csv || !*csv) return;
    const char *p = csv;
    for (;;) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        char *s = alloc(b->mem, len + 1);
        memcpy(s, p, len);
        PUSH(b->mem, *n, *out, s);
        if (!e) break;
        p = e + 1;
    }
}

void mb_node(mb_model *b, const char *op_type, const char *inputs, const char *outputs) {
    Onnx__NodeProto *n = alloc(b->mem, sizeof *n);
    onnx__node_proto__init(n);
    n->op_type = dup(b->mem, op_type);
    n->name = dup(b->mem, op_type);
    split_names(b, inputs, &n->n_input, &n->input);
    split_names(b, outputs, &n->n_output, &n->output);
    PUSH(b->mem, b->graph.n_node, b->graph.node, n);
    b->last = n;
}

void mb_node_domain(mb_model *b, const char *domain) {
    b->last->domain = dup(b->mem, domain);
}

static Onnx__AttributeProto *attr(mb_model *b, const char *name, int type) {
    Onnx__AttributeProto *a = alloc(b->mem, sizeof *a);
    onnx__attribute_proto__init(a);
    a->name = dup(b->mem, name);
    a->has_type = 1;
    a->type = (Onnx__AttributeProto__AttributeType)type;
    PUSH(b->mem, b->last->n_attribute, b->last->attribute, a);
    return a;
}

void mb_attr_int(mb_model *b, const char *name, int64_t v) {
    Onnx__AttributeProto *a = attr(b, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT);
    a->has_i = 1;
    a->i = v;
}

void mb_attr_float(mb_model *b, const char *name, float v) {
    Onnx__AttributeProto *a = attr(b, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT);
    a->has_f = 1;
    a->f = v;
}

void mb_attr_ints(mb_model *b, const char *name, const int64_t *v, size_t n) {
    Onnx__AttributeProto *a = attr(b, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS);
    a->n_ints = n;
    a->ints = alloc(b->mem, n * sizeof(int64_t));
    memcpy(a->ints, v, n * sizeof(int64_t));
}

void mb_attr_graph(mb_model *b, const char *name, mb_model *sub) {
    Onnx__AttributeProto *a = attr(b, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__GRAPH);
    a->g = &sub->graph;
}

void mb_attr_ref(mb_model *b, const char *name, int type, const char *ref_attr_name) {
    Onnx__AttributeProto *a = attr(b, name, type);
    a->ref_attr_name = dup(b->mem, ref_attr_name);
}

void mb_function(mb_model *b, const char *domain, const char *name, const char *inputs,
                 const char *outputs, const char *attrs, mb_model *fn) {
    Onnx__FunctionProto *f = alloc(b->mem, sizeof *f);
    onnx__function_proto__init(f);
    f->name = dup(b->mem, name);
    f->domain = dup(b->mem, domain);
    split_names(b, inputs, &f->n_input, &f->input);
    split_names(b, outputs, &f->n_output, &f->output);
    split_names(b, attrs, &f->n_attribute, &f->attribute);
    f->n_node = fn->graph.n_node;
    f->node = fn->graph.node;
    f->n_opset_import = b->model.n_opset_import;
    f->opset_import = b->model.opset_import;
    PUSH(b->mem, b->model.n_functions, b->model.functions, f);
}

void mb_function_default_float(mb_model *b, const char *name, float v) {
    Onnx__FunctionProto *f = b->model.functions[b->model.n_functions - 1];
    Onnx__AttributeProto a;
    onnx__attribute_proto__init(&a);
    a.name = (char *)name;
    a.has_type = 1;
    a.type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT;
    a.has_f = 1;
    a.f = v;
    /* protobuf-c writes an unknown field's bytes as they are: they must start
     * with the length prefix (one varint byte is enough here) */
    size_t body = onnx__attribute_proto__get_packed_size(&a), len = body + 1;
    uint8_t *buf = alloc(b->mem, len);
    buf[0] = (uint8_t)body;
    onnx__attribute_proto__pack(&a, buf + 1);
    unsigned n = f->base.n_unknown_fields;
    ProtobufCMessageUnknownField *u = alloc(b->mem, (n + 1) * sizeof *u);
    if (n) memcpy(u, f->base.unknown_fields, n * sizeof *u);
    u[n] = (ProtobufCMessageUnknownField){11, PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED, len, buf};
    f->base.unknown_fields = u;
    f->base.n_unknown_fields = n + 1;
}

uint8_t *mb_serialize(mb_model *b, size_t *len) {
    *len = onnx__model_proto__get_packed_size(&b->model);
    uint8_t *out = malloc(*len ? *len : 1);
    if (out) onnx__model_proto__pack(&b->model, out);
    return out;
}

uint8_t *mb_add_model(size_t *len) {
    mb_model *b = mb_new(13);
    int64_t xd[2] = {-1, 3}, wd[2] = {1, 3};
    float w[3] = {1, 2, 3};
    mb_input(b, "X", 1, 2, xd);
    mb_input(b, "W", 1, 2, wd);
    mb_init_f32(b, "W", 2, wd, w, 0);
    mb_node(b, "Add", "X,W", "Y");
    mb_output(b, "Y", 1);
    uint8_t *bytes = mb_serialize(b, len);
    mb_free(b);
    return bytes;
}
