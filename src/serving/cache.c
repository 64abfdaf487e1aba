#include "serving/cache.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/log.h"
#include "serving/batcher.h"

typedef struct entry {
    ml_instance inst; /* first: ml_instance* converts back to entry* */
    struct entry *next;
    int refs; /* the cache's own reference counts as one while listed */
    int listed;
    uint64_t checked_ns; /* last time the store confirmed the version exists */
} entry;

/* Another server sharing the registry may delete a version: loaded ones are
 * re-confirmed this often (one query), so they stop being served soon after. */
#define VERSION_RECHECK_NS 2000000000ull

/* Remembered "latest version" answers (a short TTL bounds staleness when
 * another server process shares a PostgreSQL registry). */
typedef struct latest {
    struct latest *next;
    char name[ML_NAME_MAX + 1];
    int version;
    uint64_t expires_ns;
} latest;

#define LATEST_TTL_NS 1000000000ull

struct ml_cache {
    latest *latest;
    ml_metrics *metrics;
    ml_registry *reg;
    ml_threadpool *pool;
    pthread_mutex_t mu;
    entry *head;
    size_t n;
};

void ml_cache_set_metrics(ml_cache *c, ml_metrics *m) {
    c->metrics = m;
}

ml_status ml_cache_create(ml_registry *reg, ml_threadpool *pool, ml_cache **out) {
    ml_cache *c = calloc(1, sizeof *c);
    if (!c) return ml_error(ML_ERR_OUT_OF_MEMORY, "out of memory");
    c->reg = reg;
    c->pool = pool;
    pthread_mutex_init(&c->mu, NULL);
    *out = c;
    return NULL;
}

static void entry_free(entry *e) {
    ml_batcher_free(e->inst.batcher); /* drains its queue first */
    ml_session_free(e->inst.session);
    ml_contract_free(e->inst.contract);
    free(e);
}

void ml_cache_free(ml_cache *c) {
    if (!c) return;
    for (latest *l = c->latest, *n; l; l = n) {
        n = l->next;
        free(l);
    }
    for (entry *e = c->head, *n; e; e = n) {
        n = e->next;
        entry_free(e);
    }
    pthread_mutex_destroy(&c->mu);
    free(c);
}

static entry *find(ml_cache *c, const char *name, int version) {
    for (entry *e = c->head; e; e = e->next)
        if (e->inst.version == version && strcmp(e->inst.name, name) == 0) return e;
    return NULL;
}

static ml_status load(ml_cache *c, const ml_version_rec *rec, entry **out) {
    entry *e = calloc(1, sizeof *e);
    if (!e) return ml_error(ML_ERR_OUT_OF_MEMORY, "out of memory");
    snprintf(e->inst.name, sizeof e->inst.name, "%s", rec->name);
    e->inst.version = rec->version;
    char dir[4096], path[8192];
    ml_artifacts_model_dir(c->reg->artifacts, rec->digest, dir, sizeof dir);
    snprintf(path, sizeof path, "%s/%s", dir, rec->model_file);
    ml_session_options opts;
    ml_session_options_init(&opts);
    opts.pool = c->pool;
    ml_status st = ml_contract_from_json(rec->contract, &e->inst.contract);
    if (!st) st = ml_session_load_file(path, &opts, &e->inst.session);
    ml_batch_config bc;
    if (!st && ml_batch_config_from_json(rec->options, &bc))
        st = ml_batcher_create(&e->inst, &bc, c->metrics, &e->inst.batcher);
    if (st) {
        entry_free(e);
        /* A registered version that does not load is the server's problem,
         * not the caller's: answer 503 (KServe's "not ready"). */
        ml_status un = ml_error(
            ml_status_code(st) == ML_ERR_OUT_OF_MEMORY ? ML_ERR_OUT_OF_MEMORY : ML_ERR_UNAVAILABLE,
            "model %s:%d cannot be loaded: %s", rec->name, rec->version, ml_status_message(st));
        ml_status_free(st);
        return un;
    }
    ML_LOG_I("loaded model %s:%d (%s)", rec->name, rec->version, rec->digest);
    *out = e;
    return NULL;
}

static latest *latest_find(ml_cache *c, const char *name) {
    for (latest *l = c->latest; l; l = l->next)
        if (strcmp(l->name, name) == 0) return l;
    return NULL;
}

int ml_cache_latest(ml_cache *c, const char *name) {
    pthread_mutex_lock(&c->mu);
    latest *l = latest_find(c, name);
    int v = l && l->expires_ns > ml_now_ns() ? l->version : 0;
    pthread_mutex_unlock(&c->mu);
    return v;
}

