/* Graph building blocks: the slot table with its name index, outer-scope
 * resolution, and finalisation (topological sort, kernel binding, constant
 * folding, dead-node removal, use counts). */
#include "onnx/graph.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static uint64_t hash_name(const char *s) {
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

ml_status ml_graph_new(ml_model *m, ml_graph *parent, const char *name, ml_graph **out) {
    *out = NULL;
    ml_graph *g = calloc(1, sizeof *g);
    if (!g) return ml_error(ML_ERR_OUT_OF_MEMORY, "graph");
    if (m->n_graphs == m->cap_graphs) {
        size_t cap = m->cap_graphs ? m->cap_graphs * 2 : 8;
        ml_graph **gs = realloc(m->graphs, cap * sizeof *gs);
        if (!gs) {
            free(g);
            return ml_error(ML_ERR_OUT_OF_MEMORY, "graph list");
        }
        m->graphs = gs;
        m->cap_graphs = cap;
    }
    m->graphs[m->n_graphs++] = g;
    g->model = m;
    g->parent = parent;
    g->name = name ? name : "";
    *out = g;
    return ML_STATUS_OK;
}

int ml_graph_find(const ml_graph *g, const char *name) {
    if (!g->map_size) return -1;
    size_t mask = g->map_size - 1;
    for (size_t i = hash_name(name) & mask;; i = (i + 1) & mask) {
        int s = g->map[i];
        if (s < 0) return -1;
        if (strcmp(g->slots[s].name, name) == 0) return s;
    }
}

static ml_status map_grow(ml_graph *g) {
    size_t size = g->map_size ? g->map_size * 2 : 64;
    int *map = malloc(size * sizeof *map);
    if (!map) return ml_error(ML_ERR_OUT_OF_MEMORY, "name index");
    for (size_t i = 0; i < size; i++) map[i] = -1;
    for (size_t s = 0; s < g->n_slots; s++) {
        size_t i = hash_name(g->slots[s].name) & (size - 1);
        while (map[i] >= 0) i = (i + 1) & (size - 1);
        map[i] = (int)s;
    }
    free(g->map);
    g->map = map;
    g->map_size = size;
    return ML_STATUS_OK;
}

ml_status ml_graph_add_slot(ml_graph *g, const char *name, ml_slot_kind kind, int *out) {
    if (ml_graph_find(g, name) >= 0)
        return ml_error(ML_ERR_INVALID_ARGUMENT, "value '%s' is defined twice in graph '%s'", name,
                        g->name);
    if (g->n_slots >= (size_t)INT32_MAX / 2)
        return ml_error(ML_ERR_RESOURCE_EXHAUSTED, "graph '%s' has too many values", g->name);
    if (g->n_slots == g->cap_slots) {
        size_t cap = g->cap_slots ? g->cap_slots * 2 : 32;
        ml_slot *s = realloc(g->slots, cap * sizeof *s);
        if (!s) return ml_error(ML_ERR_OUT_OF_MEMORY, "value table");
        g->slots = s;
        g->cap_slots = cap;
    }
    int idx = (int)g->n_slots++;
    g->slots[idx] = (ml_slot){.name = name, .kind = kind, .producer = -1, .parent_slot = -1};
    /* keep the load factor under 1/2 */
    if (g->n_slots * 2 > g->map_size) {
        ML_TRY(map_grow(g));
    } else {
        size_t mask = g->map_size - 1, i = hash_name(name) & mask;
        while (g->map[i] >= 0) i = (i + 1) & mask;
        g->map[i] = idx;
    }
    *out = idx;
    return ML_STATUS_OK;
}

