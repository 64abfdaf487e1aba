/* Node collection: a graph's NodeProtos become raw nodes, with every call
 * of a model-local function (FunctionProto) replaced by its body. Internal
 * names of an inlined body get a unique prefix, formal inputs/outputs become
 * the call's actual names, and attributes with ref_attr_name take the
 * caller's attribute of that name, else the function's default for it, else
 * stay unset. */
#include <stdio.h>

#include "onnx/loader_internal.h"

/* ---- node collection with function inlining ---- */

static ml_status raw_push(raw_list *l, const raw_node *n) {
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 32;
        raw_node *it = realloc(l->items, cap * sizeof *it);
        if (!it) return oom("node list");
        l->items = it;
        l->cap = cap;
    }
    l->items[l->n++] = *n;
    return ML_STATUS_OK;
}

static const Onnx__FunctionProto *find_function(const load_ctx *lc, const char *domain,
                                                const char *op_type) {
    for (size_t i = 0; i < lc->mp->n_functions; i++) {
        const Onnx__FunctionProto *f = lc->mp->functions[i];
        if (strcmp(nz(f->name), op_type) == 0 && strcmp(nz(f->domain), domain) == 0) return f;
    }
    return NULL;
}

static int function_opset(const load_ctx *lc, const Onnx__FunctionProto *f, const char *domain) {
    for (size_t i = 0; i < f->n_opset_import; i++) {
        const char *d = nz(f->opset_import[i]->domain);
        if (strcmp(d, "ai.onnx") == 0) d = "";
        if (strcmp(d, strcmp(domain, "ai.onnx") == 0 ? "" : domain) == 0)
            return (int)f->opset_import[i]->version;
    }
    return ml_model_opset(lc->m, domain);
}

static ml_status collect_node(load_ctx *lc, raw_node *rn, raw_list *out, int fdepth);

/* FunctionProto.attribute_proto (field 11: attributes with default values)
 * is newer than the onnx.proto we build against, so protobuf-c keeps it as an
 * unknown field; decode the one named `name`, or NULL. */
static const Onnx__AttributeProto *function_default(load_ctx *lc, const Onnx__FunctionProto *f,
                                                    const char *name, ml_status *st) {
    *st = ML_STATUS_OK;
    for (unsigned i = 0; i < f->base.n_unknown_fields; i++) {
        const ProtobufCMessageUnknownField *u = &f->base.unknown_fields[i];
        if (u->tag != 11 || u->wire_type != PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED) continue;
        /* protobuf-c keeps the length prefix (a varint) in front of the bytes */
        size_t pre = 0, body = 0;
        for (unsigned shift = 0; pre < u->len && shift < 64; shift += 7) {
            uint8_t byte = u->data[pre++];
            body |= (size_t)(byte & 0x7f) << shift;
            if (!(byte & 0x80)) break;
        }
        Onnx__AttributeProto *a =
            body == u->len - pre ? onnx__attribute_proto__unpack(NULL, body, u->data + pre) : NULL;
        if (!a) {
            *st = ml_error(ML_ERR_INVALID_ARGUMENT,
                           "function '%s' has a malformed attribute default", nz(f->name));
            return NULL;
        }
        if (strcmp(nz(a->name), name) != 0) {
            onnx__attribute_proto__free_unpacked(a, NULL);
            continue;
        }
        Onnx__AttributeProto **d = realloc(lc->defaults, (lc->n_defaults + 1) * sizeof *d);
        if (!d) {
            onnx__attribute_proto__free_unpacked(a, NULL);
            *st = oom("function defaults");
            return NULL;
        }
        d[lc->n_defaults++] = a;
        lc->defaults = d;
        return a;
    }
    return NULL;
}

const char *ml_fn_scope_rename(const void *scope_ptr, const char *name) {
    const fn_scope *sc = scope_ptr;
    const Onnx__FunctionProto *f = sc->f;
    if (!*name) return "";
    for (size_t i = 0; i < f->n_input; i++)
        if (strcmp(nz(f->input[i]), name) == 0) return i < sc->n_in ? sc->in[i] : "";
    for (size_t i = 0; i < f->n_output; i++)
        if (strcmp(nz(f->output[i]), name) == 0) return i < sc->n_out ? sc->out[i] : "";
    size_t pl = strlen(sc->prefix), nl = strlen(name);
    char *s = ml_arena_alloc(&sc->m->arena, pl + nl + 1, 1);
    if (!s) return NULL;
    memcpy(s, sc->prefix, pl);
    memcpy(s + pl, name, nl + 1);
    return s;
}

