#include "serving/runtime.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/log.h"
#include "serving/batcher.h"
#include "serving/output_convert.h"

/* ---- tensor lists ---- */

ml_status ml_tensor_list_add(ml_tensor_list *l, const char *name, ml_tensor *t) {
    if (l->n == l->cap) {
        size_t nc = l->cap ? l->cap * 2 : 4;
        char **nn = realloc(l->names, nc * sizeof *nn);
        if (nn) l->names = nn;
        ml_tensor **nt = nn ? realloc(l->tensors, nc * sizeof *nt) : NULL;
        if (nt) l->tensors = nt;
        if (!nn || !nt) {
            ml_tensor_free(t);
            return ml_error(ML_ERR_OUT_OF_MEMORY, "out of memory");
        }
        l->cap = nc;
    }
    char *dup = strdup(name);
    if (!dup) {
        ml_tensor_free(t);
        return ml_error(ML_ERR_OUT_OF_MEMORY, "out of memory");
    }
    l->names[l->n] = dup;
    l->tensors[l->n] = t;
    l->n++;
    return NULL;
}

ml_tensor *ml_tensor_list_get(const ml_tensor_list *l, const char *name) {
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->names[i], name) == 0) return l->tensors[i];
    return NULL;
}

void ml_tensor_list_clear(ml_tensor_list *l) {
    for (size_t i = 0; i < l->n; i++) {
        free(l->names[i]);
        ml_tensor_free(l->tensors[i]);
    }
    free(l->names);
    free(l->tensors);
    memset(l, 0, sizeof *l);
}

/* ---- compiled applications ---- */

typedef struct compiled_app {
    ml_app_spec spec;
    ml_contract *contract;
    ml_instance *inst[ML_MAX_STAGES][ML_MAX_VARIANTS];
    int refs;            /* guarded by the table mutex */
    uint64_t checked_ns; /* last time the store agreed with this compiled form */
} compiled_app;

/* How long a compiled application is trusted before the store is asked
 * again (another server sharing a PostgreSQL registry may have changed it). */
#define APP_RECHECK_NS 2000000000ull

typedef struct app_slot {
    struct app_slot *next;
    compiled_app *app;
} app_slot;

typedef struct ml_app_table {
    pthread_mutex_t mu;
    /* Serialises application writes so the published table and the store
     * cannot disagree about which of two concurrent PUTs won. */
    pthread_mutex_t write_mu;
    app_slot *head;
    uint64_t rng;
} ml_app_table;

static void app_free(ml_runtime *rt, compiled_app *a) {
    if (!a) return;
    for (int i = 0; i < a->spec.n_stages; i++)
        for (int k = 0; k < a->spec.stages[i].n_variants; k++)
            ml_cache_release(rt->cache, a->inst[i][k]);
    ml_contract_free(a->contract);
    free(a);
}

static void app_unref(ml_runtime *rt, compiled_app *a) {
    if (!a) return;
    pthread_mutex_lock(&rt->apps->mu);
    int left = --a->refs;
    pthread_mutex_unlock(&rt->apps->mu);
    if (left == 0) app_free(rt, a);
}

/* Acquires every variant's instance (loading models before the swap, so
 * the first request after it does not pay the load). */
static ml_status compile_app(ml_runtime *rt, const ml_app_spec *spec, const ml_contract *contract,
                             compiled_app **out) {
    compiled_app *a = calloc(1, sizeof *a);
    if (!a) return ml_error(ML_ERR_OUT_OF_MEMORY, "out of memory");
    a->spec = *spec;
    a->refs = 1;
    a->checked_ns = ml_now_ns();
    ml_status st = ml_contract_copy(contract, &a->contract);
    for (int i = 0; !st && i < spec->n_stages; i++)
        for (int k = 0; !st && k < spec->stages[i].n_variants; k++)
            st = ml_cache_acquire(rt->cache, spec->stages[i].variants[k].model,
                                  spec->stages[i].variants[k].version, &a->inst[i][k]);
    if (st) {
        app_free(rt, a);
        return st;
    }
    *out = a;
    return NULL;
}

