/* ModelProto -> ml_model. Every name, attribute and tensor is copied from the
 * protobuf tree into the model (arena or owned tensors), and the tree is freed
 * before returning (weight buffers as soon as they are copied), so kernels
 * never see protobuf.
 * Node collection and function inlining live in loader_nodes.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "onnx/loader_internal.h"

static ml_status keep_tensor(ml_model *m, ml_tensor *t) {
    if (m->n_tensors == m->cap_tensors) {
        size_t cap = m->cap_tensors ? m->cap_tensors * 2 : 16;
        ml_tensor **ts = realloc(m->tensors, cap * sizeof *ts);
        if (!ts) {
            ml_tensor_free(t);
            return oom("tensor list");
        }
        m->tensors = ts;
        m->cap_tensors = cap;
    }
    m->tensors[m->n_tensors++] = t;
    return ML_STATUS_OK;
}

/* ---- attributes ---- */

static ml_status build_graph(load_ctx *lc, const Onnx__GraphProto *gp, ml_graph *parent, int depth,
                             const fn_scope *scope, ml_graph **out);

static ml_attr_type infer_attr_type(const Onnx__AttributeProto *a) {
    if (a->has_type && a->type != ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__UNDEFINED)
        return (ml_attr_type)a->type;
    /* very old models leave the type out: infer it from the field present */
    if (a->has_f) return ML_ATTR_FLOAT;
    if (a->has_i) return ML_ATTR_INT;
    if (a->has_s) return ML_ATTR_STRING;
    if (a->t) return ML_ATTR_TENSOR;
    if (a->g) return ML_ATTR_GRAPH;
    if (a->sparse_tensor) return ML_ATTR_SPARSE_TENSOR;
    if (a->n_floats) return ML_ATTR_FLOATS;
    if (a->n_ints) return ML_ATTR_INTS;
    if (a->n_strings) return ML_ATTR_STRINGS;
    if (a->n_tensors) return ML_ATTR_TENSORS;
    if (a->n_graphs) return ML_ATTR_GRAPHS;
    return ML_ATTR_UNDEFINED;
}

static int type_proto_elem(const Onnx__TypeProto *tp) {
    for (int d = 0; tp && d < 8; d++) {
        switch (tp->value_case) {
        case ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE:
            return tp->tensor_type->elem_type;
        case ONNX__TYPE_PROTO__VALUE_SEQUENCE_TYPE:
            tp = tp->sequence_type->elem_type;
            break;
        case ONNX__TYPE_PROTO__VALUE_OPTIONAL_TYPE:
            tp = tp->optional_type->elem_type;
            break;
        default:
            return 0;
        }
    }
    return 0;
}