static ml_status inline_function(load_ctx *lc, const Onnx__FunctionProto *f, const raw_node *call,
                                 raw_list *out, int fdepth) {
    if (fdepth > MAX_FUNCTION_DEPTH)
        return ml_error(ML_ERR_INVALID_ARGUMENT,
                        "function '%s' calls functions more than %d levels deep (recursion?)",
                        nz(f->name), MAX_FUNCTION_DEPTH);
    char prefix[128];
    snprintf(prefix, sizeof prefix, "%s#%u/", nz(f->name), lc->fn_counter++);
    fn_scope *sc = arena_array(lc->m, 1, sizeof *sc);
    if (!sc) return oom("function call");
    *sc = (fn_scope){.m = lc->m,
                     .f = f,
                     .n_in = call->n_in,
                     .n_out = call->n_out,
                     .in = call->in,
                     .out = call->out,
                     .prefix = arena_str(lc->m, prefix)};
    if (!sc->prefix) return oom("function call");
    for (size_t k = 0; k < f->n_node; k++) {
        const Onnx__NodeProto *np = f->node[k];
        raw_node rn = {.name = nz(np->name), .op_type = nz(np->op_type), .domain = nz(np->domain)};
        rn.opset = function_opset(lc, f, rn.domain);
        rn.scope = sc;
        rn.n_in = np->n_input;
        rn.n_out = np->n_output;
        rn.in = arena_array(lc->m, np->n_input, sizeof(char *));
        rn.out = arena_array(lc->m, np->n_output, sizeof(char *));
        rn.attrs = arena_array(lc->m, np->n_attribute, sizeof(raw_attr));
        if (!rn.in || !rn.out || !rn.attrs) return oom("function body");
        for (size_t i = 0; i < np->n_input; i++)
            if (!(rn.in[i] = ml_fn_scope_rename(sc, nz(np->input[i])))) return oom("function body");
        for (size_t i = 0; i < np->n_output; i++)
            if (!(rn.out[i] = ml_fn_scope_rename(sc, nz(np->output[i]))))
                return oom("function body");
        for (size_t i = 0; i < np->n_attribute; i++) {
            const Onnx__AttributeProto *a = np->attribute[i];
            if (a->ref_attr_name && *a->ref_attr_name) {
                /* the caller's attribute of that name, else the function's
                 * default, else the attribute stays unset */
                const Onnx__AttributeProto *val = NULL;
                for (size_t j = 0; j < call->n_attr; j++)
                    if (strcmp(call->attrs[j].name, a->ref_attr_name) == 0) val = call->attrs[j].a;
                ml_status st = ML_STATUS_OK;
                if (!val) val = function_default(lc, f, a->ref_attr_name, &st);
                if (st) return st;
                if (val) rn.attrs[rn.n_attr++] = (raw_attr){nz(a->name), val};
            } else {
                rn.attrs[rn.n_attr++] = (raw_attr){nz(a->name), a};
            }
        }
        ML_TRY(collect_node(lc, &rn, out, fdepth + 1));
    }
    return ML_STATUS_OK;
}

static ml_status collect_node(load_ctx *lc, raw_node *rn, raw_list *out, int fdepth) {
    const Onnx__FunctionProto *f = find_function(lc, rn->domain, rn->op_type);
    if (f) return inline_function(lc, f, rn, out, fdepth);
    return raw_push(out, rn);
}

ml_status ml_load_collect_nodes(load_ctx *lc, const Onnx__GraphProto *gp, raw_list *out) {
    for (size_t k = 0; k < gp->n_node; k++) {
        const Onnx__NodeProto *np = gp->node[k];
        raw_node rn = {.name = nz(np->name), .op_type = nz(np->op_type), .domain = nz(np->domain)};
        rn.opset = ml_model_opset(lc->m, rn.domain);
        rn.n_in = np->n_input;
        rn.n_out = np->n_output;
        rn.in = arena_array(lc->m, np->n_input, sizeof(char *));
        rn.out = arena_array(lc->m, np->n_output, sizeof(char *));
        rn.attrs = arena_array(lc->m, np->n_attribute, sizeof(raw_attr));
        if (!rn.in || !rn.out || !rn.attrs) return oom("nodes");
        for (size_t i = 0; i < np->n_input; i++) rn.in[i] = nz(np->input[i]);
        for (size_t i = 0; i < np->n_output; i++) rn.out[i] = nz(np->output[i]);
        rn.n_attr = np->n_attribute;
        for (size_t i = 0; i < np->n_attribute; i++)
            rn.attrs[i] = (raw_attr){nz(np->attribute[i]->name), np->attribute[i]};
        ML_TRY(collect_node(lc, &rn, out, 0));
    }
    return ML_STATUS_OK;
}