/* Replaces (or removes, when a is NULL) the published application. */
static void publish(ml_runtime *rt, const char *name, compiled_app *a) {
    compiled_app *old = NULL;
    pthread_mutex_lock(&rt->apps->mu);
    app_slot **pp = &rt->apps->head;
    while (*pp && strcmp((*pp)->app->spec.name, name) != 0) pp = &(*pp)->next;
    if (*pp) {
        old = (*pp)->app;
        if (a) {
            (*pp)->app = a;
        } else {
            app_slot *dead = *pp;
            *pp = dead->next;
            free(dead);
        }
    } else if (a) {
        app_slot *s = calloc(1, sizeof *s);
        if (s) {
            s->app = a;
            s->next = rt->apps->head;
            rt->apps->head = s;
        } else {
            old = a; /* cannot publish: drop it, the next request recompiles */
        }
    }
    pthread_mutex_unlock(&rt->apps->mu);
    app_unref(rt, old);
}

/* A counted reference to the published application, compiling it from the
 * store on first use. */
static ml_status get_app(ml_runtime *rt, const char *name, compiled_app **out) {
    *out = NULL;
    bool recheck = false;
    uint64_t now = ml_now_ns();
    pthread_mutex_lock(&rt->apps->mu);
    for (app_slot *s = rt->apps->head; s; s = s->next)
        if (strcmp(s->app->spec.name, name) == 0) {
            s->app->refs++;
            *out = s->app;
            if (now - s->app->checked_ns > APP_RECHECK_NS) {
                s->app->checked_ns = now; /* one thread re-checks; others go on */
                recheck = true;
            }
            break;
        }
    pthread_mutex_unlock(&rt->apps->mu);
    if (*out && !recheck) return NULL;
    ml_app_rec rec;
    ml_status gst = ml_store_get_app(rt->reg->store, name, &rec);
    if (*out) {
        /* Still the same in the store: keep serving the compiled form. */
        json_t *mine = gst ? NULL : ml_app_stages_json(&(*out)->spec);
        bool same = mine && json_equal(mine, rec.stages);
        json_decref(mine);
        if (same || (gst && ml_status_code(gst) != ML_ERR_NOT_FOUND)) {
            ml_status_free(gst); /* a store hiccup must not fail requests */
            if (!gst) ml_app_rec_clear(&rec);
            return NULL;
        }
        app_unref(rt, *out);
        *out = NULL;
        if (gst) publish(rt, name, NULL); /* deleted elsewhere */
    }
    ML_TRY(gst);
    json_t *spec_json = json_pack("{s:s, s:O}", "name", rec.name, "stages", rec.stages);
    ml_app_spec spec;
    ml_contract *contract = NULL;
    ml_status st = ml_app_spec_parse(spec_json, NULL, &spec);
    json_decref(spec_json);
    if (!st) st = ml_contract_from_json(rec.contract, &contract);
    compiled_app *a = NULL;
    if (!st) st = compile_app(rt, &spec, contract, &a);
    ml_contract_free(contract);
    ml_app_rec_clear(&rec);
    if (st) return ml_status_wrap(st, "application '%s'", name);
    a->refs++; /* ours, besides the table's */
    publish(rt, name, a);
    *out = a;
    return NULL;
}

/* ---- runtime ---- */

ml_status ml_runtime_create(ml_registry *reg, const ml_runtime_options *opts, ml_runtime **out) {
    *out = NULL;
    ml_runtime *rt = calloc(1, sizeof *rt);
    if (!rt) return ml_error(ML_ERR_OUT_OF_MEMORY, "out of memory");
    rt->reg = reg;
    rt->apps = calloc(1, sizeof *rt->apps);
    rt->metrics = ml_metrics_create();
    ml_status st =
        !rt->apps || !rt->metrics ? ml_error(ML_ERR_OUT_OF_MEMORY, "out of memory") : NULL;
    if (!st) st = ml_threadpool_create(opts ? opts->n_threads : 0, &rt->pool);
    if (!st) st = ml_cache_create(reg, rt->pool, &rt->cache);
    if (!st) ml_cache_set_metrics(rt->cache, rt->metrics);
    if (st) {
        ml_metrics_free(rt->metrics);
        ml_threadpool_destroy(rt->pool);
        free(rt->apps);
        free(rt);
        return st;
    }
    pthread_mutex_init(&rt->apps->mu, NULL);
    pthread_mutex_init(&rt->apps->write_mu, NULL);
    rt->apps->rng = opts && opts->seed ? opts->seed : ml_now_ns() ^ 0x9e3779b97f4a7c15ull;
    *out = rt;
    return NULL;
}