/* scope: the inlined function call the node comes from, or NULL. */
static ml_status convert_attr(load_ctx *lc, ml_graph *g, const raw_attr *ra, int depth,
                              const fn_scope *scope, ml_attr *out) {
    ml_model *m = lc->m;
    const Onnx__AttributeProto *a = ra->a;
    memset(out, 0, sizeof *out);
    out->name = arena_str(m, ra->name);
    if (!out->name) return oom("attribute");
    out->type = infer_attr_type(a);
    switch (out->type) {
    case ML_ATTR_FLOAT:
        out->f = a->f;
        break;
    case ML_ATTR_INT:
        out->i = a->i;
        break;
    case ML_ATTR_STRING:
        out->s.len = a->s.len;
        out->s.data =
            ml_arena_strndup(&m->arena, a->s.len ? (const char *)a->s.data : "", a->s.len);
        if (!out->s.data) return oom("attribute");
        break;
    case ML_ATTR_TENSOR:
        if (!a->t)
            return ml_error(ML_ERR_INVALID_ARGUMENT, "attribute '%s' has no tensor", ra->name);
        ML_TRY(ml_tensor_from_proto(a->t, &lc->src, &out->t));
        ML_TRY(keep_tensor(m, out->t));
        break;
    case ML_ATTR_SPARSE_TENSOR:
        if (!a->sparse_tensor)
            return ml_error(ML_ERR_INVALID_ARGUMENT, "attribute '%s' has no sparse tensor",
                            ra->name);
        ML_TRY(ml_tensor_from_sparse(a->sparse_tensor, &lc->src, &out->t));
        ML_TRY(keep_tensor(m, out->t));
        out->type = ML_ATTR_TENSOR; /* densified */
        break;
    case ML_ATTR_GRAPH:
        if (!a->g)
            return ml_error(ML_ERR_INVALID_ARGUMENT, "attribute '%s' has no graph", ra->name);
        ML_TRY(build_graph(lc, a->g, g, depth + 1, scope, &out->g));
        break;
    case ML_ATTR_FLOATS:
        out->n = a->n_floats;
        out->floats = arena_array(m, a->n_floats, sizeof(float));
        if (!out->floats) return oom("attribute");
        if (a->n_floats) memcpy(out->floats, a->floats, a->n_floats * sizeof(float));
        break;
    case ML_ATTR_INTS:
        out->n = a->n_ints;
        out->ints = arena_array(m, a->n_ints, sizeof(int64_t));
        if (!out->ints) return oom("attribute");
        if (a->n_ints) memcpy(out->ints, a->ints, a->n_ints * sizeof(int64_t));
        break;
    case ML_ATTR_STRINGS:
        out->n = a->n_strings;
        out->strings = arena_array(m, a->n_strings, sizeof(ml_str));
        if (!out->strings) return oom("attribute");
        for (size_t i = 0; i < a->n_strings; i++) {
            out->strings[i].len = a->strings[i].len;
            out->strings[i].data = ml_arena_strndup(
                &m->arena, a->strings[i].len ? (const char *)a->strings[i].data : "",
                a->strings[i].len);
            if (!out->strings[i].data) return oom("attribute");
        }
        break;
    case ML_ATTR_TENSORS:
        out->n = a->n_tensors;
        out->tensors = arena_array(m, a->n_tensors, sizeof(ml_tensor *));
        if (!out->tensors) return oom("attribute");
        for (size_t i = 0; i < a->n_tensors; i++) {
            ML_TRY(ml_tensor_from_proto(a->tensors[i], &lc->src, &out->tensors[i]));
            ML_TRY(keep_tensor(m, out->tensors[i]));
        }
        break;
    case ML_ATTR_SPARSE_TENSORS:
        out->n = a->n_sparse_tensors;
        out->tensors = arena_array(m, a->n_sparse_tensors, sizeof(ml_tensor *));
        if (!out->tensors) return oom("attribute");
        for (size_t i = 0; i < a->n_sparse_tensors; i++) {
            ML_TRY(ml_tensor_from_sparse(a->sparse_tensors[i], &lc->src, &out->tensors[i]));
            ML_TRY(keep_tensor(m, out->tensors[i]));
        }
        out->type = ML_ATTR_TENSORS;
        break;
    case ML_ATTR_GRAPHS:
        out->n = a->n_graphs;
        out->graphs = arena_array(m, a->n_graphs, sizeof(ml_graph *));
        if (!out->graphs) return oom("attribute");
        for (size_t i = 0; i < a->n_graphs; i++)
            ML_TRY(build_graph(lc, a->graphs[i], g, depth + 1, scope, &out->graphs[i]));
        break;
    case ML_ATTR_TYPE_PROTO:
        /* kernels only need the element type (Optional's "type") */
        out->i = type_proto_elem(a->tp);
        break;
    case ML_ATTR_TYPE_PROTOS:
    case ML_ATTR_UNDEFINED:
    default:
        break;
    }
    return ML_STATUS_OK;
}

/* ---- Constant nodes become constant slots ---- */