int ml_graph_resolve(ml_graph *g, const char *name) {
    int s = ml_graph_find(g, name);
    if (s >= 0 || !g->parent) return s;
    const char *pname = g->outer_name ? g->outer_name(g->outer_name_ctx, name) : name;
    int ps = pname ? ml_graph_resolve(g->parent, pname) : -1;
    if (ps < 0) return -1;
    /* the slot keeps the local name: that is what this graph's nodes use */
    const char *local = ml_arena_strndup(&g->model->arena, name, strlen(name));
    if (!local) return -1;
    ml_status st = ml_graph_add_slot(g, local, ML_SLOT_OUTER, &s);
    if (st) {
        ml_status_free(st);
        return -1;
    }
    int *outer = realloc(g->outer_slots, (g->n_outer + 1) * sizeof *outer);
    if (!outer) return -1;
    outer[g->n_outer++] = s;
    g->outer_slots = outer;
    g->slots[s].parent_slot = ps;
    return s;
}

int ml_model_opset(const ml_model *m, const char *domain) {
    if (strcmp(domain, "ai.onnx") == 0) domain = "";
    for (size_t i = 0; i < m->n_opsets; i++) {
        const char *d = strcmp(m->opsets[i].domain, "ai.onnx") == 0 ? "" : m->opsets[i].domain;
        if (strcmp(d, domain) == 0) return m->opsets[i].version;
    }
    return 0;
}

/* ---- finalisation ---- */

static ml_status topo_sort(ml_graph *g) {
    size_t n = g->n_nodes;
    if (n == 0) return ML_STATUS_OK;
    ml_status st = ML_STATUS_OK;
    int *producer = malloc(g->n_slots * sizeof *producer);
    int *indeg = calloc(n, sizeof *indeg);
    size_t *edge_start = calloc(n + 1, sizeof *edge_start);
    int *order = malloc(n * sizeof *order);
    int *edges = NULL;
    ml_exec_node *sorted = NULL;
    if (!producer || !indeg || !edge_start || !order) {
        st = ml_error(ML_ERR_OUT_OF_MEMORY, "topological sort");
        goto done;
    }
    for (size_t s = 0; s < g->n_slots; s++) producer[s] = -1;
    for (size_t i = 0; i < n; i++)
        for (size_t o = 0; o < g->nodes[i].node.n_outputs; o++)
            if (g->nodes[i].out_slots[o] >= 0) producer[g->nodes[i].out_slots[o]] = (int)i;
    /* edges producer -> consumer, in CSR form */
    size_t n_edges = 0;
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < n; i++) {
            ml_exec_node *en = &g->nodes[i];
            size_t total = en->node.n_inputs + en->n_implicit;
            for (size_t k = 0; k < total; k++) {
                int s = k < en->node.n_inputs ? en->in_slots[k]
                                              : en->implicit_slots[k - en->node.n_inputs];
                if (s < 0 || producer[s] < 0) continue;
                int p = producer[s];
                if (pass == 0) {
                    edge_start[p + 1]++;
                    indeg[i]++;
                } else {
                    edges[edge_start[p]++] = (int)i;
                }
            }
        }
        if (pass == 0) {
            for (size_t i = 0; i < n; i++) edge_start[i + 1] += edge_start[i];
            n_edges = edge_start[n];
            edges = malloc((n_edges ? n_edges : 1) * sizeof *edges);
            if (!edges) {
                st = ml_error(ML_ERR_OUT_OF_MEMORY, "topological sort");
                goto done;
            }
        }
    }
    /* pass 1 advanced edge_start[p] to the end of p's range: shift back */
    for (size_t i = n; i > 0; i--) edge_start[i] = edge_start[i - 1];
    edge_start[0] = 0;
    size_t head = 0, tail = 0;
    for (size_t i = 0; i < n; i++)
        if (indeg[i] == 0) order[tail++] = (int)i;
    while (head < tail) {
        int v = order[head++];
        for (size_t e = edge_start[v]; e < edge_start[v + 1]; e++)
            if (--indeg[edges[e]] == 0) order[tail++] = edges[e];
    }
    if (tail != n) {
        for (size_t i = 0; i < n; i++)
            if (indeg[i]) {
                st = ml_error(ML_ERR_INVALID_ARGUMENT,
                              "graph '%s' has a cycle through node '%s' (%s)", g->name,
                              g->nodes[i].node.name, g->nodes[i].node.op_type);
                break;
            }
        goto done;
    }
    sorted = malloc(n * sizeof *sorted);
    if (!sorted) {
        st = ml_error(ML_ERR_OUT_OF_MEMORY, "topological sort");
        goto done;
    }
    for (size_t i = 0; i < n; i++) sorted[i] = g->nodes[order[i]];
    free(g->nodes);
    g->nodes = sorted;