void ml_runtime_free(ml_runtime *rt) {
    if (!rt) return;
    for (app_slot *s = rt->apps->head, *n; s; s = n) {
        n = s->next;
        app_unref(rt, s->app);
        free(s);
    }
    pthread_mutex_destroy(&rt->apps->mu);
    pthread_mutex_destroy(&rt->apps->write_mu);
    free(rt->apps);
    ml_cache_free(rt->cache);
    ml_threadpool_destroy(rt->pool);
    ml_metrics_free(rt->metrics);
    free(rt);
}

/* splitmix64: good enough for traffic splitting, reproducible from a seed. */
static uint64_t next_rand(ml_runtime *rt) {
    pthread_mutex_lock(&rt->apps->mu);
    uint64_t z = (rt->apps->rng += 0x9e3779b97f4a7c15ull);
    pthread_mutex_unlock(&rt->apps->mu);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

ml_status ml_check_inputs(const ml_contract *c, const ml_tensor_list *in) {
    for (size_t i = 0; i < in->n; i++)
        if (!ml_contract_input(c, in->names[i])) {
            char names[512] = "";
            size_t o = 0;
            for (size_t k = 0; k < c->n_inputs && o < sizeof names - 1; k++)
                o += (size_t)snprintf(names + o, sizeof names - o, "%s'%s'", k ? ", " : "",
                                      c->inputs[k].name);
            return ml_error(ML_ERR_INVALID_ARGUMENT,
                            "unknown input '%s'; the contract's inputs are %s", in->names[i],
                            names);
        }
    for (size_t i = 0; i < c->n_inputs; i++) {
        const ml_tensor *t = ml_tensor_list_get(in, c->inputs[i].name);
        if (!t)
            return ml_error(ML_ERR_INVALID_ARGUMENT, "input '%s' is missing (expected %s)",
                            c->inputs[i].name, ml_dtype_name(c->inputs[i].dtype));
        ML_TRY(ml_field_check(&c->inputs[i], "input", t->dtype, t->rank, t->dims));
    }
    return NULL;
}

/* Model runs, and API requests, in progress in this process. A run that
 * starts while another run or another request is going keeps to its own
 * thread: the cores are busy with requests already, and intra-op splitting
 * would only add hand-offs and spinning (measured on the bench MLP over
 * HTTP: 10-14k req/s at 32 connections with the split, 18-21k without).
 * A request alone still uses every core for its latency. */
static atomic_int runs_in_flight, requests_in_flight;

void ml_load_enter(void) {
    atomic_fetch_add_explicit(&requests_in_flight, 1, memory_order_relaxed);
}

void ml_load_leave(void) {
    atomic_fetch_sub_explicit(&requests_in_flight, 1, memory_order_relaxed);
}

static _Thread_local bool serial_thread;

void ml_serial_runs_on_this_thread(bool on) {
    serial_thread = on;
}

/* Runs one instance on the inputs its graph names; appends outputs. */
ml_status ml_instance_run(ml_instance *inst, const ml_tensor_list *in, const char *const *want,
                          size_t n_want, uint64_t deadline_ns, ml_tensor_list *out,
                          uint64_t *compute_ns) {
    ml_session *s = inst->session;
    size_t n_in = ml_session_input_count(s);
    const char **in_names = calloc(n_in + 1, sizeof *in_names);
    ml_value **vals = calloc(n_in + 1, sizeof *vals);
    size_t n_out = want ? n_want : ml_session_output_count(s);
    const char **out_names = calloc(n_out + 1, sizeof *out_names);
    ml_value **outs = calloc(n_out + 1, sizeof *outs);
    ml_status st = !in_names || !vals || !out_names || !outs
                       ? ml_error(ML_ERR_OUT_OF_MEMORY, "out of memory")
                       : NULL;
    size_t bound = 0;
    for (size_t i = 0; !st && i < n_in; i++) {
        const ml_io_info *io = ml_session_input(s, i);
        ml_tensor *t = ml_tensor_list_get(in, io->name);
        if (!t) {
            st = ml_error(ML_ERR_INVALID_ARGUMENT,
                          "model %s:%d needs input '%s', which the request lacks", inst->name,
                          inst->version, io->name);
            break;
        }
        ml_tensor *view = NULL;
        st = ml_tensor_view(t, t->rank, t->dims, &view);
        if (!st) st = ml_value_from_tensor(view, &vals[bound]);
        if (!st) in_names[bound++] = io->name;
    }
    for (size_t i = 0; !st && i < n_out; i++) {
        out_names[i] = want ? want[i] : ml_session_output(s, i)->name;
        if (want && !ml_contract_output(inst->contract, want[i])) {
            bool in_graph = false;
            for (size_t k = 0; k < ml_session_output_count(s); k++)
                if (!strcmp(ml_session_output(s, k)->name, want[i])) in_graph = true;
            if (!in_graph)
                st = ml_error(ML_ERR_INVALID_ARGUMENT,
                              "requested output '%s' is not an output of %s:%d", want[i],
                              inst->name, inst->version);
        }
    }
    uint64_t t0 = ml_now_ns();
    if (!st && deadline_ns && t0 >= deadline_ns)
        st = ml_error(ML_ERR_DEADLINE, "the request's deadline passed before %s:%d ran", inst->name,
                      inst->version);
    int others = atomic_fetch_add(&runs_in_flight, 1);
    bool busy = serial_thread || others > 0 ||
                atomic_load_explicit(&requests_in_flight, memory_order_relaxed) > 1;
    ml_run_options ro = {.deadline_ns = deadline_ns, .cancel = NULL, .serial = busy};
    if (!st) st = ml_session_run_with(s, &ro, bound, in_names, vals, n_out, out_names, outs);
    atomic_fetch_sub(&runs_in_flight, 1);
    if (compute_ns) *compute_ns += ml_now_ns() - t0;
    for (size_t i = 0; !st && i < n_out; i++) {
        /* an optional output the model left empty is simply absent */
        if (outs[i]->kind == ML_VALUE_NONE) continue;
        ml_tensor *t = NULL;
        if (outs[i]->kind == ML_VALUE_TENSOR) {
            t = outs[i]->tensor;
            outs[i]->tensor = NULL;
        } else {
            st = ml_output_to_tensor(outs[i], out_names[i], &t);
        }
        if (!st) st = ml_tensor_list_add(out, out_names[i], t);
    }
    if (st && ml_status_code(st) == ML_ERR_INTERNAL)
        ML_LOG_E("model %s:%d failed: %s", inst->name, inst->version, ml_status_message(st));
    for (size_t i = 0; i < n_out && outs; i++) ml_value_free(outs[i]);
    for (size_t i = 0; i < bound; i++) ml_value_free(vals[i]);
    free(in_names);
    free(vals);
    free(out_names);
    free(outs);
    return st;
}

/* Through the instance's batcher when it has one. */
static ml_status run_instance(ml_instance *inst, const ml_tensor_list *in, const char *const *want,
                              size_t n_want, uint64_t deadline_ns, ml_tensor_list *out,
                              uint64_t *queue_ns, uint64_t *compute_ns) {
    if (inst->batcher)
        return ml_batcher_run(inst->batcher, in, want, n_want, deadline_ns, out, queue_ns,
                              compute_ns);
    return ml_instance_run(inst, in, want, n_want, deadline_ns, out, compute_ns);
}

ml_status ml_runtime_infer_model(ml_runtime *rt, const char *name, int version,
                                 const ml_tensor_list *in, const ml_infer_ctx *ctx,
                                 ml_tensor_list *out, int *version_out) {
    uint64_t arrived = ctx && ctx->arrived_ns ? ctx->arrived_ns : ml_now_ns();
    ml_instance *inst = NULL;
    ML_TRY(ml_cache_acquire(rt->cache, name, version, &inst));
    if (version_out) *version_out = inst->version;
    ml_latency lat = {0};
    lat.queue_ns = ml_now_ns() - arrived;
    ml_status st = ml_check_inputs(inst->contract, in);
    if (!st)
        st = run_instance(inst, in, ctx ? ctx->outputs : NULL, ctx ? ctx->n_outputs : 0,
                          ctx ? ctx->deadline_ns : 0, out, &lat.queue_ns, &lat.compute_ns);
    lat.total_ns = ml_now_ns() - arrived;
    ml_metrics_record(rt->metrics, ML_METRIC_MODEL, inst->name, inst->version, &lat, st != NULL);
    ml_cache_release(rt->cache, inst);
    if (st) ml_tensor_list_clear(out);
    return st;
}

ml_status ml_runtime_infer_app(ml_runtime *rt, const char *app, const ml_tensor_list *in,
                               const ml_infer_ctx *ctx, ml_tensor_list *out) {
    uint64_t arrived = ctx && ctx->arrived_ns ? ctx->arrived_ns : ml_now_ns();
    compiled_app *a = NULL;
    ML_TRY(get_app(rt, app, &a));
    ml_latency lat = {0};
    lat.queue_ns = ml_now_ns() - arrived;
    ml_status st = ml_check_inputs(a->contract, in);
    ml_tensor_list cur = {0};
    const ml_tensor_list *stage_in = in;
    for (int i = 0; !st && i < a->spec.n_stages; i++) {
        const ml_stage *sg = &a->spec.stages[i];
        int pick = 0;
        if (sg->n_variants > 1) {
            int r = (int)(next_rand(rt) % 100), acc = 0;
            for (pick = 0; pick < sg->n_variants - 1; pick++) {
                acc += sg->variants[pick].weight;
                if (r < acc) break;
            }
        }
        ml_instance *inst = a->inst[i][pick];
        bool last = i == a->spec.n_stages - 1;
        ml_tensor_list next = {0};
        uint64_t t0 = ml_now_ns(), compute = 0, queued = 0;
        st = run_instance(inst, stage_in, last && ctx ? ctx->outputs : NULL,
                          last && ctx ? ctx->n_outputs : 0, ctx ? ctx->deadline_ns : 0, &next,
                          &queued, &compute);
        ml_latency sl = {queued, compute, ml_now_ns() - t0};
        lat.queue_ns += queued;
        ml_metrics_record(rt->metrics, ML_METRIC_MODEL, inst->name, inst->version, &sl, st != NULL);
        lat.compute_ns += compute;
        if (st) st = ml_status_wrap(st, "stage %d (%s:%d)", i + 1, inst->name, inst->version);
        ml_tensor_list_clear(&cur);
        cur = next;
        stage_in = &cur;
    }
    lat.total_ns = ml_now_ns() - arrived;
    ml_metrics_record(rt->metrics, ML_METRIC_APP, a->spec.name, 0, &lat, st != NULL);
    app_unref(rt, a);
    if (st) {
        ml_tensor_list_clear(&cur);
        return st;
    }
    *out = cur;
    return NULL;
}

ml_status ml_runtime_app_contract(ml_runtime *rt, const char *app, ml_contract **out) {
    compiled_app *a = NULL;
    ML_TRY(get_app(rt, app, &a));
    ml_status st = ml_contract_copy(a->contract, out);
    app_unref(rt, a);
    return st;
}

ml_status ml_runtime_model_contract(ml_runtime *rt, const char *name, int version,
                                    ml_contract **out, int *resolved) {
    ml_instance *inst = NULL;
    ML_TRY(ml_cache_acquire(rt->cache, name, version, &inst));
    if (resolved) *resolved = inst->version;
    ml_status st = ml_contract_copy(inst->contract, out);
    ml_cache_release(rt->cache, inst);
    return st;
}

static ml_status put_app_locked(ml_runtime *rt, ml_app_spec *spec, bool create_only,
                                ml_app_rec *out) {
    ml_contract *contract = NULL;
    ML_TRY(ml_registry_check_app(rt->reg, spec, &contract));
    compiled_app *a = NULL;
    ml_status st = compile_app(rt, spec, contract, &a);
    json_t *cj = st ? NULL : ml_contract_to_json(contract);
    if (!st) st = ml_store_put_app(rt->reg->store, spec, cj, create_only, out);
    json_decref(cj);
    ml_contract_free(contract);
    if (st) {
        app_unref(rt, a);
        return st;
    }
    publish(rt, spec->name, a);
    ML_LOG_I("application %s %s (%d stage%s)", spec->name, create_only ? "created" : "published",
             spec->n_stages, spec->n_stages == 1 ? "" : "s");
    return NULL;
}

ml_status ml_runtime_put_app(ml_runtime *rt, ml_app_spec *spec, bool create_only, ml_app_rec *out) {
    pthread_mutex_lock(&rt->apps->write_mu);
    ml_status st = put_app_locked(rt, spec, create_only, out);
    pthread_mutex_unlock(&rt->apps->write_mu);
    return st;
}

ml_status ml_runtime_delete_app(ml_runtime *rt, const char *name) {
    pthread_mutex_lock(&rt->apps->write_mu);
    ml_status st = ml_store_delete_app(rt->reg->store, name);
    if (!st) publish(rt, name, NULL);
    pthread_mutex_unlock(&rt->apps->write_mu);
    return st;
}

ml_status ml_runtime_delete_model(ml_runtime *rt, const char *name, int version) {
    ML_TRY(ml_registry_delete(rt->reg, name, version));
    ml_cache_evict(rt->cache, name, version);
    return NULL;
}