static ml_status constant_value(load_ctx *lc, ml_graph *g, const raw_node *rn, ml_tensor **out) {
    *out = NULL;
    if (rn->n_attr != 1)
        return ml_error(ML_ERR_INVALID_ARGUMENT, "Constant node '%s' needs exactly one attribute",
                        rn->name);
    ml_attr a;
    ML_TRY(convert_attr(lc, g, &rn->attrs[0], 0, rn->scope, &a));
    const char *n = a.name;
    int64_t scalar_dims[1] = {0};
    ml_tensor *t = NULL;
    if ((strcmp(n, "value") == 0 || strcmp(n, "sparse_value") == 0) && a.type == ML_ATTR_TENSOR) {
        return ml_tensor_view(a.t, a.t->rank, a.t->dims, out);
    } else if (strcmp(n, "value_float") == 0 && a.type == ML_ATTR_FLOAT) {
        ML_TRY(ml_tensor_create(ML_FLOAT, 0, NULL, &t));
        *(float *)t->data = a.f;
    } else if (strcmp(n, "value_int") == 0 && a.type == ML_ATTR_INT) {
        ML_TRY(ml_tensor_create(ML_INT64, 0, NULL, &t));
        *(int64_t *)t->data = a.i;
    } else if (strcmp(n, "value_string") == 0 && a.type == ML_ATTR_STRING) {
        ML_TRY(ml_tensor_create(ML_STRING, 0, NULL, &t));
        ml_status st = ml_tensor_set_string(t, 0, a.s.data, a.s.len);
        if (st) {
            ml_tensor_free(t);
            return st;
        }
    } else if (strcmp(n, "value_floats") == 0 && a.type == ML_ATTR_FLOATS) {
        scalar_dims[0] = (int64_t)a.n;
        ML_TRY(ml_tensor_create(ML_FLOAT, 1, scalar_dims, &t));
        if (a.n) memcpy(t->data, a.floats, a.n * sizeof(float));
    } else if (strcmp(n, "value_ints") == 0 && a.type == ML_ATTR_INTS) {
        scalar_dims[0] = (int64_t)a.n;
        ML_TRY(ml_tensor_create(ML_INT64, 1, scalar_dims, &t));
        if (a.n) memcpy(t->data, a.ints, a.n * sizeof(int64_t));
    } else if (strcmp(n, "value_strings") == 0 && a.type == ML_ATTR_STRINGS) {
        scalar_dims[0] = (int64_t)a.n;
        ML_TRY(ml_tensor_create(ML_STRING, 1, scalar_dims, &t));
        for (size_t i = 0; i < a.n; i++) {
            ml_status st = ml_tensor_set_string(t, i, a.strings[i].data, a.strings[i].len);
            if (st) {
                ml_tensor_free(t);
                return st;
            }
        }
    } else {
        return ml_error(ML_ERR_UNSUPPORTED, "Constant node '%s': attribute '%s' is not supported",
                        rn->name, n);
    }
    *out = t;
    return ML_STATUS_OK;
}

static ml_status add_const_slot(ml_graph *g, const char *name, ml_tensor *t) {
    ml_value *v;
    ML_TRY(ml_value_from_tensor(t, &v));
    int s;
    ml_status st = ml_graph_add_slot(g, name, ML_SLOT_CONST, &s);
    if (st) {
        ml_value_free(v);
        return st;
    }
    g->slots[s].value = v;
    return ML_STATUS_OK;
}

/* ---- graphs ---- */

static ml_status io_infos(load_ctx *lc, Onnx__ValueInfoProto *const *vis, const int *slots,
                          size_t n, const ml_graph *g, ml_io_info **info, bool **optional) {
    *info = arena_array(lc->m, n, sizeof(ml_io_info));
    *optional = arena_array(lc->m, n, sizeof(bool));
    if (!*info || !*optional) return oom("graph inputs");
    for (size_t i = 0; i < n; i++) {
        ml_io_info *io = &(*info)[i];
        io->rank = -1;
        if (vis[i]->type) ml_io_info_from_type(vis[i]->type, &lc->m->arena, io, &(*optional)[i]);
        io->name = g->slots[slots[i]].name;
    }
    return ML_STATUS_OK;
}