static void latest_set(ml_cache *c, const char *name, int version) {
    pthread_mutex_lock(&c->mu);
    latest *l = latest_find(c, name);
    if (!l && (l = calloc(1, sizeof *l))) {
        snprintf(l->name, sizeof l->name, "%s", name);
        l->next = c->latest;
        c->latest = l;
    }
    if (l) {
        l->version = version;
        l->expires_ns = ml_now_ns() + LATEST_TTL_NS;
    }
    pthread_mutex_unlock(&c->mu);
}

void ml_cache_invalidate(ml_cache *c, const char *name) {
    pthread_mutex_lock(&c->mu);
    latest *l = latest_find(c, name);
    if (l) l->expires_ns = 0;
    pthread_mutex_unlock(&c->mu);
}

ml_status ml_cache_acquire(ml_cache *c, const char *name, int version, ml_instance **out) {
    *out = NULL;
    if (version == 0) version = ml_cache_latest(c, name);
    if (version > 0) {
        bool recheck = false;
        uint64_t now = ml_now_ns();
        pthread_mutex_lock(&c->mu);
        entry *e = find(c, name, version);
        if (e) {
            e->refs++;
            if (now - e->checked_ns > VERSION_RECHECK_NS) {
                e->checked_ns = now;
                recheck = true;
            }
        }
        pthread_mutex_unlock(&c->mu);
        if (e && recheck) {
            ml_version_rec rec;
            ml_status st = ml_store_get_version(c->reg->store, name, version, &rec);
            if (ml_status_code(st) == ML_ERR_NOT_FOUND) {
                ml_cache_release(c, &e->inst);
                ml_cache_evict(c, name, version);
                return st;
            }
            ml_status_free(st); /* a store hiccup must not fail requests */
            if (!st) ml_version_rec_clear(&rec);
        }
        if (e) {
            *out = &e->inst;
            return NULL;
        }
    }
    ml_version_rec rec;
    ML_TRY(ml_store_get_version(c->reg->store, name, version, &rec));
    if (version == 0) latest_set(c, name, rec.version);
    pthread_mutex_lock(&c->mu);
    entry *e = find(c, name, rec.version);
    if (e) e->refs++;
    pthread_mutex_unlock(&c->mu);
    if (e) {
        ml_version_rec_clear(&rec);
        *out = &e->inst;
        return NULL;
    }
    /* Load outside the lock so a big model does not stall other requests;
     * if another thread won the race, keep its copy. */
    entry *fresh = NULL;
    ml_status st = load(c, &rec, &fresh);
    ml_version_rec_clear(&rec);
    if (st) return st;
    pthread_mutex_lock(&c->mu);
    e = find(c, fresh->inst.name, fresh->inst.version);
    if (!e) {
        e = fresh;
        e->refs = 1; /* the cache's */
        e->listed = 1;
        e->checked_ns = ml_now_ns();
        e->next = c->head;
        c->head = e;
        c->n++;
        fresh = NULL;
    }
    e->refs++;
    pthread_mutex_unlock(&c->mu);
    if (fresh) entry_free(fresh);
    *out = &e->inst;
    return NULL;
}

void ml_cache_acquire_ref(ml_cache *c, ml_instance *inst) {
    pthread_mutex_lock(&c->mu);
    ((entry *)inst)->refs++;
    pthread_mutex_unlock(&c->mu);
}

void ml_cache_release(ml_cache *c, ml_instance *inst) {
    if (!inst) return;
    entry *e = (entry *)inst;
    pthread_mutex_lock(&c->mu);
    int left = --e->refs;
    pthread_mutex_unlock(&c->mu);
    if (left == 0) entry_free(e);
}

void ml_cache_evict(ml_cache *c, const char *name, int version) {
    ml_cache_invalidate(c, name);
    entry *dead = NULL;
    pthread_mutex_lock(&c->mu);
    for (entry **pp = &c->head; *pp;) {
        entry *e = *pp;
        if (strcmp(e->inst.name, name) == 0 && (version == 0 || e->inst.version == version)) {
            *pp = e->next;
            e->listed = 0;
            c->n--;
            if (--e->refs == 0) {
                e->next = dead;
                dead = e;
            }
            continue;
        }
        pp = &e->next;
    }
    pthread_mutex_unlock(&c->mu);
    while (dead) {
        entry *n = dead->next;
        entry_free(dead);
        dead = n;
    }
}

size_t ml_cache_loaded(ml_cache *c) {
    pthread_mutex_lock(&c->mu);
    size_t n = c->n;
    pthread_mutex_unlock(&c->mu);
    return n;
}

int ml_cache_is_loaded(ml_cache *c, const char *name, int version) {
    pthread_mutex_lock(&c->mu);
    int r = find(c, name, version) != NULL;
    pthread_mutex_unlock(&c->mu);
    return r;
}