done:
    free(producer);
    free(indeg);
    free(edge_start);
    free(order);
    free(edges);
    return st;
}

static bool is_random_op(const ml_node *n) {
    static const char *const ops[] = {"RandomUniform",    "RandomNormal", "RandomUniformLike",
                                      "RandomNormalLike", "Bernoulli",    "Multinomial"};
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
        if (strcmp(n->op_type, ops[i]) == 0) return true;
    return false;
}

static bool has_graph_attr(const ml_node *n) {
    for (size_t i = 0; i < n->n_attrs; i++)
        if (n->attrs[i].type == ML_ATTR_GRAPH || n->attrs[i].type == ML_ATTR_GRAPHS) return true;
    return false;
}

static bool foldable(const ml_graph *g, const ml_exec_node *en) {
    if (en->n_implicit || has_graph_attr(&en->node) || is_random_op(&en->node)) return false;
    size_t present = 0;
    for (size_t i = 0; i < en->node.n_inputs; i++) {
        int s = en->in_slots[i];
        if (s < 0) continue;
        if (g->slots[s].kind != ML_SLOT_CONST) return false;
        present++;
    }
    return present > 0;
}

static ml_status try_fold(ml_graph *g, ml_exec_node *en) {
    size_t n_out = en->node.n_outputs;
    ml_value **outs = calloc(n_out ? n_out : 1, sizeof *outs);
    if (!outs) return ml_error(ML_ERR_OUT_OF_MEMORY, "constant folding");
    ml_status st = ml_exec_fold_node(g, en, outs);
    if (st) {
        /* leave the node to run (and report) at run time */
        ml_status_free(st);
        for (size_t o = 0; o < n_out; o++) ml_value_free(outs[o]);
        free(outs);
        return ML_STATUS_OK;
    }
    for (size_t o = 0; o < n_out; o++) {
        int s = en->out_slots[o];
        if (s < 0 || !outs[o]) {
            ml_value_free(outs[o]);
            continue;
        }
        g->slots[s].kind = ML_SLOT_CONST;
        g->slots[s].value = outs[o];
        g->slots[s].producer = -1;
    }
    free(outs);
    en->skip = true;
    return ML_STATUS_OK;
}

static ml_status bind_kernel(ml_graph *g, ml_exec_node *en) {
    ml_node *n = &en->node;
    for (size_t i = 0; i < n->n_inputs; i++) {
        int s = en->in_slots[i];
        const ml_value *v = s >= 0 && g->slots[s].kind == ML_SLOT_CONST ? g->slots[s].value : NULL;
        n->const_inputs[i] = v && v->kind == ML_VALUE_TENSOR ? v->tensor : NULL;
    }
    if (n->kernel->init) {
        ml_status st = n->kernel->init(n, &n->state);
        if (st && !strstr(ml_status_message(st), n->op_type))
            st = ml_status_wrap(st, "%s node '%s'", n->op_type, n->name);
        if (st) return st;
    }
    en->has_state = true;
    return ML_STATUS_OK;
}

static void mark_live(ml_graph *g) {
    /* reverse topological order: a node is live when a graph output or a
     * live node reads one of its outputs */
    bool *needed = calloc(g->n_slots ? g->n_slots : 1, sizeof *needed);
    if (!needed) return; /* optimisation only: keep every node */
    for (size_t i = 0; i < g->n_slots; i++) needed[i] = g->slots[i].is_output;
    for (size_t k = g->n_nodes; k > 0; k--) {
        ml_exec_node *en = &g->nodes[k - 1];
        if (en->skip) continue;
        bool live = false;
        for (size_t o = 0; o < en->node.n_outputs; o++)
            if (en->out_slots[o] >= 0 && needed[en->out_slots[o]]) live = true;
        if (!live) {
            en->skip = true;
            continue;
        }
        for (size_t i = 0; i < en->node.n_inputs; i++)
            if (en->in_slots[i] >= 0) needed[en->in_slots[i]] = true;
        for (size_t i = 0; i < en->n_implicit; i++) needed[en->implicit_slots[i]] = true;
    }
    free(needed);
}