static ml_status resolve_input(ml_graph *g, const raw_node *rn, const char *name, int *out) {
    *out = -1;
    if (!*name) return ML_STATUS_OK;
    int s = ml_graph_resolve(g, name);
    if (s < 0)
        return ml_error(ML_ERR_INVALID_ARGUMENT,
                        "node '%s' (%s) reads '%s', which is not a graph input, initializer or "
                        "output of any node",
                        rn->name, rn->op_type, name);
    *out = s;
    return ML_STATUS_OK;
}

/* Kernels cannot see a body graph's declared types, yet a Loop, Scan or
 * SequenceMap that runs zero times must still return outputs of the right
 * dtype (and shape). The
 * loader hands them over as an extra INTS attribute "mlambda.body_output_types"
 * (a name no ONNX attribute has; read by control.c): for each body output,
 * dtype, rank (-1 unknown) and the dims (-1 unknown). */
static ml_status add_body_output_types(ml_model *m, ml_node *n) {
    if (n->domain[0] || (strcmp(n->op_type, "Loop") != 0 && strcmp(n->op_type, "Scan") != 0 &&
                         strcmp(n->op_type, "SequenceMap") != 0))
        return ML_STATUS_OK;
    const ml_graph *body = ml_attr_graph(n, "body");
    if (!body) return ML_STATUS_OK;
    size_t count = 0;
    for (size_t i = 0; i < body->n_outputs; i++)
        count += 2 + (size_t)(body->output_info[i].rank > 0 ? body->output_info[i].rank : 0);
    int64_t *v = arena_array(m, count, sizeof(int64_t));
    if (!v) return oom("node");
    size_t k = 0;
    for (size_t i = 0; i < body->n_outputs; i++) {
        const ml_io_info *io = &body->output_info[i];
        v[k++] = io->dtype;
        v[k++] = io->rank;
        for (int d = 0; d < io->rank; d++) v[k++] = io->dims[d];
    }
    n->attrs[n->n_attrs++] =
        (ml_attr){.name = "mlambda.body_output_types", .type = ML_ATTR_INTS, .n = count, .ints = v};
    return ML_STATUS_OK;
}

static ml_status build_node(load_ctx *lc, ml_graph *g, const raw_node *rn, int depth,
                            ml_exec_node *en) {
    ml_model *m = lc->m;
    ml_node *n = &en->node;
    n->name = arena_str(m, rn->name);
    n->op_type = arena_str(m, rn->op_type);
    n->domain = arena_str(m, strcmp(rn->domain, "ai.onnx") == 0 ? "" : rn->domain);
    if (!n->name || !n->op_type || !n->domain) return oom("node");
    n->opset = rn->opset;
    if (n->opset <= 0)
        return ml_error(ML_ERR_INVALID_ARGUMENT,
                        "node '%s' (%s) uses domain '%s', which the model does not import "
                        "(opset_import)",
                        rn->name, rn->op_type, rn->domain);
    n->kernel = ml_find_kernel(n->domain, n->op_type, n->opset);
    if (!n->kernel)
        return ml_error(ML_ERR_UNSUPPORTED, "op %s (domain '%s', opset %d) is not supported",
                        n->op_type, n->domain[0] ? n->domain : "ai.onnx", n->opset);
    n->n_inputs = rn->n_in;
    n->n_outputs = rn->n_out;
    n->input_names = arena_array(m, rn->n_in, sizeof(char *));
    n->output_names = arena_array(m, rn->n_out, sizeof(char *));
    n->const_inputs = arena_array(m, rn->n_in, sizeof(ml_tensor *));
    en->in_slots = arena_array(m, rn->n_in, sizeof(int));
    en->out_slots = arena_array(m, rn->n_out, sizeof(int));
    n->attrs = arena_array(m, rn->n_attr + 1, sizeof(ml_attr)); /* +1: body_output_types */
    if (!n->input_names || !n->output_names || !n->const_inputs || !en->in_slots ||
        !en->out_slots || !n->attrs)
        return oom("node");
    for (size_t i = 0; i < rn->n_out; i++) {
        en->out_slots[i] = *rn->out[i] ? ml_graph_find(g, rn->out[i]) : -1;
        n->output_names[i] = en->out_slots[i] >= 0 ? g->slots[en->out_slots[i]].name : "";
    }
    /* attributes first: building subgraphs may add outer slots to g */
    n->n_attrs = rn->n_attr;
    for (size_t i = 0; i < rn->n_attr; i++) {
        ml_status st = convert_attr(lc, g, &rn->attrs[i], depth, rn->scope, &n->attrs[i]);
        if (st) return ml_status_wrap(st, "node '%s' (%s)", rn->name, rn->op_type);
    }
    ML_TRY(add_body_output_types(m, n));
    for (size_t i = 0; i < rn->n_in; i++) {
        ML_TRY(resolve_input(g, rn, rn->in[i], &en->in_slots[i]));
        n->input_names[i] = en->in_slots[i] >= 0 ? g->slots[en->in_slots[i]].name : "";
    }
    /* implicit inputs: the outer values every subgraph of this node reads */
    size_t n_impl = 0;
    for (int pass = 0; pass < 2; pass++) {
        size_t k = 0;
        for (size_t i = 0; i < n->n_attrs; i++) {
            const ml_attr *a = &n->attrs[i];
            size_t ng = a->type == ML_ATTR_GRAPH ? 1 : a->type == ML_ATTR_GRAPHS ? a->n : 0;
            for (size_t j = 0; j < ng; j++) {
                const ml_graph *sub = a->type == ML_ATTR_GRAPH ? a->g : a->graphs[j];
                for (size_t o = 0; o < sub->n_outer; o++) {
                    if (pass == 1)
                        en->implicit_slots[k] = sub->slots[sub->outer_slots[o]].parent_slot;
                    k++;
                }
            }
        }
        if (pass == 0) {
            n_impl = k;
            en->implicit_slots = arena_array(m, n_impl, sizeof(int));
            if (!en->implicit_slots) return oom("node");
        }
    }
    en->n_implicit = n_impl;
    return ML_STATUS_OK;
}