/* A node that will never run needs no kernel state. */
static void drop_state(ml_exec_node *en) {
    if (en->has_state && en->node.kernel->destroy && en->node.state)
        en->node.kernel->destroy(en->node.state);
    en->node.state = NULL;
    en->has_state = false;
}

void ml_graph_unbind(ml_exec_node *en) {
    drop_state(en);
}

ml_status ml_graph_rebind(ml_graph *g, ml_exec_node *en) {
    drop_state(en);
    return bind_kernel(g, en);
}

ml_status ml_graph_finalize(ml_graph *g) {
    ML_TRY(topo_sort(g));
    for (size_t i = 0; i < g->n_outputs; i++) g->slots[g->output_slots[i]].is_output = true;
    bool optimize = g->model->optimization_level >= 1;
    for (size_t k = 0; k < g->n_nodes; k++) {
        ml_exec_node *en = &g->nodes[k];
        ML_TRY(bind_kernel(g, en));
        if (optimize && foldable(g, en)) ML_TRY(try_fold(g, en));
    }
    /* fusions run after folding, so they see every constant (Identity of an
     * initializer, shape arithmetic on constants) as one */
    if (g->model->optimization_level >= 2) ML_TRY(ml_graph_fuse(g));
    if (optimize) mark_live(g);
    for (size_t k = 0; k < g->n_nodes; k++) {
        ml_exec_node *en = &g->nodes[k];
        if (en->skip) {
            drop_state(en);
            continue;
        }
        en->copy_op = !en->node.domain[0] && (strcmp(en->node.op_type, "Transpose") == 0 ||
                                              strcmp(en->node.op_type, "Slice") == 0);
        for (size_t o = 0; o < en->node.n_outputs; o++)
            if (en->out_slots[o] >= 0) g->slots[en->out_slots[o]].producer = (int)k;
        for (size_t i = 0; i < en->node.n_inputs; i++)
            if (en->in_slots[i] >= 0) g->slots[en->in_slots[i]].uses++;
        for (size_t i = 0; i < en->n_implicit; i++) g->slots[en->implicit_slots[i]].uses++;
    }
    /* constants only folded or fused nodes read (weights before a Conv +
     * BatchNormalization fusion, inputs of folded nodes) need no memory */
    if (optimize)
        for (size_t s = 0; s < g->n_slots; s++) {
            ml_slot *sl = &g->slots[s];
            if (sl->kind == ML_SLOT_CONST && sl->uses == 0 && !sl->is_output) {
                ml_value_free(sl->value);
                sl->value = NULL;
            }
        }
    return ML_STATUS_OK;
}

void ml_graph_free(ml_graph *g) {
    if (!g) return;
    for (size_t k = 0; k < g->n_nodes; k++) {
        ml_exec_node *en = &g->nodes[k];
        if (en->has_state && en->node.kernel && en->node.kernel->destroy && en->node.state)
            en->node.kernel->destroy(en->node.state);
    }
    for (size_t s = 0; s < g->n_slots; s++) ml_value_free(g->slots[s].value);
    free(g->slots);
    free(g->map);
    free(g->nodes);
    free(g->outer_slots);
    free(g);
}

void ml_model_free(ml_model *m) {
    if (!m) return;
    /* subgraphs first is not required: graphs do not own each other */
    for (size_t i = 0; i < m->n_graphs; i++) ml_graph_free(m->graphs[i]);
    free(m->graphs);
    for (size_t i = 0; i < m->n_tensors; i++) ml_tensor_free(m->tensors[i]);
    free(m->tensors);
    ml_arena_destroy(&m->arena);
    free(m);
}