static ml_status build_graph(load_ctx *lc, const Onnx__GraphProto *gp, ml_graph *parent, int depth,
                             const fn_scope *scope, ml_graph **out) {
    *out = NULL;
    if (depth > MAX_GRAPH_DEPTH)
        return ml_error(ML_ERR_INVALID_ARGUMENT, "subgraphs are nested more than %d deep",
                        MAX_GRAPH_DEPTH);
    ml_model *m = lc->m;
    ml_graph *g;
    ML_TRY(ml_graph_new(m, parent, arena_str(m, gp->name), &g));
    if (!g->name) return oom("graph");
    if (scope) {
        g->outer_name = ml_fn_scope_rename;
        g->outer_name_ctx = scope;
    }
    for (size_t i = 0; i < gp->n_initializer; i++) {
        const char *name = arena_str(m, gp->initializer[i]->name);
        if (!name) return oom("initializer");
        ml_tensor *t;
        Onnx__TensorProto *tp = gp->initializer[i];
        ML_TRY(ml_tensor_from_proto(tp, &lc->src, &t));
        ML_TRY(add_const_slot(g, name, t));
        /* drop the protobuf copy of the weights now, so loading a big model
         * peaks near one copy of its weights instead of two */
        if (tp->has_raw_data) {
            free(tp->raw_data.data);
            tp->raw_data.data = NULL;
            tp->raw_data.len = 0;
            tp->has_raw_data = 0;
        }
    }
    for (size_t i = 0; i < gp->n_sparse_initializer; i++) {
        const Onnx__SparseTensorProto *sp = gp->sparse_initializer[i];
        const char *name = arena_str(m, sp->values ? sp->values->name : "");
        if (!name) return oom("initializer");
        ml_tensor *t;
        ML_TRY(ml_tensor_from_sparse(sp, &lc->src, &t));
        ML_TRY(add_const_slot(g, name, t));
    }
    /* formal inputs; in the main graph an input that is also an initializer is
     * a constant with a default, not something callers must provide */
    Onnx__ValueInfoProto **in_vis = arena_array(m, gp->n_input, sizeof *in_vis);
    g->input_slots = arena_array(m, gp->n_input, sizeof(int));
    if (!in_vis || !g->input_slots) return oom("graph inputs");
    for (size_t i = 0; i < gp->n_input; i++) {
        const char *name = arena_str(m, gp->input[i]->name);
        if (!name) return oom("graph inputs");
        int s = ml_graph_find(g, name);
        if (s >= 0 && g->slots[s].kind == ML_SLOT_CONST && !parent) continue;
        ML_TRY(ml_graph_add_slot(g, name, ML_SLOT_INPUT, &s));
        in_vis[g->n_inputs] = gp->input[i];
        g->input_slots[g->n_inputs++] = s;
    }
    ML_TRY(
        io_infos(lc, in_vis, g->input_slots, g->n_inputs, g, &g->input_info, &g->input_optional));

    raw_list nodes = {0};
    ml_status st = ml_load_collect_nodes(lc, gp, &nodes);
    /* outputs of every node get their slot before any subgraph is built, so
     * bodies may read values produced by later nodes of this graph */
    size_t n_exec = 0;
    for (size_t k = 0; !st && k < nodes.n; k++) {
        raw_node *rn = &nodes.items[k];
        if (strcmp(rn->op_type, "Constant") == 0 &&
            (!*rn->domain || !strcmp(rn->domain, "ai.onnx"))) {
            if (rn->n_out != 1) {
                st = ml_error(ML_ERR_INVALID_ARGUMENT, "Constant node '%s' needs one output",
                              rn->name);
                break;
            }
            ml_tensor *t;
            st = constant_value(lc, g, rn, &t);
            const char *name = st ? NULL : arena_str(m, rn->out[0]);
            if (!st && !name) {
                ml_tensor_free(t);
                st = oom("constant");
            }
            if (!st) st = add_const_slot(g, name, t);
            rn->op_type = NULL; /* handled */
            continue;
        }
        for (size_t i = 0; !st && i < rn->n_out; i++) {
            if (!*rn->out[i]) continue;
            const char *name = arena_str(m, rn->out[i]);
            int s;
            st = name ? ml_graph_add_slot(g, name, ML_SLOT_NODE, &s) : oom("node outputs");
        }
        n_exec++;
    }
    if (!st) {
        g->nodes = calloc(n_exec ? n_exec : 1, sizeof *g->nodes);
        if (!g->nodes) st = oom("nodes");
    }
    for (size_t k = 0; !st && k < nodes.n; k++) {
        if (!nodes.items[k].op_type) continue;
        st = build_node(lc, g, &nodes.items[k], depth, &g->nodes[g->n_nodes]);
        if (!st) g->n_nodes++;
    }
    free(nodes.items);
    if (st) return st;

    Onnx__ValueInfoProto **out_vis = gp->output;
    g->n_outputs = gp->n_output;
    g->output_slots = arena_array(m, gp->n_output, sizeof(int));
    if (!g->output_slots) return oom("graph outputs");
    for (size_t i = 0; i < gp->n_output; i++) {
        const char *name = nz(gp->output[i]->name);
        int s = ml_graph_resolve(g, name);
        if (s < 0)
            return ml_error(ML_ERR_INVALID_ARGUMENT,
                            "graph output '%s' is not produced by any node, input or initializer",
                            name);
        g->output_slots[i] = s;
    }
    ML_TRY(io_infos(lc, out_vis, g->output_slots, g->n_outputs, g, &g->output_info,
                    &g->output_optional));
    ML_TRY(ml_graph_finalize(g));
    *out = g;
    return ML_STATUS_OK;
}

/* ---- model ---- */

/* Checks that must pass before protobuf-c sees the bytes. */
static ml_status precheck(const void *bytes, size_t len, const ml_session_options *opts) {
    uint64_t max_bytes =
        opts && opts->max_model_bytes ? opts->max_model_bytes : ((uint64_t)2 << 30);
    if (len > max_bytes)
        return ml_error(ML_ERR_RESOURCE_EXHAUSTED,
                        "the model is %zu bytes, over the limit of %llu (max_model_bytes)", len,
                        (unsigned long long)max_bytes);
    if (len == 0) return ml_error(ML_ERR_INVALID_ARGUMENT, "the model file is empty");
    /* graph -> node -> attribute -> graph is 3 levels per subgraph */
    return ml_onnx_check_nesting(bytes, len, 3 * MAX_GRAPH_DEPTH + 64);
}

ml_status ml_model_load(const void *bytes, size_t len, void *owned_bytes, const char *base_dir,
                        const ml_session_options *opts, ml_model **out) {
    *out = NULL;
    uint64_t max_bytes =
        opts && opts->max_model_bytes ? opts->max_model_bytes : ((uint64_t)2 << 30);
    ml_status pre = precheck(bytes, len, opts);
    Onnx__ModelProto *mp = pre ? NULL : onnx__model_proto__unpack(NULL, len, bytes);
    free(owned_bytes); /* everything needed is in mp now */
    if (pre) return pre;
    if (!mp)
        return ml_error(ML_ERR_INVALID_ARGUMENT,
                        "not a valid ONNX model: protobuf parsing failed (the file is truncated, "
                        "corrupt or not an .onnx file)");
    ml_status st = ML_STATUS_OK;
    ml_model *m = calloc(1, sizeof *m);
    if (!m) {
        onnx__model_proto__free_unpacked(mp, NULL);
        return oom("model");
    }
    ml_arena_init(&m->arena, 0, 0);
    m->optimization_level = opts ? opts->optimization_level : 2;
    m->max_tensor_bytes = max_bytes;
    m->ir_version = mp->ir_version;
    if (!mp->graph)
        st = ml_error(ML_ERR_INVALID_ARGUMENT, "not a valid ONNX model: it has no graph");
    if (!st) {
        m->opsets = arena_array(m, mp->n_opset_import, sizeof(ml_opset));
        if (!m->opsets) st = oom("opsets");
        for (size_t i = 0; !st && i < mp->n_opset_import; i++) {
            int64_t v = mp->opset_import[i]->version;
            if (v < 1 || v > 1000) {
                st = ml_error(ML_ERR_INVALID_ARGUMENT, "opset_import '%s' has invalid version %lld",
                              nz(mp->opset_import[i]->domain), (long long)v);
                break;
            }
            m->opsets[m->n_opsets].domain = arena_str(m, mp->opset_import[i]->domain);
            m->opsets[m->n_opsets++].version = (int)v;
        }
        /* IR version 1-2 models have no opset_import and mean ai.onnx v1 */
        if (!st && mp->n_opset_import == 0) {
            m->opsets = arena_array(m, 1, sizeof(ml_opset));
            if (!m->opsets)
                st = oom("opsets");
            else {
                m->opsets[0] = (ml_opset){"", 1};
                m->n_opsets = 1;
            }
        }
    }
    if (!st) {
        load_ctx lc = {.m = m, .mp = mp, .src = {.base_dir = base_dir, .max_bytes = max_bytes}};
        st = build_graph(&lc, mp->graph, NULL, 0, NULL, &m->main);
        for (size_t i = 0; i < lc.n_defaults; i++)
            onnx__attribute_proto__free_unpacked(lc.defaults[i], NULL);
        free(lc.defaults);
    }
    onnx__model_proto__free_unpacked(mp, NULL);
    if (st) {
        ml_model_free(m);
        return st;
    }
    *out = m;
    return ML_STATUS_OK;
}
